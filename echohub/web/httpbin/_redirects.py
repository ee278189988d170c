# -*- test-case-name: tests.web.httpbin.test_redirects -*-
"""
httpbin's redirects: C{/redirect/N}, C{/relative-redirect/N},
C{/absolute-redirect/N} (N hops, then C{/get}) and C{/redirect-to}.

N is bounded by C{[web] max_redirects}.  C{/redirect-to?url=U} is not an
open redirect: U must be relative, or on this server's own host name, or on
one of C{[web] allowed_redirect_domains} (or a subdomain of one); anything
else gets a C{403}, so that no one can lend this origin's name to a link
that lands elsewhere.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import parse_qsl, urlsplit

from twisted.web.iweb import IRequest

from echohub.web.httpbin._inspection import InspectionPolicy
from echohub.web.httpbin._resource import PlainTextResource, badRequest, plainText

# Backslashes and controls: browsers read "/\evil.test" as "//evil.test".
_UNSAFE = re.compile(r"[\\\x00-\x20\x7f]")


def baseURL(request: IRequest, prefix: str) -> str:
    """
    The absolute URL of the site's root (its prefix included), from this
    connection's scheme and the request's C{Host}.
    """
    scheme = "https" if request.isSecure() else "http"
    host = request.getHeader(b"Host")
    if host is None:
        address = request.getHost()
        host = f"{address.host}:{address.port}".encode()
    return f"{scheme}://{host.decode('latin-1')}{prefix}"


def _redirect(request: IRequest, location: str, code: int = 302) -> bytes:
    request.setHeader(b"Location", location.encode("utf-8"))
    request.setHeader(b"Cache-Control", b"no-store")
    return plainText(request, code, b"")


class CountedRedirect(PlainTextResource):
    """
    C{/<kind>/N}: a C{302} towards C{/<next>/N-1}, and from C{N=1} to
    C{/get}, relative or absolute.

    @ivar kind: C{redirect}, C{relative-redirect} or C{absolute-redirect}.
    """

    isLeaf = True

    def __init__(self, kind: str, policy: InspectionPolicy, maxHops: int) -> None:
        super().__init__()
        self.kind = kind
        self.prefix = policy.prefix
        self.maxHops = maxHops

    def render_GET(self, request: IRequest) -> bytes:
        segment = request.postpath[0] if len(request.postpath) == 1 else b""
        hops = int(segment) if segment.isdigit() else 0
        if not 1 <= hops <= self.maxHops:
            return badRequest(
                request,
                f"use /{self.kind}/N with N from 1 to {self.maxHops}"
                " ([web] max_redirects)",
            )
        kind = self.kind
        if kind == "redirect":
            absolute = dict(parse_qsl(request.uri.partition(b"?")[2])).get(
                b"absolute", b""
            )
            kind = "absolute-redirect" if absolute.lower() == b"true" else kind
            kind = "relative-redirect" if kind == "redirect" else kind
        base = baseURL(request, self.prefix) if kind == "absolute-redirect" else ""
        base = base or self.prefix
        target = "/get" if hops == 1 else f"/{kind}/{hops - 1}"
        return _redirect(request, base + target)


def isAllowedTarget(url: str, ownHost: str, allowed: Sequence[str]) -> bool:
    """
    Whether C{/redirect-to} may send a client to C{url}: a relative
    reference, or an C{http}/C{https} URL on C{ownHost}, on an allowed
    domain or one of its subdomains, or on no host at all.
    """
    if _UNSAFE.search(url):
        return False
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return False
    if not parts.scheme and not parts.netloc:
        return True
    if parts.scheme.lower() not in ("http", "https"):
        return False
    if not host:
        # No host to lead anywhere (http://:1): a client can only refuse it,
        # and testing that it does is a reason to ask for it.
        return True
    host = host.rstrip(".").lower()
    if host == ownHost.lower():
        return True
    return any(
        host == domain or host.endswith("." + domain)
        for domain in (d.strip(".").lower() for d in allowed)
    )


class RedirectTo(PlainTextResource):
    """
    C{/redirect-to?url=U&status_code=C}: any method, redirected to U with
    status C (C{302} unless C is from 300 to 399), if U is allowed
    (L{isAllowedTarget}).
    """

    allowedMethods = (b"GET", b"HEAD", b"POST", b"PUT", b"PATCH", b"DELETE", b"TRACE")
    isLeaf = True

    def __init__(self, allowed: Sequence[str]) -> None:
        super().__init__()
        self.allowed = tuple(allowed)

    def _render(self, request: IRequest) -> bytes:
        query = request.uri.partition(b"?")[2].decode("utf-8", "replace")
        arguments = {k.lower(): v for k, v in parse_qsl(query)}
        url = arguments.get("url")
        if url is None:
            return badRequest(request, "use /redirect-to?url=TARGET")
        try:
            code = int(arguments.get("status_code", "302"))
        except ValueError:
            code = 302
        code = code if 300 <= code < 400 else 302
        try:
            ownHost = urlsplit(
                "//" + (request.getHeader(b"Host") or b"").decode("latin-1")
            )
            own = ownHost.hostname or ""
        except ValueError:
            own = ""
        if not isAllowedTarget(url, own, self.allowed):
            return plainText(
                request,
                403,
                b"403 Forbidden: only relative targets, this host and"
                b" [web] allowed_redirect_domains\n",
            )
        return _redirect(request, url, code)

    render_GET = render_POST = render_PUT = render_PATCH = _render
    render_DELETE = render_TRACE = _render
