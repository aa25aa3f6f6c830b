"""The triggerer's watch on the teams' inbox: an event-driven trigger that starts `ingest_submissions`
within seconds of a new or changed file, costs no worker slot while waiting, and fires nothing when
nothing arrived.

It lists the inbox every few seconds (a local folder) or every minute (S3, SFTP: a listing costs a
request), and compares each file's signature (size and modification time) with what it has already
seen. What it has seen is kept in `<data_root>/state/inbox_watch.json`, written before an event is
fired: the triggerer restarts a watcher after each event and after its own restarts, and a restarted
watcher fires only for what arrived since. The first watch of an inbox, with no state yet, only takes
note of what is there: those files are for the safety-net schedule, which runs anyway.

The triggerer imports this class by its classpath, `thb_reporting.intake.inbox_watch.InboxArrivalTrigger`
(the package is installed). No file's name or content reaches the event or the log: only counts."""
from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

from thb_reporting.core.privacy import error_class
from thb_reporting.intake.inbox_signatures import STATE_FILE, inbox_signatures, not_placed_by_mailbox

log = logging.getLogger(__name__)

LOCAL_POLL_SECONDS = 2.0
REMOTE_POLL_SECONDS = 60.0


def load_seen(state_url: str) -> dict[str, str] | None:
    """The signatures seen by the last watch, or None when this inbox was never watched."""
    from thb_reporting.store.storage import storage_path

    path = storage_path(state_url)
    try:
        return json.loads(path.read_text(encoding="utf-8"))["seen"]
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError):
        log.warning("the inbox watch's state could not be read; starting afresh")
        return None


def save_seen(state_url: str, seen: dict[str, str]) -> None:
    from thb_reporting.store.storage import storage_path, write_atomically

    write_atomically(storage_path(state_url), json.dumps({"seen": seen}, sort_keys=True).encode("utf-8"))


def arrivals(seen: dict[str, str], now: dict[str, str]) -> list[str]:
    """Entries that are new, or whose signature changed, since `seen`."""
    return [key for key, signature in now.items() if seen.get(key) != signature]


async def take_note(state_url: str, seen: dict[str, str] | None, now: dict[str, str]) -> tuple[dict, list[str]]:
    """What is seen from now on, and what arrived. The first watch (nothing seen yet) only takes note: what
    is there already is the safety net's. Removals are noted too, so that something dropped again later
    is new again. Saved before the caller fires, so a restarted watch fires nothing twice."""
    if seen is None:
        seen = now
        await asyncio.to_thread(save_seen, state_url, seen)
    new = arrivals(seen, now)
    if now != seen:
        await asyncio.to_thread(save_seen, state_url, now)
    return now, new


class InboxArrivalTrigger(BaseEventTrigger):
    """Fires one event for each listing of the inbox that shows new or changed files.

    inbox and state: URLs (file://, s3://, sftp://); None reads them in the triggerer from the
    pipeline's variables (thb_inbox, thb_data_root), so that the DAG file reads no Variable at parse
    time. poll_seconds: None for 2 s on a local folder, 60 s on object storage."""

    def __init__(self, *, inbox: str | None = None, state: str | None = None,
                 poll_seconds: float | None = None) -> None:
        super().__init__()
        self.inbox, self.state, self.poll_seconds = inbox, state, poll_seconds

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (f"{type(self).__module__}.{type(self).__qualname__}",
                {"inbox": self.inbox, "state": self.state, "poll_seconds": self.poll_seconds})

    def _resolve(self) -> tuple[str, str, float]:
        inbox, state = self.inbox, self.state
        if inbox is None or state is None:
            from airflow.sdk import Variable

            from thb_reporting.core.config import PROJECT_ROOT

            # as PipelineConfig.from_airflow reads them (the triggerer resolves variables as a task does)
            data_root = Variable.get("thb_data_root", default=(PROJECT_ROOT / "data").as_uri()).rstrip("/")
            inbox = inbox or Variable.get("thb_inbox", default=f"{data_root}/inbox").rstrip("/")
            state = state or f"{data_root}/{STATE_FILE}"
        local = inbox.startswith(("file:", "/"))
        return inbox, state, self.poll_seconds or (LOCAL_POLL_SECONDS if local else REMOTE_POLL_SECONDS)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        inbox, state, interval = await asyncio.to_thread(self._resolve)
        seen = await asyncio.to_thread(load_seen, state)
        while True:
            try:
                now = await asyncio.to_thread(inbox_signatures, inbox)
            except OSError as e:  # a storage hiccup: the next listing may succeed
                log.warning("the inbox could not be listed (%s); trying again in %.0f s", error_class(e), interval)
                await asyncio.sleep(interval)
                continue
            seen, new = await take_note(state, seen, now)
            if new:
                new = await asyncio.to_thread(not_placed_by_mailbox, state, now, new)
            if new:
                log.info("%d new or changed file(s) in the inbox", len(new))
                yield TriggerEvent({"files": len(new)})
            await asyncio.sleep(interval)


