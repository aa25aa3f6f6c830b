"""How the triggerer's inbox watch (inbox_watch.py) signs the inbox's files, and the mailbox pull's note of
the files it placed there, which the watch leaves out. Apart from the watch so that the mailbox pull
(mailbox.py) writes the note without importing the watch, which imports the mailbox's session."""
from __future__ import annotations

import json

STATE_FILE = "state/inbox_watch.json"


def inbox_signatures(inbox_url: str) -> dict[str, str]:
    """Each inbox entry's path under the inbox and its signature: size and modification time. A refused
    entry (a link, a FIFO …) is signed by its kind, without being followed."""
    from thb_reporting.store.storage import inbox_files

    prefix = _prefix(inbox_url)
    signatures = {}
    for entry in inbox_files(inbox_url):
        if entry.not_submission:  # a .DS_Store that the system rewrites is no news for the pipeline
            continue
        try:
            signatures[_key(prefix, entry.path)] = entry.refused or signature(entry.path)
        except FileNotFoundError:  # removed since it was listed
            continue
    return signatures


def _prefix(inbox_url: str) -> str:
    """The inbox's own path, which each entry's key leaves out."""
    from thb_reporting.store.storage import storage_path

    return storage_path(inbox_url).path.rstrip("/") + "/"


def _key(prefix: str, path) -> str:
    return path.path[len(prefix):] if path.path.startswith(prefix) else path.path


def signature(path) -> str:
    """A file's signature as the watch compares it: its size and modification time."""
    import os

    from thb_reporting.store.storage import local_path

    if (local := local_path(path)) is not None:
        st = os.lstat(local)
        return f"{st.st_size}:{st.st_mtime_ns}"
    info = path.stat()
    changed = info.get("LastModified") or info.get("mtime") or info.get("ETag") or ""
    return f"{info.get('size')}:{changed}"


# The files the mailbox pull placed in the inbox, beside the watch's state: the run that pulled them
# collects them in the same task, so the watch starts no second run for them (one that would find nothing
# to do, but would share the cores with the e-mail's own run).
PLACED_FILE = "placed_by_mailbox.json"
PLACED_KEPT_SECONDS = 86_400.0  # long after the watch has looked


def note_placed(data_root: str, inbox_url: str, paths) -> None:
    """The mailbox pull's note of the files it has just placed in the inbox (their signatures)."""
    import time

    from thb_reporting.store.storage import write_atomically

    note = _placed_note(f"{data_root.rstrip('/')}/{STATE_FILE}")
    prefix = _prefix(inbox_url)
    now = time.time()
    placed = {key: entry for key, entry in _placed(note).items() if now - entry[1] < PLACED_KEPT_SECONDS}
    for path in paths:
        placed[_key(prefix, path)] = [signature(path), now]
    write_atomically(note, json.dumps(placed, sort_keys=True).encode("utf-8"))


def _placed_note(state_url: str):
    """The note's place: beside the inbox watch's state."""
    from thb_reporting.store.storage import storage_path

    return storage_path(state_url).parent / PLACED_FILE


def _placed(note) -> dict[str, list]:
    try:
        placed = json.loads(note.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):  # none yet, or cut short: the watch then fires as for any file
        return {}
    return placed if isinstance(placed, dict) else {}


def not_placed_by_mailbox(state_url: str, now: dict[str, str], new: list[str]) -> list[str]:
    """The arrivals of `new` that the mailbox pull did not place (as they were when it placed them)."""
    placed = _placed(_placed_note(state_url))
    return [key for key in new if (placed.get(key) or [None])[0] != now.get(key)]
