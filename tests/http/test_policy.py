"""
Tests for L{echohub.http._policy}: what the wire answers the same way for
every HTTP version.
"""

from __future__ import annotations

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.http_headers import Headers
from twisted.web.test.requesthelper import DummyRequest

from echohub.config import WebConfig
from echohub.http import PLAIN_TEXT, HTTPLimits, plainText
from echohub.http._policy import (
    BODY_TIMEOUT,
    BODY_TOO_LARGE,
    HEADERS_TIMEOUT,
    HEADERS_TOO_LARGE,
    MALFORMED,
    URI_TOO_LONG,
    VERSION_NOT_SUPPORTED,
    BodyClock,
    Deadline,
    IdleTimer,
    bodilessHeaders,
)


class PlainTextTests(SynchronousTestCase):
    """
    L{plainText} makes a response plain text with a status.
    """

    def test_plainText(self) -> None:
        """
        The status and C{Content-Type} are set; the body is handed back.
        """
        request = DummyRequest([b""])
        self.assertEqual(plainText(request, 418, b"teapot\n"), b"teapot\n")
        self.assertEqual(request.responseCode, 418)
        self.assertEqual(
            request.responseHeaders.getRawHeaders(b"Content-Type"), [PLAIN_TEXT]
        )


class HeadRefusalTests(SynchronousTestCase):
    """
    L{HTTPLimits.headRefusal} applies the head limits, the same for both
    versions.
    """

    def test_limits(self) -> None:
        """
        The target first (C{414}), then the header section (C{431}); at the
        limits, none.
        """
        limits = HTTPLimits(maxRequestLine=10, maxHeaderBytes=100, maxHeaders=3)
        self.assertIsNone(limits.headRefusal(10, 100, 3))
        self.assertIs(limits.headRefusal(11, 500, 9), URI_TOO_LONG)
        self.assertIs(limits.headRefusal(10, 101, 1), HEADERS_TOO_LARGE)
        self.assertIs(limits.headRefusal(10, 1, 4), HEADERS_TOO_LARGE)

    def test_fromConfig(self) -> None:
        """
        Every limit from its setting; a timeout of 0 is none.
        """
        limits = HTTPLimits.fromConfig(
            WebConfig(header_timeout=0, idle_timeout=5, max_body=7)
        )
        self.assertEqual(
            (limits.headerTimeout, limits.idleTimeout, limits.maxBody), (None, 5, 7)
        )


class RefusalTests(SynchronousTestCase):
    """
    Each refusal's answer names its setting.
    """

    def test_answers(self) -> None:
        """
        The bodies carry the limits and the refusal's own parameters.
        """
        limits = HTTPLimits(maxBody=5, maxRequestLine=9)
        self.assertEqual(
            BODY_TOO_LARGE.answer(limits),
            b"413 Content Too Large: request bodies are limited to 5 bytes"
            b" (max_body)\n",
        )
        self.assertIn(b"9 bytes (max_request_line)", URI_TOO_LONG.answer(limits))
        self.assertEqual(
            MALFORMED.answer(limits, why="x"),
            b"400 Bad Request: malformed HTTP request (x)\n",
        )
        self.assertEqual(
            VERSION_NOT_SUPPORTED.statusLine, b"505 HTTP Version Not Supported"
        )

    def test_everyLogLineFormats(self) -> None:
        """
        Every counted refusal's log line formats with the parameters the
        wire gives it.
        """
        limits = HTTPLimits()
        for refusal in (
            MALFORMED,
            URI_TOO_LONG,
            HEADERS_TOO_LARGE,
            BODY_TOO_LARGE,
            HEADERS_TIMEOUT,
            BODY_TIMEOUT,
            VERSION_NOT_SUPPORTED,
        ):
            with self.subTest(status=refusal.status):
                self.assertTrue(refusal.reason)
                line = refusal.log.format(
                    service="web",
                    peer="p",
                    version="HTTP/2",
                    why="w",
                    received=1,
                    **limits.parameters(),
                )
                self.assertIn("web: p", line)


