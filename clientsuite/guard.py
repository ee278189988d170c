"""
A pytest plugin that refuses every connection and name lookup beyond
loopback, so that a client library's own suite cannot reach the internet
while it runs against a local echohub or httpbin.  A test that tries fails
with L{NonLoopbackError}.

Loaded with C{-p guard} (this directory on C{PYTHONPATH}) by
C{clientsuite/run.py}.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}
_connect = socket.socket.connect
_connect_ex = socket.socket.connect_ex
_getaddrinfo = socket.getaddrinfo
_gethostbyname = socket.gethostbyname


class NonLoopbackError(OSError):
    """
    A connection or name lookup beyond loopback was refused.
    """


def _isLoopback(host: object) -> bool:
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    host = host.strip("[]").lower()
    if host in _LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def _check(sock: socket.socket, address: Any) -> None:
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        host = address[0] if isinstance(address, tuple) else address
        if not _isLoopback(host):
            raise NonLoopbackError(f"refused non-loopback connect to {address!r}")


def connect(self: socket.socket, address: Any) -> None:
    _check(self, address)
    _connect(self, address)


def connect_ex(self: socket.socket, address: Any) -> int:
    _check(self, address)
    return _connect_ex(self, address)


def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    if host is not None and not _isLoopback(host):
        raise NonLoopbackError(f"refused name lookup of {host!r}")
    return _getaddrinfo(host, *args, **kwargs)


def gethostbyname(host: str) -> str:
    if not _isLoopback(host):
        raise NonLoopbackError(f"refused name lookup of {host!r}")
    return _gethostbyname(host)


def pytest_configure(config: object) -> None:
    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = getaddrinfo
    socket.gethostbyname = gethostbyname
