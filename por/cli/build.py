"""`por build`: build a snapshot (Merkle-sum tree per bucket, top tree, root) from a config and a ledger.

Registered on the root app by ``por.cli.app``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from por.cli.common import JsonOpt, _emit_json, _reporter, _run, _snapshot_table, err, esc, out


def build(
    config: Annotated[Path, typer.Option(help="snapshot.toml")],
    ledger: Annotated[Path, typer.Option(help="Ledger CSV or JSON Lines (.jsonl).")],
    out_dir: Annotated[Path, typer.Option("--out", help="New output directory.")],
    secret: Annotated[Optional[Path], typer.Option(help="Master secret file (64 hex); default: create DIR/secret.key.")] = None,
    height: Annotated[Optional[int], typer.Option(help="Height of every bucket tree (default: room for 2x its rows).")] = None,
    clamp_negative: Annotated[bool, typer.Option("--clamp-negative", help="Floor negative amounts at 0 and count them, instead of rejecting.")] = False,
    hiding: Annotated[bool, typer.Option("--hiding", help="Hiding mode: publish Pedersen commitments, not totals (SPEC.md §15).")] = False,
    jobs: Annotated[Optional[int], typer.Option(help="Local worker processes for the build's tasks (default: all cores for large ledgers -- from about 2^18 rows in public mode, 2^13 in hiding and zk mode -- else 1).", min=1)] = None,
    scheduler: Annotated[Optional[str], typer.Option(help="Run the shard tasks on a Dask cluster: tcp://HOST:PORT of its scheduler, or 'local' for a local cluster of 2 workers.")] = None,
    work_dir: Annotated[Optional[Path], typer.Option(help="Directory for the build's work files (private subdirectory, removed at the end); with --scheduler, a path every worker can read and write. Default: inside the output's staging directory.")] = None,
    zk: Annotated[Optional[Path], typer.Option("--zk", help="zk mode: the setup directory of `por zk setup`; lowest levels become Groth16-proven Poseidon batches (SPEC.md §16).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Build a snapshot: Merkle-sum tree per bucket, top tree, root; write snapshot.json and the store."""
    from por.core.keys import load_secret, secret_file_is_private
    from por.modes.registry import mode_name
    from por.snapshot import build_snapshot
    from por.snapshot.build import build_engine
    from por.snapshot.sharded import TASK_MODULES

    def body() -> None:
        master = None
        if secret is not None:
            master = load_secret(secret)
            if not secret_file_is_private(secret) and not as_json:
                err.print(f"[yellow]warning:[/] {esc(str(secret))} is readable by others; chmod 600 it")
        engine = build_engine(ledger, mode=mode_name(hiding, zk), jobs=jobs, scheduler=scheduler)
        try:
            engine.start(warm=TASK_MODULES)  # before the progress display's thread: local workers are forked
            with _reporter(as_json) as rep:
                res = build_snapshot(config, ledger, out_dir, secret=master, height=height,
                                     clamp_negative=clamp_negative, reporter=rep, hiding=hiding,
                                     work_dir=work_dir, zk_setup=zk, engine=engine)
        finally:
            engine.close()
        snap = res.snapshot
        if as_json:
            doc = {"ok": True, "out": str(out_dir), "rows": res.rows, "clamped": res.clamped, "shards": res.shards,
                   "secret_created": res.secret_created, "snapshot": snap.to_dict()}
            if snap.margin is not None:
                doc |= {"debts": res.debts, "accounts_with_debt": res.accounts_with_debt}
            _emit_json(doc)
            return
        _snapshot_table(snap, res.accounts_per_bucket)
        out.print(f"root [bold]{snap.root.hex()}[/]  ({res.rows} rows)")
        if snap.margin is not None:
            out.print(f"margin: {res.debts} debts in {res.accounts_with_debt} accounts, every one collateralised "
                      f"at the snapshot prices after haircuts; reserves must cover the requirement max(equity - "
                      f"debt, 0) per bucket and asset")
        if res.clamped:
            out.print(f"[yellow]{res.clamped} negative amounts were clamped to 0[/]")
        if res.secret_created:
            out.print(esc(f"new master secret: {out_dir / 'secret.key'} (mode 0600; keep it private, keep it safe)"))
        out.print(esc(f"wrote {out_dir / 'snapshot.json'} (public) and {out_dir / 'store.sqlite'} with "
                      f"{out_dir / 'store'}/ (private)"))
        if snap.zk is not None:
            out.print(f"zk mode: batches of {snap.zk.batch_size} leaves, verifying key {snap.zk.digest.hex()}; "
                      f"next: por zk prove {out_dir}")

    _run(as_json, body)
