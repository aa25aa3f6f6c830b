"""Official releases: a period's national figures, prepared as a candidate, approved or rejected by a
person, then frozen (docs/releases.md).

    prepare(config, period, status, by)  ──►  candidate ──► released   (decide: approved, by whom, note)
                                                       ├─► rejected   (decide: not approved; a reason is required)
                                                       └─► lapsed     (nobody decided in time, or a newer candidate)

A candidate is computed from its *basis*: for a quarter, the current accepted submission of each team ×
dataset of that quarter, and for the other quarters of its year the basis of their latest releases (so
that a quarter's release and its year's are computed from the same submissions and suppress alike); for
a year, the bases of the latest releases of its quarters. The period's rows of every output are frozen
into national.release_<table> when the candidate is prepared, so that what the approver saw is what is
released. Files for the public and the receivers are written per release when it is approved
(release_files). The working tables are never touched here."""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass

from sqlalchemy import func, select, update

from thb_reporting.core import clock, reference
from thb_reporting.core.config import PipelineConfig
from thb_reporting.core.quarters import Quarter
from thb_reporting.figures import indicators
from thb_reporting.store import ledger
from thb_reporting.store.locks import locked_quarters
from thb_reporting.store.migrations import ensure_schema
from thb_reporting.store.release_tables import RELEASED_TABLES, ReleaseState, ReleaseStatus, frozen_name
from thb_reporting.store.warehouse import hold_national_tables, reporting_engine, table

log = logging.getLogger(__name__)
CELL = ("indicator", "level", "area_code", "period", "breakdown", "category")  # national.public_indicators' key


class ReleaseRefused(ValueError):
    """A candidate cannot be prepared or decided as asked; the message says why and what to do."""


@dataclass(frozen=True)
class Period:
    """A period that can be released: a quarter (2026Q3) or a year (2026)."""
    code: str

    @classmethod
    def parse(cls, code: str) -> Period:
        code = code.strip().upper()
        if len(code) == 4 and code.isdigit():
            return cls(code)
        try:
            return cls(str(Quarter.parse(code)))
        except ValueError:
            raise ReleaseRefused(f"{code!r} is not a period: write a quarter (2026Q3) or a year (2026)") from None

    @property
    def is_year(self) -> bool:
        return "Q" not in self.code

    @property
    def year(self) -> str:
        return self.code[:4]

    @property
    def quarters(self) -> list[str]:
        return [f"{self.year}Q{n}" for n in range(1, 5)] if self.is_year else [self.code]


# --- reading releases ---------------------------------------------------------------------------------
def release(conn, release_id: int):
    releases = table("releases")
    return conn.execute(select(releases).where(releases.c.release_id == release_id)).first()


def latest_released(conn, period: str):
    """The period's release the ministries read now (the newest approved one), or None."""
    releases = table("releases")
    return conn.execute(select(releases).where(releases.c.period == period, releases.c.state == ReleaseState.RELEASED.value)
                        .order_by(releases.c.release_id.desc()).limit(1)).first()


def releases_in_force(conn) -> list:
    """The latest approved release of each period (what the ministries read now)."""
    releases = table("releases")
    newest = (select(releases.c.period, func.max(releases.c.release_id).label("release_id"))
              .where(releases.c.state == ReleaseState.RELEASED.value).group_by(releases.c.period).subquery())
    return conn.execute(select(releases).join(newest, releases.c.release_id == newest.c.release_id)
                        .order_by(releases.c.period)).all()


def basis_of(conn, release_id: int, quarters: list[str] | None = None) -> dict[tuple[str, str, str], int]:
    """(dataset, team, quarter) → submission_id, of a release (its quarters given only)."""
    basis = table("release_basis")
    query = select(basis).where(basis.c.release_id == release_id)
    if quarters is not None:
        query = query.where(basis.c.quarter.in_(quarters))
    return {(r.dataset, r.team_code, r.quarter): r.submission_id for r in conn.execute(query)}


