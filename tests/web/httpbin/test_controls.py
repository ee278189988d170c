# -*- test-case-name: tests.web.httpbin.test_controls -*-
"""
Tests for L{echohub.web.httpbin._controls}: C{/status}, C{/delay}, C{/bytes} and
C{/response-headers}, through the real site over an in-memory transport and
clock.
"""

from __future__ import annotations

import json
import random

from twisted.internet.error import ConnectionDone
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from echohub.config import WebConfig
from echohub.testing import connect, parseResponses, request
from echohub.web.httpbin._controls import PIECE, StatusResource, parseStatusChoices


class StatusTests(SynchronousTestCase):
    """
    C{/status/<codes>} answers with the status asked for.
    """

    def test_single(self) -> None:
        """
        Any method gets the one code asked for, with httpbin's extras: an
        empty body for most, a redirect to C{/redirect/1} for a 3xx, the
        challenge of a 401 or 407, a teapot for 418.
        """
        for method in [b"GET", b"POST", b"DELETE"]:
            response = request(b"/status/503", method, body=b"")
            self.assertEqual((response.status, response.body), (503, b""))
        self.assertIn(b"teapot", request(b"/status/418").body)
        self.assertEqual(request(b"/status/303").header(b"Location"), b"/redirect/1")
        self.assertEqual(
            request(b"/status/401").header(b"WWW-Authenticate"),
            b'Basic realm="Fake Realm"',
        )
        self.assertEqual(
            request(b"/status/407").header(b"Proxy-Authenticate"),
            b'Basic realm="Fake Realm"',
        )

    def test_noContent(self) -> None:
        """
        C{204} and C{304} have no body and announce none.
        """
        for code in [b"204", b"304"]:
            channel, transport, _ = connect()
            channel.dataReceived(
                b"GET /status/" + code + b" HTTP/1.1\r\nHost: x\r\n\r\n"
            )
            head, _, rest = transport.value().partition(b"\r\n\r\n")
            self.assertTrue(head.startswith(b"HTTP/1.1 " + code), head)
            self.assertNotIn(b"Content-Length: 4", head)
            self.assertEqual(rest, b"")

    def test_resetContentSendsNoContent(self) -> None:
        """
        C{205} sends no content (RFC 9110 section 15.3.6): a zero length and
        no body, and the connection goes on.
        """
        channel, transport, _ = connect()
        channel.dataReceived(
            b"GET /status/205 HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        reset, health = parseResponses(transport.value())
        self.assertEqual((reset.status, reset.body), (205, b""))
        self.assertEqual(reset.header(b"Content-Length"), b"0")
        self.assertEqual(health.body, b"ok\n")

    def test_invalid(self) -> None:
        """
        Codes outside 200-599, junk, zero total weight and missing or extra
        segments are a plain-text C{400} that says why.
        """
        for target in [
            b"/status/99",
            b"/status/600",
            b"/status/100",
            b"/status/abc",
            b"/status/200:0,500:0",
            b"/status",
            b"/status/200/x",
            b"/status/200:-1",
            b"/status/200:nan",
            b"/status/" + b",".join([b"200"] * 33),
        ]:
            response = request(target)
            self.assertEqual(response.status, 400, target)
            self.assertEqual(
                response.header(b"Content-Type"), b"text/plain; charset=utf-8"
            )
            self.assertTrue(
                response.body.startswith(b"400 Bad Request: "), response.body
            )

    def test_weights(self) -> None:
        """
        Weighted choices follow their weights; a zero weight is never chosen.
        """
        self.assertEqual(
            parseStatusChoices(b"200:0.8,500:0.2"), [(200, 0.8), (500, 0.2)]
        )
        resource = StatusResource(random.Random(1))
        codes = set()
        for _ in range(200):
            [code] = resource.random.choices([200, 500, 503], weights=[1, 1, 0])
            codes.add(code)
        self.assertEqual(codes, {200, 500})

    def test_weightedThroughSite(self) -> None:
        """
        Over many requests both codes of C{200:0.5,500:0.5} occur, and
        nothing else.
        """
        codes = {request(b"/status/200:0.5,500:0.5").status for _ in range(64)}
        self.assertEqual(codes, {200, 500})


class DelayTests(SynchronousTestCase):
    """
    C{/delay/<seconds>} answers after a reactor timer.
    """

    def test_answersAfterDelay(self) -> None:
        """
        Nothing is written before the delay; the /anything JSON after it.
        Another request on another connection is answered meanwhile.
        """
        channel, transport, clock = connect()
        channel.dataReceived(b"GET /delay/2.5 HTTP/1.1\r\nHost: x\r\n\r\n")
        clock.advance(2.4)
        self.assertEqual(transport.value(), b"")
        other, otherTransport, _ = connect()
        other.dataReceived(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertIn(b"ok", otherTransport.value())
        clock.advance(0.1)
        [response] = parseResponses(transport.value())
        self.assertEqual(response.status, 200)
        self.assertEqual(json.loads(response.body)["url"], "http://x/delay/2.5")

    def test_clientLeavingCancelsTimer(self) -> None:
        """
        A client that goes away before the delay leaves no timer behind.
        """
        channel, transport, clock = connect()
        channel.dataReceived(b"GET /delay/5 HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertIn(5, [c.getTime() for c in clock.getDelayedCalls()])
        channel.connectionLost(Failure(ConnectionDone()))
        self.assertEqual([c for c in clock.getDelayedCalls() if c.active()], [])

    def test_bounds(self) -> None:
        """
        Above C{max_delay}, negative, not a number: C{400} naming the limit.
        """
        for target in [
            b"/delay/10.01",
            b"/delay/-1",
            b"/delay/x",
            b"/delay/nan",
            b"/delay/inf",
            b"/delay",
        ]:
            response = request(target)
            self.assertEqual(response.status, 400, target)
            self.assertIn(b"max_delay", response.body)
        small = request(b"/delay/3", config=WebConfig(max_delay=2))
        self.assertIn(b"from 0 to 2", small.body)

    def test_zero(self) -> None:
        """
        C{/delay/0} answers on the next reactor turn.
        """
        channel, transport, clock = connect()
        channel.dataReceived(b"GET /delay/0 HTTP/1.1\r\nHost: x\r\n\r\n")
        clock.advance(0)
        [response] = parseResponses(transport.value())
        self.assertEqual(response.status, 200)


class BytesTests(SynchronousTestCase):
    """
    C{/bytes/<n>} answers with n random bytes.
    """

    def test_count(self) -> None:
        """
        Exactly n bytes of C{application/octet-stream}; two answers differ.
        """
        one, two = request(b"/bytes/64"), request(b"/bytes/64")
        self.assertEqual(len(one.body), 64)
        self.assertEqual(one.header(b"Content-Type"), b"application/octet-stream")
        self.assertNotEqual(one.body, two.body)

    def test_seed(self) -> None:
        """
        The same seed gives the same bytes.
        """
        self.assertEqual(
            request(b"/bytes/32?seed=7").body, request(b"/bytes/32?seed=7").body
        )
        self.assertNotEqual(
            request(b"/bytes/32?seed=7").body, request(b"/bytes/32?seed=8").body
        )
        self.assertEqual(request(b"/bytes/1?seed=x").status, 400)

    def test_bounds(self) -> None:
        """
        Up to C{max_body} bytes; more, or not a whole number, is C{400}.
        """
        config = WebConfig(max_body=100)
        self.assertEqual(len(request(b"/bytes/100", config=config).body), 100)
        for target in [b"/bytes/101", b"/bytes/-1", b"/bytes/1.5", b"/bytes"]:
            response = request(target, config=config)
            self.assertEqual(response.status, 400, target)
            self.assertIn(b"max_body", response.body)

    def test_largeBodyPieceByPiece(self) -> None:
        """
        A body over one piece is written a piece per reactor turn with its
        C{Content-Length}, and is what one C{randbytes} call of the seed
        gives; while the client does not read, nothing more is generated.
        """
        size = 5 * PIECE + 3
        channel, transport, clock = connect()
        channel.dataReceived(b"GET /bytes/%d?seed=5 HTTP/1.1\r\nHost: x\r\n\r\n" % size)
        self.assertLess(len(transport.value()), 2 * PIECE)
        channel.pauseProducing()
        before = len(transport.value())
        clock.advance(0)
        clock.advance(0)
        self.assertEqual(len(transport.value()), before)
        channel.resumeProducing()
        for _ in range(10):
            clock.advance(0)
        [response] = parseResponses(transport.value())
        self.assertEqual(response.header(b"Content-Length"), b"%d" % size)
        self.assertEqual(response.body, random.Random(5).randbytes(size))


class ResponseHeadersTests(SynchronousTestCase):
    """
    C{/response-headers?K=V} sets response headers, safely.
    """

    def test_sets(self) -> None:
        """
        Each argument becomes a header, repeated names repeated headers, and
        the JSON body lists them.
        """
        response = request(
            b"/response-headers?X-One=1&X-Two=a&X-Two=b&Content-Type=text/plain"
        )
        self.assertEqual(response.status, 200)
        self.assertEqual(response.headers[b"x-two"], [b"a", b"b"])
        self.assertEqual(response.header(b"X-One"), b"1")
        self.assertEqual(response.header(b"Content-Type"), b"text/plain")
        self.assertEqual(json.loads(response.body)["X-Two"], ["a", "b"])

    def test_noInjection(self) -> None:
        """
        A CR or LF in a value, or a name that is not a token, is refused:
        no header can be smuggled in.
        """
        for target in [
            b"/response-headers?X-A=1%0D%0AX-Evil:%201",
            b"/response-headers?X-A=1%0AX-Evil:1",
            b"/response-headers?X%20A=1",
            b"/response-headers?X:A=1",
        ]:
            response = request(target)
            self.assertEqual(response.status, 400, target)
            self.assertNotIn(b"x-evil", response.headers)

    def test_listedLength(self) -> None:
        """
        The JSON lists the response's own C{Content-Length}, which is the
        body's length.
        """
        for target in [b"/response-headers", b"/response-headers?X-A=1&X-A=22"]:
            response = request(target)
            listed = json.loads(response.body)["Content-Length"]
            self.assertEqual(int(listed), len(response.body), target)
            self.assertEqual(response.header(b"Content-Length"), listed.encode())

    def test_reserved(self) -> None:
        """
        Framing, CORS, CSP, nosniff and cookie headers, and active content
        types, cannot be set.
        """
        for name in [
            b"Content-Length",
            b"Transfer-Encoding",
            b"Connection",
            b"Access-Control-Allow-Origin",
            b"Content-Security-Policy",
            b"X-Content-Type-Options",
        ]:
            self.assertEqual(
                request(b"/response-headers?" + name + b"=1").status, 400, name
            )
        self.assertEqual(
            request(b"/response-headers?Content-Type=text/html").status, 400
        )
        parent = request(
            b"/response-headers?Set-Cookie=a%3Db%3B%20Domain%3Dexample.test"
        )
        self.assertEqual(parent.status, 400)
        hostOnly = request(b"/response-headers?Set-Cookie=a%3Db")
        self.assertEqual(hostOnly.header(b"Set-Cookie"), b"a=b")
        self.assertEqual(
            request(b"/response-headers?Content-Type=image/svg%2Bxml").status, 400
        )

    def test_hiddenActiveTypeAndRefresh(self) -> None:
        """
        An HTML type hidden in a comma list, which a browser may pick, and
        C{Refresh}, which redirects like a link, cannot be set.
        """
        for query in [
            b"Content-Type=text/plain,text/html",
            b"Content-Type=text/plain,%20application/xhtml%2Bxml",
            b"Refresh=0;url=https://example.test/",
            b"refresh=1",
        ]:
            self.assertEqual(request(b"/response-headers?" + query).status, 400, query)
