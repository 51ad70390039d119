"""Build orchestration and the public snapshot document (SPEC.md §6, §17 for margin snapshots).

Margin snapshots (format version 2) are built in public mode (SPEC.md §17) or in hiding
mode: then every bucket publishes ``equity_commitments`` and ``debt_commitments`` (SPEC.md
§17.16, drafted in ``build/margin-hiding-spec.md``).

``build_snapshot`` streams the ledger into one :class:`~por.tree.sumtree.BucketBuilder`
per bucket, builds every bucket tree, the top tree and the snapshot root, and
writes ``snapshot.json`` (public), ``store.sqlite`` (private, 0600) and, when no
secret was given, ``secret.key`` (0600) into a staging directory that is renamed
into place only when everything succeeded.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from por.core import encoding as enc
from por.modes.commitments import no_debt_fixed_blindings, parse_commitment, zero_debt_commitment
from por.core.config import SnapshotConfig, load_config
from por.core.errors import BadInput, VerificationFailed
from por.core.fileio import atomic_directory, atomic_write_json, canonical_json, read_json
from por.core.keys import SnapshotKeys, generate_secret, write_secret
from por.core.ledger import LedgerStats, read_ledger
from por.core.margin import collateral_value, requirement
from por.tree.store import StoreWriter
from por.tree.sumtree import MAX_HEIGHT, BucketBuilder, BuiltBucket, default_height, top_height, top_tree

SNAPSHOT_FORMAT = "por-snapshot"
MODE_PUBLIC = "public"
MODE_HIDING = "hiding"
MODE_ZK = "zk"
MODES = (MODE_PUBLIC, MODE_HIDING, MODE_ZK)
HEX32_RE = re.compile(r"[0-9a-f]{64}")
HEX33_RE = re.compile(r"0[23][0-9a-f]{64}")
UINT_RE = re.compile(r"0|[1-9][0-9]{0,19}")


class Reporter(Protocol):
    """Progress sink (the CLI passes a rich progress bar; the library default does nothing)."""

    def phase(self, name: str, total: int | None) -> None: ...
    def advance(self, n: int) -> None: ...


class _Quiet:
    def phase(self, name: str, total: int | None) -> None:
        pass

    def advance(self, n: int) -> None:
        pass


# ------------------------------------------------------------------ the public document

@dataclass(frozen=True)
class BucketSummary:
    """One bucket's public summary.

    Public mode publishes ``totals``. Hiding mode publishes ``commitments`` (one
    33-byte Pedersen commitment per asset) and ``totals`` is None, except in the
    exchange's own copy right after a build.

    Margin snapshots (SPEC.md §17) publish per-asset ``equity`` and ``debt``
    totals, and ``totals`` is the **requirement** ``max(equity - debt, 0)``: what
    the bucket's reserves must cover (so every consumer of ``totals`` as the
    bucket's liabilities stays right). Build them with :meth:`with_margin`.

    Margin snapshots in hiding mode publish ``2A`` commitments (equity then debt per
    asset) in ``commitments``; ``equity``, ``debt`` and ``totals`` are None except in the
    exchange's own copy right after a build. Build them with :meth:`with_margin_commitments`.
    """

    id: str
    kind: str
    height: int
    root: bytes
    totals: tuple[int, ...] | None
    commitments: tuple[bytes, ...] | None = None
    equity: tuple[int, ...] | None = None
    debt: tuple[int, ...] | None = None

    @classmethod
    def with_margin(cls, id: str, kind: str, height: int, root: bytes, equity: Sequence[int],
                    debt: Sequence[int]) -> "BucketSummary":
        """A margin bucket: equity and debt totals, requirement derived."""
        e, d = tuple(int(x) for x in equity), tuple(int(x) for x in debt)
        return cls(id, kind, height, root, requirement(e, d), None, e, d)

    @classmethod
    def with_margin_commitments(cls, id: str, kind: str, height: int, root: bytes, commitments: Sequence[bytes],
                                equity: Sequence[int] | None = None, debt: Sequence[int] | None = None,
                                ) -> "BucketSummary":
        """A hiding-mode margin bucket: ``2A`` commitments (equity ‖ debt); the figures only when known."""
        if (equity is None) != (debt is None):
            raise ValueError("give both equity and debt totals, or neither")
        if equity is None or debt is None:
            return cls(id, kind, height, root, None, tuple(commitments))
        e, d = tuple(int(x) for x in equity), tuple(int(x) for x in debt)
        return cls(id, kind, height, root, requirement(e, d), tuple(commitments), e, d)

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
        """This bucket's leaf in the top tree: ``(bucket leaf hash, totals or commitments)``."""
        vec = self.vector
        return enc.bucket_leaf_hash(snapshot_id, self.id, self.kind, self.height, self.root, vec), vec


