"""`thb` command: regenerate suites and templates, generate synthetic submissions, run the demo."""
from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from thb_reporting.core.config import PROJECT_ROOT
from thb_reporting.figures.indicator_catalogue import category_key

DEMO_KEY_FILE = ".demo-pseudonymisation-key"  # in the demo's data root: the key its synthetic data were made with
DEMO_DATA = PROJECT_ROOT / "data" / "demo"
AIRFLOW_HOME = PROJECT_ROOT / ".airflow"
DEMO_QUARTERS = ["2026Q2", "2026Q3"]
DEMO_PLANTS = {
    ("subotica", "2026Q2"): "unknown_code",
    ("novi_sad", "2026Q3"): "jmbg",
    ("nis", "2026Q3"): "date_outside_quarter",
    ("kikinda", "2026Q2", "criminal_justice"): "conviction_above_indictment",
    ("pancevo", "2026Q3", "programmes"): "missing_column",
}


NO_DATA = "—"  # a period without any figure for the indicator (not a zero)


def _cell(v) -> str:
    if v is None:
        return NO_DATA
    if isinstance(v, float):
        return f"{v:,.0f}" if v.is_integer() else f"{v:.1%}"
    return str(v)


def _print_table(title: str, rows, headers) -> None:
    rows = [[_cell(v) for v in r] for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    print(f"\n{title}")
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths)))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths)))


NATIONAL_LINES = [
    ("Victims (presumed and identified)", "victims", "total", "total"),
    ("  of them identified", "persons_by_status", "status", "identified_victim"),
    ("  women and girls", "victims", "sex", "female"),
    ("  children", "victims", "age_group", "child"),
    ("  foreign citizens", "victims", "citizenship", "foreign"),
    ("  sexual exploitation", "victims", "exploitation", "sexual"),
    ("  labour exploitation", "victims", "exploitation", "labour"),
    ("Share receiving accommodation", "share_receiving_service", "service", "accommodation"),
    ("Share in reintegration programmes", "share_in_reintegration", "total", "total"),
    ("Art. 388: persons indicted", "prosecution_persons", "article_stage", category_key("388", "indictment")),
    ("Art. 388: persons finally convicted", "prosecution_persons", "article_stage", category_key("388", "final_conviction")),
    ("Programme funding, RSD", "programme_funding_rsd", "total", "total"),
    ("  share from local councils for migration", "share_funding_local_migration_councils", "total", "total"),
    ("Activities", "activities", "total", "total"),
    ("  people reached", "people_reached", "total", "total"),
    ("Cross-border cooperation events", "cross_border_events", "total", "total"),
    ("  with North Macedonia", "cross_border_events", "counterpart_country", "MK"),
]


def national_summary_rows(nation: dict[tuple, float]) -> tuple[list[str], list[list]]:
    """(periods, rows) of the national summary: a category missing from a period that has the indicator
    is a true 0; a period without the indicator at all has no data (None), not a 0."""
    periods = sorted({k[0] for k in nation if k[1] in {line[1] for line in NATIONAL_LINES}})
    present = {(k[0], k[1]) for k in nation}
    rows = [[label, *(nation.get((p, *key), 0.0) if (p, key[0]) in present else None for p in periods)]
            for label, *key in NATIONAL_LINES]
    return periods, rows


