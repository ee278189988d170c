# -*- test-case-name: tests.web.test_tree -*-
"""
The resource tree of the HTTP echo site, and its own pages.

    - C{/}: the live page (L{IndexPage}): echo by HTTP and WebSocket, an SSE
      stream, the request details, the endpoint index.
    - C{/echo}: C{GET}/C{HEAD} echo the C{msg} query argument, C{POST} echoes
      the request body (L{EchoResource}).
    - C{/healthz}: C{ok} for load balancers and probes (L{HealthResource}).
    - C{/tls}: the connection's TLS facts (L{echohub.web._tlsresource}).
    - C{/ws} (and go-httpbin's C{/websocket/echo}): the WebSocket echo
      (L{echohub.websocket}), by HTTP/1.1's upgrade here, and by HTTP/2's
      extended C{CONNECT} at the same paths (L{webSocketPaths}) through the
      site's stream routes.
    - httpbin's and go-httpbin's routes (C{/anything}, C{/get}, C{/status},
      C{/delay}, C{/stream}...), from their one table
      (L{echohub.web.httpbin.httpbinRoutes}).
    - anything else: a plain-text C{404} (L{NotFound}), or with C{[web]
      echo_any_path} the catch-all echo (L{echohub.web._anypath}); a known
      route asked with a method it does not answer keeps its C{405}.

The httpbin routes answer with httpbin's reason phrases ("404 NOT FOUND"),
every other resource with the RFC's.

With C{[web] prefix} (as C{/echohub}) the whole tree is served under that
path, for a proxy that forwards one path to echohub; the page's links and
every redirect follow it.

Every HTTP resource derives from L{PlainTextResource}
(L{echohub.web.httpbin}): plain-text errors, C{HEAD} from C{GET}, C{405}
with C{Allow}.  Nothing a client sends is ever served with an HTML or XML
content type, so the echo cannot be used to inject script into this origin.
CORS, off by default, is applied by the root to every response (L{Root}).

The request body limit, C{X-Content-Type-Options: nosniff}, the deadlines
and the idle timeout are the HTTP wire's business (L{echohub.http}), not the
resources'.
"""

from __future__ import annotations

import re
from base64 import b64encode
from hashlib import sha256
from html import escape
from importlib import resources
from typing import Any

from twisted.web.iweb import IRequest
from twisted.web.resource import IResource, getChildForRequest

from echohub.config import WebConfig, WebSocketConfig
from echohub.faults import FaultPolicy
from echohub.http import plainText
from echohub.tls import SCENARIOS
from echohub.web._anypath import AnyPathEcho
from echohub.web._cors import CORSPolicy
from echohub.web._faults import ECHO_ROUTES, applyFault
from echohub.web._tlsresource import TLSResource
from echohub.web.httpbin import (
    ECHO_HEADERS,
    HTTPBIN_REASONS,
    InspectionPolicy,
    NotFound,
    PlainTextResource,
    directory,
    echoContentType,
    httpbinRoutes,
)
from echohub.websocket import WebSocketResource

WEBSOCKET_PATHS = (b"/ws", b"/websocket/echo")
"""
The paths of the WebSocket echo, under C{[web] prefix}.
"""


def webSocketPaths(config: WebConfig) -> tuple[bytes, ...]:
    """
    The WebSocket echo's paths as clients ask for them: L{WEBSOCKET_PATHS}
    under C{[web] prefix}.
    """
    prefix = InspectionPolicy.fromConfig(config).prefix.encode()
    return tuple(prefix + path for path in WEBSOCKET_PATHS)


def loadPage() -> bytes:
    """
    Read the HTML page shipped as package data (C{echohub/web/static/index.html}).

    Called once when the resource tree is built, so serving C{/} costs no I/O.
    """
    return (resources.files("echohub.web") / "static" / "index.html").read_bytes()