@dataclass(frozen=True)
class Snapshot:
    """The public snapshot: metadata, per-bucket roots and totals, and the snapshot root."""

    config: SnapshotConfig
    buckets: tuple[BucketSummary, ...]
    root: bytes
    mode: str = MODE_PUBLIC
    zk: Any = None  # zk mode: the por.zk.setup.ZkParams (batch height, verifying key) bound in the root

    @property
    def hiding(self) -> bool:
        return self.mode == MODE_HIDING

    @property
    def margin(self) -> Any:
        """The :class:`por.core.margin.MarginParams` of a margin snapshot whose equity and debt figures are known, else None.

        That is every public-mode margin snapshot, and the exchange's own copy of a hiding-mode
        one right after the build. A hiding-mode margin snapshot read from ``snapshot.json``
        hides its figures, so it shows as None here, like any hidden total; its parameters are
        always ``config.margin``.
        """
        if self.hiding and any(b.debt is None for b in self.buckets):
            return None
        return self.config.margin

    @property
    def version(self) -> int:
        """Document and root version: 2 for margin snapshots, else 1."""
        return enc.MARGIN_FORMAT_VERSION if self.config.margin is not None else enc.FORMAT_VERSION

    @property
    def totals(self) -> list[int] | None:
        """Snapshot-wide totals per asset (None when hidden); with margin the sum of the bucket requirements."""
        if any(b.totals is None for b in self.buckets):
            return None
        return [sum(b.totals[i] for b in self.buckets) for i in range(len(self.config.assets))]  # type: ignore[index]

    @property
    def equity(self) -> list[int] | None:
        """Margin: snapshot-wide equity totals per asset."""
        if not self.buckets or not all(b.margin for b in self.buckets):
            return None
        return [sum(b.equity[i] for b in self.buckets) for i in range(len(self.config.assets))]  # type: ignore[index]

    @property
    def debt(self) -> list[int] | None:
        """Margin: snapshot-wide debt totals per asset."""
        if not self.buckets or not all(b.margin for b in self.buckets):
            return None
        return [sum(b.debt[i] for b in self.buckets) for i in range(len(self.config.assets))]  # type: ignore[index]

    def bucket(self, bucket_id: str) -> BucketSummary:
        for b in self.buckets:
            if b.id == bucket_id:
                return b
        raise KeyError(bucket_id)

    def to_dict(self) -> dict[str, Any]:
        """The public document: never a hiding-mode total, only commitments."""
        symbols = self.config.symbols
        doc: dict[str, Any] = {
            "format": SNAPSHOT_FORMAT,
            "version": self.version,
            "mode": self.mode,
            "metadata": self.config.to_dict(),
            "root": self.root.hex(),
            "top_height": top_height(len(self.buckets)),
        }
        if self.zk is not None:
            doc["zk"] = self.zk.to_dict()
        if self.hiding and self.config.margin is not None:
            n = len(symbols)
            hexes = lambda cs: {s: c.hex() for s, c in zip(symbols, cs, strict=True)}  # noqa: E731
            doc["buckets"] = [
                {"id": b.id, "kind": b.kind, "height": b.height, "root": b.root.hex(),
                 "equity_commitments": hexes(b.commitments[:n]),  # type: ignore[index]
                 "debt_commitments": hexes(b.commitments[n:])}  # type: ignore[index]
                for b in self.buckets
            ]
            return doc
        if self.hiding:
            doc["buckets"] = [
                {"id": b.id, "kind": b.kind, "height": b.height, "root": b.root.hex(),
                 "commitments": {s: c.hex() for s, c in zip(symbols, b.commitments)}}  # type: ignore[arg-type]
                for b in self.buckets
            ]
            return doc
        if self.margin is not None:
            amounts = lambda v: {s: str(x) for s, x in zip(symbols, v)}  # noqa: E731
            doc["buckets"] = [
                {"id": b.id, "kind": b.kind, "height": b.height, "root": b.root.hex(),
                 "equity": amounts(b.equity), "debt": amounts(b.debt), "requirement": amounts(b.totals)}
                for b in self.buckets
            ]
            doc["equity"] = amounts(self.equity)
            doc["debt"] = amounts(self.debt)
            doc["requirement"] = amounts(self.totals)
            return doc
        doc["buckets"] = [
            {"id": b.id, "kind": b.kind, "height": b.height, "root": b.root.hex(),
             "totals": {s: str(v) for s, v in zip(symbols, b.totals)}}  # type: ignore[arg-type]
            for b in self.buckets
        ]
        doc["totals"] = {s: str(v) for s, v in zip(symbols, self.totals)}  # type: ignore[arg-type]
        return doc

    def to_json(self) -> str:
        return canonical_json(self.to_dict()).decode()


