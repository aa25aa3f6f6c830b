"""Ingest runs that overlap (issue #24: a file that arrives while a run is busy gets a run of its own at once).
Real processes on the real databases: each submission is validated by one run, one accepted file per team,
dataset and quarter is current whatever the order the runs finish in, and each e-mail is queued and sent once."""
from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import asdict
from email.message import EmailMessage

from helpers import findings, ledger
from thb_reporting.intake import ingest
from thb_reporting.messaging import outbox
from thb_reporting.store.migrations import ensure_schema
from thb_reporting.store.warehouse import reporting_engine, table

HOLD_CLAIMS = """
import sys
from thb_reporting.store import ledger
from thb_reporting.store.warehouse import reporting_engine
ids = [int(i) for i in sys.argv[2].split(",")]
with ledger.processing_claims(reporting_engine(sys.argv[1]), ids) as claimed:
    print(",".join(map(str, claimed)), flush=True)
    sys.stdin.read()  # held until the test closes the pipe
"""
RUN = """
import json, sys
from thb_reporting.core.config import PipelineConfig
from thb_reporting.intake import ingest
cfg = json.loads(sys.argv[1]); cfg["pseudonymisation_key"] = cfg["pseudonymisation_key"].encode()
print(json.dumps(ingest.process_submissions(PipelineConfig(**cfg), json.loads(sys.argv[2]))))
"""


def _python(code: str, *args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code, *args], env=os.environ.copy(), text=True,
                            stdout=subprocess.PIPE, **kw)


def _validation_run(config, ids: list[int]) -> subprocess.Popen:
    cfg = asdict(config) | {"pseudonymisation_key": config.pseudonymisation_key.decode()}
    return _python(RUN, json.dumps(cfg), json.dumps(ids))


def _processed(outcome: dict) -> list[int]:
    assert outcome[ingest.RETRY_NEXT_RUN] == []
    return [i for status in ("accepted", "rejected", "failed") for i in outcome[status]]


def test_a_submission_another_run_is_validating_is_left_to_it(config, generator):
    generator.scenario(["nis", "vranje"], ["2026Q1"])
    waiting = ingest.collect_new_submissions(config)
    teams = {r.submission_id: r.team_code for r in ledger(config.reporting_db_url)}
    of_nis = [i for i in waiting if teams[i] == "nis"]
    assert of_nis and len(of_nis) < len(waiting)
    holder = _python(HOLD_CLAIMS, config.reporting_db_url, ",".join(map(str, of_nis)), stdin=subprocess.PIPE)
    try:
        assert holder.stdout.readline().strip() == ",".join(map(str, of_nis))  # the other run holds nis's
        outcome = ingest.process_submissions(config, waiting)
        assert sorted(_processed(outcome)) == sorted(set(waiting) - set(of_nis))
        assert {r.status for r in ledger(config.reporting_db_url) if r.team_code == "nis"} == {"received"}
    finally:
        holder.stdin.close()
        holder.wait(60)
    assert holder.returncode == 0
    # released (the other run ended, or died): the next run takes them
    assert sorted(_processed(ingest.process_submissions(config, waiting))) == sorted(of_nis)
    assert {r.status for r in ledger(config.reporting_db_url)} == {"accepted"}


def test_two_runs_at_once_validate_each_submission_once_and_keep_one_current(config, generator):
    generator.scenario(["nis", "vranje", "sabac"], ["2026Q1"])
    ingest.collect_new_submissions(config)
    generator.victims_file("nis", "2026Q1", version=2)  # nis sends its victims again
    waiting = ingest.collect_new_submissions(config)
    resent = max(waiting)
    # one run was started with everything but the re-sent file, the other (a later arrival) with everything
    runs = [_validation_run(config, [i for i in waiting if i != resent]), _validation_run(config, waiting)]
    outcomes = [json.loads(run.communicate(timeout=300)[0]) for run in runs]
    assert [run.returncode for run in runs] == [0, 0]
    first, second = (_processed(o) for o in outcomes)
    assert not set(first) & set(second), "a submission was validated by both runs"
    assert sorted(first + second) == sorted(waiting) and resent in second
    rows = ledger(config.reporting_db_url)
    assert {r.status for r in rows} == {"accepted"}
    current = {}
    for r in rows:
        if r.superseded_by is None:
            assert (r.team_code, r.dataset, r.quarter) not in current, "two current submissions"
            current[(r.team_code, r.dataset, r.quarter)] = r.submission_id
    assert current[("nis", "victims", "2026Q1")] == resent
    assert len(current) == len(rows) - 1
    found = findings(config.reporting_db_url)
    assert len(found) == len(set(found)), "findings recorded twice"


def _notice(key: str) -> tuple:
    message = EmailMessage()
    message["To"], message["Subject"] = "tim@nis.example", f"Primljeno: {key}"
    message.set_content("Synthetic notice.")
    return key, "submission", message, None


def test_two_runs_queueing_the_same_message_at_once_queue_it_once(config):
    engine = reporting_engine(config.reporting_db_url)
    ensure_schema(engine, views=False)
    queued_by_second, errors = [], []
    first = engine.connect()
    first.begin()
    assert outbox.enqueue_many(first, [_notice("submission:1")]) == {"submission:1"}  # not committed yet

    def second_run():
        try:
            with engine.begin() as conn:  # waits for the first run's transaction
                queued_by_second.append(outbox.enqueue_many(conn, [_notice("submission:1"), _notice("submission:2")]))
        except Exception as e:  # noqa: BLE001 (reported below)
            errors.append(e)

    thread = threading.Thread(target=second_run)
    thread.start()
    time.sleep(1)
    first.commit()
    first.close()
    thread.join(60)
    assert errors == [] and queued_by_second == [{"submission:2"}]
    with engine.connect() as conn:
        keys = conn.execute(table("outbox", "ledger").select()).all()
    assert sorted(r.dedupe_key for r in keys) == ["submission:1", "submission:2"]


def test_a_stale_message_is_taken_again_by_one_delivery_only(config):
    engine = reporting_engine(config.reporting_db_url)
    ensure_schema(engine, views=False)
    box = table("outbox", "ledger")
    now = dt.datetime.now(dt.timezone.utc)
    with engine.begin() as conn:
        outbox.enqueue_many(conn, [_notice("submission:1")])
        # a delivery that crashed while sending, long ago
        conn.execute(box.update().values(status="sending", next_attempt_at=now - outbox.STALE_SENDING * 2))
    with engine.connect() as conn:
        due = conn.execute(box.select()).all()  # as both deliveries read it
    assert [r.dedupe_key for r in outbox._claim(engine, due, now)] == ["submission:1"]
    assert outbox._claim(engine, due, now) == []  # the other delivery finds it taken
