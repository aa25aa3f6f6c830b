"""Who may read what in PostgreSQL (SQLite has no roles: the file's permissions are its access control).

  reporting_reader   the ministries and the public: SELECT on the views of schema reporting_public only,
                     which show the released figures (suppressed public indicators, exports, coverage; every
                     row naming its release), the releases and their revisions, and the dimensions;
  reporting_analyst  the exact internal indicators and the dimensions; no row-level facts, no ledger;
  pipeline_writer    owns the schemas ledger, national and reporting_public; not a superuser.

`thb roles` (a database administrator, once per cluster and database) creates the roles and the schemas
owned by pipeline_writer, and lets the pipeline's logins act as it. Every publish, run as the owner,
then keeps the views and grants in step with the tables (ensure_access).

Credentials are rotated by adding a login: whatever login connects, a member of pipeline_writer acts as
pipeline_writer from its first statement (act_as_pipeline_writer, on every new connection, unless the
connection chose a role itself with `options=-c role=...`), so that every table and view is owned by
pipeline_writer and the next login can replace them. A database where an earlier version created them
as a login is repaired by ensure_access when that login (or a superuser) connects, and in any case by
`thb roles URL --pipeline-login LOGIN ...` (give every login of the pipeline)."""
from __future__ import annotations

from sqlalchemy import text

from thb_reporting.store.release_tables import RELEASED_TABLES, frozen_name
from thb_reporting.store.reader_views import PUBLIC_VIEWS, create_reader_views, public_view_sql

ROLES = ("pipeline_writer", "reporting_analyst", "reporting_reader")
SCHEMAS = ("ledger", "national", "reporting_public")
ANALYST_TABLES = ("indicators", "public_indicators", "victims_by_team_quarter", "export_crim_thb", "sdg_16_2_2",
                  "coverage", "indicator_catalogue", "teams", "districts", "code_lists", "quarters", "releases",
                  "release_basis", "release_revisions", *(frozen_name(t) for t in RELEASED_TABLES))


def create_roles(admin_conn, pipeline_logins: str | list[str] | tuple[str, ...] = ()) -> None:
    """Run by an administrator: the three roles, the schemas owned by pipeline_writer, the pipeline's
    logins (created where missing) as members of pipeline_writer, and everything already in the schemas
    given to pipeline_writer."""
    for role in ROLES:
        admin_conn.execute(text(
            f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN "
            f"CREATE ROLE {role} NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE; END IF; END $$"))
    for schema in SCHEMAS:
        admin_conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {schema} AUTHORIZATION pipeline_writer"))
    admin_conn.execute(text("REVOKE CREATE ON SCHEMA public FROM PUBLIC"))
    for login in [pipeline_logins] if isinstance(pipeline_logins, str) else pipeline_logins:
        admin_conn.execute(text(
            f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{login}') THEN "
            f"CREATE ROLE \"{login}\" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE; END IF; END $$"))
        admin_conn.execute(text(f'GRANT pipeline_writer TO "{login}"'))
    give_to_pipeline_writer(admin_conn)


def act_as_pipeline_writer(dbapi_conn) -> None:
    """For a new PostgreSQL connection (psycopg): a login that is a member of pipeline_writer, no
    superuser, and that chose no role itself, acts as pipeline_writer for the whole session."""
    with dbapi_conn.cursor() as cur:
        cur.execute("SELECT FROM pg_roles w JOIN pg_roles s ON s.rolname = session_user "
                    "WHERE w.rolname = 'pipeline_writer' AND NOT s.rolsuper AND current_user = session_user "
                    "AND pg_has_role(s.oid, w.oid, 'MEMBER')")
        if cur.fetchone() is not None:
            cur.execute("SET ROLE pipeline_writer")
    dbapi_conn.commit()  # a SET inside a transaction rolled back would be undone


