"""The team registry can hold every municipality of Serbia: nothing assumes the 13 teams of today. The
registry is part of a configuration: two configurations in one process each keep their own."""
from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from fixtures import TEST_KEY
from thb_reporting.core import reference
from thb_reporting.core.config import PipelineConfig, sqlite_url
from thb_reporting.tools.generator import SubmissionGenerator
from thb_reporting.tools.synthetic_files import synthetic_registry
from thb_reporting.store.warehouse import reporting_engine, table


def test_a_registry_of_145_municipalities_goes_through_ingest_and_publish(tmp_path):
    from thb_reporting.intake.ingest import collect_new_submissions, process_submissions
    from thb_reporting.publishing.publish import publish

    registry = synthetic_registry(tmp_path / "teams.csv", 145)
    config = PipelineConfig.local(tmp_path / "data", TEST_KEY, reporting_db_url=sqlite_url(tmp_path / "r.sqlite"),
                                  teams_registry=str(registry))
    teams = config.teams
    assert len([t for t in teams.values() if t.scope == "local"]) == 145 and {"nis", "opstina_145", "czztlj"} <= set(teams)
    assert teams.population["opstina_145"] > 0
    generator = SubmissionGenerator(Path(config.inbox.removeprefix("file://")), seed=3, teams=teams)
    generator.scenario(["czztlj", "opstina_145", "nis"], ["2026Q2"], datasets=("victims", "activities"))
    outcome = process_submissions(config, collect_new_submissions(config))
    assert len(outcome["accepted"]) == 5 and not outcome["rejected"], outcome  # the Centre sends victims only
    publish(config)
    engine = reporting_engine(config.reporting_db_url)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(table("teams"))).scalar_one() == 146  # and the Centre
        sdg = table("sdg_16_2_2")
        areas = set(conn.execute(select(sdg.c.area_code)).scalars())
        # the Centre (no municipality) has no rate of its own; its quarter makes the nation's figure the nation's
        assert "opstina_145" in areas and "czztlj" not in areas and "RS" in areas
        indicators = table("indicators")
        levels = set(conn.execute(select(indicators.c.level).where(indicators.c.area_code == "czztlj")).scalars())
        assert levels == {"team"}
    assert len(reference.teams()) == 14  # the package's own registry (13 teams and the Centre), untouched


def test_the_default_registry_is_the_package_one(tmp_path):
    teams = PipelineConfig.local(tmp_path, TEST_KEY).teams
    assert teams.path == reference.PACKAGE_TEAMS == reference.REFERENCE_DIR / "teams.csv"
    assert teams is reference.teams()  # read once per file


@pytest.mark.parametrize("order", ["larger_first", "package_first"])
def test_two_configurations_in_one_process_each_keep_their_registry(tmp_path, order):
    """Before, building a configuration made its registry the one of the whole process: the configuration
    built last decided for both. Both are built here before either runs, then each runs in turn."""
    from thb_reporting.intake.ingest import collect_new_submissions, process_submissions
    from thb_reporting.publishing.publish import publish

    larger = synthetic_registry(tmp_path / "teams.csv", 15)  # the 13 teams, opstina_014, opstina_015, the Centre
    made = {"larger": lambda: PipelineConfig.local(tmp_path / "larger", TEST_KEY, teams_registry=str(larger)),
            "package": lambda: PipelineConfig.local(tmp_path / "package", TEST_KEY)}
    names = ["larger", "package"] if order == "larger_first" else ["package", "larger"]
    configs = {name: made[name]() for name in names}
    assert set(configs["larger"].teams) - set(configs["package"].teams) == {"opstina_014", "opstina_015"}
    assert len(configs["package"].teams) == 14

    for name in names:
        config = configs[name]
        inbox = Path(config.inbox.removeprefix("file://"))
        SubmissionGenerator(inbox, seed=5, teams=config.teams).scenario(["nis"], ["2026Q2"])
        SubmissionGenerator(inbox, seed=5, teams=configs["larger"].teams).scenario(["opstina_015"], ["2026Q2"])
        outcome = process_submissions(config, collect_new_submissions(config))
        publish(config)
        with reporting_engine(config.reporting_db_url).connect() as conn:
            published = set(conn.execute(select(table("teams").c.municipality_code)).scalars())
            owing = set(conn.execute(select(table("reporting_status").c.team_code)).scalars())
        assert published == owing == set(config.teams), name
        # opstina_015's file is a team's only where the configuration's registry has that team
        assert len(outcome["accepted"]) == (2 if name == "larger" else 1), (name, outcome)
        assert len(outcome["rejected"]) == (0 if name == "larger" else 1), (name, outcome)
