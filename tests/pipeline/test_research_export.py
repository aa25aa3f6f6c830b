"""The research export: pseudonymised victims rows in CTDC's Global Dataset layout, one per person
nationally, k-anonymised over every column released. The files publish writes are read back as a receiver
would (csv, then grouped by every column but the row id); the rows are compared with the generator's truth
(tests/support/oracle.py) where nothing needed suppressing (k = 1); and each suppressed cell is checked
against the rest of its row for a value another column would give away."""
from __future__ import annotations

import csv
import io
import json
from collections import Counter

import pandas as pd
import pytest
from sqlalchemy import select

from oracle import RESEARCH_FIELDS, RESEARCH_FLAGS, RESEARCH_MISSING as MISSING, Truth
from thb_reporting.intake import ingest
from thb_reporting.publishing import publish, research_export
from thb_reporting.core import reference
from thb_reporting.store.storage import storage_path
from thb_reporting.store.warehouse import reader_engine, table

YEAR = "2026"
QUARTERS = ["2026Q2", "2026Q3"]  # under victims v1 and v2
FORMS, LABOUR = RESEARCH_FLAGS["exploitation"], RESEARCH_FLAGS["forced_labour_industry"]
MINOR_BANDS = ("0--8", "9--17")


def _published(config) -> pd.DataFrame:
    with reader_engine(config.reporting_db_url).connect() as conn:
        return pd.DataFrame(conn.execute(select(table("victims"))).mappings().all())


def _read(path) -> tuple[list[str], list[dict]]:
    reader = csv.DictReader(io.StringIO(path.read_text(encoding="utf-8")))
    return list(reader.fieldnames), list(reader)


def _smallest_class(fields: list[str], rows: list[dict]) -> int:
    """The smallest equivalence class over every column of the file but the row id, counted here."""
    columns = [f for f in fields if f != research_export.ROW_ID]
    return min(Counter(tuple(r[c] for c in columns) for r in rows).values())


def _given_away(row: dict, column: str) -> str | None:
    """Why the value of `column` (missing in `row`) can be read from the row's other columns, or None."""
    def known(c):
        return c in row and row[c] != MISSING
    for flags in RESEARCH_FLAGS.values():
        if column in flags and any(known(c) for c in flags if c != column):
            return "another 0/1 column of the same field is known"
    if column in FORMS and any(known(c) for c in LABOUR):
        return "a type of labour is known, which only stands beside forced labour"
    if column == "majorityStatus" and (known("ageBroad") or row.get("majorityStatusAtExploit") == "Adult"):
        return "ageBroad, or Adult when exploited, gives it"
    if column == "majorityStatusAtExploit" and (row.get("majorityStatus") == "Minor" or row.get("ageBroad") in MINOR_BANDS):
        return "a minor at registration was a minor when exploited"
    return None


def _file_gives_nothing_away(fields: list[str], rows: list[dict]) -> None:
    """What holds for every row of a released file, whatever was suppressed: a field's 0/1 columns are all
    known or all missing; no person has no form at all; a type of labour only beside forced labour; an age
    band only beside its majority status."""
    for flags in RESEARCH_FLAGS.values():
        present = [c for c in flags if c in fields]
        assert all(len({r[c] == MISSING for c in present}) <= 1 for r in rows), present
    assert not [r for r in rows if all(r[c] == "0" for c in FORMS)], "a row with no form of exploitation"
    labour = [c for c in LABOUR if c in fields]
    assert all(r["isForcedLabour"] == "1" for r in rows if any(r[c] != MISSING for c in labour))
    assert all(r["majorityStatus"] == ("Minor" if r["ageBroad"] in MINOR_BANDS else "Adult")
               for r in rows if r["ageBroad"] != MISSING)


@pytest.fixture
def published(config, generator):
    truth = Truth(generator.scenario(list(reference.teams()), QUARTERS))
    ingest.process_submissions(config, ingest.collect_new_submissions(config))
    publish.publish(config)
    return truth


