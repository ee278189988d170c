# -*- test-case-name: tests.faults.test_schedule -*-
"""
When each piece of a faulted output goes out: an I/O-free schedule.

A L{Schedule} is handed what a connection (or an HTTP response) would
write, with the time, and answers with L{Step}s: which bytes to send when,
and when to close or reset.  It never makes up a byte: the bytes of the
C{SEND} steps are always a prefix of what it was handed, in order, so that
an echo under a fault sends fewer bytes than it received (a truncation, a
timeout), never other ones.  The Twisted shell that carries the steps out
on time (L{echohub.faults._shell}) is the only code with timers.

The toxics apply in toxiproxy's spirit and in this order: C{timeout} and
C{reset_peer} drop everything; C{limit_data} and C{reset_after} cut the
output at their byte count; C{latency} delays each write; C{slicer} splits
it; C{bandwidth} spaces the pieces out at its rate.  Steps are never due
before the step before them: order is kept whatever the jitter.
"""

from __future__ import annotations

from dataclasses import dataclass
from random import Random

from echohub.faults._spec import Fault, Toxic

SEND = "send"
CLOSE = "close"
RESET = "reset"

BANDWIDTH_TICK = 0.1
"""
Seconds of output per piece under C{bandwidth}, as toxiproxy cuts it: a
slow rate still moves every 100 ms.
"""


@dataclass(frozen=True)
class Step:
    """
    One thing to do at one time.

    @ivar due: when, on the clock the schedule was given.
    @ivar action: L{SEND}, L{CLOSE} (the server's FIN) or L{RESET} (RST).
    @ivar data: the bytes to send (L{SEND} only).
    @ivar cause: the toxic that ends the output (L{CLOSE}, L{RESET}).
    """

    due: float
    action: str
    data: bytes = b""
    cause: str = ""


class Schedule:
    """
    The schedule of one connection's (or one response's) output under
    C{fault}.

    @ivar ended: the output has ended for good (a cut or a reset is
        scheduled): everything written from now on is dropped.
    @ivar passed: bytes let through so far.
    @ivar dropped: bytes dropped so far.
    """

    def __init__(self, fault: Fault, random: Random | None = None) -> None:
        self.fault = fault
        self._random = Random() if random is None else random
        self._last = float("-inf")
        self._free = float("-inf")
        self.passed = 0
        self.dropped = 0
        self.ended = False
        self._latency = fault.get("latency")
        self._slicer = fault.get("slicer")
        self._bandwidth = fault.get("bandwidth")
        self._silent = fault.get("timeout") or fault.get("reset_peer")
        self._cuts = [
            (t, action)
            for t, action in (
                (fault.get("limit_data"), CLOSE),
                (fault.get("reset_after"), RESET),
            )
            if t is not None
        ]

    @property
    def holdsEnd(self) -> bool:
        """
        Whether the output never completes normally (C{timeout},
        C{reset_peer}): a response must not be finished.
        """
        return self._silent is not None

    def start(self, now: float) -> list[Step]:
        """
        The output starts: a C{timeout} closes after its timeout (0: never).
        """
        timeout = self.fault.get("timeout")
        if timeout is not None and timeout["timeout"] > 0:
            self.ended = True
            return [Step(now + timeout.seconds("timeout"), CLOSE, cause="timeout")]
        return []

    def delay(self, now: float) -> float:
        """
        When something written now that is not data (an HTTP response's
        head) goes out: after the latency, and after everything before it.
        """
        due = now + self._delay()
        due = max(due, self._last)
        self._last = due
        return due

    def closeAt(self, now: float) -> float:
        """
        When a close asked for now may happen, once the steps before it are
        done: after C{slow_close}'s delay.
        """
        slow = self.fault.get("slow_close")
        return max(now, self._last) + (0.0 if slow is None else slow.seconds("delay"))

    def write(self, now: float, data: bytes) -> list[Step]:
        """
        C{data} is written at C{now}: what to do, and when.
        """
        if not data:
            return []
        if self.ended or self.fault.get("timeout") is not None:
            self.dropped += len(data)
            return []
        peer = self.fault.get("reset_peer")
        if peer is not None:
            self.ended = True
            self.dropped += len(data)
            return [
                Step(
                    max(now + peer.seconds("timeout"), self._last),
                    RESET,
                    cause="reset_peer",
                )
            ]
        end: tuple[str, str] | None = None
        if self._cuts:
            toxic, action = min(
                self._cuts, key=lambda cut: cut[0]["bytes"] - self.passed
            )
            remaining = max(0, int(toxic["bytes"]) - self.passed)
            if len(data) >= remaining:
                self.dropped += len(data) - remaining
                data = data[:remaining]
                end = (action, toxic.kind)
                self.ended = True
        self.passed += len(data)
        start = now + self._delay()
        pieces = [(start, data)] if data else []
        if self._slicer is not None and data:
            pieces = self._slice(start, data, self._slicer)
        if self._bandwidth is not None:
            pieces = self._throttle(pieces, self._bandwidth)
        steps = []
        for due, piece in pieces:
            due = max(due, self._last)
            self._last = due
            steps.append(Step(due, SEND, piece))
        if end is not None:
            steps.append(Step(max(start, self._last), end[0], cause=end[1]))
        return steps

    def _delay(self) -> float:
        latency = self._latency
        if latency is None:
            return 0.0
        delay = latency.seconds("latency")
        jitter = latency.seconds("jitter")
        if jitter:
            delay += self._random.uniform(-jitter, jitter)
        return max(0.0, delay)

    def _slice(
        self, start: float, data: bytes, slicer: Toxic
    ) -> list[tuple[float, bytes]]:
        """
        Cut C{data} as toxiproxy's slicer does: halves, split again while a
        piece is larger than the average size by more than the variation,
        each cut moved by up to the variation; C{delay} apart.
        """
        average = int(slicer["average_size"])
        variation = int(slicer["size_variation"])
        step = slicer.seconds("delay")
        bounds: list[tuple[int, int]] = []
        todo = [(0, len(data))]
        while todo:
            low, high = todo.pop()
            if high - low - average <= variation:
                bounds.append((low, high))
                continue
            middle = low + (high - low) // 2
            if variation:
                middle += self._random.randrange(2 * variation) - variation
            todo.append((middle, high))
            todo.append((low, middle))
        return [
            (start + i * step, data[low:high]) for i, (low, high) in enumerate(bounds)
        ]

    def _throttle(
        self, pieces: list[tuple[float, bytes]], bandwidth: Toxic
    ) -> list[tuple[float, bytes]]:
        """
        Space C{pieces} out at the rate: each goes once the link has had
        the time to carry it, in pieces of at most L{BANDWIDTH_TICK}
        seconds' worth.
        """
        rate = bandwidth["rate"] * 1000
        size = max(1, int(rate * BANDWIDTH_TICK))
        out = []
        for due, data in pieces:
            free = max(due, self._free)
            for offset in range(0, len(data), size):
                chunk = data[offset : offset + size]
                free += len(chunk) / rate
                out.append((free, chunk))
            self._free = free
        return out
