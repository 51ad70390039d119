"""`por reserves verify` against a faulty Ethereum JSON-RPC server on loopback (tests/faulty_rpc.py).

Whatever the node does -- garbage, a timeout, a reply that trickles in, another chain, another block, a
malformed quantity -- the verdict is exit 3 (service unavailable) or exit 1 (verification failed) with the
reason, never a wrong verdict and never a traceback. The honest server gives exit 0.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from por.cli.app import app
from por.reserves.attestation import ownership_message
from por.reserves.chain import account_from_key
from por.reserves.ethereum import sign_message
from por.snapshot import build_snapshot

from .conftest import SECRET
from .faulty_rpc import FAULTS, FaultyRpc

CONFIG = """snapshot_id = "rpc-faults-1"
as_of = "2026-11-20T00:00:00Z"
[assets]
ETH = 9
[buckets.cross]
kind = "cross-margin"
"""
KEYS = [bytes([i]) * 32 for i in (1, 2)]
BLOCK = 7

EXPECTED = {  # fault -> (exit code, words of the reason)
    "garbage": (3, "not JSON"),
    "html_502": (3, "HTTP 502"),
    "not_jsonrpc": (3, "not JSON-RPC"),
    "batch": (3, "not JSON-RPC"),
    "deep": (3, "not JSON"),
    "huge": (3, "more than 16777216 bytes"),
    "close": (3, "Ethereum RPC"),
    "wrong_id": (3, "answered request"),
    "error": (3, "internal error"),
    "missing_block": (3, "header not found"),
    "head_behind": (3, "in the future"),
    "wrong_chain": (3, "serves chain id 1, not the attested chain id 31337"),
    "wrong_block": (3, "answered block 8 when asked for block 7"),
    "bad_hash": (3, "malformed hash of block 7"),
    "bad_balance": (3, "malformed eth_getBalance"),
    "number_balance": (3, "malformed eth_getBalance"),
    "null_balance": (3, "malformed eth_getBalance"),
    "slow": (3, "timed out"),
    "dribble": (3, "timed out"),
    "contract_garbage": (1, "EIP-1271"),
}


@pytest.fixture(scope="module")
def attested(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, int]]:
    d = tmp_path_factory.mktemp("rpc")
    (d / "snapshot.toml").write_text(CONFIG)
    (d / "ledger.csv").write_text("account_id,bucket,ETH\nalice,cross,4000\nbob,cross,999.5\n")
    snap = build_snapshot(d / "snapshot.toml", d / "ledger.csv", d / "snap", secret=SECRET).snapshot
    sid = snap.config.snapshot_id
    entries, balances = [], {}
    for key in KEYS:
        address = account_from_key(key).address
        balances[address] = 3000 * 10**18
        entries.append({"chain": "ethereum", "address": address, "bucket": "cross",
                        "assets": [{"asset": "ETH", "kind": "native"}],
                        "signature": sign_message(key, ownership_message(sid, snap.root, "ethereum", address, BLOCK))})
    res = d / "reserves.json"
    res.write_text(json.dumps({"format": "por-reserves", "version": 1, "snapshot_id": sid, "root": snap.root.hex(),
                               "chains": {"ethereum": {"block": BLOCK, "chain_id": 31337}}, "addresses": entries}))
    return d / "snap" / "snapshot.json", res, balances


def _verify(attested, url: str, *extra: str):
    snap, res, _ = attested
    return CliRunner().invoke(app, ["reserves", "verify", "--snapshot", str(snap), "--reserves", str(res),
                                    "--rpc", url, "--rpc-timeout", "1", *extra])


def test_the_honest_server_gives_a_solvent_verdict(attested) -> None:
    with FaultyRpc(attested[2]) as rpc:
        r = _verify(attested, rpc.url)
    assert r.exit_code == 0, r.output
    assert "SOLVENT AND SEGREGATED" in r.output
    assert {"eth_chainId", "eth_getBlockByNumber", "eth_getCode", "eth_getBalance"} <= set(rpc.calls)


def test_every_fault_is_covered() -> None:
    assert set(EXPECTED) == set(FAULTS)


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_faulty_rpc_never_gives_a_verdict_it_cannot_back(attested, fault: str) -> None:
    code, words = EXPECTED[fault]
    t = time.monotonic()
    with FaultyRpc(attested[2], fault) as rpc:
        r = _verify(attested, rpc.url, "--json")
    elapsed = time.monotonic() - t
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    assert r.exit_code == code, (fault, r.exit_code, r.output)
    assert words in r.output, (fault, r.output)
    assert elapsed < 8, f"{fault}: {elapsed:.1f} s with a 1 s RPC timeout"
    doc = json.loads(r.output)
    assert doc.get("ok") is not True


def test_a_lower_balance_is_a_shortfall_not_a_service_error(attested) -> None:
    """The control: an honest node whose balances do not cover the liabilities gives exit 1 (short)."""
    low = {a: 1 for a in attested[2]}
    with FaultyRpc(low) as rpc:
        r = _verify(attested, rpc.url)
    assert r.exit_code == 1 and "SHORT" in r.output, r.output


def test_an_unpinned_chain_id_is_not_checked(attested, tmp_path: Path) -> None:
    """Without chains.ethereum.chain_id the node's chain is not asked (reserves.json of before keep verifying)."""
    snap, res, balances = attested
    doc = json.loads(res.read_text())
    del doc["chains"]["ethereum"]["chain_id"]
    loose = tmp_path / "reserves.json"
    loose.write_text(json.dumps(doc))
    with FaultyRpc(balances, "wrong_chain") as rpc:
        r = CliRunner().invoke(app, ["reserves", "verify", "--snapshot", str(snap), "--reserves", str(loose),
                                     "--rpc", rpc.url])
    assert r.exit_code == 0, r.output
    assert "eth_chainId" not in rpc.calls
