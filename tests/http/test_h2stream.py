"""
Tests for L{echohub.http._h2stream}'s L{HandlerStream}: an HTTP/2 stream
taken over by a stream handler (L{echohub.http.IStreamRoutes}), as gRPC and
WebSocket over HTTP/2 take theirs, driven by a real C{h2} client over an
in-memory transport.
"""

from __future__ import annotations

from collections.abc import Sequence

from h2.errors import ErrorCodes
from h2.settings import SettingCodes
from twisted.internet.task import Clock
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer

from echohub.config import WebConfig
from echohub.http import IHTTPStream, IStreamHandler, IStreamRoute, IStreamRoutes
from echohub.http._h2stream import STREAM_BUFFER
from echohub.ops import ConnectionCaps, Metrics, ServiceAccess
from echohub.testing import H2Client

GET = [(b":scheme", b"http"), (b":authority", b"x")]


@implementer(IStreamHandler)
class EchoHandler:
    """
    Echo every piece of the body as it arrives; end with trailers naming
    how many pieces came.
    """

    def __init__(self, stream: IHTTPStream) -> None:
        self.stream = stream
        self.pieces = 0
        self.lost: list[Failure] = []
        self.drained = False
        self.done = False
        stream.sendHeaders([(b":status", b"200"), (b"content-type", b"x/echo")])

    def dataReceived(self, data: bytes) -> None:
        self.pieces += 1
        self.stream.sendData(data)

    def ended(self) -> None:
        self.stream.sendTrailers([(b"x-pieces", b"%d" % self.pieces)])

    def streamLost(self, reason: object) -> None:
        assert isinstance(reason, Failure)
        self.lost.append(reason)

    def drain(self) -> None:
        self.drained = True

    def streamDone(self) -> None:
        self.done = True


@implementer(IStreamRoutes, IStreamRoute)
class EchoRoutes:
    """
    C{POST /stream-echo} is an L{EchoHandler}'s, and so is an extended
    C{CONNECT} for C{protocols} to C{/stream-echo}.
    """

    def __init__(self, protocols: frozenset[bytes] = frozenset()) -> None:
        self.handlers: list[EchoHandler] = []
        self.protocols = protocols

    def match(self, headers: Sequence[tuple[bytes, bytes]]) -> IStreamRoute | None:
        fields = dict(headers)
        path = fields.get(b":path", b"")
        protocol = fields.get(b":protocol")
        if protocol is not None and protocol not in self.protocols:
            return None
        return self if path.startswith(b"/stream-echo") else None

    def open(
        self, stream: IHTTPStream, headers: Sequence[tuple[bytes, bytes]]
    ) -> IStreamHandler:
        handler = EchoHandler(stream)
        self.handlers.append(handler)
        return handler


def client(
    config: WebConfig | None = None, protocols: frozenset[bytes] = frozenset()
) -> tuple[H2Client, EchoRoutes]:
    """
    An HTTP/2 client of a site whose stream routes are an L{EchoRoutes}
    taking extended C{CONNECT} for C{protocols}.
    """
    routes = EchoRoutes(protocols)
    return H2Client(config, streamRoutes=routes), routes


def open(c: H2Client, path: bytes = b"/stream-echo") -> int:
    streamID = c.h2.get_next_available_stream_id()
    c.h2.send_headers(streamID, [(b":method", b"POST"), (b":path", path), *GET])
    c.send()
    return streamID


