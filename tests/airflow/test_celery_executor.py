"""The same DAGs, unchanged, on Airflow's own distributed engine: the CeleryExecutor.

On loopback: a fresh PostgreSQL database for Airflow's metadata, Redis as the broker (a private key prefix
and queue), a scheduler, a dag-processor, an api-server and two Celery workers with one slot each. One full
cycle on generated submissions: ingest_submissions is triggered and unpaused (its scheduled run of the last
interval comes too, catchup being off; with one active run at a time, one of the two does the work and the
other finds nothing new), publish_national_tables follows through the Asset; reporting_calendar and
send_weekly_digest are unpaused with them so that several tasks are queued at once. Then the task
instances must have run on both workers, and every published table must equal what a local in-process
run (dag.test()) of the same files published into a second database."""
from __future__ import annotations

import json
import os
import shutil
import time
import uuid

import pytest

from airflow_cluster import Cluster, http_up, wait_for
from fixtures import IN_CI, TEST_KEY, fresh_database, free_port
from helpers import dump
from tls_postgres import without_tls
from oracle import Truth
from thb_reporting.core import reference
from thb_reporting.tools.generator import SubmissionGenerator

pytestmark = [pytest.mark.celery, pytest.mark.postgres]

REDIS_URL = os.environ.get("THB_TEST_REDIS", "redis://127.0.0.1:6379/0")
WORKERS = ("thb-worker-a", "thb-worker-b")
DAG_IDS = ("ingest_submissions", "publish_national_tables")
ALL_DAG_IDS = DAG_IDS + ("reporting_calendar", "send_weekly_digest")  # not lock_quarter: it changes what is accepted
TRIGGERED = "celery_test_cycle"
TIMEOUT = float(os.environ.get("THB_CELERY_TEST_TIMEOUT", "900"))  # seconds, for the whole cycle
QUARTERS = ["2026Q2", "2026Q3"]
PLANTS = {("subotica", "2026Q2"): "unknown_code", ("novi_sad", "2026Q3"): "jmbg",
          ("kikinda", "2026Q3"): "missing_column"}

# task_instance.hostname comes from [core] hostname_callable, evaluated in the worker; both workers run on
# this one machine, so each is given its own name through this callable (the Celery node name is not used).
HOSTNAME_MODULE = '''import os


def worker_name():
    return os.environ["THB_TEST_WORKER_NAME"]
'''


