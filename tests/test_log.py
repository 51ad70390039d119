"""Transparency log of snapshot roots (SPEC.md §11): entries, signed heads, proofs, and the attacks.

Besides the library and the CLI, this file holds a small verifier written from SPEC.md §11 with
nothing but hashlib and coincurve (RFC 9162 hashing, the proof layouts, the head signature); every proof
the log emits must pass it, and it must agree with pymerkle.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import sqlite3
import stat
import struct
from pathlib import Path
from typing import Any

import pytest
import typer
from coincurve import PrivateKey, PublicKey
from coincurve.ecdsa import cdata_to_der, deserialize_compact
from typer.testing import CliRunner

from por.log import transparency as L
from por.cli.log import log_app
from por.core.errors import BadInput, VerificationFailed
from por.snapshot import Snapshot, build_snapshot, load_snapshot

from .conftest import EXAMPLES

# ------------------------------------------------------------------ fixtures

IDS = [f"acme-2026-11-2{d}" for d in range(1, 6)]


def _build(base: Path, name: str, snapshot_id: str, day: int, alice_btc: str = "0.5") -> Snapshot:
    toml = (EXAMPLES / "snapshot.toml").read_text()
    toml = toml.replace('snapshot_id = "acme-2026-11-20"', f'snapshot_id = "{snapshot_id}"')
    toml = toml.replace('as_of = "2026-11-20T00:00:00Z"', f'as_of = "2026-11-{day:02d}T00:00:00Z"')
    ledger = (EXAMPLES / "ledger.csv").read_text().replace("alice,cross,0.5,", f"alice,cross,{alice_btc},")
    cfg, led = base / f"{name}.toml", base / f"{name}.csv"
    cfg.write_text(toml)
    led.write_text(ledger)
    return build_snapshot(cfg, led, base / name, secret=bytes(32)).snapshot


@pytest.fixture(scope="module")
def snaps(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Five honest snapshots, plus a rewritten 2nd and a forked 3rd (same ids, other ledgers, other roots)."""
    base = tmp_path_factory.mktemp("snaps")
    out = {}
    for i, sid in enumerate(IDS):
        _build(base, f"s{i + 1}", sid, 21 + i)
        out[f"s{i + 1}"] = base / f"s{i + 1}"
    _build(base, "s2-rewritten", IDS[1], 22, alice_btc="0.4")  # a liability quietly shrunk
    out["s2-rewritten"] = base / "s2-rewritten"
    _build(base, "s3-fork", IDS[2], 23, alice_btc="0.3")
    out["s3-fork"] = base / "s3-fork"
    return out


def _snap(snaps: dict[str, Path], name: str) -> Snapshot:
    return load_snapshot(snaps[name])


def _make_log(path: Path, snaps: dict[str, Path], names: list[str], key: Path | None = None) -> L.TransparencyLog:
    log = L.TransparencyLog.create(path, key_path=key)
    for n in names:
        log.append(_snap(snaps, n))
    return log


@pytest.fixture
def log5(tmp_path: Path, snaps: dict[str, Path]):
    log = _make_log(tmp_path / "log", snaps, ["s1", "s2", "s3", "s4", "s5"])
    yield log
    log.close()


_app = typer.Typer()
_app.add_typer(log_app, name="log")


@_app.callback()
def _root() -> None:
    """Test host for the `por log` sub-app."""


@pytest.fixture
def por():
    runner = CliRunner()

    def run(*args: Any):
        return runner.invoke(_app, ["log", *[str(a) for a in args]], catch_exceptions=False)

    return run


def _dump(path: Path, doc: Any) -> Path:
    path.write_text(json.dumps(doc))
    return path


# ------------------------------------------------------------------ a verifier from SPEC.md §11 alone

def sha(b: bytes) -> bytes:
    return hashlib.sha256(b).digest()


def spec_lp(s: str | bytes) -> bytes:
    b = s.encode() if isinstance(s, str) else s
    return struct.pack(">I", len(b)) + b


