"""Writing a file atomically and reading a snapshot: a local folder by the operating system's calls, object
storage through fsspec (memory:// stands for S3 here), the same bytes either way."""
from __future__ import annotations

import os

import pyarrow as pa
import pytest

from thb_reporting.store import snapshots
from thb_reporting.store.storage import local_path, storage_path, write_atomically


def _names(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.fixture
def root(tmp_path, request):
    """A folder on the local disk, or in fsspec's memory store (attached as Airflow attaches S3)."""
    if request.param == "file":
        yield storage_path(tmp_path.as_uri())
        return
    from airflow.sdk.io import attach
    from fsspec.implementations.memory import MemoryFileSystem

    store = attach("memory", fs=MemoryFileSystem()).fs
    bucket = f"thb-storage-{os.getpid()}-{tmp_path.name}"
    yield storage_path(f"memory://{bucket}")
    store.rm(f"/{bucket}", recursive=True)


@pytest.mark.parametrize("root", ["file", "memory"], indirect=True)
def test_a_file_is_written_whole_beside_nothing_and_replaced_whole(root):
    where = root.protocol
    assert (local_path(root) is not None) == (where == "file")
    target = root / "outbox" / "deeper" / "message.eml"
    write_atomically(target, b"first")
    assert target.read_bytes() == b"first" and _names(target.parent) == ["message.eml"]
    write_atomically(target, "druga poruka – Šabac".encode())
    assert target.read_bytes().decode() == "druga poruka – Šabac" and _names(target.parent) == ["message.eml"]
    if where == "file":  # a write that fails leaves the file as it was, and no part of the new one
        with pytest.raises(TypeError):
            write_atomically(target, "not bytes")  # type: ignore[arg-type]
        assert target.read_bytes().decode() == "druga poruka – Šabac" and _names(target.parent) == ["message.eml"]


@pytest.mark.parametrize("root", ["file", "memory"], indirect=True)
def test_a_snapshot_reads_back_as_written(root):
    rows = pa.table({"source_row": pa.array([2, 3], pa.int32()), "sex": ["female", None],
                     "exploitation": pa.array([["sexual", "labour"], []], pa.list_(pa.string()))})
    target = root / "snapshots" / "dataset=victims" / "00000001-0123456789ab.parquet"
    snapshots.write_snapshot(target, rows)
    assert snapshots._read_snapshot(str(target)).equals(rows)
