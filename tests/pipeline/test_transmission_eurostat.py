"""The Eurostat crim_thb transmission, read back as a receiver would: each table's file through pysdmx and sdmx1
with its structure; no value of 1 to the threshold without CONF_STATUS C, one observation per key, every code in
its list and confirmed as Eurostat's (pending ones kept out and listed), GEO=RS with a flag and a comment for a
partial sum, a year not complete flagged provisional, and the structure check blocking a spoiled file."""
from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest

from thb_reporting.core import reference
from thb_reporting.figures import disclosure, indicators
from thb_reporting.figures.coverage import Coverage
from thb_reporting.publishing import transmissions
from thb_reporting.publishing.transmissions import eurostat, structure_check

YEAR = "2026"
ALL_QUARTERS = ("2026Q1", "2026Q2", "2026Q3", "2026Q4")
BASE = {"team_code": "subotica", "quarter": "2026Q3", "status": "identified_victim", "sex": "female", "age_band": "18_24",
        "exploitation": "sexual", "citizenship": "RS", "migration_status": "none", "services": None,
        "reintegration_programme": "no", "cptv_ref_token": None, "referral_date": "2026-07-01", "referral_source": "police"}
PEOPLE = ([{}] * 12 + [{"sex": "male", "exploitation": "labour", "citizenship": "AL"}] * 7
          + [{"sex": "male", "age_band": "14_17", "exploitation": "sexual;begging", "status": "possible_victim"}] * 2
          + [{"citizenship": "DE", "exploitation": None}] * 3)


def _victims():
    return pd.DataFrame([{**BASE, **p, "source_row": i + 2} for i, p in enumerate(PEOPLE)])


def _justice(female: int = 4, male: int = 5):
    rows = [{"team_code": "subotica", "quarter": "2026Q3", "article": "388", "stage": stage,
             "persons_female": f, "persons_male": m, "cases": 1, "source_row": 2}
            for stage, f, m in (("criminal_complaint", 6, 9), ("indictment", 5, 7), ("final_conviction", female, male))]
    return pd.DataFrame(rows)


def _inputs(*, national=True, incomplete=(), threshold=4, justice=None):
    teams = reference.teams()
    units = ("czztlj", "subotica") if national else ("subotica",)
    population = teams.population["RS"] if national else teams.population["subotica"]
    covered = ALL_QUARTERS[:4 - len(incomplete)] if incomplete else ALL_QUARTERS
    coverage = {(d, YEAR): Coverage(d, YEAR, national and d == "victims", units, covered, population,
                                    teams.population["RS"], tuple(incomplete)) for d in ("victims", "criminal_justice")}
    facts = {"victims": _victims(), "criminal_justice": _justice() if justice is None else justice}
    exact = indicators.national_indicators(facts, {c: t.district_code for c, t in teams.items()})
    return transmissions.TransmissionInputs(facts, exact, coverage, teams, threshold,
                                            dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc))


def _sdmx1_structure(schema):
    """The file's structure for sdmx1, component by component from the pysdmx Schema it was written with."""
    from sdmx.model import v30

    dsd = v30.DataStructureDefinition(id=schema.id)
    for c in schema.components:
        {"DIMENSION": dsd.dimensions, "MEASURE": dsd.measures, "ATTRIBUTE": dsd.attributes}[c.role.name].getdefault(c.id)
    return dsd


def _read_with_both(path, schema) -> list[dict]:
    """Every observation as pysdmx and as sdmx1 read it (each with the structure): they must agree."""
    import sdmx

    by_pysdmx = structure_check.read_back(path.read_bytes(), schema)
    message = sdmx.read_sdmx(path, structure=_sdmx1_structure(schema))
    by_sdmx1 = []
    for obs in message.data[0].obs:
        row = {k: str(v.value) for k, v in obs.dimension.values.items()}
        row |= {k: str(v.value) for k, v in obs.attached_attribute.items()}
        row["OBS_VALUE"] = str(obs.value) if obs.value not in (None, "") else ""
        by_sdmx1.append(row)
    pys = [{k: ("" if pd.isna(v) else str(v)) for k, v in r.items()} for r in by_pysdmx.to_dict("records")]
    key = [c.id for c in schema.components if c.role.name == "DIMENSION"]
    assert sorted(tuple(r[k] for k in key) for r in pys) == sorted(tuple(r[k] for k in key) for r in by_sdmx1)
    assert {tuple(r[k] for k in (*key, "CONF_STATUS", "OBS_VALUE")) for r in pys} == {
        tuple(r.get(k, "") for k in (*key, "CONF_STATUS", "OBS_VALUE")) for r in by_sdmx1}  # sdmx1 keeps the flag
    return pys


def _written(tmp_path, inputs):
    transmissions.write_year(str(tmp_path), YEAR, inputs, folder=tmp_path)
    return {p.name: p for p in tmp_path.iterdir()}


