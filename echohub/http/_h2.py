# -*- test-case-name: tests.http.test_h2 -*-
"""
HTTP/2 for the echo site: L{H2Connection}, one connection, and L{H2Stream},
the channel of one request on it.

The protocol itself (framing, HPACK, the stream and flow-control state
machines) is the C{h2} library's; this module owns what C{h2} leaves to the
server, and what Twisted's own (private) C{twisted.web._http2} lacks:

    - B{The site's limits, per stream.}  A C{:path} over C{max_request_line}
      gets C{414}; a header list over C{max_header_bytes} (each field counted
      as C{name: value} and a line end, as HTTP/1.1 counts it) or with more
      than C{max_headers} fields gets C{431}; a C{content-length} over
      C{max_body} gets C{413} before any body is read, and so does a body
      that grows past it.  Each refusal is a whole response (with its access
      log line) followed by C{RST_STREAM} if the client is still sending.
      A body that arrives too slowly gets C{408} (the HTTP/1.1 body
      deadline: C{body_timeout}, extended by C{body_min_rate}).
    - B{Connection deadlines.}  The first request must arrive within
      C{header_timeout}, and so must every header block once started (a
      C{HEADERS} frame without C{END_HEADERS} followed by a trickle of
      C{CONTINUATION}s); a connection with no stream open is closed after
      C{idle_timeout}; a connection whose responses wait on a peer that
      does not read them, or does not open its flow-control window, is
      closed after C{idle_timeout} of no progress.  Each ends with
      C{GOAWAY}.
    - B{Bounded cost under the known attacks.}  L{FrameMeter} reads the
      9-byte header of every frame before C{h2} parses it and answers
      C{GOAWAY ENHANCE_YOUR_CALM} for: more than L{FLOOD_BUDGETS} resets
      (rapid reset, CVE-2023-44487), pings, settings, priority or empty
      frames (CVE-2019-9512/9515/9518, 9513) in L{FLOOD_WINDOW} seconds; and
      for a header block whose frames add up to more than twice the header
      limits (CONTINUATION flood, CVE-2024-27316), before C{h2} would buffer
      it.  HPACK bombs stop at the decoder's header list limit.
    - B{Backpressure.}  While the transport's buffer is full the connection
      stops reading, so a client that sends pings or settings and never
      reads their acknowledgements cannot grow our output; response data
      goes out only as the peer's flow-control windows allow, and a stream
      with more than L{STREAM_BUFFER} bytes waiting pauses its producer.
    - B{Caps and drain.}  A connection over the caps answers its requests
      C{503} and then C{GOAWAY}; a draining server sends C{GOAWAY} (last
      stream id: the highest seen), refuses newer streams, finishes the
      open ones and closes.

Requests are the site's own L{EchoRequest}s rendered by the unchanged
resource tree; C{request.clientproto} is C{b"HTTP/2"}.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from h2.config import H2Configuration
from h2.errors import ErrorCodes
from h2.events import (
    ConnectionTerminated,
    DataReceived,
    RemoteSettingsChanged,
    RequestReceived,
    StreamEnded,
    StreamReset,
    WindowUpdated,
)
from h2.exceptions import ProtocolError, StreamClosedError
from h2.settings import SettingCodes, Settings
from hyperframe.frame import GoAwayFrame
from twisted.internet.error import ConnectionDone, ConnectionLost
from twisted.internet.interfaces import (
    IAddress,
    IDelayedCall,
    IPushProducer,
    IReactorTime,
    ISSLTransport,
)
from twisted.internet.protocol import Protocol, connectionDone
from twisted.python.failure import Failure
from zope.interface import implementer

from echohub._net import formatAddress
from echohub._upstream import StreamRefusingH2Connection as _Machine
from echohub.http._lean import http2Fields, leanResponse
from echohub.http._security import connectionHeaders
from echohub.ops import IDrainable, Reason

if TYPE_CHECKING:
    from echohub.http._site import EchoSite

from echohub.http._h2frames import FrameMeter
from echohub.http._h2stream import H2Stream

ABORT_TIMEOUT = 15.0
"""
Seconds a closing connection has to go away before it is aborted.
"""


@implementer(IPushProducer, IDrainable)
class H2Connection(Protocol):
    """
    One HTTP/2 connection of an L{EchoSite}; see the module docstring.

    @ivar site: the site whose resources, limits and access log serve every
        stream.
    @ivar clock: the site's reactor, for every deadline.
    @ivar streams: the open streams, by identifier.
    @ivar paused: the transport's buffer is full: nothing is read or sent.
    """

    def __init__(self, site: EchoSite, maxConcurrentStreams: int = 100) -> None:
        self.site = site
        self.clock: IReactorTime = site.reactor
        self.maxConcurrentStreams = maxConcurrentStreams
        self.streams: dict[int, H2Stream] = {}
        self.paused = False
        limits = site.limits
        self._maxHeaderList = limits.maxRequestLine + limits.maxHeaderBytes
        self.meter = FrameMeter(self.clock, 2 * self._maxHeaderList)
        self._machine = _Machine(
            H2Configuration(
                client_side=False,
                header_encoding=None,
                normalize_inbound_headers=False,
                # Response headers come from twisted.web's Headers (no CR, LF
                # or NUL), lower-cased and without the connection-specific
                # ones by H2Stream.writeHeaders: h2's checks of every field
                # were a tenth of a small response's time.
                validate_outbound_headers=False,
                normalize_outbound_headers=False,
            )
        )
        self._flushing: dict[int, H2Stream] = {}
        self._receiving = False
        self._closing = False
        self._admitted = False
        self._refusal: str | None = None
        self._goneAway: int | None = None
        self._timer: IDelayedCall | None = None
        self._onTimer: Callable[[], None] | None = None
        self._abortCall: IDelayedCall | None = None

    # Connection life.

    def connectionMade(self) -> None:
        """
        Admit the peer (or answer its requests C{503}), send our settings,
        and wait for the first request within C{header_timeout}.
        """
        transport: Any = self.transport
        self.peer: IAddress = transport.getPeer()
        self.host: IAddress = transport.getHost()
        self.secure = ISSLTransport(transport, None) is not None
        self.connectionHeaders = connectionHeaders(self.site.hsts, transport)
        self._connectionLines = b"".join(
            name + b": " + value + b"\r\n" for name, value in self.connectionHeaders
        )
        self.peerText = formatAddress(self.peer)
        refusal = self.site.access.admit(self.peer, self.site.listener)
        if refusal is not None:
            self._refusal = refusal
        else:
            self._admitted = True
            self.site.connections.add(self)
        machine = self._machine
        machine.local_settings = Settings(
            client=False,
            initial_values={
                SettingCodes.MAX_CONCURRENT_STREAMS: self.maxConcurrentStreams,
                SettingCodes.MAX_HEADER_LIST_SIZE: self._maxHeaderList,
                SettingCodes.ENABLE_PUSH: 0,
            },
        )
        # HPACK counts 32 bytes more per field than HTTP/1.1's line does;
        # the decoder stops a bomb, L{_tooLarge} answers mere excess 431.
        machine.decoder.max_header_list_size = 2 * self._maxHeaderList + 32 * (
            2 * self.site.limits.maxHeaders
        )
        machine.initiate_connection()
        transport.registerProducer(self, True)
        self._send()
        self._arm(self.site.limits.headerTimeout, self._firstRequestTimedOut)

    def dataReceived(self, data: bytes) -> None:
        """
        Check the frames, then let C{h2} parse them and handle its events;
        the responses they produce go out in one write at the end.
        """
        if self._closing:
            return
        why = self.meter.feed(data)
        if why is not None:
            self._calm(why)
            return
        try:
            events = self._machine.receive_data(data)
        except ProtocolError as e:
            self.rejected(
                Reason.FLOOD
                if e.error_code == ErrorCodes.ENHANCE_YOUR_CALM
                else "protocol",
                "{service}: HTTP/2 protocol error from {peer}: {error}; GOAWAY",
                error=str(e),
            )
            self._send()
            self._close(goAway=False)
            return
        self._receiving = True
        try:
            for event in events:
                self._handle(event)
        finally:
            self._receiving = False
        if self.meter.inHeaderBlock and self._onTimer != self._stalled:
            self._arm(self.site.limits.headerTimeout, self._headersTimedOut)
        self._flush()

    def _handle(self, event: object) -> None:
        if isinstance(event, RequestReceived):
            self._requestReceived(event)
        elif isinstance(event, DataReceived):
            stream = self.streams.get(event.stream_id)
            if stream is not None and event.data:
                stream.dataReceived(event.data)
            self._machine.acknowledge_received_data(
                event.flow_controlled_length,
                event.stream_id,
            )
        elif isinstance(event, StreamEnded):
            stream = self.streams.get(event.stream_id)
            if stream is not None:
                stream.ended()
        elif isinstance(event, StreamReset):
            stream = self.streams.pop(event.stream_id, None)
            if stream is not None:
                self._flushing.pop(stream.streamID, None)
                stream.lost(Failure(ConnectionLost("stream reset by the client")))
                self._streamGone()
        elif isinstance(event, (WindowUpdated, RemoteSettingsChanged)):
            self._flushing.update(
                (s.streamID, s) for s in self.streams.values() if s.data or s.finished
            )
        elif isinstance(event, ConnectionTerminated):
            # The client will open no more streams; finish the open ones.
            self._goneAway = self._goneAway or self._machine.highest_inbound_stream_id
            if not self.streams:
                self._close()

    def _requestReceived(self, event: RequestReceived) -> None:
        streamID: int = event.stream_id
        headers: list[tuple[bytes, bytes]] = list(event.headers)
        if self._onTimer != self._stalled:
            self._cancelTimer()
        if self._goneAway is not None and streamID > self._goneAway:
            self._machine.reset_stream(streamID, ErrorCodes.REFUSED_STREAM)
            return
        if len(self.streams) >= self.maxConcurrentStreams:
            # Over SETTINGS_MAX_CONCURRENT_STREAMS: a stream error (RFC 9113
            # section 5.1.2), which the client may retry; a flood of them
            # is a flood.
            self._machine.reset_stream(streamID, ErrorCodes.REFUSED_STREAM)
            why = self.meter.count("refused")
            if why is not None:
                self._calm(why)
            return
        if event.stream_ended is not None and self._answerLean(streamID, headers):
            return
        stream = H2Stream(self, streamID, headers)
        self.streams[streamID] = stream
        request = stream.request
        request.clientproto = b"HTTP/2"
        authority = None
        cookies = []
        raw = request.requestHeaders
        size = 0
        count = 0
        for name, value in headers:
            if name[:1] == b":":
                if name == b":method":
                    request.method = value
                elif name == b":path":
                    request.uri = value
                    request.path = value.split(b"?", 1)[0]
                elif name == b":authority":
                    authority = value
                continue
            size += len(name) + len(value) + 4
            count += 1
            if name == b"cookie":
                cookies.append(value)
            else:
                raw.addRawHeader(name, value)
        if cookies:
            # RFC 9113 section 8.2.3: one field for an HTTP/1.1 application.
            raw.setRawHeaders(b"cookie", [b"; ".join(cookies)])
        if authority is not None and not raw.hasHeader(b"host"):
            raw.setRawHeaders(b"host", [authority])
        if self._refusal is not None:
            stream.refuse(
                b"503 Service Unavailable",
                f"503 Service Unavailable: too many connections ({self._refusal});"
                " try again later\n",
            )
            self._flush()
            self.drain()
            return
        limits = self.site.limits
        if len(request.uri) > limits.maxRequestLine:
            self.rejected(
                Reason.TOO_LONG,
                "{service}: {peer} sent an HTTP/2 :path over {limit} bytes;"
                " answered 414",
                limit=limits.maxRequestLine,
            )
            stream.refuse(
                b"414 URI Too Long",
                f"414 URI Too Long: request lines are limited to"
                f" {limits.maxRequestLine} bytes (max_request_line)\n",
            )
            return
        if size > limits.maxHeaderBytes or count > limits.maxHeaders:
            self.rejected(
                Reason.TOO_LONG,
                "{service}: {peer} sent an HTTP/2 header list over the limits;"
                " answered 431",
            )
            stream.refuse(
                b"431 Request Header Fields Too Large",
                f"431 Request Header Fields Too Large: headers are limited to"
                f" {limits.maxHeaderBytes} bytes (max_header_bytes) and"
                f" {limits.maxHeaders} lines (max_headers)\n",
            )
            return
        length = raw.getRawHeaders(b"content-length")
        if length is not None:
            # h2 has checked that it is one number and that the body matches.
            if int(length[0]) > stream.maxBody:
                stream.refuseTooLarge()
                return
        request.gotLength(int(length[0]) if length else None)
        request.parseCookies()
        if event.stream_ended is None:
            stream.startBody(limits.bodyTimeout)

    def _answerLean(self, streamID: int, headers: list[tuple[bytes, bytes]]) -> bool:
        """
        Answer a bodiless request for a lean route at once, without
        a stream object or a L{Request}, with the header list and body the
        full path gives (L{echohub.http._lean}), its access-log line and
        counters; as on HTTP/1.1, only within every limit and when nothing
        else (a CORS site, a draining server, an C{Origin}) could change the
        answer.

        @return: whether it was answered.
        """
        site = self.site
        if site.lean is None or self._refusal is not None or site.connections.draining:
            return False
        method = path = None
        plain = []
        size = 0
        for name, value in headers:
            if name[:1] == b":":
                if name == b":method":
                    method = value
                elif name == b":path":
                    path = value
            else:
                plain.append((name, value))
                size += len(name) + len(value) + 4
        limits = site.limits
        if (
            method is None
            or path is None
            or len(path) > limits.maxRequestLine
            or size > limits.maxHeaderBytes
            or len(plain) > limits.maxHeaders
        ):
            return False
        match = site.lean.match(method, path, plain)
        if match is None or match[0].takesBody:
            return False
        route, value = match
        head, content = leanResponse(
            route, value, b"", self._connectionLines, site.dates.value()
        )
        machine = self._machine
        if len(content) > min(
            machine.local_flow_control_window(streamID),
            machine.max_outbound_frame_size,
        ):
            return False
        machine.send_headers(streamID, http2Fields(head))
        machine.send_data(streamID, content, end_stream=True)
        site.leanAnswered(
            self.peerText, method, path, route.echoes, 0, len(content), 0.0
        )
        self._streamGone()
        return True

    # Output.

    def wantsFlush(self, stream: H2Stream) -> None:
        """
        C{stream} has something to send: send it now, or at the end of the
        data being received, so that many responses share one write.
        """
        self._flushing[stream.streamID] = stream
        if not self._receiving:
            self._flush()

    def _flush(self) -> None:
        """
        Send what the streams have queued, as far as the peer's windows and
        the transport allow.
        """
        if self.paused or self._closing:
            return
        machine = self._machine
        blocked = False
        for streamID, stream in list(self._flushing.items()):
            if stream.headers is not None:
                last = stream.finished and not stream.data
                try:
                    machine.send_headers(streamID, stream.headers, end_stream=last)
                except StreamClosedError:
                    self._flushing.pop(streamID)
                    continue
                stream.headers = None
                if last:
                    self._streamDone(stream)
                    continue
            data = stream.data
            ended = False
            while data:
                window = min(
                    machine.local_flow_control_window(streamID),
                    machine.max_outbound_frame_size,
                )
                if window <= 0:
                    break
                chunk = data[0]
                if len(chunk) > window:
                    data[0] = chunk[window:]
                    chunk = chunk[:window]
                else:
                    data.popleft()
                stream.queued -= len(chunk)
                ended = stream.finished and not data
                machine.send_data(streamID, chunk, end_stream=ended)
            if data:
                blocked = True
            elif stream.finished:
                if not ended:
                    machine.end_stream(streamID)
                self._streamDone(stream)
            else:
                del self._flushing[streamID]
                stream.drained()
        self._send()
        if blocked:
            if self._onTimer != self._stalled:
                self._arm(self.site.timeOut, self._stalled)
        elif self._onTimer == self._stalled and not self.paused:
            self._cancelTimer()
            self._idleIfQuiet()

    def _streamDone(self, stream: H2Stream) -> None:
        """
        The response is sent: reset the stream if the client is still
        sending (RFC 9113 section 8.1), and forget it.
        """
        self._flushing.pop(stream.streamID, None)
        if self.streams.pop(stream.streamID, None) is None:
            return
        if not stream.remoteEnded:
            try:
                self._machine.reset_stream(stream.streamID, ErrorCodes.NO_ERROR)
            except StreamClosedError:
                pass
        self._streamGone()

    def _streamGone(self) -> None:
        if self.streams:
            return
        if self._goneAway is not None:
            self._send()
            self._close(goAway=False)
        else:
            self._idleIfQuiet()

    def resetStream(self, stream: H2Stream, code: ErrorCodes) -> None:
        """
        Reset C{stream} with C{code} and forget it.
        """
        if self.streams.pop(stream.streamID, None) is None:
            return
        self._flushing.pop(stream.streamID, None)
        try:
            self._machine.reset_stream(stream.streamID, code)
        except StreamClosedError:
            pass
        stream.lost(Failure(ConnectionDone("stream reset")))
        self._send()
        self._streamGone()

    def _send(self) -> None:
        data = self._machine.data_to_send()
        if data and self.transport is not None:
            self.transport.write(data)

    # IPushProducer: the transport's buffer.

    def pauseProducing(self) -> None:
        """
        The peer is not reading: stop reading what it sends (its pings and
        settings would queue acknowledgements) and stop sending.
        """
        if self.paused:
            return
        self.paused = True
        self.transport.pauseProducing()  # type: ignore[union-attr]
        for stream in self.streams.values():
            stream._pauseProducer()
        self._arm(self.site.timeOut, self._stalled)

    def resumeProducing(self) -> None:
        if not self.paused:
            return
        self.paused = False
        self.transport.resumeProducing()  # type: ignore[union-attr]
        if self._onTimer == self._stalled:
            self._cancelTimer()
        self._flushing.update(self.streams)
        self._flush()
        self._idleIfQuiet()

    def stopProducing(self) -> None:
        self.transport.loseConnection()  # type: ignore[union-attr]

    # Deadlines: one timer per connection, for whichever applies.

    def _arm(self, seconds: float | None, handler: Callable[[], None]) -> None:
        self._cancelTimer()
        if seconds is not None and not self._closing:
            self._onTimer = handler
            self._timer = self.clock.callLater(seconds, self._timerFired)

    def _cancelTimer(self) -> None:
        self._onTimer = None
        if self._timer is not None:
            if self._timer.active():
                self._timer.cancel()
            self._timer = None

    def _timerFired(self) -> None:
        handler, self._onTimer, self._timer = self._onTimer, None, None
        if handler is not None:
            handler()

    def _idleIfQuiet(self) -> None:
        if not self.streams and self._timer is None:
            self._arm(self.site.timeOut, self._idle)

    def _idle(self) -> None:
        self._close()

    def _firstRequestTimedOut(self) -> None:
        self.rejected(
            Reason.TIMEOUT,
            "{service}: {peer} sent no HTTP/2 request within {timeout:g} s"
            " (header_timeout); GOAWAY",
            timeout=self.site.limits.headerTimeout,
        )
        self._close()

    def _headersTimedOut(self) -> None:
        self.rejected(
            Reason.TIMEOUT,
            "{service}: {peer} sent no complete HTTP/2 header block within"
            " {timeout:g} s (header_timeout); GOAWAY",
            timeout=self.site.limits.headerTimeout,
        )
        self._close(ErrorCodes.ENHANCE_YOUR_CALM)

    def _stalled(self) -> None:
        queued = sum(s.queued for s in self.streams.values())
        self.rejected(
            Reason.TIMEOUT,
            "{service}: {peer} read none of {queued} HTTP/2 response bytes for"
            " {timeout:g} s (idle_timeout); GOAWAY",
            queued=queued,
            timeout=self.site.timeOut,
        )
        self._close(ErrorCodes.ENHANCE_YOUR_CALM, abort=self.paused)

    # Closing.

    def drain(self) -> None:
        """
        Send C{GOAWAY} (no error, last stream: the highest seen), refuse
        newer streams, finish the open ones, then close.
        """
        if self._goneAway is not None or self._closing:
            return
        self._goneAway = self._machine.highest_inbound_stream_id
        self._send()
        frame = GoAwayFrame(0)
        frame.last_stream_id = self._goneAway
        frame.error_code = ErrorCodes.NO_ERROR
        self.transport.write(frame.serialize())  # type: ignore[union-attr]
        if not self.streams:
            self._close(goAway=False)

    def _calm(self, why: str) -> None:
        self.rejected(
            Reason.FLOOD,
            "{service}: {peer} sent {why}; GOAWAY ENHANCE_YOUR_CALM",
            why=why,
        )
        self._close(ErrorCodes.ENHANCE_YOUR_CALM)

    def rejected(self, kind: str, format: str, **kwargs: object) -> None:
        """
        Count and log (rate-limited) a refusal of C{kind}.
        """
        self.site.access.rejected(kind, format, self.peer, **kwargs)

    def _close(
        self,
        code: ErrorCodes = ErrorCodes.NO_ERROR,
        goAway: bool = True,
        abort: bool = False,
    ) -> None:
        """
        Send C{GOAWAY} with C{code} unless one was sent, stop reading and
        close; abort if the peer has not let go in L{ABORT_TIMEOUT}
        seconds, or at once with C{abort}.
        """
        if self._closing:
            return
        self._closing = True
        self._cancelTimer()
        transport: Any = self.transport
        if goAway:
            self._machine.close_connection(
                code, last_stream_id=self._machine.highest_inbound_stream_id
            )
            self._send()
        if abort:
            transport.abortConnection()
            return
        transport.unregisterProducer()
        if self.paused:
            transport.resumeProducing()
        transport.loseConnection()
        self._abortCall = self.clock.callLater(ABORT_TIMEOUT, transport.abortConnection)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        """
        Tell the open streams' requests, release the caps, stop the timers.
        """
        self._closing = True
        self._cancelTimer()
        if self._abortCall is not None and self._abortCall.active():
            self._abortCall.cancel()
        streams, self.streams = self.streams, {}
        self._flushing = {}
        for stream in streams.values():
            stream.lost(reason)
        self.site.connections.remove(self)
        if self._admitted:
            self._admitted = False
            self.site.access.release(self.peer, self.site.listener)