def spec_entry(d: dict[str, Any]) -> bytes:
    anchor = b"\x00" if d["anchor_tx"] is None else b"\x01" + bytes.fromhex(d["anchor_tx"])
    return (spec_lp("por/v1/log-entry") + spec_lp(d["snapshot_id"]) + spec_lp(d["as_of"])
            + bytes.fromhex(d["root"]) + anchor)


def spec_node(a: bytes, b: bytes) -> bytes:
    return sha(b"\x01" + a + b)


def spec_k(w: int) -> int:
    k = 1
    while k * 2 < w:
        k *= 2
    return k


def spec_mth(leaves: list[bytes]) -> bytes:
    if not leaves:
        return sha(b"")
    if len(leaves) == 1:
        return sha(b"\x00" + leaves[0])
    k = spec_k(len(leaves))
    return spec_node(spec_mth(leaves[:k]), spec_mth(leaves[k:]))


def spec_incl_rule(i: int, start: int, end: int, b: int) -> list[int]:
    if end == start + 1:
        return [b]
    k = spec_k(end - start)
    if i < start + k:
        return spec_incl_rule(i, start, start + k, 0) + [b]
    return spec_incl_rule(i, start + k, end, 1) + [b]


def spec_cons_layout(start: int, m: int, w: int, b: int) -> list[tuple[int, int]]:
    if m == w:
        return [(b, 1)]
    if m == 0 and w == 1:
        return [(b, 0)]
    k = spec_k(w)
    if m < k:
        return spec_cons_layout(start, m, k, 0) + [(b, 0)]
    return spec_cons_layout(start + k, m - k, w - k, 1) + [(b, 1)]


def spec_climb(path: list[bytes], rule: list[int]) -> bytes:
    r = path[0]
    for bit, d in zip(rule, path[1:]):
        r = spec_node(r, d) if bit == 0 else spec_node(d, r)
    return r


