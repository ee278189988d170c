"""
Tests for L{echohub._upstream}: each use of a private Twisted or pyOpenSSL
name still does what echohub relies on.  These fail loudly when an upgrade
changes one: none of them may skip or fall back.
"""

from __future__ import annotations

import inspect
import socket
from typing import Any

from h2.config import H2Configuration
from h2.connection import H2Connection
from h2.events import RequestReceived
from h2.exceptions import TooManyStreamsError
from h2.settings import SettingCodes
from OpenSSL import SSL
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

from echohub import _upstream
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


class OpenSSLTests(SynchronousTestCase):
    """
    The OpenSSL calls made through pyOpenSSL's private C{_util}.
    """

    def test_setGroups(self) -> None:
        """
        Known groups are accepted, an unknown one refused.
        """
        context = SSL.Context(SSL.TLS_METHOD)
        self.assertTrue(_upstream.setGroups(context, b"X25519:P-256:P-384"))
        self.assertFalse(_upstream.setGroups(context, b"no-such-group"))

    def test_verifyErrorString(self) -> None:
        """
        OpenSSL's texts for verification results.
        """
        self.assertEqual(_upstream.verifyErrorString(0), "ok")
        self.assertEqual(_upstream.verifyErrorString(10), "certificate has expired")

    def test_verifyResult(self) -> None:
        """
        A connection that verified nothing reports C{X509_V_OK} (0).
        """
        connection = SSL.Connection(SSL.Context(SSL.TLS_METHOD), None)
        self.assertEqual(_upstream.verifyResult(connection), 0)


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


class RecordConnectionTests(SynchronousTestCase):
    """
    L{_upstream.RecordConnection} gives what pyOpenSSL's C{Connection}
    gives, for every outcome, with fewer steps.
    """

    def test_mirrorsThisPyOpenSSL(self) -> None:
        """
        pyOpenSSL's C{recv}, C{send}, C{bio_read} and C{bio_write} are the
        ones mirrored (by the SHA-256 of their source): a release that
        changes them fails here, and echohub then makes plain connections.
        """
        self.assertIsNone(_upstream.recordConnectionUnavailable())
        context = SSL.Context(SSL.TLS_METHOD)
        self.assertIsInstance(
            _upstream.newServerConnection(context), _upstream.RecordConnection
        )

    def pair(self, kind: type[SSL.Connection]) -> tuple[SSL.Connection, SSL.Connection]:
        certs = ensureDevCertificates(str(temporaryDirectory(self) / "certs"))
        serverContext = SSL.Context(SSL.TLS_METHOD)
        serverContext.use_certificate_file(certs.server.certificate.path)
        serverContext.use_privatekey_file(certs.server.privateKey.path)
        server = kind(serverContext, None)
        server.set_accept_state()
        client = SSL.Connection(SSL.Context(SSL.TLS_METHOD), None)
        client.set_connect_state()
        for _ in range(10):
            for end in (client, server):
                try:
                    end.do_handshake()
                except SSL.WantReadError:
                    pass
            for a, b in ((client, server), (server, client)):
                try:
                    b.bio_write(a.bio_read(65536))
                except SSL.WantReadError:
                    pass
        return server, client

    def outcomes(self, kind: type[SSL.Connection]) -> list[object]:
        """
        Every outcome of the data calls on a server connection of C{kind}:
        results, and the types and texts of exceptions.
        """
        server, client = self.pair(kind)
        seen: list[object] = []

        def attempt(call: Any, *args: Any) -> None:
            try:
                seen.append(call(*args))
            except SSL.Error as e:
                seen.append((type(e), str(e)))

        attempt(server.recv, 1024)
        attempt(server.bio_read, 1024)
        client.send(b"hello " * 100)
        record = client.bio_read(65536)
        attempt(server.bio_write, memoryview(bytearray(record))[:10])
        attempt(server.bio_write, record[10:])
        attempt(server.recv, 7)
        attempt(server.recv, 65536)
        attempt(server.recv, 65536)
        attempt(server.send, b"echo")
        seen.append(len(server.bio_read(65536)))
        client.shutdown()
        server.bio_write(client.bio_read(65536))
        attempt(server.recv, 1024)
        broken, _ = self.pair(kind)
        attempt(broken.bio_write, b"\x17\x03\x03\x00\x05junk!")
        attempt(broken.recv, 1024)
        return seen

    def test_sameOutcomes(self) -> None:
        """
        Data, C{WantReadError}, C{ZeroReturnError} after C{close_notify}, a
        bad record's C{Error}: the same as pyOpenSSL's, call for call.
        """
        mirrored = self.outcomes(_upstream.RecordConnection)
        self.assertEqual(mirrored, self.outcomes(SSL.Connection))
        self.assertIn(b"hello hello", [o for o in mirrored if isinstance(o, bytes)][1])

    def test_readersWithoutExceptions(self) -> None:
        """
        C{readDecrypted} and C{readCiphertext} answer L{None} where C{recv}
        and C{bio_read} raise C{WantReadError}, and raise the rest alike.
        """
        server, client = self.pair(_upstream.RecordConnection)
        assert isinstance(server, _upstream.RecordConnection)
        self.assertIsNone(server.readDecrypted(1024))
        self.assertIsNone(server.readCiphertext(1024))
        client.send(b"ping")
        server.bio_write(client.bio_read(65536))
        self.assertEqual(server.readDecrypted(1024), b"ping")
        server.send(b"pong")
        client.bio_write(server.readCiphertext(65536))
        self.assertEqual(client.recv(1024), b"pong")
        client.shutdown()
        server.bio_write(client.bio_read(65536))
        self.assertRaises(SSL.ZeroReturnError, server.readDecrypted, 1024)


class StreamRefusingH2ConnectionTests(SynchronousTestCase):
    """
    L{_upstream.StreamRefusingH2Connection} lets a stream over the limit
    open, where h2 ends the connection.
    """

    def opened(self, kind: type[Any]) -> list[object]:

        server = kind(H2Configuration(client_side=False))
        server.local_settings.update({SettingCodes.MAX_CONCURRENT_STREAMS: 1})
        server.local_settings.acknowledge()
        server.initiate_connection()
        client = H2Connection(H2Configuration(client_side=True))
        client.initiate_connection()
        for stream in (1, 3):
            client.send_headers(
                stream,
                [
                    (":method", "GET"),
                    (":path", "/"),
                    (":scheme", "http"),
                    (":authority", "x"),
                ],
            )
        return server.receive_data(client.data_to_send())  # type: ignore[no-any-return]

    def test_h2RefusesTheConnection(self) -> None:
        """
        Plain h2 raises for the second stream: the behaviour (and the check
        through C{open_inbound_streams}) the subclass changes.  Should h2
        make this a stream error itself, this fails, and the subclass can
        go.
        """

        self.assertRaises(TooManyStreamsError, self.opened, H2Connection)

    def test_streamOpens(self) -> None:
        """
        The subclass opens both streams, for the application to refuse the
        second.
        """

        events = self.opened(_upstream.StreamRefusingH2Connection)
        received = [e.stream_id for e in events if isinstance(e, RequestReceived)]
        self.assertEqual(received, [1, 3])