def compute_root(
    config: SnapshotConfig, buckets: Sequence[BucketSummary], mode: str = MODE_PUBLIC, zk: Any = None,
) -> tuple[bytes, list]:
    """Snapshot root and top vector from the metadata and the bucket summaries (SPEC.md §5, §15.2, §16.10).

    ``zk`` (zk mode only) is the :class:`por.zk.setup.ZkParams` whose batch height and key digest the root binds.
    With margin (``config.margin``) the vectors are equity ‖ debt (values in public mode, commitments in
    hiding mode) and the root is version 2 (SPEC.md §17.8, §17.16).
    """
    if config.margin is not None:
        n_values = 2 * len(config.assets)
        if mode != MODE_HIDING and any(not b.margin for b in buckets):
            raise BadInput(f"a {mode}-mode margin snapshot needs every bucket's equity and debt totals", field="mode")
        if mode == MODE_HIDING and any(b.commitments is None or len(b.commitments) != n_values for b in buckets):
            raise BadInput("a hiding-mode margin snapshot needs 2A commitments (equity then debt) per bucket",
                           field="mode")
    leaves = [b.leaf(config.snapshot_id) for b in buckets]
    levels = top_tree(config.snapshot_id, leaves)
    top_hash, top_sums = levels[-1][0]
    return snapshot_root(config, mode, top_hash, top_sums, zk), top_sums


def root_preimage(config: SnapshotConfig, mode: str, top_hash: bytes, top_vec: Sequence[Any], zk: Any = None) -> bytes:
    """The snapshot root preimage of any version and mode (SPEC.md §5, §15.2, §16.10, §17.8, §17.16, §17.26).

    Version 1 and public- and zk-mode version 2 are :func:`por.core.encoding.root_preimage`. A hiding-mode
    margin snapshot (version 2) is the version 1 hiding preimage with ``u16(2)`` in place of
    ``u16(1)`` and the margin bytes (§17.7) appended, exactly as §17.8 does for public mode::

        TAG(root) ‖ u16(2) ‖ lp("hiding") ‖ … ‖ u8(t) ‖ top_hash ‖ commits(top: 2A commitments) ‖ margin
    """
    fields: dict[str, Any] = dict(
        mode=mode, snapshot_id=config.snapshot_id, as_of=config.as_of,
        assets=[(a.symbol, a.decimals) for a in config.assets],
        buckets=[(b.id, b.kind) for b in config.buckets],
        top_height=top_height(len(config.buckets)), top_hash=top_hash, top_sums=list(top_vec),
        zk=zk.binding if zk is not None else None,
    )
    margin = config.margin
    if margin is None or mode != MODE_HIDING:
        return enc.root_preimage(**fields, margin=margin.root_bytes() if margin is not None else None)
    v1 = enc.root_preimage(**fields)  # the version 1 hiding layout, which version 2 extends
    head = enc.TAG_ROOT + enc.u16(enc.FORMAT_VERSION)
    assert v1.startswith(head)
    return enc.TAG_ROOT + enc.u16(enc.MARGIN_FORMAT_VERSION) + v1[len(head):] + margin.root_bytes()


