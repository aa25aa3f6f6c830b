"""Every hard rule of the contracts: one cell (or row) changed in a good file makes it fail with exactly
that rule, row and column; the unchanged file passes."""
from __future__ import annotations

import csv
import io

import pytest

from thb_reporting.core import contracts
from thb_reporting.validation.checks import validate
from thb_reporting.tools.generator import SubmissionGenerator
from thb_reporting.reading.submission_files import parse_file_name, read_submission
from thb_reporting.validation.suite_runner import SuiteRunner


@pytest.fixture(scope="module")
def runner():
    return SuiteRunner(contracts.datasets())


def _good_file(tmp_path, dataset):
    generated = SubmissionGenerator(tmp_path, seed=12).dataset_file(dataset, "sombor", "2026Q2", file_format="csv_utf8", rows=8)
    rows = list(csv.reader(io.StringIO(generated.path.read_text(encoding="utf-8"))))
    header = [h.rsplit("(", 1)[-1].rstrip(")") for h in rows[0]]
    return generated, header, rows


def _check(generated, runner):
    name = parse_file_name(generated.file_name)
    frame = read_submission(generated.path.read_bytes(), name)
    return validate(frame, contracts.for_quarter(name.dataset, name.quarter), name.quarter, runner)


def _write(generated, rows):
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    generated.path.write_text(out.getvalue(), encoding="utf-8")


CELL_CASES = [  # dataset, column, new value, rule (row 2 of the spreadsheet is changed)
    ("victims", "status", "", "required"),
    ("victims", "citizenship", "XX", "country_code"),
    ("victims", "exploitation", "sexual;prodaja", "code_list"),
    ("victims", "case_ref", "X" * 41, "max_length"),
    ("victims", "referral_date", "15.13.2026", "date_format"),
    ("victims", "age_years", "12.5", "whole_number"),
    ("programmes", "end_date", "2026-03-31", "not_before_quarter_start"),
    ("programmes", "start_date", "2026-07-01", "not_after_quarter_end"),
    ("programmes", "amount_rsd", "-1", "range"),
    ("activities", "activity_date", "2026-03-31", "within_quarter"),
    ("activities", "public_visibility", "mozda", "code_list"),
    ("cross_border", "counterpart_country", "", "required"),
    ("cross_border", "persons", "pet", "whole_number"),
    ("criminal_justice", "cases", "-2", "range"),
]


@pytest.mark.parametrize("dataset,column,value,rule", CELL_CASES)
def test_a_broken_cell_is_rejected_by_its_rule(tmp_path, runner, dataset, column, value, rule):
    generated, header, rows = _good_file(tmp_path, dataset)
    assert _check(generated, runner).errors == []  # the file as generated passes
    rows[1][header.index(column)] = value
    if column == "start_date":
        rows[1][header.index("end_date")] = ""
    _write(generated, rows)
    found = {(f.rule, f.column, f.row) for f in _check(generated, runner).errors}
    assert found == {(rule, column, 2)}


def test_identified_victim_needs_identifying_body(tmp_path, runner):
    generated, header, rows = _good_file(tmp_path, "victims")
    rows[1][header.index("status")] = "identified_victim"
    rows[1][header.index("identified_by")] = ""
    _write(generated, rows)
    assert {(f.rule, f.column, f.row) for f in _check(generated, runner).errors} == {("required_when", "identified_by", 2)}


def test_duplicate_article_and_stage_is_rejected(tmp_path, runner):
    generated, header, rows = _good_file(tmp_path, "criminal_justice")
    rows.append(list(rows[1]))
    _write(generated, rows)
    found = {(f.rule, f.row) for f in _check(generated, runner).errors}
    assert found == {("duplicate_key", 2), ("duplicate_key", len(rows))}


def test_duplicated_column_is_rejected(tmp_path, runner):
    generated, header, rows = _good_file(tmp_path, "activities")
    rows = [r + [r[header.index("participants")]] for r in rows]
    rows[0][-1] = "participants"
    _write(generated, rows)
    assert [(f.rule, f.column) for f in _check(generated, runner).errors] == [("duplicate_column", "participants")]


NARROW_CASES = [c[:3] for c in CELL_CASES] + [
    ("victims", "identified_by", ""),  # with status identified_victim below: required_when
    ("victims", "cptv_ref", "DUP"),  # repeated below: the soft rule unique_within_team
    ("programmes", "programme_ref", "DUP"),
    ("programmes", "name", "N" * 201),
    ("criminal_justice", "article", "DUP"),
]


@pytest.mark.parametrize("dataset,column,value", NARROW_CASES)
def test_the_cheap_pass_on_narrow_frames_fails_the_same_expectations(tmp_path, runner, monkeypatch, dataset, column, value):
    """A large file's cheap pass runs as a few GX runs over only the columns each expectation reads
    (code columns as categoricals): it must fail exactly the expectations the single pass fails."""
    from thb_reporting.validation import suite_runner
    from thb_reporting.validation.checks import prepare

    generated, header, rows = _good_file(tmp_path, dataset)
    if value == "DUP":
        rows[2][header.index(column)] = rows[1][header.index(column)]
        if dataset == "criminal_justice":
            rows[2][header.index("stage")] = rows[1][header.index("stage")]
    else:
        rows[1][header.index(column)] = value
    if column == "identified_by":
        rows[1][header.index("status")] = "identified_victim"
    _write(generated, rows)
    name = parse_file_name(generated.file_name)
    typed = prepare(read_submission(generated.path.read_bytes(), name), contracts.for_quarter(dataset, name.quarter)).typed
    assert typed is not None
    single = runner.failing(dataset, typed, name.quarter)
    monkeypatch.setattr(suite_runner, "NARROW_FROM_ROWS", 0)
    assert runner.failing(dataset, typed, name.quarter) == single
    if not single:  # a cell of the wrong type is left empty in the typed rows: the type check reports it
        return
    only = [i for i, _ in single]
    assert runner.failing(dataset, typed, name.quarter, only=only) == single
    narrow = suite_runner.findings_from_gx(runner.run(dataset, typed, name.quarter, only=only), contracts.for_quarter(dataset, name.quarter))
    whole = suite_runner.findings_from_gx(runner.run(dataset, typed, name.quarter), contracts.for_quarter(dataset, name.quarter))
    assert sorted(narrow, key=repr) == sorted(whole, key=repr)
