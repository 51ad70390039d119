"""zk tree mode end to end (SPEC.md §16.10-§16.14): `por zk setup`, `por build --zk`, `por zk prove`,
`por zk verify`, zk inclusion proofs in `por prove`/`por verify`, and `por audit`.

One module-scoped Batch(2, 2) setup (local, testing only; the phase-1 file and compiled circuit are
shared with tests/test_zk.py through the zk cache) and one proven snapshot; tests that tamper work on
copies. Every Groth16 check here runs in py_ecc (about 1 s each), so the tampering cases are chosen,
not exhaustive over bytes (tests/test_zk.py flips every proof element).
"""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from por.cli.app import app
from por.core.errors import BadInput, ServiceUnavailable
from por.zk import batch as zb
from por.zk.setup import ZkParams, load_setup
from por.modes.zk import batch_proof_path
from .conftest import flat

ENTROPY = "por/v1 zk test vectors"  # as tests/test_zk.py: reuses its cached phase 1 and phase 2
SECRET_HEX = "00" * 31 + "07"

CONFIG = """snapshot_id = "zk-2026-11-23"
as_of = "2026-11-23T00:00:00Z"

[assets]
BTC = 8
USDT = 6

[buckets.cross]
kind = "cross-margin"

[buckets.vault]
kind = "custody"
"""

LEDGER = """account_id,bucket,BTC,USDT
alice,cross,0.5,1000
bob,cross,0,0.5
carol,cross,1.25,250000
dave,cross,0.00000001,0
erin,cross,3,7
alice,vault,2,0
frank,vault,0,12.5
"""



