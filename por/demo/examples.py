"""Deterministic example ledgers: ``python -m por.demo.examples --users N --assets K --buckets B --out DIR``.

The same arguments always give byte-identical ``snapshot.toml`` and ``ledger.csv``
(a seeded PRNG; amounts are exact decimal strings). Used by ``por demo``, the
tests and the benchmarks.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

from por.core.fileio import atomic_write_bytes

ASSET_POOL = [("BTC", 8), ("ETH", 9), ("USDT", 6), ("USDC", 6), ("SOL", 9), ("XRP", 6), ("DOGE", 8), ("ADA", 6)]
KIND_POOL = ["cross-margin", "segregated", "isolated-margin", "portfolio-margin", "custody"]
BUCKET_NAMES = ["cross", "fund-7", "isolated", "portfolio", "vault-a"]


def example_config(assets: int = 3, buckets: int = 2, snapshot_id: str = "demo-2026-11-20",
                   as_of: str = "2026-11-20T00:00:00Z") -> str:
    """TOML text of an example snapshot config."""
    if not 1 <= assets <= len(ASSET_POOL) or not 1 <= buckets <= 50:
        raise ValueError(f"assets must be 1..{len(ASSET_POOL)}, buckets 1..50")
    lines = [f'snapshot_id = "{snapshot_id}"', f'as_of = "{as_of}"', "", "[assets]"]
    lines += [f"{s} = {d}" for s, d in ASSET_POOL[:assets]]
    for i in range(buckets):
        name = BUCKET_NAMES[i] if i < len(BUCKET_NAMES) else f"bucket-{i}"
        lines += ["", f"[buckets.{name}]", f'kind = "{KIND_POOL[i % len(KIND_POOL)]}"']
    return "\n".join(lines) + "\n"


def _amount(rng: random.Random, decimals: int, cap: int = 100_000) -> str:
    """A random amount; its whole part below ``cap`` (only large ledgers need one below 100 000: see
    :func:`write_example_ledger`)."""
    r = rng.randrange(100)
    if r < 30:
        return "0"
    whole = rng.randrange(10 ** rng.randrange(1, 5)) if r < 95 else rng.randrange(10_000, 100_000)
    whole %= cap
    frac = rng.randrange(10**decimals) if decimals else 0
    return f"{whole}.{str(frac).rjust(decimals, '0')}".rstrip("0").rstrip(".") if decimals else str(whole)


def write_example_ledger(path: Path, users: int, assets: int = 3, buckets: int = 2, seed: int = 7) -> None:
    """Write a CSV ledger of ``users`` accounts; about 1 in 8 also holds a second bucket.

    Amounts stay realistic at any size: each whole part is below ``2^63 / (users · 10^decimals)`` (and below
    100 000), so that no total of the ledger reaches 2^64 minor units even at tens of millions of users (a
    ledger of up to ~92 000 users is the same with or without this cap)."""
    rng = random.Random(seed)
    symbols = [s for s, _ in ASSET_POOL[:assets]]
    decs = [d for _, d in ASSET_POOL[:assets]]
    caps = [max(1, min(100_000, (1 << 63) // (max(users, 1) * 10**d))) for d in decs]
    names = [BUCKET_NAMES[i] if i < len(BUCKET_NAMES) else f"bucket-{i}" for i in range(buckets)]
    tmp = Path(path).with_name(Path(path).name + ".partial")
    with open(tmp, "w", encoding="utf-8", newline="") as fh:
        fh.write(",".join(["account_id", "bucket", *symbols]) + "\n")
        for u in range(users):
            b = u % buckets
            fh.write(f"user-{u:07d},{names[b]}," + ",".join(_amount(rng, d, c) for d, c in zip(decs, caps)) + "\n")
            if buckets > 1 and rng.randrange(8) == 0:
                b2 = (b + 1) % buckets
                fh.write(f"user-{u:07d},{names[b2]}," + ",".join(_amount(rng, d, c) for d, c in zip(decs, caps)) + "\n")
    tmp.replace(path)


def write_example(out: Path, users: int, assets: int = 3, buckets: int = 2, seed: int = 7) -> tuple[Path, Path]:
    """Write ``out/snapshot.toml`` and ``out/ledger.csv``; returns both paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    cfg = out / "snapshot.toml"
    atomic_write_bytes(cfg, example_config(assets, buckets).encode())
    ledger = out / "ledger.csv"
    write_example_ledger(ledger, users, assets, buckets, seed)
    return cfg, ledger


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m por.demo.examples", description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=1000)
    ap.add_argument("--assets", type=int, default=3)
    ap.add_argument("--buckets", type=int, default=2)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args(argv)
    cfg, ledger = write_example(a.out, a.users, a.assets, a.buckets, a.seed)
    print(f"wrote {cfg} and {ledger}")


if __name__ == "__main__":
    main()
