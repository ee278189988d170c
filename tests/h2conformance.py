"""
The machinery of echohub's HTTP/2 conformance suite, the C{test_h2spec_*}
modules and C{test_h2_rfc9113} of C{tests.e2e}: frame-level cases for RFC
9113 (HTTP/2) sections 3-8 and RFC 7541 (HPACK), each asserting the outcome
the RFC's MUST demands (the error code of a connection or stream error, or
that a frame is accepted), against a real C{twistd -ny echohub.tac} on
loopback, over h2c (prior knowledge, plain listener) and TLS (ALPN C{h2},
verifying the development CA).

The cases follow h2spec's list (U{https://github.com/summerwind/h2spec}):
the same groups in the same order, its descriptions, its section numbers
(RFC 7540's, which h2spec uses; each docstring cites RFC 9113's), and what
h2spec accepts for each: a connection error is C{GOAWAY} with the code or
the connection closed, a stream error is C{RST_STREAM} with the code or a
connection error with it (see L{tests.h2frames}).  Their ids are h2spec's,
C{group/section/number}, so that a failure here names the case an outside
h2spec run would report.  Where this suite is stricter than h2spec it says
so: a C{GOAWAY} with another code fails at once (h2spec reads on, and
passes if the connection then closes), a C{RST_STREAM} counts only on the
stream concerned, and C{http2/6.5/3} takes no C{RST_STREAM} for a bad
C{SETTINGS}.  It is laxer in one place, C{http2/3.5/2} over h2c (see
there).  The C{echohub/...} cases are further requirements of RFC 9113
that h2spec does not test, several of them found broken in issue 19.

A case that fails because of the server is kept as it is and marked
C{xfail(strict=True)} with what the server did: once the server is fixed
the case passes, the strict mark turns that into a failure, and the mark is
to be removed.

The harness itself was checked against a reference server, nghttpd
(nghttp2 1.52, h2c and TLS, C{/} a 21 kB file): every case passes there
but C{http2/5.1.1/2}, a HEADERS frame on a stream numerically smaller than
the last, which nghttp2 chooses to ignore; so each case that fails against
echohub fails because of echohub.

Each module registers its cases in a L{Cases}, runs them through one
C{test_conformance} parametrized over the cases and both transports, with
a module-scoped L{conformanceServer}, and checks its list with
L{Cases.check}.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from h2.errors import ErrorCodes
from h2.settings import SettingCodes
from hyperframe.frame import SettingsFrame

from echohub.tls._devcert import DevCertificates
from tests.h2frames import FrameClient, Target, tlsContext
from tests.support import EchohubProcess, running, sslString

PROTOCOL_ERROR = ErrorCodes.PROTOCOL_ERROR
FLOW_CONTROL_ERROR = ErrorCodes.FLOW_CONTROL_ERROR
STREAM_CLOSED = ErrorCodes.STREAM_CLOSED
FRAME_SIZE_ERROR = ErrorCodes.FRAME_SIZE_ERROR
REFUSED_STREAM = ErrorCodes.REFUSED_STREAM
COMPRESSION_ERROR = ErrorCodes.COMPRESSION_ERROR
CANCEL = ErrorCodes.CANCEL
NO_ERROR = ErrorCodes.NO_ERROR

TRANSPORTS = ("h2c", "tls")

Run = Callable[[FrameClient, Target], None]
"""
A case's body: sends frames on a new connection and checks the outcome.
"""

Fields = list[tuple[str, str]]


@dataclass(frozen=True)
class Case:
    """
    One conformance case.

    @ivar id: h2spec's id (C{group/section/number}) or C{echohub/...}.
    @ivar description: h2spec's description (or one in its style).
    @ivar run: sends the frames and checks the outcome; its docstring says
        what RFC 9113 or RFC 7541 demands, and where.
    @ivar handshake: complete the connection preface before C{run}.
    @ivar xfail: why the server fails the case today, or L{None}.
    """

    id: str
    description: str
    run: Run
    handshake: bool = True
    xfail: str | None = None


@dataclass
class Cases:
    """
    The cases of one test module, in order.
    """

    cases: list[Case] = field(default_factory=list)

    def case(
        self,
        id: str,
        description: str,
        handshake: bool = True,
        xfail: str | None = None,
    ) -> Callable[[Run], Run]:
        """
        A decorator registering a case; C{xfail}: why the server fails it
        today (on both transports).
        """

        def register(run: Run) -> Run:
            assert run.__doc__ and "RFC" in run.__doc__, f"{id}: cite the RFC"
            self.cases.append(Case(id, description, run, handshake, xfail))
            return run

        return register

    def add(
        self, id: str, description: str, run: Run, doc: str, xfail: str | None = None
    ) -> None:
        """
        Register C{run}, made by a table, with its docstring C{doc}.
        """
        run.__doc__ = doc
        self.case(id, description, xfail=xfail)(run)

    def malformed(self, id: str, description: str, rfc: str, run: Run) -> None:
        """
        Register a malformed request, C{rfc} saying what makes it so.
        """
        self.add(
            id,
            description,
            run,
            f"{rfc}; a malformed request MUST be a stream error of type"
            " PROTOCOL_ERROR (RFC 9113 section 8.1.1).",
        )

    def parametrize(self, metafunc: pytest.Metafunc) -> None:
        """
        Parametrize a module's C{test_conformance} over its cases (all
        registered once the module is loaded) and both transports, each
        named by the case's id and the transport.
        """
        if "case" not in metafunc.fixturenames:
            return
        params = []
        for each in self.cases:
            marks = (
                [pytest.mark.xfail(strict=True, reason=each.xfail)]
                if each.xfail
                else []
            )
            for transport in TRANSPORTS:
                name = f"{each.id}-{transport}"
                params.append(pytest.param(each, transport, id=name, marks=marks))
        metafunc.parametrize(("case", "transport"), params)

    def check(self, groups: dict[str, int]) -> None:
        """
        The module holds C{groups} (group to number of cases) and nothing
        else, with unique ids numbered from 1, in order, in each section.
        """
        ids = [each.id for each in self.cases]
        assert len(ids) == len(set(ids))
        found: dict[str, int] = {}
        numbers: dict[str, list[int]] = {}
        for caseID in ids:
            group = caseID.split("/", 1)[0]
            found[group] = found.get(group, 0) + 1
            section, _, number = caseID.rpartition("/")
            numbers.setdefault(section, []).append(int(number))
        assert found == groups
        for section, seen in numbers.items():
            assert seen == list(range(1, len(seen) + 1)), section


@contextmanager
def conformanceServer(
    tmp_path_factory: pytest.TempPathFactory, devcerts: DevCertificates
) -> Iterator[dict[str, Target]]:
    """
    One echohub with a plain and a TLS web listener and the default
    settings (MAX_CONCURRENT_STREAMS 100, a 4096-byte header table, a
    16384-byte frame size, MAX_HEADER_LIST_SIZE 24576): the server an
    outside h2spec run meets.  Yields the two targets by transport.
    """
    with running(
        {
            "ECHOHUB_LINE_LISTEN": "",
            "ECHOHUB_WEB_LISTEN": f"tcp:0:interface=127.0.0.1 {sslString(devcerts)}",
        },
        cwd=str(Path(tmp_path_factory.mktemp("h2conformance"))),
        listeners=2,
    ) as process:
        yield targetsOf(process, devcerts)


def targetsOf(process: EchohubProcess, devcerts: DevCertificates) -> dict[str, Target]:
    """
    The h2c and TLS targets of an echohub whose web listeners are plain
    then TLS.
    """
    return {
        "h2c": Target("h2c", process.address("web", 0)),
        "tls": Target(
            "tls", process.address("web", 1), tlsContext(devcerts.ca.certificate.path)
        ),
    }


def runCase(case: Case, transport: str, targets: dict[str, Target]) -> None:
    """
    Run C{case} on a new connection; a failure names the case and shows the
    whole exchange.
    """
    target = targets[transport]
    with FrameClient(target) as client:
        try:
            if case.handshake:
                client.handshake()
            case.run(client, target)
        except AssertionError as e:
            e.add_note(f"{case.id} ({transport}): {case.description}")
            raise


# Building blocks of the cases.


def request(target: Target, method: str = "GET", path: str = "/") -> Fields:
    """
    h2spec's request header list: C{:method}, C{:scheme}, C{:path},
    C{:authority}, in this order (C{/} is h2spec's default path).
    """
    return [
        (":method", method),
        (":scheme", target.scheme),
        (":path", path),
        (":authority", target.authority),
    ]


DUMMY = "x" * 4000
"""
h2spec's dummy header value (its default C{--max-header-length}).
"""


def dummy(count: int) -> Fields:
    """
    C{count} header fields of L{DUMMY}, as h2spec pads header blocks.
    """
    return [(f"x-dummy{i}", DUMMY) for i in range(count)]


def openStream(client: FrameClient, target: Target, streamID: int = 1) -> None:
    """
    Open C{streamID} with a C{GET /} whose C{END_STREAM} is still to come,
    so that the stream stays open.
    """
    client.headers(streamID, request(target), endStream=False)


def closeStream(client: FrameClient, target: Target, streamID: int = 1) -> None:
    """
    A complete C{GET /} on C{streamID}, read until the server ends the
    stream: the stream is then closed on both sides.
    """
    client.headers(streamID, request(target))
    client.expectStreamClosed(streamID)


def serverPrefaceFirst(client: FrameClient) -> None:
    """
    Send the client preface and a SETTINGS frame; the server's first frame
    is its own SETTINGS, not an acknowledgement (RFC 9113 section 3.4).
    """
    client.preface()
    client.settings((SettingCodes.INITIAL_WINDOW_SIZE, 65535))
    first = client.next()
    if not isinstance(first, SettingsFrame) or "ACK" in first.flags:
        raise client.fail("SETTINGS without ACK first", first)


def priorityInHeaderBlock(client: FrameClient, target: Target) -> None:
    """
    A PRIORITY frame between a HEADERS frame without END_HEADERS and its
    CONTINUATION: a connection error of type PROTOCOL_ERROR (RFC 9113
    sections 4.3 and 6.2).
    """
    client.headers(1, request(target), endStream=False, endHeaders=False)
    client.priority(1, 0, 255)
    client.continuation(1, client.encode(dummy(1)), endHeaders=True)
    client.expectConnectionError(PROTOCOL_ERROR)


def headersInHeaderBlock(client: FrameClient, target: Target) -> None:
    """
    A HEADERS frame on stream 3 between stream 1's HEADERS without
    END_HEADERS and its CONTINUATION: a connection error of type
    PROTOCOL_ERROR (RFC 9113 sections 4.3 and 6.2).
    """
    client.headers(1, request(target), endStream=False, endHeaders=False)
    client.headers(3, request(target))
    client.continuation(1, client.encode(dummy(1)), endHeaders=True)
    client.expectConnectionError(PROTOCOL_ERROR)


UNKNOWN_FRAME = b"\x00\x00\x08\x16\x00\x00\x00\x00\x00" + b"\x00" * 8
"""
A frame of unknown type 0x16 on stream 0 with 8 octets of payload.
"""

PING_DATA = b"h2spec\x00\x00"


def malformed(fields: Callable[[Target], Fields]) -> Run:
    """
    A request whose header list is C{fields(target)}, complete in one
    HEADERS frame, expected to be a stream error of type PROTOCOL_ERROR
    (RFC 9113 section 8.1.1: a malformed request).
    """

    def run(client: FrameClient, target: Target) -> None:
        client.headers(1, fields(target))
        client.expectStreamError(1, PROTOCOL_ERROR)

    return run


def trailers(fields: Fields, endStream: bool) -> Run:
    """
    A POST with content then a second HEADERS frame of C{fields}, expected
    to be a stream error of type PROTOCOL_ERROR.
    """

    def run(client: FrameClient, target: Target) -> None:
        client.headers(1, request(target, "POST"), endStream=False)
        client.data(1, b"test", endStream=False)
        client.headers(1, fields, endStream=endStream)
        client.expectStreamError(1, PROTOCOL_ERROR)

    return run


def plus(*extra: tuple[str, str]) -> Callable[[Target], Fields]:
    """
    h2spec's request and C{extra} fields after it.
    """
    return lambda target: [*request(target), *extra]


def conformanceTests(
    cases: Cases, groups: dict[str, int] | None = None
) -> tuple[Callable[..., None], Callable[[], None]]:
    """
    A conformance module's two tests: each of C{cases} over h2c and TLS
    against the module's server (the C{h2targets} fixture of
    C{tests/e2e/conftest.py}, which also parametrizes them), and the check
    that the module holds C{groups} (group to number of cases; by default
    every case).
    """

    def test_conformance(
        case: Case, transport: str, h2targets: dict[str, Target]
    ) -> None:
        """
        One case on a new connection, over h2c and over TLS; the case's
        docstring says what the RFC demands.
        """
        runCase(case, transport, h2targets)

    def test_caseList() -> None:
        """
        The module holds its cases and nothing else, numbered in order in
        each section.
        """
        cases.check(groups or {cases.cases[0].id.split("/")[0]: len(cases.cases)})

    return test_conformance, test_caseList
