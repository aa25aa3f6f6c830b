"""Fuzzing the reading and validation of submissions (hypothesis).

Whatever a team or an attacker puts in a file (arbitrary bytes, CSV of any shape and encoding, workbooks
with odd sheets and cells), processing ends with the file *accepted* or *rejected with findings*: never
an exception, never a file left waiting, and never a planted personal identifier in anything the
pipeline writes about it (ledger summary and findings, the findings CSV).

`make test` runs a bounded number of examples per property; THB_FUZZ_EXAMPLES=2000 runs more.
"""
from __future__ import annotations

import io
import itertools
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fixtures import TEST_KEY
from thb_reporting.core import contracts

EXAMPLES = int(os.environ.get("THB_FUZZ_EXAMPLES", "40"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=not os.environ.get("THB_FUZZ_EXAMPLES"),
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# Identifiers planted in files; none may come back out in any form the pipeline writes.
PLANTED = {
    "0101100710006": ["0101100710006", "0101-1007-10006"],
    "0101006500006": ["0101006500006"],
    "marko.markovic@primer.rs": ["marko.markovic@primer.rs", "marko.markovic"],
    "+381 64 123 4567": ["123 4567", "1234567"],
    "петар@пример.срб": ["петар@пример.срб", "петар"],
}
VICTIMS = list(contracts.for_quarter("victims", "2026Q1").column_names)  # the files' quarter


class _Pipeline:
    """One inbox and ledger (SQLite) for all the examples of a property: each example is a new file."""

    def __init__(self, root: Path):
        from thb_reporting.core.config import PipelineConfig, sqlite_url

        self.config = PipelineConfig.local(root / "data", TEST_KEY,
                                           reporting_db_url=sqlite_url(root / "warehouse" / "reporting.sqlite"))
        self.inbox = Path(self.config.inbox.removeprefix("file://")) / "nis"
        self.inbox.mkdir(parents=True, exist_ok=True)
        self.counter = itertools.count()

    def run(self, data: bytes, suffix: str) -> tuple[str, list[str]]:
        """(status, every text the pipeline wrote about the file) after one collect-and-process cycle."""
        from sqlalchemy import select

        from thb_reporting.intake.ingest import collect_new_submissions, process_submissions
        from thb_reporting.store.storage import storage_path
        from thb_reporting.store.warehouse import reporting_engine, table

        name = f"victims_2026Q1_{next(self.counter)}.{suffix}"
        (self.inbox / name).write_bytes(data)
        ids = collect_new_submissions(self.config)
        process_submissions(self.config, ids)
        subs, found = table("submissions", "ledger"), table("findings", "ledger")
        with reporting_engine(self.config.reporting_db_url).connect() as conn:
            sub = conn.execute(select(subs).where(subs.c.file_name == name)).one()
            findings = conn.execute(select(found).where(found.c.submission_id == sub.submission_id)).all()
        written = [sub.summary or ""]
        for f in findings:
            written += [f.column_name or "", f.value or "", f.detail or "", f.rule]
        if sub.quarantine_path:
            written.append((storage_path(sub.quarantine_path) / "findings.csv").read_bytes().decode("utf-8-sig"))
        if sub.status == "rejected":
            assert findings, f"{name}: rejected without a finding"
        return sub.status, written


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    return _Pipeline(tmp_path_factory.mktemp("fuzz"))


def _assert_final_and_clean(status: str, written: list[str]) -> None:
    assert status in {"accepted", "rejected"}, f"ended {status}"
    text = "\n".join(written)
    for identifier, forms in PLANTED.items():
        for form in forms:
            assert form not in text, f"a planted identifier ({identifier}) came back out"


# --- arbitrary bytes ------------------------------------------------------------------------------
@FUZZ
@given(data=st.binary(max_size=2048), suffix=st.sampled_from(["csv", "xlsx"]))
def test_arbitrary_bytes_end_in_a_final_state(pipeline, data, suffix):
    _assert_final_and_clean(*pipeline.run(data, suffix))


# --- arbitrary CSV structures ---------------------------------------------------------------------
_CELL = st.one_of(
    st.sampled_from(["", "female", "male", "identified_victim", "possible_victim", "RS", "yes", "no", "sexual;labour",
                     "2026-02-03", "03.02.2026.", "17", "17,0", "1.500", "350.000", "=1+1", "\x00", "\x1b[31m", "ČĆŽŠĐ",
                     "čćžšđ", "ж", '"', "\r\n", ";", ","]),
    st.sampled_from(sorted(PLANTED)),  # whole identifiers only: a part alone (123 4567) is no identifier
    st.text(max_size=20),
)
_HEADER = st.lists(st.one_of(st.sampled_from(VICTIMS), st.text(max_size=12)), min_size=0, max_size=len(VICTIMS) + 3)


@st.composite
def csv_files(draw) -> bytes:
    header = draw(st.one_of(st.just(VICTIMS), st.permutations(VICTIMS), _HEADER))
    rows = draw(st.lists(st.lists(_CELL, min_size=0, max_size=len(header) + 2), max_size=6))
    if draw(st.booleans()):
        rows = [r + [""] * (len(header) - len(r)) for r in rows]  # the right width, mostly
    delimiter = draw(st.sampled_from([",", ";", "\t"]))
    out = io.StringIO()
    import csv

    writer = csv.writer(out, delimiter=delimiter, lineterminator=draw(st.sampled_from(["\r\n", "\n"])))
    for row in [header, *rows]:
        writer.writerow(row)
    text = out.getvalue()
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "cp1250"]))
    return text.encode(encoding, errors="replace")


