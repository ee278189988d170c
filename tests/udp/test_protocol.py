"""
Tests for L{echohub.udp._protocol}: the datagram echo over a fake datagram
transport, its metrics and its rate-limited drop log.
"""

from __future__ import annotations

import errno
from dataclasses import replace
from typing import Any

from twisted.internet.task import Clock
from twisted.logger import LogLevel, globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase

from echohub.config import UDPConfig
from echohub.ops import Metrics, RateLimitedLog
from echohub.udp._limits import DatagramLimits
from echohub.udp._protocol import UDPEcho

SOURCE = ("192.0.2.9", 40000)


class FakeDatagramTransport:
    """
    The part of a UDP port L{UDPEcho} uses: C{write(datagram, addr)},
    recording each datagram sent, or failing with C{error} when set.
    """

    def __init__(self) -> None:
        self.sent: list[tuple[bytes, Any]] = []
        self.error: Exception | None = None

    def write(self, datagram: bytes, addr: Any) -> None:
        if self.error is not None:
            raise self.error
        self.sent.append((datagram, addr))


class UDPEchoTests(SynchronousTestCase):
    """
    L{UDPEcho} sends each datagram back to its source, unless a limit drops
    it; it counts and logs what it does.
    """

    def setUp(self) -> None:
        self.events: list[dict[str, Any]] = []
        globalLogPublisher.addObserver(self.events.append)
        self.addCleanup(globalLogPublisher.removeObserver, self.events.append)
        self.clock = Clock()
        self.metrics = Metrics(processStats=False)

    def echo(
        self, config: UDPConfig | None = None
    ) -> tuple[UDPEcho, FakeDatagramTransport]:
        limits = DatagramLimits(config or UDPConfig(), self.clock)
        warnings = RateLimitedLog(UDPEcho.log, 10, self.clock)
        protocol = UDPEcho(limits, warnings, self.metrics)
        transport = FakeDatagramTransport()
        protocol.makeConnection(transport)  # type: ignore[arg-type]
        return protocol, transport

    def sample(self, name: str, **labels: str) -> float:
        return self.metrics.registry.get_sample_value(name, labels) or 0.0

    def warnings(self) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("log_level") == LogLevel.warn]

    def test_datagramEchoedToItsSender(self) -> None:
        """
        Each datagram comes back unchanged to the address it came from, an
        empty one and binary ones too, each counted in and out.
        """
        protocol, transport = self.echo()
        for datagram in (b"hello", b"", bytes(range(256))):
            protocol.datagramReceived(datagram, SOURCE)
        self.assertEqual(
            transport.sent,
            [(b"hello", SOURCE), (b"", SOURCE), (bytes(range(256)), SOURCE)],
        )
        self.assertEqual(self.sample("echohub_udp_received_datagrams_total"), 3)
        self.assertEqual(self.sample("echohub_udp_sent_datagrams_total"), 3)
        self.assertEqual(
            self.sample("echohub_received_bytes_total", service="udp"), 261
        )
        self.assertEqual(self.sample("echohub_sent_bytes_total", service="udp"), 261)

    def test_ipv6SourceAnswered(self) -> None:
        """
        An IPv6 source (Twisted gives C{(host, port)}) is answered the same.
        """
        protocol, transport = self.echo()
        protocol.datagramReceived(b"six", ("2001:db8::1", 40000))
        self.assertEqual(transport.sent, [(b"six", ("2001:db8::1", 40000))])

    def test_dropsCountedByReason(self) -> None:
        """
        Each limit's drops are counted under its reason and get no answer.
        """
        protocol, transport = self.echo(
            replace(UDPConfig(), max_datagram=10, source_burst=1, source_rate=1)
        )
        protocol.datagramReceived(b"x" * 11, SOURCE)
        protocol.datagramReceived(b"x", ("192.0.2.9", 19))
        protocol.datagramReceived(b"ok", SOURCE)
        protocol.datagramReceived(b"again", SOURCE)
        self.assertEqual(transport.sent, [(b"ok", SOURCE)])
        dropped = "echohub_udp_dropped_datagrams_total"
        self.assertEqual(self.sample(dropped, reason="too_large"), 1)
        self.assertEqual(self.sample(dropped, reason="low_port"), 1)
        self.assertEqual(self.sample(dropped, reason="source_rate"), 1)

    def test_neverMoreBytesOutThanIn(self) -> None:
        """
        Whatever mix of datagrams arrives, the bytes sent never exceed the
        bytes received, and each datagram gets at most one answer.
        """
        protocol, transport = self.echo(
            replace(UDPConfig(), max_datagram=100, source_burst=5, rate=50, burst=20)
        )
        for i in range(500):
            size = (i * 37) % 150
            protocol.datagramReceived(b"y" * size, (f"192.0.2.{i % 7}", 1000 + i))
            self.clock.advance(0.001)
        received = self.sample("echohub_received_bytes_total", service="udp")
        sent = self.sample("echohub_sent_bytes_total", service="udp")
        self.assertEqual(sent, sum(len(d) for d, _ in transport.sent))
        self.assertLess(0, sent)
        self.assertLess(sent, received)
        self.assertLessEqual(len(transport.sent), 500)

    def test_dropsLoggedOncePerInterval(self) -> None:
        """
        A flood of drops is one warning line per reason per interval, the
        next one carrying the count of those left out; the rest is silent.
        """
        protocol, _ = self.echo(replace(UDPConfig(), source_burst=1))
        for _ in range(1000):
            protocol.datagramReceived(b"z", SOURCE)
        [first] = self.warnings()
        self.assertIn("source_rate", first["log_format"])
        self.assertEqual(first["peer"], "192.0.2.9:40000")
        self.clock.advance(10)
        protocol.datagramReceived(b"z", ("192.0.2.9", 53))
        protocol.datagramReceived(b"z", SOURCE)
        protocol.datagramReceived(b"z", SOURCE)
        self.assertEqual(len(self.warnings()), 3)
        self.assertEqual(self.warnings()[-1]["suppressed"], 998)

    def test_stopReportsTheRest(self) -> None:
        """
        When the socket closes, the drops not yet reported are logged with
        their count.
        """
        protocol, _ = self.echo(replace(UDPConfig(), min_source_port=2000))
        for _ in range(5):
            protocol.datagramReceived(b"z", ("192.0.2.9", 1500))
        protocol.doStop()
        self.assertEqual(self.warnings()[-1]["suppressed"], 4)

    def test_sendFailureIsADrop(self) -> None:
        """
        An answer the kernel refuses (a full send buffer, a firewall) is
        counted as C{send_failed}, not raised into the reactor.
        """
        protocol, transport = self.echo()
        transport.error = OSError(errno.EAGAIN, "Resource temporarily unavailable")
        protocol.datagramReceived(b"lost", SOURCE)
        self.assertEqual(
            self.sample("echohub_udp_dropped_datagrams_total", reason="send_failed"), 1
        )
        self.assertEqual(self.sample("echohub_udp_sent_datagrams_total"), 0)

    def test_withoutMetrics(self) -> None:
        """
        Without metrics the echo still answers and drops.
        """
        limits = DatagramLimits(UDPConfig(), self.clock)
        protocol = UDPEcho(limits)
        transport = FakeDatagramTransport()
        protocol.makeConnection(transport)  # type: ignore[arg-type]
        protocol.datagramReceived(b"a", SOURCE)
        protocol.datagramReceived(b"a", ("192.0.2.9", 7))
        self.assertEqual(transport.sent, [(b"a", SOURCE)])
