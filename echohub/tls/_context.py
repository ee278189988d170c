# -*- test-case-name: tests.tls.test_context -*-
"""
TLS for echohub's listeners: C{ssl:} endpoint strings, built by echohub, with
one policy for all of them.

Twisted's own C{ssl:} parser would serve, but its default policy fails
Mozilla's I{intermediate} profile (it offers CBC and CCM suites and the X448
and secp521r1 groups), it cannot ask for client certificates, it reports a
missing file or a mismatched key as a raw exception, and its context cannot
be swapped for a renewed certificate.  So echohub reads C{ssl:} strings
itself, with the same syntax plus a few keys of its own::

    ssl:PORT[:interface=ADDR][:backlog=N]:privateKey=KEY.pem[:certKey=CERT.pem]
        [:extraCertChain=CHAIN.pem][:profile=intermediate|modern]
        [:clientCA=CA.pem|DIR][:clientAuth=require|request]
        [:handshakeTimeout=SECONDS][:scenario=NAME]

(C{scenario=}: a TLS failure scenario, L{echohub.tls._scenarios}, the only
listeners outside the policy below) and listens with
L{echohub.tls._protocol.TLSServerEndpoint} over a TCP endpoint.  The same
TLS keys on any other endpoint string (C{systemd:}, C{unix:}, ...) put TLS
over it (see L{echohub.endpoints.parseListener}).
Every context built here:

    - speaks TLS 1.2 and 1.3 (C{intermediate}) or TLS 1.3 only (C{modern}),
      per Mozilla Server Side TLS 5.7;
    - offers only the AEAD suites of that profile (ECDHE with AES-GCM or
      ChaCha20-Poly1305; the profile's DHE suites are left out, so no DH
      parameters are needed) and lets the client choose among them, as the
      profile says;
    - offers only the groups X25519, P-256 and P-384;
    - refuses compression and renegotiation, and keeps no session state
      (no tickets, no cache), so a reloaded certificate is all there is;
    - sends the leaf and its intermediates but never a self-signed root;
    - selects an ALPN protocol only from what the wrapped factory offers.

Twisted's own C{tls:} server strings are refused by
L{echohub.endpoints.parseListener} with a pointer to C{ssl:}: they would
bypass all of the above.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from OpenSSL import SSL, crypto
from twisted.internet.interfaces import (
    IOpenSSLServerConnectionCreator,
    IProtocolNegotiationFactory,
)
from twisted.logger import Logger
from zope.interface import implementer

from echohub._net import openSSLReason
from echohub._upstream import (
    RECORD_CONNECTION_UNAVAILABLE,
    newServerConnection,
    setGroups,
)
from echohub.tls._facts import recordVerifyError
from echohub.tls._scenarios import SCENARIOS, Scenario

PROFILES = ("intermediate", "modern")
CLIENT_AUTH = ("require", "request")

# Mozilla Server Side TLS 5.7, intermediate, ECDHE suites only.
INTERMEDIATE_CIPHERS = (
    b"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    b"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    b"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
)
TLS13_SUITES = (
    b"TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"
)
GROUPS = b"X25519:P-256:P-384"

_OPTIONS = (
    SSL.OP_NO_COMPRESSION
    | SSL.OP_NO_RENEGOTIATION
    | SSL.OP_NO_TICKET
    | SSL.OP_SINGLE_ECDH_USE
)
_SESSION_ID_CONTEXT = b"echohub"


class TLSConfigError(Exception):
    """
    A TLS listener cannot be built; the message names the file and the cause.
    """


@dataclass(frozen=True)
class ListenerTLS:
    """
    Everything one C{ssl:} string says about TLS, with the global defaults
    filled in: what L{buildContext} needs, and all a reload needs to repeat.

    @ivar privateKey: the PEM private key file.
    @ivar certKey: the PEM certificate file: the leaf, optionally followed by
        its intermediates.
    @ivar extraCertChain: more intermediates, or L{None}.
    @ivar profile: one of L{PROFILES}.
    @ivar clientCA: a PEM file or a directory of PEM files holding the CA
        certificates client certificates must chain to, or L{None} for no
        client authentication.
    @ivar clientAuth: C{"require"} (no valid client certificate, no
        handshake) or C{"request"} (any or no certificate is accepted and the
        facts say whether it verified); L{None} without C{clientCA}.
    @ivar scenario: the TLS failure scenario served (L{SCENARIOS}), or
        L{None}: the only listeners outside the profile.
    """

    privateKey: str
    certKey: str
    extraCertChain: str | None = None
    profile: str = "intermediate"
    clientCA: str | None = None
    clientAuth: str | None = None
    scenario: str | None = None


def _read(path: str, what: str) -> bytes:
    """
    Read one PEM file, naming it and its role in any error.
    """
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        raise TLSConfigError(f"{what} file {path!r} does not exist") from None
    except IsADirectoryError:
        raise TLSConfigError(f"{what} file {path!r} is a directory") from None
    except OSError as e:
        raise TLSConfigError(
            f"{what} file {path!r} cannot be read: {e.strerror}"
        ) from None


def _certificates(path: str, what: str) -> list[x509.Certificate]:
    """
    Load every certificate in a PEM file, in order.
    """
    try:
        certificates = x509.load_pem_x509_certificates(_read(path, what))
    except ValueError:
        certificates = []
    if not certificates:
        raise TLSConfigError(f"{what} file {path!r} holds no valid PEM certificate")
    return certificates


def _privateKey(path: str) -> Any:
    """
    Load an unencrypted PEM private key.
    """
    try:
        return serialization.load_pem_private_key(_read(path, "private key"), None)
    except TypeError:
        raise TLSConfigError(
            f"private key file {path!r} is encrypted; echohub needs it unencrypted"
        ) from None
    except (ValueError, UnsupportedAlgorithm):
        raise TLSConfigError(
            f"private key file {path!r} holds no valid PEM private key"
        ) from None


def _isSelfSigned(certificate: x509.Certificate) -> bool:
    return certificate.subject == certificate.issuer


def _clientCAs(path: str) -> list[x509.Certificate]:
    """
    Load the client CA certificates from a PEM file or from every C{*.pem},
    C{*.crt} and C{*.cer} file of a directory.
    """
    if not os.path.isdir(path):
        return _certificates(path, "clientCA")
    names = sorted(n for n in os.listdir(path) if n.endswith((".pem", ".crt", ".cer")))
    if not names:
        raise TLSConfigError(
            f"clientCA directory {path!r} holds no .pem/.crt/.cer file"
        )
    return [c for n in names for c in _certificates(os.path.join(path, n), "clientCA")]


def _selectALPN(connection: SSL.Connection, offered: Sequence[bytes]) -> Any:
    """
    Pick the first protocol the wrapped factory prefers among those the
    client offered; without a common protocol the handshake goes on with
    none, so a client that insists on one it cannot have finds out in
    plain sight rather than from an alert.
    """
    protocol = connection.get_app_data()
    factory = getattr(getattr(protocol, "factory", None), "wrappedFactory", None)
    negotiation = IProtocolNegotiationFactory(factory, None)
    if negotiation is not None:
        for candidate in negotiation.acceptableProtocols():
            if candidate in offered:
                return candidate
    return SSL.NO_OVERLAPPING_PROTOCOLS


def _acceptAny(
    connection: SSL.Connection, certificate: Any, error: int, depth: int, ok: int
) -> bool:
    """
    The verify callback of C{clientAuth=request}: carry on with any
    certificate, recording why it did not verify for L{echohub.tls._facts}.
    """
    if not ok:
        recordVerifyError(connection, error)
    return True


def buildContext(settings: ListenerTLS) -> tuple[SSL.Context, x509.Certificate]:
    """
    Build the OpenSSL context of one listener, every file checked now.

    @return: the context and the leaf certificate it serves.
    @raise TLSConfigError: a file is missing, unreadable or not PEM, the key
        does not belong to the certificate, or an option is invalid.
    """
    chain = _certificates(settings.certKey, "certificate")
    if settings.extraCertChain is not None:
        chain += _certificates(settings.extraCertChain, "extraCertChain")
    scenario = None if settings.scenario is None else SCENARIOS[settings.scenario]
    # A scenario sends its chain as it is, a self-signed root included.
    leaf, intermediates = (
        chain[0],
        [c for c in chain[1:] if scenario is not None or not _isSelfSigned(c)],
    )
    key = _privateKey(settings.privateKey)
    if key.public_key() != leaf.public_key():
        raise TLSConfigError(
            f"private key {settings.privateKey!r} does not match certificate"
            f" {settings.certKey!r}"
        )

    context = SSL.Context(SSL.TLS_METHOD)
    context.set_min_proto_version(
        SSL.TLS1_3_VERSION if settings.profile == "modern" else SSL.TLS1_2_VERSION
    )
    context.set_options(_OPTIONS)
    context.set_mode(SSL.MODE_RELEASE_BUFFERS)
    context.set_cipher_list(INTERMEDIATE_CIPHERS)
    if scenario is not None:
        _scenarioPolicy(context, scenario)
    context.set_tls13_ciphersuites(TLS13_SUITES)
    if not setGroups(context, GROUPS):
        raise TLSConfigError(f"this OpenSSL does not support the groups {GROUPS!r}")
    try:
        context.use_certificate(leaf)
        context.use_privatekey(key)
        for certificate in intermediates:
            context.add_extra_chain_cert(certificate)
        context.check_privatekey()
    except (SSL.Error, crypto.Error) as e:
        raise TLSConfigError(
            f"certificate {settings.certKey!r} or key {settings.privateKey!r}"
            f" is unusable: {openSSLReason(e)}"
        ) from None
    context.set_session_id(_SESSION_ID_CONTEXT)
    context.set_session_cache_mode(SSL.SESS_CACHE_OFF)
    context.set_alpn_select_callback(_selectALPN)

    if settings.clientCA is not None:
        store = context.get_cert_store()
        assert store is not None
        for ca in _clientCAs(settings.clientCA):
            store.add_cert(crypto.X509.from_cryptography(ca))
            context.add_client_ca(ca)
        if settings.clientAuth == "request":
            context.set_verify(SSL.VERIFY_PEER | SSL.VERIFY_CLIENT_ONCE, _acceptAny)
        else:
            context.set_verify(
                SSL.VERIFY_PEER
                | SSL.VERIFY_FAIL_IF_NO_PEER_CERT
                | SSL.VERIFY_CLIENT_ONCE
            )
    return context, leaf


def _scenarioPolicy(context: SSL.Context, scenario: Scenario) -> None:
    """
    Leave the profile as far as C{scenario} needs: OpenSSL's security level
    0 (an RSA-1024 key, a SHA-1 signature, TLS 1.0 and 1.1 need it) and
    only the scenario's TLS versions, with the CBC suites they need.
    """
    if scenario.versions is not None:
        low, high = scenario.versions
        context.set_min_proto_version(low)
        context.set_max_proto_version(high)
        context.set_cipher_list(b"ECDHE+AESGCM:ECDHE+AES:@SECLEVEL=0")
    elif scenario.weak:
        context.set_cipher_list(INTERMEDIATE_CIPHERS + b":@SECLEVEL=0")


def describeCertificate(certificate: x509.Certificate) -> str:
    """
    Name a served certificate in a log line: subject, serial and expiry.
    """
    return (
        f"{certificate.subject.rfc4514_string()}, serial"
        f" {format(certificate.serial_number, 'x')}, expires"
        f" {certificate.not_valid_after_utc:%Y-%m-%d}"
    )


@implementer(IOpenSSLServerConnectionCreator)
class ReloadableServerContext:
    """
    The connection creator of one TLS listener, whose context can be rebuilt
    from its files while the listener runs.

    Each new connection takes the current context; connections already made
    keep the one they started with.  A reload whose files are unusable keeps
    the current context.

    @ivar settings: what the context is built from.
    @ivar certificate: the leaf certificate being served.
    """

    log = Logger()

    def __init__(self, settings: ListenerTLS) -> None:
        """
        @raise TLSConfigError: the files are unusable.
        """
        self.settings = settings
        self._context, self.certificate = buildContext(settings)
        if RECORD_CONNECTION_UNAVAILABLE is not None:
            self.log.info(
                "TLS records through pyOpenSSL's own calls, slower: {why}",
                why=RECORD_CONNECTION_UNAVAILABLE,
            )

    def serverConnectionForTLS(self, tlsProtocol: object) -> SSL.Connection:
        """
        A server connection on the current context.
        """
        return newServerConnection(self._context)

    def reload(self, description: str) -> bool:
        """
        Rebuild the context from the files; log one line saying what
        happened.

        @param description: the listener's endpoint string, for the log.
        @return: whether the new context is now in use.
        """
        try:
            self._context, self.certificate = buildContext(self.settings)
        except TLSConfigError as e:
            self.log.error(
                "TLS reload of {description} refused, still serving {current}: {error}",
                description=description,
                current=describeCertificate(self.certificate),
                error=str(e),
            )
            return False
        self.log.info(
            "TLS reload of {description}: now serving {current}",
            description=description,
            current=describeCertificate(self.certificate),
        )
        return True
