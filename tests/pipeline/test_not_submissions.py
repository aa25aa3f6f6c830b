"""Files no team made, and mail no person wrote (#27 points 3 and 4). What an operating system, a sync client,
an editor or a mail program leaves beside a team's file is never taken in nor answered, and is logged once for
the data engineer; auto-replies, bounces, read receipts and list mail that reach the reporting mailbox (a real
Dovecot on loopback) are moved aside, never answered, and counted in the coordinator's digest."""
from __future__ import annotations

import datetime as dt
import os
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import pytest

from fixtures import TEST_KEY
from helpers import ledger
from test_mailbox import e_mail, folder, imap, mail_config, run_pipeline, submissions, victims_file  # noqa: F401
from thb_reporting.intake import ingest
from thb_reporting.store import storage
from thb_reporting.tools.generator import SubmissionGenerator

Q = "2026Q2"
# (path below the team's folder, who made it): several systems and programs, several spellings
JUNK = [
    (".DS_Store", "macOS Finder"),
    (f"._victims_{Q}.xlsx", "macOS resource fork on a shared drive"),
    (f"__MACOSX/._victims_{Q}.csv", "a zip made on a Mac, unpacked"),
    (".Spotlight-V100/Store-V2/x.db", "macOS Spotlight"),
    ("Thumbs.db", "Windows Explorer"),
    ("ehthumbs_vista.db", "Windows Media Center"),
    ("desktop.ini", "Windows folder settings"),
    ("Icon\r", "macOS custom folder icon"),
    (f"~$victims_{Q}.xlsx", "Excel's owner file while the workbook is open"),
    (f".~lock.victims_{Q}.xlsx#", "LibreOffice's lock file"),
    ("~WRL0004.tmp", "Word's temporary file"),
    (f"victims_{Q}.csv~", "an editor's backup"),
    (f"victims_{Q}.xlsx.part", "an upload in progress"),
    (f"victims_{Q}.xlsx.crdownload", "a Chrome download in progress"),
    (".git/config", "a version-control folder"),
    (".dropbox.cache/x", "Dropbox"),
    ("winmail.dat", "Outlook's TNEF, saved from an e-mail"),
    ("._0101990710006.xlsx", "a resource fork whose name holds a JMBG"),
]


def _good(tmp_path: Path, team: str = "nis"):
    return SubmissionGenerator(tmp_path / "gen", seed=41).victims_file(team, Q, file_format="csv")


def test_the_list_of_files_no_team_made_names_why_for_each():
    for relative, _ in JUNK:
        assert storage.not_a_submission(relative), relative
    for name in (f"victims_{Q}.csv", f"victims_{Q}.xlsx", f"victims {Q} ispravka.csv", f"programmes_{Q}_v2.xlsx",
                 f"victims_{Q}.ods", "izvestaj.pdf"):  # a team's own files (a wrong one is rejected, and answered)
        assert storage.not_a_submission(name) is None, name
    assert all(why for _, why in storage.NOT_SUBMISSIONS)


def test_junk_in_a_team_folder_is_never_a_submission_and_is_logged_once(tmp_path, pipeline_log):
    from thb_reporting.core.config import PipelineConfig
    from thb_reporting.messaging.notifications import queue_submission_notices

    config = PipelineConfig.local(tmp_path / "data", TEST_KEY)
    inbox = Path(config.inbox.removeprefix("file://"))
    good = _good(tmp_path)
    (inbox / "nis").mkdir(parents=True)
    (inbox / "nis" / good.file_name).write_bytes(good.path.read_bytes())
    for relative, _ in JUNK:
        path = inbox / "nis" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"\x00\x05\x16\x07junk")
    (inbox / ".DS_Store").write_bytes(b"\x00")  # in the inbox root too
    ingest.process_submissions(config, ingest.collect_new_submissions(config))
    rows = ledger(config.reporting_db_url)
    assert [(r.team_code, r.file_name, r.status) for r in rows] == [("nis", good.file_name, "accepted")]
    assert queue_submission_notices(config) == 1  # the team hears of its own file only
    left = [line for line in pipeline_log if "left aside" in line]
    assert len(left) == len(JUNK) + 1
    assert not any("0101990710006" in line for line in pipeline_log)  # the name is screened
    assert any("[hidden]" in line for line in left)
    pipeline_log.clear()
    os.utime(inbox / "nis" / ".DS_Store", (dt.datetime(2026, 8, 1).timestamp(),) * 2)  # Finder rewrites it
    ingest.process_submissions(config, ingest.collect_new_submissions(config))
    assert not [line for line in pipeline_log if "left aside" in line]  # once, not every run
    assert len(ledger(config.reporting_db_url)) == 1


