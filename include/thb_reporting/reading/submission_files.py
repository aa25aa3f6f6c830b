"""What a team sends: the file-name convention, what a file's bytes are, and reading CSV or XLSX into
rows of text.

File names: <dataset>_<year>Q<n>[_<anything>].<csv|xlsx>, e.g. victims_2026Q1.csv or
victims_2026-Q1_ispravka.xlsx. The team is the inbox folder the file arrived in, never the name.
The format is told by the bytes, not the name (an XLSX named .csv is read as XLSX); old Excel (.xls),
OpenDocument, PDF, images, zip archives and password-protected workbooks are refused, each with its own
rule telling the team how to save the file.
Reading yields every cell as text (or missing), plus `source_row`: the row number the team sees in
its spreadsheet (the header is row 1), so that every message can point at the right row.
A problem with the whole file raises SubmissionError (one finding). Problems with cells met while
reading (control characters, a personal identifier outside the data rows) travel with the rows in
frame.attrs[READING_FINDINGS], which checks.check_columns reports.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import logging
import re
from dataclasses import dataclass
from functools import cache

from thb_reporting.core import invisible_characters
from thb_reporting.core.contracts import datasets
from thb_reporting.core.contracts import load as load_contract
from thb_reporting.core.invisible_characters import CONTROL, CONTROL_RE2
from thb_reporting.core.privacy import identifier_kind, may_show, error_class
from thb_reporting.core.quarters import Quarter
from thb_reporting.core.contracts import ROW_KEY

log = logging.getLogger(__name__)

SUFFIXES = (".csv", ".xlsx")
READING_FINDINGS = "reading_findings"  # frame.attrs key: findings about cells met while reading
DECLARED_TEMPLATE = "declared_template"  # frame.attrs key: the template version a workbook declares, if any
HEADER_SEARCH_ROWS = 10  # the header is looked for among the first rows that are not empty
ROWS_NAMED = 10  # at most this many rows are listed in a file-level message


class SubmissionError(Exception):
    """A problem with a whole file, in words for the team. rule names the broken rule."""

    def __init__(self, rule: str, message: str, row: int | None = None):
        super().__init__(message)
        self.rule, self.message, self.row = rule, message, row


@dataclass(frozen=True)
class SubmissionName:
    dataset: str
    quarter: Quarter
    file_format: str  # "csv" | "xlsx"
    remark: str = ""  # whatever follows the quarter in the name, e.g. "ispravka"


def parse_file_name(name: str) -> SubmissionName:
    lower = name.lower()
    suffix = next((s for s in SUFFIXES if lower.endswith(s)), None)
    if suffix is None:
        raise SubmissionError("file_name", f"'{name}' is not a .csv or .xlsx file: save it from Excel as .xlsx "
                                           f"(Excel Workbook) or CSV UTF-8; renaming it is not enough")
    stem = lower[: -len(suffix)]
    # Longest dataset name first, so that a dataset whose name prefixes another cannot shadow it.
    for dataset in sorted(datasets(), key=len, reverse=True):
        m = re.fullmatch(rf"{dataset}[_\- ](\d{{4}})[_\- ]?q([1-4])(?:[_\- ](.*))?", stem)
        if m:
            return SubmissionName(dataset, Quarter(int(m.group(1)), int(m.group(2))), suffix[1:], m.group(3) or "")
    raise SubmissionError(
        "file_name",
        f"'{name}' does not follow <dataset>_<year>Q<quarter>.csv|xlsx (e.g. victims_2026Q1.csv); "
        f"datasets: {', '.join(datasets())}",
    )


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


# --- text: encodings and control characters ----------------------------------------------------
# C0 controls but tab, LF and CR; DEL; C1 controls. None of them is ever typed in a cell: where they
# appear the cell was pasted from another program or the file is damaged, and PostgreSQL refuses NUL.
_CONTROL, _CONTROL_RE2 = CONTROL, CONTROL_RE2
# In XLSX, XML cannot hold C0 controls: Excel writes them as _x0000_ … _x001F_, which openpyxl leaves as they are.
_ESCAPED_CONTROL_RE2 = r"_x(?:000[0-8BbCcEeFf]|001[0-9A-Fa-f]|007[Ff]|008[0-9A-Fa-f]|009[0-9A-Fa-f])_"


def _holds(text: str, utf8: bytes | None, pattern: str) -> bool:
    """Whether the RE2 `pattern` matches anywhere in the text (its UTF-8 bytes, where known, are not copied):
    pyarrow's RE2 scans a large file many times faster than Python's re."""
    import pyarrow as pa
    import pyarrow.compute as pc

    data = pa.py_buffer(text.encode("utf-8") if utf8 is None else utf8)
    whole = pa.LargeStringArray.from_buffers(1, pa.array([0, data.size], pa.int64()).buffers()[1], data)
    return pc.match_substring_regex(whole, pattern)[0].as_py()


def decode_text(data: bytes) -> str:
    """UTF-8 (with or without BOM), UTF-16 (with or without BOM), else Windows-1250 (Serbian Latin in
    Excel) or Windows-1251 (Serbian Cyrillic in Excel); a file mixing UTF-8 and Windows lines, or with
    bytes neither can read, raises SubmissionError naming the rows."""
    return _decode(data)[0]


def _decode(data: bytes) -> tuple[str, bytes | None]:
    """The text, and its UTF-8 bytes where the file already holds them (else None)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return _decode_utf16(data, "utf-16"), None
    utf16 = _utf16_without_bom(data)
    if utf16:
        return _decode_utf16(data, utf16), None
    data = data.rstrip(b"\x00")  # NUL padding after the last line (a damaged copy) is no cell: dropped
    body = memoryview(data)[3:] if data.startswith(b"\xef\xbb\xbf") else data
    try:
        return str(body, "utf-8"), body
    except UnicodeDecodeError:
        pass
    codec = _windows_code_page(body)
    try:
        text = str(body, codec)
    except UnicodeDecodeError:
        text = None
    # Valid UTF-8 beyond ASCII in a file that is not all UTF-8 may be rows pasted in from a UTF-8 file (or,
    # rarely, two Windows letters that happen to form one character): the lines tell.
    if text is None or not str(body, "utf-8", "ignore").isascii():
        _check_line_encodings(bytes(body), codec)  # (it always raises where text is None)
    return text, None


