"""Every national indicator equals the generator's truth exactly, on SQLite and on PostgreSQL."""
from __future__ import annotations

import math

from sqlalchemy import select

from oracle import Truth
from thb_reporting.core import contracts, reference
from thb_reporting.figures import indicator_catalogue
from thb_reporting.store.warehouse import reporting_engine, table
from test_pipeline import run_cycle

TEAMS = ["subotica", "sombor", "novi_sad", "nis", "leskovac", "kraljevo", "novi_pazar"]  # two share a district


CALENDAR = ("reporting_rate", "on_time_rate")  # tested in test_reporting_calendar.py


def published(db_url: str) -> dict[tuple, float]:
    t = table("indicators")
    with reporting_engine(db_url).connect() as conn:
        rows = conn.execute(select(t.c.indicator, t.c.level, t.c.area_code, t.c.period, t.c.breakdown,
                                   t.c.category, t.c.value).where(t.c.indicator.not_in(CALENDAR))).all()
    return {tuple(r[:-1]): r[-1] for r in rows}


def _assert_equal(got: dict, want: dict) -> None:
    assert got.keys() == want.keys(), (sorted(got.keys() - want.keys())[:5], sorted(want.keys() - got.keys())[:5])
    wrong = [(k, got[k], want[k]) for k in want if not math.isclose(got[k], want[k], rel_tol=1e-9, abs_tol=1e-12)]
    assert not wrong, wrong[:5]


def test_indicators_equal_the_truth(config, tmp_path):
    from thb_reporting.tools.generator import SubmissionGenerator

    generator = SubmissionGenerator(tmp_path / "data" / "inbox", seed=31, shared_persons=2)
    truth = Truth(generator.scenario(TEAMS, ["2026Q1", "2026Q2"], {("nis", "2026Q2"): "jmbg"}, datasets=contracts.datasets()))
    run_cycle(config)
    district_of = {code: t.district_code for code, t in reference.teams().items()}
    want = truth.indicators(district_of)
    _assert_equal(published(config.reporting_db_url), want)
    # the shared persons are counted once nationally, and their teams say so
    def persons(level, area):
        return sum(v for k, v in want.items() if k[:5] == ("persons_by_status", level, area, "2026Q1", "status"))

    shared = [s for s in generator.shared if s[0] == "2026Q1"]
    assert len(shared) >= len(TEAMS) - 1
    assert persons("nation", "RS") == sum(persons("team", t) for t in TEAMS) - len(shared)
    _assert_exports(config, truth, district_of)
    # a re-submission moves the indicators with it, other quarters of the year included
    generator.dataset_file("programmes", "subotica", "2026Q1", version=2)
    generator.victims_file("nis", "2026Q2", version=2)
    run_cycle(config)
    _assert_equal(published(config.reporting_db_url), Truth(generator.files).indicators(district_of))
    _assert_exports(config, Truth(generator.files), district_of)


THRESHOLD = 4


