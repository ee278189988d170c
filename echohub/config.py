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

import os
import re
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, fields, replace
from ipaddress import ip_address
from typing import Any

CONFIG_ENV = "ECHOHUB_CONFIG"
DEFAULTS_ENV = "ECHOHUB_DEFAULTS"
ENV_PREFIX = "ECHOHUB_"


class ConfigError(Exception):
    """
    The configuration is unusable.  The message is one line that names the
    offending key, value or file, suitable for showing to an operator as-is.
    """


def setting(
    default: Any,
    doc: str,
    minimum: float | None = None,
    choices: tuple[str, ...] | None = None,
) -> Any:
    """
    Declare one configuration setting.

    @param default: the value used when no source sets it.
    @param doc: one sentence for C{--help} and the README.
    @param minimum: the smallest accepted value for a number.
    @param choices: the accepted values of a text setting.
    """
    return field(
        default=default, metadata={"doc": doc, "minimum": minimum, "choices": choices}
    )


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
    max_connections: int = setting(
        4096,
        "Most line connections open at once; more get an ERROR line; 0 disables.",
        minimum=0,
    )
    max_connections_per_peer: int = setting(
        0,
        "Most line connections open at once from one client host; 0 (the"
        " default) disables, as a load balancer without the PROXY protocol"
        " sends everything from one host; set it for a public deployment.",
        minimum=0,
    )


@dataclass(frozen=True)
class EchoConfig:
    """
    Settings of the RFC 862 byte echo over TCP (and TLS, PROXY protocol).
    """

    listen: tuple[str, ...] = setting(
        (),
        "Endpoint description strings the byte echo (RFC 862 over TCP) listens"
        " on; empty turns it off.",
    )
    idle_timeout: float = setting(
        300.0,
        "Seconds without input before a byte-echo connection is closed; 0 disables.",
        minimum=0,
    )
    close_timeout: float = setting(
        10.0,
        "Seconds a closing byte-echo connection may take to take its last"
        " echoes before it is aborted; 0 waits for ever.",
        minimum=0,
    )
    max_connections: int = setting(
        4096,
        "Most byte-echo connections open at once; more are closed unanswered;"
        " 0 disables.",
        minimum=0,
    )
    max_connections_per_peer: int = setting(
        0,
        "Most byte-echo connections open at once from one client host; 0 (the"
        " default) disables, as for the line echo.",
        minimum=0,
    )


