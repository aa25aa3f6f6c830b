"""Benchmark: a full quarter of every municipality, then a cycle with nothing new.

A synthetic registry of 145 municipalities (the 13 real teams and 132 invented ones,
thb_reporting.tools.synthetic_files.synthetic_registry) and one file per team and dataset for one quarter: 725
files of the generator's usual size (4–24 rows; CSV in UTF-8, UTF-8 with BOM, Windows-1250 with ';' and
XLSX from the template, as teams send them), kept in bench/results/scale/ between runs.

- **quarter**: one ingest cycle (the tasks collect_new_submissions, validate_and_snapshot,
  announce_new_snapshots, notify_teams, as the DAG calls them) and one publish, into PostgreSQL.
  Baseline in the same run: the bare work on the same files (hash and copy each file, read it with
  pyarrow/openpyxl, the contract's rules as pandas masks, keyed BLAKE2b of the references, one Parquet
  per file, one COPY per dataset). Goal (issue #7): ≤ 5 minutes on 2 cores.
- **nothing new**: the same four ingest tasks again with the inbox unchanged (publish is not triggered).
  Baseline: listing the inbox with the size and time of every file. Goal: ≤ 10 s of task time.
  Then the same cycle as a real run of the DAG ingest_submissions (dag.test(), a fresh Airflow metadata
  database), whose task instances' durations are summed: what the scheduler would see. Run twice in one
  process: the first run's first task also waits for dag.test()'s in-process API to start, which a
  scheduler's tasks do not; the second run shows the tasks' own time.

Each side runs in its own process (peak memory is its own). Writes bench/results/scale.json.

    .venv/bin/python bench/scale.py                 # or: make bench-scale
    .venv/bin/python bench/scale.py --teams 13      # the real registry only (65 files)
"""
from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    KEY, PG_ADMIN, RESULTS, Stages, bare_read, bare_validate, database_name, fresh_database, peak_rss_mb, print_table,
    run_side, write_results,
)
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "support"))  # side-effect-free test helpers
from tls_postgres import without_tls  # noqa: E402

QUARTER = "2026Q3"


def prepare(teams: int) -> tuple[Path, Path]:
    """The registry and the inbox (generated once per registry size)."""
    from thb_reporting.core import contracts, reference
    from thb_reporting.tools.generator import SubmissionGenerator
    from thb_reporting.tools.synthetic_files import synthetic_registry

    root = RESULTS / f"scale-{teams}"
    registry = root / "teams.csv"
    inbox = root / "inbox"
    if not (root / "complete").exists():
        shutil.rmtree(root, ignore_errors=True)
        synthetic_registry(registry, teams)
        teams = reference.teams(registry)
        SubmissionGenerator(inbox, seed=7, teams=teams).scenario(list(teams), [QUARTER], datasets=contracts.datasets())
        (root / "complete").write_text("")
    return registry, inbox


def run_project(registry: Path, inbox: Path) -> dict:
    import airflow.sdk  # noqa: F401  (loaded in every Airflow task before our code runs)

    from thb_reporting.core.config import PipelineConfig
    from thb_reporting.intake.ingest import collect_new_submissions, process_submissions
    from thb_reporting.messaging.notifications import queue_submission_notices
    from thb_reporting.messaging.outbox import FolderSender, deliver_outbox
    from thb_reporting.publishing.publish import publish, unpublished

    work = RESULTS / "scale-work-project"
    shutil.rmtree(work, ignore_errors=True)
    config = PipelineConfig.local(work, KEY, reporting_db_url=fresh_database("thb_bench_scale"),
                                  inbox=inbox.resolve().as_uri(), teams_registry=str(registry))
    sender = FolderSender(f"{config.data_root}/outbox")
    result = {}
    for cycle in ("quarter", "nothing_new"):
        stages = Stages()
        ids = collect_new_submissions(config)
        stages.done("collect")
        outcome = process_submissions(config, ids) if ids else {}
        stages.done("validate_and_snapshot")
        waiting = unpublished(config)
        stages.done("announce")
        queue_submission_notices(config)
        deliver_outbox(config, sender)
        stages.done("notify")
        if waiting:
            publish(config)
            stages.done("publish")
        result[cycle] = {"stages": stages.times, "files": len(ids),
                         "outcome": {k: len(v) for k, v in outcome.items()}, "published": len(waiting)}
    result["peak_rss_mb"] = peak_rss_mb()
    return result


def run_airflow(registry: Path, inbox: Path) -> dict:
    """The cycle with nothing new as a real DAG run over the project side's warehouse and inbox."""
    import os
    import tempfile

    from thb_reporting.tools.airflow_runs import airflow_environment, migrate_metadata_db

    home = Path(tempfile.mkdtemp(prefix="thb-bench-airflow-"))
    os.environ.update(airflow_environment(home))
    os.environ.update({
        "AIRFLOW_VAR_THB_DATA_ROOT": (RESULTS / "scale-work-project").resolve().as_uri(),
        "AIRFLOW_VAR_THB_INBOX": inbox.resolve().as_uri(),
        "AIRFLOW_VAR_THB_TEAMS_REGISTRY": str(registry.resolve()),
        "AIRFLOW_VAR_THB_PSEUDONYMISATION_KEY": KEY.decode(),
        "AIRFLOW_CONN_REPORTING_DB": without_tls(PG_ADMIN.rsplit("/", 1)[0] + "/" + database_name("thb_bench_scale")),
    })
    migrate_metadata_db()
    from thb_reporting.tools.airflow_runs import run_dag

    runs = []
    for _ in range(2):  # the first run in a process also starts dag.test()'s in-process API (in its first task's
        # start request, about 3 s), which a scheduler's tasks do not: the second shows the tasks' own time
        started = time.perf_counter()
        run = run_dag("ingest_submissions")
        wall = time.perf_counter() - started
        runs.append({"state": str(run.state), "wall_s": wall, "task_s": {
            ti.task_id: (ti.end_date - ti.start_date).total_seconds() for ti in run.get_task_instances()
            if ti.start_date and ti.end_date}})
    shutil.rmtree(home, ignore_errors=True)
    return {**runs[0], "again": runs[1]}