@pytest.mark.parametrize("national", [True, False], ids=["national", "partial_sum"])
def test_each_table_reads_back_with_its_structure_through_both_libraries(tmp_path, national):
    files = _written(tmp_path, _inputs(national=national, incomplete=("2026Q4",)))
    confirmed, threshold = eurostat.confirmed(), 4
    sent = [t for t in eurostat.TABLES if f"crim_thb_{t}_{YEAR}.csv" in files]
    assert sent == ["victims_citizenship", "victims_age"]  # the others use codes still pending
    for table in sent:
        path = files[f"crim_thb_{table}_{YEAR}.csv"]
        assert "ESTAT:" not in path.read_text() and "RS_PART" not in path.read_text()
        rows = _read_with_both(path, eurostat.schema(table))
        keys = [tuple(r[d] for d in eurostat.dimensions(table)) for r in rows]
        assert len(keys) == len(set(keys))
        for r in rows:
            assert all((d, r[d]) in confirmed for d in eurostat.dimensions(table) if d != "TIME_PERIOD")
            assert r["GEO"] == "RS"
            value = int(r["OBS_VALUE"]) if r["OBS_VALUE"] else None
            if value is not None and 0 < value <= threshold:
                assert r["CONF_STATUS"] == "C", r
            assert r["CONF_STATUS"] in (("C", "D", "F") if value is not None else ("",))
            # a year without 2026Q4 is provisional, and says which quarters it covers
            assert r["OBS_STATUS"] in ("P", "L") and "incomplete year 2026: covers 2026Q1, 2026Q2, 2026Q3" in r["COMMENT_OBS"]
            assert national or "not the whole country" in r["COMMENT_OBS"]
        report = json.loads(files[f"crim_thb_{table}_{YEAR}.csv.validation.json"].read_text())
        assert report["passed"] and all(c["passed"] for c in report["checks"]), structure_check.failures(report)
        meta = json.loads(files[f"crim_thb_{table}_{YEAR}.csv.metadata.json"].read_text())
        assert "PENDING" in meta["code_lists"]["STRUCTURE"]
    stateless = [r for r in _read_with_both(files[f"crim_thb_victims_citizenship_{YEAR}.csv"],
                                            eurostat.schema("victims_citizenship")) if r["CITIZEN"] == "STLS"]
    assert stateless and {(r["OBS_STATUS"], r["OBS_VALUE"]) for r in stateless} == {("L", "")}
    pending = json.loads(files[f"crim_thb_victims_exploitation_{YEAR}.csv.pending.json"].read_text())["pending"]
    assert set(pending["codes"]) == {"EXPL=SEX", "EXPL=LAB", "EXPL=OTH", "EXPL=UNK"}
    age = json.loads(files[f"crim_thb_victims_age_{YEAR}.csv.metadata.json"].read_text())["pending"]
    assert set(age["codes"]) == {"AGE=Y_LT18", "AGE=Y_GE18", "AGE=UNK"} and age["observations_withheld"] == 12


def test_a_complete_national_year_is_normal_and_a_partial_sum_differs(tmp_path):
    frames = eurostat.observations(_inputs(national=True), YEAR)
    assert set(frames["victims_citizenship"]["OBS_STATUS"]) == {"A", "L"}
    assert not frames["victims_citizenship"]["COMMENT_OBS"].str.contains("provisional").any()
    frames = eurostat.observations(_inputs(national=False), YEAR)
    assert set(frames["victims_citizenship"]["OBS_STATUS"]) == {"D", "L"}
    justice = frames["persons_legal_status"]
    assert set(justice[justice["LEG_STAT"] == "PER_CNV"]["OBS_STATUS"]) == {"D"}


def test_forms_count_once_per_group_without_a_total_that_their_sum_would_contradict():
    frame = eurostat.observations(_inputs(), YEAR)["victims_exploitation"]
    got = {(r.EXPL, r.SEX): r.OBS_VALUE for r in frame.itertuples()}
    assert "TOTAL" not in set(frame["EXPL"])
    assert got[("SEX", "T")] == 14 and got[("OTH", "T")] == 2 and got[("LAB", "T")] == 7 and got[("UNK", "T")] == 3
    assert sum(got[(e, "T")] for e in ("SEX", "LAB", "OTH", "UNK")) == len(PEOPLE) + 2  # two persons in two groups


def test_convicted_women_and_men_are_protected_by_the_attacker_model():
    """4 convicted women (primary) and 5 men: flagged C and D, and no confidential cell of the year's tables is
    pinned by an attacker who knows every free value and every sum (disclosure.recoverable, linear programming)."""
    cells = {**eurostat._victim_cells(_victims(), YEAR), **eurostat._justice_cells(_justice(), YEAR)}
    flags = eurostat.confidentiality(cells, 4)
    assert flags[("persons_legal_status", "PER_CNV", "F")] == "C"
    assert flags[("persons_legal_status", "PER_CNV", "M")] == "D"
    keys = [k for k, v in cells.items() if v is not None]
    values = [cells[k] for k in keys]
    hidden = {i for i, k in enumerate(keys) if flags[k] in ("C", "D")}
    assert not disclosure.recoverable(values, hidden, eurostat.relations(keys, values))
    # where the public tables hide the men's figure, the file hides it too
    public = {("persons_legal_status", "PER_CNV", "M")}
    assert eurostat.confidentiality(cells, 4, public)[("persons_legal_status", "PER_CNV", "M")] == "D"


