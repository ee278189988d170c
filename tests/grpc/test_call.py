"""
Tests for L{echohub.grpc._call}: one call's protocol (the request head,
messages and their cardinality, the answer's forms, deadlines, delays,
drain, backpressure, cancellation), driven with a recording response side
and a clock.
"""

from __future__ import annotations

import gzip

from twisted.trial.unittest import SynchronousTestCase

from echohub.config import GRPCConfig
from echohub.grpc import Code
from echohub.grpc._call import Call
from echohub.grpc._wire import frame
from tests.grpc.support import (
    BIDI,
    CLIENT_STREAMING,
    SERVER_STREAMING,
    UNARY,
    RecordingStream,
    echo,
    framed,
    headers,
    server,
)


def start(
    method: str = UNARY,
    *metadata: tuple[bytes, bytes],
    config: GRPCConfig | None = None,
    fields: list[tuple[bytes, bytes]] | None = None,
) -> tuple[Call, RecordingStream, object]:
    grpc, clock, _, _ = server(config)
    stream = RecordingStream()
    call = grpc.call(stream, fields or headers(method, *metadata))
    return call, stream, clock


class AnswerTests(SynchronousTestCase):
    """
    A call's answer: headers with the first message, the status in
    trailers, or the status alone (Trailers-Only).
    """

    def test_unary(self) -> None:
        """
        Headers, the message, then trailers with C{grpc-status: 0}; the
        answer comes at the end of the request.
        """
        call, stream, _ = start()
        call.dataReceived(framed("hello"))
        self.assertEqual(stream.sent, [])
        call.ended()
        kinds = [event[0] for event in stream.sent]
        self.assertEqual(kinds, ["headers", "data", "trailers"])
        head = dict(stream.sent[0][1])
        self.assertEqual(head[b":status"], b"200")
        self.assertEqual(head[b"content-type"], b"application/grpc")
        self.assertEqual(head[b"grpc-accept-encoding"], b"identity,deflate,gzip")
        self.assertEqual(stream.messages, ["hello"])
        self.assertEqual(stream.status, (0, ""))
        self.assertTrue(call.done)
        self.assertIsNone(stream.producer)

    def test_contentTypeEchoed(self) -> None:
        """
        An C{application/grpc+proto} request gets the same type back.
        """
        fields = [
            (n, b"application/grpc+proto" if n == b"content-type" else v)
            for n, v in headers()
        ]
        call, stream, _ = start(fields=fields)
        call.dataReceived(framed("x"))
        call.ended()
        self.assertEqual(
            dict(stream.sent[0][1])[b"content-type"], b"application/grpc+proto"
        )

    def test_trailersOnly(self) -> None:
        """
        A call that ends before any message sends one header block that
        ends the stream, with the status in it.
        """
        call, stream, _ = start(UNARY, (b"echo-status", b"9"), (b"echo-message", b"no"))
        call.dataReceived(framed("x"))
        call.ended()
        [(kind, fields, end)] = stream.sent
        self.assertEqual((kind, end), ("headers", True))
        self.assertEqual(dict(fields)[b":status"], b"200")
        self.assertEqual(stream.status, (Code.FAILED_PRECONDITION, "no"))


class HeadTests(SynchronousTestCase):
    """
    The request head: what is refused before the call starts, and with
    what.
    """

    def assertRefused(
        self,
        fields: list[tuple[bytes, bytes]],
        code: Code,
        http: bytes = b"200",
        text: str = "",
    ) -> RecordingStream:
        call, stream, _ = start(fields=fields)
        self.assertTrue(call.done)
        [(kind, head, end)] = stream.sent
        self.assertTrue(end)
        self.assertEqual(dict(head)[b":status"], http)
        status = stream.status
        assert status is not None
        self.assertEqual(status[0], code)
        self.assertIn(text, status[1])
        return stream

    def replaced(self, name: bytes, value: bytes | None) -> list[tuple[bytes, bytes]]:
        fields = [(n, v) for n, v in headers() if n != name]
        if value is not None:
            fields.append((name, value))
        return fields

    def test_notPost(self) -> None:
        """
        Any method but C{POST}: HTTP 405 with C{Allow: POST}, C{INTERNAL},
        as grpc-go answers.
        """
        stream = self.assertRefused(
            self.replaced(b":method", b"GET"), Code.INTERNAL, b"405", "GET"
        )
        self.assertEqual(dict(stream.sent[0][1])[b"allow"], b"POST")

    def test_noTE(self) -> None:
        """
        No C{te: trailers}: HTTP 400, C{INTERNAL}, saying a proxy may be at
        fault (grpc-java's answer).
        """
        self.assertRefused(self.replaced(b"te", None), Code.INTERNAL, b"400", "te")

    def test_badTimeout(self) -> None:
        """
        A malformed C{grpc-timeout}: HTTP 400, C{INTERNAL}.
        """
        self.assertRefused(
            self.replaced(b"grpc-timeout", b"soon"), Code.INTERNAL, b"400", "timeout"
        )

    def test_notProto(self) -> None:
        """
        A content subtype other than protocol buffers is C{UNIMPLEMENTED}.
        """
        self.assertRefused(
            self.replaced(b"content-type", b"application/grpc+json"),
            Code.UNIMPLEMENTED,
            text="json",
        )

    def test_unknownMethod(self) -> None:
        """
        A method the server does not offer is C{UNIMPLEMENTED}, naming it.
        """
        fields = self.replaced(b":path", b"/grpc.examples.echo.Echo/Nope")
        self.assertRefused(fields, Code.UNIMPLEMENTED, text="Echo/Nope")

    def test_badControl(self) -> None:
        """
        An echo control out of its bounds is C{INVALID_ARGUMENT}.
        """
        self.assertRefused(
            headers(SERVER_STREAMING, (b"echo-count", b"1001")),
            Code.INVALID_ARGUMENT,
            text="[grpc] max_stream_count",
        )

    def test_laterDataIgnored(self) -> None:
        """
        Once refused, what else arrives is not read.
        """
        call, stream, _ = start(fields=self.replaced(b"te", None))
        call.dataReceived(framed("x"))
        call.ended()
        self.assertEqual(len(stream.sent), 1)
        self.assertEqual(call.messagesIn, 0)


