# -*- test-case-name: tests.web.test_faults -*-
"""
Faults on the echo routes' HTTP responses: the toxics of L{echohub.faults}
chosen per request by a control (L{FAULT_HEADER} or L{FAULT_QUERY}, from
L{echohub.controls}) on a listener with C{faults=client}, or for every echo
response by the listener's own C{fault=}.

A fault stands between the request and its channel (L{FaultedChannel}):
the response's head waits for the latency; its body goes through the
fault's schedule (the byte counts of C{limit_data} and C{reset_after} are
body bytes); the end is the version's:

    ==========================  ==========================  =====================
    what the schedule says      HTTP/1.1                    HTTP/2
    ==========================  ==========================  =====================
    close (limit_data, timeout) FIN: a truncated body       RST_STREAM CANCEL
    reset (reset_after,         RST (SO_LINGER 0)           RST_STREAM
    reset_peer)                                             INTERNAL_ERROR
    ==========================  ==========================  =====================

so that on HTTP/2 a fault ends its stream and never the connection, whose
other streams go on.  Faults apply only to the echo routes (L{ECHO_ROUTES}),
whose bodies are made in one piece within C{max_body}, and are bounded by
C{[web] max_delay} and C{max_body}.
"""

from __future__ import annotations

from typing import Any

from h2.errors import ErrorCodes
from twisted.internet.interfaces import IReactorTime
from twisted.web.iweb import IRequest

from echohub._net import formatAddress
from echohub.controls import FAULT_HEADER, FAULT_QUERY
from echohub.faults import (
    RESET,
    Fault,
    FaultError,
    FaultPolicy,
    FaultPump,
    Schedule,
    Step,
    reportFault,
    resetConnection,
)

ECHO_ROUTES = frozenset(
    (b"echo", b"anything", b"dump", b"get", b"post", b"put", b"patch", b"delete")
)
"""
The first path segments whose responses faults apply to.
"""

FLUSH_POLL = 0.005
"""
Seconds between checks that an HTTP/2 stream has sent what it was given
before the fault resets it.
"""


def requestedFault(request: IRequest) -> str | None:
    """
    The fault a request asks for: its L{FAULT_HEADER} header, else its
    L{FAULT_QUERY} argument; L{None} for none.
    """
    header = request.getHeader(FAULT_HEADER.encode("ascii"))
    if header is not None:
        return header.decode("latin-1")
    values = request.args.get(FAULT_QUERY.encode("ascii"))
    return values[0].decode("latin-1") if values else None


def faultFor(request: IRequest, policy: FaultPolicy) -> tuple[Fault, str] | None:
    """
    The fault C{request}'s response gets on a listener with C{policy}, and
    who chose it: the request's control when the listener takes client
    faults, else the listener's own fault, if any.

    @raise FaultError: the control is malformed or out of bounds.
    """
    text = requestedFault(request) if policy.client else None
    if text is not None:
        return policy.choose(text), "client"
    if policy.fault is not None:
        return policy.fault, "listener"
    return None


def applyFault(
    request: IRequest, policy: FaultPolicy, clock: IReactorTime
) -> str | None:
    """
    Put C{request}'s response under its fault, if it has one (see
    L{faultFor}): its channel becomes a L{FaultedChannel}.

    @return: why the control was refused, for a C{400}; else L{None}.
    """
    try:
        chosen = faultFor(request, policy)
    except FaultError as e:
        return f"{FAULT_HEADER} (or ?{FAULT_QUERY}=): {e}"
    if chosen is None:
        return None
    fault, who = chosen
    channel: Any = request.channel  # type: ignore[attr-defined]
    request.channel = FaultedChannel(channel, fault, clock)  # type: ignore[attr-defined]
    reportFault(
        channel.site.access.metrics,
        "web",
        formatAddress(request.getClientAddress()),
        fault,
        who,
    )
    return None


class FaultedChannel:
    """
    The channel of one faulted response: what twisted.web's C{Request}
    writes goes through the fault's schedule on its way to the real channel
    (an HTTP/1.1 connection or an HTTP/2 stream); everything else is the
    real channel's.
    """

    def __init__(self, channel: Any, fault: Fault, clock: IReactorTime) -> None:
        self._channel = channel
        self._clock = clock
        self._http2 = hasattr(channel, "streamID")
        self._pump = FaultPump(Schedule(fault), clock, channel.write, self._end)
        self._polls = 0
        self._pump.start()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._channel, name)

    def writeHeaders(
        self, version: bytes, code: bytes, reason: bytes, headers: Any
    ) -> None:
        due = self._pump.schedule.delay(self._clock.seconds())
        self._pump.at(
            due, lambda: self._channel.writeHeaders(version, code, reason, headers)
        )

    def write(self, data: bytes) -> None:
        self._pump.write(data)

    def writeSequence(self, data: list[bytes]) -> None:
        self._pump.write(b"".join(data))

    def requestDone(self, request: Any) -> None:
        """
        The response is complete: end it once its steps are done, unless
        the fault never lets it end (C{timeout}, C{reset_peer}).
        """
        if self._pump.schedule.holdsEnd:
            return
        due = self._pump.schedule.closeAt(self._clock.seconds())
        self._pump.at(due, lambda: self._channel.requestDone(request))

    def _end(self, step: Step) -> None:
        """
        The fault ends the response: the version's close or reset.
        """
        channel = self._channel
        if not self._http2:
            if step.action == RESET:
                resetConnection(channel.transport)
            else:
                channel.loseConnection()
            return
        if (channel.headers is not None or channel.queued) and self._polls < (
            channel.site.limits.idleTimeout or 10.0
        ) / FLUSH_POLL:
            # What went before must reach the client before the reset.
            self._polls += 1
            self._clock.callLater(FLUSH_POLL, self._end, step)
            return
        channel.reset(
            ErrorCodes.INTERNAL_ERROR if step.action == RESET else ErrorCodes.CANCEL
        )
