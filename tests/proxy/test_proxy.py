"""
Tests for L{echohub.proxy}: PROXY v1/v2 headers before anything else.
"""

from __future__ import annotations

import socket
import struct

from twisted.internet.address import IPv4Address, IPv6Address, UNIXAddress
from twisted.internet.interfaces import IHalfCloseableProtocol
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.logger import Logger, formatEvent
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer

from echohub.ops._access import ServiceAccess
from echohub.ops._caps import ConnectionCaps
from echohub.ops._metrics import Metrics
from echohub.proxy import (
    InvalidProxyHeaderError,
    ProxyHeaderProtocol,
    ProxyWrappingFactory,
    parseHeader,
)

V1 = b"PROXY TCP4 203.0.113.7 192.0.2.1 40001 443\r\n"
V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"


def v2(
    source: str = "198.51.100.1",
    port: int = 5000,
    command: int = 1,
    family: int = 0x11,
    addresses: bytes | None = None,
    version: int = 2,
) -> bytes:
    """
    A PROXY v2 header, by default for TCP over IPv4 as C{send-proxy-v2}
    sends it; C{addresses} replaces the address block.
    """
    if addresses is None:
        addresses = socket.inet_aton(source) + socket.inet_aton("192.0.2.1")
        addresses += struct.pack("!HH", port, 443)
    return (
        V2_SIGNATURE
        + bytes([version << 4 | command, family])
        + struct.pack("!H", len(addresses))
        + addresses
    )


INET6_BLOCK = (
    socket.inet_pton(socket.AF_INET6, "2001:db8::7")
    + socket.inet_pton(socket.AF_INET6, "2001:db8::1")
    + struct.pack("!HH", 40001, 443)
)
UNIX_BLOCK = b"/run/client".ljust(108, b"\x00") + b"/run/echohub".ljust(108, b"\x00")

ACCEPTED: list[tuple[str, bytes, object]] = [
    ("v1 TCP4", V1, IPv4Address("TCP", "203.0.113.7", 40001)),
    (
        "v1 TCP6",
        b"PROXY TCP6 2001:db8::7 2001:db8::1 40001 443\r\n",
        IPv6Address("TCP", "2001:db8::7", 40001),
    ),
    (
        "v1 TCP6 spelt long is canonical (one key per client for the cap)",
        b"PROXY TCP6 2001:0DB8:0:0:0:0:0:7 2001:db8::1 40001 443\r\n",
        IPv6Address("TCP", "2001:db8::7", 40001),
    ),
    (
        "v1 ports 0 and 65535",
        b"PROXY TCP4 1.2.3.4 5.6.7.8 0 65535\r\n",
        IPv4Address("TCP", "1.2.3.4", 0),
    ),
    ("v1 bare UNKNOWN", b"PROXY UNKNOWN\r\n", None),
    (
        "v1 UNKNOWN with addresses (ignored, as the specification says)",
        b"PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n",
        None,
    ),
    ("v1 of 107 bytes", b"PROXY UNKNOWN " + b"x" * 91 + b"\r\n", None),
    ("v2 INET STREAM", v2(), IPv4Address("TCP", "198.51.100.1", 5000)),
    (
        "v2 INET6 STREAM",
        v2(family=0x21, addresses=INET6_BLOCK),
        IPv6Address("TCP", "2001:db8::7", 40001),
    ),
    (
        "v2 UNIX STREAM",
        v2(family=0x31, addresses=UNIX_BLOCK),
        UNIXAddress(b"/run/client"),
    ),
    (
        "v2 INET with TLVs after the addresses",
        v2(addresses=v2()[16:] + b"\x04\x00\x02ab"),
        IPv4Address("TCP", "198.51.100.1", 5000),
    ),
    ("v2 LOCAL (health check), address ignored", v2(command=0), None),
    ("v2 LOCAL over UNSPEC, empty", v2(command=0, family=0, addresses=b""), None),
    ("v2 LOCAL whatever the family", v2(command=0, family=0x12), None),
    ("v2 PROXY over UNSPEC (no address)", v2(family=0, addresses=b""), None),
]

