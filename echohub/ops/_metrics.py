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
    - C{echohub_http_requests_total{code}}.
    - C{echohub_rejections_total{service,reason}}: C{too_long}, C{cap},
      C{peer_cap}, C{timeout}, C{tls}, C{proxy}.
    - C{echohub_draining}: 1 once the process has begun to drain.
    - C{process_*}, C{python_*}: the process's CPU, memory, descriptors, GC.
"""

from __future__ import annotations

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
)
from twisted.web.resource import IResource


class Reason:
    """
    The C{reason} label values of C{echohub_rejections_total} that the
    protocols report (the caps add C{cap} and C{peer_cap}).
    """

    TOO_LONG = "too_long"
    TIMEOUT = "timeout"
    TLS = "tls"
    PROXY = "proxy"


class Metrics:
    """
    The metrics of one echohub process.

    @ivar registry: the registry every metric here is in.
    """

    def __init__(self, processStats: bool = True) -> None:
        """
        @param processStats: include the process, platform and GC
            collectors (off in unit tests, which compare expositions).
        """
        registry = self.registry = CollectorRegistry(auto_describe=True)
        if processStats:
            for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
                registry.register(collector)
        self.connectionsOpen = Gauge(
            "echohub_connections_open",
            "Connections open now.",
            ["service", "listener"],
            registry=registry,
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
        self.rejections = Counter(
            "echohub_rejections",
            "Connections or requests refused or cut, by reason.",
            ["service", "reason"],
            registry=registry,
        )
        self.draining = Gauge(
            "echohub_draining", "1 while the process drains.", registry=registry
        )

    def resource(self) -> IResource:
        """
        The C{/metrics} resource: C{prometheus_client}'s own, which renders
        the exposition in the reactor's thread pool.

        Imported here because C{prometheus_client.twisted} imports (and so
        installs) the global reactor.
        """
        from prometheus_client.twisted import MetricsResource

        resource: IResource = MetricsResource(self.registry)
        return resource
