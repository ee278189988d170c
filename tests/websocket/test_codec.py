# -*- test-case-name: tests.websocket.test_codec -*-
"""
Tests for L{echohub.websocket._codec}: RFC 6455 framing without I/O, bytes
in and events out, with hand-made client frames and no transport.
"""

from __future__ import annotations

import struct

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SkipTest, SynchronousTestCase

from echohub.websocket._codec import (
    CloseReceived,
    Event,
    Message,
    Ping,
    Pong,
    ProtocolViolation,
    WebSocketCodec,
    unmask,
)
from tests.websocket.support import (
    BINARY,
    CLOSE,
    CONTINUATION,
    PING,
    PONG,
    TEXT,
    frame,
    frames,
)

CAP = 100

masks = st.binary(min_size=4, max_size=4)

closeCodes = st.one_of(
    st.sampled_from([1000, 1001, 1002, 1003, *range(1007, 1015)]),
    st.integers(min_value=3000, max_value=4999),
)
"""
The codes a client may send (RFC 6455 section 7.4).
"""


def receive(codec: WebSocketCodec, *chunks: bytes) -> list[Event]:
    """
    The events of C{chunks}, received one after the other.
    """
    events: list[Event] = []
    for chunk in chunks:
        events += codec.receive(chunk)
    return events


@st.composite
def conversations(draw: st.DrawFn) -> tuple[bytes, list[Event]]:
    """
    A client's frames, each with its own mask, and the events they make:
    text and binary messages cut into fragments anywhere (text inside a
    character too), pings and pongs between fragments and between
    messages, and perhaps a close at the end.
    """
    stream = b""
    events: list[Event] = []
    for _ in range(draw(st.integers(min_value=1, max_value=5))):
        text = draw(st.booleans())
        if text:
            payload = draw(st.text(max_size=80)).encode("utf-8")
        else:
            payload = draw(st.binary(max_size=300))
        cuts = draw(st.lists(st.integers(0, len(payload)), max_size=3))
        bounds = [0, *sorted(cuts), len(payload)]
        for index, (start, end) in enumerate(zip(bounds, bounds[1:], strict=False)):
            last = index == len(bounds) - 2
            opcode = (TEXT if text else BINARY) if index == 0 else CONTINUATION
            stream += frame(opcode, payload[start:end], last, draw(masks))
            if last:
                events.append(Message(payload, text))
            control = draw(st.sampled_from([None, PING, PONG]))
            if control is not None:
                data = draw(st.binary(max_size=125))
                stream += frame(control, data, mask=draw(masks))
                events.append(Ping(data) if control == PING else Pong(data))
    if draw(st.booleans()):
        code = draw(closeCodes)
        reason = draw(st.text(max_size=30))
        payload = struct.pack("!H", code) + reason.encode("utf-8")
        stream += frame(CLOSE, payload, mask=draw(masks))
        events.append(CloseReceived(code, reason))
    return stream, events


class UnmaskTests(SynchronousTestCase):
    """
    L{unmask} is websockets' C masking, where it is built.
    """

    def test_speedups(self) -> None:
        """
        When C{websockets.speedups} exists (every wheel websockets ships), its
        C{apply_mask} does the XOR: if websockets moves it, this fails rather
        than echohub silently falling back to the slow XOR.
        """
        try:
            from websockets.speedups import apply_mask
        except ImportError:
            raise SkipTest("websockets was built without its C extension") from None
        from echohub.websocket import _codec

        self.assertIs(_codec.applyMask, apply_mask)

    def test_phase(self) -> None:
        """
        A payload read from the middle of its frame is unmasked from that
        byte of the mask.
        """
        mask = b"\x01\x02\x03\x04"
        data = bytes(range(11))
        whole = unmask(data, mask)
        self.assertEqual(whole, bytes(b ^ mask[i % 4] for i, b in enumerate(data)))
        self.assertEqual(unmask(data[5:], mask, 5 % 4), whole[5:])
        self.assertEqual(unmask(b"", mask), b"")


