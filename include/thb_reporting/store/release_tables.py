"""The tables of official releases (schema `national`): a release of a period (a quarter or a year) is the
national figures as a person approved them, frozen. The working tables (national.indicators,
public_indicators, the exports, coverage) follow every accepted file; a release keeps a copy of the
period's rows of each, with its release_id, that nothing changes afterwards.

  national.releases            one row per candidate: period, provisional | final, state, who prepared and
                               decided it, when, their note, the release it revises
  national.release_basis       which submission of each team × dataset × quarter it was computed from
  national.release_revisions   each published cell whose value differs from the period's previous release,
                               with both values and the submissions that changed it
  national.release_<table>     the frozen rows of each working table in RELEASED_TABLES

The frozen tables are derived from the working tables (their columns, types and descriptions), so that a
column added to a working table is in its release copy too. Light (SQLAlchemy only)."""
from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

from sqlalchemy import Boolean, Column, DateTime, Float, Index, Integer, MetaData, Table, Text

SCHEMA = "national"

# working table → the column that names its period (a quarter 2026Q3, or a year 2026)
RELEASED_TABLES = {
    "indicators": "period",
    "public_indicators": "period",
    "export_crim_thb": "time",
    "sdg_16_2_2": "year",
    "coverage": "period",
}


class ReleaseState(StrEnum):
    """Where a candidate stands (national.releases.state)."""
    CANDIDATE = "candidate"  # prepared, waiting for the coordinator's decision
    RELEASED = "released"  # approved: the ministries' views show it
    REJECTED = "rejected"  # the approver refused it, with a reason; nothing was released
    LAPSED = "lapsed"  # nobody decided before the timeout, or a newer candidate of the period replaced it


class ReleaseStatus(StrEnum):
    """What a released figure is worth (national.releases.status)."""
    PROVISIONAL = "provisional"  # the quarter was not locked: late or corrected files may still revise it
    FINAL = "final"  # the quarter was locked (a year: each of its quarters' releases was final)


def frozen_name(table: str) -> str:
    return f"release_{table}"


def add_tables(md: MetaData, indicator_key: Callable[[], list[Column]]) -> None:
    """The release tables, into the warehouse's MetaData, after its working tables (copied from there)."""
    Table(
        "releases", md,
        Column("release_id", Integer, primary_key=True, autoincrement=True, comment="the release's number"),
        Column("period", Text, nullable=False, comment="a quarter (2026Q3) or a year (2026)"),
        Column("status", Text, nullable=False, comment="provisional | final"),
        Column("state", Text, nullable=False, comment="candidate | released | rejected | lapsed"),
        Column("prepared_at", DateTime(timezone=True), nullable=False, comment="when the candidate was computed"),
        Column("prepared_by", Text, nullable=False, comment="who asked for it: the deadline (schedule) or a person"),
        Column("decided_at", DateTime(timezone=True), comment="when it was approved or rejected"),
        Column("decided_by", Text, comment="the Airflow user who approved or rejected it"),
        Column("note", Text, comment="the approver's note; for a rejection, the reason"),
        Column("previous_release_id", Integer, comment="the period's release before it, that this one revises"),
        Column("candidate_report", Text, comment="the full candidate report (a file under <data_root>/releases/)"),
        Index("releases_period", "period"),
        schema=SCHEMA, comment="Releases of the national figures: each candidate, approved or not, and its decision",
    )
    Table(
        "release_basis", md,
        Column("release_id", Integer, primary_key=True, comment="the release"),
        Column("dataset", Text, primary_key=True, comment="the dataset"),
        Column("team_code", Text, primary_key=True, comment="the team"),
        Column("quarter", Text, primary_key=True, comment="the quarter"),
        Column("submission_id", Integer, nullable=False, comment="the accepted submission (ledger.submissions) used"),
        schema=SCHEMA, comment="The submissions each release was computed from",
    )
    Table(
        "release_revisions", md,
        Column("release_id", Integer, nullable=False, comment="the release that revises"),
        Column("previous_release_id", Integer, nullable=False, comment="the release whose figure it revises"),
        *indicator_key(),
        Column("previous_value", Float, comment="the value released before; empty where it was suppressed or absent"),
        Column("value", Float, comment="the value of this release; empty where suppressed or absent"),
        Column("previous_suppressed", Boolean, comment="the earlier release suppressed it"),
        Column("suppressed", Boolean, comment="this release suppresses it"),
        Column("reason", Text, nullable=False, comment="the submissions added, replaced or withdrawn behind it"),
        Index("release_revisions_release", "release_id"),
        schema=SCHEMA, comment="Every public figure a release changed against the period's previous release, and why",
    )
    for name in RELEASED_TABLES:
        working = md.tables[f"{SCHEMA}.{name}"]
        Table(
            frozen_name(name), md,
            Column("release_id", Integer, nullable=False, comment="the release the row belongs to (releases)"),
            *(Column(c.name, c.type, nullable=True, comment=c.comment) for c in working.columns),
            Index(f"{frozen_name(name)}_release", "release_id"),
            schema=SCHEMA, comment=f"{working.comment}, as each release froze it",
        )