def snapshot_root(config: SnapshotConfig, mode: str, top_hash: bytes, top_vec: Sequence[Any], zk: Any = None) -> bytes:
    """``H(root_preimage(...))``: the snapshot root from the metadata and the top tree's root."""
    return enc.H(root_preimage(config, mode, top_hash, top_vec, zk))


def parse_hex32(value: Any, *, file: str, field: str) -> bytes:
    if not isinstance(value, str) or not HEX32_RE.fullmatch(value):
        raise BadInput("must be 64 lowercase hex digits", file=file, field=field)
    return bytes.fromhex(value)


def parse_uint64(value: Any, *, file: str, field: str) -> int:
    """A non-negative integer < 2^64 written as a canonical decimal string."""
    if not isinstance(value, str) or not UINT_RE.fullmatch(value) or int(value) >= enc.U64_LIMIT:
        raise BadInput("must be a decimal string of an integer in [0, 2^64)", file=file, field=field)
    return int(value)


def expect_keys(obj: Any, keys: set[str], *, file: str, field: str) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise BadInput("must be an object", file=file, field=field)
    if set(obj) != keys:
        missing, extra = keys - set(obj), set(obj) - keys
        raise BadInput(f"fields wrong (missing {sorted(missing)}, unexpected {sorted(extra)})", file=file, field=field)
    return obj


