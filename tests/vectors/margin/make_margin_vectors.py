"""Regenerate the margin-account test vectors in tests/vectors/margin/ (SPEC.md §17.13).

    .venv/bin/python tests/vectors/margin/make_margin_vectors.py

Inputs: snapshot.toml and ledger.csv in this folder and the master secret 00 01 .. 1f of
tests/vectors/secret.key. Outputs: expected-snapshot.json, proof-alice.json and vectors.json
(intermediate values). Run this ONLY together with a change of SPEC.md §17:
tests/test_margin_mode.py recomputes everything here with an implementation written from
SPEC.md (hashlib and integers only) and checks the code reproduces these files byte for byte.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))

from por.core import encoding as enc  # noqa: E402
from por.core.fileio import canonical_json  # noqa: E402
from por.core.keys import SnapshotKeys, load_secret  # noqa: E402
from por.core.margin import account_shortfall, collateral_value  # noqa: E402
from por.proofs.inclusion import Prover  # noqa: E402
from por.snapshot import build_snapshot, compute_root  # noqa: E402
from por.tree.sumtree import top_tree  # noqa: E402


def main() -> None:
    secret = load_secret(HERE.parent / "secret.key")
    tmp = Path(tempfile.mkdtemp())
    try:
        res = build_snapshot(HERE / "snapshot.toml", HERE / "ledger.csv", tmp / "out", secret=secret)
        (HERE / "expected-snapshot.json").write_bytes((tmp / "out" / "snapshot.json").read_bytes())
        prover = Prover(tmp / "out")
        (HERE / "proof-alice.json").write_bytes(canonical_json(prover.prove("alice")))
        prover.close()
    finally:
        shutil.rmtree(tmp)
    snap = res.snapshot
    cfg = snap.config
    params = cfg.margin
    assert params is not None
    keys = SnapshotKeys.from_master(secret)
    sid = cfg.snapshot_id
    salt = keys.leaf_salt(sid, "main", "alice")
    # alice,main,0.5 BTC,-10000 USDT -> canonical order (BTC, USDT)
    equity, debt = [50_000_000, 0], [0, 10_000_000_000]
    vector = equity + debt
    main = snap.bucket("main")
    top = top_tree(sid, [b.leaf(sid) for b in snap.buckets], [0] * 4)
    top_hash, top_sums = top[-1][0]
    root_pre = enc.root_preimage(
        version=2, mode="public", snapshot_id=sid, as_of=cfg.as_of,
        assets=[(a.symbol, a.decimals) for a in cfg.assets], buckets=[(b.id, b.kind) for b in cfg.buckets],
        top_height=len(top) - 1, top_hash=top_hash, top_vector=top_sums, extension=params.root_bytes(),
    )
    assert enc.H(root_pre) == snap.root == compute_root(cfg, snap.buckets)[0]
    # a row the build rejects: 1 BTC of debt against 90000 USDT (haircut 1 %)
    bad_e, bad_d = [0, 90_000_000_000], [100_000_000, 0]
    short = account_shortfall(bad_e, bad_d, params)
    assert short is not None
    # a node example with 2A = 4 values (equity BTC, USDT, debt BTC, USDT), one sum at 2^64 - 4
    left, right = [1, 2, 3, 4], [5, 2**64 - 6, 7, 8]
    vectors = {
        "format_version": snap.version,
        "tag_version": enc.FORMAT_VERSION,
        "master_secret": secret.hex(),
        "margin": {
            "scale": params.scale,
            "haircut_digits": params.haircut_digits,
            "f_eq": [str(x) for x in params.f_eq],
            "f_debt": [str(x) for x in params.f_debt],
            "tier_factors": [[str(x) for x in t] for t in params.tier_factors],
            "tier_bounds": [[str(x) for x in b] for b in params.tier_bounds],
            "root_bytes": params.root_bytes().hex(),
        },
        "alice_main": {
            "salt": salt.hex(),
            "equity": equity,
            "debt": debt,
            "leaf_preimage": enc.leaf_preimage(sid, "main", salt, "alice", vector).hex(),
            "leaf_hash": enc.leaf_hash(sid, "main", salt, "alice", vector).hex(),
            "value_base": str(collateral_value(equity, debt, params)),
            "value_tiered": str(collateral_value(equity, debt, params, tiered=True)),
        },
        "rejected_row": {
            "equity": bad_e, "debt": bad_d,
            "value_tiered": str(collateral_value(bad_e, bad_d, params, tiered=True)),
            "shortfall": short.text,
        },
        "node_example": {
            "left_hash": "11" * 32, "left_values": left, "right_hash": "22" * 32, "right_values": right,
            "preimage": enc.node_preimage(b"\x11" * 32, left, b"\x22" * 32, right).hex(),
            "hash": enc.node_hash(b"\x11" * 32, left, b"\x22" * 32, right).hex(),
        },
        "main_bucket_leaf_preimage": enc.bucket_leaf_preimage(sid, "main", main.kind, main.height, main.root,
                                                               main.vector).hex(),
        "root_preimage": root_pre.hex(),
        "snapshot_root": snap.root.hex(),
    }
    (HERE / "vectors.json").write_bytes(canonical_json(vectors))
    print(f"wrote margin vectors for root {snap.root.hex()}")


if __name__ == "__main__":
    main()
