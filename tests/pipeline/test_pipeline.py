"""The ingest and publish steps called directly (no scheduler), on SQLite and on PostgreSQL."""
from __future__ import annotations

import io
from pathlib import Path

import pytest

from helpers import dump, findings, ledger, persons, publications, published_indicator
from oracle import Truth
from thb_reporting.core import contracts, reference
from thb_reporting.intake import ingest
from thb_reporting.publishing import publish
from thb_reporting.core.privacy import PseudonymisationKeyMissing
from thb_reporting.store.storage import storage_path
from thb_reporting.validation import checks

TEAMS = ["subotica", "novi_sad", "nis", "vranje"]
PLANTS = {("subotica", "2026Q1"): "unknown_code", ("novi_sad", "2026Q2"): "jmbg", ("nis", "2026Q1"): "missing_column"}


def run_cycle(config):
    ids = ingest.collect_new_submissions(config)
    outcome = ingest.process_submissions(config, ids)
    return outcome, publish.publish(config)


def test_cycle_publishes_the_truth_and_keeps_every_file(config, generator):
    truth = Truth(generator.scenario(TEAMS, ["2026Q1", "2026Q2"], PLANTS))
    outcome, _ = run_cycle(config)
    assert (len(outcome["accepted"]), len(outcome["rejected"]), outcome["failed"]) == (5, 3, [])
    assert published_indicator(config.reporting_db_url) == truth.victims_by_team_quarter()
    assert len(dump(config.reporting_db_url, "victims")) == truth.published_rows()

    rows = ledger(config.reporting_db_url)
    by_file = {(r.team_code, r.file_name): r for r in rows}
    for f in truth.files:
        r = by_file[(f.team, f.file_name)]
        # archived byte for byte, whatever became of it
        assert storage_path(r.archive_path).read_bytes() == f.path.read_bytes()
        assert r.status == f.expected_status
        if f.plant:
            assert r.error_count >= 1 and r.snapshot_path is None
            quarantined = storage_path(r.quarantine_path)
            assert (quarantined / f.file_name).read_bytes() == f.path.read_bytes()
            report = (quarantined / "findings.csv").read_text(encoding="utf-8-sig")
            assert f.expected_rule in report
        else:
            assert r.rows_accepted == len(f.people) and r.snapshot_path
    planted = {(r.submission_id, r.rule, r.column_name, r.source_row) for r in findings(config.reporting_db_url)}
    for f in truth.files:
        if f.plant:
            sid = by_file[(f.team, f.file_name)].submission_id
            assert (sid, f.expected_rule, {"unknown_code": "status", "jmbg": "case_ref", "missing_column": "sex"}[f.plant],
                    f.planted_row) in planted


def test_snapshots_hold_no_clear_reference_and_no_exact_age(config, generator):
    import pyarrow.parquet as pq

    truth = Truth(generator.scenario(TEAMS, ["2026Q1"]))
    run_cycle(config)
    snapshots = [r.snapshot_path for r in ledger(config.reporting_db_url)]
    assert len(snapshots) == len(TEAMS)
    stored = ["source_row", *(n for n, _ in contracts.for_quarter("victims", "2026Q1").stored_columns())]
    for path in snapshots:
        data = storage_path(path).read_bytes()
        table = pq.read_table(io.BytesIO(data))
        assert table.column_names == stored
        for ref in truth.references():
            assert ref.encode() not in data and ref.upper().encode() not in data
        tokens = table.column("case_ref_token").to_pylist()
        assert all(len(t) == 32 for t in tokens)


def test_running_again_changes_nothing(config, generator):
    generator.scenario(TEAMS, ["2026Q1", "2026Q2"], PLANTS)
    run_cycle(config)
    before = {name: dump(config.reporting_db_url, name) for name in ("victims", "victims_by_team_quarter", "publications")}
    before_ledger = dump(config.reporting_db_url, "submissions", "ledger")
    outcome, published = run_cycle(config)
    assert outcome == {"accepted": [], "rejected": [], "failed": [], "retrying": []}
    assert all(p["changed"] == [] for p in published.values())
    assert {name: dump(config.reporting_db_url, name) for name in before} == before
    assert dump(config.reporting_db_url, "submissions", "ledger") == before_ledger


def test_resubmission_replaces_and_rejected_resubmission_does_not(config, generator):
    generator.scenario(["nis", "vranje"], ["2026Q1"])
    run_cycle(config)
    v2 = generator.victims_file("nis", "2026Q1", version=2)
    run_cycle(config)
    assert published_indicator(config.reporting_db_url) == Truth(generator.files).victims_by_team_quarter()
    assert publications(config.reporting_db_url)[("nis", "2026Q1")] == ledger(config.reporting_db_url)[-1].submission_id
    assert persons(config.reporting_db_url, "nis", "2026Q1") == len(v2.people)
    generator.victims_file("nis", "2026Q1", version=3, plant="age_out_of_range")
    run_cycle(config)
    assert published_indicator(config.reporting_db_url) == Truth(generator.files).victims_by_team_quarter()
    rows = [r for r in ledger(config.reporting_db_url) if r.team_code == "nis"]
    assert [(r.file_name, r.status) for r in rows] == [
        ("victims_2026Q1.csv", "accepted"), ("victims_2026Q1_v2.csv", "accepted"), ("victims_2026Q1_v3.csv", "rejected")]
    assert rows[0].superseded_by == rows[1].submission_id and rows[1].superseded_by is None
    # the other team's figures were not touched
    assert publications(config.reporting_db_url)[("vranje", "2026Q1")] == next(
        r.submission_id for r in ledger(config.reporting_db_url) if r.team_code == "vranje")


