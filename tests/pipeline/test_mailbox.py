"""Submission by e-mail (thb_reporting.intake.mailbox) against a real IMAP server (a private Dovecot on loopback,
messages delivered with IMAP APPEND) and the real SMTP test server: a team e-mails a file, it goes through
the folder pipeline unchanged and the validation e-mail answers in the same thread; each kind of e-mail
that brings no usable file gets its reply (the coordinator is told of unknown senders), and is kept in a
folder of the mailbox; every e-mail is handled once, across restarts."""
from __future__ import annotations

import csv
import imaplib
import io
import json
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import pytest

from fixtures import TEST_KEY

SHARED = "zajednicki.kontakt@example.org"  # a contact of two teams (subotica and sombor)


@pytest.fixture
def mail_config(tmp_path):
    """A local configuration (SQLite) whose team registry makes SHARED a contact of subotica and sombor, and
    whose files may be 64 KB at most."""
    from thb_reporting.core.config import PipelineConfig
    from thb_reporting.core.reference import PACKAGE_TEAMS

    with open(PACKAGE_TEAMS, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        if r["municipality_code"] in ("subotica", "sombor"):
            r["contact_emails"] += f";{SHARED}"
    registry = tmp_path / "teams.csv"
    with open(registry, "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return PipelineConfig.local(tmp_path / "data", TEST_KEY, teams_registry=str(registry), max_file_bytes=64 * 1024)


@pytest.fixture
def imap(imap_server):
    """A logged-in client of the test mailbox, and a function that delivers a message into its INBOX."""
    port, user, password = imap_server
    client = imaplib.IMAP4("127.0.0.1", port)
    client.login(user, password)

    def deliver(message: EmailMessage) -> None:
        assert client.append("INBOX", None, None, bytes(message))[0] == "OK"

    yield client, deliver
    client.logout()


@pytest.fixture
def imap_default(imap_server, monkeypatch):
    """The connection imap_default to the test mailbox, as a deployment sets it (AIRFLOW_CONN_IMAP_DEFAULT)."""
    port, user, password = imap_server
    monkeypatch.setenv("AIRFLOW_CONN_IMAP_DEFAULT", json.dumps({
        "conn_type": "imap", "host": "127.0.0.1", "port": port, "login": user, "password": password,
        "extra": {"use_ssl": False}}))


def folder(client, name: str) -> list[bytes]:
    """The Message-IDs of the messages in a folder of the mailbox."""
    if client.select(name)[0] != "OK":
        return []
    ids = []
    for uid in client.uid("SEARCH", None, "ALL")[1][0].split():
        data = client.uid("FETCH", uid, "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")[1]
        ids.append(data[0][1].split(b":", 1)[1].strip())
    return ids


def e_mail(sender: str, subject: str = "Izveštaj", files: list[tuple[str, bytes]] = (), *, body: str = "U prilogu.",
           message_id: str | None = None) -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, "izvestaji@example.org", subject
    message["Date"] = "Wed, 01 Jul 2026 09:30:00 +0200"
    message["Message-ID"] = message_id or make_msgid(domain="example.org")
    message.set_content(body)
    for name, data in files:
        maintype, subtype = ("text", "csv") if name.endswith(".csv") else ("application", "octet-stream")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return message


def victims_file(tmp_path: Path, team: str = "subotica") -> tuple[str, bytes]:
    from thb_reporting.tools.generator import SubmissionGenerator

    generated = SubmissionGenerator(tmp_path / "scratch", seed=7).victims_file(team, "2026Q2", file_format="csv")
    return generated.file_name, generated.path.read_bytes()


def run_pipeline(config, port: int) -> None:
    """The ingest DAG's steps after the mailbox: collect, validate, notify, deliver through the SMTP server."""
    from thb_reporting.intake.ingest import collect_new_submissions, process_submissions
    from thb_reporting.messaging.notifications import queue_mail_replies, queue_submission_notices
    from thb_reporting.messaging.outbox import SmtpSender, deliver_outbox

    process_submissions(config, collect_new_submissions(config))
    queue_submission_notices(config)
    queue_mail_replies(config)
    deliver_outbox(config, SmtpSender())


def submissions(config) -> list:
    from thb_reporting.store import ledger
    from thb_reporting.store.warehouse import reporting_engine

    with reporting_engine(config.reporting_db_url).connect() as conn:
        return ledger.submissions(conn)


def test_a_team_e_mails_a_file_and_gets_the_validation_reply_in_the_same_thread(
        tmp_path, mail_config, imap, imap_default, smtp_server, airflow_db):
    from thb_reporting.intake import mailbox

    client, deliver = imap
    port, smtp = smtp_server
    received = smtp.received
    name, data = victims_file(tmp_path)
    team = mail_config.teams["subotica"]
    sent = e_mail(team.contact_emails[0].upper(), files=[(name, data)])  # addresses compare case-blind
    deliver(sent)
    assert mailbox.pull_mailbox(mail_config) == {"delivered": 1}  # through ImapHook and imap_default, as the DAG
    assert (Path(mail_config.inbox.removeprefix("file://")) / "subotica" / name).read_bytes() == data
    run_pipeline(mail_config, port)

    [sub] = submissions(mail_config)
    assert sub.status == "accepted" and sub.team_code == "subotica"
    assert Path(sub.archive_path.removeprefix("file://")).read_bytes() == data  # byte for byte
    assert sub.mail_message_id == sent["Message-ID"] and sub.mail_sender == team.contact_emails[0]
    assert sub.mail_date.isoformat().startswith("2026-07-01") and sub.mail_date.hour in (7, 9)
    [(recipients, reply)] = received
    assert reply["In-Reply-To"] == sent["Message-ID"] and reply["References"] == sent["Message-ID"]
    assert sorted(recipients) == sorted(team.contact_emails)  # the sender is one of them: once
    assert reply["Subject"].startswith("[THB] Prihvaćeno / Accepted")
    assert folder(client, "THB/processed") == [sent["Message-ID"].encode()]
    assert folder(client, "INBOX") == []


def test_the_reply_goes_to_the_sender_and_every_contact_of_the_team(tmp_path, mail_config, imap, smtp_server):
    from thb_reporting.intake import mailbox

    client, deliver = imap
    port, smtp = smtp_server
    received = smtp.received
    name, data = victims_file(tmp_path, "sombor")
    deliver(e_mail(SHARED, subject="Izveštaj tima Sombor", files=[(name, data)]))  # names its team
    assert mailbox.pull_mailbox(mail_config, client) == {"delivered": 1}
    run_pipeline(mail_config, port)
    [(recipients, reply)] = received
    assert set(recipients) == {SHARED, *mail_config.teams["sombor"].contact_emails}
    assert submissions(mail_config)[0].team_code == "sombor"


def test_the_same_e_mail_is_processed_once_also_after_a_restart(tmp_path, mail_config, imap, smtp_server):
    from thb_reporting.intake import mailbox
    from thb_reporting.core.config import PipelineConfig
    from thb_reporting.store.warehouse import dispose_engines

    client, deliver = imap
    port, smtp = smtp_server
    received = smtp.received
    name, data = victims_file(tmp_path)
    sent = e_mail(mail_config.teams["subotica"].contact_emails[0], files=[(name, data)])
    deliver(sent)
    assert mailbox.pull_mailbox(mail_config, client) == {"delivered": 1}
    run_pipeline(mail_config, port)
    dispose_engines()  # a new process: a new configuration, new engines, the same database and mailbox
    again = PipelineConfig(**{**mail_config.__dict__})
    deliver(sent)  # fetched again (a retry, or the mail server delivered it twice)
    resent = e_mail(mail_config.teams["subotica"].contact_emails[0], files=[(name, data)])  # a new Message-ID
    deliver(resent)
    assert mailbox.pull_mailbox(again, client) == {"duplicate": 2}
    run_pipeline(again, port)
    assert len(submissions(again)) == 1 and len(received) == 1
    assert sorted(folder(client, "THB/processed")) == sorted([sent["Message-ID"].encode()] * 2 + [resent["Message-ID"].encode()])


def test_an_unknown_sender_is_not_answered_the_coordinator_is_told(tmp_path, mail_config, imap, smtp_server):
    from thb_reporting.intake import mailbox
    from thb_reporting.core import reference

    client, deliver = imap
    port, smtp = smtp_server
    received = smtp.received
    name, data = victims_file(tmp_path)
    sent = e_mail("neko.drugi@example.net", subject="JMBG 0101100710006", files=[(name, data)])
    deliver(sent)
    assert mailbox.pull_mailbox(mail_config, client) == {"unknown_sender": 1}
    run_pipeline(mail_config, port)
    [(recipients, notice)] = received
    assert recipients == [reference.national_contacts()["national_coordinator"]["email"]]
    assert "THB/quarantine" in notice.get_body(("plain",)).get_content()
    assert "neko.drugi" not in notice.as_string() and "0101100710006" not in notice.as_string()
    assert submissions(mail_config) == []
    assert folder(client, "THB/quarantine") == [sent["Message-ID"].encode()]


def _zip(name: str, data: bytes) -> bytes:
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(name, data)
    return buf.getvalue()


def _encrypted(sender: str) -> EmailMessage:
    message = e_mail(sender)
    message.set_payload(None)
    message.clear_content()
    message.set_content(b"0\x82\x01\x00fake-enveloped-data", maintype="application", subtype="pkcs7-mime",
                        params={"smime-type": "enveloped-data"}, filename="smime.p7m")
    return message


def _signed_only(sender: str) -> EmailMessage:
    message = e_mail(sender)
    message.add_attachment(b"-----BEGIN PGP SIGNATURE-----\n...\n-----END PGP SIGNATURE-----\n",
                           maintype="application", subtype="pgp-signature", filename="signature.asc")
    return message


@pytest.mark.parametrize("kind", ["no_attachment", "signed_only", "archive", "oversized", "encrypted", "ambiguous_team"])
def test_an_e_mail_without_a_usable_file_gets_a_clear_reply_and_is_quarantined(
        tmp_path, mail_config, imap, smtp_server, kind, pipeline_log):
    from thb_reporting.intake import mailbox

    client, deliver = imap
    port, smtp = smtp_server
    received = smtp.received
    contact = mail_config.teams["subotica"].contact_emails[0]
    name, data = victims_file(tmp_path)
    secret = "Marko Marković 0101100710006"
    sent = {
        "no_attachment": lambda: e_mail(contact, subject=secret, body=secret),
        "signed_only": lambda: _signed_only(contact),
        "archive": lambda: e_mail(contact, files=[(f"{secret}.zip", _zip(name, data))]),
        "oversized": lambda: e_mail(contact, files=[(name, data + b"\n" * (80 * 1024))]),
        "encrypted": lambda: _encrypted(contact),
        "ambiguous_team": lambda: e_mail(SHARED, subject=secret, files=[(name, data)]),
    }[kind]()
    deliver(sent)
    outcome = "no_attachment" if kind == "signed_only" else kind
    assert mailbox.pull_mailbox(mail_config, client) == {outcome: 1}
    run_pipeline(mail_config, port)
    [(recipients, reply)] = received
    assert recipients == [SHARED if kind == "ambiguous_team" else contact]
    assert reply["In-Reply-To"] == sent["Message-ID"]
    text = reply.get_body(("plain",)).get_content()
    assert text.index("Vaša poruka") < text.index("ENGLISH") < text.index("Your e-mail")  # Serbian first
    assert {"no_attachment": "no attached file", "archive": "is an archive", "oversized": "larger than",
            "encrypted": "is encrypted", "ambiguous_team": "several teams"}[outcome] in text
    assert "0101100710006" not in reply.as_string() and "Marko" not in reply.as_string()
    assert not any("0101100710006" in line or "Marko" in line for line in pipeline_log)
    assert submissions(mail_config) == []
    assert folder(client, "THB/quarantine") == [sent["Message-ID"].encode()]


def test_without_imap_default_the_mail_step_does_nothing_and_says_so_once(mail_config, pipeline_log, airflow_db):
    from thb_reporting.intake import mailbox

    monkey = pytest.MonkeyPatch()
    monkey.setattr(mailbox, "_told_no_mailbox", False)
    try:
        assert mailbox.pull_mailbox(mail_config) == {} and mailbox.pull_mailbox(mail_config) == {}
    finally:
        monkey.undo()
    assert sum("no connection imap_default" in line for line in pipeline_log) == 1


def test_the_folder_inbox_keeps_working_beside_the_mailbox(tmp_path, mail_config, imap, smtp_server):
    from thb_reporting.intake import mailbox
    from thb_reporting.tools.generator import SubmissionGenerator

    client, deliver = imap
    port, smtp = smtp_server
    received = smtp.received
    dropped = SubmissionGenerator(Path(mail_config.inbox.removeprefix("file://")), seed=3).victims_file(
        "sombor", "2026Q2", file_format="csv")
    name, data = victims_file(tmp_path)
    deliver(e_mail(mail_config.teams["subotica"].contact_emails[0], files=[(name, data)]))
    assert mailbox.pull_mailbox(mail_config, client) == {"delivered": 1}
    run_pipeline(mail_config, port)
    subs = {s.team_code: s for s in submissions(mail_config)}
    assert subs["sombor"].status == subs["subotica"].status == "accepted"
    assert subs["sombor"].mail_message_id is None and subs["sombor"].file_name == dropped.file_name
    by_team = {tuple(sorted(r)): m for r, m in received}
    assert by_team[tuple(sorted(mail_config.teams["sombor"].contact_emails))]["In-Reply-To"] is None


def test_a_message_too_large_to_download_is_judged_by_its_header(mail_config, imap, smtp_server):
    from thb_reporting.intake import mailbox

    client, deliver = imap
    port, smtp = smtp_server
    contact = mail_config.teams["subotica"].contact_emails[0]
    sent = e_mail(contact, files=[("victims_2026Q2.csv", b"x" * (mailbox.max_message_bytes(mail_config) + 1))])
    deliver(sent)
    assert mailbox.pull_mailbox(mail_config, client) == {"oversized": 1}
    run_pipeline(mail_config, port)
    [(recipients, reply)] = smtp.received
    assert recipients == [contact] and reply["In-Reply-To"] == sent["Message-ID"]
    assert folder(client, "THB/quarantine") == [sent["Message-ID"].encode()]


def test_an_e_mail_that_cannot_be_handled_stays_and_holds_back_no_other(
        tmp_path, mail_config, imap, monkeypatch, pipeline_log):
    from thb_reporting.intake import mailbox

    client, deliver = imap
    contact = mail_config.teams["subotica"].contact_emails[0]
    stuck, fine = e_mail(contact, subject="first"), e_mail(contact, files=[victims_file(tmp_path)])
    deliver(stuck)
    deliver(fine)
    handle = mailbox.handle

    def failing_first(config, raw, size=None):
        if b"Subject: first" in raw:
            raise ValueError("0101100710006")  # its message may quote the e-mail: never logged
        return handle(config, raw, size)

    monkeypatch.setattr(mailbox, "handle", failing_first)
    assert mailbox.pull_mailbox(mail_config, client) == {"error": 1, "delivered": 1}
    assert folder(client, "INBOX") == [stuck["Message-ID"].encode()]
    assert any("ValueError" in line for line in pipeline_log)
    assert not any("0101100710006" in line for line in pipeline_log)
    monkeypatch.setattr(mailbox, "handle", handle)  # the next run takes it
    assert mailbox.pull_mailbox(mail_config, client) == {"no_attachment": 1}


def test_several_files_in_one_e_mail_each_a_submission_in_its_thread(tmp_path, mail_config, imap, smtp_server):
    from thb_reporting.intake import mailbox
    from thb_reporting.tools.generator import SubmissionGenerator

    client, deliver = imap
    port, smtp = smtp_server
    contact = mail_config.teams["subotica"].contact_emails[0]
    victims = victims_file(tmp_path)
    other = SubmissionGenerator(tmp_path / "scratch2", seed=8).victims_file("subotica", "2026Q1", file_format="xlsx")
    files = [victims, (other.file_name, other.path.read_bytes()), victims]  # the same file twice: once
    sent = e_mail(contact, files=files)
    deliver(sent)
    assert mailbox.pull_mailbox(mail_config, client) == {"delivered": 1}
    run_pipeline(mail_config, port)
    subs = submissions(mail_config)
    assert sorted(s.file_name for s in subs) == sorted([victims[0], other.file_name])
    assert {s.mail_message_id for s in subs} == {sent["Message-ID"]}
    assert [m["In-Reply-To"] for _, m in smtp.received] == [sent["Message-ID"]] * 2


def test_a_second_file_of_the_same_name_waits_until_the_first_is_collected(tmp_path, mail_config, imap, smtp_server):
    """Two e-mails of a team, each with a file of the same name but other figures, in one pull: the second
    would overwrite the first in the inbox before the pipeline received it, so it waits in the mailbox;
    the next run takes it. Both files are archived and answered: nothing is lost."""
    from thb_reporting.intake import mailbox
    from thb_reporting.tools.generator import SubmissionGenerator

    client, deliver = imap
    port, smtp = smtp_server
    contact = mail_config.teams["subotica"].contact_emails[0]
    first = victims_file(tmp_path)
    second = SubmissionGenerator(tmp_path / "scratch2", seed=9).victims_file("subotica", "2026Q2", file_format="csv")
    assert second.file_name == first[0] and second.path.read_bytes() != first[1]
    sent = [e_mail(contact, files=[first]), e_mail(contact, files=[(second.file_name, second.path.read_bytes())])]
    for message in sent:
        deliver(message)
    assert mailbox.pull_mailbox(mail_config, client) == {"delivered": 1, "waiting": 1}
    assert folder(client, "INBOX") == [sent[1]["Message-ID"].encode()]  # kept, not lost
    run_pipeline(mail_config, port)
    assert mailbox.pull_mailbox(mail_config, client) == {"delivered": 1}
    run_pipeline(mail_config, port)
    import hashlib

    subs = submissions(mail_config)
    assert sorted(s.content_sha256 for s in subs) == sorted(hashlib.sha256(d).hexdigest()
                                                            for d in (first[1], second.path.read_bytes()))
    assert sorted(m["In-Reply-To"] for _, m in smtp.received) == sorted(m["Message-ID"] for m in sent)


def test_the_triggerer_s_watch_fires_once_per_new_e_mail(tmp_path, imap, imap_default):
    """The mailbox watch (inbox_watch.MailboxArrivalTrigger) as the triggerer runs it, against the real
    mailbox through imap_default: one event when an e-mail arrives, none while nothing new waits, none for
    a message it has seen after a restart, and again for the next e-mail."""
    import asyncio

    from test_inbox_watch import Watch, next_event
    from thb_reporting.intake.inbox_watch import MailboxArrivalTrigger

    client, deliver = imap
    state = (tmp_path / "mailbox_watch.json").as_uri()

    async def scenario():
        watch = Watch(MailboxArrivalTrigger(state=state, poll_seconds=0.1))
        assert await next_event(watch, 1.0) is None  # an empty mailbox: nothing
        deliver(e_mail("tim@example.org"))
        assert (await next_event(watch, 5.0)).payload == {"messages": 1}
        assert await next_event(watch, 1.0) is None  # it still waits there: not again
        await watch.aclose()
        restarted = Watch(MailboxArrivalTrigger(state=state, poll_seconds=0.1))
        assert await next_event(restarted, 1.0) is None  # seen before the restart
        deliver(e_mail("tim@example.org"))
        assert (await next_event(restarted, 5.0)).payload == {"messages": 1}
        await restarted.aclose()

    asyncio.run(scenario())


def test_the_watch_keeps_one_session_and_logs_in_again_when_it_is_dropped(imap, imap_default, monkeypatch):
    """The watch looks every couple of seconds on one session kept open (a login for each look would be
    too much for a mail server): a message delivered meanwhile is seen on that session, and a session the
    server dropped is replaced at the next look."""
    import socket

    from thb_reporting.intake import inbox_watch, mailbox

    logins = []
    real_login = mailbox.imap_client_from_airflow

    def counted():
        logins.append(1)
        return real_login()

    monkeypatch.setattr(mailbox, "imap_client_from_airflow", counted)
    _, deliver = imap
    session = inbox_watch.MailboxSession()
    try:
        assert session.signatures() == {} and session.signatures() == {}
        deliver(e_mail("tim@example.org"))
        assert len(session.signatures()) == 1 and len(logins) == 1  # seen on the same session
        session.client.sock.shutdown(socket.SHUT_RDWR)  # as a server that drops it
        with pytest.raises((OSError, imaplib.IMAP4.error)):
            session.signatures()
        deliver(e_mail("tim@example.org"))
        assert len(session.signatures()) == 2 and len(logins) == 2  # a new session
    finally:
        session.close()


def test_a_mail_server_that_cannot_be_reached_holds_back_no_file_of_the_inbox(mail_config, monkeypatch, caplog):
    """The ingest run's collection pulls the mailbox first: with the server away it warns (the error's class
    and the connection, never a message), and the folder inbox is collected all the same."""
    from fixtures import free_port
    from thb_reporting.intake import ingest, mailbox
    from thb_reporting.tools.generator import SubmissionGenerator

    monkeypatch.setenv("AIRFLOW_CONN_IMAP_DEFAULT", json.dumps({
        "conn_type": "imap", "host": "127.0.0.1", "port": free_port(), "login": "x", "password": "y",
        "extra": {"use_ssl": False}}))  # nothing listens there
    SubmissionGenerator(Path(mail_config.inbox.removeprefix("file://")), seed=3).victims_file("subotica", "2026Q2")
    assert mailbox.pull_reporting_mailbox(mail_config) == {}
    assert "the reporting mailbox could not be read (MailConnectionRefused: imap_default" in caplog.text
    assert len(ingest.collect_new_submissions(mail_config)) == 1
    monkeypatch.delenv("AIRFLOW_CONN_IMAP_DEFAULT")
    assert mailbox.pull_reporting_mailbox(mail_config) == {}  # no mailbox: nothing, and nothing said


def test_a_file_the_mailbox_placed_starts_no_second_run(tmp_path, mail_config):
    """The run that pulls the mailbox collects what it placed in the inbox in the same task: the inbox watch
    starts no run for those files, but does for a file a team drops, and for a placed one changed since."""
    import asyncio

    from test_inbox_watch import Watch, next_event
    from thb_reporting.intake import mailbox
    from thb_reporting.intake.inbox_watch import InboxArrivalTrigger

    inbox = Path(mail_config.inbox.removeprefix("file://"))
    (inbox / "subotica").mkdir(parents=True, exist_ok=True)
    name, data = victims_file(tmp_path)
    contact = mail_config.teams["subotica"].contact_emails[0]
    state = f"{mail_config.data_root}/state/inbox_watch.json"

    async def scenario():
        watch = Watch(InboxArrivalTrigger(inbox=mail_config.inbox, state=state, poll_seconds=0.1))
        assert await next_event(watch, 1.0) is None  # the first look takes note
        assert await asyncio.to_thread(mailbox.handle, mail_config, bytes(e_mail(contact, files=[(name, data)]))) \
            == mailbox.MailOutcome.DELIVERED
        assert (inbox / "subotica" / name).read_bytes() == data
        assert await next_event(watch, 1.5) is None  # placed by the pull: no run for it
        (inbox / "subotica" / name).write_bytes(data + b"\n")  # the team replaces it in the folder
        assert (await next_event(watch, 5.0)).payload == {"files": 1}
        (inbox / "subotica" / "victims_2026Q3.csv").write_bytes(data)  # and drops another
        assert (await next_event(watch, 5.0)).payload == {"files": 1}
        await watch.aclose()

    asyncio.run(scenario())


def test_without_imap_default_the_mailbox_watch_fires_nothing(tmp_path, monkeypatch):
    import asyncio

    from test_inbox_watch import Watch, next_event
    from thb_reporting.intake.inbox_watch import MailboxArrivalTrigger

    monkeypatch.delenv("AIRFLOW_CONN_IMAP_DEFAULT", raising=False)

    async def scenario():
        watch = Watch(MailboxArrivalTrigger(state=(tmp_path / "s.json").as_uri(), poll_seconds=0.1))
        assert await next_event(watch, 1.0) is None
        await watch.aclose()

    asyncio.run(scenario())


def test_a_reply_to_the_validation_e_mail_explains_its_warnings_and_one_with_a_jmbg_is_refused(
        tmp_path, mail_config, imap, smtp_server, monkeypatch):
    """A team answers its validation e-mail, without a file: its words above the quote are the explanation of
    the submission's warnings, shown in the release candidate. A reply holding a JMBG is refused, kept nowhere
    (not in the warehouse, not in the reply), and the team is told why. The CLI records one without a mailbox."""
    from email.utils import make_msgid

    from thb_reporting.intake import mailbox
    from thb_reporting.publishing import releases
    from thb_reporting.publishing.publish import publish
    from thb_reporting.publishing.release_report import prompt_markdown
    from thb_reporting.store.explanations import explanations_of
    from thb_reporting.store.warehouse import reporting_engine
    from thb_reporting.tools.cli import main
    from thb_reporting.tools.generator import VALID_JMBG, SubmissionGenerator

    client, deliver = imap
    port, smtp = smtp_server
    generator = SubmissionGenerator(Path(mail_config.inbox.removeprefix("file://")), seed=3)
    for quarter in ("2025Q3", "2025Q4", "2026Q1"):
        generator.victims_file("subotica", quarter, people=10)
    generator.victims_file("subotica", "2026Q2", people=60)  # far above the team's history: a warning
    run_pipeline(mail_config, port)
    [newest] = [s for s in submissions(mail_config) if s.quarter == "2026Q2"]
    assert newest.status == "accepted" and newest.warning_count >= 1
    notice_id = f"<submission-{newest.submission_id}-{newest.content_sha256[:12]}@thb-national-reporting>"
    [notice] = [m for _, m in smtp.received if m["Message-ID"] == notice_id]
    team = mail_config.teams["subotica"]

    def reply(body: str) -> EmailMessage:
        message = e_mail(team.contact_emails[0], "Re: " + notice["Subject"], body=body, message_id=make_msgid(domain="example.org"))
        message["In-Reply-To"], message["References"] = notice_id, notice_id
        return message

    words = "Broj je tačan: u junu je policija otkrila jednu veliku grupu u Subotici."
    explained = reply(f"{words}\n\nOn Wed, 1 Jul 2026 at 09:30, Nacionalno izveštavanje wrote:\n> Prihvaćeno: 60 lica\n")
    leaky = reply(f"Proverite lice sa JMBG {VALID_JMBG}, ono je dvaput upisano.")
    deliver(explained)
    deliver(leaky)
    assert mailbox.pull_mailbox(mail_config, client) == {"explanation": 1, "explanation_refused": 1}
    engine = reporting_engine(mail_config.reporting_db_url)
    with engine.connect() as conn:
        assert explanations_of(conn, [newest.submission_id]) == {newest.submission_id: words}
    assert VALID_JMBG.encode() not in Path(mail_config.reporting_db_url.removeprefix("sqlite:///")).read_bytes()
    assert folder(client, "THB/processed")[-1:] == [explained["Message-ID"].encode()]
    assert folder(client, "THB/quarantine") == [leaky["Message-ID"].encode()]

    before = len(smtp.received)
    run_pipeline(mail_config, port)  # the notify step answers both, each in its thread
    answers = {m["In-Reply-To"]: m for _, m in smtp.received[before:]}
    assert answers[explained["Message-ID"]]["Subject"].startswith("[THB] Objašnjenje zabeleženo / Explanation recorded")
    refused = answers[leaky["Message-ID"]]
    assert refused["Subject"].startswith("[THB] Objašnjenje nije zabeleženo / Explanation not recorded")
    assert "JMBG" in refused.get_body(preferencelist=("plain",)).get_content()
    assert all(VALID_JMBG not in m.as_string() for m in answers.values())

    # the ingest run's note names it (the mailbox step leaves it), quoting the screened words
    from thb_reporting.store.explanations import explained_since
    from thb_reporting.ui.run_notes import run_note

    with engine.connect() as conn:
        assert explained_since(conn, newest.received_at) == [newest.submission_id]
    note = run_note(mail_config.reporting_db_url, {"explained": [newest.submission_id]}, mail_config.teams)
    assert note.startswith("- warnings explained by their team") and f"#{newest.submission_id} subotica victims 2026Q2" in note
    assert words[:40] in note and VALID_JMBG not in note

    # the coordinator sees it in the release candidate, beside the warning
    publish(mail_config)
    candidate = releases.prepare(mail_config, "2026Q2", "provisional", "test")
    [warning] = [w for w in candidate["warnings"] if w["team"] == "subotica"]
    assert warning["rule"] == "history_outlier" and warning["explanation"] == words
    assert words in prompt_markdown(candidate)

    # without a mailbox, a data engineer records it; the identifier screen holds there too
    monkeypatch.setenv("AIRFLOW_VAR_THB_DATA_ROOT", mail_config.data_root)
    monkeypatch.delenv("AIRFLOW_CONN_REPORTING_DB", raising=False)
    assert main(["explain", str(newest.submission_id), f"pozovite 064 123 4567 ili {VALID_JMBG}", "--by", "inženjer"]) == 2
    assert main(["explain", str(newest.submission_id), "Potvrđeno telefonom sa timom.", "--by", "inženjer"]) == 0
    with engine.connect() as conn:
        assert explanations_of(conn, [newest.submission_id]) == {newest.submission_id: "Potvrđeno telefonom sa timom."}
