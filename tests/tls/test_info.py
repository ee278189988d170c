"""
Tests for L{echohub.tls._info}: the TLS facts served by the info service
(C{/tls} on the web site is L{tests.web.test_tlsresource}).
"""

from __future__ import annotations

import json

from twisted.internet.protocol import Protocol
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase

from echohub.testing import TLSClient, connectTLS, serverFactory, temporaryDirectory
from echohub.tls._devcert import ensureDevCertificates
from echohub.tls._info import TLSInfoFactory


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
