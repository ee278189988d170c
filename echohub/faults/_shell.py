# -*- test-case-name: tests.faults.test_shell -*-
"""
The Twisted side of faults: the one piece of code that carries a
L{Schedule}'s steps out on time (L{FaultPump}), the wrapping of a stream
transport's write and read paths with it (L{FaultedTransport}), the reset
(L{resetConnection}), and the log line and counters of an applied fault
(L{reportFault}).
"""

from __future__ import annotations

import heapq
import socket
import struct
from collections.abc import Callable
from itertools import count
from random import Random
from typing import Any

from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from zope.interface import directlyProvides, providedBy

from echohub._net import cancelCall
from echohub.faults._schedule import RESET, SEND, Schedule, Step
from echohub.faults._spec import Fault
from echohub.ops import Metrics, fastWrite

_log = Logger(namespace="echohub.faults")

READ_HOLD = 65536
"""
Bytes of delayed output a faulted connection may hold before it stops
reading: the same bound as the transport's own buffer, so a fault never
makes a client that sends fast cost more memory than one that never reads.
"""


def resetConnection(transport: Any) -> None:
    """
    Reset the TCP connection under C{transport} (plain, TLS or any wrapper
    with a C{transport}): C{SO_LINGER} 0 on the socket its C{getHandle}
    gives, then an abort, which closes the socket without a shutdown, so
    the kernel sends a RST and drops whatever is unsent.  A transport with
    no socket under it is just aborted.
    """
    current = transport
    while current is not None:
        handle = getattr(current, "getHandle", None)
        sock = handle() if handle is not None else None
        if isinstance(sock, socket.socket):
            try:
                sock.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
            except OSError:
                pass
            current.abortConnection()
            return
        current = getattr(current, "transport", None)
    transport.abortConnection()


def reportFault(
    metrics: Metrics | None, service: str, peer: str, fault: Fault, chosen: str
) -> None:
    """
    Count an applied fault by kind and log its line.

    @param chosen: who chose it: C{"listener"} or C{"client"}.
    """
    if metrics is not None:
        for kind in fault.kinds:
            metrics.faults.labels(service, kind).inc()
    _log.info(
        "{service}: fault {fault} for {peer} (chosen by the {chosen})",
        service=service,
        fault=fault.describe(),
        peer=peer,
        chosen=chosen,
    )


class FaultPump:
    """
    Carry out a schedule's steps on time, in order, with one timer.

    @ivar schedule: the I/O-free schedule.
    @ivar queued: bytes waiting to be sent.
    @ivar ended: a close or reset was carried out, or the pump was
        stopped: nothing more happens.
    @ivar drained: called after steps ran, so the owner can resume reading.
    """

    def __init__(
        self,
        schedule: Schedule,
        clock: IReactorTime,
        send: Callable[[bytes], None],
        end: Callable[[Step], None],
    ) -> None:
        self.schedule = schedule
        self._clock = clock
        self._send = send
        self._end = end
        self._heap: list[tuple[float, int, int, Callable[[], None]]] = []
        self._order = count()
        self._call: IDelayedCall | None = None
        self.queued = 0
        self.ended = False
        self.drained: Callable[[], None] | None = None

    @property
    def idle(self) -> bool:
        """
        Whether nothing waits.
        """
        return not self._heap

    def start(self) -> None:
        """
        The output starts (a C{timeout}'s close is armed).
        """
        self._add(self.schedule.start(self._clock.seconds()))

    def write(self, data: bytes) -> None:
        """
        Schedule C{data}.
        """
        if not self.ended:
            self._add(self.schedule.write(self._clock.seconds(), data))

    def at(self, due: float, call: Callable[[], None]) -> None:
        """
        Call C{call} at C{due}, after every step due before it.
        """
        if not self.ended:
            heapq.heappush(self._heap, (due, next(self._order), 0, call))
            self._arm()

    def _add(self, steps: list[Step]) -> None:
        for step in steps:
            if step.action == SEND:
                size = len(step.data)
                self.queued += size
                entry = (
                    step.due,
                    next(self._order),
                    size,
                    _bound(self._send, step.data),
                )
            else:
                entry = (step.due, next(self._order), 0, _bound(self._finish, step))
            heapq.heappush(self._heap, entry)
        self._arm()

    def _arm(self) -> None:
        """
        Have the timer fire when the first step is due (sooner, if a step
        due before the one it waits for was added).
        """
        if not self._heap or self.ended:
            return
        due = self._heap[0][0]
        delay = max(0.0, due - self._clock.seconds())
        if self._call is None:
            self._call = self._clock.callLater(delay, self._run)
        elif due < self._call.getTime():
            self._call.reset(delay)

    def _run(self) -> None:
        self._call = None
        now = self._clock.seconds()
        heap = self._heap
        while heap and heap[0][0] <= now and not self.ended:
            _, _, size, call = heapq.heappop(heap)
            self.queued -= size
            call()
        self._arm()
        if self.drained is not None:
            self.drained()

    def _finish(self, step: Step) -> None:
        self.stop()
        self._end(step)

    def stop(self) -> None:
        """
        Forget everything that waits and do nothing more.
        """
        self.ended = True
        cancelCall(self._call)
        self._call = None
        self._heap.clear()
        self.queued = 0


