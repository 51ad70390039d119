"""Regenerate the hiding-mode margin test vectors in tests/vectors/margin-hiding/ (SPEC.md §17.16+).

    .venv/bin/python tests/vectors/margin-hiding/make_margin_hiding_vectors.py

Inputs: tests/vectors/margin/snapshot.toml and ledger.csv (the public-mode margin vectors' inputs), the
master secret 00 01 .. 1f of tests/vectors/secret.key, every bucket at height 2 (``--height 2``: small
range-proof statements, so the from-SPEC verifier stays fast). Outputs: expected-snapshot.json,
proof-alice.json, reserves.json, solvency.json (128-bit zero-knowledge solvency) and vectors.json
(intermediate values). Run this ONLY together with a change of the margin hiding-mode section of SPEC.md:
tests/test_margin_hiding.py checks the code reproduces these files byte for byte and recomputes them
from the SPEC text with hashlib, hmac and py_ecc only.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))

from por.core import encoding as enc  # noqa: E402
from por.modes.commitments import collateral_commitment, collateral_opening, zero_debt_commitment  # noqa: E402
from por.core.fileio import canonical_json  # noqa: E402
from por.crypto.group import N  # noqa: E402
from por.core.keys import Prf, SnapshotKeys, blinding_factors, load_secret  # noqa: E402
from por.crypto.pedersen import commit  # noqa: E402
from por.proofs.inclusion import Prover  # noqa: E402
from por.snapshot import build_snapshot, compute_root, root_preimage  # noqa: E402
from por.proofs.solvency import parse_reserves, prove_solvency, surplus_commitments  # noqa: E402
from por.tree.store import Store  # noqa: E402
from por.tree.sumtree import top_tree  # noqa: E402

INPUTS = HERE.parent / "margin"
HEIGHT = 2
# main: requirement BTC 12.25 (equity 12.5 - debt 0.25), USDT 40100.5 (50100.5 - 10000): covered exactly
RESERVES = {"main": {"BTC": "12.25", "USDT": "40100.5"}, "seg-1": {"BTC": "2.00000001", "USDT": "12.845678"}}


def _hex(r: int) -> str:
    return r.to_bytes(32, "big").hex()


def main() -> None:
    secret = load_secret(HERE.parent / "secret.key")
    tmp = Path(tempfile.mkdtemp())
    try:
        out = tmp / "out"
        res = build_snapshot(INPUTS / "snapshot.toml", INPUTS / "ledger.csv", out, secret=secret, hiding=True,
                             height=HEIGHT)
        (HERE / "expected-snapshot.json").write_bytes((out / "snapshot.json").read_bytes())
        prover = Prover(out)
        (HERE / "proof-alice.json").write_bytes(canonical_json(prover.prove("alice")))
        bucket_openings = [prover.bucket_root_opening(i) for i in range(2)]
        top_open = prover.top_opening
        prover.close()
        (HERE / "reserves.json").write_bytes(canonical_json(RESERVES))
        reserves = parse_reserves(RESERVES, res.snapshot.config)
        (HERE / "solvency.json").write_bytes(canonical_json(prove_solvency(out, reserves)))
        store = Store(out / "store.sqlite")
        alice_pos = store.account_leaves("alice")[0][1]
        store.close()
    finally:
        shutil.rmtree(tmp)

    snap = res.snapshot
    cfg = snap.config
    params = cfg.margin
    assert params is not None
    keys = SnapshotKeys.from_master(secret)
    prf = Prf(keys.blinding_key, "sha512")
    sid = cfg.snapshot_id

    # alice, main (allow_debt): 0.5 BTC equity, 10000 USDT debt; slots BTC_E, USDT_E, BTC_D, USDT_D
    salt = keys.leaf_salt(sid, "main", "alice")
    values = [50_000_000, 0, 0, 10_000_000_000]
    r = blinding_factors(prf, salt, 4, N)
    cs = [commit(v, x).to_bytes() for v, x in zip(values, r)]
    v_alice, rho_alice = collateral_opening(values, r, params.f_eq, params.f_debt)
    cv_alice = collateral_commitment(cs, params.f_eq, params.f_debt)
    assert cv_alice == commit(v_alice % N, rho_alice)

    # fund-client, seg-1 (no allow_debt): equity slots derived, debt slots the public blinding 1
    fc_salt = keys.leaf_salt(sid, "seg-1", "fund-client")
    fc_values = [200_000_000, 12_845_678, 0, 0]
    fc_r = blinding_factors(prf, fc_salt, 2, N) + [1, 1]
    fc_cs = [commit(v, x).to_bytes() for v, x in zip(fc_values, fc_r)]
    # padding leaf 0 of seg-1 (2 rows in 4 leaves)
    seed = keys.padding_seed(sid, "seg-1", 0)
    pad_r = blinding_factors(prf, seed, 2, N) + [1, 1]

    _, top = compute_root(cfg, snap.buckets, "hiding")
    levels = top_tree(sid, [b.leaf(sid) for b in snap.buckets], snap.scheme.top_pad())
    top_hash = levels[-1][0][0]
    root_pre = root_preimage(cfg, "hiding", top_hash, top)
    assert enc.H(root_pre) == snap.root

    main_b, seg_b = snap.buckets
    assert seg_b.commitments[2:] == (zero_debt_commitment(HEIGHT),) * 2  # type: ignore[index]
    bucket_cv = []
    for b, o in zip(snap.buckets, bucket_openings):
        v, rho = collateral_opening(o.values, o.blinds, params.f_eq, params.f_debt)
        c = collateral_commitment(b.commitments, params.f_eq, params.f_debt)  # type: ignore[arg-type]
        assert c == commit(v % N, rho)
        bucket_cv.append({"bucket": b.id, "collateral_commitment": c.to_bytes().hex(), "value": str(v),
                          "blinding": _hex(rho)})
    total_v, total_rho = collateral_opening(top_open.values, top_open.blinds, params.f_eq, params.f_debt)

    vectors = {
        "format_version": snap.version,
        "height": HEIGHT,
        "k_blinding": keys.blinding_key.hex(),
        "f_eq": [str(x) for x in params.f_eq],
        "f_debt": [str(x) for x in params.f_debt],
        "alice_main": {
            "index": alice_pos,
            "salt": salt.hex(),
            "values": values,
            "blindings": [_hex(x) for x in r],
            "commitments": [c.hex() for c in cs],
            "leaf_preimage": enc.leaf_preimage(sid, "main", salt, "alice", cs).hex(),
            "leaf_hash": enc.leaf_hash(sid, "main", salt, "alice", cs).hex(),
            "collateral_commitment": cv_alice.to_bytes().hex(),
            "collateral_value": str(v_alice),
            "collateral_blinding": _hex(rho_alice),
        },
        "fund_client_seg1": {
            "salt": fc_salt.hex(),
            "values": fc_values,
            "blindings": [_hex(x) for x in fc_r],
            "commitments": [c.hex() for c in fc_cs],
            "leaf_hash": enc.leaf_hash(sid, "seg-1", fc_salt, "fund-client", fc_cs).hex(),
        },
        "seg1_padding_0": {
            "seed": seed.hex(),
            "blindings": [_hex(x) for x in pad_r],
            "commitments": [commit(0, x).to_bytes().hex() for x in pad_r],
        },
        "zero_debt_commitment_level_2": zero_debt_commitment(HEIGHT).hex(),
        "bucket_collateral": bucket_cv,
        "top_commitments": [c.hex() for c in top],
        "total_collateral": {"collateral_commitment": collateral_commitment(top, params.f_eq, params.f_debt)
                             .to_bytes().hex(), "value": str(total_v), "blinding": _hex(total_rho)},
        "root_preimage": root_pre.hex(),
        "snapshot_root": snap.root.hex(),
        "solvency_surplus_commitments": [p.to_bytes().hex() for p in surplus_commitments(snap, reserves)],
    }
    (HERE / "vectors.json").write_bytes(canonical_json(vectors))
    print(f"wrote margin hiding-mode vectors for root {snap.root.hex()}")


if __name__ == "__main__":
    main()
