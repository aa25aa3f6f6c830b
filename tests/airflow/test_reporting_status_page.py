"""The "Reporting status" page of the Airflow UI (plugins/reporting_status.py): the matrix shows each
team's status for each dataset and quarter as the scenario makes it, links lead to the submission's
validation report, the page is behind Airflow's login; and in a real headless Chromium against a real
api-server on loopback, through the UI's own login form and navigation."""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from html.parser import HTMLParser
from pathlib import Path

import pytest

from fixtures import IN_CI, TEST_KEY, free_port
from helpers import external_references
from test_pipeline import run_cycle
from oracle import Truth
from thb_reporting.core import contracts, reference
from thb_reporting.core.config import PROJECT_ROOT, PipelineConfig

QUARTERS = ["2026Q2", "2026Q3"]
TEAMS = ["nis", "vranje", "subotica"]
PLANTS = {("nis", "2026Q3"): "unknown_code", ("vranje", "2026Q3", "programmes"): "missing_column"}
ARTIFACTS = Path(os.environ.get("THB_TEST_ARTIFACTS", PROJECT_ROOT / "build" / "test-artifacts"))


def _scenario(data_root: Path):
    """Three teams, two quarters, all five datasets; Subotica on time, the rest late; two rejected files;
    2026Q2 locked. Returns the config and the expected status of every (team, dataset, quarter)."""
    from thb_reporting.tools.generator import SubmissionGenerator
    from thb_reporting.store.locks import set_lock

    config = PipelineConfig.local(data_root, TEST_KEY)
    truth = Truth(SubmissionGenerator(Path(config.inbox.removeprefix("file://")), seed=11).scenario(
        TEAMS, QUARTERS, PLANTS, datasets=contracts.datasets()))
    for f in truth.files:
        if f.team == "subotica":  # by the deadline of its quarter
            stamp = dt.datetime.combine(dt.date.fromisoformat({"2026Q2": "2026-07-10", "2026Q3": "2026-10-10"}[f.quarter]),
                                        dt.time(12), dt.timezone.utc).timestamp()
            os.utime(f.path, (stamp, stamp))
    run_cycle(config)
    set_lock(config.reporting_db_url, "2026Q2", True, by="coordinator@example.org", reason="final")
    expected = {}
    for team in reference.teams():
        for dataset in contracts.datasets():
            for quarter in QUARTERS:
                f = next((f for f in truth.files if (f.team, f.dataset, f.quarter) == (team, dataset, quarter)), None)
                expected[(team, dataset, quarter)] = (
                    "not_owed" if not reference.teams()[team].reports(dataset) else  # the Centre: victims only
                    "missing" if f is None else "rejected" if f.plant else
                    "accepted" if team == "subotica" else "accepted_late")
    return config, expected


class _Matrix(HTMLParser):
    """The status cells of the page: (team, dataset, quarter) → (status, link, title)."""

    def __init__(self):
        super().__init__()
        self.cells, self._dataset, self._team, self._cell = {}, None, None, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table" and "data-dataset" in a:
            self._dataset = a["data-dataset"]
        elif tag == "tr" and self._dataset and "data-team" in a:
            self._team = a["data-team"]
        elif tag == "td" and "data-status" in a and self._dataset:
            self._cell = (self._team, self._dataset, a["data-quarter"])
            self.cells[self._cell] = [a["data-status"], None, a["title"]]
        elif tag == "a" and self._cell:
            self.cells[self._cell][1] = a["href"]

    def handle_endtag(self, tag):
        if tag == "td":
            self._cell = None
        elif tag == "table":
            self._dataset = None


def _cells(html: str) -> dict:
    parser = _Matrix()
    parser.feed(html)
    return parser.cells