def snapshot_from_dict(doc: Any, *, file: str = "snapshot.json") -> Snapshot:
    """Parse and *verify* a snapshot document: its root must be recomputable from its contents."""
    if not isinstance(doc, dict):
        raise BadInput("must be an object", file=file, field="$")
    mode = doc.get("mode")
    if mode not in MODES:
        raise BadInput(f"unsupported mode {mode!r} (expected one of {', '.join(MODES)})", file=file, field="mode")
    hiding = mode == MODE_HIDING
    version = doc.get("version")
    if type(version) is not int or version not in (enc.FORMAT_VERSION, enc.MARGIN_FORMAT_VERSION):
        raise BadInput(f"unsupported version {version!r} (this por reads {enc.FORMAT_VERSION}, and "
                       f"{enc.MARGIN_FORMAT_VERSION} for margin snapshots)", file=file, field="version")
    margin = version == enc.MARGIN_FORMAT_VERSION
    if margin and hiding and any(k in doc for k in ("equity", "debt", "requirement")):
        raise BadInput("equity, debt and requirement totals are published in public mode only (a hiding-mode "
                       "margin snapshot publishes equity_commitments and debt_commitments per bucket)",
                       file=file, field="mode")
    meta = doc.get("metadata")
    if isinstance(meta, dict) and ("margin" in meta) != margin:
        raise BadInput(f"version {version} does not match the metadata: version {enc.MARGIN_FORMAT_VERSION} "
                       f"snapshots have metadata.margin and version {enc.FORMAT_VERSION} ones do not",
                       file=file, field="version")
    keys = {"format", "version", "mode", "metadata", "root", "top_height", "buckets"}
    if mode == MODE_ZK:
        keys.add("zk")
    if margin and not hiding:
        keys |= {"equity", "debt", "requirement"}
    elif not hiding:
        keys.add("totals")
    expect_keys(doc, keys, file=file, field="$")
    if doc["format"] != SNAPSHOT_FORMAT:
        raise BadInput(f"format must be {SNAPSHOT_FORMAT!r}", file=file, field="format")
    config = SnapshotConfig.from_dict(doc["metadata"], file=file)
    if (config.margin is not None) != margin:
        raise BadInput(f"version {version} does not match the metadata: version {enc.MARGIN_FORMAT_VERSION} "
                       f"snapshots have metadata.margin and version {enc.FORMAT_VERSION} ones do not",
                       file=file, field="version")
    root = parse_hex32(doc["root"], file=file, field="root")
    zk = None
    if mode == MODE_ZK:
        from por.zk.circuits import circuit_for
        from por.zk.setup import ZkParams

        zk = ZkParams.from_dict(doc["zk"], len(config.assets), file=file, circuit=circuit_for(margin))
    raw = doc["buckets"]
    if not isinstance(raw, list) or [b.get("id") if isinstance(b, dict) else None for b in raw] != list(config.bucket_ids):
        raise BadInput("buckets must list every metadata bucket once, in canonical order", file=file, field="buckets")
    buckets = []
    for i, b in enumerate(raw):
        f = f"buckets[{i}]"
        if margin and hiding:
            extra = {"equity_commitments", "debt_commitments"}
        elif margin:
            extra = {"equity", "debt", "requirement"}
        else:
            extra = {"commitments" if hiding else "totals"}
        expect_keys(b, {"id", "kind", "height", "root"} | extra, file=file, field=f)
        if b["kind"] != config.buckets[i].kind:
            raise BadInput("kind differs from metadata", file=file, field=f"{f}.kind")
        if not isinstance(b["height"], int) or isinstance(b["height"], bool) or not 1 <= b["height"] <= MAX_HEIGHT:
            raise BadInput(f"height must be an integer 1..{MAX_HEIGHT}", file=file, field=f"{f}.height")
        if zk is not None and b["height"] < zk.batch_height:
            raise BadInput(f"height is below the batch height {zk.batch_height}", file=file, field=f"{f}.height")
        root_f = parse_hex32(b["root"], file=file, field=f"{f}.root")
        if hiding and margin:
            commitments = (
                parse_commitments(b["equity_commitments"], config, file=file, field=f"{f}.equity_commitments")
                + parse_commitments(b["debt_commitments"], config, file=file, field=f"{f}.debt_commitments"))
            buckets.append(BucketSummary.with_margin_commitments(b["id"], b["kind"], b["height"], root_f, commitments))
        elif hiding:
            commitments = parse_commitments(b["commitments"], config, file=file, field=f"{f}.commitments")
            buckets.append(BucketSummary(b["id"], b["kind"], b["height"], root_f, None, commitments))
        elif margin:
            buckets.append(BucketSummary.with_margin(
                b["id"], b["kind"], b["height"], root_f,
                _parse_amounts(b["equity"], config, file=file, field=f"{f}.equity"),
                _parse_amounts(b["debt"], config, file=file, field=f"{f}.debt")))
            _parse_amounts(b["requirement"], config, file=file, field=f"{f}.requirement")
        else:
            buckets.append(BucketSummary(b["id"], b["kind"], b["height"], root_f,
                                         _parse_amounts(b["totals"], config, file=file, field=f"{f}.totals")))
    if doc["top_height"] != top_height(len(buckets)):
        raise BadInput("top_height does not match the number of buckets", file=file, field="top_height")
    snap = Snapshot(config, tuple(buckets), root, mode, zk)
    computed, top_sums = compute_root(config, buckets, mode, zk)
    if computed != root:
        raise VerificationFailed(f"snapshot root {root.hex()} is not the root of its own contents "
                                 f"({computed.hex()})", where=file)
    if margin and hiding:
        _check_margin_hiding_document(snap, file=file)
    elif margin:
        _check_margin_document(doc, snap, top_sums, file=file)
    elif not hiding:
        totals = _parse_amounts(doc["totals"], config, file=file, field="totals")
        if list(totals) != top_sums:
            raise VerificationFailed("totals are not the sum of the bucket totals", where=file)
    return snap


