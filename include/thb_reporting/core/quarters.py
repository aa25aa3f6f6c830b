"""Reporting quarters: '2026Q1' ⇄ dates, and each quarter's deadline from the reporting calendar
(reference/reporting_calendar.csv, as the national coordinator publishes it). Which team owes what is in
reporting_calendar.py; this module only knows dates, so that everything may import it."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import cache

from thb_reporting.core.reference import csv_rows

_QUARTER = re.compile(r"^(\d{4})-?Q([1-4])$", re.IGNORECASE)
DEFAULT_DEADLINE_DAYS = 15  # after the quarter's end, for a quarter reporting_calendar.csv does not list


def is_year(period: str) -> bool:
    """Whether a period of the national outputs is a year ('2026') rather than a quarter ('2026Q3')."""
    return len(str(period)) == 4


@dataclass(frozen=True, order=True)
class Quarter:
    year: int
    number: int

    @classmethod
    def parse(cls, text: str) -> Quarter:
        m = _QUARTER.match(text.strip())
        if not m:
            raise ValueError(f"not a quarter: {text!r} (expected e.g. 2026Q1)")
        return cls(int(m.group(1)), int(m.group(2)))

    @classmethod
    def containing(cls, day: dt.date) -> Quarter:
        return cls(day.year, (day.month - 1) // 3 + 1)

    def __str__(self) -> str:
        return f"{self.year}Q{self.number}"

    @property
    def start(self) -> dt.date:
        return dt.date(self.year, 3 * self.number - 2, 1)

    @property
    def end(self) -> dt.date:
        return self.next().start - dt.timedelta(days=1)

    def next(self) -> Quarter:
        return Quarter(self.year + self.number // 4, self.number % 4 + 1)

    def previous(self) -> Quarter:
        return Quarter(self.year - (self.number == 1), (self.number - 2) % 4 + 1)

    def deadline(self) -> dt.date:
        """As the reporting calendar (reference/reporting_calendar.csv) says, else 15 days after the end."""
        entry = reporting_calendar().get(str(self))
        return entry["deadline"] if entry else self.end + dt.timedelta(days=DEFAULT_DEADLINE_DAYS)


@cache
def reporting_calendar() -> dict[str, dict]:
    """quarter → {"deadline": date, "note_sr": …, "note_en": …} from reporting_calendar.csv."""
    out = {}
    for line, r in enumerate(csv_rows("reporting_calendar.csv"), start=2):
        quarter = Quarter.parse(r["quarter"])
        deadline = dt.date.fromisoformat(r["deadline"])
        if deadline <= quarter.end:
            raise ValueError(f"reporting_calendar.csv line {line}: the deadline {deadline} of {quarter} "
                             f"is not after the quarter's end ({quarter.end})")
        out[str(quarter)] = {"deadline": deadline, "note_sr": r["note_sr"], "note_en": r["note_en"]}
    return out
