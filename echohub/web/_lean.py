# -*- test-case-name: tests.web.test_lean -*-
"""
The echo site's lean routes (L{echohub.http.ILeanRoutes}): C{GET /echo?msg=...},
C{POST /echo} and C{GET /healthz}, answered by the channels themselves with
exactly the bytes the tree's L{echohub.web._tree.EchoResource} and
C{HealthResource} produce; C{tests/web/test_lean.py} compares both paths on
the same requests.

L{EchoLeanRoutes.match} takes a request only when nothing else could change
the response: no C{Connection} or C{Origin} header, and the exact path.  The
site registers the routes only without a CORS policy; the channels ask only
for requests within every limit on a connection that is not draining.
Anything else takes the full path.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from twisted.web.http import parse_qs
from zope.interface import implementer

from echohub.http import PLAIN_TEXT, ILeanRoute, ILeanRoutes
from echohub.web.httpbin import ECHO_HEADERS, echoContentType

_SPECIAL = re.compile(rb"[&;%+]")
"""
Bytes that make a query more than one plain C{name=value} argument.
"""

_ECHO_LINES = b"".join(name + b": " + value + b"\r\n" for name, value in ECHO_HEADERS)


@implementer(ILeanRoute)
class _EchoMessage:
    """
    C{GET /echo?msg=...}: the message, as plain text.
    """

    takesBody = False
    echoes = True

    def respond(self, value: bytes, body: bytes) -> tuple[bytes, bytes]:
        return _ECHO_LINES + b"Content-Type: " + PLAIN_TEXT + b"\r\n", value


@implementer(ILeanRoute)
class _EchoBody:
    """
    C{POST /echo}: the body, labelled as L{echoContentType} chooses (the
    value L{EchoLeanRoutes.match} gives).
    """

    takesBody = True
    echoes = True

    def respond(self, value: bytes, body: bytes) -> tuple[bytes, bytes]:
        return _ECHO_LINES + b"Content-Type: " + value + b"\r\n", body


@implementer(ILeanRoute)
class _Health:
    """
    C{GET /healthz} while serving: C{ok}.
    """

    takesBody = False
    echoes = False

    def respond(self, value: bytes, body: bytes) -> tuple[bytes, bytes]:
        return b"Cache-Control: no-store\r\nContent-Type: " + PLAIN_TEXT + b"\r\n", (
            b"ok\n"
        )


ECHO_MESSAGE = _EchoMessage()
ECHO_BODY = _EchoBody()
HEALTH = _Health()


@implementer(ILeanRoutes)
class EchoLeanRoutes:
    """
    The echo site's lean routes.
    """

    def match(
        self, method: bytes, target: bytes, headers: Sequence[tuple[bytes, bytes]]
    ) -> tuple[ILeanRoute, bytes] | None:
        """
        Which lean route answers this request, and with what: for
        C{GET /echo} the message, for C{POST /echo} the response's
        C{Content-Type}; L{None} for the full path.
        """
        path, mark, query = target.partition(b"?")
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
            return ECHO_BODY, echoContentType(contentType)
        if not mark:
            return None
        if query.startswith(b"msg=") and not _SPECIAL.search(query):
            # What parse_qs gives for one plain argument, without its work.
            return ECHO_MESSAGE, query[4:]
        # The parser twisted.web's Request uses for request.args.
        values = parse_qs(query, 1).get(b"msg")
        if not values:
            return None
        return ECHO_MESSAGE, values[0]
