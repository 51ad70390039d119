"""`por audit`: run every auditor check (trees, totals, proofs, reserves, segregation, anchor, log) and report.

Registered on the root app by ``por.cli.app``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from por.cli.common import JsonOpt, _checks_table, _emit_json, _reporter, _run, esc, out
from por.core.errors import EXIT_VERIFY_FAILED, BadInput


def audit(
    config: Annotated[Path, typer.Option(help="snapshot.toml")],
    ledger: Annotated[Path, typer.Option(help="The ledger the snapshot was built from.")],
    secret: Annotated[Path, typer.Option(help="The master secret file.")],
    snapshot: Annotated[Path, typer.Option(help="The published snapshot.json.")],
    proofs: Annotated[Optional[Path], typer.Option(help="Directory of exported proofs to verify.")] = None,
    sample: Annotated[Optional[int], typer.Option(min=1, help="Verify a seeded random sample of N proofs.")] = None,
    all_proofs: Annotated[bool, typer.Option("--all", help="Verify every exported proof (the default without --sample).")] = False,
    seed: Annotated[int, typer.Option(help="Seed of the proof sample.")] = 0,
    reserves: Annotated[Optional[Path], typer.Option(help="reserves.json to verify (with --rpc for Ethereum).")] = None,
    rpc: Annotated[Optional[str], typer.Option(help="Ethereum JSON-RPC URL.")] = None,
    registry: Annotated[Optional[str], typer.Option(help="Registry address: check the anchored root.")] = None,
    log: Annotated[Optional[Path], typer.Option(help="Transparency log directory: check the snapshot is logged.")] = None,
    solvency: Annotated[Optional[Path], typer.Option(help="Hiding mode: the solvency proof to check against the verified reserves.")] = None,
    zk_dir: Annotated[Optional[Path], typer.Option("--zk-dir", help="zk mode: directory holding zk/ batch proofs (default: the snapshot's directory).")] = None,
    jobs: Annotated[int, typer.Option(help="Worker processes for zk batch proof pairings.", min=1)] = 1,
    report: Annotated[Optional[Path], typer.Option(help="Write report.json and report.html into this directory.")] = None,
    clamp_negative: Annotated[bool, typer.Option("--clamp-negative")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Run every auditor check (trees, totals, proofs, reserves, segregation, anchor, log) and report."""
    from por.audit.audit import full_audit
    from por.core.keys import load_secret

    def body() -> int:
        if sample is not None and all_proofs:
            raise BadInput("--sample and --all exclude each other", field="sample")
        with _reporter(as_json) as rep:
            result = full_audit(config, ledger, load_secret(secret), snapshot, proofs_dir=proofs, sample=sample,
                                seed=seed, reserves=reserves, rpc=rpc, registry=registry, log_dir=log,
                                solvency=solvency, zk_dir=zk_dir, jobs=jobs, clamp_negative=clamp_negative,
                                reporter=rep)
        written = None
        if report is not None:
            from por.audit.report import write_report

            written = write_report(result, report)
        if as_json:
            _emit_json(result.to_dict() | {"report": [str(p) for p in written] if written else None})
        else:
            _checks_table("audit", result.report.checks)
            if written:
                out.print(esc(f"report: {written[0]} and {written[1]}"))
            out.print("[bold green]AUDIT PASSED[/]" if result.ok else "[bold red]AUDIT FAILED[/]")
        return 0 if result.ok else EXIT_VERIFY_FAILED

    _run(as_json, body)
