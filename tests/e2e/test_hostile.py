"""
End-to-end tests of echohub against hostile clients, each attacking a real
C{twistd -ny echohub.tac} on loopback: slowloris on headers, bodies and TLS
handshakes, oversize input, framing attacks, non-reading clients, many
connections, descriptor exhaustion, and resets.

Deadlines are set short here (2 s) so that "closed by the deadline" is
checked in seconds; C{make soak} runs the long versions.  Every loop is
bounded in count and time.
"""

from __future__ import annotations

import re
import socket
import ssl
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from echohub.tls._devcert import DevCertificates
from tests.hostile import (
    closeAll,
    cpuSeconds,
    exchange,
    healthLatency,
    lineLatency,
    openFds,
    openMany,
    raiseFileLimit,
    resetOnClose,
    rss,
    statuses,
    waitClosed,
    waitFor,
)
from tests.support import TAC, TWISTD, EchohubProcess, recvAll, running, sslString

pytestmark = pytest.mark.e2e

MB = 1024 * 1024
DEADLINE = 2.0


def settings(devcerts: DevCertificates) -> dict[str, str]:
    """
    Line and web on TCP and TLS, no connection caps, short deadlines and
    small size limits.
    """
    tcp = "tcp:0:interface=127.0.0.1:backlog=1024"
    tls = sslString(devcerts) + ":backlog=1024"
    return {
        "ECHOHUB_LINE_LISTEN": f"{tcp} {tls}",
        "ECHOHUB_WEB_LISTEN": f"{tcp} {tls}",
        "ECHOHUB_LINE_MAX_CONNECTIONS": "0",
        "ECHOHUB_LINE_MAX_CONNECTIONS_PER_PEER": "0",
        "ECHOHUB_WEB_MAX_CONNECTIONS": "0",
        "ECHOHUB_WEB_MAX_CONNECTIONS_PER_PEER": "0",
        "ECHOHUB_WEB_HEADER_TIMEOUT": str(DEADLINE),
        "ECHOHUB_WEB_BODY_TIMEOUT": str(DEADLINE),
        "ECHOHUB_WEB_BODY_MIN_RATE": "1000",
        "ECHOHUB_WEB_MAX_REQUEST_LINE": "1024",
        "ECHOHUB_WEB_MAX_HEADER_BYTES": "4096",
        "ECHOHUB_WEB_MAX_HEADERS": "20",
        "ECHOHUB_WEB_MAX_BODY": "65536",
        "ECHOHUB_TLS_HANDSHAKE_TIMEOUT": str(DEADLINE),
    }


@pytest.fixture(scope="module")
def hostile(
    tmp_path_factory: pytest.TempPathFactory, devcerts: DevCertificates
) -> Iterator[EchohubProcess]:
    """
    One echohub for this module's attacks (see L{settings}).
    """
    raiseFileLimit()
    with running(
        settings(devcerts),
        cwd=str(Path(tmp_path_factory.mktemp("hostile"))),
        listeners=4,
    ) as process:
        yield process
    assert "Traceback" not in process.output, process.output


def web(process: EchohubProcess, tls: bool = False) -> tuple[str, int]:
    return process.address("web", 1 if tls else 0)


# 1. Slowloris


def test_slowlorisHeaders(hostile: EchohubProcess) -> None:
    """
    1 000 connections dripping a request's headers a byte every half second
    (each byte resets twisted.web's idle timer) do not slow a normal client
    past 100 ms, and are all answered 408 and closed by the 2 s header
    deadline, well within the deadline plus 15 s.
    """
    count = 1000
    address = web(hostile)
    request = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100
    started = time.monotonic()
    socks = openMany(address, count)
    try:
        for sock in socks:
            sock.sendall(request[:1])
        drip = 1
        latency = None
        while drip < 4 and time.monotonic() - started < DEADLINE - 0.5:
            time.sleep(0.4)
            for sock in socks:
                sock.sendall(request[drip : drip + 1])
            drip += 1
            if latency is None:
                latency = healthLatency(address)
        waitStarted = time.monotonic() - started
        closed, closedAt = waitClosed(socks, DEADLINE + 15)
        lastClosed = waitStarted + max(closedAt, default=0)
    finally:
        closeAll(socks)
    print(
        f"slowloris: normal client {(latency or 0) * 1000:.1f} ms;"
        f" {len(closed)}/{count} answered 408 and closed, the last"
        f" {lastClosed:.2f} s after the first connected"
    )
    assert latency is not None and latency < 0.1
    assert len(closed) == count
    assert all(statuses(reply) == [408] for reply in closed.values())
    assert lastClosed < DEADLINE + 15


