"""Regenerate the test vectors in this folder from the current code.

    python tests/vectors/make_vectors.py

Run this ONLY together with a SPEC.md change and a FORMAT_VERSION bump: the
vectors pin every hashed byte, and tests/test_vectors.py recomputes them with an
independent implementation written from SPEC.md.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from por.core import encoding as enc
from por.core.fileio import canonical_json
from por.core.keys import LABEL_PADDING, LABEL_POSITION, LABEL_SALT, SnapshotKeys, derive_key, load_secret
from por.proofs.inclusion import Prover
from por.snapshot import build_snapshot

HERE = Path(__file__).resolve().parent


def main() -> None:
    secret = load_secret(HERE / "secret.key")
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
    keys = SnapshotKeys.from_master(secret)
    sid = snap.config.snapshot_id
    salt = keys.leaf_salt(sid, "main", "alice")
    balances = [50_000_000, 100_000_000]  # BTC, USDT in canonical (sorted) order
    seed0 = keys.padding_seed(sid, "main", 0)
    main = snap.bucket("main")
    vectors = {
        "format_version": enc.FORMAT_VERSION,
        "master_secret": secret.hex(),
        "k_leaf_salt": derive_key(secret, LABEL_SALT).hex(),
        "k_leaf_position": derive_key(secret, LABEL_POSITION).hex(),
        "k_padding": derive_key(secret, LABEL_PADDING).hex(),
        "alice_main_salt": salt.hex(),
        "alice_main_position_key": keys.position_sort_key(sid, "main", "alice").hex(),
        "alice_main_leaf_preimage": enc.leaf_preimage(sid, "main", salt, "alice", balances).hex(),
        "alice_main_leaf_hash": enc.leaf_hash(sid, "main", salt, "alice", balances).hex(),
        "main_padding_seed_0": seed0.hex(),
        "main_padding_preimage_0": enc.pad_preimage(sid, "main", seed0).hex(),
        "main_padding_hash_0": enc.pad_hash(sid, "main", seed0).hex(),
        "node_example": {
            "left_hash": "11" * 32, "left_sums": [1, 2], "right_hash": "22" * 32, "right_sums": [3, 2**64 - 4],
            "preimage": enc.node_preimage(b"\x11" * 32, [1, 2], b"\x22" * 32, [3, 2**64 - 4]).hex(),
            "hash": enc.node_hash(b"\x11" * 32, [1, 2], b"\x22" * 32, [3, 2**64 - 4]).hex(),
        },
        "main_bucket_leaf_preimage": enc.bucket_leaf_preimage(sid, "main", main.kind, main.height, main.root,
                                                               main.totals).hex(),
        "top_pad_hash_3": enc.top_pad_hash(sid, 3).hex(),
        "snapshot_root": snap.root.hex(),
    }
    (HERE / "vectors.json").write_bytes(canonical_json(vectors))
    print(f"wrote vectors for root {snap.root.hex()}")


if __name__ == "__main__":
    main()
