"""Named points where the reliability tests stop the pipeline on purpose.

Off unless THB_FAULT_POINT names the point: the process then writes THB_FAULT_MARKER (so that the test
knows where it stands) and waits there, to be killed or to have its database connection cut; or, with
THB_FAULT_RAISE set, raises InjectedFault with that text as its message (an unexpected error)."""
from __future__ import annotations

import os
import time
from pathlib import Path


class InjectedFault(RuntimeError):
    pass


def fault_point(name: str) -> None:
    if os.environ.get("THB_FAULT_POINT") != name:
        return
    if os.environ.get("THB_FAULT_RAISE"):
        raise InjectedFault(os.environ["THB_FAULT_RAISE"])
    marker = os.environ.get("THB_FAULT_MARKER")
    if marker:
        Path(marker).write_text(str(os.getpid()))
    time.sleep(float(os.environ.get("THB_FAULT_WAIT", "60")))