def show_published(db_url: str) -> None:
    import textwrap

    from sqlalchemy import func, select

    from thb_reporting.store import ledger
    from thb_reporting.store.warehouse import reader_engine, table

    ind = table("indicators")
    with reader_engine(db_url).connect() as conn:
        counts = ledger.status_counts(conn)
        everything = sorted(ledger.submissions(conn), key=lambda r: r.submission_id)
        rejected = [(r.submission_id, r.team_code, r.file_name, r.summary) for r in everything
                    if r.status == ledger.Status.REJECTED]
        resent = ledger.resubmissions(conn)
        current = {r.submission_id: (r.file_name, r.status) for r in everything}
        nation = {tuple(r[:-1]): r[-1] for r in conn.execute(select(
            ind.c.period, ind.c.indicator, ind.c.breakdown, ind.c.category, ind.c.value).where(ind.c.level == "nation"))}
        team_sums = dict(conn.execute(select(ind.c.period, func.sum(ind.c.value)).where(
            ind.c.indicator == "victims", ind.c.level == "team", ind.c.breakdown == "total").group_by(ind.c.period)).all())
        shared = conn.execute(select(ind.c.period, func.count(), func.sum(ind.c.value)).where(
            ind.c.indicator == "victims_also_reported_by_another_team", ind.c.level == "team", ind.c.value > 0)
            .group_by(ind.c.period)).all()
        cov = table("coverage")
        covered = conn.execute(select(cov.c.period, cov.c.dataset, cov.c.coverage, cov.c.description_en)
                               .order_by(cov.c.period, cov.c.dataset)).all()
    _print_table("Submissions received (ledger.submissions)", counts, ["dataset", "status", "files"])
    print("\nRejected, with the reasons (every finding by row and column: ledger.findings)")
    for sid, team, file_name, summary in rejected:
        print(f"  #{sid} {team}: {file_name}")
        print(textwrap.fill(summary or "", width=110, initial_indent="      ", subsequent_indent="      "))
    _print_table("Sent more than once (the latest accepted file is the one published)",
                 [[t, d, q, n, *current[last]] for t, d, q, n, last in resent],
                 ["team", "dataset", "quarter", "files", "latest", "its status"])
    _print_table("Persons reported by more than one team (same CPTV referral number): each team is told "
                 "(indicator victims_also_reported_by_another_team); the district and the nation count them once",
                 [[p, teams, persons, team_sums.get(p), nation.get((p, "victims", "total", "total"))]
                  for p, teams, persons in shared],
                 ["period", "teams told", "such persons, team by team", "victims summed over teams",
                  "victims in the nation"])
    _print_table("What the national figures cover (national.coverage): 'nation' where the Centre for Protection of "
                 "Victims of Trafficking reported every quarter, else the units summed (exports: RS_PART)",
                 [list(r) for r in covered], ["period", "dataset", "coverage", "what it covers"])
    periods, rows = national_summary_rows(nation)
    _print_table(f"National summary (national.indicators, level nation; {NO_DATA} no data for that period)",
                 rows, ["indicator", *periods])


def _database_name(db_url: str) -> str:
    from sqlalchemy import make_url

    url = make_url(db_url)
    if url.get_backend_name() == "sqlite":
        return f"{url.database} (SQLite)"
    return f"{url.render_as_string(hide_password=True)} (PostgreSQL, connection reporting_db)"


def demo_key(data: Path) -> str:
    """The demo's pseudonymisation key: made for its data root when first asked (no published key: those are
    refused, core.privacy), kept there for `thb airflow-ui` on the same data."""
    import secrets

    path = data / DEMO_KEY_FILE
    if not path.exists():
        data.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_hex(32), encoding="ascii")
    return path.read_text(encoding="ascii").strip()


