# -*- test-case-name: tests.web -*-
"""
The web echo: a twisted.web L{Site} whose resources echo HTTP requests,
behind an HTTP channel that enforces echohub's limits and deadlines, with
CORS, a WebSocket echo and a live page.

L{buildSite} is the one way in: it builds the resource tree from the
C{[web]} and C{[websocket]} settings and returns the factory a listener
serves.
"""

from echohub.web._site import EchoChannel, EchoSite, buildSite

__all__ = ["EchoChannel", "EchoSite", "buildSite"]
