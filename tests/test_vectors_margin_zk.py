"""Margin zk-mode vectors (tests/vectors/margin-zk/, SPEC.md §17.26), checked two ways.

1. A verifier written from SPEC.md alone -- hashlib, hmac, json and py_ecc (through the §16 helpers of
   tests/test_vectors_zk_mode.py: the plain Poseidon of §16.2 over ``por/zk/poseidon_constants.json``,
   whose sha256 it checks, the field reductions of §16.3 and Groth16 verification of §16.7; and the
   §17.3/§17.4/§17.7 helpers of tests/test_margin_mode.py: factors, values, margin bytes), no ``por``
   module -- recomputes the version 2 zk-mode snapshot root and applies the §17.9 reader checks;
   verifies every batch proof (``por-zk-batch-proof`` version 2) for the public signals
   ``[root, equity, debt, f_eq, f_debt]`` with the factors derived here from ``metadata.margin`` and the
   SHA-256 tree above the batches; verifies alice's inclusion proof by §17.26 steps 1-6; rebuilds every
   batch from the ledger and the master secret; compares with ``intermediate.json``; and rejects
   tampered documents, each for the stated reason.
2. The library accepts the same files (``load_snapshot``, ``verify_proof``, ``verify_snapshot``) and
   rebuilds ``snapshot.json`` byte for byte (``build_trees`` without the node tools, and
   ``build_snapshot`` with a fresh setup of the same entropy, which needs them).

Each Groth16 check costs about 1 s in py_ecc; results are cached per (key, proof, signals) and every
published batch proof is verified once (module-scoped fixture), so only tamperings pay for a pairing.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import re
import shutil
import struct
import tomllib
from pathlib import Path

import pytest

from .test_margin_mode import spec_factors, spec_margin_bytes, spec_value
from .test_vectors_zk_mode import (
    P,
    F,
    Invalid,
    canonical,
    groth16_ok,
    hkdf,
    hm,
    keys_exactly,
    lp,
    need,
    parse_field,
    parse_vk,
    poseidon,
    sha,
    strict_load,
    sums,
    tag,
    u64,
    u256,
    vk_digest_preimage,
)

ROOT = Path(__file__).resolve().parents[1]
MV = ROOT / "tests" / "vectors" / "margin-zk"
MARGIN_VECTORS = ROOT / "tests" / "vectors" / "margin"
SECRET = bytes(range(32))
ENTROPY = "por/v1 zk test vectors"
ACCOUNT = "alice"

IM = json.loads((MV / "intermediate.json").read_text(encoding="utf-8"))


def u16(n: int) -> bytes:
    return struct.pack(">H", n)


# ---------------------------------------------------------------- §17.6 metadata, §17.3 factors

CANONICAL_DECIMAL = re.compile(r"(0|[1-9][0-9]*)(\.[0-9]*[1-9])?")  # §17.2


def dec_value(text: object, what: str) -> tuple[int, int]:
    need(isinstance(text, str) and CANONICAL_DECIMAL.fullmatch(text), f"{what}: not a canonical decimal")
    whole, _, frac = text.partition(".")  # type: ignore[union-attr]
    return int(whole + frac), len(frac)


def margin_factors(meta: dict) -> dict:
    """§17.6: ``metadata.margin`` in exactly the canonical form; returns the §17.3 factors derived here
    (``f_eq[a] = g[a][0]``, ``f_debt``, tiers) and the ``allow_debt`` flags."""
    m = keys_exactly(meta.get("margin"), {"scale", "assets", "buckets"}, "metadata.margin")
    decimals = {a["symbol"]: a["decimals"] for a in meta["assets"]}
    need(isinstance(m["assets"], list) and [a.get("symbol") for a in m["assets"]] == list(decimals),
         "metadata.margin.assets: every asset once, canonical order")
    need(isinstance(m["buckets"], list) and [b.get("id") for b in m["buckets"]] == [b["id"] for b in meta["buckets"]],
         "metadata.margin.buckets: every bucket once, canonical order")
    for a in m["assets"]:
        sym = a["symbol"]
        keys_exactly(a, {"symbol", "price", "tiers", "f_eq", "f_debt"}, f"margin asset {sym}")
        need(dec_value(a["price"], f"{sym}.price")[0] > 0, f"{sym}: price must be > 0")
        tiers = a["tiers"]
        need(isinstance(tiers, list) and 1 <= len(tiers) <= 32, f"{sym}: tiers")
        last_h, last_b = -1.0, 0
        for i, t in enumerate(tiers):
            keys_exactly(t, {"haircut"} if i == len(tiers) - 1 else {"up_to", "haircut"}, f"{sym}.tiers[{i}]")
            h, hk = dec_value(t["haircut"], f"{sym}.tiers[{i}].haircut")
            need(h < 10**hk and h / 10**hk >= last_h, f"{sym}.tiers[{i}].haircut: in [0, 1), non-decreasing")
            last_h = h / 10**hk
            if "up_to" in t:
                u, uk = dec_value(t["up_to"], f"{sym}.tiers[{i}].up_to")
                need(uk <= decimals[sym], f"{sym}.tiers[{i}].up_to: more fraction digits than the asset")
                bound = u * 10 ** (decimals[sym] - uk)
                need(last_b < bound < 2**64, f"{sym}.tiers[{i}].up_to: > 0, increasing, < 2^64 minor units")
                last_b = bound
    kinds = {b["id"]: b["kind"] for b in meta["buckets"]}
    allow = {}
    for b in m["buckets"]:
        keys_exactly(b, {"id", "allow_debt"}, f"margin bucket {b.get('id')}")
        need(type(b["allow_debt"]) is bool, "allow_debt must be a JSON boolean")
        need(not (b["allow_debt"] and kinds[b["id"]] in ("segregated", "custody")),
             f"bucket {b['id']}: a {kinds[b['id']]} bucket cannot allow debts")
        allow[b["id"]] = b["allow_debt"]
    f = spec_factors(meta)  # §17.3, asserts Σ f_debt < 2^64
    need(type(m["scale"]) is int and m["scale"] == f["scale"], "metadata.margin.scale is not the derived scale")
    f_eq = [g[0] for g in f["g"]]
    need([a["f_eq"] for a in m["assets"]] == [str(x) for x in f_eq], "metadata.margin: f_eq is not the derived factor")
    need([a["f_debt"] for a in m["assets"]] == [str(x) for x in f["f_debt"]],
         "metadata.margin: f_debt is not the derived factor")
    return {**f, "f_eq": f_eq, "allow": allow}


def value_base(f: dict, v: list[int]) -> int:  # §17.4 on a vector E ‖ D
    n = len(v) // 2
    return spec_value(f, v[:n], v[n:], tiered=False)


def node_rule(f: dict, v: list[int], no_debt: bool, where: str) -> None:
    """§17.10 step 3 on one node: ``value_base ≥ 0`` and, without ``allow_debt``, zero debt."""
    n = len(v) // 2
    need(not (no_debt and any(v[n:])), f"{where}: debt in a bucket without allow_debt")
    need(value_base(f, v) >= 0, f"{where}: negative collateral value")


def node(lh: bytes, lv: list[int], rh: bytes, rv: list[int]) -> tuple[bytes, list[int], bytes]:
    """§17.8 node over ``2A`` values; returns (hash, values, preimage)."""
    total = [x + y for x, y in zip(lv, rv, strict=True)]
    need(all(t < 2**64 for t in total), "a node sum is >= 2^64")
    pre = tag("node") + lh + sums(lv) + rh + sums(rv)
    return sha(pre), total, pre


def climb(cur: tuple[bytes, list[int]], index: int, path: list[tuple[bytes, list[int]]], *, level0: int,
          rule=None, where: str = "path") -> tuple[tuple[bytes, list[int]], list[dict]]:
    """§8 step 3.3 with §17.10 step 3's check (``rule(values, where)``) on every sibling and computed parent."""
    trace = []
    for lvl, sib in enumerate(path):
        if rule:
            rule(sib[1], f"{where}[{lvl}] (sibling at level {level0 + lvl})")
        right = bool((index >> lvl) & 1)
        left_, right_ = (sib, cur) if right else (cur, sib)
        h, v, pre = node(*left_, *right_)
        cur = (h, v)
        if rule:
            rule(v, f"{where} (computed node at level {level0 + lvl + 1})")
        trace.append({"level": level0 + lvl + 1, "node_is_right_child": right, "preimage": pre.hex(),
                      "hash": h.hex(), "values": [str(x) for x in v]})
    return cur, trace


