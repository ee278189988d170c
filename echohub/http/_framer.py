# -*- test-case-name: tests.http.test_framer -*-
"""
HTTP/1.1 request framing without I/O, as h11 frames: bytes in
(L{RequestFramer.receive}), events out (L{RequestFramer.next}): a
L{RequestHead}, L{Body} pieces, L{END}, or L{Refused} with the one policy's
refusal (L{echohub.http._policy}).  The channel
(L{echohub.http._channel}) only moves bytes, timers and requests.

One request at a time: after its L{END} the framer gives L{PAUSED} until
the channel says the response is done and the connection goes on
(L{RequestFramer.nextRequest}); bytes that arrive meanwhile are kept
unparsed.  After a closing response the channel never asks, so nothing
behind it is ever read as a request; after a refusal nothing more is.

Framing is the request's own, whatever else it says:

    - B{The body is framed by C{Content-Length} or C{chunked} alone.}  A
      request with C{Upgrade} (C{h2c}, C{websocket}, anything) has its body
      read as its body; only a C{101} the site sends switches protocols,
      and then the channel takes the bytes after the request
      (L{RequestFramer.rest}).  llhttp, the parser of Node.js, checks each
      head (tokens, field values, no obs-fold, C{Content-Length} with
      C{Transfer-Encoding}, two lengths, a signed length,
      C{Transfer-Encoding} other than a final C{chunked}, whitespace before
      a colon); it never sees a body, so its notion of an upgrade (the end
      of HTTP on the connection) cannot make a body the next request.
    - B{Chunked bodies} are decoded here, strictly (RFC 9112 section 7.1):
      hexadecimal sizes of at most 16 digits (from 2**63 on, malformed),
      extensions by the grammar, C{CRLF} after each chunk's data, a trailer
      section of well-formed fields within the header limits; anything else
      is C{400}.
    - B{Versions} (RFC 9110 section 2.5): C{HTTP/1.0} and C{HTTP/1.1} as
      they are; a later C{HTTP/1.x} is served as C{HTTP/1.1}; any other
      major version (C{HTTP/2.0}, C{HTTP/0.9}, C{HTTP/3.0}) gets C{505}.
    - B{Persistence} (RFC 9112 section 9.3): C{HTTP/1.1} unless the client
      says C{Connection: close}; C{HTTP/1.0} only with C{Connection:
      keep-alive}.
    - B{Exactly one valid C{Host}} for C{HTTP/1.1}, at most one for
      C{HTTP/1.0}; an absolute-form target's authority replaces it.
    - B{Limits}: a request line over C{max_request_line} gets C{414} as soon
      as it passes it; a header section over C{max_header_bytes} or with
      more than C{max_headers} lines C{431}, as soon as it does; a body
      announced or growing over C{max_body} C{413}, before it is read.
"""

from __future__ import annotations

import re

import httptools

from echohub.http._policy import (
    BODY_TOO_LARGE,
    HEADERS_TOO_LARGE,
    MALFORMED,
    URI_TOO_LONG,
    VERSION_NOT_SUPPORTED,
    HTTPLimits,
    Refusal,
)

HUGE_CHUNK = 2**63
"""
Chunk sizes from here on are malformed rather than merely too large: no
client has such a body, and other parsers in a chain may overflow on them.
"""

CHUNK_LINE = 1024
"""
The longest chunk-size line, extensions included.
"""

_METHODS = frozenset(
    [b"GET", b"HEAD", b"POST", b"PUT", b"DELETE", b"OPTIONS", b"PATCH", b"TRACE"]
)
"""
Methods given to llhttp as they are.  llhttp knows only a fixed list of
methods and refuses others; RFC 9110 allows any token, so another method is
checked by llhttp as C{PUT} and handed on as sent.
"""

