"""The outbox (ledger.outbox): every e-mail is queued once (a unique key per submission, digest week or
reminder) and sent from there. A send that fails stays in the outbox and is tried again by a later run
after a backoff; a send interrupted by a crash is taken again after STALE_SENDING. The submission's
notification state in the ledger follows (sent, retrying).

What a message says is thb_reporting.messaging.messages'; who is told when, thb_reporting.messaging.notifications'."""
from __future__ import annotations

import datetime as dt
import logging
import re
import smtplib
from collections import defaultdict
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from enum import StrEnum
from typing import cast

from sqlalchemy import or_, select, update

from thb_reporting.core import clock
from thb_reporting.core.mail_connections import SMTP_CONNECTION, check_tls_flags, mail_connection, refusal
from thb_reporting.store import ledger
from thb_reporting.core.config import PipelineConfig
from thb_reporting.store.ledger import OUTBOX, Notification
from thb_reporting.store.storage import storage_path, write_atomically
from thb_reporting.store.migrations import ensure_schema
from thb_reporting.store.warehouse import reporting_engine

log = logging.getLogger(__name__)
STALE_SENDING = dt.timedelta(hours=1)  # a send interrupted by a crash is tried again after this


class OutboxStatus(StrEnum):
    """A message's state as stored in ledger.outbox.status."""
    PENDING = "pending"  # waiting for its next attempt (next_attempt_at)
    SENDING = "sending"  # claimed by a run
    SENT = "sent"  # the mail server accepted it


def backoff(attempts: int) -> dt.timedelta:
    """2, 4, 8 … minutes after each failed attempt, at most 6 hours."""
    return min(dt.timedelta(minutes=2 ** attempts), dt.timedelta(hours=6))


# --- senders --------------------------------------------------------------------------------------
@dataclass
class SmtpSender:
    """Sends through the SMTP provider's SmtpHook and its connection, so every extra of the provider's docs
    holds, with its defaults: implicit TLS (disable_ssl), else STARTTLS (disable_tls), the certificate
    verified (ssl_context "default"), login or OAuth2 (auth_type), timeout, retry_limit. from_email, where
    set, is the envelope sender; the From header stays the national contact's (messages.py).
    Within `session()` (deliver_outbox) one client, opened at the first message, carries them all: one
    connection lookup, handshake and login per delivery instead of one per message."""
    conn_id: str = SMTP_CONNECTION

    def __post_init__(self):
        self._hook = None  # the session's hook, its client open (None: outside a session, or none opened yet)
        self._in_session = False

    @contextmanager
    def session(self):
        self._in_session = True
        try:
            yield self
        finally:
            self._in_session = False
            self._close()

    def send(self, message: EmailMessage) -> None:
        from airflow.sdk.exceptions import AirflowException

        reused = self._hook is not None
        try:
            try:
                self._send(message)
            except (smtplib.SMTPServerDisconnected, ConnectionError):  # not a refusal of the message
                if not reused:  # a fresh client failed: that stands
                    raise
                self._close()  # the server closed the session's client (idle, or its limit of messages): anew once
                self._send(message)
        except (OSError, smtplib.SMTPException, RuntimeError, AirflowException) as e:
            self._close()
            raise refusal(self.conn_id, e) from e
        finally:
            if not self._in_session:
                self._close()

    def _send(self, message: EmailMessage) -> None:
        if self._hook is None:
            from airflow.providers.smtp.hooks.smtp import SmtpHook

            hook = SmtpHook(smtp_conn_id=self.conn_id)
            check_tls_flags(self.conn_id, "smtp", hook.get_connection(self.conn_id).extra_dejson)
            self._hook = hook
            hook.get_conn()
        # The hook's send_email_smtp builds an HTML message of its own; ours (text and HTML, the thread's
        # headers) goes as it is, over the client the hook opened, secured and logged in.
        client = cast(smtplib.SMTP, self._hook._smtp_client)  # get_conn (not aget_conn) opens smtplib's client
        client.send_message(message, from_addr=self._hook.from_email)

    def _close(self) -> None:
        hook, self._hook = self._hook, None
        if hook is not None and hook._smtp_client is not None:
            with suppress(OSError, smtplib.SMTPException):
                hook._smtp_client.close()


_MESSAGE_ID = re.compile(r"^Message-ID:[ \t]*<([^@<>\s/\\]+)@[^>\s]*>[ \t]*$", re.MULTILINE | re.IGNORECASE)


@dataclass
class FolderSender:
    """Writes each message as an .eml file instead of sending it (local runs without SMTP)."""
    folder: str

    @contextmanager
    def session(self):
        yield self

    def send(self, message: EmailMessage) -> None:
        write_atomically(storage_path(self.folder) / self._name(message), bytes(message))

    def send_stored(self, text: str) -> None:
        """A message as the outbox stores it (EmailMessage.as_string): its bytes are what send writes, without
        parsing the whole message and writing it out again."""
        from email.parser import HeaderParser

        head = text.partition("\n\n")[0] + "\n\n"  # the header block ends at the first empty line (as_string's \n)
        # our own Message-ID (make_msgid: one unfolded line), read without parsing every header: parsing them
        # took a third of a quarter's delivery to the folder
        found = _MESSAGE_ID.search(head)
        name = (f"{found.group(1)}.eml" if found else self._name(HeaderParser(policy=policy.default).parsestr(head)))
        write_atomically(storage_path(self.folder) / name, text.encode())

    @staticmethod
    def _name(message) -> str:
        return message["Message-ID"].strip("<>").split("@")[0] + ".eml"


def sender_from_airflow(config: PipelineConfig):
    """SMTP through the connection smtp_default; without it, .eml files under <data_root>/outbox."""
    if mail_connection(SMTP_CONNECTION) is None:
        return FolderSender(f"{config.data_root}/outbox")
    return SmtpSender(SMTP_CONNECTION)


