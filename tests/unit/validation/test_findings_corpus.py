"""The findings of a corpus of bad files, every one of them (file, rule, severity, row, column, value,
detail), against a snapshot: a change that makes validation faster must leave them as they were. Each
file is validated twice, as a small file is (one GX pass) and as a large one is (the narrow passes on
the distinct rows, the soft rules' row-level results kept from the cheap pass), and both must give the
snapshot. Regenerate the snapshot (after a change of the rules, never of the speed) with
THB_UPDATE_FINDINGS_SNAPSHOT=1."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from thb_reporting.core import contracts
from thb_reporting.reading.submission_files import parse_file_name, read_submission
from thb_reporting.tools.generator import FORMATS, PLANTS, SubmissionGenerator
from thb_reporting.validation import suite_runner
from thb_reporting.validation.checks import validate
from thb_reporting.validation.suite_runner import SuiteRunner

SNAPSHOT = Path(__file__).with_name("findings_corpus.json")
QUARTER = "2026Q2"


def _edit_csv(path: Path, edit) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    header, rows = lines[0].split(","), [line.split(",") for line in lines[1:]]
    edit(header, rows)
    path.write_text("\n".join([",".join(header), *(",".join(r) for r in rows)]) + "\n", encoding="utf-8")


def _corpus(folder: Path) -> dict[str, Path]:
    """Every plant of the generator in every dataset it applies to (formats in turn), and hand-made files:
    the soft rule alone and beside hard errors, several errors in one file, a whole column of bad codes."""
    files, turn = {}, 0
    for dataset in contracts.datasets():
        for plant in PLANTS:
            fmt = FORMATS[turn % len(FORMATS)]
            try:
                generated = SubmissionGenerator(folder / str(turn), seed=7).dataset_file(
                    dataset, "nis", QUARTER, plant=plant, file_format=fmt, rows=12)
            except (ValueError, StopIteration):  # the plant does not apply to this dataset (or these rows)
                continue
            files[f"{dataset}/{plant}/{fmt}"] = generated.path
            turn += 1

    def victims(case: str, edit, people: int = 12) -> Path:
        path = SubmissionGenerator(folder / case, seed=7).victims_file("nis", QUARTER, file_format="csv_utf8", people=people).path
        _edit_csv(path, edit)
        return path

    def repeated_cptv(header, rows):
        i = header.index("cptv_ref")
        rows[0][i] = rows[1][i] = rows[5][i] = "CZŽTL-2026/00042"

    def several(header, rows):
        repeated_cptv(header, rows)
        rows[2][header.index("sex")] = "zensko"
        rows[4][header.index("age_years")] = "-3"
        rows[6][header.index("referral_date")] = "31.02.2026"
        rows[7][header.index("status")] = ""
        rows[8][header.index("case_ref")] = "X" * 41

    def every_code_bad(header, rows):
        for row in rows:
            row[header.index("citizenship")] = "XX"

    def identified_without_body(header, rows):
        for row in rows[:3]:
            row[header.index("status")], row[header.index("identified_by")] = "identified_victim", ""

    def over_ten_thousand_rows(header, rows):  # columns of a few values are screened and typed value by value
        several(header, rows)
        rows[100][header.index("sex")] = " Female "
        rows[101][header.index("sex")] = "Женски"
        rows[102][header.index("citizenship")] = ""
        rows[103][header.index("age_years")] = "dvadeset"
        rows[104][header.index("referral_source")] = "0101100710006"
        rows[105][header.index("status")] = "nije"
        rows[106][header.index("sex")] = ""  # empty, in a column whose other cells need mapping

    files["victims/soft_rule_alone"] = victims("soft", repeated_cptv)
    files["victims/over_ten_thousand_rows"] = victims("large", over_ten_thousand_rows, people=10_500)
    files["victims/soft_rule_and_hard_errors"] = victims("several", several)
    files["victims/every_code_bad"] = victims("codes", every_code_bad)
    files["victims/required_when"] = victims("when", identified_without_body)
    return files


def _findings(path: Path, runner: SuiteRunner) -> list[list]:
    name = parse_file_name(path.name)
    outcome = validate(read_submission(path.read_bytes(), name), contracts.for_quarter(name.dataset, name.quarter),
                       name.quarter, runner)
    return [[f.rule, f.severity, f.row, f.column, f.value, f.detail] for f in outcome.findings]


def test_the_findings_of_the_bad_corpus_are_those_of_the_snapshot(tmp_path, monkeypatch):
    runner = SuiteRunner(contracts.datasets())
    files = _corpus(tmp_path)
    small = {case: _findings(path, runner) for case, path in files.items()}
    monkeypatch.setattr(suite_runner, "NARROW_FROM_ROWS", 0)  # every file validated as a large one is
    large = {case: _findings(path, runner) for case, path in files.items()}
    if os.environ.get("THB_UPDATE_FINDINGS_SNAPSHOT"):
        SNAPSHOT.write_text(json.dumps(small, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    expected = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    assert sum(map(len, expected.values())) > 2 * len(expected) // 3  # the corpus is made of bad files
    assert small == expected
    assert large == expected


if __name__ == "__main__":  # pragma: no cover
    pytest.main([__file__, "-q"])
