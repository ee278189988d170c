"""
End-to-end tests of the line-echo service: a real C{twistd -ny echohub.tac}
on loopback, real sockets, real TLS.
"""

from __future__ import annotations

import select
import socket
import ssl
import time
from collections.abc import Callable

from echohub.tls._devcert import DevCertificates
from tests.support import TAC, TWISTD, EchohubProcess, recvAll, recvUntil, sslString

MB = 1024 * 1024


def tlsContext(devcerts: DevCertificates) -> ssl.SSLContext:
    """
    A client context that verifies the server against the development CA.
    """
    context = ssl.create_default_context(cafile=devcerts.ca.certificate.path)
    return context


def test_linesEchoedByteForByte(server: EchohubProcess) -> None:
    """
    Complete lines come back exactly, CR and non-UTF-8 bytes included, however
    the stream is segmented; pipelined lines need no reads in between.
    """
    data = (
        b"hello\r\n"
        + bytes(range(256)).replace(b"\n", b"")
        + b"\n"
        + b"x" * 65536
        + b"\n"
    )
    with server.connect("line") as sock:
        for i in range(0, len(data), 7919):
            sock.sendall(data[i : i + 7919])
        assert recvUntil(sock, len(data)) == data


def test_halfCloseEchoesEverything(server: EchohubProcess) -> None:
    """
    A client that shuts down its sending side gets every line back, its
    unterminated last line included, then EOF.
    """
    with server.connect("line") as sock:
        sock.sendall(b"one\ntwo\nno newline")
        sock.shutdown(socket.SHUT_WR)
        assert recvAll(sock) == b"one\ntwo\nno newline"


def test_overlongLineGetsErrorAndClose(server: EchohubProcess) -> None:
    """
    A line over max_line_length gets the lines before it echoed, then one
    ERROR line naming the limit, then EOF; another client is unaffected.
    """
    with server.connect("line") as bystander, server.connect("line") as sock:
        sock.sendall(b"fine\n" + b"y" * 70000 + b"\n")
        reply = recvAll(sock)
        assert reply.startswith(b"fine\nERROR ")
        assert b"65536" in reply
        assert reply.count(b"\n") == 2
        bystander.sendall(b"still here\n")
        assert recvUntil(bystander, 11) == b"still here\n"


def test_tlsLineEcho(server: EchohubProcess, devcerts: DevCertificates) -> None:
    """
    The ssl: listener serves the line echo over TLS 1.2 or later to a client
    that verifies the certificate for localhost against the CA.
    """
    with socket.create_connection(server.address("line", 1), timeout=10) as raw:
        with tlsContext(devcerts).wrap_socket(raw, server_hostname="localhost") as sock:
            assert sock.version() in ("TLSv1.2", "TLSv1.3")
            sock.sendall(b"secret line\n")
            assert recvUntil(sock, 12) == b"secret line\n"


def test_plaintextOnTlsPortIsClosed(server: EchohubProcess) -> None:
    """
    Plaintext sent to a TLS port gets the connection closed, and the server
    keeps serving.
    """
    with socket.create_connection(server.address("line", 1), timeout=10) as sock:
        sock.sendall(b"GET / HTTP/1.0\r\n\r\nhello\n")
        reply = recvAll(sock)
        assert b"hello" not in reply
    with server.connect("line") as sock:
        sock.sendall(b"after\n")
        assert recvUntil(sock, 6) == b"after\n"


def pushWithoutReading(sock: socket.socket, limit: int, stall: float = 2.0) -> int:
    """
    Send lines as fast as the server takes them, never reading, until
    C{limit} bytes are sent or the server has taken nothing for C{stall}
    seconds (its backpressure has stopped it reading).

    @return: the number of bytes sent.
    """
    chunk = (b"z" * 1023 + b"\n") * 64
    sock.setblocking(False)
    sent = 0
    lastProgress = time.monotonic()
    while sent < limit and time.monotonic() - lastProgress < stall:
        _, writable, _ = select.select([], [sock], [], 0.1)
        if not writable:
            continue
        try:
            sent += sock.send(chunk[: limit - sent])
        except BlockingIOError:
            continue
        lastProgress = time.monotonic()
    sock.setblocking(True)
    return sent


