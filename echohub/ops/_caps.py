# -*- test-case-name: tests.ops.test_caps -*-
"""
Connection caps: at most so many connections per service, and at most so
many from one client host.

Twisted's L{twisted.protocols.policies.LimitConnectionsByPeer} would be the
obvious tool, but in Twisted 26.10 it raises C{TypeError} on the address
object and is untested; and as a L{policies.WrappingFactory} it would hide
the line protocol's L{IHalfCloseableProtocol} from the transport.  So caps are
plain bookkeeping here, consulted by each protocol's C{connectionMade}:
that is also the first moment the real client address is known behind a
PROXY protocol header (see L{echohub.proxy}).
"""

from __future__ import annotations

from collections import Counter

CAP = "cap"
PEER_CAP = "peer_cap"


class ConnectionCaps:
    """
    Count the open connections of one service, in total and per host.

    @ivar maxConnections: the total cap; C{0} for none.
    @ivar maxPerPeer: the per-host cap; C{0} for none.
    """

    def __init__(self, maxConnections: int, maxPerPeer: int) -> None:
        self.maxConnections = maxConnections
        self.maxPerPeer = maxPerPeer
        self._open = 0
        self._byPeer: Counter[str] = Counter()

    def __len__(self) -> int:
        return self._open

    def openFrom(self, host: str) -> int:
        """
        The number of admitted connections open from C{host}.
        """
        return self._byPeer[host]

    def admit(self, host: str) -> str | None:
        """
        Admit one connection from C{host}, unless a cap forbids it.

        @return: L{None} if admitted (the caller must L{release} it when it
            closes), else the reason: L{CAP} or L{PEER_CAP}.
        """
        if self.maxConnections and self._open >= self.maxConnections:
            return CAP
        if self.maxPerPeer and self._byPeer[host] >= self.maxPerPeer:
            return PEER_CAP
        self._open += 1
        self._byPeer[host] += 1
        return None

    def release(self, host: str) -> None:
        """
        Forget one admitted connection from C{host}.
        """
        self._open -= 1
        self._byPeer[host] -= 1
        if self._byPeer[host] <= 0:
            del self._byPeer[host]
