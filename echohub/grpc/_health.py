# -*- test-case-name: tests.grpc.test_health -*-
"""
gRPC health checking, C{grpc.health.v1.Health} (grpc/grpc
C{doc/health-checking.md}): C{Check}, C{List} and C{Watch}.

The server (service C{""}) and each of its services are C{SERVING} while
the process serves and C{NOT_SERVING} once it drains (as C{/healthz}
answers C{503}), so that a load balancer checking over gRPC stops sending
calls while those in flight finish.  C{Check} of a service the server does
not offer is C{NOT_FOUND}; C{Watch} of one answers C{SERVICE_UNKNOWN} and
stays open, as the protocol says.  A C{Watch} sends the status at once,
then again when draining changes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

from echohub.grpc._call import Call, Handler, Method
from echohub.grpc._schema import HEALTH_SERVICE, Schema
from echohub.grpc._wire import Code
from echohub.ops import ConnectionRegistry

SERVING = 1
NOT_SERVING = 2
SERVICE_UNKNOWN = 3


class HealthState:
    """
    The serving status of the server and each of its services.

    @ivar services: the names health checking knows: C{""} and every
        service's.
    """

    def __init__(self, services: Sequence[str], connections: ConnectionRegistry):
        self.services = ("", *services)
        self._connections = connections

    def status(self, service: str) -> int | None:
        """
        C{service}'s status, or L{None} if the server does not offer it.
        """
        if service not in self.services:
            return None
        return NOT_SERVING if self._connections.draining else SERVING


class _Health(Handler):
    def __init__(
        self, call: Call, state: HealthState, response: Any, listResponse: Any
    ) -> None:
        super().__init__(call)
        self.state = state
        self.response = response
        self.listResponse = listResponse


class _Check(_Health):
    def received(self, request: Any) -> None:
        status = self.state.status(request.service)
        if status is None:
            self.call.finish(Code.NOT_FOUND, f"unknown service {request.service!r}")
        else:
            self.call.reply(self.response(status=status))


class _List(_Health):
    def received(self, request: Any) -> None:
        answer = self.listResponse()
        for service in self.state.services:
            answer.statuses[service].status = self.state.status(service)
        self.call.reply(answer)


class _Watch(_Health):
    """
    The status now, then each change, until the call ends.
    """

    _service = ""
    _sent: int | None = None

    def received(self, request: Any) -> None:
        self._service = request.service

    def ended(self) -> None:
        self._update()

    def drain(self) -> None:
        self._update()

    def _update(self) -> None:
        status = self.state.status(self._service)
        if status is None:
            status = SERVICE_UNKNOWN
        if status != self._sent:
            self._sent = status
            self.call.send(self.response(status=status))


def healthMethods(schema: Schema, state: HealthState) -> list[Method]:
    """
    The health checking service's methods.
    """
    package = HEALTH_SERVICE.rsplit(".", 1)[0]
    request = schema.message(f"{package}.HealthCheckRequest")
    response = schema.message(f"{package}.HealthCheckResponse")
    kinds: list[tuple[str, type[_Health], Any, bool]] = [
        ("Check", _Check, request, False),
        ("List", _List, schema.message(f"{package}.HealthListRequest"), False),
        ("Watch", _Watch, request, True),
    ]
    return [
        Method(
            f"/{HEALTH_SERVICE}/{name}".encode(),
            requestType,
            False,
            serverStreams,
            partial(
                kind,
                state=state,
                response=response,
                listResponse=schema.message(f"{package}.HealthListResponse"),
            ),
        )
        for name, kind, requestType, serverStreams in kinds
    ]
