"""Publishing: the latest accepted snapshot per team, dataset and quarter → national tables.

Only the team-quarters whose current submission differs from the published one are touched; then the
indicators of the years those quarters belong to are recomputed from the current snapshots. All of it
(facts, indicators, reference dimensions, the publications record) changes in one database
transaction: readers see the old figures or the new, never a mix, and a run that finds nothing new
changes nothing.
"""
from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import and_, delete, select

from thb_reporting.core import contracts, reference
from thb_reporting.figures import coverage, disclosure, indicators
from thb_reporting.figures.information_loss import information_loss, loss_lines
from thb_reporting.store.reporting_calendar import owed_submissions
from thb_reporting.publishing import exports, national_summary, research_export, transmissions
from thb_reporting.store import ledger, snapshots
from thb_reporting.core.config import PROTECTION_LEVEL, PipelineConfig
from thb_reporting.core.faults import fault_point
from thb_reporting.core.quarters import Quarter
from thb_reporting.store.snapshots import rows_of_snapshots
from thb_reporting.store.migrations import ensure_schema
from thb_reporting.store.warehouse import fact_table_name, hold_national_tables, insert_rows, reporting_engine, table

log = logging.getLogger(__name__)


def _replace(conn, name: str, rows: list[dict]) -> None:
    target = table(name)
    conn.execute(delete(target))
    if rows:
        conn.execute(target.insert(), rows)


def _refresh_reference(conn, quarters: set[str], teams: reference.TeamRegistry) -> None:
    """The dimensions: teams, districts, every code list, the quarters with data, the indicator catalogue."""
    _replace(conn, "teams", [
        {k: getattr(t, k) or None for k in ("municipality_code", "name_lat", "name_cyr", "district_code", "district_lat", "district_cyr")}
        for t in teams.values()])
    _replace(conn, "districts", list(reference.districts().values()))
    _replace(conn, "code_lists", [
        {"code_list": name, "code": c.code, "label_sr": c.label_sr, "label_en": c.label_en}
        for name, codes in reference.code_lists().items() for c in codes])
    _replace(conn, "quarters", [
        {"quarter": str(q), "year": q.year, "quarter_number": q.number, "start_date": q.start, "end_date": q.end,
         "deadline": q.deadline()} for q in sorted(Quarter.parse(x) for x in quarters)])
    _replace(conn, "indicator_catalogue", [
        {"indicator": name, "dataset": item["dataset"], "unit": item["unit"], "label_sr": item["sr"], "label_en": item["en"]}
        for name, item in indicators.catalogue().items()])


def _refresh_reporting_status(conn, teams: reference.TeamRegistry) -> None:
    """national.reporting_status and the completeness indicators, for every owed quarter (small: teams ×
    datasets × quarters), so that they follow the ledger and the calendar."""
    import pyarrow as pa

    from thb_reporting.store.reporting_calendar import completeness_indicators, reporting_statuses

    statuses = reporting_statuses(conn, teams)
    _replace(conn, "reporting_status", [{k: v for k, v in s.items() if k != "last_rejected"} for s in statuses])
    rows = completeness_indicators(statuses, {c: t.district_code for c, t in teams.items()})
    for name, extra in (("indicators", {}), ("public_indicators", {"suppressed": False})):  # rates: not sensitive
        target = table(name)
        conn.execute(delete(target).where(target.c.indicator.in_(["reporting_rate", "on_time_rate"])))
        if rows:  # COPY on PostgreSQL: an INSERT per row took 1.6 s of publish at 145 teams (65,000 rows)
            insert_rows(conn, target, pa.Table.from_pylist([r | extra for r in rows]))


def catalogue_frame():
    import pandas as pd

    return pd.DataFrame([{"indicator": k, "dataset": v["dataset"], "unit": v["unit"], "label_sr": v["sr"],
                          "label_en": v["en"], "breakdowns": ", ".join(v["breakdowns"])}
                         for k, v in indicators.catalogue().items()])


def _current(conn, dataset: str | None = None, years: set[str] | None = None) -> dict:
    """(dataset, team, quarter) → the current accepted submission (of the years given)."""
    current = ledger.current_submissions(conn, dataset)
    if years is not None:
        current = {k: r for k, r in current.items() if k[2][:4] in years}
    return current


