# -*- test-case-name: tests.web.test_lean -*-
"""
The lean path: C{GET /echo?msg=...}, C{POST /echo} and C{GET /healthz}
answered by the channel itself, without a twisted.web L{Request}, the
resource tree or Twisted's header objects; over HTTP/2, C{GET /echo} and
C{GET /healthz} (L{http2Fields}).

Measured (issue 11), building a L{Request} costs more than parsing: a
channel that answers these routes directly is what makes echohub as fast as
aiohttp.  The bytes on the wire are exactly those the tree's
L{echohub.web._tree.EchoResource} and C{HealthResource} produce (status
line, C{X-Content-Type-Options}, the connection's headers, C{Server},
C{Date}, C{Cache-Control}, C{Content-Security-Policy}, C{Content-Type},
C{Content-Length}); C{tests/web/test_lean.py} compares both paths on the
same requests.  The limits are the channel's, before either path; the
access-log line and metrics are the site's (L{EchoSite.logAccess}).

L{leanRoute} takes a request only when nothing else could change the
response: HTTP/1.1, no C{Connection} or C{Origin} header, no CORS policy,
not draining, and the exact path.  Anything else takes the full path.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence

from twisted.web import http
from twisted.web.http import parse_qs
from twisted.web.server import version as serverVersion

from echohub.web._resource import ECHO_HEADERS, PLAIN_TEXT, echoContentType

ECHO, POST_ECHO, HEALTH = range(3)

_SPECIAL = re.compile(rb"[&;%+]")
"""
Bytes that make a query more than one plain C{name=value} argument.
"""

_ECHO_TAIL = b"".join(name + b": " + value + b"\r\n" for name, value in ECHO_HEADERS)


class DateCache:
    """
    The C{Date} header value, formatted once per second rather than once
    per response.
    """

    def __init__(self, now: Callable[[], float] = time.time) -> None:
        self._now = now
        self._second = -1
        self._value = b""

    def value(self) -> bytes:
        """
        The current value, as L{http.datetimeToString} formats it.
        """
        second = int(self._now())
        if second != self._second:
            self._second = second
            self._value = http.datetimeToString(second)
        return self._value


def leanRoute(
    method: bytes, url: bytes, headers: Sequence[tuple[bytes, bytes]]
) -> tuple[int, bytes] | None:
    """
    Which lean route answers this request, and with what: for
    C{GET /echo} the message, for C{POST /echo} the response's
    C{Content-Type}; L{None} for the full path.
    """
    path, mark, query = url.partition(b"?")
    if path == b"/echo":
        if method != b"GET" and method != b"POST":
            return None
    elif path != b"/healthz" or method != b"GET":
        return None
    contentType = None
    for name, value in headers:
        lowered = name.lower()
        if lowered == b"connection" or lowered == b"origin":
            return None
        if lowered == b"content-type":
            contentType = value
    if path == b"/healthz":
        return HEALTH, b""
    if method == b"POST":
        return POST_ECHO, echoContentType(contentType)
    if not mark:
        return None
    if query.startswith(b"msg=") and not _SPECIAL.search(query):
        # What parse_qs gives for one plain argument, without its work.
        return ECHO, query[4:]
    # The parser twisted.web's Request uses for request.args.
    values = parse_qs(query, 1).get(b"msg")
    if not values:
        return None
    return ECHO, values[0]


def leanResponse(
    route: int,
    value: bytes,
    body: bytes,
    connectionHeaders: bytes,
    date: bytes,
) -> tuple[bytes, bytes]:
    """
    The response head and body of a lean route.

    @param route: L{ECHO}, L{POST_ECHO} or L{HEALTH}.
    @param value: what L{leanRoute} gave with it.
    @param body: the request body.
    @param connectionHeaders: the connection's header lines (HSTS), each
        with its CRLF.
    @param date: the C{Date} value.
    """
    if route == HEALTH:
        content = b"ok\n"
        tail = b"Cache-Control: no-store\r\nContent-Type: " + PLAIN_TEXT
    elif route == ECHO:
        content = value
        tail = _ECHO_TAIL + b"Content-Type: " + PLAIN_TEXT
    else:
        content = body
        tail = _ECHO_TAIL + b"Content-Type: " + value
    head = b"".join(
        [
            b"HTTP/1.1 200 OK\r\nX-Content-Type-Options: nosniff\r\n",
            connectionHeaders,
            b"Server: ",
            serverVersion,
            b"\r\nDate: ",
            date,
            b"\r\n",
            tail,
            b"\r\nContent-Length: %d\r\n\r\n" % (len(content),),
        ]
    )
    return head, content


def http2Fields(head: bytes) -> list[tuple[bytes, bytes]]:
    """
    The HTTP/2 header list of a lean response, from its HTTP/1.1 head (what
    L{leanResponse} gives): C{:status}, then every header in the same
    order, its name lower-cased, as L{echohub.web._h2.H2Stream} sends
    twisted.web's.  One head, one source of the headers, for both
    protocols.
    """
    lines = head.split(b"\r\n")
    fields = [(b":status", lines[0].split(b" ", 2)[1])]
    for line in lines[1:-2]:
        name, _, value = line.partition(b": ")
        fields.append((name.lower(), value))
    return fields
