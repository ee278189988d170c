# -*- test-case-name: tests.web.httpbin.test_inspection -*-
"""
Tests for L{echohub.web.httpbin._inspection}: C{/anything}, C{/headers}, C{/ip} and
C{/user-agent}, through the real site over an in-memory transport.
"""

from __future__ import annotations

from base64 import b64decode
from urllib.parse import parse_qsl

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from echohub.config import WebConfig
from echohub.testing import exchange, jsonOf, request
from echohub.web.httpbin._forms import parseBody, textOrDataURL
from echohub.web.httpbin._inspection import HIDDEN, queryPairs


class AnythingTests(SynchronousTestCase):
    """
    C{/anything} describes the request in JSON.
    """

    def test_everything(self) -> None:
        """
        httpbin's keys (a single argument a string, repeated ones a list,
        repeated headers joined in order, the body as C{data}, C{origin})
        and echohub's own (path, client and server addresses, no TLS).
        """
        facts = jsonOf(
            request(
                b"/anything/a/b?x=1&x=2&empty=",
                b"PATCH",
                (b"X-Multi: one", b"X-Multi: two", b"Content-Type: text/plain"),
                b"hello",
            )
        )
        self.assertEqual(facts["method"], "PATCH")
        self.assertEqual(
            facts["url"], "http://example.test:8080/anything/a/b?x=1&x=2&empty="
        )
        self.assertEqual(facts["path"], "/anything/a/b")
        self.assertEqual(facts["args"], {"x": ["1", "2"], "empty": ""})
        self.assertEqual(facts["headers"]["X-Multi"], "one,two")
        self.assertEqual(
            [facts[k] for k in ("data", "json", "form", "files")],
            ["hello", None, {}, {}],
        )
        self.assertEqual(facts["origin"], "127.0.0.1")
        self.assertEqual(facts["client"], {"host": "127.0.0.1", "port": 50000})
        self.assertEqual(facts["server"], {"host": "10.0.0.1", "port": 12345})
        self.assertIsNone(facts["tls"])

    def test_anyMethodAndHead(self) -> None:
        """
        Every method is answered; C{HEAD} gets the headers and length of the
        JSON and no body.
        """
        for method in [b"GET", b"POST", b"PUT", b"DELETE", b"OPTIONS", b"FROBNICATE"]:
            self.assertEqual(
                jsonOf(request(b"/anything", method, body=b""))["method"],
                method.decode(),
            )
        head = request(b"/anything", b"HEAD")
        self.assertEqual(head.status, 200)
        self.assertEqual(head.body, b"")
        self.assertGreater(int(head.header(b"Content-Length") or 0), 0)

    def test_sensitiveHeadersHiddenByDefault(self) -> None:
        """
        C{Authorization}, C{Proxy-Authorization} and C{Cookie} values are
        replaced by a note and the JSON says they are hidden.
        """
        facts = jsonOf(
            request(
                b"/anything",
                headers=(
                    b"Authorization: Bearer s3cret",
                    b"Cookie: a=b",
                    b"Proxy-Authorization: Basic eA==",
                ),
            )
        )
        self.assertEqual(facts["sensitive_headers"], "hidden")
        for name in ["Authorization", "Cookie", "Proxy-Authorization"]:
            self.assertEqual(facts["headers"][name], HIDDEN)
        self.assertNotIn(
            b"s3cret", request(b"/headers", headers=(b"Authorization: s3cret",)).body
        )

    def test_sensitiveHeadersShownWhenConfigured(self) -> None:
        """
        With C{show_sensitive_headers} on, their values are shown.
        """
        facts = jsonOf(
            request(
                b"/anything",
                headers=(b"Authorization: Bearer s3cret",),
                config=WebConfig(show_sensitive_headers=True),
            )
        )
        self.assertEqual(facts["sensitive_headers"], "shown")
        self.assertEqual(facts["headers"]["Authorization"], "Bearer s3cret")

    def test_jsonAndFormBodies(self) -> None:
        """
        A JSON body is parsed into C{json}, a form body into C{form}; a
        malformed JSON body leaves C{json} null.
        """
        parsed = jsonOf(
            request(
                b"/anything",
                b"POST",
                (b"Content-Type: application/json",),
                b'{"a": [1, 2]}',
            )
        )
        self.assertEqual(parsed["json"], {"a": [1, 2]})
        form = jsonOf(
            request(
                b"/anything",
                b"POST",
                (b"Content-Type: application/x-www-form-urlencoded",),
                b"a=1&a=2&b=%C3%A9",
            )
        )
        self.assertEqual(form["form"], {"a": ["1", "2"], "b": "\u00e9"})
        self.assertEqual(form["data"], "")
        broken = jsonOf(
            request(
                b"/anything", b"POST", (b"Content-Type: application/json",), b"{nope"
            )
        )
        self.assertIsNone(broken["json"])

    def test_binaryBodyIsDataURL(self) -> None:
        """
        A body that is not UTF-8 comes back as a base64 C{data:} URL that
        decodes to the exact bytes.
        """
        body = bytes(range(256))
        facts = jsonOf(
            request(b"/anything", b"POST", (b"Content-Type: image/png",), body)
        )
        prefix = "data:image/png;base64,"
        self.assertTrue(facts["data"].startswith(prefix))
        self.assertEqual(b64decode(facts["data"][len(prefix) :]), body)

    def test_markupIsEscapedJSON(self) -> None:
        """
        Markup in the request comes back as JSON escapes, never raw, with
        a sandboxing CSP and nosniff.
        """
        response = request(b"/anything?q=%3Cscript%3E", headers=(b"X-A: <b>",))
        self.assertNotIn(b"<", response.body)
        self.assertEqual(response.header(b"X-Content-Type-Options"), b"nosniff")
        self.assertIn(b"sandbox", response.header(b"Content-Security-Policy") or b"")


