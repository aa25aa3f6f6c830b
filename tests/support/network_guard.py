"""A guard for tests: any attempt of this process to reach a host other than loopback (a connect, a name
lookup) raises OutboundConnection before anything is sent, and is written to a log that the test reads.
Installed in-process by install(); in child Python processes by network_guard_site/sitecustomize.py, which
Python runs at start-up when that folder is on PYTHONPATH (THB_NETWORK_GUARD_LOG names the log)."""
from __future__ import annotations

import ipaddress
import os
import socket

LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}
LOG_VARIABLE = "THB_NETWORK_GUARD_LOG"
SITE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "network_guard_site")


class OutboundConnection(AssertionError):
    pass


def is_loopback(host) -> bool:
    if host is None:  # getaddrinfo(None, port): this machine's own addresses
        return True
    if isinstance(host, bytes):
        host = host.decode()
    host = str(host).strip("[]").split("%")[0].lower()
    if host in LOOPBACK_NAMES or host == socket.gethostname().lower():  # this machine's own name (smtplib's EHLO)
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _refuse(what: str, host) -> None:
    allowed = is_loopback(host)
    message = f"{what} {host!r} (pid {os.getpid()})"
    log = os.environ.get(LOG_VARIABLE)
    if log:
        with open(log, "a", encoding="utf-8") as f:
            f.write(f"{'allowed' if allowed else 'refused'} {message}\n")
    if not allowed:
        raise OutboundConnection(f"{message}: only loopback may be reached")


def _inet(sock) -> bool:
    return sock.family in (socket.AF_INET, socket.AF_INET6)


def install() -> dict:
    """Guard the socket module (idempotent); returns the originals, for uninstall()."""
    if getattr(socket, "_thb_originals", None):
        return socket._thb_originals
    original = {"connect": socket.socket.connect, "connect_ex": socket.socket.connect_ex,
                "getaddrinfo": socket.getaddrinfo, "create_connection": socket.create_connection,
                "gethostbyname": socket.gethostbyname, "gethostbyname_ex": socket.gethostbyname_ex,
                "gethostbyaddr": socket.gethostbyaddr}

    def connect(self, address):
        if _inet(self):
            _refuse("connect", address[0])
        return original["connect"](self, address)

    def connect_ex(self, address):
        if _inet(self):
            _refuse("connect_ex", address[0])
        return original["connect_ex"](self, address)

    def getaddrinfo(host, *args, **kwargs):
        _refuse("getaddrinfo", host)
        return original["getaddrinfo"](host, *args, **kwargs)

    def create_connection(address, *args, **kwargs):
        _refuse("create_connection", address[0])
        return original["create_connection"](address, *args, **kwargs)

    def lookup(name):
        def guarded(host):
            _refuse(name, host)
            return original[name](host)
        return guarded

    socket.socket.connect, socket.socket.connect_ex = connect, connect_ex
    socket.getaddrinfo, socket.create_connection = getaddrinfo, create_connection
    for name in ("gethostbyname", "gethostbyname_ex", "gethostbyaddr"):
        setattr(socket, name, lookup(name))
    socket._thb_originals = original
    log = os.environ.get(LOG_VARIABLE)
    if log:
        with open(log, "a", encoding="utf-8") as f:
            f.write(f"guarded pid {os.getpid()}\n")
    return original


def uninstall() -> None:
    original = getattr(socket, "_thb_originals", None)
    if not original:
        return
    socket.socket.connect, socket.socket.connect_ex = original["connect"], original["connect_ex"]
    for name in ("getaddrinfo", "create_connection", "gethostbyname", "gethostbyname_ex", "gethostbyaddr"):
        setattr(socket, name, original[name])
    del socket._thb_originals
