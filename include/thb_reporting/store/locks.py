"""Locking a quarter: once the national coordinator locks it, its figures are final and re-submissions
are refused (archived, rejected with rule quarter_locked, the team told). Unlocking lets them in again.
Every lock and unlock is kept, with who and when."""
from __future__ import annotations

import datetime as dt

from thb_reporting.store import ledger
from thb_reporting.store.ledger import LockAction
from thb_reporting.core.quarters import Quarter
from thb_reporting.store.migrations import ensure_schema
from thb_reporting.store.warehouse import reporting_engine


def set_lock(db_url: str, quarter: str, locked: bool, by: str, reason: str = "") -> None:
    quarter = str(Quarter.parse(quarter))
    engine = reporting_engine(db_url)
    ensure_schema(engine)
    with engine.begin() as conn:
        ledger.record_lock(conn, quarter, LockAction.LOCK if locked else LockAction.UNLOCK, by,
                           dt.datetime.now(dt.timezone.utc), reason or None)


def locked_quarters(conn) -> set[str]:
    """The quarters locked now: the latest lock or unlock of each holds."""
    latest = dict(ledger.lock_actions(conn))
    return {q for q, action in latest.items() if action == LockAction.LOCK}
