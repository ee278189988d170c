# -*- test-case-name: tests.test_exports -*-
"""
Faults on demand: a misbehaving peer for resilience tests.

A fault is a small I/O-free description (L{Fault}, parsed once by
L{parseFault} from an endpoint string, a line echo's C{FAULT} line or an
HTTP control, and checked against its listener's L{FaultBounds}); an
I/O-free L{Schedule} says what to send when; one piece of Twisted code,
L{FaultPump}, carries the steps out on time, under a stream transport
(L{FaultedTransport}) or an HTTP response (L{echohub.web}).  Toxics and
parameters follow Shopify toxiproxy's names and units where the behaviour
is the same (see L{echohub.faults._spec}).
"""

from echohub.faults._schedule import CLOSE, RESET, SEND, Schedule, Step
from echohub.faults._shell import (
    READ_HOLD,
    FaultedTransport,
    FaultPump,
    reportFault,
    resetConnection,
)
from echohub.faults._spec import (
    FAULT_OPTIONS,
    KINDS,
    Fault,
    FaultBounds,
    FaultError,
    FaultPolicy,
    Toxic,
    kindNames,
    parseFault,
    parsePolicy,
)

__all__ = [
    "CLOSE",
    "FAULT_OPTIONS",
    "KINDS",
    "READ_HOLD",
    "RESET",
    "SEND",
    "Fault",
    "FaultBounds",
    "FaultError",
    "FaultPolicy",
    "FaultPump",
    "FaultedTransport",
    "Schedule",
    "Step",
    "Toxic",
    "kindNames",
    "parseFault",
    "parsePolicy",
    "reportFault",
    "resetConnection",
]
