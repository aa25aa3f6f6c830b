"""Accepted rows as Parquet snapshots, the hand-off between intake and publishing: where a snapshot lies
(snapshot_path), what it holds (stored_rows), writing it (write_snapshot) and reading it back with its lineage
(snapshot_rows, concat_snapshots across contract versions). Snapshots are in a hive layout that DuckDB, Spark or pyarrow datasets read as one
table per dataset (`read_parquet('<data_root>/snapshots/dataset=victims/**/*.parquet', hive_partitioning=true,
union_by_name=true)`: quarters under an earlier contract version lack the later version's columns):

  <data_root>/snapshots/dataset=<name>/team=<code>/quarter=<q>/<submission id>-<sha12>.parquet

Columns of several codes (victims.exploitation, victims.services) are lists of codes in a snapshot; what
publishes reads them back as ';'-joined text (joined_codes), the warehouse's type. migrate() brings
snapshots of the earlier layout (snapshots/<dataset>/team=…/quarter=…, several codes as joined text)
into this one and points the ledger at them; it is safe to run again and after an interruption.
"""
from __future__ import annotations

import io
import logging
import re

from thb_reporting.core.contracts import CODES_SEPARATOR, ROW_KEY, Contract, band_bounds
from thb_reporting.store.storage import storage_path, write_atomically

log = logging.getLogger(__name__)
DATASET_PREFIX = "dataset="
_FILE_NAME = re.compile(r"(\d{8})-[0-9a-f]{12}\.parquet")



# --- the hand-off: where a snapshot lies, what it holds, writing and reading it -----------------------
def snapshot_path(data_root: str, dataset: str, team: str, quarter: str, submission_id: int, sha256: str):
    return (storage_path(data_root) / "snapshots" / f"dataset={dataset}" / f"team={team}" / f"quarter={quarter}"
            / f"{submission_id:08d}-{sha256[:12]}.parquet")


def stored_rows(typed, contract: Contract, token):
    """The accepted rows as kept from now on: references as tokens, ages as bands, several codes as a list;
    nothing else."""
    import numpy as np
    import pyarrow as pa

    from thb_reporting.store.snapshots import split_codes

    arrow_type = {"text": pa.string(), "integer": pa.int64(), "date": pa.date32()}
    arrays, fields = [pa.array(typed[ROW_KEY].to_numpy(), pa.int32())], [pa.field(ROW_KEY, pa.int32())]
    for col in contract.columns:
        values = typed[col.name]
        if col.privacy == "pseudonymise":
            texts = pa.array(values, pa.string(), from_pandas=True)
            arrays.append(token.many(col.name, texts))
            fields.append(pa.field(col.stored_name, pa.string()))
            continue
        if col.privacy == "band":  # in numpy: a file's pandas operations cost more than its few rows
            number = values.to_numpy(dtype="float64", na_value=np.nan)
            band = np.full(len(values), "unknown", dtype=object)
            for code, low, high in band_bounds(col.band_list):
                band[(number >= low) & ((number <= high) if high is not None else True)] = code  # NaN: neither
            values = band
        kind = col.stored_type
        if kind == "date":  # the day of each timestamp (all at midnight), missing ones empty
            data = pa.array(values.to_numpy().astype("datetime64[D]"), pa.date32(), from_pandas=True)
        elif kind == "integer":
            data = pa.array(values.astype("Int64"), pa.int64())
        else:
            # the typed frame's chunks as they are: a cast keeps their text (only the offsets narrow), where
            # combining the chunks copied every text column (+190 MB over validation at 1,000,000 rows)
            data = pa.array(values, pa.string(), from_pandas=True)
            if col.type == "codes":  # several codes: a list of codes in the snapshot
                data = split_codes(data)
        arrays.append(data)
        fields.append(pa.field(col.stored_name, data.type if col.type == "codes" else arrow_type[kind]))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def write_snapshot(target, rows) -> None:
    """Write a snapshot once, atomically (a reader never sees half of it); zstd-compressed Parquet."""
    import pyarrow.parquet as pq

    buf = io.BytesIO()
    pq.write_table(rows, buf, compression="zstd")
    write_atomically(target, buf.getvalue())


