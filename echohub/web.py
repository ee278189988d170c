# -*- test-case-name: tests.test_web -*-
"""
The resources of the HTTP echo site.

    - C{/}: the HTML page that explains the service (L{IndexPage}).
    - C{/echo}: C{GET}/C{HEAD} echo the C{msg} query argument, C{POST} echoes
      the request body (L{EchoResource}).
    - C{/healthz}: C{ok} for load balancers and probes (L{HealthResource}).
    - anything else: a plain-text C{404} (L{NotFound}).

Every resource derives from L{PlainTextResource}, which replaces Twisted's
HTML error pages (C{NoResource}, the C{405}/C{501} pages of
L{twisted.web.server.Request.render}) with short plain-text ones, answers
C{HEAD} from the C{GET} renderer itself, and answers any method it does not
list with C{405} and an C{Allow} header.  Nothing a client sends is ever
served with an HTML or XML content type, so the echo cannot be used to
inject script into this origin.

The request body limit, C{X-Content-Type-Options: nosniff} and the idle
timeout are the business of L{echohub.site}, not of the resources.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources

from twisted.web.iweb import IRequest
from twisted.web.resource import IResource, Resource

PLAIN_TEXT = b"text/plain; charset=utf-8"

_ECHO_HEADERS = (
    (b"Cache-Control", b"no-store"),
    # Defence in depth should a browser ever render an echo as a document:
    # no script, no subresources, a unique origin.
    (b"Content-Security-Policy", b"sandbox; default-src 'none'"),
)

_PAGE_HEADERS = (
    (b"Content-Type", b"text/html; charset=utf-8"),
    (b"Cache-Control", b"no-cache"),
    (
        b"Content-Security-Policy",
        b"default-src 'none'; style-src 'unsafe-inline'; form-action 'self';"
        b" base-uri 'none'; frame-ancestors 'none'",
    ),
)

# Media types a browser renders as a document that can run script or load
# subresources.  A POSTed body labelled with one of these is echoed as plain
# text instead: the echo must never serve client bytes as active content.
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


def plainText(request: IRequest, code: int, body: bytes) -> bytes:
    """
    Make C{request}'s response a plain-text one with status C{code}.

    @return: C{body}, for a renderer to return.
    """
    request.setResponseCode(code)
    request.setHeader(b"Content-Type", PLAIN_TEXT)
    return body


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
    mediaType = requestType.split(b";", 1)[0].strip().lower()
    if mediaType in _ACTIVE_TYPES or mediaType.endswith(b"+xml"):
        return PLAIN_TEXT
    return requestType


class PlainTextResource(Resource):
    """
    A resource whose own error responses are plain text.

    Subclasses list the methods they answer in L{allowedMethods} and
    implement C{render_<METHOD>} for each except C{HEAD}, which this class
    answers from C{render_GET}: Twisted's fallback for C{HEAD} logs a line
    per request and its C{405} page is HTML.

    @cvar allowedMethods: the methods this resource answers, as sent in the
        C{Allow} header of a C{405}.
    """

    allowedMethods: Sequence[bytes] = (b"GET", b"HEAD")

    def __init__(self) -> None:
        super().__init__()
        self._allow = b", ".join(self.allowedMethods)

    def getChild(self, path: bytes, request: IRequest) -> IResource:
        """
        Answer every path without a registered child with L{NOT_FOUND}, not
        Twisted's HTML C{NoResource} page.
        """
        return NOT_FOUND

    def render(self, request: IRequest) -> bytes:
        """
        Dispatch on the request method; C{HEAD} gets the C{GET} response's
        headers, including its C{Content-Length}, and no body.
        """
        method = request.method
        if method != b"HEAD":
            return self.respond(request, method)
        body = self.respond(request, b"GET")
        request.setHeader(b"Content-Length", b"%d" % (len(body),))
        return b""

    def respond(self, request: IRequest, method: bytes) -> bytes:
        """
        Render C{request} as if its method were C{method}.

        @return: the response body.
        """
        if method not in self.allowedMethods:
            request.setHeader(b"Allow", self._allow)
            return plainText(request, 405, b"405 Method Not Allowed\n")
        # Only a listed method gets here, so the attribute name is ours, not
        # the client's.
        renderer = getattr(self, "render_" + method.decode("ascii"))
        body: bytes = renderer(request)
        return body


class NotFound(PlainTextResource):
    """
    The plain-text C{404} for every path nothing else answers, whatever the
    method.  One instance, L{NOT_FOUND}, serves every such path; another is
    the site's root, holding the real resources as children.
    """

    def respond(self, request: IRequest, method: bytes) -> bytes:
        return plainText(request, 404, b"404 Not Found\n")


NOT_FOUND = NotFound()
NOT_FOUND.isLeaf = True


def loadPage() -> bytes:
    """
    Read the HTML page shipped as package data (C{echohub/static/index.html}).

    Called once when the resource tree is built, so serving C{/} costs no I/O.
    """
    return (resources.files("echohub") / "static" / "index.html").read_bytes()


class IndexPage(PlainTextResource):
    """
    The HTML page at C{/}: what the service is and how to try it, with a
    form that echoes through C{/echo} without needing JavaScript.

    Its C{Content-Security-Policy} allows nothing but its own inline style
    and form, so the page could not load anything external even if edited to.

    @ivar page: the UTF-8 encoded page.
    """

    def __init__(self, page: bytes) -> None:
        super().__init__()
        self.page = page

    def render_GET(self, request: IRequest) -> bytes:
        for name, value in _PAGE_HEADERS:
            request.setHeader(name, value)
        return self.page


class HealthResource(PlainTextResource):
    """
    C{/healthz}: C{200 ok} whenever the process can answer HTTP at all.
    """

    def render_GET(self, request: IRequest) -> bytes:
        request.setHeader(b"Cache-Control", b"no-store")
        return plainText(request, 200, b"ok\n")


class EchoResource(PlainTextResource):
    """
    C{/echo}: the HTTP echo.

        - C{GET /echo?msg=TEXT} answers with exactly the bytes of C{TEXT}
          after percent-decoding (C{+} is a space, as in a form submission),
          whether or not they are UTF-8, as C{text/plain; charset=utf-8}.
          When C{msg} is given more than once the first one is echoed, the
          way most form handlers read a single-valued field.  Without C{msg}
          the answer is a plain-text C{400}.
        - C{POST /echo} answers with exactly the request body, labelled with
          the request's C{Content-Type} (see L{echoContentType}).
        - C{HEAD} is C{GET} without the body.

    Every echo carries C{Cache-Control: no-store}: an echo is the client's
    own data and no cache should keep it.
    """

    allowedMethods = (b"GET", b"HEAD", b"POST")

    def render_GET(self, request: IRequest) -> bytes:
        values = request.args.get(b"msg")
        if not values:
            return plainText(
                request,
                400,
                b"400 Bad Request: missing the msg query argument,"
                b" as in /echo?msg=hello\n",
            )
        self._echoHeaders(request)
        first: bytes = values[0]
        return plainText(request, 200, first)

    def render_POST(self, request: IRequest) -> bytes:
        self._echoHeaders(request)
        request.setHeader(
            b"Content-Type", echoContentType(request.getHeader(b"Content-Type"))
        )
        body: bytes = request.content.read()
        return body

    @staticmethod
    def _echoHeaders(request: IRequest) -> None:
        for name, value in _ECHO_HEADERS:
            request.setHeader(name, value)


def buildResourceTree(page: bytes | None = None) -> IResource:
    """
    Build the site's resource tree.

    @param page: the HTML served at C{/}; by default the packaged page, read
        now, once.
    @return: the root resource.
    """
    root = NotFound()
    root.putChild(b"", IndexPage(loadPage() if page is None else page))
    root.putChild(b"echo", EchoResource())
    root.putChild(b"healthz", HealthResource())
    return root
