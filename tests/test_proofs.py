"""Inclusion proofs: good proofs verify; every attack and every mutation fails loudly."""

from __future__ import annotations

import copy
import hashlib
import json
import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from por.core import encoding as enc
from por.core.errors import BadInput, PorError, VerificationFailed
from por.proofs.inclusion import Prover, verify_proof
from por.snapshot import build_snapshot, load_snapshot

from .conftest import EXAMPLES, SECRET


@pytest.fixture(scope="module")
def snap(built: Path):
    return load_snapshot(built / "snapshot.json")


def test_every_proof_verifies(proofs, snap) -> None:
    assert set(proofs) == {"alice", "bob", "carol", "dave", "erin", "fund-7-client"}
    for account, doc in proofs.items():
        r = verify_proof(doc, snapshot=snap, account_id=account)
        assert r.account_id == account and r.root == snap.root.hex()
    r = verify_proof(proofs["alice"], root=snap.root, expect=["BTC=0.51", "cross:BTC=0.5", "isolated:USDT=12.5"])
    assert r.totals()["BTC"] == 51_000_000


def test_expectation_mismatch_fails(proofs, snap) -> None:
    with pytest.raises(VerificationFailed, match="expected BTC = 0.52"):
        verify_proof(proofs["alice"], snapshot=snap, expect=["BTC=0.52"])
    with pytest.raises(BadInput):
        verify_proof(proofs["alice"], snapshot=snap, expect=["DOGE=1"])


def test_a_proof_alone_is_not_trusted(proofs) -> None:
    with pytest.raises(BadInput, match="trusted"):
        verify_proof(proofs["alice"])


def _fail(doc, snap, **kw) -> str:
    with pytest.raises(VerificationFailed) as info:
        verify_proof(doc, snapshot=snap, **kw)
    return str(info.value)


# ------------------------------------------------------------------ named attacks

def _weak_sum_only_parent(lh: bytes, ls: list[int], rh: bytes, rs: list[int]) -> bytes:
    """The broken design (Maxwell's original): the parent binds only the *total*, not each child's sum."""
    return hashlib.sha256(struct.pack(">4Q", *[a + b for a, b in zip(ls, rs)]) + lh + rh).digest()


def test_attack_sum_only_parent(proofs, snap) -> None:
    """Re-splitting sums between a sibling and its ancestor's sibling keeps every total; only por's binding catches it."""
    tried = 0
    for account, proof in proofs.items():
        for i, entry in enumerate(proof["entries"]):
            path = entry["path"]
            for hi in range(1, len(path)):
                if int(path[hi]["sums"]["BTC"]) == 0:
                    continue
                doc = copy.deepcopy(proof)
                low, high = doc["entries"][i]["path"][0]["sums"], doc["entries"][i]["path"][hi]["sums"]
                moved = int(high["BTC"])  # move it all from the upper sibling into the lowest one
                low["BTC"], high["BTC"] = str(int(low["BTC"]) + moved), "0"
                assert "do not lead to the published bucket root" in _fail(doc, snap)
                tried += 1
    assert tried > 0


def test_attack_sum_only_parent_is_real_against_weak_design() -> None:
    """Sanity: with a sum-only parent, a sibling whose split is changed yields the same parent hash."""
    a, b = b"\x01" * 32, b"\x02" * 32
    assert _weak_sum_only_parent(a, [5, 0, 0, 0], b, [3, 0, 0, 0]) == _weak_sum_only_parent(a, [1, 0, 0, 0], b, [7, 0, 0, 0])
    assert enc.node_hash(a, [5, 0, 0, 0], b, [3, 0, 0, 0]) != enc.node_hash(a, [1, 0, 0, 0], b, [7, 0, 0, 0])


@pytest.mark.parametrize("value", ["-1", "-50000000", "18446744073709551616", "1e3", "0x10", "", " 1", "1.0"])
def test_attack_negative_or_out_of_range_values(proofs, snap, value: str) -> None:
    for where in ("balance", "sibling"):
        doc = copy.deepcopy(proofs["alice"])
        e = doc["entries"][0]
        (e["balances"] if where == "balance" else e["path"][0]["sums"])["BTC"] = value
        assert "malformed proof" in _fail(doc, snap)