# ---------------------------------------------------------------- §17.26 root, §17.9 + §16.10 reader

def root_preimage(meta: dict, t: int, top_hash: bytes, top_v: list[int], k: int, vk_digest: bytes,
                  margin: bytes) -> bytes:
    """§17.26: the version 2 preimage of §17.8 with lp("zk") and ``u8(k) ‖ vk_digest`` before the margin bytes."""
    assets, buckets = meta["assets"], meta["buckets"]
    return (tag("root") + u16(2) + lp("zk") + lp(meta["snapshot_id"]) + lp(meta["as_of"])
            + u16(len(assets)) + b"".join(lp(a["symbol"]) + bytes([a["decimals"]]) for a in assets)
            + u16(len(buckets)) + b"".join(lp(x["id"]) + lp(x["kind"]) for x in buckets)
            + bytes([t]) + top_hash + sums(top_v) + bytes([k]) + vk_digest + margin)


SNAPSHOT_KEYS = {"format", "version", "mode", "metadata", "root", "top_height", "buckets", "equity", "debt",
                 "requirement", "zk"}
BUCKET_KEYS = {"id", "kind", "height", "root", "equity", "debt", "requirement"}


def amounts(obj: object, symbols: list[str], what: str) -> list[int]:
    keys_exactly(obj, set(symbols), what)
    return [u64(obj[s]) for s in symbols]  # type: ignore[index]


def ed(obj: dict, symbols: list[str], what: str) -> list[int]:
    """``equity ‖ debt`` of an object with ``equity`` and ``debt`` amount maps."""
    return amounts(obj["equity"], symbols, f"{what}.equity") + amounts(obj["debt"], symbols, f"{what}.debt")


def verify_snapshot_doc(doc: dict, trace: dict | None = None) -> dict:
    """A version 2 zk-mode snapshot.json: shape, §17.6 margin, §16.10 zk object, §17.9 steps 1-3, the root."""
    keys_exactly(doc, SNAPSHOT_KEYS, "snapshot.json")
    need((doc["format"], doc["version"], doc["mode"]) == ("por-snapshot", 2, "zk"), "not a version 2 zk snapshot")
    meta = keys_exactly(doc["metadata"], {"snapshot_id", "as_of", "assets", "buckets", "margin"}, "metadata")
    sid = meta["snapshot_id"]
    symbols = [a["symbol"] for a in meta["assets"]]
    n = len(symbols)
    need(symbols == sorted(symbols, key=str.encode), "assets not canonical")
    ids = [x["id"] for x in meta["buckets"]]
    need(ids == sorted(ids, key=str.encode), "buckets not canonical")
    f = margin_factors(meta)
    zk = keys_exactly(doc["zk"], {"batch_height", "verification_key"}, "zk")
    k = zk["batch_height"]
    need(type(k) is int and 0 <= k <= 20, "batch_height")
    vk = zk["verification_key"]
    parse_vk(vk)
    need(vk["nPublic"] == 1 + 4 * n, "nPublic != 1 + 4A (not a BatchMargin key)")
    vk_pre = vk_digest_preimage(vk)
    vk_digest = sha(vk_pre)
    need([(x["id"], x["kind"]) for x in doc["buckets"]] == [(x["id"], x["kind"]) for x in meta["buckets"]],
         "buckets differ from metadata")
    leaves, reqs = [], []
    for bk in doc["buckets"]:
        keys_exactly(bk, BUCKET_KEYS, "bucket")
        need(type(bk["height"]) is int and k <= bk["height"] <= 32, "bucket height below the batch height")
        v = ed(bk, symbols, f"bucket {bk['id']}")
        req = amounts(bk["requirement"], symbols, f"bucket {bk['id']}.requirement")
        need(req == [max(v[a] - v[n + a], 0) for a in range(n)], f"bucket {bk['id']}: requirement")  # step 2
        node_rule(f, v, not f["allow"][bk["id"]], f"bucket {bk['id']} totals")  # step 3
        reqs.append(req)
        leaves.append((sha(tag("bucket") + lp(sid) + lp(bk["id"]) + lp(bk["kind"]) + bytes([bk["height"]])
                           + bytes.fromhex(bk["root"]) + sums(v)), v))
    t = (len(leaves) - 1).bit_length()
    need(doc["top_height"] == t, "top_height")
    level = leaves + [(sha(tag("pad") + lp(sid) + lp("") + u256(i)), [0] * 2 * n)
                      for i in range(len(leaves), 1 << t)]
    while len(level) > 1:
        level = [node(*level[i], *level[i + 1])[:2] for i in range(0, len(level), 2)]
    top_hash, top_v = level[0]
    need(ed(doc, symbols, "snapshot") == top_v, "equity/debt are not the top root's sums")  # step 2
    need(amounts(doc["requirement"], symbols, "requirement") == [sum(r[a] for r in reqs) for a in range(n)],
         "requirement is not the sum of the bucket requirements")
    margin = spec_margin_bytes(meta)
    pre = root_preimage(meta, t, top_hash, top_v, k, vk_digest, margin)
    need(sha(pre).hex() == doc["root"], "snapshot root does not match its contents")  # step 1
    if trace is not None:
        trace.update(vk_digest_preimage=vk_pre.hex(), vk_digest=vk_digest.hex(), margin_bytes=margin.hex(),
                     top_height=t, top_hash=top_hash.hex(), top_values=[str(x) for x in top_v],
                     root_preimage=pre.hex(), root=sha(pre).hex(), scale=f["scale"],
                     f_eq=[str(x) for x in f["f_eq"]], f_debt=[str(x) for x in f["f_debt"]],
                     n_public=vk["nPublic"], batch_height=k, assets=symbols)
    return {"sid": sid, "symbols": symbols, "k": k, "vk": vk, "t": t, "root": bytes.fromhex(doc["root"]),
            "buckets": doc["buckets"], "meta": meta, "vk_digest": vk_digest, "f": f, "margin": margin}


