"""The GRETA transmission (transmissions/greta.py) and the indicators behind it: victims by form with
"multiple forms" as its own category, referral outcome by referral source, access to justice. The
workbook is read back with openpyxl and every cell compared with the generator's truth (tests/support/oracle.py);
the confidentiality flags with the published (suppressed) tables; the coverage with the registry."""
from __future__ import annotations

import datetime as dt
import json
from itertools import product

import pytest
from sqlalchemy import select

from oracle import Truth
from test_pipeline import run_cycle
from thb_reporting.figures import indicators
from thb_reporting.core import reference
from thb_reporting.figures.coverage import Coverage
from thb_reporting.store.storage import storage_path
from thb_reporting.store.warehouse import reader_engine, table

TEAMS = ["subotica", "sombor", "novi_sad", "nis", "leskovac"]
QUARTERS = ["2026Q2", "2026Q3"]


def _sheets(path) -> dict[str, list[dict]]:
    import io

    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(path.read_bytes()), read_only=True)
    out = {}
    for sheet in book.worksheets:
        rows = list(sheet.iter_rows(values_only=True))
        out[sheet.title] = [dict(zip(rows[0], r)) for r in rows[1:]]
    return out


def _public(db_url: str, year: str) -> dict[tuple, bool]:
    """(indicator, breakdown, category) → suppressed, of the nation's cells of the year as published."""
    t = table("public_indicators")
    with reader_engine(db_url).connect() as conn:
        rows = conn.execute(select(t.c.indicator, t.c.breakdown, t.c.category, t.c.suppressed).where(
            t.c.level == "nation", t.c.period == year)).all()
    return {(r.indicator, r.breakdown, r.category): bool(r.suppressed) for r in rows}


