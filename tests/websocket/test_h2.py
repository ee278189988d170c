# -*- test-case-name: tests.websocket.test_h2 -*-
"""
Tests for L{echohub.websocket._h2}: WebSocket over HTTP/2 (RFC 8441),
driven through the real site by an C{h2} client over an in-memory
transport (L{H2Client}), with hand-made WebSocket frames in its streams'
C{DATA}.
"""

from __future__ import annotations

import struct
import zlib
from typing import Any

from h2.errors import ErrorCodes
from h2.settings import SettingCodes
from hyperframe.frame import GoAwayFrame
from twisted.internet.task import Clock
from twisted.internet.testing import EventLoggingObserver
from twisted.logger import globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase

from echohub.config import WebConfig, WebSocketConfig
from echohub.ops import ConnectionCaps, ConnectionRegistry, Metrics, ServiceAccess
from echohub.testing import H2Client, H2Response
from echohub.websocket._h2 import StreamTransport
from tests.websocket.support import (
    BINARY,
    CLOSE,
    PING,
    PONG,
    SMALL,
    TEXT,
    closeFrame,
    frame,
    frames,
)


class Socket:
    """
    A WebSocket over one stream of an L{H2Client}: the extended C{CONNECT},
    then frames both ways.

    @ivar client: the HTTP/2 client.
    @ivar streamID: the stream.
    """

    def __init__(
        self,
        client: H2Client,
        path: bytes = b"/ws",
        fields: tuple[tuple[bytes, bytes], ...] = ((b"sec-websocket-version", b"13"),),
        protocol: bytes = b"websocket",
    ) -> None:
        self.client = client
        self.streamID = client.h2.get_next_available_stream_id()
        client.h2.send_headers(
            self.streamID,
            [
                (b":method", b"CONNECT"),
                (b":protocol", protocol),
                (b":scheme", b"http"),
                (b":path", path),
                (b":authority", b"example.test"),
                *fields,
            ],
        )
        client.send()
        self._read = 0

    @property
    def response(self) -> H2Response:
        return self.client.responses[self.streamID]

    def send(self, *data: bytes, end: bool = False) -> list[tuple[int, bytes]]:
        """
        Send C{data} on the stream, one C{DATA} frame each (the last with
        C{END_STREAM} if C{end}); return the frames received since the last
        call.
        """
        for i, chunk in enumerate(data):
            self.client.h2.send_data(
                self.streamID, chunk, end_stream=end and i == len(data) - 1
            )
            self.client.send()
        return self.received()

    def received(self) -> list[tuple[int, bytes]]:
        self.client.read()
        body = self.response.body
        new, self._read = body[self._read :], len(body)
        return frames(new)


def connected(
    config: WebSocketConfig = SMALL, web: WebConfig | None = None, **site: Any
) -> tuple[H2Client, Socket]:
    """
    An HTTP/2 client of a new site, with one WebSocket open on it.
    """
    client = H2Client(web or WebConfig(), websocket=config, **site)
    return client, Socket(client)


def sessionLines(observer: EventLoggingObserver) -> list[Any]:
    return [e for e in observer if e.get("websocket")]