class MessageTests(SynchronousTestCase):
    """
    Request messages: decoded, counted, and as many as the method takes.
    """

    def test_notProtobuf(self) -> None:
        """
        A message that is not the method's request type is C{INTERNAL}.
        """
        call, stream, _ = start()
        call.dataReceived(frame(b"\xff\xff\xff"))
        self.assertEqual(stream.status[0], Code.INTERNAL)  # type: ignore[index]
        self.assertIn("unmarshalling", stream.status[1])  # type: ignore[index]

    def test_badUTF8(self) -> None:
        """
        A string field that is not UTF-8 is not a valid proto3 message.
        """
        call, stream, _ = start()
        call.dataReceived(frame(b"\n\x02\xff\xfe"))
        self.assertEqual(stream.status[0], Code.INTERNAL)  # type: ignore[index]

    def test_noRequest(self) -> None:
        """
        A unary method's request ending with no message is a cardinality
        violation: C{UNIMPLEMENTED} (C{doc/statuscodes.md}).
        """
        call, stream, _ = start()
        call.ended()
        self.assertEqual(stream.status[0], Code.UNIMPLEMENTED)  # type: ignore[index]

    def test_twoRequests(self) -> None:
        """
        So is a second message, refused as it arrives.
        """
        call, stream, _ = start(SERVER_STREAMING)
        call.dataReceived(framed("a", "b"))
        self.assertEqual(stream.status[0], Code.UNIMPLEMENTED)  # type: ignore[index]
        self.assertEqual(stream.messages, [])

    def test_truncated(self) -> None:
        """
        A request that ends inside a message is C{INTERNAL}.
        """
        call, stream, _ = start()
        call.dataReceived(framed("abc")[:-1])
        call.ended()
        self.assertEqual(stream.status[0], Code.INTERNAL)  # type: ignore[index]

    def test_overLimit(self) -> None:
        """
        A message over C{[grpc] max_message} is C{RESOURCE_EXHAUSTED} from
        its prefix alone.
        """
        call, stream, _ = start(config=GRPCConfig(max_message=10))
        call.dataReceived(b"\0\0\0\0\x0b")
        self.assertEqual(stream.status[0], Code.RESOURCE_EXHAUSTED)  # type: ignore[index]

    def test_compressedBothWays(self) -> None:
        """
        A gzip request whose client accepts gzip is answered in gzip; one
        that does not accept it, in plain messages.
        """
        for accept, compressed in [(b"identity,gzip", True), (b"identity", False)]:
            call, stream, _ = start(
                UNARY, (b"grpc-encoding", b"gzip"), (b"grpc-accept-encoding", accept)
            )
            call.dataReceived(frame(echo("zipped"), "gzip"))
            call.ended()
            [data] = [e[1] for e in stream.sent if e[0] == "data"]
            self.assertEqual(data[0], int(compressed))
            head = dict(stream.sent[0][1])
            if compressed:
                self.assertEqual(head[b"grpc-encoding"], b"gzip")
                self.assertEqual(gzip.decompress(data[5:]), echo("zipped"))
            else:
                self.assertNotIn(b"grpc-encoding", head)
                self.assertEqual(stream.messages, ["zipped"])


