"""E-mails to the teams and the national coordinator, through an outbox in the reporting database.

Every processed submission gets one e-mail to its team's registered contacts (the team registry only,
never an address found in a file): a receipt when accepted, every problem and how to fix it when
rejected; Serbian (Latin) first, English below, as HTML with a plain-text part. Messages are rendered
once into ledger.outbox and sent from there: a send that fails stays in the outbox and is retried with
backoff by the next run, and a submission is queued once only (a unique key per submission).
A file given up after repeated unexpected errors (failed) is reported to its team and the national
coordinator; a file from a folder of no registered team, to the coordinator alone.
"""
from __future__ import annotations

import datetime as dt
import logging
import smtplib
from collections import defaultdict
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from functools import cache
from pathlib import Path

from sqlalchemy import or_, select, update

from thb_reporting import contracts, reference
from thb_reporting.config import PipelineConfig
from thb_reporting.privacy import shown, shown_file_name
from thb_reporting.quarters import Quarter
from thb_reporting.storage import storage_path, write_atomically
from thb_reporting.findings import ERROR, Finding, archived_column_letters, column_as_seen, explain, located
from thb_reporting.warehouse import ensure_schema, reporting_engine, table

log = logging.getLogger(__name__)
ROWS_IN_BODY = 20  # per rule; the attached CSV has them all
STALE_SENDING = dt.timedelta(hours=1)  # a send interrupted by a crash is tried again after this
FIGURE_BREAKDOWNS = {"total", "status", "sex", "age_group", "article_stage", "funding_source", "type", "counterpart_country"}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def backoff(attempts: int) -> dt.timedelta:
    """2, 4, 8 … minutes after each failed attempt, at most 6 hours."""
    return min(dt.timedelta(minutes=2 ** attempts), dt.timedelta(hours=6))


@cache
def _templates():
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    return Environment(loader=FileSystemLoader(Path(__file__).parent / "email_templates"),
                       autoescape=select_autoescape(["html"]), trim_blocks=False, keep_trailing_newline=True)


def _render(name: str, **context) -> tuple[str, str]:
    env = _templates()
    context.setdefault("sender_name", reference.national_contacts()["sender"]["name"])
    return env.get_template(f"{name}.txt.j2").render(**context), env.get_template(f"{name}.html.j2").render(**context)


# --- senders --------------------------------------------------------------------------------------
@dataclass
class SmtpSender:
    host: str
    port: int = 25
    login: str | None = None
    password: str | None = None
    ssl: bool = False
    starttls: bool = False
    timeout: float = 30

    def send(self, message: EmailMessage) -> None:
        cls = smtplib.SMTP_SSL if self.ssl else smtplib.SMTP
        with cls(self.host, self.port, timeout=self.timeout) as smtp:
            if self.starttls:
                smtp.starttls()
            if self.login:
                smtp.login(self.login, self.password or "")
            smtp.send_message(message)


@dataclass
class FolderSender:
    """Writes each message as an .eml file instead of sending it (local runs without SMTP)."""
    folder: str

    def send(self, message: EmailMessage) -> None:
        name = message["Message-ID"].strip("<>").split("@")[0] + ".eml"
        write_atomically(storage_path(self.folder) / name, bytes(message))


def sender_from_airflow(config: PipelineConfig):
    """SMTP through the connection smtp_default; without it, .eml files under <data_root>/outbox."""
    from airflow.sdk import Connection
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        conn = Connection.get("smtp_default")
    except AirflowNotFoundException:
        return FolderSender(f"{config.data_root}/outbox")
    extra = conn.extra_dejson
    ssl = str(extra.get("disable_ssl", "true")).lower() != "true" and conn.port == 465
    starttls = str(extra.get("disable_tls", "true")).lower() != "true"
    return SmtpSender(conn.host or "localhost", conn.port or 25, conn.login or None, conn.password or None,
                      ssl=ssl, starttls=starttls, timeout=float(extra.get("timeout", 30)))