class HandshakeTests(SynchronousTestCase):
    """
    The server advertises extended C{CONNECT} and answers RFC 8441's
    handshake.
    """

    def test_advertised(self) -> None:
        """
        The server's C{SETTINGS} carry C{SETTINGS_ENABLE_CONNECT_PROTOCOL =
        1}.
        """
        client, _ = connected()
        self.assertEqual(client.h2.remote_settings.enable_connect_protocol, 1)

    def test_accepted(self) -> None:
        """
        An extended C{CONNECT} for C{websocket} at C{/ws} gets C{200}, with
        no C{sec-websocket-accept} (RFC 8441 section 5), and the stream
        stays open.
        """
        _, socket = connected()
        self.assertEqual(socket.response.status, 200)
        self.assertIsNone(socket.response.header(b"sec-websocket-accept"))
        self.assertFalse(socket.response.ended)

    def test_samePaths(self) -> None:
        """
        go-httpbin's C{/websocket/echo}, and C{/ws} with a query, are
        WebSocket paths too.
        """
        client, _ = connected()
        for path in (b"/websocket/echo", b"/ws?x=1"):
            socket = Socket(client, path)
            self.assertEqual(socket.response.status, 200)
            self.assertEqual(socket.send(frame(TEXT, b"hi")), [(TEXT, b"hi")])

    def test_underPrefix(self) -> None:
        """
        Under C{[web] prefix}, the paths are the prefixed ones.
        """
        client = H2Client(WebConfig(prefix="/echohub"), websocket=SMALL)
        self.assertEqual(Socket(client, b"/echohub/ws").response.status, 200)
        self.assertEqual(Socket(client, b"/ws").response.status, 404)

    def test_otherProtocolOrPath(self) -> None:
        """
        Another C{:protocol} at C{/ws} gets C{501}, C{websocket} at another
        path C{404}; the connection goes on.
        """
        client, _ = connected()
        self.assertEqual(Socket(client, protocol=b"connect-udp").response.status, 501)
        self.assertEqual(Socket(client, b"/echo").response.status, 404)
        self.assertEqual(client.get(b"/echo?msg=on").body, b"on")

    def test_wrongVersion(self) -> None:
        """
        A C{sec-websocket-version} other than 13, or none, gets C{400} with
        C{sec-websocket-version: 13} (HTTP/2 has no C{426}), and ends the
        stream.
        """
        client, _ = connected()
        for fields in (((b"sec-websocket-version", b"8"),), ()):
            socket = Socket(client, fields=fields)
            self.assertEqual(socket.response.status, 400)
            self.assertEqual(socket.response.header(b"sec-websocket-version"), b"13")
            self.assertIn(b"Sec-WebSocket-Version 13 only", socket.response.body)
            self.assertTrue(socket.response.ended)

    def test_originPolicy(self) -> None:
        """
        An C{origin} other than the site's own (by C{:authority}) or one
        allowed gets C{403}; the site's own is accepted.
        """
        client, _ = connected()
        version = (b"sec-websocket-version", b"13")
        refused = Socket(client, fields=(version, (b"origin", b"https://evil.test")))
        self.assertEqual(refused.response.status, 403)
        self.assertIn(b"allowed_origins", refused.response.body)
        own = Socket(client, fields=(version, (b"origin", b"http://example.test")))
        self.assertEqual(own.response.status, 200)

    def test_refusalLogged(self) -> None:
        """
        A refusal is logged with an access line, as over HTTP/1.1.
        """
        observer = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)
        client, _ = connected()
        Socket(client, fields=())
        [line] = [e for e in observer if e.get("websocket_refused")]
        self.assertEqual((line["method"], line["status"]), ("CONNECT", 400))
        self.assertIn(
            "CONNECT /ws 400 0 bytes in",
            line["log_text"],
        )

    def test_off(self) -> None:
        """
        With C{over_http2 = false} the setting is not advertised and an
        extended C{CONNECT} is malformed (C{RST_STREAM PROTOCOL_ERROR}).
        """
        client, socket = connected(WebSocketConfig(over_http2=False))
        self.assertEqual(client.h2.remote_settings.enable_connect_protocol, 0)
        self.assertEqual(socket.response.reset, ErrorCodes.PROTOCOL_ERROR)


