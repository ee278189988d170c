# -*- test-case-name: tests.udp.test_limits -*-
"""
The UDP echo's abuse limits: which datagrams are answered.

An open UDP echo is a classic reflector: a spoofed source address makes it
send to a victim, and two echo (or echo and chargen) servers pointed at each
other loop for ever.  Each datagram is therefore checked, cheapest test
first, against:

    - C{[udp] max_datagram}: a larger datagram is dropped (L{Drop.TOO_LARGE}).
      The receive buffer is one byte larger than the limit, so a datagram the
      kernel truncated is too large too, never echoed truncated.
    - C{[udp] min_source_port}: no answer to a privileged source port
      (L{Drop.LOW_PORT}), where other servers' echo (7), chargen (19),
      DNS (53) or NTP (123) would answer back.
    - C{[udp] source_rate} and C{source_burst}: a token bucket per source
      address (L{Drop.SOURCE_RATE}).  The table of buckets is bounded: a
      source idle long enough for its bucket to be full again is forgotten
      (forgetting it changes nothing), and when C{max_sources} sources are
      busy at once a datagram from yet another is dropped
      (L{Drop.SOURCES}) rather than evicting a busy source, which would
      give a spoofer who rotates addresses a fresh burst each time.
    - C{[udp] rate} and C{burst}: one token bucket for every source together
      (L{Drop.RATE}), checked after the per-source one so that a source over
      its own rate does not spend the tokens of everyone else.

Every limit runs on the clock given, so tests drive it with L{task.Clock}.
"""

from __future__ import annotations

from collections import OrderedDict

from twisted.internet.interfaces import IReactorTime

from echohub.config import UDPConfig


class Drop:
    """
    Why a datagram was not answered: the C{reason} label values of
    C{echohub_udp_dropped_datagrams_total}.
    """

    TOO_LARGE = "too_large"
    LOW_PORT = "low_port"
    SOURCE_RATE = "source_rate"
    SOURCES = "sources"
    RATE = "rate"
    SEND_FAILED = "send_failed"

    ALL = (TOO_LARGE, LOW_PORT, SOURCE_RATE, SOURCES, RATE, SEND_FAILED)


class TokenBucket:
    """
    Allow C{rate} events per second on average and C{burst} at once.

    The bucket holds up to C{burst} tokens, refills at C{rate} per second,
    and each allowed event takes one.  It starts full.
    """

    __slots__ = ("rate", "burst", "_tokens", "_last")

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = float(burst)
        self._last = now

    def take(self, now: float) -> bool:
        """
        Take a token at time C{now}, if there is one.

        @return: whether the event is allowed.
        """
        tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now
        if tokens < 1:
            self._tokens = tokens
            return False
        self._tokens = tokens - 1
        return True


class SourceBuckets:
    """
    A token bucket per source address, in a table of bounded size.

    The table is ordered by last use, so the sources idle longest come
    first and forgetting the ones whose buckets are full again costs
    constant time per source forgotten.

    @ivar maxSources: the most sources tracked at once.
    """

    def __init__(self, rate: float, burst: int, maxSources: int) -> None:
        self.rate = rate
        self.burst = burst
        self.maxSources = maxSources
        self._refill = burst / rate
        # host -> [tokens, time of last use]
        self._sources: OrderedDict[str, list[float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._sources)

    def take(self, host: str, now: float) -> str | None:
        """
        Take a token from C{host}'s bucket at time C{now}.

        @return: L{None} if allowed, else L{Drop.SOURCE_RATE} (the source is
            over its rate) or L{Drop.SOURCES} (a new source, and the table is
            full of busy ones).
        """
        entry = self._sources.get(host)
        if entry is None:
            self._forgetIdle(now)
            if len(self._sources) >= self.maxSources:
                return Drop.SOURCES
            self._sources[host] = [self.burst - 1.0, now]
            return None
        self._sources.move_to_end(host)
        tokens = min(self.burst, entry[0] + (now - entry[1]) * self.rate)
        entry[1] = now
        if tokens < 1:
            entry[0] = tokens
            return Drop.SOURCE_RATE
        entry[0] = tokens - 1
        return None

    def _forgetIdle(self, now: float) -> None:
        """
        Forget the sources whose buckets are full again: nothing would tell
        them from a source never seen.
        """
        sources = self._sources
        horizon = now - self._refill
        while sources:
            host = next(iter(sources))
            if sources[host][1] > horizon:
                return
            del sources[host]


class DatagramLimits:
    """
    The limits of C{[udp]}, shared by every UDP listener of a process: the
    global rate is one rate, whichever socket a datagram came in on.
    """

    def __init__(self, config: UDPConfig, clock: IReactorTime) -> None:
        self.clock = clock
        self.maxDatagram = config.max_datagram
        self.minSourcePort = config.min_source_port
        now = clock.seconds()
        self.sources: SourceBuckets | None = None
        if config.source_rate:
            self.sources = SourceBuckets(
                config.source_rate, config.source_burst, config.max_sources
            )
        self.overall: TokenBucket | None = None
        if config.rate:
            self.overall = TokenBucket(config.rate, config.burst, now)
        self.limitOf: dict[str, float] = {
            Drop.TOO_LARGE: config.max_datagram,
            Drop.LOW_PORT: config.min_source_port,
            Drop.SOURCE_RATE: config.source_rate,
            Drop.SOURCES: config.max_sources,
            Drop.RATE: config.rate,
        }
        """
        For each L{Drop} reason a limit causes, that limit's value, for the
        log line.
        """

    def check(self, size: int, host: str, port: int) -> str | None:
        """
        Whether to answer a datagram of C{size} bytes from C{(host, port)}.

        @return: L{None} to answer, else the L{Drop} reason.
        """
        if size > self.maxDatagram:
            return Drop.TOO_LARGE
        if port < self.minSourcePort:
            return Drop.LOW_PORT
        now = self.clock.seconds()
        if self.sources is not None:
            refused = self.sources.take(host, now)
            if refused is not None:
                return refused
        if self.overall is not None and not self.overall.take(now):
            return Drop.RATE
        return None