def test_no_junk_name_starts_a_log_line_and_a_broken_state_file_stops_no_run(tmp_path, pipeline_log):
    """'Icon\\r' and a name with a line break are logged as escapes, so no name can forge a log line of its
    own; a state file cut short (a full disk) is read afresh: the files are logged again, the run goes on."""
    from thb_reporting.core.config import PipelineConfig

    config = PipelineConfig.local(tmp_path / "data", TEST_KEY)
    inbox = Path(config.inbox.removeprefix("file://"))
    good = _good(tmp_path)
    (inbox / "nis").mkdir(parents=True)
    (inbox / "nis" / good.file_name).write_bytes(good.path.read_bytes())
    (inbox / "nis" / "Icon\r").write_bytes(b"")
    (inbox / "nis" / "._x\nWARNING forged line").write_bytes(b"\x00\x05\x16\x07")
    state = tmp_path / "data" / "state" / "not_submissions.json"
    state.parent.mkdir(parents=True)
    state.write_text('["3f2a9b', encoding="utf-8")  # cut short
    assert len(ingest.collect_new_submissions(config)) == 1
    left = [line for line in pipeline_log if "left aside" in line]
    assert len(left) == 2 and not any("\r" in line or "\n" in line for line in left)
    assert any("Icon\\r" in line for line in left) and any("._x\\nWARNING forged line" in line for line in left)
    assert any("could not be read" in line for line in pipeline_log)
    pipeline_log.clear()
    ingest.collect_new_submissions(config)  # the state was written anew: once
    assert not [line for line in pipeline_log if "left aside" in line or "could not be read" in line]


def test_junk_on_object_storage_is_never_a_submission(tmp_path):
    from airflow.sdk.io import attach
    from fsspec.implementations.memory import MemoryFileSystem

    from thb_reporting.core.config import PipelineConfig

    bucket = f"thb-junk-{os.getpid()}-{tmp_path.name}"
    store = attach("memory", fs=MemoryFileSystem()).fs
    good = _good(tmp_path)
    store.pipe(f"/{bucket}/inbox/nis/{good.file_name}", good.path.read_bytes())
    for relative, _ in JUNK:
        store.pipe(f"/{bucket}/inbox/nis/{relative}", b"junk")
    try:
        config = PipelineConfig.local(tmp_path / "data", TEST_KEY, inbox=f"memory://{bucket}/inbox")
        ids = ingest.collect_new_submissions(config)
        assert [(r.team_code, r.file_name) for r in ledger(config.reporting_db_url)] == [("nis", good.file_name)]
        assert len(ids) == 1
    finally:
        store.rm(f"/{bucket}", recursive=True)


def test_the_inbox_watch_ignores_junk(tmp_path):
    from thb_reporting.intake.inbox_watch import inbox_signatures

    inbox = tmp_path / "inbox"
    (inbox / "nis").mkdir(parents=True)
    (inbox / "nis" / ".DS_Store").write_bytes(b"x")
    (inbox / "nis" / "Thumbs.db").write_bytes(b"x")
    assert inbox_signatures(inbox.as_uri()) == {}
    (inbox / "nis" / f"victims_{Q}.csv").write_bytes(b"x")
    assert list(inbox_signatures(inbox.as_uri())) == [f"nis/victims_{Q}.csv"]


# --- e-mail ---------------------------------------------------------------------------------------------
def _tnef() -> bytes:
    """The start of a TNEF stream (its signature 0x223E9F78), as Outlook writes winmail.dat."""
    return bytes.fromhex("789f3e22") + b"\x01\x00" + b"\x00" * 64


def _with_mail_program_parts(message: EmailMessage) -> EmailMessage:
    """What Outlook and other mail programs attach by themselves beside the team's file."""
    message.add_attachment(_tnef(), maintype="application", subtype="ms-tnef", filename="winmail.dat")
    message.add_attachment(b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Tim Nis\r\nEND:VCARD\r\n", maintype="text", subtype="x-vcard",
                           filename="Tim Nis.vcf")
    message.add_attachment(b"Exchange body", maintype="text", subtype="plain", filename="ATT00001.txt")
    logo = message.add_attachment(b"\x89PNG\r\n\x1a\n" + b"\x00" * 32, maintype="image", subtype="png",
                                  filename="image001.png", disposition="inline", cid="<image001@01D9>")
    assert logo is None
    return message


