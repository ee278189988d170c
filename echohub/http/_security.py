# -*- test-case-name: tests.http.test_security,tests.http.test_origin -*-
"""
Origins (RFC 6454) in the one form two of them are compared in
(L{normalOrigin}), for CORS (L{echohub.web}) and the WebSocket Origin check
(L{echohub.websocket}) alike; and response headers that depend on the
connection a response goes over, not on the resource: today
C{Strict-Transport-Security} (RFC 6797), opt-in with C{[web] hsts}, sent
only over TLS (the RFC forbids it over plain HTTP, where
an attacker could forge it).

One function, L{connectionHeaders}, so that every HTTP front (the current
channel, its refusals, a future one) sends the same headers: call it once per
connection and add its pairs to every response.

And the request headers an echo hides (L{SENSITIVE_HEADERS}), replaced by
L{HIDDEN} unless C{[web] show_sensitive_headers}: one rule for the HTTP
echoes and the gRPC echo's metadata.
"""

from __future__ import annotations

import re

from twisted.internet.interfaces import ISSLTransport

from echohub.config import ConfigError

SENSITIVE_HEADERS = frozenset({b"authorization", b"proxy-authorization", b"cookie"})
"""
Request headers whose values an echo shows only with C{[web]
show_sensitive_headers}: credentials and cookies.
"""

HIDDEN = "(hidden: set [web] show_sensitive_headers to show it)"
"""
What an echo shows in place of a sensitive header's value.
"""

_HSTS = re.compile(
    r"max-age=[0-9]{1,10}(\s*;\s*(includeSubDomains|preload))*\Z", re.IGNORECASE
)


def hstsValue(setting: str) -> bytes | None:
    """
    The C{Strict-Transport-Security} value C{[web] hsts} sets, or L{None}
    when it is empty (the default: off).

    @raise ConfigError: the value is not C{max-age=SECONDS} optionally
        followed by C{; includeSubDomains} and C{; preload}.
    """
    setting = setting.strip()
    if not setting:
        return None
    if _HSTS.match(setting) is None:
        raise ConfigError(
            f"[web] hsts = {setting!r}: expected max-age=SECONDS, optionally"
            " followed by ; includeSubDomains and ; preload"
        )
    return setting.encode("ascii")


def connectionHeaders(
    hsts: bytes | None, transport: object
) -> list[tuple[bytes, bytes]]:
    """
    The headers every response on a connection over C{transport} carries:
    C{Strict-Transport-Security: hsts} if the connection is TLS, none
    otherwise.
    """
    if hsts is not None and ISSLTransport.providedBy(transport):
        return [(b"Strict-Transport-Security", hsts)]
    return []


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
