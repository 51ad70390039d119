"""Regenerate the zk-mode snapshot vectors in tests/vectors/zk/mode/ (SPEC.md §16.9, §16.10-§16.13).

    .venv/bin/python tests/vectors/zk/make_zk_mode_vectors.py            # (re)write mode/
    .venv/bin/python tests/vectors/zk/make_zk_mode_vectors.py --check    # regenerate elsewhere, compare bytes

A zk-mode snapshot built with the library: the local ``Batch(2, 2)`` setup of entropy
``"por/v1 zk test vectors"`` (the key of tests/vectors/zk; the compiled circuit and setup are cached
in build/zk), the config and ledger below (bucket ``cross``: 6 accounts, height 4 = 4 batches and two
SHA-256 levels above them; bucket ``vault``: 2 accounts, height 2 = one batch that is the bucket root),
the master secret ``00 01 .. 1f``. Every batch is proven (`por zk prove`; deterministic randomness,
SPEC.md §16.13, so the proofs are byte-identical on every run) and ``alice`` (in both buckets) gets
an inclusion proof. Writes into ``mode/``:

* ``snapshot.toml``, ``ledger.csv`` -- the inputs;
* ``snapshot.json`` -- the published snapshot; ``zk/<b>/<j>.json`` -- every batch proof (§16.11);
* ``proof-alice.json`` -- alice's zk-mode inclusion proof (§16.12);
* ``intermediate.json`` -- for alice's entries: the account/salt field preimages, digests and
  elements, the Poseidon leaf, every Poseidon node on her batch path, the batch root (decimal and
  32 bytes), the SHA-256 node preimages/hashes above it, the bucket-leaf and top-node preimages, the
  root preimage and root; the verifying-key digest preimage and digest; and one whole batch (``vault``
  batch 0: placement, real and padding leaves, every level) to debug Poseidon and placement against.

Needs the node tools (scripts/setup-node.sh). Run this only together with a SPEC.md change:
tests/test_vectors_zk_mode.py re-verifies everything here with an implementation written from SPEC.md.
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
from por.core.keys import SnapshotKeys  # noqa: E402
from por.proofs.inclusion import Prover  # noqa: E402
from por.snapshot import build_snapshot, compute_root  # noqa: E402
from por.tree.sumtree import top_tree  # noqa: E402
from por.zk import batch as zb  # noqa: E402
from por.zk import tools  # noqa: E402
from por.zk.setup import create_setup  # noqa: E402
from por.modes.zk import batch_proof_path  # noqa: E402
from por.proofs.batches import prove_snapshot  # noqa: E402

OUT = HERE / "mode"
SECRET = bytes(range(32))
ENTROPY = "por/v1 zk test vectors"  # the key of tests/vectors/zk (SPEC.md §16.9)
K, ASSETS = 2, 2
ACCOUNT = "alice"
EXAMPLE_BUCKET = "vault"  # intermediate.json lists this bucket's (only) batch in full

CONFIG = """snapshot_id = "zk-vectors-1"
as_of = "2026-11-23T00:00:00Z"

[assets]
USDT = 6
BTC = 8

[buckets.vault]
kind = "custody"

