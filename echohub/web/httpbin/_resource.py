# -*- test-case-name: tests.web.httpbin.test_resource,tests.web.test_tree -*-
"""
The building blocks every echohub resource is made of.

Twisted's own error pages (C{NoResource}, the C{405}/C{501} pages of
L{twisted.web.server.Request.render}) are HTML; echohub answers errors in
plain text and everything a client supplied as plain text or JSON, so that no
echo can ever be served as a document that runs script on this origin.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from json.encoder import encode_basestring_ascii as _encodeString
from typing import Any

from twisted.web.iweb import IRequest
from twisted.web.resource import IResource, Resource

from echohub.http import PLAIN_TEXT, plainText

JSON = b"application/json"

# The reason phrases of httpbin's status lines: Werkzeug's table, upper
# case, as Flask httpbin sends them ("404 NOT FOUND", "418 I'M A TEAPOT").
# Clients' suites compare whole status lines, so the httpbin routes answer
# with these (HTTP/1.1 only: HTTP/2 has no reason phrase); everything else
# keeps Twisted's, which RFC 9110 section 15 spells.
HTTPBIN_REASONS: dict[int, bytes] = {
    100: b"CONTINUE",
    101: b"SWITCHING PROTOCOLS",
    102: b"PROCESSING",
    103: b"EARLY HINTS",
    200: b"OK",
    201: b"CREATED",
    202: b"ACCEPTED",
    203: b"NON AUTHORITATIVE INFORMATION",
    204: b"NO CONTENT",
    205: b"RESET CONTENT",
    206: b"PARTIAL CONTENT",
    207: b"MULTI STATUS",
    208: b"ALREADY REPORTED",
    226: b"IM USED",
    300: b"MULTIPLE CHOICES",
    301: b"MOVED PERMANENTLY",
    302: b"FOUND",
    303: b"SEE OTHER",
    304: b"NOT MODIFIED",
    305: b"USE PROXY",
    306: b"SWITCH PROXY",
    307: b"TEMPORARY REDIRECT",
    308: b"PERMANENT REDIRECT",
    400: b"BAD REQUEST",
    401: b"UNAUTHORIZED",
    402: b"PAYMENT REQUIRED",
    403: b"FORBIDDEN",
    404: b"NOT FOUND",
    405: b"METHOD NOT ALLOWED",
    406: b"NOT ACCEPTABLE",
    407: b"PROXY AUTHENTICATION REQUIRED",
    408: b"REQUEST TIMEOUT",
    409: b"CONFLICT",
    410: b"GONE",
    411: b"LENGTH REQUIRED",
    412: b"PRECONDITION FAILED",
    413: b"REQUEST ENTITY TOO LARGE",
    414: b"REQUEST URI TOO LONG",
    415: b"UNSUPPORTED MEDIA TYPE",
    416: b"REQUESTED RANGE NOT SATISFIABLE",
    417: b"EXPECTATION FAILED",
    418: b"I'M A TEAPOT",
    421: b"MISDIRECTED REQUEST",
    422: b"UNPROCESSABLE ENTITY",
    423: b"LOCKED",
    424: b"FAILED DEPENDENCY",
    425: b"TOO EARLY",
    426: b"UPGRADE REQUIRED",
    428: b"PRECONDITION REQUIRED",
    429: b"TOO MANY REQUESTS",
    431: b"REQUEST HEADER FIELDS TOO LARGE",
    449: b"RETRY WITH",
    451: b"UNAVAILABLE FOR LEGAL REASONS",
    500: b"INTERNAL SERVER ERROR",
    501: b"NOT IMPLEMENTED",
    502: b"BAD GATEWAY",
    503: b"SERVICE UNAVAILABLE",
    504: b"GATEWAY TIMEOUT",
    505: b"HTTP VERSION NOT SUPPORTED",
    506: b"VARIANT ALSO NEGOTIATES",
    507: b"INSUFFICIENT STORAGE",
    508: b"LOOP DETECTED",
    510: b"NOT EXTENDED",
    511: b"NETWORK AUTHENTICATION FAILED",
}

# Defence in depth should a browser ever render an echo as a document: no
# script, no subresources, a unique origin.
ECHO_HEADERS = (
    (b"Cache-Control", b"no-store"),
    (b"Content-Security-Policy", b"sandbox; default-src 'none'"),
)


# Media types a browser renders as a document that can run script or load
# subresources.  Client bytes are never served with one of these.
_ACTIVE_TYPES = frozenset(
    {
        b"text/html",
        b"application/xhtml+xml",
        b"image/svg+xml",
        b"text/xml",
        b"application/xml",
        b"text/xsl",
        b"application/xslt+xml",
        b"multipart/x-mixed-replace",
    }
)


def isActiveType(contentType: bytes) -> bool:
    """
    Whether a browser would render C{contentType} as an active document
    (HTML, XHTML, SVG, any XML), whatever its case and parameters.
    """
    mediaType = contentType.split(b";", 1)[0].strip().lower()
    return mediaType in _ACTIVE_TYPES or mediaType.endswith(b"+xml")


def echoContentType(requestType: bytes | None) -> bytes:
    """
    Choose the C{Content-Type} of a C{POST /echo} response.

    The request's own type is echoed so that a client gets back exactly what
    it sent, except that types a browser would render as an active document
    (HTML, XHTML, SVG, any XML) become C{text/plain; charset=utf-8}: the echo
    must never let a client make this origin serve its markup.

    @param requestType: the request's C{Content-Type} header, if any.
    @return: C{application/octet-stream} when the request had no type.
    """
    if not requestType:
        return b"application/octet-stream"
    if isActiveType(requestType):
        return PLAIN_TEXT
    return requestType


def badRequest(request: IRequest, why: str) -> bytes:
    """
    A plain-text C{400} that says what was wrong, for a renderer to return.

    Every bounded parameter answers this way when a client goes beyond the
    configured limit, so the limit is named in the reply.
    """
    return plainText(request, 400, f"400 Bad Request: {why}\n".encode())


# Characters that only ever occur inside JSON strings here, escaped so that
# no byte of a JSON echo can start markup, whatever a browser sniffs.
_MARKUP_ESCAPES = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"})


def jsonBody(request: IRequest, value: Any, code: int = 200) -> bytes:
    """
    Make C{request}'s response the JSON encoding of C{value}.

    The encoding is pretty-printed (people read these in a terminal), pure
    ASCII, and C{<}, C{>} and C{&} are escaped too, so that nothing a client
    sent comes back as something a browser could mistake for markup.

    @return: the body, for a renderer to return.
    """
    request.setResponseCode(code)
    request.setHeader(b"Content-Type", JSON)
    for name, headerValue in ECHO_HEADERS:
        request.setHeader(name, headerValue)
    text = prettyJSON(value)
    return text.translate(_MARKUP_ESCAPES).encode("ascii") + b"\n"


class _NotPlainError(Exception):
    """
    A value L{prettyJSON} leaves to the standard library.
    """


def prettyJSON(value: Any) -> str:
    """
    C{json.dumps(value, indent=2)}, character for character, in half the
    time.

    The standard library's C encoder has no indentation, so with C{indent}
    it falls back to a pure-Python encoder of generators, which took a
    fifth of an C{/anything} response; here the structure is walked once
    and every string goes through the C string encoder.  A document with
    anything else than string keys, strings, numbers, booleans, L{None},
    lists, tuples and dicts is handed to C{json.dumps} whole.
    """
    out: list[str] = []
    try:
        _pretty(value, "", out)
    except (_NotPlainError, RecursionError):
        return json.dumps(value, indent=2)
    return "".join(out)


def _pretty(value: Any, indent: str, out: list[str]) -> None:
    if isinstance(value, dict):
        if not value:
            out.append("{}")
            return
        inner = indent + "  "
        separator = "{\n" + inner
        for key, item in value.items():
            if key.__class__ is not str:
                raise _NotPlainError()
            kind = item.__class__
            # The leaves most documents are made of, written here rather
            # than by a call each.
            if kind is str:
                out.append(f"{separator}{_encodeString(key)}: {_encodeString(item)}")
            elif kind is int:
                out.append(f"{separator}{_encodeString(key)}: {int.__repr__(item)}")
            elif item is None:
                out.append(f"{separator}{_encodeString(key)}: null")
            else:
                out.append(f"{separator}{_encodeString(key)}: ")
                _pretty(item, inner, out)
            separator = ",\n" + inner
        out.append("\n" + indent + "}")
    elif isinstance(value, list | tuple):
        if not value:
            out.append("[]")
            return
        inner = indent + "  "
        separator = "[\n" + inner
        for item in value:
            if item.__class__ is str:
                out.append(separator + _encodeString(item))
            else:
                out.append(separator)
                _pretty(item, inner, out)
            separator = ",\n" + inner
        out.append("\n" + indent + "]")
    elif isinstance(value, str):
        out.append(_encodeString(value))
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int | float):
        out.append(
            json.dumps(value) if isinstance(value, float) else int.__repr__(value)
        )
    else:
        raise _NotPlainError()


class PlainTextResource(Resource):
    """
    A resource whose own error responses are plain text.

    Subclasses list the methods they answer in L{allowedMethods} and
    implement C{render_<METHOD>} for each except C{HEAD}, which this class
    answers from C{render_GET} when C{HEAD} is listed: Twisted's fallback for
    C{HEAD} logs a line per request and its C{405} page is HTML.  A resource
    that answers every method sets L{anyMethod} and overrides L{respond}.

    @cvar allowedMethods: the methods this resource answers, as sent in the
        C{Allow} header of a C{405}.
    @cvar anyMethod: whether it answers every method, C{HEAD} included.
    """

    allowedMethods: Sequence[bytes] = (b"GET", b"HEAD")
    anyMethod = False

    def __init__(self) -> None:
        super().__init__()
        self._allow = b", ".join(self.allowedMethods)

    def getChild(self, path: bytes, request: IRequest) -> IResource:
        """
        Answer every path without a registered child with L{NOT_FOUND}, not
        Twisted's HTML C{NoResource} page.
        """
        return NOT_FOUND

    def render(self, request: IRequest) -> bytes | int:
        """
        Dispatch on the request method; C{HEAD} gets the C{GET} response's
        headers, including its C{Content-Length}, and no body.
        """
        method = request.method
        headable = self.anyMethod or b"HEAD" in self.allowedMethods
        if method != b"HEAD" or not headable:
            return self.respond(request, method)
        body = self.respond(request, method if self.anyMethod else b"GET")
        assert isinstance(body, bytes), "a HEAD-able resource must not stream"
        request.setHeader(b"Content-Length", b"%d" % (len(body),))
        return b""

    def respond(self, request: IRequest, method: bytes) -> bytes | int:
        """
        Render C{request} as if its method were C{method}.

        @return: the response body, or C{NOT_DONE_YET} from a resource that
            answers later.
        """
        if method not in self.allowedMethods:
            request.setHeader(b"Allow", self._allow)
            return plainText(request, 405, b"405 Method Not Allowed\n")
        # Only a listed method gets here, so the attribute name is ours, not
        # the client's.
        renderer = getattr(self, "render_" + method.decode("ascii"))
        body: bytes | int = renderer(request)
        return body


class NotFound(PlainTextResource):
    """
    The plain-text C{404} for every path nothing else answers, whatever the
    method.  One instance, L{NOT_FOUND}, serves every such path.
    """

    def respond(self, request: IRequest, method: bytes) -> bytes:
        return plainText(request, 404, b"404 Not Found\n")


NOT_FOUND = NotFound()
NOT_FOUND.isLeaf = True


def directory(name: bytes, child: IResource) -> NotFound:
    """
    A C{404} resource with one child: a path segment that only leads on,
    for routes of two segments (C{/forms/post}) and for C{[web] prefix}.
    """
    parent = NotFound()
    parent.putChild(name, child)
    return parent
