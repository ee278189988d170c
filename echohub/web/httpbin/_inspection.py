# -*- test-case-name: tests.web.httpbin.test_inspection -*-
"""
Request inspection: C{/anything}, C{/headers}, C{/ip} and C{/user-agent}
answer with what the server saw of the request, as JSON in the shapes of
httpbin.

The JSON is built by L{describeRequest}, which every httpbin-style route
reuses (C{/get}, C{/post}, C{/delay}, C{/stream}...), each choosing its keys
as httpbin does.  httpbin's keys (C{args}, C{data}, C{files}, C{form},
C{headers}, C{json}, C{method}, C{origin}, C{url}) keep httpbin's meaning;
echohub's own facts (C{path}, C{client}, C{server}, C{tls},
C{sensitive_headers}) are additional keys of C{/anything}.

Single values are strings and repeated ones lists, as Flask httpbin gives
them and client suites expect; C{[web] value_lists} makes every value a list,
as go-httpbin does.  C{Authorization}, C{Proxy-Authorization} and C{Cookie}
values are replaced by a note unless C{[web] show_sensitive_headers} is on:
an echo service is often reached through proxies and shared in screenshots,
and a token shown once is a token leaked.  The JSON says which it did.
C{origin} is the peer's address; its C{X-Forwarded-For} is believed only
when the peer is one of C{[web] trusted_proxies}.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network
from typing import Any
from urllib.parse import parse_qsl

from twisted.internet.address import IPv4Address, IPv6Address
from twisted.web.iweb import IRequest

from echohub.config import WebConfig
from echohub.http import HIDDEN, SENSITIVE_HEADERS, rawRequestHead
from echohub.tls import tlsFacts
from echohub.web.httpbin._forms import BodyError, parseBody, textOrDataURL
from echohub.web.httpbin._resource import (
    ECHO_HEADERS,
    PLAIN_TEXT,
    PlainTextResource,
    jsonBody,
    plainText,
)

# httpbin's keys, in the order /anything lists them.
ANYTHING_KEYS = (
    "args",
    "data",
    "files",
    "form",
    "headers",
    "json",
    "method",
    "origin",
    "url",
)
# The keys of /get and of the routes that answer like it.
GET_KEYS = ("args", "headers", "origin", "url")
# The keys of /post, /put, /patch and /delete.
BODY_KEYS = ("args", "data", "files", "form", "headers", "json", "origin", "url")


@dataclass(frozen=True)
class InspectionPolicy:
    """
    How requests are described: the C{[web]} settings that shape the JSON.

    @ivar showSensitive: show credential and cookie header values.
    @ivar valueLists: every value a list (go-httpbin) rather than a string
        for a single one (Flask httpbin).
    @ivar trustedProxies: peers whose C{X-Forwarded-For} is believed.
    @ivar maxFormParts: most parts or fields of a form body.
    @ivar prefix: the URL path the site is mounted under, C{""} or C{/x}.
    """

    showSensitive: bool = False
    valueLists: bool = False
    trustedProxies: tuple[IPv4Network | IPv6Network, ...] = ()
    maxFormParts: int = 100
    prefix: str = ""

    @classmethod
    def fromConfig(cls, config: WebConfig) -> InspectionPolicy:
        """
        The policy of the C{[web]} settings.

        @raise ValueError: a trusted proxy is not an address or network.
        """
        stripped = config.prefix.strip("/")
        return cls(
            showSensitive=config.show_sensitive_headers,
            valueLists=config.value_lists,
            trustedProxies=tuple(
                ip_network(p, strict=False) for p in config.trusted_proxies
            ),
            maxFormParts=config.max_form_parts,
            prefix="/" + stripped if stripped else "",
        )

    def values(self, pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
        """
        Name-value pairs as JSON: each name to its value, or to the list of
        its values when repeated or when L{valueLists} is on.
        """
        grouped: dict[str, list[str]] = {}
        for name, value in pairs:
            grouped.setdefault(name, []).append(value)
        if self.valueLists:
            return dict(grouped)
        return {k: v[0] if len(v) == 1 else v for k, v in grouped.items()}

    def isTrusted(self, host: str | None) -> bool:
        """
        Whether C{host} is one of the trusted proxies.
        """
        if host is None or not self.trustedProxies:
            return False
        try:
            address = ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in self.trustedProxies)


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


def headers(request: IRequest, policy: InspectionPolicy) -> dict[str, Any]:
    """
    The request headers, each name to its value: repeated headers joined
    with C{","} as one field, as every httpbin joins them (Werkzeug's
    server, gunicorn) and clients' suites expect (RFC 9110 section 5.3
    allows either), or every value in a list under
    L{InspectionPolicy.valueLists}.

    Twisted keeps the values and their order but not the case of a header
    name: names come back in Twisted's canonical capitalisation.
    """
    result: dict[str, Any] = {}
    for name, values in request.requestHeaders.getAllRawHeaders():
        if not policy.showSensitive and name.lower() in SENSITIVE_HEADERS:
            texts = [HIDDEN for _ in values]
        else:
            texts = [_text(v) for v in values]
        result[_text(name)] = texts if policy.valueLists else ",".join(texts)
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


def queryPairs(query: bytes) -> list[tuple[str, str]]:
    """
    Query or form arguments as (name, value) pairs, blank ones kept, as
    C{parse_qsl} gives them; a query with nothing to unquote (no C{%}, no
    C{+}) is split without it, at a fraction of the cost.
    """
    text = _text(query)
    if "%" in text or "+" in text:
        return parse_qsl(text, keep_blank_values=True, errors="replace")
    pairs = []
    for field in text.split("&"):
        if field:
            name, _, value = field.partition("=")
            pairs.append((name, value))
    return pairs


def origin(request: IRequest, policy: InspectionPolicy) -> str | None:
    """
    The client's address as httpbin's C{origin}: the peer's, unless the
    peer is a trusted proxy, in which case the C{X-Forwarded-For} chain is
    walked from the right past every trusted proxy to the first address
    that is not one (the leftmost when all are), so that a client cannot
    choose its origin by sending the header itself.
    """
    host: str | None = getattr(request.getClientAddress(), "host", None)
    forwarded = request.requestHeaders.getRawHeaders(b"X-Forwarded-For")
    if not forwarded or not policy.isTrusted(host):
        return host
    chain = [h.strip() for v in forwarded for h in _text(v).split(",") if h.strip()]
    for hop in reversed(chain):
        host = hop
        if not policy.isTrusted(hop):
            break
    return host


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


def requestBody(request: IRequest) -> bytes:
    """
    The whole request body, however much of it was read before.
    """
    if request.content is None:
        return b""
    request.content.seek(0)
    body: bytes = request.content.read()
    return body


def describeRequest(
    request: IRequest,
    policy: InspectionPolicy,
    keys: Sequence[str] = ANYTHING_KEYS,
    extras: bool = True,
) -> dict[str, Any]:
    """
    What httpbin reports about C{request}, under the C{keys} a route lists,
    plus echohub's own facts when C{extras}.

    @raise BodyError: a form body with more parts than allowed.
    """
    path, _, query = request.uri.partition(b"?")
    facts: dict[str, Any] = {}
    if {"data", "files", "form", "json"} & set(keys):
        body = parseBody(
            requestBody(request),
            request.getHeader(b"Content-Type"),
            policy.maxFormParts,
        )
        facts["data"] = textOrDataURL(body.data, body.mediaType)
        facts["files"] = policy.values(body.files)
        facts["form"] = policy.values(body.form)
        facts["json"] = body.json
    facts["args"] = policy.values(queryPairs(query))
    facts["headers"] = headers(request, policy)
    facts["method"] = _text(request.method)
    facts["origin"] = origin(request, policy)
    facts["url"] = fullURL(request)
    result = {key: facts[key] for key in keys}
    if extras:
        result.update(
            {
                # "HTTP/1.1", "HTTP/1.0", or "HTTP/2" from echohub.http._h2.
                "protocol": _text(request.clientproto),  # type: ignore[attr-defined]
                "path": _text(path),
                "raw_headers": rawHeaders(request, policy.showSensitive),
                "sensitive_headers": "shown" if policy.showSensitive else "hidden",
                "client": _address(request.getClientAddress()),
                "server": _address(request.getHost()),
                # IRequest does not declare it, but every Request has its
                # channel's.
                "tls": tlsFacts(getattr(request, "transport", None)),
            }
        )
    return result


def describeOrRefuse(
    request: IRequest,
    policy: InspectionPolicy,
    keys: Sequence[str] = ANYTHING_KEYS,
    extras: bool = False,
) -> dict[str, Any] | bytes:
    """
    L{describeRequest}, or the response body of the plain-text refusal of
    a form body beyond the limits (C{413}).
    """
    try:
        return describeRequest(request, policy, keys, extras)
    except BodyError as e:
        return plainText(request, 413, f"413 Content Too Large: {e}\n".encode())


class AnythingResource(PlainTextResource):
    """
    C{/anything} and C{/anything/<any path>}: any method, answered with
    L{describeRequest}.
    """

    anyMethod = True
    isLeaf = True

    def __init__(self, policy: InspectionPolicy) -> None:
        super().__init__()
        self.policy = policy

    def respond(self, request: IRequest, method: bytes) -> bytes:
        facts = describeOrRefuse(request, self.policy, extras=True)
        if isinstance(facts, bytes):
            return facts
        return jsonBody(request, facts)


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
        body = requestBody(request)
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

    def __init__(self, policy: InspectionPolicy) -> None:
        super().__init__()
        self.policy = policy

    def render_GET(self, request: IRequest) -> bytes:
        return jsonBody(request, {"headers": headers(request, self.policy)})


class IPResource(PlainTextResource):
    """
    C{/ip}: the client's address, as httpbin's C{origin} (L{origin}), and
    the peer's port.
    """

    def __init__(self, policy: InspectionPolicy) -> None:
        super().__init__()
        self.policy = policy

    def render_GET(self, request: IRequest) -> bytes:
        port = getattr(request.getClientAddress(), "port", None)
        return jsonBody(request, {"origin": origin(request, self.policy), "port": port})


class UserAgentResource(PlainTextResource):
    """
    C{/user-agent}: the C{User-Agent} header, L{None} when there was none.
    """

    def render_GET(self, request: IRequest) -> bytes:
        agent = request.getHeader(b"User-Agent")
        return jsonBody(
            request, {"user-agent": None if agent is None else _text(agent)}
        )
