"""Snapshots in the hive layout snapshots/dataset=<name>/team=<code>/quarter=<q>/, read by DuckDB as one
table per dataset; several codes kept as lists; snapshots of the earlier layout migrated."""
from __future__ import annotations

import io
import secrets
import shutil
from pathlib import Path

from helpers import dump, ledger
from oracle import Truth
from thb_reporting.core import contracts
from thb_reporting.intake import ingest
from thb_reporting.publishing import publish
from thb_reporting.store import snapshots
from thb_reporting.tools.cli import main as thb
from thb_reporting.store.storage import storage_path

TEAMS = ["subotica", "nis", "vranje"]
QUARTERS = ["2026Q1", "2026Q2"]
PUBLISHED = ("victims", "victims_by_team_quarter", "indicators", "public_indicators", "criminal_justice",
             "publications")


def _local(url: str) -> Path:
    return Path(url.removeprefix("file://"))


def _ingest(config, generator, datasets=("victims",)):
    truth = Truth(generator.scenario(TEAMS, QUARTERS, datasets=datasets))
    outcome = ingest.process_submissions(config, ingest.collect_new_submissions(config))
    assert not outcome["rejected"] and not outcome["failed"]
    return truth


def test_duckdb_reads_every_snapshot_of_a_dataset_as_one_typed_table(config, generator):
    import duckdb

    truth = _ingest(config, generator)
    root = _local(config.data_root) / "snapshots"
    accepted = [r for r in ledger(config.reporting_db_url) if r.status == "accepted"]
    assert len(accepted) == len(TEAMS) * len(QUARTERS)
    for r in accepted:
        assert f"/snapshots/dataset=victims/team={r.team_code}/quarter={r.quarter}/{r.submission_id:08d}-" in r.snapshot_path

    con = duckdb.connect()
    pattern = str(root / "dataset=victims" / "**" / "*.parquet")
    relation = con.sql(f"SELECT * FROM read_parquet('{pattern}', hive_partitioning = true)")
    types = dict(zip(relation.columns, map(str, relation.types)))
    assert types["exploitation"] == "VARCHAR[]" and types["services"] == "VARCHAR[]"
    assert types["referral_date"] == "DATE"
    assert types["dataset"] == types["team"] == types["quarter"] == "VARCHAR"
    stored = ["source_row", *(name for name, _ in contracts.for_quarter("victims", QUARTERS[-1]).stored_columns())]
    assert relation.columns[: len(stored)] == stored and set(relation.columns[len(stored):]) == {"dataset", "team", "quarter"}

    # the partition columns say which team and quarter each row came from; the lists hold the file's codes
    counts = dict(((t, q), n) for t, q, n in con.sql(
        f"SELECT team, quarter, count(*) FROM read_parquet('{pattern}', hive_partitioning = true) "
        f"WHERE dataset = 'victims' GROUP BY ALL").fetchall())
    assert counts == {(f.team, f.quarter): len(f.rows) for f in truth.files}
    read = {(t, q, row): forms for t, q, row, forms in con.sql(
        f"SELECT team, quarter, source_row, exploitation FROM read_parquet('{pattern}', hive_partitioning = true)").fetchall()}
    for f in truth.files:
        for i, person in enumerate(f.rows, start=2):
            expected = sorted(set(person["exploitation"].split(";"))) if person.get("exploitation") else None
            assert read[(f.team, f.quarter, i)] == expected, (f.file_name, i)
    # a list in the snapshot, ';'-joined text in the warehouse, as before
    assert {len(v) for v in read.values() if v} > {1}
    publish.publish(config, ("victims",))
    from sqlalchemy import select

    from thb_reporting.store.warehouse import reader_engine, table

    t = table("victims")
    with reader_engine(config.reporting_db_url).connect() as conn:
        published = {(r.team_code, r.quarter, r.source_row): r.exploitation
                     for r in conn.execute(select(t.c.team_code, t.c.quarter, t.c.source_row, t.c.exploitation))}
    assert published == {k: (";".join(v) if v is not None else None) for k, v in read.items()}


