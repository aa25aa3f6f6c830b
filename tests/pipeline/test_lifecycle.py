"""Every file ends in a final state, alone, and nothing outside the inbox is read: a file that keeps failing
unexpectedly becomes `failed` (its team and the coordinator told) without holding back the others'
publication; links, FIFOs, sockets and unsafe object keys are refused unread; a file with a personal
identifier gets all its other findings in the same round; a file from no team's folder reaches the
coordinator."""
from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

import pytest

from fixtures import TEST_KEY
from helpers import findings, ledger, publications
from tls_postgres import without_tls
from thb_reporting.core import contracts, reference
from thb_reporting.intake import ingest
from thb_reporting.tools.generator import VALID_JMBG, SubmissionGenerator
from thb_reporting.tools.synthetic_files import encode
from thb_reporting.messaging.notifications import queue_submission_notices
from thb_reporting.messaging.outbox import SmtpSender, deliver_outbox
from thb_reporting.core.quarters import Quarter
from thb_reporting.store.storage import storage_path
from thb_reporting.store.warehouse import reader_engine, table

Q = "2026Q2"
COORDINATOR = reference.national_contacts()["national_coordinator"]["email"]
# The message of the injected error: it quotes "the file", so none of it may reach a ledger, log or e-mail.
SECRET = f"row 7: Jovana Petrović, JMBG {VALID_JMBG}"


def _run(dag_id: str) -> dict[str, str]:
    from thb_reporting.tools.airflow_runs import run_dag

    dag_run = run_dag(dag_id)
    assert dag_run.state == "success", f"{dag_id} ended {dag_run.state}"
    return {ti.task_id: ti.state for ti in dag_run.get_task_instances()}


def _attempts(db_url: str) -> list[tuple[int, str]]:
    t = table("processing_attempts", "ledger")
    with reader_engine(db_url).connect() as conn:
        return [(r.submission_id, r.error_class) for r in conn.execute(t.select().order_by(t.c.attempted_at))]


def _texts(message) -> list[str]:
    return [(part.get_payload(decode=True) or b"").decode("utf-8", errors="replace")
            for part in message.walk() if not part.is_multipart()]


