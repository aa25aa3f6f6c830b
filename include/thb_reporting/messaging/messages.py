"""The e-mails' words: each message composed from plain data (a submission's ledger row, its findings, its
figures, reporting statuses), Serbian (Latin) first and English below, HTML with a plain-text part. Texts and
subject lines are in email_templates/ (<name>.subject.j2, <name>.txt.j2, <name>.html.j2); nothing here reads
the database or sends. Every value that comes from a file or a folder name passes the identifier screen
(privacy.shown, privacy.shown_file_name) before it reaches a message."""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from email import policy
from email.headerregistry import BaseHeader, HeaderRegistry
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from functools import cache, lru_cache
from pathlib import Path

from thb_reporting.core import contracts, reference
from thb_reporting.store import mail_ledger
from thb_reporting.store.ledger import Status
from thb_reporting.store.reporting_calendar import ReportingStatus
from thb_reporting.core.privacy import shown, shown_file_name
from thb_reporting.core.quarters import Quarter
from thb_reporting.core.findings import ERROR, Finding, column_as_seen, explain, findings_csv, is_note

ROWS_IN_BODY = 20  # per rule; the attached CSV has them all


class _FoldedOnce(BaseHeader):
    """A header that folds itself once per policy's settings (each as_string clones its policy: the settings
    are the key, not the object): the same header object serves every message that has it (_Headers)."""

    def fold(self, *, policy):
        settings = (type(policy), *policy.__dict__.items())
        if getattr(self, "_folded", (None,))[0] != settings:
            self._folded = (settings, super().fold(policy=policy))
        return self._folded[1]


class _Headers(HeaderRegistry):
    """The standard library's header registry, parsing each (name, text) once and making each name's header
    class once (it makes a class for every header): most headers of a batch of e-mails repeat (From, the
    parts' Content-Type and Content-Transfer-Encoding, Date within a second, To within a team), and parsing
    and folding them took half of notify's time at 145 teams. Header objects are immutable strings."""

    def __init__(self):
        super().__init__(base_class=_FoldedOnce)
        self._class_of: dict[str, type] = {}
        self._parsed = lru_cache(maxsize=4096)(super().__call__)

    def __getitem__(self, name):
        key = name.lower()
        if key not in self._class_of:
            self._class_of[key] = super().__getitem__(name)
        return self._class_of[key]

    def __call__(self, name, value):
        return self._parsed(name, value) if type(value) is str else super().__call__(name, value)


MAIL_POLICY = policy.default.clone(header_factory=_Headers())  # policy.default's behaviour, its work shared


@cache
def _templates():
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    return Environment(loader=FileSystemLoader(Path(__file__).parent / "email_templates"),
                       autoescape=select_autoescape(["html"]), trim_blocks=False, keep_trailing_newline=True)


def subject(name: str, **context) -> str:
    """The subject line of email_templates/<name>.subject.j2."""
    return _templates().get_template(f"{name}.subject.j2").render(**context).removesuffix("\n")


def _render(name: str, **context) -> tuple[str, str]:
    env = _templates()
    context.setdefault("sender_name", reference.national_contacts()["sender"]["name"])
    return env.get_template(f"{name}.txt.j2").render(**context), env.get_template(f"{name}.html.j2").render(**context)


def _message(name: str, to: list[str], key: str, **context) -> EmailMessage:
    """The message of email_templates/<name>.*: its subject, plain text and HTML, to `to`."""
    context["subject"] = subject(name, **context)
    text, html = _render(name, **context)
    message = _envelope(context["subject"], to, key)
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message


def _envelope(subject: str, to: list[str], key: str) -> EmailMessage:
    message = EmailMessage(policy=MAIL_POLICY)
    message["Subject"] = subject
    sender = reference.national_contacts()["sender"]
    message["From"] = formataddr((sender["name"], sender["email"]))
    message["To"] = ", ".join(to)
    message["Date"] = format_datetime(dt.datetime.now(dt.timezone.utc))
    message["Message-ID"] = f"<{key}@{mail_ledger.MESSAGE_ID_DOMAIN}>"  # stable: a resend is recognisable
    message["Auto-Submitted"] = "auto-generated"
    return message


def _in_thread(message: EmailMessage, message_id: str | None) -> None:
    """Make the message a reply to the e-mail of that Message-ID (thb_reporting.intake.mailbox checked its form)."""
    if message_id and message_id.startswith("<"):  # not the hash that stands for a missing one
        message["In-Reply-To"] = message_id
        message["References"] = message_id


