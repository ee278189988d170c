"""
End-to-end tests of the lingering close against a real process: a client
still sending when the server refuses it reads the refusal whole (the
WebSocket C{1009} close frame, the C{413} response, the line C{ERROR} line),
over loopback and across a rate-limited link between two network
namespaces (a veth pair with a C{tbf} qdisc; this kernel has no C{netem}).

The client (L{tests.lingerclient}) either sends from one thread and reads
from another, as browsers and curl do, or sends everything before reading,
as a blocking client does.  The second is the one that loses the answer
when the server closes at once: its send fails with a reset (measured with
C{[server] lingering_time = 0}: 9 of 9 runs over loopback).  Each test
prints what it measured (C{pytest -s} shows it).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from echohub.tls import DevCertificates
from tests.hostile import cpuSeconds
from tests.lingerclient import Outcome, run
from tests.support import (
    ROOT,
    TAC,
    TWISTD,
    EchohubProcess,
    cleanEnvironment,
    sslString,
    wsClientContext,
)

MIB = 1024 * 1024
MAX_MESSAGE = 64 * 1024

EXPECTED = {
    "ws": "close 1009",
    "http": "413 complete",
    "line": "ERROR line too long: the limit is 65536 bytes (max_line_length); closing",
}


def settings(host: str) -> dict[str, str]:
    """
    The server's settings: both services on C{host}, small message and
    body caps, default lingering bounds.
    """
    return {
        "ECHOHUB_WEB_MAX_BODY": str(MAX_MESSAGE),
        "ECHOHUB_LINE_LISTEN": f"tcp:0:interface={host}",
        "ECHOHUB_WEB_LISTEN": f"tcp:0:interface={host}",
        "ECHOHUB_WEBSOCKET_MAX_MESSAGE": str(MAX_MESSAGE),
        "ECHOHUB_WEBSOCKET_PING_INTERVAL": "0",
    }


def port(process: EchohubProcess, kind: str) -> int:
    return process.address("line" if kind == "line" else "web")[1]


def report(where: str, kind: str, size: int, outcome: Outcome) -> None:
    print(
        f"\n{where} {kind}: {size / MIB:g} MiB pushed; read {outcome.answer!r} after"
        f" {outcome.seconds:.3f} s with {outcome.sent / MIB:.2f} MiB sent;"
        f" then {outcome.ended}"
    )


@pytest.fixture(scope="module")
def loopback(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EchohubProcess]:
    process = EchohubProcess(
        settings("127.0.0.1"), cwd=str(tmp_path_factory.mktemp("linger"))
    )
    try:
        yield process.start(2)
    finally:
        process.kill()


@pytest.mark.parametrize("kind", ["ws", "http", "line"])
def test_refusalReadWhileStillSending(loopback: EchohubProcess, kind: str) -> None:
    """
    Over loopback, a client pushing 64 MiB at a refusal reads the refusal
    whole, and the server ends the connection with EOF, not a reset, once
    the client stops.
    """
    size = 64 * MIB
    outcome = run("127.0.0.1", port(loopback, kind), kind, size, timeout=30)
    report("loopback", kind, size, outcome)
    assert outcome.answer == EXPECTED[kind], outcome
    assert outcome.sent < size
    assert outcome.ended == "eof", outcome
    if kind == "line":
        loopback.waitForOutput(r"line too long, lingered \(\d+ bytes discarded")


@pytest.mark.parametrize("kind", ["ws", "http", "line"])
def test_refusalReadAfterSendingEverything(loopback: EchohubProcess, kind: str) -> None:
    """
    Over loopback, a client that sends all of its 64 MiB before reading
    can: the server reads and discards the rest instead of resetting (its
    memory does not grow with it), and the refusal is still there to read.
    """
    size = 64 * MIB
    before, cpu = loopback.rss(), cpuSeconds(loopback.pid)
    outcome = run("127.0.0.1", port(loopback, kind), kind, size, 30, sequential=True)
    grown, used = loopback.rss() - before, cpuSeconds(loopback.pid) - cpu
    report("loopback, sequential", kind, size, outcome)
    print(f"server: {grown / MIB:.2f} MiB more memory, {used:.2f} s CPU")
    assert grown < 8 * MIB
    assert (outcome.answer, outcome.sent, outcome.error) == (EXPECTED[kind], size, "")
    assert outcome.ended == "eof", outcome


@pytest.fixture(scope="module")
def loopbackTLS(
    tmp_path_factory: pytest.TempPathFactory, devcerts: DevCertificates
) -> Iterator[EchohubProcess]:
    tls = settings("127.0.0.1")
    tls["ECHOHUB_LINE_LISTEN"] = tls["ECHOHUB_WEB_LISTEN"] = sslString(devcerts)
    process = EchohubProcess(tls, cwd=str(tmp_path_factory.mktemp("linger-tls")))
    try:
        yield process.start(2)
    finally:
        process.kill()


@pytest.mark.parametrize("kind", ["ws", "http", "line"])
def test_refusalReadOverTLS(
    loopbackTLS: EchohubProcess, devcerts: DevCertificates, kind: str
) -> None:
    """
    Over TLS, where shutting the write side means sending C{close_notify},
    a client that sends all of its 16 MiB before reading reads the refusal
    and then the server's C{close_notify}; once it answers with its own,
    the server closes at once (the lingering ends "client closed", not at a
    bound).
    """
    size = 16 * MIB
    outcome = run(
        "127.0.0.1",
        port(loopbackTLS, kind),
        kind,
        size,
        30,
        sequential=True,
        tls=wsClientContext(devcerts),
    )
    report("loopback TLS, sequential", kind, size, outcome)
    assert (outcome.answer, outcome.sent, outcome.error) == (EXPECTED[kind], size, "")
    assert outcome.ended == "eof", outcome
    if kind == "line":
        loopbackTLS.waitForOutput(
            r"line too long, lingered \(\d+ bytes discarded, client closed\)"
        )


@dataclass(frozen=True)
class Link:
    """
    Two network namespaces joined by a veth pair, each end shaped by
    C{tbf} to 1 Mbit/s.
    """

    server: str
    client: str
    serverAddress: str = "10.203.0.1"
    clientAddress: str = "10.203.0.2"


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


@pytest.fixture(scope="module")
def link() -> Iterator[Link]:
    """
    Make the namespaces and the shaped link, or skip saying why not; they
    are always removed afterwards.
    """
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root")
    if shutil.which("ip") is None or shutil.which("tc") is None:
        pytest.skip("no ip/tc (Debian package iproute2)")
    tag = f"{os.getpid() % 100000}"
    made = Link(f"eh{tag}s", f"eh{tag}c")
    serverEnd, clientEnd = f"eh{tag}vs", f"eh{tag}vc"
    created: list[str] = []
    try:
        for namespace in (made.server, made.client):
            _ip("netns", "add", namespace)
            created.append(namespace)
        _ip("link", "add", serverEnd, "type", "veth", "peer", "name", clientEnd)
        _ip("link", "set", serverEnd, "netns", made.server)
        _ip("link", "set", clientEnd, "netns", made.client)
        for namespace, end, address in (
            (made.server, serverEnd, made.serverAddress),
            (made.client, clientEnd, made.clientAddress),
        ):
            _ip("-n", namespace, "addr", "add", f"{address}/30", "dev", end)
            _ip("-n", namespace, "link", "set", end, "up")
            _ip("-n", namespace, "link", "set", "lo", "up")
            subprocess.run(
                ["tc", "-n", namespace, "qdisc", "add", "dev", end, "root", "tbf"]
                + ["rate", "1mbit", "burst", "32kbit", "latency", "400ms"],
                check=True,
                capture_output=True,
                timeout=10,
            )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
        for namespace in created:
            subprocess.run(["ip", "netns", "del", namespace], timeout=10)
        stderr = getattr(e, "stderr", b"") or b""
        pytest.skip(f"cannot make the shaped link: {e} {stderr.decode().strip()}")
    try:
        yield made
    finally:
        for namespace in created:
            subprocess.run(["ip", "netns", "del", namespace], timeout=10)


@pytest.fixture(scope="module")
def shaped(
    link: Link, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[EchohubProcess]:
    """
    echohub running inside the server namespace.
    """
    process = EchohubProcess(
        settings(link.serverAddress),
        cwd=str(tmp_path_factory.mktemp("linger-shaped")),
        args=["ip", "netns", "exec", link.server]
        + [str(TWISTD), "--pidfile=", "-ny", str(TAC)],
    )
    try:
        yield process.start(2)
    finally:
        process.kill()


def runInClientNamespace(
    link: Link, process: EchohubProcess, kind: str, size: int, *mode: str
) -> Outcome:
    """
    Run L{tests.lingerclient} inside the client namespace, against echohub
    in the server namespace.
    """
    result = subprocess.run(
        ["ip", "netns", "exec", link.client, sys.executable, "-m", "tests.lingerclient"]
        + [kind, link.serverAddress, str(port(process, kind)), str(size), *mode],
        cwd=str(ROOT),
        env=cleanEnvironment(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return Outcome(**json.loads(result.stdout))


@pytest.mark.parametrize("kind", ["ws", "http", "line"])
def test_refusalReadAcrossShapedLink(
    link: Link, shaped: EchohubProcess, kind: str
) -> None:
    """
    Across a 1 Mbit/s link with 400 ms of queue, a client pushing 8 MiB at a
    refusal reads the refusal whole, long before it could have sent it all
    (64 s at that rate), and the connection then ends with EOF.
    """
    size = 8 * MIB
    outcome = runInClientNamespace(link, shaped, kind, size)
    report("1 Mbit/s link", kind, size, outcome)
    assert outcome.answer == EXPECTED[kind], outcome
    assert outcome.sent < size / 4
    assert outcome.ended == "eof", outcome


@pytest.mark.parametrize("kind", ["ws", "http", "line"])
def test_refusalReadAfterSendingEverythingAcrossShapedLink(
    link: Link, shaped: EchohubProcess, kind: str
) -> None:
    """
    Across the 1 Mbit/s link, a client that sends all of its 512 KiB (about
    4 s at that rate, within the lingering bounds) before reading still
    reads the refusal whole.
    """
    size = MIB // 2
    outcome = runInClientNamespace(link, shaped, kind, size, "sequential")
    report("1 Mbit/s link, sequential", kind, size, outcome)
    assert (outcome.answer, outcome.sent, outcome.error) == (EXPECTED[kind], size, "")
    assert outcome.ended == "eof", outcome