def test_attack_wraparound_at_2_64(proofs, snap) -> None:
    """A sibling of 2^64 - x, which a mod-2^64 (or field) verifier would wrap to a small total."""
    doc = copy.deepcopy(proofs["alice"])
    e = doc["entries"][0]
    own = int(e["balances"]["BTC"])
    e["path"][0]["sums"]["BTC"] = str(2**64 - own)  # own + sibling == 2^64 == 0 mod 2^64
    assert "reaches 2^64" in _fail(doc, snap)


def test_attack_leaf_moved_to_another_bucket(proofs, snap) -> None:
    doc = copy.deepcopy(proofs["alice"])
    e = doc["entries"][1]  # the isolated-bucket leaf ...
    e["bucket"], e["top_index"] = "cross", 0  # ... claimed to be in cross
    doc["entries"] = [e]
    msg = _fail(doc, snap)
    assert "bucket cross" in msg


def test_attack_leaf_moved_to_another_snapshot(proofs, snap, tmp_path: Path) -> None:
    """Same ledger, same secret, another snapshot id: proofs of one never verify against the other."""
    cfg = tmp_path / "other.toml"
    cfg.write_text((EXAMPLES / "snapshot.toml").read_text().replace("acme-2026-11-20", "acme-2026-11-21"))
    other = build_snapshot(cfg, EXAMPLES / "ledger.csv", tmp_path / "o", secret=SECRET).snapshot
    assert "metadata differs" in _fail(proofs["alice"], other)
    # re-labelling the proof with the other snapshot's metadata and root does not help: leaves bind the id
    doc = copy.deepcopy(proofs["alice"])
    doc["snapshot"] = {"metadata": other.config.to_dict(), "root": other.root.hex()}
    assert "do not lead to the published bucket root" in _fail(doc, other)


def test_attack_proof_for_a_presented_as_b(proofs, snap) -> None:
    assert "not 'bob'" in _fail(proofs["alice"], snap, account_id="bob")
    doc = copy.deepcopy(proofs["alice"])
    doc["account_id"] = "bob"
    assert "do not lead to the published bucket root" in _fail(doc, snap, account_id="bob")


def test_attack_duplicate_account_rejected_at_build(tmp_path: Path) -> None:
    ledger = tmp_path / "l.csv"
    ledger.write_text("account_id,bucket,BTC\nalice,cross,1\nbob,cross,2\nalice,cross,0.5\n")
    with pytest.raises(BadInput, match="duplicate account") as info:
        build_snapshot(EXAMPLES / "snapshot.toml", ledger, tmp_path / "o", secret=SECRET)
    assert info.value.line == 4 and "line 2" in str(info.value)


def test_attack_dummy_negative_user_rejected_at_build(tmp_path: Path) -> None:
    ledger = tmp_path / "l.csv"
    ledger.write_text("account_id,bucket,BTC\nalice,cross,1\ndummy,cross,-0.9\n")
    with pytest.raises(BadInput, match="negative amount"):
        build_snapshot(EXAMPLES / "snapshot.toml", ledger, tmp_path / "o", secret=SECRET)


def test_attack_equivocating_bucket_root(proofs, snap) -> None:
    """Two different bucket roots cannot both be under one published snapshot root."""
    doc = copy.deepcopy(proofs["fund-7-client"])
    doc["entries"][0]["balances"]["BTC"] = "1"
    with pytest.raises(VerificationFailed):
        verify_proof(doc, root=snap.root)


def test_attack_height_or_index_changed(proofs, snap) -> None:
    doc = copy.deepcopy(proofs["carol"])
    doc["entries"][0]["index"] ^= 1
    _fail(doc, snap)
    doc = copy.deepcopy(proofs["carol"])
    doc["entries"][0]["index"] += 1 << 10
    assert "outside a tree" in _fail(doc, snap)
    doc = copy.deepcopy(proofs["carol"])
    doc["entries"][0]["path"].pop()
    doc["entries"][0]["height"] -= 1
    _fail(doc, snap)
    doc = copy.deepcopy(proofs["carol"])  # an absurd height with a matching path must fail cleanly
    e = doc["entries"][0]
    e["path"] = e["path"] + [e["path"][0]] * (300 - len(e["path"]))
    e["height"] = 300
    with pytest.raises(VerificationFailed, match="outside"):
        verify_proof(doc, root=snap.root)