def _coordinator() -> str:
    return reference.national_contacts()["national_coordinator"]["email"]


# --- submission e-mails ---------------------------------------------------------------------------
# Rules whose group of rows names every detail of its rows (each invisible character met), not the first's.
LISTED_DETAILS = {"invisible_character_removed"}


def _groups(findings: list[Finding], contract, quarter) -> list[dict]:
    by_rule: dict[tuple, list[Finding]] = defaultdict(list)
    for f in findings:
        by_rule[(f.severity != ERROR, f.rule, f.column or "")].append(f)
    groups = []
    for (_, rule, column), items in sorted(by_rule.items()):
        values = {f.value for f in items}
        details = list(dict.fromkeys(f.detail for f in items if f.detail))
        detail = ", ".join(details) if rule in LISTED_DETAILS else items[0].detail
        sample = Finding(rule, items[0].severity, column=column or None,
                         value=items[0].value if len(values) == 1 else "…", detail=detail, letter=items[0].letter)
        texts = {lang: explain(sample, lang, contract, quarter) for lang in ("sr", "en")}
        groups.append({"severity": items[0].severity, "note": is_note(rule),
                       "column": column_as_seen(sample, contract),
                       "text": {k: v[0] for k, v in texts.items()},
                       "fix": {k: v[1] for k, v in texts.items()}, "rows": items[:ROWS_IN_BODY],
                       "more": max(0, len(items) - ROWS_IN_BODY)})
    return groups


def _file_name(sub) -> str:
    """The submission's file name as a message may show it (privacy.shown_file_name)."""
    return shown_file_name(sub.file_name, sub.dataset, sub.quarter, sub.content_sha256)


def _key(sub) -> str:
    return mail_ledger.notice_key(sub.submission_id, sub.content_sha256)


def _templates_to_attach(contract, accepted: bool) -> list:
    """The templates the receipt of a file made from an earlier template attaches: the current one, to use next
    time; for a rejected file also its quarter's version, to send the quarter again in, where that is another."""
    current = contracts.load(contract.dataset)
    return [current] if accepted or current.version == contract.version else [contract, current]


def _earlier_template(sub, contract, accepted: bool) -> dict | None:
    """For a file made from an earlier template than its quarter's (ledger template_version): the version it
    followed, the version in force and the templates attached, for the receipt's heading; else None."""
    followed = getattr(sub, "template_version", None)
    if contract is None or followed is None or followed >= contract.version:
        return None
    from thb_reporting.core.contracts import template_file_name as template_file

    return {"followed": followed, "in_force": contract.version,
            "files": ", ".join(template_file(t, "xlsx") for t in _templates_to_attach(contract, accepted))}


