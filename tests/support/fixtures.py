"""Shared fixtures. Airflow reads its configuration when first imported, so the environment for the
tests' own Airflow home is set here, before any test module imports it."""
from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
import uuid
from pathlib import Path

import pytest

from dovecot import free_port  # noqa: F401 (also the fixtures' and other tests' free port)

_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="thb-test-airflow-"))
from thb_reporting.tools.airflow_runs import airflow_environment  # noqa: E402  (light: no Airflow import)

os.environ.update(airflow_environment(_AIRFLOW_HOME))
for name in [k for k in os.environ if k.startswith(("AIRFLOW_VAR_THB", "AIRFLOW_CONN_REPORTING"))]:
    del os.environ[name]  # a developer's own settings must not leak into the tests

TEST_KEY = secrets.token_hex(32).encode()  # a key of the session's own: a published one is refused (privacy.key_weakness)
PG_DSN = os.environ.get("THB_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
IN_CI = os.environ.get("CI", "").lower() == "true"


def _postgres_admin():
    from sqlalchemy import create_engine

    return create_engine(PG_DSN, isolation_level="AUTOCOMMIT")


@pytest.fixture
def pg_url():
    """A fresh, empty PostgreSQL database for one test; dropped afterwards. Fails under CI=true when the
    server is missing, skips elsewhere."""
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError

    admin = _postgres_admin()
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError as e:
        message = f"PostgreSQL is not reachable at {PG_DSN}: {str(e).splitlines()[0]}"
        if IN_CI:
            pytest.fail(message + " (CI=true: PostgreSQL tests must run)")
        pytest.skip(message + "; start it with pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start")
    finally:
        admin.dispose()
    with fresh_database("thb_test") as url:
        yield url


@contextlib.contextmanager
def fresh_database(prefix: str):
    """A new database on the test PostgreSQL server (check that it is reachable first, as pg_url does);
    dropped afterwards, with every engine of this process that used it."""
    from sqlalchemy import text

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = _postgres_admin()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_DSN.rsplit("/", 1)[0] + f"/{name}"
    finally:
        from thb_reporting.store.warehouse import dispose_engines

        dispose_engines()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def reporting_db_url(request, tmp_path):
    """Each test using this runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        from thb_reporting.core.config import sqlite_url

        return sqlite_url(tmp_path / "warehouse" / "reporting.sqlite")
    return request.getfixturevalue("pg_url")


@pytest.fixture
def config(tmp_path, reporting_db_url):
    from thb_reporting.core.config import PipelineConfig

    return PipelineConfig.local(tmp_path / "data", TEST_KEY, reporting_db_url=reporting_db_url)


@pytest.fixture
def generator(config):
    from thb_reporting.tools.generator import SubmissionGenerator

    return SubmissionGenerator(Path(config.inbox.removeprefix("file://")), seed=7)


@pytest.fixture(scope="session")
def airflow_db():
    """Airflow's own metadata database (SQLite in the tests' Airflow home), migrated once."""
    from thb_reporting.tools.airflow_runs import migrate_metadata_db

    migrate_metadata_db()
    return _AIRFLOW_HOME


class _Mailbox:
    """What a real SMTP server on loopback received: (recipients, message) pairs, and the SMTP sessions
    (connections) they came over."""

    def __init__(self):
        self.received = []
        self.sessions = []

    async def handle_DATA(self, server, session, envelope):
        from email import message_from_bytes, policy

        if not any(s is session for s in self.sessions):
            self.sessions.append(session)
        self.received.append((list(envelope.rcpt_tos), message_from_bytes(envelope.content, policy=policy.default)))
        return "250 OK"




def plain_smtp(port: int, **extra) -> str:
    """The connection (AIRFLOW_CONN_...) to a plain-text SMTP server on loopback: TLS turned off explicitly, as
    a deployment must for a relay without TLS (the SMTP provider's default is TLS, verified)."""
    import json

    return json.dumps({"conn_type": "smtp", "host": "127.0.0.1", "port": port,
                       "extra": {"disable_ssl": True, "disable_tls": True, **extra}})


@pytest.fixture
def smtp_server(monkeypatch):
    """An SMTP server (aiosmtpd) on 127.0.0.1 in plain text, and the connection smtp_default to it (TLS turned
    off explicitly); yields (port, mailbox)."""
    from aiosmtpd.controller import Controller

    mailbox = _Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", plain_smtp(controller.port))
    try:
        yield controller.port, mailbox
    finally:
        controller.stop()


@pytest.fixture
def pipeline_log():
    """The log lines the pipeline's own modules (thb_reporting.*) write during a test, at INFO and above,
    with their tracebacks: read from a handler of our own, as Airflow's console handlers may hold an
    earlier test's captured stdout once dag.test() has configured logging."""
    import logging

    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record):
            lines.append(logging.Formatter().format(record))

    logger, handler = logging.getLogger("thb_reporting"), Collect(logging.INFO)
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield lines
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


@pytest.fixture
def imap_server():
    """A private Dovecot (Debian's dovecot-imapd) on a free loopback port with one user and a fresh mail
    folder (tests/support/dovecot.py); yields (port, login, password). Fails under CI=true when dovecot is missing,
    skips elsewhere."""
    import dovecot

    if dovecot.executable() is None:
        message = "dovecot is missing (apt-get install dovecot-imapd)"
        if IN_CI:
            pytest.fail(message + " (CI=true: the mailbox tests must run)")
        pytest.skip(message)
    with dovecot.running() as server:
        yield server
