# -*- test-case-name: tests.udp.test_protocol -*-
"""
The datagram echo of RFC 862 over UDP: each datagram comes back unchanged
to its sender, an empty one too, within the abuse limits of
L{echohub.udp._limits}.

Never more bytes are sent than were received: each answer is the datagram
received, whole, to the address it came from, and one datagram gets at
most one answer.

A dropped datagram is counted by reason in the metrics and logged through a
L{RateLimitedLog}: one line per reason per C{[server] warning_interval}
with a count of the rest, never one per datagram, so a flood does not
become a flood of log lines.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.error import MessageLengthError
from twisted.internet.protocol import DatagramProtocol
from twisted.logger import Logger

from echohub.ops import Metrics, RateLimitedLog
from echohub.udp._limits import DatagramLimits, Drop

_WHY = {
    Drop.TOO_LARGE: "over max_datagram ({limit} bytes)",
    Drop.LOW_PORT: "source port below min_source_port ({limit})",
    Drop.SOURCE_RATE: "source over source_rate ({limit:g}/s)",
    Drop.SOURCES: "max_sources ({limit}) busy sources already tracked",
    Drop.RATE: "over the overall rate ({limit:g}/s)",
    Drop.SEND_FAILED: "the answer could not be sent ({limit})",
}


class UDPEcho(DatagramProtocol):
    """
    Echo each datagram to its sender, on one listening socket.

    @ivar limits: the limits shared by every UDP listener.
    @ivar warnings: where drops are logged, shared by every UDP listener.
    """

    log = Logger()
    transport: Any

    def __init__(
        self,
        limits: DatagramLimits,
        warnings: RateLimitedLog | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        """
        @param warnings: where drops are logged; a private log, one line per
            reason per 10 seconds, by default.
        @param metrics: the process's metrics, or L{None} for none.
        """
        self.limits = limits
        self.warnings = (
            RateLimitedLog(self.log, 10.0, limits.clock)
            if warnings is None
            else warnings
        )
        self._counters: tuple[Any, Any, Any, Any] | None = None
        self._dropped: dict[str, Any] = {}
        if metrics is not None:
            self._counters = (
                metrics.datagramsReceived,
                metrics.received.labels("udp"),
                metrics.datagramsSent,
                metrics.sent.labels("udp"),
            )
            self._dropped = {
                reason: metrics.datagramsDropped.labels(reason) for reason in Drop.ALL
            }

    def datagramReceived(self, datagram: bytes, addr: Any) -> None:
        """
        Send C{datagram} back to C{addr}, unless a limit says not to.
        """
        size = len(datagram)
        counters = self._counters
        if counters is not None:
            counters[0].inc()
            counters[1].inc(size)
        host, port = addr[0], addr[1]
        reason = self.limits.check(size, host, port)
        if reason is not None:
            self._drop(reason, host, port)
            return
        try:
            self.transport.write(datagram, addr)
        except (OSError, MessageLengthError) as e:
            self._drop(Drop.SEND_FAILED, host, port, e)
            return
        if counters is not None:
            counters[2].inc()
            counters[3].inc(size)

    def _drop(self, reason: str, host: str, port: int, error: object = None) -> None:
        """
        Count a dropped datagram and log it, at most once per interval for
        each reason.
        """
        counter = self._dropped.get(reason)
        if counter is not None:
            counter.inc()
        self.warnings.warn(
            f"udp {reason}",
            "udp: dropped a datagram from {peer}: " + _WHY[reason],
            peer=f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
            reason=reason,
            limit=self.limits.limitOf.get(reason, error),
        )

    def stopProtocol(self) -> None:
        """
        The socket is closed: report the drops not logged yet.
        """
        self.warnings.stop()
