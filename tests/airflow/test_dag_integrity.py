"""Every DAG parses without error, documents itself, and keeps heavy imports out of parse time."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

DAGS = Path(__file__).resolve().parents[2] / "dags"
HEAVY = ("great_expectations", "pandas", "pyarrow", "openpyxl", "psycopg", "thb_reporting.validation.checks",
         "thb_reporting.validation.suite_runner", "thb_reporting.intake.ingest", "thb_reporting.publishing.publish")
EXPECTED = {"ingest_submissions", "publish_national_tables", "send_weekly_digest", "lock_quarter", "reporting_calendar",
            "release_national_figures"}


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS))


def test_dags_import_without_errors(dagbag):
    assert dagbag.import_errors == {}
    assert EXPECTED <= set(dagbag.dags)


def test_dags_are_documented_tagged_owned_and_retried(dagbag):
    for dag_id, dag in dagbag.dags.items():
        assert dag.doc_md and len(dag.doc_md) > 200, f"{dag_id}: doc_md"
        assert "thb" in dag.tags, f"{dag_id}: tags"
        # ingest's runs overlap (a file arriving while a run is busy gets its own); the others never do
        assert dag.max_active_runs == (2 if dag_id == "ingest_submissions" else 1), f"{dag_id}: active runs"
        for task in dag.tasks:
            assert task.owner == "thb-data-engineering", f"{dag_id}.{task.task_id}: owner"
            assert task.retries >= 1, f"{dag_id}.{task.task_id}: retries"


def test_schedules(dagbag):
    ingest = dagbag.dags["ingest_submissions"]
    publish = dagbag.dags["publish_national_tables"]
    assert ingest.catchup is False
    # on an arrival in the inbox (the triggerer's watch), and hourly as a safety net
    assert ingest.schedule.timetable.expression == "0 * * * *"
    # on an arrival in the inbox or the reporting mailbox (the triggerer's watches)
    arrivals = {a.name: a for a in ingest.schedule.asset_condition.objects}
    assert {name: [w.trigger.serialize()[0] for w in a.watchers] for name, a in arrivals.items()} == {
        "thb_inbox_arrivals": ["thb_reporting.intake.inbox_watch.InboxArrivalTrigger"],
        "thb_mail_arrivals": ["thb_reporting.intake.inbox_watch.MailboxArrivalTrigger"]}
    outlets = [o.name for t in ingest.tasks for o in t.outlets]
    assert outlets == ["thb_accepted_snapshots"]
    assert [a.name for a in publish.schedule] == ["thb_accepted_snapshots"]
    release = dagbag.dags["release_national_figures"]
    assert release.timetable.expression == "0 7 * * *" and release.catchup is False
    approval = release.get_task("approve_release")
    # the human-in-the-loop operator of the standard provider; no default answer, so a timeout never approves
    assert [c.__name__ for c in type(approval).__mro__][:2] == ["ReleaseApproval", "HITLOperator"]
    assert approval.defaults is None and approval.response_timeout.days == 7
    assert release.get_task("record_decision").trigger_rule == "none_skipped"


@pytest.mark.parametrize("dag_file", sorted(p.name for p in DAGS.glob("*.py")))
def test_no_heavy_import_when_a_dag_file_is_parsed(dag_file):
    """Parse the DAG file in a fresh interpreter and look at what it loaded."""
    probe = (
        "import runpy, sys; runpy.run_path(sys.argv[1]); "
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", probe, str(DAGS / dag_file)], capture_output=True, text=True,
                         env=os.environ.copy(), timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    loaded = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ""
    assert loaded == "", f"{dag_file} imports {loaded} at parse time"
