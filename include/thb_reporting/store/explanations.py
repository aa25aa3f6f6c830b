"""A team's explanation of its submission's warnings (an outlier against its history, a sudden zero,
duplicates): a reply to the validation e-mail with no file, or recorded by a data engineer from the CLI.
It is kept in ledger.explanations, beside the submission it explains, and shown on the status page, in the
run note and in a release candidate.

An explanation is free text a person wrote, so it passes the identifier screen whole: one holding a
personal identifier (a JMBG, an e-mail address, a phone number, a case reference) is refused and never
stored; the team is told why. Light (SQLAlchemy only)."""
from __future__ import annotations

from sqlalchemy import Column, DateTime, ForeignKey, Integer, Table, Text, select

from thb_reporting.core.invisible_characters import made_visible
from thb_reporting.core.privacy import shown
from thb_reporting.store.ledger import METADATA, SCHEMA, SUBMISSIONS

MAX_CHARACTERS = 2000  # a few paragraphs; a longer text is cut there

EXPLANATIONS = Table(
    "explanations", METADATA,
    Column("explanation_id", Integer, primary_key=True, autoincrement=True, comment="the explanation's number"),
    Column("submission_id", Integer, ForeignKey(f"{SCHEMA}.submissions.submission_id"), nullable=False,
           comment="the submission whose warnings it explains"),
    Column("text", Text, nullable=False, comment="the team's words, screened for personal identifiers"),
    Column("source", Text, nullable=False, comment="mail (a reply to the validation e-mail) | cli (a data engineer)"),
    Column("recorded_by", Text, comment="the reply's mail reference, or the data engineer's name"),
    Column("recorded_at", DateTime(timezone=True), nullable=False, comment="when it was recorded"),
    schema=SCHEMA, comment="Teams' explanations of their submissions' warnings",
)


class ExplanationRefused(ValueError):
    """The explanation holds a personal identifier (or nothing): not stored. `reason` names which, never the value."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def screened(text: str) -> str:
    """The explanation as it may be kept, or ExplanationRefused: nothing in it may be hidden by the screen."""
    text = " ".join(made_visible(text or "").split())[:MAX_CHARACTERS]
    if len(text) < 2:
        raise ExplanationRefused("empty")
    if shown(text, kind="text") != text:
        raise ExplanationRefused("personal_identifier")
    return text


def record_explanation(conn, submission_id: int, text: str, source: str, recorded_by: str | None, at) -> int:
    """Keep a screened explanation (ExplanationRefused when it may not be kept); returns its number."""
    kept = screened(text)
    return conn.execute(EXPLANATIONS.insert().values(
        submission_id=submission_id, text=kept, source=source, recorded_by=recorded_by, recorded_at=at)
        .returning(EXPLANATIONS.c.explanation_id)).scalar_one()


def explanations_of(conn, submission_ids) -> dict[int, str]:
    """submission_id → its latest explanation."""
    ids = list(submission_ids)
    if not ids:
        return {}
    rows = conn.execute(select(EXPLANATIONS).where(EXPLANATIONS.c.submission_id.in_(ids))
                        .order_by(EXPLANATIONS.c.recorded_at, EXPLANATIONS.c.explanation_id))
    return {r.submission_id: r.text for r in rows}


def recent_explanations(conn, limit: int = 20) -> list:
    """The newest explanations, with their submission's team, dataset and quarter (the status page)."""
    return conn.execute(select(EXPLANATIONS, SUBMISSIONS.c.team_code, SUBMISSIONS.c.dataset, SUBMISSIONS.c.quarter)
                        .join(SUBMISSIONS, SUBMISSIONS.c.submission_id == EXPLANATIONS.c.submission_id)
                        .order_by(EXPLANATIONS.c.recorded_at.desc(), EXPLANATIONS.c.explanation_id.desc())
                        .limit(limit)).all()


def explained_since(conn, since, source: str = "mail") -> list[int]:
    """The submissions explained since a time (from one source), in the order they were explained."""
    rows = conn.execute(select(EXPLANATIONS.c.submission_id).where(EXPLANATIONS.c.recorded_at >= since,
                                                                   EXPLANATIONS.c.source == source)
                        .order_by(EXPLANATIONS.c.recorded_at, EXPLANATIONS.c.explanation_id))
    return list(dict.fromkeys(r.submission_id for r in rows))
