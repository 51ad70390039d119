"""Margin accounts in public mode end to end (SPEC.md §17): config, ledger debts, the per-account rule,
version 2 snapshots and proofs, the collateral-value checks of verifiers, reserves coverage against the
requirement, audit, reports, and the byte-exact vectors of tests/vectors/margin/.

Commands run through the real CLI (typer's CliRunner) where the user would run them; attack fixtures are
built with the library's test-only hook that skips the per-account rule, or by hand from the encoders.
"""

from __future__ import annotations

import copy
import hmac
import json
import re
import shutil
import tempfile
import tomllib
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from por.core import encoding as enc
from por.core.config import SnapshotConfig, load_config, parse_config
from por.core.errors import BadInput, VerificationFailed
from por.core.fileio import canonical_json
from por.core.keys import SnapshotKeys, load_secret, write_secret
from por.core.ledger import format_amount
from por.core.margin import collateral_value
from por.modes.values import values_for
from por.proofs.inclusion import Prover, verify_proof
from por.reserves.segregation import Holding, check_segregation
from por.snapshot import Snapshot, build_snapshot, build_trees, compute_root, load_snapshot, \
    snapshot_from_dict
from por.tree.store import Store
from por.tree.sumtree import parent as _parent

from .conftest import EXAMPLES, SECRET, VECTORS, flat
from .test_margin import ref_value
from .test_vectors import hkdf, lp, sha, sums, tag

MV = VECTORS / "margin"

CONFIG = """snapshot_id = "margin-2026-11-20"
as_of = "2026-11-20T00:00:00Z"

[assets]
BTC = 8
ETH = 9
USDT = 6

[prices]
BTC = "97123.45"
ETH = "3500.12"
USDT = "1"

[collateral]
ETH = "0.1"
USDT = "0.01"

[collateral.BTC]
tiers = [{up_to = "10", haircut = "0.05"}, {up_to = "100", haircut = "0.1"}, {haircut = "0.3"}]

[buckets.cross]
kind = "cross-margin"
allow_debt = true

[buckets.pm]
kind = "portfolio-margin"
allow_debt = true

[buckets.fund-7]
kind = "segregated"

[buckets.spot]
kind = "isolated-margin"
"""

LEDGER = """account_id,bucket,BTC,ETH,USDT
alice,cross,0.5,2,-1000
bob,cross,-0.1,10,50000
carol,cross,1.25,0,250000
dave,pm,-2,100,-100000
erin,pm,150,0,-10000000
alice,pm,0,0,0.000001
fund-client,fund-7,12,150,1000000
frank,spot,0.01,0,12.5
"""

# (bucket, account) -> signed minor units in canonical order (BTC, ETH, USDT)
ROWS = {
    ("cross", "alice"): (50_000_000, 2 * 10**9, -1_000_000_000),
    ("cross", "bob"): (-10_000_000, 10 * 10**9, 50_000_000_000),
    ("cross", "carol"): (125_000_000, 0, 250_000_000_000),
    ("pm", "dave"): (-200_000_000, 100 * 10**9, -100_000_000_000),
    ("pm", "erin"): (15_000_000_000, 0, -10_000_000_000_000),
    ("pm", "alice"): (0, 0, 1),
    ("fund-7", "fund-client"): (1_200_000_000, 150 * 10**9, 1_000_000_000_000),
    ("spot", "frank"): (1_000_000, 0, 12_500_000),
}



def write_inputs(tmp: Path, ledger: str, config: str = CONFIG) -> tuple[Path, Path, Path]:
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "snapshot.toml").write_text(config)
    (tmp / "ledger.csv").write_text(ledger)
    if not (tmp / "secret.key").exists():
        write_secret(tmp / "secret.key", SECRET)
    return tmp / "snapshot.toml", tmp / "ledger.csv", tmp / "secret.key"


def cli_build(cli, tmp: Path, ledger: str, config: str = CONFIG, *extra: object):
    cfg, led, key = write_inputs(tmp, ledger, config)
    return cli("build", "--config", cfg, "--ledger", led, "--out", tmp / "snap", "--secret", key, *extra)


