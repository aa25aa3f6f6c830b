"""The ledger module owns the submission lifecycle: received → accepted | rejected | failed, supersession,
findings in and out, failed attempts, quarter locks, notification state; on SQLite and PostgreSQL. And no
other module of the package writes SQL against the ledger's tables (but mail_ledger, the mailbox's part of
the ledger, and the outbox, for their own)."""
from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from thb_reporting.store import ledger, mail_ledger
from thb_reporting.store.ledger import LockAction, Notification, Status
from thb_reporting.core.findings import ERROR, WARNING, Finding
from thb_reporting.store.migrations import ensure_schema
from thb_reporting.store.warehouse import reporting_engine, table

T0 = dt.datetime(2026, 7, 1, 8, 0, tzinfo=dt.timezone.utc)


def _receive(conn, name: str, minutes: int, team: str = "nis", quarter: str = "2026Q2") -> int:
    return ledger.record_received(conn, team_code=team, dataset="victims", quarter=quarter, file_name=name,
                                  inbox_path=f"/inbox/{team}/{name}", content_sha256=f"sha-{name}", size_bytes=10,
                                  received_at=T0 + dt.timedelta(minutes=minutes), archive_path=f"/archive/{name}")


def test_lifecycle_through_the_ledger(reporting_db_url):
    engine = reporting_engine(reporting_db_url)
    ensure_schema(engine)
    with engine.begin() as conn:
        first, second, bad = (_receive(conn, n, i) for i, n in enumerate(("a.csv", "b.csv", "c.csv")))
        assert [r.submission_id for r in ledger.waiting(conn)] == [first, second, bad]
        assert ledger.waiting(conn, [second]).pop().submission_id == second
        known, seen = ledger.known_files(conn)
        assert ("nis", "a.csv", "sha-a.csv") in known and ("/inbox/nis/a.csv", 10, T0) in seen

        ledger.record_outcome(conn, first, Status.ACCEPTED, [Finding("history_outlier", WARNING, value="9")],
                              processed_at=T0, warning_count=1, rows_accepted=3, snapshot_path="/s/a", summary="ok")
        assert set(ledger.current_submissions(conn)) == {("victims", "nis", "2026Q2")}
        ledger.record_outcome(conn, second, Status.ACCEPTED, processed_at=T0, rows_accepted=4, snapshot_path="/s/b",
                              measure=4)
        findings = [Finding("unknown_code", ERROR, column="sex", row=3, value="x"), Finding("missing_value", ERROR, row=2)]
        ledger.record_outcome(conn, bad, Status.REJECTED, findings, processed_at=T0, error_count=2)

        current = ledger.current_submissions(conn)
        assert [r.submission_id for r in current.values()] == [second]  # the later accepted one replaces
        assert ledger.current_submissions(conn, "criminal_justice") == {}
        assert ledger.current_submissions(conn, team="beograd") == {}
        a, b, c = (ledger.submission(conn, i) for i in (first, second, bad))
        assert a.superseded_by == second and ledger.state_of(a) == ledger.SUPERSEDED and not ledger.is_current(a)
        assert ledger.state_of(b) == "accepted" and ledger.is_current(b)
        assert c.status == "rejected" and ledger.state_of(c) == "rejected"  # stored values as before
        assert ledger.submission(conn, 999_999) is None

        # findings: one conversion each way, in the order asked for
        assert ledger.findings_of(conn, bad) == sorted(findings, key=lambda f: f.rule)
        assert ledger.findings_of(conn, bad, order=("source_row",)) == [findings[1], findings[0]]
        assert ledger.findings_of(conn, first, ERROR) == []
        assert ledger.findings_of(conn, first) == [Finding("history_outlier", WARNING, value="9")]
        assert ledger.error_rules(conn, [first, bad]) == {bad: ["missing_value", "unknown_code"]}
        ledger.record_outcome(conn, bad, Status.REJECTED, findings[:1], error_count=1)  # findings are replaced
        assert ledger.findings_of(conn, bad) == findings[:1]

        # a file failing unexpectedly: attempts counted; failed only from received
        stuck = _receive(conn, "d.csv", 5)
        assert [ledger.record_attempt_failure(conn, stuck, "ValueError", T0) for _ in range(2)] == [1, 2]
        ledger.record_outcome(conn, stuck, Status.FAILED, [Finding("processing_failed", detail="ValueError")],
                              only_from=Status.RECEIVED, error_count=1)
        assert ledger.submission(conn, stuck).status == Status.FAILED
        ledger.record_outcome(conn, stuck, Status.ACCEPTED, only_from=Status.RECEIVED)
        assert ledger.submission(conn, stuck).status == "failed"  # no longer received: left as it is

        # notification state
        assert [r.submission_id for r in ledger.awaiting_notice(conn)] == [first, second, bad, stuck]
        ledger.set_notification(conn, bad, Notification.QUEUED)
        ledger.set_notification(conn, first, Notification.NO_CONTACT)
        assert [r.submission_id for r in ledger.awaiting_notice(conn)] == [second, stuck]
        ledger.set_notification(conn, bad, Notification.SENT)
        assert ledger.submission(conn, bad).notification == "sent"

        assert sorted(ledger.status_counts(conn)) == [("victims", "accepted", 2), ("victims", "failed", 1),
                                                      ("victims", "rejected", 1)]
        assert [tuple(r) for r in ledger.resubmissions(conn)] == [("nis", "victims", "2026Q2", 4, stuck)]
        assert [r.submission_id for r in ledger.submissions(conn, quarters=["2026Q3"])] == []
        assert [r.submission_id for r in ledger.submissions(conn, ids=[bad, first])] == [first, bad]

        ledger.set_snapshot_path(conn, second, "/snapshots/dataset=victims/b", unless_like="%/snapshots/dataset=%")
        ledger.set_snapshot_path(conn, second, "/elsewhere", unless_like="%/snapshots/dataset=%")
        assert ledger.submission(conn, second).snapshot_path == "/snapshots/dataset=victims/b"

        ledger.record_lock(conn, "2026Q2", LockAction.LOCK, "coordinator", T0, "final")
        ledger.record_lock(conn, "2026Q2", LockAction.UNLOCK, "coordinator", T0 + dt.timedelta(hours=1), None)
        assert ledger.lock_actions(conn) == [("2026Q2", "lock"), ("2026Q2", "unlock")]
    # the warehouse's copy of the tables is the same table (for create_all, the dictionary and migrations)
    assert [c.name for c in table("submissions", "ledger").columns] == [c.name for c in ledger.SUBMISSIONS.columns]
    assert [c.name for c in table("mail_messages", "ledger").columns] == [c.name for c in mail_ledger.MAIL_MESSAGES.columns]


