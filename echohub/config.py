# -*- test-case-name: tests.test_config -*-
"""
echohub's configuration: one typed, immutable object built from three sources.

Precedence, lowest first: the defaults declared here, the TOML file of
defaults named by C{ECHOHUB_DEFAULTS} (a packager's layer: the container image
listens on every interface through it), the TOML file named by
C{ECHOHUB_CONFIG}, C{ECHOHUB_<SECTION>_<KEY>} environment variables, and
finally explicit overrides (the C{echohub} and C{twist echohub} command
lines).  Nothing else in echohub reads the environment or a configuration
file.

Every setting is declared once, as a dataclass field whose metadata carries
its documentation and bounds; the TOML reader, the environment reader, the
plugin's command-line options and the README's table all derive from that one
declaration.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, fields, replace
from ipaddress import ip_address
from typing import Any

from echohub._sections import (
    ConfigError,
    EchoConfig,
    FaultsConfig,
    GRPCConfig,
    LineConfig,
    LogConfig,
    ServerConfig,
    TLSConfig,
    UDPConfig,
    WebConfig,
    WebSocketConfig,
    setting,
)

CONFIG_ENV = "ECHOHUB_CONFIG"
DEFAULTS_ENV = "ECHOHUB_DEFAULTS"
ENV_PREFIX = "ECHOHUB_"

__all__ = [
    "CONFIG_ENV",
    "DEFAULTS_ENV",
    "ENV_PREFIX",
    "Config",
    "ConfigError",
    "EchoConfig",
    "FaultsConfig",
    "GRPCConfig",
    "LineConfig",
    "LogConfig",
    "ServerConfig",
    "Setting",
    "TLSConfig",
    "UDPConfig",
    "WebConfig",
    "WebSocketConfig",
    "allSettings",
    "isServiceLink",
    "loadConfig",
    "publicExample",
    "referenceTOML",
    "setting",
]


@dataclass(frozen=True)
class Config:
    """
    The whole configuration of one echohub process.
    """

    line: LineConfig = field(default_factory=LineConfig)
    echo: EchoConfig = field(default_factory=EchoConfig)
    udp: UDPConfig = field(default_factory=UDPConfig)
    web: WebConfig = field(default_factory=WebConfig)
    server: ServerConfig = field(default_factory=ServerConfig)
    tls: TLSConfig = field(default_factory=TLSConfig)
    websocket: WebSocketConfig = field(default_factory=WebSocketConfig)
    log: LogConfig = field(default_factory=LogConfig)
    faults: FaultsConfig = field(default_factory=FaultsConfig)
    grpc: GRPCConfig = field(default_factory=GRPCConfig)


SECTIONS: dict[str, type[Any]] = {
    "line": LineConfig,
    "echo": EchoConfig,
    "udp": UDPConfig,
    "web": WebConfig,
    "server": ServerConfig,
    "tls": TLSConfig,
    "websocket": WebSocketConfig,
    "log": LogConfig,
    "faults": FaultsConfig,
    "grpc": GRPCConfig,
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
    choices: tuple[str, ...] | None = None
    maximum: float | None = None

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
    return {
        "tuple[str, ...]": tuple,
        "int": int,
        "float": float,
        "str": str,
        "bool": bool,
    }[annotation]


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
                choices=f.metadata["choices"],
                maximum=f.metadata["maximum"],
            )


_SETTINGS = {(s.section, s.key): s for s in allSettings()}

_BOOLEANS = {
    "true": True,
    "yes": True,
    "1": True,
    "false": False,
    "no": False,
    "0": False,
}


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
        raise bad("a list of strings")
    if s.kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and text and value.lower() in _BOOLEANS:
            return _BOOLEANS[value.lower()]
        raise bad("true or false")
    if s.kind is str:
        if not isinstance(value, str) or (s.choices and value not in s.choices):
            raise bad("one of " + ", ".join(s.choices or ()))
        return value
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
    if s.maximum is not None and number > s.maximum:
        raise bad(f"a value of at most {s.maximum:g}")
    return number


def _fromToml(path: str, variable: str) -> dict[tuple[str, str], object]:
    """
    Read the settings a TOML file sets, keyed by (section, key).

    @param variable: the environment variable that named the file, for the
        error message.
    """
    try:
        with open(path, "rb") as f:
            document = tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"config file {path!r} ({variable}) does not exist") from None
    except OSError as e:
        raise ConfigError(
            f"config file {path!r} cannot be read: {e.strerror}"
        ) from None
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


def _isPort(value: str) -> bool:
    return value.isdecimal() and 0 < int(value) < 65536


def _isAddress(value: str) -> bool:
    try:
        ip_address(value)
    except ValueError:
        return False
    return True


def _isServiceURL(value: str) -> bool:
    match = re.fullmatch(r"(?:tcp|udp|sctp)://\[?([0-9A-Fa-f.:]+)\]?:(\d+)", value)
    return match is not None and _isAddress(match[1]) and _isPort(match[2])


# The variables a Kubernetes pod gets for every Service in its namespace
# (unless its spec sets enableServiceLinks: false): for a Service named
# echohub, or echohub-web, ECHOHUB[_WEB]_SERVICE_HOST=10.0.0.1,
# _SERVICE_PORT[_NAME]=8080, and Docker-link style _PORT=tcp://10.0.0.1:8080,
# _PORT_8080_TCP=..., _PORT_8080_TCP_PROTO=tcp, _PORT_8080_TCP_PORT=8080,
# _PORT_8080_TCP_ADDR=10.0.0.1 (kubelet's pkg/kubelet/envvars).  Both the
# name and the value must have the shape, so a mistyped setting
# (ECHOHUB_UDP_SOURCE_PORT=1024) is still an error.
_SERVICE_LINKS: tuple[tuple[re.Pattern[str], Callable[[str], bool]], ...] = tuple(
    (re.compile(rf"ECHOHUB(?:_[A-Z0-9_]+)?_{suffix}"), check)
    for suffix, check in [
        ("SERVICE_HOST", _isAddress),
        ("SERVICE_PORT(?:_[A-Z0-9_]+)?", _isPort),
        ("PORT", _isServiceURL),
        (r"PORT_\d+_(?:TCP|UDP|SCTP)", _isServiceURL),
        (r"PORT_\d+_(?:TCP|UDP|SCTP)_PROTO", {"tcp", "udp", "sctp"}.__contains__),
        (r"PORT_\d+_(?:TCP|UDP|SCTP)_PORT", _isPort),
        (r"PORT_\d+_(?:TCP|UDP|SCTP)_ADDR", _isAddress),
    ]
)


def isServiceLink(name: str, value: str) -> bool:
    """
    Whether C{name=value} is one of the variables Kubernetes sets for a
    Service whose name starts with C{echohub}, rather than a setting.
    """
    return any(
        pattern.fullmatch(name) is not None and check(value)
        for pattern, check in _SERVICE_LINKS
    )


def _fromEnvironment(environ: Mapping[str, str]) -> dict[tuple[str, str], object]:
    """
    Read the settings the C{ECHOHUB_*} environment variables set.

    An C{ECHOHUB_} variable that names no setting is an error rather than
    silently ignored: a typo should not fall back to a default unnoticed.
    The one exception is a Kubernetes service link (L{isServiceLink}),
    which names no setting and which echohub ignores.
    """
    byEnv = {s.envName: s for s in _SETTINGS.values()}
    found: dict[tuple[str, str], object] = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or name in (CONFIG_ENV, DEFAULTS_ENV):
            continue
        s = byEnv.get(name)
        if s is None:
            if isServiceLink(name, value):
                continue
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
    Build the configuration from defaults, the TOML file of defaults, the
    TOML file, the environment and explicit overrides, in that order of
    precedence.

    @param environ: the environment to read; L{os.environ} by default.
    @param overrides: (section, key) to raw value, highest precedence; values
        may be strings or already-typed values.
    @raise ConfigError: with a one-line message naming what is wrong.
    """
    if environ is None:
        environ = os.environ
    values: dict[tuple[str, str], object] = {}
    for variable in (DEFAULTS_ENV, CONFIG_ENV):
        path = environ.get(variable)
        if path:
            values.update(_fromToml(path, variable))
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
            config = replace(
                config, **{section: replace(getattr(config, section), **changes)}
            )
    return config


