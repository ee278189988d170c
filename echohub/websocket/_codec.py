# -*- test-case-name: tests.websocket.test_codec -*-
"""
RFC 6455 framing for a server, without I/O, as wsproto frames: bytes in
(L{WebSocketCodec.receive}), events out (L{Message}, L{Ping}, L{Pong},
L{CloseReceived}, L{ProtocolViolation}); the frames to send are returned
as bytes by L{WebSocketCodec.message}, L{WebSocketCodec.ping},
L{WebSocketCodec.pong} and L{WebSocketCodec.close}.  The session
(L{echohub.websocket._session}) only moves bytes, timers and the
connection's end.

What the codec enforces, as soon as the bytes that break a rule arrive:

    - B{Framing by the RFC} (section 5): client frames must be masked;
      reserved bits, unknown opcodes, fragmented or oversized control
      frames, a continuation without a message or a new message inside
      one, and a length with its top bit set are a violation with C{1002}.
      Control frames may come between the fragments of a message.
    - B{UTF-8 text} (section 8.1): text that is not UTF-8 is a violation
      with C{1007} as soon as the invalid byte arrives, even in the middle
      of a frame (an encoded surrogate on its last byte: the C decoder
      waits for it).
    - B{A message-size cap}: the frame whose header takes a message over
      C{maxMessage} is a violation with C{1009} at once, before its
      payload is read, so that memory stays within the cap plus one read.
    - B{Close frames} (sections 5.5.1 and 7.4): no 1-byte payload, no code
      a peer may not send (C{1002}), a UTF-8 reason (C{1007}).  A close
      without a status is received as code C{1005}, and L{close} turns
      C{1005} back into a close frame without one, so that a close is
      echoed by C{codec.close(event.code, event.reason)}.

After a L{CloseReceived} or a L{ProtocolViolation} nothing more is parsed:
the connection is ending, and what follows is not the codec's to read.

Why it is fast enough for an echo (C{make bench}, the C{websocket}
scenario): a read's frames are parsed from one buffer in one loop; a
payload is unmasked in C (L{unmask}); a frame that is a
whole message and has arrived whole goes from the buffer to its L{Message}
without touching the state kept for messages that arrive in pieces; text
is validated by C{bytes.isascii} or else the C UTF-8 decoder, and a
message's pieces are joined once, when it is complete.

B{permessage-deflate} (RFC 7692), when the opening handshake agreed it
(L{echohub.websocket._deflate}): RSV1 is allowed on the first frame of a
data message, and stays a C{1002} on continuations and control frames.  A
compressed message never takes the whole-message shortcut: each unmasked
piece goes to L{WebSocketCodec._piece}, which inflates it within the room
the cap has left (one byte more is asked for, so that passing the cap is
known as soon as it happens: C{1009}), before the UTF-8 check and the
gathering.  The cap on the wire allows a compressed message what deflate
may add to what does not compress.  The L{Message} event says whether
its message came compressed, and L{WebSocketCodec.message} compresses when
asked: the echo answers a compressed message with a compressed one.
"""

from __future__ import annotations

import codecs
import struct
from dataclasses import dataclass
from typing import Any

from echohub.websocket._deflate import InflateError, PerMessageDeflate

try:
    from websockets.speedups import apply_mask as applyMask
except ImportError:  # pragma: no cover (websockets built without its C part)
    from websockets.utils import apply_mask as applyMask

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

_SENDABLE_BELOW_3000 = frozenset({1000, 1001, 1002, 1003, *range(1007, 1015)})
"""
The codes below 3000 a peer may put in a close frame: RFC 6455's and the
registered ones (1012-1014), not 1004, 1005, 1006 or 1015.
"""

_MAX_CONTROL = 125

RSV1 = 0x40
"""
The reserved bit permessage-deflate gives to a compressed message's first
frame.
"""

_UTF8 = codecs.getincrementaldecoder("utf-8")


# The events.  Plain dataclasses, not frozen ones: a frozen dataclass's
# constructor costs twice as much, and a Message is made for every message.


