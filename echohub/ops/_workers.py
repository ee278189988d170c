# -*- test-case-name: tests.ops.test_workers -*-
"""
Several processes sharing the listening sockets: C{[server] workers = N}.

One Python process uses one core.  With C{workers} above 1 the process that
twistd starts (the parent) binds every listener as usual, then starts
C{workers - 1} copies of itself (the same command line and environment)
with L{IReactorProcess.spawnProcess}, which inherit the listening sockets
as descriptors (C{childFDs}).  Each is a full echohub with its own reactor:
every connection is served, capped and drained by the process whose
C{accept} took it.  The metrics are the whole group's (see
L{echohub.ops._metrics}).

How a worker listens on the same sockets without changing any endpoint
string: the parent builds its endpoints on a L{ListenRecorder}, which notes
each port the endpoints open (C{listenTCP}, C{listenUNIX},
C{adoptStreamPort}) in order; a worker builds the same endpoints from the
same configuration on a L{ListenAdopter}, which answers the same calls, in
the same order, by adopting the inherited socket
(C{reactor.adoptStreamPort}).  So TLS and PROXY-protocol listeners work in
the workers exactly as in the parent.

No connection waits for a worker that is not there.  A TCP listener has one
C{SO_REUSEPORT} socket per process (see L{ListenRecorder} for why not one
shared socket), and the kernel hashes each new connection to one of them
whether or not a process accepts from it.  The parent keeps every worker's
socket open and accepts from a worker's sockets itself whenever that worker
is not serving: from start until the worker reports that it listens (C{READY=1},
the systemd notification protocol over a pipe, L{ParentNotifier}), from
the moment it reports that it drains (C{STOPPING=1}) or dies
(L{WorkerProtocol.processEnded}: the pipe's end of file wakes the parent at
once, even after C{kill -9}) until its replacement is ready.  Connections
already in the dead worker's backlog are accepted by the parent, and while
a worker starts both accept from its socket, so there is no gap.

Signals and draining: the parent forwards C{SIGHUP} (certificate reload) to
its workers.  When it stops (C{SIGTERM}, C{SIGINT}), it sends each worker
C{SIGTERM}, drains its own connections while they drain theirs, and exits
only once they have all exited: after C{[server] drain_timeout} plus
L{KILL_GRACE} seconds a worker still running is killed.  A worker whose
parent dies gets C{SIGTERM} from the kernel (C{PR_SET_PDEATHSIG}, which the
worker asks for itself as it starts, L{Worker.start}).  A worker that exits
while the parent runs is started again after L{RESTART_DELAY}.
"""

from __future__ import annotations

import atexit
import ctypes
import os
import shutil
import signal
import socket
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

from twisted.application.service import Service
from twisted.internet.abstract import isIPv6Address
from twisted.internet.defer import Deferred, gatherResults, maybeDeferred, succeed
from twisted.internet.error import CannotListenError, ProcessExitedAlready
from twisted.internet.interfaces import IDelayedCall, IListeningPort
from twisted.internet.protocol import ProcessProtocol
from twisted.logger import Logger
from twisted.python.failure import Failure

from echohub._net import cancelCall
from echohub.config import Config, ConfigError
from echohub.ops._metrics import (
    MULTIPROCESS_DIRECTORY,
    forgetProcess,
    multiprocessValues,
)
from echohub.ops._notify import Notifier

WORKER_FDS = "_ECHOHUB_WORKER_FDS"
"""
The environment variable that makes a process a worker: the listening
descriptors it inherited, comma-separated, in the order the parent opened
them.
"""

WORKER_PARENT = "_ECHOHUB_WORKER_PARENT"
"""
The environment variable with the parent's process ID, which a starting
worker compares with its own parent's (L{Worker.start}).
"""

READY_FD = 3
"""
The worker's descriptor for its notifications to the parent (the write end
of a pipe); the listening descriptors follow it.
"""

KILL_GRACE = 5.0
"""
Seconds, beyond C{drain_timeout}, a stopping parent waits for its workers
before it kills them.
"""

RESTART_DELAY = 1.0
"""
Seconds before a worker that exited unexpectedly is started again; the
parent serves its sockets meanwhile, so this only bounds a crash loop.
"""