[buckets.cross]
kind = "cross-margin"
"""
"""Assets and buckets deliberately out of canonical order (canonical: BTC, USDT; cross, vault)."""

LEDGER = """account_id,bucket,BTC,USDT
alice,cross,0.5,1000
bob,cross,0,0.5
carol,cross,1.25,250000
dave,cross,0.00000001,0
zoë,cross,3,7.000001
whale,cross,21000,18446743822689.551614
alice,vault,2,0
frank,vault,0,12.5
"""
"""``zoë`` has a non-ASCII id (``lp`` counts UTF-8 bytes); ``whale`` makes the snapshot's USDT total
exactly 2^64 − 1 minor units (the largest u64), so the top node and the root preimage carry it."""


def _dec(values: list[int]) -> list[str]:
    return [str(v) for v in values]


def _node_doc(left: tuple[bytes, list[int]], right: tuple[bytes, list[int]]) -> dict:
    pre = enc.node_preimage(left[0], left[1], right[0], right[1])
    return {"preimage": pre.hex(), "hash": enc.H(pre).hex(), "sums": _dec([a + b for a, b in zip(left[1], right[1])])}


def intermediate(snap_dir: Path, proof: dict) -> dict:
    """Every value a from-SPEC implementation computes for alice's proof, plus one whole batch."""
    prover = Prover(snap_dir)
    try:
        snap = prover.snapshot
        cfg = snap.config
        sid = cfg.snapshot_id
        symbols = cfg.symbols
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
            balances = [int(e["balances"][s]) for s in symbols]
            acc_pre = zb.TAG_ZK_ACCOUNT + enc.lp(sid) + enc.lp(bucket) + enc.lp(ACCOUNT)
            salt_pre = zb.TAG_ZK_SALT + salt32
            account, salt = zb.account_field(sid, bucket, ACCOUNT), zb.salt_field(salt32)
            assert (account, salt) == (int.from_bytes(enc.H(acc_pre), "big") >> 3,
                                       int.from_bytes(enc.H(salt_pre), "big") >> 3)
            leaf = zb.leaf_hash(account, salt, balances)
            assert prover.store.node(bi, 0, index, n)[0] == zb.field_to_bytes32(leaf)
            node, pos_path = leaf, []
            for lvl, sib in enumerate(int(x) for x in e["batch"]["path"]):
                right = bool((index >> lvl) & 1)
                node = zb.node_hash(sib, node) if right else zb.node_hash(node, sib)
                pos_path.append({"level": lvl + 1, "sibling": str(sib), "node_is_right_child": right,
                                 "parent": str(node)})
            root = node
            sums = [int(e["batch"]["sums"][s]) for s in symbols]
            cur = (zb.field_to_bytes32(root), sums)
            sha_path = []
            for lvl, sib in enumerate(e["path"]):
                s = (bytes.fromhex(sib["hash"]), [int(sib["sums"][x]) for x in symbols])
                right = bool((index >> (K + lvl)) & 1)
                doc = _node_doc(s, cur) if right else _node_doc(cur, s)
                sha_path.append({"level": K + lvl + 1, "node_is_right_child": right, **doc})
                cur = (bytes.fromhex(doc["hash"]), [int(v) for v in doc["sums"]])
            assert cur == (summary.root, list(summary.totals))
            bl_pre = enc.bucket_leaf_preimage(sid, bucket, summary.kind, height, cur[0], cur[1])
            cur = (enc.H(bl_pre), cur[1])
            top_path = []
            for lvl, sib in enumerate(e["top_path"]):
                s = (bytes.fromhex(sib["hash"]), [int(sib["sums"][x]) for x in symbols])
                right = bool((bi >> lvl) & 1)
                doc = _node_doc(s, cur) if right else _node_doc(cur, s)
                top_path.append({"level": lvl + 1, "node_is_right_child": right, **doc})
                cur = (bytes.fromhex(doc["hash"]), [int(v) for v in doc["sums"]])
            assert cur[0] == top[-1][0][0]
            entries.append({
                "bucket": bucket, "bucket_position": bi, "height": height, "index": index,
                "batch": index >> K, "index_in_batch": index & ((1 << K) - 1),
                "salt32": salt32.hex(),
                "account_preimage": acc_pre.hex(), "account_digest": enc.H(acc_pre).hex(), "account": str(account),
                "salt_preimage": salt_pre.hex(), "salt_digest": enc.H(salt_pre).hex(), "salt": str(salt),
                "balances": _dec(balances),
                "leaf": str(leaf),
                "poseidon_path": pos_path,
                "batch_root": str(root), "batch_root_bytes32": zb.field_to_bytes32(root).hex(),
                "batch_sums": _dec(sums),
                "public_signals": [str(root), *_dec(sums)],
                "sha256_path": sha_path,
                "bucket_root": summary.root.hex(), "bucket_sums": _dec(list(summary.totals)),
                "bucket_leaf_preimage": bl_pre.hex(), "bucket_leaf": enc.H(bl_pre).hex(),
                "top_path": top_path,
            })

        top_hash, top_sums = top[-1][0]
        root_pre = enc.root_preimage(
            version=1, mode="zk", snapshot_id=sid, as_of=cfg.as_of,
            assets=[(a.symbol, a.decimals) for a in cfg.assets], buckets=[(b.id, b.kind) for b in cfg.buckets],
            top_height=len(top) - 1, top_hash=top_hash, top_vector=top_sums,
            extension=enc.u8(snap.zk.batch_height) + snap.zk.digest)
        assert enc.H(root_pre) == snap.root == compute_root(cfg, snap.buckets, "zk", snap.zk)[0]
        vk_pre = b"".join([enc.tag("zk-vkey"), enc.u16(vk.n_public), vk.alpha.to_bytes(), vk.beta.to_bytes(),
                           vk.gamma.to_bytes(), vk.delta.to_bytes(), *(p.to_bytes() for p in vk.ic)])
        assert enc.H(vk_pre) == vk.digest()

        # one whole batch: vault batch 0 (placement, real and padding leaves, every Poseidon level)
        bi = cfg.bucket_ids.index(EXAMPLE_BUCKET)
        summary = snap.buckets[bi]
        assert summary.height == K
        accounts = {pos: (acct, bytes(salt)) for acct, b, pos, salt in _accounts(prover, bi)}
        n_pads = (1 << summary.height) - len(accounts)
        seeds = [keys.padding_seed(sid, EXAMPLE_BUCKET, j) for j in range(n_pads)]
        sort_keys = {keys.position_sort_key(sid, EXAMPLE_BUCKET, acct): ("account", acct)
                     for acct, _ in accounts.values()}
        sort_keys.update({s: ("padding", j) for j, s in enumerate(seeds)})
        placement = [sort_keys[key] for key in sorted(sort_keys)]
        leaves, described = [], []
        for i, (kind, what) in enumerate(placement):
            fields = prover.store.zk_fields(bi, i, 1)
            _, bal = prover.store.node(bi, 0, i, n)
            if kind == "account":
                assert accounts[i][0] == what
                salt32 = accounts[i][1]
                leaf = zb.BatchLeaf.for_account(sid, EXAMPLE_BUCKET, what, salt32, bal)
                described.append({"index": i, "kind": "account", "account_id": what,
                                  "position_key": keys.position_sort_key(sid, EXAMPLE_BUCKET, what).hex(),
                                  "salt32": salt32.hex(), "account": str(leaf.account), "salt": str(leaf.salt),
                                  "balances": _dec(bal), "leaf": str(leaf.hash)})
            else:
                leaf = zb.pad_leaf(seeds[what], n)
                described.append({"index": i, "kind": "padding", "padding_index": what, "seed": seeds[what].hex(),
                                  "account": "0", "salt": str(leaf.salt), "balances": _dec([0] * n),
                                  "leaf": str(leaf.hash)})
            assert fields == leaf.account.to_bytes(32, "big") + leaf.salt.to_bytes(32, "big")
            leaves.append(leaf)
        levels = zb.batch_levels([leaf.hash for leaf in leaves])
        assert zb.field_to_bytes32(levels[-1][0]) == summary.root
        example = {"bucket": EXAMPLE_BUCKET, "bucket_position": bi, "batch": 0,
                   "padding_seeds": [s.hex() for s in seeds], "leaves": described,
                   "levels": [[str(v) for v in level] for level in levels],
                   "root": str(levels[-1][0]), "root_bytes32": zb.field_to_bytes32(levels[-1][0]).hex(),
                   "sums": _dec(zb.batch_sums(leaves))}

        return {
            "description": "zk-mode vectors (SPEC.md §16.9-§16.13): intermediate values of alice's inclusion "
                           "proof and one whole batch; field elements are decimal, bytes lowercase hex",
            "secret": SECRET.hex(), "snapshot_id": sid, "setup_entropy": ENTROPY,
            "batch_height": K, "assets": list(symbols), "tool_versions": tools.tool_versions(),
            "vk_digest_preimage": vk_pre.hex(), "vk_digest": vk.digest().hex(),
            "account_id": ACCOUNT, "entries": entries,
            "top_height": len(top) - 1, "top_hash": top_hash.hex(), "top_sums": _dec(list(top_sums)),
            "root_preimage": root_pre.hex(), "root": snap.root.hex(),
            "batches": [{"bucket": b.id, "bucket_position": p, "batches": 1 << (b.height - K)}
                        for p, b in enumerate(snap.buckets)],
            "example_batch": example,
        }
    finally:
        prover.close()