@pytest.mark.parametrize("reporting_db_url", ["sqlite"], indirect=True)
def test_the_greta_workbook_holds_the_truth_exactly_and_flags_what_disclosure_hides(config, generator):
    truth = Truth(generator.scenario(TEAMS, QUARTERS))
    run_cycle(config)
    folder = storage_path(config.data_root) / "transmissions" / "2026"
    workbook = folder / "greta_2026.xlsx"
    sheets = _sheets(workbook)
    assert list(sheets) == ["metadata", "victims_by_form", "referral_outcome", "access_to_justice"]
    public = _public(config.reporting_db_url, "2026")
    district_of = {code: t.district_code for code, t in reference.teams().items()}
    want = {(k[0], *k[4:]): v for k, v in truth.indicators(district_of).items() if k[1:4] == ("nation", "RS", "2026")}

    # victims by form × sex × age group: each person once, and every margin
    counts = truth.victims_by_form_sex_age("2026")
    forms = [*reference.codes("exploitation"), "multiple_forms", "not_stated"]
    sexes, ages = reference.codes("sex"), reference.codes("age_group")
    table_rows = {(r["category"], r["sex"], r["age_group"]): r for r in sheets["victims_by_form"]}
    # form × sex and form × age group (with their margins), not the three crossed
    assert set(table_rows) == {k for k in product([*forms, "total"], [*sexes, "total"], [*ages, "total"]) if "total" in k[1:]}
    for (form, sex, age), r in table_rows.items():
        expected = sum(n for (f, s, a), n in counts.items()
                       if form in (f, "total") and sex in (s, "total") and age in (a, "total"))
        assert r["value"] == expected, (form, sex, age)
    multiple = sum(n for (f, _, _), n in counts.items() if f == "multiple_forms")
    assert multiple > 0  # the scenario has persons with several forms: they are counted once, here
    assert table_rows[("multiple_forms", "total", "total")]["value"] == multiple
    assert sum(table_rows[(f, "total", "total")]["value"] for f in forms) == table_rows[("total", "total", "total")]["value"]
    assert table_rows[("total", "total", "total")]["value"] == want[("victims", "total", "total")]
    # the flags: the published margins as the public tables hide them, every small crossing, and no crossing
    # whose value the table's sums give away
    margins = {(f, "total", "total"): ("victims", "exploitation_once", f) for f in forms}
    margins |= {("total", s, "total"): ("victims", "sex", s) for s in sexes}
    margins |= {("total", "total", a): ("victims", "age_group", a) for a in ages}
    for key, cell in margins.items():
        if cell in public:
            assert (table_rows[key]["confidential"] in ("C", "D")) == public[cell], (key, cell)
        else:
            assert table_rows[key]["value"] == 0
    for key, r in table_rows.items():
        if 0 < r["value"] <= config.suppression_threshold:
            assert r["confidential"] in ("C", "D"), key
        if r["value"] == 0:
            assert r["confidential"] is None, key
    _assert_no_flagged_cell_is_given_away(table_rows, forms, sexes, ages)

    # referral outcome by referral source, and access to justice: the catalogue's cells, flags as published
    for sheet, indicator in (("referral_outcome", "persons_referred"), ("access_to_justice", "victims")):
        assert sheets[sheet]
        for r in sheets[sheet]:
            cell = (indicator, r["breakdown"], r["category"])
            assert r["value"] == want.get(cell, 0), cell
            assert (r["confidential"] in ("C", "D")) == public.get(cell, False), cell
    outcomes = {(r["category"]): r["value"] for r in sheets["referral_outcome"] if r["breakdown"] == "referral_source_status"}
    sources = {r["category"]: r["value"] for r in sheets["referral_outcome"] if r["breakdown"] == "referral_source"}
    assert set(outcomes) == {f"{s}/{o}" for s in reference.codes("referral_source") for o in reference.codes("victim_status")}
    for source, persons in sources.items():  # each source's outcomes add up to its persons
        assert sum(v for k, v in outcomes.items() if k.startswith(source + "/")) == persons
    # this branch's victims contract has no access-to-justice columns: every victim is not stated
    for breakdown in ("compensation", "free_legal_aid", "residence_permit"):
        rows = [r for r in sheets["access_to_justice"] if r["breakdown"] == breakdown]
        assert {r["category"] for r in rows} >= set(reference.codes({"compensation": "compensation_status",
                                                                      "free_legal_aid": "yes_no"}.get(breakdown, breakdown)))
        assert sum(r["value"] for r in rows) == want[("victims", "total", "total")]

    # labels from the catalogue, Serbian and English
    row = table_rows[("multiple_forms", "total", "total")]
    assert (row["label_sr"], row["label_en"]) == ("Više oblika eksploatacije", "Multiple forms of exploitation")

    # coverage: the package's registry has no national unit: RS with the coverage saying it is a partial sum
    every_row = [r for name, rows in sheets.items() if name != "metadata" for r in rows]
    assert {r["area"] for r in every_row} == {"RS"}
    assert all("not the whole country" in r["coverage"] and "subotica" in r["coverage"] for r in every_row)
    sidecar = json.loads((folder / "greta_2026.xlsx.metadata.json").read_text(encoding="utf-8"))
    assert [c["scope"] for c in sidecar["coverage"]] == ["units"] and "Serbia" not in sidecar["title"]
    assert sorted(sidecar["coverage"][0]["units"]) == sorted(TEAMS)
    assert sidecar["contact"]["email"] and sidecar["produced_at"] and "coe.int" in sidecar["code_lists"]["tables"]
    info = {r["field"]: r["value"] for r in sheets["metadata"]}
    assert info["title"] == sidecar["title"] and info["contact.email"] == sidecar["contact"]["email"]
    assert json.loads(info["coverage.0"])["units"] == sidecar["coverage"][0]["units"]


