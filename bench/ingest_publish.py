"""Benchmark: one large victims file through each stage of the pipeline, next to a bare baseline doing
the same work in the same run (pyarrow CSV read → the contract's rules as pandas masks → keyed BLAKE2b of
the two references → Parquet zstd → COPY into PostgreSQL from pyarrow's CSV writer).

Each side runs in its own process so that peak memory (max RSS) is its own. Prints every stage's time,
the ratio project / baseline, and peak memory; writes bench/results/ingest_publish.json.

    .venv/bin/python bench/ingest_publish.py --rows 1000000      # or: make bench
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import KEY, RESULTS, Stages, bare_validate, fresh_database, peak_rss_mb, print_table, run_side, write_results  # noqa: E402

QUARTER = "2026Q1"


def make_file(rows: int) -> Path:
    """A victims CSV of `rows` generated people (kept between runs of the same size)."""
    from thb_reporting.tools.generator import SubmissionGenerator

    target = RESULTS / f"inbox-{rows}" / "nis" / f"victims_{QUARTER}.csv"
    if not target.exists():
        SubmissionGenerator(target.parents[1], seed=1).victims_file("nis", QUARTER, file_format="csv_utf8", people=rows)
    return target


def run_project(path: Path, workdir: Path) -> dict:
    """The project's own code, stage by stage, as the ingest and publish tasks call it."""
    from sqlalchemy import text

    from thb_reporting.core import contracts
    from thb_reporting.store.snapshots import stored_rows, write_snapshot
    from thb_reporting.core.privacy import pseudonymiser
    from thb_reporting.store.storage import storage_path
    from thb_reporting.reading.submission_files import parse_file_name, read_submission
    from thb_reporting.validation.checks import finish, prepare
    from thb_reporting.validation.suite_runner import SuiteRunner, import_gx_in_background
    from thb_reporting.store.migrations import ensure_schema
    from thb_reporting.store.warehouse import insert_rows, reporting_engine, table

    import airflow.sdk  # noqa: F401  (loaded in every Airflow task before our code runs)

    engine = reporting_engine(fresh_database("thb_bench_project"))
    ensure_schema(engine)
    stages = Stages()
    # As process_submissions does: GX is imported on a thread while the file is read and typed, and the
    # runner (GX's context) made when the suite is first needed (_IngestRun.runner).
    import_gx_in_background()
    stages.done("gx_start")
    name = parse_file_name(path.name)
    frame = read_submission(path.read_bytes(), name)
    stages.done("read")
    prepared = prepare(frame, contracts.for_quarter("victims", name.quarter))
    stages.done("validate")
    runner = SuiteRunner(("victims",))  # what is left of GX's import, and its context: once per task
    stages.done("gx_start")
    outcome = finish(prepared, contracts.for_quarter("victims", name.quarter), name.quarter, runner)
    assert not outcome.errors, outcome.errors[:3]
    stages.done("validate")
    rows = stored_rows(outcome.typed, contracts.for_quarter("victims", name.quarter), pseudonymiser(KEY))
    stages.done("pseudonymise")
    target = storage_path((workdir / "project.parquet").as_uri())
    write_snapshot(target, rows)
    stages.done("parquet")
    # Publishing is another task (its own process in Airflow): nothing of the ingest is held beyond here.
    count_read = len(frame)
    del frame, prepared, outcome, rows
    import datetime as dt
    from types import SimpleNamespace

    from thb_reporting.store.snapshots import snapshot_rows

    submission = SimpleNamespace(snapshot_path=str(target), submission_id=1, team_code="nis", quarter=QUARTER,
                                 content_sha256="0" * 64, received_at=dt.datetime.now(dt.timezone.utc))
    loaded = snapshot_rows(submission)
    with engine.begin() as conn:
        insert_rows(conn, table("victims"), loaded)
        count = conn.execute(text("SELECT count(*) FROM national.victims")).scalar_one()
    assert count == count_read
    stages.done("publish")
    return {"rows": count_read, "stages": stages.times, "cpu": stages.cpu, "peaks": stages.peaks}


