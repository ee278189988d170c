# -*- test-case-name: tests.web.httpbin.test_httpbin -*-
"""
Tests for L{echohub.web.httpbin._httpbin}: httpbin's method routes and go-httpbin's
small ones, through the real site over an in-memory transport.
"""

from __future__ import annotations

import json
import uuid

from twisted.trial.unittest import SynchronousTestCase

from echohub.config import WebConfig
from echohub.testing import jsonOf, request
from tests.web.httpbin.test_streaming import dechunk, start

FORM = b"Content-Type: application/x-www-form-urlencoded"


def multipart(*parts: tuple[str, str | None, bytes]) -> tuple[bytes, bytes]:
    """
    A C{multipart/form-data} body of (name, filename, content) parts and
    its C{Content-Type} header line.
    """
    body = b""
    for name, filename, content in parts:
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        body += b"--b0undary\r\nContent-Disposition: " + disposition.encode()
        body += b"\r\n\r\n" + content + b"\r\n"
    body += b"--b0undary--\r\n"
    return body, b"Content-Type: multipart/form-data; boundary=b0undary"


class MethodTests(SynchronousTestCase):
    """
    C{/get}, C{/post}, C{/put}, C{/patch}, C{/delete} and C{/head}.
    """

    def test_get(self) -> None:
        """
        C{/get} has exactly httpbin's four keys.
        """
        facts = jsonOf(request(b"/get?a=1"))
        self.assertEqual(sorted(facts), ["args", "headers", "origin", "url"])
        self.assertEqual(facts["args"], {"a": "1"})

    def test_bodyRoutes(self) -> None:
        """
        Each body route answers its own method with the body keys, and any
        other method with C{405}.
        """
        for name in [b"post", b"put", b"patch", b"delete"]:
            method = name.upper()
            facts = jsonOf(request(b"/" + name, method, (FORM,), b"a=1&a=2"))
            self.assertEqual(
                sorted(facts),
                ["args", "data", "files", "form", "headers", "json", "origin", "url"],
            )
            self.assertEqual(facts["form"], {"a": ["1", "2"]})
            self.assertEqual(request(b"/" + name, b"GET").status, 405)

    def test_multipart(self) -> None:
        """
        Multipart parts with a filename are C{files} (binary ones as a
        C{data:} URL), the others C{form}; C{data} is then empty.
        """
        body, header = multipart(
            ("field", None, b"value"),
            ("upload", "a.txt", b"text file"),
            ("blob", "b.bin", b"\xff\x00"),
        )
        facts = jsonOf(request(b"/post", b"POST", (header,), body))
        self.assertEqual(facts["form"], {"field": "value"})
        self.assertEqual(
            facts["files"],
            {
                "upload": "text file",
                "blob": "data:application/octet-stream;base64,/wA=",
            },
        )
        self.assertEqual(facts["data"], "")

    def test_multipartPartLimit(self) -> None:
        """
        More parts than C{[web] max_form_parts} get C{413}; a multipart body
        without a closing boundary gets C{200} with an empty form, as httpbin
        answers it.
        """
        body, header = multipart(*[(f"f{i}", None, b"x") for i in range(5)])
        config = WebConfig(max_form_parts=4)
        self.assertEqual(
            request(b"/post", b"POST", (header,), body, config).status, 413
        )
        truncated = request(b"/post", b"POST", (header,), b"--b0undary\r\n")
        self.assertEqual(truncated.status, 200)
        facts = jsonOf(truncated)
        self.assertEqual((facts["form"], facts["files"], facts["data"]), ({}, {}, ""))
        fields = b"&".join(b"f%d=1" % i for i in range(5))
        self.assertEqual(
            request(b"/post", b"POST", (FORM,), fields, config).status, 413
        )

    def test_jsonBody(self) -> None:
        """
        A JSON body is C{data} as text and C{json} parsed.
        """
        facts = jsonOf(
            request(b"/put", b"PUT", (b"Content-Type: application/json",), b'{"a": 1}')
        )
        self.assertEqual((facts["data"], facts["json"]), ('{"a": 1}', {"a": 1}))

    def test_head(self) -> None:
        """
        C{HEAD /get} and C{HEAD /head} get the length of the JSON and no body.
        """
        for target in [b"/get", b"/head"]:
            response = request(target, b"HEAD")
            self.assertEqual((response.status, response.body), (200, b""))
            self.assertGreater(int(response.header(b"Content-Length") or 0), 0)


class SmallRouteTests(SynchronousTestCase):
    """
    go-httpbin's C{/upload}, C{/uuid}, C{/env}, C{/hostname}, C{/version},
    C{/unstable} and C{/trailers}.
    """

    def test_upload(self) -> None:
        """
        C{/upload} counts the body and never echoes it.
        """
        facts = jsonOf(request(b"/upload", b"POST", body=b"secret" * 10))
        self.assertEqual(facts["bytes_received"], 60)
        self.assertNotIn("secret", json.dumps(facts))

    def test_facts(self) -> None:
        """
        A new UUID each time; an empty environment and a fixed host name,
        never the machine's.
        """
        first, second = (jsonOf(request(b"/uuid"))["uuid"] for _ in range(2))
        self.assertNotEqual(first, second)
        self.assertEqual(uuid.UUID(first).version, 4)
        self.assertEqual(jsonOf(request(b"/env")), {"env": {}})
        self.assertEqual(jsonOf(request(b"/hostname")), {"hostname": "echohub"})
        self.assertEqual(jsonOf(request(b"/version"))["service"], "echohub")

    def test_unstable(self) -> None:
        """
        C{failure_rate} 0 always succeeds, 1 always fails; a bad rate is
        C{400}.
        """
        self.assertEqual(request(b"/unstable?failure_rate=0").status, 200)
        self.assertEqual(request(b"/unstable?failure_rate=1").status, 500)
        self.assertEqual(request(b"/unstable?failure_rate=2").status, 400)
        seeded = {request(b"/unstable?seed=7").status for _ in range(5)}
        self.assertEqual(len(seeded), 1)

    def test_trailers(self) -> None:
        """
        C{/trailers?K=V} announces K in C{Trailer} and sends it after the
        last chunk; a framing header cannot be a trailer.
        """
        _, transport, _ = start(b"/trailers?X-Sum=42")
        data = transport.value()
        head, body, done = dechunk(data)
        self.assertIn(b"Trailer: X-Sum", head)
        self.assertTrue(done)
        self.assertEqual(json.loads(body)["args"], {"X-Sum": "42"})
        self.assertTrue(data.endswith(b"\r\n0\r\nX-Sum: 42\r\n\r\n"), data[-40:])
        self.assertEqual(request(b"/trailers?Content-Length=1").status, 400)
