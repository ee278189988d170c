# -*- test-case-name: tests.http.test_channel,tests.http.test_site -*-
"""
The HTTP/1.1 channel: the Twisted shell over the I/O-free request framer
(L{echohub.http._framer}), handing each request to a twisted.web
L{Request} through the channel interface L{Request} uses (the one Twisted's
own C{H2Stream} also implements): C{getPeer}, C{getHost}, C{isSecure},
C{write}, C{writeSequence}, C{writeHeaders}, C{requestDone},
C{registerProducer}, C{unregisterProducer}, C{loseConnection}, C{site},
C{factory}, C{requests}.  No private L{twisted.web.http.HTTPChannel}
internal is used.

What the framer does not do, because it needs a clock or a socket, is
here, by the one policy (L{echohub.http._policy}):

    - B{Admission}: a connection over the caps gets C{503} and is closed.
    - B{Deadlines}: the headers within C{header_timeout} of the connection
      (or of the first byte of a later request), not extended by progress;
      the body by L{BodyClock}'s rule; the idle rule (L{IdleTimer}).  A
      late request gets C{408}.
    - B{Refusals}: the refusal's plain-text answer after whatever the
      connection answered before, then a lingering close
      (L{echohub.ops.Lingering}): the rest of what the client sends is read
      and discarded, so that it reads the whole answer rather than a reset.
    - B{One request at a time}: bytes that arrive while a request is
      handled stay unparsed; reading stops when they pass
      L{PIPELINE_BUFFER} bytes or while the client does not read its
      responses (the channel is its transport's streaming producer, and
      pauses the response's producer too).
    - B{Persistence}: the framer's decision, kept by the response's
      C{Connection} header (C{keep-alive} for HTTP/1.0, C{close} when the
      connection ends); an HTTP/1.0 response without a length ends it.
    - B{One write per read}: what the requests of a read answer is gathered
      and sent in one write at its end (L{echohub.ops.fastWrite}).
    - B{The lean path}: a request for one of the site's lean routes
      (L{echohub.http.ILeanRoutes}) is answered without a L{Request}.
    - B{Upgrade}: after a C{101} the connection belongs to the protocol the
      site hands it to (L{upgrade}), with the bytes read after the request.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from twisted.internet.interfaces import (
    IAddress,
    IDelayedCall,
    IProducer,
    IPushProducer,
    ISSLTransport,
)
from twisted.internet.protocol import Protocol, connectionDone
from twisted.python.failure import Failure
from twisted.web import http
from twisted.web.http_headers import Headers
from zope.interface import implementer

from echohub._net import cancelCall, formatAddress
from echohub.http._framer import (
    END,
    Body,
    Refused,
    RequestFramer,
    RequestHead,
)
from echohub.http._head import RawHead
from echohub.http._interfaces import ILeanRoute
from echohub.http._lean import leanResponse
from echohub.http._policy import (
    BODY_TIMEOUT,
    HEADERS_TIMEOUT,
    MALFORMED,
    OVER_CAPS,
    PLAIN_TEXT,
    BodyClock,
    Deadline,
    IdleTimer,
    Refusal,
    bodilessHeaders,
)
from echohub.http._security import connectionHeaders
from echohub.ops import IDrainable, LingeringClose, fastWrite

if TYPE_CHECKING:
    from echohub.http._site import HTTPSite

PIPELINE_BUFFER = 65536
"""
Unparsed bytes kept while a request is handled, before reading stops.
"""

ABORT_TIMEOUT = 15.0
"""
Seconds a connection closed without lingering has to go away before it is
aborted.
"""


@implementer(IPushProducer, IDrainable)
class HTTP1Channel(Protocol):
    """
    One HTTP/1.x connection of an L{HTTPSite}; see the module docstring.

    @ivar site: the site whose resources, limits and logs serve it.
    @ivar factory: the site too, as twisted.web's L{Request} expects.
    @ivar requests: the request being handled, if any (a list for
        twisted.web's sake; it never holds more than one).
    @ivar persistent: whether the connection goes on after the current
        response.
    @ivar connectionHeaders: the headers every response on this connection
        carries (C{Strict-Transport-Security} over TLS).
    """

    persistent = True

    def __init__(self, site: HTTPSite) -> None:
        self.site = self.factory = site
        self.requests: list[http.Request] = []
        self.connectionHeaders: list[tuple[bytes, bytes]] = []
        self._clock = site.reactor
        self._framer = RequestFramer(site.limits)
        self._deadline = Deadline(site.reactor)
        self._idle: IdleTimer | None = None
        self._body: BodyClock | None = None
        self._head: RequestHead | None = None
        self._request: http.Request | None = None
        self._lean: tuple[ILeanRoute, bytes] | None = None
        self._leanBody: list[bytes] = []
        self._out: list[bytes] | None = None
        self._requestProducer: IProducer | None = None
        self._requestProducerStreaming = True
        self._pullCall: IDelayedCall | None = None
        self._replayCall: IDelayedCall | None = None
        self._abortCall: IDelayedCall | None = None
        self._linger: LingeringClose | None = None
        self._upgraded: Protocol | None = None
        self._peer: IAddress | None = None
        self._host: IAddress | None = None
        self._peerText: str | None = None
        self._secure: bool | None = None
        self._connectionLines = b""
        self._started = 0.0
        self._now = 0.0
        self._refused = False
        self._draining = False
        self._admitted = False
        self._registered = False
        self._writePaused = False
        self._readPaused = False
        self._processing = False
        self._lost = False

    # The connection.

    def connectionMade(self) -> None:
        """
        Become the transport's producer, admit the peer (or answer C{503}),
        and start the header deadline (from the connection: a client that
        says nothing is held to it too) and the idle rule.
        """
        transport: Any = self.transport
        site = self.site
        self.connectionHeaders = connectionHeaders(site.hsts, transport)
        self._connectionLines = b"".join(
            name + b": " + value + b"\r\n" for name, value in self.connectionHeaders
        )
        transport.registerProducer(self, True)
        self._registered = True
        cap = site.access.admit(self.getPeer(), site.listener)
        if cap is not None:
            self._refuse(OVER_CAPS, linger=False, cap=cap)
            return
        self._admitted = True
        site.connections.add(self)
        self._idle = IdleTimer(
            self._clock, site.limits.idleTimeout, self._busy, self._idleExpired
        )
        self._startHeaderDeadline()

    def dataReceived(self, data: bytes) -> None:
        """
        Frame C{data}, or keep it while a request is handled or the client
        does not read; what the requests of this read answer goes out in
        one write at the end of it.
        """
        if self._upgraded is not None:
            self._upgraded.dataReceived(data)
            return
        if self._refused:
            if self._linger is not None:  # lingering close
                self._linger.discard(data)
            return
        now = self._now = self._clock.seconds()
        if self._idle is not None:
            self._idle.touch(now)
        framer = self._framer
        if self._deadline.handler is None and framer.readingHead:
            self._startHeaderDeadline(now)
        framer.receive(data)
        if self._out is not None:
            self._process()
            return
        self._out = []
        try:
            self._process()
        finally:
            self.flushWrites()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        """
        Stop every timer, tell the request in flight, leave the registry
        and release the caps; then tell the protocol the connection was
        handed to, if any.
        """
        self._lost = True
        self._out = None
        self._deadline.stop()
        if self._idle is not None:
            self._idle.stop()
        for call in (self._pullCall, self._replayCall, self._abortCall):
            cancelCall(call)
        if self._linger is not None:  # lingering close
            self._linger.connectionLost()
        for request in list(self.requests):
            request.connectionLost(reason)
        self.site.connections.remove(self)
        if self._admitted:
            self._admitted = False
            self.site.access.release(self.getPeer(), self.site.listener)
        if self._upgraded is not None:
            self._upgraded.connectionLost(reason)

    def drain(self) -> None:
        """
        Close now if no request is in flight; otherwise finish it, answer it
        with C{Connection: close}, and close.
        """
        self._draining = True
        if not self.requests:
            self.loseConnection()
            return
        self.persistent = False
        for request in self.requests:
            if not request.startedWriting:
                request.responseHeaders.setRawHeaders(b"Connection", [b"close"])

    # Framing: one request at a time, so that nothing behind a refused or
    # closing request is ever parsed.

    def _process(self) -> None:
        if self._processing or self._stopped():
            return
        self._processing = True
        framer = self._framer
        try:
            while True:
                event = framer.next()
                kind = event.__class__
                if kind is Body:
                    self._bodyReceived(event.data)  # type: ignore[union-attr]
                elif event is END:
                    self._requestComplete()
                    if self._stopped():
                        break
                elif kind is RequestHead:
                    self._headReceived(event)  # type: ignore[arg-type]
                elif kind is Refused:
                    self._refusedByFramer(event)  # type: ignore[arg-type]
                    break
                else:  # NEED_DATA, PAUSED
                    break
        finally:
            self._processing = False
        if self._upgraded is not None:
            rest = framer.rest()
            if rest:
                self._upgraded.dataReceived(rest)
            return
        if self._head is not None and self._body is None and not self._refused:
            # A body is still on its way: from now on, the body rule.
            self._body = BodyClock(self.site.limits, self._now)
            self._body.progressed(framer.received, self._now)
            self._armBodyDeadline()
        self._updateReading()

    def _stopped(self) -> bool:
        """
        Whether no request may be parsed now: one is handled, the client
        does not read, or the connection is refused, handed over or gone.
        """
        return bool(
            self.requests
            or self._writePaused
            or self._refused
            or self._upgraded is not None
            or self._lost
        )

    def _headReceived(self, head: RequestHead) -> None:
        """
        A head within the limits: answer it lean, or make its request; send
        C{100 Continue} if the client waits for it; start the body's
        deadline if a body follows.
        """
        self._head = head
        site = self.site
        if (
            head.version == b"HTTP/1.1"
            and head.keepAlive
            and site.lean is not None
            and not (self._draining or site.connections.draining)
        ):
            self._lean = site.lean.match(head.method, head.target, head.headers)
        if self._lean is None:
            request = site.requestFactory(self, queued=False)
            request.rawHead = RawHead(  # type: ignore[attr-defined]
                "HTTP/1.1", head.raw, tuple(head.headers)
            )
            headers = request.requestHeaders
            for name, value in head.headers:
                headers.addRawHeader(name, value)
            request.gotLength(head.length)
            self._request = request
        if head.chunked or head.length:
            # The body's deadline starts at the end of this read, if the
            # body is not all in it (see _process).
            if head.expectContinue and head.version == b"HTTP/1.1":
                self._send(b"HTTP/1.1 100 Continue\r\n\r\n")
        else:
            self._deadline.clear()

    def _bodyReceived(self, data: bytes) -> None:
        body = self._body
        if body is not None:
            body.progressed(len(data), self._now)
        if self._lean is not None:
            self._leanBody.append(data)
        elif self._request is not None:
            self._request.handleContentChunk(data)

    def _requestComplete(self) -> None:
        """
        The request is complete: answer it lean, or hand it to its resource.
        """
        head, self._head = self._head, None
        self._body = None
        assert head is not None
        lean, self._lean = self._lean, None
        if lean is not None:
            if self._deadline.handler is not None:
                self._deadline.clear()
            self._answerLean(head, lean)
            self._framer.nextRequest()
            if self._framer.buffered:
                self._startHeaderDeadline(self._now)
            return
        request, self._request = self._request, None
        assert request is not None
        # A request may take long (/delay, a stream): no deadline meanwhile.
        self._deadline.stop()
        self.requests.append(request)
        self.persistent = head.keepAlive and not self._draining
        if not self.persistent:
            if head.version == b"HTTP/1.1":
                request.responseHeaders.setRawHeaders(b"Connection", [b"close"])
        elif head.version == b"HTTP/1.0":
            request.responseHeaders.setRawHeaders(b"Connection", [b"keep-alive"])
        request.requestReceived(head.method, head.target, head.version)

    def _answerLean(self, head: RequestHead, match: tuple[ILeanRoute, bytes]) -> None:
        site = self.site
        route, value = match
        body = b"".join(self._leanBody)
        self._leanBody = []
        response, content = leanResponse(
            route, value, body, self._connectionLines, site.dates.value()
        )
        self._send(response + content)
        site.leanAnswered(
            self.peerText(),
            head.method,
            head.target,
            route.echoes,
            body,
            len(content),
            self._now - self._started,
            "HTTP/1.1",
            self.isSecure(),
            head.headers,
        )

    # Refusals.

    def _refusedByFramer(self, event: Refused) -> None:
        """
        The framer refused the request: answer, and close.
        """
        if event.refusal is MALFORMED:
            self._refuse(MALFORMED, why=event.why)
        else:
            self._refuse(event.refusal, version=event.why or "HTTP/1.1")

    def _refuse(self, refusal: Refusal, linger: bool = True, **params: object) -> None:
        """
        Answer the current request with C{refusal}'s plain-text answer,
        close the connection, and ignore anything the client sends from now
        on.  Only the first refusal on a connection answers.

        The answer is written after what the connection has answered
        already, without a L{Request}: the request being refused may never
        have been fully parsed.  It is counted and logged (rate-limited)
        with the site's other refusals, and gets an access-log line.

        @param linger: whether to close with a lingering close, for a client
            that may still be sending; without one (a refusal before the
            client sent anything) a client that stops reading has
            L{ABORT_TIMEOUT} seconds.
        """
        if self._refused:
            return
        self._refused = True
        self._deadline.stop()
        if self._idle is not None:
            self._idle.stop()
        site = self.site
        params.setdefault("version", "HTTP/1.1")
        params.setdefault("why", "")
        params.setdefault("received", self._framer.received)
        body = site.refused(refusal, self.getPeer(), **params)
        self._send(
            b"".join(
                [
                    b"HTTP/1.1 ",
                    refusal.statusLine,
                    b"\r\nContent-Type: ",
                    PLAIN_TEXT,
                    b"\r\nX-Content-Type-Options: nosniff\r\nConnection: close"
                    b"\r\nContent-Length: %d\r\nDate: %s\r\n"
                    % (len(body), site.dates.value()),
                    self._connectionLines,
                    b"\r\n",
                    body,
                ]
            )
        )
        method, target = self._framer.pendingRequestLine()
        site.countResponse(refusal.status)
        if linger:
            site.logAccess(
                self.peerText(),
                method.decode("ascii", "replace") or "-",
                target.decode("ascii", "replace") or "-",
                refusal.status,
                self._framer.received,
                len(body),
                self._clock.seconds() - self._started,
                str(params["version"]),
                self.isSecure(),
            )
        self.flushWrites()
        if linger:  # lingering close
            # It unregisters this channel as the transport's producer, and
            # shuts the write side after what the transport holds.
            self._registered = False
            transport: Any = self.transport
            self._linger = site.access.lingering.close(transport, self._clock)
            self._linger.discard(self._framer.rest())
            return
        self.loseConnection()
        self._abortCall = self._clock.callLater(ABORT_TIMEOUT, self._abort)

    def _respondToBadRequestAndDisconnect(self) -> None:
        """
        The name twisted.web's L{Request} calls for a malformed form body.
        """
        self._refuse(MALFORMED, why="a malformed form body")

    # Deadlines.

    def _startHeaderDeadline(self, now: float | None = None) -> None:
        """
        The headers of a request are due from C{now} (by default, the
        clock's now): from the connection, or from the first byte of a later
        request.
        """
        self._started = self._clock.seconds() if now is None else now
        timeout = self.site.limits.headerTimeout
        if timeout is not None:
            self._deadline.arm(timeout, self._headersLate)

    def _headersLate(self) -> None:
        if self._closing() or self._refused:
            return
        if self._writePaused or self.requests:
            # Not the client's fault: it waits for us, or we for it to read.
            self._startHeaderDeadline()
            return
        self._refuse(HEADERS_TIMEOUT)

    def _armBodyDeadline(self) -> None:
        body = self._body
        due = None if body is None else body.due()
        if due is None:
            self._deadline.clear()
        else:
            self._deadline.arm(max(0.0, due - self._clock.seconds()), self._bodyLate)

    def _bodyLate(self) -> None:
        body = self._body
        if body is None or self._closing() or self._refused:
            return
        timeout = self.site.limits.bodyTimeout
        if self._writePaused and timeout is not None:
            # The client does not read our earlier answers: not late yet.
            self._deadline.arm(timeout, self._bodyLate)
            return
        if body.expired(self._clock.seconds()):
            self._refuse(BODY_TIMEOUT)
        else:
            self._armBodyDeadline()

    def _busy(self) -> bool:
        """
        Whether a request is in the application's hands and not blocked on
        a client that does not read: then the connection is not idle.
        """
        return bool(self.requests) and not self._writePaused

    def _idleExpired(self) -> None:
        self._idle = None
        if not self._closing():
            self.loseConnection()
            self._abortCall = self._clock.callLater(ABORT_TIMEOUT, self._abort)

    def _abort(self) -> None:
        self._abortCall = None
        transport: Any = self.transport
        if transport is not None:
            transport.abortConnection()

    def _closing(self) -> bool:
        return self.transport is None or bool(
            getattr(self.transport, "disconnecting", False)
        )

    # Writing.

    def flushWrites(self) -> None:
        """
        Send what was written since the read began, and write at once from
        now on: with one C{send} when nothing is queued
        (L{echohub.ops.fastWrite}).
        """
        out, self._out = self._out, None
        if out and self.transport is not None:
            fastWrite(self.transport, b"".join(out) if len(out) > 1 else out[0])

    def _send(self, data: bytes) -> None:
        """
        Write C{data} after everything written before it: into the read's
        batch while one is open, else at once.
        """
        if self._out is not None:
            self._out.append(data)
        elif self.transport is not None:
            fastWrite(self.transport, data)

    # The channel interface of twisted.web's Request.

    def getPeer(self) -> IAddress:
        """
        The remote address, asked of the transport once.
        """
        if self._peer is None:
            assert self.transport is not None
            self._peer = self.transport.getPeer()
        return self._peer

    def getHost(self) -> IAddress:
        """
        The local address, asked of the transport once per connection:
        Twisted asks for it on every request, and a TCP transport answers
        with a C{getsockname} system call each time.
        """
        if self._host is None:
            assert self.transport is not None
            self._host = self.transport.getHost()
        return self._host

    def peerText(self) -> str:
        """
        The client's address as the access log shows it, formatted once.
        """
        if self._peerText is None:
            self._peerText = formatAddress(self.getPeer())
        return self._peerText

    def isSecure(self) -> bool:
        """
        Whether the connection is TLS: asked of the transport once per
        connection (an interface adaptation), as twisted.web asks per
        request.
        """
        if self._secure is None:
            self._secure = ISSLTransport(self.transport, None) is not None
        return self._secure

    def writeHeaders(
        self, version: bytes, code: bytes, reason: bytes, headers: Headers
    ) -> None:
        """
        Write a response's status line and headers, without what a response
        without content must not carry (L{bodilessHeaders}).  An HTTP/1.0
        response on a kept-alive connection must have a length, or the
        connection ends with it.
        """
        status = int(code)
        bodilessHeaders(status, headers)
        if self.persistent and version == b"HTTP/1.0":
            request = self.requests[0] if self.requests else None
            if not (
                headers.hasHeader(b"content-length")
                or status in http.NO_BODY_CODES
                or (request is not None and request.method == b"HEAD")
            ):
                self.persistent = False
                headers.removeHeader(b"connection")
        sequence = [version, b" ", code, b" ", reason, b"\r\n"]
        for name, values in headers.getAllRawHeaders():
            for value in values:
                sequence.extend((name, b": ", value, b"\r\n"))
        sequence.append(b"\r\n")
        self._send(b"".join(sequence))

    def write(self, data: bytes) -> None:
        """
        Write response bytes.
        """
        self._send(data)

    def writeSequence(self, data: list[bytes]) -> None:
        """
        Write response bytes.
        """
        self._send(b"".join(data))

    def requestDone(self, request: http.Request) -> None:
        """
        The response to C{request} is complete: close, or parse the next
        request (in the next reactor turn if the client is not reading).
        """
        if request in self.requests:
            self.requests.remove(request)
        if self._lost or self._upgraded is not None:
            return
        if not self.persistent:
            self.loseConnection()
            return
        self._framer.nextRequest()
        self._now = self._clock.seconds()
        if self._idle is not None:
            # The answer went out: the idle time counts from here.
            self._idle.touch(self._now)
        if self._framer.buffered:
            self._startHeaderDeadline(self._now)
        if not self._processing:
            self._process()

    def loseConnection(self) -> None:
        """
        Close once the responses are sent; stop being the transport's
        producer first, or a paused connection never closes.
        """
        self.flushWrites()
        transport: Any = self.transport
        if self._registered:
            self._registered = False
            transport.unregisterProducer()
        transport.loseConnection()

    def registerProducer(self, producer: IProducer, streaming: bool) -> None:
        """
        Register a response's producer: paused while the client does not
        read, and, if it is a pull producer, asked for more once a turn.
        """
        if self._requestProducer is not None:
            raise RuntimeError(
                f"Cannot register producer {producer}, because producer"
                f" {self._requestProducer} was never unregistered."
            )
        self._requestProducer = producer
        self._requestProducerStreaming = streaming
        if not streaming:
            self._pull()
        elif self._writePaused:
            producer.pauseProducing()  # type: ignore[attr-defined]

    def _pull(self) -> None:
        self._pullCall = None
        producer = self._requestProducer
        if producer is None or self._requestProducerStreaming or self._lost:
            return
        if not self._writePaused:
            producer.resumeProducing()  # type: ignore[attr-defined]
        if self._requestProducer is producer:
            self._pullCall = self._clock.callLater(0, self._pull)

    def unregisterProducer(self) -> None:
        """
        Forget the response's producer.
        """
        self._requestProducer = None
        cancelCall(self._pullCall)
        self._pullCall = None

    def upgrade(self, protocol: Protocol) -> None:
        """
        Hand the connection to C{protocol} (a WebSocket session, after its
        C{101}): from now on it gets what the client sends, starting with
        whatever was read after the upgrade request, and the connection's
        end, after this channel's own clean-up.
        """
        self._upgraded = protocol
        self._deadline.stop()
        if self._idle is not None:
            self._idle.stop()
            self._idle = None
        self.flushWrites()
        assert self.transport is not None
        protocol.makeConnection(self.transport)

    # IPushProducer, for the transport.

    def pauseProducing(self) -> None:
        """
        The client does not read our responses fast enough: pause the
        response's producer and stop reading its requests; a client that
        pipelines requests and never reads would otherwise grow the
        server's memory without bound.
        """
        self._writePaused = True
        if self._requestProducer is not None and self._requestProducerStreaming:
            self._requestProducer.pauseProducing()  # type: ignore[attr-defined]
        self._updateReading()

    def resumeProducing(self) -> None:
        """
        The responses are flowing again: resume, and parse the requests
        kept meanwhile in the next reactor turn (this runs inside the
        transport's write handling).
        """
        self._writePaused = False
        if self._idle is not None:
            self._idle.touch(self._clock.seconds())
        if self._requestProducer is not None and self._requestProducerStreaming:
            self._requestProducer.resumeProducing()  # type: ignore[attr-defined]
        self._updateReading()
        if self._framer.buffered and self._replayCall is None:
            self._replayCall = self._clock.callLater(0, self._replay)

    def stopProducing(self) -> None:
        """
        The transport is going away: stop the response's producer.
        """
        if self._requestProducer is not None:
            self._requestProducer.stopProducing()

    def _replay(self) -> None:
        self._replayCall = None
        if not self._lost:
            self._now = self._clock.seconds()
            self._process()

    def _updateReading(self) -> None:
        """
        Read while the client reads and the unparsed bytes are few.
        """
        if self._lost or self._refused or self.transport is None:
            return
        pause = self._writePaused or self._framer.buffered > PIPELINE_BUFFER
        if pause != self._readPaused:
            self._readPaused = pause
            if pause:
                self.transport.pauseProducing()  # type: ignore[attr-defined]
            else:
                self.transport.resumeProducing()  # type: ignore[attr-defined]
