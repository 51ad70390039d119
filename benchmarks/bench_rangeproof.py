"""Aggregated Bulletproofs: prove / verify time and proof size vs the scalar-multiplication floor.

    python benchmarks/bench_rangeproof.py [--m 1 8 64 128]

Floor: the time of the same number of single scalar multiplications as a naive verifier would do
(2·64·m + 2·log2(64·m) + 8 points), measured in the same run with the same backend -- the verifier
instead does one multiscalar multiplication, so it should sit well below that floor.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from por.crypto import rangeproof  # noqa: E402
from por.crypto.group import G, get_backend, random_scalar  # noqa: E402
from por.crypto.transcript import Transcript  # noqa: E402


def best(fn, reps: int = 3) -> float:
    out = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        out = min(out, time.perf_counter() - t)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--m", type=int, nargs="+", default=[1, 8, 64, 128])
    a = ap.parse_args()
    print(f"# {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, backend {get_backend()}")
    k = 2000
    scalars = [random_scalar() for _ in range(k)]
    t_mul = best(lambda: [s * G for s in scalars]) / k
    print("| m | prove_s | verify_s | bytes | naive_floor_s | verify_vs_floor |")
    print("|---|---|---|---|---|---|")
    for m in a.m:
        values = [int.from_bytes(os.urandom(8), "big") for _ in range(m)]
        blinds = [random_scalar() for _ in range(m)]
        proof, comms = rangeproof.prove(Transcript(b"bench"), values, blinds, bits=64)
        tp = best(lambda: rangeproof.prove(Transcript(b"bench"), values, blinds, bits=64), 2)
        tv = best(lambda: rangeproof.verify(Transcript(b"bench"), comms, proof, bits=64))
        n = rangeproof.padded_count(m) * 64
        floor = (2 * n + 2 * n.bit_length() + 8) * t_mul
        print(f"| {m} | {tp:.3f} | {tv:.3f} | {len(proof.to_bytes())} | {floor:.3f} | {tv / floor:.2f} |")


if __name__ == "__main__":
    main()