def _assert_no_flagged_cell_is_given_away(rows: dict, forms, sexes, ages) -> None:
    """The attacker's linear-programming bounds over the table's sums (each line adds up to its total),
    flagged cells unknown and at least 1: no flagged cell has one possible value."""
    from scipy.optimize import linprog

    keys = list(rows)
    hidden = [k for k in keys if rows[k]["confidential"] in ("C", "D")]
    if not hidden:
        return
    col = {k: i for i, k in enumerate(hidden)}
    a_eq, b_eq = [], []
    for dimension, codes in enumerate((forms, sexes, ages)):
        for k in keys:
            if k[dimension] != "total":
                continue
            line = [k[:dimension] + (c,) + k[dimension + 1:] for c in codes]
            if not all(cell in rows for cell in line):
                continue
            coefficients, constant = [0.0] * len(hidden), 0.0
            for cell, sign in [(c, 1) for c in line] + [(k, -1)]:
                if cell in col:
                    coefficients[col[cell]] += sign
                else:
                    constant -= sign * rows[cell]["value"]
            if any(coefficients):
                a_eq.append(coefficients)
                b_eq.append(constant)
    for k in hidden:
        c = [0.0] * len(hidden)
        c[col[k]] = 1
        low = linprog(c, A_eq=a_eq, b_eq=b_eq, bounds=[(1, None)] * len(hidden)).fun
        c[col[k]] = -1
        result = linprog(c, A_eq=a_eq, b_eq=b_eq, bounds=[(1, None)] * len(hidden))
        high = -result.fun if result.status == 0 else float("inf")
        assert high - low > 0.5, (k, low, high)


def _victims_frame(rows: list[dict], with_access_to_justice: bool):
    import pandas as pd

    base = {"team_code": "subotica", "quarter": "2026Q3", "status": "identified_victim", "sex": "female",
            "age_band": "18_24", "exploitation": "sexual", "citizenship": "RS", "migration_status": "none",
            "services": None, "reintegration_programme": "no", "cptv_ref_token": None, "referral_date": "2026-07-01",
            "referral_source": "police"}
    access = {"compensation": None, "free_legal_aid": None, "residence_permit": None} if with_access_to_justice else {}
    frame = pd.DataFrame([{**base, **access, **r, "source_row": i + 2} for i, r in enumerate(rows)])
    return frame


PEOPLE = [
    {"exploitation": "sexual;labour", "compensation": "awarded", "free_legal_aid": "yes", "residence_permit": "not_applicable"},
    {"exploitation": "labour", "compensation": "claimed_pending", "free_legal_aid": "no", "referral_source": "ngo_or_io"},
    {"exploitation": "begging;labour;sexual", "residence_permit": "granted", "citizenship": "AL"},
    {"exploitation": None, "status": "not_a_victim", "referral_source": "ngo_or_io"},
    {"exploitation": "labour", "status": "possible_victim", "referral_source": "ngo_or_io", "compensation": "rejected"},
]


def _nation(frame) -> dict[tuple, float]:
    result = indicators.national_indicators({"victims": frame}, {"subotica": "RS-01"})
    result = result[(result["level"] == "nation") & (result["period"] == "2026Q3")]
    return {(r.indicator, r.breakdown, r.category): r.value for r in result.itertuples()}


def test_forms_counted_once_referral_outcomes_and_access_to_justice():
    got = _nation(_victims_frame(PEOPLE, with_access_to_justice=True))
    victims = [p for p in PEOPLE if p.get("status", "identified_victim") != "not_a_victim"]
    assert got[("victims", "total", "total")] == len(victims)
    once = {k[2]: v for k, v in got.items() if k[:2] == ("victims", "exploitation_once")}
    assert once == {"multiple_forms": 2, "labour": 2}  # two persons with several forms, each once
    assert sum(once.values()) == len(victims)
    # the multi-code breakdown still counts a person under each form (it does not add up)
    assert got[("victims", "exploitation", "labour")] == 4
    assert {k[2]: v for k, v in got.items() if k[:2] == ("victims", "compensation")} == {
        "awarded": 1, "claimed_pending": 1, "rejected": 1, "not_stated": 1}
    assert {k[2]: v for k, v in got.items() if k[:2] == ("victims", "free_legal_aid")} == {"yes": 1, "no": 1, "not_stated": 2}
    assert {k[2]: v for k, v in got.items() if k[:2] == ("victims", "residence_permit")} == {
        "not_applicable": 1, "granted": 1, "not_stated": 2}
    # referral outcome: every person, by source and status; each source's outcomes add up to its persons
    assert got[("persons_referred", "total", "total")] == len(PEOPLE)
    assert {k[2]: v for k, v in got.items() if k[:2] == ("persons_referred", "referral_source")} == {"police": 2, "ngo_or_io": 3}
    assert {k[2]: v for k, v in got.items() if k[:2] == ("persons_referred", "referral_source_status")} == {
        "police/identified_victim": 2, "ngo_or_io/identified_victim": 1, "ngo_or_io/not_a_victim": 1,
        "ngo_or_io/possible_victim": 1}


