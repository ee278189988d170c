"""
Tests for L{echohub.ops._requests}: C{[log] requests}, one structured event
per request, credentials redacted, through the real site.
"""

from __future__ import annotations

import json
from typing import Any

from twisted.internet.address import IPv4Address
from twisted.internet.testing import (
    EventLoggingObserver,
    MemoryReactorClock,
    StringTransport,
)
from twisted.logger import globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase

from echohub.config import LogConfig, WebConfig
from echohub.ops import RequestLog
from echohub.ops._requests import HIDDEN
from echohub.testing import parseResponses
from echohub.web import buildSite


def serve(
    requestLog: RequestLog | None, data: bytes, case: SynchronousTestCase
) -> list[dict[str, Any]]:
    """
    Send C{data} to a new site with C{requestLog}; the request events
    logged.
    """
    events = EventLoggingObserver.createWithCleanup(case, globalLogPublisher)
    site = buildSite(WebConfig(), reactor=MemoryReactorClock(), requestLog=requestLog)
    channel = site.buildProtocol(IPv4Address("TCP", "127.0.0.1", 8080))
    transport = StringTransport(peerAddress=IPv4Address("TCP", "192.0.2.1", 5000))
    channel.makeConnection(transport)
    channel.dataReceived(data)
    parseResponses(transport.value())
    return [e for e in events if "request" in e]


REQUEST = (
    b"POST /webhook?x=1 HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer s3cret\r\n"
    b"Cookie: id=42\r\nX-Event: push\r\nContent-Length: 11\r\n\r\nhello world"
)


class RequestLogTests(SynchronousTestCase):
    """
    L{RequestLog}, from C{[log]} to the event.
    """

    def test_offByDefault(self) -> None:
        """
        C{[log] requests = off} (the default) is no request log at all.
        """
        self.assertIsNone(RequestLog.fromConfig(LogConfig()))
        self.assertEqual(serve(None, REQUEST, self), [])

    def test_headers(self) -> None:
        """
        C{headers}: one event with the request line and the headers in
        order, credentials and cookies hidden, the body's length only; its
        text is one line.
        """
        log = RequestLog.fromConfig(LogConfig(requests="headers"))
        [event] = serve(log, REQUEST, self)
        document = event["request"]
        self.assertEqual(
            (document["method"], document["target"], document["version"]),
            ("POST", "/webhook?x=1", "HTTP/1.1"),
        )
        self.assertEqual(
            document["headers"],
            [
                ["Host", "h"],
                ["Authorization", HIDDEN],
                ["Cookie", HIDDEN],
                ["X-Event", "push"],
                ["Content-Length", "11"],
            ],
        )
        self.assertEqual(document["body_bytes"], 11)
        self.assertNotIn("body", document)
        self.assertNotIn("s3cret", event["log_text"])
        self.assertNotIn("\n", event["log_text"])
        self.assertTrue(event["log_text"].startswith("web request: 192.0.2.1:5000 {"))
        self.assertEqual(json.loads(event["log_text"].split(" ", 3)[3]), document)

    def test_bodyBounded(self) -> None:
        """
        C{body}: the first C{body_bytes} of the body, and whether there was
        more; credentials kept when C{[log] show_sensitive_headers}.
        """
        log = RequestLog.fromConfig(
            LogConfig(requests="body", body_bytes=5, show_sensitive_headers=True)
        )
        [event] = serve(log, REQUEST, self)
        document = event["request"]
        self.assertEqual(
            (document["body"], document["body_truncated"]), ("hello", True)
        )
        self.assertIn(["Authorization", "Bearer s3cret"], document["headers"])

    def test_leanPath(self) -> None:
        """
        A request the channel answers itself (C{POST /echo}) is logged too,
        with its body.
        """
        log = RequestLog.fromConfig(LogConfig(requests="body"))
        data = b"POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\n\xffab"
        [event] = serve(log, data, self)
        self.assertEqual(event["request"]["body"], "\\xffab")
        self.assertEqual(event["request"]["target"], "/echo")
