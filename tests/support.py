"""
Test support: run a real C{twistd -ny echohub.tac} on loopback and talk to it.

Listeners are configured on port 0 and the test reads the address each one
actually bound from echohub's own log line (C{line listening on
127.0.0.1:43211 (tcp:0:...)}), so there is no race for a free port.
"""

from __future__ import annotations

import base64
import json
import os
import queue
import re
import signal
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from ipaddress import ip_address
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from twisted.logger import eventFromJSON, formatEvent

from echohub.tls._devcert import DevCertificates, KeyPairPaths

ROOT = Path(__file__).resolve().parent.parent
TAC = ROOT / "echohub.tac"
TWISTD = Path(sys.executable).parent / "twistd"
TWIST = Path(sys.executable).parent / "twist"

_LISTENING = re.compile(r"(\w+) listening on (\S+) \((.*)\)\s*$")


def _text(line: str) -> str:
    """
    The text of one log line: formatted text, echohub's JSON lines
    (C{[server] log_format = "json"}: the text is the C{message} field), or
    twist's own JSON events (RFC 7464 JSON text sequences: each record
    starts with an ASCII record separator).
    """
    text = line.lstrip("\x1e")
    if not text.startswith("{"):
        return line
    try:
        record = json.loads(text)
    except ValueError:
        return line
    if not isinstance(record, dict):
        return line
    if "log_format" not in record and isinstance(record.get("message"), str):
        return record["message"]
    return formatEvent(eventFromJSON(text))


