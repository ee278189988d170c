# -*- test-case-name: tests.test_listeners -*-
"""
Listening on endpoint description strings, with errors an operator can act on.

Twisted's L{serverFromString} reports a bad string as a bare C{ValueError}
(C{invalid literal for int()}) and a bare L{StreamServerEndpointService} only
logs a failure to bind.  Here every such failure becomes one line that names
the service and the endpoint string, and a failure to bind fails start-up.
"""

from __future__ import annotations

from twisted.application.internet import StreamServerEndpointService
from twisted.internet.endpoints import serverFromString
from twisted.internet.interfaces import IProtocolFactory, IStreamServerEndpoint

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


class ListeningService(StreamServerEndpointService):
    """
    Listen on one endpoint for one of echohub's services.

    Binding happens in L{privilegedStartService} and a failure raises
    L{ListenError} there, so twistd cannot start with a listener missing.
    """

    def __init__(
        self,
        serviceName: str,
        description: str,
        endpoint: IStreamServerEndpoint,
        factory: IProtocolFactory,
    ) -> None:
        super().__init__(endpoint, factory)
        self._raiseSynchronously = True
        self.description = description
        self.setName(f"{serviceName} {description}")

    def privilegedStartService(self) -> None:
        """
        Bind now; report a failure with the service and endpoint named.
        """
        try:
            super().privilegedStartService()
        except Exception as e:
            raise ListenError(f"{self.name}: cannot listen: {e}") from e
