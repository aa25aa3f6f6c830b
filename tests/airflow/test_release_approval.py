"""The coordinator's approval of a release (DAG release_national_figures, issue #22) in a real Airflow.

On loopback: a fresh PostgreSQL database for Airflow's metadata and another for the warehouse, the
LocalExecutor, an api-server, a scheduler and a dag-processor, the deployment's users of the simple auth
manager (AIRFLOW_USERS: `coordinator`, role user, the only approver; `engineer`, role admin; `viewer`). 2026Q2
of three teams is published into the warehouse in-process first. Then, through the REST API as the UI uses it:
the DAG is triggered for 2026Q2; its task approve_release waits for input with the candidate's prompt; the
engineer's answer is refused (403: an admin is no approver unless named), and the viewer's; the
coordinator approves with a note, and the release is `released` and what the ministries' view shows. A
second candidate of the same quarter is rejected with a reason: nothing more is released. While the first
waits, a headless Chromium shows the prompt on the task's Required actions page (THB_UPDATE_DOCS_IMG=1
saves it as docs/img/release_approval.png)."""
from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.parse
import uuid
from pathlib import Path

import pytest

from airflow_cluster import Cluster, http_up, wait_for
from fixtures import IN_CI, TEST_KEY, fresh_database, free_port
from tls_postgres import without_tls
from test_airflow_ui import _get
from test_pipeline import run_cycle
from thb_reporting.core.config import PipelineConfig
from thb_reporting.tools.generator import SubmissionGenerator
from thb_reporting.tools.airflow_runs import AIRFLOW_USERS
from thb_reporting.tools.release_approval import APPROVE, REJECT

pytestmark = [pytest.mark.airflow, pytest.mark.postgres]

DAG_ID, TASK_ID, PERIOD = "release_national_figures", "approve_release", "2026Q2"
TEAMS = ["nis", "vranje", "kraljevo"]
SUBJECT = f"Release {PERIOD} (provisional)? / Objaviti?"
SECTIONS = ("What changes against the last release", "Teams missing or late", "Disclosure control")
TIMEOUT = float(os.environ.get("THB_RELEASE_TEST_TIMEOUT", "180"))  # seconds, for each wait
# this checkout's docs/img (not PROJECT_ROOT: that is where the package is installed from)
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "img" / "release_approval.png"


class _Api:
    """Airflow's REST API on loopback, as one user of the simple auth manager."""

    def __init__(self, base: str, user: str, password: str):
        self.base = base
        self.token = json.loads(_get(f"{base}/auth/token", data={"username": user, "password": password}))["access_token"]

    def __call__(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        try:
            return 200, json.loads(_get(f"{self.base}/api/v2/{path}", self.token, body, method=method))
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"{}")

    def ok(self, method: str, path: str, body: dict | None = None) -> dict:
        status, answer = self(method, path, body)
        assert status == 200, f"{method} {path}: {status} {answer}"
        return answer


def _run_path(run_id: str) -> str:
    return f"dags/{DAG_ID}/dagRuns/{urllib.parse.quote(run_id, safe='')}"


def _hitl_path(run_id: str) -> str:
    """What the UI's form answers: the task's human-in-the-loop detail (map index -1: not mapped)."""
    return f"{_run_path(run_id)}/taskInstances/{TASK_ID}/-1/hitlDetails"


def _task_states(api: _Api, run_id: str) -> dict[str, str]:
    return {t["task_id"]: t["state"] for t in api.ok("GET", f"{_run_path(run_id)}/taskInstances")["task_instances"]}


def _trigger_and_wait_for_the_prompt(api: _Api, cluster: Cluster) -> str:
    """Trigger a provisional candidate of PERIOD; returns the run id once approve_release awaits input."""
    run_id = api.ok("POST", f"dags/{DAG_ID}/dagRuns",
                    {"logical_date": None, "conf": {"period": PERIOD, "status": "provisional"}})["dag_run_id"]

    def awaiting():
        tasks = _task_states(api, run_id)
        if api.ok("GET", _run_path(run_id))["state"] == "failed" or {"failed", "up_for_retry", "upstream_failed"} & set(tasks.values()):
            raise AssertionError(f"run {run_id} went wrong: {tasks}")
        return tasks.get(TASK_ID) == "awaiting_input"

    wait_for(f"{TASK_ID} of {run_id} to await input", awaiting, cluster, TIMEOUT)
    # A person answers minutes later; the test could answer before the scheduler has taken the end of the parked
    # workload, and Airflow 3.3.2 then takes that late event for the resumed try's ("state changed externally"),
    # kills it and retries the prompt (seen here once in four runs). So the test answers once it has been taken.
    parked = f"TaskInstance Finished: dag_id={DAG_ID}, task_id={TASK_ID}, run_id={run_id},"
    wait_for(f"the scheduler to take {TASK_ID}'s parking", lambda: parked in cluster.log_text("scheduler"), cluster,
             TIMEOUT, interval=0.5)
    return run_id


