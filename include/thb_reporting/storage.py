"""The files: inbox, archive, quarantine and snapshots, all under ObjectStoragePath so that the same
code runs on a local folder, S3 or SFTP.

  <inbox>/<team>/<file>                                                   what teams drop (left in place)
  <data_root>/archive/<team>/<sha256>/<file>                              every file received, byte for byte
  <data_root>/quarantine/<team>/<sha256>/<file> + findings.csv            rejected files and why
  <data_root>/snapshots/dataset=<dataset>/team=<team>/quarter=<q>/<id>-<sha12>.parquet   accepted rows, immutable
                                                            (a hive layout: see snapshots.py)
"""
from __future__ import annotations

import re
import uuid
from collections.abc import Iterator


def storage_path(url: str):
    from airflow.sdk import ObjectStoragePath

    return ObjectStoragePath(url)


def safe_name(name: str) -> str:
    """A file name that cannot climb out of its folder; letters of any script are kept."""
    base = re.split(r"[\\/]", name)[-1].strip() or "unnamed"
    base = re.sub(r"[^\w.\- ]", "_", base)
    return "_" + base if base.startswith(".") else base


def write_atomically(target, data: bytes) -> None:
    """Write beside the target, then rename: a reader never sees a half-written file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.parent / f".{target.name}.{uuid.uuid4().hex}.part"
    part.write_bytes(data)
    part.rename(target)


# Files that are not submissions but traces of tools: an upload still in progress, Excel's lock file,
# folder metadata. Everything else found in the inbox is taken in (and rejected if it is no submission).
NOT_SUBMISSIONS = re.compile(r"(\.part|\.tmp|\.crdownload|\.filepart)$|^~\$|^(\.ds_store|thumbs\.db|desktop\.ini)$",
                             re.IGNORECASE)


def inbox_files(inbox_url: str) -> Iterator[tuple[str, object]]:
    """(team folder, file) for every file under the inbox; files in its root have team ''."""
    root = storage_path(inbox_url)
    if not root.exists():
        return
    for entry in sorted(root.iterdir(), key=lambda p: p.name):
        if entry.is_file():
            if not NOT_SUBMISSIONS.search(entry.name):
                yield "", entry
            continue
        for path in sorted(entry.rglob("*"), key=lambda p: str(p)):
            if path.is_file() and not NOT_SUBMISSIONS.search(path.name):
                yield entry.name, path


def archive_path(data_root: str, team: str, sha256: str, file_name: str):
    return storage_path(data_root) / "archive" / (safe_name(team) if team else "_no_team") / sha256 / safe_name(file_name)


def quarantine_dir(data_root: str, team: str, sha256: str):
    return storage_path(data_root) / "quarantine" / (safe_name(team) if team else "_no_team") / sha256


def snapshot_path(data_root: str, dataset: str, team: str, quarter: str, submission_id: int, sha256: str):
    return (storage_path(data_root) / "snapshots" / f"dataset={dataset}" / f"team={team}" / f"quarter={quarter}"
            / f"{submission_id:08d}-{sha256[:12]}.parquet")
