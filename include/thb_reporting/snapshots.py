"""Accepted rows as Parquet snapshots, in a hive layout that DuckDB, Spark or pyarrow datasets read as one
table per dataset (`read_parquet('<data_root>/snapshots/dataset=victims/**/*.parquet', hive_partitioning=true,
union_by_name=true)`: quarters under an earlier contract version lack the later version's columns):

  <data_root>/snapshots/dataset=<name>/team=<code>/quarter=<q>/<submission id>-<sha12>.parquet

Columns of several codes (victims.exploitation, victims.services) are lists of codes in a snapshot; what
publishes reads them back as ';'-joined text (joined_codes), the warehouse's type. migrate() brings
snapshots of the earlier layout (snapshots/<dataset>/team=…/quarter=…, several codes as joined text)
into this one and points the ledger at them; it is safe to run again and after an interruption.
"""
from __future__ import annotations

import logging
import re

from thb_reporting.contracts import CODES_SEPARATOR

log = logging.getLogger(__name__)
DATASET_PREFIX = "dataset="
_FILE_NAME = re.compile(r"(\d{8})-[0-9a-f]{12}\.parquet")


def split_codes(texts):
    """A string array of ';'-joined codes as a list<string> array (missing stays missing)."""
    import pyarrow.compute as pc

    return pc.split_pattern(texts, CODES_SEPARATOR)


def joined_codes(rows):
    """A snapshot's rows with every list column as ';'-joined text, as the fact tables and indicators take them."""
    import pyarrow as pa
    import pyarrow.compute as pc

    for i, field in enumerate(rows.schema):
        if pa.types.is_list(field.type) or pa.types.is_large_list(field.type):
            rows = rows.set_column(i, pa.field(field.name, pa.string()), pc.binary_join(rows.column(i), CODES_SEPARATOR))
    return rows


def _listed_codes(rows, dataset: str):
    """Rows of an earlier snapshot with the columns of several codes as lists."""
    import pyarrow as pa

    from thb_reporting import contracts

    for col in contracts.load(dataset).columns:
        if col.type == "codes" and col.stored_name in rows.column_names:
            i = rows.column_names.index(col.stored_name)
            if pa.types.is_string(rows.schema.field(i).type):
                rows = rows.set_column(i, pa.field(col.stored_name, pa.list_(pa.string())), split_codes(rows.column(i)))
    return rows


def old_layout_folders(data_root: str) -> list:
    """The dataset folders of the earlier layout (snapshots/<dataset>/) under data_root."""
    from thb_reporting.storage import storage_path

    root = storage_path(data_root) / "snapshots"
    if not root.exists():
        return []
    return [p for p in root.iterdir() if p.is_dir() and not p.name.startswith((DATASET_PREFIX, "."))]


def migrate(data_root: str, reporting_db_url: str) -> int:
    """Move every snapshot of the earlier layout into the hive layout (rewritten with lists for the columns of
    several codes), update its ledger row, then remove the old file. Returns how many were moved.
    Order per file: new file (atomically), ledger, old file; a run interrupted anywhere is completed by
    the next, and two runs at once write the same file."""
    import io

    import pyarrow.parquet as pq
    from thb_reporting import contracts, ledger
    from thb_reporting.storage import write_atomically
    from thb_reporting.warehouse import ensure_schema, reporting_engine

    folders = old_layout_folders(data_root)
    if not folders:
        return 0
    engine = reporting_engine(reporting_db_url)
    ensure_schema(engine)
    moved = 0
    for folder in folders:
        dataset = folder.name
        if dataset not in contracts.datasets():
            log.warning("snapshots/%s is no dataset of the contracts; left where it is", dataset)
            continue
        for old in sorted(folder.rglob("*.parquet"), key=str):
            m = _FILE_NAME.fullmatch(old.name)
            if not m:
                log.warning("%s is not named like a snapshot; left where it is", old)
                continue
            new = folder.parent / f"{DATASET_PREFIX}{dataset}" / str(old.relative_to(folder))
            try:
                with old.open("rb") as f:
                    rows = _listed_codes(pq.read_table(f), dataset)
            except FileNotFoundError:  # moved by a run at the same time
                continue
            buf = io.BytesIO()
            pq.write_table(rows, buf, compression="zstd")
            write_atomically(new, buf.getvalue())
            with engine.begin() as conn:
                ledger.set_snapshot_path(conn, int(m.group(1)), str(new),
                                         unless_like=f"%/snapshots/{DATASET_PREFIX}%")
            old.unlink(missing_ok=True)
            moved += 1
        _remove_empty(folder)
    log.info("moved %d snapshots into the layout snapshots/dataset=<name>/team=<code>/quarter=<q>/", moved)
    return moved


def _remove_empty(folder) -> None:
    """The old layout's folders, once nothing is left in them (deepest first)."""
    for path in sorted((p for p in folder.rglob("*") if p.is_dir()), key=lambda p: len(str(p)), reverse=True) + [folder]:
        try:
            if not any(path.iterdir()):
                path.rmdir()
        except (FileNotFoundError, OSError):
            pass
