"""
Tests for L{echohub.grpc._health}: C{grpc.health.v1.Health} over a real
HTTP/2 client in memory.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from echohub.grpc import Code
from echohub.testing import H2Client
from tests.grpc.support import SCHEMA, HealthCheckRequest, HealthCheckResponse

CHECK = "grpc.health.v1.Health/Check"
LIST = "grpc.health.v1.Health/List"
WATCH = "grpc.health.v1.Health/Watch"
SERVING, NOT_SERVING, SERVICE_UNKNOWN = 1, 2, 3


def check(service: str) -> bytes:
    return bytes(HealthCheckRequest(service=service).SerializeToString())


def statuses(messages: list[bytes]) -> list[int]:
    return [HealthCheckResponse.FromString(m).status for m in messages]


class HealthTests(SynchronousTestCase):
    """
    The server and its services are C{SERVING}, then C{NOT_SERVING} once
    the process drains.
    """

    def setUp(self) -> None:
        self.client = H2Client()

    def call(self, method: str, request: bytes, end: bool = True) -> int:
        return self.client.grpc(method, [request], end=end)

    def test_check(self) -> None:
        """
        C{""} (the server) and each service are C{SERVING}.
        """
        for service in ("", "grpc.examples.echo.Echo", "grpc.health.v1.Health"):
            answer = self.client.responses[self.call(CHECK, check(service))].grpc()
            self.assertEqual((answer.status, statuses(answer.messages)), (0, [SERVING]))

    def test_checkUnknown(self) -> None:
        """
        A service the server does not offer is C{NOT_FOUND}.
        """
        answer = self.client.responses[self.call(CHECK, check("nope.Nope"))].grpc()
        self.assertEqual(answer.status, Code.NOT_FOUND)

    def test_checkDraining(self) -> None:
        """
        A draining server is C{NOT_SERVING}.
        """
        self.client.site.connections.draining = True
        answer = self.client.responses[self.call(CHECK, check(""))].grpc()
        self.assertEqual(statuses(answer.messages), [NOT_SERVING])

    def test_list(self) -> None:
        """
        C{List}: every service and the server, each C{SERVING}.
        """
        answer = self.client.responses[self.call(LIST, b"")].grpc()
        response = SCHEMA.message("grpc.health.v1.HealthListResponse")
        [message] = answer.messages
        found = {k: v.status for k, v in response.FromString(message).statuses.items()}
        self.assertEqual(
            found,
            dict.fromkeys(["", *SCHEMA.services], SERVING),
        )

    def test_watch(self) -> None:
        """
        C{Watch} sends the status at once and stays open; the server's
        drain sends C{NOT_SERVING}.
        """
        streamID = self.call(WATCH, check(""))
        response = self.client.responses[streamID]
        self.assertEqual(statuses(response.grpc().messages), [SERVING])
        self.assertFalse(response.ended)
        self.client.site.connections.draining = True
        self.client.server.chosen.drain()
        self.client.read()
        self.assertEqual(statuses(response.grpc().messages), [SERVING, NOT_SERVING])

    def test_watchUnknown(self) -> None:
        """
        C{Watch} of an unknown service answers C{SERVICE_UNKNOWN} and stays
        open, as the protocol says.
        """
        response = self.client.responses[self.call(WATCH, check("nope.Nope"))]
        self.assertEqual(statuses(response.grpc().messages), [SERVICE_UNKNOWN])
        self.assertFalse(response.ended)
