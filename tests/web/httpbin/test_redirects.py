# -*- test-case-name: tests.web.httpbin.test_redirects -*-
"""
Tests for L{echohub.web.httpbin._redirects}: counted redirects and a
C{/redirect-to} that is not an open redirect.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from echohub.config import WebConfig
from echohub.testing import request
from echohub.web.httpbin._redirects import isAllowedTarget


class CountedRedirectTests(SynchronousTestCase):
    """
    C{/redirect/N}, C{/relative-redirect/N}, C{/absolute-redirect/N}.
    """

    def test_chain(self) -> None:
        """
        Each hop counts down, ending at C{/get}; absolute ones carry the
        scheme and host.
        """
        for target, location in [
            (b"/redirect/3", b"/relative-redirect/2"),
            (b"/redirect/1", b"/get"),
            (b"/relative-redirect/2", b"/relative-redirect/1"),
            (
                b"/redirect/2?absolute=true",
                b"http://example.test:8080/absolute-redirect/1",
            ),
            (b"/absolute-redirect/1", b"http://example.test:8080/get"),
        ]:
            response = request(target)
            self.assertEqual(
                (response.status, response.header(b"Location")), (302, location)
            )

    def test_bounded(self) -> None:
        """
        N beyond C{[web] max_redirects}, or 0, is a C{400} naming the setting.
        """
        config = WebConfig(max_redirects=5)
        self.assertEqual(request(b"/redirect/5", config=config).status, 302)
        refused = request(b"/redirect/6", config=config)
        self.assertEqual(refused.status, 400)
        self.assertIn(b"max_redirects", refused.body)
        self.assertEqual(request(b"/redirect/0").status, 400)

    def test_prefix(self) -> None:
        """
        Under C{[web] prefix} the redirects stay under it.
        """
        response = request(b"/x/y/redirect/2", config=WebConfig(prefix="/x/y/"))
        self.assertEqual(response.header(b"Location"), b"/x/y/relative-redirect/1")


class RedirectToTests(SynchronousTestCase):
    """
    C{/redirect-to?url=U}.
    """

    def test_relativeAndOwnHost(self) -> None:
        """
        Relative targets and this host (any port) are followed, with the
        status asked for when it is a 3xx.
        """
        response = request(b"/redirect-to?url=/post&status_code=307", b"POST", body=b"")
        self.assertEqual(
            (response.status, response.header(b"Location")), (307, b"/post")
        )
        own = request(b"/redirect-to?url=http://example.test:1/get&status_code=200")
        self.assertEqual(
            (own.status, own.header(b"Location")), (302, b"http://example.test:1/get")
        )

    def test_notOpen(self) -> None:
        """
        Other hosts, scheme-relative and backslash tricks, and other schemes
        are refused with C{403}, unless the domain is allowed.
        """
        for url in [
            b"http://evil.test/",
            b"//evil.test/",
            b"/%5Cevil.test",
            b"javascript:alert(1)",
            b"https://example.test.evil.test/",
        ]:
            self.assertEqual(request(b"/redirect-to?url=" + url).status, 403, url)
        config = WebConfig(allowed_redirect_domains=("good.test",))
        allowed = request(b"/redirect-to?url=https://www.good.test/x", config=config)
        self.assertEqual(allowed.status, 302)

    def test_isAllowedTarget(self) -> None:
        """
        L{isAllowedTarget} takes subdomains of allowed domains, not
        look-alikes.
        """
        self.assertTrue(isAllowedTarget("https://a.good.test", "h", ["good.test"]))
        self.assertFalse(isAllowedTarget("https://notgood.test", "h", ["good.test"]))
        self.assertTrue(isAllowedTarget("get", "h", []))

    def test_missingURL(self) -> None:
        """
        Without C{url} the answer is C{400}.
        """
        self.assertEqual(request(b"/redirect-to").status, 400)

    def test_noHostTarget(self) -> None:
        """
        An C{http} URL with no host leads nowhere and is passed on, for
        clients' tests of how they refuse it.
        """
        self.assertTrue(isAllowedTarget("http://:1", "h", []))
