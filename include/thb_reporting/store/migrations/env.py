"""Alembic's environment: the connection comes from thb_reporting.store.migrations (alembic_config), which opens it
with the pipeline's own engine (SQLite folds the schemas ledger and national into one file)."""
from alembic import context

from thb_reporting.store.migrations import context_options, fold_schemas


def run() -> None:
    if context.is_offline_mode():
        raise SystemExit("offline (SQL script) mode is not supported: use `thb db upgrade`")
    conn = context.config.attributes.get("connection")
    if conn is None:  # run by the alembic command itself: the URL of sqlalchemy.url
        from thb_reporting.store.warehouse import reporting_engine

        with reporting_engine(context.config.get_main_option("sqlalchemy.url")).begin() as conn:
            _migrate(conn)
    else:
        _migrate(conn)


def _migrate(conn) -> None:
    context.configure(connection=conn, **context_options(conn))
    if conn.dialect.name == "sqlite":
        fold_schemas(context.get_context())
    with context.begin_transaction():
        context.run_migrations()


run()
