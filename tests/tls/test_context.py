"""
Tests for L{echohub.tls._context}: the TLS policy of every listener, the checks on
its files and options, and reloading.
"""

from __future__ import annotations

from pathlib import Path

from OpenSSL import SSL
from twisted.internet.interfaces import IHandshakeListener, IProtocolNegotiationFactory
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.task import Clock
from twisted.internet.testing import EventLoggingObserver, MemoryReactorClock
from twisted.logger import formatEvent, globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.http import HTTPFactory
from zope.interface import implementer

from echohub.config import ConfigError, TLSConfig
from echohub.endpoints import parseListener
from echohub.testing import (
    TLSClient,
    connectTLS,
    serverFactory,
    serverSettings,
    temporaryDirectory,
)
from echohub.tls._context import (
    ListenerTLS,
    ReloadableServerContext,
    TLSConfigError,
    buildContext,
)
from echohub.tls._devcert import ensureDevCertificates
from echohub.tls._protocol import TLSServerEndpoint, TLSServerFactory

MOZILLA_INTERMEDIATE_TLS12 = {
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305",
    "ECDHE-RSA-CHACHA20-POLY1305",
}
MOZILLA_TLS13 = {
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
}


@implementer(IHandshakeListener)
class HandshakeListener(Protocol):
    """
    Record whether the TLS handshake completed.
    """

    completed = False

    def handshakeCompleted(self) -> None:
        self.completed = True


