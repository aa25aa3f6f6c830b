"""The SDG 16.2.2 transmission: generated submissions through ingest and publish, the SDMX-CSV file read
back with pysdmx, every count against the oracle (Truth.sdg_victims), every rate against a hand
computation, the confidentiality flags against the disclosure threshold, the area against the coverage."""
from __future__ import annotations

import csv
import json
from pathlib import Path

from oracle import Truth
from thb_reporting.figures import disclosure
from thb_reporting.intake import ingest
from thb_reporting.publishing import publish
from thb_reporting.core import reference
from thb_reporting.figures.coverage import Coverage
from thb_reporting.tools.generator import SubmissionGenerator
from thb_reporting.publishing.transmissions import TransmissionInputs, sdg

# The codes of the SDG data structure (IAEG-SDGs:SDG 1.14), written here as the test expects them
SERIES = {"all": "VC_HTF_DETV", "sexual": "VC_HTF_DETVSX", "labour": "VC_HTF_DETVFL", "organs": "VC_HTF_DETVOG",
          "other": "VC_HTF_DETVOP"}
RATE_SERIES = {"all": "VC_HTF_DETVR", "sexual": "VC_HTF_DETVSXR", "labour": "VC_HTF_DETVFLR", "organs": "VC_HTF_DETVOGR",
               "other": "VC_HTF_DETVOPR"}
SEX = {"female": "F", "male": "M", "other_unknown": "_U", "total": "_T"}
AGE = {"child": "Y0T17", "adult": "Y_GE18", "unknown": "_U", "total": "_T"}


def run_cycle(config):
    ingest.process_submissions(config, ingest.collect_new_submissions(config))
    publish.publish(config)


def read_back(config, year: str):
    from pysdmx.io import get_datasets

    path = Path(config.data_root.removeprefix("file://")) / "transmissions" / year / f"sdg_16_2_2_{year}.csv"
    (dataset,) = get_datasets(path)
    assert str(dataset.structure).endswith("IAEG-SDGs:SDG(1.14)")
    sidecar = json.loads(Path(f"{path}.metadata.json").read_text(encoding="utf-8"))
    return dataset.data, sidecar


def cells(data, unit: str) -> dict[tuple, dict]:
    rows = data[data["UNIT_MEASURE"] == unit]
    out = {(r["SERIES"], r["SEX"], r["AGE"]): r for r in rows.to_dict("records")}
    assert len(out) == len(rows)  # one observation per series, sex and age
    return out


def check_counts_and_flags(data, truth: Truth, year: str, threshold: int) -> dict[tuple, int]:
    counts = cells(data, "NUMBER")
    expected = truth.sdg_victims(year)
    grid = {(SERIES[g], SEX[s], AGE[a]): expected[(g, s, a)] for g in SERIES for s in SEX for a in AGE}
    assert {k: float(r["OBS_VALUE"]) for k, r in counts.items()} == grid  # zeros written too
    assert grid[("VC_HTF_DETV", "_T", "_T")] > 0
    for key, r in counts.items():
        value = grid[key]
        if 1 <= value <= threshold:
            assert r["CONF_STATUS"] == "C", key
        else:
            assert r["CONF_STATUS"] in ("F", "D") and (r["CONF_STATUS"] == "F" or value > threshold), key
    # no sex × age sum leaves exactly one flagged cell (it would give that cell back)
    hidden = {k for k, r in counts.items() if r["CONF_STATUS"] != "F"}
    for series in SERIES.values():
        for age in AGE.values():
            assert sum((series, s, age) in hidden for s in SEX.values()) != 1
        for sex in SEX.values():
            assert sum((series, sex, a) in hidden for a in AGE.values()) != 1
    return grid


