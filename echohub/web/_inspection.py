# -*- test-case-name: tests.web.test_inspection -*-
"""
Request inspection: C{/anything}, C{/headers}, C{/ip} and C{/user-agent}
answer with what the server saw of the request, as JSON.

The JSON is built by L{describeRequest}, which C{/delay} and C{/stream}
reuse.  C{Authorization}, C{Proxy-Authorization} and C{Cookie} values are
replaced by a note unless C{[web] show_sensitive_headers} is on: an echo
service is often reached through proxies and shared in screenshots, and a
token shown once is a token leaked.  The JSON says which it did.
"""

from __future__ import annotations

import json
from base64 import b64encode
from typing import Any
from urllib.parse import parse_qs

from twisted.internet.address import IPv4Address, IPv6Address
from twisted.web.iweb import IRequest
from twisted.web.resource import IResource

from echohub.tls import tlsFacts
from echohub.web._channel import rawRequestHead
from echohub.web._resource import (
    ECHO_HEADERS,
    PLAIN_TEXT,
    NotFound,
    PlainTextResource,
    jsonBody,
)

SENSITIVE_HEADERS = frozenset({b"authorization", b"proxy-authorization", b"cookie"})
HIDDEN = "(hidden: set [web] show_sensitive_headers to show it)"


def _text(value: bytes) -> str:
    """
    Decode header, path and query bytes for JSON.  HTTP does not say they
    are UTF-8; bytes that are not come back as U+FFFD.
    """
    return value.decode("utf-8", "replace")


def _address(address: object) -> dict[str, Any]:
    """
    An address as JSON: host and port for IP, the type name otherwise
    (a UNIX socket has no host).
    """
    if isinstance(address, IPv4Address | IPv6Address):
        return {"host": address.host, "port": address.port}
    return {"type": type(address).__name__}


def headers(request: IRequest, showSensitive: bool) -> dict[str, list[str]]:
    """
    The request headers, each name to its values in the order received.

    Twisted keeps the values and their order but not the case of a header
    name: names come back in Twisted's canonical capitalisation.
    """
    result: dict[str, list[str]] = {}
    for name, values in request.requestHeaders.getAllRawHeaders():
        if not showSensitive and name.lower() in SENSITIVE_HEADERS:
            result[_text(name)] = [HIDDEN for _ in values]
        else:
            result[_text(name)] = [_text(v) for v in values]
    return result


def rawHeaders(request: IRequest, showSensitive: bool) -> list[list[str]] | None:
    """
    The request's header fields as C{[name, value]} pairs in the order and
    case received, duplicates kept; L{None} when the channel kept none.
    """
    head = rawRequestHead(request)
    if head is None:
        return None
    return [
        [
            _text(name),
            HIDDEN
            if not showSensitive and name.lower() in SENSITIVE_HEADERS
            else _text(value),
        ]
        for name, value in head.headers
    ]


def _args(query: bytes) -> dict[str, list[str]]:
    """
    Query or form arguments, each name to all its values, blank ones kept.
    """
    return parse_qs(_text(query), keep_blank_values=True, errors="replace")


def bodyFacts(body: bytes, contentType: bytes | None) -> dict[str, Any]:
    """
    The body as JSON can carry it, and parsed when its type says how.

    @return: C{data}: the body as text when it is UTF-8, else a
        C{data:<type>;base64,...} URL; C{json}: the parsed body for a JSON
        type, else L{None}; C{form}: the fields of a
        C{application/x-www-form-urlencoded} body, else L{None}.
    """
    mediaType = (contentType or b"").split(b";", 1)[0].strip().lower()
    try:
        data = body.decode("utf-8")
    except UnicodeDecodeError:
        label = _text(mediaType) or "application/octet-stream"
        data = f"data:{label};base64,{b64encode(body).decode('ascii')}"
    parsedJSON: Any = None
    if mediaType == b"application/json" or mediaType.endswith(b"+json"):
        try:
            parsedJSON = json.loads(body)
        except ValueError:
            parsedJSON = None
    form = None
    if mediaType == b"application/x-www-form-urlencoded":
        form = _args(body)
    return {"data": data, "json": parsedJSON, "form": form}


def fullURL(request: IRequest) -> str:
    """
    The URL the client asked for, from the scheme of this connection, the
    C{Host} header (the server's address without one) and the target.
    """
    scheme = "https" if request.isSecure() else "http"
    host = request.getHeader(b"Host")
    if host is None:
        address = request.getHost()
        host = f"{address.host}:{address.port}".encode()
    return f"{scheme}://{_text(host)}{_text(request.uri)}"


