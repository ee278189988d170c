# -*- test-case-name: tests.line.test_protocol -*-
"""
The line-echo protocol: every complete line a client sends comes back byte
for byte.

Why not L{twisted.protocols.basic.LineReceiver}: it splits on C{\\r\\n} (so
netcat's C{\\n} lines are never delivered), does per-line Python work, and
silently drops the connection at its length limit.  L{LineEcho} instead
echoes, per read, the longest prefix that ends in C{\\n} with one write: the
bytes that come back are exactly the complete lines received, in order, with
no per-line work unless a read is long enough to hold an over-long line.

Guarantees, each pinned by a test in C{tests/test_line.py}:

    - Half-close: a client that shuts down its sending side gets every
      complete line echoed, then its unterminated last line, then EOF.
    - Backpressure: the transport is registered as its own streaming
      producer, so reading stops while more than the transport's buffer size
      (64 KiB) of echo is unsent; a client that never reads costs a bounded
      amount of memory.
    - Over-long lines: the lines before it are echoed, then one C{ERROR} line
      naming the limit, then a lingering close (L{echohub.ops.Lingering}):
      the rest of the line, which the client is likely still sending, is
      read and discarded, so the client reads the C{ERROR} line instead of
      a reset.
    - Idle connections are closed after C{idle_timeout} seconds without input;
      a connection that is closing but whose peer will not read is aborted
      after C{close_timeout} seconds.
"""

from __future__ import annotations

from typing import Any

from OpenSSL import SSL
from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import (
    IAddress,
    IDelayedCall,
    IHalfCloseableProtocol,
    IReactorTime,
)
from twisted.internet.protocol import Protocol, ServerFactory
from twisted.protocols.policies import TimeoutMixin
from twisted.python.failure import Failure
from zope.interface import implementer

from echohub._net import openSSLReason
from echohub.config import LineConfig
from echohub.ops import (
    ConnectionCaps,
    ConnectionRegistry,
    IDrainable,
    LingeringClose,
    Reason,
    ServiceAccess,
    fastWrite,
)

DELIMITER = b"\n"

DRAIN_GRACE = 0.05
"""
Seconds a draining connection keeps echoing before it closes (see
L{LineEcho.drain}).
"""


def findOverlongLine(data: bytes, maxLength: int) -> int:
    """
    Find the first line in C{data} longer than C{maxLength}.

    C{data} must end with the delimiter.  Lines are checked a window of
    C{maxLength + 1} bytes at a time rather than one by one, so short lines
    cost no Python work each.

    @return: the offset at which the first over-long line starts, or C{-1}
        when every line is at most C{maxLength} bytes, delimiter excluded.
    """
    start = 0
    end = len(data)
    while end - start > maxLength + 1:
        lastInWindow = data.rfind(DELIMITER, start, start + maxLength + 1)
        if lastInWindow == -1:
            return start
        start = lastInWindow + 1
    return -1


