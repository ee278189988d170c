# -*- test-case-name: tests.web.httpbin.test_auth -*-
"""
httpbin's authentication routes.

    - C{/basic-auth/USER/PASSWD}: C{200} and C{{"authenticated": true,
      "user": USER}} for those Basic credentials, else C{401} with a Basic
      challenge; C{/hidden-basic-auth/...} answers C{404} instead, as a
      server that hides the resource does.
    - C{/bearer}: C{200} and the token for any C{Bearer} credentials, else
      C{401} with a C{Bearer} challenge.
    - C{/digest-auth/QOP/USER/PASSWD[/ALGORITHM[/STALE_AFTER]]}: HTTP Digest
      (RFC 7616) with C{qop} C{auth}, C{auth-int} or both (any other QOP
      word), algorithms C{MD5}, C{SHA-256}, C{SHA-512} and their C{-sess}
      variants.  As in httpbin, cookies carry the state between the
      challenge and the answer: C{fake=fake_value} (a client must keep
      cookies for C{?require-cookie=1}), C{last_nonce} (a nonce used twice
      is answered with C{stale=true}) and C{stale_after} (after that many
      successes the next one gets a stale challenge).

Credentials are compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from base64 import b64decode
from binascii import Error as Base64Error
from urllib.parse import parse_qsl
from urllib.request import parse_http_list, parse_keqv_list

from twisted.web.iweb import IRequest

from echohub.web.httpbin._cookies import requestCookies
from echohub.web.httpbin._inspection import requestBody
from echohub.web.httpbin._resource import PlainTextResource, jsonBody, plainText

_FAKE_REALM = b'Basic realm="Fake Realm"'
REALM = "echohub"
_HASHES = {"MD5": "md5", "SHA-256": "sha256", "SHA-512": "sha512"}
ALGORITHMS = tuple(_HASHES) + tuple(a + "-sess" for a in _HASHES)


def algorithmNamed(name: str) -> str | None:
    """
    The Digest algorithm of that name, whatever its case (RFC 7616 names
    are case-insensitive), or L{None}.
    """
    return next((a for a in ALGORITHMS if a.upper() == name.upper()), None)


def _pathArguments(request: IRequest, count: int) -> list[str] | None:
    """
    Exactly C{count} path segments after the route's name, decoded.
    """
    if len(request.postpath) != count:
        return None
    return [p.decode("utf-8", "replace") for p in request.postpath]


def basicCredentials(request: IRequest) -> tuple[str, str] | None:
    """
    The user and password of a C{Basic} C{Authorization} header, if any.
    """
    header = request.getHeader(b"Authorization") or b""
    scheme, _, token = header.partition(b" ")
    if scheme.lower() != b"basic":
        return None
    try:
        decoded = b64decode(token.strip(), validate=True).decode("utf-8")
    except (Base64Error, UnicodeDecodeError):
        return None
    user, colon, password = decoded.partition(":")
    return (user, password) if colon else None


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


class BasicAuth(PlainTextResource):
    """
    C{/basic-auth/USER/PASSWD} or, with C{hidden}, C{/hidden-basic-auth/...}.
    """

    isLeaf = True

    def __init__(self, hidden: bool = False) -> None:
        super().__init__()
        self.hidden = hidden

    def render_GET(self, request: IRequest) -> bytes:
        expected = _pathArguments(request, 2)
        given = basicCredentials(request)
        request.setHeader(b"Cache-Control", b"no-store")
        if (
            expected is not None
            and given is not None
            and _same(given[0], expected[0]) & _same(given[1], expected[1])
        ):
            return jsonBody(request, {"authenticated": True, "user": expected[0]})
        if self.hidden:
            return plainText(request, 404, b"404 Not Found\n")
        request.setHeader(b"WWW-Authenticate", _FAKE_REALM)
        return plainText(request, 401, b"")


class Bearer(PlainTextResource):
    """
    C{/bearer}: any C{Bearer} token is accepted and shown.
    """

    isLeaf = True

    def render_GET(self, request: IRequest) -> bytes:
        header = request.getHeader(b"Authorization") or b""
        request.setHeader(b"Cache-Control", b"no-store")
        if not header.startswith(b"Bearer "):
            request.setHeader(b"WWW-Authenticate", b"Bearer")
            return plainText(request, 401, b"")
        token = header[len(b"Bearer ") :].decode("utf-8", "replace")
        return jsonBody(request, {"authenticated": True, "token": token})


def digestHash(algorithm: str, data: bytes) -> str:
    """
    The hex digest of C{data} by a Digest C{algorithm} name (C{-sess} or
    not).
    """
    name = _HASHES[algorithm.removesuffix("-sess")]
    return hashlib.new(name, data).hexdigest()


def digestResponse(
    credentials: dict[str, str],
    password: str,
    method: bytes,
    uri: bytes,
    body: bytes,
) -> str:
    """
    The C{response} a client with C{password} must send for its other
    C{credentials} (RFC 7616 section 3.4.1).

    @raise KeyError: a parameter the credentials need is missing.
    """
    algorithm = algorithmNamed(credentials.get("algorithm", "MD5"))
    if algorithm is None:
        raise KeyError("algorithm")
    qop = credentials.get("qop")

    def H(*parts: str | bytes) -> str:
        return digestHash(
            algorithm,
            b":".join(p if isinstance(p, bytes) else p.encode("utf-8") for p in parts),
        )

    ha1 = H(credentials["username"], credentials.get("realm", ""), password)
    if algorithm.endswith("-sess"):
        ha1 = H(ha1, credentials["nonce"], credentials["cnonce"])
    if qop == "auth-int":
        ha2 = H(method, uri, H(body))
    else:
        ha2 = H(method, uri)
    if qop is None:
        return H(ha1, credentials["nonce"], ha2)
    return H(
        ha1, credentials["nonce"], credentials["nc"], credentials["cnonce"], qop, ha2
    )


class DigestAuth(PlainTextResource):
    """
    C{/digest-auth/QOP/USER/PASSWD[/ALGORITHM[/STALE_AFTER]]}.
    """

    isLeaf = True

    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.path = (prefix or "/").encode()

    def _cookie(self, request: IRequest, name: str, value: str) -> None:
        request.addCookie(name.encode(), value.encode(), path=self.path)

    def _challenge(
        self,
        request: IRequest,
        qop: str | None,
        algorithm: str,
        staleAfter: str,
        stale: bool = False,
        lastNonce: str | None = None,
    ) -> bytes:
        nonce = digestHash(algorithm, os.urandom(16))
        opaque = digestHash(algorithm, os.urandom(16))
        qops = "auth, auth-int" if qop is None else qop
        request.setHeader(
            b"WWW-Authenticate",
            f'Digest realm="{REALM}", nonce="{nonce}", opaque="{opaque}",'
            f' qop="{qops}", algorithm={algorithm},'
            f" stale={'TRUE' if stale else 'FALSE'}".encode(),
        )
        self._cookie(request, "stale_after", staleAfter)
        self._cookie(request, "fake", "fake_value")
        if lastNonce is not None:
            self._cookie(request, "last_nonce", lastNonce)
        request.setHeader(b"Cache-Control", b"no-store")
        return plainText(request, 401, b"")

    def render_GET(self, request: IRequest) -> bytes:
        segments = request.postpath
        if not 3 <= len(segments) <= 5:
            return plainText(request, 404, b"404 Not Found\n")
        words = [s.decode("utf-8", "replace") for s in segments]
        qopWord, user, password = words[:3]
        algorithm = algorithmNamed(words[3] if len(words) > 3 else "MD5") or "MD5"
        staleAfter = words[4] if len(words) > 4 else "never"
        qop = qopWord if qopWord in ("auth", "auth-int") else None
        query = dict(parse_qsl(request.uri.partition(b"?")[2]))
        requireCookie = query.get(b"require-cookie", b"").lower() in (
            b"1",
            b"t",
            b"true",
        )
        cookies = requestCookies(request)

        header = request.getHeader(b"Authorization") or b""
        scheme, _, rest = header.decode("latin-1").partition(" ")
        credentials: dict[str, str] = {}
        if scheme.lower() == "digest":
            credentials = parse_keqv_list(parse_http_list(rest))
        if not credentials or (requireCookie and not cookies):
            return self._challenge(request, qop, algorithm, staleAfter)
        if requireCookie and cookies.get("fake") != "fake_value":
            self._cookie(request, "fake", "fake_value")
            return jsonBody(
                request, {"errors": ["missing cookie set on challenge"]}, 403
            )
        nonce = credentials.get("nonce", "")
        if cookies.get("last_nonce") == nonce or cookies.get("stale_after") == "0":
            return self._challenge(request, qop, algorithm, staleAfter, True, nonce)
        try:
            expected = digestResponse(
                credentials, password, request.method, request.uri, requestBody(request)
            )
        except KeyError:
            expected = ""
        if not (
            expected
            and _same(credentials.get("response", ""), expected)
            and _same(credentials.get("username", ""), user)
        ):
            return self._challenge(request, qop, algorithm, staleAfter, False, nonce)
        self._cookie(request, "fake", "fake_value")
        if "stale_after" in cookies:
            left = cookies["stale_after"]
            self._cookie(
                request,
                "stale_after",
                str(int(left) - 1) if left.isdigit() else "never",
            )
        request.setHeader(b"Cache-Control", b"no-store")
        return jsonBody(request, {"authenticated": True, "user": user})
