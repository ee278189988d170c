"""
Tests for L{echohub.service}: assembly, all-or-nothing start, draining stop.
"""

from __future__ import annotations

from twisted.internet.address import IPv4Address
from twisted.internet.error import ConnectionDone
from twisted.internet.testing import (
    EventLoggingObserver,
    MemoryReactorClock,
    StringTransport,
)
from twisted.logger import formatEvent, globalLogPublisher
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from echohub import __version__
from echohub.config import (
    Config,
    ConfigError,
    EchoConfig,
    LineConfig,
    ServerConfig,
    UDPConfig,
    WebConfig,
)
from echohub.line._protocol import DRAIN_GRACE
from echohub.ops._listeners import ListeningService
from echohub.service import makeService
from echohub.testing import RefusingEndpoint, temporaryDirectory
from echohub.tls import ensureDevCertificates
from echohub.udp import UDPEcho, UDPServerEndpoint


def config(
    line: tuple[str, ...] = ("tcp:7007",), web: tuple[str, ...] = ("tcp:8080",)
) -> Config:
    return Config(
        line=LineConfig(listen=line),
        web=WebConfig(listen=web),
    )


class MakeServiceTests(SynchronousTestCase):
    """
    L{makeService} wires one listener per endpoint string.
    """

    def test_listenersPerService(self) -> None:
        """
        Each endpoint string of each service becomes a bound port.
        """
        reactor = MemoryReactorClock()
        service = makeService(config(("tcp:1", "tcp:2"), ("tcp:3",)), reactor)
        service.privilegedStartService()
        service.startService()
        self.assertEqual(sorted(port for port, *_ in reactor.tcpServers), [1, 2, 3])

    def test_lingeringBoundsFromConfig(self) -> None:
        """
        C{[server] lingering_time} and C{lingering_timeout} reach every
        service's lingering close.
        """
        settings = Config(
            line=LineConfig(listen=("tcp:1",)),
            web=WebConfig(listen=("tcp:2",)),
            server=ServerConfig(lingering_time=7, lingering_timeout=2),
        )
        service = makeService(settings, MemoryReactorClock())
        self.assertEqual(
            {
                (a.service, a.lingering.total, a.lingering.idle)
                for a in service.accesses
            },
            {("line", 7, 2), ("echo", 7, 2), ("web", 7, 2)},
        )

    def test_serviceOff(self) -> None:
        """
        An empty listen list means no listener for that service.
        """
        reactor = MemoryReactorClock()
        service = makeService(config(web=()), reactor)
        listeners = [c.name for c in service if isinstance(c, ListeningService)]
        self.assertEqual(listeners, ["line tcp:7007"])

    def test_echoAndUDPListeners(self) -> None:
        """
        C{[echo] listen} and C{[udp] listen} each become listeners, the UDP
        ones with a receive buffer one byte over C{max_datagram}, so that a
        larger datagram is seen as too large rather than truncated to fit.
        """
        settings = Config(
            line=LineConfig(listen=()),
            web=WebConfig(listen=()),
            echo=EchoConfig(listen=("tcp:7008",)),
            udp=UDPConfig(listen=("udp:7007", "udp6:7007"), max_datagram=100),
        )
        service = makeService(settings, MemoryReactorClock())
        listeners = [c for c in service if isinstance(c, ListeningService)]
        self.assertEqual(
            [c.name for c in listeners],
            ["echo tcp:7008", "udp udp:7007", "udp udp6:7007"],
        )
        udp = listeners[1].endpoint
        assert isinstance(udp, UDPServerEndpoint)
        self.assertEqual(udp.maxPacketSize, 101)
        self.assertIsInstance(listeners[1].factory, UDPEcho)
        self.assertIs(listeners[1].factory.limits, listeners[2].factory.limits)  # type: ignore[attr-defined]

    def test_badUDPStringNamed(self) -> None:
        """
        A bad C{[udp] listen} string fails while the configuration is read,
        naming the string.
        """
        settings = Config(udp=UDPConfig(listen=("tcp:7007",)))
        error = self.assertRaises(
            ConfigError, makeService, settings, MemoryReactorClock()
        )
        self.assertIn("'tcp:7007'", str(error))

    def test_failedBindReleasesOthers(self) -> None:
        """
        When one listener cannot bind, those already bound are released and
        the process is told to exit.
        """
        reactor = MemoryReactorClock()
        service = makeService(config(), reactor)
        refusing = ListeningService("web", "tcp:9", RefusingEndpoint(), None)  # type: ignore[arg-type]
        refusing.setServiceParent(service)
        error = self.assertRaises(SystemExit, service.privilegedStartService)
        self.assertEqual(error.code, 1)
        bound = [child for child in service if isinstance(child, ListeningService)]
        self.assertTrue(all(child.port is None for child in bound))
        self.assertTrue(reactor.tcpServers)

    def test_stopDrainsConnections(self) -> None:
        """
        Stopping closes the listeners, asks open connections to finish, and
        completes only when they have closed.
        """
        reactor = MemoryReactorClock()
        service = makeService(config(web=()), reactor)
        service.privilegedStartService()
        service.startService()
        factory = reactor.tcpServers[0][1]
        protocol = factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 5000))
        transport = StringTransport()
        protocol.makeConnection(transport)
        protocol.dataReceived(b"pending")
        stopped = service.stopService()
        reactor.advance(DRAIN_GRACE)
        self.assertEqual(transport.value(), b"pending")
        self.assertTrue(transport.disconnecting)
        self.assertNoResult(stopped)
        protocol.connectionLost(Failure(ConnectionDone()))
        self.successResultOf(stopped)

    def test_stopAbortsAtDeadline(self) -> None:
        """
        A connection that does not close within the shutdown timeout is
        aborted, and the stop completes.
        """
        reactor = MemoryReactorClock()
        service = makeService(config(web=()), reactor)
        service.privilegedStartService()
        service.startService()
        protocol = reactor.tcpServers[0][1].buildProtocol(None)
        transport = StringTransport()
        protocol.makeConnection(transport)
        stopped = service.stopService()
        self.assertFalse(transport.disconnected)
        reactor.advance(3600)
        self.assertTrue(transport.disconnected)
        protocol.connectionLost(Failure(ConnectionDone()))
        self.successResultOf(stopped)


