"""
Tests for L{echohub.testing}: the public in-memory helpers behave as their
docstrings promise, so tests built on them test echohub and not the helpers.
"""

from __future__ import annotations

from pathlib import Path

from twisted.internet.protocol import Factory, Protocol
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from echohub.config import WebConfig
from echohub.testing import (
    HalfCloseTransport,
    RefusingEndpoint,
    Response,
    TLSClient,
    connect,
    connectTLS,
    exchange,
    jsonOf,
    parseResponses,
    request,
    serverFactory,
    temporaryDirectory,
    temporaryPath,
)
from echohub.tls import ensureDevCertificates


class ResponseTests(SynchronousTestCase):
    """
    L{parseResponses} and L{Response}.
    """

    def test_pipelined(self) -> None:
        """
        Two responses in one buffer come apart by C{Content-Length};
        headers are lower-cased and kept in order.
        """
        data = (
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-A: 1\r\nX-A: 2\r\n\r\nhi"
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
        )
        first, second = parseResponses(data)
        self.assertEqual((first.status, first.body), (200, b"hi"))
        self.assertEqual(first.headers[b"x-a"], [b"1", b"2"])
        self.assertEqual((second.status, second.body), (404, b""))

    def test_truncatedRefused(self) -> None:
        """
        A body shorter than its C{Content-Length} is an assertion failure,
        not a silently short response.
        """
        self.assertRaises(
            AssertionError,
            parseResponses,
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhi",
        )

    def test_headerAndDate(self) -> None:
        """
        L{Response.header} gives the one value or L{None};
        L{Response.withoutDate} drops only C{Date}.
        """
        response = Response(200, {b"date": [b"x"], b"a": [b"1"]}, b"")
        self.assertEqual(response.header(b"A"), b"1")
        self.assertIsNone(response.header(b"b"))
        self.assertEqual(response.withoutDate().headers, {b"a": [b"1"]})


class SiteTests(SynchronousTestCase):
    """
    The site over an in-memory transport.
    """

    def test_request(self) -> None:
        """
        L{request} returns the echo of C{/echo}; L{jsonOf} decodes a JSON
        body.
        """
        self.assertEqual(request(b"/echo?msg=hi").body, b"hi")
        self.assertIn("headers", jsonOf(request(b"/anything")))

    def test_exchangeSplitReads(self) -> None:
        """
        L{exchange} delivers each chunk in its own read; a request split
        across two still gets one response.
        """
        [response] = exchange(b"GET /echo?msg=a HTT", b"P/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual(response.body, b"a")

    def test_connectUsesConfig(self) -> None:
        """
        L{connect} builds the site from the configuration given.
        """
        channel, transport, _ = connect(WebConfig(max_body=3))
        channel.dataReceived(
            b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nabcd"
        )
        [response] = parseResponses(transport.value())
        self.assertEqual(response.status, 413)


class TransportTests(SynchronousTestCase):
    """
    L{HalfCloseTransport} and L{RefusingEndpoint}.
    """

    def test_halfClose(self) -> None:
        """
        C{loseWriteConnection} records the half-close; C{abortConnection}
        records the abort; unregistering no producer is no error.
        """
        transport = HalfCloseTransport()
        transport.unregisterProducer()
        transport.loseWriteConnection()
        transport.abortConnection()
        self.assertTrue(transport.writeDisconnected)
        self.assertTrue(transport.aborted)

    def test_refusing(self) -> None:
        """
        L{RefusingEndpoint} fails every listen as a port in use.
        """
        failure = self.failureResultOf(RefusingEndpoint().listen(Factory()))
        self.assertIn("already in use", failure.getErrorMessage())


class TLSTests(SynchronousTestCase):
    """
    The TLS pair over iosim.
    """

    def test_echoOverTLS(self) -> None:
        """
        A client connected with L{connectTLS} to L{serverFactory} completes
        the handshake and exchanges bytes both ways.
        """
        certs = ensureDevCertificates(str(temporaryDirectory(self) / "certs"))
        clock = Clock()

        class Echo(Protocol):
            def dataReceived(self, data: bytes) -> None:
                self.transport.write(data)  # type: ignore[union-attr]

        class Client(Protocol):
            received = b""

            def dataReceived(self, data: bytes) -> None:
                self.received += data

        client = Client()
        factory = serverFactory(Factory.forProtocol(Echo), certs, clock)
        _, _, pump = connectTLS(factory, TLSClient(certs), client, clock)
        client.transport.write(b"ping")  # type: ignore[union-attr]
        pump.flush()
        self.assertEqual(client.received, b"ping")


class PathTests(SynchronousTestCase):
    """
    L{temporaryDirectory} and L{temporaryPath}.
    """

    def test_removedAfterTest(self) -> None:
        """
        Both are outside the source tree; the path does not exist yet.
        """
        directory = temporaryDirectory(self)
        path = temporaryPath(self)
        self.assertTrue(directory.is_dir())
        self.assertFalse(path.exists())
        tree = Path(__file__).resolve().parent.parent
        self.assertNotIn(tree, directory.resolve().parents)
