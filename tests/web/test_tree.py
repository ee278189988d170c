# -*- test-case-name: tests.web.test_tree -*-
"""
Tests for L{echohub.web._tree}: each resource's status, headers and exact body,
driven through the real site with raw HTTP/1.1 requests.
"""

from __future__ import annotations

import re
from base64 import b64encode
from hashlib import sha256

from twisted.trial.unittest import SynchronousTestCase

from echohub.http import PLAIN_TEXT
from echohub.testing import Response, exchange
from echohub.web._tree import (
    IndexPage,
    buildResourceTree,
    echoContentType,
    loadPage,
    pagePolicy,
)


def get(target: bytes, method: bytes = b"GET") -> Response:
    """
    The response to a body-less request for C{target}.
    """
    [response] = exchange(
        method + b" " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        bodiless=method == b"HEAD",
    )
    return response


def post(body: bytes, contentType: bytes | None = None) -> Response:
    """
    The response to C{POST /echo} with C{body}.
    """
    headers = b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n" % len(body)
    if contentType is not None:
        headers += b"Content-Type: " + contentType + b"\r\n"
    [response] = exchange(headers + b"\r\n" + body)
    return response


class IndexPageTests(SynchronousTestCase):
    """
    C{/} serves the self-contained HTML page.
    """

    def test_page(self) -> None:
        """
        C{GET /} is the packaged page, as UTF-8 HTML, with the echo form
        (which works without script), a viewport for phones, the live
        panels and, for every route in the tree, an example in the index.
        """
        response = get(b"/")
        self.assertEqual(response.status, 200)
        self.assertEqual(response.header(b"Content-Type"), b"text/html; charset=utf-8")
        self.assertEqual(response.body, loadPage())
        self.assertRegex(response.body, rb'<form[^>]* action="echo" method="get">')
        self.assertRegex(response.body, rb'<input[^>]* name="msg"')
        self.assertIn(b'<meta name="viewport"', response.body)
        for panel in [b"http-echo", b"ws-state", b"ws-log", b"sse-log", b"details"]:
            self.assertIn(b'id="' + panel + b'"', response.body)
        examples = b"\n".join(
            re.findall(rb'<td class="curl"><code>[^\n]*', response.body)
        )
        root = buildResourceTree(page=b"")
        for name in root.children:
            if name:
                self.assertIn(b"/" + name, examples, name)
        response.body.decode("utf-8")

    def test_grpcExamples(self) -> None:
        """
        The index lists the gRPC echo and health services with grpcurl
        examples, and the gRPC-Web path with a curl one.
        """
        examples = b"\n".join(re.findall(rb'<td class="curl"><code>[^\n]*', loadPage()))
        for example in (
            b"list;",
            b"describe grpc.examples.echo.Echo",
            b"grpc.examples.echo.Echo/UnaryEcho",
            b"-H 'echo-count: 3'",
            b"grpc.health.v1.Health/Check",
            b"application/grpc-web+proto",
        ):
            self.assertIn(example, examples)

    def test_policy(self) -> None:
        """
        The page's CSP allows exactly its own inline script and style, by
        hash (no C{'unsafe-inline'}), and connections to this origin only
        for fetch, WebSocket and SSE.
        """
        response = get(b"/")
        policy = response.header(b"Content-Security-Policy") or b""
        self.assertEqual(policy, pagePolicy(loadPage()))
        self.assertNotIn(b"unsafe", policy)
        [script] = re.findall(rb"<script>(.*?)</script>", loadPage(), re.DOTALL)
        digest = b64encode(sha256(script).digest())
        self.assertIn(b"script-src 'sha256-" + digest + b"'", policy)
        self.assertIn(b"default-src 'none'", policy)
        self.assertIn(b"connect-src 'self' ws: wss:", policy)
        self.assertEqual(
            pagePolicy(b"<p>no script</p>").split(b";")[1], b" script-src 'none'"
        )

    def test_selfContained(self) -> None:
        """
        The page refers to nothing outside this site: no URL with a scheme
        or a protocol-relative one outside the examples' code (which name
        the local listeners, C{https://localhost:8443}), no external
        stylesheet or script, and every C{src}, C{href} and C{action} is a
        local path, relative ones resolving under C{[web] prefix}.
        """
        page = loadPage()
        outsideCode = re.sub(rb"<code>.*?</code>|<pre>.*?</pre>", b"", page, flags=re.S)
        self.assertNotIn(b"://", outsideCode)
        for url in re.findall(rb"[a-z]+://[^/\s'<]*", page):
            self.assertRegex(url, rb"^(?:https?|wss?)://localhost:\d+$")
        self.assertNotIn(b"url(", page)
        self.assertIsNone(re.search(rb"<link|<script[^>]*src", page, re.IGNORECASE))
        for target in re.findall(rb'(?:src|href|action)\s*=\s*"([^"]*)"', page):
            self.assertRegex(target, rb"^(?![A-Za-z][A-Za-z0-9+.-]*:|//)")

    def test_head(self) -> None:
        """
        C{HEAD /} has the C{GET} response's type and length and no body.
        """
        response = get(b"/", b"HEAD")
        self.assertEqual(response.status, 200)
        self.assertEqual(response.header(b"Content-Type"), b"text/html; charset=utf-8")
        self.assertEqual(response.header(b"Content-Length"), b"%d" % len(loadPage()))
        self.assertEqual(response.body, b"")

    def test_pageGivenAtBuildTime(self) -> None:
        """
        The page served is the one read when the tree is built.
        """
        root = buildResourceTree(page=b"<p>hi</p>")
        page = root.getChildWithDefault(b"", None)
        self.assertIsInstance(page, IndexPage)
        self.assertEqual(page.page, b"<p>hi</p>")


