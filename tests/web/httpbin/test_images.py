# -*- test-case-name: tests.web.httpbin.test_images -*-
"""
Tests for L{echohub.web.httpbin._images}: the images and C{/image}'s choice by
C{Accept}.
"""

from __future__ import annotations

from xml.etree import ElementTree

from twisted.trial.unittest import SynchronousTestCase

from echohub.testing import request
from echohub.web.httpbin._images import choose

MAGIC = {
    b"image/png": b"\x89PNG\r\n\x1a\n",
    b"image/jpeg": b"\xff\xd8\xff",
    b"image/webp": b"RIFF",
}


class ImageTests(SynchronousTestCase):
    """
    Each format is a real, small image of its type.
    """

    def test_formats(self) -> None:
        """
        PNG, JPEG and WebP start with their signatures, are small, and
        the SVG parses and carries a policy that runs no script.
        """
        for kind, mediaType in [
            (b"png", b"image/png"),
            (b"jpeg", b"image/jpeg"),
            (b"webp", b"image/webp"),
        ]:
            response = request(b"/image/" + kind)
            self.assertEqual(response.header(b"Content-Type"), mediaType)
            self.assertTrue(response.body.startswith(MAGIC[mediaType]))
            self.assertLess(len(response.body), 8192)
        svg = request(b"/image/svg")
        self.assertEqual(svg.header(b"Content-Type"), b"image/svg+xml")
        self.assertIn(
            b"default-src 'none'", svg.header(b"Content-Security-Policy") or b""
        )
        self.assertTrue(ElementTree.fromstring(svg.body).tag.endswith("svg"))
        self.assertEqual(request(b"/image/gif").status, 404)

    def test_accept(self) -> None:
        """
        C{/image} serves what C{Accept} names first in httpbin's order,
        PNG without one, and C{406} listing the types for none of them.
        """
        self.assertEqual(choose(None), "png")
        self.assertEqual(choose(b"image/webp,image/*"), "webp")
        self.assertEqual(choose(b"image/*"), "png")
        response = request(b"/image", headers=(b"Accept: image/jpeg",))
        self.assertEqual(response.header(b"Content-Type"), b"image/jpeg")
        refused = request(b"/image", headers=(b"Accept: text/plain",))
        self.assertEqual(refused.status, 406)
        self.assertIn(b"image/webp", refused.body)
