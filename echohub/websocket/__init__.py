# -*- test-case-name: tests.test_exports -*-
"""
WebSocket (RFC 6455) for the echo site: the opening handshake
(L{WebSocketResource}, a twisted.web resource) and the echo session it hands
the connection to (L{EchoSession}), a thin Twisted shell over a frame codec
without I/O (the private C{_codec}).

It sits on the HTTP wire (L{echohub.http}), which hands a connection over
after a C{101}, and knows no other route.
"""

from echohub.websocket._handshake import (
    WEBSOCKET_VERSION,
    WebSocketResource,
    acceptKey,
)
from echohub.websocket._session import EchoSession

__all__ = ["WEBSOCKET_VERSION", "EchoSession", "WebSocketResource", "acceptKey"]