class TimeTests(SynchronousTestCase):
    """
    Deadlines, delays and the drain deadline.
    """

    def test_deadline(self) -> None:
        """
        C{grpc-timeout} ends a call still going with C{DEADLINE_EXCEEDED}.
        """
        call, stream, clock = start(UNARY, (b"grpc-timeout", b"500m"))
        clock.advance(0.4)  # type: ignore[attr-defined]
        self.assertEqual(stream.sent, [])
        clock.advance(0.1)  # type: ignore[attr-defined]
        self.assertEqual(stream.status[0], Code.DEADLINE_EXCEEDED)  # type: ignore[index]

    def test_maxCallDuration(self) -> None:
        """
        C{[grpc] max_call_duration} bounds every call, a longer
        C{grpc-timeout} too, naming the setting.
        """
        call, stream, clock = start(
            BIDI, (b"grpc-timeout", b"1H"), config=GRPCConfig(max_call_duration=5)
        )
        call.dataReceived(framed("a"))
        clock.advance(5)  # type: ignore[attr-defined]
        self.assertEqual(stream.messages, ["a"])
        self.assertEqual(stream.status[0], Code.DEADLINE_EXCEEDED)  # type: ignore[index]
        self.assertIn("max_call_duration", stream.status[1])  # type: ignore[index]

    def test_delay(self) -> None:
        """
        C{echo-delay-ms} holds the answer; requests that arrive meanwhile
        wait with the client's window held back, and are answered in order
        once it passes.
        """
        call, stream, clock = start(BIDI, (b"echo-delay-ms", b"200"))
        call.dataReceived(framed("a", "b"))
        call.ended()
        self.assertTrue(stream.readingPaused)
        self.assertEqual(stream.sent, [])
        clock.advance(0.2)  # type: ignore[attr-defined]
        self.assertFalse(stream.readingPaused)
        self.assertEqual(stream.messages, ["a", "b"])
        self.assertEqual(stream.status, (0, ""))

    def test_delayCutByDeadline(self) -> None:
        """
        A delay longer than the deadline ends at the deadline.
        """
        call, stream, clock = start(
            UNARY, (b"echo-delay-ms", b"2000"), (b"grpc-timeout", b"1S")
        )
        call.dataReceived(framed("a"))
        call.ended()
        clock.advance(1)  # type: ignore[attr-defined]
        self.assertEqual(stream.status[0], Code.DEADLINE_EXCEEDED)  # type: ignore[index]
        self.assertEqual(call._timers, [])

    def test_drain(self) -> None:
        """
        A call still going when the server stops ends C{UNAVAILABLE} just
        before the drain deadline; one that ends sooner ends as it would.
        """
        grpc, clock, connections, _ = server()
        calls = []
        for count in (b"3", b"100"):
            stream = RecordingStream()
            call = grpc.call(
                stream,
                headers(
                    SERVER_STREAMING,
                    (b"echo-count", count),
                    (b"echo-interval-ms", b"1000"),
                ),
            )
            call.dataReceived(framed("tick"))
            call.ended()
            calls.append((call, stream))
        connections.drain(clock, 10)
        for call, _ in calls:
            call.drain()
        clock.pump([1] * 8 + [0.9])
        self.assertEqual(calls[0][1].status, (0, ""))
        self.assertIsNone(calls[1][1].status)
        clock.advance(0.1)
        self.assertEqual(calls[1][1].status[0], Code.UNAVAILABLE)  # type: ignore[index]
        self.assertIn("drain_timeout", calls[1][1].status[1])  # type: ignore[index]


class FlowTests(SynchronousTestCase):
    """
    Backpressure and cancellation.
    """

    def test_backpressure(self) -> None:
        """
        A streamed answer stops while its response is backed up (the call
        is the stream's producer) and goes on when it is not.
        """
        call, stream, _ = start(SERVER_STREAMING, (b"echo-count", b"10"))
        call.dataReceived(framed("m"))
        stream.producer.pauseProducing()  # type: ignore[union-attr]
        call.ended()
        self.assertEqual(stream.messages, [])
        stream.producer.resumeProducing()  # type: ignore[union-attr]
        self.assertEqual(len(stream.messages), 10)
        self.assertEqual(stream.status, (0, ""))

    def test_cancelled(self) -> None:
        """
        A stream lost ends the call C{CANCELLED}: nothing more is sent, no
        timer is left.
        """
        call, stream, clock = start(
            SERVER_STREAMING, (b"echo-count", b"5"), (b"echo-interval-ms", b"100")
        )
        call.dataReceived(framed("m"))
        call.ended()
        call.streamLost(None)
        clock.advance(1)  # type: ignore[attr-defined]
        self.assertEqual(stream.messages, ["m"])
        self.assertEqual(call.code, Code.CANCELLED)
        self.assertEqual(call._timers, [])

    def test_handlerError(self) -> None:
        """
        A method that fails ends its call C{INTERNAL}, logged, and nothing
        else.
        """
        grpc, _, _, _ = server()
        method = grpc.methods[b"/" + CLIENT_STREAMING.encode()]

        def broken(request: object) -> None:
            raise RuntimeError("broken")

        stream = RecordingStream()
        call = grpc.call(stream, headers(CLIENT_STREAMING))
        assert call.handler is not None and call.method is method
        call.handler.received = broken  # type: ignore[method-assign]
        call.dataReceived(framed("x"))
        self.assertEqual(stream.status[0], Code.INTERNAL)  # type: ignore[index]
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)
