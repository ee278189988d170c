"""
Tests for L{echohub.ops._proxy}: PROXY v1/v2 headers before anything else.
"""

from __future__ import annotations

import socket
import struct

from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.interfaces import IHalfCloseableProtocol
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.protocols.haproxy._exceptions import InvalidProxyHeader
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer

from echohub.ops._access import ServiceAccess
from echohub.ops._caps import ConnectionCaps
from echohub.ops._metrics import Metrics
from echohub.ops._proxy import ProxyWrappingFactory, parseHeader

V1 = b"PROXY TCP4 203.0.113.7 192.0.2.1 40001 443\r\n"


def v2(source: str, port: int, command: int = 1) -> bytes:
    """
    A PROXY v2 header for TCP over IPv4, as C{send-proxy-v2} sends it.
    """
    addresses = socket.inet_aton(source) + socket.inet_aton("192.0.2.1")
    addresses += struct.pack("!HH", port, 443)
    return (
        b"\r\n\r\n\x00\r\nQUIT\n"
        + bytes([0x20 | command, 0x11])
        + struct.pack("!H", len(addresses))
        + addresses
    )


class ParseHeaderTests(SynchronousTestCase):
    """
    L{parseHeader} reads v1 and v2, waits for more, refuses garbage.
    """

    def test_v1(self) -> None:
        info, rest = parseHeader(V1 + b"hello\n") or (None, b"")
        assert info is not None
        self.assertEqual(info.source, IPv4Address("TCP", "203.0.113.7", 40001))
        self.assertEqual(rest, b"hello\n")

    def test_v2(self) -> None:
        info, rest = parseHeader(v2("198.51.100.1", 5000) + b"\x16\x03") or (None, b"")
        assert info is not None
        self.assertEqual(info.source, IPv4Address("TCP", "198.51.100.1", 5000))
        self.assertEqual(rest, b"\x16\x03")

    def test_incomplete(self) -> None:
        """
        Any prefix of a valid header asks for more bytes.
        """
        for header in (V1, v2("198.51.100.1", 5000)):
            for end in range(1, len(header)):
                self.assertIsNone(parseHeader(header[:end]), header[:end])

    def test_garbage(self) -> None:
        for data in (
            b"GET / HTTP/1.1\r\n",
            b"PROXY TCP4 x y z w\r\n",
            b"PROXY " + b"1" * 200,
        ):
            self.assertRaises(InvalidProxyHeader, parseHeader, data)


@implementer(IHalfCloseableProtocol)
class Recorder(Protocol):
    """
    Record what the wrapper tells the wrapped protocol.
    """

    def __init__(self) -> None:
        self.peers: list[object] = []
        self.data = b""
        self.halfClosed = False
        self.lost = False

    def connectionMade(self) -> None:
        self.peers.append(self.transport.getPeer())  # type: ignore[union-attr]

    def dataReceived(self, data: bytes) -> None:
        self.data += data

    def readConnectionLost(self) -> None:
        self.halfClosed = True

    def writeConnectionLost(self) -> None:
        pass

    def connectionLost(self, reason: object = None) -> None:
        self.lost = True


class WrapperTests(SynchronousTestCase):
    """
    L{ProxyHeaderProtocol} connects the wrapped protocol once the header is
    parsed, with the header's addresses.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.metrics = Metrics(processStats=False)
        inner = Factory.forProtocol(Recorder)
        inner.access = ServiceAccess(  # type: ignore[attr-defined]
            "line", ConnectionCaps(0, 0), self.clock, self.metrics
        )
        self.factory = ProxyWrappingFactory(inner, self.clock)
        self.transport = StringTransport(peerAddress=IPv6Address("TCP", "::1", 9))
        self.wrapper = self.factory.buildProtocol(self.transport.getPeer())
        self.wrapper.makeConnection(self.transport)
        self.inner: Recorder = self.wrapper.wrappedProtocol  # type: ignore[assignment]

    def rejections(self) -> float:
        value = self.metrics.registry.get_sample_value(
            "echohub_rejections_total", {"service": "line", "reason": "proxy"}
        )
        return value or 0.0

    def test_connectedAfterHeader(self) -> None:
        """
        The wrapped protocol sees nothing until the whole header, split over
        reads, has arrived; then its peer is the real client and it gets
        the bytes after the header.
        """
        self.wrapper.dataReceived(V1[:10])
        self.assertEqual(self.inner.peers, [])
        self.wrapper.dataReceived(V1[10:] + b"line\n")
        self.assertEqual(self.inner.peers, [IPv4Address("TCP", "203.0.113.7", 40001)])
        self.assertEqual(self.inner.data, b"line\n")
        self.wrapper.dataReceived(b"more")
        self.assertEqual(self.inner.data, b"line\nmore")
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_localCommandKeepsOwnAddress(self) -> None:
        """
        A v2 LOCAL header (HAProxy's health checks) names no client: the
        connection's own peer is used.
        """
        self.wrapper.dataReceived(v2("198.51.100.1", 1, command=0))
        self.assertEqual(self.inner.peers, [IPv6Address("TCP", "::1", 9)])

    def test_halfCloseForwarded(self) -> None:
        """
        The wrapper is half-closeable and forwards the client's EOF, so the
        line protocol can still send its last echoes.
        """
        self.assertTrue(IHalfCloseableProtocol.providedBy(self.wrapper))
        self.wrapper.dataReceived(V1)
        self.wrapper.readConnectionLost()
        self.assertTrue(self.inner.halfClosed)
        self.assertFalse(self.transport.disconnecting)

    def test_invalidHeaderAborts(self) -> None:
        """
        A connection that does not start with a header is aborted, counted
        as a C{proxy} rejection, and the wrapped protocol never hears of it.
        """
        self.wrapper.dataReceived(b"GET / HTTP/1.1\r\n\r\n")
        self.assertTrue(self.transport.disconnected)
        self.assertEqual(self.rejections(), 1)
        self.wrapper.connectionLost(None)  # type: ignore[arg-type]
        self.assertEqual((self.inner.peers, self.inner.lost), ([], False))

    def test_headerTimeout(self) -> None:
        """
        No header within the timeout: aborted and counted.
        """
        self.clock.advance(self.factory.headerTimeout)
        self.assertTrue(self.transport.disconnected)
        self.assertEqual(self.rejections(), 1)
