# -*- test-case-name: tests.http.test_h2checks -*-
"""
What echohub checks of an HTTP/2 client, before and beyond C{h2}, without
I/O:

    - L{FrameGate} reads the 9-byte header of every frame before C{h2}
      parses it, and stops the connection (C{GOAWAY}) for:
        - B{floods} C{h2} would process at full cost, each counted against
          L{FLOOD_BUDGETS} per L{FLOOD_WINDOW} seconds: resets (rapid reset,
          CVE-2023-44487), pings, settings, priority or empty frames
          (CVE-2019-9512/9515/9518, 9513), and streams refused over
          C{max_concurrent_streams}; and a header block whose frames add
          up to more than twice the header limits (CONTINUATION flood,
          CVE-2024-27316), before C{h2} would buffer it
          (C{ENHANCE_YOUR_CALM});
        - B{frames on idle streams}: C{DATA}, C{RST_STREAM} or
          C{WINDOW_UPDATE} on a stream the client never opened (RFC 9113
          section 5.1: C{PROTOCOL_ERROR}), which C{h2} lets through once a
          stream was opened;
        - B{a C{SETTINGS} acknowledgement with a payload} (section 6.5:
          C{FRAME_SIZE_ERROR}; C{h2} says C{PROTOCOL_ERROR}).
    - L{requestProblem} and L{trailerProblem} check a request's header list
      (RFC 9113 sections 8.2 and 8.3, and RFC 8441's extended C{CONNECT}),
      which C{h2} is told not to: a malformed request is then a stream
      error (C{RST_STREAM PROTOCOL_ERROR}, section 8.1.1), not the end of
      every other stream.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from h2.errors import ErrorCodes
from twisted.internet.interfaces import IReactorTime

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
"""
The client connection preface (RFC 9113 section 3.4).
"""

FLOOD_WINDOW = 10.0
"""
Seconds over which L{FLOOD_BUDGETS} are counted.
"""

FLOOD_BUDGETS = {
    "RST_STREAM": 200,
    "refused": 200,
    "PING": 100,
    "SETTINGS": 100,
    "PRIORITY": 1000,
    "empty": 100,
}
"""
How many frames of each kind a client may send in L{FLOOD_WINDOW} seconds
before it is told C{ENHANCE_YOUR_CALM}.  C{empty}: C{DATA} without data nor
C{END_STREAM}, C{CONTINUATION} without a header fragment nor
C{END_HEADERS}; C{refused}: streams opened over C{max_concurrent_streams},
each reset with C{REFUSED_STREAM}.  Browsers and curl send a handful of
each per connection; the budgets are generous so that only a flood reaches
them.
"""

_DATA, _HEADERS, _PRIORITY, _RST, _SETTINGS = 0, 1, 2, 3, 4
_PING, _WINDOW_UPDATE, _CONTINUATION = 6, 8, 9
_END_STREAM = _ACK = 0x1
_END_HEADERS = 0x4
_NEEDS_OPEN_STREAM = frozenset((_DATA, _RST, _WINDOW_UPDATE))


class Violation:
    """
    Why a client's connection must end.

    @ivar code: the C{GOAWAY} error code.
    @ivar reason: the label of the rejection counter: C{"flood"} or
        C{"protocol"}.
    @ivar why: for the log.
    """

    __slots__ = ("code", "reason", "why")

    def __init__(self, code: ErrorCodes, reason: str, why: str) -> None:
        self.code = code
        self.reason = reason
        self.why = why

    def __repr__(self) -> str:
        return f"<Violation {self.code.name} {self.reason}: {self.why}>"


class FrameGate:
    """
    Watch the frames a client sends, by their 9-byte headers alone; see the
    module docstring.

    @ivar maxHeaderBlock: the most bytes one header block (C{HEADERS} and
        its C{CONTINUATION}s) may have.
    @ivar inHeaderBlock: a header block has started and not ended.
    @ivar counts: frames of each L{FLOOD_BUDGETS} kind in this window.
    @ivar highestStream: the highest stream the client has opened.
    """

    def __init__(
        self,
        clock: IReactorTime,
        maxHeaderBlock: int,
        budgets: dict[str, int] = FLOOD_BUDGETS,
        window: float = FLOOD_WINDOW,
    ) -> None:
        self._clock = clock
        self.maxHeaderBlock = maxHeaderBlock
        self._budgets = budgets
        self._window = window
        self._windowStart = clock.seconds()
        self.counts = dict.fromkeys(budgets, 0)
        self.inHeaderBlock = False
        self.highestStream = 0
        self._block = 0
        self._head = b""
        self._skip = len(PREFACE)

    def feed(self, data: bytes) -> Violation | None:
        """
        Read the frame headers in C{data}, skipping their payloads.

        @return: why the connection must end, or L{None}.
        """
        pos, end = 0, len(data)
        while pos < end:
            if self._skip:
                step = min(self._skip, end - pos)
                self._skip -= step
                pos += step
                continue
            piece = data[pos : pos + 9 - len(self._head)]
            pos += len(piece)
            head = self._head + piece
            if len(head) < 9:
                self._head = head
                break
            self._head = b""
            length = int.from_bytes(head[:3], "big")
            self._skip = length
            stream = int.from_bytes(head[5:9], "big") & 0x7FFFFFFF
            violation = self._frame(head[3], head[4], length, stream)
            if violation is not None:
                return violation
        return None

    def _frame(
        self, kind: int, flags: int, length: int, stream: int
    ) -> Violation | None:
        if kind == _HEADERS or kind == _CONTINUATION:
            if kind == _HEADERS:
                self._block = length
                if stream & 1 and stream > self.highestStream:
                    self.highestStream = stream
            else:
                self._block += length
            if self._block > self.maxHeaderBlock:
                return self._calm(f"a header block over {self.maxHeaderBlock} bytes")
            ended = bool(flags & _END_HEADERS)
            self.inHeaderBlock = not ended
            if kind == _CONTINUATION and not length and not ended:
                return self._count("empty")
            return None
        if (
            kind in _NEEDS_OPEN_STREAM
            and stream
            and (not stream & 1 or stream > self.highestStream)
        ):
            return Violation(
                ErrorCodes.PROTOCOL_ERROR,
                "protocol",
                f"a frame of type {kind} on idle stream {stream}",
            )
        if kind == _DATA:
            if not length and not flags & _END_STREAM:
                return self._count("empty")
        elif kind == _RST:
            return self._count("RST_STREAM")
        elif kind == _PRIORITY:
            return self._count("PRIORITY")
        elif kind == _SETTINGS or kind == _PING:
            if flags & _ACK:
                if kind == _SETTINGS and length:
                    return Violation(
                        ErrorCodes.FRAME_SIZE_ERROR,
                        "protocol",
                        "a SETTINGS acknowledgement with a payload",
                    )
            else:
                return self._count("PING" if kind == _PING else "SETTINGS")
        return None

    def count(self, kind: str) -> Violation | None:
        """
        Count one of C{kind}, a key of L{FLOOD_BUDGETS}.

        @return: why the client must calm down, or L{None}.
        """
        return self._count(kind)

    def _count(self, kind: str) -> Violation | None:
        now = self._clock.seconds()
        if now - self._windowStart >= self._window:
            self._windowStart = now
            self.counts = dict.fromkeys(self._budgets, 0)
        self.counts[kind] += 1
        if self.counts[kind] > self._budgets[kind]:
            return self._calm(
                f"over {self._budgets[kind]} {kind} frames in {self._window:g} s"
            )
        return None

    @staticmethod
    def _calm(why: str) -> Violation:
        return Violation(ErrorCodes.ENHANCE_YOUR_CALM, "flood", why)


_NAME = re.compile(rb"[\x21-\x39\x3b-\x40\x5b-\x7e]+\Z")
"""
A field name as RFC 9113 section 8.2.1 bounds it: visible characters, no
upper case, no colon (wider than a token, as HTTP/1.1's field names here).
"""

_BAD_VALUE = re.compile(rb"[\x00\r\n]|\A[ \t]|[ \t]\Z")
"""
What a field value must not hold: NUL, CR, LF, or whitespace at either end
(section 8.2.1).
"""

_CONNECTION_SPECIFIC = frozenset(
    (
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"transfer-encoding",
        b"upgrade",
    )
)

_REQUEST_PSEUDO = frozenset((b":method", b":scheme", b":path", b":authority"))
_EXTENDED_CONNECT_PSEUDO = _REQUEST_PSEUDO | {b":protocol"}


def _fieldProblem(name: bytes, value: bytes) -> str | None:
    if _NAME.match(name) is None:
        return f"field name {name!r} is not lower-case visible characters"
    if _BAD_VALUE.search(value) is not None:
        return f"field {name.decode('ascii')} has a forbidden character"
    if name in _CONNECTION_SPECIFIC:
        return f"connection-specific field {name.decode('ascii')}"
    if name == b"te" and value != b"trailers":
        return "te other than trailers"
    return None


def requestProblem(
    headers: Sequence[tuple[bytes, bytes]],
    ended: bool = False,
    extendedConnect: bool = False,
) -> str | None:
    """
    What makes a request's header list malformed (RFC 9113 sections 8.1.1,
    8.2, 8.2.1, 8.2.2, 8.3 and 8.3.1), or L{None}: field names and values,
    connection-specific fields, C{te}, the pseudo-headers (only the request
    ones, each once, before every regular field; C{:method}, C{:scheme} and
    a non-empty C{:path}, but for C{CONNECT}), and a C{content-length}
    other than C{0} on a request whose headers end it (C{ended}).

    @param extendedConnect: whether the connection advertised
        C{SETTINGS_ENABLE_CONNECT_PROTOCOL} (RFC 8441 section 3): then
        C{:protocol} is a request pseudo-header, on a C{CONNECT} only, which
        then needs C{:scheme}, C{:path} and C{:authority} (section 4);
        without it C{:protocol} is as unknown as any other.
    """
    known = _EXTENDED_CONNECT_PSEUDO if extendedConnect else _REQUEST_PSEUDO
    seen: set[bytes] = set()
    regular = False
    for name, value in headers:
        if name[:1] == b":":
            if regular:
                return f"pseudo-header {name.decode('ascii', 'replace')} after a field"
            if name not in known:
                return f"pseudo-header {name.decode('ascii', 'replace')} in a request"
            if name in seen:
                return f"pseudo-header {name.decode('ascii')} twice"
            if _BAD_VALUE.search(value) is not None:
                return f"pseudo-header {name.decode('ascii')} has a forbidden character"
            seen.add(name)
            if name == b":path" and not value:
                return "an empty :path"
            continue
        regular = True
        problem = _fieldProblem(name, value)
        if problem is not None:
            return problem
        if ended and name == b"content-length" and value.lstrip(b"0"):
            return "a content-length without the content"
    if b":method" not in seen:
        return "no :method"
    method = next(value for name, value in headers if name == b":method")
    if b":protocol" in seen:
        if method != b"CONNECT":
            return ":protocol on a request other than CONNECT"
        if not seen >= _REQUEST_PSEUDO:
            return "an extended CONNECT needs :scheme, :path and :authority"
        return None
    if method == b"CONNECT":
        if b":authority" not in seen or seen & {b":scheme", b":path"}:
            return "a CONNECT request needs :authority and no :scheme or :path"
        return None
    for required in (b":scheme", b":path"):
        if required not in seen:
            return f"no {required.decode('ascii')}"
    return None


def trailerProblem(headers: Sequence[tuple[bytes, bytes]]) -> str | None:
    """
    What makes a trailer section malformed (no pseudo-header, section 8.1;
    fields as in a request), or L{None}.
    """
    for name, value in headers:
        if name[:1] == b":":
            return f"pseudo-header {name.decode('ascii', 'replace')} in trailers"
        problem = _fieldProblem(name, value)
        if problem is not None:
            return problem
    return None