def pagePolicy(page: bytes) -> bytes:
    """
    The C{Content-Security-Policy} of the page: its own inline script and
    style, by hash, and connections to this origin (HTTP, WebSocket, SSE);
    nothing else.  No C{'unsafe-inline'}: an echo that somehow ended up in
    the page could not run.
    """

    def hashes(tag: bytes) -> bytes:
        blocks = re.findall(b"<" + tag + b">(.*?)</" + tag + b">", page, re.DOTALL)
        return b" ".join(
            b"'sha256-" + b64encode(sha256(block).digest()) + b"'" for block in blocks
        )

    return (
        b"default-src 'none'; script-src "
        + (hashes(b"script") or b"'none'")
        + b"; style-src "
        + (hashes(b"style") or b"'none'")
        + b"; connect-src 'self' ws: wss:; form-action 'self'; base-uri 'none';"
        b" frame-ancestors 'none'"
    )


def scenarioPage(page: bytes, scenario: str) -> bytes:
    """
    The page of a TLS scenario listener (L{echohub.tls.SCENARIOS}): the
    same page, opening with what failure the listener is meant to produce,
    as badssl.com's pages do.  Plain markup, no script or style: the page's
    policy (L{pagePolicy}) is unchanged.
    """
    found = SCENARIOS[scenario]
    note = (
        f'<p class="lead" id="tls-scenario"><strong>TLS scenario'
        f" {escape(found.name)}</strong>: {escape(found.failure)}. A client that"
        f" checks certificates should refuse this connection with"
        f" <em>{escape(found.expect)}</em>; if you are reading this, yours did"
        f" not (or you trusted it on purpose).</p>"
    ).encode()
    return page.replace(b"<main>", b"<main>\n" + note, 1)


class IndexPage(PlainTextResource):
    """
    The HTML page at C{/}: one self-contained page (no external reference)
    where a person echoes a message by HTTP and WebSocket, watches an SSE
    stream and sees the request details, with the endpoint index.  Its form
    still echoes through C{/echo} without JavaScript.

    @ivar page: the UTF-8 encoded page.
    @ivar policy: its C{Content-Security-Policy} (L{pagePolicy}).
    """

    def __init__(self, page: bytes) -> None:
        super().__init__()
        self.page = page
        self.policy = pagePolicy(page)

    def render_GET(self, request: IRequest) -> bytes:
        request.setHeader(b"Content-Type", b"text/html; charset=utf-8")
        request.setHeader(b"Cache-Control", b"no-cache")
        request.setHeader(b"Content-Security-Policy", self.policy)
        return self.page


class HealthResource(PlainTextResource):
    """
    C{/healthz}: C{200 ok} while the process serves; C{503 draining} once it
    has begun to stop, so that a load balancer sends it nothing more while
    its open connections finish.  The state is the site's connection
    registry's (L{echohub.ops._connections.ConnectionRegistry.draining}).
    """

    def render_GET(self, request: IRequest) -> bytes:
        request.setHeader(b"Cache-Control", b"no-store")
        site = getattr(request.channel, "site", None)  # type: ignore[attr-defined]
        if getattr(getattr(site, "connections", None), "draining", False):
            return plainText(request, 503, b"draining\n")
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
        for name, value in ECHO_HEADERS:
            request.setHeader(name, value)


