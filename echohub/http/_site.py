# -*- test-case-name: tests.http.test_site -*-
"""
The HTTP echo site: L{buildSite} and the Twisted request, channel and site
classes behind it.

What Twisted's L{twisted.web.server.Site} does not do, and these classes add:

    - A request body limit.  Twisted reads any body to the end (spooling
      large ones to a temporary file) before a resource sees the request.
      L{EchoChannel} answers C{413} as soon as the headers announce a
      C{Content-Length} over the limit, before any body byte is read and
      without sending C{100 Continue}; L{EchoRequest} counts the bytes of a
      chunked body as they arrive and has the channel answer C{413} the
      moment the count passes the limit.  Either way the request is never
      rendered, nothing after it on the connection is parsed, and the
      connection closes with a lingering close (L{echohub.ops.Lingering}):
      the rest of the body, which the client is still sending, is read and
      discarded, so the client reads the whole C{413} rather than a reset.
      The C{408}, C{414}, C{431} and C{400} refusals close the same way.
    - C{X-Content-Type-Options: nosniff} on every response, and
      C{text/plain} rather than C{text/html} as the default content type, so
      that no browser ever treats an echo as a page.
    - Plain-text C{400}, C{413} and C{500} responses instead of Twisted's
      bare or HTML ones.
    - C{Strict-Transport-Security} on every response over TLS when
      C{[web] hsts} is set (L{echohub.http._security}).
    - HTTP/1.1 only in this module: listeners serve the site through
      L{echohub.http._negotiate}, which offers ALPN C{h2} and accepts h2c
      prior knowledge and hands HTTP/2 connections to L{echohub.http._h2}.
"""

from __future__ import annotations

from collections.abc import Callable
from io import BytesIO
from typing import Any

from twisted.internet.interfaces import IAddress, IDelayedCall, IReactorTime
from twisted.internet.protocol import connectionDone
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web import http, server
from twisted.web.resource import IResource
from zope.interface import implementer

from echohub._net import cancelCall, formatAddress
from echohub.http._channel import HTTP11Channel
from echohub.http._interfaces import ILeanRoutes
from echohub.http._lean import DateCache, leanResponse
from echohub.http._policy import PLAIN_TEXT, HTTPLimits
from echohub.http._security import connectionHeaders
from echohub.ops import (
    ConnectionCaps,
    ConnectionRegistry,
    IDrainable,
    LingeringClose,
    Reason,
    ServiceAccess,
    logAccess,
)

_log = Logger()