class ContextTests(SynchronousTestCase):
    """
    L{buildContext} applies Mozilla's profiles and checks the files.
    """

    def setUp(self) -> None:
        self.certs = ensureDevCertificates(
            str(temporaryDirectory(self) / "1"), ["alice"]
        )
        self.clock = Clock()

    def handshake(
        self, client: TLSClient, wrapped: Factory | None = None, **options: object
    ) -> SSL.Connection | None:
        """
        Connect C{client} to a server with C{options}.

        @return: the client's OpenSSL connection after a completed
            handshake, or L{None} if the handshake failed.
        """
        factory = serverFactory(
            wrapped or Factory.forProtocol(Protocol), self.certs, self.clock, **options
        )
        listener = HandshakeListener()
        clientTLS, _, pump = connectTLS(factory, client, listener, self.clock)
        # Taken now: the TLS protocol drops it when the connection is lost.
        connection: SSL.Connection = clientTLS.getHandle()
        pump.flush()
        return connection if listener.completed else None

    def test_intermediateCiphers(self) -> None:
        """
        An intermediate context offers exactly the profile's ECDHE AEAD
        suites and TLS 1.3 suites.
        """
        context, _ = buildContext(serverSettings(self.certs))
        offered = set(SSL.Connection(context, None).get_cipher_list())
        self.assertEqual(offered, MOZILLA_INTERMEDIATE_TLS12 | MOZILLA_TLS13)

    def test_options(self) -> None:
        """
        Compression, renegotiation and session tickets are off.
        """
        context, _ = buildContext(serverSettings(self.certs))
        options = context.set_options(0)
        for option in (
            SSL.OP_NO_COMPRESSION,
            SSL.OP_NO_RENEGOTIATION,
            SSL.OP_NO_TICKET,
        ):
            self.assertTrue(options & option)

    def test_versions(self) -> None:
        """
        Intermediate speaks TLS 1.2 and 1.3 but not 1.1; modern only 1.3.
        """
        for version, profile, expected in [
            (SSL.TLS1_2_VERSION, "intermediate", "TLSv1.2"),
            (SSL.TLS1_3_VERSION, "intermediate", "TLSv1.3"),
            (SSL.TLS1_1_VERSION, "intermediate", None),
            (SSL.TLS1_2_VERSION, "modern", None),
            (SSL.TLS1_3_VERSION, "modern", "TLSv1.3"),
        ]:
            client = TLSClient(self.certs, version=version)
            client.context.set_cipher_list(b"ALL:@SECLEVEL=0")
            connection = self.handshake(client, profile=profile)
            self.assertEqual(
                connection and connection.get_protocol_version_name(), expected
            )

    def test_groups(self) -> None:
        """
        X25519, P-256 and P-384 are accepted; X448 and P-521 are not.
        """
        from OpenSSL import _util

        for group, accepted in [
            (b"X25519", True),
            (b"P-256", True),
            (b"P-384", True),
            (b"X448", False),
            (b"P-521", False),
        ]:
            client = TLSClient(self.certs)
            _util.lib.SSL_CTX_set1_curves_list(client.context._context, group)
            self.assertEqual(self.handshake(client) is not None, accepted, group)

    def test_rootNeverSent(self) -> None:
        """
        A certificate file that ends with the self-signed root serves the
        leaf without it.
        """
        withRoot = Path(str(temporaryDirectory(self) / "2"))
        withRoot.write_bytes(
            self.certs.server.certificate.getContent()
            + self.certs.ca.certificate.getContent()
        )
        creator = ReloadableServerContext(
            ListenerTLS(self.certs.server.privateKey.path, str(withRoot))
        )
        factory = TLSServerFactory(
            creator, Factory.forProtocol(Protocol), self.clock, None
        )
        clientTLS, _, pump = connectTLS(
            factory, TLSClient(self.certs), Protocol(), self.clock
        )
        pump.flush()
        chain = clientTLS.getHandle().get_peer_cert_chain(as_cryptography=True)
        self.assertEqual([c.subject.rfc4514_string() for c in chain], ["CN=localhost"])

    def test_alpnFromWrappedFactory(self) -> None:
        """
        ALPN selects from what the wrapped factory accepts (an HTTP/1.1
        site here) and, without a common protocol, goes on with none.
        """

        @implementer(IProtocolNegotiationFactory)
        class HTTP11Only(HTTPFactory):
            def acceptableProtocols(self) -> list[bytes]:
                return [b"http/1.1"]

        for offered, selected in [
            ([b"h2", b"http/1.1"], b"http/1.1"),
            ([b"h2"], b""),
        ]:
            connection = self.handshake(
                TLSClient(self.certs, alpn=offered), HTTP11Only(reactor=self.clock)
            )
            assert connection is not None
            self.assertEqual(connection.get_alpn_proto_negotiated(), selected)

    def test_requireClientCertificate(self) -> None:
        """
        C{clientAuth=require} fails the handshake of a client without a
        certificate and completes it for one with a certificate from the CA.
        """
        for client, accepted in [(None, False), ("alice", True)]:
            server = HandshakeListener()
            factory = serverFactory(
                Factory.forProtocol(lambda server=server: server),  # type: ignore[misc]
                self.certs,
                self.clock,
                clientCA=self.certs.ca.certificate.path,
                clientAuth="require",
            )
            connectTLS(factory, TLSClient(self.certs, client), Protocol(), self.clock)[
                2
            ].flush()
            self.assertEqual(server.completed, accepted, client)

    def test_fileErrorsNamed(self) -> None:
        """
        Each unusable file is reported with its path and what is wrong.
        """
        server = self.certs.server
        notPEM = Path(str(temporaryDirectory(self) / "3"))
        notPEM.write_bytes(b"hello")
        cases = [
            (ListenerTLS("missing.pem", server.certificate.path), "does not exist"),
            (
                ListenerTLS(server.privateKey.path, str(notPEM)),
                "no valid PEM certificate",
            ),
            (
                ListenerTLS(str(notPEM), server.certificate.path),
                "no valid PEM private key",
            ),
            (
                ListenerTLS(
                    self.certs.clients["alice"].privateKey.path, server.certificate.path
                ),
                "does not match",
            ),
            (
                ListenerTLS(
                    server.privateKey.path,
                    server.certificate.path,
                    clientCA=str(temporaryDirectory(self) / "4"),
                ),
                "does not exist",
            ),
        ]
        for settings, why in cases:
            error = self.assertRaises(TLSConfigError, buildContext, settings)
            self.assertIn(why, str(error))

    def test_encryptedKey(self) -> None:
        """
        An encrypted key is refused with a message that says so.
        """
        from cryptography.hazmat.primitives import serialization

        key = serialization.load_pem_private_key(
            self.certs.server.privateKey.getContent(), None
        )
        encrypted = Path(str(temporaryDirectory(self) / "5"))
        encrypted.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.BestAvailableEncryption(b"secret"),
            )
        )
        error = self.assertRaises(
            TLSConfigError,
            buildContext,
            ListenerTLS(str(encrypted), self.certs.server.certificate.path),
        )
        self.assertIn("encrypted", str(error))

    def test_clientCADirectory(self) -> None:
        """
        C{clientCA} may name a directory of CA files.
        """
        context, _ = buildContext(
            serverSettings(
                self.certs, clientCA=self.certs.trustRoots.path, clientAuth="request"
            )
        )
        self.assertEqual(
            context.get_verify_mode(), SSL.VERIFY_PEER | SSL.VERIFY_CLIENT_ONCE
        )


