# -*- test-case-name: tests.grpc.test_native -*-
"""
Native gRPC on the HTTP wire's HTTP/2 streams: L{GRPCStreamRoutes} is the
site's L{IStreamRoutes}, taking every HTTP/2 request whose C{content-type}
is C{application/grpc} (or C{application/grpc+SUBTYPE}) from twisted.web;
each becomes a L{echohub.grpc._call.Call} riding its stream
(L{IHTTPStream}).

The stream gives a call what gRPC needs of HTTP/2 and nothing of HTTP's
request policy: the request body as it arrives (the per-request body
limits do not apply: a call is bounded by C{[grpc] max_message} per
message and C{max_call_duration}), trailers and the Trailers-Only form,
C{RST_STREAM} both ways, the server's drain, and flow control whose window
is held back while the response is backed up.  The connection's own limits
(streams, windows, floods, the header limits, memory) hold as for any
request.
"""

from __future__ import annotations

from collections.abc import Sequence

from zope.interface import implementer

from echohub.grpc._server import GRPCServer
from echohub.grpc._wire import grpcSubtype
from echohub.http import IHTTPStream, IStreamHandler, IStreamRoute, IStreamRoutes


@implementer(IStreamRoutes, IStreamRoute)
class GRPCStreamRoutes:
    """
    The HTTP/2 requests that are gRPC calls.

    @ivar server: what serves them.
    """

    protocols: frozenset[bytes] = frozenset()

    def __init__(self, server: GRPCServer) -> None:
        self.server = server

    def match(self, headers: Sequence[tuple[bytes, bytes]]) -> IStreamRoute | None:
        """
        This route for a request whose content type is native gRPC's.
        """
        for name, value in headers:
            if name == b"content-type":
                return self if grpcSubtype(value) is not None else None
        return None

    def open(
        self, stream: IHTTPStream, headers: Sequence[tuple[bytes, bytes]]
    ) -> IStreamHandler:
        """
        Start the call.
        """
        return self.server.call(stream, headers)
