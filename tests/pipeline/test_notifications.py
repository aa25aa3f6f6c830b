"""E-mails to the teams and the coordinator, received by a real SMTP server on loopback (aiosmtpd)."""
from __future__ import annotations

import csv
import datetime as dt
import email
import email.policy
import io
import os

from helpers import external_references, findings, ledger
from oracle import Truth
from thb_reporting.core import contracts, reference
from thb_reporting.intake import ingest
from thb_reporting.tools.generator import VALID_JMBG
from thb_reporting.messaging.notifications import queue_submission_notices, queue_weekly_digest
from thb_reporting.messaging.outbox import FolderSender, SmtpSender, deliver_outbox
from thb_reporting.store.warehouse import reporting_engine, table

TEAMS = ["subotica", "nis", "vranje"]
PLANTS = {("subotica", "2026Q3"): "unknown_code", ("nis", "2026Q3"): "jmbg",
          ("vranje", "2026Q3", "programmes"): "end_before_start", ("nis", "2026Q3", "activities"): "extra_column"}


def _parts(message) -> list[str]:
    """Every part of a message as text, attachments included."""
    texts = []
    for part in message.walk():
        if part.is_multipart():
            continue
        payload = part.get_payload(decode=True) or b""
        texts.append(payload.decode("utf-8", errors="replace"))
    return texts


def _process(config, generator):
    truth = Truth(generator.scenario(TEAMS, ["2026Q3"], PLANTS, datasets=contracts.datasets()))
    ingest.process_submissions(config, ingest.collect_new_submissions(config))
    return truth


def test_a_delivery_sends_over_one_connection_and_nothing_due_looks_up_none(config, generator, smtp_server):
    port, mailbox = smtp_server
    truth = _process(config, generator)
    queue_submission_notices(config)
    made = []

    def sender():  # as the DAG's notify_teams hands it: the connection is looked up when a message is due
        made.append(SmtpSender())
        return made[-1]

    assert deliver_outbox(config, sender) == {"sent": len(truth.files), "failed": 0}
    assert len(mailbox.received) == len(truth.files) and len(mailbox.sessions) == 1 and len(made) == 1
    assert deliver_outbox(config, sender) == {"sent": 0, "failed": 0} and len(made) == 1  # nothing due: no sender
    assert ledger_notifications(config) == {"sent"}


def ledger_notifications(config) -> set:
    return {r.notification for r in ledger(config.reporting_db_url)}


def test_figures_computed_in_groups_of_any_size_are_the_same(config, generator):
    """The receipts' figures are computed for groups of files of at most FIGURES_BATCH_ROWS accepted rows,
    so that notify's memory does not grow with the files waiting: any grouping gives the same figures."""
    from thb_reporting.messaging import notifications
    from thb_reporting.store import ledger as ledger_store

    _process(config, generator)
    with reporting_engine(config.reporting_db_url).connect() as conn:
        waiting = ledger_store.awaiting_notice(conn)
    whole = notifications._figures_of(waiting)
    assert sum(bool(f) for f in whole.values()) > 5
    for limit in (1, 40, 10**9):
        groups = list(notifications._by_rows(waiting, limit))
        assert [s for g in groups for s in g] == waiting
        in_groups = {}
        for group in groups:
            in_groups |= notifications._figures_of(group)
        assert in_groups == whole, limit
    assert len(list(notifications._by_rows(waiting, 1))) == len(waiting)


