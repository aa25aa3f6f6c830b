"""The Eurostat crim_thb transmission: written by the pipeline's publish, read back with pysdmx, every cell
exact against the generator's truth, CONF_STATUS as the disclosure rule says (and an attacker with every
free value and every sum recovers no confidential one), 0 apart from unknown, and GEO=RS only where a
national unit covers the year."""
from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest

from oracle import Truth
from test_pipeline import run_cycle
from thb_reporting.figures import disclosure
from thb_reporting.core import reference
from thb_reporting.core.config import PipelineConfig
from thb_reporting.tools.generator import SubmissionGenerator
from thb_reporting.store.storage import storage_path
from thb_reporting.publishing.transmissions import eurostat

YEAR = "2026"
QUARTERS = ["2026Q2", "2026Q3"]
CENTRE = "czztlj"
CUBE = ("LEG_STAT", "SEX", "AGE", "CITIZEN", "EXPL")


def _registry(tmp_path) -> Path:
    """Three local teams and the Centre (national scope, victims only), as the registry may carry them."""
    path = tmp_path / "teams.csv"
    rows = list(csv.DictReader(open(reference.PACKAGE_TEAMS, encoding="utf-8")))[:3]
    rows = [{**r, "scope": "", "datasets": "", "population": ""} for r in rows]
    # the per-unit exports (SDG 16.2.2) need a population for every reporting unit: the Centre's is the nation's
    rows.append({**rows[0], "municipality_code": CENTRE, "name_lat": "CZŽTLJ", "name_cyr": "ЦЗЖТЉ", "district_code": "",
                 "scope": "national", "datasets": "victims", "population": str(reference.population()["RS"])})
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path


def _written(config, year: str = YEAR) -> tuple[dict[tuple, dict], dict]:
    """The file publish wrote, read back with pysdmx: cube key → its row; and its sidecar."""
    from pysdmx.io import get_datasets

    folder = storage_path(config.data_root) / "transmissions" / year
    path = Path(str(folder / f"crim_thb_{year}.csv").removeprefix("file://"))
    datasets = get_datasets(path)
    assert len(datasets) == 1 and datasets[0].short_urn == "Dataflow=ESTAT:CRIM_THB(1.0)"
    frame = datasets[0].data
    assert list(frame.columns) == list(eurostat.COLUMNS)
    cells = {}
    for row in frame.to_dict("records"):
        key = tuple(row[d] for d in CUBE)
        assert key not in cells, f"{key} twice"
        assert (row["FREQ"], row["UNIT"], row["TIME_PERIOD"]) == ("A", "NR", year)
        cells[key] = row
    return cells, json.loads(Path(str(path) + ".metadata.json").read_text(encoding="utf-8"))


def _sums(truth: dict[tuple, int | None]) -> list[tuple[list, tuple]]:
    """Every sum of the cube that holds in the truth: along each dimension, the cells that differ from a
    TOTAL cell only there add up to it (legal statuses of criminal justice are not parts of a total)."""
    sums = []
    for key, value in truth.items():
        if value is None:
            continue
        for d, code in enumerate(key):
            if code not in ("TOTAL", "T"):
                continue
            parts = [k for k in truth if truth[k] is not None and k[d] != code
                     and all(k[i] == key[i] for i in range(len(key)) if i != d)]
            if d == 0 and any(k[0].startswith("PER_") for k in parts):
                continue
            if parts and sum(truth[k] for k in parts) == value:
                sums.append((parts, key))
    return sums


