"""
The container image (C{make image}): who it runs as, what it carries, that
it serves read-only with no capability, that its defaults give way one
setting at a time, TLS from a mounted certificate, its health check, and a
SIGTERM drain as PID 1.

Containers use the host's network with listeners on loopback, or publish
ports on loopback only.
"""

from __future__ import annotations

import json
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from echohub import __version__
from echohub.tls import DevCertificates
from tests.image.conftest import Container, freePort
from tests.support import recvAll, recvUntil

HARDENED = ["--read-only", "--tmpfs", "/tmp", "--cap-drop=ALL"]


def loopbackListeners() -> tuple[dict[str, str], tuple[int, int]]:
    """
    The variables that put the line and web listeners on loopback, free
    ports, for a container on the host's network.
    """
    line, web = freePort(), freePort()
    env = {
        "ECHOHUB_LINE_LISTEN": f"tcp:{line}:interface=127.0.0.1",
        "ECHOHUB_WEB_LISTEN": f"tcp:{web}:interface=127.0.0.1",
    }
    return env, (line, web)


def get(port: int, target: str, host: str = "127.0.0.1") -> bytes:
    """
    One HTTP/1.1 request with C{Connection: close}; the whole response.
    """
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(
            f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
        )
        return recvAll(sock)


def lineEcho(port: int, payload: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)
        return recvAll(sock)


