"""
Tests for L{echohub.http._security.normalOrigin}.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from echohub.http import normalOrigin


class NormalOriginTests(SynchronousTestCase):
    """
    L{normalOrigin} is the one comparison form of an origin, for CORS and the
    WebSocket Origin check alike.
    """

    def test_defaultPortDropped(self) -> None:
        """
        A scheme's default port, which browsers omit, is dropped; any other
        port is kept, including one that merely ends in the same digits.
        """
        self.assertEqual(normalOrigin(b"https://A.example:443/"), b"https://a.example")
        self.assertEqual(normalOrigin(b"http://a.example:80"), b"http://a.example")
        self.assertEqual(normalOrigin(b"http://a.example:443"), b"http://a.example:443")
        self.assertEqual(
            normalOrigin(b"http://a.example:8080"), b"http://a.example:8080"
        )
        self.assertEqual(
            normalOrigin(b"https://a.example:1443"), b"https://a.example:1443"
        )

    def test_ipv6(self) -> None:
        """
        A bracketed IPv6 host keeps its colons; its default port is dropped.
        """
        self.assertEqual(normalOrigin(b"http://[::80]"), b"http://[::80]")
        self.assertEqual(normalOrigin(b"http://[::1]:80"), b"http://[::1]")
        self.assertEqual(normalOrigin(b"http://[::1]:81"), b"http://[::1]:81")

    def test_opaque(self) -> None:
        """
        C{null} and C{*} are only stripped and lower-cased.
        """
        self.assertEqual(normalOrigin(b" NULL "), b"null")
        self.assertEqual(normalOrigin(b"*"), b"*")
