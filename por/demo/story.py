"""The end-to-end story, runnable as ``por demo``: generate, build, prove, verify, audit, attack.

Everything happens in a temporary directory (or ``workdir``); each step is
recorded as a :class:`~por.audit.audit.Check` so the CLI can show a report and tests
can assert on it.
"""

from __future__ import annotations

import copy
import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from por.audit.audit import Check, audit
from por.core.errors import PorError, VerificationFailed
from por.demo.examples import write_example
from por.core.fileio import atomic_write_json
from por.core.keys import load_secret
from por.proofs.inclusion import Prover, proof_filename, verify_proof
from por.core.progress import Reporter
from por.snapshot import build_snapshot, load_snapshot


@dataclass
class DemoReport:
    workdir: str
    steps: list[Check] = field(default_factory=list)
    snapshot: Any = None
    chain: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return all(s.ok for s in self.steps)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "workdir": self.workdir,
                "steps": [{"name": s.name, "ok": s.ok, "detail": s.detail} for s in self.steps],
                "snapshot": self.snapshot.to_dict() if self.snapshot else None, "chain": self.chain}


def _expect_rejected(name: str, doc: Any, snapshot: Any, report: DemoReport, **kw: Any) -> None:
    try:
        verify_proof(doc, snapshot=snapshot, **kw)
    except PorError as exc:
        report.steps.append(Check(f"attack: {name}", True, f"rejected: {exc}"))
    else:
        report.steps.append(Check(f"attack: {name}", False, "ACCEPTED a tampered proof"))


def run_demo(users: int = 1000, *, workdir: Path | None = None, reporter: Reporter | None = None,
             chain: bool = True, zk: bool = False) -> DemoReport:
    """Run the whole story; every step must pass (attacks must be rejected, the insolvent bucket caught).

    With ``chain`` (the default) it also starts a local anvil and runs the reserves, segregation and
    anchoring story (:mod:`por.demo.chain`). With ``zk`` it also runs the zk-mode story on a small
    ledger (a local, testing-only Groth16 setup: minutes the first time on a fresh machine, cached after)."""
    base = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="por-demo-"))
    report = DemoReport(str(base))
    cfg, ledger = write_example(base / "input", users, assets=3, buckets=3)
    report.steps.append(Check("generate ledger", True, f"{users} users x 3 assets x 3 buckets -> {ledger}"))

    out = base / "snapshot"
    result = build_snapshot(cfg, ledger, out, reporter=reporter)
    snap = result.snapshot
    report.snapshot = snap
    report.steps.append(Check("build", True, f"{result.rows} leaves, root {snap.root.hex()[:16]}..."))

    prover = Prover(out)
    proofs_dir = base / "proofs"
    proofs_dir.mkdir()
    n = 0
    for account in prover.accounts():
        atomic_write_json(proofs_dir / proof_filename(account), prover.prove(account))
        n += 1
    report.steps.append(Check("prove", True, f"{n} inclusion proofs exported to {proofs_dir}"))

    ok = 0
    for path in sorted(proofs_dir.glob("*.json")):
        doc = json.loads(path.read_bytes())
        verify_proof(doc, snapshot=snap, account_id=doc["account_id"], file=path.name)
        ok += 1
    report.steps.append(Check("verify", ok == n, f"{ok}/{n} proofs lead to the published root"))

    rep = audit(cfg, ledger, load_secret(out / "secret.key"), out / "snapshot.json", reporter=reporter)
    report.steps.append(Check("audit", rep.ok, f"{sum(c.ok for c in rep.checks)}/{len(rep.checks)} checks passed"))

    # -- attacks: each must be rejected
    victim = next(prover.accounts())
    doc = prover.prove(victim)
    prover.close()
    symbol = snap.config.symbols[0]

    bad = copy.deepcopy(doc)
    e = bad["entries"][0]
    e["balances"][symbol] = str(int(e["balances"][symbol]) + 1)
    _expect_rejected("inflated own balance", bad, snap, report)

    bad = copy.deepcopy(doc)
    path = bad["entries"][0]["path"]
    hi = max(range(len(path)), key=lambda i: int(path[i]["sums"][symbol]))
    lo = 0 if hi else 1
    moved = int(path[hi]["sums"][symbol])  # re-split: the bucket total stays the same
    path[hi]["sums"][symbol] = "0"
    path[lo]["sums"][symbol] = str(int(path[lo]["sums"][symbol]) + moved)
    _expect_rejected("sum-only parent (sibling sums re-split, total kept)", bad, snap, report)

    bad = copy.deepcopy(doc)
    bad["entries"][0]["path"][0]["sums"][symbol] = str((1 << 64) - 1)
    _expect_rejected("wraparound at 2^64", bad, snap, report)

    bad = copy.deepcopy(doc)
    bad["account_id"] = victim + "-other"
    _expect_rejected("proof presented as another account", bad, snap, report)

    try:
        verify_proof(doc, snapshot=snap, account_id=victim + "-other")
        report.steps.append(Check("attack: wrong --account", False, "ACCEPTED"))
    except VerificationFailed as exc:
        report.steps.append(Check("attack: wrong --account", True, f"rejected: {exc}"))

    _hiding_story(cfg, ledger, base, load_secret(out / "secret.key"), victim, report, reporter)
    if zk:
        _zk_story(base, report, reporter)

    if chain:
        from por.demo.chain import run_chain_demo

        steps, report.chain = run_chain_demo(snap, base, audit_inputs={
            "config": cfg, "ledger": ledger, "secret": out / "secret.key", "snapshot": out / "snapshot.json",
            "proofs": proofs_dir})
        report.steps += steps
    return report


