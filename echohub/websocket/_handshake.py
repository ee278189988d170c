# -*- test-case-name: tests.websocket.test_handshake -*-
"""
The WebSocket opening handshake (RFC 6455 section 4): L{WebSocketResource}
checks an upgrade request, applies the Origin policy, answers C{101} and
hands the connection to an L{EchoSession}; what is not a valid handshake
gets a plain-text answer that says why.

    - B{Handshake validation} (RFC 6455 section 4.2.1, 4.4): a
      C{Sec-WebSocket-Key} that is not the base64 of 16 bytes, a missing
      C{Connection: upgrade} or an HTTP version before 1.1 gets C{400}; a
      C{Sec-WebSocket-Version} other than C{13} gets C{426} with
      C{Sec-WebSocket-Version: 13}.  Each is logged at info level.
    - B{An Origin policy.}  A browser page from another origin could open a
      WebSocket to this server with its visitor's network position, so a
      handshake whose C{Origin} is neither this site's own nor in
      C{allowed_origins} gets C{403}.  Requests without C{Origin} (curl, the
      C{websockets} library, any non-browser client) are accepted: only
      browsers send it, and only browsers need protecting.
    - B{permessage-deflate} (RFC 7692), agreed when the client offers it
      and C{[websocket] compression} is on (L{echohub.websocket._deflate});
      a C{Sec-WebSocket-Extensions} field that is not an extension list
      gets C{400}.
"""

import base64
import binascii
import hashlib
from typing import Any

from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request

from echohub._net import formatAddress
from echohub.config import WebSocketConfig
from echohub.http import normalOrigin, plainText
from echohub.websocket._deflate import ExtensionSyntaxError, negotiate
from echohub.websocket._session import EchoSession, Opening

_log = Logger()

WEBSOCKET_VERSION = b"13"

VERSION_REFUSED = "this server speaks Sec-WebSocket-Version 13 only"
"""
Why a handshake for another WebSocket version is refused, over either HTTP
version.
"""

ORIGIN_REFUSED = (
    "this Origin may not open a WebSocket here ([websocket] allowed_origins)"
)
"""
Why a handshake whose C{Origin} the policy refuses is refused.
"""

_ACCEPT_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def acceptKey(key: bytes) -> bytes:
    """
    The C{Sec-WebSocket-Accept} answering C{Sec-WebSocket-Key} C{key}
    (RFC 6455 section 4.2.2).
    """
    return base64.b64encode(hashlib.sha1(key + _ACCEPT_GUID).digest())


def originAllowed(
    origin: bytes | None, secure: bool, host: bytes, allowed: tuple[str, ...]
) -> bool:
    """
    Whether a WebSocket handshake's C{Origin} is acceptable: absent (not a
    browser), this site's own (same scheme, host and port as the request),
    or listed in C{allowed} (C{*} for any).

    @param origin: the handshake's C{Origin}, L{None} for none.
    @param secure: whether the connection is TLS.
    @param host: the request's host (HTTP/1.1's C{Host}, HTTP/2's
        C{:authority}).
    """
    if origin is None or "*" in allowed:
        return True
    own = normalOrigin((b"https://" if secure else b"http://") + host)
    listed = {normalOrigin(o.encode("ascii", "replace")) for o in allowed}
    return normalOrigin(origin) in listed | {own}


def handshakeRefusal(request: Request) -> tuple[int, str] | None:
    """
    Check a WebSocket upgrade request (method and C{Upgrade} already
    checked) against RFC 6455 section 4.2.1.

    @return: L{None} if it may be accepted, else the status (C{400}, or
        C{426} for an unsupported version, which section 4.4 requires to be
        answered with the versions we speak) and why, for the client and the
        log.
    """
    if request.clientproto not in (b"HTTP/1.1",):
        return 400, "a WebSocket handshake needs HTTP/1.1"
    connection = b",".join(request.requestHeaders.getRawHeaders(b"Connection", []))
    if b"upgrade" not in {t.strip().lower() for t in connection.split(b",")}:
        return 400, "a WebSocket handshake needs Connection: Upgrade"
    versions = request.requestHeaders.getRawHeaders(b"Sec-WebSocket-Version", [])
    if [v.strip() for v in versions] != [WEBSOCKET_VERSION]:
        return 426, VERSION_REFUSED
    keys = request.requestHeaders.getRawHeaders(b"Sec-WebSocket-Key", [])
    if len(keys) != 1 or not _isWebSocketKey(keys[0].strip()):
        return 400, "Sec-WebSocket-Key must be the base64 of 16 bytes"
    return None


