"""The pipeline's one clock: the time now, in UTC (every timestamp it records or compares is UTC)."""
from __future__ import annotations

import datetime as dt


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)
