"""
Tests for L{echohub.grpc._native}: native gRPC on the HTTP wire's HTTP/2
streams, over a real HTTP/2 client in memory: which requests are gRPC, the
answers to bad input on the wire, and the connection's limits and
backpressure holding for calls.
"""

from __future__ import annotations

from h2.errors import ErrorCodes
from h2.settings import SettingCodes
from twisted.trial.unittest import SynchronousTestCase

from echohub.config import GRPCConfig, WebConfig
from echohub.grpc import Code
from echohub.http._h2stream import STREAM_BUFFER
from echohub.testing import H2Client
from tests.grpc.support import BIDI, SERVER_STREAMING, UNARY, echo, texts


class RoutingTests(SynchronousTestCase):
    """
    A request whose content type is C{application/grpc[+proto]} is gRPC;
    every other stays HTTP.
    """

    def test_grpcAndHTTPSideBySide(self) -> None:
        """
        On one connection, gRPC calls and HTTP requests.
        """
        client = H2Client()
        call = client.grpc(UNARY, [echo("rpc")])
        body = client.get(b"/echo", method=b"POST", body=b"http").body
        self.assertEqual(texts(client.responses[call].grpc().messages), ["rpc"])
        self.assertEqual(body, b"http")

    def test_byContentTypeNotPath(self) -> None:
        """
        A gRPC request at an HTTP path is a gRPC call of an unknown method;
        an HTTP request at a gRPC path is an HTTP request.
        """
        client = H2Client()
        answer = client.responses[client.grpc("echo", [echo("x")])].grpc()
        self.assertEqual(answer.status, Code.UNIMPLEMENTED)
        response = client.get(
            b"/grpc.examples.echo.Echo/UnaryEcho",
            method=b"POST",
            headers=((b"content-type", b"text/plain"),),
            body=b"x",
        )
        self.assertEqual(response.status, 415)

    def test_disabled(self) -> None:
        """
        With C{[grpc] enabled = false} there is no gRPC: a call is an HTTP
        request to a path the site does not have.
        """
        client = H2Client(grpc=GRPCConfig(enabled=False))
        response = client.responses[client.grpc(UNARY, [echo("x")])]
        self.assertEqual(response.status, 404)


class BadInputTests(SynchronousTestCase):
    """
    Bad input gets its status or a reset, and harms no other call on the
    connection.
    """

    def test_noTE(self) -> None:
        """
        Without C{te: trailers}: HTTP 400, C{INTERNAL}, Trailers-Only.
        """
        client = H2Client()
        streamID = client.request(
            b"/" + UNARY.encode(),
            method=b"POST",
            headers=((b"content-type", b"application/grpc"),),
            body=b"\0\0\0\0\0",
        )
        response = client.responses[streamID]
        answer = response.grpc()
        self.assertEqual((response.status, answer.status), (400, Code.INTERNAL))
        self.assertIsNone(response.trailers)

    def test_resetMidMessage(self) -> None:
        """
        A client's C{RST_STREAM} in the middle of a message cancels that
        call; another call on the connection goes on.
        """
        client = H2Client()
        other = client.grpc(BIDI, [echo("before")], end=False)
        streamID = client.grpc(UNARY, [], end=False)
        client.h2.send_data(streamID, b"\0\0\0\0\x10partial")
        client.h2.reset_stream(streamID, ErrorCodes.CANCEL)
        client.send()
        client.h2.send_data(other, b"\0\0\0\0\x07" + echo("after"), end_stream=True)
        client.send()
        answer = client.responses[other].grpc()
        self.assertEqual(
            (answer.status, texts(answer.messages)), (0, ["before", "after"])
        )
        self.assertEqual(client.server.chosen.streams, {})

    def test_overLimitNotRead(self) -> None:
        """
        A message over C{[grpc] max_message} ends its call at its prefix;
        the rest of it is read and discarded by the wire, never kept, and
        the stream is reset once the status is out; the connection serves
        on.
        """
        client = H2Client(grpc=GRPCConfig(max_message=1000))
        streamID = client.grpc(BIDI, [], end=False)
        client.h2.send_data(streamID, b"\0" + (10**6).to_bytes(4, "big") + b"x" * 1000)
        client.send()
        response = client.responses[streamID]
        self.assertEqual(response.grpc().status, Code.RESOURCE_EXHAUSTED)
        self.assertNotIn(streamID, client.server.chosen.streams)
        answer = client.responses[client.grpc(UNARY, [echo("next")])].grpc()
        self.assertEqual(texts(answer.messages), ["next"])

    def test_headLimits(self) -> None:
        """
        The HTTP policy's header limits hold for calls: too much metadata
        is C{431}, before any call starts.
        """
        client = H2Client(WebConfig(max_headers=5))
        streamID = client.grpc(
            UNARY, [echo("x")], tuple((b"x-m%d" % i, b"v") for i in range(10))
        )
        self.assertEqual(client.responses[streamID].status, 431)

    def test_noBodyLimit(self) -> None:
        """
        C{[web] max_body} is HTTP's: a call carries more, bounded by
        C{[grpc] max_message} per message.
        """
        client = H2Client(WebConfig(max_body=100))
        answer = client.responses[client.grpc(UNARY, [echo("y" * 5000)])].grpc()
        self.assertEqual(texts(answer.messages), ["y" * 5000])


class FlowTests(SynchronousTestCase):
    """
    The connection's flow control bounds what a call costs.
    """

    def test_streamingToAClientThatDoesNotRead(self) -> None:
        """
        C{echo-count} of large messages to a client whose window is shut:
        the server holds about one stream buffer and one message, not the
        whole answer, and sends the rest as the client reads.
        """
        client = H2Client()
        client.reading = False
        client.h2.update_settings({SettingCodes.INITIAL_WINDOW_SIZE: 0})
        client.send()
        streamID = client.grpc(
            SERVER_STREAMING, [echo("z" * 20000)], ((b"echo-count", b"50"),)
        )
        stream = client.server.chosen.streams[streamID]
        self.assertLess(stream.queued, STREAM_BUFFER + 2 * 20010)
        client.reading = True
        client.h2.update_settings({SettingCodes.INITIAL_WINDOW_SIZE: 2**30})
        client.send()
        for _ in range(1000):
            if client.responses[streamID].ended:
                break
            client.h2.increment_flow_control_window(2**24)
            client.send()
        answer = client.responses[streamID].grpc()
        self.assertEqual((answer.status, len(answer.messages)), (0, 50))

    def test_drain(self) -> None:
        """
        A draining server sends C{GOAWAY} and lets the calls in flight
        finish, then closes.
        """
        client = H2Client()
        streamID = client.grpc(BIDI, [echo("a")], end=False)
        client.server.chosen.drain()
        client.read()
        self.assertIsNotNone(client.goaway)
        self.assertFalse(client.transport.disconnecting)
        client.h2.send_data(streamID, b"\0\0\0\0\x03" + echo("b"), end_stream=True)
        client.send()
        answer = client.responses[streamID].grpc()
        self.assertEqual((answer.status, texts(answer.messages)), (0, ["a", "b"]))
        self.assertTrue(client.transport.disconnecting)
