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


# The catch-all echo ([web] echo_any_path, echohub.web._anypath), under
# mendhak/http-https-echo's names.  Each x-set-* name is read as a header
# or, when no such header is sent, as a query argument.
SET_STATUS = "x-set-response-status-code"
SET_DELAY = "x-set-response-delay-ms"
SET_CONTENT_TYPE = "x-set-response-content-type"
SET_HEADER = "x-set-response-header"
BODY_ONLY = "response_body_only"

CONTROLS += (
    Control(
        SET_STATUS,
        HEADER,
        "The response's status, 200 to 599; out of range gets 400.",
    ),
    Control(
        SET_DELAY,
        HEADER,
        "Milliseconds to wait before answering (a timer: nothing blocks);"
        " longer than [web] max_delay gets 400.",
        "[web] max_delay",
    ),
    Control(
        SET_CONTENT_TYPE,
        HEADER,
        "The response's Content-Type; an HTML, XML or SVG type gets 400, as"
        " nothing a client sends is served as a document.",
    ),
    Control(
        SET_HEADER,
        HEADER,
        "A response header as NAME: VALUE, repeatable; names and values as"
        " /response-headers allows them (no framing, CORS, CSP or"
        " nosniff header, no cookie for a parent domain); as many as the"
        " request's own limits let it carry.",
    ),
    Control(
        BODY_ONLY,
        QUERY,
        "true: the answer is the request's body alone, not the JSON.",
    ),
)

# Faults (echohub.faults; applied by echohub.web._faults on the echo routes
# of a web listener with faults=client).

FAULT_HEADER = "echohub-fault"
FAULT_QUERY = "fault"

CONTROLS += (
    Control(
        FAULT_HEADER,
        HEADER,
        "Put this response under a fault (latency=200,jitter=50; bandwidth=10;"
        " slicer=64,delay=1000; timeout=2000; limit_data=100; reset_after=100;"
        " reset_peer=0), on the echo routes of a listener with faults=client.",
        "[web] max_delay, [web] max_body, [faults] min_rate",
    ),
    Control(
        FAULT_QUERY,
        QUERY,
        "The same as the echohub-fault header, as a query argument (the header"
        " wins when both are given).",
        "[web] max_delay, [web] max_body, [faults] min_rate",
    ),
)
