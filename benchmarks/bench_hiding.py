"""Hiding-mode benchmark: commitment build, per-user proofs and solvency vs the scalar-multiplication floor.

    python benchmarks/bench_hiding.py [--quick] [--sizes 100000,1000000] [--assets 1,4]
        [--heights 16,20,24] [--real-max-height 20] [--proof-users 2000] [--samples 5]
        [--buckets 1] [--jobs N] [--no-public] [--json]

Four tables, every number measured in this run (each build, proof set and cold
verification in a fresh subprocess):

0. **floor**: the cost of one variable-base multiplication (``s*H``: coincurve
   ``PublicKey.multiply`` and ``por.crypto.group``, the lower is used), one fixed-base
   multiplication (``s*G``: ``PrivateKey(...).public_key`` and ``por.crypto.group``), one
   point addition (``por.crypto.group`` ``P + Q``), and one multiscalar multiplication
   (``por.crypto.group.multiscalar_mul``) of every size the proof floors below need.
1. **commitment build**: ``build_snapshot(..., hiding=True)`` end to end
   (``por.demo.examples`` ledger -> trees -> SQLite store -> snapshot.json) with the
   peak RSS of the main process and of the largest worker, and the commitment
   phase alone (``por.modes.commitments.commit_levels`` wall time inside that build).
   Floor: per leaf and asset one variable-base (``r*H``) and, when the value is
   not 0, one fixed-base (``v*G``) multiplication, plus one point addition per
   internal node and asset, divided by the number of worker processes (trees of
   >= 8192 leaves are committed in parallel). The floor keeps this model on purpose although
   the build no longer works that way: leaf commitments use fixed-base tables of G and H
   (``por.crypto.group.mul_add_base_many``, one ``combine()`` of <= 40 precomputed points per
   commitment), so ``commit_vs_floor`` below 1 means the build beats the multiplication model,
   not that the floor is wrong. For reference the same ledger's
   public-mode ``build_snapshot`` is timed too. The machine may be shared: every
   row records the 1-minute load average, and the CPU time of the build process
   and of its workers, from which ``idle_est_s`` estimates the wall time on idle cores.
2. **per-user proofs**: ``Prover.prove`` and ``verify_proof`` averaged over
   several accounts (warm: generators cached, snapshot loaded), plus one cold
   verification in a fresh process (``load_snapshot`` + read proof + verify, the
   user's experience, interpreter start and imports excluded). ``real`` rows come
   from hiding snapshots built with ``height=h`` (or the default height of a
   table-1 build); ``synthetic`` rows (labelled) serve the same prover code from
   an in-memory store holding only one random path of height h (random values
   and blindings, real commitments, hashes and roots), so the proof, its range
   proof (m = (h + top_height + 1) x assets values) and its verification are
   exactly those of a real tree of that height, which is too slow to build at 24.
   Sizes: ``json_bytes`` = the document as ``por prove --out`` writes it;
   ``bin_bytes`` = 32 per hash, 33 per commitment, 8 per balance, 32 per blinding
   and salt, plus the range proof bytes. Floors: prove = 2 MSMs of size 2*64*m'
   (m' = m padded to a power of two) + m commitments; verify = one MSM of size
   2*64*m' + 2*log2(64*m') + m + 6, + one point addition per asset per path node,
   + the user's own commitment (one variable- + one fixed-base multiplication).
3. **solvency**: ``prove_solvency`` / ``verify_solvency`` (range proof over
   buckets x assets surplus commitments) for every hiding snapshot built above.

Targets (hiding-mode issue): 1M users x 1 asset build <= 120 s on both cores;
height 20, 1 asset: generate <= 1 s, verify <= 0.25 s, proof <= 3 kB.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SECRET = bytes(range(1, 33))
BITS = 64


# ================================================================ shared helpers


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def best(fn, reps: int = 3) -> float:
    out = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        out = min(out, time.perf_counter() - t)
    return out


def padded(m: int) -> int:
    return 1 << (m - 1).bit_length()


def binary_size(doc: dict) -> dict:
    """Binary-equivalent size of a proof document: 32/hash, 33/commitment, 8/balance, 32/blinding and salt."""
    total = rp = 0
    for e in doc["entries"]:
        a = len(e["balances"])
        nodes = len(e["path"]) + len(e["top_path"])
        r = len(e.get("range_proof", "")) // 2
        total += 32 + 8 * a + (32 * a if "blindings" in e else 0) + nodes * (32 + 33 * a) + r
        rp += r
    return {"bin_bytes": total, "rp_bytes": rp}


def proof_set(prover, snapshot, accounts: list[str], warm: str, cold_path: Path) -> dict:
    """Warm prove + verify averages over ``accounts`` (after one warm-up with ``warm``); writes one proof for the cold run."""
    from por.core.fileio import canonical_json
    from por.proofs.inclusion import verify_proof

    verify_proof(prover.prove(warm), snapshot=snapshot)  # generators, caches
    tp, tv, js, bins = [], [], [], []
    doc = None
    for acc in accounts:
        t = time.perf_counter()
        doc = prover.prove(acc)
        tp.append(time.perf_counter() - t)
        t = time.perf_counter()
        verify_proof(doc, snapshot=snapshot, account_id=acc)
        tv.append(time.perf_counter() - t)
        js.append(len(canonical_json(doc)))
        bins.append(binary_size(doc))
    cold_path.write_bytes(canonical_json(doc))
    e = doc["entries"][0]
    return {
        "samples": len(accounts), "prove_s": sum(tp) / len(tp), "prove_max_s": max(tp),
        "verify_s": sum(tv) / len(tv), "verify_max_s": max(tv),
        "json_bytes": round(sum(js) / len(js)), "bin_bytes": round(sum(b["bin_bytes"] for b in bins) / len(bins)),
        "rp_bytes": bins[-1]["rp_bytes"], "height": e["height"], "top_height": len(e["top_path"]),
        "assets": len(e["balances"]), "proof_file": str(cold_path),
    }


# ================================================================ child tasks (run in fresh processes)


def child_build(a: dict) -> dict:
    """build_snapshot (hiding or public) with the commitment phase timed; then solvency and proofs."""
    import resource

    import numpy as np

    from por.modes import hiding as por_tree  # hiding mode calls its imported commit_levels
    from por.snapshot import build_snapshot, load_snapshot

    calls: list[dict] = []
    if a["hiding"]:
        orig = por_tree.commit_levels

        def timed(key, seeds, values, **kw):
            t = time.perf_counter()
            out = orig(key, seeds, values, **kw)
            cap, n_assets = values.shape
            calls.append({"seconds": time.perf_counter() - t, "leaves": int(cap), "assets": int(n_assets),
                          "nonzero": int(np.count_nonzero(values)), "jobs": kw.get("jobs")})
            return out

        por_tree.commit_levels = timed
    out = Path(a["out"])

    def cpu(who: int) -> float:
        ru = resource.getrusage(who)
        return ru.ru_utime + ru.ru_stime

    cpu0 = cpu(resource.RUSAGE_SELF)  # imports excluded
    t = time.perf_counter()
    r = build_snapshot(Path(a["cfg"]), Path(a["ledger"]), out, secret=SECRET, hiding=a["hiding"],
                       jobs=a["jobs"], height=a["height"])
    res: dict = {"seconds": time.perf_counter() - t, "rows": r.rows, "commit": calls,
                 "heights": [b.height for b in r.snapshot.buckets],
                 "peak_main_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                 "peak_worker_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
                 "store_mib": (out / "store.sqlite").stat().st_size / 2**20,
                 "main_cpu_s": cpu(resource.RUSAGE_SELF) - cpu0, "worker_cpu_s": cpu(resource.RUSAGE_CHILDREN)}
    if not a["hiding"]:
        return res

    # solvency: reserves = liabilities + 10 % (every bucket x asset), prove and verify
    from por.core.fileio import canonical_json
    from por.proofs.solvency import prove_solvency, verify_solvency

    snap_priv = r.snapshot
    reserves = {(b.id, s): min(2**64 - 1, v + v // 10 + 1)
                for b in snap_priv.buckets for s, v in zip(snap_priv.config.symbols, b.totals)}
    t = time.perf_counter()
    sdoc = prove_solvency(out, reserves)
    sp = time.perf_counter() - t
    pub = load_snapshot(out)
    t = time.perf_counter()
    verify_solvency(sdoc, pub, reserves=reserves)
    res["solvency"] = {"pairs": len(reserves), "prove_s": sp, "verify_s": time.perf_counter() - t,
                       "json_bytes": len(canonical_json(sdoc)), "rp_bytes": len(sdoc["range_proof"]) // 2}

    # per-user proofs of evenly spaced accounts
    if a["samples"]:
        from por.proofs.inclusion import Prover

        users, k = a["users"], a["samples"]
        accounts = [f"user-{users * (2 * i + 1) // (2 * k):07d}" for i in range(k)]
        prover = Prover(out)
        try:
            res["proofs"] = proof_set(prover, pub, accounts, "user-0000000", Path(a["proof_file"]))
        finally:
            prover.close()
    return res


def synthetic_snapshot(cfg_path: Path, height: int, rnd) -> tuple:
    """One random path of ``height`` in a one-bucket hiding snapshot: (snapshot, fake store, account)."""
    from por.core import encoding as enc
    from por.core.config import load_config
    from por.crypto.group import N, random_scalar
    from por.crypto.pedersen import commit
    from por.modes.registry import MODE_HIDING
    from por.snapshot import BucketSummary, Snapshot, compute_root
    from por.tree.store import StoredNode
    from por.tree.sumtree import climb

    config = load_config(cfg_path)
    if len(config.buckets) != 1:
        raise ValueError("the synthetic path is for one-bucket configs")
    bucket = config.buckets[0]
    n = len(config.assets)
    account = "user-synthetic"
    salt = os.urandom(32)
    index = rnd.randrange(1 << height)

    def node(values: list[int]) -> StoredNode:
        blinds = [random_scalar() for _ in values]
        return StoredNode(os.urandom(32), values, tuple(commit(v, r).to_bytes() for v, r in zip(values, blinds)), blinds)

    leaf = node([rnd.randrange(1 << 40) for _ in range(n)])
    leaf_hash = enc.leaf_hash(config.snapshot_id, bucket.id, salt, account, list(leaf.commits))
    sibs = {}
    for lvl in range(height):
        # a sibling at level l stands for 2^l leaves: a sum of 2^l balances below 2^40 (capped so totals < 2^64)
        sibs[(lvl, (index >> lvl) ^ 1)] = node([rnd.randrange(1 << min(40 + lvl, 58)) for _ in range(n)])
    path = [sibs[(lvl, (index >> lvl) ^ 1)] for lvl in range(height)]
    root_hash, root_commits = climb((leaf_hash, list(leaf.commits)), index, [(s.hash, list(s.commits)) for s in path])
    totals = [leaf.sums[a] + sum(s.sums[a] for s in path) for a in range(n)]
    blinds = [(leaf.blinds[a] + sum(s.blinds[a] for s in path)) % N for a in range(n)]
    assert [commit(v, r).to_bytes() for v, r in zip(totals, blinds)] == list(root_commits)
    root_node = StoredNode(root_hash, totals, tuple(root_commits), blinds)
    summary = BucketSummary(bucket.id, bucket.kind, height, root_hash, None, tuple(root_commits))
    root, _ = compute_root(config, [summary], MODE_HIDING)
    snap = Snapshot(config, (summary,), root, MODE_HIDING)

    class FakeStore:
        """The subset of :class:`por.tree.store.Store` the prover uses, serving one path."""

        path = Path("synthetic")

        def snapshot_json(self) -> str:
            return snap.to_json()

        def nonce_key(self) -> bytes:
            return bytes(32)

        def account_leaves(self, account_id: str):
            return [(0, index, salt)] if account_id == account else []

        def committed_node(self, b: int, level: int, idx: int, n_assets: int) -> StoredNode:
            if level == 0 and idx == index:
                return leaf
            if level == height and idx == 0:
                return root_node
            return sibs[(level, idx)]

        def committed_siblings(self, b: int, position: int, h: int, n_assets: int) -> list[StoredNode]:
            return [self.committed_node(b, lvl, (position >> lvl) ^ 1, n_assets) for lvl in range(h)]

        def close(self) -> None:
            pass

    return snap, FakeStore(), account


def child_synthetic(a: dict) -> dict:
    """Prove / verify on synthetic paths of a given height (a new random snapshot per sample)."""
    import random

    import por.proofs.inclusion as por_proof
    from por.core.fileio import canonical_json
    from por.proofs.inclusion import Prover, verify_proof

    rnd = random.Random(a["seed"])
    real_store = por_proof.Store
    tp, tv, js, bins = [], [], [], []
    try:
        for i in range(a["samples"] + 1):  # sample 0 is the warm-up
            snap, store, account = synthetic_snapshot(Path(a["cfg"]), a["height"], rnd)
            por_proof.Store = lambda _path, _s=store: _s
            prover = Prover(Path("synthetic"))
            t = time.perf_counter()
            doc = prover.prove(account)
            p = time.perf_counter() - t
            t = time.perf_counter()
            verify_proof(doc, snapshot=snap, account_id=account)
            v = time.perf_counter() - t
            if i:
                tp.append(p)
                tv.append(v)
                js.append(len(canonical_json(doc)))
                bins.append(binary_size(doc))
    finally:
        por_proof.Store = real_store
    d = Path(a["dir"])
    d.mkdir(parents=True, exist_ok=True)
    (d / "snapshot.json").write_bytes(canonical_json(snap.to_dict()))
    (d / "proof.json").write_bytes(canonical_json(doc))
    e = doc["entries"][0]
    return {
        "samples": len(tp), "prove_s": sum(tp) / len(tp), "prove_max_s": max(tp),
        "verify_s": sum(tv) / len(tv), "verify_max_s": max(tv),
        "json_bytes": round(sum(js) / len(js)), "bin_bytes": round(sum(b["bin_bytes"] for b in bins) / len(bins)),
        "rp_bytes": bins[-1]["rp_bytes"], "height": e["height"], "top_height": len(e["top_path"]),
        "assets": len(e["balances"]), "proof_file": str(d / "proof.json"), "snapshot_dir": str(d),
    }


def child_verify_cold(a: dict) -> dict:
    """A user's first verification in a fresh process: load snapshot.json and the proof, verify."""
    from por.proofs.inclusion import load_proof, verify_proof
    from por.snapshot import load_snapshot

    t = time.perf_counter()
    snap = load_snapshot(Path(a["snapshot"]))
    doc = load_proof(Path(a["proof"]))
    verify_proof(doc, snapshot=snap)
    return {"seconds": time.perf_counter() - t}


