"""The command line end to end: build -> prove -> verify -> audit -> demo, exit codes, --json, atomicity."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from por.snapshot import build_snapshot

from .conftest import SECRET, store_bytes


def _secret_file(tmp_path: Path) -> Path:
    p = tmp_path / "master.key"
    p.write_text(SECRET.hex() + "\n")
    p.chmod(0o600)
    return p


def test_version_via_console_script() -> None:
    exe = Path(sys.executable).with_name("por")
    res = subprocess.run([str(exe), "--version"], capture_output=True, text=True)
    assert res.returncode == 0 and res.stdout.startswith("por ")


def test_usage_error_exit_2() -> None:
    exe = Path(sys.executable).with_name("por")
    res = subprocess.run([str(exe), "build", "--no-such-option"], capture_output=True, text=True)
    assert res.returncode == 2


def test_full_flow(cli, example, tmp_path: Path) -> None:
    cfg, ledger = example
    out = tmp_path / "snap"
    res = cli("build", "--config", cfg, "--ledger", ledger, "--out", out, "--json")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["secret_created"] and doc["rows"] == 7
    key = out / "secret.key"
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(out / "store.sqlite").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(out / "store").st_mode) == 0o700
    assert [stat.S_IMODE(f.stat().st_mode) for f in (out / "store").iterdir()] == [0o600] * 3  # a shard per bucket
    secret_hex = key.read_text().strip()
    for public in (out / "snapshot.json",):
        assert secret_hex not in public.read_text()

    res = cli("prove", out, "--account", "alice", "--out", tmp_path / "alice.json", "--json")
    assert res.exit_code == 0, res.output
    res = cli("prove", out, "--all", "--out", tmp_path / "proofs", "--json")
    assert res.exit_code == 0 and json.loads(res.stdout)["proofs"] == 6
    index = json.loads((tmp_path / "proofs" / "index.json").read_text())
    assert index["alice"] == "alice.json"
    for f in (tmp_path / "proofs").glob("*.json"):
        assert secret_hex not in f.read_text()

    res = cli("verify", str(tmp_path / "proofs" / "*.json"), "--snapshot", out / "snapshot.json", "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["valid"] == 6

    res = cli("verify", tmp_path / "alice.json", "--snapshot", out / "snapshot.json", "--account", "alice",
              "--expect", "BTC=0.51", "--expect", "isolated:USDT=12.5")
    assert res.exit_code == 0 and "VALID" in res.stdout

    root = json.loads((out / "snapshot.json").read_text())["root"]
    res = cli("verify", tmp_path / "alice.json", "--root", root, "--json")
    assert res.exit_code == 0
    res = cli("verify", tmp_path / "alice.json", "--root", "00" * 32, "--json")
    assert res.exit_code == 1

    res = cli("audit", "--config", cfg, "--ledger", ledger, "--secret", key, "--snapshot", out / "snapshot.json", "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["ok"]


def test_verify_usage_errors(cli, built: Path, proofs, tmp_path: Path) -> None:
    p = tmp_path / "a.json"
    p.write_text(json.dumps(proofs["alice"]))
    assert cli("verify", p).exit_code == 2  # no trusted root
    assert cli("verify", p, "--root", "xyz").exit_code == 2
    assert cli("verify", tmp_path / "missing.json", "--snapshot", built / "snapshot.json").exit_code == 2
    (tmp_path / "junk.json").write_text("{not json")
    assert cli("verify", tmp_path / "junk.json", "--snapshot", built / "snapshot.json").exit_code == 2
    assert cli("verify", p, "--snapshot", built / "snapshot.json", "--expect", "BTC").exit_code == 2
    assert cli("verify", str(tmp_path / "nothing-*.json"), "--snapshot", built / "snapshot.json").exit_code == 2


def test_many_proofs_one_bad_exit_1(cli, built: Path, proofs, tmp_path: Path) -> None:
    for name, doc in proofs.items():
        (tmp_path / f"{name}.json").write_text(json.dumps(doc))
    bad = json.loads((tmp_path / "bob.json").read_text())
    bad["entries"][0]["path"][0]["hash"] = "ab" * 32
    (tmp_path / "bob.json").write_text(json.dumps(bad))
    res = cli("verify", str(tmp_path / "*.json"), "--snapshot", built / "snapshot.json", "--json")
    assert res.exit_code == 1
    doc = json.loads(res.stdout)
    assert doc["invalid"] == 1 and doc["valid"] == 5


def test_prove_errors(cli, built: Path, tmp_path: Path) -> None:
    assert cli("prove", built, "--account", "nobody").exit_code == 2
    assert cli("prove", built).exit_code == 2
    assert cli("prove", tmp_path, "--account", "alice").exit_code == 2  # no store there


def test_audit_detects_changed_ledger_row(cli, example, tmp_path: Path) -> None:
    cfg, ledger = example
    out = tmp_path / "snap"
    build_snapshot(cfg, ledger, out, secret=SECRET)
    key = _secret_file(tmp_path)
    ledger.write_text(ledger.read_text().replace("bob,cross,0,10.123456789,0.5", "bob,cross,0,10.123456789,0.4"))
    res = cli("audit", "--config", cfg, "--ledger", ledger, "--secret", key, "--snapshot", out / "snapshot.json", "--json")
    assert res.exit_code == 1
    failed = [c for c in json.loads(res.stdout)["checks"] if not c["ok"]]
    assert {c["name"] for c in failed} == {"bucket cross totals", "bucket cross root", "snapshot root"}
    assert "USDT: ledger 251000.4 vs published 251000.5" in failed[0]["detail"]


def test_audit_wrong_secret_fails(cli, example, tmp_path: Path) -> None:
    cfg, ledger = example
    out = tmp_path / "snap"
    build_snapshot(cfg, ledger, out, secret=SECRET)
    other = tmp_path / "other.key"
    other.write_text("ff" * 32)
    res = cli("audit", "--config", cfg, "--ledger", ledger, "--secret", other, "--snapshot", out / "snapshot.json")
    assert res.exit_code == 1 and "AUDIT FAILED" in res.stdout


def test_deterministic_byte_identical(example, tmp_path: Path) -> None:
    cfg, ledger = example
    a = build_snapshot(cfg, ledger, tmp_path / "a", secret=SECRET)
    b = build_snapshot(cfg, ledger, tmp_path / "b", secret=SECRET)
    assert a.snapshot.root == b.snapshot.root
    assert (tmp_path / "a/snapshot.json").read_bytes() == (tmp_path / "b/snapshot.json").read_bytes()
    assert store_bytes(tmp_path / "a/store.sqlite") == store_bytes(tmp_path / "b/store.sqlite")


def test_different_secret_different_layout(example, tmp_path: Path) -> None:
    cfg, ledger = example
    a = build_snapshot(cfg, ledger, tmp_path / "a", secret=SECRET).snapshot
    b = build_snapshot(cfg, ledger, tmp_path / "b", secret=bytes(32)).snapshot
    assert a.root != b.root and a.totals == b.totals


def test_out_dir_must_be_new(cli, example, tmp_path: Path) -> None:
    cfg, ledger = example
    out = tmp_path / "snap"
    out.mkdir()
    (out / "keep.txt").write_text("precious")
    res = cli("build", "--config", cfg, "--ledger", ledger, "--out", out)
    assert res.exit_code == 2 and (out / "keep.txt").read_text() == "precious"


def test_interrupted_build_leaves_nothing(example, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A crash (here: Ctrl-C while writing the store) leaves no output and no staging directory."""
    import por.tree.store

    cfg, ledger = example

    def boom(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(por.tree.store.StoreWriter, "finish", boom)
    with pytest.raises(KeyboardInterrupt):
        build_snapshot(cfg, ledger, tmp_path / "out", secret=SECRET)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ledger.csv", "snapshot.toml"]


def test_height_option(cli, example, tmp_path: Path) -> None:
    cfg, ledger = example
    res = cli("build", "--config", cfg, "--ledger", ledger, "--out", tmp_path / "o", "--height", "6", "--json")
    assert res.exit_code == 0
    assert {b["height"] for b in json.loads(res.stdout)["snapshot"]["buckets"]} == {6}
    res = cli("build", "--config", cfg, "--ledger", ledger, "--out", tmp_path / "o2", "--height", "1", "--json")
    assert res.exit_code == 2 and "holds only 2" in json.loads(res.stdout)["message"]


def test_world_readable_secret_warns(cli, example, tmp_path: Path) -> None:
    cfg, ledger = example
    key = tmp_path / "k"
    key.write_text("22" * 32)
    key.chmod(0o644)
    res = cli("build", "--config", cfg, "--ledger", ledger, "--out", tmp_path / "o", "--secret", key)
    assert res.exit_code == 0 and "readable by others" in res.stderr
    assert not (tmp_path / "o" / "secret.key").exists()


def test_bad_secret_file(cli, example, tmp_path: Path) -> None:
    cfg, ledger = example
    key = tmp_path / "k"
    key.write_text("not hex")
    res = cli("build", "--config", cfg, "--ledger", ledger, "--out", tmp_path / "o", "--secret", key)
    assert res.exit_code == 2 and "64 hex digits" in res.stderr


def test_demo(cli, tmp_path: Path) -> None:
    res = cli("demo", "--users", "60", "--workdir", tmp_path / "d", "--json")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["ok"]
    attacks = [s for s in doc["steps"] if s["name"].startswith("attack")]
    assert len(attacks) >= 5 and all("rejected" in s["detail"] for s in attacks)
    names = {s["name"] for s in doc["steps"]}
    assert {"reserves: solvent and segregated", "anchor: root published once",
            "reserves: insolvent bucket caught", "audit: every check"} <= names
    assert Path(doc["chain"]["report_html"]).is_file()
    assert doc["chain"]["insolvent"]["solvent"] is False and doc["chain"]["reserves"]["ok"] is True


def test_verify_with_log_head(cli, example, tmp_path: Path) -> None:
    cfg, ledger = example
    out = tmp_path / "snap"
    build_snapshot(cfg, ledger, out, secret=SECRET)
    other_cfg = tmp_path / "other.toml"
    other_cfg.write_text(cfg.read_text().replace("acme-2026-11-20", "acme-2026-11-19"))
    build_snapshot(other_cfg, ledger, tmp_path / "other", secret=SECRET)
    log = tmp_path / "log"
    assert cli("log", "init", "--log", log).exit_code == 0
    assert cli("log", "append", tmp_path / "other", "--log", log).exit_code == 0
    assert cli("log", "append", out, "--log", log).exit_code == 0
    assert cli("log", "head", "--log", log, "--out", tmp_path / "head.json").exit_code == 0
    r = cli("log", "prove-inclusion", "acme-2026-11-20", "--log", log, "--out", tmp_path / "incl.json")
    assert r.exit_code == 0, r.output
    r = cli("log", "prove-inclusion", "acme-2026-11-19", "--log", log, "--out", tmp_path / "incl-other.json")
    assert r.exit_code == 0
    cli("prove", out, "--account", "alice", "--out", tmp_path / "alice.json")
    base = ["verify", tmp_path / "alice.json", "--snapshot", out / "snapshot.json", "--log-head", tmp_path / "head.json"]
    r = cli(*base, "--log-proof", tmp_path / "incl.json", "--json")
    assert r.exit_code == 0, r.output
    assert any("entry 1 of the log of size 2" in c for c in json.loads(r.stdout)["results"][0]["checks"])
    # the log proof of another snapshot does not vouch for this one
    assert cli(*base, "--log-proof", tmp_path / "incl-other.json").exit_code == 1
    assert cli(*base).exit_code == 2  # --log-head without --log-proof
