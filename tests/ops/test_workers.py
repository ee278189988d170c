"""
Tests for L{echohub.ops._workers}: C{[server] workers = N} processes sharing the
listening sockets, started, restarted and stopped by the first, which serves
the sockets of any worker that is not serving.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from typing import Any

import pytest
from twisted.internet.defer import Deferred
from twisted.internet.error import ProcessDone, ProcessTerminated
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.testing import MemoryReactorClock
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from echohub.config import ConfigError, loadConfig
from echohub.ops._metrics import MULTIPROCESS_DIRECTORY
from echohub.ops._workers import (
    KILL_GRACE,
    READY_FD,
    RESTART_DELAY,
    WORKER_FDS,
    WORKER_PARENT,
    ListenAdopter,
    ListenRecorder,
    ParentNotifier,
    RecordedListener,
    Worker,
    WorkerProtocol,
    WorkersService,
    checkWorkers,
)
from echohub.testing import temporaryDirectory
from tests.support import ROOT, EchohubProcess, cleanEnvironment, recvAll


class _FakeProcess:
    """
    The L{IProcessTransport} of a process that runs until told otherwise.
    """

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.signals: list[str] = []

    def signalProcess(self, name: str) -> None:
        self.signals.append(name)


class _FakePort:
    """
    A listening port that records whether it was stopped.
    """

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.stopped = False

    def stopListening(self) -> None:
        self.stopped = True


class _ProcessReactor(MemoryReactorClock):
    """
    A L{MemoryReactorClock} that records C{spawnProcess} calls and the ports
    C{adoptStreamPort} opens.

    @ivar spawned: (protocol, executable, args, env, childFDs) per call.
    """

    def __init__(self) -> None:
        super().__init__()
        self.spawned: list[
            tuple[WorkerProtocol, str, list[str], dict[str, str], Any]
        ] = []
        self.ports: list[_FakePort] = []

    def spawnProcess(
        self,
        processProtocol: WorkerProtocol,
        executable: str,
        args: list[str] = [],  # noqa: B006
        env: dict[str, str] | None = None,
        path: str | None = None,
        uid: int | None = None,
        gid: int | None = None,
        usePTY: bool = False,
        childFDs: Any = None,
    ) -> _FakeProcess:
        process = _FakeProcess(1000 + len(self.spawned))
        processProtocol.makeConnection(process)  # type: ignore[arg-type]
        self.spawned.append((processProtocol, executable, args, env or {}, childFDs))
        return process

    def adoptStreamPort(self, fileno: int, addressFamily: Any, factory: Any) -> Any:
        super().adoptStreamPort(fileno, addressFamily, factory)
        port = _FakePort(fileno)
        self.ports.append(port)
        return port


def _ended(worker: WorkerProtocol, signum: int | None = signal.SIGKILL) -> None:
    """
    Tell the parent that C{worker} is gone: killed by C{signum}, or exited
    with status 0.
    """
    value = ProcessDone(0) if signum is None else ProcessTerminated(signal=signum)
    worker.processEnded(Failure(value))


class WorkersServiceTests(SynchronousTestCase):
    """
    L{WorkersService} on a fake reactor: two workers, a TCP listener with a
    socket per worker and a shared (UNIX-like) listener.
    """

    def setUp(self) -> None:
        self.reactor = _ProcessReactor()
        self.recorder = recorder = ListenRecorder(self.reactor, 2)
        self.tcpFactory = Factory()
        shared = socket.socket(socket.AF_UNIX)
        recorder.listeners = [
            RecordedListener(
                socket.AF_INET, self.tcpFactory, [socket.socket(), socket.socket()]
            ),
            RecordedListener(socket.AF_UNIX, Factory(), [shared, shared], True),
        ]
        self.fds = [[s.fileno() for s in r.sockets] for r in recorder.listeners]
        self.addCleanup(recorder.close)
        self.directory = temporaryDirectory(self)
        self.service = WorkersService(
            2,
            recorder,
            self.reactor,
            drainTimeout=3,
            metricsDirectory=str(self.directory),
            argv=["/venv/bin/python", "/venv/bin/twistd", "-ny", "echohub.tac"],
            environ={"A": "1", "NOTIFY_SOCKET": "/run/x"},
        )
        self.addCleanup(self._stop)

    def _stop(self) -> None:
        if self.service.running:
            self.service.stopWorkers()
            self.service.stopService()

    def _ready(self, slot: int) -> WorkerProtocol:
        worker = self.service.workers[slot]
        worker.childDataReceived(READY_FD, b"READY=1\nSTATUS=serving\n")
        return worker

    def coveredFDs(self) -> list[int]:
        """
        The descriptors the parent accepts from beyond its own ports now.
        """
        return sorted(port.fd for port in self.reactor.ports if not port.stopped)

    def test_startsWorkersWithTheListeningSockets(self) -> None:
        """
        Each worker is spawned with the parent's command line and
        environment; it inherits, at descriptors after the notification
        pipe, its own socket of each listener (the one shared socket of a
        listener that cannot be bound twice), learns which, the parent's
        process ID and the metrics directory, and does not talk to systemd.
        """
        self.service.startService()
        self.assertEqual(len(self.reactor.spawned), 2)
        for slot, (_, executable, args, env, childFDs) in enumerate(
            self.reactor.spawned
        ):
            self.assertEqual(executable, "/venv/bin/python")
            self.assertEqual(args, self.service.argv)
            self.assertEqual(childFDs[READY_FD], "r")
            self.assertEqual((childFDs[1], childFDs[2]), (1, 2))
            self.assertEqual(
                [childFDs[READY_FD + 1], childFDs[READY_FD + 2]],
                [self.fds[0][slot], self.fds[1][slot]],
            )
            self.assertEqual(len(childFDs), 6)
            self.assertEqual(env[WORKER_FDS], f"{READY_FD + 1},{READY_FD + 2}")
            self.assertEqual(env[WORKER_PARENT], str(os.getpid()))
            self.assertEqual(env[MULTIPROCESS_DIRECTORY], str(self.directory))
            self.assertEqual(env["A"], "1")
            self.assertNotIn("NOTIFY_SOCKET", env)

    def test_parentServesAWorkersSocketsUntilItIsReady(self) -> None:
        """
        From the start the parent accepts from each worker's own TCP socket
        (with the listener's factory), not from the shared one it accepts
        from already; it stops for a worker once that worker says
        C{READY=1}, even split over two reads.
        """
        self.service.startService()
        self.assertEqual(self.coveredFDs(), sorted(self.fds[0]))
        for _, family, factory in self.reactor.adoptedPorts:
            self.assertEqual((family, factory), (socket.AF_INET, self.tcpFactory))
        worker = self.service.workers[1]
        worker.childDataReceived(READY_FD, b"STATUS=x\nREA")
        self.assertEqual(self.coveredFDs(), sorted(self.fds[0]))
        worker.childDataReceived(READY_FD, b"DY=1\n")
        self.assertEqual(self.coveredFDs(), [self.fds[0][0]])

    def test_deadWorkersSocketsServedAtOnce(self) -> None:
        """
        When a worker dies (C{kill -9}) the parent accepts from its socket
        at once, with no time passing, and its live gauges leave the
        metrics; after L{RESTART_DELAY} a replacement inherits the same
        sockets, and the parent stops once the replacement is ready.
        """
        self.service.startService()
        first = self._ready(0)
        self._ready(1)
        self.assertEqual(self.coveredFDs(), [])
        gauge = self.directory / f"gauge_livesum_{first.pid}.db"
        gauge.write_bytes(b"")
        _ended(first)
        self.assertEqual(self.coveredFDs(), [self.fds[0][0]])
        self.assertFalse(gauge.exists())
        self.reactor.advance(RESTART_DELAY - 0.01)
        self.assertEqual(len(self.reactor.spawned), 2)
        self.reactor.advance(0.01)
        self.assertEqual(len(self.reactor.spawned), 3)
        replacement, _, _, _, childFDs = self.reactor.spawned[2]
        self.assertEqual(childFDs, self.reactor.spawned[0][4])
        self.assertEqual(self.coveredFDs(), [self.fds[0][0]])
        self.assertIs(self._ready(0), replacement)
        self.assertEqual(self.coveredFDs(), [])

    def test_notificationsOfAReplacedWorkerIgnored(self) -> None:
        """
        A late C{READY=1} from a worker that was replaced does not make the
        parent stop serving the slot's sockets for its replacement.
        """
        self.service.startService()
        first = self._ready(0)
        _ended(first)
        first.childDataReceived(READY_FD, b"READY=1\n")
        self.assertEqual(self.coveredFDs(), sorted(self.fds[0]))

    def test_drainingWorkersSocketsServed(self) -> None:
        """
        A worker that says C{STOPPING=1} has closed its listeners to drain:
        the parent accepts from its socket from then on.
        """
        self.service.startService()
        worker = self._ready(0)
        self._ready(1)
        worker.childDataReceived(READY_FD, b"STOPPING=1\nSTATUS=draining\n")
        self.assertEqual(self.coveredFDs(), [self.fds[0][0]])

    def test_stopSignalsAndWaits(self) -> None:
        """
        Stopping stops the parent's accepting from the workers' sockets,
        closes the copies it holds, sends each worker C{SIGTERM} and fires
        only once every worker has exited; nothing is restarted or served
        meanwhile.
        """
        self.service.startService()
        self._ready(1)
        stopped = self.service.stopWorkers()
        self.assertEqual(self.coveredFDs(), [])
        self.assertEqual(self.recorder.listeners, [])
        fired: list[object] = []
        stopped.addCallback(fired.append)
        workers = [spawned[0] for spawned in self.reactor.spawned]
        for worker in workers:
            self.assertEqual(worker.transport.signals, ["TERM"])  # type: ignore[union-attr]
        workers[0].childDataReceived(READY_FD, b"STOPPING=1\n")
        _ended(workers[0], None)
        self.reactor.advance(1)
        self.assertEqual(fired, [])
        _ended(workers[1], None)
        self.assertEqual(fired, [None])
        self.reactor.advance(KILL_GRACE + 3)
        self.assertEqual(len(self.reactor.spawned), 2)
        self.assertEqual(self.coveredFDs(), [])
        self.assertEqual(workers[0].transport.signals, ["TERM"])  # type: ignore[union-attr]

    def test_killsWorkersPastTheDeadline(self) -> None:
        """
        A worker still running C{drain_timeout} + L{KILL_GRACE} seconds
        after the stop is killed.
        """
        self.service.startService()
        stopped: Deferred[None] = self.service.stopWorkers()
        worker = self.reactor.spawned[0][0]
        self.reactor.advance(3 + KILL_GRACE - 0.01)
        self.assertEqual(worker.transport.signals, ["TERM"])  # type: ignore[union-attr]
        self.reactor.advance(0.01)
        self.assertEqual(worker.transport.signals, ["TERM", "KILL"])  # type: ignore[union-attr]
        for worker, *_ in self.reactor.spawned:
            _ended(worker)
        self.assertIsNone(self.successResultOf(stopped))

    def test_stopsBeforeShutdown(self) -> None:
        """
        The workers are stopped by a before-shutdown trigger, so twistd
        waits for them.
        """
        self.service.startService()
        self.assertEqual(
            self.reactor.triggers["before"]["shutdown"],
            [(self.service.stopWorkers, (), {})],
        )

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
        for worker, *_ in self.reactor.spawned:
            self.assertEqual(worker.transport.signals, ["HUP"])  # type: ignore[union-attr]
        self.assertEqual(handled, [signal.SIGHUP])


class WorkerTests(SynchronousTestCase):
    """
    The worker's side: what it inherited, its notifications, its parent.
    """

    def test_fromEnvironment(self) -> None:
        """
        A process is a worker when L{WORKER_FDS} is set; the parent's
        process ID and the metrics directory come with it.
        """
        self.assertIsNone(Worker.fromEnvironment({}))
        self.assertEqual(
            Worker.fromEnvironment(
                {WORKER_FDS: "4,5", WORKER_PARENT: "12", MULTIPROCESS_DIRECTORY: "/m"}
            ),
            Worker([4, 5], 12, "/m"),
        )

    def test_notificationsReachTheParent(self) -> None:
        """
        What L{ParentNotifier} writes to its pipe is what the parent's
        L{WorkerProtocol} acts on: C{READY=1} stops the parent serving the
        worker's sockets.
        """
        reactor = _ProcessReactor()
        recorder = ListenRecorder(reactor, 1)
        recorder.listeners = [
            RecordedListener(socket.AF_INET, Factory(), [socket.socket()])
        ]
        self.addCleanup(recorder.close)
        service = WorkersService(1, recorder, reactor, 1.0, environ={})
        service.startService()
        self.addCleanup(service.stopService)
        self.addCleanup(service.stopWorkers)
        readEnd, writeEnd = os.pipe()
        self.addCleanup(os.close, readEnd)
        self.addCleanup(os.close, writeEnd)
        self.assertTrue(ParentNotifier(writeEnd).ready("serving on 1 listener(s)"))
        service.workers[0].childDataReceived(READY_FD, os.read(readEnd, 100))
        self.assertTrue(reactor.ports[0].stopped)

    def test_notifyingAGoneParentLogs(self) -> None:
        """
        A notification to a parent that is gone is logged, not raised.
        """
        readEnd, writeEnd = os.pipe()
        os.close(readEnd)
        self.addCleanup(os.close, writeEnd)
        self.assertFalse(ParentNotifier(writeEnd).stopping("draining"))
        self.assertEqual(len(self.flushLoggedErrors()), 0)

    def test_startAsksForTheParentsDeath(self) -> None:
        """
        L{Worker.start} asks the kernel for C{SIGTERM} at the parent's death
        (C{PR_SET_PDEATHSIG}); a worker whose parent is already gone (its
        parent process ID is not the one it was given) exits.  Run in a
        child process, as the setting outlives the call.
        """
        script = (
            "import ctypes, os, sys\n"
            "from twisted.internet.testing import MemoryReactor\n"
            "from echohub.ops._workers import Worker\n"
            "Worker([], os.getppid()).start(MemoryReactor())\n"
            "libc = ctypes.CDLL(None)\n"
            "value = ctypes.c_int()\n"
            "libc.prctl(2, ctypes.byref(value))\n"  # PR_GET_PDEATHSIG
            "print(value.value, flush=True)\n"
            "Worker([], os.getppid() + 1).start(MemoryReactor())\n"
        )
        result = subprocess.run(
            [sys.executable, "-c", script],
            env=cleanEnvironment(),
            cwd=str(ROOT),
            capture_output=True,
            text=True,
            timeout=30,
        )
        self.assertEqual(result.stdout, f"{signal.SIGTERM}\n")
        self.assertEqual(result.returncode, 1)
        self.assertIn("the parent exited before it started", result.stderr)


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
        factory = Factory()
        recorder.listenTCP(0, factory, interface="127.0.0.1")
        [(fd, family, _)] = reactor.adoptedPorts
        self.assertEqual(family, socket.AF_INET)
        [listener] = recorder.listeners
        self.assertEqual((listener.family, listener.factory), (socket.AF_INET, factory))
        self.assertFalse(listener.shared)
        self.assertEqual(len(listener.sockets), 2)
        ports = {s.getsockname() for s in listener.sockets}
        self.assertEqual(len(ports), 1)
        for s in listener.sockets:
            self.assertEqual(s.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT), 1)
        self.assertEqual(recorder.seconds, reactor.seconds)

    def test_coverAdoptsAWorkersOwnSockets(self) -> None:
        """
        L{ListenRecorder.cover} accepts, with each listener's factory, from
        one worker slot's own sockets, and not again from a shared one.
        """
        reactor = MemoryReactorClock()
        recorder = ListenRecorder(reactor, 2)
        self.addCleanup(recorder.close)
        factory = Factory()
        recorder.listenTCP(0, factory, interface="127.0.0.1")
        shared = socket.socket(socket.AF_UNIX)
        recorder.listeners.append(
            RecordedListener(socket.AF_UNIX, Factory(), [shared, shared], True)
        )
        del reactor.adoptedPorts[:]
        self.assertEqual(len(recorder.cover(1)), 1)
        self.assertEqual(
            reactor.adoptedPorts,
            [(recorder.listeners[0].sockets[1].fileno(), socket.AF_INET, factory)],
        )

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
    Wait until the parent's one worker serves; its PID.
    """
    line = process.waitForOutput(r"echohub worker \d+ ready", timeout=20)
    return int(line.split("echohub worker ")[1].split()[0])


def _echo(address: tuple[str, int], line: bytes) -> None:
    """
    One line-echo connection: connect, send C{line}, read it back, close.
    """
    with socket.create_connection(address, timeout=5) as client:
        client.sendall(line)
        assert client.recv(100) == line


def _openLine(process: EchohubProcess, timeout: float = 5) -> float:
    """
    The value of C{echohub_connections_open{service="line"}} that one
    scrape of C{/metrics} reports.
    """
    host, port = process.address("web")
    with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=timeout) as r:
        text = r.read().decode()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("echohub_connections_open{") and 'service="line"' in line
    )


