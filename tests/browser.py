"""Headless Chromium for tests (Debian's `chromium`, installed by .ci/setup)."""

from __future__ import annotations

import base64
import shutil
import subprocess
import tempfile
from pathlib import Path

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--virtual-time-budget=5000"]


def chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        raise AssertionError("chromium is not installed: run `bash .ci/setup` (it installs Debian's chromium)")
    return exe


def run(url: str, *extra: str) -> str:
    with tempfile.TemporaryDirectory(prefix="por-chromium-") as profile:
        res = subprocess.run([chromium(), *FLAGS, f"--user-data-dir={profile}", *extra, url],
                             capture_output=True, text=True, timeout=120)
    return res.stdout


def dump_dom(page: Path, fragment: str = "") -> str:
    return run(page.resolve().as_uri() + fragment, "--dump-dom")


def screenshot(page: Path, name: str, fragment: str = "", size: str = "1100,900") -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    out = ARTIFACTS / name
    run(page.resolve().as_uri() + fragment, f"--screenshot={out}", f"--window-size={size}")
    assert out.exists() and out.stat().st_size > 1000, f"no screenshot written for {page}"
    return out


def proof_fragment(proof_text: str) -> str:
    return "#proof=" + base64.urlsafe_b64encode(proof_text.encode()).decode().rstrip("=")
