# -*- test-case-name: tests.web.httpbin.test_forms -*-
"""
Request bodies as httpbin reports them: C{data}, C{form}, C{files} and
C{json}.

A C{application/x-www-form-urlencoded} or C{multipart/form-data} body is
parsed into fields (C{form}) and uploaded files (C{files}) and, as in
httpbin, its C{data} is then empty; any other body is C{data}, and C{json}
when it parses as JSON whatever its type.  A multipart body that cannot be
parsed (no boundary, truncated, compressed) gives an empty C{form} and
C{files}, as httpbin (Werkzeug's silent form parser) gives them: an echo
reports what it could read rather than refusing it.  The body is already within
C{[web] max_body} (the channel refuses larger ones); the number of parts or
fields is bounded by C{[web] max_form_parts}, counted before any parsing, so
a body of a million empty parts costs one scan, not a million objects.
"""

from __future__ import annotations

import json
from base64 import b64encode
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser
from email.policy import HTTP
from typing import Any
from urllib.parse import parse_qsl


class BodyError(Exception):
    """
    A form body with more parts or fields than allowed (C{413}); the
    message says which limit.
    """


class _MalformedError(Exception):
    """
    A multipart body that cannot be parsed: reported as an empty form.
    """


@dataclass
class Body:
    """
    A parsed request body.

    @ivar data: the bytes httpbin calls C{data} (empty for a form).
    @ivar mediaType: the body's media type, lower case, without parameters.
    @ivar form: (name, value) of each form field, in order.
    @ivar files: (name, content as L{textOrDataURL}) of each uploaded file.
    @ivar json: the body parsed as JSON, or L{None}.
    """

    data: bytes
    mediaType: str
    form: list[tuple[str, str]] = field(default_factory=list)
    files: list[tuple[str, str]] = field(default_factory=list)
    json: Any = None


def textOrDataURL(content: bytes, mediaType: str = "") -> str:
    """
    Bytes as JSON can carry them: the text when they are UTF-8, else a
    C{data:<type>;base64,...} URL, as httpbin does.
    """
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        label = mediaType or "application/octet-stream"
        return f"data:{label};base64,{b64encode(content).decode('ascii')}"


def _headerParams(contentType: bytes) -> tuple[str, dict[str, str]]:
    """
    A C{Content-Type} value's media type (lower case) and parameters.
    """
    message = BytesHeaderParser(policy=HTTP).parsebytes(
        b"Content-Type: " + contentType + b"\r\n\r\n"
    )
    params = {k.lower(): v for k, v in message["Content-Type"].params.items()}
    return message.get_content_type(), params


def parseBody(body: bytes, contentType: bytes | None, maxParts: int) -> Body:
    """
    Parse C{body} the way httpbin reports it.

    @param contentType: the request's C{Content-Type}, if any.
    @param maxParts: most multipart parts or urlencoded fields.
    @raise BodyError: a form body with more than C{maxParts} parts.
    """
    mediaType = ""
    params: dict[str, str] = {}
    if contentType:
        mediaType, params = _headerParams(contentType)
    if mediaType == "application/x-www-form-urlencoded":
        if body.count(b"&") >= maxParts:
            raise BodyError(f"at most {maxParts} form fields ([web] max_form_parts)")
        text = body.decode("utf-8", "replace")
        return Body(b"", mediaType, form=parse_qsl(text, keep_blank_values=True))
    if mediaType == "multipart/form-data":
        try:
            return _multipart(body, params.get("boundary", ""), maxParts)
        except _MalformedError:
            return Body(b"", mediaType)
    try:
        parsed = json.loads(body) if body else None
    except ValueError:
        parsed = None
    return Body(body, mediaType, json=parsed)


def _multipart(body: bytes, boundary: str, maxParts: int) -> Body:
    """
    Parse a C{multipart/form-data} body (RFC 7578): parts with a
    C{filename} are files, the others fields.
    """
    if not 1 <= len(boundary) <= 70:
        raise _MalformedError("a multipart/form-data boundary has 1 to 70 characters")
    delimiter = b"--" + boundary.encode("latin-1")
    if body.count(delimiter) - 1 > maxParts:
        raise BodyError(f"at most {maxParts} form parts ([web] max_form_parts)")
    # Everything before the first delimiter is a preamble, and after the
    # close delimiter an epilogue: both are ignored (RFC 2046 section 5.1.1).
    start = body.find(delimiter)
    end = body.find(b"\r\n" + delimiter + b"--", start)
    if start < 0 or end < 0:
        raise _MalformedError("the multipart body has no closing boundary")
    result = Body(b"", "multipart/form-data")
    chunks = body[start + len(delimiter) : end].split(b"\r\n" + delimiter)
    for chunk in chunks:
        # Each part starts after its delimiter line (transport padding
        # allowed), with headers up to an empty line.
        _, crlf, rest = chunk.partition(b"\r\n")
        head, blank, content = rest.partition(b"\r\n\r\n")
        if not crlf or not blank:
            if rest.startswith(b"\r\n"):
                head, content = b"", rest[2:]
            else:
                raise _MalformedError("a multipart part has no header section")
        part = BytesHeaderParser(policy=HTTP).parsebytes(head + b"\r\n\r\n")
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            raise _MalformedError("a multipart part has no Content-Disposition name")
        filename = part.get_filename()
        if filename is None:
            result.form.append((name, content.decode("utf-8", "replace")))
        else:
            partType = part.get_content_type() if part["Content-Type"] else ""
            result.files.append((name, textOrDataURL(content, partType)))
    return result
