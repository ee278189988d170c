"""
Tests for L{echohub.listeners}: endpoint parsing errors and listening.
"""

from __future__ import annotations

from twisted.internet.defer import Deferred, fail
from twisted.internet.error import CannotListenError
from twisted.internet.interfaces import IProtocolFactory, IStreamServerEndpoint
from twisted.internet.protocol import Factory
from twisted.internet.testing import MemoryReactorClock
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer

from echohub.config import ConfigError
from echohub.listeners import ListenError, ListeningService, serverEndpoint


@implementer(IStreamServerEndpoint)
class RefusingEndpoint:
    """
    An endpoint whose port is always in use.
    """

    def listen(self, factory: IProtocolFactory) -> Deferred[object]:
        return fail(
            CannotListenError("127.0.0.1", 7007, OSError(98, "Address already in use"))
        )


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


class ListeningServiceTests(SynchronousTestCase):
    """
    L{ListeningService} binds in privilegedStartService and fails loudly.
    """

    def test_bindsOnPrivilegedStart(self) -> None:
        """
        The port is bound by privilegedStartService and released by
        stopService.
        """
        reactor = MemoryReactorClock()
        service = ListeningService(
            "line", "tcp:7007", serverEndpoint(reactor, "tcp:7007"), Factory()
        )
        service.privilegedStartService()
        service.startService()
        self.assertEqual(len(reactor.tcpServers), 1)
        self.assertIsNotNone(service.port)
        self.successResultOf(service.stopService())
        self.assertIsNone(service.port)

    def test_bindFailureRaises(self) -> None:
        """
        A port in use raises L{ListenError} naming the service, the string and
        the reason.
        """
        service = ListeningService("web", "tcp:7007", RefusingEndpoint(), Factory())
        error = self.assertRaises(ListenError, service.privilegedStartService)
        self.assertIn("web service", str(error))
        self.assertIn("'tcp:7007'", str(error))
        self.assertIn("already in use", str(error))
        self.successResultOf(service.stopService())
