# -*- test-case-name: tests.web.test_anypath -*-
"""
The catch-all echo (C{[web] echo_any_path}, off by default): every path no
route serves, any method, answered with the request as JSON in
C{/anything}'s shape, so that a webhook, a proxy rule or a health check can
be pointed at any URL, as at mendhak/http-https-echo.

Each request may shape its own answer with mendhak's controls
(L{echohub.controls}), as headers or, when no such header is sent, as query
arguments: C{x-set-response-status-code}, C{x-set-response-delay-ms},
C{x-set-response-content-type}, C{x-set-response-header} (repeatable,
C{NAME: VALUE}) and C{response_body_only=true}.  Each is bounded as the
httpbin routes bound theirs: a status from 200 to 599, a delay up to
C{[web] max_delay}, no content type a browser would run as a document, no
header that frames the message or carries this origin's protections.  A
control out of bounds gets a plain-text C{400} naming it, never a silent
clamp.  The status line's reason phrase is the RFC's (this is not an
httpbin route).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from twisted.internet.interfaces import IReactorTime
from twisted.python.failure import Failure
from twisted.web.iweb import IRequest
from twisted.web.server import NOT_DONE_YET

from echohub._net import cancelCall
from echohub.controls import (
    BODY_ONLY,
    SET_CONTENT_TYPE,
    SET_DELAY,
    SET_HEADER,
    SET_STATUS,
)
from echohub.web.httpbin import (
    ECHO_HEADERS,
    JSON,
    NO_CONTENT,
    InspectionPolicy,
    PlainTextResource,
    badRequest,
    describeOrRefuse,
    echoContentType,
    headerRefusal,
    isActiveType,
    jsonBody,
    requestBody,
)


@dataclass
class Shape:
    """
    What a request's controls ask of its answer.

    @ivar status: the status code.
    @ivar delay: seconds to wait first.
    @ivar contentType: the C{Content-Type}, or L{None} for the echo's own.
    @ivar headers: extra response headers, by name, in order.
    @ivar bodyOnly: answer with the request's body alone.
    """

    status: int = 200
    delay: float = 0.0
    contentType: bytes | None = None
    headers: dict[bytes, list[bytes]] = field(default_factory=dict)
    bodyOnly: bool = False


def readShape(request: IRequest, maxDelay: float) -> Shape | str:
    """
    The controls of C{request}, or why one is refused.

    @param maxDelay: C{[web] max_delay}, in seconds.
    """
    _, _, query = request.uri.partition(b"?")
    args: dict[bytes, list[bytes]] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        args.setdefault(name.lower(), []).append(value)

    def values(name: str) -> list[bytes]:
        sent: list[bytes] | None = request.requestHeaders.getRawHeaders(name.encode())
        return sent if sent else args.get(name.encode(), [])

    shape = Shape()
    status = values(SET_STATUS)
    if status:
        text = status[-1].strip()
        if not text.isdigit() or not 200 <= int(text) <= 599:
            return f"{SET_STATUS} must be a status from 200 to 599"
        shape.status = int(text)
    delay = values(SET_DELAY)
    if delay:
        text = delay[-1].strip()
        if not text.isdigit() or int(text) > maxDelay * 1000:
            return (
                f"{SET_DELAY} must be a whole number of milliseconds from 0 to"
                f" {maxDelay * 1000:g} ([web] max_delay)"
            )
        shape.delay = int(text) / 1000
    contentType = values(SET_CONTENT_TYPE)
    if contentType:
        shape.contentType = contentType[-1].strip()
        if isActiveType(shape.contentType) or headerRefusal(
            b"Content-Type", [shape.contentType]
        ):
            return (
                f"{SET_CONTENT_TYPE} {shape.contentType.decode('latin-1')} is"
                " refused: nothing a client sends is served as HTML, XML or SVG"
            )
    for line in values(SET_HEADER):
        name, colon, value = line.partition(b":")
        name, value = name.strip(), value.strip()
        problem = (
            f"{SET_HEADER} must be NAME: VALUE"
            if not colon
            else headerRefusal(name, [value])
        )
        if problem is not None:
            return f"{SET_HEADER}: {problem}"
        shape.headers.setdefault(name, []).append(value)
    shape.bodyOnly = args.get(BODY_ONLY.encode(), [b""])[-1].lower() == b"true"
    return shape


class AnyPathEcho(PlainTextResource):
    """
    The catch-all echo: any method, any path below it, answered with
    C{/anything}'s JSON (or the request's body alone), shaped by the
    request's controls (L{readShape}).

    @ivar policy: what the JSON shows.
    @ivar clock: the reactor for delays.
    @ivar maxDelay: C{[web] max_delay}.
    """

    anyMethod = True
    isLeaf = True

    def __init__(
        self, policy: InspectionPolicy, clock: IReactorTime, maxDelay: float
    ) -> None:
        super().__init__()
        self.policy = policy
        self.clock = clock
        self.maxDelay = maxDelay

    def render(self, request: IRequest) -> bytes | int:
        """
        Every method, C{HEAD} included, is answered by L{respond}: a
        delayed answer is written later, and twisted.web drops a C{HEAD}'s
        body itself.
        """
        return self.respond(request, request.method)

    def respond(self, request: IRequest, method: bytes) -> bytes | int:
        shape = readShape(request, self.maxDelay)
        if isinstance(shape, str):
            return badRequest(request, shape)
        if shape.bodyOnly:
            body = requestBody(request)
            contentType = echoContentType(request.getHeader(b"Content-Type"))
        else:
            facts = describeOrRefuse(request, self.policy, extras=True)
            if isinstance(facts, bytes):
                return facts
            body = jsonBody(request, facts)
            contentType = JSON
        for name, value in ECHO_HEADERS:
            request.setHeader(name, value)
        request.setResponseCode(shape.status)
        request.setHeader(b"Content-Type", shape.contentType or contentType)
        for name, values in shape.headers.items():
            request.responseHeaders.setRawHeaders(name, values)
        if shape.status in NO_CONTENT:
            body = b""
        if not shape.delay:
            return body

        def answer() -> None:
            request.setHeader(b"Content-Length", b"%d" % (len(body),))
            request.write(body)
            request.finish()

        timer = self.clock.callLater(shape.delay, answer)

        def gone(reason: Failure) -> None:
            cancelCall(timer)

        # Every twisted.web Request has it; IRequest does not declare it.
        request.notifyFinish().addErrback(gone)  # type: ignore[attr-defined]
        return NOT_DONE_YET
