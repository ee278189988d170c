# -*- test-case-name: tests.test_tap -*-
"""
The C{twist echohub} / C{twistd echohub} plugin's options, and the one place
where a configuration error becomes a process exit.

Every setting of L{echohub.config} is an option: C{--line ENDPOINT} and
C{--web ENDPOINT} (repeatable; an empty value turns the service off) and
C{--SECTION-KEY VALUE} for the rest.  Options override the environment, which
overrides the TOML file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from twisted.python import usage

from echohub import service
from echohub.config import ConfigError, Setting, allSettings, loadConfig
from echohub.ops import Worker

_LISTEN_OPTIONS = {"line": "line", "web": "web"}


def _optionName(s: Setting) -> str:
    return f"{s.section}-{s.key.replace('_', '-')}"


class Options(usage.Options):
    """
    Command-line options of the echohub plugin, derived from the settings.
    """

    synopsis = "[--line ENDPOINT ...] [--web ENDPOINT ...] [options]"
    longdesc = (
        "Run echohub: a line-echo service and an HTTP echo site on any Twisted"
        " endpoint description strings (tcp:7007, ssl:7443:privateKey=...,"
        " unix:/path, systemd:domain=INET:index=0).  Settings also come from"
        " ECHOHUB_CONFIG (a TOML file) and ECHOHUB_* environment variables."
    )
    optParameters = [
        [_optionName(s), None, None, f"{s.doc} [default: {s.default}]"]
        for s in allSettings()
        if s.kind is not tuple
    ]

    def __init__(self) -> None:
        super().__init__()
        self.listen: dict[str, list[str]] = {}

    def _addListen(self, section: str, value: str) -> None:
        self.listen.setdefault(section, []).extend(value.split())

    def opt_line(self, value: str) -> None:
        """
        Endpoint for the line service (repeatable; empty turns it off).
        """
        self._addListen("line", value)

    def opt_web(self, value: str) -> None:
        """
        Endpoint for the web service (repeatable; empty turns it off).
        """
        self._addListen("web", value)

    def overrides(self) -> dict[tuple[str, str], object]:
        """
        The settings given on the command line, keyed by (section, key).
        """
        found: dict[tuple[str, str], object] = {
            (section, "listen"): tuple(values)
            for section, values in self.listen.items()
        }
        for s in allSettings():
            if s.kind is not tuple and self[_optionName(s)] is not None:
                found[s.section, s.key] = self[_optionName(s)]
        return found


def serviceFromEnvironment(
    overrides: Mapping[tuple[str, str], object] | None = None,
    environ: Mapping[str, str] | None = None,
    reactor: Any = None,
) -> service.EchohubService:
    """
    Load the configuration and build the service, or exit with one line.

    This is what the C{.tac} file and the plugin call: a configuration
    error becomes C{SystemExit} with a one-line message, which twistd prints
    to standard error before exiting with status 1.
    """
    environ = os.environ if environ is None else environ
    try:
        config = loadConfig(environ, overrides)
        return service.makeService(
            config, reactor, worker=Worker.fromEnvironment(environ)
        )
    except ConfigError as e:
        raise SystemExit(f"echohub: configuration error: {e}") from None


def makeService(options: Options) -> service.EchohubService:
    """
    The plugin's service maker: build the service the options describe.
    """
    return serviceFromEnvironment(options.overrides())
