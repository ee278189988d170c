"""
Tests for L{echohub.grpc._wire}: gRPC's framing, status and timeouts
without I/O, with hand-made bodies and no transport.
"""

from __future__ import annotations

import gzip
import zlib

from hypothesis import given
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from echohub.grpc._wire import (
    Code,
    GRPCError,
    MessageReader,
    encodeMessage,
    frame,
    grpcSubtype,
    inflate,
    parseTimeout,
    reservedName,
    statusFields,
    webSubtype,
)


def splits(data: bytes, cuts: list[int]) -> list[bytes]:
    """
    C{data} cut at the offsets C{cuts} (any, in any order).
    """
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in zip(points, points[1:], strict=False)]


class MessageReaderTests(SynchronousTestCase):
    """
    L{MessageReader} reads length-prefixed messages however the body is
    cut, and refuses what breaks the protocol or the limit as soon as it
    can tell.
    """

    @given(
        st.lists(st.binary(max_size=300), max_size=8),
        st.lists(st.integers(min_value=0), max_size=12),
    )
    def test_anySplit(self, messages: list[bytes], cuts: list[int]) -> None:
        """
        The messages come out whole and in order whatever pieces the body
        arrives in.
        """
        body = b"".join(frame(m) for m in messages)
        reader = MessageReader(1000)
        out = []
        for piece in splits(body, cuts):
            out.extend(reader.feed(piece))
        reader.end()
        self.assertEqual(out, messages)
        self.assertEqual(reader.received, len(messages))
        self.assertEqual(reader.pending, 0)

    @given(
        st.lists(st.binary(max_size=300), min_size=1, max_size=5),
        st.sampled_from(["gzip", "deflate"]),
        st.lists(st.integers(min_value=0), max_size=6),
    )
    def test_compressed(
        self, messages: list[bytes], encoding: str, cuts: list[int]
    ) -> None:
        """
        Compressed messages (flag 1) are inflated with the request's
        encoding; plain ones may be mixed with them.
        """
        body = b"".join(
            frame(m, encoding if i % 2 else None) for i, m in enumerate(messages)
        )
        reader = MessageReader(1000, encoding)
        out = []
        for piece in splits(body, cuts):
            out.extend(reader.feed(piece))
        self.assertEqual(out, messages)

    def assertRefused(
        self, reader: MessageReader, data: bytes, code: Code, text: str
    ) -> GRPCError:
        error = self.assertRaises(GRPCError, reader.feed, data)
        self.assertEqual(error.code, code)
        self.assertIn(text, error.message)
        self.assertTrue(error.malformed)
        return error

    def test_overTheLimitAtItsPrefix(self) -> None:
        """
        A length over the limit is refused with C{RESOURCE_EXHAUSTED} as soon
        as its prefix has arrived: none of the message is read or kept.
        """
        reader = MessageReader(100)
        self.assertEqual(reader.feed(frame(b"x" * 100)), [b"x" * 100])
        self.assertRefused(
            reader,
            b"\0" + (2**32 - 1).to_bytes(4, "big"),
            Code.RESOURCE_EXHAUSTED,
            "[grpc] max_message",
        )
        reader = MessageReader(100)
        reader.feed(b"\0\0")
        self.assertRefused(reader, b"\0\0\x65", Code.RESOURCE_EXHAUSTED, "101 vs. 100")

    def test_inflatedOverTheLimit(self) -> None:
        """
        A compressed message within the limit that inflates past it is
        refused with C{RESOURCE_EXHAUSTED}; no more than the limit and one
        byte is ever inflated.
        """
        bomb = gzip.compress(b"\0" * 10_000_000)
        self.assertLess(len(bomb), 20000)
        reader = MessageReader(1_000_000, "gzip")
        self.assertRefused(
            reader, frame(bomb, flags=1), Code.RESOURCE_EXHAUSTED, "decompression"
        )

    def test_compressedWithoutEncoding(self) -> None:
        """
        The compressed flag without C{grpc-encoding} (or with C{identity}) is
        C{INTERNAL}, as grpc-go says.
        """
        self.assertRefused(
            MessageReader(100), frame(b"x", flags=1), Code.INTERNAL, "compressed flag"
        )

    def test_unknownEncoding(self) -> None:
        """
        A message compressed with an encoding echohub does not have is
        C{UNIMPLEMENTED}, naming the ones it has (the spec's answer); plain
        messages of such a request are read.
        """
        reader = MessageReader(100, "snappy")
        self.assertEqual(reader.feed(frame(b"plain")), [b"plain"])
        self.assertRefused(
            reader, frame(b"x", flags=1), Code.UNIMPLEMENTED, "identity,deflate,gzip"
        )

    def test_unknownFlags(self) -> None:
        """
        Flag bits other than the compressed one are C{INTERNAL}.
        """
        self.assertRefused(
            MessageReader(100), frame(b"x", flags=0x80), Code.INTERNAL, "0x80"
        )

    def test_corrupt(self) -> None:
        """
        A compressed message that does not inflate, is truncated or has
        bytes after its end is C{INTERNAL}.
        """
        whole = gzip.compress(b"hello")
        for body in (b"not gzip", whole[:-4], whole + b"more"):
            self.assertRefused(
                MessageReader(100, "gzip"), frame(body, flags=1), Code.INTERNAL, "gzip"
            )

    def test_truncated(self) -> None:
        """
        A body that ends inside a prefix or a message is C{INTERNAL} at its
        end.
        """
        for body in (b"\0\0", frame(b"abc")[:-1]):
            reader = MessageReader(100)
            self.assertEqual(reader.feed(body), [])
            error = self.assertRaises(GRPCError, reader.end)
            self.assertEqual(error.code, Code.INTERNAL)

    def test_emptyMessage(self) -> None:
        """
        A message may be empty (a protocol buffer with every field at its
        default).
        """
        self.assertEqual(MessageReader(0).feed(frame(b"") * 2), [b"", b""])


