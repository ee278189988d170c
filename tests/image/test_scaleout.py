"""
Scale-out with the image: three echohub containers behind HAProxy,
configured by C{deploy/haproxy.cfg} itself, reading its PROXY v2 headers;
one is stopped and one killed while clients use the service.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable

import pytest

from tests.image.conftest import Container, freePort
from tests.support import ROOT, recvAll, recvUntil

pytestmark = pytest.mark.skipif(
    shutil.which("haproxy") is None,
    reason="haproxy is not installed (make image-test installs it as root)",
)


def lineRoundTrip(address: tuple[str, int], payload: bytes) -> bytes:
    with socket.create_connection(address, timeout=10) as sock:
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)
        return recvAll(sock)


def healthChecks(instance: Container) -> int:
    return instance.output.count("GET /healthz 200")


def test_threeContainersBehindHAProxy(
    container: Callable[..., Container],
) -> None:
    """
    Line echoes through HAProxy are spread over three containers; stopping
    one (SIGTERM) while nine clients are connected loses no line they sent,
    and after another is killed every new line is still echoed.
    """
    instances = []
    for _ in range(3):
        line, web = freePort(), freePort()
        instances.append(
            container(
                {
                    "ECHOHUB_LINE_LISTEN": f"haproxy:tcp:{line}:interface=127.0.0.1",
                    "ECHOHUB_WEB_LISTEN": f"haproxy:tcp:{web}:interface=127.0.0.1",
                },
                ["--network=host", "--read-only", "--tmpfs", "/tmp", "--cap-drop=ALL"],
            )
        )
    front = ("127.0.0.1", freePort())
    env = dict(
        os.environ,
        LINE_BIND=f"127.0.0.1:{front[1]}",
        WEB_BIND=f"127.0.0.1:{freePort()}",
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
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for instance in instances:
            deadline = time.monotonic() + 30
            while healthChecks(instance) < 4:
                assert instance._next(deadline) is not None, instance.output
        for n in range(12):
            payload = b"via haproxy %d\n" % (n,)
            assert lineRoundTrip(front, payload) == payload
        for instance in instances:
            instance.waitForOutput(r"line access: ")

        held = [socket.create_connection(front, timeout=10) for _ in range(9)]
        for n, sock in enumerate(held):
            sock.sendall(b"before %d\n" % (n,))
            assert recvUntil(sock, 9) == b"before %d\n" % (n,)
        for n, sock in enumerate(held):
            sock.sendall(b"during %d\n" % (n,))
        assert instances[0].stop(signal.SIGTERM, timeout=30) == 0
        closed = 0
        for n, sock in enumerate(held):
            assert recvUntil(sock, 9) == b"during %d\n" % (n,)
            sock.settimeout(0.5)
            try:
                closed += sock.recv(1) == b""
            except TimeoutError:
                pass
            sock.close()
        assert closed >= 1, "no held connection was on the stopped container"

        instances[1].kill()
        for n in range(10):
            payload = b"after %d\n" % (n,)
            assert lineRoundTrip(front, payload) == payload
    finally:
        haproxy.terminate()
        haproxy.wait(10)
