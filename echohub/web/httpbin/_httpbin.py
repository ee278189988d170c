# -*- test-case-name: tests.web.httpbin.test_httpbin -*-
"""
httpbin's method routes and go-httpbin's small ones.

    - C{/get}, C{/head}: the request's C{args}, C{headers}, C{origin} and
      C{url}; C{/post}, C{/put}, C{/patch}, C{/delete} add the body
      (C{data}, C{files}, C{form}, C{json}); each answers its own method
      only, as httpbin's do (C{405} otherwise).
    - C{/upload}: go-httpbin's: the body is counted, not kept or echoed.
    - C{/uuid}, C{/hostname}, C{/version}, C{/env}: small facts.  C{/env}
      is always empty and C{/hostname} is always C{echohub}: an echo
      service reached by strangers must not tell them its environment or
      its machine's name.
    - C{/unstable}: C{200} or C{500} at a chosen rate.
    - C{/trailers?K=V}: the C{/anything} JSON sent chunked, with those
      headers as trailers.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from urllib.parse import parse_qsl

from twisted.web.iweb import IRequest
from twisted.web.server import NOT_DONE_YET, Request

from echohub.web.httpbin._controls import headerRefusal
from echohub.web.httpbin._inspection import (
    ANYTHING_KEYS,
    GET_KEYS,
    InspectionPolicy,
    describeOrRefuse,
    requestBody,
)
from echohub.web.httpbin._resource import (
    PlainTextResource,
    badRequest,
    jsonBody,
    plainText,
)

# Headers that may not be trailers (RFC 9110 section 6.5.1): they frame the
# message, route or authenticate it, or control its caching or content.
_FORBIDDEN_TRAILERS = frozenset(
    {
        b"authorization",
        b"cache-control",
        b"content-range",
        b"content-type",
        b"expect",
        b"host",
        b"max-forwards",
        b"pragma",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"range",
        b"www-authenticate",
        b"set-cookie",
        b"location",
        b"vary",
    }
)


class MethodResource(PlainTextResource):
    """
    An httpbin route that describes the request, under C{keys}, for the
    one method it is named after.

    @ivar keys: which of L{describeRequest}'s keys the JSON has.
    """

    isLeaf = True

    def __init__(
        self, policy: InspectionPolicy, methods: Sequence[bytes], keys: Sequence[str]
    ) -> None:
        self.allowedMethods = tuple(methods)
        super().__init__()
        self.policy = policy
        self.keys = keys

    def respond(self, request: IRequest, method: bytes) -> bytes | int:
        if method not in self.allowedMethods:
            return super().respond(request, method)
        facts = describeOrRefuse(request, self.policy, self.keys)
        if isinstance(facts, bytes):
            return facts
        return jsonBody(request, facts)


class UploadResource(PlainTextResource):
    """
    C{/upload}: go-httpbin's route for large uploads: the JSON of
    C{/get} with C{method} and C{bytes_received}, and never the body.
    """

    allowedMethods = (b"POST", b"PUT", b"PATCH")
    isLeaf = True

    def __init__(self, policy: InspectionPolicy) -> None:
        super().__init__()
        self.policy = policy

    def _render(self, request: IRequest) -> bytes:
        facts = describeOrRefuse(request, self.policy, (*GET_KEYS, "method"))
        assert not isinstance(facts, bytes), "no body keys, no body errors"
        facts["bytes_received"] = len(requestBody(request))
        return jsonBody(request, facts)

    render_POST = render_PUT = render_PATCH = _render


class FactResource(PlainTextResource):
    """
    A route whose JSON is fixed when the tree is built (C{/env},
    C{/hostname}, C{/version}), or new each time (C{/uuid}).
    """

    isLeaf = True

    def __init__(self, fact: dict[str, object] | None = None) -> None:
        super().__init__()
        self.fact = fact

    def render_GET(self, request: IRequest) -> bytes:
        return jsonBody(request, self.fact or {"uuid": str(uuid.uuid4())})


def echohubVersion() -> str:
    """
    The installed echohub's version, for C{/version}.
    """
    try:
        return version("echohub-server")
    except PackageNotFoundError:
        return "unknown"


class UnstableResource(PlainTextResource):
    """
    C{/unstable?failure_rate=R&seed=S}: C{500} with probability C{R}
    (default 0.5), else C{200}; the same seed gives the same answer.
    """

    allowedMethods = (b"GET", b"HEAD", b"POST", b"PUT", b"PATCH", b"DELETE")
    isLeaf = True

    def _render(self, request: IRequest) -> bytes:
        arguments = dict(parse_qsl(request.uri.partition(b"?")[2]))
        try:
            rate = float(arguments.get(b"failure_rate", b"0.5"))
            seed = arguments.get(b"seed")
            rng = random.Random(int(seed)) if seed is not None else random.Random()
        except ValueError:
            return badRequest(request, "failure_rate is a number, seed an integer")
        if not 0 <= rate <= 1:
            return badRequest(request, "failure_rate must be from 0 to 1")
        code = 500 if rng.random() < rate else 200
        request.setHeader(b"Cache-Control", b"no-store")
        return plainText(request, code, b"")

    render_GET = render_POST = render_PUT = render_PATCH = render_DELETE = _render


class TrailersResource(PlainTextResource):
    """
    C{/trailers?K=V}: the C{/anything} JSON, chunked, with each query
    argument as a trailer field (announced in C{Trailer}).  A client that
    asked in HTTP/1.0 cannot take trailers and gets the JSON alone.
    """

    allowedMethods = (b"GET", b"POST", b"PUT", b"PATCH", b"DELETE")
    isLeaf = True

    def __init__(self, policy: InspectionPolicy) -> None:
        super().__init__()
        self.policy = policy

    def _render(self, request: Request) -> bytes | int:
        trailers = parse_qsl(request.uri.partition(b"?")[2], keep_blank_values=True)
        for name, value in trailers:
            problem = headerRefusal(name, [value])
            if problem is None and name.lower() in _FORBIDDEN_TRAILERS:
                problem = f"{name.decode()} cannot be a trailer"
            if problem is not None:
                return badRequest(request, problem)
        facts = describeOrRefuse(request, self.policy, ANYTHING_KEYS)
        if isinstance(facts, bytes):
            return facts
        body = jsonBody(request, facts)
        for name in dict(trailers):
            request.responseHeaders.addRawHeader(b"Trailer", name)
        request.write(b"")
        if not request.chunked:
            request.write(body)
            request.finish()
            return NOT_DONE_YET
        # Request.finish can only end a chunked body with an empty trailer
        # section: take the framing over once the headers are out, and
        # write the last chunk with the trailers ourselves (RFC 9112
        # section 7.1.2).  chunked is a public attribute of Request.
        request.chunked = 0
        fields = b"".join(b"%s: %s\r\n" % (n, v) for n, v in trailers)
        request.write(b"%x\r\n%s\r\n0\r\n%s\r\n" % (len(body), body, fields))
        request.finish()
        return NOT_DONE_YET

    render_GET = render_POST = render_PUT = render_PATCH = render_DELETE = _render
