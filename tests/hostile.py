"""
Helpers for the hostile-client tests and the soak: many sockets at once,
descriptor and memory readings of a server process, raw HTTP exchanges.
"""

from __future__ import annotations

import os
import re
import resource
import selectors
import socket
import struct
import time
from collections.abc import Iterable
from pathlib import Path


def raiseFileLimit() -> int:
    """
    Raise this process's descriptor limit to its hard limit (a server
    subprocess started afterwards inherits it); return the new soft limit.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def openFds(pid: int) -> int:
    """
    The number of descriptors process C{pid} has open.
    """
    return len(os.listdir(f"/proc/{pid}/fd"))


def cpuSeconds(pid: int) -> float:
    """
    User plus system CPU time process C{pid} used so far.
    """
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss(pid: int) -> int:
    """
    Resident memory of process C{pid}, in bytes.
    """
    status = Path(f"/proc/{pid}/status").read_text()
    kb = re.search(r"VmRSS:\s+(\d+) kB", status)
    assert kb is not None
    return int(kb.group(1)) * 1024


def resetOnClose(sock: socket.socket) -> None:
    """
    Make C{close()} send a RST rather than a FIN (C{SO_LINGER} 0).
    """
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def exchange(address: tuple[str, int], data: bytes, timeout: float = 10.0) -> bytes:
    """
    Send C{data} on a new connection and return everything received until
    the server closes it (a reset counts as a close).
    """
    with socket.create_connection(address, timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except ConnectionResetError:
            pass
    return b"".join(chunks)


def statuses(reply: bytes) -> list[int]:
    """
    The status codes of the responses in C{reply}, in order.
    """
    return [int(m) for m in re.findall(rb"^HTTP/1\.[01] (\d{3}) ", reply, re.M)]


def healthLatency(address: tuple[str, int], count: int = 5) -> float:
    """
    The median time, in seconds, a new client takes to connect and get
    C{/healthz} answered.
    """
    times = []
    for _ in range(count):
        start = time.monotonic()
        reply = exchange(
            address, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        times.append(time.monotonic() - start)
        assert statuses(reply) == [200], reply
    return sorted(times)[count // 2]


def lineLatency(address: tuple[str, int], count: int = 5) -> float:
    """
    The median time a new line client takes to connect and get one echo.
    """
    times = []
    for _ in range(count):
        start = time.monotonic()
        with socket.create_connection(address, timeout=10) as sock:
            sock.sendall(b"ping\n")
            assert sock.recv(16) == b"ping\n"
        times.append(time.monotonic() - start)
    return sorted(times)[count // 2]


def openMany(address: tuple[str, int], count: int) -> list[socket.socket]:
    """
    Open C{count} connections to C{address}; every one is closed if any
    fails to open.
    """
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            socks.append(socket.create_connection(address, timeout=10))
    except BaseException:
        closeAll(socks)
        raise
    return socks


def closeAll(socks: Iterable[socket.socket]) -> None:
    for sock in socks:
        sock.close()


def waitClosed(
    socks: list[socket.socket], timeout: float
) -> tuple[dict[socket.socket, bytes], list[float]]:
    """
    Read every socket until the server closes it, or C{timeout} passes.

    @return: what each closed socket received, and when (seconds from the
        call) each closed.
    """
    start = time.monotonic()
    selector = selectors.DefaultSelector()
    received: dict[socket.socket, bytes] = {}
    for sock in socks:
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ)
        received[sock] = b""
    closedAt: list[float] = []
    done: dict[socket.socket, bytes] = {}
    while selector.get_map() and time.monotonic() - start < timeout:
        for key, _ in selector.select(0.1):
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            try:
                chunk = sock.recv(65536)
            except BlockingIOError:
                continue
            except ConnectionResetError:
                chunk = b""
            if chunk:
                received[sock] += chunk
                continue
            selector.unregister(sock)
            done[sock] = received[sock]
            closedAt.append(time.monotonic() - start)
    selector.close()
    return done, closedAt


def waitFor(predicate: object, timeout: float, interval: float = 0.1) -> bool:
    """
    Poll C{predicate()} until it is true or C{timeout} passes; return its
    last value.
    """
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while not (value := predicate()) and time.monotonic() < deadline:
        time.sleep(interval)
    return bool(value)
