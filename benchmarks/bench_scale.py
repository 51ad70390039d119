"""Scale-out benchmark: `por build` end to end (CSV included) at 1M / 10M users, per engine, with peak RSS.

    python benchmarks/bench_scale.py                       # 1M x 1 vs openreserve; 1M and 10M x 4 per engine
    python benchmarks/bench_scale.py --users 1000000 --engines serial,jobs2 --assets 4

Each build is a fresh `por build` process (public mode, one bucket, default height); the time is its
wall clock and `peak_mib` the largest resident set of any process of the run (``RUSAGE_CHILDREN``:
the driver, its local workers and, for `local` Dask, the cluster's workers). The floor it compares to
is the plain-Merkle PyPI peer `openreserve` (`pip install por[bench]`): its `MerkleTree` over the same
balances (sumless, unsalted, no padding, no store) in the same run, timed alone (tree build only, the
CSV not included) -- the issue's target is por end to end ≤ that.
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
POR = str(Path(sys.executable).with_name("por"))
ENGINES = {"serial": [], "jobs2": ["--jobs", "2"], "dask-local": ["--scheduler", "local"]}


def make_ledger(d: Path, users: int, assets: int) -> tuple[Path, Path]:
    d.mkdir(parents=True, exist_ok=True)
    cfg, led = d / "snapshot.toml", d / "ledger.csv"
    if not led.is_file():
        subprocess.run([sys.executable, "-m", "por.demo.examples", "--users", str(users), "--assets", str(assets),
                        "--buckets", "1", "--out", str(d)], check=True)
    return cfg, led


def run_build(cfg: Path, led: Path, out: Path, extra: list[str], work: Path) -> tuple[float, float]:
    """Wall seconds and peak MiB (largest process) of one `por build` in a child process tree."""
    code = ("import resource,subprocess,sys,time;t=time.perf_counter();"
            "r=subprocess.run(sys.argv[1:],stdout=subprocess.DEVNULL);"
            "print(time.perf_counter()-t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, r.returncode)")
    secret = work / "secret.key"
    if not secret.exists():
        secret.write_text("00" * 32)
        secret.chmod(0o600)
    res = subprocess.run([sys.executable, "-c", code, POR, "build", "--config", str(cfg), "--ledger", str(led),
                          "--out", str(out), "--secret", str(secret), *extra],
                         capture_output=True, text=True, check=True)
    wall, rss, rc = res.stdout.split()
    if rc != "0":
        raise SystemExit(f"por build failed ({rc}): {res.stderr}")
    return float(wall), int(rss) / 1024


def openreserve_tree(cfg: Path, led: Path) -> float:
    """Seconds for openreserve's MerkleTree over the ledger's balances (first asset, exact minor units)."""
    from openreserve import MerkleLeaf, MerkleTree

    from por.core.config import load_config
    from por.core.ledger import parse_amount

    asset = load_config(cfg).assets[0]
    with open(led, newline="") as fh:
        rows = csv.reader(fh)
        next(rows)
        leaves = [MerkleLeaf(r[0], parse_amount(r[2], asset.decimals), asset.symbol) for r in rows]
    t = time.perf_counter()
    MerkleTree(leaves)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--users", default="1000000,10000000", help="comma-separated user counts for the x4 rows")
    ap.add_argument("--assets", type=int, default=4)
    ap.add_argument("--engines", default="serial,jobs2,dask-local")
    ap.add_argument("--skip-peer", action="store_true", help="skip the 1M x 1 row beside openreserve")
    ap.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "por-bench-scale")
    a = ap.parse_args()
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()},"
          f" load {os.getloadavg()[0]:.2f}")
    rows = []
    if not a.skip_peer:
        cfg, led = make_ledger(a.dir / "1000000x1", 1_000_000, 1)
        for name in ("serial", "jobs2"):
            out = Path(tempfile.mkdtemp(dir=a.dir)) / "snap"
            wall, rss = run_build(cfg, led, out, ENGINES[name], a.dir)
            rows.append((1_000_000, 1, name, wall, rss))
            subprocess.run(["rm", "-rf", str(out.parent)])
        floor = openreserve_tree(cfg, led)
        print(f"openreserve MerkleTree over the same 1M balances (floor): {floor:.2f} s")
    for users in [int(u) for u in a.users.split(",") if u]:
        cfg, led = make_ledger(a.dir / f"{users}x{a.assets}", users, a.assets)
        for name in a.engines.split(","):
            out = Path(tempfile.mkdtemp(dir=a.dir)) / "snap"
            wall, rss = run_build(cfg, led, out, ENGINES[name], a.dir)
            rows.append((users, a.assets, name, wall, rss))
            subprocess.run(["rm", "-rf", str(out.parent)])
            print(f"  {users} x {a.assets} {name}: {wall:.1f} s, {rss:.0f} MiB", flush=True)
    print("| users | assets | engine | end_to_end_s | us_per_user | peak_mib |")
    print("|---|---|---|---|---|---|")
    for users, assets, name, wall, rss in rows:
        print(f"| {users:,} | {assets} | {name} | {wall:.1f} | {1e6 * wall / users:.1f} | {rss:.0f} |")
    if not a.skip_peer:
        print(f"| 1,000,000 | 1 | openreserve tree only (floor) | {floor:.1f} | {1e6 * floor / 1e6:.1f} | |")


if __name__ == "__main__":
    main()
