"""`por prove`, `por verify`, `por export-verifier`: write inclusion proofs, verify them, export the offline
verifier page.

``verify`` checks proofs against a trusted snapshot or root and, optionally, that the
root is in a transparency log (``_check_log``) and is the one anchored on chain
(``_check_registry``). Registered on the root app by ``por.cli.app``.
"""

from __future__ import annotations

import glob
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.table import Table

from por.cli.common import JsonOpt, _emit_json, _reporter, _run, err, esc, out
from por.core.errors import EXIT_VERIFY_FAILED, BadInput, VerificationFailed


def prove(
    snapshot_dir: Annotated[Path, typer.Argument(help="Directory written by `por build`.")],
    account: Annotated[Optional[str], typer.Option(help="Account id to prove.")] = None,
    all_accounts: Annotated[bool, typer.Option("--all", help="Export every account's proof into --out DIR.")] = False,
    out_path: Annotated[Optional[Path], typer.Option("--out", help="Proof file (or directory with --all).")] = None,
    jobs: Annotated[int, typer.Option(help="Worker processes for --all (hiding-mode proofs are CPU-bound).", min=1)] = 1,
    as_json: JsonOpt = False,
) -> None:
    """Write inclusion proofs: one account's (all its buckets), or every account's with --all."""
    from por.core.fileio import atomic_directory, atomic_write_json, canonical_json
    from por.proofs.inclusion import Prover, proof_filename, prove_all

    def body() -> None:
        if all_accounts == (account is not None):
            raise BadInput("give exactly one of --account ID or --all", field="account")
        if all_accounts and out_path is None:
            raise BadInput("--all needs --out DIR", field="out")
        prover = Prover(snapshot_dir)
        try:
            if account is not None:
                doc = prover.prove(account)
                if out_path is None:
                    sys.stdout.write(canonical_json(doc).decode())
                else:
                    atomic_write_json(out_path, doc)
                    if as_json:
                        _emit_json({"ok": True, "account_id": account, "out": str(out_path)})
                    else:
                        out.print(f"wrote proof for {esc(repr(account))} to {esc(str(out_path))}")
                return
            assert out_path is not None
            if out_path.exists() and (not out_path.is_dir() or any(out_path.iterdir())):
                raise BadInput("output directory exists and is not empty", file=str(out_path))
            total = prover.store.count_accounts()
            index = {}
            with _reporter(as_json) as rep, atomic_directory(out_path) as stage:
                rep.phase("exporting proofs", total)
                used: set[str] = set()  # names as a case-insensitive file system sees them
                for acc, doc in prove_all(snapshot_dir, jobs=jobs):
                    name = proof_filename(acc)
                    if name.lower() in used:  # "Alice" after "alice": one file there
                        name = proof_filename(acc, hashed=True)
                    used.add(name.lower())
                    atomic_write_json(stage / name, doc)
                    index[acc] = name
                    rep.advance(1)
                atomic_write_json(stage / "index.json", index)
            if as_json:
                _emit_json({"ok": True, "proofs": len(index), "out": str(out_path)})
            else:
                out.print(f"wrote {len(index)} proofs and index.json to {esc(str(out_path))}")
        finally:
            prover.close()

    _run(as_json, body)


# ------------------------------------------------------------------ verify

def _expand(patterns: list[str]) -> list[Path]:
    paths: list[Path] = []
    for p in patterns:
        if any(c in p for c in "*?["):
            hits = sorted(glob.glob(p, recursive=True))
            if not hits:
                raise BadInput(f"no files match {p!r}", file=p)
            paths += [Path(h) for h in hits if Path(h).name != "index.json"]
        else:
            paths.append(Path(p))
    return paths


