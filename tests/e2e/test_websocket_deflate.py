"""
End-to-end tests of permessage-deflate (RFC 7692) on the WebSocket echo,
against a real C{twistd -ny echohub.tac}: the C{websockets} client's offers
over C{ws://} and C{wss://}, and compression bombs from a raw socket, the
server's memory watched from C{/proc}.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory
from websockets.sync.client import connect

from echohub.tls._devcert import DevCertificates
from tests.support import (
    EchohubProcess,
    RawClient,
    running,
    sslString,
    wsClientContext,
)

pytestmark = pytest.mark.e2e

CAP = 1024 * 1024


@pytest.fixture(scope="module")
def deflateServer(
    tmp_path_factory: pytest.TempPathFactory, devcerts: DevCertificates
) -> Iterator[EchohubProcess]:
    """
    echohub with the web service on TCP and TLS and the default message cap
    (1 MiB) and compression settings.
    """
    with running(
        {
            "ECHOHUB_LINE_LISTEN": "",
            "ECHOHUB_WEB_LISTEN": f"tcp:0:interface=127.0.0.1 {sslString(devcerts)}",
        },
        cwd=str(Path(tmp_path_factory.mktemp("deflate"))),
        listeners=2,
    ) as process:
        yield process


def url(server: EchohubProcess, tls: bool) -> str:
    host, port = server.address("web", 1 if tls else 0)
    return f"{'wss' if tls else 'ws'}://{'localhost' if tls else host}:{port}/ws"


OFFERS = {
    "browser": ClientPerMessageDeflateFactory(client_max_window_bits=True),
    "plain": ClientPerMessageDeflateFactory(client_max_window_bits=None),
    "no-context": ClientPerMessageDeflateFactory(
        server_no_context_takeover=True, client_no_context_takeover=True
    ),
    "window-9": ClientPerMessageDeflateFactory(
        server_max_window_bits=9, client_max_window_bits=9
    ),
    "window-15": ClientPerMessageDeflateFactory(
        server_max_window_bits=15, client_max_window_bits=15
    ),
}

AGREED = {
    "browser": "permessage-deflate; client_max_window_bits=12",
    "plain": "permessage-deflate",
    "no-context": "permessage-deflate; server_no_context_takeover;"
    " client_no_context_takeover; client_max_window_bits=12",
    "window-9": "permessage-deflate; server_max_window_bits=9;"
    " client_max_window_bits=9",
    "window-15": "permessage-deflate; server_max_window_bits=12;"
    " client_max_window_bits=12",
}


@pytest.mark.parametrize("tls", [False, True], ids=["ws", "wss"])
@pytest.mark.parametrize("offer", sorted(OFFERS))
def test_compressedEcho(
    deflateServer: EchohubProcess, devcerts: DevCertificates, tls: bool, offer: str
) -> None:
    """
    For each offer the C{websockets} client can make, the server agrees to
    it as RFC 7692 says, and compressed messages (text and binary, small,
    large, fragmented) come back exactly.
    """
    with connect(
        url(deflateServer, tls),
        ssl=wsClientContext(devcerts) if tls else None,
        extensions=[OFFERS[offer]],
        compression=None,
        proxy=None,
        max_size=2 * CAP,
    ) as client:
        assert client.response.headers["Sec-WebSocket-Extensions"] == AGREED[offer]
        for message in (
            "h\u00e9llo " * 200,
            b"\x00\x01" * 30_000,
            "",
            bytes(range(256)) * 4096,  # the cap, 1 MiB
        ):
            client.send(message)
            assert client.recv(timeout=10) == message
        client.send(["frag", "mented " * 100])
        assert client.recv(timeout=10) == "fragmented " * 1 + "mented " * 99
        client.close()
        assert client.protocol.close_rcvd is not None
        assert client.protocol.close_rcvd.code == 1000


def test_declinedOffer(
    deflateServer: EchohubProcess, devcerts: DevCertificates
) -> None:
    """
    An offer the server cannot honour (an 8-bit window for the server, or a
    parameter it does not know) is declined: no extension, plain echoes.
    """
    for offer in (
        "permessage-deflate; server_max_window_bits=8",
        "permessage-deflate; no_such_parameter",
    ):
        client = RawClient(deflateServer, False, devcerts, extensions=offer)
        assert client.status == 101
        assert b"sec-websocket-extensions" not in client.head.lower()
        client.sock.sendall(RawClient.frame(1, b"plain"))
        assert client.readFrame() == (1, b"plain")


def test_malformedOffer(
    deflateServer: EchohubProcess, devcerts: DevCertificates
) -> None:
    """
    A C{Sec-WebSocket-Extensions} field that is not an extension list gets
    400, saying so.
    """
    client = RawClient(
        deflateServer, False, devcerts, extensions='permessage-deflate; x="a b"'
    )
    assert client.status == 400
    client.sock.settimeout(10)
    body = client.buffer
    while b"\n" not in body:
        chunk = client.sock.recv(4096)
        assert chunk, body
        body += chunk
    assert body.startswith(
        b"400 Bad Request: Sec-WebSocket-Extensions is not an extension list"
    )


def bomb(size: int) -> bytes:
    """
    C{size} zero bytes, compressed as one message's payload.
    """
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = bytes(1 << 20)
    payload = b"".join(compressor.compress(chunk) for _ in range(size >> 20))
    return (payload + compressor.flush(zlib.Z_SYNC_FLUSH))[:-4]


def test_compressionBomb(
    deflateServer: EchohubProcess, devcerts: DevCertificates
) -> None:
    """
    Twenty 128 MiB bombs, 130 kB each on the wire (within the cap there),
    are each closed with 1009 once they inflate past the cap; the server
    never holds more than a few caps for them, and a compressing client is
    served meanwhile.
    """
    payload = bomb(128 << 20)
    assert len(payload) < CAP
    frame = RawClient.frame(2, payload, rsv1=True)
    before = deflateServer.rss()
    for tls in (False, True) * 10:
        client = RawClient(
            deflateServer, tls, devcerts, extensions="permessage-deflate"
        )
        assert b"permessage-deflate" in client.head
        client.sock.sendall(frame)
        frames = client.readUntilEOF(timeout=10)
        assert frames[-1] == (
            8,
            struct.pack("!H", 1009) + f"message inflates to over {CAP} bytes".encode(),
        )
    assert deflateServer.rss() - before < 8 * CAP
    with connect(url(deflateServer, False), proxy=None) as other:
        other.send("still served " * 100)
        assert other.recv(timeout=10) == "still served " * 100
    deflateServer.waitForOutput(
        r"GET /ws 101 .* websocket over HTTP/1\.1, permessage-deflate,"
        r" 0 messages in, 0 out, close 1009 by server"
    )


def test_memoryPerIdleConnection(
    deflateServer: EchohubProcess, devcerts: DevCertificates
) -> None:
    """
    200 connections that agreed to compression as browsers offer it, and
    each sent and got back a compressed message, then went idle, cost the
    server less than 160 KiB each (the compressor and inflater kept for
    context takeover are about 50 KiB of it at the defaults).
    """
    text = b'{"id": 1, "name": "a compressible message", "tags": ["x", "y"]} ' * 16
    before = deflateServer.rss()
    clients = []
    for _ in range(200):
        client = RawClient(
            deflateServer,
            False,
            devcerts,
            extensions="permessage-deflate; client_max_window_bits",
        )
        assert b"client_max_window_bits=12" in client.head
        compressor = zlib.compressobj(6, zlib.DEFLATED, -12)
        payload = compressor.compress(text) + compressor.flush(zlib.Z_SYNC_FLUSH)
        client.sock.sendall(RawClient.frame(1, payload[:-4], rsv1=True))
        opcode, echoed = client.readFrame()
        assert opcode == 1
        inflater = zlib.decompressobj(-15)
        assert inflater.decompress(echoed + b"\x00\x00\xff\xff") == text
        clients.append(client)
    perConnection = (deflateServer.rss() - before) / len(clients)
    for client in clients:
        client.sock.close()
    print(f"{perConnection / 1024:.1f} KiB per connection")
    assert perConnection < 160 * 1024, perConnection
