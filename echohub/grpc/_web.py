# -*- test-case-name: tests.grpc.test_web -*-
"""
gRPC-Web (grpc/grpc C{doc/PROTOCOL-WEB.md}) as a twisted.web resource, so
it works over HTTP/1.1 and HTTP/2 alike: browsers and Envoy's grpc-web
filter speak it.

A call is one C{POST /package.Service/Method} whose body holds every
request message (C{application/grpc-web[+proto]}, or base64 text with
C{application/grpc-web-text[+proto]}); the answer's body holds the
response messages and, last, the trailers as a frame of their own (flag
C{0x80}), base64 too for the text form.  A call that ends before any
message answers Trailers-Only: the status in the response headers and an
empty body.  The service logic and the controls are native gRPC's
(L{echohub.grpc._call}); only the carrying differs.  The request body is
an HTTP request's like any, bounded by C{[web] max_body}.

CORS is the site's (C{[web] cors_origins}, applied by the tree's root, a
preflight answered there); a response to a listed origin exposes the
status and metadata headers by name, which a wildcard would not do for a
request with credentials.

A native gRPC request that reaches here came over HTTP/1.1 (native gRPC
needs HTTP/2), or with gRPC off: it gets a plain-text C{415} saying so.
"""

from __future__ import annotations

import binascii
import re
from base64 import b64decode, b64encode

from twisted.internet.interfaces import IProducer
from twisted.web.resource import IResource, Resource
from twisted.web.server import NOT_DONE_YET, Request
from zope.interface import implementer

from echohub._net import formatAddress
from echohub.grpc._server import GRPCServer
from echohub.grpc._wire import (
    TRAILER_FRAME,
    Code,
    GRPCError,
    frame,
    grpcSubtype,
    webSubtype,
)
from echohub.http import IHTTPStream, plainText

_PADDED = re.compile(rb"(?<==)(?=[^=])")
"""
Where one padded base64 chunk ends and the next begins: a text body may be
several, each padded.
"""

_EXPOSED = b"grpc-status, grpc-message, grpc-encoding, grpc-accept-encoding"


def decodeText(body: bytes) -> bytes:
    """
    The bytes of a C{grpc-web-text} body: base64, possibly several padded
    chunks one after the other.

    @raise GRPCError: C{INTERNAL}, it is not base64.
    """
    try:
        return b"".join(
            b64decode(chunk, validate=True)
            for chunk in _PADDED.split(b"".join(body.split()))
        )
    except binascii.Error as e:
        raise GRPCError(
            Code.INTERNAL,
            f"grpc-web: the request body is not base64: {e}",
            malformed=True,
        ) from None


@implementer(IHTTPStream)
class _WebResponse:
    """
    A twisted.web request's response as a call's output.
    """

    streamID = 0

    def __init__(self, request: Request, text: bool) -> None:
        self.request = request
        self.text = text
        self.peer = request.getClientAddress()
        self.host = request.getHost()
        self.secure = request.isSecure()
        peerText = getattr(request.channel, "peerText", None)
        self.peerText = peerText() if peerText is not None else formatAddress(self.peer)

    def sendHeaders(self, fields: list[tuple[bytes, bytes]], end: bool = False) -> None:
        request = self.request
        request.setResponseCode(int(fields[0][1]))
        headers = request.responseHeaders
        for name, value in fields[1:]:
            headers.addRawHeader(name, value)
        if headers.hasHeader(b"access-control-allow-origin"):
            echoed = b"".join(
                b", " + name for name, _ in fields[1:] if not name.startswith(b"grpc-")
            )
            headers.setRawHeaders(b"access-control-expose-headers", [_EXPOSED + echoed])
        if end:
            request.finish()

    def sendData(self, data: bytes, end: bool = False) -> None:
        self.request.write(b64encode(data) if self.text else data)
        if end:
            self.request.finish()

    def sendTrailers(self, fields: list[tuple[bytes, bytes]]) -> None:
        block = b"".join(name + b":" + value + b"\r\n" for name, value in fields)
        self.sendData(frame(block, flags=TRAILER_FRAME), end=True)

    def reset(self, code: int) -> None:
        self.request.loseConnection()

    def pauseReading(self) -> None:
        """
        Nothing to hold back: the request body has arrived whole.
        """

    def resumeReading(self) -> None:
        pass

    def registerProducer(self, producer: IProducer, streaming: bool) -> None:
        self.request.registerProducer(producer, streaming)

    def unregisterProducer(self) -> None:
        if getattr(self.request, "channel", None) is not None:
            # Not once the connection is gone, with the channel.
            self.request.unregisterProducer()


class GRPCWebResource(Resource):
    """
    The gRPC-Web methods of one service, at C{/package.Service/}.

    @ivar grpc: what serves the calls.
    """

    isLeaf = True

    def __init__(self, grpc: GRPCServer) -> None:
        super().__init__()
        self.grpc = grpc

    def render_POST(self, request: Request) -> bytes | int:
        contentType = request.getHeader(b"content-type") or b""
        web = webSubtype(contentType)
        if web is None:
            if grpcSubtype(contentType) is not None:
                return plainText(
                    request,
                    415,
                    b"415 Unsupported Media Type: native gRPC (application/grpc)"
                    b" needs HTTP/2 (h2c with prior knowledge, or h2 over TLS);"
                    b" over HTTP/1.1 use gRPC-Web (application/grpc-web+proto)\n",
                )
            return plainText(
                request,
                415,
                b"415 Unsupported Media Type: a gRPC method: POST"
                b" application/grpc-web+proto (or -text) here, or application/grpc"
                b" over HTTP/2\n",
            )
        text, _ = web
        method = b"/".join(
            [*(request.prepath or [b""])[-1:], *(request.postpath or [])]
        )
        headers = [(b":method", b"POST"), (b":path", b"/" + method)]
        headers.extend(
            (name.lower(), value)
            for name, values in request.requestHeaders.getAllRawHeaders()
            for value in values
        )
        # The call's access-log line, with its status, is the request's.
        request.accessLogged = True  # type: ignore[attr-defined]
        call = self.grpc.call(_WebResponse(request, text), headers, web=True)
        if call.done:
            return NOT_DONE_YET
        request.notifyFinish().addErrback(call.streamLost)
        assert request.content is not None
        body = request.content.read()
        if text:
            try:
                body = decodeText(body)
            except GRPCError as e:
                call.fail(e)
                return NOT_DONE_YET
        call.dataReceived(body)
        call.ended()
        return NOT_DONE_YET

    def render(self, request: Request) -> bytes | int:
        """
        C{POST}; any other method gets C{405}, plain text.
        """
        if request.method == b"POST":
            return self.render_POST(request)
        request.setHeader(b"Allow", b"POST")
        return plainText(
            request,
            405,
            b"405 Method Not Allowed: gRPC and gRPC-Web methods take POST\n",
        )


def webResources(server: GRPCServer) -> dict[bytes, IResource]:
    """
    The gRPC-Web resource of each service, by the path segment it is
    served at (C{grpc.examples.echo.Echo}...), for the site's tree.
    """
    resource = GRPCWebResource(server)
    return {name.encode(): resource for name in server.schema.services}
