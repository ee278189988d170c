# -*- test-case-name: tests.web.httpbin.test_formats -*-
"""
httpbin's fixed documents, encodings and caching routes.

    - C{/html}, C{/json}, C{/xml}, C{/encoding/utf8}, C{/forms/post},
      C{/robots.txt}, C{/deny}: documents written for echohub, in httpbin's
      shapes (C{/json} and C{/xml} are the same sample slide show).  Only
      these documents, which hold nothing a client sent, are ever served
      as HTML or XML.
    - C{/base64/VALUE}, C{/base64/decode/VALUE}, C{/base64/encode/VALUE}:
      URL-safe Base64 decoded or encoded, as plain text.
    - C{/gzip}, C{/deflate}, C{/brotli}: the request's description,
      compressed (C{zlib} for the first two; C{brotli}, an optional extra,
      for the last, which answers C{501} without it).
    - C{/cache}, C{/cache/N}, C{/etag/ETAG}: conditional requests and
      caching headers.
"""

from __future__ import annotations

import binascii
import gzip
import uuid
from base64 import urlsafe_b64decode, urlsafe_b64encode
from collections.abc import Callable
from email.utils import formatdate
from types import ModuleType

from twisted.web.iweb import IRequest

from echohub.web.httpbin._controls import statusResponse
from echohub.web.httpbin._inspection import GET_KEYS, InspectionPolicy, describeRequest
from echohub.web.httpbin._resource import (
    PlainTextResource,
    badRequest,
    jsonBody,
    plainText,
)


def _optionalBrotli() -> ModuleType | None:
    """
    The C{brotli} module of the optional extra, or L{None} without it.
    """
    try:
        import brotli
    except ImportError:
        return None
    return brotli


_brotli = _optionalBrotli()
brotliCompress = None if _brotli is None else _brotli.compress
"""
The brotli compressor of the optional extra, or L{None} without it.
"""

# Pages hold only echohub's own text: no script, inline style, forms to self.
_PAGE_POLICY = b"default-src 'none'; style-src 'unsafe-inline'; form-action 'self'"

SLIDESHOW = {
    "slideshow": {
        "author": "Yours Truly",
        "date": "date of publication",
        "slides": [
            {"title": "Wake up to WonderWidgets!", "type": "all"},
            {
                "items": [
                    "Why <em>WonderWidgets</em> are great",
                    "Who <em>buys</em> WonderWidgets",
                ],
                "title": "Overview",
                "type": "all",
            },
        ],
        "title": "Sample Slide Show",
    }
}

XML_PAGE = b"""<?xml version='1.0' encoding='us-ascii'?>

<!--  A SAMPLE set of slides  -->

<slideshow
    title="Sample Slide Show"
    date="Date of publication"
    author="Yours Truly"
    >

    <!-- TITLE SLIDE -->
    <slide type="all">
      <title>Wake up to WonderWidgets!</title>
    </slide>

    <!-- OVERVIEW -->
    <slide type="all">
        <title>Overview</title>
        <item>Why <em>WonderWidgets</em> are great</item>
        <item/>
        <item>Who <em>buys</em> WonderWidgets</item>
    </slide>

</slideshow>
"""

HTML_PAGE = b"""<!DOCTYPE html>
<html>
  <head><meta charset="utf-8"><title>echohub: a sample page</title></head>
  <body>
    <h1>The echo</h1>
    <div>
      <p>An echo answers with what it was given, no more and no less.  This
      page is a fixed sample document for clients that want HTML to parse:
      a heading, a paragraph or two, a list and a link.</p>
      <ul>
        <li>Line echo over TCP and TLS</li>
        <li>HTTP echo with WebSocket and Server-Sent Events</li>
        <li>httpbin's routes, in httpbin's shapes</li>
      </ul>
      <p>Every sound returns; the canyon keeps none of it.  See
      <a href="anything">how your request arrived</a>.</p>
    </div>
  </body>
</html>
"""

UTF8_PAGE = """<!DOCTYPE html>
<html>
<head><meta charset="utf-8"><title>UTF-8 sample</title></head>
<body>
<h1>UTF-8 encoded sample plain-text file</h1>
<pre>
Latin-1 and beyond:  ¡Hola! Grüße, Ærø, façade, naïve, smørrebrød
Greek:               Καλημέρα κόσμε
Cyrillic:            Здравствуй, мир
Hebrew:              שלום עולם
Arabic:              مرحبا بالعالم
Devanagari:          नमस्ते दुनिया
Chinese:             你好，世界
Japanese:            こんにちは世界
Korean:              안녕하세요 세계
Mathematics:         ∀x∈ℝ: x² ≥ 0,  ∑ 1/n² = π²/6,  ∮ E⋅da = Q/ε₀
Arrows and boxes:    ← ↑ → ↓ ↔  ┌─┬─┐ │ │ │ └─┴─┘
Emoji:               🔁 📣 🏔️
</pre>
</body>
</html>
""".encode()