def test_page_shows_the_scenario_and_links_to_the_validation_reports(tmp_path):
    from fastapi.testclient import TestClient

    from thb_reporting.ui.status_page import create_app

    config, expected = _scenario(tmp_path / "data")
    client = TestClient(create_app(lambda: config, login_required=False))
    page = client.get("/", params={"quarters": 2})
    assert page.status_code == 200
    cells = _cells(page.text)
    assert {k: v[0] for k, v in cells.items()} == expected
    assert all(("locked" in title) == (key[2] == "2026Q2") for key, (_, _, title) in cells.items())
    assert all((link is None) == (expected[key] in ("missing", "not_owed")) for key, (_, link, _) in cells.items())
    # what the national figures cover: the local teams only (the Centre sent nothing), Serbian first
    coverage = page.text[page.text.index('<table id="coverage">'):]
    assert page.text.index("Obuhvat nacionalnih podataka") < page.text.index("What the national figures cover")
    assert 'data-dataset="victims"' in coverage and 'data-period="2026Q3" data-coverage="units"' in coverage
    assert 'data-coverage="nation"' not in coverage[:coverage.index("</table>")]

    # the rejected cell links to its report: the rule, row, column and how to fix it, both languages
    status, link, _ = cells[("nis", "victims", "2026Q3")]
    report = client.get(f"/{link}")
    assert report.status_code == 200 and 'data-rule="code_list"' in report.text
    assert "Kako ispraviti" in report.text and "How to fix" in report.text
    standalone = client.get(f"/{link}/report")
    assert standalone.status_code == 200 and 'data-rule="code_list"' in standalone.text
    assert f'href="{link.rsplit("/", 1)[1]}/report"' in report.text  # the report links to its standalone page
    assert "← Status" not in standalone.text and "<a " not in standalone.text  # a file to keep: no links
    # where the Great Expectations report was: the same report, also for a file rejected before the suite ran
    before_suite = cells[("vranje", "programmes", "2026Q3")][1]  # a missing column: rejected before the suite
    assert client.get(f"/{before_suite}/data-docs").text == client.get(f"/{before_suite}/report").text
    accepted_link = cells[("subotica", "victims", "2026Q3")][1]
    assert "Nema nalaza / No findings" in client.get(f"/{accepted_link}").text
    for missing in ("/submissions/999999", "/submissions/999999/report", "/submissions/999999/data-docs"):
        answer = client.get(missing)  # a page for people, not an API's JSON
        assert answer.status_code == 404 and answer.headers["content-type"].startswith("text/html") and "Not found" in answer.text
    pages = [page.text, report.text, standalone.text, client.get(f"/{accepted_link}").text, client.get(missing).text]
    assert all(external_references(p) == [] for p in pages)

    # rates: Subotica all on time, Niš 4 of 5 late (one rejected), the nation over all 13 teams
    assert "100 % / 100 %" in page.text and "80 % / 0 %" in page.text
    # the national chart draws one point per quarter with published values
    assert page.text.count("<svg") == 4 and "2026Q3: " in page.text
    _assert_national_tables(page.text, config.reporting_db_url)


class _NationalTables(HTMLParser):
    """The page's national tables: (indicator, breakdown, category) → [(text, suppressed), ...] per quarter,
    and the label of each row."""

    def __init__(self):
        super().__init__()
        self.cells, self.labels, self._table, self._row, self._td, self._column = {}, {}, None, None, None, 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table" and a.get("class") == "national":
            self._table = (a["data-indicator"], a["data-breakdown"])
        elif tag == "tr" and self._table and "data-category" in a:
            self._row, self._column = (*self._table, a["data-category"]), 0
            self.cells[self._row] = []
        elif tag == "td" and self._row:
            self._column += 1
            self._td = [self._column, "", a.get("data-suppressed") == "true"]

    def handle_data(self, data):
        if self._td is not None:
            self._td[1] += data

    def handle_endtag(self, tag):
        if tag == "td" and self._td is not None:
            column, text, suppressed = self._td
            if column == 1:
                self.labels[self._row] = text
            else:
                self.cells[self._row].append((text.strip(), suppressed))
            self._td = None
        elif tag == "table":
            self._table = self._row = None


