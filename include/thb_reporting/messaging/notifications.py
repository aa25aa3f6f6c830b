"""Who is told what, and when: one e-mail for every processed submission to its team's registered contacts
(the team registry only, never an address found in a file) — a receipt when accepted, every problem and how to
fix it when rejected; a file given up after repeated unexpected errors (failed) to its team and the national
coordinator; a file from a folder of no registered team to the coordinator alone; the coordinator's weekly
digest; reminders and overdue notices. This module gathers what each message needs from the ledger and the
snapshots (the team's figures) and queues it in the outbox; thb_reporting.messaging.messages words it,
thb_reporting.messaging.outbox sends it.
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict

from thb_reporting.core import clock
from thb_reporting.store import ledger, mail_ledger
from thb_reporting.messaging import messages
from thb_reporting.core.config import PipelineConfig
from thb_reporting.store.ledger import Notification, Status
from thb_reporting.store.reporting_calendar import ReportingStatus
from thb_reporting.messaging.outbox import enqueue, enqueue_many
from thb_reporting.core.quarters import Quarter
from thb_reporting.core.findings import ERROR
from thb_reporting.store.migrations import ensure_schema
from thb_reporting.store.warehouse import reporting_engine



# --- submission e-mails ---------------------------------------------------------------------------
def _figures_of(subs) -> dict[int, list[dict]]:
    """The figures of each accepted submission, as national.indicators will publish them for its team and
    quarter (quarters only: no year is computed); in one pass per dataset, each submission standing as its
    own area (so that a batch costs one computation, not one per file)."""
    import os
    from concurrent.futures import ThreadPoolExecutor
    from types import SimpleNamespace

    from thb_reporting.figures import indicator_catalogue, indicators
    from thb_reporting.store.snapshots import rows_of_snapshots

    by_dataset: dict[str, list] = defaultdict(list)
    for sub in subs:
        if sub.status == Status.ACCEPTED and sub.snapshot_path:
            by_dataset[sub.dataset].append(sub)
    catalogue = indicator_catalogue.catalogue()
    order = {name: i for i, name in enumerate(catalogue)}
    out = {}
    for dataset, group in by_dataset.items():
        areas = {sub.submission_id: f"#{sub.submission_id}" for sub in group}
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as readers:  # Parquet reads release the GIL
            rows = rows_of_snapshots([SimpleNamespace(
                snapshot_path=sub.snapshot_path, submission_id=sub.submission_id, team_code=areas[sub.submission_id],
                quarter=sub.quarter, content_sha256=sub.content_sha256, received_at=sub.received_at)
                for sub in group], read=readers.map).to_pandas()
        computed = indicators.national_indicators({dataset: rows}, {}, levels=("team",), periods=("quarter",))
        computed = computed[(computed["level"] == "team") & indicator_catalogue.shown_rows(computed, "receipt")]
        # in the catalogue's order, totals first; sorted once (stable): each submission's rows keep that order
        computed = computed.sort_values(["indicator", "breakdown"], kind="stable",
                                        key=lambda c: c.map(order) if c.name == "indicator" else c != "total")
        figures: dict[tuple, list[dict]] = defaultdict(list)  # (area, quarter) → its figures
        columns = ("area_code", "period", "indicator", "breakdown", "category", "value")
        for area, period, indicator, breakdown, category, value in zip(*(computed[c].tolist() for c in columns)):
            item = catalogue[indicator]
            sr, en = indicator_catalogue.category_label(indicator, breakdown, category)
            shown = f"{value:.0%}" if item["unit"] == "share" else f"{value:,.0f}".replace(",", " ")
            figures[(area, period)].append({"label": {"sr": f"{item['sr']} – {sr}", "en": f"{item['en']} – {en}"},
                                            "value": shown})
        for sub in group:
            out[sub.submission_id] = figures.get((areas[sub.submission_id], sub.quarter), [])
    return out


NOTICE_BATCH = 100  # submissions whose e-mails are queued in one transaction (a commit waits for the disk)
# The accepted rows whose figures are computed together: one computation for many files, and memory that
# does not grow with the number of files waiting (a burst, a whole quarter), only with this.
FIGURES_BATCH_ROWS = 500_000


def _by_rows(subs: list, limit: int):
    """The submissions in consecutive groups of at most `limit` accepted rows (a larger one alone)."""
    group: list = []
    rows = 0
    for sub in subs:
        size = sub.rows_accepted or 0
        if group and rows + size > limit:
            yield group
            group, rows = [], 0
        group.append(sub)
        rows += size
    if group:
        yield group


def queue_submission_notices(config: PipelineConfig) -> int:
    """Queue one e-mail for every processed submission that has none yet; returns how many."""
    engine = reporting_engine(config.reporting_db_url)
    ensure_schema(engine, views=False)  # the ledger only
    with engine.connect() as conn:
        waiting = ledger.awaiting_notice(conn)
    if not waiting:
        return 0
    queued = 0
    for group in _by_rows(waiting, FIGURES_BATCH_ROWS):
        queued += _queue_notices(config, engine, group, _figures_of(group))
    return queued


def _queue_notices(config: PipelineConfig, engine, waiting: list, figures: dict[int, list[dict]]) -> int:
    queued = 0
    for start in range(0, len(waiting), NOTICE_BATCH):
        batch = waiting[start:start + NOTICE_BATCH]
        with engine.connect() as conn:
            findings = ledger.findings_of_many(conn, [sub.submission_id for sub in batch])
        notices, no_contact = [], []
        for sub in batch:
            found = findings.get(sub.submission_id, [])
            if sub.status == Status.FAILED:
                message = messages.failed_message(sub, found, config.teams)
            elif sub.team_code not in config.teams:
                message = messages.unregistered_folder_message(sub, found)
            else:
                message = messages.submission_message(sub, config.teams, found, figures.get(sub.submission_id, []))
            if message is None:
                no_contact.append(sub.submission_id)
            else:
                notices.append((f"submission:{sub.submission_id}", "submission", message, sub.submission_id))
        with engine.begin() as conn:
            queued += len(enqueue_many(conn, notices))
            # not over the state another run gave one meanwhile (ingest runs overlap): it may be sent already
            ledger.set_notifications(conn, [sid for *_, sid in notices], Notification.QUEUED, only_unset=True)
            ledger.set_notifications(conn, no_contact, Notification.NO_CONTACT, only_unset=True)
    return queued


# --- replies to e-mails that brought no file (thb_reporting.intake.mailbox recorded them) ---------------------
def queue_mail_replies(config: PipelineConfig) -> int:
    """Queue the reply to every e-mail from a registered contact that brought no file the pipeline takes
    (its reason, in the thread of the e-mail), and the coordinator's notice of every e-mail from an unknown
    sender, once each (ledger.mail_messages.replied_at); returns how many were queued now. Mail no person
    wrote is never answered (it is not in mail_ledger.ANSWERED_MAIL)."""
    engine = reporting_engine(config.reporting_db_url)
    ensure_schema(engine, views=False)  # the ledger only
    queued = 0
    with engine.begin() as conn:
        for mail in mail_ledger.mail_awaiting_reply(conn):
            ref, date = mail_ledger.mail_ref(mail.message_key), mail.mail_date or mail.handled_at
            if mail.outcome == "unknown_sender":
                message = messages.unknown_sender_message(ref, date, mail.kept_in)
            elif mail.outcome in ("explanation", "explanation_refused"):
                message = messages.explanation_reply_message(
                    mail.outcome == "explanation", mail.sender, mail.message_key, ref, date,
                    team=config.teams.get(mail.team_code) if mail.team_code else None)
            else:
                message = messages.mail_refused_message(
                    mail.outcome, mail.sender, mail.message_key, ref, date, max_mb=max(1, config.max_file_bytes >> 20),
                    team=config.teams.get(mail.team_code) if mail.team_code else None)
            queued += enqueue(conn, f"mail:{ref}", "mail_reply", message)
            mail_ledger.set_mail_replied(conn, mail.message_key, clock.now())
    return queued


# --- the weekly digest ------------------------------------------------------------------------------
def _digest_reasons(conn, statuses: list[dict]) -> dict:
    """(team, dataset) → the first error (by row) of its last rejected file, for each rejected one."""
    reasons = {}
    for s in statuses:
        if s["status"] == ReportingStatus.REJECTED:
            sub = s["last_rejected"]
            first = ledger.findings_of(conn, sub.submission_id, ERROR, order=("source_row",))[:1]
            reasons[(s["team_code"], s["dataset"])] = first[0] if first else None
    return reasons


def queue_weekly_digest(config: PipelineConfig, today: dt.date | None = None) -> bool:
    """Queue the coordinator's digest for the quarter being reported on (the last one that ended), once per
    ISO week; returns whether one was queued."""
    from thb_reporting.store.reporting_calendar import reporting_statuses

    today = today or clock.now().date()
    quarter = Quarter.containing(today).previous()
    engine = reporting_engine(config.reporting_db_url)
    ensure_schema(engine, views=False)  # the ledger only
    year, week, _ = today.isocalendar()
    with engine.begin() as conn:
        statuses = reporting_statuses(conn, config.teams, [quarter], today)
        since = dt.datetime.combine(today - dt.timedelta(days=7), dt.time(), dt.timezone.utc)
        automatic = mail_ledger.mail_outcome_counts(conn, mail_ledger.AUTOMATIC_MAIL, since)  # mail nobody answered
        message = messages.digest_message(quarter, today, config.teams, statuses, _digest_reasons(conn, statuses),
                                          automatic)
        return enqueue(conn, f"digest:{year}-W{week:02d}", "digest", message)


# --- reminders and overdue notices ------------------------------------------------------------------
REMIND_DAYS_BEFORE = 7


def queue_calendar_notices(config: PipelineConfig, today: dt.date | None = None,
                           remind_days: int = REMIND_DAYS_BEFORE) -> list[str]:
    """For the quarter being reported on: a reminder to every team that still owes a dataset once the
    deadline is `remind_days` away, an overdue notice once it has passed; each once per team and quarter,
    none for what is accepted, none for a locked quarter. Returns the keys queued."""
    from thb_reporting.store.reporting_calendar import reporting_statuses

    today = today or clock.now().date()
    quarter = Quarter.containing(today).previous()
    deadline = quarter.deadline()
    kind = "overdue" if today > deadline else ("reminder" if (deadline - today).days <= remind_days else None)
    if kind is None:
        return []
    engine = reporting_engine(config.reporting_db_url)
    ensure_schema(engine, views=False)  # the ledger only
    queued = []
    with engine.begin() as conn:
        statuses = reporting_statuses(conn, config.teams, [quarter], today)
        for code, team in config.teams.items():
            owed = [s for s in statuses if s["team_code"] == code and not s["locked"]
                    and s["status"] in (ReportingStatus.MISSING, ReportingStatus.REJECTED)]
            if not owed or not team.contact_emails:
                continue
            key = f"{kind}:{code}:{quarter}"
            if enqueue(conn, key, kind, messages.calendar_message(kind, team, quarter, owed)):
                queued.append(key)
    return queued


# --- release notices ----------------------------------------------------------------------------------
def queue_release_notice(config: PipelineConfig, release_id: int) -> list[str]:
    """Queue the notice of an approved release (once): its headline figures as released, never a suppressed
    count. Returns the keys queued."""
    from sqlalchemy import func, select

    from thb_reporting.figures import indicator_catalogue
    from thb_reporting.reports.charts import SUPPRESSED_MARK, format_value
    from thb_reporting.store.release_tables import ReleaseState, frozen_name
    from thb_reporting.store.storage import release_folder
    from thb_reporting.store.warehouse import table

    releases, frozen, revisions = table("releases"), table(frozen_name("public_indicators")), table("release_revisions")
    catalogue = indicator_catalogue.catalogue()
    engine = reporting_engine(config.reporting_db_url)
    with engine.begin() as conn:
        release = conn.execute(select(releases).where(releases.c.release_id == release_id)).first()
        if release is None or release.state != ReleaseState.RELEASED.value:
            return []
        cells = {r.indicator: r for r in conn.execute(select(frozen).where(
            frozen.c.release_id == release_id, frozen.c.level == "nation", frozen.c.period == release.period,
            frozen.c.breakdown == "total", frozen.c.category == "total"))}
        headlines = [{"label": {"sr": catalogue[n]["sr"], "en": catalogue[n]["en"]},
                      "value": SUPPRESSED_MARK if cells[n].suppressed else format_value(cells[n].value, catalogue[n]["unit"])}
                     for n in indicator_catalogue.headlines() if n in cells]
        revised = conn.execute(select(func.count()).select_from(revisions)
                               .where(revisions.c.release_id == release_id)).scalar_one()
        folder = str(release_folder(config.data_root, release.period, release_id))
        key = f"release:{release_id}"
        message = messages.release_message(release, headlines, revised, folder, config.suppression_threshold)
        return [key] if enqueue(conn, key, "release", message) else []
