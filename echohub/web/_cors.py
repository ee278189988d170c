# -*- test-case-name: tests.web.test_cors -*-
"""
Cross-origin resource sharing for the echo site: off unless origins are
configured.

With C{[web] cors_origins} empty no response carries an
C{Access-Control-*} header, so browsers keep every other site's script from
reading echoes.  Configured, a request whose C{Origin} is listed (or any
origin, with C{*}) gets that origin reflected in
C{Access-Control-Allow-Origin} with C{Vary: Origin}, and a preflight
C{OPTIONS} request is answered here, before any resource sees it.
C{Access-Control-Allow-Credentials: true} is sent only when
C{cors_credentials} is on and the origin was listed by name: never for a
wildcard, which would let every site on the web read a visitor's echoes
with their cookies.
"""

from __future__ import annotations

from dataclasses import dataclass

from twisted.web.iweb import IRequest

from echohub.http import normalOrigin

# Response headers a cross-origin script may read besides the safelisted
# ones: /response-headers sets arbitrary ones and /sse resumes by event id.
_EXPOSE = b"*"
_MAX_AGE = b"600"


@dataclass(frozen=True)
class CORSPolicy:
    """
    Which origins may read this site's responses from script.

    @ivar origins: the allowed origins, as L{normalOrigin} gives them;
        C{*} allows any.
    @ivar credentials: whether a listed origin may send credentials.
    """

    origins: frozenset[bytes]
    credentials: bool = False

    @classmethod
    def fromConfig(cls, origins: tuple[str, ...], credentials: bool) -> CORSPolicy:
        """
        Build the policy from the C{[web] cors_*} settings.
        """
        return cls(
            frozenset(normalOrigin(o.encode("ascii", "replace")) for o in origins),
            credentials,
        )

    def apply(self, request: IRequest) -> bool:
        """
        Add the CORS headers C{request}'s response needs.

        @return: whether C{request} is a preflight that has now been fully
            answered (headers set, C{204}), so no resource must render it.
        """
        if not self.origins:
            return False
        request.setHeader(b"Vary", b"Origin")
        origin = request.getHeader(b"Origin")
        if origin is None:
            return False
        listed = normalOrigin(origin) in self.origins
        if not listed and b"*" not in self.origins:
            return False
        request.setHeader(b"Access-Control-Allow-Origin", origin)
        if listed and self.credentials:
            request.setHeader(b"Access-Control-Allow-Credentials", b"true")
        preflight = request.method == b"OPTIONS" and (
            request.getHeader(b"Access-Control-Request-Method") is not None
        )
        if not preflight:
            request.setHeader(b"Access-Control-Expose-Headers", _EXPOSE)
            return False
        request.setHeader(
            b"Access-Control-Allow-Methods",
            request.getHeader(b"Access-Control-Request-Method") or b"GET",
        )
        wanted = request.getHeader(b"Access-Control-Request-Headers")
        if wanted:
            request.setHeader(b"Access-Control-Allow-Headers", wanted)
        request.setHeader(b"Access-Control-Max-Age", _MAX_AGE)
        request.setResponseCode(204)
        return True