# --- submission e-mails ---------------------------------------------------------------------------
def _groups(findings: list[Finding], contract, quarter) -> list[dict]:
    by_rule: dict[tuple, list[Finding]] = defaultdict(list)
    for f in findings:
        by_rule[(f.severity != ERROR, f.rule, f.column or "")].append(f)
    groups = []
    for (_, rule, column), items in sorted(by_rule.items()):
        values = {f.value for f in items}
        sample = Finding(rule, items[0].severity, column=column or None,
                         value=items[0].value if len(values) == 1 else "…", detail=items[0].detail, letter=items[0].letter)
        texts = {lang: explain(sample, lang, contract, quarter) for lang in ("sr", "en")}
        groups.append({"severity": items[0].severity, "column": column_as_seen(sample, contract),
                       "text": {k: v[0] for k, v in texts.items()},
                       "fix": {k: v[1] for k, v in texts.items()}, "rows": items[:ROWS_IN_BODY],
                       "more": max(0, len(items) - ROWS_IN_BODY)})
    return groups


def _figures(sub, dataset: str) -> list[dict]:
    """The team's figures for the quarter as national.indicators will publish them (team level)."""
    return _figures_of([sub]).get(sub.submission_id, [])


def _figures_of(subs) -> dict[int, list[dict]]:
    """The figures of each accepted submission, as national.indicators will publish them for its team and
    quarter; computed in one pass per dataset, each submission standing as its own area (so that a batch
    costs one computation, not one per file)."""
    from types import SimpleNamespace

    import pyarrow as pa

    from thb_reporting import indicators
    from thb_reporting.publish import snapshot_rows

    by_dataset: dict[str, list] = defaultdict(list)
    for sub in subs:
        if sub.status == "accepted" and sub.snapshot_path:
            by_dataset[sub.dataset].append(sub)
    catalogue = indicators.catalogue()
    order = {name: i for i, name in enumerate(catalogue)}
    labels = {c.code: (c.label_sr, c.label_en) for codes in reference.code_lists().values() for c in codes}
    labels["total"] = ("ukupno", "total")
    out = {}
    for dataset, group in by_dataset.items():
        areas = {sub.submission_id: f"#{sub.submission_id}" for sub in group}
        rows = pa.concat_tables([snapshot_rows(SimpleNamespace(
            snapshot_path=sub.snapshot_path, submission_id=sub.submission_id, team_code=areas[sub.submission_id],
            quarter=sub.quarter, content_sha256=sub.content_sha256, received_at=sub.received_at))
            for sub in group]).to_pandas()
        computed = indicators.national_indicators({dataset: rows}, {}, levels=("team",))
        # Reported by another team: the areas here are submissions, and one team alone never has it.
        computed = computed[(computed["level"] == "team") & computed["breakdown"].isin(FIGURE_BREAKDOWNS)
                            & (computed["indicator"] != "victims_also_reported_by_another_team")]
        for sub in group:
            mine = computed[(computed["area_code"] == areas[sub.submission_id]) & (computed["period"] == sub.quarter)]
            mine = mine.sort_values(["indicator", "breakdown"], key=lambda c: c.map(order) if c.name == "indicator" else c != "total",
                                    kind="stable")
            figures = []
            for r in mine.itertuples():
                item = catalogue[r.indicator]
                parts = [labels.get(part, (part, part)) for part in r.category.split("/")]  # e.g. 388/indictment
                sr, en = " – ".join(p[0] for p in parts), " – ".join(p[1] for p in parts)
                value = f"{r.value:.0%}" if item["unit"] == "share" else f"{r.value:,.0f}".replace(",", " ")
                figures.append({"label": {"sr": f"{item['sr']} – {sr}", "en": f"{item['en']} – {en}"}, "value": value})
            out[sub.submission_id] = figures
    return out


def submission_message(sub, findings: list[Finding], data_root: str, figures: list[dict] | None = None) -> EmailMessage | None:
    """The e-mail for one processed submission, or None when its team has no registered contact.
    figures: the team's figures when already computed (_figures_of), else they are computed here."""
    from thb_reporting.ingest import findings_csv

    team = reference.teams().get(sub.team_code)
    if team is None or not team.contact_emails:
        return None
    accepted = sub.status == "accepted"
    if any(f.column for f in findings):  # the columns' letters, as in the team's own file
        findings = located(findings, archived_column_letters(sub.file_name, sub.archive_path))
    contract = contracts.load(sub.dataset) if sub.dataset in contracts.datasets() else None
    quarter = Quarter.parse(sub.quarter) if sub.quarter else None
    file_name = _file_name(sub)
    subject = (f"[THB] {'Prihvaćeno' if accepted else 'Odbijeno'} / {'Accepted' if accepted else 'Rejected'}: "
               f"{sub.dataset or file_name} {sub.quarter or ''} – {team.name_lat}").replace("  ", " ")
    context = dict(
        subject=subject, accepted=accepted, team_name_lat=team.name_lat, file_name=file_name,
        dataset=sub.dataset or "?", quarter=sub.quarter, sha256=sub.content_sha256,
        received_at=sub.received_at.strftime("%Y-%m-%d %H:%M UTC"), rows_accepted=sub.rows_accepted,
        groups=_groups(findings, contract, quarter),
        figures=(_figures(sub, sub.dataset) if figures is None else figures) if accepted else [],
    )
    text, html = _render("submission", **context)
    message = _envelope(subject, list(team.contact_emails), f"submission-{sub.submission_id}-{sub.content_sha256[:12]}")
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    if findings:
        from thb_reporting.status_report import submission_report

        message.add_attachment(findings_csv(findings, contract, quarter), maintype="text", subtype="csv",
                               filename=f"nalazi_findings_{sub.submission_id}.csv")
        message.add_attachment(submission_report(sub, findings, standalone=True), subtype="html",
                               filename=f"validacija_validation_{sub.submission_id}.html")
    return message


