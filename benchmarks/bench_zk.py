"""Groth16 batch proofs (circuits/batch.circom): constraints, setup, proving and verification time.

    python benchmarks/bench_zk.py [--quick] [--sizes 16 64 256] [--assets 1 4] [--cache DIR] [--margin] [--jobs 2]

For each batch size ``n = 2^k`` and asset count ``A``: constraints per leaf, compile time, the
per-circuit phase-2 setup (``groth16 setup`` + one ``zkey beacon`` + key export), proving time per
batch (witness + ``groth16 prove`` for ``--reps`` batches in one node process, mean) and per user, the py_ecc
verification time and the pure-Python Poseidon time of the batch's tree. Beside them, the anchors
(Binance: 864 users per batch in 62-105 s on 32 cores; OKX v2: 1024 users per batch in about 1.3 s),
and projected single-machine proving totals for 100k and 1M users (``ceil(users / n)`` batches, one
after another, on this machine).

The phase-1 file (local powers of tau, testing only) is a one-time cost shared by every circuit; the
largest power the selected sizes need is generated once (or reused from ``--cache``) and its time
reported separately. A production setup uses a ceremony's .ptau instead (circuits/README.md).

``--margin`` measures ``BatchMargin(k, A)`` (SPEC.md §17.25: equity and debt per asset, the per-account
rule with public factors) instead of ``Batch(k, A)``, on leaves whose debts are covered.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import random
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from por.zk import batch as zb  # noqa: E402
from por.zk import build, prover  # noqa: E402
from por.zk import groth16 as g16  # noqa: E402
from por.zk import native  # noqa: E402
from por.zk import tools as zt  # noqa: E402
from por.zk.circuits import BATCH_MARGIN, circuit_for  # noqa: E402

ENTROPY = "por/v1 zk benchmark (testing only)"
ANCHORS = [
    # (name, users per batch, (fastest, slowest) seconds per batch, machine)
    ("Binance (zkmerkle-proof-of-solvency, gnark Groth16)", 864, (62.0, 105.0), "32 cores"),
    ("OKX v2 (proof-of-reserves-v2, plonky2)", 1024, (1.3, 1.3), "as published"),
]
PROJECTED_USERS = (100_000, 1_000_000)


def best(fn, reps: int) -> tuple[float, object]:
    out, result = float("inf"), None
    for _ in range(reps):
        t = time.perf_counter()
        result = fn()
        out = min(out, time.perf_counter() - t)
    return out, result


def leaves_for(n: int, assets: int, seed: int) -> list[zb.BatchLeaf]:
    rng = random.Random(seed)
    cap = (1 << 64) // n
    return [zb.BatchLeaf.for_account("bench", "main", f"user{i}", rng.randbytes(32),
                                     tuple(rng.randrange(cap) for _ in range(assets))) for i in range(n)]


MARGIN_F_EQ, MARGIN_F_DEBT = 90, 100  # per asset: a 10% haircut at price 1 (SPEC.md §17.3 factors)


def margin_leaves_for(n: int, assets: int, seed: int) -> list[zb.BatchLeaf]:
    """Leaves with equity and a debt of at most 90% of it in every asset (every leaf passes the rule)."""
    rng = random.Random(seed)
    cap = (1 << 64) // n
    out = []
    for i in range(n):
        equity = tuple(rng.randrange(cap) for _ in range(assets))
        debt = tuple(rng.randrange(e * MARGIN_F_EQ // MARGIN_F_DEBT + 1) for e in equity)
        out.append(zb.BatchLeaf.for_account("bench", "main", f"user{i}", rng.randbytes(32),
                                            BATCH_MARGIN.join_values(equity, debt)))
    return out


def cached_ptau(cache: Path, power: int) -> Path | None:
    """The smallest cached benchmark phase-1 file of at least ``power``."""
    pattern = re.compile(rf"pot(\d+)_{build.entropy_id(ENTROPY)}\.ptau")
    found = sorted((int(m.group(1)), p) for p in (cache / "ptau").glob("pot*.ptau")
                   if (m := pattern.fullmatch(p.name)) and int(m.group(1)) >= power)
    return found[0][1] if found else None


def fmt_s(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 60:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:.2f} s" if seconds >= 0.1 else f"{seconds * 1000:.1f} ms"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="batch size 16 only")
    ap.add_argument("--sizes", type=int, nargs="+", default=[16, 64, 256])
    ap.add_argument("--assets", type=int, nargs="+", default=[1, 4])
    ap.add_argument("--margin", action="store_true", help="BatchMargin(k, A) (margin accounts) instead of Batch(k, A)")
    ap.add_argument("--step-timeout", type=float, default=6 * 3600.0,
                    help="seconds allowed per snarkjs step (the local phase 1 at 2^18 takes hours on 2 cores)")
    ap.add_argument("--provers", nargs="+", choices=prover.PROVERS, default=None,
                    help="backends measured side by side (default: snarkjs, and native when installed)")
    ap.add_argument("--probe-groth16py", action="store_true",
                    help="no phase 1 needed: time one raw groth16py prove per size on a groth16py single-party dev key")
    ap.add_argument("--jobs", type=int, default=1,
                    help="also prove N x reps batches in N processes at once (por zk prove --jobs N)")
    ap.add_argument("--reps", type=int, default=2, help="batches proved per configuration in one node process (the mean is reported)")
    ap.add_argument("--cache", type=Path, default=zt.default_cache_dir(),
                    help="phase-1 files are cached here; circuits and phase 2 are rebuilt in a fresh subdirectory")
    a = ap.parse_args()
    if a.provers is None:
        a.provers = ["snarkjs"] + (["native"] if native.missing() is None else [])
    a.cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=a.cache, prefix="bench-") as fresh:
        (probe if a.probe_groth16py else run)(a, Path(fresh))


def probe(a: argparse.Namespace, fresh: Path) -> None:
    """One raw ``groth16py.prove_wtns`` per size (no zkey: a groth16py dev key from the r1cs), for sizes whose
    phase 1 is not on the machine. The native backend runs it three times per batch (key ``c`` at this cost,
    ``a`` and ``b1`` cheaper; SPEC.md §16.15), so this is a lower bound of its proving time."""
    import groth16py

    for n in ([16] if a.quick else a.sizes):
        for assets in a.assets:
            circuit = build.compile_batch(zb.batch_height(n), assets, fresh, circuit=circuit_for(a.margin))
            leaves = (margin_leaves_for if a.margin else leaves_for)(n, assets, seed=n * 31 + assets)
            factors = ([MARGIN_F_EQ] * assets, [MARGIN_F_DEBT] * assets) if a.margin else None
            wtns = fresh / f"w{n}_{assets}.wtns"
            t = time.perf_counter()
            prover.calculate_witness(circuit, circuit.kind.witness_input(leaves, factors), wtns)
            witness_s = time.perf_counter() - t
            pk, _ = groth16py.setup(str(circuit.r1cs))
            prove_s, _ = best(lambda: groth16py.prove_wtns(pk, str(wtns)), a.reps)
            print(f"| {n} | {assets} | {circuit.info.n_constraints} | 2^{circuit.info.power} | {fmt_s(witness_s)} "
                  f"(snarkjs CLI) | {fmt_s(prove_s)} | {prove_s / n * 1000:.1f} ms |", flush=True)


def run(a: argparse.Namespace, fresh: Path) -> None:
    """Compile and set up every configuration in ``fresh``, prove, verify, print the table."""
    sizes = [16] if a.quick else a.sizes
    tools = zt.find_tools()
    versions = zt.tool_versions()
    print(f"# {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, node "
          f"{zt.node_version(tools)}, "
          f"circom2 {versions['circom2']}, snarkjs {versions['snarkjs']}, circomlib {versions['circomlib']}")

    kind = circuit_for(a.margin)
    circuits = {}
    for n in sizes:
        for assets in a.assets:
            t = time.perf_counter()
            circuit = build.compile_batch(zb.batch_height(n), assets, fresh, circuit=kind, tools=tools)
            circuits[n, assets] = (circuit, time.perf_counter() - t)
            print(f"# compiled {circuit.name} n={n} A={assets}: {circuit.info.n_constraints} constraints, 2^{circuit.info.power}",
                  flush=True)
    power = max(c.info.power for c, _ in circuits.values())
    ptau = cached_ptau(a.cache, power)
    if ptau is None:
        t = time.perf_counter()
        ptau = build.powers_of_tau(power, ENTROPY, a.cache, tools=tools, timeout=a.step_timeout)
        print(f"# phase 1 (local powers of tau 2^{power}, one-time, testing only): {fmt_s(time.perf_counter() - t)}",
              flush=True)
    else:
        print(f"# phase 1: reusing {ptau}", flush=True)

    rows = []
    print(HEADER, flush=True)
    for (n, assets), (circuit, compile_s) in circuits.items():
        t = time.perf_counter()
        setup = build.setup(circuit, ptau, ENTROPY, tools=tools, timeout=a.step_timeout)
        setup_s = time.perf_counter() - t
        jobs = lambda leaves: [(leaves, bytes([i]) * 32) for i in range(a.reps)]  # noqa: E731
        vk = setup.verifying_key()
        factors = ([MARGIN_F_EQ] * assets, [MARGIN_F_DEBT] * assets) if a.margin else None
        leaves = (margin_leaves_for if a.margin else leaves_for)(n, assets, seed=n * 31 + assets)
        hash_s, root = best(lambda: zb.batch_root(leaves), 1)
        sums = zb.batch_sums(leaves)
        reference = None
        for backend in a.provers:
            if backend == "native":  # one-time per zkey and process: derived keys written and imported
                t = time.perf_counter()
                native.native_prover(setup.zkey, vk)
                print(f"# native keys for {circuit.name} n={n} A={assets} (derive + import, once): "
                      f"{fmt_s(time.perf_counter() - t)}", flush=True)
            # as `por zk prove` does: one node process for several batches (start-up paid once), seeded r, s
            t = time.perf_counter()
            runs = list(prover.prove_batches(setup, jobs(leaves), factors=factors, tools=tools, backend=backend))
            prove_s = (time.perf_counter() - t) / a.reps
            witness_s = sum(r.witness_seconds for r in runs) / a.reps
            assert runs[0].root == root and list(runs[0].sums) == sums
            if reference is None:
                reference = [r.proof for r in runs]
            assert [r.proof for r in runs] == reference, "the backends' proofs differ"
            # verify = strict parsing of the proof document (the G2 subgroup check of B included) + pairing
            doc = runs[0].proof.to_json()
            verify_s, _ = best(lambda: kind.verify(vk, g16.parse_proof(doc), root, sums, factors), 2)
            native_s = (best(lambda: kind.verify(vk, g16.parse_proof(doc, checks=native.MCL_CHECKS), root, sums,
                                                 factors, verifier="native"), 5)[0]
                        if native.missing(prove=False) is None else float("nan"))
            par = (parallel_prove(setup, leaves, factors, backend, a.jobs, a.reps) if a.jobs > 1 else None)
            par_cols = f"| {fmt_s(par)} | {par / n * 1000:.1f} ms " if par is not None else "| | "
            row = (f"| {n} | {assets} | {circuit.info.n_constraints} | {circuit.info.n_constraints / n:.0f} "
                   f"| {fmt_s(compile_s)} | {fmt_s(setup_s)} | {backend} | {fmt_s(prove_s)} | {fmt_s(witness_s)} "
                   f"| {prove_s / n * 1000:.1f} ms " + par_cols + f"| {fmt_s(verify_s)} | {fmt_s(native_s)} | {fmt_s(hash_s)} "
                   + "".join(f"| {fmt_s(math.ceil(users / n) * ((par if par is not None else prove_s) + hash_s))} "
                             for users in PROJECTED_USERS)
                   + "|")
            rows.append(row)
            print(row, flush=True)

    print()
    print(f"circuit: {'BatchMargin(k, A) (margin accounts: equity, debt, per-account rule)' if a.margin else 'Batch(k, A)'}")
    print(HEADER)
    print("\n".join(rows))
    for name, n, (lo, hi), machine in ANCHORS:
        span = fmt_s(lo) if lo == hi else f"{fmt_s(lo)}-{fmt_s(hi)}"
        per_user = f"{lo / n * 1000:.1f} ms" if lo == hi else f"{lo / n * 1000:.0f}-{hi / n * 1000:.0f} ms"
        totals = "".join(f"| {fmt_s(math.ceil(u / n) * lo)}" + ("" if lo == hi else f"-{fmt_s(math.ceil(u / n) * hi)}")
                         + " " for u in PROJECTED_USERS)
        print(f"| *{name}* | | | | | | | {span} ({machine}) | | {per_user} | | | | | | {totals}|")
    print()
    print("prove = witness + groth16 prove in one node process for --reps batches (por zk prove's path: "
          "prover.prove_batches, node start-up and key loading amortised), wall time / reps; --jobs N: "
          "N x reps batches in N processes (one node each), wall time / batches; totals = ceil(users / n) x "
          "(the --jobs time per batch if measured, else prove, + Python Poseidon tree) on this machine (anchors: "
          "their published per-batch time, same formula); verify = strict parsing of the proof (G2 subgroup "
          "check of B: py_ecc or MCL) + pairing.")


HEADER = ("| batch n | assets | constraints | per leaf | compile | setup (phase 2) | prover | prove / batch "
          "| of it witness (node) | prove / user | --jobs: prove / batch | --jobs: prove / user | py_ecc verify "
          "| native verify | py Poseidon tree | 100k users | 1M users |\n"
          "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")


def _prove_share(args: tuple) -> None:
    setup, jobs, factors, backend = args
    list(prover.prove_batches(setup, jobs, factors=factors, backend=backend))
    if not jobs:  # the warm-up task: keys loaded; hold this worker so the other warm-up lands on the other one
        time.sleep(1.0)


def parallel_prove(setup, leaves, factors, backend: str, workers: int, reps: int) -> float:
    """Seconds per batch when ``workers`` processes prove ``reps`` batches each at once (as ``por zk prove
    --jobs`` does: one group of batches per process, one node process each); pool start-up not counted."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    shares = [(setup, [(leaves, bytes([w, i]) * 16) for i in range(reps)], factors, backend) for w in range(workers)]
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        list(pool.map(_prove_share, [(setup, [], factors, backend)] * workers))  # start the workers
        t = time.perf_counter()
        list(pool.map(_prove_share, shares))
        return (time.perf_counter() - t) / (workers * reps)


if __name__ == "__main__":
    main()
