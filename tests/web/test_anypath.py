# -*- test-case-name: tests.web.test_anypath -*-
"""
Tests for L{echohub.web._anypath}: the catch-all echo and its controls,
through the real site (L{echohub.testing}).
"""

from __future__ import annotations

import json

from twisted.trial.unittest import SynchronousTestCase

from echohub.config import WebConfig
from echohub.controls import CONTROLS, HEADER, QUERY
from echohub.testing import connect, jsonOf, parseResponses, request

ON = WebConfig(echo_any_path=True)


class CatchAllTests(SynchronousTestCase):
    """
    With C{[web] echo_any_path}, every path no route serves is echoed.
    """

    def test_anyPathAnyMethod(self) -> None:
        """
        A C{POST} to C{/webhook/github} gets C{/anything}'s JSON: method,
        path, URL, headers, the body as C{data} and C{json}.
        """
        facts = jsonOf(
            request(
                b"/webhook/github?id=7",
                b"POST",
                (b"Content-Type: application/json", b"X-Hub: a", b"X-Hub: b"),
                b'{"ok": true}',
                ON,
            )
        )
        self.assertEqual(facts["method"], "POST")
        self.assertEqual(facts["path"], "/webhook/github")
        self.assertEqual(facts["url"], "http://example.test:8080/webhook/github?id=7")
        self.assertEqual(facts["args"], {"id": "7"})
        self.assertEqual(facts["json"], {"ok": True})
        self.assertEqual(facts["headers"]["X-Hub"], "a,b")
        for method in [b"DELETE", b"PROPFIND", b"OPTIONS", b"GET"]:
            self.assertEqual(
                jsonOf(request(b"/x", method, config=ON))["method"], method.decode()
            )

    def test_offByDefault(self) -> None:
        """
        Without the setting an unknown path stays a C{404}.
        """
        self.assertEqual(request(b"/webhook", b"POST", body=b"").status, 404)

    def test_unservedBelowRoutes(self) -> None:
        """
        A path below a route that does not serve it, and a segment that
        only leads on, are echoed too; the routes still answer theirs.
        """
        self.assertEqual(jsonOf(request(b"/forms", config=ON))["path"], "/forms")
        self.assertEqual(
            jsonOf(request(b"/headers/x/y", config=ON))["path"], "/headers/x/y"
        )
        self.assertEqual(jsonOf(request(b"/get?a=1", config=ON))["args"], {"a": "1"})
        self.assertEqual(request(b"/echo?msg=hi", config=ON).body, b"hi")

    def test_wrongMethodKeeps405(self) -> None:
        """
        A known route asked with a method it does not answer keeps its
        C{405} and C{Allow}.
        """
        response = request(b"/get", b"POST", body=b"", config=ON)
        self.assertEqual(response.status, 405)
        self.assertEqual(response.header(b"Allow"), b"GET, HEAD")

    def test_prefix(self) -> None:
        """
        Under C{[web] prefix} only paths below the prefix are echoed.
        """
        config = WebConfig(echo_any_path=True, prefix="/hub")
        self.assertEqual(
            jsonOf(request(b"/hub/hook", config=config))["path"], "/hub/hook"
        )
        self.assertEqual(request(b"/hook", config=config).status, 404)

    def test_head(self) -> None:
        """
        C{HEAD} gets the JSON's length and no body.
        """
        response = request(b"/x", b"HEAD", config=ON)
        self.assertEqual((response.status, response.body), (200, b""))
        self.assertGreater(int(response.header(b"Content-Length") or 0), 100)