def test_partial_sum_of_local_teams_is_not_the_country(config, generator):
    teams = ["subotica", "novi_sad", "nis", "vranje"]
    truth = Truth(generator.scenario(teams, ["2026Q2", "2026Q3"]))
    run_cycle(config)
    data, sidecar = read_back(config, "2026")
    grid = check_counts_and_flags(data, truth, "2026", config.suppression_threshold)
    assert set(data["REF_AREA"]) == {"922"}  # never 688 without the national unit
    assert all(all(t in c for t in teams) and "not the whole country" in c for c in data["COMMENT_OBS"])
    assert sidecar["coverage"][0]["scope"] == "units" and sidecar["coverage"][0]["units"] == sorted(teams)
    # rates by hand: no population of 2026; the 2022 census of the four municipalities, carried forward
    population = 123_551 + 368_967 + 249_501 + 74_381
    rates = cells(data, "PER_100000_POP")
    assert len(rates) == len(grid)
    for g in SERIES:
        for s in SEX.values():
            for a in AGE.values():
                r = rates[(RATE_SERIES[g], s, a)]
                assert float(r["OBS_VALUE"]) == grid[(SERIES[g], s, a)] * 100_000 / population
                # a year of two quarters is provisional (#25: a year is the year); the comment keeps the population's note
                assert r["OBS_STATUS"] == "P" and "population of 2022 carried forward" in r["COMMENT_OBS"]
                assert r["COMMENT_OBS"].startswith("provisional, incomplete year 2026: covers 2026Q2, 2026Q3")
                assert r["CONF_STATUS"] == cells(data, "NUMBER")[(SERIES[g], s, a)]["CONF_STATUS"]
    assert set(data.loc[data["UNIT_MEASURE"] == "NUMBER", "OBS_STATUS"]) == {"P"}
    assert any("use the population of 2022" in n for n in sidecar["notes"])
    assert "CONF_STATUS" in sidecar["code_lists"] and "NOT a component" in sidecar["code_lists"]["CONF_STATUS"]


def _registry_with_national_unit(tmp_path) -> Path:
    path = tmp_path / "teams.csv"
    rows = list(csv.DictReader(open(reference.PACKAGE_TEAMS, encoding="utf-8")))[:2]
    rows = [{**r, "scope": "", "datasets": "", "population": ""} for r in rows]
    # the public per-team SDG export (exports.sdg_16_2_2) needs a population for every reporting unit: the
    # Centre's is the country's (the census figure); the transmission never divides by a unit's own figure
    rows.append({**rows[0], "municipality_code": "czztlj", "name_lat": "Centar za zaštitu žrtava trgovine ljudima",
                 "name_cyr": "Центар", "scope": "national", "datasets": "victims", "population": "6647003"})
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path


def test_national_unit_makes_the_country_and_the_year_has_its_population(tmp_path, reporting_db_url):
    from thb_reporting.core.config import PipelineConfig

    from fixtures import TEST_KEY

    config = PipelineConfig.local(tmp_path / "data", TEST_KEY, reporting_db_url=reporting_db_url,
                                  teams_registry=str(_registry_with_national_unit(tmp_path)))
    generator = SubmissionGenerator(Path(config.inbox.removeprefix("file://")), seed=11, teams=config.teams,
                                    shared_persons=2)  # the Centre and a team meet some people: counted once
    truth = Truth(generator.scenario(["subotica", "sombor", "czztlj"], ["2024Q3", "2024Q4"]))
    run_cycle(config)
    data, sidecar = read_back(config, "2024")
    grid = check_counts_and_flags(data, truth, "2024", config.suppression_threshold)
    assert set(data["REF_AREA"]) == {"688"} and sidecar["coverage"][0]["scope"] == "nation"
    # 2024 has its own figure: the RZS mid-year estimate for the Republic, 6 586 476
    rates = cells(data, "PER_100000_POP")
    for g in SERIES:
        for s in SEX.values():
            for a in AGE.values():
                r = rates[(RATE_SERIES[g], s, a)]
                assert float(r["OBS_VALUE"]) == grid[(SERIES[g], s, a)] * 100_000 / 6_586_476
                assert r["OBS_STATUS"] == "P" and r["COMMENT_OBS"] == (  # two quarters of 2024: provisional
                    "provisional, incomplete year 2024: covers 2024Q3, 2024Q4; not every owed submission accepted for "
                    "2024Q1, 2024Q2")


def _inputs(tmp_path, coverage_national: bool, units: tuple[str, ...]):
    import pandas as pd

    path = tmp_path / "teams.csv"
    row = next(csv.DictReader(open(reference.PACKAGE_TEAMS, encoding="utf-8")))
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(row))
        w.writeheader()
        w.writerow({**row, "municipality_code": "nova_opstina"})  # no population anywhere
    victims = pd.DataFrame({
        "team_code": ["nova_opstina"] * 3, "quarter": ["2021Q1", "2021Q2", "2021Q2"], "source_row": [1, 2, 3],
        "status": ["identified_victim", "possible_victim", "identified_victim"], "sex": ["female", "male", "female"],
        "age_band": ["14_17", "25_34", "unknown"], "exploitation": ["sexual;labour", "organ_removal", None],
        "cptv_ref_token": [None, None, None], "referral_date": ["2021-01-05", "2021-04-02", "2021-05-01"]})
    coverage = Coverage("victims", "2021", coverage_national, units, ("2021Q1", "2021Q2"), None, None)
    return TransmissionInputs({"victims": victims}, None, {("victims", "2021"): coverage}, reference.teams(path), 4)


