"""Airflow's own processes (api-server, scheduler, dag-processor, triggerer, workers) as subprocesses on
loopback, for the tests that run a real Airflow (test_celery_executor.py) and the feedback benchmark
(bench/feedback.py). No side effects on import."""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

AIRFLOW = str(Path(sys.executable).with_name("airflow"))


class Cluster:
    """Airflow's processes as subprocesses, each in its own process group, logging to its own file."""

    def __init__(self, root: Path, env: dict[str, str]):
        self.root, self.env = root, env
        self.logs = root / "process-logs"
        self.logs.mkdir(parents=True)
        self.procs: dict[str, subprocess.Popen] = {}
        self.peak_rss_mb = 0.0

    def sample_memory(self) -> None:
        """The resident memory of all the cluster's processes together (for the record in docs/performance.md)."""
        groups = {str(p.pid) for p in self.procs.values()}
        out = subprocess.run(["ps", "-eo", "pgid=,rss="], capture_output=True, text=True).stdout.split()
        total_kb = sum(int(rss) for pgid, rss in zip(out[::2], out[1::2]) if pgid in groups)
        self.peak_rss_mb = max(self.peak_rss_mb, total_kb / 1024)

    def airflow(self, *args: str, timeout: float = 300) -> str:
        out = subprocess.run([AIRFLOW, *args], env=self.env, capture_output=True, text=True, timeout=timeout)
        if out.returncode != 0:
            raise AssertionError(f"airflow {' '.join(args)} exited {out.returncode}:\n{out.stderr[-3000:]}"
                                 f"\n{self.tails()}")
        return out.stdout

    def start(self, name: str, *args: str, **extra_env: str) -> None:
        log = open(self.logs / f"{name}.log", "wb")
        self.procs[name] = subprocess.Popen([AIRFLOW, *args], env={**self.env, **extra_env}, stdout=log,
                                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            start_new_session=True)
        log.close()

    def check_alive(self) -> None:
        dead = {n: p.returncode for n, p in self.procs.items() if p.poll() is not None}
        if dead:
            raise AssertionError(f"Airflow processes ended early (exit codes {dead})\n{self.tails()}")

    def cpu_seconds(self, name: str) -> float:
        """User and system CPU time of every live process in the group of `name` (from /proc)."""
        group, total, tick = self.procs[name].pid, 0.0, os.sysconf("SC_CLK_TCK")
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError):
                fields = stat.read_text().rsplit(")", 1)[1].split()
                if int(fields[2]) == group:  # pgrp
                    total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
        return total

    def log_text(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(encoding="utf-8", errors="replace")

    def tails(self, lines: int = 25) -> str:
        parts = []
        for path in sorted(self.logs.glob("*.log")):
            text = path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
            parts.append(f"----- {path.stem} (last {len(text)} lines) -----\n" + "\n".join(text))
        task_logs = sorted((Path(self.env["AIRFLOW_HOME"]) / "logs").rglob("attempt=*.log"), key=lambda p: p.stat().st_mtime)
        for path in task_logs[-3:]:
            text = path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
            parts.append(f"----- task log {path.relative_to(self.env['AIRFLOW_HOME'])} -----\n" + "\n".join(text))
        return "\n".join(parts)

    def stop(self) -> None:
        """SIGTERM to every process group, SIGKILL to what is left after 30 s."""
        for p in self.procs.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        for p in self.procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
        for p in self.procs.values():  # also the children of a leader that has already exited
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(timeout=10)


def wait_for(what: str, check, cluster: Cluster, timeout: float, interval: float = 2.0):
    deadline = time.monotonic() + timeout
    while True:
        cluster.check_alive()
        cluster.sample_memory()
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}\n{cluster.tails()}")
        time.sleep(interval)


def http_up(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=3)
        return True
    except urllib.error.HTTPError:
        return True  # it answers
    except OSError:
        return False
