# -*- test-case-name: tests.http.test_channel,tests.http.test_h2 -*-
"""
Exact capture: a request's head as it arrived (L{RawHead}), kept by the
channel that parsed it, and the one accessor through which resources see it
(L{rawRequestHead}), whichever HTTP version made the request.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RawHead:
    """
    A request's head as it arrived, for exact capture.

    @ivar protocol: C{"HTTP/1.1"} (also for HTTP/1.0 requests, which this
        channel serves), or C{"HTTP/2"} from an HTTP/2 channel.
    @ivar head: for HTTP/1.1 the request line and header section with their
        bytes, case, order, duplicates, whitespace and line ends, up to and
        including the empty line; for HTTP/2 the decoded header list,
        pseudo-headers first, as C{name: value} lines.
    @ivar headers: the header fields in the order and case received, values
        without their surrounding whitespace (pseudo-headers included for
        HTTP/2).
    """

    protocol: str
    head: bytes
    headers: tuple[tuple[bytes, bytes], ...]


def rawRequestHead(request: object) -> RawHead | None:
    """
    The head of C{request} as it arrived: the one accessor through which
    resources see it, whichever channel made the request.  A channel keeps
    it by setting C{request.rawHead} to a L{RawHead} before the request is
    rendered.

    @return: L{None} if the channel that made C{request} keeps no head.
    """
    head: RawHead | None = getattr(request, "rawHead", None)
    return head
