"""
Tests for L{echohub._upstream._pyopenssl}: each use of a private pyOpenSSL
name still does what echohub relies on.  These fail loudly when an upgrade
changes one: none of them may skip or fall back.
"""

from __future__ import annotations

from typing import Any

from OpenSSL import SSL
from twisted.trial.unittest import SynchronousTestCase

from echohub._upstream import _pyopenssl as _upstream
from echohub.testing import temporaryDirectory
from echohub.tls import ensureDevCertificates


class OpenSSLTests(SynchronousTestCase):
    """
    The OpenSSL calls made through pyOpenSSL's private C{_util}.
    """

    def test_setGroups(self) -> None:
        """
        Known groups are accepted, an unknown one refused.
        """
        context = SSL.Context(SSL.TLS_METHOD)
        self.assertTrue(_upstream.setGroups(context, b"X25519:P-256:P-384"))
        self.assertFalse(_upstream.setGroups(context, b"no-such-group"))

    def test_verifyErrorString(self) -> None:
        """
        OpenSSL's texts for verification results.
        """
        self.assertEqual(_upstream.verifyErrorString(0), "ok")
        self.assertEqual(_upstream.verifyErrorString(10), "certificate has expired")

    def test_verifyResult(self) -> None:
        """
        A connection that verified nothing reports C{X509_V_OK} (0).
        """
        connection = SSL.Connection(SSL.Context(SSL.TLS_METHOD), None)
        self.assertEqual(_upstream.verifyResult(connection), 0)


class RecordConnectionTests(SynchronousTestCase):
    """
    L{_upstream.RecordConnection} gives what pyOpenSSL's C{Connection}
    gives, for every outcome, with fewer steps.
    """

    def test_mirrorsThisPyOpenSSL(self) -> None:
        """
        pyOpenSSL's C{recv}, C{send}, C{bio_read} and C{bio_write} are the
        ones mirrored (by the SHA-256 of their source): a release that
        changes them fails here, and echohub then makes plain connections.
        """
        self.assertIsNone(_upstream.recordConnectionUnavailable())
        context = SSL.Context(SSL.TLS_METHOD)
        self.assertIsInstance(
            _upstream.newServerConnection(context), _upstream.RecordConnection
        )

    def pair(self, kind: type[SSL.Connection]) -> tuple[SSL.Connection, SSL.Connection]:
        certs = ensureDevCertificates(str(temporaryDirectory(self) / "certs"))
        serverContext = SSL.Context(SSL.TLS_METHOD)
        serverContext.use_certificate_file(certs.server.certificate.path)
        serverContext.use_privatekey_file(certs.server.privateKey.path)
        server = kind(serverContext, None)
        server.set_accept_state()
        client = SSL.Connection(SSL.Context(SSL.TLS_METHOD), None)
        client.set_connect_state()
        for _ in range(10):
            for end in (client, server):
                try:
                    end.do_handshake()
                except SSL.WantReadError:
                    pass
            for a, b in ((client, server), (server, client)):
                try:
                    b.bio_write(a.bio_read(65536))
                except SSL.WantReadError:
                    pass
        return server, client

    def outcomes(self, kind: type[SSL.Connection]) -> list[object]:
        """
        Every outcome of the data calls on a server connection of C{kind}:
        results, and the types and texts of exceptions.
        """
        server, client = self.pair(kind)
        seen: list[object] = []

        def attempt(call: Any, *args: Any) -> None:
            try:
                seen.append(call(*args))
            except SSL.Error as e:
                seen.append((type(e), str(e)))

        attempt(server.recv, 1024)
        attempt(server.bio_read, 1024)
        client.send(b"hello " * 100)
        record = client.bio_read(65536)
        attempt(server.bio_write, memoryview(bytearray(record))[:10])
        attempt(server.bio_write, record[10:])
        attempt(server.recv, 7)
        attempt(server.recv, 65536)
        attempt(server.recv, 65536)
        attempt(server.send, b"echo")
        seen.append(len(server.bio_read(65536)))
        client.shutdown()
        server.bio_write(client.bio_read(65536))
        attempt(server.recv, 1024)
        broken, _ = self.pair(kind)
        attempt(broken.bio_write, b"\x17\x03\x03\x00\x05junk!")
        attempt(broken.recv, 1024)
        return seen

    def test_sameOutcomes(self) -> None:
        """
        Data, C{WantReadError}, C{ZeroReturnError} after C{close_notify}, a
        bad record's C{Error}: the same as pyOpenSSL's, call for call.
        """
        mirrored = self.outcomes(_upstream.RecordConnection)
        self.assertEqual(mirrored, self.outcomes(SSL.Connection))
        self.assertIn(b"hello hello", [o for o in mirrored if isinstance(o, bytes)][1])

    def test_readersWithoutExceptions(self) -> None:
        """
        C{readDecrypted} and C{readCiphertext} answer L{None} where C{recv}
        and C{bio_read} raise C{WantReadError}, and raise the rest alike.
        """
        server, client = self.pair(_upstream.RecordConnection)
        assert isinstance(server, _upstream.RecordConnection)
        self.assertIsNone(server.readDecrypted(1024))
        self.assertIsNone(server.readCiphertext(1024))
        client.send(b"ping")
        server.bio_write(client.bio_read(65536))
        self.assertEqual(server.readDecrypted(1024), b"ping")
        server.send(b"pong")
        client.bio_write(server.readCiphertext(65536))
        self.assertEqual(client.recv(1024), b"pong")
        client.shutdown()
        server.bio_write(client.bio_read(65536))
        self.assertRaises(SSL.ZeroReturnError, server.readDecrypted, 1024)