def test_a_quarter_without_the_access_to_justice_columns_is_not_stated():
    """Quarters validated under the victims contract's version 1 have no such columns."""
    got = _nation(_victims_frame([{k: v for k, v in p.items() if k in ("exploitation", "status")} for p in PEOPLE],
                                 with_access_to_justice=False))
    victims = got[("victims", "total", "total")]
    for breakdown in ("compensation", "free_legal_aid", "residence_permit"):
        assert {k[2]: v for k, v in got.items() if k[:2] == ("victims", breakdown)} == {"not_stated": victims}


def _inputs(frame, national: bool, threshold: int = 4):
    from thb_reporting.publishing.transmissions import TransmissionInputs

    teams = reference.teams()
    units = ("czztlj", "subotica") if national else ("subotica",)
    cover = Coverage("victims", "2026", national, units, ("2026Q3",),
                     teams.population["RS"] if national else teams.population["subotica"], teams.population["RS"],
                     ("2026Q1", "2026Q2", "2026Q4"))
    exact = indicators.national_indicators({"victims": frame}, {c: t.district_code for c, t in teams.items()})
    return TransmissionInputs({"victims": frame}, exact, {("victims", "2026"): cover}, teams, threshold,
                              dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc))


@pytest.mark.parametrize("national", [True, False])
def test_rs_only_where_the_national_unit_reported(national, tmp_path):
    from thb_reporting.publishing.transmissions import greta

    frame = _victims_frame(PEOPLE * 3, with_access_to_justice=True)
    (f,) = greta.build(_inputs(frame, national), "2026")
    path = tmp_path / f.name
    path.write_bytes(f.content)
    sheets = _sheets(path)
    areas = {r["area"] for name, rows in sheets.items() if name != "metadata" for r in rows}
    assert areas == {"RS"}  # the country's code on every row; the coverage column says what it sums
    assert {r["status"] for name, rows in sheets.items() if name != "metadata" for r in rows} == {"provisional"}
    assert {r["comment"] for name, rows in sheets.items() if name != "metadata" for r in rows} == {
        "provisional, incomplete year 2026: covers 2026Q3; not every owed submission accepted for 2026Q1, 2026Q2, 2026Q4"}
    values = [r for name, rows in sheets.items() if name != "metadata" for r in rows if r["confidential"]]
    assert all((r["confidential"] == "C") == (0 < r["value"] <= 4) for r in values)  # primary C, secondary D
    assert f.metadata["coverage"][0]["scope"] == ("nation" if national else "units")
    assert ("Serbia" in f.metadata["title"]) == national  # a partial sum is not named as the country
    access = {(r["breakdown"], r["category"]): r for r in sheets["access_to_justice"]}
    assert access[("compensation", "awarded")]["value"] == 3 and access[("compensation", "awarded")]["confidential"] == "C"
    assert access[("compensation", "not_claimed")]["value"] == 0 and access[("compensation", "not_claimed")]["confidential"] is None
    # exact with threshold 0: nothing is confidential
    (open_file,) = greta.build(_inputs(frame, national, threshold=0), "2026")
    path.write_bytes(open_file.content)
    assert {r["confidential"] for name, rows in _sheets(path).items() if name != "metadata" for r in rows} == {None}


def test_no_file_without_victims_of_the_year():
    from thb_reporting.publishing.transmissions import greta

    frame = _victims_frame(PEOPLE, with_access_to_justice=False)
    assert greta.build(_inputs(frame, False), "2025") == []