class HandlerStreamTests(SynchronousTestCase):
    """
    A handler gets the body as it arrives and answers with headers, data
    and trailers, under the connection's flow control.
    """

    def test_echoAsItArrives(self) -> None:
        """
        Each piece comes back before the request ends; the trailers end the
        stream; other requests still go to twisted.web.
        """
        c, _ = client()
        streamID = open(c)
        response = c.responses[streamID]
        self.assertEqual(response.status, 200)
        c.h2.send_data(streamID, b"one")
        c.send()
        self.assertEqual(response.body, b"one")
        self.assertFalse(response.ended)
        c.h2.send_data(streamID, b"two", end_stream=True)
        c.send()
        self.assertEqual(response.body, b"onetwo")
        self.assertTrue(response.ended)
        trailers = c.h2.streams[streamID]
        self.assertTrue(trailers.closed)
        self.assertEqual(c.get(b"/echo?msg=web").body, b"web")

    def test_counted(self) -> None:
        """
        A handler's response is counted by its status, as twisted.web's are.
        """
        metrics = Metrics(processStats=False)
        access = ServiceAccess("web", ConnectionCaps(0, 0), Clock(), metrics)
        routes = EchoRoutes()
        c = H2Client(None, streamRoutes=routes, access=access, metrics=metrics)

        def answered() -> float | None:
            return metrics.registry.get_sample_value(
                "echohub_http_requests_total", {"code": "200"}
            )

        self.assertIsNone(answered())
        open(c)
        self.assertEqual(answered(), 1.0)

    def test_noBodyLimits(self) -> None:
        """
        C{max_body} is the HTTP policy's: a handler's stream is not held to
        it.
        """
        c, _ = client(WebConfig(max_body=10))
        streamID = open(c)
        for _ in range(5):
            c.h2.send_data(streamID, b"x" * 100)
            c.send()
        self.assertEqual(len(c.responses[streamID].body), 500)

    def test_clientThatDoesNotReadStallsItself(self) -> None:
        """
        While the echo waits on a peer that keeps its window shut, the
        stream's window is not opened again: the client can have sent only
        a window's worth beyond the stream buffer, and the server holds no
        more than that.
        """
        c, _ = client()
        c.reading = False
        c.h2.update_settings({SettingCodes.INITIAL_WINDOW_SIZE: 0})
        c.send()
        streamID = open(c)
        sent = 0
        while c.h2.local_flow_control_window(streamID) > 0 and sent < 10**7:
            size = min(16384, c.h2.local_flow_control_window(streamID))
            c.h2.send_data(streamID, b"x" * size)
            c.send()
            sent += size
        stream = c.server.chosen.streams[streamID]
        self.assertLess(sent, STREAM_BUFFER + 2 * 65535)
        self.assertLessEqual(stream.queued, sent)
        self.assertGreater(stream.unacknowledged, 0)
        c.reading = True
        c.h2.update_settings({SettingCodes.INITIAL_WINDOW_SIZE: 2**20})
        c.send()
        self.assertEqual(stream.unacknowledged, 0)
        self.assertGreater(c.h2.local_flow_control_window(streamID), 0)

    def test_resetByTheClient(self) -> None:
        """
        The client's C{RST_STREAM} reaches the handler as the stream's end.
        """
        c, routes = client()
        streamID = open(c)
        c.h2.reset_stream(streamID, ErrorCodes.CANCEL)
        c.send()
        [handler] = routes.handlers
        self.assertEqual(len(handler.lost), 1)
        self.assertEqual(c.server.chosen.streams, {})

    def test_resetByTheHandler(self) -> None:
        """
        A handler's reset sends C{RST_STREAM} with its code.
        """
        c, routes = client()
        streamID = open(c)
        routes.handlers[0].stream.reset(ErrorCodes.CANCEL)
        c.read()
        self.assertEqual(c.responses[streamID].reset, ErrorCodes.CANCEL)

    def test_drain(self) -> None:
        """
        A draining server tells the handlers, and closes once their streams
        end.
        """
        c, routes = client()
        streamID = open(c)
        c.server.chosen.drain()
        c.read()
        self.assertTrue(routes.handlers[0].drained)
        self.assertFalse(c.transport.disconnecting)
        c.h2.send_data(streamID, b"last", end_stream=True)
        c.send()
        self.assertTrue(c.responses[streamID].ended)
        self.assertTrue(c.transport.disconnecting)

    def test_headLimitsStillApply(self) -> None:
        """
        A request over the head limits is refused by the policy, not handed
        to the route.
        """
        c, routes = client(WebConfig(max_request_line=64))
        streamID = open(c, b"/stream-echo?" + b"x" * 100)
        self.assertEqual(routes.handlers, [])
        self.assertEqual(c.responses[streamID].status, 414)
        c2, routes2 = client(WebConfig(max_headers=1))
        streamID = c2.h2.get_next_available_stream_id()
        c2.h2.send_headers(
            streamID,
            [(b":method", b"POST"), (b":path", b"/stream-echo"), *GET]
            + [(b"x-%d" % i, b"1") for i in range(3)],
        )
        c2.send()
        self.assertEqual(routes2.handlers, [])
        self.assertEqual(c2.responses[streamID].status, 431)

    def test_heldBackStreamStarvesNoOther(self) -> None:
        """
        With one handler's stream held back, another stream's upload still
        arrives whole: the connection's window holds every stream's.
        """
        c, _ = client()
        c.reading = False
        c.h2.update_settings({SettingCodes.INITIAL_WINDOW_SIZE: 0})
        c.send()
        held = open(c)
        while c.h2.local_flow_control_window(held) > 0:
            size = min(16384, c.h2.local_flow_control_window(held))
            c.h2.send_data(held, b"x" * size)
            c.send()
        body = b"y" * 60000
        other = c.request(b"/echo", method=b"POST", body=body)
        stream = c.server.chosen.streams[other]
        self.assertEqual(stream.request.bodyLength, len(body))

    def test_pauseReading(self) -> None:
        """
        A handler that pauses reading holds back the client's window for
        what it sends on that stream, however fast the response goes;
        resuming opens it again.
        """
        c, routes = client()
        streamID = open(c)
        stream = c.server.chosen.streams[streamID]
        routes.handlers[0].stream.pauseReading()
        window = c.h2.local_flow_control_window(streamID)
        for _ in range(3):
            c.h2.send_data(streamID, b"x" * 16000)
            c.send()
        self.assertEqual(stream.unacknowledged, 48000)
        self.assertEqual(c.h2.local_flow_control_window(streamID), window - 48000)
        routes.handlers[0].stream.resumeReading()
        c.read()
        c.send()
        self.assertEqual(stream.unacknowledged, 0)
        self.assertEqual(c.h2.local_flow_control_window(streamID), window)


