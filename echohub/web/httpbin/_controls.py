# -*- test-case-name: tests.web.httpbin.test_controls -*-
"""
Response controls: a client chooses the status (C{/status/<codes>}), the
latency (C{/delay/<seconds>}), a body of random bytes (C{/bytes/<n>}) or
response headers (C{/response-headers?K=V}), as httpbin's routes of the
same names do.

Each is bounded by a setting or by HTTP itself, and a request beyond the
bound gets a plain-text C{400} that names the bound, rather than being
clamped silently: a test that asked for an 11 s delay and got 10 s would
pass for the wrong reason.
"""

from __future__ import annotations

import json
import os
import random
import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl

from twisted.internet.interfaces import IReactorTime
from twisted.python.failure import Failure
from twisted.web.http import NO_BODY_CODES
from twisted.web.iweb import IRequest
from twisted.web.server import NOT_DONE_YET, Request

from echohub._net import cancelCall
from echohub.web.httpbin._inspection import InspectionPolicy, describeOrRefuse
from echohub.web.httpbin._resource import (
    PlainTextResource,
    badRequest,
    isActiveType,
    jsonBody,
    plainText,
)
from echohub.web.httpbin._streaming import Ticker

_ANY_METHOD: Sequence[bytes] = (
    b"GET",
    b"HEAD",
    b"POST",
    b"PUT",
    b"PATCH",
    b"DELETE",
    b"TRACE",
)
_MAX_STATUS_CHOICES = 32
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_BAD_VALUE = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")

# Headers a client may not set through /response-headers: they frame the
# message or the connection, or they are the protections and permissions
# this origin grants (CORS, CSP, nosniff, cookies, HSTS).
_RESERVED_HEADERS = frozenset(
    {
        b"connection",
        b"content-length",
        b"content-encoding",
        b"date",
        b"keep-alive",
        b"proxy-connection",
        b"server",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"content-security-policy",
        b"x-content-type-options",
        b"strict-transport-security",
        b"refresh",
    }
)

NO_CONTENT = frozenset(NO_BODY_CODES) | {205}
"""
Codes whose responses carry no content: twisted.web's list, and C{205}
(RFC 9110 section 15.3.6), for which it would send a body.
"""


def _segment(request: IRequest) -> bytes | None:
    """
    The one path segment after a control's name (C{/delay/<this>}), or
    L{None} if there is not exactly one.
    """
    if len(request.postpath) != 1:
        return None
    segment: bytes = request.postpath[0]
    return segment


def parseStatusChoices(spec: bytes) -> list[tuple[int, float]] | str:
    """
    Parse C{/status/} path text: one code (C{418}), or codes with weights
    (C{200:0.8,500:0.2}), or several codes chosen evenly (C{200,500}).

    Final codes from 200 to 599 only: a 1xx is not a final response.

    @return: (code, weight) pairs, or the reason the text is unacceptable.
    """
    parts = spec.split(b",")
    if len(parts) > _MAX_STATUS_CHOICES:
        return f"at most {_MAX_STATUS_CHOICES} status codes"
    choices = []
    for part in parts:
        code, _, weight = part.partition(b":")
        try:
            number = int(code)
            share = float(weight) if weight else 1.0
        except ValueError:
            return f"{part!r} is not CODE or CODE:WEIGHT"
        if not 200 <= number <= 599:
            return f"status {number} is not a final status from 200 to 599"
        if not 0 <= share < float("inf"):
            return f"weight {share} is not a finite number of at least 0"
        choices.append((number, share))
    if sum(w for _, w in choices) <= 0:
        return "the weights add up to 0"
    return choices


_REDIRECT_CODES = frozenset({301, 302, 303, 305, 307, 308})
_FAKE_REALM = b'Basic realm="Fake Realm"'
_TEAPOT = b"""
       I'm a teapot
       (RFC 2324, 2.3.2)
          _______
     ____/ _____ \\____
    (   |  o o  |  __ )
     `--|_______|-'  /
         \\_____/ --'
"""
# The media types /image can serve, as httpbin lists them in a 406.
ACCEPTED_MEDIA_TYPES = (
    "image/webp",
    "image/svg+xml",
    "image/jpeg",
    "image/png",
    "image/*",
)