def _hiding_story(cfg: Path, ledger: Path, base: Path, secret: bytes, victim: str, report: DemoReport,
                  reporter: Reporter | None) -> None:
    """Hiding mode on the same ledger: commitments only, a range-proved user proof, ZK solvency."""
    from por.proofs.solvency import prove_solvency, verify_solvency

    out = base / "hiding"
    res = build_snapshot(cfg, ledger, out, secret=secret, hiding=True, reporter=reporter)
    public = json.loads((out / "snapshot.json").read_text())
    report.steps.append(Check("hiding: build", "totals" not in public and public["mode"] == "hiding",
                              f"snapshot.json publishes commitments only, root {res.snapshot.root.hex()[:16]}..."))
    snap = load_snapshot(out)
    prover = Prover(out)
    doc = prover.prove(victim)
    prover.close()
    verify_proof(doc, snapshot=snap, account_id=victim)
    report.steps.append(Check("hiding: prove + verify", True,
                              f"{victim}: own balances, sibling commitments and a range proof that every sibling "
                              "and the total are in [0, 2^64)"))
    bad = copy.deepcopy(doc)
    proof_hex = bad["entries"][0]["range_proof"]
    bad["entries"][0]["range_proof"] = proof_hex[:-2] + f"{int(proof_hex[-2:], 16) ^ 1:02x}"  # flip one bit
    _expect_rejected("hiding: altered range proof", bad, snap, report)

    symbols = snap.config.symbols
    totals = {(b.id, s): v for b in res.snapshot.buckets for s, v in zip(symbols, b.totals or ())}
    reserves = {k: v + v // 100 for k, v in totals.items()}  # 101% of every bucket's liabilities
    proof = prove_solvency(out, reserves)
    verify_solvency(proof, snap, reserves=reserves)
    report.steps.append(Check("hiding: zero-knowledge solvency", True,
                              f"reserves >= liabilities for all {len(reserves)} bucket x asset pairs, "
                              "liabilities not revealed"))
    short_key = max(totals, key=lambda k: totals[k])
    short = dict(reserves)
    short[short_key] = totals[short_key] - 1
    try:
        prove_solvency(out, short)
        report.steps.append(Check("attack: hiding: one bucket short by one unit", False, "a proof was produced"))
    except VerificationFailed as exc:
        report.steps.append(Check("attack: hiding: one bucket short by one unit", True, f"rejected (no proof exists): {exc}"))


ZK_DEMO_ENTROPY = "por/v1 zk test vectors"
"""The tests' local-setup entropy: the demo then shares their cached phase 1 (testing only either way)."""


def _zk_story(base: Path, report: DemoReport, reporter: Reporter | None) -> None:
    """zk mode on a small ledger: local setup, build, prove every batch, verify them in Python, attacks."""
    from por.zk.prover import calculate_witness
    from por.zk.tools import WitnessError
    from por.zk.poseidon import P
    from por.zk.setup import create_setup
    from por.modes.zk import batch_proof_path
    from por.proofs.batches import prove_snapshot, verify_snapshot

    cfg, ledger = write_example(base / "zk-input", 24, assets=1, buckets=2)
    setup = create_setup(base / "zk-setup", batch_height=2, assets=1, entropy=ZK_DEMO_ENTROPY)
    report.steps.append(Check("zk: setup (local, TESTING ONLY)", True,
                              f"Batch(2, 1): verifying key {setup.params.digest.hex()[:16]}...; a production "
                              "setup needs a ceremony (README)"))
    out = base / "zk"
    res = build_snapshot(cfg, ledger, out, zk_setup=setup.directory, reporter=reporter)
    proved = prove_snapshot(out)
    report.steps.append(Check("zk: build + prove", proved.proved == proved.batches,
                              f"{res.rows} leaves in {proved.batches} batches of 4, each with a Groth16 proof"))
    checked = verify_snapshot(out)
    report.steps.append(Check("zk: verify every batch (py_ecc)", checked.ok,
                              "every balance of every leaf in [0, 2^64), bucket totals = sums of proven batches"
                              if checked.ok else "; ".join(checked.failures[:3])))
    prover = Prover(out)
    account = next(prover.accounts())
    doc = prover.prove(account)
    prover.close()
    snap = load_snapshot(out)
    verify_proof(doc, snapshot=snap, account_id=account)
    report.steps.append(Check("zk: prove + verify a user", True,
                              f"{account}: Poseidon path, the batch's Groth16 proof, SHA-256 path to the root"))

    bad = copy.deepcopy(doc)
    sums = bad["entries"][0]["batch"]["sums"]
    symbol = next(iter(sums))
    sums[symbol] = str(max(int(sums[symbol]) - 1, 0) if int(sums[symbol]) else 1)
    _expect_rejected("zk: batch sum lowered in a user's proof", bad, snap, report)

    path = batch_proof_path(out, 0, 0)
    original = path.read_text()
    tampered = json.loads(original)
    tampered["sums"][symbol] = str(int(tampered["sums"][symbol]) + 1)
    path.write_text(json.dumps(tampered))
    caught = not verify_snapshot(out).ok
    path.write_text(original)
    report.steps.append(Check("attack: zk: published batch sum altered", caught,
                              "rejected by por zk verify" if caught else "ACCEPTED"))

    circuit = setup.circuit_setup().circuit
    wrapped = {"account": ["1", "2", "3", "4"], "salt": ["5", "6", "7", "8"],
               "balance": [[str(P - 1)], ["5"], ["0"], ["0"]]}  # a "negative" -1 as a field element
    try:
        calculate_witness(circuit, wrapped, base / "zk-negative.wtns")
        report.steps.append(Check("attack: zk: field-wrapped negative balance", False, "a witness was produced"))
    except WitnessError as exc:
        report.steps.append(Check("attack: zk: field-wrapped negative balance", True,
                                  f"no witness, so no proof: {str(exc).splitlines()[0][:120]}"))
