# -*- test-case-name: tests.websocket.test_deflate -*-
"""
Tests for L{echohub.websocket._deflate} (permessage-deflate, RFC 7692): the
agreement of an offer, and compressed messages through the codec, inflated
within the cap.
"""

from __future__ import annotations

import tracemalloc
import zlib

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from echohub.config import WebSocketConfig
from echohub.websocket._codec import (
    Message,
    Ping,
    ProtocolViolation,
    WebSocketCodec,
)
from echohub.websocket._deflate import (
    DeflateParameters,
    ExtensionSyntaxError,
    PerMessageDeflate,
    negotiate,
    parseExtensions,
)
from tests.websocket.support import BINARY, CONTINUATION, PING, TEXT, frame

CONFIG = WebSocketConfig()


def agree(*values: bytes, config: WebSocketConfig = CONFIG) -> DeflateParameters | None:
    return negotiate(list(values), config)


def clientCompressor(bits: int = 15) -> zlib._Compress:
    return zlib.compressobj(6, zlib.DEFLATED, -bits)


def compressed(compressor: zlib._Compress, data: bytes) -> bytes:
    """
    A message's payload as a client compresses it (section 7.2.1).
    """
    out = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(b"\x00\x00\xff\xff")
    return out[:-4]


def inflateServer(payload: bytes, inflater: zlib._Decompress) -> bytes:
    return inflater.decompress(payload + b"\x00\x00\xff\xff")


def serverFrame(data: bytes) -> tuple[int, bool, bytes]:
    """
    The opcode, RSV1 and payload of one server frame.
    """
    length = data[1] & 0x7F
    offset = 2
    if length == 126:
        length, offset = int.from_bytes(data[2:4], "big"), 4
    elif length == 127:
        length, offset = int.from_bytes(data[2:10], "big"), 10
    assert len(data) == offset + length
    return data[0] & 0x0F, bool(data[0] & 0x40), data[offset:]


class ParseTests(SynchronousTestCase):
    """
    L{parseExtensions} reads RFC 6455 section 9.1's grammar.
    """

    def test_offers(self) -> None:
        self.assertEqual(
            parseExtensions(
                [
                    b"permessage-deflate; client_max_window_bits,"
                    b' Permessage-Deflate ; server_max_window_bits="10"',
                    b"x-webkit-deflate-frame",
                ]
            ),
            [
                ("permessage-deflate", [("client_max_window_bits", None)]),
                ("permessage-deflate", [("server_max_window_bits", "10")]),
                ("x-webkit-deflate-frame", []),
            ],
        )

    def test_emptyElements(self) -> None:
        self.assertEqual(
            parseExtensions([b", permessage-deflate ,"]), [("permessage-deflate", [])]
        )

    def test_malformed(self) -> None:
        for bad in (
            b"permessage-deflate; =1",
            b"permessage deflate",
            b'permessage-deflate; a="unterminated',
            b'permessage-deflate; a="not a token"',
            b"permessage-deflate; a=b=c",
            b"\xff",
            b"; a",
        ):
            with self.subTest(bad):
                self.assertRaises(ExtensionSyntaxError, parseExtensions, [bad])


