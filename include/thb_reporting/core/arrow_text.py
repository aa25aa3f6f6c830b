"""Bytes of UTF-8 as one pyarrow text, without copying them: for pyarrow's RE2 and its UTF-8 check, which
scan a large file many times faster than Python does."""
from __future__ import annotations


def one_text(data, start: int = 0, end: int | None = None):
    """A LargeStringArray of one element: data[start:end] (a pyarrow Buffer, or bytes-like), not copied.
    Not checked as UTF-8 (`.validate(full=True)` does)."""
    import pyarrow as pa

    data = data if isinstance(data, pa.Buffer) else pa.py_buffer(data)
    bounds = pa.array([start, data.size if end is None else end], pa.int64())
    return pa.LargeStringArray.from_buffers(1, bounds.buffers()[1], data)
