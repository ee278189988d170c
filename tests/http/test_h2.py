"""
Tests for L{echohub.http._h2}: HTTP/2 streams served by the echo site, the
site's limits per stream, and the HTTP/2 attacks, each driven frame by
frame by a real HTTP/2 client (C{h2}'s) over an in-memory transport.
"""

from __future__ import annotations

import json
import random

from h2.connection import H2Connection as H2ClientConnection
from h2.errors import ErrorCodes
from h2.settings import SettingCodes
from hyperframe.frame import (
    ContinuationFrame,
    DataFrame,
    Frame,
    GoAwayFrame,
    HeadersFrame,
    PingFrame,
    RstStreamFrame,
    SettingsFrame,
)
from twisted.internet.task import Clock
from twisted.internet.testing import EventLoggingObserver
from twisted.logger import globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase

from echohub.config import WebConfig
from echohub.http import H2Connection, rawRequestHead
from echohub.http._h2checks import FLOOD_BUDGETS
from echohub.http._h2stream import STREAM_BUFFER
from echohub.ops import ConnectionCaps, ServiceAccess
from echohub.testing import H2Client
from echohub.web.httpbin._controls import PIECE

GET = [(b":method", b"GET"), (b":scheme", b"http"), (b":authority", b"x")]


def frames(data: bytes) -> list[Frame]:
    """
    The frames in C{data}, parsed.
    """
    parsed = []
    while data:
        frame, length = Frame.parse_frame_header(memoryview(data[:9]))
        frame.parse_body(memoryview(data[9 : 9 + length]))
        parsed.append(frame)
        data = data[9 + length :]
    return parsed


def accessLines(observer: EventLoggingObserver) -> list[str]:
    return [
        str(e["log_text"])
        for e in observer
        if str(e.get("log_text", "")).startswith("web access")
    ]