@dataclass(slots=True)
class Message:
    """
    A complete text or binary message.

    @ivar data: its payload (inflated); for text, bytes that are valid
        UTF-8 (not decoded: an echo sends them back as they came).
    @ivar text: whether it is a text message.
    @ivar compressed: whether it came compressed (permessage-deflate).
    """

    data: bytes
    text: bool
    compressed: bool = False


@dataclass(slots=True)
class Ping:
    """
    A ping, to be answered with a pong of the same payload.
    """

    data: bytes


@dataclass(slots=True)
class Pong:
    """
    A pong, solicited or not.
    """

    data: bytes


@dataclass(slots=True)
class CloseReceived:
    """
    The client's close frame, valid: the closing handshake has begun, and
    nothing more is parsed.

    @ivar code: its status code, or L{NO_STATUS} if it had none.
    @ivar reason: its reason.
    """

    code: int
    reason: str


@dataclass(slots=True)
class ProtocolViolation:
    """
    The client broke the protocol: the connection is to be closed with
    C{code} and C{reason}, and nothing more is parsed.

    @ivar code: L{PROTOCOL_ERROR}, L{INVALID_DATA} or L{MESSAGE_TOO_BIG}.
    """

    code: int
    reason: str


Event = Message | Ping | Pong | CloseReceived | ProtocolViolation


class _ViolationError(Exception):
    """
    Raised inside the parser for a L{ProtocolViolation}.
    """

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def unmask(data: bytes | bytearray, mask: bytes | bytearray, phase: int = 0) -> bytes:
    """
    C{data} XORed with the 4-byte C{mask}, starting at byte C{phase} of it
    (the payload's offset within its frame, modulo 4).

    The XOR is the C{websockets} library's C{apply_mask}: its C extension
    where it is built (about 0.2 us for 1 KiB, where Python's big-integer
    XOR takes 2.6 us, the largest part of receiving a 1 KiB message), else
    its own big-integer XOR.
    """
    if phase:
        mask = mask[phase:] + mask[:phase]
    return applyMask(data, mask)


def _frame(opcode: int, payload: bytes, flags: int = 0) -> bytes:
    """
    One unmasked, final frame of C{opcode} carrying C{payload}, with the
    reserved bits C{flags} (L{RSV1} for a compressed message).
    """
    first = 0x80 | flags | opcode
    length = len(payload)
    if length < 126:
        return bytes((first, length)) + payload
    if length < 65536:
        return struct.pack("!BBH", first, 126, length) + payload
    return struct.pack("!BBQ", first, 127, length) + payload


def _validate(data: bytes, decoder: Any = None, final: bool = True) -> None:
    """
    Check that C{data} is UTF-8 (or, with C{decoder}, continues the UTF-8
    it has seen).

    @raise _ViolationError: it is not.
    """
    try:
        if decoder is not None:
            decoder.decode(data, final)
        elif not data.isascii():
            data.decode("utf-8")
    except UnicodeDecodeError:
        raise _ViolationError(INVALID_DATA, "text is not UTF-8") from None


