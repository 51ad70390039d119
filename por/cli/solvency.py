"""`por solvency`: zero-knowledge solvency of a hiding-mode snapshot (SPEC.md §15.5), as a typer sub-app.

Margin snapshots in hiding mode (version 2) prove reserves >= max(equity - debt, 0) per bucket x asset.

Registered on the root app by ``por.cli.app`` with ``app.add_typer(solvency_app, name="solvency")``.
Exit codes as everywhere: 0 ok, 1 verification failed (invalid proof, or
insolvent: no proof can be made), 2 bad input.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from por.cli.common import JsonOpt, _emit_json, _run, esc, out

solvency_app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Hiding mode: prove and verify reserves >= liabilities per bucket x asset without revealing liabilities.",
)

@solvency_app.command("prove")
def prove_cmd(
    snapshot_dir: Annotated[Path, typer.Argument(help="Hiding-mode directory written by `por build --hiding`.")],
    reserves: Annotated[Path, typer.Option(help="Reserves JSON {bucket: {asset: amount}} (asset units).")],
    out_path: Annotated[Optional[Path], typer.Option("--out", help="Proof file (default: stdout).")] = None,
    reveal_totals: Annotated[bool, typer.Option("--reveal-totals", help="Publish the bucket totals' openings instead of a range proof.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Prove every bucket's reserves cover its liabilities (one aggregated range proof)."""
    from por.core.fileio import atomic_write_json, canonical_json
    from por.snapshot import load_snapshot
    from por.proofs.solvency import load_reserves, prove_solvency

    def body() -> None:
        config = load_snapshot(snapshot_dir).config
        doc = prove_solvency(snapshot_dir, load_reserves(reserves, config), reveal_totals=reveal_totals)
        if out_path is None:
            sys.stdout.write(canonical_json(doc).decode())
            return
        atomic_write_json(out_path, doc)
        if as_json:
            _emit_json({"ok": True, "out": str(out_path), "revealed": reveal_totals})
        else:
            kind = "with revealed totals" if reveal_totals else "zero-knowledge (liabilities hidden)"
            out.print(esc(f"wrote solvency proof {kind} to {out_path}"))

    _run(as_json, body)


@solvency_app.command("verify")
def verify_cmd(
    proof: Annotated[Path, typer.Argument(help="The solvency proof file.")],
    snapshot: Annotated[Path, typer.Option(help="The published snapshot.json (trusted).")],
    reserves: Annotated[Optional[Path], typer.Option(help="Trusted reserves JSON; the proof must be for exactly these.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Verify a solvency proof against the published snapshot (and, optionally, reserves you trust)."""
    from rich.table import Table

    from por.snapshot import load_snapshot
    from por.proofs.solvency import load_reserves, load_solvency_proof, verify_solvency

    def body() -> None:
        snap = load_snapshot(snapshot)
        trusted = load_reserves(reserves, snap.config) if reserves is not None else None
        res = verify_solvency(load_solvency_proof(proof), snap, reserves=trusted, file=str(proof))
        doc = res.to_dict()
        if as_json:
            _emit_json({"ok": True, **doc})
            return
        margin = snap.config.margin is not None
        title = f"SOLVENT: snapshot {res.snapshot_id} ({doc['mode']})"
        if margin:
            title += " — margin: reserves cover the requirement max(equity - debt, 0)"
        t = Table(title=title)
        figures = []
        if res.revealed is not None:
            figures = ["equity", "debt", "liabilities"] if res.revealed_equity is not None else ["liabilities"]
        for col in ("bucket", "asset", "reserves", *figures, "covered"):
            name = "requirement" if margin and col == "liabilities" else col
            t.add_column(name, justify="left" if col in ("bucket", "asset", "covered") else "right")
        for row in doc["coverage"]:
            t.add_row(row["bucket"], row["asset"], row["reserves"], *[row[c] for c in figures], "[green]yes[/]")
        out.print(t)
        for c in res.checks:
            out.print(f"  [green]ok[/] {esc(c)}")

    _run(as_json, body)