FORM_PAGE = """<!DOCTYPE html>
<html>
<head><meta charset="utf-8"><title>Order form</title></head>
<body>
<form method="post" action="{prefix}/post">
  <p><label>Customer name: <input name="custname"></label></p>
  <p><label>Telephone: <input type="tel" name="custtel"></label></p>
  <p><label>E-mail address: <input type="email" name="custemail"></label></p>
  <fieldset>
    <legend> Pizza Size </legend>
    <p><label> <input type="radio" name="size" value="small"> Small </label></p>
    <p><label> <input type="radio" name="size" value="medium"> Medium </label></p>
    <p><label> <input type="radio" name="size" value="large"> Large </label></p>
  </fieldset>
  <fieldset>
    <legend> Pizza Toppings </legend>
    <p><label> <input type="checkbox" name="topping" value="bacon"> Bacon </label></p>
    <p><label> <input type="checkbox" name="topping" value="cheese"> Cheese </label></p>
    <p><label> <input type="checkbox" name="topping" value="onion"> Onion </label></p>
    <p><label> <input type="checkbox" name="topping" value="mushroom"> Mushroom
    </label></p>
  </fieldset>
  <p><label>Preferred delivery time: <input type="time" min="11:00" max="21:00"
     step="900" name="delivery"></label></p>
  <p><label>Delivery instructions: <textarea name="comments"></textarea></label></p>
  <p><button>Submit order</button></p>
</form>
</body>
</html>
"""

ROBOTS = b"User-agent: *\nDisallow: /deny\n"

DENY_PAGE = b"""
          .-''''-.
         /  .--.  \\
        |  /    \\  |     YOU SHOULDN'T BE HERE
        |  \\____/  |
         \\        /      (robots.txt said so)
          '-....-'
"""


class Document(PlainTextResource):
    """
    A fixed document with its media type.
    """

    isLeaf = True

    def __init__(self, body: bytes, contentType: bytes) -> None:
        super().__init__()
        self.body = body
        self.contentType = contentType

    def render_GET(self, request: IRequest) -> bytes:
        request.setHeader(b"Content-Type", self.contentType)
        if self.contentType.startswith(b"text/html"):
            request.setHeader(b"Content-Security-Policy", _PAGE_POLICY)
        return self.body


class JSONDocument(PlainTextResource):
    """
    C{/json}: the sample slide show.
    """

    isLeaf = True

    def render_GET(self, request: IRequest) -> bytes:
        return jsonBody(request, SLIDESHOW)


class Base64Resource(PlainTextResource):
    """
    C{/base64/VALUE} and C{/base64/decode/VALUE}: the URL-safe Base64
    C{VALUE} decoded; C{/base64/encode/VALUE}: C{VALUE} encoded.  Always
    plain text (C{nosniff}), whatever the bytes.
    """

    isLeaf = True

    def render_GET(self, request: IRequest) -> bytes:
        postpath = request.postpath
        if len(postpath) == 2 and postpath[0] in (b"encode", b"decode"):
            operation, value = postpath
        elif len(postpath) == 1:
            operation, value = b"decode", postpath[0]
        else:
            return badRequest(
                request, "use /base64/VALUE or /base64/{encode,decode}/VALUE"
            )
        if operation == b"encode":
            return plainText(request, 200, urlsafe_b64encode(value))
        try:
            decoded = urlsafe_b64decode(value + b"=" * (-len(value) % 4))
        except (binascii.Error, ValueError):
            return plainText(
                request, 200, b"Incorrect Base64 data try: SFRUUEJJTiBpcyBhd2Vzb21l"
            )
        return plainText(request, 200, decoded)


def gzipCompress(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=4, mtime=0)


