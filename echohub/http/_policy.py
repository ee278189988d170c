# -*- test-case-name: tests.http.test_policy -*-
"""
The one HTTP policy: every limit, refusal, deadline and response rule of
the wire, declared once and used by HTTP/1.1 (L{echohub.http._channel}) and
HTTP/2 (L{echohub.http._h2}) alike.  A new limit is one edit here; each
version only says how its refusal goes on the wire (a response and a
lingering close; a response on the stream and C{RST_STREAM}).

    - B{Limits} (L{HTTPLimits}): the request line or C{:path}
      (C{max_request_line}, C{414}), the header section
      (C{max_header_bytes} and C{max_headers}, C{431}; an HTTP/2 field is
      counted as the C{name: value} line HTTP/1.1 would send), the body
      (C{max_body}, C{413}, announced or growing).
    - B{Refusals} (L{Refusal}): the status, the plain-text body that names
      the setting, the log line (rate-limited) and the rejection counter's
      label of each; L{MALFORMED}, L{URI_TOO_LONG}, L{HEADERS_TOO_LARGE},
      L{BODY_TOO_LARGE}, L{HEADERS_TIMEOUT}, L{BODY_TIMEOUT},
      L{OVER_CAPS}, L{VERSION_NOT_SUPPORTED}, and for an HTTP/2 extended
      C{CONNECT} no route takes, L{UNKNOWN_PROTOCOL} and L{NO_TUNNEL}.
    - B{Deadlines}: the headers within C{header_timeout} of the connection
      (or of a later request's first byte), not extended by progress; the
      body by L{BodyClock}'s rule; a connection with nothing moving closed
      after C{idle_timeout} (L{IdleTimer}).
    - B{Responses without content} (L{bodilessHeaders}): no
      C{Content-Length} on a C{1xx} or C{204} (RFC 9110 section 8.6), and
      no content metadata on a C{304}, which carries the validators and
      caching fields its C{200} would (section 15.4.5).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.web.http_headers import Headers
from twisted.web.iweb import IRequest

from echohub.config import WebConfig
from echohub.ops import Reason

PLAIN_TEXT = b"text/plain; charset=utf-8"
"""
The content type of every answer the wire or a resource writes for a human:
never C{text/html}, so that nothing echoed can run as a page.
"""


def plainText(request: IRequest, code: int, body: bytes) -> bytes:
    """
    Make C{request}'s response a plain-text one with status C{code}.

    @return: C{body}, for a renderer to return.
    """
    request.setResponseCode(code)
    request.setHeader(b"Content-Type", PLAIN_TEXT)
    return body


@dataclass(frozen=True)
class HTTPLimits:
    """
    The deadlines and size limits of one site's connections, both HTTP
    versions.

    @ivar headerTimeout: seconds for the request line and headers, or
        L{None} for no deadline.
    @ivar bodyTimeout: seconds a body may go without a byte, and the grace
        before L{bodyMinRate} applies; L{None} for no deadline.
    @ivar bodyMinRate: the average rate, in bytes per second, a body must
        keep up after its first L{bodyTimeout} seconds; C{0} for none.
    @ivar idleTimeout: seconds with nothing moving before a connection is
        closed, or L{None} for never.
    @ivar maxRequestLine: the longest request line (HTTP/2: C{:path}), in
        bytes.
    @ivar maxHeaderBytes: the largest header section, in bytes, each field
        counted as the line C{name: value CRLF}.
    @ivar maxHeaders: the most header fields.
    @ivar maxBody: the largest request body, in bytes.
    """

    headerTimeout: float | None = 20.0
    bodyTimeout: float | None = 20.0
    bodyMinRate: int = 1000
    idleTimeout: float | None = 60.0
    maxRequestLine: int = 8192
    maxHeaderBytes: int = 16384
    maxHeaders: int = 100
    maxBody: int = 1024 * 1024

    @classmethod
    def fromConfig(cls, config: WebConfig) -> HTTPLimits:
        """
        The limits C{config} sets; a timeout of C{0} means none.
        """
        return cls(
            headerTimeout=config.header_timeout or None,
            bodyTimeout=config.body_timeout or None,
            bodyMinRate=config.body_min_rate,
            idleTimeout=config.idle_timeout or None,
            maxRequestLine=config.max_request_line,
            maxHeaderBytes=config.max_header_bytes,
            maxHeaders=config.max_headers,
            maxBody=config.max_body,
        )

    def headRefusal(
        self, target: int, headerBytes: int, headers: int
    ) -> Refusal | None:
        """
        The refusal of a request head whose target (or request line) is
        C{target} bytes long, with C{headers} fields making C{headerBytes}
        bytes; L{None} if it is within the limits.
        """
        if target > self.maxRequestLine:
            return URI_TOO_LONG
        if headerBytes > self.maxHeaderBytes or headers > self.maxHeaders:
            return HEADERS_TOO_LARGE
        return None

    def parameters(self) -> dict[str, object]:
        """
        What a refusal's body and log line may name.
        """
        return {
            "max_request_line": self.maxRequestLine,
            "max_header_bytes": self.maxHeaderBytes,
            "max_headers": self.maxHeaders,
            "max_body": self.maxBody,
            "header_timeout": self.headerTimeout or 0,
            "body_timeout": self.bodyTimeout or 0,
            "body_min_rate": self.bodyMinRate,
        }


@dataclass(frozen=True)
class Refusal:
    """
    A request the wire answers itself, with an error, whatever the HTTP
    version.

    @ivar status: the status code.
    @ivar phrase: its reason phrase.
    @ivar reason: the label of C{echohub_rejections_total} it is counted
        under, or C{""} if it is counted elsewhere (the caps count their
        own refusals).
    @ivar log: the log line (rate-limited, one per reason and interval):
        C{{service}} and C{{peer}}, L{HTTPLimits.parameters} and the
        refusal's own parameters are filled in.
    @ivar body: the plain-text answer for a person, naming the setting.
    """

    status: int
    phrase: bytes
    reason: str
    log: str
    body: str

    def answer(self, limits: HTTPLimits, **parameters: object) -> bytes:
        """
        The body of the answer.
        """
        return self.body.format(**limits.parameters(), **parameters).encode("utf-8")

    @property
    def statusLine(self) -> bytes:
        """
        The status and phrase, as an HTTP/1.1 status line has them.
        """
        return b"%d %s" % (self.status, self.phrase)


MALFORMED = Refusal(
    400,
    b"Bad Request",
    Reason.MALFORMED,
    "{service}: {peer} sent a malformed {version} request ({why}); answered 400",
    "400 Bad Request: malformed HTTP request ({why})\n",
)
URI_TOO_LONG = Refusal(
    414,
    b"URI Too Long",
    Reason.TOO_LONG,
    "{service}: {peer} sent a {version} request target over {max_request_line}"
    " bytes; answered 414",
    "414 URI Too Long: request lines are limited to {max_request_line} bytes"
    " (max_request_line)\n",
)
HEADERS_TOO_LARGE = Refusal(
    431,
    b"Request Header Fields Too Large",
    Reason.TOO_LONG,
    "{service}: {peer} sent {version} request headers over the limits; answered 431",
    "431 Request Header Fields Too Large: headers are limited to"
    " {max_header_bytes} bytes (max_header_bytes) and {max_headers} lines"
    " (max_headers)\n",
)
BODY_TOO_LARGE = Refusal(
    413,
    b"Content Too Large",
    Reason.TOO_LONG,
    "{service}: {peer} sent a {version} request body over {max_body} bytes;"
    " answered 413",
    "413 Content Too Large: request bodies are limited to {max_body} bytes"
    " (max_body)\n",
)
HEADERS_TIMEOUT = Refusal(
    408,
    b"Request Timeout",
    Reason.TIMEOUT,
    "{service}: {peer} sent no complete {version} request headers within"
    " {header_timeout:g} s (header_timeout); answered 408",
    "408 Request Timeout: the request headers must arrive within"
    " {header_timeout:g} s (header_timeout)\n",
)
BODY_TIMEOUT = Refusal(
    408,
    b"Request Timeout",
    Reason.TIMEOUT,
    "{service}: {peer} stopped sending a {version} request body, or sent it too"
    " slowly, after {received} bytes (body_timeout {body_timeout:g} s,"
    " body_min_rate {body_min_rate} bytes/s); answered 408",
    "408 Request Timeout: the request body stopped arriving, or arrived too"
    " slowly (body_timeout {body_timeout:g} s, body_min_rate {body_min_rate}"
    " bytes/s)\n",
)
OVER_CAPS = Refusal(
    503,
    b"Service Unavailable",
    "",
    "",
    "503 Service Unavailable: too many connections ({cap}); try again later\n",
)
VERSION_NOT_SUPPORTED = Refusal(
    505,
    b"HTTP Version Not Supported",
    Reason.MALFORMED,
    "{service}: {peer} asked for {version}; answered 505",
    "505 HTTP Version Not Supported: this server speaks HTTP/1.0, HTTP/1.1"
    " and HTTP/2\n",
)
UNKNOWN_PROTOCOL = Refusal(
    501,
    b"Not Implemented",
    "",
    "",
    "501 Not Implemented: this server takes extended CONNECT (RFC 8441) for"
    " :protocol {known} only, not {protocol}\n",
)
NO_TUNNEL = Refusal(
    404,
    b"Not Found",
    "",
    "",
    "404 Not Found: nothing at this :path takes an extended CONNECT for"
    " :protocol {protocol}\n",
)


class BodyClock:
    """
    The body rule, the same for both versions: a body may go no more than
    C{bodyTimeout} seconds without a byte, and after its first
    C{bodyTimeout} seconds must have kept up an average of C{bodyMinRate}
    bytes per second.  A stalled upload ends after C{bodyTimeout} however
    much it sent before; a trickle ends once it falls behind the rate.

    Without I/O: the shell asks L{due} when to look again and L{expired}
    whether the body is late.

    @ivar received: the body bytes received.
    """

    def __init__(self, limits: HTTPLimits, now: float) -> None:
        self._timeout = limits.bodyTimeout
        self._rate = limits.bodyMinRate
        self._started = self._last = now
        self.received = 0

    def progressed(self, size: int, now: float) -> None:
        """
        C{size} more bytes arrived at C{now}.
        """
        if size:
            self.received += size
            self._last = now

    def due(self) -> float | None:
        """
        When the body is late unless more arrives, or L{None} for never.
        """
        if self._timeout is None:
            return None
        due = self._last + self._timeout
        if self._rate:
            due = min(due, self._started + self._timeout + self.received / self._rate)
        return due

    def expired(self, now: float) -> bool:
        """
        Whether the body is late at C{now}.
        """
        due = self.due()
        return due is not None and now >= due


class Deadline:
    """
    One timer, re-armed for whichever deadline applies.

    A new deadline re-arms the same L{IDelayedCall} (L{IDelayedCall.reset},
    which for a later time only records it) rather than cancelling it and
    scheduling another: for small requests that was a measurable share of
    each.
    """

    def __init__(self, clock: IReactorTime) -> None:
        self._clock = clock
        self._call: IDelayedCall | None = None
        self.handler: Callable[[], None] | None = None
        """
        What runs when the deadline passes, or L{None} if none is set.
        """

    def arm(self, seconds: float, handler: Callable[[], None]) -> None:
        """
        Run C{handler} in C{seconds}, instead of any deadline set.
        """
        self.handler = handler
        call = self._call
        if call is not None and call.active():
            call.reset(seconds)
        else:
            self._call = self._clock.callLater(seconds, self._passed)

    def clear(self) -> None:
        """
        No deadline from now on; the timer, if any, stays for the next
        deadline and does nothing if it fires first.
        """
        self.handler = None

    def stop(self) -> None:
        """
        No deadline and no timer.
        """
        self.handler = None
        call, self._call = self._call, None
        if call is not None and call.active():
            call.cancel()

    def _passed(self) -> None:
        handler, self.handler, self._call = self.handler, None, None
        if handler is not None:
            handler()


class IdleTimer:
    """
    The idle rule, the same for both versions: a connection on which
    nothing moved for C{idleTimeout} seconds (no byte received, no response
    byte sent) is closed, unless a request is in the application's hands
    and not blocked on the peer (a C{/delay}, a slow stream).  A response
    the peer does not read, or whose flow-control window it keeps shut, is
    blocked on the peer: it does not keep the connection open.

    Activity is recorded (L{touch}) without touching the timer; the timer
    looks at the time of the last activity when it fires.
    """

    def __init__(
        self,
        clock: IReactorTime,
        timeout: float | None,
        busy: Callable[[], bool],
        expired: Callable[[], None],
    ) -> None:
        """
        @param busy: whether a request is in the application's hands and
            not blocked on the peer.
        @param expired: close the connection.
        """
        self._clock = clock
        self._timeout = timeout
        self._busy = busy
        self._expired = expired
        self._last = clock.seconds()
        self._call: IDelayedCall | None = None
        if timeout is not None:
            self._call = clock.callLater(timeout, self._check)

    def touch(self, now: float | None = None) -> None:
        """
        Something moved, at C{now} (by default, the clock's now).
        """
        self._last = self._clock.seconds() if now is None else now

    def stop(self) -> None:
        """
        Stop watching.
        """
        call, self._call = self._call, None
        if call is not None and call.active():
            call.cancel()

    def _check(self) -> None:
        self._call = None
        assert self._timeout is not None
        now = self._clock.seconds()
        if self._busy():
            self._last = now
        remaining = self._last + self._timeout - now
        if remaining > 0:
            self._call = self._clock.callLater(remaining, self._check)
            return
        self._expired()


_CONTENT_METADATA = (
    b"content-length",
    b"content-type",
    b"content-encoding",
    b"content-language",
    b"content-range",
    b"transfer-encoding",
)


def bodilessHeaders(code: int, headers: Headers) -> None:
    """
    Remove from C{headers} what a response with status C{code} must not
    carry: C{Content-Length} on C{1xx} and C{204} (RFC 9110 section 8.6);
    the content metadata (length, type, coding, language, range) on C{304},
    which carries only the validators and caching fields its C{200} would
    (section 15.4.5), since it has no content of its own.  twisted.web
    adds C{Content-Length: 0} to every response a resource rendered as
    bytes, these included.
    """
    if code == 304:
        for name in _CONTENT_METADATA:
            headers.removeHeader(name)
    elif code == 204 or 100 <= code < 200:
        headers.removeHeader(b"content-length")
