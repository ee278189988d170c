# -*- test-case-name: tests.web.test_controls -*-
"""
Response controls: a client chooses the status (C{/status/<codes>}), the
latency (C{/delay/<seconds>}), a body of random bytes (C{/bytes/<n>}) or
response headers (C{/response-headers?K=V}).

Each is bounded by a setting or by HTTP itself, and a request beyond the
bound gets a plain-text C{400} that names the bound, rather than being
clamped silently: a test that asked for an 11 s delay and got 10 s would
pass for the wrong reason.
"""

from __future__ import annotations

import os
import random
import re
from collections.abc import Sequence

from twisted.internet.interfaces import IReactorTime
from twisted.python.failure import Failure
from twisted.web.http import NO_BODY_CODES
from twisted.web.iweb import IRequest
from twisted.web.resource import IResource
from twisted.web.server import NOT_DONE_YET, Request

from echohub._net import cancelCall
from echohub.web._inspection import describeRequest
from echohub.web._resource import (
    PlainTextResource,
    badRequest,
    isActiveType,
    jsonBody,
    plainText,
)

_ANY_METHOD: Sequence[bytes] = (b"GET", b"POST", b"PUT", b"PATCH", b"DELETE")
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
        b"set-cookie",
        b"strict-transport-security",
        b"refresh",
    }
)

_NO_CONTENT = frozenset(NO_BODY_CODES) | {205}
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


class StatusResource(PlainTextResource):
    """
    C{/status/<codes>}: any method, answered with the chosen status and a
    one-line plain-text body (none for C{204} and C{304}).

    @ivar random: where weighted choices come from; replaceable in tests.
    """

    anyMethod = True
    isLeaf = True

    def __init__(self, rng: random.Random | None = None) -> None:
        super().__init__()
        self.random = rng or random.Random()

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
        request.setHeader(b"Cache-Control", b"no-store")
        body = b"" if code in _NO_CONTENT else b"%d\n" % (code,)
        return plainText(request, code, body)


class DelayResource(PlainTextResource):
    """
    C{/delay/<seconds>}: the L{describeRequest} JSON, sent after a delay.

    The delay is a reactor timer, so every other client is served meanwhile,
    and the timer is cancelled when the client goes away first.
    """

    allowedMethods = _ANY_METHOD
    isLeaf = True

    def __init__(
        self, reactor: IReactorTime, maxDelay: float, showSensitive: bool
    ) -> None:
        super().__init__()
        self.reactor = reactor
        self.maxDelay = maxDelay
        self.showSensitive = showSensitive

    def _render(self, request: Request) -> bytes | int:
        segment = _segment(request)
        try:
            seconds = float(segment or b"")
        except ValueError:
            seconds = -1
        if not 0 <= seconds <= self.maxDelay:
            return badRequest(
                request,
                f"the delay must be a number of seconds from 0 to {self.maxDelay:g}"
                " ([web] max_delay)",
            )

        def answer() -> None:
            body = jsonBody(request, describeRequest(request, self.showSensitive))
            request.setHeader(b"Content-Length", b"%d" % (len(body),))
            request.write(body)
            request.finish()

        timer = self.reactor.callLater(seconds, answer)

        def gone(reason: Failure) -> None:
            cancelCall(timer)

        request.notifyFinish().addErrback(gone)
        return NOT_DONE_YET

    render_GET = render_POST = render_PUT = render_PATCH = render_DELETE = _render


class BytesResource(PlainTextResource):
    """
    C{/bytes/<n>}: n random bytes as C{application/octet-stream}, at most
    C{[web] max_body}.  With C{?seed=N} the bytes are the same for the same
    seed, for tests that want reproducible data.
    """

    isLeaf = True

    def __init__(self, maxBytes: int) -> None:
        super().__init__()
        self.maxBytes = maxBytes

    def render_GET(self, request: IRequest) -> bytes:
        segment = _segment(request)
        count = int(segment) if segment is not None and segment.isdigit() else -1
        if not 0 <= count <= self.maxBytes:
            return badRequest(
                request,
                f"the size must be a whole number of bytes from 0 to {self.maxBytes}"
                " ([web] max_body)",
            )
        seeds = request.args.get(b"seed")
        if seeds:
            try:
                seed = int(seeds[0])
            except ValueError:
                return badRequest(request, "seed must be an integer")
            data = random.Random(seed).randbytes(count)
        else:
            data = os.urandom(count)
        request.setHeader(b"Content-Type", b"application/octet-stream")
        request.setHeader(b"Cache-Control", b"no-store")
        return data


class ResponseHeadersResource(PlainTextResource):
    """
    C{/response-headers?K=V&K2=V2}: a response carrying those headers
    (repeated names give repeated headers), with a JSON body listing them.

    Names must be HTTP tokens and values may not hold control characters, so
    no header can be injected; headers that frame the message or carry this
    origin's protections (L{_RESERVED_HEADERS}, C{Access-Control-*}) are
    refused, and so is a C{Content-Type} a browser would run as a document.
    """

    allowedMethods = (b"GET", b"HEAD", b"POST")

    def render_GET(self, request: IRequest) -> bytes:
        wanted: dict[bytes, list[bytes]] = request.args
        for name, values in wanted.items():
            lower = name.lower()
            if not _TOKEN.fullmatch(name):
                return badRequest(request, f"{name!r} is not a header name")
            if lower in _RESERVED_HEADERS or lower.startswith(b"access-control-"):
                return badRequest(request, f"{name.decode()} cannot be set here")
            for value in values:
                if _BAD_VALUE.search(value):
                    return badRequest(
                        request, f"the {name.decode()} value has control characters"
                    )
                if lower == b"content-type" and any(
                    isActiveType(part) for part in value.split(b",")
                ):
                    return badRequest(
                        request,
                        f"Content-Type {value.decode('latin-1')} is not allowed",
                    )
        body = jsonBody(
            request,
            {
                name.decode("ascii"): [v.decode("latin-1") for v in values]
                for name, values in wanted.items()
            },
        )
        for name, values in wanted.items():
            request.responseHeaders.setRawHeaders(name, values)
        return body

    render_POST = render_GET


def controlResources(
    reactor: IReactorTime, maxDelay: float, maxBody: int, showSensitive: bool
) -> dict[bytes, IResource]:
    """
    The response-control resources, by the path segment each is served at.
    """
    return {
        b"status": StatusResource(),
        b"delay": DelayResource(reactor, maxDelay, showSensitive),
        b"bytes": BytesResource(maxBody),
        b"response-headers": ResponseHeadersResource(),
    }
