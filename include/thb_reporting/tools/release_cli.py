"""`thb release …` and `thb explain …`: the coordinator's and data engineers' commands for releases and the
teams' explanations, beside the DAG release_national_figures (which asks for the decision in the Airflow UI).
The database and data root are the pipeline's (AIRFLOW_CONN_REPORTING_DB, AIRFLOW_VAR_THB_DATA_ROOT), or the
local defaults."""
from __future__ import annotations

import os
from dataclasses import replace

from thb_reporting.core.config import PROJECT_ROOT, PipelineConfig


def cli_config() -> PipelineConfig:
    from thb_reporting.core.config import reporting_db_url_from_airflow

    data_root = (os.environ.get("AIRFLOW_VAR_THB_DATA_ROOT") or (PROJECT_ROOT / "data").as_uri()).rstrip("/")
    threshold = os.environ.get("AIRFLOW_VAR_THB_SUPPRESSION_THRESHOLD")
    config = PipelineConfig(data_root=data_root, inbox=f"{data_root}/inbox",
                            reporting_db_url=reporting_db_url_from_airflow(data_root), pseudonymisation_key=b"",
                            teams_registry=os.environ.get("AIRFLOW_VAR_THB_TEAMS_REGISTRY") or None)
    return replace(config, suppression_threshold=int(threshold)) if threshold else config


def add_commands(sub) -> None:
    p = sub.add_parser("release", help="official releases: prepare a candidate, approve or reject it, list them")
    release = p.add_subparsers(dest="release_command", required=True)
    q = release.add_parser("prepare", help="compute and freeze a release candidate of a period; print its summary")
    q.add_argument("period", help="a quarter (2026Q3) or a year (2026)")
    q.add_argument("--final", action="store_true", help="final (the quarter locked first), else provisional")
    q.add_argument("--by", default=os.environ.get("USER", "cli"), help="who asks for it")
    for name, text in (("approve", "release a candidate (its files and the notice follow)"),
                       ("reject", "refuse a candidate; --note gives the reason (required)")):
        q = release.add_parser(name, help=text)
        q.add_argument("release_id", type=int)
        q.add_argument("--by", required=True, help="who decides (the coordinator's name)")
        q.add_argument("--note", default="", help="what the release is; for a rejection, why")
    release.add_parser("list", help="every candidate and release, with its state")
    p = sub.add_parser("explain", help="record a team's explanation of a submission's warnings (screened for "
                                       "personal identifiers: one holding any is refused)")
    p.add_argument("submission_id", type=int)
    p.add_argument("text", help="the team's words")
    p.add_argument("--by", required=True, help="the data engineer recording it")


def decide_and_publish(config: PipelineConfig, release_id: int, approved: bool, by: str, note: str) -> dict:
    """The decision, then (approved) the release's files and its notice: what the DAG's last task does."""
    from thb_reporting.messaging.notifications import queue_release_notice
    from thb_reporting.messaging.outbox import deliver_outbox, sender_from_airflow
    from thb_reporting.publishing import release_files, releases

    outcome = releases.decide(config, release_id, approved, by, note)
    if approved:
        outcome["files"] = [str(p) for p in release_files.write_release_files(config, release_id)]
        outcome["notices"] = queue_release_notice(config, release_id)
        deliver_outbox(config, sender_from_airflow(config))
    return outcome


