"""Regenerate the margin zk-mode vectors in tests/vectors/margin-zk/ (SPEC.md §17.26, with §16.10-§16.13, §17.25).

    .venv/bin/python tests/vectors/margin-zk/make_margin_zk_vectors.py            # (re)write margin-zk/
    .venv/bin/python tests/vectors/margin-zk/make_margin_zk_vectors.py --check    # regenerate elsewhere, compare bytes

A version 2 zk-mode snapshot built with the library from the margin config and ledger of
tests/vectors/margin/ (§17.13: assets BTC 8 and USDT 6 decimals, BTC tiered, bucket ``main``
cross-margin with ``allow_debt`` and 4 accounts -- height 3, four batches and two SHA-256 levels above
them --, bucket ``seg-1`` segregated with 2 accounts -- height 2, two batches), the local
``BatchMargin(1, 2)`` setup of entropy ``"por/v1 zk test vectors"`` (the compiled circuit, phase 1 and
phase 2 are cached in build/zk; the first run takes about 30 s) and the master secret ``00 01 .. 1f``
(tests/vectors/secret.key). Every batch is proven (`por zk prove`; deterministic randomness, SPEC.md
§16.13, so the proofs are byte-identical on every run) and ``alice`` (bucket ``main`` only) gets an
inclusion proof. Writes into ``margin-zk/``:

* ``snapshot.toml``, ``ledger.csv`` -- the inputs (copies of tests/vectors/margin/'s);
* ``snapshot.json`` -- the published snapshot (version 2, mode zk);
* ``zk/<b>/<j>.json`` -- every batch proof (``por-zk-batch-proof`` version 2, equity and debt sums);
* ``proof-alice.json`` -- alice's version 2 zk-mode inclusion proof;
* ``intermediate.json`` -- for alice's entry: the account/salt preimages, digests and field elements,
  the margin leaf inputs ``account, salt, E ‖ D`` and its Poseidon hash, the Poseidon siblings and
  parents, the batch root (decimal and 32 bytes), the batch equity/debt sums, ``f_eq``/``f_debt`` as
  derived (§17.3), the full public-signal list, every SHA-256 node preimage and hash above the batch,
  the bucket-leaf preimage, the top-node preimage; the margin bytes (§17.7), the verifying-key digest
  preimage and digest, the root preimage (ending ``u8(k) ‖ vk_digest ‖ margin``) and root; and alice's
  whole batch (both leaves' inputs and hashes).

Needs the node tools (scripts/setup-node.sh). Run this only together with a SPEC.md change:
tests/test_vectors_margin_zk.py re-verifies everything here with an implementation written from SPEC.md.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))

from por.core import encoding as enc  # noqa: E402
from por.core.fileio import canonical_json  # noqa: E402
from por.core.keys import SnapshotKeys, load_secret  # noqa: E402
from por.core.margin import collateral_value  # noqa: E402
from por.proofs.inclusion import Prover  # noqa: E402
from por.snapshot import build_snapshot, compute_root, root_preimage  # noqa: E402
from por.tree.sumtree import top_tree  # noqa: E402
from por.zk import batch as zb  # noqa: E402
from por.zk import tools  # noqa: E402
from por.zk.circuits import BATCH_MARGIN  # noqa: E402
from por.zk.setup import create_setup  # noqa: E402
from por.modes.zk import batch_proof_path  # noqa: E402
from por.proofs.batches import prove_snapshot  # noqa: E402

OUT = HERE
INPUTS = HERE.parent / "margin"  # the §17.13 config and ledger
SECRET = bytes(range(32))
ENTROPY = "por/v1 zk test vectors"  # §16.9's entropy
K, ASSETS = 1, 2
ACCOUNT = "alice"
GENERATED = ("snapshot.toml", "ledger.csv", "snapshot.json", "proof-alice.json", "intermediate.json", "zk")


def _dec(values) -> list[str]:
    return [str(v) for v in values]


def _node_doc(left: tuple[bytes, list[int]], right: tuple[bytes, list[int]]) -> dict:
    pre = enc.node_preimage(left[0], left[1], right[0], right[1])
    return {"preimage": pre.hex(), "hash": enc.H(pre).hex(), "values": _dec([a + b for a, b in zip(left[1], right[1])])}


def _vector(obj: dict, symbols: list[str]) -> list[int]:
    """``equity ‖ debt`` of a proof entry, node or batch object, canonical asset order."""
    return [int(obj["equity"][s]) for s in symbols] + [int(obj["debt"][s]) for s in symbols]


def intermediate(snap_dir: Path, proof: dict) -> dict:
    """Every value a from-SPEC implementation computes for alice's proof, plus her whole batch."""
    prover = Prover(snap_dir)
    try:
        snap = prover.snapshot
        cfg = snap.config
        margin = cfg.margin
        sid = cfg.snapshot_id
        symbols = list(cfg.symbols)
        n = len(symbols)
        vk = snap.zk.vkey
        keys = SnapshotKeys.from_master(SECRET)
        top = top_tree(sid, [b.leaf(sid) for b in snap.buckets], snap.scheme.top_pad())
        entries = []
        for e in proof["entries"]:
            bucket = e["bucket"]
            bi = cfg.bucket_ids.index(bucket)
            summary = snap.buckets[bi]
            index, height = e["index"], e["height"]
            salt32 = bytes.fromhex(e["salt"])
            assert salt32 == keys.leaf_salt(sid, bucket, ACCOUNT)
            equity = [int(e["equity"][s]) for s in symbols]
            debt = [int(e["debt"][s]) for s in symbols]
            acc_pre = zb.TAG_ZK_ACCOUNT + enc.lp(sid) + enc.lp(bucket) + enc.lp(ACCOUNT)
            salt_pre = zb.TAG_ZK_SALT + salt32
            account, salt = zb.account_field(sid, bucket, ACCOUNT), zb.salt_field(salt32)
            assert (account, salt) == (int.from_bytes(enc.H(acc_pre), "big") >> 3,
                                       int.from_bytes(enc.H(salt_pre), "big") >> 3)
            leaf = zb.leaf_hash(account, salt, BATCH_MARGIN.join_values(equity, debt))
            assert prover.store.node(bi, 0, index, 2 * n)[0] == zb.field_to_bytes32(leaf)
            node, pos_path = leaf, []
            for lvl, sib in enumerate(int(x) for x in e["batch"]["path"]):
                right = bool((index >> lvl) & 1)
                node = zb.node_hash(sib, node) if right else zb.node_hash(node, sib)
                pos_path.append({"level": lvl + 1, "sibling": str(sib), "node_is_right_child": right,
                                 "parent": str(node)})
            root = node
            b_eq = [int(e["batch"]["equity"][s]) for s in symbols]
            b_debt = [int(e["batch"]["debt"][s]) for s in symbols]
            signals = BATCH_MARGIN.public_signals(root, b_eq + b_debt, (margin.f_eq, margin.f_debt))
            cur = (zb.field_to_bytes32(root), b_eq + b_debt)
            level_k = {"level": K, "hash": cur[0].hex(), "values": _dec(cur[1]),
                       "value_base": str(collateral_value(b_eq, b_debt, margin, tiered=False))}
            sha_path = []
            for lvl, sib in enumerate(e["path"]):
                s = (bytes.fromhex(sib["hash"]), _vector(sib, symbols))
                right = bool((index >> (K + lvl)) & 1)
                doc = _node_doc(s, cur) if right else _node_doc(cur, s)
                sha_path.append({"level": K + lvl + 1, "node_is_right_child": right, **doc})
                cur = (bytes.fromhex(doc["hash"]), [int(v) for v in doc["values"]])
            assert cur == (summary.root, list(summary.vector))
            bl_pre = enc.bucket_leaf_preimage(sid, bucket, summary.kind, height, cur[0], cur[1])
            cur = (enc.H(bl_pre), cur[1])
            top_path = []
            for lvl, sib in enumerate(e["top_path"]):
                s = (bytes.fromhex(sib["hash"]), _vector(sib, symbols))
                right = bool((bi >> lvl) & 1)
                doc = _node_doc(s, cur) if right else _node_doc(cur, s)
                top_path.append({"level": lvl + 1, "node_is_right_child": right, **doc})
                cur = (bytes.fromhex(doc["hash"]), [int(v) for v in doc["values"]])
            assert cur[0] == top[-1][0][0]
            entries.append({
                "bucket": bucket, "bucket_position": bi, "height": height, "index": index,
                "batch": index >> K, "index_in_batch": index & ((1 << K) - 1),
                "salt32": salt32.hex(),
                "account_preimage": acc_pre.hex(), "account_digest": enc.H(acc_pre).hex(), "account": str(account),
                "salt_preimage": salt_pre.hex(), "salt_digest": enc.H(salt_pre).hex(), "salt": str(salt),
                "equity": _dec(equity), "debt": _dec(debt),
                "value_base": str(collateral_value(equity, debt, margin, tiered=False)),
                "value_tiered": str(collateral_value(equity, debt, margin, tiered=True)),
                "leaf_inputs": _dec([account, salt, *equity, *debt]),
                "leaf": str(leaf),
                "poseidon_path": pos_path,
                "batch_root": str(root), "batch_root_bytes32": zb.field_to_bytes32(root).hex(),
                "batch_equity": _dec(b_eq), "batch_debt": _dec(b_debt),
                "public_signals": _dec(signals),
                "level_k_node": level_k,
                "sha256_path": sha_path,
                "bucket_root": summary.root.hex(), "bucket_values": _dec(summary.vector),
                "bucket_leaf_preimage": bl_pre.hex(), "bucket_leaf": enc.H(bl_pre).hex(),
                "top_path": top_path,
            })

        top_hash, top_vec = top[-1][0]
        root_pre = root_preimage(cfg, "zk", top_hash, top_vec, snap.zk)
        margin_bytes = margin.root_bytes()
        assert root_pre.endswith(enc.u8(K) + vk.digest() + margin_bytes)
        assert enc.H(root_pre) == snap.root == compute_root(cfg, snap.buckets, "zk", snap.zk)[0]
        vk_pre = b"".join([enc.tag("zk-vkey"), enc.u16(vk.n_public), vk.alpha.to_bytes(), vk.beta.to_bytes(),
                           vk.gamma.to_bytes(), vk.delta.to_bytes(), *(p.to_bytes() for p in vk.ic)])
        assert enc.H(vk_pre) == vk.digest()

        # alice's whole batch: both leaves (real or padding) with their inputs and hashes
        alice = entries[0]
        bi, j = alice["bucket_position"], alice["batch"]
        bucket = cfg.bucket_ids[bi]
        by_pos = {p: (a, s) for a, p, s in prover.store.bucket_accounts(bi)}
        n_real = len(by_pos)
        seeds = [keys.padding_seed(sid, bucket, i) for i in range((1 << snap.buckets[bi].height) - n_real)]
        leaves = []
        for i in range(j << K, (j + 1) << K):
            _, values = prover.store.node(bi, 0, i, 2 * n)
            fields = prover.store.zk_fields(bi, i, 1)
            if i in by_pos:
                acct, salt32 = by_pos[i]
                leaf = zb.BatchLeaf.for_account(sid, bucket, acct, salt32,
                                                BATCH_MARGIN.join_values(values[:n], values[n:]))
                desc = {"index": i, "kind": "account", "account_id": acct, "salt32": salt32.hex()}
            else:
                pads = [p for p, s in enumerate(seeds) if zb.salt_field(s) == int.from_bytes(fields[32:], "big")]
                assert len(pads) == 1
                leaf = zb.pad_leaf(seeds[pads[0]], BATCH_MARGIN.n_values(n))
                desc = {"index": i, "kind": "padding", "padding_index": pads[0], "seed": seeds[pads[0]].hex()}
            assert fields == leaf.account.to_bytes(32, "big") + leaf.salt.to_bytes(32, "big")
            equity, debt = BATCH_MARGIN.split_values(leaf.values)
            leaves.append({**desc, "account": str(leaf.account), "salt": str(leaf.salt),
                           "equity": _dec(equity), "debt": _dec(debt), "leaf": str(leaf.hash)})

        return {
            "description": "margin zk-mode vectors (SPEC.md §17.26): intermediate values of alice's version 2 "
                           "inclusion proof; field elements are decimal, bytes lowercase hex, vectors E ‖ D",
            "secret": SECRET.hex(), "snapshot_id": sid, "setup_entropy": ENTROPY, "circuit": "BatchMargin",
            "batch_height": K, "assets": symbols, "tool_versions": tools.tool_versions(),
            "scale": margin.scale, "f_eq": _dec(margin.f_eq), "f_debt": _dec(margin.f_debt),
            "n_public": vk.n_public,
            "vk_digest_preimage": vk_pre.hex(), "vk_digest": vk.digest().hex(),
            "margin_bytes": margin_bytes.hex(),
            "account_id": ACCOUNT, "entries": entries,
            "alice_batch": {"bucket": bucket, "bucket_position": bi, "batch": j, "leaves": leaves},
            "top_height": len(top) - 1, "top_hash": top_hash.hex(), "top_values": _dec(top_vec),
            "root_preimage": root_pre.hex(), "root": snap.root.hex(),
            "batches": [{"bucket": b.id, "bucket_position": p, "height": b.height, "batches": 1 << (b.height - K)}
                        for p, b in enumerate(snap.buckets)],
        }
    finally:
        prover.close()