class StreamTests(SynchronousTestCase):
    """
    Requests over HTTP/2 reach the unchanged resource tree.
    """

    def test_echo(self) -> None:
        """
        C{GET /echo} answers like HTTP/1.1 (status, body, C{nosniff}),
        without the connection-specific headers HTTP/2 forbids, and leaves
        one access log line.
        """
        observer = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)
        client = H2Client()
        self.assertIsInstance(client.server.chosen, H2Connection)
        response = client.get(b"/echo?msg=hello")
        self.assertEqual((response.status, response.body), (200, b"hello"))
        self.assertTrue(response.ended)
        self.assertEqual(response.header(b"x-content-type-options"), b"nosniff")
        self.assertIsNone(response.header(b"connection"))
        self.assertEqual(
            [line.split(",")[0] for line in accessLines(observer)],
            ["web access: 127.0.0.1:50000 GET /echo?msg=hello 200 0 bytes in"],
        )

    def test_anything(self) -> None:
        """
        C{/anything} says C{"protocol": "HTTP/2"}, takes C{Host} from
        C{:authority}, and echoes the body.
        """
        client = H2Client()
        response = client.get(
            b"/anything?a=1", method=b"POST", headers=((b"x-one", b"1"),), body=b"hi"
        )
        body = json.loads(response.body)
        self.assertEqual(body["protocol"], "HTTP/2")
        self.assertEqual(body["url"], "http://example.test/anything?a=1")
        self.assertEqual(body["headers"]["X-One"], "1")
        self.assertEqual(body["data"], "hi")

    def test_rawHead(self) -> None:
        """
        L{rawRequestHead} gives an HTTP/2 request's decoded header list as
        received, pseudo-headers first and in order, labelled C{HTTP/2}.
        """
        client = H2Client()
        streamID = client.request(
            b"/delay/1", headers=((b"x-b", b"2"), (b"x-a", b"1"), (b"x-b", b"3"))
        )
        request = client.server.chosen.streams[streamID].request
        head = rawRequestHead(request)
        assert head is not None
        self.assertEqual(
            (head.protocol, head.head),
            (
                "HTTP/2",
                b":method: GET\r\n:path: /delay/1\r\n:scheme: http\r\n"
                b":authority: example.test\r\nx-b: 2\r\nx-a: 1\r\nx-b: 3\r\n\r\n",
            ),
        )
        self.assertEqual(
            head.headers[-3:], ((b"x-b", b"2"), (b"x-a", b"1"), (b"x-b", b"3"))
        )

    def test_webSocketStaysHTTP11(self) -> None:
        """
        C{/ws} over HTTP/2 (no RFC 8441) answers C{426}: WebSocket is
        HTTP/1.1 only.
        """
        client = H2Client()
        response = client.get(
            b"/ws",
            headers=(
                (b"sec-websocket-version", b"13"),
                (b"sec-websocket-key", b"dGhlIHNhbXBsZSBub25jZQ=="),
            ),
        )
        self.assertEqual(response.status, 426)

    def test_concurrentStreams(self) -> None:
        """
        Many requests in one read are answered on their own streams, in one
        write; the connection advertises C{max_concurrent_streams}.
        """
        client = H2Client(WebConfig(max_concurrent_streams=7))
        ids = [client.request(b"/echo?msg=%d" % i, send=False) for i in range(5)]
        writes = len(client.transport.io.getvalue())
        client.send()
        self.assertEqual(
            [client.responses[i].body for i in ids], [b"%d" % i for i in range(5)]
        )
        self.assertGreater(client.received, writes)
        self.assertEqual(
            client.h2.remote_settings[SettingCodes.MAX_CONCURRENT_STREAMS], 7
        )

    def test_largeResponseFollowsWindow(self) -> None:
        """
        A response larger than the client's window is sent as the client
        opens it, and arrives whole.
        """
        client = H2Client()
        body = b"x" * 60000
        client.h2.update_settings({SettingCodes.INITIAL_WINDOW_SIZE: 1000})
        client.send()
        streamID = client.request(b"/echo", method=b"POST", body=body)
        self.assertEqual(client.responses[streamID].body, body)


