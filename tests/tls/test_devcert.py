# -*- test-case-name: tests.tls.test_devcert -*-
"""
Tests for L{echohub.tls._devcert}.
"""

from __future__ import annotations

import io
import ipaddress
import os
import stat
from contextlib import redirect_stderr, redirect_stdout
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import PolicyBuilder, Store
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase

from echohub.testing import temporaryPath
from echohub.tls._devcert import DevCertError, ensureDevCertificates, main


def _cert(path: FilePath[str]) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.getContent())


def _mode(path: FilePath[str]) -> int:
    return stat.S_IMODE(os.stat(path.path).st_mode)


def _snapshot(directory: FilePath[str]) -> dict[str, tuple[bytes, float]]:
    return {
        child.path: (child.getContent(), child.getModificationTime())
        for child in directory.walk()
        if child.isfile()
    }


def _runMain(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        status = main(argv)
    return status, out.getvalue(), err.getvalue()


class EnsureDevCertificatesTests(SynchronousTestCase):
    """
    Tests for L{ensureDevCertificates}.
    """

    def setUp(self) -> None:
        self.directory = temporaryPath(self)

    def test_filesAndModes(self) -> None:
        """
        A missing directory is created with mode 0700; keys are 0600 and
        certificates 0644, at the documented names.
        """
        paths = ensureDevCertificates(self.directory)
        self.assertEqual(_mode(self.directory), 0o700)
        self.assertEqual(paths.ca.certificate, self.directory.child("ca.pem"))
        self.assertEqual(paths.ca.privateKey, self.directory.child("ca-key.pem"))
        self.assertEqual(paths.server.certificate, self.directory.child("server.pem"))
        self.assertEqual(
            paths.server.privateKey, self.directory.child("server-key.pem")
        )
        for keyPair in (paths.ca, paths.server):
            self.assertEqual(_mode(keyPair.privateKey), 0o600)
            self.assertEqual(_mode(keyPair.certificate), 0o644)
        self.assertEqual(
            sorted(c.basename() for c in self.directory.children()),
            ["ca-key.pem", "ca.pem", "server-key.pem", "server.pem", "trust"],
        )

    def test_serverVerifiesAgainstCA(self) -> None:
        """
        The server certificate chains to the CA under a web PKI policy for
        localhost, 127.0.0.1 and ::1, and C{server.pem} holds the leaf only.
        """
        paths = ensureDevCertificates(self.directory)
        ca = _cert(paths.ca.certificate)
        serverPEM = paths.server.certificate.getContent()
        self.assertEqual(serverPEM.count(b"BEGIN CERTIFICATE"), 1)
        server = x509.load_pem_x509_certificate(serverPEM)
        builder = PolicyBuilder().store(Store([ca]))
        for subject in (
            x509.DNSName("localhost"),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            x509.IPAddress(ipaddress.ip_address("::1")),
        ):
            chain = builder.build_server_verifier(subject).verify(server, [])
            self.assertEqual(chain, [server, ca])

    def test_serverExtensions(self) -> None:
        """
        The leaf is CN=localhost, not a CA, for serverAuth, with exactly the
        three loopback names; the CA is a pathlen-0 CA that signs only
        certificates and CRLs.
        """
        paths = ensureDevCertificates(self.directory)
        server = _cert(paths.server.certificate)
        ca = _cert(paths.ca.certificate)
        self.assertEqual(
            server.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value,
            "localhost",
        )
        san = server.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        self.assertEqual(san.value.get_values_for_type(x509.DNSName), ["localhost"])
        self.assertEqual(
            san.value.get_values_for_type(x509.IPAddress),
            [ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")],
        )
        self.assertEqual(
            list(
                server.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
            ),
            [ExtendedKeyUsageOID.SERVER_AUTH],
        )
        self.assertFalse(
            server.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        )
        constraints = ca.extensions.get_extension_for_class(x509.BasicConstraints)
        self.assertEqual(
            (constraints.value.ca, constraints.value.path_length), (True, 0)
        )
        usage = ca.extensions.get_extension_for_class(x509.KeyUsage).value
        self.assertEqual(
            (usage.key_cert_sign, usage.crl_sign, usage.digital_signature),
            (True, True, False),
        )
        lifetime = server.not_valid_after_utc - server.not_valid_before_utc
        self.assertGreater(lifetime, timedelta(days=90))
        self.assertLess(lifetime, timedelta(days=91))
        self.assertLess(server.not_valid_before_utc, datetime.now(UTC))

    def test_secondRunChangesNothing(self) -> None:
        """
        With valid certificates present, a second run rewrites no file and
        reports that it reuses them.
        """
        ensureDevCertificates(self.directory, ["alice"])
        before = _snapshot(self.directory)
        reported: list[str] = []
        ensureDevCertificates(self.directory, ["alice"], report=reported.append)
        self.assertEqual(_snapshot(self.directory), before)
        self.assertEqual(len(reported), 3)
        self.assertTrue(all(line.startswith("reusing ") for line in reported))

    def test_expiringServerReissuedFromSameCA(self) -> None:
        """
        A server certificate within 30 days of expiry is replaced by one
        signed by the same, unchanged CA.
        """
        paths = ensureDevCertificates(self.directory)
        caBefore = paths.ca.certificate.getContent()
        serverBefore = _cert(paths.server.certificate)
        later = serverBefore.not_valid_after_utc - timedelta(days=10)
        ensureDevCertificates(self.directory, now=later)
        self.assertEqual(paths.ca.certificate.getContent(), caBefore)
        serverAfter = _cert(paths.server.certificate)
        self.assertNotEqual(serverAfter.serial_number, serverBefore.serial_number)
        serverAfter.verify_directly_issued_by(_cert(paths.ca.certificate))

    def test_missingServerReissued(self) -> None:
        """
        A deleted server key makes the next run issue a new server
        certificate and key from the existing CA.
        """
        paths = ensureDevCertificates(self.directory)
        caBefore = paths.ca.certificate.getContent()
        paths.server.privateKey.remove()
        reported: list[str] = []
        ensureDevCertificates(self.directory, report=reported.append)
        self.assertTrue(paths.server.privateKey.exists())
        self.assertEqual(paths.ca.certificate.getContent(), caBefore)
        self.assertIn(f"wrote {paths.server.certificate.path}", reported)

    def test_clientCertificate(self) -> None:
        """
        A client certificate is CN=NAME for clientAuth, signed by the same CA
        as the server certificate, with its key mode 0600.
        """
        paths = ensureDevCertificates(self.directory, ["alice"])
        alice = paths.clients["alice"]
        self.assertEqual(alice.certificate, self.directory.child("client-alice.pem"))
        self.assertEqual(_mode(alice.privateKey), 0o600)
        certificate = _cert(alice.certificate)
        certificate.verify_directly_issued_by(_cert(paths.ca.certificate))
        self.assertEqual(
            list(
                certificate.extensions.get_extension_for_class(
                    x509.ExtendedKeyUsage
                ).value
            ),
            [ExtendedKeyUsageOID.CLIENT_AUTH],
        )
        self.assertEqual(
            certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value,
            "alice",
        )

    def test_badClientName(self) -> None:
        """
        A client name that could escape the directory is refused before
        anything is written.
        """
        self.assertRaises(
            DevCertError, ensureDevCertificates, self.directory, ["../evil"]
        )
        self.assertFalse(self.directory.exists())

    def test_trustDirectoryHoldsOnlyTheCA(self) -> None:
        """
        C{trust/} holds a copy of the CA certificate and nothing else, so it
        works as C{trustRoots=} (Twisted 26.10 fails on a key file there).
        """
        paths = ensureDevCertificates(self.directory)
        self.assertEqual(paths.trustRoots, self.directory.child("trust"))
        self.assertEqual(
            [child.basename() for child in paths.trustRoots.children()], ["ca.pem"]
        )
        self.assertEqual(
            paths.trustRoots.child("ca.pem").getContent(),
            paths.ca.certificate.getContent(),
        )


class MainTests(SynchronousTestCase):
    """
    Tests for the C{echohub-devcert} command line, L{main}.
    """

    def test_printsOneLinePerFile(self) -> None:
        """
        The first run prints one line per file written and exits 0.
        """
        directory = temporaryPath(self)
        status, out, err = _runMain([directory.path, "--client", "bob"])
        self.assertEqual((status, err), (0, ""))
        written = sorted(line.split(" ", 1)[1] for line in out.splitlines())
        expected = sorted(
            directory.child(name).path
            for name in (
                "ca.pem",
                "ca-key.pem",
                "server.pem",
                "server-key.pem",
                "client-bob.pem",
                "client-bob-key.pem",
            )
        ) + [directory.child("trust").child("ca.pem").path]
        self.assertEqual(written, sorted(expected))

    def test_directoryIsAFile(self) -> None:
        """
        A DIR that is a regular file gives exit status 1 and one line on
        stderr naming it.
        """
        path = temporaryPath(self)
        path.setContent(b"not a directory")
        status, out, err = _runMain([path.path])
        self.assertEqual(status, 1)
        self.assertEqual(out, "")
        self.assertEqual(len(err.splitlines()), 1)
        self.assertIn(path.path, err)

    def test_directoryUnderAFile(self) -> None:
        """
        A DIR that cannot be created (its parent is a file) gives exit status
        1 and one line on stderr.
        """
        parent = temporaryPath(self)
        parent.setContent(b"")
        status, out, err = _runMain([parent.child("certs").path])
        self.assertEqual(status, 1)
        self.assertEqual(len(err.splitlines()), 1)
        self.assertTrue(err.startswith("echohub-devcert: "))

    def test_clientSubcommand(self) -> None:
        """
        C{echohub-devcert client NAME --dir DIR} issues that client's
        certificate from the CA in DIR, creating the CA if needed.
        """
        directory = temporaryPath(self)
        status, out, err = _runMain(["client", "carol", "--dir", directory.path])
        self.assertEqual((status, err), (0, ""))
        self.assertTrue(directory.child("client-carol.pem").exists())
        self.assertTrue(directory.child("client-carol-key.pem").exists())
        self.assertTrue(directory.child("ca.pem").exists())
