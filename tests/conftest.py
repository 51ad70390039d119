"""Shared fixtures: the example snapshot, a fixed secret, and a CLI runner."""

from __future__ import annotations

pytest_plugins = ["tests.anvil"]

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from por.cli.app import app
from por.proofs.inclusion import Prover
from por.snapshot import build_snapshot

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
VECTORS = Path(__file__).resolve().parent / "vectors"
SECRET = bytes(range(32))

PTAU_FIXTURE = Path(__file__).resolve().parent / "fixtures" / "zk" / "pot12_d1e8b93edbe8c9ba.ptau"
"""The local, testing-only 2^12 phase-1 file of the tests' entropy (``por/v1 zk test vectors``), checked in: making
it takes minutes on 2 cores. ``tests/test_zk.py::test_checked_in_phase_1_is_the_local_one`` (slow) re-derives it
byte for byte; every zk test's setup reproducing the vectors' verifying keys relies on it being the right one."""


def pytest_configure(config: pytest.Config) -> None:
    """Seed the zk cache (build/zk or $POR_ZK_CACHE) with the checked-in phase-1 file, atomically."""
    import os
    import tempfile

    from por.zk.tools import default_cache_dir

    target = default_cache_dir() / "ptau" / PTAU_FIXTURE.name
    if target.is_file() or not PTAU_FIXTURE.is_file():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".seed-")
    with os.fdopen(fd, "wb") as fh:
        fh.write(PTAU_FIXTURE.read_bytes())
    os.replace(tmp, target)




def store_bytes(store: Path) -> dict[str, bytes]:
    """Every file of the store at ``store`` (``store.sqlite`` and its shard files) by name, with its bytes."""
    files = [store, *sorted((store.parent / "store").iterdir())]
    return {f.relative_to(store.parent).as_posix(): f.read_bytes() for f in files}


def flat(text: str) -> str:
    """CLI output with rich's line wrapping undone (runs of whitespace, newlines included, one space)."""
    return " ".join(text.split())


@pytest.fixture
def example(tmp_path: Path) -> tuple[Path, Path]:
    """A private copy of examples/snapshot.toml and examples/ledger.csv."""
    cfg = tmp_path / "snapshot.toml"
    ledger = tmp_path / "ledger.csv"
    shutil.copy(EXAMPLES / "snapshot.toml", cfg)
    shutil.copy(EXAMPLES / "ledger.csv", ledger)
    return cfg, ledger


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example snapshot built once with the fixed secret (read-only for tests)."""
    out = tmp_path_factory.mktemp("built") / "snap"
    build_snapshot(EXAMPLES / "snapshot.toml", EXAMPLES / "ledger.csv", out, secret=SECRET)
    return out


@pytest.fixture(scope="session")
def proofs(built: Path) -> dict[str, dict]:
    """Every account's proof document of the built example."""
    p = Prover(built)
    try:
        return {a: p.prove(a) for a in p.accounts()}
    finally:
        p.close()


@pytest.fixture
def cli():
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)

    return run


def write_json(path: Path, doc: object) -> Path:
    path.write_text(json.dumps(doc))
    return path