_TOKEN = rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_REQUEST_LINE = re.compile(rb"(" + _TOKEN + rb") ([^ ]+) HTTP/([0-9])\.([0-9])\Z")
_HOST = re.compile(rb"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~!$&'()*+;=%-]*)(:[0-9]*)?\Z")
"""
One C{Host} (RFC 9112 section 3.2): a name, an IPv4 address or a bracketed
IPv6 address, and an optional port.  A comma is not allowed although RFC
3986 would: it would make the value a list of hosts.
"""
_ABSOLUTE = re.compile(rb"[A-Za-z][A-Za-z0-9+.-]*://([^/?#]*)")
_QUOTED = rb'"(?:[\t !#-\[\]-~\x80-\xff]|\\[\t -~\x80-\xff])*"'
_CHUNK_SIZE = re.compile(
    rb"([0-9A-Fa-f]{1,16})"
    rb"((?:[ \t]*;[ \t]*" + _TOKEN + rb"(?:[ \t]*=[ \t]*(?:" + _TOKEN + rb"|"
    rb"" + _QUOTED + rb"))?)*)\r\n\Z"
)
"""
A chunk-size line (RFC 9112 section 7.1.1): the size and any extensions,
which are checked and ignored.
"""
_INVALID_NAME = "Invalid header token"
"""
llhttp's reason for a field name that is not a token.
"""
_VALUE = rb"(?:[\x21-\x7e\x80-\xff]+(?:[ \t]+[\x21-\x7e\x80-\xff]+)*)?"
_WIDE_FIELD = re.compile(rb"[!-9;-~]+:[ \t]*" + _VALUE + rb"[ \t]*\Z")
"""
A field line with a name of any visible characters but the colon.
"""
_NOT_TOKEN = re.compile(rb"[^!#$%&'*+\-.^_`|~0-9A-Za-z]")
_FIELD = re.compile(
    _TOKEN + rb":[ \t]*(?:[\x21-\x7e\x80-\xff]+(?:[ \t]+[\x21-\x7e\x80-\xff]+)*)?"
    rb"[ \t]*\Z"
)
"""
A field line of a trailer section.
"""


class RequestHead:
    """
    A request's head, parsed and checked.

    @ivar method: the method, as sent.
    @ivar target: the target in origin form (an absolute-form target's
        path, its authority in C{Host}).
    @ivar version: what the request is served as: C{b"HTTP/1.1"} or
        C{b"HTTP/1.0"}.
    @ivar headers: the header fields in the order and case received, values
        without surrounding whitespace (C{Host} replaced for an absolute-form
        target).
    @ivar raw: the request line and header section as received, up to and
        including the empty line.
    @ivar length: the C{Content-Length}, if any.
    @ivar chunked: whether the body is chunked.
    @ivar expectContinue: whether the client waits for C{100 Continue}.
    @ivar keepAlive: whether the connection may go on after the response.
    """

    __slots__ = (
        "method",
        "target",
        "version",
        "headers",
        "raw",
        "length",
        "chunked",
        "expectContinue",
        "keepAlive",
    )

    def __init__(
        self,
        method: bytes,
        target: bytes,
        version: bytes,
        headers: list[tuple[bytes, bytes]],
        raw: bytes,
        length: int | None,
        chunked: bool,
        expectContinue: bool,
        keepAlive: bool,
    ) -> None:
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
        self.raw = raw
        self.length = length
        self.chunked = chunked
        self.expectContinue = expectContinue
        self.keepAlive = keepAlive

    @property
    def hasBody(self) -> bool:
        """
        Whether a body follows the head.
        """
        return self.chunked or bool(self.length)


class Body:
    """
    A piece of the current request's body (never empty).
    """

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data


class Refused:
    """
    The request is refused: nothing more is parsed on this connection.

    @ivar refusal: which refusal of the policy.
    @ivar why: for C{400}, what was malformed; for C{505}, the version.
    @ivar head: the head, if it was complete.
    """

    __slots__ = ("refusal", "why", "head")

    def __init__(
        self, refusal: Refusal, why: str = "", head: RequestHead | None = None
    ) -> None:
        self.refusal = refusal
        self.why = why
        self.head = head


class _Marker:
    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return self._name


END = _Marker("END")
"""
The current request is complete.
"""

NEED_DATA = _Marker("NEED_DATA")
"""
Nothing more can be parsed until more bytes arrive.
"""

PAUSED = _Marker("PAUSED")
"""
A request was completed (or refused): nothing more is parsed until
L{RequestFramer.nextRequest}, if ever.
"""

Event = RequestHead | Body | Refused | _Marker

_HEAD, _LENGTH, _CHUNK_SIZE_LINE, _CHUNK_DATA, _CHUNK_END, _TRAILER, _DONE, _REFUSED = (
    range(8)
)


class _BadRequestError(Exception):
    """
    The request is malformed; the message says how.
    """


