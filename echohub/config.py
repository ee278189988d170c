# -*- test-case-name: tests.test_config -*-
"""
echohub's configuration: one typed, immutable object built from three sources.

Precedence, lowest first: the defaults declared here, the TOML file named by
C{ECHOHUB_CONFIG}, C{ECHOHUB_<SECTION>_<KEY>} environment variables, and
finally explicit overrides (the C{twist echohub} command line).  Nothing else
in echohub reads the environment or a configuration file.

Every setting is declared once, as a dataclass field whose metadata carries
its documentation and bounds; the TOML reader, the environment reader, the
plugin's command-line options and the README's table all derive from that one
declaration.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

CONFIG_ENV = "ECHOHUB_CONFIG"
ENV_PREFIX = "ECHOHUB_"


class ConfigError(Exception):
    """
    The configuration is unusable.  The message is one line that names the
    offending key, value or file, suitable for showing to an operator as-is.
    """


def setting(default: Any, doc: str, minimum: float | None = None) -> Any:
    """
    Declare one configuration setting.

    @param default: the value used when no source sets it.
    @param doc: one sentence for C{--help} and the README.
    @param minimum: the smallest accepted value for a number.
    """
    return field(default=default, metadata={"doc": doc, "minimum": minimum})


@dataclass(frozen=True)
class LineConfig:
    """
    Settings of the line-echo service.
    """

    listen: tuple[str, ...] = setting(
        ("tcp:7007:interface=127.0.0.1",),
        "Endpoint description strings the line service listens on.",
    )
    max_line_length: int = setting(
        65536,
        "Longest accepted line in bytes, not counting the newline.",
        minimum=1,
    )
    idle_timeout: float = setting(
        300.0,
        "Seconds without input before a connection is closed; 0 disables.",
        minimum=0,
    )
    close_timeout: float = setting(
        10.0,
        "Seconds a closing connection may take to take its last echoes before"
        " it is aborted; 0 waits for ever.",
        minimum=0,
    )


@dataclass(frozen=True)
class WebConfig:
    """
    Settings of the HTTP echo site.
    """

    listen: tuple[str, ...] = setting(
        ("tcp:8080:interface=127.0.0.1",),
        "Endpoint description strings the web service listens on.",
    )
    max_body: int = setting(
        1024 * 1024,
        "Largest accepted request body in bytes; larger bodies get 413.",
        minimum=0,
    )
    idle_timeout: float = setting(
        60.0,
        "Seconds without traffic before an HTTP connection is closed; 0 disables.",
        minimum=0,
    )


@dataclass(frozen=True)
class ServerConfig:
    """
    Settings of the process as a whole.
    """

    shutdown_timeout: float = setting(
        5.0,
        "Seconds a stopping server waits for connections to flush before it"
        " aborts them.",
        minimum=0,
    )


@dataclass(frozen=True)
class Config:
    """
    The whole configuration of one echohub process.
    """

    line: LineConfig = field(default_factory=LineConfig)
    web: WebConfig = field(default_factory=WebConfig)
    server: ServerConfig = field(default_factory=ServerConfig)


SECTIONS: dict[str, type[Any]] = {
    "line": LineConfig,
    "web": WebConfig,
    "server": ServerConfig,
}


@dataclass(frozen=True)
class Setting:
    """
    One declared setting, as the readers and the documentation see it.
    """

    section: str
    key: str
    kind: type
    default: Any
    doc: str
    minimum: float | None

    @property
    def envName(self) -> str:
        """
        The environment variable that sets this setting.
        """
        return f"{ENV_PREFIX}{self.section}_{self.key}".upper()

    @property
    def name(self) -> str:
        """
        The setting's name as an operator writes it in TOML: C{[section] key}.
        """
        return f"[{self.section}] {self.key}"


def _kindOf(annotation: str) -> type:
    """
    Map a field annotation (a string, under postponed evaluation) to the
    Python type its values are converted to.
    """
    return {"tuple[str, ...]": tuple, "int": int, "float": float}[annotation]


def allSettings() -> Iterator[Setting]:
    """
    Every declared setting, section by section, in declaration order.
    """
    for section, cls in SECTIONS.items():
        for f in fields(cls):
            yield Setting(
                section=section,
                key=f.name,
                kind=_kindOf(str(f.type)),
                default=f.default,
                doc=f.metadata["doc"],
                minimum=f.metadata["minimum"],
            )


_SETTINGS = {(s.section, s.key): s for s in allSettings()}


def _convert(s: Setting, value: object, where: str, text: bool = True) -> object:
    """
    Check and convert one raw value for setting C{s}.

    @param where: the source, for the error message.
    @param text: whether C{value} may be text to parse, as from the
        environment or a command line; TOML values must already have the
        right type.
    @raise ConfigError: naming the setting, the value and the source.
    """

    def bad(expected: str) -> ConfigError:
        return ConfigError(f"{s.name} = {value!r} ({where}): expected {expected}")

    if s.kind is tuple:
        if isinstance(value, str) and text:
            return tuple(value.split())
        if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
            return tuple(value)
        raise bad("a list of endpoint description strings")
    if isinstance(value, bool) or (isinstance(value, str) and not text):
        raise bad("a number")
    number: int | float
    try:
        if s.kind is int:
            if isinstance(value, float):
                raise ValueError(value)
            number = int(value)  # type: ignore[call-overload]
        else:
            number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise bad("an integer" if s.kind is int else "a number") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise bad("a finite number")
    if s.minimum is not None and number < s.minimum:
        raise bad(f"a value of at least {s.minimum:g}")
    return number


def _fromToml(path: str) -> dict[tuple[str, str], object]:
    """
    Read the settings a TOML file sets, keyed by (section, key).
    """
    try:
        with open(path, "rb") as f:
            document = tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"config file {path!r} ({CONFIG_ENV}) does not exist") from None
    except OSError as e:
        raise ConfigError(f"config file {path!r} cannot be read: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"config file {path!r} is not valid TOML: {e}") from None

    found: dict[tuple[str, str], object] = {}
    for section, table in document.items():
        if section not in SECTIONS:
            raise ConfigError(
                f"unknown section [{section}] in {path!r}; known sections:"
                f" {', '.join(SECTIONS)}"
            )
        if not isinstance(table, dict):
            raise ConfigError(f"[{section}] in {path!r} must be a table")
        for key, value in table.items():
            s = _SETTINGS.get((section, key))
            if s is None:
                known = ", ".join(k for (sec, k) in _SETTINGS if sec == section)
                raise ConfigError(
                    f"unknown key [{section}] {key} in {path!r}; known keys: {known}"
                )
            found[section, key] = _convert(s, value, path, text=False)
    return found


def _fromEnvironment(environ: Mapping[str, str]) -> dict[tuple[str, str], object]:
    """
    Read the settings the C{ECHOHUB_*} environment variables set.

    An C{ECHOHUB_} variable that names no setting is an error rather than
    silently ignored: a typo should not fall back to a default unnoticed.
    """
    byEnv = {s.envName: s for s in _SETTINGS.values()}
    found: dict[tuple[str, str], object] = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or name == CONFIG_ENV:
            continue
        s = byEnv.get(name)
        if s is None:
            raise ConfigError(
                f"unknown environment variable {name}; see the README for the"
                " ECHOHUB_* variables echohub reads"
            )
        found[s.section, s.key] = _convert(s, value, f"environment {name}")
    return found


def loadConfig(
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[tuple[str, str], object] | None = None,
) -> Config:
    """
    Build the configuration from defaults, the TOML file, the environment and
    explicit overrides, in that order of precedence.

    @param environ: the environment to read; L{os.environ} by default.
    @param overrides: (section, key) to raw value, highest precedence; values
        may be strings or already-typed values.
    @raise ConfigError: with a one-line message naming what is wrong.
    """
    if environ is None:
        environ = os.environ
    values: dict[tuple[str, str], object] = {}
    path = environ.get(CONFIG_ENV)
    if path:
        values.update(_fromToml(path))
    values.update(_fromEnvironment(environ))
    for (section, key), value in (overrides or {}).items():
        s = _SETTINGS.get((section, key))
        if s is None:
            raise ConfigError(f"unknown setting [{section}] {key}")
        values[section, key] = _convert(s, value, "command line")

    config = Config()
    for section in SECTIONS:
        changes = {k: v for (sec, k), v in values.items() if sec == section}
        if changes:
            config = replace(config, **{section: replace(getattr(config, section), **changes)})
    return config
