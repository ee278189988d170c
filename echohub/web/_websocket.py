# -*- test-case-name: tests.web.test_websocket -*-
"""
The WebSocket echo at C{/ws}: every text and binary message comes back
exactly, pings are answered and the close handshake is completed, by
L{twisted.web.websocket}.

What stock Twisted 26.10 does not do, and L{EchoSession} and
L{EchoWebSocketResource} add:

    - B{A message-size cap enforced while receiving.}  Twisted reassembles a
      fragmented message by repeated concatenation (quadratic) with no
      limit.  The session replaces the wire protocol's two reassembly
      buffers with L{MessageBuffer}s, which append to a C{bytearray} (linear)
      and close the connection with C{1009} in the reactor turn in which the
      message passes C{[websocket] max_message}, dropping the rest: memory
      stays within the cap plus one read.  Twisted has no public way to
      bound or replace them; L{installMessageBuffers} is the one place that
      touches its private attributes, and raises if they are gone.
    - B{Closes the client can read.}  A close the server starts because of
      what the client sends (C{1009}, or wsproto's C{1002}/C{1007} for a
      malformed frame or invalid UTF-8) finds the client still sending:
      closing the socket then would reset the connection and the client
      would never see the close frame.  Those closes are the service's
      lingering close (L{echohub.ops.Lingering}): close frame, write side
      shut, the rest read and discarded within its bounds.
    - B{Frames sent with the handshake.}  A client may send its first frames
      in the same packet as the upgrade request.  Twisted's HTTP channel
      has already read them, and after the upgrade its parser goes on to
      hand them to its own request-body code, which drops them (Twisted
      26.10's C{_protocolUpgradeForWebsockets} redirects only later reads).
      The session takes the channel's C{rawDataReceived} too, so those
      bytes reach the wire protocol after the C{101}, in order.
    - B{Handshake validation} (RFC 6455 section 4.2.1, 4.4), which wsproto
      leaves out or answers with Twisted's error-level log line: a
      C{Sec-WebSocket-Key} that is not the base64 of 16 bytes, a missing
      C{Connection: upgrade} or an HTTP version before 1.1 gets C{400}; a
      C{Sec-WebSocket-Version} other than C{13} gets C{426} with
      C{Sec-WebSocket-Version: 13}.  Each is logged at info level.
    - B{An idle policy.}  A ping every C{ping_interval} seconds; a client
      that has not answered one by the next is closed with C{1011}.
    - B{An Origin policy.}  A browser page from another origin could open a
      WebSocket to this server with its visitor's network position, so a
      handshake whose C{Origin} is neither this site's own nor in
      C{allowed_origins} gets C{403}.  Requests without C{Origin} (curl, the
      C{websockets} library, any non-browser client) are accepted: only
      browsers send it, and only browsers need protecting.
    - B{Backpressure.}  The connection's transport is attached as its own
      producer (L{WebSocketTransport.attachProducer}, the public route), so
      while a client that sends but never reads has a full send buffer, the
      server stops reading from it: its echoes cannot pile up in memory.
    - B{The producer and TLS close fix.}  After the upgrade the HTTP channel
      is still the transport's registered producer: a second producer
      cannot be registered, and over TLS C{loseConnection} never starts the
      TLS shutdown while a producer is registered, so a server-initiated
      close hung.  The session unregisters it once negotiation finishes,
      and unregisters its own before every close.  A close that does not
      complete within C{close_timeout} (a client that does not read) is
      aborted.
    - B{Draining and accounting.}  The session takes the HTTP channel's place
      in the L{ConnectionRegistry}: draining it closes it with C{1001}.  When
      it ends, the channel's own clean-up runs (Twisted's upgrade bypasses
      it) and one access-log line describes the session.
"""

from __future__ import annotations

import binascii
import struct
from collections.abc import Callable, Iterable
from typing import Any, Generic, TypeVar

