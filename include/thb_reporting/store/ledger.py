"""The ledger (schema `ledger`): every submission's lifecycle, its findings, its failed processing attempts,
the coordinator's quarter locks, and the notification state of its e-mail. The only module that writes or
reads these tables (the outbox's own rows are thb_reporting.messaging.outbox's; the reporting mailbox's
e-mails, ledger.mail_messages, are thb_reporting.store.mail_ledger's, in this MetaData and schema).

Lifecycle of a submission (ledger.submissions.status):
  received ──► accepted | rejected | failed            (failed: given up after repeated unexpected errors)
An accepted submission is *current* until a later accepted one for the same team, dataset and quarter
replaces it (superseded_by points at that one); a rejected or failed one replaces nothing.
Its e-mail (ledger.submissions.notification): none yet ──► queued | no_contact; queued ──► sent | retrying.

Functions take an open connection: the caller decides the transaction (ingest writes a submission's outcome,
its findings and the supersession in one). Light on purpose (SQLAlchemy only): the UI plugin imports it."""
from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum

from sqlalchemy import (
    BigInteger, Column, DateTime, ForeignKey, Integer, MetaData, Table, Text, UniqueConstraint, delete, func, select,
    update,
)

SCHEMA = "ledger"


class Status(StrEnum):
    """A submission's state as stored in ledger.submissions.status."""
    RECEIVED = "received"  # archived, waiting to be processed (also while an unexpected error is retried)
    ACCEPTED = "accepted"  # its rows are a snapshot; published while current (not superseded)
    REJECTED = "rejected"  # a hard rule failed; quarantined with its findings
    FAILED = "failed"  # given up after thb_max_processing_attempts unexpected errors


PROCESSED = (Status.ACCEPTED, Status.REJECTED, Status.FAILED)  # final: its team is told once
SUPERSEDED = "superseded"  # derived (state_of), never stored: an accepted submission replaced by a later one


class Notification(StrEnum):
    """The state of a processed submission's e-mail (ledger.submissions.notification; empty: not yet queued)."""
    QUEUED = "queued"  # in ledger.outbox
    RETRYING = "retrying"  # a send failed; the outbox tries again after a backoff
    SENT = "sent"  # the mail server accepted it
    NO_CONTACT = "no_contact"  # the team has no registered address: nothing to send


class LockAction(StrEnum):
    LOCK = "lock"
    UNLOCK = "unlock"


METADATA = MetaData()  # warehouse copies these tables into its own MetaData (one schema to create and migrate)