def _check_log(snap: Any, root: bytes | None, head: Path | None, proof: Path | None, pubkey: str | None) -> str:
    """With --log-head: the snapshot's root must be an entry of the log that head commits to."""
    if head is None:
        if proof is not None or pubkey is not None:
            raise BadInput("--log-proof and --log-pubkey need --log-head", field="log_head")
        return ""
    if proof is None:
        raise BadInput("--log-head needs --log-proof (from `por log prove-inclusion`)", field="log_proof")
    from por.log.transparency import load_json, verify_inclusion

    res = verify_inclusion(load_json(proof, "log inclusion proof"), load_json(head, "log head"),
                           expected_pubkey=pubkey, snapshot=snap, proof_file=str(proof), head_file=str(head))
    if snap is None and res.entry.root != root:
        raise VerificationFailed(f"the logged root of {res.entry.snapshot_id} is {res.entry.root.hex()}, "
                                 f"not the trusted root", where=str(proof))
    return f"snapshot {res.entry.snapshot_id} is entry {res.leaf_index} of the log of size {res.head.size}"


def _check_registry(snap: Any, root: bytes | None, paths: list[Path], rpc: str | None, registry: str | None) -> str:
    """With --registry: the trusted root must be the single root anchored for the snapshot id."""
    if registry is None and rpc is None:
        return ""
    if registry is None or rpc is None:
        raise BadInput("--registry and --rpc go together", field="registry")
    from por.reserves.anchor import check_anchor
    from por.reserves.chain import RpcClient
    from por.proofs.inclusion import load_proof

    if snap is not None:
        sid, trusted = snap.config.snapshot_id, snap.root
    else:
        doc = load_proof(paths[0]) if paths else {}
        try:
            sid = doc["snapshot"]["metadata"]["snapshot_id"]
        except (KeyError, TypeError):
            raise BadInput("cannot tell the snapshot id (give --snapshot)", field="registry") from None
        trusted = root
    check_anchor(RpcClient(rpc), registry, sid, trusted)
    return f"root is the one and only root anchored for {sid} in registry {registry}"