class ControlTests(SynchronousTestCase):
    """
    mendhak's controls, by header or query, bounded.
    """

    def test_statusByHeaderOrQuery(self) -> None:
        """
        C{x-set-response-status-code} sets the status, with the RFC's
        reason phrase; the header wins over the query.
        """
        response = request(
            b"/x", headers=(b"x-set-response-status-code: 401",), config=ON
        )
        self.assertEqual((response.status, response.reason), (401, b"Unauthorized"))
        self.assertEqual(json.loads(response.body)["path"], "/x")
        self.assertEqual(
            request(b"/x?x-set-response-status-code=503", config=ON).status, 503
        )
        both = request(
            b"/x?x-set-response-status-code=503",
            headers=(b"X-Set-Response-Status-Code: 202",),
            config=ON,
        )
        self.assertEqual(both.status, 202)

    def test_noContent(self) -> None:
        """
        A C{204} carries no body and no C{Content-Length}.
        """
        response = request(b"/x?x-set-response-status-code=204", config=ON)
        self.assertEqual((response.status, response.body), (204, b""))

    def test_refusedStatus(self) -> None:
        """
        A status outside 200..599, or not a number, gets C{400} naming the
        control.
        """
        for value in [b"199", b"600", b"abc", b"101"]:
            response = request(b"/x?x-set-response-status-code=" + value, config=ON)
            self.assertEqual(response.status, 400, value)
            self.assertIn(b"x-set-response-status-code", response.body)

    def test_delay(self) -> None:
        """
        C{x-set-response-delay-ms} answers after that many milliseconds of
        the reactor's clock, and not before.
        """
        channel, transport, reactor = connect(ON)
        channel.dataReceived(
            b"GET /slow?x-set-response-delay-ms=1500 HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        reactor.advance(1.49)
        self.assertEqual(transport.value(), b"")
        reactor.advance(0.02)
        [response] = parseResponses(transport.value())
        self.assertEqual(json.loads(response.body)["path"], "/slow")

    def test_delayBound(self) -> None:
        """
        A delay over C{[web] max_delay} gets C{400} naming the setting.
        """
        config = WebConfig(echo_any_path=True, max_delay=1)
        response = request(
            b"/x", headers=(b"x-set-response-delay-ms: 1001",), config=config
        )
        self.assertEqual(response.status, 400)
        self.assertIn(b"[web] max_delay", response.body)

    def test_delayCancelled(self) -> None:
        """
        A client that leaves during the delay leaves no timer behind.
        """
        channel, transport, reactor = connect(ON)
        channel.dataReceived(
            b"GET /x?x-set-response-delay-ms=5000 HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        self.assertEqual(len(reactor.getDelayedCalls()) > 0, True)
        before = {call for call in reactor.getDelayedCalls() if call.active()}
        transport.loseConnection()
        channel.connectionLost(Exception("gone"))  # type: ignore[arg-type]
        after = {call for call in reactor.getDelayedCalls() if call.active()}
        self.assertTrue(all(call.getTime() != 5.0 for call in after), (before, after))

    def test_contentType(self) -> None:
        """
        C{x-set-response-content-type} sets the type; an active type is
        refused.
        """
        response = request(b"/x?x-set-response-content-type=text/plain", config=ON)
        self.assertEqual(response.header(b"Content-Type"), b"text/plain")
        for active in [b"text/html", b"image/svg+xml", b"application/xml"]:
            refused = request(
                b"/x", headers=(b"x-set-response-content-type: " + active,), config=ON
            )
            self.assertEqual(refused.status, 400, active)

    def test_headers(self) -> None:
        """
        C{x-set-response-header: NAME: VALUE} adds response headers,
        repeatable; framing and protection headers are refused.
        """
        response = request(
            b"/x?x-set-response-header=X-B%3A%202",
            headers=(
                b"x-set-response-header: X-A: 1",
                b"x-set-response-header: X-A: 3",
            ),
            config=ON,
        )
        self.assertEqual(response.headers[b"x-a"], [b"1", b"3"])
        self.assertNotIn(b"x-b", response.headers)
        only = request(b"/x?x-set-response-header=X-B%3A%202", config=ON)
        self.assertEqual(only.header(b"X-B"), b"2")
        for bad in [
            b"Content-Length: 1",
            b"Access-Control-Allow-Origin: *",
            b"nocolon",
        ]:
            refused = request(
                b"/x", headers=(b"x-set-response-header: " + bad,), config=ON
            )
            self.assertEqual(refused.status, 400, bad)

    def test_bodyOnly(self) -> None:
        """
        C{response_body_only=true} answers with the body alone, with its
        type (an active one made plain text).
        """
        response = request(
            b"/x?response_body_only=true",
            b"POST",
            (b"Content-Type: text/html",),
            b"<b>hi</b>",
            ON,
        )
        self.assertEqual(response.body, b"<b>hi</b>")
        self.assertEqual(response.header(b"Content-Type"), b"text/plain; charset=utf-8")

    def test_declared(self) -> None:
        """
        Every control the catch-all reads is declared in
        L{echohub.controls.CONTROLS}, where the live page and README take
        them from.
        """
        declared = {(c.name, c.where) for c in CONTROLS}
        for name in [
            "x-set-response-status-code",
            "x-set-response-delay-ms",
            "x-set-response-content-type",
            "x-set-response-header",
        ]:
            self.assertIn((name, HEADER), declared)
        self.assertIn(("response_body_only", QUERY), declared)
