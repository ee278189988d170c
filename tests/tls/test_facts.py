"""
Tests for L{echohub.tls._facts}: what a TLS session is reported as, in memory.
"""

from __future__ import annotations

from typing import Any

from cryptography import x509
from OpenSSL import SSL
from twisted.internet.interfaces import IHandshakeListener
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer

from echohub.testing import TLSClient, connectTLS, serverFactory, temporaryDirectory
from echohub.tls._devcert import ensureDevCertificates
from echohub.tls._facts import NO_CLIENT_CERTIFICATE, tlsFacts


@implementer(IHandshakeListener)
class FactsAtHandshake(Protocol):
    """
    Take the facts of the server side as soon as the handshake completes.
    """

    facts: dict[str, Any] | None = None

    def handshakeCompleted(self) -> None:
        self.facts = tlsFacts(self.transport)


class TLSFactsTests(SynchronousTestCase):
    """
    L{tlsFacts} describes version, cipher, group, ALPN, SNI and client
    authentication.
    """

    def setUp(self) -> None:
        self.certs = ensureDevCertificates(
            str(temporaryDirectory(self) / "1"), ["alice"]
        )
        self.other = ensureDevCertificates(
            str(temporaryDirectory(self) / "2"), ["mallory"]
        )
        self.clock = Clock()

    def facts(self, client: TLSClient, **options: Any) -> dict[str, Any]:
        server = FactsAtHandshake()
        factory = serverFactory(
            Factory.forProtocol(lambda: server), self.certs, self.clock, **options
        )
        connectTLS(factory, client, Protocol(), self.clock)[2].flush()
        assert server.facts is not None, "no handshake"
        return server.facts

    def test_plainConnection(self) -> None:
        """
        A transport without TLS has no facts.
        """
        self.assertIsNone(tlsFacts(StringTransport()))
        self.assertIsNone(tlsFacts(None))

    def test_session(self) -> None:
        """
        Version, cipher, group and SNI are those negotiated; no client
        authentication was asked for.
        """
        facts = self.facts(TLSClient(self.certs, version=SSL.TLS1_2_VERSION))
        self.assertEqual(facts["version"], "TLSv1.2")
        self.assertEqual(facts["cipher"], "ECDHE-ECDSA-AES256-GCM-SHA384")
        self.assertEqual(facts["group"], "x25519")
        self.assertEqual(facts["sni"], "localhost")
        self.assertIsNone(facts["alpn"])
        self.assertEqual(facts["client_auth"], "not requested")
        self.assertIsNone(facts["client_certificate"])

    def test_requestedWithoutCertificate(self) -> None:
        """
        On a requesting listener a client without a certificate gets
        "no client certificate".
        """
        facts = self.facts(
            TLSClient(self.certs),
            clientCA=self.certs.ca.certificate.path,
            clientAuth="request",
        )
        self.assertEqual(facts["client_auth"], NO_CLIENT_CERTIFICATE)

    def test_verifiedCertificate(self) -> None:
        """
        A certificate from the configured CA is described and verified.
        """
        facts = self.facts(
            TLSClient(self.certs, "alice"),
            clientCA=self.certs.ca.certificate.path,
            clientAuth="require",
        )
        alice = x509.load_pem_x509_certificate(
            self.certs.clients["alice"].certificate.getContent()
        )
        self.assertEqual(facts["client_auth"], "verified")
        self.assertEqual(
            facts["client_certificate"],
            {
                "subject": "CN=alice",
                "issuer": alice.issuer.rfc4514_string(),
                "serial": format(alice.serial_number, "x"),
                "not_before": alice.not_valid_before_utc.isoformat(),
                "not_after": alice.not_valid_after_utc.isoformat(),
                "verified": True,
                "verify_error": None,
            },
        )

    def test_unverifiedCertificate(self) -> None:
        """
        On a requesting listener a certificate from another CA is accepted
        and reported as not verified, with OpenSSL's reason.
        """
        client = TLSClient(self.certs)
        pair = self.other.clients["mallory"]
        client.context.use_certificate_file(pair.certificate.path)
        client.context.use_privatekey_file(pair.privateKey.path)
        facts = self.facts(
            client, clientCA=self.certs.ca.certificate.path, clientAuth="request"
        )
        self.assertTrue(facts["client_auth"].startswith("not verified: "), facts)
        self.assertIn("issuer certificate", facts["client_auth"])
        self.assertFalse(facts["client_certificate"]["verified"])
        self.assertEqual(facts["client_certificate"]["subject"], "CN=mallory")
