# -*- test-case-name: tests.test_testing -*-
"""
In-memory helpers for testing against echohub, as C{treq.testing} is for
treq: no network, no process, every byte visible.

    - the web site over a L{StringTransport}: L{connect} a channel,
      L{exchange} raw request bytes for parsed L{Response}s, L{request} one
      request, L{jsonOf} a JSON body;
    - TLS over Twisted's in-memory transports (L{twisted.test.iosim}): a
      configurable client side (L{TLSClient}) connected to a server factory
      behind echohub's TLS (L{serverFactory}, L{connectTLS});
    - L{HalfCloseTransport}, a L{StringTransport} that can shut down its
      write side alone, as TCP can (for lingering closes);
    - L{DirectReadTransport}, one with a socket its protocol can read
      itself, as under C{[server] direct_dispatch}
      (L{echohub.ops.IDirectReader}): L{DirectReadTransport.deliver}
      hands bytes to the protocol that way;
    - HTTP/2 over a L{StringTransport}: L{H2Client}, a real HTTP/2 client
      (the C{h2} library's) that a test drives request by request or frame
      by frame; L{H2Client.grpc} makes a gRPC call with it, and
      L{H2Response.grpc} reads the answer (L{GRPCAnswer});
    - L{RefusingEndpoint}, an endpoint whose port is always in use;
      L{temporaryDirectory}, removed after the test.

echohub's own tests use these; so can yours.  For TLS:

    >>> certs = ensureDevCertificates(directory, ["alice"])
    >>> factory = serverFactory(MyFactory(), certs, clock)
    >>> client, server, pump = connectTLS(factory, TLSClient(certs), MyClient(), clock)
    >>> pump.flush()
"""

from __future__ import annotations

import errno
import json
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from h2.config import H2Configuration
from h2.connection import ConnectionState, H2Connection
from h2.errors import ErrorCodes
from h2.events import (
    ConnectionTerminated,
    DataReceived,
    ResponseReceived,
    StreamEnded,
    StreamReset,
    TrailersReceived,
)
from OpenSSL import SSL
from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred, fail
from twisted.internet.error import CannotListenError
from twisted.internet.interfaces import (
    IHalfCloseableProtocol,
    IListeningPort,
    IOpenSSLClientConnectionCreator,
    IProtocolFactory,
    IStreamServerEndpoint,
)
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.task import Clock
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.protocols.tls import TLSMemoryBIOFactory, TLSMemoryBIOProtocol
from twisted.python.filepath import FilePath
from twisted.test import iosim
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer

from echohub.config import WebConfig
from echohub.http import HTTP1Channel, IStreamRoutes, negotiate
from echohub.tls import (
    DevCertificates,
    ListenerTLS,
    ReloadableServerContext,
    TLSServerFactory,
)
from echohub.web import buildSite

SERVER_ADDRESS = IPv4Address("TCP", "127.0.0.1", 7443)
CLIENT_ADDRESS = IPv4Address("TCP", "127.0.0.1", 40000)
CLIENT_PEER = IPv4Address("TCP", "127.0.0.1", 50000)


def temporaryDirectory(case: SynchronousTestCase) -> Path:
    """
    A new directory outside the source tree, removed after the test.

    Trial's C{mktemp()} makes its paths under the current directory, which
    under pytest is the source tree.
    """
    path = Path(tempfile.mkdtemp(prefix="echohub-test-"))
    case.addCleanup(shutil.rmtree, path, True)
    return path


def serverSettings(certificates: DevCertificates, **options: Any) -> ListenerTLS:
    """
    The TLS settings of a listener serving the development certificate.

    @param options: more L{ListenerTLS} fields (C{profile}, C{clientCA},
        C{clientAuth}, ...).
    """
    return ListenerTLS(
        privateKey=certificates.server.privateKey.path,
        certKey=certificates.server.certificate.path,
        **options,
    )


def serverFactory(
    wrapped: IProtocolFactory,
    certificates: DevCertificates,
    clock: Clock,
    handshakeTimeout: float | None = 10.0,
    **options: Any,
) -> TLSServerFactory:
    """
    echohub's TLS around C{wrapped}, with the development certificate.
    """
    creator = ReloadableServerContext(serverSettings(certificates, **options))
    return TLSServerFactory(creator, wrapped, clock, handshakeTimeout)


