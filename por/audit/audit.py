"""The auditor's re-computation: ledger + secret -> trees -> compare with the published snapshot.

Every check is recorded with its outcome and reason, so a report can show what
passed and exactly what did not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from por.core.config import load_config
from por.core.errors import PorError
from por.core.ledger import format_amount
from por.core.progress import Reporter
from por.snapshot.build import build_trees
from por.snapshot import Snapshot, load_snapshot


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class AuditReport:
    checks: list[Check] = field(default_factory=list)
    snapshot: Snapshot | None = None
    rows: int = 0
    clamped: int = 0

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    def add(self, name: str, ok: bool, detail: str) -> None:
        self.checks.append(Check(name, ok, detail))

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "rows": self.rows,
            "clamped": self.clamped,
            "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in self.checks],
        }


def audit(
    config_path: Path,
    ledger: Path,
    secret: bytes,
    snapshot_path: Path,
    *,
    clamp_negative: bool = False,
    reporter: Reporter | None = None,
    jobs: int | None = None,
    reference: bool = False,
) -> AuditReport:
    """Recompute every tree from the ledger and compare roots, heights and totals with ``snapshot.json``.

    The trees are rebuilt as ``por build`` builds them (sharded: bounded memory at any size, ``jobs`` local
    processes, by default every core for large ledgers) into a private temporary directory, removed after;
    ``reference=True`` rebuilds them in memory instead, with the per-row reference code (small ledgers; the
    tests compare the two). Bad input (unreadable or invalid files) raises; disagreements are recorded as
    failed checks.
    """
    report = AuditReport()
    published = load_snapshot(snapshot_path)  # raises if the document is not self-consistent
    report.snapshot = published
    report.add("snapshot.json self-consistent", True,
               "root recomputed from its bucket roots and " + published.scheme.describe_document())
    config = load_config(config_path)
    if config != published.config:
        what = "snapshot_id, as_of, assets or buckets"
        if config.margin is not None or published.config.margin is not None:
            what += ", prices, haircuts or allow_debt flags"
        report.add("config matches snapshot metadata", False, f"{what} differ from the published metadata")
        return report
    report.add("config matches snapshot metadata", True, f"snapshot {config.snapshot_id}")
    heights = [b.height for b in published.buckets]
    try:
        if reference:
            rebuilt, _, stats = build_trees(config, ledger, secret, height=heights, clamp_negative=clamp_negative,
                                            reporter=reporter, mode=published.mode, zk=published.zk)
        else:
            rebuilt, stats = _rebuild(config, ledger, secret, heights, published, clamp_negative, reporter, jobs)
    except PorError as exc:
        if exc.exit_code == 2 and "height" in str(exc):
            report.add("ledger fits published heights", False, str(exc))
            return report
        raise
    report.rows, report.clamped = stats.rows, stats.clamped
    for pub, new in zip(published.buckets, rebuilt.buckets):
        for what, ok, detail in published.scheme.compare(pub, new):
            report.add(f"bucket {pub.id} {what}", ok, detail)
        same = new.root == pub.root
        report.add(f"bucket {pub.id} root", same,
                   "recomputed root equals the published root" if same else
                   f"recomputed {new.root.hex()} differs from published {pub.root.hex()}")
    same = rebuilt.root == published.root
    report.add("snapshot root", same, f"recomputed {rebuilt.root.hex()}" +
               ("" if same else f", published {published.root.hex()}"))
    return report


def _rebuild(config: Any, ledger: Path, secret: bytes, heights: list[int], published: Snapshot,
             clamp_negative: bool, reporter: Reporter | None, jobs: int | None) -> tuple[Snapshot, Any]:
    """The snapshot rebuilt by the sharded build, its store in a private temporary directory (removed)."""
    from por.core.fileio import private_workdir
    from por.snapshot.build import build_engine
    from por.snapshot.sharded import build_sharded

    engine = build_engine(ledger, mode=published.mode, jobs=jobs)
    try:
        with private_workdir("por-audit-") as tmp:  # 0700: salts and balances inside
            built = build_sharded(config, ledger, secret, tmp / "store.sqlite", mode=published.mode,
                                  zk=published.zk, height=heights, clamp_negative=clamp_negative, reporter=reporter,
                                  engine=engine, work_dir=tmp)
    finally:
        engine.close()
    return built.snapshot, built.stats


# ------------------------------------------------------------------ the full auditor run

@dataclass
class FullAudit:
    """Everything an auditor checks, with the coverage table for the report."""

    report: AuditReport
    coverage: list[dict[str, Any]] = field(default_factory=list)
    proprietary: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.report.ok

    def to_dict(self) -> dict[str, Any]:
        snap = self.report.snapshot
        return {**self.report.to_dict(), "coverage": self.coverage, "proprietary": self.proprietary,
                "snapshot": snap.to_dict() if snap else None}


def _sample(paths: list[Path], n: int | None, seed: int) -> list[Path]:
    import random

    if n is None or n >= len(paths):
        return paths
    return sorted(random.Random(seed).sample(paths, n))


def full_audit(
    config_path: Path,
    ledger: Path,
    secret: bytes,
    snapshot_path: Path,
    *,
    proofs_dir: Path | None = None,
    sample: int | None = None,
    seed: int = 0,
    reserves: Path | None = None,
    rpc: str | None = None,
    registry: str | None = None,
    log_dir: Path | None = None,
    solvency: Path | None = None,
    zk_dir: Path | None = None,
    jobs: int = 1,
    clamp_negative: bool = False,
    reporter: Reporter | None = None,
) -> FullAudit:
    """Run every auditor check: recompute trees and totals, verify (a seeded sample of) exported proofs,
    reserves and segregation, the on-chain anchor and the transparency log. Each failure is a failed check
    naming what failed; bad input raises; an unreachable RPC raises ServiceUnavailable.

    A zk-mode snapshot's batch proofs (``zk_dir``, default: the directory of ``snapshot_path``)
    are all verified with py_ecc (``jobs`` processes) and tied to the published bucket roots."""
    from por.core.errors import VerificationFailed
    from por.proofs.inclusion import load_proof, verify_proof

    base = audit(config_path, ledger, secret, snapshot_path, clamp_negative=clamp_negative, reporter=reporter)
    result = FullAudit(base)
    snap = base.snapshot
    assert snap is not None
    if snap.zk is not None:
        from por.proofs.batches import verify_snapshot

        if reporter is not None:
            reporter.phase("verifying zk batch proofs", None)
        zk = verify_snapshot(zk_dir or Path(snapshot_path).parent, snapshot_path=Path(snapshot_path), jobs=jobs,
                             progress=reporter.advance if reporter is not None else None)
        n = sum(b.batches for b in zk.buckets)
        base.add("zk batch proofs", zk.ok,
                 f"all {n} Groth16 batch proofs verify (py_ecc) and add up to the published bucket roots: "
                 f"{zk.statement}" if zk.ok else "; ".join(zk.failures[:5]))
    if proofs_dir is not None:
        paths = sorted(p for p in Path(proofs_dir).glob("*.json") if p.name != "index.json")
        chosen = _sample(paths, sample, seed)
        bad = []
        for p in chosen:
            try:
                doc = load_proof(p)
                verify_proof(doc, snapshot=snap, file=p.name)
            except PorError as exc:
                bad.append(str(exc))
        base.add("exported proofs", not bad and bool(chosen),
                 f"{len(chosen) - len(bad)}/{len(chosen)} valid (of {len(paths)}, "
                 f"{'all' if len(chosen) == len(paths) else f'sample seed {seed}'})"
                 + ("" if not bad else ": " + "; ".join(bad[:5])))
    if reserves is not None:
        from por.reserves.attestation import load_reserves
        from por.reserves.check import verify_reserves

        from por.proofs.solvency import load_solvency_proof

        proof_doc = load_solvency_proof(solvency) if solvency is not None else None
        try:
            rep = verify_reserves(snap, load_reserves(reserves), rpc_url=rpc, solvency=proof_doc,
                                  solvency_file=str(solvency))
        except VerificationFailed as exc:
            base.add("reserves attestation", False, str(exc))
        else:
            base.add("reserve signatures and balances", not rep.failures,
                     f"{len(rep.verified)} holdings verified" + ("" if not rep.failures else
                                                                 ": " + "; ".join(rep.failures[:5])))
            base.add("segregation", rep.segregation.segregated,
                     "every address backs one bucket; proprietary funds not counted" if rep.segregation.segregated
                     else "; ".join(rep.segregation.problems[:5]))
            if snap.hiding:
                hidden_ok = all(c.covered for c in rep.segregation.coverage)
                base.add("coverage (zero-knowledge solvency proof)", hidden_ok,
                         "reserves >= liabilities for every bucket x asset, liabilities not revealed" if hidden_ok
                         else "; ".join(f for f in rep.failures if "solvency" in f or "coverage" in f)[:500])
            for c in rep.segregation.coverage:
                if c.liabilities:
                    what = "liabilities" if c.equity is None else (
                        f"requirement (equity {format_amount(c.equity, c.decimals)} - debt "
                        f"{format_amount(c.debt or 0, c.decimals)})")
                    base.add(f"coverage {c.bucket}/{c.asset}", bool(c.covered),
                             f"reserves {format_amount(c.reserves, c.decimals)} vs {what} "
                             f"{format_amount(c.liabilities, c.decimals)} ({c.ratio()})")
            result.coverage = [c.to_dict() for c in rep.segregation.coverage]
            dec = {a.symbol: a.decimals for a in snap.config.assets}
            result.proprietary = {k: format_amount(v, dec[k]) for k, v in rep.segregation.proprietary.items()}
    if registry is not None:
        from por.reserves.anchor import check_anchor
        from por.reserves.chain import RpcClient

        if rpc is None:
            from por.core.errors import BadInput

            raise BadInput("--registry needs --rpc", field="rpc")
        try:
            check_anchor(RpcClient(rpc), registry, snap.config.snapshot_id, snap.root)
            base.add("anchor", True, f"the root is the only root anchored for {snap.config.snapshot_id} in {registry}")
        except VerificationFailed as exc:
            base.add("anchor", False, str(exc))
    if log_dir is not None:
        from por.log.transparency import TransparencyLog, verify_inclusion

        try:
            log = TransparencyLog.open(log_dir)
            head = log.head()
            res = verify_inclusion(log.prove_inclusion(snap.config.snapshot_id), head.to_dict(), snapshot=snap)
            base.add("transparency log", True, f"entry {res.leaf_index} of a log of size {head.size}, head signed by "
                                               f"{head.public_key.hex()[:16]}...")
        except PorError as exc:
            base.add("transparency log", False, str(exc))
    return result
