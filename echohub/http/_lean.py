# -*- test-case-name: tests.http.test_lean -*-
"""
The lean path: requests the wire answers itself, without a twisted.web
L{Request}, the resource tree or Twisted's header objects.

Measured (issue 11), building a L{Request} costs more than parsing: a
channel that answers the hottest routes directly is what makes echohub as
fast as aiohttp.  The wire knows no route, though: the site registers an
L{ILeanRoutes} (the echo site's are C{/echo} and C{/healthz},
L{echohub.web._lean}) and the channels ask it about each request that
passed every limit.  The route gives its own header lines and content; the
wire adds what every response of the site carries, in the order the full
path writes them (status line, C{X-Content-Type-Options}, the connection's
headers, C{Server}, C{Date}, then the route's, then C{Content-Length}), so
that the bytes are those the resource tree would have produced.  Over
HTTP/2 the same head becomes the header list (L{http2Fields}): one head, one
source of the headers, for both protocols.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from twisted.web import http
from twisted.web.server import version as serverVersion

from echohub.http._interfaces import ILeanRoute


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


def leanResponse(
    route: ILeanRoute,
    value: bytes,
    body: bytes,
    connectionHeaders: bytes,
    date: bytes,
) -> tuple[bytes, bytes]:
    """
    The HTTP/1.1 response head and the content of a lean answer.

    @param value: what L{ILeanRoutes.match} gave with C{route}.
    @param body: the request body.
    @param connectionHeaders: the connection's header lines (HSTS), each
        with its CRLF.
    @param date: the C{Date} value.
    """
    lines, content = route.respond(value, body)
    head = b"".join(
        [
            b"HTTP/1.1 200 OK\r\nX-Content-Type-Options: nosniff\r\n",
            connectionHeaders,
            b"Server: ",
            serverVersion,
            b"\r\nDate: ",
            date,
            b"\r\n",
            lines,
            b"Content-Length: %d\r\n\r\n" % (len(content),),
        ]
    )
    return head, content


def http2Fields(head: bytes) -> list[tuple[bytes, bytes]]:
    """
    The HTTP/2 header list of a lean response, from its HTTP/1.1 head (what
    L{leanResponse} gives): C{:status}, then every header in the same
    order, its name lower-cased, as the HTTP/2 stream sends twisted.web's.
    """
    lines = head.split(b"\r\n")
    fields = [(b":status", lines[0].split(b" ", 2)[1])]
    for line in lines[1:-2]:
        name, _, value = line.partition(b": ")
        fields.append((name.lower(), value))
    return fields
