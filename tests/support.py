"""
Test support: run a real C{twistd -ny echohub.tac} on loopback and talk to it.

Listeners are configured on port 0 and the test reads the address each one
actually bound from echohub's own log line (C{line listening on
127.0.0.1:43211 (tcp:0:...)}), so there is no race for a free port.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from twisted.logger import eventFromJSON, formatEvent

ROOT = Path(__file__).resolve().parent.parent
TAC = ROOT / "echohub.tac"
TWISTD = Path(sys.executable).parent / "twistd"
TWIST = Path(sys.executable).parent / "twist"

_LISTENING = re.compile(r"(\w+) listening on (\S+) \((.*)\)\s*$")


def _text(line: str) -> str:
    """
    The text of one log line: C{twist} writes JSON events when its output is
    not a terminal (as RFC 7464 JSON text sequences: each record starts with
    an ASCII record separator), C{twistd} writes formatted text.
    """
    line = line.lstrip("\x1e")
    if not line.startswith("{"):
        return line
    try:
        event = eventFromJSON(line)
    except ValueError:
        return line
    return formatEvent(event)


def cleanEnvironment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """
    The environment for a subprocess: ours without C{ECHOHUB_*} settings,
    with the source tree importable, plus C{extra}.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("ECHOHUB_")}
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p
    )
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


class EchohubProcess:
    """
    One echohub server process.

    @ivar addresses: service name to the list of bound addresses, in the
        order the log reported them.
    @ivar lines: every line the process printed so far.
    """

    def __init__(
        self,
        env: Mapping[str, str],
        cwd: str | None = None,
        args: list[str] | None = None,
        passFds: tuple[int, ...] = (),
    ) -> None:
        """
        @param passFds: descriptors the process inherits (socket activation).
        """
        self.passFds = passFds
        self.env = cleanEnvironment(env)
        self.cwd = cwd or str(ROOT)
        self.args = args or [str(TWISTD), "--pidfile=", "-ny", str(TAC)]
        self.lines: list[str] = []
        self.addresses: dict[str, list[tuple[str, int]]] = {}
        self._queue: queue.Queue[str | None] = queue.Queue()
        self.process: subprocess.Popen[str] | None = None

    def start(self, listeners: int, timeout: float = 20.0) -> EchohubProcess:
        """
        Start the process and wait until C{listeners} listeners are bound.

        @raise AssertionError: the process exited or timed out first; the
            message holds its output.
        """
        self.process = subprocess.Popen(
            self.args,
            cwd=self.cwd,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            pass_fds=self.passFds,
        )
        threading.Thread(target=self._read, daemon=True).start()
        deadline = time.monotonic() + timeout
        bound = 0
        while bound < listeners:
            line = self._next(deadline)
            if line is None:
                raise AssertionError(f"echohub did not start:\n{self.output}")
            match = _LISTENING.search(_text(line))
            if match:
                service, address, _ = match.groups()
                host, _, port = address.rpartition(":")
                self.addresses.setdefault(service, []).append(
                    (host.strip("[]"), int(port))
                )
                bound += 1
        return self

    def _read(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            self._queue.put(line)
        self._queue.put(None)

    def _next(self, deadline: float) -> str | None:
        """
        The next output line, or None at end of output or the deadline.
        """
        try:
            line = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            return None
        if line is not None:
            self.lines.append(line)
        return line

    def waitForOutput(self, pattern: str, timeout: float = 10.0) -> str:
        """
        Wait for an output line matching C{pattern} and return it.
        """
        regex = re.compile(pattern)
        for line in self.lines:
            if regex.search(line):
                return line
        deadline = time.monotonic() + timeout
        while True:
            line = self._next(deadline)
            if line is None:
                raise AssertionError(f"no line matching {pattern!r} in:\n{self.output}")
            if regex.search(line):
                return line

    @property
    def output(self) -> str:
        """
        Everything printed so far.
        """
        return "".join(self.lines)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def address(self, service: str, index: int = 0) -> tuple[str, int]:
        return self.addresses[service][index]

    def connect(
        self, service: str, index: int = 0, timeout: float = 10.0
    ) -> socket.socket:
        """
        A blocking client socket connected to one listener.
        """
        return socket.create_connection(self.address(service, index), timeout=timeout)

    def rss(self) -> int:
        """
        The process's resident memory in bytes, from /proc.
        """
        status = Path(f"/proc/{self.pid}/status").read_text()
        kb = re.search(r"VmRSS:\s+(\d+) kB", status)
        assert kb is not None
        return int(kb.group(1)) * 1024

    def wait(self, timeout: float = 15.0) -> int:
        """
        Wait for the process to exit and drain its output; return its status.
        """
        assert self.process is not None
        code = self.process.wait(timeout=timeout)
        deadline = time.monotonic() + 5
        while self._next(deadline) is not None:
            pass
        return code

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        """
        Signal the process and wait for it to exit.
        """
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.wait(timeout)

    def kill(self) -> None:
        """
        Make sure the process is gone (cleanup); only our own PID is touched.
        """
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


@contextmanager
def running(
    env: Mapping[str, str], listeners: int, cwd: str | None = None
) -> Iterator[EchohubProcess]:
    """
    Run echohub for the length of a C{with} block (or a fixture), waiting
    for C{listeners} listeners; the process is killed at the end.
    """
    process = EchohubProcess(env, cwd=cwd)
    try:
        yield process.start(listeners)
    finally:
        process.kill()


def runEchohub(env: Mapping[str, str], timeout: float = 20.0) -> tuple[int, str]:
    """
    Run echohub expecting it to exit by itself (a configuration error) and
    return its exit status and output.
    """
    result = subprocess.run(
        [str(TWISTD), "--pidfile=", "-ny", str(TAC)],
        cwd=str(ROOT),
        env=cleanEnvironment(env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return result.returncode, result.stdout + result.stderr


def recvUntil(sock: socket.socket, size: int, timeout: float = 10.0) -> bytes:
    """
    Receive exactly C{size} bytes, or whatever arrived before EOF.
    """
    sock.settimeout(timeout)
    chunks: list[bytes] = []
    received = 0
    while received < size:
        chunk = sock.recv(min(1 << 20, size - received))
        if not chunk:
            break
        chunks.append(chunk)
        received += len(chunk)
    return b"".join(chunks)


def recvAll(sock: socket.socket, timeout: float = 10.0) -> bytes:
    """
    Receive until EOF.
    """
    sock.settimeout(timeout)
    chunks: list[bytes] = []
    while chunk := sock.recv(1 << 20):
        chunks.append(chunk)
    return b"".join(chunks)
