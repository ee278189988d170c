# -*- test-case-name: tests.web.httpbin.test_generators -*-
"""
Tests for L{echohub.web.httpbin._generators}: C{/drip}, C{/range}, C{/stream-bytes},
C{/jsonl} and C{/links} over an in-memory transport and clock: bounded, one
piece per tick, stopping when the client goes away.
"""

from __future__ import annotations

import json

from twisted.internet.error import ConnectionDone
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from echohub.config import WebConfig
from echohub.testing import parseResponses, request
from echohub.web.httpbin._generators import requestedRange
from tests.web.httpbin.test_streaming import dechunk, start


class DripTests(SynchronousTestCase):
    """
    C{/drip} spreads its bytes over the duration.
    """

    def test_spread(self) -> None:
        """
        The first piece goes at once, the rest by ticks; the length is
        announced and the status is the one asked for.
        """
        _, transport, clock = start(b"/drip?numbytes=4&duration=2&code=203")
        head = transport.value()
        self.assertIn(b"HTTP/1.1 203 ", head)
        self.assertIn(b"Content-Length: 4", head)
        self.assertEqual(head.partition(b"\r\n\r\n")[2], b"*")
        for _ in range(4):
            clock.advance(0.5)
        [response] = parseResponses(transport.value())
        self.assertEqual(response.body, b"****")

    def test_delayThenGone(self) -> None:
        """
        With C{delay} nothing is sent before it; a client that leaves first
        leaves no timer behind.
        """
        channel, transport, clock = start(b"/drip?numbytes=2&duration=1&delay=1")
        self.assertEqual(transport.value(), b"")
        channel.connectionLost(Failure(ConnectionDone()))
        self.assertEqual([c for c in clock.getDelayedCalls() if c.active()], [])

    def test_bounded(self) -> None:
        """
        More bytes than C{[web] max_drip_bytes}, or a duration past
        C{max_delay}, get C{400} naming the setting.
        """
        config = WebConfig(max_drip_bytes=10, max_delay=1)
        for target, setting in [
            (b"/drip?numbytes=11", b"max_drip_bytes"),
            (b"/drip?duration=2", b"max_delay"),
            (b"/drip?duration=0.6&delay=0.6", b"max_delay"),
        ]:
            response = request(target, config=config)
            self.assertEqual(response.status, 400, target)
            self.assertIn(setting, response.body)


class RangeTests(SynchronousTestCase):
    """
    C{/range/N} honours C{Range}.
    """

    def test_whole(self) -> None:
        """
        Without C{Range}: all N letters, C{200}, with httpbin's headers.
        """
        _, transport, clock = start(b"/range/30")
        clock.advance(0)
        [response] = parseResponses(transport.value())
        self.assertEqual(response.status, 200)
        self.assertEqual(response.body, b"abcdefghijklmnopqrstuvwxyzabcd")
        self.assertEqual(response.header(b"ETag"), b"range30")
        self.assertEqual(response.header(b"Accept-Ranges"), b"bytes")

    def test_partial(self) -> None:
        """
        A satisfiable range is C{206} with C{Content-Range}; an
        unsatisfiable one C{416}.
        """
        _, transport, clock = start(
            b"/range/30?chunk_size=2", None, b"Range: bytes=26-"
        )
        for _ in range(3):
            clock.advance(0)
        [response] = parseResponses(transport.value())
        self.assertEqual((response.status, response.body), (206, b"abcd"))
        self.assertEqual(response.header(b"Content-Range"), b"bytes 26-29/30")
        refused = request(b"/range/30", headers=(b"Range: bytes=40-50",))
        self.assertEqual(refused.status, 416)
        self.assertEqual(refused.header(b"Content-Range"), b"bytes */30")

    def test_requestedRange(self) -> None:
        """
        Suffix, open and multi ranges, as RFC 9110 section 14.1.2 reads them.
        """
        self.assertEqual(requestedRange(b"bytes=-5", 10), (5, 9))
        self.assertEqual(requestedRange(b"bytes=2-", 10), (2, 9))
        self.assertEqual(requestedRange(b"bytes=2-100", 10), (2, 9))
        self.assertEqual(requestedRange(b"bytes=0-0,5-6", 10), (0, 0))
        self.assertIsNone(requestedRange(b"bytes=5-2", 10))

    def test_bounded(self) -> None:
        """
        N beyond C{[web] max_range_bytes} is httpbin's C{404}.
        """
        response = request(b"/range/11", config=WebConfig(max_range_bytes=10))
        self.assertEqual(response.status, 404)
        self.assertIn(b"max_range_bytes", response.body)


class StreamBytesTests(SynchronousTestCase):
    """
    C{/stream-bytes/N} sends N bytes, chunked.
    """

    def test_seeded(self) -> None:
        """
        The same seed gives the same N bytes, in pieces of C{chunk_size}.
        """
        bodies = []
        for _ in range(2):
            _, transport, clock = start(b"/stream-bytes/25?seed=3&chunk_size=10")
            for _ in range(4):
                clock.advance(0)
            _, body, done = dechunk(transport.value())
            self.assertTrue(done)
            bodies.append(body)
        self.assertEqual(len(bodies[0]), 25)
        self.assertEqual(bodies[0], bodies[1])
        self.assertEqual(
            request(b"/stream-bytes/11", config=WebConfig(max_range_bytes=10)).status,
            400,
        )


class JSONLinesTests(SynchronousTestCase):
    """
    go-httpbin's C{/jsonl}.
    """

    def test_lines(self) -> None:
        """
        N lines of C{/get}'s JSON with an C{id}, as C{application/x-ndjson}.
        """
        _, transport, clock = start(b"/jsonl?count=3")
        for _ in range(3):
            clock.advance(0)
        head, body, done = dechunk(transport.value())
        self.assertTrue(done)
        self.assertIn(b"application/x-ndjson", head)
        lines = [json.loads(line) for line in body.splitlines()]
        self.assertEqual([line["id"] for line in lines], [0, 1, 2])
        self.assertEqual(lines[0]["args"], {"count": "3"})


class LinksTests(SynchronousTestCase):
    """
    C{/links/N[/OFFSET]}.
    """

    def test_links(self) -> None:
        """
        C{/links/N} redirects to offset 0; the page links every other
        offset and not its own.
        """
        self.assertEqual(request(b"/links/3").header(b"Location"), b"/links/3/0")
        body = request(b"/links/3/1").body
        self.assertIn(b"<a href='/links/3/0'>0</a> 1 <a href='/links/3/2'>2</a>", body)
        self.assertEqual(
            request(b"/links/9", config=WebConfig(max_links=8)).status, 400
        )
