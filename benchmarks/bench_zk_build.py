"""zk-mode build cost (SPEC.md §16.10): the Poseidon batch levels beside the public-mode build of the same ledger.

    python benchmarks/bench_zk_build.py [--users 100000] [--batch-height 8] [--jobs 2]

Builds the same generated ledger (1 bucket, 2 assets) twice in memory with ``build_trees``: public mode
(the floor: SHA-256 Merkle-sum tree, numpy-vectorised) and zk mode (Poseidon leaves and batch nodes in pure
Python, ``--jobs`` processes, then SHA-256 above the batches). The verifying key is the test vectors' key
(its value does not change the work). Proving is measured separately by ``bench_zk.py``.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from por.core.config import load_config  # noqa: E402
from por.demo.examples import write_example  # noqa: E402
from por.snapshot import build_trees  # noqa: E402
from por.zk.groth16 import load_verifying_key  # noqa: E402
from por.zk.poseidon import poseidon  # noqa: E402
from por.zk.setup import ZkParams  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=100_000)
    ap.add_argument("--batch-height", type=int, default=8)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    a = ap.parse_args()
    vk = load_verifying_key(ROOT / "tests" / "vectors" / "zk" / "verification_key.json")  # nPublic = 3 (A = 2)
    params = ZkParams(a.batch_height, vk)
    secret = bytes(range(32))
    with tempfile.TemporaryDirectory() as tmp:
        cfg, ledger = write_example(Path(tmp), a.users, assets=2, buckets=1)
        config = load_config(cfg)
        t = time.perf_counter()
        _, built, _ = build_trees(config, ledger, secret)
        public_s = time.perf_counter() - t
        t = time.perf_counter()
        _, zbuilt, _ = build_trees(config, ledger, secret, zk=params, jobs=a.jobs)
        zk_s = time.perf_counter() - t
    leaves = 1 << zbuilt[0].height
    t = time.perf_counter()
    for i in range(2000):
        poseidon((i, i + 1))
    node_us = (time.perf_counter() - t) / 2000 * 1e6
    t = time.perf_counter()
    for i in range(2000):
        poseidon((i, i + 1, 5, 7))
    leaf_us = (time.perf_counter() - t) / 2000 * 1e6
    floor = leaves * (leaf_us + node_us * (1 - 2 ** -a.batch_height)) / 1e6 / a.jobs
    print(f"# {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, jobs {a.jobs}")
    print("| users | leaves (2^h) | k | public build | zk build | zk / public | Poseidon floor (leaves + batch nodes / jobs) |")
    print("|---|---|---|---|---|---|---|")
    print(f"| {a.users} | {leaves} | {a.batch_height} | {public_s:.1f} s | {zk_s:.1f} s | {zk_s / public_s:.0f}x "
          f"| {floor:.1f} s ({leaf_us:.0f} µs/leaf t=5, {node_us:.0f} µs/node t=3) |")


if __name__ == "__main__":
    main()
