"""
Tests for L{echohub.faults._schedule}: what goes out when, with no I/O.
"""

from __future__ import annotations

from random import Random

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from echohub.faults import CLOSE, RESET, SEND, Schedule, parseFault

FAULTS = st.sampled_from(
    [
        "latency=20,jitter=15",
        "slicer=7,size_variation=3,delay=100",
        "bandwidth=1",
        "limit_data=50",
        "reset_after=33",
        "latency=5,jitter=5,slicer=3,bandwidth=2,limit_data=70",
        "timeout=10",
        "reset_peer=5",
    ]
)


class ScheduleTests(SynchronousTestCase):
    """
    The schedule sends a prefix of what it was given, in order, never
    earlier than written, never out of order in time; each toxic shapes it
    as toxiproxy's does.
    """

    @settings(max_examples=200, deadline=None)
    @given(
        FAULTS,
        st.lists(st.tuples(st.floats(0, 0.1), st.binary(max_size=200)), max_size=12),
        st.integers(0, 2**32),
    )
    def test_prefixInOrder(
        self, text: str, writes: list[tuple[float, bytes]], seed: int
    ) -> None:
        """
        Whatever the fault, the bytes sent are a prefix of the bytes
        written, every step is due no earlier than its write nor than the
        step before it, and at most one step ends the output, last.
        """
        schedule = Schedule(parseFault(text), Random(seed))
        now = 0.0
        steps = schedule.start(now)
        written = b""
        for gap, data in writes:
            now += gap
            new = schedule.write(now, data)
            for step in new:
                self.assertGreaterEqual(step.due, now)
            steps += new
            written += data
        sent = b"".join(s.data for s in steps if s.action == SEND)
        self.assertEqual(sent, written[: len(sent)])
        self.assertEqual(schedule.passed, len(sent))
        self.assertEqual(schedule.passed + schedule.dropped, len(written))
        sends = [s.due for s in steps if s.action == SEND]
        self.assertEqual(sends, sorted(sends))
        ends = [i for i, s in enumerate(steps) if s.action != SEND]
        self.assertLessEqual(len(ends), 1)
        if ends and text != "timeout=10":
            self.assertEqual(ends[0], len(steps) - 1)

    def test_latency(self) -> None:
        """
        Each write waits latency +/- jitter, in order.
        """
        schedule = Schedule(parseFault("latency=100,jitter=20"), Random(1))
        steps = schedule.write(1.0, b"a") + schedule.write(1.0, b"b")
        for step in steps:
            self.assertTrue(1.08 <= step.due <= 1.12, step)
        self.assertLessEqual(steps[0].due, steps[1].due)

    def test_bandwidth(self) -> None:
        """
        At 10 KB/s, 25 000 bytes take 2.5 s, in pieces of 100 ms (1000
        bytes), each due once the link has carried it.
        """
        steps = Schedule(parseFault("bandwidth=10")).write(0.0, b"x" * 25000)
        self.assertEqual({len(s.data) for s in steps}, {1000})
        self.assertAlmostEqual(steps[-1].due, 2.5)
        self.assertAlmostEqual(steps[0].due, 0.1)

    def test_slicer(self) -> None:
        """
        The slicer cuts as toxiproxy's does, halving while a piece is over
        average_size + size_variation (so no piece is larger, and most are
        about the average), delay apart.
        """
        steps = Schedule(
            parseFault("slicer=10,size_variation=2,delay=1000"), Random(3)
        ).write(0.0, b"y" * 1000)
        sizes = [len(s.data) for s in steps]
        self.assertEqual(sum(sizes), 1000)
        self.assertTrue(all(1 <= n <= 12 for n in sizes), sizes)
        self.assertTrue(6 <= sum(sizes) / len(sizes) <= 10, sizes)
        self.assertEqual([s.due for s in steps], [i * 0.001 for i in range(len(steps))])

    def test_limitData(self) -> None:
        """
        limit_data lets its bytes through, then closes; later writes are
        dropped.
        """
        schedule = Schedule(parseFault("limit_data=5"))
        steps = schedule.write(0.0, b"abc") + schedule.write(0.0, b"defgh")
        self.assertEqual(
            [(s.action, s.data) for s in steps],
            [(SEND, b"abc"), (SEND, b"de"), (CLOSE, b"")],
        )
        self.assertEqual(steps[-1].cause, "limit_data")
        self.assertEqual(schedule.write(0.0, b"more"), [])
        self.assertEqual(schedule.dropped, 7)

    def test_resetAfterBeforeLimit(self) -> None:
        """
        With both cuts, the nearer one wins.
        """
        steps = Schedule(parseFault("limit_data=100,reset_after=10")).write(
            0.0, b"z" * 50
        )
        self.assertEqual([s.action for s in steps], [SEND, RESET])
        self.assertEqual(len(steps[0].data), 10)

    def test_closeWithoutData(self) -> None:
        """
        limit_data=0 closes at the first write without sending a byte.
        """
        steps = Schedule(parseFault("limit_data=0")).write(0.0, b"abc")
        self.assertEqual([s.action for s in steps], [CLOSE])

    def test_timeout(self) -> None:
        """
        timeout drops everything and closes after its timeout; 0 never
        closes.
        """
        schedule = Schedule(parseFault("timeout=250"))
        self.assertEqual(
            [(s.due, s.action) for s in schedule.start(1.0)], [(1.25, CLOSE)]
        )
        self.assertEqual(schedule.write(1.1, b"lost"), [])
        self.assertTrue(schedule.holdsEnd)
        self.assertEqual(Schedule(parseFault("timeout")).start(0.0), [])

    def test_resetPeer(self) -> None:
        """
        reset_peer drops the first write and resets timeout ms after it.
        """
        schedule = Schedule(parseFault("reset_peer=40"))
        steps = schedule.write(2.0, b"abc")
        self.assertEqual([(s.due, s.action) for s in steps], [(2.04, RESET)])
        self.assertEqual(schedule.passed, 0)

    def test_slowClose(self) -> None:
        """
        A close waits for the last step, then slow_close's delay.
        """
        schedule = Schedule(parseFault("latency=100,slow_close=300"))
        schedule.write(0.0, b"a")
        self.assertAlmostEqual(schedule.closeAt(0.05), 0.4)
        self.assertAlmostEqual(Schedule(parseFault("latency=1")).closeAt(2.0), 2.0)
