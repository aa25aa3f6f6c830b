"""Who may read what in PostgreSQL (SQLite has no roles: the file's permissions are its access control).

  reporting_reader   the ministries and the public: SELECT on the views of schema reporting_public only,
                     which show the suppressed public indicators, the exports and the dimensions;
  reporting_analyst  the exact internal indicators and the dimensions; no row-level facts, no ledger;
  pipeline_writer    owns the schemas ledger, national and reporting_public; not a superuser.

`thb roles` (a database administrator, once per cluster and database) creates the roles and the schemas
owned by pipeline_writer, and lets the pipeline's login act as it. Every publish, run as the owner,
then keeps the views and grants in step with the tables (ensure_access)."""
from __future__ import annotations

from sqlalchemy import text

ROLES = ("pipeline_writer", "reporting_analyst", "reporting_reader")
SCHEMAS = ("ledger", "national", "reporting_public")
# reporting_public view → the table it shows
PUBLIC_VIEWS = {
    "indicators": "national.public_indicators",
    "crim_thb": "national.export_crim_thb",
    "sdg_16_2_2": "national.sdg_16_2_2",
    "indicator_catalogue": "national.indicator_catalogue",
    "teams": "national.teams",
    "districts": "national.districts",
    "code_lists": "national.code_lists",
    "quarters": "national.quarters",
}
ANALYST_TABLES = ("indicators", "public_indicators", "victims_by_team_quarter", "export_crim_thb", "sdg_16_2_2",
                  "indicator_catalogue", "teams", "districts", "code_lists", "quarters")


def create_roles(admin_conn, pipeline_login: str | None = None) -> None:
    """Run by an administrator: the three roles, the schemas owned by pipeline_writer, and optionally a
    login that may act as pipeline_writer (connect with options '-c role=pipeline_writer')."""
    for role in ROLES:
        admin_conn.execute(text(
            f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN "
            f"CREATE ROLE {role} NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE; END IF; END $$"))
    for schema in SCHEMAS:
        admin_conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {schema} AUTHORIZATION pipeline_writer"))
        admin_conn.execute(text(f"ALTER SCHEMA {schema} OWNER TO pipeline_writer"))
    admin_conn.execute(text("REVOKE CREATE ON SCHEMA public FROM PUBLIC"))
    if pipeline_login:
        admin_conn.execute(text(
            f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{pipeline_login}') THEN "
            f"CREATE ROLE \"{pipeline_login}\" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE; END IF; END $$"))
        admin_conn.execute(text(f'GRANT pipeline_writer TO "{pipeline_login}"'))


def roles_exist(conn) -> bool:
    found = conn.execute(text("SELECT count(*) FROM pg_roles WHERE rolname = ANY(:roles)"), {"roles": list(ROLES)})
    return found.scalar_one() == len(ROLES)


def ensure_access(conn) -> None:
    """The public views and the grants, for the tables as they are now (run by their owner)."""
    if not conn.execute(text("SELECT 1 FROM pg_namespace WHERE nspname = 'reporting_public'")).first():
        conn.execute(text("CREATE SCHEMA reporting_public"))
    for view, source in PUBLIC_VIEWS.items():
        conn.execute(text(f"CREATE OR REPLACE VIEW reporting_public.{view} AS SELECT * FROM {source}"))
    from thb_reporting.reader_views import create_reader_views

    create_reader_views(conn)  # labelled views for the ministries' analysts; a description on every view and column
    if not roles_exist(conn):
        return
    for schema in SCHEMAS:
        conn.execute(text(f"REVOKE ALL ON SCHEMA {schema} FROM PUBLIC"))
    conn.execute(text("GRANT USAGE ON SCHEMA reporting_public TO reporting_reader, reporting_analyst"))
    conn.execute(text("GRANT SELECT ON ALL TABLES IN SCHEMA reporting_public TO reporting_reader, reporting_analyst"))
    conn.execute(text("GRANT USAGE ON SCHEMA national TO reporting_analyst"))
    conn.execute(text("REVOKE ALL ON ALL TABLES IN SCHEMA national FROM reporting_analyst, reporting_reader"))
    conn.execute(text(f"GRANT SELECT ON {', '.join('national.' + t for t in ANALYST_TABLES)} TO reporting_analyst"))
