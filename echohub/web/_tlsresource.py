# -*- test-case-name: tests.web.test_tlsresource -*-
"""
C{GET /tls}: the TLS session of the request's connection, as JSON.

The same facts as the TLS info service's line (L{echohub.tls._info}):
C{{"tls": null}} over plain HTTP.
"""

from __future__ import annotations

from twisted.web.iweb import IRequest

from echohub.tls import tlsFacts
from echohub.web.httpbin import PlainTextResource, jsonBody


class TLSResource(PlainTextResource):
    """
    C{/tls}: version, cipher, group, ALPN protocol, SNI name and client
    certificate of the connection the request came on.
    """

    isLeaf = True

    def render_GET(self, request: IRequest) -> bytes:
        return jsonBody(request, {"tls": tlsFacts(getattr(request, "transport", None))})
