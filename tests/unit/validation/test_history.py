"""Soft rules on a team's own history: outliers and sudden zeros warn, they never reject."""
from __future__ import annotations

import io

import pytest

from helpers import findings, ledger
from thb_reporting.intake import ingest
from thb_reporting.validation.history import history_warnings


@pytest.mark.parametrize("value,history,rule", [
    (12, [10, 11, 13, 12], None),
    (60, [10, 11, 13, 12], "history_outlier"),
    (0, [10, 11, 13, 12], "sudden_zero"),
    (3, [10, 11, 13, 12], "history_outlier"),
    (12, [10, 11], None),                       # too little history to judge
    (0, [0, 1, 2, 0], None),                    # zero is usual for this team
    (7, [5, 5, 5, 5], "history_outlier"),       # no spread: outside min–max
    (5, [5, 5, 5, 5], None),
])
def test_history_rules(value, history, rule):
    found = history_warnings(value, history)
    assert [f.rule for f in found] == ([rule] if rule else [])
    assert all(f.severity == "warning" for f in found)


def _criminal_justice_csv(male: int) -> bytes:
    out = io.StringIO()
    out.write("article,stage,persons_male,persons_female,cases\n")
    for stage in ("criminal_complaint", "investigation", "indictment", "first_instance_judgment", "final_conviction"):
        out.write(f"388,{stage},{male},0,{1 if male else 0}\n")
    return out.getvalue().encode()


def test_outlier_and_sudden_zero_are_accepted_with_a_warning_in_the_ledger(config, generator):
    folder = generator.inbox / "nis"
    folder.mkdir(parents=True)
    for quarter, male in (("2025Q2", 6), ("2025Q3", 5), ("2025Q4", 7), ("2026Q1", 6), ("2026Q2", 0)):
        (folder / f"criminal_justice_{quarter}.csv").write_bytes(_criminal_justice_csv(male))
        ingest.process_submissions(config, ingest.collect_new_submissions(config))
    for quarter in ("2025Q2", "2025Q3", "2025Q4"):
        generator.dataset_file("activities", "nis", quarter, rows=10)
    ingest.process_submissions(config, ingest.collect_new_submissions(config))
    (folder / "activities_2026Q1.csv").write_text(
        "activity_date,type,participants,target_group,with_migration_council,public_visibility\n"
        "2026-02-10,media,20000,opšta javnost,no,yes\n", encoding="utf-8")
    ingest.process_submissions(config, ingest.collect_new_submissions(config))

    rows = {(r.dataset, r.quarter): r for r in ledger(config.reporting_db_url)}
    assert all(r.status == "accepted" for r in rows.values())
    zero = rows[("criminal_justice", "2026Q2")]
    assert (zero.measure, zero.warning_count) == (0, 1)
    assert rows[("criminal_justice", "2026Q1")].warning_count == 0
    warned = {(f.submission_id, f.rule) for f in findings(config.reporting_db_url)}
    assert (zero.submission_id, "sudden_zero") in warned
    usual = [rows[("activities", q)].measure for q in ("2025Q2", "2025Q3", "2025Q4")]
    assert usual == [sum(r["participants"] for r in f.rows) for f in generator.files]
    newest = rows[("activities", "2026Q1")]
    assert (newest.measure, newest.status, newest.warning_count) == (20000, "accepted", 1)
    assert (newest.submission_id, "history_outlier") in warned
