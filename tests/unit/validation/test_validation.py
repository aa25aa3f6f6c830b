"""Each planted error is found and named by row, column and rule; good files pass; no value that could
describe a person is ever quoted back."""
from __future__ import annotations

import pytest

from thb_reporting.core import contracts
from thb_reporting.validation.checks import validate
from thb_reporting.core.findings import describe
from thb_reporting.tools.generator import PLANTS, SubmissionGenerator
from thb_reporting.core.quarters import Quarter
from thb_reporting.reading.submission_files import parse_file_name, read_submission
from thb_reporting.validation.suite_runner import SuiteRunner

VICTIMS_PLANTS = ["unknown_code", "date_outside_quarter", "missing_column", "jmbg", "email", "extra_column",
                  "cross_border_without_country", "age_out_of_range", "age_not_a_number"]
OTHER_PLANTS = [  # (dataset, plant) beyond victims
    *((d, p) for d in ("criminal_justice", "programmes", "activities", "cross_border")
      for p in ("unknown_code", "missing_column", "jmbg", "extra_column", "negative_count")),
    ("programmes", "date_outside_quarter"), ("activities", "date_outside_quarter"), ("cross_border", "date_outside_quarter"),
    ("programmes", "email"), ("criminal_justice", "conviction_above_indictment"), ("programmes", "end_before_start"),
]


@pytest.fixture(scope="module")
def runner():
    return SuiteRunner(contracts.datasets())


def _validate(generated, runner):
    name = parse_file_name(generated.file_name)
    frame = read_submission(generated.path.read_bytes(), name)
    return validate(frame, contracts.for_quarter(name.dataset, name.quarter), name.quarter, runner)


@pytest.mark.parametrize("file_format", ["csv_utf8", "csv_utf8_bom", "csv_cp1250", "xlsx"])
def test_generated_files_pass_in_every_format(tmp_path, runner, file_format):
    generated = SubmissionGenerator(tmp_path, seed=11).victims_file("sabac", "2026Q2", file_format=file_format, people=40)
    outcome = _validate(generated, runner)
    assert outcome.errors == []
    assert len(outcome.typed) == 40


def test_gx_leaves_the_rows_unhashed(tmp_path, runner, monkeypatch):
    """GX's fingerprint of a batch (a hash of every cell) is bookkeeping no finding needs: the runner turns it
    off. Fails if GX renames the setting, which would make the runner's assignment do nothing."""
    from great_expectations.execution_engine import pandas_execution_engine

    hashed = []
    real = pandas_execution_engine.hash_pandas_dataframe
    monkeypatch.setattr(pandas_execution_engine, "hash_pandas_dataframe", lambda df: hashed.append(len(df)) or real(df))
    generated = SubmissionGenerator(tmp_path, seed=12).victims_file("sabac", "2026Q2", plant="unknown_code")
    outcome = _validate(generated, runner)
    assert outcome.errors  # GX ran, the cheap pass and the row-level one
    assert hashed == []


@pytest.mark.parametrize("plant", VICTIMS_PLANTS)
@pytest.mark.parametrize("file_format", ["csv_cp1250", "xlsx"])
def test_planted_error_is_named_by_row_column_and_rule(tmp_path, runner, plant, file_format):
    generated = SubmissionGenerator(tmp_path, seed=5).victims_file("kraljevo", "2026Q1", plant=plant, file_format=file_format)
    outcome = _validate(generated, runner)
    errors = outcome.errors
    assert errors, f"{plant} was not detected"
    assert {(f.rule, f.column, f.row) for f in errors} == {(PLANTS[plant], generated.planted_column, generated.planted_row)}
    finding = errors[0]
    if plant in ("jmbg", "email", "extra_column"):
        assert finding.value is None  # never echoed
    if plant == "unknown_code":
        assert finding.value == "nepoznato"
    for lang in ("sr", "en"):
        text = describe(finding, lang, contracts.for_quarter("victims", "2026Q1"), Quarter.parse("2026Q1"))
        assert "0101100710006" not in text and "@" not in text and "Marko" not in text
        if generated.planted_row:
            assert str(generated.planted_row) in text