class SmallInspectionTests(SynchronousTestCase):
    """
    C{/headers}, C{/ip} and C{/user-agent}.
    """

    def test_headers(self) -> None:
        """
        C{/headers} is the request headers alone.
        """
        facts = jsonOf(request(b"/headers", headers=(b"X-One: 1",)))
        self.assertEqual(list(facts), ["headers"])
        self.assertEqual(facts["headers"]["X-One"], "1")

    def test_ip(self) -> None:
        """
        C{/ip} is the client's address, as httpbin's C{origin}.
        """
        self.assertEqual(
            jsonOf(request(b"/ip")), {"origin": "127.0.0.1", "port": 50000}
        )

    def test_userAgent(self) -> None:
        """
        C{/user-agent} is the header's value, null without one.
        """
        self.assertEqual(
            jsonOf(request(b"/user-agent", headers=(b"User-Agent: t/1",))),
            {"user-agent": "t/1"},
        )
        self.assertEqual(jsonOf(request(b"/user-agent")), {"user-agent": None})

    def test_onlyGet(self) -> None:
        """
        The small resources answer C{POST} with a plain-text C{405}.
        """
        response = request(b"/ip", b"POST", body=b"")
        self.assertEqual(response.status, 405)
        self.assertEqual(response.header(b"Allow"), b"GET, HEAD")


class ValueListsTests(SynchronousTestCase):
    """
    C{[web] value_lists} gives go-httpbin's shapes: every value a list.
    """

    def test_lists(self) -> None:
        """
        Arguments, headers and form fields are lists even when single.
        """
        facts = jsonOf(
            request(
                b"/anything?a=1",
                b"POST",
                (b"X-One: 1", b"Content-Type: application/x-www-form-urlencoded"),
                b"f=2",
                config=WebConfig(value_lists=True),
            )
        )
        self.assertEqual(facts["args"], {"a": ["1"]})
        self.assertEqual(facts["headers"]["X-One"], ["1"])
        self.assertEqual(facts["form"], {"f": ["2"]})


class OriginTests(SynchronousTestCase):
    """
    C{origin} believes C{X-Forwarded-For} only from C{[web] trusted_proxies}.
    """

    def test_untrustedPeer(self) -> None:
        """
        From a peer that is not a trusted proxy the header is ignored.
        """
        facts = jsonOf(request(b"/ip", headers=(b"X-Forwarded-For: 203.0.113.9",)))
        self.assertEqual(facts["origin"], "127.0.0.1")

    def test_trustedPeer(self) -> None:
        """
        From a trusted proxy, the chain is walked from the right past every
        trusted hop: a client cannot choose its origin by sending the header.
        """
        config = WebConfig(trusted_proxies=("127.0.0.0/8", "10.0.0.1"))
        facts = jsonOf(
            request(
                b"/get",
                headers=(b"X-Forwarded-For: 6.6.6.6, 203.0.113.9, 10.0.0.1",),
                config=config,
            )
        )
        self.assertEqual(facts["origin"], "203.0.113.9")