def _assert_national_tables(html: str, db_url: str) -> None:
    """The tables the catalogue shows on the status page (shown_in: status_page) hold the nation's public cells
    of each quarter, a suppressed one as x, each row by its Serbian then English label."""
    from sqlalchemy import select

    from thb_reporting.figures import indicator_catalogue
    from thb_reporting.store.warehouse import reader_engine, table

    parser = _NationalTables()
    parser.feed(html)
    t = table("public_indicators")
    with reader_engine(db_url).connect() as conn:
        rows = conn.execute(select(t).where(t.c.level == "nation", t.c.period.in_(QUARTERS))).all()
    public = {(r.indicator, r.breakdown, r.category, r.period): r for r in rows}
    shown = set(indicator_catalogue.shown_in("status_page"))
    assert {(i, b) for i, b, _ in parser.cells} == shown
    hidden = 0
    for key, cells in parser.cells.items():
        assert len(cells) == len(QUARTERS), key
        for quarter, (text, suppressed) in zip(QUARTERS, cells):
            r = public.get((*key, quarter))
            assert suppressed == bool(r is not None and r.suppressed), (key, quarter)
            hidden += suppressed
            assert text == ("x" if suppressed else f"{(r.value if r is not None else 0):,.0f}".replace(",", ".")), (key, quarter)
        sr, en = indicator_catalogue.category_label(*key)
        assert parser.labels[key].startswith(sr) and en in parser.labels[key], (key, parser.labels[key])
    assert hidden > 0 and any(k[1] == "exploitation_once" and k[2] == "multiple_forms" for k in parser.cells)
    # the nation's hidden headline cells (any breakdown of a headline indicator), of the quarters and their years
    import re
    from collections import Counter

    periods = QUARTERS + sorted({q[:4] for q in QUARTERS})
    with reader_engine(db_url).connect() as conn:
        expected = Counter((r.period, r.indicator) for r in conn.execute(select(t).where(
            t.c.level == "nation", t.c.suppressed, t.c.period.in_(periods),
            t.c.indicator.in_(indicator_catalogue.headlines()))))
    listed = html.partition('id="hidden-headlines-table"')[2].partition("</table>")[0]
    assert expected and Counter(re.findall(r'data-period="([^"]+)" data-indicator="([^"]+)"', listed)) == expected


def test_page_is_behind_airflows_login(tmp_path):
    from fastapi.testclient import TestClient

    from thb_reporting.ui.status_page import create_app

    config = PipelineConfig.local(tmp_path / "data", TEST_KEY)
    assert TestClient(create_app(lambda: config)).get("/").status_code == 401


# --- in a real browser against a real api-server ------------------------------------------------------
CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")


def _browser_or_skip():
    if CHROMIUM and CHROMEDRIVER:
        return
    message = ("the browser test needs Debian's Chromium and ChromeDriver: "
               "apt-get install chromium chromium-driver (.ci/run installs them)")
    if IN_CI:
        pytest.fail(message + " (CI=true: the browser test must run)")
    pytest.skip(message)


