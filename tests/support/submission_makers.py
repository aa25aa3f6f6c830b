"""Files that are not what a team should send, made from scratch for tests: the formats a team's office
really produces (old Excel, OpenDocument, encrypted workbooks, PDFs, scans, zips) and spreadsheets
with the header deleted, a title above it, data on another sheet, or an identifier on a hidden sheet."""
from __future__ import annotations

import io
import struct
import zipfile
import zlib

from thb_reporting.core import contracts

_END, _FREE, _FAT = 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFD


def compound_file(streams: list[str]) -> bytes:
    """A minimal OLE2 compound file (version 3, 512-byte sectors) whose root holds empty streams of these
    names: with 'Workbook' it is the shape of an Excel 97-2003 .xls, with 'EncryptionInfo' and
    'EncryptedPackage' that of an .xlsx encrypted with a password."""
    entries = [("Root Entry", 5)] + [(name, 2) for name in streams]
    assert len(entries) <= 4  # one directory sector
    directory = b""
    for i, (name, kind) in enumerate(entries):
        encoded = (name + "\x00").encode("utf-16-le")
        child = 1 if kind == 5 and len(entries) > 1 else _FREE
        right = i + 1 if kind == 2 and i + 1 < len(entries) else _FREE
        directory += (encoded.ljust(64, b"\x00") + struct.pack("<HBB3I", len(encoded), kind, 1, _FREE, right, child)
                      + b"\x00" * 16 + struct.pack("<I", 0) + b"\x00" * 16 + struct.pack("<IQ", _END, 0))
    directory = directory.ljust(512, b"\x00")
    fat = struct.pack("<2I", _FAT, _END).ljust(512, b"\xff")
    header = (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 16 + struct.pack("<5H", 0x3E, 3, 0xFFFE, 9, 6)
              + b"\x00" * 6 + struct.pack("<9I", 0, 1, 1, 0, 4096, _END, 0, _END, 0)
              + struct.pack("<I", 0) + b"\xff" * (109 * 4 - 4))
    assert len(header) == 512
    return header + fat + directory


def ods() -> bytes:
    """An OpenDocument spreadsheet as LibreOffice writes one: a zip whose first member, stored, is `mimetype`."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.spreadsheet")
        z.writestr("content.xml", '<?xml version="1.0"?><office:document-content '
                   'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"/>', zipfile.ZIP_DEFLATED)
        z.writestr("META-INF/manifest.xml", "<manifest/>", zipfile.ZIP_DEFLATED)
    return buf.getvalue()


def zip_of(name: str, content: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(name, content)
    return buf.getvalue()


def pdf() -> bytes:
    return (b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pages /Kids [] "
            b"/Count 0 >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")


def png() -> bytes:
    """A 1×1 grey PNG (a 'scan')."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">2I5B", 1, 1, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\x80")) + chunk(b"IEND", b""))


def workbook(build) -> bytes:
    """An XLSX made by openpyxl: `build(book)` fills a new workbook."""
    from openpyxl import Workbook

    book = Workbook()
    build(book)
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def fill_sheet(sheet, dataset: str, rows: list[dict], header: bool = True, quarter: str = "2026Q2") -> list[str]:
    """The template's columns for the quarter (header row unless header=False) and the rows, from row 1 of `sheet`."""
    columns = list(contracts.for_quarter(dataset, quarter).column_names)
    if header:
        sheet.append(columns)
    for r in rows:
        sheet.append([r[c] for c in columns])
    return columns
