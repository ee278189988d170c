# -*- test-case-name: tests.ops.test_workers -*-
"""
Several processes sharing the listening sockets: C{[server] workers = N}.

One Python process uses one core.  With C{workers} above 1 the process that
twistd starts (the parent) binds every listener as usual, then starts
C{workers - 1} copies of itself (the same command line and environment)
that inherit the listening sockets.  Each is a full echohub with its own
reactor: every connection is served, capped, logged and drained by the
process whose C{accept} took it.

How a worker listens on the same sockets without changing any endpoint
string: the parent builds its endpoints on a L{ListenRecorder}, which notes
each port the endpoints open (C{listenTCP}, C{listenUNIX},
C{adoptStreamPort}) in order; a worker builds the same endpoints from the
same configuration on a L{ListenAdopter}, which answers the same calls, in
the same order, by adopting the inherited socket
(C{reactor.adoptStreamPort}).  So TLS, PROXY-protocol and C{systemd:}
listeners work in the workers exactly as in the parent.  The descriptors
are passed in L{WORKER_FDS} (a private variable, not an C{ECHOHUB_}
setting).

Signals and draining: the parent forwards C{SIGHUP} (certificate reload) to
its workers.  When it stops (C{SIGTERM}, C{SIGINT}), it sends each worker
C{SIGTERM}, drains its own connections while they drain theirs, and exits
only once they have all exited: after C{[server] drain_timeout} plus
L{KILL_GRACE} seconds a worker still running is killed.  A worker whose
parent dies gets C{SIGTERM} from the kernel (C{PR_SET_PDEATHSIG}).  A worker
that exits while the parent runs is started again, at most once a second.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from types import FrameType
from typing import Any

from twisted.application.service import Service
from twisted.internet.abstract import isIPv6Address
from twisted.internet.defer import Deferred
from twisted.internet.error import CannotListenError
from twisted.internet.interfaces import IListeningPort
from twisted.internet.task import LoopingCall
from twisted.logger import Logger

from echohub.config import Config, ConfigError

WORKER_FDS = "_ECHOHUB_WORKER_FDS"
"""
The environment variable that makes a process a worker: the listening
descriptors it inherited, comma-separated, in the order the parent opened
them.
"""

KILL_GRACE = 5.0
"""
Seconds, beyond C{drain_timeout}, a stopping parent waits for its workers
before it kills them.
"""

RESTART_DELAY = 1.0
"""
Seconds before a worker that exited unexpectedly is started again.
"""

_PR_SET_PDEATHSIG = 1


def inheritedDescriptors(environ: Mapping[str, str]) -> list[int] | None:
    """
    The listening descriptors this process inherited as a worker, or
    L{None} when it is not a worker.
    """
    value = environ.get(WORKER_FDS)
    if value is None:
        return None
    return [int(fd) for fd in value.split(",") if fd]


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

    @ivar sockets: for each listener, the socket of each worker slot (or
        the one shared socket).
    """

    def __init__(self, reactor: Any, workers: int) -> None:
        """
        @param workers: how many workers will share the listeners.
        """
        super().__init__(reactor)
        self.workers = workers
        self.sockets: list[list[socket.socket]] = []

    def _share(self, port: IListeningPort) -> IListeningPort:
        shared = socket.socket(fileno=os.dup(port.fileno()))  # type: ignore[attr-defined]
        self.sockets.append([shared] * self.workers)
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
        self.sockets.append(others)
        return listening

    def listenUNIX(self, *args: Any, **kwargs: Any) -> IListeningPort:
        return self._share(self._reactor.listenUNIX(*args, **kwargs))

    def adoptStreamPort(self, *args: Any, **kwargs: Any) -> IListeningPort:
        return self._share(self._reactor.adoptStreamPort(*args, **kwargs))

    def descriptors(self, slot: int) -> list[int]:
        """
        The descriptors worker C{slot} inherits, one per listener in order.
        """
        return [sockets[slot].fileno() for sockets in self.sockets]

    def close(self) -> None:
        """
        Close the workers' sockets held here: once the workers stop, no
        connection must wait in a backlog nobody accepts from.
        """
        for sockets in self.sockets:
            for s in set(sockets):
                s.close()
        self.sockets = []


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


