# -*- test-case-name: tests.ops.test_metrics -*-
"""
echohub's Prometheus metrics, exposed by C{prometheus_client}.

Each process owns one L{Metrics}, with its own registry rather than
C{prometheus_client}'s global one, so tests (and several services in one
process) do not share counters.  The exposition is C{prometheus_client}'s own
Twisted C{MetricsResource}, served at C{/metrics} on the web site or on the
listeners of C{[server] metrics_listen}.

Names (counters carry C{_total} in the exposition):

    - C{echohub_connections_open{service,listener}},
      C{echohub_connections_total{service,listener}}: connections admitted.
    - C{echohub_received_bytes_total{service}},
      C{echohub_sent_bytes_total{service}}.
    - C{echohub_lines_echoed_total}; C{echohub_messages_echoed_total{service}}
      (HTTP echoes, WebSocket messages).
    - C{echohub_http_requests_total{code}}: HTTP responses by status, both
      versions, stream handlers (gRPC, WebSocket over HTTP/2) included.
    - C{echohub_websocket_sessions_total{http,compression}}: WebSocket
      sessions opened, by the HTTP version that carried the handshake
      (C{HTTP/1.1}, C{HTTP/2}) and the extension agreed
      (C{permessage-deflate}, C{none}).
    - C{echohub_grpc_calls_total{method,code}}: gRPC calls ended, by method
      (C{package.Service/Method}; every method the server does not offer
      is C{unknown}) and status code name (C{OK}, C{CANCELLED}...);
      C{echohub_grpc_received_messages_total{method}},
      C{echohub_grpc_sent_messages_total{method}}.
    - C{echohub_rejections_total{service,reason}}: C{too_long}, C{cap},
      C{peer_cap}, C{timeout}, C{tls}, C{proxy}, C{fault} (a bad fault request).
    - C{echohub_udp_received_datagrams_total},
      C{echohub_udp_sent_datagrams_total}: the UDP echo's datagrams (its
      bytes are C{echohub_received_bytes_total{service="udp"}} and
      C{echohub_sent_bytes_total{service="udp"}}).
    - C{echohub_udp_dropped_datagrams_total{reason}}: datagrams not
      answered: C{too_large}, C{low_port}, C{source_rate}, C{sources},
      C{rate}, C{send_failed} (see L{echohub.udp}).
    - C{echohub_faults_total{service,kind}}: faults applied (a connection or
      an HTTP response each), by toxic (L{echohub.faults}).
    - C{echohub_draining}: 1 once the process has begun to drain.
    - C{process_*}, C{python_*}: the process's CPU, memory, descriptors, GC
      (one process only: left out with workers, see below).

With C{[server] workers} above 1 every process's metrics go to
C{prometheus_client}'s multiprocess mode: each process writes its values to
memory-mapped files in one directory (C{PROMETHEUS_MULTIPROC_DIR}, private
to the process group, made and removed by the parent,
L{echohub.ops._workers}), and whichever process takes a scrape merges every
process's files.  Counters are summed over every process that ever ran, so a
restarted worker's totals are not lost; C{echohub_connections_open} is the
sum over the live processes (C{livesum}) and C{echohub_draining} their
maximum (C{livemax}): the parent removes a dead worker's files of both.
C{prometheus_client} cannot merge the per-process collectors (C{process_*},
C{python_*}), so the exposition leaves them out then.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    values,
)
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from twisted.web.iweb import IRequest
from twisted.web.resource import IResource, Resource

MULTIPROCESS_DIRECTORY = "PROMETHEUS_MULTIPROC_DIR"
"""
C{prometheus_client}'s own variable naming the multiprocess directory: a
worker inherits it, so its C{prometheus_client} starts in multiprocess mode.
"""


def multiprocessValues(directory: str) -> None:
    """
    Make every metric value created from now on in this process live in
    C{directory}'s files, as C{prometheus_client} does by itself when
    L{MULTIPROCESS_DIRECTORY} is set before it is imported.

    The parent imported C{prometheus_client} (with the rest of echohub)
    before its configuration said it will have workers, and
    C{prometheus_client} has no public call to switch modes later: it picks
    C{prometheus_client.values.ValueClass} once, at import, and reads it
    whenever a metric (or a new label set) is created.  So this sets the
    variable (which the value class reads for the directory) and that
    attribute, the same way C{prometheus_client} does at import.
    C{tests.ops.test_metrics} fails if a counter incremented after this call
    is not collected from the directory.  The switch is for the life of the
    process, as multiprocess mode is.
    """
    os.environ[MULTIPROCESS_DIRECTORY] = directory
    values.ValueClass = values.MultiProcessValue()


def forgetProcess(pid: int, directory: str) -> None:
    """
    Drop the live gauges (C{livesum}, C{livemax}) of process C{pid}, which
    has exited; its counters stay in the totals.
    """
    mark_process_dead(pid, directory)


class Reason:
    """
    The C{reason} label values of C{echohub_rejections_total} that the
    protocols report (the caps add C{cap} and C{peer_cap}).
    """

    TOO_LONG = "too_long"
    TIMEOUT = "timeout"
    TLS = "tls"
    PROXY = "proxy"
    FLOOD = "flood"
    MALFORMED = "malformed"
    PROTOCOL = "protocol"
    FAULT = "fault"


class Metrics:
    """
    The metrics of one echohub process.

    @ivar registry: the registry every metric here is in: this process's
        own values.
    @ivar exposition: the registry C{/metrics} renders: C{registry}, or with
        a multiprocess directory, every process's values merged.
    """

    def __init__(
        self, processStats: bool = True, multiprocessDirectory: str | None = None
    ) -> None:
        """
        @param processStats: include the process, platform and GC
            collectors (off in unit tests, which compare expositions).
        @param multiprocessDirectory: the directory of the process group's
            values (see the module docstring), or L{None} for one process.
            The values of this process go there only if it was created by
            L{multiprocessValues} or named by L{MULTIPROCESS_DIRECTORY}
            before C{prometheus_client} was imported.
        """
        self._flushes: list[Callable[[], None]] = []
        registry = self.registry = CollectorRegistry(auto_describe=True)
        self.exposition = registry
        if multiprocessDirectory is not None:
            self.exposition = CollectorRegistry()
            MultiProcessCollector(self.exposition, path=multiprocessDirectory)
        elif processStats:
            for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
                registry.register(collector)
        self.connectionsOpen = Gauge(
            "echohub_connections_open",
            "Connections open now.",
            ["service", "listener"],
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.connections = Counter(
            "echohub_connections",
            "Connections admitted.",
            ["service", "listener"],
            registry=registry,
        )
        self.received = Counter(
            "echohub_received_bytes",
            "Bytes received from clients (HTTP: request bodies).",
            ["service"],
            registry=registry,
        )
        self.sent = Counter(
            "echohub_sent_bytes",
            "Bytes sent to clients (HTTP: response bodies).",
            ["service"],
            registry=registry,
        )
        self.linesEchoed = Counter(
            "echohub_lines_echoed", "Complete lines echoed.", registry=registry
        )
        self.messagesEchoed = Counter(
            "echohub_messages_echoed",
            "Messages echoed: HTTP echoes, WebSocket messages.",
            ["service"],
            registry=registry,
        )
        self.httpRequests = Counter(
            "echohub_http_requests",
            "HTTP requests answered, by status code.",
            ["code"],
            registry=registry,
        )
        self.websocketSessions = Counter(
            "echohub_websocket_sessions",
            "WebSocket sessions opened, by HTTP version and compression.",
            ["http", "compression"],
            registry=registry,
        )
        self.grpcCalls = Counter(
            "echohub_grpc_calls",
            "gRPC calls ended, by method (unknown methods as unknown) and status.",
            ["method", "code"],
            registry=registry,
        )
        self.grpcReceived = Counter(
            "echohub_grpc_received_messages",
            "gRPC request messages received, by method.",
            ["method"],
            registry=registry,
        )
        self.grpcSent = Counter(
            "echohub_grpc_sent_messages",
            "gRPC response messages sent, by method.",
            ["method"],
            registry=registry,
        )
        self.rejections = Counter(
            "echohub_rejections",
            "Connections or requests refused or cut, by reason.",
            ["service", "reason"],
            registry=registry,
        )
        self.datagramsReceived = Counter(
            "echohub_udp_received_datagrams",
            "Datagrams received by the UDP echo.",
            registry=registry,
        )
        self.datagramsSent = Counter(
            "echohub_udp_sent_datagrams",
            "Datagrams the UDP echo sent back.",
            registry=registry,
        )
        self.datagramsDropped = Counter(
            "echohub_udp_dropped_datagrams",
            "Datagrams the UDP echo did not answer, by reason.",
            ["reason"],
            registry=registry,
        )
        self.faults = Counter(
            "echohub_faults",
            "Faults applied (connections or HTTP responses), by toxic.",
            ["service", "kind"],
            registry=registry,
        )
        self.draining = Gauge(
            "echohub_draining",
            "1 while the process drains.",
            registry=registry,
            multiprocess_mode="livemax",
        )

    def beforeExposition(self, flush: Callable[[], None]) -> None:
        """
        Have C{flush} called, in the reactor's thread, each time C{/metrics}
        is read, before the exposition is rendered: how batched counts
        (L{echohub.ops._access}) are exact when read.
        """
        self._flushes.append(flush)

    def resource(self) -> IResource:
        """
        The C{/metrics} resource: C{prometheus_client}'s own, which renders
        the exposition in the reactor's thread pool, after the flushes given
        to L{beforeExposition}.

        Imported here because C{prometheus_client.twisted} imports (and so
        installs) the global reactor.
        """
        from prometheus_client.twisted import MetricsResource

        return _Flushing(MetricsResource(self.exposition), self._flushes)


class _Flushing(Resource):
    """
    A leaf resource that runs the flushes, then renders C{inner}.
    """

    isLeaf = True

    def __init__(self, inner: IResource, flushes: list[Callable[[], None]]) -> None:
        super().__init__()
        self.inner = inner
        self.flushes = flushes

    def render(self, request: IRequest) -> bytes | int:
        for flush in self.flushes:
            flush()
        result: bytes | int = self.inner.render(request)
        return result
