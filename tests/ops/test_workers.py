"""
Tests for L{echohub.ops._workers}: C{[server] workers = N} processes sharing the
listening sockets, started, restarted and stopped by the first.
"""

from __future__ import annotations

import os
import signal
import socket
import time
from typing import Any

import pytest
from twisted.internet.defer import Deferred
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.testing import MemoryReactorClock
from twisted.trial.unittest import SynchronousTestCase

from echohub.config import ConfigError, loadConfig
from echohub.ops._workers import (
    KILL_GRACE,
    RESTART_DELAY,
    WORKER_FDS,
    ListenAdopter,
    ListenRecorder,
    WorkersService,
    checkWorkers,
    inheritedDescriptors,
)
from tests.support import EchohubProcess, recvAll


class _FakeProcess:
    """
    A L{subprocess.Popen} stand-in: running until told otherwise.
    """

    def __init__(self, pid: int, argv: list[str], **kwargs: Any) -> None:
        self.pid = pid
        self.argv = argv
        self.kwargs = kwargs
        self.returncode: int | None = None
        self.signals: list[int] = []

    def poll(self) -> int | None:
        return self.returncode

    def send_signal(self, signum: int) -> None:
        self.signals.append(signum)

    def kill(self) -> None:
        self.signals.append(signal.SIGKILL)
        self.returncode = -9


class WorkersServiceTests(SynchronousTestCase):
    """
    L{WorkersService} with fake processes on a fake clock.
    """

    def setUp(self) -> None:
        self.reactor = MemoryReactorClock()
        self.recorder = recorder = ListenRecorder(self.reactor, 2)
        recorder.sockets = [
            [socket.socket(), socket.socket()],
            [socket.socket()] * 2,
        ]
        self.fds = [[s.fileno() for s in sockets] for sockets in recorder.sockets]
        self.addCleanup(recorder.close)
        self.spawned: list[_FakeProcess] = []

        def spawn(argv: list[str], **kwargs: Any) -> _FakeProcess:
            process = _FakeProcess(1000 + len(self.spawned), argv, **kwargs)
            self.spawned.append(process)
            return process

        self.service = WorkersService(
            2,
            recorder,
            self.reactor,
            drainTimeout=3,
            argv=["twistd", "-ny", "echohub.tac"],
            environ={"A": "1", "NOTIFY_SOCKET": "/run/x"},
            spawn=spawn,  # type: ignore[arg-type]
        )
        self.addCleanup(self._stop)

    def _stop(self) -> None:
        if self.service.running:
            self.service.stopService()

    def test_startsWorkersWithTheListeningSockets(self) -> None:
        """
        Each worker runs the parent's command line with its environment,
        inherits its own socket of each listener (the one shared socket of
        a listener that cannot be bound twice), is told which, in order, and
        does not talk to systemd.
        """
        self.service.startService()
        self.assertEqual(len(self.spawned), 2)
        for slot, process in enumerate(self.spawned):
            self.assertEqual(process.argv, ["twistd", "-ny", "echohub.tac"])
            fds = [self.fds[0][slot], self.fds[1][slot]]
            self.assertEqual(process.kwargs["pass_fds"], fds)
            env = process.kwargs["env"]
            self.assertEqual(env[WORKER_FDS], ",".join(map(str, fds)))
            self.assertEqual(env["A"], "1")
            self.assertNotIn("NOTIFY_SOCKET", env)

    def test_restartsAWorkerThatExited(self) -> None:
        """
        A worker that exits while the parent runs is replaced after
        L{RESTART_DELAY} seconds.
        """
        self.service.startService()
        self.spawned[0].returncode = 1
        self.reactor.advance(0.2)
        self.assertEqual(len(self.service.processes), 1)
        self.reactor.advance(RESTART_DELAY)
        self.assertEqual(len(self.spawned), 3)
        self.assertEqual(len(self.service.processes), 2)
        self.assertEqual(
            self.spawned[2].kwargs["pass_fds"], self.spawned[0].kwargs["pass_fds"]
        )

    def test_stopSignalsAndWaits(self) -> None:
        """
        Stopping closes the workers' sockets the parent holds, sends each
        worker C{SIGTERM} and fires only once every worker has exited;
        nothing is restarted meanwhile.
        """
        self.service.startService()
        stopped = self.service.stopWorkers()
        self.assertEqual(self.recorder.sockets, [])
        fired: list[object] = []
        stopped.addCallback(fired.append)
        for process in self.spawned:
            self.assertEqual(process.signals, [signal.SIGTERM])
        self.spawned[0].returncode = 0
        self.reactor.advance(1)
        self.assertEqual(fired, [])
        self.spawned[1].returncode = 0
        self.reactor.advance(0.1)
        self.assertEqual(fired, [None])
        self.reactor.advance(RESTART_DELAY * 2)
        self.assertEqual(len(self.spawned), 2)

    def test_killsWorkersPastTheDeadline(self) -> None:
        """
        A worker still running C{drain_timeout} + L{KILL_GRACE} seconds
        after the stop is killed.
        """
        self.service.startService()
        stopped: Deferred[None] = self.service.stopWorkers()
        self.reactor.advance(3 + KILL_GRACE - 0.1)
        self.assertNotIn(signal.SIGKILL, self.spawned[0].signals)
        for _ in range(5):
            self.reactor.advance(0.05)
        self.assertIn(signal.SIGKILL, self.spawned[0].signals)
        self.reactor.advance(0.1)
        self.assertIsNone(self.successResultOf(stopped))

    def test_forwardsSIGHUP(self) -> None:
        """
        C{SIGHUP} (certificate reload) reaches every worker, and the
        parent's own handler still runs.
        """
        handled: list[int] = []
        previous = signal.signal(signal.SIGHUP, lambda n, f: handled.append(n))
        self.addCleanup(signal.signal, signal.SIGHUP, previous)
        self.service.startService()
        os.kill(os.getpid(), signal.SIGHUP)
        for process in self.spawned:
            self.assertEqual(process.signals, [signal.SIGHUP])
        self.assertEqual(handled, [signal.SIGHUP])


