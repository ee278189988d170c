# -*- test-case-name: tests.test_exports -*-
"""
The echo site: the resource tree (the live page, C{/echo}, C{/healthz},
C{/tls}, the WebSocket echo and the httpbin routes of
L{echohub.web.httpbin}), its CORS policy, and the lean routes it registers
with the HTTP wire (L{echohub.http}).

L{buildSite} builds the site from the C{[web]} and C{[websocket]} settings;
L{echohub.http.negotiate} wraps it in the factory a listener serves.
"""

from echohub.web._site import buildSite

__all__ = ["buildSite"]