def verify(
    proofs: Annotated[list[str], typer.Argument(help="Proof files (globs accepted, e.g. 'proofs/*.json').")],
    snapshot: Annotated[Optional[Path], typer.Option(help="The published snapshot.json (trusted).")] = None,
    root: Annotated[Optional[str], typer.Option(help="A trusted snapshot root (hex), instead of --snapshot.")] = None,
    account: Annotated[Optional[str], typer.Option(help="The account id the proof must belong to.")] = None,
    expect: Annotated[Optional[list[str]], typer.Option(help="ASSET=AMOUNT (all buckets) or BUCKET:ASSET=AMOUNT; repeatable.")] = None,
    log_head: Annotated[Optional[Path], typer.Option(help="A signed log head you trust: also check the snapshot is in the log.")] = None,
    log_proof: Annotated[Optional[Path], typer.Option(help="The log inclusion proof of the snapshot (with --log-head).")] = None,
    log_pubkey: Annotated[Optional[str], typer.Option(help="The exchange's log key (hex) the head must be signed by.")] = None,
    rpc: Annotated[Optional[str], typer.Option(help="Ethereum JSON-RPC URL (with --registry).")] = None,
    registry: Annotated[Optional[str], typer.Option(help="Registry address: the root must be the one anchored for the snapshot id.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Verify inclusion proofs offline against the published snapshot root (and, optionally, the log)."""
    from por.proofs.inclusion import load_proof, verify_proof
    from por.snapshot import load_snapshot

    def body() -> int:
        if (snapshot is None) == (root is None):
            raise BadInput("give exactly one of --snapshot FILE or --root HEX (the trusted root)", field="snapshot")
        snap = load_snapshot(snapshot) if snapshot is not None else None
        trusted = None
        if root is not None:
            try:
                trusted = bytes.fromhex(root)
                assert len(trusted) == 32
            except (ValueError, AssertionError):
                raise BadInput("--root must be 64 hex digits", field="root") from None
        log_check = _check_log(snap, trusted, log_head, log_proof, log_pubkey)
        paths = _expand(proofs)
        extra = [c for c in (log_check, _check_registry(snap, trusted, paths, rpc, registry)) if c]
        results = []
        failed = 0
        with _reporter(as_json or len(paths) < 50) as rep:
            rep.phase("verifying", len(paths))
            for p in paths:
                try:
                    r = verify_proof(load_proof(p), snapshot=snap, root=trusted, account_id=account,
                                     expect=expect or (), file=str(p))
                    r.checks.extend(extra)
                    results.append({"file": str(p), **r.to_dict()})
                except BadInput:
                    if len(paths) == 1:
                        raise
                    failed += 1
                    results.append({"file": str(p), "valid": False, "error": "bad_input",
                                    "reason": str(sys.exc_info()[1])})
                except VerificationFailed as exc:
                    failed += 1
                    results.append({"file": str(p), "valid": False, "reason": str(exc)})
                rep.advance(1)
        if as_json:
            _emit_json({"ok": failed == 0, "valid": len(paths) - failed, "invalid": failed, "results": results})
        elif len(paths) == 1 and not failed and "net" in results[0]["totals"]:
            r = results[0]  # a margin proof: equity, debt and net per bucket x asset
            t = Table(title=f"VALID: {esc(r['account_id'])} is included in snapshot {esc(r['snapshot_id'])}")
            for col in ("bucket", "asset", "equity", "debt", "net"):
                t.add_column(col, justify="left" if col in ("bucket", "asset") else "right", overflow="fold")
            for e in r["entries"]:
                for i, s in enumerate(e["net"]):
                    t.add_row(e["bucket"] if i == 0 else "", s, e["equity"][s], e["debt"][s], e["net"][s],
                              end_section=i == len(e["net"]) - 1)
            if len(r["entries"]) > 1:
                for s in r["totals"]["net"]:
                    t.add_row("[bold]all buckets[/]", s, r["totals"]["equity"][s], r["totals"]["debt"][s],
                              r["totals"]["net"][s])
            out.print(t)
            for e in r["entries"]:
                out.print(f"bucket {e['bucket']}: your collateral value after haircuts is {e['collateral_value']} "
                          "(quote units, at the snapshot prices)")
            out.print(f"root {r['root']}")
            for c in r["checks"]:
                out.print(f"  [green]ok[/] {esc(c)}")
        elif len(paths) == 1 and not failed:
            r = results[0]
            t = Table(title=f"VALID: {esc(r['account_id'])} is included in snapshot {esc(r['snapshot_id'])}")
            t.add_column("bucket")
            symbols = list(r["totals"])
            for s in symbols:
                t.add_column(s, justify="right", overflow="fold")
            for e in r["entries"]:
                t.add_row(e["bucket"], *[e["balances"][s] for s in symbols])
            if len(r["entries"]) > 1:
                t.add_row("[bold]all buckets[/]", *[r["totals"][s] for s in symbols])
            out.print(t)
            out.print(f"root {r['root']}")
            for c in r["checks"]:
                out.print(f"  [green]ok[/] {esc(c)}")
        elif len(paths) > 1:
            t = Table(title=f"{len(paths) - failed} valid, {failed} invalid")
            t.add_column("proof", overflow="fold")
            t.add_column("result", overflow="fold")
            shown = [r for r in results if not r["valid"]][:50] or results[:20]
            for r in shown:
                t.add_row(esc(r["file"]), "[green]valid[/]" if r["valid"] else f"[red]INVALID[/] {esc(r['reason'])}")
            out.print(t)
        if failed:
            if not as_json and len(paths) == 1:
                err.print(f"[bold red]verification failed:[/] {esc(results[0]['reason'])}", highlight=False, soft_wrap=True)
            return EXIT_VERIFY_FAILED
        return 0

    _run(as_json, body)


def export_verifier_cmd(
    snapshot_dir: Annotated[Path, typer.Argument(help="Snapshot directory or snapshot.json.")],
    out_path: Annotated[Path, typer.Option("--out", help="The HTML file to write.")] = Path("verifier.html"),
    as_json: JsonOpt = False,
) -> None:
    """Write a self-contained offline web page in which users check their proof against this snapshot."""
    from por.audit.webpage import export_verifier

    def body() -> None:
        snap = export_verifier(snapshot_dir, out_path)
        if as_json:
            _emit_json({"ok": True, "out": str(out_path), "root": snap.root.hex()})
        else:
            out.print(f"wrote {esc(str(out_path))}: open it in any browser, offline; it checks proofs against root {snap.root.hex()}")

    _run(as_json, body)
