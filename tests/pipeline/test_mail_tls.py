"""The mail connections over TLS, against real servers on loopback with certificates of a CA made here
(tests/support/certificates.py): smtp_default through the SMTP provider's SmtpHook to aiosmtpd with STARTTLS
and with implicit TLS, imap_default through the IMAP provider's ImapHook to Dovecot with ssl = required. The
providers' defaults hold (TLS on, the certificate verified, against the CA that SSL_CERT_FILE names): the
right CA works end to end; a wrong CA, a wrong host name or plain text is refused with the connection's name
and the reason; nothing is lost (the outbox keeps the message and its attempt, the mailbox its e-mail)."""
from __future__ import annotations

import datetime as dt
import imaplib
import json
import ssl
from pathlib import Path

import pytest

import certificates
from fixtures import TEST_KEY, free_port, plain_smtp
from test_mailbox import e_mail, folder, mail_config, submissions, victims_file  # noqa: F401 (mail_config: a fixture)

LATER = dt.timedelta(minutes=3)  # past the first backoff (outbox.backoff(1) = 2 minutes)


@pytest.fixture
def authority(tmp_path, monkeypatch):
    """The CA the tests trust (SSL_CERT_FILE: the file ssl.create_default_context reads, as the hooks build
    their context), a server certificate it signed for localhost, and another CA nobody should trust."""
    ca = certificates.make_ca(tmp_path / "ca", "THB test CA")
    monkeypatch.setenv("SSL_CERT_FILE", str(ca.cert))
    return ca, certificates.issue(ca, ["localhost", "127.0.0.1"]), certificates.make_ca(tmp_path / "other", "Other CA")


class _TlsMailbox:
    """What the SMTP server received, and whether each message came over TLS."""

    def __init__(self):
        self.received: list[tuple[list[str], bytes, bool]] = []

    async def handle_DATA(self, server, session, envelope):
        over_tls = server.transport.get_extra_info("ssl_object") is not None
        self.received.append((list(envelope.rcpt_tos), envelope.content, over_tls))
        return "250 OK"


def _smtp(mode: str, issued, mailbox):
    """aiosmtpd on 127.0.0.1 presenting `issued`: STARTTLS required before any mail, or implicit TLS."""
    from aiosmtpd.controller import Controller

    context = certificates.server_context(issued)
    tls = {"tls_context": context, "require_starttls": True} if mode == "starttls" else {"ssl_context": context}
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port(), **tls)
    controller.start()
    return controller


def _smtp_connection(port: int, mode: str, **extra) -> str:
    """smtp_default as a deployment writes it: the provider's defaults, but for the one TLS mode not used."""
    off = {"disable_ssl": True} if mode == "starttls" else {"disable_tls": True}
    return json.dumps({"conn_type": "smtp", "host": "localhost", "port": port, "extra": {**off, **extra}})


def _queue_one(config, generator_root: Path) -> int:
    """One team's file taken in and validated, and its validation e-mail queued; returns how many were queued."""
    from thb_reporting.intake import ingest
    from thb_reporting.messaging.notifications import queue_submission_notices
    from thb_reporting.tools.generator import SubmissionGenerator

    SubmissionGenerator(generator_root, seed=7).victims_file("nis", "2026Q2", file_format="csv")
    ingest.process_submissions(config, ingest.collect_new_submissions(config))
    return queue_submission_notices(config)


def _outbox(config) -> list:
    from thb_reporting.store.warehouse import reporting_engine, table

    with reporting_engine(config.reporting_db_url).connect() as conn:
        return conn.execute(table("outbox", "ledger").select()).all()


@pytest.fixture
def local_config(tmp_path):
    from thb_reporting.core.config import PipelineConfig

    return PipelineConfig.local(tmp_path / "data", TEST_KEY)


@pytest.mark.parametrize("mode", ["starttls", "implicit"])
def test_smtp_verified_tls_delivers_and_a_wrong_ca_loses_nothing(mode, local_config, authority, monkeypatch):
    from thb_reporting.messaging.outbox import SmtpSender, deliver_outbox, sender_from_airflow

    ca, issued, other = authority
    mailbox = _TlsMailbox()
    controller = _smtp(mode, issued, mailbox)
    try:
        monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", _smtp_connection(controller.port, mode))
        assert _queue_one(local_config, Path(local_config.inbox.removeprefix("file://"))) == 1
        assert isinstance(sender_from_airflow(local_config), SmtpSender)
        monkeypatch.setenv("SSL_CERT_FILE", str(other.cert))  # a CA that did not sign the server's certificate
        assert deliver_outbox(local_config, sender_from_airflow(local_config)) == {"sent": 0, "failed": 1}
        [row] = _outbox(local_config)
        assert (row.status, row.attempts) == ("pending", 1) and mailbox.received == []
        assert row.last_error.startswith("MailConnectionRefused: smtp_default: the server's certificate was refused")
        assert "unable to get local issuer certificate" in row.last_error

        monkeypatch.setenv("SSL_CERT_FILE", str(ca.cert))  # fixed: the next run after the backoff sends it
        later = dt.datetime.now(dt.timezone.utc) + LATER
        assert deliver_outbox(local_config, sender_from_airflow(local_config), now=later) == {"sent": 1, "failed": 0}
        [(recipients, content, over_tls)] = mailbox.received
        assert over_tls and recipients and b"Subject:" in content
        [row] = _outbox(local_config)
        assert (row.status, row.attempts, row.last_error) == ("sent", 2, None)
    finally:
        controller.stop()