from twisted.internet.interfaces import (
    IConsumer,
    IDelayedCall,
    IProducer,
    IReactorTime,
    ITransport,
)
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.iweb import IRequest
from twisted.web.server import Request
from twisted.web.websocket import WebSocketResource, WebSocketTransport
from zope.interface import implementer

from echohub._net import cancelCall, formatAddress
from echohub._upstream import installMessageBuffers
from echohub.config import WebSocketConfig
from echohub.ops import IDrainable, LingeringClose, logAccess
from echohub.web._cors import normalOrigin
from echohub.web._resource import plainText

_log = Logger()

# Close codes (RFC 6455, section 7.4.1).
GOING_AWAY = 1001
PROTOCOL_ERROR = 1002
UNSUPPORTED_DATA = 1003
NO_STATUS = 1005
ABNORMAL = 1006
INVALID_DATA = 1007
POLICY_VIOLATION = 1008
MESSAGE_TOO_BIG = 1009
INTERNAL_ERROR = 1011

LINGERING_CODES = frozenset(
    {PROTOCOL_ERROR, UNSUPPORTED_DATA, INVALID_DATA, POLICY_VIOLATION, MESSAGE_TOO_BIG}
)
"""
Close codes for what the client sent: it may well be sending still, so the
close lingers (see the module docstring).
"""

WEBSOCKET_VERSION = b"13"

_Message = TypeVar("_Message", str, bytes)


class MessageBuffer(Generic[_Message]):
    """
    Reassembles one message from its fragments, up to a size limit.

    It stands in for the C{Buffer} of Twisted's wire protocol, which calls
    L{add} with each piece of a message as wsproto parses it (pieces of a
    frame included, so a single huge frame is seen as it arrives) and
    L{done} when the message is complete.

    Text pieces are stored encoded, so the limit counts bytes on the wire
    and a message costs its size in memory, whatever its fragmentation.
    """

    def __init__(self, session: EchoSession, text: bool) -> None:
        self.session = session
        self.text = text
        self._data = bytearray()

    def add(self, piece: _Message) -> None:
        """
        Append C{piece}, or have the session close the connection if the
        message is now over the limit.
        """
        if self.session.closing:
            return
        data = piece.encode("utf-8") if isinstance(piece, str) else piece
        if len(self._data) + len(data) > self.session.config.max_message:
            self._data = bytearray()
            self.session.messageTooBig()
            return
        self._data += data

    def done(self) -> Any:
        """
        The complete message, and an empty buffer for the next.
        """
        data, self._data = self._data, bytearray()
        return data.decode("utf-8") if self.text else bytes(data)


@implementer(ITransport, IConsumer)
class _SessionTransport:
    """
    The transport Twisted's wire protocol writes through, so that the
    session sees every close, including one Twisted makes by itself in
    answer to the client's close frame, and can unregister its producer
    first.
    """

    def __init__(self, session: EchoSession, transport: Any) -> None:
        self.session = session
        self.transport = transport

    def write(self, data: bytes) -> None:
        self.session.bytesOut += len(data)
        self.session.noteWrite(data)
        self.transport.write(data)

    def writeSequence(self, data: Iterable[bytes]) -> None:
        self.write(b"".join(data))

    def loseConnection(self) -> None:
        self.session.closeTransport()

    def getPeer(self) -> Any:
        return self.transport.getPeer()

    def getHost(self) -> Any:
        return self.transport.getHost()

    def registerProducer(self, producer: IProducer, streaming: bool) -> None:
        self.transport.registerProducer(producer, streaming)

    def unregisterProducer(self) -> None:
        self.transport.unregisterProducer()


