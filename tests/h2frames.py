"""
A frame-level HTTP/2 client for conformance tests: it sends what a
well-behaved client library will not (frames on the wrong stream, bad
lengths, broken header blocks) and reports what the server does about it.

L{FrameClient} opens one connection, in the clear (h2c, prior knowledge) or
over TLS with ALPN C{h2} verifying the development CA, sends the client
preface and frames built with C{hyperframe} (or by hand where a frame must
be malformed) with header blocks from C{hpack}, and reads the server's
frames one at a time with a timeout.  Its C{expect*} methods wait for an
outcome the way U{h2spec<https://github.com/summerwind/h2spec>}'s verifiers
do, and raise C{AssertionError} with the whole exchange otherwise:

    - L{FrameClient.expectConnectionError}: C{GOAWAY} with one of the
      codes, or the connection closed (RFC 9113 section 5.4.1: C{GOAWAY} is
      a SHOULD, closing is the MUST).  Unlike h2spec, a C{GOAWAY} with
      another code fails at once: the code is what the RFC demands.
    - L{FrameClient.expectStreamError}: C{RST_STREAM} on the stream with
      one of the codes, or a connection error with one of them (RFC 9113
      section 5.4.1 lets an endpoint treat a stream error as a connection
      error), or the connection closed.  A C{RST_STREAM} with another code
      is not decisive (a stream may be reset C{NO_ERROR} after its
      response); reading goes on.
    - positive outcomes: a C{HEADERS} frame on a stream, a C{PING} or
      C{SETTINGS} acknowledgement, a C{DATA} frame of a given length, the
      stream closed.

Like h2spec, the client sends C{WINDOW_UPDATE} for the response data it
receives once a window falls to zero, so that a response is never held up
by the client's own windows.
"""

from __future__ import annotations

import socket
import ssl
import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from h2.errors import ErrorCodes
from h2.settings import SettingCodes
from hpack import Decoder, Encoder, HPACKError
from hyperframe.exceptions import HyperframeError
from hyperframe.frame import (
    ContinuationFrame,
    DataFrame,
    Frame,
    GoAwayFrame,
    HeadersFrame,
    PingFrame,
    RstStreamFrame,
    SettingsFrame,
)

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
"""
The client connection preface (RFC 9113 section 3.4).
"""

TIMEOUT = 3.0
"""
Seconds to wait for each frame from the server (h2spec waits 2): a case
that passes ends as soon as its outcome arrives; only one that fails waits
this long.
"""

HANDSHAKE_TIMEOUT = 10.0
"""
Seconds to wait for each frame of the connection preface: not what a case
tests, so a slow start is not a failure.
"""

DEFAULT_WINDOW = 65535
"""
The initial flow-control window (RFC 9113 section 6.9.2).
"""

DEFAULT_MAX_FRAME = 16384
"""
The initial C{SETTINGS_MAX_FRAME_SIZE} (RFC 9113 section 6.5.2).
"""

# Frame types (RFC 9113 section 6) and flags.
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS = 0x0, 0x1, 0x2, 0x3, 0x4
PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = 0x5, 0x6, 0x7, 0x8, 0x9
END_STREAM = ACK = 0x1
END_HEADERS = 0x4
PADDED = 0x8
PRIORITY_FLAG = 0x20

Fields = Sequence[tuple[str, str]]


@dataclass(frozen=True)
class Closed:
    """
    The server closed the connection (EOF or reset).
    """

    how: str

    def __str__(self) -> str:
        return f"connection closed ({self.how})"


@dataclass(frozen=True)
class TimedOut:
    """
    Nothing arrived within the timeout.
    """

    seconds: float

    def __str__(self) -> str:
        return f"nothing within {self.seconds:g} s"


@dataclass(frozen=True)
class NotHTTP2:
    """
    The server sent bytes that are not an HTTP/2 frame (an HTTP/1.1
    answer, say).
    """

    data: bytes

    def __str__(self) -> str:
        return f"bytes that are not an HTTP/2 frame: {self.data[:80]!r}"


Event = Frame | Closed | TimedOut | NotHTTP2


def codeName(code: int) -> str:
    """
    An error code's name (RFC 9113 section 7), or its number.
    """
    try:
        return ErrorCodes(code).name
    except ValueError:
        return f"0x{code:x}"


def settingName(setting: int) -> str:
    try:
        return SettingCodes(setting).name
    except ValueError:
        return f"0x{setting:x}"