def test_nonReadingClientIsBounded(server: EchohubProcess) -> None:
    """
    A client that sends 200 MB and never reads is stopped by backpressure:
    the server grows by less than 10 MB, serves another client meanwhile, and
    the echoes, once read, are complete and in order.
    """
    before = server.rss()
    with server.connect("line") as hog:
        sent = pushWithoutReading(hog, 200 * MB)
        grown = server.rss() - before
        print(
            f"non-reading client: pushed {sent / MB:.1f} MB,"
            f" server grew {grown / MB:.2f} MB"
        )
        assert sent < 200 * MB, "the server never stopped reading"
        assert grown < 10 * MB
        with server.connect("line") as other:
            start = time.monotonic()
            other.sendall(b"ping\n")
            assert recvUntil(other, 5) == b"ping\n"
            assert time.monotonic() - start < 1.0
        hog.shutdown(socket.SHUT_WR)
        echoed = recvAll(hog, timeout=30)
        assert len(echoed) == sent
        assert echoed == ((b"z" * 1023 + b"\n") * (sent // 1024 + 1))[:sent]


def test_sigtermFlushesAndExits(
    echohub: Callable[..., EchohubProcess],
) -> None:
    """
    SIGTERM stops listening at once, flushes pending echoes (including an
    unterminated line), closes connections and exits with the signal's
    status within a few seconds, with no traceback.
    """
    process = echohub(
        {"ECHOHUB_LINE_LISTEN": "tcp:0:interface=127.0.0.1", "ECHOHUB_WEB_LISTEN": ""},
        listeners=1,
    )
    with process.connect("line") as sock:
        sock.sendall(b"first\nsecond\npartial")
        assert recvUntil(sock, 13) == b"first\nsecond\n"
        start = time.monotonic()
        code = process.stop()
        assert recvAll(sock) == b"partial"
    assert code == -15
    assert time.monotonic() - start < 5
    assert "Traceback" not in process.output
    with socket.socket() as probe:
        assert probe.connect_ex(process.address("line")) != 0


def test_asyncioReactor(
    echohub: Callable[..., EchohubProcess], devcerts: DevCertificates
) -> None:
    """
    Under another reactor (C{twistd --reactor=asyncio}) echohub keeps
    Twisted's own dispatch, says so, and the line echo over TCP and TLS
    and the web echo work on the public path: lines, half-close, a
    non-reading client bounded.
    """
    process = echohub(
        {
            "ECHOHUB_LINE_LISTEN": f"tcp:0:interface=127.0.0.1 {sslString(devcerts)}",
            "ECHOHUB_WEB_LISTEN": "tcp:0:interface=127.0.0.1",
        },
        listeners=3,
        args=[str(TWISTD), "--reactor=asyncio", "--pidfile=", "-ny", str(TAC)],
    )
    process.waitForOutput("direct dispatch off")
    assert "AsyncioSelectorReactor" in process.output
    with process.connect("line") as sock:
        sock.sendall(b"one\ntwo\nno newline")
        sock.shutdown(socket.SHUT_WR)
        assert recvAll(sock) == b"one\ntwo\nno newline"
    raw = socket.create_connection(process.addresses["line"][1])
    with tlsContext(devcerts).wrap_socket(raw, server_hostname="localhost") as tls:
        tls.sendall(b"secure\n")
        assert recvUntil(tls, 7) == b"secure\n"
    with process.connect("line") as hog:
        sent = pushWithoutReading(hog, 50 * MB)
        assert sent < 50 * MB, "the server never stopped reading"
    with process.connect("web") as web:
        web.sendall(
            b"GET /echo?msg=hi HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        assert recvAll(web).endswith(b"\r\n\r\nhi")
