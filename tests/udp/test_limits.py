"""
Tests for L{echohub.udp._limits}: the UDP echo's abuse limits, on a
L{task.Clock}.
"""

from __future__ import annotations

from dataclasses import replace

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from echohub.config import UDPConfig
from echohub.udp._limits import DatagramLimits, Drop, SourceBuckets, TokenBucket

# Every limit off but the one a test looks at.
OPEN = UDPConfig(min_source_port=0, source_rate=0, rate=0, max_datagram=65535)


class TokenBucketTests(SynchronousTestCase):
    """
    L{TokenBucket} allows C{burst} at once and C{rate} per second after.
    """

    def test_burstThenRate(self) -> None:
        """
        A full bucket allows C{burst} events at once, then one more per
        C{1/rate} seconds, and never stores more than C{burst}.
        """
        bucket = TokenBucket(rate=10, burst=3, now=0)
        self.assertEqual([bucket.take(0) for _ in range(4)], [True] * 3 + [False])
        self.assertFalse(bucket.take(0.05))
        self.assertTrue(bucket.take(0.1))
        self.assertFalse(bucket.take(0.1))
        self.assertEqual([bucket.take(100) for _ in range(4)], [True] * 3 + [False])


class SourceBucketsTests(SynchronousTestCase):
    """
    L{SourceBuckets} limits each source alone, in a table of bounded size.
    """

    def test_eachSourceHasItsOwnBucket(self) -> None:
        """
        One source over its burst is refused while another is still
        allowed.
        """
        buckets = SourceBuckets(rate=1, burst=2, maxSources=10)
        self.assertEqual(
            [buckets.take("192.0.2.1", 0) for _ in range(3)],
            [None, None, Drop.SOURCE_RATE],
        )
        self.assertIsNone(buckets.take("192.0.2.2", 0))
        self.assertIsNone(buckets.take("192.0.2.1", 1))

    def test_tableFullRefusesNewSources(self) -> None:
        """
        With C{maxSources} busy sources, a new source is refused
        (L{Drop.SOURCES}) and the busy ones keep their buckets.
        """
        buckets = SourceBuckets(rate=1, burst=2, maxSources=2)
        buckets.take("a", 0)
        buckets.take("b", 0)
        self.assertEqual(buckets.take("c", 0.5), Drop.SOURCES)
        self.assertEqual(len(buckets), 2)
        self.assertIsNone(buckets.take("a", 0.5))
        self.assertEqual(buckets.take("a", 0.5), Drop.SOURCE_RATE)

    def test_idleSourcesForgotten(self) -> None:
        """
        A source idle for C{burst/rate} seconds (its bucket full again) is
        forgotten to make room, the most recently used ones are kept, and
        the table never grows past C{maxSources}.
        """
        buckets = SourceBuckets(rate=10, burst=5, maxSources=3)
        buckets.take("old", 0)
        buckets.take("b", 0.4)
        buckets.take("c", 0.4)
        self.assertEqual(buckets.take("new", 0.45), Drop.SOURCES)
        self.assertIsNone(buckets.take("new", 0.5))
        self.assertEqual(len(buckets), 3)
        self.assertEqual(buckets.take("d", 0.6), Drop.SOURCES)
        for i in range(1000):
            buckets.take(f"spoofed-{i}", 100 + i)
        self.assertLessEqual(len(buckets), 3)

    def test_useKeepsASourceRemembered(self) -> None:
        """
        The table forgets by last use, not first: a source still sending is
        not forgotten.
        """
        buckets = SourceBuckets(rate=10, burst=5, maxSources=2)
        buckets.take("steady", 0)
        buckets.take("other", 0)
        for tick in range(1, 5):
            buckets.take("steady", tick * 0.2)
        self.assertIsNone(buckets.take("new", 0.8))
        self.assertEqual(
            [buckets.take("steady", 0.8) for _ in range(6)][-1], Drop.SOURCE_RATE
        )