class NegotiateTests(SynchronousTestCase):
    """
    L{negotiate} accepts the first offer it can honour in full.
    """

    def test_plain(self) -> None:
        agreed = agree(b"permessage-deflate")
        assert agreed is not None
        self.assertEqual(agreed.response, b"permessage-deflate")
        self.assertEqual((agreed.serverWindowBits, agreed.clientWindowBits), (12, 15))
        self.assertFalse(agreed.serverNoContextTakeover)
        self.assertFalse(agreed.clientNoContextTakeover)

    def test_browser(self) -> None:
        """
        What browsers offer: the client's window is bounded to the server's
        setting.
        """
        agreed = agree(b"permessage-deflate; client_max_window_bits")
        assert agreed is not None
        self.assertEqual(
            agreed.response, b"permessage-deflate; client_max_window_bits=12"
        )
        self.assertEqual(agreed.clientWindowBits, 12)

    def test_everything(self) -> None:
        agreed = agree(
            b"permessage-deflate; server_no_context_takeover;"
            b" client_no_context_takeover; server_max_window_bits=9;"
            b" client_max_window_bits=10"
        )
        assert agreed is not None
        self.assertEqual(
            agreed.response,
            b"permessage-deflate; server_no_context_takeover;"
            b" client_no_context_takeover; server_max_window_bits=9;"
            b" client_max_window_bits=10",
        )
        self.assertEqual((agreed.serverWindowBits, agreed.clientWindowBits), (9, 10))
        self.assertTrue(agreed.serverNoContextTakeover)
        self.assertTrue(agreed.clientNoContextTakeover)

    def test_windowAboveOurs(self) -> None:
        """
        Asked for at most 15, the server answers with its own, smaller
        window.
        """
        agreed = agree(b"permessage-deflate; server_max_window_bits=15")
        assert agreed is not None
        self.assertEqual(
            agreed.response, b"permessage-deflate; server_max_window_bits=12"
        )

    def test_declinesThenAccepts(self) -> None:
        """
        An offer the server cannot honour (an 8-bit window), or with a
        parameter it does not know, is declined, and the next accepted.
        """
        agreed = agree(
            b"permessage-deflate; server_max_window_bits=8,"
            b" permessage-deflate; unknown_parameter,"
            b" permessage-deflate; client_max_window_bits=9"
        )
        assert agreed is not None
        self.assertEqual(
            agreed.response, b"permessage-deflate; client_max_window_bits=9"
        )

    def test_declined(self) -> None:
        for offer in (
            b"permessage-deflate; server_max_window_bits=8",
            b"permessage-deflate; server_max_window_bits",
            b"permessage-deflate; server_max_window_bits=16",
            b"permessage-deflate; server_max_window_bits=010",
            b"permessage-deflate; client_max_window_bits=7",
            b"permessage-deflate; server_no_context_takeover=1",
            b"permessage-deflate; client_no_context_takeover;"
            b" client_no_context_takeover",
            b"permessage-deflate; mystery",
            b"x-webkit-deflate-frame",
        ):
            with self.subTest(offer):
                self.assertIsNone(agree(offer))

    def test_clientWindowEight(self) -> None:
        """
        A client that offers to keep to an 8-bit window may: the server
        inflates with a larger one.
        """
        agreed = agree(b"permessage-deflate; client_max_window_bits=8")
        assert agreed is not None
        self.assertEqual(agreed.clientWindowBits, 8)
        deflate = PerMessageDeflate(agreed)
        compressor = zlib.compressobj(6, zlib.DEFLATED, -9)
        self.assertEqual(
            deflate.inflate(compressed(compressor, b"abc" * 100), 1000, True),
            b"abc" * 100,
        )

    def test_off(self) -> None:
        config = WebSocketConfig(compression=False)
        self.assertIsNone(agree(b"permessage-deflate", config=config))
        # Not parsed at all: nothing is agreed, so nothing can be wrong.
        self.assertIsNone(agree(b"=", config=config))

    def test_settings(self) -> None:
        config = WebSocketConfig(
            compression_window_bits=15, compression_mem_level=8, compression_level=1
        )
        agreed = agree(b"permessage-deflate; client_max_window_bits", config=config)
        assert agreed is not None
        self.assertEqual(
            (agreed.serverWindowBits, agreed.clientWindowBits, agreed.memLevel),
            (15, 15, 8),
        )
        self.assertEqual(agreed.level, 1)


def codecFor(offer: bytes, cap: int = 1000) -> WebSocketCodec:
    agreed = agree(offer)
    assert agreed is not None
    return WebSocketCodec(cap, PerMessageDeflate(agreed))


