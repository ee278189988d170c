# -*- test-case-name: tests.http.test_channel -*-
"""
Tests for L{echohub.http._channel}: the header and body deadlines, the C{414}
and C{431} size limits and the framing checks, driven through the real site
over a L{StringTransport} and a L{MemoryReactorClock}.
"""

from __future__ import annotations

from dataclasses import replace

from twisted.trial.unittest import SynchronousTestCase

from echohub.config import WebConfig
from echohub.http import HTTPLimits
from echohub.testing import Response, connect, exchange, parseResponses

GET_HEALTHZ = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"

LIMITS = WebConfig(
    header_timeout=2,
    body_timeout=3,
    body_min_rate=100,
    max_request_line=100,
    max_header_bytes=300,
    max_headers=5,
    max_body=1000,
)


def closedWith(status: int, *chunks: bytes, config: WebConfig = LIMITS) -> Response:
    """
    Send C{chunks} and return the one response, asserting it has
    C{status}, is plain text and closes the connection.
    """
    responses = exchange(*chunks, config=config)
    assert [r.status for r in responses] == [status], responses
    [response] = responses
    assert response.header(b"Connection") == b"close"
    assert response.header(b"Content-Type") == b"text/plain; charset=utf-8"
    return response


class HeaderDeadlineTests(SynchronousTestCase):
    """
    The request line and headers must arrive within C{header_timeout} of
    the connection, however steadily they trickle in.
    """

    def test_tricklingHeadersGet408AtTheDeadline(self) -> None:
        """
        A byte every half second (each one resetting Twisted's idle timer)
        does not extend the deadline: C{408} and close at 2 s, not before.
        """
        channel, transport, reactor = connect(LIMITS)
        for byte in b"GET /healthz HTTP/1.1\r\n":
            if reactor.seconds() >= 1.5:
                break
            channel.dataReceived(bytes([byte]))
            reactor.advance(0.5)
        self.assertEqual(transport.value(), b"")
        reactor.advance(0.5)
        [response] = parseResponses(transport.value())
        self.assertEqual(response.status, 408)
        self.assertIn(b"header_timeout", response.body)
        self.assertTrue(transport.disconnecting)

    def test_silentConnectionGets408(self) -> None:
        """
        A connection that sends nothing is held to the deadline too.
        """
        _, transport, reactor = connect(LIMITS)
        reactor.advance(2)
        self.assertEqual(parseResponses(transport.value())[0].status, 408)

    def test_keptAliveConnectionRestartsFromFirstByte(self) -> None:
        """
        After a response, an idle kept-alive connection is not timed by the
        header deadline; the next request's first byte starts it afresh.
        """
        channel, transport, reactor = connect(LIMITS)
        channel.dataReceived(GET_HEALTHZ)
        reactor.advance(10)
        self.assertFalse(transport.disconnecting)
        channel.dataReceived(b"GET /hea")
        reactor.advance(1.9)
        self.assertFalse(transport.disconnecting)
        reactor.advance(0.1)
        self.assertEqual(
            [r.status for r in parseResponses(transport.value())], [200, 408]
        )

    def test_completeHeadersCancelTheDeadline(self) -> None:
        """
        Headers in time: the deadline does not fire while the request is
        answered or afterwards.
        """
        channel, transport, reactor = connect(LIMITS)
        channel.dataReceived(GET_HEALTHZ)
        reactor.advance(5)
        self.assertEqual([r.status for r in parseResponses(transport.value())], [200])
        self.assertFalse(transport.disconnecting)

    def test_zeroDisables(self) -> None:
        """
        C{header_timeout = 0} sets no deadline.
        """
        channel, transport, reactor = connect(
            WebConfig(header_timeout=0, idle_timeout=0)
        )
        channel.dataReceived(b"GET /")
        reactor.advance(3600)
        self.assertFalse(transport.disconnecting)
        self.assertEqual(reactor.getDelayedCalls(), [])


