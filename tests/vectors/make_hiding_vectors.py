"""Regenerate the hiding-mode test vectors in tests/vectors/hiding/ (SPEC.md §15.8).

    python tests/vectors/make_hiding_vectors.py

Uses the same config, ledger and secret as the public-mode vectors. Run this ONLY
together with a SPEC.md change (and a FORMAT_VERSION bump): tests/test_vectors_hiding.py
recomputes everything here with an implementation written from SPEC.md.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from por.core import encoding as enc
from por.core.fileio import canonical_json
from por.crypto.group import N
from por.core.keys import Prf, SnapshotKeys, blinding_factors, load_secret
from por.crypto.pedersen import commit
from por.proofs.inclusion import Prover
from por.snapshot import build_snapshot, compute_root
from por.proofs.solvency import parse_reserves, prove_solvency

HERE = Path(__file__).resolve().parent
OUT = HERE / "hiding"
RESERVES = {"main": {"BTC": "1.75", "USDT": "100"}, "seg-1": {"BTC": "2.00000001", "USDT": "12.845678"}}


def main() -> None:
    secret = load_secret(HERE / "secret.key")
    OUT.mkdir(exist_ok=True)
    tmp = Path(tempfile.mkdtemp())
    try:
        res = build_snapshot(HERE / "snapshot.toml", HERE / "ledger.csv", tmp / "out", secret=secret, hiding=True)
        (OUT / "expected-snapshot.json").write_bytes((tmp / "out" / "snapshot.json").read_bytes())
        prover = Prover(tmp / "out")
        (OUT / "proof-alice.json").write_bytes(canonical_json(prover.prove("alice")))
        prover.close()
        (OUT / "reserves.json").write_bytes(canonical_json(RESERVES))
        reserves = parse_reserves(RESERVES, res.snapshot.config)
        (OUT / "solvency.json").write_bytes(canonical_json(prove_solvency(tmp / "out", reserves)))
    finally:
        shutil.rmtree(tmp)
    snap = res.snapshot
    keys = SnapshotKeys.from_master(secret)
    prf = Prf(keys.blinding_key, "sha512")
    sid = snap.config.snapshot_id
    salt = keys.leaf_salt(sid, "main", "alice")
    balances = [50_000_000, 100_000_000]  # BTC, USDT (canonical order)
    r = blinding_factors(prf, salt, 2, N)
    commitments = [commit(v, x).to_bytes() for v, x in zip(balances, r)]
    pre = enc.leaf_preimage(sid, "main", salt, "alice", commitments)
    seed = keys.padding_seed(sid, "main", 0)
    r_pad = blinding_factors(prf, seed, 2, N)
    _, top = compute_root(snap.config, snap.buckets, "hiding")
    root_pre = enc.root_preimage(
        version=1, mode="hiding", snapshot_id=sid, as_of=snap.config.as_of,
        assets=[(a.symbol, a.decimals) for a in snap.config.assets],
        buckets=[(b.id, b.kind) for b in snap.config.buckets],
        top_height=1, top_hash=bytes.fromhex("00" * 32), top_vector=top,
    )
    vectors = {
        "k_blinding": keys.blinding_key.hex(),
        "alice_main_salt": salt.hex(),
        "alice_main_blindings": [f"{x:064x}" for x in r],
        "alice_main_commitments": [c.hex() for c in commitments],
        "alice_main_leaf_preimage": pre.hex(),
        "alice_main_leaf_hash": enc.H(pre).hex(),
        "main_padding_seed_0": seed.hex(),
        "main_padding_blindings_0": [f"{x:064x}" for x in r_pad],
        "main_padding_commitments_0": [commit(0, x).to_bytes().hex() for x in r_pad],
        "top_commitments": [c.hex() for c in top],
        "root_preimage_with_zero_top_hash": root_pre.hex(),
        "snapshot_root": snap.root.hex(),
    }
    (OUT / "vectors.json").write_text(json.dumps(vectors, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