class EchoTests(SynchronousTestCase):
    """
    C{/echo} returns exactly what the client sent.
    """

    def assertEcho(self, response: Response, body: bytes, contentType: bytes) -> None:
        """
        C{response} is a C{200} echo of C{body} with C{contentType}.
        """
        self.assertEqual(response.status, 200)
        self.assertEqual(response.body, body)
        self.assertEqual(response.header(b"Content-Type"), contentType)
        self.assertEqual(response.header(b"Cache-Control"), b"no-store")

    def test_getMsg(self) -> None:
        """
        C{GET /echo?msg=...} answers with the decoded message as plain text.
        """
        self.assertEcho(
            get(b"/echo?msg=hello%20world+%26"), b"hello world &", PLAIN_TEXT
        )

    def test_getNonUtf8Msg(self) -> None:
        """
        A message that is not UTF-8 comes back byte for byte.
        """
        self.assertEcho(get(b"/echo?msg=%FF%00%FE"), b"\xff\x00\xfe", PLAIN_TEXT)

    def test_getHtmlMsgIsPlainText(self) -> None:
        """
        Markup in the message is served as plain text, never as HTML.
        """
        self.assertEcho(
            get(b"/echo?msg=%3Cscript%3Ex%3C/script%3E"),
            b"<script>x</script>",
            PLAIN_TEXT,
        )

    def test_getFirstOfSeveralMsgs(self) -> None:
        """
        When C{msg} is given more than once the first is echoed.
        """
        self.assertEcho(get(b"/echo?msg=one&msg=two"), b"one", PLAIN_TEXT)

    def test_getEmptyMsg(self) -> None:
        """
        An empty C{msg} is echoed as an empty body.
        """
        self.assertEcho(get(b"/echo?msg="), b"", PLAIN_TEXT)

    def test_getWithoutMsg(self) -> None:
        """
        C{GET /echo} without C{msg} is a plain-text C{400} that says why.
        """
        response = get(b"/echo?other=1")
        self.assertEqual(response.status, 400)
        self.assertEqual(response.header(b"Content-Type"), PLAIN_TEXT)
        self.assertIn(b"msg", response.body)

    def test_head(self) -> None:
        """
        C{HEAD /echo?msg=...} has the C{GET} response's headers and length
        and no body.
        """
        response = get(b"/echo?msg=abc", b"HEAD")
        self.assertEqual(response.status, 200)
        self.assertEqual(response.header(b"Content-Length"), b"3")
        self.assertEqual(response.header(b"Content-Type"), PLAIN_TEXT)
        self.assertEqual(response.body, b"")

    def test_postWithContentType(self) -> None:
        """
        C{POST /echo} answers with the body and the request's content type.
        """
        self.assertEcho(
            post(b'{"a": 1}', b"application/json"), b'{"a": 1}', b"application/json"
        )

    def test_postWithoutContentType(self) -> None:
        """
        A C{POST} without a content type is echoed as
        C{application/octet-stream}.
        """
        body = bytes(range(256))
        self.assertEcho(post(body), body, b"application/octet-stream")

    def test_postEmpty(self) -> None:
        """
        An empty C{POST} body is echoed as an empty body.
        """
        self.assertEcho(post(b"", b"text/plain"), b"", b"text/plain")

    def test_postActiveTypeIsPlainText(self) -> None:
        """
        A body labelled HTML, SVG or XML is echoed as plain text, so the echo
        cannot serve markup from this origin.
        """
        for contentType in [
            b"text/html",
            b"Text/HTML; charset=utf-8",
            b"image/svg+xml",
            b"application/atom+xml",
        ]:
            self.assertEcho(post(b"<b>x</b>", contentType), b"<b>x</b>", PLAIN_TEXT)

    def test_putNotAllowed(self) -> None:
        """
        C{PUT /echo} is a plain-text C{405} whose C{Allow} lists the
        methods C{/echo} answers.
        """
        [response] = exchange(
            b"PUT /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nx"
        )
        self.assertEqual(response.status, 405)
        self.assertEqual(response.header(b"Allow"), b"GET, HEAD, POST")
        self.assertEqual(response.header(b"Content-Type"), PLAIN_TEXT)
        self.assertEqual(response.body, b"405 Method Not Allowed\n")