def _assert_exports(config, truth, district_of) -> None:
    """The exports are the truth with small cells suppressed: crim_thb with the public indicators, SDG rates
    where the public indicators suppress their count, and the indicator files as the public table."""
    import csv
    from pathlib import Path

    crim, sdg = table("export_crim_thb"), table("sdg_16_2_2")
    with reporting_engine(config.reporting_db_url).connect() as conn:
        crim_rows = {tuple(r[:-2]): (r[-2], r[-1]) for r in conn.execute(select(
            crim.c.time, crim.c.leg_stat, crim.c.sex, crim.c.citizen, crim.c.expl, crim.c.value, crim.c.suppressed))}
        sdg_rows = {tuple(r[:-2]): (r[-2], r[-1]) for r in conn.execute(select(
            sdg.c.level, sdg.c.area_code, sdg.c.year, sdg.c.breakdown, sdg.c.category, sdg.c.rate_per_100000, sdg.c.suppressed))}
    exact_crim = truth.crim_thb()
    assert crim_rows.keys() == exact_crim.keys()
    for key, (value, hidden) in crim_rows.items():  # small cells hidden, with those that would give them away
        assert (value is None) if hidden else (value == exact_crim[key] and not 1 <= value <= THRESHOLD), key
    public = published_public(config.reporting_db_url)
    rates = truth.sdg_16_2_2(district_of)
    assert sdg_rows.keys() == rates.keys()
    for key, (rate, hidden) in sdg_rows.items():
        level, area, year, breakdown, category = key
        area = "RS" if area == "RS_PART" else area  # the tables' nation-level cell, with its coverage columns
        assert hidden == public[("victims", level, area, year, breakdown, category)][1]
        assert (rate is None) if hidden else math.isclose(rate, rates[key])
    folder = Path(config.data_root.removeprefix("file://")) / "exports" / "2026"
    with open(folder / "crim_thb_2026.csv", encoding="utf-8-sig") as f:
        from_file = {(r["time"], r["leg_stat"], r["sex"], r["citizen"], r["expl"]): r["value"] for r in csv.DictReader(f)}
    assert from_file == {k: "" if hidden else str(v) for k, (v, hidden) in crim_rows.items()}
    with open(folder / "national_indicators_2026.csv", encoding="utf-8-sig") as f:
        file_rows = list(csv.DictReader(f))
    covered = truth.coverage(reference.teams())
    for r in file_rows:  # a nation-level sum is 'RS' only where the Centre covers it, as the truth says
        if r["level"] == "nation" and r["indicator"] not in CALENDAR:
            dataset = indicator_catalogue.catalogue()[r["indicator"]]["dataset"]
            national, units, population = covered[(dataset, r["period"])]
            assert (r["area_code"], r["coverage"], r["coverage_units"], r["coverage_population"]) == (
                "RS" if national else "RS_PART", "nation" if national else "units", ";".join(units), str(population)), r
    indicators_file = {(r["indicator"], r["level"], "RS" if r["area_code"] == "RS_PART" else r["area_code"], r["period"],
                        r["breakdown"], r["category"]): r["value"] for r in file_rows}
    assert {k for k in indicators_file if k[0] not in CALENDAR} == {k for k in public if k[3].startswith("2026")}
    for key, text in indicators_file.items():
        if key[0] in CALENDAR:
            continue
        value, hidden = public[key]
        assert (text == "") if hidden else math.isclose(float(text), value)
    from openpyxl import load_workbook

    book = load_workbook(folder / "national_indicators_2026.xlsx", read_only=True)
    assert book.sheetnames == ["nacija_nation", "okruzi_districts", "timovi_teams", "pokazatelji_indicators"]
    for sheet, level in (("nacija_nation", "nation"), ("okruzi_districts", "district"), ("timovi_teams", "team")):
        rows = book[sheet].iter_rows(values_only=True)
        header = next(rows)
        from_sheet = {tuple("RS" if v == "RS_PART" else v for v in (r[header.index(c)] for c in (
                          "indicator", "level", "area_code", "period", "breakdown", "category"))): r[header.index("value")]
                      for r in rows}
        want = {k: v for k, v in indicators_file.items() if k[1] == level}
        assert from_sheet.keys() == want.keys()
        assert all((v is None) if want[k] == "" else math.isclose(v, float(want[k])) for k, v in from_sheet.items())


def published_public(db_url: str) -> dict[tuple, tuple]:
    t = table("public_indicators")
    with reporting_engine(db_url).connect() as conn:
        rows = conn.execute(select(t.c.indicator, t.c.level, t.c.area_code, t.c.period, t.c.breakdown,
                                   t.c.category, t.c.value, t.c.suppressed).where(t.c.indicator.not_in(CALENDAR))).all()
    return {tuple(r[:6]): (r[6], r[7]) for r in rows}


def test_the_quarters_computed_alone_are_the_quarters_of_the_whole(config, tmp_path):
    """A receipt's figures are its team's quarter (notifications._figures_of computes periods=("quarter",)):
    the quarters computed without the years are the rows the whole computation gives for the quarters."""
    import pandas as pd

    from thb_reporting.figures.indicators import national_indicators
    from thb_reporting.store import ledger
    from thb_reporting.store.snapshots import rows_of_snapshots
    from thb_reporting.tools.generator import SubmissionGenerator

    SubmissionGenerator(tmp_path / "data" / "inbox", seed=32, shared_persons=2).scenario(
        TEAMS[:3], ["2026Q1", "2026Q2"], datasets=contracts.datasets())
    run_cycle(config)
    with reporting_engine(config.reporting_db_url).connect() as conn:
        current = ledger.current_submissions(conn)
    facts = {dataset: rows_of_snapshots(r for (d, _, _), r in sorted(current.items()) if d == dataset).to_pandas()
             for dataset in contracts.datasets()}
    district_of = {code: t.district_code for code, t in reference.teams().items()}
    whole = national_indicators(facts, district_of)
    alone = national_indicators(facts, district_of, periods=("quarter",))
    assert set(alone["period"]) == {"2026Q1", "2026Q2"} and set(alone["level"]) == {"team", "district", "nation"}
    pd.testing.assert_frame_equal(alone, whole[whole["period"].str.contains("Q")].reset_index(drop=True))