class CompressedResource(PlainTextResource):
    """
    C{/gzip}, C{/deflate}, C{/brotli}: C{{"<flag>": true, "headers", "method",
    "origin"}}, compressed with C{Content-Encoding}.

    @ivar compress: the compressor, or L{None} when its library is absent.
    """

    isLeaf = True

    def __init__(
        self,
        policy: InspectionPolicy,
        flag: str,
        coding: bytes,
        compress: Callable[[bytes], bytes] | None,
    ) -> None:
        super().__init__()
        self.policy = policy
        self.flag = flag
        self.coding = coding
        self.compress = compress

    def render_GET(self, request: IRequest) -> bytes:
        if self.compress is None:
            return plainText(
                request,
                501,
                b"501 Not Implemented: /brotli needs the brotli package"
                b" (pip install 'echohub-server[brotli]')\n",
            )
        facts = describeRequest(
            request, self.policy, ("headers", "method", "origin"), False
        )
        body = jsonBody(request, {self.flag: True, **facts})
        request.setHeader(b"Content-Encoding", self.coding)
        return self.compress(body)


class CacheResource(PlainTextResource):
    """
    C{/cache}: C{304} to a conditional request (C{If-Modified-Since} or
    C{If-None-Match}), else C{/get}'s JSON with C{Last-Modified} and an
    C{ETag}; C{/cache/N}: C{/get}'s JSON, cacheable for N seconds.
    """

    isLeaf = True

    def __init__(self, policy: InspectionPolicy) -> None:
        super().__init__()
        self.policy = policy

    def render_GET(self, request: IRequest) -> bytes:
        postpath = [p for p in request.postpath if p]
        if postpath:
            if len(postpath) != 1 or not postpath[0].isdigit():
                return badRequest(request, "use /cache or /cache/SECONDS")
            body = jsonBody(
                request, describeRequest(request, self.policy, GET_KEYS, False)
            )
            request.setHeader(
                b"Cache-Control", b"public, max-age=%d" % int(postpath[0])
            )
            return body
        since = request.getHeader(b"If-Modified-Since")
        tags = request.getHeader(b"If-None-Match")
        if since or tags:
            # httpbin's: any conditional request is answered 304, with the
            # validators of the copy it holds (RFC 9110 section 15.4.5).
            return notModified(
                request,
                b"public, max-age=0",
                tags.split(b",")[0].strip() if tags else uuid.uuid4().hex.encode(),
                since or formatdate(usegmt=True).encode(),
            )
        body = jsonBody(request, describeRequest(request, self.policy, GET_KEYS, False))
        request.setHeader(b"Cache-Control", b"public, max-age=0")
        request.setHeader(b"Last-Modified", formatdate(usegmt=True).encode())
        request.setHeader(b"ETag", uuid.uuid4().hex.encode())
        return body


def notModified(
    request: IRequest, cacheControl: bytes, etag: bytes, lastModified: bytes | None
) -> bytes:
    """
    Answer C{request} C{304} with the caching fields and validators its
    C{200} would carry, and nothing else (RFC 9110 section 15.4.5; the wire
    drops the content headers).

    @return: the empty body, for a renderer to return.
    """
    request.setResponseCode(304)
    request.setHeader(b"Cache-Control", cacheControl)
    request.setHeader(b"ETag", etag)
    if lastModified is not None:
        request.setHeader(b"Last-Modified", lastModified)
    return b""


def entityTags(header: bytes | None) -> list[bytes]:
    """
    The entity tags of an C{If-Match}/C{If-None-Match} header, without
    quotes or weakness, as httpbin compares them.
    """
    tags = []
    for part in (header or b"").split(b","):
        tag = part.strip().removeprefix(b"W/").strip(b'"')
        if tag:
            tags.append(tag)
    return tags


class ETagResource(PlainTextResource):
    """
    C{/etag/ETAG}: C{304} when C{If-None-Match} lists ETAG (or C{*}),
    C{412} when C{If-Match} does not, else C{/get}'s JSON; always with
    C{ETag: ETAG}, as httpbin sends it.
    """

    isLeaf = True

    def __init__(self, policy: InspectionPolicy) -> None:
        super().__init__()
        self.policy = policy

    def render_GET(self, request: IRequest) -> bytes:
        if len(request.postpath) != 1 or not request.postpath[0]:
            return badRequest(request, "use /etag/ETAG")
        etag: bytes = request.postpath[0]
        noneMatch = entityTags(request.getHeader(b"If-None-Match"))
        match = entityTags(request.getHeader(b"If-Match"))
        if noneMatch:
            if etag in noneMatch or b"*" in noneMatch:
                return notModified(request, b"no-cache", etag, None)
        elif match and etag not in match and b"*" not in match:
            return statusResponse(request, 412)
        body = jsonBody(request, describeRequest(request, self.policy, GET_KEYS, False))
        request.setHeader(b"ETag", etag)
        request.setHeader(b"Cache-Control", b"no-cache")
        return body
