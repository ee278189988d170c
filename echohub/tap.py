# -*- test-case-name: tests.test_tap -*-
"""
The C{twist echohub} / C{twistd echohub} plugin's options, and the one place
where a configuration error becomes a process exit.

Every setting of L{echohub.config} is an option, C{--SECTION-KEY VALUE}:
a list setting's option is repeatable, each value adding whitespace-separated
items (an empty value gives an empty list, turning a service off), with
C{--line}, C{--web}, C{--echo} and C{--udp} short for the C{listen} lists.
Options override the environment, which overrides the TOML file.  The
C{echohub} command (L{echohub.command}) adds shortcuts to these options.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from twisted.python import usage

from echohub import service
from echohub._upstream import useTwistLogObserver
from echohub._version import __version__
from echohub.config import Config, ConfigError, Setting, allSettings, loadConfig
from echohub.ops import Worker, makeObserver


def _optionName(s: Setting) -> str:
    return f"{s.section}-{s.key.replace('_', '-')}"


class Options(usage.Options):
    """
    Command-line options of the echohub plugin, derived from the settings.
    """

    synopsis = (
        "[--line ENDPOINT ...] [--web ENDPOINT ...] [--echo ENDPOINT ...]"
        " [--udp DATAGRAM-ENDPOINT ...] [options]"
    )
    longdesc = (
        "Run echohub: a line-echo service and an HTTP echo site on any Twisted"
        " endpoint description strings (tcp:7007, ssl:7443:privateKey=...,"
        " unix:/path, systemd:domain=INET:index=0).  Settings also come from"
        " ECHOHUB_CONFIG (a TOML file) and ECHOHUB_* environment variables."
    )
    optParameters: list[list[Any]] = [
        [_optionName(s), None, None, f"{s.doc} [default: {s.default}]"]
        for s in allSettings()
        if s.kind is not tuple
    ]

    def __init__(self) -> None:
        super().__init__()
        self.lists: dict[tuple[str, str], list[str]] = {}

    def addItems(self, section: str, key: str, value: str) -> None:
        """
        Add the whitespace-separated items of C{value} to a list setting.
        """
        self.lists.setdefault((section, key), []).extend(value.split())

    def opt_line(self, value: str) -> None:
        """
        Endpoint for the line service (repeatable; empty turns it off).
        """
        self.addItems("line", "listen", value)

    def opt_web(self, value: str) -> None:
        """
        Endpoint for the web service (repeatable; empty turns it off).
        """
        self.addItems("web", "listen", value)

    def opt_echo(self, value: str) -> None:
        """
        Endpoint for the RFC 862 byte echo over TCP (repeatable).
        """
        self.addItems("echo", "listen", value)

    def opt_udp(self, value: str) -> None:
        """
        Datagram endpoint (udp:PORT, udp6:PORT, systemd:...) for the UDP
        echo (repeatable).
        """
        self.addItems("udp", "listen", value)

    def opt_version(self) -> None:
        """
        Print echohub's version and exit.
        """
        print(f"echohub {__version__}")
        raise SystemExit(0)

    def overrides(self) -> dict[tuple[str, str], object]:
        """
        The settings given on the command line, keyed by (section, key).
        """
        found: dict[tuple[str, str], object] = {
            key: tuple(values) for key, values in self.lists.items()
        }
        for s in allSettings():
            if s.kind is not tuple and self[_optionName(s)] is not None:
                found[s.section, s.key] = self[_optionName(s)]
        return found


def _listOption(s: Setting) -> Callable[[Options, str], None]:
    """
    The C{opt_} method of the repeatable option of list setting C{s}.
    """

    def option(self: Options, value: str) -> None:
        self.addItems(s.section, s.key, value)

    option.__doc__ = f"{s.doc} (repeatable; whitespace separates items)"
    return option


# usage.Options finds options with their own handler among the class's
# opt_ methods: one per list setting, so that a new list setting is an
# option without a new method here.
for _setting in allSettings():
    if _setting.kind is tuple:
        setattr(
            Options,
            "opt_" + _optionName(_setting).replace("-", "_"),
            _listOption(_setting),
        )


@contextmanager
def _exitOnConfigError() -> Iterator[None]:
    """
    Turn a L{ConfigError} into C{SystemExit} with a one-line message, which
    twistd and twist print to standard error before exiting with status 1.
    """
    try:
        yield
    except ConfigError as e:
        raise SystemExit(f"echohub: configuration error: {e}") from None


def configFromEnvironment(
    overrides: Mapping[tuple[str, str], object] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Config:
    """
    Load the configuration, once, or exit with one line.

    The C{.tac} file and the plugin call this and hand the result to both
    the log observer and L{serviceFromConfig}.
    """
    with _exitOnConfigError():
        return loadConfig(os.environ if environ is None else environ, overrides)


def serviceFromConfig(
    config: Config,
    environ: Mapping[str, str] | None = None,
    reactor: Any = None,
) -> service.EchohubService:
    """
    Build the service C{config} describes, or exit with one line (an
    endpoint string can be wrong in ways only building it shows).

    @param environ: where a worker process learns its role
        (L{Worker.fromEnvironment}).
    """
    environ = os.environ if environ is None else environ
    with _exitOnConfigError():
        return service.makeService(
            config, reactor, worker=Worker.fromEnvironment(environ)
        )


def makeService(options: Options) -> service.EchohubService:
    """
    The plugin's service maker: build the service the options describe.

    Under C{twist}, C{[server] log_format} also chooses the log observer
    (as the C{.tac} does under twistd), writing to the file twist's
    C{--log-file} names; twist's own C{--log-format} is overridden, since
    twist cannot tell an explicit choice from its default.
    """
    from twisted.internet import reactor

    config = configFromEnvironment(options.overrides())
    useTwistLogObserver(
        getattr(options, "parent", None),
        lambda out: makeObserver(
            config.server.log_format, os.environ, out, batchBy=reactor
        ),
    )
    return serviceFromConfig(config)
