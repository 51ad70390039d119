"""The `por` command line: a thin typer layer over the library.

Each command parses options, calls one library function, and renders the result
with rich (human) or as JSON on stdout (``--json``). Exit codes: 0 ok,
1 verification failed, 2 bad input or usage, 3 a required service unreachable.
"""

from __future__ import annotations

import glob
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from por import __version__
from por.core.errors import EXIT_VERIFY_FAILED, BadInput, PorError, VerificationFailed

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Proof of reserves with client-asset segregation: build Merkle-sum snapshots, prove, verify, audit.",
)
out = Console()
err = Console(stderr=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Machine output: one JSON document on stdout.")]


class RichReporter:
    """Progress bars on stderr (only when it is a terminal)."""

    def __init__(self, enabled: bool) -> None:
        self.progress = Progress(
            SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), console=err, transient=True, disable=not enabled,
        )
        self.task: Any = None

    def __enter__(self) -> "RichReporter":
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.__exit__(*exc)

    def phase(self, name: str, total: int | None) -> None:
        if self.task is not None:
            self.progress.update(self.task, visible=False)
        self.task = self.progress.add_task(name, total=total)

    def advance(self, n: int) -> None:
        if self.task is not None and n:
            self.progress.advance(self.task, n)

    def set_total(self, total: int) -> None:
        """The current phase's total, once the library knows it (``on_total`` callbacks)."""
        if self.task is not None:
            self.progress.update(self.task, total=total)


def _reporter(as_json: bool) -> RichReporter:
    return RichReporter(enabled=err.is_terminal and not as_json)


