"""
Tests for L{echohub.http._h2checks}: what echohub checks of an HTTP/2
client's frames and header lists, without I/O.
"""

from __future__ import annotations

import struct

from h2.errors import ErrorCodes
from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from echohub.http._h2checks import (
    FLOOD_BUDGETS,
    PREFACE,
    FrameGate,
    requestProblem,
    trailerProblem,
)

DATA, HEADERS, PRIORITY, RST, SETTINGS, PING, WINDOW_UPDATE = 0, 1, 2, 3, 4, 6, 8
END_STREAM = ACK = 1
END_HEADERS = 4


def frame(kind: int, flags: int = 0, stream: int = 0, payload: bytes = b"") -> bytes:
    """
    One frame, header and payload.
    """
    return (
        struct.pack(">I", len(payload))[1:]
        + bytes([kind, flags])
        + (struct.pack(">I", stream) + payload)
    )


def gate() -> FrameGate:
    """
    A gate that has seen the preface.
    """
    g = FrameGate(Clock(), 1000)
    assert g.feed(PREFACE) is None
    return g


class FrameGateTests(SynchronousTestCase):
    """
    L{FrameGate} stops what C{h2} would let through or misname.
    """

    def test_idleStreamFrames(self) -> None:
        """
        C{DATA}, C{RST_STREAM} and C{WINDOW_UPDATE} on a stream the client
        never opened, before or after it opened another, and on any even
        stream: C{PROTOCOL_ERROR}.  C{PRIORITY} on an idle stream is fine.
        """
        for kind, payload in [
            (DATA, b"x"),
            (RST, b"\0\0\0\x08"),
            (WINDOW_UPDATE, b"\0\0\0\x01"),
        ]:
            for opened, stream in [(False, 1), (True, 3), (True, 2)]:
                with self.subTest(kind=kind, opened=opened, stream=stream):
                    g = gate()
                    if opened:
                        self.assertIsNone(g.feed(frame(HEADERS, END_HEADERS, 1)))
                    violation = g.feed(frame(kind, 0, stream, payload))
                    assert violation is not None
                    self.assertEqual(violation.code, ErrorCodes.PROTOCOL_ERROR)
        g = gate()
        self.assertIsNone(g.feed(frame(PRIORITY, 0, 5, b"\0\0\0\0\x10")))

    def test_openedStreamsPass(self) -> None:
        """
        The same frames on an opened stream, and on stream 0 where they
        make sense, pass.
        """
        g = gate()
        self.assertIsNone(
            g.feed(
                frame(HEADERS, END_HEADERS, 1)
                + frame(DATA, 0, 1, b"x")
                + frame(WINDOW_UPDATE, 0, 1, b"\0\0\0\x01")
                + frame(WINDOW_UPDATE, 0, 0, b"\0\0\0\x01")
                + frame(RST, 0, 1, b"\0\0\0\x08")
            )
        )
        self.assertEqual(g.highestStream, 1)

    def test_settingsAckWithPayload(self) -> None:
        """
        A C{SETTINGS} acknowledgement with a payload: C{FRAME_SIZE_ERROR}.
        """
        violation = gate().feed(frame(SETTINGS, ACK, 0, b"\0"))
        assert violation is not None
        self.assertEqual(violation.code, ErrorCodes.FRAME_SIZE_ERROR)
        self.assertIsNone(gate().feed(frame(SETTINGS, ACK)))

    def test_floods(self) -> None:
        """
        One frame over a budget in the window: C{ENHANCE_YOUR_CALM}; a new
        window starts the count again.
        """
        clock = Clock()
        g = FrameGate(clock, 1000)
        g.feed(PREFACE)
        ping = frame(PING, 0, 0, b"\0" * 8)
        for _ in range(FLOOD_BUDGETS["PING"]):
            self.assertIsNone(g.feed(ping))
        violation = g.feed(ping)
        assert violation is not None
        self.assertEqual(
            (violation.code, violation.reason), (ErrorCodes.ENHANCE_YOUR_CALM, "flood")
        )
        clock.advance(10)
        self.assertIsNone(g.feed(ping))

    def test_headerBlockLimit(self) -> None:
        """
        A header block whose frames pass the limit: C{ENHANCE_YOUR_CALM} as
        soon as a frame's header says so, before its payload arrives.
        """
        g = gate()
        self.assertIsNone(g.feed(frame(HEADERS, 0, 1, b"\0" * 600)))
        self.assertTrue(g.inHeaderBlock)
        continuation = frame(9, 0, 1, b"\0" * 401)
        violation = g.feed(continuation[:9])
        assert violation is not None
        self.assertEqual(violation.code, ErrorCodes.ENHANCE_YOUR_CALM)

    @given(data=st.binary(max_size=200), cuts=st.lists(st.integers(0, 200)))
    @settings(max_examples=200, deadline=None)
    def test_segmentation(self, data: bytes, cuts: list[int]) -> None:
        """
        However the frames are cut, the gate reaches the same verdict.
        """
        frames = PREFACE + frame(HEADERS, END_HEADERS, 1) + data
        whole = FrameGate(Clock(), 1000).feed(frames)
        pieces = FrameGate(Clock(), 1000)
        verdict = None
        start = 0
        for cut in sorted(set(cuts)) + [len(frames)]:
            verdict = pieces.feed(frames[start:cut]) if cut > start else None
            start = max(start, cut)
            if verdict is not None:
                break
        self.assertEqual(repr(verdict), repr(whole))


