"""Ingestion: inbox → archive → validation → Parquet snapshot or quarantine, recorded in the ledger.

Two steps, each safe to re-run:
  collect_new_submissions   archives every file not seen before (by team, name and content hash), byte for
                            byte, and records it in the ledger as `received`; an entry that is no regular
                            file inside the inbox (a symbolic link, FIFO, device, socket, unsafe object key)
                            is recorded as `rejected` (not_a_regular_file) without being read;
  process_submissions       validates every `received` file; accepted rows are pseudonymised and
                            written as an immutable snapshot, rejected files are quarantined with their
                            findings. A file that fails unexpectedly stays `received` for the next run,
                            up to thb_max_processing_attempts runs; then it is `failed` (its team and the
                            national coordinator are told). The others go on either way.
"""
from __future__ import annotations

import datetime as dt
import functools
import hashlib
import logging
import traceback
from dataclasses import dataclass

from thb_reporting.core import clock, contracts, reference
from thb_reporting.store import ledger, mail_ledger
from thb_reporting.validation import checks
from thb_reporting.core.config import PipelineConfig
from thb_reporting.core.contracts import Contract
from thb_reporting.core.faults import fault_point
from thb_reporting.core.findings import ERROR, Finding, describe, findings_csv, is_note
from thb_reporting.validation.history import history_warnings
from thb_reporting.store.snapshots import snapshot_path, stored_rows, write_snapshot
from thb_reporting.store.locks import locked_quarters
from thb_reporting.core.privacy import error_class, pseudonymiser, shown
from thb_reporting.store.storage import (
    NotARegularFile, archive_path, inbox_files, note_not_submissions, quarantine_dir, read_inbox_file, storage_path,
    write_atomically,
)
from thb_reporting.reading.submission_files import SubmissionError, SubmissionName, parse_file_name, read_submission
from thb_reporting.validation.suite_runner import import_gx_in_background
from thb_reporting.store.ledger import Status
from thb_reporting.store.migrations import ensure_schema
from thb_reporting.store.warehouse import reporting_engine

log = logging.getLogger(__name__)


def _modified_at(info) -> dt.datetime | None:
    stamp = info.get("mtime") or info.get("LastModified") or info.get("last_modified") or info.get("created")
    if isinstance(stamp, dt.datetime):
        return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.timezone.utc)
    if isinstance(stamp, (int, float)):
        return dt.datetime.fromtimestamp(stamp, dt.timezone.utc)
    return None


def collect_new_submissions(config: PipelineConfig) -> list[int]:
    """Archive and register every new file in the inbox; return the ids of all submissions waiting
    to be processed (new ones and any left `received` by an earlier, interrupted run)."""
    engine = reporting_engine(config.reporting_db_url)
    ensure_schema(engine, views=False)  # the ledger only
    with engine.connect() as conn:
        # A file whose path, size and time we have already recorded is not read again (seen).
        known, seen = ledger.known_files(conn)
    not_submissions = []
    for entry in inbox_files(config.inbox):
        team, path = entry.team, entry.path
        if entry.not_submission:  # made by the system or a program, not the team: never taken in nor answered
            not_submissions.append(entry)
            continue
        if entry.refused:
            _refuse(engine, team, path, entry.refused, known)
            continue
        error = None
        try:
            info = path.stat()
            received_at = _modified_at(info) or clock.now()
            if (str(path), info.get("size"), received_at) in seen:
                continue
            data = read_inbox_file(path)
        except OSError as e:  # handled below, outside the except block (see process_submissions)
            error = e
        if isinstance(error, NotARegularFile):  # replaced by a link or a FIFO since it was listed
            _refuse(engine, team, path, error.kind, known)
            continue
        if error is not None:  # gone, or not readable by the pipeline: nothing received yet, tried again next run
            log.warning("could not read %s in the folder of team %s (%s); it is tried again next run",
                        shown(path.name, kind="file_name"), shown(team) or "-", error_class(error))
            continue
        sha = hashlib.sha256(data).hexdigest()
        if (team, path.name, sha) in known:
            continue
        archived = archive_path(config.data_root, team, sha, path.name)
        if not archived.exists():
            write_atomically(archived, data)
        dataset, quarter = _named(path.name)
        with engine.begin() as conn:
            ledger.record_received(conn, team_code=team, dataset=dataset, quarter=quarter, file_name=path.name,
                                   inbox_path=str(path), content_sha256=sha, size_bytes=len(data),
                                   received_at=received_at, archive_path=str(archived))
        known.add((team, path.name, sha))
        log.info("received %s from team %s (%d bytes, sha256 %s)", shown(path.name, kind="file_name"), shown(team) or "-",
                 len(data), sha[:12])
    note_not_submissions(config.data_root, not_submissions, log)
    with engine.begin() as conn:
        mail_ledger.link_mail(conn)  # a file the mailbox placed: its e-mail's Message-ID, sender and date
        return [r.submission_id for r in ledger.waiting(conn)]