def _coordinator_notice(template: str, sub, subject: str, to: list[str], findings: list[Finding]) -> EmailMessage:
    """A plain message about a submission that its team alone cannot act on (Serbian first, English below)."""
    team = reference.teams().get(sub.team_code)
    reasons = [{"text": {lang: explain(f, lang)[0] for lang in ("sr", "en")},
                "fix": {lang: explain(f, lang)[1] for lang in ("sr", "en")}} for f in findings]
    text, html = _render(template, subject=subject, team_name_lat=team.name_lat if team else None,
                         folder=shown(sub.team_code), file_name=_file_name(sub), dataset=sub.dataset or "?", quarter=sub.quarter,
                         received_at=sub.received_at.strftime("%Y-%m-%d %H:%M UTC"), sha256=sub.content_sha256,
                         submission_id=sub.submission_id, reasons=reasons,
                         text=reasons[0]["text"] if reasons else {}, fix=reasons[0]["fix"] if reasons else {})
    message = _envelope(subject, to, f"submission-{sub.submission_id}-{sub.content_sha256[:12]}")
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message


def _file_name(sub) -> str:
    """The submission's file name as a message may show it (privacy.shown_file_name)."""
    return shown_file_name(sub.file_name, sub.dataset, sub.quarter, sub.content_sha256)


def failed_message(sub, findings: list[Finding]) -> EmailMessage:
    """A submission given up after repeated unexpected errors (status failed): to its team's contacts, if
    any, and the national coordinator. It names the error's class only (findings: processing_failed)."""
    team = reference.teams().get(sub.team_code)
    coordinator = reference.national_contacts()["national_coordinator"]["email"]
    subject = (f"[THB] Nije obrađeno / Processing failed: {sub.dataset or _file_name(sub)} {sub.quarter or ''} – "
               f"{team.name_lat if team else shown(sub.team_code) or '-'}").replace("  ", " ")
    to = [*(team.contact_emails if team else ()), coordinator]
    return _coordinator_notice("failed", sub, subject, list(dict.fromkeys(to)), findings)


def unregistered_folder_message(sub, findings: list[Finding]) -> EmailMessage:
    """A file rejected because its folder is no registered team's (or the inbox root): the team cannot be
    told, so the national coordinator is."""
    subject = (f"[THB] Fajl iz neregistrovanog foldera / File from an unregistered folder: "
               f"{shown(sub.team_code) or '(inbox)'}/{_file_name(sub)}")
    return _coordinator_notice("unregistered_folder", sub, subject,
                               [reference.national_contacts()["national_coordinator"]["email"]], findings)


def _envelope(subject: str, to: list[str], key: str) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = subject
    sender = reference.national_contacts()["sender"]
    message["From"] = formataddr((sender["name"], sender["email"]))
    message["To"] = ", ".join(to)
    message["Date"] = format_datetime(_now())
    message["Message-ID"] = f"<{key}@thb-national-reporting>"  # stable: a resend is recognisable
    message["Auto-Submitted"] = "auto-generated"
    return message


def _enqueue(conn, key: str, kind: str, message: EmailMessage, submission_id: int | None = None) -> bool:
    outbox = table("outbox", "ledger")
    if conn.execute(select(outbox.c.message_id).where(outbox.c.dedupe_key == key)).first():
        return False
    conn.execute(outbox.insert().values(
        dedupe_key=key, kind=kind, submission_id=submission_id, recipients=message["To"], subject=message["Subject"],
        message=message.as_string(), status="pending", attempts=0, created_at=_now(), next_attempt_at=_now(),
    ))
    return True


