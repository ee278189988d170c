"""
End-to-end tests, against a real process, of HTTP framing and HTTP/2 at
their edges: the smuggling, version, persistence and memory probes of the
one-HTTP-core issue, with raw sockets, curl and an C{h2} client.
"""

from __future__ import annotations

import random
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from h2.config import H2Configuration
from h2.connection import H2Connection
from h2.events import DataReceived, ResponseReceived
from h2.settings import SettingCodes

from echohub.testing import parseResponses
from echohub.tls import DevCertificates
from tests.support import EchohubProcess, recvAll, running, sslString

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, devcerts: DevCertificates
) -> Iterator[EchohubProcess]:
    """
    echohub with a plain and a TLS web listener and the default limits.
    """
    with running(
        {
            "ECHOHUB_LINE_LISTEN": "",
            "ECHOHUB_WEB_LISTEN": f"tcp:0:interface=127.0.0.1 {sslString(devcerts)}",
        },
        cwd=str(Path(tmp_path_factory.mktemp("framing"))),
        listeners=2,
    ) as process:
        yield process


def exchange(server: EchohubProcess, data: bytes) -> bytes:
    """
    Send C{data}, shut the write side, and read everything until the
    server closes.
    """
    with server.connect("web") as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        return recvAll(sock)


def curl(*args: str) -> subprocess.CompletedProcess[str]:
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    return subprocess.run(
        ["curl", "--silent", "--show-error", *args],
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_upgradeSmuggling(server: EchohubProcess) -> None:
    """
    The issue's probe: a POST with C{Connection: Upgrade}, C{Upgrade: foo}
    and a body that is a request gets one answer, which echoes the body.
    """
    smuggled = b"GET /anything/smuggled HTTP/1.0\r\n\r\n"
    data = exchange(
        server,
        b"POST /echo HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: foo\r\n"
        b"Content-Length: 35\r\n\r\n" + smuggled,
    )
    [response] = parseResponses(data)
    assert response.status == 200
    assert response.body == smuggled


def test_curlHTTP2InTheClear(server: EchohubProcess) -> None:
    """
    C{curl --http2} in the clear sends C{Upgrade: h2c} with its body: the
    body is echoed (HTTP/1.1; C{Upgrade: h2c} is ignored, as RFC 9113
    removed it).
    """
    host, port = server.address("web", 0)
    result = curl("--http2", "--data-binary", "hello", f"http://{host}:{port}/echo")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "hello"


def test_bodilessUpgradeThenKeepAlive(server: EchohubProcess) -> None:
    """
    A bodiless C{Upgrade: h2c} request, then another on the same
    connection: two answers.
    """
    data = exchange(
        server,
        b"GET /echo?msg=a HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings"
        b"\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n"
        b"GET /echo?msg=b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    assert [r.body for r in parseResponses(data)] == [b"a", b"b"]


def test_nothingAfterAClosingResponse(server: EchohubProcess) -> None:
    """
    After a C{Connection: close} response, a pipelined request gets nothing
    (not a stray C{400}): the connection ends.
    """
    data = exchange(
        server,
        b"GET /echo?msg=a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        b"GET /echo?msg=b HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    [response] = parseResponses(data)
    assert response.body == b"a"


def test_versions(server: EchohubProcess) -> None:
    """
    C{HTTP/2.0} in an HTTP/1 request line gets C{505}; C{HTTP/1.2} is
    served as C{HTTP/1.1}.
    """
    data = exchange(server, b"GET /echo?msg=a HTTP/2.0\r\nHost: x\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 505 HTTP Version Not Supported\r\n")
    data = exchange(
        server, b"GET /echo?msg=a HTTP/1.2\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    assert data.startswith(b"HTTP/1.1 200 OK\r\n")


def test_http10KeepAlive(server: EchohubProcess) -> None:
    """
    An HTTP/1.0 request with C{Connection: keep-alive} is answered with it,
    and the connection serves the next request.
    """
    with server.connect("web") as sock:
        sock.sendall(b"GET /get HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(65536)
        assert b"\r\nConnection: keep-alive\r\n" in head
        sock.sendall(b"GET /echo?msg=again HTTP/1.0\r\n\r\n")
        assert recvAll(sock).endswith(b"again")


def test_http2TooLargeShownByCurl(
    server: EchohubProcess, devcerts: DevCertificates, tmp_path: Path
) -> None:
    """
    curl uploading more than C{max_body} over HTTP/2 (h2c and TLS) shows
    the C{413} and its reason, and exits 0: the server read the rest of the
    body before it let the stream go.
    """
    upload = tmp_path / "upload"
    upload.write_bytes(b"x" * (2 * 1024 * 1024))
    host, port = server.address("web", 0)
    tlsPort = server.address("web", 1)[1]
    for args in [
        ["--http2-prior-knowledge", f"http://{host}:{port}/echo"],
        [
            "--http2",
            "--cacert",
            devcerts.ca.certificate.path,
            f"https://localhost:{tlsPort}/echo",
        ],
    ]:
        result = curl(
            "--write-out", "\n%{http_code} %{http_version}",
            "--data-binary", f"@{upload}", *args,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert result.stdout.endswith("\n413 2"), result.stdout
        assert "request bodies are limited to 1048576 bytes" in result.stdout


def test_http2MemoryBounded(server: EchohubProcess) -> None:
    """
    The issue's memory probe: 10 connections x 100 streams of
    C{GET /bytes/1048576} with the window kept shut grow the server by far
    less than the 1 GB asked for (each stream holds its buffer and a piece),
    measured over a second of the server trying to send.
    """
    host, port = server.address("web", 0)
    before = server.rss()
    connections: list[tuple[socket.socket, H2Connection]] = []
    grown = 0
    try:
        for _ in range(10):
            sock = socket.create_connection((host, port))
            client = H2Connection(H2Configuration(client_side=True))
            connections.append((sock, client))
            client.initiate_connection()
            client.update_settings({SettingCodes.INITIAL_WINDOW_SIZE: 0})
            for _ in range(100):
                client.send_headers(
                    client.get_next_available_stream_id(),
                    [
                        (":method", "GET"),
                        (":path", "/bytes/1048576"),
                        (":scheme", "http"),
                        (":authority", "x"),
                    ],
                    end_stream=True,
                )
            sock.sendall(client.data_to_send())
        for sock, client in connections:
            sock.settimeout(10)
            answered = 0
            while answered < 100:
                data = sock.recv(65536)
                assert data, "closed"
                events = client.receive_data(data)
                answered += sum(isinstance(e, ResponseReceived) for e in events)
        deadline = time.monotonic() + 1
        while time.monotonic() < deadline:
            grown = max(grown, server.rss() - before)
            time.sleep(0.05)
    finally:
        for sock, _ in connections:
            sock.close()
    assert grown < 200 * 1024 * 1024, grown


def test_http2BodyWhole(server: EchohubProcess) -> None:
    """
    A large generated body over HTTP/2 arrives whole when the window is
    opened as it is read.
    """
    host, port = server.address("web", 0)
    with socket.create_connection((host, port)) as sock:
        client = H2Connection(H2Configuration(client_side=True))
        client.initiate_connection()
        client.send_headers(
            1,
            [
                (":method", "GET"),
                (":path", "/bytes/1048576?seed=9"),
                (":scheme", "http"),
                (":authority", "x"),
            ],
            end_stream=True,
        )
        sock.sendall(client.data_to_send())
        sock.settimeout(10)
        body = b""
        status = None
        while len(body) < 1048576:
            data = sock.recv(65536)
            assert data
            for event in client.receive_data(data):
                if isinstance(event, ResponseReceived):
                    status = dict(event.headers)[b":status"]
                elif isinstance(event, DataReceived):
                    body += event.data
                    client.acknowledge_received_data(
                        event.flow_controlled_length, event.stream_id
                    )
            sock.sendall(client.data_to_send())
        assert status == b"200"
        assert body == random.Random(9).randbytes(1048576)
