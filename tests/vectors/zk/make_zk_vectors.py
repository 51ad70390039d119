"""Regenerate the zk test vectors in this directory (SPEC.md §16.9).

    .venv/bin/python tests/vectors/zk/make_zk_vectors.py

One batch of ``Batch(2, 2)`` (4 leaves x 2 assets: alice, bob, carol and one padding leaf) in bucket
``main`` of snapshot ``acme-2026-11-20`` with the master secret ``00 01 .. 1f`` (the same as
``tests/vectors``), set up locally with the entropy ``ENTROPY``. Writes:

* ``vectors.json`` -- every intermediate value: field-reduction preimages and results, leaf inputs
  and hashes, every Poseidon level, the root as 32 bytes, the sums, the verifying-key digest;
* ``input.json`` -- the circuit input; ``verification_key.json``, ``proof.json``, ``public.json`` --
  snarkjs' documents. The verifying key is deterministic (the tests recompute it byte for byte);
  the proof is randomised, so it changes on every run and is only regenerated with the rest.

Needs the node tools (scripts/setup-node.sh); the phase-1 file is cached in build/zk.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))

from por.core.encoding import H, lp  # noqa: E402
from por.core.keys import SnapshotKeys  # noqa: E402
from por.zk import build, prover, tools  # noqa: E402
from por.zk.batch import (  # noqa: E402
    TAG_ZK_ACCOUNT,
    TAG_ZK_SALT,
    BatchLeaf,
    account_field,
    batch_levels,
    batch_sums,
    field_to_bytes32,
    pad_leaf,
    salt_field,
)
from por.zk.circuits import BATCH  # noqa: E402

SNAPSHOT_ID = "acme-2026-11-20"
BUCKET = "main"
SECRET = bytes(range(32))
ENTROPY = "por/v1 zk test vectors"
K, ASSETS = 2, 2
ACCOUNTS = [("alice", (51000000, 12500000)), ("bob", (0, 18446744073709551615 - 12500000 - 7)),
            ("carol", (18446744073709551615 - 51000000, 7))]
"""Balances in minor units (BTC, USDT); both batch sums are exactly 2^64 - 1, the largest u64."""


def build_leaves() -> tuple[list[BatchLeaf], list[dict[str, object]]]:
    """The four leaves and a description of each (ids, salts and preimages in hex)."""
    keys = SnapshotKeys.from_master(SECRET)
    leaves, described = [], []
    for account_id, balances in ACCOUNTS:
        salt = keys.leaf_salt(SNAPSHOT_ID, BUCKET, account_id)
        leaf = BatchLeaf.for_account(SNAPSHOT_ID, BUCKET, account_id, salt, balances)
        leaves.append(leaf)
        described.append({
            "kind": "account", "account_id": account_id, "salt": salt.hex(),
            "account_preimage": (TAG_ZK_ACCOUNT + lp(SNAPSHOT_ID) + lp(BUCKET) + lp(account_id)).hex(),
            "account_digest": H(TAG_ZK_ACCOUNT + lp(SNAPSHOT_ID) + lp(BUCKET) + lp(account_id)).hex(),
            "salt_preimage": (TAG_ZK_SALT + salt).hex(),
            "account": str(leaf.account), "salt_field": str(leaf.salt),
            "balances": [str(v) for v in balances], "leaf": str(leaf.hash)})
        assert leaf.account == account_field(SNAPSHOT_ID, BUCKET, account_id)
        assert leaf.salt == salt_field(salt)
    seed = keys.padding_seed(SNAPSHOT_ID, BUCKET, 0)
    pad = pad_leaf(seed, ASSETS)
    leaves.append(pad)
    described.append({"kind": "padding", "seed": seed.hex(), "salt_preimage": (TAG_ZK_SALT + seed).hex(),
                      "account": "0", "salt_field": str(pad.salt), "balances": ["0"] * ASSETS,
                      "leaf": str(pad.hash)})
    return leaves, described


def main() -> None:
    leaves, described = build_leaves()
    levels = batch_levels([leaf.hash for leaf in leaves])
    root, sums = levels[-1][0], batch_sums(leaves)
    setup = build.setup_batch(K, ASSETS, ENTROPY)
    proved = prover.prove_batch(setup, leaves)
    assert proved.root == root and list(proved.sums) == sums, "circuit and Python disagree"
    vk = setup.verifying_key()
    shutil.copyfile(setup.vkey_path, HERE / "verification_key.json")
    write = lambda name, doc: (HERE / name).write_text(json.dumps(doc, indent=1) + "\n")  # noqa: E731
    write("input.json", BATCH.witness_input(leaves))
    write("proof.json", proved.proof.to_json())
    write("public.json", [str(v) for v in proved.public])
    write("vectors.json", {
        "snapshot_id": SNAPSHOT_ID, "bucket": BUCKET, "secret": SECRET.hex(), "k": K, "assets": ASSETS,
        "setup_entropy": ENTROPY, "tool_versions": tools.tool_versions(),
        "leaves": described,
        "levels": [[str(v) for v in level] for level in levels],
        "root": str(root), "root_bytes32": field_to_bytes32(root).hex(),
        "sums": [str(s) for s in sums],
        "vk_digest": vk.digest().hex(),
        "constraints": setup.circuit.info.n_constraints,
    })
    print(f"wrote vectors to {HERE}: root {field_to_bytes32(root).hex()}, vk digest {vk.digest().hex()}")


if __name__ == "__main__":
    main()
