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
from echohub.endpoints import parseTLSOptions, serverEndpoint
from echohub.tls import ListenerTLS


class ServerEndpointTests(SynchronousTestCase):
    """
    L{serverEndpoint} names the string in every error.
    """

    def assertNamed(self, description: str) -> ConfigError:
        error = self.assertRaises(
            ConfigError, serverEndpoint, MemoryReactorClock(), description
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
        serverEndpoint(reactor, "tcp:7007:interface=127.0.0.1").listen(Factory())
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