def signals(root: int, v: list[int], f: dict) -> list[int]:
    """§17.25/§17.26: ``[root, equity_0..A-1, debt_0..A-1, f_eq_0..A-1, f_debt_0..A-1]``."""
    return [root, *v, *f["f_eq"], *f["f_debt"]]


# ---------------------------------------------------------------- §17.26 batch proofs (version 2)

BATCH_KEYS = {"format", "version", "snapshot_root", "bucket", "batch", "root", "equity", "debt", "proof"}


def verify_batches(directory: Path) -> dict[tuple[int, int], tuple[int, list[int]]]:
    """`por zk verify` from SPEC: every batch present, well formed, Groth16-valid for the factors derived from
    the snapshot's metadata, and the SHA-256 tree over ``(field_to_bytes32(root_j), E_j ‖ D_j)`` gives each
    bucket's published root and equity/debt totals."""
    s = verify_snapshot_doc(strict_load(directory / "snapshot.json"))  # type: ignore[arg-type]
    k, symbols, f = s["k"], s["symbols"], s["f"]
    proven = {}
    for pos, bk in enumerate(s["buckets"]):
        nodes = []
        for j in range(2 ** (bk["height"] - k)):
            where = f"bucket {bk['id']}, batch {j}"
            file = directory / "zk" / str(pos) / f"{j}.json"
            need(file.is_file(), f"{where}: proof missing")
            doc = strict_load(file)
            need(isinstance(doc, dict) and set(doc) == BATCH_KEYS and doc["format"] == "por-zk-batch-proof"
                 and type(doc["version"]) is int and doc["version"] == 2,
                 f"{where}: malformed (not a version 2 batch proof with equity and debt)")
            need((doc["snapshot_root"], doc["bucket"], doc["batch"]) == (s["root"].hex(), bk["id"], j),
                 f"{where}: names another snapshot, bucket or batch")
            root = parse_field(doc["root"])
            v = ed(doc, symbols, where)
            need(groth16_ok(s["vk"], doc["proof"], signals(root, v, f)), f"{where}: Groth16 proof does not verify")
            nodes.append((u256(root), v))
            proven[pos, j] = (root, v)
        while len(nodes) > 1:
            nodes = [node(*nodes[i], *nodes[i + 1])[:2] for i in range(0, len(nodes), 2)]
        need(nodes[0][0].hex() == bk["root"] and nodes[0][1] == ed(bk, symbols, "bucket"),
             f"bucket {bk['id']}: the proven batches do not add up to the published root and totals")
    return proven


# ---------------------------------------------------------------- §17.26 inclusion proof (version 2, zk)

ENTRY_KEYS = {"bucket", "height", "index", "salt", "equity", "debt", "path", "top_index", "top_path", "batch"}