def describeRequest(request: IRequest, showSensitive: bool) -> dict[str, Any]:
    """
    Everything C{/anything} reports about C{request}.
    """
    path, _, query = request.uri.partition(b"?")
    body = b""
    if request.content is not None:
        request.content.seek(0)
        body = request.content.read()
    return {
        "method": _text(request.method),
        # "HTTP/1.1", "HTTP/1.0", or "HTTP/2" from echohub.web._h2.
        "protocol": _text(request.clientproto),  # type: ignore[attr-defined]
        "url": fullURL(request),
        "path": _text(path),
        "args": _args(query),
        "headers": headers(request, showSensitive),
        "raw_headers": rawHeaders(request, showSensitive),
        "sensitive_headers": "shown" if showSensitive else "hidden",
        "body": bodyFacts(body, request.getHeader(b"Content-Type")),
        "client": _address(request.getClientAddress()),
        "server": _address(request.getHost()),
        # IRequest does not declare it, but every Request has its channel's.
        "tls": tlsFacts(getattr(request, "transport", None)),
    }


class AnythingResource(PlainTextResource):
    """
    C{/anything} and C{/anything/<any path>}: any method, answered with
    L{describeRequest}.
    """

    anyMethod = True
    isLeaf = True

    def __init__(self, showSensitive: bool) -> None:
        super().__init__()
        self.showSensitive = showSensitive

    def respond(self, request: IRequest, method: bytes) -> bytes:
        return jsonBody(request, describeRequest(request, self.showSensitive))


class DumpRequestResource(PlainTextResource):
    """
    C{/dump/request} (go-httpbin's name), any method: the request's head
    exactly as received (L{rawRequestHead}: the bytes, case, order,
    duplicates, whitespace and line ends), then its body, as plain text.

    The values of C{Authorization}, C{Proxy-Authorization} and C{Cookie}
    lines are replaced by a note unless C{[web] show_sensitive_headers} is
    on, as in C{/anything}; every other byte is the client's.
    """

    anyMethod = True
    isLeaf = True

    def __init__(self, showSensitive: bool) -> None:
        super().__init__()
        self.showSensitive = showSensitive

    def respond(self, request: IRequest, method: bytes) -> bytes:
        head = rawRequestHead(request)
        dump = b"" if head is None else head.head
        if not self.showSensitive and head is not None:
            dump = self._hideSensitive(dump)
        body = b""
        if request.content is not None:
            request.content.seek(0)
            body = request.content.read()
        request.setHeader(b"Content-Type", PLAIN_TEXT)
        for name, value in ECHO_HEADERS:
            request.setHeader(name, value)
        return dump + body

    @staticmethod
    def _hideSensitive(head: bytes) -> bytes:
        lines = head.split(b"\n")
        for index, line in enumerate(lines):
            name, colon, value = line.partition(b":")
            if colon and name.strip().lower() in SENSITIVE_HEADERS:
                end = b"\r" if value.endswith(b"\r") else b""
                lines[index] = name + b": " + HIDDEN.encode() + end
        return b"\n".join(lines)


class HeadersResource(PlainTextResource):
    """
    C{/headers}: just the request headers.
    """

    def __init__(self, showSensitive: bool) -> None:
        super().__init__()
        self.showSensitive = showSensitive

    def render_GET(self, request: IRequest) -> bytes:
        return jsonBody(request, {"headers": headers(request, self.showSensitive)})


class IPResource(PlainTextResource):
    """
    C{/ip}: the client's address, as httpbin's C{origin}.
    """

    def render_GET(self, request: IRequest) -> bytes:
        address = request.getClientAddress()
        host = getattr(address, "host", None)
        return jsonBody(
            request, {"origin": host, "port": getattr(address, "port", None)}
        )


class UserAgentResource(PlainTextResource):
    """
    C{/user-agent}: the C{User-Agent} header, L{None} when there was none.
    """

    def render_GET(self, request: IRequest) -> bytes:
        agent = request.getHeader(b"User-Agent")
        return jsonBody(
            request, {"user-agent": None if agent is None else _text(agent)}
        )


def inspectionResources(showSensitive: bool) -> dict[bytes, IResource]:
    """
    The inspection resources, by the path segment each is served at.
    """
    dump = NotFound()
    dump.putChild(b"request", DumpRequestResource(showSensitive))
    return {
        b"anything": AnythingResource(showSensitive),
        b"dump": dump,
        b"headers": HeadersResource(showSensitive),
        b"ip": IPResource(),
        b"user-agent": UserAgentResource(),
    }
