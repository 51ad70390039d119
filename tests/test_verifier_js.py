"""The browser verifier's JavaScript (por/web/js/) under node's test runner: `node --test tests/js/` runs the SPEC
vectors of tests/vectors/ (public, margin, hiding, margin-hiding, zk, margin-zk; generators, transcript, range
proofs, Poseidon) through it, genuine proofs and tamperings. Part of the default test command through this test."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_node_test_runner_over_the_spec_vectors() -> None:
    node = shutil.which("node")
    assert node is not None, "node is not installed (Node.js >= 20: see scripts/setup-node.sh)"
    assert (ROOT / "node_modules" / "@noble" / "curves").is_dir(), "run `bash scripts/setup-node.sh`"
    res = subprocess.run([node, "--test", "tests/js/"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    tail = "\n".join(res.stdout.splitlines()[-12:])
    assert res.returncode == 0, res.stdout[-6000:] + res.stderr[-2000:]
    assert "# fail 0" in res.stdout and "# pass " in res.stdout, tail
