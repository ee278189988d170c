# -*- test-case-name: tests.ops.test_connections -*-
"""
Open connections, tracked so that a stopping server can drain them.

twistd stops a process by stopping its services and then cutting every
connection still open (C{disconnectAll}), which throws away echoes not yet
written.  echohub's protocols register here instead, and the service asks
each of them to finish and close before it lets the reactor stop, aborting
the stragglers after a deadline.
"""

from __future__ import annotations

from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from zope.interface import Attribute, Interface

from echohub._net import cancelCall


class IDrainable(Interface):
    """
    A connection that can be asked to finish its work and close.
    """

    transport = Attribute("The connection's transport, aborted at the deadline.")

    def drain() -> None:
        """
        Take no new work, finish what is in flight, then close the connection.
        """


class ConnectionRegistry:
    """
    The set of open connections of one process.

    @ivar draining: set once L{drain} was called, for good: the process is
        stopping, and C{/healthz} says so (C{503}) so that a load balancer
        sends nothing more.
    """

    draining = False
    deadline: float | None = None
    """
    When a drain aborts what is still open, by the drain's clock; L{None}
    until L{drain}.  Protocols whose work has an end of its own (a gRPC
    call) finish it just before.
    """

    def __init__(self) -> None:
        self._connections: set[IDrainable] = set()
        self._drained: Deferred[None] | None = None
        self._deadline: IDelayedCall | None = None

    def __len__(self) -> int:
        return len(self._connections)

    def add(self, connection: IDrainable) -> None:
        """
        Track a connection from its C{connectionMade}.  While draining, a
        connection that still slipped in is asked to drain at once.
        """
        self._connections.add(connection)
        if self._drained is not None:
            connection.drain()

    def remove(self, connection: IDrainable) -> None:
        """
        Forget a connection from its C{connectionLost}; the last one to go
        ends a drain.
        """
        self._connections.discard(connection)
        if self._drained is not None and not self._connections:
            self._finish()

    def drain(self, clock: IReactorTime, timeout: float) -> Deferred[None]:
        """
        Ask every connection to drain and wait for them to close.

        @param timeout: seconds after which connections still open are
            aborted.
        @return: a L{Deferred} that fires once no connection is left.
        """
        self.draining = True
        self.deadline = clock.seconds() + timeout
        if not self._connections:
            return succeed(None)
        drained = self._drained = Deferred()
        self._deadline = clock.callLater(timeout, self._abortAll)
        for connection in list(self._connections):
            connection.drain()
        return drained

    def _abortAll(self) -> None:
        """
        The deadline passed: cut whatever is still open.
        """
        self._deadline = None
        for connection in list(self._connections):
            connection.transport.abortConnection()

    def _finish(self) -> None:
        """
        Fire the drain's Deferred and cancel its deadline.
        """
        cancelCall(self._deadline)
        self._deadline = None
        drained, self._drained = self._drained, None
        assert drained is not None
        drained.callback(None)
