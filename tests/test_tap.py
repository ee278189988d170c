"""
Tests for L{echohub.tap}: the plugin's options, and the plugin end to end.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

from twisted.internet.testing import MemoryReactorClock
from twisted.python.usage import UsageError
from twisted.trial.unittest import SynchronousTestCase

from echohub.ops._listeners import ListeningService
from echohub.ops._logs import (
    DescriptorExhaustionFilter,
    JSONLinesObserver,
    NoiseFilter,
)
from echohub.tap import Options, configFromEnvironment, makeService, serviceFromConfig
from tests.support import TWIST, TWISTD, EchohubProcess, recvUntil


class OptionsTests(SynchronousTestCase):
    """
    L{Options} turns the command line into configuration overrides.
    """

    def parse(self, *argv: str) -> dict[tuple[str, str], object]:
        options = Options()
        options.parseOptions(list(argv))
        return options.overrides()

    def test_repeatableListen(self) -> None:
        """
        C{--line} and C{--web} may be repeated; each adds endpoints.
        """
        overrides = self.parse("--line", "tcp:1", "--line", "tcp:2", "--web", "unix:/x")
        self.assertEqual(overrides[("line", "listen")], ("tcp:1", "tcp:2"))
        self.assertEqual(overrides[("web", "listen")], ("unix:/x",))

    def test_echoAndUDPListen(self) -> None:
        """
        C{--echo} and C{--udp} give the byte echo and the UDP echo their
        endpoints.
        """
        overrides = self.parse(
            "--echo", "tcp:7008", "--udp", "udp:7007", "--udp-rate", "5"
        )
        self.assertEqual(overrides[("echo", "listen")], ("tcp:7008",))
        self.assertEqual(overrides[("udp", "listen")], ("udp:7007",))
        self.assertEqual(overrides[("udp", "rate")], "5")

    def test_emptyListenTurnsServiceOff(self) -> None:
        """
        C{--web=} gives the web service no listener.
        """
        self.assertEqual(self.parse("--web=")[("web", "listen")], ())

    def test_limits(self) -> None:
        """
        Every other setting is a C{--section-key} option.
        """
        overrides = self.parse("--line-max-line-length", "10", "--web-max-body", "5")
        self.assertEqual(overrides[("line", "max_line_length")], "10")
        self.assertEqual(overrides[("web", "max_body")], "5")

    def test_unsetOptionsDoNotOverride(self) -> None:
        """
        Options not given leave the environment and file in charge.
        """
        self.assertEqual(self.parse(), {})

    def test_unknownOption(self) -> None:
        """
        An unknown option is a usage error.
        """
        self.assertRaises(UsageError, self.parse, "--line-max-line-lenght", "3")


class ServiceFromConfigTests(SynchronousTestCase):
    """
    L{configFromEnvironment} loads the configuration once and
    L{serviceFromConfig} builds the service from it; either exits with one
    line on a configuration error.
    """

    def test_builds(self) -> None:
        """
        A valid configuration gives one listener per endpoint string.
        """
        config = configFromEnvironment(
            {("line", "listen"): "tcp:1 tcp:2", ("web", "listen"): "tcp:3"},
            environ={},
        )
        service = serviceFromConfig(config, environ={}, reactor=MemoryReactorClock())
        names = sorted(
            child.name for child in service if isinstance(child, ListeningService)
        )
        self.assertEqual(names, ["line tcp:1", "line tcp:2", "web tcp:3"])

    def test_configErrorExits(self) -> None:
        """
        A configuration error is a C{SystemExit} whose message is one line.
        """
        error = self.assertRaises(
            SystemExit,
            configFromEnvironment,
            {("line", "max_line_length"): "many"},
            environ={},
        )
        self.assertEqual(str(error).count("\n"), 0)
        self.assertIn("echohub: configuration error", str(error))
        self.assertIn("max_line_length", str(error))

    def test_endpointErrorExits(self) -> None:
        """
        An endpoint string that only fails when the listener is built is a
        one-line C{SystemExit} too.
        """
        config = configFromEnvironment(
            {("line", "listen"): "nosuchprefix:1", ("web", "listen"): ""}, environ={}
        )
        error = self.assertRaises(
            SystemExit,
            serviceFromConfig,
            config,
            environ={},
            reactor=MemoryReactorClock(),
        )
        self.assertEqual(str(error).count("\n"), 0)
        self.assertIn("nosuchprefix:1", str(error))


class TwistLogObserverTests(SynchronousTestCase):
    """
    Under C{twist}, L{makeService} makes C{[server] log_format} choose the
    log observer.  C{twist}'s options are a mapping whose
    C{fileLogObserverFactory} it has filled in before the plugin runs; a
    dictionary stands in for them.
    """

    def test_logFormatChoosesObserver(self) -> None:
        """
        C{--server-log-format json} replaces twist's observer factory with
        one that writes echohub's JSON lines to the file twist hands it.
        """
        options = Options()
        parent: dict[str, Any] = {"fileLogObserverFactory": "twist's default"}
        options.parent = parent
        options.parseOptions(["--line=", "--web=", "--server-log-format", "json"])
        makeService(options)
        out = io.StringIO()
        observer = parent["fileLogObserverFactory"](out)
        assert isinstance(observer, DescriptorExhaustionFilter)
        assert isinstance(observer.observer, NoiseFilter)
        self.assertIsInstance(observer.observer.observer, JSONLinesObserver)

    def test_twistdUntouched(self) -> None:
        """
        Under twistd (whose options have no observer factory) nothing is
        added to the parent's options.
        """
        options = Options()
        parent: dict[str, Any] = {"logger": None}
        options.parent = parent
        options.parseOptions(["--line=", "--web="])
        makeService(options)
        self.assertEqual(parent, {"logger": None})


def test_twistPlugin(echohub: Callable[..., EchohubProcess]) -> None:
    """
    C{twist echohub --line ... --web=} runs the line service with the
    options' limits.
    """
    process = echohub(
        {},
        listeners=1,
        args=[
            str(TWIST),
            "echohub",
            "--line",
            "tcp:0:interface=127.0.0.1",
            "--web=",
            "--line-max-line-length",
            "10",
        ],
    )
    with process.connect("line") as sock:
        sock.sendall(b"short\nthis is too long\n")
        reply = recvUntil(sock, 200)
    assert reply.startswith(b"short\nERROR ")
    assert b"10 bytes" in reply


def test_twistHonoursLogFormat(echohub: Callable[..., EchohubProcess]) -> None:
    """
    C{twist echohub} writes C{[server] log_format} lines: with C{json},
    echohub's JSON objects (no RFC 7464 record separator, a C{message}
    field), as under twistd.
    """
    process = echohub(
        {"ECHOHUB_SERVER_LOG_FORMAT": "json"},
        listeners=1,
        args=[str(TWIST), "echohub", "--line", "tcp:0:interface=127.0.0.1", "--web="],
    )
    lines = [line for line in process.output.splitlines() if line.strip()]
    assert lines and all(not line.startswith("\x1e") for line in lines), lines
    records = [json.loads(line) for line in lines]
    assert any("line listening on" in r["message"] for r in records), records


def test_twistdPlugin(echohub: Callable[..., EchohubProcess]) -> None:
    """
    C{twistd -n echohub} builds the same service.
    """
    process = echohub(
        {},
        listeners=2,
        args=[
            str(TWISTD),
            "--pidfile=",
            "-n",
            "echohub",
            "--line",
            "tcp:0:interface=127.0.0.1",
            "--web",
            "tcp:0:interface=127.0.0.1",
        ],
    )
    with process.connect("line") as sock:
        sock.sendall(b"via twistd\n")
        assert recvUntil(sock, 11) == b"via twistd\n"