def extendedConnect(
    c: H2Client, protocol: bytes = b"websocket", path: bytes = b"/stream-echo"
) -> int:
    """
    Open a stream with an extended C{CONNECT} (RFC 8441) for C{protocol}.
    """
    streamID = c.h2.get_next_available_stream_id()
    c.h2.send_headers(
        streamID,
        [(b":method", b"CONNECT"), (b":protocol", protocol), (b":path", path), *GET],
    )
    c.send()
    return streamID


class ExtendedConnectTests(SynchronousTestCase):
    """
    Stream routes that take extended C{CONNECT} (RFC 8441) for some
    C{:protocol} have the connection advertise it and get those requests;
    the wire answers the ones no route takes.
    """

    def test_advertised(self) -> None:
        """
        C{SETTINGS_ENABLE_CONNECT_PROTOCOL} is 1 in the server's settings
        when the routes take a C{:protocol}, and absent (0) when they take
        none.
        """
        c, _ = client(protocols=frozenset({b"websocket"}))
        self.assertEqual(c.h2.remote_settings.enable_connect_protocol, 1)
        c, _ = client()
        self.assertEqual(c.h2.remote_settings.enable_connect_protocol, 0)

    def test_routed(self) -> None:
        """
        An extended C{CONNECT} a route takes is its handler's, whose data
        flows both ways on the open stream.
        """
        c, routes = client(protocols=frozenset({b"websocket"}))
        streamID = extendedConnect(c)
        self.assertEqual(len(routes.handlers), 1)
        self.assertEqual(c.responses[streamID].status, 200)
        c.h2.send_data(streamID, b"ping")
        c.send()
        self.assertEqual(c.responses[streamID].body, b"ping")
        self.assertFalse(c.responses[streamID].ended)

    def test_unknownProtocol(self) -> None:
        """
        An extended C{CONNECT} for a C{:protocol} no route takes gets
        C{501} on its stream, naming the ones taken; the connection goes
        on.
        """
        c, routes = client(protocols=frozenset({b"websocket"}))
        streamID = extendedConnect(c, b"connect-udp")
        response = c.responses[streamID]
        self.assertEqual(response.status, 501)
        self.assertIn(b":protocol websocket only, not connect-udp", response.body)
        self.assertTrue(response.ended)
        self.assertEqual(routes.handlers, [])
        self.assertEqual(c.get(b"/echo?msg=on").body, b"on")

    def test_otherPath(self) -> None:
        """
        An extended C{CONNECT} for a C{:protocol} the routes take, at a
        C{:path} none of them takes, gets C{404}.
        """
        c, routes = client(protocols=frozenset({b"websocket"}))
        streamID = extendedConnect(c, path=b"/echo")
        self.assertEqual(c.responses[streamID].status, 404)
        self.assertIn(b":protocol websocket", c.responses[streamID].body)
        self.assertEqual(routes.handlers, [])

    def test_notAdvertised(self) -> None:
        """
        Without the setting, C{:protocol} is an unknown pseudo-header: the
        request is malformed, its stream reset with C{PROTOCOL_ERROR}, and
        the connection goes on.
        """
        c, routes = client()
        streamID = extendedConnect(c)
        self.assertEqual(c.responses[streamID].reset, ErrorCodes.PROTOCOL_ERROR)
        self.assertEqual(routes.handlers, [])
        self.assertEqual(c.get(b"/echo?msg=on").body, b"on")

    def test_protocolOnlyOnConnect(self) -> None:
        """
        Even advertised, C{:protocol} on a request other than C{CONNECT} is
        malformed.
        """
        c, routes = client(protocols=frozenset({b"websocket"}))
        # The client's h2 would not send it.
        c.h2.config.validate_outbound_headers = False
        streamID = c.h2.get_next_available_stream_id()
        c.h2.send_headers(
            streamID,
            [
                (b":method", b"GET"),
                (b":protocol", b"websocket"),
                (b":path", b"/stream-echo"),
                *GET,
            ],
            end_stream=True,
        )
        c.send()
        self.assertEqual(c.responses[streamID].reset, ErrorCodes.PROTOCOL_ERROR)
        self.assertEqual(routes.handlers, [])


