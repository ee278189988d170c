# -*- test-case-name: tests.web.httpbin.test_generators -*-
"""
httpbin's generated responses: C{/drip}, C{/range/N}, C{/stream-bytes/N},
C{/links/N[/OFFSET]} and go-httpbin's C{/jsonl}.

Each is bounded by a setting (C{[web] max_drip_bytes}, C{max_range_bytes},
C{max_links}, C{max_stream_count}, and C{max_delay} for every duration),
answered C{400} beyond it rather than capped, and sent by
L{echohub.web.httpbin._streaming.Ticker}: one piece per reactor timer tick, nothing
written while the client is not reading, the timer stopped when the client
goes away.  Nothing here sleeps.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable
from urllib.parse import parse_qsl

from twisted.internet.interfaces import IReactorTime
from twisted.python.failure import Failure
from twisted.web.iweb import IRequest
from twisted.web.server import NOT_DONE_YET, Request

from echohub.config import WebConfig
from echohub.web.httpbin._inspection import GET_KEYS, InspectionPolicy, describeRequest
from echohub.web.httpbin._resource import PlainTextResource, badRequest, plainText
from echohub.web.httpbin._streaming import Ticker

_CHUNK = 10 * 1024
# Drip pieces per second at most: a byte per tick at a million bytes a
# second would be a million timers.
_DRIP_TICKS_PER_SECOND = 100
_RANGE = re.compile(rb"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*")


def _arguments(request: IRequest) -> dict[str, str]:
    """
    The query arguments, the first value of each, names in lower case.
    """
    query = request.uri.partition(b"?")[2].decode("utf-8", "replace")
    pairs = parse_qsl(query, keep_blank_values=True)
    return {k.lower(): v for k, v in reversed(pairs)}


def _number(
    arguments: dict[str, str],
    name: str,
    default: float,
    low: float,
    high: float,
    setting: str,
    kind: type[int] | type[float] = float,
) -> float:
    """
    The argument C{name} as a number from C{low} to C{high}.

    @raise ValueError: naming the argument, the range and the C{setting}.
    """
    try:
        value: float = kind(arguments[name]) if name in arguments else default
    except ValueError:
        value = float("nan")
    if not low <= value <= high:
        raise ValueError(f"{name} must be from {low:g} to {high:g} ({setting})")
    return value


def _count(request: IRequest) -> int | None:
    """
    The N of C{/route/N}, or L{None} if the path is not that.
    """
    postpath = request.postpath
    if not postpath or not postpath[0].isdigit():
        return None
    return int(postpath[0])


def _pieces(
    data: Callable[[int, int], bytes], total: int, count: int
) -> Callable[[int], bytes]:
    """
    Split C{total} bytes into C{count} near-equal pieces, piece C{i} being
    C{data(start, end)}.
    """

    def piece(i: int) -> bytes:
        return data(total * i // count, total * (i + 1) // count)

    return piece


def _start(
    request: Request, clock: IReactorTime, ticker: Ticker, delay: float = 0
) -> int:
    """
    Start C{ticker} after C{delay} seconds, unless the client left first.
    """
    if delay <= 0:
        ticker.start()
        return NOT_DONE_YET
    timer = clock.callLater(delay, ticker.start)

    def gone(reason: Failure) -> None:
        if timer.active():
            timer.cancel()

    request.notifyFinish().addErrback(gone)
    return NOT_DONE_YET


class _Generator(PlainTextResource):
    """
    A C{GET}-only leaf sending generated data, with the bounds it needs.
    """

    allowedMethods = (b"GET",)
    isLeaf = True

    def __init__(
        self, clock: IReactorTime, config: WebConfig, policy: InspectionPolicy
    ) -> None:
        super().__init__()
        self.clock = clock
        self.config = config
        self.policy = policy

    def render_GET(self, request: Request) -> bytes | int:
        try:
            return self.generate(request, _arguments(request))
        except ValueError as e:
            return badRequest(request, str(e))

    def generate(self, request: Request, arguments: dict[str, str]) -> bytes | int:
        raise NotImplementedError()


class Drip(_Generator):
    """
    C{/drip?numbytes=N&duration=S&delay=D&code=C}: N bytes of C{*} spread
    over S seconds (default 10 over 2 s), after D seconds, with status C.
    """

    def generate(self, request: Request, arguments: dict[str, str]) -> bytes | int:
        config = self.config
        total = int(
            _number(
                arguments,
                "numbytes",
                10,
                1,
                config.max_drip_bytes,
                "[web] max_drip_bytes",
                int,
            )
        )
        duration = _number(
            arguments, "duration", 2, 0, config.max_delay, "[web] max_delay"
        )
        delay = _number(arguments, "delay", 0, 0, config.max_delay, "[web] max_delay")
        code = int(_number(arguments, "code", 200, 200, 599, "an HTTP status", int))
        if duration + delay > config.max_delay:
            raise ValueError(
                f"duration and delay add up to more than {config.max_delay:g} s"
                " ([web] max_delay)"
            )
        count = max(1, min(total, int(duration * _DRIP_TICKS_PER_SECOND)))
        request.setResponseCode(code)
        request.setHeader(b"Content-Type", b"application/octet-stream")
        request.setHeader(b"Content-Length", b"%d" % (total,))
        request.setHeader(b"Cache-Control", b"no-store")
        piece = _pieces(lambda a, b: b"*" * (b - a), total, count)
        ticker = Ticker(request, self.clock, piece, 0, count, duration / count)
        return _start(request, self.clock, ticker, delay)


def requestedRange(header: bytes | None, size: int) -> tuple[int, int] | None:
    """
    The first and last byte positions a C{Range} header asks of C{size}
    bytes (all of them without one), or L{None} when unsatisfiable.
    A multi-range request is answered with its first range.
    """
    if header is None:
        return 0, size - 1
    match = _RANGE.match(header.split(b",", 1)[0])
    if match is None:
        return 0, size - 1
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:
        start, end = max(0, size - int(last)), size - 1
    else:
        start, end = int(first), min(int(last), size - 1) if last else size - 1
    if start > end or start >= size:
        return None
    return start, end


class RangeResource(_Generator):
    """
    C{/range/N?duration=S&chunk_size=C}: N bytes of C{abc...z} repeated,
    honouring C{Range} (C{206}, C{416}), with C{ETag: range<N>} and
    C{Accept-Ranges: bytes}, spread over S seconds.
    """

    def generate(self, request: Request, arguments: dict[str, str]) -> bytes | int:
        size = _count(request)
        limit = self.config.max_range_bytes
        request.setHeader(b"ETag", b"range%d" % (size or 0,))
        request.setHeader(b"Accept-Ranges", b"bytes")
        if size is None or not 0 < size <= limit:
            return plainText(
                request,
                404,
                f"the number of bytes must be from 1 to {limit}"
                " ([web] max_range_bytes)\n".encode(),
            )
        duration = _number(
            arguments, "duration", 0, 0, self.config.max_delay, "[web] max_delay"
        )
        chunk = int(
            _number(
                arguments, "chunk_size", _CHUNK, 1, limit, "[web] max_range_bytes", int
            )
        )
        wanted = requestedRange(request.getHeader(b"Range"), size)
        if wanted is None:
            request.setHeader(b"Content-Range", b"bytes */%d" % (size,))
            return plainText(request, 416, b"")
        first, last = wanted
        length = last + 1 - first
        if length < size:
            request.setResponseCode(206)
        request.setHeader(b"Content-Type", b"application/octet-stream")
        request.setHeader(b"Content-Length", b"%d" % (length,))
        request.setHeader(b"Content-Range", b"bytes %d-%d/%d" % (first, last, size))

        def letters(a: int, b: int) -> bytes:
            return bytes(97 + i % 26 for i in range(first + a, first + b))

        count = -(-length // chunk)
        ticker = Ticker(
            request,
            self.clock,
            _pieces(letters, length, count),
            0,
            count,
            duration / count,
        )
        return _start(request, self.clock, ticker)


class StreamBytes(_Generator):
    """
    C{/stream-bytes/N?seed=S&chunk_size=C}: N random bytes, chunked, in
    pieces of C bytes (default 10 KiB); the same seed gives the same bytes.
    """

    def generate(self, request: Request, arguments: dict[str, str]) -> bytes | int:
        size = _count(request)
        limit = self.config.max_range_bytes
        if size is None or size > limit:
            raise ValueError(
                f"use /stream-bytes/N with N from 0 to {limit} ([web] max_range_bytes)"
            )
        chunk = int(
            _number(
                arguments, "chunk_size", _CHUNK, 1, limit, "[web] max_range_bytes", int
            )
        )
        seed = arguments.get("seed")
        rng = random.Random(int(seed)) if seed is not None else random.Random()
        request.setHeader(b"Content-Type", b"application/octet-stream")
        request.setHeader(b"Cache-Control", b"no-store")
        count = -(-size // chunk)
        piece = _pieces(lambda a, b: rng.randbytes(b - a), size, count)
        return _start(
            request, self.clock, Ticker(request, self.clock, piece, 0, count, 0)
        )


class JSONLines(_Generator):
    """
    C{/jsonl?count=N&duration=S&delay=D}: go-httpbin's N (default 10) JSON
    lines, each C{/get}'s description with an C{id}, spread over S seconds.
    """

    def generate(self, request: Request, arguments: dict[str, str]) -> bytes | int:
        config = self.config
        count = int(
            _number(
                arguments,
                "count",
                10,
                1,
                config.max_stream_count,
                "[web] max_stream_count",
                int,
            )
        )
        duration = _number(
            arguments, "duration", 0, 0, config.max_delay, "[web] max_delay"
        )
        delay = _number(arguments, "delay", 0, 0, config.max_delay, "[web] max_delay")
        facts = describeRequest(request, self.policy, GET_KEYS, extras=False)
        request.setHeader(b"Content-Type", b"application/x-ndjson; charset=utf-8")
        request.setHeader(b"Cache-Control", b"no-store")

        def line(i: int) -> bytes:
            return json.dumps({"id": i, **facts}).encode("ascii") + b"\n"

        ticker = Ticker(request, self.clock, line, 0, count, duration / count)
        return _start(request, self.clock, ticker, delay)


class Links(_Generator):
    """
    C{/links/N/OFFSET}: an HTML page of N links to its siblings, OFFSET's
    own number unlinked; C{/links/N} redirects to C{/links/N/0}.  The page
    holds only numbers this server wrote.
    """

    def generate(self, request: Request, arguments: dict[str, str]) -> bytes | int:
        postpath = request.postpath or []
        limit = self.config.max_links
        numbers = [int(p) for p in postpath if p.isdigit()]
        if (
            len(numbers) != len(postpath)
            or len(numbers) not in (1, 2)
            or not 1 <= numbers[0] <= limit
        ):
            raise ValueError(
                f"use /links/N[/OFFSET] with N from 1 to {limit} ([web] max_links)"
            )
        prefix = self.policy.prefix
        n = numbers[0]
        if len(numbers) == 1:
            request.setHeader(b"Location", f"{prefix}/links/{n}/0".encode())
            return plainText(request, 302, b"")
        offset = numbers[1]
        links = " ".join(
            f"{i}" if i == offset else f"<a href='{prefix}/links/{n}/{i}'>{i}</a>"
            for i in range(n)
        )
        request.setHeader(b"Content-Type", b"text/html; charset=utf-8")
        page = f"<html><head><title>Links</title></head><body>{links} </body></html>"
        return page.encode()