class SegmentationTests(SynchronousTestCase):
    """
    The events depend on the bytes alone, not on how they are cut.
    """

    @settings(max_examples=300, deadline=None)
    @given(
        conversation=conversations(),
        cuts=st.lists(st.integers(min_value=0, max_value=4000), max_size=20),
    )
    def test_anySegmentation(
        self, conversation: tuple[bytes, list[Event]], cuts: list[int]
    ) -> None:
        """
        Messages in any number of fragments, with control frames between
        them and the stream cut anywhere, give each message whole, and
        every control frame, in the order the frames were sent.
        """
        stream, expected = conversation
        points = sorted({0, len(stream), *(c for c in cuts if c <= len(stream))})
        chunks = [stream[a:b] for a, b in zip(points, points[1:], strict=False)]
        self.assertEqual(receive(WebSocketCodec(10000), *chunks), expected)

    @settings(deadline=None)
    @given(conversation=conversations())
    def test_byteByByte(self, conversation: tuple[bytes, list[Event]]) -> None:
        """
        One byte at a time gives the same events as all at once.
        """
        stream, expected = conversation
        oneByOne = [stream[i : i + 1] for i in range(len(stream))]
        self.assertEqual(receive(WebSocketCodec(10000), *oneByOne), expected)

    def test_controlFramesBetweenFragments(self) -> None:
        """
        A ping and a pong between a message's fragments are received before
        the message they interrupt, which still arrives whole.
        """
        events = WebSocketCodec(CAP).receive(
            frame(TEXT, b"ab", fin=False)
            + frame(PING, b"p")
            + frame(CONTINUATION, b"cd", fin=False)
            + frame(PONG, b"q")
            + frame(CONTINUATION, b"ef")
        )
        self.assertEqual(events, [Ping(b"p"), Pong(b"q"), Message(b"abcdef", True)])


class MaskingTests(SynchronousTestCase):
    """
    Client frames are unmasked; server frames are not masked.
    """

    @given(
        data=st.binary(max_size=300),
        mask=masks,
        phase=st.integers(min_value=0, max_value=3),
    )
    def test_unmask(self, data: bytes, mask: bytes, phase: int) -> None:
        """
        Unmasking is the byte-by-byte XOR of RFC 6455 section 5.3, from any
        offset in the mask.
        """
        self.assertEqual(
            unmask(data, mask, phase),
            bytes(b ^ mask[(i + phase) % 4] for i, b in enumerate(data)),
        )

    @given(data=st.binary(max_size=300), mask=masks, text=st.booleans())
    def test_roundTrip(self, data: bytes, mask: bytes, text: bool) -> None:
        """
        A payload masked with any key is received as it was before masking,
        and the frame the codec makes of it carries it unmasked.
        """
        if text:
            data = data.decode("latin-1").encode("utf-8")
        codec = WebSocketCodec(1000)
        [message] = codec.receive(frame(TEXT if text else BINARY, data, mask=mask))
        self.assertEqual(message, Message(data, text))
        sent = codec.message(data, text)
        self.assertFalse(sent[1] & 0x80, "a server frame is not masked")
        self.assertEqual(frames(sent), [(TEXT if text else BINARY, data)])

    def test_lengths(self) -> None:
        """
        Payloads with 7-, 16- and 64-bit lengths are received, and sent with
        the length form their size needs.
        """
        codec = WebSocketCodec(200000)
        for size, form in [(125, 125), (126, 126), (65535, 126), (65536, 127)]:
            payload = bytes(i % 251 for i in range(size))
            self.assertEqual(
                codec.receive(frame(BINARY, payload)), [Message(payload, False)]
            )
            sent = codec.message(payload, False)
            self.assertEqual((sent[0], sent[1]), (0x82, form))
            self.assertEqual(frames(sent), [(BINARY, payload)])

    def test_controlFrames(self) -> None:
        """
        Pings, pongs and closes are sent as final frames of their opcode.
        """
        codec = WebSocketCodec(CAP)
        self.assertEqual(codec.ping(b"p"), b"\x89\x01p")
        self.assertEqual(codec.pong(b"q"), b"\x8a\x01q")
        self.assertEqual(codec.close(1001, "bye"), b"\x88\x05\x03\xe9bye")


def violation(data: bytes, maxMessage: int = CAP) -> ProtocolViolation:
    """
    The violation C{data} is, which must be the only event.
    """
    [event] = WebSocketCodec(maxMessage).receive(data)
    assert isinstance(event, ProtocolViolation), event
    return event