def _check_margin_document(doc: dict[str, Any], snap: Snapshot, top_sums: Sequence[int], *, file: str) -> None:
    """The published margin figures (SPEC.md §17.9): requirements, totals, debt flags and bucket values."""
    config = snap.config
    params = config.margin
    n = len(config.assets)
    for i, b in enumerate(snap.buckets):
        f = f"buckets[{i}]"
        published = _parse_amounts(doc["buckets"][i]["requirement"], config, file=file, field=f"{f}.requirement")
        if published != b.totals:
            raise VerificationFailed(f"bucket {b.id!r}: requirement is not max(equity - debt, 0) per asset",
                                     where=f"{file}: {f}.requirement")
        if not config.allows_debt(b.id) and any(b.debt):  # type: ignore[arg-type]
            raise VerificationFailed(f"bucket {b.id!r} does not allow debts but publishes a debt total",
                                     where=f"{file}: {f}.debt")
        value = collateral_value(b.equity, b.debt, params)  # type: ignore[arg-type]
        if value < 0:
            raise VerificationFailed(f"bucket {b.id!r}: collateral value of its totals is negative "
                                     f"({params.format_value(value)} quote units)", where=f"{file}: {f}")
    equity = _parse_amounts(doc["equity"], config, file=file, field="equity")
    debt = _parse_amounts(doc["debt"], config, file=file, field="debt")
    req = _parse_amounts(doc["requirement"], config, file=file, field="requirement")
    if list(equity) != list(top_sums[:n]) or list(debt) != list(top_sums[n:]):
        raise VerificationFailed("equity and debt are not the sums of the bucket equity and debt totals", where=file)
    if list(req) != snap.totals:
        raise VerificationFailed("requirement is not the sum of the bucket requirements", where=file)


def _check_margin_hiding_document(snap: Snapshot, *, file: str) -> None:
    """Hiding-mode margin (SPEC.md §17.16): a bucket without ``allow_debt`` commits to zero debt, publicly.

    Its leaves' debt slots use the public blinding 1, so its root's debt commitment of every
    asset must be exactly ``2^h * H`` (a commitment to 0 that anyone can open).
    """
    n = len(snap.config.assets)
    for i, b in enumerate(snap.buckets):
        if snap.config.allows_debt(b.id):
            continue
        zero = zero_debt_commitment(b.height)
        bad = [s for s, c in zip(snap.config.symbols, b.commitments[n:]) if c != zero]  # type: ignore[index]
        if bad:
            raise VerificationFailed(f"bucket {b.id!r} does not allow debts but its debt commitments for "
                                     f"{', '.join(bad)} are not the public commitment to zero 2^{b.height}*H",
                                     where=f"{file}: buckets[{i}].debt_commitments")


def parse_commitment_hex(value: Any, *, file: str, field: str) -> bytes:
    """A commitment written as 66 lowercase hex digits: a compressed secp256k1 point, never infinity."""
    if not isinstance(value, str) or not HEX33_RE.fullmatch(value):
        raise BadInput("must be 66 lowercase hex digits (a compressed point)", file=file, field=field)
    raw = bytes.fromhex(value)
    try:
        parse_commitment(raw)
    except BadInput as exc:
        raise BadInput(exc.reason, file=file, field=field) from None
    return raw


def parse_commitments(obj: Any, config: SnapshotConfig, *, file: str, field: str) -> tuple[bytes, ...]:
    """Per-asset commitments ``{symbol: hex}`` in canonical asset order."""
    expect_keys(obj, set(config.symbols), file=file, field=field)
    return tuple(parse_commitment_hex(obj[s], file=file, field=f"{field}.{s}") for s in config.symbols)


def _parse_amounts(obj: Any, config: SnapshotConfig, *, file: str, field: str) -> tuple[int, ...]:
    expect_keys(obj, set(config.symbols), file=file, field=field)
    return tuple(parse_uint64(obj[s], file=file, field=f"{field}.{s}") for s in config.symbols)


def load_snapshot(path: Path) -> Snapshot:
    """Read and verify ``snapshot.json``."""
    path = Path(path)
    if path.is_dir():
        path = path / "snapshot.json"
    return snapshot_from_dict(read_json(path, "snapshot"), file=str(path))