def test_no_population_of_the_year_or_before_means_no_rate(tmp_path):
    # 2021: before the first figure of the Republic (2022); nova_opstina: no figure at all
    for national, units in ((True, ("nova_opstina",)), (False, ("nova_opstina",))):
        observations, notes = sdg.rows(_inputs(tmp_path, national, units), "2021")
        assert observations and {o["UNIT_MEASURE"] for o in observations} == {"NUMBER"}
        assert any(n.startswith("No rates for 2021") for n in notes)
        counts = {(o["SERIES"], o["SEX"], o["AGE"]): int(o["OBS_VALUE"]) for o in observations}
        # a person with forms in two groups counts in each; one with no form only in all victims
        assert counts[("VC_HTF_DETV", "_T", "_T")] == 3
        assert counts[("VC_HTF_DETVSX", "F", "Y0T17")] == counts[("VC_HTF_DETVFL", "F", "Y0T17")] == 1
        assert counts[("VC_HTF_DETVOG", "M", "Y_GE18")] == 1 and counts[("VC_HTF_DETVOP", "_T", "_T")] == 0
        assert counts[("VC_HTF_DETV", "F", "_U")] == 1
        assert {o["REF_AREA"] for o in observations} == {"688" if national else "922"}


def test_population_of_a_year_is_that_years_or_the_latest_before_it():
    teams = reference.teams()
    assert teams.population_in("RS", 2024).value == 6_586_476
    carried = teams.population_in("RS", 2026)
    assert (carried.value, carried.year) == (6_586_476, 2024)
    assert teams.population_in("RS", 2023).year == 2022 and teams.population_in("RS", 2021) is None
    assert teams.population["RS"] == 6_647_003  # the census figure, for the callers of the census year


def test_every_national_form_has_an_sdg_series_and_the_schema_holds_every_code():
    assert set(reference.sdg_series_of_exploitation()) == set(reference.codes("exploitation"))
    series = {c.code for c in reference.sdg_codes()["SERIES"]}
    assert set(reference.sdg_series_of_exploitation().values()) <= series
    assert set(sdg.rate_series()) <= series and set(sdg.rate_series().values()) <= series
    schema = sdg.schema()
    assert [c.id for c in schema.components][:15] == list(sdg.DIMENSIONS)
    for component, codes in reference.sdg_codes().items():
        assert {c.code for c in codes} == {c.id for c in schema.components[component].local_codes}
        assert all(c.source for c in codes)


def test_primary_suppression_is_the_counts_from_one_to_the_threshold():
    assert disclosure.primary_cells([0, 1, 4, 5, 3, 12], 4) == [1, 2, 4]
    assert disclosure.primary_cells([2], 1) == []


def test_a_figure_for_two_flagged_cells_of_a_sum_flags_a_third_when_needed():
    # F 2 (primary), M 9, _U 0, _T 11: F alone would follow from _T - M: the rule hides M too
    counts = {("VC_HTF_DETV", s, a): 0 for s in SEX.values() for a in AGE.values()}
    counts |= {("VC_HTF_DETV", "F", "_T"): 2, ("VC_HTF_DETV", "M", "_T"): 9, ("VC_HTF_DETV", "_T", "_T"): 11,
               ("VC_HTF_DETV", "F", "Y_GE18"): 2, ("VC_HTF_DETV", "M", "Y_GE18"): 9, ("VC_HTF_DETV", "_T", "Y_GE18"): 11}
    flags = sdg.confidentiality(counts, 4)
    assert flags[("VC_HTF_DETV", "F", "_T")] == flags[("VC_HTF_DETV", "F", "Y_GE18")] == "C"
    assert "D" in {flags[("VC_HTF_DETV", "M", "_T")], flags[("VC_HTF_DETV", "_T", "_T")]}
    assert flags[("VC_HTF_DETV", "_U", "_T")] == "F"  # a zero is never hidden
