# -*- test-case-name: tests.web.httpbin.test_formats -*-
"""
Tests for L{echohub.web.httpbin._formats}: documents, Base64, compression and
caching routes.
"""

from __future__ import annotations

import gzip
import json
import zlib
from typing import Any
from xml.etree import ElementTree

from twisted.trial.unittest import SynchronousTestCase

from echohub.testing import H2Client, jsonOf, request
from echohub.web.httpbin import _formats


class DocumentTests(SynchronousTestCase):
    """
    The fixed documents.
    """

    def test_documents(self) -> None:
        """
        Each has its type; the HTML ones a policy that runs no script; the
        XML parses and has the slide show of C{/json}.
        """
        for target, kind in [
            (b"/html", b"text/html; charset=utf-8"),
            (b"/encoding/utf8", b"text/html; charset=utf-8"),
            (b"/forms/post", b"text/html; charset=utf-8"),
            (b"/xml", b"application/xml"),
            (b"/robots.txt", b"text/plain; charset=utf-8"),
            (b"/deny", b"text/plain; charset=utf-8"),
        ]:
            response = request(target)
            self.assertEqual(
                (response.status, response.header(b"Content-Type")), (200, kind)
            )
            if kind.startswith(b"text/html"):
                self.assertIn(
                    b"default-src 'none'",
                    response.header(b"Content-Security-Policy") or b"",
                )
        slides = ElementTree.fromstring(request(b"/xml").body)
        show = jsonOf(request(b"/json"))["slideshow"]
        self.assertEqual(slides.get("title"), show["title"])
        self.assertEqual(
            request(b"/robots.txt").body, b"User-agent: *\nDisallow: /deny\n"
        )
        self.assertIn(b'action="/post"', request(b"/forms/post").body)


class Base64Tests(SynchronousTestCase):
    """
    C{/base64}.
    """

    def test_decodeEncode(self) -> None:
        """
        URL-safe Base64 is decoded (padding optional) and encoded, as plain
        text; markup stays plain text.
        """
        self.assertEqual(request(b"/base64/aGVsbG8").body, b"hello")
        self.assertEqual(request(b"/base64/decode/aGVsbG8=").body, b"hello")
        self.assertEqual(request(b"/base64/encode/hello").body, b"aGVsbG8=")
        markup = request(b"/base64/PHNjcmlwdD4")
        self.assertEqual(markup.body, b"<script>")
        self.assertEqual(markup.header(b"Content-Type"), b"text/plain; charset=utf-8")


class CompressionTests(SynchronousTestCase):
    """
    C{/gzip}, C{/deflate}, C{/brotli}.
    """

    def test_gzipDeflate(self) -> None:
        """
        The JSON, compressed, with its C{Content-Encoding} and flag.
        """
        for target, coding, decode, flag in [
            (b"/gzip", b"gzip", gzip.decompress, "gzipped"),
            (b"/deflate", b"deflate", zlib.decompress, "deflated"),
        ]:
            response = request(target)
            self.assertEqual(response.header(b"Content-Encoding"), coding)
            facts = json.loads(decode(response.body))
            self.assertEqual((facts[flag], facts["method"]), (True, "GET"))

    def test_brotliAbsent(self) -> None:
        """
        Without the C{brotli} package, C{/brotli} is C{501} saying why.
        """
        if _formats.brotliCompress is not None:
            raise self.skipTest("the brotli extra is installed")
        response = request(b"/brotli")
        self.assertEqual(response.status, 501)
        self.assertIn(b"brotli", response.body)


