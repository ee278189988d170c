# -*- test-case-name: tests.http.test_h2 -*-
"""
One HTTP/2 stream as the channel of its twisted.web request (L{H2Stream}):
what twisted.web's C{Request} calls on a channel, the refusals of the one
policy (L{echohub.http._policy}), and the response data waiting for the
peer's flow-control window, on behalf of its
L{echohub.http._h2.H2Connection}.

Memory is bounded whatever the peer's window: a stream pauses its
response's producer once L{STREAM_BUFFER} bytes wait to be sent, and every
response that is larger than that is written through one (the echo site's
generated bodies are; an echo's body is the request body, already
accepted).
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
from twisted.web.http_headers import Headers
from zope.interface import implementer

from echohub._net import cancelCall
from echohub.http._head import RawHead
from echohub.http._interfaces import IHTTPStream, IStreamHandler
from echohub.http._policy import (
    BODY_TIMEOUT,
    BODY_TOO_LARGE,
    MALFORMED,
    PLAIN_TEXT,
    BodyClock,
    Refusal,
    bodilessHeaders,
)

if TYPE_CHECKING:
    from echohub.http._h2 import H2Connection
    from echohub.http._site import HTTPRequest

STREAM_BUFFER = 65536
"""
Bytes of response data a stream may have waiting (on the peer's window or
the transport) before its producer is paused.
"""

_HOP_BY_HOP = frozenset(
    (
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"transfer-encoding",
        b"upgrade",
    )
)
"""
Connection-specific response headers that HTTP/2 forbids (RFC 9113 section
8.2.2); twisted.web adds some of them for HTTP/1.1.
"""


class _Outbound:
    """
    What every kind of stream shares: the response waiting for the peer's
    flow-control window and the transport, its producer paused once
    L{STREAM_BUFFER} bytes wait, and what the connection's flush reads.

    @ivar streamID: the stream's identifier.
    @ivar headers: the response's header list, until it is sent.
    @ivar data: response data waiting to be sent, the first piece from
        L{offset} on.
    @ivar queued: how many bytes of L{data} wait.
    @ivar trailers: the trailer section to end the stream with, if any.
    @ivar unacknowledged: request bytes whose flow control is held back.
    @ivar dispatched: the request is in the application's hands.
    @ivar finished: the response is complete (it may not all be sent).
    @ivar remoteEnded: the client has sent all of its request.
    """

    def __init__(self, connection: H2Connection, streamID: int) -> None:
        self._conn = connection
        self.streamID = streamID
        self.producer: IProducer | None = None
        self._streaming = True
        self._producerPaused = False
        self.headers: list[tuple[bytes, bytes]] | None = None
        self.data: deque[bytes] = deque()
        self.offset = 0
        self.queued = 0
        self.trailers: list[tuple[bytes, bytes]] | None = None
        self.unacknowledged = 0
        self.dispatched = False
        self.finished = False
        self.remoteEnded = False

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
        producer = self.producer
        if producer is not None and not self._streaming and not self.finished:
            if self.queued <= STREAM_BUFFER and not self._conn.paused:
                producer.resumeProducing()  # type: ignore[attr-defined]

    @property
    def blocked(self) -> bool:
        """
        Whether the response waits on the peer: data is queued that its
        flow-control window or the transport does not take.
        """
        return bool(self.data) or self._conn.paused

    def pauseProducing(self) -> None:
        """
        The connection's transport is full: pause the producer.
        """
        self._pauseProducer()

    def received(self, data: bytes) -> bool:
        """
        A piece of the request body.

        @return: whether to acknowledge it at once (open the client's
            flow-control window again).
        """
        raise NotImplementedError()

    def ended(self) -> None:
        """
        The client has sent the whole request.
        """
        raise NotImplementedError()

    def lost(self, reason: Failure) -> None:
        """
        The stream was reset, or the connection lost, before the response
        was sent.
        """
        raise NotImplementedError()

    def drain(self) -> None:
        """
        The server is stopping: finish soon.
        """

    def done(self) -> None:
        """
        The response is all sent, the stream's end included.
        """


@implementer(IPushProducer)
class H2Stream(_Outbound):
    """
    One HTTP/2 stream, as the channel of its L{HTTPRequest}: what
    twisted.web's C{Request} calls on a channel, and the refusals of the one
    policy.

    @ivar site: the site, as C{server.Request} expects of a channel.
    @ivar factory: the site, whose C{log} writes the access log line.
    @ivar transport: the connection's transport, for the TLS facts; a
        request never writes to it.
    @ivar connectionHeaders: the response headers of this connection
        (C{Strict-Transport-Security} over TLS), which the request adds.
    @ivar request: this stream's request.
    @ivar refused: a refusal answered the request.
    """

    def __init__(
        self,
        connection: H2Connection,
        streamID: int,
        headers: list[tuple[bytes, bytes]],
    ) -> None:
        super().__init__(connection, streamID)
        self.site = self.factory = connection.site
        self.transport = connection.transport
        self.connectionHeaders = connection.connectionHeaders
        self.refused = False
        self._body: BodyClock | None = None
        self._deadline: IDelayedCall | None = None
        self.request: HTTPRequest = self.site.requestFactory(self, queued=False)
        # What echohub.http.rawRequestHead gives /dump/request.
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

    def peerText(self) -> str:
        """
        The client's address as the access log shows it.
        """
        return self._conn.peerText

    def writeHeaders(
        self, version: bytes, code: bytes, reason: bytes, headers: Headers
    ) -> None:
        """
        Keep the response headers for the next flush, which may carry
        C{END_STREAM} with them when the response has no body; without the
        connection-specific ones, and without what a response without
        content must not carry.
        """
        bodilessHeaders(int(code), headers)
        fields = [(b":status", code)]
        for name, values in headers.getAllRawHeaders():
            lower = name.lower()
            if lower not in _HOP_BY_HOP:
                fields.extend((lower, value) for value in values)
        self.headers = fields
        self._conn.wantsFlush(self)

    def requestDone(self, request: object) -> None:
        """
        The response is complete: end the stream once it is sent.
        """
        self.finished = True
        self._stopDeadline()
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
        self._conn.resetStream(self)

    def reset(self, code: int) -> None:
        """
        Reset this stream with error C{code} (a fault's end, say), leaving
        the connection's other streams alone.
        """
        self._conn.resetStream(self, ErrorCodes(code))

    # IPushProducer, as the request sees its channel.

    def resumeProducing(self) -> None:
        self.drained()

    def stopProducing(self) -> None:
        self.abortConnection()

    # The policy.

    def refuse(self, refusal: Refusal, **params: object) -> None:
        """
        Answer with C{refusal}'s plain-text answer through the request, so
        that it is logged and counted like any response; the connection
        resets the stream after it if the client is still sending, once it
        has read the rest (within the lingering bounds).  Only the first
        refusal, and only before any response, answers.
        """
        if self.refused or self.request.startedWriting:
            return
        self.refused = True
        self._stopDeadline()
        params.setdefault("version", "HTTP/2")
        params.setdefault("why", "")
        params.setdefault("received", self.request.bodyLength)
        body = self.site.refused(refusal, self._conn.peer, **params)
        request = self.request
        request.setResponseCode(refusal.status, refusal.phrase)
        request.responseHeaders = Headers(
            {
                b"Content-Type": [PLAIN_TEXT],
                b"X-Content-Type-Options": [b"nosniff"],
                b"Content-Length": [b"%d" % (len(body),)],
                b"Date": [self.site.dates.value()],
            }
        )
        for name, value in self.connectionHeaders:
            request.responseHeaders.setRawHeaders(name, [value])
        if not self.dispatched:
            # The request never reached a resource: the method and path
            # are still to be set for the log.
            request.clientproto = b"HTTP/2"
        request.write(body)
        request.finish()

    def _respondToBadRequestAndDisconnect(self) -> None:
        """
        What twisted.web's C{Request} calls for a request it cannot parse:
        C{400} on this stream.  (Twisted's name, without its disconnect:
        other streams are not at fault.)
        """
        self.refuse(MALFORMED, why="a malformed form body")

    # What the connection calls.

    def startBody(self) -> None:
        """
        The request has a body: start its deadline.
        """
        self._body = BodyClock(self.site.limits, self._conn.clock.seconds())
        self._armDeadline()

    def received(self, data: bytes) -> bool:
        """
        A piece of the body: count it against the limit and the body rule,
        and hand it to the request.

        @return: C{True}: bounded by C{max_body}, the body is acknowledged
            as it arrives.
        """
        if self.refused or self.finished:
            return True
        request = self.request
        if request.bodyLength + len(data) > self.site.limits.maxBody:
            self.refuse(BODY_TOO_LARGE)
            return True
        if self._body is not None:
            self._body.progressed(len(data), self._conn.clock.seconds())
        request.handleContentChunk(data)
        return True

    def ended(self) -> None:
        """
        The client has sent the whole request: render it.
        """
        self.remoteEnded = True
        self._stopDeadline()
        if not self.refused and not self.finished:
            request = self.request
            self.dispatched = True
            request.requestReceived(request.method, request.uri, b"HTTP/2")

    def _armDeadline(self) -> None:
        body = self._body
        due = None if body is None else body.due()
        if due is not None:
            clock = self._conn.clock
            self._deadline = clock.callLater(
                max(0.0, due - clock.seconds()), self._bodyLate
            )

    def _bodyLate(self) -> None:
        self._deadline = None
        body = self._body
        if body is None or self.refused or self.finished:
            return
        if body.expired(self._conn.clock.seconds()):
            self.refuse(BODY_TIMEOUT)
        else:
            self._armDeadline()

    def _stopDeadline(self) -> None:
        cancelCall(self._deadline)
        self._deadline = None
        self._body = None

    def lost(self, reason: Failure) -> None:
        """
        The stream was reset or the connection lost before the response
        was sent.
        """
        self._stopDeadline()
        producer, self.producer = self.producer, None
        if producer is not None:
            producer.stopProducing()
        if not self.request.finished:
            self.request.connectionLost(reason)


@implementer(IHTTPStream, IPushProducer)
class HandlerStream(_Outbound):
    """
    An HTTP/2 stream taken over by an L{IStreamHandler} (see
    L{IStreamRoutes}).

    What the client sends is acknowledged (its window opened again) as it
    arrives while the response keeps up; while more than L{STREAM_BUFFER}
    bytes of response wait on the peer, or the handler has paused reading,
    it is held back, and acknowledged when they drain or reading resumes: a
    client that sends without reading stalls itself.  Its response is
    counted by status in C{echohub_http_requests_total}, as every other.

    @ivar handler: the handler, once the route has opened it.
    @ivar readingPaused: the handler has paused reading.
    """

    handler: IStreamHandler
    readingPaused = False

    def __init__(self, connection: H2Connection, streamID: int) -> None:
        super().__init__(connection, streamID)
        self.dispatched = True
        self.peer = connection.peer
        self.host = connection.host
        self.secure = connection.secure
        self.peerText = connection.peerText

    # IHTTPStream

    def sendHeaders(self, fields: list[tuple[bytes, bytes]], end: bool = False) -> None:
        # Counted by status as twisted.web's responses are: C{:status} first.
        self._conn.site.countResponse(int(fields[0][1]))
        self.headers = fields
        if end:
            self.finished = True
        self._conn.wantsFlush(self)

    def sendData(self, data: bytes, end: bool = False) -> None:
        self.write(data)
        if end:
            self.finished = True
            self._conn.wantsFlush(self)

    def sendTrailers(self, fields: list[tuple[bytes, bytes]]) -> None:
        self.trailers = fields
        self.finished = True
        self._conn.wantsFlush(self)

    def reset(self, code: int) -> None:
        self._conn.resetStream(self, ErrorCodes(code))

    def pauseReading(self) -> None:
        self.readingPaused = True

    def resumeReading(self) -> None:
        self.readingPaused = False
        self.drained()

    # IPushProducer, for the producer's sake.

    def resumeProducing(self) -> None:
        self.drained()

    def stopProducing(self) -> None:
        self.reset(ErrorCodes.CANCEL)

    # What the connection calls.

    def received(self, data: bytes) -> bool:
        """
        Hand C{data} to the handler.

        @return: whether to acknowledge it now: not while the response is
            backed up or the handler has paused reading (the connection
            acknowledges what was held back once it drains, or reading
            resumes).
        """
        if not self.finished:
            self.handler.dataReceived(data)
        return self.queued <= STREAM_BUFFER and not self.readingPaused

    def drained(self) -> None:
        """
        What waited was sent: acknowledge what was held back (unless reading
        is paused), and resume the producer.
        """
        if (
            self.unacknowledged
            and self.queued <= STREAM_BUFFER
            and not self.readingPaused
        ):
            held, self.unacknowledged = self.unacknowledged, 0
            self._conn.acknowledge(held, self.streamID)
        super().drained()

    def ended(self) -> None:
        self.remoteEnded = True
        if not self.finished:
            self.handler.ended()

    def lost(self, reason: Failure) -> None:
        producer, self.producer = self.producer, None
        if producer is not None:
            producer.stopProducing()
        self.handler.streamLost(reason)

    def drain(self) -> None:
        self.handler.drain()

    def done(self) -> None:
        self.handler.streamDone()
