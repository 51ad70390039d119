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

ZK_FILES = ("test_zk", "test_vectors_zk", "test_vectors_margin_zk")
"""Test files that compile circuits and run Groth16 setups in the shared cache (build/zk)."""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under pytest-xdist (``-n 2 --dist loadgroup``, as `.ci/run` runs) every zk test runs in one worker, so no two
    processes compile the same circuit or phase-1 file into the shared cache at once; the rest spread over workers."""
    for item in items:
        if item.path.name.startswith(ZK_FILES):
            item.add_marker(pytest.mark.xdist_group("zk"))


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
