"""
echohub's HTTP/2 conformance suite: frame-level cases for RFC 9113 (HTTP/2)
sections 3-8 and RFC 7541 (HPACK), each asserting the outcome the RFC's
MUST demands (the error code of a connection or stream error, or that a
frame is accepted), against a real C{twistd -ny echohub.tac} on loopback,
over h2c (prior knowledge, plain listener) and TLS (ALPN C{h2}, verifying
the development CA).

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
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from h2.errors import ErrorCodes
from h2.settings import SettingCodes
from hpack import Decoder, HPACKDecodingError
from hyperframe.frame import DataFrame, GoAwayFrame, PingFrame, SettingsFrame

from echohub.tls._devcert import DevCertificates
from tests.h2frames import (
    EOS,
    GOAWAY,
    HEADERS,
    PING,
    PRIORITY,
    PUSH_PROMISE,
    RST_STREAM,
    SETTINGS,
    WINDOW_UPDATE,
    Closed,
    FrameClient,
    NotHTTP2,
    Target,
    TimedOut,
    hpackIndexed,
    hpackInteger,
    hpackLiteral,
    hpackString,
    hpackTableSizeUpdate,
    huffman,
    tlsContext,
)
from tests.support import EchohubProcess, running, sslString

pytestmark = pytest.mark.e2e

PROTOCOL_ERROR = ErrorCodes.PROTOCOL_ERROR
FLOW_CONTROL_ERROR = ErrorCodes.FLOW_CONTROL_ERROR
STREAM_CLOSED = ErrorCodes.STREAM_CLOSED
FRAME_SIZE_ERROR = ErrorCodes.FRAME_SIZE_ERROR
REFUSED_STREAM = ErrorCodes.REFUSED_STREAM
COMPRESSION_ERROR = ErrorCodes.COMPRESSION_ERROR
CANCEL = ErrorCodes.CANCEL

TRANSPORTS = ("h2c", "tls")

Run = Callable[[FrameClient, Target], None]


@dataclass(frozen=True)
class Case:
    """
    One conformance case.

    @ivar id: h2spec's id (C{group/section/number}) or C{echohub/...}.
    @ivar run: sends the frames and checks the outcome; its docstring says
        what RFC 9113 or RFC 7541 demands, and where.
    @ivar handshake: complete the connection preface before C{run}.
    @ivar xfail: transport to why the server fails the case today.
    """

    id: str
    description: str
    run: Run
    handshake: bool = True
    xfail: dict[str, str] = field(default_factory=dict)


CASES: list[Case] = []


def case(
    id: str,
    description: str,
    handshake: bool = True,
    xfail: str | None = None,
) -> Callable[[Run], Run]:
    """
    Register a case; C{xfail}: why the server fails it today (on both
    transports).
    """

    def register(run: Run) -> Run:
        assert run.__doc__ and "RFC" in run.__doc__, f"{id}: cite the RFC"
        marks = dict.fromkeys(TRANSPORTS, xfail) if xfail else {}
        CASES.append(Case(id, description, run, handshake, marks))
        return run

    return register


def params() -> Iterator[object]:
    for each in CASES:
        for transport in TRANSPORTS:
            reason = each.xfail.get(transport)
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            yield pytest.param(
                each, transport, id=f"{each.id}-{transport}", marks=marks
            )


@pytest.fixture(scope="module")
def targets(
    tmp_path_factory: pytest.TempPathFactory, devcerts: DevCertificates
) -> Iterator[dict[str, Target]]:
    """
    One echohub for the module with a plain and a TLS web listener and the
    default settings (MAX_CONCURRENT_STREAMS 100, a 4096-byte header
    table, a 16384-byte frame size): the server an outside h2spec run
    meets.
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
    return {
        "h2c": Target("h2c", process.address("web", 0)),
        "tls": Target(
            "tls", process.address("web", 1), tlsContext(devcerts.ca.certificate.path)
        ),
    }


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """
    Parametrize L{test_conformance} over every case (registered below, once
    the module is loaded) and both transports.
    """
    if "case" in metafunc.fixturenames:
        metafunc.parametrize(("case", "transport"), list(params()))


def test_conformance(case: Case, transport: str, targets: dict[str, Target]) -> None:
    """
    Run one case on a new connection (the case's docstring says what RFC
    9113 or RFC 7541 demands); a failure shows the whole exchange.
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


def test_caseList() -> None:
    """
    The suite covers h2spec's whole list (44 generic, 95 http2, 8 hpack
    cases) with unique ids, numbered in order within each section.
    """
    ids = [each.id for each in CASES]
    assert len(ids) == len(set(ids))
    groups: dict[str, int] = {}
    for caseID in ids:
        group = caseID.split("/", 1)[0]
        groups[group] = groups.get(group, 0) + 1
    assert (groups["generic"], groups["http2"], groups["hpack"]) == (44, 95, 8)
    numbers: dict[str, list[int]] = {}
    for caseID in ids:
        section, _, number = caseID.rpartition("/")
        numbers.setdefault(section, []).append(int(number))
    for section, seen in numbers.items():
        assert seen == list(range(1, len(seen) + 1)), section


def test_hpackHelpers() -> None:
    """
    The hand-made HPACK representations are what RFC 7541's examples say
    (appendix C.2, C.4.1) and what C{hpack}'s decoder reads; the broken
    ones are decoding errors to it too (so the cases send what they say).
    """
    assert hpackLiteral(
        b"custom-key", b"custom-header", "incremental"
    ) == bytes.fromhex("400a637573746f6d2d6b65790d637573746f6d2d686561646572")
    assert hpackLiteral(4, b"/sample/path", "without") == bytes.fromhex(
        "040c2f73616d706c652f70617468"
    )
    assert hpackLiteral(b"password", b"secret", "never") == bytes.fromhex(
        "100870617373776f726406736563726574"
    )
    assert hpackIndexed(2) == b"\x82"
    assert hpackString(b"www.example.com", True) == bytes.fromhex(
        "8cf1e3c2e5f23a6ba0ab90f4ff"
    )
    assert hpackInteger(1337, 5) == bytes([31, 154, 10])
    block = (
        hpackTableSizeUpdate(128)
        + hpackIndexed(2)
        + hpackLiteral(58, b"h2spec", "incremental", True)
        + hpackLiteral(b"x-test", b"h2spec", "never", True)
    )
    assert [tuple(field) for field in Decoder().decode(block, raw=True)] == [
        (b":method", b"GET"),
        (b"user-agent", b"h2spec"),
        (b"x-test", b"h2spec"),
    ]
    assert Decoder().decode(huffmanLiteral(huffman(b"test")), raw=True) == [
        (b"x-test", b"test")
    ]
    for broken in [
        LONG_PADDING,
        ZERO_PADDING,
        WITH_EOS,
        hpackIndexed(0),
        hpackIndexed(62),
        hpackIndexed(2) + hpackTableSizeUpdate(1),
        hpackTableSizeUpdate(4097),
    ]:
        with pytest.raises(HPACKDecodingError):
            Decoder().decode(broken)


# Building blocks.


def request(
    target: Target, method: str = "GET", path: str = "/"
) -> list[tuple[str, str]]:
    """
    h2spec's request header list: C{:method}, C{:scheme}, C{:path},
    C{:authority}, in this order.
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


def dummy(count: int) -> list[tuple[str, str]]:
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


UNKNOWN_FRAME = b"\x00\x00\x08\x16\x00\x00\x00\x00\x00" + b"\x00" * 8
"""
A frame of unknown type 0x16 on stream 0 with 8 octets of payload.
"""

PING_DATA = b"h2spec\x00\x00"


# Why the server fails cases today (the xfail reasons).

COMPRESSION = (
    "HPACK decoding error answered GOAWAY PROTOCOL_ERROR, not COMPRESSION_ERROR"
)


# generic: frames and requests a server must accept (h2spec "generic").


