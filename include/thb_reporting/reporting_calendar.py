"""The reporting calendar (DHIS2 is the model): which team owes which dataset for which quarter
(reference/reporting_obligations.csv), by when (reference/reporting_calendar.csv), and the status of each: accepted (by the deadline), accepted_late, rejected (nothing accepted, something
rejected) or missing; with whether the quarter is locked. Reporting rate = accepted (on time or late) /
owed; on-time rate = accepted by the deadline / owed."""
from __future__ import annotations

import datetime as dt

from thb_reporting import contracts, ledger, reference
from thb_reporting.ledger import Status
from thb_reporting.locks import locked_quarters
from thb_reporting.quarters import Quarter

STATUSES = ("accepted", "accepted_late", "rejected", "missing")
NOT_ACCEPTED = (Status.REJECTED, Status.FAILED)  # a failed file (could not be processed) counts as rejected here
NOT_OWED = "not_owed"  # shown in matrices only; never a row of national.reporting_status
STATUS_WORDS = {
    "sr": {"accepted": "primljeno", "accepted_late": "primljeno kasno", "rejected": "odbijeno", "missing": "nedostaje",
           NOT_OWED: "nije obaveza"},
    "en": {"accepted": "accepted", "accepted_late": "accepted late", "rejected": "rejected", "missing": "missing",
           NOT_OWED: "not owed"},
}
COLOURS = {"accepted": "#d1f2d9", "accepted_late": "#fff1c2", "rejected": "#ffd6d6", "missing": "#eeeeee",
           NOT_OWED: "#ffffff"}


def owed_quarters(team, today: dt.date) -> list[Quarter]:
    """The quarters a team may owe something for: from its first quarter to the last that has ended."""
    last = Quarter.containing(today).previous()
    quarter, out = Quarter.parse(team.active_since), []
    while quarter <= last:
        out.append(quarter)
        quarter = quarter.next()
    return out


def owes(team, dataset: str, quarter: Quarter, obligations=None) -> bool:
    """Whether the team owes the dataset for the quarter: the last matching line of the obligations wins;
    nothing is owed before the team's first quarter."""
    if quarter < Quarter.parse(team.active_since):
        return False
    result = False
    for rule in obligations if obligations is not None else reference.reporting_obligations():
        if rule.team_code not in ("*", team.municipality_code) or rule.dataset not in ("*", dataset):
            continue
        if quarter < Quarter.parse(rule.first_quarter or team.active_since):
            continue
        if rule.last_quarter and quarter > Quarter.parse(rule.last_quarter):
            continue
        result = rule.owes
    return result


def _aware(stamp: dt.datetime) -> dt.datetime:
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.timezone.utc)


def reporting_statuses(conn, quarters: list[Quarter] | None = None, today: dt.date | None = None,
                       obligations=None) -> list[dict]:
    """One row per team, dataset and quarter owed (among the given quarters, or all that have ended):
    status, first accepted, deadline."""
    today = today or dt.datetime.now(dt.timezone.utc).date()
    by_key: dict[tuple, list] = {}
    for r in ledger.submissions(conn):
        if r.dataset is not None:
            by_key.setdefault((r.team_code, r.dataset, r.quarter), []).append(r)
    locked = locked_quarters(conn)
    rows = []
    for code, team in reference.teams().items():
        for quarter in quarters or owed_quarters(team, today):
            for dataset in contracts.datasets():
                if not owes(team, dataset, quarter, obligations):
                    continue
                mine = by_key.get((code, dataset, str(quarter)), [])
                accepted = [r for r in mine if r.status == Status.ACCEPTED]
                first = min((_aware(r.received_at) for r in accepted), default=None)
                if first is not None:
                    status = "accepted_late" if first.date() > quarter.deadline() else "accepted"
                elif any(r.status in NOT_ACCEPTED for r in mine):
                    status = "rejected"
                else:
                    status = "missing"
                rows.append({"team_code": code, "dataset": dataset, "quarter": str(quarter), "status": status,
                             "first_accepted_at": first, "deadline": quarter.deadline(),
                             "locked": str(quarter) in locked,
                             "last_rejected": next((r for r in reversed(mine) if r.status in NOT_ACCEPTED), None)})
    return rows


def completeness_indicators(statuses: list[dict], district_of: dict[str, str]) -> list[dict]:
    """reporting_rate and on_time_rate per team, district and nation, per quarter and year, by dataset
    and in total: rows shaped like national.indicators."""
    tallies: dict[tuple, list[int]] = {}
    for s in statuses:
        for level, area in (("team", s["team_code"]), ("district", district_of[s["team_code"]]), ("nation", "RS")):
            for period in (s["quarter"], s["quarter"][:4]):
                for category in (s["dataset"], "total"):
                    t = tallies.setdefault((level, area, period, category), [0, 0, 0])
                    t[0] += 1
                    t[1] += s["status"] in ("accepted", "accepted_late")
                    t[2] += s["status"] == "accepted"
    out = []
    for (level, area, period, category), (owed, received, on_time) in sorted(tallies.items()):
        breakdown = "total" if category == "total" else "dataset"
        for indicator, value in (("reporting_rate", received / owed), ("on_time_rate", on_time / owed)):
            out.append({"indicator": indicator, "level": level, "area_code": area, "period": period,
                        "breakdown": breakdown, "category": category, "value": value})
    return out
