"""Tree-building benchmark: build time and peak memory vs the SHA-256 floor.

    python benchmarks/bench_tree.py [--users 100000 1000000] [--assets 4] [--buckets 2]

For each size: generate a deterministic ledger (``por.demo.examples``), then in fresh
subprocesses measure (a) parsing only, (b) parsing + every tree in memory
(``build_trees``), (c) ``build_snapshot`` end to end (CSV -> trees -> SQLite store
-> snapshot.json) with its peak RSS. The floor is the time for the same number of
bare ``hashlib.sha256(msg).digest()`` calls as the tree build makes (leaf, padding
and node hashes plus the HMAC-SHA256 derivations, each HMAC counted as one call),
on messages of the node preimage's length, measured in the same run.
Targets (issue 3): tree building <= 3x floor; 1M x 4 end to end <= 60 s; peak <= 2 GiB.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
from por.core.config import load_config
from por.core.ledger import read_ledger
from por.snapshot import build_snapshot, build_trees
cfg_path, ledger, out, what = sys.argv[1:5]
cfg = load_config(Path(cfg_path))
t = time.perf_counter()
if what == "parse":
    n = sum(1 for _ in read_ledger(Path(ledger), cfg))
    res = {"rows": n}
elif what == "trees":
    snap, built, stats = build_trees(cfg, Path(ledger), bytes(32))
    res = {"rows": stats.rows, "leaves": sum(1 << b.height for b in built),
           "capacity": [1 << b.height for b in built], "real": [b.rows for b in built]}
else:
    r = build_snapshot(cfg, Path(ledger), Path(out), secret=bytes(32))
    res = {"rows": r.rows}
res["seconds"] = time.perf_counter() - t
res["peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(res))
"""


def child(cfg: Path, ledger: Path, out: Path, what: str) -> dict:
    p = subprocess.run([sys.executable, "-c", CHILD, str(cfg), str(ledger), str(out), what],
                       capture_output=True, text=True)
    if p.returncode:
        sys.exit(f"benchmark child {what!r} failed:\n{p.stderr}")
    return json.loads(p.stdout)


def sha_floor(calls: int, assets: int) -> float:
    """Seconds for ``calls`` bare SHA-256 calls on node-preimage-sized messages (best of 3 on a sample)."""
    import hashlib

    size = 15 + 2 * (32 + 2 + 8 * assets)
    msgs = [os.urandom(size) for _ in range(1000)]
    sample = 200_000
    best = float("inf")
    sha = hashlib.sha256
    for _ in range(3):
        t = time.perf_counter()
        for i in range(sample // 1000):
            for m in msgs:
                sha(m).digest()
        best = min(best, time.perf_counter() - t)
    return best * calls / sample


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--assets", type=int, default=4)
    ap.add_argument("--buckets", type=int, default=2)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from por.demo.examples import write_example

    print(f"# machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, {platform.system()} {platform.release()}")
    rows = []
    for users in a.users:
        with tempfile.TemporaryDirectory(prefix="por-bench-") as tmp:
            tmp = Path(tmp)
            cfg, ledger = write_example(tmp / "in", users, a.assets, a.buckets)
            parse = child(cfg, ledger, tmp / "o1", "parse")
            trees = child(cfg, ledger, tmp / "o2", "trees")
            e2e = child(cfg, ledger, tmp / "o3", "build")
            real, cap = sum(trees["real"]), sum(trees["capacity"])
            # leaf: sha + 2 HMAC; pad: sha + HMAC; node: sha (capacity - 1 per bucket)
            calls = 3 * real + 2 * (cap - real) + sum(c - 1 for c in trees["capacity"])
            floor = sha_floor(calls, a.assets)
            tree_s = trees["seconds"] - parse["seconds"]
            rows.append({
                "users": users, "rows": parse["rows"], "assets": a.assets, "buckets": a.buckets,
                "leaves": cap, "hash_calls": calls, "floor_s": round(floor, 2), "parse_s": round(parse["seconds"], 2),
                "tree_s": round(tree_s, 2), "tree_vs_floor": round(tree_s / floor, 2),
                "end_to_end_s": round(e2e["seconds"], 2), "peak_mib": round(e2e["peak_mib"]),
            })
    if a.json:
        print(json.dumps(rows, indent=2))
        return
    cols = list(rows[0])
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for r in rows:
        print("| " + " | ".join(str(r[c]) for c in cols) + " |")
    print("\nTargets: tree_vs_floor <= 3; 1M x 4 end_to_end_s <= 60; peak_mib <= 2048.")


if __name__ == "__main__":
    main()
