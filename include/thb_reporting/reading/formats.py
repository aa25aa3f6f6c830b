"""What a file's bytes are, whatever its name: CSV text or XLSX; old Excel (.xls), OpenDocument, PDF, images,
zip archives and password-protected workbooks are refused, each with its own rule telling the team how to save
the file; a zip bomb is refused before it is opened."""
from __future__ import annotations

import io
import logging

from thb_reporting.reading.names import SubmissionError

log = logging.getLogger(__name__)

# --- what the bytes are ------------------------------------------------------------------------
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # old Office files, and OOXML encrypted with a password
_IMAGES = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"II*\x00", b"MM\x00*")
MAX_XLSX_EXPANSION = 100  # a workbook may unpack to at most this many times its size (zip bombs)


def file_format(data: bytes) -> str:
    """'xlsx' or 'csv': what the bytes are, whatever the file's name says. Any other format raises a
    SubmissionError whose rule names it, so that the team is told how to save the file instead."""
    if data.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return _zip_format(data)
    if data.startswith(_OLE2):
        if "EncryptedPackage".encode("utf-16-le") in data:
            raise SubmissionError("encrypted_workbook", "the workbook is encrypted with a password")
        raise SubmissionError("xls_format", "an Excel 97-2003 (.xls) or other old Office file")
    if data.startswith(b"%PDF"):
        raise SubmissionError("pdf_format", "a PDF document")
    if data.startswith(_IMAGES) or (data[:4] == b"RIFF" and data[8:12] == b"WEBP") or data[4:8] == b"ftyp":
        raise SubmissionError("image_format", "an image")
    start = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if start.startswith(b"{\\rtf"):
        raise SubmissionError("other_format", "RTF")
    if start.startswith(b"<") and any(tag in start for tag in (b"<html", b"<table", b"urn:schemas-microsoft-com")):
        raise SubmissionError("other_format", "HTML / XML")  # Excel's "Web page" or "XML Spreadsheet 2003"
    return "csv"


def _zip_format(data: bytes) -> str:
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
            names = {info.filename for info in members}
            mimetype = archive.open("mimetype").read(100) if "mimetype" in names else b""
    except (zipfile.BadZipFile, OSError, RuntimeError, ValueError, EOFError):
        raise SubmissionError("unreadable_file", "the XLSX workbook is damaged") from None
    unpacked = sum(info.file_size for info in members)
    if unpacked > MAX_XLSX_EXPANSION * max(len(data), 1 << 20):
        raise SubmissionError("unreadable_file", f"the workbook would unpack to {unpacked // 2**20} MB; it is not a "
                                                 f"normal spreadsheet")
    if "xl/workbook.xml" in names:  # .xlsx, and .xlsm (its macros are never run: only cell values are read)
        return "xlsx"
    if mimetype.startswith(b"application/vnd.oasis.opendocument.spreadsheet"):
        raise SubmissionError("ods_format", "an OpenDocument spreadsheet (.ods)")
    if "xl/workbook.bin" in names:
        raise SubmissionError("other_format", ".xlsb")
    if mimetype.startswith(b"application/vnd.oasis.opendocument") or "word/document.xml" in names:
        raise SubmissionError("other_format", ".docx / .odt")
    raise SubmissionError("zip_archive", "a zip archive")
