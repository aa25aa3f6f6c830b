"""The connection reporting_db to a PostgreSQL server of the test's own with TLS (tests/support/tls_postgres.py),
whose certificate a CA of the test's own signed for "localhost" only (tests/support/certificates.py).
The connection is written as an operator writes it (AIRFLOW_CONN_REPORTING_DB) and read as a run reads it:
with the right CA a cycle publishes over a verified connection; a wrong CA, a wrong host name or plain text is
refused, naming the connection and the reason; a run refused loses nothing and publishes once fixed."""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from certificates import issue, make_ca
from fixtures import IN_CI, TEST_KEY
from oracle import Truth
from helpers import ledger, published_indicator
from test_pipeline import run_cycle
from thb_reporting.core.config import PipelineConfig, reporting_db_url_from_airflow
from thb_reporting.store.warehouse import dispose_engines, reporting_engine
from thb_reporting.tools.generator import SubmissionGenerator
import tls_postgres

pytestmark = pytest.mark.postgres
TEAMS, QUARTERS = ["nis", "vranje"], ["2026Q1"]


@pytest.fixture(scope="module")
def authorities(tmp_path_factory):
    """The server's CA (which signed its certificate for localhost) and another CA."""
    ours = make_ca(tmp_path_factory.mktemp("ca"), "THB warehouse test CA")
    other = make_ca(tmp_path_factory.mktemp("other-ca"), "Another CA")
    return ours, other, issue(ours, ["localhost"])


@pytest.fixture(scope="module")
def server(authorities):
    if tls_postgres.bin_dir() is None:
        message = "PostgreSQL's server binaries (initdb, pg_ctl) are not installed"
        if IN_CI:
            pytest.fail(message + " (CI=true: .ci/run installs them)")
        pytest.skip(message)
    with tls_postgres.running(authorities[2].cert, authorities[2].key) as pg:
        yield pg


@pytest.fixture
def warehouse(server):
    """The TLS server, back to TLS and hostssl only, with a fresh database for one test: (server, database)."""
    server.configure(ssl=True, hostssl_only=True)
    database = f"thb_tls_{uuid.uuid4().hex[:10]}"
    server.admin_query(f'CREATE DATABASE "{database}"')
    yield server, database
    dispose_engines()


def _config(tmp_path, monkeypatch, connection: str) -> PipelineConfig:
    """The configuration a run reads, with reporting_db as given."""
    monkeypatch.setenv("AIRFLOW_CONN_REPORTING_DB", connection)
    data = tmp_path / "data"
    return PipelineConfig.local(data, TEST_KEY, reporting_db_url=reporting_db_url_from_airflow(data.as_uri()))


def _refused(config) -> str:
    """The message of a cycle refused at its first use of the warehouse."""
    with pytest.raises(OperationalError) as refused:
        run_cycle(config)
    return str(refused.value)


def _tls_of_a_pipeline_connection(config) -> tuple:
    with reporting_engine(config.reporting_db_url).connect() as conn:
        return tuple(conn.execute(text("SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()")).one())


def test_a_verified_connection_publishes_a_cycle(warehouse, authorities, tmp_path, monkeypatch):
    server, database = warehouse
    ours = authorities[0]
    # the connection names its CA file and nothing else: verify-full (certificate and host name) by default
    config = _config(tmp_path, monkeypatch, server.connection(database, sslrootcert=ours.cert))
    truth = Truth(SubmissionGenerator(tmp_path / "data" / "inbox", seed=3).scenario(TEAMS, QUARTERS))
    outcome, _ = run_cycle(config)
    assert len(outcome["accepted"]) == len(truth.files) and not outcome["rejected"]
    assert published_indicator(config.reporting_db_url) == truth.victims_by_team_quarter()
    ssl, version = _tls_of_a_pipeline_connection(config)
    assert ssl is True and version in ("TLSv1.2", "TLSv1.3")
    print(f"verified connection: ssl={ssl} version={version}")


