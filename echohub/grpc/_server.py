# -*- test-case-name: tests.grpc.test_server -*-
"""
L{GRPCServer}: what every gRPC call of one site shares: the settings, the
clock, the methods (the echo, health checking, server reflection), and the
observability of a call's end: one access-log line per call (in the shape
every echohub service logs, L{echohub.ops.logAccess}), the counters per
method and status, and the rate-limited warning of a call that broke the
protocol.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from echohub.config import GRPCConfig
from echohub.grpc._call import Call, Method
from echohub.grpc._echo import echoMethods
from echohub.grpc._health import HealthState, healthMethods
from echohub.grpc._reflection import reflectionMethods
from echohub.grpc._schema import Schema
from echohub.grpc._wire import Code, GRPCError
from echohub.ops import ConnectionRegistry, Reason, ServiceAccess, logAccess

_log = Logger()

UNKNOWN_METHOD = "unknown"
"""
The C{method} label of every call to a method the server does not offer,
so that a client cannot grow the metrics without bound.
"""

_WEB_UNECHOED = frozenset(
    (
        b"accept",
        b"accept-encoding",
        b"accept-language",
        b"cache-control",
        b"origin",
        b"pragma",
        b"priority",
        b"referer",
        b"x-grpc-web",
        b"x-user-agent",
        b"set-cookie",
        b"location",
        b"refresh",
        b"vary",
        b"expires",
        b"strict-transport-security",
        b"x-content-type-options",
        b"x-frame-options",
        b"dnt",
    )
)
"""
Request headers of a gRPC-Web call that are the browser's or HTTP's rather
than metadata, or that a browser would act on if they came back as
response headers (cookies, redirects, security policies): never echoed.
"""

_WEB_UNECHOED_PREFIXES = (
    b"sec-",
    b"access-control-",
    b"content-",
    b"if-",
    b"proxy-",
    b"cross-origin-",
)


def _webUnechoed(name: bytes) -> bool:
    return name in _WEB_UNECHOED or name.startswith(_WEB_UNECHOED_PREFIXES)


class GRPCServer:
    """
    The gRPC side of one site.

    @ivar config: the C{[grpc]} settings.
    @ivar clock: the reactor, for every deadline and delay.
    @ivar access: the web service's caps, metrics and logs.
    @ivar connections: the site's connections, whose drain deadline calls
        finish before.
    @ivar showSensitive: whether echoed metadata shows credential values.
    @ivar schema: the services' descriptors.
    @ivar health: the health checking service's statuses.
    @ivar methods: every method, by C{:path}.
    """

    def __init__(
        self,
        config: GRPCConfig,
        clock: IReactorTime,
        access: ServiceAccess,
        connections: ConnectionRegistry,
        showSensitive: bool = False,
        schema: Schema | None = None,
    ) -> None:
        self.config = config
        self.clock = clock
        self.access = access
        self.connections = connections
        self.showSensitive = showSensitive
        self.schema = Schema() if schema is None else schema
        self.health = HealthState(self.schema.services, connections)
        self.methods: dict[bytes, Method] = {
            m.path: m
            for m in (
                *echoMethods(self.schema),
                *healthMethods(self.schema, self.health),
                *reflectionMethods(self.schema),
            )
        }
        self._counters: dict[tuple[str, Code], Any] = {}
        self._messageCounters: dict[str, tuple[Any, Any]] = {}

    def call(self, output: Any, headers: Any, web: bool = False) -> Call:
        """
        Start a call whose response goes to C{output} (an
        L{echohub.http.IHTTPStream}), for the request header list
        C{headers}.
        """
        return Call(self, output, headers, web)

    def hidden(self, name: bytes, web: bool) -> bool:
        """
        Whether request header C{name} (not a reserved one) is left out of
        a call's metadata: for gRPC-Web, the browser's and HTTP's own.
        """
        return web and _webUnechoed(name)

    def drainDeadline(self) -> float | None:
        """
        When the stopping server cuts what is still open, if it is
        stopping.
        """
        return self.connections.deadline if self.connections.draining else None

    def rejected(self, call: Call, error: GRPCError) -> None:
        """
        Count a call that broke the protocol, and log it (rate-limited).
        """
        self.access.rejected(
            Reason.MALFORMED,
            "{service}: {peer} sent a malformed gRPC{web} call to {path}: {why};"
            " {code}",
            call.output.peer,
            web="-Web" if call.web else "",
            path=call.path.decode("ascii", "replace"),
            why=error.message,
            code=error.code.name,
        )

    def ended(self, call: Call) -> None:
        """
        Log and count a call that ended.
        """
        code = call.code
        assert code is not None
        method = call.method
        label = UNKNOWN_METHOD if method is None else method.label
        access = self.access
        if access.metrics is not None:
            counter = self._counters.get((label, code))
            if counter is None:
                counter = self._counters[label, code] = access.metrics.grpcCalls.labels(
                    label, code.name
                )
            counter.inc()
            if call.messagesIn or call.messagesOut:
                counters = self._messageCounters.get(label)
                if counters is None:
                    counters = self._messageCounters[label] = (
                        access.metrics.grpcReceived.labels(label),
                        access.metrics.grpcSent.labels(label),
                    )
                counters[0].inc(call.messagesIn)
                counters[1].inc(call.messagesOut)
        if not call.web:
            # A gRPC-Web call's bytes are its HTTP request's, which the
            # site counts.
            access.transferred(call.bytesIn, call.bytesOut)
        if method is not None and method.echoes and call.messagesOut:
            access.echoed(call.messagesOut)
        path = call.path.decode("ascii", "replace")
        logAccess(
            _log,
            "grpc",
            call.output.peerText,
            call.bytesIn,
            call.bytesOut,
            self.clock.seconds() - call.started,
            f"{path} {code.name}",
            f", messages in {call.messagesIn}, out {call.messagesOut}"
            + (", gRPC-Web" if call.web else ""),
            path=path,
            status=int(code),
            grpc_message=call.statusMessage,
            messages_in=call.messagesIn,
            messages_out=call.messagesOut,
            protocol="grpc-web" if call.web else "grpc",
        )
