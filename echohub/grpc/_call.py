# -*- test-case-name: tests.grpc.test_call -*-
"""
One gRPC call (L{Call}), whatever carries it: a native gRPC stream over
HTTP/2 (L{echohub.grpc._native}) or a gRPC-Web request over any HTTP
(L{echohub.grpc._web}).  Both hand it the request's header list and body
pieces, and give it the response's side as an L{IHTTPStream}: response
headers, data, trailers.

The call owns what the protocol asks of a server, once for both:

    - B{the request head}: C{POST} only (else HTTP 405), a protocol-buffer
      content type, C{te: trailers} on native gRPC (else HTTP 400),
      C{grpc-timeout}, C{grpc-encoding} and C{grpc-accept-encoding}, the
      method (C{UNIMPLEMENTED} for one it does not know), the controls of
      an echo call (L{echohub.grpc._controls});
    - B{the messages}: read by a L{MessageReader} (its limits), each
      decoded as the method's request type (C{INTERNAL} if it is not one);
      a method that takes one request gets exactly one, at the end of the
      request (a cardinality violation is C{UNIMPLEMENTED}, as
      C{doc/statuscodes.md} says);
    - B{the answer}: response headers with the first message, each message
      framed (compressed with the request's encoding when the client
      accepts it), the status in trailers, or alone (Trailers-Only) when
      nothing was sent;
    - B{time}: the deadline (C{grpc-timeout}, bounded by C{[grpc]
      max_call_duration}: C{DEADLINE_EXCEEDED}), C{echo-delay-ms} (messages
      that arrive meanwhile wait, the client's window held back), and a
      stopping server's drain deadline (C{UNAVAILABLE} just before it);
    - B{backpressure}: the call is its response's streaming producer; a
      method that sends many messages asks L{Call.whenWritable}.

A method's behaviour is a L{Handler}, made per call from its L{Method}.
When the call ends, however it ends, its server logs it and counts it
(L{echohub.grpc._server}).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from google.protobuf.message import DecodeError
from twisted.internet.interfaces import IDelayedCall, IPushProducer
from twisted.logger import Logger
from zope.interface import implementer

from echohub.grpc._controls import NONE, parseControls
from echohub.grpc._wire import (
    ACCEPT_ENCODING,
    ENCODINGS,
    PROTO_SUBTYPES,
    Code,
    GRPCError,
    MessageReader,
    frame,
    grpcSubtype,
    parseTimeout,
    reservedName,
    statusFields,
    webSubtype,
)
from echohub.http import IHTTPStream, IStreamHandler

if TYPE_CHECKING:
    from echohub.grpc._server import GRPCServer

_log = Logger()

DRAIN_MARGIN = 1.0
"""
At most how many seconds before a stopping server's drain deadline its
calls still open end with C{UNAVAILABLE}, so that the status reaches the
client before the connection is cut (a tenth of the drain time if that is
less).
"""


class Handler:
    """
    What a method does with its call: the base class takes the requests
    and, at the end of the request, ends the call with C{OK}.

    @ivar call: the call.
    """

    def __init__(self, call: Call) -> None:
        self.call = call

    def received(self, request: Any) -> None:
        """
        A request message (for a method that takes one: the one, at the
        end of the request).
        """

    def ended(self) -> None:
        """
        The client has sent every request message.
        """
        self.call.finish()

    def drain(self) -> None:
        """
        The server is stopping (the call goes on until its drain deadline).
        """

    def stop(self) -> None:
        """
        The call ended, whoever ended it: stop whatever is still going.
        """


@dataclass(frozen=True)
class Method:
    """
    One method a server offers.

    @ivar path: its C{:path}, C{/package.Service/Method}.
    @ivar request: its request message class.
    @ivar clientStreams: whether it takes a stream of requests.
    @ivar serverStreams: whether it answers with a stream.
    @ivar handler: makes the L{Handler} of one call.
    @ivar controlled: whether its calls read the echo controls and echo
        their metadata (the Echo service's).
    @ivar echoes: whether its answers count as echoed messages.
    """

    path: bytes
    request: Any
    clientStreams: bool
    serverStreams: bool
    handler: Callable[[Call], Handler]
    controlled: bool = False
    echoes: bool = False

    @property
    def label(self) -> str:
        """
        The method's name as metrics label it: C{package.Service/Method}.
        """
        return self.path[1:].decode("ascii")


@implementer(IStreamHandler, IPushProducer)
class Call:
    """
    One call; see the module docstring.

    @ivar server: what serves the call.
    @ivar output: the response's side.
    @ivar web: whether it is a gRPC-Web call.
    @ivar path: the request's C{:path}.
    @ivar method: the method called, once known.
    @ivar controls: what the request's metadata asks (L{NONE} but for an
        echo call).
    @ivar code: the status the call ended with, once it ended.
    @ivar statusMessage: and its message.
    @ivar done: the call has ended.
    @ivar paused: the response is backed up (see L{whenWritable}).
    @ivar started: when the call began, by the server's clock.
    @ivar bytesIn: request body bytes received.
    @ivar bytesOut: response message bytes sent (framed).
    @ivar messagesIn: request messages received.
    @ivar messagesOut: response messages sent.
    """

    method: Method | None = None
    handler: Handler | None = None
    code: Code | None = None

    def __init__(
        self,
        server: GRPCServer,
        output: IHTTPStream,
        headers: Sequence[tuple[bytes, bytes]],
        web: bool = False,
    ) -> None:
        self.server = server
        self.output = output
        self.web = web
        self.clock = server.clock
        self.started = self.clock.seconds()
        self.path = b""
        self.controls = NONE
        self.statusMessage = ""
        self.done = False
        self.paused = False
        self.headersSent = False
        self.bytesIn = self.bytesOut = 0
        self.messagesIn = self.messagesOut = 0
        self.contentType = b"application/grpc-web" if web else b"application/grpc"
        self.responseEncoding: str | None = None
        self._reader: MessageReader | None = None
        self._request: Any = None
        self._held: list[Any] | None = None
        self._halfClosed = False
        self._producing = False
        self._timers: list[IDelayedCall] = []
        self._writable: list[Callable[[], None]] = []
        try:
            self._open(headers)
        except GRPCError as e:
            self.fail(e)

    def _open(self, headers: Sequence[tuple[bytes, bytes]]) -> None:
        """
        Read the request's head and start the call.
        """
        server = self.server
        config = server.config
        verb = contentType = te = timeout = encoding = None
        accepted = b""
        metadata = []
        for name, value in headers:
            if name[:1] == b":":
                if name == b":method":
                    verb = value
                elif name == b":path":
                    self.path = value
            elif name == b"content-type":
                contentType = value
            elif name == b"te":
                te = value
            elif name == b"grpc-timeout":
                timeout = value
            elif name == b"grpc-encoding":
                encoding = value
            elif name == b"grpc-accept-encoding":
                accepted = value
            elif not reservedName(name) and not server.hidden(name, self.web):
                metadata.append((name, value))
        if verb != b"POST":
            raise GRPCError(
                Code.INTERNAL,
                f"grpc: :method {(verb or b'').decode('ascii', 'replace')} is not POST",
                httpStatus=405,
                malformed=True,
            )
        subtype = self._subtype(contentType or b"")
        if subtype not in PROTO_SUBTYPES:
            raise GRPCError(
                Code.UNIMPLEMENTED,
                f"grpc: content-subtype {(subtype or b'').decode('ascii', 'replace')!r}"
                " is not served: messages are protocol buffers"
                " (application/grpc+proto)",
                malformed=True,
            )
        if not self.web and te != b"trailers":
            raise GRPCError(
                Code.INTERNAL,
                "grpc: the request has no te: trailers (a proxy on the way may"
                " not support trailers)",
                httpStatus=400,
                malformed=True,
            )
        seconds = None if timeout is None else parseTimeout(timeout)
        readEncoding = None
        if encoding is not None and encoding != b"identity":
            readEncoding = encoding.decode("ascii", "replace").lower()
            accepts = accepted.decode("ascii", "replace").lower().split(",")
            if readEncoding in ENCODINGS and readEncoding in map(str.strip, accepts):
                self.responseEncoding = readEncoding
        method = self.method = server.methods.get(self.path)
        if method is None:
            raise GRPCError(
                Code.UNIMPLEMENTED,
                f"unknown method {self.path.decode('ascii', 'replace')}",
            )
        limit = config.max_call_duration
        if seconds is not None and (not limit or seconds <= limit):
            self.later(seconds, self._expired, f"deadline exceeded ({seconds:g} s)")
        elif limit:
            self.later(
                limit,
                self._expired,
                f"the call exceeded the server's limit of {limit:g} s"
                " ([grpc] max_call_duration)",
            )
        if method.controlled:
            self.controls = parseControls(metadata, config, server.showSensitive)
        self._reader = MessageReader(config.max_message, readEncoding)
        self.output.registerProducer(self, True)
        self._producing = True
        self.handler = method.handler(self)
        if self.controls.delay:
            self._held = []
            self.later(self.controls.delay, self._delayOver)

    def _subtype(self, contentType: bytes) -> bytes | None:
        """
        The request's content subtype, and the response's content type.
        """
        subtype: bytes | None
        if self.web:
            web = webSubtype(contentType)
            if web is None:
                return None
            text, subtype = web
        else:
            subtype = grpcSubtype(contentType)
        if subtype is not None:
            self.contentType = contentType.split(b";", 1)[0].strip()
        return subtype

    # Time.

    def later(self, seconds: float, f: Callable[..., None], *args: object) -> None:
        """
        Call C{f} in C{seconds}, unless the call has ended by then.
        """
        self._timers.append(self.clock.callLater(seconds, self._fire, f, args))

    def _fire(self, f: Callable[..., None], args: tuple[object, ...]) -> None:
        self._timers = [t for t in self._timers if t.active()]
        if not self.done:
            self._run(f, *args)

    def _expired(self, why: str) -> None:
        self._end(Code.DEADLINE_EXCEEDED, why)

    def _delayOver(self) -> None:
        """
        C{echo-delay-ms} passed: take the requests that waited.
        """
        held, self._held = self._held or [], None
        self.output.resumeReading()
        for request in held:
            self._deliver(request)
            if self.done:
                return
        if self._halfClosed:
            self._halfClose()

    def _run(self, f: Callable[..., None], *args: object) -> None:
        """
        Call C{f}: a handler's error ends the call with C{INTERNAL} and is
        logged, and harms nothing else.
        """
        try:
            f(*args)
        except Exception:
            _log.failure("gRPC call {path} failed", path=self.path)
            self._end(Code.INTERNAL, "internal error: see the server's log")

    # The request.

    def dataReceived(self, data: bytes) -> None:
        """
        A piece of the request body.
        """
        if self.done:
            return
        assert self._reader is not None
        self.bytesIn += len(data)
        try:
            messages = self._reader.feed(data)
        except GRPCError as e:
            self.fail(e)
            return
        request = self.method.request  # type: ignore[union-attr]
        for payload in messages:
            self.messagesIn += 1
            try:
                decoded = request.FromString(payload)
            except DecodeError as e:
                self.fail(
                    GRPCError(
                        Code.INTERNAL,
                        f"grpc: error unmarshalling request: {e}",
                        malformed=True,
                    )
                )
                return
            if self._held is not None:
                self._held.append(decoded)
                self.output.pauseReading()
                continue
            self._deliver(decoded)
            if self.done:
                return

    def _deliver(self, request: Any) -> None:
        assert self.method is not None and self.handler is not None
        if self.method.clientStreams:
            self._run(self.handler.received, request)
        elif self._request is None:
            self._request = request
        else:
            self.fail(
                GRPCError(
                    Code.UNIMPLEMENTED,
                    "grpc: a second request message for a method that takes one"
                    " (cardinality violation)",
                    malformed=True,
                )
            )

    def ended(self) -> None:
        """
        The client has sent the whole request.
        """
        if self.done:
            return
        assert self._reader is not None
        try:
            self._reader.end()
        except GRPCError as e:
            self.fail(e)
            return
        if self._held is not None:
            self._halfClosed = True
            return
        self._halfClose()

    def _halfClose(self) -> None:
        assert self.method is not None and self.handler is not None
        if not self.method.clientStreams:
            if self._request is None:
                self.fail(
                    GRPCError(
                        Code.UNIMPLEMENTED,
                        "grpc: no request message for a method that takes one"
                        " (cardinality violation)",
                        malformed=True,
                    )
                )
                return
            self._run(self.handler.received, self._request)
            if self.done:
                return
        self._run(self.handler.ended)

    def streamLost(self, reason: object) -> None:
        """
        The client cancelled (C{RST_STREAM}) or went away: the call ends
        C{CANCELLED}, with nothing more sent.
        """
        if self.done:
            return
        self.done = True
        self.code = Code.CANCELLED
        self.statusMessage = "cancelled by the client"
        self._stop()

    def streamDone(self) -> None:
        """
        The stream is over: nothing to do, the call ended when it sent its
        status.
        """

    def drain(self) -> None:
        """
        The server is stopping: tell the handler, and end the call with
        C{UNAVAILABLE} just before the drain deadline if it is still going.
        """
        if self.done:
            return
        assert self.handler is not None
        self._run(self.handler.drain)
        deadline = self.server.drainDeadline()
        if deadline is not None and not self.done:
            left = deadline - self.clock.seconds()
            self.later(
                max(0.0, left - min(DRAIN_MARGIN, left / 10)),
                self._end,
                Code.UNAVAILABLE,
                "the server is shutting down ([server] drain_timeout)",
            )

    # The answer.

    def _responseHeaders(self, status: bytes = b"200") -> list[tuple[bytes, bytes]]:
        fields = [
            (b":status", status),
            (b"content-type", self.contentType),
            (b"grpc-accept-encoding", ACCEPT_ENCODING),
        ]
        if self.responseEncoding is not None:
            fields.append((b"grpc-encoding", self.responseEncoding.encode()))
        fields.extend(self.controls.headers)
        return fields

    def send(self, message: Any) -> None:
        """
        Send one response message (the response headers first, with the
        first one).  A message over C{[grpc] max_message} ends the call
        with C{RESOURCE_EXHAUSTED} instead.
        """
        if self.done:
            return
        data = message.SerializeToString()
        limit = self.server.config.max_message
        if len(data) > limit:
            self._end(
                Code.RESOURCE_EXHAUSTED,
                f"grpc: the response ({len(data)} bytes) is larger than max"
                f" ({limit} bytes, [grpc] max_message)",
            )
            return
        if not self.headersSent:
            self.headersSent = True
            self.output.sendHeaders(self._responseHeaders())
        framed = frame(data, self.responseEncoding)
        self.bytesOut += len(framed)
        self.messagesOut += 1
        self.output.sendData(framed)

    def reply(self, message: Any) -> None:
        """
        Answer a method that returns one message: C{message} and C{OK}, or,
        when C{echo-status} asks for another status, that status alone.
        """
        status = self.controls.status
        if status is None or status == Code.OK:
            self.send(message)
        self.finish()

    def finish(self, code: Code = Code.OK, message: str = "") -> None:
        """
        End the call with C{code}; a call that would end C{OK} ends with
        what C{echo-status} and C{echo-message} ask, if they do.
        """
        if code == Code.OK:
            controls = self.controls
            if controls.status is not None:
                code = controls.status
            message = controls.message or message
        self._end(code, message)

    def fail(self, error: GRPCError) -> None:
        """
        End the call with C{error}'s status; a protocol violation is also
        counted and logged as a rejection.
        """
        if self.done:
            return
        if error.malformed:
            self.server.rejected(self, error)
        self._end(error.code, error.message, error.httpStatus)

    def _end(self, code: Code, message: str, httpStatus: int = 200) -> None:
        if self.done:
            return
        self.done = True
        self.code = code
        self.statusMessage = message
        # Before the end: a twisted.web request refuses to finish with a
        # producer registered.
        self._unregister()
        fields = statusFields(code, message) + self.controls.trailers
        if self.headersSent:
            self.output.sendTrailers(fields)
        else:
            head = self._responseHeaders(b"%d" % httpStatus)
            if httpStatus == 405:
                head.append((b"allow", b"POST"))
            self.output.sendHeaders(head + fields, end=True)
        self._stop()

    def _stop(self) -> None:
        """
        The call ended: stop its timers and handler, and have it logged and
        counted.
        """
        for timer in self._timers:
            if timer.active():
                timer.cancel()
        self._timers = []
        self._writable = []
        self._unregister()
        if self.handler is not None:
            self._run(self.handler.stop)
        self.server.ended(self)

    # Backpressure: IPushProducer, registered with the output.

    def _unregister(self) -> None:
        if self._producing:
            self._producing = False
            self.output.unregisterProducer()

    def whenWritable(self, f: Callable[[], None]) -> None:
        """
        Call C{f} now if the response is not backed up, else once it is not.
        """
        if self.paused:
            self._writable.append(f)
        else:
            self._run(f)

    def pauseProducing(self) -> None:
        self.paused = True

    def resumeProducing(self) -> None:
        self.paused = False
        while self._writable and not self.paused and not self.done:
            self._run(self._writable.pop(0))

    def stopProducing(self) -> None:
        self.streamLost(None)