class LimitTests(SynchronousTestCase):
    """
    The site's limits hold per stream.
    """

    def test_announcedBodyTooLarge(self) -> None:
        """
        A C{content-length} over C{max_body} gets C{413} before any body is
        read; what the client still sends is read and discarded, and once it
        has been silent for the lingering bounds' idle seconds the stream is
        reset with C{NO_ERROR}; the connection goes on.
        """
        client = H2Client(WebConfig(max_body=100))
        streamID = client.request(
            b"/echo", method=b"POST", headers=((b"content-length", b"101"),), body=None
        )
        # body=None ended the stream; send a real announced-too-large one:
        streamID = client.h2.get_next_available_stream_id()
        client.h2.send_headers(
            streamID,
            [
                (b":method", b"POST"),
                (b":path", b"/echo"),
                *GET[1:],
                (b"content-length", b"101"),
            ],
        )
        client.send()
        response = client.responses[streamID]
        self.assertEqual(response.status, 413)
        self.assertIn(b"limited to 100 bytes", response.body)
        self.assertTrue(response.ended)
        self.assertIsNone(response.reset)
        client.h2.send_data(streamID, b"x" * 50)
        client.send()
        client.clock.advance(4.9)
        client.read()
        self.assertIsNone(response.reset)
        client.clock.advance(0.1)
        client.read()
        self.assertEqual(response.reset, ErrorCodes.NO_ERROR)
        self.assertEqual(client.get(b"/echo?msg=after").body, b"after")

    def test_refusalReadUntilTheRequestEnds(self) -> None:
        """
        A client that ends its request after the C{413} (as curl does once
        its upload is done) gets no reset at all: it read the whole answer.
        """
        client = H2Client(WebConfig(max_body=100))
        streamID = client.h2.get_next_available_stream_id()
        client.h2.send_headers(
            streamID,
            [(b":method", b"POST"), (b":path", b"/echo"), *GET[1:]],
        )
        client.h2.send_data(streamID, b"x" * 101)
        client.send()
        self.assertEqual(client.responses[streamID].status, 413)
        client.h2.send_data(streamID, b"y" * 1000, end_stream=True)
        client.send()
        client.clock.advance(60)
        client.read()
        response = client.responses[streamID]
        self.assertTrue(response.ended)
        self.assertIsNone(response.reset)
        self.assertEqual(client.server.chosen._lingering, {})

    def test_streamedBodyTooLarge(self) -> None:
        """
        A body without C{content-length} that grows past C{max_body} gets
        C{413} as soon as it does.
        """
        client = H2Client(WebConfig(max_body=100))
        streamID = client.h2.get_next_available_stream_id()
        client.h2.send_headers(
            streamID, [(b":method", b"POST"), (b":path", b"/echo"), *GET[1:]]
        )
        client.h2.send_data(streamID, b"x" * 60)
        client.send()
        self.assertNotIn(streamID, client.responses)
        client.h2.send_data(streamID, b"x" * 60)
        client.send()
        self.assertEqual(client.responses[streamID].status, 413)

    def test_headerListTooLarge(self) -> None:
        """
        A header list over C{max_header_bytes} gets C{431}; over
        C{max_headers} fields too.
        """
        client = H2Client(WebConfig(max_header_bytes=1000, max_headers=10))
        big = client.get(b"/echo", headers=((b"x-big", b"y" * 1000),))
        self.assertEqual(big.status, 431)
        many = client.get(
            b"/echo", headers=tuple((b"x-%d" % i, b"1") for i in range(11))
        )
        self.assertEqual(many.status, 431)
        self.assertEqual(client.get(b"/echo?msg=ok").body, b"ok")

    def test_pathTooLong(self) -> None:
        """
        A C{:path} over C{max_request_line} gets C{414}.
        """
        client = H2Client(WebConfig(max_request_line=100))
        self.assertEqual(client.get(b"/echo?msg=" + b"x" * 100).status, 414)

    def test_bodyDeadline(self) -> None:
        """
        A body that does not arrive within C{body_timeout} gets C{408}.
        """
        client = H2Client(WebConfig(body_timeout=5, body_min_rate=0))
        streamID = client.h2.get_next_available_stream_id()
        client.h2.send_headers(
            streamID, [(b":method", b"POST"), (b":path", b"/echo"), *GET[1:]]
        )
        client.send()
        client.clock.advance(4.9)
        client.read()
        self.assertNotIn(streamID, client.responses)
        client.clock.advance(0.2)
        client.read()
        self.assertEqual(client.responses[streamID].status, 408)

    def test_firstRequestDeadline(self) -> None:
        """
        A connection that sends the preface and no request within
        C{header_timeout} gets C{GOAWAY} and is closed.
        """
        client = H2Client(WebConfig(header_timeout=3))
        client.clock.advance(3)
        client.read()
        assert client.goaway is not None
        self.assertEqual(client.goaway.error_code, ErrorCodes.NO_ERROR)
        self.assertTrue(client.transport.disconnecting)

    def test_idleTimeout(self) -> None:
        """
        A connection with no open stream for C{idle_timeout} is closed with
        C{GOAWAY NO_ERROR}.
        """
        client = H2Client(WebConfig(idle_timeout=30))
        client.get(b"/echo?msg=x")
        client.clock.advance(29)
        client.read()
        self.assertIsNone(client.goaway)
        client.clock.advance(1)
        client.read()
        assert client.goaway is not None
        self.assertEqual(client.goaway.error_code, ErrorCodes.NO_ERROR)

    def test_caps(self) -> None:
        """
        A connection over the caps answers its request C{503}, then sends
        C{GOAWAY} and closes.
        """
        access = ServiceAccess("web", ConnectionCaps(1, 0), Clock())
        first = H2Client(access=access)
        second = H2Client(access=access)
        self.assertEqual(first.get(b"/echo?msg=a").status, 200)
        self.assertEqual(second.get(b"/echo?msg=a").status, 503)
        self.assertIsNotNone(second.goaway)
        self.assertTrue(second.transport.disconnecting)

    def test_drain(self) -> None:
        """
        Draining sends C{GOAWAY} naming the last stream, refuses newer
        streams, finishes the open one, then closes.
        """
        client = H2Client()
        slow = client.request(b"/delay/1")
        client.server.chosen.drain()
        client.read()
        assert client.goaway is not None
        self.assertEqual(client.goaway.last_stream_id, slow)
        self.assertFalse(client.transport.disconnecting)
        client.clock.advance(1)
        client.read()
        self.assertEqual(client.responses[slow].status, 200)
        self.assertTrue(client.transport.disconnecting)

    def test_drainRefusesNewStreams(self) -> None:
        """
        A stream opened after the drain's C{GOAWAY} is reset with
        C{REFUSED_STREAM} (the client may retry it elsewhere).
        """
        client = H2Client()
        slow = client.request(b"/delay/1")
        client.server.chosen.drain()
        client.read()
        late = client.h2.get_next_available_stream_id()
        # The client's h2 no longer opens streams after GOAWAY: write raw.
        frame = HeadersFrame(late, flags=["END_HEADERS", "END_STREAM"])
        frame.data = client.h2.encoder.encode([*GET, (b":path", b"/echo")])
        client.server.dataReceived(frame.serialize())
        # The client's h2 ignores a reset of a stream it never opened.
        [reset] = frames(client.transport.value())
        assert isinstance(reset, RstStreamFrame)
        self.assertEqual(
            (reset.stream_id, reset.error_code), (late, ErrorCodes.REFUSED_STREAM)
        )
        self.assertIn(slow, client.server.chosen.streams)


