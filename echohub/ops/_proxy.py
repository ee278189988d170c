# -*- test-case-name: tests.ops.test_proxy -*-
"""
The PROXY protocol (v1 and v2), as HAProxy's C{send-proxy} and
C{send-proxy-v2} send it: a header before anything else on the connection
that names the real client.

Twisted's C{haproxy:} endpoint is not used, for four reasons:

    - Its parsers (private modules) accept what the specification forbids:
      C{999.1.2.3}, port C{70000} or C{-1}, a NUL, an IPv6 address under
      C{TCP4}, extra fields, a v2 C{UDP} header on a stream listener; and
      they refuse the bare C{PROXY UNKNOWN} line HAProxy sends when it has
      no address.  Whatever such a header names reaches the logs, C{/ip} and
      the per-host cap's key.  L{parseHeader} is a strict parser of its own.
    - It connects the wrapped protocol before the header has arrived, so a
      C{connectionMade} sees the proxy's address: the per-peer cap and the
      access log would count HAProxy, not the client.  L{ProxyHeaderProtocol}
      connects the wrapped protocol only once the header is parsed.
    - It hides L{IHalfCloseableProtocol}, so a line client's half-close
      would lose its pending echoes.  L{ProxyHeaderProtocol} forwards it.
    - C{haproxy:ssl:} expects the header inside TLS, but HAProxy sends it
      before the handshake.  echohub composes the layers itself (see
      L{echohub.endpoints}): the header is read from the raw connection,
      then TLS starts.

What is accepted (U{the specification
<https://www.haproxy.org/download/2.9/doc/proxy-protocol.txt>}):

    - v1: C{PROXY TCP4 src dst sport dport CRLF} (or C{TCP6}), fields
      separated by exactly one space, at most 107 bytes with the C{CRLF};
      addresses in the syntax of their family (dotted quad without leading
      zeros; IPv6 text without a zone, kept in its canonical form so that
      one client cannot spell itself many ways to the per-host cap); ports
      decimal C{0}-C{65535} without sign or leading zeros; printable ASCII
      only.  C{PROXY UNKNOWN} with or without anything after it (the
      specification says to ignore the rest) carries no address.
    - v2: version 2; command C{LOCAL} (HAProxy's health checks: addresses
      ignored, whatever the family) or C{PROXY} with a family the listener
      serves: every echohub listener is a stream listener, so C{STREAM} over
      C{INET}, C{INET6} or C{UNIX}, or C{UNSPEC} (no address, as v1's
      C{UNKNOWN}); datagram and unknown families or commands are refused.
      The length must hold the family's address block; what follows it
      (TLVs) is skipped.

A header without an address (C{UNKNOWN}, C{LOCAL}, C{UNSPEC}) leaves the
connection's own addresses in place.  A header that is malformed, or that has
not arrived within L{HEADER_TIMEOUT} seconds, closes the connection, counted
as a C{proxy} rejection and logged once per C{[server] warning_interval}
with the reason.
"""

from __future__ import annotations

import ipaddress
import re
import struct
from dataclasses import dataclass
from typing import Any

from twisted.internet.address import IPv4Address, IPv6Address, UNIXAddress
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
from echohub.ops._metrics import Reason

HEADER_TIMEOUT = 10.0
"""
Seconds a client has to send its PROXY header; a load balancer sends it at
once, so only a stray or hostile client is ever cut by this.
"""

V1_PREFIX = b"PROXY "
V1_MAX = 107
"""
The longest v1 header, C{CRLF} included (the specification's own bound).
"""
V2_PREFIX = b"\r\n\r\n\x00\r\nQUIT\n"

_V2_LOCAL, _V2_PROXY = 0x0, 0x1
_V2_UNSPEC, _V2_INET, _V2_INET6, _V2_UNIX = 0x0, 0x1, 0x2, 0x3
_V2_STREAM = 0x1
_V2_ADDRESS_SIZE = {_V2_INET: 12, _V2_INET6: 36, _V2_UNIX: 216}

_PORT = re.compile(rb"0|[1-9][0-9]{0,4}")
_PRINTABLE = re.compile(rb"[\x21-\x7e]+(?: [\x21-\x7e]+)*")


class InvalidProxyHeaderError(Exception):
    """
    The connection does not start with an acceptable PROXY header; the
    message says why, for the log.
    """


@dataclass(frozen=True)
class ProxyHeader:
    """
    A parsed, validated PROXY header.

    @ivar source: the real client, or L{None} if the header names none.
    @ivar destination: the address it connected to, or L{None}.
    """

    source: IAddress | None = None
    destination: IAddress | None = None


