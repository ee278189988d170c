# -*- test-case-name: tests.tls.test_scenarios -*-
"""
TLS failure scenarios, as badssl.com has them but local and per install:
certificates made by C{echohub-devcert DIR --scenarios} and served by a
listener whose endpoint string says C{scenario=NAME}.

Every scenario but C{self-signed} and C{untrusted-root} chains to a
scenario CA of the install (C{DIR/scenarios/ca.pem}): trust that CA, and
each listener fails exactly as its name says, and only that way.  The
files, in C{DIR/scenarios/}:

    - C{ca.pem}, C{ca-key.pem}: the scenario CA (ECDSA P-256, 10 years);
    - C{NAME.pem}, C{NAME-key.pem}: what the listener of scenario NAME
      serves (the certificate file holds the chain it sends);
    - C{untrusted-root-ca.pem}: the throwaway root of C{untrusted-root},
      to trust on purpose;
    - C{incomplete-chain-intermediate.pem}: the intermediate that
      C{incomplete-chain}'s server leaves out, to add on purpose;
    - C{client.pem}, C{client-key.pem}: a client certificate the
      C{client-cert-required} listener accepts.

Keys are made on the machine, never shared.  Running the command again
reuses what still produces its failure: an expired certificate is never
renewed into a valid one, a not-yet-valid one is reissued only when its
start comes within L{RENEW_BEFORE}.

Scenario listeners are the only ones outside the Mozilla profile
(L{echohub.tls._context.buildContext}): they send the chain as the file has
it, a self-signed root included; C{weak-key} and C{sha1} are served at
OpenSSL's security level 0, which they need; C{tls-v1-0} and C{tls-v1-1}
speak only that version.  C{sha1} is signed by hand (a DER edit of a
certificate cryptography made, re-signed with ECDSA-SHA1), because
cryptography refuses to sign certificates with SHA-1.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from twisted.python.filepath import FilePath

from echohub.tls._devcert import (
    BACKDATE,
    CA_LIFETIME,
    LEAF_LIFETIME,
    RENEW_BEFORE,
    SERVER_DNS_NAMES,
    SERVER_IP_ADDRESSES,
    _writeAtomically,
)

SCENARIO_DIRECTORY = "scenarios"
WRONG_HOST = "wrong.host.echohub.test"
"""
The only name the C{wrong-host} certificate is for (C{.test} is reserved:
it never resolves by accident).
"""

EXPIRED_AGO = timedelta(days=30)
WEAK_KEY_BITS = 1024
"""
The C{weak-key} scenario's RSA key size: the smallest cryptography makes.
"""
NOT_YET_VALID_IN = timedelta(days=3650)


@dataclass(frozen=True)
class Scenario:
    """
    One TLS failure scenario.

    @ivar name: as in C{scenario=NAME} and the file names.
    @ivar failure: the failure it is meant to produce, for a person (the
        listener's page says it).
    @ivar expect: what OpenSSL-based clients report (curl, Python's C{ssl}).
    @ivar versions: the only TLS versions spoken (C{(min, max)} of
        C{SSL.TLS1_VERSION}...), or L{None} for the profile's.
    @ivar weak: whether the listener needs OpenSSL's security level 0.
    @ivar clientCertificate: whether the listener requires a client
        certificate (C{clientCA=} is then required in its string).
    """

    name: str
    failure: str
    expect: str
    versions: tuple[int, int] | None = None
    weak: bool = False
    clientCertificate: bool = False


SCENARIOS: Mapping[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "expired",
            "the certificate expired 30 days before it was issued for this install",
            "certificate has expired",
        ),
        Scenario(
            "not-yet-valid",
            "the certificate is valid only from ten years after it was made",
            "certificate is not yet valid",
        ),
        Scenario(
            "wrong-host",
            f"the certificate is for {WRONG_HOST}, not localhost or 127.0.0.1",
            "certificate subject name does not match / Hostname mismatch",
        ),
        Scenario(
            "self-signed",
            "the certificate is self-signed (no CA)",
            "self-signed certificate",
        ),
        Scenario(
            "untrusted-root",
            "the chain ends in a throwaway root CA of its own, which it sends",
            "self-signed certificate in certificate chain",
        ),
        Scenario(
            "incomplete-chain",
            "the server leaves out the intermediate CA between its certificate"
            " and the scenario CA",
            "unable to get local issuer certificate",
        ),
        Scenario(
            "client-cert-required",
            "the server requires a client certificate from the scenario CA",
            "alert certificate required (TLS 1.3) / handshake failure",
            clientCertificate=True,
        ),
        Scenario(
            "weak-key",
            "the certificate's key is RSA 1024 bits",
            "EE certificate key too weak / ee key too small",
            weak=True,
        ),
        Scenario(
            "sha1",
            "the certificate is signed with ECDSA-SHA1",
            "certificate signature algorithm too weak / ca md too weak",
            weak=True,
        ),
        Scenario(
            "tls-v1-0",
            "the server speaks TLS 1.0 only",
            "unsupported protocol / tlsv1 alert protocol version",
            versions=(0x0301, 0x0301),
            weak=True,
        ),
        Scenario(
            "tls-v1-1",
            "the server speaks TLS 1.1 only",
            "unsupported protocol / tlsv1 alert protocol version",
            versions=(0x0302, 0x0302),
            weak=True,
        ),
    )
}
"""
Every scenario, by name.
"""


@dataclass(frozen=True)
class _Issuer:
    certificate: x509.Certificate
    key: Any


def _pem(certificates: list[x509.Certificate]) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certificates)


def _keyPEM(key: Any) -> bytes:
    data: bytes = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return data


def _name(common: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "echohub scenarios"),
            x509.NameAttribute(NameOID.COMMON_NAME, common),
        ]
    )


def _usage(ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not ca,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def _build(
    subject: x509.Name,
    key: Any,
    issuer: _Issuer | None,
    start: datetime,
    end: datetime,
    ca: bool = False,
    names: list[x509.GeneralName] | None = None,
    usage: x509.ObjectIdentifier = ExtendedKeyUsageOID.SERVER_AUTH,
) -> x509.CertificateBuilder:
    signer = key if issuer is None else issuer.key
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject if issuer is None else issuer.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), True)
        .add_extension(_usage(ca), True)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()),
            False,
        )
    )
    if not ca:
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), False)
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), False)
    return builder


def _localNames() -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = [x509.DNSName(n) for n in SERVER_DNS_NAMES]
    names += [x509.IPAddress(ipaddress.ip_address(a)) for a in SERVER_IP_ADDRESSES]
    return names


def _newKey() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _der(tag: int, content: bytes) -> bytes:
    """
    One DER element: tag, definite length, content.
    """
    size = len(content)
    if size < 0x80:
        return bytes([tag, size]) + content
    length = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(length)]) + length + content


def _elements(der: bytes) -> list[bytes]:
    """
    The DER elements of a SEQUENCE's content, each whole.
    """
    out = []
    offset = 0
    while offset < len(der):
        first = der[offset + 1]
        if first < 0x80:
            header, size = 2, first
        else:
            count = first & 0x7F
            header = 2 + count
            size = int.from_bytes(der[offset + 2 : offset + 2 + count], "big")
        out.append(der[offset : offset + header + size])
        offset += header + size
    return out


def _content(der: bytes) -> bytes:
    """
    The content of one DER element.
    """
    first = der[1]
    return der[2 + (first & 0x7F if first >= 0x80 else 0) :]


ECDSA_SHA1 = bytes.fromhex("300906072a8648ce3d0401")
"""
The DER AlgorithmIdentifier of ecdsa-with-SHA1 (1.2.840.10045.4.1).
"""


def signSHA1(builder: x509.CertificateBuilder, issuer: _Issuer) -> x509.Certificate:
    """
    A certificate signed with ECDSA-SHA1, which cryptography will not make:
    the builder's certificate, signed with SHA-256, has its signature
    algorithm replaced (in the TBS certificate and outside it) and is signed
    again over the new TBS with SHA-1.
    """
    made = builder.sign(issuer.key, hashes.SHA256())
    fields = _elements(_content(made.tbs_certificate_bytes))
    # TBSCertificate: [0] version, serialNumber, signature, issuer, ...
    fields[2] = ECDSA_SHA1
    tbs = _der(0x30, b"".join(fields))
    signature = issuer.key.sign(tbs, ec.ECDSA(hashes.SHA1()))
    der = _der(0x30, tbs + ECDSA_SHA1 + _der(0x03, b"\0" + signature))
    return x509.load_der_x509_certificate(der)


def _load(
    certificate: FilePath[str], key: FilePath[str]
) -> tuple[list[x509.Certificate], Any] | None:
    """
    A chain and its leaf's key, or L{None} when either is missing, broken
    or they do not match.
    """
    try:
        chain = x509.load_pem_x509_certificates(certificate.getContent())
        private = serialization.load_pem_private_key(key.getContent(), None)
    except (OSError, ValueError, TypeError, UnsupportedAlgorithm):
        return None
    if not chain or chain[0].public_key() != private.public_key():
        return None
    return chain, private


def issuedBy(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    """
    Whether C{issuer}'s (ECDSA) key signed C{certificate}, with whatever
    hash it names: cryptography's own check refuses SHA-1.
    """
    key = issuer.public_key()
    algorithm = certificate.signature_hash_algorithm
    if (
        certificate.issuer != issuer.subject
        or not isinstance(key, ec.EllipticCurvePublicKey)
        or algorithm is None
    ):
        return False
    try:
        key.verify(
            certificate.signature,
            certificate.tbs_certificate_bytes,
            ec.ECDSA(algorithm),
        )
    except (InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


def _isWeak(certificate: x509.Certificate) -> bool:
    key = certificate.public_key()
    return isinstance(key, rsa.RSAPublicKey) and key.key_size == WEAK_KEY_BITS


Chain = list[x509.Certificate]


class _Workshop:
    """
    Where one run of L{ensureScenarios} makes (or keeps) the files of each
    scenario.

    @ivar where: the scenarios directory.
    @ivar now: the time of this run.
    @ivar ca: the scenario CA.
    @ivar renewed: whether the CA is new in this run, so that nothing it
        did not sign is kept.
    """

    def __init__(
        self, where: FilePath[str], now: datetime, report: Callable[[str], None]
    ) -> None:
        self.where = where
        self.now = now
        self.report = report
        loaded = _load(*self.files("ca"))
        self.renewed = loaded is None or not self.fresh(loaded[0])
        if loaded is None or self.renewed:
            key = _newKey()
            certificate = _build(
                _name(f"echohub scenario CA {os.urandom(4).hex()}"),
                key,
                None,
                now - BACKDATE,
                now + CA_LIFETIME,
                ca=True,
            ).sign(key, hashes.SHA256())
            self.save("ca", [certificate], key)
            self.ca = _Issuer(certificate, key)
        else:
            self.ca = _Issuer(loaded[0][0], loaded[1])

    def files(self, stem: str) -> tuple[FilePath[str], FilePath[str]]:
        return self.where.child(stem + ".pem"), self.where.child(stem + "-key.pem")

    def save(self, stem: str, chain: Chain, key: Any) -> None:
        certificate, keyFile = self.files(stem)
        _writeAtomically(keyFile, _keyPEM(key), 0o600)
        _writeAtomically(certificate, _pem(chain), 0o644)
        self.report(f"wrote {certificate.path}")

    def fresh(self, chain: Chain) -> bool:
        """
        Whether a chain's leaf is valid now and for L{RENEW_BEFORE} more.
        """
        leaf = chain[0]
        return (
            leaf.not_valid_before_utc <= self.now
            and self.now + RENEW_BEFORE < leaf.not_valid_after_utc
        )

    def fromCA(self, chain: Chain) -> bool:
        """
        Whether the scenario CA signed a chain's leaf.
        """
        return issuedBy(chain[0], self.ca.certificate)

    def kept(self, stem: str, still: Callable[[Chain], bool]) -> bool:
        """
        Whether C{stem}'s files exist and C{still} says they still produce
        their failure: then they are kept.
        """
        found = None if self.renewed else _load(*self.files(stem))
        if found is not None and still(found[0]):
            self.report(f"reusing {self.files(stem)[0].path}")
            return True
        return False

    def leaf(
        self,
        issuer: _Issuer | None,
        newKey: Callable[[], Any] = _newKey,
        start: datetime | None = None,
        end: datetime | None = None,
        names: list[x509.GeneralName] | None = None,
        usage: x509.ObjectIdentifier = ExtendedKeyUsageOID.SERVER_AUTH,
    ) -> tuple[x509.CertificateBuilder, Any]:
        """
        A leaf certificate's builder (for localhost unless C{names} says
        otherwise; self-signed without an C{issuer}) and its new key.
        """
        key = newKey()
        server = usage == ExtendedKeyUsageOID.SERVER_AUTH
        builder = _build(
            _name(SERVER_DNS_NAMES[0] if server else "echohub client"),
            key,
            issuer,
            self.now - BACKDATE if start is None else start,
            self.now + LEAF_LIFETIME if end is None else end,
            names=_localNames() if names is None else names,
            usage=usage,
        )
        return builder, key

    def signed(self, stem: str, still: Callable[[Chain], bool], **leaf: Any) -> None:
        """
        Keep C{stem}'s files while C{still} holds, else make a leaf signed
        by the scenario CA.
        """
        if not self.kept(stem, lambda chain: self.fromCA(chain) and still(chain)):
            builder, key = self.leaf(self.ca, **leaf)
            self.save(stem, [builder.sign(self.ca.key, hashes.SHA256())], key)

    def sha1(self) -> None:
        if not self.kept("sha1", lambda c: self.fromCA(c) and self.fresh(c)):
            builder, key = self.leaf(self.ca)
            self.save("sha1", [signSHA1(builder, self.ca)], key)

    def selfSigned(self) -> None:
        if not self.kept(
            "self-signed", lambda c: self.fresh(c) and c[0].issuer == c[0].subject
        ):
            builder, key = self.leaf(None)
            self.save("self-signed", [builder.sign(key, hashes.SHA256())], key)

    def untrustedRoot(self) -> None:
        if self.kept("untrusted-root", lambda c: self.fresh(c) and len(c) == 2):
            return
        rootKey = _newKey()
        root = _build(
            _name(f"echohub untrusted root {os.urandom(4).hex()}"),
            rootKey,
            None,
            self.now - BACKDATE,
            self.now + CA_LIFETIME,
            ca=True,
        ).sign(rootKey, hashes.SHA256())
        builder, key = self.leaf(_Issuer(root, rootKey))
        self.save("untrusted-root", [builder.sign(rootKey, hashes.SHA256()), root], key)
        _writeAtomically(self.where.child("untrusted-root-ca.pem"), _pem([root]), 0o644)

    def incompleteChain(self) -> None:
        middleFile = self.where.child("incomplete-chain-intermediate.pem")

        def still(chain: Chain) -> bool:
            try:
                middle = x509.load_pem_x509_certificate(middleFile.getContent())
            except (OSError, ValueError):
                return False
            return (
                self.fresh(chain)
                and issuedBy(middle, self.ca.certificate)
                and issuedBy(chain[0], middle)
            )

        if self.kept("incomplete-chain", still):
            return
        middleKey = _newKey()
        middle = _build(
            _name(f"echohub scenario intermediate {os.urandom(4).hex()}"),
            middleKey,
            self.ca,
            self.now - BACKDATE,
            self.now + CA_LIFETIME,
            ca=True,
        ).sign(self.ca.key, hashes.SHA256())
        builder, key = self.leaf(_Issuer(middle, middleKey))
        self.save("incomplete-chain", [builder.sign(middleKey, hashes.SHA256())], key)
        _writeAtomically(middleFile, _pem([middle]), 0o644)


def ensureScenarios(
    directory: FilePath[str] | str,
    *,
    now: datetime | None = None,
    report: Callable[[str], None] = lambda line: None,
) -> FilePath[str]:
    """
    Make sure C{directory}C{/scenarios} holds every scenario's files (see
    the module docstring), creating only what is missing or would no
    longer produce its failure: an expired certificate is kept while it is
    expired (for ever), a not-yet-valid one while its start is more than
    L{RENEW_BEFORE} away, every other one while it is valid for that long.

    @return: the scenarios directory.
    @raise OSError: a file cannot be written.
    """
    now = datetime.now(UTC) if now is None else now
    base = directory if isinstance(directory, FilePath) else FilePath(directory)
    where = base.child(SCENARIO_DIRECTORY)
    if not where.isdir():
        os.makedirs(where.path, mode=0o700)
    shop = _Workshop(where, now, report)
    expiredAt = now - EXPIRED_AGO
    shop.signed(
        "expired",
        lambda c: c[0].not_valid_after_utc < now,
        start=expiredAt - LEAF_LIFETIME,
        end=expiredAt,
    )
    begins = now + NOT_YET_VALID_IN
    shop.signed(
        "not-yet-valid",
        lambda c: c[0].not_valid_before_utc > now + RENEW_BEFORE,
        start=begins,
        end=begins + LEAF_LIFETIME,
    )
    shop.signed("wrong-host", shop.fresh, names=[x509.DNSName(WRONG_HOST)])
    for stem in ("client-cert-required", "tls-v1-0", "tls-v1-1"):
        shop.signed(stem, shop.fresh)
    shop.signed("client", shop.fresh, names=[], usage=ExtendedKeyUsageOID.CLIENT_AUTH)
    shop.signed(
        "weak-key",
        lambda c: shop.fresh(c) and _isWeak(c[0]),
        newKey=lambda: rsa.generate_private_key(65537, WEAK_KEY_BITS),
    )
    shop.sha1()
    shop.selfSigned()
    shop.untrustedRoot()
    shop.incompleteChain()
    return where


def scenarioListener(directory: str, name: str, port: int | str = 0) -> str:
    """
    The endpoint string of scenario C{name}'s listener on loopback, for
    the scenario files in C{directory} (the C{echohub-devcert} directory).
    """
    stem = os.path.join(directory, SCENARIO_DIRECTORY, name)
    parts = [
        f"ssl:{port}:interface=127.0.0.1",
        f"scenario={name}",
        f"privateKey={stem}-key.pem",
        f"certKey={stem}.pem",
    ]
    if SCENARIOS[name].clientCertificate:
        parts.append(
            f"clientCA={os.path.join(directory, SCENARIO_DIRECTORY, 'ca.pem')}"
        )
    return ":".join(parts)