def run_baseline(registry: Path, inbox: Path) -> dict:
    import hashlib
    import io
    import os
    import re

    import pandas as pd
    import psycopg
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from thb_reporting.core import contracts
    from thb_reporting.core.quarters import Quarter

    work = RESULTS / "scale-work-baseline"
    shutil.rmtree(work, ignore_errors=True)
    url = fresh_database("thb_bench_scale_baseline").replace("postgresql+psycopg://", "postgresql://")
    quarter = Quarter.parse(QUARTER)
    result = {}
    stages = Stages()
    files = sorted(p for p in inbox.rglob("*") if p.is_file())
    for path in files:  # archive
        data = path.read_bytes()
        target = work / "archive" / path.parent.name / hashlib.sha256(data).hexdigest() / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    stages.done("collect")
    snapshots: dict[str, list[Path]] = {}
    for path in files:
        dataset = path.name.rsplit("_", 1)[0]
        contract = contracts.for_quarter(dataset, quarter)  # the version of the files' quarter
        df = bare_read(path.read_bytes(), path.suffix == ".xlsx", dataset)
        df.columns = [(re.findall(r"\(([^()]+)\)\s*$", c) or [c])[0].strip().lower() for c in df.columns]
        bare_validate(df, contract, quarter)
        for col in contract.columns:
            if col.privacy == "pseudonymise":
                df[col.name] = [None if v is None or v != v else hashlib.blake2b(v.encode(), key=KEY, digest_size=16).hexdigest()
                                for v in df[col.name]]
        df.insert(0, "team_code", path.parent.name)
        target = work / "snapshots" / dataset / f"{path.parent.name}.parquet"
        target.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pandas(df, preserve_index=False), target, compression="zstd")
        snapshots.setdefault(dataset, []).append(target)
    stages.done("validate_and_snapshot")
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        for dataset, paths in snapshots.items():
            table = pa.concat_tables([pq.read_table(p) for p in paths], promote_options="permissive")
            buf = io.BytesIO()
            pacsv.write_csv(table, buf, pacsv.WriteOptions(include_header=False))
            cur.execute(f"CREATE TABLE {dataset} ({', '.join(f'{c} text' for c in table.column_names)})")
            with cur.copy(f"COPY {dataset} FROM STDIN (FORMAT csv)") as copy:
                copy.write(buf.getvalue())
    stages.done("publish")
    result["quarter"] = {"stages": stages.times, "files": len(files)}
    stages = Stages()
    listing = [(p, os.stat(p).st_size, os.stat(p).st_mtime) for p in sorted(inbox.rglob("*")) if p.is_file()]
    stages.done("list_inbox")
    result["nothing_new"] = {"stages": stages.times, "files": len(listing)}
    result["peak_rss_mb"] = peak_rss_mb()
    del pd
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--teams", type=int, default=145)
    parser.add_argument("--side", choices=["project", "baseline", "airflow"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    started = time.perf_counter()
    registry, inbox = prepare(args.teams)
    if args.side:
        import json

        side = {"project": run_project, "baseline": run_baseline, "airflow": run_airflow}[args.side]
        print(json.dumps(side(registry, inbox)))
        return 0
    files = sum(1 for p in inbox.rglob("*") if p.is_file())
    print(f"inbox: {inbox} ({files} files of {args.teams} teams; prepared in {time.perf_counter() - started:.0f} s if new)")
    base = run_side(__file__, "baseline", "--teams", str(args.teams))
    proj = run_side(__file__, "project", "--teams", str(args.teams))
    summary = {}
    for cycle, title in (("quarter", f"full quarter: {files} files, one ingest cycle and one publish (goal ≤ 300 s)"),
                         ("nothing_new", "a cycle with nothing new (goal ≤ 10 s of task time)")):
        summary[cycle] = print_table({**base[cycle], "peak_rss_mb": base["peak_rss_mb"]},
                                     {**proj[cycle], "peak_rss_mb": proj["peak_rss_mb"]}, title)
    dag_run = run_side(__file__, "airflow", "--teams", str(args.teams))
    summary["nothing_new_dag_run"] = dag_run
    for title, run in (("", dag_run), (" again, in the same process", dag_run["again"])):
        print(f"\nthe same cycle with nothing new as a real run of ingest_submissions (dag.test()){title}: {run['state']}, "
              f"{sum(run['task_s'].values()):.2f} s of task time ("
              + ", ".join(f"{k} {v:.2f}" for k, v in run["task_s"].items()) + f"), {run['wall_s']:.1f} s wall")
    print(f"\nproject outcome: {proj['quarter']['outcome']}, published {proj['quarter']['published']} team-quarters")
    print("(peak RSS is each process's maximum over both cycles)")
    print(f"results: {write_results('scale', {'teams': args.teams, 'files': files, 'summary': summary, 'baseline': base, 'project': proj})}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
