# -*- test-case-name: tests.ops.test_access -*-
"""
Per-service connection accounting: caps, metrics, the access log and
rate-limited warnings, in one object the protocols call.

A protocol calls L{ServiceAccess.admit} from C{connectionMade} (behind a
PROXY header that is when the real client address is known) and, if
admitted, L{ServiceAccess.closed} from C{connectionLost} with what the
connection did; that is the connection's access log line.  Refusals and
rejections are counted by reason and logged through a L{RateLimitedLog}, so
a flood of them does not flood the log.

Byte and line (message) counts are batched.  A connection that provides
L{ICounted} only adds to its own integers (C{bytesIn}, C{bytesOut},
C{echoed}): no call, no lock, nothing shared per read.  The service's
access tracks it from L{ServiceAccess.add} to L{ServiceAccess.remove}, and
every L{FLUSH_INTERVAL} seconds while anything is counted (and whenever
C{/metrics} is read, see L{echohub.ops._metrics}) adds to the Prometheus
counters (each C{inc} takes a lock) the growth of the totals: the closed
connections' counts plus the open ones', with nothing kept per connection.
Code without such a connection (an HTTP request) counts with
L{ServiceAccess.transferred} and L{ServiceAccess.echoed}, flushed the same
way.  So C{/metrics} is exact when read, and behind by at most a second in
a group of workers.
"""

from __future__ import annotations

import time
from typing import Any

from twisted.internet.interfaces import IAddress, IDelayedCall, IReactorTime
from twisted.logger import Logger, LogLevel
from zope.interface import Attribute, Interface

from echohub._net import cancelCall, formatAddress, peerHost
from echohub.ops._caps import ConnectionCaps
from echohub.ops._linger import Lingering
from echohub.ops._logs import RateLimitedLog
from echohub.ops._metrics import Metrics

FLUSH_INTERVAL = 1.0
"""
At most how many seconds the byte and line counts of L{ServiceAccess} wait
before they reach the Prometheus counters.
"""


class ICounted(Interface):
    """
    A connection that counts its own traffic, for its service's metrics
    (see L{ServiceAccess.add}).
    """

    bytesIn = Attribute("Bytes received from the client so far.")
    bytesOut = Attribute("Bytes sent to the client so far.")
    echoed = Attribute("Lines (line echo) or messages echoed so far.")


def logAccess(
    log: Logger,
    service: str,
    peer: str,
    bytesIn: int,
    bytesOut: int,
    duration: float,
    request: str = "",
    detail: str = "",
    **fields: object,
) -> None:
    """
    Write one access log line, the one shape every service's share:
    C{SERVICE access: PEER[ REQUEST] N bytes in, M bytes out, D s[DETAIL]}.

    The line is formatted here, once, with an f-string, and handed to the
    logger as C{{log_text}} (the convention of Twisted's own legacy-log
    bridge, which L{echohub.ops._logs} writes without parsing again):
    parsing a format string of seven fields for every HTTP request cost
    about a third of the access log.  The fields stay in the event, for the
    JSON log.

    @param peer: the client's address, as L{formatAddress} shows it.
    @param request: what was asked, e.g. C{GET /echo 200}; empty for a
        connection-level service.
    @param detail: appended as is, e.g. C{, client closed}.
    @param fields: more fields for the event (C{method}, C{reason}, ...).
    """
    request = f" {request}" if request else ""
    # The event log.info would emit, handed straight to the logger's
    # observer (the event keys are twisted.logger's documented ones):
    # Logger.emit's own checks (it sorts the log levels for every event)
    # cost a tenth of a small HTTP request.
    log.observer(
        {
            "log_format": "{log_text}",
            "log_text": f"{service} access: {peer}{request} {bytesIn} bytes in,"
            f" {bytesOut} bytes out, {duration:.3f} s{detail}",
            "log_level": LogLevel.info,
            "log_namespace": log.namespace,
            "log_source": log.source,
            "log_logger": log,
            "log_time": time.time(),
            "service": service,
            "peer": peer,
            "bytes_in": bytesIn,
            "bytes_out": bytesOut,
            "duration": duration,
            **fields,
        }
    )