def _bound(call: Callable[[Any], None], argument: Any) -> Callable[[], None]:
    return lambda: call(argument)


class FaultedTransport:
    """
    A stream transport whose write path runs through a fault's schedule and
    whose read path stops while the fault says so (C{refuse_read}) or while
    more than L{READ_HOLD} bytes of delayed output wait.

    It stands in for the protocol's transport (everything else is the
    wrapped transport's, interfaces included), and is registered with the
    wrapped one as the streaming producer, so the transport's own
    backpressure still pauses reading.

    @ivar fault: the fault.
    @ivar sent: bytes sent through the wrapped transport.
    """

    def __init__(
        self,
        transport: Any,
        fault: Fault,
        clock: IReactorTime,
        ended: Callable[[Step], None],
        random: Random | None = None,
    ) -> None:
        """
        @param ended: called when the fault ends the connection: a
            L{Step} whose C{action} is C{CLOSE} (close it, lingering: a FIN)
            or C{RESET} (the RST is sent after the call).
        """
        directlyProvides(self, providedBy(transport))
        self._transport = transport
        self.fault = fault
        self._clock = clock
        self._ended = ended
        self._pump = FaultPump(Schedule(fault, random), clock, self._sendNow, self._end)
        self._pump.drained = self._update
        refuse = fault.get("refuse_read")
        self._refusing = refuse is not None
        self._refuseCall: IDelayedCall | None = None
        if refuse is not None and refuse["timeout"] > 0:
            self._refuseCall = clock.callLater(
                refuse.seconds("timeout"), self._stopRefusing
            )
        self._paused = False
        self._reading = True
        self._closing = False
        self._afterRefusal: list[Callable[[], None]] = []
        self.sent = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)

    def start(self) -> None:
        """
        Start the fault: arm its timers, stop reading if it refuses to.
        """
        self._pump.start()
        self._update()

    # The write path.

    def write(self, data: bytes | memoryview) -> None:
        if not self._closing:
            self._pump.write(bytes(data))
            self._update()

    def writeSequence(self, data: list[bytes]) -> None:
        self.write(b"".join(data))

    def _sendNow(self, data: bytes) -> None:
        self.sent += len(data)
        fastWrite(self._transport, data)

    def loseConnection(self) -> None:
        """
        Close once what waits is sent, after C{slow_close}'s delay.
        """
        self._whenSent(self._transport.loseConnection)

    def loseWriteConnection(self) -> None:
        """
        Shut the write side once what waits is sent.
        """
        self._whenSent(self._transport.loseWriteConnection)

    def _whenSent(self, call: Callable[[], None]) -> None:
        if self._pump.ended:
            call()
            return
        self._closing = True
        self._pump.at(self._pump.schedule.closeAt(self._clock.seconds()), call)

    def abortConnection(self) -> None:
        self._stop()
        self._transport.abortConnection()

    def _end(self, step: Step) -> None:
        self._stop()
        self._ended(step)
        if step.action == RESET:
            resetConnection(self._transport)

    def _stop(self) -> None:
        self._afterRefusal = []
        self._pump.stop()
        cancelCall(self._refuseCall)
        self._refuseCall = None
        self._refusing = False
        self._update()

    # The read path: this wrapper is the transport's producer.

    def registerProducer(self, producer: object, streaming: bool) -> None:
        self._transport.registerProducer(self, streaming)

    def unregisterProducer(self) -> None:
        self._transport.unregisterProducer()

    def pauseProducing(self) -> None:
        self._paused = True
        self._update()

    def resumeProducing(self) -> None:
        self._paused = False
        self._update()

    def stopProducing(self) -> None:
        self._stop()
        self._transport.stopProducing()

    @property
    def refusing(self) -> bool:
        """
        Whether the fault refuses to read now.
        """
        return self._refusing

    def afterRefusal(self, call: Callable[[], None]) -> None:
        """
        Call C{call} once the fault reads again: how input that was already
        read when the fault began is held back with the rest.
        """
        self._afterRefusal.append(call)

    def _stopRefusing(self) -> None:
        self._refuseCall = None
        self._refusing = False
        self._update()
        calls, self._afterRefusal = self._afterRefusal, []
        for call in calls:
            call()

    def _update(self) -> None:
        """
        Read unless the transport's backpressure, the fault's refusal or
        the delayed output says not to.
        """
        reading = not (self._paused or self._refusing or self._pump.queued > READ_HOLD)
        if reading != self._reading:
            self._reading = reading
            if reading:
                self._transport.resumeProducing()
            else:
                self._transport.pauseProducing()
