"""Scale (slow; run with ``-m slow`` or from ``benchmarks/bench_scale.py --memory-test``): bounded memory.

A public build of ``POR_SCALE_USERS`` users (default 3M) x 4 assets in a fresh process, on one process and on
two local workers: the largest resident set of any process of the build stays under ``POR_SCALE_MAX_MIB``
(default 1024 MiB; the 1M x 4 build peaks near 0.3 GiB, so this is ~3x headroom, not a fit), and proofs
sampled from the store verify against the published snapshot. Timing is never asserted here
(BENCHMARKS.md records it).
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from por.core.fileio import read_json
from por.proofs.inclusion import Prover, verify_proof
from por.snapshot.document import snapshot_from_dict

from .conftest import SECRET

USERS = int(os.environ.get("POR_SCALE_USERS", "3000000"))
MAX_MIB = int(os.environ.get("POR_SCALE_MAX_MIB", "1024"))
POR = str(Path(sys.executable).with_name("por"))


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    d = tmp_path_factory.mktemp("scale")
    subprocess.run([sys.executable, "-m", "por.demo.examples", "--users", str(USERS), "--assets", "4",
                    "--buckets", "2", "--out", str(d)], check=True, capture_output=True)
    secret = d / "secret.key"
    secret.write_text(SECRET.hex() + "\n")
    secret.chmod(0o600)
    return d / "snapshot.toml", d / "ledger.csv", secret


@pytest.mark.slow
@pytest.mark.parametrize("engine", [[], ["--jobs", "2"]], ids=["serial", "jobs2"])
def test_a_large_build_runs_in_bounded_memory(big, tmp_path: Path, engine: list[str]) -> None:
    cfg, led, secret = big
    out = tmp_path / "snap"
    probe = ("import resource, subprocess, sys\n"
             "r = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
             "print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
             "sys.stderr.write(r.stderr)\n")
    p = subprocess.run([sys.executable, "-c", probe, POR, "build", "--config", str(cfg), "--ledger", str(led),
                        "--out", str(out), "--secret", str(secret), "--json", *engine],
                       capture_output=True, text=True, timeout=3600)
    code, peak_kib = p.stdout.split()
    assert code == "0", p.stderr
    assert int(peak_kib) < MAX_MIB * 1024, f"peak {int(peak_kib) // 1024} MiB"
    snapshot = snapshot_from_dict(read_json(out / "snapshot.json", "snapshot"), file="snapshot.json")
    prover = Prover(out)
    try:
        for u in (0, USERS // 2, USERS - 1):
            account = f"user-{u:07d}"
            assert verify_proof(prover.prove(account), snapshot=snapshot).account_id == account
    finally:
        prover.close()
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss < MAX_MIB * 1024  # the test itself read little
