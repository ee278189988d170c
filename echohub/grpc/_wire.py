# -*- test-case-name: tests.grpc.test_wire -*-
"""
The gRPC protocol (grpc/grpc C{doc/PROTOCOL-HTTP2.md} and, for browsers,
C{doc/PROTOCOL-WEB.md}) without I/O: bytes and header lists in, messages,
header lists and errors out.

    - L{MessageReader}: the length-prefixed messages of a request body (a
      flag byte, a 4-byte big-endian length, the message), as the body
      arrives in pieces.  A length over the limit is refused as soon as its
      prefix arrives, before any of the message is kept; a compressed
      message is inflated in one step bounded by the limit (L{inflate}).
    - L{frame}: one message, prefixed (and compressed) for sending.
    - L{Code}, L{GRPCError}, L{statusFields}: the status a call ends with,
      and its C{grpc-status}/C{grpc-message} fields (the message
      percent-encoded, L{encodeMessage}).
    - L{parseTimeout}: C{grpc-timeout}.
    - L{grpcSubtype}, L{webSubtype}: the content types, L{reservedName}: the
      header names that are not custom metadata.

Errors are L{GRPCError}s carrying the status the specification (or, where
it names none, grpc-go and grpc-java) gives them.
"""

from __future__ import annotations

import re
import zlib
from enum import IntEnum

HEADER_SIZE = 5
"""
The length prefix of a message: one flag byte, four length bytes.
"""

COMPRESSED = 0x01
"""
The flag of a compressed message.
"""

TRAILER_FRAME = 0x80
"""
The flag of gRPC-Web's trailer frame, the last of a response body.
"""

ENCODINGS = ("gzip", "deflate")
"""
The message encodings echohub reads and writes, besides C{identity}.
"""

ACCEPT_ENCODING = b"identity,deflate,gzip"
"""
The C{grpc-accept-encoding} echohub sends: what it inflates.
"""


class Code(IntEnum):
    """
    The gRPC status codes (grpc/grpc C{doc/statuscodes.md}).
    """

    OK = 0
    CANCELLED = 1
    UNKNOWN = 2
    INVALID_ARGUMENT = 3
    DEADLINE_EXCEEDED = 4
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    PERMISSION_DENIED = 7
    RESOURCE_EXHAUSTED = 8
    FAILED_PRECONDITION = 9
    ABORTED = 10
    OUT_OF_RANGE = 11
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14
    DATA_LOSS = 15
    UNAUTHENTICATED = 16


class GRPCError(Exception):
    """
    A call must end with C{code} and C{message}.

    @ivar httpStatus: the HTTP status of the answer when nothing was sent
        yet (a Trailers-Only answer): 200 but for a request gRPC's HTTP
        mapping refuses before the call (a non-POST method, 405; a missing
        C{te: trailers} or a malformed C{grpc-timeout}, 400).
    @ivar malformed: whether the client broke the protocol (rather than
        asking for something the server will not do): such a call is also
        counted and logged as a rejection.
    """

    def __init__(
        self,
        code: Code,
        message: str,
        httpStatus: int = 200,
        malformed: bool = False,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.httpStatus = httpStatus
        self.malformed = malformed


def inflate(data: bytes, encoding: str, limit: int) -> bytes:
    """
    Inflate one compressed message, never holding more than C{limit} + 1
    bytes of it.

    @param encoding: C{gzip} or C{deflate} (the zlib format, as HTTP's
        C{deflate} and gRPC's C-core use it).
    @raise GRPCError: C{RESOURCE_EXHAUSTED} for a message that inflates
        past C{limit}, C{INTERNAL} for one that is corrupt or truncated.
    """
    inflater = zlib.decompressobj(31 if encoding == "gzip" else 15)
    try:
        message = inflater.decompress(data, limit + 1)
    except zlib.error as e:
        raise GRPCError(
            Code.INTERNAL,
            f"grpc: a {encoding} message could not be inflated: {e}",
            malformed=True,
        ) from None
    if len(message) > limit:
        raise GRPCError(
            Code.RESOURCE_EXHAUSTED,
            f"grpc: received message after decompression larger than max"
            f" ({limit} bytes, [grpc] max_message)",
            malformed=True,
        )
    if not inflater.eof or inflater.unused_data:
        raise GRPCError(
            Code.INTERNAL,
            f"grpc: a {encoding} message is truncated or has data after its end",
            malformed=True,
        )
    return message


def deflate(data: bytes, encoding: str) -> bytes:
    """
    Compress one message with C{encoding} (C{gzip} or C{deflate}).
    """
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31 if encoding == "gzip" else 15)
    return compressor.compress(data) + compressor.flush()