def _read_snapshot(path: str):
    """A snapshot's rows as written (several codes as lists)."""
    import pyarrow.parquet as pq

    from thb_reporting.store.storage import local_path

    where = storage_path(path)
    # ParquetFile reads one file: read_table goes through the dataset layer, which costs a small snapshot
    # more than its rows (a quarter of 145 teams is 726 of them, read by notify and publish); a local one is
    # read by pyarrow's own file, not through a Python file object
    if (local := local_path(where)) is not None:
        return pq.ParquetFile(local).read()
    with where.open("rb") as f:
        return pq.ParquetFile(f).read()


def _with_lineage(rows, subs: list, lengths: list[int]):
    """`rows` (the rows of `subs` one after another, lengths[k] of subs[k]) with the lineage columns."""
    import numpy as np
    import pyarrow as pa

    from thb_reporting.store.warehouse import LINEAGE  # the fact tables' lineage columns, in their order

    of_row = pa.array(np.repeat(np.arange(len(subs)), lengths))  # each row's submission
    lineage = {
        "submission_id": pa.array([sub.submission_id for sub in subs], pa.int32()),
        "team_code": pa.array([sub.team_code for sub in subs], pa.string()),
        "quarter": pa.array([sub.quarter for sub in subs], pa.string()),
        "file_sha256": pa.array([sub.content_sha256 for sub in subs], pa.string()),
        "received_at": pa.array([sub.received_at for sub in subs], pa.timestamp("us", tz="UTC")),
    }
    for name, *_ in reversed(LINEAGE):
        if name in lineage:
            rows = rows.add_column(0, name, lineage[name].take(of_row))
    return rows


def snapshot_rows(sub):
    """A submission's accepted rows (its Parquet snapshot) with the lineage columns, as the fact tables hold
    them. `sub` has snapshot_path, submission_id, team_code, quarter, content_sha256 and received_at (a
    ledger row, or anything shaped like one)."""
    return rows_of_snapshots([sub])


def rows_of_snapshots(subs, read=map):
    """snapshot_rows of each of `subs`, one after another in one table (concat_snapshots), or None for none.
    Files of one schema (one contract version: a quarter of a dataset) have their codes joined (the
    warehouse's ';'-joined text) and their lineage added once for all of them, not file by file, which
    cost a small snapshot more than reading it. `read`: how the files are read (map, or a thread pool's)."""
    import pyarrow as pa

    subs = list(subs)
    if not subs:
        return None
    tables = list(read(_read_snapshot, [sub.snapshot_path for sub in subs]))
    if any(not t.schema.equals(tables[0].schema) for t in tables[1:]):  # several contract versions
        return concat_snapshots([_with_lineage(joined_codes(t), [sub], [t.num_rows]) for t, sub in zip(tables, subs)])
    return _with_lineage(joined_codes(pa.concat_tables(tables)), subs, [t.num_rows for t in tables])


def concat_snapshots(parts):
    """Snapshots of several contract versions as one table: a column a quarter's version lacks is empty (null)."""
    import pyarrow as pa

    return pa.concat_tables(parts, promote_options="default")


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

    from thb_reporting.core import contracts

    for col in contracts.load(dataset).columns:
        if col.type == "codes" and col.stored_name in rows.column_names:
            i = rows.column_names.index(col.stored_name)
            if pa.types.is_string(rows.schema.field(i).type):
                rows = rows.set_column(i, pa.field(col.stored_name, pa.list_(pa.string())), split_codes(rows.column(i)))
    return rows


def old_layout_folders(data_root: str) -> list:
    """The dataset folders of the earlier layout (snapshots/<dataset>/) under data_root."""
    from thb_reporting.store.storage import storage_path

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
    from thb_reporting.core import contracts
    from thb_reporting.store import ledger
    from thb_reporting.store.storage import write_atomically
    from thb_reporting.store.migrations import ensure_schema
    from thb_reporting.store.warehouse import reporting_engine

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