def _hidden_in_public(config, year: str = YEAR) -> set[tuple]:
    """The cube cells of the nation's figures that national.public_indicators shows suppressed."""
    from sqlalchemy import select

    from thb_reporting.store.warehouse import reporting_engine, table

    codes = reference.eurostat_codes()
    age = {"child": "Y_LT18", "adult": "Y_GE18", "unknown": "UNK"}
    t = table("public_indicators")
    with reporting_engine(config.reporting_db_url).connect() as conn:
        rows = conn.execute(select(t.c.indicator, t.c.breakdown, t.c.category).where(
            t.c.suppressed, t.c.level == "nation", t.c.period == year)).all()
    out = set()
    for indicator, breakdown, category in rows:
        if indicator == "persons_by_status" and category in ("possible_victim", "identified_victim"):
            out.add((codes[("leg_stat", category)], "T", "TOTAL", "TOTAL", "TOTAL"))
        elif indicator == "victims" and breakdown == "total":
            out.add(("TOTAL", "T", "TOTAL", "TOTAL", "TOTAL"))
        elif indicator == "victims" and breakdown == "sex":
            out.add(("TOTAL", codes[("sex", category)], "TOTAL", "TOTAL", "TOTAL"))
        elif indicator == "victims" and breakdown == "age_group":
            out.add(("TOTAL", "T", age[category], "TOTAL", "TOTAL"))
        elif indicator == "victims" and (breakdown, category) == ("citizenship", "serbian"):
            out.add(("TOTAL", "T", "TOTAL", "NAT", "TOTAL"))
    return out


def _pinned(cells: dict[tuple, dict], sums) -> set:
    """The confidential cells an attacker pins to one value, knowing every free value, that every count is
    at least 1 where it is hidden (zeros are free) and every sum: linear-programming bounds."""
    import numpy as np
    from scipy.optimize import linprog

    hidden = sorted(k for k, r in cells.items() if r["CONF_STATUS"] == "C")
    column = {k: i for i, k in enumerate(hidden)}
    rows, rhs = [], []
    for parts, total in sums:
        coefficients, constant = np.zeros(len(hidden)), 0.0
        for sign, keys in ((1, parts), (-1, [total])):
            for k in keys:
                if k in column:
                    coefficients[column[k]] += sign
                else:
                    constant += sign * int(cells[k]["OBS_VALUE"])
        if coefficients.any():
            rows.append(coefficients)
            rhs.append(-constant)
    pinned = set()
    for k, j in column.items():
        bounds = []
        for sense in (-1, 1):
            objective = np.zeros(len(hidden))
            objective[j] = sense
            result = linprog(objective, A_eq=np.array(rows) if rows else None, b_eq=np.array(rhs) if rows else None,
                             bounds=(1, None), method="highs")
            assert result.status in (0, 3), result.message
            if result.status == 3:
                break
            bounds.append(sense * result.fun)
        if len(bounds) == 2 and math.floor(bounds[0] + 1e-6) == math.ceil(bounds[1] - 1e-6):
            pinned.add(k)
    return pinned


@pytest.fixture
def national_config(tmp_path, reporting_db_url):
    from fixtures import TEST_KEY

    return PipelineConfig.local(tmp_path / "data", TEST_KEY, reporting_db_url=reporting_db_url,
                                teams_registry=str(_registry(tmp_path)))


