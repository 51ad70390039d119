"""Ethereum reserves, Chainlink feeds and root anchoring against a real local anvil (tests/anvil.py).

Tests marked ``chain`` use the session's anvil; the others (message format, reserves.json parser,
unit conversion, RPC error mapping against a fake server) run without it.
"""

from __future__ import annotations

import http.server
import json
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_utils import keccak

from por.reserves import anchor
from por.reserves.chain import RpcClient, check_address, decode_result, encode_call, load_artifact
from por.core.errors import BadInput, ServiceUnavailable, VerificationFailed
from por.reserves import load_reserves, ownership_message, parse_reserves
from por.reserves.ethereum import (
    check_feed_age,
    eip191_hash,
    feed_to_ledger_units,
    read_feed,
    sign_message,
    to_ledger_units,
    vault_signature,
    verify_ethereum,
)

ROOT = Path(__file__).resolve().parents[1]
SNAP = "acme-2026-11-20"
ROOT_A = bytes(range(32))
ROOT_B = bytes(range(1, 33))
LEDGER_DECIMALS = {"ETH": 8, "USDT": 6, "WEI9": 9}
ETH = 10**18

chain = pytest.mark.chain


# ---------------------------------------------------------------------- helpers


def fresh_account(tag: str):
    """A deterministic new account (not one of anvil's funded defaults)."""
    return Account.from_key(keccak(text=f"por test account {tag}"))


class World:
    """Contracts deployed once per module on the session's anvil."""

    def __init__(self, node) -> None:
        self.node = node
        self.rpc: RpcClient = node.rpc()
        self.deployer = node.keys[0]
        self.funder = node.keys[1]
        self.owners = [Account.from_key(k) for k in node.keys[2:5]]     # vault owners
        self.usdt = self.rpc.deploy(self.deployer, "TestToken", ["string", "string", "uint8"], ["Tether", "USDT", 6])
        self.wide = self.rpc.deploy(self.deployer, "TestToken", ["string", "string", "uint8"], ["Wide", "WIDE", 18])
        self.vault = self.rpc.deploy(self.deployer, "SegregatedVault", ["address[]", "uint256"],
                                     [[o.address for o in self.owners], 2])
        self.feed = self.rpc.deploy(self.deployer, "MockPorFeed", ["uint8", "string"], [8, "USDT reserves"])
        self.registry = anchor.deploy_registry(self.rpc, self.deployer)

    # chain actions -------------------------------------------------------------
    def send_eth(self, key, to: str, wei: int) -> int:
        return int(self.rpc.transact(key, to, value=wei)["blockNumber"], 16)

    def mint(self, token: str, to: str, amount: int) -> int:
        r = self.rpc.transact(self.deployer, token, encode_call("mint(address,uint256)", to, amount))
        return int(r["blockNumber"], 16)

    def token_transfer(self, key, token: str, to: str, amount: int) -> int:
        r = self.rpc.transact(key, token, encode_call("transfer(address,uint256)", to, amount))
        return int(r["blockNumber"], 16)

    def vault_execute(self, signers, to: str, value: int, data: bytes) -> int:
        nonce = decode_result(["uint256"], self.rpc.call(self.vault, encode_call("nonce()"), "latest"), what="nonce")[0]
        (h,) = decode_result(["bytes32"], self.rpc.call(
            self.vault, encode_call("transactionHash(address,uint256,bytes,uint256)", to, value, data, nonce),
            "latest"), what="transactionHash")
        sigs = b"".join(bytes(Account.unsafe_sign_hash(h, s.key).signature)
                        for s in sorted(signers, key=lambda a: int(a.address, 16)))
        r = self.rpc.transact(self.deployer, self.vault,
                              encode_call("execute(address,uint256,bytes,bytes)", to, value, data, sigs))
        return int(r["blockNumber"], 16)

    def head(self) -> int:
        return self.rpc.block_number()


@pytest.fixture(scope="module")
def world(anvil) -> World:
    return World(anvil)


Signer = Callable[[str], str]


def eoa_signer(acct) -> Signer:
    return lambda message: sign_message(acct, message)