def queue_submission_notices(config: PipelineConfig) -> int:
    """Queue one e-mail for every processed submission that has none yet; returns how many."""
    engine = reporting_engine(config.reporting_db_url)
    ensure_schema(engine)
    subs, found = table("submissions", "ledger"), table("findings", "ledger")
    with engine.connect() as conn:
        waiting = conn.execute(select(subs).where(subs.c.status.in_(["accepted", "rejected", "failed"]),
                                                  subs.c.notification.is_(None)).order_by(subs.c.submission_id)).all()
    queued = 0
    figures = _figures_of(waiting)
    for sub in waiting:
        with engine.connect() as conn:
            findings = [Finding(r.rule, r.severity, r.column_name, r.source_row, r.value, r.detail)
                        for r in conn.execute(select(found).where(found.c.submission_id == sub.submission_id)
                                              .order_by(found.c.severity, found.c.rule, found.c.source_row))]
        if sub.status == "failed":
            message = failed_message(sub, findings)
        elif sub.team_code not in reference.teams():
            message = unregistered_folder_message(sub, findings)
        else:
            message = submission_message(sub, findings, config.data_root, figures.get(sub.submission_id, []))
        with engine.begin() as conn:
            if message is None:
                state = "no_contact"
            else:
                queued += _enqueue(conn, f"submission:{sub.submission_id}", "submission", message, sub.submission_id)
                state = "queued"
            conn.execute(update(subs).where(subs.c.submission_id == sub.submission_id).values(notification=state))
    return queued


def deliver_outbox(config: PipelineConfig, sender, now: dt.datetime | None = None) -> dict:
    """Send every message that is due; a failure stays in the outbox for a later attempt."""
    now = now or _now()
    engine = reporting_engine(config.reporting_db_url)
    ensure_schema(engine)
    outbox, subs = table("outbox", "ledger"), table("submissions", "ledger")
    with engine.connect() as conn:
        due = conn.execute(select(outbox).where(or_(
            (outbox.c.status == "pending") & (outbox.c.next_attempt_at <= now),
            (outbox.c.status == "sending") & (outbox.c.next_attempt_at <= now - STALE_SENDING),
        )).order_by(outbox.c.message_id)).all()
    result = {"sent": 0, "failed": 0}
    from email import message_from_string, policy

    for row in due:
        with engine.begin() as conn:  # claim it, so that a parallel run does not send it too
            claimed = conn.execute(update(outbox).where(outbox.c.message_id == row.message_id,
                                                        outbox.c.status == row.status)
                                   .values(status="sending", next_attempt_at=now)).rowcount
        if not claimed:
            continue
        try:
            sender.send(message_from_string(row.message, policy=policy.default))
        except Exception as e:  # SMTP down, refused, timed out: keep it and try later
            attempts = row.attempts + 1
            with engine.begin() as conn:
                conn.execute(update(outbox).where(outbox.c.message_id == row.message_id).values(
                    status="pending", attempts=attempts, last_error=f"{type(e).__name__}: {e}"[:500],
                    next_attempt_at=now + backoff(attempts)))
                if row.submission_id:
                    conn.execute(update(subs).where(subs.c.submission_id == row.submission_id).values(notification="retrying"))
            log.warning("could not send %r (attempt %d): %s", row.subject, attempts, e)
            result["failed"] += 1
            continue
        with engine.begin() as conn:
            conn.execute(update(outbox).where(outbox.c.message_id == row.message_id).values(
                status="sent", attempts=row.attempts + 1, sent_at=_now(), last_error=None))
            if row.submission_id:
                conn.execute(update(subs).where(subs.c.submission_id == row.submission_id).values(notification="sent"))
        result["sent"] += 1
    return result


