# -*- test-case-name: tests.test_endpoints -*-
"""
Tests for L{echohub.endpoints}: echohub's endpoint-string dialect, its TLS
options and the errors it gives for a bad string.
"""

from __future__ import annotations

from twisted.internet.protocol import Factory
from twisted.internet.testing import MemoryReactorClock
from twisted.trial.unittest import SynchronousTestCase

from echohub.config import ConfigError, TLSConfig
from echohub.endpoints import Listener, parseListener, parseTLSOptions
from echohub.testing import temporaryDirectory
from echohub.tls import ListenerTLS, ensureDevCertificates


class ServerEndpointTests(SynchronousTestCase):
    """
    L{parseListener} names the string in every error.
    """

    def assertNamed(self, description: str) -> ConfigError:
        error = self.assertRaises(
            ConfigError, parseListener, MemoryReactorClock(), description
        )
        self.assertIn(repr(description), str(error))
        return error

    def test_badPort(self) -> None:
        """
        A port that is not a number is reported with the string.
        """
        self.assertNamed("tcp:seven")

    def test_unknownPrefix(self) -> None:
        """
        An unknown endpoint type is reported with the string.
        """
        self.assertNamed("nosuch:1")

    def test_unknownSslOption(self) -> None:
        """
        An ssl: option echohub does not know is named.
        """
        error = self.assertNamed("ssl:1:privateKey=k.pem:certkey=c.pem")
        self.assertIn("certkey", str(error))

    def test_tcpBuilt(self) -> None:
        """
        A valid tcp: string gives an endpoint that listens on the reactor.
        """
        reactor = MemoryReactorClock()
        parseListener(reactor, "tcp:7007:interface=127.0.0.1").endpoint.listen(
            Factory()
        )
        self.assertEqual(reactor.tcpServers[0][0], 7007)
        self.assertEqual(reactor.tcpServers[0][3], "127.0.0.1")


class ParseTests(SynchronousTestCase):
    """
    L{parseTLSOptions} fills in defaults and refuses bad options before any
    file is read.
    """

    def test_defaults(self) -> None:
        """
        Without options: intermediate, the key file doubles as certificate
        file, no client authentication, the global handshake timeout.
        """
        settings, timeout = parseTLSOptions({"privateKey": "k.pem"}, TLSConfig())
        self.assertEqual(settings, ListenerTLS("k.pem", "k.pem"))
        self.assertEqual(timeout, 10.0)

    def test_globalDefaults(self) -> None:
        """
        C{[tls] profile} and C{handshake_timeout} apply when the string is
        silent; 0 turns the timeout off.
        """
        settings, timeout = parseTLSOptions(
            {"privateKey": "k"}, TLSConfig(profile="modern", handshake_timeout=0)
        )
        self.assertEqual(settings.profile, "modern")
        self.assertIsNone(timeout)

    def test_stringWins(self) -> None:
        """
        The string's own options win over the global defaults.
        """
        settings, timeout = parseTLSOptions(
            {"privateKey": "k", "profile": "intermediate", "handshakeTimeout": "2.5"},
            TLSConfig(profile="modern"),
        )
        self.assertEqual(settings.profile, "intermediate")
        self.assertEqual(timeout, 2.5)

    def test_clientCARequiresByDefault(self) -> None:
        """
        C{clientCA=} alone requires client certificates.
        """
        settings, _ = parseTLSOptions({"privateKey": "k", "clientCA": "ca.pem"})
        self.assertEqual(settings.clientAuth, "require")

    def test_badOptions(self) -> None:
        """
        Unknown profiles or client-auth modes, C{clientAuth} without
        C{clientCA}, negative timeouts and unknown keys are named.
        """
        for options, named in [
            ({"profile": "old"}, "profile='old'"),
            ({"clientCA": "c", "clientAuth": "maybe"}, "clientAuth='maybe'"),
            ({"clientAuth": "request"}, "clientCA="),
            ({"handshakeTimeout": "-1"}, "handshakeTimeout"),
            ({"certkey": "c"}, "certkey"),
        ]:
            error = self.assertRaises(ValueError, parseTLSOptions, options)
            self.assertIn(named, str(error))


