# -*- test-case-name: tests.websocket.test_session -*-
"""
The WebSocket echo at C{/ws}: every text and binary message comes back
exactly, pings are answered and the close handshake is completed.

echohub speaks RFC 6455 itself, as it speaks HTTP/1.1 itself
(L{echohub.http._channel}): the opening handshake is one header to compute,
and a server's framing is a few dozen lines, while Twisted's
L{twisted.web.websocket} (on wsproto) spent about 45 us of Python on every
small message, reassembled fragments in quadratic time with no size limit,
and had no public way to add one.  Here a read's frames are parsed from one
buffer in one loop, payloads are unmasked with one integer XOR, text is
validated with the C UTF-8 decoder, and every echo of a read goes out in
one write.

What the session does, pinned by C{tests/websocket/test_session.py} and checked
against the Autobahn|Testsuite (C{make autobahn}):

    - B{Framing by the RFC}: client frames must be masked; reserved bits,
      unknown opcodes, fragmented or oversized control frames, a
      continuation without a message or a new message inside one, and a
      length with its top bit set close with C{1002}; text that is not
      UTF-8 closes with C{1007} as soon as the invalid byte arrives, even
      in the middle of a frame.  Close frames are checked as RFC 6455
      section 7.4 says (no 1-byte payload, no code a peer may not send,
      a UTF-8 reason) and answered with the same code and reason.
    - B{A message-size cap}: a frame whose header takes the message over
      C{[websocket] max_message} closes the connection with C{1009} at
      once, before its payload is read; memory stays within the cap plus
      one read.
    - B{Closes the client can read.}  A close for what the client sent
      (C{1002}, C{1003}, C{1007}, C{1008}, C{1009}) finds the client still
      sending: closing the socket then would reset the connection and the
      client would never see the close frame.  Those closes are the
      service's lingering close (L{echohub.ops.Lingering}): close frame,
      write side shut, the rest read and discarded within its bounds.
    - B{Frames sent with the handshake} are parsed after the C{101}, in
      order: the HTTP channel hands over what it read after the request.
    - B{Handshake validation} (RFC 6455 section 4.2.1, 4.4): a
      C{Sec-WebSocket-Key} that is not the base64 of 16 bytes, a missing
      C{Connection: upgrade} or an HTTP version before 1.1 gets C{400}; a
      C{Sec-WebSocket-Version} other than C{13} gets C{426} with
      C{Sec-WebSocket-Version: 13}.  Each is logged at info level.
    - B{An idle policy.}  A ping every C{ping_interval} seconds; a client
      that has not answered the previous ping by the next is closed with
      C{1011}.
    - B{An Origin policy.}  A browser page from another origin could open a
      WebSocket to this server with its visitor's network position, so a
      handshake whose C{Origin} is neither this site's own nor in
      C{allowed_origins} gets C{403}.  Requests without C{Origin} (curl, the
      C{websockets} library, any non-browser client) are accepted: only
      browsers send it, and only browsers need protecting.
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
"""

from __future__ import annotations

import codecs
import struct
from typing import Any

from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.internet.protocol import Protocol, connectionDone
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.server import Request
from zope.interface import implementer

from echohub._net import cancelCall, formatAddress
from echohub.config import WebSocketConfig
from echohub.ops import IDrainable, LingeringClose, fastWrite, logAccess

_log = Logger()

# Opcodes (RFC 6455, section 5.2).
CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA

# Close codes (RFC 6455, section 7.4.1).
NORMAL = 1000
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

_SENDABLE_BELOW_3000 = frozenset({1000, 1001, 1002, 1003, *range(1007, 1015)})
"""
The codes below 3000 a peer may put in a close frame: RFC 6455's and the
registered ones (1012-1014), not 1004, 1005, 1006 or 1015.
"""

_MAX_CONTROL = 125

_UTF8 = codecs.getincrementaldecoder("utf-8")


def serverFrame(opcode: int, payload: bytes) -> bytes:
    """
    One unmasked, final frame of C{opcode} carrying C{payload}.
    """
    length = len(payload)
    if length < 126:
        return bytes((0x80 | opcode, length)) + payload
    if length < 65536:
        return struct.pack("!BBH", 0x80 | opcode, 126, length) + payload
    return struct.pack("!BBQ", 0x80 | opcode, 127, length) + payload


