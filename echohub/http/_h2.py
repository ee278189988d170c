# -*- test-case-name: tests.http.test_h2 -*-
"""
HTTP/2 for the echo site: L{H2Connection}, one connection, whose streams
(L{echohub.http._h2stream.H2Stream}) are the channels of its requests.

The protocol itself (framing, HPACK, the stream and flow-control state
machines) is the C{h2} library's, through L{echohub._upstream}'s
L{ServerH2Connection} (which makes a client's C{GOAWAY}, a stream over the
limit and a malformed request what RFC 9113 says they are).  This module
owns what C{h2} leaves to the server, by the one policy
(L{echohub.http._policy}), the same as HTTP/1.1's:

    - B{The site's limits, per stream.}  A C{:path} over C{max_request_line}
      gets C{414}; a header list over the header limits (each field counted
      as the line HTTP/1.1 would send) C{431}; a C{content-length} over
      C{max_body} C{413} before any body is read, and so does a body that
      grows past it; a body that stalls or trickles C{408}.  A malformed
      request (RFC 9113 section 8.1.1: header names, values, pseudo-headers,
      connection-specific fields, C{te}, a C{content-length} the body does
      not match) is a stream error, C{RST_STREAM PROTOCOL_ERROR}; the other
      streams go on.
    - B{A response the client can read.}  A refusal, like any response
      that ends before the request does, is followed by what RFC 9113
      section 8.1 allows: the rest of the request is read and discarded
      (within the lingering bounds of L{echohub.ops.Lingering}), then the
      stream is reset with C{NO_ERROR} if the client still sends; clients
      that read the answer only once their upload is done (curl) see it.
    - B{Deadlines.}  The first request within C{header_timeout}, and every
      header block once started; the idle rule (L{IdleTimer}): nothing
      moving for C{idle_timeout} closes the connection, a response waiting
      on a peer that does not read it, or keeps its flow-control window
      shut, included.
    - B{Bounded cost under the known attacks}: L{FrameGate}'s floods and
      frame checks (C{GOAWAY}), the decoder's header list limit against
      HPACK bombs, the encoder's capped table, and bounded output: while
      the transport's buffer is full the connection stops reading, and
      response data goes out only as the peer's windows allow.
    - B{Caps and drain.}  A connection over the caps answers its requests
      C{503} and then C{GOAWAY}; a draining server sends C{GOAWAY} (last
      stream: the highest seen), refuses newer streams, finishes the open
      ones and closes.  A client's C{GOAWAY} ends nothing in flight: the
      streams finish (their responses, C{PING}s answered), then the
      connection closes.
    - B{Streams taken over} by the site's stream routes
      (L{echohub.http.IStreamRoutes}: gRPC, WebSocket over HTTP/2) instead
      of twisted.web.  When they take extended C{CONNECT} (RFC 8441) for
      some C{:protocol}, the server's C{SETTINGS} carry
      C{SETTINGS_ENABLE_CONNECT_PROTOCOL = 1}, and an extended C{CONNECT} no
      route takes is answered on its stream: C{501} for another
      C{:protocol}, C{404} for another C{:path}.
"""

from __future__ import annotations

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
    TrailersReceived,
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

from echohub._net import cancelCall, formatAddress
from echohub._upstream import ServerH2Connection
from echohub.http._h2checks import FrameGate, Violation, requestProblem, trailerProblem
from echohub.http._h2stream import H2Stream, HandlerStream, _Outbound
from echohub.http._lean import http2Fields, leanResponse
from echohub.http._policy import (
    BODY_TOO_LARGE,
    NO_TUNNEL,
    OVER_CAPS,
    UNKNOWN_PROTOCOL,
    Deadline,
    IdleTimer,
)
from echohub.http._security import connectionHeaders
from echohub.ops import IDrainable, Reason

if TYPE_CHECKING:
    from echohub.http._site import HTTPSite

ABORT_TIMEOUT = 15.0
"""
Seconds a closing connection has to go away before it is aborted.
"""


class _Lingering:
    """
    A stream whose response is complete while its request is not: its
    data is read and discarded until it ends, or it is reset.
    """

    __slots__ = ("started", "last", "call")

    def __init__(self, now: float) -> None:
        self.started = self.last = now
        self.call: IDelayedCall | None = None


