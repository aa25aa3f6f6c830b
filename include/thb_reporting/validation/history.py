"""Soft rules on a team's own history (DHIS2-style outlier checks): a figure far from the team's earlier
quarters, or a sudden zero, is accepted with a warning for the team to confirm. Pure: the team's history is
handed in (ledger.earlier_measures), never read here in the middle of a validation."""
from __future__ import annotations

from statistics import median

from thb_reporting.core.findings import WARNING, Finding

MIN_QUARTERS = 3  # fewer earlier quarters say too little about what is usual for a team
Z_LIMIT = 3.5  # modified z-score (Iglewicz and Hoaglin) beyond which a value is an outlier
ZERO_AFTER = 5  # a zero is sudden when the last quarters averaged at least this much


def history_warnings(value: int, history: list[int]) -> list[Finding]:
    """The soft-rule warnings of a submission's headline figure against the team's earlier quarters (oldest first)."""
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