@pytest.mark.parametrize("dataset", sorted(set(contracts.datasets()) - {"victims"}))
@pytest.mark.parametrize("file_format", ["csv_utf8_bom", "xlsx"])
def test_other_datasets_generated_files_pass(tmp_path, runner, dataset, file_format):
    generated = SubmissionGenerator(tmp_path, seed=4).dataset_file(dataset, "nis", "2026Q2", file_format=file_format)
    outcome = _validate(generated, runner)
    assert outcome.errors == [] and len(outcome.typed) == len(generated.rows)


@pytest.mark.parametrize("dataset,plant", OTHER_PLANTS)
def test_planted_errors_in_other_datasets(tmp_path, runner, dataset, plant):
    generated = SubmissionGenerator(tmp_path, seed=6).dataset_file(dataset, "pancevo", "2026Q2", plant=plant)
    found = {(f.rule, f.column, f.row) for f in _validate(generated, runner).errors}
    assert found == {(generated.expected_rule, generated.planted_column, generated.planted_row)}


def test_soft_rule_warns_without_rejecting(tmp_path, runner):
    gen = SubmissionGenerator(tmp_path, seed=9)
    gen.victims_file("nis", "2026Q1", file_format="csv_utf8", people=6)
    path = tmp_path / "nis" / "victims_2026Q1.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    i = header.index("cptv_ref")
    rows = [line.split(",") for line in lines[1:]]
    rows[0][i] = rows[1][i] = "CZŽTL-2026/00042"
    path.write_text("\n".join([lines[0], *(",".join(r) for r in rows)]) + "\n", encoding="utf-8")
    name = parse_file_name(path.name)
    outcome = validate(read_submission(path.read_bytes(), name), contracts.for_quarter("victims", name.quarter), name.quarter, runner)
    assert outcome.errors == []
    assert [(w.rule, w.column, w.row, w.value) for w in outcome.warnings] == [
        ("unique_within_team", "cptv_ref", 2, None), ("unique_within_team", "cptv_ref", 3, None)]


def test_codes_are_normalised_before_checking(tmp_path, runner):
    gen = SubmissionGenerator(tmp_path, seed=1)
    generated = gen.victims_file("vranje", "2026Q1", file_format="csv_utf8", people=5)
    text = generated.path.read_text(encoding="utf-8")
    text = text.replace("possible_victim", " Possible_Victim ").replace(",no,", ",NO,")
    generated.path.write_text(text, encoding="utf-8")
    outcome = _validate(generated, runner)
    assert outcome.errors == []
    assert set(outcome.typed["status"].dropna()) <= {"possible_victim", "identified_victim", "not_a_victim"}


def test_several_errors_in_one_file_are_all_reported(tmp_path, runner):
    generated = SubmissionGenerator(tmp_path, seed=2).victims_file("nis", "2026Q1", file_format="csv_utf8", people=10)
    lines = generated.path.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    rows = [line.split(",") for line in lines[1:]]
    rows[2][header.index("sex")] = "zensko"
    rows[4][header.index("age_years")] = "-3"
    rows[6][header.index("referral_date")] = "31.02.2026"
    generated.path.write_text("\n".join([lines[0], *(",".join(r) for r in rows)]) + "\n", encoding="utf-8")
    found = {(f.rule, f.column, f.row, f.value) for f in _validate(generated, runner).errors}
    assert found == {("code_list", "sex", 4, "zensko"), ("range", "age_years", 6, "-3"),
                     ("date_format", "referral_date", 8, "31.02.2026")}


def test_the_validation_modules_import_one_way():
    """findings (the words) knows neither the checks nor GX; suite_runner (GX) knows findings, not the checks;
    checks uses both. Imports inside functions count too, so that no cycle can hide in one."""
    import ast
    from pathlib import Path

    import thb_reporting

    def imported(module: str) -> set[str]:
        tree = ast.parse((Path(thb_reporting.__file__).parent / f"{module}.py").read_text(encoding="utf-8"))
        names = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        names |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        return {n.rsplit(".", 1)[-1] for n in names if n.startswith("thb_reporting.")}

    own = {"findings", "checks", "suite_runner"}
    assert imported("core/findings") & own == set()
    assert imported("validation/suite_runner") & own == {"findings"}
    assert imported("validation/checks") & own == {"findings", "suite_runner"}
