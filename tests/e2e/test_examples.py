"""
Every example a newcomer is shown runs: the commands of README's "Try it"
and every example on the live page, each run by bash against a real echohub
whose ports stand in for the documented ones (7007, 7443, 7008, 8080, 8443),
in a directory where C{devcerts/} is the server's CA and C{README.md} and
C{file.bin} exist, as after C{make run} in a checkout.

A tool the example needs that this machine lacks (C{nc}, C{socat}: C{make
test} installs them as root) skips that example, saying which.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from echohub.tls._devcert import DevCertificates
from tests.support import ROOT, EchohubProcess, running, sslString

pytestmark = pytest.mark.e2e
# Routes whose examples may answer so by design.
EXPECTED_ERRORS = {
    "/status/200:0.8,500:0.2": {500},
    "/unstable": {500},
    "/hidden-basic-auth": {404},
    "/brotli": {501},
}


@pytest.fixture(scope="module")
def workdir(
    tmp_path_factory: pytest.TempPathFactory, devcerts: DevCertificates
) -> Path:
    """
    A directory laid out as a checkout after C{make run}.
    """
    where = tmp_path_factory.mktemp("newcomer")
    (where / "devcerts").symlink_to(Path(devcerts.ca.certificate.path).parent)
    shutil.copy(ROOT / "README.md", where / "README.md")
    (where / "file.bin").write_bytes(bytes(range(256)) * 4)
    bin = where / ".venv" / "bin"
    bin.mkdir(parents=True)
    for tool in ("echohub-client", "grpcurl"):
        (bin / tool).symlink_to(Path(sys.executable).parent / tool)
    return where


@pytest.fixture(scope="module")
def newcomer(workdir: Path, devcerts: DevCertificates) -> Iterator[EchohubProcess]:
    """
    echohub as C{make run} and README's byte and UDP echo line start it.
    """
    with running(
        {
            "ECHOHUB_LINE_LISTEN": f"tcp:0:interface=127.0.0.1 {sslString(devcerts)}",
            "ECHOHUB_WEB_LISTEN": f"tcp:0:interface=127.0.0.1 {sslString(devcerts)}",
            "ECHOHUB_ECHO_LISTEN": "tcp:0:interface=127.0.0.1",
            "ECHOHUB_UDP_LISTEN": "udp:0:interface=127.0.0.1",
        },
        cwd=str(workdir),
        listeners=6,
    ) as process:
        yield process


def localise(command: str, server: EchohubProcess) -> str:
    """
    The command with the documented ports replaced by the server's.
    """
    line, lineTLS = (server.address("line", i)[1] for i in (0, 1))
    web, webTLS = (server.address("web", i)[1] for i in (0, 1))
    echo, udp = server.address("echo")[1], server.address("udp")[1]
    command = re.sub(r"(?i)(udp:127\.0\.0\.1:)7007", rf"\g<1>{udp}", command)
    for documented, actual in [
        (7007, line),
        (7443, lineTLS),
        (7008, echo),
        (8080, web),
        (8443, webTLS),
    ]:
        command = re.sub(rf"(?<=[:\s]){documented}\b", str(actual), command)
    return command


def run(command: str, cwd: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """
    Run one example with bash; curl reports each status it received.
    """
    for tool in ("nc", "socat", "openssl", "curl"):
        if re.search(rf"(^|[|;]\s*){tool}\b", command) and not shutil.which(tool):
            pytest.skip(f"{tool} is not installed (make test installs it as root)")
    wrapper = (
        "curl() { command curl -sS --max-time 5"
        " -w '\\nSTATUS %{response_code}\\n' \"$@\"; }\n"
    )
    return subprocess.run(
        ["bash", "-c", wrapper + command],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        errors="replace",
        timeout=60,
        env={**os.environ, "PATH": f"{cwd}/.venv/bin:{os.environ['PATH']}"},
    )


def readmeCommands() -> list[str]:
    """
    The commands of README's "Try it": every line of its C{sh} blocks, with
    continuation lines joined, except the one that starts the server.
    """
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Try it\n", 1)[1].split("\n## ", 1)[0]
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", section, re.S):
        for command in block.replace("\\\n", " ").splitlines():
            if command.strip() and "make run" not in command:
                commands.append(command.strip())
    return commands


def pageExamples() -> list[str]:
    """
    The live page's examples: each curl cell, and each line of its
    terminal block, as a person copies them (the page shows its own origin
    where C{localhost:8080} is written).
    """
    page = (ROOT / "echohub" / "web" / "static" / "index.html").read_text()
    placeholder = r'<span class="(?:base|authority|plaintext)">(.*?)</span>'
    page = re.sub(placeholder, r"\1", page)
    cells = re.findall(r'<td class="curl"><code>(.*?)</code></td>', page, re.S)
    [terminal] = re.findall(r"<pre>(echohub-client.*?)</pre>", page, re.S)
    return [html.unescape(c) for c in cells] + html.unescape(terminal).splitlines()


def check(result: subprocess.CompletedProcess[str], command: str) -> None:
    """
    The example worked: bash exited 0 (curl's timeout is expected only
    for a WebSocket upgrade, which stays open after its C{101}), and every
    HTTP status curl saw is a success or one the example exists to show.
    """
    output = result.stdout + result.stderr
    statuses = [int(s) for s in re.findall(r"^STATUS (\d+)$", result.stdout, re.M)]
    upgrade = "Upgrade: websocket" in command
    if upgrade:
        assert "101 Switching Protocols" in result.stdout, output
    elif "echo-status: 14" in command:
        # The example shows a call ending with the status it asked for,
        # which grpcurl reports by its exit status.
        assert "Code: Unavailable" in output and "try later" in output, output
    else:
        assert result.returncode == 0, output
    allowed = set().union(*(v for k, v in EXPECTED_ERRORS.items() if k in command))
    for status in statuses:
        assert status < 400 or status in allowed or status == 401 and "-i" in command, (
            command,
            output,
        )


@pytest.mark.parametrize("command", readmeCommands())
def test_readme(command: str, newcomer: EchohubProcess, workdir: Path) -> None:
    """
    Each command of README's "Try it" works as written; an interactive one
    (C{# type ...}) echoes what is typed.
    """
    local = localise(command, newcomer)
    interactive = "# type" in command
    if interactive:
        result = run(f"timeout 3 {local.split('#')[0]}", workdir, stdin="hello\n")
        assert "hello" in result.stdout, result.stdout + result.stderr
        return
    result = run(local, workdir)
    check(result, command)
    comment = command.partition("# ")[2]
    for expected in re.findall(r"^(hello|\d+)\b", comment):
        assert expected in result.stdout, (command, result.stdout)


@pytest.mark.parametrize("example", pageExamples())
def test_page(example: str, newcomer: EchohubProcess, workdir: Path) -> None:
    """
    Each example on the live page works as written, against the page's
    own origin (and the TLS listener for C{/tls}).
    """
    local = localise(example.replace("localhost:8080", "127.0.0.1:8080"), newcomer)
    if example.startswith("openssl"):
        result = run(f"timeout 3 {local}", workdir, stdin="hello\n")
        assert "hello" in result.stdout, result.stdout + result.stderr
        return
    if "Upgrade: websocket" in example:
        local = local.replace("curl ", "curl --max-time 2 ", 1)
    check(run(local, workdir), example)