_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class Worker:
    """
    What a worker process inherited from its parent.

    @ivar descriptors: the listening descriptors, in the parent's order.
    @ivar parent: the parent's process ID.
    @ivar metricsDirectory: the process group's metrics directory.
    """

    descriptors: Sequence[int]
    parent: int
    metricsDirectory: str | None = None

    @classmethod
    def fromEnvironment(cls, environ: Mapping[str, str]) -> Worker | None:
        """
        The inheritance of this process, or L{None} when it is not a worker.
        """
        value = environ.get(WORKER_FDS)
        if value is None:
            return None
        return cls(
            [int(fd) for fd in value.split(",") if fd],
            int(environ.get(WORKER_PARENT, "0")),
            environ.get(MULTIPROCESS_DIRECTORY),
        )

    def start(self, reactor: Any) -> None:
        """
        Before this worker runs: ask the kernel for C{SIGTERM} when the
        parent dies, and stop stop signals from interrupting the drain
        twice (L{ignoreRepeatedStops}).

        C{spawnProcess} has no C{preexec_fn}, so the worker asks for the
        signal itself, after C{exec}; the parent may have died before that,
        which the parent process ID tells.

        @raise SystemExit: the parent is already gone.
        """
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM) != 0:
            error = ctypes.get_errno()
            raise OSError(error, f"prctl(PR_SET_PDEATHSIG): {os.strerror(error)}")
        if os.getppid() != self.parent:
            raise SystemExit("echohub worker: the parent exited before it started")
        ignoreRepeatedStops(reactor)

    def notifier(self) -> ParentNotifier:
        """
        How this worker tells the parent that it serves, then that it drains.
        """
        return ParentNotifier(READY_FD)


class ParentNotifier(Notifier):
    """
    A worker's notifications (C{READY=1}, C{STOPPING=1}, C{STATUS=...}) go
    to its parent, one C{KEY=VALUE} line each, over the pipe it inherited:
    only the parent talks to systemd (C{NotifyAccess=main}).
    """

    def __init__(self, fd: int) -> None:
        super().__init__({})
        self.fd = fd

    def notify(self, **fields: str) -> bool:
        """
        Write the notification to the parent; a failure (the parent gone) is
        logged, never raised.
        """
        message = "".join(f"{key}={value}\n" for key, value in fields.items())
        try:
            os.write(self.fd, message.encode("utf-8"))
        except OSError as e:
            self.log.warn("cannot notify the echohub parent: {error}", error=e)
            return False
        return True


def checkWorkers(config: Config) -> None:
    """
    Refuse C{workers} above 1 with C{systemd:} listeners: Twisted reads
    systemd's descriptors once, checking that they were passed to this very
    process, so a worker could not parse the endpoint string.  Run several
    processes on the socket instead (see the README's scale-out section).

    @raise ConfigError: naming the listener.
    """
    listeners = (
        *config.line.listen,
        *config.echo.listen,
        *config.web.listen,
        *config.server.metrics_listen,
        *config.tls.info_listen,
    )
    for description in listeners:
        prefixes = description.lower().split(":", 2)[:2]
        if "systemd" in prefixes:
            raise ConfigError(
                f"[server] workers = {config.server.workers} cannot share the"
                f" systemd socket of {description!r}: set workers = 1 and start"
                " several processes on that socket instead"
            )


def groupMetricsDirectory(reactor: Any) -> str:
    """
    In the parent: make the process group's private metrics directory,
    switch this process's metrics to it, and remove it once the reactor has
    shut down (twistd then ends by re-raising C{SIGTERM}, so no C{atexit}
    hook would run) or, when start-up fails (C{SystemExit}), at exit.
    """
    directory = tempfile.mkdtemp(prefix="echohub-metrics-")
    atexit.register(shutil.rmtree, directory, True)
    reactor.addSystemEventTrigger("after", "shutdown", shutil.rmtree, directory, True)
    multiprocessValues(directory)
    return directory


def ignoreRepeatedStops(reactor: Any) -> None:
    """
    In a worker: once the reactor runs, let only the first C{SIGTERM} or
    C{SIGINT} stop it.

    A worker usually gets the stop signal twice: from its parent, and from
    whoever signalled the whole process group or cgroup (a terminal's
    Ctrl-C, systemd's C{KillMode=control-group}).  Twisted's handler would
    call C{reactor.stop} again during the drain, which logs a traceback.
    """

    def install() -> None:
        stopped: list[int] = []
        for signum in (signal.SIGTERM, signal.SIGINT):
            previous = signal.getsignal(signum)
            if not callable(previous):
                continue

            def once(
                signum: int,
                frame: FrameType | None,
                previous: Callable[[int, FrameType | None], Any] = previous,
            ) -> None:
                if not stopped:
                    stopped.append(signum)
                    previous(signum, frame)

            signal.signal(signum, once)

    reactor.callWhenRunning(install)


