"""Margin accounts in zk mode end to end (SPEC.md §17.26, with §17.25 and §16.10-§16.12): `por zk setup
--margin`, `por build --zk` of a config with [prices], `por zk prove`, `por zk verify`, version 2 zk inclusion
proofs in `por prove`/`por verify`, and `por audit`.

Inputs are the margin test vectors (tests/vectors/margin/: assets BTC, USDT; bucket `main` with allow_debt,
bucket `seg-1` segregated) with the fixed secret of tests/vectors/secret.key, built against one module-scoped
local `BatchMargin(1, 2)` setup (2244 constraints; the 2^12 phase 1 of the "por/v1 zk test vectors" entropy
and the compiled circuit are cached in build/zk). The snapshot is built and proven once; tests that tamper
work on copies. Every Groth16 check runs in py_ecc (about 1 s each) and `por zk verify` checks all six batch
proofs, so tampering cases are grouped into few runs.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from por.cli.app import app
from por.core.config import parse_config
from por.core.errors import BadInput, ServiceUnavailable, VerificationFailed
from por.snapshot import build_snapshot, load_snapshot
from por.tree.store import Store
from por.zk import batch as zb
from por.zk import prover
from por.zk import tools as zt
from por.zk.groth16 import parse_verifying_key
from por.zk.circuits import BATCH, BATCH_MARGIN, circuit_for, margin_value_base
from por.zk.setup import ZkParams, create_setup, load_setup
from por.modes.zk import batch_leaves, batch_proof_path, parse_batch_proof, verify_batch
from por.proofs.batches import prove_snapshot

from .conftest import SECRET, VECTORS, flat

ENTROPY = "por/v1 zk test vectors"  # as tests/test_zk.py and tests/test_zk_margin_circuit.py (cached)
MV = VECTORS / "margin"
CONFIG = MV / "snapshot.toml"
LEDGER = MV / "ledger.csv"
SECRET_KEY = VECTORS / "secret.key"
K, ASSETS = 1, 2
# snapshot layout with the fixed secret: bucket 0 = main (height 3: batches 0..3), bucket 1 = seg-1 (height 2)
MAIN, SEG = 0, 1
BATCHES = [(MAIN, 0), (MAIN, 1), (MAIN, 2), (MAIN, 3), (SEG, 0), (SEG, 1)]



def run(*args: object):
    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)


def copy_snapshot(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def _setup(tmp_path_factory: pytest.TempPathFactory, name: str, *, assets: int, margin: bool, k: int = K) -> Path:
    out = tmp_path_factory.mktemp(name) / "setup"
    try:
        create_setup(out, batch_height=k, assets=assets, entropy=ENTROPY, circuit=circuit_for(margin))
    except ServiceUnavailable as exc:
        pytest.fail(f"zk toolchain missing: {exc}", pytrace=False)
    return out


@pytest.fixture(scope="module")
def msetup(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A local BatchMargin(1, 2) setup (testing only)."""
    return _setup(tmp_path_factory, "zkmsetup", assets=ASSETS, margin=True)