def attest(block: int, entries: list[dict[str, Any]], *, snapshot_id: str = SNAP, root: bytes = ROOT_A,
           sign_snapshot_id: str | None = None, sign_root: bytes | None = None, sign_block: int | None = None):
    """Build and parse a reserves.json; each entry's ``sign`` callable signs its ownership message
    (optionally for another snapshot id / root / block, to test replay)."""
    addresses = []
    for e in entries:
        e = dict(e)
        sign: Signer = e.pop("sign")
        msg = ownership_message(sign_snapshot_id or snapshot_id, sign_root or root, "ethereum", e["address"],
                                block if sign_block is None else sign_block)
        addresses.append({**e, "chain": "ethereum", "signature": sign(msg)})
    doc = {"format": "por-reserves", "version": 1, "snapshot_id": snapshot_id, "root": root.hex(),
           "chains": {"ethereum": {"block": block}}, "addresses": addresses}
    return parse_reserves(json.loads(json.dumps(doc)))


def native() -> dict[str, str]:
    return {"asset": "ETH", "kind": "native"}


def usdt(world: World, decimals: int = 6) -> dict[str, Any]:
    return {"asset": "USDT", "kind": "erc20", "contract": world.usdt, "decimals": decimals}


def amounts(report) -> dict[tuple[str, str, str], int]:
    return {(h.address, h.bucket, h.asset): h.amount for h in report.holdings()}


# ---------------------------------------------------------------------- message and file format (no chain)


def test_ownership_message_exact_bytes() -> None:
    msg = ownership_message("acme-1", bytes(range(32)), "ethereum", "0xAbC0000000000000000000000000000000000001", 19)
    assert msg.encode() == (
        b"por reserves attestation v1\n"
        b"snapshot: acme-1\n"
        b"root: 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n"
        b"chain: ethereum\n"
        b"address: 0xAbC0000000000000000000000000000000000001\n"
        b"block: 19"
    )
    assert msg == ownership_message("acme-1", bytes(range(32)).hex(), "ethereum",
                                    "0xAbC0000000000000000000000000000000000001", 19)
    # EIP-191: keccak256("\x19Ethereum Signed Message:\n" + len + message)
    assert eip191_hash(msg) == keccak(b"\x19Ethereum Signed Message:\n" + str(len(msg)).encode() + msg.encode())
    # the vector of SPEC.md §12.1
    key = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
    vec = ownership_message("acme-2026-11-20", bytes(range(32)), "ethereum", Account.from_key(key).address, 19000000)
    assert len(vec.encode()) == 208
    assert eip191_hash(vec).hex() == "1e6741f94531b4fd747eb07423cf2d96b0e8a748dfe1bd76171d115d681200bf"
    assert sign_message(key, vec) == (
        "0x04102b442c56dcded231482755f3bc53d06ce250cac3e5510b373b5dc0b935bb"
        "5e26d4b3aa1764cd2e55f3317e4dac26b7a09701f66521e228893207bf29f5c61b")
    for bad in [dict(chain="litecoin"), dict(block=-1), dict(root="AB" * 32), dict(address="0xab\n"),
                dict(snapshot_id="-x")]:
        args = dict(snapshot_id="acme-1", root=bytes(32), chain="bitcoin", address="bc1qxyz0000000000", block=1)
        args.update(bad)
        with pytest.raises(BadInput):
            ownership_message(**args)


def _doc(**over: Any) -> dict[str, Any]:
    entry = {"chain": "ethereum", "address": "0x" + "11" * 20, "bucket": "cross",
             "assets": [{"asset": "ETH", "kind": "native"},
                        {"asset": "USDT", "kind": "erc20", "contract": "0x" + "22" * 20, "decimals": 6}],
             "signature": "0x" + "00" * 65}
    entry.update(over.pop("entry", {}))
    doc = {"format": "por-reserves", "version": 1, "snapshot_id": SNAP, "root": ROOT_A.hex(),
           "chains": {"ethereum": {"block": 7},
                      "bitcoin": {"height": 800000, "utxo_snapshot": "utxos.csv", "network": "regtest"}},
           "addresses": [entry, {"chain": "bitcoin", "address": "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080",
                                 "bucket": "proprietary", "assets": [{"asset": "BTC", "kind": "native"}],
                                 "signature": "H+abc/123=="}]}
    doc.update(over)
    return doc


def test_reserves_parser_accepts_and_round_trips(tmp_path: Path) -> None:
    p = tmp_path / "reserves.json"
    p.write_text(json.dumps(_doc()))
    r = load_reserves(p)
    assert r.snapshot_id == SNAP and r.root == ROOT_A and r.block("ethereum") == 7 and r.block("bitcoin") == 800000
    assert r.utxo_snapshot_path() == tmp_path / "utxos.csv"
    eth, btc = r.addresses
    assert [a.source for a in eth.assets] == ["native", "erc20 0x" + "22" * 20]
    assert eth.assets[0].decimals == 18 and btc.assets[0].decimals == 8
    assert r.message(btc).splitlines()[3:] == ["chain: bitcoin", f"address: {btc.address}", "block: 800000"]
    assert parse_reserves(r.to_dict()).to_dict() == r.to_dict()
    with pytest.raises(VerificationFailed):
        r.check_snapshot(SNAP, ROOT_B)
    with pytest.raises(VerificationFailed):
        r.check_snapshot("other", ROOT_A)
    r.check_snapshot(SNAP, ROOT_A)


