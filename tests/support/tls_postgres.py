"""A private PostgreSQL cluster with TLS on a free loopback port (Debian's server binaries: initdb, pg_ctl), for
the tests of the reporting_db connection's TLS. The cluster presents a certificate of the test's own CA
(certificates.issue); TLS and "hostssl only" can be turned on and off while it runs (configure), as an operator
would fix a server. As root, the server runs as the postgres user (initdb refuses root). No side effects on import."""
from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from dovecot import free_port

HBA = """\
local all all trust
hostssl all all 127.0.0.1/32 trust
{plain}host all all 127.0.0.1/32 trust
"""


def bin_dir() -> Path | None:
    """The newest installed server's binaries (Debian: /usr/lib/postgresql/<major>/bin), else initdb on PATH."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


@dataclass
class TlsPostgres:
    root: Path
    port: int
    generation: int = 0

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root / "run"

    def connection(self, database: str, host: str = "localhost", **extra) -> str:
        """The connection reporting_db to a database of this server, as an operator writes it
        (AIRFLOW_CONN_REPORTING_DB, JSON); extra: the connection's extras."""
        return json.dumps({"conn_type": "postgres", "host": host, "port": self.port, "login": "postgres",
                           "schema": database, "extra": {k: str(v) for k, v in extra.items()}})

    def configure(self, ssl: bool = True, hostssl_only: bool = True) -> None:
        """TLS on or off, and plain-text connections refused (hostssl only) or allowed; in effect on return."""
        self._write_settings(ssl, hostssl_only)
        self._ctl("reload")
        for _ in range(100):  # a reload is a signal: wait until new sessions see it
            if self.admin_query("SHOW thb.generation") == str(self.generation):
                return
            time.sleep(0.05)
        raise TimeoutError(f"the test PostgreSQL did not reload its configuration: {self.log()}")

    def _write_settings(self, ssl: bool, hostssl_only: bool) -> None:
        self.generation += 1  # a mark of these settings, to see when the server has read them
        (self.data / "pg_hba.conf").write_text(HBA.format(plain="# " if hostssl_only else ""))
        (self.data / "tls.conf").write_text(
            f"ssl = {'on' if ssl else 'off'}\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n"
            f"thb.generation = {self.generation}\n")
        _give_to_server_user(self.data / "pg_hba.conf", self.data / "tls.conf")

    def admin_query(self, sql: str, database: str = "postgres"):
        """Run sql as the superuser over the cluster's Unix socket (no TLS there, trust); its one value, if any."""
        import psycopg

        with psycopg.connect(host=str(self.socket_dir), port=self.port, user="postgres", dbname=database,
                             autocommit=True) as conn:
            cur = conn.execute(sql)
            return cur.fetchone()[0] if cur.description else None

    def log(self) -> str:
        path = self.root / "postgres.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def _ctl(self, *args: str) -> None:
        _as_server_user([str(bin_dir() / "pg_ctl"), "-D", str(self.data), *args], check=True)


def _as_server_user(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", "postgres", "--", *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, **kw)


def _give_to_server_user(*paths: Path) -> None:
    if os.geteuid() == 0:
        import pwd

        server = pwd.getpwnam("postgres")
        for path in paths:
            os.chown(path, server.pw_uid, server.pw_gid)


@contextlib.contextmanager
def running(server_cert: Path, server_key: Path):
    """A new cluster presenting server_cert (its host names are what a client may verify), TLS on and
    hostssl only; stopped and removed afterwards. Yields a TlsPostgres."""
    root = Path(tempfile.mkdtemp(prefix="thb-test-tls-postgres-"))
    root.chmod(0o755)  # the server's own user walks into it
    pg = TlsPostgres(root, free_port())
    for sub in ("data", "run"):
        (root / sub).mkdir(mode=0o700)
    (root / "postgres.log").touch()
    _give_to_server_user(pg.data, pg.socket_dir, root / "postgres.log")
    done = _as_server_user([str(bin_dir() / "initdb"), "-D", str(pg.data), "-U", "postgres", "--auth=trust",
                            "--no-sync", "-E", "UTF8", "--locale=C"])
    if done.returncode:
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(f"initdb failed: {done.stderr}")
    for source, name in ((server_cert, "server.crt"), (server_key, "server.key")):
        shutil.copyfile(source, pg.data / name)
        (pg.data / name).chmod(0o600)  # the server refuses a key others can read
        _give_to_server_user(pg.data / name)
    with (pg.data / "postgresql.conf").open("a") as conf:
        conf.write(f"listen_addresses = '127.0.0.1'\nport = {pg.port}\nunix_socket_directories = '{pg.socket_dir}'\n"
                   "fsync = off\nshared_buffers = 32MB\nmax_connections = 40\ninclude_if_exists = 'tls.conf'\n")
    try:
        pg._write_settings(ssl=True, hostssl_only=True)
        pg._ctl("start", "-w", "-t", "60", "-l", str(root / "postgres.log"))
        yield pg
    except subprocess.CalledProcessError as e:
        raise RuntimeError(f"the test PostgreSQL did not start: {e.stderr}\n{pg.log()}") from e
    finally:
        _as_server_user([str(bin_dir() / "pg_ctl"), "-D", str(pg.data), "-m", "immediate", "stop"])
        shutil.rmtree(root, ignore_errors=True)


def without_tls(url: str) -> str:
    """The connection reporting_db (AIRFLOW_CONN_REPORTING_DB) for a database URL of the tests' and benchmarks'
    local server (127.0.0.1:5432, trust, no TLS): TLS turned off explicitly, as the connection's default
    requires and verifies it."""
    from sqlalchemy import make_url

    plain = make_url(url).set(drivername="postgresql").update_query_dict({"sslmode": "disable"})
    return plain.render_as_string(hide_password=False)