class Root(NotFound):
    """
    The root of the tree: its children are the site's resources, and it
    applies the CORS policy to every request on the way to them, answering
    preflights itself.

    @ivar cors: the CORS policy.
    @ivar httpbin: the first path segments of the httpbin routes, whose
        responses get httpbin's reason phrases.
    @ivar fallback: the resource for every path nothing else serves (the
        catch-all echo), or L{None} for C{404}.
    @ivar faults: the listener's faults (L{echohub.web._faults}), or
        L{None}.
    """

    def __init__(
        self,
        cors: CORSPolicy,
        prefix: str = "",
        httpbin: frozenset[bytes] = frozenset(),
        fallback: IResource | None = None,
        faults: FaultPolicy | None = None,
        clock: Any = None,
    ) -> None:
        super().__init__()
        self.cors = cors
        self.prefix = prefix
        self.httpbin = httpbin
        self.fallback = fallback
        self.faults = faults
        self.clock = clock
        self._preflight = _Preflight()

    def respond(self, request: IRequest, method: bytes) -> bytes:
        """
        Under a prefix, C{/prefix} itself redirects to C{/prefix/}, where
        the page is and against which its relative links resolve.
        """
        if self.prefix and request.path == self.prefix.encode():
            request.setHeader(b"Location", self.prefix.encode() + b"/")
            return plainText(request, 301, b"")
        return super().respond(request, method)

    def getChildWithDefault(self, path: bytes, request: IRequest) -> IResource:
        """
        Every request passes here first: add its CORS headers, choose its
        reason phrases, and with a fallback find the resource of the whole
        path here, so that a path no route serves, at any depth, gets the
        fallback.
        """
        if self.cors.apply(request):
            return self._preflight
        if path in self.httpbin:
            # HTTPRequest's hook (echohub.http); IRequest does not declare it.
            request.reasons = HTTPBIN_REASONS  # type: ignore[attr-defined]
        if self.faults is not None and path in ECHO_ROUTES:
            refused = applyFault(request, self.faults, self.clock)
            if refused is not None:
                return _Refused(refused)
        child: IResource = super().getChildWithDefault(path, request)
        if self.fallback is None:
            return child
        found: IResource = getChildForRequest(child, request)
        return self.fallback if isinstance(found, NotFound) else found


class _Refused(PlainTextResource):
    """
    The plain-text C{400} for a request whose fault control is wrong.
    """

    isLeaf = True

    def __init__(self, why: str) -> None:
        super().__init__()
        self.why = why

    def render(self, request: IRequest) -> bytes:
        return plainText(request, 400, f"400 Bad Request: {self.why}\n".encode())


class _Preflight(PlainTextResource):
    """
    The empty C{204} answer to a CORS preflight whose headers
    L{CORSPolicy.apply} has set.
    """

    allowedMethods = (b"OPTIONS",)
    isLeaf = True

    def render_OPTIONS(self, request: IRequest) -> bytes:
        return b""


def buildResourceTree(
    config: WebConfig | None = None,
    websocket: WebSocketConfig | None = None,
    clock: Any = None,
    page: bytes | None = None,
    faults: FaultPolicy | None = None,
    scenario: str | None = None,
    extra: dict[bytes, IResource] | None = None,
) -> NotFound:
    """
    Build the site's resource tree.

    @param config: the web settings (limits, CORS, sensitive headers).
    @param websocket: the WebSocket settings.
    @param clock: the reactor for delays, streams and pings; the global one
        by default.
    @param page: the HTML served at C{/}; by default the packaged page, read
        now, once.
    @param faults: the listener's faults, applied to the echo routes.
    @param scenario: the TLS scenario the listener serves, which its page
        names (L{scenarioPage}).
    @param extra: more children of the root (the gRPC-Web services).
    @return: the resource to serve: the root, or under C{[web] prefix} the
        resource whose descendant at that path is the root.
    """
    if config is None:
        config = WebConfig()
    if websocket is None:
        websocket = WebSocketConfig()
    if clock is None:
        from twisted.internet import reactor as clock
    policy = InspectionPolicy.fromConfig(config)
    httpbin = httpbinRoutes(config, policy, clock)
    root = Root(
        CORSPolicy.fromConfig(config.cors_origins, config.cors_credentials),
        policy.prefix,
        frozenset(httpbin),
        AnyPathEcho(policy, clock, config.max_delay) if config.echo_any_path else None,
        faults,
        clock,
    )
    sockets = WebSocketResource(websocket, clock)
    if page is None:
        page = loadPage()
    if scenario is not None:
        page = scenarioPage(page, scenario)
    children: dict[bytes, IResource] = {
        b"": IndexPage(page),
        b"echo": EchoResource(),
        b"healthz": HealthResource(),
        b"tls": TLSResource(),
        **httpbin,
        **(extra or {}),
    }
    for path in WEBSOCKET_PATHS:
        first, *rest = path[1:].split(b"/")
        leaf: IResource = sockets
        for segment in reversed(rest):
            leaf = directory(segment, leaf)
        children[first] = leaf
    for name, child in children.items():
        root.putChild(name, child)
    top: NotFound = root
    for segment in reversed(policy.prefix.encode().split(b"/")[1:]):
        top = directory(segment, top)
    return top