@implementer(IOpenSSLClientConnectionCreator)
class TLSClient:
    """
    A TLS client configuration built directly on an L{SSL.Context}, so a
    test can offer what a real client might: a version range, groups,
    ciphers, ALPN protocols, a client certificate.

    @ivar context: the context, for further configuration.
    """

    def __init__(
        self,
        certificates: DevCertificates,
        client: str | None = None,
        version: int | None = None,
        alpn: list[bytes] | None = None,
    ) -> None:
        """
        @param client: the name of a development client certificate to send.
        @param version: the only TLS version to offer (C{SSL.TLS1_2_VERSION}).
        @param alpn: ALPN protocols to offer.
        """
        context = SSL.Context(SSL.TLS_METHOD)
        context.load_verify_locations(certificates.ca.certificate.path)
        context.set_verify(SSL.VERIFY_PEER)
        if client is not None:
            pair = certificates.clients[client]
            context.use_certificate_file(pair.certificate.path)
            context.use_privatekey_file(pair.privateKey.path)
        if version is not None:
            context.set_min_proto_version(version)
            context.set_max_proto_version(version)
        if alpn is not None:
            context.set_alpn_protos(alpn)
        self.context = context

    def clientConnectionForTLS(self, tlsProtocol: object) -> SSL.Connection:
        """
        A connection to C{localhost}, with SNI.
        """
        connection = SSL.Connection(self.context, None)
        connection.set_tlsext_host_name(b"localhost")
        return connection


def connectTLS(
    server: TLSServerFactory, client: TLSClient, clientProtocol: Protocol, clock: Clock
) -> tuple[TLSMemoryBIOProtocol, TLSMemoryBIOProtocol, iosim.IOPump]:
    """
    Connect C{clientProtocol}, over TLS with C{client}'s configuration, to a
    protocol of C{server}, in memory.  Nothing moves until the returned pump
    is flushed.

    @return: the client's and the server's TLS protocols and the pump.
    """
    clientFactory = TLSMemoryBIOFactory(
        client, True, Factory.forProtocol(lambda: clientProtocol), clock
    )
    clientTLS = clientFactory.buildProtocol(SERVER_ADDRESS)
    serverTLS = server.buildProtocol(CLIENT_ADDRESS)
    assert serverTLS is not None and clientTLS is not None
    pump = iosim.connect(
        serverTLS,
        iosim.FakeTransport(serverTLS, True, SERVER_ADDRESS, CLIENT_ADDRESS),
        clientTLS,
        iosim.FakeTransport(clientTLS, False, CLIENT_ADDRESS, SERVER_ADDRESS),
        greet=False,
        clock=clock,
    )
    return clientTLS, serverTLS, pump


@dataclass(frozen=True)
class Response:
    """
    One parsed HTTP response.

    @ivar headers: header names lower-cased, to their values in order.
    @ivar reason: the status line's reason phrase.
    """

    status: int
    headers: dict[bytes, list[bytes]]
    body: bytes
    reason: bytes = b""

    def header(self, name: bytes) -> bytes | None:
        """
        The only value of header C{name}, or L{None} if it is absent.

        @raise AssertionError: if it occurs more than once.
        """
        values = self.headers.get(name.lower())
        if values is None:
            return None
        assert len(values) == 1, (name, values)
        return values[0]

    def withoutDate(self) -> Response:
        """
        This response without its C{Date} header, which depends on the wall
        clock, for comparing two responses.
        """
        headers = {k: v for k, v in self.headers.items() if k != b"date"}
        return Response(self.status, headers, self.body, self.reason)


