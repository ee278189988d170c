"""
End-to-end tests of the catch-all echo (C{[web] echo_any_path}) with its
controls, and of request logging (C{[log] requests}), against a real
C{twistd -ny echohub.tac}, with curl over HTTP/1.1 and HTTP/2, and of the
ready line and the quiet log.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator

import pytest

from echohub.tls._devcert import DevCertificates
from tests.support import EchohubProcess, running, sslString

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed"),
]


@pytest.fixture(scope="module")
def hub(devcerts: DevCertificates) -> Iterator[EchohubProcess]:
    """
    echohub with the catch-all on under a prefix, every request logged with
    up to 8 bytes of body, in JSON lines.
    """
    with running(
        {
            "ECHOHUB_LINE_LISTEN": "",
            "ECHOHUB_WEB_LISTEN": f"tcp:0:interface=127.0.0.1 {sslString(devcerts)}",
            "ECHOHUB_WEB_ECHO_ANY_PATH": "true",
            "ECHOHUB_WEB_PREFIX": "/hub",
            "ECHOHUB_WEB_MAX_DELAY": "2",
            "ECHOHUB_LOG_REQUESTS": "body",
            "ECHOHUB_LOG_BODY_BYTES": "8",
            "ECHOHUB_SERVER_LOG_FORMAT": "json",
        },
        listeners=2,
    ) as process:
        yield process


def curl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["curl", "-sS", "--max-time", "10", *args],
        capture_output=True,
        text=True,
        timeout=20,
        check=True,
    )


def base(hub: EchohubProcess) -> str:
    host, port = hub.address("web")
    return f"http://{host}:{port}/hub"


def records(hub: EchohubProcess, namespace: str) -> list[dict[str, object]]:
    """
    The JSON log records of C{namespace} so far.
    """
    found = []
    for line in hub.lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if record.get("namespace") == namespace:
            found.append(record)
    return found


def test_webhook(hub: EchohubProcess) -> None:
    """
    A POST to a path no route serves gets C{/anything}'s JSON, and the log
    holds it as one structured event: the head in order with the token
    hidden, the first 8 bytes of the body, and the access line with the
    version, transport and User-Agent.
    """
    result = curl(
        "-A",
        "hook/1",
        "-H",
        "Authorization: Bearer s3cret",
        "-H",
        "Content-Type: application/json",
        "--data",
        '{"event": "push"}',
        base(hub) + "/webhook/github?x=1",
    )
    facts = json.loads(result.stdout)
    assert (facts["method"], facts["path"]) == ("POST", "/hub/webhook/github")
    assert facts["json"] == {"event": "push"}
    hub.waitForOutput(r"web request: .*/hub/webhook/github")
    [record] = [
        r
        for r in records(hub, "echohub.requests")
        if "webhook" in str(r.get("request"))
    ]
    request = record["request"]
    assert isinstance(request, dict)
    assert request["target"] == "/hub/webhook/github?x=1"
    assert ["Authorization", "Bearer s3cret"] not in request["headers"]
    assert ["User-Agent", "hook/1"] in request["headers"]
    assert (request["body"], request["body_bytes"]) == ('{"event"', 17)
    assert "s3cret" not in "".join(hub.lines)
    hub.waitForOutput(
        r"web access: .* POST /hub/webhook/github\?x=1 200 .*,"
        r' HTTP/1.1 plain, \\"hook/1\\"'
    )


def test_controlsOverBothVersions(hub: EchohubProcess) -> None:
    """
    The status, content type and headers controls work over HTTP/1.1 and
    HTTP/2 alike; a known route with another method keeps its 405.
    """
    for version in ("--http1.1", "--http2-prior-knowledge"):
        result = curl(
            version,
            "-i",
            "-H",
            "x-set-response-header: X-Hook: yes",
            base(hub) + "/health?x-set-response-status-code=418"
            "&x-set-response-content-type=text/plain",
        )
        head, _, body = result.stdout.partition("\n\n")
        head = head.lower()
        assert head.splitlines()[0].split()[1] == "418", head
        assert "content-type: text/plain" in head
        assert "x-hook: yes" in head
        assert json.loads(body)["path"] == "/hub/health"
    wrong = curl(
        "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", base(hub) + "/get"
    )
    assert wrong.stdout == "405"
    outside = curl(
        "-o", "/dev/null", "-w", "%{http_code}", base(hub).removesuffix("/hub") + "/x"
    )
    assert outside.stdout == "404"


def test_delayBounded(hub: EchohubProcess) -> None:
    """
    C{x-set-response-delay-ms} delays the answer; beyond C{[web]
    max_delay} it is a C{400} naming the setting.
    """
    started = time.monotonic()
    curl("-H", "x-set-response-delay-ms: 400", base(hub) + "/slow")
    assert time.monotonic() - started >= 0.4
    refused = subprocess.run(
        ["curl", "-sS", "-H", "x-set-response-delay-ms: 2001", base(hub) + "/slow"],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert "[web] max_delay" in refused.stdout


def test_readyLineAndQuietLog(hub: EchohubProcess) -> None:
    """
    The log says once which URLs are served and by which version, and has
    none of Twisted's factory and port lines.
    """
    hub.waitForOutput(
        r"echohub \d+\.\d+\.\d+\S* serving web http://127\.0\.0\.1:\d+/hub/"
    )
    assert "Starting factory" not in hub.output
    assert " starting on " not in hub.output
