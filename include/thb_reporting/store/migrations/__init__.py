"""Revisions of the reporting database's schema, managed by Alembic.

The target is warehouse.metadata(): the ledger, the derived national tables and one fact table per data
contract. A change of a contract (docs/contracts.md) becomes a revision in versions/ (`thb db revision`),
reviewed and committed like code, applied by `thb db upgrade`. Every stage of the pipeline checks the
database first (ensure_current): an empty database is brought to the head revision, one behind stops the
run with DatabaseBehind instead of a failing COPY. A deployment may keep its own revisions in a further
folder, named by THB_MIGRATIONS_DIR (or `--versions-dir`)."""
from __future__ import annotations

import os
import weakref
from functools import cache
from pathlib import Path

HERE = Path(__file__).parent
PACKAGE_VERSIONS = HERE / "versions"
BASELINE = "0001_baseline"  # the schema as MetaData.create_all made it before revisions existed
VERSION_TABLE_SCHEMA = "ledger"  # PostgreSQL (the pipeline may not create in public); SQLite has one schema
UPGRADE_COMMAND = "thb db upgrade"


class DatabaseBehind(RuntimeError):
    """The database is not at the revision this code needs; nothing was written."""


def versions_dirs(extra: str | Path | None = None) -> tuple[Path, ...]:
    """The package's revisions, then a deployment's (THB_MIGRATIONS_DIR), then `extra`."""
    dirs = [PACKAGE_VERSIONS]
    for d in (os.environ.get("THB_MIGRATIONS_DIR"), extra):
        if d and Path(d).resolve() not in dirs:
            dirs.append(Path(d).resolve())
    return tuple(dirs)


