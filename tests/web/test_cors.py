# -*- test-case-name: tests.web.test_cors -*-
"""
Tests for L{echohub.web._cors}: off by default, reflects allowed origins,
answers preflights, never credentials with a wildcard.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from echohub.config import WebConfig
from echohub.testing import request

LISTED = WebConfig(cors_origins=("https://app.example",))
ANY = WebConfig(cors_origins=("*",), cors_credentials=True)
ORIGIN = b"Origin: https://app.example"


class CORSTests(SynchronousTestCase):
    """
    CORS headers follow C{[web] cors_origins} and C{cors_credentials}.
    """

    def test_offByDefault(self) -> None:
        """
        Without configured origins no response carries a CORS header, and
        C{OPTIONS} is not treated as a preflight.
        """
        response = request(b"/anything", headers=(ORIGIN,))
        self.assertFalse(
            [h for h in response.headers if h.startswith(b"access-control")]
        )
        preflight = request(
            b"/echo", b"OPTIONS", (ORIGIN, b"Access-Control-Request-Method: POST")
        )
        self.assertEqual(preflight.status, 405)

    def test_listedOriginReflected(self) -> None:
        """
        A listed origin is reflected, with C{Vary: Origin}; another is not.
        """
        response = request(b"/echo?msg=x", headers=(ORIGIN,), config=LISTED)
        self.assertEqual(
            response.header(b"Access-Control-Allow-Origin"), b"https://app.example"
        )
        self.assertEqual(response.header(b"Vary"), b"Origin")
        self.assertIsNone(response.header(b"Access-Control-Allow-Credentials"))
        other = request(
            b"/echo?msg=x", headers=(b"Origin: https://evil.example",), config=LISTED
        )
        self.assertIsNone(other.header(b"Access-Control-Allow-Origin"))

    def test_errorsCarryCORS(self) -> None:
        """
        A C{404} to an allowed origin carries the header too, so that the
        script can read why.
        """
        response = request(b"/nope", headers=(ORIGIN,), config=LISTED)
        self.assertEqual(response.status, 404)
        self.assertEqual(
            response.header(b"Access-Control-Allow-Origin"), b"https://app.example"
        )

    def test_preflight(self) -> None:
        """
        A preflight from an allowed origin is a C{204} allowing the method and
        headers asked for, before any resource sees it.
        """
        response = request(
            b"/echo",
            b"OPTIONS",
            (
                ORIGIN,
                b"Access-Control-Request-Method: PUT",
                b"Access-Control-Request-Headers: x-test, content-type",
            ),
            config=LISTED,
        )
        self.assertEqual(response.status, 204)
        self.assertEqual(response.header(b"Access-Control-Allow-Methods"), b"PUT")
        self.assertEqual(
            response.header(b"Access-Control-Allow-Headers"), b"x-test, content-type"
        )
        self.assertEqual(response.header(b"Access-Control-Max-Age"), b"600")

    def test_credentialsOnlyForListedOrigins(self) -> None:
        """
        With credentials on, a named origin gets
        C{Access-Control-Allow-Credentials: true}; an origin admitted only by
        C{*} never does.
        """
        named = WebConfig(
            cors_origins=("https://app.example", "*"), cors_credentials=True
        )
        response = request(b"/ip", headers=(ORIGIN,), config=named)
        self.assertEqual(response.header(b"Access-Control-Allow-Credentials"), b"true")
        for config in [ANY, named]:
            other = request(
                b"/ip", headers=(b"Origin: https://other.example",), config=config
            )
            self.assertEqual(
                other.header(b"Access-Control-Allow-Origin"), b"https://other.example"
            )
            self.assertIsNone(other.header(b"Access-Control-Allow-Credentials"))


class DefaultPortTests(SynchronousTestCase):
    """
    CORS compares origins in their normal form (L{echohub.http.normalOrigin}).
    """

    def test_corsMatchesDefaultPort(self) -> None:
        """
        A configured origin written with its default port matches the
        browser's C{Origin} without it (CORS used to compare them as typed).
        """
        config = WebConfig(cors_origins=("https://App.example:443",))
        response = request(b"/echo?msg=x", headers=(ORIGIN,), config=config)
        self.assertEqual(
            response.header(b"Access-Control-Allow-Origin"), b"https://app.example"
        )
