"""
Shared helpers of the gRPC tests: the services' message classes, a
recording stand-in for a call's response side, and a server over a clock.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.address import IPv4Address
from twisted.internet.interfaces import IProducer
from twisted.internet.task import Clock
from zope.interface import implementer

from echohub.config import GRPCConfig, WebConfig
from echohub.grpc import GRPCServer, Schema
from echohub.http import IHTTPStream
from echohub.ops import ConnectionCaps, ConnectionRegistry, Metrics, ServiceAccess
from echohub.testing import connect

SCHEMA = Schema()
EchoRequest = SCHEMA.message("grpc.examples.echo.EchoRequest")
EchoResponse = SCHEMA.message("grpc.examples.echo.EchoResponse")
HealthCheckRequest = SCHEMA.message("grpc.health.v1.HealthCheckRequest")
HealthCheckResponse = SCHEMA.message("grpc.health.v1.HealthCheckResponse")

UNARY = "grpc.examples.echo.Echo/UnaryEcho"
SERVER_STREAMING = "grpc.examples.echo.Echo/ServerStreamingEcho"
CLIENT_STREAMING = "grpc.examples.echo.Echo/ClientStreamingEcho"
BIDI = "grpc.examples.echo.Echo/BidirectionalStreamingEcho"


def echo(text: str) -> bytes:
    """
    A serialized C{EchoRequest}.
    """
    return bytes(EchoRequest(message=text).SerializeToString())


def framed(*texts: str) -> bytes:
    """
    Request messages with their length prefixes.
    """
    return b"".join(b"\0" + len(echo(t)).to_bytes(4, "big") + echo(t) for t in texts)


def texts(messages: list[bytes]) -> list[str]:
    """
    The text of each serialized C{EchoResponse}.
    """
    return [EchoResponse.FromString(m).message for m in messages]


def headers(
    method: str = UNARY, *metadata: tuple[bytes, bytes]
) -> list[tuple[bytes, bytes]]:
    """
    A native gRPC call's request header list.
    """
    return [
        (b":method", b"POST"),
        (b":scheme", b"http"),
        (b":path", b"/" + method.encode()),
        (b":authority", b"example.test"),
        (b"content-type", b"application/grpc"),
        (b"te", b"trailers"),
        *metadata,
    ]


@implementer(IHTTPStream)
class RecordingStream:
    """
    A call's response side that records what the call sends.

    @ivar sent: C{("headers", fields, end)}, C{("data", bytes)},
        C{("trailers", fields)}, C{("reset", code)} in order.
    """

    streamID = 1
    peer = IPv4Address("TCP", "127.0.0.1", 50000)
    host = IPv4Address("TCP", "127.0.0.1", 8080)
    secure = False
    peerText = "127.0.0.1:50000"

    def __init__(self) -> None:
        self.sent: list[tuple[Any, ...]] = []
        self.producer: IProducer | None = None
        self.readingPaused = False

    def sendHeaders(self, fields: list[tuple[bytes, bytes]], end: bool = False) -> None:
        self.sent.append(("headers", fields, end))

    def sendData(self, data: bytes, end: bool = False) -> None:
        self.sent.append(("data", data))

    def sendTrailers(self, fields: list[tuple[bytes, bytes]]) -> None:
        self.sent.append(("trailers", fields))

    def reset(self, code: int) -> None:
        self.sent.append(("reset", code))

    def pauseReading(self) -> None:
        self.readingPaused = True

    def resumeReading(self) -> None:
        self.readingPaused = False

    def registerProducer(self, producer: IProducer, streaming: bool) -> None:
        assert self.producer is None
        self.producer = producer

    def unregisterProducer(self) -> None:
        self.producer = None

    @property
    def status(self) -> tuple[int, str] | None:
        """
        The status the call ended with: from the trailers, or from a
        Trailers-Only answer; L{None} if it has not ended.
        """
        for kind, fields, *_ in reversed(self.sent):
            if kind in ("trailers", "headers"):
                found = dict(fields)
                if b"grpc-status" in found:
                    return int(found[b"grpc-status"]), found.get(
                        b"grpc-message", b""
                    ).decode()
        return None

    @property
    def messages(self) -> list[str]:
        """
        The text of every response message sent.
        """
        body = b"".join(data for kind, data, *_ in self.sent if kind == "data")
        out = []
        while body:
            length = int.from_bytes(body[1:5], "big")
            out.append(EchoResponse.FromString(body[5 : 5 + length]).message)
            body = body[5 + length :]
        return out


def server(
    config: GRPCConfig | None = None, showSensitive: bool = False
) -> tuple[GRPCServer, Clock, ConnectionRegistry, Metrics]:
    """
    A gRPC server over a clock, with metrics.
    """
    clock = Clock()
    connections = ConnectionRegistry()
    metrics = Metrics(processStats=False)
    access = ServiceAccess("web", ConnectionCaps(0, 0), clock, metrics)
    return (
        GRPCServer(config or GRPCConfig(), clock, access, connections, showSensitive),
        clock,
        connections,
        metrics,
    )


def http1(
    path: str,
    body: bytes,
    contentType: bytes = b"application/grpc-web+proto",
    extra: tuple[bytes, ...] = (),
    config: WebConfig | None = None,
    method: bytes = b"POST",
) -> tuple[int, dict[bytes, bytes], bytes]:
    """
    One HTTP/1.1 request to a new in-memory site: the status, the headers
    (lower-case names; the last value of each) and the body, de-chunked.
    """
    channel, transport, _ = connect(config)
    head = [
        method + b" /" + path.encode() + b" HTTP/1.1",
        b"Host: example.test",
        b"Content-Type: " + contentType,
        b"Content-Length: %d" % len(body),
        *extra,
    ]
    channel.dataReceived(b"\r\n".join(head) + b"\r\n\r\n" + body)
    raw, _, rest = transport.value().partition(b"\r\n\r\n")
    status, *lines = raw.split(b"\r\n")
    fields = {}
    for line in lines:
        name, _, value = line.partition(b": ")
        fields[name.lower()] = value
    if fields.get(b"transfer-encoding") == b"chunked":
        content = b""
        while True:
            size, _, rest = rest.partition(b"\r\n")
            length = int(size, 16)
            if not length:
                break
            content, rest = content + rest[:length], rest[length + 2 :]
        rest = content
    else:
        rest = rest[: int(fields.get(b"content-length", b"0"))]
    return int(status.split(b" ")[1]), fields, rest


def webFrames(body: bytes) -> tuple[list[bytes], dict[bytes, bytes]]:
    """
    The messages and the trailers of a gRPC-Web response body.
    """
    messages, trailers = [], {}
    while body:
        flags, length = body[0], int.from_bytes(body[1:5], "big")
        payload, body = body[5 : 5 + length], body[5 + length :]
        if flags & 0x80:
            for line in payload.split(b"\r\n"):
                if line:
                    name, _, value = line.partition(b":")
                    trailers[name] = value.strip()
        else:
            messages.append(payload)
    return messages, trailers
