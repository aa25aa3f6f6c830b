"""XLSX workbooks: the data sheet (named after the dataset, else the one naming most template columns), its
rows as text, the template version a workbook made from our template declares, and the cells of the other
sheets (an identifier on a hidden sheet rejects the file)."""
from __future__ import annotations

import datetime as dt
import io
import logging
import re
from dataclasses import dataclass

from thb_reporting.core.contracts import ROW_KEY
from thb_reporting.core.contracts import load as load_contract
from thb_reporting.core.privacy import error_class, identifier_kind, suspect_cells
from thb_reporting.reading.header import _find_header, _header_score, may_show_header
from thb_reporting.reading.names import DECLARED_TEMPLATE, HEADER_SEARCH_ROWS, SubmissionError

log = logging.getLogger(__name__)

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
    import pandas as pd

    from thb_reporting.core.findings import Finding

    findings, positions = [], {}
    for cell in cells:
        positions.setdefault(cell.sheet, len(positions) + 1)
    # the sheets of our template repeat hundreds of texts (instructions, code lists) in every workbook: one
    # screen of them all, and only the cells it flags examined one by one (suspect_cells: a superset)
    flagged = suspect_cells(pd.Series([cell.text for cell in cells], dtype="str")) if cells else []
    for cell, suspect in zip(cells, flagged):
        if suspect and (kind := identifier_kind(cell.text)):
            sheet = cell.sheet if may_show_header(cell.sheet) else f"#{positions[cell.sheet]}"
            findings.append(Finding("personal_identifier", detail=f"{kind}: {sheet}!{cell.ref}"))
    return findings
