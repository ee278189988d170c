# -*- test-case-name: tests.test_exports -*-
"""
gRPC on echohub's web listeners: an echo service (in the shape of grpc-go's
example echo), health checking and server reflection, over native gRPC on
the HTTP wire's HTTP/2 streams and over gRPC-Web on any HTTP.

    - L{GRPCServer}: what every call of a site shares (settings, methods,
      logs, metrics); a L{echohub.grpc._call.Call} is one call, whatever
      carries it;
    - L{GRPCStreamRoutes}: the site's L{echohub.http.IStreamRoutes},
      taking C{application/grpc} requests over HTTP/2;
    - L{webResources}: the gRPC-Web resources for the site's tree;
    - L{Code}: the status codes; L{Schema}: the services' descriptors.

The protocol itself (framing, status, timeouts) is an I/O-free core
(L{echohub.grpc._wire}); messages are Google's C{protobuf}.
"""

from echohub.grpc._native import GRPCStreamRoutes
from echohub.grpc._schema import Schema
from echohub.grpc._server import GRPCServer
from echohub.grpc._web import GRPCWebResource, webResources
from echohub.grpc._wire import Code

__all__ = [
    "Code",
    "GRPCServer",
    "GRPCStreamRoutes",
    "GRPCWebResource",
    "Schema",
    "webResources",
]