@implementer(IDrainable)
class EchoSession:
    """
    One WebSocket echo session: a L{twisted.web.websocket.WebSocketProtocol}
    that sends every message back.

    @ivar transport: the connection's own transport (TCP or TLS), which the
        registry aborts at a drain's deadline.
    @ivar closing: whether the session has started closing; from then on
        nothing more is echoed and nothing more the client sends is read.
    """

    def __init__(
        self, request: Request, config: WebSocketConfig, clock: IReactorTime
    ) -> None:
        self.request = request
        self.channel: Any = request.channel
        self.transport: Any = request.channel.transport
        self.config = config
        self.clock = clock
        self.closing = False
        self.closeCode: int | None = None
        self.closedBy = "network"
        self.messagesIn = self.messagesOut = 0
        self.bytesIn = self.bytesOut = 0
        self._started = clock.seconds()
        self._wire: Any = None
        self._wireReceived: Callable[[bytes], None] | None = None
        self._transportClosing = False
        self._lost = False
        self._pingCall: IDelayedCall | None = None
        self._abortCall: IDelayedCall | None = None
        self._linger: LingeringClose | None = None
        self._awaitingPong = False
        self._pings = 0

    def negotiationStarted(self, transport: WebSocketTransport) -> None:
        """
        Put the size-capped buffers and the closing-aware transport into
        Twisted's wire protocol, before any frame is parsed.
        """
        wire: Any = transport
        self._wire = wire
        installMessageBuffers(
            wire,
            MessageBuffer[str](self, text=True),
            MessageBuffer[bytes](self, text=False),
        )
        wire.transport = _SessionTransport(self, self.transport)

    def negotiationFinished(self) -> None:
        """
        The upgrade is done: apply backpressure, take the channel's place in
        the connection registry, count the bytes read and start pinging.

        This runs inside the HTTP channel's parsing of the handshake, before
        it goes on to the bytes after the request in the same read.
        """
        # The HTTP channel is still the transport's producer: a second one
        # cannot be registered while it is.
        self.transport.unregisterProducer()
        self._wire.attachProducer(self.transport)
        # Twisted's upgrade points the channel's dataReceived at the wire
        # protocol; reading through the session lets it drop what arrives
        # after it has closed, which wsproto would refuse with an exception.
        # The channel's parser hands the rest of the current read (frames
        # sent with the handshake) to rawDataReceived: take that too, or
        # those frames are lost.
        self._wireReceived = self.channel.dataReceived
        self.channel.dataReceived = self.dataReceived
        self.channel.rawDataReceived = self.dataReceived
        connections = self.channel.site.connections
        connections.add(self)
        connections.remove(self.channel)
        self._schedulePing()

    def dataReceived(self, data: bytes) -> None:
        """
        Hand the client's bytes to the wire protocol, unless closing.
        """
        if self.closing or self._wireReceived is None:
            if self._linger is not None:  # lingering close
                self._linger.discard(data)
            return
        self.bytesIn += len(data)
        self._wireReceived(data)

    def textMessageReceived(self, message: str) -> None:
        """
        Echo a text message.
        """
        self._echo(message)

    def bytesMessageReceived(self, data: bytes | bytearray) -> None:
        """
        Echo a binary message.
        """
        self._echo(bytes(data))

    def _echo(self, message: str | bytes) -> None:
        if self.closing:
            return
        self.messagesIn += 1
        if isinstance(message, str):
            self._wire.sendTextMessage(message)
        else:
            self._wire.sendBytesMessage(message)
        self.messagesOut += 1

    def pongReceived(self, payload: bytes) -> None:
        """
        The client is alive.
        """
        self._awaitingPong = False

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
        self._wire.ping(b"echohub %d" % (self._pings,))
        self._schedulePing()

    def messageTooBig(self) -> None:
        """
        A message passed the cap while being received: close with C{1009}.

        The close is sent at the start of the next reactor turn, once the
        wire protocol has finished with the events of the current read:
        those are dropped (L{closing} is set now), but a ping among them
        must still find the connection open to be answered without error.
        """
        if self.closing:
            return
        self.closing = True
        self.clock.callLater(
            0,
            self._sendClose,
            MESSAGE_TOO_BIG,
            f"message over {self.config.max_message} bytes",
        )

    def close(self, code: int, reason: str = "") -> None:
        """
        Close the session with C{code}: send the close frame and close the
        connection, aborting it if it has not closed in C{close_timeout}.
        """
        if self.closing:
            return
        self.closing = True
        self._sendClose(code, reason)

    def _sendClose(self, code: int, reason: str) -> None:
        if self._lost:
            return
        self.closeCode = code
        self.closedBy = "server"
        self._wire.loseConnection(code, reason)

    def drain(self) -> None:
        """
        The server is stopping: close with C{1001} (going away).
        """
        self.close(GOING_AWAY, "server shutting down")

    def noteWrite(self, data: bytes) -> None:
        """
        Remember the code of a close frame Twisted sends by itself (in
        answer to the client's, or for a protocol error) for the log line.
        """
        if self.closeCode is None and len(data) >= 2 and data[0] == 0x88:
            # A server's frames are unmasked: the second byte is the length.
            # An empty close frame answers one without a status: RFC 6455
            # section 7.1.5 calls that 1005, not 1006 (no close frame).
            if data[1] >= 2 and len(data) >= 4:
                self.closeCode = struct.unpack("!H", data[2:4])[0]
            else:
                self.closeCode = NO_STATUS
            # Twisted sends a close by itself in answer to the client's, or
            # for wsproto's verdict on what the client sent (1002, 1007):
            # the latter is the server's doing.
            self.closedBy = "server" if self.closeCode in LINGERING_CODES else "client"

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
        if self.closeCode in LINGERING_CODES:  # lingering close
            # It unregisters the producer itself, and reads on.
            self._linger = self.channel.site.access.lingering.close(
                self.transport, self.clock
            )
            return
        self._wire.detachProducer()
        self.transport.resumeProducing()
        self.transport.loseConnection()
        if self.config.close_timeout > 0:
            self._abortCall = self.clock.callLater(
                self.config.close_timeout, self.transport.abortConnection
            )

    def _stopPinging(self) -> None:
        cancelCall(self._pingCall)
        self._pingCall = None

    def connectionLost(self, reason: Failure) -> None:
        """
        Cancel the timers, run the HTTP channel's own clean-up, leave the
        registry, and log the session.
        """
        self.closing = self._lost = True
        self._stopPinging()
        cancelCall(self._abortCall)
        if self._linger is not None:  # lingering close
            self._linger.connectionLost()
        type(self.channel).connectionLost(self.channel, reason)
        self.channel.site.connections.remove(self)
        request = self.request
        method = request.method.decode("ascii")
        path = request.uri.decode("ascii", "replace")
        code = self.closeCode or ABNORMAL
        origin = (request.getHeader(b"Origin") or b"-").decode("ascii", "replace")
        lingered = (
            ""
            if self._linger is None
            else f"; lingered ({self._linger.discarded} bytes discarded,"
            f" {self._linger.ended})"
        )
        logAccess(
            _log,
            "web",
            formatAddress(request.getClientAddress()),
            self.bytesIn,
            self.bytesOut,
            self.clock.seconds() - self._started,
            f"{method} {path} 101",
            f"; websocket {self.messagesIn} messages in, {self.messagesOut} out,"
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
        )