def _emit_json(doc: Any) -> None:
    sys.stdout.write(json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def _run(as_json: bool, fn: Callable[[], int | None]) -> None:
    """Run a command body, mapping library errors to exit codes and messages."""
    try:
        code = fn() or 0
    except PorError as exc:
        if as_json:
            _emit_json(exc.to_dict() if hasattr(exc, "to_dict") else {"error": str(exc)})
        else:
            label = "verification failed" if isinstance(exc, VerificationFailed) else "error"
            err.print(f"[bold red]{label}:[/] {exc}", highlight=False, markup=True)
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        err.print("[red]interrupted; nothing was written[/]")
        raise typer.Exit(130) from None
    raise typer.Exit(code)


def _version(value: bool) -> None:
    if value:
        print(f"por {__version__}")
        raise typer.Exit(0)


@app.callback()
def _main(
    version: Annotated[
        Optional[bool], typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = None,
) -> None:
    """Proof of reserves with client-asset segregation."""


# ------------------------------------------------------------------ build

@app.command()
def build(
    config: Annotated[Path, typer.Option(help="snapshot.toml")],
    ledger: Annotated[Path, typer.Option(help="Ledger CSV or JSON Lines (.jsonl).")],
    out_dir: Annotated[Path, typer.Option("--out", help="New output directory.")],
    secret: Annotated[Optional[Path], typer.Option(help="Master secret file (64 hex); default: create DIR/secret.key.")] = None,
    height: Annotated[Optional[int], typer.Option(help="Height of every bucket tree (default: room for 2x its rows).")] = None,
    clamp_negative: Annotated[bool, typer.Option("--clamp-negative", help="Floor negative amounts at 0 and count them, instead of rejecting.")] = False,
    hiding: Annotated[bool, typer.Option("--hiding", help="Hiding mode: publish Pedersen commitments, not totals (SPEC.md §15).")] = False,
    jobs: Annotated[Optional[int], typer.Option(help="Worker processes for hiding-mode commitments and zk-mode Poseidon hashing (default: all cores).", min=1)] = None,
    zk: Annotated[Optional[Path], typer.Option("--zk", help="zk mode: the setup directory of `por zk setup`; lowest levels become Groth16-proven Poseidon batches (SPEC.md §16).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Build a snapshot: Merkle-sum tree per bucket, top tree, root; write snapshot.json and store.sqlite."""
    from por.core.keys import load_secret, secret_file_is_private
    from por.snapshot import build_snapshot

    def body() -> None:
        master = None
        if secret is not None:
            master = load_secret(secret)
            if not secret_file_is_private(secret) and not as_json:
                err.print(f"[yellow]warning:[/] {secret} is readable by others; chmod 600 it")
        with _reporter(as_json) as rep:
            res = build_snapshot(config, ledger, out_dir, secret=master, height=height,
                                 clamp_negative=clamp_negative, reporter=rep, hiding=hiding, jobs=jobs,
                                 zk_setup=zk)
        snap = res.snapshot
        if as_json:
            doc = {"ok": True, "out": str(out_dir), "rows": res.rows, "clamped": res.clamped,
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
            out.print(f"new master secret: {out_dir / 'secret.key'} (mode 0600; keep it private, keep it safe)")
        out.print(f"wrote {out_dir / 'snapshot.json'} (public) and {out_dir / 'store.sqlite'} (private)")
        if snap.zk is not None:
            out.print(f"zk mode: batches of {snap.zk.batch_size} leaves, verifying key {snap.zk.digest.hex()}; "
                      f"next: por zk prove {out_dir}")

    _run(as_json, body)


def _margin_table(snap: Any, accounts: dict[str, int] | None = None) -> None:
    """Margin snapshots: equity, debt, net and requirement per bucket x asset."""
    from por.core.ledger import format_amount

    t = Table(title=f"snapshot {snap.config.snapshot_id} as of {snap.config.as_of} — margin accounts "
                    "(requirement = max(equity - debt, 0): what reserves must cover)")
    for col in ("bucket", "kind", "height", *(["leaves"] if accounts is not None else []), "asset", "equity", "debt",
                "net", "requirement"):
        t.add_column(col, justify="left" if col in ("bucket", "kind", "asset") else "right", overflow="fold")
    debt_ok = [b.id for b in snap.buckets if snap.config.allows_debt(b.id)]
    t.caption = f"buckets with allow_debt: {', '.join(debt_ok) if debt_ok else 'none'}"
    for b in snap.buckets:
        for i, a in enumerate(snap.config.assets):
            head = [b.id, b.kind, str(b.height)] if i == 0 else ["", "", ""]
            if accounts is not None:
                head.append(str(accounts.get(b.id, "")) if i == 0 else "")
            t.add_row(*head, a.symbol, *[format_amount(v, a.decimals) for v in
                                         (b.equity[i], b.debt[i], b.equity[i] - b.debt[i], b.totals[i])],
                      end_section=i == len(snap.config.assets) - 1)
    out.print(t)


def _snapshot_table(snap: Any, accounts: dict[str, int] | None = None) -> None:
    from por.core.ledger import format_amount

    if snap.margin is not None:
        _margin_table(snap, accounts)
        return
    hidden = snap.hiding
    title = f"snapshot {snap.config.snapshot_id} as of {snap.config.as_of}"
    if hidden:
        title += " — hiding mode: " + ("totals below are private, only commitments are published"
                                       if snap.totals is not None else "totals are committed, not published")
    t = Table(title=title)
    t.add_column("bucket")
    t.add_column("kind")
    t.add_column("height", justify="right")
    if accounts is not None:
        t.add_column("leaves", justify="right")
    for a in snap.config.assets:
        t.add_column(a.symbol, justify="right", overflow="fold")
    for b in snap.buckets:
        row = [b.id, b.kind, str(b.height)]
        if accounts is not None:
            row.append(str(accounts.get(b.id, "")))
        if b.totals is None:
            row += [f"C={c.hex()[:16]}…" for c in b.commitments]
        else:
            row += [format_amount(v, a.decimals) for v, a in zip(b.totals, snap.config.assets)]
        t.add_row(*row)
    out.print(t)


# ------------------------------------------------------------------ prove

@app.command()
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
                        out.print(f"wrote proof for {account!r} to {out_path}")
                return
            assert out_path is not None
            if out_path.exists() and (not out_path.is_dir() or any(out_path.iterdir())):
                raise BadInput("output directory exists and is not empty", file=str(out_path))
            total = prover.store.count_accounts()
            index = {}
            with _reporter(as_json) as rep, atomic_directory(out_path) as stage:
                rep.phase("exporting proofs", total)
                for acc, doc in prove_all(snapshot_dir, jobs=jobs):
                    name = proof_filename(acc)
                    atomic_write_json(stage / name, doc)
                    index[acc] = name
                    rep.advance(1)
                atomic_write_json(stage / "index.json", index)
            if as_json:
                _emit_json({"ok": True, "proofs": len(index), "out": str(out_path)})
            else:
                out.print(f"wrote {len(index)} proofs and index.json to {out_path}")
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


@app.command()
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
            t = Table(title=f"VALID: {r['account_id']} is included in snapshot {r['snapshot_id']}")
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
                out.print(f"  [green]ok[/] {c}")
        elif len(paths) == 1 and not failed:
            r = results[0]
            t = Table(title=f"VALID: {r['account_id']} is included in snapshot {r['snapshot_id']}")
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
                out.print(f"  [green]ok[/] {c}")
        elif len(paths) > 1:
            t = Table(title=f"{len(paths) - failed} valid, {failed} invalid")
            t.add_column("proof", overflow="fold")
            t.add_column("result", overflow="fold")
            shown = [r for r in results if not r["valid"]][:50] or results[:20]
            for r in shown:
                t.add_row(r["file"], "[green]valid[/]" if r["valid"] else f"[red]INVALID[/] {r['reason']}")
            out.print(t)
        if failed:
            if not as_json and len(paths) == 1:
                err.print(f"[bold red]verification failed:[/] {results[0]['reason']}", highlight=False)
            return EXIT_VERIFY_FAILED
        return 0

    _run(as_json, body)


@app.command("export-verifier")
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
            out.print(f"wrote {out_path}: open it in any browser, offline; it checks proofs against root {snap.root.hex()}")

    _run(as_json, body)


# ------------------------------------------------------------------ reserves and anchoring

reserves_app = typer.Typer(no_args_is_help=True, help="On-chain reserves: attestations, segregation, coverage.")
app.add_typer(reserves_app, name="reserves")


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
                                 solvency_file=str(solvency))
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
            client, b = RpcClient(rpc), res.ethereum.block
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
                out.print(f"feed {row['asset']}: {row['feed']} (age {row['age_s']} s) vs attested {row['attested']}")
            for f in report.failures + report.segregation.problems:
                out.print(f"[red]FAIL[/] {f}")
            out.print("[bold green]SOLVENT AND SEGREGATED[/]" if report.ok else "[bold red]RESERVES CHECK FAILED[/]")
        return 0 if report.ok else EXIT_VERIFY_FAILED

    _run(as_json, body)


@app.command()
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


# ------------------------------------------------------------------ audit

@app.command()
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
                out.print(f"report: {written[0]} and {written[1]}")
            out.print("[bold green]AUDIT PASSED[/]" if result.ok else "[bold red]AUDIT FAILED[/]")
        return 0 if result.ok else EXIT_VERIFY_FAILED

    _run(as_json, body)


def _checks_table(title: str, checks: list[Any]) -> None:
    t = Table(title=title)
    t.add_column("check")
    t.add_column("result")
    t.add_column("detail", overflow="fold")
    for c in checks:
        t.add_row(c.name, "[green]pass[/]" if c.ok else "[red]FAIL[/]", c.detail)
    out.print(t)


# ------------------------------------------------------------------ demo

@app.command()
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


from por.cli.log import log_app  # noqa: E402  (sub-apps; import cli helpers lazily)
from por.cli.solvency import solvency_app  # noqa: E402
from por.cli.zk import zk_app  # noqa: E402

app.add_typer(log_app, name="log")
app.add_typer(solvency_app, name="solvency")
app.add_typer(zk_app, name="zk")


def main() -> None:
    """Console-script entry point (click usage errors exit 2)."""
    app()
