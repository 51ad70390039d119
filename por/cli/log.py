"""`por log`: the transparency log of snapshot roots (SPEC.md §11), as a typer sub-app.

Registered on the root app by ``por.cli.app`` with ``app.add_typer(log_app, name="log")``.
Every command takes ``--json``; exit codes as everywhere: 0 ok, 1 verification failed
(bad signature, rewritten or forked history, invalid proof), 2 bad input.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from por.cli.common import JsonOpt, _emit_json, _run, err, esc, out

log_app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Transparency log of snapshot roots: append, signed heads, inclusion and consistency proofs.",
)

LogOpt = Annotated[Path, typer.Option("--log", help="The log directory (created by `por log init`).")]
OutOpt = Annotated[Optional[Path], typer.Option("--out", help="Write the document here (default: stdout).")]
PubkeyOpt = Annotated[Optional[str], typer.Option("--pubkey", help="The log's public key (66 hex) you trust.")]


def _print(msg: str) -> None:
    out.print(msg, highlight=False, soft_wrap=True)


def _write_doc(doc: dict[str, Any], out_path: Path | None, as_json: bool, summary: dict[str, Any], what: str) -> None:
    """A document goes to ``--out`` (atomically) or, without it, to stdout as canonical JSON."""
    from por.core.fileio import atomic_write_json, canonical_json

    if out_path is None:
        sys.stdout.write(canonical_json(doc).decode())
        return
    atomic_write_json(out_path, doc)
    if as_json:
        _emit_json({"ok": True, "out": str(out_path), **summary})
    else:
        _print(esc(f"wrote {what} to {out_path}"))


def _warn_if_readable(path: Path, as_json: bool) -> None:
    from por.core.keys import secret_file_is_private

    if not as_json and path.exists() and not secret_file_is_private(path):
        err.print(f"[yellow]warning:[/] {esc(str(path))} is readable by others; chmod 600 it")


# ------------------------------------------------------------------ exchange side

@log_app.command("init")
def init(
    log_dir: LogOpt,
    key: Annotated[Optional[Path], typer.Option("--key", help="An existing signing key file (64 hex); "
                                                "default: create DIR/log.key (mode 0600).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create an empty log (and, unless --key is given, its signing key DIR/log.key, mode 0600)."""
    from por.log.transparency import TransparencyLog

    def body() -> None:
        if key is not None:
            _warn_if_readable(key, as_json)
        with TransparencyLog.create(log_dir, key_path=key) as log:
            info = {"ok": True, "log": str(log_dir), "public_key": log.public_key.hex(),
                    "key_file": str(log.key_path()), "key_created": key is None, "size": log.size}
        if as_json:
            _emit_json(info)
            return
        _print(esc(f"created log {log_dir} (empty)"))
        _print(f"public key {info['public_key']}  (publish it: users check every head against it)")
        if key is None:
            _print(esc(f"new signing key: {info['key_file']} (mode 0600; keep it private, keep it safe)"))

    _run(as_json, body)


