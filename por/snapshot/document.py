"""The public snapshot document, ``snapshot.json`` (SPEC.md §6), in every mode.

A snapshot is its metadata (the config), one summary per bucket and the snapshot root.
:func:`snapshot_from_dict` reads a document and *verifies* it: its root must follow from
its own contents. What a bucket entry and the document carry beyond the common fields is
the mode's (:mod:`por.modes`): figures (public and zk mode), commitments (hiding mode), the
batch parameters (zk mode).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from por.core import encoding as enc
from por.core.config import SnapshotConfig
from por.core.errors import BadInput, VerificationFailed
from por.core.fileio import canonical_json, read_json
from por.core.jsondoc import expect_keys, parse_hex32
from por.modes.base import Mode
from por.modes.registry import MODE_CLASSES, MODE_PUBLIC, MODES, mode_for
from por.modes.values import BucketSummary, layout_of
from por.tree.sumtree import MAX_HEIGHT, top_height, top_tree

SNAPSHOT_FORMAT = "por-snapshot"
COMMON_KEYS = {"format", "version", "mode", "metadata", "root", "top_height", "buckets"}
BUCKET_KEYS = {"id", "kind", "height", "root"}

__all__ = ["BucketSummary", "MODES", "SNAPSHOT_FORMAT", "Snapshot",
           "compute_root", "load_snapshot", "root_preimage", "snapshot_from_dict"]


@dataclass(frozen=True)
class Snapshot:
    """The public snapshot: metadata, per-bucket roots and figures (or commitments), and the snapshot root."""

    config: SnapshotConfig
    buckets: tuple[BucketSummary, ...]
    root: bytes
    mode: str = MODE_PUBLIC
    zk: Any = None  # zk mode: the batch parameters (batch height, verifying key) bound in the root

    @cached_property
    def scheme(self) -> Mode:
        """The :class:`por.modes.base.Mode` that says what this snapshot's trees and proofs carry."""
        return mode_for(self.mode, self.config, self.zk)

    @property
    def hiding(self) -> bool:
        return self.scheme.hides_amounts

    @property
    def margin(self) -> Any:
        """The prices and haircuts (:class:`por.core.margin.MarginParams`) when the equity and debt figures are
        known: every public or zk snapshot with debts, the exchange's own hiding-mode copy. None when there are
        none, or they are hidden (the parameters themselves are always ``config.margin``)."""
        if any(b.debt is None for b in self.buckets):
            return None
        return self.config.margin

    @property
    def version(self) -> int:
        """Document and root version (the value layout's, :mod:`por.modes.values`)."""
        return self.scheme.version

    @property
    def totals(self) -> list[int] | None:
        """Snapshot-wide liabilities per asset: the sum of the bucket ``totals`` (None when hidden)."""
        return self._column(lambda b: b.totals)

    @property
    def equity(self) -> list[int] | None:
        """Margin: snapshot-wide equity totals per asset."""
        return self._column(lambda b: b.equity)

    @property
    def debt(self) -> list[int] | None:
        """Margin: snapshot-wide debt totals per asset."""
        return self._column(lambda b: b.debt)

    def _column(self, get: Any) -> list[int] | None:
        rows = [get(b) for b in self.buckets]
        if not rows or any(r is None for r in rows):
            return None
        return [sum(r[i] for r in rows) for i in range(len(self.config.assets))]

    def bucket(self, bucket_id: str) -> BucketSummary:
        for b in self.buckets:
            if b.id == bucket_id:
                return b
        raise KeyError(bucket_id)

    def to_dict(self) -> dict[str, Any]:
        """The public document: in hiding mode never a total, only commitments."""
        mode = self.scheme
        doc: dict[str, Any] = {
            "format": SNAPSHOT_FORMAT,
            "version": self.version,
            "mode": self.mode,
            "metadata": self.config.to_dict(),
            "root": self.root.hex(),
            "top_height": top_height(len(self.buckets)),
            **mode.params_doc(),
            "buckets": [{"id": b.id, "kind": b.kind, "height": b.height, "root": b.root.hex(), **mode.bucket_doc(b)}
                        for b in self.buckets],
            **mode.document_doc(self.buckets),
        }
        return doc

    def to_json(self) -> str:
        return canonical_json(self.to_dict()).decode()


def compute_root(
    config: SnapshotConfig, buckets: Sequence[BucketSummary], mode: str = MODE_PUBLIC, zk: Any = None,
) -> tuple[bytes, list]:
    """Snapshot root and top vector from the metadata and the bucket summaries (SPEC.md §5)."""
    return root_of(mode_for(mode, config, zk), buckets)


