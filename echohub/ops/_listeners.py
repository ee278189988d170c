# -*- test-case-name: tests.ops.test_listeners -*-
"""
Listening on endpoint description strings, with errors an operator can act on.

Twisted's L{serverFromString} reports a bad string as a bare C{ValueError}
(C{invalid literal for int()}) and a bare L{StreamServerEndpointService} only
logs a failure to bind.  Here every such failure becomes one line that names
the service and the endpoint string, and a failure to bind fails start-up.
"""

from __future__ import annotations

from typing import Any, Protocol

from twisted.application.service import Service
from twisted.internet.defer import CancelledError, Deferred, succeed
from twisted.internet.interfaces import IListeningPort
from twisted.logger import Logger
from twisted.python.failure import Failure

from echohub._net import formatAddress


class Listenable(Protocol):
    """
    What L{ListeningService} listens on: a Twisted stream server endpoint,
    or one of echohub's datagram endpoints (L{echohub.udp}), which listen
    the same way.
    """

    def listen(self, factory: Any, /) -> Deferred[IListeningPort]:
        """
        Listen with C{factory} (a protocol factory, or a datagram protocol).
        """


class ListenError(Exception):
    """
    A listener could not bind; the message names the service and endpoint.
    """


class ListeningService(Service):
    """
    Listen on one endpoint for one of echohub's services.

    Unlike L{twisted.application.internet.StreamServerEndpointService}, which
    only logs a failure to bind, this binds in L{privilegedStartService} and
    raises L{ListenError} there, so twistd cannot run with a listener
    missing; and it logs the address actually bound (useful with port 0).

    Why not a subclass of C{StreamServerEndpointService}: its bind-or-fail
    start-up is switched on only by the private C{_raiseSynchronously}
    attribute (which C{strports.service} sets).  The one public way to make
    its C{privilegedStartService} raise is an endpoint whose C{listen}
    raises instead of returning a failed L{Deferred}, which breaks
    L{IStreamServerEndpoint}'s contract and works only as long as the base
    class does not wrap the call in C{maybeDeferred}.  Start and stop are a
    few lines on L{Service}, so this class keeps its own.

    @ivar port: the listening port, once bound.
    """

    log = Logger()

    def __init__(
        self,
        serviceName: str,
        description: str,
        endpoint: Listenable,
        factory: object,
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