SUBMISSIONS = Table(
    "submissions", METADATA,
    Column("submission_id", Integer, primary_key=True, autoincrement=True, comment="the submission's number"),
    Column("team_code", Text, nullable=False, comment="inbox folder the file arrived in"),
    Column("dataset", Text, comment="from the file name; empty when the name is not understood"),
    Column("quarter", Text, comment="from the file name, e.g. 2026Q1"),
    Column("file_name", Text, nullable=False, comment="as the team named it"),
    Column("inbox_path", Text, nullable=False, comment="where it was found"),
    Column("content_sha256", Text, nullable=False,
           comment="SHA-256 of the bytes received; not_read for an entry refused unread (not a regular file)"),
    Column("size_bytes", BigInteger, nullable=False, comment="size of the file"),
    Column("received_at", DateTime(timezone=True), nullable=False, comment="when it arrived in the inbox"),
    Column("processed_at", DateTime(timezone=True), comment="when it was validated"),
    Column("status", Text, nullable=False, comment="received | accepted | rejected | failed"),
    Column("rows_total", Integer, comment="data rows read"),
    Column("rows_accepted", Integer, comment="rows kept in the snapshot"),
    Column("error_count", Integer, nullable=False, default=0, comment="findings that rejected it"),
    Column("warning_count", Integer, nullable=False, default=0, comment="findings of soft rules"),
    Column("measure", BigInteger, comment="the dataset's headline figure (contract history_measure), for the soft rules"),
    Column("summary", Text, comment="why, in words (English)"),
    Column("archive_path", Text, nullable=False, comment="the file as received, byte for byte; empty when refused unread"),
    Column("snapshot_path", Text, comment="the accepted rows (Parquet), when accepted"),
    Column("quarantine_path", Text, comment="the file and its findings, when rejected"),
    Column("superseded_by", Integer, comment="the later accepted submission that replaced it"),
    Column("notification", Text, comment="the team's e-mail: queued | retrying | sent | no_contact (ledger.outbox)"),
    Column("contract_version", Integer,
           comment="the version of the dataset's contract it was validated under (the one in force for its quarter)"),
    Column("template_version", Integer,
           comment="the version of the team template the file was made from (its columns, or its declared version); "
                   "below contract_version when the team used an earlier template"),
    Column("columns_not_in_file", Text,
           comment="the optional columns of a later template that the file lacks, ','-separated: stored as not stated"),
    Column("mail_message_id", Text, comment="the Message-ID of the e-mail that brought it (thb_reporting.intake.mailbox); "
                                            "empty for a file dropped in the inbox folder"),
    Column("mail_sender", Text, comment="the registered contact that e-mailed it"),
    Column("mail_date", DateTime(timezone=True), comment="the Date of that e-mail"),
    # The same bytes under another name are another submission (two quarters can have equal figures).
    UniqueConstraint("team_code", "file_name", "content_sha256", name="submissions_team_file_content_key"),
    schema=SCHEMA, comment="One row per file received from a team",
)
FINDINGS = Table(
    "findings", METADATA,
    Column("submission_id", Integer, ForeignKey("ledger.submissions.submission_id"), nullable=False, index=True,
           comment="the submission"),
    Column("severity", Text, nullable=False, comment="error (rejects the file) | warning"),
    Column("rule", Text, nullable=False, comment="the rule broken (include/thb_reporting/core/rules.yaml)"),
    Column("column_name", Text, comment="the column, where the finding is about one"),
    Column("source_row", Integer, comment="row number as the team sees it in its spreadsheet"),
    Column("value", Text, comment="codes, numbers or dates only; never a person's details"),
    Column("detail", Text, comment="more about the finding, in codes and numbers"),
    Column("column_letter", Text, comment="the column's letter in the team's own file (A, B …; 'C, F' for a name twice), "
                                          "as it was read: messages name it without reading the file again"),
    schema=SCHEMA, comment="Each validation problem of each submission",
)
PROCESSING_ATTEMPTS = Table(
    "processing_attempts", METADATA,
    Column("submission_id", Integer, ForeignKey("ledger.submissions.submission_id"), nullable=False, index=True,
           comment="the submission"),
    Column("attempted_at", DateTime(timezone=True), nullable=False, comment="when the attempt failed"),
    Column("error_class", Text, nullable=False, comment="the exception's class only (its message may quote the file)"),
    schema=SCHEMA, comment="Each attempt to process a submission that failed unexpectedly; after "
                           "thb_max_processing_attempts of them the submission is failed",
)
QUARTER_LOCKS = Table(
    "quarter_locks", METADATA,
    Column("quarter", Text, nullable=False, comment="e.g. 2026Q1"),
    Column("action", Text, nullable=False, comment="lock | unlock"),
    Column("changed_by", Text, nullable=False, comment="who asked for it"),
    Column("changed_at", DateTime(timezone=True), nullable=False, comment="when"),
    Column("reason", Text, comment="why, in the coordinator's words"),
    schema=SCHEMA, comment="Locks and unlocks of quarters by the national coordinator; the latest per quarter holds",
)
OUTBOX = Table(  # its rows are written and read by thb_reporting.messaging.outbox only
    "outbox", METADATA,
    Column("message_id", Integer, primary_key=True, autoincrement=True, comment="the message's number"),
    Column("dedupe_key", Text, nullable=False, unique=True, comment="submission:<id> or digest:<week>: one message each"),
    Column("kind", Text, nullable=False, comment="submission | digest"),
    Column("submission_id", Integer, comment="the submission it reports on"),
    Column("recipients", Text, nullable=False, comment="addresses from the team registry or national contacts"),
    Column("subject", Text, nullable=False, comment="the subject line"),
    Column("message", Text, nullable=False, comment="the whole message as sent (MIME)"),
    Column("status", Text, nullable=False, comment="pending | sending | sent"),
    Column("attempts", Integer, nullable=False, comment="sends tried"),
    Column("last_error", Text, comment="why the last send failed"),
    Column("created_at", DateTime(timezone=True), nullable=False, comment="when it was queued"),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False, comment="not sent before this time (backoff)"),
    Column("sent_at", DateTime(timezone=True), comment="when the server accepted it"),
    schema=SCHEMA, comment="E-mails to teams and the coordinator, kept until sent",
)


def add_tables(md: MetaData) -> None:
    """Copy the ledger's tables into another MetaData (the warehouse's, which creates and migrates them all);
    ledger.mail_messages among them once thb_reporting.store.mail_ledger is imported (the warehouse imports it)."""
    for t in METADATA.tables.values():  # in the order defined (the data dictionary lists them so)
        t.to_metadata(md)