FRAME_NAMES = {
    DATA: "DATA",
    HEADERS: "HEADERS",
    PRIORITY: "PRIORITY",
    RST_STREAM: "RST_STREAM",
    SETTINGS: "SETTINGS",
    PUSH_PROMISE: "PUSH_PROMISE",
    PING: "PING",
    GOAWAY: "GOAWAY",
    WINDOW_UPDATE: "WINDOW_UPDATE",
    CONTINUATION: "CONTINUATION",
}

FLAG_NAMES = {
    DATA: {END_STREAM: "END_STREAM", PADDED: "PADDED"},
    HEADERS: {
        END_STREAM: "END_STREAM",
        END_HEADERS: "END_HEADERS",
        PADDED: "PADDED",
        PRIORITY_FLAG: "PRIORITY",
    },
    SETTINGS: {ACK: "ACK"},
    PUSH_PROMISE: {END_HEADERS: "END_HEADERS", PADDED: "PADDED"},
    PING: {ACK: "ACK"},
    CONTINUATION: {END_HEADERS: "END_HEADERS"},
}


def describeRaw(data: bytes) -> str:
    """
    One line for the frames in C{data}, read from the octets alone (so that
    a malformed frame is described as sent): type, stream, flags, length,
    and the fields of a control frame whose length is the one it must
    have.
    """
    if len(data) < 9:
        return f"raw bytes {data!r}"
    parts = []
    while len(data) >= 9:
        length = int.from_bytes(data[:3], "big")
        kind, flags = data[3], data[4]
        original = flags
        word = int.from_bytes(data[5:9], "big")
        payload = data[9 : 9 + length]
        data = data[9 + length :]
        names = []
        for bit, flag in FLAG_NAMES.get(kind, {}).items():
            if flags & bit:
                names.append(flag)
                flags &= ~bit
        if flags:
            names.append(f"0x{flags:02x}")
        text = FRAME_NAMES.get(kind, f"frame type 0x{kind:x}")
        text += f"(stream={word & 0x7FFFFFFF}"
        if word >> 31:
            text += ", R=1"
        if names:
            text += f", flags={'|'.join(names)}"
        text += f", length={length}"
        if kind == RST_STREAM and length == 4:
            text += f", code={codeName(int.from_bytes(payload, 'big'))}"
        elif kind == WINDOW_UPDATE and length == 4:
            text += f", increment={int.from_bytes(payload, 'big')}"
        elif kind == GOAWAY and length >= 8:
            last, code = struct.unpack(">II", payload[:8])
            text += f", last_stream_id={last}, code={codeName(code)}"
            if payload[8:]:
                text += f", debug={payload[8:128]!r}"
        elif kind == PRIORITY and length == 5:
            dependency, weight = struct.unpack(">IB", payload)
            text += f", depends_on={dependency & 0x7FFFFFFF}, weight={weight + 1}"
            if dependency >> 31:
                text += ", exclusive"
        elif kind in (DATA, HEADERS, PUSH_PROMISE) and length:
            offset = 0
            if original & PADDED:
                text += f", pad_length={payload[0]}"
                offset = 1
            if kind == HEADERS and original & PRIORITY_FLAG and length >= offset + 5:
                dependency, weight = struct.unpack(">IB", payload[offset : offset + 5])
                text += f", depends_on={dependency & 0x7FFFFFFF}, weight={weight + 1}"
                if dependency >> 31:
                    text += ", exclusive"
        elif kind == PING and length == 8:
            text += f", opaque={payload!r}"
        elif kind == SETTINGS and length and length % 6 == 0:
            text += ", " + ", ".join(
                f"{settingName(k)}={v}" for k, v in struct.iter_unpack(">HI", payload)
            )
        parts.append(text + ")")
    if data:
        parts.append(f"+{len(data)} bytes")
    return " ".join(parts)


def fieldsText(fields: Fields) -> str:
    """
    A header list in one line, long values shortened.
    """
    shown = []
    for name, value in fields:
        if len(value) > 40:
            value = f"{value[:8]}...({len(value)} octets)"
        shown.append(f"{name}: {value!r}")
    return "[" + ", ".join(shown) + "]"


def describe(frame: Frame) -> str:
    """
    One line naming a frame and what matters in it.
    """
    return describeRaw(frame.serialize())