class BodyTests(SynchronousTestCase):
    """
    L{parseBody} and L{textOrDataURL} on their own.
    """

    def test_jsonWhateverTheType(self) -> None:
        """
        As in httpbin, a body that parses as JSON is C{json} whatever its type.
        """
        self.assertEqual(
            parseBody(b"[1]", b"application/problem+json; charset=utf-8", 10).json,
            [1],
        )
        self.assertEqual(parseBody(b"[1]", b"text/plain", 10).json, [1])

    def test_untypedBinary(self) -> None:
        """
        Binary bytes without a type are labelled C{application/octet-stream}.
        """
        self.assertEqual(
            textOrDataURL(b"\xff"), "data:application/octet-stream;base64,/w=="
        )


class ExactCaptureTests(SynchronousTestCase):
    """
    C{/dump/request} and C{/anything}'s C{raw_headers} show the request as
    it arrived, not as twisted.web's L{Headers} normalise it.
    """

    HEAD = (
        b"PATCH /dump/request?a=1&a=2 HTTP/1.1\r\n"
        b"hOsT:  example.test \r\n"
        b"x-Dup: 1\r\n"
        b"X-DUP:2\r\n"
        b"Cookie: secret=1\r\n"
        b"Content-Length: 4\r\n"
        b"\r\n"
    )

    def test_dumpIsExact(self) -> None:
        """
        Any method gets the request line and header section byte for byte
        (case, order, duplicates, whitespace, line ends), then the body, as
        plain text that no browser renders; a sensitive value is hidden.
        """
        [response] = exchange(self.HEAD + b"body")
        self.assertEqual(response.status, 200)
        self.assertEqual(response.header(b"Content-Type"), b"text/plain; charset=utf-8")
        self.assertEqual(response.header(b"Cache-Control"), b"no-store")
        expected = self.HEAD.replace(b"secret=1", HIDDEN.encode()) + b"body"
        self.assertEqual(response.body, expected)

    def test_dumpShowsSensitiveWhenAsked(self) -> None:
        """
        With C{show_sensitive_headers}, the dump is the request exactly.
        """
        [response] = exchange(
            self.HEAD + b"body", config=WebConfig(show_sensitive_headers=True)
        )
        self.assertEqual(response.body, self.HEAD + b"body")

    def test_rawHeadersAndProtocol(self) -> None:
        """
        C{raw_headers} lists C{[name, value]} in the order and case received,
        values without surrounding whitespace, sensitive ones hidden; and
        C{protocol} is C{HTTP/1.1}.
        """
        [response] = exchange(
            self.HEAD.replace(b"/dump/request", b"/anything") + b"body"
        )
        described = jsonOf(response)
        self.assertEqual(
            described["raw_headers"],
            [
                ["hOsT", "example.test"],
                ["x-Dup", "1"],
                ["X-DUP", "2"],
                ["Cookie", HIDDEN],
                ["Content-Length", "4"],
            ],
        )
        self.assertEqual(described["protocol"], "HTTP/1.1")


class QueryPairsTests(SynchronousTestCase):
    """
    L{queryPairs} gives what C{parse_qsl} gives, split by hand or not.
    """

    @settings(max_examples=500, deadline=None)
    @given(st.binary(max_size=60) | st.text(alphabet="ab=&;%+ 2F\u00e9", max_size=30))
    def test_sameAsParseQsl(self, query: bytes | str) -> None:
        """
        Any query, with or without escapes, blank names and values, empty
        fields, C{;} and bytes that are not UTF-8.
        """
        raw = query.encode() if isinstance(query, str) else query
        expected = parse_qsl(
            raw.decode("utf-8", "replace"), keep_blank_values=True, errors="replace"
        )
        self.assertEqual(queryPairs(raw), expected)
