# -*- test-case-name: tests.http.test_lean -*-
"""
The interfaces of the HTTP wire, gathered in one module (as klein gathers
its own) so that a reader finds every seam between the wire and what it
serves in one place.
"""

from __future__ import annotations

from collections.abc import Sequence

from zope.interface import Attribute, Interface


class ILeanRoute(Interface):
    """
    One route the wire answers itself.
    """

    takesBody = Attribute(
        "Whether the answer depends on the request body: HTTP/2 answers lean"
        " only requests whose stream ended with their headers, so it leaves"
        " such a route to the full path."
    )
    echoes = Attribute("Whether an answer counts as an echo in the metrics.")

    def respond(value: bytes, body: bytes) -> tuple[bytes, bytes]:
        """
        The answer to a request this route matched.

        @param value: what L{ILeanRoutes.match} gave with the route.
        @param body: the request body.
        @return: the route's header lines (each with its CRLF; no
            C{Content-Length}, which the wire adds) and the content.
        """


class ILeanRoutes(Interface):
    """
    The requests a site lets its channels answer themselves.
    """

    def match(
        method: bytes, target: bytes, headers: Sequence[tuple[bytes, bytes]]
    ) -> tuple[ILeanRoute, bytes] | None:
        """
        Which route answers this request, and with what value; L{None} for
        the full path.  Called only for a request within every limit, when
        nothing of the connection's (draining, a refusal) changes the answer:
        a route must decline whatever else could (a header the full path
        would act on).
        """
