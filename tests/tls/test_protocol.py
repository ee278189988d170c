"""
Tests for L{echohub.tls._protocol}: half-close over TLS, the handshake timeout
and the logging of failed handshakes, in memory.
"""

from __future__ import annotations

from twisted.internet.address import IPv4Address
from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import IHalfCloseableProtocol
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.task import Clock
from twisted.internet.testing import EventLoggingObserver, StringTransport
from twisted.logger import globalLogPublisher
from twisted.protocols.tls import TLSMemoryBIOFactory
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer

from echohub.testing import (
    TLSClient,
    connectTLS,
    serverFactory,
    serverSettings,
    temporaryDirectory,
)
from echohub.tls._context import ReloadableServerContext
from echohub.tls._devcert import DevCertificates, ensureDevCertificates
from echohub.tls._protocol import FAILURE_LOG_INTERVAL

PEER = IPv4Address("TCP", "192.0.2.7", 40000)


def certificates(case: SynchronousTestCase) -> DevCertificates:
    """
    A development CA, server certificate and client certificate for one test.
    """
    return ensureDevCertificates(str(temporaryDirectory(case) / "certs"), ["alice"])


class Echo(Protocol):
    """
    Echo everything; record how the connection ended.
    """

    lost: Failure | None = None

    def dataReceived(self, data: bytes) -> None:
        self.transport.write(data)  # type: ignore[union-attr]

    def connectionLost(self, reason: Failure | None = None) -> None:
        self.lost = reason


@implementer(IHalfCloseableProtocol)
class HalfCloseEcho(Echo):
    """
    Echo everything and, once the peer's input ends, write a last word and
    close.
    """

    def readConnectionLost(self) -> None:
        self.transport.write(b"bye")  # type: ignore[union-attr]
        self.transport.loseConnection()  # type: ignore[union-attr]

    def writeConnectionLost(self) -> None:
        pass


class Sender(Protocol):
    """
    A client that sends its data and closes its side at once.
    """

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.received = b""
        self.lost: Failure | None = None

    def connectionMade(self) -> None:
        self.transport.write(self.data)  # type: ignore[union-attr]
        self.transport.loseConnection()  # type: ignore[union-attr]

    def dataReceived(self, data: bytes) -> None:
        self.received += data

    def connectionLost(self, reason: Failure | None = None) -> None:
        self.lost = reason


DATA = b"".join(b"line %d\n" % i for i in range(10000)) + b"partial"


class HalfCloseTests(SynchronousTestCase):
    """
    The peer's C{close_notify} ends only its direction.
    """

    def setUp(self) -> None:
        self.certs = certificates(self)
        self.clock = Clock()

    def exchange(self, server: TLSMemoryBIOFactory, app: Echo) -> Sender:
        client = Sender(DATA)
        connectTLS(server, TLSClient(self.certs), client, self.clock)[2].flush()  # type: ignore[arg-type]
        return client

    def test_closeNotifyIsHalfClose(self) -> None:
        """
        A half-closeable protocol gets C{readConnectionLost} after every byte
        the client sent; what it writes then reaches the client, followed by
        a clean close.
        """
        app = HalfCloseEcho()
        client = self.exchange(
            serverFactory(Factory.forProtocol(lambda: app), self.certs, self.clock), app
        )
        self.assertEqual(client.received, DATA + b"bye")
        assert client.lost is not None and app.lost is not None
        client.lost.trap(ConnectionDone)
        app.lost.trap(ConnectionDone)

    def test_stockTLSLosesTheLastWord(self) -> None:
        """
        The problem L{TLSServerProtocol} solves: over Twisted's own TLS
        server the same protocol is never told of the half-close, and its
        last word never arrives.
        """
        app = HalfCloseEcho()
        creator = ReloadableServerContext(serverSettings(self.certs))
        stock = TLSMemoryBIOFactory(
            creator, False, Factory.forProtocol(lambda: app), self.clock
        )
        client = self.exchange(stock, app)  # type: ignore[arg-type]
        self.assertNotIn(b"bye", client.received)

    def test_otherProtocolsCloseAfterTheirWrites(self) -> None:
        """
        A protocol that is not half-closeable is closed when the peer's
        input ends, but what it wrote before is still delivered.
        """
        app = Echo()
        client = self.exchange(
            serverFactory(Factory.forProtocol(lambda: app), self.certs, self.clock), app
        )
        self.assertEqual(client.received, DATA)
        assert app.lost is not None
        app.lost.trap(ConnectionDone)