_ASCII = bytes(range(0x80))
_LATIN_1250 = bytes([0x8A, 0x8E, 0x9A, 0x9E, 0xC6, 0xC8, 0xD0, 0xE6, 0xE8, 0xF0])  # Š Ž š ž Ć Č Đ ć č đ
_CYRILLIC_ONLY_1251 = bytes(b for b in range(0xC0, 0x100) if b not in _LATIN_1250)  # а-я, А-Я but Ж И Р ж и р


def _windows_code_page(body) -> str:
    """'cp1251' for a file that Excel saved with a Serbian Cyrillic locale (its letters beyond ASCII are mostly
    Cyrillic in Windows-1251, which read as Windows-1250 would be Latin letters no Serbian word has), else
    'cp1250' (Serbian Latin)."""
    beyond = bytes(body).translate(None, _ASCII)
    latin = len(beyond) - len(beyond.translate(None, _LATIN_1250))
    cyrillic = len(beyond) - len(beyond.translate(None, _CYRILLIC_ONLY_1251))
    return "cp1251" if cyrillic > 2 * latin else "cp1250"


def _utf16_without_bom(data: bytes) -> str | None:
    """'utf-16-le' or 'utf-16-be' where every other byte of the text is NUL (ASCII in UTF-16), else None."""
    sample = data[:4096]
    if len(sample) < 4:
        return None
    even, odd = sample[0::2].count(0) / len(sample[0::2]), sample[1::2].count(0) / len(sample[1::2])
    if odd > 0.3 and even < 0.02:
        return "utf-16-le"
    if even > 0.3 and odd < 0.02:
        return "utf-16-be"
    return None


