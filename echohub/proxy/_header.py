# -*- test-case-name: tests.proxy.test_proxy -*-
"""
The PROXY protocol's header, v1 and v2, parsed without I/O: L{parseHeader}
takes the bytes a connection starts with and gives the header and the rest,
asks for more, or raises L{InvalidProxyHeaderError}.  What it accepts is in
L{echohub.proxy}'s docstring.
"""

from __future__ import annotations

import ipaddress
import re
import struct
from dataclasses import dataclass

from twisted.internet.address import IPv4Address, IPv6Address, UNIXAddress
from twisted.internet.interfaces import (
    IAddress,
)

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
