"""The data contract is the single source: suite, template and warehouse table follow from it."""
from __future__ import annotations

import io
import json

import pytest

from thb_reporting.core import contracts, reference
from thb_reporting.core.contracts import ROW_KEY
from thb_reporting.validation.suites import expectations_dir, suite_for, suite_json, suite_names
from thb_reporting.core.templates import csv_template, workbook, xlsx_template
from thb_reporting.store.warehouse import LINEAGE, metadata, table


@pytest.mark.parametrize("suite", suite_names())
def test_committed_suite_is_what_the_contract_generates(suite):
    committed = (expectations_dir() / f"{suite}.json").read_text(encoding="utf-8")
    assert committed == suite_json(suite), "expectations are stale: run `make suites` and commit"


def test_a_suite_for_each_contract_version_and_no_other():
    assert sorted(p.stem for p in expectations_dir().glob("*.json")) == sorted(suite_names())


def test_suite_loads_in_great_expectations():
    from great_expectations.core.expectation_suite import ExpectationSuite

    suite = ExpectationSuite(**json.loads(suite_json("victims")))
    generated = suite_for(contracts.load("victims"))["expectations"]
    assert [e.expectation_type for e in suite.expectations] == [e["type"] for e in generated]
    assert [e.meta for e in suite.expectations] == [e["meta"] for e in generated]
    assert [str(e.severity.value) for e in suite.expectations] == [e["severity"] for e in generated]


def test_suite_covers_every_rule_of_the_contract():
    contract = contracts.load("victims")
    suite = suite_for(contract)
    by_rule = {}
    for e in suite["expectations"]:
        by_rule.setdefault(e["meta"]["rule"], set()).add(e["kwargs"].get("column"))
    assert by_rule["required"] == {c.name for c in contract.columns if c.required}
    assert by_rule["required_when"] == {"identified_by", "exploitation", "country_of_exploitation"}
    assert by_rule["code_list"] == {c.name for c in contract.columns if c.type in ("code", "codes")}
    assert by_rule["country_code"] == {"citizenship", "country_of_exploitation"}
    assert by_rule["within_quarter"] == {"referral_date"}
    assert by_rule["range"] == {"age_years", "age_when_trafficked"}
    status = next(e for e in suite["expectations"] if e["meta"]["rule"] == "code_list" and e["kwargs"]["column"] == "status")
    assert status["kwargs"]["value_set"] == list(reference.codes("victim_status"))
    table_columns = suite["expectations"][0]["kwargs"]["column_set"]
    assert sorted(table_columns) == sorted([*contract.column_names, ROW_KEY])
    soft = [e for e in suite["expectations"] if e["severity"] == "warning"]
    assert [(e["meta"]["rule"], e["kwargs"]["column"]) for e in soft] == [("unique_within_team", "cptv_ref")]


def test_warehouse_table_follows_the_contract():
    contract = contracts.load("victims")
    columns = [c.name for c in table("victims").columns]
    assert columns == [n for n, *_ in LINEAGE] + [name for name, _ in contract.stored_columns()]
    # no clear references and no exact ages in the warehouse
    assert not {"case_ref", "cptv_ref", "age_years", "age_when_trafficked"} & set(columns)
    assert {"case_ref_token", "cptv_ref_token", "age_band", "age_when_trafficked_band"} <= set(columns)


@pytest.mark.parametrize("dataset", contracts.datasets())
def test_csv_template_header_reads_back_as_the_contract(dataset):
    from thb_reporting.reading.submission_files import parse_file_name, read_submission

    contract = contracts.load(dataset)
    text = csv_template(contract).decode("utf-8-sig")
    assert text.startswith(contract.columns[0].label["sr"])  # Serbian first, then English, then the code
    frame = read_submission(csv_template(contract), parse_file_name(f"{dataset}_2026Q1.csv"))
    assert list(frame.columns)[1:] == list(contract.column_names)