class _ReactorProxy:
    """
    Everything but the three listening calls goes to the real reactor.
    """

    def __init__(self, reactor: Any) -> None:
        self._reactor = reactor

    def __getattr__(self, name: str) -> Any:
        return getattr(self._reactor, name)


@dataclass
class RecordedListener:
    """
    One listener as the workers share it.

    @ivar family: its address family.
    @ivar factory: the factory its port serves (TLS and PROXY wrappers
        included), with which the parent accepts from a worker's socket.
    @ivar sockets: the socket of each worker slot; the same one for every
        slot when C{shared}.
    @ivar shared: one socket for every process (UNIX, adopted), which the
        parent's own port already accepts from.
    """

    family: socket.AddressFamily
    factory: Any
    sockets: list[socket.socket] = field(default_factory=list)
    shared: bool = False


class ListenRecorder(_ReactorProxy):
    """
    The parent's reactor for building endpoints: listens as the real one
    does and keeps, for each listener in order, the sockets the workers
    will inherit.

    A TCP listener is bound with C{SO_REUSEPORT}, and one more socket per
    worker is bound to the same address: the kernel then spreads new
    connections over the processes.  One shared socket would not: every
    process is woken for each connection, and the first to run accepts
    every pending one (Twisted accepts up to a hundred per turn), so a burst
    of connections lands on a single process.  A UNIX or adopted socket
    cannot be bound twice and is shared as it is.

    @ivar listeners: every listener, in the order the endpoints opened them.
    """

    def __init__(self, reactor: Any, workers: int) -> None:
        """
        @param workers: how many workers will share the listeners.
        """
        super().__init__(reactor)
        self.workers = workers
        self.listeners: list[RecordedListener] = []

    def _share(self, port: IListeningPort, factory: Any) -> IListeningPort:
        shared = socket.socket(fileno=os.dup(port.fileno()))  # type: ignore[attr-defined]
        self.listeners.append(
            RecordedListener(shared.family, factory, [shared] * self.workers, True)
        )
        return port

    def listenTCP(
        self, port: int, factory: Any, backlog: int = 50, interface: str = ""
    ) -> IListeningPort:
        family = socket.AF_INET6 if isIPv6Address(interface) else socket.AF_INET
        own = _reusePortSocket(family, interface, port, backlog)
        host, bound = own.getsockname()[:2]
        others: list[socket.socket] = []
        try:
            for _ in range(self.workers):
                others.append(_reusePortSocket(family, host, bound, backlog))
            # Twisted listens on a duplicate of the descriptor.
            listening: IListeningPort = self._reactor.adoptStreamPort(
                own.fileno(), family, factory
            )
        except BaseException:
            for s in others:
                s.close()
            raise
        finally:
            own.close()
        self.listeners.append(RecordedListener(family, factory, others))
        return listening

    def listenUNIX(self, address: Any, factory: Any, *args: Any, **kwargs: Any) -> Any:
        return self._share(
            self._reactor.listenUNIX(address, factory, *args, **kwargs), factory
        )

    def adoptStreamPort(self, fd: int, family: Any, factory: Any) -> Any:
        return self._share(self._reactor.adoptStreamPort(fd, family, factory), factory)

    def descriptors(self, slot: int) -> list[int]:
        """
        The descriptors worker C{slot} inherits, one per listener in order.
        """
        return [listener.sockets[slot].fileno() for listener in self.listeners]

    def cover(self, slot: int) -> list[IListeningPort]:
        """
        Accept, in this process, from worker C{slot}'s own sockets (the
        shared ones are accepted from already).

        @return: the new ports; stopping them leaves the sockets open.
        """
        return [
            self._reactor.adoptStreamPort(
                listener.sockets[slot].fileno(), listener.family, listener.factory
            )
            for listener in self.listeners
            if not listener.shared
        ]

    def close(self) -> None:
        """
        Close the workers' sockets held here: once the workers stop, no
        connection must wait in a backlog nobody accepts from.
        """
        for listener in self.listeners:
            for s in set(listener.sockets):
                s.close()
        self.listeners = []


