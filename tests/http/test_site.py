# -*- test-case-name: tests.http.test_site -*-
"""
Tests for L{echohub.web._site}: the body limit, C{nosniff}, the plain-text error
responses and the idle timeout, all driven through the real L{Site} and
HTTP/1.1 channel over a L{StringTransport} with raw request bytes.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import IAddress
from twisted.internet.testing import (
    EventLoggingObserver,
    MemoryReactorClock,
    StringTransport,
)
from twisted.logger import globalLogPublisher
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.iweb import IRequest
from twisted.web.resource import Resource
from twisted.web.server import Site

from echohub.config import WebConfig
from echohub.http import HTTPSite
from echohub.testing import (
    CLIENT_PEER,
    HalfCloseTransport,
    Response,
    connect,
    exchange,
    parseResponses,
)
from echohub.web import buildSite


def postHead(path: bytes, length: int, *extra: bytes) -> bytes:
    """
    The request line and headers of a C{POST} with a C{Content-Length}.
    """
    lines = [b"POST " + path + b" HTTP/1.1", b"Host: x", b"Content-Length: %d" % length]
    return b"\r\n".join([*lines, *extra, b"", b""])


CHUNKED_HEAD = b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
GET_HEALTHZ = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
SMALL = WebConfig(max_body=10)


def chunk(data: bytes) -> bytes:
    """
    Frame C{data} as one chunk of a chunked body.
    """
    return b"%x\r\n%s\r\n" % (len(data), data)


class RequestBodyLimitTests(SynchronousTestCase):
    """
    Bodies over C{max_body} are refused with a plain-text C{413} as early as
    possible, the request is never rendered, and the connection closes.
    """

    def assertTooLarge(self, response: Response) -> None:
        """
        C{response} is the plain-text, closing C{413}.
        """
        self.assertEqual(response.status, 413)
        self.assertEqual(response.header(b"Content-Type"), b"text/plain; charset=utf-8")
        self.assertEqual(response.header(b"X-Content-Type-Options"), b"nosniff")
        self.assertEqual(response.header(b"Connection"), b"close")
        self.assertIn(b"10 bytes", response.body)

    def test_contentLengthOverLimitRefusedAfterHeaders(self) -> None:
        """
        A C{Content-Length} over the limit gets C{413} as soon as the headers
        end, before any body byte has arrived, and the connection closes.
        """
        channel, transport, _ = connect(SMALL)
        channel.dataReceived(postHead(b"/echo", 11))
        [response] = parseResponses(transport.value())
        self.assertTooLarge(response)
        self.assertTrue(transport.disconnecting)

    def test_expectContinueOverLimitGetsNo100(self) -> None:
        """
        A request with C{Expect: 100-continue} and a C{Content-Length} over
        the limit gets the C{413} and never a C{100 Continue}, which would
        invite the client to send the body.
        """
        channel, transport, _ = connect(SMALL)
        channel.dataReceived(postHead(b"/echo", 11, b"Expect: 100-continue"))
        self.assertNotIn(b"100 Continue", transport.value())
        [response] = parseResponses(transport.value())
        self.assertTooLarge(response)

    def test_expectContinueWithinLimitGets100(self) -> None:
        """
        A request with C{Expect: 100-continue} and an acceptable length gets
        C{100 Continue} before its body, then its echo.
        """
        channel, transport, _ = connect(SMALL)
        channel.dataReceived(postHead(b"/echo", 10, b"Expect: 100-continue"))
        self.assertEqual(transport.value(), b"HTTP/1.1 100 Continue\r\n\r\n")
        channel.dataReceived(b"0123456789")
        continued, response = parseResponses(transport.value())
        self.assertEqual(continued.status, 100)
        self.assertEqual((response.status, response.body), (200, b"0123456789"))

    def test_bodyAndPipelinedRequestAfterRefusalIgnored(self) -> None:
        """
        After a C{413}, the refused body and a request pipelined behind it
        are not processed: nothing more is written.
        """
        channel, transport, _ = connect(SMALL)
        channel.dataReceived(postHead(b"/echo", 11))
        refused = transport.value()
        channel.dataReceived(b"01234567890" + GET_HEALTHZ)
        self.assertEqual(transport.value(), refused)

    def test_pipelinedRequestInSameReadNotAnswered(self) -> None:
        """
        A request that arrives in the same read as a refused one, behind
        its body, is never answered.
        """
        [response] = exchange(
            postHead(b"/echo", 11) + b"01234567890" + GET_HEALTHZ, config=SMALL
        )
        self.assertTooLarge(response)

    def test_chunkedOverLimitRefusedMidStream(self) -> None:
        """
        A chunked body is accepted while within the limit and refused with
        C{413} in the read that takes it past the limit; the rest of the body
        and anything after it are ignored.
        """
        channel, transport, _ = connect(SMALL)
        channel.dataReceived(CHUNKED_HEAD + chunk(b"01234567"))
        self.assertEqual(transport.value(), b"")
        channel.dataReceived(chunk(b"89a"))
        [response] = parseResponses(transport.value())
        self.assertTooLarge(response)
        self.assertTrue(transport.disconnecting)
        refused = transport.value()
        channel.dataReceived(chunk(b"bc") + b"0\r\n\r\n" + GET_HEALTHZ)
        self.assertEqual(transport.value(), refused)

    def test_chunkedOverLimitInOneReadNotRendered(self) -> None:
        """
        When an over-long chunked body, its end and a pipelined request all
        arrive in one read, the only response is the C{413}: the refused
        request is not rendered even though its body was complete.
        """
        [response] = exchange(
            CHUNKED_HEAD + chunk(b"0123456789a") + b"0\r\n\r\n" + GET_HEALTHZ,
            config=SMALL,
        )
        self.assertTooLarge(response)

    def test_dataAfterRefusedCompleteChunkedBodyIgnored(self) -> None:
        """
        Data sent after a refused chunked body that was complete is ignored,
        without error, rather than fed to the finished body decoder.
        """
        channel, transport, _ = connect(SMALL)
        channel.dataReceived(CHUNKED_HEAD + chunk(b"0123456789a") + b"0\r\n\r\n")
        refused = transport.value()
        channel.dataReceived(GET_HEALTHZ)
        self.assertEqual(transport.value(), refused)

    def test_refusalLingers(self) -> None:
        """
        A C{413} is followed by a lingering close: the whole response is
        written, then only the write side is shut; the rest of the body is
        read and discarded (no second response, no reset) until the
        client's EOF, and the connection stays registered for the drain.
        """
        channel, transport, reactor = connect(
            WebConfig(max_body=10), HalfCloseTransport(peerAddress=CLIENT_PEER)
        )
        assert isinstance(transport, HalfCloseTransport)
        channel.dataReceived(postHead(b"/echo", 11) + b"x" * 5)
        [response] = parseResponses(transport.value())
        self.assertEqual(response.status, 413)
        self.assertTrue(transport.writeDisconnected)
        self.assertFalse(transport.disconnecting)
        channel.dataReceived(b"x" * 100000)
        self.assertEqual(parseResponses(transport.value()), [response])
        self.assertEqual(len(channel.site.connections), 1)
        channel.connectionLost(Failure(ConnectionDone()))
        self.assertEqual(len(channel.site.connections), 0)
        self.assertEqual(reactor.getDelayedCalls(), [])

    def test_refusedConnectionAborted(self) -> None:
        """
        A refused client that never lets the connection close is aborted
        at the lingering close's total bound (C{[server] lingering_time})
        after the refusal, even with the idle timeout disabled and the
        client still sending.
        """
        channel, transport, reactor = connect(WebConfig(max_body=10, idle_timeout=0))
        channel.dataReceived(postHead(b"/echo", 11))
        for _ in range(int(channel.site.access.lingering.total) - 1):
            reactor.advance(1)
            channel.dataReceived(b"x")
        self.assertFalse(transport.disconnected)
        reactor.advance(1)
        self.assertTrue(transport.disconnected)

    def test_closedRefusedConnectionLeavesNoTimer(self) -> None:
        """
        Once a refused connection has closed, no timer is left to abort it.
        """
        channel, transport, reactor = connect(SMALL)
        channel.dataReceived(postHead(b"/echo", 11))
        channel.connectionLost(Failure(ConnectionDone()))
        self.assertEqual(reactor.getDelayedCalls(), [])

    def test_contentLengthAtLimitAccepted(self) -> None:
        """
        A body of exactly C{max_body} bytes is echoed.
        """
        [response] = exchange(postHead(b"/echo", 10) + b"0123456789", config=SMALL)
        self.assertEqual((response.status, response.body), (200, b"0123456789"))

    def test_chunkedAtLimitAccepted(self) -> None:
        """
        A chunked body totalling exactly C{max_body} bytes is echoed, and a
        request pipelined behind it is answered too.
        """
        echo, health = exchange(
            CHUNKED_HEAD
            + chunk(b"01234")
            + chunk(b"56789")
            + b"0\r\n\r\n"
            + GET_HEALTHZ,
            config=SMALL,
        )
        self.assertEqual((echo.status, echo.body), (200, b"0123456789"))
        self.assertEqual((health.status, health.body), (200, b"ok\n"))

    def test_zeroLimitAcceptsEmptyBody(self) -> None:
        """
        With C{max_body = 0} an empty body is still accepted, one byte is not.
        """
        [empty] = exchange(postHead(b"/echo", 0), config=WebConfig(max_body=0))
        [refused] = exchange(postHead(b"/echo", 1), config=WebConfig(max_body=0))
        self.assertEqual((empty.status, refused.status), (200, 413))

    def test_largeBodyWithinLimitEchoed(self) -> None:
        """
        A body over Twisted's 100 kB in-memory threshold but within the
        default limit is echoed intact.
        """
        body = bytes(range(256)) * 1024
        [response] = exchange(postHead(b"/echo", len(body)) + body)
        self.assertEqual(response.status, 200)
        self.assertEqual(response.body, body)


class ResponseHeaderTests(SynchronousTestCase):
    """
    Headers every response carries, whatever answers it.
    """

    def test_nosniffOnEveryResponse(self) -> None:
        """
        Success, C{400}, C{404} and C{405} responses all carry
        C{X-Content-Type-Options: nosniff}.
        """
        responses = exchange(
            b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"
            b"DELETE /echo HTTP/1.1\r\nHost: x\r\n\r\n",
        )
        self.assertEqual([r.status for r in responses], [200, 400, 404, 405])
        for response in responses:
            self.assertEqual(response.header(b"X-Content-Type-Options"), b"nosniff")

    def test_malformedRequestGetsPlainText400(self) -> None:
        """
        A header line without a colon gets a plain-text C{400} with
        C{nosniff}, and the connection closes.
        """
        channel, transport, _ = connect()
        channel.dataReceived(b"GET / HTTP/1.1\r\nbogus\r\n\r\n")
        [response] = parseResponses(transport.value())
        self.assertEqual(response.status, 400)
        self.assertEqual(response.header(b"Content-Type"), b"text/plain; charset=utf-8")
        self.assertEqual(response.header(b"X-Content-Type-Options"), b"nosniff")
        self.assertTrue(transport.disconnecting)

    def test_renderingErrorGetsPlainText500(self) -> None:
        """
        An exception in a resource is logged and answered with a plain-text
        C{500}, not Twisted's HTML page.
        """

        class Broken(Resource):
            isLeaf = True

            def render(self, request: IRequest) -> bytes:
                raise ZeroDivisionError()

        site = HTTPSite(Broken(), reactor=MemoryReactorClock())
        channel = site.buildProtocol(None)
        transport = StringTransport()
        channel.makeConnection(transport)
        channel.dataReceived(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        [response] = parseResponses(transport.value())
        self.assertEqual(len(self.flushLoggedErrors(ZeroDivisionError)), 1)
        self.assertEqual(response.status, 500)
        self.assertEqual(response.header(b"Content-Type"), b"text/plain; charset=utf-8")
        self.assertEqual(response.header(b"X-Content-Type-Options"), b"nosniff")

    def test_formBodyNotParsed(self) -> None:
        """
        A malformed C{multipart/form-data} body is echoed, not refused with
        C{400}: the site does not parse form bodies.
        """
        body = b"not multipart at all"
        [response] = exchange(
            postHead(
                b"/echo", len(body), b"Content-Type: multipart/form-data; boundary=x"
            )
            + body
        )
        self.assertEqual((response.status, response.body), (200, body))


class SiteTests(SynchronousTestCase):
    """
    L{buildSite}'s configuration of the site and its connections.
    """

    def test_buildSite(self) -> None:
        """
        L{buildSite} returns a L{Site} with the configured idle timeout that
        offers only HTTP/1.1 over ALPN.
        """
        site = buildSite(WebConfig(idle_timeout=7), reactor=MemoryReactorClock())
        self.assertIsInstance(site, Site)
        self.assertEqual(site.timeOut, 7)
        self.assertEqual(site.acceptableProtocols(), [b"http/1.1"])

    def test_localAddressAskedOncePerConnection(self) -> None:
        """
        Requests on one connection see its local address, asked of the
        transport (a system call on TCP) only once.
        """
        channel, transport, _ = connect()
        asked = []
        getHost = transport.getHost

        def counting() -> IAddress:
            asked.append(True)
            return getHost()

        transport.getHost = counting  # type: ignore[method-assign]
        # /ip takes the full path (a Request each); the lean path of
        # /healthz would not ask at all.
        channel.dataReceived(b"GET /ip HTTP/1.1\r\nHost: x\r\n\r\n" * 2)
        self.assertEqual(len(parseResponses(transport.value())), 2)
        self.assertEqual(len(asked), 1)
        self.assertEqual(channel.getHost(), getHost())

    def test_idleTimeoutClosesConnection(self) -> None:
        """
        A connection with no traffic for C{idle_timeout} seconds is closed;
        traffic restarts the count.
        """
        channel, transport, reactor = connect(WebConfig(idle_timeout=5))
        reactor.advance(4)
        channel.dataReceived(b"GET /healthz HTTP/1.1\r\n")
        reactor.advance(4)
        self.assertFalse(transport.disconnecting)
        reactor.advance(1)
        self.assertTrue(transport.disconnecting)

    def test_zeroIdleTimeoutDisablesIt(self) -> None:
        """
        With C{idle_timeout = 0} (and no header deadline) an idle connection
        stays open.
        """
        _, transport, reactor = connect(WebConfig(idle_timeout=0, header_timeout=0))
        reactor.advance(24 * 3600)
        self.assertFalse(transport.disconnecting)

    @settings(max_examples=200, deadline=None)
    @given(
        body=st.binary(max_size=64),
        splits=st.lists(st.integers(min_value=0, max_value=200), max_size=8),
    )
    def test_splitRequestSameResponse(self, body: bytes, splits: list[int]) -> None:
        """
        Two pipelined requests, a C{POST /echo} and a C{GET}, get the same
        responses whether they arrive in one read or split at arbitrary
        points into many.
        """
        request = (
            postHead(b"/echo", len(body), b"Content-Type: application/x-test")
            + body
            + b"GET /echo?msg=%FFhi HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        points = sorted({min(p, len(request)) for p in splits} | {0, len(request)})
        pieces = [request[a:b] for a, b in zip(points, points[1:], strict=False)]
        whole = [r.withoutDate() for r in exchange(request)]
        split = [r.withoutDate() for r in exchange(*pieces)]
        self.assertEqual(split, whole)
        self.assertEqual([r.body for r in whole], [body, b"\xffhi"])


class AccessLogTests(SynchronousTestCase):
    """
    Every response leaves one access-log line, the channel's refusals
    included.
    """

    def accessLines(self, *chunks: bytes, config: WebConfig = SMALL) -> list[str]:
        observer = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)
        channel, _, reactor = connect(config)
        for data in chunks:
            channel.dataReceived(data)
        reactor.advance(60)
        return [
            event["log_text"]
            for event in observer
            if str(event.get("log_text", "")).startswith("web access:")
        ]

    def test_oneLinePerRefusal(self) -> None:
        """
        A C{400} for whitespace before a header's colon, a C{413}, a C{414}, a
        C{431} and a C{408} each leave exactly one line with the status,
        and the method and target when they arrived.
        """
        cases = [
            (b"GET /echo HTTP/1.1\r\nHost: x\r\nbaz : 1\r\n\r\n", "GET /echo 400"),
            (postHead(b"/echo", 11), "POST /echo 413"),
            (b"GET /" + b"a" * 9000, "- - 414"),
            (b"GET / HTTP/1.1\r\nX: " + b"a" * 17000 + b"\r\n", "GET / 431"),
            (b"GET /echo HTTP/1.1\r\n", "GET /echo 408"),
        ]
        for data, expected in cases:
            [line] = self.accessLines(data)
            self.assertIn(f" {expected} ", line)

    def test_versionTransportAgent(self) -> None:
        """
        Each line ends with the HTTP version, C{plain} or C{tls}, and the
        C{User-Agent} quoted and escaped (C{-} without one), for a lean
        answer and a rendered request alike.
        """
        lines = self.accessLines(
            b"GET /echo?msg=a HTTP/1.1\r\nHost: x\r\nUser-Agent: curl/8\r\n\r\n"
            b'GET /get HTTP/1.1\r\nHost: x\r\nUser-Agent: a "b"\xc3\xa9\r\n\r\n'
            b"GET /ip HTTP/1.0\r\n\r\n"
        )
        self.assertEqual(
            [line.split(" s, ", 1)[1] for line in lines],
            [
                'HTTP/1.1 plain, "curl/8"',
                'HTTP/1.1 plain, "a \\"b\\"\\u00e9"',
                "HTTP/1.0 plain, -",
            ],
        )

    def test_oneLinePerResponse(self) -> None:
        """
        Pipelined requests leave one line each, in order.
        """
        lines = self.accessLines(
            GET_HEALTHZ + b"GET /echo?msg=a HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        self.assertEqual(
            [line.split()[3:6] for line in lines],
            [["GET", "/healthz", "200"], ["GET", "/echo?msg=a", "200"]],
        )
