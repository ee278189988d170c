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


def names(where: str) -> frozenset[str]:
    """
    The names of every control read from C{where}.
    """
    return frozenset(c.name for c in CONTROLS if c.where == where)
