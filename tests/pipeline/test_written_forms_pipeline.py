"""What a team typed is what gets published, through the pipeline: cells written in people's forms go
through validate() (the suite included) and through a real run of both DAGs; never a different value.
(The property tests of the same rules are in test_written_forms.py.)"""
from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from thb_reporting.core import contracts
from thb_reporting.validation.checks import validate
from thb_reporting.core.findings import describe
from thb_reporting.tools.generator import SubmissionGenerator
from thb_reporting.tools.synthetic_files import encode
from thb_reporting.core.quarters import Quarter
from thb_reporting.reading.submission_files import parse_file_name, read_submission
from thb_reporting.validation.suite_runner import SuiteRunner


@pytest.fixture(scope="module")
def runner():
    return SuiteRunner(contracts.datasets())


WRITTEN_CELLS = [  # dataset, column, the cell as written (row 2 of a good file), its finding or its value
    ("programmes", "amount_rsd", "350.000", ("ambiguous_number", "350.000", "350000|350")),
    ("programmes", "amount_rsd", "350.000 EUR", ("number_with_unit", "350.000", "EUR")),
    ("programmes", "amount_rsd", "1.350.000 din.", 1350000),
    ("programmes", "beneficiaries", "25 osoba", ("number_with_unit", "25", "osoba")),
    ("cross_border", "persons", "12,00", 12),
    ("cross_border", "persons", "2,5", ("whole_number", "2,5", None)),
    ("activities", "activity_date", "05/06/2026", ("ambiguous_date", "05/06/2026", "2026-06-05|2026-05-06")),
    ("activities", "activity_date", "15.05.26", ("two_digit_year", "15.05.26", "2026-05-15")),
    ("activities", "activity_date", "15. 5. 2026.", "2026-05-15"),
    ("activities", "activity_date", "2026-05-15 13:45:00", "2026-05-15"),
]


@pytest.mark.parametrize("dataset,column,text,expected", WRITTEN_CELLS)
def test_a_written_cell_is_accepted_or_named_by_its_rule(tmp_path, runner, dataset, column, text, expected):
    """Through validate() (the suite included): one cell written in a person's form is accepted as its value,
    or rejected with exactly its finding, which reads in both languages without any other value."""
    generated = SubmissionGenerator(tmp_path, seed=12).dataset_file(dataset, "sombor", "2026Q2", file_format="csv_utf8", rows=6)
    rows = list(csv.reader(io.StringIO(generated.path.read_text(encoding="utf-8"))))
    rows[1][rows[0].index(column)] = text
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    generated.path.write_text(out.getvalue(), encoding="utf-8")
    name = parse_file_name(generated.file_name)
    outcome = validate(read_submission(generated.path.read_bytes(), name), contracts.for_quarter(dataset, name.quarter), name.quarter, runner)
    if not isinstance(expected, tuple):
        assert outcome.errors == []
        typed = outcome.typed.set_index("source_row")[column]
        assert (typed[2].date().isoformat() if isinstance(expected, str) else typed[2]) == expected
        return
    assert [(f.rule, f.column, f.row, f.value, f.detail) for f in outcome.errors] == [(expected[0], column, 2, *expected[1:])]
    for lang in ("sr", "en"):
        text = describe(outcome.errors[0], lang, contracts.for_quarter(dataset, name.quarter), name.quarter)
        assert "{" not in text and (expected[2] is None or expected[2].split("|")[0].replace(".", ",") in text
                                     or expected[2].split("|")[0] in text)



def _programmes_file(amounts: list, file_format: str) -> bytes:
    """A programmes file of the quarter 2026Q2 whose amount_rsd cells are `amounts`, as written."""
    generator = SubmissionGenerator(Path("/nonexistent"), seed=3)
    rows = generator.programmes_rows(generator._rng("programmes", "nis", "2026Q2", 1), "nis", Quarter.parse("2026Q2"), 5)
    rows = [dict(r, amount_rsd=a, programme_ref=f"PRG-T-2026-{i:02d}") for i, (r, a) in enumerate(zip(rows, amounts), 1)]
    return encode("programmes", rows, list(contracts.load("programmes").column_names), file_format)


@pytest.mark.airflow
def test_written_amounts_through_a_real_run(tmp_path, monkeypatch, airflow_db, smtp_server):
    """350.000 among Serbian-grouped amounts is published as 350000; alone, with nothing to decide it, the
    file is rejected with a finding that shows both readings (in the ledger and the team's e-mail); an XLSX
    number cell is its value. Never 350."""
    from sqlalchemy import select

    from fixtures import TEST_KEY
    from helpers import findings, ledger
    from thb_reporting.tools.airflow_runs import run_dag
    from thb_reporting.core.config import sqlite_url
    from thb_reporting.store.warehouse import reader_engine, table

    data = tmp_path / "data"
    port, mailbox = smtp_server
    monkeypatch.setenv("AIRFLOW_VAR_THB_DATA_ROOT", data.as_uri())
    monkeypatch.setenv("AIRFLOW_VAR_THB_PSEUDONYMISATION_KEY", TEST_KEY.decode())
    files = {  # team: (file name, bytes, the amounts to publish or None for a rejection)
        "nis": ("programmes_2026Q2.csv", _programmes_file(
            ["350.000", "1.250.000", "2.000.000,00", "75.000 RSD", "90\u00a0000 din."], "csv_utf8_bom"),
            [75000, 90000, 350000, 1250000, 2000000]),
        "sabac": ("programmes_2026Q2.csv", _programmes_file(["120000", "350.000", "80000", "64000", "50000"], "csv_utf8"), None),
        "kraljevo": ("programmes_2026Q2.xlsx", _programmes_file([350000.0, 1250000.0, 50000, 75000.0, 60000], "xlsx"),
                     [50000, 60000, 75000, 350000, 1250000]),
    }
    for team, (name, content, _) in files.items():
        (data / "inbox" / team).mkdir(parents=True, exist_ok=True)
        (data / "inbox" / team / name).write_bytes(content)
    assert run_dag("ingest_submissions").state == "success"
    assert run_dag("publish_national_tables").state == "success"

    db = sqlite_url(data / "warehouse" / "reporting.sqlite")
    status = {r.team_code: r for r in ledger(db)}
    programmes = table("programmes")
    with reader_engine(db).connect() as conn:
        published = conn.execute(select(programmes.c.team_code, programmes.c.amount_rsd)).all()
    for team, (_, _, amounts) in files.items():
        assert status[team].status == ("accepted" if amounts else "rejected"), status[team].summary
        assert sorted(a for t, a in published if t == team) == (amounts or [])
    rejected = status["sabac"].submission_id
    assert {(f.rule, f.column_name, f.source_row, f.value, f.detail)
            for f in findings(db) if f.submission_id == rejected} == {
        ("ambiguous_number", "amount_rsd", 3, "350.000", "350000|350")}
    texts = " ".join(part.get_payload(decode=True).decode("utf-8", "replace") for _, m in mailbox.received
                     for part in m.walk() if not part.is_multipart())
    assert "350000 ili 350" in texts and "350000 or 350" in texts
