# -*- test-case-name: tests.test_tlsfacts -*-
"""
What a TLS connection negotiated, as plain data for the echoes to report.

One function, L{tlsFacts}, shared by the line service's info command and the
web service's C{/tls} and C{/anything}: the TLS version, cipher, ALPN
protocol, SNI name and, when the client sent one, its certificate.
"""

from __future__ import annotations

from typing import Any

from cryptography import x509
from OpenSSL import SSL

from twisted.internet.interfaces import ISSLTransport


def _certificateFacts(certificate: x509.Certificate, verified: bool) -> dict[str, Any]:
    """
    The parts of a client certificate a person testing mTLS wants to see.
    """
    return {
        "subject": certificate.subject.rfc4514_string(),
        "issuer": certificate.issuer.rfc4514_string(),
        "serial": format(certificate.serial_number, "x"),
        "not_before": certificate.not_valid_before_utc.isoformat(),
        "not_after": certificate.not_valid_after_utc.isoformat(),
        "verified": verified,
    }


def tlsFacts(transport: object) -> dict[str, Any] | None:
    """
    Describe the TLS session of C{transport}.

    @param transport: a protocol's transport; for TLS, Twisted's
        L{twisted.protocols.tls.TLSMemoryBIOProtocol}, which provides
        L{ISSLTransport} and whose C{getHandle()} is the pyOpenSSL
        connection.
    @return: L{None} for a connection without TLS (or before its handshake
        finished), else a dict with C{version}, C{cipher}, C{alpn},
        C{sni} and C{client_certificate} (L{None} when the client sent none;
        otherwise subject, issuer, serial, validity and whether it verified).
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
        "alpn": alpn.decode("ascii", "replace") if alpn else None,
        "sni": sni.decode("idna") if sni else None,
        "client_certificate": (
            None
            if peer is None
            else _certificateFacts(peer, connection.get_verify_result() == 0)
        ),
    }
