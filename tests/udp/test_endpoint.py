"""
Tests for L{echohub.udp._endpoint} and the datagram strings of
L{echohub.endpoints.datagramEndpoint} that build them.
"""

from __future__ import annotations

import os
import socket

from twisted.internet.error import CannotListenError
from twisted.internet.protocol import DatagramProtocol
from twisted.internet.testing import MemoryReactorClock
from twisted.trial.unittest import SynchronousTestCase

from echohub.config import ConfigError
from echohub.endpoints import datagramEndpoint
from echohub.udp._endpoint import AdoptedDatagramServerEndpoint, UDPServerEndpoint


class DatagramEndpointTests(SynchronousTestCase):
    """
    L{datagramEndpoint} reads echohub's C{udp:}, C{udp6:} and C{systemd:}
    datagram strings, naming the string in every error.
    """

    def parse(self, description: str) -> object:
        return datagramEndpoint(MemoryReactorClock(), description, 1473)

    def assertNamed(self, description: str, *fragments: str) -> None:
        error = self.assertRaises(ConfigError, self.parse, description)
        self.assertIn(repr(description), str(error))
        for fragment in fragments:
            self.assertIn(fragment, str(error))

    def test_udp(self) -> None:
        """
        C{udp:PORT} binds every IPv4 address, C{interface=} one, with the
        receive buffer given.
        """
        endpoint = self.parse("udp:7007")
        assert isinstance(endpoint, UDPServerEndpoint)
        self.assertEqual((endpoint.port, endpoint.interface), (7007, ""))
        self.assertEqual(endpoint.maxPacketSize, 1473)
        endpoint = self.parse("udp:7007:interface=127.0.0.1")
        assert isinstance(endpoint, UDPServerEndpoint)
        self.assertEqual(endpoint.interface, "127.0.0.1")

    def test_udp6(self) -> None:
        """
        C{udp6:PORT} binds C{::} unless C{interface=} (escaped) names an
        IPv6 address.
        """
        endpoint = self.parse("udp6:7007")
        assert isinstance(endpoint, UDPServerEndpoint)
        self.assertEqual(endpoint.interface, "::")
        endpoint = self.parse("udp6:0:interface=\\:\\:1")
        assert isinstance(endpoint, UDPServerEndpoint)
        self.assertEqual((endpoint.port, endpoint.interface), (0, "::1"))

    def test_errors(self) -> None:
        """
        Bad ports, families, options and prefixes are each reported with
        the string.
        """
        self.assertNamed("udp:seven")
        self.assertNamed("udp:70000", "65535")
        self.assertNamed("udp:7:interface=\\:\\:1", "udp6:")
        self.assertNamed("udp6:7:interface=127.0.0.1", "IPv6")
        self.assertNamed("udp:7:backlog=5", "backlog")
        self.assertNamed("tcp:7007", "udp:PORT")
        self.assertNamed("systemd:domain=UNIX:name=udp", "INET")
        self.assertNamed("systemd:domain=INET:name=nosuch", "'nosuch'")
        self.assertNamed("systemd:domain=INET:index=9", "index 9")

    def test_systemdResolvedThroughTwisted(self) -> None:
        """
        Twisted's own C{systemd:} parser (which read C{LISTEN_FDS} at
        import) still returns an endpoint with public C{fileno} and
        C{addressFamily}, which L{datagramEndpoint} relies on to find the
        descriptor: this fails if a Twisted release changes that.
        """
        from twisted.internet.endpoints import AdoptedStreamServerEndpoint

        endpoint = AdoptedStreamServerEndpoint(MemoryReactorClock(), 3, socket.AF_INET6)
        self.assertEqual(
            (endpoint.fileno, endpoint.addressFamily), (3, socket.AF_INET6)
        )


class UDPServerEndpointTests(SynchronousTestCase):
    """
    L{UDPServerEndpoint} listens as a stream endpoint does.
    """

    def test_listens(self) -> None:
        """
        C{listen} binds with the reactor's C{listenUDP}, the receive buffer
        as C{maxPacketSize}, and fires with the port.
        """
        calls: list[tuple[object, ...]] = []

        class Reactor:
            def listenUDP(self, *args: object) -> str:
                calls.append(args)
                return "the port"

        protocol = DatagramProtocol()
        port = self.successResultOf(
            UDPServerEndpoint(Reactor(), 7007, "::1", 1473).listen(protocol)  # type: ignore[arg-type]
        )
        self.assertEqual(calls, [(7007, protocol, "::1", 1473)])
        self.assertEqual(port, "the port")

    def test_bindFailure(self) -> None:
        """
        A port that cannot be bound fails the Deferred, not raises.
        """
        from twisted.internet import reactor

        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
            taken.bind(("127.0.0.1", 0))
            endpoint = UDPServerEndpoint(
                reactor, taken.getsockname()[1], "127.0.0.1", 1473
            )
            self.failureResultOf(endpoint.listen(DatagramProtocol()), CannotListenError)


class AdoptedDatagramServerEndpointTests(SynchronousTestCase):
    """
    L{AdoptedDatagramServerEndpoint} adopts an inherited datagram socket.
    """

    def test_adoptsNonBlockingAndClosesDescriptor(self) -> None:
        """
        The socket is made non-blocking (C{adoptDatagramPort} requires it),
        adopted with its family and receive buffer, and the inherited
        descriptor closed; it cannot be adopted twice.
        """
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addCleanup(sock.close)
        fd = os.dup(sock.fileno())
        reactor = MemoryReactorClock()
        endpoint = AdoptedDatagramServerEndpoint(reactor, fd, socket.AF_INET, 1473)
        protocol = DatagramProtocol()
        self.successResultOf(endpoint.listen(protocol))
        self.assertEqual(reactor.adoptedPorts, [(fd, socket.AF_INET, protocol, 1473)])
        self.assertFalse(os.get_blocking(sock.fileno()))
        self.assertRaises(OSError, os.fstat, fd)
        self.failureResultOf(endpoint.listen(protocol), ValueError)

    def test_streamSocketRefused(self) -> None:
        """
        A stream socket (a C{ListenStream=} unit named by mistake) is
        refused, saying what it is.
        """
        with socket.socket() as stream:
            error = self.assertRaises(
                ValueError,
                AdoptedDatagramServerEndpoint,
                MemoryReactorClock(),
                stream.fileno(),
                socket.AF_INET,
                1473,
            )
        self.assertIn("SOCK_STREAM", str(error))