GET = [(b":method", b"GET"), (b":scheme", b"https"), (b":path", b"/")]


class RequestProblemTests(SynchronousTestCase):
    """
    L{requestProblem} finds what RFC 9113 section 8 calls malformed.
    """

    def test_wellFormed(self) -> None:
        """
        Pseudo-headers first, lower-case fields, C{te: trailers}: none.
        """
        self.assertIsNone(
            requestProblem(
                [*GET, (b":authority", b"a"), (b"te", b"trailers"), (b"x", b"a b")]
            )
        )
        self.assertIsNone(
            requestProblem([(b":method", b"CONNECT"), (b":authority", b"a:443")])
        )

    def test_malformed(self) -> None:
        """
        Each of RFC 9113's malformed shapes is found.
        """
        cases = [
            [*GET, (b"X-Upper", b"1")],
            [*GET, (b"te", b"gzip")],
            [*GET, (b"connection", b"close")],
            [*GET, (b"transfer-encoding", b"chunked")],
            [*GET, (b"x", b" leading")],
            [*GET, (b"x", b"trailing\t")],
            [*GET, (b"x", b"a\rb")],
            [*GET, (b"x", b"a\0b")],
            [*GET, (b"bad name", b"1")],
            [*GET, (b"x", b"1"), (b":authority", b"a")],
            [*GET, (b":status", b"200")],
            [*GET, (b":path", b"/again")],
            [(b":method", b"GET"), (b":scheme", b"https")],
            [(b":method", b"GET"), (b":path", b"/")],
            [(b":scheme", b"https"), (b":path", b"/")],
            [(b":method", b"GET"), (b":scheme", b"https"), (b":path", b"")],
            [(b":method", b"CONNECT"), (b":authority", b"a"), (b":path", b"/")],
        ]
        for headers in cases:
            with self.subTest(headers=headers):
                self.assertIsNotNone(requestProblem(headers))

    def test_contentLengthWithoutContent(self) -> None:
        """
        A non-zero C{content-length} on headers that end the request.
        """
        headers = [*GET, (b"content-length", b"4")]
        self.assertIsNotNone(requestProblem(headers, ended=True))
        self.assertIsNone(requestProblem(headers, ended=False))
        self.assertIsNone(requestProblem([*GET, (b"content-length", b"0")], True))

    def test_trailers(self) -> None:
        """
        No pseudo-header in trailers; fields as in requests.
        """
        self.assertIsNone(trailerProblem([(b"x-sum", b"1")]))
        self.assertIsNotNone(trailerProblem([(b":path", b"/")]))
        self.assertIsNotNone(trailerProblem([(b"X-Sum", b"1")]))


class ExtendedConnectProblemTests(SynchronousTestCase):
    """
    L{requestProblem} with extended C{CONNECT} (RFC 8441) advertised.
    """

    CONNECT = [
        (b":method", b"CONNECT"),
        (b":protocol", b"websocket"),
        (b":scheme", b"https"),
        (b":path", b"/ws"),
        (b":authority", b"a"),
    ]

    def test_wellFormed(self) -> None:
        """
        An extended C{CONNECT} with every pseudo-header, and a plain
        C{CONNECT} as before, are well formed.
        """
        self.assertIsNone(requestProblem(self.CONNECT, extendedConnect=True))
        self.assertIsNone(
            requestProblem(
                [(b":method", b"CONNECT"), (b":authority", b"a:443")],
                extendedConnect=True,
            )
        )

    def test_notAdvertised(self) -> None:
        """
        Without the setting, C{:protocol} is an unknown pseudo-header.
        """
        self.assertEqual(
            requestProblem(self.CONNECT), "pseudo-header :protocol in a request"
        )

    def test_malformed(self) -> None:
        """
        C{:protocol} on another method, or an extended C{CONNECT} without
        C{:scheme}, C{:path} or C{:authority}, is malformed.
        """
        cases = [
            [(b":method", b"GET"), *self.CONNECT[1:]],
            *(
                [field for field in self.CONNECT if field[0] != missing]
                for missing in (b":scheme", b":path", b":authority")
            ),
            [*self.CONNECT, (b":protocol", b"websocket")],
        ]
        for headers in cases:
            with self.subTest(headers=headers):
                self.assertIsNotNone(requestProblem(headers, extendedConnect=True))