def run(args) -> int:
    import datetime as dt

    from thb_reporting.publishing import releases

    config = cli_config()
    try:
        if args.command == "explain":
            from thb_reporting.store.explanations import ExplanationRefused, record_explanation
            from thb_reporting.store.migrations import ensure_schema
            from thb_reporting.store.warehouse import reporting_engine

            engine = reporting_engine(config.reporting_db_url)
            ensure_schema(engine)
            try:
                with engine.begin() as conn:
                    number = record_explanation(conn, args.submission_id, args.text, "cli", args.by,
                                                dt.datetime.now(dt.timezone.utc))
            except ExplanationRefused as refused:
                print(f"not recorded: the explanation holds {refused.reason.replace('_', ' ')}; write it without it")
                return 2
            print(f"explanation {number} recorded for submission {args.submission_id}")
        elif args.release_command == "prepare":
            from thb_reporting.publishing.release_report import prompt_markdown

            summary = releases.prepare(config, args.period, "final" if args.final else "provisional", args.by)
            print(prompt_markdown(summary))
            print(f"candidate {summary['release_id']}: approve with `thb release approve {summary['release_id']} "
                  f"--by <name> --note <text>`; full report: {summary['candidate_report']}")
        elif args.release_command in ("approve", "reject"):
            outcome = decide_and_publish(config, args.release_id, args.release_command == "approve", args.by, args.note)
            print(f"release {outcome['release_id']} of {outcome['period']} ({outcome['status']}): {outcome['state']}"
                  + (f"; {len(outcome['files'])} files written" if "files" in outcome else ""))
        elif args.release_command == "list":
            from thb_reporting.store.warehouse import reader_engine

            with reader_engine(config.reporting_db_url).connect() as conn:
                for r in releases.release_list(conn):
                    print(f"{r.release_id:>4}  {r.period:<7} {r.status:<11} {r.state:<9} "
                          f"{r.decided_at or '':<32} {r.decided_by or ''}  {r.note or ''}")
    except releases.ReleaseRefused as refused:
        print(f"refused: {refused}")
        return 2
    return 0


DEMO_APPROVER = "coordinator (the demo, non-interactive)"


def demo_releases(periods: list[str], note: str) -> list[int]:
    """Prepare and approve a release of each period as the coordinator would in the Airflow UI (the demo has
    nobody to ask); returns the release ids."""
    from thb_reporting.publishing import releases

    config, done = cli_config(), []
    for period in periods:
        summary = releases.prepare(config, period, "provisional", "the demo")
        outcome = decide_and_publish(config, summary["release_id"], True, DEMO_APPROVER, note)
        print(f"   release {summary['release_id']} of {period}: {summary['figures']} public figures "
              f"({summary['suppressed']} suppressed), {len(summary['revisions'])} revised against the last release; "
              f"approved by {DEMO_APPROVER}; {len(outcome['files'])} files in "
              f"{config.data_root}/releases/{period}/release-{summary['release_id']}/")
        done.append(summary["release_id"])
    return done


def show_releases(db_url: str, release_ids: list[int]) -> None:
    """The releases the demo made and the revisions the last one recorded (public values only)."""
    from sqlalchemy import select

    from thb_reporting.publishing import releases
    from thb_reporting.store.warehouse import reader_engine, table

    revisions = table("release_revisions")
    with reader_engine(db_url).connect() as conn:
        made = [r for r in releases.release_list(conn) if r.release_id in release_ids]
        revised = conn.execute(select(revisions).where(revisions.c.release_id == release_ids[-1],
                                                       revisions.c.level == "nation")
                               .order_by(revisions.c.indicator, revisions.c.breakdown, revisions.c.category)).all()
    print("\nReleases (national.releases; ministries read them in reporting_public, every row naming its release)")
    for r in made:
        print(f"  #{r.release_id} {r.period} {r.status}, {r.state} {r.decided_at:%Y-%m-%d %H:%M} by {r.decided_by}: "
              f"{r.note}" + (f" (revises #{r.previous_release_id})" if r.previous_release_id else ""))
    shown = lambda value, hidden: "x" if hidden else ("–" if value is None else f"{value:g}")  # noqa: E731
    print(f"\nRevisions recorded by release #{release_ids[-1]} at the nation level (reporting_public.revisions; "
          f"x: suppressed)")
    for r in revised[:15]:
        what = r.indicator + ("" if r.breakdown == "total" else f" {r.breakdown}={r.category}")
        print(f"  {r.period} {what}: {shown(r.previous_value, r.previous_suppressed)} → {shown(r.value, r.suppressed)}"
              f"  ({r.reason})")
    if len(revised) > 15:
        print(f"  … and {len(revised) - 15} more")
