"""zk-mode snapshot vectors (tests/vectors/zk/mode/, SPEC.md §16.9-§16.13), checked two ways.

1. A verifier written from SPEC.md alone -- hashlib, hmac, json and py_ecc's ``optimized_bn128`` (for
   the pairing), plus stdlib parsing (csv, tomllib, re, struct); no ``por`` module -- implements the
   plain Poseidon permutation of §16.2 over ``por/zk/poseidon_constants.json`` (read as a file, its
   sha256 checked against SPEC), the field reductions of §16.3, Groth16 verification of §16.7, and
   then: recomputes the snapshot root (§5, §6, §16.10); verifies alice's inclusion proof (§8, §16.12);
   verifies every published batch proof and the SHA-256 tree above them (§16.11); rebuilds the whole
   snapshot from the ledger and the master secret (§2-§4, §16.10) and meets every batch root and sum;
   compares with ``intermediate.json``; and rejects tampered documents.
2. The library accepts the same files (``load_snapshot``, ``verify_proof``, ``verify_snapshot``) and
   rebuilds ``snapshot.json`` byte for byte (without proving: regenerating the proofs needs the node
   tools; ``make_zk_mode_vectors.py --check`` does that).

Each Groth16 check costs about 1 s in py_ecc; results are cached per (key, proof, signals) so the
same check is not paid twice.
"""

from __future__ import annotations

import copy
import csv
import hashlib
import hmac
import io
import json
import re
import shutil
import struct
import tomllib
from functools import cache
from pathlib import Path

import pytest
from py_ecc.optimized_bn128 import (
    FQ,
    FQ2,
    FQ12,
    add,
    b,
    b2,
    curve_order,
    field_modulus,
    final_exponentiate,
    is_inf,
    is_on_curve,
    multiply,
    neg,
    pairing,
)

ROOT = Path(__file__).resolve().parents[1]
MV = ROOT / "tests" / "vectors" / "zk" / "mode"
CONSTANTS_FILE = ROOT / "por" / "zk" / "poseidon_constants.json"
CONSTANTS_SHA256 = "dcd246f21183dcb4b5a12dc0fc472034ea067c81e41c30d750e05f72f56be206"  # SPEC.md §16.2
SECRET = bytes(range(32))
ACCOUNT = "alice"

IM = json.loads((MV / "intermediate.json").read_text(encoding="utf-8"))


class Invalid(Exception):
    """A from-SPEC check failed (verification failed, SPEC exit 1, or malformed: exit 2)."""


def need(cond: object, msg: str) -> None:
    if not cond:
        raise Invalid(msg)


# ---------------------------------------------------------------- SPEC §1 encodings

def sha(x: bytes) -> bytes:
    return hashlib.sha256(x).digest()


def lp(x: bytes | str) -> bytes:
    x = x.encode() if isinstance(x, str) else x
    return struct.pack(">I", len(x)) + x


def tag(name: str) -> bytes:
    return lp("por/v1/" + name)


def u256(n: int) -> bytes:
    return n.to_bytes(32, "big")


def sums(v: list[int]) -> bytes:
    return struct.pack(">H", len(v)) + b"".join(struct.pack(">Q", x) for x in v)


def hkdf(ikm: bytes, info: str) -> bytes:  # RFC 5869, L = 32 (one block)
    prk = hmac.new(b"por/v1/hkdf", ikm, "sha256").digest()
    return hmac.new(prk, info.encode() + b"\x01", "sha256").digest()


def hm(key: bytes, msg: bytes) -> bytes:
    return hmac.new(key, msg, "sha256").digest()


