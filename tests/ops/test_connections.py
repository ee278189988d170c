"""
Tests for L{echohub.ops._connections}: draining open connections.
"""

from __future__ import annotations

from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer

from echohub.ops._connections import ConnectionRegistry, IDrainable


@implementer(IDrainable)
class FakeConnection:
    """
    A connection that records drain requests and closes when told to.
    """

    def __init__(self, registry: ConnectionRegistry) -> None:
        self.registry = registry
        self.transport = StringTransport()
        self.drained = 0
        registry.add(self)

    def drain(self) -> None:
        self.drained += 1

    def close(self) -> None:
        self.registry.remove(self)


class ConnectionRegistryTests(SynchronousTestCase):
    """
    L{ConnectionRegistry.drain} asks, waits, then aborts.
    """

    def test_emptyDrainsAtOnce(self) -> None:
        """
        With no connection open, draining is done at once.
        """
        self.successResultOf(ConnectionRegistry().drain(Clock(), 5))

    def test_drainWaitsForEveryConnection(self) -> None:
        """
        Every connection is asked to drain; the drain is done when the last
        one closes, and its deadline is cancelled.
        """
        clock = Clock()
        registry = ConnectionRegistry()
        a, b = FakeConnection(registry), FakeConnection(registry)
        drained = registry.drain(clock, 5)
        self.assertEqual((a.drained, b.drained), (1, 1))
        a.close()
        self.assertNoResult(drained)
        b.close()
        self.successResultOf(drained)
        self.assertEqual(clock.getDelayedCalls(), [])

    def test_deadlineAborts(self) -> None:
        """
        Connections still open at the deadline are aborted.
        """
        clock = Clock()
        registry = ConnectionRegistry()
        stuck = FakeConnection(registry)
        drained = registry.drain(clock, 5)
        clock.advance(4.9)
        self.assertFalse(stuck.transport.disconnected)
        clock.advance(0.1)
        self.assertTrue(stuck.transport.disconnected)
        stuck.close()
        self.successResultOf(drained)

    def test_lateConnectionDrainedAtOnce(self) -> None:
        """
        A connection accepted while draining is asked to drain at once.
        """
        registry = ConnectionRegistry()
        FakeConnection(registry)
        registry.drain(Clock(), 5)
        late = FakeConnection(registry)
        self.assertEqual(late.drained, 1)
