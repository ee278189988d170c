"""
End-to-end tests of echohub's TLS: a real C{twistd -ny echohub.tac} on
loopback, driven by Python's C{ssl}, C{openssl s_client}, C{curl} and
C{echohub-client}.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography import x509

from echohub.tls._devcert import DevCertificates
from tests.support import (
    EchohubProcess,
    issueServerCertificate,
    recvAll,
    recvUntil,
    runEchohub,
    ssl0,
)

pytestmark = pytest.mark.e2e

CLIENT = Path(sys.executable).parent / "echohub-client"


def clientContext(
    devcerts: DevCertificates,
    client: str | None = None,
    version: ssl.TLSVersion | None = None,
) -> ssl.SSLContext:
    """
    A context that verifies the server against the development CA, with a
    client certificate if asked.
    """
    context = ssl.create_default_context(cafile=devcerts.ca.certificate.path)
    if client is not None:
        pair = devcerts.clients[client]
        context.load_cert_chain(pair.certificate.path, pair.privateKey.path)
    if version is not None:
        context.minimum_version = context.maximum_version = version
    return context


@pytest.fixture(scope="module")
def tlsServer(
    tmp_path_factory: pytest.TempPathFactory, devcerts: DevCertificates
) -> Iterator[EchohubProcess]:
    """
    One echohub with the TLS listeners most tests need, in this order:

        - line 0: plain C{ssl:}; 1: client certificates required; 2:
          requested; 3: C{profile=modern}; 4: handshake timeout 0.5 s;
          5: a certificate file that holds the root after the leaf;
        - web 0: C{ssl:} with handshake timeout 0.5 s; 1: certificates
          requested;
        - tlsinfo 0: certificates requested.
    """
    directory = tmp_path_factory.mktemp("tls")
    withRoot = directory / "with-root.pem"
    withRoot.write_bytes(
        devcerts.server.certificate.getContent() + devcerts.ca.certificate.getContent()
    )
    ca = devcerts.ca.certificate.path
    line = [
        ssl0(devcerts),
        ssl0(devcerts, f"clientCA={ca}"),
        ssl0(devcerts, f"clientCA={devcerts.trustRoots.path}", "clientAuth=request"),
        ssl0(devcerts, "profile=modern"),
        ssl0(devcerts, "handshakeTimeout=0.5"),
        ssl0(devcerts, cert=withRoot),
    ]
    web = [
        ssl0(devcerts, "handshakeTimeout=0.5"),
        ssl0(devcerts, f"clientCA={ca}", "clientAuth=request"),
    ]
    info = [ssl0(devcerts, f"clientCA={ca}", "clientAuth=request")]
    process = EchohubProcess(
        {
            "ECHOHUB_LINE_LISTEN": " ".join(line),
            "ECHOHUB_WEB_LISTEN": " ".join(web),
            "ECHOHUB_TLS_INFO_LISTEN": " ".join(info),
        },
        cwd=str(directory),
    )
    try:
        yield process.start(listeners=len(line) + len(web) + len(info))
    finally:
        process.kill()


def tlsConnect(
    address: tuple[str, int], context: ssl.SSLContext, **kwargs: object
) -> ssl.SSLSocket:
    raw = socket.create_connection(address, timeout=10)
    return context.wrap_socket(raw, server_hostname="localhost", **kwargs)  # type: ignore[arg-type]


def sendThenClose(
    address: tuple[str, int],
    context: ssl.SSLContext,
    data: bytes,
    closeNotify: bool = True,
) -> tuple[bytes, str]:
    """
    Handshake, send C{data}, then at once send C{close_notify} (unless
    C{closeNotify} is false) and FIN without waiting for anything, and read
    until the server closes.

    Python's blocking C{unwrap()} would wait for the server's
    C{close_notify} first; the memory-BIO C{SSLObject} lets the client
    close only its side, as a real half-closing client does.

    @return: what came back, and how the server ended (C{"close_notify"} or
        a description of the failure).
    """
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname="localhost")
    with socket.create_connection(address, timeout=10) as sock:

        def flush() -> None:
            if pending := outgoing.read():
                sock.sendall(pending)

        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                flush()
                chunk = sock.recv(65536)
                assert chunk, "server closed during the handshake"
                incoming.write(chunk)
        tls.write(data)
        if closeNotify:
            try:
                tls.unwrap()
            except ssl.SSLWantReadError:
                pass
        flush()
        sock.shutdown(socket.SHUT_WR)

        received: list[bytes] = []
        while True:
            chunk = sock.recv(65536)
            if chunk:
                incoming.write(chunk)
            else:
                incoming.write_eof()
            try:
                # An empty read is the server's close_notify, reported so
                # when this side has not sent its own.
                while piece := tls.read(65536):
                    received.append(piece)
                return b"".join(received), "close_notify"
            except ssl.SSLWantReadError:
                if not chunk:
                    return b"".join(received), "EOF without close_notify"
            except ssl.SSLZeroReturnError:
                return b"".join(received), "close_notify"
            except ssl.SSLError as e:
                return b"".join(received), repr(e)


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_halfCloseOverTLSLosesNothing(
    tlsServer: EchohubProcess, devcerts: DevCertificates, version: ssl.TLSVersion
) -> None:
    """
    A client that sends 200 kB of lines and an unterminated last line and
    closes its side (C{close_notify}, then FIN) right after gets every byte
    back, then the server's C{close_notify}: in every one of 20 runs.
    """
    data = b"".join(b"line %d\n" % i for i in range(20000)) + b"no newline"
    context = clientContext(devcerts, version=version)
    for _ in range(20):
        received, ending = sendThenClose(tlsServer.address("line"), context, data)
        assert ending == "close_notify"
        assert received == data


def test_truncatedStreamEndsInputToo(
    tlsServer: EchohubProcess, devcerts: DevCertificates
) -> None:
    """
    A client that shuts down its TCP sending side without C{close_notify}
    still gets its lines and its unterminated last line back.
    """
    received, ending = sendThenClose(
        tlsServer.address("line"), clientContext(devcerts), b"one\ntwo", False
    )
    assert received == b"one\ntwo"
    assert ending == "close_notify"


def runClient(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CLIENT), *args],
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )


def tlsClientString(
    address: tuple[str, int], devcerts: DevCertificates, client: str | None = None
) -> str:
    description = f"tls:localhost:{address[1]}:trustRoots={devcerts.trustRoots.path}"
    if client is not None:
        pair = devcerts.clients[client]
        description += (
            f":certificate={pair.certificate.path}:privateKey={pair.privateKey.path}"
        )
    return description


def test_mtlsRequiredAcceptsValidClient(
    tlsServer: EchohubProcess, devcerts: DevCertificates
) -> None:
    """
    echohub-client with alice's certificate gets its echoes from a listener
    that requires client certificates.
    """
    result = runClient(
        tlsClientString(tlsServer.address("line", 1), devcerts, "alice"),
        "--message",
        "hello mtls",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "hello mtls\n"


def test_mtlsRequiredRefusesClientWithoutCertificate(
    tlsServer: EchohubProcess, devcerts: DevCertificates
) -> None:
    """
    Without a client certificate the handshake fails: echohub-client exits
    1 with no echo, and the server logs the reason.
    """
    result = runClient(
        tlsClientString(tlsServer.address("line", 1), devcerts), "--message", "no"
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert "certificate required" in result.stderr or "handshake" in result.stderr
    tlsServer.waitForOutput(
        r"TLS handshake with 127\.0\.0\.1:\d+ failed: .*certificate"
    )


def test_mtlsRequiredRefusesCertificateFromAnotherCA(
    tlsServer: EchohubProcess, devcerts: DevCertificates, tmp_path: Path
) -> None:
    """
    A client certificate that does not chain to the configured CA fails the
    handshake on a listener that requires client certificates.
    """
    from echohub.tls._devcert import ensureDevCertificates

    other = ensureDevCertificates(str(tmp_path / "other"), ["mallory"])
    context = clientContext(devcerts)
    pair = other.clients["mallory"]
    context.load_cert_chain(pair.certificate.path, pair.privateKey.path)
    with pytest.raises((ssl.SSLError, ConnectionError)):
        with tlsConnect(tlsServer.address("line", 1), context) as sock:
            sock.sendall(b"let me in\n")
            assert sock.recv(100) == b""


def readInfo(address: tuple[str, int], context: ssl.SSLContext) -> dict[str, object]:
    with tlsConnect(address, context) as sock:
        document = json.loads(recvAll(sock))
    assert isinstance(document, dict)
    return document


def test_infoPortReportsNoClientCertificate(
    tlsServer: EchohubProcess, devcerts: DevCertificates
) -> None:
    """
    On a listener that requests client certificates a client without one is
    served, and the info service says "no client certificate"; with alice's
    it shows her certificate, verified.
    """
    facts = readInfo(tlsServer.address("tlsinfo"), clientContext(devcerts))["tls"]
    assert isinstance(facts, dict)
    assert facts["client_auth"] == "no client certificate"
    assert facts["client_certificate"] is None
    assert facts["version"] == "TLSv1.3"
    assert facts["sni"] == "localhost"

    facts = readInfo(tlsServer.address("tlsinfo"), clientContext(devcerts, "alice"))[
        "tls"
    ]
    assert isinstance(facts, dict)
    assert facts["client_auth"] == "verified"
    certificate = facts["client_certificate"]
    assert isinstance(certificate, dict)
    assert certificate["subject"] == "CN=alice"
    assert certificate["verified"] is True


def test_requestedListenerEchoesWithoutCertificate(
    tlsServer: EchohubProcess, devcerts: DevCertificates
) -> None:
    """
    A line listener that only requests client certificates echoes for a
    client without one.
    """
    result = runClient(
        tlsClientString(tlsServer.address("line", 2), devcerts), "--message", "anon"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "anon\n"


def getJSON(address: tuple[str, int], path: str, context: ssl.SSLContext) -> object:
    with tlsConnect(address, context) as sock:
        request = f"GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
        sock.sendall(request.encode() + b"\r\n")
        response = recvAll(sock)
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    assert b"application/json" in head
    return json.loads(body)


def test_webTLSFacts(tlsServer: EchohubProcess, devcerts: DevCertificates) -> None:
    """
    C{GET /tls} returns the connection's TLS facts as JSON; with a client
    certificate on a requesting listener, its subject, issuer, serial,
    validity and verification.
    """
    context = clientContext(devcerts, "alice", ssl.TLSVersion.TLSv1_2)
    context.set_alpn_protocols(["http/1.1"])
    document = getJSON(tlsServer.address("web", 1), "/tls", context)
    assert isinstance(document, dict)
    facts = document["tls"]
    assert facts["version"] == "TLSv1.2"
    assert facts["cipher"] in (
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305",
    )
    assert facts["alpn"] == "http/1.1"
    assert facts["sni"] == "localhost"
    assert facts["group"] in ("x25519", "prime256v1", "secp384r1")
    certificate = facts["client_certificate"]
    alice = x509.load_pem_x509_certificate(
        devcerts.clients["alice"].certificate.getContent()
    )
    assert certificate["serial"] == format(alice.serial_number, "x")
    assert certificate["issuer"] == alice.issuer.rfc4514_string()
    assert certificate["not_after"] == alice.not_valid_after_utc.isoformat()
    assert certificate["verified"] is True


def test_curlSeesTLSFacts(tlsServer: EchohubProcess, devcerts: DevCertificates) -> None:
    """
    curl (asking for HTTP/2) is served HTTP/2, and C{/tls} shows ALPN
    C{h2}.
    """
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    port = tlsServer.address("web")[1]
    result = subprocess.run(
        [
            "curl",
            "--silent",
            "--show-error",
            "--http2",
            "--cacert",
            devcerts.ca.certificate.path,
            "--write-out",
            "\n%{http_version}",
            f"https://localhost:{port}/tls",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    body, _, httpVersion = result.stdout.rpartition("\n")
    assert httpVersion == "2"
    assert json.loads(body)["tls"]["alpn"] == "h2"


@pytest.mark.parametrize(
    ("offered", "selected"),
    [
        (["h2", "http/1.1"], "h2"),
        (["h2"], "h2"),
        (["http/1.1"], "http/1.1"),
        (["x"], None),
    ],
)
def test_alpnOffers(
    tlsServer: EchohubProcess,
    devcerts: DevCertificates,
    offered: list[str],
    selected: str | None,
) -> None:
    """
    The web listener selects C{h2} by ALPN when offered, else C{http/1.1};
    a client offering neither gets no ALPN protocol rather than a failed
    handshake.
    """
    context = clientContext(devcerts)
    context.set_alpn_protocols(offered)
    with tlsConnect(tlsServer.address("web"), context) as sock:
        assert sock.selected_alpn_protocol() == selected


def test_modernProfileRefusesTLS12(
    tlsServer: EchohubProcess, devcerts: DevCertificates
) -> None:
    """
    A C{profile=modern} listener speaks TLS 1.3 only.
    """
    address = tlsServer.address("line", 3)
    with pytest.raises(ssl.SSLError):
        tlsConnect(address, clientContext(devcerts, version=ssl.TLSVersion.TLSv1_2))
    with tlsConnect(address, clientContext(devcerts)) as sock:
        assert sock.version() == "TLSv1.3"


def test_policyRefusesWeakParameters(
    tlsServer: EchohubProcess, devcerts: DevCertificates
) -> None:
    """
    CBC suites, TLS 1.1 and the X448 and secp521r1 groups are refused;
    ECDHE with AES-GCM over P-384 is accepted.
    """
    address = tlsServer.address("line")

    def attempt(configure: Callable[[ssl.SSLContext], None]) -> str:
        context = clientContext(devcerts)
        configure(context)
        with tlsConnect(address, context) as sock:
            return str(sock.version())

    def tls12(cipher: str) -> Callable[[ssl.SSLContext], None]:
        def configure(context: ssl.SSLContext) -> None:
            context.maximum_version = ssl.TLSVersion.TLSv1_2
            context.set_ciphers(cipher)

        return configure

    assert attempt(tls12("ECDHE-ECDSA-AES256-GCM-SHA384")) == "TLSv1.2"
    for cipher in ("ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA384"):
        with pytest.raises(ssl.SSLError):
            attempt(tls12(cipher))

    def tls11(context: ssl.SSLContext) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            context.minimum_version = ssl.TLSVersion.TLSv1_1
            context.maximum_version = ssl.TLSVersion.TLSv1_1
        context.set_ciphers("ALL:@SECLEVEL=0")

    with pytest.raises(ssl.SSLError):
        attempt(tls11)

    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    for group, accepted in (("X448", False), ("P-521", False), ("P-384", True)):
        result = subprocess.run(
            [
                "openssl",
                "s_client",
                "-connect",
                f"127.0.0.1:{address[1]}",
                "-groups",
                group,
                "-brief",
            ],
            input="",
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert ("CONNECTION ESTABLISHED" in result.stderr) is accepted, result.stderr


def test_chainNeverSendsRoot(
    tlsServer: EchohubProcess, devcerts: DevCertificates
) -> None:
    """
    A certificate file that holds the root after the leaf serves the leaf
    only: the client has the root, and sending it is waste.
    """
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    port = tlsServer.address("line", 5)[1]
    result = subprocess.run(
        [
            "openssl",
            "s_client",
            "-connect",
            f"127.0.0.1:{port}",
            "-showcerts",
            "-CAfile",
            devcerts.ca.certificate.path,
            "-verify_return_error",
        ],
        input="",
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.stdout.count("-----BEGIN CERTIFICATE-----") == 1, result.stdout
    assert "Verify return code: 0 (ok)" in result.stdout


def closedWithin(sock: socket.socket, limit: float) -> float:
    """
    Wait until the server closes C{sock}; return how long that took.
    """
    start = time.monotonic()
    sock.settimeout(limit)
    try:
        while sock.recv(4096):
            pass
    except ConnectionResetError:
        pass
    return time.monotonic() - start


def test_handshakeTimeout(tlsServer: EchohubProcess) -> None:
    """
    A TCP connection that never sends a ClientHello is closed after the
    handshake timeout (0.5 s here) on a line and on a web listener, and
    not much before.
    """
    for address in (tlsServer.address("line", 4), tlsServer.address("web")):
        with socket.create_connection(address, timeout=10) as sock:
            took = closedWithin(sock, 5)
        assert 0.4 <= took < 3, took


def test_plaintextClosedWithOneLogLine(tlsServer: EchohubProcess) -> None:
    """
    Plaintext sent to a TLS port is answered with a TLS alert at most and
    closed at once, with a log line saying what happened.
    """
    with socket.create_connection(tlsServer.address("line"), timeout=10) as sock:
        sock.sendall(b"hello there\n")
        start = time.monotonic()
        reply = recvAll(sock)
        assert time.monotonic() - start < 1
        assert b"hello" not in reply
    tlsServer.waitForOutput(r"TLS handshake with .* \(plaintext sent to a TLS port\)")


def test_tlsServerStringRefused(devcerts: DevCertificates) -> None:
    """
    Twisted's C{tls:} server strings would bypass echohub's TLS policy:
    they are refused at start-up with a pointer to C{ssl:}.
    """
    code, output = runEchohub(
        {
            "ECHOHUB_LINE_LISTEN": f"tls:{devcerts.directory.path}:port=0",
            "ECHOHUB_WEB_LISTEN": "",
        }
    )
    assert code == 1
    assert "ssl:PORT" in output
    assert "Traceback" not in output


def servedSerial(address: tuple[str, int], devcerts: DevCertificates) -> int:
    with tlsConnect(address, clientContext(devcerts)) as sock:
        der = sock.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der).serial_number


def test_sighupReloadsCertificate(
    echohub: Callable[..., EchohubProcess], devcerts: DevCertificates, tmp_path: Path
) -> None:
    """
    After the certificate files are replaced and SIGHUP is sent, new
    handshakes get the new certificate while an established connection goes
    on; new files that do not belong together are refused with one log
    line and the current certificate stays.
    """
    cert, key, first = issueServerCertificate(devcerts.ca, tmp_path, "server")
    process = echohub(
        {
            "ECHOHUB_LINE_LISTEN": ssl0(devcerts, cert=cert, key=key),
            "ECHOHUB_WEB_LISTEN": ssl0(devcerts, cert=cert, key=key),
        },
        listeners=2,
        cwd=str(tmp_path),
    )
    process.waitForOutput("SIGHUP reloads the certificates of 2 TLS listener")
    address = process.address("line")
    assert servedSerial(address, devcerts) == first.serial_number

    with tlsConnect(address, clientContext(devcerts)) as established:
        established.sendall(b"before\n")
        assert recvUntil(established, 7) == b"before\n"

        _, _, second = issueServerCertificate(devcerts.ca, tmp_path, "new")
        os.replace(tmp_path / "new.pem", cert)
        os.replace(tmp_path / "new-key.pem", key)
        os.kill(process.pid, signal.SIGHUP)
        serial = f"{second.serial_number:x}"
        process.waitForOutput(rf"TLS reload of ssl:0.*now serving .*serial {serial}")
        assert servedSerial(address, devcerts) == second.serial_number
        assert servedSerial(process.address("web"), devcerts) == second.serial_number

        established.sendall(b"after\n")
        assert recvUntil(established, 6) == b"after\n"

    issueServerCertificate(devcerts.ca, tmp_path, "third")
    os.replace(tmp_path / "third.pem", cert)
    os.kill(process.pid, signal.SIGHUP)
    refused = process.waitForOutput("TLS reload of .* refused")
    assert "does not match certificate" in refused
    assert f"serial {second.serial_number:x}" in refused
    assert servedSerial(address, devcerts) == second.serial_number


def test_halfDoneHandshakesDoNotDelayOthers(
    echohub: Callable[..., EchohubProcess], devcerts: DevCertificates
) -> None:
    """
    500 connections stuck mid-handshake (half with a ClientHello the server
    answered, half with part of one) delay a normal client's handshake and
    echo by less than 100 ms.
    """
    process = echohub(
        {
            # A backlog of 1024 so the 500 connections are never left
            # waiting for a SYN retransmission.
            "ECHOHUB_LINE_LISTEN": ssl0(devcerts, "backlog=1024"),
            "ECHOHUB_WEB_LISTEN": "",
            "ECHOHUB_LINE_MAX_CONNECTIONS": "0",
            "ECHOHUB_LINE_MAX_CONNECTIONS_PER_PEER": "0",
        },
        listeners=1,
    )
    address = process.address("line")
    context = clientContext(devcerts)

    def normalClient() -> float:
        start = time.monotonic()
        with tlsConnect(address, context) as sock:
            sock.sendall(b"ping\n")
            assert recvUntil(sock, 5) == b"ping\n"
        return time.monotonic() - start

    baseline = sorted(normalClient() for _ in range(7))[3]

    hello = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(*hello, server_hostname="localhost")
    with pytest.raises(ssl.SSLWantReadError):
        tls.do_handshake()
    clientHello = hello[1].read()
    stuck: list[socket.socket] = []
    try:
        for i in range(500):
            sock = socket.create_connection(address, timeout=10)
            stuck.append(sock)
            sock.sendall(clientHello if i % 2 else clientHello[: len(clientHello) // 2])
        for sock in stuck[1::2]:
            assert sock.recv(1), "the server did not answer a ClientHello"
        loaded = sorted(normalClient() for _ in range(7))[3]
    finally:
        for sock in stuck:
            sock.close()
    print(
        f"normal client: {baseline * 1000:.1f} ms idle,"
        f" {loaded * 1000:.1f} ms with 500 stuck"
    )
    assert loaded - baseline < 0.1