@pytest.mark.parametrize("over, field", [
    (dict(format="por-snapshot"), "format"),
    (dict(version=2), "version"),
    (dict(root="00" * 31), "root"),
    (dict(extra=1), "extra"),
    (dict(chains={}), "chains"),
    (dict(chains={"ethereum": {"block": "7"}}), "chains.ethereum.block"),
    (dict(chains={"ethereum": {"block": 7}, "solana": {}}), "chains.solana"),
    (dict(addresses=[]), "addresses"),
    (dict(entry={"address": "0x" + "1" * 39}), "addresses[0].address"),
    (dict(entry={"address": "0xAbc0000000000000000000000000000000000001"}), "addresses[0].address"),  # bad EIP-55
    (dict(entry={"chain": "bitcoin"}), "addresses[0].address"),
    (dict(entry={"bucket": ""}), "addresses[0].bucket"),
    (dict(entry={"assets": []}), "addresses[0].assets"),
    (dict(entry={"assets": [{"asset": "USDT", "kind": "erc20", "contract": "0x" + "22" * 20}]}),
     "addresses[0].assets[0].decimals"),
    (dict(entry={"assets": [{"asset": "ETH", "kind": "native", "decimals": 6}]}), "addresses[0].assets[0].decimals"),
    (dict(entry={"assets": [{"asset": "ETH", "kind": "native"}, {"asset": "WETH", "kind": "native"}]}),
     "addresses[0].assets[1]"),
    (dict(entry={"assets": [{"asset": "ETH", "kind": "wrapped"}]}), "addresses[0].assets[0].kind"),
    (dict(entry={"signature": "0xzz"}), "addresses[0].signature"),
    (dict(entry={"signature": ""}), "addresses[0].signature"),
    (dict(entry={"signer": "nope"}), "addresses[0].signer"),
    (dict(entry={"memo": "x"}), "addresses[0].memo"),
])
def test_reserves_parser_rejects_naming_the_field(over: dict[str, Any], field: str) -> None:
    with pytest.raises(BadInput) as ei:
        parse_reserves(_doc(**over), file="r.json")
    assert ei.value.field == field, str(ei.value)
    assert ei.value.exit_code == 2 and "r.json" in str(ei.value)


def test_reserves_file_duplicate_keys_and_bad_json(tmp_path: Path) -> None:
    p = tmp_path / "r.json"
    p.write_text('{"format": "por-reserves", "format": "por-reserves"}')
    with pytest.raises(BadInput, match="duplicate key"):
        load_reserves(p)
    p.write_bytes(b"\xff")
    with pytest.raises(BadInput):
        load_reserves(p)
    with pytest.raises(BadInput):
        load_reserves(tmp_path / "missing.json")


def test_unit_conversion_rounds_down_exactly() -> None:
    assert to_ledger_units(1, 18, 9) == 0                   # 1 wei with 9 ledger decimals
    assert to_ledger_units(10**9 - 1, 18, 9) == 0
    assert to_ledger_units(10**9, 18, 9) == 1
    assert to_ledger_units(1_999_999_999, 18, 9) == 1
    assert to_ledger_units(15 * 10**17, 18, 8) == 150_000_000
    assert to_ledger_units(123, 6, 8) == 12_300             # more ledger decimals than chain decimals
    big = 2**256 - 1                                          # exact far beyond float precision
    assert to_ledger_units(big, 18, 8) == big // 10**10
    with pytest.raises(ValueError):
        to_ledger_units(-1, 18, 8)


# ---------------------------------------------------------------------- RPC failures (no chain)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _FakeNode(http.server.BaseHTTPRequestHandler):
    reply: bytes = b""
    status = 200

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(self.reply)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def fake_node() -> Iterator[Callable[[int, bytes], str]]:
    servers = []

    def start(status: int, reply: bytes) -> str:
        handler = type("H", (_FakeNode,), {"status": status, "reply": reply})
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(srv)
        return f"http://127.0.0.1:{srv.server_address[1]}"

    yield start
    for s in servers:
        s.shutdown()
        s.server_close()


