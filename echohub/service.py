# -*- test-case-name: tests.test_service -*-
"""
Assembly of one echohub process: a L{MultiService} of listeners.

This module only wires: the protocols own their limits and timeouts, the
configuration is already validated, and each listener is one
L{ListeningService} per endpoint string.  Around them the process tells
systemd when it is ready and when it stops (L{echohub.ops._notify}), and drains
its connections before it exits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from twisted.application.service import MultiService, Service
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IProtocolFactory, IReactorTime
from twisted.logger import Logger
from twisted.web.resource import Resource
from twisted.web.server import Site

from echohub._net import formatAddress
from echohub._version import __version__
from echohub.config import Config
from echohub.endpoints import Listener, datagramEndpoint, parseListener
from echohub.faults import FaultBounds
from echohub.http import negotiate
from echohub.line import ByteEchoFactory, LineEchoFactory
from echohub.ops import (
    ConnectionCaps,
    ConnectionRegistry,
    Lingering,
    ListenAdopter,
    ListenError,
    ListeningService,
    ListenRecorder,
    Metrics,
    Notifier,
    RateLimitedLog,
    RequestLog,
    ServiceAccess,
    Worker,
    WorkersService,
    checkWorkers,
    groupMetricsDirectory,
    startDirectDispatch,
)
from echohub.tls import TLSInfoFactory, TLSReloadService
from echohub.udp import DatagramLimits, UDPEcho
from echohub.web import buildSite

# Each service's URL scheme, plain and over TLS, and the path it serves at.
_URL_FORMS = {
    "line": ("tcp", "tls", ""),
    "echo": ("tcp", "tls", ""),
    "udp": ("udp", "udp", ""),
    "web": ("http", "https", "/"),
    "metrics": ("http", "https", "/metrics"),
    "tlsinfo": ("tcp", "tls", ""),
}


class EchohubService(MultiService):
    """
    The whole of one echohub process.

    Start-up binds every listener or none, logs one line naming the URL of
    each (L{urls}), then sends systemd C{READY=1};
    stopping sends C{STOPPING=1}, closes the listeners at once, then drains
    the open connections (see L{ConnectionRegistry}) within C{[server]
    drain_timeout}.

    @ivar connections: every open connection of every service.
    @ivar metrics: the process's metrics.
    @ivar notifier: how systemd is told about start and stop.
    """

    log = Logger()

    def __init__(
        self,
        config: Config,
        reactor: IReactorTime,
        metrics: Metrics | None = None,
        notifier: Notifier | None = None,
        listenReactor: Any = None,
        announce: bool = True,
    ) -> None:
        """
        @param listenReactor: the reactor the endpoints listen with (see
            L{echohub.ops._workers}); C{reactor} by default.
        @param announce: whether starting logs the line naming every URL
            served (a worker process leaves that to its parent).
        """
        super().__init__()
        self.config = config
        self.reactor = reactor
        self.listenReactor = reactor if listenReactor is None else listenReactor
        self.connections = ConnectionRegistry()
        self.metrics = Metrics() if metrics is None else metrics
        self.notifier = Notifier() if notifier is None else notifier
        self.accesses: list[ServiceAccess] = []
        self.announce = announce
        self._secure: set[ListeningService] = set()
        self._stopDispatch: Callable[[], None] | None = None

    def access(
        self, serviceName: str, maxConnections: int, maxPerPeer: int
    ) -> ServiceAccess:
        """
        Make the caps, metrics and logs of one service.
        """
        access = ServiceAccess(
            serviceName,
            ConnectionCaps(maxConnections, maxPerPeer),
            self.reactor,
            self.metrics,
            self.config.server.warning_interval,
            Lingering(
                self.config.server.lingering_time, self.config.server.lingering_timeout
            ),
        )
        self.accesses.append(access)
        self.metrics.beforeExposition(access.flush)
        return access

    def addListeners(
        self,
        serviceName: str,
        descriptions: tuple[str, ...],
        factoryFor: Callable[[Listener], IProtocolFactory],
        faultBounds: FaultBounds | None = None,
    ) -> None:
        """
        Listen on each endpoint string with the factory C{factoryFor} gives
        for it.

        Every string is parsed here, once, before anything binds, so a bad
        one is reported while the configuration is read.

        @param factoryFor: the protocol factory of one listener, given the
            parsed string (whose C{label} tells listeners apart in metrics).
        @param faultBounds: the bounds of the service's faults, or L{None}
            for a service without faults.
        """
        for description in descriptions:
            listener = parseListener(
                self.listenReactor, description, self.config.tls, faultBounds
            )
            listening = ListeningService(
                serviceName, description, listener.endpoint, factoryFor(listener)
            )
            listening.setServiceParent(self)
            if listener.tls is not None:
                self._secure.add(listening)

    def urls(self) -> list[str]:
        """
        Where the bound listeners serve, one C{SERVICE URL} each, e.g.
        C{line tcp://0.0.0.0:7007} or C{web https://[::]:8443/} (under
        C{[web] prefix}, C{web https://[::]:8443/echohub/}; a UNIX socket
        as C{web unix:/run/echohub.sock}).
        """
        found = []
        for child in self:
            if not isinstance(child, ListeningService) or child.port is None:
                continue
            address = child.port.getHost()
            plain, secure, path = _URL_FORMS[child.serviceName]
            if child.serviceName == "web" and self.config.web.prefix.strip("/"):
                path = "/" + self.config.web.prefix.strip("/") + "/"
            scheme = secure if child in self._secure else plain
            where = formatAddress(address)
            if getattr(address, "port", None) is None:
                found.append(f"{child.serviceName} unix:{where}")
            else:
                found.append(f"{child.serviceName} {scheme}://{where}{path}")
        return found

    def privilegedStartService(self) -> None:
        """
        Bind every listener, or none.

        If one cannot bind, the ones already bound are released, the reason
        is logged as one critical line, and C{SystemExit(1)} ends the
        process: twistd would otherwise print a traceback and a service
        missing a listener must not run.
        """
        Service.privilegedStartService(self)
        bound: list[Any] = []
        try:
            for child in self:
                child.privilegedStartService()
                bound.append(child)
        except ListenError as e:
            self.log.critical("echohub: cannot start: {error}", error=str(e))
            for child in bound:
                child.stopService()
            raise SystemExit(1) from e

    def startService(self) -> None:
        """
        Start, then tell systemd (C{Type=notify}) that every listener is
        bound and echohub serves.

        With C{[server] direct_dispatch}, the reactor's events are
        dispatched by echohub's loop from here on (L{startDirectDispatch}).
        """
        if self.config.server.direct_dispatch:
            self._stopDispatch = startDirectDispatch(self.reactor)
        super().startService()
        urls = self.urls()
        if self.announce:
            self.log.info(
                "echohub {version} serving {urls}",
                version=__version__,
                urls=", ".join(urls) or "nothing (every listen setting is empty)",
            )
        self.notifier.ready(f"serving on {len(urls)} listener(s)")

    def stopService(self) -> Deferred[None]:
        """
        Report draining (C{/healthz} answers C{503}, systemd gets
        C{STOPPING=1}), stop listening, then drain open connections within
        the configured deadline.
        """
        self.connections.draining = True
        self.metrics.draining.set(1)
        self.notifier.stopping(f"draining {len(self.connections)} connection(s)")
        stopped: Deferred[Any] = super().stopService()
        timeout = self.config.server.drain_timeout

        def drain(_: object) -> Deferred[None]:
            self.log.info(
                "echohub stopping: draining {count} connection(s) within {timeout:g} s",
                count=len(self.connections),
                timeout=timeout,
            )
            return self.connections.drain(self.reactor, timeout)

        def drained(_: object) -> None:
            for access in self.accesses:
                access.warnings.stop()
            if self._stopDispatch is not None:
                self._stopDispatch()
                self._stopDispatch = None
            self.log.info("echohub stopped: every connection closed")

        return stopped.addCallback(drain).addCallback(drained)


def addUDPListeners(service: EchohubService, reactor: Any) -> None:
    """
    Listen with the UDP echo on each C{[udp] listen} string, every listener
    sharing one set of limits and one drop log.
    """
    config = service.config
    limits = DatagramLimits(config.udp, reactor)
    warnings = RateLimitedLog(UDPEcho.log, config.server.warning_interval, reactor)
    for description in config.udp.listen:
        # One byte over the limit, so that a datagram over it is seen whole
        # or truncated, never mistaken for one within it.
        endpoint = datagramEndpoint(reactor, description, config.udp.max_datagram + 1)
        protocol = UDPEcho(limits, warnings, service.metrics)
        ListeningService("udp", description, endpoint, protocol).setServiceParent(
            service
        )


def metricsSite(metrics: Metrics) -> Site:
    """
    A site that serves only C{/metrics}, for C{[server] metrics_listen}.
    """
    root = Resource()
    root.putChild(b"metrics", metrics.resource())
    return Site(root)


def makeService(
    config: Config,
    reactor: Any = None,
    metrics: Metrics | None = None,
    notifier: Notifier | None = None,
    worker: Worker | None = None,
) -> EchohubService:
    """
    Build the echohub service for C{config}.

    @param reactor: the reactor to listen with; the global one by default.
    @param metrics: the process's metrics; new ones by default.
    @param notifier: the systemd notifier; one from the environment by
        default.
    @param worker: in a worker process (L{echohub.ops._workers}), what it
        inherited from the parent: listening sockets, adopted instead of
        binding, and the group's metrics.
    @raise echohub.config.ConfigError: an endpoint string or a TLS file is
        unusable.
    """
    if reactor is None:
        from twisted.internet import reactor
    recorder = None
    listenReactor = reactor
    metricsDirectory = None
    if worker is not None:
        worker.start(reactor)
        listenReactor = ListenAdopter(reactor, worker.descriptors)
        metricsDirectory = worker.metricsDirectory
        notifier = worker.notifier() if notifier is None else notifier
    elif config.server.workers > 1:
        checkWorkers(config)
        listenReactor = recorder = ListenRecorder(reactor, config.server.workers - 1)
        metricsDirectory = groupMetricsDirectory(reactor)
    if metrics is None:
        metrics = Metrics(multiprocessDirectory=metricsDirectory)
    service = EchohubService(
        config, reactor, metrics, notifier, listenReactor, announce=worker is None
    )
    service.setName("echohub")
    lineAccess = service.access(
        "line", config.line.max_connections, config.line.max_connections_per_peer
    )
    streamFaults = FaultBounds(config.faults.max_delay, config.faults.min_rate)
    service.addListeners(
        "line",
        config.line.listen,
        lambda listener: LineEchoFactory(
            config.line,
            reactor,
            service.connections,
            lineAccess,
            listener.label,
            listener.faults,
        ),
        streamFaults,
    )
    echoAccess = service.access(
        "echo", config.echo.max_connections, config.echo.max_connections_per_peer
    )
    service.addListeners(
        "echo",
        config.echo.listen,
        lambda listener: ByteEchoFactory(
            config.echo,
            reactor,
            service.connections,
            echoAccess,
            listener.label,
            listener.faults,
        ),
        replace(streamFaults, clients=False),
    )
    if worker is None:
        # Workers do not share the UDP sockets: the first process serves
        # them (the rate limits are then the whole service's).
        addUDPListeners(service, reactor)
    webAccess = service.access(
        "web", config.web.max_connections, config.web.max_connections_per_peer
    )
    metricsOnWeb = service.metrics if not config.server.metrics_listen else None
    service.addListeners(
        "web",
        config.web.listen,
        lambda listener: negotiate(
            buildSite(
                config.web,
                reactor,
                service.connections,
                access=webAccess,
                listener=listener.label,
                metrics=metricsOnWeb,
                websocket=config.websocket,
                requestLog=RequestLog.fromConfig(config.log),
                faults=listener.faults,
                scenario=listener.scenario,
                grpc=config.grpc,
            ),
            config.web,
        ),
        FaultBounds(
            config.web.max_delay,
            config.faults.min_rate,
            config.web.max_body,
            http=True,
        ),
    )
    metricsOnly = metricsSite(service.metrics)
    service.addListeners(
        "metrics", config.server.metrics_listen, lambda listener: metricsOnly
    )
    tlsInfo = TLSInfoFactory()
    service.addListeners("tlsinfo", config.tls.info_listen, lambda listener: tlsInfo)
    TLSReloadService(reactor).setServiceParent(service)
    if recorder is not None:
        WorkersService(
            config.server.workers - 1,
            recorder,
            reactor,
            config.server.drain_timeout,
            metricsDirectory,
        ).setServiceParent(service)
    return service
