# -*- test-case-name: tests.test_listeners -*-
"""
Listening on endpoint description strings, with errors an operator can act on.

Twisted's L{serverFromString} reports a bad string as a bare C{ValueError}
(C{invalid literal for int()}) and a bare L{StreamServerEndpointService} only
logs a failure to bind.  Here every such failure becomes one line that names
the service and the endpoint string, and a failure to bind fails start-up.
"""

from __future__ import annotations

from twisted.application.service import Service
from twisted.internet.defer import CancelledError, Deferred, succeed
from twisted.internet.endpoints import serverFromString
from twisted.internet.interfaces import (
    IAddress,
    IListeningPort,
    IProtocolFactory,
    IStreamServerEndpoint,
)
from twisted.logger import Logger
from twisted.python.failure import Failure

from echohub.config import ConfigError
from echohub.tls import TLSConfigError, sslServerEndpoint


class ListenError(Exception):
    """
    A listener could not bind; the message names the service and endpoint.
    """


def serverEndpoint(reactor: object, description: str) -> IStreamServerEndpoint:
    """
    Parse one server endpoint description string.

    C{ssl:} strings are built by L{echohub.tls}; every other prefix (C{tcp:},
    C{tcp6:}, C{unix:}, C{systemd:}, plugins) by Twisted.

    @raise ConfigError: naming the string and what is wrong with it.
    """
    prefix = description.split(":", 1)[0].lower()
    try:
        if prefix == "ssl":
            return sslServerEndpoint(reactor, description)  # type: ignore[arg-type]
        endpoint: IStreamServerEndpoint = serverFromString(reactor, description)
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