def test_a_wrong_ca_or_host_name_is_refused_and_nothing_is_lost(warehouse, authorities, tmp_path, monkeypatch):
    server, database = warehouse
    ours, other, _ = authorities
    truth = Truth(SubmissionGenerator(tmp_path / "data" / "inbox", seed=5).scenario(TEAMS, QUARTERS))
    inbox = sorted(p.read_bytes() for p in (tmp_path / "data" / "inbox").rglob("*") if p.is_file())

    wrong_ca = _refused(_config(tmp_path, monkeypatch, server.connection(database, sslrootcert=other.cert)))
    assert "connection reporting_db" in wrong_ca and "certificate verify failed" in wrong_ca, wrong_ca
    print(f"wrong CA: {wrong_ca}")
    wrong_host = _refused(_config(tmp_path, monkeypatch, server.connection(database, "127.0.0.1", sslrootcert=ours.cert)))
    assert "connection reporting_db" in wrong_host and 'does not match host name "127.0.0.1"' in wrong_host, wrong_host
    # no CA named: the system's store, which does not know the test's CA
    no_ca = _refused(_config(tmp_path, monkeypatch, server.connection(database)))
    assert "connection reporting_db" in no_ca and "certificate verify failed" in no_ca, no_ca

    # nothing was taken in, nothing was lost: every file still in the inbox, no ledger anywhere
    assert sorted(p.read_bytes() for p in (tmp_path / "data" / "inbox").rglob("*") if p.is_file()) == inbox
    assert server.admin_query("SELECT count(*) FROM pg_namespace WHERE nspname IN ('ledger', 'national')", database) == 0

    # fixed: the same files publish, each once
    config = _config(tmp_path, monkeypatch, server.connection(database, sslrootcert=ours.cert))
    outcome, _ = run_cycle(config)
    assert len(outcome["accepted"]) == len(truth.files)
    assert published_indicator(config.reporting_db_url) == truth.victims_by_team_quarter()
    assert len(ledger(config.reporting_db_url)) == len(truth.files)


def test_the_system_ca_store_is_the_default(warehouse, authorities, tmp_path, monkeypatch):
    server, database = warehouse
    """No CA named: the system's store, here one that holds the test's CA (SSL_CERT_FILE, as OpenSSL reads it)."""
    monkeypatch.setenv("SSL_CERT_FILE", str(authorities[0].cert))
    config = _config(tmp_path, monkeypatch, server.connection(database))
    assert _tls_of_a_pipeline_connection(config)[0] is True


def test_plain_text_is_refused_where_tls_is_required(warehouse, authorities, tmp_path, monkeypatch):
    server, database = warehouse
    ours = authorities[0]
    truth = Truth(SubmissionGenerator(tmp_path / "data" / "inbox", seed=9).scenario(TEAMS, QUARTERS))
    # the server requires TLS (hostssl only): a connection that turns TLS off is refused by the server
    plain = _refused(_config(tmp_path, monkeypatch, server.connection(database, sslmode="disable")))
    assert "connection reporting_db" in plain and "no encryption" in plain, plain
    # the connection requires TLS (its default): a server without TLS is refused by the client
    server.configure(ssl=False, hostssl_only=False)
    config = _config(tmp_path, monkeypatch, server.connection(database, sslrootcert=ours.cert))
    no_tls = _refused(config)
    assert "connection reporting_db" in no_tls and "server does not support SSL, but SSL was required" in no_tls, no_tls
    require = _refused(_config(tmp_path, monkeypatch, server.connection(database, sslmode="require")))
    assert "server does not support SSL" in require, require

    server.configure(ssl=True, hostssl_only=True)  # the server fixed: the same run's connection now works
    outcome, _ = run_cycle(config)
    assert len(outcome["accepted"]) == len(truth.files)
    assert published_indicator(config.reporting_db_url) == truth.victims_by_team_quarter()
    assert _tls_of_a_pipeline_connection(config)[0] is True
