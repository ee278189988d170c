"""
End-to-end tests of the WebSocket echo at C{/ws} against a real
C{twistd -ny echohub.tac}: the C{websockets} client over C{ws://} and
C{wss://}, and raw-socket frames for the limits, over plain TCP and TLS.
"""

from __future__ import annotations

import os
import select
import socket
import struct
import time

import pytest
from websockets.sync.client import connect

from echohub.tls._devcert import DevCertificates
from tests.support import MAX_MESSAGE, EchohubProcess, RawClient, wsClientContext

pytestmark = pytest.mark.e2e


def url(server: EchohubProcess, tls: bool) -> str:
    host, port = server.address("web", 1 if tls else 0)
    return f"{'wss' if tls else 'ws'}://{'localhost' if tls else host}:{port}/ws"


@pytest.mark.parametrize("tls", [False, True], ids=["ws", "wss"])
def test_echo(wsServer: EchohubProcess, devcerts: DevCertificates, tls: bool) -> None:
    """
    Text and binary messages, up to the cap, come back exactly; a ping is
    answered; the client's close gets the close handshake back.
    """
    context = wsClientContext(devcerts) if tls else None
    with connect(
        url(wsServer, tls), ssl=context, compression=None, proxy=None
    ) as client:
        client.send("h\u00e9llo")
        assert client.recv(timeout=10) == "h\u00e9llo"
        payload = os.urandom(MAX_MESSAGE)
        client.send(payload)
        assert client.recv(timeout=10) == payload
        client.send([b"frag", b"mented"])
        assert client.recv(timeout=10) == b"fragmented"
        assert client.ping(b"hi").wait(timeout=10)
        client.close()
        assert client.protocol.close_rcvd is not None
        assert client.protocol.close_rcvd.code == 1000


@pytest.mark.parametrize("tls", [False, True], ids=["ws", "wss"])
def test_oversizeFrameClosed1009(
    wsServer: EchohubProcess, devcerts: DevCertificates, tls: bool
) -> None:
    """
    One frame announcing 100 MB is cut off with close code 1009 once the
    cap is passed, long before it could arrive; the server then closes the
    connection (over TLS too, which hung while the HTTP channel stayed the
    registered producer) well within the 60 s close timeout.
    """
    client = RawClient(wsServer, tls, devcerts)
    assert client.status == 101
    client.sock.sendall(RawClient.frame(2, b"", length=100_000_000))
    sent = 0
    started = time.monotonic()
    client.sock.settimeout(0.5)
    # Send until the server's answer is readable (or it stops reading).
    for _ in range(10_000):
        if select.select([client.sock], [], [], 0)[0]:
            break
        try:
            client.sock.sendall(b"x" * 16384)
        except OSError:
            break
        sent += 16384
    frames = client.readUntilEOF(timeout=10)
    assert frames[-1][0] == 8
    assert struct.unpack("!H", frames[-1][1][:2])[0] == 1009
    assert sent < 50_000_000
    assert time.monotonic() - started < 20


def test_originRefused(wsServer: EchohubProcess, devcerts: DevCertificates) -> None:
    """
    A handshake from another origin is refused with 403; the page's own
    origin is accepted.
    """
    assert (
        RawClient(wsServer, False, devcerts, origin="https://evil.example").status
        == 403
    )
    host, port = wsServer.address("web")
    # RawClient sends Host: localhost, so this is the page's own origin.
    assert RawClient(wsServer, False, devcerts, origin="http://localhost").status == 101
    with connect(
        url(wsServer, False), origin=f"http://{host}:{port}", proxy=None
    ) as client:
        client.send("same origin")
        assert client.recv(timeout=10) == "same origin"


def test_unansweredPingsClose(
    wsServer: EchohubProcess, devcerts: DevCertificates
) -> None:
    """
    A client that never answers pings gets pinged, then closed with 1011
    by the next ping time.
    """
    client = RawClient(wsServer, False, devcerts)
    frames = client.readUntilEOF(timeout=10)
    assert frames[0][0] == 9
    assert frames[-1] == (8, struct.pack("!H", 1011) + b"no pong")


def test_neverReadingClientIsHeldBack(
    wsServer: EchohubProcess, devcerts: DevCertificates
) -> None:
    """
    A client that sends messages and never reads the echoes is stopped by
    TCP backpressure after a bounded amount, the server's memory does not
    grow with what it tried to send, and other clients are served meanwhile.
    """
    client = RawClient(wsServer, False, devcerts)
    client.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    before = wsServer.rss()
    message = RawClient.frame(2, b"m" * MAX_MESSAGE)
    client.sock.settimeout(1)
    sent = 0
    with pytest.raises(OSError):
        for _ in range(50_000):
            client.sock.sendall(message)
            sent += len(message)
    assert sent < 50_000 * len(message)
    assert wsServer.rss() - before < 32 * 1024 * 1024
    with connect(url(wsServer, False), proxy=None) as other:
        other.send("still served")
        assert other.recv(timeout=10) == "still served"
    client.sock.close()


def test_accessLogLine(wsServer: EchohubProcess) -> None:
    """
    Each WebSocket session ends with one access-log line: 101, the HTTP
    version and compression (the websockets client offers
    permessage-deflate), the message counts and who closed with which code.
    """
    with connect(
        url(wsServer, False), proxy=None, user_agent_header="access-log-test"
    ) as client:
        client.send("one")
        client.recv(timeout=10)
        client.close()
    wsServer.waitForOutput(
        r"GET /ws 101 .* websocket over HTTP/1\.1, permessage-deflate,"
        r" 1 messages in, 1 out, close 1000 by client"
    )