@implementer(IPushProducer, IDrainable)
class H2Connection(Protocol):
    """
    One HTTP/2 connection of an L{HTTPSite}; see the module docstring.

    @ivar site: the site whose resources, limits and access log serve every
        stream.
    @ivar clock: the site's reactor, for every deadline.
    @ivar streams: the open streams, by identifier.
    @ivar paused: the transport's buffer is full: nothing is read or sent.
    """

    def __init__(self, site: HTTPSite, maxConcurrentStreams: int = 100) -> None:
        self.site = site
        self.clock: IReactorTime = site.reactor
        self.maxConcurrentStreams = maxConcurrentStreams
        self.streams: dict[int, _Outbound] = {}
        self.paused = False
        limits = site.limits
        self._maxHeaderList = limits.maxRequestLine + limits.maxHeaderBytes
        routes = site.streamRoutes
        self._protocols: frozenset[bytes] = (
            frozenset() if routes is None else routes.protocols
        )
        self.gate = FrameGate(self.clock, 2 * self._maxHeaderList)
        self._machine = ServerH2Connection(
            H2Configuration(
                client_side=False,
                header_encoding=None,
                # Header lists are checked per stream here (requestProblem),
                # so that a malformed request is a stream error.
                validate_inbound_headers=False,
                normalize_inbound_headers=False,
                # Response headers come from twisted.web's Headers (no CR, LF
                # or NUL), lower-cased and without the connection-specific
                # ones by H2Stream.writeHeaders: h2's checks of every field
                # were a tenth of a small response's time.
                validate_outbound_headers=False,
                normalize_outbound_headers=False,
            )
        )
        self._flushing: dict[int, _Outbound] = {}
        self._lingering: dict[int, _Lingering] = {}
        self._receiving = False
        self._inFlush = False
        self._flushAgain = False
        self._closing = False
        self._admitted = False
        self._refusal: str | None = None
        self._drainedAfter: int | None = None
        self._peerGoneAway = False
        self._deadline = Deadline(self.clock)
        self._idle: IdleTimer | None = None
        self._abortCall: IDelayedCall | None = None

    # Connection life.

    def connectionMade(self) -> None:
        """
        Admit the peer (or answer its requests C{503}), send our settings,
        and wait for the first request within C{header_timeout}.
        """
        transport: Any = self.transport
        site = self.site
        self.peer: IAddress = transport.getPeer()
        self.host: IAddress = transport.getHost()
        self.secure = ISSLTransport(transport, None) is not None
        self.connectionHeaders = connectionHeaders(site.hsts, transport)
        self._connectionLines = b"".join(
            name + b": " + value + b"\r\n" for name, value in self.connectionHeaders
        )
        self.peerText = formatAddress(self.peer)
        refusal = site.access.admit(self.peer, site.listener)
        if refusal is not None:
            self._refusal = refusal
        else:
            self._admitted = True
            site.connections.add(self)
        machine = self._machine
        settings = {
            SettingCodes.MAX_CONCURRENT_STREAMS: self.maxConcurrentStreams,
            SettingCodes.MAX_HEADER_LIST_SIZE: self._maxHeaderList,
            SettingCodes.ENABLE_PUSH: 0,
        }
        if self._protocols:
            settings[SettingCodes.ENABLE_CONNECT_PROTOCOL] = 1
        machine.local_settings = Settings(client=False, initial_values=settings)
        # HPACK counts 32 bytes more per field than HTTP/1.1's line does;
        # the decoder stops a bomb, the policy answers mere excess 431.
        machine.decoder.max_header_list_size = 2 * self._maxHeaderList + 32 * (
            2 * site.limits.maxHeaders
        )
        machine.initiate_connection()
        # The connection's window holds every stream's: a stream whose
        # window is held back (a stream handler's response backed up)
        # cannot starve the others.
        machine.increment_flow_control_window(
            min(2**31 - 1, (self.maxConcurrentStreams + 1) * 65535) - 65535
        )
        transport.registerProducer(self, True)
        self._send()
        timeout = site.limits.headerTimeout
        if timeout is not None:
            self._deadline.arm(timeout, self._firstRequestLate)
        self._idle = IdleTimer(
            self.clock, site.limits.idleTimeout, self._busy, self._idleExpired
        )

    def dataReceived(self, data: bytes) -> None:
        """
        Check the frames, then let C{h2} parse them and handle its events;
        the responses they produce go out in one write at the end.
        """
        if self._closing:
            return
        if self._idle is not None:
            self._idle.touch()
        wasInBlock = self.gate.inHeaderBlock
        violation = self.gate.feed(data)
        if violation is not None:
            self._violated(violation)
            return
        try:
            events = self._machine.receive_data(data)
        except ProtocolError as e:
            self.rejected(
                Reason.FLOOD
                if e.error_code == ErrorCodes.ENHANCE_YOUR_CALM
                else Reason.PROTOCOL,
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
        timeout = self.site.limits.headerTimeout
        if self.gate.inHeaderBlock:
            if not wasInBlock and timeout is not None:
                self._deadline.arm(timeout, self._headersLate)
        elif wasInBlock:
            self._deadline.clear()
        self._flush()

    def _handle(self, event: object) -> None:
        if isinstance(event, DataReceived):
            streamID = event.stream_id
            stream = self.streams.get(streamID)
            size = event.flow_controlled_length
            if stream is not None and event.data:
                if not stream.received(event.data):
                    # Held back until the stream's response drains.
                    stream.unacknowledged += size
                    return
            elif streamID in self._lingering:
                self._lingering[streamID].last = self.clock.seconds()
            self._ack(size, streamID)
        elif isinstance(event, RequestReceived):
            self._requestReceived(event)
        elif isinstance(event, StreamEnded):
            stream = self.streams.get(event.stream_id)
            if stream is not None:
                stream.ended()
            else:
                self._stopLingering(event.stream_id)
        elif isinstance(event, StreamReset):
            self._stopLingering(event.stream_id)
            stream = self.streams.pop(event.stream_id, None)
            if stream is not None:
                if not event.remote_reset:
                    self.rejected(
                        Reason.MALFORMED,
                        "{service}: {peer} sent a malformed HTTP/2 request (a"
                        " content-length its body does not match); RST_STREAM",
                    )
                self._flushing.pop(stream.streamID, None)
                stream.lost(Failure(ConnectionLost("stream reset")))
                self._streamGone()
        elif isinstance(event, TrailersReceived):
            problem = trailerProblem(event.headers)
            if problem is not None:
                self._malformed(event.stream_id, problem)
        elif isinstance(event, (WindowUpdated, RemoteSettingsChanged)):
            self._flushing.update(
                (s.streamID, s) for s in self.streams.values() if s.data or s.finished
            )
        elif isinstance(event, ConnectionTerminated):
            # The client opens no more streams; the open ones finish.
            self._peerGoneAway = True
            if not self.streams:
                self._close()

    def _requestReceived(self, event: RequestReceived) -> None:
        streamID: int = event.stream_id
        headers: list[tuple[bytes, bytes]] = list(event.headers)
        if self._deadline.handler == self._firstRequestLate:
            self._deadline.clear()
        if self._drainedAfter is not None and streamID > self._drainedAfter:
            self._reset(streamID, ErrorCodes.REFUSED_STREAM)
            return
        if len(self.streams) >= self.maxConcurrentStreams:
            # Over SETTINGS_MAX_CONCURRENT_STREAMS: a stream error (RFC 9113
            # section 5.1.2), which the client may retry; a flood of them
            # is a flood.
            self._reset(streamID, ErrorCodes.REFUSED_STREAM)
            violation = self.gate.count("refused")
            if violation is not None:
                self._violated(violation)
            return
        problem = requestProblem(
            headers, event.stream_ended is not None, bool(self._protocols)
        )
        if problem is not None:
            self._malformed(streamID, problem)
            return
        routes = self.site.streamRoutes
        if routes is not None and self._refusal is None:
            route = routes.match(headers)
            if route is not None and self._withinLimits(headers):
                handled = HandlerStream(self, streamID)
                self.streams[streamID] = handled
                handled.handler = route.open(handled, headers)
                return
        if event.stream_ended is not None and self._answerLean(streamID, headers):
            return
        stream = H2Stream(self, streamID, headers)
        self.streams[streamID] = stream
        request = stream.request
        request.clientproto = b"HTTP/2"
        authority = protocol = None
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
                elif name == b":protocol":
                    protocol = value
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
        if request.method == b"CONNECT" and protocol is None:
            # Not a proxy: the resource at / answers 405.
            request.uri = request.path = b"/"
        if self._refusal is not None:
            stream.refuse(OVER_CAPS, cap=self._refusal)
            self._flush()
            self.drain()
            return
        limits = self.site.limits
        refusal = limits.headRefusal(len(request.uri), size, count)
        if refusal is not None:
            stream.refuse(refusal)
            return
        if protocol is not None:
            # An extended CONNECT (RFC 8441) no stream route took.
            stream.refuse(
                NO_TUNNEL if protocol in self._protocols else UNKNOWN_PROTOCOL,
                protocol=protocol.decode("ascii", "replace"),
                known=", ".join(sorted(p.decode("ascii") for p in self._protocols)),
            )
            return
        length = raw.getRawHeaders(b"content-length")
        if length is not None and int(length[0]) > limits.maxBody:
            # h2 has checked that it is one number (or reset the stream).
            stream.refuse(BODY_TOO_LARGE)
            return
        request.gotLength(int(length[0]) if length else None)
        request.parseCookies()
        if event.stream_ended is None:
            stream.startBody()

    def _withinLimits(self, headers: list[tuple[bytes, bytes]]) -> bool:
        """
        Whether a request's head is within the site's limits (a request
        that is not is refused by the policy, through twisted.web).
        """
        path = b""
        size = count = 0
        for name, value in headers:
            if name == b":path":
                path = value
            elif name[:1] != b":":
                size += len(name) + len(value) + 4
                count += 1
        return self.site.limits.headRefusal(len(path), size, count) is None

    def acknowledge(self, size: int, streamID: int) -> None:
        """
        Open C{streamID}'s window (and the connection's) by C{size} bytes the
        client sent, held back until now.
        """
        self._ack(size, streamID)
        if not (self._inFlush or self._receiving):
            self._send()

    def _malformed(self, streamID: int, problem: str) -> None:
        """
        The request on C{streamID} is malformed (RFC 9113 section 8.1.1):
        reset it with C{PROTOCOL_ERROR}; the other streams go on.
        """
        self.rejected(
            Reason.MALFORMED,
            "{service}: {peer} sent a malformed HTTP/2 request ({problem});"
            " RST_STREAM PROTOCOL_ERROR",
            problem=problem,
        )
        stream = self.streams.get(streamID)
        if stream is not None:
            self.resetStream(stream, ErrorCodes.PROTOCOL_ERROR)
        else:
            self._reset(streamID, ErrorCodes.PROTOCOL_ERROR)

    def _answerLean(self, streamID: int, headers: list[tuple[bytes, bytes]]) -> bool:
        """
        Answer a bodiless request for a lean route at once, without a
        stream object or a L{Request}, with the header list and body the
        full path gives (L{echohub.http._lean}), its access-log line and
        counters; as on HTTP/1.1, only within every limit and when nothing
        else (a draining server, a refused connection) could change the
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
        if (
            method is None
            or path is None
            or site.limits.headRefusal(len(path), size, len(plain)) is not None
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
        try:
            if len(content) > min(
                machine.local_flow_control_window(streamID),
                machine.max_outbound_frame_size,
            ):
                return False
            machine.send_headers(streamID, http2Fields(head))
            machine.send_data(streamID, content, end_stream=True)
        except StreamClosedError:
            # Reset by the client in the same read: nothing to answer.
            return True
        site.leanAnswered(
            self.peerText,
            method,
            path,
            route.echoes,
            b"",
            len(content),
            0.0,
            "HTTP/2",
            self.secure,
            plain,
        )
        self._streamGone()
        return True

    # Output.

    def wantsFlush(self, stream: _Outbound) -> None:
        """
        C{stream} has something to send: send it now, or at the end of the
        data being received, so that many responses share one write.
        """
        self._flushing[stream.streamID] = stream
        if self._inFlush:
            self._flushAgain = True
        elif not self._receiving:
            self._flush()

    def _flush(self) -> None:
        """
        Send what the streams have queued, as far as the peer's windows and
        the transport allow.
        """
        if self.paused or self._closing or self._inFlush:
            return
        self._inFlush = True
        sent = False
        try:
            while True:
                self._flushAgain = False
                sent = self._flushOnce() or sent
                if not self._flushAgain or self.paused or self._closing:
                    break
        finally:
            self._inFlush = False
        if sent and self._idle is not None:
            self._idle.touch()
        self._send()

    def _flushOnce(self) -> bool:
        """
        One pass of L{_flush} over the streams waiting; a stream's producer
        may write again as it is resumed, which asks for another pass.

        @return: whether anything was sent.
        """
        machine = self._machine
        sent = False
        for streamID, stream in list(self._flushing.items()):
            try:
                if stream.headers is not None:
                    last = (
                        stream.finished and not stream.data and stream.trailers is None
                    )
                    machine.send_headers(streamID, stream.headers, end_stream=last)
                    stream.headers = None
                    sent = True
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
                    first = data[0]
                    offset = stream.offset
                    chunk = first[offset : offset + window]
                    if offset + len(chunk) >= len(first):
                        data.popleft()
                        stream.offset = 0
                    else:
                        stream.offset = offset + len(chunk)
                    stream.queued -= len(chunk)
                    ended = stream.finished and not data and stream.trailers is None
                    machine.send_data(streamID, chunk, end_stream=ended)
                    sent = True
                if not data and stream.finished and stream.trailers is not None:
                    machine.send_headers(streamID, stream.trailers, end_stream=True)
                    stream.trailers = None
                    ended = sent = True
            except StreamClosedError:
                # Reset by the client meanwhile.
                self._flushing.pop(streamID, None)
                continue
            if data:
                continue
            if stream.finished:
                if not ended:
                    machine.end_stream(streamID)
                self._streamDone(stream)
            else:
                self._flushing.pop(streamID, None)
                stream.drained()
        return sent

    def _streamDone(self, stream: _Outbound) -> None:
        """
        The response is sent: forget the stream, reading the rest of its
        request first if the client is still sending (see the module
        docstring).
        """
        streamID = stream.streamID
        self._flushing.pop(streamID, None)
        if self.streams.pop(streamID, None) is None:
            return
        if not stream.remoteEnded:
            self._linger(streamID)
        stream.done()
        self._streamGone()

    def _linger(self, streamID: int) -> None:
        bounds = self.site.access.lingering
        if not (bounds.total and bounds.idle):
            self._reset(streamID, ErrorCodes.NO_ERROR)
            return
        lingering = self._lingering[streamID] = _Lingering(self.clock.seconds())
        lingering.call = self.clock.callLater(bounds.idle, self._lingerCheck, streamID)

    def _lingerCheck(self, streamID: int) -> None:
        lingering = self._lingering.get(streamID)
        if lingering is None:
            return
        bounds = self.site.access.lingering
        now = self.clock.seconds()
        due = min(lingering.last + bounds.idle, lingering.started + bounds.total)
        if now < due:
            lingering.call = self.clock.callLater(
                due - now, self._lingerCheck, streamID
            )
            return
        del self._lingering[streamID]
        self._reset(streamID, ErrorCodes.NO_ERROR)
        self._send()

    def _stopLingering(self, streamID: int) -> None:
        lingering = self._lingering.pop(streamID, None)
        if lingering is not None:
            cancelCall(lingering.call)

    def _streamGone(self) -> None:
        if self.streams:
            return
        if self._drainedAfter is not None or self._peerGoneAway:
            self._send()
            self._close(goAway=self._drainedAfter is None)

    def resetStream(
        self, stream: _Outbound, code: ErrorCodes = ErrorCodes.CANCEL
    ) -> None:
        """
        Reset C{stream} with C{code} and forget it.
        """
        if self.streams.pop(stream.streamID, None) is None:
            return
        self._flushing.pop(stream.streamID, None)
        self._reset(stream.streamID, code)
        stream.lost(Failure(ConnectionDone("stream reset")))
        self._send()
        self._streamGone()

    def _reset(self, streamID: int, code: ErrorCodes) -> None:
        if self._closing:
            # The connection is going away (its GOAWAY sent, or being cut):
            # a reset would say nothing more, and a closed h2 takes none (a
            # handler's or a lingering stream's timer may still ask).
            return
        try:
            self._machine.reset_stream(streamID, code)
        except StreamClosedError:
            pass

    def _ack(self, size: int, streamID: int) -> None:
        try:
            self._machine.acknowledge_received_data(size, streamID)
        except StreamClosedError:
            pass

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
            stream.pauseProducing()

    def resumeProducing(self) -> None:
        if not self.paused:
            return
        self.paused = False
        if self._idle is not None:
            self._idle.touch()
        self.transport.resumeProducing()  # type: ignore[union-attr]
        self._flushing.update(self.streams)
        self._flush()

    def stopProducing(self) -> None:
        self.transport.loseConnection()  # type: ignore[union-attr]

    # Deadlines.

    def _busy(self) -> bool:
        """
        Whether a request is in the application's hands and not blocked on
        the peer: then the connection is not idle.
        """
        return any(
            s.dispatched and not s.finished and not s.blocked
            for s in self.streams.values()
        )

    def _idleExpired(self) -> None:
        self._idle = None
        queued = sum(s.queued for s in self.streams.values())
        if queued or self.paused:
            self.rejected(
                Reason.TIMEOUT,
                "{service}: {peer} read none of {queued} HTTP/2 response bytes for"
                " {timeout:g} s (idle_timeout); GOAWAY",
                queued=queued,
                timeout=self.site.limits.idleTimeout,
            )
            self._close(ErrorCodes.ENHANCE_YOUR_CALM, abort=self.paused)
            return
        self._close()

    def _firstRequestLate(self) -> None:
        self.rejected(
            Reason.TIMEOUT,
            "{service}: {peer} sent no HTTP/2 request within {timeout:g} s"
            " (header_timeout); GOAWAY",
            timeout=self.site.limits.headerTimeout,
        )
        self._close()

    def _headersLate(self) -> None:
        self.rejected(
            Reason.TIMEOUT,
            "{service}: {peer} sent no complete HTTP/2 header block within"
            " {timeout:g} s (header_timeout); GOAWAY",
            timeout=self.site.limits.headerTimeout,
        )
        self._close(ErrorCodes.ENHANCE_YOUR_CALM)

    # Closing.

    def drain(self) -> None:
        """
        Send C{GOAWAY} (no error, last stream: the highest seen), refuse
        newer streams, finish the open ones, then close.
        """
        if self._drainedAfter is not None or self._closing:
            return
        self._drainedAfter = self._machine.highest_inbound_stream_id
        self._send()
        # By hand: h2 would close its state machine on sending it.
        frame = GoAwayFrame(0)
        frame.last_stream_id = self._drainedAfter
        frame.error_code = ErrorCodes.NO_ERROR
        self.transport.write(frame.serialize())  # type: ignore[union-attr]
        if not self.streams:
            self._close(goAway=False)
            return
        for stream in list(self.streams.values()):
            stream.drain()

    def _violated(self, violation: Violation) -> None:
        self.rejected(
            violation.reason,
            "{service}: {peer} sent {why}; GOAWAY {code}",
            why=violation.why,
            code=violation.code.name,
        )
        self._close(violation.code)

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
        self._deadline.stop()
        if self._idle is not None:
            self._idle.stop()
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
        self._deadline.stop()
        if self._idle is not None:
            self._idle.stop()
        cancelCall(self._abortCall)
        for lingering in self._lingering.values():
            cancelCall(lingering.call)
        self._lingering = {}
        streams, self.streams = self.streams, {}
        self._flushing = {}
        for stream in streams.values():
            stream.lost(reason)
        self.site.connections.remove(self)
        if self._admitted:
            self._admitted = False
            self.site.access.release(self.peer, self.site.listener)
