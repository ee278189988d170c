# -*- test-case-name: tests.test_tls -*-
"""
TLS for echohub's listeners: C{ssl:} endpoint strings, built by echohub.

Twisted's own C{ssl:} parser would serve, but it reports a missing file or a
key that does not match its certificate as a raw exception (the mismatch only
when the first client connects), and it gives echohub no place to put its TLS
policy.  So echohub reads C{ssl:} strings itself, with the same syntax::

    ssl:PORT[:interface=ADDR][:backlog=N]:privateKey=KEY.pem[:certKey=CERT.pem]
        [:extraCertChain=CHAIN.pem]

and listens with L{twisted.internet.endpoints.wrapServerTLS} over a TCP
endpoint, with a L{twisted.internet.ssl.CertificateOptions} whose key and
certificate were checked at start-up.
"""

from __future__ import annotations

from typing import Any

from OpenSSL import SSL, crypto

from twisted.internet import endpoints, ssl
from twisted.internet.interfaces import IReactorTCP, IStreamServerEndpoint


class TLSConfigError(Exception):
    """
    A TLS listener cannot be built; the message names the file and the cause.
    """


def _read(path: str, what: str) -> bytes:
    """
    Read one PEM file, naming it and its role in any error.
    """
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        raise TLSConfigError(f"{what} file {path!r} does not exist") from None
    except OSError as e:
        raise TLSConfigError(f"{what} file {path!r} cannot be read: {e.strerror}") from None


def _certificates(path: str, what: str) -> list[crypto.X509]:
    """
    Load every certificate in a PEM file, in order.
    """
    pem = _read(path, what)
    marker = b"-----BEGIN CERTIFICATE-----"
    blocks = [marker + block for block in pem.split(marker)[1:]]
    try:
        certificates = [crypto.load_certificate(crypto.FILETYPE_PEM, b) for b in blocks]
    except crypto.Error:
        certificates = []
    if not certificates:
        raise TLSConfigError(f"{what} file {path!r} holds no valid PEM certificate")
    return certificates


def loadCertificateOptions(
    privateKey: str, certKey: str | None = None, extraCertChain: str | None = None
) -> ssl.CertificateOptions:
    """
    Build the TLS options of one listener from its PEM files.

    The certificate file may hold the chain after the leaf; C{extraCertChain}
    adds more.  The root of the chain is best left out: clients have it.

    @raise TLSConfigError: a file is missing, unreadable or not PEM, or the
        key does not belong to the certificate.
    """
    certPath = certKey or privateKey
    chain = _certificates(certPath, "certificate")
    if extraCertChain is not None:
        chain += _certificates(extraCertChain, "extraCertChain")
    try:
        key = crypto.load_privatekey(crypto.FILETYPE_PEM, _read(privateKey, "private key"))
    except crypto.Error:
        raise TLSConfigError(
            f"private key file {privateKey!r} holds no valid PEM private key"
        ) from None
    options = ssl.CertificateOptions(
        privateKey=key,
        certificate=chain[0],
        extraCertChain=chain[1:],
        raiseMinimumTo=ssl.TLSVersion.TLSv1_2,
    )
    try:
        options.getContext()
    except SSL.Error:
        raise TLSConfigError(
            f"private key {privateKey!r} does not match certificate {certPath!r}"
        ) from None
    return options


SSL_OPTIONS = frozenset(
    {"privateKey", "certKey", "extraCertChain", "interface", "backlog"}
)


def _sslServer(
    reactor: IReactorTCP,
    port: str,
    privateKey: str = "server.pem",
    certKey: str | None = None,
    extraCertChain: str | None = None,
    interface: str = "",
    backlog: str = "50",
) -> IStreamServerEndpoint:
    """
    Build an C{ssl:} listener from its string arguments, which are named as
    in Twisted's own parser (L{SSL_OPTIONS}).
    """
    options = loadCertificateOptions(privateKey, certKey, extraCertChain)
    tcp = endpoints.TCP4ServerEndpoint(reactor, int(port), int(backlog), interface)
    return endpoints.wrapServerTLS(options, tcp)


def sslServerEndpoint(reactor: IReactorTCP, description: str) -> IStreamServerEndpoint:
    """
    Build the endpoint an C{ssl:} description string names.

    The string is split by Twisted's own endpoint-string tokenizer, so
    quoting and escaping (C{\\:}) behave exactly as in L{serverFromString}.

    @raise TLSConfigError: for a file problem.
    @raise ValueError: for a malformed string.
    """
    args: list[str]
    kwargs: dict[str, Any]
    args, kwargs = endpoints._parse(description)
    if len(args) != 2:
        raise ValueError("expected ssl:PORT followed by key=value options")
    unknown = sorted(set(kwargs) - SSL_OPTIONS)
    if unknown:
        raise ValueError(
            f"unknown option {unknown[0]!r}; ssl: takes {', '.join(sorted(SSL_OPTIONS))}"
        )
    return _sslServer(reactor, args[1], **kwargs)