# ------------------------------------------------------------------ building

@dataclass
class BuildResult:
    """What a build produced."""

    snapshot: Snapshot
    out_dir: Path | None
    rows: int
    clamped: int
    secret_created: bool
    accounts_per_bucket: dict[str, int] = field(default_factory=dict)
    debts: int = 0  # margin: negative ledger amounts read as debts
    accounts_with_debt: int = 0  # margin: rows with at least one debt (each passed the per-account rule)


def build_trees(
    config: SnapshotConfig,
    ledger: Path,
    secret: bytes,
    *,
    height: int | Sequence[int] | None = None,
    clamp_negative: bool = False,
    reporter: Reporter | None = None,
    on_row: Any = None,
    hiding: bool = False,
    jobs: int | None = None,
    zk: Any = None,
    _unsafe_skip_account_rule: bool = False,
) -> tuple[Snapshot, list[BuiltBucket], LedgerStats]:
    """Stream the ledger and build every tree in memory.

    ``height`` is one height for every bucket, or one per bucket (canonical order), or
    None for the default (room for twice each bucket's rows). ``on_row(bucket, idx,
    account, salt, line)`` sees each row (the store writer uses it). ``hiding`` builds
    Pedersen-committed trees (SPEC.md §15), using ``jobs`` processes for large ones;
    ``zk`` (a :class:`por.zk.setup.ZkParams`) builds zk-mode trees whose lowest levels are
    Poseidon batches of ``2^zk.batch_height`` leaves (SPEC.md §16.10).
    The returned snapshot knows the totals even in hiding mode (the exchange's copy);
    its :meth:`Snapshot.to_dict` publishes only commitments.

    A config with margin (``config.margin``, SPEC.md §17) builds leaves of equity ‖ debt
    (public or hiding mode; in hiding mode the debt slots of a bucket without ``allow_debt``
    use the public blinding 1). ``_unsafe_skip_account_rule`` lets undercollateralised accounts
    through: it exists only so tests can build the attack fixtures users must catch.
    """
    rep = reporter or _Quiet()
    if zk is not None and zk.circuit.public_factors != (config.margin is not None):
        raise BadInput("a margin config (with [prices]) is built with a BatchMargin setup (`por zk setup --margin`), "
                       "any other config with a Batch setup", field="zk")
    keys = SnapshotKeys.from_master(secret)
    n_assets = len(config.assets)
    n_values = 2 * n_assets if config.margin is not None else n_assets
    k = zk.batch_height if zk is not None else None
    builders = [BucketBuilder(config.snapshot_id, b.id, n_values, keys, hiding=hiding, jobs=jobs, zk_height=k,
                              fixed_blindings=no_debt_fixed_blindings(n_assets)
                              if hiding and config.margin is not None and not config.allows_debt(b.id) else None)
                for b in config.buckets]
    stats = LedgerStats()
    rep.phase("reading ledger", None)
    count = 0
    rows = read_ledger(ledger, config, clamp_negative=clamp_negative, stats=stats,
                       check_accounts=not _unsafe_skip_account_rule)
    for line, account, b, amounts in rows:
        builder = builders[b]
        idx = builder.rows
        salt = builder.add(line, account, amounts)
        if on_row is not None:
            on_row(b, idx, account, salt, line)
        count += 1
        if count % 8192 == 0:
            rep.advance(8192)
    rep.advance(count % 8192)

    if height is None or isinstance(height, int):
        heights = [max(default_height(bd.rows), k or 0) if height is None else height for bd in builders]
    else:
        heights = list(height)
    # work units: one per padding leaf and one per internal node (zk mode: and one per Poseidon leaf)
    rep.phase("building trees", sum((2 << h) - 1 - bd.rows + ((1 << h) if k is not None else 0)
                                    for bd, h in zip(builders, heights)))
    built = [bd.build(h, rep.advance, ledger=str(ledger)) for bd, h in zip(builders, heights)]
    if config.margin is not None and hiding:
        summaries = tuple(BucketSummary.with_margin_commitments(cb.id, cb.kind, bt.height, bt.root_hash,
                                                                bt.root_commitments, bt.root_sums[:n_assets],
                                                                bt.root_sums[n_assets:])
                          for cb, bt in zip(config.buckets, built))
    elif config.margin is not None:
        summaries = tuple(BucketSummary.with_margin(cb.id, cb.kind, bt.height, bt.root_hash,
                                                    bt.root_sums[:n_assets], bt.root_sums[n_assets:])
                          for cb, bt in zip(config.buckets, built))
    else:
        summaries = tuple(BucketSummary(cb.id, cb.kind, bt.height, bt.root_hash, tuple(bt.root_sums),
                                        bt.root_commitments if hiding else None)
                          for cb, bt in zip(config.buckets, built))
    mode = MODE_HIDING if hiding else MODE_ZK if zk is not None else MODE_PUBLIC
    root, _ = compute_root(config, summaries, mode, zk)
    return Snapshot(config, summaries, root, mode, zk), built, stats


