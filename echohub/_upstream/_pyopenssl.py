# -*- test-case-name: tests.upstream.test_pyopenssl -*-
"""
pyOpenSSL's private names that echohub uses (its cffi binding to OpenSSL,
C{OpenSSL._util}, and the private state of its C{Connection} and
C{Context}), each behind one function or class: why no public API serves,
and what would replace it.
"""

from __future__ import annotations

from typing import Any

from OpenSSL import SSL, _util

from echohub._upstream._pins import sourceChanged


def setGroups(context: SSL.Context, groups: bytes) -> bool:
    """
    Set the key exchange groups a TLS context offers, e.g.
    C{b"X25519:prime256v1:secp384r1"}.

    Why: pyOpenSSL has no API for the groups (only C{set_tmp_ecdh}, one
    curve), so this calls OpenSSL's C{SSL_CTX_set1_curves_list} (the older
    name of C{SSL_CTX_set1_groups_list}) through pyOpenSSL's private
    C{_util.lib} on the private C{Context._context}.  A pyOpenSSL
    C{Context.set_groups} would replace it.

    @return: whether OpenSSL accepted every group.
    """
    return bool(_util.lib.SSL_CTX_set1_curves_list(context._context, groups) == 1)


def verifyErrorString(code: int) -> str:
    """
    OpenSSL's text for a certificate verification result code, e.g.
    C{"certificate has expired"} for 10.

    Why: pyOpenSSL exposes no table of these texts
    (C{X509_verify_cert_error_string}); it is called through the private
    C{_util.lib} and C{_util.ffi}.  A pyOpenSSL function for it would
    replace this.
    """
    text = _util.lib.X509_verify_cert_error_string(code)
    return str(_util.ffi.string(text).decode("ascii", "replace")) if text else str(code)


def verifyResult(connection: SSL.Connection) -> int:
    """
    The verification result of the peer's certificate on C{connection}
    (0: verified), as OpenSSL recorded it.

    Why: pyOpenSSL has no C{Connection.get_verify_result}; this calls
    C{SSL_get_verify_result} through the private C{_util.lib} on the
    private C{Connection._ssl}.  A pyOpenSSL method would replace it.
    """
    return int(_util.lib.SSL_get_verify_result(connection._ssl))


_CONNECTION_METHODS = ("recv", "send", "bio_read", "bio_write")

PYOPENSSL_IO_SHA256 = "4ce21edd4d7278228229a66cb654176d1181b320f7825d2474c8dd81f1d9e253"
"""
The SHA-256 of the sources of pyOpenSSL's (26.4) C{Connection.recv},
C{send}, C{bio_read} and C{bio_write}, which L{RecordConnection} mirrors.
"""

_RECORD_SIZE = 2**16
_recordBuffer = _util.ffi.new("char[]", _RECORD_SIZE)
"""
Where L{RecordConnection} has OpenSSL put what it reads: allocated once,
as every connection is used by the reactor thread alone.
"""


def recordConnectionUnavailable() -> str | None:
    """
    Why L{newServerConnection} would make plain pyOpenSSL connections, or
    L{None} when it makes L{RecordConnection}s.
    """
    why = sourceChanged(
        PYOPENSSL_IO_SHA256,
        *(getattr(SSL.Connection, name) for name in _CONNECTION_METHODS),
    )
    return None if why is None else f"pyOpenSSL's Connection I/O: {why}"