class _Unlimited(H2ClientConnection):
    """
    A client that opens streams beyond the server's advertised limit.
    """

    @property
    def open_outbound_streams(self) -> int:
        return 0


class StreamLimitTests(SynchronousTestCase):
    """
    Streams over C{max_concurrent_streams} are refused one by one.
    """

    def test_overTheLimitRefused(self) -> None:
        """
        A stream opened while C{max_concurrent_streams} are open is reset
        with C{REFUSED_STREAM} (a stream error, RFC 9113 section 5.1.2);
        the open ones are answered and the connection goes on.
        """
        client = H2Client(WebConfig(max_concurrent_streams=2, max_delay=5))
        client.h2.__class__ = _Unlimited
        slow = [client.request(b"/delay/1") for _ in range(2)]
        refused = client.request(b"/echo?msg=over")
        self.assertEqual(client.responses[refused].reset, ErrorCodes.REFUSED_STREAM)
        client.clock.advance(1)
        client.send()
        self.assertEqual([client.responses[i].status for i in slow], [200, 200])
        self.assertIsNone(client.goaway)
        self.assertEqual(client.get(b"/echo?msg=again").body, b"again")

    def test_refusalFlood(self) -> None:
        """
        A client that keeps opening streams over the limit is told to calm
        down once it passes the budget of refusals.
        """
        client = H2Client(WebConfig(max_concurrent_streams=1, max_delay=5))
        client.h2.__class__ = _Unlimited
        client.request(b"/delay/5")
        for _ in range(FLOOD_BUDGETS["refused"] + 1):
            client.request(b"/echo?msg=x", send=False)
        client.send()
        assert client.goaway is not None
        self.assertEqual(client.goaway.error_code, ErrorCodes.ENHANCE_YOUR_CALM)