class EchoTests(SynchronousTestCase):
    """
    The same echo as over HTTP/1.1, in the stream's C{DATA}.
    """

    def test_messages(self) -> None:
        """
        Text and binary messages come back, each as one frame.
        """
        _, socket = connected()
        self.assertEqual(
            socket.send(frame(TEXT, "h\u00e9".encode()), frame(BINARY, b"\0\xff")),
            [(TEXT, "h\u00e9".encode()), (BINARY, b"\0\xff")],
        )

    def test_framesSplitAcrossData(self) -> None:
        """
        A frame split over several C{DATA} frames, and several in one, are
        read as over TCP.
        """
        _, socket = connected()
        whole = frame(TEXT, b"split") + frame(TEXT, b"two")
        self.assertEqual(socket.send(whole[:4]), [])
        self.assertEqual(socket.send(whole[4:]), [(TEXT, b"split"), (TEXT, b"two")])

    def test_pingPong(self) -> None:
        """
        The client's ping gets a pong; the server pings every
        C{ping_interval}, and a client that does not answer is closed with
        C{1011}.
        """
        client, socket = connected()
        self.assertEqual(socket.send(frame(PING, b"p")), [(PONG, b"p")])
        client.clock.advance(30)
        [(opcode, payload)] = socket.received()
        self.assertEqual(opcode, PING)
        socket.send(frame(PONG, payload))
        client.clock.advance(30)
        socket.received()
        client.clock.advance(30)
        self.assertEqual(socket.received(), [closeFrame(1011, b"no pong")])
        self.assertTrue(socket.response.ended)

    def test_messageTooBig(self) -> None:
        """
        A message over C{max_message} gets C{1009} and the stream ends;
        what the client still sends on it is discarded, and other streams go
        on.
        """
        client, socket = connected()
        answer = socket.send(frame(BINARY, b"a" * 101))
        self.assertEqual(answer, [(CLOSE, struct.pack("!H", 1009) + answer[0][1][2:])])
        self.assertTrue(socket.response.ended)
        socket.send(frame(BINARY, b"b" * 50))
        self.assertIsNone(socket.response.reset)
        other = Socket(client)
        self.assertEqual(other.send(frame(TEXT, b"ok")), [(TEXT, b"ok")])


class CloseTests(SynchronousTestCase):
    """
    The close handshake ends the stream; a reset ends the session.
    """

    def test_clientClose(self) -> None:
        """
        The client's close is answered with the same code and reason, and
        the stream ends with C{END_STREAM}; the access line says the
        session rode HTTP/2.
        """
        observer = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)
        _, socket = connected()
        socket.send(frame(TEXT, b"hi"))
        close = closeFrame(4000, b"bye")
        self.assertEqual(socket.send(frame(*close), end=True), [close])
        self.assertTrue(socket.response.ended)
        self.assertIsNone(socket.response.reset)
        [line] = sessionLines(observer)
        self.assertEqual(
            (line["method"], line["path"], line["http_version"], line["code"]),
            ("CONNECT", "/ws", "HTTP/2", 4000),
        )
        self.assertEqual(line["closed_by"], "client")
        self.assertIn("CONNECT /ws 200", line["log_text"])
        self.assertIn("websocket over HTTP/2", line["log_text"])

    def test_loggedOnceSent(self) -> None:
        """
        The session ends, and is logged, once the stream's end is sent, not
        while it waits on the client's window.
        """
        observer = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)
        client, socket = connected()
        client.reading = False
        client.h2.update_settings({SettingCodes.INITIAL_WINDOW_SIZE: 0})
        client.send()
        socket.send(frame(CLOSE, struct.pack("!H", 1000)))
        self.assertEqual(sessionLines(observer), [])
        client.reading = True
        client.h2.update_settings({SettingCodes.INITIAL_WINDOW_SIZE: 65535})
        client.send()
        self.assertTrue(socket.response.ended)
        self.assertEqual(len(sessionLines(observer)), 1)

    def test_closeTimeoutResets(self) -> None:
        """
        A close the client does not let out (its window shut) is reset
        with C{CANCEL} after C{close_timeout}.
        """
        client, socket = connected(web=WebConfig(idle_timeout=0))
        client.reading = False
        client.h2.update_settings({SettingCodes.INITIAL_WINDOW_SIZE: 0})
        client.send()
        client.clock.advance(30)
        client.clock.advance(30)
        client.clock.advance(5)
        client.read()
        self.assertEqual(socket.response.reset, ErrorCodes.CANCEL)

    def test_clientReset(self) -> None:
        """
        The client's C{RST_STREAM} ends the session: logged as closed by
        the network (C{1006}), no timer left, the connection open.
        """
        observer = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)
        client, socket = connected()
        session = client.server.chosen.streams[socket.streamID].handler.session
        client.h2.reset_stream(socket.streamID, ErrorCodes.CANCEL)
        client.send()
        [line] = sessionLines(observer)
        self.assertEqual((line["code"], line["closed_by"]), (1006, "network"))
        self.assertEqual(
            [
                call
                for call in client.clock.getDelayedCalls()
                if call.active() and getattr(call.func, "__self__", None) is session
            ],
            [],
        )
        self.assertFalse(client.transport.disconnecting)

    def test_clientEndsWithoutClose(self) -> None:
        """
        A client that ends its side without a close frame has the stream
        ended; the session is logged C{1006}.
        """
        observer = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)
        _, socket = connected()
        self.assertEqual(socket.send(frame(TEXT, b"last"), end=True), [(TEXT, b"last")])
        self.assertTrue(socket.response.ended)
        [line] = sessionLines(observer)
        self.assertEqual(line["code"], 1006)

    def test_connectionLost(self) -> None:
        """
        The connection's loss ends every session on it.
        """
        observer = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)
        client, _ = connected()
        Socket(client)
        client.server.connectionLost()
        self.assertEqual(len(sessionLines(observer)), 2)


