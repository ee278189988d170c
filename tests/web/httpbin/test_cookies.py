# -*- test-case-name: tests.web.httpbin.test_cookies -*-
"""
Tests for L{echohub.web.httpbin._cookies}: C{/cookies}, C{/cookies/set} and
C{/cookies/delete}, through the real site over an in-memory transport.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from echohub.config import WebConfig
from echohub.testing import jsonOf, request


class CookieTests(SynchronousTestCase):
    """
    Cookies are shown, set host-only and deleted.
    """

    def test_shown(self) -> None:
        """
        C{/cookies} lists the request's cookies, even with sensitive headers
        hidden elsewhere: showing them is the route's purpose.
        """
        self.assertEqual(
            jsonOf(request(b"/cookies", headers=(b"Cookie: a=1; b=2",))),
            {"cookies": {"a": "1", "b": "2"}},
        )

    def test_set(self) -> None:
        """
        C{/cookies/set?K=V} and C{/cookies/set/K/V} set host-only cookies
        (no C{Domain}) for the whole site and redirect to C{/cookies}.
        """
        for target, expected in [
            (b"/cookies/set?a=1&b=2", [b"a=1; Path=/", b"b=2; Path=/"]),
            (b"/cookies/set/k/v", [b"k=v; Path=/"]),
        ]:
            response = request(target)
            self.assertEqual(response.status, 302)
            self.assertEqual(response.header(b"Location"), b"/cookies")
            self.assertEqual(response.headers[b"set-cookie"], expected)

    def test_noAttributeSmuggling(self) -> None:
        """
        A value cannot add attributes such as C{Domain}: its C{;} is
        replaced.
        """
        response = request(b"/cookies/set?a=1%3B%20Domain%3Dexample.test")
        [cookie] = response.headers[b"set-cookie"]
        self.assertNotIn(b";  Domain", cookie)
        self.assertEqual(cookie.count(b";"), 1)

    def test_delete(self) -> None:
        """
        C{/cookies/delete?K} expires K.
        """
        [cookie] = request(b"/cookies/delete?a").headers[b"set-cookie"]
        self.assertTrue(cookie.startswith(b"a=; Expires=Thu, 01 Jan 1970"), cookie)
        self.assertIn(b"Max-Age=0", cookie)

    def test_secureOverPrefix(self) -> None:
        """
        Under C{[web] prefix} cookies are scoped to it and the redirect
        follows it.
        """
        response = request(b"/p/cookies/set?a=1", config=WebConfig(prefix="/p"))
        self.assertEqual(response.header(b"Location"), b"/p/cookies")
        self.assertEqual(response.headers[b"set-cookie"], [b"a=1; Path=/p"])
