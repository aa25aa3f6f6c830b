"""Completeness and timeliness per team, dataset and quarter, and the rates, equal the scenario's truth."""
from __future__ import annotations

import datetime as dt
import os

from sqlalchemy import select

from oracle import Truth
from test_pipeline import run_cycle
from thb_reporting.core import contracts, reference
from thb_reporting.store.warehouse import reader_engine, table

PLANTS = {("nis", "2026Q3"): "unknown_code", ("vranje", "2026Q3", "programmes"): "missing_column"}


def test_statuses_and_rates_equal_the_scenario(config, generator):
    truth = Truth(generator.scenario(["nis", "vranje", "subotica"], ["2026Q3"], PLANTS, datasets=contracts.datasets()))
    on_time = dt.datetime(2026, 10, 10, 12, tzinfo=dt.timezone.utc).timestamp()  # deadline: 15 October
    for f in truth.files:
        if f.team == "subotica" or (f.team == "vranje" and f.dataset in ("victims", "activities")):
            os.utime(f.path, (on_time, on_time))
    run_cycle(config)

    expected = {}
    teams = reference.teams()
    for team in teams:
        for dataset in contracts.datasets():
            if not teams[team].reports(dataset):
                continue  # the Centre owes victims only
            f = next((f for f in truth.files if (f.team, f.dataset) == (team, dataset)), None)
            expected[(team, dataset)] = ("missing" if f is None else "rejected" if f.plant else
                                         "accepted" if team == "subotica" or (team == "vranje" and dataset in ("victims", "activities"))
                                         else "accepted_late")
    status, ind = table("reporting_status"), table("indicators")
    with reader_engine(config.reporting_db_url).connect() as conn:
        got = {(r.team_code, r.dataset): r.status for r in conn.execute(select(status).where(status.c.quarter == "2026Q3"))}
        owed = conn.execute(select(status.c.quarter).distinct()).scalars().all()
        rates = {(r.indicator, r.level, r.area_code, r.category): r.value for r in conn.execute(
            select(ind).where(ind.c.indicator.in_(["reporting_rate", "on_time_rate"]), ind.c.period == "2026Q3"))}
    assert got == expected
    assert "2024Q1" in owed and "2026Q4" not in owed  # from the teams' first quarter to the last that ended
    assert [d for t, d in expected if t == "czztlj"] == ["victims"]
    assert ("reporting_rate", "district", "", "total") not in rates  # the Centre lies in no district
    for team in teams:
        mine = [expected[(team, d)] for d in contracts.datasets() if (team, d) in expected]
        assert rates[("reporting_rate", "team", team, "total")] == sum(s.startswith("accepted") for s in mine) / len(mine)
        assert rates[("on_time_rate", "team", team, "total")] == mine.count("accepted") / len(mine)
    everything = list(expected.values())
    assert rates[("reporting_rate", "nation", "RS", "total")] == sum(s.startswith("accepted") for s in everything) / len(everything)
    assert rates[("on_time_rate", "nation", "RS", "victims")] == sum(
        expected[(t, "victims")] == "accepted" for t in reference.teams()) / len(reference.teams())


def test_the_calendar_sets_the_deadlines():
    from thb_reporting.core.quarters import Quarter, reporting_calendar

    calendar = reporting_calendar()
    assert Quarter.parse("2026Q3").deadline() == dt.date(2026, 10, 15)
    assert Quarter.parse("2025Q4").deadline() == dt.date(2026, 1, 20)  # extended over the holidays
    assert calendar["2025Q4"]["note_en"]
    assert "2031Q1" not in calendar and Quarter.parse("2031Q1").deadline() == dt.date(2031, 4, 15)  # the default
    assert all(entry["deadline"] > Quarter.parse(q).end for q, entry in calendar.items())


def test_obligations_decide_what_each_team_owes(tmp_path):
    from thb_reporting.core.quarters import Quarter
    from thb_reporting.store.reporting_calendar import Obligation, owes, reporting_obligations, reporting_statuses
    from thb_reporting.store.migrations import ensure_schema
    from thb_reporting.store.warehouse import reporting_engine

    rules = [Obligation("*", "*", "", "", True),
             Obligation("sombor", "cross_border", "2026Q2", "", False),          # stops owing from 2026Q2
             Obligation("*", "programmes", "", "2024Q4", False),                # programmes only from 2025
             Obligation("nis", "programmes", "2024Q3", "2024Q4", True)]         # …but Niš ran one already
    sombor, nis = reference.teams()["sombor"], reference.teams()["nis"]
    assert owes(sombor, "cross_border", Quarter.parse("2026Q1"), rules)
    assert not owes(sombor, "cross_border", Quarter.parse("2026Q2"), rules)
    assert owes(sombor, "victims", Quarter.parse("2026Q2"), rules)
    assert not owes(sombor, "programmes", Quarter.parse("2024Q4"), rules) and owes(sombor, "programmes", Quarter.parse("2025Q1"), rules)
    assert owes(nis, "programmes", Quarter.parse("2024Q3"), rules) and not owes(nis, "programmes", Quarter.parse("2024Q2"), rules)
    assert not owes(nis, "victims", Quarter.parse("2023Q4"), rules)  # before the team's first quarter
    in_force = reporting_obligations(reference.teams())  # reference/reporting_obligations.csv
    assert all(owes(t, d, Quarter.parse("2026Q3"), in_force) == (t.scope == "local" or d == "victims")
               for t in reference.teams().values() for d in contracts.datasets())  # the Centre: victims only

    engine = reporting_engine(f"sqlite:///{tmp_path / 'w.sqlite'}")
    ensure_schema(engine)
    with engine.connect() as conn:
        rows = reporting_statuses(conn, reference.teams(), [Quarter.parse("2026Q3")], dt.date(2026, 11, 1), obligations=rules)
    owed = {(r["team_code"], r["dataset"]) for r in rows}
    assert ("sombor", "cross_border") not in owed and ("nis", "cross_border") in owed
    local = [t for t in reference.teams().values() if t.scope == "local"]
    assert len(owed) == len(local) * len(contracts.datasets()) - 1 + 1  # and the Centre's victims
    assert {d for t, d in owed if t == "czztlj"} == {"victims"}
    assert {r["status"] for r in rows} == {"missing"}
