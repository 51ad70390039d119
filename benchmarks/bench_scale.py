"""Scale-out benchmark: `por build` end to end (CSV included) at 1M / 10M users, per engine, with peak RSS.

    python benchmarks/bench_scale.py                       # 1M x 1 vs openreserve; 1M and 10M x 4 per engine
    python benchmarks/bench_scale.py --users 1000000 --engines serial,jobs2 --assets 4
    python benchmarks/bench_scale.py --skip-peer --users 30000000 --engines jobs2     # one 30M run
    python benchmarks/bench_scale.py --skip-peer --users 10000000 --engines serial --phases   # per-task costs
    python benchmarks/bench_scale.py --memory-test         # the slow bounded-memory test (tests/test_scale.py)

Each build is a fresh `por build` process (public mode, one bucket, default height); the time is its
wall clock and `peak_mib` the largest resident set of any process of the run (``RUSAGE_CHILDREN``:
the driver, its local workers and, for `local` Dask, the cluster's workers). The floor it compares to
is the plain-Merkle PyPI peer `openreserve` (`pip install por[bench]`): its `MerkleTree` over the same
balances (sumless, unsalted, no padding, no store) in the same run, timed alone (tree build only, the
CSV not included) -- the issue's target is por end to end ≤ that. The 1M x 1 rows and the peer are the
best of ``--reps`` runs each, interleaved, so that a busy moment of the machine hits both alike.

``--phases`` times the build's stages in one process (`build_sharded` with a timing reporter): reading and
partitioning the ledger, padding seeds, sorting partitions, building shards (each shard task's file written
and moved into the store); with the shard and partition counts, these are the per-task costs from which
BENCHMARKS.md plans larger runs.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
POR = str(Path(sys.executable).with_name("por"))
ENGINES = {"default": [], "serial": ["--jobs", "1"], "jobs2": ["--jobs", "2"], "dask-local": ["--scheduler", "local"]}


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


def build_once(cfg: Path, led: Path, engine: str, base: Path) -> tuple[float, float]:
    out = Path(tempfile.mkdtemp(dir=base)) / "snap"
    try:
        return run_build(cfg, led, out, ENGINES[engine], base)
    finally:
        subprocess.run(["rm", "-rf", str(out.parent)])


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


_PHASES = r"""
import json, sys, tempfile, time
from pathlib import Path
from por.core.config import load_config
from por.core.engine import make_engine
from por.snapshot.sharded import build_sharded

class Timer:
    def __init__(self):
        self.t, self.name, self.out = time.perf_counter(), None, {}
    def phase(self, name, total):
        now = time.perf_counter()
        if self.name:
            self.out[self.name] = now - self.t
        self.t, self.name = now, name
    def advance(self, n):
        pass

if __name__ == "__main__":
    cfg, led, jobs = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    engine = make_engine(jobs=jobs)
    timer = Timer()
    work = Path(tempfile.mkdtemp(dir=sys.argv[4]))
    t0 = time.perf_counter()
    res = build_sharded(load_config(cfg), led, bytes(32), work / "store.sqlite", mode="public", reporter=timer,
                        engine=engine)
    timer.phase(None, None)
    engine.close()
    print(json.dumps({"phases": timer.out, "total": time.perf_counter() - t0, "shards": res.shards,
                      "rows": res.stats.rows}))