class AttackTests(SynchronousTestCase):
    """
    The known HTTP/2 attacks cost a bounded amount and end in C{GOAWAY
    ENHANCE_YOUR_CALM}.
    """

    def calmed(self, client: H2Client) -> None:
        assert client.goaway is not None
        self.assertEqual(client.goaway.error_code, ErrorCodes.ENHANCE_YOUR_CALM)
        self.assertTrue(client.transport.disconnecting)

    def test_rapidReset(self) -> None:
        """
        CVE-2023-44487: opening streams and resetting them at once is
        allowed C{FLOOD_BUDGETS["RST_STREAM"]} times in the window; the next
        reset gets C{GOAWAY ENHANCE_YOUR_CALM} and no stream stays open.
        """
        client = H2Client()
        sent = 0
        while client.goaway is None and sent < 1000:
            streamID = client.h2.get_next_available_stream_id()
            client.h2.send_headers(
                streamID, [*GET, (b":path", b"/delay/5")], end_stream=True
            )
            client.h2.reset_stream(streamID)
            client.send()
            sent += 1
        self.calmed(client)
        self.assertEqual(sent, FLOOD_BUDGETS["RST_STREAM"] + 1)
        self.assertEqual(client.server.chosen.streams, {})

    def test_continuationFlood(self) -> None:
        """
        CVE-2024-27316: C{CONTINUATION} frames that never end a header block
        are cut off once the block passes twice the header limits, before
        C{h2} buffers more: C{GOAWAY ENHANCE_YOUR_CALM}.
        """
        client = H2Client()
        limit = client.server.chosen.gate.maxHeaderBlock
        headers = HeadersFrame(1)
        headers.data = client.h2.encoder.encode([*GET, (b":path", b"/echo")])
        client.send(headers.serialize())
        accepted = len(headers.data)
        while client.goaway is None and accepted < 10 * limit:
            frame = ContinuationFrame(1)
            frame.data = b"\x00" * 16000
            client.send(frame.serialize())
            accepted += len(frame.data)
        self.calmed(client)
        self.assertLessEqual(accepted, limit + 16000)

    def test_slowContinuation(self) -> None:
        """
        A header block started and never finished is held to
        C{header_timeout}.
        """
        client = H2Client(WebConfig(header_timeout=2))
        client.get(b"/echo?msg=x")
        headers = HeadersFrame(3)
        headers.data = client.h2.encoder.encode([*GET, (b":path", b"/echo")])
        client.send(headers.serialize())
        client.clock.advance(2)
        client.read()
        self.calmed(client)

    def flood(self, client: H2Client, frame: bytes, budget: int) -> None:
        for _ in range(budget):
            client.send(frame)
        self.assertIsNone(client.goaway)
        client.send(frame)
        self.calmed(client)

    def test_pingFlood(self) -> None:
        """
        CVE-2019-9512: more pings than the budget in the window get
        C{GOAWAY ENHANCE_YOUR_CALM}.
        """
        client = H2Client()
        self.flood(client, PingFrame(0, b"12345678").serialize(), FLOOD_BUDGETS["PING"])

    def test_pingsWithinBudgetPerWindow(self) -> None:
        """
        The budget is per window: as many pings again in the next window
        are fine.
        """
        client = H2Client()
        ping = PingFrame(0, b"12345678").serialize()
        for _ in range(2):
            for _ in range(FLOOD_BUDGETS["PING"]):
                client.send(ping)
            client.clock.advance(10)
        self.assertIsNone(client.goaway)

    def test_settingsFlood(self) -> None:
        """
        CVE-2019-9515: a settings flood gets C{GOAWAY ENHANCE_YOUR_CALM}.
        """
        client = H2Client()
        # The preface's SETTINGS frame counts too.
        self.flood(client, SettingsFrame(0).serialize(), FLOOD_BUDGETS["SETTINGS"] - 1)

    def test_emptyFrameFlood(self) -> None:
        """
        CVE-2019-9518: empty C{DATA} frames on an open stream get C{GOAWAY
        ENHANCE_YOUR_CALM}.
        """
        client = H2Client()
        client.h2.send_headers(
            1, [(b":method", b"POST"), (b":path", b"/echo"), *GET[1:]]
        )
        client.send()
        self.flood(client, DataFrame(1).serialize(), FLOOD_BUDGETS["empty"])

    def test_unreadPingsStopReading(self) -> None:
        """
        A client that sends pings but reads nothing (the transport's buffer
        is full) is no longer read, so its pings cannot grow our output; and
        once it has read nothing for C{idle_timeout} it is cut off.
        """
        client = H2Client(WebConfig(idle_timeout=30, header_timeout=0))
        client.server.chosen.pauseProducing()
        self.assertEqual(client.transport.producerState, "paused")
        client.clock.advance(29.9)
        self.assertFalse(client.transport.disconnecting)
        client.clock.advance(0.1)
        client.read()
        self.assertTrue(client.transport.disconnected)

    def test_windowNeverOpened(self) -> None:
        """
        CVE-2019-9517: a client that never opens its flow-control window
        holds only the response it asked for (what the stream has queued),
        and is cut off after C{idle_timeout} without progress.
        """
        client = H2Client(WebConfig(idle_timeout=30))
        client.reading = False
        client.h2.update_settings({SettingCodes.INITIAL_WINDOW_SIZE: 0})
        client.send()
        body = b"x" * 20000
        ids = [client.request(b"/echo", method=b"POST", body=body) for _ in range(3)]
        connection = client.server.chosen
        queued = sum(s.queued for s in connection.streams.values())
        self.assertEqual(queued, 3 * len(body))
        self.assertGreater(STREAM_BUFFER, len(body))
        client.clock.advance(29)
        client.read()
        self.assertIsNone(client.goaway)
        client.clock.advance(1)
        client.read()
        self.calmed(client)
        self.assertEqual([client.responses[i].body for i in ids], [b""] * 3)