def root_of(mode: Mode, buckets: Sequence[BucketSummary]) -> tuple[bytes, list]:
    """Snapshot root and top vector of ``buckets`` under ``mode``: the top tree, then the root preimage."""
    sid = mode.config.snapshot_id
    if any(b.vector is None or len(b.vector) != mode.n_values for b in buckets):
        names = ", ".join(mode.values.names(mode.node_kind))
        raise BadInput(f"a {mode.name}-mode snapshot of this config needs {mode.n_values} values per bucket "
                       f"({names})", field="mode")
    levels = top_tree(sid, [b.leaf(sid) for b in buckets], mode.top_pad())
    top_hash, top_vector = levels[-1][0]
    return enc.H(mode.root_preimage(top_hash, top_vector)), top_vector


def root_preimage(config: SnapshotConfig, mode: str, top_hash: bytes, top_vec: Sequence[Any], zk: Any = None) -> bytes:
    """The snapshot root preimage of any version and mode (SPEC.md §5, §15.2, §16.10, §17.8, §17.16, §17.26)."""
    return mode_for(mode, config, zk).root_preimage(top_hash, top_vec)


def snapshot_from_dict(doc: Any, *, file: str = "snapshot.json") -> Snapshot:
    """Parse and *verify* a snapshot document: its root must be recomputable from its contents."""
    if not isinstance(doc, dict):
        raise BadInput("must be an object", file=file, field="$")
    name = doc.get("mode")
    if name not in MODES:
        raise BadInput(f"unsupported mode {name!r} (expected one of {', '.join(MODES)})", file=file, field="mode")
    cls = MODE_CLASSES[name]
    layout = layout_of(doc.get("version"), doc.get("metadata"), file=file)
    cls.precheck_document(doc, layout, file=file)
    expect_keys(doc, COMMON_KEYS | cls.document_keys(layout), file=file, field="$")
    if doc["format"] != SNAPSHOT_FORMAT:
        raise BadInput(f"format must be {SNAPSHOT_FORMAT!r}", file=file, field="format")
    config = SnapshotConfig.from_dict(doc["metadata"], file=file)
    root = parse_hex32(doc["root"], file=file, field="root")
    mode = cls(config, cls.parse_params(doc, config, file=file))
    raw = doc["buckets"]
    if not isinstance(raw, list) or [b.get("id") if isinstance(b, dict) else None for b in raw] != list(config.bucket_ids):
        raise BadInput("buckets must list every metadata bucket once, in canonical order", file=file, field="buckets")
    buckets = []
    for i, b in enumerate(raw):
        f = f"buckets[{i}]"
        expect_keys(b, BUCKET_KEYS | cls.bucket_keys(layout), file=file, field=f)
        if b["kind"] != config.buckets[i].kind:
            raise BadInput("kind differs from metadata", file=file, field=f"{f}.kind")
        if not isinstance(b["height"], int) or isinstance(b["height"], bool) or not 1 <= b["height"] <= MAX_HEIGHT:
            raise BadInput(f"height must be an integer 1..{MAX_HEIGHT}", file=file, field=f"{f}.height")
        if b["height"] < mode.batch_height:
            raise BadInput(f"height is below the batch height {mode.batch_height}", file=file, field=f"{f}.height")
        root_f = parse_hex32(b["root"], file=file, field=f"{f}.root")
        buckets.append(mode.parse_bucket(b, b["id"], b["kind"], b["height"], root_f, file=file, field=f))
    if type(doc["top_height"]) is not int or doc["top_height"] != top_height(len(buckets)):
        raise BadInput("top_height does not match the number of buckets", file=file, field="top_height")
    snap = Snapshot(config, tuple(buckets), root, name, mode.zk)
    computed, top_vector = root_of(mode, buckets)
    if computed != root:
        raise VerificationFailed(f"snapshot root {root.hex()} is not the root of its own contents "
                                 f"({computed.hex()})", where=file)
    mode.check_document(doc, buckets, top_vector, file=file)
    return snap


def load_snapshot(path: Path) -> Snapshot:
    """Read and verify ``snapshot.json`` (``path`` may be its directory)."""
    path = Path(path)
    if path.is_dir():
        path = path / "snapshot.json"
    return snapshot_from_dict(read_json(path, "snapshot"), file=str(path))