def parseResponses(data: bytes, bodiless: bool = False) -> list[Response]:
    """
    Parse the responses in C{data}, which must end with a complete response.

    @param bodiless: the responses answer C{HEAD} requests, so carry no body
        whatever their C{Content-Length} says.  A C{1xx}, C{204} or C{304}
        has none either, and no C{Content-Length} (RFC 9110 section 8.6).
    @raise AssertionError: if a response is truncated, or has a body but no
        C{Content-Length} (echohub never sends chunked responses to these).
    """
    responses = []
    while data:
        head, separator, data = data.partition(b"\r\n\r\n")
        assert separator, f"truncated headers: {head!r}"
        statusLine, *headerLines = head.split(b"\r\n")
        version, status, reason = statusLine.split(b" ", 2)
        assert version == b"HTTP/1.1", statusLine
        headers: dict[bytes, list[bytes]] = {}
        for line in headerLines:
            name, value = line.split(b": ", 1)
            headers.setdefault(name.lower(), []).append(value)
        code = int(status)
        length = 0
        if code < 200 or code in (204, 304):
            assert b"content-length" not in headers, headers
        elif not bodiless:
            assert b"transfer-encoding" not in headers, headers
            length = int(headers[b"content-length"][0])
        assert len(data) >= length, f"truncated body: {data!r}"
        responses.append(Response(code, headers, data[:length], reason))
        data = data[length:]
    return responses


def connect(
    config: WebConfig | None = None,
    transport: StringTransport | None = None,
) -> tuple[HTTP1Channel, StringTransport, MemoryReactorClock]:
    """
    Connect a client to a new L{buildSite} site over an in-memory transport
    (a new L{StringTransport} from L{CLIENT_PEER}, or C{transport}).

    @return: the server's channel, its transport and the site's reactor.
    """
    reactor = MemoryReactorClock()
    site = buildSite(config or WebConfig(), reactor=reactor)
    channel = site.buildProtocol(IPv4Address("TCP", "127.0.0.1", 8080))
    assert isinstance(channel, HTTP1Channel)
    if transport is None:
        transport = StringTransport(peerAddress=CLIENT_PEER)
    if isinstance(transport, HalfCloseTransport):
        transport.protocol = channel
    channel.makeConnection(transport)
    return channel, transport, reactor


def exchange(
    *chunks: bytes, config: WebConfig | None = None, bodiless: bool = False
) -> list[Response]:
    """
    Send C{chunks}, each with its own C{dataReceived} call, to a new
    connection and parse everything the server wrote back.
    """
    channel, transport, _ = connect(config)
    for chunk in chunks:
        channel.dataReceived(chunk)
    return parseResponses(transport.value(), bodiless)


def request(
    target: bytes,
    method: bytes = b"GET",
    headers: tuple[bytes, ...] = (),
    body: bytes | None = None,
    config: WebConfig | None = None,
) -> Response:
    """
    The response to one request, sent in one read.
    """
    lines = [
        method + b" " + target + b" HTTP/1.1",
        b"Host: example.test:8080",
        *headers,
    ]
    if body is not None:
        lines.append(b"Content-Length: %d" % len(body))
    channel, transport, _ = connect(config)
    channel.dataReceived(b"\r\n".join(lines) + b"\r\n\r\n" + (body or b""))
    [response] = parseResponses(transport.value(), bodiless=method == b"HEAD")
    return response


def jsonOf(response: Response) -> Any:
    """
    The JSON body of a C{200 application/json} response.
    """
    assert response.status == 200, response
    assert response.header(b"Content-Type") == b"application/json"
    return json.loads(response.body)


class HalfCloseTransport(StringTransport):
    """
    A L{StringTransport} with TCP's half-close: L{loseWriteConnection}
    records that the write side is shut down (after what was written, which
    a test reads with C{value()}) and tells a half-closeable protocol, as
    TCP does once its buffer is sent.

    @ivar protocol: the protocol told of the half-close; set it.
    @ivar writeDisconnected: whether L{loseWriteConnection} was called.
    @ivar aborted: whether C{abortConnection} was called.
    """

    protocol: Any = None
    writeDisconnected = False
    aborted = False

    def loseWriteConnection(self) -> None:
        """
        Shut down the write side; the protocol hears of it as from TCP.
        """
        self.writeDisconnected = True
        halfCloseable = IHalfCloseableProtocol(self.protocol, None)
        if halfCloseable is not None:
            halfCloseable.writeConnectionLost()

    def unregisterProducer(self) -> None:
        """
        Unregister the producer, if any: like TCP's, and unlike
        L{StringTransport}'s, unregistering none is no error.
        """
        if self.producer is not None:
            super().unregisterProducer()

    def abortConnection(self) -> None:
        """
        Record the abort, then close as L{StringTransport} does.
        """
        self.aborted = True
        super().abortConnection()