def test_slowBody(hostile: EchohubProcess) -> None:
    """
    A body that arrives slower than body_min_rate gets 408 once the body
    deadline (2 s plus a second per 1 000 bytes received) passes.
    """
    with socket.create_connection(web(hostile), timeout=10) as sock:
        sock.sendall(
            b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 60000\r\n\r\n"
            + b"b" * 500
        )
        started = time.monotonic()
        for _ in range(20):
            try:
                sock.sendall(b"b")
            except OSError:
                break
            time.sleep(0.25)
            if sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT):
                break
        reply = recvAll(sock)
    took = time.monotonic() - started
    assert statuses(reply) == [408]
    assert DEADLINE <= took < DEADLINE + 2


def test_slowTLSHandshake(hostile: EchohubProcess, devcerts: DevCertificates) -> None:
    """
    A ClientHello dripped a byte every 0.2 s does not extend the TLS
    handshake deadline: the connection closes at about 2 s.
    """
    context = ssl.create_default_context(cafile=devcerts.ca.certificate.path)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname="localhost")
    with pytest.raises(ssl.SSLWantReadError):
        tls.do_handshake()
    hello = outgoing.read()
    with socket.create_connection(web(hostile, tls=True), timeout=10) as sock:
        started = time.monotonic()
        for byte in hello[:40]:
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                break
            time.sleep(0.2)
            try:
                if not sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT):
                    break
            except BlockingIOError:
                pass
            except ConnectionResetError:
                break
        took = time.monotonic() - started
    assert DEADLINE - 0.2 <= took < DEADLINE + 1.5, took


# 2. Oversize input gets a status