@pytest.mark.parametrize("centre_quarters", [QUARTERS, QUARTERS[:1]], ids=["centre_every_quarter", "centre_missing_one"])
def test_every_cell_exact_flagged_by_the_rule_and_labelled_by_its_coverage(national_config, centre_quarters):
    config = national_config
    teams = config.teams
    local = [t for t in teams if t != CENTRE]
    generator = SubmissionGenerator(Path(config.inbox.removeprefix("file://")), seed=11, shared_persons=3, teams=teams)
    generator.scenario(local, QUARTERS, datasets=("victims", "criminal_justice"))
    generator.scenario([CENTRE], centre_quarters)
    truth = Truth(generator.files).eurostat_transmission(YEAR)
    run_cycle(config)

    cells, sidecar = _written(config)
    # every cell, exact; 0 an observed zero; only what cannot be known is empty, and flagged m
    assert set(cells) == set(truth)
    for key, expected in truth.items():
        row = cells[key]
        if expected is None:
            assert (row["OBS_VALUE"], row["OBS_STATUS"], row["CONF_STATUS"]) == ("", "m", ""), key
        else:
            assert row["OBS_VALUE"] == str(expected), (key, row["OBS_VALUE"], expected)
            assert row["OBS_STATUS"] == ("d" if key[0] == "PER_CNV" else ""), key
    assert any(v == 0 for v in truth.values()) and any(v for v in truth.values())
    assert any(k[3] == "UNK" and v == 0 for k, v in truth.items())  # unknown citizenship: none, and said so
    # several forms: a person counts under each group, once in the total
    assert any(sum(truth[(leg, s, "TOTAL", "TOTAL", e)] for e in ("SEX", "LAB", "OTH", "UNK"))
               > truth[(leg, s, "TOTAL", "TOTAL", "TOTAL")] for leg in ("IDENT", "PRESUM") for s in ("F", "M"))

    # CONF_STATUS: C on every count of 1 to the threshold, never on a zero or an unknown, free otherwise;
    # what is free gives away no confidential count through any sum of the file
    threshold = config.suppression_threshold
    for key, row in cells.items():
        value = truth[key]
        assert row["CONF_STATUS"] in ("C", ""), key
        if value is not None and 0 < value <= threshold:
            assert row["CONF_STATUS"] == "C", key
        if not value:
            assert row["CONF_STATUS"] == "", key
    sums = _sums(truth)
    assert sums
    for parts, total in sums:
        assert sum(cells[k]["CONF_STATUS"] == "C" for k in [*parts, total]) != 1, (parts, total)
    assert _pinned(cells, sums) == set()
    # what the public tables suppress of the nation's year is confidential here too
    hidden_in_public = _hidden_in_public(config)
    assert hidden_in_public <= {k for k, r in cells.items() if r["CONF_STATUS"] == "C"}
    # and it is the disclosure rule's choice, on the truth's own figures
    for block in (lambda k: not k[0].startswith("PER_"), lambda k: k[0].startswith("PER_")):
        keys = [k for k, v in truth.items() if v is not None and block(k)]
        values = [truth[k] for k in keys]
        totals = ((None if keys[0][0].startswith("PER_") else "TOTAL"), "T", "TOTAL", "TOTAL", "TOTAL")
        chosen = disclosure.confidential(values, disclosure.margin_relations(keys, values, totals), threshold,
                                         [i for i, k in enumerate(keys) if k in hidden_in_public])
        assert {keys[i] for i in chosen} == {k for k in keys if cells[k]["CONF_STATUS"] == "C"}

    # GEO: the country only where a national unit reported every quarter of the year
    national_victims = centre_quarters == QUARTERS
    for key, row in cells.items():
        is_victims = not key[0].startswith("PER_")
        national = national_victims and is_victims  # the Centre does not report criminal justice
        assert row["GEO"] == ("RS" if national else "RS_PART"), key
        assert (row["COMMENT_OBS"] == "") == national
        if not national:
            assert "not the whole country" in row["COMMENT_OBS"]
    scopes = {c["dataset"]: c["scope"] for c in sidecar["coverage"]}
    assert scopes == {"victims": "nation" if national_victims else "units", "criminal_justice": "units"}
    assert sidecar["receiver"] == "Eurostat" and sidecar["format"] == "SDMX-CSV 2.0"
    assert {"LEG_STAT", "SEX", "AGE", "CITIZEN", "EXPL", "GEO", "OBS_STATUS", "CONF_STATUS"} <= set(sidecar["code_lists"])
    assert "NOT CONFIRMED" in sidecar["code_lists"]["LEG_STAT"]


def test_no_partial_sum_is_labelled_the_country(config, generator):
    """The package's registry has no national unit: nothing in the file is labelled RS."""
    generator.scenario(["subotica", "nis", "vranje"], QUARTERS, datasets=("victims", "criminal_justice"))
    run_cycle(config)
    cells, sidecar = _written(config)
    assert cells and {r["GEO"] for r in cells.values()} == {"RS_PART"}
    assert all("sum of 3 reporting units" in r["COMMENT_OBS"] for r in cells.values())
    assert {c["scope"] for c in sidecar["coverage"]} == {"units"}