RETRY_NEXT_RUN = "retrying"  # an outcome of one run, not a status: the file stays received for the next run
NOT_READ = "not_read"  # content_sha256 of an inbox entry that was refused unread (never a SHA-256)


def _named(file_name: str) -> tuple[str | None, str | None]:
    """(dataset, quarter) from a file name, or (None, None) when it does not follow the convention."""
    try:
        name = parse_file_name(file_name)
    except SubmissionError:
        return None, None
    return name.dataset, str(name.quarter)


def _refuse(engine, team: str, path, kind: str, known: set) -> None:
    """Record, once, an inbox entry that is not a regular file inside the inbox (a symbolic link, a FIFO, a
    device, a socket, an unsafe object key) as rejected by the rule not_a_regular_file, without reading it:
    nothing is archived (archive_path empty), size 0, content_sha256 NOT_READ. Its team is told as for any
    rejected file (the coordinator when the folder is no registered team's)."""
    if (team, path.name, NOT_READ) in known:
        return
    finding = Finding("not_a_regular_file", detail=kind)
    dataset, quarter = _named(path.name)
    now = clock.now()
    with engine.begin() as conn:
        sid = ledger.record_received(conn, team_code=team, dataset=dataset, quarter=quarter, file_name=path.name,
                                     inbox_path=str(path), content_sha256=NOT_READ, size_bytes=0, received_at=now,
                                     archive_path="")
        ledger.record_outcome(conn, sid, Status.REJECTED, [finding], processed_at=now, error_count=1, warning_count=0,
                              rows_accepted=0, summary=describe(finding, "en"))
    known.add((team, path.name, NOT_READ))
    log.warning("refused %s in the folder of team %s unread: %s", shown(path.name, kind="file_name"), shown(team) or "-", kind)


@dataclass
class _Submission:
    submission_id: int
    team_code: str
    file_name: str
    content_sha256: str
    size_bytes: int
    received_at: dt.datetime
    archive_path: str


@dataclass
class _FileRead:
    """A waiting submission's file as this run holds it: its archived bytes, read once (_archived_bytes), and,
    when the batch step (preclear) got to it, its file name, and its rows checked before the suite (checks.prepare) or
    the error preparing them met. Handed from the batch step to the file's own processing, so that neither
    reads nor parses the file again."""
    data: bytes
    name: SubmissionName | None = None  # when the batch step read the file
    prepared: checks.Prepared | None = None
    error: Exception | None = None  # raised again where the file's own processing would prepare its rows


def _archived_bytes(sub: _Submission) -> bytes:
    """The archived copy of a submission's file, the copy every step works from (the inbox's may change)."""
    try:
        return storage_path(sub.archive_path).read_bytes()
    except OSError as e:
        raise ArchiveUnreadable(error_class(e)) from e


def _summary(findings: list[Finding], contract: Contract | None, quarter) -> str:
    errors = [f for f in findings if f.severity == ERROR]
    shown = errors[:3] or findings[:3]
    text = " | ".join(describe(f, "en", contract, quarter) for f in shown)
    more = len(errors or findings) - len(shown)
    return text + (f" (and {more} more)" if more > 0 else "")