def give_to_pipeline_writer(conn) -> None:
    """The schemas, tables, views and sequences of SCHEMAS that belong to another role are given to
    pipeline_writer, where the session's login may do so: a superuser, or the login that owns them. The
    rest (another login's objects) is left for `thb roles`, and named in the error."""
    others = conn.execute(text(
        "SELECT 'SCHEMA', quote_ident(n.nspname), pg_has_role(session_user, n.nspowner, 'USAGE') FROM pg_namespace n "
        "WHERE n.nspname = ANY(:schemas) AND n.nspowner <> 'pipeline_writer'::regrole "
        "UNION ALL "
        "SELECT CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END, "
        "format('%I.%I', n.nspname, c.relname), pg_has_role(session_user, c.relowner, 'USAGE') "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = ANY(:schemas) AND c.relkind IN ('r', 'p', 'v', 'S') AND c.relowner <> 'pipeline_writer'::regrole "
        # a serial column's sequence follows its table
        "AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid "
        "AND d.deptype IN ('a', 'i'))"), {"schemas": list(SCHEMAS)}).all()
    if not others:
        return
    stuck = [name for _, name, may in others if not may]
    if stuck:
        raise PermissionError(
            f"{', '.join(stuck[:5])} belong to another login, not to pipeline_writer: run once, as an administrator, "
            f"`thb roles <database url> --pipeline-login <each login of the pipeline>`")
    acting = conn.execute(text("SELECT current_user")).scalar_one()
    conn.execute(text("SET ROLE NONE"))  # as the login itself, which owns them (or is a superuser)
    for kind, name, _ in others:
        conn.execute(text(f"ALTER {kind} {name} OWNER TO pipeline_writer"))
    conn.execute(text(f'SET ROLE "{acting}"'))


def roles_exist(conn) -> bool:
    found = conn.execute(text("SELECT count(*) FROM pg_roles WHERE rolname = ANY(:roles)"), {"roles": list(ROLES)})
    return found.scalar_one() == len(ROLES)


def ensure_access(conn, metadata) -> None:
    """The public views and the grants, for the tables as they are now (run by their owner); metadata: the
    warehouse's tables (warehouse.metadata()), whose comments the views' columns repeat."""
    if not conn.execute(text("SELECT 1 FROM pg_namespace WHERE nspname = 'reporting_public'")).first():
        conn.execute(text("CREATE SCHEMA reporting_public"))
    roles = roles_exist(conn)
    if roles:
        give_to_pipeline_writer(conn)  # before the views are replaced: that needs their owner
    stale = conn.execute(text(  # an earlier version's view of working figures: its columns change, so it is dropped
        "SELECT 1 FROM pg_views WHERE schemaname = 'reporting_public' AND viewname = 'indicators' AND NOT EXISTS "
        "(SELECT FROM information_schema.columns WHERE table_schema = 'reporting_public' AND table_name = 'indicators' "
        "AND column_name = 'release_id')")).first()
    if stale:
        for view in PUBLIC_VIEWS:
            conn.execute(text(f"DROP VIEW IF EXISTS reporting_public.{view} CASCADE"))
    for view, source in PUBLIC_VIEWS.items():
        frozen = [c.name for c in metadata.tables[source].columns]
        conn.execute(text(f"CREATE OR REPLACE VIEW reporting_public.{view} AS {public_view_sql(view, frozen)}"))
    create_reader_views(conn, metadata)  # labelled views for the ministries' analysts; a description on every view and column
    if not roles:
        return
    for schema in SCHEMAS:
        conn.execute(text(f"REVOKE ALL ON SCHEMA {schema} FROM PUBLIC"))
    conn.execute(text("GRANT USAGE ON SCHEMA reporting_public TO reporting_reader, reporting_analyst"))
    conn.execute(text("GRANT SELECT ON ALL TABLES IN SCHEMA reporting_public TO reporting_reader, reporting_analyst"))
    conn.execute(text("GRANT USAGE ON SCHEMA national TO reporting_analyst"))
    conn.execute(text("REVOKE ALL ON ALL TABLES IN SCHEMA national FROM reporting_analyst, reporting_reader"))
    conn.execute(text(f"GRANT SELECT ON {', '.join('national.' + t for t in ANALYST_TABLES)} TO reporting_analyst"))