class InflateTests(SynchronousTestCase):
    """
    L{inflate} reads both of gRPC's encodings, within a bound.
    """

    def test_encodings(self) -> None:
        """
        C{gzip} is the gzip format, C{deflate} the zlib one.
        """
        self.assertEqual(inflate(gzip.compress(b"abc"), "gzip", 3), b"abc")
        self.assertEqual(inflate(zlib.compress(b"abc"), "deflate", 3), b"abc")

    def test_exactLimit(self) -> None:
        """
        A message of exactly the limit is accepted.
        """
        self.assertEqual(inflate(gzip.compress(b"a" * 50), "gzip", 50), b"a" * 50)
        error = self.assertRaises(
            GRPCError, inflate, gzip.compress(b"a" * 51), "gzip", 50
        )
        self.assertEqual(error.code, Code.RESOURCE_EXHAUSTED)


class StatusTests(SynchronousTestCase):
    """
    The status fields, percent-encoded as the spec says.
    """

    def test_percentEncoding(self) -> None:
        """
        Printable ASCII but C{%} stays; C{%}, control characters and non-ASCII
        (as UTF-8) are percent-encoded.
        """
        self.assertEqual(encodeMessage("a b~"), b"a b~")
        self.assertEqual(encodeMessage("100%\n"), b"100%25%0A")
        self.assertEqual(encodeMessage("caf\u00e9"), b"caf%C3%A9")

    def test_fields(self) -> None:
        """
        C{grpc-status}, and C{grpc-message} only when there is one.
        """
        self.assertEqual(statusFields(0), [(b"grpc-status", b"0")])
        self.assertEqual(
            statusFields(Code.NOT_FOUND, "no"),
            [(b"grpc-status", b"5"), (b"grpc-message", b"no")],
        )


class TimeoutTests(SynchronousTestCase):
    """
    C{grpc-timeout}: up to 8 digits and a unit.
    """

    def test_units(self) -> None:
        """
        Each unit scales its value.
        """
        for value, seconds in [
            (b"1H", 3600),
            (b"2M", 120),
            (b"3S", 3),
            (b"250m", 0.25),
            (b"99999999u", 99.999999),
            (b"5n", 5e-9),
        ]:
            self.assertAlmostEqual(parseTimeout(value), seconds)

    def test_malformed(self) -> None:
        """
        Anything else is C{INTERNAL} with HTTP 400, as grpc-go answers it.
        """
        for value in (b"", b"S", b"1", b"123456789S", b"1s", b"-1S", b"1.5S", b"1 S"):
            error = self.assertRaises(GRPCError, parseTimeout, value)
            self.assertEqual((error.code, error.httpStatus), (Code.INTERNAL, 400))


class NamesTests(SynchronousTestCase):
    """
    Content types and reserved header names.
    """

    def test_grpc(self) -> None:
        """
        C{application/grpc} and its subtypes, with parameters; not gRPC-Web
        nor anything else.
        """
        self.assertEqual(grpcSubtype(b"application/grpc"), b"")
        self.assertEqual(grpcSubtype(b"application/grpc+proto"), b"proto")
        self.assertEqual(grpcSubtype(b"application/grpc; charset=utf-8"), b"")
        self.assertEqual(grpcSubtype(b"application/grpc+json"), b"json")
        for other in (b"application/grpc-web", b"application/grpcx", b"text/plain"):
            self.assertIsNone(grpcSubtype(other))

    def test_web(self) -> None:
        """
        gRPC-Web's binary and text forms.
        """
        self.assertEqual(webSubtype(b"application/grpc-web"), (False, b""))
        self.assertEqual(webSubtype(b"application/grpc-web+proto"), (False, b"proto"))
        self.assertEqual(webSubtype(b"application/grpc-web-text"), (True, b""))
        self.assertEqual(
            webSubtype(b"application/grpc-web-text+proto"), (True, b"proto")
        )
        self.assertIsNone(webSubtype(b"application/grpc"))

    def test_reserved(self) -> None:
        """
        Pseudo-headers, C{grpc-*} and gRPC's own HTTP fields are reserved;
        anything else is metadata.
        """
        for name in (b":path", b"grpc-timeout", b"te", b"content-type", b"user-agent"):
            self.assertTrue(reservedName(name), name)
        for name in (b"x-trace", b"authorization", b"echo-count", b"a-bin"):
            self.assertFalse(reservedName(name), name)
