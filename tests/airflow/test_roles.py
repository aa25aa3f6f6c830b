"""Who may do what in a real Airflow (docs/security.md): an api-server on loopback with this project's plugins
and the deployment's three users of Airflow's simple auth manager (engineer: admin, coordinator: user,
viewer: viewer). Through the REST API and the Reporting status page, each with its own token: the viewer
reads the national status page but neither a submission's validation report nor its link, and cannot
trigger a DAG; the coordinator reads every status page; the engineer triggers and configures. The plugin
asks the auth manager; no user name is written in it."""
from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
from pathlib import Path

import pytest

from test_airflow_ui import _get
from test_reporting_status_page import _cells, api_server  # noqa: F401 (the fixture, registered by its import)
from thb_reporting.ui.status_page import SUBMISSIONS_DAG

pytestmark = pytest.mark.airflow


def _answer(base: str, token: str | None, path: str, body: dict | None = None, method: str | None = None) -> tuple[int, str]:
    try:
        return 200, _get(f"{base}{path}", token, body, method=method)
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_the_submissions_dag_named_by_the_plugin_is_the_projects():
    """The plugin asks about the runs of SUBMISSIONS_DAG: with the simple auth manager any DAG id gives the
    same answer, so a misspelt one would pass the test below; Airflow's other auth managers ask per DAG."""
    dags = Path(__file__).resolve().parents[2] / "dags"
    assert f"def {SUBMISSIONS_DAG}(" in (dags / f"{SUBMISSIONS_DAG}.py").read_text(encoding="utf-8")


def test_each_role_reads_and_does_only_what_it_may(api_server):  # noqa: F811 (the fixture)
    base, passwords, config, _, server_env = api_server
    tokens = {user: json.loads(_get(f"{base}/auth/token", data={"username": user, "password": password}))["access_token"]
              for user, password in passwords.items()}
    assert set(tokens) == {"engineer", "coordinator", "viewer"}

    # the national status page: everybody logged in; its cells link to the reports only for whom may read them
    pages = {}
    for user, token in tokens.items():
        status, pages[user] = _answer(base, token, "/reporting-status/?quarters=2")
        assert status == 200, (user, status)
    links = {user: {k: link for k, (_, link, _) in _cells(page).items() if link} for user, page in pages.items()}
    assert links["engineer"] == links["coordinator"] and links["engineer"]
    assert links["viewer"] == {} and 'href="submissions/' not in pages["viewer"]
    assert _answer(base, None, "/reporting-status/")[0] == 401

    # a submission's validation report names its findings row by row: not for the viewer, whatever the route
    rejected = links["engineer"][("nis", "victims", "2026Q3")]
    for route in (rejected, f"{rejected}/report", f"{rejected}/data-docs"):
        for user in ("engineer", "coordinator"):
            status, page = _answer(base, tokens[user], f"/reporting-status/{route}")
            assert status == 200 and 'data-rule="code_list"' in page, (user, route, status)
        status, page = _answer(base, tokens["viewer"], f"/reporting-status/{route}")
        assert status == 403 and "code_list" not in page, (route, status, page)
    # a release's report is a national page (public figures only): the viewer reaches it (none here: 404)
    assert _answer(base, tokens["viewer"], "/reporting-status/releases/999")[0] == 404

    # triggering: the engineer and the coordinator may, the viewer may not (403, and no run made)
    subprocess.run([str(Path(sys.executable).with_name("airflow")), "dags", "reserialize"],
                   check=True, capture_output=True, timeout=600, env=server_env)  # into the server's database
    runs = f"/api/v2/dags/{SUBMISSIONS_DAG}/dagRuns"
    made = []
    for user, allowed in (("viewer", False), ("coordinator", True), ("engineer", True)):
        run_id = f"roles-test-{user}"
        status, answer = _answer(base, tokens[user], runs, {"dag_run_id": run_id, "logical_date": None}, "POST")
        assert status == (200 if allowed else 403), (user, status, answer)
        made += [run_id] if allowed else []
    listed = json.loads(_answer(base, tokens["viewer"], runs)[1])["dag_runs"]  # the viewer reads the DAGs' state
    assert sorted(r["dag_run_id"] for r in listed if r["dag_run_id"].startswith("roles-test-")) == sorted(made)

    # configuring (connections, variables) is the engineer's alone
    for path in ("/api/v2/connections", "/api/v2/variables"):
        assert {user: _answer(base, token, path)[0] for user, token in tokens.items()} == {
            "engineer": 200, "coordinator": 403, "viewer": 403}, path
    for run_id in made:
        assert _answer(base, tokens["engineer"], f"{runs}/{run_id}", method="DELETE")[0] in (200, 204)
