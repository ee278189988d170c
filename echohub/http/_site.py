# -*- test-case-name: tests.http.test_site -*-
"""
The twisted.web site the HTTP wire serves (L{HTTPSite}) and the request
every channel makes (L{HTTPRequest}), whatever the HTTP version.

What Twisted's own L{twisted.web.server.Site} and L{Request} do not do, and
these add:

    - The limits, deadlines and refusals of the one policy
      (L{echohub.http._policy}), counted and logged here for both versions
      (L{HTTPSite.refused}); Twisted reads any body to the end, spooling
      large ones to a temporary file, before a resource sees the request.
    - C{X-Content-Type-Options: nosniff} on every response, and
      C{text/plain} rather than C{text/html} as the default content type, so
      that no browser ever treats an echo as a page.
    - Plain-text C{500} responses instead of Twisted's HTML ones.
    - The connection's own headers (C{Strict-Transport-Security} over TLS
      with C{[web] hsts}, L{echohub.http._security}) on every response.
    - One access-log line per response, refusal and lean answer, in the
      shape every echohub service logs (L{echohub.ops.logAccess}), and the
      response counters.

Listeners serve the site through L{echohub.http._negotiate}, which speaks
HTTP/1.1 (L{echohub.http._channel}) or HTTP/2 (L{echohub.http._h2}).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from io import BytesIO
from typing import Any

from twisted.internet.interfaces import IAddress, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web import http, server
from twisted.web.resource import IResource

from echohub._net import formatAddress
from echohub.http._channel import HTTP1Channel
from echohub.http._interfaces import ILeanRoutes, IStreamRoutes
from echohub.http._lean import DateCache
from echohub.http._policy import PLAIN_TEXT, HTTPLimits, Refusal
from echohub.ops import (
    ConnectionCaps,
    ConnectionRegistry,
    RequestLog,
    ServiceAccess,
    logAccess,
)

_log = Logger()


class HTTPRequest(server.Request):
    """
    A request that marks every response C{nosniff}, adds the connection's
    headers, defaults to plain text and keeps its body in memory.
    """

    # Twisted declares it an HTTPChannel; it is one of echohub's channels,
    # which have the interface twisted.web's Request uses.
    channel: Any
    # Twisted declares content as None until gotLength; here it is always the
    # BytesIO that gotLength makes.
    content: BytesIO  # type: ignore[assignment]
    defaultContentType = PLAIN_TEXT
    bodyLength = 0
    # The reason phrases of this request's response by status, where a
    # resource on its way has chosen others than Twisted's (httpbin's
    # routes answer with httpbin's); None for Twisted's.
    reasons: Mapping[int, bytes] | None = None
    accessLogged = False
    """
    Whether the resource wrote this request's access-log line itself (a
    gRPC-Web call, whose line says its gRPC status): the site then counts
    the response but writes no line of its own.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """
        Note when the request started, for the access log's duration.
        """
        super().__init__(*args, **kwargs)
        self.startedAt = self.channel.site.reactor.seconds()

    def setResponseCode(self, code: int, message: bytes | None = None) -> None:
        """
        Set the status, with its reason phrase from L{reasons} when a
        resource chose them and no phrase is given.
        """
        if message is None and self.reasons is not None:
            message = self.reasons.get(code)
        super().setResponseCode(code, message)

    def gotLength(self, length: int | None) -> None:
        """
        Keep the body in memory whatever its announced length: the channels
        cap it at C{max_body} and the echo returns it from memory anyway, so
        Twisted's temporary file for bodies over 100 kB would only add disk
        I/O.
        """
        self.content = BytesIO()

    def handleContentChunk(self, data: bytes) -> None:
        """
        Store a piece of the body (within the limit: the channels refuse a
        body that passes it before handing it on).
        """
        self.bodyLength += len(data)
        self.content.write(data)

    def process(self) -> None:
        """
        Set C{X-Content-Type-Options: nosniff} and the connection's headers,
        then find and render the resource: every response to a request that
        reaches here carries them, including the C{404} and C{405} ones.
        """
        self.setHeader(b"X-Content-Type-Options", b"nosniff")
        for name, value in self.channel.connectionHeaders:
            self.setHeader(name, value)
        super().process()

    def processingFailed(self, reason: Failure) -> Failure:
        """
        Log an exception raised while rendering and answer a plain-text
        C{500} rather than Twisted's HTML page.
        """
        _log.failure("Failed to render {request!r}", failure=reason, request=self)
        body = b"500 Internal Server Error\n"
        self.setResponseCode(http.INTERNAL_SERVER_ERROR)
        self.setHeader(b"Content-Type", PLAIN_TEXT)
        self.setHeader(b"Content-Length", b"%d" % (len(body),))
        self.write(body)
        self.finish()
        return reason


