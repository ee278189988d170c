"""
Tests for L{echohub.command}: the C{echohub} console command's shortcuts,
its deployment files, and the command end to end.
"""

from __future__ import annotations

import io
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

from twisted.python.usage import UsageError
from twisted.trial.unittest import SynchronousTestCase

from echohub import __version__
from echohub.command import (
    FILES,
    CommandOptions,
    healthcheck,
    healthConnection,
    main,
    writeDeployFiles,
)
from echohub.config import Config, WebConfig, allSettings
from echohub.testing import temporaryDirectory
from tests.support import ROOT, EchohubProcess, cleanEnvironment, recvUntil

ECHOHUB = Path(sys.executable).parent / "echohub"


class ShortcutTests(SynchronousTestCase):
    """
    The command's shortcuts only fill in existing settings.
    """

    def parse(self, *argv: str) -> dict[tuple[str, str], object]:
        options = CommandOptions()
        options.parseOptions(list(argv))
        return options.overrides()

    def test_none(self) -> None:
        """
        Without options nothing is overridden: the environment and the TOML
        files decide.
        """
        self.assertEqual(self.parse(), {})

    def test_ports(self) -> None:
        """
        C{--line-port} and C{--web-port} listen on C{--host}, loopback by
        default; an IPv6 host is a C{tcp6:} string, escaped.
        """
        self.assertEqual(
            self.parse("--line-port", "7000", "--web-port", "8000"),
            {
                ("line", "listen"): ("tcp:7000:interface=127.0.0.1",),
                ("web", "listen"): ("tcp:8000:interface=127.0.0.1",),
            },
        )
        self.assertEqual(
            self.parse("--host", "::", "--web-port", "0"),
            {("web", "listen"): (r"tcp6:0:interface=\:\:",)},
        )

    def test_tlsPorts(self) -> None:
        """
        The TLS shortcuts are C{ssl:} strings with the certificate and key;
        the key is the certificate's file unless C{--tls-key} names one.
        """
        self.assertEqual(
            self.parse("--web-tls-port", "8443", "--tls-cert", "/c/a:b.pem"),
            {
                ("web", "listen"): (
                    r"ssl:8443:interface=127.0.0.1:privateKey=/c/a\:b.pem"
                    r":certKey=/c/a\:b.pem",
                ),
            },
        )
        overrides = self.parse(
            "--line-tls-port=7443", "--tls-cert=cert.pem", "--tls-key=key.pem"
        )
        self.assertEqual(
            overrides[("line", "listen")],
            ("ssl:7443:interface=127.0.0.1:privateKey=key.pem:certKey=cert.pem",),
        )

    def test_tlsNeedsCertificate(self) -> None:
        """
        A TLS shortcut without C{--tls-cert} is a usage error.
        """
        self.assertRaises(UsageError, self.parse, "--web-tls-port", "8443")

    def test_badPort(self) -> None:
        """
        A port shortcut takes a port number.
        """
        self.assertRaises(UsageError, self.parse, "--web-port", "80800")
        self.assertRaises(UsageError, self.parse, "--web-port", "http")

    def test_shortcutsAddToListeners(self) -> None:
        """
        A shortcut adds to the listeners given with C{--web}.
        """
        self.assertEqual(
            self.parse("--web", "unix:/run/e.sock", "--web-port", "8000"),
            {("web", "listen"): ("unix:/run/e.sock", "tcp:8000:interface=127.0.0.1")},
        )

    def test_workers(self) -> None:
        """
        C{--workers N} is C{[server] workers}.
        """
        self.assertEqual(self.parse("--workers", "3"), {("server", "workers"): "3"})

    def test_configIsEnvironmentFile(self) -> None:
        """
        C{--config FILE} names the TOML file as C{ECHOHUB_CONFIG} does, so
        the file stays below the environment variables.
        """
        options = CommandOptions()
        options.parseOptions(["--config", "/etc/echohub.toml"])
        environ = {"ECHOHUB_CONFIG": "/other.toml", "ECHOHUB_WEB_MAX_BODY": "5"}
        self.assertEqual(
            options.environment(environ),
            {"ECHOHUB_CONFIG": "/etc/echohub.toml", "ECHOHUB_WEB_MAX_BODY": "5"},
        )
        self.assertEqual(environ["ECHOHUB_CONFIG"], "/other.toml")

    def test_everySettingIsAnOption(self) -> None:
        """
        Every setting, list settings included, has an option.
        """
        options = CommandOptions()
        for s in allSettings():
            name = f"{s.section}-{s.key.replace('_', '-')}"
            values = ["a b", "c"] if s.kind is tuple else ["1"]
            options.parseOptions([f"--{name}={value}" for value in values])
            expected = ("a", "b", "c") if s.kind is tuple else "1"
            self.assertEqual(options.overrides()[s.section, s.key], expected, name)

    def test_version(self) -> None:
        """
        C{--version} prints echohub's version and exits 0.
        """
        out = io.StringIO()
        with redirect_stdout(out):
            error = self.assertRaises(SystemExit, main, ["--version"])
        self.assertEqual(error.code, 0)
        self.assertEqual(out.getvalue(), f"echohub {__version__}\n")

    def test_usageError(self) -> None:
        """
        A usage error exits with one line naming it.
        """
        error = self.assertRaises(SystemExit, main, ["--web-prot", "1"])
        self.assertIn("web-prot", str(error.code))
        self.assertNotIn("\n", str(error.code))


