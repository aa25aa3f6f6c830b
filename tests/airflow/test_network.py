"""The system never reaches the network: Great Expectations' analytics are off in every entry point, and a
full cycle (ingest with accepted and rejected files, publish, e-mail to an SMTP server on loopback) makes no
connection and no name lookup beyond loopback. Also: the pages and reports it writes load nothing from
elsewhere (helpers.external_references, used by the page and e-mail tests, is shown here to catch it)."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import network_guard
from fixtures import TEST_KEY
from helpers import external_references, ledger
from network_guard import OutboundConnection
from oracle import Truth
from thb_reporting.core.config import PROJECT_ROOT

TEST_NET = "192.0.2.1"  # TEST-NET-1 (RFC 5737): documentation only, never routed


# --- Great Expectations' analytics ---------------------------------------------------------------------
_PROBE = """
import json, os, runpy, sys
from pathlib import Path
{imports}
import great_expectations as gx
flags = {{"env": os.environ.get("GX_ANALYTICS_ENABLED")}}
try:  # GX's own switch, where this build of GX has its analytics client
    from great_expectations.analytics.config import ENV_CONFIG
    flags["gx_env_config"] = ENV_CONFIG.gx_analytics_enabled
except ImportError:
    flags["gx_env_config"] = None
context = gx.get_context(mode="ephemeral")
flags["context"] = context.variables.analytics_enabled
flags["analytics_modules"] = sorted(m for m in sys.modules if m.split(".")[0] in ("posthog", "segment", "mixpanel"))
print(json.dumps(flags))
"""


def _probe(imports: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("GX_ANALYTICS_ENABLED", "GE_USAGE_STATS")}
    out = subprocess.run([sys.executable, "-c", _PROBE.format(imports=imports)], capture_output=True, text=True,
                         env=env, cwd=PROJECT_ROOT, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("entry", ["dags", "cli"])
def test_great_expectations_analytics_are_off_in_every_entry_point(entry):
    imports = {
        "dags": "for f in sorted(Path('dags').glob('*.py')): runpy.run_path(str(f))",
        "cli": "import thb_reporting.tools.cli",
    }[entry]
    flags = _probe(imports)
    assert flags["env"] == "false" and flags["gx_env_config"] in (False, None), flags
    assert flags["context"] in (False, None) and flags["analytics_modules"] == [], flags


def test_without_the_package_nothing_else_turns_the_analytics_off():
    """The control: the environment the tests run in does not switch them off by itself."""
    assert _probe("")["env"] is None


# --- the socket guard -----------------------------------------------------------------------------------
@pytest.fixture
def guard(tmp_path, monkeypatch):
    """The guard in this process, and (through sitecustomize on PYTHONPATH) in every Python child it starts;
    yields the log of what was refused. Fails the test if anything was."""
    log = tmp_path / "network-guard.log"
    log.touch()
    monkeypatch.setenv(network_guard.LOG_VARIABLE, str(log))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([network_guard.SITE, *filter(None, [os.environ.get("PYTHONPATH")])]))
    network_guard.install()
    try:
        yield log
    finally:
        network_guard.uninstall()


def test_the_guard_refuses_before_anything_is_sent(guard):
    sent = []
    real = dict(socket._thb_originals)
    socket._thb_originals.update(connect=lambda *a: sent.append(a), connect_ex=lambda *a: sent.append(a))  # watched
    try:
        start = time.monotonic()
        with socket.socket() as s:
            with pytest.raises(OutboundConnection):
                s.connect((TEST_NET, 25))
            with pytest.raises(OutboundConnection):
                s.connect_ex((TEST_NET, 25))
        with pytest.raises(OutboundConnection):
            socket.create_connection((TEST_NET, 25), timeout=5)
        for lookup in (lambda: socket.getaddrinfo("example.org", 443), lambda: socket.gethostbyname("example.org")):
            with pytest.raises(OutboundConnection):
                lookup()
        assert sent == [] and time.monotonic() - start < 1  # refused at once: never tried
        with socket.socket() as s:
            s.connect(("127.0.0.1", 9))  # loopback passes through to the real connect
        assert sent == [(s, ("127.0.0.1", 9))]
    finally:
        socket._thb_originals.update(real)
    assert guard.read_text().count("refused") == 5


def test_the_guard_covers_child_processes(guard):
    out = subprocess.run([sys.executable, "-c", f"import socket; socket.create_connection(('{TEST_NET}', 25), timeout=5)"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and "OutboundConnection" in out.stderr
    assert f"refused create_connection '{TEST_NET}'" in guard.read_text()


@pytest.mark.airflow
def test_a_full_cycle_reaches_nothing_beyond_loopback(tmp_path, monkeypatch, airflow_db, smtp_server, guard):
    from thb_reporting.core import contracts
    from thb_reporting.tools.airflow_runs import run_dag
    from thb_reporting.core.config import sqlite_url
    from thb_reporting.tools.generator import SubmissionGenerator

    port, mailbox = smtp_server
    data = tmp_path / "data"
    monkeypatch.setenv("AIRFLOW_VAR_THB_DATA_ROOT", data.as_uri())
    monkeypatch.setenv("AIRFLOW_VAR_THB_PSEUDONYMISATION_KEY", TEST_KEY.decode())
    truth = Truth(SubmissionGenerator(data / "inbox", seed=5).scenario(
        ["nis", "vranje"], ["2026Q3"], {("nis", "2026Q3"): "unknown_code", ("vranje", "2026Q3", "programmes"): "missing_column"},
        datasets=contracts.datasets()))
    spawned = []
    popen_init = subprocess.Popen.__init__

    def recording_popen(self, args, *a, **kw):
        spawned.append(args)
        return popen_init(self, args, *a, **kw)

    monkeypatch.setattr(subprocess.Popen, "__init__", recording_popen)
    pid = os.getpid()
    assert run_dag("ingest_submissions").state == "success"
    assert run_dag("publish_national_tables").state == "success"

    rows = ledger(sqlite_url(data / "warehouse" / "reporting.sqlite"))
    assert sorted(r.status for r in rows) == sorted(f.expected_status for f in truth.files)
    assert {"accepted", "rejected"} <= {r.status for r in rows}
    assert len(mailbox.received) == len(truth.files)  # delivered over loopback, through the guarded sockets
    assert "refused" not in guard.read_text(), guard.read_text()
    assert f"allowed create_connection '127.0.0.1' (pid {pid})" in guard.read_text()  # the e-mails passed the guard
    # the published national summaries, like the e-mails and the status page, load nothing from elsewhere
    summaries = list((data / "exports").rglob("*.html"))
    assert summaries and all(external_references(p.read_text(encoding="utf-8")) == [] for p in summaries)
    # dag.test() ran every task in this process, so the in-process guard saw all of it; a Python child would
    # have run the guard too (sitecustomize), and said so in the log
    # (other children, such as `file` run by the platform module, are not Python and open no socket of ours)
    pythons = [a for a in spawned if Path(str(a[0] if isinstance(a, (list, tuple)) else str(a).split()[0])).name
               .startswith(("python", "airflow"))]
    guarded = [line for line in guard.read_text().splitlines() if line.startswith("guarded") and line != f"guarded pid {pid}"]
    assert len(guarded) >= len(pythons), (pythons, guarded)


def test_external_references_are_found():
    gx_like = ('<link rel="stylesheet" href="https://cdn.example.net/bootstrap.min.css">'
               '<script src="https://cdn.example.net/jquery.js"></script><a href="https://example.com/newsletter">News</a>'
               '<img src="//cdn.example.net/logo.png"><style>@import url("https://fonts.example.net/f.css");</style>')
    assert len(external_references(gx_like)) == 5
    own = '<a href="submissions/3">3</a><a href="http://127.0.0.1:8080/x">x</a><svg xmlns="http://www.w3.org/2000/svg"></svg>'
    assert external_references(own) == []