def verify_inclusion(proof: dict, account_id: str, *, snapshot_doc: dict | None = None,
                     root: bytes | None = None) -> list[dict]:
    """Verify against a trusted snapshot.json (preferred) or a trusted root; returns a trace per entry."""
    keys_exactly(proof, {"format", "version", "mode", "snapshot", "account_id", "entries"}, "proof")
    need((proof["format"], proof["version"], proof["mode"]) == ("por-inclusion-proof", 2, "zk"),
         "not a version 2 zk-mode proof")
    snap = keys_exactly(proof["snapshot"], {"metadata", "root", "zk"}, "proof.snapshot")
    meta = snap["metadata"]
    if snapshot_doc is not None:
        s = verify_snapshot_doc(snapshot_doc)
        need(meta == snapshot_doc["metadata"], "metadata differs from snapshot.json")
        need(snap["zk"] == snapshot_doc["zk"], "snapshot.zk differs from snapshot.json")
        root = s["root"]
    need(root is not None and bytes.fromhex(snap["root"]) == root, "proof is for another root")
    need(proof["account_id"] == account_id, "another account")
    sid = meta["snapshot_id"]
    symbols = [a["symbol"] for a in meta["assets"]]
    n = len(symbols)
    buckets = meta["buckets"]
    ids = [x["id"] for x in buckets]
    t = (len(buckets) - 1).bit_length()
    # step 1: canonical margin metadata (§17.10 step 1) -- the factors come from the proof's own metadata
    f = margin_factors(meta)
    zk = keys_exactly(snap["zk"], {"batch_height", "verification_key"}, "snapshot.zk")
    k, vk = zk["batch_height"], zk["verification_key"]
    need(type(k) is int and 0 <= k <= 20, "batch_height")
    parse_vk(vk)
    need(vk["nPublic"] == 1 + 4 * n, "nPublic != 1 + 4A")
    vk_digest = sha(vk_digest_preimage(vk))
    margin = spec_margin_bytes(meta)
    traces, seen = [], set()
    for i, e in enumerate(proof["entries"]):
        keys_exactly(e, ENTRY_KEYS, "entry")
        bucket = e["bucket"]
        need(bucket in ids and bucket not in seen, "unknown or repeated bucket")
        seen.add(bucket)
        pos = ids.index(bucket)
        where = f"entries[{i}] (bucket {bucket})"
        no_debt = not f["allow"][bucket]
        h, index = e["height"], e["index"]
        batch = keys_exactly(e["batch"], {"path", "equity", "debt", "proof"}, "entry.batch")
        # step 1: shapes (§16.12 step 1)
        need(type(h) is int and k <= h <= 32 and type(index) is int and 0 <= index < 2**h, f"{where}: height/index")
        need(len(batch["path"]) == k and len(e["path"]) == h - k, f"{where}: path lengths")
        need(e["top_index"] == pos and len(e["top_path"]) == t, f"{where}: top_index / top_path")
        salt32 = bytes.fromhex(e["salt"])
        need(len(salt32) == 32 and e["salt"] == salt32.hex(), f"{where}: salt")
        eq, de = amounts(e["equity"], symbols, "equity"), amounts(e["debt"], symbols, "debt")
        # step 2: the own leaf
        need(not (no_debt and any(de)), f"{where}, own leaf: debt in a bucket without allow_debt")
        vb, vt = spec_value(f, eq, de, tiered=False), spec_value(f, eq, de, tiered=True)
        need(vb >= 0 and vt >= 0, f"{where}, own leaf: negative collateral value")
        # step 3: the margin leaf, climbed with the low k bits of index
        acc_pre = tag("zk-account") + lp(sid) + lp(bucket) + lp(account_id)
        salt_pre = tag("zk-salt") + salt32
        account, salt = F(sha(acc_pre)), F(sha(salt_pre))
        inputs = [account, salt, *eq, *de]
        leaf = poseidon(*inputs)
        cur, pos_trace = leaf, []
        for lvl, sib in enumerate(batch["path"]):
            sib = parse_field(sib)
            right = bool((index >> lvl) & 1)
            cur = poseidon(sib, cur) if right else poseidon(cur, sib)
            pos_trace.append({"level": lvl + 1, "sibling": str(sib), "node_is_right_child": right, "parent": str(cur)})
        broot = cur
        # step 4: Groth16 for [root, batch.equity, batch.debt, f_eq, f_debt]
        bv = ed(batch, symbols, "batch")
        sig = signals(broot, bv, f)
        need(groth16_ok(vk, batch["proof"], sig), f"{where}, batch: Groth16 proof does not verify")
        # step 5: the level-k node, then the SHA-256 path with index >> k (checks on every node)
        rule = lambda v, w: node_rule(f, v, no_debt, f"{where}, {w}")  # noqa: E731
        rule(bv, f"batch (node at level {k})")
        path = [(bytes.fromhex(x["hash"]), ed(x, symbols, "path node")) for x in e["path"]]
        (bhash, bvals), sha_trace = climb((u256(broot), bv), index >> k, path, level0=k, rule=rule)
        if snapshot_doc is not None:  # §8 step 3.4
            published = snapshot_doc["buckets"][pos]
            need(h == published["height"] and bhash.hex() == published["root"]
                 and bvals == ed(published, symbols, "bucket"), f"{where}: not the published bucket root and totals")
        # step 6: bucket leaf, top path (checked nodes), the root of §17.26
        kind = buckets[pos]["kind"]
        bl_pre = tag("bucket") + lp(sid) + lp(bucket) + lp(kind) + bytes([h]) + bhash + sums(bvals)
        top = [(bytes.fromhex(x["hash"]), ed(x, symbols, "top node")) for x in e["top_path"]]
        top_rule = lambda v, w: node_rule(f, v, False, f"{where}, {w}")  # noqa: E731
        (top_hash, top_v), top_trace = climb((sha(bl_pre), bvals), pos, top, level0=0, rule=top_rule,
                                             where="top_path")
        pre = root_preimage(meta, t, top_hash, top_v, k, vk_digest, margin)
        need(sha(pre) == root, f"{where}: path leads to another snapshot root")
        traces.append({
            "bucket": bucket, "bucket_position": pos, "height": h, "index": index,
            "batch": index >> k, "index_in_batch": index & ((1 << k) - 1), "salt32": salt32.hex(),
            "account_preimage": acc_pre.hex(), "account_digest": sha(acc_pre).hex(), "account": str(account),
            "salt_preimage": salt_pre.hex(), "salt_digest": sha(salt_pre).hex(), "salt": str(salt),
            "equity": [str(x) for x in eq], "debt": [str(x) for x in de],
            "value_base": str(vb), "value_tiered": str(vt),
            "leaf_inputs": [str(x) for x in inputs], "leaf": str(leaf), "poseidon_path": pos_trace,
            "batch_root": str(broot), "batch_root_bytes32": u256(broot).hex(),
            "batch_equity": [str(x) for x in bv[:n]], "batch_debt": [str(x) for x in bv[n:]],
            "public_signals": [str(x) for x in sig],
            "level_k_node": {"level": k, "hash": u256(broot).hex(), "values": [str(x) for x in bv],
                             "value_base": str(value_base(f, bv))},
            "sha256_path": sha_trace, "bucket_root": bhash.hex(), "bucket_values": [str(x) for x in bvals],
            "bucket_leaf_preimage": bl_pre.hex(), "bucket_leaf": sha(bl_pre).hex(), "top_path": top_trace,
        })
    return traces


# ---------------------------------------------------------------- §2-§4, §17.5, §17.26 rebuild from the ledger