# ---------------------------------------------------------------------------------------------- fixtures
@pytest.fixture
def redis_broker():
    """A private namespace on the Redis server: a key prefix and a queue of our own; removed afterwards."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.exceptions.RedisError as e:
        message = f"Redis is not reachable at {REDIS_URL}: {e}"
        if IN_CI:
            pytest.fail(message + " (CI=true: the Celery test must run)")
        pytest.skip(message + "; start it with redis-server --daemonize yes")
    prefix = f"thb-test-{uuid.uuid4().hex[:10]}:"
    try:
        yield REDIS_URL, prefix
    finally:
        keys = list(client.scan_iter(match=prefix + "*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()


# ------------------------------------------------------------------------------------------------ the test
def test_full_cycle_on_two_celery_workers_equals_the_local_run(tmp_path, monkeypatch, pg_url, redis_broker, airflow_db):
    from sqlalchemy import create_engine, text

    from thb_reporting.store import warehouse

    started = time.monotonic()
    broker_url, key_prefix = redis_broker
    celery_data, local_data = tmp_path / "celery-data", tmp_path / "local-data"
    truth = Truth(SubmissionGenerator(celery_data / "inbox", seed=20).scenario(list(reference.teams()), QUARTERS, PLANTS))
    assert len(truth.files) == 28  # 13 teams and the Centre (victims) × 2 quarters
    shutil.copytree(celery_data / "inbox", local_data / "inbox")  # the same bytes and modification times

    with fresh_database("thb_test_airflow") as metadata_url, fresh_database("thb_test_local") as local_url:
        # ---- the local reference run: both DAGs in-process with dag.test(), into a second warehouse
        from thb_reporting.tools.airflow_runs import run_dag

        monkeypatch.setenv("AIRFLOW_VAR_THB_DATA_ROOT", local_data.as_uri())
        monkeypatch.setenv("AIRFLOW_VAR_THB_PSEUDONYMISATION_KEY", TEST_KEY.decode())
        monkeypatch.setenv("AIRFLOW_CONN_REPORTING_DB", without_tls(local_url))
        for dag_id in DAG_IDS:
            assert run_dag(dag_id).state == "success", f"local run of {dag_id}"
        local_seconds = time.monotonic() - started

        # ---- the distributed run
        home = tmp_path / "airflow-home"
        pylib = tmp_path / "pylib"
        pylib.mkdir()
        (pylib / "thb_test_hostname.py").write_text(HOSTNAME_MODULE, encoding="utf-8")
        api_port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW__", "AIRFLOW_VAR_", "AIRFLOW_CONN_"))}
        env.update({
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": os.environ["AIRFLOW__CORE__DAGS_FOLDER"],
            "AIRFLOW__CORE__PLUGINS_FOLDER": os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"],
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_url,
            "AIRFLOW__CELERY__BROKER_URL": broker_url,
            "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + metadata_url,
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": "1",
            "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__GLOBAL_KEYPREFIX": key_prefix,
            "AIRFLOW__OPERATORS__DEFAULT_QUEUE": key_prefix.rstrip(":"),  # no other worker takes our tasks
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
            "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{api_port}",
            "AIRFLOW__API_AUTH__JWT_SECRET": uuid.uuid4().hex,
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            # the pipeline's own configuration, as docker-compose.yaml passes it
            "AIRFLOW_VAR_THB_DATA_ROOT": celery_data.as_uri(),
            "AIRFLOW_VAR_THB_PSEUDONYMISATION_KEY": TEST_KEY.decode(),
            "AIRFLOW_CONN_REPORTING_DB": without_tls(pg_url),
        })
        cluster = Cluster(tmp_path, env)
        metadata = create_engine(metadata_url)
        try:
            cluster.airflow("db", "migrate", timeout=600)
            cluster.start("api-server", "api-server", "--host", "127.0.0.1", "--port", str(api_port), "--workers", "1")
            cluster.start("scheduler", "scheduler")
            cluster.start("dag-processor", "dag-processor")
            for name in WORKERS:
                cluster.start(name, "celery", "worker", "--celery-hostname", f"{name}@127.0.0.1", "--concurrency", "1",
                              "--without-mingle", "--without-gossip",
                              THB_TEST_WORKER_NAME=name, PYTHONPATH=str(pylib),
                              AIRFLOW__CORE__HOSTNAME_CALLABLE="thb_test_hostname.worker_name",
                              AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=str(free_port()))

            wait_for("the api-server", lambda: http_up(f"http://127.0.0.1:{api_port}/api/v2/version"), cluster, 300)
            wait_for("both Celery workers", lambda: all(f"{n}@127.0.0.1 ready" in cluster.log_text(n) for n in WORKERS),
                     cluster, 300)

            def parsed():
                with metadata.connect() as conn:
                    return {r[0] for r in conn.execute(text("SELECT dag_id FROM serialized_dag"))} >= set(ALL_DAG_IDS)

            wait_for("the dag-processor to serialise the DAGs", parsed, cluster, 300)
            # The run is triggered while the DAGs are paused; one command then unpauses the cycle's two DAGs and
            # the calendar and digest DAGs, whose scheduled runs the scheduler creates at once: their first tasks
            # and the ingest's first task are queued together, more than one worker with one slot can take.
            cycle_started = time.monotonic()
            startup_seconds = cycle_started - started - local_seconds
            cluster.airflow("dags", "trigger", "ingest_submissions", "--run-id", TRIGGERED)
            cluster.airflow("dags", "unpause", "--treat-dag-id-as-regex", "--yes", f"^({'|'.join(ALL_DAG_IDS)})$")

            def cycle_done():
                with metadata.connect() as conn:
                    runs = conn.execute(text("SELECT dag_id, run_id, state FROM dag_run WHERE dag_id = ANY(:ids)"),
                                        {"ids": list(ALL_DAG_IDS)}).all()
                    troubled = conn.execute(text(
                        "SELECT dag_id, run_id, task_id, state FROM task_instance WHERE dag_id = ANY(:ids) "
                        "AND state IN ('failed', 'up_for_retry', 'upstream_failed')"), {"ids": list(ALL_DAG_IDS)}).all()
                    waiting_assets = conn.execute(text("SELECT count(*) FROM asset_dag_run_queue")).scalar_one()
                if troubled or any(r.state == "failed" for r in runs):
                    raise AssertionError(f"a run went wrong: runs {[tuple(r) for r in runs]}, tasks "
                                         f"{[tuple(t) for t in troubled]}\n{cluster.tails()}")
                ran = {r.dag_id for r in runs if r.state == "success"}
                return bool(any(r.run_id == TRIGGERED for r in runs) and ran == set(ALL_DAG_IDS)
                            and all(r.state == "success" for r in runs) and not waiting_assets)

            wait_for(f"the runs of {', '.join(ALL_DAG_IDS)} to succeed", cycle_done, cluster, TIMEOUT)
            cycle_seconds = time.monotonic() - cycle_started

            with metadata.connect() as conn:
                ran_on = conn.execute(text(
                    "SELECT dag_id, run_id, task_id, state, hostname, start_date, end_date FROM task_instance "
                    "WHERE dag_id = ANY(:ids) ORDER BY start_date"), {"ids": list(ALL_DAG_IDS)}).all()
        finally:
            cluster.stop()
            metadata.dispose()

        # ---- (a) the work was shared: task instances ran on both workers, and at the same time
        done = [r for r in ran_on if r.state in ("success", "skipped")]
        hosts = {r.hostname for r in done}
        assert hosts == set(WORKERS), f"task instances ran on {hosts}: {[tuple(r) for r in ran_on]}"
        assert any(a.hostname != b.hostname and a.start_date < b.end_date and b.start_date < a.end_date
                   for a in done for b in done), f"the workers never ran tasks at the same time: {[tuple(r) for r in ran_on]}"
        assert {r.task_id for r in ran_on if r.state == "success"} >= {
            "collect_new_submissions", "validate_and_snapshot", "announce_new_snapshots", "notify_teams", "publish_datasets"}

        # ---- (b) what was published equals the local run's: every national table, the ledger's outcomes
        national = sorted(t.name for t in warehouse.metadata().tables.values() if t.schema == "national")
        assert len(national) > 10
        for name in national:
            assert dump(pg_url, name) == dump(local_url, name), f"national.{name} differs from the local run"
        assert len(dump(pg_url, "victims")) == truth.published_rows()
        assert _outcomes(pg_url) == _outcomes(local_url)
        exports = sorted(p.relative_to(celery_data / "exports") for p in (celery_data / "exports").rglob("*.csv"))
        assert exports and exports == sorted(p.relative_to(local_data / "exports") for p in (local_data / "exports").rglob("*.csv"))
        for path in exports:
            assert (celery_data / "exports" / path).read_bytes() == (local_data / "exports" / path).read_bytes(), path

        print(f"\ncelery cycle: local dag.test() run {local_seconds:.0f} s; migrate and start {startup_seconds:.0f} s; "
              f"cluster cycle {cycle_seconds:.0f} s (peak of the summed RSS of its processes {cluster.peak_rss_mb:.0f} MB); "
              f"whole test {time.monotonic() - started:.0f} s; tasks by worker: "
              + json.dumps({h: [f"{r.dag_id}.{r.task_id}" for r in done if r.hostname == h] for h in WORKERS}))


def _outcomes(db_url: str) -> list[tuple]:
    """The ledger without the columns that name places or times of this run (paths, processing time)."""
    from sqlalchemy import select

    from thb_reporting.store.warehouse import reader_engine, table

    t = table("submissions", "ledger")
    skip = {"inbox_path", "archive_path", "snapshot_path", "quarantine_path", "processed_at"}
    with reader_engine(db_url).connect() as conn:
        return conn.execute(select(*[c for c in t.columns if c.name not in skip]).order_by(t.c.submission_id)).all()
