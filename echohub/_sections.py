# -*- test-case-name: tests.test_config -*-
"""
The sections of echohub's configuration, one frozen dataclass each, every
setting declared once (L{setting}): its default, its one sentence of help and
its bounds.  L{echohub.config} assembles them into L{echohub.config.Config}
and derives from them the TOML and environment readers, the command-line
options, the reference file and the README's table; import them from there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


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
    maximum: float | None = None,
) -> Any:
    """
    Declare one configuration setting.

    @param default: the value used when no source sets it.
    @param doc: one sentence for C{--help} and the README.
    @param minimum: the smallest accepted value for a number.
    @param choices: the accepted values of a text setting.
    @param maximum: the largest accepted value for a number.
    """
    return field(
        default=default,
        metadata={
            "doc": doc,
            "minimum": minimum,
            "maximum": maximum,
            "choices": choices,
        },
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
    echo_any_path: bool = setting(
        False,
        "Whether every path no route serves, any method, is answered with the"
        " request as JSON (/anything's shape, with the x-set-response-* controls)"
        " rather than 404.",
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
    compression: bool = setting(
        True,
        "Agree to permessage-deflate (RFC 7692) when a client offers it; a"
        " compressed message is echoed compressed, and max_message bounds its"
        " inflated size.",
    )
    compression_window_bits: int = setting(
        12,
        "LZ77 window (2^N bytes) the server compresses with, and the largest it"
        " lets a client compress with when the client's offer leaves it the"
        " choice; smaller saves memory per connection.",
        minimum=9,
        maximum=15,
    )
    compression_mem_level: int = setting(
        5,
        "zlib memLevel of the server's compressor (1-9): its memory per"
        " connection is about 2^(N+9) bytes besides the window.",
        minimum=1,
        maximum=9,
    )
    compression_level: int = setting(
        6,
        "zlib level the server compresses with: 1 is fastest, 9 smallest.",
        minimum=1,
        maximum=9,
    )
    over_http2: bool = setting(
        True,
        "Take WebSockets inside HTTP/2 connections (RFC 8441 extended CONNECT,"
        " as browsers open them when the server's SETTINGS allow): the same"
        " echo, limits, Origin policy and compression on an HTTP/2 stream.",
    )


@dataclass(frozen=True)
class LogConfig:
    """
    What the log says of each request, beyond the access line.
    """

    requests: str = setting(
        "off",
        "Each HTTP request in the log as one structured event: off, headers (the"
        " request line and headers) or body (and up to body_bytes of the body).",
        choices=("off", "headers", "body"),
    )
    body_bytes: int = setting(
        4096,
        "Most bytes of a request body [log] requests = body logs; the rest is"
        " counted, not logged.",
        minimum=0,
    )
    show_sensitive_headers: bool = setting(
        False,
        "Whether logged requests keep Authorization, Proxy-Authorization and"
        " Cookie values; when false they are replaced by a note.",
    )


@dataclass(frozen=True)
class FaultsConfig:
    """
    Bounds of the faults of the line and byte echoes' listeners (see
    L{echohub.faults}); HTTP faults are bounded by C{[web] max_delay} and
    C{max_body}.
    """

    max_delay: float = setting(
        10.0,
        "Longest duration in seconds any stream fault (fault= or a FAULT line)"
        " may ask for: latency plus jitter, timeout, slow_close, a slicer's delay.",
        minimum=0,
    )
    min_rate: float = setting(
        1.0,
        "Lowest bandwidth fault rate in KB/s a listener or a client may ask for"
        " (HTTP included).",
        minimum=0.001,
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
