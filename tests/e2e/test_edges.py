"""
End-to-end tests, against a real process, of what happens at the edges of
a connection: WebSocket frames sent with the handshake, the handshake's
validation, PROXY headers that name no address or an impossible one, and
C{Strict-Transport-Security} over TLS only.
"""

from __future__ import annotations

import json
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from echohub.tls import DevCertificates
from tests.support import EchohubProcess, recvAll, recvUntil, running, sslString

HSTS = "max-age=31536000; includeSubDomains"
KEY = b"dGhlIHNhbXBsZSBub25jZQ=="


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, devcerts: DevCertificates
) -> Iterator[EchohubProcess]:
    """
    echohub with a PROXY-protocol line listener, a plain web listener, a
    PROXY-protocol web listener and a TLS web listener, HSTS configured.
    """
    with running(
        {
            "ECHOHUB_LINE_LISTEN": "haproxy:tcp:0:interface=127.0.0.1",
            "ECHOHUB_WEB_LISTEN": "tcp:0:interface=127.0.0.1"
            " haproxy:tcp:0:interface=127.0.0.1 " + sslString(devcerts),
            "ECHOHUB_WEB_HSTS": HSTS,
        },
        cwd=str(Path(tmp_path_factory.mktemp("edges"))),
        listeners=4,
    ) as process:
        yield process


def upgrade(key: bytes = KEY, version: bytes = b"13") -> bytes:
    return (
        b"GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Key: " + key + b"\r\n"
        b"Sec-WebSocket-Version: " + version + b"\r\n\r\n"
    )


def frame(opcode: int, payload: bytes) -> bytes:
    """
    A small masked client frame (all-zero mask).
    """
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + b"\0\0\0\0" + payload


def test_framesWithTheHandshakeAreEchoed(server: EchohubProcess) -> None:
    """
    Frames sent in the same packet as the upgrade request come back after
    the 101, in order: none is dropped.
    """
    with server.connect("web") as sock:
        early = frame(1, b"first") + frame(2, b"second") + frame(1, b"third")
        sock.sendall(upgrade() + early)
        expected = b"\x81\x05first\x82\x06second\x81\x05third"
        data = b""
        while b"third" not in data:
            chunk = sock.recv(4096)
            assert chunk, data
            data += chunk
    head, _, frames = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101 ")
    assert frames == expected


@pytest.mark.parametrize(
    "request_, status",
    [
        (upgrade(key=b"abc"), 400),
        (upgrade(key=b"dGhlIHNhbXBsZSBub25jZR=="), 400),
        (upgrade(version=b"8"), 426),
    ],
)
def test_handshakeValidation(
    server: EchohubProcess, request_: bytes, status: int
) -> None:
    """
    A key that is not the base64 of 16 bytes gets 400; version 8 gets 426
    naming version 13; each is logged at info, not as an error.
    """
    with server.connect("web") as sock:
        sock.sendall(request_)
        head = recvUntil(sock, 12)
        while b"\r\n\r\n" not in head:
            head += sock.recv(4096)
    assert head.startswith(b"HTTP/1.1 %d " % status), head
    if status == 426:
        assert b"\r\nsec-websocket-version: 13\r\n" in head.lower()
    line = server.waitForOutput(r"Refused a WebSocket handshake")
    assert "#info]" in line, line
    assert "#error]" not in server.output


def test_proxyUnknownUsesOwnAddress(server: EchohubProcess) -> None:
    """
    HAProxy's bare C{PROXY UNKNOWN} line is accepted: the connection is
    served and counted under its own address.
    """
    with socket.create_connection(server.address("line"), timeout=10) as sock:
        port = sock.getsockname()[1]
        sock.sendall(b"PROXY UNKNOWN\r\nhello\n")
        sock.shutdown(socket.SHUT_WR)
        assert recvAll(sock) == b"hello\n"
    server.waitForOutput(rf"line access: 127\.0\.0\.1:{port} 6 bytes in")


@pytest.mark.parametrize(
    "header",
    [
        b"PROXY TCP4 999.1.2.3 192.0.2.1 40001 443\r\n",
        b"PROXY TCP4 203.0.113.7 192.0.2.1 70000 443\r\n",
        b"PROXY TCP6 ::1 ::1 40001 443 extra\r\n",
        b"\r\n\r\n\x00\r\nQUIT\n\x21\x12\x00\x0c" + b"\x01" * 12,
    ],
)
def test_impossibleProxyHeaderRefused(server: EchohubProcess, header: bytes) -> None:
    """
    Impossible v1 addresses and ports, an extra field, and v2 over UDP on
    this stream listener are refused: the connection closes without an
    answer, and what the header named reaches neither the log nor C{/ip}.
    """
    with socket.create_connection(server.address("web", 1), timeout=10) as sock:
        sock.sendall(header + b"GET /ip HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            assert recvAll(sock) == b""
        except ConnectionResetError:
            pass
    server.waitForOutput(r"invalid PROXY header \(")
    assert "web access: 999.1.2.3" not in server.output


def test_hstsOverTLSOnly(server: EchohubProcess, devcerts: DevCertificates) -> None:
    """
    C{[web] hsts} is sent on responses over TLS and not over plain HTTP.
    """
    request = b"GET /headers HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    context = ssl.create_default_context(cafile=devcerts.ca.certificate.path)
    raw = socket.create_connection(server.address("web", 2), timeout=10)
    with context.wrap_socket(raw, server_hostname="localhost") as tls:
        tls.sendall(request)
        overTLS = recvAll(tls)
    with server.connect("web") as plain:
        plain.sendall(request)
        overPlain = recvAll(plain)
    assert f"\r\nStrict-Transport-Security: {HSTS}\r\n".encode() in overTLS
    assert b"Strict-Transport-Security" not in overPlain
    assert json.loads(overPlain.split(b"\r\n\r\n", 1)[1])