def canonical(doc: object) -> bytes:  # SPEC §6
    return (json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def strict_load(path: Path) -> object:
    """JSON with duplicate keys or NaN/Infinity is bad input (§16.7 step 1)."""

    def pairs(items: list) -> dict:
        keys = [k for k, _ in items]
        need(len(keys) == len(set(keys)), f"{path}: duplicate key")
        return dict(items)

    def constant(name: str) -> None:
        raise Invalid(f"{path}: {name} is not JSON")

    return json.loads(path.read_text(encoding="utf-8"), object_pairs_hook=pairs, parse_constant=constant)


def node(lh: bytes, ls: list[int], rh: bytes, rs: list[int]) -> tuple[bytes, list[int]]:  # §4
    total = [x + y for x, y in zip(ls, rs, strict=True)]
    need(all(t < 2**64 for t in total), "a node sum is >= 2^64")
    return sha(tag("node") + lh + sums(ls) + rh + sums(rs)), total


def climb(cur: tuple[bytes, list[int]], index: int, path: list[tuple[bytes, list[int]]],
          trace: list | None = None, level0: int = 0) -> tuple[bytes, list[int]]:
    """§8 step 3.3: bit ℓ of index set = the running node is the right child."""
    for lvl, sib in enumerate(path):
        right = bool((index >> lvl) & 1)
        left_, right_ = (sib, cur) if right else (cur, sib)
        cur = node(*left_, *right_)
        if trace is not None:
            pre = tag("node") + left_[0] + sums(left_[1]) + right_[0] + sums(right_[1])
            trace.append({"level": level0 + lvl + 1, "node_is_right_child": right, "preimage": pre.hex(),
                          "hash": cur[0].hex(), "sums": [str(x) for x in cur[1]]})
    return cur


AMOUNT = re.compile(r"0|[1-9][0-9]{0,19}")  # §8
DECIMAL = re.compile(r"0|[1-9][0-9]{0,77}")  # §16.6


def u64(v: object) -> int:
    need(isinstance(v, str) and AMOUNT.fullmatch(v) and int(v) < 2**64, f"bad amount {v!r}")
    return int(v)


def keys_exactly(obj: object, keys: set[str], what: str) -> dict:
    need(isinstance(obj, dict) and set(obj) == keys, f"{what}: keys must be exactly {sorted(keys)}")
    return obj  # type: ignore[return-value]


# ---------------------------------------------------------------- SPEC §16.2 Poseidon, §16.3 fields

P = 21888242871839275222246405745257275088548364400416034343698204186575808495617
R_P = [56, 57, 56, 60, 60, 63, 64, 63, 60, 66, 60, 65, 70, 60, 64, 68]


@cache
def constants() -> dict[int, tuple[list[int], list[list[int]]]]:
    raw = CONSTANTS_FILE.read_bytes()
    assert hashlib.sha256(raw).hexdigest() == CONSTANTS_SHA256, "poseidon_constants.json is not SPEC's"
    doc = json.loads(raw)
    return {int(t): ([int(c, 16) for c in w["C"]], [[int(x, 16) for x in row] for row in w["M"]])
            for t, w in doc["widths"].items()}


def poseidon(*xs: int) -> int:
    t = len(xs) + 1
    C, M = constants()[t]
    rp = R_P[t - 2]
    need(all(0 <= x < P for x in xs), "Poseidon input >= p")  # reject, never reduce
    s = [0, *xs]
    for r in range(8 + rp):
        s = [(v + C[r * t + i]) % P for i, v in enumerate(s)]
        if r < 4 or r >= 4 + rp:
            s = [pow(v, 5, P) for v in s]
        else:
            s[0] = pow(s[0], 5, P)
        s = [sum(m * v for m, v in zip(row, s)) % P for row in M]
    return s[0]


def F(digest: bytes) -> int:  # §16.3: the top 253 bits
    return int.from_bytes(digest, "big") >> 3


def account_field(sid: str, bucket: str, account: str) -> int:
    return F(sha(tag("zk-account") + lp(sid) + lp(bucket) + lp(account)))


def salt_field(salt32: bytes) -> int:
    return F(sha(tag("zk-salt") + salt32))


def parse_field(v: object) -> int:
    need(isinstance(v, str) and DECIMAL.fullmatch(v) and int(v) < P, f"bad field element {v!r}")
    return int(v)


# ---------------------------------------------------------------- SPEC §16.6-§16.7 Groth16

Q = field_modulus
assert curve_order == P


def coord(v: object) -> int:
    need(isinstance(v, str) and DECIMAL.fullmatch(v) and int(v) < Q, f"bad coordinate {v!r}")
    return int(v)


def g1(v: object) -> tuple:
    need(isinstance(v, list) and len(v) == 3 and v[2] == "1", "G1 point must be [x, y, \"1\"]")
    pt = (FQ(coord(v[0])), FQ(coord(v[1])), FQ(1))
    need(is_on_curve(pt, b), "G1 point off the curve")
    return pt


@cache
def _g2(x0: int, x1: int, y0: int, y1: int) -> tuple:
    pt = (FQ2([x0, x1]), FQ2([y0, y1]), FQ2.one())
    need(is_on_curve(pt, b2), "G2 point off the twist")
    need(is_inf(multiply(pt, curve_order)), "G2 point outside the order-r subgroup")
    return pt


def g2(v: object) -> tuple:
    need(isinstance(v, list) and len(v) == 3 and v[2] == ["1", "0"]
         and all(isinstance(c, list) and len(c) == 2 for c in v[:2]), "G2 point must be [[x0,x1],[y0,y1],[1,0]]")
    return _g2(coord(v[0][0]), coord(v[0][1]), coord(v[1][0]), coord(v[1][1]))


VK_KEYS = {"protocol", "curve", "nPublic", "vk_alpha_1", "vk_beta_2", "vk_gamma_2", "vk_delta_2", "IC"}


def parse_vk(vk: object) -> dict:
    keys_exactly(vk, VK_KEYS, "verification_key")  # the snapshot form: no vk_alphabeta_12 (§16.10)
    need(vk["protocol"] == "groth16" and vk["curve"] == "bn128", "not a groth16/bn128 key")
    need(isinstance(vk["IC"], list) and type(vk["nPublic"]) is int and vk["nPublic"] == len(vk["IC"]) - 1,
         "nPublic != len(IC) - 1")
    out = {"n": vk["nPublic"], "alpha": g1(vk["vk_alpha_1"]), "beta": g2(vk["vk_beta_2"]),
           "gamma": g2(vk["vk_gamma_2"]), "delta": g2(vk["vk_delta_2"]), "IC": [g1(p) for p in vk["IC"]]}
    need(vk["vk_delta_2"] != vk["vk_gamma_2"], "delta = gamma: no phase-2 contribution")
    return out


def vk_digest_preimage(vk: dict) -> bytes:  # §16.7 (from the JSON decimals)
    g1b = lambda p: u256(int(p[0])) + u256(int(p[1]))  # noqa: E731
    g2b = lambda p: b"".join(u256(int(c)) for c in (*p[0], *p[1]))  # noqa: E731
    return (tag("zk-vkey") + struct.pack(">H", vk["nPublic"]) + g1b(vk["vk_alpha_1"]) + g2b(vk["vk_beta_2"])
            + g2b(vk["vk_gamma_2"]) + g2b(vk["vk_delta_2"]) + b"".join(g1b(p) for p in vk["IC"]))


def parse_groth16_proof(doc: object) -> tuple:
    need(isinstance(doc, dict) and {"pi_a", "pi_b", "pi_c", "protocol"} <= set(doc)
         <= {"pi_a", "pi_b", "pi_c", "protocol", "curve"}, "proof keys")
    need(doc["protocol"] == "groth16" and doc.get("curve", "bn128") == "bn128", "not a groth16/bn128 proof")
    return g1(doc["pi_a"]), g2(doc["pi_b"]), g1(doc["pi_c"])


@cache
def _alpha_beta(vk_json: str) -> FQ12:
    vk = parse_vk(json.loads(vk_json))
    return pairing(vk["beta"], vk["alpha"], final_exponentiate=False)


@cache
def _groth16(vk_json: str, proof_json: str, signals: tuple[int, ...]) -> bool:
    vk = parse_vk(json.loads(vk_json))
    a, b_, c = parse_groth16_proof(json.loads(proof_json))
    need(len(signals) == vk["n"] and all(0 <= s < P for s in signals), "public signals")
    vk_x = vk["IC"][0]
    for s, ic in zip(signals, vk["IC"][1:]):
        vk_x = add(vk_x, multiply(ic, s))
    acc = pairing(b_, neg(a), final_exponentiate=False) * _alpha_beta(vk_json)
    acc = acc * pairing(vk["gamma"], vk_x, final_exponentiate=False)
    acc = acc * pairing(vk["delta"], c, final_exponentiate=False)
    return final_exponentiate(acc) == FQ12.one()


def groth16_ok(vk: dict, proof: dict, signals: list[int]) -> bool:
    """§16.7 step 4: e(−A, B) · e(α, β) · e(vk_x, γ) · e(C, δ) = 1 (cached per input)."""
    return _groth16(json.dumps(vk, sort_keys=True), json.dumps(proof, sort_keys=True), tuple(signals))


# ---------------------------------------------------------------- §5, §6, §16.10 snapshot

def root_preimage(meta: dict, t: int, top_hash: bytes, top_sums: list[int], k: int, vk_digest: bytes) -> bytes:
    """§5 with mode "zk" and §16.10's ``u8(k) ‖ vk_digest`` appended."""
    assets, buckets = meta["assets"], meta["buckets"]
    return (tag("root") + struct.pack(">H", 1) + lp("zk") + lp(meta["snapshot_id"]) + lp(meta["as_of"])
            + struct.pack(">H", len(assets)) + b"".join(lp(a["symbol"]) + bytes([a["decimals"]]) for a in assets)
            + struct.pack(">H", len(buckets)) + b"".join(lp(x["id"]) + lp(x["kind"]) for x in buckets)
            + bytes([t]) + top_hash + sums(top_sums) + bytes([k]) + vk_digest)


SNAPSHOT_KEYS = {"format", "version", "mode", "metadata", "root", "top_height", "buckets", "totals", "zk"}


def verify_snapshot_doc(doc: dict, trace: dict | None = None) -> dict:
    """Recompute the zk-mode root from snapshot.json; returns the pieces a proof verifier needs."""
    keys_exactly(doc, SNAPSHOT_KEYS, "snapshot.json")
    need((doc["format"], doc["version"], doc["mode"]) == ("por-snapshot", 1, "zk"), "not a zk snapshot")
    meta = keys_exactly(doc["metadata"], {"snapshot_id", "as_of", "assets", "buckets"}, "metadata")
    sid = meta["snapshot_id"]
    symbols = [a["symbol"] for a in meta["assets"]]
    need(symbols == sorted(symbols, key=str.encode), "assets not canonical")
    ids = [x["id"] for x in meta["buckets"]]
    need(ids == sorted(ids, key=str.encode), "buckets not canonical")
    zk = keys_exactly(doc["zk"], {"batch_height", "verification_key"}, "zk")
    k = zk["batch_height"]
    need(type(k) is int and 0 <= k <= 20, "batch_height")
    vk = zk["verification_key"]
    parse_vk(vk)
    need(vk["nPublic"] == 1 + len(symbols), "nPublic != 1 + A")
    vk_pre = vk_digest_preimage(vk)
    vk_digest = sha(vk_pre)
    need([(x["id"], x["kind"]) for x in doc["buckets"]] == [(x["id"], x["kind"]) for x in meta["buckets"]],
         "buckets differ from metadata")
    leaves = []
    for bk in doc["buckets"]:
        keys_exactly(bk, {"id", "kind", "height", "root", "totals"}, "bucket")
        keys_exactly(bk["totals"], set(symbols), "bucket totals")
        need(k <= bk["height"] <= 32, "bucket height below the batch height")
        tot = [u64(bk["totals"][s]) for s in symbols]
        leaves.append((sha(tag("bucket") + lp(sid) + lp(bk["id"]) + lp(bk["kind"]) + bytes([bk["height"]])
                           + bytes.fromhex(bk["root"]) + sums(tot)), tot))
    t = (len(leaves) - 1).bit_length()
    need(doc["top_height"] == t, "top_height")
    level = leaves + [(sha(tag("pad") + lp(sid) + lp("") + u256(i)), [0] * len(symbols))
                      for i in range(len(leaves), 1 << t)]
    levels = [level]
    while len(level) > 1:
        level = [node(*level[i], *level[i + 1]) for i in range(0, len(level), 2)]
        levels.append(level)
    top_hash, top_sums = level[0]
    keys_exactly(doc["totals"], set(symbols), "totals")
    need([u64(doc["totals"][s]) for s in symbols] == top_sums, "totals are not the sum of the bucket totals")
    pre = root_preimage(meta, t, top_hash, top_sums, k, vk_digest)
    need(sha(pre).hex() == doc["root"], "snapshot root does not match its contents")
    if trace is not None:
        trace.update(vk_digest_preimage=vk_pre.hex(), vk_digest=vk_digest.hex(), top_height=t,
                     top_hash=top_hash.hex(), top_sums=[str(x) for x in top_sums], root_preimage=pre.hex(),
                     root=sha(pre).hex())
    return {"sid": sid, "symbols": symbols, "k": k, "vk": vk, "t": t, "root": bytes.fromhex(doc["root"]),
            "buckets": doc["buckets"], "meta": meta, "vk_digest": vk_digest}


# ---------------------------------------------------------------- §16.12 inclusion proof

ENTRY_KEYS = {"bucket", "height", "index", "salt", "balances", "path", "top_index", "top_path", "batch"}


def verify_inclusion(proof: dict, snapshot_doc: dict, account_id: str) -> list[dict]:
    """Verify a zk-mode inclusion proof against a trusted snapshot.json; returns a trace per entry."""
    s = verify_snapshot_doc(snapshot_doc)
    sid, symbols, k, vk = s["sid"], s["symbols"], s["k"], s["vk"]
    keys_exactly(proof, {"format", "version", "mode", "snapshot", "account_id", "entries"}, "proof")
    need((proof["format"], proof["version"], proof["mode"]) == ("por-inclusion-proof", 1, "zk"), "not a zk proof")
    snap = keys_exactly(proof["snapshot"], {"metadata", "root", "zk"}, "proof.snapshot")
    need(snap["metadata"] == snapshot_doc["metadata"], "metadata differs from snapshot.json")
    need(snap["zk"] == snapshot_doc["zk"], "snapshot.zk differs from snapshot.json")
    need(bytes.fromhex(snap["root"]) == s["root"], "proof is for another root")
    need(proof["account_id"] == account_id, "another account")
    traces, seen = [], set()
    for e in proof["entries"]:
        keys_exactly(e, ENTRY_KEYS, "entry")
        bucket = e["bucket"]
        ids = [x["id"] for x in s["buckets"]]
        need(bucket in ids and bucket not in seen, "unknown or repeated bucket")
        seen.add(bucket)
        pos = ids.index(bucket)
        published = s["buckets"][pos]
        h, index = e["height"], e["index"]
        batch = keys_exactly(e["batch"], {"path", "sums", "proof"}, "entry.batch")
        # §16.12 step 1 (+ §8 step 3.1)
        need(len(batch["path"]) == k and len(e["path"]) == h - k and 0 <= index < 2**h, "path lengths / index")
        need(e["top_index"] == pos and len(e["top_path"]) == s["t"], "top_index / top_path")
        # step 2: the leaf
        salt32 = bytes.fromhex(e["salt"])
        need(len(salt32) == 32 and e["salt"] == salt32.hex(), "salt")
        keys_exactly(e["balances"], set(symbols), "balances")
        bal = [u64(e["balances"][x]) for x in symbols]
        acc_pre = tag("zk-account") + lp(sid) + lp(bucket) + lp(account_id)
        salt_pre = tag("zk-salt") + salt32
        account, salt = F(sha(acc_pre)), F(sha(salt_pre))
        leaf = poseidon(account, salt, *bal)
        # step 3: the Poseidon path with the low k bits of index
        cur, pos_trace = leaf, []
        for lvl, sib in enumerate(batch["path"]):
            sib = parse_field(sib)
            right = bool((index >> lvl) & 1)
            cur = poseidon(sib, cur) if right else poseidon(cur, sib)
            pos_trace.append({"level": lvl + 1, "sibling": str(sib), "node_is_right_child": right, "parent": str(cur)})
        root = cur
        # step 4: Groth16 for [root, sums] under the snapshot's key
        keys_exactly(batch["sums"], set(symbols), "batch.sums")
        bsums = [u64(batch["sums"][x]) for x in symbols]
        need(groth16_ok(vk, batch["proof"], [root, *bsums]), f"bucket {bucket}: Groth16 batch proof does not verify")
        # step 5: the SHA-256 path from (field_to_bytes32(root), sums) with index >> k
        path = [(bytes.fromhex(n["hash"]), [u64(n["sums"][x]) for x in symbols]) for n in e["path"]]
        sha_trace: list = []
        broot, btot = climb((u256(root), bsums), index >> k, path, sha_trace, level0=k)
        # §8 step 3.4: the published bucket
        need(h == published["height"] and broot.hex() == published["root"]
             and btot == [u64(published["totals"][x]) for x in symbols], f"bucket {bucket}: not the published root")
        # §8 step 3.5: bucket leaf, top path, root (the root of §16.10)
        bl_pre = tag("bucket") + lp(sid) + lp(bucket) + lp(published["kind"]) + bytes([h]) + broot + sums(btot)
        top = [(bytes.fromhex(n["hash"]), [u64(n["sums"][x]) for x in symbols]) for n in e["top_path"]]
        top_trace: list = []
        top_hash, top_sums = climb((sha(bl_pre), btot), pos, top, top_trace)
        pre = root_preimage(s["meta"], s["t"], top_hash, top_sums, k, s["vk_digest"])
        need(sha(pre) == s["root"], f"bucket {bucket}: path leads to another snapshot root")
        traces.append({
            "bucket": bucket, "bucket_position": pos, "height": h, "index": index,
            "batch": index >> k, "index_in_batch": index & ((1 << k) - 1), "salt32": salt32.hex(),
            "account_preimage": acc_pre.hex(), "account_digest": sha(acc_pre).hex(), "account": str(account),
            "salt_preimage": salt_pre.hex(), "salt_digest": sha(salt_pre).hex(), "salt": str(salt),
            "balances": [str(x) for x in bal], "leaf": str(leaf), "poseidon_path": pos_trace,
            "batch_root": str(root), "batch_root_bytes32": u256(root).hex(), "batch_sums": [str(x) for x in bsums],
            "public_signals": [str(root), *(str(x) for x in bsums)], "sha256_path": sha_trace,
            "bucket_root": broot.hex(), "bucket_sums": [str(x) for x in btot],
            "bucket_leaf_preimage": bl_pre.hex(), "bucket_leaf": sha(bl_pre).hex(), "top_path": top_trace,
        })
    return traces


# ---------------------------------------------------------------- §16.11 batch proofs

BATCH_KEYS = {"format", "version", "snapshot_root", "bucket", "batch", "root", "sums", "proof"}


def verify_batches(directory: Path) -> dict[tuple[int, int], tuple[int, list[int]]]:
    """`por zk verify` from SPEC: every batch present, Groth16-valid, and the tree above gives each bucket."""
    s = verify_snapshot_doc(strict_load(directory / "snapshot.json"))
    k, symbols = s["k"], s["symbols"]
    proven = {}
    for pos, bk in enumerate(s["buckets"]):
        nodes = []
        for j in range(2 ** (bk["height"] - k)):
            f = directory / "zk" / str(pos) / f"{j}.json"
            need(f.is_file(), f"bucket {bk['id']}, batch {j}: proof missing")
            doc = keys_exactly(strict_load(f), BATCH_KEYS, str(f))
            need((doc["format"], doc["version"]) == ("por-zk-batch-proof", 1), f"{f}: format")
            need((doc["snapshot_root"], doc["bucket"], doc["batch"]) == (s["root"].hex(), bk["id"], j),
                 f"{f}: names another snapshot, bucket or batch")
            root = parse_field(doc["root"])
            keys_exactly(doc["sums"], set(symbols), f"{f}: sums")
            bs = [u64(doc["sums"][x]) for x in symbols]
            need(groth16_ok(s["vk"], doc["proof"], [root, *bs]),
                 f"bucket {bk['id']}, batch {j}: Groth16 proof does not verify")
            nodes.append((u256(root), bs))
            proven[pos, j] = (root, bs)
        while len(nodes) > 1:
            nodes = [node(*nodes[i], *nodes[i + 1]) for i in range(0, len(nodes), 2)]
        need(nodes[0][0].hex() == bk["root"] and nodes[0][1] == [u64(bk["totals"][x]) for x in symbols],
             f"bucket {bk['id']}: the proven batches do not add up to the published root and totals")
    return proven


# ---------------------------------------------------------------- §2-§4, §16.10 rebuild from the ledger

def rebuild(config_text: str, ledger_text: str, secret: bytes, k: int) -> dict:
    """Every bucket's leaves, batches and root from the inputs (placement §4, leaves §16.10)."""
    cfg = tomllib.loads(config_text)
    sid = cfg["snapshot_id"]
    assets = sorted(cfg["assets"].items(), key=lambda a: a[0].encode())
    bucket_ids = sorted(cfg["buckets"], key=str.encode)
    rows: dict[str, list[tuple[str, list[int]]]] = {x: [] for x in bucket_ids}
    for row in csv.DictReader(io.StringIO(ledger_text)):
        bal = []
        for sym, d in assets:
            m = re.fullmatch(r"([0-9]+)(?:\.([0-9]+))?", row[sym])
            frac = m.group(2) or ""
            assert len(frac) <= d
            bal.append(int(m.group(1)) * 10**d + (int(frac) * 10 ** (d - len(frac)) if frac else 0))
        rows[row["bucket"]].append((row["account_id"], bal))
    k_salt, k_pos, k_pad = hkdf(secret, "leaf-salt"), hkdf(secret, "leaf-position"), hkdf(secret, "padding")
    out = {}
    for bucket in bucket_ids:
        scope = lp(sid) + lp(bucket)
        n = len(rows[bucket])
        h = max(max(1, (2 * n - 1).bit_length()), k)  # default height of §4, at least k (§16.10)
        leaves = []  # (sort key, description, leaf, balances)
        for account, bal in rows[bucket]:
            salt32 = hm(k_salt, scope + lp(account))
            leaf = poseidon(account_field(sid, bucket, account), salt_field(salt32), *bal)
            leaves.append((hm(k_pos, scope + lp(account)), ("account", account, salt32), leaf, bal))
        for j in range(2**h - n):
            seed = hm(k_pad, scope + struct.pack(">Q", j))
            leaves.append((seed, ("padding", j, seed), poseidon(0, salt_field(seed), *[0] * len(assets)),
                           [0] * len(assets)))
        leaves.sort(key=lambda x: x[0])
        batches = []
        for j in range(2 ** (h - k)):
            chunk = leaves[j << k : (j + 1) << k]
            levels = [[x[2] for x in chunk]]
            while len(levels[-1]) > 1:
                lv = levels[-1]
                levels.append([poseidon(lv[i], lv[i + 1]) for i in range(0, len(lv), 2)])
            bsum = [sum(x[3][a] for x in chunk) for a in range(len(assets))]
            batches.append({"leaves": chunk, "levels": levels, "root": levels[-1][0], "sums": bsum})
        nodes = [(u256(x["root"]), x["sums"]) for x in batches]
        while len(nodes) > 1:
            nodes = [node(*nodes[i], *nodes[i + 1]) for i in range(0, len(nodes), 2)]
        out[bucket] = {"height": h, "batches": batches, "root": nodes[0][0].hex(), "totals": nodes[0][1]}
    return out


# ---------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def snapshot_doc() -> dict:
    return strict_load(MV / "snapshot.json")  # type: ignore[return-value]


@pytest.fixture(scope="module")
def alice() -> dict:
    return strict_load(MV / "proof-alice.json")  # type: ignore[return-value]


def copy_vectors(dst: Path) -> Path:
    shutil.copytree(MV, dst)
    return dst


# ---------------------------------------------------------------- from-SPEC checks

def test_poseidon_constants_and_spec_vectors() -> None:
    assert {t: len(C) for t, (C, _) in constants().items()} == {t: t * (8 + R_P[t - 2]) for t in range(2, 18)}
    assert json.loads(CONSTANTS_FILE.read_bytes())["partial_rounds"] == {str(t): R_P[t - 2] for t in range(2, 18)}
    assert poseidon(1, 2) == 0x115CC0F5E7D690413DF64C6B9662E9CF2A3617F2743245519E19607A4417189A
    assert poseidon(3, 4) == 14763215145315200506921711489642608356394854266165572616578112107564877678998
    assert poseidon(1, 2, 0, 0, 0) == 1018317224307729531995786483840663576608797660851238720571059489595066344487
    assert poseidon(3, 4, 5, 10, 23) == 13034429309846638789535561449942021891039729847501137143363028890275222221409


def test_tags_of_spec() -> None:
    assert tag("zk-account").hex() == "00000011706f722f76312f7a6b2d6163636f756e74"
    assert tag("zk-salt").hex() == "0000000e706f722f76312f7a6b2d73616c74"
    assert tag("zk-vkey").hex() == "0000000e706f722f76312f7a6b2d766b6579"


def test_vector_files_are_complete_and_canonical(snapshot_doc: dict) -> None:
    names = sorted(str(p.relative_to(MV)) for p in MV.rglob("*") if p.is_file())
    assert names == sorted(["intermediate.json", "ledger.csv", "proof-alice.json", "snapshot.json",
                            "snapshot.toml", *(f"zk/0/{j}.json" for j in range(4)), "zk/1/0.json"])
    for name in names:
        if name.endswith(".json"):
            assert (MV / name).read_bytes() == canonical(strict_load(MV / name)), name
    assert [(x["id"], x["height"]) for x in snapshot_doc["buckets"]] == [("cross", 4), ("vault", 2)]


def test_snapshot_root_recomputed(snapshot_doc: dict) -> None:
    trace: dict = {}
    s = verify_snapshot_doc(snapshot_doc, trace)
    assert s["k"] == IM["batch_height"] == 2 and s["symbols"] == IM["assets"] == ["BTC", "USDT"]
    assert {key: IM[key] for key in trace} == trace
    assert snapshot_doc["totals"]["USDT"] == str(2**64 - 1)  # the largest u64 is carried to the root


def test_verifying_key_is_the_zk_vectors_key(snapshot_doc: dict) -> None:
    """Entropy "por/v1 zk test vectors": the same deterministic key as tests/vectors/zk (§16.9)."""
    zk_dir = MV.parent
    ref = json.loads((zk_dir / "verification_key.json").read_text())
    ref.pop("vk_alphabeta_12", None)
    assert snapshot_doc["zk"]["verification_key"] == ref
    assert sha(vk_digest_preimage(ref)).hex() == json.loads((zk_dir / "vectors.json").read_text())["vk_digest"]


def test_alice_inclusion_proof_from_spec(snapshot_doc: dict, alice: dict) -> None:
    traces = verify_inclusion(alice, snapshot_doc, ACCOUNT)
    assert [t["bucket"] for t in traces] == ["cross", "vault"]
    assert traces == IM["entries"]
    cross, vault = traces
    assert len(cross["poseidon_path"]) == 2 and len(cross["sha256_path"]) == 2
    assert vault["sha256_path"] == [] and vault["height"] == 2  # k = h: the bucket root is the batch root
    assert sum(int(t["balances"][0]) for t in traces) == 250_000_000  # 2.5 BTC over both buckets


def test_every_batch_proof_from_spec(snapshot_doc: dict) -> None:
    proven = verify_batches(MV)
    assert sorted(proven) == [(0, 0), (0, 1), (0, 2), (0, 3), (1, 0)]
    assert [x["batches"] for x in IM["batches"]] == [4, 1]
    # alice's batches are among them, with the roots and sums her proof carries
    for e in IM["entries"]:
        assert proven[e["bucket_position"], e["batch"]] == (int(e["batch_root"]), [int(v) for v in e["batch_sums"]])


def test_rebuild_from_ledger_and_secret(snapshot_doc: dict) -> None:
    """§2-§4 placement and §16.10 leaves from the inputs meet every published batch root and sum."""
    assert bytes.fromhex(IM["secret"]) == SECRET
    built = rebuild((MV / "snapshot.toml").read_text(), (MV / "ledger.csv").read_text(), SECRET,
                    snapshot_doc["zk"]["batch_height"])
    for pos, bk in enumerate(snapshot_doc["buckets"]):
        mine = built[bk["id"]]
        assert (mine["height"], mine["root"], [str(x) for x in mine["totals"]]) == \
            (bk["height"], bk["root"], [bk["totals"][s] for s in ("BTC", "USDT")])
        for j, batch in enumerate(mine["batches"]):
            doc = json.loads((MV / "zk" / str(pos) / f"{j}.json").read_text())
            assert (doc["root"], list(doc["sums"].values())) == (str(batch["root"]), [str(x) for x in batch["sums"]])
    # the whole example batch of intermediate.json
    ex = IM["example_batch"]
    batch = built[ex["bucket"]]["batches"][ex["batch"]]
    assert [[str(v) for v in lv] for lv in batch["levels"]] == ex["levels"]
    assert (ex["root"], ex["root_bytes32"], ex["sums"]) == \
        (str(batch["root"]), u256(batch["root"]).hex(), [str(x) for x in batch["sums"]])
    for i, (leaf_doc, (_, what, leaf, bal)) in enumerate(zip(ex["leaves"], batch["leaves"], strict=True)):
        assert leaf_doc["index"] == i and leaf_doc["kind"] == what[0] and leaf_doc["leaf"] == str(leaf)
        assert leaf_doc["balances"] == [str(x) for x in bal]
        if what[0] == "account":
            assert (leaf_doc["account_id"], leaf_doc["salt32"]) == (what[1], what[2].hex())
            sid = snapshot_doc["metadata"]["snapshot_id"]
            assert leaf_doc["account"] == str(account_field(sid, ex["bucket"], what[1]))
        else:
            assert (leaf_doc["padding_index"], leaf_doc["seed"], leaf_doc["account"]) == (what[1], what[2].hex(), "0")
            assert ex["padding_seeds"][what[1]] == what[2].hex()
        assert leaf_doc["salt"] == str(salt_field(what[2]))


# ---------------------------------------------------------------- tampering (from-SPEC verifier)

def _cross(doc: dict) -> dict:
    return doc["entries"][0]


def test_tampered_balance_fails(snapshot_doc: dict, alice: dict) -> None:
    doc = copy.deepcopy(alice)
    _cross(doc)["balances"]["BTC"] = str(int(_cross(doc)["balances"]["BTC"]) + 1)
    with pytest.raises(Invalid, match="Groth16"):  # another leaf, another batch root: the proof fails
        verify_inclusion(doc, snapshot_doc, ACCOUNT)


def test_tampered_poseidon_sibling_fails(snapshot_doc: dict, alice: dict) -> None:
    doc = copy.deepcopy(alice)
    path = _cross(doc)["batch"]["path"]
    path[1] = str((int(path[1]) + 1) % P)
    with pytest.raises(Invalid, match="Groth16"):
        verify_inclusion(doc, snapshot_doc, ACCOUNT)


def test_tampered_batch_sum_fails(tmp_path: Path) -> None:
    """A batch sum lowered by one (a hidden liability): the Groth16 proof and the tree above both object."""
    d = copy_vectors(tmp_path / "v")
    f = d / "zk" / "0" / "3.json"  # not alice's batch
    doc = json.loads(f.read_text())
    old = int(doc["sums"]["BTC"])
    assert old > 0
    doc["sums"]["BTC"] = str(old - 1)
    f.write_bytes(canonical(doc))
    with pytest.raises(Invalid, match="bucket cross, batch 3: Groth16"):
        verify_batches(d)
    # even with a valid proof the tree above the batches would not give the published totals
    nodes = [(u256(int(x["root"])), [int(v) for v in x["sums"].values()])
             for x in (json.loads((d / "zk" / "0" / f"{j}.json").read_text()) for j in range(4))]
    top = node(*node(*nodes[0], *nodes[1]), *node(*nodes[2], *nodes[3]))
    cross = json.loads((d / "snapshot.json").read_text())["buckets"][0]
    assert top[0].hex() != cross["root"] and top[1][0] == int(cross["totals"]["BTC"]) - 1


@pytest.mark.parametrize("what", ["sha sibling sum", "batch height", "missing batch", "other key", "renamed batch",
                                  "overflowing batch"])
def test_cheap_tamperings_fail(snapshot_doc: dict, alice: dict, tmp_path: Path, what: str) -> None:
    """Tamperings caught before (or without a new) pairing: SHA-256 path, root bindings, file set."""
    if what == "sha sibling sum":
        doc = copy.deepcopy(alice)
        sib = _cross(doc)["path"][0]["sums"]
        sib["BTC"] = str(int(sib["BTC"]) + 1)
        with pytest.raises(Invalid, match="not the published root"):
            verify_inclusion(doc, snapshot_doc, ACCOUNT)
    elif what == "batch height":
        snap = copy.deepcopy(snapshot_doc)
        snap["zk"]["batch_height"] = 1
        with pytest.raises(Invalid, match="root does not match"):
            verify_snapshot_doc(snap)
    elif what == "other key":  # still a well-formed key, but its digest is bound in the root
        snap = copy.deepcopy(snapshot_doc)
        ic = snap["zk"]["verification_key"]["IC"]
        ic[0], ic[1] = ic[1], ic[0]
        with pytest.raises(Invalid, match="root does not match"):
            verify_snapshot_doc(snap)
    elif what == "missing batch":
        d = copy_vectors(tmp_path / "v")
        (d / "zk" / "0" / "3.json").unlink()
        with pytest.raises(Invalid, match="bucket cross, batch 3: proof missing"):
            verify_batches(d)
    else:  # another batch's valid document put in place of batch 1, renamed consistently
        d = copy_vectors(tmp_path / "v")
        src, expect = ("3", "do not add up") if what == "renamed batch" else ("2", r"node sum is >= 2\^64")
        doc = json.loads((d / "zk" / "0" / f"{src}.json").read_text())
        doc["batch"] = 1
        (d / "zk" / "0" / "1.json").write_bytes(canonical(doc))
        with pytest.raises(Invalid, match=expect):  # batch 2 + batch 0 overflow USDT: rejected, never wrapped
            verify_batches(d)


# ---------------------------------------------------------------- the library accepts the vectors

def test_library_accepts_the_vectors(tmp_path: Path) -> None:
    from por.proofs.inclusion import verify_proof
    from por.snapshot import load_snapshot
    from por.proofs.batches import verify_snapshot

    snap = load_snapshot(MV / "snapshot.json")
    assert snap.root.hex() == IM["root"] and snap.zk.digest.hex() == IM["vk_digest"]
    res = verify_proof(json.loads((MV / "proof-alice.json").read_text()), snapshot=snap, account_id=ACCOUNT,
                       expect=["BTC=2.5", "cross:USDT=1000", "vault:USDT=0"])
    assert [e.bucket for e in res.entries] == ["cross", "vault"]
    d = tmp_path / "pub"
    d.mkdir()
    shutil.copyfile(MV / "snapshot.json", d / "snapshot.json")
    shutil.copytree(MV / "zk", d / "zk")
    result = verify_snapshot(d)
    assert result.ok, result.failures
    assert [(b.bucket, b.batches) for b in result.buckets] == [("cross", 4), ("vault", 1)]


def test_library_rebuilds_snapshot_json_byte_for_byte(snapshot_doc: dict) -> None:
    """Building (not proving) from the vector inputs gives the checked-in snapshot.json exactly."""
    from por.core.config import load_config
    from por.core.fileio import canonical_json
    from por.snapshot import build_trees
    from por.zk.setup import ZkParams

    config = load_config(MV / "snapshot.toml")
    params = ZkParams.from_dict(snapshot_doc["zk"], len(config.assets), file="snapshot.json")
    snap, _, _ = build_trees(config, MV / "ledger.csv", SECRET, zk=params)
    assert canonical_json(snap.to_dict()) == (MV / "snapshot.json").read_bytes()
