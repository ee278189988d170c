"""
Tests for L{echohub.ops._access} and L{echohub.ops._metrics}: what each connection
counts and logs, and the caps as the line and HTTP clients see them.
"""

from __future__ import annotations

from prometheus_client import generate_latest
from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.logger import Logger, formatEvent, globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.resource import Resource
from twisted.web.test.requesthelper import DummyRequest

from echohub.config import LineConfig, WebConfig
from echohub.line._protocol import LineEchoFactory
from echohub.ops._access import FLUSH_INTERVAL, ServiceAccess, logAccess
from echohub.ops._caps import ConnectionCaps
from echohub.ops._metrics import Metrics, _Flushing
from echohub.web import buildSite

PEER = IPv4Address("TCP", "192.0.2.5", 4000)


class AccessTests(SynchronousTestCase):
    """
    L{ServiceAccess} admits under the caps, counts, and logs each closed
    connection once.
    """

    def setUp(self) -> None:
        self.events: list[dict[str, object]] = []
        globalLogPublisher.addObserver(self.events.append)
        self.addCleanup(globalLogPublisher.removeObserver, self.events.append)
        self.clock = Clock()
        self.metrics = Metrics(processStats=False)

    def sample(self, name: str, **labels: str) -> float:
        return self.metrics.registry.get_sample_value(name, labels) or 0.0

    def lineFactory(self, perPeer: int) -> LineEchoFactory:
        access = ServiceAccess(
            "line", ConnectionCaps(0, perPeer), self.clock, self.metrics
        )
        return LineEchoFactory(
            LineConfig(), self.clock, access=access, listener="tcp:7007"
        )

    def connect(self, factory: LineEchoFactory) -> tuple[object, StringTransport]:
        protocol = factory.buildProtocol(PEER)
        transport = StringTransport(peerAddress=PEER)
        protocol.makeConnection(transport)
        return protocol, transport

    def test_lineConnectionCountedAndLogged(self) -> None:
        """
        An echoed line connection counts its bytes and lines, and on close
        writes one access log event with peer, bytes, duration and reason.
        """
        protocol, transport = self.connect(self.lineFactory(10))
        protocol.dataReceived(b"one\ntwo\n")  # type: ignore[attr-defined]
        self.clock.advance(2)
        protocol.readConnectionLost()  # type: ignore[attr-defined]
        protocol.connectionLost(None)  # type: ignore[attr-defined]
        labels = {"service": "line", "listener": "tcp:7007"}
        self.assertEqual(self.sample("echohub_connections_total", **labels), 1)
        self.assertEqual(self.sample("echohub_connections_open", **labels), 0)
        self.assertEqual(self.sample("echohub_lines_echoed_total"), 2)
        self.assertEqual(self.sample("echohub_received_bytes_total", service="line"), 8)
        self.assertEqual(self.sample("echohub_sent_bytes_total", service="line"), 8)
        [event] = [e for e in self.events if e.get("reason") == "client closed"]
        self.assertEqual(
            (event["peer"], event["bytes_in"], event["bytes_out"], event["duration"]),
            ("192.0.2.5:4000", 8, 8, 2),
        )

    def test_countsReachMetricsWithinASecond(self) -> None:
        """
        Bytes and lines of an open connection are batched: no counter moves
        on the read itself, and all of them are in the metrics once
        L{FLUSH_INTERVAL} has passed; later counts start a new batch, and
        what a connection counted since the last flush is in the metrics as
        soon as it closes.
        """
        protocol, transport = self.connect(self.lineFactory(10))
        protocol.dataReceived(b"one\ntw")  # type: ignore[attr-defined]
        self.assertEqual(self.sample("echohub_received_bytes_total", service="line"), 0)
        self.clock.advance(FLUSH_INTERVAL)
        self.assertEqual(self.sample("echohub_received_bytes_total", service="line"), 6)
        self.assertEqual(self.sample("echohub_sent_bytes_total", service="line"), 4)
        self.assertEqual(self.sample("echohub_lines_echoed_total"), 1)
        protocol.dataReceived(b"o\n")  # type: ignore[attr-defined]
        self.clock.advance(FLUSH_INTERVAL / 2)
        self.assertEqual(self.sample("echohub_lines_echoed_total"), 1)
        self.clock.advance(FLUSH_INTERVAL / 2)
        self.assertEqual(self.sample("echohub_lines_echoed_total"), 2)
        self.assertEqual(self.sample("echohub_received_bytes_total", service="line"), 8)
        # While the connection is open its counts are read once a second;
        # what it counted before it closed goes with the next flush, then
        # nothing is scheduled but its close.
        self.assertEqual(len(self.clock.getDelayedCalls()), 2)
        protocol.dataReceived(b"three\n")  # type: ignore[attr-defined]
        protocol.connectionLost(None)  # type: ignore[attr-defined]
        self.clock.advance(FLUSH_INTERVAL)
        self.assertEqual(self.sample("echohub_lines_echoed_total"), 3)
        self.assertEqual(
            self.sample("echohub_received_bytes_total", service="line"), 14
        )
        self.clock.advance(FLUSH_INTERVAL)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_flushBeforeExposition(self) -> None:
        """
        Reading C{/metrics} flushes first: the counts are exact when read,
        whenever the next flush would have come.
        """
        factory = self.lineFactory(10)
        self.metrics.beforeExposition(factory.access.flush)
        rendered: list[float] = []
        sample = self.sample

        class Inner(Resource):
            isLeaf = True

            def render(self, request: object) -> bytes:
                rendered.append(sample("echohub_lines_echoed_total"))
                return b""

        protocol, _ = self.connect(factory)
        protocol.dataReceived(b"a\nb\n")  # type: ignore[attr-defined]
        resource = _Flushing(Inner(), self.metrics._flushes)
        resource.render(DummyRequest([b"metrics"]))
        self.assertEqual(rendered, [2])

    def test_lineOverCapGetsErrorLine(self) -> None:
        """
        A line client over its per-peer cap gets one C{ERROR} line and is
        closed, counted as a C{peer_cap} rejection and not as a connection.
        """
        factory = self.lineFactory(1)
        self.connect(factory)
        protocol, transport = self.connect(factory)
        self.assertEqual(
            transport.value(),
            b"ERROR too many connections (peer_cap); try again later\n",
        )
        self.assertTrue(transport.disconnecting)
        self.assertEqual(
            self.sample("echohub_rejections_total", service="line", reason="peer_cap"),
            1,
        )
        self.assertEqual(len(factory.access.caps), 1)

    def test_httpOverCapGets503(self) -> None:
        """
        An HTTP client over the cap gets C{503} and a closed connection.
        """
        access = ServiceAccess("web", ConnectionCaps(1, 0), self.clock, self.metrics)
        site = buildSite(WebConfig(), self.clock, access=access)
        first = site.buildProtocol(PEER)
        first.makeConnection(StringTransport(peerAddress=PEER))
        second = site.buildProtocol(PEER)
        transport = StringTransport(peerAddress=PEER)
        second.makeConnection(transport)
        self.assertTrue(transport.value().startswith(b"HTTP/1.1 503 "))
        self.assertTrue(transport.disconnecting)
        self.assertEqual(
            self.sample("echohub_rejections_total", service="web", reason="cap"), 1
        )
        self.assertEqual(self.sample("echohub_http_requests_total", code="503"), 1)

    def test_exposition(self) -> None:
        """
        The registry exposes echohub's metrics in Prometheus text format,
        and with process stats on, the process collector's too.
        """
        text = generate_latest(Metrics().registry).decode()
        for name in (
            "echohub_connections_open",
            "echohub_rejections_total",
            "echohub_draining",
            "process_cpu_seconds_total",
        ):
            self.assertIn(f"# TYPE {name.removesuffix('_total')}", text)


