"""Shared helpers for the deployment tests.

A missing tool skips its test with a reason, unless PIESHOP_REQUIRE_ALL is set: then a
missing tool is a failure, so CI cannot pass by skipping.
"""
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "scripts"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
FUNCTIONS = ("command", "query", "negotiate", "projection", "relay", "verify")


def require_tool(name: str) -> str:
    """Path of a tool on PATH, or skip (fail under PIESHOP_REQUIRE_ALL)."""
    path = shutil.which(name)
    if path:
        return path
    message = f"{name} is not installed (PATH={os.environ.get('PATH', '')})"
    if os.environ.get("PIESHOP_REQUIRE_ALL"):
        pytest.fail(message + " and PIESHOP_REQUIRE_ALL is set")
    pytest.skip(message)


def build_package(tmp_path: Path, binary: Path) -> Path:
    """Run scripts/package.sh on a binary; return the zip path."""
    require_tool("zip")
    out = tmp_path / "pieshop.zip"
    subprocess.run(
        [str(SCRIPTS / "package.sh"), "--binary", str(binary), "--out", str(out)],
        check=True, capture_output=True, text=True,
    )
    return out


@pytest.fixture
def fake_binary(tmp_path: Path) -> Path:
    """A stand-in handler without the execute bit, so the test proves package.sh sets it."""
    path = tmp_path / "handler-src"
    path.write_bytes(b"\x7fELF-not-really")
    path.chmod(0o644)
    return path


@pytest.fixture
def package_zip(tmp_path: Path, fake_binary: Path) -> zipfile.ZipFile:
    with zipfile.ZipFile(build_package(tmp_path, fake_binary)) as zf:
        yield zf