def _decode_utf16(data: bytes, encoding: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as e:
        row = data[: e.start].decode(encoding, errors="replace").count("\n") + 1
        raise SubmissionError("undecodable_text", str(row), row=row) from None


def _plausible_utf8(text: str) -> bool:
    """Whether a line read as UTF-8 holds only letters a team writes: Latin (with Serbian letters),
    Cyrillic, typographic punctuation and the euro sign. Two Windows-1250 letters that form one UTF-8
    character (as 'Čš') give other characters."""
    return all(ch < "\x80" or "\xa0" <= ch <= "\u017f" or "\u0400" <= ch <= "\u04ff" or "\u2010" <= ch <= "\u206f"
               or ch == "\u20ac" for ch in text)


def _check_line_encodings(body: bytes, codec: str) -> None:
    """Line by line, for a file that is not all UTF-8: a line that is text in neither UTF-8 nor the file's
    Windows code page, or UTF-8 lines beside lines in the code page (rows pasted from another file), reject
    the file, naming the rows (lines of the file, the header being 1) of the odd kind."""
    utf8, windows, neither = [], [], []
    for number, line in enumerate(body.split(b"\n"), start=1):
        if line.isascii():
            continue
        try:
            if _plausible_utf8(line.decode("utf-8")):
                utf8.append(number)
                continue
        except UnicodeDecodeError:
            pass
        try:
            line.decode(codec)
            windows.append(number)
        except UnicodeDecodeError:
            neither.append(number)
    if neither:
        raise SubmissionError("undecodable_text", _rows_named(neither), row=neither[0])
    if utf8 and windows:
        odd = windows if len(windows) <= len(utf8) else utf8
        raise SubmissionError("mixed_encoding", _rows_named(odd), row=odd[0])


def _rows_named(rows: list[int]) -> str:
    return ", ".join(map(str, rows[:ROWS_NAMED])) + (f" (+{len(rows) - ROWS_NAMED})" if len(rows) > ROWS_NAMED else "")


def _control_findings(frame, header: list[str], header_row: int, contract_columns, pattern: str = _CONTROL_RE2) -> list:
    """A control_character finding for every cell (and header) holding one; the value is never kept.
    `frame` has its columns named, `source_row` first (read_submission): a column of the contract is named,
    others by their place."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from thb_reporting.core.findings import Finding

    findings = [Finding("control_character", column=column_position(i), row=header_row)
                for i, text in enumerate(header, start=1) if _CONTROL.search(text) or re.search(_ESCAPED_CONTROL_RE2, text)]
    for position, col in enumerate((c for c in frame.columns if c != ROW_KEY), start=1):
        hits = pc.match_substring_regex(pa.array(frame.iloc[:, position], type=pa.string(), from_pandas=True), pattern)
        hits = hits.fill_null(False).to_numpy(zero_copy_only=False)
        if hits.any():
            shown = col if col in contract_columns else column_position(position)
            findings += [Finding("control_character", column=shown, row=int(row)) for row in frame[ROW_KEY].to_numpy()[hits]]
    return findings


def _invisible_findings(frame, header: list[str], header_row: int, dataset: str) -> list:
    """An invisible_character_removed warning for every header, and every cell of a code, number, date or
    reference, that holds a character the team cannot see (invisible_characters), which is removed here,
    in `frame`, before any check; the warning names the character and the cell. Free text
    (Contract.words_as_written) keeps them."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from thb_reporting.core.findings import WARNING, Finding

    contract = load_contract(dataset)
    pattern = invisible_characters.INVISIBLE_CLASS
    findings = [Finding("invisible_character_removed", WARNING, column=shown_header(_column_name(text), i), row=header_row,
                        detail=invisible_characters.names(text))
                for i, text in enumerate(header, start=1) if invisible_characters.INVISIBLE.search(text)]
    cleaned = [c for c in contract.columns if c not in contract.words_as_written]
    for col in cleaned:
        if col.name not in frame.columns or list(frame.columns).count(col.name) > 1:
            continue  # a missing or duplicated column is reported as such
        cells = pa.array(frame[col.name], type=pa.string(), from_pandas=True)
        hits = pc.match_substring_regex(cells, pattern).fill_null(False).to_numpy(zero_copy_only=False)
        if not hits.any():
            continue
        rows = frame[ROW_KEY].to_numpy()[hits]
        texts = frame[col.name].to_numpy()[hits]
        findings += [Finding("invisible_character_removed", WARNING, column=col.name, row=int(row),
                             detail=invisible_characters.names(text)) for row, text in zip(rows, texts)]
        frame[col.name] = frame[col.name].str.replace(pattern, "", regex=True)
    return findings


def _without_delimiter_hint(text: str, utf8):
    """(text, its UTF-8 bytes or None, the delimiter) of a CSV whose first line is Excel's delimiter hint
    ('sep=;', which Excel reads and hides, so the header is the first row the team sees), with that line
    removed; (text, utf8, None) when it has none."""
    m = _DELIMITER_HINT.match(text[:200])
    if not m:
        return text, utf8, None
    end = m.end()
    if utf8 is not None:
        utf8 = memoryview(utf8)[len(text[:end].encode("utf-8")):]
    return text[end:], utf8, {"\\t": "\t"}.get(m.group(1), m.group(1))


# Excel's first line 'sep=;' (also quoted, with a tab or '\t', trailing delimiters from a sheet cell).
_DELIMITER_HINT = re.compile(r'[\ufeff ]*"?sep=(\\t|[;,\t|])"?[;,\t|]*[ \t]*\r?\n', re.IGNORECASE)


def column_position(n: int) -> str:
    """The n-th column (from 1) by its place in the spreadsheet, as 'C (#3)': said instead of a header that
    may not be shown."""
    from openpyxl.utils import get_column_letter

    return f"{get_column_letter(n)} (#{n})"


def shown_header(text: str, position: int) -> str:
    """A header from a file as a message may name it: itself where may_show_header allows, else its place."""
    return text if may_show_header(text) else column_position(position)


def may_show_header(text: str) -> bool:
    """Whether a header found in a file may be named in a message: what privacy.may_show lets through, and
    more strictly not shaped like a value (few digits, only letters, digits, spaces and _ - . ( ) /).
    Conservative: anything else is named by its position (column_position)."""
    return (0 < len(text) and may_show(text) and sum(ch.isdigit() for ch in text) <= 2
            and re.fullmatch(r"[\w .()/-]+", text) is not None and not re.search(r"\d[/-]|[/-]\d", text))


# --- the header ---------------------------------------------------------------------------------
def _column_name(header: str) -> str:
    """A header as a column code: Cyrillic read as Latin, an optional label before the code in
    parentheses ('Status (status)') dropped, lower case."""
    from thb_reporting.core.reference import to_latin

    col = invisible_characters.removed(to_latin(str(header))).strip()
    m = re.search(r"\(([^()]+)\)\s*$", col)
    return (m.group(1) if m else col).strip().lower()


@cache
def _known_headers(dataset: str) -> frozenset:
    """What a header of the dataset's template may read as: its codes and its Serbian and English labels."""
    return frozenset(name for c in load_contract(dataset).columns
                     for name in (c.name, _column_name(c.label["sr"]), _column_name(c.label["en"])))


@cache
def _known_codes(dataset: str) -> frozenset:
    return frozenset(code.lower() for c in load_contract(dataset).columns for code in c.allowed_codes)


def _header_score(cells: list, dataset: str) -> int:
    """How many of the template's columns a row names."""
    return len({_column_name(c) for c in cells if c} & _known_headers(dataset))


def _find_header(rows: list[tuple[int, list]], dataset: str) -> int:
    """The row number of the header, given the first rows of a sheet as (row number, cells). The header
    must come first: a header below a title (or other rows) and a first row that looks like data (the
    header deleted) reject the file, each with its own rule; the cells of such rows are never quoted."""
    columns = len(load_contract(dataset).columns)
    scores = [_header_score(cells, dataset) for _, cells in rows]
    best = max(range(len(rows)), key=lambda i: (scores[i], -i))
    if best > 0 and scores[best] >= min(2, columns) and scores[best] > scores[0]:
        raise SubmissionError("title_row_above_header", str(rows[best][0]), row=rows[best][0])
    filled = [c for c in rows[0][1] if c]
    data_like = sum(1 for c in filled if re.search(r"\d", c) or c.strip().lower() in _known_codes(dataset))
    if filled and scores[0] < max(2, columns // 3) and data_like >= max(1, len(filled) // 3):
        raise SubmissionError("header_missing", "", row=rows[0][0])
    return rows[0][0]


# --- CSV ------------------------------------------------------------------------------------------
def _sniff_delimiter(text: str) -> str:
    end = text.find("\n")
    header = text if end < 0 else text[:end]  # (not split: that would copy the whole rest of the file)
    counts = {d: header.count(d) for d in (";", ",", "\t")}
    return max(counts, key=counts.get) if max(counts.values()) else ","


def _read_csv_arrow(utf8: bytes | None, text: str, sep: str):
    """The same frame as the pandas reader below gives, read by pyarrow's multi-threaded reader (several
    times faster on large files), or None where the two could differ: blank lines (pandas numbers them
    as rows), rows of another width (pandas pads or names the row) or anything pyarrow will not parse."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    if "\n\n" in text or "\n\r\n" in text or "\r\r" in text or text[:1] in "\r\n":
        return None
    header = text[: text.find("\n")] if "\n" in text else text
    names = [f"f{i}" for i in range(header.count(sep) + 1)]  # at least as many as the columns
    try:
        table = pacsv.read_csv(
            pa.py_buffer(text.encode("utf-8") if utf8 is None else utf8),
            read_options=pacsv.ReadOptions(autogenerate_column_names=True),
            parse_options=pacsv.ParseOptions(delimiter=sep, quote_char='"', double_quote=True, newlines_in_values=True,
                                              ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in names}, null_values=[""],
                                                 strings_can_be_null=True, quoted_strings_can_be_null=True),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None
    if any(not pa.types.is_string(t) for t in table.schema.types) or table.num_rows == 0:
        return None
    header = ["" if c[0] is None else str(c[0]).strip() for c in table.slice(0, 1).to_pydict().values()]
    frame = table.slice(1).to_pandas()  # the header row sliced off in pyarrow, not copied in pandas
    frame.columns = header
    return frame


def _csv_head(text: str, sep: str) -> list[tuple[int, list]]:
    """The first rows of a CSV text as (row number, cells), blank lines included (a spreadsheet shows them)."""
    end = -1
    for _ in range(2 * HEADER_SEARCH_ROWS):
        end = text.find("\n", end + 1)
        if end < 0:
            break
    head = text if end < 0 else text[:end]
    reader = csv.reader(io.StringIO(head), delimiter=sep)
    try:
        return [(number, row) for number, row in zip(range(1, HEADER_SEARCH_ROWS + 1), reader)]
    except csv.Error:
        return []


def _csv_header(text: str, dataset: str, hinted: str | None = None) -> str:
    """The delimiter of a CSV text, checking on the way that its header is its first row (_find_header).
    The delimiter is the one a hint line named (hinted), else the one under which a row of the first names
    most template columns (a title row could have other delimiters than the header), else the one the first
    line has most of."""
    if hinted:
        if head := _csv_head(text, hinted):
            _find_header(head, dataset)
        return hinted
    heads = {sep: _csv_head(text, sep) for sep in (";", ",", "\t")}
    best = {sep: max((_header_score(cells, dataset) for _, cells in rows), default=0) for sep, rows in heads.items()}
    sep = max(best, key=best.get) if max(best.values()) else _sniff_delimiter(text)
    if heads[sep]:
        _find_header(heads[sep], dataset)
    return sep


def read_csv(text: str, utf8: bytes | None, sep: str):
    """Rows of a CSV text with the first row as the header; `source_row` counts every line (blank ones
    too), as a spreadsheet numbers them."""
    import pandas as pd

    frame = _read_csv_arrow(utf8, text, sep)
    if frame is None:
        try:
            # header=None: pandas then measures every row against the first (the header) and names the line
            # of a row with too many cells, instead of silently turning extra cells into an index.
            frame = pd.read_csv(
                io.StringIO(text), sep=sep, header=None, dtype=str, keep_default_na=False,
                na_values=[""], skip_blank_lines=False, quoting=csv.QUOTE_MINIMAL,
            )
        except pd.errors.ParserError as e:
            m = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(e))
            if m:
                raise SubmissionError("unreadable_file", f"row {m.group(2)} has {m.group(3)} cells but the header has "
                                      f"{m.group(1)}", row=int(m.group(2))) from None
            raise SubmissionError("unreadable_file", f"the CSV cannot be read: {str(e).splitlines()[0]}") from None
        except pd.errors.EmptyDataError:  # nothing but line breaks and blanks
            raise SubmissionError("empty_file", "the file has no rows") from None
        header = ["" if pd.isna(c) else str(c).strip() for c in frame.iloc[0]]
        frame = frame.iloc[1:].reset_index(drop=True)
        frame.columns = header
    frame.insert(0, ROW_KEY, range(2, len(frame) + 2))
    # Numbered before blank lines are dropped, so row numbers match the spreadsheet.
    filled = frame.drop(columns=ROW_KEY).notna().any(axis=1)
    if not filled.all():
        frame = frame[filled].reset_index(drop=True)
    return frame


# --- XLSX -----------------------------------------------------------------------------------------
def _cell_text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        # A decimal number cell such as 1.234 would read like a group of thousands in a file that writes
        # 1.250.000 (written_forms): one more decimal zero, which changes nothing, keeps it a decimal.
        text = repr(value)
        return text + "0" if re.fullmatch(r"-?\d{1,3}\.\d{3}", text) else text
    text = str(value).strip()
    return text or None


def _filled_rows(sheet, limit: int | None = None):
    """(row number, cells as text) of the rows of a sheet that are not empty, at most `limit` of them."""
    count = 0
    for row in sheet.iter_rows():
        cells = [_cell_text(c.value) for c in row]
        if any(cells):
            yield next(c.row for c in row if c.value is not None), cells  # (an empty cell has no row)
            count += 1
            if limit is not None and count >= limit:
                return


@dataclass(frozen=True)
class OtherCell:
    """A cell of a workbook outside the rows read (another sheet, hidden or not): screened for personal
    identifiers (identifiers_in_other_cells), never read as data."""
    sheet: str
    ref: str  # as Excel names it, e.g. B7
    text: str


def read_workbook(data: bytes, dataset: str):
    """(rows, header texts, header row number, other cells) of an XLSX workbook. The data sheet is the one
    named after the dataset (as in the template) where it has a header, else the one whose header names
    most of the template's columns (the first such): a workbook whose first sheet is empty or a read-me
    is read from its data sheet."""
    import openpyxl
    import pandas as pd
    from openpyxl.utils import get_column_letter

    from thb_reporting.core.contracts import declared_version

    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as e:  # noqa: BLE001 (openpyxl raises many types for a damaged workbook)
        raise SubmissionError("unreadable_file", f"the XLSX workbook cannot be opened ({error_class(e)})") from None
    try:
        sheets = sorted(book.worksheets, key=lambda s: s.title != dataset)  # stable: otherwise in workbook order
        heads = [list(_filled_rows(s, HEADER_SEARCH_ROWS)) for s in sheets]
        scores = [max((_header_score(cells, dataset) for _, cells in head), default=-1) for head in heads]
        if max(scores, default=-1) < 0:  # (a workbook of chart sheets only has no worksheet)
            raise SubmissionError("empty_file", "the workbook has no rows")
        # the sheet named after the dataset where it has a header, else the one naming most columns
        named = sheets[0].title == dataset and scores[0] >= min(2, len(load_contract(dataset).columns))
        chosen = 0 if named else scores.index(max(scores))
        sheet, header_row = sheets[chosen], _find_header(heads[chosen], dataset)
        header, rows, numbers = None, [], []
        for number, cells in _filled_rows(sheet):
            if header is None:
                header = [c or "" for c in cells]
            else:
                rows.append(cells)
                numbers.append(number)
        # Columns as far as any cell (a cell right of the header is a column without a name), not as far
        # as formatting reaches (an empty formatted cell is no column).
        width = max(_last_filled(r) for r in [header, *rows])
        header = header[:width] + [""] * (width - len(header))
        rows = [r[:width] + [None] * (width - len(r)) for r in rows]
        other = [OtherCell(s.title, f"{get_column_letter(c.column)}{c.row}", text)
                 for s in sheets if s is not sheet for row in s.iter_rows() for c in row
                 if (text := _cell_text(c.value)) is not None]
        declared = declared_version(book.properties.keywords, dataset)  # a workbook made from our template
    finally:
        book.close()
    frame = pd.DataFrame(rows, columns=range(width), dtype="str")
    frame.columns = header
    frame.insert(0, ROW_KEY, numbers)
    if declared is not None:
        frame.attrs[DECLARED_TEMPLATE] = declared
    return frame, header, header_row, other


def _last_filled(cells: list) -> int:
    return max((i + 1 for i, c in enumerate(cells) if c), default=0)


def identifiers_in_other_cells(cells: list[OtherCell]) -> list:
    """A personal_identifier finding for every cell outside the rows read that holds one (a JMBG on a
    hidden sheet rejects the file as one in the data would), naming the sheet and cell, never the value."""
    from thb_reporting.core.findings import Finding

    findings, positions = [], {}
    for cell in cells:
        positions.setdefault(cell.sheet, len(positions) + 1)
        kind = identifier_kind(cell.text)
        if kind:
            sheet = cell.sheet if may_show_header(cell.sheet) else f"#{positions[cell.sheet]}"
            findings.append(Finding("personal_identifier", detail=f"{kind}: {sheet}!{cell.ref}"))
    return findings


# --- a submission -----------------------------------------------------------------------------
def read_submission(data: bytes, name: SubmissionName):
    """Rows of text with `source_row`, of a file in whichever format its bytes are (file_format);
    header names stripped and lower-cased; an optional label before the code in parentheses, as in
    'Status (status)', is accepted. Findings about cells met while reading are in
    frame.attrs[READING_FINDINGS] (only where there are some: pandas copies attrs on every operation)."""
    findings = []
    if file_format(data) == "xlsx":
        frame, header, header_row, other = read_workbook(data, name.dataset)
        findings += identifiers_in_other_cells(other)
        controls, pattern = True, f"{_CONTROL_RE2}|{_ESCAPED_CONTROL_RE2}"
        invisible = True
    else:
        text, utf8 = _decode(data)
        if not text or text.isspace():  # (as `not text.strip()`, without copying the text)
            raise SubmissionError("empty_file", "the file is empty")
        text, utf8, hinted = _without_delimiter_hint(text, utf8)
        frame = read_csv(text, utf8, _csv_header(text, name.dataset, hinted))
        header, header_row = list(frame.columns[1:]), 1
        # one pass over the text each; its cells are searched only where it holds such a character
        controls, pattern = _holds(text, utf8, _CONTROL_RE2), _CONTROL_RE2
        invisible = _holds(text, utf8, invisible_characters.INVISIBLE_CLASS)
    # Trailing columns without a header or any value hold nothing (delimiters at the ends of lines);
    # only trailing ones are dropped, so that every column keeps its place (its letter) in messages.
    width = len(frame.columns)
    while width > 1 and frame.columns[width - 1] == "" and frame.iloc[:, width - 1].isna().all():
        width -= 1
    if width < len(frame.columns):
        frame, header = frame.iloc[:, :width], header[: width - 1]
    frame.columns = [ROW_KEY] + [_column_name(c) for c in frame.columns[1:]]
    if controls:
        findings += _control_findings(frame, [str(h) for h in header], header_row,
                                      load_contract(name.dataset).column_names, pattern)
    if invisible:
        findings += _invisible_findings(frame, [str(h) for h in header], header_row, name.dataset)
    if findings:
        frame.attrs[READING_FINDINGS] = findings
    return frame
