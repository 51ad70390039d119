"""The on-chain half of ``por demo``: a local anvil, real contracts, signed attestations, anchoring.

Funds one address set per segregation bucket (an EOA for ``cross`` and ``isolated``, an EIP-1271
multisig vault for ``fund-7``, a proprietary EOA), mints a test USDT, writes a Bitcoin UTXO snapshot
for BIP-322-signed P2WPKH addresses, signs every ownership message, verifies reserves (solvent and
segregated), anchors the root in a registry and checks it, then moves funds out of one bucket,
re-attests at a later block and shows the shortfall caught.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from por.reserves.anchor import check_anchor, deploy_registry, publish
from por.audit.audit import Check
from por.reserves.chain import RpcClient, encode_call
from por.reserves.devchain import start_anvil
from por.core.fileio import atomic_write_json
from por.reserves.attestation import load_reserves, ownership_message
from por.reserves.bitcoin import address_for, sign_message_bip322
from por.reserves.check import ReservesReport, verify_reserves
from por.reserves.ethereum import sign_message, vault_signature
from por.snapshot import Snapshot

MARGIN = 20  # reserves = liabilities + liabilities / MARGIN + 1


def _need(liability: int) -> int:
    return liability + liability // MARGIN + 1


def _btc_key(label: str) -> bytes:
    return hashlib.sha256(b"por-demo-btc-key/" + label.encode()).digest()


def run_chain_demo(snapshot: Snapshot, workdir: Path, *, audit_inputs: dict[str, Path] | None = None
                   ) -> tuple[list[Check], dict[str, Any]]:
    """Run the chain story for ``snapshot`` (the demo's 3-asset, 3-bucket example); returns its steps.

    With ``audit_inputs`` (config, ledger, secret, snapshot, proofs) the honest state is then audited in full
    and the JSON + HTML report written to ``workdir/audit-report``."""
    steps: list[Check] = []
    node = start_anvil()
    try:
        rpc = RpcClient(node.url)
        k, a = node.keys, node.addresses
        steps.append(Check("chain: start anvil", True, f"local node at {node.url} (chain id {rpc.chain_id()})"))
        cfg = snapshot.config
        liab = {(b.id, s): b.totals[i] for b in snapshot.buckets for i, s in enumerate(cfg.symbols)}
        usdt = rpc.deploy(k[0], "TestToken", ["string", "string", "uint8"], ["Tether USD (demo)", "USDT", 6])
        vault = rpc.deploy(k[0], "SegregatedVault", ["address[]", "uint256"], [[a[2]], 1])
        holders = {"cross": (a[1], [k[1]]), "fund-7": (vault, [k[2]]), "isolated": (a[3], [k[3]]),
                   "proprietary": (a[4], [k[4]])}

        def fund(bucket: str, eth_ledger: int, usdt_amount: int) -> None:
            addr = holders[bucket][0]
            node.raw("anvil_setBalance", addr, hex(eth_ledger * 10**9))  # ETH ledger decimals 9 -> wei
            if usdt_amount:
                rpc.transact(k[0], usdt, encode_call("mint(address,uint256)", addr, usdt_amount))

        for bucket in ("cross", "fund-7", "isolated"):
            fund(bucket, _need(liab[(bucket, "ETH")]), _need(liab[(bucket, "USDT")]))
        fund("proprietary", 10**9 * 10**6, 0)
        steps.append(Check("chain: deploy and fund", True,
                           f"ERC-20 USDT {usdt}, EIP-1271 vault {vault} for fund-7, one address set per bucket"))

        def attest(tag: str) -> tuple[Path, ReservesReport]:
            block = rpc.block_number()
            btc_height = 870000
            entries, utxos = [], []
            for bucket, (addr, keys) in holders.items():
                msg = ownership_message(cfg.snapshot_id, snapshot.root, "ethereum", addr, block)
                sig = vault_signature(keys, msg) if addr == vault else sign_message(keys[0], msg)
                assets = [{"asset": "ETH", "kind": "native"}]
                if bucket != "proprietary":
                    assets.append({"asset": "USDT", "kind": "erc20", "contract": usdt, "decimals": 6})
                entries.append({"chain": "ethereum", "address": addr, "bucket": bucket, "assets": assets,
                                "signature": sig})
                if bucket != "proprietary":
                    key = _btc_key(bucket)
                    btc = address_for(key, "p2wpkh", "regtest")
                    bmsg = ownership_message(cfg.snapshot_id, snapshot.root, "bitcoin", btc, btc_height)
                    entries.append({"chain": "bitcoin", "address": btc, "bucket": bucket,
                                    "assets": [{"asset": "BTC", "kind": "native"}],
                                    "signature": sign_message_bip322(key, "p2wpkh", bmsg)})
                    utxos.append({"txid": hashlib.sha256(btc.encode()).hexdigest(), "vout": 0, "address": btc,
                                  "value_sats": str(_need(liab[(bucket, "BTC")]))})
            atomic_write_json(workdir / f"utxos-{tag}.json", {
                "format": "por-utxo-snapshot", "version": 1, "network": "regtest", "height": btc_height,
                "block_hash": hashlib.sha256(b"demo-block").hexdigest(), "utxos": utxos})
            path = workdir / f"reserves-{tag}.json"
            atomic_write_json(path, {
                "format": "por-reserves", "version": 1, "snapshot_id": cfg.snapshot_id, "root": snapshot.root.hex(),
                "chains": {"ethereum": {"block": block},
                           "bitcoin": {"height": btc_height, "utxo_snapshot": f"utxos-{tag}.json", "network": "regtest"}},
                "addresses": entries})
            return path, verify_reserves(snapshot, load_reserves(path), rpc_url=node.url)

        path, report = attest("honest")
        steps.append(Check("reserves: solvent and segregated", report.ok,
                           f"{len(report.verified)} holdings verified at the snapshot block, "
                           f"{sum(c.covered is True for c in report.segregation.coverage)} bucket x asset covered "
                           f"({path.name})"))

        registry = deploy_registry(rpc, k[0])
        tx = publish(rpc, registry, k[0], cfg.snapshot_id, snapshot.root, rpc.block_number())
        check_anchor(rpc, registry, cfg.snapshot_id, snapshot.root)
        steps.append(Check("anchor: root published once", True, f"registry {registry}, tx {tx[:18]}..."))

        extra: dict[str, Any] = {}
        if audit_inputs is not None:
            from por.audit.audit import full_audit
            from por.core.keys import load_secret
            from por.audit.report import write_report

            i = audit_inputs
            audited = full_audit(i["config"], i["ledger"], load_secret(i["secret"]), i["snapshot"],
                                 proofs_dir=i["proofs"], sample=50, seed=1, reserves=path, rpc=node.url,
                                 registry=registry)
            j, h = write_report(audited, workdir / "audit-report")
            steps.append(Check("audit: every check", audited.ok,
                               f"{sum(c.ok for c in audited.report.checks)}/{len(audited.report.checks)} passed; "
                               f"report {h}"))
            extra = {"audit": audited.to_dict(), "report_html": str(h), "report_json": str(j)}

        # the exchange moves half of the cross bucket's ETH away, then attests again
        fund("cross", liab[("cross", "ETH")] // 2, 0)
        path2, bad = attest("after-withdrawal")
        short = [f"{c.bucket}/{c.asset} {c.ratio()}" for c in bad.segregation.coverage if c.covered is False]
        steps.append(Check("reserves: insolvent bucket caught", not bad.ok and bool(short),
                           f"{', '.join(short)} short ({path2.name})"))
        return steps, {"rpc": node.url, "registry": registry, "reserves": report.to_dict(),
                       "insolvent": bad.to_dict(), **extra}
    finally:
        node.stop()