class _IngestRun:
    def __init__(self, config: PipelineConfig):
        self.config = config
        self.engine = reporting_engine(config.reporting_db_url)
        self.token = pseudonymiser(config.pseudonymisation_key)  # refuses to start without a key
        self._runner = None

    @property
    def runner(self):
        if self._runner is None:
            from thb_reporting.validation.suite_runner import SuiteRunner

            self._runner = SuiteRunner(contracts.datasets())
        return self._runner

    def check(self, sub: _Submission, file: _FileRead):
        """(file name, contract, outcome) for one file; SubmissionError when it cannot be validated."""
        if sub.team_code not in self.config.teams:
            raise SubmissionError("unknown_team", f"'{sub.team_code or '(inbox root)'}'")
        if sub.size_bytes > self.config.max_file_bytes:
            raise SubmissionError("unreadable_file", f"the file is larger than {self.config.max_file_bytes // 2**20} MB")
        name = parse_file_name(sub.file_name)
        named = _team_named(name.remark, sub.team_code, self.config.teams)
        if named:
            raise SubmissionError("team_mismatch", named)
        if not self.config.teams[sub.team_code].reports(name.dataset):  # the Centre reports victims only
            raise SubmissionError("dataset_not_reported", name.dataset)
        if name.quarter.start > clock.now().date():
            raise SubmissionError("quarter_in_future", str(name.quarter))
        with self.engine.connect() as conn:
            if str(name.quarter) in locked_quarters(conn):
                raise SubmissionError("quarter_locked", str(name.quarter))
        contract = contracts.for_quarter(name.dataset, name.quarter)  # the version in force then
        if file.error is not None:
            raise file.error
        prepared = file.prepared if file.prepared is not None else checks.prepare(read_submission(file.data, name), contract)
        return name, contract, checks.finish(prepared, contract, name.quarter, self.runner)

    def read_small_files(self, waiting: list[_Submission]) -> dict[int, _FileRead]:
        """Submission id → the file read and its rows prepared, for every small waiting file of a registered
        team (up to about BATCH_ROWS rows in all). Nothing is decided here: a file that cannot be named or
        read is left out, and one whose rows cannot be prepared keeps the error; the file's own processing
        meets either and reports it."""
        files: dict[int, _FileRead] = {}
        read: list[tuple[_FileRead, object, Contract]] = []  # (file, its rows as read, contract)
        rows = 0
        for sub in waiting:
            if sub.size_bytes > BATCH_FILE_BYTES or sub.team_code not in self.config.teams or rows > BATCH_ROWS:
                continue
            try:
                name = parse_file_name(sub.file_name)
                contract = contracts.for_quarter(name.dataset, name.quarter)  # the version in force then
                file = files[sub.submission_id] = _FileRead(_archived_bytes(sub), name)
            except Exception:  # noqa: BLE001 (the file's own processing meets it again and records it)
                continue
            try:
                frame = read_submission(file.data, name)
            except Exception as e:  # noqa: BLE001 (raised again when the file is processed: check)
                file.error = e
                continue
            read.append((file, frame, contract))
            rows += len(frame)
        # typed together where they can be (checks.prepare_many): each file's outcome is its own
        for (file, *_), prepared in zip(read, checks.prepare_many([(frame, contract) for _, frame, contract in read])):
            if isinstance(prepared, Exception):
                file.error = prepared
            else:
                file.prepared = prepared
        return files

    def preclear(self, files: list[_FileRead]) -> None:
        """Run the suite once over each contract version's and quarter's prepared files together
        (checks.clear_in_batches), marking `cleared` the files whose rows pass it. Nothing is decided here."""
        groups: dict[tuple, list[checks.Prepared]] = {}
        for file in files:
            if file.prepared is not None:
                suite = contracts.for_quarter(file.name.dataset, file.name.quarter).suite_name
                groups.setdefault((suite, file.name.quarter), []).append(file.prepared)
        for (suite, quarter), group in groups.items():
            checks.clear_in_batches(self.runner, suite, quarter, group)

    def process(self, sub: _Submission, file: _FileRead | None = None) -> str:
        """Validate one file and record its outcome; `file` as the batch step read it, or None to read it now."""
        fault_point(f"processing {sub.team_code}/{sub.file_name}")  # tests make one file fail here
        if file is None:
            file = _FileRead(_archived_bytes(sub))
        data = file.data
        name = contract = outcome = None
        try:
            name, contract, outcome = self.check(sub, file)
            findings = outcome.findings
        except SubmissionError as e:
            findings = [Finding(e.rule, row=e.row, detail=e.message)]
        quarter = name.quarter if name else None
        errors = [f for f in findings if f.severity == ERROR]
        if errors:  # a note tells that the file is accepted as it is (findings.is_note): not so for this one
            findings = [f for f in findings if not is_note(f.rule)]
        measure = None
        if not errors:
            measure = contract.measure(outcome.typed)
            with self.engine.connect() as conn:
                history = ledger.earlier_measures(conn, sub.team_code, name.dataset, name.quarter)
            findings = findings + history_warnings(measure, history)
        values = dict(processed_at=clock.now(), error_count=len(errors), warning_count=len(findings) - len(errors), measure=measure,
                      summary=shown(_summary(findings, contract, quarter), kind="text") if findings else Status.ACCEPTED.value,
                      rows_total=None if outcome is None or outcome.typed is None else len(outcome.typed),
                      contract_version=contract.version if contract else None,
                      template_version=outcome.template_version if outcome else None,
                      columns_not_in_file=",".join(outcome.not_in_file) if outcome and outcome.not_in_file else None)
        if errors:
            where = quarantine_dir(self.config.data_root, sub.team_code, sub.content_sha256)
            write_atomically(where / sub.archive_path.rsplit("/", 1)[-1], data)
            write_atomically(where / "findings.csv", findings_csv(findings, contract, quarter))
            status = Status.REJECTED
            values.update(rows_accepted=0, quarantine_path=str(where))
        else:
            rows = stored_rows(outcome.typed, contract, self.token)
            target = snapshot_path(self.config.data_root, name.dataset, sub.team_code, str(name.quarter),
                                   sub.submission_id, sub.content_sha256)
            write_snapshot(target, rows)
            fault_point("snapshot_written")  # the snapshot is there, the ledger does not know it yet
            status = Status.ACCEPTED
            values.update(rows_accepted=rows.num_rows, snapshot_path=str(target))
        with self.engine.begin() as conn:  # the outcome, its findings and the supersession together
            ledger.record_outcome(conn, sub.submission_id, status, findings, **values)
        log.info("%s %s from team %s: %s", status.value, shown(sub.file_name, kind="file_name"), shown(sub.team_code),
                 values["summary"][:300])
        return status.value

    def record_failure(self, sub: _Submission, error: Exception) -> str:
        """Count an unexpected error on one file. Below config.max_processing_attempts the file stays
        `received` for the next run ('retrying'); at it, the file is `failed` ('failed'), with the rule
        processing_failed naming the exception's class, and its team and the coordinator are told
        (notifications). Neither the ledger nor the log gets the exception's message: it may quote the file."""
        kind = error_class(error)
        with self.engine.begin() as conn:
            attempts = ledger.record_attempt_failure(conn, sub.submission_id, kind, clock.now())
            final = attempts >= self.config.max_processing_attempts
            if final:
                finding = Finding("processing_failed", detail=kind)
                ledger.record_outcome(conn, sub.submission_id, Status.FAILED, [finding], only_from=Status.RECEIVED,
                                      processed_at=clock.now(), error_count=1, warning_count=0, rows_accepted=0,
                                      summary=describe(finding, "en"))
        where = "".join(traceback.format_tb(error.__traceback__))  # the code's lines, not the values in play
        log.warning("submission %s (%s from team %s) could not be processed: %s, attempt %d of %d; %s\n%s",
                    sub.submission_id, shown(sub.file_name, kind="file_name"), shown(sub.team_code) or "-", kind, attempts,
                    self.config.max_processing_attempts,
                    "it is failed and its team and the coordinator are told" if final
                    else "it stays received for the next run", where)
        return Status.FAILED.value if final else RETRY_NEXT_RUN


