"""The team registry can hold every municipality of Serbia: nothing assumes the 13 teams of today."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from conftest import TEST_KEY
from thb_reporting import reference
from thb_reporting.config import PipelineConfig, sqlite_url
from thb_reporting.generator import SubmissionGenerator, synthetic_registry
from thb_reporting.warehouse import reporting_engine, table


def test_a_registry_of_145_municipalities_goes_through_ingest_and_publish(tmp_path):
    from thb_reporting.ingest import collect_new_submissions, process_submissions
    from thb_reporting.publish import publish

    registry = synthetic_registry(tmp_path / "teams.csv", 145)
    config = PipelineConfig.local(tmp_path / "data", TEST_KEY, reporting_db_url=sqlite_url(tmp_path / "r.sqlite"),
                                  teams_registry=str(registry))
    try:
        teams = reference.teams()
        assert len(teams) == 145 and {"nis", "opstina_145"} <= set(teams)
        assert reference.population()["opstina_145"] > 0
        generator = SubmissionGenerator(Path(config.inbox.removeprefix("file://")), seed=3)
        generator.scenario(["opstina_145", "nis"], ["2026Q2"], datasets=("victims", "activities"))
        outcome = process_submissions(config, collect_new_submissions(config))
        assert len(outcome["accepted"]) == 4 and not outcome["rejected"], outcome
        publish(config)
        engine = reporting_engine(config.reporting_db_url)
        with engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(table("teams"))).scalar_one() == 145
            sdg = table("sdg_16_2_2")
            assert "opstina_145" in set(conn.execute(select(sdg.c.area_code)).scalars())
    finally:
        reference.use_teams_registry(None)
    assert len(reference.teams()) == 13  # the package's own registry again


def test_the_default_registry_is_the_package_one(tmp_path):
    PipelineConfig.local(tmp_path, TEST_KEY)
    assert reference.teams_registry_path() == reference.REFERENCE_DIR / "teams.csv"
