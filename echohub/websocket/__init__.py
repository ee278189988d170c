# -*- test-case-name: tests.test_exports -*-
"""
WebSocket (RFC 6455) for the echo site: the opening handshake
(L{WebSocketResource}, a twisted.web resource) and the echo session it hands
the connection to (L{EchoSession}), a thin Twisted shell over a frame codec
without I/O (the private C{_codec}); and WebSocket over HTTP/2 (RFC 8441),
the same session on an HTTP/2 stream (L{WebSocketStreamRoutes}, the site's
stream routes for an extended C{CONNECT}).

It sits on the HTTP wire (L{echohub.http}), which hands a connection over
after a C{101}, or a stream after the C{200}, and knows no other route.
"""

from echohub.websocket._h2 import WebSocketStreamRoutes
from echohub.websocket._handshake import (
    WEBSOCKET_VERSION,
    WebSocketResource,
    acceptKey,
)
from echohub.websocket._session import EchoSession

__all__ = [
    "WEBSOCKET_VERSION",
    "EchoSession",
    "WebSocketResource",
    "WebSocketStreamRoutes",
    "acceptKey",
]