def test_a_file_that_cannot_be_processed_stays_received_and_the_others_go_on(config, generator):
    generator.scenario(TEAMS, ["2026Q1"])
    ids = ingest.collect_new_submissions(config)
    first = next(r for r in ledger(config.reporting_db_url) if r.submission_id == ids[0])
    archived = Path(first.archive_path.removeprefix("file://"))
    archived.rename(archived.with_suffix(".away"))  # the archive is unreachable for this one file
    outcome = ingest.process_submissions(config, ids)
    assert outcome["retrying"] == [ids[0]] and len(outcome["accepted"]) == len(TEAMS) - 1
    assert {r.submission_id: r.status for r in ledger(config.reporting_db_url)}[ids[0]] == "received"
    archived.with_suffix(".away").rename(archived)
    assert ingest.collect_new_submissions(config) == [ids[0]]  # still waiting, picked up again
    assert ingest.process_submissions(config)["accepted"] == [ids[0]]



@pytest.mark.parametrize("batch_fails", [False, True])
def test_each_file_is_read_and_parsed_once_per_run(config, generator, monkeypatch, batch_fails):
    """A real cycle over several files, one of them too large for the batch: collecting reads each file in the
    inbox once; processing reads each archived copy once and parses it once, whether the file was validated
    with the others (the batch step hands it on) or alone, accepted or rejected, and also when validating
    the batch fails. A run with nothing new reads nothing."""
    import hashlib
    from collections import Counter

    from airflow.sdk import ObjectStoragePath

    files = generator.scenario(TEAMS, ["2026Q1", "2026Q2"], PLANTS)
    largest = max(files, key=lambda f: f.path.stat().st_size)
    monkeypatch.setattr(ingest, "BATCH_FILE_BYTES", largest.path.stat().st_size - 1)  # validated alone
    # with any file of the same size: an XLSX file's size moves with the time written in it (a fresh clone's CI
    # once had two files tie)
    alone = [f for f in files if f.path.stat().st_size >= largest.path.stat().st_size]
    inbox_reads, archive_reads, parsed, batched = Counter(), Counter(), Counter(), []

    def spy(counter, key, real):
        def counted(*args, **kwargs):
            counter[key(*args, **kwargs)] += 1
            return real(*args, **kwargs)
        return counted

    monkeypatch.setattr(ingest, "read_inbox_file", spy(inbox_reads, str, ingest.read_inbox_file))
    archive = storage_path(config.data_root) / "archive"
    real_read_bytes, real_open = ObjectStoragePath.read_bytes, ObjectStoragePath.open

    def read_bytes(self):
        if str(self).startswith(str(archive)):
            archive_reads[str(self)] += 1
        return real_read_bytes(self)

    def open_(self, mode="r", *args, **kwargs):
        if "r" in mode and str(self).startswith(str(archive)):
            archive_reads[str(self)] += 1
        return real_open(self, mode, *args, **kwargs)

    monkeypatch.setattr(ObjectStoragePath, "read_bytes", read_bytes)
    monkeypatch.setattr(ObjectStoragePath, "open", open_)
    monkeypatch.setattr(ingest, "read_submission",
                        spy(parsed, lambda data, name: hashlib.sha256(data).hexdigest(), ingest.read_submission))

    def clear_in_batches(runner, suite_name, quarter, group):
        batched.extend(group)
        if batch_fails:
            raise RuntimeError("the batch cannot be validated")
        return real_clear(runner, suite_name, quarter, group)

    real_clear = checks.clear_in_batches
    monkeypatch.setattr(checks, "clear_in_batches", clear_in_batches)

    outcome = ingest.process_submissions(config, ingest.collect_new_submissions(config))
    assert (len(outcome["accepted"]), len(outcome["rejected"]), outcome["failed"]) == (5, 3, [])
    rows = ledger(config.reporting_db_url)
    assert len(rows) == len(files)
    # all but the largest were handed to the batch (when it fails, its first group was, and then it stopped)
    assert 0 < len(batched) < len(files) if batch_fails else len(batched) == len(files) - len(alone) > 0
    assert inbox_reads == Counter(r.inbox_path for r in rows)
    assert archive_reads == Counter(r.archive_path for r in rows)
    assert parsed == Counter(r.content_sha256 for r in rows)
    assert all(n == 1 for n in (*inbox_reads.values(), *archive_reads.values(), *parsed.values()))
    for counter in (inbox_reads, archive_reads, parsed):
        counter.clear()
    assert ingest.process_submissions(config, ingest.collect_new_submissions(config))["accepted"] == []
    assert not (inbox_reads or archive_reads or parsed)

