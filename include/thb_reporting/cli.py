"""`thb` command: regenerate suites and templates, generate synthetic submissions, run the demo."""
from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from thb_reporting.config import PROJECT_ROOT

DEMO_KEY = "demo-only-pseudonymisation-key--not-a-secret"  # public: the demo's synthetic data only
DEMO_QUARTERS = ["2026Q2", "2026Q3"]
DEMO_PLANTS = {
    ("subotica", "2026Q2"): "unknown_code",
    ("novi_sad", "2026Q3"): "jmbg",
    ("nis", "2026Q3"): "date_outside_quarter",
    ("kikinda", "2026Q2"): "missing_column",
}


def _print_table(title: str, rows, headers) -> None:
    rows = [[("" if v is None else str(v)) for v in r] for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    print(f"\n{title}")
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths)))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths)))


def show_published(db_url: str) -> None:
    from sqlalchemy import case, func, select

    from thb_reporting.warehouse import reporting_engine, table

    subs, ind = table("submissions", "ledger"), table("victims_by_team_quarter")
    engine = reporting_engine(db_url)
    with engine.connect() as conn:
        ledger = conn.execute(select(
            subs.c.submission_id, subs.c.team_code, subs.c.file_name, subs.c.status, subs.c.rows_accepted,
            subs.c.superseded_by, func.substr(subs.c.summary, 1, 90),
        ).order_by(subs.c.submission_id)).all()
        # Persons by status come from the fact table: the indicator table counts a person once per form
        # of exploitation, so its sums over forms are not head counts.
        victims = table("victims")
        per_team = conn.execute(select(
            victims.c.team_code, victims.c.quarter,
            func.sum(case((victims.c.status == "identified_victim", 1), else_=0)),
            func.sum(case((victims.c.status == "possible_victim", 1), else_=0)),
            func.sum(case((victims.c.status == "not_a_victim", 1), else_=0)),
            func.count(),
        ).group_by(victims.c.team_code, victims.c.quarter).order_by(victims.c.quarter, victims.c.team_code)).all()
        forms = conn.execute(select(
            ind.c.quarter, ind.c.exploitation, ind.c.age_group, func.sum(ind.c.victims),
        ).where(ind.c.status != "not_a_victim").group_by(ind.c.quarter, ind.c.exploitation, ind.c.age_group)
          .order_by(ind.c.quarter, ind.c.exploitation, ind.c.age_group)).all()
    _print_table("Submissions ledger (ledger.submissions)", ledger,
                 ["id", "team", "file", "status", "rows", "superseded_by", "summary"])
    _print_table("Persons published per team and quarter (national.victims)", per_team,
                 ["team", "quarter", "identified", "possible", "not_a_victim", "total"])
    _print_table("Victims (identified and possible) by form of exploitation and age group "
                 "(national.victims_by_team_quarter, all teams)", forms,
                 ["quarter", "exploitation", "age_group", "victims"])


def demo(args) -> int:
    from thb_reporting.airflow_runs import airflow_environment

    data = Path(args.data).resolve()
    os.environ.update(airflow_environment(Path(args.airflow_home).resolve()))
    os.environ["AIRFLOW_VAR_THB_DATA_ROOT"] = data.as_uri()
    os.environ.setdefault("AIRFLOW_VAR_THB_PSEUDONYMISATION_KEY", DEMO_KEY)
    from thb_reporting import reference
    from thb_reporting.airflow_runs import migrate_metadata_db, run_dag
    from thb_reporting.config import sqlite_url
    from thb_reporting.generator import SubmissionGenerator

    if data.exists():
        shutil.rmtree(data)
    print(f"1. Generating synthetic submissions for {len(reference.teams())} teams × {len(DEMO_QUARTERS)} quarters "
          f"into {data / 'inbox'} ({len(DEMO_PLANTS)} with planted errors)")
    generator = SubmissionGenerator(data / "inbox", seed=args.seed)
    generator.scenario(list(reference.teams()), DEMO_QUARTERS, DEMO_PLANTS)
    print("2. Preparing Airflow's metadata database (airflow db migrate)")
    migrate_metadata_db()
    for dag_id in ("ingest_submissions", "publish_national_tables"):
        print(f"3. Running DAG {dag_id} with dag.test()")
        run = run_dag(dag_id)
        print(f"   {dag_id}: {run.state}")
        if run.state != "success":
            return 1
    team, quarter = next(iter(DEMO_PLANTS))
    print(f"4. Team {team} sends a corrected {quarter} file; both DAGs run again")
    generator.victims_file(team, quarter, version=2)
    for dag_id in ("ingest_submissions", "publish_national_tables"):
        if run_dag(dag_id).state != "success":
            return 1
    db = data / "warehouse" / "reporting.sqlite"
    show_published(sqlite_url(db))
    print(f"\nPublished into {db} (SQLite). Snapshots: {data / 'snapshots'}; quarantined files and their "
          f"findings: {data / 'quarantine'}; every file received: {data / 'archive'}.")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="thb", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("suites", help="write expectations/<dataset>.json from the data contracts")
    sub.add_parser("dictionary", help="write docs/data-dictionary.md from the contracts and the warehouse model")
    p = sub.add_parser("templates", help="write blank team templates (CSV and XLSX)")
    p.add_argument("target", nargs="?", default=str(PROJECT_ROOT / "build" / "templates"))
    p = sub.add_parser("generate", help="write synthetic submissions into an inbox folder")
    p.add_argument("inbox")
    p.add_argument("--quarters", nargs="+", default=DEMO_QUARTERS)
    p.add_argument("--seed", type=int, default=2026)
    p = sub.add_parser("demo", help="generate submissions, run both DAGs with dag.test(), show what was published")
    p.add_argument("--data", default=str(PROJECT_ROOT / "data" / "demo"))
    p.add_argument("--airflow-home", default=str(PROJECT_ROOT / ".airflow"))
    p.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args(argv)
    if args.command == "suites":
        from thb_reporting.suites import write_suites

        for path in write_suites():
            print(f"wrote {path}")
    elif args.command == "dictionary":
        from thb_reporting.dictionary import write

        print(f"wrote {write()}")
    elif args.command == "templates":
        from thb_reporting.templates import write_templates

        for path in write_templates(Path(args.target)):
            print(f"wrote {path}")
    elif args.command == "generate":
        from thb_reporting import reference
        from thb_reporting.generator import SubmissionGenerator

        truth = SubmissionGenerator(Path(args.inbox), args.seed).scenario(list(reference.teams()), args.quarters)
        print(f"wrote {len(truth.files)} files into {args.inbox}")
    elif args.command == "demo":
        return demo(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
