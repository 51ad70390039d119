"""The `por` command line: the root typer app, the registry of every command, and ``main()``.

The CLI is a thin typer layer over the library: each command parses options, calls
one library function, and renders the result with rich (human) or as JSON on stdout
(``--json``). Exit codes: 0 ok, 1 verification failed, 2 bad input or usage, 3 a
required service unreachable.

This module only assembles the app; the commands live in one module per group and
share ``por.cli.common``:

- ``build``     — ``por build``
- ``proofs``    — ``por prove``, ``por verify``, ``por export-verifier``
- ``reserves``  — ``por anchor`` and the ``por reserves`` sub-app
- ``audit``     — ``por audit``
- ``demo``      — ``por demo``
- ``log``, ``solvency``, ``zk`` — the ``por log``, ``por solvency``, ``por zk`` sub-apps

Commands are listed in ``por --help`` in the order they are registered below.
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from por import __version__
from por.cli.audit import audit
from por.cli.build import build
from por.cli.demo import demo
from por.cli.log import log_app
from por.cli.proofs import export_verifier_cmd, prove, verify
from por.cli.reserves import anchor, reserves_app
from por.cli.solvency import solvency_app
from por.cli.zk import zk_app

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Proof of reserves with client-asset segregation: build Merkle-sum snapshots, prove, verify, audit.",
)


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


app.command()(build)
app.command()(prove)
app.command()(verify)
app.command("export-verifier")(export_verifier_cmd)
app.command()(anchor)
app.command()(audit)
app.command()(demo)

app.add_typer(reserves_app, name="reserves")
app.add_typer(log_app, name="log")
app.add_typer(solvency_app, name="solvency")
app.add_typer(zk_app, name="zk")


def main() -> None:
    """Console-script entry point (click usage errors exit 2)."""
    app()