class CompressedMessageTests(SynchronousTestCase):
    """
    The codec inflates compressed messages and compresses their echoes.
    """

    def test_roundTrip(self) -> None:
        """
        Compressed and uncompressed messages mixed, with context kept on
        both sides: each is received as sent, and a compressed one echoed
        compressed, inflating to the same.
        """
        codec = codecFor(b"permessage-deflate")
        client = clientCompressor()
        inflater = zlib.decompressobj(-12)
        for index in range(5):
            text = (f"message {index} " * 20).encode()
            events = codec.receive(frame(TEXT, compressed(client, text), rsv1=True))
            self.assertEqual(events, [Message(text, True, True)])
            opcode, rsv1, payload = serverFrame(codec.message(text, True, True))
            self.assertEqual((opcode, rsv1), (TEXT, True))
            self.assertLess(len(payload), len(text))
            self.assertEqual(inflateServer(payload, inflater), text)
            events = codec.receive(frame(BINARY, b"plain"))
            self.assertEqual(events, [Message(b"plain", False, False)])
            self.assertEqual(
                serverFrame(codec.message(b"plain", False)), (BINARY, False, b"plain")
            )

    def test_fragmented(self) -> None:
        """
        A compressed message in three frames, RSV1 on the first only, with
        a ping between them, split anywhere across reads.
        """
        codec = codecFor(b"permessage-deflate")
        text = "fragmented ünïcode ".encode() * 30
        payload = compressed(clientCompressor(), text)
        third = len(payload) // 3
        wire = (
            frame(TEXT, payload[:third], fin=False, rsv1=True)
            + frame(PING, b"p")
            + frame(CONTINUATION, payload[third : 2 * third], fin=False)
            + frame(CONTINUATION, payload[2 * third :])
        )
        events = []
        for index in range(0, len(wire), 7):
            events += codec.receive(wire[index : index + 7])
        self.assertEqual(events, [Ping(b"p"), Message(text, True, True)])

    def test_rsv1OnContinuation(self) -> None:
        codec = codecFor(b"permessage-deflate")
        events = codec.receive(
            frame(TEXT, b"a", fin=False) + frame(CONTINUATION, b"b", rsv1=True)
        )
        self.assertEqual(events[-1], ProtocolViolation(1002, "reserved bits set"))

    def test_rsv1OnControl(self) -> None:
        codec = codecFor(b"permessage-deflate")
        events = codec.receive(frame(PING, b"", rsv1=True))
        self.assertEqual(events, [ProtocolViolation(1002, "reserved bits set")])

    def test_rsv1WithoutAgreement(self) -> None:
        codec = WebSocketCodec(1000)
        events = codec.receive(
            frame(TEXT, compressed(clientCompressor(), b"x"), rsv1=True)
        )
        self.assertEqual(events, [ProtocolViolation(1002, "reserved bits set")])

    def test_invalidUTF8AfterInflating(self) -> None:
        codec = codecFor(b"permessage-deflate")
        payload = compressed(clientCompressor(), b"ok \xff not utf-8")
        events = codec.receive(frame(TEXT, payload, rsv1=True))
        self.assertEqual(events, [ProtocolViolation(1007, "text is not UTF-8")])

    def test_corrupt(self) -> None:
        codec = codecFor(b"permessage-deflate")
        events = codec.receive(frame(BINARY, b"\xff\xff\xff\xff", rsv1=True))
        self.assertEqual(len(events), 1)
        assert isinstance(events[0], ProtocolViolation)
        self.assertEqual(events[0].code, 1002)

    def test_empty(self) -> None:
        codec = codecFor(b"permessage-deflate")
        for payload in (b"", b"\x00", compressed(clientCompressor(), b"")):
            with self.subTest(payload):
                self.assertEqual(
                    codec.receive(frame(BINARY, payload, rsv1=True)),
                    [Message(b"", False, True)],
                )

    def test_finalBlock(self) -> None:
        """
        A client may end a message with a final block (section 7.2.3.3); the
        next message starts a new stream.
        """
        codec = codecFor(b"permessage-deflate")
        for text in (b"first" * 10, b"second" * 10):
            one = zlib.compressobj(6, zlib.DEFLATED, -15)
            payload = one.compress(text) + one.flush(zlib.Z_FINISH)
            self.assertEqual(
                codec.receive(frame(BINARY, payload, rsv1=True)),
                [Message(text, False, True)],
            )

    def test_noContextTakeover(self) -> None:
        """
        With C{server_no_context_takeover} every echo inflates on its own;
        with C{client_no_context_takeover} the client's do.
        """
        codec = codecFor(
            b"permessage-deflate; server_no_context_takeover;"
            b" client_no_context_takeover"
        )
        text = b"the same message, again and again " * 10
        for _ in range(3):
            payload = compressed(clientCompressor(), text)
            self.assertEqual(
                codec.receive(frame(BINARY, payload, rsv1=True)),
                [Message(text, False, True)],
            )
            _, rsv1, echoed = serverFrame(codec.message(text, False, True))
            self.assertTrue(rsv1)
            self.assertEqual(inflateServer(echoed, zlib.decompressobj(-15)), text)

    @settings(max_examples=60, deadline=None)
    @given(
        st.lists(st.binary(max_size=300), min_size=1, max_size=6),
        st.integers(min_value=1, max_value=40),
        st.sampled_from([9, 12, 15]),
    )
    def test_anySplit(self, messages: list[bytes], chunk: int, bits: int) -> None:
        """
        Whatever the messages, the client's window and the read sizes,
        what is received is what was compressed.
        """
        codec = codecFor(
            f"permessage-deflate; client_max_window_bits={bits}".encode(), cap=2000
        )
        client = clientCompressor(min(bits, 12))
        wire = b"".join(
            frame(BINARY, compressed(client, m), rsv1=True) for m in messages
        )
        events = []
        for index in range(0, len(wire), chunk):
            events += codec.receive(wire[index : index + chunk])
        self.assertEqual(events, [Message(m, False, True) for m in messages])