def test_snapshot_json_tampering_detected(built: Path, tmp_path: Path) -> None:
    doc = json.loads((built / "snapshot.json").read_text())
    doc["buckets"][0]["totals"]["BTC"] = "1"
    bad = tmp_path / "snapshot.json"
    bad.write_text(json.dumps(doc))
    with pytest.raises(VerificationFailed, match="not the root of its own contents"):
        load_snapshot(bad)


# ------------------------------------------------------------------ every mutation fails

def _leaves(obj, path=()):
    """Every (path, value) scalar in a JSON document."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _leaves(v, path + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _leaves(v, path + (i,))
    else:
        yield path, obj


def _mutate(value):
    if isinstance(value, bool):
        return [not value]
    if isinstance(value, int):
        return [value + 1, value - 1, str(value), None]
    if isinstance(value, str):
        out = [value + "0", value[:-1], value.upper() if value != value.upper() else value.lower(), 7]
        if value.isdigit():
            out += [str(int(value) + 1), str(int(value) - 1) if int(value) else "1"]
        if len(value) == 64:
            out.append(value[:10] + ("0" if value[10] != "0" else "1") + value[11:])
        return [m for m in out if m != value]
    return ["x"]


def _set(doc, path, value):
    for k in path[:-1]:
        doc = doc[k]
    doc[path[-1]] = value


def _rejected(doc, snap) -> bool:
    try:
        verify_proof(doc, snapshot=snap, account_id="alice")
    except PorError:
        return True
    return False


def test_every_field_mutation_fails_exhaustive(proofs, snap) -> None:
    base = proofs["alice"]
    n = 0
    for path, value in _leaves(base):
        for new in _mutate(value):
            doc = copy.deepcopy(base)
            _set(doc, path, new)
            assert _rejected(doc, snap), f"mutation {path} = {new!r} was accepted"
            n += 1
    assert n > 100


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_property_any_mutation_fails(proofs, snap, data) -> None:
    base = proofs["alice"]
    fields = list(_leaves(base))
    path, value = data.draw(st.sampled_from(fields))
    new = data.draw(st.one_of(
        st.sampled_from(_mutate(value)),
        st.integers(min_value=-(2**65), max_value=2**65).map(str),
        st.text(max_size=70),
        st.integers(),
        st.none(),
    ))
    if new == value:
        return
    doc = copy.deepcopy(base)
    _set(doc, path, new)
    assert _rejected(doc, snap), f"mutation {path} = {new!r} was accepted"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_property_structural_mutations_fail(proofs, snap, data) -> None:
    """Dropping or duplicating keys, entries or path nodes is never accepted."""
    doc = copy.deepcopy(proofs["alice"])
    choice = data.draw(st.integers(0, 4))
    e = doc["entries"][data.draw(st.integers(0, 1))]
    if choice == 0:
        e["path"].insert(data.draw(st.integers(0, len(e["path"]))), copy.deepcopy(e["path"][0]))
    elif choice == 1:
        del e[data.draw(st.sampled_from(sorted(e)))]
    elif choice == 2:
        doc["entries"].append(copy.deepcopy(e))
    elif choice == 3:
        e[data.draw(st.text(min_size=1, max_size=5))] = 1
    else:
        e["path"].reverse()
        if len(e["path"]) < 2 or e["path"][0] == e["path"][-1]:
            e["path"][0]["hash"] = "00" * 32
    assert _rejected(doc, snap)


def test_tampered_proof_file_via_cli(cli, built: Path, proofs, tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    good.write_text(json.dumps(proofs["alice"]))
    res = cli("verify", good, "--snapshot", built / "snapshot.json", "--account", "alice", "--expect", "BTC=0.51")
    assert res.exit_code == 0, res.output
    doc = copy.deepcopy(proofs["alice"])
    doc["entries"][0]["balances"]["USDT"] = "2000000000"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    res = cli("verify", bad, "--snapshot", built / "snapshot.json")
    assert res.exit_code == 1
    assert "entries[0] (bucket cross)" in res.stderr


def test_prover_unknown_account(built: Path) -> None:
    p = Prover(built)
    with pytest.raises(BadInput, match="no account"):
        p.prove("mallory")
    p.close()