def statusResponse(request: IRequest, code: int, prefix: str = "") -> bytes:
    """
    Answer C{request} with status C{code} the way httpbin's C{/status}
    does: a redirect to C{/redirect/1}, the challenge of a C{401} or
    C{407}, a teapot for C{418}, the supported types for a C{406}, and an
    empty body otherwise.

    @param prefix: the site's URL prefix, for the redirect's C{Location}.
    @return: the body, for a renderer to return.
    """
    request.setHeader(b"Cache-Control", b"no-store")
    body = b""
    if code in _REDIRECT_CODES:
        request.setHeader(b"Location", prefix.encode() + b"/redirect/1")
    elif code == 401:
        request.setHeader(b"WWW-Authenticate", _FAKE_REALM)
    elif code == 407:
        request.setHeader(b"Proxy-Authenticate", _FAKE_REALM)
    elif code == 402:
        body = b"Payment required: this one is on the house.\n"
    elif code == 418:
        request.setHeader(b"X-More-Info", b"https://www.rfc-editor.org/rfc/rfc2324")
        body = _TEAPOT
    elif code == 406:
        message = "Client did not request a supported media type."
        document = {"message": message, "accept": list(ACCEPTED_MEDIA_TYPES)}
        request.setResponseCode(code)
        request.setHeader(b"Content-Type", b"application/json")
        return json.dumps(document).encode("ascii") + b"\n"
    return plainText(request, code, b"" if code in NO_CONTENT else body)


class StatusResource(PlainTextResource):
    """
    C{/status/<codes>}: any method, answered with the chosen status and the
    headers httpbin gives it (L{statusResponse}).

    @ivar random: where weighted choices come from; replaceable in tests.
    @ivar prefix: the site's URL prefix, for redirects.
    """

    anyMethod = True
    isLeaf = True

    def __init__(self, rng: random.Random | None = None, prefix: str = "") -> None:
        super().__init__()
        self.random = rng or random.Random()
        self.prefix = prefix

    def respond(self, request: IRequest, method: bytes) -> bytes:
        segment = _segment(request)
        if segment is None:
            return badRequest(request, "use /status/CODE or /status/200:0.8,500:0.2")
        choices = parseStatusChoices(segment)
        if isinstance(choices, str):
            return badRequest(request, choices)
        [code] = self.random.choices(
            [c for c, _ in choices], weights=[w for _, w in choices]
        )
        return statusResponse(request, code, self.prefix)


_DURATION = re.compile(rb"(\d+(?:\.\d*)?|\.\d+)(ms|s|m)?")
_UNITS = {None: 1.0, b"s": 1.0, b"ms": 0.001, b"m": 60.0}


def parseDuration(text: bytes) -> float | None:
    """
    A duration as httpbin (C{1.5}: seconds) or go-httpbin (C{1.5s},
    C{500ms}, C{1m}) writes it, in seconds; L{None} if it is neither.
    """
    match = _DURATION.fullmatch(text)
    if match is None:
        return None
    return float(match.group(1)) * _UNITS[match.group(2)]


class DelayResource(PlainTextResource):
    """
    C{/delay/<duration>}: httpbin's description of the request (C{args},
    C{data}, C{files}, C{form}, C{headers}, C{origin}, C{url}, and
    echohub's own keys as in C{/anything}), sent after a
    delay written as seconds (C{1.5}) or as go-httpbin does (C{1.5s},
    C{500ms}).

    The delay is a reactor timer, so every other client is served meanwhile,
    and the timer is cancelled when the client goes away first.  Beyond
    C{[web] max_delay} the answer is a C{400} (httpbin would cap it
    silently; a test would then pass for the wrong reason).
    """

    allowedMethods = _ANY_METHOD
    isLeaf = True
    keys = ("args", "data", "files", "form", "headers", "origin", "url")

    def __init__(
        self, reactor: IReactorTime, maxDelay: float, policy: InspectionPolicy
    ) -> None:
        super().__init__()
        self.reactor = reactor
        self.maxDelay = maxDelay
        self.policy = policy

    def _render(self, request: Request) -> bytes | int:
        seconds = parseDuration(_segment(request) or b"")
        if seconds is None or not 0 <= seconds <= self.maxDelay:
            return badRequest(
                request,
                f"the delay must be a duration from 0 to {self.maxDelay:g} seconds"
                " (as 1.5 or 1.5s or 500ms; [web] max_delay)",
            )
        facts = describeOrRefuse(request, self.policy, self.keys, extras=True)
        if isinstance(facts, bytes):
            return facts

        def answer() -> None:
            body = jsonBody(request, facts)
            request.setHeader(b"Content-Length", b"%d" % (len(body),))
            request.setHeader(
                b"Server-Timing",
                b'initial_delay;dur=%d;desc="initial delay"' % (seconds * 1000,),
            )
            request.write(body)
            request.finish()

        timer = self.reactor.callLater(seconds, answer)

        def gone(reason: Failure) -> None:
            cancelCall(timer)

        request.notifyFinish().addErrback(gone)
        return NOT_DONE_YET

    def render(self, request: IRequest) -> bytes | int:
        """
        Every listed method, C{HEAD} included, is answered later by the
        timer, so C{HEAD} cannot be made from C{GET} here.
        """
        if request.method in self.allowedMethods:
            return self._render(request)  # type: ignore[arg-type]
        return self.respond(request, request.method)