@FUZZ
@given(data=csv_files())
def test_arbitrary_csv_ends_in_a_final_state(pipeline, data):
    _assert_final_and_clean(*pipeline.run(data, "csv"))


# --- arbitrary XLSX structures --------------------------------------------------------------------
_XLSX_CELL = st.one_of(_CELL, st.integers(-10**15, 10**15), st.floats(allow_nan=False, allow_infinity=False),
                       st.dates(), st.datetimes(), st.none(), st.just(101100710006.0), st.just(101100710006))


@st.composite
def xlsx_files(draw) -> bytes:
    from openpyxl import Workbook
    from openpyxl.utils.exceptions import IllegalCharacterError

    book = Workbook()
    sheets = draw(st.integers(1, 3))
    for i in range(sheets):
        sheet = book.active if i == 0 else book.create_sheet()
        sheet.title = draw(st.sampled_from(["victims", "Sheet", "napomene", "Лист", f"s{i}"])) + (str(i) if i else "")
        if draw(st.booleans()):
            sheet.sheet_state = "hidden" if i else "visible"
        rows = [draw(st.lists(st.sampled_from([None, "Izveštaj", "Tim Niš"]), max_size=3))
                for _ in range(draw(st.integers(0, 2)))]  # blank or title rows above the header
        if draw(st.booleans()):
            rows.append(draw(st.one_of(st.just(VICTIMS), _HEADER)))
        rows += draw(st.lists(st.lists(_XLSX_CELL, max_size=len(VICTIMS) + 2), max_size=5))
        for row in rows:
            try:
                sheet.append(row)
            except (IllegalCharacterError, ValueError):  # openpyxl refuses to write these at all
                sheet.append([None])
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


@FUZZ
@given(data=xlsx_files())
def test_arbitrary_xlsx_ends_in_a_final_state(pipeline, data):
    _assert_final_and_clean(*pipeline.run(data, "xlsx"))


def test_the_check_catches_a_planted_identifier_in_the_output():
    """The property's own check is not vacuous: an output that quotes an identifier fails it."""
    with pytest.raises(AssertionError):
        _assert_final_and_clean("rejected", ["row 3: value 0101100710006 is not allowed"])
    with pytest.raises(AssertionError):
        _assert_final_and_clean("received", [])
