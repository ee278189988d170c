# -*- test-case-name: tests.test_service -*-
"""
Assembly of one echohub process: a L{MultiService} of listeners.

This module only wires: the protocols own their limits and timeouts, the
configuration is already validated, and each listener is one
L{ListeningService} per endpoint string.
"""

from __future__ import annotations

from typing import Any

from twisted.application.service import MultiService, Service
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IProtocolFactory, IReactorTime
from twisted.logger import Logger

from echohub.config import Config
from echohub.connections import ConnectionRegistry
from echohub.line import LineEchoFactory
from echohub.listeners import ListenError, ListeningService, serverEndpoint
from echohub.site import buildSite


class EchohubService(MultiService):
    """
    The whole of one echohub process.

    Start-up binds every listener or none; stopping closes the listeners at
    once, then drains the open connections (see L{ConnectionRegistry}).

    @ivar connections: every open connection of every service.
    """

    log = Logger()

    def __init__(self, config: Config, reactor: IReactorTime) -> None:
        super().__init__()
        self.config = config
        self.reactor = reactor
        self.connections = ConnectionRegistry()

    def addListeners(
        self, serviceName: str, descriptions: tuple[str, ...], factory: IProtocolFactory
    ) -> None:
        """
        Listen with C{factory} on each endpoint string.

        Every string is parsed here, before anything binds, so a bad one is
        reported while the configuration is read.
        """
        for description in descriptions:
            endpoint = serverEndpoint(self.reactor, description)
            ListeningService(serviceName, description, endpoint, factory).setServiceParent(
                self
            )

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

    def stopService(self) -> Deferred[None]:
        """
        Stop listening, then drain open connections within the configured
        shutdown timeout.
        """
        stopped: Deferred[Any] = super().stopService()
        timeout = self.config.server.shutdown_timeout

        def drain(_: object) -> Deferred[None]:
            self.log.info(
                "echohub stopping: draining {count} connection(s)",
                count=len(self.connections),
            )
            return self.connections.drain(self.reactor, timeout)

        return stopped.addCallback(drain)


def makeService(config: Config, reactor: Any = None) -> EchohubService:
    """
    Build the echohub service for C{config}.

    @param reactor: the reactor to listen with; the global one by default.
    @raise echohub.config.ConfigError: an endpoint string or a TLS file is
        unusable.
    """
    if reactor is None:
        from twisted.internet import reactor
    service = EchohubService(config, reactor)
    service.setName("echohub")
    service.addListeners(
        "line",
        config.line.listen,
        LineEchoFactory(config.line, reactor, service.connections),
    )
    service.addListeners(
        "web", config.web.listen, buildSite(config.web, reactor, service.connections)
    )
    return service
