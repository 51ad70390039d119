"""Segregation and coverage checks: attested reserves vs published liabilities, per bucket and asset.

Rules (SPEC.md, reserves section):

* every attested address belongs to exactly one bucket of the snapshot, or to ``proprietary``;
* no address is counted twice -- not within one bucket, not across buckets, not as both client and
  proprietary (addresses are compared after chain-specific normalisation);
* ``proprietary`` addresses are reported but never counted as client reserves;
* for every bucket and asset: reserves >= liabilities (the bucket's published total; in a margin
  snapshot the bucket's requirement ``max(equity - debt, 0)``, SPEC.md §17.5).

Amounts are integers in ledger minor units; ratios are computed with integer arithmetic only.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from por.core.ledger import format_amount
from por.snapshot import Snapshot

PROPRIETARY = "proprietary"


def normalize_address(chain: str, address: str) -> str:
    """Canonical form for duplicate detection: hex and bech32 addresses are case-insensitive."""
    if chain == "ethereum":
        return address.lower()
    low = address.lower()
    if chain == "bitcoin" and low.startswith(("bc1", "tb1", "bcrt1")):
        return low
    return address


@dataclass(frozen=True)
class Holding:
    """One verified holding: ``amount`` minor units of ``asset`` at ``address`` attributed to ``bucket``."""

    chain: str
    address: str
    bucket: str
    asset: str
    amount: int
    source: str = ""  # e.g. "native", "erc20 0x...", "utxo snapshot"


@dataclass
class Coverage:
    bucket: str
    asset: str
    decimals: int
    liabilities: int | None  # None when hidden (hiding mode)
    reserves: int
    addresses: int
    proven: bool | None = None  # hiding mode: set by a verified zero-knowledge solvency proof
    equity: int | None = None  # margin: the bucket's equity and debt totals (liabilities = requirement)
    debt: int | None = None

    @property
    def net(self) -> int | None:
        """Margin: equity minus debt (may be negative; the requirement is its positive part)."""
        return None if self.equity is None or self.debt is None else self.equity - self.debt

    @property
    def covered(self) -> bool | None:
        if self.liabilities is None:
            return self.proven
        return self.reserves >= self.liabilities

    def ratio(self) -> str:
        """Reserves / liabilities as a percentage with two decimals, rounded down; integers only."""
        if self.liabilities is None:
            return "hidden (≥ 100% proven)" if self.proven else "hidden"
        if self.liabilities == 0:
            return "n/a (no liabilities)"
        bp = self.reserves * 10000 // self.liabilities
        return f"{bp // 100}.{bp % 100:02d}%"

    def to_dict(self) -> dict[str, Any]:
        fmt = lambda v: None if v is None else format_amount(v, self.decimals)  # noqa: E731
        doc = {"bucket": self.bucket, "asset": self.asset, "liabilities": fmt(self.liabilities),
               "reserves": fmt(self.reserves), "ratio": self.ratio(), "covered": self.covered,
               "addresses": self.addresses}
        if self.equity is not None:
            doc |= {"equity": fmt(self.equity), "debt": fmt(self.debt), "net": fmt(self.net)}
        return doc


@dataclass
class SegregationReport:
    coverage: list[Coverage] = field(default_factory=list)
    proprietary: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def segregated(self) -> bool:
        return not self.problems

    @property
    def solvent(self) -> bool:
        return all(c.covered is not False for c in self.coverage)

    @property
    def ok(self) -> bool:
        return self.segregated and self.solvent

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "segregated": self.segregated, "solvent": self.solvent,
                "problems": self.problems, "coverage": [c.to_dict() for c in self.coverage],
                "proprietary": {k: str(v) for k, v in self.proprietary.items()}}


def check_segregation(snapshot: Snapshot, holdings: Iterable[Holding],
                      liabilities: dict[tuple[str, str], int] | None = None) -> SegregationReport:
    """Check segregation and coverage of ``holdings`` against the snapshot's buckets.

    ``liabilities`` maps (bucket, asset) -> minor units; by default the snapshot's published
    bucket totals (public mode; with margin the bucket requirements, and the report also shows
    equity, debt and net). Pass ``{}`` when liabilities are hidden (hiding mode: coverage is
    then proven by the zero-knowledge solvency proof, and the report shows reserves only).
    """
    cfg = snapshot.config
    if liabilities is None:
        liabilities = {(b.id, a.symbol): b.totals[i] for b in snapshot.buckets for i, a in enumerate(cfg.assets)}
    report = SegregationReport()
    owner: dict[tuple[str, str], str] = {}
    reserves: dict[tuple[str, str], int] = {}
    counts: dict[tuple[str, str], set[str]] = {}
    seen_assets: set[tuple[str, str, str, str]] = set()
    for h in holdings:
        if h.bucket != PROPRIETARY and h.bucket not in cfg.bucket_ids:
            report.problems.append(f"{h.chain} address {h.address} is attributed to unknown bucket {h.bucket!r}")
            continue
        if cfg.asset_index(h.asset) is None:
            report.problems.append(f"{h.chain} address {h.address} holds {h.asset}, which the snapshot does not list")
            continue
        key = (h.chain, normalize_address(h.chain, h.address))
        prev = owner.get(key)
        if prev is not None and prev != h.bucket:
            report.problems.append(
                f"{h.chain} address {h.address} is counted for both {prev!r} and {h.bucket!r} "
                "(an address may back one bucket only; proprietary funds are never client reserves)")
            continue
        asset_key = (*key, h.asset, h.source)
        if asset_key in seen_assets:
            report.problems.append(f"{h.chain} address {h.address}: {h.asset} ({h.source or 'balance'}) is counted twice")
            continue
        seen_assets.add(asset_key)
        owner[key] = h.bucket
        if h.bucket == PROPRIETARY:
            report.proprietary[h.asset] = report.proprietary.get(h.asset, 0) + h.amount
            continue
        rk = (h.bucket, h.asset)
        reserves[rk] = reserves.get(rk, 0) + h.amount
        counts.setdefault(rk, set()).add(key[1])
    for b, summary in zip(cfg.buckets, snapshot.buckets):
        for i, a in enumerate(cfg.assets):
            k = (b.id, a.symbol)
            cov = Coverage(b.id, a.symbol, a.decimals, liabilities.get(k) if liabilities else None,
                           reserves.get(k, 0), len(counts.get(k, ())))
            if summary.margin:
                cov.equity, cov.debt = summary.equity[i], summary.debt[i]  # type: ignore[index]
            report.coverage.append(cov)
    return report


def duplicate_entries(entries: Sequence[tuple[str, str]]) -> list[str]:
    """Addresses listed more than once in an attestation file, as ``chain:address``."""
    seen: set[tuple[str, str]] = set()
    dups = []
    for chain, address in entries:
        k = (chain, normalize_address(chain, address))
        if k in seen:
            dups.append(f"{chain}:{address}")
        seen.add(k)
    return dups
