"""Hiding mode end to end: committed trees, hiding inclusion proofs, zero-knowledge solvency, audit.

Every test builds real snapshots with the library (no mocks); attacks are built with the
same public primitives a cheating exchange would use.
"""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from por.core import encoding as enc
from por.crypto import rangeproof as rp
from por.audit.audit import audit
from por.modes.commitments import commit_levels
from por.core.config import load_config
from por.core.errors import BadInput, VerificationFailed
from por.crypto.group import N, Point, use_backend
from por.core.keys import SnapshotKeys
from por.crypto.pedersen import commit
from por.modes.hiding import path_transcript
from por.proofs.inclusion import Prover, verify_proof
from por.modes.registry import MODE_HIDING
from por.snapshot import BucketSummary, build_snapshot, build_trees, compute_root, load_snapshot
from por.proofs.solvency import load_reserves, parse_reserves, prove_solvency, verify_solvency
from por.tree.store import Store

from .conftest import EXAMPLES, SECRET
from .test_pedersen import det_rng

RESERVES = {"cross": {"BTC": "2", "ETH": "13", "USDT": "251000.5"},
            "fund-7": {"BTC": "12", "ETH": "150", "USDT": "1000000"},
            "isolated": {"BTC": "0.01", "USDT": "200"}}


@pytest.fixture(scope="module")
def hidden(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("hidden") / "snap"
    build_snapshot(EXAMPLES / "snapshot.toml", EXAMPLES / "ledger.csv", out, secret=SECRET, hiding=True)
    return out


@pytest.fixture(scope="module")
def hproofs(hidden: Path) -> dict[str, dict]:
    p = Prover(hidden)
    try:
        return {a: p.prove(a) for a in p.accounts()}
    finally:
        p.close()


@pytest.fixture(scope="module")
def reserves(hidden: Path) -> dict:
    return parse_reserves(RESERVES, load_snapshot(hidden).config)


# ---------------------------------------------------------------- the committed tree


def test_snapshot_publishes_commitments_not_totals(hidden: Path) -> None:
    doc = json.loads((hidden / "snapshot.json").read_text())
    assert doc["mode"] == "hiding" and "totals" not in doc
    for b in doc["buckets"]:
        assert set(b) == {"id", "kind", "height", "root", "commitments"}
    snap = load_snapshot(hidden)
    assert snap.hiding and snap.totals is None


def test_commitments_open_to_the_ledger_totals(hidden: Path) -> None:
    """Each bucket commitment is totals*G + (sum of leaf blindings)*H, as the store's openings say."""
    snap = load_snapshot(hidden)
    built, _, _ = build_trees(load_config(EXAMPLES / "snapshot.toml"), EXAMPLES / "ledger.csv", SECRET, hiding=True)
    prover = Prover(hidden)
    try:
        for i, (pub, mine) in enumerate(zip(snap.buckets, built.buckets)):
            opening = prover.bucket_root_opening(i)
            assert opening.values == mine.totals
            for v, r, c in zip(opening.values, opening.blinds, pub.commitments):
                assert commit(v, r).to_bytes() == c
    finally:
        prover.close()


def test_build_is_deterministic_and_mode_separated(hidden: Path, tmp_path: Path, built: Path) -> None:
    again = tmp_path / "again"
    build_snapshot(EXAMPLES / "snapshot.toml", EXAMPLES / "ledger.csv", again, secret=SECRET, hiding=True)
    assert (again / "snapshot.json").read_bytes() == (hidden / "snapshot.json").read_bytes()
    assert load_snapshot(built).root != load_snapshot(hidden).root


def test_both_backends_build_the_same_tree() -> None:
    cfg = load_config(EXAMPLES / "snapshot.toml")
    fast, _, _ = build_trees(cfg, EXAMPLES / "ledger.csv", SECRET, hiding=True)
    with use_backend("py_ecc"):
        slow, _, _ = build_trees(cfg, EXAMPLES / "ledger.csv", SECRET, hiding=True)
    assert fast.root == slow.root


def test_parallel_commitment_equals_in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    import por.modes.commitments as pc

    rng = np.random.default_rng(7)
    capacity, assets = 64, 2
    values = rng.integers(0, 2**40, size=(capacity, assets), dtype=np.uint64)
    seeds = rng.bytes(32 * capacity)
    key = bytes(range(32))
    single = commit_levels(key, seeds, values, jobs=1)
    monkeypatch.setattr(pc, "PARALLEL_MIN_LEAVES", 16)
    parallel = commit_levels(key, seeds, values, jobs=2)
    assert len(single) == len(parallel) == 7
    for a, b in zip(single, parallel):
        assert a.commits.tobytes() == b.commits.tobytes() and a.blinds.tobytes() == b.blinds.tobytes()
    # the root opens to the sum of the leaves
    root = single[-1]
    r0 = int.from_bytes(root.blinds[0, :32].tobytes(), "big")
    assert commit(int(values[:, 0].sum()), r0).to_bytes() == root.commits[0, :33].tobytes()


def test_blinding_derivation_matches_spec() -> None:
    import hmac

    keys = SnapshotKeys.from_master(SECRET)
    salt = keys.leaf_salt("s", "b", "alice")
    from por.core.keys import Prf, blinding_factors

    got = blinding_factors(Prf(keys.blinding_key, "sha512"), salt, 2, N)
    want = [1 + int.from_bytes(hmac.digest(keys.blinding_key, salt + a.to_bytes(2, "big"), "sha512"), "big") % (N - 1)
            for a in range(2)]
    assert got == want and all(0 < r < N for r in got)


# ---------------------------------------------------------------- hiding inclusion proofs


def test_every_hiding_proof_verifies(hidden: Path, hproofs: dict[str, dict]) -> None:
    snap = load_snapshot(hidden)
    for account, doc in hproofs.items():
        res = verify_proof(doc, snapshot=snap, account_id=account)
        assert any("range proof" in c for c in res.checks)
        verify_proof(doc, root=snap.root)
    alice = verify_proof(hproofs["alice"], snapshot=snap, expect=["BTC=0.51", "cross:USDT=1000"])
    assert alice.totals()["BTC"] == 51_000_000


def test_hiding_proofs_are_deterministic(hidden: Path, hproofs: dict[str, dict]) -> None:
    p = Prover(hidden)
    try:
        assert p.prove("alice") == hproofs["alice"]
    finally:
        p.close()


def test_public_proof_against_hiding_snapshot_and_back(hidden: Path, built: Path, proofs: dict, hproofs: dict) -> None:
    with pytest.raises(VerificationFailed, match="mode"):
        verify_proof(proofs["alice"], snapshot=load_snapshot(hidden))
    with pytest.raises(VerificationFailed, match="mode"):
        verify_proof(hproofs["alice"], snapshot=load_snapshot(built))


def _leaves(doc: object, path: tuple = ()) -> list[tuple]:
    """Every (path, value) of a JSON document's scalar leaves."""
    if isinstance(doc, dict):
        return [x for k, v in doc.items() for x in _leaves(v, (*path, k))]
    if isinstance(doc, list):
        return [x for i, v in enumerate(doc) for x in _leaves(v, (*path, i))]
    return [(path, doc)]


def _set(doc: dict, path: tuple, value: object) -> dict:
    out = copy.deepcopy(doc)
    node = out
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = value
    return out


def _mutate(value: object) -> list[object]:
    if isinstance(value, bool) or value is None:
        return [not value]
    if isinstance(value, int):
        return [value + 1, value - 1] if value else [1]
    assert isinstance(value, str)
    if all(c in "0123456789abcdef" for c in value) and len(value) >= 2:
        flip = "1" if value[-1] != "1" else "2"
        first = "1" if value[0] != "1" else "2"
        return [value[:-1] + flip, first + value[1:]]
    if value.isdigit():
        return [str(int(value) + 1)]
    return [value + "x"]


def test_every_field_of_a_hiding_proof_matters(hidden: Path, hproofs: dict[str, dict]) -> None:
    """Changing any scalar field of a valid hiding proof makes verification fail (exit 1, never a crash;
    another format or version is not a proof at all: exit 2)."""
    snap = load_snapshot(hidden)
    doc = hproofs["alice"]
    count = 0
    for path, value in _leaves(doc):
        if path[:2] == ("snapshot", "metadata"):
            continue  # metadata is compared with the snapshot as a whole (covered in test_proofs)
        for bad in _mutate(value):
            expected = BadInput if path in (("format",), ("version",)) else VerificationFailed
            with pytest.raises(expected):
                verify_proof(_set(doc, path, bad), snapshot=snap)
            count += 1
    assert count > 60


def test_range_proof_byte_flips_fail(hidden: Path, hproofs: dict[str, dict]) -> None:
    snap = load_snapshot(hidden)
    doc = hproofs["dave"]
    proof_hex = doc["entries"][0]["range_proof"]
    rnd = random.Random(5)
    for pos in sorted(rnd.sample(range(len(proof_hex) // 2), 40)):
        raw = bytearray(bytes.fromhex(proof_hex))
        raw[pos] ^= 1 << rnd.randrange(8)
        bad = _set(doc, ("entries", 0, "range_proof"), raw.hex())
        with pytest.raises(VerificationFailed):
            verify_proof(bad, snapshot=snap)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_property_any_hex_byte_flip_fails(hidden: Path, hproofs: dict[str, dict], data: st.DataObject) -> None:
    """Property: flipping any bit of any hex field (salt, blinding, hash, commitment, range proof) is caught."""
    snap = load_snapshot(hidden)
    doc = hproofs["alice"]
    fields = [(p, v) for p, v in _leaves(doc) if isinstance(v, str) and len(v) >= 64
              and all(c in "0123456789abcdef" for c in v) and p[:1] == ("entries",)]
    path, value = data.draw(st.sampled_from(fields))
    raw = bytearray(bytes.fromhex(value))
    pos = data.draw(st.integers(0, len(raw) - 1))
    raw[pos] ^= 1 << data.draw(st.integers(0, 7))
    with pytest.raises(VerificationFailed):
        verify_proof(_set(doc, path, raw.hex()), snapshot=snap)


def test_structural_tampering_of_hiding_proofs(hidden: Path, hproofs: dict[str, dict]) -> None:
    snap = load_snapshot(hidden)
    doc = hproofs["alice"]
    e = ("entries", 0)
    cases = [
        _set(doc, e, {k: v for k, v in doc["entries"][0].items() if k != "range_proof"}),
        _set(doc, (*e, "range_proof"), doc["entries"][1]["range_proof"]),  # another entry's proof
        _set(doc, (*e, "path"), doc["entries"][0]["path"][:-1]),
        _set(doc, (*e, "blindings"), doc["entries"][1]["blindings"]),
        _set(doc, (*e, "path", 0, "commitments", "BTC"), "04" + "00" * 32),
        _set(doc, (*e, "path", 0, "commitments", "BTC"), "02" + "ff" * 32),  # x >= p: not on the curve
        _set(doc, (*e, "blindings", "BTC"), "00" * 32),
        _set(doc, (*e, "blindings", "BTC"), f"{N:064x}"),
    ]
    for bad in cases:
        with pytest.raises(VerificationFailed):
            verify_proof(bad, snapshot=snap)


def test_path_range_proof_is_bound_to_the_snapshot(hidden: Path, hproofs: dict[str, dict], tmp_path: Path) -> None:
    """The same commitments and range proof do not verify under another snapshot's root (transcript binding)."""
    snap = load_snapshot(hidden)
    e = hproofs["alice"]["entries"][0]
    statement = [Point.from_hex(c) for node in e["path"] + e["top_path"] for c in node["commitments"].values()]
    total = climb_total(hproofs["alice"], snap)
    statement += [Point.from_bytes(c) for c in total]
    proof = rp.RangeProof.from_hex(e["range_proof"], rounds=rp.rounds_for(64, len(statement)))
    rp.verify(path_transcript(snap.root, e["bucket"], e["index"]), statement, proof)
    other = tmp_path / "other"
    cfg = (EXAMPLES / "snapshot.toml").read_text().replace("acme-2026-11-20", "acme-2026-11-21")
    (tmp_path / "other.toml").write_text(cfg)
    build_snapshot(tmp_path / "other.toml", EXAMPLES / "ledger.csv", other, secret=SECRET, hiding=True)
    with pytest.raises(VerificationFailed):
        rp.verify(path_transcript(load_snapshot(other).root, e["bucket"], e["index"]), statement, proof)
    with pytest.raises(VerificationFailed):
        rp.verify(path_transcript(snap.root, e["bucket"], e["index"] ^ 1), statement, proof)
    with pytest.raises(VerificationFailed, match="another snapshot"):
        verify_proof(hproofs["alice"], snapshot=load_snapshot(other))


def climb_total(doc: dict, snap) -> list[bytes]:
    """The snapshot-wide commitment vector, recomputed from the published bucket commitments."""
    _, top = compute_root(snap.config, snap.buckets, MODE_HIDING)
    return top


# ---------------------------------------------------------------- the negative-leaf attack


def _malicious_snapshot(ghost_btc: int):
    """A one-bucket hiding snapshot in which the exchange slipped in a 'ghost' leaf committing to
    -ghost_btc (i.e. N - ghost_btc) right next to alice, to lower the bucket's BTC total."""
    from por.core.config import SnapshotConfig

    cfg = SnapshotConfig.from_dict({
        "snapshot_id": "evil-1", "as_of": "2026-11-20T00:00:00Z",
        "assets": [{"symbol": "BTC", "decimals": 8}],
        "buckets": [{"id": "cross", "kind": "cross-margin"}],
    }, file="test")
    keys = SnapshotKeys.from_master(SECRET)
    rng = random.Random(9)
    people = [("alice", 50_000_000), ("ghost", (-ghost_btc) % N), ("bob", 200_000_000), ("carol", 10_000_000)]
    leaves, openings = [], []
    for account, value in people:
        salt = keys.leaf_salt("evil-1", "cross", account)
        r = rng.randrange(1, N)
        c = commit(value, r).to_bytes()
        leaves.append((enc.leaf_hash("evil-1", "cross", salt, account, [c]), [c]))
        openings.append((value, r, salt))
    levels = [leaves]
    while len(levels[-1]) > 1:
        lv = levels[-1]
        from por.tree.sumtree import parent as _parent

        levels.append([_parent(lv[i], lv[i + 1], "evil") for i in range(0, len(lv), 2)])
    root_hash, root_vec = levels[-1][0]
    summary = BucketSummary("cross", "cross-margin", 2, root_hash, None, tuple(root_vec))
    root, top_vec = compute_root(cfg, [summary], MODE_HIDING)
    return cfg, levels, openings, summary, root


@pytest.mark.parametrize("ghost_btc", [150_000_000, 1, (-(2**64)) % N], ids=["minus-1.5", "minus-1-sat", "2^64"])
def test_negative_leaf_is_caught_by_the_user_next_to_it(monkeypatch: pytest.MonkeyPatch, ghost_btc: int) -> None:
    """A ghost leaf worth -x (i.e. N - x) or 2^64 next to alice: no proof for alice can verify."""
    cfg, levels, openings, summary, root = _malicious_snapshot(ghost_btc=ghost_btc)
    value, r, salt = openings[0]
    # alice's path: the ghost leaf, then node(bob, carol); then the bucket total (top height 0)
    path = [levels[0][1], levels[1][1]]
    sib_values = [openings[1][0], openings[2][0] + openings[3][0]]
    sib_blinds = [openings[1][1], (openings[2][1] + openings[3][1]) % N]
    total_value = sum(o[0] for o in openings) % N  # 2.1 BTC: the ghost hid 1.5 BTC
    total_blind = sum(o[1] for o in openings) % N
    assert total_value == (260_000_000 - ghost_btc) % N

    def doc_with(proof_hex: str) -> dict:
        return {
            "format": "por-inclusion-proof", "version": 1, "mode": "hiding",
            "snapshot": {"metadata": cfg.to_dict(), "root": root.hex()}, "account_id": "alice",
            "entries": [{
                "bucket": "cross", "height": 2, "index": 0, "salt": salt.hex(),
                "balances": {"BTC": str(value)}, "blindings": {"BTC": f"{r:064x}"},
                "path": [{"hash": h.hex(), "commitments": {"BTC": v[0].hex()}} for h, v in path],
                "top_index": 0, "top_path": [], "range_proof": proof_hex,
            }],
        }

    # 1. an honest prover cannot even start: the ghost sibling is out of range
    with pytest.raises(ValueError):
        rp.prove(path_transcript(root, "cross", 0), sib_values + [total_value], sib_blinds + [total_blind])
    # 2. a prover with its range check removed makes a proof the user rejects
    monkeypatch.setattr(rp, "_check_values", lambda values, bits: None)
    forged, _ = rp.prove(path_transcript(root, "cross", 0), sib_values + [total_value],
                         sib_blinds + [total_blind], rng=det_rng(b"1"))
    monkeypatch.undo()
    with pytest.raises(VerificationFailed, match="range_proof: .*negative"):
        verify_proof(doc_with(forged.to_hex()), root=root)
    # 3. a proof for an in-range opening of *other* commitments does not match the path
    fake, _ = rp.prove(path_transcript(root, "cross", 0), [0, sib_values[1], 260_000_000],
                       [sib_blinds[0], sib_blinds[1], total_blind], rng=det_rng(b"2"))
    with pytest.raises(VerificationFailed, match="range_proof: .*negative"):
        verify_proof(doc_with(fake.to_hex()), root=root)


def test_honest_variant_of_the_attack_fixture_verifies() -> None:
    """The same hand-built tree without a negative leaf gives a proof that verifies (the fixture is sound)."""
    cfg, levels, openings, summary, root = _malicious_snapshot(ghost_btc=(-7) % N)  # ghost holds +7 sat
    value, r, salt = openings[0]
    sib_values = [openings[1][0], openings[2][0] + openings[3][0]]
    sib_blinds = [openings[1][1], (openings[2][1] + openings[3][1]) % N]
    total = (sum(o[0] for o in openings), sum(o[1] for o in openings) % N)
    proof, _ = rp.prove(path_transcript(root, "cross", 0), sib_values + [total[0]], sib_blinds + [total[1]],
                        rng=det_rng(b"3"))
    path = [levels[0][1], levels[1][1]]
    doc = {
        "format": "por-inclusion-proof", "version": 1, "mode": "hiding",
        "snapshot": {"metadata": cfg.to_dict(), "root": root.hex()}, "account_id": "alice",
        "entries": [{"bucket": "cross", "height": 2, "index": 0, "salt": salt.hex(),
                     "balances": {"BTC": str(value)}, "blindings": {"BTC": f"{r:064x}"},
                     "path": [{"hash": h.hex(), "commitments": {"BTC": v[0].hex()}} for h, v in path],
                     "top_index": 0, "top_path": [], "range_proof": proof.to_hex()}],
    }
    verify_proof(doc, root=root)


# ---------------------------------------------------------------- zero-knowledge solvency


def test_solvency_proof_verifies_and_reveals_nothing(hidden: Path, reserves: dict) -> None:
    snap = load_snapshot(hidden)
    doc = prove_solvency(hidden, reserves)
    res = verify_solvency(doc, snap, reserves=reserves)
    assert res.revealed is None and len(res.to_dict()["coverage"]) == 9
    assert verify_solvency(doc, snap).checks[1].startswith("reserves as stated")
    assert prove_solvency(hidden, reserves) == doc  # deterministic
    assert set(doc) == {"format", "version", "snapshot", "reserves", "range_proof"}


def test_solvency_with_revealed_totals(hidden: Path, reserves: dict) -> None:
    snap = load_snapshot(hidden)
    doc = prove_solvency(hidden, reserves, reveal_totals=True)
    res = verify_solvency(doc, snap, reserves=reserves)
    assert res.revealed[("cross", "BTC")] == 175_000_001
    bad = copy.deepcopy(doc)
    bad["openings"]["cross"]["BTC"]["liabilities"] = "175000000"
    with pytest.raises(VerificationFailed, match="opening"):
        verify_solvency(bad, snap)


def test_insolvent_bucket_has_no_proof(hidden: Path, reserves: dict) -> None:
    short = dict(reserves)
    short[("cross", "BTC")] = 175_000_000  # one satoshi short; the total over buckets is still covered
    with pytest.raises(VerificationFailed, match="cross BTC"):
        prove_solvency(hidden, short)
    with pytest.raises(VerificationFailed, match="insolvent"):
        prove_solvency(hidden, short, reveal_totals=True)


def test_forged_solvency_proof_for_a_short_bucket_fails(hidden: Path, reserves: dict,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """R - L < 0 is N - (L - R): a prover without its range check still cannot convince the verifier."""
    from por.proofs import solvency as sv

    snap = load_snapshot(hidden)
    short = dict(reserves)
    short[("cross", "BTC")] = 175_000_000
    prover = Prover(hidden)
    values, blinds = [], []
    for i, b in enumerate(snap.buckets):
        o = prover.bucket_root_opening(i)
        for a, s in enumerate(snap.config.symbols):
            values.append((short[(b.id, s)] - o.values[a]) % N)
            blinds.append((-o.blinds[a]) % N)
    prover.close()
    assert (N - 1) in values
    monkeypatch.setattr(rp, "_check_values", lambda values, bits: None)
    proof, commitments = rp.prove(sv.solvency_transcript(snap.root, snap.config, short), values, blinds,
                                  rng=det_rng(b"4"))
    monkeypatch.undo()
    assert commitments == sv.surplus_commitments(snap, short)
    doc = {"format": "por-solvency-proof", "version": 1,
           "snapshot": {"snapshot_id": snap.config.snapshot_id, "root": snap.root.hex()},
           "reserves": sv.reserves_doc(short, snap.config), "range_proof": proof.to_hex()}
    with pytest.raises(VerificationFailed, match="range_proof"):
        verify_solvency(doc, snap)


def test_every_field_of_a_solvency_proof_matters(hidden: Path, reserves: dict) -> None:
    snap = load_snapshot(hidden)
    doc = prove_solvency(hidden, reserves)
    count = 0
    for path, value in _leaves(doc):
        for bad in _mutate(value):
            with pytest.raises((VerificationFailed, BadInput)) as info:
                verify_solvency(_set(doc, path, bad), snap)
            assert path[0] in ("format", "version") or info.type is VerificationFailed
            count += 1
    assert count > 20
    raw = bytearray(bytes.fromhex(doc["range_proof"]))
    for pos in range(0, len(raw), 7):
        flipped = bytearray(raw)
        flipped[pos] ^= 0x10
        with pytest.raises(VerificationFailed):
            verify_solvency(_set(doc, ("range_proof",), flipped.hex()), snap)


def test_solvency_proof_is_bound_to_reserves_and_snapshot(hidden: Path, reserves: dict, tmp_path: Path) -> None:
    snap = load_snapshot(hidden)
    doc = prove_solvency(hidden, reserves)
    more = dict(reserves)
    more[("fund-7", "ETH")] += 1
    with pytest.raises(VerificationFailed, match="differ"):
        verify_solvency(doc, snap, reserves=more)
    lied = _set(doc, ("reserves", "fund-7", "ETH"), "151")  # claim more reserves than proven
    with pytest.raises(VerificationFailed, match="range_proof"):
        verify_solvency(lied, snap)
    cfg = (EXAMPLES / "snapshot.toml").read_text()
    (tmp_path / "c.toml").write_text(cfg)
    other = tmp_path / "other"
    ledger = (EXAMPLES / "ledger.csv").read_text().replace("erin,cross,0.00000001", "erin,cross,0.00000002")
    (tmp_path / "l.csv").write_text(ledger)
    build_snapshot(tmp_path / "c.toml", tmp_path / "l.csv", other, secret=SECRET, hiding=True)
    other_snap = load_snapshot(other)
    with pytest.raises(VerificationFailed, match="root"):
        verify_solvency(doc, other_snap)
    moved = _set(doc, ("snapshot", "root"), other_snap.root.hex())
    with pytest.raises(VerificationFailed, match="range_proof"):
        verify_solvency(moved, other_snap)


def test_reserves_table_input_errors(hidden: Path, tmp_path: Path) -> None:
    cfg = load_snapshot(hidden).config
    for bad, field in [
        ({"proprietary": {"BTC": "1"}}, "proprietary"),
        ({"nope": {"BTC": "1"}}, "nope"),
        ({"cross": {"DOGE": "1"}}, "cross.DOGE"),
        ({"cross": {"BTC": 1.5}}, "cross.BTC"),
        ({"cross": {"BTC": "0.000000001"}}, "cross.BTC"),
        ({"cross": {"BTC": "-1"}}, "cross.BTC"),
        ({"cross": {"BTC": "184467440737.09551616"}}, "cross.BTC"),
        ([], "$"),
    ]:
        p = tmp_path / "r.json"
        p.write_text(json.dumps(bad))
        with pytest.raises(BadInput) as info:
            load_reserves(p, cfg)
        assert info.value.field == field and info.value.file == str(p)


def test_solvency_on_public_snapshot_is_refused(built: Path, reserves: dict) -> None:
    with pytest.raises(BadInput, match="public"):
        prove_solvency(built, reserves)


# ---------------------------------------------------------------- nothing secret is published


def test_no_blinding_or_other_balance_in_public_artifacts(hidden: Path, hproofs: dict, reserves: dict) -> None:
    snap = load_snapshot(hidden)
    store = Store(hidden / "store.sqlite")
    secrets: set[str] = set()
    n = len(snap.config.symbols)
    for b, summary in enumerate(snap.buckets):
        for lvl in range(summary.height + 1):
            for i in range(1 << (summary.height - lvl)):
                node = store.committed_node(b, lvl, i, n)
                secrets |= {f"{r:064x}" for r in node.blinds}
                secrets |= {f"{(-r) % N:064x}" for r in node.blinds}
    store.close()
    totals = {str(v) for b in build_trees(load_config(EXAMPLES / "snapshot.toml"), EXAMPLES / "ledger.csv",
                                          SECRET, hiding=True)[0].buckets for v in b.totals if v}
    public = {
        "snapshot.json": (hidden / "snapshot.json").read_text(),
        "solvency": json.dumps(prove_solvency(hidden, reserves)),
    }
    for name, text in public.items():
        assert not [s for s in secrets if s in text], name
        values = {str(v) for path, v in _leaves(json.loads(text)) if path[0] != "reserves"}  # reserves are public
        assert not (totals & values), name
    # a user's proof holds their own blindings only, and no other account's balances
    alice = hproofs["alice"]
    own = {v for e in alice["entries"] for v in e["blindings"].values()}
    text = json.dumps(alice)
    assert not [s for s in secrets - own if s in text]
    others = {str(int(x)) for line in (EXAMPLES / "ledger.csv").read_text().splitlines()[1:]
              if not line.startswith("alice") for x in _minor(line)} - {"0"}
    mine = {v for e in alice["entries"] for v in e["balances"].values()}
    strings = {v for _, v in _leaves(alice) if isinstance(v, str)}  # ints are indices and heights
    assert not (strings & (others - mine))


def _minor(line: str) -> list[int]:
    from por.core.ledger import parse_amount

    _, _, btc, eth, usdt = line.split(",")
    return [parse_amount(btc, 8), parse_amount(eth, 9), parse_amount(usdt, 6)]


# ---------------------------------------------------------------- audit and CLI


def test_audit_rederives_commitments(hidden: Path, tmp_path: Path) -> None:
    rep = audit(EXAMPLES / "snapshot.toml", EXAMPLES / "ledger.csv", SECRET, hidden / "snapshot.json")
    assert rep.ok, rep.to_dict()
    assert any("commitments" in c.name for c in rep.checks)
    changed = tmp_path / "l.csv"
    changed.write_text((EXAMPLES / "ledger.csv").read_text().replace("dave,isolated,0,0,99.999999",
                                                                     "dave,isolated,0,0,99.999998"))
    rep = audit(EXAMPLES / "snapshot.toml", changed, SECRET, hidden / "snapshot.json")
    assert not rep.ok
    failed = [c for c in rep.checks if not c.ok]
    assert any(c.name == "bucket isolated commitments" and "USDT" in c.detail for c in failed)
    assert not any("99.99999" in c.detail for c in rep.checks)  # amounts withheld


def test_cli_hiding_round_trip(cli, tmp_path: Path) -> None:
    out = tmp_path / "snap"
    r = cli("build", "--config", EXAMPLES / "snapshot.toml", "--ledger", EXAMPLES / "ledger.csv", "--out", out,
            "--hiding", "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["snapshot"]["mode"] == "hiding" and "totals" not in doc["snapshot"]
    assert cli("prove", out, "--account", "bob", "--out", tmp_path / "bob.json").exit_code == 0
    r = cli("verify", tmp_path / "bob.json", "--snapshot", out / "snapshot.json", "--json")
    assert r.exit_code == 0 and json.loads(r.output)["ok"]
    bad = json.loads((tmp_path / "bob.json").read_text())
    proof_hex = bad["entries"][0]["range_proof"]  # a fresh secret each run: flip a bit, never "set to 00"
    bad["entries"][0]["range_proof"] = proof_hex[:-2] + f"{int(proof_hex[-2:], 16) ^ 1:02x}"
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    assert cli("verify", tmp_path / "bad.json", "--snapshot", out / "snapshot.json").exit_code == 1

    res = tmp_path / "reserves.json"
    res.write_text(json.dumps(RESERVES))
    assert cli("solvency", "prove", out, "--reserves", res, "--out", tmp_path / "s.json").exit_code == 0
    r = cli("solvency", "verify", tmp_path / "s.json", "--snapshot", out / "snapshot.json", "--reserves", res, "--json")
    assert r.exit_code == 0 and json.loads(r.output)["valid"]
    short = json.loads(res.read_text())
    short["fund-7"]["BTC"] = "11.99999999"
    res.write_text(json.dumps(short))
    r = cli("solvency", "verify", tmp_path / "s.json", "--snapshot", out / "snapshot.json", "--reserves", res)
    assert r.exit_code == 1
    r = cli("solvency", "prove", out, "--reserves", res, "--out", tmp_path / "s2.json", "--json")
    assert r.exit_code == 1 and "fund-7 BTC" in r.output and not (tmp_path / "s2.json").exists()
    (tmp_path / "junk.json").write_text("{")
    assert cli("solvency", "verify", tmp_path / "junk.json", "--snapshot", out / "snapshot.json").exit_code == 2
    assert cli("solvency", "prove", out, "--reserves", tmp_path / "junk.json").exit_code == 2


def test_browser_verifier_exports_hiding_snapshots(cli, hidden: Path, tmp_path: Path) -> None:
    """The page verifies hiding proofs too (tests/test_browser.py runs them in Chromium)."""
    r = cli("export-verifier", hidden, "--out", tmp_path / "v.html")
    assert r.exit_code == 0, r.output
    page = (tmp_path / "v.html").read_text()
    assert '"generators"' in page and "hiding mode" in page


def test_parallel_proof_export_is_identical(hidden: Path, hproofs: dict[str, dict]) -> None:
    from por.proofs.inclusion import prove_all

    assert dict(prove_all(hidden, jobs=2)) == hproofs
