# -*- test-case-name: tests.test_tlsweb -*-
"""
C{GET /tls}: the TLS session of the request's connection, as JSON.

The same facts as the TLS info service's line (L{echohub.tlsinfo}):
C{{"tls": null}} over plain HTTP.
"""

from __future__ import annotations

from twisted.web.iweb import IRequest

from echohub.resource import PlainTextResource, jsonBody
from echohub.tlsfacts import tlsFacts


class TLSResource(PlainTextResource):
    """
    C{/tls}: version, cipher, group, ALPN protocol, SNI name and client
    certificate of the connection the request came on.
    """

    isLeaf = True

    def render_GET(self, request: IRequest) -> bytes:
        return jsonBody(request, {"tls": tlsFacts(getattr(request, "transport", None))})