def goAway(lastStream: int = 0) -> bytes:
    """
    A client's C{GOAWAY} (no error), made by hand: the client's C{h2} would
    close its own state machine on sending it.
    """
    frame = GoAwayFrame(0)
    frame.last_stream_id = lastStream
    frame.error_code = ErrorCodes.NO_ERROR
    return frame.serialize()


class ClientGoAwayTests(SynchronousTestCase):
    """
    A client's C{GOAWAY} means it opens no new streams: the streams in
    flight finish, pings are answered, then the connection closes.
    """

    def test_delayedAnswerArrives(self) -> None:
        """
        C{/delay/1} in flight when the client says C{GOAWAY}: its answer
        arrives whole, a C{PING} gets its acknowledgement meanwhile, and the
        connection closes with C{GOAWAY NO_ERROR} once it is done.
        """
        client = H2Client()
        streamID = client.request(b"/delay/1")
        client.send(goAway())
        self.assertFalse(client.transport.disconnecting)
        acks: list[bytes] = []
        client.transport.clear()
        client.server.dataReceived(PingFrame(0, opaque_data=b"12345678").serialize())
        acks = [
            f.opaque_data
            for f in frames(client.transport.value())
            if isinstance(f, PingFrame) and "ACK" in f.flags
        ]
        self.assertEqual(acks, [b"12345678"])
        client.clock.advance(1)
        client.read()
        response = client.responses[streamID]
        self.assertEqual((response.status, response.ended), (200, True))
        self.assertEqual(
            json.loads(response.body)["url"], "http://example.test/delay/1"
        )
        self.assertTrue(client.transport.disconnecting)

    def test_streamFinishes(self) -> None:
        """
        C{/stream/3} goes on to its third line and its end.
        """
        client = H2Client()
        streamID = client.request(b"/stream/3")
        client.send(goAway())
        for _ in range(10):
            client.clock.advance(1)
            client.read()
        response = client.responses[streamID]
        self.assertTrue(response.ended)
        self.assertEqual(len(response.body.splitlines()), 3)

    def test_idleAfterGoAwayCloses(self) -> None:
        """
        With nothing in flight, a client's C{GOAWAY} closes the connection.
        """
        client = H2Client()
        client.send(goAway())
        self.assertTrue(client.transport.disconnecting)