def rebuild(config_text: str, ledger_text: str, secret: bytes, k: int) -> dict:
    """Every bucket's margin leaves, batches and root from the inputs (placement §4, leaves §17.26)."""
    cfg = tomllib.loads(config_text)
    sid = cfg["snapshot_id"]
    assets = sorted(cfg["assets"].items(), key=lambda a: a[0].encode())
    n = len(assets)
    bucket_ids = sorted(cfg["buckets"], key=str.encode)
    rows: dict[str, list[tuple[str, list[int]]]] = {x: [] for x in bucket_ids}
    for row in csv.DictReader(io.StringIO(ledger_text)):
        allow = cfg["buckets"][row["bucket"]].get("allow_debt", False)
        eq, de = [], []
        for sym, d in assets:
            m = re.fullmatch(r"(-?)([0-9]+)(?:\.([0-9]+))?", row[sym])
            frac = m.group(3) or ""
            assert len(frac) <= d
            x = int(m.group(2)) * 10**d + (int(frac) * 10 ** (d - len(frac)) if frac else 0)
            assert not (m.group(1) and not allow)
            eq.append(0 if m.group(1) else x)
            de.append(x if m.group(1) else 0)
        rows[row["bucket"]].append((row["account_id"], eq + de))
    k_salt, k_pos, k_pad = hkdf(secret, "leaf-salt"), hkdf(secret, "leaf-position"), hkdf(secret, "padding")
    out = {}
    for bucket in bucket_ids:
        scope = lp(sid) + lp(bucket)
        count = len(rows[bucket])
        h = max(max(1, (2 * count - 1).bit_length()), k)  # default height of §4, at least k (§16.10)
        leaves = []  # (sort key, description, leaf, E ‖ D)
        for account, v in rows[bucket]:
            salt32 = hm(k_salt, scope + lp(account))
            acc = F(sha(tag("zk-account") + lp(sid) + lp(bucket) + lp(account)))
            leaf = poseidon(acc, F(sha(tag("zk-salt") + salt32)), *v)
            leaves.append((hm(k_pos, scope + lp(account)), ("account", account, salt32, acc), leaf, v))
        for j in range(2**h - count):
            seed = hm(k_pad, scope + struct.pack(">Q", j))
            leaves.append((seed, ("padding", j, seed, 0), poseidon(0, F(sha(tag("zk-salt") + seed)), *[0] * 2 * n),
                           [0] * 2 * n))
        leaves.sort(key=lambda x: x[0])
        batches = []
        for j in range(2 ** (h - k)):
            chunk = leaves[j << k : (j + 1) << k]
            levels = [[x[2] for x in chunk]]
            while len(levels[-1]) > 1:
                lv = levels[-1]
                levels.append([poseidon(lv[i], lv[i + 1]) for i in range(0, len(lv), 2)])
            batches.append({"leaves": chunk, "levels": levels, "root": levels[-1][0],
                            "values": [sum(x[3][a] for x in chunk) for a in range(2 * n)]})
        nodes = [(u256(x["root"]), x["values"]) for x in batches]
        while len(nodes) > 1:
            nodes = [node(*nodes[i], *nodes[i + 1])[:2] for i in range(0, len(nodes), 2)]
        out[bucket] = {"height": h, "batches": batches, "root": nodes[0][0].hex(), "values": nodes[0][1]}
    return out


# ---------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def snapshot_doc() -> dict:
    return strict_load(MV / "snapshot.json")  # type: ignore[return-value]


@pytest.fixture(scope="module")
def alice() -> dict:
    return strict_load(MV / "proof-alice.json")  # type: ignore[return-value]


@pytest.fixture(scope="module")
def proven() -> dict[tuple[int, int], tuple[int, list[int]]]:
    """Every published batch proof verified once (6 pairings); later checks of the same proof are cached."""
    return verify_batches(MV)


