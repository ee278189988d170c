# -*- test-case-name: tests.web.httpbin.test_auth -*-
"""
Tests for L{echohub.web.httpbin._auth}: Basic, hidden Basic, Bearer and Digest
(RFC 7616), through the real site over an in-memory transport.
"""

from __future__ import annotations

from base64 import b64encode
from urllib.request import parse_http_list, parse_keqv_list

from twisted.trial.unittest import SynchronousTestCase

from echohub.testing import Response, jsonOf, request
from echohub.web.httpbin._auth import digestResponse


def basic(user: str, password: str) -> bytes:
    return b"Authorization: Basic " + b64encode(f"{user}:{password}".encode())


class BasicTests(SynchronousTestCase):
    """
    C{/basic-auth}, C{/hidden-basic-auth} and C{/bearer}.
    """

    def test_basic(self) -> None:
        """
        The right credentials get C{authenticated}; wrong or none get C{401}
        with a Basic challenge.
        """
        ok = jsonOf(request(b"/basic-auth/u/p", headers=(basic("u", "p"),)))
        self.assertEqual(ok, {"authenticated": True, "user": "u"})
        for headers in [(), (basic("u", "x"),), (b"Authorization: Basic !!",)]:
            refused = request(b"/basic-auth/u/p", headers=headers)
            self.assertEqual(refused.status, 401)
            self.assertEqual(
                refused.header(b"WWW-Authenticate"), b'Basic realm="Fake Realm"'
            )

    def test_hidden(self) -> None:
        """
        C{/hidden-basic-auth} answers C{404}, with no challenge, to wrong
        credentials.
        """
        refused = request(b"/hidden-basic-auth/u/p", headers=(basic("u", "x"),))
        self.assertEqual(
            (refused.status, refused.header(b"WWW-Authenticate")), (404, None)
        )
        self.assertEqual(
            request(b"/hidden-basic-auth/u/p", headers=(basic("u", "p"),)).status, 200
        )

    def test_bearer(self) -> None:
        """
        Any Bearer token is shown; none gets C{401} with a Bearer challenge.
        """
        self.assertEqual(
            jsonOf(request(b"/bearer", headers=(b"Authorization: Bearer tok",))),
            {"authenticated": True, "token": "tok"},
        )
        refused = request(b"/bearer")
        self.assertEqual(
            (refused.status, refused.header(b"WWW-Authenticate")), (401, b"Bearer")
        )


def challenge(response: Response) -> dict[str, str]:
    header = (response.header(b"WWW-Authenticate") or b"").decode()
    scheme, _, rest = header.partition(" ")
    assert scheme == "Digest", header
    return parse_keqv_list(parse_http_list(rest))


def answer(
    target: bytes,
    parameters: dict[str, str],
    user: str = "u",
    password: str = "p",
    qop: str | None = "auth",
    cookies: bytes = b"fake=fake_value",
) -> Response:
    """
    Answer a challenge's C{parameters} for C{target}, as a client would.
    """
    credentials = {
        "username": user,
        "realm": parameters["realm"],
        "nonce": parameters["nonce"],
        "uri": target.decode(),
        "algorithm": parameters["algorithm"],
        "nc": "00000001",
        "cnonce": "0a4f113b",
        "opaque": parameters["opaque"],
    }
    if qop is not None:
        credentials["qop"] = qop
    credentials["response"] = digestResponse(credentials, password, b"GET", target, b"")
    header = ", ".join(f'{k}="{v}"' for k, v in credentials.items())
    return request(
        target,
        headers=(b"Authorization: Digest " + header.encode(), b"Cookie: " + cookies),
    )


class DigestTests(SynchronousTestCase):
    """
    C{/digest-auth/QOP/USER/PASSWD[/ALGORITHM[/STALE_AFTER]]}.
    """

    def test_rfc7616Example(self) -> None:
        """
        L{digestResponse} computes the response of RFC 7616 section 3.9.1's
        example, in MD5 and SHA-256.
        """
        credentials = {
            "username": "Mufasa",
            "realm": "http-auth@example.org",
            "nonce": "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
            "nc": "00000001",
            "cnonce": "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
            "qop": "auth",
        }
        uri, method = b"/dir/index.html", b"GET"
        self.assertEqual(
            digestResponse(
                {**credentials, "algorithm": "MD5"}, "Circle of Life", method, uri, b""
            ),
            "8ca523f5e9506fed4657c9700eebdbec",
        )
        self.assertEqual(
            digestResponse(
                {**credentials, "algorithm": "SHA-256"},
                "Circle of Life",
                method,
                uri,
                b"",
            ),
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
        )

    def test_challengeThenSuccess(self) -> None:
        """
        Without credentials: C{401}, a challenge for the algorithm and qop,
        and httpbin's cookies; the right answer then authenticates, for each
        algorithm.
        """
        for algorithm in ["MD5", "SHA-256", "SHA-512", "SHA-256-sess"]:
            target = b"/digest-auth/auth/u/p/" + algorithm.encode()
            first = request(target)
            self.assertEqual(first.status, 401)
            parameters = challenge(first)
            self.assertEqual(
                (parameters["algorithm"], parameters["qop"]), (algorithm, "auth")
            )
            self.assertIn(b"fake=fake_value; Path=/", first.headers[b"set-cookie"])
            ok = answer(target, parameters)
            self.assertEqual(jsonOf(ok), {"authenticated": True, "user": "u"})

    def test_wrongPassword(self) -> None:
        """
        A wrong password gets a new challenge, not stale.
        """
        target = b"/digest-auth/auth/u/p"
        refused = answer(target, challenge(request(target)), password="x")
        self.assertEqual(refused.status, 401)
        self.assertEqual(challenge(refused)["stale"], "FALSE")

    def test_authInt(self) -> None:
        """
        C{auth-int} covers the body's hash.
        """
        target = b"/digest-auth/auth-int/u/p/SHA-256"
        parameters = challenge(request(target))
        self.assertEqual(parameters["qop"], "auth-int")
        self.assertEqual(answer(target, parameters, qop="auth-int").status, 200)

    def test_reusedNonceIsStale(self) -> None:
        """
        A nonce the C{last_nonce} cookie names gets a stale challenge.
        """
        target = b"/digest-auth/auth/u/p"
        parameters = challenge(request(target))
        cookies = b"fake=fake_value; last_nonce=" + parameters["nonce"].encode()
        stale = answer(target, parameters, cookies=cookies)
        self.assertEqual((stale.status, challenge(stale)["stale"]), (401, "TRUE"))

    def test_requireCookie(self) -> None:
        """
        With C{?require-cookie=1} a client that dropped the cookies is told
        so with C{403}.
        """
        target = b"/digest-auth/auth/u/p?require-cookie=1"
        parameters = challenge(request(target))
        refused = answer(target, parameters, cookies=b"other=1")
        self.assertEqual(refused.status, 403)
        self.assertEqual(answer(target, parameters).status, 200)
