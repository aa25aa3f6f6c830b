"""Benchmark: how long a team waits for its validation e-mail (issue #14), on a real Airflow.

On loopback, with a fresh Airflow home and a fresh PostgreSQL database for Airflow's metadata and another for
the warehouse: an api-server (the execution API), a scheduler with the LocalExecutor, a dag-processor and a
triggerer; ingest_submissions and publish_national_tables unpaused; an SMTP server (aiosmtpd) that the
connection smtp_default points to. The team registry is bench/scale.py's synthetic one of 145
municipalities. Then:

- **random**: one generated victims file each for the first --teams teams (default 13), moved into the
  team's inbox folder at random moments over --spread seconds;
- **burst**: one file each for --burst teams (default 145) moved in at once;
- **mail**: one file each for the first --mail teams (default 13), e-mailed from the team's registered
  contact at random moments over --spread seconds into a private Dovecot (tests/support/dovecot.py) that the
  connection imap_default points to: the mailbox watch, the pull, the pipeline and the reply in the thread.

For each file: the time from its arrival (the rename into the inbox, or the e-mail's delivery into the
mailbox) to the first e-mail the SMTP server
receives for the team's contacts after it. p50, p95, max per phase, and where the seconds went (`phases`).
The peak resident memory of each Airflow process and of each task's processes after each phase
(`ProcessMemory`). Then the triggerer's CPU time (its process group, from /proc) over an idle minute, as
seconds of CPU per hour idle. Goal on 2 cores (issue #24): p95 ≤ 15 s and p50 ≤ 8 s for files and for
e-mails; the burst all answered within 20 s. Writes bench/results/feedback.json.

    .venv/bin/python bench/feedback.py                       # or: make bench-feedback
    .venv/bin/python bench/feedback.py --burst 30 --spread 120
"""
from __future__ import annotations

import argparse
import contextlib
import imaplib
import json
import os
import random
import shutil
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import KEY, RESULTS, fresh_database, write_results  # noqa: E402

PROJECT_TESTS = Path(__file__).resolve().parents[1] / "tests" / "support"
sys.path.insert(0, str(PROJECT_TESTS))  # side-effect-free helpers shared with the tests
from airflow_cluster import Cluster, http_up, wait_for  # noqa: E402
from dovecot import free_port  # noqa: E402
from tls_postgres import without_tls  # noqa: E402

PROJECT = Path(__file__).resolve().parents[1]
DAG_IDS = ("ingest_submissions", "publish_national_tables")
RANDOM_QUARTER, BURST_QUARTER, MAIL_QUARTER = "2026Q2", "2026Q3", "2026Q4"


