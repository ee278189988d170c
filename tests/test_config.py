"""
Tests for L{echohub.config}: sources, precedence and errors.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import tomllib

from twisted.trial.unittest import SynchronousTestCase

from echohub.config import (
    PUBLIC_EXAMPLE,
    Config,
    ConfigError,
    LineConfig,
    WebConfig,
    allSettings,
    loadConfig,
    publicExample,
    referenceTOML,
)


class LoadConfigTests(SynchronousTestCase):
    """
    L{loadConfig} layers defaults, a TOML file, the environment and
    overrides.
    """

    def writeToml(self, text: str) -> str:
        """
        Write C{text} to a new TOML file and return its path.
        """
        directory = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, directory)
        path = os.path.join(directory, "echohub.toml")
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_defaults(self) -> None:
        """
        With nothing set, the documented defaults apply, bound to loopback.
        """
        config = loadConfig({})
        self.assertEqual(config, Config())
        self.assertEqual(config.line.listen, ("tcp:7007:interface=127.0.0.1",))
        self.assertEqual(config.web.listen, ("tcp:8080:interface=127.0.0.1",))
        self.assertEqual(config.line.max_line_length, 65536)
        self.assertEqual(config.line.idle_timeout, 300)
        self.assertEqual(config.web.max_body, 1024 * 1024)

    def test_tomlFile(self) -> None:
        """
        C{ECHOHUB_CONFIG} names a TOML file whose keys replace the defaults.
        """
        path = self.writeToml(
            '[line]\nlisten = ["tcp:7000"]\nmax_line_length = 100\n'
            '[web]\nlisten = ["tcp:8000", "unix:/tmp/x.sock"]\n'
        )
        config = loadConfig({"ECHOHUB_CONFIG": path})
        self.assertEqual(
            config.line, LineConfig(listen=("tcp:7000",), max_line_length=100)
        )
        self.assertEqual(config.web.listen, ("tcp:8000", "unix:/tmp/x.sock"))

    def test_environmentOverridesFile(self) -> None:
        """
        Environment variables take precedence over the file; a listen variable
        is split on whitespace and replaces the file's list.
        """
        path = self.writeToml('[line]\nlisten = ["tcp:7000"]\nidle_timeout = 5\n')
        config = loadConfig(
            {
                "ECHOHUB_CONFIG": path,
                "ECHOHUB_LINE_LISTEN": " tcp:1 \n tcp:2 ",
                "ECHOHUB_LINE_IDLE_TIMEOUT": "7.5",
            }
        )
        self.assertEqual(config.line.listen, ("tcp:1", "tcp:2"))
        self.assertEqual(config.line.idle_timeout, 7.5)

    def test_emptyListenTurnsServiceOff(self) -> None:
        """
        An empty C{ECHOHUB_WEB_LISTEN} leaves the web service with no listener.
        """
        self.assertEqual(loadConfig({"ECHOHUB_WEB_LISTEN": ""}).web.listen, ())

    def test_overridesWin(self) -> None:
        """
        Explicit overrides (the command line) beat the environment.
        """
        config = loadConfig({"ECHOHUB_WEB_MAX_BODY": "10"}, {("web", "max_body"): "20"})
        self.assertEqual(config.web, WebConfig(max_body=20))

    def assertConfigError(self, environ: dict[str, str], *fragments: str) -> None:
        """
        Loading C{environ} fails with one line containing every fragment.
        """
        error = self.assertRaises(ConfigError, loadConfig, environ)
        message = str(error)
        self.assertNotIn("\n", message)
        for fragment in fragments:
            self.assertIn(fragment, message)

    def test_unknownKey(self) -> None:
        """
        An unknown key in the file is named, with its section and the file.
        """
        path = self.writeToml("[line]\nmax_line_lenght = 5\n")
        self.assertConfigError(
            {"ECHOHUB_CONFIG": path}, "max_line_lenght", "[line]", path
        )

    def test_unknownSection(self) -> None:
        """
        An unknown section is named.
        """
        path = self.writeToml("[lines]\nlisten = []\n")
        self.assertConfigError({"ECHOHUB_CONFIG": path}, "[lines]")

    def test_wrongType(self) -> None:
        """
        A value of the wrong type names the key and the value.
        """
        path = self.writeToml('[web]\nmax_body = "big"\n')
        self.assertConfigError({"ECHOHUB_CONFIG": path}, "[web] max_body", "'big'")
        path = self.writeToml("[line]\nmax_line_length = true\n")
        self.assertConfigError({"ECHOHUB_CONFIG": path}, "[line] max_line_length")
        path = self.writeToml('[line]\nlisten = "tcp:1"\n')
        self.assertConfigError({"ECHOHUB_CONFIG": path}, "[line] listen")

    def test_belowMinimum(self) -> None:
        """
        A number below its minimum is refused, naming the minimum.
        """
        self.assertConfigError(
            {"ECHOHUB_LINE_MAX_LINE_LENGTH": "0"}, "max_line_length", "at least 1"
        )
        self.assertConfigError({"ECHOHUB_LINE_IDLE_TIMEOUT": "-1"}, "idle_timeout")
        self.assertConfigError({"ECHOHUB_LINE_IDLE_TIMEOUT": "nan"}, "idle_timeout")

    def test_integerFromEnvironment(self) -> None:
        """
        An integer setting refuses a fraction from the environment.
        """
        self.assertConfigError({"ECHOHUB_WEB_MAX_BODY": "1.5"}, "ECHOHUB_WEB_MAX_BODY")

    def test_unknownEnvironmentVariable(self) -> None:
        """
        An C{ECHOHUB_} variable that names no setting is an error, not
        silently ignored.
        """
        self.assertConfigError({"ECHOHUB_LINE_LISTN": "tcp:1"}, "ECHOHUB_LINE_LISTN")

    def test_kubernetesServiceLinksIgnored(self) -> None:
        """
        The variables Kubernetes sets for Services named C{echohub} and
        C{echohub-web} (when a pod's C{enableServiceLinks} is left on) name
        no setting and are ignored.
        """
        links = {
            "ECHOHUB_SERVICE_HOST": "10.96.0.12",
            "ECHOHUB_SERVICE_PORT": "8080",
            "ECHOHUB_SERVICE_PORT_HTTP": "8080",
            "ECHOHUB_PORT": "tcp://10.96.0.12:8080",
            "ECHOHUB_PORT_8080_TCP": "tcp://10.96.0.12:8080",
            "ECHOHUB_PORT_8080_TCP_PROTO": "tcp",
            "ECHOHUB_PORT_8080_TCP_PORT": "8080",
            "ECHOHUB_PORT_8080_TCP_ADDR": "10.96.0.12",
            "ECHOHUB_WEB_PORT": "tcp://[fd00::12]:8080",
            "ECHOHUB_LINE_PORT_7007_UDP_PROTO": "udp",
        }
        self.assertEqual(loadConfig(links), Config())

    def test_settingNamedLikeServiceLinkStillRead(self) -> None:
        """
        A setting whose variable has a service link's shape
        (C{..._PORT}) is read as the setting.
        """
        config = loadConfig({"ECHOHUB_UDP_MIN_SOURCE_PORT": "2000"})
        self.assertEqual(config.udp.min_source_port, 2000)

    def test_typoShapedLikeServiceLink(self) -> None:
        """
        A mistyped setting whose name looks like a service link but whose
        value does not is still an error: only name and value together
        make a service link.
        """
        self.assertConfigError(
            {"ECHOHUB_UDP_SOURCE_PORT": "1024"}, "ECHOHUB_UDP_SOURCE_PORT"
        )
        self.assertConfigError({"ECHOHUB_PORT": "8080"}, "ECHOHUB_PORT")
        self.assertConfigError(
            {"ECHOHUB_SERVICE_HOST": "echohub.example"}, "ECHOHUB_SERVICE_HOST"
        )

    def test_defaultsFileUnderEverything(self) -> None:
        """
        C{ECHOHUB_DEFAULTS} names a TOML file of defaults: it replaces the
        declared defaults, and the file named by C{ECHOHUB_CONFIG}, the
        environment and overrides each replace only the settings they name.
        """
        defaults = self.writeToml(
            '[line]\nlisten = ["tcp:7007"]\n[web]\nlisten = ["tcp:8080"]\n'
            "max_body = 10\nmax_delay = 1.0\n"
        )
        self.assertEqual(
            loadConfig({"ECHOHUB_DEFAULTS": defaults}).web,
            WebConfig(listen=("tcp:8080",), max_body=10, max_delay=1.0),
        )
        path = self.writeToml("[web]\nmax_body = 20\n")
        config = loadConfig(
            {
                "ECHOHUB_DEFAULTS": defaults,
                "ECHOHUB_CONFIG": path,
                "ECHOHUB_LINE_LISTEN": "tcp:7100",
            },
            {("web", "max_delay"): "2"},
        )
        self.assertEqual(config.line.listen, ("tcp:7100",))
        self.assertEqual(
            config.web, WebConfig(listen=("tcp:8080",), max_body=20, max_delay=2.0)
        )

    def test_missingDefaultsFile(self) -> None:
        """
        A defaults file that does not exist is named, with the variable
        that named it.
        """
        path = os.path.join(tempfile.gettempdir(), "echohub-no-such-defaults.toml")
        self.assertConfigError(
            {"ECHOHUB_DEFAULTS": path}, path, "ECHOHUB_DEFAULTS", "does not exist"
        )

    def test_missingFile(self) -> None:
        """
        A config file that does not exist is named.
        """
        path = os.path.join(tempfile.gettempdir(), "echohub-no-such-config.toml")
        self.assertConfigError({"ECHOHUB_CONFIG": path}, path, "does not exist")

    def test_invalidToml(self) -> None:
        """
        A file that is not TOML is named, with the parser's reason.
        """
        path = self.writeToml("[line\n")
        self.assertConfigError({"ECHOHUB_CONFIG": path}, path, "not valid TOML")

    def test_everySettingDocumented(self) -> None:
        """
        Every setting has a doc string and an environment variable name.
        """
        for s in allSettings():
            self.assertTrue(s.doc)
            self.assertTrue(s.envName.startswith("ECHOHUB_"))


class ReferenceTOMLTests(SynchronousTestCase):
    """
    L{referenceTOML} and C{deploy/echohub.toml}, generated from the one
    declaration.
    """

    def test_everyKeyDefaultAndHelp(self) -> None:
        """
        The reference names every setting once, under its section, with its
        help as a comment; loaded, it is the defaults exactly.
        """
        text = referenceTOML()
        document = tomllib.loads(text)
        for s in allSettings():
            self.assertIn(s.key, document[s.section], s.name)
            self.assertIn(" ".join(s.doc.split()[:4]), " ".join(text.split()), s.name)
        self.assertEqual(
            sum(len(table) for table in document.values()), len(list(allSettings()))
        )
        with tempfile.NamedTemporaryFile("w", suffix=".toml") as f:
            f.write(text)
            f.flush()
            self.assertEqual(loadConfig({"ECHOHUB_CONFIG": f.name}), Config())

    def test_deployExampleGenerated(self) -> None:
        """
        C{deploy/echohub.toml} is L{publicExample}'s output, byte for byte
        (regenerate it with C{make deploy/echohub.toml}), and keeps its
        chosen values for a public deployment.
        """
        path = os.path.join(os.path.dirname(__file__), "..", "deploy", "echohub.toml")
        with open(path) as f:
            committed = f.read()
        self.assertEqual(committed, publicExample(), "run: make deploy/echohub.toml")
        config = loadConfig({"ECHOHUB_CONFIG": path})
        for (section, key), (value, _) in PUBLIC_EXAMPLE.items():
            self.assertEqual(getattr(getattr(config, section), key), value)