# --- the lifecycle ------------------------------------------------------------------------------------
def state_of(sub) -> str:
    """The submission's state in words: its status, or `superseded` for an accepted one that a later one replaced."""
    if sub.status == Status.ACCEPTED and sub.superseded_by is not None:
        return SUPERSEDED
    return Status(sub.status).value


def is_current(sub) -> bool:
    """Accepted and not replaced: its rows are the ones published for its team, dataset and quarter."""
    return sub.status == Status.ACCEPTED and sub.superseded_by is None


def record_received(conn, *, team_code: str, dataset: str | None, quarter: str | None, file_name: str,
                    inbox_path: str, content_sha256: str, size_bytes: int, received_at, archive_path: str) -> int:
    """A file archived and waiting to be processed; returns its submission id."""
    return conn.execute(SUBMISSIONS.insert().values(
        team_code=team_code, dataset=dataset, quarter=quarter, file_name=file_name, inbox_path=inbox_path,
        content_sha256=content_sha256, size_bytes=size_bytes, received_at=received_at, status=Status.RECEIVED.value,
        error_count=0, warning_count=0, archive_path=archive_path,
    )).inserted_primary_key[0]


def record_outcome(conn, submission_id: int, status: Status, findings: list = (), *, only_from: Status | None = None,
                   **values) -> None:
    """A submission's outcome: its status, the other columns given (processed_at, counts, summary, paths,
    measure), and its findings (replacing any earlier ones). An accepted one becomes its team's current
    submission for the dataset and quarter. only_from: change the row only while it has that status."""
    status = Status(status)
    query = update(SUBMISSIONS).where(SUBMISSIONS.c.submission_id == submission_id)
    if only_from is not None:
        query = query.where(SUBMISSIONS.c.status == Status(only_from).value)
    conn.execute(query.values(status=status.value, **values))
    replace_findings(conn, submission_id, findings)
    if status == Status.ACCEPTED:
        sub = submission(conn, submission_id)
        refresh_supersession(conn, sub.team_code, sub.dataset, sub.quarter)


def refresh_supersession(conn, team: str, dataset: str, quarter: str) -> None:
    """The latest accepted submission (by time received) for a team, dataset and quarter is current;
    every earlier accepted one points at it. A rejected re-submission replaces nothing."""
    if conn.dialect.name == "postgresql":
        # Two runs accepting files of the same team, dataset and quarter at once would each see only its
        # own and both make theirs current: the second waits here until the first has committed. (SQLite's
        # writers already go one at a time: BEGIN IMMEDIATE.)
        conn.execute(select(func.pg_advisory_xact_lock(SUPERSESSION_LOCKS, func.hashtext(f"{team}/{dataset}/{quarter}"))))
    ids = list(conn.execute(
        select(SUBMISSIONS.c.submission_id).where(
            SUBMISSIONS.c.team_code == team, SUBMISSIONS.c.dataset == dataset, SUBMISSIONS.c.quarter == quarter,
            SUBMISSIONS.c.status == Status.ACCEPTED.value,
        ).order_by(SUBMISSIONS.c.received_at, SUBMISSIONS.c.submission_id)
    ).scalars())
    if not ids:
        return
    current = ids[-1]
    conn.execute(update(SUBMISSIONS).where(SUBMISSIONS.c.submission_id == current).values(superseded_by=None))
    if len(ids) > 1:
        conn.execute(update(SUBMISSIONS).where(SUBMISSIONS.c.submission_id.in_(ids[:-1])).values(superseded_by=current))


def record_attempt_failure(conn, submission_id: int, error_class: str, at) -> int:
    """One more unexpected error on a submission (the exception's class only); returns how many so far."""
    conn.execute(PROCESSING_ATTEMPTS.insert().values(submission_id=submission_id, attempted_at=at, error_class=error_class))
    return conn.execute(select(func.count()).select_from(PROCESSING_ATTEMPTS)
                        .where(PROCESSING_ATTEMPTS.c.submission_id == submission_id)).scalar_one()


def set_snapshot_path(conn, submission_id: int, path: str, unless_like: str | None = None) -> None:
    """Point a submission at its snapshot's new place (unless it already points at one like `unless_like`)."""
    query = update(SUBMISSIONS).where(SUBMISSIONS.c.submission_id == submission_id)
    if unless_like is not None:
        query = query.where(SUBMISSIONS.c.snapshot_path.notlike(unless_like))
    conn.execute(query.values(snapshot_path=path))


# --- one run at a time per submission -----------------------------------------------------------------
# Classes of PostgreSQL advisory locks (the first of their two keys): 'thb' and a number.
PROCESSING_CLAIMS, SUPERSESSION_LOCKS = 0x746862_01, 0x746862_02