@pytest.fixture(scope="module")
def psetup(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A plain Batch(2, 2) setup: the right number of assets, the wrong circuit for a margin config.
    (Batch(2, 2) is tests/test_zk_mode.py's circuit: compiled circuit and phase 1 are shared in the cache.)"""
    return _setup(tmp_path_factory, "zkpsetup", assets=ASSETS, margin=False, k=2)


@pytest.fixture(scope="module")
def proven(tmp_path_factory: pytest.TempPathFactory, msetup: Path) -> Path:
    """The margin vectors built in zk mode with the fixed secret, every batch proven (read-only for tests)."""
    out = tmp_path_factory.mktemp("zkmbuilt") / "snap"
    r = run("build", "--config", CONFIG, "--ledger", LEDGER, "--out", out, "--secret", SECRET_KEY, "--zk", msetup)
    assert r.exit_code == 0, r.output
    assert "zk mode: batches of 2 leaves" in flat(r.output)
    r = run("zk", "prove", out, "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    # main: 4 accounts -> height 3 -> 4 batches of 2 leaves; seg-1: 2 accounts -> height 2 -> 2 batches
    assert doc["proved"] == doc["batches"] == 6 and doc["skipped"] == 0 and doc["testing_only"] is True
    return out


@pytest.fixture(scope="module")
def alice_proof(proven: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("zkmalice") / "alice.json"
    r = run("prove", proven, "--account", "alice", "--out", out)
    assert r.exit_code == 0, r.output
    return json.loads(out.read_text())


def batch_doc(snap: Path, bucket: int, j: int) -> dict:
    return json.loads(batch_proof_path(snap, bucket, j).read_text())


def margin_factors(snap_dir: Path) -> tuple[list[int], list[int]]:
    m = load_snapshot(snap_dir / "snapshot.json").config.margin
    return list(m.f_eq), list(m.f_debt)


# ================================================================== the good path

def test_cli_setup_names_the_margin_circuit(msetup: Path, tmp_path: Path) -> None:
    r = run("zk", "setup", tmp_path / "s", "--margin", "--assets", ASSETS, "--batch-height", K,
            "--entropy", ENTROPY, "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["circuit"] == "BatchMargin" and doc["assets"] == ASSETS and doc["batch_height"] == K
    assert doc["testing_only"] is True
    # deterministic from the entropy: the same key as the module's library-made setup
    made = load_setup(msetup)
    assert made.circuit == BATCH_MARGIN and str(made.circuit) == "BatchMargin"
    assert made.params.vkey.n_public == 1 + 4 * ASSETS
    assert doc["vkey_digest"] == made.params.digest.hex()
    assert json.loads((tmp_path / "s" / "setup.json").read_text())["circuit"] == "BatchMargin"
    r = run("zk", "setup", tmp_path / "s2", "--margin", "--assets", ASSETS, "--batch-height", K, "--entropy", ENTROPY)
    assert r.exit_code == 0 and "BatchMargin(1, 2)" in flat(r.output) and "TESTING ONLY" in flat(r.output)


def test_snapshot_is_a_version_2_zk_snapshot(proven: Path, msetup: Path) -> None:
    doc = json.loads((proven / "snapshot.json").read_text())
    assert doc["version"] == 2 and doc["mode"] == "zk" and "margin" in doc["metadata"]
    assert set(doc) == {"format", "version", "mode", "metadata", "root", "top_height", "buckets", "equity", "debt",
                        "requirement", "zk"}
    assert doc["zk"]["batch_height"] == K and doc["zk"]["verification_key"]["nPublic"] == 1 + 4 * ASSETS
    params = ZkParams.from_dict(doc["zk"], ASSETS, file="snapshot.json", circuit=BATCH_MARGIN)
    assert params.digest == load_setup(msetup).params.digest and params.circuit == BATCH_MARGIN
    assert [(b["id"], b["height"]) for b in doc["buckets"]] == [("main", 3), ("seg-1", 2)]
    # the published equity, debt and requirement are the public-mode vectors' (only the root differs)
    public = json.loads((MV / "expected-snapshot.json").read_text())
    for key in ("equity", "debt", "requirement"):
        assert doc[key] == public[key]
    assert doc["root"] != public["root"]
    assert doc["debt"] == {"BTC": "25000000", "USDT": "10000000000"}
    # one version 2 batch proof per batch, equity and debt separately, adding up to the bucket totals
    files = sorted(p.relative_to(proven).as_posix() for p in (proven / "zk").glob("*/*.json"))
    assert files == [f"zk/{b}/{j}.json" for b, j in BATCHES]
    for bi, bucket in enumerate(doc["buckets"]):
        docs = [batch_doc(proven, bi, j) for j in range(1 << (bucket["height"] - K))]
        for j, d in enumerate(docs):
            assert set(d) == {"format", "version", "snapshot_root", "bucket", "batch", "root", "equity", "debt",
                              "proof"}
            assert (d["format"], d["version"], d["snapshot_root"], d["bucket"], d["batch"]) == \
                ("por-zk-batch-proof", 2, doc["root"], bucket["id"], j)
        for key in ("equity", "debt"):
            for s in ("BTC", "USDT"):
                assert sum(int(d[key][s]) for d in docs) == int(bucket[key][s])


def test_zk_verify_passes(proven: Path) -> None:
    r = run("zk", "verify", proven, "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["valid"] is True and doc["margin"] is True and doc["failures"] == []
    assert [(b["bucket"], b["batches"], b["ok"]) for b in doc["buckets"]] == [("main", 4, True), ("seg-1", 2, True)]
    assert doc["batch_height"] == K and doc["root"] == json.loads((proven / "snapshot.json").read_text())["root"]


def test_inclusion_proof_verifies_with_margin_batch(proven: Path, alice_proof: dict, tmp_path: Path) -> None:
    doc = alice_proof
    assert (doc["version"], doc["mode"]) == (2, "zk")
    assert set(doc["snapshot"]) == {"metadata", "root", "zk"}
    assert doc["snapshot"]["zk"] == json.loads((proven / "snapshot.json").read_text())["zk"]
    (entry,) = doc["entries"]
    assert entry["bucket"] == "main" and "balances" not in entry
    assert entry["equity"] == {"BTC": "50000000", "USDT": "0"} and entry["debt"] == {"BTC": "0", "USDT": "10000000000"}
    assert set(entry["batch"]) == {"path", "equity", "debt", "proof"}
    assert len(entry["batch"]["path"]) == K and len(entry["path"]) == entry["height"] - K
    assert all(set(node) == {"hash", "equity", "debt"} for node in entry["path"])
    j = entry["index"] >> K
    published = batch_doc(proven, MAIN, j)
    assert (entry["batch"]["equity"], entry["batch"]["debt"], entry["batch"]["proof"]) == \
        (published["equity"], published["debt"], published["proof"])
    path = tmp_path / "alice.json"
    path.write_text(json.dumps(doc))
    r = run("verify", path, "--snapshot", proven / "snapshot.json", "--account", "alice",
            "--expect", "USDT=-10000", "--expect", "BTC=0.5", "--expect", "main:USDT=-10000",
            "--expect", "seg-1:BTC=0", "--json")
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout)["results"][0]
    (e,) = res["entries"]
    assert e["net"] == {"BTC": "0.5", "USDT": "-10000"} and e["debt"] == {"BTC": "0", "USDT": "10000"}
    # 0.5 BTC * 97123.45 * (1 - 0.05) - 10000 USDT
    assert e["collateral_value"] == "36133.63875"
    assert any("Groth16" in c and "collateral value >= 0" in c for c in res["checks"]), res["checks"]
    # only the root (no snapshot.json): the key travels in the proof, bound by the root; human output
    r = run("verify", path, "--root", doc["snapshot"]["root"])
    assert r.exit_code == 0, r.output
    text = flat(r.output)
    assert "VALID" in text and "collateral value after haircuts is 36133.63875" in text
    # expectations compare the net: the debt is not a holding of +10000
    r = run("verify", path, "--snapshot", proven / "snapshot.json", "--expect", "USDT=10000")
    assert r.exit_code == 1 and "USDT" in flat(r.output)


def test_audit_passes(proven: Path) -> None:
    r = run("audit", "--config", CONFIG, "--ledger", LEDGER, "--secret", SECRET_KEY, "--snapshot",
            proven / "snapshot.json", "--json")
    assert r.exit_code == 0, r.output
    checks = {c["name"]: c for c in json.loads(r.stdout)["checks"]}
    assert checks["zk batch proofs"]["ok"] and all(c["ok"] for c in checks.values())


def test_build_and_proofs_are_deterministic(proven: Path, msetup: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    r = run("build", "--config", CONFIG, "--ledger", LEDGER, "--out", again, "--secret", SECRET_KEY, "--zk", msetup)
    assert r.exit_code == 0, r.output
    assert (again / "snapshot.json").read_bytes() == (proven / "snapshot.json").read_bytes()
    r = run("zk", "prove", again, "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["proved"] == 6, r.output
    for b, j in BATCHES:
        assert batch_proof_path(again, b, j).read_bytes() == batch_proof_path(proven, b, j).read_bytes(), (b, j)
    # resuming: a missing proof and a version 1 document are re-proved (identically), the others kept
    batch_proof_path(again, MAIN, 2).unlink()
    _edit_batch(again, SEG, 0, _to_version_1)
    r = run("zk", "prove", again, "--json")
    assert r.exit_code == 0, r.output
    assert (json.loads(r.stdout)["proved"], json.loads(r.stdout)["skipped"]) == (2, 4)
    for b, j in ((MAIN, 2), (SEG, 0)):
        assert batch_proof_path(again, b, j).read_bytes() == batch_proof_path(proven, b, j).read_bytes(), (b, j)


# ================================================================== setups that do not fit

def test_mismatched_setups_are_bad_input(proven: Path, msetup: Path, psetup: Path, tmp_path: Path) -> None:
    # a margin config with a plain Batch(2, 2) setup (right asset count, wrong circuit)
    assert load_setup(psetup).circuit == BATCH
    r = run("build", "--config", CONFIG, "--ledger", LEDGER, "--out", tmp_path / "a", "--secret", SECRET_KEY,
            "--zk", psetup, "--json")
    assert r.exit_code == 2, r.output
    err = json.loads(r.stdout)
    assert err["field"] == "circuit" and "--margin" in err["reason"], err
    assert not (tmp_path / "a").exists()
    # a config without [prices] (2 assets) with the BatchMargin(1, 2) setup
    zk_vec = VECTORS / "zk" / "mode"
    r = run("build", "--config", zk_vec / "snapshot.toml", "--ledger", zk_vec / "ledger.csv", "--out", tmp_path / "b",
            "--secret", SECRET_KEY, "--zk", msetup, "--json")
    assert r.exit_code == 2, r.output
    err = json.loads(r.stdout)
    assert err["field"] == "circuit" and "BatchMargin" in err["reason"], err
    assert not (tmp_path / "b").exists()
    # the human message names the circuit too
    r = run("build", "--config", CONFIG, "--ledger", LEDGER, "--out", tmp_path / "c", "--zk", psetup)
    assert r.exit_code == 2 and "Batch setup" in flat(r.output) and "--margin" in flat(r.output)
    # proving a margin snapshot with the plain setup
    snap = copy_snapshot(proven, tmp_path / "snap")
    r = run("zk", "prove", snap, "--setup", psetup, "--force")
    assert r.exit_code == 2, r.output
    # BatchMargin takes at most 7 assets (circomlib's Poseidon: 2 + 2A <= 16 inputs)
    r = run("zk", "setup", tmp_path / "s8", "--margin", "--assets", 8, "--batch-height", K, "--entropy", ENTROPY,
            "--json")
    assert r.exit_code == 2, r.output
    err = json.loads(r.stdout)
    assert err["field"] == "assets" and "1..7" in err["reason"]
    assert not (tmp_path / "s8").exists()


# ================================================================== the per-account rule

def _value_rule() -> str:
    """circom's witness error at the BatchMargin value check (`valueRange.in <== diff;`, SPEC.md §17.25)."""
    source = Path(__file__).resolve().parents[1] / "circuits" / "batch_margin.circom"
    lines = source.read_text().splitlines()
    (line,) = [i for i, text in enumerate(lines, 1) if text.strip() == "valueRange.in <== diff;"]
    return rf"Error in template MarginLeaf_\d+ line: {line}\b"


VALUE_RULE = _value_rule()
GHOST_LEDGER = LEDGER.read_text().rstrip("\n") + "\nghost,main,-3,0\n"  # debt-only: owes 3 BTC, holds nothing


def test_debt_only_account_is_rejected_at_build(msetup: Path, tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.csv"
    ledger.write_text(GHOST_LEDGER)
    assert GHOST_LEDGER.splitlines()[7] == "ghost,main,-3,0"  # line 8 of the file
    r = run("build", "--config", CONFIG, "--ledger", ledger, "--out", tmp_path / "snap", "--secret", SECRET_KEY,
            "--zk", msetup, "--json")
    assert r.exit_code == 2, r.output
    err = json.loads(r.stdout)
    assert err["line"] == 8 and err["field"] == "main/ghost" and "undercollateralised" in err["reason"], err
    assert not (tmp_path / "snap").exists()
    r = run("build", "--config", CONFIG, "--ledger", ledger, "--out", tmp_path / "snap", "--secret", SECRET_KEY,
            "--zk", msetup)
    assert r.exit_code == 2 and "ledger.csv:8" in flat(r.output)


def test_undercollateralised_account_has_no_batch_proof(msetup: Path, tmp_path: Path) -> None:
    """A prover that skips the per-account rule cannot prove the ghost's batch: `por` refuses it before
    proving, and the circuit itself has no witness for it."""
    ledger = tmp_path / "ledger.csv"
    ledger.write_text(GHOST_LEDGER)
    out = tmp_path / "snap"
    build_snapshot(CONFIG, ledger, out, secret=SECRET, zk_setup=msetup, _unsafe_skip_account_rule=True)
    snap = load_snapshot(out / "snapshot.json")  # the published totals still pass the reader's checks
    assert snap.zk is not None and snap.zk.circuit == BATCH_MARGIN
    store = Store(out / "store.sqlite")
    try:
        ((bucket, pos, _salt),) = store.account_leaves("ghost")
        assert bucket == MAIN
        j = pos >> K
        leaves = batch_leaves(store, MAIN, j, K, 2 * ASSETS)
        other = next(b for b in range(1 << (snap.buckets[MAIN].height - K)) if b != j)
        good = batch_leaves(store, MAIN, other, K, 2 * ASSETS)
    finally:
        store.close()
    f_eq, f_debt = snap.config.margin.f_eq, snap.config.margin.f_debt
    ghost = leaves[pos & 1]
    assert ghost.account != 0 and BATCH_MARGIN.split_values(ghost.values) == ((0, 0), (300_000_000, 0))
    assert margin_value_base(ghost, f_eq, f_debt) < 0
    # `por zk prove` refuses before any node process runs, naming bucket, batch and leaf
    with pytest.raises(BadInput) as info:
        prove_snapshot(out)
    reason = info.value.reason
    assert "'main'" in reason and f"batch {j}" in reason and f"leaf {pos}" in reason and "collateral" in reason, reason
    # the circuit itself (no Python pre-check): an honest batch proves, the ghost's batch has no witness,
    # failing at the per-leaf value range check (named by its position in the call)
    setup = load_setup(msetup).circuit_setup()
    stream = prover.prove_batches(setup, [(good, bytes(32)), (leaves, bytes([1]) * 32)], factors=(f_eq, f_debt))
    first = next(stream)
    assert first.root == zb.batch_root(good) and first.factors == (tuple(f_eq), tuple(f_debt))
    with pytest.raises(zt.WitnessError, match=r"batch 1\b") as werr:
        next(stream)
    assert re.search(VALUE_RULE, str(werr.value)), werr.value
    # nothing proven: zk verify reports the ghost's batch (and every other) missing
    r = run("zk", "verify", out, "--json")
    assert r.exit_code == 1, r.output
    failures = json.loads(r.stdout)["failures"]
    assert any(f.startswith(f"bucket main, batch {j} ") and "proof missing" in f for f in failures), failures


def test_tiered_rule_is_enforced_at_build_and_audit_not_in_the_circuit(msetup: Path, tmp_path: Path) -> None:
    """§17.25: the circuit checks the base haircut only. 20 BTC against 1.8M USDT of debt has a positive
    base value (20 * 97123.45 * 0.95 - 1800000 = 45345.55) but a negative tiered one (10 BTC at 5 %, 10 at
    20 %: -100339.625): its batch proves, and the build, the user's own check and the audit refuse it."""
    ledger = tmp_path / "ledger.csv"
    ledger.write_text("account_id,bucket,BTC,USDT\nwhale,main,20,-1800000\nfund-client,seg-1,2,12.845678\n")
    r = run("build", "--config", CONFIG, "--ledger", ledger, "--out", tmp_path / "honest", "--secret", SECRET_KEY,
            "--zk", msetup, "--json")
    assert r.exit_code == 2, r.output
    err = json.loads(r.stdout)
    assert (err["line"], err["field"]) == (2, "main/whale") and "shortfall 100339.625" in err["reason"], err
    out = tmp_path / "snap"
    build_snapshot(CONFIG, ledger, out, secret=SECRET, zk_setup=msetup, _unsafe_skip_account_rule=True)
    res = prove_snapshot(out)  # value_base >= 0 for every leaf: the circuit has a witness
    assert res.proved == res.batches == 2
    r = run("zk", "verify", out, "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["valid"], r.output
    r = run("prove", out, "--account", "whale", "--out", tmp_path / "whale.json")
    assert r.exit_code == 0, r.output
    r = run("verify", tmp_path / "whale.json", "--snapshot", out / "snapshot.json")
    text = flat(r.output)
    assert r.exit_code == 1 and "own leaf" in text and "tiered" in text and "-100339.625" in text, text
    r = run("audit", "--config", CONFIG, "--ledger", ledger, "--secret", SECRET_KEY, "--snapshot",
            out / "snapshot.json", "--json")
    assert r.exit_code == 2, r.output  # the audit rebuild applies the rule (§17.12: exit 2 naming the line)
    err = json.loads(r.stdout)
    assert (err["line"], err["field"]) == (2, "main/whale") and "undercollateralised" in err["reason"], err


# ================================================================== factors come from the snapshot

def test_factors_are_the_snapshots(proven: Path) -> None:
    snap = load_snapshot(proven / "snapshot.json")
    params = snap.zk
    f_eq, f_debt = list(snap.config.margin.f_eq), list(snap.config.margin.f_debt)
    assert params.circuit == BATCH_MARGIN and all(0 < f < 1 << 64 for f in f_eq + f_debt)
    path = batch_proof_path(proven, MAIN, 2)  # alice's batch: a USDT debt
    doc = parse_batch_proof(json.loads(path.read_text()), snap.scheme.values, file=str(path))
    verify_batch(params, doc.proof, doc.root, doc.sums, (f_eq, f_debt))  # the snapshot's own factors: valid
    laxer_eq = [f_eq[0] + 1, f_eq[1]]      # a larger collateral factor for BTC
    laxer_debt = [f_debt[0], f_debt[1] - 1]  # a smaller debt factor for USDT
    with pytest.raises(VerificationFailed):
        verify_batch(params, doc.proof, doc.root, doc.sums, (laxer_eq, f_debt))
    with pytest.raises(VerificationFailed) as info:
        BATCH_MARGIN.verify(params.vkey, doc.proof, doc.root, doc.sums, (f_eq, laxer_debt))
    assert info.value.where == "zk margin batch proof" and str(laxer_debt) in info.value.reason
    # a margin batch is never verified without factors
    with pytest.raises(ValueError):
        verify_batch(params, doc.proof, doc.root, doc.sums)


def test_price_changed_in_snapshot_json_fails(proven: Path, tmp_path: Path) -> None:
    # another BTC price with its consistently re-derived factors: the metadata parses, the root does not match
    cfg = parse_config(tomllib.loads(CONFIG.read_text().replace('BTC = "97123.45"', 'BTC = "97123.46"')))
    snap = copy_snapshot(proven, tmp_path / "snap")
    doc = json.loads((snap / "snapshot.json").read_text())
    assert doc["metadata"]["margin"] != cfg.to_dict()["margin"]
    doc["metadata"]["margin"] = cfg.to_dict()["margin"]
    (snap / "snapshot.json").write_text(json.dumps(doc))
    r = run("zk", "verify", snap)
    assert r.exit_code == 1, r.output
    assert "root" in flat(r.output)
    # the price alone (stale factors): the metadata itself is malformed
    doc = json.loads((proven / "snapshot.json").read_text())
    btc = next(a for a in doc["metadata"]["margin"]["assets"] if a["symbol"] == "BTC")
    btc["price"] = "97123.46"
    (snap / "snapshot.json").write_text(json.dumps(doc))
    r = run("zk", "verify", snap, "--json")
    assert r.exit_code == 2, r.output
    assert "margin" in json.loads(r.stdout)["field"]


# ================================================================== batch proofs tampered

def _edit_batch(snap: Path, bucket: int, j: int, edit) -> None:
    path = batch_proof_path(snap, bucket, j)
    doc = json.loads(path.read_text())
    edit(doc)
    path.write_text(json.dumps(doc))


def _to_version_1(d: dict) -> None:
    d["sums"] = d.pop("equity")
    del d["debt"]
    d["version"] = 1


def test_tampered_batch_proofs_fail_zk_verify(proven: Path, tmp_path: Path) -> None:
    """Six batches, six tamperings at once: `por zk verify` collects a failure per batch, each named."""
    assert batch_doc(proven, MAIN, 3)["debt"]["BTC"] == "25000000"  # bob's debt (layout of the fixed secret)
    snap = copy_snapshot(proven, tmp_path / "snap")
    # a lower equity sum (hides a liability)
    _edit_batch(snap, MAIN, 0, lambda d: d["equity"].update(BTC=str(int(d["equity"]["BTC"]) - 1)))
    # a higher debt sum (lowers the requirement)
    _edit_batch(snap, MAIN, 3, lambda d: d["debt"].update(BTC=str(int(d["debt"]["BTC"]) + 1)))
    # a deleted proof
    batch_proof_path(snap, MAIN, 2).unlink()
    # the proof file of another batch
    shutil.copyfile(batch_proof_path(proven, SEG, 1), batch_proof_path(snap, MAIN, 1))
    # a version 1 document (sums) in a margin snapshot, and version 1 with equity and debt
    _edit_batch(snap, SEG, 0, _to_version_1)
    _edit_batch(snap, SEG, 1, lambda d: d.update(version=1))
    r = run("zk", "verify", snap, "--json")
    assert r.exit_code == 1, r.output
    doc = json.loads(r.stdout)
    assert doc["valid"] is False and not any(b["ok"] for b in doc["buckets"])
    failures = doc["failures"]

    def failure(bucket: str, j: int) -> str:
        (f,) = [f for f in failures if f.startswith(f"bucket {bucket}, batch {j} (")]
        return f

    assert "Groth16 proof does not verify" in failure("main", 0)
    assert "Groth16 proof does not verify" in failure("main", 3)
    assert "proof missing" in failure("main", 2)
    assert "bucket 'seg-1', batch 1" in failure("main", 1)
    assert "malformed" in failure("seg-1", 0) and str(Path("zk") / "1" / "0.json") in failure("seg-1", 0)
    assert "malformed" in failure("seg-1", 1) and "unsupported version 1" in failure("seg-1", 1)
    assert len(failures) == 6, failures
    # the human output names them too
    r = run("zk", "verify", snap)
    assert r.exit_code == 1
    text = flat(r.output)
    for bucket, j in (("main", 0), ("main", 1), ("main", 2), ("main", 3), ("seg-1", 0), ("seg-1", 1)):
        assert f"bucket {bucket}, batch {j}" in text


def test_consistently_swapped_batches_do_not_add_up(proven: Path, tmp_path: Path) -> None:
    """Two valid proofs swapped and renamed: each verifies, the SHA-256 tree above them does not."""
    snap = copy_snapshot(proven, tmp_path / "snap")
    for src, dst in ((0, 3), (3, 0)):
        doc = batch_doc(proven, MAIN, src)
        doc["batch"] = dst
        batch_proof_path(snap, MAIN, dst).write_text(json.dumps(doc))
    r = run("zk", "verify", snap, "--json")
    assert r.exit_code == 1, r.output
    (failure,) = json.loads(r.stdout)["failures"]
    assert failure.startswith("bucket main:") and "do not add up" in failure


# ================================================================== inclusion proofs tampered

def _entry(doc: dict) -> dict:
    return doc["entries"][0]


def _bump(obj: dict, key: str, delta: int) -> None:
    obj[key] = str(int(obj[key]) + delta)


MUTATIONS = {
    # alice claims a smaller debt: the leaf, hence the batch root, changes -> the Groth16 check fails
    "own debt": (lambda d: _bump(_entry(d)["debt"], "USDT", -1_000_000_000), "entries[0] (bucket main), batch"),
    "batch equity": (lambda d: _bump(_entry(d)["batch"]["equity"], "BTC", -1), "entries[0] (bucket main), batch"),
    "batch debt": (lambda d: _bump(_entry(d)["batch"]["debt"], "USDT", 1), "entries[0] (bucket main), batch"),
    "poseidon sibling": (lambda d: _entry(d)["batch"]["path"].__setitem__(0, "1"), "entries[0] (bucket main), batch"),
    # a SHA-256 sibling above the batch with another debt: the bucket root changes
    "sibling debt": (lambda d: _bump(_entry(d)["path"][0]["debt"], "BTC", 1), "bucket root"),
}


@pytest.mark.parametrize("what", sorted(MUTATIONS))
def test_tampered_inclusion_proof_fails(proven: Path, alice_proof: dict, tmp_path: Path, what: str) -> None:
    edit, expect = MUTATIONS[what]
    doc = copy.deepcopy(alice_proof)
    edit(doc)
    path = tmp_path / "p.json"
    path.write_text(json.dumps(doc))
    r = run("verify", path, "--snapshot", proven / "snapshot.json", "--json")
    assert r.exit_code == 1, (what, r.output)
    reason = json.loads(r.stdout)["results"][0]["reason"]
    assert expect in reason, reason


def _verify_code(doc: dict, tmp_path: Path, *trust: object) -> tuple[int, str]:
    path = tmp_path / "p.json"
    path.write_text(json.dumps(doc))
    r = run("verify", path, *trust)
    return r.exit_code, flat(r.output)


def test_version_1_batch_object_is_refused(proven: Path, alice_proof: dict, tmp_path: Path) -> None:
    trust = ("--snapshot", proven / "snapshot.json")
    # the whole proof in version 1 shape (`sums`, version 1) against margin metadata: bad input
    doc = copy.deepcopy(alice_proof)
    batch = _entry(doc)["batch"]
    batch["sums"] = batch.pop("equity")
    del batch["debt"]
    doc["version"] = 1
    code, out = _verify_code(doc, tmp_path, *trust)
    assert code == 2 and "version 1 does not match" in out, out


def test_malformed_batch_object_or_key_is_an_invalid_proof(proven: Path, alice_proof: dict, tmp_path: Path) -> None:
    """A proof of the right version that is malformed inside is invalid (SPEC.md §8: exit 1), naming the field."""
    trust = ("--snapshot", proven / "snapshot.json")
    doc = copy.deepcopy(alice_proof)
    batch = _entry(doc)["batch"]
    batch["sums"] = batch.pop("equity")  # a version 1 batch object in a version 2 proof
    del batch["debt"]
    code, out = _verify_code(doc, tmp_path, *trust)
    assert code == 1 and "malformed proof" in out and "entries[0].batch" in out and "sums" in out, out
    doc = copy.deepcopy(alice_proof)
    doc["snapshot"]["zk"]["verification_key"]["nPublic"] = 5  # inconsistent with its 10 IC points
    code, out = _verify_code(doc, tmp_path, *trust)
    assert code == 1 and "malformed proof" in out and "snapshot.zk.verification_key.nPublic" in out, out


# ================================================================== a Batch(k, 2A) key does not substitute

@pytest.fixture(scope="module")
def p4setup(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A plain Batch(1, 4) setup: leaves of 4 balances hash exactly like margin leaves of 2 assets (E ‖ D)."""
    return _setup(tmp_path_factory, "zkp4setup", assets=2 * ASSETS, margin=False)


@pytest.mark.slow  # a Batch(1, 4) setup needs its own 2^11 phase 1 (minutes cold); ZkParams.from_dict's key-size check
def test_plain_batch_key_over_the_same_leaves_does_not_substitute(proven: Path, alice_proof: dict, p4setup: Path,
                                                                  tmp_path: Path) -> None:
    """The attack of §17.26: prove alice's batch with Batch(1, 4) (range and sums, not the collateral rule).
    It is a valid proof of the very same batch root, yet no verifier accepts it for a margin snapshot."""
    entry = _entry(alice_proof)
    j = entry["index"] >> K
    store = Store(proven / "store.sqlite")
    try:
        mleaves = batch_leaves(store, MAIN, j, K, 2 * ASSETS)
    finally:
        store.close()
    plain = [zb.BatchLeaf(lf.account, lf.salt, lf.values) for lf in mleaves]  # E ‖ D as 2A plain balances
    root = zb.batch_root(mleaves)
    assert zb.batch_root(plain) == root  # the same Poseidon root: only the key tells the circuits apart
    p4 = load_setup(p4setup)
    assert p4.params.vkey.n_public == 1 + 2 * ASSETS
    (proved,) = list(prover.prove_batches(p4.circuit_setup(), [(plain, bytes(32))]))
    assert proved.root == root
    sums = list(proved.sums)
    BATCH.verify(p4.params.vkey, proved.proof, root, sums)  # valid under its own key
    snap = load_snapshot(proven / "snapshot.json")
    f_eq, f_debt = snap.config.margin.f_eq, snap.config.margin.f_debt
    with pytest.raises(VerificationFailed):  # and not under the snapshot's BatchMargin key
        BATCH_MARGIN.verify(snap.zk.vkey, proved.proof, root, sums, (f_eq, f_debt))
    # the inclusion proof carrying the Batch(1, 4) key and proof: the key has 5 public signals, not 9
    doc = copy.deepcopy(alice_proof)
    doc["snapshot"]["zk"]["verification_key"] = p4.params.vkey.to_json()
    _entry(doc)["batch"]["proof"] = proved.proof.to_json()
    with pytest.raises(BadInput, match="5 public signals"):
        ZkParams.from_dict(doc["snapshot"]["zk"], ASSETS, file="p.json", circuit=BATCH_MARGIN)
    for trust in (("--snapshot", proven / "snapshot.json"), ("--root", alice_proof["snapshot"]["root"])):
        code, out = _verify_code(doc, tmp_path, *trust)
        # inside a proof document: malformed, hence invalid (SPEC.md §8), naming the field and both counts
        assert code == 1 and "snapshot.zk.verification_key.nPublic" in out, out
        assert "key has 5 public signals; a margin batch of 2 assets has 9" in out, out
    # a snapshot.json publishing the plain key is bad input (§17.26), for `por zk verify` and `por verify`
    bad = copy_snapshot(proven, tmp_path / "bad")
    sdoc = json.loads((bad / "snapshot.json").read_text())
    sdoc["zk"]["verification_key"] = p4.params.vkey.to_json()
    (bad / "snapshot.json").write_text(json.dumps(sdoc))
    r = run("zk", "verify", bad, "--json")
    assert r.exit_code == 2, r.output
    err = json.loads(r.stdout)
    assert err["field"] == "zk.verification_key.nPublic" and "5 public signals" in err["reason"], err
    code, out = _verify_code(doc, tmp_path, "--snapshot", bad / "snapshot.json")
    assert code == 2 and "5 public signals" in out, out
    # a snapshot bound to the plain key is refused at build (wrong circuit / asset count)
    r = run("build", "--config", CONFIG, "--ledger", LEDGER, "--out", tmp_path / "x", "--zk", p4setup)
    assert r.exit_code == 2, r.output
    # and the ZkParams of a margin snapshot refuse any 1 + 2A key; a plain reader refuses the margin key
    vk_doc = json.loads((proven / "snapshot.json").read_text())["zk"]
    with pytest.raises(BadInput, match="public signals"):
        ZkParams.from_dict(vk_doc, 2 * ASSETS, file="snapshot.json", circuit=BATCH)
    parse_verifying_key(vk_doc["verification_key"])  # (well-formed: only the signal count is wrong)