class EchoContentTypeTests(SynchronousTestCase):
    """
    L{echoContentType} echoes a request's content type unless it is active.
    """

    def test_passive(self) -> None:
        """
        Passive types, parameters included, come back unchanged.
        """
        for value in [b"text/plain", b"application/json; charset=utf-8", b"image/png"]:
            self.assertEqual(echoContentType(value), value)

    def test_missing(self) -> None:
        """
        A missing or empty type becomes C{application/octet-stream}.
        """
        self.assertEqual(echoContentType(None), b"application/octet-stream")
        self.assertEqual(echoContentType(b""), b"application/octet-stream")

    def test_active(self) -> None:
        """
        HTML, XHTML, SVG and XML types become plain text, whatever their case
        and parameters.
        """
        for value in [b" TEXT/html ;x=y", b"application/xhtml+xml", b"text/xml"]:
            self.assertEqual(echoContentType(value), PLAIN_TEXT)


class HealthTests(SynchronousTestCase):
    """
    C{/healthz} says the process can answer.
    """

    def test_get(self) -> None:
        """
        C{GET /healthz} is C{200 ok} as plain text.
        """
        response = get(b"/healthz")
        self.assertEqual(response.status, 200)
        self.assertEqual(response.body, b"ok\n")
        self.assertEqual(response.header(b"Content-Type"), PLAIN_TEXT)

    def test_postNotAllowed(self) -> None:
        """
        C{POST /healthz} is a C{405} allowing only C{GET} and C{HEAD}.
        """
        response = get(b"/healthz", b"POST")
        self.assertEqual(response.status, 405)
        self.assertEqual(response.header(b"Allow"), b"GET, HEAD")


class NotFoundTests(SynchronousTestCase):
    """
    Paths nothing answers get a plain-text C{404}, not Twisted's HTML page.
    """

    def test_unknownPaths(self) -> None:
        """
        Unknown paths, including ones below real resources, are C{404 Not
        Found} in plain text, whatever the method.
        """
        for target, method in [
            (b"/nope", b"GET"),
            (b"/echo/more?msg=x", b"GET"),
            (b"/healthz/", b"GET"),
            (b"//", b"GET"),
            (b"/nope", b"DELETE"),
        ]:
            response = get(target, method)
            self.assertEqual(response.status, 404, target)
            self.assertEqual(response.header(b"Content-Type"), PLAIN_TEXT)
            self.assertEqual(response.body, b"404 Not Found\n")

    def test_head(self) -> None:
        """
        C{HEAD} of an unknown path is a C{404} with the length of the C{GET}
        body and no body.
        """
        response = get(b"/nope", b"HEAD")
        self.assertEqual(response.status, 404)
        self.assertEqual(response.header(b"Content-Length"), b"14")
        self.assertEqual(response.body, b"")