@implementer(IHalfCloseableProtocol, IDrainable)
class LineEcho(Protocol, TimeoutMixin):
    """
    Echo each complete C{\\n}-terminated line back to the client.

    @ivar _pending: chunks of the current, unterminated line.  A list rather
        than a growing bytes object, so a line arriving a byte at a time costs
        linear, not quadratic, time.
    @ivar _pendingLength: the total length of C{_pending}.
    @ivar _closing: set once the connection is being closed; input is then
        ignored and the timeout switches from idle to close.
    """

    factory: LineEchoFactory
    transport: Any

    def __init__(self, config: LineConfig) -> None:
        self._maxLength = config.max_line_length
        self._idleTimeout = config.idle_timeout or None
        self._closeTimeout = config.close_timeout or None
        self._pending: list[bytes] = []
        self._pendingLength = 0
        self._closing = False
        self._admitted = False
        self._started = 0.0
        self._bytesIn = 0
        self._bytesOut = 0
        self._closeReason = "connection lost"
        self._drainCall: IDelayedCall | None = None
        self._linger: LingeringClose | None = None

    def connectionMade(self) -> None:
        """
        Apply backpressure from the start; then, if the caps admit the peer,
        register for draining and arm the idle timer, else answer one
        C{ERROR} line and close.
        """
        self.transport.registerProducer(self.transport, True)
        peer = self.transport.getPeer()
        refusal = self.factory.access.admit(peer, self.factory.listener)
        if refusal is not None:
            self._write(
                b"ERROR too many connections (%s); try again later\n"
                % (refusal.encode("ascii"),)
            )
            self._close("refused: " + refusal)
            return
        self._admitted = True
        self._started = self.factory.reactor.seconds()
        self.factory.connections.add(self)
        self.setTimeout(self._idleTimeout)

    def _write(self, data: bytes) -> None:
        """
        Send C{data}, counting it for the access log and the metrics.

        L{echohub.ops.fastWrite} sends at once when nothing is queued, saving the
        reactor turn Twisted's own C{write} waits for; on a transport it
        cannot use (TLS, PROXY protocol, tests) it calls C{transport.write}.
        """
        self._bytesOut += len(data)
        self.factory.access.transferred(0, len(data))
        fastWrite(self.transport, data)

    def dataReceived(self, data: bytes) -> None:
        """
        Echo the complete lines in C{data}, keep the unterminated rest.
        """
        if self._closing:
            if self._linger is not None:  # lingering close
                self._linger.discard(data)
            return
        self._bytesIn += len(data)
        self.factory.access.transferred(len(data), 0)
        self.resetTimeout()
        end = data.rfind(DELIMITER) + 1
        if not end:
            self._pending.append(data)
            self._pendingLength += len(data)
            if self._pendingLength > self._maxLength:
                self._lineTooLong(b"")
            return

        lines = data[:end]
        if self._pending:
            self._pending.append(lines)
            lines = b"".join(self._pending)
            self._pending = []
        rest = data[end:]
        self._pendingLength = len(rest)
        if rest:
            self._pending.append(rest)

        if len(lines) > self._maxLength + 1:
            overlong = findOverlongLine(lines, self._maxLength)
            if overlong != -1:
                self._lineTooLong(lines[:overlong])
                return
        self._write(lines)
        self.factory.access.echoed(lines.count(DELIMITER))
        if self._pendingLength > self._maxLength:
            self._lineTooLong(b"")

    def _lineTooLong(self, echo: bytes) -> None:
        """
        Echo what came before the over-long line, report it, and close.

        @param echo: the complete, acceptable lines that preceded it.
        """
        self.factory.access.echoed(echo.count(DELIMITER))
        self._write(
            echo + b"ERROR line too long: the limit is %d bytes (max_line_length);"
            b" closing\n" % (self._maxLength,)
        )
        self._pending = []
        self._pendingLength = 0
        self.factory.access.rejected(
            Reason.TOO_LONG,
            "{service}: closed {peer}: line over {limit} bytes",
            self.transport.getPeer(),
            limit=self._maxLength,
        )
        self._close("line too long", linger=True)

    def readConnectionLost(self) -> None:
        """
        The client will send no more: echo its unterminated last line, if
        any, as it was received, and close once everything is written.
        """
        if self._linger is not None:  # lingering close
            self._linger.readConnectionLost()
            return
        self._finish("client closed")

    def drain(self) -> None:
        """
        The server is stopping: after L{DRAIN_GRACE} seconds, finish as on a
        half-close.

        The grace lets the reactor read what the client already sent: a
        connection accepted just before the listener closed usually has its
        first line waiting in the kernel, unread, and closing a socket with
        unread input resets it, losing the echo the client waits for.
        """
        if not self._closing and self._drainCall is None:
            self._drainCall = self.factory.reactor.callLater(
                DRAIN_GRACE, self._finish, "server draining"
            )

    def _finish(self, reason: str) -> None:
        """
        Finish the connection without losing a byte: echo the unterminated
        last line, if any, then close once everything is written.

        @param reason: why, for the access log.
        """
        if self._drainCall is not None and self._drainCall.active():
            self._drainCall.cancel()
        if self._closing:
            return
        if self._pending:
            self._write(b"".join(self._pending))
            self._pending = []
        self._close(reason)

    def writeConnectionLost(self) -> None:
        """
        Our sending side is shut: nothing more can be echoed, so close,
        unless we are closing already (a lingering close shuts it on
        purpose, and goes on reading).
        """
        if not self._closing:
            self.transport.loseConnection()

    def _close(self, reason: str, linger: bool = False) -> None:
        """
        Close once the echoes already written have been sent.

        The transport is unregistered as its own producer first: a paused
        producer would otherwise keep a closing connection open for ever.  A
        peer that still does not read is aborted by the close timeout.

        @param reason: why, for the access log.
        @param linger: whether the client may still be sending, so that
            closing at once would reset the connection and lose our last
            words: then the close is the service's lingering close, whose
            own bounds replace the close timeout.
        """
        self._closing = True
        self._closeReason = reason
        if linger:
            self.setTimeout(None)
            self._linger = self.factory.access.lingering.close(
                self.transport, self.factory.reactor
            )
            return
        self.transport.unregisterProducer()
        self.transport.loseConnection()
        self.setTimeout(self._closeTimeout)

    def timeoutConnection(self) -> None:
        """
        An idle connection is closed politely; one that would not finish
        closing in time is aborted.
        """
        if self._closing:
            self._closeReason += ", then aborted by close_timeout"
            self.transport.abortConnection()
        else:
            self.factory.access.rejected(
                Reason.TIMEOUT,
                "{service}: closed {peer}: idle for {timeout} s",
                self.transport.getPeer(),
                timeout=self._idleTimeout,
            )
            self._close("idle timeout")

    def connectionLost(self, reason: Failure | None = None) -> None:
        """
        Stop the timers, leave the registry and write the access log line.
        """
        self.setTimeout(None)
        if self._drainCall is not None and self._drainCall.active():
            self._drainCall.cancel()
        self.factory.connections.remove(self)
        if self._linger is not None:
            self._linger.connectionLost()
            self._closeReason += (
                f", lingered ({self._linger.discarded} bytes discarded,"
                f" {self._linger.ended})"
            )
        if not self._admitted:
            return
        peer = self.transport.getPeer()
        if reason is not None and reason.check(SSL.Error):
            self._closeReason = "TLS failure"
            self.factory.access.rejected(
                Reason.TLS,
                "{service}: TLS failed with {peer}: {error}",
                peer,
                error=openSSLReason(reason.value),
            )
        elif not self._closing and (reason is None or reason.check(ConnectionDone)):
            self._closeReason = "client closed"
        self.factory.access.closed(
            peer,
            self.factory.listener,
            self._started,
            self._bytesIn,
            self._bytesOut,
            self._closeReason,
        )