def _dieWithParent() -> None:
    """
    In the worker, before it runs: ask the kernel for C{SIGTERM} when the
    parent dies, so that no worker outlives a killed parent.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


class WorkersService(Service):
    """
    Start, watch and stop the parent's workers.

    @ivar processes: the running workers.
    """

    log = Logger()

    def __init__(
        self,
        count: int,
        recorder: ListenRecorder,
        reactor: Any,
        drainTimeout: float,
        argv: Sequence[str] | None = None,
        environ: Mapping[str, str] | None = None,
        spawn: Callable[..., subprocess.Popen[bytes]] = subprocess.Popen,
    ) -> None:
        """
        @param count: how many workers, besides the parent.
        @param recorder: the parent's endpoints' reactor, whose ports the
            workers inherit.
        @param drainTimeout: C{[server] drain_timeout}.
        @param argv: the worker's command line; the parent's own by default.
        @param environ: the worker's environment (plus L{WORKER_FDS}); the
            parent's own by default.
        @param spawn: starts a process, as L{subprocess.Popen} does.
        """
        self.count = count
        self.recorder = recorder
        self.reactor = reactor
        self.deadline = drainTimeout + KILL_GRACE
        self.argv = list(argv) if argv is not None else [sys.executable, *sys.argv]
        self.environ = dict(os.environ if environ is None else environ)
        self.spawn = spawn
        self.processes: dict[int, subprocess.Popen[bytes]] = {}
        self._watch = LoopingCall(self._reap)
        self._watch.clock = reactor
        self._stopping = False
        self._previousHUP: Any = None

    def startService(self) -> None:
        """
        Start the workers, watch them, forward C{SIGHUP}, and wait for them
        before the reactor shuts down.
        """
        super().startService()
        for slot in range(self.count):
            self._start(slot)
        self._watch.start(0.2, now=False)
        self._previousHUP = signal.signal(signal.SIGHUP, self._forwardHUP)
        self.reactor.addSystemEventTrigger("before", "shutdown", self.stopWorkers)

    def _start(self, slot: int) -> None:
        descriptors = self.recorder.descriptors(slot)
        env = {**self.environ, WORKER_FDS: ",".join(map(str, descriptors))}
        # Only the parent talks to systemd (NotifyAccess=main).
        env.pop("NOTIFY_SOCKET", None)
        process = self.spawn(
            self.argv,
            env=env,
            pass_fds=descriptors,
            stdin=subprocess.DEVNULL,
            preexec_fn=_dieWithParent,
        )
        self.processes[slot] = process
        self.log.info("echohub worker {pid} started", pid=process.pid)

    def _reap(self) -> None:
        """
        Forget workers that exited; start again one that exited while we
        run.
        """
        for slot, process in list(self.processes.items()):
            status = process.poll()
            if status is None:
                continue
            del self.processes[slot]
            if not self._stopping:
                self.log.error(
                    "echohub worker {pid} exited with status {status};"
                    " starting another in {delay:g} s",
                    pid=process.pid,
                    status=status,
                    delay=RESTART_DELAY,
                )
                self.reactor.callLater(RESTART_DELAY, self._restart, slot)

    def _restart(self, slot: int) -> None:
        if not self._stopping:
            self._start(slot)

    def _forwardHUP(self, signum: int, frame: FrameType | None) -> None:
        for process in self.processes.values():
            process.send_signal(signal.SIGHUP)
        if callable(self._previousHUP):
            self._previousHUP(signum, frame)

    def stopWorkers(self) -> Deferred[None]:
        """
        Ask every worker to stop (C{SIGTERM}: each drains) and fire once they
        have all exited; kill those still running after the deadline.
        """
        self._stopping = True
        self.recorder.close()
        for process in self.processes.values():
            process.send_signal(signal.SIGTERM)
        done: Deferred[None] = Deferred()
        killAt = self.reactor.seconds() + self.deadline

        def check() -> None:
            self._reap()
            if not self.processes:
                if self._watch.running:
                    self._watch.stop()
                done.callback(None)
                return
            if self.reactor.seconds() >= killAt:
                for process in self.processes.values():
                    self.log.warn("echohub worker {pid} killed", pid=process.pid)
                    process.kill()
            self.reactor.callLater(0.05, check)

        check()
        return done

    def stopService(self) -> None:
        """
        Stop forwarding C{SIGHUP}; the workers are stopped by the shutdown
        trigger, in parallel with this process's own drain.
        """
        super().stopService()
        if self._previousHUP is not None:
            signal.signal(signal.SIGHUP, self._previousHUP)
            self._previousHUP = None