class EncoderTableTests(SynchronousTestCase):
    """
    The response encoder's table stays at 4096 bytes whatever the client
    allows.
    """

    def test_capped(self) -> None:
        """
        C{SETTINGS_HEADER_TABLE_SIZE} of 2**32-1, then responses with ever
        new header values: the encoder's table never passes 4096 bytes, and
        the client still decodes every response.
        """
        client = H2Client()
        client.h2.update_settings({SettingCodes.HEADER_TABLE_SIZE: 2**32 - 1})
        client.send()
        encoder = client.server.chosen._machine.encoder
        for i in range(100):
            path = b"/response-headers?x-value-%d=%s" % (i, b"v" * 200)
            response = client.get(path)
            self.assertEqual(response.header(b"x-value-%d" % i), b"v" * 200)
        self.assertEqual(encoder.header_table_size, 4096)
        table = encoder.header_table
        kept = sum(32 + len(n) + len(v) for n, v in table.dynamic_entries)
        self.assertLessEqual(kept, 4096)


class MemoryTests(SynchronousTestCase):
    """
    A peer that never opens its window costs at most the stream buffer and
    one piece per stream, whatever it asked for.
    """

    def test_generatedBodiesWaitInPieces(self) -> None:
        """
        Twenty streams of C{/bytes/1048576} with the window shut: at most
        L{STREAM_BUFFER} plus one piece queued per stream, however long the
        server runs; once the window opens the bodies arrive whole.
        """
        client = H2Client(WebConfig(idle_timeout=0))
        client.reading = False
        client.h2.update_settings({SettingCodes.INITIAL_WINDOW_SIZE: 0})
        client.send()
        ids = [client.request(b"/bytes/1048576?seed=%d" % i) for i in range(20)]
        for _ in range(200):
            client.clock.advance(0)
        connection = client.server.chosen
        queued = [s.queued for s in connection.streams.values()]
        self.assertEqual(len(queued), 20)
        self.assertLessEqual(max(queued), STREAM_BUFFER + PIECE)
        client.reading = True
        client.h2.update_settings({SettingCodes.INITIAL_WINDOW_SIZE: 2**31 - 1})
        client.h2.increment_flow_control_window(2**31 - 1 - 65535)
        client.send()
        for _ in range(2000):
            client.clock.advance(0)
            client.send()
            if all(client.responses[i].ended for i in ids):
                break
        self.assertEqual(
            client.responses[ids[3]].body, random.Random(3).randbytes(1048576)
        )


class LeanRaceTests(SynchronousTestCase):
    """
    A lean request reset in the same read as its C{HEADERS}.
    """

    def test_headersAndResetTogether(self) -> None:
        """
        C{HEADERS} for C{/echo} and C{/healthz} with their C{RST_STREAM} in
        one read: no error, and the connection serves the next request.
        """
        client = H2Client()
        for path in (b"/echo?msg=a", b"/healthz"):
            streamID = client.h2.get_next_available_stream_id()
            client.h2.send_headers(streamID, [*GET, (b":path", path)], end_stream=True)
            client.h2.reset_stream(streamID)
        client.send()
        self.assertEqual(self.flushLoggedErrors(), [])
        self.assertEqual(client.get(b"/echo?msg=after").body, b"after")
        self.assertFalse(client.transport.disconnecting)


