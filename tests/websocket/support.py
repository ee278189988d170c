"""
What the WebSocket tests share: hand-made client frames, the server's frames
parsed, opening handshakes, and a client connected to a new site's C{/ws}
over an in-memory transport.
"""

from __future__ import annotations

import struct

from twisted.internet.address import IPv4Address
from twisted.internet.error import ConnectionDone
from twisted.internet.testing import (
    MemoryReactorClock,
    StringTransport,
)
from twisted.python.failure import Failure

from echohub.config import WebConfig, WebSocketConfig
from echohub.http import HTTP1Channel
from echohub.ops._connections import ConnectionRegistry
from echohub.testing import (
    CLIENT_PEER,
    HalfCloseTransport,
)
from echohub.web import buildSite

TEXT, BINARY, CONTINUATION, CLOSE, PING, PONG = 1, 2, 0, 8, 9, 10
SMALL = WebSocketConfig(max_message=100, ping_interval=30, close_timeout=5)


def frame(
    opcode: int,
    payload: bytes = b"",
    fin: bool = True,
    mask: bytes = b"\x01\x02\x03\x04",
    rsv1: bool = False,
) -> bytes:
    """
    One client frame, masked with C{mask}, with RSV1 set if C{rsv1}
    (permessage-deflate's compressed message).
    """
    head = bytes([(0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode])
    length = len(payload)
    if length < 126:
        head += bytes([0x80 | length])
    elif length < 65536:
        head += bytes([0x80 | 126]) + struct.pack("!H", length)
    else:
        head += bytes([0x80 | 127]) + struct.pack("!Q", length)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def frames(data: bytes) -> list[tuple[int, bytes]]:
    """
    Parse the server's (unmasked) frames.
    """
    parsed = []
    while data:
        opcode, length = data[0] & 0x0F, data[1] & 0x7F
        offset = 2
        if length == 126:
            (length,) = struct.unpack("!H", data[2:4])
            offset = 4
        elif length == 127:
            (length,) = struct.unpack("!Q", data[2:10])
            offset = 10
        parsed.append((opcode, data[offset : offset + length]))
        data = data[offset + length :]
    return parsed


def handshake(origin: bytes | None = None, host: bytes = b"echo.test") -> bytes:
    """
    A WebSocket opening handshake for C{/ws}.
    """
    lines = [
        b"GET /ws HTTP/1.1",
        b"Host: " + host,
        b"Upgrade: websocket",
        b"Connection: Upgrade",
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        b"Sec-WebSocket-Version: 13",
    ]
    if origin is not None:
        lines.append(b"Origin: " + origin)
    return b"\r\n".join(lines) + b"\r\n\r\n"


class Connection:
    """
    A client connected to a new site's C{/ws}, past the handshake.
    """

    def __init__(
        self,
        config: WebSocketConfig = SMALL,
        origin: bytes | None = None,
        transport: StringTransport | None = None,
        early: bytes = b"",
    ) -> None:
        """
        @param transport: the server's transport; a L{StringTransport} by
            default.
        @param early: bytes sent in the same read as the handshake.
        """
        self.clock = MemoryReactorClock()
        self.connections = ConnectionRegistry()
        site = buildSite(WebConfig(), self.clock, self.connections, websocket=config)
        self.channel = site.buildProtocol(IPv4Address("TCP", "127.0.0.1", 8080))
        assert isinstance(self.channel, HTTP1Channel)
        self.transport = transport or StringTransport(peerAddress=CLIENT_PEER)
        if isinstance(self.transport, HalfCloseTransport):
            self.transport.protocol = self.channel
        self.channel.makeConnection(self.transport)
        self.channel.dataReceived(handshake(origin) + early)
        head, _, rest = self.transport.value().partition(b"\r\n\r\n")
        self.status = int(head.split(b" ")[1])
        self.early = frames(rest)
        self.transport.clear()

    def send(self, *data: bytes) -> list[tuple[int, bytes]]:
        """
        Send C{data}, one read each, and return the frames written since the
        last call.
        """
        for chunk in data:
            self.channel.dataReceived(chunk)
        return self.received()

    def received(self) -> list[tuple[int, bytes]]:
        written = self.transport.value()
        self.transport.clear()
        return frames(written)

    def lose(self) -> None:
        self.channel.connectionLost(Failure(ConnectionDone()))


def closeFrame(code: int, reason: bytes = b"") -> tuple[int, bytes]:
    return (CLOSE, struct.pack("!H", code) + reason)


def upgrade(
    *replace: tuple[bytes, bytes | None], version: bytes = b"HTTP/1.1"
) -> bytes:
    """
    A handshake for C{/ws} with headers replaced (C{None} removes one).
    """
    headers = {
        b"Host": b"echo.test",
        b"Upgrade": b"websocket",
        b"Connection": b"Upgrade",
        b"Sec-WebSocket-Key": b"dGhlIHNhbXBsZSBub25jZQ==",
        b"Sec-WebSocket-Version": b"13",
    }
    extra = []
    for name, value in replace:
        if name.startswith(b"+"):
            extra.append(name[1:] + b": " + (value or b""))
        elif value is None:
            del headers[name]
        else:
            headers[name] = value
    lines = [b"GET /ws " + version] + [k + b": " + v for k, v in headers.items()]
    return b"\r\n".join(lines + extra) + b"\r\n\r\n"
