# -*- test-case-name: tests.upstream.test_pins -*-
"""
Pins on upstream source: the pieces of L{echohub._upstream} that copy or
mirror a library's code check, once at import, that the library still has
the code they copy, by the SHA-256 of its source.
"""

from __future__ import annotations

import hashlib
import inspect


def sourceChanged(digest: str, *functions: object) -> str | None:
    """
    Why the source of C{functions} is not the one whose SHA-256 is
    C{digest} (the upstream code a piece here copies or mirrors), or
    L{None} when it is.
    """
    try:
        source = "".join(inspect.getsource(f) for f in functions)  # type: ignore[arg-type]
    except (OSError, TypeError):
        return "its source is not available"
    if hashlib.sha256(source.encode("utf-8")).hexdigest() != digest:
        return "it is not the version echohub copies"
    return None
