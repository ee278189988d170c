"""
Tests for L{echohub.grpc._echo}: the echo service's four methods and its
controls, over a real HTTP/2 client in memory (L{echohub.testing.H2Client}).
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from echohub.config import GRPCConfig, WebConfig
from echohub.grpc import Code
from echohub.http import HIDDEN
from echohub.testing import H2Client
from tests.grpc.support import (
    BIDI,
    CLIENT_STREAMING,
    SERVER_STREAMING,
    UNARY,
    echo,
    texts,
)


class MethodTests(SynchronousTestCase):
    """
    Each method's shape, as grpc-go's example echo has it.
    """

    def setUp(self) -> None:
        self.client = H2Client()

    def test_unary(self) -> None:
        """
        C{UnaryEcho}: the message back.
        """
        answer = self.client.responses[self.client.grpc(UNARY, [echo("hello")])].grpc()
        self.assertEqual((answer.status, texts(answer.messages)), (0, ["hello"]))

    def test_unaryLarge(self) -> None:
        """
        A 3 MiB message comes back whole.
        """
        text = "x" * (3 * 1024 * 1024)
        answer = self.client.responses[self.client.grpc(UNARY, [echo(text)])].grpc()
        self.assertEqual(texts(answer.messages), [text])

    def test_serverStreaming(self) -> None:
        """
        C{ServerStreamingEcho}: the message C{echo-count} times; once by
        default.
        """
        answer = self.client.responses[
            self.client.grpc(SERVER_STREAMING, [echo("s")], ((b"echo-count", b"4"),))
        ].grpc()
        self.assertEqual((answer.status, texts(answer.messages)), (0, ["s"] * 4))
        answer = self.client.responses[
            self.client.grpc(SERVER_STREAMING, [echo("once")])
        ].grpc()
        self.assertEqual(texts(answer.messages), ["once"])

    def test_interval(self) -> None:
        """
        C{echo-interval-ms} apart.
        """
        client = self.client
        streamID = client.grpc(
            SERVER_STREAMING,
            [echo("t")],
            ((b"echo-count", b"3"), (b"echo-interval-ms", b"250")),
        )
        response = client.responses[streamID]
        self.assertEqual(len(response.grpc().messages), 1)
        client.clock.advance(0.25)
        client.read()
        self.assertEqual(len(response.grpc().messages), 2)
        client.clock.advance(0.25)
        client.read()
        answer = response.grpc()
        self.assertEqual((answer.status, len(answer.messages)), (0, 3))

    def test_clientStreaming(self) -> None:
        """
        C{ClientStreamingEcho}: one answer, every message concatenated in
        order, no separator.
        """
        answer = self.client.responses[
            self.client.grpc(CLIENT_STREAMING, [echo("ab"), echo(""), echo("cd")])
        ].grpc()
        self.assertEqual((answer.status, texts(answer.messages)), (0, ["abcd"]))

    def test_clientStreamingOverLimit(self) -> None:
        """
        A concatenation longer than C{[grpc] max_message} is
        C{RESOURCE_EXHAUSTED}, as soon as it passes it.
        """
        client = H2Client(grpc=GRPCConfig(max_message=100))
        answer = client.responses[
            client.grpc(CLIENT_STREAMING, [echo("x" * 60), echo("y" * 60)], end=False)
        ].grpc()
        self.assertEqual(answer.status, Code.RESOURCE_EXHAUSTED)

    def test_bidirectional(self) -> None:
        """
        C{BidirectionalStreamingEcho}: each message as it arrives, before
        the request ends.
        """
        client = self.client
        streamID = client.grpc(BIDI, [echo("one")], end=False)
        response = client.responses[streamID]
        self.assertEqual(texts(response.grpc().messages), ["one"])
        self.assertFalse(response.ended)
        client.h2.send_data(streamID, b"\0\0\0\0\x05" + echo("two"), end_stream=True)
        client.send()
        answer = response.grpc()
        self.assertEqual((answer.status, texts(answer.messages)), (0, ["one", "two"]))


class ControlTests(SynchronousTestCase):
    """
    The controls of the request metadata, over the wire.
    """

    def call(
        self,
        method: str,
        *metadata: tuple[bytes, bytes],
        client: H2Client | None = None,
    ) -> object:
        client = client or H2Client()
        return client.responses[client.grpc(method, [echo("m")], metadata)].grpc()

    def test_status(self) -> None:
        """
        C{echo-status} and C{echo-message}: a unary call ends with them and
        no message; a streamed one after its messages.
        """
        answer = self.call(UNARY, (b"echo-status", b"14"), (b"echo-message", b"100%"))
        self.assertEqual(answer.status, Code.UNAVAILABLE)  # type: ignore[attr-defined]
        self.assertEqual(answer.message, "100%")  # type: ignore[attr-defined]
        self.assertEqual(answer.messages, [])  # type: ignore[attr-defined]
        answer = self.call(
            SERVER_STREAMING, (b"echo-count", b"2"), (b"echo-status", b"3")
        )
        self.assertEqual(answer.status, Code.INVALID_ARGUMENT)  # type: ignore[attr-defined]
        self.assertEqual(len(answer.messages), 2)  # type: ignore[attr-defined]

    def test_metadata(self) -> None:
        """
        Metadata comes back as response headers (credentials hidden),
        C{echo-trailer-*} as trailers; reserved names are not echoed.
        """
        answer = self.call(
            UNARY,
            (b"x-trace", b"abc"),
            (b"authorization", b"Bearer secret"),
            (b"x-data-bin", b"AAEC"),
            (b"echo-trailer-x-done", b"yes"),
            (b"user-agent", b"test"),
        )
        headers = answer.headers  # type: ignore[attr-defined]
        self.assertEqual(headers[b"x-trace"], b"abc")
        self.assertEqual(headers[b"authorization"], HIDDEN.encode())
        self.assertEqual(headers[b"x-data-bin"], b"AAEC")
        self.assertNotIn(b"user-agent", headers)
        self.assertNotIn(b"echo-trailer-x-done", headers)
        self.assertEqual(answer.trailers[b"x-done"], b"yes")  # type: ignore[attr-defined]
        shown = self.call(
            UNARY,
            (b"authorization", b"Bearer secret"),
            client=H2Client(WebConfig(show_sensitive_headers=True)),
        )
        self.assertEqual(
            shown.headers[b"authorization"],  # type: ignore[attr-defined]
            b"Bearer secret",
        )

    def test_reservedTrailer(self) -> None:
        """
        C{echo-trailer-grpc-status} would forge the status:
        C{INVALID_ARGUMENT}.
        """
        answer = self.call(UNARY, (b"echo-trailer-grpc-status", b"0"))
        self.assertEqual(answer.status, Code.INVALID_ARGUMENT)  # type: ignore[attr-defined]

    def test_bounds(self) -> None:
        """
        Each bounded control over its setting, or not a number, is
        C{INVALID_ARGUMENT} naming the setting.
        """
        for name, value, setting in [
            (b"echo-count", b"1001", "max_stream_count"),
            (b"echo-interval-ms", b"10001", "max_stream_interval"),
            (b"echo-delay-ms", b"10001", "max_delay"),
            (b"echo-status", b"17", "0-16"),
            (b"echo-count", b"two", "integer"),
        ]:
            answer = self.call(SERVER_STREAMING, (name, value))
            self.assertEqual(answer.status, Code.INVALID_ARGUMENT)  # type: ignore[attr-defined]
            self.assertIn(setting, answer.message)  # type: ignore[attr-defined]

    def test_delay(self) -> None:
        """
        C{echo-delay-ms} delays the answer.
        """
        client = H2Client()
        streamID = client.grpc(UNARY, [echo("later")], ((b"echo-delay-ms", b"500"),))
        self.assertNotIn(streamID, client.responses)
        client.clock.advance(0.5)
        client.read()
        self.assertEqual(texts(client.responses[streamID].grpc().messages), ["later"])
