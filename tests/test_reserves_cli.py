"""`por reserves verify`, `por anchor` and `por verify --registry` against a real anvil."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from por.reserves.chain import RpcClient
from por.reserves.attestation import ownership_message
from por.reserves.ethereum import sign_message
from por.snapshot import build_snapshot

from .conftest import SECRET

pytestmark = pytest.mark.chain

CONFIG = """snapshot_id = "chain-2026-11-20"
as_of = "2026-11-20T00:00:00Z"
[assets]
ETH = 9
[buckets.cross]
kind = "cross-margin"
[buckets.fund-7]
kind = "segregated"
"""


def _setup(tmp_path: Path, anvil, fund7: str):
    cfg = tmp_path / "snapshot.toml"
    cfg.write_text(CONFIG)
    ledger = tmp_path / "ledger.csv"
    ledger.write_text(f"account_id,bucket,ETH\nalice,cross,4000\nbob,cross,999.5\ncarol,fund-7,{fund7}\n")
    snap = build_snapshot(cfg, ledger, tmp_path / "snap", secret=SECRET).snapshot
    rpc = RpcClient(anvil.url)
    block = rpc.block_number()
    balance = {a: rpc.get_balance(a, block) for a in anvil.addresses[:4]}
    return snap, block, balance


def _entry(snap, block, key, address, bucket):
    msg = ownership_message(snap.config.snapshot_id, snap.root, "ethereum", address, block)
    return {"chain": "ethereum", "address": address, "bucket": bucket,
            "assets": [{"asset": "ETH", "kind": "native"}], "signature": sign_message(key, msg)}


def _write(tmp_path: Path, snap, block, entries) -> Path:
    p = tmp_path / "reserves.json"
    p.write_text(json.dumps({"format": "por-reserves", "version": 1, "snapshot_id": snap.config.snapshot_id,
                             "root": snap.root.hex(), "chains": {"ethereum": {"block": block}},
                             "addresses": entries}))
    return p


def test_reserves_verify_solvent_insolvent_and_segregation(cli, anvil, tmp_path: Path) -> None:
    snap, block, _ = _setup(tmp_path, anvil, "100")
    k, a = anvil.keys, anvil.addresses
    good = [_entry(snap, block, k[1], a[1], "cross"), _entry(snap, block, k[2], a[2], "fund-7"),
            _entry(snap, block, k[3], a[3], "proprietary")]
    res_file = _write(tmp_path, snap, block, good)
    base = ["reserves", "verify", "--snapshot", tmp_path / "snap" / "snapshot.json", "--reserves", res_file,
            "--rpc", anvil.url]
    r = cli(*base, "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["ok"] and doc["proprietary"]["ETH"]
    r = cli(*base)
    assert "SOLVENT AND SEGREGATED" in r.stdout

    # the proprietary address moved into a client bucket's count twice -> segregation broken
    dup = good + [_entry(snap, block, k[3], a[3], "cross")]
    r = cli(*base[:-3], _write(tmp_path, snap, block, dup), "--rpc", anvil.url, "--json")
    assert r.exit_code == 1 and json.loads(r.stdout)["segregated"] is False

    # a signature by the wrong key
    bad = [_entry(snap, block, k[2], a[1], "cross")] + good[1:]
    r = cli(*base[:-3], _write(tmp_path, snap, block, bad), "--rpc", anvil.url, "--json")
    assert r.exit_code == 1 and json.loads(r.stdout)["failures"]


def test_reserves_insolvent_bucket(cli, anvil, tmp_path: Path) -> None:
    snap, block, balance = _setup(tmp_path, anvil, "1000000")  # fund-7 owes more ETH than any account holds
    k, a = anvil.keys, anvil.addresses
    res_file = _write(tmp_path, snap, block, [_entry(snap, block, k[1], a[1], "cross"),
                                              _entry(snap, block, k[2], a[2], "fund-7")])
    r = cli("reserves", "verify", "--snapshot", tmp_path / "snap" / "snapshot.json", "--reserves", res_file,
            "--rpc", anvil.url, "--json")
    assert r.exit_code == 1
    doc = json.loads(r.stdout)
    short = [c for c in doc["coverage"] if c["covered"] is False]
    assert [(c["bucket"], c["asset"]) for c in short] == [("fund-7", "ETH")]
    assert doc["segregated"] is True


def test_reserves_rpc_unreachable_exit_3(cli, anvil, tmp_path: Path) -> None:
    snap, block, _ = _setup(tmp_path, anvil, "1")
    res_file = _write(tmp_path, snap, block, [_entry(snap, block, anvil.keys[1], anvil.addresses[1], "cross")])
    r = cli("reserves", "verify", "--snapshot", tmp_path / "snap" / "snapshot.json", "--reserves", res_file,
            "--rpc", "http://127.0.0.1:9", "--json")
    assert r.exit_code == 3


def test_anchor_and_verify_with_registry(cli, anvil, tmp_path: Path) -> None:
    snap, block, _ = _setup(tmp_path, anvil, "1")
    key = tmp_path / "owner.key"
    key.write_text(anvil.keys[0].removeprefix("0x"))
    r = cli("anchor", tmp_path / "snap", "--rpc", anvil.url, "--key", key, "--json")
    assert r.exit_code == 0, r.output
    registry = json.loads(r.stdout)["registry"]
    cli("prove", tmp_path / "snap", "--account", "alice", "--out", tmp_path / "alice.json")
    base = ["verify", tmp_path / "alice.json", "--snapshot", tmp_path / "snap" / "snapshot.json", "--rpc", anvil.url]
    r = cli(*base, "--registry", registry, "--json")
    assert r.exit_code == 0, r.output
    # equivocation: a second, different root published for the same snapshot id
    other = tmp_path / "other"
    (tmp_path / "l2.csv").write_text("account_id,bucket,ETH\nalice,cross,1\n")
    build_snapshot(tmp_path / "snapshot.toml", tmp_path / "l2.csv", other, secret=SECRET)
    r = cli("anchor", other, "--rpc", anvil.url, "--key", key, "--registry", registry)
    assert r.exit_code == 1  # the post-publish check itself sees two roots
    r = cli(*base, "--registry", registry)
    assert r.exit_code == 1 and "equivocat" in (r.stderr + r.stdout).lower()


def test_commingling_cannot_hide_a_shortfall(cli, anvil, tmp_path: Path) -> None:
    """fund-7 is short while cross holds far more than everything owed: the total is solvent, the check is not."""
    snap, _, _ = _setup(tmp_path, anvil, "5000")
    k, a = anvil.keys, anvil.addresses
    anvil.raw("anvil_setBalance", a[5], hex(10**6 * 10**18))   # cross: 1M ETH
    anvil.raw("anvil_setBalance", a[6], hex(10 * 10**18))      # fund-7: 10 ETH for 5000 owed
    block = anvil.rpc().block_number()
    res_file = _write(tmp_path, snap, block, [_entry(snap, block, k[5], a[5], "cross"),
                                              _entry(snap, block, k[6], a[6], "fund-7")])
    r = cli("reserves", "verify", "--snapshot", tmp_path / "snap" / "snapshot.json", "--reserves", res_file,
            "--rpc", anvil.url, "--json")
    assert r.exit_code == 1
    doc = json.loads(r.stdout)
    total_reserves = sum(int(c["reserves"].split(".")[0]) for c in doc["coverage"])
    assert total_reserves > 4000 + 999 + 5000  # solvent in total ...
    assert [c["bucket"] for c in doc["coverage"] if c["covered"] is False] == ["fund-7"]  # ... but not per bucket