"""


def phases(cfg: Path, led: Path, jobs: int, base: Path) -> dict:
    script = base / "phases.py"
    script.write_text(_PHASES)
    try:
        res = subprocess.run([sys.executable, str(script), str(cfg), str(led), str(jobs), str(base)],
                             capture_output=True, text=True, check=True)
    finally:
        for d in base.glob("tmp*"):
            subprocess.run(["rm", "-rf", str(d)])
    return json.loads(res.stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--users", default="1000000,10000000", help="comma-separated user counts for the x4 rows")
    ap.add_argument("--assets", type=int, default=4)
    ap.add_argument("--engines", default="serial,jobs2,dask-local")
    ap.add_argument("--skip-peer", action="store_true", help="skip the 1M x 1 rows beside openreserve")
    ap.add_argument("--reps", type=int, default=3, help="runs of the 1M x 1 rows and of the peer (best taken)")
    ap.add_argument("--phases", action="store_true", help="also time each stage of one build per size")
    ap.add_argument("--memory-test", action="store_true", help="run the slow bounded-memory test and exit")
    ap.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "por-bench-scale")
    a = ap.parse_args()
    if a.memory_test:
        raise SystemExit(subprocess.call([sys.executable, "-m", "pytest", "-q", "-m", "slow",
                                          str(ROOT / "tests" / "test_scale.py")], cwd=ROOT))
    a.dir.mkdir(parents=True, exist_ok=True)
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()},"
          f" load {os.getloadavg()[0]:.2f}", flush=True)
    rows = []
    if not a.skip_peer:
        cfg, led = make_ledger(a.dir / "1000000x1", 1_000_000, 1)
        best = {"serial": [], "jobs2": [], "peer": []}
        for _ in range(a.reps):
            for name in ("serial", "jobs2"):
                best[name].append(build_once(cfg, led, name, a.dir))
            best["peer"].append(openreserve_tree(cfg, led))
        for name in ("serial", "jobs2"):
            wall, rss = min(best[name])
            rows.append((1_000_000, 1, name, wall, rss))
        floor = min(best["peer"])
        print(f"openreserve MerkleTree over the same 1M balances (floor, best of {a.reps}): {floor:.2f} s "
              f"(runs: {', '.join(f'{x:.2f}' for x in best['peer'])}); por serial runs: "
              f"{', '.join(f'{w:.2f}' for w, _ in best['serial'])}; jobs2: {', '.join(f'{w:.2f}' for w, _ in best['jobs2'])}",
              flush=True)
    stage_rows = []
    for users in [int(u) for u in a.users.split(",") if u]:
        cfg, led = make_ledger(a.dir / f"{users}x{a.assets}", users, a.assets)
        for name in a.engines.split(","):
            wall, rss = build_once(cfg, led, name, a.dir)
            rows.append((users, a.assets, name, wall, rss))
            print(f"  {users} x {a.assets} {name}: {wall:.1f} s, {rss:.0f} MiB, load {os.getloadavg()[0]:.2f}",
                  flush=True)
        if a.phases:
            for jobs in (1, 2):
                got = phases(cfg, led, jobs, a.dir)
                stage_rows.append((users, a.assets, jobs, got))
                print(f"  phases {users} x {a.assets} jobs={jobs}: {json.dumps(got)}", flush=True)
    print("| users | assets | engine | end_to_end_s | us_per_user | peak_mib |")
    print("|---|---|---|---|---|---|")
    for users, assets, name, wall, rss in rows:
        print(f"| {users:,} | {assets} | {name} | {wall:.1f} | {1e6 * wall / users:.1f} | {rss:.0f} |")
    if not a.skip_peer:
        print(f"| 1,000,000 | 1 | openreserve tree only (floor) | {floor:.1f} | {1e6 * floor / 1e6:.1f} | |")
    if stage_rows:
        print("\n| users | assets | jobs | shards | reading_s | padding_s | sorting_s | shards_s | total_s | s_per_shard |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for users, assets, jobs, got in stage_rows:
            p = got["phases"]
            print(f"| {users:,} | {assets} | {jobs} | {got['shards']} | {p.get('reading ledger', 0):.1f} | "
                  f"{p.get('padding', 0):.1f} | {p.get('sorting', 0):.1f} | {p.get('building shards', 0):.1f} | "
                  f"{got['total']:.1f} | {p.get('building shards', 0) / got['shards']:.2f} |")


if __name__ == "__main__":
    main()