# --- queue and deliver ------------------------------------------------------------------------------
def enqueue(conn, key: str, kind: str, message: EmailMessage, submission_id: int | None = None) -> bool:
    """Queue a message once per key; returns whether it was queued now (False: the key was queued before)."""
    return bool(enqueue_many(conn, [(key, kind, message, submission_id)]))


def enqueue_many(conn, items) -> set[str]:
    """Queue each (key, kind, message, submission id) once per key, in one statement; returns the keys
    queued now (the others were queued before)."""
    now, rows = clock.now(), {}
    for key, kind, message, submission_id in items:
        if key not in rows:
            rows[key] = dict(dedupe_key=key, kind=kind, submission_id=submission_id, recipients=message["To"],
                             subject=message["Subject"], message=message.as_string(), status=OutboxStatus.PENDING.value,
                             attempts=0, created_at=now, next_attempt_at=now, last_error=None, sent_at=None)
    if not rows:
        return set()
    # A key queued before, or by another run at this moment (ingest runs overlap): its row stands, ours is dropped.
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = (dialect.insert(OUTBOX).on_conflict_do_nothing(index_elements=[OUTBOX.c.dedupe_key])
                 .returning(OUTBOX.c.dedupe_key))
    return set(conn.execute(statement, list(rows.values())).scalars())


DELIVERY_BATCH = 50  # messages claimed, and then recorded, in one transaction each (a commit waits for the disk)


def deliver_outbox(config: PipelineConfig, sender, now: dt.datetime | None = None) -> dict:
    """Send every message that is due (sender: a sender, or a function that makes one, called only when a
    message is due); a failure stays in the outbox for a later attempt. Messages are
    claimed DELIVERY_BATCH at a time and their outcomes recorded together once the batch is sent: a crash
    in between leaves the batch `sending`, taken again after STALE_SENDING."""
    now = now or clock.now()
    engine = reporting_engine(config.reporting_db_url)
    ensure_schema(engine, views=False)  # the ledger only
    with engine.connect() as conn:
        due = conn.execute(select(OUTBOX).where(or_(
            (OUTBOX.c.status == OutboxStatus.PENDING.value) & (OUTBOX.c.next_attempt_at <= now),
            (OUTBOX.c.status == OutboxStatus.SENDING.value) & (OUTBOX.c.next_attempt_at <= now - STALE_SENDING),
        )).order_by(OUTBOX.c.message_id)).all()
    result = {"sent": 0, "failed": 0}
    if not due:
        return result
    if not hasattr(sender, "send"):
        sender = sender()
    session = sender.session() if hasattr(sender, "session") else nullcontext(sender)
    with session:
        for start in range(0, len(due), DELIVERY_BATCH):
            batch = _claim(engine, due[start:start + DELIVERY_BATCH], now)
            outcomes = [(row, _send(sender, row)) for row in batch]
            _record(engine, outcomes, now)
            for row, error in outcomes:
                if error is not None:
                    log.warning("could not send %r (attempt %d): %s", row.subject, row.attempts + 1, error)
                result["failed" if error is not None else "sent"] += 1
    return result


def _claim(engine, rows, now: dt.datetime) -> list:
    """The rows of `rows` claimed now (still as read: a parallel run claimed none of them), so that a
    parallel run does not send them too."""
    claimed = set()
    with engine.begin() as conn:
        for status in {row.status for row in rows}:
            ids = [row.message_id for row in rows if row.status == status]
            # still due: a stale `sending` row that a parallel run has just claimed is `sending` again, but
            # with a fresh time
            due_by = now - STALE_SENDING if status == OutboxStatus.SENDING.value else now
            claimed |= set(conn.execute(update(OUTBOX).where(OUTBOX.c.message_id.in_(ids), OUTBOX.c.status == status,
                                                             OUTBOX.c.next_attempt_at <= due_by)
                                        .values(status=OutboxStatus.SENDING.value, next_attempt_at=now)
                                        .returning(OUTBOX.c.message_id)).scalars())
    return [row for row in rows if row.message_id in claimed]


def _send(sender, row) -> Exception | None:
    from email import message_from_string

    try:
        if hasattr(sender, "send_stored"):
            sender.send_stored(row.message)
        else:
            sender.send(message_from_string(row.message, policy=policy.default))
    except Exception as e:  # noqa: BLE001 (SMTP down, refused, timed out: keep it and try later)
        return e
    return None


def _record(engine, outcomes, now: dt.datetime) -> None:
    """Each message sent, or back to pending after its backoff; the submission's notification follows."""
    if not outcomes:
        return
    sent_at = clock.now()
    sent: dict[int, list[int]] = defaultdict(list)  # attempts so far → the messages sent now (one statement each)
    with engine.begin() as conn:
        for row, error in outcomes:
            attempts = row.attempts + 1
            if error is None:
                sent[attempts].append(row.message_id)
                continue
            conn.execute(update(OUTBOX).where(OUTBOX.c.message_id == row.message_id).values(
                status=OutboxStatus.PENDING.value, attempts=attempts,
                last_error=f"{type(error).__name__}: {error}"[:500], next_attempt_at=now + backoff(attempts)))
        for attempts, ids in sorted(sent.items()):
            conn.execute(update(OUTBOX).where(OUTBOX.c.message_id.in_(ids)).values(
                status=OutboxStatus.SENT.value, attempts=attempts, sent_at=sent_at, last_error=None))
        for state in (Notification.SENT, Notification.RETRYING):
            ids = [row.submission_id for row, error in outcomes
                   if row.submission_id and (error is None) == (state == Notification.SENT)]
            if ids:
                ledger.set_notifications(conn, ids, state)