BATCH_FILE_BYTES = 1 << 20  # files up to this size are validated together (preclear); larger ones alone
BATCH_ROWS = 500_000  # at most about this many rows are held for one batch


def _team_named(remark: str, team: str, teams: reference.TeamRegistry) -> str | None:
    """Another team of the registry named in the free part of a file name (its code or Latin name), if any."""
    words = f" {_plain_words(remark)} "
    for code, other in teams.items():
        if code != team and any(f" {_plain_words(n)} " in words for n in (code, other.name_lat)):
            return other.name_lat
    return None


@functools.lru_cache(maxsize=4096)  # the registry's names, made plain once per process, not once per file
def _plain_words(text: str) -> str:
    """Lower case, no diacritics, words separated by single spaces."""
    import re
    import unicodedata

    text = unicodedata.normalize("NFKD", text.lower().replace("đ", "dj"))
    return " ".join(re.split(r"[^a-z0-9]+", "".join(ch for ch in text if not unicodedata.combining(ch)))).strip()


def process_submissions(config: PipelineConfig, submission_ids: list[int] | None = None) -> dict:
    """Validate and snapshot or quarantine each waiting submission; returns the ids by outcome: accepted,
    rejected, failed (given up after config.max_processing_attempts unexpected errors) and retrying (an
    unexpected error this time: it stays `received` for the next run)."""
    processor = _IngestRun(config)
    # plain strings: the outcome is a task's XCom
    outcome: dict[str, list[int]] = {s.value: [] for s in (Status.ACCEPTED, Status.REJECTED, Status.FAILED)}
    outcome[RETRY_NEXT_RUN] = []
    with processor.engine.connect() as conn:
        candidates = [r.submission_id for r in ledger.waiting(conn, submission_ids)]
    with ledger.processing_claims(processor.engine, candidates) as claimed:
        if len(claimed) < len(candidates):
            log.info("%d waiting submissions are being validated by another run: left to it",
                     len(candidates) - len(claimed))
        with processor.engine.connect() as conn:  # read again once claimed: another run may have just finished one
            waiting = [_Submission(**{k: getattr(r, k) for k in _Submission.__dataclass_fields__})
                       for r in ledger.waiting(conn, claimed)]
        _process_claimed(processor, waiting, outcome)
    return outcome


