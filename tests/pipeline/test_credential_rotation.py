"""PostgreSQL logins come and go (credential rotation): whatever login of the pipeline connects, every table
and view is owned by pipeline_writer, so a second login replaces what the first created; a database where a
login owns them is repaired; and the demo runs against PostgreSQL."""
from __future__ import annotations

import subprocess

import pytest
from sqlalchemy import create_engine, make_url, text

from fixtures import TEST_KEY
from tls_postgres import without_tls
from thb_reporting.tools import cli
from thb_reporting.core import contracts
from thb_reporting.store.access import SCHEMAS, create_roles
from thb_reporting.core.config import connection_to_url
from thb_reporting.tools.generator import SubmissionGenerator
from thb_reporting.store.migrations import ensure_schema
from thb_reporting.store.warehouse import metadata, reporting_engine

LOGINS = ("thb_pipeline_login_1", "thb_pipeline_login_2")  # the pipeline's login before and after a rotation
READER, ANALYST = "thb_ministry_reader_login", "thb_ministry_analyst_login"


def _as(pg_url: str, login: str) -> str:
    return make_url(pg_url).set(username=login).render_as_string(hide_password=False)


def _owners(pg_url: str) -> dict[str, set[str]]:
    """owner → the schemas, tables, views and sequences of the pipeline's schemas it owns."""
    engine = create_engine(pg_url)
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT pg_get_userbyid(nspowner), nspname FROM pg_namespace WHERE nspname = ANY(:s) "
            "UNION ALL SELECT pg_get_userbyid(c.relowner), n.nspname || '.' || c.relname FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = ANY(:s) AND c.relkind IN ('r', 'v', 'S')"),
            {"s": list(SCHEMAS)}).all()
    engine.dispose()
    out: dict[str, set[str]] = {}
    for owner, name in rows:
        out.setdefault(owner, set()).add(name)
    return out


