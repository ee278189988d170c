# -*- test-case-name: tests.websocket.test_deflate -*-
"""
permessage-deflate (RFC 7692) for the server, without I/O: the agreement
of its parameters in the opening handshake (L{negotiate}) and one
connection's compressor and inflater (L{PerMessageDeflate}), which the
frame codec (L{echohub.websocket._codec}) drives.

B{The agreement} (RFC 7692 section 7.1).  A client lists its offers in
C{Sec-WebSocket-Extensions}, most preferred first; the server accepts the
first it can honour in full and declines the others.  An offer is declined,
never half-read, when it names a parameter this server does not know,
names one twice, gives a parameter a value it may not have, or asks the
server to compress with an 8-bit window (zlib cannot make raw deflate
streams with one).  Accepting, the server honours everything asked:
C{server_no_context_takeover} (a new compressor for every message),
C{server_max_window_bits} (at most that window), and answers
C{client_max_window_bits}, when the client says it can take the
parameter, with the smaller of its value and
C{[websocket] compression_window_bits}, so that the inflater's window is
bounded too.  C{client_no_context_takeover} is acknowledged, and lets the
server drop its inflater between messages.

B{Memory per connection.}  zlib's compressor takes about
C{2 ** (window_bits + 2) + 2 ** (mem_level + 9)} bytes (32 KiB at the
defaults, 12 and 5, as the C{websockets} library chose for the same
reason; 256 KiB at zlib's own 15 and 8), its inflater 7 KiB and a window
of C{2 ** window_bits}.  Both are made when the first compressed message
needs them, and dropped after each message where no context is kept, so
that a connection that never sends a compressed message costs nothing.

B{Bounded inflation.}  A message of 500 kB on the wire can inflate to
512 MiB.  L{PerMessageDeflate.inflate} is given the room the message has
left under C{[websocket] max_message} and asks zlib for one byte more
(C{decompress(data, room + 1)}): a message that would pass the cap is
known as soon as it does, and no more than the cap is ever inflated.

Why not a library: zlib is the compressor (and C{websockets} and wsproto
use it the same way), and neither library's inflater stops at a cap while
inflating: wsproto inflates a frame whole, and C{websockets} keeps its
limit in its own framing.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from typing import Any

from echohub.config import WebSocketConfig

EXTENSION = "permessage-deflate"

_TAIL = b"\x00\x00\xff\xff"
"""
What ends every sync-flushed deflate block: stripped from each compressed
message sent, added back to each received before inflating (section 7.2).
"""

_WINDOW_VALUE = re.compile(r"(?:[89]|1[0-5])\Z")
"""
The values a C{*_max_window_bits} parameter may have (section 7.1.2):
8 to 15, without leading zeros.
"""

_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_ITEM = re.compile(
    rf"\s*({_TOKEN})\s*(?:=\s*(?:({_TOKEN})|\"((?:[^\"\\]|\\.)*)\"))?\s*"
)


class ExtensionSyntaxError(ValueError):
    """
    A C{Sec-WebSocket-Extensions} field is not a list of extensions as
    RFC 6455 section 9.1 writes them.
    """


Offer = tuple[str, list[tuple[str, str | None]]]
"""
One extension offered: its name and its parameters, each with its value or
L{None}.
"""


def parseExtensions(values: list[bytes]) -> list[Offer]:
    """
    Parse C{Sec-WebSocket-Extensions} field values into offers: each an
    extension name and its parameters, in order, a parameter's value
    L{None} when it has none (a quoted value is unquoted).

    @raise ExtensionSyntaxError: a value is not an extension list.
    """
    offers: list[Offer] = []
    for raw in values:
        try:
            text = raw.decode("ascii")
        except UnicodeDecodeError:
            raise ExtensionSyntaxError("not ASCII") from None
        for element in _splitOutsideQuotes(text, ","):
            if not element.strip():
                continue  # an empty list element (RFC 9110 section 5.6.1)
            parts = _splitOutsideQuotes(element, ";")
            name = parts[0].strip()
            if not re.fullmatch(_TOKEN, name):
                raise ExtensionSyntaxError(f"bad extension name {name!r}")
            parameters: list[tuple[str, str | None]] = []
            for part in parts[1:]:
                item = _ITEM.fullmatch(part)
                if item is None:
                    raise ExtensionSyntaxError(f"bad parameter {part.strip()!r}")
                key, value, quoted = item.groups()
                if quoted is not None:
                    value = re.sub(r"\\(.)", r"\1", quoted)
                    if not re.fullmatch(_TOKEN, value):
                        # Section 9.1: a quoted value must be a token too.
                        raise ExtensionSyntaxError(f"bad parameter {part.strip()!r}")
                parameters.append((key.lower(), value))
            offers.append((name.lower(), parameters))
    return offers


def _splitOutsideQuotes(text: str, separator: str) -> list[str]:
    """
    C{text} split at every C{separator} that is not inside a quoted string.
    """
    parts = []
    start = 0
    quoted = escaped = False
    for index, character in enumerate(text):
        if escaped:
            escaped = False
        elif quoted and character == "\\":
            escaped = True
        elif character == '"':
            quoted = not quoted
        elif character == separator and not quoted:
            parts.append(text[start:index])
            start = index + 1
    if quoted:
        raise ExtensionSyntaxError("unterminated quoted string")
    parts.append(text[start:])
    return parts


@dataclass(frozen=True)
class DeflateParameters:
    """
    The permessage-deflate parameters agreed with one client.

    @ivar serverNoContextTakeover: the server compresses every message
        afresh.
    @ivar clientNoContextTakeover: the client does, so the server may drop
        its inflater between messages.
    @ivar serverWindowBits: the window the server compresses with.
    @ivar clientWindowBits: the largest window the client compresses with.
    @ivar memLevel: the compressor's zlib memLevel.
    @ivar level: the compressor's zlib level.
    @ivar response: the C{Sec-WebSocket-Extensions} value that says so.
    """

    serverNoContextTakeover: bool
    clientNoContextTakeover: bool
    serverWindowBits: int
    clientWindowBits: int
    memLevel: int
    level: int
    response: bytes


def negotiate(values: list[bytes], config: WebSocketConfig) -> DeflateParameters | None:
    """
    Agree to the first permessage-deflate offer in the C{Sec-WebSocket-Extensions}
    field values C{values} that this server can honour, if compression is
    on (see the module docstring).

    @return: the agreement, or L{None} for none (then no extension is used).
    @raise ExtensionSyntaxError: the field is not an extension list.
    """
    if not config.compression or not values:
        return None
    for name, parameters in parseExtensions(values):
        if name == EXTENSION:
            agreed = _accept(parameters, config)
            if agreed is not None:
                return agreed
    return None


def _accept(
    parameters: list[tuple[str, str | None]], config: WebSocketConfig
) -> DeflateParameters | None:
    """
    Accept one offer, or decline it (L{None}).
    """
    offered: dict[str, str | None] = {}
    for key, value in parameters:
        if key in offered:
            return None
        if key in ("server_no_context_takeover", "client_no_context_takeover"):
            if value is not None:
                return None
        elif key == "server_max_window_bits":
            if value is None or not _WINDOW_VALUE.match(value):
                return None
        elif key == "client_max_window_bits":
            if value is not None and not _WINDOW_VALUE.match(value):
                return None
        else:
            return None
        offered[key] = value
    ours = config.compression_window_bits
    response = [EXTENSION]
    serverBits = ours
    if "server_no_context_takeover" in offered:
        response.append("server_no_context_takeover")
    if "client_no_context_takeover" in offered:
        response.append("client_no_context_takeover")
    if "server_max_window_bits" in offered:
        asked = int(offered["server_max_window_bits"] or 15)
        if asked < 9:
            return None  # zlib cannot compress with an 8-bit window
        serverBits = min(asked, ours)
        response.append(f"server_max_window_bits={serverBits}")
    clientBits = 15
    if "client_max_window_bits" in offered:
        clientBits = min(int(offered["client_max_window_bits"] or 15), ours)
        response.append(f"client_max_window_bits={clientBits}")
    return DeflateParameters(
        serverNoContextTakeover="server_no_context_takeover" in offered,
        clientNoContextTakeover="client_no_context_takeover" in offered,
        serverWindowBits=serverBits,
        clientWindowBits=clientBits,
        memLevel=config.compression_mem_level,
        level=config.compression_level,
        response="; ".join(response).encode("ascii"),
    )


class InflateError(Exception):
    """
    A compressed message is not a valid deflate stream.
    """


class PerMessageDeflate:
    """
    One connection's compressor and inflater, made when first needed and
    dropped where no context is kept (see the module docstring).
    """

    def __init__(self, parameters: DeflateParameters) -> None:
        self.parameters = parameters
        self._compressor: Any = None
        self._inflater: Any = None

    def compress(self, data: bytes) -> bytes:
        """
        The payload of one compressed message carrying C{data}.
        """
        parameters = self.parameters
        compressor = self._compressor
        if compressor is None:
            compressor = zlib.compressobj(
                parameters.level,
                zlib.DEFLATED,
                -parameters.serverWindowBits,
                parameters.memLevel,
            )
            if not parameters.serverNoContextTakeover:
                self._compressor = compressor
        payload = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
        # Section 7.2.1: the sync flush's empty block ends in the tail.
        return payload[:-4]

    def inflate(self, data: bytes, room: int, final: bool) -> bytes | None:
        """
        Inflate the next piece C{data} of a compressed message, C{final}
        if it is the message's last.

        @param room: how many more bytes the message may inflate to.
        @return: the inflated bytes, or L{None} if they would pass C{room}
            (only C{room + 1} bytes are ever inflated to know it).
        @raise InflateError: the data is not deflate.
        """
        inflater = self._inflater
        if inflater is None:
            # A window at least as large as the client's decodes its stream;
            # zlib's raw inflate takes no less than 9 bits.
            inflater = self._inflater = zlib.decompressobj(
                -max(self.parameters.clientWindowBits, 9)
            )
        if final:
            data += _TAIL
        try:
            out = inflater.decompress(data, room + 1)
        except zlib.error as e:
            raise InflateError(str(e)) from None
        if len(out) > room:
            return None
        if final and (inflater.eof or self.parameters.clientNoContextTakeover):
            # No context kept, or the client ended its stream with a final
            # block (section 7.2.3.3): the next message starts afresh.
            self._inflater = None
        return out

    def reset(self) -> None:
        """
        Forget the inflater's state (a message was abandoned).
        """
        self._inflater = None