@implementer(IDrainable)
class EchoChannel(HTTP11Channel):
    """
    An HTTP/1.1 channel that refuses request bodies over L{maxBody} bytes
    and can be drained by a stopping server; its deadlines and header limits
    are L{HTTP11Channel}'s.

    Once it has refused a request (L{refuse}) it ignores everything else the
    client sends: the refused request is never rendered and no pipelined
    request after it is parsed.

    @ivar maxBody: the largest accepted request body, in bytes; set by
        L{EchoSite.buildProtocol}.
    """

    site: EchoSite
    maxBody: int = 1024 * 1024
    _refused = False
    _draining = False
    _abortCall: IDelayedCall | None = None
    _linger: LingeringClose | None = None
    _admitted = False
    _peerText: str | None = None
    connectionHeaders: list[tuple[bytes, bytes]] = []

    def connectionMade(self) -> None:
        """
        Register for draining if the caps admit the peer; otherwise answer
        C{503} and close.
        """
        assert self.transport is not None
        self.connectionHeaders = connectionHeaders(self.site.hsts, self.transport)
        self._connectionLines = b"".join(
            name + b": " + value + b"\r\n" for name, value in self.connectionHeaders
        )
        super().connectionMade()
        refusal = self.site.access.admit(self.transport.getPeer(), self.site.listener)
        if refusal is not None:
            self.refuse(
                b"503 Service Unavailable",
                f"503 Service Unavailable: too many connections ({refusal});"
                " try again later\n",
                linger=False,
            )
            return
        self._admitted = True
        self.site.connections.add(self)

    def drain(self) -> None:
        """
        Close now if no request is in flight; otherwise finish the requests
        in flight, answer them with C{Connection: close}, and close.
        """
        self._draining = True
        if not self.requests:
            self.loseConnection()
            return
        self.persistent = False
        for request in self.requests:
            if not request.startedWriting:
                request.responseHeaders.setRawHeaders(b"Connection", [b"close"])

    def leanHandler(
        self, method: bytes, url: bytes, headers: list[tuple[bytes, bytes]]
    ) -> Callable[[bytes], None] | None:
        """
        Answer the site's lean routes directly (L{echohub.http._lean}) when
        the site has them and the connection is not draining.
        """
        site = self.site
        if site.lean is None or self._draining or site.connections.draining:
            return None
        match = site.lean.match(method, url, headers)
        if match is None:
            return None
        started = site.reactor.seconds()

        def answer(body: bytes) -> None:
            route, value = match
            head, content = leanResponse(
                route, value, body, self._connectionLines, site.dates.value()
            )
            self._send(head + content)
            site.leanAnswered(
                self.peerText(),
                method,
                url,
                route.echoes,
                len(body),
                len(content),
                site.reactor.seconds() - started,
            )

        return answer

    def peerText(self) -> str:
        """
        The client's address as the access log shows it, formatted once per
        connection (a TCP transport makes a new address object each time it
        is asked).
        """
        if self._peerText is None:
            assert self.transport is not None
            self._peerText = formatAddress(self.transport.getPeer())
        return self._peerText

    def checkPersistence(self, request: http.Request, version: bytes) -> bool:
        """
        A draining channel keeps no connection alive.
        """
        if self._draining:
            request.responseHeaders.setRawHeaders(b"Connection", [b"close"])
            return False
        return super().checkPersistence(request, version)

    def dataReceived(self, data: bytes) -> None:
        """
        Parse C{data}, unless a request was refused: after a refusal the
        parser is in the middle of a request it will never finish.
        """
        if not self._refused:
            super().dataReceived(data)
        elif self._linger is not None:  # lingering close
            self._linger.discard(data)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        """
        Cancel the abort a refusal scheduled, if any.
        """
        cancelCall(self._abortCall)
        if self._linger is not None:  # lingering close
            self._linger.connectionLost()
        self.site.connections.remove(self)
        if self._admitted:
            assert self.transport is not None
            self.site.access.release(self.transport.getPeer(), self.site.listener)
        super().connectionLost(reason)

    def logRejection(self, kind: str, format: str, **kwargs: object) -> None:
        """
        Count and log (rate-limited) a refusal by the HTTP limits.
        """
        assert self.transport is not None
        self.site.access.rejected(kind, format, self.transport.getPeer(), **kwargs)

    def refuseTooLarge(self) -> None:
        """
        Answer C{413} for a request body over the limit, and close.
        """
        self.site.access.rejected(
            Reason.TOO_LONG,
            "{service}: refused a request body over {limit} bytes from {peer}",
            self.transport.getPeer(),  # type: ignore[union-attr]
            limit=self.maxBody,
        )
        self.refuse(
            b"413 Content Too Large",
            f"413 Content Too Large: request bodies are limited to"
            f" {self.maxBody} bytes\n",
        )

    def refuse(self, status: bytes, reason: str, linger: bool = True) -> None:
        """
        Answer the current request with a plain-text error, close the
        connection, and ignore anything the client sends from now on.
        Only the first call on a connection answers.  The caller logs why,
        rate-limited (L{ServiceAccess.rejected}): a flood of refusals must
        not be a flood of log lines.

        The close is the service's lingering close: the client, which may
        still be sending the request being refused, can read the whole
        answer; the lingering bounds abort a client that does not let the
        connection close.  Without lingering (a refusal before the client
        sent anything) a client that stops reading has C{abortTimeout}
        seconds, then the connection is aborted.  The idle timeout stops
        either way.

        The response is written after what the connection has answered
        already, without a L{Request}: the request being refused may never
        have been fully parsed.

        @param status: the status code and reason phrase.
        @param reason: the body, one line for a human.
        @param linger: whether to close with a lingering close.
        """
        if self._refused:
            return
        self._refused = True
        self._stopDeadlineTimer()
        body = reason.encode("utf-8")
        assert self.transport is not None
        self.writeSequence(
            [
                b"HTTP/1.1 ",
                status,
                b"\r\nContent-Type: ",
                PLAIN_TEXT,
                b"\r\nX-Content-Type-Options: nosniff\r\nConnection: close"
                b"\r\nContent-Length: %d\r\nDate: %s\r\n"
                % (len(body), http.datetimeToString()),
                *(
                    name + b": " + value + b"\r\n"
                    for name, value in self.connectionHeaders
                ),
                b"\r\n",
                body,
            ]
        )
        self.site.countResponse(int(status[:3]))
        if linger:
            method, target = self.currentRequestLine()
            self.site.logAccess(
                formatAddress(self.transport.getPeer()),
                method,
                target,
                int(status[:3]),
                self._bodyReceived,
                len(body),
                self.site.reactor.seconds() - self.requestStartedAt,
            )
        self.setTimeout(None)
        if linger:  # lingering close
            # The lingering close unregisters this channel as the
            # transport's producer, and shuts the write side after what the
            # transport holds: hand it the answer first.
            self.flushWrites()
            self._registered = False
            self._linger = self.site.access.lingering.close(
                self.transport, self.site.reactor
            )
            # The parser's loop would go on with the rest of this read (the
            # transport is not "disconnecting" while it lingers): give it
            # nothing more to parse.
            rest, self._buffer = self._buffer, b""
            self._linger.discard(rest)
            return
        self.loseConnection()
        self._abortCall = self.callLater(self.abortTimeout, self.forceAbortClient)


