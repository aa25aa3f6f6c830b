"""A submission's file name: <dataset>_<year>Q<n>[_<anything>].<csv|xlsx>, e.g. victims_2026Q1.csv or
victims_2026-Q1_ispravka.xlsx (the team is the inbox folder the file arrived in, never the name); the error that
refuses a whole file; and what reading hands on with the rows (frame.attrs keys)."""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from thb_reporting.core.contracts import datasets
from thb_reporting.core.quarters import Quarter

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
