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

from thb_reporting.core import contracts, reference
from thb_reporting.reading.submission_files import parse_file_name, read_submission
from thb_reporting.tools.generator import FORMATS, PLANTS, SubmissionGenerator
from thb_reporting.validation import checks, suite_runner
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


def test_files_prepared_together_get_what_each_gets_alone(tmp_path, monkeypatch):
    """checks.prepare_many types the small files of a contract written in the same conventions in one
    frame: every file of the corpus, and clean files of every dataset and format, must come out of it as
    prepare makes it alone (rows, types, index, findings and the cells they flag)."""
    import pandas as pd

    paths = list(_corpus(tmp_path).values())
    for turn, team in enumerate(("nis", "kikinda", "subotica")):
        generator = SubmissionGenerator(tmp_path / f"clean-{team}", seed=turn)
        paths += [generator.dataset_file(dataset, team, QUARTER, file_format=FORMATS[(turn + n) % len(FORMATS)]).path
                  for n, dataset in enumerate(contracts.datasets())]
        first_row_wrong = generator.victims_file(team, QUARTER, file_format="csv_utf8", people=6).path
        _edit_csv(first_row_wrong, lambda header, rows: rows[0].__setitem__(header.index("age_years"), "dvadeset"))
        paths.append(first_row_wrong)  # a finding on a file's first row, where one file's rows end and the next's begin
    files = []
    for path in paths:
        name = parse_file_name(path.name)
        files.append((read_submission(path.read_bytes(), name), contracts.for_quarter(name.dataset, name.quarter)))
    alone = [checks.prepare(frame.copy(), contract) for frame, contract in files]
    typings = []
    real_typed = checks._typed
    monkeypatch.setattr(checks, "_typed", lambda frame, *a: typings.append(len(frame)) or real_typed(frame, *a))
    together = checks.prepare_many([(frame.copy(), contract) for frame, contract in files])
    assert len(typings) < sum(p.typed is not None for p in alone) // 2  # most files were typed with others
    assert sum(bool(p.findings) for p in alone if p.typed is not None) >= 5  # typed files with findings to place
    for path, one, other in zip(paths, alone, together):
        assert isinstance(other, checks.Prepared), (path, other)
        assert [vars(f) for f in other.findings] == [vars(f) for f in one.findings], path
        assert (other.flagged, other.letters, other.template_version, other.not_in_file) == \
            (one.flagged, one.letters, one.template_version, one.not_in_file), path
        if one.typed is None:
            assert other.typed is None, path
        else:
            pd.testing.assert_frame_equal(other.typed, one.typed, check_exact=True)


def test_files_cleared_together_pass_the_suite_alone(tmp_path):
    """checks.clear_in_batches marks `cleared` only files whose rows pass the suite by themselves, and
    among files that pass only rules across rows, every file whose values are unique within it: values
    shared by other files (every criminal_justice file has article 388 at each stage; a team's victims
    file sent again under another's name) do not stop a file, repeated within one they do."""
    import shutil

    clean = []
    for n, team in enumerate(sorted(reference.teams())[:10]):
        generator = SubmissionGenerator(tmp_path / f"clean-{team}", seed=n)
        clean += [generator.dataset_file(dataset, team, QUARTER, file_format="csv_utf8").path for dataset in contracts.datasets()
                  if reference.teams()[team].reports(dataset)]
    same_refs = tmp_path / "again" / "victims_2026Q2.csv"
    same_refs.parent.mkdir()
    shutil.copy(next(p for p in clean if p.name.startswith("victims")), same_refs)
    twice = SubmissionGenerator(tmp_path / "twice", seed=3).dataset_file("criminal_justice", "nis", QUARTER, file_format="csv_utf8").path
    _edit_csv(twice, lambda header, rows: rows.append(list(rows[0])))
    runner, runs = SuiteRunner(contracts.datasets()), []

    class counted:  # the runner, counting the suite's runs
        @staticmethod
        def failing(*args, **kwargs):
            runs.append(args[0])
            return runner.failing(*args, **kwargs)

    def cleared(paths: list[Path]) -> dict[Path, tuple[bool, bool]]:
        """path → (cleared together, passes alone)"""
        groups: dict = {}
        for path in paths:
            name = parse_file_name(path.name)
            contract = contracts.for_quarter(name.dataset, name.quarter)
            prepared = checks.prepare(read_submission(path.read_bytes(), name), contract)
            groups.setdefault((contract.suite_name, name.quarter), []).append((path, prepared))
        runs.clear()
        for (suite, quarter), group in groups.items():
            checks.clear_in_batches(counted, suite, quarter, [p for _, p in group])
        return {path: (p.cleared, p.typed is not None and not any(f.severity == "error" for f in p.findings)
                       and not runner.failing(suite, p.typed, quarter))
                for (suite, quarter), group in groups.items() for path, p in group}

    outcome = cleared([*clean, same_refs, twice])
    assert {path: together for path, (together, _) in outcome.items()} == {path: path != twice for path in outcome}
    assert not outcome[twice][1]
    assert len(runs) < len(outcome) // 2  # shared values cost no run per file: each file's are kept apart
    mixed = cleared([*_corpus(tmp_path).values(), *clean, twice])  # bad files halve the groups
    assert all(alone for together, alone in mixed.values() if together)
    assert any(together for together, _ in mixed.values())


if __name__ == "__main__":  # pragma: no cover
    pytest.main([__file__, "-q"])