@case("generic/1/1", "Sends a client connection preface", handshake=False)
def clientPreface(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 3.4: the server connection preface is a SETTINGS frame
    that MUST be the first frame the server sends.
    """
    client.preface()
    client.settings((SettingCodes.INITIAL_WINDOW_SIZE, 65535))
    first = client.next()
    assert isinstance(first, SettingsFrame) and "ACK" not in first.flags, client.fail(
        "SETTINGS without ACK first", first
    )


@case("generic/2/1", "Sends a PRIORITY frame on idle stream")
def priorityOnIdle(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 5.1 (idle): PRIORITY may be received on an idle stream;
    the connection goes on (the PING is answered).
    """
    client.priority(1, 0, 255)
    client.ping(b"\0" * 8)
    client.expectPingAck(b"\0" * 8)


@case("generic/2/2", "Sends a WINDOW_UPDATE frame on half-closed (remote) stream")
def windowUpdateHalfClosed(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 5.1 (half-closed (remote)): WINDOW_UPDATE may be
    received; with the stream's window opened by 1 the response's DATA
    flows.
    """
    client.settings((SettingCodes.INITIAL_WINDOW_SIZE, 0))
    client.headers(1, request(target))
    client.windowUpdate(1, 1)
    client.expectFrame(DataFrame)


@case("generic/2/3", "Sends a PRIORITY frame on half-closed (remote) stream")
def priorityHalfClosed(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 5.1 (half-closed (remote)): PRIORITY may be received;
    the stream goes on (its DATA flows once its window opens).
    """
    client.settings((SettingCodes.INITIAL_WINDOW_SIZE, 0))
    client.headers(1, request(target))
    client.priority(1, 0, 255)
    client.windowUpdate(1, 1)
    client.expectFrame(DataFrame)


@case("generic/2/4", "Sends a RST_STREAM frame on half-closed (remote) stream")
def rstHalfClosed(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 5.1 (half-closed (remote)): RST_STREAM may be
    received; the connection answers a PING (or is closed).
    """
    client.headers(1, request(target))
    client.rstStream(1, CANCEL)
    client.ping(b"\0" * 8)
    client.expectPingAckOrClose(b"\0" * 8)


@case("generic/2/5", "Sends a PRIORITY frame on closed stream")
def priorityOnClosed(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 5.1 (closed): PRIORITY may be received on a closed
    stream; the connection goes on.
    """
    closeStream(client, target)
    client.priority(1, 0, 255)
    client.ping(b"\0" * 8)
    client.expectPingAck(b"\0" * 8)


@case("generic/3.1/1", "Sends a DATA frame")
def dataFrame(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.1: DATA carries a request's content; the request is
    answered.
    """
    client.headers(1, request(target, "POST"), endStream=False)
    client.data(1, b"test")
    client.expectHeaders(1)


@case("generic/3.1/2", "Sends multiple DATA frames")
def dataFrames(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.1: content in several DATA frames; the request is
    answered.
    """
    client.headers(1, request(target, "POST"), endStream=False)
    client.data(1, b"test", endStream=False)
    client.data(1, b"test")
    client.expectHeaders(1)


@case("generic/3.1/3", "Sends a DATA frame with padding")
def dataPadded(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.1: DATA MAY be padded; the request is answered.
    """
    client.headers(1, request(target, "POST"), endStream=False)
    client.data(1, b"test", padLength=5)
    client.expectHeaders(1)


@case("generic/3.2/1", "Sends a HEADERS frame")
def headersFrame(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.2: HEADERS opens a stream; the request is answered.
    """
    client.headers(1, request(target))
    client.expectHeaders(1)


@case("generic/3.2/2", "Sends a HEADERS frame with padding")
def headersPadded(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.2: HEADERS MAY be padded; the request is answered.
    """
    client.headers(1, request(target), padLength=8)
    client.expectHeaders(1)


@case("generic/3.2/3", "Sends a HEADERS frame with priority")
def headersPriority(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.2: HEADERS MAY carry the (deprecated) priority
    fields, which a server may ignore; the request is answered.
    """
    client.headers(1, request(target), dependsOn=0, weight=255)
    client.expectHeaders(1)


def priorityThenRequest(
    streamID: int, dependsOn: int, weight: int, exclusive: bool
) -> Run:
    def run(client: FrameClient, target: Target) -> None:
        client.priority(streamID, dependsOn, weight, exclusive)
        client.headers(1, request(target))
        client.expectHeaders(1)

    return run


for number, description, priorityArgs, rfc in [
    (1, "Sends a PRIORITY frame with priority 1", (1, 0, 0, False), "weight 1"),
    (2, "Sends a PRIORITY frame with priority 256", (1, 0, 255, False), "weight 256"),
    (
        3,
        "Sends a PRIORITY frame with stream dependency",
        (3, 1, 0, False),
        "stream 3 depending on stream 1",
    ),
    (4, "Sends a PRIORITY frame with exclusive", (1, 0, 0, True), "the E bit set"),
    (
        5,
        "Sends a PRIORITY frame for an idle stream, then send a HEADER frame"
        " for a lower stream ID",
        (3, 0, 255, False),
        "idle stream 3, then a request on stream 1",
    ),
]:
    run = priorityThenRequest(*priorityArgs)
    run.__doc__ = (
        f"RFC 9113 section 6.3: PRIORITY ({rfc}) can be sent in any stream"
        " state and a server may ignore it; a request on stream 1 is then"
        " answered."
    )
    case(f"generic/3.3/{number}", description)(run)


@case("generic/3.4/1", "Sends a RST_STREAM frame")
def rstStream(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.4: RST_STREAM ends a stream; the connection answers a
    PING (or is closed).
    """
    openStream(client, target)
    client.rstStream(1, CANCEL)
    client.ping(b"\0" * 8)
    client.expectPingAckOrClose(b"\0" * 8)


@case("generic/3.5/1", "Sends a SETTINGS frame")
def settingsFrame(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.5: SETTINGS with every defined parameter at a valid
    value is acknowledged (section 6.5.3).
    """
    client.settings(
        (SettingCodes.HEADER_TABLE_SIZE, 4096),
        (SettingCodes.ENABLE_PUSH, 1),
        (SettingCodes.MAX_CONCURRENT_STREAMS, 100),
        (SettingCodes.INITIAL_WINDOW_SIZE, 65535),
        (SettingCodes.MAX_FRAME_SIZE, 16384),
        (SettingCodes.MAX_HEADER_LIST_SIZE, 100),
    )
    client.expectSettingsAck()


@case("generic/3.7/1", "Sends a PING frame")
def pingFrame(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.7: a PING is answered with PING ACK and the same
    payload.
    """
    client.ping(PING_DATA)
    client.expectPingAck(PING_DATA)


@case("generic/3.8/1", "Sends a GOAWAY frame")
def goAwayFrame(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.8: a client's GOAWAY NO_ERROR is accepted; a PING
    after it is still answered (or the connection is closed).
    """
    client.goAway(0, ErrorCodes.NO_ERROR, b"h2spec")
    client.ping(PING_DATA)
    client.expectPingAckOrClose(PING_DATA)


@case("generic/3.9/1", "Sends a WINDOW_UPDATE frame with stream ID 0")
def windowUpdateConnection(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.9: WINDOW_UPDATE on stream 0 grows the connection's
    window; the connection goes on.
    """
    client.windowUpdate(0, 1)
    client.ping(b"\0" * 8)
    client.expectPingAck(b"\0" * 8)


@case("generic/3.9/2", "Sends a WINDOW_UPDATE frame with stream ID 1")
def windowUpdateStream(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.9: WINDOW_UPDATE on an open stream; the request is
    answered.
    """
    client.headers(1, request(target))
    client.windowUpdate(1, 1)
    client.expectHeaders(1)


@case("generic/3.10/1", "Sends a CONTINUATION frame")
def continuationFrame(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.10: a header block split over HEADERS and one
    CONTINUATION; the request is answered.
    """
    block = client.encode(request(target))
    client.headers(1, block[:5], endHeaders=False)
    client.continuation(1, block[5:], endHeaders=True)
    client.expectHeaders(1)


@case("generic/3.10/2", "Sends multiple CONTINUATION frames")
def continuationFrames(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.10: any number of CONTINUATION frames; the request is
    answered.
    """
    block = client.encode(request(target))
    client.headers(1, block[:5], endHeaders=False)
    client.continuation(1, block[5:10], endHeaders=False)
    client.continuation(1, block[10:], endHeaders=True)
    client.expectHeaders(1)


@case("generic/4/1", "Sends a GET request")
def getRequest(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 8.1: a GET request is answered on its stream.
    """
    client.headers(1, request(target))
    client.expectHeaders(1)


@case("generic/4/2", "Sends a HEAD request")
def headRequest(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 8.1: a HEAD request is answered on its stream.
    """
    client.headers(1, request(target, "HEAD"))
    client.expectHeaders(1)


@case("generic/4/3", "Sends a POST request")
def postRequest(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 8.1: a POST request with content is answered on its
    stream.
    """
    client.headers(1, request(target, "POST"), endStream=False)
    client.data(1, b"test")
    client.expectHeaders(1)


@case("generic/4/4", "Sends a POST request with trailers")
def postTrailers(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 8.1: a request may end with a trailer section (a
    HEADERS frame with END_STREAM after the DATA); it is answered.
    """
    client.headers(
        1, [*request(target, "POST"), ("trailer", "x-test")], endStream=False
    )
    client.data(1, b"test", endStream=False)
    client.headers(1, [("x-test", "ok")])
    client.expectHeaders(1)


def hpackAccepted(representation: bytes, first: bool) -> Run:
    """
    A request whose header block has C{representation} after (or, with
    C{first}, before) the usual fields, expected to be answered.
    """

    def run(client: FrameClient, target: Target) -> None:
        block = client.encode(request(target))
        block = representation + block if first else block + representation
        client.headers(1, block)
        client.expectHeaders(1)

    return run


USER_AGENT = 58
"""
C{user-agent}'s index in the static table (RFC 7541 appendix A).
"""

HPACK_ACCEPTED: list[tuple[str, bytes, bool, str]] = [
    # h2spec's description, the representation, whether it comes first in
    # the block, and RFC 7541's section and words.
    (
        "Sends a indexed header field representation",
        hpackIndexed(USER_AGENT),
        False,
        "section 6.1: an indexed header field (user-agent, static table)",
    ),
    (
        "Sends a literal header field with incremental indexing - indexed name",
        hpackLiteral(USER_AGENT, b"h2spec", "incremental"),
        False,
        "section 6.2.1: a literal with incremental indexing, indexed name",
    ),
    (
        "Sends a literal header field with incremental indexing - indexed name"
        " (with Huffman coding)",
        hpackLiteral(USER_AGENT, b"h2spec", "incremental", True),
        False,
        "section 6.2.1: a literal with incremental indexing, indexed name,"
        " Huffman-coded value",
    ),
    (
        "Sends a literal header field with incremental indexing - new name",
        hpackLiteral(b"x-test", b"h2spec", "incremental"),
        False,
        "section 6.2.1: a literal with incremental indexing, new name",
    ),
    (
        "Sends a literal header field with incremental indexing - new name (with"
        " Huffman coding)",
        hpackLiteral(b"x-test", b"h2spec", "incremental", True),
        False,
        "section 6.2.1: a literal with incremental indexing, new name, Huffman-coded",
    ),
    (
        "Sends a literal header field without indexing - indexed name",
        hpackLiteral(USER_AGENT, b"h2spec", "without"),
        False,
        "section 6.2.2: a literal without indexing, indexed name",
    ),
    (
        "Sends a literal header field without indexing - indexed name (with"
        " Huffman coding)",
        hpackLiteral(USER_AGENT, b"h2spec", "without", True),
        False,
        "section 6.2.2: a literal without indexing, indexed name, Huffman-coded value",
    ),
    (
        "Sends a literal header field without indexing - new name",
        hpackLiteral(b"x-test", b"h2spec", "without"),
        False,
        "section 6.2.2: a literal without indexing, new name",
    ),
    (
        "Sends a literal header field without indexing - new name (huffman encoded)",
        hpackLiteral(b"x-test", b"h2spec", "without", True),
        False,
        "section 6.2.2: a literal without indexing, new name, Huffman-coded",
    ),
    (
        "Sends a literal header field never indexed - indexed name",
        hpackLiteral(USER_AGENT, b"h2spec", "never"),
        False,
        "section 6.2.3: a literal never indexed, indexed name",
    ),
    (
        "Sends a literal header field never indexed - indexed name (huffman encoded)",
        hpackLiteral(USER_AGENT, b"h2spec", "never", True),
        False,
        "section 6.2.3: a literal never indexed, indexed name, Huffman-coded value",
    ),
    (
        "Sends a literal header field never indexed - new name",
        hpackLiteral(b"x-test", b"h2spec", "never"),
        False,
        "section 6.2.3: a literal never indexed, new name",
    ),
    (
        "Sends a literal header field never indexed - new name (huffman encoded)",
        hpackLiteral(b"x-test", b"h2spec", "never", True),
        False,
        "section 6.2.3: a literal never indexed, new name, Huffman-coded",
    ),
    (
        "Sends a dynamic table size update",
        hpackTableSizeUpdate(128),
        True,
        "section 6.3: a dynamic table size update (to 128) first in the block",
    ),
    (
        "Sends multiple dynamic table size update",
        hpackTableSizeUpdate(128) + hpackTableSizeUpdate(4096),
        True,
        "section 4.2: two dynamic table size updates (128, then 4096) first in"
        " the block",
    ),
]

for number, (description, accepted, first, rfc) in enumerate(HPACK_ACCEPTED, 1):
    run = hpackAccepted(accepted, first)
    run.__doc__ = (
        f"RFC 7541 {rfc}: the block is decoded and the request answered (RFC"
        " 9113 section 4.3)."
    )
    case(f"generic/5/{number}", description)(run)


# http2: RFC 9113, section by section (h2spec "http2", RFC 7540 numbers).


@case("http2/3.5/1", "Sends client connection preface", handshake=False)
def http2ClientPreface(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 3.4: the server connection preface, a SETTINGS frame,
    MUST be the first frame the server sends.
    """
    clientPreface(client, target)


@case("http2/3.5/2", "Sends invalid connection preface", handshake=False)
def invalidPreface(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 3.4: an invalid connection preface MUST be treated as
    a connection error of type PROTOCOL_ERROR: GOAWAY PROTOCOL_ERROR or the
    connection closed.

    Over h2c the plain listener also serves HTTP/1.1 to any connection that
    does not start with the preface (there is no telling them apart), so
    an HTTP/1.1 error response followed by the close is accepted there;
    h2spec would count that response as a failure.
    """
    client.send(b"INVALID CONNECTION PREFACE\r\n\r\n", "INVALID CONNECTION PREFACE")
    if target.context is not None:
        client.expectConnectionError(PROTOCOL_ERROR)
        return
    first = client.next()
    if isinstance(first, NotHTTP2):
        assert first.data.startswith(b"HTTP/1.1 4"), client.fail(
            "an HTTP/1.1 4xx answer, then the close", first
        )
        while not isinstance(event := client.next(), Closed):
            if isinstance(event, TimedOut):
                raise client.fail("the close after the HTTP/1.1 answer", event)
    elif not isinstance(first, Closed):
        raise client.fail("the connection closed (or an HTTP/1.1 4xx)", first)


@case("http2/4.1/1", "Sends a frame with unknown type")
def unknownFrameType(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 4.1: a frame of unknown type MUST be ignored and
    discarded; the PING after it is answered.
    """
    client.send(UNKNOWN_FRAME)
    client.ping(b"\0" * 8)
    client.expectPingAck(b"\0" * 8)


@case("http2/4.1/2", "Sends a frame with undefined flag")
def undefinedFlag(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 4.1: flags undefined for a frame type MUST be ignored;
    a PING with flags 0x16 (ACK unset) is answered.
    """
    client.raw(PING, 0x16, 0, b"\0" * 8)
    client.expectFrame(PingFrame)


@case("http2/4.1/3", "Sends a frame with reserved field bit")
def reservedBit(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 4.1: the reserved bit of the stream identifier MUST be
    ignored when receiving; a PING with it set is answered.
    """
    client.raw(PING, 0x16, 0x80000000, b"\0" * 8)
    client.expectFrame(PingFrame)


@case("http2/4.2/1", "Sends a DATA frame with 2^14 octets in length")
def dataMaxFrame(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 4.2: every endpoint MUST be capable of receiving frames
    of 2^14 octets; a request with such a DATA frame is answered.
    """
    client.headers(1, request(target, "POST"), endStream=False)
    client.data(1, b"x" * 16384)
    client.expectHeaders(1)


@case(
    "http2/4.2/2",
    "Sends a large size DATA frame that exceeds the SETTINGS_MAX_FRAME_SIZE",
)
def dataTooLarge(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 4.2: a frame over SETTINGS_MAX_FRAME_SIZE MUST get a
    FRAME_SIZE_ERROR (a stream error for DATA, or a connection error).
    """
    client.headers(1, request(target, "POST"), endStream=False)
    client.data(1, b"x" * 16385)
    client.expectStreamError(1, FRAME_SIZE_ERROR)


@case(
    "http2/4.2/3",
    "Sends a large size HEADERS frame that exceeds the SETTINGS_MAX_FRAME_SIZE",
)
def headersTooLarge(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 4.2: a frame that carries a header block and exceeds
    SETTINGS_MAX_FRAME_SIZE MUST be a connection error of type
    FRAME_SIZE_ERROR.
    """
    block = client.encode([*request(target), *dummy(5)])
    assert len(block) > 16384
    client.headers(1, block)
    client.expectConnectionError(FRAME_SIZE_ERROR)


@case(
    "http2/4.3/1",
    "Sends invalid header block fragment",
    xfail=COMPRESSION,
)
def invalidHeaderBlock(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 4.3: a header block that cannot be decompressed MUST be
    a connection error of type COMPRESSION_ERROR.  The block is one octet,
    a literal with incremental indexing whose name and value are missing.
    """
    client.headers(1, b"\x40")
    client.expectConnectionError(COMPRESSION_ERROR)


@case("http2/4.3/2", "Sends a PRIORITY frame while sending the header blocks")
def priorityInHeaderBlock(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 4.3: a header block MUST be a contiguous sequence of
    frames; any other frame in between is a connection error of type
    PROTOCOL_ERROR.
    """
    client.headers(1, request(target), endStream=False, endHeaders=False)
    client.priority(1, 0, 255)
    client.continuation(1, client.encode(dummy(1)), endHeaders=True)
    client.expectConnectionError(PROTOCOL_ERROR)


@case(
    "http2/4.3/3",
    "Sends a HEADERS frame to another stream while sending the header blocks",
)
def headersInHeaderBlock(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 4.3: a frame from another stream inside a header block
    is a connection error of type PROTOCOL_ERROR.
    """
    client.headers(1, request(target), endStream=False, endHeaders=False)
    client.headers(3, request(target))
    client.continuation(1, client.encode(dummy(1)), endHeaders=True)
    client.expectConnectionError(PROTOCOL_ERROR)


@case("http2/5.1/1", "idle: Sends a DATA frame")
def idleData(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 5.1 (idle): a frame other than HEADERS or PRIORITY on
    an idle stream MUST be a connection error of type PROTOCOL_ERROR
    (section 6.1 says STREAM_CLOSED for DATA: h2spec accepts either).
    """
    client.data(1, b"test")
    client.expectStreamError(1, PROTOCOL_ERROR, STREAM_CLOSED)


@case("http2/5.1/2", "idle: Sends a RST_STREAM frame")
def idleRstStream(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 5.1 (idle) and 6.4: RST_STREAM on an idle stream MUST
    be a connection error of type PROTOCOL_ERROR.
    """
    client.rstStream(1, CANCEL)
    client.expectConnectionError(PROTOCOL_ERROR)


@case("http2/5.1/3", "idle: Sends a WINDOW_UPDATE frame")
def idleWindowUpdate(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 5.1 (idle): WINDOW_UPDATE on an idle stream MUST be a
    connection error of type PROTOCOL_ERROR.
    """
    client.windowUpdate(1, 100)
    client.expectConnectionError(PROTOCOL_ERROR)


@case("http2/5.1/4", "idle: Sends a CONTINUATION frame")
def idleContinuation(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 5.1 (idle) and 6.10: CONTINUATION on an idle stream,
    with no header block open, MUST be a connection error of type
    PROTOCOL_ERROR.
    """
    client.continuation(1, client.encode(request(target)), endHeaders=True)
    client.expectConnectionError(PROTOCOL_ERROR)


@case("http2/5.1/5", "half closed (remote): Sends a DATA frame")
def halfClosedData(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 5.1 (half-closed (remote)): DATA after the client's
    END_STREAM MUST be a stream error of type STREAM_CLOSED.
    """
    client.headers(1, request(target))
    client.data(1, b"test")
    client.expectStreamError(1, STREAM_CLOSED)


@case("http2/5.1/6", "half closed (remote): Sends a HEADERS frame")
def halfClosedHeaders(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 5.1 (half-closed (remote)): HEADERS after the client's
    END_STREAM MUST be a stream error of type STREAM_CLOSED.
    """
    client.headers(1, request(target))
    client.headers(1, request(target))
    client.expectStreamError(1, STREAM_CLOSED)


@case("http2/5.1/7", "half closed (remote): Sends a CONTINUATION frame")
def halfClosedContinuation(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 5.1 (half-closed (remote)) and 6.10: a CONTINUATION
    after a complete header block is a stream error of type STREAM_CLOSED,
    or the connection error PROTOCOL_ERROR of section 6.10.
    """
    block = client.encode(request(target))
    client.headers(1, block)
    client.continuation(1, block, endHeaders=True)
    client.expectStreamError(1, STREAM_CLOSED, PROTOCOL_ERROR)


@case("http2/5.1/8", "closed: Sends a DATA frame after sending RST_STREAM frame")
def dataAfterReset(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 5.1 (closed): a frame other than PRIORITY after the
    client's RST_STREAM MUST be a stream error of type STREAM_CLOSED.
    """
    openStream(client, target)
    client.rstStream(1, CANCEL)
    client.data(1, b"test")
    client.expectStreamError(1, STREAM_CLOSED)


@case("http2/5.1/9", "closed: Sends a HEADERS frame after sending RST_STREAM frame")
def headersAfterReset(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 5.1 (closed): HEADERS after the client's RST_STREAM
    MUST be a stream error of type STREAM_CLOSED.
    """
    openStream(client, target)
    client.rstStream(1, CANCEL)
    client.headers(1, request(target))
    client.expectStreamError(1, STREAM_CLOSED)


@case(
    "http2/5.1/10",
    "closed: Sends a CONTINUATION frame after sending RST_STREAM frame",
)
def continuationAfterReset(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 5.1 (closed) and 6.10: a CONTINUATION after the
    client's RST_STREAM is a stream error of type STREAM_CLOSED, or the
    connection error PROTOCOL_ERROR of section 6.10.
    """
    openStream(client, target)
    client.rstStream(1, CANCEL)
    client.continuation(1, client.encode(dummy(1)), endHeaders=True)
    client.expectStreamError(1, STREAM_CLOSED, PROTOCOL_ERROR)


@case("http2/5.1/11", "closed: Sends a DATA frame")
def closedData(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 5.1 (closed): a frame after END_STREAM both ways MUST
    be a connection error of type STREAM_CLOSED; for DATA h2spec also
    accepts the stream error STREAM_CLOSED (section 6.1).
    """
    closeStream(client, target)
    client.data(1, b"test")
    client.expectStreamError(1, STREAM_CLOSED)


@case("http2/5.1/12", "closed: Sends a HEADERS frame")
def closedHeaders(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 5.1 (closed): HEADERS on a stream closed by END_STREAM
    both ways MUST be a connection error of type STREAM_CLOSED.
    """
    closeStream(client, target)
    client.headers(1, request(target))
    client.expectConnectionError(STREAM_CLOSED)


@case("http2/5.1/13", "closed: Sends a CONTINUATION frame")
def closedContinuation(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 5.1 (closed) and 6.10: a CONTINUATION on a closed
    stream, with no header block open, is a connection error of type
    STREAM_CLOSED or PROTOCOL_ERROR.
    """
    closeStream(client, target)
    client.continuation(1, client.encode(dummy(1)), endHeaders=True)
    client.expectConnectionError(STREAM_CLOSED, PROTOCOL_ERROR)


@case("http2/5.1.1/1", "Sends even-numbered stream identifier")
def evenStream(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 5.1.1: a client stream with an even identifier MUST be
    a connection error of type PROTOCOL_ERROR.
    """
    client.headers(2, request(target))
    client.expectConnectionError(PROTOCOL_ERROR)


@case(
    "http2/5.1.1/2",
    "Sends stream identifier that is numerically smaller than previous",
)
def smallerStream(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 5.1.1: a new stream's identifier MUST be larger than
    every one opened before; a smaller one is a connection error of type
    PROTOCOL_ERROR.
    """
    client.headers(5, request(target))
    client.headers(3, request(target))
    client.expectConnectionError(PROTOCOL_ERROR)


@case(
    "http2/5.1.2/1",
    "Sends HEADERS frames that causes their advertised concurrent stream limit"
    " to be exceeded",
)
def tooManyStreams(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 5.1.2: a HEADERS frame over the advertised
    SETTINGS_MAX_CONCURRENT_STREAMS MUST be a stream error of type
    PROTOCOL_ERROR or REFUSED_STREAM.  A zero initial window keeps every
    response open.
    """
    limit = client.serverSettings[SettingCodes.MAX_CONCURRENT_STREAMS]
    client.settings((SettingCodes.INITIAL_WINDOW_SIZE, 0))
    block = client.encode(request(target))
    for index in range(limit + 1):
        client.headers(1 + 2 * index, block)
    client.expectStreamError(1 + 2 * limit, PROTOCOL_ERROR, REFUSED_STREAM)


@case("http2/5.3.1/1", "Sends HEADERS frame that depends on itself")
def headersDependsOnItself(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 5.3.1: a stream that depends on itself MUST be a
    stream error of type PROTOCOL_ERROR.
    """
    client.headers(1, request(target), dependsOn=1, weight=255)
    client.expectStreamError(1, PROTOCOL_ERROR)


@case("http2/5.3.1/2", "Sends PRIORITY frame that depend on itself")
def priorityDependsOnItself(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 5.3.1: a PRIORITY frame making a stream depend on
    itself MUST be a stream error of type PROTOCOL_ERROR.
    """
    client.priority(1, 1, 255)
    client.expectStreamError(1, PROTOCOL_ERROR)


@case("http2/5.4.1/1", "Sends an invalid PING frame for connection close")
def invalidPingCloses(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 5.4.1: after a connection error the endpoint MUST
    close the TCP connection (here a PING on stream 3).
    """
    client.raw(PING, 0, 3, b"\0" * 8)
    client.expectConnectionClosed()


@case("http2/5.4.1/2", "Sends an invalid PING frame to receive GOAWAY frame")
def invalidPingGoAway(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 5.4.1: an endpoint that encounters a connection error
    SHOULD first send a GOAWAY (h2spec's strict case; the code is
    PROTOCOL_ERROR, section 6.7).
    """
    client.raw(PING, 0, 3, b"\0" * 8)
    client.expectGoAway(PROTOCOL_ERROR)


@case("http2/5.5/1", "Sends an unknown extension frame")
def unknownExtension(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 5.5: unknown extension frames MUST be ignored; the
    PING after one is answered.
    """
    unknownFrameType(client, target)


@case("http2/5.5/2", "Sends an unknown extension frame in the middle of a header block")
def unknownInHeaderBlock(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 5.5: an extension frame in the middle of a header block
    MUST be a connection error of type PROTOCOL_ERROR.
    """
    client.headers(1, request(target), endHeaders=False)
    client.send(UNKNOWN_FRAME)
    client.expectConnectionError(PROTOCOL_ERROR)


@case("http2/6.1/1", "Sends a DATA frame with 0x0 stream identifier")
def dataStreamZero(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.1: DATA on stream 0 MUST be a connection error of
    type PROTOCOL_ERROR.
    """
    client.data(0, b"test")
    client.expectConnectionError(PROTOCOL_ERROR)


@case(
    "http2/6.1/2",
    'Sends a DATA frame on the stream that is not in "open" or'
    ' "half-closed (local)" state',
)
def dataNotOpen(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.1: DATA on a stream neither open nor half-closed
    (local) MUST be a stream error of type STREAM_CLOSED.
    """
    client.headers(1, request(target, "POST"))
    client.data(1, b"test")
    client.expectStreamError(1, STREAM_CLOSED)


@case("http2/6.1/3", "Sends a DATA frame with invalid pad length")
def dataBadPadding(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.1: padding as long as the payload or longer MUST be a
    connection error of type PROTOCOL_ERROR (here: 5 octets, pad length 6).
    """
    client.headers(
        1, [*request(target, "POST"), ("content-length", "4")], endStream=False
    )
    client.raw(0x0, 0x9, 1, b"\x06Test")
    client.expectConnectionError(PROTOCOL_ERROR)


@case(
    "http2/6.2/1",
    "Sends a HEADERS frame without the END_HEADERS flag, and a PRIORITY frame",
)
def headersThenPriority(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.2: HEADERS without END_HEADERS MUST be followed by a
    CONTINUATION on the same stream; anything else is a connection error of
    type PROTOCOL_ERROR.
    """
    priorityInHeaderBlock(client, target)


@case(
    "http2/6.2/2",
    "Sends a HEADERS frame to another stream while sending a HEADERS frame",
)
def headersThenHeaders(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.2: a frame on another stream after HEADERS without
    END_HEADERS is a connection error of type PROTOCOL_ERROR.
    """
    headersInHeaderBlock(client, target)


@case("http2/6.2/3", "Sends a HEADERS frame with 0x0 stream identifier")
def headersStreamZero(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.2: HEADERS on stream 0 MUST be a connection error of
    type PROTOCOL_ERROR.
    """
    client.raw(HEADERS, 0x5, 0, client.encode(request(target)))
    client.expectConnectionError(PROTOCOL_ERROR)


@case("http2/6.2/4", "Sends a HEADERS frame with invalid pad length")
def headersBadPadding(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.2: padding that exceeds the room left for the header
    block MUST be treated as a PROTOCOL_ERROR.
    """
    block = client.encode(request(target))
    client.raw(HEADERS, 0x0D, 1, bytes([len(block) + 2]) + block)
    client.expectStreamError(1, PROTOCOL_ERROR)


@case("http2/6.3/1", "Sends a PRIORITY frame with 0x0 stream identifier")
def priorityStreamZero(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.3: PRIORITY on stream 0 MUST be a connection error of
    type PROTOCOL_ERROR.
    """
    client.priority(0, 0, 255)
    client.expectConnectionError(PROTOCOL_ERROR)


@case("http2/6.3/2", "Sends a PRIORITY frame with a length other than 5 octets")
def priorityBadLength(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.3: a PRIORITY frame not 5 octets long MUST be a
    stream error of type FRAME_SIZE_ERROR.
    """
    client.headers(1, request(target))
    client.raw(PRIORITY, 0, 1, b"\x80\x00\x00\x01")
    client.expectStreamError(1, FRAME_SIZE_ERROR)


@case("http2/6.4/1", "Sends a RST_STREAM frame with 0x0 stream identifier")
def rstStreamZero(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.4: RST_STREAM on stream 0 MUST be a connection error
    of type PROTOCOL_ERROR.
    """
    client.rstStream(0, CANCEL)
    client.expectConnectionError(PROTOCOL_ERROR)


@case("http2/6.4/2", "Sends a RST_STREAM frame on a idle stream")
def rstIdle(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.4: RST_STREAM on an idle stream MUST be a connection
    error of type PROTOCOL_ERROR.
    """
    client.rstStream(1, CANCEL)
    client.expectConnectionError(PROTOCOL_ERROR)


@case("http2/6.4/3", "Sends a RST_STREAM frame with a length other than 4 octets")
def rstBadLength(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.4: a RST_STREAM not 4 octets long MUST be a
    connection error of type FRAME_SIZE_ERROR (h2spec accepts it on the
    stream too).
    """
    client.headers(1, request(target))
    client.raw(RST_STREAM, 0, 1, b"\0\0\0")
    client.expectStreamError(1, FRAME_SIZE_ERROR)


@case(
    "http2/6.5/1",
    "Sends a SETTINGS frame with ACK flag and payload",
    xfail="SETTINGS(ACK) with a 1-octet payload is answered GOAWAY PROTOCOL_ERROR"
    " and the close, not FRAME_SIZE_ERROR",
)
def settingsAckPayload(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.5: a SETTINGS frame with ACK and a non-zero length
    MUST be a connection error of type FRAME_SIZE_ERROR.
    """
    client.raw(SETTINGS, 0x1, 0, b"\0")
    client.expectConnectionError(FRAME_SIZE_ERROR)


@case("http2/6.5/2", "Sends a SETTINGS frame with a stream identifier other than 0x0")
def settingsOnStream(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.5: SETTINGS on a stream other than 0 MUST be a
    connection error of type PROTOCOL_ERROR.
    """
    client.raw(SETTINGS, 0, 1, b"\x00\x03\x00\x00\x00\x64")
    client.expectConnectionError(PROTOCOL_ERROR)


@case(
    "http2/6.5/3",
    "Sends a SETTINGS frame with a length other than a multiple of 6 octets",
)
def settingsBadLength(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.5: a SETTINGS length not a multiple of 6 MUST be a
    connection error of type FRAME_SIZE_ERROR (h2spec also accepts
    PROTOCOL_ERROR, a badly formed SETTINGS frame).
    """
    client.raw(SETTINGS, 0, 0, b"\x00\x03\x00")
    client.expectConnectionError(FRAME_SIZE_ERROR, PROTOCOL_ERROR)


def badSetting(setting: int, value: int, code: int) -> Run:
    def run(client: FrameClient, target: Target) -> None:
        client.settings((setting, value))
        client.expectConnectionError(code)

    return run


for number, description, settingArgs, rfc in [
    (
        1,
        "SETTINGS_ENABLE_PUSH (0x2): Sends the value other than 0 or 1",
        (SettingCodes.ENABLE_PUSH, 2, PROTOCOL_ERROR),
        "SETTINGS_ENABLE_PUSH other than 0 or 1 MUST be a connection error"
        " of type PROTOCOL_ERROR",
    ),
    (
        2,
        "SETTINGS_INITIAL_WINDOW_SIZE (0x4): Sends the value above the maximum"
        " flow control window size",
        (SettingCodes.INITIAL_WINDOW_SIZE, 2**31, FLOW_CONTROL_ERROR),
        "SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1 MUST be a connection error"
        " of type FLOW_CONTROL_ERROR",
    ),
    (
        3,
        "SETTINGS_MAX_FRAME_SIZE (0x5): Sends the value below the initial value",
        (SettingCodes.MAX_FRAME_SIZE, 16383, PROTOCOL_ERROR),
        "SETTINGS_MAX_FRAME_SIZE below 2^14 MUST be a connection error of"
        " type PROTOCOL_ERROR",
    ),
    (
        4,
        "SETTINGS_MAX_FRAME_SIZE (0x5): Sends the value above the maximum"
        " allowed frame size",
        (SettingCodes.MAX_FRAME_SIZE, 2**24, PROTOCOL_ERROR),
        "SETTINGS_MAX_FRAME_SIZE above 2^24-1 MUST be a connection error of"
        " type PROTOCOL_ERROR",
    ),
]:
    run = badSetting(*settingArgs)
    run.__doc__ = f"RFC 9113 section 6.5.2: {rfc}."
    case(f"http2/6.5.2/{number}", description)(run)


@case("http2/6.5.2/5", "Sends a SETTINGS frame with unknown identifier")
def unknownSetting(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.5.2: a setting with an unknown identifier MUST be
    ignored; the PING after it is answered.
    """
    client.settings((0xFF, 1))
    client.ping(b"\0" * 8)
    client.expectPingAck(b"\0" * 8)


@case("http2/6.5.3/1", "Sends multiple values of SETTINGS_INITIAL_WINDOW_SIZE")
def settingsInOrder(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.5.3: the values of a SETTINGS frame MUST be processed
    in order: INITIAL_WINDOW_SIZE 100 then 1 leaves a window of 1, so the
    response's first DATA frame is 1 octet.
    """
    client.settings(
        (SettingCodes.INITIAL_WINDOW_SIZE, 100), (SettingCodes.INITIAL_WINDOW_SIZE, 1)
    )
    client.expectSettingsAck()
    client.headers(1, request(target))
    client.expectData(1, 1)


@case("http2/6.5.3/2", "Sends a SETTINGS frame without ACK flag")
def settingsAcked(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.5.3: once the values are processed the recipient
    MUST immediately emit SETTINGS with ACK.
    """
    client.settings((SettingCodes.ENABLE_PUSH, 0))
    client.expectSettingsAck()


@case("http2/6.7/1", "Sends a PING frame")
def http2Ping(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.7: a PING without ACK MUST be answered with PING ACK
    and an identical payload.
    """
    pingFrame(client, target)


@case("http2/6.7/2", "Sends a PING frame with ACK")
def pingAckNotAnswered(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.7: an endpoint MUST NOT respond to a PING with ACK:
    the first PING the server sends acknowledges the second one sent.
    """
    client.ping(b"invalid\0", ack=True)
    client.ping(PING_DATA)
    client.expectPingAck(PING_DATA)


@case(
    "http2/6.7/3",
    "Sends a PING frame with a stream identifier field value other than 0x0",
)
def pingOnStream(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.7: PING on a stream other than 0 MUST be a connection
    error of type PROTOCOL_ERROR.
    """
    client.raw(PING, 0, 1, b"\0" * 8)
    client.expectConnectionError(PROTOCOL_ERROR)


@case("http2/6.7/4", "Sends a PING frame with a length field value other than 8")
def pingBadLength(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.7: a PING not 8 octets long MUST be a connection
    error of type FRAME_SIZE_ERROR.
    """
    client.raw(PING, 0, 0, b"\0" * 6)
    client.expectConnectionError(FRAME_SIZE_ERROR)


@case("http2/6.8/1", "Sends a GOAWAY frame with a stream identifier other than 0x0")
def goAwayOnStream(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.8: GOAWAY on a stream other than 0 MUST be a
    connection error of type PROTOCOL_ERROR.
    """
    client.raw(GOAWAY, 0, 1, b"\0" * 8)
    client.expectConnectionError(PROTOCOL_ERROR)


@case(
    "http2/6.9/1",
    "Sends a WINDOW_UPDATE frame with a flow control window increment of 0",
)
def windowUpdateZero(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.9: an increment of 0 on the connection's window MUST
    be a connection error of type PROTOCOL_ERROR.
    """
    client.windowUpdate(0, 0)
    client.expectConnectionError(PROTOCOL_ERROR)


@case(
    "http2/6.9/2",
    "Sends a WINDOW_UPDATE frame with a flow control window increment of 0 on a stream",
)
def windowUpdateZeroStream(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.9: an increment of 0 on a stream MUST be a stream
    error of type PROTOCOL_ERROR.
    """
    openStream(client, target)
    client.windowUpdate(1, 0)
    client.expectStreamError(1, PROTOCOL_ERROR)


@case("http2/6.9/3", "Sends a WINDOW_UPDATE frame with a length other than 4 octets")
def windowUpdateBadLength(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.9: a WINDOW_UPDATE not 4 octets long MUST be a
    connection error of type FRAME_SIZE_ERROR.
    """
    client.raw(WINDOW_UPDATE, 0, 0, b"\0\0\x01")
    client.expectConnectionError(FRAME_SIZE_ERROR)


@case(
    "http2/6.9.1/1",
    "Sends SETTINGS frame to set the initial window size to 1 and sends HEADERS frame",
)
def windowOfOne(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.9.1: the sender MUST NOT send a flow-controlled frame
    larger than the window: with an initial window of 1, the first DATA is
    1 octet.
    """
    client.settings((SettingCodes.INITIAL_WINDOW_SIZE, 1))
    client.expectSettingsAck()
    client.headers(1, request(target))
    client.expectData(1, 1)


@case(
    "http2/6.9.1/2",
    "Sends multiple WINDOW_UPDATE frames increasing the flow control window to"
    " above 2^31-1",
)
def connectionWindowOverflow(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.9.1: a WINDOW_UPDATE that takes the connection's
    window over 2^31-1 MUST end the connection with GOAWAY
    FLOW_CONTROL_ERROR.
    """
    client.windowUpdate(0, 2**31 - 1)
    client.windowUpdate(0, 2**31 - 1)
    client.expectGoAway(FLOW_CONTROL_ERROR)


@case(
    "http2/6.9.1/3",
    "Sends multiple WINDOW_UPDATE frames increasing the flow control window to"
    " above 2^31-1 on a stream",
)
def streamWindowOverflow(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.9.1: a WINDOW_UPDATE that takes a stream's window
    over 2^31-1 MUST reset the stream with RST_STREAM FLOW_CONTROL_ERROR.
    """
    openStream(client, target)
    client.windowUpdate(1, 2**31 - 1)
    client.windowUpdate(1, 2**31 - 1)
    client.expectRstStream(1, FLOW_CONTROL_ERROR)


@case(
    "http2/6.9.2/1", "Changes SETTINGS_INITIAL_WINDOW_SIZE after sending HEADERS frame"
)
def initialWindowChanged(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.9.2: a change of SETTINGS_INITIAL_WINDOW_SIZE MUST
    adjust every stream's window: from 0 to 1 after the request, the
    response's first DATA is 1 octet.
    """
    client.settings((SettingCodes.INITIAL_WINDOW_SIZE, 0))
    client.expectSettingsAck()
    client.headers(1, request(target))
    client.settings((SettingCodes.INITIAL_WINDOW_SIZE, 1))
    client.expectData(1, 1)


@case("http2/6.9.2/2", "Sends a SETTINGS frame for window size to be negative")
def negativeWindow(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.9.2: the sender MUST track a negative window: after 3
    octets sent on a window of 3, a new initial window of 2 leaves -1, and a
    WINDOW_UPDATE of 2 allows exactly 1 more octet.
    """
    client.settings((SettingCodes.INITIAL_WINDOW_SIZE, 3))
    client.expectSettingsAck()
    client.headers(1, request(target))
    client.expectFrame(DataFrame)
    client.settings((SettingCodes.INITIAL_WINDOW_SIZE, 2))
    client.expectSettingsAck()
    client.windowUpdate(1, 2)
    client.expectData(1, 1)


@case(
    "http2/6.9.2/3",
    "Sends a SETTINGS_INITIAL_WINDOW_SIZE settings with an exceeded maximum window"
    " size value",
)
def initialWindowTooLarge(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.9.2: a SETTINGS_INITIAL_WINDOW_SIZE that takes a
    window over 2^31-1 MUST be a connection error of type
    FLOW_CONTROL_ERROR.
    """
    client.raw(SETTINGS, 0, 0, b"\x00\x04\x80\x00\x00\x00")
    client.expectConnectionError(FLOW_CONTROL_ERROR)


@case("http2/6.10/1", "Sends multiple CONTINUATION frames preceded by a HEADERS frame")
def continuationsAfterHeaders(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.10: any number of CONTINUATION frames may follow
    HEADERS without END_HEADERS; the request is answered.
    """
    client.headers(1, request(target), endHeaders=False)
    client.continuation(1, client.encode(dummy(1)), endHeaders=False)
    client.continuation(1, client.encode(dummy(1)), endHeaders=True)
    client.expectHeaders(1)


@case(
    "http2/6.10/2",
    "Sends a CONTINUATION frame followed by any frame other than CONTINUATION",
)
def continuationThenData(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.10: a CONTINUATION without END_HEADERS MUST be
    followed by another CONTINUATION; anything else is a connection error
    of type PROTOCOL_ERROR.
    """
    client.headers(1, request(target, "POST"), endStream=False, endHeaders=False)
    client.continuation(1, client.encode(dummy(1)), endHeaders=False)
    client.data(1, b"test")
    client.expectConnectionError(PROTOCOL_ERROR)


@case("http2/6.10/3", "Sends a CONTINUATION frame with 0x0 stream identifier")
def continuationStreamZero(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.10: CONTINUATION on stream 0 MUST be a connection
    error of type PROTOCOL_ERROR.
    """
    client.headers(1, request(target), endHeaders=False)
    client.continuation(0, client.encode(dummy(1)), endHeaders=True)
    client.expectConnectionError(PROTOCOL_ERROR)


@case(
    "http2/6.10/4",
    "Sends a CONTINUATION frame preceded by a HEADERS frame with END_HEADERS flag",
)
def continuationAfterEndHeaders(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.10: a CONTINUATION not preceded by HEADERS,
    PUSH_PROMISE or CONTINUATION without END_HEADERS MUST be a connection
    error of type PROTOCOL_ERROR.
    """
    client.headers(1, request(target))
    client.continuation(1, client.encode(dummy(1)), endHeaders=True)
    client.expectConnectionError(PROTOCOL_ERROR)


@case(
    "http2/6.10/5",
    "Sends a CONTINUATION frame preceded by a CONTINUATION frame with END_HEADERS flag",
)
def continuationAfterEndedContinuation(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.10: a CONTINUATION after one with END_HEADERS MUST be
    a connection error of type PROTOCOL_ERROR.
    """
    client.headers(1, request(target), endHeaders=False)
    client.continuation(1, client.encode(dummy(1)), endHeaders=True)
    client.continuation(1, client.encode(dummy(1)), endHeaders=True)
    client.expectConnectionError(PROTOCOL_ERROR)


@case("http2/6.10/6", "Sends a CONTINUATION frame preceded by a DATA frame")
def continuationAfterData(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.10: a CONTINUATION after DATA MUST be a connection
    error of type PROTOCOL_ERROR (the DATA inside the header block already
    is one).
    """
    client.headers(1, request(target, "POST"), endStream=False, endHeaders=False)
    client.data(1, b"test")
    client.continuation(1, client.encode(dummy(1)), endHeaders=False)
    client.continuation(0, client.encode(dummy(1)), endHeaders=True)
    client.expectConnectionError(PROTOCOL_ERROR)


@case("http2/7/1", "Sends a GOAWAY frame with unknown error code")
def goAwayUnknownCode(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 7: unknown error codes MUST NOT trigger special
    behaviour: after a GOAWAY with code 0xff a PING is answered (or the
    connection closed).
    """
    client.goAway(0, 0xFF)
    client.ping(PING_DATA)
    client.expectPingAckOrClose(PING_DATA)


@case("http2/7/2", "Sends a RST_STREAM frame with unknown error code")
def rstUnknownCode(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 7: a RST_STREAM with code 0xff ends the stream and
    nothing more; a PING is answered (or the connection closed).
    """
    client.headers(1, request(target, "POST"), endStream=False)
    client.rstStream(1, 0xFF)
    client.ping(b"\0" * 8)
    client.expectPingAckOrClose(b"\0" * 8)


def malformed(fields: Callable[[Target], list[tuple[str, str]]]) -> Run:
    """
    A request whose header list is C{fields(target)}, complete in one
    HEADERS frame, expected to be a stream error of type PROTOCOL_ERROR
    (RFC 9113 section 8.1.1: a malformed request).
    """

    def run(client: FrameClient, target: Target) -> None:
        client.headers(1, fields(target))
        client.expectStreamError(1, PROTOCOL_ERROR)

    return run


def trailers(fields: list[tuple[str, str]], endStream: bool) -> Run:
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


def malformedCase(id: str, description: str, rfc: str, run: Run) -> None:
    run.__doc__ = f"{rfc}; a malformed request MUST be a stream error of type"
    run.__doc__ += " PROTOCOL_ERROR (RFC 9113 section 8.1.1)."
    case(id, description)(run)


def without(name: str) -> Callable[[Target], list[tuple[str, str]]]:
    return lambda t: [f for f in request(t) if f[0] != name]


def plus(*extra: tuple[str, str]) -> Callable[[Target], list[tuple[str, str]]]:
    return lambda t: [*request(t), *extra]


def twice(name: str) -> Callable[[Target], list[tuple[str, str]]]:
    return lambda t: [*request(t), *[f for f in request(t) if f[0] == name]]


malformedCase(
    "http2/8.1/1",
    "Sends a second HEADERS frame without the END_STREAM flag",
    "RFC 9113 section 8.1: a HEADERS frame without END_STREAM after the"
    " request's header section (a trailer section that does not end the"
    " stream)",
    trailers([("x-test", "ok")], endStream=False),
)
malformedCase(
    "http2/8.1.2/1",
    "Sends a HEADERS frame that contains the header field name in uppercase letters",
    "RFC 9113 section 8.2.1: a field name with uppercase letters (X-TEST)",
    malformed(plus(("X-TEST", "ok"))),
)
malformedCase(
    "http2/8.1.2.1/1",
    "Sends a HEADERS frame that contains a unknown pseudo-header field",
    "RFC 9113 section 8.3: an undefined pseudo-header field (:test)",
    malformed(plus((":test", "ok"))),
)
malformedCase(
    "http2/8.1.2.1/2",
    "Sends a HEADERS frame that contains the pseudo-header field defined for response",
    "RFC 9113 section 8.3: a response pseudo-header field (:status) in a request",
    malformed(plus((":status", "200"))),
)
malformedCase(
    "http2/8.1.2.1/3",
    "Sends a HEADERS frame that contains a pseudo-header field as trailers",
    "RFC 9113 section 8.3: a pseudo-header field (:method) in a trailer section",
    trailers([(":method", "POST")], endStream=True),
)
malformedCase(
    "http2/8.1.2.1/4",
    "Sends a HEADERS frame that contains a pseudo-header field that appears in a"
    " header block after a regular header field",
    "RFC 9113 section 8.3: a pseudo-header field after a regular field",
    malformed(lambda t: [("x-test", "ok"), *request(t)]),
)
malformedCase(
    "http2/8.1.2.2/1",
    "Sends a HEADERS frame that contains the connection-specific header field",
    "RFC 9113 section 8.2.2: a connection-specific field (connection: keep-alive)",
    malformed(plus(("connection", "keep-alive"))),
)
malformedCase(
    "http2/8.1.2.2/2",
    "Sends a HEADERS frame that contains the TE header field with any value other"
    ' than "trailers"',
    'RFC 9113 section 8.2.2: TE with a value other than "trailers"'
    ' ("trailers, deflate")',
    malformed(plus(("trailers", "test"), ("te", "trailers, deflate"))),
)
malformedCase(
    "http2/8.1.2.3/1",
    'Sends a HEADERS frame with empty ":path" pseudo-header field',
    "RFC 9113 section 8.3.1: an empty :path for an http or https URI",
    malformed(lambda t: [(n, "" if n == ":path" else v) for n, v in request(t)]),
)
for number, name in enumerate([":method", ":scheme", ":path"], start=2):
    malformedCase(
        f"http2/8.1.2.3/{number}",
        f'Sends a HEADERS frame that omits "{name}" pseudo-header field',
        f"RFC 9113 section 8.3.1: a request without {name}",
        malformed(without(name)),
    )
for number, name in enumerate([":method", ":scheme", ":path"], start=5):
    malformedCase(
        f"http2/8.1.2.3/{number}",
        f'Sends a HEADERS frame with duplicated "{name}" pseudo-header field',
        f"RFC 9113 section 8.3.1: {name} twice",
        malformed(twice(name)),
    )


def contentLengthMismatch(pieces: list[bytes]) -> Run:
    def run(client: FrameClient, target: Target) -> None:
        client.headers(
            1, [*request(target, "POST"), ("content-length", "1")], endStream=False
        )
        for index, piece in enumerate(pieces):
            client.data(1, piece, endStream=index == len(pieces) - 1)
        client.expectStreamError(1, PROTOCOL_ERROR)

    return run


malformedCase(
    "http2/8.1.2.6/1",
    'Sends a HEADERS frame with the "content-length" header field which does not'
    " equal the DATA frame payload length",
    "RFC 9113 section 8.1.1: content-length 1 with 4 octets of DATA",
    contentLengthMismatch([b"test"]),
)
malformedCase(
    "http2/8.1.2.6/2",
    'Sends a HEADERS frame with the "content-length" header field which does not'
    " equal the sum of the multiple DATA frames payload length",
    "RFC 9113 section 8.1.1: content-length 1 with 4 + 4 octets of DATA",
    contentLengthMismatch([b"test", b"test"]),
)


@case("http2/8.2/1", "Sends a PUSH_PROMISE frame")
def pushPromise(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 8.4 (and 6.6): a server MUST treat a PUSH_PROMISE from
    a client as a connection error of type PROTOCOL_ERROR.
    """
    block = client.encode(request(target))
    client.raw(PUSH_PROMISE, 0x4, 1, b"\x00\x00\x00\x03" + block)
    client.expectConnectionError(PROTOCOL_ERROR)


# hpack: RFC 7541 decoding errors, each a COMPRESSION_ERROR (RFC 9113
# section 4.3).


def decodingError(representation: Callable[[FrameClient], bytes], first: bool) -> Run:
    def run(client: FrameClient, target: Target) -> None:
        block = client.encode(request(target))
        extra = representation(client)
        client.headers(1, extra + block if first else block + extra)
        client.expectConnectionError(COMPRESSION_ERROR)

    return run


def pastTheTables(client: FrameClient) -> int:
    """
    An index past the static (61) and dynamic tables.
    """
    return 62 + len(client.encoder.header_table.dynamic_entries) + 8


def huffmanLiteral(coded: bytes) -> bytes:
    """
    A literal header field without indexing, new name C{x-test}, whose
    value is the Huffman code C{coded} (RFC 7541 sections 5.2 and 6.2.2).
    """
    return (
        b"\x00"
        + hpackString(b"x-test", True)
        + hpackInteger(len(coded), 7, 0x80)
        + coded
    )


# "test" is 20 bits of Huffman code (RFC 7541 appendix B), 3 octets with the
# 4 bits of EOS padding.
LONG_PADDING = huffmanLiteral(huffman(b"test") + b"\xff")
"""
A value padded with 12 bits of EOS (RFC 7541 section 5.2: at most 7).
"""

ZERO_PADDING = huffmanLiteral(huffman(b"test", padding="zero"))
"""
A value padded with zeros, not EOS's most significant bits.
"""

WITH_EOS = huffmanLiteral(huffman([*b"tes", EOS, *b"t"]))
"""
A value with the EOS symbol inside.
"""

for hpackID, description, broken, first, rfc in [
    (
        "2.3.3/1",
        "Sends a indexed header field representation with invalid index",
        lambda c: hpackIndexed(pastTheTables(c)),
        False,
        "section 2.3.3: an index past both tables (indexed field)",
    ),
    (
        "2.3.3/2",
        "Sends a literal header field representation with invalid index",
        lambda c: hpackLiteral(pastTheTables(c), b"", "incremental"),
        False,
        "section 2.3.3: an index past both tables (a literal's name)",
    ),
    (
        "4.2/1",
        "Sends a dynamic table size update at the end of header block",
        lambda c: hpackTableSizeUpdate(1),
        False,
        "section 4.2: a dynamic table size update after the first field",
    ),
    (
        "5.2/1",
        "Sends a Huffman-encoded string literal representation with padding"
        " longer than 7 bits",
        lambda c: LONG_PADDING,
        False,
        "section 5.2: Huffman padding longer than 7 bits (a whole octet of EOS bits)",
    ),
    (
        "5.2/2",
        "Sends a Huffman-encoded string literal representation padded by zero",
        lambda c: ZERO_PADDING,
        False,
        "section 5.2: Huffman padding that is not the EOS code's bits (zeros)",
    ),
    (
        "5.2/3",
        "Sends a Huffman-encoded string literal representation containing the"
        " EOS symbol",
        lambda c: WITH_EOS,
        False,
        "section 5.2: a Huffman-coded string containing the EOS symbol",
    ),
    (
        "6.1/1",
        "Sends a indexed header field representation with index 0",
        lambda c: hpackIndexed(0),
        False,
        "section 6.1: an indexed field with index 0",
    ),
    (
        "6.3/1",
        "Sends a dynamic table size update larger than the value of"
        " SETTINGS_HEADER_TABLE_SIZE",
        lambda c: hpackTableSizeUpdate(
            c.serverSettings.get(SettingCodes.HEADER_TABLE_SIZE, 4096) + 1
        ),
        True,
        "section 6.3: a dynamic table size update over the server's"
        " SETTINGS_HEADER_TABLE_SIZE",
    ),
]:
    run = decodingError(broken, first)
    run.__doc__ = (
        f"RFC 7541 {rfc} MUST be a decoding error, and RFC 9113 section 4.3"
        " makes that a connection error of type COMPRESSION_ERROR."
    )
    case(f"hpack/{hpackID}", description, xfail=COMPRESSION)(run)


# echohub: further MUSTs of RFC 9113 that h2spec does not test.


@case(
    "echohub/5.1/1",
    "Sends a RST_STREAM frame on an idle stream after opening another stream",
    xfail="RST_STREAM(CANCEL) on idle stream 3, with stream 1 open, is ignored:"
    " nothing is sent and the connection stays open",
)
def idleRstAfterOpen(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 5.1 (idle) and 6.4: RST_STREAM on an idle stream MUST
    be a connection error of type PROTOCOL_ERROR, also when a lower stream
    has been opened (stream 3 stays idle after stream 1).
    """
    openStream(client, target)
    client.rstStream(3, CANCEL)
    client.expectConnectionError(PROTOCOL_ERROR)


@case(
    "echohub/5.1/2",
    "Sends a WINDOW_UPDATE frame on an idle stream after opening another stream",
)
def idleWindowUpdateAfterOpen(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 5.1 (idle): WINDOW_UPDATE on an idle stream MUST be a
    connection error of type PROTOCOL_ERROR, also when a lower stream has
    been opened.
    """
    openStream(client, target)
    client.windowUpdate(3, 100)
    client.expectConnectionError(PROTOCOL_ERROR)


@case(
    "echohub/5.1/3",
    "Sends a DATA frame on an idle stream after opening another stream",
)
def idleDataAfterOpen(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 5.1 (idle): DATA on an idle stream MUST be a connection
    error of type PROTOCOL_ERROR (STREAM_CLOSED by section 6.1), also when a
    lower stream has been opened.
    """
    openStream(client, target)
    client.data(3, b"test")
    client.expectStreamError(3, PROTOCOL_ERROR, STREAM_CLOSED)


for number, fields, rfc in [
    (1, [("keep-alive", "timeout=5")], "keep-alive"),
    (2, [("proxy-connection", "keep-alive")], "proxy-connection"),
    (3, [("transfer-encoding", "chunked")], "transfer-encoding"),
    (4, [("upgrade", "h2c")], "upgrade"),
    (5, [("te", "gzip")], 'TE with the value "gzip"'),
]:
    malformedCase(
        f"echohub/8.2.2/{number}",
        f"Sends a HEADERS frame with the connection-specific field {rfc}",
        f"RFC 9113 section 8.2.2: a connection-specific field ({rfc})",
        malformed(plus(*fields)),
    )

for number, (name, value), rfc in [
    (1, ("x-test", "a\0b"), "a field value containing NUL"),
    (2, ("x-test", "a\rb"), "a field value containing CR"),
    (3, ("x-test", "a\nb"), "a field value containing LF"),
    (4, ("x-test", " ok"), "a field value starting with SP"),
    (5, ("x-test", "ok\t"), "a field value ending with HTAB"),
    (6, ("x test", "ok"), "a field name containing SP"),
    (7, ("x:test", "ok"), "a field name containing a colon"),
    (8, ("x-t\x7fst", "ok"), "a field name containing DEL"),
]:
    malformedCase(
        f"echohub/8.2.1/{number}",
        f"Sends a HEADERS frame with {rfc}",
        f"RFC 9113 section 8.2.1: {rfc}",
        malformed(plus((name, value))),
    )


@case(
    "echohub/8.1.1/1",
    "Sends a request with content-length 4 and no content",
    xfail="POST with content-length: 4 and END_STREAM on its HEADERS is answered"
    " (HEADERS :status 405, DATA of 23 octets) instead of reset PROTOCOL_ERROR",
)
def contentLengthWithoutContent(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 8.1.1: a request whose content-length differs from the
    content received (4 declared, END_STREAM on the HEADERS) is malformed:
    a stream error of type PROTOCOL_ERROR.
    """
    client.headers(1, [*request(target, "POST"), ("content-length", "4")])
    client.expectStreamError(1, PROTOCOL_ERROR)


@case(
    "echohub/6.8/1",
    "Sends a PING frame after a GOAWAY frame, with a stream open",
    xfail="after the client's GOAWAY(NO_ERROR) with stream 1 open, a PING is"
    " answered GOAWAY PROTOCOL_ERROR and the close, not PING(ACK)",
)
def pingAfterGoAway(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.7: a PING MUST be answered with PING ACK; a client's
    GOAWAY (section 6.8) only says which pushed streams it will still
    accept, and the PING after it violates nothing.  The server answers the
    PING, or ends the connection without blaming the client (GOAWAY
    NO_ERROR and the close).
    """
    openStream(client, target)
    client.goAway(0, ErrorCodes.NO_ERROR)
    client.ping(PING_DATA)
    expected = "PING(ACK) or GOAWAY(NO_ERROR) and the close"
    while not isinstance(event := client.next(), Closed):
        if isinstance(event, PingFrame) and "ACK" in event.flags:
            assert event.opaque_data == PING_DATA, client.fail(expected, event)
            return
        if isinstance(event, GoAwayFrame) and event.error_code:
            raise client.fail(expected, event)
        if isinstance(event, (TimedOut, NotHTTP2)):
            raise client.fail(expected, event)


@case(
    "echohub/6.8/2",
    "Sends a GOAWAY frame while a response is in flight",
    xfail="after the client's GOAWAY(NO_ERROR), the WINDOW_UPDATE that lets the"
    " response of stream 1 go on is answered GOAWAY PROTOCOL_ERROR and the"
    " close; the response never ends",
)
def responseAfterGoAway(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.8: GOAWAY stops new streams "while still finishing
    processing of previously established streams"; a client's GOAWAY
    concerns the streams the server would push, not the client's own.  A
    response held by a zero window when the client sends GOAWAY is
    completed once the window opens (issue 19, point 6).
    """
    client.settings((SettingCodes.INITIAL_WINDOW_SIZE, 0))
    client.headers(1, request(target))
    client.goAway(0, ErrorCodes.NO_ERROR)
    client.windowUpdate(1, 65535)
    client.expectStreamClosed(1)
