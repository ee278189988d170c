# -*- test-case-name: tests.tls.test_devcert -*-
"""
A local development certificate authority for echohub's TLS listeners.

Usage::

    echohub-devcert DIR [--client NAME]... [--scenarios]
    echohub-devcert client NAME [--dir DIR]       (DIR defaults to devcerts)

C{DIR} (created with mode 0700 if missing) receives:

  - C{ca.pem}, C{ca-key.pem}: a private CA (ECDSA P-256, 10 years);
  - C{server.pem}, C{server-key.pem}: a server certificate for C{localhost},
    C{127.0.0.1} and C{::1} (90 days, renewed when fewer than 30 are left),
    signed directly by that CA, so the chain in C{server.pem} is the leaf
    alone;
  - C{client-NAME.pem}, C{client-NAME-key.pem} for each C{--client NAME}: a
    client certificate (CN=NAME, extended key usage clientAuth) for mutual
    TLS, signed by the same CA;
  - C{trust/ca.pem}: a copy of the CA certificate, alone in its directory;
  - with C{--scenarios}, C{scenarios/}: the TLS failure scenarios'
    certificates (L{echohub.tls._scenarios}), and one line per scenario on
    stdout with the endpoint string that serves it.

Pass C{trust/} (not C{DIR}) as C{trustRoots=} to a C{tls:} client endpoint:
Twisted loads every C{*.pem} file in a C{trustRoots} directory as a
certificate and, in Twisted 26.10, a private key there makes
C{clientFromString} raise C{OpenSSL.crypto.Error} instead of being skipped.

The command is idempotent: a certificate that still verifies against the CA,
matches its key and does not expire within 30 days is reused, so running it
before every development server start is cheap and does not invalidate a CA a
developer has already trusted.  Only a missing, broken or expiring CA is
replaced, and then every certificate it signed is reissued.  Every file is
written atomically (temporary file, then C{os.replace}); keys are mode 0600.

One line per file written (or reused) goes to stdout; an error is one line on
stderr and exit status 1.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import re
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from twisted.python.filepath import FilePath

CA_LIFETIME = timedelta(days=3650)
# Under Mozilla's 366-day limit (sslyze checks it), and short enough that a
# development certificate is renewed as a matter of course.
LEAF_LIFETIME = timedelta(days=90)
RENEW_BEFORE = timedelta(days=30)
# Tolerate clocks that are a little behind the one that issued the cert.
BACKDATE = timedelta(minutes=5)
SERVER_DNS_NAMES = ("localhost",)
SERVER_IP_ADDRESSES = ("127.0.0.1", "::1")
TRUST_DIRECTORY = "trust"

# Client names become file names: no separators, no leading dot.
_CLIENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z")


class DevCertError(Exception):
    """
    The certificates cannot be created; the message is one line for the user.
    """


@dataclass(frozen=True)
class KeyPairPaths:
    """
    Where one certificate and its private key live.

    @ivar certificate: the PEM certificate.
    @ivar privateKey: the PEM (PKCS#8, unencrypted) private key.
    """

    certificate: FilePath[str]
    privateKey: FilePath[str]


@dataclass(frozen=True)
class DevCertificates:
    """
    The files L{ensureDevCertificates} guarantees to exist and be valid.

    @ivar directory: the directory holding everything.
    @ivar ca: the certificate authority.
    @ivar server: the server certificate for localhost.
    @ivar trustRoots: a directory holding only the CA certificate, suitable
        for C{trustRoots=} in a C{tls:} client endpoint string.
    @ivar clients: client certificates by name.
    """

    directory: FilePath[str]
    ca: KeyPairPaths
    server: KeyPairPaths
    trustRoots: FilePath[str]
    clients: Mapping[str, KeyPairPaths]


@dataclass(frozen=True)
class _Issuer:
    """
    A loaded CA that can sign certificates.
    """

    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey


def _writeAtomically(path: FilePath[str], data: bytes, mode: int) -> None:
    """
    Replace C{path} with C{data} so that no reader ever sees a partial file
    and a private key is never readable by others, even briefly.
    """
    fd, temporary = tempfile.mkstemp(dir=path.dirname(), prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), mode)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path.path)
    except BaseException:
        os.unlink(temporary)
        raise


def _keyPEM(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _certPEM(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def _load(paths: KeyPairPaths) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """
    Load a certificate and its key, checking that they belong together.

    @raise ValueError: if either is missing, unparsable or they do not match.
    """
    try:
        certificate = x509.load_pem_x509_certificate(paths.certificate.getContent())
        key = serialization.load_pem_private_key(
            paths.privateKey.getContent(), password=None
        )
    except (OSError, TypeError, UnsupportedAlgorithm) as e:
        raise ValueError(str(e)) from e
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError("not an EC key")
    if key.public_key() != certificate.public_key():
        raise ValueError("key does not match certificate")
    return certificate, key


def _isFresh(certificate: x509.Certificate, now: datetime) -> bool:
    """
    A certificate worth keeping is valid now and for at least L{RENEW_BEFORE}.
    """
    return (
        certificate.not_valid_before_utc <= now
        and now + RENEW_BEFORE < certificate.not_valid_after_utc
    )


def _issue(
    subject: x509.Name,
    issuer: _Issuer | None,
    extensions: Sequence[tuple[x509.ExtensionType, bool]],
    lifetime: timedelta,
    now: datetime,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """
    Create a key and a certificate for it.

    @param issuer: the signing CA, or L{None} for a self-signed CA.
    @param extensions: (extension, critical) pairs besides the key
        identifiers, which are always added.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    signingKey = key if issuer is None else issuer.key
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject if issuer is None else issuer.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + lifetime)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signingKey.public_key()),
            False,
        )
    )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical)
    return builder.sign(signingKey, hashes.SHA256()), key