class DatagramLimitsTests(SynchronousTestCase):
    """
    L{DatagramLimits} applies each C{[udp]} limit, each configurable and on
    by default.
    """

    def test_defaultsAreOn(self) -> None:
        """
        Out of the box: 1472 bytes, source ports from 1024, 200/s burst 50
        per source, a global rate.
        """
        config = UDPConfig()
        self.assertGreaterEqual(config.max_datagram, 1472)
        self.assertEqual(config.min_source_port, 1024)
        self.assertEqual((config.source_rate, config.source_burst), (200, 50))
        self.assertGreater(config.rate, 0)
        limits = DatagramLimits(config, Clock())
        self.assertIsNotNone(limits.sources)
        self.assertIsNotNone(limits.overall)

    def test_sizeLimit(self) -> None:
        """
        A datagram of C{max_datagram} bytes is answered, one byte more is
        dropped as L{Drop.TOO_LARGE}; an empty one is answered.
        """
        limits = DatagramLimits(replace(OPEN, max_datagram=1472), Clock())
        self.assertIsNone(limits.check(1472, "192.0.2.1", 5000))
        self.assertIsNone(limits.check(0, "192.0.2.1", 5000))
        self.assertEqual(limits.check(1473, "192.0.2.1", 5000), Drop.TOO_LARGE)

    def test_lowSourcePortRefused(self) -> None:
        """
        Source ports below C{min_source_port} (echo's 7, chargen's 19) get
        no answer; C{min_source_port = 0} answers them.
        """
        limits = DatagramLimits(replace(OPEN, min_source_port=1024), Clock())
        self.assertEqual(limits.check(10, "192.0.2.1", 7), Drop.LOW_PORT)
        self.assertEqual(limits.check(10, "192.0.2.1", 1023), Drop.LOW_PORT)
        self.assertIsNone(limits.check(10, "192.0.2.1", 1024))
        self.assertIsNone(DatagramLimits(OPEN, Clock()).check(10, "192.0.2.1", 19))

    def test_perSourceRate(self) -> None:
        """
        One source gets C{source_burst} answers at once, then
        C{source_rate} per second.
        """
        clock = Clock()
        limits = DatagramLimits(replace(OPEN, source_rate=200, source_burst=50), clock)
        results = [limits.check(1, "192.0.2.1", 5000) for _ in range(60)]
        self.assertEqual(results.count(None), 50)
        self.assertEqual(results[-1], Drop.SOURCE_RATE)
        clock.advance(0.05)
        results = [limits.check(1, "192.0.2.1", 5000) for _ in range(20)]
        self.assertEqual(results.count(None), 10)

    def test_globalRate(self) -> None:
        """
        Every source together gets C{burst} answers at once, then C{rate}
        per second.
        """
        clock = Clock()
        limits = DatagramLimits(replace(OPEN, rate=100, burst=10), clock)
        results = [limits.check(1, f"192.0.2.{i}", 5000) for i in range(15)]
        self.assertEqual(results.count(None), 10)
        self.assertEqual(results[-1], Drop.RATE)
        clock.advance(0.1)
        self.assertEqual(
            [limits.check(1, "198.51.100.1", 5000) for _ in range(11)].count(None), 10
        )

    def test_sourceOverItsRateSpendsNoGlobalTokens(self) -> None:
        """
        A source refused by its own bucket does not take from the global
        one: another source is still answered.
        """
        limits = DatagramLimits(
            replace(OPEN, source_rate=1, source_burst=1, rate=1, burst=2), Clock()
        )
        self.assertIsNone(limits.check(1, "192.0.2.1", 5000))
        for _ in range(100):
            self.assertEqual(limits.check(1, "192.0.2.1", 5000), Drop.SOURCE_RATE)
        self.assertIsNone(limits.check(1, "192.0.2.2", 5000))

    def test_zeroRatesDisable(self) -> None:
        """
        C{source_rate = 0} and C{rate = 0} turn those limits off.
        """
        limits = DatagramLimits(OPEN, Clock())
        self.assertIsNone(limits.sources)
        self.assertIsNone(limits.overall)
        self.assertEqual(
            {limits.check(1, "192.0.2.1", 5000) for _ in range(10000)}, {None}
        )
