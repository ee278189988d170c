# -*- test-case-name: tests.http.test_h2 -*-
"""
The frames an HTTP/2 client sends, watched by their 9-byte headers alone
before C{h2} parses them (L{FrameMeter}): the floods C{h2} would process at
full cost, counted against L{FLOOD_BUDGETS}.
"""

from __future__ import annotations

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

_HEADERS, _CONTINUATION, _DATA, _RST, _PRIORITY, _SETTINGS, _PING = 1, 9, 0, 3, 2, 4, 6
_END_STREAM = _ACK = 0x1
_END_HEADERS = 0x4


class FrameMeter:
    """
    Watch the frames a client sends, by their 9-byte headers alone, for the
    floods C{h2} would process at full cost.

    @ivar maxHeaderBlock: the most bytes one header block (C{HEADERS} and
        its C{CONTINUATION}s) may have.
    @ivar inHeaderBlock: a header block has started and not ended.
    @ivar counts: frames of each L{FLOOD_BUDGETS} kind in this window.
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
        self._block = 0
        self._head = b""
        self._skip = len(PREFACE)

    def feed(self, data: bytes) -> str | None:
        """
        Read the frame headers in C{data}, skipping their payloads.

        @return: why the client must calm down, or L{None}.
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
            why = self._frame(head[3], head[4], length)
            if why is not None:
                return why
        return None

    def _frame(self, kind: int, flags: int, length: int) -> str | None:
        if kind == _HEADERS or kind == _CONTINUATION:
            self._block = length if kind == _HEADERS else self._block + length
            if self._block > self.maxHeaderBlock:
                return f"a header block over {self.maxHeaderBlock} bytes"
            ended = bool(flags & _END_HEADERS)
            self.inHeaderBlock = not ended
            if kind == _CONTINUATION and not length and not ended:
                return self._count("empty")
        elif kind == _DATA:
            if not length and not flags & _END_STREAM:
                return self._count("empty")
        elif kind == _RST:
            return self._count("RST_STREAM")
        elif kind == _PRIORITY:
            return self._count("PRIORITY")
        elif kind == _SETTINGS or kind == _PING:
            if not flags & _ACK:
                return self._count("PING" if kind == _PING else "SETTINGS")
        return None

    def count(self, kind: str) -> str | None:
        """
        Count one of C{kind}, a key of L{FLOOD_BUDGETS}.

        @return: why the client must calm down, or L{None}.
        """
        return self._count(kind)

    def _count(self, kind: str) -> str | None:
        now = self._clock.seconds()
        if now - self._windowStart >= self._window:
            self._windowStart = now
            self.counts = dict.fromkeys(self._budgets, 0)
        self.counts[kind] += 1
        if self.counts[kind] > self._budgets[kind]:
            return f"over {self._budgets[kind]} {kind} frames in {self._window:g} s"
        return None