def rfc9162_inclusion(leaf: bytes, index: int, size: int, proof: list[bytes], root: bytes) -> bool:
    """RFC 9162 section 2.1.3.2, verbatim."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = spec_node(p, r)
            if not fn & 1:
                while True:
                    fn >>= 1
                    sn >>= 1
                    if fn & 1 or fn == 0:
                        break
        else:
            r = spec_node(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def spec_head_ok(h: dict[str, Any]) -> bool:
    msg = spec_lp("por/v1/log-head") + struct.pack(">Q", h["size"]) + bytes.fromhex(h["root"])
    sig = bytes.fromhex(h["signature"])
    return PublicKey(bytes.fromhex(h["public_key"])).verify(cdata_to_der(deserialize_compact(sig)), sha(msg),
                                                            hasher=None)


def spec_verify_inclusion(p: dict[str, Any], h: dict[str, Any]) -> bool:
    path = [bytes.fromhex(x) for x in p["path"]]
    i, n = p["leaf_index"], p["tree_size"]
    leaf = sha(b"\x00" + spec_entry(p["entry"]))
    rule = spec_incl_rule(i, 0, n, 0)
    return (spec_head_ok(h) and n == h["size"] and len(path) == len(rule) and path[0] == leaf
            and spec_climb(path, rule) == bytes.fromhex(h["root"])
            and rfc9162_inclusion(leaf, i, n, path[1:], bytes.fromhex(h["root"])))


def spec_verify_consistency(p: dict[str, Any], old: dict[str, Any], new: dict[str, Any]) -> bool:
    m, n = old["size"], new["size"]
    if not (spec_head_ok(old) and spec_head_ok(new) and old["public_key"] == new["public_key"]):
        return False
    if (p["old_size"], p["new_size"]) != (m, n):
        return False
    path = [bytes.fromhex(x) for x in p["path"]]
    if m == 0:
        return path == [] and old["root"] == sha(b"").hex()
    layout = spec_cons_layout(0, m, n, 0)
    if len(path) != len(layout):
        return False
    rule = [b for b, _ in layout]
    olds = [d for d, (_, mask) in zip(path, layout) if mask]
    r = olds[0]
    for d in olds[1:]:
        r = spec_node(d, r)
    return r == bytes.fromhex(old["root"]) and spec_climb(path, rule) == bytes.fromhex(new["root"])


# ------------------------------------------------------------------ encoding and hashing

def test_entry_bytes_exactly_as_specified() -> None:
    root, tx = bytes(range(32)), bytes(range(32, 64))
    e = L.Entry("acme-1", "2026-11-20T00:00:00Z", root)
    want = (b"\x00\x00\x00\x10por/v1/log-entry" + b"\x00\x00\x00\x06acme-1"
            + b"\x00\x00\x00\x142026-11-20T00:00:00Z" + root + b"\x00")
    assert e.encode() == want
    ea = L.Entry("acme-1", "2026-11-20T00:00:00Z", root, tx)
    assert ea.encode() == want[:-1] + b"\x01" + tx
    assert L.Entry.decode(ea.encode()) == ea and L.Entry.decode(e.encode()) == e
    assert e.leaf_hash() == hashlib.sha256(b"\x00" + want).digest()
    for bad in (want + b"\x00", want[:-1], want[:-1] + b"\x02", b"x" + want[1:]):
        with pytest.raises(ValueError):
            L.Entry.decode(bad)
    assert L.head_bytes(3, root) == b"\x00\x00\x00\x0fpor/v1/log-head" + b"\x00" * 7 + b"\x03" + root
    assert L.parse_anchor_tx("0x" + tx.hex().upper()) == tx
    with pytest.raises(BadInput):
        L.parse_anchor_tx("ab" * 31)


def test_pymerkle_hashing_is_rfc9162(log5: L.TransparencyLog) -> None:
    t = log5.tree
    assert (t.algorithm, t.security, t.leaf_prefix, t.node_prefix) == ("sha256", True, b"\x00", b"\x01")
    entries = [e.encode() for e in log5.entries()]
    for n in range(0, 6):
        assert log5.root(n) == spec_mth(entries[:n]) == L.mth([L.leaf_hash(x) for x in entries[:n]])
    assert log5.root(0) == hashlib.sha256(b"").digest()
    # the sqlite store keeps the raw entry bytes and their RFC 9162 leaf hash
    assert t.get_entry(2) == entries[1] and t.get_leaf(2) == hashlib.sha256(b"\x00" + entries[1]).digest()


def test_layouts_match_pymerkle() -> None:
    core = pytest.importorskip("pymerkle.core")
    for n in range(1, 80):
        for i in range(n):
            assert L.inclusion_layout(i, n) == core._inclusion_path_layout(i + 1, n)[0] == spec_incl_rule(i, 0, n, 0)
        for m in range(1, n + 1):
            rule, subset, _ = core._consistency_path_layout(m, n)
            assert L.consistency_layout(m, n) == (rule, subset)
            assert [(b, s) for b, s in zip(rule, subset)] == spec_cons_layout(0, m, n, 0)


# ------------------------------------------------------------------ honest log

def test_inclusion_every_entry_every_size(log5: L.TransparencyLog, snaps: dict[str, Path]) -> None:
    for n in range(1, 6):
        head = log5.head(size=n).to_dict()
        assert spec_head_ok(head)
        for i, sid in enumerate(IDS[:n]):
            proof = log5.prove_inclusion(sid, size=n)
            assert proof["leaf_index"] == i and proof["tree_size"] == n
            res = L.verify_inclusion(proof, head, expected_pubkey=log5.public_key.hex(),
                                     snapshot=_snap(snaps, f"s{i + 1}"))
            assert res.entry.snapshot_id == sid and res.leaf_index == i
            assert spec_verify_inclusion(proof, head)
    with pytest.raises(BadInput):
        log5.prove_inclusion(IDS[4], size=4)  # entry 4 is not in the tree of size 4
    with pytest.raises(BadInput):
        log5.prove_inclusion("no-such-snapshot")


def test_consistency_from_every_old_size(log5: L.TransparencyLog) -> None:
    heads = [log5.head(size=n).to_dict() for n in range(6)]
    for n in range(6):
        for m in range(n + 1):
            proof = log5.prove_consistency(m, n)
            res = L.verify_consistency(proof, heads[m], heads[n], expected_pubkey=log5.public_key)
            assert (res.old_head.size, res.new_head.size) == (m, n)
            assert spec_verify_consistency(proof, heads[m], heads[n])
    with pytest.raises(BadInput):
        log5.prove_consistency(6)


def test_heads_are_deterministic_and_keys_private(tmp_path: Path, log5: L.TransparencyLog) -> None:
    assert log5.head() == log5.head()  # RFC 6979
    key = log5.key_path()
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    assert len(key.read_text().strip()) == 64
    pub = L.generate_log_key(tmp_path / "k")
    assert PrivateKey(bytes.fromhex((tmp_path / "k").read_text())).public_key.format() == pub
    with pytest.raises(BadInput):
        L.generate_log_key(tmp_path / "k")  # never overwrite a key
    with pytest.raises(BadInput):
        log5.head(tmp_path / "k")  # not the log's key


def test_reopen_and_cli_flow(tmp_path: Path, snaps: dict[str, Path], por) -> None:
    d = tmp_path / "log"
    res = por("init", "--log", d, "--json")
    assert res.exit_code == 0, res.output
    info = json.loads(res.stdout)
    assert info["key_created"] and stat.S_IMODE(os.stat(d / "log.key").st_mode) == 0o600
    tx = "0x" + "ab" * 32
    res = por("append", snaps["s1"], "--log", d, "--anchor-tx", tx, "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["entry"]["anchor_tx"] == "ab" * 32
    for name in ("s2", "s3"):
        assert por("append", snaps[name] / "snapshot.json", "--log", d).exit_code == 0
    res = por("head", "--log", d)  # no --out: the document on stdout
    assert res.exit_code == 0
    head = json.loads(res.stdout)
    assert head["size"] == 3 and head["public_key"] == info["public_key"]
    assert por("head", "--log", d, "--out", tmp_path / "h.json", "--json").exit_code == 0
    res = por("prove-inclusion", IDS[0], "--log", d, "--out", tmp_path / "p.json", "--json")
    assert res.exit_code == 0 and json.loads(res.stdout)["leaf_index"] == 0
    res = por("verify-inclusion", tmp_path / "p.json", "--head", tmp_path / "h.json",
              "--snapshot", snaps["s1"] / "snapshot.json", "--pubkey", info["public_key"], "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["valid"] and out["entry"]["anchor_tx"] == "ab" * 32 and out["snapshot_checked"]
    # the entry is not the one of another snapshot
    res = por("verify-inclusion", tmp_path / "p.json", "--head", tmp_path / "h.json",
              "--snapshot", snaps["s2"] / "snapshot.json")
    assert res.exit_code == 1
    res = por("prove-consistency", 1, "--log", d, "--new-size", 3, "--out", tmp_path / "c.json", "--json")
    assert res.exit_code == 0
    with L.TransparencyLog.open(d) as log:
        _dump(tmp_path / "h1.json", log.head(size=1).to_dict())
    res = por("verify-consistency", tmp_path / "c.json", "--old-head", tmp_path / "h1.json",
              "--new-head", tmp_path / "h.json", "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["consistent"]
    # bad input: not a log, existing log dir, unreadable files, bad anchor, bad size
    assert por("head", "--log", tmp_path / "nolog").exit_code == 2
    assert por("init", "--log", d).exit_code == 2
    assert por("append", snaps["s4"], "--log", d, "--anchor-tx", "xyz").exit_code == 2
    assert por("prove-consistency", 4, "--log", d).exit_code == 2
    assert por("verify-inclusion", tmp_path / "missing.json", "--head", tmp_path / "h.json").exit_code == 2
    res = por("verify-inclusion", tmp_path / "h.json", "--head", tmp_path / "h.json", "--json")
    assert res.exit_code == 2 and json.loads(res.stdout)["error"] == "bad_input"


def test_init_with_existing_key(tmp_path: Path, snaps: dict[str, Path], por) -> None:
    L.generate_log_key(tmp_path / "exchange.key")
    res = por("init", "--log", tmp_path / "log", "--key", tmp_path / "exchange.key", "--json")
    assert res.exit_code == 0 and not json.loads(res.stdout)["key_created"]
    assert not (tmp_path / "log" / "log.key").exists()
    assert por("append", snaps["s1"], "--log", tmp_path / "log").exit_code == 0
    res = por("head", "--log", tmp_path / "log")
    assert res.exit_code == 0 and spec_head_ok(json.loads(res.stdout))
    (tmp_path / "junk.key").write_text("00" * 32)  # zero is not a private key
    assert por("init", "--log", tmp_path / "log2", "--key", tmp_path / "junk.key").exit_code == 2


# ------------------------------------------------------------------ equivocation on append

def test_append_equivocation_refused(tmp_path: Path, snaps: dict[str, Path], por) -> None:
    d = tmp_path / "log"
    assert por("init", "--log", d).exit_code == 0
    assert por("append", snaps["s2"], "--log", d).exit_code == 0
    res = por("append", snaps["s2-rewritten"], "--log", d, "--json")  # same id, another root
    assert res.exit_code == 1
    assert "equivocation" in json.loads(res.stdout)["message"]
    res = por("append", snaps["s2"], "--log", d, "--json")  # identical entry again
    assert res.exit_code == 2 and "already logged" in json.loads(res.stdout)["message"]
    with L.TransparencyLog.open(d) as log:
        assert log.size == 1
        with pytest.raises(VerificationFailed):
            log.append(_snap(snaps, "s2-rewritten"))
        with pytest.raises(BadInput, match="already logged"):
            log.append(_snap(snaps, "s2"), anchor_tx="cd" * 32)
        assert log.size == 1


def test_corrupted_store_detected(tmp_path: Path, snaps: dict[str, Path]) -> None:
    _make_log(tmp_path / "log", snaps, ["s1", "s2"]).close()
    con = sqlite3.connect(tmp_path / "log" / "log.sqlite")
    con.execute("DROP TRIGGER leaf_no_update")
    entry = L.Entry.from_snapshot(_snap(snaps, "s2-rewritten")).encode()
    con.execute("UPDATE leaf SET entry = ? WHERE id = 2", (entry,))
    con.commit()
    con.close()
    with pytest.raises(VerificationFailed, match="stored hash"):
        L.TransparencyLog.open(tmp_path / "log")


# ------------------------------------------------------------------ rewritten history and forks

def test_rewritten_old_entry_detected(tmp_path: Path, snaps: dict[str, Path], por) -> None:
    """The exchange rebuilds its log with entry 1 changed; a user who kept the old head catches it."""
    honest = _make_log(tmp_path / "honest", snaps, ["s1", "s2", "s3"])
    kept = _dump(tmp_path / "kept-head.json", honest.head().to_dict())
    key = honest.key_path()
    honest.close()
    # same key, same ids, same number of entries and more: only entry 1's root differs
    forged = _make_log(tmp_path / "forged", snaps, ["s1", "s2-rewritten", "s3", "s4"], key=key)
    forged.close()
    for d in ("honest", "forged"):
        if d == "honest":
            with L.TransparencyLog.open(tmp_path / d) as log:
                log.append(_snap(snaps, "s4"))
        assert por("head", "--log", tmp_path / d, "--out", tmp_path / f"{d}-head.json").exit_code == 0
        assert por("prove-consistency", 3, "--log", tmp_path / d, "--out", tmp_path / f"{d}-c.json").exit_code == 0
    res = por("verify-consistency", tmp_path / "honest-c.json", "--old-head", kept,
              "--new-head", tmp_path / "honest-head.json", "--json")
    assert res.exit_code == 0, res.output
    res = por("verify-consistency", tmp_path / "forged-c.json", "--old-head", kept,
              "--new-head", tmp_path / "forged-head.json", "--json")
    assert res.exit_code == 1
    assert "rewritten or forked" in json.loads(res.stdout)["message"]
    # a forged proof claiming the kept root cannot be completed either
    forged_proof = json.loads((tmp_path / "forged-c.json").read_text())
    forged_proof["old_root"] = json.loads(kept.read_text())["root"]
    res = por("verify-consistency", _dump(tmp_path / "forged-c2.json", forged_proof), "--old-head", kept,
              "--new-head", tmp_path / "forged-head.json")
    assert res.exit_code == 1
    # and the rewritten snapshot's inclusion proof fails against the kept head too
    with L.TransparencyLog.open(tmp_path / "forged") as log:
        p = log.prove_inclusion(IDS[1], size=3)
    with pytest.raises(VerificationFailed):
        L.verify_inclusion(p, json.loads(kept.read_text()))


def test_fork_shown_to_two_users_detected(tmp_path: Path, snaps: dict[str, Path], por) -> None:
    """Two logs share s1, s2 then diverge: user A is shown one, user B the other; both look fine alone."""
    a = _make_log(tmp_path / "a", snaps, ["s1", "s2", "s3"])
    b = _make_log(tmp_path / "b", snaps, ["s1", "s2", "s3-fork"], key=a.key_path())
    head_a, head_b = a.head().to_dict(), b.head().to_dict()
    ha, hb = _dump(tmp_path / "head-a.json", head_a), _dump(tmp_path / "head-b.json", head_b)
    # each view is internally valid: inclusion proofs verify against each user's own head
    L.verify_inclusion(a.prove_inclusion(IDS[2]), head_a, snapshot=_snap(snaps, "s3"))
    L.verify_inclusion(b.prove_inclusion(IDS[2]), head_b, snapshot=_snap(snaps, "s3-fork"))
    # the shared prefix is consistent across both views
    prefix = _dump(tmp_path / "prefix.json", a.prove_consistency(2, 2))
    _dump(tmp_path / "a2.json", a.head(size=2).to_dict())
    _dump(tmp_path / "b2.json", b.head(size=2).to_dict())
    assert por("verify-consistency", prefix, "--old-head", tmp_path / "a2.json",
               "--new-head", tmp_path / "b2.json").exit_code == 0
    # users compare heads: same size, same key, different roots -> fork (equivocation)
    res = por("verify-consistency", _dump(tmp_path / "c-ab.json", a.prove_consistency(3)), "--old-head", ha,
              "--new-head", hb, "--json")
    assert res.exit_code == 1 and "forked" in json.loads(res.stdout)["message"]
    # later, B's log grows; user A checks consistency from the head A kept: no proof can link them
    b.append(_snap(snaps, "s4"))
    hb4 = _dump(tmp_path / "head-b4.json", b.head().to_dict())
    cb = _dump(tmp_path / "c-b.json", b.prove_consistency(3))
    res = por("verify-consistency", cb, "--old-head", ha, "--new-head", hb4, "--json")
    assert res.exit_code == 1
    # user B, who was shown B's branch, sees a consistent history
    assert por("verify-consistency", cb, "--old-head", hb, "--new-head", hb4).exit_code == 0
    # and A's own continuation is consistent for A
    a.append(_snap(snaps, "s4"))
    ha4 = _dump(tmp_path / "head-a4.json", a.head().to_dict())
    assert por("verify-consistency", _dump(tmp_path / "c-a.json", a.prove_consistency(3)), "--old-head", ha,
               "--new-head", ha4).exit_code == 0
    # a rolled-back head (smaller than the one kept) is caught as well
    res = por("verify-consistency", cb, "--old-head", hb4, "--new-head", hb)
    assert res.exit_code == 1
    a.close()
    b.close()


# ------------------------------------------------------------------ heads: bad signature, other key, malformed

def _resign_high_s(head: dict[str, Any]) -> dict[str, Any]:
    n = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
    sig = bytes.fromhex(head["signature"])
    s = int.from_bytes(sig[32:], "big")
    return {**head, "signature": (sig[:32] + (n - s).to_bytes(32, "big")).hex()}


def test_bad_heads_rejected(tmp_path: Path, log5: L.TransparencyLog, por) -> None:
    good = log5.head().to_dict()
    other_key = PrivateKey(b"\x07" * 32)
    forged = L.sign_head(other_key, good["size"], bytes.fromhex(good["root"])).to_dict()
    flipped = {**good, "signature": good["signature"][:-1] + ("0" if good["signature"][-1] != "0" else "1")}
    cases = {
        "flipped signature": flipped,
        "high-S signature": _resign_high_s(good),
        "size changed": {**good, "size": good["size"] + 1},
        "root changed": {**good, "root": "00" * 32},
        "other key, swapped in": {**forged, "public_key": good["public_key"]},
        "signature all zero": {**good, "signature": "00" * 64},
        "public key not a point": {**good, "public_key": "02" + "00" * 32},
        "uppercase hex": {**good, "root": good["root"].upper()},
        "size is a string": {**good, "size": str(good["size"])},
        "size is a bool": {**good, "size": True},
        "extra field": {**good, "timestamp": "2026-11-20T00:00:00Z"},
        "missing field": {k: v for k, v in good.items() if k != "signature"},
        "empty log with a root": {**L.sign_head(other_key, 0, bytes(32)).to_dict()},
    }
    for name, doc in cases.items():
        with pytest.raises(VerificationFailed):
            L.verify_head(doc)
        if name == "flipped signature":
            assert not spec_head_ok(doc)
    # a head validly signed by another key: fine alone, rejected when the log's key is expected
    assert L.verify_head(forged).public_key == other_key.public_key.format()
    with pytest.raises(VerificationFailed, match="expected key"):
        L.verify_head(forged, expected_pubkey=log5.public_key.hex())
    for doc in ({**good, "format": "por-snapshot"}, {**good, "version": 2}, [good], "head"):
        with pytest.raises(BadInput):
            L.verify_head(doc)
    # through the CLI: a proof checked against a bad head
    proof = _dump(tmp_path / "p.json", log5.prove_inclusion(IDS[0]))
    assert por("verify-inclusion", proof, "--head", _dump(tmp_path / "g.json", good)).exit_code == 0
    assert por("verify-inclusion", proof, "--head", _dump(tmp_path / "f.json", flipped)).exit_code == 1
    res = por("verify-inclusion", proof, "--head", _dump(tmp_path / "o.json", forged),
              "--pubkey", log5.public_key.hex(), "--json")
    assert res.exit_code == 1 and json.loads(res.stdout)["error"] == "verification_failed"
    assert por("verify-inclusion", proof, "--head", tmp_path / "g.json", "--pubkey", "zz").exit_code == 2
    (tmp_path / "nojson.json").write_text("{not json")
    assert por("verify-inclusion", proof, "--head", tmp_path / "nojson.json").exit_code == 2
    # consistency between heads by different keys is refused
    c = _dump(tmp_path / "c.json", log5.prove_consistency(5))
    assert por("verify-consistency", c, "--old-head", tmp_path / "g.json", "--new-head", tmp_path / "o.json").exit_code == 1


# ------------------------------------------------------------------ tampered proofs

INCLUSION_TAMPERS = {
    "entry root": lambda p: p["entry"].__setitem__("root", "11" * 32),
    "entry snapshot_id": lambda p: p["entry"].__setitem__("snapshot_id", "acme-2026-11-29"),
    "entry as_of": lambda p: p["entry"].__setitem__("as_of", "2026-11-29T00:00:00Z"),
    "anchor tx added": lambda p: p["entry"].__setitem__("anchor_tx", "ab" * 32),
    "leaf index": lambda p: p.__setitem__("leaf_index", p["leaf_index"] ^ 1),
    "leaf index too big": lambda p: p.__setitem__("leaf_index", 99),
    "tree size": lambda p: p.__setitem__("tree_size", 4),
    "tree root": lambda p: p.__setitem__("tree_root", "22" * 32),
    "sibling hash": lambda p: p["path"].__setitem__(1, "33" * 32),
    "leaf hash in path": lambda p: p["path"].__setitem__(0, "44" * 32),
    "path shortened": lambda p: p["path"].pop(),
    "path extended": lambda p: p["path"].append("55" * 32),
    "path swapped": lambda p: p["path"].reverse(),
    "path not hex": lambda p: p["path"].__setitem__(1, "zz" * 32),
    "extra key": lambda p: p.__setitem__("rule", [0, 1, 0]),
    "entry extra key": lambda p: p["entry"].__setitem__("index", 2),
    "index negative": lambda p: p.__setitem__("leaf_index", -1),
}


@pytest.mark.parametrize("tamper", sorted(INCLUSION_TAMPERS))
def test_tampered_inclusion_proof_rejected(tamper: str, log5: L.TransparencyLog) -> None:
    head = log5.head().to_dict()
    proof = log5.prove_inclusion(IDS[2])
    bad = copy.deepcopy(proof)
    INCLUSION_TAMPERS[tamper](bad)
    assert json.dumps(bad, sort_keys=True) != json.dumps(proof, sort_keys=True)
    with pytest.raises(VerificationFailed):
        L.verify_inclusion(bad, head)


CONSISTENCY_TAMPERS = {
    "old size": lambda p: p.__setitem__("old_size", 2),
    "new size": lambda p: p.__setitem__("new_size", 4),
    "old root": lambda p: p.__setitem__("old_root", "11" * 32),
    "new root": lambda p: p.__setitem__("new_root", "22" * 32),
    "path hash": lambda p: p["path"].__setitem__(0, "33" * 32),
    "last path hash": lambda p: p["path"].__setitem__(-1, "34" * 32),
    "path shortened": lambda p: p["path"].pop(),
    "path extended": lambda p: p["path"].append("55" * 32),
    "path reversed": lambda p: p["path"].reverse(),
    "extra key": lambda p: p.__setitem__("subset", [1, 0]),
    "size not an int": lambda p: p.__setitem__("old_size", 3.0),
}


@pytest.mark.parametrize("tamper", sorted(CONSISTENCY_TAMPERS))
def test_tampered_consistency_proof_rejected(tamper: str, log5: L.TransparencyLog) -> None:
    old, new = log5.head(size=3).to_dict(), log5.head().to_dict()
    proof = log5.prove_consistency(3)
    L.verify_consistency(proof, old, new)
    bad = copy.deepcopy(proof)
    CONSISTENCY_TAMPERS[tamper](bad)
    assert json.dumps(bad, sort_keys=True) != json.dumps(proof, sort_keys=True)
    with pytest.raises(VerificationFailed):
        L.verify_consistency(bad, old, new)
    assert not spec_verify_consistency(bad, old, new) or tamper in ("old root", "new root", "extra key",
                                                                   "size not an int")


def test_proof_format_errors_are_bad_input(log5: L.TransparencyLog) -> None:
    head = log5.head().to_dict()
    p = log5.prove_inclusion(IDS[0])
    c = log5.prove_consistency(1)
    for doc in ({**p, "format": "por-inclusion-proof"}, {**p, "version": 2}, {**p, "version": True}, [p], None):
        with pytest.raises(BadInput):
            L.verify_inclusion(doc, head)
    with pytest.raises(BadInput):
        L.verify_inclusion(c, head)
    with pytest.raises(BadInput):
        L.verify_consistency(p, log5.head(size=1).to_dict(), head)