def test_a_mail_program_s_own_attachments_beside_the_file_are_left_aside(tmp_path, mail_config, imap, smtp_server,  # noqa: F811
                                                                         pipeline_log):
    from thb_reporting.intake import mailbox

    client, deliver = imap
    port, smtp = smtp_server
    name, data = victims_file(tmp_path)
    contact = mail_config.teams["subotica"].contact_emails[0]
    sent = _with_mail_program_parts(e_mail(contact, files=[(name, data)]))
    deliver(sent)
    assert mailbox.pull_mailbox(mail_config, client) == {"delivered": 1}
    assert any("4 attachment(s) a mail program adds left aside" in line for line in pipeline_log)
    placed = [p.name for p in (Path(mail_config.inbox.removeprefix("file://")) / "subotica").iterdir()]
    assert placed == [name]
    run_pipeline(mail_config, port)
    [sub] = submissions(mail_config)
    assert sub.status == "accepted"
    [(_, reply)] = smtp.received  # one answer: the validation e-mail of the team's file
    assert reply["In-Reply-To"] == sent["Message-ID"]


def test_a_file_packed_in_winmail_dat_alone_gets_a_reply_on_how_to_send_it(tmp_path, mail_config, imap, smtp_server):  # noqa: F811
    from thb_reporting.intake import mailbox

    client, deliver = imap
    port, smtp = smtp_server
    contact = mail_config.teams["subotica"].contact_emails[0]
    sent = e_mail(contact)
    sent.add_attachment(_tnef(), maintype="application", subtype="ms-tnef", filename="winmail.dat")
    deliver(sent)
    assert mailbox.pull_mailbox(mail_config, client) == {"tnef_only": 1}
    run_pipeline(mail_config, port)
    [(recipients, reply)] = smtp.received
    assert recipients == [contact] and reply["In-Reply-To"] == sent["Message-ID"]
    text = reply.get_body(("plain",)).get_content()
    assert "winmail.dat" in text and "Outlook" in text and text.index("Vaša poruka") < text.index("Your e-mail")
    assert submissions(mail_config) == []


def _automatic(kind: str, contact: str) -> EmailMessage:
    """Mail no person wrote, as real servers and programs send it (several spellings of each kind)."""
    message = EmailMessage()
    message["To"], message["Date"] = "izvestaji@example.org", "Wed, 01 Jul 2026 09:30:00 +0200"
    message["Message-ID"] = make_msgid(domain="example.org")
    message["From"], message["Subject"] = contact, "Automatski odgovor: Izveštaj"
    if kind == "auto_submitted":  # RFC 3834, as Exchange, Gmail and Dovecot's vacation send it
        message["Auto-Submitted"] = "auto-replied"
        message.set_content("Van kancelarije sam do 15. jula.")
    elif kind == "auto_generated":
        message["Auto-Submitted"] = "auto-generated; type=vacation"
        message.set_content("Out of office.")
    elif kind == "precedence":  # older vacation programs
        message["Precedence"] = "bulk"
        message.set_content("Na godišnjem odmoru.")
    elif kind == "x_autoreply":
        message["X-Autoreply"] = "yes"
        message.set_content("Auto reply.")
    elif kind in ("bounce", "bounce_daemon"):  # RFC 3464 delivery status notification
        if kind == "bounce_daemon":
            message.replace_header("From", "MAILER-DAEMON@mail.example.org")
        message["Return-Path"] = "<>"
        message.set_content("Delivery has failed to these recipients.")
        status = EmailMessage()
        status.set_content("Reporting-MTA: dns; mail.example.org\n\nFinal-Recipient: rfc822; x@example.org\n"
                           "Action: failed\nStatus: 5.1.1\n")
        message.make_mixed()
        message.attach(status)
        message.replace_header("Content-Type", 'multipart/report; report-type="delivery-status"; boundary="b1"')
    elif kind == "read_receipt":  # RFC 8098
        message.set_content("Your message was read.")
        message.make_mixed()
        message.replace_header("Content-Type", 'multipart/report; report-type="disposition-notification"; boundary="b2"')
    elif kind == "mailing_list":
        message["List-Id"] = "<izvestaji.lists.example.org>"
        message["List-Unsubscribe"] = "<mailto:leave@lists.example.org>"
        message["Precedence"] = "list"
        message.set_content("Digest of the list.")
    return message


AUTOMATIC_KINDS = {"auto_submitted": "auto_reply", "auto_generated": "auto_reply", "precedence": "auto_reply",
                   "x_autoreply": "auto_reply", "bounce": "delivery_report", "bounce_daemon": "delivery_report",
                   "read_receipt": "read_receipt", "mailing_list": "mailing_list"}


