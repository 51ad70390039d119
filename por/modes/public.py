"""Public mode (SPEC.md §4-§8): SHA-256 Merkle-sum trees whose nodes publish their value sums.

A leaf hashes ``TAG(leaf) ‖ lp(snapshot_id) ‖ lp(bucket_id) ‖ salt ‖ lp(account_id) ‖ sums(values)``;
a node hashes both children's hashes *and* sums. The snapshot publishes every bucket's
figures (totals, or equity, debt and requirement with margin values); an inclusion proof
carries the own values and every sibling's hash and sums, and the verifier recomputes every
node, checking each sum stays below 2^64 (and, with margin, that every node's collateral
value is non-negative).
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence
from typing import Any

import numpy as np

from por.core import encoding as enc
from por.core.batchhash import Ragged, Segment, hash_rows
from por.core.keys import SnapshotKeys
from por.core.progress import Progress
from por.modes.base import EntryCheck, Mode, ProofSource
from por.modes.values import BucketSummary, Values
from por.tree.sumtree import Level, Node, sum_levels


class PublicLeaves:
    """Leaves hashed as they arrive (SPEC.md §4.1); levels are SHA-256 Merkle-sum nodes."""

    def __init__(self, snapshot_id: str, bucket_id: str, n_values: int) -> None:
        self._prefix = enc.leaf_prefix(snapshot_id, bucket_id)
        self._sums = struct.Struct(f">H{n_values}Q")
        self._n = n_values
        self.leaf_hashes = bytearray()

    def add(self, salt: bytes, lp_account: bytes, account_id: str, amounts: Sequence[int]) -> None:
        self.leaf_hashes += hashlib.sha256(self._prefix + salt + lp_account + self._sums.pack(self._n, *amounts)).digest()

    def add_many(self, salts: bytes, account_ids: Ragged, lp_accounts: list[Segment],
                 values: np.ndarray) -> None:
        self.leaf_hashes += hash_rows(len(account_ids), [self._prefix, (salts, 32), *lp_accounts,
                                                         *enc.sums_rows(values)])

    def levels(self, order: np.ndarray, seeds: bytes, pad_hashes: bytes, sums: np.ndarray,
               progress: Progress | None) -> tuple[list[Level], bytes | None]:
        hashes = np.frombuffer(bytes(self.leaf_hashes) + pad_hashes, dtype=np.uint8).reshape(len(order), 32)[order]
        return sum_levels([Level(hashes, sums)], progress), None


class PublicMode(Mode):
    """Public sums at every node (see the module docstring)."""

    name = "public"

    def leaf_scheme(self, bucket_id: str, keys: SnapshotKeys, jobs: int | None) -> PublicLeaves:
        return PublicLeaves(self.config.snapshot_id, bucket_id, self.n_values)

    # ---------------------------------------------------------------- the snapshot document

    def bucket_doc(self, summary: BucketSummary) -> dict[str, Any]:
        return self.values.figures_doc(summary)

    @classmethod
    def bucket_keys(cls, layout: type[Values]) -> set[str]:
        return layout.figures_keys()

    def parse_bucket(self, obj: dict[str, Any], id: str, kind: str, height: int, root: bytes, *, file: str,
                     field: str) -> BucketSummary:
        return self.values.parse_figures(obj, id, kind, height, root, file=file, field=field)

    def document_doc(self, buckets: Sequence[BucketSummary]) -> dict[str, Any]:
        return self.values.snapshot_figures_doc(buckets)

    @classmethod
    def document_keys(cls, layout: type[Values]) -> set[str]:
        return layout.figures_keys()

    def check_document(self, doc: dict[str, Any], buckets: Sequence[BucketSummary], top_vector: Sequence[Any],
                       *, file: str) -> None:
        self.values.check_figures(doc, buckets, top_vector, file=file)

    def describe_document(self) -> str:
        return self.values.describe_figures()

    # ---------------------------------------------------------------- inclusion proofs

    def entry_doc(self, src: ProofSource, bucket: int, position: int, salt: bytes, own: Sequence[int],
                  path: Sequence[Node]) -> dict[str, Any]:
        """The entry fields every mode with public sums shares (SPEC.md §8)."""
        summary = src.snapshot.buckets[bucket]
        return {
            "bucket": summary.id,
            "height": summary.height,
            "index": position,
            "salt": salt.hex(),
            **self.values.to_doc("balances", own),
            "path": [self.node_doc(s) for s in path],
            "top_index": bucket,
            "top_path": [self.node_doc(s) for s in src.top_path(bucket)],
        }

    def prove_entry(self, src: ProofSource, bucket: int, position: int, salt: bytes, account_id: str
                    ) -> dict[str, Any]:
        n = self.n_values
        _, own = src.store.node(bucket, 0, position, n)
        path = src.store.siblings(bucket, position, src.snapshot.buckets[bucket].height, n)
        return self.entry_doc(src, bucket, position, salt, own, path)

    def open_leaf(self, e: dict[str, Any], c: EntryCheck) -> tuple[Node, int]:
        leaf = enc.leaf_hash(c.config.snapshot_id, c.bucket_id, c.salt, c.account, c.own)
        return (leaf, c.own), 0

    def describe(self, c: EntryCheck) -> list[str]:
        return ([f"bucket {c.bucket_id}: leaf -> {c.height} nodes -> bucket root -> {c.n_top} nodes -> snapshot root"]
                + self.values.describe_path(c.bucket_id, f"its {c.height} siblings and {c.height} ancestors", c.n_top))
