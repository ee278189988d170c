"""
Build what a run needs and is not in the repository: the load generator,
compiled from C{loadgen.c} at bench time, and a throw-away TLS certificate.

Both go to a build directory (C{benchmarks/build/}, ignored by git) and are
rebuilt only when missing or older than their source.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "loadgen.c"
BUILD = HERE / "build"


class BuildError(Exception):
    """
    The load generator cannot be built; the message says why.
    """


@dataclass(frozen=True)
class Loadgen:
    """
    A compiled load generator.

    @ivar tls: whether it was built with OpenSSL and so accepts C{--tls}.
    @ivar deflate: whether it was built with zlib and so accepts
        C{--deflate} (WebSocket permessage-deflate).
    """

    path: Path
    tls: bool
    deflate: bool = False


@dataclass(frozen=True)
class _Variant:
    """
    One way to build the load generator: its file name, and whether it has
    OpenSSL and zlib.
    """

    name: str
    tls: bool
    deflate: bool

    def flags(self) -> list[str]:
        return ["-DWITH_TLS"] * self.tls + ["-DWITH_ZLIB"] * self.deflate

    def libraries(self) -> list[str]:
        return ["-lssl", "-lcrypto"] * self.tls + ["-lz"] * self.deflate


# Most capable first: a machine without OpenSSL's or zlib's headers still
# gets a load generator, and only the scenarios needing them are skipped.
_VARIANTS = (
    _Variant("loadgen", tls=True, deflate=True),
    _Variant("loadgen-nozlib", tls=True, deflate=False),
    _Variant("loadgen-notls", tls=False, deflate=True),
    _Variant("loadgen-notls-nozlib", tls=False, deflate=False),
)


def compiler() -> str | None:
    """
    The C compiler to use: C{$CC}, else C{cc} or C{gcc}, if installed.
    """
    for name in (os.environ.get("CC"), "cc", "gcc"):
        if name and shutil.which(name):
            return name
    return None


def _fresh(path: Path) -> bool:
    return path.exists() and path.stat().st_mtime >= SOURCE.stat().st_mtime


def _compile(
    cc: str, output: Path, variant: _Variant
) -> subprocess.CompletedProcess[str]:
    """
    Compile to a temporary name, then rename: two runs building at once (a
    test and C{make bench}) never execute a half-written binary.
    """
    fd, temporary = tempfile.mkstemp(dir=output.parent, prefix=output.name + ".")
    os.close(fd)
    command = [
        *(cc, "-O2", "-Wall", *variant.flags(), str(SOURCE)),
        *("-o", temporary, *variant.libraries()),
    ]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode == 0:
        os.replace(temporary, output)
    else:
        os.unlink(temporary)
    return result


def buildLoadgen(buildDir: Path = BUILD) -> Loadgen:
    """
    Compile the load generator, with TLS when OpenSSL's headers are there
    and WebSocket compression when zlib's are.

    @raise BuildError: no compiler, or the source does not compile at all.
    """
    buildDir.mkdir(parents=True, exist_ok=True)
    cc = compiler()
    result = None
    for variant in _VARIANTS:
        path = buildDir / variant.name
        if not _fresh(path):
            if cc is None:
                raise BuildError(
                    "no C compiler (cc or gcc) to build the load generator"
                )
            result = _compile(cc, path, variant)
            if result.returncode != 0:
                continue
        return Loadgen(path, tls=variant.tls, deflate=variant.deflate)
    assert result is not None
    raise BuildError(f"cannot compile {SOURCE.name}:\n{result.stderr}")


def certificate(buildDir: Path = BUILD) -> tuple[Path, Path]:
    """
    A self-signed ECDSA P-256 certificate for C{localhost}, shared by every
    TLS server of a run so that they all do the same cryptography.

    @return: the certificate and key PEM files.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    directory = buildDir / "tls"
    cert, key = directory / "cert.pem", directory / "key.pem"
    if cert.exists() and key.exists():
        return cert, key
    buildDir.mkdir(parents=True, exist_ok=True)
    privateKey = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    built = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(privateKey.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                ]
            ),
            critical=False,
        )
        .sign(privateKey, hashes.SHA256())
    )
    # Written aside and renamed as a directory, so that two runs starting at
    # once never pair one's key with the other's certificate.
    staging = Path(tempfile.mkdtemp(dir=buildDir, prefix="tls."))
    (staging / "key.pem").write_bytes(
        privateKey.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    (staging / "cert.pem").write_bytes(built.public_bytes(serialization.Encoding.PEM))
    try:
        os.rename(staging, directory)
    except OSError:
        shutil.rmtree(staging)
    return cert, key