def demo(args) -> int:
    from thb_reporting.tools.airflow_runs import airflow_environment

    data = Path(args.data).resolve()
    os.environ.update(airflow_environment(Path(args.airflow_home).resolve()))
    os.environ["AIRFLOW_VAR_THB_DATA_ROOT"] = data.as_uri()
    from thb_reporting.core import contracts, reference
    from thb_reporting.tools.airflow_runs import migrate_metadata_db, run_dag
    from thb_reporting.core.config import reporting_db_url_from_airflow
    from thb_reporting.tools.generator import SubmissionGenerator

    if data.exists():
        shutil.rmtree(data)
    os.environ.setdefault("AIRFLOW_VAR_THB_PSEUDONYMISATION_KEY", demo_key(data))
    teams = reference.teams(reference.PACKAGE_TEAMS)  # the demo's teams: the package's registry
    print(f"1. Generating synthetic submissions: {len(teams)} reporting units (the Centre: victims only) × "
          f"{len(contracts.datasets())} datasets × "
          f"{len(DEMO_QUARTERS)} quarters into {data / 'inbox'} ({len(DEMO_PLANTS)} with planted errors)")
    generator = SubmissionGenerator(data / "inbox", seed=args.seed, shared_persons=1)
    generator.scenario(list(teams), DEMO_QUARTERS, DEMO_PLANTS, datasets=contracts.datasets())
    print("2. Preparing Airflow's metadata database (airflow db migrate)")
    migrate_metadata_db()
    print("3. Running the DAGs ingest_submissions, then publish_national_tables, with dag.test()")
    for dag_id in ("ingest_submissions", "publish_national_tables"):
        run = run_dag(dag_id)
        print(f"   {dag_id}: {run.state}")
        if run.state != "success":
            return 1
    from thb_reporting.tools.release_cli import demo_releases, show_releases

    print("4. Releasing each demo quarter: a candidate prepared, then approved non-interactively by the demo as "
          "the coordinator (in production a person approves it in the Airflow UI: DAG release_national_figures)")
    first = demo_releases(DEMO_QUARTERS, "the demo's first release")
    team, quarter = next(iter(DEMO_PLANTS))
    print(f"5. Team {team} sends a corrected {quarter} file; both DAGs run again (the working tables change, "
          f"the released figures do not)")
    generator.victims_file(team, quarter, version=2)
    for dag_id in ("ingest_submissions", "publish_national_tables"):
        if run_dag(dag_id).state != "success":
            return 1
    print(f"6. A new release of {quarter}, approved by the demo as the coordinator: it records each revised figure")
    second = demo_releases([quarter], f"corrected file from {team}")
    db_url = reporting_db_url_from_airflow(data.as_uri())  # the connection reporting_db, or the SQLite default
    show_published(db_url)
    show_releases(db_url, first + second)
    emails = sorted((data / "outbox").glob("*.eml"))
    print(f"\nPublished into {_database_name(db_url)}. Exports: {data / 'exports'}. Snapshots: {data / 'snapshots'}; "
          f"quarantined files and their findings: {data / 'quarantine'}; every file received: {data / 'archive'}.")
    print(f"E-mails to the teams: no SMTP connection is configured (AIRFLOW_CONN_SMTP_DEFAULT), so the "
          f"{len(emails)} messages were written as .eml files to {data / 'outbox'} (open them in any mail program).")
    summaries = sorted((data / "exports").glob("*/national_summary_*.html"))
    if summaries:
        print(f"National summaries for the public (small counts suppressed), one per quarter: {summaries[-1]} and "
              f"{len(summaries) - 1} more beside the exports.")
    files = sorted((data / "transmissions").glob("*/*"))
    sent = [p for p in files if not p.name.endswith((".metadata.json", ".validation.json", ".pending.json"))]
    pending = [p.name.removesuffix(".pending.json") for p in files if p.name.endswith(".pending.json")]
    if sent:
        print(f"For Eurostat, UNODC and GRETA, exact figures for the receiver, confidential cells flagged (withheld where the "
              f"structure has no flag, SDG), each with a .metadata.json and, where checked against its structure, a "
              f".validation.json: {', '.join(p.name for p in sent)} in {sent[-1].parent}.")
    if pending:
        print(f"Not sent until the receiver confirms its codes (each .pending.json says which): {', '.join(pending)}.")
    research = sorted((data / "research").glob("*/victims_ctdc_*.csv"))
    if research:
        print(f"For researchers, k-anonymised records in CTDC's layout (with a .metadata.json): {research[-1]}.")
    defaults = data == DEMO_DATA.resolve() and Path(args.airflow_home).resolve() == AIRFLOW_HOME.resolve()
    ui = "make airflow-ui" if defaults else f"thb airflow-ui --data {data} --airflow-home {Path(args.airflow_home).resolve()}"
    print(f"In Airflow: `{ui}`, then http://localhost:8080: the runs of the DAGs with their notes (files accepted and "
          f"rejected), and Browse → Reporting status for the teams × quarters.")
    return 0