@pytest.mark.airflow
def test_a_file_that_keeps_failing_is_failed_told_and_holds_nobody_back(tmp_path, monkeypatch, airflow_db, smtp_server,
                                                                          pg_url, capfd, pipeline_log):
    data = tmp_path / "data"
    port, mailbox = smtp_server
    monkeypatch.setenv("AIRFLOW_VAR_THB_DATA_ROOT", data.as_uri())
    monkeypatch.setenv("AIRFLOW_VAR_THB_PSEUDONYMISATION_KEY", TEST_KEY.decode())
    monkeypatch.setenv("AIRFLOW_VAR_THB_MAX_PROCESSING_ATTEMPTS", "2")
    monkeypatch.setenv("AIRFLOW_CONN_REPORTING_DB", without_tls(pg_url))
    monkeypatch.setenv("THB_FAULT_POINT", f"processing nis/victims_{Q}.csv")  # this one file always fails
    monkeypatch.setenv("THB_FAULT_RAISE", SECRET)
    SubmissionGenerator(data / "inbox", seed=31).scenario(["nis", "vranje", "sabac"], [Q])

    states = _run("ingest_submissions")  # first attempt: the file stays received, the others go on
    assert states == {"collect_new_submissions": "success",
                      "validate_and_snapshot": "success",
                      "announce_new_snapshots": "success", "notify_teams": "success"}
    assert {r.team_code: r.status for r in ledger(pg_url)} == {"nis": "received", "vranje": "accepted", "sabac": "accepted"}
    _run("publish_national_tables")
    assert set(publications(pg_url)) == {("vranje", Q), ("sabac", Q)}  # published in the same cycle
    assert {tuple(rcpt) for rcpt, _ in mailbox.received} == {
        (reference.teams()[t].contact_emails[0],) for t in ("vranje", "sabac")}

    states = _run("ingest_submissions")  # second attempt: given up
    assert states["validate_and_snapshot"] == "success"
    nis = next(r for r in ledger(pg_url) if r.team_code == "nis")
    assert nis.status == "failed" and nis.processed_at is not None and nis.snapshot_path is None
    assert "InjectedFault" in nis.summary
    assert [(f.rule, f.detail) for f in findings(pg_url) if f.submission_id == nis.submission_id] == [
        ("processing_failed", "InjectedFault")]
    assert _attempts(pg_url) == [(nis.submission_id, "InjectedFault")] * 2
    [(recipients, message)] = [(rcpt, m) for rcpt, m in mailbox.received if "Processing failed" in m["Subject"]]
    assert recipients == [*reference.teams()["nis"].contact_emails, COORDINATOR]
    text = message.get_body(("plain",)).get_content()
    assert text.index("NIJE MOGAO DA BUDE OBRAĐEN") < text.index("COULD NOT BE PROCESSED")  # Serbian first
    assert nis.file_name in text and "InjectedFault" in text and 'lang="sr"' in message.get_body(("html",)).get_content()
    assert nis.notification == "sent"

    received = len(mailbox.received)
    states = _run("ingest_submissions")  # a final state: nothing is tried or sent again, no run fails
    assert states["notify_teams"] == "success" and len(_attempts(pg_url)) == 2 and len(mailbox.received) == received
    # the error's message (it may quote the file) is nowhere: ledger, task logs, Airflow's database, e-mails
    log = "".join(capfd.readouterr()) + "\n".join(pipeline_log)  # the tasks' console output and the pipeline's log
    assert "could not be processed: InjectedFault, attempt 2 of 2" in log and "ingest.py" in log  # class and where
    places = [repr(ledger(pg_url)), repr(findings(pg_url)), repr(_attempts(pg_url)), log]
    places += [p.read_bytes().decode("utf-8", "replace") for p in Path(os.environ["AIRFLOW_HOME"]).rglob("*") if p.is_file()]
    places += [t for _, m in mailbox.received for t in _texts(m)]
    assert not [p[:80] for p in places if "Jovana" in p or VALID_JMBG in p]


def test_files_that_crash_today_end_in_a_final_state_within_the_attempts(config, generator):
    """Real files that have crashed processing (a NUL byte that PostgreSQL refuses in a finding, an XLSX
    named .csv, bytes in no encoding): whatever the readers make of them, after at most
    thb_max_processing_attempts runs each ends in a final state, and the good file beside them is accepted."""
    inbox = Path(config.inbox.removeprefix("file://"))
    good = generator.victims_file("nis", Q, file_format="csv_utf8")
    text = good.path.read_text(encoding="utf-8")
    (inbox / "vranje").mkdir()
    (inbox / "vranje" / f"victims_{Q}.csv").write_text(text.replace(",female,", ",fem\x00ale,"), encoding="utf-8")
    xlsx = generator.victims_file("sabac", Q, file_format="xlsx").path
    xlsx.rename(xlsx.with_suffix(".csv"))
    (inbox / "kikinda").mkdir()
    (inbox / "kikinda" / f"victims_{Q}.csv").write_bytes(text.encode("utf-8").replace(b"female", b"\xff\xfe\x00\x81"))
    for _ in range(config.max_processing_attempts):
        ingest.process_submissions(config, ingest.collect_new_submissions(config))
    statuses = {r.team_code: r.status for r in ledger(config.reporting_db_url)}
    # the XLSX named .csv is read by its bytes; the NUL is a control character; the bytes are in no encoding
    assert statuses == {"nis": "accepted", "sabac": "accepted", "vranje": "rejected", "kikinda": "rejected"}, statuses
    assert ingest.collect_new_submissions(config) == []  # nothing left waiting


def test_an_unreachable_archive_is_not_held_against_the_file(config, generator):
    generator.scenario(["nis"], [Q])
    [sid] = ingest.collect_new_submissions(config)
    archived = Path(ledger(config.reporting_db_url)[0].archive_path.removeprefix("file://"))
    archived.rename(archived.with_suffix(".away"))
    for _ in range(config.max_processing_attempts + 1):
        assert ingest.process_submissions(config)["retrying"] == [sid]
    assert _attempts(config.reporting_db_url) == [] and ledger(config.reporting_db_url)[0].status == "received"
    archived.with_suffix(".away").rename(archived)
    assert ingest.process_submissions(config)["accepted"] == [sid]


