# -*- test-case-name: tests.line.test_protocol -*-
"""
The line-echo protocol: every complete line a client sends comes back byte
for byte.

Why not L{twisted.protocols.basic.LineReceiver}: it splits on C{\\r\\n} (so
netcat's C{\\n} lines are never delivered), does per-line Python work, and
silently drops the connection at its length limit.  L{LineEcho} instead
echoes, per read, the longest prefix that ends in C{\\n} with one write: the
bytes that come back are exactly the complete lines received, in order, with
no per-line work unless a read is long enough to hold an over-long line.

Guarantees, each pinned by a test in C{tests/line/test_protocol.py}; the
connection's life (caps, backpressure, timeouts, drain, lingering close,
access log) is L{echohub.line._base.EchoConnection}'s:

    - Half-close: a client that shuts down its sending side gets every
      complete line echoed, then its unterminated last line, then EOF.
    - Backpressure, idle and close timeouts: as for every TCP echo (see
      L{echohub.line._base}).
    - Over-long lines: the lines before it are echoed, then one C{ERROR} line
      naming the limit, then a lingering close (L{echohub.ops.Lingering}):
      the rest of the line, which the client is likely still sending, is
      read and discarded, so the client reads the C{ERROR} line instead of
      a reset.
    - Faults on demand: on a listener with C{faults=client}, a first line
      C{FAULT DESCRIPTION} (L{echohub.faults}) is consumed, never echoed,
      and puts the connection under that fault; a bad one gets one
      C{ERROR fault ...} line and a lingering close.  Any other first line,
      and a C{FAULT} line on any other listener, is an ordinary line.
"""

from __future__ import annotations

from echohub.config import LineConfig
from echohub.faults import FaultError
from echohub.line._base import DRAIN_GRACE as DRAIN_GRACE
from echohub.line._base import EchoConnection, EchoFactory
from echohub.ops import RECEIVE_BUFFER, RECEIVE_VIEW, Reason, fastWrite

DELIMITER = b"\n"

FAULT_PREFIX = b"FAULT "
"""
How a client's first line asks for a fault.
"""

MAX_FAULT_LINE = 1024
"""
The longest C{FAULT} line, newline included.
"""


def findOverlongLine(data: bytes, maxLength: int) -> int:
    """
    Find the first line in C{data} longer than C{maxLength}.

    C{data} must end with the delimiter.  Lines are checked a window of
    C{maxLength + 1} bytes at a time rather than one by one, so short lines
    cost no Python work each.

    @return: the offset at which the first over-long line starts, or C{-1}
        when every line is at most C{maxLength} bytes, delimiter excluded.
    """
    start = 0
    end = len(data)
    while end - start > maxLength + 1:
        lastInWindow = data.rfind(DELIMITER, start, start + maxLength + 1)
        if lastInWindow == -1:
            return start
        start = lastInWindow + 1
    return -1


COUNT_BY_FIND = 8
"""
How many newlines L{countLines} finds one at a time before it counts the
rest with C{bytes.count}.
"""

COUNT_BY_SCAN = 4096
"""
Below how many bytes L{countLines} just counts.
"""


def countLines(data: bytes | bytearray, end: int | None = None) -> int:
    """
    Count the newlines in C{data} (up to C{end}), exactly, without scanning
    it byte by byte in the common cases.

    C{bytes.count} of one byte is a plain loop over every byte (about 17 us
    per 64 KiB, a large part of a core at the rate long lines arrive), while
    C{bytes.find} of one byte is C{memchr}, many times faster.  So the first
    L{COUNT_BY_FIND} newlines are found one by one: a read of a few long
    lines costs that many C{memchr} calls; a read of many short lines, which
    is small per line anyway, has its remainder counted by C{bytes.count},
    and a read shorter than L{COUNT_BY_SCAN} is simply counted.

    @return: C{data.count(b"\n", 0, end)}.
    """
    if end is None:
        end = len(data)
    if end < COUNT_BY_SCAN:
        return data.count(DELIMITER, 0, end)
    find = data.find
    count = 0
    start = 0
    while count < COUNT_BY_FIND:
        start = find(DELIMITER, start, end) + 1
        if not start:
            return count
        count += 1
    return count + data.count(DELIMITER, start, end)


