"""
The scenarios: what load each one puts on which servers, and which figure
it reports.

Each scenario names the service it needs (so echohub is started with only
that listener), the servers it compares, and a C{measure} function that
runs the load against one started server and returns its figures.
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.build import Loadgen
from benchmarks.clients import (
    Measurement,
    runH2load,
    runIdle,
    runLoadgen,
    runWrk,
    wrkScript,
)
from benchmarks.servers import (
    BYTES,
    LINE,
    LINE_TLS,
    STARTUP,
    UDP,
    WEB,
    ServerProcess,
)

LINE_SERVERS = ("echohub", "twisted-tutorial", "asyncio", "uvloop")
WEB_SERVERS = ("echohub", "twisted-web", "aiohttp", "aiohttp-uvloop")
GRPC_SERVERS = ("echohub", "grpcio-aio")
WS_SERVERS = ("echohub", "aiohttp", "websockets")
BYTE_SERVERS = ("echohub", "asyncio-bytes")
UDP_SERVERS = ("echohub", "asyncio-udp")

# The UDP echo's rate limits, raised far above what one core answers, so the
# run measures them working rather than dropping.
UDP_UNLIMITED = (
    ("ECHOHUB_UDP_SOURCE_RATE", "1e9"),
    ("ECHOHUB_UDP_SOURCE_BURST", "1000000"),
    ("ECHOHUB_UDP_RATE", "1e9"),
    ("ECHOHUB_UDP_BURST", "1000000"),
)

# The GET echo's message and the POST echo's 4 KiB body: printable bytes
# that need no percent-encoding.
GET_MESSAGE = b"hello-echohub-benchmark"
POST_BODY = bytes(33 + (i * 7 + i // 13) % 94 for i in range(4096))


@dataclass(frozen=True)
class Context:
    """
    What a scenario's C{measure} needs besides the server.
    """

    loadgen: Loadgen
    server: ServerProcess
    duration: float
    warmup: float
    clientCpu: str | None
    workDir: Path
    idleConns: int


class NotApplicableError(Exception):
    """
    This server cannot run this scenario; the message says why.
    """


@dataclass(frozen=True)
class Scenario:
    """
    One benchmark scenario.

    @ivar metric: the key of the measurement the table shows.
    @ivar unit: the metric's unit: C{µs} and C{s} are times, anything else
        gets an SI prefix.
    @ivar needs: C{"tls"} (a load generator built with OpenSSL), C{"deflate"}
        (one built with zlib), C{"wrk"} and C{"h2load"}.
    @ivar latency: whether the table shows the p99 latency too.
    @ivar echohubEnv: extra C{ECHOHUB_*} settings echohub runs with.
    @ivar pinServer: whether servers are pinned to their own core; off for
        several worker processes, which need more than one.
    """

    @property
    def perCpu(self) -> str | None:
        """
        The key of the metric's figure per second of server CPU, shown
        beside it; L{None} for a latency, a size, or a metric that is
        already per CPU second.
        """
        return {"rate": "per_cpu_s", "bytes_per_s": "bytes_per_cpu_s"}.get(self.metric)

    name: str
    title: str
    service: str
    servers: tuple[str, ...]
    metric: str
    unit: str
    higherIsBetter: bool
    measure: Callable[[Context], Measurement]
    needs: tuple[str, ...] = ()
    latency: bool = False
    echohubEnv: tuple[tuple[str, str], ...] = ()
    pinServer: bool = True


def _loadgen(
    mode: str,
    conns: int,
    size: int,
    window: int = 1,
    tls: bool = False,
    deflate: bool = False,
) -> Callable[[Context], Measurement]:
    """
    Measure with the compiled load generator.

    @param deflate: (C{ws} only) offer permessage-deflate, as Chromium does,
        and send JSON-like text, which compresses as real traffic does.
    """

    def measure(ctx: Context) -> Measurement:
        if mode == "ws":
            _probeWebSocket(ctx.server, deflate)
        arguments = [
            *("--mode", mode, "--conns", str(conns), "--size", str(size)),
            *("--window", str(window), "--duration", str(ctx.duration)),
            *("--warmup", str(ctx.warmup)),
            *(("--tls",) if tls else ()),
            *(("--deflate", "--compressible") if deflate else ()),
        ]
        measurement = runLoadgen(
            ctx.loadgen.path,
            ctx.server,
            arguments,
            ctx.clientCpu,
            ctx.duration + ctx.warmup,
        )
        if deflate:
            _compressionNote(measurement, size)
        return measurement

    return measure


def _compressionNote(measurement: Measurement, size: int) -> None:
    """
    Say in C{measurement}'s note what the server agreed to and how much
    smaller the messages were each way; count a server that never
    compressed an echo as an error, since the scenario would then measure
    something else.
    """
    counts = measurement.get("deflate")
    if not counts or not counts["sent_wire"]:
        return
    sent = counts["sent"] * size / counts["sent_wire"]
    echoed = (
        counts["echo_inflated"] / counts["echo_wire"] if counts["echo_wire"] else 0.0
    )
    measurement["note"] = (
        f"agreed `{counts['extension']}`; messages {sent:.1f}× smaller sent,"
        f" {echoed:.1f}× echoed"
        + (
            f"; {counts['echoed_plain']} echoes uncompressed"
            if counts["echoed_plain"]
            else ""
        )
    )
    if not counts["echoed_compressed"] and not measurement.get("errors"):
        measurement["errors"] = 1
        measurement["detail"] = "the server compressed no echo"


def _udp(conns: int, size: int, window: int) -> Callable[[Context], Measurement]:
    def measure(ctx: Context) -> Measurement:
        arguments = [
            *("--conns", str(conns), "--size", str(size), "--window", str(window)),
            *("--duration", str(ctx.duration), "--warmup", str(ctx.warmup)),
        ]
        return runLoadgen(
            [sys.executable, "-m", "benchmarks.udpload"],
            ctx.server,
            arguments,
            ctx.clientCpu,
            ctx.duration + ctx.warmup,
        )

    return measure


def _probeWebSocket(server: ServerProcess, deflate: bool = False) -> None:
    """
    Check that C{GET /ws} upgrades to a WebSocket and, with C{deflate},
    that the server agrees to permessage-deflate.

    @raise NotApplicableError: it does not (echohub before it had a
        WebSocket echo, or before it had permessage-deflate).
    """
    host, port = server.address
    offer = "Sec-WebSocket-Extensions: permessage-deflate\r\n" if deflate else ""
    request = (
        f"GET /ws HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        f"Sec-WebSocket-Version: 13\r\nOrigin: http://{host}:{port}\r\n{offer}\r\n"
    )
    head = b""
    with socket.create_connection(server.address, timeout=5) as probe:
        probe.sendall(request.encode())
        while b"\r\n\r\n" not in head and (data := probe.recv(4096)):
            head += data
    status, *fields = head.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    if " 101 " not in f"{status} ":
        raise NotApplicableError(
            f"GET /ws does not upgrade to a WebSocket ({status or 'no answer'})"
        )
    agreed = any(
        name.strip().lower() == "sec-websocket-extensions"
        and "permessage-deflate" in value.lower()
        for name, _, value in (f.partition(":") for f in fields)
    )
    if deflate and not agreed:
        raise NotApplicableError(
            "the server does not agree to permessage-deflate (its 101 has no"
            " Sec-WebSocket-Extensions)"
        )


def _wrk(
    path: str, expected: bytes | None, body: bytes | None = None
) -> Callable[[Context], Measurement]:
    """
    Measure C{path} with wrk: a GET, or a POST of C{body}; each response
    must be C{expected} (L{None}: any C{200}).
    """

    def measure(ctx: Context) -> Measurement:
        name = path.strip("/").split("?")[0].replace("/", "-") + (
            f"-post{len(body)}" if body is not None else "-get"
        )
        script = wrkScript(ctx.workDir, name, expected, body is not None, body)
        return runWrk(ctx.server, path, script, 50, ctx.duration, ctx.clientCpu)

    return measure


GET_PATH = "/echo?msg=" + GET_MESSAGE.decode()
POST_1K = POST_BODY[:1024]


def _httpScenario(
    name: str,
    title: str,
    measure: Callable[[Context], Measurement],
    metric: str = "rate",
    servers: tuple[str, ...] = WEB_SERVERS,
    **extra: Any,
) -> Scenario:
    """
    An HTTP scenario driven by wrk against the web servers, with latency:
    in requests per second, or (C{metric="per_cpu_s"}) per second of
    server CPU.
    """
    return Scenario(
        name,
        title,
        WEB,
        servers,
        metric,
        "req/s" if metric == "rate" else "req",
        True,
        measure,
        needs=("wrk",),
        latency=True,
        **extra,
    )


def _h2load(http1: bool, connections: int = 10) -> Callable[[Context], Measurement]:
    def measure(ctx: Context) -> Measurement:
        path = "/echo?msg=" + GET_MESSAGE.decode()
        conns, streams = (100, 1) if http1 else (connections, 10)
        return runH2load(
            ctx.server, path, conns, streams, ctx.duration, ctx.clientCpu, http1
        )

    return measure


def _h2loadScenario(
    name: str, title: str, http1: bool, connections: int = 10
) -> Scenario:
    """
    echohub under h2load, HTTP/2 or HTTP/1.1 with the same requests in
    flight; over HTTP/2 beside hypercorn, the Python server with h2c (the
    other peers have none).
    """
    return Scenario(
        name,
        title,
        WEB,
        ("echohub",) if http1 else ("echohub", "hypercorn"),
        "rate",
        "req/s",
        True,
        _h2load(http1, connections),
        needs=("h2load",),
    )


def _idle(tls: bool, grpc: bool = False) -> Callable[[Context], Measurement]:
    def measure(ctx: Context) -> Measurement:
        return runIdle(
            ctx.loadgen.path, ctx.server, ctx.idleConns, tls, ctx.clientCpu, grpc
        )

    return measure


UNARY_PATH = "/grpc.examples.echo.Echo/UnaryEcho"
GRPC_HEADERS = ("content-type: application/grpc", "te: trailers")
# One EchoRequest{message: GET_MESSAGE}, with its gRPC length prefix.
UNARY_BODY = (
    b"\0"
    + (len(GET_MESSAGE) + 2).to_bytes(4, "big")
    + b"\n"
    + bytes([len(GET_MESSAGE)])
    + GET_MESSAGE
)


def probeUnary(server: ServerProcess, body: bytes) -> str | None:
    """
    Make one C{UnaryEcho} call with the request C{body} (one framed
    message) over h2c, as h2load will, and check its answer: the same
    message back (an C{EchoResponse} is an C{EchoRequest} on the wire) and
    C{grpc-status: 0}.

    @return: what was wrong, or L{None}.
    """
    from h2.config import H2Configuration
    from h2.connection import H2Connection
    from h2.events import DataReceived, ResponseReceived, StreamEnded, TrailersReceived

    host, port = server.address
    connection = H2Connection(H2Configuration(client_side=True, header_encoding=None))
    connection.initiate_connection()
    connection.send_headers(
        1,
        [
            (b":method", b"POST"),
            (b":scheme", b"http"),
            (b":path", UNARY_PATH.encode()),
            (b":authority", f"{host}:{port}".encode()),
            *(tuple(h.encode().split(b": ")) for h in GRPC_HEADERS),
        ],
    )
    connection.send_data(1, body, end_stream=True)
    answer, fields, ended = b"", {}, False
    with socket.create_connection(server.address, timeout=10) as probe:
        probe.sendall(connection.data_to_send())
        while not ended:
            data = probe.recv(65536)
            if not data:
                return "the server closed the connection"
            for event in connection.receive_data(data):
                if isinstance(event, DataReceived):
                    answer += event.data
                elif isinstance(event, (ResponseReceived, TrailersReceived)):
                    fields.update(event.headers)
                elif isinstance(event, StreamEnded):
                    ended = True
            probe.sendall(connection.data_to_send())
    if fields.get(b"grpc-status") != b"0" or answer != body:
        return f"UnaryEcho answered {fields!r} and {answer!r}"
    return None


def _grpcUnary(ctx: Context) -> Measurement:
    """
    C{UnaryEcho} calls from h2load, each with the same one message, after
    one call checked the answer.
    """
    problem = probeUnary(ctx.server, UNARY_BODY)
    if problem is not None:
        return {"errors": 1, "detail": problem}
    ctx.workDir.mkdir(parents=True, exist_ok=True)
    body = ctx.workDir / "grpc-unary.bin"
    body.write_bytes(UNARY_BODY)
    return runH2load(
        ctx.server,
        UNARY_PATH,
        10,
        10,
        ctx.duration,
        ctx.clientCpu,
        data=body,
        headers=GRPC_HEADERS,
    )


def _started(ctx: Context) -> Measurement:
    return {"errors": 0}


SCENARIOS = {
    s.name: s
    for s in (
        Scenario(
            "line",
            "line echo: 50 connections, 64 B lines, 16 in flight each",
            LINE,
            LINE_SERVERS,
            "rate",
            "lines/s",
            True,
            _loadgen("line", 50, 64, 16),
        ),
        Scenario(
            "pingpong",
            "ping-pong latency: 1 connection, 64 B lines, one at a time (p50)",
            LINE,
            LINE_SERVERS,
            "p50_us",
            "µs",
            False,
            _loadgen("line", 1, 64),
            latency=True,
        ),
        Scenario(
            "pingpong-1000",
            "1 000 connections ping-pong, 64 B lines",
            LINE,
            LINE_SERVERS,
            "rate",
            "lines/s",
            True,
            _loadgen("line", 1000, 64),
            latency=True,
        ),
        Scenario(
            "lines-16k",
            "16 KiB lines: 10 connections, 4 in flight each",
            LINE,
            LINE_SERVERS,
            "bytes_per_s",
            "B/s",
            True,
            _loadgen("line", 10, 16384, 4),
        ),
        Scenario(
            "bytes",
            "byte echo (RFC 862): 50 connections, 64 B records, 16 in flight each",
            BYTES,
            BYTE_SERVERS,
            "rate",
            "records/s",
            True,
            _loadgen("line", 50, 64, 16),
        ),
        Scenario(
            "bytes-pingpong",
            "byte echo ping-pong latency: 1 connection, 64 B, one at a time (p50)",
            BYTES,
            BYTE_SERVERS,
            "p50_us",
            "µs",
            False,
            _loadgen("line", 1, 64),
            latency=True,
        ),
        Scenario(
            "bytes-16k",
            "byte echo, 16 KiB records: 10 connections, 4 in flight each",
            BYTES,
            BYTE_SERVERS,
            "bytes_per_s",
            "B/s",
            True,
            _loadgen("line", 10, 16384, 4),
        ),
        Scenario(
            "udp",
            "UDP echo: 8 sockets, 64 B datagrams, 8 in flight each; rate limits raised",
            UDP,
            UDP_SERVERS,
            "rate",
            "datagrams/s",
            True,
            _udp(8, 64, 8),
            echohubEnv=UDP_UNLIMITED,
        ),
        Scenario(
            "tls-line",
            "TLS line echo: 50 connections, 64 B lines, 16 in flight each",
            LINE_TLS,
            LINE_SERVERS,
            "rate",
            "lines/s",
            True,
            _loadgen("line", 50, 64, 16, tls=True),
            needs=("tls",),
        ),
        Scenario(
            "tls-handshake",
            "TLS handshakes: 20 clients each connect, echo one line, close",
            LINE_TLS,
            LINE_SERVERS,
            "rate",
            "conns/s",
            True,
            _loadgen("connect", 20, 64, tls=True),
            needs=("tls",),
        ),
        _httpScenario(
            "http-get",
            "HTTP GET /echo?msg=...: wrk, 50 connections",
            _wrk(GET_PATH, GET_MESSAGE),
        ),
        _httpScenario(
            "http-get-workers",
            "HTTP GET /echo?msg=...: wrk, 50 connections; echohub with"
            " [server] workers = 2, no server pinned to a core",
            _wrk(GET_PATH, GET_MESSAGE),
            echohubEnv=(("ECHOHUB_SERVER_WORKERS", "2"),),
            pinServer=False,
        ),
        _httpScenario(
            "http-post",
            "HTTP POST /echo, 4 KiB body: wrk, 50 connections",
            _wrk("/echo", POST_BODY, POST_BODY),
        ),
        _httpScenario(
            "http-post-1k",
            "HTTP POST /echo, 1 KiB body: wrk, 50 connections",
            _wrk("/echo", POST_1K, POST_1K),
        ),
        _httpScenario(
            "http-anything",
            "HTTP GET /anything (the JSON description): wrk, 50 connections",
            _wrk("/anything?a=1", None),
            servers=("echohub", "echohub-base"),
        ),
        _h2loadScenario(
            "h2-get",
            "HTTP/2 (h2c) GET /echo?msg=...: h2load -c 10 -m 10",
            http1=False,
        ),
        _h2loadScenario(
            "h2-get-1c",
            "HTTP/2 (h2c) GET /echo?msg=...: h2load -c 1 -m 10 (one connection,"
            " ten streams)",
            http1=False,
            connections=1,
        ),
        _h2loadScenario(
            "h1-h2load-get",
            "HTTP/1.1 GET /echo?msg=...: h2load --h1 -c 100 -m 1 (h2-get's"
            " HTTP/1.1 baseline)",
            http1=True,
        ),
        Scenario(
            "websocket",
            "WebSocket echo: 50 connections, 64 B messages, 16 in flight each",
            WEB,
            WS_SERVERS,
            "rate",
            "msg/s",
            True,
            _loadgen("ws", 50, 64, 16),
        ),
        Scenario(
            "websocket-deflate",
            "WebSocket echo with permessage-deflate (offered as Chromium does):"
            " 50 connections, 1 KiB JSON-like text messages, 16 in flight each",
            WEB,
            WS_SERVERS,
            "rate",
            "msg/s",
            True,
            _loadgen("ws", 50, 1024, 16, deflate=True),
            needs=("deflate",),
        ),
        Scenario(
            "grpc-unary",
            "gRPC UnaryEcho over h2c: h2load -c 10 -m 10, one 23-byte message"
            " per call (checked once)",
            WEB,
            GRPC_SERVERS,
            "rate",
            "calls/s",
            True,
            _grpcUnary,
            needs=("h2load",),
        ),
        Scenario(
            "grpc-bidi",
            "gRPC BidirectionalStreamingEcho over h2c: 10 calls (one per"
            " connection), 64 B messages, 16 in flight each, one DATA frame each",
            WEB,
            GRPC_SERVERS,
            "rate",
            "msg/s",
            True,
            _loadgen("grpc", 10, 64, 16),
            latency=True,
        ),
        Scenario(
            "grpc-idle",
            "server memory per idle gRPC connection (h2c, one call made)",
            WEB,
            GRPC_SERVERS,
            "per_conn",
            "B",
            False,
            _idle(tls=False, grpc=True),
        ),
        Scenario(
            "idle-tcp",
            "server memory per idle TCP connection",
            LINE,
            LINE_SERVERS,
            "per_conn",
            "B",
            False,
            _idle(tls=False),
        ),
        Scenario(
            "idle-tls",
            "server memory per idle TLS connection",
            LINE_TLS,
            LINE_SERVERS,
            "per_conn",
            "B",
            False,
            _idle(tls=True),
            needs=("tls",),
        ),
        Scenario(
            "startup",
            "time from start to listening (echohub: line and web listeners)",
            STARTUP,
            LINE_SERVERS,
            "startup_s",
            "s",
            False,
            _started,
        ),
    )
}