@contextmanager
def processing_claims(engine, submission_ids) -> Iterator[list[int]]:
    """The submissions of `submission_ids` that this process may validate, in the order given: those that
    no other process is validating now. Ingest runs may overlap (a file that arrives while a run is busy
    gets its own run), so each run validates only what it claims. The claims last until the block ends and
    die with the process (PostgreSQL: session advisory locks; SQLite: byte-range locks on a file beside the
    database), so a run that crashed keeps nothing from the next. Claims exclude other processes only:
    every Airflow task is a process of its own."""
    ids = list(submission_ids)
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            try:
                yield [i for i in ids if conn.execute(select(func.pg_try_advisory_lock(PROCESSING_CLAIMS, i))).scalar()]
            finally:
                conn.execute(select(func.pg_advisory_unlock_all()))
                conn.rollback()
        return
    database = engine.url.database
    if not ids or not database or database == ":memory:":  # no other process can reach the database
        yield ids
        return
    import fcntl

    fd = os.open(f"{database}.claims", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        claimed = []
        for i in ids:
            try:  # the byte at offset i stands for submission i
                fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, i)
            except OSError:  # another process holds it
                continue
            claimed.append(i)
        yield claimed
    finally:
        os.close(fd)  # releases every lock this process holds on the file


# --- reading submissions ------------------------------------------------------------------------------
def submission(conn, submission_id: int):
    """One submission's row, or None."""
    return conn.execute(select(SUBMISSIONS).where(SUBMISSIONS.c.submission_id == submission_id)).first()


def submissions(conn, ids=None, quarters=None) -> list:
    """Submissions (all, or those of the ids or quarters given) in the order they were received."""
    query = select(SUBMISSIONS).order_by(SUBMISSIONS.c.received_at, SUBMISSIONS.c.submission_id)
    if ids is not None:
        query = query.where(SUBMISSIONS.c.submission_id.in_(list(ids)))
    if quarters is not None:
        query = query.where(SUBMISSIONS.c.quarter.in_(list(quarters)))
    return conn.execute(query).all()


def waiting(conn, ids=None) -> list:
    """The submissions still `received` (of the ids given), in the order they arrived."""
    query = (select(SUBMISSIONS).where(SUBMISSIONS.c.status == Status.RECEIVED.value)
             .order_by(SUBMISSIONS.c.received_at, SUBMISSIONS.c.submission_id))
    if ids is not None:
        query = query.where(SUBMISSIONS.c.submission_id.in_(ids))
    return conn.execute(query).all()


def known_files(conn) -> tuple[set, set]:
    """What was received already: {(team, file name, content sha256)} and {(inbox path, size, received at)}."""
    known, seen = set(), set()
    for r in conn.execute(select(SUBMISSIONS.c.team_code, SUBMISSIONS.c.file_name, SUBMISSIONS.c.content_sha256,
                                 SUBMISSIONS.c.inbox_path, SUBMISSIONS.c.size_bytes, SUBMISSIONS.c.received_at)):
        known.add((r.team_code, r.file_name, r.content_sha256))
        at = r.received_at  # SQLite gives it back without its time zone (stored as UTC)
        seen.add((r.inbox_path, r.size_bytes, at.replace(tzinfo=dt.timezone.utc) if at.tzinfo is None else at))
    return known, seen


def current_submissions(conn, dataset: str | None = None, team: str | None = None) -> dict:
    """(dataset, team, quarter) → the current submission: accepted and not superseded."""
    query = select(SUBMISSIONS).where(SUBMISSIONS.c.status == Status.ACCEPTED.value, SUBMISSIONS.c.superseded_by.is_(None))
    if dataset:
        query = query.where(SUBMISSIONS.c.dataset == dataset)
    if team:
        query = query.where(SUBMISSIONS.c.team_code == team)
    return {(r.dataset, r.team_code, r.quarter): r for r in conn.execute(query)}


def earlier_measures(conn, team: str, dataset: str, quarter) -> list[int]:
    """The headline figure of the team's current accepted submission for each earlier quarter, oldest first."""
    rows = [(r.quarter, r.measure) for r in current_submissions(conn, dataset, team).values()
            if r.measure is not None]
    from thb_reporting.core.quarters import Quarter

    return [m for q, m in sorted(rows) if Quarter.parse(q) < quarter]


def awaiting_notice(conn) -> list:
    """Processed submissions whose team has not been told yet, oldest first."""
    return conn.execute(select(SUBMISSIONS).where(SUBMISSIONS.c.status.in_([s.value for s in PROCESSED]),
                                                  SUBMISSIONS.c.notification.is_(None))
                        .order_by(SUBMISSIONS.c.submission_id)).all()


