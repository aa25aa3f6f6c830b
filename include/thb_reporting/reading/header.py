"""The header row: a column's name and letter as the team sees them, which headers may be shown, and where
the header is (it must be the first row; a title above it or a deleted header is refused)."""
from __future__ import annotations

import logging
import re
from functools import cache

from thb_reporting.core import invisible_characters
from thb_reporting.core.contracts import load as load_contract
from thb_reporting.core.privacy import may_show
from thb_reporting.reading.names import SubmissionError

log = logging.getLogger(__name__)

def column_position(n: int) -> str:
    """The n-th column (from 1) by its place in the spreadsheet, as 'C (#3)': said instead of a header that
    may not be shown."""
    from thb_reporting.core.findings import spreadsheet_letter

    return f"{spreadsheet_letter(n)} (#{n})"


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
