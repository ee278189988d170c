# -*- test-case-name: tests.line.test_bytes,tests.line.test_protocol -*-
"""
What echohub's TCP echoes share, whatever they echo: admission under the
caps, backpressure, half-close, draining, idle and close timeouts, the
access log line and the byte counts.

L{EchoConnection} is the connection's life; a subclass says only what to
do with the bytes it receives (C{dataReceived}) and what is still owed when
the connection finishes (L{EchoConnection.flushPending}).  The line echo
(L{echohub.line._protocol}) and the byte echo (L{echohub.line._bytes}) are
the two.

Guarantees, for every subclass:

    - Half-close: a client that shuts down its sending side gets everything
      it is owed, then EOF.
    - Backpressure: the transport is registered as its own streaming
      producer, so reading stops while more than the transport's buffer size
      (64 KiB) of echo is unsent; a client that never reads costs a bounded
      amount of memory.
    - Idle connections are closed after C{idle_timeout} seconds without input;
      a connection that is closing but whose peer will not read is aborted
      after C{close_timeout} seconds.
    - Draining: a stopping server lets each connection finish as on a
      half-close.
    - Faults, only where the listener asks for them (L{echohub.faults}):
      the listener's C{fault=}, or the line echo's C{FAULT} line, puts the
      connection's transport under a L{FaultedTransport}, which delays,
      slices, throttles, cuts or resets what is echoed and can stop
      reading; the bounds above still hold.

Every connection counts its own bytes and echoes (L{echohub.ops.ICounted})
for the access log and, batched by its service's L{echohub.ops.ServiceAccess},
the metrics; no call per read.  Its reads come either through
C{dataReceived} (Twisted's path) or, under C{[server] direct_dispatch} on
the epoll reactor, through L{echohub.ops.DirectReader}'s
C{socketReadable}, which reads into the shared L{echohub.ops.RECEIVE_BUFFER}
and hands a subclass's L{EchoConnection.bufferReceived} the size (see
L{echohub.ops._fastread}).
"""

from __future__ import annotations

from typing import Any, ClassVar, Generic, TypeVar
from typing import Protocol as TypingProtocol

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

from echohub._net import cancelCall, formatAddress, openSSLReason
from echohub.faults import (
    RESET,
    Fault,
    FaultedTransport,
    FaultPolicy,
    Step,
    reportFault,
)
from echohub.ops import (
    ConnectionCaps,
    ConnectionRegistry,
    DirectReader,
    ICounted,
    IDrainable,
    LingeringClose,
    Reason,
    ServiceAccess,
    fastWrite,
)

DRAIN_GRACE = 0.05
"""
Seconds a draining connection keeps echoing before it closes (see
L{EchoConnection.drain}).
"""


class ConnectionSettings(TypingProtocol):
    """
    The settings every TCP echo service has (C{[line]}, C{[echo]}).
    """

    @property
    def idle_timeout(self) -> float: ...

    @property
    def close_timeout(self) -> float: ...

    @property
    def max_connections(self) -> int: ...

    @property
    def max_connections_per_peer(self) -> int: ...


