# -*- test-case-name: tests.web.httpbin.test_routes -*-
"""
Every httpbin and go-httpbin route echohub serves, in one table: the first
path segment of each and the resource that serves it (and everything
below it), one line a route, as go-httpbin's C{Handler()} registers its
own.  The handlers are in their own modules; their limits come from the
one L{WebConfig} and L{InspectionPolicy} handed down here.
"""

from __future__ import annotations

import zlib

from twisted.internet.interfaces import IReactorTime
from twisted.web.resource import IResource

from echohub.config import WebConfig
from echohub.http import PLAIN_TEXT
from echohub.web.httpbin._auth import BasicAuth, Bearer, DigestAuth
from echohub.web.httpbin._controls import (
    BytesResource,
    DelayResource,
    ResponseHeadersResource,
    StatusResource,
)
from echohub.web.httpbin._cookies import CookiesResource
from echohub.web.httpbin._formats import (
    DENY_PAGE,
    FORM_PAGE,
    HTML_PAGE,
    ROBOTS,
    UTF8_PAGE,
    XML_PAGE,
    Base64Resource,
    CacheResource,
    CompressedResource,
    Document,
    ETagResource,
    JSONDocument,
    brotliCompress,
    gzipCompress,
)
from echohub.web.httpbin._generators import (
    Drip,
    JSONLines,
    Links,
    RangeResource,
    StreamBytes,
)
from echohub.web.httpbin._httpbin import (
    FactResource,
    MethodResource,
    TrailersResource,
    UnstableResource,
    UploadResource,
    echohubVersion,
)
from echohub.web.httpbin._images import ImageResource, loadImages
from echohub.web.httpbin._inspection import (
    BODY_KEYS,
    GET_KEYS,
    AnythingResource,
    DumpRequestResource,
    HeadersResource,
    InspectionPolicy,
    IPResource,
    UserAgentResource,
)
from echohub.web.httpbin._redirects import CountedRedirect, RedirectTo
from echohub.web.httpbin._resource import directory
from echohub.web.httpbin._streaming import ServerSentEventsResource, StreamResource

HTML = b"text/html; charset=utf-8"


def httpbinRoutes(
    config: WebConfig, policy: InspectionPolicy, clock: IReactorTime
) -> dict[bytes, IResource]:
    """
    The routes, by first path segment.

    @param config: the web settings (every route's limits).
    @param policy: what inspection shows, and the URL prefix.
    @param clock: the reactor for delays, drips and streams.
    """
    prefix = policy.prefix
    count, interval = config.max_stream_count, config.max_stream_interval
    hops = config.max_redirects
    form = FORM_PAGE.replace("{prefix}", prefix).encode()
    return {
        # HTTP methods
        b"get": MethodResource(policy, (b"GET", b"HEAD"), GET_KEYS),
        b"head": MethodResource(policy, (b"GET", b"HEAD"), GET_KEYS),
        b"post": MethodResource(policy, (b"POST",), BODY_KEYS),
        b"put": MethodResource(policy, (b"PUT",), BODY_KEYS),
        b"patch": MethodResource(policy, (b"PATCH",), BODY_KEYS),
        b"delete": MethodResource(policy, (b"DELETE",), BODY_KEYS),
        b"upload": UploadResource(policy),
        # Request inspection
        b"anything": AnythingResource(policy),
        b"dump": directory(b"request", DumpRequestResource(policy.showSensitive)),
        b"headers": HeadersResource(policy),
        b"ip": IPResource(policy),
        b"user-agent": UserAgentResource(),
        # Response control
        b"status": StatusResource(prefix=prefix),
        b"delay": DelayResource(clock, config.max_delay, policy),
        b"bytes": BytesResource(clock, config.max_body),
        b"response-headers": ResponseHeadersResource(),
        b"unstable": UnstableResource(),
        b"trailers": TrailersResource(policy),
        # Streams and generated data
        b"stream": StreamResource(clock, count, interval, policy),
        b"sse": ServerSentEventsResource(clock, count, interval),
        b"drip": Drip(clock, config, policy),
        b"range": RangeResource(clock, config, policy),
        b"stream-bytes": StreamBytes(clock, config, policy),
        b"jsonl": JSONLines(clock, config, policy),
        b"links": Links(clock, config, policy),
        # Authentication
        b"basic-auth": BasicAuth(),
        b"hidden-basic-auth": BasicAuth(hidden=True),
        b"bearer": Bearer(),
        b"digest-auth": DigestAuth(prefix),
        # Cookies and redirects
        b"cookies": CookiesResource(prefix),
        b"redirect": CountedRedirect("redirect", policy, hops),
        b"relative-redirect": CountedRedirect("relative-redirect", policy, hops),
        b"absolute-redirect": CountedRedirect("absolute-redirect", policy, hops),
        b"redirect-to": RedirectTo(config.allowed_redirect_domains),
        # Documents, encodings, caching
        b"html": Document(HTML_PAGE, HTML),
        b"xml": Document(XML_PAGE, b"application/xml"),
        b"json": JSONDocument(),
        b"encoding": directory(b"utf8", Document(UTF8_PAGE, HTML)),
        b"forms": directory(b"post", Document(form, HTML)),
        b"robots.txt": Document(ROBOTS, PLAIN_TEXT),
        b"deny": Document(DENY_PAGE, PLAIN_TEXT),
        b"base64": Base64Resource(),
        b"gzip": CompressedResource(policy, "gzipped", b"gzip", gzipCompress),
        b"deflate": CompressedResource(policy, "deflated", b"deflate", zlib.compress),
        b"brotli": CompressedResource(policy, "brotli", b"br", brotliCompress),
        b"cache": CacheResource(policy),
        b"etag": ETagResource(policy),
        b"image": ImageResource(loadImages()),
        # Facts
        b"uuid": FactResource(),
        b"env": FactResource({"env": {}}),
        b"hostname": FactResource({"hostname": "echohub"}),
        b"version": FactResource({"service": "echohub", "version": echohubVersion()}),
    }