class DeployFilesTests(SynchronousTestCase):
    """
    L{writeDeployFiles} writes out what an installed echohub needs beside
    the package: C{echohub.tac} and C{deploy/}.
    """

    def test_copies(self) -> None:
        """
        The package's files are C{echohub.tac} and every file of C{deploy/},
        and each is written with the source's bytes and layout.
        """
        target = temporaryDirectory(self)
        written = writeDeployFiles(target)
        expected = {Path("echohub.tac")} | {
            Path("deploy") / p.relative_to(ROOT / "deploy")
            for p in (ROOT / "deploy").rglob("*")
            if p.is_file()
        }
        self.assertEqual({p.relative_to(target) for p in written}, expected)
        self.assertIn(Path("deploy/kubernetes/kustomization.yaml"), expected)
        for path in expected:
            self.assertEqual((target / path).read_bytes(), (ROOT / path).read_bytes())

    def test_fromCommand(self) -> None:
        """
        C{echohub --deploy-files DIR} writes them and lists each.
        """
        target = temporaryDirectory(self)
        out = io.StringIO()
        with redirect_stdout(out):
            main(["--deploy-files", str(target)])
        self.assertIn(f"{target / 'echohub.tac'}\n", out.getvalue())
        self.assertTrue((target / "deploy" / "echohub.service").is_file())
        self.assertTrue(FILES.is_dir())


