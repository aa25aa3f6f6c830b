"""Where things are and which secrets to use, from Airflow variables and connections.

Every value has a working local default except the pseudonymisation key, which must be set
(the demo sets a fixed, public demo key). Names:
  variable thb_data_root            base of archive/, quarantine/, snapshots/   (default file://<project>/data)
  variable thb_inbox                the teams' inbox, one folder per team       (default <data_root>/inbox)
  variable thb_pseudonymisation_key or connection thb_pseudonymisation (password)
  variable thb_max_file_bytes       largest file accepted                       (default 50 MB)
  variable thb_suppression_threshold public outputs hide counts from 1 to this   (default 4)
  variable thb_research_k           the research export's k-anonymity: every class of its quasi-identifiers has k rows (default 11, as CTDC)
  variable thb_max_processing_attempts a file that fails unexpectedly this often becomes `failed` (default 3)
  connection reporting_db           the national reporting database            (default SQLite <data_root>/warehouse/reporting.sqlite)
  variable thb_teams_registry       the team registry, a CSV like reference/teams.csv (default: that file)
Any URL Airflow's ObjectStoragePath understands works for the paths: file://, s3://conn_id@bucket/prefix, sftp://...
Read where they are used, from the environment of every worker (docs/contracts.md):
  THB_CONTRACTS_DIR   the data contracts                        (default: the package's contracts/)
  THB_MIGRATIONS_DIR  a deployment's own schema revisions, besides the package's (thb_reporting.store.migrations)
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[3]
# Defaults of the settings that the pure modules also need when called without a configuration:
SUPPRESSION_THRESHOLD = 4  # public outputs hide counts from 1 to this (figures.disclosure)
RESEARCH_K = 11  # the research export's k-anonymity, as CTDC publishes (publishing.research_export)


def default_reporting_db_url(data_root) -> str:
    """The embedded default national reporting database: SQLite at <data_root>/warehouse/reporting.sqlite
    (data_root a local folder, a Path or a file:// URL)."""
    return sqlite_url(Path(str(data_root).removeprefix("file://")) / "warehouse" / "reporting.sqlite")


@dataclass(frozen=True)
class PipelineConfig:
    data_root: str
    inbox: str
    reporting_db_url: str
    pseudonymisation_key: bytes
    max_file_bytes: int = 50 * 1024 * 1024
    suppression_threshold: int = SUPPRESSION_THRESHOLD
    research_k: int = RESEARCH_K
    teams_registry: str | None = None  # a CSV with the columns of reference/teams.csv; None: that file
    max_processing_attempts: int = 3  # runs in which a file may fail unexpectedly before it is `failed`

    @property
    def teams(self):
        """The team registry this configuration names (reference.TeamRegistry), read once per file: every
        function that needs the teams is given it, so configurations in one process never share one."""
        from thb_reporting.core.reference import teams

        return teams(self.teams_registry)

    @classmethod
    def local(cls, data_root: Path | str, key: bytes, reporting_db_url: str | None = None, **kw) -> PipelineConfig:
        root = Path(data_root).resolve()
        return cls(
            data_root=root.as_uri(),
            inbox=kw.pop("inbox", (root / "inbox").as_uri()),
            reporting_db_url=reporting_db_url or default_reporting_db_url(root),
            pseudonymisation_key=key,
            **kw,
        )

    @classmethod
    def from_airflow(cls) -> PipelineConfig:
        """Read inside a running task: Variables and Connections resolve through Airflow's secrets
        backends, environment variables (AIRFLOW_VAR_*, AIRFLOW_CONN_*) included."""
        from airflow.sdk import Variable

        data_root = Variable.get("thb_data_root", default=(PROJECT_ROOT / "data").as_uri()).rstrip("/")
        return cls(
            data_root=data_root,
            inbox=Variable.get("thb_inbox", default=f"{data_root}/inbox").rstrip("/"),
            reporting_db_url=reporting_db_url_from_airflow(data_root),
            pseudonymisation_key=_key_from_airflow(),
            max_file_bytes=int(Variable.get("thb_max_file_bytes", default=str(cls.max_file_bytes))),
            suppression_threshold=int(Variable.get("thb_suppression_threshold", default=str(cls.suppression_threshold))),
            research_k=int(Variable.get("thb_research_k", default=str(cls.research_k))),
            teams_registry=Variable.get("thb_teams_registry", default="") or None,
            max_processing_attempts=int(Variable.get("thb_max_processing_attempts",
                                                     default=str(cls.max_processing_attempts))),
        )


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{Path(path).resolve()}"


def connection_to_url(conn_type: str, host: str | None, schema: str | None, login: str | None,
                      password: str | None, port: int | None, extra: dict | None = None) -> str:
    """SQLAlchemy URL for an Airflow connection of type postgres or sqlite. On PostgreSQL the extras
    `options` (e.g. "-c role=pipeline_writer") and `role` (a role the login acts as) are kept: they decide
    who owns what the pipeline creates."""
    from sqlalchemy import URL

    if conn_type in ("postgres", "postgresql"):
        extra = extra or {}
        options = " ".join(o for o in (extra.get("options"), extra.get("role") and f"-c role={extra['role']}") if o)
        return URL.create("postgresql+psycopg", username=login or None, password=password or None,
                          host=host or "localhost", port=port or 5432, database=schema or "postgres",
                          query={"options": options} if options else {}).render_as_string(hide_password=False)
    if conn_type == "sqlite":
        return sqlite_url(Path(host or schema))
    raise ValueError(f"connection reporting_db: type {conn_type!r} is not supported (use postgres or sqlite)")


def reporting_db_url_from_airflow(data_root: str) -> str:
    from airflow.sdk import Connection
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        conn = Connection.get("reporting_db")
    except AirflowNotFoundException:
        conn = None
    if conn is None:
        if not data_root.startswith("file://"):
            raise ValueError("set the connection reporting_db: the SQLite default needs a local thb_data_root")
        return default_reporting_db_url(data_root)
    return connection_to_url(conn.conn_type, conn.host, conn.schema, conn.login, conn.password, conn.port,
                             conn.extra_dejson)


def _key_from_airflow() -> bytes:
    from airflow.sdk import Connection, Variable
    from airflow.sdk.exceptions import AirflowNotFoundException

    key = Variable.get("thb_pseudonymisation_key", default="")
    if not key:
        try:
            key = Connection.get("thb_pseudonymisation").password or ""
        except AirflowNotFoundException:
            key = ""
    return key.encode()

