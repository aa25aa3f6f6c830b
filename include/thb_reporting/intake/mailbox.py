"""Submission by e-mail: the reporting mailbox, pulled over IMAP (Airflow's ImapHook, connection imap_default).

Every message in the mailbox's INBOX is handled once (by its Message-ID, and by the hash of each attachment,
in ledger.mail_messages) and then moved to a folder of the mailbox, never deleted:
  THB/processed    an attachment from a registered contact was placed in its team's inbox folder
                   (<inbox>/<team>/<file>), where the folder pipeline takes it unchanged (ingest links the
                   submission to the e-mail's Message-ID, sender and date); and duplicates of such messages;
                   and a team's reply to a validation e-mail without a file: the explanation of that
                   submission's warnings (mail_explanations; one holding a personal identifier is refused and
                   goes to THB/quarantine, its words kept nowhere)
  THB/quarantine   everything else: unknown sender (the coordinator is told, the sender is not), no usable
                   attachment (signed-only mail included), an archive, encrypted mail, an oversized message,
                   a sender of several teams who did not name one, a file packed in Outlook's winmail.dat;
                   each but the first gets a reply.
  THB/automatic    mail no person wrote (automatic_kind: auto-replies, bounces and delivery reports, read
                   receipts, list mail): never answered (RFC 3834: no mail loops), counted in the coordinator's
                   weekly digest.
What a mail program attaches by itself (winmail.dat, a contact card, a signature, a signature's inline image;
storage.NOT_SUBMISSIONS names them) is left aside beside the team's file.
Nothing from a message (subject, file name, body, addresses) reaches a log line, a reply or a ledger column:
the sender is stored as the registry's address it matched, the Message-ID only when it has the plain form
of one; an attachment's name only names the file placed in the inbox (storage.safe_name), which ingest
screens like any file's name.
Without the connection imap_default this step does nothing (the folder inbox alone), and says so once."""
from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import getaddresses, parsedate_to_datetime
from enum import StrEnum

from thb_reporting.core.mail_connections import IMAP_CONNECTION, check_tls_flags, mail_connection, refusal
from thb_reporting.core.privacy import error_class
from thb_reporting.core import clock
from thb_reporting.intake.mail_explanations import record_reply_explanation
from thb_reporting.store import ledger, mail_ledger
from thb_reporting.core.config import PipelineConfig
from thb_reporting.store.storage import not_a_submission, safe_name, storage_path, write_atomically
from thb_reporting.reading.submission_files import SubmissionError, file_format
from thb_reporting.store.migrations import ensure_schema
from thb_reporting.store.warehouse import reporting_engine

