"""The research export: HTCDS/CTDC-named, pseudonymised victims rows, one per person nationally, k-anonymised.
The files publish writes are read back and their equivalence classes counted; the rows are compared with
the generator's truth (tests/support/oracle.py) where no generalisation was needed (k = 1)."""
from __future__ import annotations

import csv
import io
import json
from collections import Counter

import pandas as pd
import pytest
from sqlalchemy import select

from oracle import RESEARCH_FIELDS, Truth
from thb_reporting.intake import ingest
from thb_reporting.publishing import publish, research_export
from thb_reporting.core import reference
from thb_reporting.store.storage import storage_path
from thb_reporting.store.warehouse import reader_engine, table

YEAR = "2026"
QUARTERS = ["2026Q2", "2026Q3"]  # under victims v1 and v2


def _published(config) -> pd.DataFrame:
    with reader_engine(config.reporting_db_url).connect() as conn:
        return pd.DataFrame(conn.execute(select(table("victims"))).mappings().all())


def _read(path) -> tuple[list[str], list[dict]]:
    text = storage_path(path).read_text(encoding="utf-8") if not hasattr(path, "read_text") else path.read_text(encoding="utf-8")
    reader = csv.DictReader(io.StringIO(text))
    return list(reader.fieldnames), list(reader)


def _classes(rows: list[dict], quasi_identifiers) -> Counter:
    """Rows per equivalence class: the rows with the same value (empty included) of every quasi-identifier."""
    return Counter(tuple(r[q] for q in quasi_identifiers) for r in rows)


@pytest.fixture
def published(config, generator):
    truth = Truth(generator.scenario(list(reference.teams()), QUARTERS))
    ingest.process_submissions(config, ingest.collect_new_submissions(config))
    publish.publish(config)
    return truth


@pytest.mark.parametrize("reporting_db_url", ["sqlite"], indirect=True)
def test_publish_writes_a_k_anonymous_export_under_standard_names(config, published, tmp_path):
    folder = storage_path(config.data_root) / "research" / YEAR
    fields, rows = _read(folder / f"victims_htcds_{YEAR}.csv")
    sidecar = json.loads((folder / f"victims_htcds_{YEAR}.csv.metadata.json").read_text(encoding="utf-8"))
    k, quasi = sidecar["k"], sidecar["quasi_identifiers"]
    assert k == config.research_k == 11
    assert set(quasi) <= set(fields) and "yearOfRegistration" in quasi and "prs_Gender" in quasi
    # every equivalence class over the declared quasi-identifiers has at least k rows
    assert rows and min(_classes(rows, quasi).values()) >= k
    truth_rows = sum(published.research_persons(YEAR).values())
    assert sidecar["rows_before"] == truth_rows and sidecar["rows"] == len(rows)
    assert sidecar["rows"] + sidecar["rows_suppressed"] == truth_rows

    # field names: HTCDS 2.0's or CTDC's (reference/standard_sources.csv says where each comes from), and a row id
    sources = reference.standard_sources()
    assert fields[0] == research_export.ROW_ID and tuple(fields[1:]) == RESEARCH_FIELDS
    assert all(sources[f]["standard"] in ("HTCDS 2.0", "CTDC") for f in fields[1:])
    assert all(f.startswith(("vic_", "prs_")) for f in fields if sources.get(f, {}).get("standard") == "HTCDS 2.0")
    assert set(sidecar["code_lists"]) == set(fields[1:]) & set(sources)

    # no reference and no token in any cell; the row ids are unique and link to nothing
    victims = _published(config)
    secrets_ = set(published.references()) | set(victims["case_ref_token"].dropna()) | set(victims["cptv_ref_token"].dropna())
    cells = {v for r in rows for v in r.values() if v}
    assert secrets_ and not cells & secrets_
    text = (folder / f"victims_htcds_{YEAR}.csv").read_text(encoding="utf-8")
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
        assert sidecar["k"] == k and min(_classes(rows, sidecar["quasi_identifiers"]).values()) >= k
        rows_kept[k] = len(rows)
        cells_kept[k] = sum(bool(r[q]) for r in rows for q in sidecar["quasi_identifiers"])  # what the rows still say
        assert sidecar["rows"] + sidecar["rows_suppressed"] == sum(published.research_persons(YEAR).values())
        if k == 1:  # nothing to generalise or suppress: the rows are the truth's, field by field
            assert sidecar["generalisations"] == [] and sidecar["cells_emptied"] == {} and sidecar["rows_suppressed"] == 0
            assert Counter(tuple(r[f] for f in RESEARCH_FIELDS) for r in rows) == published.research_persons(YEAR)
    # a larger k keeps fewer rows, or fewer known values in them
    assert cells_kept[1] > cells_kept[3] > cells_kept[11] > cells_kept[40]
    assert all(rows_kept[1] >= n for n in rows_kept.values()) and rows_kept[1] > rows_kept[40]


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
        ("", "Minor"), ("9--17", "Minor"), ("", "Adult"), ("48+", "Adult"), ("9--17", "Minor"), ("48+", "Adult"), ("", "")]
    assert set(rows["majorityStatusAtExploit"]) == {""}  # no age when trafficked before v2
    assert set(rows["vic_TypeOfExploitation"]) == {"SexualExploitation"} and set(rows["isSexualExploit"]) == {"1"}
