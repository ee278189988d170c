"""
Tests for L{echohub._upstream}: each use of a private Twisted or pyOpenSSL
name still does what echohub relies on.  These fail loudly when an upgrade
changes one: none of them may skip or fall back.
"""

from __future__ import annotations

import inspect
import socket
from typing import Any

from OpenSSL import SSL
from twisted.application.runner._runner import Runner
from twisted.application.twist._options import TwistOptions
from twisted.application.twist._twist import Twist
from twisted.internet import reactor
from twisted.internet.endpoints import quoteStringArgument
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.task import Clock, deferLater
from twisted.logger import ILogObserver
from twisted.protocols.tls import BufferingTLSTransport
from twisted.trial.unittest import SynchronousTestCase, TestCase

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


class MessageBuffersTests(SynchronousTestCase):
    """
    L{_upstream.installMessageBuffers}: Twisted's WebSocket wire protocol
    still keeps its reassembly buffers where echohub replaces them (the
    real-connection check is
    C{tests.web.test_websocket}'s C{test_installedOnTwistedsWireProtocol}).
    """

    def test_missingBuffersRaise(self) -> None:
        """
        A wire protocol without those buffers (a changed Twisted) raises
        rather than leaving messages uncapped.
        """
        self.assertRaises(
            RuntimeError, _upstream.installMessageBuffers, object(), None, None
        )

    def test_twistedWireProtocolHasThem(self) -> None:
        """
        The wire protocol of the installed Twisted assigns both buffers.
        """
        from twisted.web import _websocket_impl

        source = inspect.getsource(_websocket_impl)
        self.assertIn("_textBuffer", source)
        self.assertIn("_bytesBuffer", source)