class LineEcho(EchoConnection):
    """
    Echo each complete C{\\n}-terminated line back to the client.

    @ivar _pending: chunks of the current, unterminated line.  A list rather
        than a growing bytes object, so a line arriving a byte at a time costs
        linear, not quadratic, time.
    @ivar _pendingLength: the total length of C{_pending}.
    """

    factory: LineEchoFactory

    def __init__(self, config: LineConfig) -> None:
        super().__init__(config)
        self._maxLength = config.max_line_length
        self._pending: list[bytes] = []
        self._pendingLength = 0
        self._firstLine = b""
        self._awaitingFault = False

    def connectionMade(self) -> None:
        """
        On a listener that takes client faults, the first line decides
        whether one is asked for.
        """
        super().connectionMade()
        policy = self.factory.faults
        self._awaitingFault = self._admitted and policy is not None and policy.client

    def refusal(self, reason: str) -> bytes:
        """
        A refused line client is told why in one C{ERROR} line.
        """
        return b"ERROR too many connections (%s); try again later\n" % (
            reason.encode("ascii"),
        )

    def dataReceived(self, data: bytes) -> None:
        """
        Echo the complete lines in C{data}, keep the unterminated rest.
        """
        if self._closing:
            if self._linger is not None:  # lingering close
                self._linger.discard(data)
            return
        if self._awaitingFault:
            data = self._faultLine(data)
            if not data:
                return
        self.bytesIn += len(data)
        self._lastInput = self._seconds()
        end = data.rfind(DELIMITER) + 1
        if not end:
            self._pending.append(data)
            self._pendingLength += len(data)
            if self._pendingLength > self._maxLength:
                self._lineTooLong(b"")
            return

        lines = data[:end]
        if self._pending:
            self._pending.append(lines)
            lines = b"".join(self._pending)
            self._pending = []
        rest = data[end:]
        self._pendingLength = len(rest)
        if rest:
            self._pending.append(rest)

        if len(lines) > self._maxLength + 1:
            overlong = findOverlongLine(lines, self._maxLength)
            if overlong != -1:
                self._lineTooLong(lines[:overlong])
                return
        self._write(lines)
        self.echoed += countLines(lines)
        if self._pendingLength > self._maxLength:
            self._lineTooLong(b"")

    def bufferReceived(self, size: int) -> None:
        """
        Echo the complete lines among the first C{size} bytes of
        L{RECEIVE_BUFFER} straight from it, joined to the partial line
        waiting if any, and keep a copy of the unterminated rest.

        That is L{dataReceived}'s work with fewer copies, for a read too
        short to hold an over-long line but for its first; a read that
        might (longer than the limit, or completing an over-long line) and
        a closing connection take L{dataReceived}.
        """
        if self._closing or size > self._maxLength or self._awaitingFault:
            self.dataReceived(bytes(RECEIVE_VIEW[:size]))
            return
        end = RECEIVE_BUFFER.rfind(DELIMITER, 0, size) + 1
        pending = self._pending
        if pending and end:
            first = RECEIVE_BUFFER.find(DELIMITER, 0, end)
            if self._pendingLength + first > self._maxLength:
                self.dataReceived(bytes(RECEIVE_VIEW[:size]))
                return
            lines: bytes | memoryview = b"".join([*pending, RECEIVE_VIEW[:end]])
            self._pending = pending = []
            self._pendingLength = 0
        else:
            lines = RECEIVE_VIEW[:end]
        self.bytesIn += size
        self._lastInput = self._seconds()
        if end:
            self.echoed += countLines(RECEIVE_BUFFER, end)
            self.bytesOut += len(lines)
            fastWrite(self.transport, lines)
        if end < size:
            pending.append(bytes(RECEIVE_VIEW[end:size]))
            self._pendingLength += size - end
            if self._pendingLength > self._maxLength:
                self._lineTooLong(b"")

    def _faultLine(self, data: bytes) -> bytes:
        """
        Read the first line far enough to know whether it asks for a fault:
        a C{FAULT} line is consumed and applied (or refused); anything else
        is handed back to be echoed.

        @return: the bytes still to be echoed.
        """
        first = self._firstLine + data
        end = first.find(DELIMITER) + 1
        head = first[: len(FAULT_PREFIX)]
        if not FAULT_PREFIX.startswith(head):
            self._awaitingFault = False
            self._firstLine = b""
            return first
        if not end:
            if len(first) >= MAX_FAULT_LINE:
                self._awaitingFault = False
                self.bytesIn += len(first)
                self._badFault(f"longer than {MAX_FAULT_LINE} bytes")
                return b""
            self._firstLine = first
            return b""
        self._awaitingFault = False
        self._firstLine = b""
        line, rest = first[:end], first[end:]
        self.bytesIn += len(line)
        policy = self.factory.faults
        assert policy is not None
        try:
            fault = policy.choose(line[len(FAULT_PREFIX) :].decode("utf-8"))
        except (FaultError, UnicodeDecodeError) as e:
            self._badFault(str(e))
            return b""
        self.applyFault(fault, "client")
        transport = self.transport
        if rest and transport.refusing:
            # Read with the FAULT line, but the fault refuses to read.
            transport.afterRefusal(lambda: self.dataReceived(rest))
            return b""
        return rest

    def _badFault(self, why: str) -> None:
        """
        Refuse a C{FAULT} line: one C{ERROR} line, then a lingering close.
        """
        self._write(b"ERROR fault: %s; closing\n" % (why.encode("utf-8", "replace"),))
        self.factory.access.rejected(
            Reason.FAULT,
            "{service}: closed {peer}: bad FAULT line: {why}",
            self.transport.getPeer(),
            why=why,
        )
        self._close("bad FAULT line", linger=True)

    def _lineTooLong(self, echo: bytes) -> None:
        """
        Echo what came before the over-long line, report it, and close.

        @param echo: the complete, acceptable lines that preceded it.
        """
        self.echoed += echo.count(DELIMITER)
        self._write(
            echo + b"ERROR line too long: the limit is %d bytes (max_line_length);"
            b" closing\n" % (self._maxLength,)
        )
        self._pending = []
        self._pendingLength = 0
        self.factory.access.rejected(
            Reason.TOO_LONG,
            "{service}: closed {peer}: line over {limit} bytes",
            self.transport.getPeer(),
            limit=self._maxLength,
        )
        self._close("line too long", linger=True)

    def flushPending(self) -> None:
        """
        Echo the unterminated last line, if any, as it was received.
        """
        if self._pending:
            self._write(b"".join(self._pending))
            self._pending = []


class LineEchoFactory(EchoFactory[LineEcho]):
    """
    Build L{LineEcho} protocols sharing one L{LineConfig}.
    """

    service = "line"
    connectionClass = LineEcho
    config: LineConfig
