# -*- test-case-name: tests.websocket.test_session -*-
"""
The WebSocket echo at C{/ws}: every text and binary message comes back
exactly, pings are answered and the close handshake is completed.

echohub speaks RFC 6455 itself, as it speaks HTTP/1.1 itself
(L{echohub.http._channel}): the opening handshake is one header to compute
(L{echohub.websocket._handshake}), and a server's framing is a codec of a
few hundred lines without I/O (L{echohub.websocket._codec}), while Twisted's
L{twisted.web.websocket} (on wsproto) spent about 45 us of Python on every
small message, reassembled fragments in quadratic time with no size limit,
and had no public way to add one.  L{EchoSession} is the Twisted shell
around the codec: it hands the codec each read, answers its events, and
sends every answer of a read in one write.

What the session does, pinned by C{tests/websocket/test_session.py} and checked
against the Autobahn|Testsuite (C{make autobahn}):

    - B{Echo and answers.}  A message comes back as one frame of its type,
      a ping gets a pong with its payload, a close the same code and
      reason, and the connection closes.  A violation the codec finds
      (C{1002}, C{1007}, C{1009}) is answered after what came before it in
      the same read, and nothing after it is read.
    - B{Closes the client can read.}  A close for what the client sent
      (C{1002}, C{1003}, C{1007}, C{1008}, C{1009}) finds the client still
      sending: closing the socket then would reset the connection and the
      client would never see the close frame.  Those closes are the
      service's lingering close (L{echohub.ops.Lingering}): close frame,
      write side shut, the rest read and discarded within its bounds.
    - B{Frames sent with the handshake} are parsed after the C{101}, in
      order: the HTTP channel hands over what it read after the request.
    - B{An idle policy.}  A ping every C{ping_interval} seconds; a client
      that has not answered the previous ping by the next is closed with
      C{1011}.
    - B{Backpressure.}  The transport is its own streaming producer: while
      a client that sends but never reads has a full send buffer, the
      server stops reading from it, so its echoes cannot pile up in memory.
      The producer is unregistered before every close (a paused producer
      keeps TCP open, any producer keeps TLS from starting its shutdown); a
      close that does not complete within C{close_timeout} (a client that
      does not read) is aborted.
    - B{Draining and accounting.}  The session takes the HTTP channel's place
      in the L{ConnectionRegistry}: draining it closes it with C{1001}.  When
      it ends, the channel's own clean-up runs and one access-log line
      describes the session.

The session rides either HTTP version: what it needs of the connection
under it is an L{Opening} (the handshake's facts for the log, and the
connection's registry and lingering rules) and a transport.  Over HTTP/1.1
the transport is the connection's own (TCP or TLS), handed over by the
channel after the C{101}; over HTTP/2 (RFC 8441) it is the stream, through
L{echohub.websocket._h2.StreamTransport}, and the HTTP/2 connection keeps
its place in the registry, drains its streams and lingers on each itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.internet.protocol import Protocol, connectionDone
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from echohub._net import cancelCall
from echohub.config import WebSocketConfig
from echohub.ops import (
    ConnectionRegistry,
    IDrainable,
    LingeringClose,
    ServiceAccess,
    fastWrite,
    logAccess,
)
from echohub.websocket._codec import (
    ABNORMAL,
    GOING_AWAY,
    INTERNAL_ERROR,
    INVALID_DATA,
    MESSAGE_TOO_BIG,
    POLICY_VIOLATION,
    PROTOCOL_ERROR,
    UNSUPPORTED_DATA,
    CloseReceived,
    Message,
    Ping,
    Pong,
    WebSocketCodec,
)
from echohub.websocket._deflate import DeflateParameters, PerMessageDeflate

_log = Logger()

LINGERING_CODES = frozenset(
    {PROTOCOL_ERROR, UNSUPPORTED_DATA, INVALID_DATA, POLICY_VIOLATION, MESSAGE_TOO_BIG}
)
"""
Close codes for what the client sent: it may well be sending still, so the
close lingers (see the module docstring).
"""


@dataclass(frozen=True)
class Opening:
    """
    What a session knows of the handshake that opened it and of the HTTP
    connection under it, whichever HTTP version that is.

    @ivar access: the web service's caps, metrics and logs: the session's
        counters, and the bounds of its lingering close.
    @ivar httpVersion: C{HTTP/1.1} or C{HTTP/2}, for the log and metrics.
    @ivar status: the handshake's answer, for the log: C{101} (HTTP/1.1),
        C{200} (HTTP/2).
    @ivar method: the handshake's method, for the log.
    @ivar path: the handshake's target, for the log.
    @ivar peer: the client's address, as the access log shows it.
    @ivar origin: the handshake's C{Origin}, C{-} for none.
    @ivar connections: the registry the session joins in place of
        C{replaces}, the HTTP/1.1 channel whose connection it takes over;
        L{None} over HTTP/2, where the connection stays registered and
        drains its streams.
    @ivar replaces: see C{connections}.
    @ivar lingers: whether a close for what the client sent lingers on the
        connection (HTTP/1.1); over HTTP/2 the stream just ends, and the
        wire reads and discards what the client still sends on it.
    """

    access: ServiceAccess
    httpVersion: str
    status: int
    method: str
    path: str
    peer: str
    origin: str
    connections: ConnectionRegistry | None = None
    replaces: IDrainable | None = None
    lingers: bool = True


@implementer(IDrainable)
class EchoSession(Protocol):
    """
    One WebSocket echo session: the protocol the HTTP channel hands its
    connection to after the C{101}, or that rides an HTTP/2 stream after
    the C{200}.

    @ivar transport: the connection's own transport (TCP or TLS), which the
        registry aborts at a drain's deadline; over HTTP/2, the stream's
        L{echohub.websocket._h2.StreamTransport}.
    @ivar opening: the handshake's facts and the connection's rules.
    @ivar codec: the connection's framing.
    @ivar closing: whether the session has started closing; from then on
        nothing more is echoed and nothing more the client sends is read.
    @ivar closeCode: the close code of the session, for the log: the one
        sent or answered, L{None} while there was none.
    @ivar closedBy: C{"client"}, C{"server"}, or C{"network"} (no close
        frame).
    @ivar compression: the extension agreed, for the log and the metrics:
        C{"permessage-deflate"} or C{"none"}.
    """

    transport: Any

    def __init__(
        self,
        opening: Opening,
        config: WebSocketConfig,
        clock: IReactorTime,
        deflate: DeflateParameters | None = None,
    ) -> None:
        self.opening = opening
        self.config = config
        self.clock = clock
        self.closing = False
        self.closeCode: int | None = None
        self.closedBy = "network"
        self.messagesIn = self.messagesOut = 0
        self.bytesIn = self.bytesOut = 0
        self._started = clock.seconds()
        self.codec = WebSocketCodec(
            config.max_message, None if deflate is None else PerMessageDeflate(deflate)
        )
        self.compression = "none" if deflate is None else "permessage-deflate"
        self._out: list[bytes] = []
        self._transportClosing = False
        self._lost = False
        self._pingCall: IDelayedCall | None = None
        self._abortCall: IDelayedCall | None = None
        self._linger: LingeringClose | None = None
        self._awaitingPong = False
        self._pings = 0

    # The hand-over from the HTTP/1.1 channel (echohub.http), which forwards
    # what the client sends and the connection's end, or from the HTTP/2
    # stream's transport: all the session knows of the connection is here
    # and in its opening.

    def accepted(self) -> None:
        """
        The C{101} (or C{200}) is sent: make the transport its own producer
        (the HTTP/1.1 channel's place), take the channel's place in the
        connection registry, and start pinging.
        """
        # The channel is still the transport's producer: a second one cannot
        # be registered while it is.
        self.transport.unregisterProducer()
        self.transport.registerProducer(self.transport, True)
        opening = self.opening
        if opening.connections is not None:
            opening.connections.add(self)
            if opening.replaces is not None:
                opening.connections.remove(opening.replaces)
        metrics = opening.access.metrics
        if metrics is not None:
            metrics.websocketSessions.labels(
                opening.httpVersion, self.compression
            ).inc()
        self._schedulePing()

    # Receiving.

    def dataReceived(self, data: bytes) -> None:
        """
        Hand the client's bytes to the codec and answer its events, all of
        a read's answers in one write.
        """
        if self.closing:
            if self._linger is not None:  # lingering close
                self._linger.discard(data)
            return
        self.bytesIn += len(data)
        codec = self.codec
        out = self._out
        for event in codec.receive(data):
            if isinstance(event, Message):
                self.messagesIn += 1
                out.append(codec.message(event.data, event.text, event.compressed))
                self.messagesOut += 1
            elif isinstance(event, Ping):
                out.append(codec.pong(event.data))
            elif isinstance(event, Pong):
                self._awaitingPong = False
            elif isinstance(event, CloseReceived):
                self._peerClosed(event)
            else:  # a ProtocolViolation
                self.close(event.code, event.reason)
        self._flush()

    def _peerClosed(self, event: CloseReceived) -> None:
        """
        The client sent its close: answer with the same code and reason, and
        close the connection.
        """
        self.closing = True
        self.closeCode = event.code
        self.closedBy = "client"
        self._out.append(self.codec.close(event.code, event.reason))
        self._flush()
        self.closeTransport()

    # Sending.

    def _flush(self) -> None:
        """
        Send the answers gathered, in one write.
        """
        out = self._out
        if out and not self._lost:
            data = b"".join(out) if len(out) > 1 else out[0]
            self.bytesOut += len(data)
            fastWrite(self.transport, data)
        out.clear()

    def _schedulePing(self) -> None:
        if self.config.ping_interval > 0 and not self.closing:
            self._pingCall = self.clock.callLater(self.config.ping_interval, self._ping)

    def _ping(self) -> None:
        """
        Ping, or close a client that did not answer the previous ping.
        """
        self._pingCall = None
        if self._awaitingPong:
            self.close(INTERNAL_ERROR, "no pong")
            return
        self._pings += 1
        self._awaitingPong = True
        self._out.append(self.codec.ping(b"echohub %d" % (self._pings,)))
        self._flush()
        self._schedulePing()

    def close(self, code: int, reason: str = "") -> None:
        """
        Close the session with C{code}: send the close frame and close the
        connection, lingering if the close is for what the client sent,
        else aborting it if it has not closed in C{close_timeout}.
        """
        if self.closing:
            return
        self.closing = True
        if self._lost:
            return
        self.closeCode = code
        self.closedBy = "server"
        self._out.append(self.codec.close(code, reason))
        self._flush()
        self.closeTransport()

    def drain(self) -> None:
        """
        The server is stopping: close with C{1001} (going away).
        """
        self.close(GOING_AWAY, "server shutting down")

    def closeTransport(self) -> None:
        """
        Close the connection once its last bytes are sent.

        The transport stops being its own producer first, and reads again:
        a paused producer keeps a TCP connection open for ever, any producer
        keeps TLS from starting its shutdown, and TLS needs to read the
        client's close_notify.

        A close for what the client sent (L{LINGERING_CODES}) is a lingering
        close, within the service's bounds instead of C{close_timeout}.
        """
        self.closing = True
        self._stopPinging()
        if self._transportClosing:
            return
        self._transportClosing = True
        if self.closeCode in LINGERING_CODES and self.opening.lingers:
            # It unregisters the producer itself, and reads on.
            self._linger = self.opening.access.lingering.close(
                self.transport, self.clock
            )
            return
        self.transport.unregisterProducer()
        self.transport.resumeProducing()
        self.transport.loseConnection()
        if self.config.close_timeout > 0:
            self._abortCall = self.clock.callLater(
                self.config.close_timeout, self.transport.abortConnection
            )

    def _stopPinging(self) -> None:
        cancelCall(self._pingCall)
        self._pingCall = None

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        """
        Cancel the timers, run the HTTP channel's own clean-up, leave the
        registry, and log the session.
        """
        self.closing = self._lost = True
        self._stopPinging()
        cancelCall(self._abortCall)
        if self._linger is not None:  # lingering close
            self._linger.connectionLost()
        opening = self.opening
        if opening.connections is not None:
            opening.connections.remove(self)
        opening.access.echoed(self.messagesOut)
        method, path, origin = opening.method, opening.path, opening.origin
        code = self.closeCode or ABNORMAL
        lingered = (
            ""
            if self._linger is None
            else f"; lingered ({self._linger.discarded} bytes discarded,"
            f" {self._linger.ended})"
        )
        logAccess(
            _log,
            "web",
            opening.peer,
            self.bytesIn,
            self.bytesOut,
            self.clock.seconds() - self._started,
            f"{method} {path} {opening.status}",
            f"; websocket over {opening.httpVersion}, {self.compression},"
            f" {self.messagesIn} messages in, {self.messagesOut} out,"
            f" close {code} by {self.closedBy}, origin {origin}{lingered}",
            method=method,
            path=path,
            messages_in=self.messagesIn,
            messages_out=self.messagesOut,
            code=code,
            closed_by=self.closedBy,
            origin=origin,
            lingered=lingered,
            websocket=True,
            http_version=opening.httpVersion,
            compression=self.compression,
        )