@dataclass(frozen=True)
class UDPConfig:
    """
    Settings of the RFC 862 datagram echo over UDP, and its abuse limits.
    """

    listen: tuple[str, ...] = setting(
        (),
        "Datagram endpoint strings the UDP echo listens on (udp:PORT,"
        " udp6:PORT, systemd:domain=INET:name=NAME); empty turns it off.",
    )
    max_datagram: int = setting(
        1472,
        "Largest datagram echoed, in bytes; larger ones are dropped.",
        minimum=0,
    )
    min_source_port: int = setting(
        1024,
        "Lowest source port answered: datagrams from lower ports (another"
        " server's echo or chargen) are dropped; 0 answers every port.",
        minimum=0,
    )
    source_rate: float = setting(
        200.0,
        "Datagrams per second answered for one source address (token bucket);"
        " more are dropped; 0 disables.",
        minimum=0,
    )
    source_burst: int = setting(
        50,
        "Most datagrams from one source address answered at once (the size of"
        " its bucket) before source_rate applies.",
        minimum=1,
    )
    max_sources: int = setting(
        16384,
        "Most source addresses tracked by source_rate at once; datagrams from"
        " new sources beyond it are dropped.",
        minimum=1,
    )
    rate: float = setting(
        20000.0,
        "Datagrams per second answered in all (token bucket); more are"
        " dropped; 0 disables.",
        minimum=0,
    )
    burst: int = setting(
        2000,
        "Most datagrams answered at once, in all, before rate applies.",
        minimum=1,
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
    header_timeout: float = setting(
        20.0,
        "Seconds a client has, from connecting (or from the first byte of a"
        " later request), to send a request's line and headers; then 408 and"
        " close; 0 disables.",
        minimum=0,
    )
    body_timeout: float = setting(
        20.0,
        "Seconds a request body may take to arrive, plus one second for every"
        " body_min_rate bytes received; then 408 and close; 0 disables.",
        minimum=0,
    )
    body_min_rate: int = setting(
        1000,
        "Bytes of request body that extend body_timeout by one second; 0 makes"
        " body_timeout a fixed deadline.",
        minimum=0,
    )
    max_request_line: int = setting(
        8192,
        "Longest accepted request line in bytes; longer gets 414.",
        minimum=64,
    )
    max_header_bytes: int = setting(
        16384,
        "Largest accepted request header section in bytes, line ends included;"
        " larger gets 431.",
        minimum=256,
    )
    max_headers: int = setting(
        100,
        "Most header lines accepted in one request; more gets 431.",
        minimum=1,
    )
    http2: bool = setting(
        True,
        "Whether TLS web listeners offer HTTP/2 over ALPN (h2 before http/1.1).",
    )
    h2c: bool = setting(
        True,
        "Whether plain web listeners accept HTTP/2 with prior knowledge (a"
        " connection that starts with the HTTP/2 client preface).",
    )
    max_concurrent_streams: int = setting(
        100,
        "Most HTTP/2 streams one connection may have open at once"
        " (SETTINGS_MAX_CONCURRENT_STREAMS).",
        minimum=1,
    )
    max_connections: int = setting(
        4096,
        "Most HTTP connections open at once; more get a 503; 0 disables.",
        minimum=0,
    )
    max_connections_per_peer: int = setting(
        0,
        "Most HTTP connections open at once from one client host; 0 (the"
        " default) disables, as a load balancer without the PROXY protocol"
        " sends everything from one host; set it for a public deployment.",
        minimum=0,
    )
    max_delay: float = setting(
        10.0,
        "Longest /delay/SECONDS in seconds; longer gets 400.",
        minimum=0,
    )
    max_stream_count: int = setting(
        100,
        "Most items one /stream/N or /sse response sends; more gets 400.",
        minimum=1,
    )
    max_stream_interval: float = setting(
        10.0,
        "Longest interval in seconds between /stream or /sse items; longer gets 400.",
        minimum=0,
    )
    show_sensitive_headers: bool = setting(
        False,
        "Whether /anything and /headers show Authorization, Proxy-Authorization"
        " and Cookie values; when false they are replaced by a note.",
    )
    cors_origins: tuple[str, ...] = setting(
        (),
        "Origins allowed by CORS (scheme://host[:port], or * for any); empty"
        " turns CORS off.",
    )
    cors_credentials: bool = setting(
        False,
        "Whether CORS responses to a listed origin allow credentials; never"
        " sent for *.",
    )
    hsts: str = setting(
        "",
        "Strict-Transport-Security value sent on every response over TLS, e.g."
        " max-age=31536000; includeSubDomains; empty (the default) sends none.",
    )
    prefix: str = setting(
        "",
        "URL path every route is served under (as /echohub), for mounting behind"
        " a proxy; empty serves at /.",
    )
    value_lists: bool = setting(
        False,
        "Whether args, form, files and headers values are always lists"
        " (go-httpbin) rather than a string for a single value (Flask httpbin).",
    )
    trusted_proxies: tuple[str, ...] = setting(
        (),
        "Addresses or networks (127.0.0.1, 10.0.0.0/8) whose X-Forwarded-For is"
        " believed for origin and /ip; from any other peer it is ignored.",
    )
    allowed_redirect_domains: tuple[str, ...] = setting(
        (),
        "Host names /redirect-to may send clients to besides this server's own"
        " (and their subdomains); relative targets are always allowed.",
    )
    max_form_parts: int = setting(
        100,
        "Most parts or fields a multipart or urlencoded body may have to be"
        " parsed into form and files; more gets 413.",
        minimum=1,
    )
    max_redirects: int = setting(
        100,
        "Largest N of /redirect/N, /relative-redirect/N and /absolute-redirect/N;"
        " larger gets 400.",
        minimum=1,
    )
    max_drip_bytes: int = setting(
        10 * 1024 * 1024,
        "Largest numbytes of /drip; larger gets 400 (the duration is bounded by"
        " max_delay).",
        minimum=1,
    )
    max_range_bytes: int = setting(
        100 * 1024,
        "Largest N of /range/N and /stream-bytes/N; larger gets 400.",
        minimum=1,
    )
    max_links: int = setting(
        200,
        "Most links one /links/N page holds; more gets 400.",
        minimum=1,
    )


@dataclass(frozen=True)
class ServerConfig:
    """
    Settings of the process as a whole.
    """

    drain_timeout: float = setting(
        10.0,
        "Seconds a stopping server lets open connections finish before it"
        " aborts them; keep it below the unit's TimeoutStopSec.",
        minimum=0,
    )
    log_format: str = setting(
        "auto",
        "Log line format: text, journald (<N> level prefixes, no timestamps),"
        " json, or auto (journald under systemd, else text).",
        choices=("auto", "text", "journald", "json"),
    )
    warning_interval: float = setting(
        10.0,
        "Seconds over which a repeated warning (refused connections, bad PROXY"
        " headers) is logged once, with a count of the rest.",
        minimum=0,
    )
    metrics_listen: tuple[str, ...] = setting(
        (),
        "Endpoint strings of a separate listener for /metrics; when empty,"
        " /metrics is served by the web service.",
    )
    lingering_time: float = setting(
        30.0,
        "Longest time in seconds a connection the server ends while the client"
        " is still sending (413, 408, 400, an over-long line, WebSocket 1009,"
        " 1002, 1007) keeps reading and discarding, so the client can read the"
        " answer; 0 closes at once.",
        minimum=0,
    )
    lingering_timeout: float = setting(
        5.0,
        "Seconds without input after which such a lingering connection closes"
        " early; 0 closes at once.",
        minimum=0,
    )
    direct_dispatch: bool = setting(
        True,
        "Whether, on Twisted's epoll reactor, echohub dispatches the reactor's"
        " events itself (without Twisted's per-event legacy log context) and"
        " the line and byte echoes read their sockets directly; false keeps"
        " Twisted's own dispatch.",
    )
    workers: int = setting(
        1,
        "Processes serving the listeners: above 1, the first starts the others,"
        " which share its listening sockets, one core each.",
        minimum=1,
    )


@dataclass(frozen=True)
class TLSConfig:
    """
    Defaults of every C{ssl:} listener, and the TLS info service.
    """

    profile: str = setting(
        "intermediate",
        "TLS policy of ssl: listeners without profile=: intermediate (TLS 1.2"
        " and 1.3) or modern (TLS 1.3 only), as in Mozilla's Server Side TLS 5.7.",
        choices=("intermediate", "modern"),
    )
    handshake_timeout: float = setting(
        10.0,
        "Seconds a TLS client has to finish its handshake before the connection"
        " is closed; 0 disables.",
        minimum=0,
    )
    info_listen: tuple[str, ...] = setting(
        (),
        "Endpoint strings of the TLS info service: each connection gets one"
        " JSON line describing its TLS session, then EOF.",
    )


@dataclass(frozen=True)
class WebSocketConfig:
    """
    Settings of the WebSocket echo at C{/ws}.
    """

    max_message: int = setting(
        1024 * 1024,
        "Largest accepted WebSocket message in bytes; a larger one closes the"
        " connection with code 1009 as soon as it passes the limit.",
        minimum=1,
    )
    ping_interval: float = setting(
        30.0,
        "Seconds between the server's pings; a client that has not answered"
        " the previous ping by the next is closed (1011); 0 disables.",
        minimum=0,
    )
    close_timeout: float = setting(
        10.0,
        "Seconds a closing WebSocket connection may take before it is aborted.",
        minimum=0,
    )
    allowed_origins: tuple[str, ...] = setting(
        (),
        "Browser origins (scheme://host[:port], or *) allowed besides the"
        " page's own; other Origin headers get 403.",
    )


@dataclass(frozen=True)
class GRPCConfig:
    """
    Settings of the gRPC echo (native gRPC over HTTP/2 and gRPC-Web) on the
    web listeners.
    """

    enabled: bool = setting(
        True,
        "Whether the web listeners serve gRPC (application/grpc over HTTP/2)"
        " and gRPC-Web (application/grpc-web over HTTP/1.1 and HTTP/2) beside"
        " HTTP.",
    )
    max_message: int = setting(
        4 * 1024 * 1024,
        "Largest gRPC message in bytes, received (compressed or inflated) or"
        " sent; a larger one ends the call with RESOURCE_EXHAUSTED as soon as"
        " its length prefix arrives.",
        minimum=1,
    )
    max_call_duration: float = setting(
        600.0,
        "Longest a gRPC call may last in seconds, whatever its grpc-timeout;"
        " then it ends with DEADLINE_EXCEEDED; 0 disables.",
        minimum=0,
    )
    max_stream_count: int = setting(
        1000,
        "Most messages echo-count may ask ServerStreamingEcho for; more gets"
        " INVALID_ARGUMENT.",
        minimum=1,
    )
    max_stream_interval: float = setting(
        10.0,
        "Longest echo-interval-ms, in seconds; longer gets INVALID_ARGUMENT.",
        minimum=0,
    )
    max_delay: float = setting(
        10.0,
        "Longest echo-delay-ms, in seconds; longer gets INVALID_ARGUMENT.",
        minimum=0,
    )


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
    grpc: GRPCConfig = field(default_factory=GRPCConfig)


SECTIONS: dict[str, type[Any]] = {
    "line": LineConfig,
    "echo": EchoConfig,
    "udp": UDPConfig,
    "web": WebConfig,
    "server": ServerConfig,
    "tls": TLSConfig,
    "websocket": WebSocketConfig,
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
