"""
End-to-end tests of running echohub in production: socket activation without
PID 1, restarts that refuse nothing, graceful drain on SIGTERM, journald
logs, caps, metrics, PROXY protocol before TLS, and several processes on
one socket.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import socket
import ssl
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from echohub.tls._devcert import DevCertificates
from tests.support import TAC, TWISTD, EchohubProcess, recvAll, recvUntil, sslString

# Adopt fd LISTEN_FD as fd 3 and set LISTEN_PID to our own pid, then become
# twistd: what systemd does for a socket-activated service.
_SHIM = (
    "import os, sys\n"
    "fd = int(os.environ.pop('SHIM_FD'))\n"
    "if fd != 3:\n"
    "    os.dup2(fd, 3)\n"
    "    os.close(fd)\n"
    "os.environ['LISTEN_PID'] = str(os.getpid())\n"
    "os.execv(sys.argv[1], sys.argv[1:])\n"
)


def activated(sock: socket.socket, name: str, env: dict[str, str]) -> EchohubProcess:
    """
    An echohub process handed C{sock} the way systemd hands a socket unit's
    socket to its service: as fd 3, with C{LISTEN_FDS}, C{LISTEN_FDNAMES}
    and C{LISTEN_PID}.
    """
    return EchohubProcess(
        {
            **env,
            "SHIM_FD": str(sock.fileno()),
            "LISTEN_FDS": "1",
            "LISTEN_FDNAMES": name,
        },
        args=[sys.executable, "-c", _SHIM, str(TWISTD), "--pidfile=", "-ny", str(TAC)],
        passFds=(sock.fileno(),),
    )


@contextmanager
def heldSocket() -> Iterator[socket.socket]:
    """
    A listening socket on loopback that the test holds, as systemd would.
    """
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    try:
        yield sock
    finally:
        sock.close()


def lineRoundTrip(
    address: tuple[str, int], payload: bytes, timeout: float = 20
) -> bytes:
    """
    Connect, send C{payload}, half-close and return everything echoed.
    """
    with socket.create_connection(address, timeout=timeout) as sock:
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)
        return recvAll(sock, timeout)


def freePort() -> int:
    """
    A port that was free a moment ago, for tools that cannot bind port 0.
    """
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.mark.skipif(
    shutil.which("systemd-socket-activate") is None,
    reason="systemd-socket-activate is not installed (Debian package systemd)",
)
def test_systemdSocketActivate(devcerts: DevCertificates) -> None:
    """
    Started by C{systemd-socket-activate} on the first connection, with two
    named sockets, echohub adopts both through C{systemd:} endpoint strings
    and serves the line echo on one (the first connection, which waited in
    the backlog, included) and the line echo over TLS on the other.
    """
    line, tls = freePort(), freePort()
    env = {
        "ECHOHUB_LINE_LISTEN": "systemd:domain=INET:name=line"
        " systemd:domain=INET:name=linetls"
        f":privateKey={devcerts.server.privateKey.path}"
        f":certKey={devcerts.server.certificate.path}",
        "ECHOHUB_WEB_LISTEN": "",
    }
    args = [
        "systemd-socket-activate",
        "-l",
        f"127.0.0.1:{line}",
        "-l",
        f"127.0.0.1:{tls}",
    ]
    args += ["--fdname=line:linetls"]
    for name in [*env, "PYTHONPATH", "PYTHONUNBUFFERED", "PATH"]:
        args += ["-E", name]
    args += [str(TWISTD), "--pidfile=", "-ny", str(TAC)]
    process = EchohubProcess(env, args=args).start(listeners=0)
    try:
        process.waitForOutput(rf"Listening on 127.0.0.1:{tls} as 4")
        assert lineRoundTrip(("127.0.0.1", line), b"activated\n") == b"activated\n"
        process.waitForOutput(rf"line listening on 127.0.0.1:{line} \(systemd:")
        process.waitForOutput(rf"line listening on 127.0.0.1:{tls} \(systemd:")
        context = ssl.create_default_context(cafile=devcerts.ca.certificate.path)
        with socket.create_connection(("127.0.0.1", tls), timeout=10) as raw:
            with context.wrap_socket(raw, server_hostname="localhost") as sock:
                sock.sendall(b"activated over TLS\n")
                assert recvUntil(sock, 19) == b"activated over TLS\n"
        assert process.stop() == -signal.SIGTERM
    finally:
        process.kill()


def test_restartLoopRefusesNothing() -> None:
    """
    With the listening socket held by a parent (as systemd holds a socket
    unit's), echohub restarted three times under a steady connect loop
    refuses no connection and echoes every one: clients that arrive while
    no echohub runs wait in the backlog for the next one.
    """
    env = {
        "ECHOHUB_LINE_LISTEN": "systemd:domain=INET:index=0",
        "ECHOHUB_WEB_LISTEN": "",
    }
    results = {"ok": 0, "refused": 0, "wrong": 0}
    stop = threading.Event()
    with heldSocket() as sock:
        address = sock.getsockname()

        def loop() -> None:
            n = 0
            while not stop.is_set():
                n += 1
                payload = b"connection %d\n" % (n,)
                try:
                    echoed = lineRoundTrip(address, payload)
                except ConnectionRefusedError:
                    results["refused"] += 1
                    continue
                except OSError:
                    echoed = b""
                results["ok" if echoed == payload else "wrong"] += 1

        processes = [activated(sock, "line", env).start(listeners=1)]
        client = threading.Thread(target=loop, daemon=True)
        client.start()
        try:
            for _ in range(3):
                served = results["ok"]
                deadline = time.monotonic() + 10
                while results["ok"] < served + 20 and time.monotonic() < deadline:
                    time.sleep(0.01)
                assert processes[-1].stop() == -signal.SIGTERM
                processes.append(activated(sock, "line", env).start(listeners=1))
            served = results["ok"]
            deadline = time.monotonic() + 10
            while results["ok"] < served + 20 and time.monotonic() < deadline:
                time.sleep(0.01)
        finally:
            stop.set()
            client.join(30)
            for process in processes:
                process.kill()
    print(f"restart loop: {results}")
    assert results["refused"] == 0
    assert results["wrong"] == 0
    assert results["ok"] >= 80
    assert "Traceback" not in "".join(p.output for p in processes)


def test_twoProcessesShareOneSocket() -> None:
    """
    The multi-core recipe: two echohub processes adopt the same listening
    socket; connections are spread over both, and each is echoed.
    """
    env = {
        "ECHOHUB_LINE_LISTEN": "systemd:domain=INET:name=line",
        "ECHOHUB_WEB_LISTEN": "",
    }
    with heldSocket() as sock:
        processes = [activated(sock, "line", env).start(listeners=1) for _ in range(2)]
        try:
            for n in range(200):
                payload = b"shared %d\n" % (n,)
                assert lineRoundTrip(sock.getsockname(), payload) == payload
            counts = []
            for process in processes:
                process.stop()
                counts.append(process.output.count("line access:"))
        finally:
            for process in processes:
                process.kill()
    print(f"two processes: connections served {counts}")
    assert sum(counts) == 200
    assert min(counts) > 0


def websocketConnect(address: tuple[str, int]) -> socket.socket:
    """
    Open a WebSocket to C{/ws}: the handshake, by hand.
    """
    sock = socket.create_connection(address, timeout=10)
    sock.sendall(
        b"GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        b"Sec-WebSocket-Version: 13\r\n\r\n"
    )
    response = b""
    while b"\r\n\r\n" not in response:
        chunk = sock.recv(4096)
        assert chunk, response
        response += chunk
    assert response.startswith(b"HTTP/1.1 101"), response
    return sock


def httpRequest(address: tuple[str, int], path: str) -> socket.socket:
    """
    Send one HTTP/1.1 request and return the socket, response unread.
    """
    sock = socket.create_connection(address, timeout=20)
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
    return sock


def test_gracefulDrain(echohub: Callable[..., EchohubProcess]) -> None:
    """
    On SIGTERM the listeners close at once; an in-flight C{/delay/1}
    completes with C{Connection: close}; a WebSocket gets close code 1001;
    a line client gets its pending partial line and EOF; a C{/delay/8}
    still running at the drain deadline (2 s) is aborted; then the process
    exits, well before the long request would have finished.
    """
    process = echohub(
        {
            "ECHOHUB_LINE_LISTEN": "tcp:0:interface=127.0.0.1",
            "ECHOHUB_WEB_LISTEN": "tcp:0:interface=127.0.0.1",
            "ECHOHUB_SERVER_DRAIN_TIMEOUT": "2",
        },
        listeners=2,
    )
    web = process.address("web")
    line = process.connect("line")
    line.sendall(b"done\npartial")
    assert recvUntil(line, 5) == b"done\n"
    short = httpRequest(web, "/delay/1")
    long = httpRequest(web, "/delay/8")
    ws = websocketConnect(web)
    start = time.monotonic()
    assert process.process is not None
    process.process.send_signal(signal.SIGTERM)
    process.waitForOutput(r"echohub stopping: draining")
    with socket.socket() as probe:
        assert probe.connect_ex(web) != 0, "the web listener is still open"

    shortResponse = recvAll(short, 10)
    assert shortResponse.startswith(b"HTTP/1.1 200"), shortResponse
    assert b"Connection: close" in shortResponse
    frame = recvUntil(ws, 4, 10)
    assert frame[0] & 0x0F == 0x8 and int.from_bytes(frame[2:4], "big") == 1001, frame
    assert recvAll(line, 10) == b"partial"
    try:
        longResponse = recvAll(long, 10)
    except ConnectionResetError:
        longResponse = b""
    assert not longResponse.startswith(b"HTTP/1.1 200")
    code = process.wait(15)
    elapsed = time.monotonic() - start
    assert code == -signal.SIGTERM
    assert 1.5 < elapsed < 6, elapsed
    assert "Traceback" not in process.output
    for sock in (line, short, long, ws):
        sock.close()


def test_journaldLogsCapsAndMetrics(echohub: Callable[..., EchohubProcess]) -> None:
    """
    With C{log_format = journald} every line starts with a syslog level
    prefix and carries no timestamp; a line connection's access log line
    has peer, bytes and reason; the per-peer cap answers one C{ERROR} line
    and a flood of refusals is logged once; the web cap answers C{503};
    C{/metrics} (prometheus_client's exposition) counts all of it.
    """
    process = echohub(
        {
            "ECHOHUB_LINE_LISTEN": "tcp:0:interface=127.0.0.1",
            "ECHOHUB_WEB_LISTEN": "tcp:0:interface=127.0.0.1",
            "ECHOHUB_SERVER_LOG_FORMAT": "journald",
            "ECHOHUB_LINE_MAX_CONNECTIONS_PER_PEER": "2",
            "ECHOHUB_WEB_MAX_CONNECTIONS": "1",
        },
        listeners=2,
    )
    held = [process.connect("line") for _ in range(2)]
    for sock in held:
        sock.sendall(b"x\n")
        assert recvUntil(sock, 2) == b"x\n"
    refusals = []
    for _ in range(30):
        with process.connect("line") as extra:
            refusals.append(recvAll(extra))
    assert refusals[0] == b"ERROR too many connections (peer_cap); try again later\n"
    assert all(r == refusals[0] for r in refusals)

    with socket.create_connection(process.address("web"), timeout=10) as first:
        first.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert recvUntil(first, 12) == b"HTTP/1.1 200"
        with httpRequest(process.address("web"), "/echo?msg=hi") as second:
            assert recvAll(second).startswith(b"HTTP/1.1 503")

    for sock in held:
        sock.shutdown(socket.SHUT_WR)
        assert recvAll(sock) == b""
        sock.close()
    process.waitForOutput(r"line access: 127\.0\.0\.1:\d+ 2 bytes in, 2 bytes out")
    host, port = process.address("web")
    metrics = urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=10).read()
    text = metrics.decode()
    assert 'echohub_rejections_total{reason="peer_cap",service="line"} 30.0' in text
    assert 'echohub_rejections_total{reason="cap",service="web"} 1.0' in text
    assert re.search(
        r'echohub_connections_total\{listener="tcp:0:interface=127.0.0.1",'
        r'service="line"\} 2.0',
        text,
    ), text
    assert "echohub_lines_echoed_total 2.0" in text
    assert 'echohub_http_requests_total{code="200"}' in text
    assert "process_resident_memory_bytes" in text

    process.stop()
    lines = [line.rstrip("\n") for line in process.lines if line.strip()]
    assert all(re.match(r"<[2-7]>", line) for line in lines), lines
    assert not any(re.match(r"<\d>\d{4}-\d\d-\d\d", line) for line in lines)
    refusalLines = [line for line in lines if "line: refused a connection" in line]
    assert len(refusalLines) == 1, refusalLines
    assert refusalLines[0].startswith("<4>")
    assert any("29 more like this" in line for line in lines), (
        "the suppressed refusals are counted at shutdown"
    )
    access = [line for line in lines if "line access:" in line]
    assert len(access) == 2 and all("client closed" in line for line in access), access


def proxyV1(source: tuple[str, int], destination: tuple[str, int]) -> bytes:
    """
    A PROXY protocol v1 header, as HAProxy's C{send-proxy} sends it.
    """
    return b"PROXY TCP4 %s %s %d %d\r\n" % (
        source[0].encode(),
        destination[0].encode(),
        source[1],
        destination[1],
    )


def test_proxyHeaderBeforeTLS(
    echohub: Callable[..., EchohubProcess], devcerts: DevCertificates
) -> None:
    """
    A C{haproxy:ssl:} listener reads the PROXY header before the TLS
    handshake, as HAProxy sends it, and the address it names is the one
    echohub logs, caps and reports (C{/ip}); a C{haproxy:tcp:} web listener
    does the same for HTTP, and a bad header is refused and counted.
    """
    process = echohub(
        {
            "ECHOHUB_LINE_LISTEN": "haproxy:" + sslString(devcerts),
            "ECHOHUB_WEB_LISTEN": "haproxy:tcp:0:interface=127.0.0.1",
            "ECHOHUB_LINE_MAX_CONNECTIONS_PER_PEER": "1",
        },
        listeners=2,
    )
    context = ssl.create_default_context(cafile=devcerts.ca.certificate.path)
    line = process.address("line")
    raw = socket.create_connection(line, timeout=10)
    raw.sendall(proxyV1(("203.0.113.7", 40001), ("192.0.2.1", 7443)))
    with context.wrap_socket(raw, server_hostname="localhost") as sock:
        sock.sendall(b"through the proxy\n")
        assert recvUntil(sock, 18) == b"through the proxy\n"
        other = socket.create_connection(line, timeout=10)
        other.sendall(proxyV1(("203.0.113.8", 40002), ("192.0.2.1", 7443)))
        with context.wrap_socket(other, server_hostname="localhost") as second:
            second.sendall(b"another client\n")
            assert recvUntil(second, 15) == b"another client\n"

    web = process.address("web")
    with socket.create_connection(web, timeout=10) as sock:
        sock.sendall(
            proxyV1(("198.51.100.9", 50000), ("192.0.2.1", 80))
            + b"GET /ip HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        response = recvAll(sock)
    body = json.loads(response.split(b"\r\n\r\n", 1)[1])
    assert (body["origin"], body["port"]) == ("198.51.100.9", 50000)

    with socket.create_connection(web, timeout=10) as sock:
        sock.sendall(b"GET /ip HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            assert recvAll(sock) == b""
        except ConnectionResetError:
            pass
    process.waitForOutput(
        r"line access: 203\.0\.113\.7:40001 18 bytes in, 18 bytes out"
    )
    process.waitForOutput(
        r"line access: 203\.0\.113\.8:40002 15 bytes in, 15 bytes out"
    )
    process.waitForOutput(r"web access: 198\.51\.100\.9:50000 GET /ip 200")
    process.waitForOutput(
        r"invalid PROXY header \(no PROXY header\) from 127\.0\.0\.1:\d+"
    )
