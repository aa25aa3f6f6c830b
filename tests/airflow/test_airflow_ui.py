"""The data engineer's first hour, as on a clean clone: the README stands alone, `make airflow-ui` starts
Airflow on the demo's runs and data, and each ingest run says in Airflow itself which files it accepted,
rejected or could not process (the run's note)."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from fixtures import IN_CI, TEST_KEY, free_port
from oracle import Truth
from thb_reporting.core.config import PROJECT_ROOT, sqlite_url

README = PROJECT_ROOT / "README.md"


def _tracked_files() -> set[str]:
    out = subprocess.run(["git", "-C", str(PROJECT_ROOT), "ls-files"], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_readme_stands_alone_in_a_clone():
    """Every link, path and make target the README names is in the repository itself (a clone has nothing
    beside it): no ../ links, every linked or named file tracked by git, every `make X` a Makefile target."""
    text = README.read_text(encoding="utf-8")
    tracked = _tracked_files()
    folders = {str(Path(f).parent) for f in tracked} | {str(p) for f in tracked for p in Path(f).parents}

    def in_repo(path: str) -> bool:
        path = path.rstrip("/")
        return path in tracked or path in folders

    assert "../" not in text, "the README points outside the repository"
    links = re.findall(r"\]\(([^)#\s]+)\)", text)
    local = [link for link in links if not re.match(r"[a-z]+://", link)]
    assert "docs/domain.md" in local
    assert [link for link in local if not in_repo(link)] == []
    # paths named in code spans: the project's own files (generated places such as build/ and data/, and the
    # machine's absolute paths such as the system's CA store, excepted)
    named = {m for m in re.findall(r"`([A-Za-z0-9_.\-/]+)`", text) if "/" in m and not m.startswith(("build/", "data/", ".", "/"))
             and not re.match(r"[a-z]+://", m) and re.search(r"\.[a-z]+$|/$", m)}
    reference = {m for m in named if m.startswith("reference/")}
    missing = [m for m in named - reference if not in_repo(m)]
    missing += [m for m in reference if not in_repo(f"include/thb_reporting/core/{m}")]
    assert named and missing == []
    targets = set(re.findall(r"^([a-z][a-z-]*):", (PROJECT_ROOT / "Makefile").read_text(), re.M))
    assert {t for t in re.findall(r"`make ([a-z][a-z-]*)", text)} - targets == set()
    # the domain model is the project's own text, not a copy that drifts: the data contracts' datasets are all in it
    from thb_reporting.core import contracts

    domain = (PROJECT_ROOT / "docs" / "domain.md").read_text(encoding="utf-8")
    assert all(f"**{dataset}**" in domain for dataset in contracts.datasets())


# --- the note on each ingest run ----------------------------------------------------------------------
def _notes(run_ids: list[str]) -> dict[str, str | None]:
    """The runs' notes as the metadata database holds them (what the UI and the REST API show)."""
    from sqlalchemy import select

    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        return {r.run_id: r.note for r in session.scalars(select(DagRun).where(DagRun.run_id.in_(run_ids)))}


@pytest.mark.airflow
def test_an_ingest_run_says_in_its_note_which_files_it_rejected(tmp_path, monkeypatch, airflow_db):
    from thb_reporting.core import reference
    from thb_reporting.tools.airflow_runs import run_dag
    from thb_reporting.tools.generator import SubmissionGenerator
    from thb_reporting.ui.run_notes import run_note

    data = tmp_path / "data"
    monkeypatch.setenv("AIRFLOW_VAR_THB_DATA_ROOT", data.as_uri())
    monkeypatch.setenv("AIRFLOW_VAR_THB_PSEUDONYMISATION_KEY", TEST_KEY.decode())
    plants = {("novi_sad", "2026Q3"): "jmbg", ("nis", "2026Q3"): "unknown_code"}
    truth = Truth(SubmissionGenerator(data / "inbox", seed=5).scenario(["novi_sad", "nis", "subotica"], ["2026Q3"], plants))
    (data / "inbox" / "kraljevo").mkdir()  # a team's own name for its file: never echoed in the note
    (data / "inbox" / "kraljevo" / "zrtve_0101100710006.csv").write_text("not a submission\n")

    first = run_dag("ingest_submissions")
    second = run_dag("ingest_submissions")  # nothing new: no note
    assert first.state == second.state == "success"
    notes = _notes([first.run_id, second.run_id])
    note = notes[first.run_id]
    assert notes[second.run_id] is None
    assert note.startswith("4 files: 1 accepted, 3 rejected"), note
    rejected_line = next(line for line in note.splitlines() if line.startswith("- rejected:"))
    for f in truth.files:
        shown = f"{f.team} {f.dataset} {f.quarter}"
        assert (shown in rejected_line) == bool(f.plant), (shown, note)
        if f.plant:
            assert f"{shown} ({f.expected_rule}" in rejected_line
        else:
            assert shown in next(line for line in note.splitlines() if line.startswith("- accepted:"))
        assert f.file_name not in note
    assert "kraljevo (file name not understood)" in rejected_line
    assert "zrtve" not in note and not re.search(r"\d{13}", note)  # no file name, no identifier

    # failed files come first, and a long list is cut to what a note holds
    db = sqlite_url(data / "warehouse" / "reporting.sqlite")
    ids = [i for group in _outcome_ids(db).values() for i in group]
    long = run_note(db, {"accepted": ids * 200, "failed": ids[:1]}, reference.teams())
    assert long.splitlines()[1].startswith("- failed (still received") and len(long) <= 1000