def run(*args: object):
    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def zk_setup(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from por.zk.setup import create_setup

    out = tmp_path_factory.mktemp("zksetup") / "setup"
    try:
        create_setup(out, batch_height=2, assets=2, entropy=ENTROPY)
    except ServiceUnavailable as exc:
        pytest.fail(f"zk toolchain missing: {exc}", pytrace=False)
    return out


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    base = tmp_path_factory.mktemp("zkinputs")
    (base / "snapshot.toml").write_text(CONFIG)
    (base / "ledger.csv").write_text(LEDGER)
    (base / "secret.key").write_text(SECRET_HEX)
    (base / "secret.key").chmod(0o600)
    return base / "snapshot.toml", base / "ledger.csv", base / "secret.key"


@pytest.fixture(scope="module")
def proven(tmp_path_factory: pytest.TempPathFactory, zk_setup: Path, inputs) -> Path:
    """A zk-mode snapshot built with the fixed secret, every batch proven (read-only for tests)."""
    cfg, ledger, secret = inputs
    out = tmp_path_factory.mktemp("zkbuilt") / "snap"
    r = run("build", "--config", cfg, "--ledger", ledger, "--out", out, "--secret", secret, "--zk", zk_setup)
    assert r.exit_code == 0, r.output
    r = run("zk", "prove", out, "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    # cross: 5 accounts -> height 4 -> 4 batches of 4 leaves; vault: 2 accounts -> height 2 -> 1 batch
    assert doc["proved"] == doc["batches"] == 5 and doc["testing_only"] is True
    return out


@pytest.fixture(scope="module")
def alice_proof(proven: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("alice") / "alice.json"
    r = run("prove", proven, "--account", "alice", "--out", out)
    assert r.exit_code == 0, r.output
    return json.loads(out.read_text())


def copy_snapshot(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


# ------------------------------------------------------------------ the good path

def test_snapshot_binds_batch_height_and_key(proven: Path, zk_setup: Path) -> None:
    doc = json.loads((proven / "snapshot.json").read_text())
    assert doc["mode"] == "zk" and doc["zk"]["batch_height"] == 2
    setup = load_setup(zk_setup)
    params = ZkParams.from_dict(doc["zk"], 2, file="snapshot.json")
    assert params.digest == setup.params.digest
    assert all(b["height"] >= 2 for b in doc["buckets"])
    assert doc["totals"] == {"BTC": "675000001", "USDT": "251020000000"}


def test_zk_verify_passes_and_reports(proven: Path) -> None:
    r = run("zk", "verify", proven, "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["valid"] and not doc["failures"]
    assert [b["bucket"] for b in doc["buckets"]] == ["cross", "vault"]


def test_inclusion_proof_verifies_with_batch_proof(proven: Path, alice_proof: dict, tmp_path: Path) -> None:
    path = tmp_path / "alice.json"
    path.write_text(json.dumps(alice_proof))
    r = run("verify", path, "--snapshot", proven / "snapshot.json", "--account", "alice",
            "--expect", "BTC=2.5", "--expect", "cross:USDT=1000", "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert any("Groth16" in c for c in doc["results"][0]["checks"])
    entry = alice_proof["entries"][0]
    assert len(entry["batch"]["path"]) == 2 and len(entry["path"]) == entry["height"] - 2
    # with only the root (no snapshot.json): the key travels in the proof, bound by the root
    r = run("verify", path, "--root", alice_proof["snapshot"]["root"])
    assert r.exit_code == 0, r.output


def test_build_and_proofs_are_deterministic(proven: Path, zk_setup: Path, inputs, tmp_path: Path) -> None:
    cfg, ledger, secret = inputs
    again = tmp_path / "again"
    assert run("build", "--config", cfg, "--ledger", ledger, "--out", again, "--secret", secret,
               "--zk", zk_setup).exit_code == 0
    assert (again / "snapshot.json").read_bytes() == (proven / "snapshot.json").read_bytes()
    assert run("zk", "prove", again).exit_code == 0
    files = sorted(p.relative_to(proven) for p in (proven / "zk").glob("*/*.json"))
    assert len(files) == 5
    for rel in files:
        assert (again / rel).read_bytes() == (proven / rel).read_bytes(), rel


def test_prove_resumes_and_force_reproves(proven: Path, tmp_path: Path) -> None:
    snap = copy_snapshot(proven, tmp_path / "snap")
    batch_proof_path(snap, 0, 1).unlink()
    r = run("zk", "prove", snap, "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert (doc["proved"], doc["skipped"]) == (1, doc["batches"] - 1)
    assert batch_proof_path(snap, 0, 1).read_bytes() == batch_proof_path(proven, 0, 1).read_bytes()


def test_audit_checks_batch_proofs(proven: Path, inputs, tmp_path: Path) -> None:
    cfg, ledger, secret = inputs
    r = run("audit", "--config", cfg, "--ledger", ledger, "--secret", secret, "--snapshot",
            proven / "snapshot.json", "--json")
    assert r.exit_code == 0, r.output
    checks = {c["name"]: c for c in json.loads(r.stdout)["checks"]}
    assert checks["zk batch proofs"]["ok"]
    snap = copy_snapshot(proven, tmp_path / "snap")
    doc = json.loads(batch_proof_path(snap, 1, 0).read_text())
    doc["sums"]["BTC"] = str(int(doc["sums"]["BTC"]) - 1)
    batch_proof_path(snap, 1, 0).write_text(json.dumps(doc))
    r = run("audit", "--config", cfg, "--ledger", ledger, "--secret", secret, "--snapshot",
            snap / "snapshot.json", "--json")
    assert r.exit_code == 1
    checks = {c["name"]: c for c in json.loads(r.stdout)["checks"]}
    assert not checks["zk batch proofs"]["ok"] and "vault" in checks["zk batch proofs"]["detail"]


# ------------------------------------------------------------------ batch proofs tampered

def _tamper_batch(snap: Path, bucket: int, j: int, edit) -> None:
    path = batch_proof_path(snap, bucket, j)
    doc = json.loads(path.read_text())
    edit(doc)
    path.write_text(json.dumps(doc))


@pytest.mark.parametrize("label, bucket, edit, expect", [
    ("lower sum (hide a liability)", 0, lambda d: d["sums"].update(BTC=str(int(d["sums"]["BTC"]) - 1)), "batch 0"),
    ("other root", 0, lambda d: d.update(root=str((int(d["root"]) + 1) % zb.P)), "bucket cross, batch 0"),
    ("proof element", 1, lambda d: d["proof"].update(pi_c=d["proof"]["pi_a"]), "bucket vault, batch 0"),
    ("swapped pi_a/pi_c", 1, lambda d: d["proof"].update(pi_a=d["proof"]["pi_c"], pi_c=d["proof"]["pi_a"]),
     "Groth16"),
    ("wrong batch index", 0, lambda d: d.update(batch=1), "names snapshot"),
])
def test_tampered_batch_proof_fails_zk_verify(proven: Path, tmp_path: Path, label, bucket, edit, expect) -> None:
    snap = copy_snapshot(proven, tmp_path / "snap")
    _tamper_batch(snap, bucket, 0, edit)
    r = run("zk", "verify", snap)
    assert r.exit_code == 1, (label, r.output)
    assert expect in flat(r.output), r.output


def test_missing_and_swapped_batch_proofs_fail(proven: Path, tmp_path: Path) -> None:
    snap = copy_snapshot(proven, tmp_path / "snap")
    batch_proof_path(snap, 0, 1).unlink()
    r = run("zk", "verify", snap, "--json")
    assert r.exit_code == 1 and "proof missing" in r.stdout
    snap2 = copy_snapshot(proven, tmp_path / "snap2")
    a, b = batch_proof_path(snap2, 0, 0), batch_proof_path(snap2, 0, 1)
    da, db = a.read_text(), b.read_text()
    a.write_text(db)
    b.write_text(da)
    r = run("zk", "verify", snap2, "--json")
    assert r.exit_code == 1
    # a consistent swap (documents renamed too) still fails: the tree above the batches changes
    for p, d, j in ((a, db, 0), (b, da, 1)):
        doc = json.loads(d)
        doc["batch"] = j
        p.write_text(json.dumps(doc))
    r = run("zk", "verify", snap2, "--json")
    assert r.exit_code == 1 and "do not add up" in r.stdout


def test_malformed_batch_proof_is_a_failure_naming_the_file(proven: Path, tmp_path: Path) -> None:
    snap = copy_snapshot(proven, tmp_path / "snap")
    batch_proof_path(snap, 1, 0).write_text("{not json")
    r = run("zk", "verify", snap, "--json")
    assert r.exit_code == 1
    assert "malformed" in r.stdout and str(Path("zk") / "1" / "0.json") in r.stdout


# ------------------------------------------------------------------ inclusion proofs tampered

def _entry(doc: dict) -> dict:
    return doc["entries"][0]


MUTATIONS = {
    "balance": lambda d: _entry(d)["balances"].update(BTC="49999999"),
    "salt": lambda d: _entry(d).update(salt="00" * 32),
    "poseidon sibling": lambda d: _entry(d)["batch"]["path"].__setitem__(0, "1"),
    "batch sum": lambda d: _entry(d)["batch"]["sums"].update(USDT=str(int(_entry(d)["batch"]["sums"]["USDT"]) + 1)),
    "proof element": lambda d: _entry(d)["batch"]["proof"].update(pi_a=_entry(d)["batch"]["proof"]["pi_c"]),
    "sha sibling sum": lambda d: _entry(d)["path"][0]["sums"].update(
        BTC=str(int(_entry(d)["path"][0]["sums"]["BTC"]) + 1)),
    "index": lambda d: _entry(d).update(index=_entry(d)["index"] ^ 1),
    "batch height": lambda d: d["snapshot"]["zk"].update(batch_height=1),
    "account": lambda d: d.update(account_id="mallory"),
    "short batch path": lambda d: _entry(d)["batch"]["path"].pop(),
    "field alias": lambda d: _entry(d)["batch"]["path"].__setitem__(
        0, str(int(_entry(d)["batch"]["path"][0]) + zb.P)),
}


@pytest.mark.parametrize("what", sorted(MUTATIONS))
def test_tampered_inclusion_proof_fails(proven: Path, alice_proof: dict, tmp_path: Path, what: str) -> None:
    doc = copy.deepcopy(alice_proof)
    MUTATIONS[what](doc)
    path = tmp_path / "p.json"
    path.write_text(json.dumps(doc))
    r = run("verify", path, "--snapshot", proven / "snapshot.json")
    assert r.exit_code == 1, (what, r.output)


def test_other_verifying_key_is_rejected(proven: Path, alice_proof: dict, tmp_path: Path) -> None:
    """A proof carrying another (valid) key fails: the key's digest is bound in the snapshot root."""
    from por.zk.groth16 import parse_verifying_key

    doc = copy.deepcopy(alice_proof)
    vk = doc["snapshot"]["zk"]["verification_key"]
    vk["IC"][0], vk["IC"][1] = vk["IC"][1], vk["IC"][0]
    parse_verifying_key(vk)  # still a well-formed key
    path = tmp_path / "p.json"
    path.write_text(json.dumps(doc))
    r = run("verify", path, "--root", alice_proof["snapshot"]["root"])
    assert r.exit_code == 1 and "root" in flat(r.output)


def test_zk_proof_against_public_snapshot_fails(alice_proof: dict, built: Path, tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text(json.dumps(alice_proof))
    r = run("verify", path, "--snapshot", built / "snapshot.json")
    assert r.exit_code == 1


# ------------------------------------------------------------------ bad input

def test_snapshot_tampering(proven: Path, tmp_path: Path) -> None:
    from por.snapshot import load_snapshot

    doc = json.loads((proven / "snapshot.json").read_text())
    bad = copy.deepcopy(doc)
    bad["zk"]["batch_height"] = 1
    (tmp_path / "a.json").write_text(json.dumps(bad))
    with pytest.raises(Exception, match="not the root of its own contents"):
        load_snapshot(tmp_path / "a.json")
    bad = copy.deepcopy(doc)
    del bad["zk"]
    (tmp_path / "b.json").write_text(json.dumps(bad))
    with pytest.raises(BadInput, match="zk"):
        load_snapshot(tmp_path / "b.json")
    bad = copy.deepcopy(doc)
    bad["zk"]["verification_key"]["nPublic"] = 4
    (tmp_path / "c.json").write_text(json.dumps(bad))
    with pytest.raises(BadInput, match="verification_key"):
        load_snapshot(tmp_path / "c.json")


def test_bad_inputs_exit_2(proven: Path, zk_setup: Path, inputs, built: Path, tmp_path: Path) -> None:
    cfg, ledger, secret = inputs
    # the example config has 3 assets; this setup is for 2
    from tests.conftest import EXAMPLES

    r = run("build", "--config", EXAMPLES / "snapshot.toml", "--ledger", EXAMPLES / "ledger.csv",
            "--out", tmp_path / "x", "--zk", zk_setup)
    assert r.exit_code == 2 and "2 assets" in flat(r.output)
    r = run("build", "--config", cfg, "--ledger", ledger, "--out", tmp_path / "y", "--zk", zk_setup, "--height", "1")
    assert r.exit_code == 2 and "batch height" in flat(r.output)
    r = run("build", "--config", cfg, "--ledger", ledger, "--out", tmp_path / "z", "--zk", zk_setup, "--hiding")
    assert r.exit_code == 2
    r = run("build", "--config", cfg, "--ledger", ledger, "--out", tmp_path / "w", "--zk", tmp_path)
    assert r.exit_code == 2 and "setup.json" in flat(r.output)
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()
    r = run("zk", "prove", built)
    assert r.exit_code == 2 and "not a zk-mode snapshot" in flat(r.output)
    r = run("zk", "verify", built)
    assert r.exit_code == 2
    r = run("zk", "setup", tmp_path / "s", "--assets", "2")
    assert r.exit_code == 2 and "--entropy" in flat(r.output)
    r = run("zk", "setup", zk_setup, "--assets", "2", "--entropy", "x")
    assert r.exit_code == 2 and "not empty" in flat(r.output)
    r = run("zk", "setup", tmp_path / "s2", "--assets", "15", "--entropy", "x")
    assert r.exit_code == 2


def test_prove_before_zk_prove_is_bad_input(zk_setup: Path, inputs, tmp_path: Path) -> None:
    cfg, ledger, secret = inputs
    out = tmp_path / "snap"
    assert run("build", "--config", cfg, "--ledger", ledger, "--out", out, "--secret", secret,
               "--zk", zk_setup).exit_code == 0
    r = run("prove", out, "--account", "alice")
    assert r.exit_code == 2 and "por zk prove" in flat(r.output)


def test_setup_for_another_key_is_refused(proven: Path, tmp_path: Path, zk_setup: Path) -> None:
    other = tmp_path / "other"
    shutil.copytree(zk_setup, other)
    meta = json.loads((other / "setup.json").read_text())
    vk = json.loads((other / "verification_key.json").read_text())
    vk["IC"][0], vk["IC"][1] = vk["IC"][1], vk["IC"][0]
    (other / "verification_key.json").write_text(json.dumps(vk))
    r = run("zk", "prove", copy_snapshot(proven, tmp_path / "snap"), "--setup", other, "--force")
    assert r.exit_code == 2 and "setup.json" in flat(r.output)  # digest in setup.json no longer matches
    meta["vkey_digest"] = load_setup_digest(other)
    (other / "setup.json").write_text(json.dumps(meta))
    r = run("zk", "prove", tmp_path / "snap", "--setup", other, "--force")
    assert r.exit_code == 2 and "not the one bound in the snapshot" in flat(r.output)


def load_setup_digest(directory: Path) -> str:
    from por.zk.groth16 import load_verifying_key

    return load_verifying_key(directory / "verification_key.json").digest().hex()


def test_demo_zk_story(tmp_path: Path) -> None:
    r = run("demo", "--users", "30", "--no-chain", "--zk", "--workdir", tmp_path / "d", "--json")
    assert r.exit_code == 0, r.output
    steps = {s["name"]: s for s in json.loads(r.stdout)["steps"]}
    zk = {n: s for n, s in steps.items() if "zk" in n}
    assert len(zk) == 7 and all(s["ok"] for s in zk.values())
    assert "no witness" in steps["attack: zk: field-wrapped negative balance"]["detail"]


def test_sharded_zk_build_equals_the_in_memory_build(zk_setup: Path, inputs, tmp_path: Path) -> None:
    """Bucket cross at height 13: two shards of 2^12 leaves (each a whole number of batches), 4 key partitions;
    bucket vault at height 2: one shard, the whole tree."""
    from por.core.config import load_config
    from por.modes.zk import setup_params
    from por.snapshot import build_trees
    from por.snapshot.sharded import build_sharded

    cfg, ledger, _ = inputs
    config = load_config(cfg)
    params = setup_params(config, zk_setup)
    secret = bytes.fromhex(SECRET_HEX.strip())
    heights = [13, 2]
    res = build_sharded(config, ledger, secret, tmp_path / "store.sqlite", mode="zk", zk=params, height=heights,
                        bits=2)
    snap, _, _ = build_trees(config, ledger, secret, height=heights, zk=params)
    assert res.shards == 3 and res.snapshot.to_dict() == snap.to_dict()
