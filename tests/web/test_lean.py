# -*- test-case-name: tests.web.test_lean -*-
"""
Tests for L{echohub.web._lean}: the lean path answers C{/echo} and
C{/healthz} with exactly the bytes, access-log line and counters of the
full twisted.web path.
"""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet.address import IPv4Address
from twisted.internet.testing import (
    EventLoggingObserver,
    MemoryReactorClock,
    StringTransport,
)
from twisted.logger import globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase

from echohub.config import WebConfig
from echohub.testing import CLIENT_PEER, H2Client
from echohub.web import buildSite
from echohub.web._lean import ECHO_MESSAGE, EchoLeanRoutes


def answered(data: bytes, lean: bool, config: WebConfig | None = None) -> bytes:
    """
    What a new connection to a site, with or without the lean path, writes
    back for C{data}.
    """
    site = buildSite(config or WebConfig(), reactor=MemoryReactorClock())
    if not lean:
        site.lean = None
    channel = site.buildProtocol(IPv4Address("TCP", "127.0.0.1", 8080))
    transport = StringTransport(peerAddress=CLIENT_PEER)
    channel.makeConnection(transport)
    channel.dataReceived(data)
    return transport.value()


def withoutDates(data: bytes) -> bytes:
    """
    C{data} without its C{Date} header lines, which depend on the clock.
    """
    return re.sub(rb"\r\nDate: [^\r]*", b"", data)