class Mailbox:
    """What the SMTP server received: (monotonic time, recipients)."""

    def __init__(self):
        self.received: list[tuple[float, list[str]]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.received.append((time.monotonic(), [r.lower() for r in envelope.rcpt_tos]))
        return "250 OK"


def staged_files(root: Path, registry: Path, teams: list[str], quarter: str, seed: int) -> dict[str, Path]:
    """One generated victims file per team, outside the inbox: team → path."""
    from thb_reporting.core import reference
    from thb_reporting.tools.generator import SubmissionGenerator

    generator = SubmissionGenerator(root, seed=seed, teams=reference.teams(registry))
    return {f.team: f.path for f in generator.scenario(teams, [quarter])}


def drop(staged: Path, inbox: Path, team: str) -> float:
    """Move a staged file into the team's inbox folder (a rename: it appears whole); the arrival time."""
    target = inbox / team / staged.name
    target.parent.mkdir(parents=True, exist_ok=True)
    os.rename(staged, target)
    return time.monotonic()


def send(client, sender: str, staged: Path) -> float:
    """E-mail a staged file from a team's contact into the mailbox's INBOX (IMAP APPEND, as a mail server
    delivers it); the arrival time."""
    from email.message import EmailMessage
    from email.utils import make_msgid

    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, "izvestaji@example.org", "Izveštaj"
    message["Message-ID"] = make_msgid(domain="example.org")
    message.set_content("U prilogu.")
    message.add_attachment(staged.read_bytes(), maintype="text", subtype="csv", filename=staged.name)
    assert client.append("INBOX", None, None, bytes(message))[0] == "OK"
    return time.monotonic()


def answered(mailbox: Mailbox, contacts: dict[str, set[str]], arrivals: dict[str, float]) -> dict[str, float]:
    """Seconds from each file's arrival to the first e-mail to its team's contacts after it."""
    with mailbox.lock:
        received = list(mailbox.received)
    waits = {}
    for team, arrived in arrivals.items():
        times = [t for t, rcpts in received if t >= arrived and contacts[team] & set(rcpts)]
        if times:
            waits[team] = min(times) - arrived
    return waits


WALL = time.time() - time.monotonic()  # monotonic + WALL: the epoch seconds Airflow's timestamps are compared with
class ProcessMemory(threading.Thread):
    """Each Airflow process's peak resident memory (VmHWM, from /proc: the kernel's own peak of the process),
    looked at every half second: the cluster's long-lived processes by name (their children by kind), and
    each task process by its task instance (LocalExecutor forks one per task, titled with the instance's id).
    `phase()` returns the peaks so far: a long-lived process's peak is a high-water mark, so a phase that
    does not raise it did not make it grow; a task process's is its own."""

    def __init__(self, cluster):
        super().__init__(daemon=True)
        self.cluster, self.stopped = cluster, threading.Event()
        self.long_lived: dict[str, int] = {}  # name → kB
        self.tasks: dict[str, int] = {}  # task instance id → kB, since the last phase()

    @staticmethod
    def _read(pid: str) -> tuple[int, int, str, int] | None:
        """(parent, process group, title, VmHWM kB) of a process, or None if it is gone."""
        try:
            stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            return None
        hwm = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")), 0)
        return int(stat[1]), int(stat[2]), title, hwm

    def sample(self) -> None:
        groups = {p.pid: name for name, p in self.cluster.procs.items()}
        procs = {pid: info for pid in os.listdir("/proc") if pid.isdigit() and (info := self._read(pid))}
        in_groups = {int(pid): info for pid, info in procs.items() if info[1] in groups}
        for pid, (parent, group, title, hwm) in procs.items():
            if group in groups:
                kind = ("" if int(pid) == group else ": executor worker" if "LocalExecutor" in title
                        else ": serve-logs" if "serve-logs" in title else ": child")
                key = groups[group] + kind
                self.long_lived[key] = max(self.long_lived.get(key, 0), hwm)
            elif parent in in_groups and title.startswith("airflow worker -- "):  # a task process (own session)
                ti = title.removeprefix("airflow worker -- ").strip()
                self.tasks[ti] = max(self.tasks.get(ti, 0), hwm)

    def run(self) -> None:
        while not self.stopped.wait(0.5):
            with contextlib.suppress(Exception):  # a process that ends while it is read
                self.sample()

    def phase(self, metadata) -> dict:
        """Peak MB per long-lived process (kind), and per task (the largest of its instances) since the last call."""
        from sqlalchemy import text

        self.sample()
        tasks, self.tasks = self.tasks, {}
        with metadata.connect() as conn:
            names = {str(r[0]): r[1] for r in conn.execute(text("SELECT id, task_id FROM task_instance"))}
        per_task: dict[str, float] = {}
        for ti, kb in tasks.items():
            name = names.get(ti, "(unknown)")
            per_task[name] = max(per_task.get(name, 0.0), round(kb / 1024, 1))
        return {"processes_mb": {k: round(v / 1024, 1) for k, v in sorted(self.long_lived.items())},
                "tasks_mb": dict(sorted(per_task.items()))}


PHASES = ("watch", "run_created", "run_started", "first_task", "tasks_before_notify", "startup_gaps", "notify_to_mail")


def phases(metadata, waits: dict[str, float], arrivals: dict[str, float], asset: str, first_task: str) -> dict:
    """Where each answered file's seconds went, from Airflow's metadata database: watch (arrival to the
    Asset event the triggerer made), run_created (to the queued_at of the run that took it in), run_started
    (queued to running: the scheduler, or an active run it waited for: max_active_runs), first_task (to the
    start of the run's first task), tasks_before_notify (the durations of the tasks that ran before
    notify_teams started, collect_new_submissions to announce), startup_gaps (the rest until notify_teams started: the
    scheduler queueing each task and the executor starting it), notify_to_mail (from notify_teams' start to
    the e-mail). The run that took a file in: the first whose `first_task` started after it arrived.
    p50 and p95 of each phase in seconds."""
    from sqlalchemy import text

    with metadata.connect() as conn:
        events = sorted(r[0].timestamp() for r in conn.execute(text(
            "SELECT e.timestamp FROM asset_event e JOIN asset a ON a.id = e.asset_id WHERE a.name = :n"), {"n": asset}))
        runs: dict[str, dict] = {}
        for r in conn.execute(text(
                "SELECT r.run_id, r.queued_at, r.start_date, t.task_id, t.start_date, t.end_date FROM dag_run r "
                "JOIN task_instance t ON t.dag_id = r.dag_id AND t.run_id = r.run_id "
                "WHERE r.dag_id = 'ingest_submissions' AND r.start_date IS NOT NULL")):
            run = runs.setdefault(r[0], {"queued": r[1].timestamp(), "started": r[2].timestamp(), "tasks": {}})
            if r[4] is not None:
                run["tasks"][r[3]] = (r[4].timestamp(), (r[5] or r[4]).timestamp())
    per: dict[str, list[float]] = {p: [] for p in PHASES}
    for team, wait in waits.items():
        arrived = arrivals[team] + WALL
        took = sorted((run for run in runs.values() if first_task in run["tasks"] and "notify_teams" in run["tasks"]
                       and run["tasks"][first_task][0] >= arrived), key=lambda run: run["tasks"][first_task][0])
        event = next((t for t in events if t >= arrived), None)
        if not took or event is None:
            continue
        run, answer = took[0], arrived + wait
        tasks, notify = run["tasks"], run["tasks"]["notify_teams"][0]
        first = min(start for start, _ in tasks.values())
        before = sum(end - start for start, end in tasks.values() if end <= notify)
        marks = [arrived, min(event, run["queued"]), run["queued"], run["started"], first]
        for name, (a, b) in zip(PHASES, zip(marks, marks[1:])):
            per[name].append(max(0.0, b - a))
        per["tasks_before_notify"].append(before)
        per["startup_gaps"].append(max(0.0, notify - first - before))
        per["notify_to_mail"].append(answer - notify)
    return {name: {"p50_s": round(statistics.median(v), 1), "p95_s": round(_p95(sorted(v)), 1)}
            for name, v in per.items() if v}


def _p95(values: list[float]) -> float:
    return values[min(len(values) - 1, max(0, int(round(0.95 * len(values))) - 1))]


def summary(waits: dict[str, float], expected: int, elapsed: float) -> dict:
    values = sorted(waits.values())
    if not values:
        return {"files": expected, "answered": 0}
    p95 = _p95(values)
    return {"files": expected, "answered": len(values), "p50_s": round(statistics.median(values), 1),
            "p95_s": round(p95, 1), "max_s": round(values[-1], 1), "all_answered_after_s": round(elapsed, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--teams", type=int, default=13, help="files dropped at random moments")
    parser.add_argument("--spread", type=float, default=300, help="seconds over which they are dropped")
    parser.add_argument("--burst", type=int, default=145, help="files dropped at once (0: none)")
    parser.add_argument("--idle", type=float, default=60, help="seconds of idle over which the triggerer's CPU is measured")
    parser.add_argument("--mail", type=int, default=13, help="files e-mailed at random moments (0: none; needs dovecot)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds to wait for a phase's e-mails")
    args = parser.parse_args()

    from aiosmtpd.controller import Controller

    from thb_reporting.core import reference
    from thb_reporting.tools.synthetic_files import synthetic_registry

    root = RESULTS / "feedback"
    shutil.rmtree(root, ignore_errors=True)
    registry = synthetic_registry(root / "teams.csv", max(145, args.burst))
    registry_teams = reference.teams(registry)
    contacts = {code: {c.lower() for c in team.contact_emails} for code, team in registry_teams.items()}
    data, inbox = root / "data", root / "data" / "inbox"
    inbox.mkdir(parents=True)
    codes = list(registry_teams)
    random_files = staged_files(root / "staged-random", registry, codes[:args.teams], RANDOM_QUARTER, seed=14)
    burst_files = staged_files(root / "staged-burst", registry, codes[:args.burst], BURST_QUARTER, seed=15) if args.burst else {}

    mail_files = staged_files(root / "staged-mail", registry, codes[:args.mail], MAIL_QUARTER, seed=16) if args.mail else {}
    imap = contextlib.ExitStack()
    if mail_files:
        import dovecot

        imap_port, imap_user, imap_password = imap.enter_context(dovecot.running())
    mailbox = Mailbox()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    metadata_url = fresh_database("thb_bench_feedback_airflow")
    warehouse_url = fresh_database("thb_bench_feedback_warehouse")
    api_port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW__", "AIRFLOW_VAR_", "AIRFLOW_CONN_"))}
    env.update({
        "AIRFLOW_HOME": str(root / "airflow-home"),
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_url,
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{api_port}",
        "AIRFLOW__API_AUTH__JWT_SECRET": uuid.uuid4().hex,
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
        "AIRFLOW_VAR_THB_DATA_ROOT": data.as_uri(),
        "AIRFLOW_VAR_THB_PSEUDONYMISATION_KEY": KEY.decode(),
        "AIRFLOW_VAR_THB_TEAMS_REGISTRY": str(registry),
        "AIRFLOW_CONN_REPORTING_DB": without_tls(warehouse_url),
        "AIRFLOW_CONN_SMTP_DEFAULT": f"smtp://127.0.0.1:{smtp.port}?disable_ssl=true&disable_tls=true",  # plain relay
    })
    if mail_files:
        env["AIRFLOW_CONN_IMAP_DEFAULT"] = json.dumps({"conn_type": "imap", "host": "127.0.0.1", "port": imap_port,
                                                       "login": imap_user, "password": imap_password,
                                                       "extra": {"use_ssl": False}})
    procs = Cluster(root, env)
    results: dict = {"machine": f"{os.cpu_count()} cores, {os.uname().machine}, Python {sys.version.split()[0]}"}
    try:
        started = time.monotonic()
        procs.airflow("db", "migrate", timeout=600)
        procs.start("api-server", "api-server", "--host", "127.0.0.1", "--port", str(api_port), "--workers", "1")
        procs.start("scheduler", "scheduler")
        procs.start("dag-processor", "dag-processor")
        procs.start("triggerer", "triggerer")
        wait_for("the api-server", lambda: http_up(f"http://127.0.0.1:{api_port}/api/v2/version"), procs, 300)
        from sqlalchemy import create_engine, text

        metadata = create_engine(metadata_url)

        def parsed():
            with metadata.connect() as conn:
                return {r[0] for r in conn.execute(text("SELECT dag_id FROM serialized_dag"))} >= set(DAG_IDS)

        wait_for("the DAGs to be parsed", parsed, procs, 300)
        procs.airflow("dags", "unpause", "--treat-dag-id-as-regex", "--yes", f"^({'|'.join(DAG_IDS)})$")
        state = data / "state" / "inbox_watch.json"
        wait_for("the triggerer's first watch of the inbox", state.exists, procs, 300)
        results["startup_s"] = round(time.monotonic() - started, 1)
        memory = ProcessMemory(procs)
        memory.start()
        results["memory_startup"] = memory.phase(metadata)
        print(f"up after {results['startup_s']} s; dropping {len(random_files)} files over {args.spread:.0f} s", flush=True)

        # ---- random moments
        rng = random.Random(14)
        moments = sorted(rng.uniform(0, args.spread) for _ in random_files)
        phase_start, arrivals = time.monotonic(), {}
        for moment, (team, path) in zip(moments, random_files.items()):
            time.sleep(max(0.0, phase_start + moment - time.monotonic()))
            arrivals[team] = drop(path, inbox, team)
        wait_for("the random phase's e-mails", lambda: len(answered(mailbox, contacts, arrivals)) == len(arrivals),
                 procs, args.timeout, 2)
        results["random"] = summary(answered(mailbox, contacts, arrivals), len(arrivals), time.monotonic() - phase_start)
        results["random"]["phases"] = phases(metadata, answered(mailbox, contacts, arrivals), arrivals,
                                             "thb_inbox_arrivals", "collect_new_submissions")
        results["memory_random"] = memory.phase(metadata)
        print("random:", results["random"], flush=True)

        # ---- the burst
        if burst_files:
            time.sleep(10)
            phase_start = time.monotonic()
            arrivals = {team: drop(path, inbox, team) for team, path in burst_files.items()}
            with contextlib.suppress(TimeoutError):
                wait_for("the burst's e-mails", lambda: len(answered(mailbox, contacts, arrivals)) == len(arrivals),
                         procs, args.timeout, 2)
            results["burst"] = summary(answered(mailbox, contacts, arrivals), len(arrivals),
                                       time.monotonic() - phase_start)
            results["burst"]["phases"] = phases(metadata, answered(mailbox, contacts, arrivals), arrivals,
                                                "thb_inbox_arrivals", "collect_new_submissions")
            results["memory_burst"] = memory.phase(metadata)
            print("burst:", results["burst"], flush=True)

        # ---- e-mails at random moments
        if mail_files:
            time.sleep(10)
            mail_state = data / "state" / "mailbox_watch.json"
            wait_for("the triggerer's first look at the mailbox", mail_state.exists, procs, 300)
            client = imaplib.IMAP4("127.0.0.1", imap_port)
            client.login(imap_user, imap_password)
            moments = sorted(rng.uniform(0, args.spread) for _ in mail_files)
            phase_start, arrivals = time.monotonic(), {}
            for moment, (team, path) in zip(moments, mail_files.items()):
                time.sleep(max(0.0, phase_start + moment - time.monotonic()))
                arrivals[team] = send(client, registry_teams[team].contact_emails[0], path)
            client.logout()
            wait_for("the mail phase's e-mails", lambda: len(answered(mailbox, contacts, arrivals)) == len(arrivals),
                     procs, args.timeout, 2)
            results["mail"] = summary(answered(mailbox, contacts, arrivals), len(arrivals), time.monotonic() - phase_start)
            results["mail"]["phases"] = phases(metadata, answered(mailbox, contacts, arrivals), arrivals,
                                               "thb_mail_arrivals", "collect_new_submissions")
            results["memory_mail"] = memory.phase(metadata)
            print("mail:", results["mail"], flush=True)

        # ---- the cost of waiting: the triggerer's CPU over an idle period, once the runs are over
        def idle():
            with metadata.connect() as conn:
                return not conn.execute(text("SELECT count(*) FROM dag_run WHERE state IN ('queued', 'running')")).scalar_one()

        wait_for("the runs to end", idle, procs, args.timeout, 2)
        time.sleep(5)
        before, t0 = procs.cpu_seconds("triggerer"), time.monotonic()
        time.sleep(args.idle)
        cpu, span = procs.cpu_seconds("triggerer") - before, time.monotonic() - t0
        results["triggerer_idle_cpu_s_per_hour"] = round(cpu * 3600 / span, 1)
        results["triggerer_idle_cpu_percent"] = round(100 * cpu / span, 2)
        with metadata.connect() as conn:
            results["ingest_runs"] = conn.execute(text(
                "SELECT run_type, count(*) FROM dag_run WHERE dag_id = 'ingest_submissions' GROUP BY run_type")).all()
        results["ingest_runs"] = {str(k): v for k, v in results["ingest_runs"]}
        memory.stopped.set()
        metadata.dispose()
        for name in ("memory_startup", "memory_random", "memory_burst", "memory_mail"):
            if name in results:
                print(f"{name}: {results[name]}", flush=True)
    finally:
        procs.stop()
        smtp.stop()
        imap.close()
    print(f"triggerer idle: {results['triggerer_idle_cpu_s_per_hour']} s CPU per hour "
          f"({results['triggerer_idle_cpu_percent']} % of a core); ingest runs {results['ingest_runs']}")
    print("written", write_results("feedback", results))


if __name__ == "__main__":
    main()