def national_outputs(current: dict, years: set[str], threshold: int, teams: reference.TeamRegistry,
                     level: int = PROTECTION_LEVEL) -> dict:
    """Every indicator and export of the given years, computed from the accepted submissions `current`
    ((dataset, team, quarter) → its ledger row) of those years: the working figures (from the current
    submissions) and a release's (from its basis) are computed by this one function. Reads the snapshots;
    writes nothing."""
    current = {k: r for k, r in current.items() if k[2][:4] in years}
    facts = {}
    for dataset in contracts.datasets():
        rows = rows_of_snapshots(r for (d, _, _), r in sorted(current.items()) if d == dataset)
        facts[dataset] = rows.to_pandas() if rows is not None else None
    district_of = {code: t.district_code for code, t in teams.items()}
    quarters = [q for y in sorted(years) for q in coverage.quarters_of(y)]
    periods = set(years) | set(quarters)
    submitted_coverage = coverage.of_submissions(current, teams, periods, owed_submissions(teams, quarters))
    result = indicators.national_indicators(facts, district_of)
    result = coverage.annotate(result, submitted_coverage, teams,
                               {name: item["dataset"] for name, item in indicators.catalogue().items()})
    exact_crim = exports.crim_thb(facts["victims"], years, submitted_coverage)
    public, crim = disclosure.public_outputs(result, exact_crim, indicators.catalogue(), district_of,
                                             exports.crim_thb_margins(), threshold, level=level)
    loss = information_loss(result, public, exact_crim, crim, indicators.catalogue(), threshold)
    sdg = exports.sdg_16_2_2(public, years, teams.population)
    coverage_rows = (coverage.table_rows(submitted_coverage, coverage.not_in_files(current, periods), threshold)
                     if submitted_coverage else [])
    return {"indicators": public, "crim_thb": crim, "sdg": sdg, "facts": facts, "exact": result,
            "coverage": submitted_coverage, "coverage_rows": coverage_rows, "periods": periods,
            "information_loss": loss}


# working table → the key of national_outputs that holds its rows (release_tables.RELEASED_TABLES names their period)
OUTPUT_OF_TABLE = {"indicators": "exact", "public_indicators": "indicators", "export_crim_thb": "crim_thb",
                   "sdg_16_2_2": "sdg", "coverage": "coverage_rows"}


def _recompute_indicators(conn, years: set[str], threshold: int, teams: reference.TeamRegistry,
                          level: int = PROTECTION_LEVEL) -> dict:
    """Recompute every indicator and export of the given years from the current snapshots of those years
    into the working tables; returns the outputs, for the export files."""
    import pyarrow as pa

    from thb_reporting.store.release_tables import RELEASED_TABLES

    outputs = national_outputs(_current(conn), years, threshold, teams, level)
    periods = sorted(outputs["periods"])
    for name, column in RELEASED_TABLES.items():
        target, rows = table(name), outputs[OUTPUT_OF_TABLE[name]]
        conn.execute(delete(target).where(target.c[column].in_(periods)))
        if isinstance(rows, list):
            if rows:
                conn.execute(target.insert(), rows)
        else:
            insert_rows(conn, target, pa.Table.from_pandas(rows, preserve_index=False))
    return outputs