REFUSED: list[tuple[str, bytes]] = [
    ("not PROXY at all", b"GET / HTTP/1.1\r\n"),
    ("v1 address 999.1.2.3", b"PROXY TCP4 999.1.2.3 192.0.2.1 40001 443\r\n"),
    ("v1 IPv4 leading zero", b"PROXY TCP4 01.2.3.4 192.0.2.1 40001 443\r\n"),
    ("v1 IPv4 short", b"PROXY TCP4 1.2.3 192.0.2.1 40001 443\r\n"),
    ("v1 IPv6 under TCP4", b"PROXY TCP4 ::1 ::1 40001 443\r\n"),
    ("v1 IPv4 under TCP6", b"PROXY TCP6 1.2.3.4 ::1 40001 443\r\n"),
    ("v1 IPv6 zone", b"PROXY TCP6 fe80::1%eth0 ::1 40001 443\r\n"),
    ("v1 port 70000", b"PROXY TCP4 1.2.3.4 5.6.7.8 70000 443\r\n"),
    ("v1 port 65536", b"PROXY TCP4 1.2.3.4 5.6.7.8 65536 443\r\n"),
    ("v1 port -1", b"PROXY TCP4 1.2.3.4 5.6.7.8 -1 443\r\n"),
    ("v1 port +80", b"PROXY TCP4 1.2.3.4 5.6.7.8 +80 443\r\n"),
    ("v1 port leading zero", b"PROXY TCP4 1.2.3.4 5.6.7.8 080 443\r\n"),
    ("v1 port hex", b"PROXY TCP4 1.2.3.4 5.6.7.8 0x50 443\r\n"),
    ("v1 port with junk", b"PROXY TCP4 1.2.3.4 5.6.7.8 80a 443\r\n"),
    ("v1 port non-ASCII digit", "PROXY TCP4 1.2.3.4 5.6.7.8 ٨٠ 443\r\n".encode()),
    ("v1 NUL in a field", b"PROXY TCP4 1.2.3.4\x00 5.6.7.8 80 443\r\n"),
    ("v1 NUL before CRLF arrives", b"PROXY TCP4 1.2\x00"),
    ("v1 tab for a space", b"PROXY TCP4\t1.2.3.4 5.6.7.8 80 443\r\n"),
    ("v1 two spaces", b"PROXY TCP4  1.2.3.4 5.6.7.8 80 443\r\n"),
    ("v1 trailing space", b"PROXY TCP4 1.2.3.4 5.6.7.8 80 443 \r\n"),
    ("v1 extra field", b"PROXY TCP4 1.2.3.4 5.6.7.8 80 443 x\r\n"),
    ("v1 missing field", b"PROXY TCP4 1.2.3.4 5.6.7.8 80\r\n"),
    ("v1 UNKNOWN with a control byte", b"PROXY UNKNOWN \x01\r\n"),
    ("v1 lower-case protocol", b"PROXY tcp4 1.2.3.4 5.6.7.8 80 443\r\n"),
    ("v1 UDP4", b"PROXY UDP4 1.2.3.4 5.6.7.8 80 443\r\n"),
    ("v1 bare LF", b"PROXY UNKNOWN\n"),
    ("v1 of 108 bytes", b"PROXY UNKNOWN " + b"x" * 92 + b"\r\n"),
    ("v1 without CRLF in 107 bytes", b"PROXY " + b"1" * 200),
    ("v1 non-ASCII", "PROXY TCP4 1.2.3.4 5.6.7.8 80 443é\r\n".encode()),
    ("v2 version 1", v2(version=1)),
    ("v2 version 3", v2(version=3)),
    ("v2 command 2", v2(command=2)),
    ("v2 UDP over INET on a stream listener", v2(family=0x12)),
    ("v2 UDP over INET6", v2(family=0x22, addresses=INET6_BLOCK)),
    ("v2 DGRAM over UNIX", v2(family=0x32, addresses=UNIX_BLOCK)),
    ("v2 PROXY over UNSPEC with DGRAM", v2(family=0x02, addresses=b"")),
    ("v2 INET with UNSPEC protocol", v2(family=0x10)),
    ("v2 unknown family 4", v2(family=0x41)),
    ("v2 unknown protocol 3", v2(family=0x13)),
    ("v2 INET length too short", v2(addresses=b"\x01\x02\x03\x04")),
    ("v2 INET6 length of INET", v2(family=0x21)),
]


