# -*- test-case-name: tests.ops.test_linger -*-
"""
Lingering close: how a server ends a connection while the client may still
be sending, without the client losing the server's last words.

When a server closes a socket whose receive buffer holds unread data, the
kernel answers with a reset instead of a FIN, and the client's stack drops
whatever it had received but its application had not yet read: a
WebSocket client that sent a 64 MiB message never sees the C{1009} close
frame, an upload over the body limit never sees its C{413}, a line client
never sees its C{ERROR} line.  nginx's C{lingering_close} exists for
exactly this, and L{LingeringClose} does what it does:

    1. The protocol writes its last words.
    2. The write side is shut down once they are sent: C{shutdown(SHUT_WR)}
       (L{ITCPTransport.loseWriteConnection}) on a plain connection, and on
       TLS our C{close_notify} (C{loseConnection} on the TLS transport, which
       keeps reading until the peer's C{close_notify}): TLS has no half-close
       below the record layer, and a TCP FIN under TLS would be a truncation
       attack as far as the client can tell.
    3. Everything the client still sends is read and discarded, so that the
       receive buffer never fills and the kernel never resets.
    4. The connection closes when the client closes its side, when it has
       been silent for C{idle} seconds (nginx's C{lingering_timeout}), or
       C{total} seconds after step 2 at the latest (C{lingering_time}),
       whichever comes first; a client that never reads what we wrote is
       aborted at C{total} too.

Bounds: memory is one read at a time (nothing is kept); CPU is that of
reading, which is less than the same connection cost while it was served,
and lasts at most C{total} seconds.  The connection stays open, so it stays
in the L{echohub.ops.ConnectionRegistry} (a drain waits for it, up to its own
deadline) and keeps its place under the caps until it really closes.

How a protocol uses it: L{Lingering.close} instead of
C{transport.loseConnection()}; while lingering, C{dataReceived} hands its
data to L{LingeringClose.discard}, C{readConnectionLost} (for a
half-closeable protocol) calls L{LingeringClose.readConnectionLost}, and
C{writeConnectionLost} does nothing; C{connectionLost} calls
L{LingeringClose.connectionLost}.  Those are the only call sites.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from twisted.internet.interfaces import (
    IDelayedCall,
    IReactorTime,
    ISSLTransport,
    ITransport,
)

from echohub._net import cancelCall

LINGERING_TIME = 30.0
"""
nginx's C{lingering_time} default: long enough for a client on a slow link
to notice the answer and stop sending, short enough that a hostile client
holds a connection for no longer than an idle one.
"""

LINGERING_TIMEOUT = 5.0
"""
nginx's C{lingering_timeout} default: a client that has stopped sending for
this long has stopped for good (it read our answer, or it is gone).
"""


@dataclass(frozen=True)
class Lingering:
    """
    The bounds of every lingering close of one service.

    @ivar total: the most seconds a connection lingers, from its write side
        being shut down.
    @ivar idle: the most seconds without input while lingering.  A value of
        C{0} for either disables lingering: the connection closes at once,
        as a plain C{loseConnection} does.
    """

    total: float = LINGERING_TIME
    idle: float = LINGERING_TIMEOUT

    def close(self, transport: ITransport, clock: IReactorTime) -> LingeringClose:
        """
        Start a lingering close of C{transport}, after what was already
        written to it.
        """
        linger = LingeringClose(transport, clock, self.total, self.idle)
        linger.start()
        return linger


def lingeringClose(
    transport: ITransport,
    clock: IReactorTime,
    total: float = LINGERING_TIME,
    idle: float = LINGERING_TIMEOUT,
) -> LingeringClose:
    """
    Start a lingering close of C{transport}: see L{Lingering.close}.
    """
    return Lingering(total, idle).close(transport, clock)


class LingeringClose:
    """
    One connection's lingering close (see the module docstring).

    @ivar discarded: bytes read and thrown away while lingering.
    @ivar ended: why lingering ended (C{"client closed"}, C{"lingering
        idle"}, C{"lingering time"}), or L{None} while it goes on.
    """

    discarded = 0
    ended: str | None = None

    def __init__(
        self, transport: ITransport, clock: IReactorTime, total: float, idle: float
    ) -> None:
        self.transport: Any = transport
        self.clock = clock
        self.total = total
        self.idle = idle
        self._totalCall: IDelayedCall | None = None
        self._idleCall: IDelayedCall | None = None

    def start(self) -> None:
        """
        Shut the write side down after what is buffered, and read again.

        A producer registered on the transport (the transport itself, for
        backpressure, or an HTTP channel) is unregistered first: TCP does
        not shut down a side while a paused producer holds it, and TLS does
        not start its shutdown while any producer is registered.
        """
        transport = self.transport
        transport.unregisterProducer()
        if not (self.total > 0 and self.idle > 0):
            transport.loseConnection()
            return
        resume = getattr(transport, "resumeProducing", None)
        if resume is not None:
            resume()
        if ISSLTransport.providedBy(transport):
            transport.loseConnection()
        else:
            loseWrite = getattr(transport, "loseWriteConnection", None)
            if loseWrite is None:
                transport.loseConnection()
            else:
                loseWrite()
        self._totalCall = self.clock.callLater(self.total, self._end, "lingering time")
        self._idleCall = self.clock.callLater(self.idle, self._end, "lingering idle")

    def discard(self, data: bytes) -> None:
        """
        The client sent more: throw it away and restart the idle bound.
        """
        self.discarded += len(data)
        if self._idleCall is not None and self._idleCall.active():
            self._idleCall.reset(self.idle)

    def readConnectionLost(self) -> None:
        """
        The client closed its side: it will send nothing more, so close
        once our last bytes are sent.
        """
        self._stopTimers("client closed")
        self.transport.loseConnection()

    def _end(self, why: str) -> None:
        """
        A bound passed: close now, dropping anything still unsent (the
        client was given the whole bound to read it).
        """
        self._stopTimers(why)
        self.transport.abortConnection()

    def _stopTimers(self, why: str) -> None:
        if self.ended is None:
            self.ended = why
        cancelCall(self._totalCall)
        cancelCall(self._idleCall)
        self._totalCall = self._idleCall = None

    def connectionLost(self) -> None:
        """
        The connection is closed: stop the bounds' timers.
        """
        self._stopTimers("client closed")