class EchoRequest(server.Request):
    """
    A request that marks every response C{nosniff}, defaults to plain text
    and counts its body against the channel's limit.
    """

    # Twisted declares it an HTTPChannel; it is echohub's channel, which has
    # the interface twisted.web's Request uses.
    channel: EchoChannel  # type: ignore[assignment]
    # Twisted declares content as None until gotLength; here it is always the
    # BytesIO that gotLength makes.
    content: BytesIO  # type: ignore[assignment]
    defaultContentType = PLAIN_TEXT
    _bodyLength = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """
        Note when the request started, for the access log's duration.
        """
        super().__init__(*args, **kwargs)
        self.startedAt = self.channel.site.reactor.seconds()

    def gotLength(self, length: int | None) -> None:
        """
        Keep the body in memory whatever its announced length: it is capped
        at L{EchoChannel.maxBody} and the echo returns it from memory anyway,
        so Twisted's temporary file for bodies over 100 kB would only add
        disk I/O.
        """
        self.content = BytesIO()

    def handleContentChunk(self, data: bytes) -> None:
        """
        Store a piece of the body, or have the channel refuse the request
        once the body passes the limit.  Only a chunked body can get there:
        an announced length over the limit is refused before any body
        arrives.
        """
        self._bodyLength += len(data)
        if self._bodyLength > self.channel.maxBody:
            self.channel.refuseTooLarge()
        else:
            self.content.write(data)

    def process(self) -> None:
        """
        Set C{X-Content-Type-Options: nosniff}, then find and render the
        resource: every response to a request that reaches here carries it,
        including the C{404} and C{405} ones.
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


class EchoSite(server.Site):
    """
    A L{server.Site} whose connections are L{EchoChannel}s and whose
    requests are L{EchoRequest}s.

    Its channels are echohub's own (L{buildHTTP1Channel}), not Twisted's
    C{HTTPChannel} or its C{_GenericHTTPChannelProtocol} wrapper.

    Form bodies are not parsed into C{request.args}: the echo returns a
    body as it came, and parsing it would cost memory and turn a malformed
    multipart body into a C{400}.

    @ivar maxBody: the largest accepted request body, in bytes.
    @ivar limits: the deadlines and header limits of every connection.
    @ivar hsts: the C{Strict-Transport-Security} value for responses over
        TLS, or L{None} for none.
    @ivar lean: the routes channels answer themselves (L{ILeanRoutes}), or
        L{None} for none.
    @ivar dates: the C{Date} values of lean responses.
    """

    hsts: bytes | None = None
    lean: ILeanRoutes | None = None

    requestFactory = EchoRequest

    def __init__(
        self,
        resource: IResource,
        maxBody: int,
        timeout: float | None,
        reactor: IReactorTime | None = None,
        connections: ConnectionRegistry | None = None,
        access: ServiceAccess | None = None,
        listener: str = "web",
        limits: HTTPLimits | None = None,
        hsts: bytes | None = None,
        lean: ILeanRoutes | None = None,
    ) -> None:
        """
        @param resource: the root resource.
        @param maxBody: see L{maxBody}.
        @param timeout: the idle timeout in seconds, L{None} for none.
        @param reactor: for the idle timeout and the access log's clock.
        @param connections: where channels register for draining; a private
            registry by default.
        @param access: the service's caps, metrics and logs; by default no
            caps and no metrics.
        @param listener: the listener this site serves, as metrics label it.
        @param limits: deadlines and header limits; the defaults by default.
        @param hsts: see L{hsts}.
        @param lean: see L{lean}.
        """
        super().__init__(
            resource, timeout=timeout, reactor=reactor, parsePOSTFormSubmission=False
        )
        self.maxBody = maxBody
        self.connections = ConnectionRegistry() if connections is None else connections
        if access is None:
            access = ServiceAccess("web", ConnectionCaps(0, 0), self.reactor)
        self.access = access
        self.listener = listener
        self.limits = HTTPLimits() if limits is None else limits
        self.hsts = hsts
        self.lean = lean
        self.dates = DateCache()
        self._responseCounters: dict[int, Any] = {}

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
        bytesIn: int,
        bytesOut: int,
        duration: float,
    ) -> None:
        """
        Count and log a response of the lean path (L{echohub.web._lean}),
        over HTTP/1.1 or HTTP/2, as L{log} does a rendered request's.

        @param echoes: whether the answer was an echo.
        """
        self.countResponse(200)
        self.access.transferred(bytesIn, bytesOut)
        if echoes:
            self.access.echoed()
        self.logAccess(
            peer,
            method.decode("ascii"),
            target.decode("ascii", "replace"),
            200,
            bytesIn,
            bytesOut,
            duration,
        )

    def log(self, request: server.Request) -> None:  # type: ignore[override]
        """
        Write the access log line of one finished request, and count it.

        Instead of Twisted's combined log format, one event with the fields
        an operator filters on (and the JSON log keeps): peer, method, path,
        status, body bytes in and out, duration, in the shape L{logAccess}
        gives every service's lines.
        """
        assert isinstance(request, EchoRequest)
        self.countResponse(request.code)
        self.access.transferred(request._bodyLength, request.sentLength)
        if request.code == 200 and request.path == b"/echo":
            self.access.echoed()
        channel = request.channel
        self.logAccess(
            channel.peerText()
            if isinstance(channel, EchoChannel)
            else formatAddress(request.getClientAddress()),
            request.method.decode("ascii", "replace"),
            request.uri.decode("ascii", "replace"),
            request.code,
            request._bodyLength,
            request.sentLength,
            self.reactor.seconds() - request.startedAt,
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
    ) -> None:
        """
        Write one access-log line: for a rendered request (L{log}) or for a
        refusal by the channel (C{400}, C{408}, C{413}, C{414}, C{431}),
        whose method and target are C{-} when they never arrived.
        """
        logAccess(
            _log,
            "web",
            peer,
            bytesIn,
            bytesOut,
            duration,
            f"{method} {path} {status}",
            method=method,
            path=path,
            status=status,
            listener=self.listener,
        )

    def buildProtocol(  # type: ignore[override]
        self, addr: IAddress | None
    ) -> EchoChannel:
        """
        Build the channel of a new connection: L{buildHTTP1Channel}.
        """
        return self.buildHTTP1Channel(addr)

    def buildHTTP1Channel(self, addr: IAddress | None) -> EchoChannel:
        """
        Build an HTTP/1.1 channel with this site's limits: the one place
        channels are made, which a protocol selector (ALPN, the HTTP/2
        preface) calls for HTTP/1.1.
        """
        channel = EchoChannel()
        channel.factory = self
        channel.site = self
        channel.requestFactory = self.requestFactory
        # TimeoutMixin types it int; any number of seconds works.
        channel.timeOut = self.timeOut  # type: ignore[assignment]
        channel.callLater = self.reactor.callLater
        channel.maxBody = self.maxBody
        channel.setLimits(self.limits, self.reactor)
        return channel

    def acceptableProtocols(self) -> list[bytes]:
        """
        Offer only HTTP/1.1 over ALPN when the site itself is the factory:
        HTTP/2 is offered by the negotiating factory that listeners serve
        (L{echohub.http._negotiate}), never by the site directly.
        """
        return [b"http/1.1"]
