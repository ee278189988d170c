# -*- test-case-name: tests.http.test_channel -*-
"""
echohub's own HTTP/1.1 channel: a L{Protocol} that parses requests with
C{httptools} (llhttp, the parser of Node.js and uvicorn) and hands each to a
twisted.web L{Request}, through the channel interface L{Request} uses (the
one Twisted's own C{H2Stream} also implements): C{getPeer}, C{getHost},
C{isSecure}, C{write}, C{writeSequence}, C{writeHeaders}, C{requestDone},
C{registerProducer}, C{unregisterProducer}, C{loseConnection}, C{site},
C{factory}, C{requests}.  No private L{twisted.web.http.HTTPChannel}
internal is used.

Framing is strict: llhttp refuses what RFC 9112 calls ambiguous
(C{Content-Length} with C{Transfer-Encoding}, two lengths, a signed length,
C{Transfer-Encoding} other than a final C{chunked}, whitespace before a
colon, control characters in values, obs-fold, bad chunk sizes) and each
such request gets C{400}; nothing behind it is parsed.

L{HTTP11Channel} adds, from L{HTTPLimits}:

    - B{A header deadline}: C{header_timeout} seconds from the connection
      (or from the first byte of a later request on a kept-alive
      connection) to the end of the headers, not reset by progress; then
      C{408} and close.  While the client does not read its responses
      (backpressure) it cannot be late: the deadline starts again, and the
      idle timeout bounds such a connection.
    - B{A body deadline}: C{body_timeout} seconds from the end of the
      headers to the end of the body, extended by one second for every
      C{body_min_rate} bytes received; then C{408} and close.
    - B{Size limits with their own statuses}: a request line over
      C{max_request_line} gets C{414}; a header section over
      C{max_header_bytes}, or more than C{max_headers} header lines, gets
      C{431}; a body announced or growing over C{max_body} gets C{413}
      before it is read, without C{100 Continue}.
    - B{Framing checks}: an HTTP/1.1 request needs exactly one C{Host};
      a chunk size of 2**63 or more is malformed (C{400}); one larger than
      the body limit gets C{413} at once.
    - B{Pipelining bound}: one request is handled at a time; bytes that
      arrive meanwhile are kept unparsed, and reading stops when they pass
      L{PIPELINE_BUFFER} bytes or while the client does not read.

Exact capture: the channel keeps each request's head (request line and
header section) as received, bounded by the header limits, and
L{rawRequestHead} gives it to resources.  Any HTTP front can implement the
accessor: an HTTP/2 channel sets the same attribute to the decoded header
list (pseudo-headers first) rendered as lines, with protocol C{"HTTP/2"}.

Subclasses provide L{HTTP11Channel.refuse}, L{HTTP11Channel.refuseTooLarge}
and L{HTTP11Channel.logRejection}.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httptools
from twisted.internet.interfaces import (
    IAddress,
    IDelayedCall,
    IProducer,
    IPushProducer,
    IReactorTime,
    ISSLTransport,
)
from twisted.internet.protocol import Protocol, connectionDone
from twisted.logger import Logger
from twisted.protocols.policies import TimeoutMixin
from twisted.python.failure import Failure
from twisted.web import http
from twisted.web.http_headers import Headers
from zope.interface import implementer

from echohub._net import cancelCall
from echohub.http._head import RawHead
from echohub.http._policy import HTTPLimits
from echohub.ops import Reason, fastWrite

HUGE_CHUNK = 2**63
"""
Chunk sizes from here on are malformed rather than merely too large: no
client has such a body, and other parsers in a chain may overflow on them.
"""

PIPELINE_BUFFER = 65536
"""
Unparsed bytes kept while a request is handled, before reading stops.
"""

_METHODS = frozenset(
    [b"GET", b"HEAD", b"POST", b"PUT", b"DELETE", b"OPTIONS", b"PATCH", b"TRACE"]
)
"""
Methods given to llhttp as they are.  llhttp knows only a fixed list of
methods and refuses others; RFC 9110 allows any token, so another method is
parsed as C{PUT} (the same framing) and handed to the request as sent.
"""

_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")

_HOST = re.compile(rb"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~!$&'()*+;=%-]*)(:[0-9]*)?\Z")
"""
One C{Host} (RFC 9112 section 3.2): a name, an IPv4 address or a bracketed
IPv6 address, and an optional port.  A comma is not allowed although RFC
3986 would: it would make the value a list of hosts.
"""

_ABSOLUTE = re.compile(rb"[A-Za-z][A-Za-z0-9+.-]*://([^/?#]*)")

_HEAD, _BODY, _CHUNK_SIZE, _CHUNK_DATA, _TRAILER, _DONE = range(6)

_log = Logger()


class _BadRequestError(Exception):
    """
    The request is malformed: answer C{400}.
    """


@implementer(IPushProducer)
class HTTP11Channel(Protocol, TimeoutMixin):
    """
    An HTTP/1.1 server channel for twisted.web L{Request}s, with deadlines,
    size limits and strict framing.

    The site sets C{site}, C{factory}, C{requestFactory}, C{timeOut} and
    C{callLater}, and calls L{setLimits} before the connection is made.

    The channel is its transport's streaming producer: when the client
    stops reading, the transport pauses it, and it pauses the response's
    producer and stops reading requests.

    @ivar requests: the request being handled, if any (a list for
        twisted.web's sake; it never holds more than one).
    @ivar persistent: whether the connection stays open after the current
        response.
    """

    site: Any
    factory: Any = None
    requestFactory: Callable[..., http.Request]
    timeOut: int | None = None
    callLater: Callable[..., IDelayedCall]
    abortTimeout = 15
    limits: HTTPLimits = HTTPLimits()
    maxBody: int = 1024 * 1024
    persistent = True

    _clock: IReactorTime
    _deadline: IDelayedCall | None = None
    _onDeadline: Callable[[], None] | None = None
    _replay: IDelayedCall | None = None
    _abortingCall: IDelayedCall | None = None
    _pullCall: IDelayedCall | None = None
    _host: IAddress | None = None
    _refused = False
    _upgraded = False
    _writePaused = False
    _readPaused = False
    _parsing = False
    _registered = False
    _lost = False
    _bodyStarted = 0.0
    _bodyReceived = 0
    requestStartedAt = 0.0
    _method = b""
    _url = b""
    _lean: Callable[[bytes], None] | None = None
    _out: list[bytes] | None = None
    _secure: bool | None = None

    def __init__(self) -> None:
        self.requests: list[http.Request] = []
        self._buffer = b""
        self._parser = httptools.HttpRequestParser(self)
        self._state = _HEAD
        self._request: http.Request | None = None
        self._requestProducer: IProducer | None = None
        self._requestProducerStreaming = True

    def setLimits(self, limits: HTTPLimits, clock: IReactorTime) -> None:
        """
        Apply C{limits}, timed by C{clock}.
        """
        self.limits = limits
        self._clock = clock

    # Hooks for subclasses.

    def refuse(self, status: bytes, reason: str) -> None:
        """
        Answer with a plain-text error and close; ignore further input.
        """
        raise NotImplementedError

    def refuseTooLarge(self) -> None:
        """
        Answer C{413} for a body over L{maxBody}, and close.
        """
        raise NotImplementedError

    def logRejection(self, kind: str, format: str, **kwargs: object) -> None:
        """
        Count and log (rate-limited) a refusal of C{kind}, a label of
        L{echohub.ops._metrics}' rejection counter.
        """
        raise NotImplementedError

    def leanHandler(
        self, method: bytes, url: bytes, headers: list[tuple[bytes, bytes]]
    ) -> Callable[[bytes], None] | None:
        """
        A function that answers this request, given its body, without a
        L{Request}; or L{None} (here, always) for a L{Request}.  It is
        called only for a persistent HTTP/1.1 request, must write one
        complete response, and leaves the connection open.
        """
        return None

    def checkPersistence(self, request: http.Request, version: bytes) -> bool:
        """
        Whether the connection stays open after C{request}'s response:
        HTTP/1.1 unless the client said C{Connection: close}; never for
        HTTP/1.0 (no keep-alive negotiation).
        """
        if version != b"HTTP/1.1":
            return False
        for value in request.requestHeaders.getRawHeaders(b"connection", []):
            if b"close" in (token.strip().lower() for token in value.split(b",")):
                request.responseHeaders.setRawHeaders(b"Connection", [b"close"])
                return False
        return True

    # The connection.

    def connectionMade(self) -> None:
        """
        Become the transport's producer, start the idle timeout and the
        header deadline: from the connection, so a client that connects and
        says nothing is held to it too.
        """
        transport: Any = self.transport
        transport.registerProducer(self, True)
        self._registered = True
        self.setTimeout(self.timeOut)
        self._startHeaderDeadline()

    def dataReceived(self, data: bytes) -> None:
        """
        Parse C{data}, or keep it while a request is handled or the client
        does not read.

        What the requests of this read answer is gathered and sent in one
        write at the end of it (L{flushWrites}): one system call, at once,
        for any number of pipelined responses.
        """
        if self._refused:
            return
        self.resetTimeout()
        self._buffer += data
        if self._state == _HEAD:
            self._startHeaderDeadline()
        if self._out is not None:
            self._parse()
            return
        self._out = []
        try:
            self._parse()
        finally:
            self.flushWrites()

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

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        """
        Cancel every timer and tell the request in flight.
        """
        self._lost = True
        self._out = None
        self.setTimeout(None)
        self._stopDeadlineTimer()
        for call in (self._replay, self._abortingCall, self._pullCall):
            cancelCall(call)
        for request in list(self.requests):
            request.connectionLost(reason)

    def timeoutConnection(self) -> None:
        """
        The connection was idle for C{timeOut} seconds: close it, and abort
        it if it is still open C{abortTimeout} seconds later.  A connection
        with a request in flight (C{/delay}, a stream) is not idle: the
        timer runs again, and the idle time counts from the response's end
        (L{requestDone}).
        """
        if self.requests:
            self.setTimeout(self.timeOut)
            return
        self.loseConnection()
        self._abortingCall = self.callLater(self.abortTimeout, self.forceAbortClient)

    def forceAbortClient(self) -> None:
        """
        Abort a connection that did not close in time.
        """
        self._abortingCall = None
        transport: Any = self.transport
        if transport is not None:
            transport.abortConnection()

    # Parsing: one request at a time, so that the head of each is known
    # exactly and nothing behind a refused request is ever parsed.

    def _parse(self) -> None:
        if self._parsing:
            return
        self._parsing = True
        try:
            while (
                self._buffer
                and not self.requests
                and not self._writePaused
                and not self._refused
                and not self._upgraded
            ):
                if not self._step():
                    break
        except httptools.HttpParserCallbackError as error:
            # One of this channel's callbacks raised: a refusal, or a bug,
            # which must not go unnoticed behind a 400.
            if not isinstance(error.__context__, _BadRequestError):
                _log.failure(
                    "HTTP/1.1 channel failed", Failure(error.__context__ or error)
                )
            self._stopDeadlineTimer()
            self.badRequest()
        except (_BadRequestError, httptools.HttpParserError):
            self._stopDeadlineTimer()
            self.badRequest()
        finally:
            self._parsing = False
        if self._upgraded and self._buffer:
            data, self._buffer = self._buffer, b""
            self.dataReceived(data)
        self._updateReading()

    def _step(self) -> bool:
        """
        Parse what the buffer holds of the current request's next part.

        @return: whether to go on.
        """
        buffer = self._buffer
        state = self._state
        if state == _HEAD:
            return self._parseHead(buffer)
        if state == _BODY:
            piece = buffer[: self._bodyRemaining]
            self._bodyRemaining -= len(piece)
        elif state == _CHUNK_DATA:
            piece = buffer[: self._bodyRemaining]
            self._bodyRemaining -= len(piece)
            if not self._bodyRemaining:
                self._state = _CHUNK_SIZE
        else:
            end = buffer.find(b"\n")
            if end < 0:
                if len(buffer) > 1024:
                    raise _BadRequestError("chunk line too long")
                return False
            piece = buffer[: end + 1]
            if state == _CHUNK_SIZE:
                self._chunkSize(piece)
        self._buffer = buffer[len(piece) :]
        self._feed(piece)
        return not self._refused

    def _chunkSize(self, line: bytes) -> None:
        """
        Check a chunk size before any of the chunk: C{400} from
        L{HUGE_CHUNK} on, C{413} over L{maxBody}.  Malformed lines are
        llhttp's to refuse.
        """
        digits = line.split(b";", 1)[0].strip()
        try:
            size = int(digits, 16)
        except ValueError:
            return
        if size >= HUGE_CHUNK:
            raise _BadRequestError("chunk size out of range")
        if size > self.maxBody:
            self.refuseTooLarge()
            return
        if size == 0:
            self._state = _TRAILER
        else:
            self._state = _CHUNK_DATA
            self._bodyRemaining = size + 2

    def _parseHead(self, buffer: bytes) -> bool:
        """
        Check the head at the start of C{buffer} against the limits and
        parse it once complete.
        """
        limits = self.limits
        end = buffer.find(b"\r\n\r\n")
        if end < 0 and buffer.count(b"\n") != buffer.count(b"\r\n"):
            # A line that ends in a bare LF: llhttp would refuse it once
            # the head is complete, which it then never is.
            raise _BadRequestError("bare LF")
        lineEnd = buffer.find(b"\r\n", 0, limits.maxRequestLine + 2)
        if lineEnd == 0:
            # An empty line before a request (RFC 9112 section 2.2).
            self._buffer = buffer[2:]
            return True
        if lineEnd < 0:
            if len(buffer) > limits.maxRequestLine:
                self._requestLineTooLong()
            return False
        headerBytes = (end + 2 if end >= 0 else len(buffer)) - (lineEnd + 2)
        if headerBytes > limits.maxHeaderBytes:
            self._headersTooLarge("header section")
            return False
        if end < 0:
            if buffer.count(b"\r\n", lineEnd + 2) > limits.maxHeaders:
                self._headersTooLarge("header count")
            return False
        head = buffer[: end + 4]
        if head.count(b"\r\n", lineEnd + 2) - 1 > limits.maxHeaders:
            self._headersTooLarge("header count")
            return False
        self._buffer = buffer[end + 4 :]
        self._head = head
        self._headers: list[tuple[bytes, bytes]] = []
        self._url = b""
        self._state = _DONE
        self._complete = False
        method = head[: head.find(b" ")]
        self._method = method
        if method not in _METHODS:
            if _TOKEN.match(method) is None:
                raise _BadRequestError("method")
            head = b"PUT" + head[len(method) :]
        try:
            self._parser.feed_data(head)
        except httptools.HttpParserUpgrade:
            # llhttp skips the body of a request asking to upgrade; parse
            # any body here, and start a new parser for what follows.
            self._parser = httptools.HttpRequestParser(self)
            if self._chunked:
                raise _BadRequestError("chunked upgrade request") from None
            self._state = _BODY if self._bodyRemaining else _DONE
            if not self._complete and self._state == _DONE:
                self.on_message_complete()
        return not self._refused

    def _feed(self, piece: bytes) -> None:
        try:
            self._parser.feed_data(piece)
        except httptools.HttpParserUpgrade:
            raise _BadRequestError("unexpected upgrade") from None
        if self._state == _BODY and not self._bodyRemaining and not self._complete:
            # The body of an upgrade request, which llhttp did not parse.
            self.on_message_complete()

    # httptools callbacks.

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        # llhttp drops the whitespace before a value but not after it.
        self._headers.append((name, value.rstrip(b" \t")))

    def on_headers_complete(self) -> None:
        """
        The head is complete: check C{Host} and the length, make the
        request, and start the body deadline if a body follows.
        """
        parser = self._parser
        version = b"HTTP/" + parser.get_http_version().encode("ascii")
        hosts = 0
        length: int | None = None
        chunked = expectContinue = False
        for name, value in self._headers:
            lowered = name.lower()
            if lowered == b"host":
                hosts += 1
                if _HOST.match(value) is None:
                    raise _BadRequestError("Host")
            elif lowered == b"content-length":
                length = int(value)
            elif lowered == b"transfer-encoding":
                chunked = True
            elif lowered == b"expect" and value.lower() == b"100-continue":
                expectContinue = True
        if hosts > 1 or (not hosts and version == b"HTTP/1.1"):
            raise _BadRequestError("Host")
        self._version = version
        self._chunked = chunked
        self._bodyRemaining = length or 0
        if length is not None and length > self.maxBody:
            self.refuseTooLarge()
            return
        if version == b"HTTP/1.1":
            self._lean = self.leanHandler(self._method, self._url, self._headers)
        if self._lean is None:
            request = self.requestFactory(self, queued=False)
            request.rawHead = RawHead(  # type: ignore[attr-defined]
                "HTTP/1.1", self._head, tuple(self._headers)
            )
            headers = request.requestHeaders
            for name, value in self._headers:
                headers.addRawHeader(name, value)
            self._request = request
            request.gotLength(length)
        else:
            self._leanBody: list[bytes] = []
            self._leanLength = 0
        if chunked:
            self._state = _CHUNK_SIZE
        elif length:
            self._state = _BODY
        if self._state != _DONE:
            if expectContinue and version == b"HTTP/1.1":
                self._send(b"HTTP/1.1 100 Continue\r\n\r\n")
            if self.limits.bodyTimeout is not None:
                self._bodyStarted = self._clock.seconds()
                self._bodyReceived = 0
                self._armDeadline(self.limits.bodyTimeout, self._bodyTimedOut)
            else:
                self._cancelDeadline()
        else:
            self._cancelDeadline()

    def on_body(self, data: bytes) -> None:
        if self._refused:
            return
        self._bodyReceived += len(data)
        if self._lean is not None:
            self._leanLength += len(data)
            if self._leanLength > self.maxBody:
                self.refuseTooLarge()
            else:
                self._leanBody.append(data)
        elif self._request is not None:
            self._request.handleContentChunk(data)

    def on_message_complete(self) -> None:
        """
        The request is complete: handle it.
        """
        self._complete = True
        self._state = _HEAD
        self._cancelDeadline()
        lean, self._lean = self._lean, None
        request, self._request = self._request, None
        if self._refused:
            return
        if lean is not None:
            self._method = self._url = b""
            body, self._leanBody = b"".join(self._leanBody), []
            lean(body)
            return
        if request is None:
            return
        # A request may take long (/delay, a stream): no deadline meanwhile.
        # The lean routes answer at once and keep it for the next request.
        self._stopDeadlineTimer()
        method, self._method = self._method, b""
        self.requests.append(request)
        self.persistent = self.checkPersistence(request, self._version)
        url, self._url = self._url, b""
        absolute = _ABSOLUTE.match(url)
        if absolute is not None:
            # The absolute form (RFC 9112 section 3.2.2): the target's
            # authority replaces Host, and the rest is the path.
            request.requestHeaders.setRawHeaders(b"host", [absolute.group(1)])
            url = url[absolute.end() :]
            if not url.startswith(b"/"):
                url = b"/" + url
        request.requestReceived(method, url, self._version)

    # The channel interface of twisted.web's Request.

    def getPeer(self) -> IAddress:
        """
        The remote address.
        """
        assert self.transport is not None
        return self.transport.getPeer()

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
        Write a response's status line and headers.
        """
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
        if self._lost:
            return
        if not self.persistent:
            self.loseConnection()
            return
        self.resetTimeout()
        if self._state == _HEAD and self._buffer:
            self._startHeaderDeadline()
        if not self._parsing:
            self._parse()

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
            self._pullCall = self.callLater(0, self._pull)

    def unregisterProducer(self) -> None:
        """
        Forget the response's producer.
        """
        self._requestProducer = None
        cancelCall(self._pullCall)
        self._pullCall = None

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
        if self._requestProducer is not None and self._requestProducerStreaming:
            self._requestProducer.resumeProducing()  # type: ignore[attr-defined]
        self._updateReading()
        if self._buffer and self._replay is None:
            self._replay = self.callLater(0, self._replayKept)

    def stopProducing(self) -> None:
        """
        The transport is going away: stop the response's producer.
        """
        if self._requestProducer is not None:
            self._requestProducer.stopProducing()

    def _replayKept(self) -> None:
        self._replay = None
        if not self._lost:
            self._parse()

    def _updateReading(self) -> None:
        """
        Read while the client reads and the unparsed bytes are few.
        """
        if self._lost or self._refused or self._upgraded or self.transport is None:
            return
        pause = self._writePaused or len(self._buffer) > PIPELINE_BUFFER
        if pause != self._readPaused:
            self._readPaused = pause
            if pause:
                self.transport.pauseProducing()  # type: ignore[attr-defined]
            else:
                self.transport.resumeProducing()  # type: ignore[attr-defined]

    def upgrade(self, protocol: Protocol) -> None:
        """
        Hand the connection to C{protocol} (a WebSocket session, after its
        C{101}): from now on it gets what the client sends, starting with
        whatever was read after the upgrade request, and the connection's
        end.
        """
        self._upgraded = True
        self._stopDeadlineTimer()
        self.flushWrites()
        self.dataReceived = protocol.dataReceived  # type: ignore[method-assign]
        self.connectionLost = protocol.connectionLost  # type: ignore[method-assign]
        assert self.transport is not None
        protocol.makeConnection(self.transport)

    def _respondToBadRequestAndDisconnect(self) -> None:
        """
        The name twisted.web's L{Request} calls for a malformed form body.
        """
        self.badRequest()

    def badRequest(self) -> None:
        """
        Answer a malformed request with C{400}, and close.
        """
        self.refuse(b"400 Bad Request", "400 Bad Request: malformed HTTP request\n")

    # Deadlines.

    def currentRequestLine(self) -> tuple[str, str]:
        """
        The method and target of the request being read or handled, for
        the access log of a refusal: from the parsed head, or from a
        complete request line still in the buffer, else C{-}.
        """
        method, target = self._method, self._url
        end = self._buffer.find(b"\r\n")
        if not method and self._state == _HEAD and end > 0:
            line = self._buffer[:end].split(b" ")
            if len(line) == 3:
                method, target = line[0], line[1]
        return (
            method.decode("ascii", "replace") or "-",
            target.decode("ascii", "replace") or "-",
        )

    def _startHeaderDeadline(self) -> None:
        if self._onDeadline is None:
            self.requestStartedAt = self._clock.seconds()
            if self.limits.headerTimeout is not None:
                self._armDeadline(self.limits.headerTimeout, self._headerTimedOut)

    def _armDeadline(self, seconds: float, handler: Callable[[], None]) -> None:
        """
        Have C{handler} called in C{seconds}, instead of any deadline set.

        A connection has one deadline timer at a time, kept from request to
        request: a new deadline re-arms it (L{IDelayedCall.reset}, which for
        a later time only records it) rather than cancelling it and
        scheduling another, which for small requests was a measurable share
        of each.
        """
        self._onDeadline = handler
        if self._deadline is not None and self._deadline.active():
            self._deadline.reset(seconds)
        else:
            self._deadline = self._clock.callLater(seconds, self._deadlinePassed)

    def _deadlinePassed(self) -> None:
        handler, self._onDeadline, self._deadline = self._onDeadline, None, None
        if handler is not None:
            handler()

    def _cancelDeadline(self) -> None:
        """
        No deadline from now on; the timer, if any, stays for the next
        deadline and does nothing if it fires first.
        """
        self._onDeadline = None

    def _stopDeadlineTimer(self) -> None:
        self._onDeadline = None
        cancelCall(self._deadline)
        self._deadline = None

    def _closing(self) -> bool:
        return self.transport is None or bool(
            getattr(self.transport, "disconnecting", False)
        )

    def _headerTimedOut(self) -> None:
        """
        The request line and headers did not arrive in time: C{408}.
        """
        if self._closing() or self._refused:
            return
        if self._writePaused or self.requests:
            self._startHeaderDeadline()
            return
        self.logRejection(
            Reason.TIMEOUT,
            "{service}: {peer} sent no complete request headers within"
            " {timeout:g} s (header_timeout); answered 408",
            timeout=self.limits.headerTimeout,
        )
        self.refuse(
            b"408 Request Timeout",
            f"408 Request Timeout: the request headers must arrive within"
            f" {self.limits.headerTimeout:g} s (header_timeout)\n",
        )

    def _bodyTimedOut(self) -> None:
        """
        The body deadline passed: extend it by what the rate earned since
        it was set, or answer C{408}.
        """
        if self._closing() or self._refused:
            return
        assert self.limits.bodyTimeout is not None
        due = self._bodyStarted + self.limits.bodyTimeout
        if self.limits.bodyMinRate:
            due += self._bodyReceived / self.limits.bodyMinRate
        remaining = due - self._clock.seconds()
        if self._writePaused:
            remaining = self.limits.bodyTimeout
        if remaining > 0:
            self._armDeadline(remaining, self._bodyTimedOut)
            return
        self.logRejection(
            Reason.TIMEOUT,
            "{service}: {peer} sent {received} body bytes, too slowly"
            " (body_timeout {timeout:g} s, body_min_rate {rate} bytes/s);"
            " answered 408",
            received=self._bodyReceived,
            timeout=self.limits.bodyTimeout,
            rate=self.limits.bodyMinRate,
        )
        self.refuse(
            b"408 Request Timeout",
            "408 Request Timeout: the request body arrived too slowly\n",
        )

    def _requestLineTooLong(self) -> None:
        self.logRejection(
            Reason.TOO_LONG,
            "{service}: {peer} sent a request line over {limit} bytes; answered 414",
            limit=self.limits.maxRequestLine,
        )
        self.refuse(
            b"414 URI Too Long",
            f"414 URI Too Long: request lines are limited to"
            f" {self.limits.maxRequestLine} bytes (max_request_line)\n",
        )

    def _headersTooLarge(self, what: str) -> None:
        self.logRejection(
            Reason.TOO_LONG,
            "{service}: {peer} sent a {what} over the limits; answered 431",
            what=what,
        )
        self.refuse(
            b"431 Request Header Fields Too Large",
            f"431 Request Header Fields Too Large: headers are limited to"
            f" {self.limits.maxHeaderBytes} bytes (max_header_bytes) and"
            f" {self.limits.maxHeaders} lines (max_headers)\n",
        )