def _psql(pg_url: str, login: str, sql: str) -> bool:
    """Whether `login` may run `sql`, through psql as a ministry's tool would connect."""
    url = make_url(pg_url)
    done = subprocess.run(["psql", "-h", url.host, "-p", str(url.port), "-U", login, "-d", url.database, "-X", "-A",
                           "-t", "-v", "ON_ERROR_STOP=1", "-c", sql], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 or "permission denied" in done.stderr, done.stderr
    return done.returncode == 0


def _url(uri: str):
    from airflow.sdk import Connection

    return make_url(connection_to_url(Connection.from_uri(uri, conn_id="reporting_db")))


def test_the_connection_extras_choose_the_role():
    url = _url("postgresql://etl:secret@db.example:5433/reporting?role=pipeline_writer&sslmode=disable")
    assert url.query == {"options": "-c role=pipeline_writer", "sslmode": "disable"} and url.username == "etl" and url.port == 5433
    url = _url("postgresql://etl@db.example/reporting?options=-c+statement_timeout%3D0&role=pipeline_writer&sslmode=disable")
    assert url.query["options"] == "-c statement_timeout=0 -c role=pipeline_writer"


@pytest.mark.airflow
def test_a_second_login_replaces_what_the_first_created(pg_url, airflow_db, tmp_path, monkeypatch):
    from test_end_to_end import cycle

    admin = create_engine(pg_url)
    with admin.begin() as conn:
        create_roles(conn, LOGINS)
        for login, role in ((READER, "reporting_reader"), (ANALYST, "reporting_analyst")):
            conn.execute(text(f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{login}') THEN "
                              f"CREATE ROLE {login} LOGIN; END IF; END $$"))
            conn.execute(text(f"GRANT {role} TO {login}"))
    admin.dispose()
    data = tmp_path / "data"
    monkeypatch.setenv("AIRFLOW_VAR_THB_DATA_ROOT", data.as_uri())
    monkeypatch.setenv("AIRFLOW_VAR_THB_PSEUDONYMISATION_KEY", TEST_KEY.decode())
    generator = SubmissionGenerator(data / "inbox", seed=11)
    generator.scenario(["nis", "vranje"], ["2026Q1"], datasets=contracts.datasets())
    # the connection as an operator writes it: the login and nothing about roles
    monkeypatch.setenv("AIRFLOW_CONN_REPORTING_DB", without_tls(_as(pg_url, LOGINS[0])))
    cycle()
    assert set(_owners(pg_url)) == {"pipeline_writer"}

    # rotation: the second login takes over; corrected and new files replace tables and views again
    generator.victims_file("nis", "2026Q1", version=2)
    generator.scenario(["nis", "vranje"], ["2026Q2"], datasets=("victims", "criminal_justice"))
    monkeypatch.setenv("AIRFLOW_CONN_REPORTING_DB", without_tls(_as(pg_url, LOGINS[1])))
    states = cycle()
    assert states["publish_datasets"] == "success"
    owners = _owners(pg_url)
    assert set(owners) == {"pipeline_writer"}
    assert {"reporting_public.indicators", "national.public_indicators", "ledger.submissions"} <= owners["pipeline_writer"]
    with reporting_engine(_as(pg_url, LOGINS[1])).connect() as conn:
        published = conn.execute(text("SELECT count(DISTINCT quarter) FROM national.publications")).scalar_one()
    assert published == 2

    # each login reads what it may, and no more
    for login, sql, allowed in [
        (READER, "SELECT count(*) FROM reporting_public.indicators", True),
        (READER, "SELECT count(*) FROM reporting_public.crim_thb", True),
        (READER, "SELECT count(*) FROM national.indicators", False),
        (READER, "SELECT count(*) FROM ledger.submissions", False),
        (ANALYST, "SELECT count(*) FROM national.indicators", True),
        (ANALYST, "SELECT count(*) FROM national.victims", False),
        (ANALYST, "DELETE FROM national.indicators", False),
        (LOGINS[0], "SELECT count(*) FROM national.victims", True),
        (LOGINS[1], "SELECT count(*) FROM ledger.submissions", True),
        (LOGINS[1], "CREATE ROLE thb_should_not_exist", False),
    ]:
        assert _psql(pg_url, login, sql) == allowed, (login, sql)


def _created_by_a_login_as_before(pg_url: str, login: str) -> None:
    """Tables and a view created by the login itself, as versions without act_as_pipeline_writer did."""
    engine = create_engine(_as(pg_url, login))
    with engine.begin() as conn:
        metadata().create_all(conn)
        conn.execute(text("CREATE VIEW reporting_public.indicators AS SELECT * FROM national.public_indicators"))
    engine.dispose()
    assert set(_owners(pg_url)) == {"pipeline_writer", login}


def _roles_and_a_database_left_by(pg_url, login):
    admin = create_engine(pg_url)
    with admin.begin() as conn:
        create_roles(conn, LOGINS)
    admin.dispose()
    _created_by_a_login_as_before(pg_url, login)


def test_a_database_a_login_owns_is_given_to_pipeline_writer(pg_url):
    _roles_and_a_database_left_by(pg_url, LOGINS[0])
    # another login cannot take them over, and says what to do
    with pytest.raises(PermissionError, match="thb roles"):
        ensure_schema(reporting_engine(_as(pg_url, LOGINS[1])))
    # the administrator's `thb roles` gives them to pipeline_writer; then the other login works
    assert cli.main(["roles", pg_url, "--pipeline-login", LOGINS[0], "--pipeline-login", LOGINS[1]]) == 0
    assert set(_owners(pg_url)) == {"pipeline_writer"}
    ensure_schema(reporting_engine(_as(pg_url, LOGINS[1])))
    assert set(_owners(pg_url)) == {"pipeline_writer"}


def test_the_login_that_owns_them_gives_them_to_pipeline_writer_itself(pg_url):
    _roles_and_a_database_left_by(pg_url, LOGINS[0])
    ensure_schema(reporting_engine(_as(pg_url, LOGINS[0])))
    assert set(_owners(pg_url)) == {"pipeline_writer"}
    with reporting_engine(_as(pg_url, LOGINS[0])).connect() as conn:  # and it still acts as pipeline_writer
        assert conn.execute(text("SELECT current_user")).scalar_one() == "pipeline_writer"


@pytest.mark.airflow
def test_demo_on_postgresql(pg_url, airflow_db, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("AIRFLOW_CONN_REPORTING_DB", without_tls(pg_url))
    # set here so that what the demo sets is undone after the test
    monkeypatch.setenv("AIRFLOW_VAR_THB_DATA_ROOT", "")
    monkeypatch.setenv("AIRFLOW_VAR_THB_PSEUDONYMISATION_KEY", "")  # recorded, so that the key the demo makes is undone
    monkeypatch.delenv("AIRFLOW_VAR_THB_PSEUDONYMISATION_KEY")  # the demo makes its own
    assert cli.main(["demo", "--data", str(tmp_path / "demo"), "--airflow-home", str(airflow_db)]) == 0
    out = capsys.readouterr().out
    assert "National summary" in out and "(PostgreSQL, connection reporting_db)" in out and "sqlite" not in out.lower()
    victims = next(line for line in out.splitlines() if line.startswith("Victims (presumed and identified)"))
    assert all(int(v.replace(",", "")) > 0 for v in victims.split()[-2:])  # both quarters
    engine = create_engine(pg_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM ledger.submissions WHERE status = 'rejected'")).scalar_one() >= len(cli.DEMO_PLANTS)
    engine.dispose()