class DrainTests(SynchronousTestCase):
    """
    A stopping server closes each session with C{1001}; a client's
    C{GOAWAY} closes none.
    """

    def test_drain(self) -> None:
        """
        Draining sends C{1001} and ends the stream; the connection then
        closes, and the drain completes once it is gone.
        """
        connections = ConnectionRegistry()
        client, socket = connected(connections=connections)
        drained = connections.drain(client.clock, 10)
        self.assertEqual(socket.received(), [closeFrame(1001, b"server shutting down")])
        self.assertTrue(socket.response.ended)
        self.assertTrue(client.transport.disconnecting)
        self.assertNoResult(drained)
        client.server.connectionLost()
        self.successResultOf(drained)

    def test_clientGoAway(self) -> None:
        """
        After the client's C{GOAWAY} the session goes on, and the
        connection closes once it ends.
        """
        client, socket = connected()
        goAway = GoAwayFrame(0)
        goAway.last_stream_id = 0
        # By hand: the client's h2 would take its own GOAWAY as the end.
        client.send(goAway.serialize())
        self.assertEqual(socket.send(frame(TEXT, b"still")), [(TEXT, b"still")])
        self.assertFalse(client.transport.disconnecting)
        socket.send(frame(CLOSE, struct.pack("!H", 1000)), end=True)
        self.assertTrue(client.transport.disconnecting)


class BackpressureTests(SynchronousTestCase):
    """
    A client that sends without reading stalls itself.
    """

    def test_heldBack(self) -> None:
        """
        While the echoes wait on the client's shut window, the stream's
        transport, its own producer, holds back the client's window: the
        server holds at most a window and a stream buffer of echoes.
        """
        client, socket = connected(WebSocketConfig(max_message=20000))
        client.reading = False
        client.h2.update_settings({SettingCodes.INITIAL_WINDOW_SIZE: 0})
        client.send()
        stream = client.server.chosen.streams[socket.streamID]
        self.assertIsInstance(stream.producer, StreamTransport)
        sent = 0
        message = frame(BINARY, b"x" * 16000)
        while client.h2.local_flow_control_window(socket.streamID) >= len(message):
            socket.send(message)
            sent += len(message)
            self.assertLess(sent, 10**6)
        self.assertTrue(stream.readingPaused)
        self.assertLess(stream.queued, 65536 + 2 * 65535)
        client.reading = True
        client.h2.update_settings({SettingCodes.INITIAL_WINDOW_SIZE: 2**20})
        client.send()
        self.assertFalse(stream.readingPaused)
        self.assertEqual(stream.unacknowledged, 0)


