# -*- test-case-name: tests.websocket.test_h2 -*-
"""
WebSocket over HTTP/2 (RFC 8441): the echo session of
L{echohub.websocket._session} riding one stream of an HTTP/2 connection,
as browsers open a C{wss://} WebSocket inside the HTTP/2 connection they
already have to its origin when the server's C{SETTINGS} carry
C{SETTINGS_ENABLE_CONNECT_PROTOCOL}.

L{WebSocketStreamRoutes} is the site's stream route (L{IStreamRoutes}) for
an extended C{CONNECT} with C{:protocol websocket} at the WebSocket paths
(the wire advertises the setting because it takes that C{:protocol}, and
answers C{404} or C{501} for an extended C{CONNECT} it does not take).  The
opening handshake is RFC 8441's: no C{Sec-WebSocket-Key} and no
C{Sec-WebSocket-Accept}; C{sec-websocket-version: 13}, the Origin policy
and permessage-deflate's agreement (L{echohub.websocket._deflate}) as over
HTTP/1.1; the answer C{:status 200} (with C{sec-websocket-extensions} when
compression is agreed), after which the stream's C{DATA} carry the
WebSocket frames both ways.  A refusal is a plain-text answer that ends the
stream: C{400} for another version (with C{sec-websocket-version: 13}:
HTTP/2 has no C{426}, whose C{Upgrade} it forbids) or a
C{sec-websocket-extensions} that is not an extension list, C{403} for an
Origin the policy refuses.

L{StreamTransport} is what the session writes to and closes instead of a
TCP transport, and what the wire hands the stream's events to:

    - the session's writes are the stream's C{DATA}, under the
      connection's flow control; the transport is its own streaming
      producer, as TCP's is over HTTP/1.1: while the stream's response
      waits on the peer, the client's window for what it sends on the
      stream is held back (L{IHTTPStream.pauseReading}), so a client that
      sends without reading stalls itself;
    - the session's C{loseConnection} (after its close frame: a close
      handshake, a drain's C{1001}, a violation) ends the stream with
      C{END_STREAM}; the wire reads and discards whatever the client still
      sends on it until the client ends it too (resetting it at the
      lingering bounds), as it does for every response that ends before
      its request; a C{close_timeout} abort resets the stream (C{CANCEL});
    - a reset of the stream by either side, or the connection's loss, is
      the session's C{connectionLost}, and so is the stream's end once it
      is sent; a client that ends its side of the stream without a close
      frame has the stream ended (close C{1006} in the log, as a TCP close
      without one);
    - the server's drain reaches each session through its stream
      (L{IStreamHandler.drain}): C{1001}, then C{END_STREAM}.  A client's
      C{GOAWAY} ends no stream in flight.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from h2.errors import ErrorCodes
from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import IAddress, IPushProducer, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from echohub.config import WebSocketConfig
from echohub.http import (
    PLAIN_TEXT,
    IHTTPStream,
    IStreamHandler,
    IStreamRoute,
    IStreamRoutes,
)
from echohub.ops import ServiceAccess, logAccess
from echohub.websocket._deflate import ExtensionSyntaxError, negotiate
from echohub.websocket._handshake import (
    ORIGIN_REFUSED,
    VERSION_REFUSED,
    WEBSOCKET_VERSION,
    extensionsRefused,
    originAllowed,
)
from echohub.websocket._session import EchoSession, Opening

_log = Logger()

_CONNECT = (b":method", b"CONNECT")


@implementer(IPushProducer, IStreamHandler)
class StreamTransport:
    """
    One HTTP/2 stream as an L{EchoSession}'s transport, and as the stream's
    handler; see the module docstring.

    @ivar stream: the stream.
    @ivar session: the session riding it.
    """

    def __init__(self, stream: IHTTPStream, session: EchoSession) -> None:
        self.stream = stream
        self.session = session
        self._ended = False

    # What the session calls on its transport.

    def write(self, data: bytes) -> None:
        """
        Send C{data} on the stream.
        """
        self.stream.sendData(data)

    def writeSequence(self, data: Iterable[bytes]) -> None:
        self.stream.sendData(b"".join(data))

    def loseConnection(self) -> None:
        """
        End the stream (C{END_STREAM}) after what was written.
        """
        if not self._ended:
            self._ended = True
            self.stream.sendData(b"", end=True)

    def abortConnection(self) -> None:
        """
        Reset the stream (C{CANCEL}); nothing more is sent.
        """
        self.stream.reset(ErrorCodes.CANCEL)

    def getPeer(self) -> IAddress:
        peer: IAddress = self.stream.peer
        return peer

    def getHost(self) -> IAddress:
        host: IAddress = self.stream.host
        return host

    def registerProducer(self, producer: IPushProducer, streaming: bool) -> None:
        self.stream.registerProducer(producer, streaming)

    def unregisterProducer(self) -> None:
        self.stream.unregisterProducer()

    # IPushProducer: the transport as its own producer, as the session
    # makes it: what the client sends waits while the response does.

    def pauseProducing(self) -> None:
        self.stream.pauseReading()

    def resumeProducing(self) -> None:
        self.stream.resumeReading()

    def stopProducing(self) -> None:
        self.abortConnection()

    # IStreamHandler: what the wire calls.

    def dataReceived(self, data: bytes) -> None:
        self.session.dataReceived(data)

    def ended(self) -> None:
        """
        The client ended its side before the session ended the stream:
        without its close frame nothing more can come, so end ours.
        """
        if not self.session.closing:
            self.session.closeTransport()

    def streamLost(self, reason: object) -> None:
        self.session.connectionLost(
            reason if isinstance(reason, Failure) else Failure(ConnectionDone())
        )

    def streamDone(self) -> None:
        self.session.connectionLost(Failure(ConnectionDone("stream ended")))

    def drain(self) -> None:
        self.session.drain()


@implementer(IStreamHandler)
class _Refused:
    """
    The handler of a stream whose handshake was refused: the answer ended
    the stream, and the wire discards what follows.
    """

    def dataReceived(self, data: bytes) -> None:
        pass

    def ended(self) -> None:
        pass

    def streamLost(self, reason: object) -> None:
        pass

    def streamDone(self) -> None:
        pass

    def drain(self) -> None:
        pass


@implementer(IStreamRoutes, IStreamRoute)
class WebSocketStreamRoutes:
    """
    The extended C{CONNECT}s (RFC 8441) for C{:protocol websocket} at the
    site's WebSocket paths; see the module docstring.

    @ivar config: the WebSocket settings.
    @ivar clock: the reactor, for the sessions' timers.
    @ivar access: the web service's caps, metrics and logs.
    @ivar paths: the WebSocket paths, each also taking what is under it (as
        the resource tree's leaf does over HTTP/1.1).
    """

    protocols = frozenset({b"websocket"})

    def __init__(
        self,
        config: WebSocketConfig,
        clock: IReactorTime,
        access: ServiceAccess,
        paths: Iterable[bytes],
    ) -> None:
        self.config = config
        self.clock = clock
        self.access = access
        self.paths = tuple(paths)

    def match(self, headers: Sequence[tuple[bytes, bytes]]) -> IStreamRoute | None:
        """
        This route for an extended C{CONNECT} for C{websocket} at a
        WebSocket path (the wire has checked that C{:protocol} comes only
        on a C{CONNECT}, with C{:path}); L{None} at once for any other
        method, as nearly every request has: a search of the list in C,
        a third of the loop's cost, on the path of every HTTP/2 request.
        """
        if _CONNECT not in headers:
            return None
        protocol = path = None
        for name, value in headers:
            if name[:1] != b":":
                break
            if name == b":protocol":
                protocol = value
            elif name == b":path":
                path = value
        if protocol != b"websocket" or path is None:
            return None
        path = path.split(b"?", 1)[0]
        for known in self.paths:
            if path == known or path.startswith(known + b"/"):
                return self
        return None

    def open(
        self, stream: IHTTPStream, headers: Sequence[tuple[bytes, bytes]]
    ) -> IStreamHandler:
        """
        Check the handshake and answer it: C{200} and a session riding the
        stream, or a refusal.
        """
        path = authority = origin = None
        versions = []
        offers = []
        for name, value in headers:
            if name == b":path":
                path = value
            elif name == b":authority":
                authority = value
            elif name == b"origin":
                origin = value
            elif name == b"sec-websocket-version":
                versions.append(value.strip())
            elif name == b"sec-websocket-extensions":
                offers.append(value)
        target = (path or b"").decode("ascii", "replace")
        if versions != [WEBSOCKET_VERSION]:
            return self._refuse(
                stream,
                target,
                400,
                VERSION_REFUSED,
                [(b"sec-websocket-version", WEBSOCKET_VERSION)],
            )
        if not originAllowed(
            origin, stream.secure, authority or b"", self.config.allowed_origins
        ):
            return self._refuse(stream, target, 403, ORIGIN_REFUSED)
        try:
            deflate = negotiate(offers, self.config)
        except ExtensionSyntaxError as e:
            return self._refuse(stream, target, 400, extensionsRefused(e))
        opening = Opening(
            access=self.access,
            httpVersion="HTTP/2",
            status=200,
            method="CONNECT",
            path=target,
            peer=stream.peerText,
            origin=(origin or b"-").decode("ascii", "replace"),
            lingers=False,
        )
        session = EchoSession(opening, self.config, self.clock, deflate)
        transport = StreamTransport(stream, session)
        fields = [(b":status", b"200")]
        if deflate is not None:
            fields.append((b"sec-websocket-extensions", deflate.response))
        stream.sendHeaders(fields)
        session.makeConnection(transport)
        session.accepted()
        return transport

    def _refuse(
        self,
        stream: IHTTPStream,
        path: str,
        status: int,
        why: str,
        fields: Sequence[tuple[bytes, bytes]] = (),
    ) -> IStreamHandler:
        """
        Answer C{status} with a plain-text body saying C{why}, and end the
        stream; log it as an HTTP/1.1 refusal is (an info line, the access
        line).
        """
        phrase = {400: "Bad Request", 403: "Forbidden"}[status]
        body = f"{status} {phrase}: {why}\n".encode()
        stream.sendHeaders(
            [
                (b":status", b"%d" % (status,)),
                (b"content-type", PLAIN_TEXT),
                (b"x-content-type-options", b"nosniff"),
                (b"content-length", b"%d" % (len(body),)),
                *fields,
            ]
        )
        stream.sendData(body, end=True)
        _log.info(
            "Refused a WebSocket handshake over HTTP/2 from {peer}: {why}",
            peer=stream.peerText,
            why=why,
        )
        logAccess(
            _log,
            "web",
            stream.peerText,
            0,
            len(body),
            0.0,
            f"CONNECT {path} {status}",
            f", HTTP/2 {'tls' if stream.secure else 'plain'}, websocket refused",
            method="CONNECT",
            path=path,
            status=status,
            version="HTTP/2",
            tls=stream.secure,
            websocket_refused=why,
        )
        return _Refused()