def _to_earlier_layout(config) -> int:
    """Rewrite every snapshot as the earlier code kept it (snapshots/<dataset>/team=…, several codes as
    ';'-joined text) and point the ledger there: an installation from before the hive layout."""
    import pyarrow.parquet as pq
    from sqlalchemy import update

    from thb_reporting.store.warehouse import reporting_engine, table

    subs = table("submissions", "ledger")
    moved = 0
    with reporting_engine(config.reporting_db_url).begin() as conn:
        for r in conn.execute(subs.select().where(subs.c.snapshot_path.is_not(None))).all():
            new = storage_path(r.snapshot_path)
            old = storage_path(r.snapshot_path.replace("/snapshots/dataset=", "/snapshots/"))
            rows = snapshots.joined_codes(pq.read_table(io.BytesIO(new.read_bytes())))
            buf = io.BytesIO()
            pq.write_table(rows, buf)
            old.parent.mkdir(parents=True, exist_ok=True)
            old.write_bytes(buf.getvalue())
            new.unlink()
            conn.execute(update(subs).where(subs.c.submission_id == r.submission_id).values(snapshot_path=str(old)))
            moved += 1
    for folder in (_local(config.data_root) / "snapshots").glob("dataset=*"):
        shutil.rmtree(folder)  # (empty folders only, now)
    return moved


def test_snapshots_of_the_earlier_layout_are_migrated_and_publish_the_same_tables(config, generator, capsys):
    import pyarrow as pa
    import pyarrow.parquet as pq

    _ingest(config, generator, datasets=("victims", "criminal_justice"))
    publish.publish(config)
    before = {name: dump(config.reporting_db_url, name) for name in PUBLISHED}
    paths = {r.submission_id: r.snapshot_path for r in ledger(config.reporting_db_url) if r.snapshot_path}

    count = _to_earlier_layout(config)
    assert count == len(paths) and all("/snapshots/dataset=" not in r.snapshot_path
                                       for r in ledger(config.reporting_db_url) if r.snapshot_path)
    assert {p.name for p in (_local(config.data_root) / "snapshots").iterdir()} == {"victims", "criminal_justice"}

    # the command moves them all, once
    argv = [config.data_root, "--db", config.reporting_db_url]
    assert thb(["migrate-snapshots", *argv]) == 0
    assert f"moved {count} snapshots" in capsys.readouterr().out
    assert {r.submission_id: r.snapshot_path for r in ledger(config.reporting_db_url) if r.snapshot_path} == paths
    assert {p.name for p in (_local(config.data_root) / "snapshots").iterdir()} == {"dataset=victims", "dataset=criminal_justice"}
    for path in paths.values():
        schema = pq.read_schema(_local(path))
        if "/dataset=victims/" in path:
            assert pa.types.is_list(schema.field("exploitation").type)
    assert thb(["migrate-snapshots", *argv]) == 0
    assert "moved 0 snapshots" in capsys.readouterr().out

    # publish migrates by itself; everything published again from the migrated snapshots is the same
    _to_earlier_layout(config)
    from sqlalchemy import delete

    from thb_reporting.store.warehouse import reporting_engine, table

    with reporting_engine(config.reporting_db_url).begin() as conn:
        conn.execute(delete(table("publications")))  # so that every team-quarter is published again
    summary = publish.publish(config)
    assert sum(len(s["changed"]) for s in summary.values()) == len(paths)
    assert {r.submission_id: r.snapshot_path for r in ledger(config.reporting_db_url) if r.snapshot_path} == paths
    assert {name: dump(config.reporting_db_url, name) for name in PUBLISHED} == before