def test_every_processed_submission_gets_one_correct_email(config, generator, smtp_server, monkeypatch):
    from thb_reporting.messaging import notifications

    monkeypatch.setattr(notifications, "FIGURES_BATCH_ROWS", 40)  # the figures of a few files at a time
    port, mailbox = smtp_server
    truth = _process(config, generator)
    assert queue_submission_notices(config) == len(truth.files)
    assert deliver_outbox(config, SmtpSender()) == {"sent": len(truth.files), "failed": 0}
    assert len(mailbox.received) == len(truth.files)

    by_file = {(r.team_code, r.file_name): r for r in ledger(config.reporting_db_url)}
    all_findings = findings(config.reporting_db_url)
    seen_ids = set()
    for recipients, message in mailbox.received:
        sid = int(message["Message-ID"].split("-")[1])
        seen_ids.add(sid)
        sub = next(r for r in by_file.values() if r.submission_id == sid)
        assert recipients == list(reference.teams()[sub.team_code].contact_emails)
        text = message.get_body(("plain",)).get_content()
        html = message.get_body(("html",)).get_content()
        assert text.index("Vaš fajl") < text.index("Your file")  # Serbian first, English below
        assert 'lang="sr"' in html and 'lang="en"' in html
        assert sub.file_name in text and sub.content_sha256 in text
        if sub.status == "accepted":
            assert message["Subject"].startswith("[THB] Prihvaćeno / Accepted")
            assert "Your figures as they will be published" in text
        else:
            assert message["Subject"].startswith("[THB] Odbijeno / Rejected")
            mine = [f for f in all_findings if f.submission_id == sid]
            attached = {a.get_filename(): a.get_content() for a in message.iter_attachments()}
            csv_name = next(n for n in attached if n.endswith(".csv"))
            rows = list(csv.DictReader(io.StringIO(attached[csv_name].lstrip("\ufeff"))))
            assert len(rows) == len(mine)  # every failing row, in the CSV
            for f in mine:
                if f.source_row:
                    assert f"row {f.source_row}" in text and f"red {f.source_row}" in text
            if sub.dataset == "victims" and sub.team_code == "subotica":
                assert "nepoznato" in text and "kolona D (Status)" in text and "column D (Status)" in text
                report = next(v for n, v in attached.items() if n.endswith(".html"))  # the validation report
                assert 'data-rule="code_list"' in report and "Kako ispraviti" in report and "How to fix" in report
        # self-contained: no part loads anything from elsewhere
        for part in message.walk():
            if part.get_content_type() == "text/html":
                assert external_references(part.get_content()) == [], (sub.file_name, part.get_filename())
        # nothing that could identify a person, in any part
        for part in _parts(message):
            for secret in [VALID_JMBG, "osoba.primer@example.org", "Marko", *truth.references()]:
                assert secret not in part, (sub.file_name, secret)
    assert seen_ids == {r.submission_id for r in by_file.values()}
    # the ledger shows it, and nothing is sent twice
    assert {r.notification for r in ledger(config.reporting_db_url)} == {"sent"}
    assert queue_submission_notices(config) == 0
    assert deliver_outbox(config, SmtpSender()) == {"sent": 0, "failed": 0}
    assert len(mailbox.received) == len(truth.files)


def test_smtp_down_loses_nothing_and_sends_each_once_later(config, generator, smtp_server, monkeypatch):
    from fixtures import free_port, plain_smtp

    port, mailbox = smtp_server
    truth = _process(config, generator)
    queue_submission_notices(config)
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DOWN", plain_smtp(free_port(), timeout=2))  # nothing listens there
    down = SmtpSender("smtp_down")
    assert deliver_outbox(config, down) == {"sent": 0, "failed": len(truth.files)}
    outbox = table("outbox", "ledger")
    with reporting_engine(config.reporting_db_url).connect() as conn:
        rows = conn.execute(outbox.select()).all()
    assert {(r.status, r.attempts) for r in rows} == {("pending", 1)} and all(r.last_error for r in rows)
    assert {r.notification for r in ledger(config.reporting_db_url)} == {"retrying"}
    up = SmtpSender()
    assert deliver_outbox(config, up) == {"sent": 0, "failed": 0}  # not before the backoff
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=3)
    assert deliver_outbox(config, up, now=later) == {"sent": len(truth.files), "failed": 0}
    assert deliver_outbox(config, up, now=later + dt.timedelta(hours=2)) == {"sent": 0, "failed": 0}
    ids = [m["Message-ID"] for _, m in mailbox.received]
    assert len(ids) == len(set(ids)) == len(truth.files)