def waitForPort(port: int, timeout: float = 30) -> None:
    """
    Wait until a published port answers C{/healthz} (the engine's proxy
    accepts before the container listens).
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            if get(port, "/healthz").startswith(b"HTTP/1.1 200"):
                return
        except OSError:
            pass
        assert time.monotonic() < deadline, f"nothing answers on port {port}"
        time.sleep(0.2)


def everyAddress(web: int) -> dict[str, list[tuple[str, int]]]:
    """
    Where the log says the line and web listeners are, on every address.
    """
    return {"line": [("0.0.0.0", 7007)], "web": [("0.0.0.0", web)]}


def engineRun(
    engine: str, image: str, entrypoint: str, *args: str
) -> subprocess.CompletedProcess[str]:
    """
    Run C{entrypoint} in the image, read-only, without a network.
    """
    return subprocess.run(
        [engine, "run", "--rm", "--network=none", "--read-only"]
        + ["--entrypoint", entrypoint, image, *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_configuration(engine: str, image: str) -> None:
    """
    The image runs C{python3 -m echohub} as user 65532, keeps its
    C{HEALTHCHECK} on C{/healthz} (docker format), exposes 7007 and 8080,
    reads its defaults from C{ECHOHUB_DEFAULTS}, is tagged with echohub's
    version, and is small.
    """
    result = subprocess.run(
        [engine, "image", "inspect", image],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    [facts] = json.loads(result.stdout)
    config = facts["Config"]
    assert config["User"] == "65532:65532"
    assert config["Entrypoint"][:3] == ["/usr/bin/python3", "-m", "echohub"]
    # podman shows it beside the configuration, docker inside it.
    healthcheck = facts.get("Healthcheck") or config["Healthcheck"]
    assert healthcheck["Test"] == [
        "CMD",
        "/usr/bin/python3",
        "-m",
        "echohub",
        "--healthcheck",
    ]
    assert set(config["ExposedPorts"]) == {"7007/tcp", "8080/tcp"}
    assert "ECHOHUB_DEFAULTS=/etc/echohub/defaults.toml" in config["Env"]
    assert image.endswith(f":{__version__}")
    size = facts["Size"]
    print(f"image {image}: {size / 1e6:.1f} MB")
    assert size < 160e6


def test_pythonAndEchohubOnly(engine: str, image: str) -> None:
    """
    No shell and no package manager: the image holds Python and echohub.
    The plugin cache was written at build time, so nothing tries to write
    it on the read-only file system.
    """
    assert engineRun(engine, image, "/bin/sh", "-c", "true").returncode != 0
    check = (
        "import os, shutil, sys;"
        "print(os.getuid(), os.getgid(), sys.version_info[:2],"
        " [n for n in ('sh', 'bash', 'dash', 'busybox', 'apt', 'dpkg', 'pip')"
        " if shutil.which(n) or os.path.exists('/bin/' + n)],"
        " os.path.exists('/app/twisted/plugins/dropin.cache'))"
    )
    result = engineRun(engine, image, "/usr/bin/python3", "-c", check)
    assert result.stdout.strip() == "65532 65532 (3, 11) [] True", result


def test_readOnlyNoCapabilities(
    container: Callable[..., Container],
) -> None:
    """
    With a read-only root, a tmpfs at C{/tmp} and every capability dropped,
    echohub serves the line echo, the HTTP echo and C{/healthz} as uid
    65532 with no effective capability, logs no error, and is not stopped
    by the variables Kubernetes sets for a Service named C{echohub}.
    """
    env, (line, web) = loopbackListeners()
    env |= {
        "ECHOHUB_SERVICE_HOST": "10.96.0.12",
        "ECHOHUB_SERVICE_PORT": "8080",
        "ECHOHUB_PORT": "tcp://10.96.0.12:8080",
        "ECHOHUB_PORT_8080_TCP": "tcp://10.96.0.12:8080",
        "ECHOHUB_PORT_8080_TCP_PROTO": "tcp",
        "ECHOHUB_PORT_8080_TCP_PORT": "8080",
        "ECHOHUB_PORT_8080_TCP_ADDR": "10.96.0.12",
    }
    running = container(env, ["--network=host", *HARDENED])
    assert lineEcho(line, b"one\ntwo\nlast") == b"one\ntwo\nlast"
    assert get(web, "/echo?msg=contained").endswith(b"\r\n\r\ncontained")
    assert get(web, "/healthz").startswith(b"HTTP/1.1 200")
    pid = running.inspect("{{.State.Pid}}")
    status = Path(f"/proc/{pid}/status").read_text()
    fields = dict(line.split(":\t", 1) for line in status.splitlines())
    assert fields["Uid"].split() == ["65532"] * 4
    assert int(fields["CapEff"], 16) == 0
    assert int(fields["CapPrm"], 16) == 0
    running.waitForOutput(r"echohub \S+ serving ")
    assert "Traceback" not in running.output
    assert "plugin cache" not in running.output


def test_defaultsGiveWayOneAtATime(
    container: Callable[..., Container], tmp_path: Path
) -> None:
    """
    By default the image listens on every address of the container, line
    on 7007 and web on 8080 (here published on loopback).  One variable
    moves one listener and leaves the other where it was; a mounted TOML
    file changes one setting and keeps both listeners.
    """
    line, web = freePort(), freePort()

    def published(containerWeb: int = 8080) -> list[str]:
        return ["-p", f"127.0.0.1:{line}:7007", "-p", f"127.0.0.1:{web}:{containerWeb}"]

    running = container(options=published())
    waitForPort(web)
    assert lineEcho(line, b"default\n") == b"default\n"
    assert running.addresses == {
        "line": [("0.0.0.0", 7007)],
        "web": [("0.0.0.0", 8080)],
    }
    running.stop()

    running = container({"ECHOHUB_WEB_LISTEN": "tcp:9090"}, published(9090))
    waitForPort(web)
    assert running.addresses == {
        "line": [("0.0.0.0", 7007)],
        "web": [("0.0.0.0", 9090)],
    }
    assert lineEcho(line, b"still 7007\n") == b"still 7007\n"
    running.stop()

    (tmp_path / "echohub.toml").write_text("[web]\nmax_body = 10\n")
    tmp_path.chmod(0o755)
    (tmp_path / "echohub.toml").chmod(0o644)
    running = container(
        {"ECHOHUB_CONFIG": "/config/echohub.toml"},
        [*published(), "-v", f"{tmp_path}:/config:ro"],
    )
    waitForPort(web)
    assert running.addresses == {
        "line": [("0.0.0.0", 7007)],
        "web": [("0.0.0.0", 8080)],
    }
    with socket.create_connection(("127.0.0.1", web), timeout=10) as sock:
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n")
        assert recvUntil(sock, 12).startswith(b"HTTP/1.1 413")


def test_tlsFromMountedCertificate(
    container: Callable[..., Container], devcerts: DevCertificates, tmp_path: Path
) -> None:
    """
    A certificate and key mounted read-only (C{-v DIR:/certs:ro}) serve
    HTTPS and the line echo over TLS through the command's shortcuts (as
    options, they replace the image's listeners); the client verifies the
    server against the development CA.
    """
    certs = tmp_path / "certs"
    certs.mkdir(mode=0o755)
    for name, source in (
        ("server.pem", devcerts.server.certificate.path),
        ("server-key.pem", devcerts.server.privateKey.path),
    ):
        shutil.copyfile(source, certs / name)
        # Readable by the image's user, in a directory only this test uses.
        (certs / name).chmod(0o644)
    lineTLS, webTLS = freePort(), freePort()
    running = container(
        {},
        ["--network=host", *HARDENED, "-v", f"{certs}:/certs:ro"],
        [
            "--host=127.0.0.1",
            f"--line-tls-port={lineTLS}",
            f"--web-tls-port={webTLS}",
            "--tls-cert=/certs/server.pem",
            "--tls-key=/certs/server-key.pem",
        ],
    )
    announced = running.waitForOutput(r"echohub \S+ serving ")
    assert f"web https://127.0.0.1:{webTLS}/" in announced
    context = ssl.create_default_context(cafile=devcerts.ca.certificate.path)
    with context.wrap_socket(
        socket.create_connection(("127.0.0.1", webTLS), timeout=10),
        server_hostname="localhost",
    ) as sock:
        sock.sendall(
            b"GET /tls HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        )
        response = recvAll(sock)
    facts = json.loads(response.split(b"\r\n\r\n", 1)[1])
    assert facts["tls"]["version"] in ("TLSv1.2", "TLSv1.3"), facts
    with context.wrap_socket(
        socket.create_connection(("127.0.0.1", lineTLS), timeout=10),
        server_hostname="localhost",
    ) as sock:
        sock.sendall(b"over tls\n")
        assert recvUntil(sock, 9) == b"over tls\n"


def test_healthcheck(container: Callable[..., Container], engine: str) -> None:
    """
    The image's health check (C{echohub --healthcheck}, run by the engine)
    passes while echohub serves, on whichever port the variables gave the
    web listener, and fails while nothing answers there.
    """
    env, (line, web) = loopbackListeners()
    running = container(env, ["--network=host", *HARDENED], healthcheck=True)
    check = [engine, "healthcheck", "run", running.name]
    result = subprocess.run(check, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    probe = subprocess.run(
        [
            engine,
            "exec",
            "--env",
            f"ECHOHUB_WEB_LISTEN=tcp:{freePort()}:interface=127.0.0.1",
            running.name,
            "/usr/bin/python3",
            "-m",
            "echohub",
            "--healthcheck",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert probe.returncode == 1
    assert "echohub: unhealthy:" in probe.stderr


def test_sigtermDrains(container: Callable[..., Container]) -> None:
    """
    SIGTERM to the container (echohub is PID 1, with no init) drains: a
    response in progress is finished, a line client gets its echo and EOF;
    then echohub exits 0, well within the engine's grace period.
    """
    env, (line, web) = loopbackListeners()
    running = container(env, ["--network=host", *HARDENED])
    dripping = socket.create_connection(("127.0.0.1", web), timeout=10)
    dripping.sendall(b"GET /drip?numbytes=4&duration=2 HTTP/1.1\r\nHost: x\r\n\r\n")
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = dripping.recv(4096)
        assert chunk, head
        head += chunk
    assert head.startswith(b"HTTP/1.1 200"), head
    held = socket.create_connection(("127.0.0.1", line), timeout=10)
    held.sendall(b"in flight\n")
    assert recvUntil(held, 10) == b"in flight\n"
    started = time.monotonic()
    code = running.stop(timeout=30)
    elapsed = time.monotonic() - started
    assert code == 0, running.output
    assert elapsed < 8, elapsed
    assert recvAll(held) == b""
    held.close()
    body = head.split(b"\r\n\r\n", 1)[1] + recvAll(dripping)
    dripping.close()
    assert body.count(b"*") == 4, body
    assert "echohub stopped: every connection closed" in running.output