class LifecycleTests(SynchronousTestCase):
    """
    L{EchohubService} tells systemd when it serves and when it drains, and
    C{/healthz}'s state follows.
    """

    def test_readyThenStopping(self) -> None:
        """
        C{READY=1} is sent once the listeners are bound; stopping marks the
        registry draining (C{/healthz} then answers 503), sets the
        C{echohub_draining} gauge and sends C{STOPPING=1}.
        """
        from echohub.ops._metrics import Metrics
        from echohub.ops._notify import Notifier

        sent: list[dict[str, str]] = []

        class RecordingNotifier(Notifier):
            def notify(self, **fields: str) -> bool:
                sent.append(fields)
                return True

        reactor = MemoryReactorClock()
        metrics = Metrics(processStats=False)
        service = makeService(config(), reactor, metrics, RecordingNotifier({}))
        service.privilegedStartService()
        service.startService()
        self.assertEqual(sent, [{"READY": "1", "STATUS": "serving on 2 listener(s)"}])
        self.assertFalse(service.connections.draining)
        self.successResultOf(service.stopService())
        self.assertTrue(service.connections.draining)
        self.assertEqual(sent[1]["STOPPING"], "1")
        self.assertEqual(metrics.registry.get_sample_value("echohub_draining"), 1)


class AnnounceTests(SynchronousTestCase):
    """
    Once started, L{EchohubService} logs one line naming the URL of every
    listener (L{EchohubService.urls}); the C{echohub} command's first line.
    """

    def test_urls(self) -> None:
        """
        Each bound listener is named with its service and a URL whose scheme
        says what it speaks (C{tls} and C{https} over TLS); web URLs end in
        C{/}, the metrics listener's in C{/metrics}, a UNIX socket is a path.
        """
        certs = ensureDevCertificates(str(temporaryDirectory(self) / "certs"))
        tls = (
            f"ssl:7443:privateKey={certs.server.privateKey.path}"
            f":certKey={certs.server.certificate.path}"
        )
        settings = Config(
            line=LineConfig(listen=("tcp:7007", tls)),
            web=WebConfig(listen=("tcp:8080", tls.replace("7443", "8443"))),
            echo=EchoConfig(listen=("unix:/run/echo.sock",)),
            server=ServerConfig(metrics_listen=("tcp:9100",)),
        )
        service = makeService(settings, MemoryReactorClock())
        self.assertEqual(service.urls(), [])
        service.privilegedStartService()
        self.assertEqual(
            service.urls(),
            [
                "line tcp://0.0.0.0:7007",
                "line tls://0.0.0.0:7443",
                "echo unix:/run/echo.sock",
                "web http://0.0.0.0:8080/",
                "web https://0.0.0.0:8443/",
                "metrics http://0.0.0.0:9100/metrics",
            ],
        )

    def test_announcedOnce(self) -> None:
        """
        Starting logs C{echohub VERSION serving} and the URLs, once; a
        worker process (C{announce=False}) leaves it to its parent.
        """
        for announce in (True, False):
            observer = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)
            service = makeService(config(), MemoryReactorClock())
            service.announce = announce
            service.privilegedStartService()
            service.startService()
            lines = [
                formatEvent(event)
                for event in observer
                if " serving " in formatEvent(event)
            ]
            expected = (
                [
                    f"echohub {__version__} serving line tcp://0.0.0.0:7007,"
                    " web http://0.0.0.0:8080/"
                ]
                if announce
                else []
            )
            self.assertEqual(lines, expected)
            self.successResultOf(service.stopService())