class BodyClockTests(SynchronousTestCase):
    """
    The body rule: no more than C{bodyTimeout} without a byte, and the
    average rate after the first C{bodyTimeout}.
    """

    def test_stall(self) -> None:
        """
        However much arrived, C{bodyTimeout} without a byte is late.
        """
        clock = BodyClock(HTTPLimits(bodyTimeout=20, bodyMinRate=1000), 0)
        clock.progressed(1024 * 1024, 1)
        self.assertEqual(clock.due(), 21)
        self.assertFalse(clock.expired(20.9))
        self.assertTrue(clock.expired(21))

    def test_trickle(self) -> None:
        """
        A byte a second never stalls but falls behind the rate.
        """
        clock = BodyClock(HTTPLimits(bodyTimeout=20, bodyMinRate=1000), 0)
        for second in range(1, 21):
            clock.progressed(1, second)
        self.assertEqual(clock.due(), 20 + 20 / 1000)

    def test_noDeadline(self) -> None:
        """
        Without C{bodyTimeout}, never late.
        """
        clock = BodyClock(HTTPLimits(bodyTimeout=None), 0)
        self.assertIsNone(clock.due())
        self.assertFalse(clock.expired(10**9))


class DeadlineTests(SynchronousTestCase):
    """
    L{Deadline} keeps one timer for whichever deadline applies.
    """

    def test_rearmKeepsTheTimer(self) -> None:
        """
        A new deadline re-arms the same call; a cleared one does nothing
        when it fires; a stopped one leaves no call.
        """
        clock = Clock()
        fired: list[str] = []
        deadline = Deadline(clock)
        deadline.arm(5, lambda: fired.append("a"))
        [call] = clock.getDelayedCalls()
        deadline.arm(7, lambda: fired.append("b"))
        self.assertEqual(clock.getDelayedCalls(), [call])
        clock.advance(7)
        self.assertEqual(fired, ["b"])
        deadline.arm(1, lambda: fired.append("c"))
        deadline.clear()
        clock.advance(1)
        self.assertEqual(fired, ["b"])
        deadline.arm(1, lambda: fired.append("d"))
        deadline.stop()
        self.assertEqual(clock.getDelayedCalls(), [])


class IdleTimerTests(SynchronousTestCase):
    """
    The idle rule: nothing moving for the timeout, and no request in the
    application's hands.
    """

    def test_activityDefers(self) -> None:
        """
        Activity moves the end; without it, the timer expires.
        """
        clock = Clock()
        expired: list[bool] = []
        IdleTimer(clock, 10, lambda: False, lambda: expired.append(True))
        timer = IdleTimer(clock, 10, lambda: False, lambda: expired.append(False))
        clock.advance(6)
        timer.touch()
        clock.advance(4)
        self.assertEqual(expired, [True])
        clock.advance(6)
        self.assertEqual(expired, [True, False])

    def test_busyIsNotIdle(self) -> None:
        """
        While busy (a request in the application's hands) the connection
        is not idle however long it is quiet; once the request is answered
        (activity) and nothing else moves, the timeout runs.
        """
        clock = Clock()
        busy = [True]
        expired: list[bool] = []
        timer = IdleTimer(clock, 10, lambda: busy[0], lambda: expired.append(True))
        clock.advance(100)
        self.assertEqual(expired, [])
        busy[0] = False
        timer.touch()
        clock.advance(9.9)
        self.assertEqual(expired, [])
        clock.advance(0.1)
        self.assertEqual(expired, [True])

    def test_none(self) -> None:
        """
        Without a timeout, no timer.
        """
        clock = Clock()
        IdleTimer(clock, None, lambda: False, lambda: None)
        self.assertEqual(clock.getDelayedCalls(), [])


class BodilessHeadersTests(SynchronousTestCase):
    """
    L{bodilessHeaders} by RFC 9110 sections 8.6 and 15.4.5.
    """

    def headers(self) -> Headers:
        return Headers(
            {
                b"Content-Length": [b"0"],
                b"Content-Type": [b"text/plain"],
                b"ETag": [b'"x"'],
                b"Cache-Control": [b"public"],
                b"Last-Modified": [b"Mon, 01 Jan 2024 00:00:00 GMT"],
            }
        )

    def test_304(self) -> None:
        """
        A C{304} keeps its validators and caching fields, and loses the
        content metadata.
        """
        headers = self.headers()
        bodilessHeaders(304, headers)
        self.assertEqual(
            sorted(name.lower() for name, _ in headers.getAllRawHeaders()),
            [b"cache-control", b"etag", b"last-modified"],
        )

    def test_204And1xx(self) -> None:
        """
        A C{204} or C{1xx} loses C{Content-Length} only; a C{200} nothing.
        """
        for code, removed in [(204, True), (101, True), (200, False)]:
            headers = self.headers()
            bodilessHeaders(code, headers)
            self.assertEqual(headers.hasHeader(b"content-length"), not removed)
            self.assertTrue(headers.hasHeader(b"content-type"))