class HandshakeTimeoutTests(SynchronousTestCase):
    """
    A handshake that does not finish in time is closed.
    """

    def setUp(self) -> None:
        self.certs = certificates(self)
        self.clock = Clock()
        self.log = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)

    def test_silentClientClosed(self) -> None:
        """
        A client that never sends a ClientHello is closed (FIN, not a
        reset) after the timeout, not before, with one log line naming it;
        one that does not take the close is aborted one timeout later.
        """
        factory = serverFactory(Factory.forProtocol(Echo), self.certs, self.clock, 10)
        protocol = factory.buildProtocol(PEER)
        transport = StringTransport(peerAddress=PEER)
        protocol.makeConnection(transport)
        self.clock.advance(9.9)
        self.assertFalse(transport.disconnecting)
        self.clock.advance(0.2)
        self.assertTrue(transport.disconnecting)
        self.assertFalse(transport.disconnected)
        [event] = self.log
        self.assertIn("192.0.2.7:40000", event["peer"])
        self.assertEqual(event["reason"], "timed out after 10 s")
        self.clock.advance(10)
        self.assertTrue(transport.disconnected)

    def test_partialHelloLoggedOnce(self) -> None:
        """
        A client that sent part of a ClientHello and then nothing is
        logged once, for the timeout, not again when the connection ends
        with the handshake unfinished.
        """
        factory = serverFactory(Factory.forProtocol(Echo), self.certs, self.clock, 10)
        protocol = factory.buildProtocol(PEER)
        transport = StringTransport(peerAddress=PEER)
        protocol.makeConnection(transport)
        protocol.dataReceived(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
        self.clock.advance(10)
        protocol.connectionLost(Failure(ConnectionDone()))
        self.assertEqual([e["reason"] for e in self.log], ["timed out after 10 s"])
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_finishedHandshakeStopsTimer(self) -> None:
        """
        Once the handshake is done, the timeout no longer applies and no
        call is left pending.
        """
        factory = serverFactory(Factory.forProtocol(Echo), self.certs, self.clock, 10)
        client = Sender(b"hello\n")
        client.connectionMade = lambda: client.transport.write(client.data)  # type: ignore
        _, _, pump = connectTLS(factory, TLSClient(self.certs), client, self.clock)
        pump.flush()
        self.assertEqual(self.clock.getDelayedCalls(), [])
        self.clock.advance(60)
        pump.flush()
        self.assertIsNone(client.lost)
        self.assertEqual(client.received, b"hello\n")

    def test_noTimeout(self) -> None:
        """
        A timeout of L{None} schedules nothing.
        """
        factory = serverFactory(Factory.forProtocol(Echo), self.certs, self.clock, None)
        factory.buildProtocol(PEER).makeConnection(StringTransport())
        self.assertEqual(self.clock.getDelayedCalls(), [])


class FailureLogTests(SynchronousTestCase):
    """
    Failed handshakes are logged once per kind and interval.
    """

    def setUp(self) -> None:
        self.certs = certificates(self)
        self.clock = Clock()
        self.log = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)
        self.factory = serverFactory(
            Factory.forProtocol(Echo), self.certs, self.clock, handshakeTimeout=None
        )

    def send(self, data: bytes) -> StringTransport:
        protocol = self.factory.buildProtocol(PEER)
        transport = StringTransport(peerAddress=PEER)
        protocol.makeConnection(transport)
        protocol.dataReceived(data)
        return transport

    def messages(self) -> list[str]:
        from twisted.logger import formatEvent

        return [formatEvent(e) for e in self.log]

    def test_plaintextNamedAndClosed(self) -> None:
        """
        An HTTP request sent to a TLS port closes the connection, with a
        line naming the peer and saying it was plaintext.
        """
        transport = self.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertTrue(transport.disconnecting)
        [message] = self.messages()
        self.assertIn("192.0.2.7:40000", message)
        self.assertIn("plaintext sent to a TLS port", message)

    def test_floodCostsOneLinePerInterval(self) -> None:
        """
        More plaintext within the interval is counted, not logged; the next
        line after it says how many were left out.
        """
        for _ in range(5):
            self.send(b"hello\n")
        self.assertEqual(len(self.messages()), 1)
        self.clock.advance(FAILURE_LOG_INTERVAL)
        self.send(b"hello\n")
        messages = self.messages()
        self.assertEqual(len(messages), 2)
        self.assertIn("4 more like this", messages[1])

    def test_probeNotLogged(self) -> None:
        """
        A connection that closes without sending a byte is not logged.
        """
        protocol = self.factory.buildProtocol(PEER)
        protocol.makeConnection(StringTransport(peerAddress=PEER))
        protocol.connectionLost(Failure(ConnectionDone()))
        self.assertEqual(self.messages(), [])