def test_commandServes(echohub: Callable[..., EchohubProcess]) -> None:
    """
    The installed C{echohub} command, given only C{--line-port 0 --web-port
    0}, serves both on loopback, first logs one line naming both URLs, and
    on SIGTERM drains and exits 0.
    """
    process = echohub(
        {}, listeners=2, args=[str(ECHOHUB), "--line-port", "0", "--web-port", "0"]
    )
    line, web = process.address("line"), process.address("web")
    announced = process.waitForOutput(r"echohub \S+ serving ")
    assert announced.rstrip().endswith(
        f"echohub {__version__} serving line tcp://127.0.0.1:{line[1]},"
        f" web http://127.0.0.1:{web[1]}/"
    ), announced
    with process.connect("line") as sock:
        sock.sendall(b"via the command\n")
        assert recvUntil(sock, 16) == b"via the command\n"
    with process.connect("web") as sock:
        sock.sendall(
            b"GET /echo?msg=hi HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        assert recvUntil(sock, 4096).endswith(b"\r\n\r\nhi")
    assert process.stop(signal.SIGTERM) == 0
    assert "echohub stopped: every connection closed" in process.output


def test_commandEnvironmentBelowOptions(
    echohub: Callable[..., EchohubProcess],
) -> None:
    """
    The command reads the C{ECHOHUB_*} variables as the C{.tac} does, and
    its options win over them.
    """
    process = echohub(
        {
            "ECHOHUB_LINE_LISTEN": "tcp:0:interface=127.0.0.1",
            "ECHOHUB_WEB_LISTEN": "tcp:0:interface=127.0.0.1",
            "ECHOHUB_LINE_MAX_LINE_LENGTH": "100",
        },
        listeners=1,
        args=[str(ECHOHUB), "--web=", "--line-max-line-length", "5"],
    )
    assert list(process.addresses) == ["line"]
    with process.connect("line") as sock:
        sock.sendall(b"1234567\n")
        assert recvUntil(sock, 100).startswith(b"ERROR line too long: the limit is 5")


def test_commandConfigurationError() -> None:
    """
    A configuration error exits 1 with one line naming it, before anything
    listens.
    """
    result = subprocess.run(
        [str(ECHOHUB), "--line-port", "0"],
        env=cleanEnvironment({"ECHOHUB_WEB_MAX_BODDY": "1"}),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (
        "echohub: configuration error: unknown environment variable"
        " ECHOHUB_WEB_MAX_BODDY; see the README for the ECHOHUB_* variables"
        " echohub reads\n"
    )


class HealthcheckTests(SynchronousTestCase):
    """
    C{--healthcheck} asks the configuration's first web listener that a
    client can reach directly.
    """

    def test_firstReachableListener(self) -> None:
        """
        A C{haproxy:} or C{unix:} listener is passed over; an address that
        means every address is asked over loopback; C{ssl:} is HTTPS.
        """
        cases = [
            (("haproxy:tcp:1", "unix:/x", "tcp:8080"), "HTTPConnection", "127.0.0.1"),
            ((r"tcp6:8080:interface=\:\:",), "HTTPConnection", "::1"),
            (("tcp:8080:interface=10.1.2.3",), "HTTPConnection", "10.1.2.3"),
            (("ssl:8080:privateKey=k.pem",), "HTTPSConnection", "127.0.0.1"),
        ]
        for listen, kind, host in cases:
            connection = healthConnection(Config(web=WebConfig(listen=listen)), 1)
            self.assertEqual(
                (type(connection).__name__, connection.host, connection.port),
                (kind, host, 8080),
            )

    def test_noListener(self) -> None:
        """
        Without such a listener the check fails, saying why.
        """
        config = Config(web=WebConfig(listen=("unix:/x",)))
        self.assertRaises(LookupError, healthConnection, config, 1)
        err = io.StringIO()
        with redirect_stderr(err):
            self.assertEqual(healthcheck(config), 1)
        self.assertIn("echohub: unhealthy: no tcp:", err.getvalue())

    def test_nothingListening(self) -> None:
        """
        A port nothing answers on fails the check.
        """
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        config = Config(web=WebConfig(listen=(f"tcp:{port}",)))
        with redirect_stderr(io.StringIO()):
            self.assertEqual(healthcheck(config, timeout=5), 1)


def test_healthcheckAgainstServer(echohub: Callable[..., EchohubProcess]) -> None:
    """
    Against a running echohub, the check passes.
    """
    process = echohub(
        {"ECHOHUB_LINE_LISTEN": ""}, listeners=1, args=[str(ECHOHUB), "--web-port", "0"]
    )
    port = process.address("web")[1]
    config = Config(web=WebConfig(listen=(f"tcp:{port}:interface=127.0.0.1",)))
    assert healthcheck(config) == 0
