"""Benchmark: publishing one new quarter on top of 40 quarters of history, against publishing the same
quarter onto an empty history, in PostgreSQL. Goal (issue #7): within 1.2× (the cost of a publish grows
with the new submissions, not with the history).

One quarter of every team's five datasets is ingested once for real (bench/scale.py's files, kept in
bench/results/history-<teams>/); its accepted snapshots then stand for every quarter: the ledger gets one
accepted submission per team, dataset and quarter for the 40 quarters before the new one (2016Q3–2026Q2),
all published, and then the new quarter's (2026Q3), whose publish is timed. The other side publishes only
the new quarter's submissions into an empty database. Each side runs in its own process.

    .venv/bin/python bench/history.py               # 13 teams; or: make bench-history
    .venv/bin/python bench/history.py --teams 145
"""
from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import KEY, PG_ADMIN, RESULTS, Stages, fresh_database, peak_rss_mb, print_table, run_side, write_results  # noqa: E402

TEMPLATE_QUARTER = "2026Q3"  # the quarter of the files ingested once (bench/scale.py)
NEW = TEMPLATE_QUARTER  # the quarter published as new (--new)
HISTORY = 40


def template(teams: int) -> dict:
    """The accepted snapshots of one real ingest of a quarter (team × dataset → ledger fields)."""
    import scale

    root = RESULTS / f"history-{teams}"
    done = root / "template.json"
    if done.exists():
        return json.loads(done.read_text())
    registry, inbox = scale.prepare(teams)
    shutil.rmtree(root, ignore_errors=True)
    import airflow.sdk  # noqa: F401

    from thb_reporting.store import ledger
    from thb_reporting.core.config import PipelineConfig
    from thb_reporting.intake.ingest import collect_new_submissions, process_submissions
    from thb_reporting.store.warehouse import reporting_engine

    config = PipelineConfig.local(root / "data", KEY, inbox=inbox.resolve().as_uri(), teams_registry=str(registry))
    process_submissions(config, collect_new_submissions(config))
    with reporting_engine(config.reporting_db_url).connect() as conn:
        rows = [r for r in ledger.submissions(conn) if r.status == ledger.Status.ACCEPTED]
    out = {"registry": str(registry), "data_root": config.data_root,
           "snapshots": [{k: getattr(r, k) for k in ("team_code", "dataset", "file_name", "size_bytes", "rows_total",
                                                     "rows_accepted", "measure", "archive_path", "snapshot_path")}
                         for r in rows]}
    done.write_text(json.dumps(out))
    return out


def _quarters(last: str, n: int) -> list[str]:
    from thb_reporting.core.quarters import Quarter

    q, out = Quarter.parse(last), []
    for _ in range(n):
        q = q.previous()
        out.append(str(q))
    return sorted(out)


def _register(conn, snapshots: list[dict], quarter: str) -> None:
    """Accepted submissions for `quarter` made of the template's snapshots (written in bulk: a bench's
    history of 40 quarters, not a lifecycle)."""
    from thb_reporting.store.ledger import SUBMISSIONS, Notification, Status
    from thb_reporting.core.quarters import Quarter

    received = dt.datetime.combine(Quarter.parse(quarter).end + dt.timedelta(days=5), dt.time(9), dt.timezone.utc)
    conn.execute(SUBMISSIONS.insert(), [
        {**s, "file_name": s["file_name"].replace(TEMPLATE_QUARTER, quarter), "quarter": quarter, "inbox_path": s["archive_path"],
         "content_sha256": hashlib.sha256(f"{s['snapshot_path']}:{quarter}".encode()).hexdigest(),
         "received_at": received, "processed_at": received, "status": Status.ACCEPTED.value, "error_count": 0,
         "warning_count": 0, "summary": "accepted", "notification": Notification.SENT.value}
        for s in snapshots])


def run(side: str, teams: int, phase: str) -> dict:
    """phase setup: a fresh database for the side (the history side also gets its 40 quarters, published);
    phase measure: the new quarter's submissions registered and published, timed. Each phase runs in its
    own process, as each publish is its own Airflow task: the timed one starts as cold on both sides."""
    import airflow.sdk  # noqa: F401

    from sqlalchemy import text

    from thb_reporting.core.config import PipelineConfig
    from thb_reporting.publishing.publish import publish
    from thb_reporting.store.migrations import ensure_schema
    from thb_reporting.store.warehouse import reporting_engine

    made = template(teams)
    work = RESULTS / f"history-work-{side}"
    name = f"thb_bench_history_{side}"
    if phase == "setup":
        shutil.rmtree(work, ignore_errors=True)
        url = fresh_database(name)
    else:
        url = PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    config = PipelineConfig.local(work, KEY, reporting_db_url=url, teams_registry=made["registry"])
    engine = reporting_engine(config.reporting_db_url)
    if phase == "setup":
        ensure_schema(engine)
        started = time.perf_counter()
        if side == "history":
            with engine.begin() as conn:
                for quarter in _quarters(NEW, HISTORY):
                    _register(conn, made["snapshots"], quarter)
            publish(config)
        # Settled as a running system's database would be: statistics current, the bulk writes flushed,
        # so that autovacuum and a checkpoint do not run into the timed publish.
        with engine.execution_options(isolation_level="AUTOCOMMIT").connect() as conn:
            conn.execute(text("VACUUM ANALYZE"))
            conn.execute(text("CHECKPOINT"))
        return {"setup_s": time.perf_counter() - started}
    with engine.begin() as conn:
        _register(conn, made["snapshots"], NEW)
    stages = Stages()
    if os.environ.get("THB_BENCH_PROFILE"):  # where the measured publish spends its time, on stderr
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        summary = profiler.runcall(publish, config)
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(30)
    else:
        summary = publish(config)
    stages.done("publish")
    assert sum(len(c["changed"]) for c in summary.values()) == len(made["snapshots"]), summary
    return {"stages": stages.times, "peak_rss_mb": peak_rss_mb(), "submissions": len(made["snapshots"])}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--teams", type=int, default=13)
    parser.add_argument("--new", default=TEMPLATE_QUARTER,
                        help="the new quarter (default 2026Q3: the year's Q1 and Q2 are then part of the history, "
                             "and a publish recomputes its year; 2026Q1 has no earlier quarter in its year)")
    parser.add_argument("--side", choices=["history", "empty"], help=argparse.SUPPRESS)
    parser.add_argument("--phase", choices=["setup", "measure"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    global NEW
    NEW = args.new
    if args.side:
        print(json.dumps(run(args.side, args.teams, args.phase)))
        return 0
    started = time.perf_counter()
    made = template(args.teams)
    print(f"one quarter ingested for real: {len(made['snapshots'])} snapshots of {args.teams} teams "
          f"({time.perf_counter() - started:.0f} s if new)")
    sides = {}
    for side in ("empty", "history"):
        setup = run_side(__file__, side, "--phase", "setup", "--teams", str(args.teams), "--new", NEW)
        sides[side] = {**run_side(__file__, side, "--phase", "measure", "--teams", str(args.teams), "--new", NEW), **setup}
    empty, history = sides["empty"], sides["history"]
    print(f"publishing the {HISTORY} quarters of history at once: {history['setup_s']:.1f} s (with VACUUM ANALYZE)")
    summary = print_table(empty, history, f"publishing {NEW} ({len(made['snapshots'])} submissions) onto {HISTORY} quarters "
                          f"of history vs onto an empty history (goal ≤ 1.2)", base_name="empty")
    print(f"results: {write_results(f'history-{args.teams}-{NEW}', {'teams': args.teams, 'summary': summary, 'empty': empty, 'history': history})}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