class StreamDoneTests(SynchronousTestCase):
    """
    A handler hears when its stream is over: L{IStreamHandler.streamDone}
    once its end is sent, L{IStreamHandler.streamLost} on a reset.
    """

    def test_doneOnceSent(self) -> None:
        """
        C{streamDone} comes once the end of the stream is sent, not when it
        is queued behind a shut window.
        """
        c, routes = client()
        c.reading = False
        c.h2.update_settings({SettingCodes.INITIAL_WINDOW_SIZE: 0})
        c.send()
        streamID = open(c)
        [handler] = routes.handlers
        handler.stream.sendData(b"last", end=True)
        c.read()
        self.assertFalse(handler.done)
        c.reading = True
        c.h2.update_settings({SettingCodes.INITIAL_WINDOW_SIZE: 65535})
        c.send()
        self.assertTrue(c.responses[streamID].ended)
        self.assertTrue(handler.done)
        self.assertEqual(handler.lost, [])

    def test_notDoneWhenReset(self) -> None:
        """
        A reset stream is lost, not done.
        """
        c, routes = client()
        streamID = open(c)
        c.h2.reset_stream(streamID, ErrorCodes.CANCEL)
        c.send()
        [handler] = routes.handlers
        self.assertFalse(handler.done)
        self.assertEqual(len(handler.lost), 1)

    def test_resetAfterTheConnectionCloses(self) -> None:
        """
        A handler may reset its stream (from a timer, say) after the
        connection has closed for idleness and before it is gone: nothing
        is sent, and the handler hears of the stream's loss.
        """
        c, routes = client()
        c.reading = False
        c.h2.update_settings({SettingCodes.INITIAL_WINDOW_SIZE: 0})
        c.send()
        streamID = open(c)
        c.h2.send_data(streamID, b"waits")
        c.send()
        c.clock.advance(60)
        self.assertTrue(c.transport.disconnecting)
        [handler] = routes.handlers
        handler.stream.reset(ErrorCodes.CANCEL)
        self.assertEqual(len(handler.lost), 1)
