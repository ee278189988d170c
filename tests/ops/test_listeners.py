"""
Tests for L{echohub.ops._listeners}: binding or failing start-up.
"""

from __future__ import annotations

from twisted.internet.protocol import Factory
from twisted.internet.testing import MemoryReactorClock
from twisted.trial.unittest import SynchronousTestCase

from echohub.endpoints import parseListener
from echohub.ops._listeners import ListenError, ListeningService
from echohub.testing import RefusingEndpoint


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
            "line", "tcp:7007", parseListener(reactor, "tcp:7007").endpoint, Factory()
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