def publish(config: PipelineConfig, datasets: tuple[str, ...] | None = None, loss: list | None = None) -> dict:
    """Bring the national tables up to date with the ledger. Returns what changed per dataset; `loss`, if
    given, receives what disclosure control hid (information_loss rows), for the run's note."""

    engine = reporting_engine(config.reporting_db_url)
    ensure_schema(engine)
    snapshots.migrate(config.data_root, config.reporting_db_url)  # snapshots of the earlier layout, once
    pubs = table("publications")
    summary = {}
    with engine.begin() as conn:
        hold_national_tables(conn)  # one publisher at a time
        touched_years: set[str] = set()
        for dataset in datasets or contracts.datasets():
            facts = table(fact_table_name(dataset))
            current = {(t, q): r for (_, t, q), r in _current(conn, dataset).items()}
            published = {(r.team_code, r.quarter): r.submission_id
                         for r in conn.execute(select(pubs).where(pubs.c.dataset == dataset))}
            changed = sorted(k for k, r in current.items() if published.get(k) != r.submission_id)
            withdrawn = sorted(k for k in published if k not in current)
            for team, quarter in changed + withdrawn:
                conn.execute(delete(facts).where(and_(facts.c.team_code == team, facts.c.quarter == quarter)))
                if dataset == "victims":
                    by_team = table("victims_by_team_quarter")
                    conn.execute(delete(by_team).where(and_(by_team.c.team_code == team, by_team.c.quarter == quarter)))
                conn.execute(delete(pubs).where(pubs.c.dataset == dataset, pubs.c.team_code == team, pubs.c.quarter == quarter))
            rows = rows_of_snapshots(current[k] for k in changed)
            if rows is not None:
                insert_rows(conn, facts, rows)
                if dataset == "victims":
                    insert_rows(conn, table("victims_by_team_quarter"), indicators.victims_by_team_quarter(rows))
                now = dt.datetime.now(dt.timezone.utc)
                conn.execute(pubs.insert(), [
                    {"dataset": dataset, "team_code": t, "quarter": q, "submission_id": current[(t, q)].submission_id,
                     "published_at": now} for t, q in changed])
            touched_years |= {q[:4] for _, q in changed + withdrawn}
            summary[dataset] = {"changed": [list(k) for k in changed], "withdrawn": [list(k) for k in withdrawn],
                                "rows": 0 if rows is None else rows.num_rows}
        if not touched_years:
            _refresh_reporting_status(conn, config.teams)  # the calendar moves on even when nothing new arrives
            log.info("nothing new to publish")
            return summary
        computed = _recompute_indicators(conn, touched_years, config.suppression_threshold, config.teams,
                                         config.protection_level)
        _refresh_reference(conn, {r.quarter for r in conn.execute(select(pubs.c.quarter).distinct())}, config.teams)
        _refresh_reporting_status(conn, config.teams)
        fault_point("publish_before_commit")  # everything written, nothing committed
    # The files follow the committed tables; a failure here leaves the tables right and the next
    # publish of the year writes the files again.
    catalogue = catalogue_frame()
    not_sent = []  # a transmission that cannot be built fails the run, after every other file is written
    for year in sorted(touched_years):
        exports.write_files(config.data_root, year, computed["indicators"], computed["crim_thb"], computed["sdg"], catalogue)
        research_export.write_year(config.data_root, year, computed["facts"]["victims"], config.research_k,
                                   computed["coverage"].get(("victims", year)))
        try:
            transmissions.write_year(config.data_root, year, transmissions.TransmissionInputs(
                computed["facts"], computed["exact"], computed["coverage"], config.teams, config.suppression_threshold,
                public=computed["indicators"], level=config.protection_level))
        except transmissions.TransmissionsFailed as failure:
            not_sent.append(str(failure))
    national_summary.write_summaries(config, touched_years)  # reads the committed public indicators
    if not_sent:
        raise transmissions.TransmissionsFailed("; ".join(not_sent))
    for dataset, change in summary.items():
        log.info("%s: published %d team-quarters (%d rows), withdrew %d", dataset, len(change["changed"]),
                 change["rows"], len(change["withdrawn"]))
    log.info("indicators and exports of %s: %d indicator rows", ", ".join(sorted(touched_years)), len(computed["indicators"]))
    for line in loss_lines(computed["information_loss"]):
        log.info("information loss of %s: %s", ", ".join(sorted(touched_years)), line)
    if loss is not None:
        loss.extend(computed["information_loss"])
    return summary


def unpublished(config: PipelineConfig) -> list[tuple[str, str, str]]:
    """(dataset, team, quarter) whose current accepted submission is not the published one."""
    engine = reporting_engine(config.reporting_db_url)
    ensure_schema(engine, views=False)  # reads the ledger only: never waits on a publish replacing the views
    pubs = table("publications")
    with engine.connect() as conn:
        current = {k: r.submission_id for k, r in _current(conn).items()}
        published = {(r.dataset, r.team_code, r.quarter): r.submission_id for r in conn.execute(select(pubs))}
    return sorted(k for k in current.keys() | published.keys() if current.get(k) != published.get(k))
