"""Locking a quarter: once the national coordinator locks it, its figures are final and re-submissions
are refused (archived, rejected with rule quarter_locked, the team told). Unlocking lets them in again.
Every lock and unlock is kept, with who and when."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from thb_reporting.quarters import Quarter
from thb_reporting.warehouse import ensure_schema, reporting_engine, table


def set_lock(db_url: str, quarter: str, locked: bool, by: str, reason: str = "") -> None:
    quarter = str(Quarter.parse(quarter))
    engine = reporting_engine(db_url)
    ensure_schema(engine)
    with engine.begin() as conn:
        conn.execute(table("quarter_locks", "ledger").insert().values(
            quarter=quarter, action="lock" if locked else "unlock", changed_by=by,
            changed_at=dt.datetime.now(dt.timezone.utc), reason=reason or None))


def locked_quarters(conn) -> set[str]:
    locks = table("quarter_locks", "ledger")
    latest = {}
    for r in conn.execute(select(locks).order_by(locks.c.changed_at)):
        latest[r.quarter] = r.action
    return {q for q, action in latest.items() if action == "lock"}