def build_snapshot(
    config: SnapshotConfig | Path,
    ledger: Path,
    out_dir: Path,
    *,
    secret: bytes | None = None,
    height: int | None = None,
    clamp_negative: bool = False,
    reporter: Reporter | None = None,
    hiding: bool = False,
    jobs: int | None = None,
    zk_setup: Path | None = None,
    _unsafe_skip_account_rule: bool = False,
) -> BuildResult:
    """Build a snapshot into ``out_dir`` atomically (it must not exist or be empty).

    Without ``secret`` a fresh one is generated and written to ``out_dir/secret.key`` (0600).
    ``hiding`` publishes Pedersen commitments instead of totals (SPEC.md §15). ``zk_setup`` (a
    directory written by ``por zk setup``) builds a zk-mode snapshot bound to that setup's batch
    height and verifying key (SPEC.md §16.10); prove its batches with ``por zk prove``.
    """
    if not isinstance(config, SnapshotConfig):
        config = load_config(config)
    out_dir = Path(out_dir)
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise BadInput("output directory exists and is not empty (choose a new --out)", file=str(out_dir))
    zk = None
    if zk_setup is not None:
        from por.zk.circuits import circuit_for
        from por.zk.setup import load_setup

        setup = load_setup(zk_setup)
        if setup.assets != len(config.assets):
            raise BadInput(f"the zk setup is for {setup.assets} assets, the config declares {len(config.assets)}",
                           file=str(zk_setup), field="assets")
        if setup.circuit != circuit_for(config.margin is not None):
            raise BadInput(f"the zk setup is a {setup.circuit} setup; "
                           + ("a config with [prices] (margin accounts) needs `por zk setup --margin`"
                              if config.margin is not None else "a config without [prices] needs a Batch setup "
                              "(`por zk setup` without --margin)"), file=str(zk_setup), field="circuit")
        zk = setup.params
    created = secret is None
    if secret is None:
        secret = generate_secret()
    with atomic_directory(out_dir) as stage:
        writer = StoreWriter(stage / "store.sqlite")
        try:
            snap, built, stats = build_trees(
                config, ledger, secret, height=height, clamp_negative=clamp_negative, reporter=reporter,
                on_row=writer.stage_row, hiding=hiding, jobs=jobs, zk=zk,
                _unsafe_skip_account_rule=_unsafe_skip_account_rule,
            )
            for i, bt in enumerate(built):
                writer.write_bucket(i, bt.positions, bt.levels, bt.zk_fields)
            writer.finish(snap.to_json(), SnapshotKeys.from_master(secret).nonce_key,
                          zk_setup=Path(zk_setup).resolve() if zk_setup is not None else None)
        except BaseException:
            writer.abort()
            raise
        atomic_write_json(stage / "snapshot.json", snap.to_dict())
        if created:
            write_secret(stage / "secret.key", secret)
    return BuildResult(snap, out_dir, stats.rows, stats.clamped, created,
                       {b.id: bt.rows for b, bt in zip(config.buckets, built)}, stats.debts,
                       stats.accounts_with_debt)

