# -*- test-case-name: tests.ops.test_requests -*-
"""
Request logging (C{[log] requests}): each HTTP request's head, and with
C{body} the first C{[log] body_bytes} of its body, in the log as one
structured event, for the webhook or proxy being debugged whose requests
one wants to read (mendhak/http-https-echo prints each request; go-httpbin
issue 269 asks for it).

The event's text is one line, C{web request: PEER {JSON}}, so that a
request with a newline in a header or body stays one line of the text log;
the JSON log carries the same document as the event's C{request} field.
C{Authorization}, C{Proxy-Authorization} and C{Cookie} values are replaced
by a note unless C{[log] show_sensitive_headers} is on: logs are kept and
shipped further than an answer is, so this is its own setting, not C{[web]
show_sensitive_headers} (which test runs turn on).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from twisted.logger import Logger, LogLevel

from echohub.config import LogConfig

SENSITIVE = frozenset({b"authorization", b"proxy-authorization", b"cookie"})
HIDDEN = "(hidden: set [log] show_sensitive_headers to log it)"

_log = Logger(namespace="echohub.requests")


def _text(value: bytes) -> str:
    return value.decode("utf-8", "backslashreplace")


@dataclass(frozen=True)
class RequestLog:
    """
    What C{[log] requests} logs of each request.

    @ivar body: whether the body is logged (C{body}), or only its length
        (C{headers}).
    @ivar bodyBytes: the most body bytes logged.
    @ivar showSensitive: whether credential and cookie values are logged.
    """

    body: bool = False
    bodyBytes: int = 4096
    showSensitive: bool = False

    @classmethod
    def fromConfig(cls, config: LogConfig) -> RequestLog | None:
        """
        The request log C{[log]} asks for, or L{None} when it is off.
        """
        if config.requests == "off":
            return None
        return cls(
            body=config.requests == "body",
            bodyBytes=config.body_bytes,
            showSensitive=config.show_sensitive_headers,
        )

    def document(
        self,
        method: bytes,
        target: bytes,
        version: str,
        headers: Iterable[tuple[bytes, bytes]],
        body: bytes,
    ) -> dict[str, Any]:
        """
        The request as the event's C{request} field: method, target,
        version, the headers as C{[name, value]} pairs in order, the body's
        length and, when logged, its first L{bodyBytes} (UTF-8, other bytes
        escaped).
        """
        document: dict[str, Any] = {
            "method": _text(method),
            "target": _text(target),
            "version": version,
            "headers": [
                [
                    _text(name),
                    HIDDEN
                    if not self.showSensitive and name.lower() in SENSITIVE
                    else _text(value),
                ]
                for name, value in headers
            ],
            "body_bytes": len(body),
        }
        if self.body:
            document["body"] = _text(body[: self.bodyBytes])
            document["body_truncated"] = len(body) > self.bodyBytes
        return document

    def log(
        self,
        peer: str,
        method: bytes,
        target: bytes,
        version: str,
        headers: Iterable[tuple[bytes, bytes]],
        body: bytes,
    ) -> None:
        """
        Log one request as one event (see the module docstring).

        @param peer: the client, as L{echohub._net.formatAddress} shows it.
        """
        document = self.document(method, target, version, headers, body)
        _log.observer(
            {
                "log_format": "{log_text}",
                "log_text": f"web request: {peer} "
                + json.dumps(document, ensure_ascii=False),
                "log_level": LogLevel.info,
                "log_namespace": _log.namespace,
                "log_source": None,
                "log_logger": _log,
                "log_time": time.time(),
                "peer": peer,
                "request": document,
            }
        )
