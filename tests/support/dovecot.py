"""A private Dovecot IMAP server (Debian's dovecot-imapd) on a free loopback port, for the mailbox tests
(the fixture imap_server in conftest.py) and the feedback benchmark (bench/feedback.py). No side effects
on import."""
from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

CONF = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
listen = 127.0.0.1, 127.0.0.2
protocols = imap
{ssl}
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{root}/mail/%u
first_valid_uid = 0
default_internal_user = {internal}
default_login_user = {login}
namespace inbox {{
  inbox = yes
  separator = /
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = {plain_address}
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
    ssl = yes
  }}
}}
"""


# Dovecot takes a client whose address is the server's own as secure, and lets it log in without TLS: with
# TLS, the plain listener is on another loopback address, so that ssl = required holds for it.
PLAIN_ADDRESS = "127.0.0.2"


def executable() -> str | None:
    return shutil.which("dovecot") or ("/usr/sbin/dovecot" if Path("/usr/sbin/dovecot").exists() else None)


def free_port() -> int:
    """A TCP port free on loopback now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running(tls=None):
    """Dovecot with one user and a fresh mail folder, stopped and removed afterwards; yields (port, login,
    password). With tls (a certificate and key, tests/support/certificates.issue): ssl = required, and it
    yields (implicit TLS port on 127.0.0.1, login, password, plain port on PLAIN_ADDRESS): there a login is
    refused."""
    import pwd

    dovecot = executable()
    root = Path(tempfile.mkdtemp(prefix="thb-test-dovecot-"))
    root.chmod(0o755)  # the mail processes may run as another user
    if os.geteuid() == 0:  # Dovecot's processes never run as root: its own users, from the package
        internal, login = "dovecot", "dovenull"
        uid, gid = pwd.getpwnam("dovecot").pw_uid, pwd.getpwnam("dovecot").pw_gid
    else:
        internal = login = pwd.getpwuid(os.getuid()).pw_name
        uid, gid = os.getuid(), os.getgid()
    for sub in ("mail", "home"):
        (root / sub).mkdir()
        os.chown(root / sub, uid, gid) if os.geteuid() == 0 else None
    port, user, password = free_port(), "reports", uuid.uuid4().hex
    (root / "passwd").write_text(f"{user}:{{PLAIN}}{password}\n")
    conf = root / "dovecot.conf"
    tls_port = free_port() if tls else 0
    ssl = f"ssl = required\nssl_cert = <{tls.cert}\nssl_key = <{tls.key}" if tls else "ssl = no"
    conf.write_text(CONF.format(root=root, internal=internal, login=login, uid=uid, gid=gid, port=port,
                                tls_port=tls_port, ssl=ssl, plain_address=PLAIN_ADDRESS if tls else "127.0.0.1"))
    subprocess.run([dovecot, "-c", str(conf)], check=True)
    try:
        for address in ((PLAIN_ADDRESS, port), ("127.0.0.1", tls_port)) if tls else (("127.0.0.1", port),):
            for _ in range(100):
                with contextlib.suppress(OSError), socket.create_connection(address, timeout=1):
                    break
                time.sleep(0.1)
        yield (tls_port, user, password, port) if tls else (port, user, password)
    finally:
        subprocess.run([dovecot, "-c", str(conf), "stop"], check=False)
        shutil.rmtree(root, ignore_errors=True)
