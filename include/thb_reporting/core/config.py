"""Where things are and which secrets to use, from Airflow variables and connections.

Every value has a working local default except the pseudonymisation key, which must be set
(the demo generates one for its own data root; a weak key is refused: core.privacy). Names:
  variable thb_data_root            base of archive/, quarantine/, snapshots/   (default file://<project>/data)
  variable thb_inbox                the teams' inbox, one folder per team       (default <data_root>/inbox)
  variable thb_pseudonymisation_key or connection thb_pseudonymisation (password)
  variable thb_max_file_bytes       largest file accepted                       (default 50 MB)
  variable thb_suppression_threshold public outputs hide counts from 1 to this   (default 4)
  variable thb_protection_level     how far above and below a hidden small count an attacker's interval reaches (default 1)
  variable thb_research_k           the research export's k-anonymity: every class of its quasi-identifiers has k rows (default 11, as CTDC)
  variable thb_max_processing_attempts a file that fails unexpectedly this often becomes `failed` (default 3)
  connection reporting_db           the national reporting database            (default SQLite <data_root>/warehouse/reporting.sqlite)
                                    PostgreSQL: TLS verify-full unless its sslmode turns it off (connection_to_url)
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
PROTECTION_LEVEL = 1  # how far an attacker's interval of a hidden small count must reach each way (figures.protection)
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
    protection_level: int = PROTECTION_LEVEL
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
            protection_level=int(Variable.get("thb_protection_level", default=str(cls.protection_level))),
            research_k=int(Variable.get("thb_research_k", default=str(cls.research_k))),
            teams_registry=Variable.get("thb_teams_registry", default="") or None,
            max_processing_attempts=int(Variable.get("thb_max_processing_attempts",
                                                     default=str(cls.max_processing_attempts))),
        )


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{Path(path).resolve()}"


def connection_to_url(conn) -> str:
    """SQLAlchemy URL for the Airflow connection reporting_db (type postgres or sqlite).

    PostgreSQL through the provider's hook (PostgresHook): its URL (login, host, port, database, the extras
    `sqlalchemy_scheme` and `sqlalchemy_query`), and every other extra handed to psycopg as its get_conn does
    (sslmode, sslrootcert, sslcert, sslkey, sslcrl, connect_timeout, application_name, keepalives_idle,
    client_encoding, options, any libpq parameter), here as URL parameters, which SQLAlchemy's psycopg dialect
    passes on. One extra of our own: `role`, a role the login acts as (added to `options`).
    TLS is on and verified unless the connection turns it off (tls_defaults)."""
    if conn.conn_type == "sqlite":
        return sqlite_url(Path(conn.host or conn.schema))
    if conn.conn_type not in ("postgres", "postgresql"):
        raise ValueError(f"connection reporting_db: type {conn.conn_type!r} is not supported (use postgres or sqlite)")
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    hook = PostgresHook("reporting_db", connection=conn)  # the connection at hand: not looked up again
    extra = dict(conn.extra_dejson)
    role = extra.pop("role", None)
    libpq = {k: str(v) for k, v in extra.items() if k not in hook.ignored_extra_options}
    if role:
        libpq["options"] = " ".join(o for o in (libpq.get("options"), f"-c role={role}") if o)
    url = hook.sqlalchemy_url
    return url.update_query_dict(tls_defaults(libpq)).render_as_string(hide_password=False)


def tls_defaults(libpq: dict[str, str]) -> dict[str, str]:
    """A connection's libpq parameters with TLS on and the server verified unless it says otherwise: no
    sslmode is verify-full (certificate and host name checked), against the CA file the connection names in
    sslrootcert, else the system's CA store. Any sslmode written in the connection is kept as written
    (sslmode=disable for a local server without TLS, as the tests' and CI's)."""
    params = dict(libpq)
    if "sslmode" not in params:
        params["sslmode"] = "verify-full"
    if params["sslmode"] == "verify-full" and "sslrootcert" not in params:
        params["sslrootcert"] = system_ca_store()
    return params


def system_ca_store() -> str:
    """The system's CA certificates, as the system's OpenSSL finds them (SSL_CERT_FILE, else e.g. Debian's
    /etc/ssl/certs/ca-certificates.crt). libpq's own `sslrootcert=system` is not used: psycopg's binary
    wheel carries its own OpenSSL, whose store (/usr/lib/psycopg-openssl) does not exist on the system."""
    import ssl

    return ssl.get_default_verify_paths().cafile or "system"


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
    return connection_to_url(conn)


def _key_from_airflow() -> bytes:
    """The pseudonymisation key; a weak one is refused here, at the start of every task of a run, naming the
    setting it came from. None set: empty (archiving needs no key; processing refuses, privacy.pseudonymiser)."""
    from airflow.sdk import Connection, Variable
    from airflow.sdk.exceptions import AirflowNotFoundException

    from thb_reporting.core.privacy import require_strong_key

    key = Variable.get("thb_pseudonymisation_key", default="")
    setting = "the Airflow variable thb_pseudonymisation_key (AIRFLOW_VAR_THB_PSEUDONYMISATION_KEY; THB_PSEUDONYMISATION_KEY in docker-compose)"
    if not key:
        try:
            key = Connection.get("thb_pseudonymisation").password or ""
        except AirflowNotFoundException:
            key = ""
        setting = "the password of connection thb_pseudonymisation"
    if key:
        require_strong_key(key.encode(), setting)
    return key.encode()
