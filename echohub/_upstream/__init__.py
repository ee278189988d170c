# -*- test-case-name: tests.test_exports -*-
"""
Every use echohub makes of a name of Twisted, pyOpenSSL or h2 that is
private or undocumented, and every behaviour of theirs it overrides, each
behind one function or class with why no public API serves and what would
replace it: one module per library (L{echohub._upstream._twisted},
L{echohub._upstream._pyopenssl}, L{echohub._upstream._h2}).

Nothing else in echohub may reach into those libraries' internals: when an
upgrade changes one, this package and C{tests/upstream/} are the only
places to look, and those tests fail loudly instead of echohub quietly
falling back.  C{docs/internals.md} lists them all, with where they are
used and the upstream ticket each waits for.

This package sits at the bottom of echohub, beside L{echohub._net}: it
imports nothing else of echohub's.
"""

from echohub._upstream._h2 import (
    ENCODER_TABLE_SIZE,
    HeaderCompressionError,
    ServerH2Connection,
)
from echohub._upstream._pyopenssl import (
    PYOPENSSL_IO_SHA256,
    RECORD_CONNECTION_UNAVAILABLE,
    RecordConnection,
    newServerConnection,
    recordConnectionUnavailable,
    setGroups,
    verifyErrorString,
    verifyResult,
)
from echohub._upstream._twisted import (
    EPOLL_DOPOLL_SHA256,
    ReaderFor,
    TLSProtocolHooks,
    directDispatchUnavailable,
    directSendable,
    endpointTokens,
    installDirectDispatch,
    useTwistLogObserver,
)

__all__ = [
    "ENCODER_TABLE_SIZE",
    "HeaderCompressionError",
    "EPOLL_DOPOLL_SHA256",
    "PYOPENSSL_IO_SHA256",
    "RECORD_CONNECTION_UNAVAILABLE",
    "ReaderFor",
    "RecordConnection",
    "ServerH2Connection",
    "TLSProtocolHooks",
    "directDispatchUnavailable",
    "directSendable",
    "endpointTokens",
    "installDirectDispatch",
    "newServerConnection",
    "recordConnectionUnavailable",
    "setGroups",
    "useTwistLogObserver",
    "verifyErrorString",
    "verifyResult",
]