class CacheTests(SynchronousTestCase):
    """
    C{/cache}, C{/cache/N}, C{/etag/E}.
    """

    def test_cache(self) -> None:
        """
        A plain request gets C{Last-Modified} and an C{ETag}; a conditional
        one C{304}; C{/cache/N} is cacheable for N seconds.
        """
        first = request(b"/cache")
        self.assertEqual(first.status, 200)
        self.assertIsNotNone(first.header(b"Last-Modified"))
        etag = first.header(b"ETag") or b""
        self.assertEqual(
            request(b"/cache", headers=(b"If-None-Match: " + etag,)).status, 304
        )
        self.assertEqual(
            request(b"/cache/60").header(b"Cache-Control"), b"public, max-age=60"
        )

    def test_etag(self) -> None:
        """
        C{If-None-Match} listing the tag (quoted, weak or C{*}) is C{304};
        C{If-Match} not listing it C{412}.
        """
        for header in [
            b'If-None-Match: "x"',
            b'If-None-Match: W/"y", x',
            b"If-None-Match: *",
        ]:
            response = request(b"/etag/x", headers=(header,))
            self.assertEqual(
                (response.status, response.header(b"ETag")), (304, b"x"), header
            )
        self.assertEqual(request(b"/etag/x", headers=(b'If-Match: "y"',)).status, 412)
        self.assertEqual(request(b"/etag/x", headers=(b'If-Match: "x"',)).status, 200)
        self.assertEqual(request(b"/etag/x").header(b"ETag"), b"x")


CONTENT_HEADERS = {b"content-length", b"content-type", b"content-encoding"}


def http2Response(path: bytes, headers: tuple[tuple[bytes, bytes], ...] = ()) -> Any:
    return H2Client().get(path, headers=headers)


class NotModifiedTests(SynchronousTestCase):
    """
    Every C{304} carries the validators and caching fields its C{200}
    would, and no content headers (RFC 9110 section 15.4.5), over HTTP/1.1
    and HTTP/2 alike; a C{204} has no C{Content-Length} (section 8.6).
    """

    CASES = [
        (b"/cache", b"If-None-Match: abc", b"/cache"),
        (b"/cache", b"If-Modified-Since: Mon, 01 Jan 2024 00:00:00 GMT", b"/cache"),
        (b"/etag/x", b'If-None-Match: "x"', b"/etag/x"),
        (b"/status/304", b"X-Nothing: 1", b"/status/200"),
    ]

    def test_http11(self) -> None:
        """
        Over HTTP/1.1: no content headers; C{Cache-Control}, C{ETag} and
        C{Last-Modified} as the C{200} has them.
        """
        for path, condition, plain in self.CASES:
            with self.subTest(path=path, condition=condition):
                ok = request(plain)
                notModified = request(path, headers=(condition,))
                self.assertEqual(notModified.status, 304)
                self.assertEqual(set(notModified.headers) & CONTENT_HEADERS, set())
                for name in (b"cache-control", b"etag", b"last-modified"):
                    self.assertEqual(
                        name in notModified.headers, name in ok.headers, name
                    )
                self.assertEqual(
                    notModified.header(b"Cache-Control"), ok.header(b"Cache-Control")
                )
        conditional = request(b"/cache", headers=(b"If-None-Match: abc",))
        self.assertEqual(conditional.header(b"ETag"), b"abc")

    def test_http2(self) -> None:
        """
        Over HTTP/2: the same fields, no content headers.
        """
        for path, condition, plain in self.CASES:
            name, _, value = condition.partition(b": ")
            with self.subTest(path=path, condition=condition):
                response = http2Response(path, ((name.lower(), value),))
                self.assertEqual(response.status, 304)
                fields = {n for n, _ in response.headers}
                self.assertEqual(fields & CONTENT_HEADERS, set())
                ok = dict(http2Response(plain).headers)
                self.assertEqual(
                    dict(response.headers).get(b"cache-control"),
                    ok.get(b"cache-control"),
                )

    def test_noContent(self) -> None:
        """
        A C{204} has no C{Content-Length}, over either version.
        """
        self.assertNotIn(b"content-length", request(b"/status/204").headers)
        fields = {n for n, _ in http2Response(b"/status/204").headers}
        self.assertNotIn(b"content-length", fields)
