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
    - L{RefusingEndpoint}, an endpoint whose port is always in use;
      L{temporaryDirectory}, removed after the test.

echohub's own tests use these; so can yours.  For TLS:

    >>> certs = ensureDevCertificates(directory, ["alice"])
    >>> factory = serverFactory(MyFactory(), certs, clock)
    >>> client, server, pump = connectTLS(factory, TLSClient(certs), MyClient(), clock)
    >>> pump.flush()
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
from echohub.tls import (
    DevCertificates,
    ListenerTLS,
    ReloadableServerContext,
    TLSServerFactory,
)
from echohub.web import EchoChannel, buildSite

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
    """

    status: int
    headers: dict[bytes, list[bytes]]
    body: bytes

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
        return Response(self.status, headers, self.body)


def parseResponses(data: bytes, bodiless: bool = False) -> list[Response]:
    """
    Parse the responses in C{data}, which must end with a complete response.

    @param bodiless: the responses answer C{HEAD} requests, so carry no body
        whatever their C{Content-Length} says.
    @raise AssertionError: if a response is truncated, or has a body but no
        C{Content-Length} (echohub never sends chunked responses).
    """
    responses = []
    while data:
        head, separator, data = data.partition(b"\r\n\r\n")
        assert separator, f"truncated headers: {head!r}"
        statusLine, *headerLines = head.split(b"\r\n")
        version, status, _ = statusLine.split(b" ", 2)
        assert version == b"HTTP/1.1", statusLine
        headers: dict[bytes, list[bytes]] = {}
        for line in headerLines:
            name, value = line.split(b": ", 1)
            headers.setdefault(name.lower(), []).append(value)
        code = int(status)
        length = 0
        if not bodiless and code >= 200:
            assert b"transfer-encoding" not in headers, headers
            length = int(headers[b"content-length"][0])
        assert len(data) >= length, f"truncated body: {data!r}"
        responses.append(Response(code, headers, data[:length]))
        data = data[length:]
    return responses


def connect(
    config: WebConfig | None = None,
    transport: StringTransport | None = None,
) -> tuple[EchoChannel, StringTransport, MemoryReactorClock]:
    """
    Connect a client to a new L{buildSite} site over an in-memory transport
    (a new L{StringTransport} from L{CLIENT_PEER}, or C{transport}).

    @return: the server's channel, its transport and the site's reactor.
    """
    reactor = MemoryReactorClock()
    site = buildSite(config or WebConfig(), reactor=reactor)
    channel = site.buildProtocol(IPv4Address("TCP", "127.0.0.1", 8080))
    assert isinstance(channel, EchoChannel)
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