def _metricsDirectory(pid: int) -> str:
    """
    The metrics directory in process C{pid}'s environment.
    """
    with open(f"/proc/{pid}/environ", "rb") as f:
        entries = [entry.split(b"=", 1) for entry in f.read().split(b"\0") if entry]
    return dict(entries)[MULTIPROCESS_DIRECTORY.encode()].decode()


def _gone(pid: int, timeout: float) -> bool:
    """
    Whether process C{pid} (not our child) is gone or a zombie within
    C{timeout} seconds.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.05)
    return False


_TWO_WORKERS = {
    "ECHOHUB_SERVER_WORKERS": "2",
    "ECHOHUB_LINE_LISTEN": "tcp:0:interface=127.0.0.1",
    "ECHOHUB_WEB_LISTEN": "tcp:0:interface=127.0.0.1",
}


@pytest.mark.e2e
@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
def test_metricsCountEveryWorker() -> None:
    """
    With C{workers = 2}, 40 line connections spread over both processes,
    and every scrape of C{/metrics}, whichever process takes it, reports all
    40 open.
    """
    process = EchohubProcess(_TWO_WORKERS).start(listeners=2)
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
        assert min(served.values()) > 0, served
        assert [_openLine(process) for _ in range(6)] == [40.0] * 6
        for client in clients:
            client.close()
        process.stop()
    finally:
        process.kill()


@pytest.mark.e2e
def test_killedWorkerLeavesNoClientWaiting() -> None:
    """
    With C{workers = 2}, C{kill -9} of the worker during a steady loop of
    connections (one each 5 ms for 3 s): none is refused, and none waits more
    than 100 ms from C{connect} to its echo, although the kernel hashes
    about half of them to the dead worker's socket until its replacement is
    ready.
    """
    process = EchohubProcess(_TWO_WORKERS).start(listeners=2)
    try:
        worker = _workerPid(process)
        address = process.address("line")
        waits: list[float] = []
        failures: list[str] = []
        killed = None
        start = time.monotonic()
        while time.monotonic() - start < 3 and len(waits) < 600:
            if killed is None and time.monotonic() - start > 1:
                os.kill(worker, signal.SIGKILL)
                killed = len(waits)
            began = time.perf_counter()
            try:
                _echo(address, b"x\r\n")
            except (OSError, AssertionError) as e:
                failures.append(repr(e))
            waits.append(time.perf_counter() - began)
            time.sleep(0.005)
        assert killed is not None
        process.waitForOutput(rf"echohub worker {worker} exited with signal 9")
        process.waitForOutput(rf"echohub worker (?!{worker} )\d+ ready", timeout=10)
        after = sorted(waits[killed:])
        print(
            f"failover: {len(after)} connections after kill -9,"
            f" max {after[-1] * 1000:.1f} ms,"
            f" p99 {after[int(len(after) * 0.99)] * 1000:.1f} ms"
        )
        assert failures == []
        assert len(after) > 100
        assert after[-1] < 0.1, after[-5:]
        process.stop()
    finally:
        process.kill()


@pytest.mark.e2e
def test_workerDiesWithItsParent() -> None:
    """
    A worker whose parent is killed (C{kill -9}: no stop, no signal
    forwarded) is stopped by the kernel's parent-death signal.  (The killed
    parent leaves its metrics directory behind, which the test removes.)
    """
    process = EchohubProcess(_TWO_WORKERS).start(listeners=2)
    try:
        worker = _workerPid(process)
        directory = _metricsDirectory(worker)
        process.kill()
        assert _gone(worker, timeout=10)
    finally:
        process.kill()
    shutil.rmtree(directory, ignore_errors=True)


@pytest.mark.e2e
@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
def test_workersShareTheListenerAndDrain() -> None:
    """
    With C{workers = 2} two processes accept on the same port, each serves
    some of the connections, and stopping the parent drains both: every
    client's unterminated line comes back before EOF, no worker is left, and
    the group's metrics directory is removed.
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
        directory = _metricsDirectory(worker)
        assert os.path.isdir(directory)
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
        assert _gone(worker, timeout=0.1)
        assert not os.path.exists(directory)
        assert "Traceback" not in process.output, process.output
    finally:
        process.kill()