class MalformedTests(SynchronousTestCase):
    """
    A malformed request is a stream error; the other streams go on.
    """

    def test_otherStreamsGoOn(self) -> None:
        """
        An upper-case header name, C{te: gzip}, a connection-specific field
        and a missing C{:path} each reset their stream with
        C{PROTOCOL_ERROR}, while a C{/delay/1} on the same connection
        completes.
        """
        client = H2Client()
        client.h2.config.validate_outbound_headers = False
        client.h2.config.normalize_outbound_headers = False
        slow = client.request(b"/delay/1")
        bad = [
            client.request(b"/echo", headers=((b"X-Upper", b"1"),)),
            client.request(b"/echo", headers=((b"te", b"gzip"),)),
            client.request(b"/echo", headers=((b"connection", b"close"),)),
        ]
        streamID = client.h2.get_next_available_stream_id()
        client.h2.send_headers(
            streamID, [(b":method", b"GET"), (b":scheme", b"http")], end_stream=True
        )
        client.send()
        bad.append(streamID)
        for streamID in bad:
            self.assertEqual(
                client.responses[streamID].reset, ErrorCodes.PROTOCOL_ERROR
            )
        client.clock.advance(1)
        client.read()
        self.assertEqual(client.responses[slow].status, 200)
        self.assertIsNone(client.goaway)

    def test_contentLengthMismatch(self) -> None:
        """
        A body longer or shorter than its C{content-length}: C{RST_STREAM
        PROTOCOL_ERROR}, and the connection goes on.
        """
        client = H2Client()
        for announced, body in [(b"3", b"four"), (b"5", b"four")]:
            streamID = client.h2.get_next_available_stream_id()
            client.h2.send_headers(
                streamID,
                [
                    (b":method", b"POST"),
                    (b":path", b"/echo"),
                    *GET[1:],
                    (b"content-length", announced),
                ],
            )
            client.h2.config.validate_outbound_headers = False
            client.server.dataReceived(client.h2.data_to_send())
            frame = DataFrame(streamID, data=body, flags=["END_STREAM"])
            client.server.dataReceived(frame.serialize())
            [reset] = [
                f
                for f in frames(client.transport.value())
                if isinstance(f, RstStreamFrame) and f.stream_id == streamID
            ]
            client.transport.clear()
            self.assertEqual(reset.error_code, ErrorCodes.PROTOCOL_ERROR)
        self.assertFalse(client.transport.disconnecting)


class IdleRuleTests(SynchronousTestCase):
    """
    The same idle rule as HTTP/1.1: nothing moving for C{idle_timeout}
    closes the connection, silent uploads included.
    """

    def test_silentUploads(self) -> None:
        """
        Fifty uploads that never send a byte of body (with no body deadline)
        do not keep the connection past C{idle_timeout}.
        """
        client = H2Client(WebConfig(idle_timeout=2, body_timeout=0))
        for _ in range(50):
            streamID = client.h2.get_next_available_stream_id()
            client.h2.send_headers(
                streamID, [(b":method", b"POST"), (b":path", b"/echo"), *GET[1:]]
            )
        client.send()
        client.clock.advance(1.9)
        self.assertFalse(client.transport.disconnecting)
        client.clock.advance(0.1)
        self.assertTrue(client.transport.disconnecting)

    def test_stalledUploadsGet408(self) -> None:
        """
        With a body deadline, each stalled upload gets C{408} after
        C{body_timeout} without a byte, however much it sent before.
        """
        client = H2Client(WebConfig(body_timeout=3, max_body=100000))
        streamID = client.h2.get_next_available_stream_id()
        client.h2.send_headers(
            streamID, [(b":method", b"POST"), (b":path", b"/echo"), *GET[1:]]
        )
        for _ in range(4):
            client.h2.send_data(streamID, b"x" * 15000)
        client.send()
        client.clock.advance(2.9)
        client.read()
        self.assertNotIn(streamID, client.responses)
        client.clock.advance(0.1)
        client.read()
        self.assertEqual(client.responses[streamID].status, 408)
