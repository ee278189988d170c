# -*- test-case-name: tests.line.test_client -*-
"""
Tests for L{echohub.line._client}: the protocol over in-memory transports, and the
real C{echohub-client} process against a TLS echo server on loopback.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Sequence

from cryptography.hazmat.primitives.serialization import load_pem_private_key
from cryptography.x509 import load_pem_x509_certificate
from OpenSSL import SSL
from service_identity import VerificationError
from service_identity.hazmat import DNS_ID, DNSMismatch
from twisted.internet import reactor
from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred, gatherResults, maybeDeferred, succeed
from twisted.internet.endpoints import quoteStringArgument
from twisted.internet.error import ConnectionDone, ConnectionRefusedError
from twisted.internet.interfaces import (
    IListeningPort,
    IProtocol,
    IProtocolFactory,
    ISSLTransport,
    IStreamClientEndpoint,
)
from twisted.internet.protocol import Factory, Protocol, ServerFactory, connectionDone
from twisted.internet.ssl import CertificateOptions
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.internet.utils import getProcessOutputAndValue
from twisted.python.failure import Failure
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SkipTest, SynchronousTestCase, TestCase
from zope.interface import alsoProvides, implementer

import echohub
from echohub.config import UDPConfig
from echohub.line._client import (
    ERROR_ALLOWANCE,
    EchoClientProtocol,
    EchoError,
    ServerError,
    UDPEchoClient,
    WebSocketEchoClient,
    describeFailure,
    echo,
    parseUDP,
    parseWebSocket,
    splitLines,
)
from echohub.testing import temporaryPath
from echohub.tls._devcert import DevCertificates, ensureDevCertificates
from echohub.udp import DatagramLimits, UDPEcho

LINES = [b"hello", b"", b"caf\xc3\xa9 \x00\xff\r"]
ECHOES = b"".join(line + b"\n" for line in LINES)


def connect(
    lines: Sequence[bytes] = LINES, tls: bool = False
) -> tuple[EchoClientProtocol, StringTransport, list[bytes]]:
    """
    Connect an L{EchoClientProtocol} to an in-memory transport.

    @param tls: make the transport claim to be TLS, as a C{tls:} endpoint's is.
    @return: the protocol, its transport, and the list its output goes to.
    """
    output: list[bytes] = []
    protocol = EchoClientProtocol(lines, output.append)
    transport = StringTransport()
    if tls:
        alsoProvides(transport, ISSLTransport)
    protocol.makeConnection(transport)
    return protocol, transport, output


class EchoClientProtocolTests(SynchronousTestCase):
    """
    Tests for L{EchoClientProtocol}.
    """

    def assertFailsWith(self, protocol: EchoClientProtocol, expected: str) -> str:
        """
        Assert that C{protocol.done} failed with a one-line L{EchoError}
        containing C{expected}, and return the message.
        """
        message = str(self.failureResultOf(protocol.done, EchoError).value)
        self.assertIn(expected, message)
        self.assertNotIn("\n", message)
        return message

    def test_sendsEveryLineOnConnect(self) -> None:
        """
        Over a plain transport every line is written at once, each ending in
        a newline.
        """
        protocol, transport, output = connect()
        self.assertEqual(transport.value(), ECHOES)
        self.assertNoResult(protocol.done)

    def test_tlsWaitsForHandshake(self) -> None:
        """
        Over TLS nothing is written until the handshake has completed.
        """
        protocol, transport, output = connect(tls=True)
        self.assertEqual(transport.value(), b"")
        protocol.handshakeCompleted()
        self.assertEqual(transport.value(), ECHOES)

    def test_allEchoed(self) -> None:
        """
        When every line comes back in order, each is output with its newline
        and C{done} fires, closing the connection.
        """
        protocol, transport, output = connect()
        protocol.dataReceived(ECHOES)
        self.assertEqual(output, [line + b"\n" for line in LINES])
        self.assertIsNone(self.successResultOf(protocol.done))
        self.assertTrue(transport.disconnecting)

    def test_outputAsEachLineArrives(self) -> None:
        """
        A line is output as soon as its newline arrives, before the rest.
        """
        protocol, transport, output = connect()
        protocol.dataReceived(b"hello\n\ncaf")
        self.assertEqual(output, [b"hello\n", b"\n"])
        self.assertNoResult(protocol.done)

    def test_anySegmentation(self) -> None:
        """
        Echoes split into three chunks at any two points give the same result.
        """
        for first in range(len(ECHOES) + 1):
            for second in range(first, len(ECHOES) + 1):
                protocol, transport, output = connect()
                for chunk in (
                    ECHOES[:first],
                    ECHOES[first:second],
                    ECHOES[second:],
                ):
                    protocol.dataReceived(chunk)
                self.assertEqual(b"".join(output), ECHOES, (first, second))
                self.successResultOf(protocol.done)

    def test_mismatch(self) -> None:
        """
        A different line fails, naming its position and both versions, and
        is not output.
        """
        protocol, transport, output = connect()
        protocol.dataReceived(b"hello\nX\n")
        message = self.assertFailsWith(protocol, "echo 2 differs")
        self.assertIn("received b'X'", message)
        self.assertEqual(output, [b"hello\n"])
        self.assertTrue(transport.disconnecting)

    def test_outOfOrder(self) -> None:
        """
        The right lines in the wrong order are a mismatch.
        """
        protocol, transport, output = connect([b"a", b"b"])
        protocol.dataReceived(b"b\na\n")
        self.assertFailsWith(protocol, "echo 1 differs: sent b'a', received b'b'")

    def test_closedEarly(self) -> None:
        """
        A connection that closes before every echo arrived fails, saying how
        many arrived.
        """
        protocol, transport, output = connect()
        protocol.dataReceived(b"hello\n")
        protocol.connectionLost(Failure(ConnectionDone()))
        message = self.assertFailsWith(protocol, "connection closed after 1 of 3")
        self.assertEqual(message, "connection closed after 1 of 3 echoes")

    def test_errorLine(self) -> None:
        """
        An C{ERROR} line from the server fails with L{ServerError} carrying
        it, and the connection closing afterwards changes nothing.
        """
        protocol, transport, output = connect([b"x" * 100])
        protocol.dataReceived(b"ERROR line too long: the limit is 10 bytes\n")
        protocol.connectionLost(Failure(ConnectionDone()))
        failure = self.failureResultOf(protocol.done, ServerError)
        self.assertEqual(
            failure.value.line, b"ERROR line too long: the limit is 10 bytes"
        )
        self.assertEqual(
            str(failure.value),
            "server error: ERROR line too long: the limit is 10 bytes",
        )
        self.assertEqual(output, [])

    def test_echoedErrorIsNotAnError(self) -> None:
        """
        A line that starts with C{ERROR} and comes back unchanged is an echo.
        """
        protocol, transport, output = connect([b"ERROR is just text"])
        protocol.dataReceived(b"ERROR is just text\n")
        self.successResultOf(protocol.done)

    def test_noLines(self) -> None:
        """
        With nothing to send the exchange succeeds at once, writing nothing.
        """
        protocol, transport, output = connect([])
        self.successResultOf(protocol.done)
        self.assertEqual(transport.value(), b"")

    def test_boundedBuffer(self) -> None:
        """
        A server that sends more than any echo could need without a newline
        fails the exchange instead of growing the buffer.
        """
        protocol, transport, output = connect([b"abc"])
        protocol.dataReceived(b"x" * (3 + ERROR_ALLOWANCE))
        self.assertNoResult(protocol.done)
        protocol.dataReceived(b"x")
        self.assertFailsWith(protocol, "without a newline")
        self.assertTrue(transport.disconnecting)

    def test_tlsChainFailure(self) -> None:
        """
        An OpenSSL certificate verification error during the handshake is
        reported as a TLS verification failure, in one line.
        """
        protocol, transport, output = connect(tls=True)
        error = SSL.Error([("SSL routines", "", "certificate verify failed")])
        protocol.connectionLost(Failure(error))
        message = self.assertFailsWith(protocol, "TLS verification failed")
        self.assertEqual(message, "TLS verification failed: certificate verify failed")
        self.assertEqual(transport.value(), b"")

    def test_tlsHostMismatch(self) -> None:
        """
        A certificate for another host is a TLS verification failure naming
        the host the client expected.
        """
        protocol, transport, output = connect(tls=True)
        error = VerificationError(
            errors=[DNSMismatch(mismatched_id=DNS_ID("example.com"))]
        )
        protocol.connectionLost(Failure(error))
        self.assertFailsWith(
            protocol,
            "TLS verification failed: certificate is not valid for example.com",
        )

    def test_tlsClosedAfterHandshake(self) -> None:
        """
        After a completed handshake a close is an early close, not a TLS
        failure.
        """
        protocol, transport, output = connect(tls=True)
        protocol.handshakeCompleted()
        protocol.connectionLost(Failure(ConnectionDone()))
        self.assertFailsWith(protocol, "connection closed after 0 of 3 echoes")


@implementer(IStreamClientEndpoint)
class MemoryEndpoint:
    """
    An endpoint that connects to an in-memory transport, or never connects.

    @ivar transport: the transport of the last connection.
    """

    def __init__(self, connects: bool = True) -> None:
        self._connects = connects
        self.transport = StringTransport()
        self.protocol: IProtocol | None = None

    def connect(self, factory: IProtocolFactory) -> Deferred[IProtocol]:
        if not self._connects:
            return Deferred()
        protocol = factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 7007))
        assert protocol is not None
        protocol.makeConnection(self.transport)
        self.protocol = protocol
        return succeed(protocol)


class EchoTests(SynchronousTestCase):
    """
    Tests for L{echo} and L{describeFailure}.
    """

    def test_success(self) -> None:
        """
        L{echo} fires with L{None} once the echoes arrive.
        """
        endpoint = MemoryEndpoint()
        output: list[bytes] = []
        result = echo(Clock(), endpoint, [b"hi"], output.append)
        assert endpoint.protocol is not None
        endpoint.protocol.dataReceived(b"hi\n")
        self.assertIsNone(self.successResultOf(result))
        self.assertEqual(output, [b"hi\n"])

    def test_timeoutWhileConnecting(self) -> None:
        """
        The timeout covers connecting: a connection that never completes
        fails after C{timeout} seconds.
        """
        clock = Clock()
        discard: list[bytes] = []
        result = echo(clock, MemoryEndpoint(connects=False), [b"hi"], discard.append, 3)
        clock.advance(2.9)
        self.assertNoResult(result)
        clock.advance(0.1)
        failure = self.failureResultOf(result, EchoError)
        self.assertEqual(describeFailure(failure), "timed out after 3 seconds")

    def test_timeoutWaitingForEchoes(self) -> None:
        """
        A server that never echoes is cut off after C{timeout} seconds.
        """
        clock = Clock()
        endpoint = MemoryEndpoint()
        discard: list[bytes] = []
        result = echo(clock, endpoint, [b"hi"], discard.append, 5)
        clock.advance(5)
        self.failureResultOf(result, EchoError)
        self.assertTrue(endpoint.transport.disconnecting)

    def test_describeConnectionRefused(self) -> None:
        """
        A refused connection is described in one line, without a traceback.
        """
        message = describeFailure(Failure(ConnectionRefusedError()))
        self.assertTrue(message.startswith("cannot connect: Connection was refused"))
        self.assertNotIn("\n", message)

    def test_splitLines(self) -> None:
        """
        Only C{\\n} ends a line; a C{\\r} stays in it and a final line needs
        no newline.
        """
        self.assertEqual(splitLines(b"a\r\n\nb"), [b"a\r", b"", b"b"])
        self.assertEqual(splitLines(b"a\n"), [b"a"])
        self.assertEqual(splitLines(b""), [])


class EchoRecord:
    """
    What a test echo server received, shared by its connections.

    @ivar received: every byte received, in order.
    @ivar connections: every connection made.
    """

    def __init__(self) -> None:
        self.received = b""
        self.connections: list[RecordingEcho] = []


class RecordingEcho(Protocol):
    """
    Echo everything and record it.

    @ivar lost: fires when the connection is lost, so tests can wait for it.
    """

    def __init__(self, record: EchoRecord) -> None:
        self._record = record
        self.lost: Deferred[None] = Deferred()

    def connectionMade(self) -> None:
        self._record.connections.append(self)

    def dataReceived(self, data: bytes) -> None:
        self._record.received += data
        assert self.transport is not None
        self.transport.write(data)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.lost.callback(None)


def portNumber(port: IListeningPort) -> int:
    """
    The TCP port number C{port} listens on.
    """
    address = port.getHost()
    assert isinstance(address, IPv4Address)
    return address.port


def isolatedPythonPath(testCase: TestCase) -> str:
    """
    A C{PYTHONPATH} holding only the C{echohub} package.

    The C{tls:} endpoint prefix is a Twisted plugin: parsing it scans every
    C{twisted/plugins} directory on C{sys.path} and writes a C{dropin.cache}
    there.  Keeping the source tree off the path keeps it unmodified.
    """
    directory = temporaryPath(testCase)
    directory.makedirs()
    os.symlink(os.path.dirname(echohub.__file__), directory.child("echohub").path)
    return directory.path


class ClientProcessTests(TestCase):
    """
    Run the real C{echohub-client} against a TLS echo server in this process.
    """

    def setUp(self) -> None:
        self.certificates = ensureDevCertificates(temporaryPath(self))
        server = self.certificates.server
        # cryptography objects: CertificateOptions hands them to pyOpenSSL,
        # which deprecates its own X509 and PKey types (its hints lag).
        options = CertificateOptions(
            privateKey=load_pem_private_key(  # type: ignore[arg-type]
                server.privateKey.getContent(), None
            ),
            certificate=load_pem_x509_certificate(  # type: ignore[arg-type]
                server.certificate.getContent()
            ),
        )
        self.record = EchoRecord()
        self.port: IListeningPort = reactor.listenSSL(  # type: ignore[attr-defined]
            0,
            Factory.forProtocol(lambda: RecordingEcho(self.record)),
            options,
            interface="127.0.0.1",
        )
        self.addCleanup(self.closeServer)
        self.pythonPath = isolatedPythonPath(self)

    def closeServer(self) -> Deferred[list[None]]:
        """
        Stop listening and wait until every server connection has closed, so
        the reactor is clean when the test ends.
        """
        waiting = [connection.lost for connection in self.record.connections]
        for connection in self.record.connections:
            if connection.transport is not None:
                connection.transport.loseConnection()
        stopping = self.port.stopListening()
        if stopping is not None:
            waiting.append(stopping)
        return gatherResults(waiting)

    def runClient(
        self, *args: str, stdin: bytes | None = None
    ) -> Deferred[tuple[bytes, bytes, int]]:
        """
        Run C{python -m echohub.line ARGS} outside the source tree.
        """
        return getProcessOutputAndValue(
            sys.executable,
            ["-m", "echohub.line", "--timeout", "20", *args],
            env={"PYTHONPATH": self.pythonPath, "PATH": os.environ.get("PATH", "")},
            path=self.pythonPath,
            stdinBytes=stdin,
        )

    def tlsEndpoint(self, trustRoots: FilePath[str], host: str = "localhost") -> str:
        return (
            f"tls:{host}:{portNumber(self.port)}"
            f":trustRoots={quoteStringArgument(trustRoots.path)}"
        )

    async def test_echoOverTLS(self) -> None:
        """
        Against a server whose certificate chains to the trusted CA, the
        client prints the echoes and exits 0.
        """
        out, err, code = await self.runClient(
            self.tlsEndpoint(self.certificates.trustRoots),
            "--message",
            "hello",
            "--message",
            "second line",
        )
        self.assertEqual((out, err, code), (b"hello\nsecond line\n", b"", 0))
        self.assertEqual(self.record.received, b"hello\nsecond line\n")

    async def test_stdinLines(self) -> None:
        """
        Without C{--message} the lines of stdin are sent, byte for byte.
        """
        out, err, code = await self.runClient(
            self.tlsEndpoint(self.certificates.trustRoots),
            stdin=b"one\ntwo\r\n\xff\nlast",
        )
        self.assertEqual((out, err, code), (b"one\ntwo\r\n\xff\nlast\n", b"", 0))

    async def assertRejected(self, endpoint: str, expected: bytes) -> None:
        """
        Run the client against C{endpoint}, expecting a TLS rejection: exit
        1, exactly one stderr line containing C{expected}, nothing printed
        and no application bytes reaching the server.
        """
        out, err, code = await self.runClient(endpoint, "--message", "secret")
        self.assertEqual(code, 1)
        self.assertEqual(out, b"")
        self.assertEqual(len(err.splitlines()), 1, err)
        self.assertIn(expected, err)
        self.assertEqual(self.record.received, b"")

    async def test_unknownCA(self) -> None:
        """
        A server certificate from a different CA is rejected before any data
        is sent.
        """
        other: DevCertificates = ensureDevCertificates(temporaryPath(self))
        await self.assertRejected(
            self.tlsEndpoint(other.trustRoots),
            b"echohub-client: TLS verification failed: certificate verify failed",
        )

    async def test_wrongHost(self) -> None:
        """
        A server certificate from the trusted CA but for another host name is
        rejected before any data is sent.
        """
        tcp = f"tcp:127.0.0.1:{portNumber(self.port)}"
        endpoint = (
            f"tls:example.com:0:endpoint={quoteStringArgument(tcp)}"
            f":trustRoots={quoteStringArgument(self.certificates.trustRoots.path)}"
        )
        await self.assertRejected(
            endpoint,
            b"TLS verification failed: certificate is not valid for example.com",
        )

    async def test_trustRootsWithKeys(self) -> None:
        """
        The devcert directory itself, which holds private keys, cannot be
        C{trustRoots}: Twisted fails to parse it, and the client exits 2 with
        one line pointing at C{DIR/trust}.
        """
        endpoint = self.tlsEndpoint(self.certificates.directory)
        out, err, code = await self.runClient(endpoint, "--message", "x")
        self.assertEqual(code, 2)
        self.assertEqual(len(err.splitlines()), 1, err)
        self.assertIn(b"DIR/trust", err)
        self.assertIn(endpoint.encode(), err)

    async def test_connectionRefused(self) -> None:
        """
        A refused connection is one stderr line and exit status 1.
        """
        closed = reactor.listenTCP(0, ServerFactory(), interface="127.0.0.1")
        closedPort = portNumber(closed)
        await maybeDeferred(closed.stopListening)
        out, err, code = await self.runClient(
            f"tcp:127.0.0.1:{closedPort}", "--message", "x"
        )
        self.assertEqual(code, 1)
        self.assertEqual(len(err.splitlines()), 1, err)
        self.assertIn(b"refused", err)

    async def test_badEndpoint(self) -> None:
        """
        An unparsable endpoint is one stderr line naming it, exit status 2.
        """
        out, err, code = await self.runClient("tcp:127.0.0.1:notaport")
        self.assertEqual(code, 2)
        self.assertEqual(
            err.splitlines(),
            [
                b"echohub-client: bad endpoint 'tcp:127.0.0.1:notaport':"
                b" invalid literal for int() with base 10: 'notaport'"
            ],
        )


class FakeConnectedUDP:
    """
    The connected UDP transport L{UDPEchoClient} uses, in memory.
    """

    def __init__(self) -> None:
        self.connected: tuple[str, int] | None = None
        self.sent: list[bytes] = []

    def connect(self, host: str, port: int) -> None:
        self.connected = (host, port)

    def write(self, datagram: bytes) -> None:
        self.sent.append(datagram)


class UDPEchoClientTests(SynchronousTestCase):
    """
    L{UDPEchoClient} sends one datagram at a time and checks each echo.
    """

    def start(
        self, datagrams: Sequence[bytes]
    ) -> tuple[UDPEchoClient, FakeConnectedUDP, list[bytes]]:
        output: list[bytes] = []
        protocol = UDPEchoClient(datagrams, output.append, ("192.0.2.1", 7007))
        transport = FakeConnectedUDP()
        protocol.makeConnection(transport)  # type: ignore[arg-type]
        return protocol, transport, output

    def test_oneDatagramAtATime(self) -> None:
        """
        The socket is connected to the server; each datagram is sent once
        the previous one's echo arrived, and each echo is printed.
        """
        protocol, transport, output = self.start([b"one", b"", b"three"])
        self.assertEqual(transport.connected, ("192.0.2.1", 7007))
        self.assertEqual(transport.sent, [b"one"])
        protocol.datagramReceived(b"one", ("192.0.2.1", 7007))
        self.assertEqual(transport.sent, [b"one", b""])
        protocol.datagramReceived(b"", ("192.0.2.1", 7007))
        protocol.datagramReceived(b"three", ("192.0.2.1", 7007))
        self.assertIsNone(self.successResultOf(protocol.done))
        self.assertEqual(output, [b"one\n", b"\n", b"three\n"])

    def test_mismatch(self) -> None:
        """
        An echo that differs fails with both datagrams named.
        """
        protocol, _, _ = self.start([b"one", b"two"])
        protocol.datagramReceived(b"one", None)
        protocol.datagramReceived(b"tw0", None)
        failure = self.failureResultOf(protocol.done, EchoError)
        self.assertEqual(
            str(failure.value), "echo 2 differs: sent b'two', received b'tw0'"
        )

    def test_refused(self) -> None:
        """
        ICMP port unreachable is a failure saying nothing listens there.
        """
        protocol, _, _ = self.start([b"one"])
        protocol.connectionRefused()
        failure = self.failureResultOf(protocol.done, EchoError)
        self.assertIn("ICMP port unreachable", str(failure.value))

    def test_parseUDP(self) -> None:
        """
        C{udp:HOST:PORT} and C{udp:[IPv6]:PORT} are UDP strings; other
        prefixes are not; a malformed one is an error.
        """
        self.assertEqual(parseUDP("udp:127.0.0.1:7007"), ("127.0.0.1", 7007))
        self.assertEqual(parseUDP("UDP:[::1]:7"), ("::1", 7))
        self.assertEqual(parseUDP("udp:localhost:7007"), ("localhost", 7007))
        self.assertIsNone(parseUDP("tcp:127.0.0.1:7007"))
        self.assertRaises(ValueError, parseUDP, "udp:127.0.0.1")
        self.assertRaises(ValueError, parseUDP, "udp:127.0.0.1:70000")


def haveIPv6() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


class UDPClientProcessTests(TestCase):
    """
    Run the real C{echohub-client udp:...} against echohub's UDP echo in
    this process.
    """

    def setUp(self) -> None:
        self.pythonPath = isolatedPythonPath(self)

    def listen(self, interface: str) -> int:
        limits = DatagramLimits(UDPConfig(min_source_port=0), reactor)  # type: ignore[arg-type]
        port = reactor.listenUDP(0, UDPEcho(limits), interface=interface)  # type: ignore[attr-defined]
        self.addCleanup(port.stopListening)
        number: int = port.getHost().port
        return number

    def runClient(
        self, *args: str, stdin: bytes | None = None
    ) -> Deferred[tuple[bytes, bytes, int]]:
        return getProcessOutputAndValue(
            sys.executable,
            ["-m", "echohub.line", "--timeout", "20", *args],
            env={"PYTHONPATH": self.pythonPath, "PATH": os.environ.get("PATH", "")},
            path=self.pythonPath,
            stdinBytes=stdin,
        )

    async def test_ipv4(self) -> None:
        """
        Each line of standard input goes as one datagram; the echoes are
        printed and the client exits 0.
        """
        port = self.listen("127.0.0.1")
        out, err, code = await self.runClient(
            f"udp:127.0.0.1:{port}", stdin=b"one\n\xff binary\n"
        )
        self.assertEqual((out, err, code), (b"one\n\xff binary\n", b"", 0))

    async def test_ipv6(self) -> None:
        """
        C{udp:[::1]:PORT} talks to an IPv6 UDP echo.
        """
        if not haveIPv6():
            raise SkipTest("::1 cannot be bound here (no IPv6)")
        port = self.listen("::1")
        out, err, code = await self.runClient(f"udp:[::1]:{port}", "--message", "six")
        self.assertEqual((out, err, code), (b"six\n", b"", 0))

    async def test_noAnswerTimesOut(self) -> None:
        """
        A server that never answers makes the client fail at the timeout,
        saying how many echoes came back.
        """
        silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addCleanup(silent.close)
        silent.bind(("127.0.0.1", 0))
        out, err, code = await self.runClient(
            f"udp:127.0.0.1:{silent.getsockname()[1]}",
            "--timeout",
            "0.5",
            "--message",
            "hello?",
        )
        self.assertEqual(code, 1)
        self.assertEqual(
            err, b"echohub-client: timed out after 0.5 seconds with 0 of 1 echoes\n"
        )

    async def test_badUDPString(self) -> None:
        """
        A malformed C{udp:} string is a usage error, exit status 2.
        """
        out, err, code = await self.runClient("udp:127.0.0.1", "--message", "x")
        self.assertEqual(code, 2)
        self.assertIn(b"udp:HOST:PORT", err)


class FakeWebSocket:
    """
    A Twisted WebSocket transport that records what is sent.
    """

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes]] = []
        self.closed: list[int] = []

    def sendTextMessage(self, text: str) -> None:
        self.sent.append(("text", text.encode("utf-8")))

    def sendBytesMessage(self, data: bytes) -> None:
        self.sent.append(("binary", data))

    def loseConnection(self, code: int = 1000) -> None:
        self.closed.append(code)


class WebSocketEchoClientTests(SynchronousTestCase):
    """
    L{WebSocketEchoClient}: each line one message, each echo checked.
    """

    def open(
        self, *lines: bytes
    ) -> tuple[WebSocketEchoClient, FakeWebSocket, list[bytes]]:
        output: list[bytes] = []
        client = WebSocketEchoClient(list(lines), output.append)
        transport = FakeWebSocket()
        client.negotiationStarted(transport)  # type: ignore[arg-type]
        client.negotiationFinished()
        return client, transport, output

    def test_echoed(self) -> None:
        """
        UTF-8 lines go as text, others as binary; identical echoes of the
        same kind succeed, then the client closes with 1000.
        """
        client, transport, output = self.open(b"hi", b"\xff\x00")
        self.assertEqual(transport.sent, [("text", b"hi"), ("binary", b"\xff\x00")])
        client.textMessageReceived("hi")
        client.bytesMessageReceived(b"\xff\x00")
        self.assertEqual(output, [b"hi\n", b"\xff\x00\n"])
        self.assertIsNone(self.successResultOf(client.done))
        self.assertEqual(transport.closed, [1000])

    def test_differs(self) -> None:
        """
        An echo that differs, or comes back as the other kind, fails.
        """
        client, _, _ = self.open(b"hi")
        client.textMessageReceived("ho")
        self.assertIn("echo 1 differs", str(self.failureResultOf(client.done).value))
        client, _, _ = self.open(b"hi")
        client.bytesMessageReceived(b"hi")
        self.assertIn("binary message", str(self.failureResultOf(client.done).value))

    def test_lostBeforeHandshake(self) -> None:
        """
        A TLS failure before the handshake is said in OpenSSL's words, and
        nothing is sent on the dead connection.
        """
        output: list[bytes] = []
        client = WebSocketEchoClient([b"hi"], output.append)
        transport = FakeWebSocket()
        client.negotiationStarted(transport)  # type: ignore[arg-type]
        error = SSL.Error([("SSL routines", "", "certificate verify failed")])
        client.connectionLost(Failure(error))
        failure = self.failureResultOf(client.done)
        self.assertEqual(
            str(failure.value), "TLS verification failed: certificate verify failed"
        )
        self.assertEqual(transport.closed, [])

    def test_url(self) -> None:
        """
        C{ws://} and C{wss://} URLs are WebSocket endpoints; others are not.
        """
        self.assertEqual(parseWebSocket("ws://h:1/ws"), "ws://h:1/ws")
        self.assertEqual(parseWebSocket("WSS://h/ws"), "WSS://h/ws")
        self.assertIsNone(parseWebSocket("tcp:h:1"))
        with self.assertRaises(ValueError):
            parseWebSocket("ws:///ws")