def unmask(data: bytes | bytearray, mask: bytes, phase: int = 0) -> bytes:
    """
    C{data} XORed with the 4-byte C{mask}, starting at byte C{phase} of it
    (the payload's offset within its frame, modulo 4): one big-integer XOR,
    linear and in C.
    """
    length = len(data)
    if not length:
        return b""
    if phase:
        mask = mask[phase:] + mask[:phase]
    key = (mask * ((length + 3) // 4))[:length]
    value = int.from_bytes(data, "little") ^ int.from_bytes(key, "little")
    return value.to_bytes(length, "little")


class _ClientError(Exception):
    """
    The client broke the protocol: close with C{code}.
    """

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@implementer(IDrainable)
class EchoSession(Protocol):
    """
    One WebSocket echo session: the protocol the HTTP channel hands its
    connection to after the C{101}.

    @ivar transport: the connection's own transport (TCP or TLS), which the
        registry aborts at a drain's deadline.
    @ivar closing: whether the session has started closing; from then on
        nothing more is echoed and nothing more the client sends is read.
    @ivar closeCode: the close code of the session, for the log: the one
        sent or answered, L{None} while there was none.
    @ivar closedBy: C{"client"}, C{"server"}, or C{"network"} (no close
        frame).
    """

    transport: Any

    def __init__(
        self, request: Request, config: WebSocketConfig, clock: IReactorTime
    ) -> None:
        self.request = request
        self.channel: Any = request.channel
        self.config = config
        self.clock = clock
        self.closing = False
        self.closeCode: int | None = None
        self.closedBy = "network"
        self.messagesIn = self.messagesOut = 0
        self.bytesIn = self.bytesOut = 0
        self._started = clock.seconds()
        self._buffer = bytearray()
        self._out: list[bytes] = []
        # The data frame whose payload is being read: bytes left, its mask,
        # the offset within the mask, whether it ends its message.
        self._remaining = 0
        self._mask = b""
        self._phase = 0
        self._fin = False
        # The message being received: its opcode (None between messages),
        # its pieces and size, and a UTF-8 decoder once a text message
        # arrives in more than one piece.
        self._opcode: int | None = None
        self._pieces: list[bytes] = []
        self._size = 0
        self._decoder: Any = None
        self._transportClosing = False
        self._lost = False
        self._pingCall: IDelayedCall | None = None
        self._abortCall: IDelayedCall | None = None
        self._linger: LingeringClose | None = None
        self._awaitingPong = False
        self._pings = 0

    def accepted(self) -> None:
        """
        The C{101} is sent: apply backpressure, take the channel's place in
        the connection registry and start pinging.
        """
        # The HTTP channel is still the transport's producer: a second one
        # cannot be registered while it is.
        self.transport.unregisterProducer()
        self.transport.registerProducer(self.transport, True)
        connections = self.channel.site.connections
        connections.add(self)
        connections.remove(self.channel)
        self._schedulePing()

    # Receiving.

    def dataReceived(self, data: bytes) -> None:
        """
        Parse the client's frames and answer them, all of a read's answers
        in one write.
        """
        if self.closing:
            if self._linger is not None:  # lingering close
                self._linger.discard(data)
            return
        self.bytesIn += len(data)
        buffer = self._buffer
        buffer += data
        try:
            used = self._parse(buffer)
        except _ClientError as refusal:
            self._flush()
            self.close(refusal.code, refusal.reason)
            return
        del buffer[:used]
        self._flush()

    def _parse(self, buffer: bytearray) -> int:
        """
        Handle the complete frames, and the arrived part of a data frame's
        payload, at the start of C{buffer}.

        @return: how many bytes of it were used.
        @raise _ClientError: the client broke the protocol.
        """
        position = 0
        end = len(buffer)
        while not self.closing:
            if self._remaining:
                take = min(self._remaining, end - position)
                if not take:
                    break
                piece = unmask(
                    buffer[position : position + take], self._mask, self._phase
                )
                position += take
                self._remaining -= take
                self._phase = (self._phase + take) & 3
                self._piece(piece)
                continue
            if end - position < 2:
                break
            first, second = buffer[position], buffer[position + 1]
            if first & 0x70:
                raise _ClientError(PROTOCOL_ERROR, "reserved bits set")
            if not second & 0x80:
                raise _ClientError(PROTOCOL_ERROR, "client frames must be masked")
            opcode = first & 0x0F
            length = second & 0x7F
            header = 6
            if length == 126:
                header = 8
                if end - position < header:
                    break
                length = int.from_bytes(buffer[position + 2 : position + 4], "big")
            elif length == 127:
                header = 14
                if end - position < header:
                    break
                length = int.from_bytes(buffer[position + 2 : position + 10], "big")
                if length >> 63:
                    raise _ClientError(PROTOCOL_ERROR, "frame length out of range")
            elif end - position < header:
                break
            mask = bytes(buffer[position + header - 4 : position + header])
            fin = first & 0x80
            if opcode & 0x8:
                if opcode > PONG:
                    raise _ClientError(PROTOCOL_ERROR, f"reserved opcode {opcode}")
                if not fin or length > _MAX_CONTROL:
                    raise _ClientError(
                        PROTOCOL_ERROR, "control frames are short and unfragmented"
                    )
                if end - position < header + length:
                    break
                start = position + header
                position = start + length
                self._control(opcode, unmask(buffer[start:position], mask))
                continue
            if opcode == CONTINUATION:
                if self._opcode is None:
                    raise _ClientError(PROTOCOL_ERROR, "continuation without a message")
            elif opcode > BINARY:
                raise _ClientError(PROTOCOL_ERROR, f"reserved opcode {opcode}")
            elif self._opcode is not None:
                raise _ClientError(
                    PROTOCOL_ERROR, "new message inside a fragmented one"
                )
            else:
                self._opcode = opcode
            self._size += length
            if self._size > self.config.max_message:
                raise _ClientError(
                    MESSAGE_TOO_BIG, f"message over {self.config.max_message} bytes"
                )
            position += header
            self._remaining = length
            self._mask = mask
            self._phase = 0
            self._fin = bool(fin)
            if not length:
                self._piece(b"")
        return position

    def _piece(self, piece: bytes) -> None:
        """
        Take the next piece of the current message's payload; echo the
        message when its last frame is complete.
        """
        done = self._fin and not self._remaining
        if self._opcode == TEXT:
            if done and not self._pieces and self._decoder is None:
                self._validate(piece)
            else:
                if self._decoder is None:
                    self._decoder = _UTF8()
                    for earlier in self._pieces:
                        self._validate(earlier, self._decoder)
                self._validate(piece, self._decoder, done)
        if not done:
            if piece:
                self._pieces.append(piece)
            return
        if self._pieces:
            self._pieces.append(piece)
            piece = b"".join(self._pieces)
            self._pieces = []
        opcode, self._opcode = self._opcode, None
        self._size = 0
        self._decoder = None
        self.messagesIn += 1
        assert opcode is not None
        self._out.append(serverFrame(opcode, piece))
        self.messagesOut += 1

    @staticmethod
    def _validate(data: bytes, decoder: Any = None, final: bool = True) -> None:
        """
        Check that C{data} is UTF-8 (or, with C{decoder}, continues the
        UTF-8 it has seen).

        @raise _ClientError: it is not.
        """
        try:
            if decoder is None:
                data.decode("utf-8")
            else:
                decoder.decode(data, final)
        except UnicodeDecodeError:
            raise _ClientError(INVALID_DATA, "text is not UTF-8") from None

    def _control(self, opcode: int, payload: bytes) -> None:
        """
        Answer a ping, note a pong, answer a close.
        """
        if opcode == PING:
            self._out.append(serverFrame(PONG, payload))
        elif opcode == PONG:
            self._awaitingPong = False
        elif opcode == CLOSE:
            self._peerClosed(payload)
        else:
            raise _ClientError(PROTOCOL_ERROR, f"reserved opcode {opcode}")

    def _peerClosed(self, payload: bytes) -> None:
        """
        The client sent its close: check it, answer with the same code and
        reason, and close the connection.
        """
        if not payload:
            code = NO_STATUS
        elif len(payload) == 1:
            raise _ClientError(PROTOCOL_ERROR, "close frame with a 1-byte payload")
        else:
            code = int.from_bytes(payload[:2], "big")
            if not (3000 <= code < 5000 or code in _SENDABLE_BELOW_3000):
                raise _ClientError(PROTOCOL_ERROR, f"close code {code} may not be sent")
            self._validate(payload[2:])
        self.closing = True
        self.closeCode = code
        self.closedBy = "client"
        self._out.append(serverFrame(CLOSE, payload))
        self._flush()
        self.closeTransport()

    # Sending.

    def _flush(self) -> None:
        """
        Send the answers gathered, in one write.
        """
        if self._out and not self._lost:
            data = b"".join(self._out) if len(self._out) > 1 else self._out[0]
            self.bytesOut += len(data)
            fastWrite(self.transport, data)
        self._out = []

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
        self._out.append(serverFrame(PING, b"echohub %d" % (self._pings,)))
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
        self._out.append(
            serverFrame(CLOSE, struct.pack("!H", code) + reason.encode("utf-8"))
        )
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
        if self.closeCode in LINGERING_CODES:  # lingering close
            # It unregisters the producer itself, and reads on.
            self._linger = self.channel.site.access.lingering.close(
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