@pytest.mark.parametrize("mode", ["starttls", "implicit"])
def test_smtp_a_certificate_for_another_host_is_refused(mode, local_config, authority, monkeypatch):
    from thb_reporting.messaging.outbox import deliver_outbox, sender_from_airflow

    ca, _, _ = authority
    mailbox = _TlsMailbox()
    controller = _smtp(mode, certificates.issue(ca, ["mail.elsewhere.test"], stem="elsewhere"), mailbox)
    try:
        monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", _smtp_connection(controller.port, mode))
        _queue_one(local_config, Path(local_config.inbox.removeprefix("file://")))
        assert deliver_outbox(local_config, sender_from_airflow(local_config)) == {"sent": 0, "failed": 1}
        [row] = _outbox(local_config)
        assert row.status == "pending" and mailbox.received == []
        assert "smtp_default: the server's certificate was refused (Hostname mismatch" in row.last_error
    finally:
        controller.stop()


def test_smtp_plain_text_is_refused_both_ways(local_config, authority, monkeypatch, smtp_server):
    """The provider's defaults ask a plain server for STARTTLS, and send nothing when it has none; a server
    that requires STARTTLS takes nothing from a connection that turned TLS off."""
    from thb_reporting.messaging.outbox import deliver_outbox, sender_from_airflow

    _, issued, _ = authority
    plain_port, plain_mailbox = smtp_server
    _queue_one(local_config, Path(local_config.inbox.removeprefix("file://")))
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", _smtp_connection(plain_port, "starttls"))
    assert deliver_outbox(local_config, sender_from_airflow(local_config)) == {"sent": 0, "failed": 1}
    assert "smtp_default: the server offers no STARTTLS" in _outbox(local_config)[0].last_error
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", _smtp_connection(plain_port, "implicit"))
    assert deliver_outbox(local_config, sender_from_airflow(local_config), now=dt.datetime.now(dt.timezone.utc) + LATER
                          ) == {"sent": 0, "failed": 1}
    assert "smtp_default: the TLS handshake failed" in _outbox(local_config)[0].last_error
    assert plain_mailbox.received == []

    mailbox = _TlsMailbox()
    controller = _smtp("starttls", issued, mailbox)
    try:
        monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", plain_smtp(controller.port))
        assert deliver_outbox(local_config, sender_from_airflow(local_config), now=dt.datetime.now(dt.timezone.utc)
                              + dt.timedelta(hours=1)) == {"sent": 0, "failed": 1}
        [row] = _outbox(local_config)
        assert (row.status, row.attempts) == ("pending", 3) and mailbox.received == []
        assert "smtp_default:" in row.last_error and "STARTTLS" in row.last_error
    finally:
        controller.stop()


@pytest.mark.parametrize(("kind", "extra"), [("smtp", {"disable_tls": "false"}), ("imap", {"use_ssl": "False"})])
def test_a_tls_flag_the_hook_would_read_the_other_way_is_refused(kind, extra, local_config, monkeypatch):
    """bool("false") is True: the SMTP provider would send in plain text, the IMAP one would not turn TLS off."""
    from thb_reporting.core.mail_connections import MailConnectionRefused
    from thb_reporting.intake.mailbox import imap_client_from_airflow
    from thb_reporting.messaging.outbox import SmtpSender

    monkeypatch.setenv(f"AIRFLOW_CONN_{kind.upper()}_DEFAULT", json.dumps(
        {"conn_type": kind, "host": "127.0.0.1", "port": free_port(), "extra": extra}))
    with pytest.raises(MailConnectionRefused, match=f"{kind}_default: the extra {next(iter(extra))} is the text"):
        SmtpSender().send(e_mail("a@example.org")) if kind == "smtp" else imap_client_from_airflow()


