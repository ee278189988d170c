# -*- test-case-name: tests.http.test_policy -*-
"""
What the HTTP wire answers on its own, the same way for every HTTP version:
the limits and deadlines of a site's connections, and plain-text answers.
"""

from __future__ import annotations

from dataclasses import dataclass

from twisted.web.iweb import IRequest

from echohub.config import WebConfig

PLAIN_TEXT = b"text/plain; charset=utf-8"
"""
The content type of every answer the wire or a resource writes for a human:
never C{text/html}, so that nothing echoed can run as a page.
"""


def plainText(request: IRequest, code: int, body: bytes) -> bytes:
    """
    Make C{request}'s response a plain-text one with status C{code}.

    @return: C{body}, for a renderer to return.
    """
    request.setResponseCode(code)
    request.setHeader(b"Content-Type", PLAIN_TEXT)
    return body


@dataclass(frozen=True)
class HTTPLimits:
    """
    The deadlines and size limits of one site's connections.

    @ivar headerTimeout: seconds for the request line and headers, or
        L{None} for no deadline.
    @ivar bodyTimeout: base seconds for the body, or L{None} for no deadline.
    @ivar bodyMinRate: body bytes that extend the body deadline by one
        second; C{0} for a fixed deadline.
    @ivar maxRequestLine: the longest request line, in bytes.
    @ivar maxHeaderBytes: the largest header section, in bytes, each line
        counted with its C{CRLF}.
    @ivar maxHeaders: the most header lines.
    """

    headerTimeout: float | None = 20.0
    bodyTimeout: float | None = 20.0
    bodyMinRate: int = 1000
    maxRequestLine: int = 8192
    maxHeaderBytes: int = 16384
    maxHeaders: int = 100

    @classmethod
    def fromConfig(cls, config: WebConfig) -> HTTPLimits:
        """
        The limits C{config} sets; a timeout of C{0} means none.
        """
        return cls(
            headerTimeout=config.header_timeout or None,
            bodyTimeout=config.body_timeout or None,
            bodyMinRate=config.body_min_rate,
            maxRequestLine=config.max_request_line,
            maxHeaderBytes=config.max_header_bytes,
            maxHeaders=config.max_headers,
        )
