# -*- test-case-name: tests.test_tlsprotocol -*-
"""
Helpers for testing protocols behind echohub's TLS in memory, without a
network: a configurable client side, and a function that connects it to a
server factory through Twisted's in-memory transports.

    >>> certs = ensureDevCertificates(directory, ["alice"])
    >>> factory = serverFactory(MyFactory(), certs, clock)
    >>> client, server, pump = connectTLS(factory, TLSClient(certs), MyClient(), clock)
    >>> pump.flush()
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from OpenSSL import SSL
from twisted.internet.address import IPv4Address
from twisted.internet.interfaces import (
    IOpenSSLClientConnectionCreator,
    IProtocolFactory,
)
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.task import Clock
from twisted.protocols.tls import TLSMemoryBIOFactory, TLSMemoryBIOProtocol
from twisted.test import iosim
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer

from echohub.devcert import DevCertificates
from echohub.tls import ListenerTLS, ReloadableServerContext
from echohub.tlsprotocol import TLSServerFactory

SERVER_ADDRESS = IPv4Address("TCP", "127.0.0.1", 7443)
CLIENT_ADDRESS = IPv4Address("TCP", "127.0.0.1", 40000)


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
