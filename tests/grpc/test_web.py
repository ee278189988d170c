"""
Tests for L{echohub.grpc._web}: gRPC-Web over HTTP/1.1 and HTTP/2, binary
and base64 text, with the site's CORS.
"""

from __future__ import annotations

from base64 import b64decode, b64encode

from twisted.internet.testing import EventLoggingObserver
from twisted.logger import globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase

from echohub.config import WebConfig
from echohub.grpc import Code
from echohub.grpc._web import decodeText
from echohub.testing import H2Client
from tests.grpc.support import (
    SERVER_STREAMING,
    UNARY,
    framed,
    http1,
    texts,
    webFrames,
)


class WebTests(SynchronousTestCase):
    """
    A gRPC-Web call: the messages and then a trailer frame in the body.
    """

    def test_unary(self) -> None:
        """
        Over HTTP/1.1: C{200}, the request's content type, the message,
        then the trailers as the body's last frame.
        """
        status, headers, body = http1(UNARY, framed("web"))
        self.assertEqual(status, 200)
        self.assertEqual(headers[b"content-type"], b"application/grpc-web+proto")
        messages, trailers = webFrames(body)
        self.assertEqual(texts(messages), ["web"])
        self.assertEqual(trailers[b"grpc-status"], b"0")

    def test_serverStreaming(self) -> None:
        """
        A streamed answer: each message, then the trailers.
        """
        _, _, body = http1(
            SERVER_STREAMING, framed("s"), extra=(b"echo-count: 3", b"x-id: 7")
        )
        messages, trailers = webFrames(body)
        self.assertEqual(texts(messages), ["s"] * 3)
        self.assertEqual(trailers[b"grpc-status"], b"0")

    def test_text(self) -> None:
        """
        C{application/grpc-web-text}: the body in base64 both ways, the
        answer in padded chunks a client decodes one by one.
        """
        status, headers, body = http1(
            UNARY,
            b64encode(framed("text")),
            contentType=b"application/grpc-web-text",
        )
        self.assertEqual(headers[b"content-type"], b"application/grpc-web-text")
        messages, trailers = webFrames(decodeText(body))
        self.assertEqual(texts(messages), ["text"])
        self.assertEqual(trailers[b"grpc-status"], b"0")

    def test_textChunks(self) -> None:
        """
        A text body may be several padded base64 chunks.
        """
        one, two = framed("a"), framed("bc")
        self.assertEqual(decodeText(b64encode(one) + b"\n" + b64encode(two)), one + two)
        self.assertEqual(b64decode(b64encode(one)), one)

    def test_textNotBase64(self) -> None:
        """
        A text body that is not base64 is C{INTERNAL}, Trailers-Only.
        """
        status, headers, body = http1(
            UNARY, b"!!!", contentType=b"application/grpc-web-text"
        )
        self.assertEqual((status, body), (200, b""))
        self.assertEqual(headers[b"grpc-status"], b"%d" % Code.INTERNAL)

    def test_trailersOnly(self) -> None:
        """
        A call that ends before any message has its status in the headers
        and an empty body.
        """
        status, headers, body = http1("grpc.examples.echo.Echo/Nope", framed("x"))
        self.assertEqual((status, body), (200, b""))
        self.assertEqual(headers[b"grpc-status"], b"%d" % Code.UNIMPLEMENTED)

    def test_metadata(self) -> None:
        """
        Custom headers come back; the browser's and HTTP's own do not.
        """
        _, headers, _ = http1(
            UNARY,
            framed("m"),
            extra=(
                b"X-Custom: yes",
                b"Accept: application/grpc-web",
                b"X-Grpc-Web: 1",
                b"Set-Cookie: forged=1",
            ),
        )
        self.assertEqual(headers[b"x-custom"], b"yes")
        for name in (b"accept", b"x-grpc-web", b"set-cookie"):
            self.assertNotIn(name, headers)

    def test_oneAccessLine(self) -> None:
        """
        The call's line, with its gRPC status, is the request's only one.
        """
        observer = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)
        http1(UNARY, framed("x"), extra=(b"echo-status: 7",))
        lines = [
            str(e["log_text"])
            for e in observer
            if " access: " in str(e.get("log_text", ""))
        ]
        self.assertEqual(len(lines), 1)
        self.assertIn("PERMISSION_DENIED", lines[0])
        self.assertIn("gRPC-Web", lines[0])

    def test_http2(self) -> None:
        """
        gRPC-Web over HTTP/2 is the same resource, through twisted.web.
        """
        client = H2Client()
        response = client.get(
            b"/" + UNARY.encode(),
            method=b"POST",
            headers=((b"content-type", b"application/grpc-web+proto"),),
            body=framed("h2"),
        )
        messages, trailers = webFrames(response.body)
        self.assertEqual(texts(messages), ["h2"])
        self.assertEqual(trailers[b"grpc-status"], b"0")


class RefusalTests(SynchronousTestCase):
    """
    What is not gRPC-Web at a gRPC path.
    """

    def test_nativeOverHTTP1(self) -> None:
        """
        Native gRPC over HTTP/1.1: C{415}, saying it needs HTTP/2.
        """
        status, _, body = http1(UNARY, framed("x"), contentType=b"application/grpc")
        self.assertEqual(status, 415)
        self.assertIn(b"needs HTTP/2", body)

    def test_otherType(self) -> None:
        """
        Any other content type: C{415}.
        """
        status, _, _ = http1(UNARY, b"x", contentType=b"text/plain")
        self.assertEqual(status, 415)

    def test_get(self) -> None:
        """
        A C{GET}: C{405}, C{Allow: POST}.
        """
        status, headers, _ = http1(UNARY, b"", method=b"GET")
        self.assertEqual((status, headers[b"allow"]), (405, b"POST"))


class CORSTests(SynchronousTestCase):
    """
    The site's CORS policy for gRPC-Web.
    """

    config = WebConfig(cors_origins=("https://app.example",), cors_credentials=True)

    def test_exposed(self) -> None:
        """
        A listed origin reads the answer, with the status and metadata
        headers exposed by name (a wildcard does not hold with credentials).
        """
        _, headers, _ = http1(
            UNARY,
            framed("x"),
            extra=(b"Origin: https://app.example", b"X-Trace: 1"),
            config=self.config,
        )
        self.assertEqual(
            headers[b"access-control-allow-origin"], b"https://app.example"
        )
        exposed = headers[b"access-control-expose-headers"].split(b", ")
        self.assertIn(b"grpc-status", exposed)
        self.assertIn(b"x-trace", exposed)

    def test_preflight(self) -> None:
        """
        A preflight is answered by the site, allowing what it asks.
        """
        status, headers, _ = http1(
            UNARY,
            b"",
            method=b"OPTIONS",
            extra=(
                b"Origin: https://app.example",
                b"Access-Control-Request-Method: POST",
                b"Access-Control-Request-Headers: x-grpc-web, content-type",
            ),
            config=self.config,
        )
        self.assertEqual(status, 204)
        self.assertEqual(
            headers[b"access-control-allow-headers"], b"x-grpc-web, content-type"
        )

    def test_otherOrigin(self) -> None:
        """
        An origin not listed gets no CORS headers.
        """
        _, headers, _ = http1(
            UNARY,
            framed("x"),
            extra=(b"Origin: https://evil.example",),
            config=self.config,
        )
        self.assertNotIn(b"access-control-allow-origin", headers)
