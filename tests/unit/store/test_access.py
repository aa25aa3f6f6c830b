"""PostgreSQL roles: each connects (SET ROLE drops the superuser's rights) and can read exactly what it may."""
from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError, ProgrammingError

from test_pipeline import run_cycle
from thb_reporting.core import contracts
from thb_reporting.store.access import create_roles

PIPELINE_LOGIN = "thb_pipeline_test"


@pytest.fixture
def pipeline(pg_url, config, generator):
    admin = create_engine(pg_url)
    with admin.begin() as conn:
        create_roles(conn, PIPELINE_LOGIN)
    admin.dispose()
    # the pipeline connects with its own login and acts as pipeline_writer
    user_url = pg_url.replace("postgres@", f"{PIPELINE_LOGIN}@") + "?options=-c%20role%3Dpipeline_writer"
    pipeline_config = replace(config, reporting_db_url=user_url)
    generator.scenario(["nis", "vranje", "kraljevo"], ["2026Q1"], datasets=contracts.datasets())
    run_cycle(pipeline_config)
    from thb_reporting.publishing import releases

    for period in ("2026Q1", "2026"):  # the readers' views show released figures only: the quarter and its year
        candidate = releases.prepare(pipeline_config, period, "provisional", "test")
        releases.decide(pipeline_config, candidate["release_id"], True, "coordinator", "for the readers' views")
    return pg_url


def _can(pg_url, role: str, sql: str) -> bool:
    engine = create_engine(pg_url)
    try:
        with engine.begin() as conn:
            conn.execute(text(f"SET ROLE {role}"))
            conn.execute(text(sql))
        return True
    except ProgrammingError as e:
        assert "permission denied" in str(e), e
        return False
    except OperationalError as e:  # a view of a join (released figures) cannot be written by anyone
        assert "cannot delete from view" in str(e), e
        return False
    finally:
        engine.dispose()


@pytest.mark.parametrize("reporting_db_url", ["postgres"], indirect=True)
def test_each_role_reads_exactly_what_it_may(pipeline):
    pg = pipeline
    reader = [
        ("SELECT * FROM reporting_public.indicators", True),
        ("SELECT * FROM reporting_public.crim_thb", True),
        ("SELECT * FROM reporting_public.teams", True),
        ("SELECT * FROM reporting_public.releases", True),
        ("SELECT * FROM reporting_public.revisions", True),
        ("SELECT * FROM reporting_public.indicators_all_releases", True),
        ("SELECT * FROM national.public_indicators", False),
        ("SELECT * FROM national.releases", False),
        ("SELECT * FROM national.release_public_indicators", False),
        ("DELETE FROM reporting_public.releases", False),
        ("SELECT * FROM national.indicators", False),
        ("SELECT * FROM national.victims", False),
        ("SELECT * FROM ledger.submissions", False),
        ("DELETE FROM reporting_public.indicators", False),
    ]
    analyst = [
        ("SELECT * FROM national.indicators", True),
        ("SELECT * FROM national.public_indicators", True),
        ("SELECT * FROM national.victims_by_team_quarter", True),
        ("SELECT * FROM reporting_public.indicators", True),
        ("SELECT * FROM national.releases", True),
        ("SELECT * FROM national.release_indicators", True),
        ("SELECT * FROM national.victims", False),
        ("SELECT * FROM national.criminal_justice", False),
        ("SELECT * FROM national.publications", False),
        ("SELECT * FROM ledger.submissions", False),
        ("SELECT * FROM ledger.outbox", False),
        ("UPDATE national.indicators SET value = 0", False),
    ]
    writer = [
        ("SELECT * FROM national.victims", True),
        ("SELECT * FROM ledger.submissions", True),
        ("UPDATE national.indicators SET value = value", True),
        ("CREATE ROLE thb_should_not_exist", False),
    ]
    for role, cases in (("reporting_reader", reader), ("reporting_analyst", analyst), ("pipeline_writer", writer)):
        for sql, allowed in cases:
            assert _can(pg, role, sql) == allowed, (role, sql)


@pytest.mark.parametrize("reporting_db_url", ["postgres"], indirect=True)
def test_pipeline_writer_owns_the_tables_and_is_no_superuser(pipeline):
    engine = create_engine(pipeline)
    with engine.connect() as conn:
        owners = set(conn.execute(text(
            "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname IN ('ledger', 'national')")).scalars())
        superuser = conn.execute(text("SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = 'pipeline_writer'")).scalar_one()
        public_rows = conn.execute(text("SELECT count(*) FROM reporting_public.indicators WHERE suppressed")).scalar_one()
    engine.dispose()
    assert owners == {"pipeline_writer"} and superuser is False
    assert public_rows > 0  # the reader's view is the released, suppressed figures
