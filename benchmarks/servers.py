"""
The servers a benchmark runs, and running one: start it, find the address it
bound, read its CPU time and memory, stop it by its PID.

Every server, echohub and peers alike, listens on port 0 of 127.0.0.1 and
says where in one log line (C{line listening on 127.0.0.1:43211 (...)}), the
way the end-to-end tests find echohub; so no run races for a free port.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks import procstat

ROOT = Path(__file__).resolve().parent.parent
TAC = ROOT / "echohub.tac"

# What a server listens for: the line echo (plain or TLS), the web echo
# (plain HTTP and WebSocket), or everything echohub serves by default (to
# time start-up as a user sees it).
LINE, LINE_TLS, WEB, STARTUP = "line", "line-tls", "web", "startup"
# The RFC 862 echoes: bytes over TCP, datagrams over UDP.
BYTES, UDP = "echo", "udp"

_LISTENING = re.compile(r"(\w+) listening on (\S+):(\d+) \(")
_WORKER_READY = re.compile(r"echohub worker \d+ ready")
_WORKER_READY_WAIT = 3.0
"""
Seconds to wait, after the listening lines, for each worker's ready line:
until then the parent also accepts the connections the kernel hashes to
that worker, so a load generator that connects at once would put most of
its connections on the parent.  Trees from before that line wait this long.
"""


@dataclass(frozen=True)
class TLSFiles:
    """
    The certificate and key every TLS server of a run uses.
    """

    cert: Path
    key: Path


@dataclass(frozen=True)
class Server:
    """
    One server the harness can benchmark.

    @ivar name: how the table and the C{--servers} option name it.
    @ivar label: what it is, for the table's notes.
    @ivar module: for a peer, its module under L{benchmarks.peers}; L{None}
        for echohub itself.
    @ivar options: extra command-line options of the peer.
    @ivar requires: modules that must be importable for it to run.
    """

    name: str
    label: str
    module: str | None = None
    options: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()

    def missing(self) -> list[str]:
        """
        The required modules that are not installed.
        """
        return [m for m in self.requires if importlib.util.find_spec(m) is None]

    def command(
        self,
        service: str,
        tls: TLSFiles | None,
        echohubEnv: Mapping[str, str],
        echohubTree: Path = ROOT,
    ) -> tuple[list[str], dict[str, str], int]:
        """
        How to start this server for C{service}.

        @param echohubEnv: extra C{ECHOHUB_*} settings for echohub.
        @param echohubTree: the source tree echohub runs from.
        @return: the argument list, the environment, and how many
            listening lines to wait for.
        """
        env = {k: v for k, v in os.environ.items() if not k.startswith("ECHOHUB_")}
        tree = ROOT if self.module else echohubTree
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(tree), os.environ.get("PYTHONPATH", "")) if p
        )
        env["PYTHONUNBUFFERED"] = "1"
        if self.module is None:
            env.update(_echohubSettings(service, tls, echohubTree))
            env.update(echohubEnv)
            twistd = str(Path(sys.executable).parent / "twistd")
            listeners = 2 if service == STARTUP else 1
            # With workers, each process logs its own listening lines: wait
            # for all of them, so no connection waits for a worker to start.
            listeners *= int(env.get("ECHOHUB_SERVER_WORKERS", "1"))
            tac = str(echohubTree / TAC.name)
            return [twistd, "--pidfile=", "-ny", tac], env, listeners
        argv = [sys.executable, "-m", f"benchmarks.peers.{self.module}", *self.options]
        if service == LINE_TLS:
            assert tls is not None
            argv += ["--tls", str(tls.cert), str(tls.key)]
        return argv, env, 1


@functools.cache
def echohubSettings(tree: Path) -> frozenset[str]:
    """
    The C{ECHOHUB_*} variables the echohub in C{tree} declares.

    echohub refuses variables it does not know, and its settings change
    from version to version: the harness sets only those it finds.
    """
    program = (
        "from echohub.config import allSettings\n"
        "for s in allSettings(): print(s.envName)"
    )
    result = subprocess.run(
        [sys.executable, "-c", program],
        cwd=tree,
        env={**os.environ, "PYTHONPATH": str(tree)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    return frozenset(result.stdout.split())


def _echohubSettings(service: str, tls: TLSFiles | None, tree: Path) -> dict[str, str]:
    """
    echohub's environment for one benchmark: only the listener the scenario
    measures, on an ephemeral loopback port.

    Every limit stays on, except that the per-client-host connection limits
    (where this echohub has them) are raised to the total limit: all the
    load comes from 127.0.0.1, and the 1 000-connection scenarios would
    otherwise be refused by design.
    """
    plain = "tcp:0:interface=127.0.0.1"
    line, web, echo, udp = "", "", "", ""
    if service == BYTES:
        echo = plain
    elif service == UDP:
        udp = "udp:0:interface=127.0.0.1"
    elif service == LINE:
        line = plain
    elif service == LINE_TLS:
        assert tls is not None
        line = f"ssl:0:interface=127.0.0.1:privateKey={tls.key}:certKey={tls.cert}"
    elif service == WEB:
        web = plain
    else:
        line, web = plain, plain
    settings = {
        "ECHOHUB_LINE_LISTEN": line,
        "ECHOHUB_WEB_LISTEN": web,
        "ECHOHUB_ECHO_LISTEN": echo,
        "ECHOHUB_UDP_LISTEN": udp,
        "ECHOHUB_LINE_MAX_CONNECTIONS_PER_PEER": "4096",
        "ECHOHUB_WEB_MAX_CONNECTIONS_PER_PEER": "4096",
    }
    known = echohubSettings(tree)
    return {k: v for k, v in settings.items() if k in known or not known}


ECHOHUB = Server("echohub", "echohub (twistd -ny echohub.tac)")
# echohub from the tree given by --baseline-tree: a change measured against
# the code before it, interleaved in the same run.
BASELINE = Server("echohub-base", "echohub from --baseline-tree")
SERVERS = {
    s.name: s
    for s in (
        ECHOHUB,
        BASELINE,
        Server(
            "twisted-tutorial",
            'Twisted LineReceiver, delimiter b"\\n"',
            "twisted_line",
        ),
        Server("asyncio", "asyncio Protocol, bulk lines", "asyncio_line"),
        Server(
            "uvloop",
            "the asyncio Protocol on uvloop",
            "asyncio_line",
            ("--uvloop",),
            ("uvloop",),
        ),
        Server("asyncio-bytes", "asyncio Protocol byte echo", "asyncio_bytes"),
        Server("asyncio-udp", "asyncio DatagramProtocol echo", "asyncio_udp"),
        Server("twisted-web", "minimal twisted.web Resource", "twisted_web"),
        Server("aiohttp", "aiohttp web.Application", "aiohttp_echo", (), ("aiohttp",)),
        Server(
            "aiohttp-uvloop",
            "aiohttp on uvloop",
            "aiohttp_echo",
            ("--uvloop",),
            ("aiohttp", "uvloop"),
        ),
        Server(
            "hypercorn",
            "hypercorn (ASGI), h2c with prior knowledge",
            "hypercorn_echo",
            (),
            ("hypercorn",),
        ),
        Server(
            "grpcio-aio",
            "grpcio's grpc.aio server (C-core HTTP/2), the same echo service",
            "grpcio_echo",
            (),
            ("grpc",),
        ),
        Server(
            "websockets",
            "websockets echo server",
            "websockets_echo",
            (),
            ("websockets",),
        ),
    )
}


class ServerError(Exception):
    """
    A server did not start; the message ends with its log.
    """


@dataclass
class ServerProcess:
    """
    One running server.

    @ivar startup: seconds from spawning the process to its last listening
        line, as the harness saw it (the log is polled every 5 ms).
    @ivar address: the (host, port) of its first listener.
    """

    server: Server
    argv: list[str]
    env: dict[str, str]
    listeners: int
    log: Path
    process: subprocess.Popen[bytes] | None = None
    startup: float = 0.0
    address: tuple[str, int] = ("", 0)
    _started: float = field(default=0.0, repr=False)

    def start(self, timeout: float = 30.0) -> None:
        """
        Spawn the server and wait until it listens.

        @raise ServerError: it exited or did not listen within C{timeout}.
        """
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("wb") as output:
            self._started = time.monotonic()
            self.process = subprocess.Popen(
                self.argv,
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        deadline = self._started + timeout
        while True:
            text = self.log.read_text(errors="replace")
            found = _LISTENING.findall(text)
            if len(found) >= self.listeners:
                self.startup = time.monotonic() - self._started
                _, host, port = found[0]
                self.address = (host, int(port))
                self._waitForWorkers()
                return
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                last = ([x for x in text.splitlines() if x.strip()] or ["no output"])[
                    -1
                ]
                raise ServerError(
                    f"{self.server.name} did not start ({self.log}): {last}"
                )
            time.sleep(0.005)

    def _waitForWorkers(self) -> None:
        """
        With C{[server] workers} above 1, wait (at most
        L{_WORKER_READY_WAIT} seconds) until every worker is ready.
        """
        workers = int(self.env.get("ECHOHUB_SERVER_WORKERS", "1"))
        deadline = time.monotonic() + _WORKER_READY_WAIT
        while time.monotonic() < deadline:
            text = self.log.read_text(errors="replace")
            if len(_WORKER_READY.findall(text)) >= workers - 1:
                return
            time.sleep(0.005)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def cpuSeconds(self) -> float:
        """
        CPU seconds used so far by the server's processes (an echohub with
        workers is several); 0 once they are gone (a crash during
        a run is reported as an error by the harness, not raised here).
        """
        total = 0.0
        for pid in procstat.descendants(self.pid):
            try:
                total += procstat.cpuSeconds(pid)
            except (OSError, IndexError, ValueError):
                pass
        return total

    def memory(self) -> tuple[int, int]:
        """
        Resident memory now and at peak, in bytes, summed over the server's
        processes; zeros once they are gone.
        """
        now, peak = 0, 0
        for pid in procstat.descendants(self.pid):
            try:
                rss, hwm = procstat.memory(pid)
            except (OSError, KeyError, ValueError):
                continue
            now, peak = now + rss, peak + hwm
        return now, peak

    def stop(self, timeout: float = 15.0) -> None:
        """
        SIGTERM, then SIGKILL if the server is still there after C{timeout}:
        only this process, by its PID.
        """
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)


def pinned(argv: list[str], cpu: str | None) -> list[str]:
    """
    C{argv} run on CPU C{cpu} with C{taskset}, when both are available.
    """
    if cpu is None or shutil.which("taskset") is None:
        return argv
    return ["taskset", "-c", cpu, *argv]