def cleanEnvironment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """
    The environment for a subprocess: ours without C{ECHOHUB_*} settings,
    with the source tree importable, plus C{extra}.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("ECHOHUB_")}
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p
    )
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


class EchohubProcess:
    """
    One echohub server process.

    @ivar addresses: service name to the list of bound addresses, in the
        order the log reported them.
    @ivar lines: every line the process printed so far.
    """

    def __init__(
        self,
        env: Mapping[str, str],
        cwd: str | None = None,
        args: list[str] | None = None,
        passFds: tuple[int, ...] = (),
    ) -> None:
        """
        @param passFds: descriptors the process inherits (socket activation).
        """
        self.passFds = passFds
        self.env = cleanEnvironment(env)
        self.cwd = cwd or str(ROOT)
        self.args = args or [str(TWISTD), "--pidfile=", "-ny", str(TAC)]
        self.lines: list[str] = []
        self.addresses: dict[str, list[tuple[str, int]]] = {}
        self._queue: queue.Queue[str | None] = queue.Queue()
        self.process: subprocess.Popen[str] | None = None

    def start(self, listeners: int, timeout: float = 20.0) -> EchohubProcess:
        """
        Start the process and wait until C{listeners} listeners are bound.

        @raise AssertionError: the process exited or timed out first; the
            message holds its output.
        """
        self.process = subprocess.Popen(
            self.args,
            cwd=self.cwd,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            pass_fds=self.passFds,
        )
        threading.Thread(target=self._read, daemon=True).start()
        deadline = time.monotonic() + timeout
        bound = 0
        while bound < listeners:
            line = self._next(deadline)
            if line is None:
                raise AssertionError(f"echohub did not start:\n{self.output}")
            match = _LISTENING.search(_text(line))
            if match:
                service, address, _ = match.groups()
                host, _, port = address.rpartition(":")
                self.addresses.setdefault(service, []).append(
                    (host.strip("[]"), int(port))
                )
                bound += 1
        return self

    def _read(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            self._queue.put(line)
        self._queue.put(None)

    def _next(self, deadline: float) -> str | None:
        """
        The next output line, or None at end of output or the deadline.
        """
        try:
            line = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            return None
        if line is not None:
            self.lines.append(line)
        return line

    def waitForOutput(self, pattern: str, timeout: float = 10.0) -> str:
        """
        Wait for an output line matching C{pattern} and return it.
        """
        regex = re.compile(pattern)
        for line in self.lines:
            if regex.search(line):
                return line
        deadline = time.monotonic() + timeout
        while True:
            line = self._next(deadline)
            if line is None:
                raise AssertionError(f"no line matching {pattern!r} in:\n{self.output}")
            if regex.search(line):
                return line

    @property
    def output(self) -> str:
        """
        Everything printed so far.
        """
        return "".join(self.lines)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def address(self, service: str, index: int = 0) -> tuple[str, int]:
        return self.addresses[service][index]

    def connect(
        self, service: str, index: int = 0, timeout: float = 10.0
    ) -> socket.socket:
        """
        A blocking client socket connected to one listener.
        """
        return socket.create_connection(self.address(service, index), timeout=timeout)

    def rss(self) -> int:
        """
        The process's resident memory in bytes, from /proc.
        """
        status = Path(f"/proc/{self.pid}/status").read_text()
        kb = re.search(r"VmRSS:\s+(\d+) kB", status)
        assert kb is not None
        return int(kb.group(1)) * 1024

    def wait(self, timeout: float = 15.0) -> int:
        """
        Wait for the process to exit and drain its output; return its status.
        """
        assert self.process is not None
        code = self.process.wait(timeout=timeout)
        deadline = time.monotonic() + 5
        while self._next(deadline) is not None:
            pass
        return code

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        """
        Signal the process and wait for it to exit.
        """
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.wait(timeout)

    def kill(self) -> None:
        """
        Make sure the process is gone (cleanup); only our own PID is touched.
        """
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


@contextmanager
def running(
    env: Mapping[str, str], listeners: int, cwd: str | None = None
) -> Iterator[EchohubProcess]:
    """
    Run echohub for the length of a C{with} block (or a fixture), waiting
    for C{listeners} listeners; the process is killed at the end.
    """
    process = EchohubProcess(env, cwd=cwd)
    try:
        yield process.start(listeners)
    finally:
        process.kill()


def runEchohub(env: Mapping[str, str], timeout: float = 20.0) -> tuple[int, str]:
    """
    Run echohub expecting it to exit by itself (a configuration error) and
    return its exit status and output.
    """
    result = subprocess.run(
        [str(TWISTD), "--pidfile=", "-ny", str(TAC)],
        cwd=str(ROOT),
        env=cleanEnvironment(env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return result.returncode, result.stdout + result.stderr


def recvUntil(sock: socket.socket, size: int, timeout: float = 10.0) -> bytes:
    """
    Receive exactly C{size} bytes, or whatever arrived before EOF.
    """
    sock.settimeout(timeout)
    chunks: list[bytes] = []
    received = 0
    while received < size:
        chunk = sock.recv(min(1 << 20, size - received))
        if not chunk:
            break
        chunks.append(chunk)
        received += len(chunk)
    return b"".join(chunks)


def recvAll(sock: socket.socket, timeout: float = 10.0) -> bytes:
    """
    Receive until EOF.
    """
    sock.settimeout(timeout)
    chunks: list[bytes] = []
    while chunk := sock.recv(1 << 20):
        chunks.append(chunk)
    return b"".join(chunks)


def sslString(devcerts: DevCertificates, port: int = 0) -> str:
    """
    An C{ssl:} endpoint string on loopback with the development certificate.
    """
    return (
        f"ssl:{port}:interface=127.0.0.1"
        f":privateKey={devcerts.server.privateKey.path}"
        f":certKey={devcerts.server.certificate.path}"
    )


def issueServerCertificate(
    ca: KeyPairPaths,
    directory: Path,
    name: str,
    lifetime: timedelta = timedelta(days=90),
) -> tuple[Path, Path, x509.Certificate]:
    """
    Issue a fresh localhost server certificate from the development CA.

    Mozilla's profiles limit a certificate's lifetime (366 days for
    I{intermediate}); the test issues its own certificate so that it does not
    depend on the development certificate's lifetime.

    @return: the certificate file, the key file and the certificate.
    """
    caCertificate = x509.load_pem_x509_certificate(ca.certificate.getContent())
    caKey = serialization.load_pem_private_key(ca.privateKey.getContent(), None)
    assert isinstance(caKey, ec.EllipticCurvePrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(caCertificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + lifetime)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(caKey.public_key()),
            False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ip_address("127.0.0.1"))]
            ),
            False,
        )
        .sign(caKey, hashes.SHA256())
    )
    certPath = directory / f"{name}.pem"
    keyPath = directory / f"{name}-key.pem"
    certPath.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    keyPath.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return certPath, keyPath, certificate


def ssl0(
    devcerts: DevCertificates,
    *options: str,
    cert: Path | None = None,
    key: Path | None = None,
) -> str:
    """
    An C{ssl:} string on loopback, port 0, with extra options.
    """
    return ":".join(
        [
            "ssl:0:interface=127.0.0.1",
            f"privateKey={key or devcerts.server.privateKey.path}",
            f"certKey={cert or devcerts.server.certificate.path}",
            *options,
        ]
    )


MAX_MESSAGE = 4096


class RawClient:
    """
    A WebSocket client made of a socket and hand-made frames, to do what a
    well-behaved client library will not.
    """

    def __init__(
        self,
        server: EchohubProcess,
        tls: bool,
        devcerts: DevCertificates,
        origin: str | None = None,
        extensions: str | None = None,
    ) -> None:
        raw = socket.create_connection(
            server.address("web", 1 if tls else 0), timeout=10
        )
        self.sock: socket.socket = (
            wsClientContext(devcerts).wrap_socket(raw, server_hostname="localhost")
            if tls
            else raw
        )
        key = base64.b64encode(os.urandom(16))
        lines = [
            b"GET /ws HTTP/1.1",
            b"Host: localhost",
            b"Upgrade: websocket",
            b"Connection: Upgrade",
            b"Sec-WebSocket-Version: 13",
            b"Sec-WebSocket-Key: " + key,
        ]
        if origin:
            lines.append(b"Origin: " + origin.encode())
        if extensions:
            lines.append(b"Sec-WebSocket-Extensions: " + extensions.encode())
        self.sock.sendall(b"\r\n".join(lines) + b"\r\n\r\n")
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            chunk = self.sock.recv(4096)
            assert chunk, self.buffer
            self.buffer += chunk
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        self.head = head
        self.status = int(head.split(b" ")[1])

    @staticmethod
    def frame(
        opcode: int,
        payload: bytes,
        fin: bool = True,
        length: int | None = None,
        rsv1: bool = False,
    ) -> bytes:
        size = len(payload) if length is None else length
        head = bytes([(0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode])
        # The shortest length encoding, as RFC 6455 section 5.2 requires
        # (wsproto refuses a longer one with 1002).
        if size < 126:
            head += bytes([0x80 | size])
        elif size < 65536:
            head += bytes([0x80 | 126]) + struct.pack("!H", size)
        else:
            head += bytes([0x80 | 127]) + struct.pack("!Q", size)
        # An all-zero mask leaves the payload as it is.
        return head + b"\0\0\0\0" + payload

    def readFrame(self) -> tuple[int, bytes]:
        """
        The next frame from the server; C{(-1, b"")} at EOF.
        """
        while True:
            if len(self.buffer) >= 2:
                length, offset = self.buffer[1] & 0x7F, 2
                if length == 126 and len(self.buffer) >= 4:
                    (length,), offset = struct.unpack("!H", self.buffer[2:4]), 4
                elif length == 127 and len(self.buffer) >= 10:
                    (length,), offset = struct.unpack("!Q", self.buffer[2:10]), 10
                if length < 126 and len(self.buffer) >= offset + length:
                    opcode = self.buffer[0] & 0x0F
                    payload = self.buffer[offset : offset + length]
                    self.buffer = self.buffer[offset + length :]
                    return opcode, payload
                if length >= 126 and len(self.buffer) >= offset + length:
                    opcode = self.buffer[0] & 0x0F
                    payload = self.buffer[offset : offset + length]
                    self.buffer = self.buffer[offset + length :]
                    return opcode, payload
            chunk = self.sock.recv(65536)
            if not chunk:
                return -1, b""
            self.buffer += chunk

    def readUntilEOF(self, timeout: float) -> list[tuple[int, bytes]]:
        """
        Every frame until the server closes the connection.
        """
        self.sock.settimeout(timeout)
        received = []
        while (frame := self.readFrame())[0] != -1:
            received.append(frame)
        return received


def wsClientContext(devcerts: DevCertificates) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=devcerts.ca.certificate.path)