@pytest.mark.parametrize("reporting_db_url", ["sqlite"], indirect=True)
def test_publish_writes_an_export_k_anonymous_over_every_column_in_ctdc_layout(config, published, tmp_path):
    folder = storage_path(config.data_root) / "research" / YEAR
    fields, rows = _read(folder / f"victims_ctdc_{YEAR}.csv")
    sidecar = json.loads((folder / f"victims_ctdc_{YEAR}.csv.metadata.json").read_text(encoding="utf-8"))
    k = sidecar["k"]
    assert k == config.research_k == 11
    # k over every column released, counted from the file; the sidecar states the same figure
    assert sidecar["quasi_identifiers"] == fields[1:]
    assert rows and _smallest_class(fields, rows) == sidecar["smallest_class"] >= k
    truth_rows = sum(published.research_persons(YEAR).values())
    assert sidecar["rows_before"] == truth_rows and sidecar["rows"] == len(rows)
    assert sidecar["rows"] + sidecar["rows_suppressed"] == truth_rows
    assert sidecar["cells_suppressed_total"] == sum(sidecar["cells_suppressed"].values())
    assert set(fields[1:]) | set(sidecar["columns_left_out"]) == set(RESEARCH_FIELDS)
    _file_gives_nothing_away(fields, rows)

    # one vocabulary: CTDC's columns (each with its source), values and missing code; no HTCDS name or code
    sources = reference.standard_sources()
    assert fields[0] == research_export.ROW_ID and [f for f in RESEARCH_FIELDS if f in fields] == fields[1:]
    assert sidecar["vocabulary"] == "CTDC" and sidecar["missing_code"] == MISSING
    assert all(sources[research_export.SOURCE_OF[f]]["standard"] == "CTDC" for f in fields[1:])
    assert set(sidecar["code_lists"]) == set(fields[1:]) and not [f for f in fields if f.startswith(("vic_", "prs_"))]
    countries = {r["code"] for r in reference.csv_rows("countries.csv")} | {MISSING}
    flags = [c for cl in RESEARCH_FLAGS.values() for c in cl if c in fields]
    assert {r["citizenship"] for r in rows} <= countries and {r["gender"] for r in rows} <= {"Female", "Male", MISSING}
    assert {r[c] for r in rows for c in flags} <= {"0", "1", MISSING}
    assert {r["majorityStatus"] for r in rows} <= {"Minor", "Adult", MISSING}

    # no reference and no token in any cell; the row ids are unique and link to nothing
    victims = _published(config)
    secrets_ = set(published.references()) | set(victims["case_ref_token"].dropna()) | set(victims["cptv_ref_token"].dropna())
    cells = {v for r in rows for v in r.values() if v}
    assert secrets_ and not cells & secrets_
    text = (folder / f"victims_ctdc_{YEAR}.csv").read_text(encoding="utf-8")
    assert not any(s in text for s in secrets_)
    ids = [r[research_export.ROW_ID] for r in rows]
    assert len(set(ids)) == len(ids)
    assert not {"case_ref", "cptv_ref", "case_ref_token", "cptv_ref_token", "team_code", "referral_date"} & set(fields)


