"""The note on an ingest run, shown by Airflow itself (the run's note in the grid and the run's details):
how many files were accepted, rejected or failed, and which ones by team, dataset and quarter.

A task can neither write its run's note (the Task SDK has no call for it) nor reach the metadata database,
so the task leaves the text as an XCom (`leave_run_note`) and a listener (`RunNoteListener`, registered by
plugins/run_notes.py) copies it onto the run when the run ends. Listeners for DAG runs are called where a
run's state changes, with the metadata database at hand: the scheduler, and dag.test()'s own process.

Only safe names reach the note: a team code from the registry, a dataset and quarter parsed from the file
name, a rule code. Never a file name (a team chooses it) or a value from a file."""
from __future__ import annotations

import logging

from airflow.listeners import hookimpl

from thb_reporting.store.ledger import Status

log = logging.getLogger(__name__)
NOTE_KEY = "run_note"
NOTE_LIMIT = 1000  # Airflow's dag_run_note.content
LISTED = 12  # files named per outcome; the rest are counted
EXPLAINED = "explained"  # submissions whose team explained their warnings by e-mail in this run (the mailbox step)
OUTCOME_WORDS = {Status.ACCEPTED: "accepted", Status.REJECTED: "rejected",  # outcomes of ingest.process_submissions
                 Status.FAILED: "failed (still received: the next run takes them again)",
                 EXPLAINED: "warnings explained by their team (a reply to the validation e-mail)"}
QUOTED = 60  # characters of an explanation in the note


def run_note(db_url: str, outcome: dict[str, list[int]], teams) -> str:
    """The note for one run's outcome ({"accepted": [submission ids], "rejected": [...], ...}); teams: the
    registry in force (PipelineConfig.teams)."""
    from thb_reporting.core import contracts
    from thb_reporting.store import ledger
    from thb_reporting.store.warehouse import reader_engine

    ids = [i for group in outcome.values() for i in group]
    if not ids:
        return ""
    from thb_reporting.store.explanations import explanations_of

    with reader_engine(db_url).connect() as conn:
        rows = {r.submission_id: r for r in ledger.submissions(conn, ids=ids)}
        rules = ledger.error_rules(conn, ids)
        said = explanations_of(conn, outcome.get(EXPLAINED, []))  # screened for identifiers when recorded
    datasets = set(contracts.datasets())

    def label(i: int) -> str:
        r = rows.get(i)
        if r is None:
            return f"submission {i}"
        parts = [r.team_code if r.team_code in teams else "(unknown team folder)",
                 r.dataset if r.dataset in datasets else "(file name not understood)", r.quarter or ""]
        why = f" ({', '.join(rules[i][:2])})" if rules.get(i) else ""
        if i in said:
            why = f": \u201c{said[i][:QUOTED]}{'…' if len(said[i]) > QUOTED else ''}\u201d"
        return f"#{i} {' '.join(p for p in parts if p)}{why}"

    files = [i for k, group in outcome.items() if k != EXPLAINED for i in group]
    counts = ", ".join(f"{len(v)} {k}" for k, v in outcome.items() if v and k != EXPLAINED)
    lines = [f"{len(files)} file{'s' if len(files) != 1 else ''}: {counts}"] if files else []
    for kind in sorted(outcome, key=lambda k: (k == Status.ACCEPTED, k)):  # problems first
        group = outcome[kind]
        if not group:
            continue
        named = "; ".join(label(i) for i in group[:LISTED])
        more = f"; and {len(group) - LISTED} more" if len(group) > LISTED else ""
        lines.append(f"- {OUTCOME_WORDS.get(kind, kind)}: {named}{more}")
    lines.append("Every finding: ledger.findings, and Browse → Reporting status.")
    return _fit("\n".join(lines))


def _fit(text: str) -> str:
    return text if len(text) <= NOTE_LIMIT else text[:NOTE_LIMIT - 1] + "…"


def leave_run_note(outcome: dict[str, list[int]]) -> None:
    """Inside a task: leave the note for RunNoteListener to put on the run."""
    from airflow.sdk import get_current_context

    from thb_reporting.core.config import PipelineConfig

    try:
        config = PipelineConfig.from_airflow()
        note = run_note(config.reporting_db_url, outcome, config.teams)
        if note:
            get_current_context()["ti"].xcom_push(key=NOTE_KEY, value=note)
    except Exception:  # the files are processed and recorded already: a missing note must not fail the run
        log.exception("the run's note could not be left (the ledger has every outcome)")


def loss_note(loss: list[dict]) -> str:
    """The publish run's note: what disclosure control hid, per output and level (figures.information_loss)."""
    from thb_reporting.figures.information_loss import loss_lines

    return "Disclosure control hid (docs/disclosure.md):\n" + "\n".join(loss_lines(loss)) if loss else ""


def leave_loss_note(loss: list[dict]) -> None:
    """Inside the publish task: leave the information loss for RunNoteListener to put on the run."""
    from airflow.sdk import get_current_context

    try:
        if note := loss_note(loss):
            get_current_context()["ti"].xcom_push(key=NOTE_KEY, value=_fit(note))
    except Exception:  # the tables are published already: a missing note must not fail the run
        log.exception("the publish run's note could not be left (the publish log has the same figures)")


def leave_explained_note(config, since) -> None:
    """Inside the mailbox task: name in the run's note the submissions whose teams explained their warnings."""
    from thb_reporting.store.explanations import explained_since
    from thb_reporting.store.warehouse import reader_engine

    try:
        with reader_engine(config.reporting_db_url).connect() as conn:
            explained = explained_since(conn, since)
    except Exception:  # the explanations are recorded already: a missing note must not fail the run
        log.exception("the explanations of this run could not be listed for its note")
        return
    leave_run_note({EXPLAINED: explained})


class RunNoteListener:
    """Puts the notes the run's tasks left onto the run when it ends (successfully or not)."""

    @hookimpl
    def on_dag_run_success(self, dag_run, msg):
        _copy_note(dag_run)

    @hookimpl
    def on_dag_run_failed(self, dag_run, msg):
        _copy_note(dag_run)


def _copy_note(dag_run) -> None:
    from sqlalchemy.orm import object_session

    session = object_session(dag_run)
    if session is not None:  # the scheduler: its session commits the run's new state and the note together
        _write_note(session, dag_run)
        return
    # dag.test() hands listeners a run detached from its session: write through a session of our own
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as own:
        _write_note(own, own.get(DagRun, dag_run.id))


def _write_note(session, dag_run) -> None:
    from sqlalchemy import select

    from airflow.models.xcom import XComModel

    notes = [XComModel.deserialize_value(x) for x in session.scalars(
        select(XComModel).where(XComModel.dag_run_id == dag_run.id, XComModel.key == NOTE_KEY)
        .order_by(XComModel.task_id))]
    ours = "\n\n".join(n for n in notes if isinstance(n, str) and n)
    if ours:
        earlier = dag_run.note  # a note someone wrote while the run was going stays, above ours
        dag_run.note = _fit(f"{earlier}\n\n{ours}" if earlier and ours not in earlier else ours)