def frame(message: bytes, encoding: str | None = None, flags: int = 0) -> bytes:
    """
    One message with its length prefix, compressed with C{encoding} if
    given.
    """
    if encoding is not None:
        message = deflate(message, encoding)
        flags |= COMPRESSED
    return bytes((flags,)) + len(message).to_bytes(4, "big") + message


class MessageReader:
    """
    The messages of one request body, as its pieces arrive.

    @ivar maxMessage: the largest message accepted, compressed or inflated.
    @ivar encoding: the request's C{grpc-encoding}, or L{None} for none
        (or C{identity}).
    @ivar received: how many messages were read.
    """

    def __init__(self, maxMessage: int, encoding: str | None = None) -> None:
        self.maxMessage = maxMessage
        self.encoding = encoding
        self.received = 0
        self._buffer = bytearray()
        self._flags = 0
        self._length = -1

    @property
    def pending(self) -> int:
        """
        Bytes of an incomplete message (or prefix) held.
        """
        return len(self._buffer)

    def feed(self, data: bytes) -> list[bytes]:
        """
        Read C{data}, the next piece of the body.

        @return: the messages it completed, inflated.
        @raise GRPCError: the body breaks the protocol or a limit; nothing
            more can be read.
        """
        messages = []
        if self._length < 0 and not self._buffer:
            # Most pieces hold whole messages: read them in place.
            pos, end = 0, len(data)
            while end - pos >= HEADER_SIZE:
                length = self._prefix(data[pos], data[pos + 1 : pos + HEADER_SIZE])
                start = pos + HEADER_SIZE
                if end - start < length:
                    break
                pos = start + length
                messages.append(self._message(data[start:pos]))
                self._length = -1
            if pos == len(data):
                return messages
            data = data[pos:]
            if self._length >= 0:
                # The prefix is read; keep only what follows it.
                data = data[HEADER_SIZE:]
        buffer = self._buffer
        buffer += data
        while True:
            if self._length < 0:
                if len(buffer) < HEADER_SIZE:
                    return messages
                self._length = self._prefix(buffer[0], bytes(buffer[1:HEADER_SIZE]))
                del buffer[:HEADER_SIZE]
            length = self._length
            if len(buffer) < length:
                return messages
            message = bytes(buffer[:length])
            del buffer[:length]
            self._length = -1
            messages.append(self._message(message))

    def _prefix(self, flags: int, length: bytes) -> int:
        """
        Check a message's prefix: its flags, its length against the limit.
        """
        size = int.from_bytes(length, "big")
        if flags & ~COMPRESSED:
            raise GRPCError(
                Code.INTERNAL,
                f"grpc: a message has unknown flags 0x{flags:02x}",
                malformed=True,
            )
        if size > self.maxMessage:
            raise GRPCError(
                Code.RESOURCE_EXHAUSTED,
                f"grpc: received message larger than max ({size} vs."
                f" {self.maxMessage} bytes, [grpc] max_message)",
                malformed=True,
            )
        if flags and self.encoding is None:
            raise GRPCError(
                Code.INTERNAL,
                "grpc: compressed flag set with identity or empty encoding"
                " (no grpc-encoding)",
                malformed=True,
            )
        if flags and self.encoding not in ENCODINGS:
            raise GRPCError(
                Code.UNIMPLEMENTED,
                f"grpc: message compressed with {self.encoding!r}, which this"
                f" server does not support ({ACCEPT_ENCODING.decode()})",
                malformed=True,
            )
        self._flags = flags
        self._length = size
        return size

    def _message(self, payload: bytes) -> bytes:
        self.received += 1
        if self._flags:
            assert self.encoding is not None
            return inflate(payload, self.encoding, self.maxMessage)
        return payload

    def end(self) -> None:
        """
        The body ended.

        @raise GRPCError: C{INTERNAL} if it ended inside a message.
        """
        if self._buffer or self._length >= 0:
            raise GRPCError(
                Code.INTERNAL,
                f"grpc: the request ended inside a message ({self.pending} bytes"
                " of it received)",
                malformed=True,
            )