log = logging.getLogger(__name__)
CONNECTION = IMAP_CONNECTION
INBOX = "INBOX"
PROCESSED_FOLDER = "THB/processed"
QUARANTINE_FOLDER = "THB/quarantine"
AUTOMATIC_FOLDER = "THB/automatic"
ARCHIVE_NAMES = re.compile(r"\.(zip|rar|7z|gz|tgz|tar|bz2|xz)$", re.IGNORECASE)
ARCHIVE_BYTES = (b"Rar!\x1a\x07", b"7z\xbc\xaf\x27\x1c", b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00")
SIGNATURES = {"application/pkcs7-signature", "application/x-pkcs7-signature", "application/pgp-signature"}
ENCRYPTED = {"application/pkcs7-mime", "application/x-pkcs7-mime", "application/pgp-encrypted", "multipart/encrypted"}
_MESSAGE_ID = re.compile(r"<[!-;=?-~]{1,200}@[!-;=?-~]{1,200}>")  # printable, no spaces, no <>: safe in a header


class MailOutcome(StrEnum):
    """What became of one e-mail (ledger.mail_messages.outcome)."""
    DELIVERED = "delivered"  # its attachments are in the team's inbox folder
    DUPLICATE = "duplicate"  # handled before (same Message-ID, or the same file from the same team)
    UNKNOWN_SENDER = "unknown_sender"  # no registered contact: the coordinator is told, not the sender
    NO_ATTACHMENT = "no_attachment"  # no file (a signature alone is none)
    ARCHIVE = "archive"  # zip, rar, 7z …: the team is asked to attach the spreadsheet itself
    ENCRYPTED = "encrypted"  # S/MIME or PGP encrypted: the pipeline cannot read it
    OVERSIZED = "oversized"  # larger than the pipeline takes
    AMBIGUOUS_TEAM = "ambiguous_team"  # a contact of several teams who named none of them, or several
    TNEF_ONLY = "tnef_only"  # Outlook packed the file into winmail.dat: the team is told how to send it plainly
    EXPLANATION = "explanation"  # a reply to a validation e-mail, no file: the team explains the warnings (recorded)
    EXPLANATION_REFUSED = "explanation_refused"  # such a reply holding a personal identifier: not kept, the team told
    # Mail no person wrote (automatic_kind): never answered (RFC 3834), moved aside, counted in the digest
    AUTO_REPLY = "auto_reply"  # out-of-office and other auto-replies
    DELIVERY_REPORT = "delivery_report"  # bounces and delivery status notifications
    READ_RECEIPT = "read_receipt"  # message disposition notifications
    MAILING_LIST = "mailing_list"  # list traffic


AUTOMATIC = tuple(MailOutcome(kind) for kind in mail_ledger.AUTOMATIC_MAIL)
KEPT_IN = {MailOutcome.DELIVERED: PROCESSED_FOLDER, MailOutcome.DUPLICATE: PROCESSED_FOLDER,
           MailOutcome.EXPLANATION: PROCESSED_FOLDER,
           **dict.fromkeys(AUTOMATIC, AUTOMATIC_FOLDER)}  # others: QUARANTINE_FOLDER
# What a mail program attaches on its own, beside the team's file (with storage.not_a_submission's names)
MAIL_PROGRAM_TYPES = {"application/ms-tnef", "application/vnd.ms-tnef", "text/vcard", "text/x-vcard", "text/directory"}
TNEF_TYPES = {"application/ms-tnef", "application/vnd.ms-tnef"}


@dataclass
class Verdict:
    """What to do with one e-mail (judge): its outcome, the registered address and team it came from, and
    the attachments to place in that team's inbox."""
    outcome: MailOutcome
    sender: str | None = None
    team: str | None = None
    files: list[tuple[str, bytes]] = field(default_factory=list)
    left_aside: int = 0  # attachments a mail program added by itself (winmail.dat, a contact card …)
    explains: tuple[int, str] | None = None  # (submission id, sha256[:12]) of the validation e-mail it replies to
    teams: list[str] = field(default_factory=list)  # the teams the sender is a contact of


def max_message_bytes(config: PipelineConfig) -> int:
    """The largest e-mail taken: the largest file, base64-encoded, and room for the text around it."""
    return config.max_file_bytes * 4 // 3 + (1 << 20)


def message_key(message: EmailMessage, raw: bytes) -> str:
    """The e-mail's Message-ID when it has the plain form of one; otherwise the hash of its bytes."""
    mid = str(message.get("Message-ID", "") or "").strip()
    return mid if _MESSAGE_ID.fullmatch(mid) else f"sha256:{hashlib.sha256(raw).hexdigest()}"


def _date(message: EmailMessage) -> dt.datetime | None:
    try:
        date = parsedate_to_datetime(str(message.get("Date", "")))
    except (TypeError, ValueError, IndexError):
        return None
    return date if date.tzinfo else date.replace(tzinfo=dt.timezone.utc)


def _plain(text: str) -> str:
    """Lower case, no diacritics, words separated by single spaces (to find a team's name in a subject)."""
    import unicodedata

    text = unicodedata.normalize("NFKD", text.lower().replace("đ", "dj"))
    words = re.split(r"[^a-z0-9]+", "".join(ch for ch in text if not unicodedata.combining(ch)))
    return " " + " ".join(w for w in words if w) + " "


def registered_sender(message: EmailMessage, teams) -> tuple[str | None, list[str]]:
    """(the registry's address the sender matched, the codes of the teams it is a contact of), or (None, [])."""
    addresses = [a.lower() for _, a in getaddresses([str(message.get("From", ""))]) if a]
    if len(addresses) != 1:
        return None, []
    of = [(code, e) for code, team in teams.items() for e in team.contact_emails if e.lower() == addresses[0]]
    return (of[0][1], list(dict.fromkeys(code for code, _ in of))) if of else (None, [])


def _is_archive(name: str, data: bytes) -> bool:
    if ARCHIVE_NAMES.search(name) or data.startswith(ARCHIVE_BYTES):
        return True
    try:
        file_format(data)  # an XLSX is a zip too: only the pipeline's own reading tells them apart
    except SubmissionError as e:
        return e.rule == "zip_archive"
    return False


_AUTO_SENDERS = re.compile(r"(mailer-daemon|postmaster|mail-daemon|mailerdaemon)@", re.IGNORECASE)


def automatic_kind(message: EmailMessage) -> MailOutcome | None:
    """The kind of mail no person wrote (RFC 3834 auto-replies, RFC 3464 delivery reports, RFC 8098 read
    receipts, RFC 2369/2919 list mail), by its headers and structure; None for a person's e-mail."""
    def header(name: str) -> str:
        return str(message.get(name, "") or "").strip().lower()

    report = message.get_param("report-type", "", header="content-type") if message.get_content_type() == "multipart/report" else ""
    types = {part.get_content_type() for part in message.walk()}
    if str(report).lower() == "disposition-notification" or "message/disposition-notification" in types:
        return MailOutcome.READ_RECEIPT
    if message.get_content_type() == "multipart/report" or types & {"message/delivery-status", "message/global-delivery-status"}:
        return MailOutcome.DELIVERY_REPORT
    precedence = header("Precedence")
    if message.get("List-Id") is not None or message.get("List-Unsubscribe") is not None or precedence == "list":
        return MailOutcome.MAILING_LIST
    # before the empty return path: RFC 3834 (3.3) asks auto-replies to be sent with one, as bounces are
    if (header("Auto-Submitted") not in ("", "no") or precedence in ("bulk", "junk", "auto_reply")
            or message.get("X-Autoreply") is not None or message.get("X-Autorespond") is not None):
        return MailOutcome.AUTO_REPLY
    if ((message.get("Return-Path") is not None and header("Return-Path").strip("<> ") == "")
            or any(_AUTO_SENDERS.match(a) for _, a in getaddresses([str(message.get("From", ""))]))):
        return MailOutcome.DELIVERY_REPORT
    return None


def _mail_program_attachment(part, name: str) -> bool:
    """An attachment a mail program adds by itself: winmail.dat, a contact card, a signature, an image of
    the signature shown in the text (inline, with a Content-ID)."""
    kind = part.get_content_type()
    inline = part.get_content_disposition() == "inline" and part.get("Content-ID") is not None
    return (kind in MAIL_PROGRAM_TYPES or kind in SIGNATURES or not_a_submission(name) is not None
            or (inline and part.get_content_maintype() == "image"))


def judge(message: EmailMessage, size: int, config: PipelineConfig) -> Verdict:
    """What to do with an e-mail of `size` bytes (pure: reads nothing but the message and the registry)."""
    teams = config.teams
    automatic = automatic_kind(message)
    if automatic is not None:  # whoever sent it: answering could start a mail loop
        return Verdict(automatic, registered_sender(message, teams)[0])
    sender, of = registered_sender(message, teams)
    if sender is None:
        return Verdict(MailOutcome.UNKNOWN_SENDER)
    if size > max_message_bytes(config):
        return Verdict(MailOutcome.OVERSIZED, sender)
    if any(part.get_content_type() in ENCRYPTED for part in message.walk()):
        return Verdict(MailOutcome.ENCRYPTED, sender)
    files, archives, tnef, left_aside = [], 0, 0, 0
    for part in message.walk():
        name = part.get_filename()
        if part.is_multipart() or (not name and part.get_content_type() not in TNEF_TYPES):
            continue
        if _mail_program_attachment(part, name or ""):
            tnef += part.get_content_type() in TNEF_TYPES or (name or "").lower() == "winmail.dat"
            left_aside += 1
            continue
        data = part.get_payload(decode=True) or b""
        if _is_archive(name, data):
            archives += 1
        else:
            files.append((name, data))
    if archives:
        return Verdict(MailOutcome.ARCHIVE, sender)
    if not files:
        thread = mail_ledger.noticed_submissions(str(message.get("In-Reply-To", "")))
        thread = thread or mail_ledger.noticed_submissions(str(message.get("References", "")))[-1:]
        if thread and not tnef:  # a reply in a validation e-mail's thread: an explanation of its warnings
            return Verdict(MailOutcome.EXPLANATION, sender, left_aside=left_aside, explains=thread[0], teams=of)
        return Verdict(MailOutcome.TNEF_ONLY if tnef else MailOutcome.NO_ATTACHMENT, sender, left_aside=left_aside)
    if any(len(data) > config.max_file_bytes for _, data in files):
        return Verdict(MailOutcome.OVERSIZED, sender)
    if len(of) > 1:  # a contact of several teams names the one it reports for
        said = _plain(" ".join([str(message.get("Subject", "")), *(name for name, _ in files)]))
        named = [code for code in of if any(_plain(n) in said for n in (code, teams[code].name_lat))]
        if len(named) != 1:
            return Verdict(MailOutcome.AMBIGUOUS_TEAM, sender)
        of = named
    return Verdict(MailOutcome.DELIVERED, sender, of[0], files, left_aside)


class InboxNotCollected(Exception):
    """A file of the same name waits in the team's inbox with other bytes, not yet received by the pipeline:
    writing over it would lose it. The e-mail stays in the mailbox until a run has collected that file."""


def _would_overwrite(config: PipelineConfig, conn, team: str, files) -> bool:
    """Whether placing `files` would replace a file of the team's inbox that the pipeline has not received."""
    known = None
    for name, data in files:
        target = storage_path(config.inbox) / team / safe_name(name)
        if target.exists() and (waiting := target.read_bytes()) != data:
            known = known if known is not None else ledger.known_files(conn)[0]
            if (team, safe_name(name), hashlib.sha256(waiting).hexdigest()) not in known:
                return True
    return False


def handle(config: PipelineConfig, raw: bytes, size: int | None = None) -> MailOutcome:
    """Handle one e-mail (its bytes; size: as the server counts it, when only the header was fetched):
    place its files in the team's inbox, queue the reply or the coordinator's notice, and record it once."""
    engine = reporting_engine(config.reporting_db_url)
    ensure_schema(engine, views=False)  # the ledger only
    message = message_from_bytes(raw, policy=policy.default)
    key = message_key(message, raw)
    with engine.connect() as conn:
        if mail_ledger.mail_seen(conn, key):
            return MailOutcome.DUPLICATE
    verdict = judge(message, size if size is not None else len(raw), config)
    date, now = _date(message), clock.now()
    common = {"sender": verdict.sender, "mail_date": date}
    placed = []
    if verdict.outcome == MailOutcome.DELIVERED:
        with engine.connect() as conn:
            by_hash = {hashlib.sha256(d).hexdigest(): (n, d) for n, d in verdict.files}  # the same file twice: once
            fresh = [file for sha, file in by_hash.items() if not mail_ledger.mail_seen(conn, "", verdict.team, sha)]
            if _would_overwrite(config, conn, verdict.team, fresh):
                raise InboxNotCollected()
        targets = []
        for name, data in fresh:  # written before the ledger says so: a crash in between writes the same again
            targets.append(storage_path(config.inbox) / verdict.team / safe_name(name))
            write_atomically(targets[-1], data)
            placed.append(hashlib.sha256(data).hexdigest())
        if targets:
            from thb_reporting.intake.inbox_signatures import note_placed

            note_placed(config.data_root, config.inbox, targets)  # collected by this run: the watch starts none
        if not placed:
            verdict.outcome = MailOutcome.DUPLICATE
    if verdict.outcome == MailOutcome.EXPLANATION:
        outcome, verdict.team = record_reply_explanation(engine, verdict.explains, verdict.teams, message, key, now)
        verdict.outcome = MailOutcome(outcome)
    with engine.begin() as conn:
        for sha in placed:
            mail_ledger.record_mail(conn, key, MailOutcome.DELIVERED.value, now, team_code=verdict.team, content_sha256=sha,
                               kept_in=PROCESSED_FOLDER, **common)
        if not placed:  # the reply, where one is owed, is queued by the notify step from this row
            mail_ledger.record_mail(conn, key, verdict.outcome.value, now, team_code=verdict.team,
                               kept_in=KEPT_IN.get(verdict.outcome, QUARANTINE_FOLDER), **common)
    log.info("e-mail %s: %s%s%s", mail_ledger.mail_ref(key), verdict.outcome.value,
             f" ({len(placed)} file(s) for team {verdict.team})" if placed else "",
             f"; {verdict.left_aside} attachment(s) a mail program adds left aside" if verdict.left_aside else "")
    return verdict.outcome


# --- the IMAP side ------------------------------------------------------------------------------------
_told_no_mailbox = False


def imap_client_from_airflow():
    """A logged-in imaplib client through ImapHook and the connection imap_default, or None without it. The
    provider's defaults hold: implicit TLS unless use_ssl is false, the certificate verified (ssl_context).
    A refusal (a certificate not trusted, plain text refused …) raises MailConnectionRefused naming it."""
    import imaplib

    global _told_no_mailbox
    conn = mail_connection(CONNECTION)
    if conn is None:
        if not _told_no_mailbox:
            log.info("no connection %s: no reporting mailbox is pulled (the folder inbox alone)", CONNECTION)
            _told_no_mailbox = True
        return None
    check_tls_flags(CONNECTION, "imap", conn.extra_dejson)
    from airflow.providers.imap.hooks.imap import ImapHook  # only with a mailbox to pull
    from airflow.sdk.exceptions import AirflowException

    try:
        return ImapHook(imap_conn_id=CONNECTION).get_conn().mail_client
    except (OSError, imaplib.IMAP4.error, RuntimeError, AirflowException) as e:
        raise refusal(CONNECTION, e) from e


def _ok(response, what: str):
    typ, data = response
    if typ != "OK":
        raise RuntimeError(f"IMAP {what} failed: {typ}")
    return data


def _move(client, uid: bytes, folder: str) -> None:
    """Move a message to a folder of the mailbox (created when missing); copy and expunge without MOVE."""
    client.create(folder)  # NO when it exists: fine
    if b"MOVE" in b" ".join(client.capabilities if isinstance(client.capabilities[0], bytes)
                             else [c.encode() for c in client.capabilities]):
        _ok(client.uid("MOVE", uid, folder), "MOVE")
        return
    _ok(client.uid("COPY", uid, folder), "COPY")
    _ok(client.uid("STORE", uid, "+FLAGS", r"(\Deleted)"), "STORE")
    client.expunge()


def _fetched_bytes(data) -> bytes:
    return b"".join(part[1] for part in data if isinstance(part, tuple))


def pull_mailbox(config: PipelineConfig, client=None) -> dict[str, int]:
    """Handle every message in the mailbox's INBOX (client: a logged-in imaplib client; None: through
    imap_default, and nothing without it); returns how many had each outcome."""
    own = client is None
    client = client or imap_client_from_airflow()
    counts: dict[str, int] = {}
    if client is None:
        return counts
    try:
        _ok(client.select(INBOX), "SELECT")
        for uid in _ok(client.uid("SEARCH", None, "ALL"), "SEARCH")[0].split():
            head = _ok(client.uid("FETCH", uid, "(RFC822.SIZE BODY.PEEK[HEADER])"), "FETCH")
            said = b" ".join(p[0] if isinstance(p, tuple) else p for p in head)
            size = int(re.search(rb"RFC822\.SIZE (\d+)", said).group(1))
            error = None
            try:
                if size > max_message_bytes(config):  # judged by its header: the body is not downloaded
                    outcome = handle(config, _fetched_bytes(head), size)
                else:
                    raw = _fetched_bytes(_ok(client.uid("FETCH", uid, "(BODY.PEEK[])"), "FETCH"))
                    outcome = handle(config, raw, size)
            except Exception as e:  # noqa: BLE001 (one message's trouble holds back no other; it stays for the next run)
                error = e  # logged below, outside the except block (see ingest.process_submissions)
            if isinstance(error, InboxNotCollected):
                log.info("an e-mail waits for the next run: a file of the same name in its team's inbox is not "
                         "collected yet")
                counts["waiting"] = counts.get("waiting", 0) + 1
                continue
            if error is not None:
                log.warning("an e-mail could not be handled (%s); it stays in the mailbox for the next run",
                            error_class(error))
                counts["error"] = counts.get("error", 0) + 1
                continue
            _move(client, uid, KEPT_IN.get(outcome, QUARANTINE_FOLDER))
            counts[outcome.value] = counts.get(outcome.value, 0) + 1
    finally:
        if own:
            client.logout()
    return counts


def pull_reporting_mailbox(config: PipelineConfig) -> dict[str, int]:
    """The ingest run's first step (collect_new_submissions): pull_mailbox through imap_default, before the
    inbox is collected so that e-mailed files are collected in the same run. Nothing without the
    connection; a mail server that cannot be reached holds back no file of the folder inbox (a warning:
    the next run tries again)."""
    try:
        return pull_mailbox(config)
    except Exception as e:  # noqa: BLE001 (tried again next run)
        error = e  # logged outside the except block (see ingest.process_submissions)
    log.warning("the reporting mailbox could not be read (%s)", error_class(error))
    return {}