def test_mail_no_person_wrote_is_never_answered_and_is_counted_in_the_digest(tmp_path, mail_config, imap, smtp_server):  # noqa: F811
    from thb_reporting.intake import mailbox
    from thb_reporting.messaging.notifications import queue_weekly_digest
    from thb_reporting.messaging.outbox import SmtpSender, deliver_outbox

    client, deliver = imap
    port, smtp = smtp_server
    contact = mail_config.teams["subotica"].contact_emails[0]
    sent = {}
    for kind in AUTOMATIC_KINDS:  # from a team's contact and from strangers alike
        for sender in (contact, "nepoznat@example.net"):
            message = _automatic(kind, sender)
            sent[message["Message-ID"]] = kind
            deliver(message)
    counts = mailbox.pull_mailbox(mail_config, client)
    expected: dict[str, int] = {}
    for kind in sent.values():
        expected[AUTOMATIC_KINDS[kind]] = expected.get(AUTOMATIC_KINDS[kind], 0) + 1
    assert counts == expected
    run_pipeline(mail_config, port)
    assert smtp.received == []  # no reply to any, and no notice to the coordinator for the strangers
    assert sorted(folder(client, "THB/automatic")) == sorted(m.encode() for m in sent)
    assert folder(client, "INBOX") == [] and folder(client, "THB/quarantine") == []

    assert queue_weekly_digest(mail_config, today=dt.date.today())
    deliver_outbox(mail_config, SmtpSender())
    [(_, digest)] = smtp.received
    text = digest.get_body(("plain",)).get_content()
    assert "THB/automatic" in text
    assert f"auto-replies (out of office): {expected['auto_reply']}" in text
    assert f"delivery reports and bounces: {expected['delivery_report']}" in text
    assert f"read receipts: {expected['read_receipt']}" in text and f"mailing-list messages: {expected['mailing_list']}" in text
    assert f"automatski odgovori (van kancelarije): {expected['auto_reply']}" in text


@pytest.mark.parametrize("headers, kind", [
    # Dovecot's Sieve vacation (Pigeonhole) and Exchange send their auto-replies with an empty return path,
    # as RFC 3834 asks: still auto-replies, not bounces
    ({"Return-Path": "<>", "Auto-Submitted": "auto-replied (vacation)", "Precedence": "bulk"}, "auto_reply"),
    ({"Return-Path": "<>", "Auto-Submitted": "auto-generated", "X-Auto-Response-Suppress": "All"}, "auto_reply"),
    ({"Return-Path": "<>", "X-Autoreply": "yes"}, "auto_reply"),
    ({"Return-Path": "<>"}, "delivery_report"),  # an old-style bounce: nothing but the empty return path
    ({"From": "Mail Delivery Subsystem <postmaster@mail.example.org>"}, "delivery_report"),
    ({"Return-Path": "<tim@example.org>", "X-Auto-Response-Suppress": "All"}, None),  # asks, does not say
])
def test_each_kind_of_automatic_mail_is_counted_as_what_it_is(mail_config, headers, kind):  # noqa: F811
    from thb_reporting.intake import mailbox

    message = e_mail(mail_config.teams["subotica"].contact_emails[0], body="Van kancelarije sam.")
    for name, value in headers.items():
        if name in message:
            message.replace_header(name, value)
        else:
            message[name] = value
    assert mailbox.automatic_kind(message) == kind


@pytest.mark.parametrize("header, value", [("Auto-Submitted", "no"), ("Precedence", "normal")])
def test_a_person_s_mail_that_says_it_is_not_automatic_is_handled(tmp_path, mail_config, header, value):  # noqa: F811
    from thb_reporting.intake import mailbox

    name, data = victims_file(tmp_path)
    message = e_mail(mail_config.teams["subotica"].contact_emails[0], files=[(name, data)])
    message[header] = value
    assert mailbox.automatic_kind(message) is None
    assert mailbox.judge(message, len(bytes(message)), mail_config).outcome == mailbox.MailOutcome.DELIVERED


def test_a_rejected_mailed_file_is_answered_in_e_mail_words(tmp_path, mail_config, imap, smtp_server):  # noqa: F811
    from thb_reporting.intake import mailbox

    client, deliver = imap
    port, smtp = smtp_server
    name, data = victims_file(tmp_path)
    broken = data.replace(b"female", b"zenska", 1)
    assert broken != data
    deliver(e_mail(mail_config.teams["subotica"].contact_emails[0], files=[(name, broken)]))
    mailbox.pull_mailbox(mail_config, client)
    run_pipeline(mail_config, port)
    [(_, reply)] = smtp.received
    text = reply.get_body(("plain",)).get_content()
    assert "reply to this e-mail with the corrected file attached" in text
    assert "odgovorite na ovu poruku sa ispravljenim fajlom" in text
    assert "same folder" not in text and "isti folder" not in text
