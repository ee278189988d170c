"""
Tests for the packaging (C{setup.cfg}, C{MANIFEST.in}): C{python -m build}
makes an sdist and, from it, a wheel that hold what echohub needs and
nothing stray, without a setuptools warning.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_SOURCES = ("echohub", "twisted", "deploy", "docs")
_FILES = (
    "setup.cfg",
    "pyproject.toml",
    "README.md",
    "MANIFEST.in",
    "echohub.tac",
    "LICENSE",
    "CHANGELOG.md",
)


@pytest.fixture(scope="module")
def built() -> Iterator[tuple[Path, Path, str]]:
    """
    Build from a copy of the source tree (so the tree gets no C{build/} or
    C{*.egg-info} and a concurrent C{pip install .} is not disturbed).

    @return: the wheel, the sdist and the build's output.
    """
    if importlib.util.find_spec("build") is None:
        pytest.skip("the build package is not installed (pip install .[test])")
    with tempfile.TemporaryDirectory(prefix="echohub-build-") as directory:
        tree = Path(directory) / "src"
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "dropin.cache")
        for name in _SOURCES:
            shutil.copytree(ROOT / name, tree / name, ignore=ignore)
        for name in _FILES:
            shutil.copy2(ROOT / name, tree / name)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        result = subprocess.run(
            [sys.executable, "-m", "build", "--outdir", str(tree / "dist"), "."],
            cwd=tree,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        out = Path(tempfile.mkdtemp(prefix="echohub-dist-"))
        [wheel] = [shutil.copy2(p, out) for p in (tree / "dist").glob("*.whl")]
        [sdist] = [shutil.copy2(p, out) for p in (tree / "dist").glob("*.tar.gz")]
    yield Path(wheel), Path(sdist), result.stdout + result.stderr
    shutil.rmtree(out)


def test_wheelContents(built: tuple[Path, Path, str]) -> None:
    """
    The wheel holds every module of the package, the live page, the
    plugin dropin, C{py.typed}, and the deployment files (C{echohub.tac} and
    C{deploy/}, under C{echohub/_files}), and no other file outside its
    metadata.
    """
    wheel, _, _ = built
    names = {n for n in zipfile.ZipFile(wheel).namelist() if ".dist-info/" not in n}
    expected = {
        p.relative_to(ROOT).as_posix() for p in (ROOT / "echohub").rglob("*.py")
    }
    expected |= {"echohub/_files/echohub.tac"} | {
        "echohub/_files/" + p.relative_to(ROOT).as_posix()
        for p in (ROOT / "deploy").rglob("*")
        if p.is_file()
    }
    expected |= {
        "echohub/py.typed",
        "echohub/web/static/index.html",
        "twisted/plugins/echohub_plugin.py",
    }
    # The gRPC services' .proto files and their compiled descriptors.
    expected |= {
        p.relative_to(ROOT).as_posix()
        for p in (ROOT / "echohub" / "grpc" / "protos").rglob("*")
        if p.suffix in (".proto", ".binpb")
    }
    # /image's pictures (echohub.web.httpbin._images).
    expected |= {
        p.relative_to(ROOT).as_posix()
        for p in (ROOT / "echohub" / "web" / "static" / "images").iterdir()
    }
    assert "echohub/web/static/index.html" in names
    assert "twisted/plugins/echohub_plugin.py" in names
    assert names == expected, (sorted(names - expected), sorted(expected - names))


def test_wheelMetadata(built: tuple[Path, Path, str]) -> None:
    """
    The wheel is the C{echohub-server} distribution (C{echohub} on PyPI is
    another project) at echohub's version, carries the MIT licence text,
    names the project's URLs, and installs the C{echohub} command.
    """
    wheel, _, _ = built
    from echohub import __version__

    assert wheel.name == f"echohub_server-{__version__}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as archive:
        info = f"echohub_server-{__version__}.dist-info"
        licence = archive.read(f"{info}/licenses/LICENSE").decode()
        metadata = archive.read(f"{info}/METADATA").decode()
        entryPoints = archive.read(f"{info}/entry_points.txt").decode()
    assert licence == (ROOT / "LICENSE").read_text()
    assert licence.startswith("MIT License\n")
    head = metadata.split("\n\n", 1)[0].splitlines()
    assert "Name: echohub-server" in head
    assert "License: MIT" in head
    assert "License-File: LICENSE" in head
    assert any(line.startswith("Project-URL: Changelog, https://") for line in head)
    assert "echohub = echohub.command:main" in entryPoints


def test_sdistContents(built: tuple[Path, Path, str]) -> None:
    """
    The sdist carries what a deployment needs beside the package: the
    README, the licence, the changelog, the C{.tac} file, the systemd units
    and the Kubernetes manifests.
    """
    _, sdist, _ = built
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    for name in (
        "README.md",
        "LICENSE",
        "CHANGELOG.md",
        "echohub.tac",
        "deploy/echohub.service",
        "deploy/kubernetes/kustomization.yaml",
        "MANIFEST.in",
    ):
        assert name in names, name
    assert "echohub/web/static/index.html" in names


def test_noWarnings(built: tuple[Path, Path, str]) -> None:
    """
    setuptools says nothing to warn about (the live page used to be package
    data the packaging did not declare).
    """
    _, _, output = built
    warnings = [line for line in output.splitlines() if "warning" in line.lower()]
    assert warnings == []