def test_rpc_unreachable_is_service_unavailable() -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    rpc = RpcClient(url, timeout=2)
    with pytest.raises(ServiceUnavailable, match="unreachable") as ei:
        rpc.block_number()
    assert ei.value.exit_code == 3 and url in str(ei.value)
    reserves = attest(5, [{"address": "0x" + "11" * 20, "bucket": "b", "assets": [native()],
                           "sign": lambda m: "0x" + "00" * 65}])
    with pytest.raises(ServiceUnavailable):
        verify_ethereum(rpc, reserves, LEDGER_DECIMALS)
    with pytest.raises(ServiceUnavailable):
        anchor.check_anchor(rpc, "0x" + "33" * 20, SNAP, ROOT_A)


def test_rpc_timeout_is_service_unavailable() -> None:
    with socket.socket() as s:  # listens, never answers
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        rpc = RpcClient(f"http://127.0.0.1:{s.getsockname()[1]}", timeout=0.5)
        with pytest.raises(ServiceUnavailable, match="timed out"):
            rpc.block_number()


@pytest.mark.parametrize("status, reply, match", [
    (200, b'{"jsonrpc":"2.0","id":1,"error":{"code":-32000,"message":"header not found"}}', "header not found"),
    (200, b'{"jsonrpc":"2.0","id":1,"error":{"code":-32000,"message":"missing trie node 1234 (path )"}}',
     "archive node"),
    (200, b'{"jsonrpc":"2.0","id":1,"result":null}', "does not have block"),
    (200, b"<html>gateway</html>", "not JSON"),
    (200, b'{"jsonrpc":"2.0","id":1,"result":"0xzz"}', "malformed"),
    (502, b"bad gateway", "HTTP 502"),
    (429, b'{"error":"rate limited"}', "HTTP 429"),
])
def test_rpc_errors_are_service_unavailable(fake_node, status: int, reply: bytes, match: str) -> None:
    rpc = RpcClient(fake_node(status, reply), timeout=5)
    rpc._head = 100  # skip the head lookup so the block read itself hits the canned reply
    with pytest.raises(ServiceUnavailable, match=match) as ei:
        if b"result\":null" in reply:
            rpc.get_block(5)
        else:
            rpc.get_balance("0x" + "11" * 20, 5)
    assert "at block 5" in str(ei.value) or "block 5" in str(ei.value)


def test_rpc_bad_url_is_bad_input() -> None:
    with pytest.raises(BadInput):
        RpcClient("ftp://example")
    with pytest.raises(BadInput):
        RpcClient("127.0.0.1:8545")


# ---------------------------------------------------------------------- artifacts


