"""`por reserves verify` and `por anchor`: on-chain reserves against the snapshot's liabilities, and the root's anchor.

``reserves_app`` is the ``por reserves`` sub-app; ``anchor`` is a root command. Both
are registered on the root app by ``por.cli.app``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from por.cli.common import JsonOpt, _emit_json, _run, esc, out
from por.core.errors import EXIT_VERIFY_FAILED, BadInput, VerificationFailed

reserves_app = typer.Typer(no_args_is_help=True, help="On-chain reserves: attestations, segregation, coverage.")


def _feeds(items: list[str]) -> dict[str, str]:
    feeds = {}
    for item in items:
        asset, sep, address = item.partition("=")
        if not sep or not asset or not address:
            raise BadInput(f"--feed {item!r}: write ASSET=ADDRESS", field="feed")
        feeds[asset] = address
    return feeds


@reserves_app.command("verify")
def reserves_verify(
    snapshot: Annotated[Path, typer.Option(help="The published snapshot.json.")],
    reserves: Annotated[Path, typer.Option(help="reserves.json (SPEC.md §12.2).")],
    rpc: Annotated[Optional[str], typer.Option(help="Ethereum JSON-RPC URL.")] = None,
    rpc_timeout: Annotated[float, typer.Option(help="Seconds one RPC request may take, reply included (else exit 3).",
                                               min=0.1)] = 10.0,
    block: Annotated[Optional[int], typer.Option(help="Expected Ethereum block (must equal the attested one).")] = None,
    feed: Annotated[Optional[list[str]], typer.Option(help="ASSET=ADDRESS of a Chainlink PoR feed; repeatable.")] = None,
    max_feed_age: Annotated[int, typer.Option(help="Reject feed rounds older than this many seconds at the block.")] = 86400,
    solvency: Annotated[Optional[Path], typer.Option(help="Hiding mode: the solvency proof (`por solvency prove`) for these reserves.")] = None,
    holdings_out: Annotated[Optional[Path], typer.Option(help="Write the verified reserves per bucket x asset (input of `por solvency prove`).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Verify every ownership signature and balance, segregation, and reserves >= liabilities per bucket x asset."""
    from por.core.ledger import format_amount
    from por.reserves.attestation import load_reserves
    from por.reserves.check import verify_reserves
    from por.snapshot import load_snapshot

    def body() -> int:
        snap = load_snapshot(snapshot)
        res = load_reserves(reserves)
        feeds = _feeds(feed or [])
        proof_doc = None
        if solvency is not None:
            from por.proofs.solvency import load_solvency_proof

            proof_doc = load_solvency_proof(solvency)
        report = verify_reserves(snap, res, rpc_url=rpc, block=block, solvency=proof_doc,
                                 solvency_file=str(solvency), rpc_timeout=rpc_timeout)
        if holdings_out is not None:
            from por.core.fileio import atomic_write_json
            from por.reserves.check import reserves_table
            from por.proofs.solvency import reserves_doc

            atomic_write_json(holdings_out, reserves_doc(reserves_table(report.segregation), snap.config))
        feed_rows = []
        if feeds:
            from por.reserves.chain import RpcClient
            from por.reserves.ethereum import check_feed_age, feed_to_ledger_units, read_feed

            if rpc is None or res.ethereum is None:
                raise BadInput("--feed needs --rpc and an ethereum block in reserves.json", field="feed")
            client, b = RpcClient(rpc, timeout=rpc_timeout), res.ethereum.block
            for asset, address in feeds.items():
                idx = snap.config.asset_index(asset)
                if idx is None:
                    raise BadInput(f"--feed: unknown asset {asset!r}", field="feed")
                dec = snap.config.assets[idx].decimals
                try:
                    rnd = read_feed(client, address, b)
                    age = check_feed_age(client, rnd, b, max_feed_age, address=address)
                    fed = feed_to_ledger_units(rnd, dec)
                except VerificationFailed as exc:
                    report.failures.append(f"feed {asset}: {exc}")
                    continue
                attested = sum(c.reserves for c in report.segregation.coverage if c.asset == asset)
                feed_rows.append({"asset": asset, "feed": format_amount(fed, dec), "age_s": age,
                                  "attested": format_amount(attested, dec), "agrees": fed >= attested})
        doc = report.to_dict() | {"feeds": feed_rows}
        if as_json:
            _emit_json(doc)
        else:
            margin = snap.margin is not None
            t = Table(title=f"reserves vs liabilities, snapshot {snap.config.snapshot_id}"
                            + (" (margin: liabilities = requirement = max(equity - debt, 0))" if margin else ""))
            cols = ("bucket", "asset", *(("equity", "debt", "net", "requirement") if margin else ("liabilities",)),
                    "reserves", "ratio", "addresses", "result")
            for col in cols:
                t.add_column(col, justify="left" if col in ("bucket", "asset", "result") else "right", overflow="fold")
            for c in report.segregation.coverage:
                d = c.to_dict()
                figures = [d["equity"], d["debt"], d["net"]] if margin else []
                t.add_row(c.bucket, c.asset, *figures, d["liabilities"] or "hidden", d["reserves"], d["ratio"],
                          str(c.addresses), {True: "[green]covered[/]", False: "[red]SHORT[/]", None: "-"}[c.covered])
            out.print(t)
            for asset, amount in report.segregation.proprietary.items():
                dec = snap.config.assets[snap.config.asset_index(asset) or 0].decimals
                out.print(f"proprietary (not counted for clients): {format_amount(amount, dec)} {asset}")
            for row in feed_rows:
                out.print(esc(f"feed {row['asset']}: {row['feed']} (age {row['age_s']} s) vs attested {row['attested']}"))
            for f in report.failures + report.segregation.problems:
                out.print(f"[red]FAIL[/] {esc(str(f))}")
            out.print("[bold green]SOLVENT AND SEGREGATED[/]" if report.ok else "[bold red]RESERVES CHECK FAILED[/]")
        return 0 if report.ok else EXIT_VERIFY_FAILED

    _run(as_json, body)


def anchor(
    snapshot_dir: Annotated[Path, typer.Argument(help="Snapshot directory or snapshot.json.")],
    rpc: Annotated[str, typer.Option(help="Ethereum JSON-RPC URL.")],
    key: Annotated[Path, typer.Option(help="Private key file of the registry owner (64 hex).")],
    registry: Annotated[Optional[str], typer.Option(help="Registry address (default: deploy a new registry).")] = None,
    block: Annotated[Optional[int], typer.Option(help="Snapshot block to record (default: latest).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Publish the snapshot root in the on-chain registry (deploying one if --registry is not given)."""
    from por.reserves.anchor import check_anchor, deploy_registry, publish
    from por.reserves.chain import RpcClient, load_private_key
    from por.snapshot import load_snapshot

    def body() -> None:
        snap = load_snapshot(snapshot_dir)
        client = RpcClient(rpc)
        account = load_private_key(key)
        reg = registry or deploy_registry(client, account)
        b = client.block_number() if block is None else block
        tx = publish(client, reg, account, snap.config.snapshot_id, snap.root, b)
        check_anchor(client, reg, snap.config.snapshot_id, snap.root)
        doc = {"ok": True, "registry": reg, "tx": tx, "snapshot_id": snap.config.snapshot_id,
               "root": snap.root.hex(), "block": b}
        if as_json:
            _emit_json(doc)
        else:
            out.print(f"anchored {snap.config.snapshot_id} root {snap.root.hex()} in registry {reg} (tx {tx})")

    _run(as_json, body)