class ListenerTests(SynchronousTestCase):
    """
    L{parseListener} reads a string once into everything a listener and its
    metrics need: label, endpoint, TLS settings, PROXY layer.
    """

    def setUp(self) -> None:
        certs = ensureDevCertificates(str(temporaryDirectory(self) / "certs"))
        self.key = certs.server.privateKey.path
        self.cert = certs.server.certificate.path

    def test_plain(self) -> None:
        """
        A plain string keeps its description; the label drops options that
        say nothing about where it listens.
        """
        listener = parseListener(
            MemoryReactorClock(), "tcp:7007:interface=127.0.0.1:backlog=9"
        )
        self.assertIsInstance(listener, Listener)
        self.assertEqual(listener.description, "tcp:7007:interface=127.0.0.1:backlog=9")
        self.assertEqual(listener.label, "tcp:7007:interface=127.0.0.1")
        self.assertIsNone(listener.tls)
        self.assertFalse(listener.proxied)

    def test_labelKeepsEscapes(self) -> None:
        """
        An escaped IPv6 interface is escaped again in the label.
        """
        listener = parseListener(MemoryReactorClock(), "tcp6:7007:interface=\\:\\:1")
        self.assertEqual(listener.label, "tcp6:7007:interface=\\:\\:1")

    def test_sslSettings(self) -> None:
        """
        An C{ssl:} string's TLS settings and handshake timeout are in the
        value, the certificate paths out of the label, and the TCP port
        under TLS listens where the string says.
        """
        reactor = MemoryReactorClock()
        listener = parseListener(
            reactor,
            f"ssl:7443:interface=127.0.0.1:privateKey={self.key}:certKey={self.cert}"
            ":handshakeTimeout=4:profile=modern",
            TLSConfig(),
        )
        self.assertEqual(listener.label, "ssl:7443:interface=127.0.0.1")
        self.assertEqual(
            listener.tls,
            ListenerTLS(
                privateKey=self.key,
                certKey=self.cert,
                extraCertChain=None,
                profile="modern",
                clientCA=None,
                clientAuth=None,
            ),
        )
        self.assertEqual(listener.handshakeTimeout, 4.0)
        transport = listener.endpoint.transport  # type: ignore[attr-defined]
        transport.listen(Factory())
        self.assertEqual(reactor.tcpServers[0][0], 7443)
        self.assertEqual(reactor.tcpServers[0][3], "127.0.0.1")

    def test_proxyOutsideTLS(self) -> None:
        """
        C{haproxy:} with TLS keys reads the PROXY header before TLS: the
        PROXY endpoint is under the TLS one, over the plain TCP port.
        """
        reactor = MemoryReactorClock()
        listener = parseListener(
            reactor, f"haproxy:tcp:7007:privateKey={self.key}:certKey={self.cert}"
        )
        self.assertTrue(listener.proxied)
        self.assertEqual(listener.label, "haproxy:tcp:7007")
        self.assertIsNotNone(listener.tls)
        proxy = listener.endpoint.transport  # type: ignore[attr-defined]
        proxy.wrapped.listen(Factory())
        self.assertEqual(reactor.tcpServers[0][0], 7007)

    def test_unknownTLSOptionNamed(self) -> None:
        """
        A bad TLS value on a non-C{ssl:} string names the string.
        """
        error = self.assertRaises(
            ConfigError,
            parseListener,
            MemoryReactorClock(),
            "tcp:1:privateKey=k:clientAuth=maybe:clientCA=ca",
        )
        self.assertIn("'tcp:1:privateKey=k:clientAuth=maybe:clientCA=ca'", str(error))
        self.assertIn("clientAuth", str(error))