def generate(out: Path) -> None:
    """Build, prove and write every vector file into ``out`` (replacing only the generated files)."""
    out.mkdir(parents=True, exist_ok=True)
    for name in GENERATED:  # this script lives in ``out``: never remove the whole directory
        p = out / name
        if p.is_dir():
            shutil.rmtree(p)
        elif p.exists():
            p.unlink()
    assert load_secret(HERE.parent / "secret.key") == SECRET
    (out / "snapshot.toml").write_bytes((INPUTS / "snapshot.toml").read_bytes())
    (out / "ledger.csv").write_bytes((INPUTS / "ledger.csv").read_bytes())
    with tempfile.TemporaryDirectory(prefix="margin-zk-vectors-") as tmp:
        setup_dir, snap_dir = Path(tmp) / "setup", Path(tmp) / "snap"
        setup = create_setup(setup_dir, batch_height=K, assets=ASSETS, entropy=ENTROPY, circuit=BATCH_MARGIN)
        build_snapshot(out / "snapshot.toml", out / "ledger.csv", snap_dir, secret=SECRET, zk_setup=setup_dir)
        result = prove_snapshot(snap_dir)
        assert result.proved == result.batches == 6, result
        prover = Prover(snap_dir)
        try:
            proof = prover.prove(ACCOUNT)
            snap = prover.snapshot
        finally:
            prover.close()
        assert [e["bucket"] for e in proof["entries"]] == ["main"]
        assert snap.zk.digest == setup.params.digest and snap.version == 2
        (out / "snapshot.json").write_bytes((snap_dir / "snapshot.json").read_bytes())
        (out / "proof-alice.json").write_bytes(canonical_json(proof))
        for bi, b in enumerate(snap.buckets):
            for j in range(1 << (b.height - K)):
                dst = batch_proof_path(out, bi, j)
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(batch_proof_path(snap_dir, bi, j), dst)
        (out / "intermediate.json").write_bytes(canonical_json(intermediate(snap_dir, proof)))


def all_files(root: Path) -> dict[str, bytes]:
    """The generated files under ``root`` (the generator script itself excluded)."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.relative_to(root).parts[0] in GENERATED}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="regenerate in a temporary directory and compare")
    args = parser.parse_args()
    if args.check:
        with tempfile.TemporaryDirectory() as tmp:
            generate(Path(tmp) / "margin-zk")
            new, old = all_files(Path(tmp) / "margin-zk"), all_files(OUT)
        differ = sorted(name for name in new.keys() | old.keys() if new.get(name) != old.get(name))
        if differ:
            print("differ from the checked-in vectors:", ", ".join(differ))
            raise SystemExit(1)
        print(f"{len(new)} files byte-identical to {OUT}")
        return
    generate(OUT)
    print(f"wrote {len(all_files(OUT))} files to {OUT}")


if __name__ == "__main__":
    main()
