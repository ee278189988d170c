"""
Tests for L{echohub.http._framer}: HTTP/1.1 request framing without I/O,
bytes in and events out, with no transport and no clock.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from echohub.http import HTTPLimits
from echohub.http._framer import (
    END,
    HUGE_CHUNK,
    NEED_DATA,
    PAUSED,
    Body,
    Refused,
    RequestFramer,
    RequestHead,
)

LIMITS = HTTPLimits(maxRequestLine=100, maxHeaderBytes=300, maxHeaders=5, maxBody=1000)


def parsed(*chunks: bytes, limits: HTTPLimits = LIMITS) -> list[object]:
    """
    The events of C{chunks}, one request after another.
    """
    framer = RequestFramer(limits)
    events: list[object] = []
    for chunk in chunks:
        framer.receive(chunk)
        while True:
            event = framer.next()
            if event is NEED_DATA:
                break
            if event is PAUSED:
                if events and events[-1] == "end":
                    framer.nextRequest()
                    continue
                break
            if isinstance(event, RequestHead):
                events.append(
                    ("head", event.method, event.target, event.version, event.keepAlive)
                )
            elif isinstance(event, Body):
                if events and isinstance(events[-1], tuple) and events[-1][0] == "body":
                    events[-1] = ("body", events[-1][1] + event.data)
                else:
                    events.append(("body", event.data))
            elif isinstance(event, Refused):
                events.append(("refused", event.refusal.status, event.why))
                break
            else:
                events.append("end")
    return events


def get(target: bytes = b"/", version: bytes = b"HTTP/1.1", *extra: bytes) -> bytes:
    lines = [b"GET " + target + b" " + version, b"Host: x", *extra]
    return b"\r\n".join(lines) + b"\r\n\r\n"


def post(body: bytes, *extra: bytes) -> bytes:
    lines = [b"POST /echo HTTP/1.1", b"Host: x", *extra]
    lines.append(b"Content-Length: %d" % len(body))
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


class SmugglingTests(SynchronousTestCase):
    """
    A request's body is its body, framed by its own length or chunks,
    whatever else its head says.
    """

    def test_upgradeBodyIsBody(self) -> None:
        """
        C{Connection: Upgrade} with C{Upgrade: foo} and a body that looks
        like a request: the body is the body (llhttp would end HTTP after
        the head and take it for the next request).
        """
        smuggled = b"GET /anything/smuggled HTTP/1.0\r\n\r\n"
        events = parsed(post(smuggled, b"Connection: Upgrade", b"Upgrade: foo"))
        self.assertEqual(
            events,
            [
                ("head", b"POST", b"/echo", b"HTTP/1.1", True),
                ("body", smuggled),
                "end",
            ],
        )

    def test_h2cUpgradeWithBody(self) -> None:
        """
        C{Upgrade: h2c} (as C{curl --http2} sends in the clear) with a body:
        the body is the request's, and the next request follows it.
        """
        events = parsed(
            post(
                b"hello",
                b"Connection: Upgrade, HTTP2-Settings",
                b"Upgrade: h2c",
                b"HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA",
            )
            + get(b"/next")
        )
        self.assertEqual(
            events,
            [
                ("head", b"POST", b"/echo", b"HTTP/1.1", True),
                ("body", b"hello"),
                "end",
                ("head", b"GET", b"/next", b"HTTP/1.1", True),
                "end",
            ],
        )

    def test_bodilessUpgradeThenNextRequest(self) -> None:
        """
        A bodiless C{Upgrade: h2c} request, then a keep-alive request on the
        same connection: both are requests.
        """
        upgrade = get(b"/a", b"HTTP/1.1", b"Connection: Upgrade", b"Upgrade: h2c")
        events = parsed(upgrade + get(b"/b"))
        self.assertEqual([e[2] for e in events if isinstance(e, tuple)], [b"/a", b"/b"])

    def test_contentLengthWithChunked(self) -> None:
        """
        Both framings in one request: C{400}.
        """
        events = parsed(
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
        )
        self.assertEqual(events[-1][:2], ("refused", 400))

    def test_http10TransferEncoding(self) -> None:
        """
        HTTP/1.0 has no transfer coding: a request that says one is
        refused (RFC 9112 section 6.1: its framing is faulty).
        """
        events = parsed(
            b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
        )
        self.assertEqual(
            events, [("refused", 400, "HTTP/1.0 has no Transfer-Encoding")]
        )

    def test_nothingAfterRefusal(self) -> None:
        """
        After a refusal nothing more is framed, whatever arrives.
        """
        framer = RequestFramer(LIMITS)
        framer.receive(b"GET / HTTP/1.1\r\n\r\n" + get(b"/after"))
        self.assertIsInstance(framer.next(), Refused)
        framer.receive(get(b"/later"))
        self.assertIs(framer.next(), PAUSED)
        framer.nextRequest()
        self.assertIs(framer.next(), PAUSED)

    def test_oneRequestAtATime(self) -> None:
        """
        After a request's end nothing is framed until the channel says the
        response is done: a closing response leaves the rest unread.
        """
        framer = RequestFramer(LIMITS)
        framer.receive(get(b"/a", b"HTTP/1.1", b"Connection: close") + get(b"/b"))
        head = framer.next()
        assert isinstance(head, RequestHead)
        self.assertFalse(head.keepAlive)
        self.assertIs(framer.next(), END)
        self.assertIs(framer.next(), PAUSED)
        self.assertEqual(framer.buffered, len(get(b"/b")))


class ChunkedTests(SynchronousTestCase):
    """
    Chunked bodies, decoded strictly.
    """

    HEAD = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"

    def test_chunksExtensionsTrailers(self) -> None:
        """
        Chunks with extensions (tokens and quoted strings) and a trailer
        section: the data, in order.
        """
        events = parsed(
            self.HEAD + b'5;a=b;c="d;e"\r\nhello\r\n1 ; x\r\n!\r\n0\r\nX-T: 1\r\n\r\n'
        )
        self.assertEqual(events[1:], [("body", b"hello!"), "end"])

    def test_malformed(self) -> None:
        """
        Each malformed chunked body gets C{400}: a size that is not hex or
        too long, a bare LF, data not followed by CRLF, a bad extension, a
        malformed trailer, obs-fold in a trailer.
        """
        for body in [
            b"g\r\n",
            b"-5\r\nhello\r\n",
            b"5\nhello\r\n",
            b"5\r\nhelloX\r\n",
            b"5;=x\r\nhello\r\n",
            b'5;a="x\r\nhello\r\n',
            b"0\r\nbad trailer\r\n\r\n",
            b"0\r\nX: 1\r\n folded\r\n\r\n",
            b"0\r\nX: 1\n\r\n",
            b"1" * 17 + b"\r\n",
        ]:
            with self.subTest(body=body):
                self.assertEqual(parsed(self.HEAD + body)[-1][:2], ("refused", 400))

    def test_hugeChunkMalformed(self) -> None:
        """
        A size from 2**63 on is malformed, not merely too large.
        """
        events = parsed(self.HEAD + b"%x\r\n" % HUGE_CHUNK)
        self.assertEqual(events[-1], ("refused", 400, "chunk size out of range"))

    def test_overTheBodyLimitBeforeTheData(self) -> None:
        """
        A chunk that takes the body over C{max_body} gets C{413} when its
        size arrives, before any of its data.
        """
        events = parsed(self.HEAD + b"3e8\r\n" + b"x" * 1000 + b"\r\n1\r\n")
        self.assertEqual(events[-2:], [("body", b"x" * 1000), ("refused", 413, "")])

    def test_trailerSectionLimited(self) -> None:
        """
        Trailers count against the header limits: C{431}.
        """
        trailers = b"".join(b"X-%d: 1\r\n" % i for i in range(6))
        events = parsed(self.HEAD + b"0\r\n" + trailers + b"\r\n")
        self.assertEqual(events[-1][:2], ("refused", 431))

    @given(
        chunks=st.lists(st.binary(min_size=1, max_size=50), max_size=8),
        cuts=st.lists(st.integers(min_value=0, max_value=600), max_size=10),
    )
    @settings(max_examples=200, deadline=None)
    def test_anySegmentation(self, chunks: list[bytes], cuts: list[int]) -> None:
        """
        However the bytes of a chunked request and the request after it are
        cut, the events are the same: the body, whole, then the next
        request.
        """
        body = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"
        data = self.HEAD + body + get(b"/next")
        pieces = []
        start = 0
        for cut in sorted(set(cuts)):
            pieces.append(data[start:cut])
            start = max(start, cut)
        pieces.append(data[start:])
        expected = [("head", b"POST", b"/", b"HTTP/1.1", True)]
        if chunks:
            expected.append(("body", b"".join(chunks)))
        expected += ["end", ("head", b"GET", b"/next", b"HTTP/1.1", True), "end"]
        self.assertEqual(parsed(*[p for p in pieces if p]), expected)


class VersionTests(SynchronousTestCase):
    """
    Versions by RFC 9110 section 2.5, persistence by RFC 9112 section 9.3.
    """

    def test_otherMajorVersions(self) -> None:
        """
        C{HTTP/2.0}, C{HTTP/0.9} and C{HTTP/3.0} in an HTTP/1 request line
        get C{505}.
        """
        for version in (b"HTTP/2.0", b"HTTP/0.9", b"HTTP/3.0"):
            with self.subTest(version=version):
                self.assertEqual(
                    parsed(get(b"/", version)), [("refused", 505, version.decode())]
                )

    def test_laterMinorServedAs11(self) -> None:
        """
        C{HTTP/1.2} and C{HTTP/1.9} are served as C{HTTP/1.1}.
        """
        for version in (b"HTTP/1.2", b"HTTP/1.9"):
            with self.subTest(version=version):
                self.assertEqual(
                    parsed(get(b"/", version))[0],
                    ("head", b"GET", b"/", b"HTTP/1.1", True),
                )

    def test_persistence(self) -> None:
        """
        HTTP/1.1 persists unless C{Connection: close}; HTTP/1.0 only with
        C{Connection: keep-alive}; tokens in any case, anywhere in a list.
        """
        cases = [
            (get(b"/"), True),
            (get(b"/", b"HTTP/1.1", b"Connection: Close"), False),
            (get(b"/", b"HTTP/1.1", b"Connection: x, close"), False),
            (b"GET / HTTP/1.0\r\n\r\n", False),
            (b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", True),
        ]
        for data, keepAlive in cases:
            with self.subTest(data=data):
                self.assertEqual(parsed(data)[0][4], keepAlive)

    def test_hostRules(self) -> None:
        """
        HTTP/1.1 needs exactly one valid C{Host}; HTTP/1.0 may have none.
        """
        self.assertEqual(parsed(b"GET / HTTP/1.1\r\n\r\n")[0][:2], ("refused", 400))
        self.assertEqual(
            parsed(b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")[0][:2],
            ("refused", 400),
        )
        self.assertEqual(
            parsed(b"GET / HTTP/1.1\r\nHost: a,b\r\n\r\n")[0][:2], ("refused", 400)
        )
        self.assertEqual(parsed(b"GET / HTTP/1.0\r\n\r\n")[0][0], "head")

    def test_absoluteForm(self) -> None:
        """
        An absolute-form target's authority replaces C{Host}.
        """
        framer = RequestFramer(LIMITS)
        framer.receive(get(b"http://other.example:8080/p?q=1"))
        head = framer.next()
        assert isinstance(head, RequestHead)
        self.assertEqual(head.target, b"/p?q=1")
        self.assertEqual(
            [v for n, v in head.headers if n.lower() == b"host"],
            [b"other.example:8080"],
        )

    def test_anyTokenMethod(self) -> None:
        """
        A method llhttp does not know is a method all the same, as sent.
        """
        self.assertEqual(parsed(b"PURGE / HTTP/1.1\r\nHost: x\r\n\r\n")[0][1], b"PURGE")


class LimitTests(SynchronousTestCase):
    """
    The policy's limits, as soon as they are passed.
    """

    def test_requestLine(self) -> None:
        """
        A request line over C{max_request_line}: C{414} before its end.
        """
        self.assertEqual(parsed(b"GET /" + b"a" * 200), [("refused", 414, "")])
        line = b"GET /" + b"a" * (100 - len(b"GET / HTTP/1.1")) + b" HTTP/1.1"
        self.assertEqual(parsed(line + b"\r\nHost: x\r\n\r\n")[0][0], "head")

    def test_headers(self) -> None:
        """
        A header section over C{max_header_bytes} or with more than
        C{max_headers} lines: C{431}, complete or not.
        """
        big = b"GET / HTTP/1.1\r\nX: " + b"a" * 400
        self.assertEqual(parsed(big), [("refused", 431, "")])
        many = b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(6))
        self.assertEqual(parsed(many), [("refused", 431, "")])
        self.assertEqual(parsed(many + b"\r\n"), [("refused", 431, "")])

    def test_announcedBody(self) -> None:
        """
        A C{Content-Length} over C{max_body}: C{413} after the head, before
        any body.
        """
        framer = RequestFramer(LIMITS)
        framer.receive(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1001\r\n\r\n")
        refused = framer.next()
        assert isinstance(refused, Refused)
        self.assertEqual(refused.refusal.status, 413)
        assert refused.head is not None
        self.assertEqual(refused.head.target, b"/")
        self.assertEqual(framer.pendingRequestLine(), (b"POST", b"/"))

    def test_bareLineFeed(self) -> None:
        """
        A head line ending in a bare LF is malformed at once, not when a
        CRLF CRLF that may never come arrives.
        """
        self.assertEqual(parsed(b"GET / HTTP/1.1\nHost: x\n")[0][:2], ("refused", 400))

    def test_emptyLinesBeforeARequest(self) -> None:
        """
        Empty lines before a request are skipped (RFC 9112 section 2.2).
        """
        self.assertEqual(parsed(b"\r\n\r\n" + get(b"/"))[0][0], "head")


class FuzzTests(SynchronousTestCase):
    """
    Whatever arrives, the framer gives events, never raises.
    """

    @given(data=st.binary(max_size=400), cut=st.integers(min_value=0, max_value=400))
    @settings(max_examples=300, deadline=None)
    def test_anyBytes(self, data: bytes, cut: int) -> None:
        """
        Arbitrary bytes, in two reads: only events, ending in L{NEED_DATA},
        L{PAUSED} or a refusal.
        """
        parsed(data[:cut], data[cut:])


class WideNameTests(SynchronousTestCase):
    """
    Field names wider than a token, as httpbin and nginx accept them.
    """

    def test_accepted(self) -> None:
        """
        C{baz[]} and other visible characters but the colon: accepted, the
        name as sent.
        """
        framer = RequestFramer(LIMITS)
        framer.receive(get(b"/", b"HTTP/1.1", b"baz[]: 1", b"a(b){c}: 2"))
        head = framer.next()
        assert isinstance(head, RequestHead)
        self.assertEqual(
            head.headers, [(b"Host", b"x"), (b"baz[]", b"1"), (b"a(b){c}", b"2")]
        )

    def test_stillMalformed(self) -> None:
        """
        Whitespace in or after a name, control characters, a bare CR or
        obs-fold beside a wide name: C{400}; a wide name never makes a
        framing header.
        """
        for extra in [
            (b"baz[] : 1",),
            (b"ba z[]: 1",),
            (b"baz[]: 1\x00",),
            (b"baz[]: 1\rx",),
            (b"baz[]: 1", b" folded"),
            (b"baz\x01[]: 1",),
        ]:
            with self.subTest(extra=extra):
                self.assertEqual(
                    parsed(get(b"/", b"HTTP/1.1", *extra))[0][:2], ("refused", 400)
                )
        framer = RequestFramer(LIMITS)
        framer.receive(
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding(: chunked\r\n\r\n"
        )
        head = framer.next()
        assert isinstance(head, RequestHead)
        self.assertFalse(head.chunked)
        self.assertIs(framer.next(), END)