def alembic_config(connection=None, dirs: tuple[Path, ...] | None = None):
    """Alembic's configuration, in code (no alembic.ini): env.py gets the connection from it."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("version_locations", os.pathsep.join(str(d) for d in dirs or versions_dirs()))
    cfg.set_main_option("file_template", "%%(year)d%%(month).2d%%(day).2d_%%(rev)s_%%(slug)s")
    cfg.attributes["connection"] = connection
    return cfg


@cache
def _script(dirs: tuple[Path, ...]):
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(dirs=dirs))


def script():
    return _script(versions_dirs())


def head() -> str:
    return script().get_current_head()


def _is_sqlite(conn) -> bool:
    return conn.dialect.name == "sqlite"


def _include_name(name, type_, parent_names) -> bool:
    from thb_reporting.store.warehouse import SCHEMAS

    return name in SCHEMAS if type_ == "schema" else True


@cache
def _folded(md):
    """The metadata with the schemas folded away, as a SQLite file holds it (table names are unique)."""
    from sqlalchemy import BLANK_SCHEMA, MetaData

    folded = MetaData()
    for t in md.tables.values():
        copy = t.to_metadata(folded, schema=None, referred_schema_fn=lambda *_: BLANK_SCHEMA)
        names = {tuple(c.name for c in i.columns): i.name for i in t.indexes}
        for index in copy.indexes:  # the names create_all gave them (ix_ledger_findings_..., with the schema)
            index.name = names[tuple(c.name for c in index.columns)]
    return folded


def _schemas_back(context, revision, directives) -> None:
    """A revision generated against SQLite names the schemas again, so that it runs on PostgreSQL too."""
    from thb_reporting.store.warehouse import metadata

    schema_of = {t.name: t.schema for t in metadata().tables.values()}

    def visit(ops):
        for op in ops:
            if getattr(op, "table_name", None) in schema_of and hasattr(op, "schema"):
                op.schema = schema_of[op.table_name]
            visit(getattr(op, "ops", ()))

    for directive in directives:
        visit(directive.upgrade_ops.ops)
        visit(directive.downgrade_ops.ops)


def fold_schemas(migration_context) -> None:
    """On SQLite, Alembic's own statements (ALTER TABLE ... ADD COLUMN) name the table without its schema,
    as the engine's schema_translate_map does for SQLAlchemy's (CREATE TABLE, CREATE INDEX)."""
    from alembic.ddl.base import AlterTable
    from alembic.ddl.sqlite import SQLiteImpl

    class FoldedSQLiteImpl(SQLiteImpl):  # no __dialect__: not registered, used by this context only
        def _exec(self, construct, *args, **kw):
            if isinstance(construct, AlterTable):
                construct.schema = None
            return super()._exec(construct, *args, **kw)

    migration_context.impl.__class__ = FoldedSQLiteImpl


def context_options(conn) -> dict:
    """How Alembic compares and writes for this database (env.py, ensure_current)."""
    from thb_reporting.store.warehouse import metadata

    sqlite = _is_sqlite(conn)
    return dict(
        target_metadata=_folded(metadata()) if sqlite else metadata(),
        include_schemas=not sqlite, include_name=None if sqlite else _include_name,
        version_table_schema=None if sqlite else VERSION_TABLE_SCHEMA,
        render_as_batch=sqlite, compare_type=True,
        process_revision_directives=_schemas_back if sqlite else None,
    )


def _migration_context(conn):
    import logging

    from alembic.runtime.migration import MigrationContext

    log = logging.getLogger("alembic.runtime.migration")
    level = log.level
    log.setLevel(logging.WARNING)  # "Context impl ...": said at every check of every stage otherwise
    try:
        return MigrationContext.configure(conn, opts=context_options(conn))
    finally:
        log.setLevel(level)


def current(conn) -> str | None:
    heads = _migration_context(conn).get_current_heads()
    return ",".join(heads) if heads else None


def differences(conn) -> list:
    """What the database lacks or has beyond the contracts and derived tables (Alembic's comparison)."""
    from alembic.autogenerate import compare_metadata

    ctx = _migration_context(conn)
    return compare_metadata(ctx, ctx.opts["target_metadata"])


def upgrade(conn, revision: str = "head") -> None:
    from alembic import command

    command.upgrade(alembic_config(conn), revision)
    _describe_version_table(conn)


def stamp(conn, revision: str) -> None:
    from alembic import command

    command.stamp(alembic_config(conn), revision)
    _describe_version_table(conn)


def _describe_version_table(conn) -> None:
    """Every table of ledger and national says what it is (COMMENT ON), Alembic's own too."""
    from sqlalchemy import text

    if not _is_sqlite(conn):
        conn.execute(text(f"COMMENT ON TABLE {VERSION_TABLE_SCHEMA}.alembic_version IS "
                          "'The schema revision the database is at (Alembic; thb db current, thb db upgrade)'"))
        conn.execute(text(f"COMMENT ON COLUMN {VERSION_TABLE_SCHEMA}.alembic_version.version_num IS "
                          "'a revision of include/thb_reporting/store/migrations/versions'"))


def new_revision(conn, message: str, versions_dir: str | Path | None = None) -> list[Path]:
    """A revision autogenerated from the contracts against a database at head, written into versions_dir,
    else THB_MIGRATIONS_DIR, else the package's versions/; its files."""
    from alembic import command

    dirs = versions_dirs(versions_dir)
    found = command.revision(alembic_config(conn, dirs), message=message, autogenerate=True, version_path=str(dirs[-1]))
    _script.cache_clear()
    return [Path(s.path) for s in (found if isinstance(found, list) else [found]) if s is not None]


def ensure_current(conn, upgrade_to_head: bool = False) -> bool:
    """Start of every stage: the database at the head revision, or a clear stop. An empty database is
    brought to head; one made by create_all before revisions existed is stamped (head when its tables
    already match the contracts, else the baseline) and then checked like any other. `thb db upgrade`
    (upgrade_to_head) brings any database to head. Returns whether it changed the schema (or its revision)."""
    from sqlalchemy import inspect

    needed = head()
    at = current(conn)
    changed = False
    if at is None:
        present = [n for s in ((None,) if _is_sqlite(conn) else ("ledger", "national"))
                   for n in inspect(conn).get_table_names(schema=s)]
        if not present:
            upgrade(conn)
            return True
        at = needed if not differences(conn) else BASELINE
        stamp(conn, at)
        changed = True
    if at != needed and upgrade_to_head:
        upgrade(conn)
        changed = True
    elif at != needed:
        known = {s.revision for s in script().walk_revisions()}
        state = (f"at revision {at}, which this code does not know (is the code older than the database, or "
                 f"THB_MIGRATIONS_DIR not set?)" if at not in known else f"at revision {at}")
        raise DatabaseBehind(f"the reporting database is {state}; this code needs revision {needed}: "
                             f"run `{UPGRADE_COMMAND}` (with the pipeline's database configuration)")
    _check_fact_columns(conn)
    return changed


def _check_fact_columns(conn) -> None:
    """A contract changed without a revision: say so before a COPY into a table that lacks a column."""
    from sqlalchemy import inspect

    from thb_reporting.core import contracts
    from thb_reporting.store.warehouse import fact_table_name, table

    facts = [table(fact_table_name(d)) for d in contracts.datasets()]
    schema = None if _is_sqlite(conn) else facts[0].schema
    found = inspect(conn).get_multi_columns(schema=schema, filter_names=[t.name for t in facts])  # one query
    for t in facts:
        have = {c["name"] for c in found.get((schema, t.name), ())}
        if missing := sorted(set(t.c.keys()) - have):
            raise DatabaseBehind(f"national.{t.name} lacks the contract's columns {missing} and no revision adds "
                                 f"them: run `thb db revision -m \"...\"`, review and commit it, then `{UPGRADE_COMMAND}`")


# engine → (the head revision, the contracts folder) it was found at in this process (ensure_schema)
_CHECKED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def ensure_schema(engine, upgrade: bool = False, views: bool = True) -> None:
    """The tables at the revision the code needs (an empty database is brought there; one behind raises
    DatabaseBehind, naming `thb db upgrade`, unless `upgrade`) and, on PostgreSQL, the public
    views and grants (thb_reporting.store.access).
    views=False, for a stage that reads and writes the ledger only (intake, e-mails): the views and grants
    are made only when the schema itself changed here, and otherwise left to publishing, which keeps them in
    step with the tables; once an engine was found at head, such a check costs nothing more in this process
    (a task's process: a new task checks again) while the revisions and contracts stay the same."""
    from sqlalchemy import text

    from thb_reporting.core.contracts import contracts_dir
    from thb_reporting.store.warehouse import SCHEMAS, is_postgres, metadata

    target = (head(), contracts_dir())  # a revision or contract added since: checked again
    if not (upgrade or views) and _CHECKED.get(engine) == target:
        return
    with engine.begin() as conn:
        missing: set[str] = set()
        if is_postgres(conn):
            conn.execute(text("SELECT pg_advisory_xact_lock(4242001)"))  # one creator at a time
            missing = set(SCHEMAS) - set(conn.execute(text("SELECT nspname FROM pg_namespace")).scalars())
            for schema in missing:  # (creating needs rights the pipeline may not have)
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        changed = ensure_current(conn, upgrade_to_head=upgrade) or bool(missing)
        if is_postgres(conn) and (views or changed):
            from thb_reporting.store.access import ensure_access

            ensure_access(conn, metadata())
    _CHECKED[engine] = target
