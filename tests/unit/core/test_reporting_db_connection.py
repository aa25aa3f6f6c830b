"""The connection reporting_db becomes the warehouse's URL as the PostgreSQL provider's hook reads it: what
SQLAlchemy hands psycopg is what PostgresHook.get_conn hands it, every extra the provider's docs name included,
and TLS is on and verified unless the connection turns it off. (Against a real TLS server:
tests/pipeline/test_warehouse_tls.py.)"""
from __future__ import annotations

import json
import ssl

import pytest
from airflow.sdk import Connection
from sqlalchemy import make_url

from thb_reporting.core.config import connection_to_url

DOCUMENTED = {  # the extras the provider's connection docs name, besides any libpq parameter
    "sslmode": "verify-ca", "sslcert": "/etc/thb/client.crt", "sslkey": "/etc/thb/client.key",
    "sslrootcert": "/etc/thb/ca.crt", "sslcrl": "/etc/thb/ca.crl", "application_name": "thb-reporting",
    "keepalives_idle": "60", "client_encoding": "UTF8", "connect_timeout": "10", "options": "-c statement_timeout=0",
}


def _connection(extra: dict) -> Connection:
    return Connection(conn_id="reporting_db", conn_type="postgres", host="warehouse.example", port=5433,
                      login="etl", password="s3cret/pw", schema="reporting", extra=json.dumps(extra))


def _psycopg_arguments(url: str) -> dict:
    """What SQLAlchemy's psycopg dialect passes to psycopg.connect for url."""
    parsed = make_url(url)
    _, cparams = parsed.get_dialect()().create_connect_args(parsed)
    return cparams


def _hook_arguments(conn: Connection, monkeypatch) -> dict:
    """What the provider's PostgresHook.get_conn passes to psycopg.connect (caught there: no server is asked)."""
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    handed = {}
    monkeypatch.setattr(PostgresHook, "_create_connection", lambda self, args: handed.update(args))
    PostgresHook("reporting_db", connection=conn).get_conn()
    return handed


@pytest.mark.parametrize("extra", [DOCUMENTED, {**DOCUMENTED, "sslmode": "disable"},
                                   {**DOCUMENTED, "cursor": "dictcursor", "sqlalchemy_scheme": "postgresql+psycopg"}])
def test_psycopg_gets_what_the_providers_hook_gives_it(extra, monkeypatch):
    conn = _connection(extra)
    hook = _hook_arguments(conn, monkeypatch)
    ours = _psycopg_arguments(connection_to_url(conn))
    assert {k: str(v) for k, v in ours.items()} == {k: str(v) for k, v in hook.items() if k != "row_factory"}
    assert ours["sslcrl"] == "/etc/thb/ca.crl" and ours["connect_timeout"] == "10" and ours["password"] == "s3cret/pw"


def test_tls_is_on_and_verified_unless_the_connection_turns_it_off():
    def tls(**extra):
        args = _psycopg_arguments(connection_to_url(_connection(extra)))
        return args.get("sslmode"), args.get("sslrootcert")

    system = ssl.get_default_verify_paths().cafile
    assert system, "the system's CA store (ca-certificates) is missing"
    assert tls() == ("verify-full", system)  # no word about TLS: verified against the system's CAs
    assert tls(sslrootcert="/etc/thb/ca.crt") == ("verify-full", "/etc/thb/ca.crt")  # a CA file named
    assert tls(sslmode="verify-full") == ("verify-full", system)
    assert tls(sslmode="disable") == ("disable", None)  # turned off explicitly, as written
    assert tls(sslmode="require", sslrootcert="/etc/thb/ca.crt") == ("require", "/etc/thb/ca.crt")


def test_the_role_extra_is_ours_and_reaches_options():
    args = _psycopg_arguments(connection_to_url(_connection({"role": "pipeline_writer", "options": "-c work_mem=64MB"})))
    assert args["options"] == "-c work_mem=64MB -c role=pipeline_writer" and "role" not in args