def _isWebSocketKey(key: bytes) -> bool:
    """
    Whether C{key} is exactly the base64 encoding of 16 bytes: 24
    characters, canonical padding, nothing else.
    """
    if len(key) != 24:
        return False
    try:
        decoded = binascii.a2b_base64(key, strict_mode=True)
    except binascii.Error:
        return False
    return len(decoded) == 16 and binascii.b2a_base64(decoded, newline=False) == key


def extensionsRefused(error: ExtensionSyntaxError) -> str:
    """
    Why a handshake whose C{Sec-WebSocket-Extensions} is not an extension
    list is refused, over either HTTP version.
    """
    return f"Sec-WebSocket-Extensions is not an extension list ({error})"


class WebSocketResource(Resource):
    """
    C{/ws}: the opening handshake (RFC 6455 section 4.2), checked, with the
    Origin policy; then the connection is an L{EchoSession}.  What is not a
    WebSocket handshake gets a plain-text answer.
    """

    isLeaf = True

    def __init__(self, config: WebSocketConfig, clock: IReactorTime) -> None:
        super().__init__()
        self.config = config
        self.clock = clock

    def render(self, request: Request) -> bytes | int:
        if request.method != b"GET":
            request.setHeader(b"Allow", b"GET")
            return plainText(request, 405, b"405 Method Not Allowed\n")
        upgrade = (request.getHeader(b"Upgrade") or b"").lower()
        if upgrade != b"websocket":
            request.setHeader(b"Upgrade", b"websocket")
            body = plainText(
                request, 426, b"426 Upgrade Required: /ws is a WebSocket endpoint\n"
            )
            request.setResponseCode(426, b"Upgrade Required")
            return body
        refusal = handshakeRefusal(request)
        if refusal is not None:
            status, why = refusal
            _log.info(
                "Refused a WebSocket handshake from {peer}: {why}",
                peer=formatAddress(request.getClientAddress()),
                why=why,
            )
            if status == 426:
                request.setHeader(b"Sec-WebSocket-Version", WEBSOCKET_VERSION)
                body = plainText(
                    request, 426, f"426 Upgrade Required: {why}\n".encode()
                )
                request.setResponseCode(426, b"Upgrade Required")
                return body
            return plainText(request, 400, f"400 Bad Request: {why}\n".encode())
        if not originAllowed(
            request.getHeader(b"Origin"),
            request.isSecure(),
            request.getHeader(b"Host") or b"",
            self.config.allowed_origins,
        ):
            _log.info(
                "Refused a WebSocket from origin {origin}",
                origin=(request.getHeader(b"Origin") or b"").decode("ascii", "replace"),
            )
            return plainText(
                request, 403, f"403 Forbidden: {ORIGIN_REFUSED}\n".encode()
            )
        try:
            deflate = negotiate(
                list(
                    request.requestHeaders.getRawHeaders(
                        b"Sec-WebSocket-Extensions", []
                    )
                ),
                self.config,
            )
        except ExtensionSyntaxError as e:
            why = extensionsRefused(e)
            _log.info(
                "Refused a WebSocket handshake from {peer}: {why}",
                peer=formatAddress(request.getClientAddress()),
                why=why,
            )
            return plainText(request, 400, f"400 Bad Request: {why}\n".encode())
        key = (request.getHeader(b"Sec-WebSocket-Key") or b"").strip()
        channel: Any = request.channel
        site: Any = request.site
        opening = Opening(
            access=site.access,
            httpVersion="HTTP/1.1",
            status=101,
            method="GET",
            path=request.uri.decode("ascii", "replace"),
            peer=formatAddress(request.getClientAddress()),
            origin=(request.getHeader(b"Origin") or b"-").decode("ascii", "replace"),
            connections=site.connections,
            replaces=channel,
        )
        session = EchoSession(opening, self.config, self.clock, deflate)
        transport: Any = channel.transport
        # The channel hands the connection, and any bytes read after the
        # request, to the session once this render returns.
        channel.upgrade(session)
        transport.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: "
            + acceptKey(key)
            + (
                b""
                if deflate is None
                else b"\r\nSec-WebSocket-Extensions: " + deflate.response
            )
            + b"\r\n\r\n"
        )
        session.accepted()
        return NOT_DONE_YET