class ViolationTests(SynchronousTestCase):
    """
    What RFC 6455 forbids a client is a violation with its close code.
    """

    def test_protocolErrors(self) -> None:
        """
        Broken framing is C{1002}, with a reason that says what broke.
        """
        for data, reason in [
            (bytes([0x81, 2]) + b"hi", "client frames must be masked"),
            (bytes([0x81 | 0x40]) + frame(TEXT, b"x")[1:], "reserved bits set"),
            (bytes([0x81 | 0x10]) + frame(TEXT, b"x")[1:], "reserved bits set"),
            (frame(CONTINUATION, b"x"), "continuation without a message"),
            (
                frame(TEXT, b"a", fin=False) + frame(TEXT, b"b"),
                "new message inside a fragmented one",
            ),
            (frame(PING, b"p", fin=False), "control frames are short and unfragmented"),
            (frame(PING, b"p" * 126), "control frames are short and unfragmented"),
            (frame(3, b"?"), "reserved opcode 3"),
            (frame(11, b""), "reserved opcode 11"),
            (frame(CLOSE, b"\x03"), "close frame with a 1-byte payload"),
            (frame(CLOSE, struct.pack("!H", 1005)), "close code 1005 may not be sent"),
            (frame(CLOSE, struct.pack("!H", 999)), "close code 999 may not be sent"),
            (frame(CLOSE, struct.pack("!H", 1004)), "close code 1004 may not be sent"),
            (frame(CLOSE, struct.pack("!H", 1015)), "close code 1015 may not be sent"),
            (frame(CLOSE, struct.pack("!H", 5000)), "close code 5000 may not be sent"),
            (
                bytes([0x82, 0x80 | 127]) + struct.pack("!Q", 2**63) + b"\x00" * 4,
                "frame length out of range",
            ),
        ]:
            with self.subTest(data=data):
                self.assertEqual(violation(data), ProtocolViolation(1002, reason))

    def test_invalidUTF8(self) -> None:
        """
        Text that is not UTF-8 is C{1007}: in a whole message, in a fragment
        before the message ends, in a message that ends inside a character,
        and in a close reason.
        """
        for data in [
            frame(TEXT, b"\xff"),
            frame(TEXT, b"ok\xed\xa0\x80", fin=False),
            frame(TEXT, b"\xe2\x82"),
            frame(TEXT, b"\xe2", fin=False) + frame(CONTINUATION, b"\x82"),
            frame(CLOSE, struct.pack("!H", 1000) + b"\xff"),
        ]:
            with self.subTest(data=data):
                self.assertEqual(
                    violation(data), ProtocolViolation(1007, "text is not UTF-8")
                )

    def test_binaryIsNotChecked(self) -> None:
        """
        A binary message may hold any bytes.
        """
        self.assertEqual(
            WebSocketCodec(CAP).receive(frame(BINARY, b"\xff\xe2")),
            [Message(b"\xff\xe2", False)],
        )

    def test_textSplitInsideACharacter(self) -> None:
        """
        A character split across fragments is valid.
        """
        euro = "\u20ac".encode()
        events = WebSocketCodec(CAP).receive(
            frame(TEXT, euro[:1], fin=False) + frame(CONTINUATION, euro[1:])
        )
        self.assertEqual(events, [Message(euro, True)])

    @given(
        prefix=st.text(max_size=200),
        bad=st.sampled_from(
            [b"\xff", b"\xc0", b"\xe2\x28", b"\xf4\x90", b"\xed\xa0\x80"]
        ),
        tail=st.binary(max_size=50),
        fragments=st.booleans(),
    )
    def test_invalidUTF8FailsFast(
        self, prefix: str, bad: bytes, tail: bytes, fragments: bool
    ) -> None:
        """
        Invalid UTF-8 is a violation as soon as the byte that makes it
        invalid arrives, in the middle of a frame, whether or not valid text
        came before it in earlier fragments; not a byte sooner.  (An encoded
        surrogate, C{\\xed\\xa0\\x80}, is invalid from its second byte on, but
        CPython's decoder refuses it on its third.)
        """
        valid = prefix.encode("utf-8")
        payload = bad + tail
        stream = b""
        if fragments:
            stream += frame(TEXT, valid, fin=False)
            opcode = CONTINUATION
        else:
            payload = valid + payload
            opcode = TEXT
        whole = frame(opcode, payload)
        cut = len(stream) + len(whole) - len(tail)
        stream += whole
        codec = WebSocketCodec(1000)
        self.assertEqual(codec.receive(stream[: cut - 1]), [])
        self.assertEqual(
            codec.receive(stream[cut - 1 : cut]),
            [ProtocolViolation(1007, "text is not UTF-8")],
        )

    def test_eventsBeforeTheViolation(self) -> None:
        """
        What came before a violation in the same read is received first;
        what came after it is not parsed.
        """
        events = WebSocketCodec(CAP).receive(
            frame(TEXT, b"ok") + frame(PING, b"p") + frame(3) + frame(TEXT, b"no")
        )
        self.assertEqual(
            events,
            [
                Message(b"ok", True),
                Ping(b"p"),
                ProtocolViolation(1002, "reserved opcode 3"),
            ],
        )

    def test_nothingAfterTheViolation(self) -> None:
        """
        After a violation, nothing more is parsed.
        """
        codec = WebSocketCodec(CAP)
        codec.receive(frame(3))
        self.assertEqual(codec.receive(frame(TEXT, b"x") + frame(PING)), [])


