"""`por audit` with everything an exchange hands over: honest -> exit 0; each fault -> exit 1 naming the check."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from por.reserves.anchor import deploy_registry, publish
from por.core.keys import write_secret

from .browser import dump_dom, screenshot
from .conftest import SECRET
from .test_reserves_cli import _entry, _setup, _write

pytestmark = pytest.mark.chain


@pytest.fixture
def world(cli, anvil, tmp_path: Path):
    snap, block, _ = _setup(tmp_path, anvil, "100")
    k, a = anvil.keys, anvil.addresses
    reserves = _write(tmp_path, snap, block, [_entry(snap, block, k[1], a[1], "cross"),
                                              _entry(snap, block, k[2], a[2], "fund-7"),
                                              _entry(snap, block, k[3], a[3], "proprietary")])
    assert cli("prove", tmp_path / "snap", "--all", "--out", tmp_path / "proofs").exit_code == 0
    rpc = anvil.rpc()
    registry = deploy_registry(rpc, k[0])
    publish(rpc, registry, k[0], snap.config.snapshot_id, snap.root, block)
    assert cli("log", "init", "--log", tmp_path / "log").exit_code == 0
    assert cli("log", "append", tmp_path / "snap", "--log", tmp_path / "log").exit_code == 0
    write_secret(tmp_path / "secret.key", SECRET)
    args = ["audit", "--config", tmp_path / "snapshot.toml", "--ledger", tmp_path / "ledger.csv",
            "--secret", tmp_path / "secret.key", "--snapshot", tmp_path / "snap" / "snapshot.json",
            "--proofs", tmp_path / "proofs", "--reserves", reserves, "--rpc", anvil.url,
            "--registry", registry, "--log", tmp_path / "log"]
    return {"args": args, "snap": snap, "block": block, "registry": registry, "tmp": tmp_path}


def _failed(res) -> set[str]:
    return {c["name"] for c in json.loads(res.stdout)["checks"] if not c["ok"]}


def test_honest_audit_passes_and_report_renders(cli, world) -> None:
    tmp = world["tmp"]
    res = cli(*world["args"], "--report", tmp / "report", "--json")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    names = {c["name"] for c in doc["checks"]}
    assert {"exported proofs", "segregation", "anchor", "transparency log", "coverage cross/ETH",
            "snapshot root"} <= names
    html = tmp / "report" / "report.html"
    assert json.loads((tmp / "report" / "report.json").read_text())["ok"] is True
    text = html.read_text()
    assert "<script" not in text and "<svg" in text
    dom = dump_dom(html)
    assert re.search(r"AUDIT PASSED: \d+ of \d+ checks passed", dom)
    screenshot(html, "audit-report.png", size="1100,1300")


def test_audit_sample_is_seeded(cli, world) -> None:
    a = cli(*world["args"], "--sample", "2", "--seed", "7", "--json")
    b = cli(*world["args"], "--sample", "2", "--seed", "7", "--json")
    assert a.exit_code == b.exit_code == 0
    detail = lambda r: next(c["detail"] for c in json.loads(r.stdout)["checks"] if c["name"] == "exported proofs")  # noqa: E731
    assert detail(a) == detail(b) and "2/2 valid" in detail(a)


def test_audit_tampered_exported_proof(cli, world) -> None:
    p = world["tmp"] / "proofs" / "bob.json"
    doc = json.loads(p.read_text())
    doc["entries"][0]["balances"]["ETH"] = "1"
    p.write_text(json.dumps(doc))
    res = cli(*world["args"], "--json")
    assert res.exit_code == 1 and _failed(res) == {"exported proofs"}


def test_audit_root_differs_from_anchored(cli, anvil, world) -> None:
    rpc = anvil.rpc()
    other = deploy_registry(rpc, anvil.keys[0])
    publish(rpc, other, anvil.keys[0], world["snap"].config.snapshot_id, b"\x42" * 32, world["block"])
    args = list(world["args"])
    args[args.index("--registry") + 1] = other
    res = cli(*args, "--json")
    assert res.exit_code == 1 and _failed(res) == {"anchor"}


def test_audit_insolvent_bucket(cli, anvil, world) -> None:
    snap, tmp = world["snap"], world["tmp"]
    k, a = anvil.keys, anvil.addresses
    anvil.raw("anvil_setBalance", a[7], hex(5 * 10**18))  # fund-7 owes 100 ETH, holds 5
    block = anvil.mine(1)
    bad = _write(tmp, snap, block, [_entry(snap, block, k[1], a[1], "cross"), _entry(snap, block, k[7], a[7], "fund-7")])
    args = list(world["args"])
    args[args.index("--reserves") + 1] = bad
    res = cli(*args, "--json")
    assert res.exit_code == 1 and "coverage fund-7/ETH" in _failed(res)