def rawFrame(kind: int, flags: int, streamID: int, payload: bytes) -> bytes:
    """
    A frame made by hand: the 9-octet header (RFC 9113 section 4.1) with
    the length of C{payload}, then C{payload}; nothing is checked.
    """
    return (
        struct.pack(">I", len(payload))[1:]
        + bytes([kind, flags])
        + struct.pack(">I", streamID)
        + payload
    )


@dataclass
class Target:
    """
    Where and how to connect: a listener's address, and for TLS the client
    context (ALPN C{h2}, verifying the development CA).
    """

    name: str
    address: tuple[str, int]
    context: ssl.SSLContext | None = None

    @property
    def scheme(self) -> str:
        return "https" if self.context is not None else "http"

    @property
    def authority(self) -> str:
        host = "localhost" if self.context is not None else self.address[0]
        return f"{host}:{self.address[1]}"


def tlsContext(cafile: str) -> ssl.SSLContext:
    """
    A client context that verifies C{cafile}'s certificates and offers
    only C{h2} by ALPN.
    """
    context = ssl.create_default_context(cafile=cafile)
    context.set_alpn_protocols(["h2"])
    return context


@dataclass
class FrameClient:
    """
    One HTTP/2 connection driven frame by frame.

    @ivar transcript: every frame sent and event received, in order, for
        failure messages.
    @ivar serverSettings: the settings of the server's first C{SETTINGS}.
    @ivar encoder: the HPACK encoder of this connection's header blocks.
    @ivar decoder: the HPACK decoder of the server's.
    @ivar responses: the last header list the server sent on each stream.
    """

    target: Target
    timeout: float = TIMEOUT
    transcript: list[str] = field(default_factory=list)
    serverSettings: dict[int, int] = field(default_factory=dict)
    encoder: Encoder = field(default_factory=Encoder)
    decoder: Decoder = field(default_factory=Decoder)
    responses: dict[int, list[tuple[bytes, bytes]]] = field(default_factory=dict)
    closed: bool = False

    def __post_init__(self) -> None:
        raw = socket.create_connection(self.target.address, timeout=10)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock: socket.socket
        if self.target.context is not None:
            self.sock = self.target.context.wrap_socket(
                raw, server_hostname="localhost"
            )
            protocol = self.sock.selected_alpn_protocol()
            assert protocol == "h2", f"ALPN chose {protocol!r}, not h2"
        else:
            self.sock = raw
        self._buffer = b""
        self._block = b""
        self._how = ""
        self._windows: dict[int, int] = {0: DEFAULT_WINDOW}

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self) -> FrameClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # Sending.

    def send(self, data: bytes, note: str | None = None) -> None:
        """
        Send bytes as they are; a server that has already closed the
        connection is not an error here (what it did is read next).
        """
        self.transcript.append(f"sent {note or describeRaw(data)}")
        try:
            self.sock.sendall(data)
        except OSError as e:
            self.transcript.append(f"  (send failed: {e!r})")

    def sendFrame(self, frame: Frame) -> None:
        self.send(frame.serialize(), describe(frame))

    def raw(self, kind: int, flags: int, streamID: int, payload: bytes) -> None:
        """
        Send a frame made by hand (see L{rawFrame}).
        """
        self.send(rawFrame(kind, flags, streamID, payload))

    def preface(self) -> None:
        self.send(PREFACE, "client preface")

    def handshake(self) -> None:
        """
        The connection preface both ways as h2spec makes it: the client
        preface and C{SETTINGS_INITIAL_WINDOW_SIZE=65535}, then read until
        the server's C{SETTINGS} (acknowledged) and the acknowledgement of
        ours have both arrived.
        """
        self.preface()
        self.settings((SettingCodes.INITIAL_WINDOW_SIZE, DEFAULT_WINDOW))
        local = remote = False
        while not (local and remote):
            event = self.next(HANDSHAKE_TIMEOUT)
            if isinstance(event, SettingsFrame):
                if "ACK" in event.flags:
                    local = True
                else:
                    remote = True
                    self.serverSettings.update(event.settings)
                    self.settingsAck()
            elif not isinstance(event, Frame):
                raise AssertionError(
                    f"the HTTP/2 handshake did not complete: {event}\n{self.log()}"
                )

    def encode(self, fields: Fields, huffmanCoded: bool = True) -> bytes:
        """
        A header block for C{fields} from this connection's encoder (whose
        dynamic table the server's decoder mirrors).
        """
        return self.encoder.encode(
            [(n.encode(), v.encode()) for n, v in fields], huffman=huffmanCoded
        )

    def headers(
        self,
        streamID: int,
        block: bytes | Fields,
        endStream: bool = True,
        endHeaders: bool = True,
        padLength: int | None = None,
        dependsOn: int | None = None,
        weight: int = 255,
        exclusive: bool = False,
    ) -> None:
        """
        Send a C{HEADERS} frame with a header block (or fields to encode),
        optionally padded and with priority fields.
        """
        frame = HeadersFrame(streamID)
        frame.data = block if isinstance(block, bytes) else self.encode(block)
        if endStream:
            frame.flags.add("END_STREAM")
        if endHeaders:
            frame.flags.add("END_HEADERS")
        if padLength is not None:
            frame.flags.add("PADDED")
            frame.pad_length = padLength
        if dependsOn is not None:
            frame.flags.add("PRIORITY")
            frame.depends_on = dependsOn
            frame.stream_weight = weight
            frame.exclusive = exclusive
        note = describe(frame)
        if not isinstance(block, bytes):
            note += f" {fieldsText(block)}"
        self.send(frame.serialize(), note)

    def continuation(self, streamID: int, block: bytes, endHeaders: bool) -> None:
        """
        Send a C{CONTINUATION} frame (made by hand: it may be on stream 0).
        """
        self.raw(CONTINUATION, END_HEADERS if endHeaders else 0, streamID, block)

    def data(
        self,
        streamID: int,
        payload: bytes,
        endStream: bool = True,
        padLength: int | None = None,
    ) -> None:
        """
        Send a C{DATA} frame (made by hand: it may be on stream 0).
        """
        flags = END_STREAM if endStream else 0
        if padLength is not None:
            flags |= PADDED
            payload = bytes([padLength]) + payload + b"\0" * padLength
        self.raw(DATA, flags, streamID, payload)

    def priority(
        self,
        streamID: int,
        dependsOn: int = 0,
        weight: int = 255,
        exclusive: bool = False,
    ) -> None:
        """
        Send a C{PRIORITY} frame (RFC 9113 section 6.3; C{weight} is the
        octet sent, the weight minus one).
        """
        dependency = dependsOn | (0x80000000 if exclusive else 0)
        self.raw(PRIORITY, 0, streamID, struct.pack(">IB", dependency, weight))

    def rstStream(self, streamID: int, code: int) -> None:
        self.raw(RST_STREAM, 0, streamID, struct.pack(">I", code))

    def settings(self, *values: tuple[int, int]) -> None:
        """
        Send a C{SETTINGS} frame with C{values} in this order (repeats
        allowed).
        """
        payload = b"".join(struct.pack(">HI", k, v) for k, v in values)
        note = ", ".join(f"{settingName(k)}={v}" for k, v in values)
        self.send(rawFrame(SETTINGS, 0, 0, payload), f"SETTINGS({note})")

    def settingsAck(self) -> None:
        self.send(rawFrame(SETTINGS, ACK, 0, b""), "SETTINGS(ACK)")

    def ping(self, opaque: bytes, ack: bool = False) -> None:
        frame = PingFrame(0, opaque)
        if ack:
            frame.flags.add("ACK")
        self.sendFrame(frame)

    def goAway(self, lastStreamID: int, code: int, debug: bytes = b"") -> None:
        self.raw(GOAWAY, 0, 0, struct.pack(">II", lastStreamID, code) + debug)

    def windowUpdate(self, streamID: int, increment: int) -> None:
        self.raw(WINDOW_UPDATE, 0, streamID, struct.pack(">I", increment))

    # Receiving.

    def next(self, timeout: float | None = None) -> Event:
        """
        The next event: a frame, the connection closed, bytes that are not
        a frame, or a timeout.
        """
        wait = self.timeout if timeout is None else timeout
        if self.closed:
            return self._closedEvent()
        deadline = time.monotonic() + wait
        while True:
            event = self._parse()
            if event is not None:
                if isinstance(event, Frame):
                    line = f"received {describe(event)}"
                    self.transcript.append(line + self._decoded(event))
                    self._consumed(event)
                else:
                    self.transcript.append(f"received {event}")
                return event
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.transcript.append(f"received {TimedOut(wait)}")
                return TimedOut(wait)
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                continue
            except ssl.SSLError as e:
                # A TLS close (close_notify, EOF) or a broken record.
                return self._closed(f"TLS: {e.__class__.__name__}")
            except ConnectionError as e:
                return self._closed(e.__class__.__name__)
            if not chunk:
                return self._closed("EOF")
            self._buffer += chunk

    def _closed(self, how: str) -> Closed | NotHTTP2:
        """
        The connection is closed: report what is left unparsed first, if
        anything, then the close.
        """
        self.closed = True
        self._how = how
        if self._buffer:
            leftover, self._buffer = self._buffer, b""
            self.transcript.append(f"received {NotHTTP2(leftover)}")
            return NotHTTP2(leftover)
        return self._closedEvent()

    def _closedEvent(self) -> Closed:
        event = Closed(self._how)
        self.transcript.append(f"received {event}")
        return event

    def _parse(self) -> Frame | NotHTTP2 | None:
        buffer = self._buffer
        if buffer.startswith(b"HTTP/"):
            self._buffer = b""
            return NotHTTP2(buffer)
        if len(buffer) < 9:
            return None
        try:
            frame, length = Frame.parse_frame_header(memoryview(buffer[:9]))
        except HyperframeError:
            self._buffer = b""
            return NotHTTP2(buffer)
        if length > DEFAULT_MAX_FRAME:
            self._buffer = b""
            return NotHTTP2(buffer)
        if len(buffer) < 9 + length:
            return None
        self._buffer = buffer[9 + length :]
        try:
            frame.parse_body(memoryview(buffer[9 : 9 + length]))
        except HyperframeError as e:
            return NotHTTP2(buffer[: 9 + length] + f" ({e})".encode())
        frame.body_len = length
        return frame

    def _decoded(self, frame: Frame) -> str:
        """
        Decode the server's header blocks (keeping the decoder's table in
        step) into L{responses}; name the status of a response.
        """
        if not isinstance(frame, (HeadersFrame, ContinuationFrame)):
            return ""
        self._block += frame.data
        if "END_HEADERS" not in frame.flags:
            return ""
        block, self._block = self._block, b""
        try:
            fields = [
                (bytes(n), bytes(v)) for n, v in self.decoder.decode(block, raw=True)
            ]
        except HPACKError as e:
            return f" (undecodable header block: {e})"
        self.responses[frame.stream_id] = fields
        status = dict(fields).get(b":status")
        return f" :status {status.decode()}" if status else ""

    def _consumed(self, frame: Frame) -> None:
        """
        Give back flow-control credit for response data as h2spec does:
        once a window falls to zero, restore it to 65535.
        """
        if not isinstance(frame, DataFrame) or not frame.body_len:
            return
        for streamID in (frame.stream_id, 0):
            window = self._windows.get(streamID, DEFAULT_WINDOW) - frame.body_len
            if window <= 0:
                self.windowUpdate(streamID, DEFAULT_WINDOW - window)
                window = DEFAULT_WINDOW
            self._windows[streamID] = window

    # Outcomes.

    def log(self) -> str:
        return "exchange:\n  " + "\n  ".join(self.transcript)

    def fail(self, expected: str, actual: object) -> AssertionError:
        """
        The error for an outcome other than C{expected}, with the exchange.
        """
        if isinstance(actual, Frame):
            actual = describe(actual)
        return AssertionError(f"expected {expected}; got {actual}\n{self.log()}")

    def expectConnectionError(self, *codes: int) -> None:
        """
        A connection error (RFC 9113 section 5.4.1) with one of C{codes}:
        C{GOAWAY} with one of them, or the connection closed.
        """
        names = " or ".join(codeName(c) for c in codes)
        expected = f"GOAWAY({names}) or the connection closed"
        while True:
            event = self.next()
            if isinstance(event, GoAwayFrame):
                if event.error_code in codes:
                    return
                raise self.fail(expected, event)
            if isinstance(event, Closed):
                return
            if isinstance(event, (TimedOut, NotHTTP2)):
                raise self.fail(expected, event)

    def expectStreamError(self, streamID: int, *codes: int) -> None:
        """
        A stream error (RFC 9113 section 5.4.2) on C{streamID} with one of
        C{codes}: C{RST_STREAM} with one of them, or a connection error
        with one of them, or the connection closed.
        """
        names = " or ".join(codeName(c) for c in codes)
        expected = (
            f"RST_STREAM(stream={streamID}, {names}), GOAWAY({names})"
            " or the connection closed"
        )
        while True:
            event = self.next()
            if isinstance(event, RstStreamFrame):
                if event.stream_id == streamID and event.error_code in codes:
                    return
            elif isinstance(event, GoAwayFrame):
                if event.error_code in codes:
                    return
                raise self.fail(expected, event)
            elif isinstance(event, Closed):
                return
            elif isinstance(event, (TimedOut, NotHTTP2)):
                raise self.fail(expected, event)

    def expectConnectionClosed(self) -> None:
        """
        The connection closed, whatever comes before.
        """
        while True:
            event = self.next()
            if isinstance(event, Closed):
                return
            if isinstance(event, (TimedOut, NotHTTP2)):
                raise self.fail("the connection closed", event)

    def expectStreamClosed(self, streamID: int) -> None:
        """
        The server ends C{streamID}: C{END_STREAM} on its C{HEADERS} or
        C{DATA}, or C{RST_STREAM NO_ERROR}.
        """
        expected = f"stream {streamID} ended (END_STREAM or RST_STREAM NO_ERROR)"
        while True:
            event = self.next()
            if isinstance(event, (HeadersFrame, DataFrame)):
                if event.stream_id == streamID and "END_STREAM" in event.flags:
                    return
            elif isinstance(event, RstStreamFrame):
                if event.stream_id == streamID and event.error_code == 0:
                    return
            elif not isinstance(event, Frame):
                raise self.fail(expected, event)

    def _first(self, kind: type[Frame], expected: str) -> Frame:
        """
        The first frame of C{kind}, skipping others.
        """
        while True:
            event = self.next()
            if isinstance(event, kind):
                return event
            if not isinstance(event, Frame):
                raise self.fail(expected, event)

    def expectHeaders(self, streamID: int) -> HeadersFrame:
        """
        The server's first C{HEADERS} frame is on C{streamID} (a response).
        """
        expected = f"HEADERS on stream {streamID}"
        frame = self._first(HeadersFrame, expected)
        if frame.stream_id != streamID:
            raise self.fail(expected, frame)
        assert isinstance(frame, HeadersFrame)
        return frame

    def expectPingAck(self, opaque: bytes) -> None:
        """
        The server's first C{PING} acknowledges C{opaque}.
        """
        expected = f"PING(ACK, opaque={opaque!r})"
        frame = self._first(PingFrame, expected)
        assert isinstance(frame, PingFrame)
        if "ACK" not in frame.flags or bytes(frame.opaque_data) != opaque:
            raise self.fail(expected, frame)

    def expectPingAckOrClose(self, opaque: bytes) -> None:
        """
        The server acknowledges C{opaque}, or closes the connection.
        """
        expected = f"PING(ACK, opaque={opaque!r}) or the connection closed"
        while True:
            event = self.next()
            if isinstance(event, Closed):
                return
            if isinstance(event, PingFrame):
                if "ACK" in event.flags and bytes(event.opaque_data) == opaque:
                    return
                raise self.fail(expected, event)
            if not isinstance(event, Frame):
                raise self.fail(expected, event)

    def expectSettingsAck(self) -> None:
        """
        The server's next C{SETTINGS} frame is an acknowledgement.
        """
        frame = self._first(SettingsFrame, "SETTINGS(ACK)")
        if "ACK" not in frame.flags:
            raise self.fail("SETTINGS(ACK)", frame)

    def expectFrame(self, kind: type[Frame]) -> Frame:
        """
        A frame of C{kind} arrives.
        """
        return self._first(kind, f"a {kind.__name__}")

    def expectData(self, streamID: int, length: int) -> None:
        """
        The server's first C{DATA} frame is on C{streamID} and C{length}
        octets long (a flow-control window of C{length}).
        """
        expected = f"DATA(stream={streamID}, length={length})"
        frame = self._first(DataFrame, expected)
        if frame.stream_id != streamID or frame.body_len != length:
            raise self.fail(expected, frame)

    def expectGoAway(self, code: int) -> None:
        """
        The server sends C{GOAWAY} with C{code} (closing alone is not
        enough).
        """
        expected = f"GOAWAY({codeName(code)})"
        frame = self._first(GoAwayFrame, expected)
        assert isinstance(frame, GoAwayFrame)
        if frame.error_code != code:
            raise self.fail(expected, frame)

    def expectRstStream(self, streamID: int, code: int) -> None:
        """
        The server resets C{streamID} with C{code} (a connection error is
        not enough).
        """
        expected = f"RST_STREAM(stream={streamID}, {codeName(code)})"
        while True:
            frame = self._first(RstStreamFrame, expected)
            assert isinstance(frame, RstStreamFrame)
            if frame.stream_id == streamID:
                if frame.error_code != code:
                    raise self.fail(expected, frame)
                return
