# -*- test-case-name: tests.web.httpbin.test_forms -*-
"""
Tests for L{echohub.web.httpbin._forms}: request bodies parsed as httpbin reports
them, within the part limit.
"""

from __future__ import annotations

import zlib

from twisted.trial.unittest import SynchronousTestCase

from echohub.web.httpbin._forms import BodyError, parseBody


class ParseBodyTests(SynchronousTestCase):
    """
    L{parseBody}.
    """

    def test_multipart(self) -> None:
        """
        Fields and files in order, a preamble and epilogue ignored, a
        quoted boundary accepted, a file's own type kept for its data URL.
        """
        body = (
            b"preamble\r\n--a b\r\n"
            b'Content-Disposition: form-data; name="x"\r\n\r\n1\r\n'
            b"--a b\r\n"
            b'Content-Disposition: form-data; name="f"; filename="p.png"\r\n'
            b"Content-Type: image/png\r\n\r\n\x89P\r\n"
            b"--a b--\r\nepilogue"
        )
        parsed = parseBody(body, b'multipart/form-data; boundary="a b"', 10)
        self.assertEqual(parsed.form, [("x", "1")])
        self.assertEqual(parsed.files, [("f", "data:image/png;base64,iVA=")])
        self.assertEqual(parsed.data, b"")

    def test_limits(self) -> None:
        """
        Parts are counted before parsing: one too many is a L{BodyError}.
        """
        part = b'--b\r\nContent-Disposition: form-data; name="x"\r\n\r\n1\r\n'
        with self.assertRaises(BodyError) as caught:
            parseBody(part * 3 + b"--b--\r\n", b"multipart/form-data; boundary=b", 2)
        self.assertIn("[web] max_form_parts", str(caught.exception))

    def test_malformedMultipart(self) -> None:
        """
        A multipart body that cannot be parsed (no boundary, truncated, a
        part without a name, deflate-compressed) is an empty form with no
        files and no C{data}, as httpbin reports it.
        """
        part = b'--b\r\nContent-Disposition: form-data; name="x"\r\n\r\n1\r\n'
        cases = [
            (b"x", b"multipart/form-data"),
            (part, b"multipart/form-data; boundary=b"),
            (
                part.replace(b'; name="x"', b"") + b"--b--\r\n",
                b"multipart/form-data; boundary=b",
            ),
            (zlib.compress(part + b"--b--\r\n"), b"multipart/form-data; boundary=b"),
        ]
        for body, contentType in cases:
            parsed = parseBody(body, contentType, 10)
            self.assertEqual(
                (parsed.form, parsed.files, parsed.data, parsed.mediaType),
                ([], [], b"", "multipart/form-data"),
                body,
            )

    def test_urlencoded(self) -> None:
        """
        A form body's fields, blank ones kept; its C{data} is empty, as in
        httpbin.
        """
        parsed = parseBody(b"a=1&b=&a=%C3%A9", b"application/x-www-form-urlencoded", 5)
        self.assertEqual(parsed.form, [("a", "1"), ("b", ""), ("a", "\u00e9")])
        self.assertEqual(parsed.data, b"")
