"""Reading what a team sends into rows of text: one entry, read_submission, and the names the other stages
use. The pieces: names (the file-name convention, SubmissionError), formats (what the bytes are), text
(encodings, Excel's hint line, control and invisible characters), header, delimited (CSV), workbook (XLSX).

Reading yields every cell as text (or missing), plus `source_row`: the row number the team sees in
its spreadsheet (the header is row 1), so that every message can point at the right row.
A problem with the whole file raises SubmissionError (one finding). Problems with cells met while
reading (control characters, a personal identifier outside the data rows) travel with the rows in
frame.attrs[READING_FINDINGS], which checks.check_columns reports.
"""
from __future__ import annotations

import logging

from thb_reporting.core import invisible_characters
from thb_reporting.core.contracts import ROW_KEY
from thb_reporting.core.contracts import load as load_contract
from thb_reporting.reading.delimited import _csv_header, read_csv
from thb_reporting.reading.formats import file_format
from thb_reporting.reading.header import _column_name, column_position, shown_header  # noqa: F401 (what the other stages name, from here)
from thb_reporting.reading.names import (  # noqa: F401 (what the other stages name, from here)
    DECLARED_TEMPLATE, READING_FINDINGS, SubmissionError, SubmissionName, parse_file_name,
)
from thb_reporting.reading.text import (
    _BLANK_LINE_RE2, _CONTROL_RE2, _ESCAPED_CONTROL_RE2, _control_findings, _decode, _holds, _invisible_findings, _without_delimiter_hint, head_of,
    is_blank,
)
from thb_reporting.reading.workbook import identifiers_in_other_cells, read_workbook

log = logging.getLogger(__name__)


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
        text, utf8 = _decode(data, whole=False)  # text None: UTF-8, read from its bytes
        head = head_of(text, utf8)
        if is_blank(head, text, utf8):
            raise SubmissionError("empty_file", "the file is empty")
        text, utf8, hinted, head = _without_delimiter_hint(text, utf8, head)
        # One pass over the text for blank lines, control and invisible characters together (most files hold
        # none of them); each is looked for alone only in a file that holds one. Cells are searched only for
        # a kind of character the text holds.
        odd = _holds(text, utf8, f"{_BLANK_LINE_RE2}|{_CONTROL_RE2}|{invisible_characters.INVISIBLE_CLASS}")
        frame = read_csv(text, utf8, head, _csv_header(head, name.dataset, hinted), blank_lines=None if odd else False)
        header, header_row = list(frame.columns[1:]), 1
        controls, pattern = odd and _holds(text, utf8, _CONTROL_RE2), _CONTROL_RE2
        invisible = odd and _holds(text, utf8, invisible_characters.INVISIBLE_CLASS)
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
