"""CSV ledger reading: the exact (pre-bulk) reader against the bulk path, with the floors they compare to.

``python benchmarks/bench_ledger.py [--users 100000 1000000] [--assets 1 4] [--dir /tmp/csvbench] [--repeat 1]``

Ledgers come from :mod:`por.demo.examples` (deterministic; 2 buckets, ~12.5 % of users in both), written
once under ``--dir``. Columns (seconds are the best of ``--repeat`` runs, each reading the whole file):

* ``split_s`` -- floor: read the file and ``bytes.split`` it into lines (no fields, no conversion);
* ``csv_s`` -- floor: :mod:`csv` ``reader`` over the decoded lines (fields as strings, no checks, no ints);
* ``exact_s`` -- :func:`por.core.ledger.read_ledger` with ``FAST_CSV = False``: the reader as it was before
  the bulk path (:mod:`csv` over every line, one ``parse_amount`` per field);
* ``bulk_s`` -- ``read_ledger`` as shipped (bulk path for plain lines);
* ``*_rows_s`` -- rows per second; ``speedup`` = exact_s / bulk_s; ``bulk_vs_csv`` = bulk_s / csv_s.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import time
from collections.abc import Callable
from pathlib import Path

import por.core.ledger as ledger
from por.core.config import load_config
from por.demo.examples import write_example


def _best(fn: Callable[[], int], repeat: int) -> tuple[float, int]:
    best, n = float("inf"), 0
    for _ in range(repeat):
        t = time.perf_counter()
        n = fn()
        best = min(best, time.perf_counter() - t)
    return best, n


def _floor_split(path: Path) -> int:
    with open(path, "rb") as fh:
        return len(fh.read().split(b"\n"))


def _floor_csv(path: Path) -> int:
    n = 0
    with open(path, "rb") as fh:
        for _ in csv.reader(io.TextIOWrapper(fh, encoding="utf-8", newline=""), strict=True):
            n += 1
    return n


def _reader(cfg: Path, path: Path, fast: bool) -> Callable[[], int]:
    config = load_config(cfg)

    def run() -> int:
        old = ledger.FAST_CSV
        ledger.FAST_CSV = fast
        try:
            n = 0
            for _ in ledger.read_ledger(path, config):
                n += 1
            return n
        finally:
            ledger.FAST_CSV = old
    return run


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--assets", type=int, nargs="+", default=[1, 4])
    ap.add_argument("--dir", type=Path, default=Path("/tmp/csvbench"))
    ap.add_argument("--repeat", type=int, default=1)
    a = ap.parse_args(argv)
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}  (cores: {os.cpu_count()})")
    cols = ["users", "assets", "rows", "MiB", "split_s", "csv_s", "exact_s", "exact_rows_s", "bulk_s", "bulk_rows_s",
            "speedup", "bulk_vs_csv"]
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for users in a.users:
        for assets in a.assets:
            d = a.dir / f"u{users}_a{assets}"
            cfg, path = d / "snapshot.toml", d / "ledger.csv"
            if not path.exists():
                write_example(d, users, assets, 2)
            split_s, _ = _best(lambda: _floor_split(path), a.repeat)
            csv_s, _ = _best(lambda: _floor_csv(path), a.repeat)
            exact_s, rows = _best(_reader(cfg, path, False), a.repeat)
            bulk_s, rows2 = _best(_reader(cfg, path, True), a.repeat)
            assert rows == rows2
            print(f"| {users} | {assets} | {rows} | {path.stat().st_size / 2**20:.1f} | {split_s:.3f} | {csv_s:.2f} | "
                  f"{exact_s:.2f} | {rows / exact_s:,.0f} | {bulk_s:.2f} | {rows / bulk_s:,.0f} | "
                  f"{exact_s / bulk_s:.1f} | {bulk_s / csv_s:.2f} |", flush=True)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