class RecordConnection(SSL.Connection):
    """
    A pyOpenSSL memory-BIO connection whose four data calls (C{recv},
    C{send}, C{bio_read}, C{bio_write}) go straight to OpenSSL.

    Why: pyOpenSSL wraps each OpenSSL call in Python that costs more than
    the call: C{recv} allocates a fresh buffer, every call checks the
    context's callback helpers and classifies the result.  For one read of
    sixteen 64-byte lines (decrypt, echo, encrypt) that was 30 us against
    10 us for the same OpenSSL calls made directly (and 11 us for the
    standard library's C{ssl}, which asyncio uses).  These methods make the
    call themselves, through pyOpenSSL's private cffi binding
    (C{OpenSSL._util.lib}, C{ffi}) on its private C{_ssl}, C{_into_ssl} and
    C{_from_ssl}, and hand any result that is not a success to pyOpenSSL's
    own private C{_raise_ssl_error} or C{_handle_bio_errors}: the same
    exceptions, from the same code.  What they leave out is the check of
    the context's callback helpers (verification, ALPN, OCSP) on success:
    those callbacks run during the handshake, which goes through
    pyOpenSSL unchanged.  Public C{recv_into}-style calls without the
    allocation, upstream, would replace this.
    """

    def recv(self, bufsiz: int, flags: int | None = None) -> bytes:
        """
        As pyOpenSSL's, read decrypted bytes (a C{MSG_PEEK} or an oversized
        read takes pyOpenSSL's own path).
        """
        if flags is not None or bufsiz > _RECORD_SIZE:
            return super().recv(bufsiz, flags)
        data = self.readDecrypted(bufsiz)
        if data is None:
            raise SSL.WantReadError()
        return data

    read = recv

    def send(self, buf: Any, flags: int = 0) -> int:
        """
        As pyOpenSSL's, encrypt C{buf} (anything but C{bytes} takes
        pyOpenSSL's own path).
        """
        if type(buf) is not bytes:
            return super().send(buf, flags)
        result: int = _util.lib.SSL_write(self._ssl, buf, len(buf))
        if result <= 0:
            self._raise_ssl_error(self._ssl, result)
        return result

    write = send

    def bio_read(self, bufsiz: int) -> bytes:
        """
        As pyOpenSSL's, take encrypted bytes from the outgoing memory BIO.
        """
        if self._from_ssl is None or type(bufsiz) is not int or bufsiz > _RECORD_SIZE:
            return super().bio_read(bufsiz)
        data = self.readCiphertext(bufsiz)
        if data is None:
            raise SSL.WantReadError()
        return data

    def readDecrypted(self, bufsiz: int) -> bytes | None:
        """
        L{recv}, but L{None} instead of C{WantReadError} when nothing is
        ready: the loop that reads until then ends without an exception.
        """
        result = _util.lib.SSL_read(self._ssl, _recordBuffer, bufsiz)
        if result > 0:
            data: bytes = _util.ffi.buffer(_recordBuffer, result)[:]
            return data
        if _util.lib.SSL_get_error(self._ssl, result) == _util.lib.SSL_ERROR_WANT_READ:
            return None
        self._raise_ssl_error(self._ssl, result)
        return b""

    def readCiphertext(self, bufsiz: int) -> bytes | None:
        """
        L{bio_read}, but L{None} instead of C{WantReadError} when the BIO
        is empty.
        """
        bio = self._from_ssl
        result = _util.lib.BIO_read(bio, _recordBuffer, bufsiz)
        if result > 0:
            data: bytes = _util.ffi.buffer(_recordBuffer, result)[:]
            return data
        if _util.lib.BIO_should_retry(bio) and _util.lib.BIO_should_read(bio):
            return None
        self._handle_bio_errors(bio, result)

    def bio_write(self, buf: Any) -> int:
        """
        As pyOpenSSL's, put received bytes (C{bytes} or a memoryview) into
        the incoming memory BIO.
        """
        if self._into_ssl is None or isinstance(buf, str):
            return super().bio_write(buf)
        data = buf if type(buf) is bytes else _util.ffi.from_buffer(buf)
        result: int = _util.lib.BIO_write(self._into_ssl, data, len(buf))
        if result <= 0:
            self._handle_bio_errors(self._into_ssl, result)
        return result


RECORD_CONNECTION_UNAVAILABLE = recordConnectionUnavailable()
"""
Why this pyOpenSSL gets plain connections, or L{None}: checked once, at
import.
"""


def newServerConnection(context: SSL.Context) -> SSL.Connection:
    """
    A memory-BIO server connection on C{context}: a L{RecordConnection}
    when pyOpenSSL's I/O is the one it mirrors, else pyOpenSSL's own (and
    C{tests.test_upstream} fails).
    """
    if RECORD_CONNECTION_UNAVAILABLE is None:
        return RecordConnection(context, None)
    return SSL.Connection(context, None)