def compressed(data: bytes) -> bytes:
    """
    C{data} as a client's permessage-deflate message payload (RFC 7692
    section 7.2.1), without context takeover.
    """
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    out = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
    return out[:-4]


class CompressionTests(SynchronousTestCase):
    """
    permessage-deflate is agreed and applied as over HTTP/1.1.
    """

    OFFER = (b"sec-websocket-extensions", b"permessage-deflate; client_max_window_bits")

    def socket(self, config: WebSocketConfig = SMALL) -> Socket:
        client = H2Client(WebConfig(), websocket=config)
        return Socket(client, fields=((b"sec-websocket-version", b"13"), self.OFFER))

    def test_agreed(self) -> None:
        """
        An offer is answered in the C{200}'s C{sec-websocket-extensions}; a
        compressed message comes back compressed (RSV1), and the access
        line says so.
        """
        observer = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)
        socket = self.socket()
        agreed = socket.response.header(b"sec-websocket-extensions")
        self.assertIsNotNone(agreed)
        assert agreed is not None
        self.assertTrue(agreed.startswith(b"permessage-deflate"))
        socket.send(frame(TEXT, compressed(b"squeeze " * 10), rsv1=True))
        echoed = socket.response.body
        self.assertEqual(echoed[0], 0x80 | 0x40 | TEXT)
        inflater = zlib.decompressobj(-15)
        payload = echoed[2 : 2 + echoed[1]]
        self.assertEqual(
            inflater.decompress(payload + b"\x00\x00\xff\xff"), b"squeeze " * 10
        )
        socket.send(frame(CLOSE, struct.pack("!H", 1000)), end=True)
        [line] = sessionLines(observer)
        self.assertEqual(
            (line["http_version"], line["compression"]),
            ("HTTP/2", "permessage-deflate"),
        )

    def test_capWhileInflating(self) -> None:
        """
        C{max_message} bounds the inflated size: a small compressed message
        that inflates past it gets C{1009}.
        """
        socket = self.socket()
        answer = socket.send(frame(BINARY, compressed(b"a" * 1000), rsv1=True))
        self.assertEqual(answer[0][0], CLOSE)
        self.assertEqual(answer[0][1][:2], struct.pack("!H", 1009))
        self.assertTrue(socket.response.ended)

    def test_off(self) -> None:
        """
        With C{compression = false} the offer is declined: no
        C{sec-websocket-extensions}.
        """
        socket = self.socket(WebSocketConfig(compression=False))
        self.assertEqual(socket.response.status, 200)
        self.assertIsNone(socket.response.header(b"sec-websocket-extensions"))

    def test_badSyntax(self) -> None:
        """
        A C{sec-websocket-extensions} that is not an extension list gets
        C{400}.
        """
        client = H2Client(WebConfig(), websocket=SMALL)
        socket = Socket(
            client,
            fields=(
                (b"sec-websocket-version", b"13"),
                (b"sec-websocket-extensions", b"permessage-deflate; =x"),
            ),
        )
        self.assertEqual(socket.response.status, 400)
        self.assertIn(b"not an extension list", socket.response.body)


class MetricsTests(SynchronousTestCase):
    """
    The session counter says which HTTP version carried each session.
    """

    def test_counted(self) -> None:
        """
        A session over HTTP/2 is counted under C{http="HTTP/2"}.
        """
        metrics = Metrics(processStats=False)
        access = ServiceAccess("web", ConnectionCaps(0, 0), Clock(), metrics)
        client = H2Client(WebConfig(), websocket=SMALL, access=access)
        Socket(client)
        self.assertEqual(
            metrics.registry.get_sample_value(
                "echohub_websocket_sessions_total",
                {"http": "HTTP/2", "compression": "none"},
            ),
            1,
        )
