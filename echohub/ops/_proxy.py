# -*- test-case-name: tests.ops.test_proxy -*-
"""
The PROXY protocol (v1 and v2), as HAProxy's C{send-proxy} and
C{send-proxy-v2} send it: a header before anything else on the connection
that names the real client.

Twisted's C{haproxy:} endpoint has the parsers (used here) but its wrapper
does three things wrong for echohub:

    - It connects the wrapped protocol before the header has arrived, so a
      C{connectionMade} sees the proxy's address: the per-peer cap and the
      access log would count HAProxy, not the client.  L{ProxyHeaderProtocol}
      connects the wrapped protocol only once the header is parsed.
    - It hides L{IHalfCloseableProtocol}, so a line client's half-close
      would lose its pending echoes.  L{ProxyHeaderProtocol} forwards it.
    - C{haproxy:ssl:} expects the header inside TLS, but HAProxy sends it
      before the handshake.  echohub composes the layers itself (see
      L{echohub.ops._listeners.serverEndpoint}): the header is read from the raw
      connection, then TLS starts.

A header that is malformed, or that has not arrived within
L{HEADER_TIMEOUT} seconds, closes the connection, counted as a C{proxy}
rejection.  A v2 C{LOCAL} header (HAProxy's health checks) or v1
C{UNKNOWN} carries no address: the connection's own is used.
"""

from __future__ import annotations

import struct
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
from twisted.protocols.haproxy._exceptions import InvalidProxyHeader
from twisted.protocols.haproxy._info import ProxyInfo
from twisted.protocols.haproxy._v1parser import V1Parser
from twisted.protocols.haproxy._v2parser import V2Parser
from twisted.protocols.policies import ProtocolWrapper, WrappingFactory
from twisted.python.failure import Failure
from zope.interface import directlyProvides, implementer, providedBy

from echohub.ops._metrics import Reason

HEADER_TIMEOUT = 10.0
"""
Seconds a client has to send its PROXY header; a load balancer sends it at
once, so only a stray or hostile client is ever cut by this.
"""

_V1 = V1Parser.PROXYSTR + b" "
_V2 = V2Parser.PREFIX


def parseHeader(data: bytes) -> tuple[ProxyInfo, bytes] | None:
    """
    Parse a PROXY header, v1 or v2, at the start of C{data}.

    @return: the header and the bytes after it, or L{None} if C{data} is a
        valid beginning of a header that is not complete yet.
    @raise InvalidProxyHeader: C{data} does not start with a valid header.
    """
    if data.startswith(_V2):
        if len(data) < 16:
            return None
        if data[12] & 0xF0 != 0x20:
            raise InvalidProxyHeader()
        size = struct.unpack("!H", data[14:16])[0] + 16
        if len(data) < size:
            return None
        parse: Any = V2Parser.parse
        header, rest = data[:size], data[size:]
    elif data.startswith(_V1):
        end = data.find(b"\r\n")
        if end == -1:
            if len(data) > 107:
                raise InvalidProxyHeader()
            return None
        parse = V1Parser.parse
        header, rest = data[:end], data[end + 2 :]
    elif _V2.startswith(data[:12]) or _V1.startswith(data[:6]):
        return None
    else:
        raise InvalidProxyHeader()
    try:
        info: ProxyInfo = parse(header)
    except (ValueError, KeyError, struct.error) as e:
        raise InvalidProxyHeader() from e
    return info, rest


@implementer(IHalfCloseableProtocol)
class ProxyHeaderProtocol(ProtocolWrapper):
    """
    Read the PROXY header, then connect the wrapped protocol with the
    header's addresses as its transport's peer and host.

    @ivar info: the parsed header, once it has arrived.
    """

    factory: ProxyWrappingFactory
    transport: Any
    info: ProxyInfo | None = None
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
        except InvalidProxyHeader:
            self._invalid("invalid PROXY header")
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
        self._timeout = None
        self._cancelTimeout()
        self._buffer = None  # type: ignore[assignment]
        self.factory.invalid(self.transport.getPeer(), why)
        self.transport.abortConnection()

    def _cancelTimeout(self) -> None:
        if self._timeout is not None and self._timeout.active():
            self._timeout.cancel()
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
        Our sending side is shut: tell a half-closeable protocol, close
        otherwise.
        """
        wrapped = self._halfCloseable()
        if wrapped is not None:
            wrapped.writeConnectionLost()
        else:
            self.transport.loseConnection()

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