@pytest.fixture(scope="module")
def msnap(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The margin example built once (library; the CLI path is exercised by the tests below)."""
    tmp = tmp_path_factory.mktemp("margin")
    cfg, led, _ = write_inputs(tmp, LEDGER)
    build_snapshot(cfg, led, tmp / "snap", secret=SECRET)
    return tmp / "snap"


@pytest.fixture(scope="module")
def mproofs(msnap: Path) -> dict[str, dict]:
    p = Prover(msnap)
    try:
        return {a: p.prove(a) for a in p.accounts()}
    finally:
        p.close()


# ---------------------------------------------------------------- config

def test_config_parses_margin_and_metadata_round_trips() -> None:
    cfg = parse_config(tomllib.loads(CONFIG), file="snapshot.toml")
    assert cfg.margin is not None and cfg.margin.scale == 9 + 2 + 2
    assert [cfg.allows_debt(b) for b in cfg.bucket_ids] == [True, False, True, False]  # cross fund-7 pm spot
    doc = cfg.to_dict()
    assert list(doc) == ["snapshot_id", "as_of", "assets", "buckets", "margin"]
    assert SnapshotConfig.from_dict(json.loads(json.dumps(doc))) == cfg
    # without [prices] nothing changes: no margin key, allow_debt = false accepted and inert
    plain = load_config(EXAMPLES / "snapshot.toml")
    assert plain.margin is None and "margin" not in plain.to_dict()
    raw = tomllib.loads((EXAMPLES / "snapshot.toml").read_text())
    raw["buckets"]["cross"]["allow_debt"] = False
    assert parse_config(raw) == plain
    # metadata strictness: a margin block is re-derived; extra fields, wrong factors, wrong types fail
    for mutate in (lambda m: m.update(extra=1), lambda m: m["assets"][0].update(f_eq="1"),
                   lambda m: m["buckets"][0].update(allow_debt=1), lambda m: m.update(scale="13"),
                   lambda m: m["assets"][0].update(price="97123.450")):
        bad = copy.deepcopy(doc)
        mutate(bad["margin"])
        with pytest.raises(BadInput):
            SnapshotConfig.from_dict(bad)


@pytest.mark.parametrize("kind", ["segregated", "custody"])
def test_allow_debt_refused_for_segregated_and_custody(cli, tmp_path: Path, kind: str) -> None:
    config = CONFIG.replace('[buckets.fund-7]\nkind = "segregated"',
                            f'[buckets.fund-7]\nkind = "{kind}"\nallow_debt = true')
    res = cli_build(cli, tmp_path, LEDGER, config, "--json")
    assert res.exit_code == 2, res.output
    err = json.loads(res.stdout)
    assert err["field"] == "buckets.fund-7.allow_debt" and "cannot allow debts" in err["reason"]
    assert not (tmp_path / "snap").exists()
    # the same flag hand-written into published metadata is refused too
    cfg = parse_config(tomllib.loads(CONFIG))
    doc = cfg.to_dict()
    doc["buckets"] = [dict(b, kind=kind) if b["id"] == "fund-7" else b for b in doc["buckets"]]
    doc["margin"]["buckets"] = [dict(b, allow_debt=True) for b in doc["margin"]["buckets"]]
    with pytest.raises(BadInput, match="cannot allow debts"):
        SnapshotConfig.from_dict(doc)


@pytest.mark.parametrize("old, new, field", [
    ('USDT = "0.01"', 'USDT = "1"', "collateral.USDT"),                      # a haircut of 100 %
    ('BTC = "97123.45"', "BTC = 97123.45", "prices.BTC"),                     # a TOML float
    ('ETH = "3500.12"\n', "", "prices.ETH"),                                 # a missing price
    ('up_to = "100", haircut = "0.1"', 'up_to = "5", haircut = "0.1"', "collateral.BTC.tiers[1].up_to"),
    ('[buckets.spot]\nkind = "isolated-margin"', '[buckets.spot]\nkind = "isolated-margin"\nallow_debt = "yes"',
     "buckets.spot.allow_debt"),
])
def test_bad_margin_config_names_the_field(cli, tmp_path: Path, old: str, new: str, field: str) -> None:
    assert old in CONFIG
    res = cli_build(cli, tmp_path, LEDGER, CONFIG.replace(old, new), "--json")
    assert res.exit_code == 2, res.output
    assert json.loads(res.stdout)["field"] == field


# ---------------------------------------------------------------- build: the per-account rule and debts

def test_debt_only_account_is_rejected_at_build(cli, tmp_path: Path) -> None:
    """The attack: a fake account owing 3 BTC, inserted to cut the BTC liabilities by 3 BTC."""
    ledger = LEDGER + "ghost,cross,-3,0,0\n"
    res = cli_build(cli, tmp_path, ledger, CONFIG, "--json")
    assert res.exit_code == 2, res.output
    err = json.loads(res.stdout)
    assert err["file"].endswith("ledger.csv") and err["line"] == 10 and err["field"] == "cross/ghost"
    assert "undercollateralised" in err["reason"] and "shortfall 291370.35 quote units" in err["reason"]
    assert not (tmp_path / "snap").exists()
    # human output names the same
    shutil.rmtree(tmp_path / "snap", ignore_errors=True)
    res = cli_build(cli, tmp_path, ledger)
    assert res.exit_code == 2 and "ledger.csv:10" in flat(res.output) and "291370.35" in flat(res.output)


def test_undercollateralised_account_rejected_by_tiers_not_base() -> None:
    """150 BTC against 12.2M USDT of debt: enough at the base haircut (5 %), short under the tiers."""
    cfg = parse_config(tomllib.loads(CONFIG))
    params = cfg.margin
    equity, debt = [150 * 10**8, 0, 0], [0, 0, 12_200_000 * 10**6]
    assert collateral_value(equity, debt, params) > 0 > collateral_value(equity, debt, params, tiered=True)
    expected = -ref_value(params, equity, debt, tiered=True)
    assert expected == Fraction("12200000") - Fraction("97123.45") * (10 * Fraction("0.95") + 90 * Fraction("0.9")
                                                                       + 50 * Fraction("0.7"))
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        cfg_p, led, _ = write_inputs(tmp, LEDGER + "zed,pm,150,0,-12200000\n")
        with pytest.raises(BadInput) as info:
            build_snapshot(cfg_p, led, tmp / "snap", secret=SECRET)
    assert info.value.line == 10 and info.value.field == "pm/zed"
    text = re.search(r"shortfall ([0-9.]+) quote", info.value.reason).group(1)  # type: ignore[union-attr]
    assert Fraction(text) == expected and text == "11007.025"


def test_negative_in_a_bucket_without_debt_is_rejected(cli, tmp_path: Path) -> None:
    res = cli_build(cli, tmp_path, LEDGER + "mallory,fund-7,-1,0,0\n", CONFIG, "--json")
    assert res.exit_code == 2
    err = json.loads(res.stdout)
    assert err["line"] == 10 and err["field"] == "BTC" and "does not allow debts" in err["reason"]
    # --clamp-negative floors it there, but a debt in an allow_debt bucket is never clamped
    res = cli_build(cli, tmp_path, LEDGER + "mallory,fund-7,-1,0,0\n", CONFIG, "--clamp-negative", "--json")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["clamped"] == 1 and doc["debts"] == 5 and doc["accounts_with_debt"] == 4
    buckets = {b["id"]: b for b in doc["snapshot"]["buckets"]}
    assert buckets["cross"]["debt"]["BTC"] == "10000000" and buckets["fund-7"]["debt"]["BTC"] == "0"


def test_jsonl_ledger_with_debts_builds_the_same_snapshot(msnap: Path, tmp_path: Path) -> None:
    lines = []
    for row in LEDGER.strip().splitlines()[1:]:
        acc, bucket, *amounts = row.split(",")
        obj = {"account_id": acc, "bucket": bucket}
        obj.update({s: a for s, a in zip(("BTC", "ETH", "USDT"), amounts) if a != "0"})
        lines.append(json.dumps(obj).replace('"-2"', "-2"))  # a JSON number keeps its exact source text
    cfg, _, _ = write_inputs(tmp_path, LEDGER)
    (tmp_path / "ledger.jsonl").write_text("\n".join(lines) + "\n")
    build_snapshot(cfg, tmp_path / "ledger.jsonl", tmp_path / "snap", secret=SECRET)
    assert (tmp_path / "snap" / "snapshot.json").read_bytes() == (msnap / "snapshot.json").read_bytes()
    (tmp_path / "bad.jsonl").write_text('{"account_id": "x", "bucket": "spot", "BTC": "-0.1"}\n')
    with pytest.raises(BadInput, match="does not allow debts") as info:
        build_snapshot(cfg, tmp_path / "bad.jsonl", tmp_path / "snap2", secret=SECRET)
    assert info.value.line == 1 and info.value.field == "BTC"


def test_zk_build_of_a_margin_config_without_a_setup_is_bad_input(cli, tmp_path: Path) -> None:
    # zk mode with margin (SPEC.md §17.26) is tested in tests/test_zk_margin_mode.py
    res = cli_build(cli, tmp_path, LEDGER, CONFIG, "--zk", tmp_path / "no-setup", "--json")
    assert res.exit_code == 2, res.output
    assert "setup.json" in json.loads(res.stdout)["message"]
    assert not (tmp_path / "snap").exists()


def test_cli_build_publishes_equity_debt_and_requirement(cli, tmp_path: Path) -> None:
    res = cli_build(cli, tmp_path, LEDGER)
    assert res.exit_code == 0, res.output
    text = flat(res.output)
    assert "requirement" in text and "equity" in text and "5 debts in 4 accounts" in text
    raw = json.loads((tmp_path / "snap" / "snapshot.json").read_text())
    assert raw["version"] == 2 and raw["mode"] == "public" and "totals" not in raw
    assert set(raw) == {"format", "version", "mode", "metadata", "root", "top_height", "buckets", "equity", "debt",
                        "requirement"}
    cfg = load_config(tmp_path / "snapshot.toml")
    assert raw["metadata"] == cfg.to_dict()
    for b in raw["buckets"]:
        assert set(b) == {"id", "kind", "height", "root", "equity", "debt", "requirement"}
        rows = [v for (bucket, _), v in ROWS.items() if bucket == b["id"]]
        for i, s in enumerate(cfg.symbols):
            e = sum(max(r[i], 0) for r in rows)
            d = sum(max(-r[i], 0) for r in rows)
            assert (b["equity"][s], b["debt"][s], b["requirement"][s]) == (str(e), str(d), str(max(e - d, 0)))
    for s in cfg.symbols:
        assert int(raw["requirement"][s]) == sum(int(b["requirement"][s]) for b in raw["buckets"])
        assert int(raw["equity"][s]) == sum(int(b["equity"][s]) for b in raw["buckets"])
    # pm owes more USDT than it holds: requirement 0 there, net negative
    pm = next(b for b in raw["buckets"] if b["id"] == "pm")
    assert pm["requirement"]["USDT"] == "0" and int(pm["equity"]["USDT"]) < int(pm["debt"]["USDT"])
    # deterministic, and readable back (root recomputed)
    assert (tmp_path / "snap" / "snapshot.json").read_bytes() == canonical_json(load_snapshot(tmp_path / "snap").to_dict())


def test_snapshot_reader_checks_requirements_flags_and_values(msnap: Path) -> None:
    good = json.loads((msnap / "snapshot.json").read_text())
    snapshot_from_dict(good)

    def variant(fn) -> dict:
        doc = copy.deepcopy(good)
        fn(doc)
        return doc

    failures = [
        (lambda d: d["buckets"][0]["requirement"].update(BTC="1"), VerificationFailed, "requirement"),
        (lambda d: d["requirement"].update(BTC="1"), VerificationFailed, "requirement"),
        (lambda d: d["equity"].update(ETH="1"), VerificationFailed, "equity and debt"),
        (lambda d: d["buckets"][0]["debt"].update(BTC="1"), VerificationFailed, "root"),
        (lambda d: d.update(version=1), BadInput, "version"),
        (lambda d: d.update(version=3), BadInput, "version"),
        (lambda d: d.update(version=True), BadInput, "version"),
        (lambda d: d.update(totals=d.pop("requirement")), BadInput, "fields wrong"),
        (lambda d: d["metadata"].pop("margin"), BadInput, "version"),
        (lambda d: d.update(mode="hiding"), BadInput, "public mode only"),
    ]
    for fn, exc, words in failures:
        with pytest.raises(exc, match=words):
            snapshot_from_dict(variant(fn))


# ---------------------------------------------------------------- proofs

def test_every_proof_round_trips_through_the_cli(cli, msnap: Path, tmp_path: Path) -> None:
    res = cli("prove", msnap, "--all", "--out", tmp_path / "proofs", "--json")
    assert res.exit_code == 0, res.output
    res = cli("verify", str(tmp_path / "proofs" / "*.json"), "--snapshot", msnap / "snapshot.json", "--json")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["valid"] == 7 and doc["invalid"] == 0
    alice = next(r for r in doc["results"] if r["account_id"] == "alice")
    assert [e["bucket"] for e in alice["entries"]] == ["cross", "pm"]
    cross = alice["entries"][0]
    assert cross["equity"] == {"BTC": "0.5", "ETH": "2", "USDT": "0"}
    assert cross["debt"] == {"BTC": "0", "ETH": "0", "USDT": "1000"}
    assert cross["net"] == {"BTC": "0.5", "ETH": "2", "USDT": "-1000"}
    assert Fraction(cross["collateral_value"]) == Fraction("0.5") * Fraction("97123.45") * Fraction("0.95") \
        + 2 * Fraction("3500.12") * Fraction("0.9") - 1000
    assert alice["totals"]["net"] == {"BTC": "0.5", "ETH": "2", "USDT": "-999.999999"}
    assert any("collateral value >= 0" in c for c in alice["checks"])
    raw = json.loads((tmp_path / "proofs" / "alice.json").read_text())
    assert raw["version"] == 2 and "balances" not in raw["entries"][0]
    assert set(raw["entries"][0]["path"][0]) == {"hash", "equity", "debt"}
    # the human table
    res = cli("verify", tmp_path / "proofs" / "alice.json", "--root", load_snapshot(msnap).root.hex())
    assert res.exit_code == 0 and "VALID" in res.output and "-999.999999" in flat(res.output)


def test_expectations_compare_the_net(cli, msnap: Path, tmp_path: Path, mproofs: dict) -> None:
    p = tmp_path / "alice.json"
    p.write_bytes(canonical_json(mproofs["alice"]))
    base = ["verify", p, "--snapshot", msnap / "snapshot.json"]
    ok = cli(*base, "--expect", "USDT=-999.999999", "--expect", "cross:USDT=-1000", "--expect", "pm:USDT=0.000001",
             "--expect", "fund-7:BTC=0")
    assert ok.exit_code == 0, ok.output
    bad = cli(*base, "--expect", "USDT=0.000001", "--json")
    assert bad.exit_code == 1 and "proof shows -999.999999" in json.loads(bad.stdout)["results"][0]["reason"]


def _numeric_fields(doc: dict) -> list[tuple[Any, ...]]:
    """Paths of every amount in a margin proof."""
    out = []
    for i, e in enumerate(doc["entries"]):
        for part in ("equity", "debt"):
            out += [("entries", i, part, s) for s in e[part]]
        for where in ("path", "top_path"):
            for j, node in enumerate(e[where]):
                for part in ("equity", "debt"):
                    out += [("entries", i, where, j, part, s) for s in node[part]]
    return out


def _set(doc: dict, path: tuple, value: Any) -> dict:
    doc = copy.deepcopy(doc)
    obj = doc
    for k in path[:-1]:
        obj = obj[k]
    obj[path[-1]] = value
    return doc


def _get(doc: dict, path: tuple) -> Any:
    for k in path:
        doc = doc[k]
    return doc


def test_every_tampered_equity_debt_or_sibling_value_fails(msnap: Path, mproofs: dict) -> None:
    snap = load_snapshot(msnap)
    count = 0
    for account, doc in mproofs.items():
        verify_proof(doc, snapshot=snap)
        verify_proof(doc, root=snap.root)
        for path in _numeric_fields(doc):
            v = int(_get(doc, path))
            for new in {v + 1, v - 1, 0, v + 10**8} - {v, -1}:
                with pytest.raises(VerificationFailed):
                    verify_proof(_set(doc, path, str(new)), root=snap.root, file=account)
                count += 1
        e = doc["entries"][0]
        for path in [("entries", 0, "salt"), *[("entries", 0, w, 0, "hash") for w in ("path", "top_path") if e[w]]]:
            h = _get(doc, path)
            with pytest.raises(VerificationFailed):
                verify_proof(_set(doc, path, ("0" if h[0] != "0" else "1") + h[1:]), snapshot=snap)
        # structure: v1 keys in a v2 proof, a moved amount, an extra key
        moved = copy.deepcopy(doc)
        moved["entries"][0]["balances"] = moved["entries"][0].pop("equity")
        with pytest.raises(VerificationFailed, match="fields wrong"):
            verify_proof(moved, snapshot=snap)
        extra = _set(doc, ("entries", 0, "path", 0, "sums"), {})
        with pytest.raises(VerificationFailed, match="fields wrong"):
            verify_proof(extra, snapshot=snap)
    assert count > 500


def test_version_and_metadata_must_agree(msnap: Path, mproofs: dict, proofs: dict, built: Path) -> None:
    snap = load_snapshot(msnap)
    with pytest.raises(BadInput, match="version 1 does not match"):
        verify_proof(_set(mproofs["bob"], ("version",), 1), snapshot=snap)
    v1 = load_snapshot(built)
    with pytest.raises(BadInput, match="version 2 does not match"):
        verify_proof(_set(proofs["alice"], ("version",), 2), snapshot=v1)
    for bad in (3, True, "2"):
        with pytest.raises(BadInput, match="unsupported proof version"):
            verify_proof(_set(mproofs["bob"], ("version",), bad), snapshot=snap)
    # a v1 proof still verifies, a v2 proof is refused against a v1 snapshot (and the reverse)
    verify_proof(proofs["alice"], snapshot=v1)
    with pytest.raises(VerificationFailed):
        verify_proof(mproofs["alice"], snapshot=v1)
    with pytest.raises(VerificationFailed):
        verify_proof(proofs["alice"], snapshot=snap)


def test_price_or_haircut_changed_after_the_build_fails(cli, msnap: Path, mproofs: dict, tmp_path: Path) -> None:
    """The parameters are bound in the root: a re-valued proof or snapshot never reaches the trusted root."""
    snap = load_snapshot(msnap)
    cfg_raw = tomllib.loads(CONFIG)
    changes = [
        ("prices", lambda r: r["prices"].update(BTC="150000")),
        ("haircut", lambda r: r["collateral"].update(ETH="0.05")),
        ("tier", lambda r: r["collateral"]["BTC"]["tiers"][0].update(up_to="20")),
        ("flag", lambda r: r["buckets"]["spot"].update(allow_debt=True)),
    ]
    proof_file = tmp_path / "bob.json"
    for name, change in changes:
        raw = copy.deepcopy(cfg_raw)
        change(raw)
        meta = parse_config(raw).to_dict()  # consistent, canonical derived factors: only the root can tell
        doc = _set(mproofs["bob"], ("snapshot", "metadata"), meta)
        with pytest.raises(VerificationFailed, match="not the trusted root"):
            verify_proof(doc, root=snap.root)
        with pytest.raises(VerificationFailed, match="metadata differs"):
            verify_proof(doc, snapshot=snap)
        proof_file.write_bytes(canonical_json(doc))
        res = cli("verify", proof_file, "--root", snap.root.hex(), "--json")
        assert res.exit_code == 1, (name, res.output)
        # the same change in snapshot.json: its root no longer matches its contents
        sdoc = json.loads((msnap / "snapshot.json").read_text())
        sdoc["metadata"] = meta
        (tmp_path / "snapshot.json").write_bytes(canonical_json(sdoc))
        res = cli("verify", proof_file, "--snapshot", tmp_path / "snapshot.json", "--json")
        assert res.exit_code == 1 and "is not the root of its own contents" in json.loads(res.stdout)["message"]
    # a derived factor edited without its price: not canonical -> bad input
    doc = copy.deepcopy(mproofs["bob"])
    doc["snapshot"]["metadata"]["margin"]["assets"][0]["f_debt"] = "1"
    proof_file.write_bytes(canonical_json(doc))
    res = cli("verify", proof_file, "--root", snap.root.hex(), "--json")
    assert res.exit_code == 1 and "not in canonical form" in json.loads(res.stdout)["results"][0]["reason"]


# ---------------------------------------------------------------- attack fixtures: negative subtrees

ATTACK_CONFIG = """snapshot_id = "evil-margin"
as_of = "2026-11-20T00:00:00Z"
[assets]
BTC = 8
USDT = 6
[prices]
BTC = "97123.45"
USDT = "1"
[collateral.BTC]
tiers = [{up_to = "10", haircut = "0.05"}, {haircut = "0.2"}]
[buckets.cross]
kind = "cross-margin"
allow_debt = true
"""
ATTACK_LEDGER = """account_id,bucket,BTC,USDT
alice,cross,0.1,0
bob,cross,0.2,0
carol,cross,20,0
mallory,cross,-1,0
"""


def test_negative_subtree_is_caught_by_the_users_beside_it(cli, tmp_path: Path) -> None:
    """A prover that skips the per-account rule hides 1 BTC of liabilities behind a debt-only account.

    The bucket totals still look healthy (20.3 BTC of equity against 1 BTC of debt), so the snapshot
    reader cannot tell; but mallory's leaf, or a node containing it, has a negative collateral value, and
    it hangs on the path of the honest users next to it.
    """
    cfg, led, key = write_inputs(tmp_path, ATTACK_LEDGER, ATTACK_CONFIG)
    res = cli("build", "--config", cfg, "--ledger", led, "--out", tmp_path / "honest", "--secret", key)
    assert res.exit_code == 2 and "mallory" in res.output  # an honest build refuses the ledger
    build_snapshot(cfg, led, tmp_path / "snap", secret=SECRET, height=2, _unsafe_skip_account_rule=True)
    snap = load_snapshot(tmp_path / "snap")  # the published totals pass the reader's checks
    assert snap.bucket("cross").totals == (2_030_000_000 - 100_000_000, 0)  # requirement lowered by 1 BTC
    store = Store(tmp_path / "snap" / "store.sqlite")
    pos = {a: store.account_leaves(a)[0][1] for a in ("alice", "bob", "carol", "mallory")}
    leaf_vals = {a: store.node(0, 0, p, 4)[1] for a, p in pos.items()}
    store.close()
    params = snap.config.margin
    neighbour = next(a for a, p in pos.items() if p == pos["mallory"] ^ 1)
    pair = [leaf_vals["mallory"][i] + leaf_vals[neighbour][i] for i in range(4)]
    pair_negative = collateral_value(pair[:2], pair[2:], params) < 0
    prover = Prover(tmp_path / "snap")
    for account in ("alice", "bob", "carol", "mallory"):
        (tmp_path / f"{account}.json").write_bytes(canonical_json(prover.prove(account)))
    prover.close()
    for account in ("alice", "bob", "carol", "mallory"):
        for trust in (["--snapshot", tmp_path / "snap" / "snapshot.json"], ["--root", snap.root.hex()]):
            res = cli("verify", tmp_path / f"{account}.json", *trust, "--json")
            reason = json.loads(res.stdout)["results"][0].get("reason", "")
            if account == "mallory":
                assert res.exit_code == 1 and "own leaf" in reason and "collateral value is negative" in reason
            elif account == neighbour:
                assert res.exit_code == 1 and "path[0] (sibling at level 0)" in reason
                assert "collateral value is negative: -" in reason
            elif pair_negative:
                assert res.exit_code == 1 and "path[1] (sibling at level 1)" in reason, reason
            else:
                assert res.exit_code == 0, reason  # their path never passes the ghost's subtree
    # the human message names the entry, the level and the value
    res = cli("verify", tmp_path / f"{neighbour}.json", "--root", snap.root.hex())
    text = flat(res.output)
    assert res.exit_code == 1 and "entries[0] (bucket cross), path[0] (sibling at level 0)" in text
    assert text.count("entries[0]") == 1
    assert re.search(r"collateral value is negative: -[0-9.]+ quote units", text)


def _hand_built(sid: str, bucket: str, kind: str, rows: list[tuple[str, list[int]]], flags: dict[str, bool]):
    """A one-bucket margin snapshot built from the encoders, whatever its rows hold."""
    cfg = SnapshotConfig.from_dict({
        "snapshot_id": sid, "as_of": "2026-11-20T00:00:00Z",
        "assets": [{"symbol": "BTC", "decimals": 8}, {"symbol": "USDT", "decimals": 6}],
        "buckets": [{"id": bucket, "kind": kind}],
        "margin": {"scale": 12, "assets": [
            {"symbol": "BTC", "price": "97123.45", "tiers": [{"haircut": "0.05"}],
             "f_eq": "922672775", "f_debt": "971234500"},
            {"symbol": "USDT", "price": "1", "tiers": [{"haircut": "0"}], "f_eq": "1000000", "f_debt": "1000000"}],
            "buckets": [{"id": bucket, "allow_debt": flags[bucket]}]},
    })
    keys = SnapshotKeys.from_master(SECRET)
    leaves = []
    for account, vec in rows:
        salt = keys.leaf_salt(sid, bucket, account)
        leaves.append((enc.leaf_hash(sid, bucket, salt, account, vec), vec, salt))
    level = [(h, v) for h, v, _ in leaves]
    levels = [level]
    while len(level) > 1:
        level = [_parent(level[i], level[i + 1], "fixture") for i in range(0, len(level), 2)]
        levels.append(level)
    root_hash, root_vec = levels[-1][0]
    height = len(levels) - 1
    summary = values_for(cfg).summary(bucket, kind, height, root_hash, root_vec)
    root, _ = compute_root(cfg, [summary])
    snap = Snapshot(cfg, (summary,), root)

    def proof(i: int) -> dict:
        _, vec, salt = leaves[i]
        path = [levels[lvl][(i >> lvl) ^ 1] for lvl in range(height)]
        node = lambda n: {"hash": n[0].hex(), "equity": {"BTC": str(n[1][0]), "USDT": str(n[1][1])},  # noqa: E731
                          "debt": {"BTC": str(n[1][2]), "USDT": str(n[1][3])}}
        return {"format": "por-inclusion-proof", "version": 2, "mode": "public",
                "snapshot": {"metadata": cfg.to_dict(), "root": root.hex()}, "account_id": rows[i][0],
                "entries": [{"bucket": bucket, "height": height, "index": i, "salt": salt.hex(),
                             "equity": {"BTC": str(vec[0]), "USDT": str(vec[1])},
                             "debt": {"BTC": str(vec[2]), "USDT": str(vec[3])},
                             "path": [node(n) for n in path], "top_index": 0, "top_path": []}]}

    return snap, proof


def test_debt_hidden_in_a_segregated_bucket_is_caught() -> None:
    """A prover lends segregated client funds: a (well-collateralised) debt leaf in a no-debt bucket."""
    rows = [("alice", [10**8, 0, 0, 0]), ("borrower", [0, 200_000 * 10**6, 10**8, 0])]
    snap, proof = _hand_built("evil-seg", "seg", "segregated", rows, {"seg": False})
    with pytest.raises(VerificationFailed, match="without allow_debt carries debt .*path\\[0\\]|path\\[0\\].*debt"):
        verify_proof(proof(0), root=snap.root)
    with pytest.raises(VerificationFailed, match="does not allow debts"):
        snapshot_from_dict(json.loads(canonical_json(snap.to_dict())))
    # the honest variant (no debt) verifies: the fixture is sound
    snap, proof = _hand_built("ok-seg", "seg", "segregated", [rows[0], ("borrower", [0, 5, 0, 0])], {"seg": False})
    verify_proof(proof(0), root=snap.root)
    snapshot_from_dict(json.loads(canonical_json(snap.to_dict())))


def test_negative_leaf_with_healthy_sibling_caught_by_computed_node_and_own_leaf() -> None:
    """Four leaves, one owing more than the pair holds: its pair-node is negative; its owner fails too."""
    rows = [("a", [10**6, 0, 0, 0]), ("ghost", [0, 0, 10**8, 0]),
            ("b", [50 * 10**8, 0, 0, 0]), ("c", [0, 10**6, 0, 0])]
    snap, proof = _hand_built("evil-4", "cross", "cross-margin", rows, {"cross": True})
    with pytest.raises(VerificationFailed, match=r"path\[0\] \(sibling at level 0\): collateral value is negative"):
        verify_proof(proof(0), root=snap.root)
    with pytest.raises(VerificationFailed, match=r"path\[1\] \(sibling at level 1\)"):
        verify_proof(proof(2), root=snap.root)
    with pytest.raises(VerificationFailed, match="own leaf"):
        verify_proof(proof(1), root=snap.root)
    snapshot_from_dict(json.loads(canonical_json(snap.to_dict())))  # the totals alone look fine


# ---------------------------------------------------------------- property: what por build accepts

BTC, ETH, USDT = 10**8, 10**9, 10**6
P_CONFIG = CONFIG.replace('snapshot_id = "margin-2026-11-20"', 'snapshot_id = "prop"')
P_PARAMS = parse_config(tomllib.loads(P_CONFIG)).margin
P_DEC = (8, 9, 6)


@st.composite
def ledgers(draw: st.DrawFn) -> list[tuple[str, str, tuple[int, int, int]]]:
    rows = []
    for bucket in ("cross", "pm", "spot"):
        n = draw(st.integers(0 if bucket != "cross" else 1, 5))
        for i in range(n):
            signed = bucket != "spot"
            amounts = []
            for unit in (BTC, ETH, USDT):
                hi = draw(st.sampled_from([unit // 100, unit * 10, unit * 1000, unit * 10**7]))
                lo = -hi if signed and draw(st.booleans()) else 0
                amounts.append(draw(st.integers(lo, hi)))
            rows.append((f"u{i}", bucket, tuple(amounts)))
    return rows


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ledgers())
def test_property_accepted_ledgers_are_solvent_per_bucket(rows: list) -> None:
    text = "account_id,bucket,BTC,ETH,USDT\n" + "".join(
        f"{acc},{b},{','.join(format_amount(v, d) for v, d in zip(am, P_DEC))}\n" for acc, b, am in rows)
    rule_ok = all(ref_value(P_PARAMS, [max(v, 0) for v in am], [max(-v, 0) for v in am], tiered=True) >= 0
                  for _, _, am in rows)
    with tempfile.TemporaryDirectory() as d:
        led = Path(d) / "ledger.csv"
        led.write_text(text)
        cfg = parse_config(tomllib.loads(P_CONFIG))
        try:
            snap, _, _ = build_trees(cfg, led, SECRET)
        except BadInput as exc:
            assert not rule_ok and "undercollateralised" in exc.reason
            return
    assert rule_ok
    prices = [Fraction(p.text) for p in P_PARAMS.prices]
    for b in snap.buckets:
        mine = [am for _, bucket, am in rows if bucket == b.id]
        eq = tuple(sum(max(am[i], 0) for am in mine) for i in range(3))
        de = tuple(sum(max(-am[i], 0) for am in mine) for i in range(3))
        assert (b.equity, b.debt, b.totals) == (eq, de, tuple(max(x - y, 0) for x, y in zip(eq, de)))
        net_value = sum(prices[i] * (eq[i] - de[i]) / 10 ** P_DEC[i] for i in range(3))
        assert net_value >= 0
        assert collateral_value(b.equity, b.debt, P_PARAMS) >= 0
    snapshot_from_dict(json.loads(canonical_json(snap.to_dict())))


# ---------------------------------------------------------------- rounding boundaries through the CLI

def _two_asset_config(x: str, y: str, haircut_x: str | None = None, decimals: tuple[int, int] = (0, 0),
                      extra: str = "") -> str:
    coll = f'[collateral]\nX = "{haircut_x}"\n' if haircut_x is not None else ""
    return (f'snapshot_id = "bounds"\nas_of = "2026-11-20T00:00:00Z"\n[assets]\nX = {decimals[0]}\n'
            f'Y = {decimals[1]}\n{extra}[prices]\nX = "{x}"\nY = "{y}"\n'
            + ("Z = \"1\"\n" if "Z = 0" in extra else "") + coll
            + '[buckets.m]\nkind = "cross-margin"\nallow_debt = true\n')


@pytest.mark.parametrize("ledger, shortfall", [
    ("a,m,2,-3\n", None),          # haircut 0: 2 X at 3 = 3 Y at 2 exactly -> value 0, accepted
    ("a,m,2,-4\n", "2"),           # one more minor unit of debt: short by exactly the price of 1 Y
    ("a,m,0,-1\n", "2"),           # a 1-minor-unit debt alone
    ("a,m,1,0\nb,m,0,0\n", None),  # no debt at all
])
def test_haircut_zero_boundary(cli, tmp_path: Path, ledger: str, shortfall: str | None) -> None:
    res = cli_build(cli, tmp_path, "account_id,bucket,X,Y\n" + ledger, _two_asset_config("3", "2"), "--json")
    if shortfall is None:
        assert res.exit_code == 0, res.output
    else:
        assert res.exit_code == 2 and f"shortfall {shortfall} quote units" in json.loads(res.stdout)["reason"]


def test_haircut_just_under_one_boundary(cli, tmp_path: Path) -> None:
    """Haircut 0.99999999999999 (14 digits) is the most the factor bound allows for BTC at 100000."""
    nines = "0." + "9" * 14
    config = _two_asset_config("100000", "1", nines, (8, 6))
    # 1000 X of collateral is worth exactly 1 minor unit of Y: accepted at value 0
    res = cli_build(cli, tmp_path / "a", "account_id,bucket,X,Y\na,m,1000,-0.000001\n", config, "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["snapshot"]["metadata"]["margin"]["scale"] == 22
    # one satoshi less: short by 10^5 units of 10^-22
    res = cli_build(cli, tmp_path / "b", "account_id,bucket,X,Y\na,m,999.99999999,-0.000001\n", config, "--json")
    assert res.exit_code == 2 and "shortfall 0.00000000000000001 quote units" in json.loads(res.stdout)["reason"]
    # one more haircut digit breaks the factor bound (sum f_debt >= 2^64): refused naming the price
    res = cli_build(cli, tmp_path / "c", "account_id,bucket,X,Y\na,m,1,0\n",
                    _two_asset_config("100000", "1", nines + "9", (8, 6)), "--json")
    assert res.exit_code == 2 and json.loads(res.stdout)["field"] == "prices.X"


def test_values_near_two_to_the_64(cli, tmp_path: Path) -> None:
    top = 2**64 - 1
    config = _two_asset_config("1", "1", extra="Z = 0\n")
    ledger = f"account_id,bucket,X,Y,Z\na,m,{top},-{top},0\n"
    res = cli_build(cli, tmp_path / "a", ledger, config, "--json")
    assert res.exit_code == 0, res.output
    b = json.loads(res.stdout)["snapshot"]["buckets"][0]
    assert (b["equity"]["X"], b["debt"]["Y"], b["requirement"]["X"], b["requirement"]["Y"]) == (
        str(top), str(top), str(top), "0")
    res = cli("prove", tmp_path / "a" / "snap", "--account", "a", "--out", tmp_path / "a.json")
    assert res.exit_code == 0
    res = cli("verify", tmp_path / "a.json", "--snapshot", tmp_path / "a" / "snap" / "snapshot.json",
              "--expect", f"Y=-{top}", "--expect", f"X={top}", "--json")
    assert res.exit_code == 0, res.output
    # one more minor unit of Y debt in the bucket reaches 2^64: refused naming the line
    res = cli_build(cli, tmp_path / "b", ledger + "b,m,0,-1,5\n", config, "--json")
    err = json.loads(res.stdout)
    assert res.exit_code == 2 and err["line"] == 3 and "total of Y debt in bucket 'm' reaches 2^64" in err["reason"]
    # a single debt of 2^64
    res = cli_build(cli, tmp_path / "c", f"account_id,bucket,X,Y,Z\na,m,0,-{top + 1},0\n", config, "--json")
    assert res.exit_code == 2 and "2^64 minor units or more" in json.loads(res.stdout)["reason"]


# ---------------------------------------------------------------- reserves, audit, report

def _btc_reserves(tmp: Path, snap: Snapshot, amounts: list[int]) -> Path:
    """A reserves.json of regtest addresses (one per amount, all backing bucket cross) and its UTXO file."""
    from por.reserves.attestation import ownership_message
    from por.reserves.bitcoin import address_for, sign_message_legacy

    entries, utxos = [], []
    for i, sats in enumerate(amounts):
        key = (i + 1).to_bytes(32, "big")
        addr = address_for(key, "p2wpkh", "regtest")
        msg = ownership_message(snap.config.snapshot_id, snap.root, "bitcoin", addr, 150)
        entries.append({"chain": "bitcoin", "address": addr, "bucket": "cross",
                        "assets": [{"asset": "BTC", "kind": "native"}],
                        "signature": sign_message_legacy(key, msg, address=addr)})
        utxos.append({"txid": f"{i + 1:064x}", "vout": 0, "address": addr, "value_sats": str(sats)})
    (tmp / "utxos.json").write_text(json.dumps({
        "format": "por-utxo-snapshot", "version": 1, "network": "regtest", "height": 150,
        "block_hash": "00" * 32, "utxos": utxos}))
    p = tmp / "reserves.json"
    p.write_text(json.dumps({"format": "por-reserves", "version": 1, "snapshot_id": snap.config.snapshot_id,
                             "root": snap.root.hex(),
                             "chains": {"bitcoin": {"height": 150, "utxo_snapshot": "utxos.json",
                                                    "network": "regtest"}},
                             "addresses": entries}))
    return p


RES_CONFIG = """snapshot_id = "margin-reserves"
as_of = "2026-11-20T00:00:00Z"
[assets]
BTC = 8
USDT = 6
[prices]
BTC = "97123.45"
USDT = "1"
[buckets.cross]
kind = "cross-margin"
allow_debt = true
"""
RES_LEDGER = "account_id,bucket,BTC,USDT\nalice,cross,1,-50000\nbob,cross,2,10000\n"


@pytest.mark.parametrize("sats, solvent", [(300_000_000, True), (299_999_999, False)])
def test_reserves_cover_the_requirement_not_the_equity(cli, tmp_path: Path, sats: int, solvent: bool) -> None:
    """BTC requirement 3 BTC; USDT equity 10000 but debt 50000: no USDT reserves are needed."""
    res = cli_build(cli, tmp_path, RES_LEDGER, RES_CONFIG)
    assert res.exit_code == 0, res.output
    snap = load_snapshot(tmp_path / "snap")
    reserves = _btc_reserves(tmp_path, snap, [sats // 2, sats - sats // 2])
    res = cli("reserves", "verify", "--snapshot", tmp_path / "snap" / "snapshot.json", "--reserves", reserves,
              "--json")
    assert res.exit_code == (0 if solvent else 1), res.output
    doc = json.loads(res.stdout)
    cov = {(c["bucket"], c["asset"]): c for c in doc["coverage"]}
    assert cov[("cross", "BTC")]["liabilities"] == "3" and cov[("cross", "BTC")]["covered"] is solvent
    assert cov[("cross", "USDT")] == {"bucket": "cross", "asset": "USDT", "liabilities": "0", "reserves": "0",
                                      "ratio": "n/a (no liabilities)", "covered": True, "addresses": 0,
                                      "equity": "10000", "debt": "50000", "net": "-40000"}
    res = cli("reserves", "verify", "--snapshot", tmp_path / "snap" / "snapshot.json", "--reserves", reserves)
    text = flat(res.output)
    assert "liabilities = requirement = max(equity - debt, 0)" in text
    assert ("SOLVENT AND SEGREGATED" in text) is solvent
    # the library view: segregation liabilities are the requirements
    seg = check_segregation(snap, [Holding("bitcoin", "x", "cross", "BTC", sats)])
    assert [c.liabilities for c in seg.coverage] == [300_000_000, 0] and seg.solvent is solvent


def test_audit_rebuilds_and_compares_equity_debt_requirement(cli, tmp_path: Path) -> None:
    assert cli_build(cli, tmp_path, RES_LEDGER, RES_CONFIG).exit_code == 0
    snap = load_snapshot(tmp_path / "snap")
    assert cli("prove", tmp_path / "snap", "--all", "--out", tmp_path / "proofs").exit_code == 0
    reserves = _btc_reserves(tmp_path, snap, [300_000_000])
    args = ["audit", "--config", tmp_path / "snapshot.toml", "--ledger", tmp_path / "ledger.csv",
            "--secret", tmp_path / "secret.key", "--snapshot", tmp_path / "snap" / "snapshot.json",
            "--proofs", tmp_path / "proofs", "--reserves", reserves]
    res = cli(*args, "--report", tmp_path / "report", "--json")
    assert res.exit_code == 0, res.output
    names = {c["name"]: c for c in json.loads(res.stdout)["checks"]}
    assert {"bucket cross equity", "bucket cross debt", "bucket cross requirement", "bucket cross root",
            "exported proofs", "coverage cross/BTC", "snapshot root"} <= set(names)
    assert "requirement (equity 3 - debt 0)" in names["coverage cross/BTC"]["detail"]
    html = (tmp_path / "report" / "report.html").read_text()
    assert "<th class='num'>equity</th>" in html and "-40000" in html and "requirement" in html
    # a ledger whose debt changed after publication
    (tmp_path / "ledger.csv").write_text(RES_LEDGER.replace("-50000", "-40000"))
    res = cli(*args, "--json")
    failed = {c["name"] for c in json.loads(res.stdout)["checks"] if not c["ok"]}
    assert res.exit_code == 1 and {"bucket cross debt", "bucket cross root", "snapshot root"} <= failed
    assert "bucket cross equity" not in failed
    # a config whose price changed after publication
    (tmp_path / "ledger.csv").write_text(RES_LEDGER)
    (tmp_path / "snapshot.toml").write_text(RES_CONFIG.replace('"97123.45"', '"97123.46"'))
    res = cli(*args, "--json")
    checks = {c["name"]: c for c in json.loads(res.stdout)["checks"]}
    assert res.exit_code == 1 and not checks["config matches snapshot metadata"]["ok"]
    assert "prices, haircuts or allow_debt" in checks["config matches snapshot metadata"]["detail"]


def test_report_without_reserves_shows_margin_liabilities(tmp_path: Path, msnap: Path) -> None:
    from por.audit.audit import full_audit
    from por.audit.report import render_html

    cfg, led, _ = write_inputs(tmp_path, LEDGER)
    result = full_audit(cfg, led, SECRET, msnap / "snapshot.json")
    assert result.ok, [c for c in result.report.checks if not c.ok]
    html = render_html(result)
    assert "Liabilities per bucket and asset (margin accounts)" in html and "-10099999.999999" in html


# ---------------------------------------------------------------- vectors: code and SPEC text agree

MVEC = json.loads((MV / "vectors.json").read_text())


def test_code_reproduces_the_margin_vectors(tmp_path: Path) -> None:
    secret = load_secret(VECTORS / "secret.key")
    assert secret == bytes(range(32))
    build_snapshot(MV / "snapshot.toml", MV / "ledger.csv", tmp_path / "o", secret=secret)
    assert (tmp_path / "o" / "snapshot.json").read_bytes() == (MV / "expected-snapshot.json").read_bytes()
    p = Prover(tmp_path / "o")
    assert canonical_json(p.prove("alice")) == (MV / "proof-alice.json").read_bytes()
    p.close()
    params = load_config(MV / "snapshot.toml").margin
    assert params.root_bytes().hex() == MVEC["margin"]["root_bytes"]


# A verifier written from SPEC.md §17 with hashlib and integers only (plus the §1-§8 helpers of
# tests/test_vectors.py, themselves written from SPEC.md).

def u16(n: int) -> bytes:
    return n.to_bytes(2, "big")


def spec_decimal(text: str) -> tuple[int, int]:
    """A canonical decimal -> (integer, fraction digits) (§17.2)."""
    assert re.fullmatch(r"(0|[1-9][0-9]*)(\.[0-9]*[1-9])?", text)
    whole, _, frac = text.partition(".")
    return int(whole + frac), len(frac)


def spec_factors(meta: dict) -> dict:
    """§17.3 from the metadata: scale, per-asset tier factors g, bounds B (minor units) and f_debt."""
    decimals = {a["symbol"]: a["decimals"] for a in meta["assets"]}
    margin = meta["margin"]
    j = max(spec_decimal(t["haircut"])[1] for a in margin["assets"] for t in a["tiers"])
    scale = max(decimals[a["symbol"]] + spec_decimal(a["price"])[1] for a in margin["assets"]) + j
    g, bounds, f_debt = [], [], []
    for a in margin["assets"]:
        d = decimals[a["symbol"]]
        pi, k = spec_decimal(a["price"])
        hs = [spec_decimal(t["haircut"]) for t in a["tiers"]]
        g.append([pi * 10 ** (scale - d - k - j) * (10**j - h * 10 ** (j - hk)) for h, hk in hs])
        bounds.append([u * 10 ** (d - uk) for u, uk in (spec_decimal(t["up_to"]) for t in a["tiers"][:-1])])
        f_debt.append(pi * 10 ** (scale - d - k))
    assert sum(f_debt) < 2**64
    return {"scale": scale, "j": j, "g": g, "bounds": bounds, "f_debt": f_debt}


def spec_margin_bytes(meta: dict) -> bytes:
    """§17.7."""
    m = meta["margin"]
    out = tag("margin") + u16(len(m["assets"]))
    for a in m["assets"]:
        out += lp(a["symbol"]) + lp(a["price"]) + u16(len(a["tiers"]))
        for t in a["tiers"]:
            out += lp(t.get("up_to", "")) + lp(t["haircut"])
    out += u16(len(m["buckets"]))
    for b in m["buckets"]:
        out += lp(b["id"]) + bytes([1 if b["allow_debt"] else 0])
    return out


def spec_value(f: dict, equity: list[int], debt: list[int], *, tiered: bool) -> int:
    """§17.4: value_base or value_tiered, in 10^-S quote."""
    total = 0
    for a, (e, d) in enumerate(zip(equity, debt)):
        if tiered:
            lo = 0
            for i, g in enumerate(f["g"][a]):
                hi = f["bounds"][a][i] if i < len(f["bounds"][a]) else None
                total += g * max(0, (e if hi is None else min(e, hi)) - lo)
                if hi is None or e <= hi:
                    break
                lo = hi
        else:
            total += f["g"][a][0] * e
        total -= f["f_debt"][a] * d
    return total


def spec_verify_margin(proof: dict, trusted_root: bytes) -> dict[str, tuple[list[int], list[int]]]:
    """§17.10: recompute every entry up to the root with the collateral-value checks; asserts on failure."""
    assert proof["version"] == 2 and proof["mode"] == "public"
    meta = proof["snapshot"]["metadata"]
    f = spec_factors(meta)
    sid, symbols = meta["snapshot_id"], [a["symbol"] for a in meta["assets"]]
    n = len(symbols)
    buckets = meta["buckets"]
    allow = {b["id"]: b["allow_debt"] for b in meta["margin"]["buckets"]}
    top_h = (len(buckets) - 1).bit_length()

    def vec(obj: dict) -> list[int]:
        return [int(obj["equity"][s]) for s in symbols] + [int(obj["debt"][s]) for s in symbols]

    def ok(v: list[int], no_debt: bool) -> None:
        assert spec_value(f, v[:n], v[n:], tiered=False) >= 0
        assert not (no_debt and any(v[n:]))

    def node(lh: bytes, lv: list[int], rh: bytes, rv: list[int]) -> tuple[bytes, list[int]]:
        total = [x + y for x, y in zip(lv, rv)]
        assert all(t < 2**64 for t in total)
        return sha(tag("node") + lh + sums(lv) + rh + sums(rv)), total

    out = {}
    for e in proof["entries"]:
        no_debt = not allow[e["bucket"]]
        v = vec(e)
        ok(v, no_debt)
        assert spec_value(f, v[:n], v[n:], tiered=True) >= 0
        cur = (sha(tag("leaf") + lp(sid) + lp(e["bucket"]) + bytes.fromhex(e["salt"]) + lp(proof["account_id"])
                   + sums(v)), v)
        for lvl, sib in enumerate(e["path"]):
            s = (bytes.fromhex(sib["hash"]), vec(sib))
            ok(s[1], no_debt)
            cur = node(*s, *cur) if (e["index"] >> lvl) & 1 else node(*cur, *s)
            ok(cur[1], no_debt)
        kind = next(b["kind"] for b in buckets if b["id"] == e["bucket"])
        cur = (sha(tag("bucket") + lp(sid) + lp(e["bucket"]) + lp(kind) + bytes([e["height"]]) + cur[0]
                   + sums(cur[1])), cur[1])
        for lvl, sib in enumerate(e["top_path"]):
            s = (bytes.fromhex(sib["hash"]), vec(sib))
            ok(s[1], False)
            cur = node(*s, *cur) if (e["top_index"] >> lvl) & 1 else node(*cur, *s)
            ok(cur[1], False)
        pre = tag("root") + u16(2) + lp("public") + lp(sid) + lp(meta["as_of"])
        pre += u16(len(meta["assets"])) + b"".join(lp(a["symbol"]) + bytes([a["decimals"]]) for a in meta["assets"])
        pre += u16(len(buckets)) + b"".join(lp(b["id"]) + lp(b["kind"]) for b in buckets)
        pre += bytes([top_h]) + cur[0] + sums(cur[1]) + spec_margin_bytes(meta)
        assert sha(pre) == trusted_root
        out[e["bucket"]] = (v[:n], v[n:])
    return out


def test_spec_factors_bytes_and_values_match_the_vectors() -> None:
    snap = json.loads((MV / "expected-snapshot.json").read_text())
    meta = snap["metadata"]
    f = spec_factors(meta)
    m = MVEC["margin"]
    assert (f["scale"], f["j"]) == (m["scale"], m["haircut_digits"]) == (meta["margin"]["scale"], 2)
    assert [str(g[0]) for g in f["g"]] == m["f_eq"] == [a["f_eq"] for a in meta["margin"]["assets"]]
    assert [str(x) for x in f["f_debt"]] == m["f_debt"] == [a["f_debt"] for a in meta["margin"]["assets"]]
    assert [[str(x) for x in g] for g in f["g"]] == m["tier_factors"]
    assert [[str(x) for x in b] for b in f["bounds"]] == m["tier_bounds"]
    assert spec_margin_bytes(meta).hex() == m["root_bytes"]
    assert spec_margin_bytes(meta)[:17].hex() == "0000000d706f722f76312f6d617267696e"
    a = MVEC["alice_main"]
    assert str(spec_value(f, a["equity"], a["debt"], tiered=False)) == a["value_base"]
    assert str(spec_value(f, a["equity"], a["debt"], tiered=True)) == a["value_tiered"]
    r = MVEC["rejected_row"]
    value = spec_value(f, r["equity"], r["debt"], tiered=True)
    assert str(value) == r["value_tiered"] and value < 0
    assert Fraction(-value, 10 ** f["scale"]) == Fraction(r["shortfall"]) == Fraction("8023.45")


def test_spec_draft_example_of_section_17_7() -> None:
    """The worked example of §17.7 (assets X, Y; buckets b1, b2)."""
    meta = {"assets": [{"symbol": "X", "decimals": 2}, {"symbol": "Y", "decimals": 0}],
            "margin": {"assets": [{"symbol": "X", "price": "2.5",
                                   "tiers": [{"up_to": "10", "haircut": "0.1"}, {"haircut": "0.25"}]},
                                  {"symbol": "Y", "price": "1", "tiers": [{"haircut": "0"}]}],
                       "buckets": [{"id": "b1", "allow_debt": False}, {"id": "b2", "allow_debt": True}]}}
    f = spec_factors(meta)
    assert (f["scale"], f["g"], f["f_debt"], f["bounds"]) == (5, [[2250, 1875], [100000]], [2500, 100000],
                                                               [[1000], []])
    expected = """
        0000000d706f722f76312f6d617267696e 0002
        00000001 58 00000003 322e35 0002 00000002 3130 00000003 302e31 00000000 00000004 302e3235
        00000001 59 00000001 31 0001 00000000 00000001 30
        0002 00000002 6231 00 00000002 6232 01
    """
    assert spec_margin_bytes(meta).hex() == "".join(expected.split())
    assert -spec_value(f, [1500, 0], [0, 2000], tiered=True) == 196812500


def test_spec_leaf_node_bucket_and_root_preimages() -> None:
    secret = bytes.fromhex(MVEC["master_secret"])
    k_salt = hkdf(secret, "leaf-salt")
    salt = hmac.new(k_salt, lp("margin-vector-1") + lp("main") + lp("alice"), "sha256").digest()
    a = MVEC["alice_main"]
    assert salt.hex() == a["salt"]
    leaf = tag("leaf") + lp("margin-vector-1") + lp("main") + salt + lp("alice") + sums(a["equity"] + a["debt"])
    assert leaf.hex() == a["leaf_preimage"] and sha(leaf).hex() == a["leaf_hash"]
    assert leaf[-34:-32] == u16(4)  # 2A values
    ne = MVEC["node_example"]
    pre = tag("node") + bytes.fromhex(ne["left_hash"]) + sums(ne["left_values"]) + bytes.fromhex(ne["right_hash"]) \
        + sums(ne["right_values"])
    assert pre.hex() == ne["preimage"] and sha(pre).hex() == ne["hash"]
    assert max(x + y for x, y in zip(ne["left_values"], ne["right_values"])) == 2**64 - 4
    snap = json.loads((MV / "expected-snapshot.json").read_text())
    meta = snap["metadata"]
    symbols = [x["symbol"] for x in meta["assets"]]
    main = next(b for b in snap["buckets"] if b["id"] == "main")
    bv = [int(main["equity"][s]) for s in symbols] + [int(main["debt"][s]) for s in symbols]
    bl = tag("bucket") + lp("margin-vector-1") + lp("main") + lp(main["kind"]) + bytes([main["height"]]) \
        + bytes.fromhex(main["root"]) + sums(bv)
    assert bl.hex() == MVEC["main_bucket_leaf_preimage"]
    # the snapshot root from snapshot.json alone (§17.8, §17.9)
    leaves = []
    for b in snap["buckets"]:
        v = [int(b["equity"][s]) for s in symbols] + [int(b["debt"][s]) for s in symbols]
        assert [int(b["requirement"][s]) for s in symbols] == [max(v[i] - v[i + 2], 0) for i in range(2)]
        leaves.append((sha(tag("bucket") + lp(meta["snapshot_id"]) + lp(b["id"]) + lp(b["kind"])
                           + bytes([b["height"]]) + bytes.fromhex(b["root"]) + sums(v)), v))
    assert len(leaves) == 2
    top_hash = sha(tag("node") + leaves[0][0] + sums(leaves[0][1]) + leaves[1][0] + sums(leaves[1][1]))
    top_v = [x + y for x, y in zip(leaves[0][1], leaves[1][1])]
    assert [str(x) for x in top_v] == [snap["equity"][s] for s in symbols] + [snap["debt"][s] for s in symbols]
    pre = tag("root") + u16(2) + lp("public") + lp(meta["snapshot_id"]) + lp(meta["as_of"]) + u16(2)
    pre += b"".join(lp(x["symbol"]) + bytes([x["decimals"]]) for x in meta["assets"])
    pre += u16(2) + b"".join(lp(x["id"]) + lp(x["kind"]) for x in meta["buckets"])
    pre += bytes([1]) + top_hash + sums(top_v) + spec_margin_bytes(meta)
    assert pre.hex() == MVEC["root_preimage"] and sha(pre).hex() == MVEC["snapshot_root"] == snap["root"]


def test_spec_verifier_accepts_the_stored_proof_and_rejects_tampering() -> None:
    proof = json.loads((MV / "proof-alice.json").read_text())
    root = bytes.fromhex(MVEC["snapshot_root"])
    got = spec_verify_margin(proof, root)
    assert got == {"main": ([50_000_000, 0], [0, 10_000_000_000])}
    verify_proof(proof, root=root)  # and por agrees
    for path in _numeric_fields(proof):
        bad = _set(proof, path, str(int(_get(proof, path)) + 1))
        with pytest.raises(AssertionError):
            spec_verify_margin(bad, root)
        with pytest.raises(VerificationFailed):
            verify_proof(bad, root=root)
    for change in (lambda m: m["margin"]["assets"][0].update(price="97123.5"),
                   lambda m: m["margin"]["buckets"][1].update(allow_debt=True),
                   lambda m: m["margin"]["assets"][1]["tiers"][0].update(haircut="0.02")):
        bad = copy.deepcopy(proof)
        change(bad["snapshot"]["metadata"])
        with pytest.raises(AssertionError):
            spec_verify_margin(bad, root)