class HTTPSite(server.Site):
    """
    A L{server.Site} whose connections are echohub's channels and whose
    requests are L{HTTPRequest}s.

    Form bodies are not parsed into C{request.args}: the echo returns a
    body as it came, and parsing it would cost memory and turn a malformed
    multipart body into a C{400}.

    @ivar limits: the limits and deadlines of every connection (the one
        policy's).
    @ivar hsts: the C{Strict-Transport-Security} value for responses over
        TLS, or L{None} for none.
    @ivar lean: the routes channels answer themselves (L{ILeanRoutes}), or
        L{None} for none.
    @ivar streamRoutes: the HTTP/2 requests served by stream handlers rather
        than twisted.web (L{IStreamRoutes}), or L{None} for none.
    @ivar dates: the C{Date} values of the wire's own answers.
    @ivar connections: where connections register for draining.
    @ivar access: the service's caps, metrics and logs.
    @ivar listener: the listener this site serves, as metrics label it.
    @ivar requestLog: what C{[log] requests} logs of each request, or
        L{None} for nothing.
    """

    requestFactory = HTTPRequest

    def __init__(
        self,
        resource: IResource,
        limits: HTTPLimits | None = None,
        reactor: IReactorTime | None = None,
        connections: ConnectionRegistry | None = None,
        access: ServiceAccess | None = None,
        listener: str = "web",
        hsts: bytes | None = None,
        lean: ILeanRoutes | None = None,
        streamRoutes: IStreamRoutes | None = None,
        requestLog: RequestLog | None = None,
    ) -> None:
        """
        @param resource: the root resource.
        @param limits: the limits; the defaults by default.
        @param reactor: for the deadlines and the access log's clock.
        @param connections: see L{connections}; a private registry by
            default.
        @param access: see L{access}; by default no caps and no metrics.
        @param listener: see L{listener}.
        @param hsts: see L{hsts}.
        @param lean: see L{lean}.
        @param streamRoutes: see L{streamRoutes}.
        @param requestLog: see L{requestLog}.
        """
        self.limits = HTTPLimits() if limits is None else limits
        super().__init__(
            resource,
            timeout=self.limits.idleTimeout,
            reactor=reactor,
            parsePOSTFormSubmission=False,
        )
        self.connections = ConnectionRegistry() if connections is None else connections
        if access is None:
            access = ServiceAccess("web", ConnectionCaps(0, 0), self.reactor)
        self.access = access
        self.listener = listener
        self.hsts = hsts
        self.lean = lean
        self.streamRoutes = streamRoutes
        self.requestLog = requestLog
        self.dates = DateCache()
        self._responseCounters: dict[int, Any] = {}

    def refused(self, refusal: Refusal, peer: IAddress, **parameters: object) -> bytes:
        """
        Count and log (rate-limited) a refusal of a request from C{peer},
        and give the body of its answer: the one place both HTTP versions
        refuse through.

        @param parameters: the refusal's own (C{version}, C{why}...).
        """
        if refusal.reason:
            self.access.rejected(
                refusal.reason,
                refusal.log,
                peer,
                **self.limits.parameters(),
                **parameters,
            )
        return refusal.answer(self.limits, **parameters)

    def countResponse(self, code: int) -> None:
        """
        Count one response by status code in the metrics.

        Each code's labelled counter is looked up once: C{labels()} costs
        more than the increment.
        """
        counter = self._responseCounters.get(code)
        if counter is None:
            if self.access.metrics is None:
                return
            counter = self.access.metrics.httpRequests.labels(str(code))
            self._responseCounters[code] = counter
        counter.inc()

    def leanAnswered(
        self,
        peer: str,
        method: bytes,
        target: bytes,
        echoes: bool,
        body: bytes,
        bytesOut: int,
        duration: float,
        version: str,
        secure: bool,
        headers: list[tuple[bytes, bytes]],
    ) -> None:
        """
        Count and log an answer of the lean path (L{echohub.http._lean}),
        over HTTP/1.1 or HTTP/2, as L{log} does a rendered request's.

        @param echoes: whether the answer was an echo.
        @param body: the request's body.
        @param headers: the request's header fields, as received.
        """
        self.countResponse(200)
        self.access.transferred(len(body), bytesOut)
        if echoes:
            self.access.echoed()
        agent = None
        for name, value in headers:
            if name.lower() == b"user-agent":
                agent = value
        if self.requestLog is not None:
            self.requestLog.log(peer, method, target, version, headers, body)
        self.logAccess(
            peer,
            method.decode("ascii"),
            target.decode("ascii", "replace"),
            200,
            len(body),
            bytesOut,
            duration,
            version,
            secure,
            agent,
        )

    def log(self, request: server.Request) -> None:  # type: ignore[override]
        """
        Write the access log line of one finished request, and count it.

        Instead of Twisted's combined log format, one event with the fields
        an operator filters on (and the JSON log keeps): peer, method, path,
        status, body bytes in and out, duration, HTTP version, TLS and
        C{User-Agent}, in the shape L{logAccess} gives every service's
        lines.  With C{[log] requests}, the request itself is logged first.
        """
        assert isinstance(request, HTTPRequest)
        self.countResponse(request.code)
        self.access.transferred(request.bodyLength, request.sentLength)
        if request.code == 200 and request.path == b"/echo":
            self.access.echoed()
        if request.accessLogged:
            return
        peerText = getattr(request.channel, "peerText", None)
        peer = (
            peerText()
            if peerText is not None
            else formatAddress(request.getClientAddress())
        )
        version = request.clientproto.decode("ascii", "replace")
        if self.requestLog is not None:
            head = getattr(request, "rawHead", None)
            self.requestLog.log(
                peer,
                request.method,
                request.uri,
                version,
                head.headers
                if head is not None
                else [
                    (name, value)
                    for name, values in request.requestHeaders.getAllRawHeaders()
                    for value in values
                ],
                request.content.getvalue(),
            )
        self.logAccess(
            peer,
            request.method.decode("ascii", "replace"),
            request.uri.decode("ascii", "replace"),
            request.code,
            request.bodyLength,
            request.sentLength,
            self.reactor.seconds() - request.startedAt,
            version,
            request.isSecure(),
            request.getHeader(b"user-agent"),
        )

    def logAccess(
        self,
        peer: str,
        method: str,
        path: str,
        status: int,
        bytesIn: int,
        bytesOut: int,
        duration: float,
        version: str = "-",
        secure: bool = False,
        agent: bytes | None = None,
    ) -> None:
        """
        Write one access-log line, and count the response: for a rendered
        request (L{log}), a lean answer, or a refusal by the wire (C{400},
        C{408}, C{413}, C{414}, C{431}, C{505}), whose method and target are
        C{-} when they never arrived.  The line ends with the HTTP version,
        C{tls} or C{plain}, and the C{User-Agent} quoted (escaped, so that
        a client cannot write a line of its own), C{-} when none was sent.

        @param version: C{HTTP/1.1}, C{HTTP/1.0} or C{HTTP/2}.
        @param secure: whether the connection is TLS.
        @param agent: the request's C{User-Agent}.
        """
        agentText = "-"
        userAgent = None
        if agent is not None:
            userAgent = agent.decode("utf-8", "replace")
            # Most agents need no escaping: skip json.dumps for them.
            if (
                userAgent.isascii()
                and userAgent.isprintable()
                and '"' not in userAgent
                and "\\" not in userAgent
            ):
                agentText = f'"{userAgent}"'
            else:
                agentText = json.dumps(userAgent)
        transport = "tls" if secure else "plain"
        logAccess(
            _log,
            "web",
            peer,
            bytesIn,
            bytesOut,
            duration,
            f"{method} {path} {status}",
            f", {version} {transport}, {agentText}",
            method=method,
            path=path,
            status=status,
            listener=self.listener,
            version=version,
            tls=secure,
            user_agent=userAgent,
        )

    def buildProtocol(  # type: ignore[override]
        self, addr: IAddress | None
    ) -> HTTP1Channel:
        """
        Build the channel of a new connection: L{buildHTTP1Channel}.
        """
        return self.buildHTTP1Channel(addr)

    def buildHTTP1Channel(self, addr: IAddress | None) -> HTTP1Channel:
        """
        Build an HTTP/1.1 channel: the one place they are made, which a
        protocol selector (ALPN, the HTTP/2 preface) calls for HTTP/1.1.
        """
        return HTTP1Channel(self)

    def acceptableProtocols(self) -> list[bytes]:
        """
        Offer only HTTP/1.1 over ALPN when the site itself is the factory:
        HTTP/2 is offered by the negotiating factory that listeners serve
        (L{echohub.http._negotiate}), never by the site directly.
        """
        return [b"http/1.1"]