# The values deploy/echohub.toml, the example for a public deployment,
# chooses over the defaults, each with why: protective limits the defaults
# leave off because they break the main use behind a load balancer.
PUBLIC_EXAMPLE: dict[tuple[str, str], tuple[object, str]] = {
    ("line", "max_connections_per_peer"): (
        64,
        "public: keep it 0 behind a load balancer without the PROXY protocol",
    ),
    ("echo", "max_connections_per_peer"): (
        64,
        "public: keep it 0 behind a load balancer without the PROXY protocol",
    ),
    ("web", "max_connections_per_peer"): (
        64,
        "public: keep it 0 behind a load balancer without the PROXY protocol",
    ),
}


def _tomlValue(value: object) -> str:
    """
    A setting's value as TOML: JSON's strings are TOML's basic strings.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple | list):
        return "[" + ", ".join(json.dumps(v) for v in value) + "]"
    if isinstance(value, str):
        return json.dumps(value)
    return repr(value)


def referenceTOML(
    chosen: Mapping[tuple[str, str], tuple[object, str]] | None = None,
    title: str = "Every echohub setting, with its default and what it does.",
) -> str:
    """
    A TOML file with every declared setting, generated from this module's
    one declaration, so that it is complete whatever is added: each
    section, each key with its help as a comment and its default as the
    value, or the value C{chosen} for it with a note and the default.

    @param chosen: (section, key) to (value, note) for the keys whose value
        is not the default.
    @param title: the file's first comment line.
    """
    chosen = chosen or {}
    lines = [
        f"# {title}",
        "# Generated from echohub/config.py (echohub --reference-config); the",
        "# environment (ECHOHUB_<SECTION>_<KEY>) and options override it.",
    ]
    section = None
    for s in allSettings():
        if s.section != section:
            section = s.section
            doc = (SECTIONS[section].__doc__ or "").strip()
            lines += ["", f"[{section}]", *_comment(doc)]
        lines += ["", *_comment(s.doc)]
        if (s.section, s.key) in chosen:
            value, note = chosen[s.section, s.key]
            lines += _comment(f"{note} (default {_tomlValue(s.default)})")
        else:
            value = s.default
        lines.append(f"{s.key} = {_tomlValue(value)}")
    return "\n".join(lines) + "\n"


def _comment(text: str, width: int = 78) -> list[str]:
    """
    C{text} as TOML comment lines of at most C{width} characters.
    """
    words = " ".join(re.sub(r"[BCLI]\{([^}]*)\}", r"\1", text).split()).split(" ")
    lines: list[str] = []
    line = "#"
    for word in words:
        if len(line) + 1 + len(word) > width and line != "#":
            lines.append(line)
            line = "#"
        line += " " + word
    if line != "#":
        lines.append(line)
    return lines


def publicExample() -> str:
    """
    C{deploy/echohub.toml}: the reference with L{PUBLIC_EXAMPLE}'s values.
    """
    return referenceTOML(
        PUBLIC_EXAMPLE,
        "An example ECHOHUB_CONFIG file for a public deployment: every setting.",
    )