class ListenTests(SynchronousTestCase):
    """
    The parent records the ports its endpoints open; a worker adopts the
    inherited sockets for the same calls, in the same order.
    """

    def test_recorderBindsOneSocketPerWorker(self) -> None:
        """
        For a TCP listener L{ListenRecorder} listens with C{SO_REUSEPORT} on
        the real reactor and binds one more socket per worker to the same
        address, so that the kernel spreads connections over the processes.
        """
        reactor = MemoryReactorClock()
        recorder = ListenRecorder(reactor, 2)
        self.addCleanup(recorder.close)
        recorder.listenTCP(0, Factory(), interface="127.0.0.1")
        [(fd, family, _)] = reactor.adoptedPorts
        self.assertEqual(family, socket.AF_INET)
        [sockets] = recorder.sockets
        self.assertEqual(len(sockets), 2)
        ports = {s.getsockname() for s in sockets}
        self.assertEqual(len(ports), 1)
        for s in sockets:
            self.assertEqual(s.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT), 1)
        self.assertEqual(recorder.seconds, reactor.seconds)

    def test_adopterAdoptsInheritedSockets(self) -> None:
        """
        L{ListenAdopter} answers each listening call by adopting the next
        inherited descriptor, with its address family, and refuses once they
        run out.
        """
        reactor = MemoryReactorClock()
        sockets = [socket.socket(socket.AF_INET), socket.socket(socket.AF_INET6)]
        for s in sockets:
            self.addCleanup(s.close)
        fds = [os.dup(s.fileno()) for s in sockets]
        adopter = ListenAdopter(reactor, fds)
        factory = Factory.forProtocol(Protocol)
        adopter.listenTCP(7007, factory, interface="127.0.0.1")
        adopter.listenTCP(7008, factory)
        self.assertEqual(
            [(fd, family) for fd, family, _ in reactor.adoptedPorts],
            [(fds[0], socket.AF_INET), (fds[1], socket.AF_INET6)],
        )
        self.assertRaises(OSError, adopter.listenTCP, 7009, factory)

    def test_inheritedDescriptors(self) -> None:
        """
        A process is a worker when L{WORKER_FDS} is set.
        """
        self.assertIsNone(inheritedDescriptors({}))
        self.assertEqual(inheritedDescriptors({WORKER_FDS: "3,4"}), [3, 4])

    def test_systemdListenersRefused(self) -> None:
        """
        C{workers} above 1 cannot share a C{systemd:} socket: the
        configuration is refused, naming the listener.
        """
        config = loadConfig(
            {
                "ECHOHUB_SERVER_WORKERS": "2",
                "ECHOHUB_LINE_LISTEN": "haproxy:systemd:domain=INET:index=0",
            }
        )
        error = self.assertRaises(ConfigError, checkWorkers, config)
        self.assertIn("haproxy:systemd:domain=INET:index=0", str(error))
        checkWorkers(loadConfig({"ECHOHUB_SERVER_WORKERS": "2"}))


def _sockets(pid: int) -> int:
    """
    How many sockets process C{pid} has open.
    """
    count = 0
    for name in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{name}").startswith("socket:"):
                count += 1
        except OSError:
            pass
    return count


def _workerPid(process: EchohubProcess) -> int:
    """
    Wait until the parent's one worker has started and listens; its PID.
    """
    line = process.waitForOutput(r"echohub worker \d+ started", timeout=20)
    pid = int(line.split("echohub worker ")[1].split()[0])
    process.waitForOutput(r"line listening on", timeout=20)
    return pid


@pytest.mark.e2e
@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
def test_workersShareTheListenerAndDrain() -> None:
    """
    With C{workers = 2} two processes accept on the same port, each serves
    some of the connections, and stopping the parent drains both: every
    client's unterminated line comes back before EOF, and no worker is left.
    """
    process = EchohubProcess(
        {
            "ECHOHUB_SERVER_WORKERS": "2",
            "ECHOHUB_LINE_LISTEN": "tcp:0:interface=127.0.0.1",
            "ECHOHUB_WEB_LISTEN": "",
        }
    ).start(listeners=1)
    try:
        worker = _workerPid(process)
        address = process.address("line")
        before = {pid: _sockets(pid) for pid in (process.pid, worker)}
        clients = []
        for n in range(40):
            client = socket.create_connection(address, timeout=10)
            client.sendall(b"line %d\n" % (n,))
            assert client.recv(100) == b"line %d\n" % (n,)
            clients.append(client)
        served = {pid: _sockets(pid) - before[pid] for pid in before}
        assert sum(served.values()) == 40, served
        assert min(served.values()) > 0, served
        for n, client in enumerate(clients):
            client.sendall(b"unterminated %d" % (n,))
        time.sleep(0.2)
        os.kill(process.pid, signal.SIGTERM)
        for n, client in enumerate(clients):
            assert recvAll(client, timeout=20) == b"unterminated %d" % (n,)
            client.close()
        assert process.wait(timeout=30) in (-signal.SIGTERM, 0)
        assert (
            not os.path.exists(f"/proc/{worker}/status")
            or "Z"
            in open(f"/proc/{worker}/status").read().split("State:")[1].split()[0]
        )
        assert "Traceback" not in process.output, process.output
    finally:
        process.kill()
