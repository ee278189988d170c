"""
Tests for L{echohub.line._bytes} (the RFC 862 byte echo) and the connection
life it shares with the line echo (L{echohub.line._base}), in memory.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import generate_latest
from twisted.internet.address import IPv4Address
from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import IHalfCloseableProtocol
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.logger import globalLogPublisher
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from echohub.config import EchoConfig
from echohub.line._base import DRAIN_GRACE
from echohub.line._bytes import ByteEcho, ByteEchoFactory
from echohub.ops import (
    RECEIVE_BUFFER,
    ConnectionCaps,
    ConnectionRegistry,
    IDirectReader,
    Metrics,
    ServiceAccess,
)
from echohub.testing import DirectReadTransport

PEER = IPv4Address("TCP", "192.0.2.7", 40000)


def connect(
    config: EchoConfig | None = None,
    access: ServiceAccess | None = None,
    clock: Clock | None = None,
    transport: StringTransport | None = None,
) -> tuple[ByteEcho, StringTransport, Clock, ConnectionRegistry]:
    """
    Connect a L{ByteEcho} built by its factory to a L{StringTransport} (or
    C{transport}), with its timeouts on a L{Clock}.
    """
    clock = clock or Clock()
    registry = ConnectionRegistry()
    factory = ByteEchoFactory(
        config or EchoConfig(), clock, registry, access, "tcp:7008"
    )
    protocol = factory.buildProtocol(PEER)
    if transport is None:
        transport = StringTransport(peerAddress=PEER)
    if isinstance(transport, DirectReadTransport):
        transport.protocol = protocol
    protocol.makeConnection(transport)
    return protocol, transport, clock, registry


class ByteEchoTests(SynchronousTestCase):
    """
    L{ByteEcho} echoes every byte as it arrives, with the line echo's
    connection guarantees.
    """

    def test_bytesEchoedAsTheyArrive(self) -> None:
        """
        Each read comes back at once, whole, with no newline needed: binary
        data, NUL and lone carriage returns included.
        """
        protocol, transport, _, _ = connect()
        protocol.dataReceived(b"\x00\xff\r no newline")
        self.assertEqual(transport.value(), b"\x00\xff\r no newline")
        protocol.dataReceived(b"\n")
        self.assertEqual(transport.value(), b"\x00\xff\r no newline\n")

    def test_directReadEchoesFromTheBuffer(self) -> None:
        """
        Under direct dispatch the byte echo reads its socket itself and
        writes each read back from the shared buffer; a copy is made of
        what the transport has to queue, as the buffer is reused.
        """
        self.assertTrue(IDirectReader.implementedBy(ByteEcho))
        transport = DirectReadTransport(peerAddress=PEER)
        protocol, _, _, _ = connect(transport=transport)
        transport.deliver(b"\x00first")
        RECEIVE_BUFFER[:6] = b"XXXXXX"
        protocol.dataReceived(b" second")
        transport.deliver(b" third")
        self.assertEqual(transport.value(), b"\x00first second third")
        self.assertEqual((protocol.bytesIn, protocol.bytesOut), (19, 19))

    @settings(max_examples=100, deadline=None)
    @given(
        data=st.binary(max_size=4000),
        cuts=st.lists(st.integers(min_value=0, max_value=4000), max_size=30),
    )
    def test_anySegmentationEchoesEveryByte(self, data: bytes, cuts: list[int]) -> None:
        """
        However the stream is split into reads, the echo is exactly the
        bytes received, in order, and the half-close then closes.
        """
        protocol, transport, _, _ = connect()
        edges = sorted({0, len(data), *(c for c in cuts if c <= len(data))})
        for start, end in zip(edges, edges[1:], strict=False):
            protocol.dataReceived(data[start:end])
        protocol.readConnectionLost()
        self.assertEqual(transport.value(), data)
        self.assertTrue(transport.disconnecting)

    def test_halfCloseClosesAfterTheEcho(self) -> None:
        """
        The byte echo is half-closeable: the client's FIN closes the
        connection once everything received is written (nothing is held
        back, so nothing more is sent).
        """
        protocol, transport, _, _ = connect()
        self.assertTrue(IHalfCloseableProtocol.providedBy(protocol))
        protocol.dataReceived(b"last bytes")
        protocol.readConnectionLost()
        self.assertEqual(transport.value(), b"last bytes")
        self.assertTrue(transport.disconnecting)

    def test_transportIsItsOwnStreamingProducer(self) -> None:
        """
        Backpressure as for the line echo: the transport produces for
        itself while open and is unregistered before it is closed.
        """
        protocol, transport, _, _ = connect()
        self.assertIs(transport.producer, transport)
        self.assertTrue(transport.streaming)
        protocol.readConnectionLost()
        self.assertIsNone(transport.producer)

    def test_inputIgnoredWhileClosing(self) -> None:
        """
        Once the connection is closing nothing more is echoed.
        """
        protocol, transport, _, _ = connect()
        protocol.readConnectionLost()
        protocol.dataReceived(b"late")
        self.assertEqual(transport.value(), b"")

    def test_idleTimeout(self) -> None:
        """
        A connection without input for C{idle_timeout} seconds is closed;
        input restarts the timer.
        """
        protocol, transport, clock, _ = connect(EchoConfig(idle_timeout=10))
        clock.advance(9)
        protocol.dataReceived(b"x")
        clock.advance(9)
        self.assertFalse(transport.disconnecting)
        clock.advance(1)
        self.assertTrue(transport.disconnecting)

    def test_closeTimeoutAborts(self) -> None:
        """
        A closing connection whose peer does not read is aborted after
        C{close_timeout} seconds.
        """
        protocol, transport, clock, _ = connect(EchoConfig(close_timeout=3))
        protocol.readConnectionLost()
        clock.advance(2.9)
        self.assertFalse(transport.disconnected)
        clock.advance(0.1)
        self.assertTrue(transport.disconnected)

    def test_drainKeepsEchoingThenCloses(self) -> None:
        """
        A draining connection echoes for L{DRAIN_GRACE} seconds, then closes,
        and leaves the registry once lost.
        """
        protocol, transport, clock, registry = connect()
        self.assertEqual(len(registry), 1)
        protocol.drain()
        protocol.dataReceived(b"in flight")
        self.assertFalse(transport.disconnecting)
        clock.advance(DRAIN_GRACE)
        self.assertEqual(transport.value(), b"in flight")
        self.assertTrue(transport.disconnecting)
        protocol.connectionLost(Failure(ConnectionDone()))
        self.assertEqual(len(registry), 0)
        self.assertEqual(clock.getDelayedCalls(), [])


class ByteEchoAccessTests(SynchronousTestCase):
    """
    The byte echo's caps, metrics and access log are its own service's.
    """

    def setUp(self) -> None:
        self.events: list[dict[str, object]] = []
        globalLogPublisher.addObserver(self.events.append)
        self.addCleanup(globalLogPublisher.removeObserver, self.events.append)
        self.clock = Clock()
        self.metrics = Metrics(processStats=False)

    def access(self, perPeer: int = 0) -> ServiceAccess:
        return ServiceAccess(
            "echo", ConnectionCaps(0, perPeer), self.clock, self.metrics
        )

    def sample(self, name: str, **labels: str) -> float:
        return self.metrics.registry.get_sample_value(name, labels) or 0.0

    def test_countedAndLogged(self) -> None:
        """
        Bytes in and out count under C{service="echo"}, and the close writes
        one access line with the peer, the bytes and the reason.
        """
        protocol, _, clock, _ = connect(access=self.access(), clock=self.clock)
        protocol.dataReceived(b"12345")
        protocol.dataReceived(b"678")
        clock.advance(1.5)
        protocol.readConnectionLost()
        protocol.connectionLost(Failure(ConnectionDone()))
        self.assertEqual(self.sample("echohub_received_bytes_total", service="echo"), 8)
        self.assertEqual(self.sample("echohub_sent_bytes_total", service="echo"), 8)
        labels = {"service": "echo", "listener": "tcp:7008"}
        self.assertEqual(self.sample("echohub_connections_total", **labels), 1)
        self.assertEqual(self.sample("echohub_connections_open", **labels), 0)
        [event] = [e for e in self.events if e.get("service") == "echo"]
        self.assertEqual(
            (event["peer"], event["bytes_in"], event["bytes_out"], event["duration"]),
            ("192.0.2.7:40000", 8, 8, 1.5),
        )
        self.assertEqual(event["reason"], "client closed")

    def test_refusedClientGetsNoBytes(self) -> None:
        """
        A client over the per-peer cap is closed without a byte (an echo
        sends nothing it did not receive), counted as a C{peer_cap}
        rejection.
        """
        access = self.access(perPeer=1)
        connect(access=access, clock=self.clock)
        _, transport, _, _ = connect(access=access, clock=self.clock)
        self.assertEqual(transport.value(), b"")
        self.assertTrue(transport.disconnecting)
        self.assertIn(
            b'echohub_rejections_total{reason="peer_cap",service="echo"} 1.0',
            generate_latest(self.metrics.registry),
        )

    def test_defaultAccessUsesConfigCaps(self) -> None:
        """
        Without an access object, the factory caps by its own settings.
        """
        config = EchoConfig(max_connections_per_peer=1)
        factory = ByteEchoFactory(config, self.clock)
        self.assertEqual(factory.access.service, "echo")
        self.assertEqual(factory.listener, "echo")
        first = factory.buildProtocol(PEER)
        first.makeConnection(StringTransport(peerAddress=PEER))
        second = factory.buildProtocol(PEER)
        transport = StringTransport(peerAddress=PEER)
        second.makeConnection(transport)
        self.assertTrue(transport.disconnecting)