def copy_vectors(dst: Path) -> Path:
    shutil.copytree(MV, dst, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return dst


# ---------------------------------------------------------------- from-SPEC checks

def test_vector_files_are_complete_and_canonical(snapshot_doc: dict) -> None:
    names = sorted(str(p.relative_to(MV)) for p in MV.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    assert names == sorted(["intermediate.json", "ledger.csv", "proof-alice.json", "snapshot.json", "snapshot.toml",
                            "make_margin_zk_vectors.py", *(f"zk/0/{j}.json" for j in range(4)),
                            *(f"zk/1/{j}.json" for j in range(2))])
    for name in names:
        if name.endswith(".json"):
            assert (MV / name).read_bytes() == canonical(strict_load(MV / name)), name
    # the inputs are exactly the §17.13 config and ledger
    for name in ("snapshot.toml", "ledger.csv"):
        assert (MV / name).read_bytes() == (MARGIN_VECTORS / name).read_bytes()
    assert [(x["id"], x["height"]) for x in snapshot_doc["buckets"]] == [("main", 3), ("seg-1", 2)]
    assert IM["batches"] == [{"bucket": "main", "bucket_position": 0, "height": 3, "batches": 4},
                             {"bucket": "seg-1", "bucket_position": 1, "height": 2, "batches": 2}]


def test_snapshot_root_and_reader_checks(snapshot_doc: dict) -> None:
    trace: dict = {}
    s = verify_snapshot_doc(snapshot_doc, trace)
    assert {key: IM[key] for key in trace} == trace
    assert (s["k"], IM["circuit"], IM["setup_entropy"]) == (1, "BatchMargin", ENTROPY)
    assert s["symbols"] == ["BTC", "USDT"] and trace["n_public"] == 9  # 1 + 4A
    pre = bytes.fromhex(trace["root_preimage"])
    head = len(tag("root")) + 2
    assert pre[:head] == tag("root") + u16(2)  # version 2 ...
    assert pre[head : head + 6] == lp("zk")  # ... mode zk ...
    # ... ending u8(k) ‖ vk_digest ‖ margin (§17.26)
    assert pre.endswith(bytes([1]) + bytes.fromhex(IM["vk_digest"]) + bytes.fromhex(IM["margin_bytes"]))
    # the margin bytes are those of the public-mode §17.13 vectors (same config)
    public = json.loads((MARGIN_VECTORS / "vectors.json").read_text())
    assert IM["margin_bytes"] == public["margin"]["root_bytes"]
    assert s["root"].hex() == IM["root"] == snapshot_doc["root"]


def test_factors_are_derived_not_copied(snapshot_doc: dict) -> None:
    """f_eq / f_debt derived from price, tiers and decimals (§17.3) equal the metadata strings."""
    f = margin_factors(snapshot_doc["metadata"])
    # BTC: 97123.45 · (1 − 0.05) · 10^(12−8) = 922672775; USDT: 1 · 0.99 · 10^(12−6) = 990000
    assert (f["scale"], f["f_eq"], f["f_debt"]) == (12, [922672775, 990000], [971234500, 1000000])
    assert [a["f_eq"] for a in snapshot_doc["metadata"]["margin"]["assets"]] == IM["f_eq"] == ["922672775", "990000"]
    assert [a["f_debt"] for a in snapshot_doc["metadata"]["margin"]["assets"]] == IM["f_debt"]
    assert f["g"][0] == [922672775, 97123450 * 8]  # the second BTC tier is not in the circuit (§17.25)


def test_every_batch_proof_from_spec(proven: dict) -> None:
    assert sorted(proven) == [(0, 0), (0, 1), (0, 2), (0, 3), (1, 0), (1, 1)]
    # seg-1 has no allow_debt: its batches carry no debt
    assert all(v[2:] == [0, 0] for (pos, _), (_, v) in proven.items() if pos == 1)
    assert any(v[2:] != [0, 0] for _, v in proven.values())  # main carries debts
    for e in IM["entries"]:
        root, v = proven[e["bucket_position"], e["batch"]]
        assert (str(root), [str(x) for x in v]) == (e["batch_root"], e["batch_equity"] + e["batch_debt"])


def test_alice_inclusion_proof_from_spec(snapshot_doc: dict, alice: dict, proven: dict) -> None:
    traces = verify_inclusion(alice, ACCOUNT, snapshot_doc=snapshot_doc)
    assert traces == IM["entries"]
    (main,) = traces
    assert main["bucket"] == "main" and len(main["poseidon_path"]) == 1 and len(main["sha256_path"]) == 2
    assert (main["equity"], main["debt"]) == (["50000000", "0"], ["0", "10000000000"])  # 0.5 BTC, owes 10000 USDT
    assert int(main["value_base"]) > 0 and int(main["value_tiered"]) > 0
    assert len(main["public_signals"]) == 9 and main["public_signals"][5:] == IM["f_eq"] + IM["f_debt"]
    assert len(main["top_path"]) == 1
    # against the trusted root alone (no snapshot.json) too
    assert verify_inclusion(alice, ACCOUNT, root=bytes.fromhex(IM["root"])) == traces


def test_rebuild_from_ledger_and_secret(snapshot_doc: dict, proven: dict) -> None:
    """§2-§4 placement and §17.26 margin leaves from the inputs meet every published batch and bucket."""
    assert bytes.fromhex(IM["secret"]) == SECRET == bytes.fromhex((ROOT / "tests/vectors/secret.key").read_text())
    built = rebuild((MV / "snapshot.toml").read_text(), (MV / "ledger.csv").read_text(), SECRET,
                    snapshot_doc["zk"]["batch_height"])
    for pos, bk in enumerate(snapshot_doc["buckets"]):
        mine = built[bk["id"]]
        published = (bk["height"], bk["root"], ed(bk, ["BTC", "USDT"], "bucket"))
        assert (mine["height"], mine["root"], mine["values"]) == published
        for j, batch in enumerate(mine["batches"]):
            assert proven[pos, j] == (batch["root"], batch["values"])
    # alice's whole batch as listed in intermediate.json
    ab = IM["alice_batch"]
    batch = built[ab["bucket"]]["batches"][ab["batch"]]
    assert len(ab["leaves"]) == len(batch["leaves"]) == 2
    for i, (doc, (_, what, leaf, v)) in enumerate(zip(ab["leaves"], batch["leaves"], strict=True)):
        assert doc["index"] == (ab["batch"] << 1) + i and doc["kind"] == what[0] and doc["leaf"] == str(leaf)
        assert doc["equity"] + doc["debt"] == [str(x) for x in v] and doc["account"] == str(what[3])
        if what[0] == "account":
            assert (doc["account_id"], doc["salt32"]) == (what[1], what[2].hex())
        else:
            assert (doc["padding_index"], doc["seed"]) == (what[1], what[2].hex())
        assert doc["salt"] == str(F(sha(tag("zk-salt") + what[2])))


# ---------------------------------------------------------------- tampering (from-SPEC verifier)

def _main(doc: dict) -> dict:
    return doc["entries"][0]


def test_tampered_equity_fails_the_groth16_check(snapshot_doc: dict, alice: dict, proven: dict) -> None:
    doc = copy.deepcopy(alice)
    _main(doc)["equity"]["BTC"] = str(int(_main(doc)["equity"]["BTC"]) + 1)  # still a healthy own leaf
    with pytest.raises(Invalid, match=r"entries\[0\] \(bucket main\), batch: Groth16"):
        verify_inclusion(doc, ACCOUNT, snapshot_doc=snapshot_doc)


def test_tampered_poseidon_sibling_fails_the_groth16_check(snapshot_doc: dict, alice: dict, proven: dict) -> None:
    doc = copy.deepcopy(alice)
    path = _main(doc)["batch"]["path"]
    path[0] = str((int(path[0]) + 1) % P)
    with pytest.raises(Invalid, match=r"bucket main\), batch: Groth16"):
        verify_inclusion(doc, ACCOUNT, snapshot_doc=snapshot_doc)


def test_tampered_batch_debt_sum_fails(tmp_path: Path, proven: dict) -> None:
    """A batch's debt raised by one (lowering the exchange's requirement): the proof and the tree above object."""
    d = copy_vectors(tmp_path / "v")
    f = d / "zk" / "0" / "3.json"
    doc = json.loads(f.read_text())
    doc["debt"]["BTC"] = str(int(doc["debt"]["BTC"]) + 1)
    f.write_bytes(canonical(doc))
    with pytest.raises(Invalid, match="bucket main, batch 3: Groth16 proof does not verify"):
        verify_batches(d)
    # and even a valid proof for it would not give the published totals
    nodes = [proven[0, j] for j in range(3)] + [(int(doc["root"]), ed(doc, ["BTC", "USDT"], "d"))]
    nodes = [(u256(r), v) for r, v in nodes]
    top = node(*node(*nodes[0], *nodes[1])[:2], *node(*nodes[2], *nodes[3])[:2])
    main = json.loads((d / "snapshot.json").read_text())["buckets"][0]
    assert top[0].hex() != main["root"] and top[1][2] == int(main["debt"]["BTC"]) + 1


def test_batch_proof_with_another_factor_fails(snapshot_doc: dict, proven: dict) -> None:
    """The verifier's own f_eq + 1 (a laxer haircut) or f_debt − 1 changes the public signals: no proof verifies."""
    s = verify_snapshot_doc(snapshot_doc)
    doc = json.loads((MV / "zk" / "0" / "2.json").read_text())
    root, v = proven[0, 2]
    assert groth16_ok(s["vk"], doc["proof"], signals(root, v, s["f"]))  # cached
    lax = copy.deepcopy(s["f"])
    lax["f_eq"][0] += 1
    assert not groth16_ok(s["vk"], doc["proof"], signals(root, v, lax))
    lax = copy.deepcopy(s["f"])
    lax["f_debt"][1] -= 1
    assert not groth16_ok(s["vk"], doc["proof"], signals(root, v, lax))


def test_changed_prices_in_a_proof_fail(alice: dict, proven: dict) -> None:
    """A proof whose metadata states another price (factors re-derived consistently) fails at the Groth16
    check against a trusted root alone; hand-edited factors fail the §17.6 metadata check first."""
    trusted = bytes.fromhex(IM["root"])
    doc = copy.deepcopy(alice)
    asset = doc["snapshot"]["metadata"]["margin"]["assets"][1]  # USDT at 1.01: its factors grow by 1 %
    asset.update(price="1.01", f_eq="999900", f_debt="1010000")
    assert margin_factors(doc["snapshot"]["metadata"])["f_eq"] == [922672775, 999900]
    with pytest.raises(Invalid, match=r"bucket main\), batch: Groth16"):
        verify_inclusion(doc, ACCOUNT, root=trusted)
    doc = copy.deepcopy(alice)
    doc["snapshot"]["metadata"]["margin"]["assets"][0]["f_eq"] = "922672776"
    with pytest.raises(Invalid, match="f_eq is not the derived factor"):
        verify_inclusion(doc, ACCOUNT, root=trusted)


@pytest.mark.parametrize("what", ["sha sibling hash", "sha sibling debt", "top sibling equity", "negative sibling",
                                  "own leaf debt-only", "debt in seg-1"])
def test_path_tamperings_fail(snapshot_doc: dict, alice: dict, proven: dict, what: str) -> None:
    """SHA-256 path and §17.10 value checks (the Groth16 check of alice's batch is cached)."""
    doc = copy.deepcopy(alice)
    e = _main(doc)
    if what == "sha sibling hash":
        e["path"][1]["hash"] = "00" + e["path"][1]["hash"][2:]
        expect = "not the published bucket root"
    elif what == "sha sibling debt":
        e["path"][0]["debt"]["USDT"] = "1"
        expect = "not the published bucket root"
    elif what == "top sibling equity":
        e["top_path"][0]["equity"]["BTC"] = str(int(e["top_path"][0]["equity"]["BTC"]) + 1)
        expect = "another snapshot root"
    elif what == "negative sibling":  # a sibling subtree owing more than its haircut collateral
        e["path"][0]["debt"]["BTC"] = str(10**12)
        expect = r"entries\[0\] \(bucket main\), path\[0\] \(sibling at level 1\): negative collateral value"
    elif what == "own leaf debt-only":
        e["equity"]["BTC"] = "0"
        expect = "own leaf: negative collateral value"
    else:  # alice's entry claimed for seg-1 (no allow_debt): her USDT debt is refused at once
        e["bucket"], e["top_index"] = "seg-1", 1
        expect = "own leaf: debt in a bucket without allow_debt"
    with pytest.raises(Invalid, match=expect):
        verify_inclusion(doc, ACCOUNT, snapshot_doc=snapshot_doc)


@pytest.mark.parametrize("what", ["k", "vk digest", "zk binding after margin", "no zk binding", "version 1",
                                  "batch height in snapshot.json", "other key in snapshot.json",
                                  "a Batch(k, A) key"])
def test_root_bindings(snapshot_doc: dict, what: str) -> None:
    """The root binds u8(k) ‖ vk_digest before the margin bytes: any other k, key or layout is another root."""
    s = verify_snapshot_doc(snapshot_doc)
    pre = bytes.fromhex(IM["root_preimage"])
    margin, vkd = s["margin"], s["vk_digest"]
    head = pre[: len(pre) - len(margin) - 33]
    assert head + bytes([1]) + vkd + margin == pre and sha(pre) == s["root"]
    if what == "k":
        assert sha(head + bytes([0]) + vkd + margin) != s["root"]
        assert sha(head + bytes([2]) + vkd + margin) != s["root"]
    elif what == "vk digest":
        other = json.loads((ROOT / "tests" / "vectors" / "zk" / "vectors.json").read_text())["vk_digest"]
        assert sha(head + bytes([1]) + bytes.fromhex(other) + margin) != s["root"]
        assert sha(head + bytes([1]) + bytes(32) + margin) != s["root"]
    elif what == "zk binding after margin":
        assert sha(head + margin + bytes([1]) + vkd) != s["root"]
    elif what == "no zk binding":
        assert sha(head + margin) != s["root"]
    elif what == "version 1":
        v1 = tag("root") + u16(1) + head[len(tag("root")) + 2 :] + bytes([1]) + vkd  # §16.10's layout
        assert v1[: len(tag("root")) + 8] == tag("root") + u16(1) + lp("zk") and sha(v1) != s["root"]
    elif what == "batch height in snapshot.json":
        snap = copy.deepcopy(snapshot_doc)
        snap["zk"]["batch_height"] = 0
        with pytest.raises(Invalid, match="root does not match"):
            verify_snapshot_doc(snap)
    elif what == "other key in snapshot.json":  # well formed, but its digest is bound in the root
        snap = copy.deepcopy(snapshot_doc)
        ic = snap["zk"]["verification_key"]["IC"]
        ic[1], ic[2] = ic[2], ic[1]
        with pytest.raises(Invalid, match="root does not match"):
            verify_snapshot_doc(snap)
    else:  # §16.9's Batch(2, 2) key: 1 + A public signals, not 1 + 4A
        snap = copy.deepcopy(snapshot_doc)
        vk = json.loads((ROOT / "tests" / "vectors" / "zk" / "verification_key.json").read_text())
        vk.pop("vk_alphabeta_12", None)
        snap["zk"]["verification_key"] = vk
        with pytest.raises(Invalid, match=r"nPublic != 1 \+ 4A"):
            verify_snapshot_doc(snap)


@pytest.mark.parametrize("what", ["version-1 batch doc", "version 1 with equity/debt", "missing batch",
                                  "renamed batch"])
def test_batch_file_tamperings_fail(tmp_path: Path, proven: dict, what: str) -> None:
    """Batch files that are malformed for a margin snapshot, missing or substituted (no new pairing)."""
    d = copy_vectors(tmp_path / "v")
    f = d / "zk" / "1" / "1.json"
    doc = json.loads(f.read_text())
    if what == "version-1 batch doc":  # §16.11's shape: version 1 with "sums"
        doc["version"] = 1
        doc["sums"] = doc.pop("equity")
        del doc["debt"]
        expect = "bucket seg-1, batch 1: malformed"
    elif what == "version 1 with equity/debt":
        doc["version"] = 1
        expect = "bucket seg-1, batch 1: malformed"
    elif what == "missing batch":
        f.unlink()
        expect = "bucket seg-1, batch 1: proof missing"
    else:  # batch 0's valid document put in place of batch 1, renamed consistently: the tree above fails
        doc = json.loads((d / "zk" / "1" / "0.json").read_text())
        doc["batch"] = 1
        expect = "bucket seg-1: the proven batches do not add up"
    if what != "missing batch":
        f.write_bytes(canonical(doc))
    with pytest.raises(Invalid, match=expect):
        verify_batches(d)


# ---------------------------------------------------------------- the library accepts the vectors

def test_library_accepts_the_vectors(tmp_path: Path) -> None:
    from por.proofs.inclusion import verify_proof
    from por.snapshot import load_snapshot
    from por.proofs.batches import verify_snapshot

    snap = load_snapshot(MV / "snapshot.json")
    assert snap.root.hex() == IM["root"] and snap.zk.digest.hex() == IM["vk_digest"] and snap.version == 2
    assert list(snap.config.margin.f_eq) == [int(x) for x in IM["f_eq"]]
    res = verify_proof(json.loads((MV / "proof-alice.json").read_text()), snapshot=snap, account_id=ACCOUNT,
                       expect=["BTC=0.5", "USDT=-10000", "main:USDT=-10000", "seg-1:BTC=0"])
    assert [e.bucket for e in res.entries] == ["main"]
    res = verify_proof(json.loads((MV / "proof-alice.json").read_text()), root=bytes.fromhex(IM["root"]))
    assert res.entries[0].bucket == "main"
    d = tmp_path / "pub"
    d.mkdir()
    shutil.copyfile(MV / "snapshot.json", d / "snapshot.json")
    shutil.copytree(MV / "zk", d / "zk")
    result = verify_snapshot(d)
    assert result.ok, result.failures
    assert result.margin and [(b.bucket, b.batches) for b in result.buckets] == [("main", 4), ("seg-1", 2)]


def test_library_rejects_tampered_vectors() -> None:
    """The library refuses the version-1-shaped batch doc and a laxer factor (one pairing)."""
    from por.core.errors import BadInput, VerificationFailed
    from por.snapshot import load_snapshot
    from por.zk.groth16 import parse_proof
    from por.modes.zk import parse_batch_proof, verify_batch

    snap = load_snapshot(MV / "snapshot.json")
    doc = json.loads((MV / "zk" / "1" / "1.json").read_text())
    v1 = {**{k: v for k, v in doc.items() if k not in ("equity", "debt")}, "version": 1, "sums": doc["equity"]}
    with pytest.raises(BadInput):
        parse_batch_proof(v1, snap.scheme.values, file="1.json")
    with pytest.raises(BadInput, match="version"):
        parse_batch_proof({**doc, "version": 1}, snap.scheme.values, file="1.json")
    parsed = parse_batch_proof(doc, snap.scheme.values, file="1.json")
    f_eq, f_debt = list(snap.config.margin.f_eq), list(snap.config.margin.f_debt)
    f_eq[0] += 1
    with pytest.raises(VerificationFailed):
        verify_batch(snap.zk, parse_proof(doc["proof"]), parsed.root, parsed.sums, (f_eq, f_debt))


def test_library_rebuilds_snapshot_json_byte_for_byte(snapshot_doc: dict) -> None:
    """Building (not proving) from the vector inputs with the published zk parameters gives snapshot.json exactly."""
    from por.core.config import load_config
    from por.core.fileio import canonical_json
    from por.snapshot import build_trees
    from por.zk.circuits import BATCH_MARGIN
    from por.zk.setup import ZkParams

    config = load_config(MV / "snapshot.toml")
    params = ZkParams.from_dict(snapshot_doc["zk"], len(config.assets), file="snapshot.json", circuit=BATCH_MARGIN)
    snap, _, _ = build_trees(config, MV / "ledger.csv", SECRET, zk=params)
    assert canonical_json(snap.to_dict()) == (MV / "snapshot.json").read_bytes()


@pytest.mark.slow  # minutes: compile + a phase 2; the same guarantee is test_library_rebuilds_snapshot_json_byte_for_byte
def test_library_build_with_a_fresh_setup_reproduces_snapshot_json(tmp_path: Path) -> None:
    """A fresh local BatchMargin(1, 2) setup of the same entropy (deterministic) and the same secret:
    ``build_snapshot`` writes the checked-in snapshot.json byte for byte (needs the node tools)."""
    from por.core.errors import ServiceUnavailable
    from por.snapshot import build_snapshot
    from por.zk.circuits import BATCH_MARGIN
    from por.zk.setup import create_setup

    try:
        setup = create_setup(tmp_path / "setup", batch_height=1, assets=2, entropy=ENTROPY, circuit=BATCH_MARGIN)
    except ServiceUnavailable as exc:
        pytest.fail(f"zk toolchain missing: {exc}", pytrace=False)
    assert setup.params.digest.hex() == IM["vk_digest"] and setup.circuit == BATCH_MARGIN
    build_snapshot(MV / "snapshot.toml", MV / "ledger.csv", tmp_path / "snap", secret=SECRET,
                   zk_setup=tmp_path / "setup")
    assert (tmp_path / "snap" / "snapshot.json").read_bytes() == (MV / "snapshot.json").read_bytes()
