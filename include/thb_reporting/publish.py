"""Publishing: the latest accepted snapshot per team, dataset and quarter → national tables.

Only the team-quarters whose current submission differs from the published one are touched, and all
of it (facts, indicators, the publications record) changes in one database transaction: readers see
the old figures or the new, never a mix, and a run that finds nothing new changes nothing.
"""
from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import and_, delete, select, text

from thb_reporting import contracts, indicators, reference
from thb_reporting.config import PipelineConfig
from thb_reporting.storage import storage_path
from thb_reporting.warehouse import (
    LINEAGE, ensure_schema, fact_table_name, insert_rows, is_postgres, reporting_engine, table,
)

log = logging.getLogger(__name__)


def _read_snapshot(path: str):
    import pyarrow.parquet as pq

    with storage_path(path).open("rb") as f:
        return pq.read_table(f)


def _with_lineage(rows, sub):
    import pyarrow as pa

    n = rows.num_rows
    lineage = {
        "submission_id": pa.repeat(pa.scalar(sub.submission_id, pa.int32()), n),
        "team_code": pa.repeat(pa.scalar(sub.team_code, pa.string()), n),
        "quarter": pa.repeat(pa.scalar(sub.quarter, pa.string()), n),
        "file_sha256": pa.repeat(pa.scalar(sub.content_sha256, pa.string()), n),
        "received_at": pa.repeat(pa.scalar(sub.received_at, pa.timestamp("us", tz="UTC")), n),
    }
    out = rows
    for name, _ in reversed(LINEAGE):
        if name in lineage:
            out = out.add_column(0, name, lineage[name])
    return out


def _refresh_teams(conn) -> None:
    teams = table("teams")
    conn.execute(delete(teams))
    conn.execute(teams.insert(), [
        {k: getattr(t, k) for k in ("municipality_code", "name_lat", "name_cyr", "district_code", "district_lat", "district_cyr")}
        for t in reference.teams().values()
    ])


def publish(config: PipelineConfig, dataset: str = "victims") -> dict:
    """Bring the national tables of `dataset` up to date with the ledger. Returns what changed."""
    import pyarrow as pa

    engine = reporting_engine(config.reporting_db_url)
    ensure_schema(engine)
    subs, pubs = table("submissions", "ledger"), table("publications")
    facts = table(fact_table_name(dataset))
    with engine.begin() as conn:
        if is_postgres(conn):
            conn.execute(text("SELECT pg_advisory_xact_lock(4242002)"))  # one publisher at a time
        current = {(r.team_code, r.quarter): r for r in conn.execute(
            select(subs).where(subs.c.dataset == dataset, subs.c.status == "accepted", subs.c.superseded_by.is_(None))
        )}
        published = {(r.team_code, r.quarter): r.submission_id
                     for r in conn.execute(select(pubs).where(pubs.c.dataset == dataset))}
        changed = sorted(k for k, r in current.items() if published.get(k) != r.submission_id)
        withdrawn = sorted(k for k in published if k not in current)
        if not changed and not withdrawn:
            log.info("%s: nothing new to publish", dataset)
            return {"dataset": dataset, "changed": [], "withdrawn": [], "rows": 0}
        parts = [_with_lineage(_read_snapshot(current[k].snapshot_path), current[k]) for k in changed]
        rows = pa.concat_tables(parts) if parts else None
        for team, quarter in changed + withdrawn:
            key = dict(team_code=team, quarter=quarter)
            conn.execute(delete(facts).where(and_(*(facts.c[c] == v for c, v in key.items()))))
            if dataset == "victims":
                by_team = table("victims_by_team_quarter")
                conn.execute(delete(by_team).where(and_(*(by_team.c[c] == v for c, v in key.items()))))
            conn.execute(delete(pubs).where(pubs.c.dataset == dataset, pubs.c.team_code == team, pubs.c.quarter == quarter))
        if rows is not None:
            insert_rows(conn, facts, rows)
            if dataset == "victims":
                insert_rows(conn, table("victims_by_team_quarter"), indicators.victims_by_team_quarter(rows))
        now = dt.datetime.now(dt.timezone.utc)
        if changed:
            conn.execute(pubs.insert(), [
                {"dataset": dataset, "team_code": t, "quarter": q, "submission_id": current[(t, q)].submission_id,
                 "published_at": now} for t, q in changed
            ])
        _refresh_teams(conn)
    log.info("%s: published %d team-quarters (%d rows), withdrew %d", dataset, len(changed),
             0 if rows is None else rows.num_rows, len(withdrawn))
    return {"dataset": dataset, "changed": [list(k) for k in changed], "withdrawn": [list(k) for k in withdrawn],
            "rows": 0 if rows is None else rows.num_rows}


def unpublished(config: PipelineConfig) -> list[tuple[str, str, str]]:
    """(dataset, team, quarter) whose current accepted submission is not the published one."""
    engine = reporting_engine(config.reporting_db_url)
    ensure_schema(engine)
    subs, pubs = table("submissions", "ledger"), table("publications")
    with engine.connect() as conn:
        current = {(r.dataset, r.team_code, r.quarter): r.submission_id for r in conn.execute(
            select(subs).where(subs.c.status == "accepted", subs.c.superseded_by.is_(None)))}
        published = {(r.dataset, r.team_code, r.quarter): r.submission_id for r in conn.execute(select(pubs))}
    return sorted(k for k in current.keys() | published.keys() if current.get(k) != published.get(k))


def publish_all(config: PipelineConfig) -> list[dict]:
    return [publish(config, dataset) for dataset in contracts.datasets()]