class SameBytesTests(SynchronousTestCase):
    """
    Both paths give the same responses, header order included.
    """

    def assertSame(self, data: bytes, config: WebConfig | None = None) -> None:
        """
        Both paths write the same bytes for C{data}, but for the date.
        """
        lean = answered(data, True, config)
        self.assertTrue(lean)
        self.assertEqual(
            withoutDates(lean), withoutDates(answered(data, False, config))
        )

    @settings(max_examples=150, deadline=None)
    @given(query=st.binary(max_size=60))
    def test_getEcho(self, query: bytes) -> None:
        """
        C{GET /echo?<query>}, whatever the query (percent escapes, C{+},
        several C{msg}, none, bytes that are not UTF-8).
        """
        query = bytes(b for b in query if b > 32 and b not in b"# \x7f")
        self.assertSame(b"GET /echo?" + query + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertSame(b"GET /echo?msg=" + query + b" HTTP/1.1\r\nHost: x\r\n\r\n" * 2)

    @settings(max_examples=100, deadline=None)
    @given(
        body=st.binary(max_size=2000),
        contentType=st.sampled_from(
            [None, b"text/html", b"application/json", b"image/svg+xml", b"x/y"]
        ),
        chunked=st.booleans(),
    )
    def test_postEcho(
        self, body: bytes, contentType: bytes | None, chunked: bool
    ) -> None:
        """
        C{POST /echo} with any body, content type and framing.
        """
        head = b"POST /echo HTTP/1.1\r\nHost: x\r\n"
        if contentType is not None:
            head += b"Content-Type: " + contentType + b"\r\n"
        if chunked:
            data = head + b"Transfer-Encoding: chunked\r\n\r\n"
            if body:
                data += b"%x\r\n%s\r\n" % (len(body), body)
            data += b"0\r\n\r\n"
        else:
            data = head + b"Content-Length: %d\r\n\r\n" % (len(body),) + body
        self.assertSame(data + b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")

    def test_healthzAndLimits(self) -> None:
        """
        C{/healthz}, a chunked body over the limit (C{413}) and requests the
        lean path leaves to the full one (C{HEAD}, C{Origin}, C{Connection},
        HTTP/1.0) answer the same.
        """
        small = WebConfig(max_body=10)
        for data in [
            b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
            b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5\r\nabcde\r\n6\r\nfghijk\r\n0\r\n\r\n",
            b"HEAD /echo?msg=a HTTP/1.1\r\nHost: x\r\n\r\n",
            b"GET /echo?msg=a HTTP/1.1\r\nHost: x\r\nOrigin: http://o\r\n\r\n",
            b"GET /echo?msg=a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            b"GET /echo?msg=a HTTP/1.0\r\n\r\n",
        ]:
            self.assertSame(data, small)

    def test_hsts(self) -> None:
        """
        The connection's headers (HSTS over TLS) come where the full path
        puts them: covered by the same code, C{connectionHeaders}; over
        plain TCP there are none, which both paths agree on.
        """
        self.assertSame(
            b"GET /echo?msg=a HTTP/1.1\r\nHost: x\r\n\r\n",
            WebConfig(hsts="max-age=60"),
        )


class AccessLogTests(SynchronousTestCase):
    """
    The lean path logs and counts as the full path does.
    """

    def test_sameLine(self) -> None:
        """
        The same access-log line (the duration aside) for each route.
        """
        data = (
            b"GET /echo?msg=hi HTTP/1.1\r\nHost: x\r\n\r\n"
            b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
            b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        lines = []
        for lean in (True, False):
            observer = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)
            answered(data, lean)
            lines.append(
                [
                    {k: v for k, v in event.items() if k in ("log_text", "status")}
                    for event in observer
                    if str(event.get("log_text", "")).startswith("web access:")
                ]
            )
        self.assertEqual(len(lines[0]), 3)
        self.assertEqual(lines[0], lines[1])


class LeanRouteTests(SynchronousTestCase):
    """
    L{EchoLeanRoutes.match} takes only the requests whose answer it knows.
    """

    def test_routes(self) -> None:
        """
        C{GET /echo} with C{msg}, C{POST /echo} and C{GET /healthz} are
        taken; other paths, methods, no C{msg}, C{Origin} or C{Connection}
        are not.
        """
        match = EchoLeanRoutes().match
        self.assertEqual(match(b"GET", b"/echo?msg=a+b", []), (ECHO_MESSAGE, b"a b"))
        self.assertIsNotNone(match(b"POST", b"/echo", []))
        self.assertIsNotNone(match(b"GET", b"/healthz", []))
        for method, url, headers in [
            (b"GET", b"/echo", []),
            (b"GET", b"/echo?m=1", []),
            (b"PUT", b"/echo", []),
            (b"HEAD", b"/healthz", []),
            (b"GET", b"/echo/", []),
            (b"GET", b"/echo?msg=a", [(b"Origin", b"http://o")]),
            (b"GET", b"/healthz", [(b"connection", b"close")]),
        ]:
            self.assertIsNone(match(method, url, headers), (method, url))


class NoRequestTests(SynchronousTestCase):
    """
    The lean routes really bypass twisted.web.
    """

    def test_noRequestBuilt(self) -> None:
        """
        A site whose request factory fails still answers the lean routes.
        """
        site = buildSite(WebConfig(), reactor=MemoryReactorClock())

        def refuse(*args: object, **kwargs: object) -> None:
            raise AssertionError("a Request was built")

        site.requestFactory = refuse  # type: ignore[assignment]
        channel = site.buildProtocol(IPv4Address("TCP", "127.0.0.1", 8080))
        transport = StringTransport(peerAddress=CLIENT_PEER)
        channel.makeConnection(transport)
        channel.dataReceived(
            b"GET /echo?msg=hi HTTP/1.1\r\nHost: x\r\n\r\n"
            b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nyo"
            b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        self.assertEqual(transport.value().count(b"HTTP/1.1 200 OK"), 3)


def answeredOverHTTP2(
    path: bytes, lean: bool, headers: tuple[tuple[bytes, bytes], ...] = ()
) -> tuple[list[tuple[bytes, bytes]], bytes, bool]:
    """
    The header list (without C{date}), body and end of the response to a
    bodiless HTTP/2 request, with or without the lean path.
    """
    client = H2Client(WebConfig())
    if not lean:
        client.site.lean = None
    response = client.get(path, headers=headers)
    fields = [(n, v) for n, v in response.headers if n != b"date"]
    return fields, response.body, response.ended


class SameOverHTTP2Tests(SynchronousTestCase):
    """
    Over HTTP/2 the lean path gives the header list and body of the full
    path, and its log line and counters.
    """

    @settings(max_examples=100, deadline=None)
    @given(query=st.binary(max_size=60))
    def test_getEcho(self, query: bytes) -> None:
        """
        C{GET /echo?<query>}, whatever the query.
        """
        query = bytes(b for b in query if b > 32 and b not in b"# \x7f")
        path = b"/echo?" + query
        lean = answeredOverHTTP2(path, True)
        self.assertEqual(lean, answeredOverHTTP2(path, False))
        self.assertTrue(lean[2])

    def test_healthzAndOthers(self) -> None:
        """
        C{/healthz}, and requests left to the full path (C{HEAD}, an
        C{Origin}) answer the same.
        """
        for path, headers in [
            (b"/healthz", ()),
            (b"/echo?msg=a", ((b"origin", b"http://o"),)),
            (b"/echo", ()),
        ]:
            self.assertEqual(
                answeredOverHTTP2(path, True, headers),
                answeredOverHTTP2(path, False, headers),
            )

    def test_answeredWithoutARequest(self) -> None:
        """
        The lean answer makes no twisted.web request, and logs and counts
        as the full path does.
        """
        observer = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)
        client = H2Client(WebConfig())
        made: list[object] = []
        factory = client.site.requestFactory
        client.site.requestFactory = lambda *a, **k: made.append(1) or factory(*a, **k)
        self.assertEqual(client.get(b"/echo?msg=hi").body, b"hi")
        self.assertEqual(made, [])
        [line] = [e for e in observer if e.get("status") == 200]
        self.assertEqual((line["method"], line["path"]), ("GET", "/echo?msg=hi"))