class ScriptedSocket:
    """
    The socket of a L{DirectReadTransport}: C{recv_into} hands out what was
    queued with L{feed}, then EOF (L{end}) or an error (L{fail}); with
    nothing queued it raises C{BlockingIOError}, as a non-blocking socket
    does.
    """

    def __init__(self) -> None:
        self._queued: list[bytes] = []
        self._ended = False
        self._error: OSError | None = None

    def feed(self, data: bytes) -> None:
        """
        Queue C{data} for the next C{recv_into}.
        """
        self._queued.append(data)

    def end(self) -> None:
        """
        Once the queue is empty, C{recv_into} returns C{0}: EOF.
        """
        self._ended = True

    def fail(self, error: OSError) -> None:
        """
        The next C{recv_into} raises C{error}.
        """
        self._error = error

    def recv_into(self, buffer: bytearray) -> int:
        """
        Copy the next queued bytes into C{buffer}: at most its length, the
        rest staying queued.
        """
        if self._error is not None:
            error, self._error = self._error, None
            raise error
        if not self._queued:
            if self._ended:
                return 0
            raise BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable")
        data = self._queued.pop(0)
        size = min(len(data), len(buffer))
        buffer[:size] = data[:size]
        if size < len(data):
            self._queued.insert(0, data[size:])
        return size