class RequestFramer:
    """
    Frame the requests of one HTTP/1.x connection; see the module
    docstring.

    @ivar limits: the site's limits.
    """

    def __init__(self, limits: HTTPLimits) -> None:
        self.limits = limits
        self._buffer = b""
        self._state = _HEAD
        self._remaining = 0
        self._received = 0
        self._announced = 0
        self._trailer = 0
        self._trailers = 0
        self._head: RequestHead | None = None
        self._line = b""
        self._parser: httptools.HttpRequestParser | None = None
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []

    @property
    def buffered(self) -> int:
        """
        How many received bytes are not parsed yet.
        """
        return len(self._buffer)

    @property
    def readingHead(self) -> bool:
        """
        Whether the framer waits for a request's head (no request is being
        received or handled).
        """
        return self._state == _HEAD

    @property
    def received(self) -> int:
        """
        The body bytes of the current request received so far.
        """
        return self._received

    def receive(self, data: bytes) -> None:
        """
        Take bytes the client sent.
        """
        if self._state != _REFUSED:
            self._buffer = self._buffer + data if self._buffer else data

    def nextRequest(self) -> None:
        """
        The response to the current request is complete and the connection
        goes on: parse the next request from here.
        """
        if self._state == _DONE:
            self._state = _HEAD
            self._head = None
            self._line = b""

    def rest(self) -> bytes:
        """
        Take the bytes after the current request, for the protocol the
        connection switches to; nothing more is parsed.
        """
        rest, self._buffer = self._buffer, b""
        self._state = _REFUSED
        return rest

    def pendingRequestLine(self) -> tuple[bytes, bytes]:
        """
        The method and target of the request being received, for the access
        log of a refusal: from its head, or from a complete request line in
        the buffer, else empty.
        """
        if self._head is not None:
            return self._head.method, self._head.target
        line = self._line
        if not line:
            end = self._buffer.find(b"\r\n")
            if end > 0:
                line = self._buffer[:end]
        parts = line.split(b" ")
        if len(parts) == 3:
            return parts[0], parts[1]
        return b"", b""

    def next(self) -> Event:
        """
        The next event, or L{NEED_DATA} or L{PAUSED}.
        """
        state = self._state
        try:
            if state == _HEAD:
                return self._nextHead()
            if state == _LENGTH:
                return self._nextLengthBody()
            if state == _DONE or state == _REFUSED:
                return PAUSED
            return self._nextChunked()
        except _BadRequestError as e:
            return self._refuse(MALFORMED, str(e))

    # The head.

    def _nextHead(self) -> Event:
        buffer = self._buffer
        while buffer.startswith(b"\r\n"):
            # Empty lines before a request (RFC 9112 section 2.2).
            buffer = self._buffer = buffer[2:]
        if not buffer:
            return NEED_DATA
        limits = self.limits
        end = buffer.find(b"\r\n\r\n")
        if end < 0 and buffer.count(b"\n") != buffer.count(b"\r\n"):
            # A line that ends in a bare LF would never end the head.
            raise _BadRequestError("a line ends in LF without CR")
        lineEnd = buffer.find(b"\r\n", 0, limits.maxRequestLine + 2)
        if lineEnd < 0:
            if len(buffer) > limits.maxRequestLine:
                return self._refuse(URI_TOO_LONG)
            return NEED_DATA
        headerBytes = (end + 2 if end >= 0 else len(buffer)) - (lineEnd + 2)
        if headerBytes > limits.maxHeaderBytes:
            return self._refuse(HEADERS_TOO_LARGE)
        if end < 0:
            if buffer.count(b"\r\n", lineEnd + 2) > limits.maxHeaders:
                return self._refuse(HEADERS_TOO_LARGE)
            return NEED_DATA
        raw = buffer[: end + 4]
        if raw.count(b"\r\n", lineEnd + 2) - 1 > limits.maxHeaders:
            return self._refuse(HEADERS_TOO_LARGE)
        self._buffer = buffer[end + 4 :]
        self._line = raw[:lineEnd]
        return self._parseHead(raw, lineEnd)

    def _parseHead(self, raw: bytes, lineEnd: int) -> Event:
        line = _REQUEST_LINE.match(raw, 0, lineEnd)
        if line is None:
            raise _BadRequestError("the request line is not METHOD TARGET HTTP/x.y")
        method, target, major, minor = line.groups()
        if major != b"1":
            return self._refuse(
                VERSION_NOT_SUPPORTED, f"HTTP/{major.decode()}.{minor.decode()}"
            )
        version = b"HTTP/1.0" if minor == b"0" else b"HTTP/1.1"
        checked = raw
        if method not in _METHODS or minor > b"1":
            checked = b"%s %s %s%s" % (
                method if method in _METHODS else b"PUT",
                target,
                version,
                raw[lineEnd:],
            )
        headers = self._check(checked)
        return self._headParsed(method, target, version, headers, raw)

    def _check(self, head: bytes) -> list[tuple[bytes, bytes]]:
        """
        Have llhttp check C{head} and collect its fields.  Its parser is
        kept for the next head only when this one completed a request
        without a body (llhttp then expects the next request); otherwise it
        would take what follows for a body.
        """
        parser = self._parser
        if parser is None:
            parser = httptools.HttpRequestParser(self)
        self._parser = None
        headers: list[tuple[bytes, bytes]] = []
        self._headers = headers
        try:
            parser.feed_data(head)
        except httptools.HttpParserUpgrade:
            # llhttp ends HTTP at an upgrade request's head: not here.
            return headers
        except httptools.HttpParserCallbackError:
            raise  # a bug of ours, not the client's
        except httptools.HttpParserError as e:
            if str(e) == _INVALID_NAME:
                return self._checkWideNames(head)
            raise _BadRequestError(str(e) or "rejected by the parser") from None
        self._parser = parser
        return headers

    def _checkWideNames(self, head: bytes) -> list[tuple[bytes, bytes]]:
        """
        Check a head whose field names llhttp refused: accepted if every
        field line is a name of visible characters but the colon (wider
        than RFC 9110's token, as httpbin and nginx accept C{baz[]}), a
        colon, and a value of visible characters, spaces and tabs.  llhttp
        checks the rest strictly with those names masked (their other
        characters as C{_}), and the fields keep their names as sent.
        Whitespace in or after a name, control characters, a bare CR and
        obs-fold stay malformed.
        """
        lines = head.split(b"\r\n")
        names = []
        for i in range(1, len(lines) - 2):
            if _WIDE_FIELD.match(lines[i]) is None:
                raise _BadRequestError(_INVALID_NAME)
            name, colon, rest = lines[i].partition(b":")
            names.append(name)
            lines[i] = _NOT_TOKEN.sub(b"_", name) + colon + rest
        parser = httptools.HttpRequestParser(self)
        headers: list[tuple[bytes, bytes]] = []
        self._headers = headers
        try:
            parser.feed_data(b"\r\n".join(lines))
        except httptools.HttpParserUpgrade:
            pass
        except httptools.HttpParserCallbackError:
            raise
        except httptools.HttpParserError as e:
            raise _BadRequestError(str(e) or "rejected by the parser") from None
        return [(name, value) for name, (_, value) in zip(names, headers, strict=True)]

    def on_url(self, url: bytes) -> None:
        """
        llhttp: a piece of the target (already taken from the request line).
        """

    def on_header(self, name: bytes, value: bytes) -> None:
        """
        llhttp: one header field; it drops the whitespace before a value but
        not after it.
        """
        self._headers.append((name, value.rstrip(b" \t")))

    def _headParsed(
        self,
        method: bytes,
        target: bytes,
        version: bytes,
        headers: list[tuple[bytes, bytes]],
        raw: bytes,
    ) -> Event:
        hosts = 0
        length: int | None = None
        chunked = expectContinue = False
        connection: list[bytes] = []
        for name, value in headers:
            lowered = name.lower()
            if lowered == b"host":
                hosts += 1
                if _HOST.match(value) is None:
                    raise _BadRequestError("Host is not one host")
            elif lowered == b"content-length":
                length = int(value)
            elif lowered == b"transfer-encoding":
                chunked = True
            elif lowered == b"connection":
                connection.extend(t.strip().lower() for t in value.split(b","))
            elif lowered == b"expect" and value.lower() == b"100-continue":
                expectContinue = True
        if hosts > 1 or (not hosts and version == b"HTTP/1.1"):
            raise _BadRequestError("an HTTP/1.1 request needs exactly one Host")
        if chunked:
            if version == b"HTTP/1.0":
                raise _BadRequestError("HTTP/1.0 has no Transfer-Encoding")
            # llhttp refuses a request with both; this one is framed as chunked.
            length = None
        if version == b"HTTP/1.1":
            keepAlive = b"close" not in connection
        else:
            keepAlive = b"keep-alive" in connection
        absolute = _ABSOLUTE.match(target)
        if absolute is not None:
            # The absolute form (RFC 9112 section 3.2.2): the target's
            # authority replaces Host, and the rest is the path.
            authority = absolute.group(1)
            headers = [(n, v) for n, v in headers if n.lower() != b"host"]
            headers.append((b"Host", authority))
            target = target[absolute.end() :]
            if not target.startswith(b"/"):
                target = b"/" + target
        head = self._head = RequestHead(
            method,
            target,
            version,
            headers,
            raw,
            length,
            chunked,
            expectContinue,
            keepAlive,
        )
        self._received = self._announced = 0
        if chunked or length or not keepAlive:
            # llhttp now expects a body, or nothing more.
            self._parser = None
        if length is not None and length > self.limits.maxBody:
            return self._refuse(BODY_TOO_LARGE)
        if chunked:
            self._state = _CHUNK_SIZE_LINE
        else:
            self._state = _LENGTH
            self._remaining = length or 0
        return head

    # The body.

    def _nextLengthBody(self) -> Event:
        buffer = self._buffer
        if not self._remaining:
            self._state = _DONE
            return END
        if not buffer:
            return NEED_DATA
        return self._piece(buffer)

    def _piece(self, buffer: bytes) -> Body:
        """
        The body bytes in C{buffer}, up to what remains of the body or the
        chunk: the whole buffer without a copy when it is all body.
        """
        if len(buffer) <= self._remaining:
            piece, self._buffer = buffer, b""
        else:
            piece = buffer[: self._remaining]
            self._buffer = buffer[self._remaining :]
        self._remaining -= len(piece)
        self._received += len(piece)
        return Body(piece)

    def _nextChunked(self) -> Event:
        while True:
            state = self._state
            buffer = self._buffer
            if state == _CHUNK_DATA:
                if not buffer:
                    return NEED_DATA
                body = self._piece(buffer)
                if not self._remaining:
                    self._state = _CHUNK_END
                return body
            if state == _CHUNK_END:
                if len(buffer) < 2:
                    if buffer and buffer != b"\r":
                        raise _BadRequestError("chunk data not followed by CRLF")
                    return NEED_DATA
                if not buffer.startswith(b"\r\n"):
                    raise _BadRequestError("chunk data not followed by CRLF")
                self._buffer = buffer[2:]
                self._state = _CHUNK_SIZE_LINE
                continue
            end = buffer.find(b"\n")
            if end < 0:
                limit = CHUNK_LINE if state == _CHUNK_SIZE_LINE else self._trailerRoom()
                if len(buffer) > limit:
                    if state == _TRAILER:
                        return self._refuse(HEADERS_TOO_LARGE)
                    raise _BadRequestError("chunk-size line too long")
                return NEED_DATA
            line = buffer[: end + 1]
            self._buffer = buffer[end + 1 :]
            if state == _CHUNK_SIZE_LINE:
                refused = self._chunkSize(line)
                if refused is not None:
                    return refused
                continue
            if line == b"\r\n":
                self._state = _DONE
                return END
            self._trailer += len(line)
            self._trailers += 1
            if self._trailerRoom() < 0 or self._trailers > self.limits.maxHeaders:
                return self._refuse(HEADERS_TOO_LARGE)
            if not line.endswith(b"\r\n") or _FIELD.match(line, 0, end - 1) is None:
                raise _BadRequestError("malformed trailer field")

    def _trailerRoom(self) -> int:
        return self.limits.maxHeaderBytes - self._trailer

    def _chunkSize(self, line: bytes) -> Refused | None:
        """
        Check a chunk-size line before any of its chunk: C{400} for a
        malformed one or a size from L{HUGE_CHUNK} on, C{413} for a body
        that would pass the limit.
        """
        match = _CHUNK_SIZE.match(line)
        if match is None:
            raise _BadRequestError("malformed chunk-size line")
        size = int(match.group(1), 16)
        if size >= HUGE_CHUNK:
            raise _BadRequestError("chunk size out of range")
        if self._announced + size > self.limits.maxBody:
            return self._refuse(BODY_TOO_LARGE)
        self._announced += size
        if size == 0:
            self._state = _TRAILER
            self._trailer = self._trailers = 0
        else:
            self._state = _CHUNK_DATA
            self._remaining = size
        return None

    def _refuse(self, refusal: Refusal, why: str = "") -> Refused:
        self._state = _REFUSED
        self._parser = None
        return Refused(refusal, why, self._head)
