# -*- test-case-name: tests.tls.test_facts -*-
"""
What a TLS connection negotiated, as plain data for the echoes to report.

One function, L{tlsFacts}, shared by the TLS info service
(L{echohub.tls._info}) and the web service's C{/tls} and C{/anything}: the TLS
version, cipher, key exchange group, ALPN protocol, SNI name and what
became of client authentication.
"""

from __future__ import annotations

from typing import Any
from weakref import WeakKeyDictionary

from cryptography import x509
from OpenSSL import SSL
from twisted.internet.interfaces import ISSLTransport

from echohub._upstream import verifyErrorString, verifyResult

NO_CLIENT_CERTIFICATE = "no client certificate"


def _certificateFacts(
    certificate: x509.Certificate, verifyResult: int
) -> dict[str, Any]:
    """
    The parts of a client certificate a person testing mTLS wants to see.
    """
    return {
        "subject": certificate.subject.rfc4514_string(),
        "issuer": certificate.issuer.rfc4514_string(),
        "serial": format(certificate.serial_number, "x"),
        "not_before": certificate.not_valid_before_utc.isoformat(),
        "not_after": certificate.not_valid_after_utc.isoformat(),
        "verified": verifyResult == 0,
        "verify_error": None if verifyResult == 0 else verifyErrorString(verifyResult),
    }


_verifyErrors: WeakKeyDictionary[SSL.Connection, int] = WeakKeyDictionary()


def recordVerifyError(connection: SSL.Connection, error: int) -> None:
    """
    Remember the first error verifying C{connection}'s peer.

    A verify callback that accepts a certificate OpenSSL found wanting (as
    C{clientAuth=request} does, see L{echohub.tls._context}) makes pyOpenSSL reset
    OpenSSL's own record of the error, so the callback records it here.
    """
    if error:
        _verifyErrors.setdefault(connection, error)


def _verifyResult(connection: SSL.Connection) -> int:
    """
    The verification result of the peer's certificate (0: verified).
    """
    recorded = _verifyErrors.get(connection)
    if recorded is not None:
        return recorded
    return verifyResult(connection)


def _clientAuth(connection: SSL.Connection, peer: x509.Certificate | None) -> str:
    """
    One phrase for what became of client authentication: C{"not requested"},
    C{"no client certificate"}, C{"verified"} or C{"not verified: WHY"}.
    """
    if not connection.get_verify_mode() & SSL.VERIFY_PEER:
        return "not requested"
    if peer is None:
        return NO_CLIENT_CERTIFICATE
    result = _verifyResult(connection)
    return "verified" if result == 0 else f"not verified: {verifyErrorString(result)}"


def tlsFacts(transport: object) -> dict[str, Any] | None:
    """
    Describe the TLS session of C{transport}.

    @param transport: a protocol's transport; for TLS, Twisted's
        L{twisted.protocols.tls.TLSMemoryBIOProtocol}, which provides
        L{ISSLTransport} and whose C{getHandle()} is the pyOpenSSL
        connection.
    @return: L{None} for a connection without TLS (or before its handshake
        finished), else a dict with C{version}, C{cipher}, C{group},
        C{alpn}, C{sni}, C{client_auth} (see L{_clientAuth}) and
        C{client_certificate} (L{None} when the client sent none; otherwise
        subject, issuer, serial, validity, whether it verified and, if not,
        why).
    """
    if not ISSLTransport.providedBy(transport):
        return None
    connection = transport.getHandle()  # type: ignore[attr-defined]
    if not isinstance(connection, SSL.Connection):
        return None
    version = connection.get_protocol_version_name()
    if not version or version == "Unknown":
        return None
    alpn = connection.get_alpn_proto_negotiated()
    sni = connection.get_servername()
    peer = connection.get_peer_certificate(as_cryptography=True)
    return {
        "version": version,
        "cipher": connection.get_cipher_name(),
        "group": connection.get_group_name(),
        "alpn": alpn.decode("ascii", "replace") if alpn else None,
        "sni": sni.decode("idna") if sni else None,
        "client_auth": _clientAuth(connection, peer),
        "client_certificate": (
            None if peer is None else _certificateFacts(peer, _verifyResult(connection))
        ),
    }