@chain
def test_artifacts_match_sources() -> None:
    node = ROOT / "node_modules" / "solc"
    if not node.exists():
        pytest.fail("node_modules/solc missing: run scripts/setup-node.sh", pytrace=False)
    res = subprocess.run(["node", "contracts/compile.mjs", "--check"], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr + res.stdout
    assert load_artifact("PorRegistry")["compiler"]["version"].startswith("0.8.37+")


# ---------------------------------------------------------------------- signatures


@chain
def test_eoa_attestation_valid(world: World) -> None:
    acct = fresh_account("eoa-valid")
    world.send_eth(world.funder, acct.address, 3 * ETH // 2)
    world.mint(world.usdt, acct.address, 1_234_500_000)  # 1234.5 USDT
    block = world.head()
    reserves = attest(block, [{"address": acct.address, "bucket": "cross", "assets": [native(), usdt(world)],
                               "sign": eoa_signer(acct)}])
    report = verify_ethereum(world.rpc, reserves, LEDGER_DECIMALS)
    assert report.ok, report.failures
    (v,) = report.verified
    assert v.scheme == "eip191" and v.block == block
    assert amounts(report) == {(acct.address, "cross", "ETH"): 150_000_000,
                               (acct.address, "cross", "USDT"): 1_234_500_000}
    assert [b.chain_amount for b in v.balances] == [3 * ETH // 2, 1_234_500_000]
    assert {h.source for h in report.holdings()} == {"native", f"erc20 {world.usdt.lower()}"}
    report.raise_for_failures()
    # the address may be written in lowercase: the message signs it exactly as written
    low = attest(block, [{"address": acct.address.lower(), "bucket": "cross", "assets": [native()],
                          "sign": eoa_signer(acct)}])
    assert verify_ethereum(world.rpc, low, LEDGER_DECIMALS).ok


@chain
def test_vault_eip1271_attestation_valid(world: World) -> None:
    world.send_eth(world.funder, world.vault, 5 * ETH)
    world.mint(world.usdt, world.vault, 7_000_000)
    block = world.head()
    bal = world.rpc.get_balance(world.vault, block)
    two = world.owners[:2]
    reserves = attest(block, [{"address": world.vault, "bucket": "segregated-1", "assets": [native(), usdt(world)],
                               "signer": two[0].address, "sign": lambda m: vault_signature(two, m)}])
    report = verify_ethereum(world.rpc, reserves, LEDGER_DECIMALS)
    assert report.ok, report.failures
    (v,) = report.verified
    assert v.scheme == "eip1271"
    usdt_at_block = world.rpc.call(world.usdt, encode_call("balanceOf(address)", world.vault), block)
    assert amounts(report) == {(world.vault, "segregated-1", "ETH"): bal // 10**10,
                               (world.vault, "segregated-1", "USDT"): int.from_bytes(usdt_at_block, "big")}
    # the vault's isValidSignature really is the EIP-1271 check
    msg = reserves.message(reserves.addresses[0])
    ret = world.rpc.call(world.vault, encode_call("isValidSignature(bytes32,bytes)", eip191_hash(msg),
                                                  bytes.fromhex(vault_signature(two, msg)[2:])), block)
    assert ret[:4] == bytes.fromhex("1626ba7e")


@chain
@pytest.mark.parametrize("case", ["one-of-two", "non-owner", "unsorted", "other-message"])
def test_vault_eip1271_rejects(world: World, case: str) -> None:
    block = world.head()
    outsider = fresh_account("outsider")

    def sign(m: str) -> str:
        if case == "one-of-two":
            return vault_signature(world.owners[:1], m)
        if case == "non-owner":
            return vault_signature([world.owners[0], outsider], m)
        if case == "unsorted":
            a, b = sorted(world.owners[:2], key=lambda x: int(x.address, 16))
            return "0x" + sign_message(b, m)[2:] + sign_message(a, m)[2:]
        return vault_signature(world.owners[:2], m.replace(SNAP, "acme-2026-11-21"))

    reserves = attest(block, [{"address": world.vault, "bucket": "segregated-1", "assets": [native()], "sign": sign}])
    report = verify_ethereum(world.rpc, reserves, LEDGER_DECIMALS)
    assert not report.ok and not report.verified
    assert "EIP-1271" in str(report.failures[0]) and "0xffffffff" in str(report.failures[0])


@chain
def test_wrong_signer_is_verification_failure(world: World) -> None:
    acct, other = fresh_account("wrong-signer"), fresh_account("someone-else")
    world.send_eth(world.funder, acct.address, ETH)
    block = world.head()
    reserves = attest(block, [{"address": acct.address, "bucket": "cross", "assets": [native()],
                               "sign": eoa_signer(other)}])
    report = verify_ethereum(world.rpc, reserves, LEDGER_DECIMALS)
    assert not report.ok and report.verified == []
    (f,) = report.failures
    assert isinstance(f, VerificationFailed) and f.exit_code == 1
    assert other.address in str(f) and acct.address in str(f) and "addresses[0]" in str(f)
    with pytest.raises(VerificationFailed):
        report.raise_for_failures()
    # a garbage signature is a failure of that entry too (never a crash or a bad-input exit)
    junk = attest(block, [{"address": acct.address, "bucket": "cross", "assets": [native()],
                           "sign": lambda m: "0x1234"}])
    assert "not a valid 65-byte" in str(verify_ethereum(world.rpc, junk, LEDGER_DECIMALS).failures[0])
    # an EOA's declared signer must be the address itself
    liar = attest(block, [{"address": acct.address, "bucket": "cross", "assets": [native()],
                           "signer": other.address, "sign": eoa_signer(acct)}])
    assert "signer" in str(verify_ethereum(world.rpc, liar, LEDGER_DECIMALS).failures[0])


@chain
@pytest.mark.parametrize("replay", [dict(sign_snapshot_id="acme-2026-11-19"), dict(sign_root=ROOT_B),
                                    dict(sign_block=1)])
def test_signature_for_another_snapshot_root_or_block_rejected(world: World, replay: dict[str, Any]) -> None:
    acct = fresh_account("replay")
    world.send_eth(world.funder, acct.address, ETH)
    block = world.head()
    reserves = attest(block, [{"address": acct.address, "bucket": "cross", "assets": [native()],
                               "sign": eoa_signer(acct)}], **replay)
    report = verify_ethereum(world.rpc, reserves, LEDGER_DECIMALS)
    assert not report.ok and "not by the address" in str(report.failures[0])


@chain
def test_contract_deployed_after_the_block_is_not_an_owner_at_the_block(world: World) -> None:
    block = world.head()
    late = world.rpc.deploy(world.deployer, "SegregatedVault", ["address[]", "uint256"],
                            [[world.owners[0].address], 1])
    reserves = attest(block, [{"address": late, "bucket": "segregated-2", "assets": [native()],
                               "sign": lambda m: vault_signature(world.owners[:1], m)}])
    report = verify_ethereum(world.rpc, reserves, LEDGER_DECIMALS)
    assert not report.ok and f"an EOA at block {block}" in str(report.failures[0])
    # at a later block (where the code exists) the same kind of attestation verifies
    later = world.head()
    ok = attest(later, [{"address": late, "bucket": "segregated-2", "assets": [native()],
                         "sign": lambda m: vault_signature(world.owners[:1], m)}])
    assert verify_ethereum(world.rpc, ok, LEDGER_DECIMALS).ok


# ---------------------------------------------------------------------- balances at the block


@chain
def test_balance_is_read_at_the_snapshot_block(world: World) -> None:
    acct = fresh_account("moves")
    sink = fresh_account("sink").address
    world.send_eth(world.funder, acct.address, 2 * ETH)
    world.mint(world.usdt, acct.address, 5_000_000)
    snap_block = world.head()
    # after the snapshot block the funds move away ...
    world.send_eth(acct, sink, 3 * ETH // 2)
    world.token_transfer(acct, world.usdt, sink, 4_000_000)
    after = world.head()
    assert after > snap_block and world.rpc.get_balance(acct.address, after) < ETH // 2

    def report_at(block: int):
        reserves = attest(block, [{"address": acct.address, "bucket": "cross", "assets": [native(), usdt(world)],
                                   "sign": eoa_signer(acct)}])
        r = verify_ethereum(world.rpc, reserves, LEDGER_DECIMALS)
        assert r.ok, r.failures
        return amounts(r)

    # ... but the attestation for the snapshot block still counts what was there at that block
    assert report_at(snap_block) == {(acct.address, "cross", "ETH"): 200_000_000,
                                     (acct.address, "cross", "USDT"): 5_000_000}
    # an attestation at a block after the move (= funds moved *before* its block) shows the lower amount
    later = report_at(after)
    assert later[(acct.address, "cross", "USDT")] == 1_000_000
    assert later[(acct.address, "cross", "ETH")] == world.rpc.get_balance(acct.address, after) // 10**10 < 50_000_000


@chain
def test_vault_funds_moved_after_the_block_still_count_at_the_block(world: World) -> None:
    world.mint(world.usdt, world.vault, 3_000_000)
    block = world.head()
    at_block = world.rpc.call(world.usdt, encode_call("balanceOf(address)", world.vault), block)
    sink = fresh_account("vault-sink").address
    # a 2-of-3 withdrawal of everything, after the block
    world.vault_execute(world.owners[1:3], world.usdt, 0,
                        encode_call("transfer(address,uint256)", sink, int.from_bytes(at_block, "big")))
    assert world.rpc.call(world.usdt, encode_call("balanceOf(address)", world.vault), "latest") == bytes(32)
    reserves = attest(block, [{"address": world.vault, "bucket": "segregated-1", "assets": [usdt(world)],
                               "sign": lambda m: vault_signature(world.owners[:2], m)}])
    report = verify_ethereum(world.rpc, reserves, LEDGER_DECIMALS)
    assert report.ok and amounts(report)[(world.vault, "segregated-1", "USDT")] == int.from_bytes(at_block, "big") > 0


@chain
def test_erc20_decimals_mismatch_rejected(world: World) -> None:
    acct = fresh_account("decimals")
    world.mint(world.usdt, acct.address, 10**6)
    world.mint(world.wide, acct.address, 10**18)
    block = world.head()
    reserves = attest(block, [{"address": acct.address, "bucket": "cross", "assets": [usdt(world, decimals=18)],
                               "sign": eoa_signer(acct)}])
    report = verify_ethereum(world.rpc, reserves, LEDGER_DECIMALS)
    assert not report.ok and "decimals() = 6" in str(report.failures[0]) and "declares 18" in str(report.failures[0])
    # a token declared with its real decimals converts by them (18 -> 6 ledger decimals, rounded down)
    wide = {"asset": "USDT", "kind": "erc20", "contract": world.wide, "decimals": 18}
    ok = verify_ethereum(world.rpc, attest(block, [{"address": acct.address, "bucket": "cross", "assets": [wide],
                                                   "sign": eoa_signer(acct)}]), LEDGER_DECIMALS)
    assert ok.ok and amounts(ok)[(acct.address, "cross", "USDT")] == 10**6
    # an "ERC-20" without code at the block fails cleanly
    nocode = {"asset": "USDT", "kind": "erc20", "contract": fresh_account("no-token").address, "decimals": 6}
    bad = verify_ethereum(world.rpc, attest(block, [{"address": acct.address, "bucket": "cross", "assets": [nocode],
                                                    "sign": eoa_signer(acct)}]), LEDGER_DECIMALS)
    assert "no contract code" in str(bad.failures[0])


@chain
def test_wei_to_ledger_rounds_down_on_chain(world: World) -> None:
    one, many = fresh_account("one-wei"), fresh_account("many-wei")
    world.send_eth(world.funder, one.address, 1)
    world.send_eth(world.funder, many.address, 2 * 10**9 - 1)
    block = world.head()
    reserves = attest(block, [
        {"address": one.address, "bucket": "cross", "assets": [{"asset": "WEI9", "kind": "native"}],
         "sign": eoa_signer(one)},
        {"address": many.address, "bucket": "cross", "assets": [{"asset": "WEI9", "kind": "native"}],
         "sign": eoa_signer(many)},
    ])
    report = verify_ethereum(world.rpc, reserves, LEDGER_DECIMALS)
    assert report.ok
    assert amounts(report) == {(one.address, "cross", "WEI9"): 0, (many.address, "cross", "WEI9"): 1}
    # an asset the snapshot does not list is a failure of that entry
    doge = {"asset": "DOGE", "kind": "native"}
    unknown = attest(block, [{"address": one.address, "bucket": "cross", "assets": [doge],
                              "sign": eoa_signer(one)}])
    assert "not an asset of the snapshot" in str(verify_ethereum(world.rpc, unknown, LEDGER_DECIMALS).failures[0])


# ---------------------------------------------------------------------- service failures on a live chain


@chain
def test_block_in_the_future_is_service_unavailable(world: World) -> None:
    acct = fresh_account("future")
    future = world.head() + 1000
    reserves = attest(future, [{"address": acct.address, "bucket": "cross", "assets": [native()],
                                "sign": eoa_signer(acct)}])
    with pytest.raises(ServiceUnavailable, match=f"block {future} is in the future") as ei:
        verify_ethereum(world.node.rpc(), reserves, LEDGER_DECIMALS)
    assert ei.value.exit_code == 3 and world.node.url in str(ei.value)
    for read in (lambda r: r.get_balance(acct.address, future), lambda r: r.get_code(acct.address, future),
                 lambda r: r.call(world.usdt, encode_call("decimals()"), future),
                 lambda r: read_feed(r, world.feed, future)):
        with pytest.raises(ServiceUnavailable):
            read(world.node.rpc())
    # the node's own refusal (no client-side head check) maps to the same error
    rpc = world.node.rpc()
    rpc._head = 10**12
    with pytest.raises(ServiceUnavailable, match="cannot serve"):
        rpc.get_balance(acct.address, future)
    # --block must equal the attested block
    with pytest.raises(BadInput):
        verify_ethereum(world.rpc, reserves, LEDGER_DECIMALS, block=future - 1)


# ---------------------------------------------------------------------- Chainlink PoR feed


@chain
def test_feed_read_and_staleness(world: World) -> None:
    now = world.rpc.block_timestamp("latest")
    world.rpc.transact(world.deployer, world.feed, encode_call("setAnswer(int256,uint256)", 123_456_789_00, now))
    fresh_block = world.head()
    feed = read_feed(world.rpc, world.feed, fresh_block)
    assert feed.answer == 123_456_789_00 and feed.decimals == 8 and feed.updated_at == now and feed.round_id >= 1
    answer, decimals, updated_at, round_id = feed  # a plain tuple too
    assert check_feed_age(world.rpc, feed, fresh_block, 3600) <= 60
    assert feed_to_ledger_units(feed, 6) == 123_456_789     # 123.45678900 -> 6 decimals, rounded down

    world.rpc.transact(world.deployer, world.feed, encode_call("setAnswer(int256,uint256)", 5, now - 2 * 86400))
    stale_block = world.head()
    stale = read_feed(world.rpc, world.feed, stale_block)
    assert stale.round_id == feed.round_id + 1
    with pytest.raises(VerificationFailed, match="stale"):
        check_feed_age(world.rpc, stale, stale_block, 86400, address=world.feed)
    # read at the earlier block, the feed is what it was then
    assert read_feed(world.rpc, world.feed, fresh_block) == feed

    world.rpc.transact(world.deployer, world.feed, encode_call("setAnswer(int256,uint256)", -1, now + 10**6))
    future_block = world.head()
    weird = read_feed(world.rpc, world.feed, future_block)
    with pytest.raises(VerificationFailed, match="after block"):
        check_feed_age(world.rpc, weird, future_block, 86400)
    with pytest.raises(VerificationFailed, match="negative"):
        feed_to_ledger_units(weird, 6)
    with pytest.raises(VerificationFailed, match="no contract code"):
        read_feed(world.rpc, fresh_account("no-feed").address, future_block)


# ---------------------------------------------------------------------- anchoring


@chain
def test_anchor_publish_and_check(world: World) -> None:
    sid = "anchor-ok-1"
    block = world.head()
    tx = anchor.publish(world.rpc, world.registry, world.deployer, sid, ROOT_A, block)
    assert len(tx) == 66 and tx.startswith("0x")
    assert anchor.read_roots(world.rpc, world.registry, sid) == [ROOT_A]
    res = anchor.check_anchor(world.rpc, world.registry, sid, ROOT_A.hex(), reserves_block=block)
    assert res.root == ROOT_A and len(res.publications) == 1 and res.publications[0].block == block
    assert anchor.registry_owner(world.rpc, world.registry) == Account.from_key(world.deployer).address
    # a proof leading to another root is rejected
    with pytest.raises(VerificationFailed, match="is not the root anchored"):
        anchor.check_anchor(world.rpc, world.registry, sid, ROOT_B)
    with pytest.raises(VerificationFailed, match="reserves block"):
        anchor.check_anchor(world.rpc, world.registry, sid, ROOT_A, reserves_block=block + 1)
    # an id never published is not anchored
    with pytest.raises(VerificationFailed, match="not anchored"):
        anchor.check_anchor(world.rpc, world.registry, "never-published", ROOT_A)
    # republishing the same root is not equivocation
    anchor.publish(world.rpc, world.registry, world.deployer, sid, ROOT_A, block)
    assert len(anchor.check_anchor(world.rpc, world.registry, sid, ROOT_A).publications) == 2
    # only the owner publishes (checked before sending, and enforced by the contract)
    with pytest.raises(BadInput, match="not the owner"):
        anchor.publish(world.rpc, world.registry, world.funder, sid, ROOT_B, block)
    with pytest.raises(VerificationFailed):
        world.rpc.transact(world.funder, world.registry,
                           encode_call("publish(string,bytes32,uint64)", sid, ROOT_B, block))
    assert anchor.read_roots(world.rpc, world.registry, sid) == [ROOT_A, ROOT_A]
    # not a registry
    with pytest.raises(VerificationFailed, match="no contract"):
        anchor.check_anchor(world.rpc, fresh_account("no-registry").address, sid, ROOT_A)


@chain
def test_equivocation_is_detected(world: World) -> None:
    sid = "anchor-equivocation-1"
    block = world.head()
    anchor.publish(world.rpc, world.registry, world.deployer, sid, ROOT_A, block)
    before = world.head()
    assert anchor.check_anchor(world.rpc, world.registry, sid, ROOT_A).root == ROOT_A
    tx = anchor.publish(world.rpc, world.registry, world.deployer, sid, ROOT_B, block)
    # recorded on chain, not prevented: both roots are there, and an Equivocation event was emitted
    assert anchor.read_roots(world.rpc, world.registry, sid) == [ROOT_A, ROOT_B]
    (count,) = decode_result(["uint256"], world.rpc.call(world.registry, encode_call("distinctRootCount(string)", sid),
                                                         "latest"), what="count")
    assert count == 2
    receipt = world.rpc.get_transaction_receipt(tx)
    topic = "0x" + keccak(text="Equivocation(bytes32,string,bytes32,bytes32)").hex()
    assert any(log["topics"][0] == topic for log in receipt["logs"])
    for root in (ROOT_A, ROOT_B):
        with pytest.raises(VerificationFailed, match="equivocation") as ei:
            anchor.check_anchor(world.rpc, world.registry, sid, root)
        assert ROOT_A.hex() in str(ei.value) and ROOT_B.hex() in str(ei.value) and ei.value.exit_code == 1
    # the registry's history is readable at any block: before the second publication it was consistent
    assert anchor.check_anchor(world.rpc, world.registry, sid, ROOT_A, block=before).root == ROOT_A
    assert check_address(world.registry) == world.registry
