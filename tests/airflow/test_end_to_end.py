"""Real Airflow runs (dag.test()) of both DAGs: 13 teams and the Centre × 2 quarters with planted errors, once on the
embedded SQLite default and once on PostgreSQL through the reporting_db connection."""
from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from fixtures import TEST_KEY
from helpers import dump, findings, ledger, publications, published_indicator
from tls_postgres import without_tls
from oracle import Truth
from test_national_coverage import assert_no_partial_sum_labelled_as_the_nation
from thb_reporting.core import reference
from thb_reporting.core.config import sqlite_url
from thb_reporting.tools.generator import SubmissionGenerator

pytestmark = pytest.mark.airflow
QUARTERS = ["2026Q2", "2026Q3"]
PLANTS = {
    ("subotica", "2026Q2"): "unknown_code",
    ("novi_sad", "2026Q3"): "jmbg",
    ("nis", "2026Q2"): "date_outside_quarter",
    ("kikinda", "2026Q3"): "missing_column",
    ("pancevo", "2026Q2"): "cross_border_without_country",
}


@pytest.fixture(params=["sqlite", "postgres"])
def pipeline_env(request, tmp_path, monkeypatch, airflow_db, smtp_server):
    """The pipeline's Airflow variables and connections for one backend (e-mail to a real SMTP server on
    loopback through smtp_default); returns (data root, db url, mailbox)."""
    data = tmp_path / "data"
    port, mailbox = smtp_server
    monkeypatch.setenv("AIRFLOW_VAR_THB_DATA_ROOT", data.as_uri())
    if request.param == "sqlite":  # the embedded default: no connection configured; the key as a variable
        monkeypatch.setenv("AIRFLOW_VAR_THB_PSEUDONYMISATION_KEY", TEST_KEY.decode())
        return data, sqlite_url(data / "warehouse" / "reporting.sqlite"), mailbox
    # the key as the password of a connection, the database through the reporting_db connection
    monkeypatch.setenv("AIRFLOW_CONN_THB_PSEUDONYMISATION", json.dumps({"conn_type": "generic", "password": TEST_KEY.decode()}))
    url = request.getfixturevalue("pg_url")
    monkeypatch.setenv("AIRFLOW_CONN_REPORTING_DB", without_tls(url))
    return data, url, mailbox


def run(dag_id: str) -> dict[str, str]:
    from thb_reporting.tools.airflow_runs import run_dag

    dag_run = run_dag(dag_id)
    assert dag_run.state == "success", f"{dag_id} ended {dag_run.state}"
    return {ti.task_id: ti.state for ti in dag_run.get_task_instances()}


def cycle() -> dict[str, str]:
    states = run("ingest_submissions")
    states |= run("publish_national_tables")
    return states