@pytest.mark.parametrize("reporting_db_url", ["sqlite"], indirect=True)
def test_a_small_k_keeps_more_and_k_1_is_the_truth(config, published, tmp_path):
    victims = _published(config)
    rows_kept, cells_kept = {}, {}
    for k in (1, 3, 11, 40):
        paths = research_export.write_year(str(tmp_path / f"k{k}"), YEAR, victims, k)
        fields, rows = _read(paths[0])
        sidecar = json.loads(paths[1].read_text(encoding="utf-8"))
        assert sidecar["k"] == k and _smallest_class(fields, rows) == sidecar["smallest_class"] >= k
        _file_gives_nothing_away(fields, rows)
        rows_kept[k] = len(rows)
        cells_kept[k] = sum(r[f] != MISSING for r in rows for f in fields[1:])  # what the rows still say
        assert sidecar["rows"] + sidecar["rows_suppressed"] == sum(published.research_persons(YEAR).values())
        if k == 1:  # nothing to leave out or suppress: the rows are the truth's, column by column
            assert sidecar["columns_left_out"] == [] and sidecar["cells_suppressed"] == {} and sidecar["rows_suppressed"] == 0
            assert tuple(fields[1:]) == RESEARCH_FIELDS
            assert Counter(tuple(r[f] for f in RESEARCH_FIELDS) for r in rows) == published.research_persons(YEAR)
    # a larger k keeps fewer rows, or fewer known values in them
    assert cells_kept[1] > cells_kept[3] > cells_kept[11] > cells_kept[40]
    assert all(rows_kept[1] >= n for n in rows_kept.values()) and rows_kept[1] > rows_kept[40]


@pytest.mark.parametrize("reporting_db_url", ["sqlite"], indirect=True)
def test_no_suppressed_value_can_be_read_from_another_column(config, published):
    """Each cell suppressed for k-anonymity (known before, missing after) is compared with the rest of its
    row as released: no other column may give its value away."""
    persons = research_export.persons(_published(config), YEAR)
    # the whole file, and two narrower choices of its columns, in which the types of labour and the ages
    # are kept long enough to have cells suppressed (in the whole file they are left out first)
    frames = (persons, persons[["yearOfRegistration", "gender", *FORMS, *LABOUR]],
              persons[["yearOfRegistration", "gender", "ageBroad", "majorityStatus", "majorityStatusAtExploit"]])
    seen = Counter()
    for k, before in ((k, frame) for k in (2, 3, 5, 11) for frame in frames):
        released, _ = research_export.k_anonymised(before, k)
        for index, row in released.iterrows():
            after = row.to_dict()
            for column, value in after.items():
                if value == MISSING and before.at[index, column] != MISSING:
                    seen[column] += 1
                    reason = _given_away(after, column)
                    assert reason is None, f"k={k}: suppressed {column} ({before.at[index, column]}) is given away: {reason}"
    # the check saw suppressed forms, types of labour and ages (it cannot pass for want of cells)
    assert seen["isForcedLabour"] and any(seen[c] for c in LABOUR) and seen["majorityStatus"], seen


def test_bands_stored_before_version_2_nest_where_they_can():
    """Snapshots written before victims v2 keep the earlier bands (age_band_v1): a band inside one of CTDC's
    gives it, one that straddles two gives only Minor/Adult."""
    bands = ["0_13", "14_17", "18_24", "50_plus", "9_17", "48_plus", "unknown"]
    victims = pd.DataFrame({
        "quarter": "2026Q1", "referral_date": pd.Timestamp("2026-02-01"), "team_code": "nis",
        "source_row": range(2, 2 + len(bands)), "cptv_ref_token": None, "status": "identified_victim", "sex": "female",
        "age_band": bands, "citizenship": "RS", "exploitation": "sexual"})
    rows = research_export.persons(victims, YEAR)
    assert list(zip(rows["ageBroad"], rows["majorityStatus"])) == [
        (MISSING, "Minor"), ("9--17", "Minor"), (MISSING, "Adult"), ("48+", "Adult"), ("9--17", "Minor"), ("48+", "Adult"),
        (MISSING, MISSING)]
    assert set(rows["majorityStatusAtExploit"]) == {MISSING}  # no age when trafficked before v2
    assert (set(rows["isSexualExploit"]), set(rows["isForcedLabour"]), set(rows["isOtherExploit"])) == ({"1"}, {"0"}, {"0"})
    assert set(rows[list(LABOUR)].stack()) == {MISSING}  # no forced labour: no type of labour