def airflow_ui(args) -> None:
    """Replace this process by `airflow standalone` (its process group is the one to signal)."""
    from thb_reporting.tools.airflow_runs import standalone_environment

    data = Path(args.data).resolve()
    env = os.environ | standalone_environment(Path(args.airflow_home).resolve(), data, args.port)
    if (data / DEMO_KEY_FILE).exists():  # a demo's data root: the key its synthetic data were pseudonymised with
        env.setdefault("AIRFLOW_VAR_THB_PSEUDONYMISATION_KEY", demo_key(data))
    if not (data / "warehouse").exists():
        print(f"No published data under {data} yet: run `make demo` first, or the Reporting status page stays empty.")
    print(f"Airflow UI: http://localhost:{args.port} (users engineer, coordinator and viewer, docs/security.md; "
          f"their passwords are printed below and kept in "
          f"{Path(args.airflow_home).resolve() / 'simple_auth_manager_passwords.json.generated'}), "
          f"data root {data}. Ctrl-C stops it.", flush=True)
    airflow = str(Path(sys.executable).with_name("airflow"))
    os.execve(airflow, [airflow, "standalone"], env)


def database_revisions(args) -> int:
    from thb_reporting.store import migrations
    from thb_reporting.core.config import reporting_db_url_from_airflow
    from thb_reporting.store.migrations import ensure_schema
    from thb_reporting.store.warehouse import reporting_engine

    data_root = os.environ.get("AIRFLOW_VAR_THB_DATA_ROOT") or (PROJECT_ROOT / "data").as_uri()
    db_url = args.db or reporting_db_url_from_airflow(data_root.rstrip("/"))
    if args.versions_dir:
        os.environ["THB_MIGRATIONS_DIR"] = str(Path(args.versions_dir).resolve())  # this command's revisions too
    engine = reporting_engine(db_url)
    with engine.connect() as conn:
        at = migrations.current(conn)
    if args.db_command == "current":
        print(f"{_database_name(db_url)}: at revision {at or '(none)'}; this code needs {migrations.head()}")
    elif args.db_command == "upgrade":
        ensure_schema(engine, upgrade=True)  # with the views and grants of new tables and columns
        print(f"{_database_name(db_url)}: from revision {at or '(none)'} to {migrations.head()}")
    else:
        if at is None:  # an empty database: brought to head first, the contracts compared with that
            ensure_schema(engine)
        with engine.begin() as conn:
            for path in migrations.new_revision(conn, args.message, args.versions_dir):
                print(f"wrote {path}: review it, then commit it with the contract")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="thb", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("suites", help="write expectations/<dataset>.json from the data contracts")
    sub.add_parser("dictionary", help="write docs/data-dictionary.md from the contracts and the warehouse model")
    p = sub.add_parser("roles", help="PostgreSQL, as an administrator: create the roles and the schemas they own")
    p.add_argument("database_url", help="e.g. postgresql+psycopg://postgres@127.0.0.1:5432/reporting")
    p.add_argument("--pipeline-login", action="append", default=[],
                   help="a login of the pipeline, made a member of pipeline_writer (repeat for each login)")
    p = sub.add_parser("templates", help="write blank team templates (CSV and XLSX)")
    p.add_argument("target", nargs="?", default=str(PROJECT_ROOT / "build" / "templates"))
    p = sub.add_parser("migrate-snapshots", help="move snapshots of the earlier layout into snapshots/dataset=<name>/"
                                                 "team=<code>/quarter=<q>/ and update the ledger (safe to run again)")
    p.add_argument("data_root", nargs="?", default=(PROJECT_ROOT / "data").as_uri(), help="a URL, e.g. file:///srv/thb")
    p.add_argument("--db", help="the reporting database URL (default: SQLite under <data_root>/warehouse)")
    p = sub.add_parser("db", help="the reporting database's schema revisions (Alembic): upgrade, current, revision")
    db = p.add_subparsers(dest="db_command", required=True)
    for name, text in (("upgrade", "bring the database to the head revision"),
                       ("current", "show the database's revision and the one this code needs"),
                       ("revision", "autogenerate a revision from the contracts (against a database at head)")):
        q = db.add_parser(name, help=text)
        q.add_argument("--db", help="the reporting database URL (default: the pipeline's connection reporting_db, "
                                    "e.g. AIRFLOW_CONN_REPORTING_DB, else the SQLite default under thb_data_root)")
        q.add_argument("--versions-dir", help="a further folder of revisions (default: THB_MIGRATIONS_DIR); "
                                              "revision writes there instead of the package's versions/")
        if name == "revision":
            q.add_argument("-m", "--message", required=True, help="what changed, e.g. 'victims v2: referral channel'")
    p = sub.add_parser("generate", help="write synthetic submissions into an inbox folder")
    p.add_argument("inbox")
    p.add_argument("--quarters", nargs="+", default=DEMO_QUARTERS)
    p.add_argument("--seed", type=int, default=2026)
    p = sub.add_parser("demo", help="generate submissions, run both DAGs with dag.test(), show what was published "
                                    "(into the connection reporting_db when set, e.g. AIRFLOW_CONN_REPORTING_DB=postgresql://...)")
    p.add_argument("--data", default=str(DEMO_DATA))
    p.add_argument("--airflow-home", default=str(AIRFLOW_HOME))
    p.add_argument("--seed", type=int, default=2026)
    p = sub.add_parser("airflow-ui", help="airflow standalone with this project's DAGs and plugins, over the demo's "
                                          "data and Airflow home unless told otherwise")
    p.add_argument("--data", default=str(DEMO_DATA), help="the data root (variable thb_data_root)")
    p.add_argument("--airflow-home", default=str(AIRFLOW_HOME))
    p.add_argument("--port", type=int, default=int(os.environ.get("AIRFLOW__API__PORT") or 8080),
                   help="default: Airflow's own setting AIRFLOW__API__PORT when set, else 8080")
    from thb_reporting.tools import release_cli

    release_cli.add_commands(sub)
    args = parser.parse_args(argv)
    if args.command in ("release", "explain"):
        return release_cli.run(args)
    if args.command == "suites":
        from thb_reporting.validation.suites import write_suites

        for path in write_suites():
            print(f"wrote {path}")
    elif args.command == "dictionary":
        from thb_reporting.tools.dictionary import write

        print(f"wrote {write()}")
    elif args.command == "roles":
        from sqlalchemy import create_engine

        from thb_reporting.store.access import create_roles

        with create_engine(args.database_url).begin() as conn:
            create_roles(conn, args.pipeline_login)
        print("roles pipeline_writer, reporting_analyst, reporting_reader and their schemas are in place; "
              "everything in them belongs to pipeline_writer")
    elif args.command == "templates":
        from thb_reporting.core.templates import write_templates

        for path in write_templates(Path(args.target)):
            print(f"wrote {path}")
    elif args.command == "migrate-snapshots":
        from thb_reporting.core.config import default_reporting_db_url
        from thb_reporting.store.snapshots import migrate

        root = args.data_root if "://" in args.data_root else Path(args.data_root).resolve().as_uri()
        db = args.db or default_reporting_db_url(root)
        print(f"moved {migrate(root, db)} snapshots into {root}/snapshots/dataset=<name>/")
    elif args.command == "db":
        return database_revisions(args)
    elif args.command == "generate":
        from thb_reporting.core import reference
        from thb_reporting.tools.generator import SubmissionGenerator

        files = SubmissionGenerator(Path(args.inbox), args.seed).scenario(
            list(reference.teams(reference.PACKAGE_TEAMS)), args.quarters)
        print(f"wrote {len(files)} files into {args.inbox}")
    elif args.command == "demo":
        return demo(args)
    elif args.command == "airflow-ui":
        airflow_ui(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