def _wait_for_the_run(api: _Api, cluster: Cluster, run_id: str, expected: str = "success") -> dict[str, str]:
    """The states of the run's tasks once the run has ended in the state expected."""

    def ended():
        state = api.ok("GET", _run_path(run_id))["state"]
        return state if state in ("success", "failed") else None

    state = wait_for(f"run {run_id} to end", ended, cluster, TIMEOUT)
    tasks = _task_states(api, run_id)
    assert state == expected, f"run {run_id}: {state}, tasks {tasks}"
    return tasks


def _rows(db_url: str, sql: str, **params) -> list:
    from sqlalchemy import text

    from thb_reporting.store.warehouse import reader_engine

    with reader_engine(db_url).connect() as conn:
        return conn.execute(text(sql), params).all()


def _releases(db_url: str) -> list:
    return _rows(db_url, "SELECT release_id, period, status, state, decided_by, note FROM national.releases ORDER BY release_id")


def _public_release_ids(db_url: str) -> set[int]:
    """The releases whose figures the ministries' view reporting_public.indicators shows for PERIOD."""
    return {r.release_id for r in _rows(db_url, "SELECT DISTINCT release_id FROM reporting_public.indicators WHERE period = :p",
                                        p=PERIOD)}


def _screenshot_the_prompt(base: str, password: str, run_id: str, tmp_path: Path) -> None:
    """The task's Required actions page as the coordinator meets it, in a headless Chromium."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from test_reporting_status_page import CHROMEDRIVER, CHROMIUM, headless_chromium, log_in

    if not (CHROMIUM and CHROMEDRIVER):  # the REST API's part of the test stands without the picture
        if IN_CI:
            pytest.fail("the screenshot needs Debian's Chromium and ChromeDriver (CI=true)")
        return
    url = f"{base}/dags/{DAG_ID}/runs/{urllib.parse.quote(run_id, safe='')}/tasks/{TASK_ID}/required_actions"
    target = SCREENSHOT if os.environ.get("THB_UPDATE_DOCS_IMG") == "1" else tmp_path / SCREENSHOT.name
    browser = headless_chromium(1400, 1000)
    try:
        log_in(browser, url, "coordinator", password)
        browser.get(url)

        def prompt_shown(b):
            text = b.find_element(By.TAG_NAME, "body").text
            return text if SUBJECT in text and APPROVE in text else None

        page = WebDriverWait(browser, 60).until(prompt_shown)
        # the whole prompt down to the note and the options in one picture: the window as tall as the panel's
        # scrolling content needs (the list of teams missing or late is long in a scenario of three teams)
        hidden = browser.execute_script(
            "return Math.max(0, ...[...document.querySelectorAll('*')].map(e => e.scrollHeight - e.clientHeight)"
            ".filter(d => d > 0 && d < 10000))")
        browser.set_window_size(1400, min(1000 + hidden, 4000))
        time.sleep(1)  # fonts and the Markdown settle
        browser.save_screenshot(str(target))
    finally:
        browser.quit()
    assert SUBJECT in page and APPROVE in page and "Disclosure control" in page
    assert target.stat().st_size > 10_000


def test_the_coordinator_approves_then_rejects_a_release_in_a_real_airflow(tmp_path, pg_url):
    started = time.monotonic()
    config = PipelineConfig.local(tmp_path / "data", TEST_KEY, reporting_db_url=pg_url)
    SubmissionGenerator(Path(config.inbox.removeprefix("file://")), seed=22).scenario(TEAMS, [PERIOD])
    outcome, _ = run_cycle(config)
    assert len(outcome["accepted"]) == len(TEAMS) and not outcome["rejected"]

    passwords = {user.split(":")[0]: f"{user.split(':')[0]}-{uuid.uuid4().hex[:8]}" for user in AIRFLOW_USERS.split(",")}
    (tmp_path / "passwords.json").write_text(json.dumps(passwords))
    with fresh_database("thb_test_airflow") as metadata_url:
        api_port = free_port()
        base = f"http://127.0.0.1:{api_port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW__", "AIRFLOW_VAR_", "AIRFLOW_CONN_"))}
        env.update({
            "AIRFLOW_HOME": str(tmp_path / "airflow-home"),
            "AIRFLOW__CORE__DAGS_FOLDER": os.environ["AIRFLOW__CORE__DAGS_FOLDER"],
            "AIRFLOW__CORE__PLUGINS_FOLDER": os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"],
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            # No run of the daily schedule: unpaused, the DAG would at once get today's scheduled run, whose candidate
            # (the quarter due now, with nothing accepted here) fails and is retried for minutes, and with one active
            # run at a time the triggered runs would wait behind it. Triggered runs are not affected.
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_url,
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{base}/execution/",
            "AIRFLOW__API__BASE_URL": base,
            "AIRFLOW__API_AUTH__JWT_SECRET": uuid.uuid4().hex,
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": AIRFLOW_USERS,  # the coordinator: role user, enough to answer
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(tmp_path / "passwords.json"),
            "AIRFLOW_VAR_THB_RELEASE_APPROVERS": "coordinator",
            "AIRFLOW_VAR_THB_DATA_ROOT": config.data_root,
            "AIRFLOW_VAR_THB_PSEUDONYMISATION_KEY": TEST_KEY.decode(),
            "AIRFLOW_CONN_REPORTING_DB": without_tls(pg_url),
        })
        cluster = Cluster(tmp_path, env)
        try:
            cluster.airflow("db", "migrate", timeout=600)
            cluster.start("api-server", "api-server", "--host", "127.0.0.1", "--port", str(api_port), "--workers", "1")
            cluster.start("scheduler", "scheduler")
            cluster.start("dag-processor", "dag-processor")
            wait_for("the api-server", lambda: http_up(f"{base}/api/v2/version"), cluster, TIMEOUT)
            coordinator, engineer = _Api(base, "coordinator", passwords["coordinator"]), _Api(base, "engineer", passwords["engineer"])
            wait_for(f"the dag-processor to serialise {DAG_ID}", lambda: coordinator("GET", f"dags/{DAG_ID}")[0] == 200,
                     cluster, TIMEOUT)
            coordinator.ok("PATCH", f"dags/{DAG_ID}", {"is_paused": False})

            # ---- the first candidate: the prompt, the engineer refused, the coordinator approves
            first = _trigger_and_wait_for_the_prompt(coordinator, cluster)
            detail = coordinator.ok("GET", _hitl_path(first))
            assert detail["subject"] == SUBJECT and PERIOD in detail["body"], detail
            assert all(section in detail["body"] for section in SECTIONS), detail["body"]
            assert detail["options"] == [APPROVE, REJECT] and not detail["defaults"]
            assert [u["id"] for u in detail["assigned_users"]] == ["coordinator"]
            _screenshot_the_prompt(base, passwords["coordinator"], first, tmp_path)

            status, refused = engineer("PATCH", _hitl_path(first), {"chosen_options": [APPROVE], "params_input": {"note": "me too"}})
            assert status == 403 and "not a respondent" in refused.get("detail", ""), (status, refused)
            viewer = _Api(base, "viewer", passwords["viewer"])
            assert viewer("PATCH", _hitl_path(first), {"chosen_options": [APPROVE], "params_input": {"note": "me too"}})[0] == 403
            assert _task_states(coordinator, first)[TASK_ID] == "awaiting_input"  # the refused answer changed nothing
            note = "Q2 provisional figures, three teams"
            coordinator.ok("PATCH", _hitl_path(first), {"chosen_options": [APPROVE], "params_input": {"note": note}})
            tasks = _wait_for_the_run(coordinator, cluster, first)
            assert tasks == {"prepare_candidate": "success", TASK_ID: "success", "record_decision": "success"}, tasks
            (released,) = _releases(pg_url)
            assert (released.period, released.status, released.state, released.decided_by, released.note) == (
                PERIOD, "provisional", "released", "coordinator", note)
            assert _public_release_ids(pg_url) == {released.release_id}

            # ---- a late corrected file: the working tables change, the released view does not; the next
            # candidate shows the change and its submission; rejected with a reason, nothing more is released
            released_rows = _rows(pg_url, "SELECT count(*) AS n, sum(value) AS total FROM reporting_public.indicators")
            SubmissionGenerator(Path(config.inbox.removeprefix("file://")), seed=23).victims_file(TEAMS[0], PERIOD, people=25)
            run_cycle(config)
            assert _rows(pg_url, "SELECT count(*) AS n, sum(value) AS total FROM reporting_public.indicators") == released_rows
            second = _trigger_and_wait_for_the_prompt(coordinator, cluster)
            body = coordinator.ok("GET", _hitl_path(second))["body"]
            assert f"Against release {released.release_id}" in body and f"{TEAMS[0]} victims {PERIOD}: replaced" in body, body
            reason = "the Vranje figures are being checked again"
            coordinator.ok("PATCH", _hitl_path(second), {"chosen_options": [REJECT], "params_input": {"note": reason}})
            tasks = _wait_for_the_run(coordinator, cluster, second)
            assert tasks["record_decision"] == "success", tasks
            assert [(r.state, r.decided_by, r.note) for r in _releases(pg_url)] == [
                ("released", "coordinator", note), ("rejected", "coordinator", reason)]
            assert _public_release_ids(pg_url) == {released.release_id}

            # ---- a rejection without a reason is no decision: the candidate lapses, the run says why
            third = _trigger_and_wait_for_the_prompt(coordinator, cluster)
            coordinator.ok("PATCH", _hitl_path(third), {"chosen_options": [REJECT], "params_input": {"note": None}})
            tasks = _wait_for_the_run(coordinator, cluster, third, "failed")
            assert tasks["record_decision"] == "failed", tasks
            assert [r.state for r in _releases(pg_url)] == ["released", "rejected", "lapsed"]
            assert "needs a reason" in _releases(pg_url)[-1].note
            assert _public_release_ids(pg_url) == {released.release_id}
        except AssertionError as e:
            if "----- " in str(e):  # the cluster's log tails are in it already
                raise
            raise AssertionError(f"{e}\n{cluster.tails()}") from None
        finally:
            cluster.stop()
    print(f"\nrelease approval in a real Airflow: {time.monotonic() - started:.0f} s "
          f"(peak RSS of the cluster {cluster.peak_rss_mb:.0f} MB)")
