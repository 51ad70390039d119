"""`por zk prove` killed with SIGKILL (by PID) while it proves: every batch proof in view is whole, and the
re-run resumes: it keeps the proofs already written and proves the rest.

Public CLI only (por/zk and por/modes/zk.py are being rewritten); named test_zk_* so that it runs in the
zk worker (tests/conftest.py).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from .test_zk_mode import CONFIG, ENTROPY, LEDGER, SECRET_HEX

POR = [sys.executable, "-m", "por"]


def por(*args: object, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([*POR, *map(str, args)], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("zkcrash")
    setup = base / "setup"
    r = por("zk", "setup", setup, "--batch-height", 2, "--assets", 2, "--entropy", ENTROPY, "--json")
    assert r.returncode == 0, r.stderr
    (base / "snapshot.toml").write_text(CONFIG)
    (base / "ledger.csv").write_text(LEDGER)
    (base / "secret.key").write_text(SECRET_HEX)
    (base / "secret.key").chmod(0o600)
    out = base / "snap"
    r = por("build", "--config", base / "snapshot.toml", "--ledger", base / "ledger.csv", "--out", out,
            "--secret", base / "secret.key", "--zk", setup)
    assert r.returncode == 0, r.stderr
    return out


def _owner(d: Path) -> int | None:
    try:
        return int((d / ".por-owner").read_text())
    except (OSError, ValueError):
        return None


def _proofs(snap: Path) -> list[Path]:
    return sorted(p for p in (snap / "zk").rglob("*") if p.is_file())


def test_killed_zk_prove_leaves_whole_proofs_and_resumes(built: Path) -> None:
    proc = subprocess.Popen([*POR, "zk", "prove", str(built)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:  # kill once the first batch proof is out
        if any(p.suffix == ".json" for p in _proofs(built)):
            break
        time.sleep(0.05)
    time.sleep(0.3)
    if proc.poll() is not None:
        pytest.skip("zk prove finished before the kill")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    left = [d for d in Path(tempfile.gettempdir()).glob("por-zk-prove-*") if _owner(d) == proc.pid]
    visible = [p for p in _proofs(built) if not p.name.startswith(".")]
    assert visible and all(p.suffix == ".json" for p in visible), visible
    for p in visible:  # whole documents, never a half-written file
        doc = json.loads(p.read_text())
        assert doc["format"] and doc["proof"]
    r = por("zk", "prove", built, "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["skipped"] >= len(visible) and doc["proved"] + doc["skipped"] == doc["batches"] == 5
    assert [p for p in _proofs(built) if p.name.startswith(".")] == [], "temporary files left behind"
    assert left and not any(d.exists() for d in left), "the killed run's witnesses were not removed by the re-run"
    for p in _proofs(built):  # (that they verify is tests/test_zk_mode.py's: proving is deterministic)
        assert json.loads(p.read_text())["proof"]