def test_files_outside_a_team_folder_or_misnamed_are_rejected_not_lost(config, generator):
    inbox = Path(config.inbox.removeprefix("file://"))
    generator.victims_file("nis", "2026Q1")
    (inbox / "victims_2026Q1.csv").write_bytes((inbox / "nis" / "victims_2026Q1.csv").read_bytes() + b"\n")
    (inbox / "nepoznat_tim").mkdir()
    (inbox / "nepoznat_tim" / "victims_2026Q1.csv").write_bytes(b"case_ref\nX\n")
    (inbox / "nis" / "izvestaj.docx").write_bytes(b"not a submission")
    (inbox / "nis" / "victims_2099Q1.csv").write_bytes(b"case_ref\nX\n")
    outcome, _ = run_cycle(config)
    rules = {(r.team_code, r.file_name): r.summary for r in ledger(config.reporting_db_url) if r.status == "rejected"}
    assert len(outcome["rejected"]) == 4 and len(outcome["accepted"]) == 1
    assert "belongs to no registered team" in rules[("", "victims_2026Q1.csv")]
    assert "belongs to no registered team" in rules[("nepoznat_tim", "victims_2026Q1.csv")]
    assert "file name does not follow" in rules[("nis", "izvestaj.docx")]
    assert "has not started yet" in rules[("nis", "victims_2099Q1.csv")]
    assert set(reference.teams()) >= {"nis"}


def test_pipeline_refuses_to_run_without_a_key(config, generator):
    from dataclasses import replace

    generator.scenario(["nis"], ["2026Q1"])
    keyless = replace(config, pseudonymisation_key=b"")
    ids = ingest.collect_new_submissions(keyless)  # archiving needs no key
    with pytest.raises(PseudonymisationKeyMissing):
        ingest.process_submissions(keyless, ids)
    assert [r.status for r in ledger(config.reporting_db_url)] == ["received"]


def test_publish_is_all_or_nothing(config, generator):
    """A snapshot that cannot be read half-way through a publish leaves the published tables as they were."""
    generator.scenario(["nis", "vranje", "sabac"], ["2026Q1"])
    run_cycle(config)
    before = {name: dump(config.reporting_db_url, name) for name in ("victims", "victims_by_team_quarter", "publications")}
    generator.victims_file("nis", "2026Q1", version=2)
    generator.victims_file("vranje", "2026Q1", version=2)
    ingest.process_submissions(config, ingest.collect_new_submissions(config))
    broken = next(r for r in ledger(config.reporting_db_url) if r.file_name == "victims_2026Q1_v2.csv" and r.team_code == "vranje")
    Path(broken.snapshot_path.removeprefix("file://")).write_bytes(b"PAR1 truncated")
    with pytest.raises(Exception):
        publish.publish(config)
    assert {name: dump(config.reporting_db_url, name) for name in before} == before


def test_all_five_datasets_flow_to_their_national_tables(config, generator):
    from sqlalchemy import func, select

    from thb_reporting.store.warehouse import reporting_engine, table

    datasets = contracts.datasets()
    plants = {("nis", "2026Q1", "criminal_justice"): "conviction_above_indictment",
              ("vranje", "2026Q1", "programmes"): "end_before_start"}
    truth = Truth(generator.scenario(TEAMS, ["2026Q1"], plants, datasets=datasets))
    outcome, _ = run_cycle(config)
    assert len(outcome["rejected"]) == 2 and len(outcome["accepted"]) == len(TEAMS) * len(datasets) - 2
    sums = {"criminal_justice": "persons_female", "programmes": "amount_rsd", "activities": "participants",
            "cross_border": "persons"}
    with reporting_engine(config.reporting_db_url).connect() as conn:
        for dataset in datasets:
            facts = table(dataset)
            count = conn.execute(select(func.count()).select_from(facts)).scalar_one()
            assert count == truth.published_rows(dataset), dataset
            if dataset in sums:
                total = conn.execute(select(func.sum(facts.c[sums[dataset]]))).scalar_one()
                assert total == sum(r[sums[dataset]] for _, _, r in truth.rows(dataset)), dataset
    # a re-submission of one dataset leaves the team's other datasets of the quarter untouched
    before = {d: dump(config.reporting_db_url, d) for d in datasets if d != "activities"}
    generator.dataset_file("activities", "subotica", "2026Q1", version=2)
    run_cycle(config)
    assert {d: dump(config.reporting_db_url, d) for d in before} == before
    assert publications(config.reporting_db_url, "activities")[("subotica", "2026Q1")] == ledger(config.reporting_db_url)[-1].submission_id
