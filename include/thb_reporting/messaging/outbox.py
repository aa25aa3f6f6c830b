"""The outbox (ledger.outbox): every e-mail is queued once (a unique key per submission, digest week or
reminder) and sent from there. A send that fails stays in the outbox and is tried again by a later run
after a backoff; a send interrupted by a crash is taken again after STALE_SENDING. The submission's
notification state in the ledger follows (sent, retrying).

What a message says is thb_reporting.messaging.messages'; who is told when, thb_reporting.messaging.notifications'."""
from __future__ import annotations

import datetime as dt
import logging
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from enum import StrEnum
from typing import cast

from sqlalchemy import or_, select, update

from thb_reporting.core import clock
from thb_reporting.core.mail_connections import check_tls_flags, refusal
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
SMTP_CONNECTION = "smtp_default"


@dataclass
class SmtpSender:
    """Sends through the SMTP provider's SmtpHook and its connection, so every extra of the provider's docs
    holds, with its defaults: implicit TLS (disable_ssl), else STARTTLS (disable_tls), the certificate
    verified (ssl_context "default"), login or OAuth2 (auth_type), timeout, retry_limit. from_email, where
    set, is the envelope sender; the From header stays the national contact's (messages.py)."""
    conn_id: str = SMTP_CONNECTION

    def send(self, message: EmailMessage) -> None:
        from airflow.providers.smtp.hooks.smtp import SmtpHook
        from airflow.sdk.exceptions import AirflowException

        hook = SmtpHook(smtp_conn_id=self.conn_id)
        try:
            check_tls_flags(self.conn_id, "smtp", hook.get_connection(self.conn_id).extra_dejson)
            hook.get_conn()
            # The hook's send_email_smtp builds an HTML message of its own; ours (text and HTML, the thread's
            # headers) goes as it is, over the client the hook opened, secured and logged in.
            client = cast(smtplib.SMTP, hook._smtp_client)  # get_conn (not aget_conn) opens smtplib's client
            client.send_message(message, from_addr=hook.from_email)
        except (OSError, smtplib.SMTPException, RuntimeError, AirflowException) as e:
            raise refusal(self.conn_id, e) from e
        finally:
            if hook._smtp_client is not None:
                hook._smtp_client.close()


@dataclass
class FolderSender:
    """Writes each message as an .eml file instead of sending it (local runs without SMTP)."""
    folder: str

    def send(self, message: EmailMessage) -> None:
        name = message["Message-ID"].strip("<>").split("@")[0] + ".eml"
        write_atomically(storage_path(self.folder) / name, bytes(message))


def sender_from_airflow(config: PipelineConfig):
    """SMTP through the connection smtp_default; without it, .eml files under <data_root>/outbox."""
    from airflow.sdk import Connection
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        Connection.get(SMTP_CONNECTION)
    except AirflowNotFoundException:
        return FolderSender(f"{config.data_root}/outbox")
    return SmtpSender(SMTP_CONNECTION)


# --- queue and deliver ------------------------------------------------------------------------------
def enqueue(conn, key: str, kind: str, message: EmailMessage, submission_id: int | None = None) -> bool:
    """Queue a message once per key; returns whether it was queued now (False: the key was queued before)."""
    if conn.execute(select(OUTBOX.c.message_id).where(OUTBOX.c.dedupe_key == key)).first():
        return False
    conn.execute(OUTBOX.insert().values(
        dedupe_key=key, kind=kind, submission_id=submission_id, recipients=message["To"], subject=message["Subject"],
        message=message.as_string(), status=OutboxStatus.PENDING.value, attempts=0, created_at=clock.now(),
        next_attempt_at=clock.now(),
    ))
    return True


def deliver_outbox(config: PipelineConfig, sender, now: dt.datetime | None = None) -> dict:
    """Send every message that is due; a failure stays in the outbox for a later attempt."""
    now = now or clock.now()
    engine = reporting_engine(config.reporting_db_url)
    ensure_schema(engine)
    with engine.connect() as conn:
        due = conn.execute(select(OUTBOX).where(or_(
            (OUTBOX.c.status == OutboxStatus.PENDING.value) & (OUTBOX.c.next_attempt_at <= now),
            (OUTBOX.c.status == OutboxStatus.SENDING.value) & (OUTBOX.c.next_attempt_at <= now - STALE_SENDING),
        )).order_by(OUTBOX.c.message_id)).all()
    result = {"sent": 0, "failed": 0}
    from email import message_from_string, policy

    for row in due:
        with engine.begin() as conn:  # claim it, so that a parallel run does not send it too
            claimed = conn.execute(update(OUTBOX).where(OUTBOX.c.message_id == row.message_id,
                                                        OUTBOX.c.status == row.status)
                                   .values(status=OutboxStatus.SENDING.value, next_attempt_at=now)).rowcount
        if not claimed:
            continue
        try:
            sender.send(message_from_string(row.message, policy=policy.default))
        except Exception as e:  # noqa: BLE001 (SMTP down, refused, timed out: keep it and try later)
            attempts = row.attempts + 1
            with engine.begin() as conn:
                conn.execute(update(OUTBOX).where(OUTBOX.c.message_id == row.message_id).values(
                    status=OutboxStatus.PENDING.value, attempts=attempts, last_error=f"{type(e).__name__}: {e}"[:500],
                    next_attempt_at=now + backoff(attempts)))
                if row.submission_id:
                    ledger.set_notification(conn, row.submission_id, Notification.RETRYING)
            log.warning("could not send %r (attempt %d): %s", row.subject, attempts, e)
            result["failed"] += 1
            continue
        with engine.begin() as conn:
            conn.execute(update(OUTBOX).where(OUTBOX.c.message_id == row.message_id).values(
                status=OutboxStatus.SENT.value, attempts=row.attempts + 1, sent_at=clock.now(), last_error=None))
            if row.submission_id:
                ledger.set_notification(conn, row.submission_id, Notification.SENT)
        result["sent"] += 1
    return result