def submission_message(sub, teams: reference.TeamRegistry, findings: list[Finding], figures: list[dict]) -> EmailMessage | None:
    """The e-mail for one processed submission, or None when its team (in `teams`, the registry in force)
    has no registered contact.
    findings: with their columns' letters where known (findings.located); figures: the team's figures
    for the quarter when accepted (notifications)."""
    team = teams.get(sub.team_code)
    if team is None or not team.contact_emails:
        return None
    accepted = sub.status == Status.ACCEPTED
    sent_by = getattr(sub, "mail_sender", None)  # e-mailed: the reply goes to its sender too, in its thread
    contract = contracts.of_submission(sub.dataset, sub.quarter)  # the version it was validated under
    quarter = Quarter.parse(sub.quarter) if sub.quarter else None
    file_name = _file_name(sub)
    earlier = _earlier_template(sub, contract, accepted)
    message = _message(
        "submission", list(dict.fromkeys([*([sent_by] if sent_by else []), *team.contact_emails])), _key(sub),
        named=sub.dataset or file_name, accepted=accepted, team_name_lat=team.name_lat, file_name=file_name,
        dataset=sub.dataset or "?", quarter=sub.quarter, sha256=sub.content_sha256,
        received_at=sub.received_at.strftime("%Y-%m-%d %H:%M UTC"), rows_accepted=sub.rows_accepted,
        groups=_groups(findings, contract, quarter), figures=figures if accepted else [], by_mail=bool(sent_by),
        template=earlier,
    )
    _in_thread(message, getattr(sub, "mail_message_id", None))
    for template in _templates_to_attach(contract, accepted) if earlier else ():
        from thb_reporting.core.contracts import template_file_name as template_file
        from thb_reporting.core.templates import xlsx_template

        message.add_attachment(xlsx_template(template), maintype="application",
                               subtype="vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                               filename=template_file(template, "xlsx"))
    if findings:
        from thb_reporting.reports.pages import submission_report

        message.add_attachment(findings_csv(findings, contract, quarter), maintype="text", subtype="csv",
                               filename=f"nalazi_findings_{sub.submission_id}.csv")
        message.add_attachment(submission_report(sub, findings, teams, standalone=True), subtype="html",
                               filename=f"validacija_validation_{sub.submission_id}.html")
    return message


def _coordinator_notice(template: str, sub, to: list[str], findings: list[Finding],
                        team: reference.Team | None = None, by_mail: bool = False) -> EmailMessage:
    """A plain message about a submission that its team (None: an unregistered folder) alone cannot act on
    (Serbian first, English below)."""
    reasons = [{"text": {lang: explain(f, lang)[0] for lang in ("sr", "en")},
                "fix": {lang: explain(f, lang)[1] for lang in ("sr", "en")}} for f in findings]
    file_name = _file_name(sub)
    return _message(template, to, _key(sub), named=sub.dataset or file_name,
                    team_name_lat=team.name_lat if team else None,
                    folder=shown(sub.team_code), file_name=file_name, dataset=sub.dataset or "?", quarter=sub.quarter,
                    received_at=sub.received_at.strftime("%Y-%m-%d %H:%M UTC"), sha256=sub.content_sha256,
                    submission_id=sub.submission_id, reasons=reasons, by_mail=by_mail,
                    text=reasons[0]["text"] if reasons else {}, fix=reasons[0]["fix"] if reasons else {})


def failed_message(sub, findings: list[Finding], teams: reference.TeamRegistry) -> EmailMessage:
    """A submission given up after repeated unexpected errors (status failed): to its team's contacts, if
    any, and the national coordinator; an e-mailed file's also to its sender, in the e-mail's thread, and
    told to reply with the new file (email_templates/_route.j2). It names the error's class only (findings:
    processing_failed)."""
    team = teams.get(sub.team_code)
    sent_by = getattr(sub, "mail_sender", None) if team else None  # e-mailed: its sender too, in its thread
    to = [*([sent_by] if sent_by else []), *(team.contact_emails if team else ()), _coordinator()]
    message = _coordinator_notice("failed", sub, list(dict.fromkeys(to)), findings, team, by_mail=bool(sent_by))
    _in_thread(message, getattr(sub, "mail_message_id", None) if sent_by else None)
    return message


def unregistered_folder_message(sub, findings: list[Finding]) -> EmailMessage:
    """A file rejected because its folder is no registered team's (or the inbox root): the team cannot be
    told, so the national coordinator is."""
    return _coordinator_notice("unregistered_folder", sub, [_coordinator()], findings)


# --- the reporting mailbox (thb_reporting.intake.mailbox) -----------------------------------------------------
def mail_refused_message(reason: str, sender: str, message_id: str, ref: str, date: dt.datetime, *, max_mb: int,
                         team: reference.Team | None = None) -> EmailMessage:
    """The reply to an e-mail from a registered contact that brought no file the pipeline can take (reason:
    a mailbox.MailOutcome), in its thread (ref: the e-mail's number in the mailbox step). It quotes nothing of
    the e-mail but its date."""
    message = _message("mail_refused", [sender], f"mail-{ref}", reason=reason, max_mb=max_mb,
                       sent_at=date.strftime("%Y-%m-%d %H:%M UTC"), team_name_lat=team.name_lat if team else None)
    _in_thread(message, message_id)
    return message


def explanation_reply_message(recorded: bool, sender: str, message_id: str, ref: str, date: dt.datetime,
                              team: reference.Team | None = None) -> EmailMessage:
    """The answer to a team's reply that explains its file's warnings, in its thread: recorded, or refused
    because it holds a personal identifier (it is not kept; the answer quotes nothing of it)."""
    message = _message("explanation", [sender], f"mail-{ref}", recorded=recorded,
                       sent_at=date.strftime("%Y-%m-%d %H:%M UTC"), team_name_lat=team.name_lat if team else None)
    _in_thread(message, message_id)
    return message


def unknown_sender_message(ref: str, date: dt.datetime, folder: str) -> EmailMessage:
    """To the coordinator: an e-mail from an address of no registered team, kept in `folder` of the mailbox
    (ref: the e-mail's number in the mailbox step, as its log line names it)."""
    return _message("unknown_sender", [_coordinator()], f"mail-{ref}", ref=ref,
                    sent_at=date.strftime("%Y-%m-%d %H:%M UTC"), folder=folder)


# --- the coordinator's weekly digest; reminders and overdue notices ------------------------------------
def digest_message(quarter: Quarter, today: dt.date, teams: reference.TeamRegistry, statuses: list[dict],
                   reasons: dict, automatic: dict[str, int] | None = None) -> EmailMessage:
    """The coordinator's weekly digest for a quarter over the teams of the registry in force: statuses (reporting_calendar.reporting_statuses) and,
    for each rejected (team, dataset), the first error of its last rejected file (a Finding) or None;
    automatic: how many e-mails of each kind no person wrote came in the last seven days (mailbox.AUTOMATIC),
    which nobody answered."""
    from thb_reporting.store.reporting_calendar import COLOURS, NOT_OWED, STATUS_WORDS, STATUSES

    statuses = {(s["team_code"], s["dataset"]): s for s in statuses}
    datasets = contracts.datasets()
    counts = {s: sum(v["status"] == s for v in statuses.values()) for s in STATUSES}
    counts["total"] = len(statuses)
    rows, rejected, missing = [], [], []
    for code, team in teams.items():
        cells = [{"dataset": d, "status": statuses.get((code, d), {"status": NOT_OWED})["status"]} for d in datasets]
        rows.append({"name": team.name_lat, "cells": cells})
        gaps = [c["dataset"] for c in cells if c["status"] == ReportingStatus.MISSING]
        if gaps:
            missing.append({"team": team.name_lat, "datasets": gaps})
        for d in datasets:
            if cells[datasets.index(d)]["status"] == ReportingStatus.REJECTED:
                finding = reasons.get((code, d))
                reason = {lang: explain(finding, lang, contracts.for_quarter(d, quarter), quarter)[0] if finding else "" for lang in ("sr", "en")}
                rejected.append({"team": team.name_lat, "dataset": d, "reason": reason})
    year, week, _ = today.isocalendar()
    return _message("digest", [_coordinator()], f"digest-{year}-W{week:02d}", quarter=quarter,
                    deadline=quarter.deadline().isoformat(), today=today.isoformat(), counts=counts, teams=rows,
                    rejected=rejected, missing=missing, datasets=datasets, status_words=STATUS_WORDS, colours=COLOURS,
                    automatic={k: n for k, n in sorted((automatic or {}).items()) if n})


def calendar_message(kind: str, team, quarter: Quarter, owed: list[dict]) -> EmailMessage:
    """A reminder (kind 'reminder') or an overdue notice ('overdue') to a team for the datasets it still owes
    for the quarter (owed: its reporting statuses, missing or rejected)."""
    datasets = [{"name": s["dataset"], "title": contracts.load(s["dataset"]).title,
                 "rejected": s["status"] == ReportingStatus.REJECTED} for s in owed]
    return _message("calendar", list(team.contact_emails), f"{kind}-{team.municipality_code}-{quarter}",
                    overdue=kind == "overdue", team_name_lat=team.name_lat, quarter=quarter,
                    deadline=quarter.deadline().isoformat(), datasets=datasets)


def release_message(release, headlines: list[dict], revised: int, folder: str, threshold: int) -> EmailMessage:
    """The release notice to the coordinator and the ministries' contacts (reference/national_contacts.csv,
    roles ministry_*): headline figures as released (a suppressed one is x), what changed, where to read it."""
    contacts = reference.national_contacts()
    to = [contacts["national_coordinator"]["email"]] + [c["email"] for role, c in contacts.items()
                                                        if role.startswith("ministry_")]
    return _message("release", to, f"release-{release.release_id}", release_id=release.release_id,
                    period=release.period, status=release.status,
                    released_at=release.decided_at.strftime("%Y-%m-%d %H:%M UTC"), headlines=headlines,
                    previous_release_id=release.previous_release_id, revised=revised, folder=folder,
                    threshold=threshold)