PIECE = 16384
"""
The bytes of generated data written at a time: one HTTP/2 frame's worth, so
that a client that never opens its flow-control window holds the server to
its stream buffer and one piece.
"""


class BytesResource(PlainTextResource):
    """
    C{/bytes/<n>}: n random bytes as C{application/octet-stream}, at most
    C{[web] max_body}.  With C{?seed=N} the bytes are the same for the same
    seed, for tests that want reproducible data.

    Bodies over one L{PIECE} are written a piece at a time through a
    producer (L{Ticker}), paused while the client does not read or its
    window is shut: a client asking many streams for the largest body
    costs the server its stream buffers, not the bodies.
    """

    isLeaf = True

    def __init__(self, clock: IReactorTime, maxBytes: int) -> None:
        super().__init__()
        self.clock = clock
        self.maxBytes = maxBytes

    def render_GET(self, request: IRequest) -> bytes | int:
        segment = _segment(request)
        count = int(segment) if segment is not None and segment.isdigit() else -1
        if not 0 <= count <= self.maxBytes:
            return badRequest(
                request,
                f"the size must be a whole number of bytes from 0 to {self.maxBytes}"
                " ([web] max_body)",
            )
        seeds = request.args.get(b"seed")
        generate = os.urandom
        if seeds:
            try:
                seed = int(seeds[0])
            except ValueError:
                return badRequest(request, "seed must be an integer")
            # Pieces of a multiple of four bytes, in order, give the bytes
            # one randbytes(count) call would.
            generate = random.Random(seed).randbytes
        request.setHeader(b"Content-Type", b"application/octet-stream")
        request.setHeader(b"Cache-Control", b"no-store")
        if count <= PIECE:
            return generate(count)
        request.setHeader(b"Content-Length", b"%d" % (count,))

        def piece(i: int) -> bytes:
            return generate(min(PIECE, count - i * PIECE))

        assert isinstance(request, Request)
        Ticker(request, self.clock, piece, 0, -(-count // PIECE), 0).start()
        return NOT_DONE_YET


class ResponseHeadersResource(PlainTextResource):
    """
    C{/response-headers?K=V&K2=V2}: a response carrying those headers
    (repeated names give repeated headers), with a JSON body listing every
    response header as httpbin does: C{Content-Type}, C{Content-Length} and
    the ones asked for, a repeated one as a list.

    Names must be HTTP tokens and values may not hold control characters, so
    no header can be injected; headers that frame the message or carry this
    origin's protections (L{_RESERVED_HEADERS}, C{Access-Control-*}) are
    refused, and so are a C{Content-Type} a browser would run as a document
    and a C{Set-Cookie} with a C{Domain}: a cookie set here is for this host
    only, never for a parent domain its siblings share.
    """

    allowedMethods = (b"GET", b"HEAD", b"POST")

    def render_GET(self, request: IRequest) -> bytes:
        wanted: dict[bytes, list[bytes]] = {}
        _, _, query = request.uri.partition(b"?")
        for name, value in parse_qsl(query, keep_blank_values=True):
            wanted.setdefault(name, []).append(value)
        for name, values in wanted.items():
            problem = headerRefusal(name, values)
            if problem is not None:
                return badRequest(request, problem)
        listed: dict[str, Any] = {"Content-Type": "application/json"}
        for name, values in wanted.items():
            texts = [v.decode("latin-1") for v in values]
            listed[name.decode("ascii")] = texts[0] if len(texts) == 1 else texts
        # The body lists its own Content-Length: find the length that
        # stays the same once written into the body.
        length = 0
        for _ in range(8):
            listed["Content-Length"] = str(length)
            body = jsonBody(request, listed)
            if len(body) == length:
                break
            length = len(body)
        for name, values in wanted.items():
            request.responseHeaders.setRawHeaders(name, values)
        return body

    render_POST = render_GET


def headerRefusal(name: bytes, values: list[bytes]) -> str | None:
    """
    Why the header C{name} with C{values} may not be set by
    C{/response-headers}, or L{None} if it may.
    """
    lower = name.lower()
    if not _TOKEN.fullmatch(name):
        return f"{name!r} is not a header name"
    if lower in _RESERVED_HEADERS or lower.startswith(b"access-control-"):
        return f"{name.decode()} cannot be set here"
    for value in values:
        if _BAD_VALUE.search(value):
            return f"the {name.decode()} value has control characters"
        if lower == b"content-type" and any(
            isActiveType(part) for part in value.split(b",")
        ):
            return f"Content-Type {value.decode('latin-1')} is not allowed"
        if lower == b"set-cookie" and _COOKIE_DOMAIN.search(value):
            return "a cookie set here is for this host only: no Domain attribute"
    return None


_COOKIE_DOMAIN = re.compile(rb";\s*domain\s*=", re.IGNORECASE)