class _FifoWatch:
    """Fails the test instead of letting it hang: while the run lasts, checks every 0.1 s whether anyone has
    the FIFO open for reading (opening its write end without blocking succeeds only then); if so it records
    it and closes its end at once, so that the blocked reader gets end-of-file and the run goes on."""

    def __init__(self, fifo: Path):
        self.fifo, self.opened_by_reader, self._stop = fifo, False, threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self):
        while not self._stop.wait(0.1):
            try:
                fd = os.open(self.fifo, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:  # ENXIO: nobody reads it
                continue
            self.opened_by_reader = True
            os.close(fd)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(5)


@pytest.mark.airflow
def test_links_fifos_and_sockets_in_the_inbox_are_refused_unread(tmp_path, monkeypatch, airflow_db, smtp_server):
    from thb_reporting.core.config import sqlite_url

    data, outside = tmp_path / "data", tmp_path / "elsewhere"
    port, mailbox = smtp_server
    monkeypatch.setenv("AIRFLOW_VAR_THB_DATA_ROOT", data.as_uri())
    monkeypatch.setenv("AIRFLOW_VAR_THB_PSEUDONYMISATION_KEY", TEST_KEY.decode())
    inbox = data / "inbox"
    generator = SubmissionGenerator(outside, seed=32)  # good files, outside the inbox: read, they would be accepted
    secret_file = generator.victims_file("nis", Q)
    generator.victims_file("vranje", Q)
    SubmissionGenerator(inbox, seed=33).victims_file("kikinda", Q)  # the one real file
    (inbox / "nis").mkdir()
    (inbox / "nis" / f"victims_{Q}.csv").symlink_to(secret_file.path)  # a link to a file outside
    (inbox / "vranje").mkdir()
    (inbox / "vranje" / "stari").symlink_to(outside / "vranje", target_is_directory=True)  # a link to a folder
    (inbox / "subotica").symlink_to(outside / "nis", target_is_directory=True)  # a team folder that is a link
    os.mkfifo(inbox / "kikinda" / f"activities_{Q}.csv")  # a FIFO: reading it would wait forever
    unix = socket.socket(socket.AF_UNIX)
    unix.bind(str(inbox / "kikinda" / f"programmes_{Q}.csv"))
    try:
        with _FifoWatch(inbox / "kikinda" / f"activities_{Q}.csv") as watch:
            states = _run("ingest_submissions")
            assert _run("ingest_submissions")["collect_new_submissions"] == "success"  # nothing new the second time
    finally:
        unix.close()
    assert not watch.opened_by_reader, "the FIFO was opened for reading"
    assert states["notify_teams"] == "success"

    db = sqlite_url(data / "warehouse" / "reporting.sqlite")
    rows = {(r.team_code, r.file_name): r for r in ledger(db)}
    reasons = {f.submission_id: (f.rule, f.detail) for f in findings(db)}
    refused = {("nis", f"victims_{Q}.csv"): "symbolic_link", ("vranje", "stari"): "symbolic_link",
               ("", "subotica"): "symbolic_link", ("kikinda", f"activities_{Q}.csv"): "fifo",
               ("kikinda", f"programmes_{Q}.csv"): "socket"}
    assert set(rows) == set(refused) | {("kikinda", f"victims_{Q}.csv")}  # recorded once, in two runs
    assert rows[("kikinda", f"victims_{Q}.csv")].status == "accepted"
    for key, kind in refused.items():
        r = rows[key]
        assert (r.status, r.archive_path, r.size_bytes, r.content_sha256) == ("rejected", "", 0, ingest.NOT_READ), key
        assert reasons[r.submission_id] == ("not_a_regular_file", kind)
        assert r.notification == "sent", key
    archived = [p.read_bytes() for p in (data / "archive").rglob("*") if p.is_file()]
    assert len(archived) == 1 and secret_file.path.read_bytes() not in archived  # only the real file was read
    told = {m["Subject"]: rcpt for rcpt, m in mailbox.received}
    assert any(rcpt == [COORDINATOR] and "subotica" in s for s, rcpt in told.items())  # no team for the root entry
    nis = next(m for rcpt, m in mailbox.received if rcpt == list(reference.teams()["nis"].contact_emails))
    assert "not a regular file" in nis.get_body(("plain",)).get_content()


def test_object_keys_that_climb_out_of_the_inbox_are_refused(tmp_path):
    """On object storage (here fsspec's in-memory store through ObjectStoragePath) a key may hold '..', '.'
    or empty segments; such keys are recorded as refused and never read or archived."""
    from airflow.sdk.io import attach
    from fsspec.implementations.memory import MemoryFileSystem

    from thb_reporting.core.config import PipelineConfig

    bucket = f"thb-test-{os.getpid()}-{tmp_path.name}"
    store = attach("memory", fs=MemoryFileSystem()).fs  # one store per process, shared by every path
    good = SubmissionGenerator(tmp_path / "gen", seed=34).victims_file("nis", Q)
    keys = {f"nis/victims_{Q}.csv": None, f"nis/../../victims_{Q}.csv": "unsafe_key",
            f"nis/./activities_{Q}.csv": "unsafe_key", f"nis//programmes_{Q}.csv": "unsafe_key",
            f"nis/../vranje/cross_border_{Q}.csv": "unsafe_key"}
    for key in keys:
        store.pipe(f"/{bucket}/inbox/{key}", good.path.read_bytes())
    try:
        config = PipelineConfig.local(tmp_path / "data", TEST_KEY, inbox=f"memory://{bucket}/inbox")
        ids = ingest.collect_new_submissions(config)
        rows = ledger(config.reporting_db_url)
        assert [(r.team_code, r.file_name, r.status) for r in rows if r.submission_id in ids] == [
            ("nis", f"victims_{Q}.csv", "received")]
        refused = [r for r in rows if r.status == "rejected"]
        assert sorted(r.inbox_path.split("/inbox/", 1)[1] for r in refused) == sorted(
            k for k, v in keys.items() if v == "unsafe_key")
        assert {r.team_code for r in refused} == {"nis"}  # under the folder it was listed in
        assert all(r.archive_path == "" and r.content_sha256 == ingest.NOT_READ for r in refused)
        assert {(f.rule, f.detail) for f in findings(config.reporting_db_url)} == {("not_a_regular_file", "unsafe_key")}
        assert len([p for p in (tmp_path / "data" / "archive").rglob("*") if p.is_file()]) == 1
        assert ingest.collect_new_submissions(config) == ids and len(ledger(config.reporting_db_url)) == len(rows)
    finally:
        store.rm(f"/{bucket}", recursive=True)


def _victims_with_identifiers(columns: list[str] | None = None) -> bytes:
    """A victims file with identifiers in three cells (one in a number column, one in a date column) and
    three other problems in other rows (PLANTED), with the given columns (default: the template's)."""
    generator = SubmissionGenerator(Path("/nonexistent"), seed=35)
    rows = generator.victims_rows(generator._rng("victims", "nis", Q, 1), "nis", Quarter.parse(Q), 8)
    for (row, column), value in PLANTED.items():
        rows[row - 2][column] = value
    return encode("victims", rows, columns or list(contracts.for_quarter("victims", Q).column_names), "csv_utf8")


PLANTED = {(2, "case_ref"): VALID_JMBG, (3, "age_years"): "0101006500006", (4, "referral_date"): "ana@example.org",
           (5, "status"): "nepoznato", (6, "age_years"): "dvadeset", (7, "age_years"): "200"}


def test_an_identifier_rejects_the_file_and_every_other_finding_comes_in_the_same_round(config):
    inbox = Path(config.inbox.removeprefix("file://"))
    (inbox / "nis").mkdir(parents=True)
    (inbox / "nis" / f"victims_{Q}.csv").write_bytes(_victims_with_identifiers())
    outcome = ingest.process_submissions(config, ingest.collect_new_submissions(config))
    [sid] = outcome["rejected"]
    found = {(f.source_row, f.column_name): (f.rule, f.value) for f in findings(config.reporting_db_url)}
    assert found == {(2, "case_ref"): ("personal_identifier", None), (3, "age_years"): ("personal_identifier", None),
                     (4, "referral_date"): ("personal_identifier", None), (5, "status"): ("code_list", "nepoznato"),
                     (6, "age_years"): ("whole_number", "dvadeset"), (7, "age_years"): ("range", "200")}
    [row] = ledger(config.reporting_db_url)
    quarantined = storage_path(row.quarantine_path)
    report = (quarantined / "findings.csv").read_bytes().decode("utf-8-sig")
    assert "nepoznato" in report and "dvadeset" in report
    from thb_reporting.ui.status_page import submission_report_html

    docs = submission_report_html(config.reporting_db_url, config.teams, sid, standalone=True)  # the report the team gets
    for secret in (VALID_JMBG, "0101006500006", "ana@example.org", "101006500006"):
        assert secret not in report and secret not in row.summary and secret not in docs


def test_missing_columns_still_stop_what_cannot_run(config):
    inbox = Path(config.inbox.removeprefix("file://"))
    columns = [c for c in contracts.for_quarter("victims", Q).column_names if c != "sex"]
    (inbox / "nis").mkdir(parents=True)
    (inbox / "nis" / f"victims_{Q}.csv").write_bytes(_victims_with_identifiers(columns))
    ingest.process_submissions(config, ingest.collect_new_submissions(config))
    assert sorted((f.rule, f.column_name, f.source_row) for f in findings(config.reporting_db_url)) == [
        ("missing_column", "sex", None), ("personal_identifier", "age_years", 3),
        ("personal_identifier", "case_ref", 2), ("personal_identifier", "referral_date", 4)]


def test_a_file_from_no_teams_folder_is_reported_to_the_coordinator(config, generator, smtp_server):
    port, mailbox = smtp_server
    inbox = Path(config.inbox.removeprefix("file://"))
    good = generator.victims_file("nis", Q)
    (inbox / f"victims_{Q}.csv").write_bytes(good.path.read_bytes())
    (inbox / "nepoznat_tim").mkdir()
    (inbox / "nepoznat_tim" / f"activities_{Q}.csv").write_bytes(b"x\n1\n")
    ingest.process_submissions(config, ingest.collect_new_submissions(config))
    assert queue_submission_notices(config) == 3
    deliver_outbox(config, SmtpSender())
    to_coordinator = {m["Subject"]: m for rcpt, m in mailbox.received if rcpt == [COORDINATOR]}
    assert sorted(to_coordinator) == [
        "[THB] Fajl iz neregistrovanog foldera / File from an unregistered folder: (inbox)/victims_2026Q2.csv",
        "[THB] Fajl iz neregistrovanog foldera / File from an unregistered folder: nepoznat_tim/activities_2026Q2.csv"]
    text = to_coordinator[next(s for s in to_coordinator if "nepoznat_tim" in s)].get_body(("plain",)).get_content()
    assert text.index("ne pripada nijednom registrovanom timu") < text.index("belongs to no registered team")
    assert "Folder: nepoznat_tim" in text and "thb_teams_registry" in text
    assert {r.notification for r in ledger(config.reporting_db_url)} == {"sent"}


def test_names_of_files_and_folders_of_no_team_reach_the_coordinator_screened(config, smtp_server):
    """A folder or file name can hold a personal identifier too: the coordinator's message never quotes it."""
    port, mailbox = smtp_server
    inbox = Path(config.inbox.removeprefix("file://"))
    (inbox / "ana.petrovic@example.org").mkdir(parents=True)
    (inbox / "ana.petrovic@example.org" / f"victims_{Q}_064 123 4567.csv").write_bytes(b"x\n1\n")
    ingest.process_submissions(config, ingest.collect_new_submissions(config))
    assert queue_submission_notices(config) == 1
    deliver_outbox(config, SmtpSender())
    [(rcpt, message)] = mailbox.received
    assert rcpt == [COORDINATOR]
    for text in [message["Subject"], *_texts(message)]:
        assert "ana.petrovic" not in text and "123 4567" not in text, text[:200]
