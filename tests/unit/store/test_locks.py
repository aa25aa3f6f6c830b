"""Locking a quarter through the real lock_quarter DAG: re-submissions refused, archived and told; unlock
lets them through; every change recorded with who and when."""
from __future__ import annotations

import pytest

from fixtures import TEST_KEY
from helpers import ledger
from thb_reporting.tools.generator import SubmissionGenerator

pytestmark = pytest.mark.airflow


def test_locked_quarter_refuses_resubmissions_until_unlocked(tmp_path, monkeypatch, airflow_db, smtp_server):
    from sqlalchemy import select

    from thb_reporting.tools.airflow_runs import run_dag
    from thb_reporting.core.config import sqlite_url
    from thb_reporting.store.warehouse import reader_engine, table

    data = tmp_path / "data"
    port, mailbox = smtp_server
    monkeypatch.setenv("AIRFLOW_VAR_THB_DATA_ROOT", data.as_uri())
    monkeypatch.setenv("AIRFLOW_VAR_THB_PSEUDONYMISATION_KEY", TEST_KEY.decode())
    db = sqlite_url(data / "warehouse" / "reporting.sqlite")
    generator = SubmissionGenerator(data / "inbox", seed=8)
    generator.victims_file("nis", "2026Q2")
    assert run_dag("ingest_submissions").state == "success"

    lock = {"quarter": "2026Q2", "action": "lock", "requested_by": "Koordinatorka (test)", "reason": "final figures"}
    assert run_dag("lock_quarter", lock).state == "success"
    late = generator.victims_file("nis", "2026Q2", version=2)
    assert run_dag("ingest_submissions").state == "success"
    row = next(r for r in ledger(db) if r.file_name == late.file_name)
    assert row.status == "rejected" and "is locked" in row.summary and row.archive_path
    refusal = mailbox.received[-1][1]
    assert "2026Q2" in refusal.get_body(("plain",)).get_content() and "zaključeno" in refusal.get_body(("plain",)).get_content()

    assert run_dag("lock_quarter", lock | {"action": "unlock", "reason": "correction agreed"}).state == "success"
    again = generator.victims_file("nis", "2026Q2", version=3)
    assert run_dag("ingest_submissions").state == "success"
    assert next(r for r in ledger(db) if r.file_name == again.file_name).status == "accepted"
    locks = table("quarter_locks", "ledger")
    with reader_engine(db).connect() as conn:
        history = conn.execute(select(locks.c.quarter, locks.c.action, locks.c.changed_by, locks.c.reason)
                               .order_by(locks.c.changed_at)).all()
    assert [(q, a, r) for q, a, _, r in history] == [("2026Q2", "lock", "final figures"), ("2026Q2", "unlock", "correction agreed")]
    assert all(by.startswith("Koordinatorka (test)") for _, _, by, _ in history)


def test_lock_parameters_are_validated(airflow_db):
    from thb_reporting.tools.airflow_runs import run_dag

    with pytest.raises(Exception, match="does not match|pattern|2026Q9"):
        run_dag("lock_quarter", {"quarter": "2026Q9", "action": "lock", "requested_by": "Koordinator", "reason": ""})