class HealthTests(SynchronousTestCase):
    """
    C{/healthz} follows the process's drain state.
    """

    def test_503WhileDraining(self) -> None:
        """
        C{/healthz} is C{200 ok} while serving and C{503 draining} once the
        registry drains, so a load balancer stops sending new connections.
        """
        from echohub.ops._connections import ConnectionRegistry

        clock = Clock()
        registry = ConnectionRegistry()
        site = buildSite(WebConfig(), clock, registry)

        def connect() -> tuple[object, StringTransport]:
            channel = site.buildProtocol(PEER)
            transport = StringTransport(peerAddress=PEER)
            channel.makeConnection(transport)
            channel.dataReceived(b"GET /healthz HTTP/1.1\r\n")
            return channel, transport

        channel, transport = connect()
        channel.dataReceived(b"Host: x\r\n\r\n")  # type: ignore[attr-defined]
        self.assertTrue(transport.value().startswith(b"HTTP/1.1 200 "))
        channel, transport = connect()
        registry.drain(clock, 1)
        channel.dataReceived(b"Host: x\r\n\r\n")  # type: ignore[attr-defined]
        response = transport.value()
        self.assertTrue(response.startswith(b"HTTP/1.1 503 "), response)
        self.assertIn(b"Connection: close", response)
        self.assertTrue(response.endswith(b"draining\n"))


class LogAccessTests(SynchronousTestCase):
    """
    L{logAccess} writes every service's access line in one shape, as a
    preformatted event that keeps its fields.
    """

    def setUp(self) -> None:
        self.events: list[dict[str, object]] = []
        globalLogPublisher.addObserver(self.events.append)
        self.addCleanup(globalLogPublisher.removeObserver, self.events.append)

    def test_connectionLine(self) -> None:
        """
        Without a request the line is peer, bytes, duration and the detail.
        """
        logAccess(Logger(), "line", "192.0.2.5:4000", 8, 9, 2.0, detail=", idle")
        [event] = self.events
        self.assertEqual(
            formatEvent(event),
            "line access: 192.0.2.5:4000 8 bytes in, 9 bytes out, 2.000 s, idle",
        )
        self.assertEqual(event["log_format"], "{log_text}")
        self.assertEqual(
            (event["service"], event["peer"], event["bytes_in"], event["bytes_out"]),
            ("line", "192.0.2.5:4000", 8, 9),
        )

    def test_requestLineAndFields(self) -> None:
        """
        A request goes between the peer and the bytes; extra fields are
        kept in the event.
        """
        logAccess(
            Logger(), "web", "[::1]:5", 0, 3, 0.0004, "GET / 200", "; ws", status=200
        )
        [event] = self.events
        self.assertEqual(
            formatEvent(event),
            "web access: [::1]:5 GET / 200 0 bytes in, 3 bytes out, 0.000 s; ws",
        )
        self.assertEqual(event["status"], 200)
