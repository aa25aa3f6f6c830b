"""Rows appended to a fact table (warehouse.insert_rows: COPY on PostgreSQL, INSERT on SQLite) read back as
they were sent, the lineage's receipt times to the microsecond included."""
import datetime as dt

import pytest


@pytest.mark.parametrize("db", ["sqlite", "postgres"])
def test_appended_rows_read_back_as_sent(db, tmp_path, request):
    import pyarrow as pa
    from sqlalchemy import select

    from thb_reporting.core.config import sqlite_url
    from thb_reporting.store.migrations import ensure_schema
    from thb_reporting.store.warehouse import insert_rows, reporting_engine, table

    url = sqlite_url(tmp_path / "reporting.sqlite") if db == "sqlite" else request.getfixturevalue("pg_url")
    engine = reporting_engine(url)
    ensure_schema(engine)
    target = table("victims")
    first = dt.datetime(2026, 10, 3, 23, 59, 58, 123456, tzinfo=dt.timezone.utc)
    second = dt.datetime(2026, 10, 4, 0, 0, 1, 7, tzinfo=dt.timezone.utc)
    third = dt.datetime(2027, 1, 1, 0, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))  # 23:00 UTC the day before
    times = [first, second, first, third, second]
    rows = pa.table({
        "submission_id": pa.array([1, 2, 1, 3, 2], pa.int32()),
        "team_code": ["nis", "kraljevo", "nis", "novi_sad", "kraljevo"],
        "received_at": pa.array(times, pa.timestamp("us", tz="UTC")),
        "status": ["identified_victim", "presumed_victim", None, "identified_victim", 'a "quoted", text'],
    })
    with engine.begin() as conn:
        assert insert_rows(conn, target, rows) == 5
    with engine.connect() as conn:
        back = conn.execute(select(target.c.submission_id, target.c.received_at, target.c.status)).all()

    def utc(t):  # SQLite gives the time without its zone, as stored in UTC
        return t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)

    def in_order(found):
        return sorted(found, key=lambda r: (r[0], r[2] is None, r[2] or ""))

    sent = zip(rows["submission_id"].to_pylist(), times, rows["status"].to_pylist())
    assert in_order((s, utc(t), status) for s, t, status in back) == in_order(sent)