def set_notification(conn, submission_id: int, state: Notification) -> None:
    set_notifications(conn, [submission_id], state)


def set_notifications(conn, submission_ids, state: Notification, only_unset: bool = False) -> None:
    """The e-mail state of the submissions given (only_unset: of those that have none yet)."""
    if not (submission_ids := list(submission_ids)):
        return
    query = update(SUBMISSIONS).where(SUBMISSIONS.c.submission_id.in_(submission_ids))
    if only_unset:
        query = query.where(SUBMISSIONS.c.notification.is_(None))
    conn.execute(query.values(notification=Notification(state).value))


def status_counts(conn) -> list:
    """(dataset, status, files) for every dataset and status, ordered."""
    s = SUBMISSIONS.c
    return conn.execute(select(s.dataset, s.status, func.count()).group_by(s.dataset, s.status)
                        .order_by(s.dataset, s.status)).all()


def resubmissions(conn) -> list:
    """(team, dataset, quarter, files, latest submission id) where a team sent more than one file."""
    s = SUBMISSIONS.c
    return conn.execute(select(s.team_code, s.dataset, s.quarter, func.count(), func.max(s.submission_id))
                        .group_by(s.team_code, s.dataset, s.quarter).having(func.count() > 1)).all()


# --- findings -----------------------------------------------------------------------------------------
def _row(submission_id: int, f) -> dict:
    return {"submission_id": submission_id, "severity": f.severity, "rule": f.rule, "column_name": f.column,
            "source_row": f.row, "value": f.value, "detail": f.detail, "column_letter": f.letter}


def _finding(r):
    from thb_reporting.core.findings import Finding  # (inside: the UI plugin imports this module and stays light)

    return Finding(r.rule, r.severity, r.column_name, r.source_row, r.value, r.detail, r.column_letter)


def replace_findings(conn, submission_id: int, findings) -> None:
    conn.execute(delete(FINDINGS).where(FINDINGS.c.submission_id == submission_id))
    if findings:
        conn.execute(FINDINGS.insert(), [_row(submission_id, f) for f in findings])


def findings_of(conn, submission_id: int, severity: str | None = None,
                order: tuple[str, ...] = ("severity", "rule", "source_row")) -> list:
    """A submission's findings (findings.Finding), of one severity if given, in the order given (column
    names of ledger.findings), with their columns' letters in the team's file as it was read."""
    return findings_of_many(conn, [submission_id], severity, order).get(submission_id, [])


def findings_of_many(conn, submission_ids, severity: str | None = None,
                     order: tuple[str, ...] = ("severity", "rule", "source_row")) -> dict[int, list]:
    """findings_of for several submissions in one query: submission id → its findings (none: absent)."""
    query = select(FINDINGS).where(FINDINGS.c.submission_id.in_(list(submission_ids)))
    if severity is not None:
        query = query.where(FINDINGS.c.severity == severity)
    found: dict[int, list] = {}
    for r in conn.execute(query.order_by(FINDINGS.c.submission_id, *(FINDINGS.c[c] for c in order))):
        found.setdefault(r.submission_id, []).append(_finding(r))
    return found


def error_rules(conn, ids) -> dict[int, list[str]]:
    """submission id → the rules of its errors, each once, in the order of the rows."""
    from thb_reporting.core.findings import ERROR

    rules: dict[int, list[str]] = {}
    for r in conn.execute(select(FINDINGS.c.submission_id, FINDINGS.c.rule)
                          .where(FINDINGS.c.submission_id.in_(ids), FINDINGS.c.severity == ERROR)
                          .order_by(FINDINGS.c.submission_id, FINDINGS.c.source_row)):
        mine = rules.setdefault(r.submission_id, [])
        if r.rule not in mine:
            mine.append(r.rule)
    return rules


# --- quarter locks ------------------------------------------------------------------------------------
def record_lock(conn, quarter: str, action: LockAction, by: str, at, reason: str | None) -> None:
    conn.execute(QUARTER_LOCKS.insert().values(quarter=quarter, action=LockAction(action).value, changed_by=by,
                                               changed_at=at, reason=reason))


def lock_actions(conn) -> list[tuple[str, str]]:
    """(quarter, lock | unlock) for every lock and unlock, oldest first."""
    return [(r.quarter, r.action) for r in conn.execute(
        select(QUARTER_LOCKS.c.quarter, QUARTER_LOCKS.c.action).order_by(QUARTER_LOCKS.c.changed_at))]