def frozen_public_cells(conn, release_id: int) -> dict[tuple, tuple[float | None, bool]]:
    """A release's public figures: cell key → (value, suppressed)."""
    frozen = table(frozen_name("public_indicators"))
    return {tuple(getattr(r, c) for c in CELL): (r.value, bool(r.suppressed))
            for r in conn.execute(select(frozen).where(frozen.c.release_id == release_id))}


# --- preparing a candidate ----------------------------------------------------------------------------
def _basis(conn, period: Period) -> dict:
    """(dataset, team, quarter) → ledger row of the submissions a candidate of the period is computed from."""
    released = {q: latest_released(conn, q) for q in [f"{period.year}Q{n}" for n in range(1, 5)]}
    ids: dict[tuple[str, str, str], int] = {}
    for q, r in released.items():
        if r is not None and (period.is_year or q != period.code):
            ids |= basis_of(conn, r.release_id, [q])
    if not period.is_year:
        ids |= {k: r.submission_id for k, r in ledger.current_submissions(conn).items() if k[2] == period.code}
    rows = {r.submission_id: r for r in ledger.submissions(conn, ids=list(ids.values()))} if ids else {}
    return {k: rows[i] for k, i in ids.items()}


def _check_status(conn, period: Period, status: ReleaseStatus) -> None:
    if status != ReleaseStatus.FINAL:
        return
    if not period.is_year:
        if period.code not in locked_quarters(conn):
            raise ReleaseRefused(f"{period.code} is not locked, so its figures can still change: lock it first "
                                 f"(DAG lock_quarter), or release it as provisional")
        return
    not_final = [q for q in period.quarters
                 if (r := latest_released(conn, q)) is None or r.status != ReleaseStatus.FINAL.value]
    if not_final:
        raise ReleaseRefused(f"the year {period.code} can be final only when each of its quarters has a final "
                             f"release; not yet: {', '.join(not_final)}")


def _period_rows(outputs: dict, name: str, period: Period) -> list[dict]:
    """The rows of one working table's output that belong to the period (as dicts)."""
    from thb_reporting.publishing.publish import OUTPUT_OF_TABLE

    rows = outputs[OUTPUT_OF_TABLE[name]]
    column = RELEASED_TABLES[name]
    if not isinstance(rows, list):
        rows = rows.astype(object).where(rows.notna(), None).to_dict("records")
    return [r for r in rows if str(r[column]) == period.code]


def _completeness_rows(conn, period: Period, teams: reference.TeamRegistry) -> tuple[list[dict], list[dict]]:
    """The reporting rates of the period as they stand (national.indicators' rows), and the statuses."""
    from thb_reporting.store.reporting_calendar import completeness_indicators, reporting_statuses

    statuses = reporting_statuses(conn, teams, [Quarter.parse(q) for q in period.quarters])
    rows = completeness_indicators(statuses, {c: t.district_code for c, t in teams.items()})
    return [r for r in rows if r["period"] == period.code], statuses


def _same(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=0, abs_tol=1e-9)


def basis_changes(before: dict, after: dict) -> list[dict]:
    """What changed between two bases ((dataset, team, quarter) → submission_id): added, replaced, withdrawn."""
    changes = []
    for key in sorted(before.keys() | after.keys()):
        old, new = before.get(key), after.get(key)
        if old != new:
            kind = "added" if old is None else "withdrawn" if new is None else "replaced"
            changes.append({"dataset": key[0], "team_code": key[1], "quarter": key[2], "change": kind,
                            "previous_submission": old, "submission": new})
    return changes


def _reason(change: dict) -> str:
    if change["change"] == "added":
        return f"{change['team_code']} {change['dataset']} {change['quarter']}: submission {change['submission']} added"
    if change["change"] == "withdrawn":
        return (f"{change['team_code']} {change['dataset']} {change['quarter']}: submission "
                f"{change['previous_submission']} withdrawn")
    return (f"{change['team_code']} {change['dataset']} {change['quarter']}: submission {change['previous_submission']} "
            f"replaced by {change['submission']}")