def test_stored_values_are_unchanged():
    assert [s.value for s in Status] == ["received", "accepted", "rejected", "failed"]
    assert [n.value for n in Notification] == ["queued", "retrying", "sent", "no_contact"]
    assert set(ledger.PROCESSED) == {Status.ACCEPTED, Status.REJECTED, Status.FAILED}


PACKAGE = Path(ledger.__file__).parents[1]  # thb_reporting, every stage of it
# Modules allowed to name the ledger's tables: the ledger itself, its mailbox part (ledger.mail_messages), the
# teams' explanations of their submissions (ledger.explanations), and the outbox for its own rows. Alembic's
# revisions (migrations/versions) create and alter them, and are not read.
OWNERS = {"store/ledger.py", "store/mail_ledger.py", "store/explanations.py", "messaging/outbox.py"}
LEDGER_TABLES = ("submissions", "findings", "processing_attempts", "quarter_locks", "mail_messages", "explanations",
                 "outbox")
TABLE_OBJECTS = "SUBMISSIONS|FINDINGS|PROCESSING_ATTEMPTS|QUARTER_LOCKS|MAIL_MESSAGES|EXPLANATIONS|OUTBOX|METADATA"


# A ledger table named for warehouse.table, the ledger schema named, or the ledger's Table objects used or imported.
LEDGER_QUERY = re.compile(r"""table\(\s*["'](%s)["']|["']ledger["']\s*\)|schema\s*=\s*["']ledger["']|"""
                          r"""\b(?:mail_)?ledger\.(%s)\b|\bexplanations\.(%s)\b|\bimport\b.*\b(%s)\b"""
                          % ("|".join(LEDGER_TABLES), TABLE_OBJECTS, TABLE_OBJECTS, TABLE_OBJECTS))


def _offenders(name: str, text: str) -> list[str]:
    return [f"{name}:{number}: {line.strip()}" for number, line in enumerate(text.splitlines(), start=1)
            if LEDGER_QUERY.search(line)]


def test_no_other_module_queries_the_ledger():
    offenders = []
    paths = [p for p in sorted(PACKAGE.rglob("*.py")) if "versions" not in p.parts]
    assert {"store/ledger.py", "intake/ingest.py", "messaging/notifications.py"} <= {
        p.relative_to(PACKAGE).as_posix() for p in paths}  # the walk reaches every stage
    for path in paths:
        if (name := path.relative_to(PACKAGE).as_posix()) not in OWNERS:
            offenders += _offenders(name, path.read_text(encoding="utf-8"))
    assert offenders == []


def test_the_guard_above_finds_a_raw_query():
    """The search of the test above is not blind: it finds each way a module could reach a ledger table."""
    assert len(_offenders("m.py", """subs = table("submissions", "ledger")
t = table('findings', schema='ledger')
x = Table("outbox", md, schema="ledger")
rows = conn.execute(select(ledger.SUBMISSIONS))
mail = conn.execute(select(mail_ledger.MAIL_MESSAGES))
from thb_reporting.store.ledger import OUTBOX, Status
fine = table("indicators")
also_fine = ledger.findings_of(conn, 1)
still_fine = mail_ledger.mail_seen(conn, key)
from thb_reporting.store.ledger import Status""")) == 6
