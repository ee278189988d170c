"""
Tests for L{echohub.tls._info} and L{echohub.web._tlsresource}: the TLS facts served by
the info service and at C{/tls}.
"""

from __future__ import annotations

import json

from twisted.internet.protocol import Protocol
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.test.requesthelper import DummyRequest

from echohub.testing import TLSClient, connectTLS, serverFactory, temporaryDirectory
from echohub.tls._devcert import ensureDevCertificates
from echohub.tls._info import TLSInfoFactory
from echohub.web._tlsresource import TLSResource


class Reader(Protocol):
    received = b""

    def dataReceived(self, data: bytes) -> None:
        self.received += data


class TLSInfoTests(SynchronousTestCase):
    """
    The info service answers each connection with one JSON line and closes.
    """

    def test_plain(self) -> None:
        """
        Without TLS the line says so.
        """
        protocol = TLSInfoFactory().buildProtocol(None)
        transport = StringTransport()
        protocol.makeConnection(transport)
        self.assertEqual(transport.value(), b'{"tls": null}\n')
        self.assertTrue(transport.disconnecting)

    def test_tls(self) -> None:
        """
        Over TLS the line comes after the handshake and describes it.
        """
        clock = Clock()
        certs = ensureDevCertificates(str(temporaryDirectory(self) / "1"))
        reader = Reader()
        factory = serverFactory(TLSInfoFactory(), certs, clock)
        connectTLS(factory, TLSClient(certs), reader, clock)[2].flush()
        line, rest = reader.received.split(b"\n", 1)
        self.assertEqual(rest, b"")
        facts = json.loads(line)["tls"]
        self.assertEqual(facts["version"], "TLSv1.3")
        self.assertEqual(facts["sni"], "localhost")


class TLSResourceTests(SynchronousTestCase):
    """
    C{/tls} answers with the same facts as JSON.
    """

    def test_plainHTTP(self) -> None:
        """
        Over plain HTTP the facts are C{null}, as JSON, not cached.
        """
        request = DummyRequest([b""])
        request.method = b"GET"
        body = TLSResource().render(request)
        self.assertEqual(json.loads(body), {"tls": None})
        self.assertEqual(
            request.responseHeaders.getRawHeaders(b"Content-Type"),
            [b"application/json"],
        )
        self.assertEqual(
            request.responseHeaders.getRawHeaders(b"Cache-Control"), [b"no-store"]
        )