@implementer(IHalfCloseableProtocol, IDrainable, ICounted)
class EchoConnection(Protocol, TimeoutMixin, DirectReader):
    """
    One connection of a TCP echo service, but for what it echoes.

    @ivar bytesIn: bytes received; likewise C{bytesOut} sent and C{echoed}
        the lines (or nothing, for the byte echo) echoed: the access log's
        and, through the service's access, the metrics' counts.

    @ivar _closing: set once the connection is being closed; input is then
        ignored and the timeout switches from idle to close.
    @ivar _linger: the lingering close (L{echohub.ops.Lingering}) of a
        connection closed while its client may still be sending, whose
        input a subclass's C{dataReceived} hands to it.
    @ivar _lastInput: when input last arrived, by C{_seconds}.  A subclass's
        C{dataReceived} sets it (C{self._lastInput = self._seconds()})
        instead of calling C{resetTimeout}: the idle timer is re-armed
        lazily, when it fires (L{timeoutConnection}), for what is left of
        the idle timeout, so a read costs one clock read, not a
        C{DelayedCall.reset}.
    @ivar _seconds: the factory's clock.
    """

    factory: EchoFactory[Any]
    transport: Any

    def __init__(self, config: ConnectionSettings) -> None:
        self._idleTimeout = config.idle_timeout or None
        self._closeTimeout = config.close_timeout or None
        self._closing = False
        self._admitted = False
        self._started = 0.0
        self.bytesIn = 0
        self.bytesOut = 0
        self.echoed = 0
        self._closeReason = "connection lost"
        self._drainCall: IDelayedCall | None = None
        self._linger: LingeringClose | None = None
        self._lastInput = 0.0
        self._sentBeforeFault = 0

    def refusal(self, reason: str) -> bytes:
        """
        What a client refused by the caps is told before the connection
        closes.

        @param reason: the cap reached (L{echohub.ops.CAP}, L{echohub.ops.PEER_CAP}).
        @return: nothing by default: an echo that sent bytes it never
            received would corrupt a binary client's stream.
        """
        return b""

    def connectionMade(self) -> None:
        """
        Apply backpressure from the start; then, if the caps admit the peer,
        register for draining and arm the idle timer, else answer
        L{refusal} and close.
        """
        self.transport.registerProducer(self.transport, True)
        self._seconds = self.factory.reactor.seconds
        self._lastInput = self._seconds()
        self.factory.access.add(self)
        peer = self.transport.getPeer()
        refusal = self.factory.access.admit(peer, self.factory.listener)
        if refusal is not None:
            message = self.refusal(refusal)
            if message:
                self._write(message)
            self._close("refused: " + refusal)
            return
        self._admitted = True
        self._started = self.factory.reactor.seconds()
        self.factory.connections.add(self)
        self.setTimeout(self._idleTimeout)
        policy = self.factory.faults
        if policy is not None and policy.fault is not None:
            self.applyFault(policy.fault, "listener")

    def applyFault(self, fault: Fault, chosen: str) -> None:
        """
        From now on, run this connection's output (and reading) through
        C{fault} (L{echohub.faults.FaultedTransport}), counted and logged.

        @param chosen: who chose it, for the log: C{"listener"} or
            C{"client"}.
        """
        transport = self.transport
        transport.unregisterProducer()
        faulted = FaultedTransport(
            transport, fault, self.factory.reactor, self._faultEnded
        )
        self.transport = faulted
        self._sentBeforeFault = self.bytesOut
        faulted.registerProducer(faulted, True)
        faulted.start()
        reportFault(
            self.factory.access.metrics,
            self.factory.service,
            formatAddress(transport.getPeer()),
            fault,
            chosen,
        )

    def _faultEnded(self, step: Step) -> None:
        """
        The fault ends the connection: a reset (sent after this call), or a
        close, lingering so that the client reads what was sent before the
        FIN rather than a reset.
        """
        reason = f"fault {step.cause}"
        if step.action == RESET:
            self._closing = True
            self._closeReason = reason + " (reset)"
            self.setTimeout(None)
        elif not self._closing:
            self._close(reason, linger=True)
        else:
            self.transport.loseConnection()

    def _write(self, data: bytes) -> None:
        """
        Send C{data}, counting it for the access log and the metrics.

        L{echohub.ops.fastWrite} sends at once when nothing is queued, saving the
        reactor turn Twisted's own C{write} waits for; on a transport it
        cannot use (TLS, PROXY protocol, tests) it calls C{transport.write}.

        @param data: bytes, or a view of L{echohub.ops.RECEIVE_BUFFER}.
        """
        self.bytesOut += len(data)
        fastWrite(self.transport, data)

    def flushPending(self) -> None:
        """
        The connection is finishing: send whatever is still owed to the
        client (the line echo's unterminated last line).  Nothing by default.
        """

    def readConnectionLost(self) -> None:
        """
        The client will send no more: send what it is owed and close once
        everything is written.
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
        first bytes waiting in the kernel, unread, and closing a socket with
        unread input resets it, losing the echo the client waits for.
        """
        if not self._closing and self._drainCall is None:
            self._drainCall = self.factory.reactor.callLater(
                DRAIN_GRACE, self._finish, "server draining"
            )

    def _finish(self, reason: str) -> None:
        """
        Finish the connection without losing a byte: send what is owed
        (L{flushPending}), then close once everything is written.

        @param reason: why, for the access log.
        """
        cancelCall(self._drainCall)
        if self._closing:
            return
        self.flushPending()
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
        closing in time is aborted.  A connection that had input since the
        timer was armed is not idle: the timer is armed again for what is
        left of the idle timeout after that input.
        """
        if not self._closing and self._idleTimeout is not None:
            remaining = self._lastInput + self._idleTimeout - self._seconds()
            if remaining > 0:
                self.setTimeout(remaining)
                return
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
        cancelCall(self._drainCall)
        self.factory.connections.remove(self)
        self.factory.access.remove(self)
        if self._linger is not None:
            self._linger.connectionLost()
            self._closeReason += (
                f", lingered ({self._linger.discarded} bytes discarded,"
                f" {self._linger.ended})"
            )
        if not self._admitted:
            return
        if isinstance(self.transport, FaultedTransport):
            # What the fault let through, not what the echo wrote.
            self.bytesOut = self._sentBeforeFault + self.transport.sent
        peer = self.transport.getPeer()
        if reason is not None and reason.check(SSL.Error):
            # Counted here; the TLS layer has logged it, once.
            self._closeReason = f"TLS failure: {openSSLReason(reason.value)}"
            self.factory.access.countRejection(Reason.TLS)
        elif not self._closing and (reason is None or reason.check(ConnectionDone)):
            self._closeReason = "client closed"
        self.factory.access.closed(
            peer,
            self.factory.listener,
            self._started,
            self.bytesIn,
            self.bytesOut,
            self._closeReason,
        )


_Connection = TypeVar("_Connection", bound=EchoConnection)


class EchoFactory(ServerFactory[_Connection], Generic[_Connection]):
    """
    Build the connections of one TCP echo service, sharing its settings,
    clock, drain registry and accounting.

    @cvar service: the service's name, for the default accounting's metrics
        labels and log lines.
    @cvar connectionClass: the protocol built for each connection.
    """

    service: ClassVar[str]
    connectionClass: type[_Connection]

    config: ConnectionSettings

    def __init__(
        self,
        config: ConnectionSettings,
        reactor: IReactorTime | None = None,
        connections: ConnectionRegistry | None = None,
        access: ServiceAccess | None = None,
        listener: str | None = None,
        faults: FaultPolicy | None = None,
    ) -> None:
        """
        @param config: the service's settings, handed to each connection.
        @param reactor: the clock the protocols' timeouts run on; the global
            reactor by default.
        @param connections: where the protocols register for draining; a
            private registry by default.
        @param access: the service's caps, metrics and logs; by default
            private ones with the caps of C{config} and no metrics.
        @param listener: the listener this factory serves, as metrics label
            it; the service's name by default.
        @param faults: the listener's faults (L{echohub.faults}); none by
            default.
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
            access = ServiceAccess(self.service, caps, reactor)
        self.access = access
        self.listener = self.service if listener is None else listener
        self.faults = faults

    def buildProtocol(self, addr: IAddress | None) -> _Connection:
        """
        Build one connection's protocol, its timeouts on our reactor.
        """
        protocol = self.connectionClass(self.config)
        protocol.factory = self
        protocol.callLater = self.reactor.callLater  # type: ignore[assignment]
        return protocol
