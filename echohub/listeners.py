# -*- test-case-name: tests.test_listeners -*-
"""
Listening on endpoint description strings, with errors an operator can act on.

Twisted's L{serverFromString} reports a bad string as a bare C{ValueError}
(C{invalid literal for int()}) and a bare L{StreamServerEndpointService} only
logs a failure to bind.  Here every such failure becomes one line that names
the service and the endpoint string, and a failure to bind fails start-up.
"""

from __future__ import annotations

from typing import Any

from twisted.application.service import Service
from twisted.internet.defer import CancelledError, Deferred, succeed
from twisted.internet.endpoints import _parse, quoteStringArgument, serverFromString
from twisted.internet.interfaces import (
    IAddress,
    IListeningPort,
    IProtocolFactory,
    IStreamServerEndpoint,
)
from twisted.logger import Logger
from twisted.python.failure import Failure

from echohub.config import ConfigError, TLSConfig
from echohub.proxy import ProxyServerEndpoint
from echohub.tls import (
    TLS_OVER_OPTIONS,
    TLSConfigError,
    sslServerEndpoint,
    tlsServerEndpoint,
)


class ListenError(Exception):
    """
    A listener could not bind; the message names the service and endpoint.
    """


def _prefix(description: str) -> str:
    return description.split(":", 1)[0].lower()


def _takeTLSOptions(description: str) -> tuple[str, dict[str, str]]:
    """
    Split echohub's TLS options off an endpoint string that is not C{ssl:}.

    @return: the string without them, re-quoted for Twisted, and the options.
    """
    args, kwargs = _parse(description)
    tls = {key: kwargs.pop(key) for key in TLS_OVER_OPTIONS & set(kwargs)}
    if not tls:
        return description, tls
    rest = [quoteStringArgument(arg) for arg in args]
    rest += [f"{key}={quoteStringArgument(value)}" for key, value in kwargs.items()]
    return ":".join(rest), tls


def serverEndpoint(
    reactor: Any, description: str, tlsDefaults: TLSConfig | None = None
) -> IStreamServerEndpoint:
    """
    Parse one server endpoint description string.

    C{ssl:} strings are built by L{echohub.tls}; every other prefix (C{tcp:},
    C{tcp6:}, C{unix:}, C{systemd:}, plugins) by Twisted.  echohub composes
    two layers over any of them, in the order they come on the wire:

        - a C{haproxy:} prefix: each connection starts with a PROXY protocol
          header (v1 or v2), read before anything else, TLS included, as
          HAProxy's C{send-proxy} sends it (L{echohub.proxy}).  Twisted's own
          C{haproxy:ssl:} would expect it inside TLS.
        - echohub's TLS keys (L{echohub.tls.TLS_OVER_OPTIONS}: C{privateKey=},
          C{certKey=}, C{clientCA=}, ...) on a string other than C{ssl:}:
          TLS over that endpoint, e.g.
          C{systemd:domain=INET:name=linetls:privateKey=K:certKey=C}.

    Twisted's C{tls:} server strings are refused: they would serve TLS
    without echohub's policy, client authentication and reload.

    @param tlsDefaults: the C{[tls]} settings, defaults of every TLS listener.
    @raise ConfigError: naming the string and what is wrong with it.
    """
    proxied = _prefix(description) == "haproxy"
    inner = description.split(":", 1)[1] if proxied else description

    def underTLS(endpoint: IStreamServerEndpoint) -> IStreamServerEndpoint:
        if not proxied:
            return endpoint
        wrapped: IStreamServerEndpoint = ProxyServerEndpoint(endpoint, reactor)
        return wrapped

    try:
        if _prefix(inner) == "tls":
            raise ValueError(
                "echohub serves TLS through ssl: strings, with its TLS policy:"
                " write ssl:PORT:privateKey=KEY:certKey=CERT instead of tls:"
            )
        if _prefix(inner) == "ssl":
            return sslServerEndpoint(reactor, inner, underTLS, tlsDefaults)
        inner, tls = _takeTLSOptions(inner)
        endpoint = underTLS(serverFromString(reactor, inner))
        if tls:
            endpoint = tlsServerEndpoint(endpoint, reactor, tlsDefaults, **tls)
        return endpoint
    except TLSConfigError as e:
        raise ConfigError(f"endpoint {description!r}: {e}") from None
    except (ValueError, TypeError, KeyError, IndexError, OSError) as e:
        raise ConfigError(f"endpoint {description!r} is not valid: {e}") from None


