"""Soft rules on a team's own history (DHIS2-style outlier checks): a figure far from the team's earlier
quarters, or a sudden zero, is accepted with a warning for the team to confirm."""
from __future__ import annotations

from statistics import median

from thb_reporting import ledger
from thb_reporting.findings import WARNING, Finding
from thb_reporting.quarters import Quarter

MIN_QUARTERS = 3  # fewer earlier quarters say too little about what is usual for a team
Z_LIMIT = 3.5  # modified z-score (Iglewicz and Hoaglin) beyond which a value is an outlier
ZERO_AFTER = 5  # a zero is sudden when the last quarters averaged at least this much


def earlier_measures(conn, team: str, dataset: str, quarter: Quarter) -> list[int]:
    """The headline figure of the team's current accepted submission for each earlier quarter, oldest first."""
    rows = [(r.quarter, r.measure) for r in ledger.current_submissions(conn, dataset, team).values()
            if r.measure is not None]
    return [m for q, m in sorted(rows) if Quarter.parse(q) < quarter]


def history_warnings(value: int, history: list[int]) -> list[Finding]:
    if len(history) < MIN_QUARTERS:
        return []
    recent = history[-3:]
    if value == 0 and sum(recent) / len(recent) >= ZERO_AFTER:
        return [Finding("sudden_zero", WARNING, value="0", detail=", ".join(map(str, recent)))]
    mid = median(history)
    mad = median(abs(h - mid) for h in history)
    far = abs(0.6745 * (value - mid) / mad) > Z_LIMIT if mad else not (min(history) <= value <= max(history))
    if far:
        return [Finding("history_outlier", WARNING, value=str(value), detail=f"{min(history)}–{max(history)}")]
    return []