def _v1Address(family: bytes, text: bytes) -> str:
    """
    Validate one v1 address for C{family}; return it in canonical form.
    """
    try:
        decoded = text.decode("ascii")
        if family == b"TCP4":
            return str(ipaddress.IPv4Address(decoded))
        if "%" in decoded:
            raise ValueError("zone")
        return str(ipaddress.IPv6Address(decoded))
    except ValueError:
        raise InvalidProxyHeaderError(
            f"v1 {family.decode()} address {text[:45]!r} is not one"
        ) from None


def _v1Port(text: bytes) -> int:
    """
    Validate one v1 port: decimal, no sign, no leading zero, at most 65535.
    """
    if _PORT.fullmatch(text) is None or int(text) > 65535:
        raise InvalidProxyHeaderError(f"v1 port {text[:8]!r} is not 0-65535")
    return int(text)


def _parseV1(line: bytes) -> ProxyHeader:
    """
    Parse a v1 header line, C{CRLF} removed.
    """
    if _PRINTABLE.fullmatch(line) is None:
        raise InvalidProxyHeaderError("v1 header has control bytes or stray spaces")
    fields = line.split(b" ")
    family = fields[1]
    if family == b"UNKNOWN":
        return ProxyHeader()
    if family not in (b"TCP4", b"TCP6"):
        raise InvalidProxyHeaderError(f"v1 protocol {family[:8]!r} is not TCP4/TCP6")
    if len(fields) != 6:
        raise InvalidProxyHeaderError(f"v1 header has {len(fields)} fields, not 6")
    make = IPv4Address if family == b"TCP4" else IPv6Address
    source = _v1Address(family, fields[2])
    destination = _v1Address(family, fields[3])
    sourcePort, destinationPort = _v1Port(fields[4]), _v1Port(fields[5])
    return ProxyHeader(
        make("TCP", source, sourcePort), make("TCP", destination, destinationPort)
    )


def _parseV2(header: bytes) -> ProxyHeader:
    """
    Parse a complete v2 header (signature, fixed part, address block and
    TLVs), already checked to be version 2.
    """
    command = header[12] & 0x0F
    family, transport = header[13] >> 4, header[13] & 0x0F
    if command == _V2_LOCAL:
        return ProxyHeader()
    if command != _V2_PROXY:
        raise InvalidProxyHeaderError(
            f"v2 command {command:#x} is neither LOCAL nor PROXY"
        )
    if family == _V2_UNSPEC and transport in (0, _V2_STREAM):
        return ProxyHeader()
    if family not in _V2_ADDRESS_SIZE or transport != _V2_STREAM:
        raise InvalidProxyHeaderError(
            f"v2 family/protocol {header[13]:#04x} is not STREAM over"
            " INET/INET6/UNIX: this is a stream listener"
        )
    block = header[16:]
    if len(block) < _V2_ADDRESS_SIZE[family]:
        raise InvalidProxyHeaderError(
            f"v2 length {len(block)} is too short for family {family:#x}"
        )
    if family == _V2_UNIX:
        return ProxyHeader(
            UNIXAddress(block[:108].split(b"\x00", 1)[0]),
            UNIXAddress(block[108:216].split(b"\x00", 1)[0]),
        )
    size = 4 if family == _V2_INET else 16
    version = ipaddress.IPv4Address if family == _V2_INET else ipaddress.IPv6Address
    make = IPv4Address if family == _V2_INET else IPv6Address
    source = str(version(block[:size]))
    destination = str(version(block[size : 2 * size]))
    sourcePort, destinationPort = struct.unpack("!HH", block[2 * size : 2 * size + 4])
    return ProxyHeader(
        make("TCP", source, sourcePort), make("TCP", destination, destinationPort)
    )


def parseHeader(data: bytes) -> tuple[ProxyHeader, bytes] | None:
    """
    Parse a PROXY header, v1 or v2, at the start of C{data}.

    @return: the header and the bytes after it, or L{None} if C{data} is a
        valid beginning of a header that is not complete yet.
    @raise InvalidProxyHeaderError: C{data} does not start with an acceptable
        header.
    """
    if data.startswith(V2_PREFIX):
        if len(data) < 16:
            return None
        if data[12] >> 4 != 2:
            raise InvalidProxyHeaderError(f"v2 version {data[12] >> 4} is not 2")
        size = 16 + struct.unpack("!H", data[14:16])[0]
        if len(data) < size:
            return None
        return _parseV2(data[:size]), data[size:]
    if data.startswith(V1_PREFIX):
        end = data.find(b"\r\n", 0, V1_MAX)
        if end == -1:
            if len(data) >= V1_MAX or b"\n" in data or b"\x00" in data:
                raise InvalidProxyHeaderError(
                    f"v1 header without CRLF in {V1_MAX} bytes"
                )
            return None
        return _parseV1(data[:end]), data[end + 2 :]
    if V2_PREFIX.startswith(data[:12]) or V1_PREFIX.startswith(data[:6]):
        return None
    raise InvalidProxyHeaderError("no PROXY header")


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
