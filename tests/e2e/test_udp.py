"""
End-to-end tests of the UDP echo (C{[udp] listen}): a real
C{twistd -ny echohub.tac} on loopback, over IPv4 and IPv6, its abuse limits,
and a datagram socket handed over by C{systemd-socket-activate --datagram}.

Each test sends from its own loopback source address (127.0.0.N), so the
per-source rate limit of one test does not reach another.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import TAC, TWISTD, EchohubProcess, running

MAX_DATAGRAM = 1472
SOURCE_BURST = 5


def ipv6Loopback() -> bool:
    """
    Whether C{::1} can be bound here (containers may have no IPv6).
    """
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


HAVE_IPV6 = ipv6Loopback()


@pytest.fixture(scope="module")
def udpServer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EchohubProcess]:
    """
    echohub with only the UDP echo, on IPv4 (and IPv6 when available), a
    per-source burst of 5 that refills at one datagram per 10 s, and
    /metrics on its own listener.
    """
    listen = "udp:0:interface=127.0.0.1"
    if HAVE_IPV6:
        listen += " udp6:0:interface=\\:\\:1"
    with running(
        {
            "ECHOHUB_LINE_LISTEN": "",
            "ECHOHUB_WEB_LISTEN": "",
            "ECHOHUB_UDP_LISTEN": listen,
            "ECHOHUB_UDP_SOURCE_BURST": str(SOURCE_BURST),
            "ECHOHUB_UDP_SOURCE_RATE": "0.1",
            "ECHOHUB_SERVER_METRICS_LISTEN": "tcp:0:interface=127.0.0.1",
        },
        cwd=str(Path(tmp_path_factory.mktemp("udp"))),
        listeners=3 if HAVE_IPV6 else 2,
    ) as process:
        yield process


def client(source: str, port: int = 0) -> socket.socket:
    """
    A UDP socket bound to C{(source, port)}, with a timeout.
    """
    family = socket.AF_INET6 if ":" in source else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    sock.bind((source, port))
    sock.settimeout(2)
    return sock


def answers(sock: socket.socket, wait: float = 1.0) -> list[bytes]:
    """
    Every datagram received until none came for C{wait} seconds.
    """
    received = []
    sock.settimeout(wait)
    try:
        while True:
            received.append(sock.recv(65536))
    except TimeoutError:
        return received


def metric(process: EchohubProcess, name: str) -> float:
    """
    One sample of the process's /metrics, 0 when absent.
    """
    host, port = process.address("metrics")
    with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=10) as r:
        text = r.read().decode()
    match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.M)
    return float(match.group(1)) if match else 0.0


def dropped(process: EchohubProcess, reason: str) -> float:
    """
    How many datagrams the process dropped for C{reason}.
    """
    return metric(process, f'echohub_udp_dropped_datagrams_total{{reason="{reason}"}}')


def test_ipv4Echo(udpServer: EchohubProcess) -> None:
    """
    Each datagram, an empty one and binary ones too, comes back unchanged
    from the address it was sent to.
    """
    server = udpServer.address("udp")
    with client("127.0.0.2") as sock:
        for datagram in (b"hello", b"", bytes(range(256))):
            sock.sendto(datagram, server)
            echoed, source = sock.recvfrom(65536)
            assert (echoed, source) == (datagram, server)


@pytest.mark.skipif(not HAVE_IPV6, reason="::1 cannot be bound here (no IPv6)")
def test_ipv6Echo(udpServer: EchohubProcess) -> None:
    """
    The udp6: listener echoes over IPv6.
    """
    host, port = udpServer.address("udp", 1)
    assert host == "::1"
    with client("::1") as sock:
        sock.sendto(b"over six", (host, port))
        echoed, source = sock.recvfrom(65536)
        assert echoed == b"over six"
        assert source[:2] == (host, port)


def test_perSourceRateLimit(udpServer: EchohubProcess) -> None:
    """
    A source sending 20 datagrams at once gets its burst of 5 answered and
    the rest dropped, counted as C{source_rate}; another source is still
    answered.
    """
    server = udpServer.address("udp")
    before = dropped(udpServer, "source_rate")
    with client("127.0.0.3") as sock:
        for i in range(20):
            sock.sendto(b"flood %d" % i, server)
        assert answers(sock) == [b"flood %d" % i for i in range(SOURCE_BURST)]
    with client("127.0.0.6") as other:
        other.sendto(b"still served", server)
        assert other.recv(100) == b"still served"
    after = metric(
        udpServer, 'echohub_udp_dropped_datagrams_total{reason="source_rate"}'
    )
    assert after - before == 20 - SOURCE_BURST
    udpServer.waitForOutput(r"udp: dropped a datagram from 127\.0\.0\.3:\d+: source")


@pytest.mark.skipif(os.geteuid() != 0, reason="binding a port below 1024 needs root")
def test_lowSourcePortRefused(udpServer: EchohubProcess) -> None:
    """
    A datagram from a source port below 1024 (where another server's echo
    or chargen would answer back) gets no answer; the same host from a high
    port does.
    """
    server = udpServer.address("udp")
    low = None
    for port in range(1000, 900, -1):
        try:
            low = client("127.0.0.4", port)
            break
        except OSError:
            continue
    assert low is not None, "no free port below 1024 on 127.0.0.4"
    with low:
        low.sendto(b"reflect me", server)
        assert answers(low) == []
    with client("127.0.0.4") as high:
        high.sendto(b"answer me", server)
        assert high.recv(100) == b"answer me"
    assert dropped(udpServer, "low_port") == 1


def test_sizeLimit(udpServer: EchohubProcess) -> None:
    """
    A datagram of C{max_datagram} (1472) bytes is echoed whole; one byte
    more, or 9000 bytes, gets no answer, counted as C{too_large}.
    """
    server = udpServer.address("udp")
    with client("127.0.0.5") as sock:
        sock.sendto(b"m" * MAX_DATAGRAM, server)
        assert sock.recv(65536) == b"m" * MAX_DATAGRAM
        sock.sendto(b"m" * (MAX_DATAGRAM + 1), server)
        sock.sendto(b"m" * 9000, server)
        assert answers(sock) == []
    assert dropped(udpServer, "too_large") == 2


def freeUDPPort() -> int:
    """
    A UDP port that was free a moment ago, for a tool that cannot bind 0.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.mark.skipif(
    shutil.which("systemd-socket-activate") is None,
    reason="systemd-socket-activate is not installed (Debian package systemd)",
)
def test_systemdDatagramSocket() -> None:
    """
    Started by C{systemd-socket-activate --datagram} when the first datagram
    arrives, echohub adopts the named datagram socket through a
    C{systemd:} string and answers that first datagram (queued while it
    started) and the next.
    """
    port = freeUDPPort()
    env = {
        "ECHOHUB_LINE_LISTEN": "",
        "ECHOHUB_WEB_LISTEN": "",
        "ECHOHUB_UDP_LISTEN": "systemd:domain=INET:name=udp",
    }
    args = ["systemd-socket-activate", "--datagram", "-l", f"127.0.0.1:{port}"]
    args += ["--fdname=udp"]
    for name in [*env, "PYTHONPATH", "PYTHONUNBUFFERED", "PATH"]:
        args += ["-E", name]
    args += [str(TWISTD), "--pidfile=", "-ny", str(TAC)]
    process = EchohubProcess(env, args=args).start(listeners=0)
    try:
        process.waitForOutput(rf"Listening on 127.0.0.1:{port} as 3")
        with client("127.0.0.1") as sock:
            sock.settimeout(30)
            sock.sendto(b"first", ("127.0.0.1", port))
            assert sock.recv(100) == b"first"
            process.waitForOutput(rf"udp listening on 127.0.0.1:{port} \(systemd:")
            sock.sendto(b"second", ("127.0.0.1", port))
            assert sock.recv(100) == b"second"
        assert process.stop() == -signal.SIGTERM
    finally:
        process.kill()
