"""The reporting calendar (DHIS2 is the model): which team owes which dataset for which quarter
(reference/reporting_obligations.csv), by when (the deadlines: quarters.py), and the status of each:
accepted (by the deadline), accepted_late, rejected (nothing accepted, something
rejected) or missing; with whether the quarter is locked. Reporting rate = accepted (on time or late) /
owed; on-time rate = accepted by the deadline / owed."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from functools import cache

from thb_reporting.core import contracts, reference
from thb_reporting.store import ledger
from thb_reporting.store.ledger import Status
from thb_reporting.store.locks import locked_quarters
from thb_reporting.core.quarters import Quarter

class ReportingStatus(StrEnum):
    """Where a team stands with a dataset it owes for a quarter (national.reporting_status.status)."""
    ACCEPTED = "accepted"
    ACCEPTED_LATE = "accepted_late"  # its first accepted file came after the deadline
    REJECTED = "rejected"  # only rejected (or failed) files so far
    MISSING = "missing"  # nothing received


STATUSES = tuple(s.value for s in ReportingStatus)
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


@dataclass(frozen=True)
class Obligation:
    """One line of reporting_obligations.csv; `*` matches every team or dataset; an empty first quarter
    means the team's active_since, an empty last quarter means open-ended. Later lines override earlier."""
    team_code: str
    dataset: str
    first_quarter: str
    last_quarter: str
    owes: bool


@cache
def reporting_obligations(teams: reference.TeamRegistry) -> tuple[Obligation, ...]:
    """reporting_obligations.csv, checked against the team registry in force (a configuration's)."""
    known_teams, known_datasets = set(teams), set(contracts.datasets())
    out = []
    for line, r in enumerate(reference.csv_rows("reporting_obligations.csv"), start=2):
        where = f"reporting_obligations.csv line {line}"
        if r["team_code"] != "*" and r["team_code"] not in known_teams:
            raise ValueError(f"{where}: team {r['team_code']!r} is not in teams.csv")
        if r["dataset"] != "*" and r["dataset"] not in known_datasets:
            raise ValueError(f"{where}: dataset {r['dataset']!r} is not one of {sorted(known_datasets)}")
        for column in ("first_quarter", "last_quarter"):
            if r[column]:
                Quarter.parse(r[column])
        if r["owes"] not in ("yes", "no"):
            raise ValueError(f"{where}: owes must be yes or no, not {r['owes']!r}")
        out.append(Obligation(r["team_code"], r["dataset"], r["first_quarter"], r["last_quarter"], r["owes"] == "yes"))
    return tuple(out)


def owed_quarters(team, today: dt.date) -> list[Quarter]:
    """The quarters a team may owe something for: from its first quarter to the last that has ended."""
    last = Quarter.containing(today).previous()
    quarter, out = Quarter.parse(team.active_since), []
    while quarter <= last:
        out.append(quarter)
        quarter = quarter.next()
    return out


def owes(team, dataset: str, quarter: Quarter, obligations: tuple[Obligation, ...]) -> bool:
    """Whether the team owes the dataset for the quarter: the last matching line of the obligations wins;
    nothing is owed before the team's first quarter, nor a dataset the unit does not report (registry)."""
    if quarter < Quarter.parse(team.active_since) or not team.reports(dataset):
        return False
    result = False
    for rule in obligations:
        if rule.team_code not in ("*", team.municipality_code) or rule.dataset not in ("*", dataset):
            continue
        if quarter < Quarter.parse(rule.first_quarter or team.active_since):
            continue
        if rule.last_quarter and quarter > Quarter.parse(rule.last_quarter):
            continue
        result = rule.owes
    return result


def owed_submissions(teams: reference.TeamRegistry, quarters) -> set[tuple[str, str, str]]:
    """(dataset, team, quarter) of every submission the calendar says is owed for the quarters given (whether or
    not the quarter has ended): coverage.of_submissions checks every quarter of a period against it."""
    obligations = reporting_obligations(teams)
    return {(dataset, code, str(q)) for q in map(Quarter.parse, quarters) for code, team in teams.items()
            for dataset in contracts.datasets() if owes(team, dataset, q, obligations)}


def _aware(stamp: dt.datetime) -> dt.datetime:
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.timezone.utc)


def reporting_statuses(conn, teams: reference.TeamRegistry, quarters: list[Quarter] | None = None,
                       today: dt.date | None = None, obligations: tuple[Obligation, ...] | None = None) -> list[dict]:
    """One row per team of the registry, dataset and quarter owed (among the given quarters, or all that
    have ended): status, first accepted, deadline. obligations: reporting_obligations.csv unless given."""
    obligations = reporting_obligations(teams) if obligations is None else obligations
    today = today or dt.datetime.now(dt.timezone.utc).date()
    by_key: dict[tuple, list] = {}
    for r in ledger.submissions(conn):
        if r.dataset is not None:
            by_key.setdefault((r.team_code, r.dataset, r.quarter), []).append(r)
    locked = locked_quarters(conn)
    rows = []
    for code, team in teams.items():
        for quarter in quarters or owed_quarters(team, today):
            for dataset in contracts.datasets():
                if not owes(team, dataset, quarter, obligations):
                    continue
                mine = by_key.get((code, dataset, str(quarter)), [])
                accepted = [r for r in mine if r.status == Status.ACCEPTED]
                first = min((_aware(r.received_at) for r in accepted), default=None)
                if first is not None:
                    status = ReportingStatus.ACCEPTED_LATE if first.date() > quarter.deadline() else ReportingStatus.ACCEPTED
                elif any(r.status in NOT_ACCEPTED for r in mine):
                    status = ReportingStatus.REJECTED
                else:
                    status = ReportingStatus.MISSING
                rows.append({"team_code": code, "dataset": dataset, "quarter": str(quarter), "status": status,
                             "first_accepted_at": first, "deadline": quarter.deadline(),
                             "locked": str(quarter) in locked,
                             "last_rejected": next((r for r in reversed(mine) if r.status in NOT_ACCEPTED), None)})
    return rows


def completeness_indicators(statuses: list[dict], district_of: dict[str, str]) -> list[dict]:
    """reporting_rate and on_time_rate per team, district and nation, per quarter and year, by dataset
    and in total: rows shaped like national.indicators. A unit without a district (the Centre) counts in
    its own team row and the nation's."""
    tallies: dict[tuple, list[int]] = {}
    for s in statuses:
        district = district_of.get(s["team_code"])
        areas = [("team", s["team_code"])] + ([("district", district)] if district else []) + [("nation", "RS")]
        for level, area in areas:
            for period in (s["quarter"], s["quarter"][:4]):
                for category in (s["dataset"], "total"):
                    t = tallies.setdefault((level, area, period, category), [0, 0, 0])
                    t[0] += 1
                    t[1] += s["status"] in (ReportingStatus.ACCEPTED, ReportingStatus.ACCEPTED_LATE)
                    t[2] += s["status"] == ReportingStatus.ACCEPTED
    out = []
    for (level, area, period, category), (owed, received, on_time) in sorted(tallies.items()):
        breakdown = "total" if category == "total" else "dataset"
        for indicator, value in (("reporting_rate", received / owed), ("on_time_rate", on_time / owed)):
            out.append({"indicator": indicator, "level": level, "area_code": area, "period": period,
                        "breakdown": breakdown, "category": category, "value": value})
    return out