class ListeningService(Service):
    """
    Listen on one endpoint for one of echohub's services.

    Unlike L{twisted.application.internet.StreamServerEndpointService}, which
    only logs a failure to bind, this binds in L{privilegedStartService} and
    raises L{ListenError} there, so twistd cannot run with a listener
    missing; and it logs the address actually bound (useful with port 0).

    @ivar port: the listening port, once bound.
    """

    log = Logger()

    def __init__(
        self,
        serviceName: str,
        description: str,
        endpoint: IStreamServerEndpoint,
        factory: IProtocolFactory,
    ) -> None:
        self.serviceName = serviceName
        self.description = description
        self.endpoint = endpoint
        self.factory = factory
        self.port: IListeningPort | None = None
        self._listening: Deferred[IListeningPort] | None = None
        self.setName(f"{serviceName} {description}")

    def privilegedStartService(self) -> None:
        """
        Bind now, so that privileged ports can be bound before twistd drops
        privileges; report a failure with the service and endpoint named.
        """
        super().privilegedStartService()
        failures: list[Failure] = []
        self._listening = self.endpoint.listen(self.factory)
        self._listening.addCallbacks(self._bound, failures.append)
        if failures:
            self._listening = None
            raise ListenError(
                f"{self.serviceName} service cannot listen on"
                f" {self.description!r}: {failures[0].getErrorMessage()}"
            )

    def _bound(self, port: IListeningPort) -> IListeningPort:
        self.port = port
        self.log.info(
            "{service} listening on {address} ({description})",
            service=self.serviceName,
            address=formatAddress(port.getHost()),
            description=self.description,
        )
        return port

    def startService(self) -> None:
        """
        Bind, unless L{privilegedStartService} already did.
        """
        if self._listening is None:
            self.privilegedStartService()
        super().startService()

    def stopService(self) -> Deferred[None]:
        """
        Stop listening; established connections are not touched.
        """
        super().stopService()
        listening, self._listening, self.port = self._listening, None, None
        if listening is None:
            return succeed(None)
        listening.cancel()

        def stop(port: IListeningPort) -> Deferred[None] | None:
            return port.stopListening()

        def cancelled(failure: Failure) -> None:
            failure.trap(CancelledError)

        return listening.addCallbacks(stop, cancelled)


def formatAddress(address: IAddress) -> str:
    """
    Show a bound address the way an operator types it: C{127.0.0.1:7007},
    C{[::1]:7007} or a UNIX socket path.
    """
    host = getattr(address, "host", None)
    port = getattr(address, "port", None)
    if host is not None and port is not None:
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    name = getattr(address, "name", None)
    if isinstance(name, bytes):
        name = name.decode("utf-8", "replace")
    return str(name) if name else str(address)


_LABEL_OPTIONS = frozenset({"interface", "domain", "name", "index", "port"})


def listenerLabel(description: str) -> str:
    """
    Name a listener for metrics: its endpoint string without the options
    that say nothing about where it listens (certificate paths, backlog).
    """
    try:
        args, kwargs = _parse(description)
    except ValueError:
        return description
    parts = [quoteStringArgument(arg) for arg in args]
    parts += [
        f"{key}={quoteStringArgument(value)}"
        for key, value in kwargs.items()
        if key in _LABEL_OPTIONS
    ]
    return ":".join(parts)