# --- the reporting mailbox (mailbox.py): the same kind of watch over IMAP ---------------------------------
# One session is kept open between looks: a look is then a NOOP (IMAP's poll for new messages) and a UID
# SEARCH on it, light enough for every couple of seconds. A login for each look was affordable only every
# 15 s, and an e-mailed file waited 6-14 s to be seen. The session is opened again after
# MAILBOX_SESSION_SECONDS, and after any error.
MAILBOX_POLL_SECONDS = 2.0
MAILBOX_SESSION_SECONDS = 600.0  # within the 30 minutes after which servers may log an inactive session out
MAILBOX_RETRY_SECONDS = 15.0  # a server that is away is asked again no more often than this (one warning each)
NO_MAILBOX_RECHECK_SECONDS = 300.0  # without imap_default, whether one was configured since
MAILBOX_STATE_FILE = "state/mailbox_watch.json"


class MailboxSession:
    """The watch's session with the reporting mailbox, through the connection imap_default: its INBOX
    examined (read only), and looked at again on each call of `signatures`."""

    def __init__(self) -> None:
        self.client: Any = None
        self.validity = "0"
        self.opened = 0.0

    def signatures(self) -> dict[str, str] | None:
        """The messages waiting in the INBOX (UIDVALIDITY:UID → 'waiting'); None without imap_default.
        Only identifiers of the server: nothing of a message."""
        import time

        if self.client is not None and time.monotonic() - self.opened > MAILBOX_SESSION_SECONDS:
            self.close()
        if self.client is None:
            from thb_reporting.intake.mailbox import INBOX, imap_client_from_airflow

            client = imap_client_from_airflow()
            if client is None:
                return None
            self.client, self.opened = client, time.monotonic()
            try:
                client.select(INBOX, readonly=True)
            except BaseException:
                self.close()
                raise
            validity = (client.response("UIDVALIDITY")[1] or [b"0"])[0]
            self.validity = validity.decode() if isinstance(validity, bytes) else str(validity)
        try:
            self.client.noop()  # the poll for new messages that IMAP provides: the server takes note of arrivals
            uids = self.client.uid("SEARCH", None, "ALL")[1][0].split()
        except BaseException:
            self.close()  # the server went away or dropped the session: the next look logs in again
            raise
        return {f"{self.validity}:{uid.decode()}": "waiting" for uid in uids}

    def close(self) -> None:
        client, self.client = self.client, None
        if client is not None:
            import contextlib

            with contextlib.suppress(Exception):  # it may be gone already
                client.logout()


class MailboxArrivalTrigger(BaseEventTrigger):
    """Fires one event for each look at the reporting mailbox that finds messages it has not seen, so that
    an e-mailed file starts ingest_submissions within seconds, like a file dropped in the inbox. Messages
    that stay in the INBOX (waiting for the next run) do not fire again. state: a URL; None reads
    thb_data_root in the triggerer. Without the connection imap_default it fires nothing."""

    def __init__(self, *, state: str | None = None, poll_seconds: float | None = None) -> None:
        super().__init__()
        self.state, self.poll_seconds = state, poll_seconds

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (f"{type(self).__module__}.{type(self).__qualname__}",
                {"state": self.state, "poll_seconds": self.poll_seconds})

    def _resolve(self) -> str:
        if self.state is not None:
            return self.state
        from airflow.sdk import Variable

        from thb_reporting.core.config import PROJECT_ROOT

        data_root = Variable.get("thb_data_root", default=(PROJECT_ROOT / "data").as_uri()).rstrip("/")
        return f"{data_root}/{MAILBOX_STATE_FILE}"

    async def run(self) -> AsyncIterator[TriggerEvent]:
        state = await asyncio.to_thread(self._resolve)
        interval = self.poll_seconds or MAILBOX_POLL_SECONDS
        seen = await asyncio.to_thread(load_seen, state)
        session = MailboxSession()
        try:
            async for event in self._watch(session, state, seen, interval):
                yield event
        finally:  # the trigger is cancelled or the triggerer stops: log out without holding up its loop
            import threading

            threading.Thread(target=session.close, daemon=True).start()

    async def _watch(self, session: MailboxSession, state: str, seen, interval: float) -> AsyncIterator[TriggerEvent]:
        import imaplib

        while True:
            error = None
            try:
                now = await asyncio.to_thread(session.signatures)
            except (OSError, imaplib.IMAP4.error) as e:  # the mail server is away: the next look may succeed
                error, now = e, None
            if error is not None:
                retry = max(interval, MAILBOX_RETRY_SECONDS)
                log.warning("the reporting mailbox could not be read (%s); trying again in %.0f s",
                            error_class(error), retry)
                await asyncio.sleep(retry)
                continue
            if now is None:
                await asyncio.sleep(max(interval, NO_MAILBOX_RECHECK_SECONDS))
                continue
            seen, new = await take_note(state, seen, now)
            if new:
                log.info("%d new e-mail(s) in the reporting mailbox", len(new))
                yield TriggerEvent({"messages": len(new)})
            await asyncio.sleep(interval)