def test_snapshots_read_together_give_what_each_gives_read_alone(config, generator):
    """rows_of_snapshots (publish and the e-mails' figures read a quarter's snapshots with it) joins the
    codes and adds the lineage once for many files: the same table as snapshot_rows of each, one after
    another, whether the files share one schema or not, and whichever way they are read."""
    from concurrent.futures import ThreadPoolExecutor

    import pyarrow.parquet as pq

    _ingest(config, generator)
    subs = sorted((r for r in ledger(config.reporting_db_url) if r.status == "accepted"), key=lambda r: r.submission_id)
    assert len(subs) == len(TEAMS) * len(QUARTERS)

    def alone():
        return snapshots.concat_snapshots([snapshots.snapshot_rows(s) for s in subs])

    together = snapshots.rows_of_snapshots(subs)
    assert together.equals(alone()) and together.num_rows == sum(snapshots.snapshot_rows(s).num_rows for s in subs)
    assert {(s, t) for s, t in zip(together["submission_id"].to_pylist(), together["team_code"].to_pylist())} == {
        (s.submission_id, s.team_code) for s in subs}
    # one snapshot of another schema (as of a quarter under another contract version): read file by file
    path = storage_path(subs[1].snapshot_path)
    rows = pq.read_table(io.BytesIO(path.read_bytes()))
    buf = io.BytesIO()
    pq.write_table(rows.drop_columns(["services"]), buf)
    path.write_bytes(buf.getvalue())
    with ThreadPoolExecutor(max_workers=2) as readers:
        mixed = snapshots.rows_of_snapshots(subs, read=readers.map)
    assert mixed.equals(alone()) and mixed["services"].null_count >= rows.num_rows
    assert snapshots.rows_of_snapshots([]) is None


def test_a_typed_frame_in_many_chunks_is_stored_as_the_same_rows(tmp_path):
    """stored_rows keeps the typed frame's chunks (a large file is read in many: combining them copied every
    text column): stored from chunks of three rows, the snapshot holds what it holds stored from one chunk."""
    import pandas as pd
    import pyarrow as pa

    from thb_reporting.core.privacy import pseudonymiser
    from thb_reporting.reading.submission_files import parse_file_name, read_submission
    from thb_reporting.tools.generator import SubmissionGenerator
    from thb_reporting.validation.checks import validate
    from thb_reporting.validation.suite_runner import SuiteRunner

    generated = SubmissionGenerator(tmp_path, seed=12).victims_file("sabac", "2026Q3", people=40)
    name = parse_file_name(generated.file_name)
    contract = contracts.for_quarter("victims", name.quarter)
    typed = validate(read_submission(generated.path.read_bytes(), name), contract, name.quarter,
                     SuiteRunner(("victims",))).typed
    texts = [c for c in typed if isinstance(typed[c].dtype, pd.StringDtype)]
    assert {"case_ref", "status", "exploitation", "services"} <= set(texts)

    def in_chunks(column, size):
        whole = pa.chunked_array(typed[column].array._pa_array).combine_chunks()
        return pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array(
            [whole.slice(i, size) for i in range(0, len(whole), size)], whole.type)), index=typed.index)

    one = typed.assign(**{c: in_chunks(c, len(typed)) for c in texts})
    many = typed.assign(**{c: in_chunks(c, 3) for c in texts})
    assert many["status"].array._pa_array.num_chunks == 14 and one["status"].array._pa_array.num_chunks == 1
    key = pseudonymiser(secrets.token_hex(32).encode())
    stored_one, stored_many = snapshots.stored_rows(one, contract, key), snapshots.stored_rows(many, contract, key)
    assert stored_many.schema.equals(stored_one.schema) and stored_many.equals(stored_one)
    for rows, target in ((stored_one, tmp_path / "one.parquet"), (stored_many, tmp_path / "many.parquet")):
        snapshots.write_snapshot(storage_path(target.as_uri()), rows)
    assert snapshots._read_snapshot(str((tmp_path / "many.parquet").as_uri())).equals(
        snapshots._read_snapshot(str((tmp_path / "one.parquet").as_uri())))
