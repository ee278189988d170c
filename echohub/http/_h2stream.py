# -*- test-case-name: tests.http.test_h2 -*-
"""
One HTTP/2 stream as the channel of its twisted.web request (L{H2Stream}):
what twisted.web's C{Request} calls on a channel, and the refusals echohub's
limits make, on behalf of its L{echohub.http._h2.H2Connection}.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from h2.errors import ErrorCodes
from twisted.internet.interfaces import (
    IAddress,
    IDelayedCall,
    IProducer,
    IPushProducer,
)
from twisted.python.failure import Failure
from twisted.web import http
from twisted.web.http_headers import Headers
from zope.interface import implementer

from echohub.http._head import RawHead
from echohub.http._policy import PLAIN_TEXT
from echohub.ops import Reason

if TYPE_CHECKING:
    from echohub.http._h2 import H2Connection
    from echohub.http._site import EchoRequest

STREAM_BUFFER = 65536
"""
Bytes of response data a stream may have waiting (on the peer's window or
the transport) before its producer is paused.
"""

# Connection-specific response headers that HTTP/2 forbids (RFC 9113
# section 8.2.2); twisted.web adds some of them for HTTP/1.1.
_HOP_BY_HOP = frozenset(
    (
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"transfer-encoding",
        b"upgrade",
    )
)


@implementer(IPushProducer)
class H2Stream:
    """
    One HTTP/2 stream, as the channel of its L{EchoRequest}: the methods
    twisted.web's C{Request} calls on a channel (C{writeHeaders}, C{write},
    C{requestDone}, C{registerProducer}, C{getPeer}...), and the refusals
    echohub's request and limits call (L{refuse}, L{refuseTooLarge}).

    @ivar streamID: the stream's identifier.
    @ivar site: the site, as C{server.Request} expects of a channel.
    @ivar factory: the site, whose C{log} writes the access log line.
    @ivar transport: the connection's transport, for the TLS facts; a
        request never writes to it.
    @ivar receivedHeaders: the decoded header list as received,
        pseudo-headers first, in order; C{request.rawHead} has it as
        C{name: value} lines, labelled C{"HTTP/2"}, for
        L{echohub.http._channel.rawRequestHead}.
    @ivar connectionHeaders: the response headers of this connection
        (C{Strict-Transport-Security} over TLS), which the request adds.
    @ivar request: this stream's request.
    @ivar queued: response bytes waiting to be sent.
    @ivar finished: the response is complete (it may not all be sent).
    @ivar remoteEnded: the client has sent all of its request.
    """

    maxBody: int

    def __init__(
        self,
        connection: H2Connection,
        streamID: int,
        headers: list[tuple[bytes, bytes]],
    ) -> None:
        self._conn = connection
        self.streamID = streamID
        self.site = connection.site
        self.factory = connection.site
        self.transport = connection.transport
        self.maxBody = connection.site.maxBody
        self.connectionHeaders = connection.connectionHeaders
        self.receivedHeaders = headers
        self.producer: IProducer | None = None
        self._streaming = True
        self._producerPaused = False
        self.headers: list[tuple[bytes, bytes]] | None = None
        self.data: deque[bytes] = deque()
        self.queued = 0
        self.finished = False
        self.remoteEnded = False
        self.refused = False
        self.bodyReceived = 0
        self._bodyStarted = 0.0
        self._deadline: IDelayedCall | None = None
        self.request: EchoRequest = self.site.requestFactory(self, queued=False)
        # What echohub.http._channel.rawRequestHead gives /dump/request.
        self.request.rawHead = RawHead(  # type: ignore[attr-defined]
            "HTTP/2",
            b"".join(b"%s: %s\r\n" % field for field in headers) + b"\r\n",
            tuple(headers),
        )

    # What twisted.web's Request calls.

    def getPeer(self) -> IAddress:
        return self._conn.peer

    def getHost(self) -> IAddress:
        return self._conn.host

    def isSecure(self) -> bool:
        return self._conn.secure

    def writeHeaders(
        self, version: bytes, code: bytes, reason: bytes, headers: Headers
    ) -> None:
        """
        Keep the response headers for the next flush, which may carry
        C{END_STREAM} with them when the response has no body.
        """
        fields = [(b":status", code)]
        for name, values in headers.getAllRawHeaders():
            lower = name.lower()
            if lower not in _HOP_BY_HOP:
                fields.extend((lower, value) for value in values)
        self.headers = fields
        self._conn.wantsFlush(self)

    def write(self, data: bytes) -> None:
        """
        Queue response data; pause the producer once too much waits.
        """
        if self.finished or not data:
            return
        self.data.append(data)
        self.queued += len(data)
        if self.queued > STREAM_BUFFER:
            self._pauseProducer()
        self._conn.wantsFlush(self)

    def writeSequence(self, data: list[bytes]) -> None:
        for piece in data:
            self.write(piece)

    def requestDone(self, request: object) -> None:
        """
        The response is complete: end the stream once it is sent.
        """
        self.finished = True
        self._cancelDeadline()
        self._conn.wantsFlush(self)

    def loseConnection(self) -> None:
        """
        End this stream, not the connection.
        """
        self.requestDone(self.request)

    def abortConnection(self) -> None:
        """
        Reset this stream.
        """
        self._conn.resetStream(self, ErrorCodes.CANCEL)

    def registerProducer(self, producer: IProducer, streaming: bool) -> None:
        if self.producer is not None:
            raise RuntimeError(f"{producer!r} registered while {self.producer!r} is")
        self.producer = producer
        self._streaming = streaming
        self._producerPaused = False
        if not streaming:
            self._conn.clock.callLater(0, self._pull)
        elif self.queued > STREAM_BUFFER or self._conn.paused:
            self._pauseProducer()

    def unregisterProducer(self) -> None:
        self.producer = None

    def _pauseProducer(self) -> None:
        if self.producer is not None and self._streaming and not self._producerPaused:
            self._producerPaused = True
            self.producer.pauseProducing()  # type: ignore[attr-defined]

    def drained(self) -> None:
        """
        The connection sent what was queued, down to L{queued} bytes: resume
        or pull the producer if there is room again.
        """
        if self.producer is None or self.queued > STREAM_BUFFER // 2:
            return
        if not self._streaming:
            self._conn.clock.callLater(0, self._pull)
        elif self._producerPaused and not self._conn.paused:
            self._producerPaused = False
            self.producer.resumeProducing()  # type: ignore[attr-defined]

    def _pull(self) -> None:
        if self.producer is not None and not self._streaming and not self.finished:
            self.producer.resumeProducing()  # type: ignore[attr-defined]

    # IPushProducer, as the request sees its channel.

    def pauseProducing(self) -> None:
        self._pauseProducer()

    def resumeProducing(self) -> None:
        self.drained()

    def stopProducing(self) -> None:
        self.abortConnection()

    # The limits.

    def refuse(self, status: bytes, reason: str) -> None:
        """
        Answer with a plain-text error through the request, so that it is
        logged and counted like any response; the connection resets the
        stream after it if the client is still sending.  Only the first
        refusal, and only before any response, answers.
        """
        if self.refused or self.request.startedWriting:
            return
        self.refused = True
        self._cancelDeadline()
        request = self.request
        body = reason.encode("utf-8")
        request.setResponseCode(int(status[:3]), status[4:])
        request.responseHeaders = Headers(
            {
                b"Content-Type": [PLAIN_TEXT],
                b"X-Content-Type-Options": [b"nosniff"],
                b"Content-Length": [b"%d" % (len(body),)],
                b"Date": [http.datetimeToString()],
            }
        )
        request.write(body)
        request.finish()

    def refuseTooLarge(self) -> None:
        """
        Answer C{413} for a request body over the limit.
        """
        self._conn.rejected(
            Reason.TOO_LONG,
            "{service}: refused an HTTP/2 request body over {limit} bytes from {peer}",
            limit=self.maxBody,
        )
        self.refuse(
            b"413 Content Too Large",
            f"413 Content Too Large: request bodies are limited to"
            f" {self.maxBody} bytes\n",
        )

    def _respondToBadRequestAndDisconnect(self) -> None:
        """
        What twisted.web's C{Request} calls for a request it cannot parse:
        C{400} on this stream.  (Twisted's name, without its disconnect:
        other streams are not at fault.)
        """
        self.refuse(b"400 Bad Request", "400 Bad Request: malformed HTTP request\n")

    # What the connection calls.

    def startBody(self, timeout: float | None) -> None:
        """
        The request has a body: start its deadline.
        """
        if timeout is not None:
            self._bodyStarted = self._conn.clock.seconds()
            self._deadline = self._conn.clock.callLater(timeout, self._bodyTimedOut)

    def dataReceived(self, data: bytes) -> None:
        """
        A piece of the body: count it against the limit (in the request)
        and the deadline's rate.
        """
        if not self.refused and not self.finished:
            self.bodyReceived += len(data)
            self.request.handleContentChunk(data)

    def ended(self) -> None:
        """
        The client has sent the whole request: render it.
        """
        self.remoteEnded = True
        self._cancelDeadline()
        if not self.refused and not self.finished:
            request = self.request
            request.requestReceived(request.method, request.uri, b"HTTP/2")

    def _bodyTimedOut(self) -> None:
        self._deadline = None
        limits = self.site.limits
        assert limits.bodyTimeout is not None
        due = self._bodyStarted + limits.bodyTimeout
        if limits.bodyMinRate:
            due += self.bodyReceived / limits.bodyMinRate
        remaining = due - self._conn.clock.seconds()
        if remaining > 0:
            self._deadline = self._conn.clock.callLater(remaining, self._bodyTimedOut)
            return
        self._conn.rejected(
            Reason.TIMEOUT,
            "{service}: {peer} sent {received} body bytes on an HTTP/2 stream,"
            " too slowly (body_timeout {timeout:g} s, body_min_rate {rate}"
            " bytes/s); answered 408",
            received=self.bodyReceived,
            timeout=limits.bodyTimeout,
            rate=limits.bodyMinRate,
        )
        self.refuse(
            b"408 Request Timeout",
            "408 Request Timeout: the request body arrived too slowly\n",
        )

    def _cancelDeadline(self) -> None:
        if self._deadline is not None:
            if self._deadline.active():
                self._deadline.cancel()
            self._deadline = None

    def lost(self, reason: Failure) -> None:
        """
        The stream was reset or the connection lost before the response
        was sent.
        """
        self._cancelDeadline()
        producer, self.producer = self.producer, None
        if producer is not None:
            producer.stopProducing()
        if not self.request.finished:
            self.request.connectionLost(reason)