def test_submissions_to_national_tables_through_airflow(pipeline_env):
    data, db_url, mailbox = pipeline_env
    generator = SubmissionGenerator(data / "inbox", seed=20)
    truth = Truth(generator.scenario(list(reference.teams()), QUARTERS, PLANTS))
    assert len(truth.files) == 28  # 13 teams and the Centre (victims) × 2 quarters

    states = cycle()
    assert states == {"collect_new_submissions": "success",
                      "validate_and_snapshot": "success",
                      "announce_new_snapshots": "success", "notify_teams": "success", "publish_datasets": "success"}
    # the published figures equal the generator's truth exactly
    assert published_indicator(db_url) == truth.victims_by_team_quarter()
    assert len(dump(db_url, "victims")) == truth.published_rows()
    # every bad file is quarantined with its reason, row and column in the ledger
    rows = {(r.team_code, r.file_name): r for r in ledger(db_url)}
    assert len(rows) == 28
    # the Centre reported both quarters: the victims figures are the nation's, and labelled so
    covered = assert_no_partial_sum_labelled_as_the_nation(
        SimpleNamespace(teams=reference.teams(), reporting_db_url=db_url, data_root=data.as_uri()))
    assert all(covered[("victims", p)][0] for p in [*QUARTERS, "2026"]) and covered == truth.coverage(reference.teams())
    reasons = {(f.submission_id, f.rule, f.source_row) for f in findings(db_url)}
    for f in truth.files:
        r = rows[(f.team, f.file_name)]
        assert r.status == f.expected_status, (f.team, f.file_name, r.summary)
        if f.plant:
            assert r.quarantine_path and (r.submission_id, f.expected_rule, f.planted_row) in reasons
            assert Path(r.quarantine_path.removeprefix("file://"), "findings.csv").exists()

    _assert_no_reference_in_clear(truth.references(), data, db_url, mailbox)

    # one e-mail per processed file, to its team
    assert sorted(rcpt[0] for rcpt, _ in mailbox.received) == sorted(
        reference.teams()[f.team].contact_emails[0] for f in truth.files)

    # running both DAGs again changes nothing
    tables = ("victims", "victims_by_team_quarter", "publications")
    before = {t: dump(db_url, t) for t in tables} | {"ledger": dump(db_url, "submissions", "ledger")}
    states = cycle()
    assert states["announce_new_snapshots"] == "skipped"
    assert {t: dump(db_url, t) for t in tables} | {"ledger": dump(db_url, "submissions", "ledger")} == before

    # corrected re-submissions replace the earlier figures (one was rejected, one was accepted)
    generator.victims_file("subotica", "2026Q2", version=2)
    generator.victims_file("vranje", "2026Q3", version=2)
    cycle()
    assert published_indicator(db_url) == Truth(generator.files).victims_by_team_quarter()
    assert len(mailbox.received) == 30  # the two new files, and nothing sent twice
    after = {(r.team_code, r.file_name): r for r in ledger(db_url)}
    assert after[("vranje", "victims_2026Q3.csv")].superseded_by == after[("vranje", "victims_2026Q3_v2.csv")].submission_id
    assert publications(db_url)[("subotica", "2026Q2")] == after[("subotica", "victims_2026Q2_v2.csv")].submission_id


def _assert_no_reference_in_clear(references: set[str], data: Path, db_url: str, mailbox) -> None:
    """After ingestion no case or CPTV reference exists in clear: not in the snapshots, exports or e-mail
    files, not in the warehouse, not in Airflow's logs or XComs (its metadata database), not in any e-mail.
    Only the raw zone (inbox, archive, quarantine) keeps the files as the teams sent them."""
    import os

    from sqlalchemy import text

    from thb_reporting.store.warehouse import metadata, reporting_engine

    needles = [r.encode() for r in references] + [r.upper().encode() for r in references]
    assert needles
    places = []
    raw_zone = {"inbox", "archive", "quarantine"}
    for path in data.rglob("*"):
        if path.is_file() and not raw_zone & set(path.relative_to(data).parts):
            places.append((str(path), path.read_bytes()))
    airflow_home = Path(os.environ["AIRFLOW_HOME"])
    for path in airflow_home.rglob("*"):  # task logs and the metadata database holding the XComs
        if path.is_file():
            places.append((str(path), path.read_bytes()))
    assert any(p.endswith(".parquet") for p, _ in places) and any("airflow.db" in p for p, _ in places)
    with reporting_engine(db_url).connect() as conn:
        for t in metadata().tables.values():
            columns = ", ".join(f'"{c.name}"' for c in t.columns)
            dump = conn.execute(text(f"SELECT {columns} FROM {t.fullname if 'postgres' in db_url else t.name}")).all()
            places.append((t.fullname, repr(dump).encode()))
    for _, message in mailbox.received:  # every part, decoded from its transfer encoding
        for part in message.walk():
            if not part.is_multipart():
                places.append((message["Subject"], part.get_payload(decode=True) or b""))
    leaks = [(where, n.decode()) for where, blob in places for n in needles if n in blob]
    assert leaks == []
