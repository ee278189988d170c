"""
Tests for L{echohub.http._policy}: what the wire answers the same way for
every HTTP version.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase
from twisted.web.test.requesthelper import DummyRequest

from echohub.http import PLAIN_TEXT, plainText


class PlainTextTests(SynchronousTestCase):
    """
    L{plainText} makes a response plain text with a status.
    """

    def test_plainText(self) -> None:
        """
        The status and C{Content-Type} are set; the body is handed back.
        """
        request = DummyRequest([b""])
        self.assertEqual(plainText(request, 418, b"teapot\n"), b"teapot\n")
        self.assertEqual(request.responseCode, 418)
        self.assertEqual(
            request.responseHeaders.getRawHeaders(b"Content-Type"), [PLAIN_TEXT]
        )
