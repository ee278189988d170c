# -*- test-case-name: tests.http.test_lean -*-
"""
The interfaces of the HTTP wire, gathered in one module (as klein gathers
its own) so that a reader finds every seam between the wire and what it
serves in one place.
"""

from __future__ import annotations

from collections.abc import Sequence

from twisted.internet.interfaces import IProducer
from zope.interface import Attribute, Interface


class ILeanRoute(Interface):
    """
    One route the wire answers itself.
    """

    takesBody = Attribute(
        "Whether the answer depends on the request body: HTTP/2 answers lean"
        " only requests whose stream ended with their headers, so it leaves"
        " such a route to the full path."
    )
    echoes = Attribute("Whether an answer counts as an echo in the metrics.")

    def respond(value: bytes, body: bytes) -> tuple[bytes, bytes]:
        """
        The answer to a request this route matched.

        @param value: what L{ILeanRoutes.match} gave with the route.
        @param body: the request body.
        @return: the route's header lines (each with its CRLF; no
            C{Content-Length}, which the wire adds) and the content.
        """


class ILeanRoutes(Interface):
    """
    The requests a site lets its channels answer themselves.
    """

    def match(
        method: bytes, target: bytes, headers: Sequence[tuple[bytes, bytes]]
    ) -> tuple[ILeanRoute, bytes] | None:
        """
        Which route answers this request, and with what value; L{None} for
        the full path.  Called only for a request within every limit, when
        nothing of the connection's (draining, a refusal) changes the answer:
        a route must decline whatever else could (a header the full path
        would act on).
        """


class IHTTPStream(Interface):
    """
    The sending side of one HTTP/2 stream, as the wire hands it to an
    L{IStreamHandler}: what a protocol riding a stream (gRPC, WebSocket over
    HTTP/2) needs, with the connection's flow control and backpressure
    underneath.  Data waits for the peer's window; once L{STREAM_BUFFER
    <echohub.http._h2stream.STREAM_BUFFER>} bytes wait, a registered
    producer is paused and the client's window is no longer opened for
    what it sends on this stream, so a peer that does not read bounds its
    own sending.
    """

    streamID = Attribute("The stream's identifier.")
    peer = Attribute("The client's address (IAddress).")
    host = Attribute("The local address (IAddress).")
    secure = Attribute("Whether the connection is TLS.")
    peerText = Attribute("The client's address as the access log shows it.")

    def sendHeaders(fields: list[tuple[bytes, bytes]], end: bool = False) -> None:
        """
        Send the response's header list (C{:status} first); with C{end}, it
        ends the stream (a response without content, gRPC's Trailers-Only).
        """

    def sendData(data: bytes, end: bool = False) -> None:
        """
        Send response data, as the peer's window allows; with C{end}, the
        stream ends after it.
        """

    def sendTrailers(fields: list[tuple[bytes, bytes]]) -> None:
        """
        End the stream with a trailer section, after the data sent.
        """

    def reset(code: int) -> None:
        """
        Reset the stream with error C{code}; nothing more is sent.
        """

    def pauseReading() -> None:
        """
        Hold back the flow-control window of what the client sends on this
        stream (as a backed-up response does), until L{resumeReading}: a
        handler that cannot take more yet (a call waiting to answer) keeps
        the client to its window rather than buffering.  Data already on
        its way within the window still arrives.
        """

    def resumeReading() -> None:
        """
        Open the window again for what was held back.
        """

    def registerProducer(producer: IProducer, streaming: bool) -> None:
        """
        Have C{producer} paused while the peer does not take what waits.
        """

    def unregisterProducer() -> None:
        """
        Forget the producer.
        """


class IStreamHandler(Interface):
    """
    What takes over one HTTP/2 stream instead of a twisted.web request: the
    request body as it arrives, its end, and the stream's end.  The
    per-request body limits of the HTTP policy (C{max_body}, the body rule)
    do not apply: the handler bounds what it accepts.
    """

    def dataReceived(data: bytes) -> None:
        """
        A piece of the request body.
        """

    def ended() -> None:
        """
        The client has sent the whole request.
        """

    def streamLost(reason: object) -> None:
        """
        The stream was reset (by either side) or the connection lost before
        the response ended; nothing more can be sent.
        """

    def streamDone() -> None:
        """
        The response is all sent, its end included: the stream is over for
        the handler, which hears nothing more of it (what the client may
        still send is read and discarded by the wire, RFC 9113 section
        8.1).
        """

    def drain() -> None:
        """
        The server is stopping: it has sent C{GOAWAY} and waits for the
        streams in flight, up to its drain deadline; finish soon.
        """


class IStreamRoute(Interface):
    """
    One kind of stream a site takes over from twisted.web.
    """

    def open(
        stream: IHTTPStream, headers: Sequence[tuple[bytes, bytes]]
    ) -> IStreamHandler:
        """
        Take over C{stream}, whose request has the header list C{headers}
        (pseudo-headers first, checked by the wire).
        """


class IStreamRoutes(Interface):
    """
    The HTTP/2 requests a site serves with stream handlers rather than
    twisted.web resources (gRPC, WebSocket over HTTP/2).
    """

    protocols = Attribute(
        "The C{:protocol} values of the extended CONNECT requests (RFC 8441)"
        " these routes take, a frozenset of bytes: when there are any, the"
        " connection advertises C{SETTINGS_ENABLE_CONNECT_PROTOCOL}, and"
        " answers an extended CONNECT no route takes itself (C{501} for a"
        " C{:protocol} not among them, C{404} for one that is)."
    )

    def match(headers: Sequence[tuple[bytes, bytes]]) -> IStreamRoute | None:
        """
        Which route takes the request with the header list C{headers}, or
        L{None} for twisted.web.  Called for every HTTP/2 request within the
        limits: keep it cheap.
        """
