# -*- test-case-name: tests.http.test_site -*-
"""
L{buildSite}: the echo site, the wire's L{HTTPSite} (L{echohub.http}) serving
the resource tree (L{echohub.web._tree}), with the lean routes
(L{echohub.web._lean}) registered with it, gRPC (L{echohub.grpc}): its
stream routes for native gRPC over HTTP/2, its gRPC-Web resources in the
tree, and the WebSocket echo's stream routes for WebSocket over HTTP/2
(L{echohub.websocket}).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from twisted.internet.interfaces import IReactorTime
from zope.interface import implementer

from echohub.config import GRPCConfig, WebConfig, WebSocketConfig
from echohub.faults import FaultPolicy
from echohub.grpc import GRPCServer, GRPCStreamRoutes, webResources
from echohub.http import (
    HTTPLimits,
    HTTPSite,
    IStreamRoute,
    IStreamRoutes,
    hstsValue,
)
from echohub.ops import (
    ConnectionCaps,
    ConnectionRegistry,
    Metrics,
    RequestLog,
    ServiceAccess,
)
from echohub.web._lean import EchoLeanRoutes
from echohub.web._tree import buildResourceTree, webSocketPaths
from echohub.websocket import WebSocketStreamRoutes


@implementer(IStreamRoutes)
class _StreamRoutes:
    """
    The site's stream routes: each of C{routes}' in turn.  The WebSocket
    echo's come first: they match only an extended C{CONNECT}, and turn
    down every other request at its first regular field.
    """

    def __init__(self, routes: Sequence[IStreamRoutes]) -> None:
        self.routes = tuple(routes)
        self.protocols = frozenset().union(*(r.protocols for r in self.routes))

    def match(self, headers: Sequence[tuple[bytes, bytes]]) -> IStreamRoute | None:
        for routes in self.routes:
            route = routes.match(headers)
            if route is not None:
                return route
        return None


def buildSite(
    config: WebConfig,
    reactor: IReactorTime | None = None,
    connections: ConnectionRegistry | None = None,
    access: ServiceAccess | None = None,
    listener: str = "web",
    metrics: Metrics | None = None,
    websocket: WebSocketConfig | None = None,
    requestLog: RequestLog | None = None,
    faults: FaultPolicy | None = None,
    scenario: str | None = None,
    grpc: GRPCConfig | None = None,
) -> HTTPSite:
    """
    Build the echo site.

    The access log goes to the global log (and so to L{twisted.logger}),
    one event per request (L{HTTPSite.log}).

    @param config: the web settings: body limit and idle timeout (C{0}
        disables it).
    @param reactor: the reactor for timeouts; the global one by default.
    @param connections: where connections register for draining.
    @param access: the web service's caps, metrics and logs.
    @param listener: the listener's endpoint string, for metrics.
    @param metrics: serve these at C{/metrics}; none by default.
    @param websocket: the settings of the WebSocket echo at C{/ws}.
    @param requestLog: what C{[log] requests} logs of each request.
    @param faults: the listener's faults (L{echohub.web._faults}); a
        listener with faults has no lean path, so every echo response meets
        them.
    @param scenario: the TLS scenario the listener serves, named on its
        page.
    @param grpc: the settings of the gRPC echo (on by default).
    """
    if reactor is None:
        from twisted.internet import reactor as globalReactor

        reactor = cast(IReactorTime, globalReactor)
    if connections is None:
        connections = ConnectionRegistry()
    if access is None:
        access = ServiceAccess("web", ConnectionCaps(0, 0), reactor)
    if grpc is None:
        grpc = GRPCConfig()
    if websocket is None:
        websocket = WebSocketConfig()
    streamRoutes: list[IStreamRoutes] = []
    if websocket.over_http2:
        streamRoutes.append(
            WebSocketStreamRoutes(websocket, reactor, access, webSocketPaths(config))
        )
    grpcServer = None
    if grpc.enabled:
        grpcServer = GRPCServer(
            grpc, reactor, access, connections, config.show_sensitive_headers
        )
        streamRoutes.append(GRPCStreamRoutes(grpcServer))
    root = buildResourceTree(
        config,
        websocket,
        reactor,
        faults=faults,
        scenario=scenario,
        extra=None if grpcServer is None else webResources(grpcServer),
    )
    if metrics is not None:
        root.putChild(b"metrics", metrics.resource())
    return HTTPSite(
        root,
        limits=HTTPLimits.fromConfig(config),
        reactor=reactor,
        connections=connections,
        access=access,
        listener=listener,
        # The lean routes answer as the standard tree does without CORS.
        lean=None if config.cors_origins or faults else EchoLeanRoutes(),
        hsts=hstsValue(config.hsts),
        requestLog=requestLog,
        streamRoutes=_StreamRoutes(streamRoutes) if streamRoutes else None,
    )