def _process_claimed(processor: _IngestRun, waiting: list[_Submission], outcome: dict[str, list[int]]) -> None:
    if waiting:
        import_gx_in_background()  # while the first files are read and typed
    # Each file is read from the archive and parsed once per run: here for the small ones, which are then
    # validated together, and handed on to their own processing; a larger one by its own processing.
    # Errors are logged after their `except` block: a log record that cannot be written (a closed stream)
    # makes logging print the exception being handled, and its message may quote the file.
    files = processor.read_small_files(waiting) if len(waiting) > 1 else {}
    error = None
    try:
        processor.preclear(list(files.values()))
    except Exception as e:  # noqa: BLE001 (a batch is only a shortcut: each file is then validated alone)
        error = e
    if error is not None:
        log.warning("validating the waiting files together failed (%s); each is validated alone", error_class(error))
    for sub in waiting:
        error = None
        try:
            outcome[processor.process(sub, files.pop(sub.submission_id, None))].append(sub.submission_id)
        except Exception as e:  # noqa: BLE001 (one file's failure must not stop the others)
            error = e
        if isinstance(error, ArchiveUnreadable):  # the storage, not the file: not counted against it
            log.warning("the archived copy of submission %s (%s from team %s) cannot be read (%s); it stays "
                        "received for the next run", sub.submission_id, shown(sub.file_name, kind="file_name"), shown(sub.team_code) or "-",
                        error_class(error))
            outcome[RETRY_NEXT_RUN].append(sub.submission_id)
        elif error is not None:
            outcome[processor.record_failure(sub, error)].append(sub.submission_id)


class ArchiveUnreadable(OSError):
    """The archived copy of a file cannot be read (storage unreachable): the file is not at fault."""