def _outcome_ids(db_url: str) -> dict[str, list[int]]:
    from helpers import ledger

    out: dict[str, list[int]] = {}
    for r in ledger(db_url):
        out.setdefault(r.status, []).append(r.submission_id)
    return out


# --- make airflow-ui on the demo's runs and data ------------------------------------------------------
def _get(url: str, token: str | None = None, data: dict | None = None, method: str | None = None):
    request = urllib.request.Request(url, data=json.dumps(data).encode() if data else None, method=method,
                                     headers={"Content-Type": "application/json",
                                              **({"Authorization": f"Bearer {token}"} if token else {})})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.read().decode()


@pytest.mark.airflow
def test_make_airflow_ui_shows_the_demos_runs_notes_and_status_page(tmp_path):
    """`thb demo`, then `make airflow-ui` as a new user types them (no venv on PATH), on one Airflow home
    and data root: Airflow answers, the Reporting status page shows the demo's teams and quarters, and the
    demo's ingest runs carry their notes."""
    from test_reporting_status_page import _cells

    home, data, port = tmp_path / "airflow", tmp_path / "data", free_port()
    venv_bin = str(Path(sys.executable).parent)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "THB_"))}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p != venv_bin)
    env["AIRFLOW_VAR_THB_PSEUDONYMISATION_KEY"] = TEST_KEY.decode()
    demo = subprocess.run([str(Path(venv_bin, "thb")), "demo", "--data", str(data), "--airflow-home", str(home)],
                          env=env, capture_output=True, text=True, timeout=900)
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    assert f"thb airflow-ui --data {data} --airflow-home {home}" in demo.stdout
    # the demo says what its national figures cover: the Centre sent victims for both quarters, nothing else
    covered = demo.stdout[demo.stdout.index("What the national figures cover"):]
    assert re.search(r"2026Q3\s+victims\s+nation", covered) and re.search(r"2026\s+victims\s+nation", covered)
    assert re.search(r"2026Q3\s+criminal_justice\s+units", covered), covered[:2000]

    log = open(tmp_path / "airflow-ui.log", "wb")
    # the port as Airflow's own setting, as a deployment (or ../shared/tools/fresh-check) gives it
    ui = subprocess.Popen(["make", "-C", str(PROJECT_ROOT), "--no-print-directory", "airflow-ui",
                           f"UI_ARGS=--data {data} --airflow-home {home}"],
                          env={**env, "AIRFLOW__API__PORT": str(port)}, stdout=log, stderr=subprocess.STDOUT,
                          start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                health = json.loads(_get(f"{base}/api/v2/monitor/health"))
                if health["metadatabase"]["status"] == "healthy":
                    break
            except OSError:
                pass
            if ui.poll() is not None or time.monotonic() > deadline:
                pytest.fail("make airflow-ui did not start:\n" + (tmp_path / "airflow-ui.log").read_text()[-4000:])
            time.sleep(1)
        password = json.loads((home / "simple_auth_manager_passwords.json.generated").read_text())["engineer"]
        token = json.loads(_get(f"{base}/auth/token", data={"username": "engineer", "password": password}))["access_token"]

        # the Reporting status page reads the demo's warehouse: its 13 teams' and the Centre's files
        page = _get(f"{base}/reporting-status/?quarters=2", token)
        cells = _cells(page)
        assert 'data-period="2026Q3" data-coverage="nation"' in page  # victims: the Centre reported
        statuses = [status for (team, dataset, quarter), (status, _, _) in cells.items() if quarter in ("2026Q2", "2026Q3")]
        assert statuses.count("rejected") == 4 and statuses.count("missing") == 0, statuses
        assert cells[("novi_sad", "victims", "2026Q3")][0] == "rejected"

        # the demo's runs are Airflow's runs, and the ingest runs carry their notes
        runs = json.loads(_get(f"{base}/api/v2/dags/ingest_submissions/dagRuns?order_by=run_after", token))["dag_runs"]
        assert [r["state"] for r in runs] == ["success", "success"]
        assert runs[0]["note"].startswith("132 files: 127 accepted, 5 rejected"), runs[0]["note"]  # and the Centre's 2
        assert "novi_sad victims 2026Q3 (personal_identifier" in runs[0]["note"]
        first_run_id, rejected_id = runs[0]["dag_run_id"], re.search(r"#(\d+) novi_sad victims 2026Q3", runs[0]["note"])[1]
        assert runs[1]["note"].startswith("1 file: 1 accepted")
        demo_runs = {r["dag_run_id"] for r in runs}

        # a run of Airflow's own scheduler (not dag.test()) gets its note too: a team sends a broken file
        from thb_reporting.tools.generator import SubmissionGenerator

        SubmissionGenerator(data / "inbox", seed=3).victims_file("sombor", "2026Q3", version=2, plant="email")
        _get(f"{base}/api/v2/dags/ingest_submissions", token, {"is_paused": False}, method="PATCH")
        deadline = time.monotonic() + 300
        while True:
            runs = json.loads(_get(f"{base}/api/v2/dags/ingest_submissions/dagRuns?order_by=run_after", token))["dag_runs"]
            done = [r for r in runs if r["dag_run_id"] not in demo_runs and r["state"] in ("success", "failed")]
            if any(r["note"] for r in done) or time.monotonic() > deadline:
                break
            time.sleep(2)
        notes = [r["note"] for r in done if r["note"]]
        assert [r["state"] for r in done] and {r["state"] for r in done} == {"success"}, runs
        assert len(notes) == 1 and notes[0].startswith("1 file: 1 rejected")
        assert "sombor victims 2026Q3 (personal_identifier" in notes[0]

        _screenshots(base, password, data, first_run_id, rejected_id, tmp_path)
    finally:
        os.killpg(ui.pid, signal.SIGTERM)
        try:
            ui.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(ui.pid, signal.SIGKILL)
            ui.wait(10)
        log.close()


DOCS_IMG = PROJECT_ROOT / "docs" / "img"


def _screenshots(base: str, password: str, data: Path, first_run_id: str, rejected_id: str, tmp_path: Path) -> None:
    """The README's pictures, of the demo as a new user meets it, in a headless Chromium: the Reporting
    status page, the first ingest run with its note, the national summary and a rejection e-mail. Saved in
    build/test-artifacts; THB_UPDATE_DOCS_IMG=1 also replaces docs/img/ (committed, shown in the README)."""
    import shutil
    import urllib.parse
    from email import message_from_bytes, policy

    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from test_reporting_status_page import ARTIFACTS, CHROMEDRIVER, CHROMIUM, headless_chromium, log_in, open_status_page

    if not (CHROMIUM and CHROMEDRIVER):
        if IN_CI:
            pytest.fail("the screenshots need Debian's Chromium and ChromeDriver (CI=true)")
        return
    rejected_mail = next((data / "outbox").glob(f"submission-{rejected_id}-*.eml"))
    message = message_from_bytes(rejected_mail.read_bytes(), policy=policy.default)
    (tmp_path / "email.html").write_text(message.get_body(preferencelist=("html",)).get_content(), encoding="utf-8")
    summary = sorted((data / "exports").glob("*/national_summary_*.html"))[-1]

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shots = []
    browser = headless_chromium(1400, 900)
    try:
        wait = WebDriverWait(browser, 60)
        log_in(browser, f"{base}/plugin/reporting-status", "engineer", password)
        open_status_page(browser, base)
        browser.switch_to.default_content()
        shots.append(_shot(browser, "reporting_status_demo.png"))

        browser.get(f"{base}/dags/ingest_submissions/runs/{urllib.parse.quote(first_run_id, safe='')}")
        wait.until(lambda b: "127 accepted" in b.find_element(By.TAG_NAME, "body").text)
        shots.append(_shot(browser, "ingest_run_note.png"))

        browser.set_window_size(1100, 1400)
        browser.get(summary.as_uri())
        shots.append(_shot(browser, "national_summary.png"))
        browser.set_window_size(1000, 1100)
        browser.get((tmp_path / "email.html").as_uri())
        shots.append(_shot(browser, "email_rejected.png"))
    finally:
        browser.quit()
    assert all(shot.stat().st_size > 10_000 for shot in shots)
    if os.environ.get("THB_UPDATE_DOCS_IMG") == "1":
        DOCS_IMG.mkdir(parents=True, exist_ok=True)
        for shot in shots:
            shutil.copyfile(shot, DOCS_IMG / shot.name)


def _shot(browser, name: str) -> Path:
    from test_reporting_status_page import ARTIFACTS

    time.sleep(1)  # fonts and charts settle
    browser.save_screenshot(str(ARTIFACTS / name))
    return ARTIFACTS / name
