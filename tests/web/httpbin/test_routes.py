"""
Tests for L{echohub.web.httpbin._routes}: the one table of httpbin routes.
"""

from __future__ import annotations

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.resource import getChildForRequest
from twisted.web.test.requesthelper import DummyRequest

from echohub.config import WebConfig
from echohub.testing import request
from echohub.web._tree import buildResourceTree
from echohub.web.httpbin import InspectionPolicy, NotFound, httpbinRoutes

ROUTES = {
    # httpbin's and go-httpbin's first path segments, as the table has them.
    *"get head post put patch delete upload anything dump headers ip".split(),
    *"user-agent status delay bytes response-headers unstable trailers".split(),
    *"stream sse drip range stream-bytes jsonl links basic-auth".split(),
    *"hidden-basic-auth bearer digest-auth cookies redirect".split(),
    *"relative-redirect absolute-redirect redirect-to html xml json".split(),
    *"encoding forms robots.txt deny base64 gzip deflate brotli cache".split(),
    *"etag image uuid env hostname version".split(),
}

SAMPLES = {
    b"dump": b"/dump/request",
    b"encoding": b"/encoding/utf8",
    b"forms": b"/forms/post",
    b"status": b"/status/200",
    b"delay": b"/delay/0",
    b"bytes": b"/bytes/1",
    b"stream": b"/stream/1",
    b"drip": b"/drip?duration=0&numbytes=1",
    b"range": b"/range/1",
    b"stream-bytes": b"/stream-bytes/1",
    b"links": b"/links/1/0",
    b"basic-auth": b"/basic-auth/u/p",
    b"hidden-basic-auth": b"/hidden-basic-auth/u/p",
    b"digest-auth": b"/digest-auth/auth/u/p",
    b"redirect": b"/redirect/1",
    b"relative-redirect": b"/relative-redirect/1",
    b"absolute-redirect": b"/absolute-redirect/1",
    b"redirect-to": b"/redirect-to?url=/get",
    b"base64": b"/base64/aGk=",
    b"etag": b"/etag/x",
    b"image": b"/image/png",
    b"jsonl": b"/jsonl/1",
    b"sse": b"/sse?count=1",
}
"""
A path under each route that needs more than its first segment.
"""


class RouteTableTests(SynchronousTestCase):
    """
    The table names every route once, and the site serves each of them.
    """

    def table(self) -> dict[bytes, object]:
        config = WebConfig()
        return dict(httpbinRoutes(config, InspectionPolicy.fromConfig(config), Clock()))

    def test_names(self) -> None:
        """
        The table's routes are the pinned ones: adding or removing one is a
        decision, made here too.
        """
        self.assertEqual({name.decode() for name in self.table()}, ROUTES)

    def test_everyRouteServed(self) -> None:
        """
        A request for each route (a sample path under it where it needs
        one) reaches it in the site's tree: the resource it resolves to is
        not a C{404}.
        """
        tree = buildResourceTree(WebConfig(), clock=Clock())
        for name in self.table():
            path = SAMPLES.get(name, b"/" + name)
            with self.subTest(path=path):
                segments = path.split(b"?")[0].split(b"/")[1:]
                request = DummyRequest(segments)
                resource = getChildForRequest(tree, request)
                self.assertNotIsInstance(resource, NotFound)

    def test_directoriesStop(self) -> None:
        """
        A route of two segments answers its first alone with C{404}.
        """
        table = self.table()
        for name in (b"dump", b"encoding", b"forms"):
            self.assertIsInstance(table[name], NotFound)

    def test_reasonPhrases(self) -> None:
        """
        The httpbin routes answer with httpbin's upper-case reason phrases
        ("404 NOT FOUND", "418 I'M A TEAPOT"), as clients' suites compare
        whole status lines; every other resource with the RFC's.
        """
        cases = [
            (b"/get", b"OK"),
            (b"/status/404", b"NOT FOUND"),
            (b"/status/418", b"I'M A TEAPOT"),
            (b"/status/203", b"NON AUTHORITATIVE INFORMATION"),
            (b"/basic-auth/u/p", b"UNAUTHORIZED"),
            (b"/echo?msg=x", b"OK"),
            (b"/nowhere", b"Not Found"),
            (b"/echo", b"Bad Request"),
        ]
        for target, reason in cases:
            self.assertEqual(request(target).reason, reason, target)
