# -*- test-case-name: tests.test_controls -*-
"""
Every name by which a request controls its own answer, in one place: the
gRPC echo's metadata, the catch-all HTTP echo's headers and query
arguments, the faults' headers and query arguments.  Handlers import their
names from here and nowhere else, so that one list (L{CONTROLS}) documents
them all, a name is never reused with two meanings, and the HTTP echoes can
hide every control from what they echo back when they should.

Each control is a L{Control}: its name (lower case, as HTTP/2 and gRPC
metadata carry it), where it is read, what it does, and the setting that
bounds it (a control never exceeds the configuration's limits).
"""

from __future__ import annotations

from dataclasses import dataclass

HEADER = "header"
QUERY = "query"
METADATA = "grpc-metadata"


@dataclass(frozen=True)
class Control:
    """
    One per-request control.

    @ivar name: the header, query argument or metadata key, lower case.
    @ivar where: L{HEADER}, L{QUERY} or L{METADATA} (a header name is also
        accepted as a query argument where the handler says so).
    @ivar doc: what it does, for a person.
    @ivar bound: the setting that bounds it, or C{""}.
    """

    name: str
    where: str
    doc: str
    bound: str = ""


CONTROLS: tuple[Control, ...] = ()
"""
Every control, as the handlers register them below their sections.
"""


# The gRPC echo's request metadata (echohub.grpc): the Echo service's calls.
ECHO_COUNT = "echo-count"
ECHO_INTERVAL_MS = "echo-interval-ms"
ECHO_STATUS = "echo-status"
ECHO_MESSAGE = "echo-message"
ECHO_DELAY_MS = "echo-delay-ms"
ECHO_TRAILER_PREFIX = "echo-trailer-"

CONTROLS += (
    Control(
        ECHO_COUNT,
        METADATA,
        "How many times ServerStreamingEcho sends the message back (default 1).",
        "[grpc] max_stream_count",
    ),
    Control(
        ECHO_INTERVAL_MS,
        METADATA,
        "Milliseconds between ServerStreamingEcho's messages (default 0).",
        "[grpc] max_stream_interval",
    ),
    Control(
        ECHO_STATUS,
        METADATA,
        "The gRPC status code (0-16) the call ends with; a unary answer with"
        " a status other than 0 has no message.",
    ),
    Control(
        ECHO_MESSAGE,
        METADATA,
        "The status message (grpc-message) the call ends with.",
    ),
    Control(
        ECHO_DELAY_MS,
        METADATA,
        "Milliseconds to wait before answering; the call's deadline cuts it"
        " short (DEADLINE_EXCEEDED).",
        "[grpc] max_delay",
    ),
    Control(
        ECHO_TRAILER_PREFIX + "*",
        METADATA,
        "echo-trailer-NAME: VALUE comes back as the trailer NAME: VALUE"
        " rather than as a header.",
    ),
)


def names(where: str) -> frozenset[str]:
    """
    The names of every control read from C{where}.
    """
    return frozenset(c.name for c in CONTROLS if c.where == where)
