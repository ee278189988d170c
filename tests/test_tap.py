"""
Tests for L{echohub.tap}: the plugin's options, and the plugin end to end.
"""

from __future__ import annotations

from collections.abc import Callable

from twisted.internet.testing import MemoryReactorClock
from twisted.python.usage import UsageError
from twisted.trial.unittest import SynchronousTestCase

from echohub.ops._listeners import ListeningService
from echohub.tap import Options, serviceFromEnvironment
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


class ServiceFromEnvironmentTests(SynchronousTestCase):
    """
    L{serviceFromEnvironment} builds the service or exits with one line.
    """

    def test_builds(self) -> None:
        """
        A valid configuration gives one listener per endpoint string.
        """
        service = serviceFromEnvironment(
            {("line", "listen"): "tcp:1 tcp:2", ("web", "listen"): "tcp:3"},
            environ={},
            reactor=MemoryReactorClock(),
        )
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
            serviceFromEnvironment,
            {("line", "max_line_length"): "many"},
            environ={},
            reactor=MemoryReactorClock(),
        )
        self.assertEqual(str(error).count("\n"), 0)
        self.assertIn("echohub: configuration error", str(error))
        self.assertIn("max_line_length", str(error))


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