# --- imap_default: Dovecot with ssl = required ------------------------------------------------------------
@pytest.fixture
def tls_dovecot(authority):
    """Dovecot with ssl = required presenting `issued`; yields (TLS port, login, password, plain port) and a
    function that delivers a message into its INBOX (IMAP APPEND over verified TLS)."""
    import dovecot

    if dovecot.executable() is None:
        pytest.fail("dovecot is missing (apt-get install dovecot-imapd)")
    ca, issued, _ = authority
    with dovecot.running(tls=issued) as server:
        port, user, password, _ = server

        def deliver(message) -> None:
            with imaplib.IMAP4_SSL("localhost", port, ssl_context=ssl.create_default_context(cafile=ca.cert)) as c:
                c.login(user, password)
                assert c.append("INBOX", None, None, bytes(message))[0] == "OK"

        yield server, deliver


def _imap_default(monkeypatch, host: str, port: int, user: str, password: str, **extra) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_IMAP_DEFAULT", json.dumps(
        {"conn_type": "imap", "host": host, "port": port, "login": user, "password": password, "extra": extra}))


def _inbox_of(server, ca) -> list[bytes]:
    port, user, password, _ = server
    with imaplib.IMAP4_SSL("localhost", port, ssl_context=ssl.create_default_context(cafile=ca.cert)) as c:
        c.login(user, password)
        return folder(c, "INBOX")


def test_imap_verified_tls_takes_a_file_in_and_a_wrong_ca_leaves_the_mail(
        tmp_path, mail_config, authority, tls_dovecot, monkeypatch):  # noqa: F811
    from thb_reporting.core.mail_connections import MailConnectionRefused
    from thb_reporting.core.privacy import error_class
    from thb_reporting.intake import inbox_watch, ingest, mailbox

    ca, _, other = authority
    server, deliver = tls_dovecot
    port, user, password, _ = server
    name, data = victims_file(tmp_path)
    sent = e_mail(mail_config.teams["subotica"].contact_emails[0], files=[(name, data)])
    deliver(sent)
    _imap_default(monkeypatch, "localhost", port, user, password)  # the provider's defaults: TLS, verified

    monkeypatch.setenv("SSL_CERT_FILE", str(other.cert))
    with pytest.raises(MailConnectionRefused) as refused:
        mailbox.pull_mailbox(mail_config)
    assert str(refused.value).startswith("imap_default: the server's certificate was refused (unable to get local")
    # the words the DAG's log line and the mailbox watch's say (core.privacy.error_class), not the class alone
    assert error_class(refused.value) == f"MailConnectionRefused: {refused.value}"
    with pytest.raises(OSError, match="^imap_default: the server's certificate"):  # the watch waits and looks again
        inbox_watch.MailboxSession().signatures()
    assert _inbox_of(server, ca) == [sent["Message-ID"].encode()]  # the e-mail waits on the server

    monkeypatch.setenv("SSL_CERT_FILE", str(ca.cert))
    assert mailbox.pull_mailbox(mail_config) == {"delivered": 1}
    assert (Path(mail_config.inbox.removeprefix("file://")) / "subotica" / name).read_bytes() == data
    ingest.process_submissions(mail_config, ingest.collect_new_submissions(mail_config))
    [sub] = submissions(mail_config)
    assert sub.team_code == "subotica" and sub.mail_message_id == sent["Message-ID"]
    assert _inbox_of(server, ca) == []


def test_imap_a_certificate_for_another_host_and_plain_text_are_refused(
        tmp_path, mail_config, authority, monkeypatch):  # noqa: F811
    import dovecot

    from thb_reporting.core.mail_connections import MailConnectionRefused
    from thb_reporting.intake import mailbox

    ca, _, _ = authority
    with dovecot.running(tls=certificates.issue(ca, ["mail.elsewhere.test"], stem="elsewhere")) as server:
        port, user, password, plain_port = server
        _imap_default(monkeypatch, "localhost", port, user, password)
        with pytest.raises(MailConnectionRefused, match=r"^imap_default: the server's certificate was refused "
                                                        r"\(Hostname mismatch"):
            mailbox.pull_mailbox(mail_config)
        # TLS (the default) to a port without it: refused before a word is said
        _imap_default(monkeypatch, dovecot.PLAIN_ADDRESS, plain_port, user, password)
        with pytest.raises(MailConnectionRefused, match=r"^imap_default: the TLS handshake failed \(WRONG_VERSION"):
            mailbox.pull_mailbox(mail_config)
        # TLS turned off explicitly, against a server that requires it: the login is refused, nothing is read
        _imap_default(monkeypatch, dovecot.PLAIN_ADDRESS, plain_port, user, password, use_ssl=False)
        with pytest.raises(MailConnectionRefused, match=r"^imap_default: error: \[PRIVACYREQUIRED\] Plaintext "
                                                        r"authentication disallowed"):
            mailbox.pull_mailbox(mail_config)
