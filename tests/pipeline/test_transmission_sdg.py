"""The SDG 16.2.2 transmission: generated submissions through ingest and publish, the SDMX-CSV file read
back as UNODC would, with the published structure IAEG-SDGs:SDG(1.14) (tests/support/structures) through
both pysdmx and sdmx1: every count against the oracle (Truth.sdg_victims), no count from 1 to the threshold
with a value (the structure has no confidentiality flag: such cells are withheld, OBS_STATUS Q), every code
in the structure's code lists, one observation per key, the area and its flag against the coverage; and
the structure check that keeps a spoiled file back."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

import sdmx_receiver
from oracle import Truth
from thb_reporting.figures import disclosure
from thb_reporting.intake import ingest
from thb_reporting.publishing import publish
from thb_reporting.core import reference
from thb_reporting.figures.coverage import Coverage
from thb_reporting.tools.generator import SubmissionGenerator
from thb_reporting.publishing import transmissions
from thb_reporting.publishing.transmissions import TransmissionInputs, sdg, structure_check

# The codes of the SDG data structure (IAEG-SDGs:SDG 1.14), written here as the test expects them
SERIES = {"all": "VC_HTF_DETV", "sexual": "VC_HTF_DETVSX", "labour": "VC_HTF_DETVFL", "organs": "VC_HTF_DETVOG",
          "other": "VC_HTF_DETVOP"}
SEX = {"female": "F", "male": "M", "other_unknown": "_U", "total": "_T"}
AGE = {"child": "Y0T17", "adult": "Y_GE18", "unknown": "_U", "total": "_T"}


def run_cycle(config):
    ingest.process_submissions(config, ingest.collect_new_submissions(config))
    publish.publish(config)


def file_of(config, year: str) -> Path:
    return Path(config.data_root.removeprefix("file://")) / "transmissions" / year / f"sdg_16_2_2_{year}.csv"


def as_received(path: Path, threshold: int) -> dict[tuple, tuple[float | None, dict]]:
    """The file as UNODC reads it, through pysdmx and sdmx1 with the published structure; fails if the two
    disagree, if a key repeats, if a code is not in the structure's code lists, if a column is not a component
    of the structure, or if a count from 1 to the threshold arrives with a value. {(SERIES, SEX, AGE): (value,
    attributes)}."""
    codes = sdmx_receiver.codes_of()
    readings = [sdmx_receiver.read_with_pysdmx(path), sdmx_receiver.read_with_sdmx1(path)]
    for reading in readings:
        assert not reading.repeated, (reading.library, reading.repeated[:3])
        assert reading.observations, reading.library
        for key, (value, attributes) in reading.observations.items():
            coded = dict(zip(reading.dimensions, key)) | attributes
            wrong = {c: v for c, v in coded.items() if c in codes and v not in codes[c]}
            assert not wrong, (reading.library, key, wrong)
            if value is not None and attributes.get("UNIT_MEASURE") == "NUMBER":
                assert not 1 <= value <= threshold, (reading.library, key, "a confidential count in the clear")
            if value is None:
                assert attributes["OBS_STATUS"] == "Q", (reading.library, key)
    with open(path, encoding="utf-8") as f:
        header = next(csv.reader(f))
    components = {c.id for c in sdmx_receiver.pysdmx_schema().components}
    assert set(header) - {"STRUCTURE", "STRUCTURE_ID", "ACTION"} <= components  # no column a receiver drops
    pysdmx_view, sdmx1_view = ({k: (v, {a: x for a, x in at.items() if x}) for k, (v, at) in r.observations.items()}
                               for r in readings)
    assert pysdmx_view == sdmx1_view  # both libraries read the same observations, values and attributes
    dims = readings[0].dimensions
    cell = [dims.index(d) for d in sdg.CELL]
    return {tuple(k[i] for i in cell): v for k, v in pysdmx_view.items()}


def read_back(config, year: str):
    path = file_of(config, year)
    sidecar = json.loads(Path(f"{path}.metadata.json").read_text(encoding="utf-8"))
    report = json.loads(Path(f"{path}.validation.json").read_text(encoding="utf-8"))
    assert report["passed"] and report["structure"] == "IAEG-SDGs:SDG(1.14)", report
    return as_received(path, config.suppression_threshold), sidecar


def check_counts_and_withheld(data, sidecar, truth: Truth, year: str, threshold: int) -> dict[tuple, int]:
    expected = truth.sdg_victims(year)
    grid = {(SERIES[g], SEX[s], AGE[a]): expected[(g, s, a)] for g in SERIES for s in SEX for a in AGE}
    assert set(data) == set(grid)  # every cell, zeros too
    assert grid[("VC_HTF_DETV", "_T", "_T")] > 0
    withheld = {k for k, (value, _) in data.items() if value is None}
    for key, (value, _) in data.items():
        if 1 <= grid[key] <= threshold:
            assert key in withheld, key
        if key not in withheld:
            assert value == grid[key], key
    assert 0 < len(withheld) < len(grid)
    assert not {k for k in withheld if grid[k] == 0}  # a zero is never hidden
    assert sidecar["withheld"]["keys"] == [".".join(k) for k in sorted(withheld)]
    # no sex × age sum leaves exactly one withheld cell (it would give that cell back)
    for series in SERIES.values():
        for age in AGE.values():
            assert sum((series, s, age) in withheld for s in SEX.values()) != 1
        for sex in SEX.values():
            assert sum((series, sex, a) in withheld for a in AGE.values()) != 1
    assert not any(set(a) - {"OBS_STATUS", "UNIT_MULT", "UNIT_MEASURE", "NATURE", "COMMENT_OBS"} for _, a in data.values())
    return grid


def test_partial_sum_of_local_teams_is_the_country_code_flagged(config, generator):
    teams = ["subotica", "novi_sad", "nis", "vranje"]
    truth = Truth(generator.scenario(teams, ["2026Q2", "2026Q3"]))
    run_cycle(config)
    data, sidecar = read_back(config, "2026")
    check_counts_and_withheld(data, sidecar, truth, "2026", config.suppression_threshold)
    assert {a["REF_AREA"] for a in _areas(config, "2026")} == {"688"}  # 922 is a grouping of data providers
    valued = [a for v, a in data.values() if v is not None]
    # two quarters of 2026: provisional (#25: a year is the year), P outranking D (not the whole country); the
    # comment keeps both reasons, the withheld cells stay Q (as_received)
    assert {a["OBS_STATUS"] for a in valued} == {"P"}
    assert all(a["COMMENT_OBS"].startswith("provisional, incomplete year 2026: covers 2026Q2, 2026Q3")
               and all(t in a["COMMENT_OBS"] for t in teams) and "not the whole country" in a["COMMENT_OBS"]
               for _, a in data.values())
    assert sidecar["coverage"][0]["scope"] == "units" and sidecar["coverage"][0]["units"] == sorted(teams)
    assert not {a["UNIT_MEASURE"] for _, a in data.values()} - {"NUMBER"}  # counts only: UNODC makes the rate
    assert any("Partial coverage" in p for p in sidecar["pending_confirmation"])
    assert any("provisional, incomplete year 2026" in n for n in sidecar["notes"])
    assert "CONF_STATUS" not in json.dumps(sidecar["code_lists"])


def _areas(config, year):
    with open(file_of(config, year), encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _registry_with_national_unit(tmp_path) -> Path:
    path = tmp_path / "teams.csv"
    rows = list(csv.DictReader(open(reference.PACKAGE_TEAMS, encoding="utf-8")))[:2]
    rows = [{**r, "scope": "", "datasets": "", "population": ""} for r in rows]
    # the public per-team SDG export (exports.sdg_16_2_2) needs a population for every reporting unit: the
    # Centre's is the country's (the census figure)
    rows.append({**rows[0], "municipality_code": "czztlj", "name_lat": "Centar za zaštitu žrtava trgovine ljudima",
                 "name_cyr": "Центар", "scope": "national", "datasets": "victims", "population": "6647003"})
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path


def test_national_unit_makes_the_country(tmp_path, reporting_db_url):
    from thb_reporting.core.config import PipelineConfig

    from fixtures import TEST_KEY

    config = PipelineConfig.local(tmp_path / "data", TEST_KEY, reporting_db_url=reporting_db_url,
                                  teams_registry=str(_registry_with_national_unit(tmp_path)))
    generator = SubmissionGenerator(Path(config.inbox.removeprefix("file://")), seed=11, teams=config.teams,
                                    shared_persons=2)  # the Centre and a team meet some people: counted once
    truth = Truth(generator.scenario(["subotica", "sombor", "czztlj"], ["2024Q3", "2024Q4"]))
    run_cycle(config)
    data, sidecar = read_back(config, "2024")
    check_counts_and_withheld(data, sidecar, truth, "2024", config.suppression_threshold)
    assert {a["REF_AREA"] for a in _areas(config, "2024")} == {"688"} and sidecar["coverage"][0]["scope"] == "nation"
    # the whole country, but two quarters of 2024: provisional, the quarters in the comment (a withheld cell: Q)
    assert {a["OBS_STATUS"] for v, a in data.values() if v is not None} == {"P"}
    partial = "provisional, incomplete year 2024: covers 2024Q3, 2024Q4; not every owed submission accepted for 2024Q1, 2024Q2"
    assert all(a["COMMENT_OBS"] == (partial if v is not None else f"{partial}; {sdg.WITHHELD_NOTE}") for v, a in data.values())


def _inputs(tmp_path, coverage_national: bool, units: tuple[str, ...], threshold: int = 4):
    import pandas as pd

    path = tmp_path / "teams.csv"
    row = next(csv.DictReader(open(reference.PACKAGE_TEAMS, encoding="utf-8")))
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(row))
        w.writeheader()
        w.writerow({**row, "municipality_code": "nova_opstina"})  # no population anywhere
    n = 40  # 40 adult women for sexual exploitation, 40 adult men for labour, 3 people alone in their cells
    victims = pd.DataFrame({
        "team_code": ["nova_opstina"] * (2 * n + 3), "quarter": ["2021Q1"] * (2 * n + 1) + ["2021Q2"] * 2,
        "source_row": list(range(1, 2 * n + 4)),
        "status": ["identified_victim"] * (2 * n + 1) + ["possible_victim", "identified_victim"],
        "sex": ["female"] * n + ["male"] * n + ["female", "male", "female"],
        "age_band": ["25_34"] * (2 * n) + ["14_17", "25_34", "unknown"],
        "exploitation": ["sexual"] * n + ["labour"] * n + ["sexual;labour", "organ_removal", None],
        "cptv_ref_token": [None] * (2 * n + 3),
        "referral_date": ["2021-01-05"] * (2 * n + 1) + ["2021-04-02", "2021-05-01"]})
    coverage = Coverage("victims", "2021", coverage_national, units, ("2021Q1", "2021Q2"), None, None)
    return TransmissionInputs({"victims": victims}, None, {("victims", "2021"): coverage}, reference.teams(path), threshold)


def test_counts_by_group_of_forms_and_the_withheld_cells(tmp_path):
    for national in (True, False):
        observations, notes, hidden = sdg.rows(_inputs(tmp_path, national, ("nova_opstina",)), "2021")
        cells = {(o["SERIES"], o["SEX"], o["AGE"]): o for o in observations}
        assert len(cells) == len(observations) == 5 * 4 * 4
        assert {o["REF_AREA"] for o in observations} == {"688"} and {o["UNIT_MEASURE"] for o in observations} == {"NUMBER"}
        # a person with forms in two groups counts in each; one with no form only in all victims
        assert cells[("VC_HTF_DETV", "M", "Y_GE18")]["OBS_VALUE"] == "41"
        for key in [("VC_HTF_DETVFL", "F", "Y0T17"), ("VC_HTF_DETVOG", "M", "Y_GE18"), ("VC_HTF_DETV", "F", "_U")]:
            assert key in hidden and cells[key]["OBS_VALUE"] == "" and cells[key]["OBS_STATUS"] == "Q"  # ones
        assert cells[("VC_HTF_DETVOP", "_T", "_T")]["OBS_VALUE"] == "0"  # a zero is sent
        assert all(o["OBS_STATUS"] == ("Q" if (o["SERIES"], o["SEX"], o["AGE"]) in hidden else "A" if national else "D")
                   for o in observations)
        assert bool(notes) is not national


def test_every_code_is_the_published_structures_and_the_schema_is_its():
    published = sdmx_receiver.pysdmx_schema()
    codes = sdmx_receiver.codes_of()
    ours = sdg.schema()
    assert [c.id for c in ours.components] == [c.id for c in published.components
                                               if c.id in {c.id for c in ours.components}]  # the structure's order
    for c in ours.components:
        theirs = published.components[c.id]
        assert c.role == theirs.role and (c.required == theirs.required or c.id == "OBS_VALUE"), c.id  # sdg.schema
        if c.local_codes is not None:
            assert (c.local_codes.id, c.local_codes.version) == (theirs.local_codes.id, theirs.local_codes.version), c.id
            assert {x.id for x in c.local_codes} <= codes[c.id], c.id
    for component, rows in reference.sdg_codes().items():
        assert {r.code for r in rows} <= codes[component], component
        published_names = {x.id: x.name for x in published.components[component].local_codes}
        assert all(published_names[r.code] == r.label_en for r in rows), component  # reference/sdg.csv read from it
    assert set(reference.sdg_series_of_exploitation()) == set(reference.codes("exploitation"))
    assert set(reference.sdg_series_of_exploitation().values()) <= codes["SERIES"]
    assert "922" not in {r.code for r in reference.sdg_codes()["REF_AREA"]}


def _built(tmp_path):
    inputs = _inputs(tmp_path, True, ("nova_opstina",))
    (f,) = sdg.build(inputs, "2021")
    return inputs, f


def test_the_structure_check_passes_the_file_under_both_schemas(tmp_path):
    inputs, f = _built(tmp_path)
    assert f.validation["passed"] and {c["check"] for c in f.validation["checks"]} == {
        "structure", "columns", "codes", "required", "values", "unique keys", "totals", "confidentiality"}
    hidden = {tuple(k.split(".")) for k in f.metadata["withheld"]["keys"]}
    # generic over a Schema: the same rules against the structure as published pass too
    again = structure_check.check(f.content, sdmx_receiver.pysdmx_schema(), sdg.rules(inputs.threshold, hidden))
    assert again["passed"], structure_check.failures(again)


@pytest.mark.parametrize("spoil, failing", [
    # a confidential cell back in the clear (the rule spoiled: nothing withheld)
    (lambda mp: mp.setattr(sdg, "withheld", lambda cells, threshold, hidden=frozenset(): set()), "confidentiality"),
    # the made-up area back
    (lambda mp: mp.setattr(sdg, "_code", (lambda code: lambda c, n: "922" if c == "REF_AREA" else code(c, n))(sdg._code)),
     "codes"),
])
def test_a_spoiled_file_fails_its_check_and_is_kept_back(tmp_path, monkeypatch, spoil, failing):
    inputs = _inputs(tmp_path, True, ("nova_opstina",))
    out = tmp_path / "out"
    out.mkdir()
    (out / "sdg_16_2_2_2021.csv").write_text("an earlier run's file")
    spoil(monkeypatch)
    monkeypatch.setattr(transmissions, "_builders", lambda: [sdg.build])
    with pytest.raises(transmissions.TransmissionsFailed, match=rf"sdg_16_2_2_2021.csv \(failed its structure check.*{failing}"):
        transmissions.write_year(str(tmp_path / "data"), "2021", inputs, folder=out)
    assert sorted(p.name for p in out.iterdir()) == ["sdg_16_2_2_2021.csv.validation.json"]  # the stale file gone too
    report = json.loads((out / "sdg_16_2_2_2021.csv.validation.json").read_text())
    assert not report["passed"] and [c["check"] for c in report["checks"] if not c["passed"]] == [failing]
    if failing == "confidentiality":  # the report names keys, never a value
        problems = next(c for c in report["checks"] if c["check"] == failing)["problems"]
        assert problems and all("in the clear" in p for p in problems)


def test_the_receivers_reading_finds_a_confidential_count_in_the_clear(tmp_path, monkeypatch):
    """The guard of the pipeline tests (as_received), shown to fail on a file that sends a count of 1 to the
    threshold with a value, as the file did when its flag was a column the structure does not have."""
    monkeypatch.setattr(sdg, "withheld", lambda cells, threshold, hidden=frozenset(): set())
    _, f = _built(tmp_path)
    path = tmp_path / "sdg.csv"
    path.write_bytes(f.content)
    with pytest.raises(AssertionError, match="a confidential count in the clear"):
        as_received(path, 4)


def test_the_structure_check_finds_a_repeated_key_and_a_total_that_is_not_its_parts(tmp_path):
    inputs, f = _built(tmp_path)
    hidden = {tuple(k.split(".")) for k in f.metadata["withheld"]["keys"]}
    rules = sdg.rules(inputs.threshold, hidden)
    lines = f.content.decode().splitlines()
    report = structure_check.check(("\n".join([*lines, lines[-1]]) + "\n").encode(), sdg.schema(), rules)
    assert [c["check"] for c in report["checks"] if not c["passed"]] == ["unique keys"]
    # a total one more than the sum of its parts, where all of them are sent
    header = lines[0].split(",")
    at = {c: header.index(c) for c in ("SERIES", "SEX", "AGE", "OBS_VALUE")}
    rows = [line.split(",") for line in lines]
    groups: dict[tuple, list] = {}
    for r in rows[1:]:
        groups.setdefault((r[at["SERIES"]], r[at["AGE"]]), []).append(r)
    parts = next(g for g in groups.values() if all(r[at["OBS_VALUE"]] for r in g)
                 and any(r[at["OBS_VALUE"]] != "0" for r in g))
    total = next(r for r in parts if r[at["SEX"]] == "_T")
    total[at["OBS_VALUE"]] = str(int(total[at["OBS_VALUE"]]) + 1)
    report = structure_check.check(("\n".join(",".join(r) for r in rows) + "\n").encode(), sdg.schema(), rules)
    assert [c["check"] for c in report["checks"] if not c["passed"]] == ["totals"]
    # a column the structure does not have (the flag the file used to carry): a receiver's tool drops it
    spoiled = [lines[0] + ",CONF_STATUS", *(line + ",F" for line in lines[1:])]
    report = structure_check.check(("\n".join(spoiled) + "\n").encode(), sdg.schema(), rules)
    assert [c["check"] for c in report["checks"] if not c["passed"]] == ["columns"]
    # a withheld value written as a marker instead of left empty (pysdmx's '#N/A' for a required component)
    marked = [line.replace(",,Q,", ",#N/A,Q,") for line in lines]
    assert marked != lines
    report = structure_check.check(("\n".join(marked) + "\n").encode(), sdg.schema(), rules)
    assert [c["check"] for c in report["checks"] if not c["passed"]] == ["required", "values"]  # a value under Q, not a number


def test_population_of_a_year_is_that_years_or_the_latest_before_it():
    # no longer a denominator of the SDG file (counts only); the coverage's population of a year may use it
    teams = reference.teams()
    assert teams.population_in("RS", 2024).value == 6_586_476
    carried = teams.population_in("RS", 2026)
    assert (carried.value, carried.year) == (6_586_476, 2024)
    assert teams.population_in("RS", 2023).year == 2022 and teams.population_in("RS", 2021) is None
    assert teams.population["RS"] == 6_647_003  # the census figure, for the callers of the census year


def test_primary_suppression_is_the_counts_from_one_to_the_threshold():
    assert disclosure.primary_cells([0, 1, 4, 5, 3, 12], 4) == [1, 2, 4]
    assert disclosure.primary_cells([2], 1) == []


def test_a_figure_for_two_withheld_cells_of_a_sum_withholds_a_third_when_needed():
    # F 2 (primary), M 9, _U 0, _T 11: F alone would follow from _T - M: the rule hides M too
    counts = {("VC_HTF_DETV", s, a): 0 for s in SEX.values() for a in AGE.values()}
    counts |= {("VC_HTF_DETV", "F", "_T"): 2, ("VC_HTF_DETV", "M", "_T"): 9, ("VC_HTF_DETV", "_T", "_T"): 11,
               ("VC_HTF_DETV", "F", "Y_GE18"): 2, ("VC_HTF_DETV", "M", "Y_GE18"): 9, ("VC_HTF_DETV", "_T", "Y_GE18"): 11}
    hidden = sdg.withheld(counts, 4)
    assert {("VC_HTF_DETV", "F", "_T"), ("VC_HTF_DETV", "F", "Y_GE18")} <= hidden
    assert {("VC_HTF_DETV", "M", "_T"), ("VC_HTF_DETV", "_T", "_T")} & hidden
    assert ("VC_HTF_DETV", "_U", "_T") not in hidden  # a zero is never hidden


def test_one_status_per_value_withheld_then_provisional_then_partial_coverage(tmp_path):
    """A sum of local teams (D) of a year not complete (P): P outranks D, a withheld cell stays Q, and the comment
    keeps every reason, the year's quarters first."""
    import dataclasses
    import io

    inputs = _inputs(tmp_path, False, ("nova_opstina",))
    (complete,) = sdg.build(inputs, "2021")
    cover = inputs.coverage[("victims", "2021")]
    inputs = dataclasses.replace(inputs, coverage={("victims", "2021"): dataclasses.replace(cover, incomplete=("2021Q3", "2021Q4"))})
    (partial,) = sdg.build(inputs, "2021")
    for f, status in ((complete, "D"), (partial, "P")):
        assert f.validation["passed"], structure_check.failures(f.validation)
        rows = list(csv.DictReader(io.StringIO(f.content.decode())))
        assert {r["OBS_STATUS"] for r in rows if r["OBS_VALUE"]} == {status}
        assert {r["OBS_STATUS"] for r in rows if not r["OBS_VALUE"]} == {"Q"}
        assert all("partial coverage" in r["COMMENT_OBS"] for r in rows)
        assert all(r["COMMENT_OBS"].startswith("provisional, incomplete year 2021: covers 2021Q1, 2021Q2; not every owed "
                                               "submission accepted for 2021Q3, 2021Q4") == (status == "P") for r in rows)
