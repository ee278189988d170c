# -*- test-case-name: tests.proxy.test_proxy -*-
"""
The PROXY protocol on a listener: L{ProxyServerEndpoint} wraps any stream
endpoint so that each connection's wrapped protocol is connected only once
its header (L{echohub.proxy._header}) has named the real client.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import (
    IAddress,
    IDelayedCall,
    IHalfCloseableProtocol,
    IListeningPort,
    IProtocolFactory,
    IReactorTime,
    IStreamServerEndpoint,
    ITransport,
)
from twisted.internet.protocol import Protocol
from twisted.protocols.policies import ProtocolWrapper, WrappingFactory
from twisted.python.failure import Failure
from zope.interface import directlyProvides, implementer, providedBy

from echohub._net import cancelCall
from echohub.ops import Reason
from echohub.proxy._header import InvalidProxyHeaderError, ProxyHeader, parseHeader

HEADER_TIMEOUT = 10.0
"""
Seconds a client has to send its PROXY header; a load balancer sends it at
once, so only a stray or hostile client is ever cut by this.
"""


@implementer(IHalfCloseableProtocol)
class ProxyHeaderProtocol(ProtocolWrapper):
    """
    Read the PROXY header, then connect the wrapped protocol with the
    header's addresses as its transport's peer and host.

    @ivar info: the parsed header, once it has arrived.
    """

    factory: ProxyWrappingFactory
    transport: Any
    info: ProxyHeader | None = None
    _buffer = b""
    _timeout: IDelayedCall | None = None

    def makeConnection(self, transport: ITransport) -> None:
        """
        Take the connection, but hold the wrapped protocol back until the
        header is parsed.
        """
        directlyProvides(self, providedBy(transport))
        Protocol.makeConnection(self, transport)
        self.factory.registerProtocol(self)
        self._timeout = self.factory.clock.callLater(
            self.factory.headerTimeout, self._invalid, "no PROXY header in time"
        )

    def dataReceived(self, data: bytes) -> None:
        """
        Pass data on once the header is parsed; until then, collect it.
        """
        if self.info is not None:
            self.wrappedProtocol.dataReceived(data)
            return
        if self._buffer is None:
            return
        self._buffer += data
        try:
            parsed = parseHeader(self._buffer)
        except InvalidProxyHeaderError as e:
            self._invalid(f"invalid PROXY header ({e})")
            return
        if parsed is None:
            return
        self.info, rest = parsed
        self._buffer = b""
        self._cancelTimeout()
        self.wrappedProtocol.makeConnection(self)  # type: ignore[arg-type]
        if rest and self.connected:
            self.wrappedProtocol.dataReceived(rest)

    def _invalid(self, why: str) -> None:
        """
        Close a connection whose header is missing or wrong.
        """
        self._cancelTimeout()
        self._buffer = None  # type: ignore[assignment]
        self.factory.invalid(self.transport.getPeer(), why)
        self.transport.abortConnection()

    def _cancelTimeout(self) -> None:
        cancelCall(self._timeout)
        self._timeout = None

    def getPeer(self) -> IAddress:
        """
        The real client, as the header names it.
        """
        if self.info is not None and self.info.source is not None:
            return self.info.source
        peer: IAddress = self.transport.getPeer()
        return peer

    def getHost(self) -> IAddress:
        """
        The address the client connected to, as the header names it.
        """
        if self.info is not None and self.info.destination is not None:
            return self.info.destination
        host: IAddress = self.transport.getHost()
        return host

    def _halfCloseable(self) -> IHalfCloseableProtocol | None:
        if self.info is None:
            return None
        return IHalfCloseableProtocol(self.wrappedProtocol, None)

    def readConnectionLost(self) -> None:
        """
        The client sent EOF: tell a half-closeable protocol, close otherwise.
        """
        wrapped = self._halfCloseable()
        if wrapped is not None:
            wrapped.readConnectionLost()
        else:
            self.transport.loseConnection()

    def writeConnectionLost(self) -> None:
        """
        Our sending side is shut: tell a half-closeable protocol.  Any other
        hears nothing, as from TCP itself: only a protocol's own lingering
        close (L{echohub.ops.Lingering}) shuts that side, and it goes on
        reading.
        """
        wrapped = self._halfCloseable()
        if wrapped is not None:
            wrapped.writeConnectionLost()

    def connectionLost(self, reason: Failure) -> None:  # type: ignore[override]
        """
        Tell the wrapped protocol, if it was ever connected.
        """
        self._cancelTimeout()
        self.factory.unregisterProtocol(self)
        if self.info is not None:
            self.wrappedProtocol.connectionLost(reason)


class ProxyWrappingFactory(WrappingFactory):
    """
    Wrap every connection of a factory in a L{ProxyHeaderProtocol}.

    @ivar clock: for the header timeout.
    @ivar headerTimeout: seconds the header may take.
    """

    protocol = ProxyHeaderProtocol
    noisy = False

    def __init__(
        self,
        wrappedFactory: IProtocolFactory,
        clock: IReactorTime,
        headerTimeout: float = HEADER_TIMEOUT,
    ) -> None:
        super().__init__(wrappedFactory)
        self.clock = clock
        self.headerTimeout = headerTimeout

    def invalid(self, peer: IAddress, why: str) -> None:
        """
        Count and log a connection closed for its header.  The service's
        L{echohub.ops._access.ServiceAccess}, found through any wrapping factory
        between us (TLS), rate-limits the log line.
        """
        factory: Any = self.wrappedFactory
        while getattr(factory, "access", None) is None and hasattr(
            factory, "wrappedFactory"
        ):
            factory = factory.wrappedFactory
        access = getattr(factory, "access", None)
        if access is not None:
            access.rejected(Reason.PROXY, "{service}: {why} from {peer}", peer, why=why)


@implementer(IStreamServerEndpoint)
class ProxyServerEndpoint:
    """
    Listen on another endpoint, expecting a PROXY header on each connection.
    """

    def __init__(self, wrapped: IStreamServerEndpoint, clock: IReactorTime) -> None:
        self.wrapped = wrapped
        self.clock = clock

    def listen(self, protocolFactory: IProtocolFactory) -> Deferred[IListeningPort]:
        """
        Listen on the wrapped endpoint, every connection behind a
        L{ProxyHeaderProtocol}.
        """
        return self.wrapped.listen(ProxyWrappingFactory(protocolFactory, self.clock))