class ReloadTests(SynchronousTestCase):
    """
    L{ReloadableServerContext.reload} swaps in new files, or keeps the old
    ones with one log line.
    """

    def setUp(self) -> None:
        self.first = ensureDevCertificates(str(temporaryDirectory(self) / "6"))
        self.second = ensureDevCertificates(str(temporaryDirectory(self) / "7"))
        self.directory = Path(str(temporaryDirectory(self) / "8"))
        self.directory.mkdir()
        self.cert = self.directory / "cert.pem"
        self.key = self.directory / "key.pem"
        self.install(
            self.first.server.certificate.getContent(),
            self.first.server.privateKey.getContent(),
        )
        self.creator = ReloadableServerContext(
            ListenerTLS(str(self.key), str(self.cert))
        )
        self.log = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)

    def install(self, cert: bytes, key: bytes) -> None:
        self.cert.write_bytes(cert)
        self.key.write_bytes(key)

    def test_reloadSwapsCertificate(self) -> None:
        """
        After a reload, new connections use the new certificate; a
        connection made before keeps the old context.
        """
        before = self.creator.serverConnectionForTLS(None)
        self.install(
            self.second.server.certificate.getContent(),
            self.second.server.privateKey.getContent(),
        )
        self.assertTrue(self.creator.reload("ssl:7443"))
        after = self.creator.serverConnectionForTLS(None)
        serial = after.get_context()
        self.assertIsNot(before.get_context(), serial)
        [event] = self.log
        self.assertIn("now serving CN=localhost, serial", formatEvent(event))
        self.assertIn(
            format(self.creator.certificate.serial_number, "x"), formatEvent(event)
        )

    def test_badFilesKeepCurrent(self) -> None:
        """
        A new certificate without its new key is refused: the old
        certificate stays, and one error line names the listener and cause.
        """
        old = self.creator.certificate
        self.cert.write_bytes(self.second.server.certificate.getContent())
        self.assertFalse(self.creator.reload("ssl:7443"))
        self.assertIs(self.creator.certificate, old)
        [event] = self.log
        message = formatEvent(event)
        self.assertIn("TLS reload of ssl:7443 refused", message)
        self.assertIn("does not match", message)


class EndpointTests(SynchronousTestCase):
    """
    L{echohub.endpoints.parseListener} builds TLS listeners with echohub's
    TLS, and refuses Twisted's C{tls:}.
    """

    def setUp(self) -> None:
        self.certs = ensureDevCertificates(str(temporaryDirectory(self) / "9"))
        self.files = (
            f"privateKey={self.certs.server.privateKey.path}"
            f":certKey={self.certs.server.certificate.path}"
        )

    def test_sslString(self) -> None:
        """
        An C{ssl:} string gives echohub's TLS endpoint with the defaults of
        C{[tls]}.
        """
        endpoint = parseListener(
            MemoryReactorClock(),
            f"ssl:7443:interface=127.0.0.1:{self.files}",
            TLSConfig(handshake_timeout=3),
        ).endpoint
        assert isinstance(endpoint, TLSServerEndpoint)
        self.assertEqual(endpoint.handshakeTimeout, 3)

    def test_tlsOverOtherEndpoints(self) -> None:
        """
        TLS keys on another endpoint string put echohub's TLS over it.
        """
        endpoint = parseListener(
            MemoryReactorClock(), f"tcp:7443:{self.files}:profile=modern"
        ).endpoint
        assert isinstance(endpoint, TLSServerEndpoint)
        assert isinstance(endpoint.creator, ReloadableServerContext)
        self.assertEqual(endpoint.creator.settings.profile, "modern")

    def test_twistedTLSRefused(self) -> None:
        """
        A C{tls:} server string is refused with a pointer to C{ssl:}.
        """
        error = self.assertRaises(
            ConfigError, parseListener, MemoryReactorClock(), "tls:/etc/certs:port=443"
        )
        self.assertIn("ssl:PORT", str(error))