def run_baseline(path: Path, workdir: Path) -> dict:
    """The same work with nothing but pyarrow, pandas, hashlib and psycopg."""
    import hashlib
    import io

    import pandas as pd
    import psycopg
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from thb_reporting.core import contracts
    from thb_reporting.core.contracts import band_bounds
    from thb_reporting.core.quarters import Quarter

    url = fresh_database("thb_bench_baseline").replace("postgresql+psycopg://", "postgresql://")
    contract = contracts.for_quarter("victims", QUARTER)  # the version the generated file is written under
    stages = Stages()
    stages.done("gx_start")  # the baseline has no such cost
    names = list(contract.column_names)
    table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
        column_types={c: pa.string() for c in names}, strings_can_be_null=True))
    df = table.to_pandas()
    stages.done("read")
    quarter = Quarter.parse(QUARTER)
    bad, parsed = bare_validate(df, contract, quarter)
    assert bad == 0
    age, dates = parsed["age_years"], parsed["referral_date"]
    stages.done("validate")
    # As bare as the project's own: one keyed BLAKE2b state copied per value, bands and dates in arrow.
    def tokens(values):
        keyed = hashlib.blake2b(key=KEY, digest_size=16)
        out = []
        for v in values:
            if v is None or v != v:
                out.append(None)
                continue
            h = keyed.copy()
            h.update(v.encode())
            out.append(h.hexdigest())
        return pa.array(out, pa.string())

    for ref in ("case_ref", "cptv_ref"):
        df[ref] = pd.Series(pd.arrays.ArrowExtensionArray(tokens(df[ref].to_numpy(dtype=object, na_value=None))))
    bands = band_bounds("age_band")  # the contract's band list, as ingest bands ages
    df["age_years"] = pd.cut(age, [-1, *(high if high is not None else 200 for _, _, high in bands)], labels=[c for c, *_ in bands])
    df["referral_date"] = pd.Series(pd.arrays.ArrowExtensionArray(pa.array(dates.to_numpy(), pa.timestamp("ns")).cast(pa.date32())))
    out = pa.Table.from_pandas(df, preserve_index=False)
    stages.done("pseudonymise")
    pq.write_table(out, workdir / "baseline.parquet", compression="zstd")
    stages.done("parquet")
    count_read = len(df)
    del df, table, out, age, dates, parsed  # as on the project's side: publishing starts from the Parquet file
    loaded = pq.read_table(workdir / "baseline.parquet")
    buf = io.BytesIO()
    pacsv.write_csv(loaded, buf, pacsv.WriteOptions(include_header=False))
    columns = ", ".join(f'"{c}" text' if c != "referral_date" else '"referral_date" date' for c in loaded.column_names)
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE TABLE victims ({columns})")
        with cur.copy("COPY victims FROM STDIN (FORMAT csv)") as copy:
            copy.write(buf.getvalue())
        cur.execute("SELECT count(*) FROM victims")
        assert cur.fetchone()[0] == count_read
    stages.done("publish")
    return {"rows": count_read, "stages": stages.times, "cpu": stages.cpu, "peaks": stages.peaks}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--side", choices=["project", "baseline"], help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    if args.side:  # one side, in its own process
        import json

        workdir = RESULTS / f"work-{args.side}"
        workdir.mkdir(exist_ok=True)
        result = (run_project if args.side == "project" else run_baseline)(Path(args.file), workdir)
        result["peak_rss_mb"] = peak_rss_mb()
        print(json.dumps(result))
        return 0
    started = time.perf_counter()
    path = make_file(args.rows)
    print(f"input: {path} ({path.stat().st_size / 2**20:.0f} MB, {args.rows} rows; generated in "
          f"{time.perf_counter() - started:.0f} s if new)")
    results = {side: run_side(__file__, side, "--file", str(path)) for side in ("baseline", "project")}
    summary = print_table(results["baseline"], results["project"], f"one victims file of {args.rows} rows (goal ≤ 1.5×)")
    print(f"results: {write_results('ingest_publish', {'rows': args.rows, 'summary': summary, **results})}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