class BodyDeadlineTests(SynchronousTestCase):
    """
    The body rule (L{echohub.http._policy.BodyClock}): no more than
    C{body_timeout} without a byte, and after that long an average of at
    least C{body_min_rate} bytes a second.
    """

    HEAD = b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 900\r\n\r\n"

    def test_stalledBodyGets408(self) -> None:
        """
        Part of a body and then nothing: C{408} C{body_timeout} after the
        last byte, naming the settings.
        """
        channel, transport, reactor = connect(LIMITS)
        channel.dataReceived(self.HEAD + b"x" * 100)
        reactor.advance(2.9)
        self.assertFalse(transport.disconnecting)
        reactor.advance(0.1)
        [response] = parseResponses(transport.value())
        self.assertEqual(response.status, 408)
        self.assertIn(b"body_timeout 3 s, body_min_rate 100 bytes/s", response.body)
        self.assertTrue(transport.disconnecting)

    def test_stallAfterMuchIsNotExtended(self) -> None:
        """
        A body that arrived fast and then stalls earns no extra time from
        the bytes it sent: C{408} C{body_timeout} after its last byte (the
        old rule let a stalled 1 MiB upload live some 18 minutes).
        """
        channel, transport, reactor = connect(LIMITS)
        channel.dataReceived(self.HEAD + b"x" * 899)
        reactor.advance(1)
        channel.dataReceived(b"")
        reactor.advance(1.9)
        self.assertFalse(transport.disconnecting)
        reactor.advance(0.1)
        self.assertEqual(parseResponses(transport.value())[0].status, 408)

    def test_bodyDeadlineReusesTheHeaderTimer(self) -> None:
        """
        The end of the headers re-arms the header deadline's timer for the
        body rather than scheduling a second one, and the end of the body
        disarms it: it fires without effect, or is re-armed by the next
        request.
        """
        channel, transport, reactor = connect(replace(LIMITS, idle_timeout=0))
        channel.dataReceived(b"P")
        [timer] = reactor.getDelayedCalls()
        reactor.advance(1)
        channel.dataReceived(self.HEAD[1:])
        self.assertEqual(reactor.getDelayedCalls(), [timer])
        self.assertEqual(timer.getTime(), 4)
        channel.dataReceived(b"y" * 900)
        self.assertEqual(reactor.getDelayedCalls(), [timer])
        channel.dataReceived(b"P")
        self.assertEqual(reactor.getDelayedCalls(), [timer])
        self.assertEqual(timer.getTime(), 3)
        reactor.advance(1.9)
        channel.dataReceived(b"OST /echo HTTP/1.1\r\nHost: x\r\n\r\n")
        reactor.advance(10)
        statuses = [r.status for r in parseResponses(transport.value())]
        self.assertEqual(statuses, [200, 200])
        self.assertFalse(transport.disconnecting)

    def test_bodyAtTheMinimumRateArrives(self) -> None:
        """
        A body sent at the minimum rate is never cut off, however long it
        takes in total.
        """
        channel, transport, reactor = connect(LIMITS)
        channel.dataReceived(self.HEAD)
        for _ in range(9):
            reactor.advance(1)
            channel.dataReceived(b"y" * 100)
        [response] = parseResponses(transport.value())
        self.assertEqual((response.status, response.body), (200, b"y" * 900))

    def test_chunkedTrickleGets408(self) -> None:
        """
        A chunked body that sends one byte a second falls behind the rate.
        """
        channel, transport, reactor = connect(LIMITS)
        channel.dataReceived(
            b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        for _ in range(10):
            channel.dataReceived(b"1\r\nz\r\n")
            reactor.advance(1)
        self.assertEqual(parseResponses(transport.value())[0].status, 408)


class SizeLimitTests(SynchronousTestCase):
    """
    Over-long request lines get C{414}, header sections too large or too
    many headers C{431}; at the limits, requests are served.
    """

    def test_requestLineOverLimit(self) -> None:
        """
        A request line over C{max_request_line} gets C{414} naming the limit.
        """
        target = b"/echo?msg=" + b"a" * 100
        response = closedWith(414, b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertIn(b"100 bytes (max_request_line)", response.body)

    def test_requestLineOverEveryLimitWithoutEnd(self) -> None:
        """
        A request line longer than any limit, never terminated, gets C{414}
        rather than Twisted's silent close.
        """
        closedWith(414, b"GET /" + b"a" * 400)

    def test_requestLineAtLimitServed(self) -> None:
        """
        A request line of exactly C{max_request_line} bytes is served.
        """
        line = b"GET /echo?msg=" + b"a" * 77 + b" HTTP/1.1"
        self.assertEqual(len(line), 100)
        [response] = exchange(line + b"\r\nHost: x\r\n\r\n", config=LIMITS)
        self.assertEqual((response.status, response.body), (200, b"a" * 77))

    def test_oneHugeHeaderLine(self) -> None:
        """
        One header line longer than every limit gets C{431}.
        """
        closedWith(431, b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 1000)

    def test_headerSectionOverLimit(self) -> None:
        """
        Header lines each small but together over C{max_header_bytes} get
        C{431}.
        """
        headers = b"".join(b"X-%d: %s\r\n" % (i, b"v" * 90) for i in range(4))
        closedWith(431, b"GET / HTTP/1.1\r\n" + headers + b"\r\n")

    def test_tooManyHeaders(self) -> None:
        """
        More than C{max_headers} header lines get C{431}; exactly that many
        are served.
        """
        six = b"".join(b"X-%d: v\r\n" % (i,) for i in range(5))
        closedWith(431, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + six + b"\r\n")
        five = b"".join(b"X-%d: v\r\n" % (i,) for i in range(4))
        [response] = exchange(
            b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + five + b"\r\n", config=LIMITS
        )
        self.assertEqual(response.status, 200)

    def test_limitsPerRequest(self) -> None:
        """
        The header counts start again with each request on a connection.
        """
        request = b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"X: " + b"v" * 200
        responses = exchange(*[request + b"\r\n\r\n"] * 3, config=LIMITS)
        self.assertEqual([r.status for r in responses], [200, 200, 200])

    def test_fromConfig(self) -> None:
        """
        L{HTTPLimits.fromConfig} takes every limit; a zero timeout is none.
        """
        self.assertEqual(
            HTTPLimits.fromConfig(WebConfig(header_timeout=0, max_headers=7)),
            HTTPLimits(headerTimeout=None, maxHeaders=7),
        )


class FramingTests(SynchronousTestCase):
    """
    Requests whose framing is ambiguous get C{400} and close; nothing
    pipelined behind them is answered.
    """

    SMUGGLED = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"

    def assertRefused(self, head: bytes, status: int = 400) -> None:
        responses = exchange(head + self.SMUGGLED, config=LIMITS)
        self.assertEqual([r.status for r in responses], [status], head)

    def test_missingHost(self) -> None:
        """
        HTTP/1.1 without C{Host} gets C{400}; HTTP/1.0 without it is served.
        """
        self.assertRefused(b"GET /healthz HTTP/1.1\r\n\r\n")
        channel, transport, _ = connect(LIMITS)
        channel.dataReceived(b"GET /healthz HTTP/1.0\r\n\r\n")
        self.assertTrue(transport.value().startswith(b"HTTP/1.0 200 "))

    def test_twoHosts(self) -> None:
        """
        Two C{Host} headers get C{400}.
        """
        self.assertRefused(b"GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")

    def test_hugeChunkSize(self) -> None:
        """
        A chunk size of 2**63 or more is malformed: C{400}.
        """
        self.assertRefused(
            b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"8000000000000000\r\nabc"
        )

    def test_chunkOverBodyLimit(self) -> None:
        """
        A chunk announced larger than C{max_body} gets C{413} at once.
        """
        self.assertRefused(
            b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"fffff\r\nabc",
            413,
        )


class PipeliningBackpressureTests(SynchronousTestCase):
    """
    While the client does not read, pipelined requests are neither read
    nor parsed; once it reads again they are answered, in order.
    """

    def test_heldBackUntilResumed(self) -> None:
        """
        After the transport pauses the channel, requests that still arrive
        are not answered until it resumes, then all are, in order.
        """
        channel, transport, reactor = connect(LIMITS)
        requests = [
            b"GET /echo?msg=%d HTTP/1.1\r\nHost: x\r\n\r\n" % i for i in range(3)
        ]
        channel.dataReceived(requests[0])
        channel.pauseProducing()
        self.assertEqual(transport.producerState, "paused")
        channel.dataReceived(requests[1] + requests[2])
        self.assertEqual([r.body for r in parseResponses(transport.value())], [b"0"])
        channel.resumeProducing()
        reactor.advance(0)
        bodies = [r.body for r in parseResponses(transport.value())]
        self.assertEqual(bodies, [b"0", b"1", b"2"])


class ConformanceTests(SynchronousTestCase):
    """
    RFC 9112 rules on the request target and C{Host} that twisted.web's own
    channel did not apply.
    """

    def test_hostThatIsNotOneHost(self) -> None:
        """
        A C{Host} that is a list (C{a, b}) or has a space (C{a b}) gets
        C{400}, and nothing behind it is answered; a bracketed IPv6 address
        with a port is one host.
        """
        for host in [b"a, b", b"a b", b"a,b"]:
            responses = exchange(
                b"GET /healthz HTTP/1.1\r\nHost: " + host + b"\r\n\r\n" + GET_HEALTHZ
            )
            self.assertEqual([r.status for r in responses], [400], host)
        [response] = exchange(b"GET /healthz HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n")
        self.assertEqual(response.status, 200)

    def test_absoluteFormServed(self) -> None:
        """
        An absolute-form target is served as its path and query, with its
        authority as the host (RFC 9112 section 3.2.2).
        """
        responses = exchange(
            b"GET http://example.test/echo?msg=x HTTP/1.1\r\nHost: other\r\n\r\n"
            b"GET http://example.test:8080/anything HTTP/1.1\r\nHost: other\r\n\r\n"
        )
        self.assertEqual([r.status for r in responses], [200, 200])
        self.assertEqual(responses[0].body, b"x")
        self.assertIn(b'"example.test:8080"', responses[1].body)

    def test_bareLineFeedRefused(self) -> None:
        """
        Lines ended by a bare LF get C{400} at once, not a wait for a head
        that never completes; split or whole.
        """
        for data in [
            b"GET /healthz HTTP/1.1\nHost: x\n\n",
            b"GET /healthz HTTP/1.1\r\nHost: x\n\r\n",
            b"GET /healthz HTTP/1.1\r\nHost: x\r\n\n",
        ]:
            self.assertEqual([r.status for r in exchange(data)], [400], data)
            self.assertEqual(
                [r.status for r in exchange(data[:15], data[15:])], [400], data
            )

    def test_anyTokenMethod(self) -> None:
        """
        A method llhttp does not know is parsed and handed on as sent; one
        that is not a token gets C{400}.
        """
        [response] = exchange(b"FROBNICATE /anything HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertIn(b'"FROBNICATE"', response.body)
        [response] = exchange(b"GE(T /anything HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual(response.status, 400)


class IdleTimeoutTests(SynchronousTestCase):
    """
    C{idle_timeout} closes a connection with nothing in flight, counting
    from its last byte or its last response.
    """

    def test_requestInFlightIsNotIdle(self) -> None:
        """
        A request that takes longer than the idle timeout is answered, and
        the connection is closed C{idle_timeout} after that answer.
        """
        config = WebConfig(idle_timeout=3, header_timeout=0, max_delay=10)
        channel, transport, reactor = connect(config)
        channel.dataReceived(b"GET /delay/5 HTTP/1.1\r\nHost: x\r\n\r\n")
        reactor.advance(4)
        self.assertFalse(transport.disconnecting)
        reactor.advance(1)
        [response] = parseResponses(transport.value())
        self.assertEqual(response.status, 200)
        reactor.advance(2.9)
        self.assertFalse(transport.disconnecting)
        reactor.advance(0.1)
        self.assertTrue(transport.disconnecting)

    def test_idleAfterQuickRequests(self) -> None:
        """
        After quick requests the connection is closed C{idle_timeout} after
        the last one, and not before.
        """
        config = WebConfig(idle_timeout=3, header_timeout=0)
        channel, transport, reactor = connect(config)
        for _ in range(3):
            channel.dataReceived(GET_HEALTHZ)
            reactor.advance(2)
        self.assertFalse(transport.disconnecting)
        reactor.advance(1)
        self.assertTrue(transport.disconnecting)


class PersistenceTests(SynchronousTestCase):
    """
    Persistence by RFC 9112 section 9.3, said in the response.
    """

    def test_http10KeepAlive(self) -> None:
        """
        An HTTP/1.0 request with C{Connection: keep-alive} and a response
        with a length: C{Connection: keep-alive}, and the connection serves
        the next request.
        """
        channel, transport, _ = connect()
        channel.dataReceived(
            b"GET /echo?msg=a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
        )
        self.assertIn(b"\r\nConnection: keep-alive\r\n", transport.value())
        self.assertFalse(transport.disconnecting)
        channel.dataReceived(b"GET /echo?msg=b HTTP/1.0\r\n\r\n")
        self.assertTrue(transport.value().endswith(b"b"))
        self.assertTrue(transport.disconnecting)

    def test_http10KeepAliveWithoutLength(self) -> None:
        """
        An HTTP/1.0 keep-alive request whose response has no length (a
        stream): no C{Connection: keep-alive}, and the connection ends with
        the response.
        """
        channel, transport, clock = connect()
        channel.dataReceived(
            b"GET /stream/2 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
        )
        for _ in range(5):
            clock.advance(1)
        head = transport.value().split(b"\r\n\r\n", 1)[0]
        self.assertTrue(head.startswith(b"HTTP/1.0 200 "))
        self.assertNotIn(b"keep-alive", head.lower())
        self.assertNotIn(b"content-length", head.lower())
        self.assertTrue(transport.disconnecting)

    def test_closingResponseEndsParsing(self) -> None:
        """
        After a response to C{Connection: close}, a pipelined request gets
        nothing: not a C{400}, not an answer.
        """
        responses = exchange(
            b"GET /echo?msg=a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            b"GET /echo?msg=b HTTP/1.1\r\nHost: x\r\n\r\nGARBAGE\r\n\r\n"
        )
        self.assertEqual([r.body for r in responses], [b"a"])

    def test_otherVersion505(self) -> None:
        """
        C{HTTP/2.0} in an HTTP/1 request line: C{505} naming what is spoken,
        and close.
        """
        response = closedWith(505, b"GET / HTTP/2.0\r\nHost: x\r\n\r\n")
        self.assertIn(b"HTTP/1.0, HTTP/1.1 and HTTP/2", response.body)
