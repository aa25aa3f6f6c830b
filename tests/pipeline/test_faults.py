"""Faults injected into real runs: a process killed mid-publish or mid-ingest, the database cut during a
publish, two runs at once. Nothing half-done is ever visible, and the next run completes."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict

import pytest

from helpers import dump, ledger, publications, published_indicator
from test_pipeline import run_cycle
from oracle import Truth
from thb_reporting.intake import ingest
from thb_reporting.publishing import publish

TABLES = ("victims", "indicators", "public_indicators", "publications")
CHILD = """
import json, sys
from thb_reporting.core.config import PipelineConfig
from thb_reporting.intake import ingest
from thb_reporting.publishing import publish
cfg = json.loads(sys.argv[1]); cfg["pseudonymisation_key"] = cfg["pseudonymisation_key"].encode()
config = PipelineConfig(**cfg)
if sys.argv[2] == "publish":
    publish.publish(config)
else:
    ingest.process_submissions(config, ingest.collect_new_submissions(config))
"""


def _start(config, step: str, point: str, marker) -> subprocess.Popen:
    cfg = asdict(config) | {"pseudonymisation_key": config.pseudonymisation_key.decode()}
    env = os.environ | {"THB_FAULT_POINT": point, "THB_FAULT_MARKER": str(marker), "THB_FAULT_WAIT": "120"}
    return subprocess.Popen([sys.executable, "-c", CHILD, json.dumps(cfg), step], env=env)


def _wait_for(marker, process, seconds=120):
    deadline = time.time() + seconds
    while not marker.exists():
        assert process.poll() is None, "the run ended before reaching the fault point"
        assert time.time() < deadline, "the fault point was not reached"
        time.sleep(0.2)


def _tables(config):
    return {t: dump(config.reporting_db_url, t) for t in TABLES}


def _publisher_paused_before_commit(config, generator, tmp_path, resubmitting_team: str):
    """Two teams published, then one re-submits and a publisher in a child process stops with every new row
    written and nothing committed. Returns the tables as they were before, and the child."""
    generator.scenario(["nis", "vranje"], ["2026Q1"])
    run_cycle(config)
    before = _tables(config)
    generator.victims_file(resubmitting_team, "2026Q1", version=2)
    ingest.process_submissions(config, ingest.collect_new_submissions(config))
    marker = tmp_path / "at-fault-point"
    child = _start(config, "publish", "publish_before_commit", marker)
    _wait_for(marker, child)
    return before, child


def test_killed_between_writing_and_switching_leaves_the_old_tables(config, generator, tmp_path):
    before, child = _publisher_paused_before_commit(config, generator, tmp_path, "nis")
    assert _tables(config) == before  # readers see the old tables while the new ones are written
    child.send_signal(signal.SIGKILL)
    child.wait(30)
    assert _tables(config) == before  # killed: nothing of the new publish is visible
    publish.publish(config)  # the next run completes
    assert published_indicator(config.reporting_db_url) == Truth(generator.files).victims_by_team_quarter()


def test_killed_after_writing_a_snapshot_the_next_run_finishes_the_file(config, generator, tmp_path):
    generator.scenario(["nis"], ["2026Q1"])
    marker = tmp_path / "at-fault-point"
    child = _start(config, "ingest", "snapshot_written", marker)
    _wait_for(marker, child)
    child.send_signal(signal.SIGKILL)
    child.wait(30)
    assert [r.status for r in ledger(config.reporting_db_url)] == ["received"]  # not lost, not half-accepted
    ingest.process_submissions(config, ingest.collect_new_submissions(config))
    [row] = ledger(config.reporting_db_url)
    assert row.status == "accepted" and row.rows_accepted == len(generator.files[0].rows)
    snapshots = list((tmp_path / "data" / "snapshots").rglob("*"))
    assert not [p for p in snapshots if p.name.endswith(".part")]  # no half-written file left in sight


@pytest.mark.parametrize("reporting_db_url", ["postgres"], indirect=True)
def test_database_cut_during_publish_is_retried_with_nothing_partial(config, generator, tmp_path):
    from sqlalchemy import create_engine, text

    before, child = _publisher_paused_before_commit(config, generator, tmp_path, "vranje")
    admin = create_engine(config.reporting_db_url)
    with admin.connect() as conn:  # the database drops the publisher's connection
        cut = conn.execute(text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                "WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar_one()
    admin.dispose()
    assert cut >= 1
    child.send_signal(signal.SIGTERM)
    assert child.wait(60) != 0  # the publish failed: Airflow retries the task
    assert _tables(config) == before
    publish.publish(config)  # the retry
    assert published_indicator(config.reporting_db_url) == Truth(generator.files).victims_by_team_quarter()


def test_two_publishes_at_once_one_waits(config, generator):
    generator.scenario(["nis", "vranje", "sabac"], ["2026Q1", "2026Q2"])
    ingest.process_submissions(config, ingest.collect_new_submissions(config))
    results, errors = [], []

    def run():
        try:
            results.append(publish.publish(config))
        except Exception as e:  # noqa: BLE001  (reported below)
            errors.append(e)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    changed = [sum(len(d["changed"]) for d in r.values()) for r in results]
    assert sorted(changed) == [0, 6]  # one did the work, the other found it done
    assert published_indicator(config.reporting_db_url) == Truth(generator.files).victims_by_team_quarter()
    assert len(publications(config.reporting_db_url)) == 6
    rows = dump(config.reporting_db_url, "victims")
    assert len(rows) == len(set(rows)) == Truth(generator.files).published_rows()


@pytest.mark.parametrize("reporting_db_url", ["sqlite"], indirect=True)
def test_a_log_that_cannot_be_written_does_not_spill_what_a_failing_file_said(config, generator, monkeypatch, capfd):
    """When a log record cannot be written (here: a handler on a closed stream), logging prints the error
    to stderr, with the exception being handled at that moment. The pipeline logs a file's failure after
    its except block, so the exception's message (which may quote the file) is not among them."""
    import io
    import logging

    from thb_reporting.tools.generator import VALID_JMBG

    secret = f"row 7: Jovana Petrović, JMBG {VALID_JMBG}"
    generator.victims_file("nis", "2026Q1")
    monkeypatch.setenv("THB_FAULT_POINT", "processing nis/victims_2026Q1.csv")
    monkeypatch.setenv("THB_FAULT_RAISE", secret)
    closed = io.StringIO()
    closed.close()
    handler = logging.StreamHandler(closed)
    logging.getLogger("thb_reporting").addHandler(handler)
    try:
        outcome = ingest.process_submissions(config, ingest.collect_new_submissions(config))
    finally:
        logging.getLogger("thb_reporting").removeHandler(handler)
    assert outcome["retrying"] or outcome["failed"]  # the fault happened
    err = capfd.readouterr().err
    assert "Logging error" in err  # the closed stream was written to
    assert VALID_JMBG not in err and "Jovana" not in err
