# -*- test-case-name: tests.websocket.test_handshake -*-
"""
Tests for L{echohub.websocket._handshake}: the opening handshake's checks
and the Origin policy, through the real site over an in-memory transport.
"""

from __future__ import annotations

from twisted.internet.testing import (
    EventLoggingObserver,
    MemoryReactorClock,
    StringTransport,
)
from twisted.logger import globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase

from echohub.config import WebConfig, WebSocketConfig
from echohub.testing import (
    connect,
    exchange,
    parseResponses,
)
from echohub.web import buildSite
from echohub.websocket import acceptKey
from tests.websocket.support import (
    TEXT,
    Connection,
    frame,
    frames,
    handshake,
    upgrade,
)


class OriginTests(SynchronousTestCase):
    """
    Only the page's own origin, configured origins and non-browser clients
    may open a WebSocket.
    """

    def test_allowed(self) -> None:
        """
        No Origin, the same origin (default port or not) and listed origins
        are accepted.
        """
        self.assertEqual(Connection().status, 101)
        self.assertEqual(Connection(origin=b"http://echo.test").status, 101)
        self.assertEqual(Connection(origin=b"http://ECHO.test:80").status, 101)
        listed = WebSocketConfig(allowed_origins=("https://app.example",))
        self.assertEqual(Connection(listed, origin=b"https://app.example").status, 101)
        anyOrigin = WebSocketConfig(allowed_origins=("*",))
        self.assertEqual(Connection(anyOrigin, origin=b"https://x.example").status, 101)

    def test_refused(self) -> None:
        """
        Another origin, another scheme or port of this host, and C{null} get
        a plain-text C{403}.
        """
        for origin in [
            b"https://evil.example",
            b"https://echo.test",
            b"http://echo.test:81",
            b"null",
        ]:
            self.assertEqual(Connection(origin=origin).status, 403, origin)

    def test_notAnUpgrade(self) -> None:
        """
        A plain GET is a C{426} and other methods a C{405}, in plain text.
        """
        clock = MemoryReactorClock()
        site = buildSite(WebConfig(), clock)
        for request, status in [
            (b"GET /ws HTTP/1.1\r\nHost: x\r\n\r\n", 426),
            (b"POST /ws HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 405),
        ]:
            channel = site.buildProtocol(None)
            transport = StringTransport()
            channel.makeConnection(transport)
            channel.dataReceived(request)
            [response] = parseResponses(transport.value())
            self.assertEqual(response.status, status)
            self.assertEqual(
                response.header(b"Content-Type"), b"text/plain; charset=utf-8"
            )


class HandshakeValidationTests(SynchronousTestCase):
    """
    RFC 6455 section 4.2.1 and 4.4, at info level.
    """

    def setUp(self) -> None:
        self.observer = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)

    def status(self, data: bytes) -> int:
        [response] = exchange(data)
        return response.status

    def assertNoErrorLogged(self) -> None:
        levels = {e["log_level"].name for e in self.observer}
        self.assertNotIn("error", levels)
        self.assertNotIn("critical", levels)

    def test_badKeys(self) -> None:
        """
        A key that is not the base64 of exactly 16 bytes, or more than one
        key, or none, gets C{400}.
        """
        for key in (
            b"abc",
            b"dGhlIHNhbXBsZSBub25jZQ",  # unpadded
            b"dGhlIHNhbXBsZSBub25jZR==",  # non-zero padding bits
            b"dGhlIHNhbXBsZSBub25jZQ==dGhl",  # 19 bytes
            b"dGhlIHNhbXBsZSBub25j",  # 15 bytes
            b"dGhlIHNhbXBsZSBub25jZQ!=",
            b"dGhlIHNhbX BsZSBub25jZQ=",
        ):
            with self.subTest(key=key):
                self.assertEqual(self.status(upgrade((b"Sec-WebSocket-Key", key))), 400)
        self.assertEqual(self.status(upgrade((b"Sec-WebSocket-Key", None))), 400)
        twice = upgrade((b"+Sec-WebSocket-Key", b"dGhlIHNhbXBsZSBub25jZQ=="))
        self.assertEqual(self.status(twice), 400)
        self.assertNoErrorLogged()

    def test_goodKey(self) -> None:
        """
        RFC 6455's own sample key is accepted.
        """
        self.assertEqual(Connection().status, 101)

    def test_otherVersions(self) -> None:
        """
        A version other than 13 (or none) gets C{426} naming version 13.
        """
        for version in (b"8", b"12", b"14", b"13, 8", b"013", None):
            with self.subTest(version=version):
                [response] = exchange(upgrade((b"Sec-WebSocket-Version", version)))
                self.assertEqual(response.status, 426)
                self.assertEqual(response.header(b"Sec-WebSocket-Version"), b"13")
        self.assertNoErrorLogged()
        refusals = [e for e in self.observer if "handshake" in e["log_format"]]
        self.assertEqual({e["log_level"].name for e in refusals}, {"info"})

    def test_notUpgradeConnection(self) -> None:
        """
        Without C{Connection: Upgrade}, or over HTTP/1.0, C{400}.
        """
        self.assertEqual(self.status(upgrade((b"Connection", b"keep-alive"))), 400)
        self.assertEqual(
            self.status(upgrade((b"Connection", b"keep-alive, Upgrade"))), 101
        )
        channel, transport, _ = connect()
        channel.dataReceived(upgrade(version=b"HTTP/1.0"))
        self.assertTrue(transport.value().startswith(b"HTTP/1.0 400 "))
        self.assertNoErrorLogged()


class AcceptTests(SynchronousTestCase):
    """
    The C{101} proves the handshake was read (RFC 6455 section 4.2.2).
    """

    def test_acceptKey(self) -> None:
        """
        The accept value of RFC 6455's own example, in the C{101}.
        """
        self.assertEqual(
            acceptKey(b"dGhlIHNhbXBsZSBub25jZQ=="), b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        )
        channel, transport, _ = connect()
        channel.dataReceived(handshake())
        self.assertIn(
            b"\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n",
            transport.value(),
        )


class HandshakeBodyTests(SynchronousTestCase):
    """
    A handshake with a body: the body is the request's, not WebSocket
    frames (only what follows it is).
    """

    def test_bodyIsNotFrames(self) -> None:
        """
        A C{GET /ws} with C{Content-Length: 5}: its 5 bytes are read as its
        body, the frame after them is the session's first, echoed.
        """
        head = handshake().replace(b"\r\n\r\n", b"\r\nContent-Length: 5\r\n\r\n")
        channel, transport, _ = connect(WebConfig())
        channel.dataReceived(head + b"\x81\x85ABC" + frame(TEXT, b"hi"))
        status, _, rest = transport.value().partition(b"\r\n\r\n")
        self.assertTrue(status.startswith(b"HTTP/1.1 101 "))
        self.assertEqual(frames(rest), [(TEXT, b"hi")])
