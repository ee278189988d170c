# -*- test-case-name: tests.web.test_channel -*-
"""
Deadlines and size limits for the HTTP/1.1 front, answered with a status.

What L{twisted.web.http.HTTPChannel} does on its own, and why that is not
enough for a server facing hostile clients:

    - Its only timer is an idle timeout reset by every byte received, so a
      client that sends its headers one byte every few seconds (slowloris)
      holds a connection, and a request object, for ever.
    - A request line or header over its limits gets a bare C{400}, or, for a
      line longer than C{MAX_LENGTH}, a silent close; a client cannot tell
      "too big" from "malformed".
    - It accepts an HTTP/1.1 request without C{Host} (or with two), and a
      chunk size of any magnitude.

L{LimitedHTTPChannel} adds, from L{HTTPLimits}:

    - B{A header deadline}: C{header_timeout} seconds from the connection
      (or from the first byte of a later request on a kept-alive
      connection) to the end of the headers, not reset by progress; then
      C{408} and close.  While the channel has stopped reading because the
      client does not read its responses (backpressure), the client cannot
      be late: a deadline that passes then starts again, and the idle
      timeout bounds such a connection.
    - B{A body deadline}: C{body_timeout} seconds from the end of the
      headers to the end of the body, extended by one second for every
      C{body_min_rate} bytes received, so a large body at a reasonable rate
      always arrives and a trickle does not; then C{408} and close.
    - B{Size limits with their own statuses}: a request line over
      C{max_request_line} gets C{414}; a header section over
      C{max_header_bytes}, or more than C{max_headers} header lines, gets
      C{431}, whether the excess arrives in one line or many.
    - B{Framing checks} Twisted lacks: an HTTP/1.1 request needs exactly one
      C{Host} header; a chunk size of 2**63 or more is malformed (C{400});
      one larger than the body limit gets C{413} at once, not after the
      limit's worth of bytes.

Each refusal goes through the subclass's L{LimitedHTTPChannel.refuse}: one
plain-text response, then close, and nothing after it is parsed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.internet.protocol import connectionDone
from twisted.python.failure import Failure
from twisted.web import http

from echohub.config import WebConfig
from echohub.ops import Reason

HUGE_CHUNK = 2**63
"""
Chunk sizes from here on are malformed rather than merely too large: no
client has such a body, and other parsers in a chain may overflow on them.
"""


@dataclass(frozen=True)
class HTTPLimits:
    """
    The deadlines and size limits of one site's connections.

    @ivar headerTimeout: seconds for the request line and headers, or
        L{None} for no deadline.
    @ivar bodyTimeout: base seconds for the body, or L{None} for no deadline.
    @ivar bodyMinRate: body bytes that extend the body deadline by one
        second; C{0} for a fixed deadline.
    @ivar maxRequestLine: the longest request line, in bytes.
    @ivar maxHeaderBytes: the largest header section, in bytes, each line
        counted with its C{CRLF}.
    @ivar maxHeaders: the most header lines.
    """

    headerTimeout: float | None = 20.0
    bodyTimeout: float | None = 20.0
    bodyMinRate: int = 1000
    maxRequestLine: int = 8192
    maxHeaderBytes: int = 16384
    maxHeaders: int = 100

    @classmethod
    def fromConfig(cls, config: WebConfig) -> HTTPLimits:
        """
        The limits C{config} sets; a timeout of C{0} means none.
        """
        return cls(
            headerTimeout=config.header_timeout or None,
            bodyTimeout=config.body_timeout or None,
            bodyMinRate=config.body_min_rate,
            maxRequestLine=config.max_request_line,
            maxHeaderBytes=config.max_header_bytes,
            maxHeaders=config.max_headers,
        )


class LimitedHTTPChannel(http.HTTPChannel):
    """
    An L{http.HTTPChannel} with deadlines, size limits that answer C{408},
    C{414}, C{431} or C{413}, and stricter framing.

    Subclasses provide L{refuse}, L{refuseTooLarge} and L{logRejection}.

    @ivar limits: this connection's limits; set with L{setLimits}, which
        must be called before the connection is made.
    @ivar maxBody: the largest accepted request body, for chunk sizes.
    """

    limits: HTTPLimits = HTTPLimits()
    maxBody: int = 1024 * 1024
    MAX_LENGTH = 16384

    _clock: IReactorTime
    _deadline: IDelayedCall | None = None
    _onDeadline: Callable[[], None] | None = None
    _replay: IDelayedCall | None = None
    _heldBack = b""
    _bodyStarted = 0.0
    _bodyReceived = 0
    _inHeaders = False
    _headerBytes = 0
    _headerCount = 0

    def setLimits(self, limits: HTTPLimits, clock: IReactorTime) -> None:
        """
        Apply C{limits}, timed by C{clock}, and move Twisted's own header
        limits out of their way: Twisted would answer a bare C{400}, or for a
        line longer than C{MAX_LENGTH} close without a word, before these
        could answer.
        """
        self.limits = limits
        self._clock = clock
        self.MAX_LENGTH = max(limits.maxRequestLine, limits.maxHeaderBytes)
        self.totalHeadersSize = limits.maxRequestLine + limits.maxHeaderBytes + 1
        self.maxHeaders = limits.maxHeaders + 1

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

    def connectionMade(self) -> None:
        """
        Start the header deadline: from the connection, so a client that
        connects and says nothing is held to it too.
        """
        super().connectionMade()
        self._startHeaderDeadline()

    def _startHeaderDeadline(self) -> None:
        if self._deadline is None and self.limits.headerTimeout is not None:
            self._armDeadline(self.limits.headerTimeout, self._headerTimedOut)

    def _armDeadline(self, seconds: float, handler: Callable[[], None]) -> None:
        """
        Have C{handler} called in C{seconds}, instead of any deadline set.

        A connection has one deadline timer at a time: a body deadline
        re-arms the header deadline's timer (L{IDelayedCall.reset}, which
        for a later time only records it) rather than cancelling it and
        scheduling another.
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
        self._onDeadline = None
        if self._deadline is not None:
            if self._deadline.active():
                self._deadline.cancel()
            self._deadline = None

    def _closing(self) -> bool:
        return self.transport is None or bool(
            getattr(self.transport, "disconnecting", False)
        )

    def _headerTimedOut(self) -> None:
        """
        The request line and headers did not arrive in time: C{408}.
        """
        if self._closing():
            return
        if self._waitingForTransport:
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
        if self._closing():
            return
        assert self.limits.bodyTimeout is not None
        due = self._bodyStarted + self.limits.bodyTimeout
        if self.limits.bodyMinRate:
            due += self._bodyReceived / self.limits.bodyMinRate
        remaining = due - self._clock.seconds()
        if self._waitingForTransport:
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

    def dataReceived(self, data: bytes) -> None:
        """
        The first byte of a request on a kept-alive connection starts that
        request's header deadline.  Requests held back by L{requestDone}
        come first: network data can arrive before their replay.
        """
        if self._heldBack:
            data, self._heldBack = self._heldBack + data, b""
        if not self._handlingRequest:
            self._startHeaderDeadline()
        super().dataReceived(data)

    def lineReceived(self, line: bytes) -> None:
        """
        Check the request line and the header section against the limits
        before Twisted parses them; hold back a new request while the
        client is not reading (see L{requestDone}).
        """
        if self._waitingForTransport and not self._inHeaders:
            self._heldBack += line + self.delimiter + self._buffer
            self._buffer = b""
            return
        if not self._inHeaders:
            # A pipelined request buffered while the previous one was
            # handled is replayed here, not through dataReceived.
            self._startHeaderDeadline()
            if line:
                if len(line) > self.limits.maxRequestLine:
                    self._requestLineTooLong()
                    return
                self._inHeaders = True
                self._headerBytes = 0
                self._headerCount = 0
        elif line:
            self._headerBytes += len(line) + 2
            if self._headerBytes > self.limits.maxHeaderBytes:
                self._headersTooLarge("header section")
                return
        super().lineReceived(line)

    def lineLengthExceeded(self, line: bytes) -> None:
        """
        A line longer than any limit allows: C{414} for the request line,
        C{431} for a header, instead of Twisted's silent close.
        """
        if self._inHeaders:
            self._headersTooLarge("header line")
        else:
            self._requestLineTooLong()

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

    def headerReceived(self, line: bytes) -> bool:
        """
        Count header lines against C{max_headers} before Twisted stores
        them.
        """
        self._headerCount += 1
        if self._headerCount > self.limits.maxHeaders:
            self._headersTooLarge("header count")
            return False
        return bool(super().headerReceived(line))

    def allHeadersReceived(self) -> None:
        """
        End the header phase: require one C{Host} in HTTP/1.1, then start
        the body deadline if a body follows.
        """
        self._inHeaders = False
        request = self.requests[-1]
        hosts = request.requestHeaders.getRawHeaders(b"host", [])
        if len(hosts) > 1 or (not hosts and self._version == b"HTTP/1.1"):
            self._cancelDeadline()
            self._respondToBadRequestAndDisconnect()
            return
        if self.length != 0 and self.limits.bodyTimeout is not None:
            self._bodyStarted = self._clock.seconds()
            self._bodyReceived = 0
            self._armDeadline(self.limits.bodyTimeout, self._bodyTimedOut)
        else:
            self._cancelDeadline()
        super().allHeadersReceived()
        if isinstance(self._transferDecoder, http._ChunkedTransferDecoder):
            self._checkChunkSizes(self._transferDecoder)

    def _checkChunkSizes(self, decoder: http._ChunkedTransferDecoder) -> None:
        """
        Check each chunk size as C{decoder} reads it, before any of the
        chunk: C{400} from L{HUGE_CHUNK} on, C{413} over L{maxBody}.

        The decoder dispatches on C{getattr(self, "_dataReceived_" +
        state)}, so wrapping its size reader on the instance sees every
        size; should a later Twisted read sizes otherwise, a huge chunk is
        still refused by the body limit and the body deadline.
        """
        readSize = decoder._dataReceived_CHUNK_LENGTH

        def checked() -> bool:
            goOn = readSize()
            if goOn and decoder.state == "BODY":
                if decoder.length >= HUGE_CHUNK:
                    raise http._MalformedChunkedDataError("chunk size out of range")
                if decoder.length > self.maxBody:
                    self.refuseTooLarge()
                    return False
            return goOn

        decoder._dataReceived_CHUNK_LENGTH = checked  # type: ignore[method-assign]

    def rawDataReceived(self, data: bytes) -> None:
        """
        Count body bytes for the body deadline.
        """
        if self._handlingRequest:
            super().rawDataReceived(data)
            return
        self._bodyReceived += len(data)
        super().rawDataReceived(data)

    def pauseProducing(self) -> None:
        """
        The client does not read our responses fast enough: stop reading
        its requests, even while one is being handled.

        Twisted keeps reading while a request is handled (to notice a
        vanished client), and after each response it parses the requests
        pipelined behind it whether or not the previous responses could be
        sent; a client that pipelines requests and never reads thus grows
        the server's memory without bound (measured: 155 MB for 90 000
        pipelined 1 KB echoes).
        """
        super().pauseProducing()
        self._networkProducer.pauseProducing()

    def resumeProducing(self) -> None:
        """
        The responses are flowing again: parse the requests held back by
        L{requestDone}, in the next reactor turn (this runs inside the
        transport's write handling).
        """
        super().resumeProducing()
        if self._heldBack and self._replay is None:
            self._replay = self._clock.callLater(0, self._replayHeldBack)

    def _replayHeldBack(self) -> None:
        self._replay = None
        if self._waitingForTransport or self._handlingRequest or self._closing():
            return
        data, self._heldBack = self._heldBack, b""
        self.dataReceived(data)

    def requestDone(self, request: http.Request) -> None:
        """
        Hold back the requests pipelined behind a finished one while the
        client is not reading: parsing them now would queue their responses
        in memory.  L{resumeProducing} replays them.
        """
        if self._waitingForTransport and self.persistent and self._dataBuffer:
            self._heldBack += b"".join(self._dataBuffer)
            self._dataBuffer = []
        super().requestDone(request)

    def allContentReceived(self) -> None:
        """
        The body is complete: no deadline while the request is handled.
        """
        self._cancelDeadline()
        super().allContentReceived()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        """
        Cancel any deadline and replay.
        """
        self._cancelDeadline()
        if self._replay is not None and self._replay.active():
            self._replay.cancel()
        super().connectionLost(reason)
