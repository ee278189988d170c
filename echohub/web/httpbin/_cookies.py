# -*- test-case-name: tests.web.httpbin.test_cookies -*-
"""
httpbin's cookie routes: C{/cookies} shows the cookies the request
carried, C{/cookies/set?K=V} and C{/cookies/set/K/V} set cookies and
C{/cookies/delete?K} expires them, each then redirecting to C{/cookies}.

Every cookie set here is host-only, with no C{Domain} attribute, whatever
the client asks: a cookie for a parent domain would reach every sibling
host under it, and an echo service must not let a link plant one.  Names
and values are sanitised by L{twisted.web.http.Request.addCookie} (no
C{;}, no line breaks), so no attribute can be smuggled in either.  Over
TLS they are C{Secure}, as httpbin's are.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from twisted.web.iweb import IRequest

from echohub.web.httpbin._resource import (
    PlainTextResource,
    badRequest,
    jsonBody,
    plainText,
)

_EXPIRED = b"Thu, 01 Jan 1970 00:00:00 GMT"


def requestCookies(request: IRequest) -> dict[str, str]:
    """
    The cookies of the request's C{Cookie} headers (RFC 6265 section 5.4),
    name to value, the first of a repeated name kept.  Parsed here rather
    than read from C{Request.received_cookies}, which only Twisted's own
    HTTP channel fills in.
    """
    cookies: dict[str, str] = {}
    for header in request.requestHeaders.getRawHeaders(b"Cookie", []):
        for pair in header.decode("utf-8", "replace").split(";"):
            name, equals, value = pair.strip().partition("=")
            if equals and name:
                cookies.setdefault(name, value.strip('"'))
    return cookies


def _query(request: IRequest) -> list[tuple[bytes, bytes]]:
    return parse_qsl(request.uri.partition(b"?")[2], keep_blank_values=True)


class CookiesResource(PlainTextResource):
    """
    C{/cookies}: C{{"cookies": {name: value}}} of the request's cookies.
    Its children set and delete them.
    """

    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.putChild(b"set", SetCookies(prefix))
        self.putChild(b"delete", DeleteCookies(prefix))

    def render_GET(self, request: IRequest) -> bytes:
        cookies = requestCookies(request)
        request.setHeader(b"Cache-Control", b"no-store")
        return jsonBody(request, {"cookies": cookies})


class _CookieRedirect(PlainTextResource):
    """
    A route that changes cookies, then answers C{302} to C{/cookies}.
    """

    isLeaf = True

    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.path = (prefix or "/").encode()
        self.location = prefix.encode() + b"/cookies"

    def cookie(self, request: IRequest, name: bytes, value: bytes, **kw: bytes) -> None:
        """
        Set one host-only cookie for the whole site.
        """
        request.addCookie(name, value, path=self.path, secure=request.isSecure(), **kw)

    def redirect(self, request: IRequest) -> bytes:
        request.setHeader(b"Location", self.location)
        request.setHeader(b"Cache-Control", b"no-store")
        return plainText(request, 302, b"")


class SetCookies(_CookieRedirect):
    """
    C{/cookies/set?K=V...} and C{/cookies/set/K/V}.
    """

    def render_GET(self, request: IRequest) -> bytes:
        postpath = request.postpath
        if len(postpath) == 2:
            pairs = [(postpath[0], postpath[1])]
        elif not [p for p in postpath if p]:
            pairs = _query(request)
        else:
            return badRequest(request, "use /cookies/set?K=V or /cookies/set/K/V")
        for name, value in pairs:
            if not name:
                return badRequest(request, "a cookie needs a name")
            self.cookie(request, name, value)
        return self.redirect(request)


class DeleteCookies(_CookieRedirect):
    """
    C{/cookies/delete?K...}: expire each named cookie.
    """

    def render_GET(self, request: IRequest) -> bytes:
        for name, _ in _query(request):
            self.cookie(request, name, b"", expires=_EXPIRED, max_age=b"0")
        return self.redirect(request)
