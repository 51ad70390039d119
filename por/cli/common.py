"""What every `por` command module shares: consoles, the ``--json`` option, progress, output and errors.

``out`` (stdout) and ``err`` (stderr) are the rich consoles; ``JsonOpt`` is the
``--json`` option every command takes; ``RichReporter``/``_reporter`` draw progress
bars on a terminal; ``_emit_json`` writes the one JSON document of ``--json``;
``_run`` runs a command body and maps library errors to exit codes (0 ok,
1 verification failed, 2 bad input or usage, 3 a required service unreachable);
``_checks_table``, ``_snapshot_table`` and ``_margin_table`` render results used
by more than one command. This module imports no other ``por.cli`` module.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.markup import escape as esc
from rich.table import Table

from por.core.errors import PorError, VerificationFailed

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
            err.print(f"[bold red]{label}:[/] {esc(str(exc))}", highlight=False, markup=True, soft_wrap=True)
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        err.print("[red]interrupted; nothing was written[/]")
        raise typer.Exit(130) from None
    raise typer.Exit(code)



def _checks_table(title: str, checks: list[Any]) -> None:
    t = Table(title=title)
    t.add_column("check")
    t.add_column("result")
    t.add_column("detail", overflow="fold")
    for c in checks:
        t.add_row(esc(c.name), "[green]pass[/]" if c.ok else "[red]FAIL[/]", esc(c.detail))
    out.print(t)


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
