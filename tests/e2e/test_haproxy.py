"""
End-to-end test of scale-out: a real HAProxy, configured by
C{deploy/haproxy.cfg} itself, in front of three echohub processes that read
its PROXY v2 headers.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator

import pytest

from tests.support import ROOT, EchohubProcess, recvAll, recvUntil

pytestmark = pytest.mark.skipif(
    shutil.which("haproxy") is None,
    reason="haproxy is not installed (Debian package haproxy; make test installs it"
    " as root)",
)


def freePort() -> int:
    """
    A port that was free a moment ago: HAProxy cannot report a port 0 bind.
    """
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def lineRoundTrip(address: tuple[str, int], payload: bytes) -> tuple[bytes, int]:
    """
    Send C{payload} on a new connection, half-close, and return the echo and
    our own port (the address echohub should report).
    """
    with socket.create_connection(address, timeout=10) as sock:
        port = sock.getsockname()[1]
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)
        return recvAll(sock), port


def getIP(address: tuple[str, int]) -> tuple[dict[str, object], int]:
    """
    C{GET /ip} on a new connection: the body and our own port.
    """
    with socket.create_connection(address, timeout=10) as sock:
        port = sock.getsockname()[1]
        sock.sendall(b"GET /ip HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        response = recvAll(sock)
    assert response.startswith(b"HTTP/1.1 200"), response
    return json.loads(response.split(b"\r\n\r\n", 1)[1]), port


@pytest.fixture
def cluster(
    echohub: Callable[..., EchohubProcess],
) -> Iterator[tuple[list[EchohubProcess], tuple[str, int], tuple[str, int]]]:
    """
    Three echohub processes behind HAProxy; yields them and HAProxy's line
    and web addresses once every server passes its health check.
    """
    proxied = "haproxy:tcp:0:interface=127.0.0.1"
    instances = [
        echohub(
            {"ECHOHUB_LINE_LISTEN": proxied, "ECHOHUB_WEB_LISTEN": proxied}, listeners=2
        )
        for _ in range(3)
    ]
    line, web = ("127.0.0.1", freePort()), ("127.0.0.1", freePort())
    env = dict(os.environ)
    env.update(
        LINE_BIND=f"127.0.0.1:{line[1]}",
        WEB_BIND=f"127.0.0.1:{web[1]}",
        CHECK_INTER="100ms",
        MAXCONN="1000",
    )
    for n, instance in enumerate(instances, 1):
        env[f"E{n}_HOST"] = "127.0.0.1"
        env[f"E{n}_LINE"] = str(instance.address("line")[1])
        env[f"E{n}_WEB"] = str(instance.address("web")[1])
    haproxy = subprocess.Popen(
        ["haproxy", "-db", "-f", str(ROOT / "deploy" / "haproxy.cfg")],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        for instance in instances:
            waitForCount(instance, "GET /healthz 200", 6)
        yield instances, line, web
    finally:
        haproxy.terminate()
        haproxy.wait(10)


def test_haproxyScaleOut(
    cluster: tuple[list[EchohubProcess], tuple[str, int], tuple[str, int]],
) -> None:
    """
    Through HAProxy the line and HTTP echoes work, are spread over the three
    instances, and each instance reports the real client address (our own
    port), not HAProxy's.  Stopping one instance (SIGTERM) while clients are
    connected loses no line they sent; killing another (SIGKILL) leaves the
    service answering every new line and request.
    """
    instances, line, web = cluster
    ports = []
    for n in range(12):
        payload = b"via haproxy %d\n" % (n,)
        echoed, port = lineRoundTrip(line, payload)
        assert echoed == payload
        ports.append(port)
    for instance in instances:
        collect(instance)
    for port in ports:
        where = [i for i in instances if f"line access: 127.0.0.1:{port} " in i.output]
        assert len(where) == 1, port
    assert all("line access:" in i.output for i in instances), (
        "not spread over all three"
    )

    for _ in range(3):
        body, port = getIP(web)
        assert body == {"origin": "127.0.0.1", "port": port}

    held = [socket.create_connection(line, timeout=10) for _ in range(9)]
    for n, sock in enumerate(held):
        sock.sendall(b"before %d\n" % (n,))
        assert recvUntil(sock, 9) == b"before %d\n" % (n,)
    for n, sock in enumerate(held):
        sock.sendall(b"during %d\n" % (n,))
    assert instances[0].stop() == -signal.SIGTERM
    closed = 0
    for n, sock in enumerate(held):
        assert recvUntil(sock, 9) == b"during %d\n" % (n,)
        sock.settimeout(0.5)
        try:
            closed += sock.recv(1) == b""
        except TimeoutError:
            pass
        sock.close()
    assert closed >= 1, "no held connection was on the stopped instance"

    instances[1].kill()
    for n in range(10):
        payload = b"after %d\n" % (n,)
        assert lineRoundTrip(line, payload)[0] == payload
        body, port = getIP(web)
        assert body["port"] == port


def collect(instance: EchohubProcess, period: float = 0.5) -> None:
    """
    Take in what the process prints for C{period} seconds (health checks
    keep it printing, so there is no "until quiet").
    """
    deadline = time.monotonic() + period
    while time.monotonic() < deadline and instance._next(deadline) is not None:
        pass


def waitForCount(
    instance: EchohubProcess, text: str, count: int, timeout: float = 15
) -> None:
    """
    Wait until C{text} appears C{count} times in the output.
    """
    deadline = time.monotonic() + timeout
    while instance.output.count(text) < count:
        assert instance._next(deadline) is not None, instance.output
