"""CSV files: the delimiter, the header check, and the rows, numbered as a spreadsheet numbers them
(pyarrow's reader where it gives the same frame as pandas', which is several times faster)."""
from __future__ import annotations

import csv
import io
import logging
import re

from thb_reporting.core.contracts import ROW_KEY
from thb_reporting.reading.header import _find_header, _header_score
from thb_reporting.reading.names import HEADER_SEARCH_ROWS, SubmissionError
from thb_reporting.reading.text import _BLANK_LINE_RE2, _holds

log = logging.getLogger(__name__)

# --- CSV ------------------------------------------------------------------------------------------
def _sniff_delimiter(text: str) -> str:
    end = text.find("\n")
    header = text if end < 0 else text[:end]  # (not split: that would copy the whole rest of the file)
    counts = {d: header.count(d) for d in (";", ",", "\t")}
    return max(counts, key=counts.get) if max(counts.values()) else ","


def _read_csv_arrow(utf8: bytes | None, text: str | None, head: str, sep: str, blank_lines: bool | None = None):
    """The same frame as the pandas reader below gives, read by pyarrow's multi-threaded reader (several
    times faster on large files), or None where the two could differ: blank lines (pandas numbers them
    as rows; `blank_lines` False: the caller knows there are none), rows of another width (pandas pads or
    names the row) or anything pyarrow will not parse. Text is read as large_string, which pandas' `str`
    columns hold, so that no column is cast (copied) on its way into pandas."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    if blank_lines is None:
        blank_lines = _holds(text, utf8, _BLANK_LINE_RE2)
    if blank_lines or head[:1] in "\r\n":
        return None
    header = head[: head.find("\n")] if "\n" in head else head
    names = [f"f{i}" for i in range(header.count(sep) + 1)]  # at least as many as the columns
    try:
        table = pacsv.read_csv(
            pa.py_buffer(text.encode("utf-8") if utf8 is None else utf8),
            read_options=pacsv.ReadOptions(autogenerate_column_names=True),
            parse_options=pacsv.ParseOptions(delimiter=sep, quote_char='"', double_quote=True, newlines_in_values=True,
                                              ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(column_types={n: pa.large_string() for n in names}, null_values=[""],
                                                 strings_can_be_null=True, quoted_strings_can_be_null=True),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None
    if any(not pa.types.is_large_string(t) for t in table.schema.types) or table.num_rows == 0:
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


def read_csv(text: str | None, utf8: bytes | None, head: str, sep: str, blank_lines: bool | None = None):
    """Rows of a CSV text with the first row as the header; `source_row` counts every line (blank ones
    too), as a spreadsheet numbers them. blank_lines: whether the text has any (None: not known yet).
    text None: the text is read from its UTF-8 bytes, and made only where pyarrow's reader cannot read it;
    head: its first lines (head_of)."""
    import pandas as pd

    frame = _read_csv_arrow(utf8, text, head, sep, blank_lines)
    if frame is None:
        text = str(utf8, "utf-8") if text is None else text
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
