"""
C{deploy/kubernetes}: every kustomization renders with C{kubectl kustomize},
passes strict schema validation for several Kubernetes versions
(C{kubernetes-validate}), says what the issue asks of a Deployment, and the
TLS overlay's pod runs under C{podman kube play} against the built image.
"""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from echohub import __version__
from echohub.config import Config
from echohub.tls import DevCertificates
from tests.image.conftest import freePort
from tests.support import ROOT, recvAll, recvUntil

KUBERNETES = ROOT / "deploy" / "kubernetes"
KUSTOMIZATIONS = ["", "base", "overlays/tls", "overlays/prometheus"]
VERSIONS = ["1.30.0", "1.33.0", "1.37.0"]


def render(directory: Path) -> list[dict[str, Any]]:
    """
    C{kubectl kustomize DIRECTORY}, as documents.
    """
    result = subprocess.run(
        ["kubectl", "kustomize", str(directory)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def byKind(docs: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    kinds: dict[str, list[dict[str, Any]]] = {}
    for doc in docs:
        kinds.setdefault(doc["kind"], []).append(doc)
    return kinds


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_validates(name: str, version: str) -> None:
    """
    Every resource of every kustomization is valid for each Kubernetes
    version, strictly: no field the schema does not know.
    """
    docs = render(KUBERNETES / name)
    assert docs
    for doc in docs:
        kubernetes_validate.validate(doc, version, strict=True)


def test_strictValidationRefusesUnknownField() -> None:
    """
    The validation would catch a misspelt field (C{readinessprobe}).
    """
    [deployment] = byKind(render(KUBERNETES))["Deployment"]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["readinessprobe"] = container.pop("readinessProbe")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, VERSIONS[-1], strict=True)


def test_deployment() -> None:
    """
    The Deployment probes C{/healthz}, runs as a non-root user with a
    read-only root and no capability, asks for and limits its resources,
    gives the drain more than its time (with no shell: no C{exec} hook),
    turns service links off and names the image by echohub's version; the
    Services, the PodDisruptionBudget and the autoscaler select its pods.
    """
    kinds = byKind(render(KUBERNETES))
    [deployment] = kinds["Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert container["image"] == f"localhost/echohub:{__version__}"
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "web"}
    assert "lifecycle" not in container
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 65532
    assert pod["enableServiceLinks"] is False
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert set(container["resources"]) == {"requests", "limits"}
    assert pod["terminationGracePeriodSeconds"] > Config().server.drain_timeout
    labels = deployment["spec"]["selector"]["matchLabels"]
    assert (
        labels.items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
    )
    ports = {
        service["metadata"]["name"]: [p["port"] for p in service["spec"]["ports"]]
        for service in kinds["Service"]
    }
    assert ports == {"echohub-line": [7007], "echohub-web": [8080]}
    for service in kinds["Service"]:
        assert service["spec"]["selector"] == labels
    [budget] = kinds["PodDisruptionBudget"]
    assert budget["spec"]["selector"]["matchLabels"] == labels
    [scaler] = kinds["HorizontalPodAutoscaler"]
    assert scaler["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]


def test_overlays() -> None:
    """
    The TLS overlay mounts the C{echohub-tls} Secret and adds TLS listeners
    and their Services; the Prometheus overlay annotates the pods for
    scraping C{/metrics}.
    """
    kinds = byKind(render(KUBERNETES / "overlays" / "tls"))
    [deployment] = kinds["Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    assert volumes["tls"]["secret"]["secretName"] == "echohub-tls"
    mounts = pod["containers"][0]["volumeMounts"]
    assert {"name": "tls", "mountPath": "/etc/echohub/tls", "readOnly": True} in mounts
    env = {e["name"]: e["value"] for e in pod["containers"][0]["env"]}
    assert "ssl:8443:" in env["ECHOHUB_WEB_LISTEN"]
    assert "ssl:7443:" in env["ECHOHUB_LINE_LISTEN"]
    names = {service["metadata"]["name"] for service in kinds["Service"]}
    assert {"echohub-web-tls", "echohub-line-tls"} <= names

    [deployment] = byKind(render(KUBERNETES / "overlays" / "prometheus"))["Deployment"]
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations == {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": "8080",
        "prometheus.io/path": "/metrics",
    }


@pytest.fixture
def played(
    engine: str, image: str, devcerts: DevCertificates, tmp_path: Path
) -> Iterator[tuple[int, int, int]]:
    """
    The TLS overlay's Deployment played by C{podman kube play}, changed as a
    test needs: one replica of the built image, never pulled, every port
    published on loopback only, and the C{echohub-tls} Secret's volume
    replaced by a directory holding the development certificate.  (podman
    4.3 writes a Secret's C{data} to its volume still base64-encoded, and
    ignores C{stringData}.)  Yields the published line, web and HTTPS ports.
    """
    if engine != "podman":
        pytest.skip("podman kube play needs podman")
    certs = tmp_path / "tls"
    certs.mkdir(mode=0o755)
    for name, source in (
        ("tls.crt", devcerts.server.certificate.path),
        ("tls.key", devcerts.server.privateKey.path),
    ):
        shutil.copyfile(source, certs / name)
        (certs / name).chmod(0o644)
    [deployment] = byKind(render(KUBERNETES / "overlays" / "tls"))["Deployment"]
    deployment["spec"]["replicas"] = 1
    pod = deployment["spec"]["template"]["spec"]
    [container] = pod["containers"]
    container["image"] = image
    container["imagePullPolicy"] = "Never"
    published = {}
    for port in container["ports"]:
        # podman publishes a port without hostPort on every address.
        port["hostIP"] = "127.0.0.1"
        port["hostPort"] = published[port["containerPort"]] = freePort()
    for volume in pod["volumes"]:
        if volume["name"] == "tls":
            assert volume.pop("secret")["secretName"] == "echohub-tls"
            volume["hostPath"] = {"path": str(certs), "type": "Directory"}
    played = tmp_path / "play.yaml"
    played.write_text(yaml.safe_dump(deployment))
    play = subprocess.run(
        [engine, "kube", "play", str(played)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    try:
        assert play.returncode == 0, play.stdout + play.stderr
        yield published[7007], published[8080], published[8443]
    finally:
        subprocess.run(
            [engine, "kube", "down", str(played)], capture_output=True, timeout=120
        )


def podLogs(engine: str) -> str:
    """
    What the played pod's containers printed (C{kube play} names a
    Deployment's pod NAME-pod-0).
    """
    return subprocess.run(
        [engine, "pod", "logs", "echohub-pod-0"],
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout


def test_kubePlay(
    played: tuple[int, int, int], devcerts: DevCertificates, engine: str
) -> None:
    """
    The pod of the TLS overlay runs the image as the manifests say
    (read-only, non-root, no capability, no service links, the certificate
    mounted where the Secret goes): C{/healthz} answers, the line echo
    echoes, and HTTPS serves with that certificate.
    """
    line, web, https = played
    deadline = time.monotonic() + 60
    while True:
        try:
            with socket.create_connection(("127.0.0.1", web), timeout=5) as sock:
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                if recvUntil(sock, 15, timeout=5).startswith(b"HTTP/1.1 200"):
                    break
        except OSError:
            pass
        assert time.monotonic() < deadline, podLogs(engine)
        time.sleep(0.5)
    with socket.create_connection(("127.0.0.1", line), timeout=10) as sock:
        sock.sendall(b"from the pod\n")
        sock.shutdown(socket.SHUT_WR)
        assert recvAll(sock) == b"from the pod\n"
    context = ssl.create_default_context(cafile=devcerts.ca.certificate.path)
    raw = socket.create_connection(("127.0.0.1", https), timeout=10)
    with context.wrap_socket(raw, server_hostname="localhost") as sock:
        sock.sendall(
            b"GET /echo?msg=tls HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        assert recvAll(sock).endswith(b"\r\n\r\ntls")
