"""
Tests for L{echohub._upstream._twisted}: each use of a private Twisted name
still does what echohub relies on.  These fail loudly when an upgrade
changes one: none of them may skip or fall back.
"""

from __future__ import annotations

import inspect
import socket
from typing import Any

from twisted.application.runner._runner import Runner
from twisted.application.twist._options import TwistOptions
from twisted.application.twist._twist import Twist
from twisted.internet import reactor
from twisted.internet.endpoints import quoteStringArgument
from twisted.internet.epollreactor import EPollReactor
from twisted.internet.interfaces import IHalfCloseableProtocol
from twisted.internet.main import CONNECTION_DONE
from twisted.internet.protocol import Factory, Protocol, connectionDone
from twisted.internet.task import Clock, deferLater
from twisted.internet.testing import MemoryReactorClock
from twisted.logger import ILogObserver
from twisted.protocols.tls import BufferingTLSTransport
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase, TestCase
from zope.interface import implementer

from echohub._upstream import _twisted as _upstream
from echohub.testing import TLSClient, connectTLS, serverFactory, temporaryDirectory
from echohub.tls import ensureDevCertificates


class EndpointTokensTests(SynchronousTestCase):
    """
    L{_upstream.endpointTokens} splits as L{serverFromString} does.
    """

    def test_tokens(self) -> None:
        """
        Positional arguments, options, and C{\\:} escapes.
        """
        self.assertEqual(
            _upstream.endpointTokens("tcp6:7007:interface=\\:\\:1:backlog=5"),
            (["tcp6", "7007"], {"interface": "::1", "backlog": "5"}),
        )

    def test_roundTrip(self) -> None:
        """
        A value quoted by the public L{quoteStringArgument} comes back whole.
        """
        value = "C:\\keys\\a:b=c"
        args, kwargs = _upstream.endpointTokens(
            f"ssl:1:privateKey={quoteStringArgument(value)}"
        )
        self.assertEqual((args, kwargs), (["ssl", "1"], {"privateKey": value}))


class _Capture(Factory):
    protocol = Protocol

    def __init__(self) -> None:
        self.connected: list[Protocol] = []

    def buildProtocol(self, addr: Any) -> Protocol:
        protocol = Protocol()
        self.connected.append(protocol)
        return protocol


