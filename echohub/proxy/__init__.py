# -*- test-case-name: tests.test_exports -*-
"""
The PROXY protocol (v1 and v2), as HAProxy's C{send-proxy} and
C{send-proxy-v2} send it: a header before anything else on the connection
that names the real client.

Twisted's C{haproxy:} endpoint is not used, for four reasons:

    - Its parsers (private modules) accept what the specification forbids:
      C{999.1.2.3}, port C{70000} or C{-1}, a NUL, an IPv6 address under
      C{TCP4}, extra fields, a v2 C{UDP} header on a stream listener; and
      they refuse the bare C{PROXY UNKNOWN} line HAProxy sends when it has
      no address.  Whatever such a header names reaches the logs, C{/ip} and
      the per-host cap's key.  L{parseHeader} is a strict parser of its own.
    - It connects the wrapped protocol before the header has arrived, so a
      C{connectionMade} sees the proxy's address: the per-peer cap and the
      access log would count HAProxy, not the client.  L{ProxyHeaderProtocol}
      connects the wrapped protocol only once the header is parsed.
    - It hides L{IHalfCloseableProtocol}, so a line client's half-close
      would lose its pending echoes.  L{ProxyHeaderProtocol} forwards it.
    - C{haproxy:ssl:} expects the header inside TLS, but HAProxy sends it
      before the handshake.  echohub composes the layers itself (see
      L{echohub.endpoints}): the header is read from the raw connection,
      then TLS starts.

What is accepted (U{the specification
<https://www.haproxy.org/download/2.9/doc/proxy-protocol.txt>}):

    - v1: C{PROXY TCP4 src dst sport dport CRLF} (or C{TCP6}), fields
      separated by exactly one space, at most 107 bytes with the C{CRLF};
      addresses in the syntax of their family (dotted quad without leading
      zeros; IPv6 text without a zone, kept in its canonical form so that
      one client cannot spell itself many ways to the per-host cap); ports
      decimal C{0}-C{65535} without sign or leading zeros; printable ASCII
      only.  C{PROXY UNKNOWN} with or without anything after it (the
      specification says to ignore the rest) carries no address.
    - v2: version 2; command C{LOCAL} (HAProxy's health checks: addresses
      ignored, whatever the family) or C{PROXY} with a family the listener
      serves: every echohub listener is a stream listener, so C{STREAM} over
      C{INET}, C{INET6} or C{UNIX}, or C{UNSPEC} (no address, as v1's
      C{UNKNOWN}); datagram and unknown families or commands are refused.
      The length must hold the family's address block; what follows it
      (TLVs) is skipped.

A header without an address (C{UNKNOWN}, C{LOCAL}, C{UNSPEC}) leaves the
connection's own addresses in place.  A header that is malformed, or that has
not arrived within L{HEADER_TIMEOUT} seconds, closes the connection, counted
as a C{proxy} rejection and logged once per C{[server] warning_interval}
with the reason.
"""

from echohub.proxy._endpoint import (
    HEADER_TIMEOUT,
    ProxyHeaderProtocol,
    ProxyServerEndpoint,
    ProxyWrappingFactory,
)
from echohub.proxy._header import InvalidProxyHeaderError, ProxyHeader, parseHeader

__all__ = [
    "HEADER_TIMEOUT",
    "InvalidProxyHeaderError",
    "ProxyHeader",
    "ProxyHeaderProtocol",
    "ProxyServerEndpoint",
    "ProxyWrappingFactory",
    "parseHeader",
]