def _leafKeyUsage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def _newCA(now: datetime) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    # A random suffix gives every development CA a distinct name, so a peer
    # with the wrong CA reports "unable to get issuer" rather than a
    # confusing signature failure from a same-named CA.
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "echohub"),
            x509.NameAttribute(
                NameOID.COMMON_NAME,
                f"echohub development CA {os.urandom(4).hex()}",
            ),
        ]
    )
    return _issue(
        name,
        None,
        [
            (x509.BasicConstraints(ca=True, path_length=0), True),
            (
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                True,
            ),
        ],
        CA_LIFETIME,
        now,
    )


def _newLeaf(
    issuer: _Issuer,
    commonName: str,
    usage: x509.ObjectIdentifier,
    alternativeNames: Sequence[x509.GeneralName],
    now: datetime,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    extensions: list[tuple[x509.ExtensionType, bool]] = [
        (x509.BasicConstraints(ca=False, path_length=None), True),
        (_leafKeyUsage(), True),
        (x509.ExtendedKeyUsage([usage]), False),
    ]
    if alternativeNames:
        extensions.append((x509.SubjectAlternativeName(alternativeNames), False))
    return _issue(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, commonName)]),
        issuer,
        extensions,
        LEAF_LIFETIME,
        now,
    )


def _serverAlternativeNames() -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = [x509.DNSName(n) for n in SERVER_DNS_NAMES]
    names.extend(x509.IPAddress(ipaddress.ip_address(a)) for a in SERVER_IP_ADDRESSES)
    return names