@log_app.command("append")
def append(
    snapshot_dir: Annotated[Path, typer.Argument(help="Snapshot directory (or its snapshot.json).")],
    log_dir: LogOpt,
    anchor_tx: Annotated[Optional[str], typer.Option("--anchor-tx", help="Hash (64 hex) of the transaction "
                                                     "that anchored this root on chain.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Record a snapshot's root (and anchor tx) as the next log entry."""
    from por.log.transparency import TransparencyLog, parse_anchor_tx
    from por.snapshot import load_snapshot

    def body() -> None:
        tx = parse_anchor_tx(anchor_tx, field="anchor-tx")
        snap = load_snapshot(snapshot_dir)
        with TransparencyLog.open(log_dir) as log:
            entry = log.append(snap, tx)
            index, _ = log.lookup(entry.snapshot_id)
            size, root = log.size, log.root()
        if as_json:
            _emit_json({"ok": True, "leaf_index": index, "size": size, "tree_root": root.hex(), "entry": entry.to_dict()})
            return
        _print(f"logged snapshot {entry.snapshot_id} (as of {entry.as_of}) as entry {index}")
        _print(f"  snapshot root {entry.root.hex()}")
        if entry.anchor_tx is not None:
            _print(f"  anchor tx     {entry.anchor_tx.hex()}")
        _print(f"log size {size}, tree root {root.hex()}  (publish a new head: por log head)")

    _run(as_json, body)


@log_app.command("head")
def head(
    log_dir: LogOpt,
    out_path: OutOpt = None,
    key: Annotated[Optional[Path], typer.Option("--key", help="Signing key (default: the log's own).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Sign and print the current head (size, tree root, public key, signature)."""
    from por.log.transparency import TransparencyLog

    def body() -> None:
        with TransparencyLog.open(log_dir) as log:
            signed = log.head(key)
        _write_doc(signed.to_dict(), out_path, as_json, {"size": signed.size, "root": signed.root.hex()},
                   f"head (size {signed.size})")

    _run(as_json, body)


@log_app.command("prove-inclusion")
def prove_inclusion(
    snapshot_id: Annotated[str, typer.Argument(help="The logged snapshot id.")],
    log_dir: LogOpt,
    out_path: OutOpt = None,
    size: Annotated[Optional[int], typer.Option("--size", help="Prove against the head of this size "
                                                "(e.g. the one a user kept); default: current.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Write the proof that a snapshot's entry is in the log."""
    from por.log.transparency import TransparencyLog

    def body() -> None:
        with TransparencyLog.open(log_dir) as log:
            doc = log.prove_inclusion(snapshot_id, size)
        _write_doc(doc, out_path, as_json, {"snapshot_id": snapshot_id, "leaf_index": doc["leaf_index"],
                                            "tree_size": doc["tree_size"]},
                   f"inclusion proof of {snapshot_id!r}")

    _run(as_json, body)


@log_app.command("prove-consistency")
def prove_consistency(
    old_size: Annotated[int, typer.Argument(help="Size of the old head (the one a user or auditor kept).")],
    log_dir: LogOpt,
    out_path: OutOpt = None,
    new_size: Annotated[Optional[int], typer.Option("--new-size", help="Size of the new head; default: current.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Write the proof that the log at OLD_SIZE is a prefix of the log now."""
    from por.log.transparency import TransparencyLog

    def body() -> None:
        with TransparencyLog.open(log_dir) as log:
            doc = log.prove_consistency(old_size, new_size)
        _write_doc(doc, out_path, as_json, {"old_size": doc["old_size"], "new_size": doc["new_size"]},
                   f"consistency proof {doc['old_size']} -> {doc['new_size']}")

    _run(as_json, body)


# ------------------------------------------------------------------ user / auditor side

@log_app.command("verify-inclusion")
def verify_inclusion(
    proof: Annotated[Path, typer.Argument(help="A por-log-inclusion-proof file.")],
    head_file: Annotated[Path, typer.Option("--head", help="The signed head to check against.")],
    snapshot: Annotated[Optional[Path], typer.Option("--snapshot", help="snapshot.json the entry must match.")] = None,
    pubkey: PubkeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Check that a snapshot's root is in the log the signed head commits to."""
    from por.log.transparency import load_json, verify_inclusion as verify
    from por.snapshot import load_snapshot

    def body() -> None:
        snap = load_snapshot(snapshot) if snapshot is not None else None
        res = verify(load_json(proof, "proof"), load_json(head_file, "head"), expected_pubkey=pubkey,
                     snapshot=snap, proof_file=str(proof), head_file=str(head_file))
        if as_json:
            _emit_json({"ok": True, **res.to_dict(), "snapshot_checked": snap is not None})
            return
        e = res.entry
        _print(f"[bold green]VALID[/]: snapshot {e.snapshot_id} (as of {e.as_of}) is entry {res.leaf_index} "
               f"of the log of size {res.head.size}")
        _print(f"  snapshot root {e.root.hex()}" + ("  (matches snapshot.json)" if snap is not None else ""))
        if e.anchor_tx is not None:
            _print(f"  anchor tx     {e.anchor_tx.hex()}")
        _print(f"  head signed by {res.head.public_key.hex()}")

    _run(as_json, body)


@log_app.command("verify-consistency")
def verify_consistency(
    proof: Annotated[Path, typer.Argument(help="A por-log-consistency-proof file.")],
    old_head: Annotated[Path, typer.Option("--old-head", help="The head you kept earlier.")],
    new_head: Annotated[Path, typer.Option("--new-head", help="The head published now.")],
    pubkey: PubkeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Check that the log only grew since the old head: no entry rewritten, no fork."""
    from por.log.transparency import load_json, verify_consistency as verify

    def body() -> None:
        res = verify(load_json(proof, "proof"), load_json(old_head, "old head"), load_json(new_head, "new head"),
                     expected_pubkey=pubkey, proof_file=str(proof), old_head_file=str(old_head),
                     new_head_file=str(new_head))
        if as_json:
            _emit_json({"ok": True, **res.to_dict()})
            return
        _print(f"[bold green]CONSISTENT[/]: the log of size {res.new_head.size} extends the one of size "
               f"{res.old_head.size} you kept (append-only, no fork)")
        _print(f"  head signed by {res.new_head.public_key.hex()}")

    _run(as_json, body)


__all__ = ["log_app"]
