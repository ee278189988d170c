"""
End-to-end tests of the RFC 862 byte echo (C{[echo] listen}): a real
C{twistd -ny echohub.tac} on loopback, over TCP and TLS.
"""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from echohub.tls._devcert import DevCertificates
from tests.e2e.test_line import pushWithoutReading
from tests.support import EchohubProcess, recvAll, recvUntil, running, sslString

MB = 1024 * 1024


@pytest.fixture(scope="module")
def echoServer(
    tmp_path_factory: pytest.TempPathFactory, devcerts: DevCertificates
) -> Iterator[EchohubProcess]:
    """
    echohub with only the byte echo, on TCP and on TLS.
    """
    with running(
        {
            "ECHOHUB_LINE_LISTEN": "",
            "ECHOHUB_WEB_LISTEN": "",
            "ECHOHUB_ECHO_LISTEN": f"tcp:0:interface=127.0.0.1 {sslString(devcerts)}",
        },
        cwd=str(Path(tmp_path_factory.mktemp("echo"))),
        listeners=2,
    ) as process:
        yield process


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    data=st.binary(min_size=1, max_size=100_000),
    cuts=st.lists(st.integers(min_value=0, max_value=100_000), max_size=20),
)
def test_randomBinaryEchoedExactly(
    echoServer: EchohubProcess, data: bytes, cuts: list[int]
) -> None:
    """
    Random binary data, sent in pieces split at random points, comes back
    byte for byte and in order, with no newline needed; the half-close then
    ends the connection.
    """
    edges = sorted({0, len(data), *(c for c in cuts if c < len(data))})
    with echoServer.connect("echo") as sock:
        for start, end in zip(edges, edges[1:], strict=False):
            sock.sendall(data[start:end])
        sock.shutdown(socket.SHUT_WR)
        assert recvAll(sock) == data


def test_bytesComeBackBeforeAnyNewline(echoServer: EchohubProcess) -> None:
    """
    Each piece is echoed as it arrives: the client reads it back before it
    sends the next, and no newline is ever sent.
    """
    with echoServer.connect("echo") as sock:
        for piece in (b"\x00", b"\xff\xfe", b"no newline", b"\r"):
            sock.sendall(piece)
            assert recvUntil(sock, len(piece)) == piece


def test_halfCloseEchoesEverythingThenEOF(echoServer: EchohubProcess) -> None:
    """
    A client that shuts down its sending side gets every byte back, then
    EOF.
    """
    with echoServer.connect("echo") as sock:
        sock.sendall(b"partial \x00 data, no newline")
        sock.shutdown(socket.SHUT_WR)
        assert recvAll(sock) == b"partial \x00 data, no newline"


def test_tlsByteEcho(echoServer: EchohubProcess, devcerts: DevCertificates) -> None:
    """
    The byte echo over TLS (an C{ssl:} listener) echoes binary data to a
    client that verifies the certificate.
    """
    context = ssl.create_default_context(cafile=devcerts.ca.certificate.path)
    payload = bytes(range(256)) * 64
    with socket.create_connection(echoServer.address("echo", 1), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname="localhost") as sock:
            sock.sendall(payload)
            assert recvUntil(sock, len(payload)) == payload


def test_nonReadingClientIsBounded(echoServer: EchohubProcess) -> None:
    """
    As for the line echo: a client that sends 200 MB and never reads is
    stopped by backpressure, the server grows by less than 10 MB, serves
    another client meanwhile, and the echoes, once read, are complete and in
    order.
    """
    before = echoServer.rss()
    with echoServer.connect("echo") as hog:
        sent = pushWithoutReading(hog, 200 * MB)
        grown = echoServer.rss() - before
        print(
            f"non-reading byte-echo client: pushed {sent / MB:.1f} MB,"
            f" server grew {grown / MB:.2f} MB"
        )
        assert sent < 200 * MB, "the server never stopped reading"
        assert grown < 10 * MB
        with echoServer.connect("echo") as other:
            start = time.monotonic()
            other.sendall(b"ping")
            assert recvUntil(other, 4) == b"ping"
            assert time.monotonic() - start < 1.0
        hog.shutdown(socket.SHUT_WR)
        echoed = recvAll(hog, timeout=30)
        assert len(echoed) == sent
        assert echoed == ((b"z" * 1023 + b"\n") * (sent // 1024 + 1))[:sent]