class DirectReadTransport(HalfCloseTransport):
    """
    A L{HalfCloseTransport} whose protocol may read its socket itself, as
    L{echohub.ops.IDirectReader}s do on a plain TCP connection under
    C{[server] direct_dispatch}.

    @ivar socket: the L{ScriptedSocket} the protocol reads.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.socket = ScriptedSocket()

    def deliver(self, data: bytes) -> object:
        """
        Have the protocol read C{data} from the socket, as the reactor would
        have it when the socket is readable.

        @return: what the protocol's C{socketReadable} returned.
        """
        self.socket.feed(data)
        return self.protocol.socketReadable()


@implementer(IStreamServerEndpoint)
class RefusingEndpoint:
    """
    An endpoint whose port is always in use.
    """

    def listen(self, factory: IProtocolFactory) -> Deferred[IListeningPort]:
        """
        Fail as a port already bound by another process does.
        """
        return fail(
            CannotListenError("127.0.0.1", 7007, OSError(98, "Address already in use"))
        )


def temporaryPath(testCase: SynchronousTestCase) -> FilePath[str]:
    """
    A path that does not exist yet, in a directory removed after the test.

    Trial's C{mktemp} is relative to the working directory, which under
    pytest is the source tree; this keeps the tree clean.
    """
    parent = tempfile.mkdtemp(prefix="echohub-test-")
    testCase.addCleanup(shutil.rmtree, parent)
    return FilePath(parent).child("certs")


@dataclass
class H2Response:
    """
    What an L{H2Client} received on one stream.

    @ivar headers: the response header list, C{:status} first.
    @ivar ended: the server ended the stream.
    @ivar reset: the error code of the server's C{RST_STREAM}, if any.
    @ivar trailers: the trailer list, if the response had one.
    """

    headers: list[tuple[bytes, bytes]]
    body: bytes = b""
    ended: bool = False
    reset: int | None = None
    trailers: list[tuple[bytes, bytes]] | None = None

    @property
    def status(self) -> int:
        return int(dict(self.headers)[b":status"])

    def header(self, name: bytes) -> bytes | None:
        """
        The first value of the (lower-case) header C{name}.
        """
        return dict(self.headers).get(name)

    def grpc(self) -> GRPCAnswer:
        """
        This response read as a gRPC call's answer.
        """
        return GRPCAnswer.read(self.headers, self.body, self.trailers)


@dataclass
class GRPCAnswer:
    """
    A gRPC call's answer, as a client reads it.

    @ivar headers: the response headers (the Trailers-Only form's too).
    @ivar messages: the response messages, as sent (compressed ones
        still compressed: see L{compressed}).
    @ivar compressed: each message's compressed flag.
    @ivar status: C{grpc-status}, from the trailers or a Trailers-Only
        answer; L{None} if there was none.
    @ivar message: C{grpc-message}, percent-decoded.
    @ivar trailers: the trailers (or the Trailers-Only headers).
    """

    headers: dict[bytes, bytes]
    messages: list[bytes]
    compressed: list[bool]
    status: int | None
    message: str
    trailers: dict[bytes, bytes]

    @classmethod
    def read(
        cls,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
        trailers: list[tuple[bytes, bytes]] | None,
    ) -> GRPCAnswer:
        """
        Read an answer from its parts.

        @raise AssertionError: the body does not end with a whole message.
        """
        messages, compressed = [], []
        while body:
            assert len(body) >= 5, body
            length = int.from_bytes(body[1:5], "big")
            assert len(body) >= 5 + length, body
            compressed.append(bool(body[0] & 1))
            messages.append(body[5 : 5 + length])
            body = body[5 + length :]
        fields = dict(trailers if trailers is not None else headers)
        status = fields.get(b"grpc-status")
        return cls(
            dict(headers),
            messages,
            compressed,
            None if status is None else int(status),
            unquote(fields.get(b"grpc-message", b"").decode("ascii")),
            fields,
        )


class H2Client:
    """
    An HTTP/2 client over an in-memory transport, connected to a new
    L{buildSite} site through the listener's L{negotiate} factory, with the
    connection preface, so as HTTP/2 with prior knowledge.

    Every L{send} delivers what the client wrote, in one read, and reads
    back what the server wrote.  The client opens its flow-control windows
    as it reads, unless L{reading} is false.

    @ivar h2: the client's C{h2} connection, for frames of a test's choice.
    @ivar server: the server's protocol for this connection.
    @ivar transport: the server's transport.
    @ivar clock: the site's reactor.
    @ivar responses: what arrived on each stream.
    @ivar goaway: the server's C{GOAWAY}, once it came.
    @ivar received: bytes the server wrote, in all.
    """

    def __init__(
        self,
        config: WebConfig | None = None,
        streamRoutes: IStreamRoutes | None = None,
        **site: Any,
    ) -> None:
        """
        @param config: the site's web settings.
        @param streamRoutes: the site's stream routes instead of
            L{buildSite}'s (a test's own), before the connection is made.
        @param site: more arguments of L{buildSite}.
        """
        config = config or WebConfig()
        self.clock = MemoryReactorClock()
        self.site = buildSite(config, reactor=self.clock, **site)
        if streamRoutes is not None:
            self.site.streamRoutes = streamRoutes
        self.server = negotiate(self.site, config).buildProtocol(
            IPv4Address("TCP", "127.0.0.1", 8080)
        )
        self.transport = StringTransport(
            peerAddress=IPv4Address("TCP", "127.0.0.1", 50000)
        )
        self.server.makeConnection(self.transport)
        self.h2 = H2Connection(H2Configuration(client_side=True, header_encoding=None))
        self.responses: dict[int, H2Response] = {}
        self.goaway: ConnectionTerminated | None = None
        self.reading = True
        self.received = 0
        self._partial = b""
        self.h2.initiate_connection()
        self.send()

    def send(self, data: bytes | None = None) -> None:
        """
        Deliver C{data}, or what the client's C{h2} has to send, then read
        the server's answer.
        """
        if data is None:
            data = self.h2.data_to_send()
        if data:
            self.server.dataReceived(data)
        self.read()
        # What reading produced (settings acknowledgements, window
        # updates), delivered until the two sides have nothing more to say.
        for _ in range(100):
            data = self.h2.data_to_send()
            if not data or self.transport.disconnecting:
                break
            self.server.dataReceived(data)
            self.read()

    def read(self) -> None:
        """
        Read what the server wrote.
        """
        data = self.transport.value()
        self.transport.clear()
        self.received += len(data)
        if not data or (self.goaway and self.goaway.error_code != ErrorCodes.NO_ERROR):
            return
        # Frame by frame: after a graceful GOAWAY (which h2 takes as the
        # end, see below) the frames of the streams it lets finish follow.
        data = self._partial + data
        frames = []
        while len(data) >= 9 and len(data) >= 9 + int.from_bytes(data[:3], "big"):
            end = 9 + int.from_bytes(data[:3], "big")
            frames.append(data[:end])
            data = data[end:]
        self._partial = data
        for frame in frames:
            self._events(self.h2.receive_data(frame))

    def _events(self, events: list[Any]) -> None:
        for event in events:
            if isinstance(event, ResponseReceived):
                self.responses[event.stream_id] = H2Response(list(event.headers))
            elif isinstance(event, DataReceived):
                self.responses[event.stream_id].body += event.data
                if self.reading:
                    self.h2.acknowledge_received_data(
                        event.flow_controlled_length,
                        event.stream_id,
                    )
            elif isinstance(event, TrailersReceived):
                self.responses[event.stream_id].trailers = list(event.headers)
            elif isinstance(event, StreamEnded):
                self.responses[event.stream_id].ended = True
            elif isinstance(event, StreamReset):
                response = self.responses.setdefault(event.stream_id, H2Response([]))
                response.reset = event.error_code
            elif isinstance(event, ConnectionTerminated):
                self.goaway = event
                if event.error_code == ErrorCodes.NO_ERROR:
                    # h2's state machine takes every GOAWAY as the end,
                    # while RFC 9113 section 6.8 lets the streams up to its
                    # last stream finish: reopen it to see them finish.
                    self.h2.state_machine.state = ConnectionState.CLIENT_OPEN

    def request(
        self,
        path: bytes,
        method: bytes = b"GET",
        headers: tuple[tuple[bytes, bytes], ...] = (),
        body: bytes | None = None,
        send: bool = True,
    ) -> int:
        """
        Open a stream with one request; with C{body} L{None} the headers
        end it.

        @return: the stream's identifier.
        """
        streamID = self.h2.get_next_available_stream_id()
        fields = [
            (b":method", method),
            (b":path", path),
            (b":scheme", b"http"),
            (b":authority", b"example.test"),
            *headers,
        ]
        self.h2.send_headers(streamID, fields, end_stream=body is None)
        if body is not None:
            size = self.h2.max_outbound_frame_size
            for start in range(0, len(body), size):
                self.h2.send_data(streamID, body[start : start + size])
            self.h2.end_stream(streamID)
        if send:
            self.send()
        return streamID

    def get(self, path: bytes, **kwargs: Any) -> H2Response:
        """
        The response to one request.
        """
        return self.responses[self.request(path, **kwargs)]

    def grpc(
        self,
        method: str,
        messages: Sequence[bytes] = (),
        metadata: tuple[tuple[bytes, bytes], ...] = (),
        end: bool = True,
        contentType: bytes = b"application/grpc",
    ) -> int:
        """
        Start a gRPC call of C{method} (C{package.Service/Method}) with the
        serialized request C{messages}, each framed; with C{end}, the
        request ends after them.

        @return: the stream's identifier: its answer is
            C{client.responses[streamID].grpc()}.
        """
        streamID = self.h2.get_next_available_stream_id()
        self.h2.send_headers(
            streamID,
            [
                (b":method", b"POST"),
                (b":path", b"/" + method.encode()),
                (b":scheme", b"http"),
                (b":authority", b"example.test"),
                (b"content-type", contentType),
                (b"te", b"trailers"),
                *metadata,
            ],
            end_stream=end and not messages,
        )
        body = b"".join(b"\0" + len(m).to_bytes(4, "big") + m for m in messages)
        while body:
            size = min(
                len(body),
                self.h2.local_flow_control_window(streamID),
                self.h2.max_outbound_frame_size,
            )
            if not size:
                # Deliver what was sent, for the window to open again.
                self.send()
                if not self.h2.local_flow_control_window(streamID):
                    raise AssertionError("the server keeps the window shut")
                continue
            self.h2.send_data(
                streamID, body[:size], end_stream=end and size == len(body)
            )
            body = body[size:]
        self.send()
        return streamID
