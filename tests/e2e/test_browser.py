"""
The page at C{/} in a real browser: headless Chromium (Debian's
C{chromium} and C{chromium-driver}, installed by C{make test} when missing)
driven by Selenium against a real C{twistd -ny echohub.tac}, over C{http://}
with C{ws://} and over C{https://} with C{wss://}, the development
certificate trusted by its public key.

Set C{ECHOHUB_SCREENSHOTS=DIR} to keep phone and laptop screenshots.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import tempfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from echohub.tls._devcert import DevCertificates
from tests.support import EchohubProcess, running, sslString

pytestmark = pytest.mark.e2e

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"

if not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)):
    pytest.skip(
        "headless Chromium is not installed (apt-get install chromium"
        " chromium-driver; `make test` does this when run as root)",
        allow_module_level=True,
    )

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


def spkiHash(certificatePath: str) -> str:
    """
    The base64 SHA-256 of a certificate's public key, as Chromium's
    C{--ignore-certificate-errors-spki-list} takes it: the development
    certificate is trusted without touching a system trust store.
    """
    certificate = x509.load_pem_x509_certificate(Path(certificatePath).read_bytes())
    spki = certificate.public_key().public_bytes(
        Encoding.DER, PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(hashlib.sha256(spki).digest()).decode("ascii")


@pytest.fixture(scope="module")
def webServer(
    tmp_path_factory: pytest.TempPathFactory, devcerts: DevCertificates
) -> Iterator[EchohubProcess]:
    with running(
        {
            "ECHOHUB_LINE_LISTEN": "",
            "ECHOHUB_WEB_LISTEN": f"tcp:0:interface=127.0.0.1 {sslString(devcerts)}",
        },
        cwd=str(tmp_path_factory.mktemp("browser")),
        listeners=2,
    ) as process:
        yield process


@pytest.fixture(scope="module")
def browser(devcerts: DevCertificates) -> Iterator[object]:
    profile = tempfile.mkdtemp(prefix="echohub-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        "--window-size=1280,1000",
        "--ignore-certificate-errors-spki-list="
        + spkiHash(devcerts.server.certificate.path),
    ]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(
        options=options, service=webdriver.ChromeService(CHROMEDRIVER)
    )
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def text(driver: object, element: str) -> str:
    return str(driver.find_element(By.ID, element).text)  # type: ignore[attr-defined]


def waitFor(driver: object, element: str, predicate: object, what: str) -> None:
    """
    Wait up to 10 s for C{predicate(text of element)}.
    """
    WebDriverWait(driver, 10).until(
        lambda d: predicate(text(d, element)),  # type: ignore[operator]
        f"#{element}: {what}",
    )


@pytest.mark.parametrize("tls", [False, True], ids=["http-ws", "https-wss"])
def test_pageEchoes(webServer: EchohubProcess, browser: object, tls: bool) -> None:
    """
    The page connects its WebSocket by itself, shows the request details
    (with TLS facts over HTTPS), echoes a typed message by HTTP and by
    WebSocket, streams SSE events to the end, and violates no CSP.
    """
    driver = browser
    host, port = webServer.address("web", 1 if tls else 0)
    base = f"https://localhost:{port}" if tls else f"http://{host}:{port}"
    driver.get(base + "/")  # type: ignore[attr-defined]
    waitFor(driver, "ws-state", lambda t: t == "open", "WebSocket open")
    waitFor(driver, "details", lambda t: '"method": "GET"' in t, "request details")
    details = text(driver, "details")
    if tls:
        assert '"version": "TLSv1.' in details
        assert '"sni": "localhost"' in details
    else:
        assert '"tls": null' in details

    message = f"hello \u00e9 <b>{'tls' if tls else 'plain'}</b>"
    field = driver.find_element(By.ID, "msg")  # type: ignore[attr-defined]
    field.clear()
    field.send_keys(message)
    driver.find_element(By.ID, "send").click()  # type: ignore[attr-defined]
    waitFor(driver, "http-echo", lambda t: t == message, "HTTP echo")
    waitFor(driver, "ws-log", lambda t: "\u2190 " + message in t, "WebSocket echo")

    driver.find_element(By.ID, "sse-count").clear()  # type: ignore[attr-defined]
    driver.find_element(By.ID, "sse-count").send_keys("3")  # type: ignore[attr-defined]
    driver.find_element(By.ID, "sse-interval").clear()  # type: ignore[attr-defined]
    driver.find_element(By.ID, "sse-interval").send_keys("0.1")  # type: ignore[attr-defined]
    driver.find_element(By.ID, "sse-start").click()  # type: ignore[attr-defined]
    waitFor(driver, "sse-state", lambda t: t == "finished", "SSE stream finished")
    assert text(driver, "sse-log").count('"count": 3') == 3

    logs = driver.get_log("browser")  # type: ignore[attr-defined]
    problems = [e["message"] for e in logs if e["level"] == "SEVERE"]
    assert not [p for p in problems if "favicon" not in p], problems

    screenshots = os.environ.get("ECHOHUB_SCREENSHOTS")
    if screenshots:
        for name, size in [("laptop", (1280, 1000)), ("phone", (390, 844))]:
            driver.set_window_size(*size)  # type: ignore[attr-defined]
            driver.save_screenshot(  # type: ignore[attr-defined]
                str(Path(screenshots) / f"{name}-{'tls' if tls else 'plain'}.png")
            )
        driver.set_window_size(1280, 1000)  # type: ignore[attr-defined]


def webSocketSessions(server: EchohubProcess, http: str) -> float:
    """
    The server's count of WebSocket sessions carried by C{http}, from
    C{/metrics}.
    """
    host, port = server.address("web", 0)
    exposition = urllib.request.urlopen(
        f"http://{host}:{port}/metrics", timeout=10
    ).read()
    return sum(
        float(line.rpartition(" ")[2])
        for line in exposition.decode().splitlines()
        if line.startswith("echohub_websocket_sessions_total{")
        and f'http="{http}"' in line
    )


def test_webSocketOverHTTP2(webServer: EchohubProcess, browser: object) -> None:
    """
    Over HTTPS, Chromium loads the page over HTTP/2 and, the server having
    advertised C{SETTINGS_ENABLE_CONNECT_PROTOCOL}, opens the page's
    WebSocket inside that connection (RFC 8441, no flag needed): the
    server counts one more session carried by HTTP/2 and none by HTTP/1.1,
    and once the page's Close completes the close handshake, its access
    line says the session rode HTTP/2.
    """
    driver = browser
    _, port = webServer.address("web", 1)
    before = (
        webSocketSessions(webServer, "HTTP/2"),
        webSocketSessions(webServer, "HTTP/1.1"),
    )
    driver.get(f"https://localhost:{port}/")  # type: ignore[attr-defined]
    waitFor(driver, "ws-state", lambda t: t == "open", "WebSocket open")
    field = driver.find_element(By.ID, "msg")  # type: ignore[attr-defined]
    field.clear()
    field.send_keys("over h2")
    driver.find_element(By.ID, "send").click()  # type: ignore[attr-defined]
    waitFor(driver, "ws-log", lambda t: "\u2190 over h2" in t, "WebSocket echo")
    after = (
        webSocketSessions(webServer, "HTTP/2"),
        webSocketSessions(webServer, "HTTP/1.1"),
    )
    assert (after[0] - before[0], after[1] - before[1]) == (1, 0)
    driver.find_element(By.ID, "ws-close").click()  # type: ignore[attr-defined]
    waitFor(driver, "ws-state", lambda t: t == "closed 1000 bye", "closed")
    webServer.waitForOutput(
        r"CONNECT /ws 200 .*websocket over HTTP/2, \S+, 1 messages in, 1 out,"
        r" close 1000 by client, origin https://localhost:" + str(port)
    )