class BombTests(SynchronousTestCase):
    """
    The cap applies to the inflated size, while inflating.
    """

    def test_bomb(self) -> None:
        """
        A 64 MiB message of zeros, about 64 KiB compressed, fits the wire
        cap but not the inflated one: C{1009}, and never more than the cap
        inflated (traced allocations stay within a few caps).
        """
        cap = 1024 * 1024
        bomb = compressed(clientCompressor(), bytes(64 * 1024 * 1024))
        self.assertLess(len(bomb), cap)
        codec = codecFor(b"permessage-deflate", cap=cap)
        wire = frame(BINARY, bomb, rsv1=True)
        tracemalloc.start()
        try:
            events = codec.receive(wire)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        self.assertEqual(
            events,
            [ProtocolViolation(1009, f"message inflates to over {cap} bytes")],
        )
        self.assertLess(peak, 4 * cap)

    def test_bombInPieces(self) -> None:
        """
        The same, one frame arriving in small reads, and as continuation
        frames: the cap is on the message.
        """
        cap = 10_000
        payload = compressed(clientCompressor(), bytes(100_000))
        codec = codecFor(b"permessage-deflate", cap=cap)
        half = len(payload) // 2
        wire = frame(BINARY, payload[:half], fin=False, rsv1=True) + frame(
            CONTINUATION, payload[half:]
        )
        events = []
        for index in range(0, len(wire), 5):
            events += codec.receive(wire[index : index + 5])
        self.assertEqual(
            events, [ProtocolViolation(1009, f"message inflates to over {cap} bytes")]
        )

    def test_exactlyTheCap(self) -> None:
        cap = 5000
        codec = codecFor(b"permessage-deflate", cap=cap)
        data = bytes(range(256)) * 19 + bytes(136)
        self.assertEqual(len(data), cap)
        events = codec.receive(
            frame(BINARY, compressed(clientCompressor(), data), rsv1=True)
        )
        self.assertEqual(events, [Message(data, False, True)])

    def test_incompressibleAtTheCap(self) -> None:
        """
        A message of the cap's size that does not compress is a little
        larger on the wire: still accepted.
        """
        cap = 200_000
        data = zlib.compress(bytes(range(256)) * 1000)  # noise
        data = (data * (cap // len(data) + 1))[:cap]
        payload = compressed(clientCompressor(), data)
        codec = codecFor(b"permessage-deflate", cap=cap)
        self.assertEqual(
            codec.receive(frame(BINARY, payload, rsv1=True)),
            [Message(data, False, True)],
        )


class MemoryTests(SynchronousTestCase):
    """
    What a compressed connection keeps between messages (zlib allocates
    through Python's raw allocator, which tracemalloc traces).
    """

    def kept(self, offer: bytes, config: WebSocketConfig = CONFIG) -> int:
        agreed = agree(offer, config=config)
        assert agreed is not None
        tracemalloc.start()
        try:
            deflate = PerMessageDeflate(agreed)
            codec = WebSocketCodec(100_000, deflate)
            text = b"a compressible message " * 40
            codec.receive(frame(TEXT, compressed(clientCompressor(), text), rsv1=True))
            codec.message(text, True, True)
            size, _ = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        return size

    def test_defaults(self) -> None:
        """
        At the defaults (window 12, memLevel 5) with context kept both ways
        (the client's window bounded by its offer), under 96 KiB; zlib's
        own defaults would keep over 300 KiB.
        """
        self.assertLess(
            self.kept(b"permessage-deflate; client_max_window_bits"), 96 * 1024
        )
        large = WebSocketConfig(compression_window_bits=15, compression_mem_level=8)
        self.assertGreater(
            self.kept(b"permessage-deflate; client_max_window_bits", large), 300 * 1024
        )

    def test_noContextKept(self) -> None:
        """
        Without context takeover either way, nothing is kept between
        messages.
        """
        self.assertLess(
            self.kept(
                b"permessage-deflate; server_no_context_takeover;"
                b" client_no_context_takeover"
            ),
            4 * 1024,
        )