class MessageSizeTests(SynchronousTestCase):
    """
    C{maxMessage} is enforced on the frame headers, as they arrive.
    """

    def test_atLimit(self) -> None:
        """
        A message of exactly C{maxMessage} bytes, in fragments, is received.
        """
        events = WebSocketCodec(CAP).receive(
            frame(BINARY, b"x" * 60, fin=False) + frame(CONTINUATION, b"y" * 40)
        )
        self.assertEqual(events, [Message(b"x" * 60 + b"y" * 40, False)])

    def test_hugeFrameRefusedOnItsHeader(self) -> None:
        """
        A frame announcing 2**40 bytes is C{1009} on its header alone.
        """
        header = bytes([0x82, 0x80 | 127]) + struct.pack("!Q", 2**40) + b"\x00" * 4
        self.assertEqual(
            violation(header), ProtocolViolation(1009, "message over 100 bytes")
        )

    @given(
        sizes=st.lists(st.integers(min_value=0, max_value=70), min_size=1, max_size=6)
    )
    def test_refusedOnTheHeaderThatPassesTheCap(self, sizes: list[int]) -> None:
        """
        A message in fragments is refused with C{1009} as soon as the
        header of the fragment that takes it over the cap is complete (not
        a byte sooner, none of that fragment's payload read); a message
        within the cap is received.
        """
        stream = b""
        total = 0
        passing = None
        for index, size in enumerate(sizes):
            opcode = BINARY if index == 0 else CONTINUATION
            piece = frame(opcode, b"z" * size, fin=index == len(sizes) - 1)
            total += size
            if total > CAP and passing is None:
                passing = len(stream) + len(piece) - size
            stream += piece
        codec = WebSocketCodec(CAP)
        if passing is None:
            self.assertEqual(codec.receive(stream), [Message(b"z" * total, False)])
            return
        self.assertEqual(codec.receive(stream[: passing - 1]), [])
        self.assertEqual(
            codec.receive(stream[passing - 1 : passing]),
            [ProtocolViolation(1009, "message over 100 bytes")],
        )

    def test_capIsPerMessage(self) -> None:
        """
        The cap counts one message's bytes, not the connection's.
        """
        codec = WebSocketCodec(CAP)
        for _ in range(3):
            self.assertEqual(
                codec.receive(
                    frame(TEXT, b"a" * 60, fin=False) + frame(CONTINUATION, b"b" * 40)
                ),
                [Message(b"a" * 60 + b"b" * 40, True)],
            )


class CloseTests(SynchronousTestCase):
    """
    The client's close is received, checked and echoed.
    """

    def test_closeEchoesCodeAndReason(self) -> None:
        """
        A close with a code and a reason is received as such, and the close
        made of them carries the same payload back.
        """
        codec = WebSocketCodec(CAP)
        payload = struct.pack("!H", 4000) + "bye \u20ac".encode()
        [event] = codec.receive(frame(CLOSE, payload))
        self.assertEqual(event, CloseReceived(4000, "bye \u20ac"))
        assert isinstance(event, CloseReceived)
        self.assertEqual(
            frames(codec.close(event.code, event.reason)), [(CLOSE, payload)]
        )

    def test_closeWithoutStatus(self) -> None:
        """
        A close without a payload is received as C{1005}, and the close made
        of C{1005}, which no close frame may carry, has no payload either.
        """
        codec = WebSocketCodec(CAP)
        self.assertEqual(codec.receive(frame(CLOSE)), [CloseReceived(1005, "")])
        self.assertEqual(codec.close(1005), b"\x88\x00")

    @given(code=closeCodes, reason=st.text(max_size=30), mask=masks)
    def test_anyValidClose(self, code: int, reason: str, mask: bytes) -> None:
        """
        Every code a client may send, with any UTF-8 reason, is received and
        echoed exactly.
        """
        payload = struct.pack("!H", code) + reason.encode("utf-8")
        codec = WebSocketCodec(CAP)
        self.assertEqual(
            codec.receive(frame(CLOSE, payload, mask=mask)),
            [CloseReceived(code, reason)],
        )
        self.assertEqual(frames(codec.close(code, reason)), [(CLOSE, payload)])

    def test_nothingAfterTheClose(self) -> None:
        """
        What follows a close, in its read or later, is not parsed.
        """
        codec = WebSocketCodec(CAP)
        self.assertEqual(
            codec.receive(frame(CLOSE) + frame(TEXT, b"late")),
            [CloseReceived(1005, "")],
        )
        self.assertEqual(codec.receive(frame(PING, b"later")), [])