def _spoil(content: bytes, old: str, new: str) -> bytes:
    text = content.decode()
    assert old in text
    return text.replace(old, new, 1).encode()


def _with_value(content: bytes, key: dict[str, str], value: str, **columns: str) -> bytes:
    """The file with the observation at `key` (CITIZEN, SEX) given `value` (and `columns`' values)."""
    lines = content.decode().splitlines()
    header = lines[0].split(",")
    out = [lines[0]]
    for line in lines[1:]:
        row = line.split(",")
        if all(row[header.index(d)] == code for d, code in key.items()):
            for column, text in {"OBS_VALUE": value, **columns}.items():
                row[header.index(column)] = text
        out.append(",".join(row))
    assert out != lines
    return ("\n".join(out) + "\n").encode()


def test_the_structure_check_fails_on_each_spoiled_rule():
    """structure_check with eurostat.rules: each spoiled rule fails its own check, and only it."""
    (f,) = [f for f in eurostat.build(_inputs(), YEAR) if f.name.startswith("crim_thb_victims_citizenship")]
    structure, rules = eurostat.schema("victims_citizenship"), eurostat.rules("victims_citizenship", 4)
    assert structure_check.check(f.content, structure, rules)["passed"]
    lines = f.content.decode().splitlines()
    small = next(line for line in lines if ",C," in line)
    free = next(line for line in lines if ",A,F," in line)  # OBS_STATUS A, CONF_STATUS F
    total = next(line for line in lines if ",TOTAL,T," in line)
    value = total.split(",")[9]
    spoiled = {
        "confidentiality": [_spoil(f.content, small, small.replace(",C,", ",F,")),  # a count of 1 to 4 in the clear
                            _spoil(f.content, small, small.replace(",C,", ",D,")),  # protected, but not flagged primary
                            _spoil(f.content, free, free.replace(",A,F,", ",A,C,"))],   # primary on a count over 4
        "codes": [_spoil(f.content, ",NAT,", ",NAT_X,")],
        "unique keys": [(f.content.decode() + lines[1] + "\n").encode()],
        "structure": [_spoil(f.content, "RS_THB:CRIM_THB_VICTIMS_CITIZENSHIP(0.1)", "ESTAT:CRIM_THB(1.0)")],
        "required": [_spoil(f.content, small, small.replace(",A,", ",,")),
                     _with_value(f.content, {"CITIZEN": "STLS", "SEX": "T"}, "0", CONF_STATUS="F")],  # a value where OBS_STATUS L
        "totals": [_spoil(f.content, total, total.replace(f",{value},", f",{int(value) + 1},")),
                   # NAT one more for women and in all: SEX still adds up, CITIZEN's TOTAL (STLS, L, counted
                   # elsewhere) does not
                   _with_value(_with_value(f.content, {"CITIZEN": "NAT", "SEX": "F"}, "13"), {"CITIZEN": "NAT", "SEX": "T"}, "15")],
    }
    for rule, contents in spoiled.items():
        for content in contents:
            report = structure_check.check(content, structure, rules)
            assert [c["check"] for c in report["checks"] if not c["passed"]] == [rule], (rule, structure_check.failures(report))


def test_a_file_that_fails_its_check_is_blocked_and_says_why(tmp_path, monkeypatch):
    """The disclosure rule spoiled (every cell free): the check finds small counts in the clear, the file is not
    written, its validation report is, and the run fails naming it."""
    monkeypatch.setattr(eurostat, "confidentiality", lambda cells, threshold, hidden=frozenset(): dict.fromkeys(cells, "F"))
    with pytest.raises(transmissions.TransmissionsFailed, match="crim_thb_victims_citizenship"):
        transmissions.write_year(str(tmp_path), YEAR, _inputs(), folder=tmp_path)
    assert not (tmp_path / f"crim_thb_victims_citizenship_{YEAR}.csv").exists()
    report = json.loads((tmp_path / f"crim_thb_victims_citizenship_{YEAR}.csv.validation.json").read_text())
    assert not report["passed"] and [c["check"] for c in report["checks"] if not c["passed"]] == ["confidentiality"]
    assert "in the clear" in next(c for c in report["checks"] if c["check"] == "confidentiality")["problems"][0]


def test_the_reference_data_has_no_made_up_area_and_no_estat_dataflow():
    rows = reference.eurostat_transmission()
    assert ("geo", "units") not in rows and rows[("structure", "dataflow")]["eurostat_code"] == ""
    assert {r["eurostat_code"] for (cl, _), r in rows.items() if cl == "obs_status"} == {"A", "D", "L", "P"}
    assert {r["eurostat_code"] for (cl, _), r in rows.items() if cl == "conf_status"} == {"C", "D", "F"}
