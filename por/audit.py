"""The auditor's re-computation: ledger + secret -> trees -> compare with the published snapshot.

Every check is recorded with its outcome and reason, so a report can show what
passed and exactly what did not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import load_config
from .errors import PorError
from .ledger import format_amount
from .snapshot import Reporter, Snapshot, build_trees, load_snapshot


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
) -> AuditReport:
    """Recompute every tree from the ledger and compare roots, heights and totals with ``snapshot.json``.

    Bad input (unreadable or invalid files) raises; disagreements are recorded as failed checks.
    """
    report = AuditReport()
    published = load_snapshot(snapshot_path)  # raises if the document is not self-consistent
    report.snapshot = published
    report.add("snapshot.json self-consistent", True, "root recomputed from its bucket roots and totals")
    config = load_config(config_path)
    if config != published.config:
        report.add("config matches snapshot metadata", False,
                   "snapshot_id, as_of, assets or buckets differ from the published metadata")
        return report
    report.add("config matches snapshot metadata", True, f"snapshot {config.snapshot_id}")
    heights = [b.height for b in published.buckets]
    try:
        rebuilt, _, stats = build_trees(config, ledger, secret, height=heights, clamp_negative=clamp_negative,
                                        reporter=reporter)
    except PorError as exc:
        if exc.exit_code == 2 and "height" in str(exc):
            report.add("ledger fits published heights", False, str(exc))
            return report
        raise
    report.rows, report.clamped = stats.rows, stats.clamped
    for pub, new in zip(published.buckets, rebuilt.buckets):
        dec = [a.decimals for a in config.assets]
        if new.totals != pub.totals:
            diffs = ", ".join(
                f"{a.symbol}: ledger {format_amount(n, d)} vs published {format_amount(p, d)}"
                for a, n, p, d in zip(config.assets, new.totals, pub.totals, dec) if n != p)
            report.add(f"bucket {pub.id} totals", False, diffs)
        else:
            report.add(f"bucket {pub.id} totals", True, "ledger totals equal the published totals")
        same = new.root == pub.root
        report.add(f"bucket {pub.id} root", same,
                   "recomputed root equals the published root" if same else
                   f"recomputed {new.root.hex()} differs from published {pub.root.hex()}")
    same = rebuilt.root == published.root
    report.add("snapshot root", same, f"recomputed {rebuilt.root.hex()}" +
               ("" if same else f", published {published.root.hex()}"))
    return report