class ParseHeaderTests(SynchronousTestCase):
    """
    L{parseHeader} accepts what the specification allows for a stream
    listener and nothing else, every field checked, and waits for more.
    """

    def test_accepted(self) -> None:
        """
        Each header of L{ACCEPTED} parses to its source address (L{None}
        when the header names none), with the bytes after it kept.
        """
        for name, header, source in ACCEPTED:
            parsed = parseHeader(header + b"after")
            assert parsed is not None, name
            self.assertEqual((parsed[0].source, parsed[1]), (source, b"after"), name)

    def test_refused(self) -> None:
        """
        Each header of L{REFUSED}, every attack the PROXY issue lists
        included, raises L{InvalidProxyHeaderError} with a reason.
        """
        for name, header in REFUSED:
            with self.assertRaises(InvalidProxyHeaderError, msg=name) as caught:
                parseHeader(header + b"after")
            self.assertTrue(str(caught.exception), name)

    def test_destination(self) -> None:
        """
        The destination is parsed as strictly as the source.
        """
        parsed = parseHeader(V1)
        assert parsed is not None
        self.assertEqual(parsed[0].destination, IPv4Address("TCP", "192.0.2.1", 443))

    def test_incomplete(self) -> None:
        """
        Any prefix of a valid header asks for more bytes.
        """
        for header in (V1, v2(), b"PROXY UNKNOWN\r\n"):
            for end in range(1, len(header)):
                self.assertIsNone(parseHeader(header[:end]), header[:end])


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
        self.assertEqual(self.clock.getDelayedCalls(), [])
        self.wrapper.connectionLost(None)  # type: ignore[arg-type]
        self.assertEqual((self.inner.peers, self.inner.lost), ([], False))

    def test_headerTimeout(self) -> None:
        """
        No header within the timeout: aborted and counted.
        """
        self.clock.advance(self.factory.headerTimeout)
        self.assertTrue(self.transport.disconnected)
        self.assertEqual(self.rejections(), 1)


class RefusalAndCapTests(SynchronousTestCase):
    """
    What a refused header costs, and what the per-host cap counts.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.events: list[dict[str, object]] = []
        self.inner = Factory.forProtocol(Recorder)
        self.access = ServiceAccess("line", ConnectionCaps(0, 1), self.clock)
        self.access.log = Logger(observer=self.events.append)
        self.access.warnings.log = self.access.log
        self.inner.access = self.access  # type: ignore[attr-defined]
        self.factory = ProxyWrappingFactory(self.inner, self.clock)

    def connect(self, header: bytes) -> tuple[ProxyHeaderProtocol, StringTransport]:
        transport = StringTransport(peerAddress=IPv4Address("TCP", "10.0.0.1", 9))
        wrapper = self.factory.buildProtocol(transport.getPeer())
        assert isinstance(wrapper, ProxyHeaderProtocol)
        wrapper.makeConnection(transport)
        wrapper.dataReceived(header)
        return wrapper, transport

    def test_refusalsAreOneLogLinePerInterval(self) -> None:
        """
        A flood of refused headers is one log line (naming the reason) per
        C{warning_interval}, each connection aborted.
        """
        transports = [self.connect(REFUSED[i][1])[1] for i in range(1, 6)]
        self.assertTrue(all(t.disconnected for t in transports))
        self.assertEqual(len(self.events), 1)
        self.assertIn("999.1.2.3", formatEvent(self.events[0]))

    def test_capKeysOnCanonicalAddress(self) -> None:
        """
        The per-host cap counts the header's validated address in canonical
        form: the same IPv6 client spelt two ways is one host.
        """
        first = b"PROXY TCP6 2001:db8::7 2001:db8::1 1 443\r\n"
        second = b"PROXY TCP6 2001:DB8:0::7 2001:db8::1 2 443\r\n"
        for header in (first, second):
            wrapper, _ = self.connect(header)
            self.access.admit(wrapper.getPeer(), "line")
        self.assertEqual(self.access.caps.openFrom("2001:db8::7"), 1)

    def test_writeHalfCloseKeepsReading(self) -> None:
        """
        Our write side shut under a protocol that is not half-closeable (an
        HTTP channel's lingering close) does not close the connection: it
        goes on reading.
        """
        self.inner.protocol = Protocol  # type: ignore[assignment]
        wrapper, transport = self.connect(V1)
        wrapper.writeConnectionLost()
        self.assertFalse(transport.disconnecting)