class LineEchoFactory(ServerFactory[LineEcho]):
    """
    Build L{LineEcho} protocols sharing one L{LineConfig}.
    """

    def __init__(
        self,
        config: LineConfig,
        reactor: IReactorTime | None = None,
        connections: ConnectionRegistry | None = None,
        access: ServiceAccess | None = None,
        listener: str = "line",
    ) -> None:
        """
        @param reactor: the clock the protocols' timeouts run on; the global
            reactor by default.
        @param connections: where the protocols register for draining; a
            private registry by default.
        @param access: the service's caps, metrics and logs; by default
            private ones with the caps of C{config} and no metrics.
        @param listener: the listener this factory serves, as metrics label
            it.
        """
        if reactor is None:
            from twisted.internet import reactor as installed

            reactor = installed
        self.config = config
        self.reactor = reactor
        self.connections = ConnectionRegistry() if connections is None else connections
        if access is None:
            caps = ConnectionCaps(
                config.max_connections, config.max_connections_per_peer
            )
            access = ServiceAccess("line", caps, reactor)
        self.access = access
        self.listener = listener

    def buildProtocol(self, addr: IAddress | None) -> LineEcho:
        """
        Build one connection's protocol, its timeouts on our reactor.
        """
        protocol = LineEcho(self.config)
        protocol.factory = self
        protocol.callLater = self.reactor.callLater  # type: ignore[assignment]
        return protocol