def test_weekly_digest_lists_submitted_rejected_and_missing(config, generator, smtp_server):
    port, mailbox = smtp_server
    truth = Truth(generator.scenario(TEAMS, ["2026Q3"], PLANTS, datasets=contracts.datasets()))
    on_time = dt.datetime(2026, 10, 10, 9, 0, tzinfo=dt.timezone.utc).timestamp()
    for f in truth.files:
        if f.team == "vranje":  # Vranje sent everything before the deadline (15 October)
            os.utime(f.path, (on_time, on_time))
    ingest.process_submissions(config, ingest.collect_new_submissions(config))
    today = dt.date(2026, 11, 30)
    assert queue_weekly_digest(config, today) is True
    assert queue_weekly_digest(config, today + dt.timedelta(days=2)) is False  # once per week
    deliver_outbox(config, SmtpSender())
    [(recipients, message)] = mailbox.received
    assert recipients == [reference.national_contacts()["national_coordinator"]["email"]]
    text = message.get_body(("plain",)).get_content()
    english = text[text.index("ENGLISH"):]
    expected = {}
    for team in reference.teams():
        for dataset in contracts.datasets():
            if not reference.teams()[team].reports(dataset):
                expected[(team, dataset)] = "not owed"  # the Centre owes victims only
                continue
            f = next((f for f in truth.files if f.team == team and f.dataset == dataset), None)
            expected[(team, dataset)] = ("missing" if f is None else "rejected" if f.plant
                                         else "accepted" if team == "vranje" else "accepted late")
    for code, team in reference.teams().items():
        line = next(line for line in english.splitlines() if line.startswith(f"{team.name_lat}: "))
        cells = dict(cell.strip().split(" ", 1) for cell in line.split(": ", 1)[1].split(";"))
        assert cells == {d: expected[(code, d)] for d in contracts.datasets()}, line
    count = lambda status: sum(v == status for v in expected.values())  # noqa: E731
    received = count("accepted") + count("accepted late")
    assert (received, count("accepted late"), count("rejected")) == (11, 7, 4)
    assert (f"Received: {received} of 66 (late: {count('accepted late')}), rejected: {count('rejected')}, "
            f"missing: {count('missing')}.") in english
    assert "Subotica, victims: The value nepoznato is not allowed in column D (Status)." in english


def test_reminders_and_overdue_notices_go_once_to_the_teams_that_owe(config, generator, smtp_server):
    from thb_reporting.store.locks import set_lock
    from thb_reporting.messaging.notifications import queue_calendar_notices

    port, mailbox = smtp_server
    truth = Truth(generator.scenario(TEAMS, ["2026Q3"], PLANTS, datasets=contracts.datasets()))
    ingest.process_submissions(config, ingest.collect_new_submissions(config))
    owing = {t for t in reference.teams()
             if not all(any((f.team, f.dataset) == (t, d) and not f.plant for f in truth.files) for d in contracts.datasets())}
    assert queue_calendar_notices(config, dt.date(2026, 10, 1)) == []  # 14 days before: too early
    reminded = queue_calendar_notices(config, dt.date(2026, 10, 10))
    assert {k.split(":")[1] for k in reminded} == owing and all(k.startswith("reminder:") for k in reminded)
    assert queue_calendar_notices(config, dt.date(2026, 10, 12)) == []  # once per team and quarter
    set_lock(config.reporting_db_url, "2026Q3", False, "test")  # an unlock record changes nothing
    overdue = queue_calendar_notices(config, dt.date(2026, 10, 20))
    assert {k.split(":")[1] for k in overdue} == owing
    deliver_outbox(config, SmtpSender())
    notices = [m for _, m in mailbox.received if "Overdue" in m["Subject"]]
    subotica = next(m for m in notices if "Subotica" in m["Subject"])
    assert "victims" in subotica.get_body(("plain",)).get_content()  # its victims file was rejected
    nis = next(m for m in notices if "Niš" in m["Subject"])
    assert "the file sent was rejected" in nis.get_body(("plain",)).get_content()


def test_no_notice_for_a_locked_quarter(config, generator):
    from thb_reporting.store.locks import set_lock
    from thb_reporting.messaging.notifications import queue_calendar_notices

    generator.scenario(TEAMS, ["2026Q3"], datasets=("victims",))
    ingest.process_submissions(config, ingest.collect_new_submissions(config))
    set_lock(config.reporting_db_url, "2026Q3", True, "test")
    assert queue_calendar_notices(config, dt.date(2026, 10, 20)) == []
    set_lock(config.reporting_db_url, "2026Q3", False, "test")
    assert len(queue_calendar_notices(config, dt.date(2026, 10, 20))) == len(reference.teams())


def test_one_batch_of_files_under_two_contract_versions_gets_its_figures(config, generator, tmp_path):
    """Snapshots of a quarter under victims v1 and of one under v2 (more columns) in one batch of notices."""
    truth = Truth(generator.scenario(["nis"], ["2026Q2", "2026Q3"]))
    assert {contracts.for_quarter("victims", f.quarter).version for f in truth.files} == {1, 2}
    ingest.process_submissions(config, ingest.collect_new_submissions(config))
    assert queue_submission_notices(config) == len(truth.files)
    sent = tmp_path / "sent"
    assert deliver_outbox(config, FolderSender(sent.as_uri())) == {"sent": len(truth.files), "failed": 0}
    texts = [email.message_from_bytes(p.read_bytes(), policy=email.policy.default).get_body(("plain",)).get_content()
             for p in sorted(sent.glob("*.eml"))]
    assert len(texts) == len(truth.files) and all("Your figures as they will be published" in t for t in texts)
