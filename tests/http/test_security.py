"""
Tests for L{echohub.http._security}: C{Strict-Transport-Security}, opt-in,
over TLS only.
"""

from __future__ import annotations

from twisted.internet.interfaces import ISSLTransport
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import directlyProvides

from echohub.config import ConfigError, WebConfig
from echohub.http._security import connectionHeaders, hstsValue
from echohub.testing import CLIENT_PEER, Response, connect, parseResponses

HSTS = "max-age=31536000; includeSubDomains"


class TLSStringTransport(StringTransport):
    """
    An in-memory transport that says it is TLS (and so TCP), as Twisted's
    TLS transport does.
    """

    def setTcpNoDelay(self, enabled: bool) -> None:
        pass


def tlsTransport() -> StringTransport:
    transport = TLSStringTransport(peerAddress=CLIENT_PEER)
    directlyProvides(transport, ISSLTransport)
    return transport


class HSTSValueTests(SynchronousTestCase):
    """
    L{hstsValue} accepts RFC 6797's directives and nothing else.
    """

    def test_accepted(self) -> None:
        for value in (
            "max-age=0",
            HSTS,
            "max-age=63072000; includeSubDomains; preload",
        ):
            self.assertEqual(hstsValue(value), value.encode())

    def test_emptyIsOff(self) -> None:
        self.assertIsNone(hstsValue(""))

    def test_refused(self) -> None:
        """
        Anything else is a configuration error naming the setting.
        """
        for value in ("31536000", "max-age=-1", "max-age=1\r\nX: y", "max-age=1; x"):
            with self.assertRaises(ConfigError) as caught:
                hstsValue(value)
            self.assertIn("[web] hsts", str(caught.exception))


class ConnectionHeadersTests(SynchronousTestCase):
    """
    The header goes on every response over TLS, and never over plain HTTP.
    """

    def response(
        self, transport: StringTransport, request: bytes, **config: object
    ) -> Response:
        channel, transport, _ = connect(WebConfig(**config), transport)  # type: ignore[arg-type]
        channel.dataReceived(request)
        [response] = parseResponses(transport.value())
        return response

    def test_overTLS(self) -> None:
        response = self.response(
            tlsTransport(), b"GET /headers HTTP/1.1\r\nHost: x\r\n\r\n", hsts=HSTS
        )
        self.assertEqual(response.status, 200)
        self.assertEqual(response.header(b"Strict-Transport-Security"), HSTS.encode())

    def test_refusalOverTLS(self) -> None:
        """
        Refusals written by the channel itself (here C{413}) carry it too.
        """
        response = self.response(
            tlsTransport(),
            b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 99\r\n\r\n",
            hsts=HSTS,
            max_body=10,
        )
        self.assertEqual(response.status, 413)
        self.assertEqual(response.header(b"Strict-Transport-Security"), HSTS.encode())

    def test_notOverPlainHTTP(self) -> None:
        response = self.response(
            StringTransport(peerAddress=CLIENT_PEER),
            b"GET /headers HTTP/1.1\r\nHost: x\r\n\r\n",
            hsts=HSTS,
        )
        self.assertIsNone(response.header(b"Strict-Transport-Security"))

    def test_offByDefault(self) -> None:
        response = self.response(
            tlsTransport(), b"GET /headers HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        self.assertIsNone(response.header(b"Strict-Transport-Security"))

    def test_function(self) -> None:
        """
        L{connectionHeaders} is what a new HTTP front calls.
        """
        self.assertEqual(connectionHeaders(None, tlsTransport()), [])
        self.assertEqual(
            connectionHeaders(b"max-age=1", tlsTransport()),
            [(b"Strict-Transport-Security", b"max-age=1")],
        )