@pytest.mark.parametrize(
    "request_, status",
    [
        (b"GET /echo?msg=" + b"a" * 2000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
        (b"GET /" + b"a" * 100_000, 414),
        (b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 8000 + b"\r\n\r\n", 431),
        (
            b"GET / HTTP/1.1\r\nHost: x\r\n"
            + b"".join(b"X-%d: %s\r\n" % (i, b"v" * 300) for i in range(15))
            + b"\r\n",
            431,
        ),
        (
            b"GET / HTTP/1.1\r\nHost: x\r\n"
            + b"".join(b"X-%d: v\r\n" % (i,) for i in range(21))
            + b"\r\n",
            431,
        ),
        (
            b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 65537\r\n"
            b"Expect: 100-continue\r\n\r\n",
            413,
        ),
    ],
    ids=[
        "target",
        "endless-line",
        "header-line",
        "headers-total",
        "header-count",
        "body-expect",
    ],
)
def test_oversizeGetsAStatus(
    hostile: EchohubProcess, request_: bytes, status: int
) -> None:
    """
    Each oversize request gets its status, plain text, and a close; never
    a silent close, never 100 Continue.
    """
    reply = exchange(web(hostile), request_)
    assert statuses(reply) == [status], reply[:200]
    assert b"Connection: close" in reply
    assert b"100 Continue" not in reply


# 3. Framing attacks

SMUGGLED = b"GET /echo?msg=smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
FRAMING = {
    "cl-and-te": b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "te-and-cl": b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
    b"Content-Length: 4\r\n\r\n0\r\n\r\n",
    "two-cl": b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
    b"Content-Length: 5\r\n\r\nabcde",
    "plus-cl": b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: +4\r\n\r\nabcd",
    "chunked-identity": b"POST /echo HTTP/1.1\r\nHost: x\r\n"
    b"Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
    "xchunked": b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n"
    b"0\r\n\r\n",
    "space-before-colon": b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length : 4\r\n"
    b"\r\nabcd",
    "nul-in-value": b"GET /echo HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n",
    "cr-in-value": b"GET /echo HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n",
    "lf-in-value": b"GET /echo HTTP/1.1\r\nHost: x\r\nX-A: a\nb\r\n\r\n",
    "bad-chunk-size": b"POST /echo HTTP/1.1\r\nHost: x\r\n"
    b"Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
    "huge-chunk-size": b"POST /echo HTTP/1.1\r\nHost: x\r\n"
    b"Transfer-Encoding: chunked\r\n\r\nffffffffffffffffffff\r\nabc",
    "no-host": b"GET /echo?msg=a HTTP/1.1\r\n\r\n",
}


@pytest.mark.parametrize("attack", list(FRAMING))
def test_framingAttackRefused(hostile: EchohubProcess, attack: str) -> None:
    """
    Each ambiguous framing gets one 400 and a close; the request smuggled
    behind it is never answered.
    """
    reply = exchange(web(hostile), FRAMING[attack] + SMUGGLED)
    assert statuses(reply) == [400], reply
    assert b"smuggled" not in reply


# 4. A non-reading HTTP client


def test_nonReadingPipeliningClient(hostile: EchohubProcess) -> None:
    """
    A client that pipelines 900-byte echoes and never reads is stopped by
    backpressure: the server grows by less than 10 MB, others keep their
    latency, and the responses, read at last, are complete and in order.
    """
    address = web(hostile)
    count = 20_000
    before = rss(hostile.pid)
    with socket.create_connection(address, timeout=10) as hog:
        hog.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        hog.settimeout(1)
        sent = 0
        try:
            for i in range(count):
                hog.sendall(
                    b"GET /echo?msg=%06d%s HTTP/1.1\r\nHost: x\r\n\r\n"
                    % (i, b"p" * 900)
                )
                sent += 1
        except TimeoutError:
            pass
        grown = rss(hostile.pid) - before
        latency = healthLatency(address)
        print(
            f"non-reading HTTP client: {sent} requests sent before the server"
            f" stopped reading; server grew {grown / MB:.2f} MB;"
            f" other client {latency * 1000:.1f} ms"
        )
        assert sent < count, "the server never stopped reading"
        assert grown < 10 * MB
        assert latency < 0.1
        hog.settimeout(10)
        bodies = []
        buffer = b""
        while len(bodies) < sent:
            chunk = hog.recv(1 << 20)
            assert chunk
            buffer += chunk
            for match in re.finditer(rb"\r\n\r\n(\d{6})p{900}", buffer):
                bodies.append(int(match.group(1)))
            buffer = buffer[buffer.rfind(b"p" * 900) + 900 :] if bodies else buffer
        assert bodies == list(range(sent))


# 5. Many connections, descriptor exhaustion


def perConnection(
    process: EchohubProcess,
    address: tuple[str, int],
    count: int,
    connect: Callable[[tuple[str, int]], socket.socket],
) -> tuple[float, list[socket.socket]]:
    """
    Open C{count} connections with C{connect}, each of which has spoken,
    and return the server's memory growth per connection.
    """
    before = rss(process.pid)
    socks = []
    try:
        for _ in range(count):
            socks.append(connect(address))
        waitFor(lambda: openFds(process.pid) >= count, 10)
        return (rss(process.pid) - before) / count, socks
    except BaseException:
        closeAll(socks)
        raise


def lineClient(address: tuple[str, int]) -> socket.socket:
    sock = socket.create_connection(address, timeout=10)
    sock.sendall(b"hi\n")
    assert sock.recv(3) == b"hi\n"
    return sock


def test_idleLineConnections(hostile: EchohubProcess) -> None:
    """
    2 000 idle line connections cost under 4 KB each, and a new client is
    still served in under 100 ms.
    """
    address = hostile.address("line")
    lineClient(address).close()
    each, socks = perConnection(hostile, address, 2000, lineClient)
    try:
        latency = lineLatency(address)
    finally:
        closeAll(socks)
    print(
        f"idle line connection: {each / 1024:.2f} KB;"
        f" new client {latency * 1000:.1f} ms"
    )
    assert each < 4096
    assert latency < 0.1


def test_idleTLSConnections(hostile: EchohubProcess, devcerts: DevCertificates) -> None:
    """
    Idle TLS line connections (500 here, 2 000 in C{make soak}) cost under
    80 KB each, and a new client is still served in under 100 ms.
    """
    context = ssl.create_default_context(cafile=devcerts.ca.certificate.path)

    def tlsClient(address: tuple[str, int]) -> socket.socket:
        raw = socket.create_connection(address, timeout=10)
        sock = context.wrap_socket(raw, server_hostname="localhost")
        sock.sendall(b"hi\n")
        assert sock.recv(3) == b"hi\n"
        return sock

    address = hostile.address("line", 1)
    tlsClient(address).close()
    each, socks = perConnection(hostile, address, 500, tlsClient)
    try:
        start = time.monotonic()
        tlsClient(address).close()
        latency = time.monotonic() - start
    finally:
        closeAll(socks)
    print(
        f"idle TLS connection: {each / 1024:.2f} KB; new client {latency * 1000:.1f} ms"
    )
    assert each < 80 * 1024
    assert latency < 0.1


def test_descriptorExhaustion(echohub: Callable[..., EchohubProcess]) -> None:
    """
    Under ulimit -n 64, 200 connections at once: the server keeps serving
    the ones it could accept, closes the rest at once, burns no CPU while
    exhausted, logs the burst as one warning per accept cycle rather than a
    line per refused connection, and recovers fully.
    """
    limit = 64
    launcher = (
        "import resource, os, sys;"
        f" resource.setrlimit(resource.RLIMIT_NOFILE, ({limit}, {limit}));"
        " os.execv(sys.argv[1], sys.argv[1:])"
    )
    process = echohub(
        {
            "ECHOHUB_LINE_LISTEN": "tcp:0:interface=127.0.0.1:backlog=1024",
            "ECHOHUB_WEB_LISTEN": "",
            "ECHOHUB_LINE_MAX_CONNECTIONS": "0",
            "ECHOHUB_LINE_MAX_CONNECTIONS_PER_PEER": "0",
        },
        listeners=1,
        args=[
            sys.executable,
            "-c",
            launcher,
            str(TWISTD),
            "--pidfile=",
            "-ny",
            str(TAC),
        ],
    )
    address = process.address("line")
    linesBefore = len(process.lines)
    socks = openMany(address, 200)
    try:
        for sock in socks:
            sock.sendall(b"x\n")
        served = refused = 0
        for sock in socks:
            try:
                reply = sock.recv(2)
            except (ConnectionResetError, TimeoutError):
                reply = b""
            if reply == b"x\n":
                served += 1
            else:
                refused += 1
        cpuBefore = cpuSeconds(process.pid)
        time.sleep(1)
        cpuUsed = cpuSeconds(process.pid) - cpuBefore
    finally:
        closeAll(socks)
    assert waitFor(lambda: openFds(process.pid) < limit - 20, 10)
    latency = lineLatency(address)
    process.waitForOutput("Out of file descriptors", timeout=5)
    logged = process.lines[linesBefore:]
    emfileLines = sum("Out of file descriptors" in line for line in logged)
    closedReported = sum(
        int(m.group(1))
        for line in logged
        if (m := re.search(r"closed (\d+) new connection", line))
    )
    print(
        f"fd exhaustion: {served} served, {refused} refused, {cpuUsed:.3f} s CPU"
        f" in 1 s exhausted, {emfileLines} EMFILE log lines,"
        f" recovered in {latency * 1000:.1f} ms"
    )
    assert served >= 20 and refused >= 100
    assert cpuUsed < 0.2
    assert not any("EMFILE recovery: Closed socket" in line for line in logged)
    assert closedReported >= 1
    assert emfileLines <= 20 and emfileLines * 5 <= closedReported + 5
    assert latency < 0.1
    assert "Traceback" not in process.output


# 6. Resets and disconnects


def test_resetsMidWrite(hostile: EchohubProcess) -> None:
    """
    200 clients that fill the pipe without reading and then reset leave no
    traceback, and the server's descriptors and memory return to baseline.
    """
    address = hostile.address("line")
    lineLatency(address)
    fds, memory = openFds(hostile.pid), rss(hostile.pid)
    socks = openMany(address, 200)
    chunk = (b"r" * 1023 + b"\n") * 64
    for sock in socks:
        sock.setblocking(False)
        for _ in range(64):
            try:
                sock.send(chunk)
            except BlockingIOError:
                break
    for sock in socks:
        resetOnClose(sock)
    closeAll(socks)
    assert waitFor(lambda: openFds(hostile.pid) <= fds, 10), openFds(hostile.pid)
    grown = rss(hostile.pid) - memory
    print(
        f"after 200 resets: fds {openFds(hostile.pid)} (was {fds}),"
        f" memory +{grown / MB:.2f} MB"
    )
    assert grown < 8 * MB
    assert "Traceback" not in hostile.output


@pytest.mark.parametrize(
    "path", ["/delay/1", "/stream/50?interval=0.05", "/sse?count=50&interval=0.05"]
)
def test_vanishDuringSlowResponse(hostile: EchohubProcess, path: str) -> None:
    """
    Clients that vanish (reset) in the middle of a slow or streamed
    response leave no traceback and no descriptor behind.
    """
    address = web(hostile)
    healthLatency(address, 1)
    fds = openFds(hostile.pid)
    for _ in range(20):
        sock = socket.create_connection(address, timeout=10)
        sock.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path.encode())
        sock.recv(1, socket.MSG_PEEK) if path != "/delay/1" else None
        resetOnClose(sock)
        sock.close()
    assert waitFor(lambda: openFds(hostile.pid) <= fds, 10)
    healthLatency(address, 1)
    assert "Traceback" not in hostile.output