class DirectSendableTests(TestCase):
    """
    L{_upstream.directSendable} reads Twisted's TCP connection correctly.
    """

    async def connection(self) -> Any:
        factory = _Capture()
        port = reactor.listenTCP(0, factory, interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        client = socket.create_connection(("127.0.0.1", port.getHost().port))
        self.addCleanup(client.close)
        for _ in range(5000):
            if factory.connected:
                break
            await deferLater(reactor, 0.001, lambda: None)
        transport = factory.connected[0].transport
        self.addCleanup(transport.abortConnection)
        return transport

    async def test_attributesPresent(self) -> None:
        """
        Twisted's TCP connection still has every attribute read, so the fast
        path is not silently off.
        """
        transport = await self.connection()
        missing = [n for n in _upstream._TCP_PRIVATE if not hasattr(transport, n)]
        self.assertEqual(missing, [])
        self.assertTrue(_upstream.directSendable(transport))

    async def test_queuedOrClosing(self) -> None:
        """
        Bytes queued by C{write} (in C{_tempData}, counted by
        C{_tempDataLen}) and a half-close make the connection not sendable.
        """
        transport = await self.connection()
        transport.write(b"queued")
        self.assertGreater(transport._tempDataLen, 0)
        self.assertFalse(_upstream.directSendable(transport))
        other = await self.connection()
        other.loseWriteConnection()
        self.assertTrue(other._writeDisconnecting or other._writeDisconnected)
        self.assertFalse(_upstream.directSendable(other))


@implementer(IHalfCloseableProtocol)
class _Reading(Protocol):
    """
    Records how its bytes came: through C{socketReadable} (the direct
    dispatch) or C{dataReceived} (Twisted's C{doRead}).
    """

    fail = False

    def __init__(self) -> None:
        self.direct: list[bytes] = []
        self.received: list[bytes] = []
        self.readLost = False
        self.lost: Failure | None = None

    def socketReadable(self) -> object:
        if self.fail:
            raise RuntimeError("reader bug")
        data = self.transport.socket.recv(65536)  # type: ignore[union-attr]
        if not data:
            return CONNECTION_DONE
        self.direct.append(data)
        return None

    def dataReceived(self, data: bytes) -> None:
        self.received.append(data)

    def readConnectionLost(self) -> None:
        self.readLost = True
        self.transport.loseConnection()  # type: ignore[union-attr]

    def writeConnectionLost(self) -> None:
        pass

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.lost = reason


class _Plain(_Reading):
    """
    The same protocol, given no direct reader.
    """


def _readerFor(kind: type) -> Any:
    return kind.socketReadable if kind is _Reading else None


class DirectDispatchTests(TestCase):
    """
    L{_upstream.installDirectDispatch} replaces Twisted's epoll loop with
    one that is the same but for the legacy log context and direct readers.
    """

    def test_doPollIsTheOneCopied(self) -> None:
        """
        Twisted's epoll reactor still has the members the loop uses and the
        C{doPoll} it copies (by the SHA-256 of its source): a Twisted
        release that changes it fails here, and at run time echohub keeps
        Twisted's own loop.
        """
        self.assertIsInstance(reactor, EPollReactor)
        self.assertIsNone(_upstream.directDispatchUnavailable(reactor))

    def test_otherReactorsUntouched(self) -> None:
        """
        Any other reactor keeps its own loop, and the reason is given.
        """
        other = MemoryReactorClock()
        self.assertIn(
            "MemoryReactorClock", _upstream.directDispatchUnavailable(other) or ""
        )
        self.assertIsNone(_upstream.installDirectDispatch(other, _readerFor))

    def install(self) -> None:
        restore = _upstream.installDirectDispatch(reactor, _readerFor)
        assert restore is not None
        self.addCleanup(restore)
        self.assertIn("doIteration", vars(reactor))

    async def connect(self, kind: type[_Reading]) -> tuple[_Reading, socket.socket]:
        factory = Factory.forProtocol(kind)
        connected: list[_Reading] = []

        def build(addr: Any) -> _Reading:
            protocol = kind()
            protocol.factory = factory
            connected.append(protocol)
            return protocol

        factory.buildProtocol = build  # type: ignore[method-assign]
        port = reactor.listenTCP(0, factory, interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        client = socket.create_connection(("127.0.0.1", port.getHost().port))
        self.addCleanup(client.close)
        await self.until(lambda: bool(connected))
        self.addCleanup(connected[0].transport.abortConnection)  # type: ignore[union-attr]
        return connected[0], client

    async def until(self, condition: Any) -> None:
        for _ in range(5000):
            if condition():
                return
            await deferLater(reactor, 0.001, lambda: None)
        self.fail("timed out")

    async def test_readsGoToTheReader(self) -> None:
        """
        A plain read event on a TCP connection whose protocol has a direct
        reader goes to the reader, not to C{doRead}; its EOF, returned as
        C{CONNECTION_DONE}, is a half-close, as from C{doRead}.
        """
        self.install()
        protocol, client = await self.connect(_Reading)
        client.sendall(b"hello")
        await self.until(lambda: protocol.direct)
        self.assertEqual((protocol.direct, protocol.received), ([b"hello"], []))
        client.shutdown(socket.SHUT_WR)
        await self.until(lambda: protocol.lost is not None)
        self.assertTrue(protocol.readLost)

    async def test_othersTakeTwistedsPath(self) -> None:
        """
        A protocol without a direct reader gets its bytes from C{doRead}.
        """
        self.install()
        protocol, client = await self.connect(_Plain)
        client.sendall(b"hello")
        await self.until(lambda: protocol.received)
        self.assertEqual((protocol.direct, protocol.received), ([], [b"hello"]))

    async def test_readerErrorLoggedAndDisconnects(self) -> None:
        """
        A reader that raises is logged, and its connection is lost with that
        error, as Twisted does for C{doRead}.
        """
        self.install()
        protocol, client = await self.connect(_Reading)
        protocol.fail = True
        client.sendall(b"boom")
        await self.until(lambda: protocol.lost is not None)
        assert protocol.lost is not None
        self.assertTrue(protocol.lost.check(RuntimeError))
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)

    def test_restore(self) -> None:
        """
        The function returned puts Twisted's own loop back.
        """
        restore = _upstream.installDirectDispatch(reactor, _readerFor)
        assert restore is not None
        restore()
        self.assertNotIn("doIteration", vars(reactor))
        self.assertEqual(reactor.doIteration, reactor.doPoll)


class TwistLogObserverTests(SynchronousTestCase):
    """
    twist still starts logging with C{twistOptions["fileLogObserverFactory"]}.
    """

    def test_twistOptionsHaveTheFactory(self) -> None:
        """
        twist's options fill in C{fileLogObserverFactory} (before the
        plugin's C{makeService} runs), and L{_upstream.useTwistLogObserver}
        replaces it.
        """
        options = TwistOptions()
        options.selectDefaultLogObserver()
        self.assertIn("fileLogObserverFactory", options)

        def factory(out: Any) -> ILogObserver:
            raise AssertionError("not called here")

        self.assertTrue(_upstream.useTwistLogObserver(options, factory))
        self.assertIs(options["fileLogObserverFactory"], factory)
        self.assertFalse(_upstream.useTwistLogObserver({}, factory))

    def test_twistRunsWithIt(self) -> None:
        """
        C{Twist.run} hands that entry to the L{Runner}, which builds its
        file observer from it, after the service was made (C{Twist.main}).
        """
        self.assertIn(
            'twistOptions["fileLogObserverFactory"]', inspect.getsource(Twist.run)
        )
        self.assertIn("fileLogObserverFactory", inspect.signature(Runner).parameters)
        main = inspect.getsource(Twist.main)
        self.assertLess(main.index("cls.service("), main.index("cls.run("))


class TLSProtocolHooksTests(SynchronousTestCase):
    """
    L{_upstream.TLSProtocolHooks} still sits on Twisted's private TLS steps
    and state.
    """

    def test_stepsExist(self) -> None:
        """
        Every private step it overrides or calls is still a method of
        Twisted's TLS protocol: if one were renamed, its hook would silently
        never run.
        """
        for name in (
            "_checkHandshakeStatus",
            "_flushReceiveBIO",
            "_flushSendBIO",
            "_shutdownTLS",
            "_tlsShutdownFinished",
        ):
            self.assertTrue(callable(getattr(BufferingTLSTransport, name)), name)

    def test_stateOverAHandshake(self) -> None:
        """
        Over a real handshake in memory, the state it reads exists and
        changes as it should: not done, then done; the clock is the
        factory's.
        """
        certs = ensureDevCertificates(str(temporaryDirectory(self) / "certs"))
        clock = Clock()
        factory = serverFactory(Factory.forProtocol(Protocol), certs, clock)
        _, server, pump = connectTLS(factory, TLSClient(certs), Protocol(), clock)
        assert isinstance(server, _upstream.TLSProtocolHooks)
        self.assertIs(server.tlsClock(), clock)
        self.assertFalse(server.handshakeDone)
        pump.flush()
        self.assertTrue(server.handshakeDone)
        self.assertEqual(
            (server.tlsLost, server.tlsAborted, server.sendPending),
            (False, False, False),
        )
        self.assertFalse(server.producerRegistered)


class _Collect(Protocol):
    def __init__(self) -> None:
        self.received = b""
        self.lost = False

    def dataReceived(self, data: bytes) -> None:
        self.received += data

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.lost = True


class TLSWriteBatchTests(SynchronousTestCase):
    """
    L{_upstream.TLSProtocolHooks} batches an application's writes and sends
    records through C{sendCiphertext}, over Twisted's private aggregator.
    """

    def setUp(self) -> None:
        certs = ensureDevCertificates(str(temporaryDirectory(self) / "certs"))
        self.clock = Clock()
        factory = serverFactory(Factory.forProtocol(Protocol), certs, self.clock)
        self.client = _Collect()
        _, self.server, self.pump = connectTLS(
            factory, TLSClient(certs), self.client, self.clock
        )
        self.pump.flush()

    def test_aggregatorStillThere(self) -> None:
        """
        Twisted's TLS transport still aggregates through C{_aggregator}, and
        the hooks took C{write} back from it.
        """
        assert isinstance(self.server, _upstream.TLSProtocolHooks)
        self.assertTrue(hasattr(self.server._aggregator, "flush"))
        self.assertNotIn("write", vars(self.server))

    def test_batchAfterAggregated(self) -> None:
        """
        A batch is encrypted after what the aggregator holds (one record
        each), at once: the order of writes is kept, and no reactor turn
        waits.
        """
        server: Any = self.server
        server.write(b"first ")
        server.batchWrites()
        server.write(b"second ")
        server.writeSequence([b"third", b"!"])
        sent: list[bytes] = []
        server.sendCiphertext = sent.append
        server.flushWrites()
        self.assertEqual(len(sent), 2)
        server.transport.write(b"".join(sent))
        self.pump.flush()
        self.assertEqual(self.client.received, b"first second third!")

    def test_loseConnectionFlushesTheBatch(self) -> None:
        """
        Closing inside a batch sends the batch first, then closes cleanly.
        """
        server: Any = self.server
        server.batchWrites()
        server.write(b"last words")
        server.loseConnection()
        self.pump.flush()
        self.assertEqual(self.client.received, b"last words")
        self.assertTrue(self.client.lost)