def _accounts(prover: Prover, bucket: int) -> list[tuple[str, int, int, bytes]]:
    return [(a, bucket, p, s) for a, p, s in prover.store.bucket_accounts(bucket)]


def generate(out: Path) -> None:
    """Build, prove and write every vector file into the (new or empty) directory ``out``."""
    if out.exists():
        shutil.rmtree(out)  # only generated files live here
    out.mkdir(parents=True)
    (out / "snapshot.toml").write_text(CONFIG, encoding="utf-8")
    (out / "ledger.csv").write_text(LEDGER, encoding="utf-8")
    with tempfile.TemporaryDirectory(prefix="zk-mode-vectors-") as tmp:
        setup_dir, snap_dir = Path(tmp) / "setup", Path(tmp) / "snap"
        setup = create_setup(setup_dir, batch_height=K, assets=ASSETS, entropy=ENTROPY)
        build_snapshot(out / "snapshot.toml", out / "ledger.csv", snap_dir, secret=SECRET, zk_setup=setup_dir)
        result = prove_snapshot(snap_dir)
        assert result.proved == result.batches == 5, result
        prover = Prover(snap_dir)
        try:
            proof = prover.prove(ACCOUNT)
            snap = prover.snapshot
        finally:
            prover.close()
        assert [e["bucket"] for e in proof["entries"]] == ["cross", "vault"]
        assert snap.zk.digest == setup.params.digest
        (out / "snapshot.json").write_bytes((snap_dir / "snapshot.json").read_bytes())
        (out / "proof-alice.json").write_bytes(canonical_json(proof))
        for bi, b in enumerate(snap.buckets):
            for j in range(1 << (b.height - K)):
                src = batch_proof_path(snap_dir, bi, j)
                dst = batch_proof_path(out, bi, j)
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, dst)
        (out / "intermediate.json").write_bytes(canonical_json(intermediate(snap_dir, proof)))


def all_files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="regenerate in a temporary directory and compare")
    args = parser.parse_args()
    if args.check:
        with tempfile.TemporaryDirectory() as tmp:
            generate(Path(tmp) / "mode")
            new, old = all_files(Path(tmp) / "mode"), all_files(OUT)
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