# --- the weekly digest ------------------------------------------------------------------------------
def digest_message(conn, quarter: Quarter, today: dt.date) -> EmailMessage:
    from thb_reporting.reporting_calendar import COLOURS, NOT_OWED, STATUS_WORDS, STATUSES, reporting_statuses

    found = table("findings", "ledger")
    statuses = {(s["team_code"], s["dataset"]): s for s in reporting_statuses(conn, [quarter], today)}
    datasets = contracts.datasets()
    counts = {s: sum(v["status"] == s for v in statuses.values()) for s in STATUSES}
    counts["total"] = len(statuses)
    teams, rejected, missing = [], [], []
    for code, team in reference.teams().items():
        cells = [{"dataset": d, "status": statuses.get((code, d), {"status": NOT_OWED})["status"]} for d in datasets]
        teams.append({"name": team.name_lat, "cells": cells})
        gaps = [c["dataset"] for c in cells if c["status"] == "missing"]
        if gaps:
            missing.append({"team": team.name_lat, "datasets": gaps})
        for d in datasets:
            if cells[datasets.index(d)]["status"] == "rejected":
                sub = statuses[(code, d)]["last_rejected"]
                first = conn.execute(select(found).where(found.c.submission_id == sub.submission_id, found.c.severity == ERROR)
                                     .order_by(found.c.source_row)).first()
                letter = (archived_column_letters(sub.file_name, sub.archive_path).get(first.column_name)
                          if first and first.column_name else None)
                finding = Finding(first.rule, column=first.column_name, value=first.value, detail=first.detail,
                                  letter=letter) if first else None
                reason = {lang: explain(finding, lang, contracts.load(d), quarter)[0] if finding else "" for lang in ("sr", "en")}
                rejected.append({"team": team.name_lat, "dataset": d, "reason": reason})
    subject = f"[THB] Nedeljni pregled / Weekly digest: {quarter}, {today.isoformat()}"
    text, html = _render("digest", subject=subject, quarter=quarter, deadline=quarter.deadline().isoformat(),
                         today=today.isoformat(), counts=counts, teams=teams, rejected=rejected, missing=missing,
                         datasets=datasets, status_words=STATUS_WORDS, colours=COLOURS)
    year, week, _ = today.isocalendar()
    message = _envelope(subject, [reference.national_contacts()["national_coordinator"]["email"]], f"digest-{year}-W{week:02d}")
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message


def queue_weekly_digest(config: PipelineConfig, today: dt.date | None = None) -> bool:
    """Queue the coordinator's digest for the quarter being reported on (the last one that ended), once per
    ISO week; returns whether one was queued."""
    today = today or _now().date()
    quarter = Quarter.containing(today).previous()
    engine = reporting_engine(config.reporting_db_url)
    ensure_schema(engine)
    year, week, _ = today.isocalendar()
    with engine.begin() as conn:
        return _enqueue(conn, f"digest:{year}-W{week:02d}", "digest", digest_message(conn, quarter, today))


# --- reminders and overdue notices ------------------------------------------------------------------
REMIND_DAYS_BEFORE = 7


def queue_calendar_notices(config: PipelineConfig, today: dt.date | None = None,
                           remind_days: int = REMIND_DAYS_BEFORE) -> list[str]:
    """For the quarter being reported on: a reminder to every team that still owes a dataset once the
    deadline is `remind_days` away, an overdue notice once it has passed; each once per team and quarter,
    none for what is accepted, none for a locked quarter. Returns the keys queued."""
    from thb_reporting.reporting_calendar import reporting_statuses

    today = today or _now().date()
    quarter = Quarter.containing(today).previous()
    deadline = quarter.deadline()
    kind = "overdue" if today > deadline else ("reminder" if (deadline - today).days <= remind_days else None)
    if kind is None:
        return []
    engine = reporting_engine(config.reporting_db_url)
    ensure_schema(engine)
    queued = []
    with engine.begin() as conn:
        statuses = reporting_statuses(conn, [quarter], today)
        for code, team in reference.teams().items():
            owed = [s for s in statuses if s["team_code"] == code and not s["locked"]
                    and s["status"] in ("missing", "rejected")]
            if not owed or not team.contact_emails:
                continue
            datasets = [{"name": s["dataset"], "title": contracts.load(s["dataset"]).title,
                         "rejected": s["status"] == "rejected"} for s in owed]
            subject = (f"[THB] {'Rok je istekao' if kind == 'overdue' else 'Podsetnik'} / "
                       f"{'Overdue' if kind == 'overdue' else 'Reminder'}: {quarter} – {team.name_lat}")
            text, html = _render("calendar", subject=subject, overdue=kind == "overdue", quarter=quarter,
                                 deadline=deadline.isoformat(), datasets=datasets)
            message = _envelope(subject, list(team.contact_emails), f"{kind}-{code}-{quarter}")
            message.set_content(text)
            message.add_alternative(html, subtype="html")
            key = f"{kind}:{code}:{quarter}"
            if _enqueue(conn, key, kind, message):
                queued.append(key)
    return queued
