"""
Tests for L{echohub.tls._scenarios}: the TLS failure scenarios' certificates,
made per install, and the listeners' policy for them.  Each scenario's
failure as clients see it is tested end to end (C{tests/e2e/test_faults.py}).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from twisted.trial.unittest import SynchronousTestCase

from echohub.config import ConfigError
from echohub.endpoints import parseListener, parseTLSOptions
from echohub.testing import temporaryDirectory
from echohub.tls import SCENARIOS, ensureScenarios, scenarioListener
from echohub.tls._context import ListenerTLS, buildContext
from echohub.tls._scenarios import WRONG_HOST, issuedBy
from echohub.web._tree import loadPage, scenarioPage

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def chain(directory: str, name: str) -> list[x509.Certificate]:
    with open(f"{directory}/scenarios/{name}.pem", "rb") as f:
        return x509.load_pem_x509_certificates(f.read())


class ScenarioFilesTests(SynchronousTestCase):
    """
    C{ensureScenarios} makes every scenario's files, each producing its
    failure, and keeps them producing it.
    """

    def setUp(self) -> None:
        self.directory = str(temporaryDirectory(self))
        self.lines: list[str] = []
        ensureScenarios(self.directory, now=NOW, report=self.lines.append)

    def test_everyScenarioServes(self) -> None:
        """
        Every scenario's files make a context with the scenario's policy
        (security level 0 where it needs it: an RSA-1024 key, SHA-1).
        """
        for name in SCENARIOS:
            stem = f"{self.directory}/scenarios/{name}"
            buildContext(ListenerTLS(f"{stem}-key.pem", f"{stem}.pem", scenario=name))

    def test_failures(self) -> None:
        """
        Each certificate has the defect its name says.
        """
        ca = chain(self.directory, "ca")[0]
        expired = chain(self.directory, "expired")[0]
        self.assertLess(expired.not_valid_after_utc, NOW)
        expired.verify_directly_issued_by(ca)
        self.assertGreater(
            chain(self.directory, "not-yet-valid")[0].not_valid_before_utc,
            NOW + timedelta(days=3000),
        )
        names = chain(self.directory, "wrong-host")[
            0
        ].extensions.get_extension_for_class(x509.SubjectAlternativeName)
        self.assertEqual(names.value.get_values_for_type(x509.DNSName), [WRONG_HOST])
        selfSigned = chain(self.directory, "self-signed")[0]
        self.assertEqual(selfSigned.issuer, selfSigned.subject)
        leaf, root = chain(self.directory, "untrusted-root")
        leaf.verify_directly_issued_by(root)
        self.assertNotEqual(root.subject, ca.subject)
        [incomplete] = chain(self.directory, "incomplete-chain")
        self.assertRaises(ValueError, incomplete.verify_directly_issued_by, ca)
        self.assertEqual(
            chain(self.directory, "weak-key")[0].public_key().key_size, 1024
        )  # type: ignore[union-attr]
        sha1 = chain(self.directory, "sha1")[0]
        self.assertIsInstance(sha1.signature_hash_algorithm, hashes.SHA1)
        self.assertTrue(issuedBy(sha1, ca))
        self.assertFalse(issuedBy(sha1, root))

    def test_expiredStaysExpired(self) -> None:
        """
        Run again later, the expired certificate is kept, still expired,
        and nothing valid is renewed needlessly.
        """
        before = chain(self.directory, "expired")[0]
        lines: list[str] = []
        ensureScenarios(
            self.directory, now=NOW + timedelta(days=20), report=lines.append
        )
        self.assertEqual(chain(self.directory, "expired")[0], before)
        self.assertFalse([line for line in lines if line.startswith("wrote")], lines)

    def test_notYetValidReissued(self) -> None:
        """
        A not-yet-valid certificate about to become valid is reissued,
        starting later again.
        """
        later = chain(self.directory, "not-yet-valid")[
            0
        ].not_valid_before_utc - timedelta(days=1)
        ensureScenarios(self.directory, now=later)
        self.assertGreater(
            chain(self.directory, "not-yet-valid")[0].not_valid_before_utc,
            later + timedelta(days=3000),
        )

    def test_perInstall(self) -> None:
        """
        Two installs share no key.
        """
        other = str(temporaryDirectory(self))
        ensureScenarios(other, now=NOW)
        for name in SCENARIOS:
            with open(f"{self.directory}/scenarios/{name}-key.pem", "rb") as a:
                with open(f"{other}/scenarios/{name}-key.pem", "rb") as b:
                    self.assertNotEqual(a.read(), b.read())


class ListenerTests(SynchronousTestCase):
    """
    C{scenario=} on an endpoint string.
    """

    def test_unknown(self) -> None:
        """
        An unknown scenario is named in the error.
        """
        with self.assertRaises(ValueError) as caught:
            parseTLSOptions({"scenario": "nope"})
        self.assertIn("scenario", str(caught.exception))

    def test_clientCertificateNeedsCA(self) -> None:
        """
        client-cert-required needs the CA to check clients with.
        """
        self.assertRaises(
            ValueError, parseTLSOptions, {"scenario": "client-cert-required"}
        )

    def test_listener(self) -> None:
        """
        A scenario listener's string parses into a listener that knows its
        scenario.
        """
        directory = str(temporaryDirectory(self))
        ensureScenarios(directory)
        from twisted.internet.testing import MemoryReactorClock

        for name in SCENARIOS:
            listener = parseListener(
                MemoryReactorClock(), scenarioListener(directory, name)
            )
            self.assertEqual(listener.scenario, name)
        self.assertRaises(
            ConfigError,
            parseListener,
            MemoryReactorClock(),
            "ssl:0:scenario=expired:privateKey=/nonexistent",
        )

    def test_page(self) -> None:
        """
        The listener's page says which failure it is meant to produce.
        """
        page = scenarioPage(loadPage(), "expired")
        self.assertIn(b"TLS scenario expired", page)
        self.assertIn(SCENARIOS["expired"].expect.encode(), page)
