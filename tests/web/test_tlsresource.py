"""
Tests for L{echohub.web._tlsresource}: C{GET /tls}, the TLS facts of the
request's connection as JSON.
"""

from __future__ import annotations

import json

from twisted.trial.unittest import SynchronousTestCase
from twisted.web.test.requesthelper import DummyRequest

from echohub.testing import jsonOf, request
from echohub.web._tlsresource import TLSResource


class TLSResourceTests(SynchronousTestCase):
    """
    C{/tls} answers with the same facts as JSON.
    """

    def test_plainHTTP(self) -> None:
        """
        Over plain HTTP the facts are C{null}, as JSON, not cached.
        """
        request = DummyRequest([b""])
        request.method = b"GET"
        body = TLSResource().render(request)
        self.assertEqual(json.loads(body), {"tls": None})
        self.assertEqual(
            request.responseHeaders.getRawHeaders(b"Content-Type"),
            [b"application/json"],
        )
        self.assertEqual(
            request.responseHeaders.getRawHeaders(b"Cache-Control"), [b"no-store"]
        )

    def test_inTheTree(self) -> None:
        """
        The site serves it at C{/tls}: over the in-memory plain transport,
        C{200} with C{{"tls": null}}.
        """
        response = request(b"/tls")
        self.assertEqual(response.status, 200)
        self.assertEqual(jsonOf(response), {"tls": None})
