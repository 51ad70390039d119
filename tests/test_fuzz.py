"""Short deterministic fuzz runs of every harness (fuzz/harnesses.py), and the regression inputs.

The contract (fuzz/harnesses.py): a parser of untrusted input either accepts or raises a PorError of exit
code 1 or 2 -- never another exception, never an input slower than the time bound, never a memory jump.
The long runs are ``python -m fuzz.run --seconds N`` (RELIABILITY.md has the figures of the last one).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fuzz.engine import fuzz
from fuzz.harnesses import CORPUS, HARNESSES, REGRESSIONS, outcome

ROOT = Path(__file__).resolve().parents[1]
INPUTS = 100
"""Mutants per harness in the default suite (divided by the harness's cost): about 10 s for all of them."""


@pytest.mark.parametrize("name", sorted(HARNESSES))
def test_short_deterministic_fuzz_run(name: str) -> None:
    h = HARNESSES[name]
    assert h.seeds(), f"harness {name} has no seed corpus"
    stats = fuzz(h, inputs=max(10, INPUTS // h.cost), seed=0, time_bound=2.0, rss_bound_mb=256)
    assert not stats.findings, "\n\n".join(f"{f.kind}: {f.detail}" for f in stats.findings)
    assert stats.inputs >= len(h.seeds()) + max(10, INPUTS // h.cost)


def _regressions() -> list[tuple[str, Path]]:
    return [(d.name, f) for d in sorted(REGRESSIONS.iterdir()) if d.is_dir() for f in sorted(d.iterdir())]


@pytest.mark.parametrize("name,path", _regressions(), ids=lambda v: v.name if isinstance(v, Path) else v)
def test_every_crash_found_is_a_regression_input(name: str, path: Path) -> None:
    """Inputs that broke the contract once (fuzz/regressions/<harness>/): each is now refused cleanly."""
    assert outcome(HARNESSES[name], path.read_bytes()) in (1, 2)


def test_every_seed_is_accepted() -> None:
    """The corpus is of genuine documents (a mutant's parent must parse), except ledgers for another config."""
    refused = [(n, s) for n, h in HARNESSES.items() for s, d in h.seeds()
               if not s.startswith("regressions/") and outcome(h, d) != 0]
    assert refused == [("ledger_csv", "corpus/ledger_csv/margin.csv")]


def test_the_runner_script(tmp_path: Path) -> None:
    out = tmp_path / "summary.json"
    r = subprocess.run([sys.executable, "-m", "fuzz.run", "--inputs", "20", "--harness", "log_head",
                        "--harness", "ledger_csv", "--json", str(out)], cwd=ROOT, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    doc = json.loads(out.read_text())
    assert doc["findings"] == 0 and [h["harness"] for h in doc["harnesses"]] == ["log_head", "ledger_csv"]
    assert all(h["inputs"] >= 20 for h in doc["harnesses"])


def test_the_trusted_documents_are_there() -> None:
    assert (CORPUS / "_trusted" / "snapshot-public.json").is_file()


def test_a_bad_bitcoin_signature_is_a_failure_not_a_traceback(tmp_path: Path) -> None:
    """Found by the ``reserves`` harness: any Bitcoin attestation that did not verify crashed `por reserves
    verify` (``e.where()`` on a property: TypeError) instead of failing with the reason."""
    from typer.testing import CliRunner

    from por.cli.app import app

    doc = json.loads((CORPUS / "reserves" / "reserves.json").read_text())
    del doc["chains"]["ethereum"]
    doc["addresses"] = [a for a in doc["addresses"] if a["chain"] == "bitcoin"]
    sig = doc["addresses"][0]["signature"]
    doc["addresses"][0]["signature"] = sig[:-6] + ("A" if sig[-6] != "A" else "B") + sig[-5:]
    (tmp_path / "reserves.json").write_text(json.dumps(doc))
    (tmp_path / "utxos.json").write_bytes((CORPUS / "_trusted" / "utxos.json").read_bytes())
    r = CliRunner().invoke(app, ["reserves", "verify", "--snapshot", str(CORPUS / "_trusted" / "snapshot-public.json"),
                                 "--reserves", str(tmp_path / "reserves.json")])
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    assert r.exit_code == 1 and "addresses[0] (bitcoin" in " ".join(r.output.split()), r.output
