"""
Tests for L{echohub.http._negotiate}: which HTTP a web connection speaks.
"""

from __future__ import annotations

from twisted.internet.address import IPv4Address
from twisted.internet.interfaces import INegotiated
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer

from echohub.config import WebConfig
from echohub.http import H2Connection, HTTP1Channel, negotiate
from echohub.http._h2checks import PREFACE
from echohub.http._negotiate import PEEK_TIMEOUT, ProtocolSelector
from echohub.web import buildSite

ADDRESS = IPv4Address("TCP", "127.0.0.1", 8080)


@implementer(INegotiated)
class NegotiatedTransport(StringTransport):
    """
    A transport that has negotiated C{negotiatedProtocol} over ALPN.
    """

    negotiatedProtocol: bytes | None = None

    def setTcpNoDelay(self, enabled: bool) -> None:
        """
        twisted.web's HTTP/1.1 channel asks for it on a TCP transport.
        """


def selector(
    config: WebConfig, transport: StringTransport | None = None
) -> tuple[ProtocolSelector, StringTransport, Clock]:
    clock = Clock()
    factory = negotiate(buildSite(config, reactor=clock), config)
    protocol = factory.buildProtocol(ADDRESS)
    transport = transport or StringTransport()
    protocol.makeConnection(transport)
    return protocol, transport, clock


class NegotiationTests(SynchronousTestCase):
    def test_alpnOffers(self) -> None:
        """
        ALPN offers C{h2} before C{http/1.1}, or only C{http/1.1} with
        C{http2 = false}.
        """
        site = buildSite(WebConfig())
        self.assertEqual(
            negotiate(site, WebConfig()).acceptableProtocols(), [b"h2", b"http/1.1"]
        )
        self.assertEqual(
            negotiate(site, WebConfig(http2=False)).acceptableProtocols(),
            [b"http/1.1"],
        )

    def test_priorKnowledge(self) -> None:
        """
        A plain connection that starts with the preface, even one byte at a
        time, is HTTP/2.
        """
        protocol, transport, _ = selector(WebConfig())
        for byte in PREFACE:
            self.assertIsNone(protocol.chosen)
            protocol.dataReceived(bytes([byte]))
        self.assertIsInstance(protocol.chosen, H2Connection)

    def test_http11(self) -> None:
        """
        A plain connection whose first bytes are not the preface is
        HTTP/1.1 and gets its bytes; so is one starting C{PRI} and then
        differing.
        """
        for start in (b"GET /echo?msg=a HTTP/1.1\r\nHost: x\r\n\r\n", b"PRI /x"):
            protocol, transport, _ = selector(WebConfig())
            protocol.dataReceived(start)
            self.assertIsInstance(protocol.chosen, HTTP1Channel)
        protocol, transport, _ = selector(WebConfig())
        protocol.dataReceived(b"GET /echo?msg=a HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertTrue(transport.value().startswith(b"HTTP/1.1 200 OK"))

    def test_h2cOff(self) -> None:
        """
        With C{h2c = false} a plain connection is HTTP/1.1 from the start.
        """
        protocol, _, _ = selector(WebConfig(h2c=False))
        self.assertIsInstance(protocol.chosen, HTTP1Channel)

    def test_silentConnection(self) -> None:
        """
        A plain connection that sends nothing within L{PEEK_TIMEOUT} is
        handed to HTTP/1.1, whose own deadlines then apply.
        """
        protocol, _, clock = selector(WebConfig(header_timeout=5))
        clock.advance(PEEK_TIMEOUT - 0.01)
        self.assertIsNone(protocol.chosen)
        clock.advance(0.01)
        self.assertIsInstance(protocol.chosen, HTTP1Channel)

    def test_partialPreface(self) -> None:
        """
        A plain connection that has sent part of the preface has
        C{header_timeout} from its start to finish it; then it is HTTP/1.1.
        """
        protocol, _, clock = selector(WebConfig(header_timeout=5))
        protocol.dataReceived(PREFACE[:3])
        clock.advance(4.99)
        self.assertIsNone(protocol.chosen)
        clock.advance(0.01)
        self.assertIsInstance(protocol.chosen, HTTP1Channel)

    def test_alpn(self) -> None:
        """
        Over TLS the handshake's ALPN result decides, not the bytes.
        """
        for negotiated, expected in (
            (b"h2", H2Connection),
            (b"http/1.1", HTTP1Channel),
            (None, HTTP1Channel),
        ):
            transport = NegotiatedTransport()
            transport.negotiatedProtocol = negotiated
            protocol, _, _ = selector(WebConfig(), transport)
            self.assertIsNone(protocol.chosen)
            protocol.handshakeCompleted()
            self.assertIsInstance(protocol.chosen, expected)

    def test_connectionLostForwarded(self) -> None:
        """
        The chosen protocol gets C{connectionLost}: an HTTP/2 connection
        leaves the drain registry.
        """
        protocol, _, _ = selector(WebConfig())
        protocol.dataReceived(PREFACE)
        connection = protocol.chosen
        assert isinstance(connection, H2Connection)
        self.assertEqual(len(connection.site.connections), 1)
        protocol.connectionLost()
        self.assertEqual(len(connection.site.connections), 0)