def revisions(before: dict, after: dict, changes: list[dict], teams: reference.TeamRegistry) -> list[dict]:
    """Each public cell whose value or suppression differs between two releases of a period, with the
    submissions behind it: those of the cell's dataset, of the team (a team's cell), of the district's
    teams (a district's), or all (the nation's)."""
    catalogue = indicators.catalogue()
    district_of = {c: t.district_code for c, t in teams.items()}
    out = []
    for key in sorted(before.keys() | after.keys()):
        (old, old_hidden), (new, new_hidden) = before.get(key, (None, None)), after.get(key, (None, None))
        if _same(old, new) and old_hidden == new_hidden:
            continue
        cell = dict(zip(CELL, key))
        dataset = catalogue.get(cell["indicator"], {}).get("dataset")
        behind = [c for c in changes if c["dataset"] == dataset and (
            cell["level"] == "nation" or (cell["level"] == "team" and c["team_code"] == cell["area_code"])
            or (cell["level"] == "district" and district_of.get(c["team_code"]) == cell["area_code"]))]
        if behind:
            reason = "; ".join(_reason(c) for c in behind)
        elif dataset in (None, "calendar"):  # the reporting and on-time rates follow the ledger, not a basis
            reason = "the reporting calendar: files received or accepted since"
        else:
            reason = "disclosure control: a change elsewhere changed which figures are suppressed"
        out.append({**cell, "previous_value": None if old_hidden else old, "value": None if new_hidden else new,
                    "previous_suppressed": old_hidden, "suppressed": new_hidden, "reason": reason})
    return out


def prepare(config: PipelineConfig, period: str, status: str = ReleaseStatus.PROVISIONAL.value,
            prepared_by: str = "schedule") -> dict:
    """Compute and freeze a release candidate of the period; returns its summary (release_candidate_report)."""
    from thb_reporting.publishing.publish import national_outputs
    from thb_reporting.publishing.release_report import candidate_summary, write_candidate_report

    p = Period.parse(period)
    wanted = ReleaseStatus(status)
    engine = reporting_engine(config.reporting_db_url)
    ensure_schema(engine)
    releases = table("releases")
    with engine.begin() as conn:
        hold_national_tables(conn)  # as publish does: one writer of the national tables at a time
        _check_status(conn, p, wanted)
        basis = _basis(conn, p)
        if not any(k[2] in p.quarters for k in basis):
            raise ReleaseRefused(f"{p.code} has nothing to release: no accepted submission"
                                 + (" in a released quarter (release its quarters first)" if p.is_year else ""))
        outputs = national_outputs(basis, {p.year}, config.suppression_threshold, config.teams, config.protection_level)
        rates, statuses = _completeness_rows(conn, p, config.teams)
        previous = latest_released(conn, p.code)
        now = clock.now()
        conn.execute(update(releases).where(releases.c.period == p.code, releases.c.state == ReleaseState.CANDIDATE.value)
                     .values(state=ReleaseState.LAPSED.value, decided_at=now, note="replaced by a newer candidate"))
        release_id = conn.execute(releases.insert().values(
            period=p.code, status=wanted.value, state=ReleaseState.CANDIDATE.value, prepared_at=now,
            prepared_by=prepared_by, previous_release_id=previous.release_id if previous else None)
            .returning(releases.c.release_id)).scalar_one()
        conn.execute(table("release_basis").insert(), [
            {"release_id": release_id, "dataset": d, "team_code": t, "quarter": q, "submission_id": r.submission_id}
            for (d, t, q), r in sorted(basis.items())])
        for name in RELEASED_TABLES:
            rows = _period_rows(outputs, name, p)
            if name in ("indicators", "public_indicators"):
                rows += [r | ({"suppressed": False} if name == "public_indicators" else {}) for r in rates]
            if rows:
                frozen = table(frozen_name(name))
                conn.execute(frozen.insert(), [{c.name: r.get(c.name) for c in frozen.columns} | {"release_id": release_id}
                                               for r in rows])
        changes, revised = [], []
        if previous is not None:
            changes = basis_changes(basis_of(conn, previous.release_id, p.quarters),
                                    {k: r.submission_id for k, r in basis.items() if k[2] in p.quarters})
            revised = revisions(frozen_public_cells(conn, previous.release_id), frozen_public_cells(conn, release_id),
                                changes, config.teams)
            if revised:
                conn.execute(table("release_revisions").insert(), [
                    {"release_id": release_id, "previous_release_id": previous.release_id, **r} for r in revised])
        summary = candidate_summary(conn, release_id, p, wanted, previous, changes, revised, statuses, basis)
        report = write_candidate_report(config.data_root, summary)
        conn.execute(update(releases).where(releases.c.release_id == release_id).values(candidate_report=str(report)))
    summary["candidate_report"] = str(report)
    log.info("release candidate %d of %s (%s): %d figures, %d revised", release_id, p.code, wanted.value,
             summary["figures"], len(revised))
    return summary