def _reusePortSocket(
    family: socket.AddressFamily, interface: str, port: int, backlog: int
) -> socket.socket:
    """
    A listening TCP socket with C{SO_REUSEPORT}, as Twisted's C{listenTCP}
    would bind it otherwise.

    @raise CannotListenError: as C{listenTCP} would.
    """
    s = socket.socket(family, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        s.bind((interface, port))
        s.listen(backlog)
    except OSError as e:
        s.close()
        raise CannotListenError(interface, port, e) from e
    s.setblocking(False)
    return s


class ListenAdopter(_ReactorProxy):
    """
    A worker's reactor for building endpoints: each listening call adopts
    the next inherited socket instead of binding one.
    """

    def __init__(self, reactor: Any, descriptors: Sequence[int]) -> None:
        super().__init__(reactor)
        self._descriptors = list(descriptors)

    def _adopt(self, factory: Any) -> IListeningPort:
        if not self._descriptors:
            raise OSError(
                "this worker inherited fewer listening sockets than the"
                " configuration has listeners"
            )
        fd = self._descriptors.pop(0)
        family = socket.socket(fileno=os.dup(fd))
        try:
            port: IListeningPort = self._reactor.adoptStreamPort(
                fd, family.family, factory
            )
        finally:
            family.close()
        os.close(fd)
        return port

    def listenTCP(self, port: int, factory: Any, *args: Any, **kwargs: Any) -> Any:
        return self._adopt(factory)

    def listenUNIX(self, address: Any, factory: Any, *args: Any, **kwargs: Any) -> Any:
        return self._adopt(factory)

    def adoptStreamPort(self, fd: int, family: Any, factory: Any) -> Any:
        return self._adopt(factory)


class WorkerProtocol(ProcessProtocol):
    """
    The parent's side of one worker process: its notifications and its end.

    @ivar slot: which worker this is (the sockets it inherits).
    @ivar pid: its process ID.
    """

    def __init__(self, service: WorkersService, slot: int) -> None:
        self.service = service
        self.slot = slot
        self.pid = 0
        self._pending = b""

    def childDataReceived(self, childFD: int, data: bytes) -> None:
        """
        Act on the worker's C{READY=1} and C{STOPPING=1} lines.
        """
        *lines, self._pending = (self._pending + data).split(b"\n")
        for line in lines:
            if line == b"READY=1":
                self.service.workerReady(self)
            elif line == b"STOPPING=1":
                self.service.workerStopping(self)

    def processEnded(self, reason: Failure) -> None:
        """
        The worker exited and its pipe is closed.
        """
        self.service.workerEnded(self, reason)


class WorkersService(Service):
    """
    Start, watch and stop the parent's workers, and serve the sockets of
    those that are not serving.

    @ivar workers: the running workers, by slot.
    """

    log = Logger()

    def __init__(
        self,
        count: int,
        recorder: ListenRecorder,
        reactor: Any,
        drainTimeout: float,
        metricsDirectory: str | None = None,
        argv: Sequence[str] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        """
        @param count: how many workers, besides the parent.
        @param recorder: the parent's endpoints' reactor, whose ports the
            workers inherit.
        @param reactor: spawns the processes and listens.
        @param drainTimeout: C{[server] drain_timeout}.
        @param metricsDirectory: the group's metrics directory (see
            L{groupMetricsDirectory}), named to the workers; a dead worker's
            live gauges are removed from it.
        @param argv: the worker's command line; the parent's own by default.
        @param environ: the worker's environment (plus L{WORKER_FDS}); the
            parent's own by default.
        """
        self.count = count
        self.recorder = recorder
        self.reactor = reactor
        self.deadline = drainTimeout + KILL_GRACE
        self.metricsDirectory = metricsDirectory
        self.argv = list(argv) if argv is not None else [sys.executable, *sys.argv]
        self.environ = dict(os.environ if environ is None else environ)
        self.workers: dict[int, WorkerProtocol] = {}
        self._covers: dict[int, list[IListeningPort]] = {}
        self._restarts: dict[int, IDelayedCall] = {}
        self._stopping = False
        self._allEnded: Deferred[None] | None = None
        self._kill: IDelayedCall | None = None
        self._stdin: int | None = None
        self._previousHUP: Any = None

    def startService(self) -> None:
        """
        Start the workers, forward C{SIGHUP}, and wait for them before the
        reactor shuts down.
        """
        super().startService()
        self._stdin = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        for slot in range(self.count):
            self._start(slot)
        self._previousHUP = signal.signal(signal.SIGHUP, self._forwardHUP)
        self.reactor.addSystemEventTrigger("before", "shutdown", self.stopWorkers)

    def _start(self, slot: int) -> None:
        """
        Start worker C{slot}, serving its sockets here until it is ready.
        """
        assert self._stdin is not None, "started before startService"
        self._cover(slot)
        first = READY_FD + 1
        listening = self.recorder.descriptors(slot)
        childFDs: dict[int, int | str] = {0: self._stdin, 1: 1, 2: 2}
        childFDs[READY_FD] = "r"
        childFDs.update({first + n: fd for n, fd in enumerate(listening)})
        env = {
            **self.environ,
            WORKER_FDS: ",".join(str(first + n) for n in range(len(listening))),
            WORKER_PARENT: str(os.getpid()),
        }
        if self.metricsDirectory is not None:
            env[MULTIPROCESS_DIRECTORY] = self.metricsDirectory
        # Only the parent talks to systemd (NotifyAccess=main).
        env.pop("NOTIFY_SOCKET", None)
        protocol = WorkerProtocol(self, slot)
        transport = self.reactor.spawnProcess(
            protocol, self.argv[0], self.argv, env=env, childFDs=childFDs
        )
        protocol.pid = transport.pid
        self.workers[slot] = protocol
        self.log.info("echohub worker {pid} started", pid=protocol.pid)

    def _cover(self, slot: int) -> None:
        if slot not in self._covers and not self._stopping:
            self._covers[slot] = self.recorder.cover(slot)

    def _uncover(self, slot: int) -> Deferred[list[Any]]:
        """
        Stop accepting from worker C{slot}'s sockets here.

        @return: fires once every such port has closed.
        """
        ports = self._covers.pop(slot, [])
        stopped: Deferred[list[Any]] = gatherResults(
            [maybeDeferred(port.stopListening) for port in ports]
        )
        return stopped

    def workerReady(self, worker: WorkerProtocol) -> None:
        """
        Worker C{worker} accepts from its sockets: the parent stops, then
        logs that the worker is ready.
        """
        if self.workers.get(worker.slot) is worker:
            self._uncover(worker.slot).addCallback(
                lambda _: self.log.info("echohub worker {pid} ready", pid=worker.pid)
            )

    def workerStopping(self, worker: WorkerProtocol) -> None:
        """
        Worker C{worker} closed its listeners to drain: the parent takes
        its sockets over.
        """
        if self.workers.get(worker.slot) is worker:
            self._cover(worker.slot)

    def workerEnded(self, worker: WorkerProtocol, reason: Failure) -> None:
        """
        Forget a worker that exited; while the parent runs, take its sockets
        over at once and start another after L{RESTART_DELAY}.
        """
        if self.workers.get(worker.slot) is worker:
            del self.workers[worker.slot]
        if self.metricsDirectory is not None:
            forgetProcess(worker.pid, self.metricsDirectory)
        if self._stopping:
            if not self.workers and self._allEnded is not None:
                cancelCall(self._kill)
                allEnded, self._allEnded = self._allEnded, None
                allEnded.callback(None)
            return
        self._cover(worker.slot)
        value = reason.value
        status = f"signal {value.signal}" if getattr(value, "signal", None) else None
        self.log.error(
            "echohub worker {pid} exited with {status}; starting another in"
            " {delay:g} s",
            pid=worker.pid,
            status=status or f"status {getattr(value, 'exitCode', None)}",
            delay=RESTART_DELAY,
        )
        self._restarts[worker.slot] = self.reactor.callLater(
            RESTART_DELAY, self._restart, worker.slot
        )

    def _restart(self, slot: int) -> None:
        del self._restarts[slot]
        self._start(slot)

    def _signal(self, name: str) -> None:
        for worker in self.workers.values():
            try:
                worker.transport.signalProcess(name)  # type: ignore[union-attr]
            except ProcessExitedAlready:
                pass

    def _forwardHUP(self, signum: int, frame: FrameType | None) -> None:
        self._signal("HUP")
        if callable(self._previousHUP):
            self._previousHUP(signum, frame)

    def stopWorkers(self) -> Deferred[None]:
        """
        Ask every worker to stop (C{SIGTERM}: each drains) and fire once they
        have all exited; kill those still running after the deadline.
        """
        self._stopping = True
        for call in self._restarts.values():
            cancelCall(call)
        self._restarts.clear()
        for slot in list(self._covers):
            self._uncover(slot)
        self.recorder.close()
        if self._stdin is not None:
            os.close(self._stdin)
            self._stdin = None
        if not self.workers:
            return succeed(None)
        self._signal("TERM")
        self._allEnded = Deferred()
        self._kill = self.reactor.callLater(self.deadline, self._killAll)
        return self._allEnded

    def _killAll(self) -> None:
        for worker in self.workers.values():
            self.log.warn("echohub worker {pid} killed", pid=worker.pid)
        self._signal("KILL")

    def stopService(self) -> None:
        """
        Stop forwarding C{SIGHUP}; the workers are stopped by the shutdown
        trigger, in parallel with this process's own drain.
        """
        super().stopService()
        if self._previousHUP is not None:
            signal.signal(signal.SIGHUP, self._previousHUP)
            self._previousHUP = None