@pytest.mark.parametrize("dataset", contracts.datasets())
def test_xlsx_template_dropdowns_list_exactly_the_contract_codes(dataset):
    from openpyxl import load_workbook

    contract = contracts.load(dataset)
    book = load_workbook(io.BytesIO(xlsx_template(contract)))
    data, lists = book[contract.dataset], book["sifarnici"]
    assert [c.value.rsplit("(", 1)[1].rstrip(")") for c in data[1]] == list(contract.column_names)
    seen = {}
    for validation in data.data_validations.dataValidation:
        ref = validation.formula1.split("!")[1].replace("$", "")
        start, end = ref.split(":")
        codes = [c[0].value.rsplit("(", 1)[1].rstrip(")") for c in lists[f"{start}:{end}"]]  # 'Label (code)'
        column_letter = str(validation.sqref).split(":")[0].rstrip("0123456789")
        name = data[f"{column_letter}1"].value.rsplit("(", 1)[1].rstrip(")")
        seen[name] = codes
    coded = {c.name: list(c.allowed_codes) for c in contract.columns if c.type in ("code", "codes", "country")}
    assert seen == coded
    assert all(data.cell(1, i + 1).comment is not None for i in range(len(contract.column_names)))


def test_template_filled_with_generated_values_passes_validation(tmp_path):
    from thb_reporting.tools.generator import SubmissionGenerator
    from thb_reporting.core.quarters import Quarter
    from thb_reporting.reading.submission_files import parse_file_name, read_submission
    from thb_reporting.validation.checks import validate
    from thb_reporting.validation.suite_runner import SuiteRunner

    generated = SubmissionGenerator(tmp_path, seed=3).victims_file("nis", "2026Q1", file_format="xlsx", people=30)
    data = generated.path.read_bytes()
    name = parse_file_name(generated.file_name)
    frame = read_submission(data, name)
    assert list(frame[ROW_KEY]) == list(range(2, 32))
    outcome = validate(frame, contracts.for_quarter("victims", "2026Q1"), Quarter.parse("2026Q1"), SuiteRunner(("victims",)))
    assert outcome.errors == []
    assert workbook(contracts.load("victims")).sheetnames == ["victims", "procitaj_me", "sifarnici"]


@pytest.mark.parametrize("dataset", contracts.datasets())
def test_every_contract_has_a_suite_a_template_and_a_table(dataset):
    contract = contracts.load(dataset)
    assert (expectations_dir() / f"{dataset}.json").exists()
    assert len(csv_template(contract).decode("utf-8-sig").strip().split(",")) == len(contract.column_names)
    assert [c.name for c in table(dataset).columns][len(LINEAGE):] == [n for n, _ in contract.stored_columns()]


def test_committed_data_dictionary_is_what_the_model_generates():
    from thb_reporting.tools.dictionary import DICTIONARY, render

    assert DICTIONARY.read_text(encoding="utf-8") == render(), "docs/data-dictionary.md is stale: run `make suites`"


def test_every_published_table_and_column_is_described():
    for t in metadata().tables.values():
        assert t.comment, t.fullname
        assert all(c.comment for c in t.columns), [c.name for c in t.columns if not c.comment]


def test_postgres_has_a_comment_on_every_table_and_column(pg_url):
    from sqlalchemy import text

    from thb_reporting.store.migrations import ensure_schema
    from thb_reporting.store.warehouse import reporting_engine

    engine = reporting_engine(pg_url)
    ensure_schema(engine)
    with engine.connect() as conn:
        missing = conn.execute(text("""
            SELECT c.table_schema || '.' || c.table_name || '.' || c.column_name
            FROM information_schema.columns c
            WHERE c.table_schema IN ('ledger', 'national')
              AND col_description(format('%I.%I', c.table_schema, c.table_name)::regclass, c.ordinal_position) IS NULL
        """)).scalars().all()
        tables = conn.execute(text("""
            SELECT count(*) FROM information_schema.tables t
            WHERE t.table_schema IN ('ledger', 'national')
              AND obj_description(format('%I.%I', t.table_schema, t.table_name)::regclass, 'pg_class') IS NOT NULL
        """)).scalar_one()
    assert missing == []
    assert tables == len(metadata().tables) + 1  # and ledger.alembic_version, the schema's revision
