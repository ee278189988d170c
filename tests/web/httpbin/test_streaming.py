# -*- test-case-name: tests.web.httpbin.test_streaming -*-
"""
Tests for L{echohub.web.httpbin._streaming}: C{/stream/<n>} and C{/sse} over an
in-memory transport and clock: one item per tick, chunked, bounded, stopping when the
client goes away and holding back while the client does not read.
"""

from __future__ import annotations

import json

from twisted.internet.error import ConnectionDone
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from echohub.config import WebConfig
from echohub.http import HTTP1Channel
from echohub.testing import connect, request


def dechunk(data: bytes) -> tuple[bytes, bytes, bool]:
    """
    Split a chunked response into its head and decoded body.

    @return: the head, the body so far, and whether the last chunk arrived.
    """
    head, _, rest = data.partition(b"\r\n\r\n")
    assert b"Transfer-Encoding: chunked" in head, head
    body = b""
    while rest:
        size, _, rest = rest.partition(b"\r\n")
        length = int(size, 16)
        if length == 0:
            return head, body, True
        body += rest[:length]
        rest = rest[length + 2 :]
    return head, body, False


def start(
    target: bytes, config: WebConfig | None = None, *headers: bytes
) -> tuple[HTTP1Channel, StringTransport, MemoryReactorClock]:
    """
    Open a connection and send one C{GET} for C{target}.
    """
    channel, transport, clock = connect(config)
    lines = [b"GET " + target + b" HTTP/1.1", b"Host: x", *headers]
    channel.dataReceived(b"\r\n".join(lines) + b"\r\n\r\n")
    return channel, transport, clock


class StreamTests(SynchronousTestCase):
    """
    C{/stream/<n>} sends n JSON lines, one per tick.
    """

    def test_oneLinePerTick(self) -> None:
        """
        The first line goes at once, then one per interval, then the
        chunked body ends; each line is JSON with its id.
        """
        _, transport, clock = start(b"/stream/3?interval=1")
        head, body, done = dechunk(transport.value())
        self.assertIn(b"Content-Type: application/json", head)
        self.assertEqual((body.count(b"\n"), done), (1, False))
        clock.advance(1)
        self.assertEqual(dechunk(transport.value())[1].count(b"\n"), 2)
        clock.advance(1)
        clock.advance(0)
        _, body, done = dechunk(transport.value())
        self.assertTrue(done)
        lines = [json.loads(line) for line in body.splitlines()]
        self.assertEqual([line["id"] for line in lines], [0, 1, 2])
        self.assertEqual(lines[0]["url"], "http://x/stream/3?interval=1")
        self.assertEqual(lines[0]["args"], {"interval": "1"})

    def test_clientLeavingStops(self) -> None:
        """
        When the client goes away mid-stream no timer is left and nothing
        more is written.
        """
        channel, transport, clock = start(b"/stream/50?interval=1")
        channel.connectionLost(Failure(ConnectionDone()))
        written = transport.value()
        self.assertEqual([c for c in clock.getDelayedCalls() if c.active()], [])
        clock.advance(10)
        self.assertEqual(transport.value(), written)

    def test_backpressure(self) -> None:
        """
        While the transport is full (the channel is paused) ticks write
        nothing; on resume the one line owed is written, and the stream
        goes on.
        """
        channel, transport, clock = start(b"/stream/5?interval=1")
        channel.pauseProducing()
        written = transport.value()
        clock.advance(1)
        clock.advance(1)
        clock.advance(1)
        self.assertEqual(transport.value(), written)
        channel.resumeProducing()
        self.assertEqual(dechunk(transport.value())[1].count(b"\n"), 2)
        for _ in range(3):
            clock.advance(1)
        _, body, done = dechunk(transport.value())
        self.assertEqual((body.count(b"\n"), done), (5, True))

    def test_bounds(self) -> None:
        """
        A count over C{max_stream_count} or an interval over
        C{max_stream_interval} is a C{400} naming the setting.
        """
        config = WebConfig(max_stream_count=5, max_stream_interval=2)
        for target, setting in [
            (b"/stream/6", b"max_stream_count"),
            (b"/stream/x", b"max_stream_count"),
            (b"/stream/2?interval=3", b"max_stream_interval"),
            (b"/stream/2?interval=-1", b"max_stream_interval"),
        ]:
            response = request(target, config=config)
            self.assertEqual(response.status, 400, target)
            self.assertIn(setting, response.body)

    def test_zero(self) -> None:
        """
        C{/stream/0} is an empty, finished body.
        """
        _, transport, _ = start(b"/stream/0")
        self.assertEqual(dechunk(transport.value())[1:], (b"", True))


class ServerSentEventsTests(SynchronousTestCase):
    """
    C{/sse} sends events an C{EventSource} reads.
    """

    def test_events(self) -> None:
        """
        C{count} events with ids, one per interval, then an C{end} event and
        the end of the body.
        """
        _, transport, clock = start(b"/sse?count=2&interval=0.5")
        head, body, _ = dechunk(transport.value())
        self.assertIn(b"Content-Type: text/event-stream; charset=utf-8", head)
        self.assertIn(b"Cache-Control: no-store", head)
        self.assertTrue(body.startswith(b"id: 0\ndata: {"))
        clock.advance(0.5)
        clock.advance(0)
        _, body, done = dechunk(transport.value())
        self.assertTrue(done)
        events = body.split(b"\n\n")
        self.assertEqual(events[-2:], [b"event: end\ndata: {}", b""])
        self.assertEqual(json.loads(events[1].split(b"data: ")[1])["id"], 1)

    def test_resumeAfterLastEventId(self) -> None:
        """
        A reconnecting C{EventSource} resumes after its C{Last-Event-ID};
        when nothing is left it gets C{204}, which stops it reconnecting.
        """
        _, transport, _ = start(b"/sse?count=3&interval=0", None, b"Last-Event-ID: 1")
        self.assertTrue(dechunk(transport.value())[1].startswith(b"id: 2\n"))
        done = request(b"/sse?count=3", headers=(b"Last-Event-ID: 2",))
        self.assertEqual((done.status, done.body), (204, b""))

    def test_defaultsAndBounds(self) -> None:
        """
        Count must be from 1 to C{max_stream_count}, interval from 0 to
        C{max_stream_interval}.
        """
        config = WebConfig(max_stream_count=5, max_stream_interval=2)
        for target in [
            b"/sse?count=0",
            b"/sse?count=6",
            b"/sse?interval=2.5",
            b"/sse?count=abc",
        ]:
            self.assertEqual(request(target, config=config).status, 400, target)

    def test_clientLeavingStops(self) -> None:
        """
        A client that leaves stops the timer.
        """
        channel, _, clock = start(b"/sse?count=100&interval=1")
        channel.connectionLost(Failure(ConnectionDone()))
        self.assertEqual([c for c in clock.getDelayedCalls() if c.active()], [])

    def test_headNotAllowed(self) -> None:
        """
        C{HEAD} of a stream is a C{405}: a stream has no length to announce.
        """
        response = request(b"/sse", b"HEAD")
        self.assertEqual(response.status, 405)
        self.assertEqual(response.header(b"Allow"), b"GET")