def test_margin_relations_keep_only_the_sums_that_hold():
    keys = [("A", "x"), ("B", "x"), ("T", "x"), ("A", "T"), ("B", "T"), ("T", "T")]
    values = [1, 2, 3, 1, 2, 3]
    # along the first dimension every row adds up; along the second, x is the only part of T
    groups = disclosure.margin_relations(keys, values, ("T", "T"))
    assert sorted((sorted(p), t) for p, t in groups) == [([0], [3]), ([0, 1], [2]), ([1], [4]), ([2], [5]), ([3, 4], [5])]
    # a person under two forms: the parts add up to more than the total, no sum
    assert disclosure.margin_relations([("a",), ("b",), ("T",)], [2, 2, 3], ("T",)) == []
    assert disclosure.confidential([5, 1, 6], disclosure.margin_relations([("a",), ("b",), ("T",)], [5, 1, 6], ("T",)), 4) == {0, 1}
    assert disclosure.confidential([0, 6, 6], [([0, 1], [2])], 4) == set()


def test_a_code_outside_its_list_is_refused():
    frame, _ = eurostat.observations(_Inputs(), YEAR)
    assert frame.empty
    import pandas as pd

    row = {c: "" for c in eurostat.COLUMNS} | {"FREQ": "A", "UNIT": "NR", "LEG_STAT": "IDENT", "SEX": "X", "AGE": "TOTAL",
                                                "CITIZEN": "TOTAL", "EXPL": "TOTAL", "GEO": "RS", "TIME_PERIOD": YEAR}
    with pytest.raises(ValueError, match="SEX"):
        eurostat.to_sdmx_csv(pd.DataFrame([row]), eurostat.schema())


class _Inputs:
    facts = {"victims": None, "criminal_justice": None}
    coverage = {}
    threshold = 4
    release = None  # the working figures, not a release


@pytest.mark.airflow
def test_the_demo_writes_the_transmission(airflow_db, tmp_path, monkeypatch):
    """`thb demo` (both DAGs under dag.test()) writes each year's file and sidecar; pysdmx reads it back and
    every row's GEO agrees with the sidecar's coverage."""
    from pysdmx.io import get_datasets

    from thb_reporting.tools import cli

    monkeypatch.setenv("AIRFLOW_VAR_THB_DATA_ROOT", "")  # set here so that what the demo sets is undone after the test
    monkeypatch.setenv("AIRFLOW_VAR_THB_PSEUDONYMISATION_KEY", "")  # recorded, so that the key the demo makes is undone
    monkeypatch.delenv("AIRFLOW_VAR_THB_PSEUDONYMISATION_KEY")  # the demo makes its own
    data = tmp_path / "demo"
    assert cli.main(["demo", "--data", str(data), "--airflow-home", str(airflow_db)]) == 0
    for year in sorted({q[:4] for q in cli.DEMO_QUARTERS}):
        path = data / "transmissions" / year / f"crim_thb_{year}.csv"
        frame = get_datasets(path)[0].data
        sidecar = json.loads(Path(f"{path}.metadata.json").read_text(encoding="utf-8"))
        scope = {c["dataset"]: c["scope"] for c in sidecar["coverage"]}
        assert set(scope) == {"victims", "criminal_justice"} and len(frame) > 100
        for legal_status, geo in zip(frame["LEG_STAT"], frame["GEO"]):
            dataset = "criminal_justice" if legal_status.startswith("PER_") else "victims"
            assert geo == ("RS" if scope[dataset] == "nation" else "RS_PART")


def test_the_geo_codes_are_coverage_s():
    """GEO of a transmission row comes from coverage.nation_area; the code list the schema validates it
    against must hold exactly those two codes."""
    from thb_reporting.figures import coverage

    geo = {r["code"]: r["eurostat_code"] for r in reference.csv_rows("eurostat_transmission.csv") if r["code_list"] == "geo"}
    assert geo == {"nation": "RS", "units": coverage.PARTIAL_AREA}
