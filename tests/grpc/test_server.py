"""
Tests for L{echohub.grpc._server}: what a call's end leaves behind: one
access-log line, the counters per method and status (unknown methods
folded into one label), and for a call that broke the protocol a
rejection, counted and logged at most once per interval.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import generate_latest
from twisted.internet.testing import EventLoggingObserver
from twisted.logger import globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase

from tests.grpc.support import (
    BIDI,
    UNARY,
    RecordingStream,
    framed,
    headers,
    server,
)


def events(observer: EventLoggingObserver, prefix: str) -> list[dict[str, Any]]:
    return [e for e in observer if str(e.get("log_text", "")).startswith(prefix)]


class ObservabilityTests(SynchronousTestCase):
    """
    One line per call, counters per method and status.
    """

    def setUp(self) -> None:
        self.observer = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)
        self.grpc, self.clock, _, self.metrics = server()

    def call(self, method: str, body: bytes, *metadata: tuple[bytes, bytes]) -> None:
        call = self.grpc.call(RecordingStream(), headers(method, *metadata))
        call.dataReceived(body)
        call.ended()

    def exposition(self) -> str:
        self.grpc.access.flush()
        return generate_latest(self.metrics.registry).decode()

    def test_accessLine(self) -> None:
        """
        Each call writes one line, in the shape of every service's: the
        peer, the method and status, bytes, time, messages; the event keeps
        the fields.
        """
        self.clock.advance(1)
        self.call(BIDI, framed("a", "bc"))
        [event] = events(self.observer, "grpc access")
        self.assertEqual(
            event["log_text"],
            "grpc access: 127.0.0.1:50000 /grpc.examples.echo.Echo/"
            "BidirectionalStreamingEcho OK 17 bytes in, 17 bytes out, 0.000 s,"
            " messages in 2, out 2",
        )
        self.assertEqual(event["status"], 0)
        self.assertEqual((event["messages_in"], event["messages_out"]), (2, 2))
        self.assertEqual(event["protocol"], "grpc")

    def test_counters(self) -> None:
        """
        Calls by method and status name; messages by method; bytes and
        echoes in the web service's counters.
        """
        self.call(UNARY, framed("x"))
        self.call(UNARY, framed("x"), (b"echo-status", b"5"))
        self.call(BIDI, framed("a", "b", "c"))
        text = self.exposition()
        for line in (
            'echohub_grpc_calls_total{code="OK",method="grpc.examples.echo.Echo/'
            'UnaryEcho"} 1.0',
            'echohub_grpc_calls_total{code="NOT_FOUND",method="grpc.examples.echo.Echo/'
            'UnaryEcho"} 1.0',
            'echohub_grpc_received_messages_total{method="grpc.examples.echo.Echo/'
            'BidirectionalStreamingEcho"} 3.0',
            'echohub_grpc_sent_messages_total{method="grpc.examples.echo.Echo/'
            'UnaryEcho"} 1.0',
            'echohub_messages_echoed_total{service="web"} 4.0',
            'echohub_received_bytes_total{service="web"} 40.0',
        ):
            self.assertIn(line, text)

    def test_unknownFolded(self) -> None:
        """
        Every method the server does not offer counts under C{unknown}: a
        client cannot grow the metrics.
        """
        for index in range(20):
            self.call(f"scan.Service/Method{index}", b"")
        self.assertIn(
            'echohub_grpc_calls_total{code="UNIMPLEMENTED",method="unknown"} 20.0',
            self.exposition(),
        )
        self.assertNotIn("Method1", self.exposition())

    def test_rejection(self) -> None:
        """
        A call that breaks the protocol is counted as a rejection and logged
        once per interval, with a count of the rest.
        """
        for _ in range(3):
            call = self.grpc.call(
                RecordingStream(), [(n, v) for n, v in headers() if n != b"te"]
            )
            self.assertTrue(call.done)
        warnings = [
            e for e in self.observer if "malformed gRPC" in str(e.get("log_format"))
        ]
        self.assertEqual(len(warnings), 1)
        self.assertIn("te: trailers", warnings[0]["why"])
        self.assertIn(
            'echohub_rejections_total{reason="malformed",service="web"} 3.0',
            self.exposition(),
        )
        self.assertEqual(len(events(self.observer, "grpc access")), 3)
