# -*- test-case-name: tests.ops.test_fastwrite -*-
"""
Send at once when nothing is queued, instead of on the next reactor turn.

Twisted's C{transport.write} only appends to a buffer and registers the
socket for writability; the send happens in C{doWrite} on the next turn of
the reactor, after an C{epoll_ctl} to add the socket and before another to
remove it.  For an echo that is three system calls and a second dispatch for
every read, about half of a ping-pong's cost.  L{write} calls C{send}
directly when the transport's buffer is empty and hands anything the kernel
did not take (and every write made while something is queued) to the public
C{transport.write}, so that:

    - bytes go out in the order they were written: once anything is queued,
      every later write queues behind it;
    - the backpressure bound is Twisted's own: only what is buffered counts
      against C{bufferSize} and pauses the producer, and a direct send
      buffers nothing;
    - closing, half-closing and errors are Twisted's: a transport that is
      disconnecting, or a C{send} that fails, takes the public path, which
      meets the same state or error on its next C{doWrite}.

L{write} sends directly only when
L{echohub._upstream.directSendable} says so: a plain (not TLS) Twisted TCP
connection with nothing queued and not closing, read from Twisted's private
transport attributes there and nowhere else.  Otherwise (TLS,
PROXY-protocol and test transports) it calls the public C{transport.write};
should a later Twisted drop one of those attributes, C{tests.test_upstream}
fails.
"""

from __future__ import annotations

from errno import EAGAIN, ENOBUFS, EWOULDBLOCK
from typing import Any

from echohub._upstream import directSendable

_RETRY = frozenset({EAGAIN, EWOULDBLOCK, ENOBUFS})


def write(transport: Any, data: bytes | memoryview) -> None:
    """
    Write C{data} to C{transport}: at once when it is a plain TCP connection
    with nothing queued, else (and for whatever the kernel does not take) with
    the public C{transport.write}.

    C{data} may be a memoryview (of L{echohub.ops._fastread.RECEIVE_BUFFER},
    say): it is sent without a copy, and what has to wait is copied first,
    since the buffer it views is reused.

    A function, not a closure or an attribute per connection, so that the
    fast path costs an idle connection no memory.
    """
    t = transport
    if not directSendable(t):
        t.write(bytes(data))
        return
    try:
        sent = t.socket.send(data)
    except OSError as e:
        # Anything but "the kernel's buffer is full" is for Twisted to meet
        # and handle on its next doWrite, as it would without us.
        if e.errno not in _RETRY:
            t.write(bytes(data))
            return
        sent = 0
    if sent < len(data):
        t.write(bytes(data[sent:]))
