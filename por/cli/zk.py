"""`por zk`: Groth16 batch proofs of a zk-mode snapshot (SPEC.md §16), as a typer sub-app.

``por zk setup`` makes a setup directory (local and testing-only, or from a ceremony's
zkey), ``por build --zk SETUP`` builds a snapshot bound to it, ``por zk prove DIR``
proves every batch, ``por zk verify DIR`` checks every batch proof in Python (py_ecc)
and ties the proven batches to the published bucket roots and totals.
Registered on the root app by ``por.cli.app`` with ``app.add_typer(zk_app, name="zk")``.
Exit codes as everywhere: 0 ok, 1 verification failed, 2 bad input.
"""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, Optional

import typer

from por.cli.common import JsonOpt, _emit_json, _reporter, _run, err, esc, out

zk_app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="zk mode: Groth16 proofs that every balance of every batch is in [0, 2^64) and the batch sums are exact.",
)

TESTING_ONLY = ("LOCAL SETUP - TESTING ONLY: whoever knows the entropy (at least whoever ran this) can forge batch "
                "proofs. Publish zk-mode snapshots only with a ceremony key (circuits/README.md).")


@zk_app.command("setup")
def setup_cmd(
    out_dir: Annotated[Path, typer.Argument(help="New setup directory.")],
    assets: Annotated[int, typer.Option(help="Number of assets (the config's [assets] count).", min=1)],
    batch_height: Annotated[int, typer.Option(help="k: each batch proof covers 2^k leaves.", min=0)] = 4,
    entropy: Annotated[Optional[str], typer.Option(help="Local setup (TESTING ONLY): the beacon entropy.")] = None,
    zkey: Annotated[Optional[Path], typer.Option(help="Production: the final .zkey of a phase-2 ceremony for this circuit.")] = None,
    ptau: Annotated[Optional[Path], typer.Option(help="With --zkey: the ceremony's phase-1 .ptau; `snarkjs zkey verify` checks the zkey against it.")] = None,
    cache: Annotated[Optional[Path], typer.Option(help="Cache of compiled circuits and local phase-1 files (default build/zk or $POR_ZK_CACHE).")] = None,
    margin: Annotated[bool, typer.Option("--margin", help="BatchMargin(k, A) for configs with [prices] (margin accounts, A <= 7): also proves every account's collateral value >= 0.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Compile Batch(k, A) (or BatchMargin(k, A) with --margin) and set it up: a local testing setup (--entropy) or a ceremony's key (--zkey)."""
    from por.zk.circuits import circuit_for
    from por.zk.setup import create_setup

    def body() -> None:
        with err.status("compiling the circuit and running the setup (minutes for large batches)",
                        spinner="dots") if err.is_terminal and not as_json else nullcontext():
            made = create_setup(out_dir, batch_height=batch_height, assets=assets, entropy=entropy, zkey=zkey,
                                ptau=ptau, cache_dir=cache, circuit=circuit_for(margin))
        doc = {"ok": True, "out": str(out_dir), **made.to_dict()}
        if as_json:
            _emit_json(doc)
            return
        out.print(f"setup of {made.circuit}({made.batch_height}, {made.assets}) in {out_dir}: verifying key digest "
                  f"[bold]{made.params.digest.hex()}[/]")
        if made.testing_only:
            out.print(f"[bold yellow]{TESTING_ONLY}[/]")

    _run(as_json, body)


@zk_app.command("prove")
def prove_cmd(
    snapshot_dir: Annotated[Path, typer.Argument(help="zk-mode directory written by `por build --zk`.")],
    setup: Annotated[Optional[Path], typer.Option(help="Setup directory (default: the one the snapshot was built with).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Re-prove batches whose proof file already exists.")] = False,
    prover: Annotated[Optional[str], typer.Option(help="native (groth16py, `pip install 'por[native]'`) or snarkjs; default: native if installed.")] = None,
    jobs: Annotated[int, typer.Option(help="Local worker processes, each proving a group of batches.", min=1)] = 1,
    scheduler: Annotated[Optional[str], typer.Option(help="Dask scheduler tcp://HOST:PORT, or 'local' (2 workers): one task per group of batches.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Prove every batch into DIR/zk/<bucket>/<batch>.json (resumable; deterministic, whatever the prover and engine)."""
    from por.core.engine import make_engine
    from por.proofs.batches import prove_snapshot

    def body() -> None:
        with _reporter(as_json) as rep:
            rep.phase("proving batches", None)
            engine = make_engine(jobs=jobs, scheduler=scheduler)
            try:
                res = prove_snapshot(snapshot_dir, setup_dir=setup, force=force, progress=rep.advance,
                                     on_total=rep.set_total, prover_backend=prover, engine=engine)
            finally:
                engine.close()
        doc = {"ok": True, "proved": res.proved, "skipped": res.skipped, "batches": res.batches,
               "seconds": round(res.seconds, 3), "testing_only": res.testing_only}
        if as_json:
            _emit_json(doc)
            return
        out.print(f"proved {res.proved} batches, kept {res.skipped} existing proofs ({res.batches} in all) "
                  f"in {res.seconds:.1f} s; wrote {Path(snapshot_dir) / 'zk'}")
        if res.testing_only:
            out.print(f"[bold yellow]{TESTING_ONLY}[/]")

    _run(as_json, body)


@zk_app.command("verify")
def verify_cmd(
    snapshot_dir: Annotated[Path, typer.Argument(help="Directory with snapshot.json and zk/ batch proofs.")],
    snapshot: Annotated[Optional[Path], typer.Option(help="The trusted snapshot.json (default: DIR/snapshot.json).")] = None,
    jobs: Annotated[int, typer.Option(help="Worker processes for the pairings (py_ecc: ~0.65 s per proof).", min=1)] = 1,
    verifier: Annotated[Optional[str], typer.Option(help="native (MCL via mclbn256) or py_ecc (the reference); default: native if installed.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Verify every batch proof (native MCL or py_ecc) and check the proven batches add up to the published roots."""
    from rich.table import Table

    from por.core.errors import EXIT_VERIFY_FAILED
    from por.proofs.batches import verify_snapshot

    def body() -> int:
        with _reporter(as_json) as rep:
            rep.phase("verifying batch proofs", None)
            res = verify_snapshot(snapshot_dir, snapshot_path=snapshot, jobs=jobs, progress=rep.advance,
                                  on_total=rep.set_total, verifier=verifier)
        if as_json:
            _emit_json({"ok": res.ok, **res.to_dict()})
            return 0 if res.ok else EXIT_VERIFY_FAILED
        t = Table(title=f"zk batch proofs: snapshot {res.snapshot_id} (batch height {res.batch_height})")
        for col in ("bucket", "batches", "result"):
            t.add_column(col)
        for b in res.buckets:
            t.add_row(b.bucket, str(b.batches), "[green]ok[/]" if b.ok else f"[red]{esc(b.problem)}[/]")
        out.print(t)
        for f in res.failures:
            err.print(f"[bold red]verification failed:[/] {esc(str(f))}", highlight=False, soft_wrap=True)
        if res.ok:
            out.print(f"[green]ok[/] {res.statement} (verifying key {res.vkey_digest})")
        return 0 if res.ok else EXIT_VERIFY_FAILED

    _run(as_json, body)
