"""The reporting mailbox's part of the ledger (schema `ledger`): ledger.mail_messages, every e-mail the mailbox
took (thb_reporting.intake.mailbox), and the link from a submission to the e-mail that brought it
(ledger.submissions.mail_*). The only module that writes or reads ledger.mail_messages.

Apart from thb_reporting.store.ledger so that each stays a size to read (#21); the table is in the ledger's
MetaData and schema all the same (ledger.METADATA, ledger.SCHEMA): ledger.add_tables copies it into the
warehouse's tables with the others, so create_all, the migrations and the data dictionary see one ledger.
Light on purpose like the ledger (SQLAlchemy only); functions take an open connection."""
from __future__ import annotations

import hashlib
import re

from sqlalchemy import Column, DateTime, Table, Text, UniqueConstraint, func, select, update

from thb_reporting.store.ledger import METADATA, SCHEMA, SUBMISSIONS

# Outcomes of mail no person wrote (thb_reporting.intake.mailbox.automatic_kind): never answered, counted in the digest.
AUTOMATIC_MAIL = ("auto_reply", "delivery_report", "read_receipt", "mailing_list")
# Outcomes of mail that brought no file the pipeline takes: answered (the coordinator, for an unknown sender)
# by notifications.queue_mail_replies.
# A reply to a validation e-mail without a file is the team's explanation of that submission's warnings:
# recorded (explanation) or refused for a personal identifier in it (explanation_refused); both answered.
ANSWERED_MAIL = ("unknown_sender", "no_attachment", "archive", "encrypted", "oversized", "ambiguous_team", "tnef_only",
                 "explanation", "explanation_refused")
OUTCOME_COMMENT = ("delivered | duplicate | unknown_sender | no_attachment | archive | encrypted | oversized | "
                   "ambiguous_team | tnef_only | explanation | explanation_refused; mail no person wrote, never "
                   "answered: auto_reply | delivery_report | read_receipt | mailing_list")
MESSAGE_ID_DOMAIN = "thb-national-reporting"  # the right-hand side of every Message-ID the pipeline writes
_NOTICE_ID = re.compile(r"<submission-(\d{1,12})-([0-9a-f]{12})@" + re.escape(MESSAGE_ID_DOMAIN) + ">")
MAIL_MESSAGES = Table(
    "mail_messages", METADATA,
    Column("message_key", Text, nullable=False, index=True,
           comment="the e-mail's Message-ID, or sha256:<hash of the whole message> when it has no usable one"),
    Column("content_sha256", Text, nullable=False,
           comment="SHA-256 of an attachment placed in the inbox (one row each); empty when none was"),
    Column("sender", Text, comment="the sender's address when it is a registered contact; empty otherwise"),
    Column("mail_date", DateTime(timezone=True), comment="the e-mail's Date"),
    Column("outcome", Text, nullable=False,
           comment=OUTCOME_COMMENT),
    Column("team_code", Text, comment="the team whose inbox the attachment was placed in"),
    Column("handled_at", DateTime(timezone=True), nullable=False, comment="when the mailbox step handled it"),
    Column("kept_in", Text, comment="the folder of the mailbox the e-mail was moved to (THB/processed, THB/quarantine, "
                                    "THB/automatic)"),
    Column("replied_at", DateTime(timezone=True), comment="when its reply (or the coordinator's notice) was queued; "
                                                          "empty when none is owed or not yet"),
    UniqueConstraint("message_key", "content_sha256", name="mail_messages_key_content_key"),
    schema=SCHEMA, comment="Each e-mail the reporting mailbox took, once (thb_reporting.intake.mailbox): one row per "
                           "attachment placed in a team's inbox, or one row saying why none was",
)


def mail_seen(conn, message_key: str, team: str | None = None, sha256: str | None = None) -> bool:
    """Whether an e-mail was handled already: by its key, or (when given) its attachment's team and hash."""
    c = MAIL_MESSAGES.c
    if conn.execute(select(c.message_key).where(c.message_key == message_key)).first():
        return True
    return sha256 is not None and conn.execute(select(c.message_key).where(
        c.team_code == team, c.content_sha256 == sha256, c.outcome == "delivered")).first() is not None


def mail_outcome_counts(conn, outcomes, since) -> dict[str, int]:
    """How many e-mails had each of `outcomes` since a time (the digest counts the automatic ones)."""
    m = MAIL_MESSAGES.c
    rows = conn.execute(select(m.outcome, func.count(func.distinct(m.message_key)))
                        .where(m.outcome.in_(list(outcomes)), m.handled_at >= since).group_by(m.outcome))
    return {outcome: n for outcome, n in rows}


def record_mail(conn, message_key: str, outcome: str, handled_at, *, sender: str | None = None, mail_date=None,
                team_code: str | None = None, content_sha256: str = "", kept_in: str | None = None) -> None:
    conn.execute(MAIL_MESSAGES.insert().values(
        message_key=message_key, sender=sender, mail_date=mail_date, outcome=outcome, team_code=team_code,
        content_sha256=content_sha256, handled_at=handled_at, kept_in=kept_in))


def notice_key(submission_id: int, sha256: str) -> str:
    """The key of a submission's validation e-mail: its Message-ID is <key@MESSAGE_ID_DOMAIN>."""
    return f"submission-{submission_id}-{sha256[:12]}"


def noticed_submissions(*headers: str) -> list[tuple[int, str]]:
    """(submission id, the first 12 hex digits of its file's SHA-256) of each validation e-mail named in
    In-Reply-To or References: the thread a team's reply belongs to."""
    found = [(int(n), sha) for h in headers for n, sha in _NOTICE_ID.findall(h or "")]
    return list(dict.fromkeys(found))


def mail_ref(message_key: str) -> str:
    """An e-mail's number in logs, notices and the outbox: the start of its key's hash (the key may name the sender)."""
    return hashlib.sha256(message_key.encode()).hexdigest()[:16]


def mail_awaiting_reply(conn) -> list:
    """The e-mails that brought no file the pipeline takes (ANSWERED_MAIL) and whose reply is not queued yet."""
    m = MAIL_MESSAGES.c
    return conn.execute(select(MAIL_MESSAGES).where(m.outcome.in_(ANSWERED_MAIL), m.replied_at.is_(None))
                        .order_by(m.handled_at)).all()


def set_mail_replied(conn, message_key: str, when) -> None:
    conn.execute(update(MAIL_MESSAGES).where(MAIL_MESSAGES.c.message_key == message_key).values(replied_at=when))


def link_mail(conn) -> int:
    """Give each submission that an e-mail brought its Message-ID, sender and date (matched by team and
    hash: the file's name is not kept, it may hold an identifier); returns how many were linked now."""
    s, m = SUBMISSIONS.c, MAIL_MESSAGES.c
    linked = 0
    unlinked = select(s.submission_id).where(s.mail_message_id.is_(None), s.team_code == m.team_code,
                                             s.content_sha256 == m.content_sha256)
    for r in conn.execute(select(MAIL_MESSAGES).where(m.outcome == "delivered", unlinked.exists())):
        linked += conn.execute(update(SUBMISSIONS).where(
            s.team_code == r.team_code, s.content_sha256 == r.content_sha256, s.mail_message_id.is_(None)).values(
            mail_message_id=r.message_key, mail_sender=r.sender, mail_date=r.mail_date)).rowcount
    return linked