class EchoSessionFactory:
    """
    Builds an L{EchoSession} per accepted handshake.
    """

    def __init__(self, config: WebSocketConfig, clock: IReactorTime) -> None:
        self.config = config
        self.clock = clock

    def buildProtocol(self, request: Request) -> EchoSession:
        return EchoSession(request, self.config, self.clock)


def originAllowed(request: IRequest, allowed: tuple[str, ...]) -> bool:
    """
    Whether a WebSocket handshake's C{Origin} is acceptable: absent (not a
    browser), this site's own (same scheme, host and port as the request),
    or listed in C{allowed} (C{*} for any).
    """
    origin = request.getHeader(b"Origin")
    if origin is None or "*" in allowed:
        return True
    scheme = b"https" if request.isSecure() else b"http"
    own = normalOrigin(scheme + b"://" + (request.getHeader(b"Host") or b""))
    listed = {normalOrigin(o.encode("ascii", "replace")) for o in allowed}
    return normalOrigin(origin) in listed | {own}


def handshakeRefusal(request: Request) -> tuple[int, str] | None:
    """
    Check a WebSocket upgrade request (method and C{Upgrade} already
    checked) against RFC 6455 section 4.2.1.

    @return: L{None} if it may be accepted, else the status (C{400}, or
        C{426} for an unsupported version, which section 4.4 requires to be
        answered with the versions we speak) and why, for the client and the
        log.
    """
    if request.clientproto not in (b"HTTP/1.1",):
        return 400, "a WebSocket handshake needs HTTP/1.1"
    connection = b",".join(request.requestHeaders.getRawHeaders(b"Connection", []))
    if b"upgrade" not in {t.strip().lower() for t in connection.split(b",")}:
        return 400, "a WebSocket handshake needs Connection: Upgrade"
    versions = request.requestHeaders.getRawHeaders(b"Sec-WebSocket-Version", [])
    if [v.strip() for v in versions] != [WEBSOCKET_VERSION]:
        return 426, "this server speaks Sec-WebSocket-Version 13 only"
    keys = request.requestHeaders.getRawHeaders(b"Sec-WebSocket-Key", [])
    if len(keys) != 1 or not _isWebSocketKey(keys[0].strip()):
        return 400, "Sec-WebSocket-Key must be the base64 of 16 bytes"
    return None


