# -*- test-case-name: tests.faults.test_spec -*-
"""
A fault, as a small I/O-free description: which toxics, with which
parameters, parsed once from whatever names it (an endpoint string's
C{fault=} option, a line echo's C{FAULT} line, an HTTP control) and checked
against the bounds of the listener that serves it.

The toxics and their parameters carry Shopify toxiproxy's names and units
wherever the behaviour is the same, so that a test written against
toxiproxy carries over; where echohub's behaviour differs it has a name of
its own (C{reset_after}, C{refuse_read}):

    ============  ===========================================  ==============
    toxic         parameters (unit)                            toxiproxy's?
    ============  ===========================================  ==============
    latency       latency (ms), jitter (ms)                    yes
    bandwidth     rate (KB/s, 1 KB = 1000 bytes)               yes
    slicer        average_size (bytes), size_variation         yes
                  (bytes), delay (us)
    timeout       timeout (ms; 0: never close)                 yes
    slow_close    delay (ms)                                   yes
    limit_data    bytes: FIN after that many bytes             yes
    reset_peer    timeout (ms): RST that long after the        yes
                  first bytes, which are dropped
    reset_after   bytes: RST (SO_LINGER 0) after that many     echohub's
                  bytes
    refuse_read   timeout (ms; 0: for good): stop reading      echohub's
    ============  ===========================================  ==============

The grammar, the same everywhere: items separated by commas or white
space; a toxic starts with its name, bare (C{slicer}) or with a value for
its first parameter (C{latency=200}, C{bandwidth=100}); the C{name=value}
items after it set its other parameters (C{latency=200,jitter=50};
C{FAULT slicer average_size=16 delay=1000}).  A value is a number in the
parameter's unit, or a duration with its unit (C{200ms}, C{1.5s}, C{500us}).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

MS = "ms"
US = "us"
BYTES = "bytes"
RATE = "KB/s"

_SCALE = {MS: 1e-3, US: 1e-6}
_EXPONENT = {"s": 0, MS: -3, US: -6}
_DURATION = re.compile(r"(\d+(?:\.\d+)?|\.\d+)(us|µs|ms|s)?\Z")
_COUNT = re.compile(r"\d+\Z")
_SEPARATORS = re.compile(r"[\s,]+")


class FaultError(ValueError):
    """
    A fault description is malformed or exceeds its bounds; the message
    names the item and says why, in one line.
    """


@dataclass(frozen=True)
class Param:
    """
    One parameter of a toxic.

    @ivar name: toxiproxy's attribute name (or echohub's).
    @ivar unit: L{MS}, L{US}, L{BYTES} or L{RATE}.
    @ivar default: its value when not given.
    """

    name: str
    unit: str
    default: float = 0


@dataclass(frozen=True)
class Kind:
    """
    One kind of toxic.

    @ivar name: its name.
    @ivar params: its parameters, the first the one C{name=value} sets.
    @ivar doc: what it does, for a person.
    @ivar http: whether an HTTP response can have it.
    @ivar required: whether the first parameter must be given.
    """

    name: str
    params: tuple[Param, ...]
    doc: str
    http: bool = True
    required: bool = False

    def param(self, name: str) -> Param | None:
        for p in self.params:
            if p.name == name:
                return p
        return None


KINDS: Mapping[str, Kind] = {
    k.name: k
    for k in (
        Kind(
            "latency",
            (Param("latency", MS), Param("jitter", MS)),
            "every echo (HTTP: the response) waits latency +/- jitter ms",
        ),
        Kind(
            "bandwidth",
            (Param("rate", RATE),),
            "echoes go out at rate KB/s (1 KB = 1000 bytes)",
            required=True,
        ),
        Kind(
            "slicer",
            (
                Param("average_size", BYTES),
                Param("size_variation", BYTES),
                Param("delay", US),
            ),
            "echoes go out in writes of average_size +/- size_variation bytes,"
            " delay us apart",
            required=True,
        ),
        Kind(
            "timeout",
            (Param("timeout", MS),),
            "nothing is echoed; the connection closes after timeout ms (0: it"
            " stays open)",
        ),
        Kind(
            "slow_close",
            (Param("delay", MS),),
            "the server's close waits delay ms after the last echo",
            http=False,
            required=True,
        ),
        Kind(
            "limit_data",
            (Param("bytes", BYTES),),
            "the first bytes bytes are echoed, then the server closes (FIN);"
            " HTTP/2: RST_STREAM CANCEL",
        ),
        Kind(
            "reset_peer",
            (Param("timeout", MS),),
            "nothing is echoed; the connection is reset (RST) timeout ms after"
            " the first bytes; HTTP/2: RST_STREAM INTERNAL_ERROR",
        ),
        Kind(
            "reset_after",
            (Param("bytes", BYTES),),
            "the first bytes bytes are echoed, then the connection is reset"
            " (RST, SO_LINGER 0); HTTP/2: RST_STREAM INTERNAL_ERROR",
        ),
        Kind(
            "refuse_read",
            (Param("timeout", MS),),
            "the server stops reading for timeout ms (0: for good), so the"
            " client's writes back up",
            http=False,
        ),
    )
}
"""
Every toxic, by name.
"""


@dataclass(frozen=True)
class Toxic:
    """
    One toxic of a fault: its kind and every parameter's value, in the
    parameter's unit.
    """

    kind: str
    values: tuple[tuple[str, float], ...]

    def __getitem__(self, name: str) -> float:
        return dict(self.values)[name]

    def seconds(self, name: str) -> float:
        """
        A duration parameter, in seconds.
        """
        return self[name] * _SCALE[_unit(self, name)]

    def describe(self) -> str:
        """
        The toxic in the grammar it is parsed from, e.g. C{latency=200,jitter=50}.
        """
        return ",".join(
            f"{name}={value:g}" if i else f"{self.kind}={value:g}"
            for i, (name, value) in enumerate(self.values)
        )


def _unit(toxic: Toxic, name: str) -> str:
    param = KINDS[toxic.kind].param(name)
    assert param is not None
    return param.unit


@dataclass(frozen=True)
class Fault:
    """
    A fault: at most one toxic of each kind.
    """

    toxics: tuple[Toxic, ...]

    def get(self, kind: str) -> Toxic | None:
        """
        The toxic of C{kind}, if the fault has one.
        """
        for toxic in self.toxics:
            if toxic.kind == kind:
                return toxic
        return None

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(t.kind for t in self.toxics)

    def describe(self) -> str:
        """
        The fault in the grammar it is parsed from.
        """
        return ",".join(t.describe() for t in self.toxics)


@dataclass(frozen=True)
class FaultBounds:
    """
    What a fault may ask for on one listener.

    @ivar maxDelay: the longest duration, in seconds, of any parameter (and
        of latency plus jitter).
    @ivar minRate: the lowest bandwidth, in KB/s.
    @ivar maxBytes: the largest byte count of C{limit_data},
        C{reset_after} and the slicer's sizes.
    @ivar http: whether the fault is for an HTTP response (only the kinds
        with L{Kind.http}).
    @ivar clients: whether clients may choose faults at all (not on the
        byte echo, which stays pure).
    """

    maxDelay: float = 10.0
    minRate: float = 1.0
    maxBytes: int = 2**31
    http: bool = False
    clients: bool = True


def _value(item: str, param: Param, text: str) -> float:
    """
    Read one value in C{param}'s unit.
    """
    if param.unit in (MS, US):
        match = _DURATION.match(text)
        if match is None:
            raise FaultError(
                f"{item}: expected a duration ({param.unit}, or with a unit:"
                " 200ms, 1.5s, 500us)"
            )
        unit = {"µs": US, None: param.unit}.get(match[2], match[2])
        exponent = _EXPONENT[unit] - _EXPONENT[param.unit]
        return (
            float(match[1]) * 10**exponent
            if exponent >= 0
            else (float(match[1]) / 10**-exponent)
        )
    if param.unit == BYTES:
        if _COUNT.match(text) is None:
            raise FaultError(f"{item}: expected a whole number of bytes")
        return int(text)
    try:
        rate = float(text)
    except ValueError:
        rate = float("nan")
    if not rate > 0 or rate == float("inf"):
        raise FaultError(f"{item}: expected a rate in KB/s above 0")
    return rate


def parseFault(text: str, bounds: FaultBounds | None = None) -> Fault:
    """
    Parse a fault description (see the module docstring) and check it
    against C{bounds}.

    @raise FaultError: naming the first item that is wrong.
    """
    bounds = FaultBounds() if bounds is None else bounds
    items = [i for i in _SEPARATORS.split(text.strip()) if i]
    if not items:
        raise FaultError("empty fault: name a toxic, as latency=200")
    toxics: list[tuple[Kind, dict[str, float]]] = []
    for item in items:
        name, equals, raw = item.partition("=")
        current = toxics[-1] if toxics else None
        param = None if current is None else current[0].param(name)
        if param is not None and equals:
            assert current is not None
            if name in current[1]:
                raise FaultError(f"{item}: {name} given twice")
            current[1][name] = _value(item, param, raw)
            continue
        kind = KINDS.get(name)
        if kind is None:
            where = f" of {current[0].name}" if current is not None else ""
            raise FaultError(
                f"{item}: not a toxic or a parameter{where}; toxics: {', '.join(KINDS)}"
            )
        if bounds.http and not kind.http:
            raise FaultError(f"{item}: {name} is not an HTTP fault")
        if any(k is kind for k, _ in toxics):
            raise FaultError(f"{item}: {name} given twice")
        values: dict[str, float] = {}
        if equals:
            values[kind.params[0].name] = _value(item, kind.params[0], raw)
        toxics.append((kind, values))
    return Fault(tuple(_checked(kind, values, bounds) for kind, values in toxics))


def _checked(kind: Kind, values: dict[str, float], bounds: FaultBounds) -> Toxic:
    """
    Fill in the defaults of one toxic and check it against C{bounds}.
    """
    first = kind.params[0].name
    if kind.required and first not in values:
        raise FaultError(f"{kind.name}: needs {first}, as {kind.name}={first}")
    full = {p.name: values.get(p.name, p.default) for p in kind.params}
    toxic = Toxic(kind.name, tuple(full.items()))
    for p in kind.params:
        value = full[p.name]
        if p.unit in (MS, US) and value * _SCALE[p.unit] > bounds.maxDelay:
            raise FaultError(
                f"{kind.name}: {p.name}={value:g}{p.unit} is over this listener's"
                f" {bounds.maxDelay:g} s"
            )
        if p.unit == BYTES and value > bounds.maxBytes:
            raise FaultError(
                f"{kind.name}: {p.name}={value:g} is over this listener's"
                f" {bounds.maxBytes} bytes"
            )
        if p.unit == RATE and value < bounds.minRate:
            raise FaultError(
                f"{kind.name}: {p.name}={value:g} KB/s is under this listener's"
                f" {bounds.minRate:g} KB/s"
            )
    if kind.name == "latency" and (full["latency"] + full["jitter"]) / 1000 > (
        bounds.maxDelay
    ):
        raise FaultError(
            f"latency: latency + jitter is over this listener's {bounds.maxDelay:g} s"
        )
    if bounds.http and kind.name in ("timeout",) and full["timeout"] <= 0:
        raise FaultError(
            f"timeout: an HTTP response needs a timeout above 0 ms, at most"
            f" {bounds.maxDelay:g} s"
        )
    if kind.name == "slicer":
        if full["average_size"] < 1:
            raise FaultError("slicer: average_size must be at least 1")
        if full["size_variation"] >= full["average_size"]:
            raise FaultError("slicer: size_variation must be under average_size")
    return toxic


@dataclass(frozen=True)
class FaultPolicy:
    """
    The faults of one listener: its own, whether its clients may choose
    theirs, and the bounds of both.

    @ivar fault: the fault every connection (or echo response) gets, or
        L{None}.
    @ivar client: whether clients may choose a fault (a line echo's
        C{FAULT} line, the HTTP controls).
    @ivar bounds: what any fault on this listener may ask for.
    """

    fault: Fault | None = None
    client: bool = False
    bounds: FaultBounds = field(default_factory=FaultBounds)

    @property
    def active(self) -> bool:
        """
        Whether any fault may happen on this listener.
        """
        return self.fault is not None or self.client

    def choose(self, text: str) -> Fault:
        """
        The fault a client asks for, within this listener's bounds.

        @raise FaultError: the listener takes no client faults, or the
            description is wrong or out of bounds.
        """
        if not self.client:
            raise FaultError("this listener takes no client faults (faults=client)")
        return parseFault(text, self.bounds)


FAULT_OPTIONS = frozenset({"fault", "faults"})
"""
The endpoint-string options of a listener's faults.
"""


def parsePolicy(options: Mapping[str, str], bounds: FaultBounds) -> FaultPolicy | None:
    """
    The fault policy the options of one endpoint string give
    (C{fault=DESCRIPTION}, C{faults=client|off}), or L{None} for none.

    @raise FaultError: for a bad value.
    """
    client = options.get("faults", "off")
    if client not in ("client", "off"):
        raise FaultError(f"faults={client!r}: expected client or off")
    if client == "client" and not bounds.clients:
        raise FaultError(
            "faults=client: this service takes faults from its listener only"
        )
    text = options.get("fault")
    fault = None if text is None else parseFault(text, bounds)
    policy = FaultPolicy(fault, client == "client", bounds)
    return policy if policy.active else None


def kindNames(http: bool = False) -> Iterable[str]:
    """
    The names of the toxics, or of those an HTTP response can have.
    """
    return [k.name for k in KINDS.values() if k.http or not http]
