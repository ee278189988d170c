"""
Tests for L{echohub.http._lean}: the wire's part of a lean answer.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase
from twisted.web.server import version as serverVersion
from zope.interface import implementer

from echohub.http import DateCache, ILeanRoute
from echohub.http._lean import http2Fields, leanResponse


@implementer(ILeanRoute)
class _Route:
    takesBody = True
    echoes = True

    def respond(self, value: bytes, body: bytes) -> tuple[bytes, bytes]:
        return b"Content-Type: " + value + b"\r\n", body


class LeanResponseTests(SynchronousTestCase):
    """
    L{leanResponse} puts the route's headers and content in the site's head;
    L{http2Fields} turns that head into an HTTP/2 header list.
    """

    def test_head(self) -> None:
        """
        Status line, C{nosniff}, the connection's headers, C{Server},
        C{Date}, the route's lines, C{Content-Length}, in that order.
        """
        head, content = leanResponse(
            _Route(), b"x/y", b"body", b"Strict-Transport-Security: max-age=1\r\n", b"D"
        )
        self.assertEqual(content, b"body")
        self.assertEqual(
            head,
            b"HTTP/1.1 200 OK\r\nX-Content-Type-Options: nosniff\r\n"
            b"Strict-Transport-Security: max-age=1\r\nServer: "
            + serverVersion
            + b"\r\nDate: D\r\nContent-Type: x/y\r\nContent-Length: 4\r\n\r\n",
        )

    def test_http2Fields(self) -> None:
        """
        C{:status} first, then every header in order, names lower-cased.
        """
        head, _ = leanResponse(_Route(), b"x/y", b"", b"", b"D")
        self.assertEqual(
            http2Fields(head),
            [
                (b":status", b"200"),
                (b"x-content-type-options", b"nosniff"),
                (b"server", serverVersion),
                (b"date", b"D"),
                (b"content-type", b"x/y"),
                (b"content-length", b"0"),
            ],
        )


class DateCacheTests(SynchronousTestCase):
    """
    L{DateCache} formats the date once per second.
    """

    def test_perSecond(self) -> None:
        """
        The same value within a second, a new one the next second.
        """
        now = [784111777.0]
        dates = DateCache(lambda: now[0])
        first = dates.value()
        self.assertEqual(first, b"Sun, 06 Nov 1994 08:49:37 GMT")
        now[0] += 0.9
        self.assertIs(dates.value(), first)
        now[0] += 0.2
        self.assertEqual(dates.value(), b"Sun, 06 Nov 1994 08:49:38 GMT")