CHILD_TASKS = {"build": child_build, "synthetic": child_synthetic, "verify_cold": child_verify_cold}


def run_child(task: str, args: dict) -> dict | None:
    p = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", task, json.dumps(args)],
                       capture_output=True, text=True)
    if p.returncode:
        log(f"child {task} failed ({args}):\n{p.stderr}")
        return None
    return json.loads(p.stdout.strip().splitlines()[-1])


# ================================================================ floor (parent, same run)


class Floor:
    """Measured unit costs (seconds) of the group operations everything else is counted in."""

    def __init__(self) -> None:
        self.refresh()

    def refresh(self) -> None:
        """Measure (again): the machine is shared, so each row is compared with costs measured right beside it."""
        import coincurve

        from por.crypto.group import G, random_scalar
        from por.crypto.pedersen import H

        k = 2000
        ss = [random_scalar() for _ in range(k)]
        bs = [s.to_bytes(32, "big") for s in ss]
        pk = coincurve.PublicKey(H.to_bytes())
        self.var_cc = best(lambda: [pk.multiply(b) for b in bs]) / k
        self.var_por = best(lambda: [s * H for s in ss]) / k
        self.fix_cc = best(lambda: [coincurve.PrivateKey(b).public_key for b in bs]) / k
        self.fix_por = best(lambda: [s * G for s in ss]) / k
        pts = [s * H for s in ss]
        self.add = best(lambda: [pts[i] + pts[i + 1] for i in range(0, k, 2)]) / (k // 2)
        self.var = min(self.var_cc, self.var_por)
        self.fix = min(self.fix_cc, self.fix_por)
        self._msm: dict[int, float] = {}

    def msm(self, size: int) -> float:
        """Seconds of one ``multiscalar_mul`` of ``size`` terms (random scalars; Bulletproofs generators as points)."""
        if size not in self._msm:
            from por.crypto.group import multiscalar_mul, random_scalar
            from por.crypto.pedersen import generators

            g, h = generators((size + 1) // 2)
            points = (g + h)[:size]
            scalars = [random_scalar() for _ in range(size)]
            self._msm[size] = best(lambda: multiscalar_mul(scalars, points), 3 if size < 8192 else 2)
        return self._msm[size]

    def proof(self, m: int, path_nodes: int, assets: int) -> tuple[float, float, int, int]:
        """(prove floor, verify floor, prove MSM size, verify MSM size) for m values and a path of path_nodes nodes.

        Prove: 2 MSMs of 2*64*m' terms + m commitments (the IPA's generator folding, ~2*64*m' single
        multiplications in this and in the usual Bulletproofs provers, is not counted). Verify: one MSM of
        2*64*m' + 2*log2(64*m') + m + 6 terms + one addition per asset per path node + the own commitment.
        """
        nm = BITS * padded(m)
        k = nm.bit_length() - 1
        p_size, v_size = 2 * nm, 2 * nm + 2 * k + m + 6
        prove = 2 * self.msm(p_size) + m * (self.var + self.fix)
        verify = self.msm(v_size) + path_nodes * assets * self.add + assets * (self.var + self.fix)
        return prove, verify, p_size, v_size

    def build(self, commit_calls: list[dict], cores: int) -> float:
        """Commitment floor: A*leaves var-base + nonzero fixed-base + A*(leaves-1) additions, / workers."""
        from por.modes.commitments import PARALLEL_MIN_LEAVES

        total = 0.0
        for c in commit_calls:
            ops = c["assets"] * c["leaves"] * self.var + c["nonzero"] * self.fix + c["assets"] * (c["leaves"] - 1) * self.add
            par = min(c["jobs"] or cores, cores) if c["leaves"] >= PARALLEL_MIN_LEAVES else 1
            total += ops / par
        return total


# ================================================================ parent


def machine() -> str:
    from importlib.metadata import version

    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                ram = f"{int(line.split()[1]) / 2**20:.1f} GiB"
    except OSError:
        pass
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"{cpu}, {os.cpu_count()} cores, {ram} RAM, {platform.system()} {platform.release()}, "
            f"CPython {platform.python_version()}, coincurve {version('coincurve')}, numpy {version('numpy')}; "
            f"load average at start {load}")


def table(rows: list[dict], cols: list[str]) -> str:
    def fmt(v):
        if isinstance(v, float):
            return f"{v:.3f}" if v < 10 else f"{v:.1f}"
        return "" if v is None else str(v)

    out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    out += ["| " + " | ".join(fmt(r.get(c)) for c in cols) + " |" for r in rows]
    return "\n".join(out)


def parse_ints(text: str) -> list[int]:
    return [int(x) for x in text.replace(" ", "").split(",") if x]


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        print(json.dumps(CHILD_TASKS[sys.argv[2]](json.loads(sys.argv[3]))))
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default=None,
                    help="users per commitment build (comma list; default 100000,1000000; 'none' for no size builds)")
    ap.add_argument("--assets", default="1,4", help="asset counts (comma list)")
    ap.add_argument("--heights", default=None, help="tree heights for the per-user proof table (default 16,20,24)")
    ap.add_argument("--real-max-height", type=int, default=20,
                    help="build real snapshots up to this height; higher heights are synthetic")
    ap.add_argument("--proof-users", type=int, default=2000, help="users in the forced-height proof snapshots")
    ap.add_argument("--samples", type=int, default=5, help="accounts averaged per proof row")
    ap.add_argument("--buckets", type=int, default=1, help="buckets in the generated ledgers")
    ap.add_argument("--jobs", type=int, default=None, help="commitment worker processes (default: all cores)")
    ap.add_argument("--no-public", action="store_true", help="skip the public-mode reference builds")
    ap.add_argument("--quick", action="store_true",
                    help="about a minute: 10k users, heights 16 (real) and 24 (synthetic), 2 samples")
    ap.add_argument("--json", action="store_true", help="also print every row as JSON at the end")
    a = ap.parse_args()
    if a.quick:  # defaults of a ~1-minute run; explicit --sizes still wins
        a.sizes, a.heights = a.sizes or "10000", a.heights if a.heights is not None else "16,24"
        a.real_max_height, a.samples, a.proof_users = 16, 2, 1000
    a.sizes = a.sizes or "100000,1000000"
    a.heights = a.heights if a.heights is not None else "16,20,24"
    sizes = [] if a.sizes == "none" else parse_ints(a.sizes)
    asset_counts, heights = parse_ints(a.assets), parse_ints(a.heights)
    cores = os.cpu_count() or 1

    from por.demo.examples import write_example
    from por.tree.sumtree import top_height

    print(f"# machine: {machine()}")
    print(f"# run: {' '.join(sys.argv[1:]) or '(defaults)'}; buckets {a.buckets}, jobs {a.jobs or cores}\n", flush=True)
    floor = Floor()
    print("## 0. Floor (measured in this run)\n")
    print(table([{
        "var_base_us (coincurve / por.crypto.group)": f"{floor.var_cc * 1e6:.1f} / {floor.var_por * 1e6:.1f}",
        "fixed_base_us (coincurve / por.crypto.group)": f"{floor.fix_cc * 1e6:.1f} / {floor.fix_por * 1e6:.1f}",
        "point_add_us": f"{floor.add * 1e6:.2f}",
    }], ["var_base_us (coincurve / por.crypto.group)", "fixed_base_us (coincurve / por.crypto.group)", "point_add_us"]))
    print("\nFloors below use the lower of the two multiplication costs.\n", flush=True)

    tmp = Path(tempfile.mkdtemp(prefix="por-bench-hiding-"))
    build_rows: list[dict] = []
    proof_rows: list[dict] = []
    solv_rows: list[dict] = []

    def add_proof_row(p: dict, source: str, snapshot_dir: str) -> None:
        cold = run_child("verify_cold", {"snapshot": snapshot_dir, "proof": p["proof_file"]})
        floor.refresh()
        m = (p["height"] + p["top_height"] + 1) * p["assets"]
        fp, fv, ps, vs = floor.proof(m, p["height"] + p["top_height"], p["assets"])
        proof_rows.append({
            "height": p["height"], "assets": p["assets"], "source": source, "samples": p["samples"],
            "m": m, "m_padded": padded(m), "prove_s": p["prove_s"], "verify_s": p["verify_s"],
            "verify_cold_s": cold["seconds"] if cold else None, "json_bytes": p["json_bytes"],
            "bin_bytes": p["bin_bytes"], "rp_bytes": p["rp_bytes"],
            "floor_prove_s": fp, "prove_vs_floor": round(p["prove_s"] / fp, 2),
            "floor_verify_s": fv, "verify_vs_floor": round(p["verify_s"] / fv, 2),
            "msm_sizes": f"{ps} / {vs}", "msm_ms": f"{floor.msm(ps) * 1e3:.0f} / {floor.msm(vs) * 1e3:.0f}",
            "load1": round(os.getloadavg()[0], 2),
        })

    def do_build(users: int, n_assets: int, height: int | None, samples: int, label: str) -> None:
        d = tmp / f"{label}-{users}-{n_assets}-{height}"
        log(f"ledger {label}: {users} users x {n_assets} assets, height {height or 'default'}")
        cfg, ledger = write_example(d / "in", users, n_assets, a.buckets)
        base = {"cfg": str(cfg), "ledger": str(ledger), "jobs": a.jobs, "height": height, "users": users}
        pub = None
        if not a.no_public:
            log("  public-mode build_snapshot")
            pub = run_child("build", {**base, "out": str(d / "pub"), "hiding": False, "samples": 0})
            shutil.rmtree(d / "pub", ignore_errors=True)
        floor.refresh()
        log("  hiding-mode build_snapshot")
        r = run_child("build", {**base, "out": str(d / "hid"), "hiding": True, "samples": samples,
                                "proof_file": str(d / "proof.json")})
        if r is None:
            shutil.rmtree(d, ignore_errors=True)
            return
        commit_s = sum(c["seconds"] for c in r["commit"])
        fl = floor.build(r["commit"], cores)
        leaves = sum(c["leaves"] for c in r["commit"])
        row = {
            "users": users, "assets": n_assets, "buckets": a.buckets, "rows": r["rows"],
            "heights": "/".join(map(str, r["heights"])), "leaves": leaves,
            "nonzero_values": sum(c["nonzero"] for c in r["commit"]),
            "floor_s": fl, "commit_s": commit_s, "commit_vs_floor": round(commit_s / fl, 2),
            "end_to_end_s": r["seconds"], "public_e2e_s": pub["seconds"] if pub else None,
            "main_cpu_s": r["main_cpu_s"], "worker_cpu_s": r["worker_cpu_s"],
            "idle_est_s": r["main_cpu_s"] + r["worker_cpu_s"] / min(a.jobs or cores, cores),
            "peak_main_mib": round(r["peak_main_mib"]), "peak_worker_mib": round(r["peak_worker_mib"]),
            "store_mib": round(r["store_mib"]), "var_us": round(floor.var * 1e6, 1),
            "load1": round(os.getloadavg()[0], 2),
        }
        build_rows.append(row)
        log(f"  -> {json.dumps(row)}")
        s = r["solvency"]
        fp, fv, _, _ = floor.proof(s["pairs"], 0, 0)
        fv += s["pairs"] * (floor.fix + floor.add)  # D = R*G - C for every pair
        solv_rows.append({"users": users, "assets": n_assets, "buckets": a.buckets,
                          "heights": row["heights"], "pairs_m": s["pairs"], "prove_s": s["prove_s"],
                          "verify_s": s["verify_s"], "json_bytes": s["json_bytes"], "rp_bytes": s["rp_bytes"],
                          "floor_prove_s": fp, "floor_verify_s": fv})
        if "proofs" in r:
            add_proof_row(r["proofs"], f"real ({users} users)", str(d / "hid"))
            log(f"  -> proofs {json.dumps(proof_rows[-1])}")
        shutil.rmtree(d, ignore_errors=True)

    try:
        # ---- 2. per-user proofs at fixed heights (real where affordable, else synthetic), and 1. builds
        t0 = time.perf_counter()
        top_h = top_height(1)
        for h in heights:
            for n_assets in asset_counts:
                if h <= a.real_max_height:
                    do_build(a.proof_users, n_assets, h, a.samples, "proof")
                d = tmp / f"synth-{h}-{n_assets}"
                cfg, _ = write_example(d / "in", 1, n_assets, 1)
                log(f"synthetic path: height {h}, {n_assets} assets")
                p = run_child("synthetic", {"cfg": str(cfg), "height": h, "samples": a.samples, "seed": h * 10 + n_assets,
                                            "dir": str(d / "snap")})
                if p:
                    add_proof_row(p, "synthetic path", p["snapshot_dir"])
                    log(f"  -> proofs {json.dumps(proof_rows[-1])}")
                shutil.rmtree(d, ignore_errors=True)
        print("## 2. Per-user proofs (hiding mode)\n")
        print(table(proof_rows, ["height", "assets", "source", "samples", "m", "m_padded", "prove_s", "verify_s",
                                 "verify_cold_s", "json_bytes", "bin_bytes", "rp_bytes", "floor_prove_s",
                                 "prove_vs_floor", "floor_verify_s", "verify_vs_floor", "msm_sizes", "msm_ms", "load1"]))
        print(f"\nTop tree height {top_h} for {a.buckets} bucket(s). Targets at height 20, 1 asset: prove_s <= 1, "
              "verify_s <= 0.25, bin_bytes <= 3000 (DAPOL+ Rust anchor: 0.39 s, 4.5 kB at height 32).\n", flush=True)
        n_proof_rows = len(proof_rows)

        for users in sizes:
            for n_assets in asset_counts:
                do_build(users, n_assets, None, a.samples, "size")
                print("## 1. Commitment build (so far)\n" if (users, n_assets) != (sizes[-1], asset_counts[-1])
                      else "## 1. Commitment build\n")
                print(table(build_rows, ["users", "assets", "buckets", "rows", "heights", "leaves", "nonzero_values",
                                         "floor_s", "commit_s", "commit_vs_floor", "end_to_end_s", "public_e2e_s",
                                         "main_cpu_s", "worker_cpu_s", "idle_est_s", "peak_main_mib", "peak_worker_mib", "store_mib", "var_us", "load1"]))
                print(flush=True)
        print("Target: 1M users x 1 asset end_to_end_s <= 120 on both cores. Rows with users = "
              f"{a.proof_users} are the forced-height proof snapshots. main_cpu_s / worker_cpu_s: CPU time of the "
              "build process / of all its commitment workers; idle_est_s = main_cpu_s + worker_cpu_s / jobs, the "
              "wall time to expect on otherwise idle cores (the main process waits while the workers commit); "
              "compare it with end_to_end_s when load1 is above the core count.\n")
        if len(proof_rows) > n_proof_rows:
            print("## 2b. Per-user proofs from the default-height builds\n")
            print(table(proof_rows[n_proof_rows:], ["height", "assets", "source", "samples", "m", "m_padded", "prove_s",
                                                    "verify_s", "verify_cold_s", "json_bytes", "bin_bytes", "rp_bytes",
                                                    "floor_prove_s", "prove_vs_floor", "floor_verify_s",
                                                    "verify_vs_floor", "load1"]))
            print()
        print("## 3. Solvency (zero-knowledge, reserves = liabilities + 10 %)\n")
        print(table(solv_rows, ["users", "assets", "buckets", "heights", "pairs_m", "prove_s", "verify_s",
                                "json_bytes", "rp_bytes", "floor_prove_s", "floor_verify_s"]))
        print(f"\nprove_s includes opening the store (Prover) and the bucket root openings; total run "
              f"{time.perf_counter() - t0:.0f} s; load average at end {' '.join(f'{x:.2f}' for x in os.getloadavg())}.")
        if a.json:
            print(json.dumps({"builds": build_rows, "proofs": proof_rows, "solvency": solv_rows}, indent=2))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