class WebSocketCodec:
    """
    The server side of one WebSocket connection's framing; see the module
    docstring.

    @ivar maxMessage: the largest message accepted, in bytes (inflated,
        for a compressed message).
    @ivar deflate: the connection's permessage-deflate, or L{None} if the
        handshake did not agree to it.
    """

    def __init__(
        self, maxMessage: int, deflate: PerMessageDeflate | None = None
    ) -> None:
        self.maxMessage = maxMessage
        self.deflate = deflate
        # What a compressed message may take on the wire: zlib's bound on
        # what deflate makes of a message of the cap, for any window and
        # memLevel (deflateBound's conservative one, about 14 % more: with a
        # small window, what does not compress cannot go in stored blocks).
        self._maxCompressed = (
            maxMessage + ((maxMessage + 7) >> 3) + ((maxMessage + 63) >> 6) + 64
        )
        self._buffer = bytearray()
        self._ended = False
        # The data frame whose payload is being read: bytes left, its mask,
        # the offset within the mask, whether it ends its message.
        self._remaining = 0
        self._mask: bytes | bytearray = b""
        self._phase = 0
        self._fin = False
        # The message being received: its opcode (None between messages),
        # its pieces and size, and a UTF-8 decoder once a text message
        # arrives in more than one piece.
        self._opcode: int | None = None
        self._pieces: list[bytes] = []
        self._size = 0
        self._decoder: Any = None
        # Whether that message is compressed, and how much it inflated to.
        self._compressed = False
        self._inflated = 0

    # Receiving.

    def receive(self, data: bytes) -> list[Event]:
        """
        Take bytes the client sent, and parse the frames they complete (and
        the payload they carry of a frame still arriving).

        @return: the events, in the order of the frames; a
            L{ProtocolViolation} or a L{CloseReceived} is the last one,
            and from then on every call returns none.
        """
        events: list[Event] = []
        if self._ended:
            return events
        buffer = self._buffer
        buffer += data
        try:
            used = self._parse(buffer, events)
        except _ViolationError as violation:
            events.append(ProtocolViolation(violation.code, violation.reason))
            self._ended = True
        if self._ended:
            buffer.clear()
        else:
            del buffer[:used]
        return events

    def _parse(self, buffer: bytearray, events: list[Event]) -> int:
        """
        Turn the complete frames, and the arrived part of a data frame's
        payload, at the start of C{buffer} into C{events}.

        @return: how many bytes of it were used.
        @raise _ViolationError: the client broke the protocol.
        """
        position = 0
        end = len(buffer)
        while not self._ended:
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
                self._piece(piece, events)
                continue
            if end - position < 2:
                break
            first, second = buffer[position], buffer[position + 1]
            opcode = first & 0x0F
            if first & 0x70 and (
                first & 0x70 != RSV1
                or self.deflate is None
                or opcode not in (TEXT, BINARY)
            ):
                raise _ViolationError(PROTOCOL_ERROR, "reserved bits set")
            if not second & 0x80:
                raise _ViolationError(PROTOCOL_ERROR, "client frames must be masked")
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
                    raise _ViolationError(PROTOCOL_ERROR, "frame length out of range")
            elif end - position < header:
                break
            mask = buffer[position + header - 4 : position + header]
            fin = first & 0x80
            if opcode & 0x8:
                if opcode > PONG:
                    raise _ViolationError(PROTOCOL_ERROR, f"reserved opcode {opcode}")
                if not fin or length > _MAX_CONTROL:
                    raise _ViolationError(
                        PROTOCOL_ERROR, "control frames are short and unfragmented"
                    )
                if end - position < header + length:
                    break
                start = position + header
                position = start + length
                events.append(
                    self._control(opcode, unmask(buffer[start:position], mask))
                )
                continue
            if opcode == CONTINUATION:
                if self._opcode is None:
                    raise _ViolationError(
                        PROTOCOL_ERROR, "continuation without a message"
                    )
            elif opcode > BINARY:
                raise _ViolationError(PROTOCOL_ERROR, f"reserved opcode {opcode}")
            elif self._opcode is not None:
                raise _ViolationError(
                    PROTOCOL_ERROR, "new message inside a fragmented one"
                )
            size = self._size + length
            if size > self.maxMessage and (
                size > self._maxCompressed
                or not (first & RSV1 if opcode else self._compressed)
            ):
                raise _ViolationError(
                    MESSAGE_TOO_BIG, f"message over {self.maxMessage} bytes"
                )
            position += header
            if fin and opcode and length <= end - position and not first & RSV1:
                # A whole message, arrived whole: the common case.
                start, position = position, position + length
                data = unmask(buffer[start:position], mask)
                if opcode == TEXT:
                    _validate(data)
                events.append(Message(data, opcode == TEXT))
                continue
            if opcode:
                self._opcode = opcode
                self._compressed = bool(first & RSV1)
            self._size = size
            self._remaining = length
            self._mask = mask
            self._phase = 0
            self._fin = bool(fin)
            if not length:
                self._piece(b"", events)
        return position

    def _piece(self, piece: bytes, events: list[Event]) -> None:
        """
        Take the next piece of the current message's payload; add the
        message to C{events} when its last frame is complete.
        """
        done = self._fin and not self._remaining
        if self._compressed:
            piece = self._inflate(piece, done)
        if self._opcode == TEXT:
            if self._decoder is None and done:  # the message's only piece
                _validate(piece)
            else:
                if self._decoder is None:
                    self._decoder = _UTF8()
                _validate(piece, self._decoder, done)
        if not done:
            if piece:
                self._pieces.append(piece)
            return
        if self._pieces:
            self._pieces.append(piece)
            piece = b"".join(self._pieces)
            self._pieces = []
        events.append(Message(piece, self._opcode == TEXT, self._compressed))
        self._opcode = None
        self._size = self._inflated = 0
        self._decoder = None
        self._compressed = False

    def _inflate(self, piece: bytes, final: bool) -> bytes:
        """
        Inflate the next piece of a compressed message within the room
        C{maxMessage} leaves it.

        @raise _ViolationError: it passes the cap (C{1009}), or is not
            deflate (C{1002}).
        """
        assert self.deflate is not None  # RSV1 is refused without it
        if final and not self._size:
            # No payload at all: an empty message.  (The tail alone would
            # begin a stored block and leave the inflater inside it.)
            return b""
        try:
            out = self.deflate.inflate(piece, self.maxMessage - self._inflated, final)
        except InflateError as e:
            raise _ViolationError(
                PROTOCOL_ERROR, f"compressed data is not deflate ({e})"
            ) from None
        if out is None:
            raise _ViolationError(
                MESSAGE_TOO_BIG, f"message inflates to over {self.maxMessage} bytes"
            )
        self._inflated += len(out)
        return out

    def _control(self, opcode: int, payload: bytes) -> Event:
        """
        The event of a control frame.
        """
        if opcode == PING:
            return Ping(payload)
        if opcode == PONG:
            return Pong(payload)
        if not payload:
            code = NO_STATUS
        elif len(payload) == 1:
            raise _ViolationError(PROTOCOL_ERROR, "close frame with a 1-byte payload")
        else:
            code = int.from_bytes(payload[:2], "big")
            if not (3000 <= code < 5000 or code in _SENDABLE_BELOW_3000):
                raise _ViolationError(
                    PROTOCOL_ERROR, f"close code {code} may not be sent"
                )
        try:
            reason = payload[2:].decode("utf-8")
        except UnicodeDecodeError:
            raise _ViolationError(INVALID_DATA, "text is not UTF-8") from None
        self._ended = True
        return CloseReceived(code, reason)

    # Sending.

    def message(self, data: bytes, text: bool, compressed: bool = False) -> bytes:
        """
        The frame of a message: C{data}, as text (which must be UTF-8) or
        binary, C{compressed} if permessage-deflate was agreed.
        """
        if compressed and self.deflate is not None:
            return _frame(TEXT if text else BINARY, self.deflate.compress(data), RSV1)
        return _frame(TEXT if text else BINARY, data)

    def ping(self, data: bytes) -> bytes:
        """
        A ping frame carrying C{data} (at most 125 bytes).
        """
        return _frame(PING, data)

    def pong(self, data: bytes) -> bytes:
        """
        A pong frame carrying C{data}: the answer to a L{Ping} of it.
        """
        return _frame(PONG, data)

    def close(self, code: int, reason: str = "") -> bytes:
        """
        A close frame with C{code} and C{reason}; for L{NO_STATUS}, which
        no close frame may carry, one without a payload.
        """
        if code == NO_STATUS:
            return _frame(CLOSE, b"")
        return _frame(CLOSE, struct.pack("!H", code) + reason.encode("utf-8"))