class ServiceAccess:
    """
    Caps, metrics and logs of one service (C{line}, C{web}).

    @ivar service: the service name, as in metrics labels and log lines.
    @ivar caps: the service's connection caps.
    @ivar metrics: the process's metrics, or L{None} for none.
    @ivar warnings: where refusals are logged, at most once per interval.
    @ivar lingering: the bounds of the service's lingering closes, which
        its protocols start with C{access.lingering.close(transport, clock)}.
    @ivar _counted: the open connections whose counts L{flush} reads.
    @ivar _settled: bytes received, sent and messages echoed by connections
        that closed, and counted with L{transferred} and L{echoed}.
    @ivar _reported: the totals already added to the counters.
    @ivar _flushCall: the pending L{flush}, while some count waits for it.
    """

    log = Logger()

    def __init__(
        self,
        service: str,
        caps: ConnectionCaps,
        clock: IReactorTime,
        metrics: Metrics | None = None,
        warningInterval: float = 10.0,
        lingering: Lingering | None = None,
    ) -> None:
        self.service = service
        self.lingering = Lingering() if lingering is None else lingering
        self.caps = caps
        self.clock = clock
        self.metrics = metrics
        self.warnings = RateLimitedLog(self.log, warningInterval, clock)
        self._counters: tuple[Any, Any, Any] | None = None
        self._settled = [0, 0, 0]
        self._reported = (0, 0, 0)
        self._flushCall: IDelayedCall | None = None
        self._counted: set[ICounted] = set()
        if metrics is not None:
            self._counters = (
                metrics.received.labels(service),
                metrics.sent.labels(service),
                metrics.linesEchoed
                if service == "line"
                else metrics.messagesEchoed.labels(service),
            )

    def admit(self, peer: IAddress, listener: str) -> str | None:
        """
        Admit a new connection from C{peer} on C{listener}, or say why not.

        A refusal is counted and logged (rate-limited); the caller answers
        the client in its protocol's own way and closes.

        @return: L{None} when admitted, else the refusal reason
            (L{echohub.ops._caps.CAP} or L{echohub.ops._caps.PEER_CAP}).
        """
        reason = self.caps.admit(peerHost(peer))
        if reason is None:
            if self.metrics is not None:
                self.metrics.connections.labels(self.service, listener).inc()
                self.metrics.connectionsOpen.labels(self.service, listener).inc()
            return None
        self.rejected(
            reason,
            "{service}: refused a connection from {peer}: {reason} reached"
            " ({open} open, {fromPeer} from this host)",
            peer,
            open=len(self.caps),
            fromPeer=self.caps.openFrom(peerHost(peer)),
        )
        return reason

    def countRejection(self, reason: str) -> None:
        """
        Count a rejection of C{reason} that another layer logged (a failed
        TLS handshake, which the TLS layer logs once).
        """
        if self.metrics is not None:
            self.metrics.rejections.labels(self.service, reason).inc()

    def rejected(
        self, reason: str, format: str, peer: IAddress, **kwargs: object
    ) -> None:
        """
        Count a rejection of C{reason} and log it, at most once per interval
        for each reason.

        @param format: the log line; C{{service}}, C{{reason}} and C{{peer}}
            are filled in, C{kwargs} give the rest.
        """
        self.countRejection(reason)
        self.warnings.warn(
            f"{self.service} {reason}",
            format,
            service=self.service,
            reason=reason,
            peer=formatAddress(peer),
            **kwargs,
        )

    def add(self, connection: ICounted) -> None:
        """
        Count C{connection}'s traffic in the metrics until L{remove}: what
        it counts reaches them within L{FLUSH_INTERVAL} seconds.
        """
        if self._counters is not None:
            self._counted.add(connection)
            self._scheduleFlush()

    def remove(self, connection: ICounted) -> None:
        """
        C{connection} closed: keep what it counted for the next flush, and
        stop tracking it.
        """
        if connection in self._counted:
            self._counted.discard(connection)
            settled = self._settled
            settled[0] += connection.bytesIn
            settled[1] += connection.bytesOut
            settled[2] += connection.echoed
            self._scheduleFlush()

    def transferred(self, received: int, sent: int) -> None:
        """
        Count bytes received from and sent to clients; they reach the
        metrics within L{FLUSH_INTERVAL} seconds.
        """
        if self._counters is not None:
            self._settled[0] += received
            self._settled[1] += sent
            self._scheduleFlush()

    def echoed(self, count: int = 1) -> None:
        """
        Count lines (line service) or messages (others) echoed; they reach
        the metrics within L{FLUSH_INTERVAL} seconds.
        """
        if self._counters is not None:
            self._settled[2] += count
            self._scheduleFlush()

    def _scheduleFlush(self) -> None:
        if self._flushCall is None:
            self._flushCall = self.clock.callLater(FLUSH_INTERVAL, self.flush)

    def flush(self) -> None:
        """
        Add everything counted since the last flush to the metrics: the
        totals of the closed connections and of the open ones, less what
        was added before.  While connections are tracked, flush again in
        L{FLUSH_INTERVAL} seconds.
        """
        cancelCall(self._flushCall)
        self._flushCall = None
        if self._counters is None:
            return
        received, sent, echoed = self._settled
        for connection in self._counted:
            received += connection.bytesIn
            sent += connection.bytesOut
            echoed += connection.echoed
        reported = self._reported
        self._reported = (received, sent, echoed)
        for counter, total, before in zip(
            self._counters, self._reported, reported, strict=True
        ):
            if total > before:
                counter.inc(total - before)
        if self._counted:
            self._scheduleFlush()

    def release(self, peer: IAddress, listener: str) -> None:
        """
        An admitted connection closed: release its place under the caps.
        """
        self.caps.release(peerHost(peer))
        if self.metrics is not None:
            self.metrics.connectionsOpen.labels(self.service, listener).dec()

    def closed(
        self,
        peer: IAddress,
        listener: str,
        started: float,
        bytesIn: int,
        bytesOut: int,
        reason: str,
    ) -> None:
        """
        An admitted connection closed: release its cap and write its access
        log line.

        @param started: when it was admitted, by our clock.
        @param reason: why it closed, e.g. C{client closed}, C{idle timeout}.
        """
        self.release(peer, listener)
        logAccess(
            self.log,
            self.service,
            formatAddress(peer),
            bytesIn,
            bytesOut,
            self.clock.seconds() - started,
            detail=f", {reason}",
            listener=listener,
            reason=reason,
        )