def _isWebSocketKey(key: bytes) -> bool:
    """
    Whether C{key} is exactly the base64 encoding of 16 bytes: 24
    characters, canonical padding, nothing else.
    """
    if len(key) != 24:
        return False
    try:
        decoded = binascii.a2b_base64(key, strict_mode=True)
    except binascii.Error:
        return False
    return len(decoded) == 16 and binascii.b2a_base64(decoded, newline=False) == key


class EchoWebSocketResource(WebSocketResource):
    """
    C{/ws}: L{twisted.web.websocket.WebSocketResource} with the Origin
    policy, and plain-text answers to what is not a WebSocket handshake
    (Twisted's are HTML or logged as errors).
    """

    isLeaf = True

    def __init__(self, config: WebSocketConfig, clock: IReactorTime) -> None:
        super().__init__(EchoSessionFactory(config, clock))
        self.config = config

    def render(self, request: Request) -> bytes | int:
        if request.method != b"GET":
            request.setHeader(b"Allow", b"GET")
            return plainText(request, 405, b"405 Method Not Allowed\n")
        upgrade = (request.getHeader(b"Upgrade") or b"").lower()
        if upgrade != b"websocket":
            request.setHeader(b"Upgrade", b"websocket")
            body = plainText(
                request, 426, b"426 Upgrade Required: /ws is a WebSocket endpoint\n"
            )
            request.setResponseCode(426, b"Upgrade Required")
            return body
        refusal = handshakeRefusal(request)
        if refusal is not None:
            status, why = refusal
            _log.info(
                "Refused a WebSocket handshake from {peer}: {why}",
                peer=formatAddress(request.getClientAddress()),
                why=why,
            )
            if status == 426:
                request.setHeader(b"Sec-WebSocket-Version", WEBSOCKET_VERSION)
                body = plainText(
                    request, 426, f"426 Upgrade Required: {why}\n".encode()
                )
                request.setResponseCode(426, b"Upgrade Required")
                return body
            return plainText(request, 400, f"400 Bad Request: {why}\n".encode())
        if not originAllowed(request, self.config.allowed_origins):
            _log.info(
                "Refused a WebSocket from origin {origin}",
                origin=(request.getHeader(b"Origin") or b"").decode("ascii", "replace"),
            )
            return plainText(
                request,
                403,
                b"403 Forbidden: this Origin may not open a WebSocket here"
                b" ([websocket] allowed_origins)\n",
            )
        result: bytes | int = self.render_GET(request)
        return result
