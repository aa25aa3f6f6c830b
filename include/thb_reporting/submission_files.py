"""What a team sends: the file-name convention and reading CSV or XLSX into rows of text.

File names: <dataset>_<year>Q<n>[_<anything>].<csv|xlsx>, e.g. victims_2026Q1.csv or
victims_2026-Q1_ispravka.xlsx. The team is the inbox folder the file arrived in, never the name.
Reading yields every cell as text (or missing), plus `source_row`: the row number the team sees in
its spreadsheet (the header is row 1), so that every message can point at the right row.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass

from thb_reporting.contracts import datasets
from thb_reporting.quarters import Quarter
from thb_reporting.suites import ROW_KEY

SUFFIXES = (".csv", ".xlsx")


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
        raise SubmissionError("file_name", f"'{name}' is not a .csv or .xlsx file")
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


def decode_text(data: bytes) -> str:
    """UTF-8 (with or without BOM), UTF-16 with BOM, else Windows-1250 (Serbian Latin in Excel)."""
    return _decode(data)[0]


def _decode(data: bytes) -> tuple[str, bytes | None]:
    """The text, and its UTF-8 bytes where the file already holds them (else None)."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8"), memoryview(data)[3:]
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), None
    try:
        return data.decode("utf-8"), data
    except UnicodeDecodeError:
        return data.decode("cp1250"), None


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


def read_csv(data: bytes):
    import pandas as pd

    text, utf8 = _decode(data)
    if not text or text.isspace():  # (as `not text.strip()`, without copying the text)
        raise SubmissionError("empty_file", "the file is empty")
    sep = _sniff_delimiter(text)
    frame = _read_csv_arrow(utf8, text, sep)
    if frame is not None:
        return frame
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
    header = ["" if pd.isna(c) else str(c).strip() for c in frame.iloc[0]]
    frame = frame.iloc[1:].reset_index(drop=True)
    frame.columns = header
    return frame


def _cell_text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value).strip()
    return text or None


MAX_XLSX_EXPANSION = 100  # a workbook may unpack to at most this many times its size (zip bombs)


def _check_expansion(data: bytes) -> None:
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile:
        raise SubmissionError("unreadable_file", "the XLSX workbook is damaged or password-protected") from None
    if unpacked > MAX_XLSX_EXPANSION * max(len(data), 1 << 20):
        raise SubmissionError("unreadable_file", f"the workbook would unpack to {unpacked // 2**20} MB; it is not a "
                                                 f"normal spreadsheet")


def read_xlsx(data: bytes, dataset: str | None = None):
    import openpyxl
    import pandas as pd

    _check_expansion(data)
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as e:  # openpyxl raises many types for a damaged or encrypted workbook
        raise SubmissionError("unreadable_file", f"the XLSX workbook cannot be opened ({type(e).__name__})") from None
    try:
        # The template's data sheet is named after the dataset; otherwise the first sheet.
        sheet = book[dataset] if dataset and dataset in book.sheetnames else book.worksheets[0]
        header, rows, numbers = None, [], []
        for row in sheet.iter_rows():
            cells = [_cell_text(c.value) for c in row]
            if not any(cells):
                continue
            if header is None:
                header = [c or "" for c in cells]
                continue
            rows.append(cells[: len(header)] + [None] * (len(header) - len(cells)))
            numbers.append(row[0].row)
    finally:
        book.close()
    if header is None:
        raise SubmissionError("empty_file", "the workbook has no rows")
    frame = pd.DataFrame(rows, columns=header, dtype="str")
    frame.insert(0, ROW_KEY, numbers)
    return frame


def read_submission(data: bytes, name: SubmissionName):
    """Rows of text with `source_row`; header names stripped and lower-cased; an optional label before
    the code in parentheses, as in 'Status (status)', is accepted."""
    if name.file_format == "xlsx":
        frame = read_xlsx(data, name.dataset)
    else:
        frame = read_csv(data)
        frame.insert(0, ROW_KEY, range(2, len(frame) + 2))
        # Numbered before blank lines are dropped, so row numbers match the spreadsheet.
        filled = frame.drop(columns=ROW_KEY).notna().any(axis=1)
        if not filled.all():
            frame = frame[filled].reset_index(drop=True)
    from thb_reporting.reference import to_latin

    columns = []
    for col in frame.columns:
        col = to_latin(str(col)).strip()  # a header typed in Cyrillic reads as its Latin form
        m = re.search(r"\(([^()]+)\)\s*$", col)
        columns.append(ROW_KEY if col == ROW_KEY else (m.group(1) if m else col).strip().lower())
    frame.columns = columns
    return frame
