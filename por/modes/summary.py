"""What a bucket root publishes, and what a verified inclusion-proof entry reports (every mode, every layout)."""

from __future__ import annotations

from dataclasses import dataclass

from por.core import encoding as enc


@dataclass(frozen=True)
class BucketSummary:
    """One bucket's public summary: what its root publishes and, when known, the figures behind it.

    ``totals`` are the bucket's liabilities per asset (with margin the **requirement**
    ``max(equity - debt, 0)``, so every consumer of ``totals`` as the bucket's liabilities stays
    right); None when hidden. ``commitments`` (hiding mode) are the root's commitments, one per
    value of the layout. ``equity`` and ``debt`` are a margin bucket's figures, when known.
    Build summaries with :meth:`Values.summary`.
    """

    id: str
    kind: str
    height: int
    root: bytes
    totals: tuple[int, ...] | None
    commitments: tuple[bytes, ...] | None = None
    equity: tuple[int, ...] | None = None
    debt: tuple[int, ...] | None = None

    @property
    def margin(self) -> bool:
        """Whether the bucket's equity and debt totals are known (margin snapshot, public or the exchange's copy)."""
        return self.debt is not None

    @property
    def net(self) -> tuple[int, ...] | None:
        """Margin: equity minus debt per asset (may be negative)."""
        if self.equity is None or self.debt is None:
            return None
        return tuple(e - d for e, d in zip(self.equity, self.debt))

    @property
    def vector(self) -> tuple:
        """What the bucket leaf hashes: the commitments in hiding mode, equity ‖ debt with margin, else the totals."""
        if self.commitments is not None:
            return self.commitments
        if self.equity is not None and self.debt is not None:
            return self.equity + self.debt
        return self.totals  # type: ignore[return-value]

    def leaf(self, snapshot_id: str) -> tuple[bytes, tuple]:
        """This bucket's leaf in the top tree: ``(bucket leaf hash, its vector)`` (SPEC.md §5)."""
        vec = self.vector
        return enc.bucket_leaf_hash(snapshot_id, self.id, self.kind, self.height, self.root, vec), vec


@dataclass
class EntryResult:
    """One verified inclusion-proof entry. With margin, ``balances`` is the net (equity - debt, may be negative)."""

    bucket: str
    balances: dict[str, int]
    equity: dict[str, int] | None = None
    debt: dict[str, int] | None = None
    value: str | None = None  # margin: collateral value after tiered haircuts, exact quote units
