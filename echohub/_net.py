# -*- test-case-name: tests.test_net -*-
"""
Small helpers every layer of echohub shares: how an address is shown, which
key a peer is counted under, how an OpenSSL error reads, how a timer is
cancelled.

This module sits at the bottom of the package: it imports nothing of
echohub's, so web code can format an address without importing TLS,
OpenSSL or PROXY-protocol code.
"""

from __future__ import annotations

from twisted.internet.interfaces import IAddress, IDelayedCall


def formatAddress(address: IAddress | object) -> str:
    """
    Show an address the way an operator types it: C{127.0.0.1:7007},
    C{[::1]:7007} or a UNIX socket path.
    """
    host = getattr(address, "host", None)
    port = getattr(address, "port", None)
    if host is not None and port is not None:
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    name = getattr(address, "name", None)
    if isinstance(name, bytes):
        name = name.decode("utf-8", "replace")
    return str(name) if name else str(address)


def peerHost(address: IAddress | object) -> str:
    """
    The key the per-peer cap counts by: the host of an IP address, the
    whole address's type otherwise (UNIX sockets share one key).
    """
    host = getattr(address, "host", None)
    return host if isinstance(host, str) else type(address).__name__


def openSSLReason(error: BaseException) -> str:
    """
    OpenSSL's reasons in an L{OpenSSL.SSL.Error} (whose argument is a list of
    C{(library, function, reason)} tuples), without the library and function
    names, as one short string a person can read.
    """
    details = error.args[0] if error.args else None
    if isinstance(details, list) and details:
        return "; ".join(str(entry[-1]) for entry in details)
    return str(error) or type(error).__name__


def cancelCall(call: IDelayedCall | None) -> None:
    """
    Cancel C{call} if it is still pending; do nothing if it is L{None}, has
    run or was cancelled already.
    """
    if call is not None and call.active():
        call.cancel()