_UNESCAPED = re.compile(rb"[^\x20-\x24\x26-\x7e]")


def encodeMessage(text: str) -> bytes:
    """
    C{grpc-message}'s value for C{text}: its UTF-8, every byte outside
    printable ASCII, and C{%}, percent-encoded.
    """
    return _UNESCAPED.sub(lambda m: b"%%%02X" % m[0][0], text.encode("utf-8"))


def statusFields(code: int, message: str = "") -> list[tuple[bytes, bytes]]:
    """
    The C{grpc-status} and (when there is one) C{grpc-message} fields.
    """
    fields = [(b"grpc-status", b"%d" % code)]
    if message:
        fields.append((b"grpc-message", encodeMessage(message)))
    return fields


_TIMEOUT_UNITS = {
    ord("H"): 3600.0,
    ord("M"): 60.0,
    ord("S"): 1.0,
    ord("m"): 1e-3,
    ord("u"): 1e-6,
    ord("n"): 1e-9,
}


def parseTimeout(value: bytes) -> float:
    """
    The seconds of a C{grpc-timeout} value: at most 8 digits and a unit.

    @raise GRPCError: C{INTERNAL} (HTTP 400), as grpc-go answers a
        malformed one.
    """
    unit = _TIMEOUT_UNITS.get(value[-1]) if value else None
    digits = value[:-1]
    if unit is None or not 1 <= len(digits) <= 8 or not digits.isdigit():
        raise GRPCError(
            Code.INTERNAL,
            f"malformed grpc-timeout {value.decode('ascii', 'replace')!r}: at most"
            " 8 digits and a unit (H, M, S, m, u, n)",
            httpStatus=400,
            malformed=True,
        )
    return int(digits) * unit


def _subtype(value: bytes, prefix: bytes) -> bytes | None:
    """
    The subtype of C{value} if it is C{prefix}, C{prefix+SUBTYPE} or either
    with parameters; L{None} for another type.
    """
    if not value.startswith(prefix):
        return None
    rest = value[len(prefix) :].split(b";", 1)[0].strip()
    if not rest:
        return b""
    if rest[:1] == b"+":
        return rest[1:]
    return None


def grpcSubtype(contentType: bytes) -> bytes | None:
    """
    The subtype of a native gRPC content type: C{b""} for
    C{application/grpc}, C{b"proto"} for C{application/grpc+proto};
    L{None} for anything else (C{application/grpc-web} included).
    """
    return _subtype(contentType, b"application/grpc")


def webSubtype(contentType: bytes) -> tuple[bool, bytes] | None:
    """
    Whether a gRPC-Web content type is the base64 text form, and its
    subtype; L{None} for anything else.
    """
    for text, prefix in (
        (True, b"application/grpc-web-text"),
        (False, b"application/grpc-web"),
    ):
        subtype = _subtype(contentType, prefix)
        if subtype is not None:
            return text, subtype
    return None


PROTO_SUBTYPES = frozenset((b"", b"proto"))
"""
The subtypes whose messages are protocol buffers: the only ones served.
"""

_RESERVED = frozenset(
    (
        b"content-type",
        b"content-length",
        b"te",
        b"user-agent",
        b"host",
        b"connection",
        b"keep-alive",
        b"transfer-encoding",
        b"upgrade",
        b"proxy-connection",
    )
)


def reservedName(name: bytes) -> bool:
    """
    Whether a header is the protocol's rather than custom metadata: the
    pseudo-headers, C{grpc-*}, and the HTTP fields gRPC itself sets
    (C{content-type}, C{te}, C{user-agent}...).  Reserved names are never
    echoed back.
    """
    return name[:1] == b":" or name[:5] == b"grpc-" or name in _RESERVED
