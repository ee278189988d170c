# -*- test-case-name: tests.test_exports -*-
"""
The web echo: a twisted.web L{Site} whose resources echo HTTP requests,
behind an HTTP channel that enforces echohub's limits and deadlines, with
CORS, a WebSocket echo and a live page.

L{buildSite} builds the site from the C{[web]} and C{[websocket]}
settings; L{negotiate} wraps it in the factory a listener serves, which
speaks HTTP/1.1 or HTTP/2 (ALPN over TLS, prior knowledge in the clear).
"""

from echohub.web._h2 import H2Connection
from echohub.web._negotiate import NegotiatingFactory, negotiate
from echohub.web._site import EchoChannel, EchoSite, buildSite

__all__ = [
    "EchoChannel",
    "EchoSite",
    "H2Connection",
    "NegotiatingFactory",
    "buildSite",
    "negotiate",
]