# --- deciding -----------------------------------------------------------------------------------------
def decide(config: PipelineConfig, release_id: int, approved: bool, by: str, note: str = "") -> dict:
    """Approve (release) or reject a candidate. A rejection needs a reason; a candidate decided already, or
    a final one whose quarter was unlocked since, is refused. The caller then writes the release's files
    (release_files.write_release_files) once this is committed."""
    note = (note or "").strip()
    if not approved and len(note) < 3:
        raise ReleaseRefused(f"release candidate {release_id}: a rejection needs a reason (a few words)")
    engine = reporting_engine(config.reporting_db_url)
    ensure_schema(engine)
    releases = table("releases")
    with engine.begin() as conn:
        row = release(conn, release_id)
        if row is None:
            raise ReleaseRefused(f"there is no release candidate {release_id}")
        if row.state != ReleaseState.CANDIDATE.value:
            raise ReleaseRefused(f"release candidate {release_id} of {row.period} is {row.state} already")
        if approved:
            _check_status(conn, Period.parse(row.period), ReleaseStatus(row.status))
        state = ReleaseState.RELEASED if approved else ReleaseState.REJECTED
        conn.execute(update(releases).where(releases.c.release_id == release_id).values(
            state=state.value, decided_at=clock.now(), decided_by=by, note=note or None))
    outcome = {"release_id": release_id, "period": row.period, "status": row.status, "state": state.value,
               "decided_by": by, "note": note}
    log.info("release candidate %d of %s: %s by %s", release_id, row.period, state.value, by)
    return outcome


def lapse(config: PipelineConfig, release_id: int, why: str) -> bool:
    """A candidate nobody decided (the approval timed out, or the run failed): lapsed, never released."""
    releases = table("releases")
    with reporting_engine(config.reporting_db_url).begin() as conn:
        done = conn.execute(update(releases).where(releases.c.release_id == release_id,
                                                   releases.c.state == ReleaseState.CANDIDATE.value)
                            .values(state=ReleaseState.LAPSED.value, decided_at=clock.now(), note=why)).rowcount
    return bool(done)


def due_period(config: PipelineConfig, today=None) -> str | None:
    """The quarter whose deadline passed last, when it has no candidate or release yet (the schedule's
    candidate); None otherwise (the coordinator prepares any other by hand)."""
    today = today or clock.now().date()
    quarter = Quarter.containing(today).previous()
    while quarter.deadline() >= today:
        quarter = quarter.previous()
    engine = reporting_engine(config.reporting_db_url)
    ensure_schema(engine)
    releases = table("releases")
    with engine.connect() as conn:
        done = conn.execute(select(releases.c.release_id).where(releases.c.period == str(quarter))).first()
    return None if done else str(quarter)


def release_list(conn) -> list:
    releases = table("releases")
    return conn.execute(select(releases).order_by(releases.c.release_id)).all()


def released_count(conn) -> int:
    releases = table("releases")
    return conn.execute(select(func.count()).select_from(releases)
                        .where(releases.c.state == ReleaseState.RELEASED.value)).scalar_one()

