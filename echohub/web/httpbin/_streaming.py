# -*- test-case-name: tests.web.httpbin.test_streaming -*-
"""
Streaming responses: C{/stream/<n>} (n JSON lines, chunked) and C{/sse}
(Server-Sent Events an C{EventSource} can read).

Both send one item per tick of a reactor timer through L{Ticker}, which is
registered as the request's streaming producer: while the client does not
read and the transport's buffer is full, ticks write nothing and the item
owed is sent when the client catches up, so a slow client costs one item of
memory, not a backlog.  A client that goes away stops the timer at once.
Counts and intervals are bounded by C{[web] max_stream_count} and
C{max_stream_interval}.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from twisted.internet.interfaces import IDelayedCall, IPushProducer, IReactorTime
from twisted.python.failure import Failure
from twisted.web.iweb import IRequest
from twisted.web.server import NOT_DONE_YET, Request
from zope.interface import implementer

from echohub._net import cancelCall
from echohub.web.httpbin._inspection import GET_KEYS, InspectionPolicy, describeRequest
from echohub.web.httpbin._resource import JSON, PlainTextResource, badRequest


@implementer(IPushProducer)
class Ticker:
    """
    Write C{count} items to a request, one per C{interval} seconds, then
    finish it; the first item is written at once.
    """

    def __init__(
        self,
        request: Request,
        clock: IReactorTime,
        item: Callable[[int], bytes],
        first: int,
        count: int,
        interval: float,
        last: bytes = b"",
    ) -> None:
        """
        @param item: makes the bytes of item number C{i}.
        @param first: the number of the first item to send.
        @param count: the number after the last item to send.
        @param last: written after the last item, before finishing.
        """
        self.request = request
        self.clock = clock
        self.item = item
        self.next = first
        self.count = count
        self.interval = interval
        self.last = last
        self._call: IDelayedCall | None = None
        self._paused = False
        self._owed = False
        self._stopped = False

    def start(self) -> None:
        """
        Register as the request's producer and send the first item.
        """
        self.request.registerProducer(self, True)
        self.request.notifyFinish().addErrback(self._gone)
        self._tick()

    def _tick(self) -> None:
        """
        Write the next item, or owe it while paused, and schedule the next.
        """
        self._call = None
        if self._stopped:
            return
        if self._paused:
            self._owed = True
            return
        if self.next >= self.count:
            self._stopped = True
            self.request.unregisterProducer()
            self.request.write(self.last)
            self.request.finish()
            return
        self.request.write(self.item(self.next))
        self.next += 1
        delay = self.interval if self.next < self.count else 0
        self._call = self.clock.callLater(delay, self._tick)

    def pauseProducing(self) -> None:
        """
        The transport's buffer is full: write nothing until resumed.
        """
        self._paused = True

    def resumeProducing(self) -> None:
        """
        The client caught up: send the item owed, if any, now.
        """
        self._paused = False
        if self._owed:
            self._owed = False
            self._tick()

    def stopProducing(self) -> None:
        """
        The connection is gone: stop the timer.
        """
        self._stopped = True
        cancelCall(self._call)
        self._call = None

    def _gone(self, reason: Failure) -> None:
        """
        The request ended before the stream did (the client left).
        """
        self.stopProducing()


def _bounded(
    request: IRequest,
    name: bytes,
    default: float,
    kind: type[int] | type[float],
    low: float,
    high: float,
    setting: str,
) -> float | str:
    """
    The query argument C{name} as a number from C{low} to C{high}.

    @return: the number, or why it is unacceptable (naming C{setting},
        the configured bound).
    """
    values = request.args.get(name)
    try:
        value: float = kind(values[0]) if values else default
    except ValueError:
        value = float("nan")
    if not low <= value <= high:
        what = "a whole number" if kind is int else "a number"
        return (
            f"{name.decode()} must be {what} from {low:g} to {high:g} ([web] {setting})"
        )
    return value


def _jsonLine(value: dict[str, Any]) -> bytes:
    return json.dumps(value, ensure_ascii=True).encode("ascii") + b"\n"


class _TickingResource(PlainTextResource):
    """
    A C{GET}-only leaf that answers with items sent one per tick, bounded
    by C{[web] max_stream_count} and C{max_stream_interval}.
    """

    allowedMethods = (b"GET",)
    isLeaf = True

    def __init__(
        self,
        reactor: IReactorTime,
        maxCount: int,
        maxInterval: float,
        policy: InspectionPolicy | None = None,
    ) -> None:
        super().__init__()
        self.reactor = reactor
        self.maxCount = maxCount
        self.maxInterval = maxInterval
        self.policy = policy or InspectionPolicy()


class StreamResource(_TickingResource):
    """
    C{/stream/<n>?interval=S}: n lines, each a JSON object with its C{id}
    (from 0) and httpbin's C{args}, C{headers}, C{origin} and C{url}, sent
    with chunked encoding, one per S seconds (default 0: one per reactor
    turn).
    """

    def render_GET(self, request: Request) -> bytes | int:
        postpath = request.postpath or []
        segment = postpath[0] if len(postpath) == 1 else b""
        count = int(segment) if segment.isdigit() else -1
        if not 0 <= count <= self.maxCount:
            return badRequest(
                request,
                f"use /stream/N with N from 0 to {self.maxCount}"
                " ([web] max_stream_count)",
            )
        interval = _bounded(
            request, b"interval", 0.0, float, 0, self.maxInterval, "max_stream_interval"
        )
        if isinstance(interval, str):
            return badRequest(request, interval)
        base = describeRequest(request, self.policy, GET_KEYS, extras=False)
        request.setHeader(b"Content-Type", JSON)
        request.setHeader(b"Cache-Control", b"no-store")
        Ticker(
            request,
            self.reactor,
            lambda i: _jsonLine({"id": i, **base}),
            0,
            count,
            interval,
        ).start()
        return NOT_DONE_YET


class ServerSentEventsResource(_TickingResource):
    """
    C{/sse?count=N&interval=S}: N events (default 10), one per S seconds
    (default 1), as C{text/event-stream}.

    Each event has an C{id} and JSON C{data} (C{id}, C{count} and the
    server's clock); after the last comes an C{end} event.  A browser's
    C{EventSource} reconnects when a stream ends, sending the last id it
    saw in C{Last-Event-ID}: the stream resumes after it, and once nothing
    is left the answer is C{204}, which tells C{EventSource} to stop.
    """

    def render_GET(self, request: Request) -> bytes | int:
        count = _bounded(
            request,
            b"count",
            min(10, self.maxCount),
            int,
            1,
            self.maxCount,
            "max_stream_count",
        )
        interval = _bounded(
            request,
            b"interval",
            min(1.0, self.maxInterval),
            float,
            0,
            self.maxInterval,
            "max_stream_interval",
        )
        for problem in (count, interval):
            if isinstance(problem, str):
                return badRequest(request, problem)
        assert isinstance(count, int) and isinstance(interval, float)
        lastSeen = request.getHeader(b"Last-Event-ID")
        first = int(lastSeen) + 1 if lastSeen is not None and lastSeen.isdigit() else 0
        request.setHeader(b"Cache-Control", b"no-store")
        if first >= count:
            request.setResponseCode(204)
            return b""
        request.setHeader(b"Content-Type", b"text/event-stream; charset=utf-8")
        # Proxies such as nginx buffer responses unless told not to.
        request.setHeader(b"X-Accel-Buffering", b"no")

        def event(i: int) -> bytes:
            data = {"id": i, "count": count, "time": self.reactor.seconds()}
            return b"id: %d\ndata: %s\n" % (i, _jsonLine(data))

        Ticker(
            request,
            self.reactor,
            event,
            first,
            count,
            interval,
            last=b"event: end\ndata: {}\n\n",
        ).start()
        return NOT_DONE_YET
