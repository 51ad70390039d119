"""`por demo`: the whole story end to end (build, prove, verify, audit, attacks rejected; reserves on anvil).

Registered on the root app by ``por.cli.app``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from por.cli.common import JsonOpt, _checks_table, _emit_json, _reporter, _run, _snapshot_table, out
from por.core.errors import EXIT_VERIFY_FAILED, BadInput


def demo(
    users: Annotated[int, typer.Option(min=1, max=1_000_000, help="Number of generated users.")] = 1000,
    workdir: Annotated[Optional[Path], typer.Option(help="Work here instead of a temp dir (must not exist).")] = None,
    chain: Annotated[bool, typer.Option("--chain/--no-chain", help="Also run the on-chain reserves story on a local anvil.")] = True,
    zk: Annotated[bool, typer.Option("--zk/--no-zk", help="Also run the zk-mode story (local testing-only Groth16 setup: minutes the first time, cached after).")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Run the whole story: build, prove, verify, audit, attacks rejected; reserves, segregation, anchoring on anvil."""
    from por.demo.story import run_demo

    def body() -> int:
        if workdir is not None and workdir.exists():
            raise BadInput("--workdir must not exist yet", file=str(workdir))
        with _reporter(as_json) as rep:
            report = run_demo(users, workdir=workdir, reporter=rep, chain=chain, zk=zk)
        if as_json:
            _emit_json(report.to_dict())
        else:
            _snapshot_table(report.snapshot)
            _checks_table(f"por demo ({report.workdir})", report.steps)
            if report.chain and report.chain.get("report_html"):
                out.print(f"audit report: {report.chain['report_html']} (and report.json beside it)")
            out.print("[bold green]DEMO OK[/]: every proof verified, every attack rejected, the short bucket caught" if report.ok
                      else "[bold red]DEMO FAILED[/]")
        return 0 if report.ok else EXIT_VERIFY_FAILED

    _run(as_json, body)