def ensureDevCertificates(
    directory: FilePath[str] | str,
    clients: Sequence[str] = (),
    *,
    now: datetime | None = None,
    report: Callable[[str], None] = lambda line: None,
) -> DevCertificates:
    """
    Make sure C{directory} holds a development CA, a localhost server
    certificate and the named client certificates, creating only what is
    missing, broken or about to expire.

    @param directory: where the files live; created (mode 0700) if missing.
    @param clients: names of client certificates to ensure.
    @param now: the current time, for tests; defaults to the clock.
    @param report: called with one line per file written or reused.

    @raise DevCertError: if a client name cannot be a file name.
    @raise OSError: if the directory or a file cannot be written.
    """
    for name in clients:
        if not _CLIENT_NAME.match(name):
            raise DevCertError(
                f"invalid client name {name!r}: use letters, digits, '.', '_'"
                " and '-', starting with a letter or digit"
            )
    now = datetime.now(UTC) if now is None else now
    base = directory if isinstance(directory, FilePath) else FilePath(directory)
    if not base.isdir():
        os.makedirs(base.path, mode=0o700)
        os.chmod(base.path, 0o700)
    trust = base.child(TRUST_DIRECTORY)
    if not trust.isdir():
        os.mkdir(trust.path, 0o700)

    def paths(stem: str) -> KeyPairPaths:
        return KeyPairPaths(base.child(stem + ".pem"), base.child(stem + "-key.pem"))

    def save(
        where: KeyPairPaths,
        certificate: x509.Certificate,
        key: ec.EllipticCurvePrivateKey,
    ) -> None:
        _writeAtomically(where.privateKey, _keyPEM(key), 0o600)
        report(f"wrote {where.privateKey.path}")
        _writeAtomically(where.certificate, _certPEM(certificate), 0o644)
        report(f"wrote {where.certificate.path}")

    caPaths = paths("ca")
    newCA = False
    try:
        caCert, caKey = _load(caPaths)
        if not _isFresh(caCert, now):
            raise ValueError("expiring")
    except ValueError:
        caCert, caKey = _newCA(now)
        save(caPaths, caCert, caKey)
        newCA = True
    else:
        report(f"reusing {caPaths.certificate.path}")
    issuer = _Issuer(caCert, caKey)

    trustCA = trust.child("ca.pem")
    if not trustCA.exists() or trustCA.getContent() != _certPEM(caCert):
        _writeAtomically(trustCA, _certPEM(caCert), 0o644)
        report(f"wrote {trustCA.path}")

    def ensureLeaf(
        stem: str,
        commonName: str,
        usage: x509.ObjectIdentifier,
        alternativeNames: Sequence[x509.GeneralName],
    ) -> KeyPairPaths:
        where = paths(stem)
        if not newCA:
            try:
                certificate, _ = _load(where)
                certificate.verify_directly_issued_by(caCert)
                if _isFresh(certificate, now):
                    report(f"reusing {where.certificate.path}")
                    return where
            except (ValueError, TypeError, InvalidSignature):
                pass
        save(where, *_newLeaf(issuer, commonName, usage, alternativeNames, now))
        return where

    server = ensureLeaf(
        "server",
        SERVER_DNS_NAMES[0],
        ExtendedKeyUsageOID.SERVER_AUTH,
        _serverAlternativeNames(),
    )
    clientPaths = {
        name: ensureLeaf(f"client-{name}", name, ExtendedKeyUsageOID.CLIENT_AUTH, [])
        for name in clients
    }
    return DevCertificates(base, caPaths, server, trust, clientPaths)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="echohub-devcert",
        description=(
            "Create (or reuse) a local development CA and a localhost server"
            " certificate signed by it, plus optional client certificates for"
            " mutual TLS. Point a tls: client endpoint's trustRoots= at"
            " DIR/trust, which holds only the CA certificate."
        ),
    )
    parser.add_argument(
        "directory",
        metavar="DIR",
        help="where to write ca.pem, ca-key.pem, server.pem, server-key.pem"
        " and trust/ca.pem (created with mode 0700 if missing)",
    )
    parser.add_argument(
        "--client",
        metavar="NAME",
        action="append",
        default=[],
        help="also ensure client-NAME.pem and client-NAME-key.pem (CN=NAME,"
        " clientAuth); may be repeated",
    )
    parser.add_argument(
        "--scenarios",
        action="store_true",
        help="also ensure the TLS failure scenarios' certificates in"
        " DIR/scenarios (expired, not-yet-valid, wrong-host, self-signed,"
        " untrusted-root, incomplete-chain, client-cert-required, weak-key,"
        " sha1, tls-v1-0, tls-v1-1) and print each one's endpoint string",
    )
    return parser


def _clientParser() -> argparse.ArgumentParser:
    """
    The C{echohub-devcert client NAME [--dir DIR]} form: one client
    certificate, in the directory C{make run} uses unless told otherwise.
    """
    parser = argparse.ArgumentParser(
        prog="echohub-devcert client",
        description="Issue a client certificate for mutual TLS from the dev CA.",
    )
    parser.add_argument("name", metavar="NAME", help="the certificate's CN")
    parser.add_argument(
        "--dir",
        dest="directory",
        metavar="DIR",
        default="devcerts",
        help="the development CA's directory [default: devcerts]",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """
    The C{echohub-devcert} command.  It returns the exit status rather than
    exiting so tests can call it in-process; the console-script wrapper
    passes the status to C{sys.exit}.

    @param argv: the arguments after the program name; defaults to
        C{sys.argv[1:]}.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["client"]:
        options = _clientParser().parse_args(argv[1:])
        options.client = [options.name]
    else:
        options = _parser().parse_args(argv)
    try:
        ensureDevCertificates(
            options.directory, options.client, report=lambda line: print(line)
        )
        if getattr(options, "scenarios", False):
            from echohub.tls._scenarios import (
                SCENARIOS,
                ensureScenarios,
                scenarioListener,
            )

            ensureScenarios(options.directory, report=lambda line: print(line))
            for name in SCENARIOS:
                print(f"scenario {name}: {scenarioListener(options.directory, name)}")
    except (OSError, DevCertError) as e:
        print(f"echohub-devcert: {options.directory}: {e}", file=sys.stderr)
        return 1
    return 0
