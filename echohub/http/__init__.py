# -*- test-case-name: tests.test_exports -*-
"""
The HTTP wire: HTTP/1.1 and HTTP/2 connections, their negotiation, limits
and refusals, and the raw request head, under twisted.web's L{Request} and
resource tree.  It knows no route: a site's resources render the requests
it makes, and the routes it answers itself (the lean path) are registered
with it through L{ILeanRoutes}.

L{HTTPSite} is the twisted.web site the wire serves; L{negotiate} wraps it
in the factory a listener serves, which speaks HTTP/1.1 or HTTP/2 (ALPN over
TLS, prior knowledge in the clear).
"""

from echohub.http._channel import HTTP1Channel
from echohub.http._h2 import H2Connection
from echohub.http._head import RawHead, rawRequestHead
from echohub.http._interfaces import (
    IHTTPStream,
    ILeanRoute,
    ILeanRoutes,
    IStreamHandler,
    IStreamRoute,
    IStreamRoutes,
)
from echohub.http._lean import DateCache
from echohub.http._negotiate import NegotiatingFactory, negotiate
from echohub.http._policy import PLAIN_TEXT, HTTPLimits, plainText
from echohub.http._security import (
    HIDDEN,
    SENSITIVE_HEADERS,
    connectionHeaders,
    hstsValue,
    normalOrigin,
)
from echohub.http._site import HTTPRequest, HTTPSite

__all__ = [
    "HIDDEN",
    "PLAIN_TEXT",
    "SENSITIVE_HEADERS",
    "DateCache",
    "H2Connection",
    "HTTP1Channel",
    "HTTPLimits",
    "HTTPRequest",
    "HTTPSite",
    "IHTTPStream",
    "ILeanRoute",
    "ILeanRoutes",
    "IStreamHandler",
    "IStreamRoute",
    "IStreamRoutes",
    "NegotiatingFactory",
    "RawHead",
    "connectionHeaders",
    "hstsValue",
    "negotiate",
    "normalOrigin",
    "plainText",
    "rawRequestHead",
]