@pytest.fixture
def api_server(tmp_path, airflow_db):
    """`airflow api-server` on 127.0.0.1 with this project's plugins, the deployment's users and roles
    (engineer, coordinator, viewer: Airflow's simple auth manager, as `make airflow-ui` has them) and the
    pipeline's variables; yields (base URL, passwords by user, config, expected, environment of the server).
    The server has a metadata database of its own, a copy of the session's: a second process writing the
    session's SQLite file while this one runs DAGs in it left it malformed for the tests after."""
    import sqlite3

    from thb_reporting.tools.airflow_runs import AIRFLOW_USERS

    config, expected = _scenario(tmp_path / "data")
    metadata = tmp_path / "airflow-metadata.db"
    with contextlib.closing(sqlite3.connect(airflow_db / "airflow.db")) as session_db, \
            contextlib.closing(sqlite3.connect(metadata)) as own:
        session_db.backup(own)
    passwords = {user.split(":")[0]: f"{user.split(':')[0]}-{os.urandom(6).hex()}" for user in AIRFLOW_USERS.split(",")}
    (tmp_path / "passwords.json").write_text(json.dumps(passwords))
    port = free_port()
    env = os.environ | {
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": AIRFLOW_USERS,
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(tmp_path / "passwords.json"),
        "AIRFLOW_VAR_THB_DATA_ROOT": config.data_root,
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{metadata}",
    }
    log = open(tmp_path / "api-server.log", "wb")
    server = subprocess.Popen([str(Path(sys.executable).with_name("airflow")), "api-server", "-H", "127.0.0.1",
                               "-p", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/v2/monitor/health", timeout=2):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("the api-server did not start:\n" + (tmp_path / "api-server.log").read_text()[-3000:])
                time.sleep(0.5)
        yield base, passwords, config, expected, env
    finally:
        os.killpg(server.pid, 15)
        server.wait(30)
        log.close()


def headless_chromium(width: int = 1500, height: int = 1000):
    """Debian's Chromium through its ChromeDriver, headless, at a fixed window size (for the screenshots)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", f"--window-size={width},{height}"):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def log_in(browser, url: str, user: str, password: str) -> None:
    """Open a page of the Airflow UI and pass its login form."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as seen
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, 60)
    browser.get(url)
    wait.until(seen.presence_of_element_located((By.NAME, "password"))).send_keys(password)
    browser.find_element(By.NAME, "username").send_keys(user)
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait.until(lambda b: "/auth/login" not in b.current_url)


def open_status_page(browser, base: str):
    """Browse → Reporting status in the logged-in UI; returns the page's frame, switched into."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as seen
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, 60)
    browser.get(f"{base}/plugin/reporting-status")
    frame = wait.until(seen.presence_of_element_located((By.CSS_SELECTOR, "iframe[src*='/reporting-status/']")))
    browser.switch_to.frame(frame)
    wait.until(seen.presence_of_element_located((By.CSS_SELECTOR, "table.matrix td.status")))
    return frame


@pytest.mark.airflow
def test_reporting_status_page_in_a_real_browser(api_server):
    _browser_or_skip()
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as seen
    from selenium.webdriver.support.ui import WebDriverWait

    base, passwords, _, expected, _ = api_server
    browser = headless_chromium()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        wait = WebDriverWait(browser, 60)
        # Airflow's own login form, as a coordinator would meet it
        log_in(browser, f"{base}/plugin/reporting-status", "coordinator", passwords["coordinator"])

        # the entry in the UI's navigation leads to the page, shown inside the UI
        frame = open_status_page(browser, base)
        shown = {}
        for table in browser.find_elements(By.CSS_SELECTOR, "table.matrix"):
            dataset = table.get_attribute("data-dataset")
            for row in table.find_elements(By.CSS_SELECTOR, "tr[data-team]"):
                team = row.get_attribute("data-team")
                for cell in row.find_elements(By.CSS_SELECTOR, "td.status"):
                    shown[(team, dataset, cell.get_attribute("data-quarter"))] = (cell.get_attribute("data-status"), cell.text)
        mine = {k: v for k, v in shown.items() if k[2] in QUARTERS}
        assert {k: v[0] for k, v in mine.items()} == expected
        from thb_reporting.store.reporting_calendar import STATUS_WORDS

        words = STATUS_WORDS["en"]  # the Centre's cells of datasets it does not report say "not owed"
        assert all(text.startswith(words[status]) for status, text in mine.values())  # text, not colour alone
        browser.switch_to.default_content()
        browser.save_screenshot(str(ARTIFACTS / "reporting_status.png"))

        # a rejected cell opens the submission's validation report
        browser.switch_to.frame(frame)
        browser.find_element(By.CSS_SELECTOR, "table[data-dataset=victims] tr[data-team=nis] "
                                              "td[data-quarter='2026Q3'] a").click()
        wait.until(seen.presence_of_element_located((By.CSS_SELECTOR, "#findings tr[data-rule=code_list]")))
        browser.switch_to.default_content()
        browser.save_screenshot(str(ARTIFACTS / "reporting_status_submission.png"))
    finally:
        browser.quit()
    assert (ARTIFACTS / "reporting_status.png").stat().st_size > 10_000


def test_plugin_loads_in_every_airflow_process_without_heavy_imports():
    """Every Airflow process (scheduler, dag-processor, workers) loads plugins: ours must load without
    errors and without pulling in pandas, pyarrow or Great Expectations."""
    probe = (
        "import sys, json\n"
        "from airflow import plugins_manager as pm\n"
        "apps, _ = pm.get_fastapi_plugins()\n"
        "views, _ = pm._get_ui_plugins()\n"
        "print(json.dumps({'errors': pm.get_import_errors(), 'apps': [a['url_prefix'] for a in apps],\n"
        "  'views': [v['url_route'] for v in views],\n"
        "  'heavy': [m for m in ('pandas', 'pyarrow', 'great_expectations') if m in sys.modules]}))\n")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=os.environ)
    loaded = json.loads(out.stdout.strip().splitlines()[-1])
    assert loaded == {"errors": {}, "apps": ["/reporting-status"], "views": ["reporting-status"], "heavy": []}
