# -*- test-case-name: tests.http.test_origin -*-
"""
Origins (RFC 6454) in the one form two of them are compared in, for CORS
(L{echohub.web}) and the WebSocket Origin check (L{echohub.websocket}) alike.
"""

from __future__ import annotations

_DEFAULT_PORTS = {b"http": b"80", b"https": b"443"}


def normalOrigin(origin: bytes) -> bytes:
    """
    C{origin} (C{scheme://host[:port]}) in the form two origins are compared
    in: without surrounding space or a trailing slash, lower-cased, and
    without the port when it is its scheme's default, since a browser omits
    it (C{https://example.com:443} is C{https://example.com}).  A bracketed
    IPv6 host keeps its colons.  Anything else (C{null}, C{*}) is only
    lower-cased and stripped.
    """
    origin = origin.strip().rstrip(b"/").lower()
    scheme, separator, authority = origin.partition(b"://")
    host, colon, port = authority.rpartition(b":")
    if separator and colon and b"]" not in port and port == _DEFAULT_PORTS.get(scheme):
        return scheme + b"://" + host
    return origin
