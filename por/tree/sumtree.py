"""Merkle-sum trees (SPEC.md §5): the per-bucket tree builder, the top tree, and path climbing.

A bucket tree has ``2^height`` leaves. Real leaves and padding leaves are placed
by a secret-keyed pseudorandom permutation: every real leaf has the sort key
``HMAC(k_position, ...)`` and every padding leaf ``j`` the key
``HMAC(k_padding, ...)`` (which is also its seed); all ``2^height`` keys are
sorted bytewise ascending and a leaf's rank is its index. Each node carries the
per-asset sums of its subtree; a parent hashes both children's hashes and sums.
"""

from __future__ import annotations

import hashlib
import struct
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from por.core import encoding as enc
from por.core.errors import BadInput, VerificationFailed
from por.modes.commitments import add_vectors, blinding_vector, commit_levels, top_pad_commitments
from por.core.keys import SnapshotKeys

MAX_HEIGHT = 32

Progress = Callable[[int], None]
"""Called with a number of units of work just done (for progress bars)."""


def default_height(rows: int) -> int:
    """Smallest height (at least 1) whose capacity holds twice the rows."""
    return max(1, (2 * rows - 1).bit_length()) if rows else 1


@dataclass
class Level:
    """One tree level: ``hashes`` is ``(N, 32)`` uint8, ``sums`` is ``(N, A)`` uint64.

    In hiding mode ``commits`` is ``(N, 33*A)`` uint8 (each node's commitments) and
    ``blinds`` ``(N, 32*A)`` uint8 (their blinding sums, big-endian); ``sums`` still
    holds the committed values (the prover needs them; they are never published).
    """

    hashes: np.ndarray
    sums: np.ndarray
    commits: np.ndarray | None = None
    blinds: np.ndarray | None = None


@dataclass
class BuiltBucket:
    """A finished bucket tree: every level from the leaves (0) to the root (height)."""

    bucket_id: str
    height: int
    rows: int
    positions: np.ndarray  # positions[i] = leaf index of the bucket's i-th ledger row
    levels: list[Level]
    zk_fields: bytes | None = None  # zk mode: account ‖ salt field elements (64 bytes) per leaf, in index order

    @property
    def root_hash(self) -> bytes:
        return self.levels[-1].hashes[0].tobytes()

    @property
    def root_sums(self) -> list[int]:
        return [int(x) for x in self.levels[-1].sums[0]]

    @property
    def hiding(self) -> bool:
        return self.levels[-1].commits is not None

    @property
    def root_commitments(self) -> tuple[bytes, ...]:
        """Hiding mode: the root's per-asset commitments (33-byte encodings)."""
        raw = self.levels[-1].commits[0].tobytes()  # type: ignore[index]
        return tuple(raw[i : i + enc.POINT_LEN] for i in range(0, len(raw), enc.POINT_LEN))

    @property
    def root_blindings(self) -> list[int]:
        """Hiding mode: the blinding factor of each root commitment."""
        return blinding_vector(self.levels[-1].blinds[0].tobytes())  # type: ignore[index]


class BucketBuilder:
    """Accumulates one bucket's leaves in compact arrays, then builds its tree.

    With ``hiding=True`` (SPEC.md §15) leaves commit to their balances and the
    leaf hashes are computed at build time, once the commitments are known;
    ``fixed_blindings`` (hiding mode, one entry per value slot) gives slots a public
    blinding instead of the derived one (margin: the debt slots of a bucket without
    ``allow_debt``, see :func:`por.modes.commitments.no_debt_fixed_blindings`).
    With ``zk_height=k`` (SPEC.md §16.10) the lowest ``k`` levels are Poseidon
    batches (leaf and node hashes are field elements as 32 bytes) and the
    SHA-256 Merkle-sum tree starts above them.
    """

    def __init__(
        self, snapshot_id: str, bucket_id: str, n_assets: int, keys: SnapshotKeys, *, hiding: bool = False,
        jobs: int | None = None, zk_height: int | None = None,
        fixed_blindings: tuple[int | None, ...] | None = None,
    ) -> None:
        if hiding and zk_height is not None:
            raise BadInput("hiding mode and zk mode cannot be combined", field="zk")
        if fixed_blindings is not None and (not hiding or len(fixed_blindings) != n_assets):
            raise ValueError("fixed_blindings needs hiding mode and one entry per value slot")
        self.snapshot_id = snapshot_id
        self.hiding = hiding
        self.fixed_blindings = fixed_blindings
        self.zk_height = zk_height
        self._zk_fields = bytearray()
        self.jobs = jobs
        self._heads: list[bytes] = []
        self._salts = bytearray()
        self.bucket_id = bucket_id
        self.n_assets = n_assets
        self.keys = keys
        self._scope = SnapshotKeys.scope(snapshot_id, bucket_id)
        self._leaf_prefix = enc.leaf_prefix(snapshot_id, bucket_id)
        self._sums = struct.Struct(f">H{n_assets}Q")
        self._salt = keys.salt
        self._position = keys.position
        self.sort_keys = bytearray()
        self.leaf_hashes = bytearray()
        self.amounts = array("Q")
        self.lines = array("Q")

    @property
    def rows(self) -> int:
        return len(self.lines)

    def add(self, line: int, account_id: str, amounts: Sequence[int]) -> bytes:
        """Add one account's leaf; returns its salt (to be stored for serving proofs)."""
        lp_account = enc.lp(account_id)
        msg = self._scope + lp_account
        salt = self._salt(msg)
        self.sort_keys += self._position(msg)
        if self.hiding:
            self._heads.append(salt + lp_account)
            self._salts += salt
        elif self.zk_height is not None:
            from por.modes.zk import leaf_fields

            self._zk_fields += leaf_fields(self.snapshot_id, self.bucket_id, account_id, salt)
        else:
            self.leaf_hashes += hashlib.sha256(
                self._leaf_prefix + salt + lp_account + self._sums.pack(self.n_assets, *amounts)
            ).digest()
        self.amounts.extend(amounts)
        self.lines.append(line)
        return salt

    def build(self, height: int | None = None, progress: Progress | None = None, *, ledger: str = "") -> BuiltBucket:
        """Place leaves, pad to ``2^height`` and hash every level up to the root."""
        n = self.rows
        h = default_height(n) if height is None else height
        if not 0 < h <= MAX_HEIGHT:
            raise BadInput(f"height must be 1..{MAX_HEIGHT}", field="height")
        if self.zk_height is not None and h < self.zk_height:
            raise BadInput(f"bucket {self.bucket_id!r}: height {h} is below the batch height {self.zk_height}",
                           field="height")
        capacity = 1 << h
        if n > capacity:
            raise BadInput(f"bucket {self.bucket_id!r} has {n} accounts; height {h} holds only {capacity}",
                           field="height")
        pads = capacity - n
        prf = self.keys.padding
        scope = self._scope
        pack_j = struct.Struct(">Q").pack
        seeds = b"".join([prf(scope + pack_j(j)) for j in range(pads)])
        sha = hashlib.sha256
        pad_prefix = enc.TAG_PAD + scope
        pad_hashes = b"".join([sha(pad_prefix + seeds[i : i + 32]).digest() for i in range(0, 32 * pads, 32)])
        if progress:
            progress(pads)

        keys = np.frombuffer(bytes(self.sort_keys) + seeds, dtype="S32")
        order = np.argsort(keys, kind="stable")
        ranked = keys[order]
        same = np.flatnonzero(ranked[1:] == ranked[:-1])
        if same.size:
            a, b = sorted(int(x) for x in order[same[0] : same[0] + 2])
            raise BadInput(
                f"duplicate account in bucket {self.bucket_id!r}: also on line {self.lines[a]}",
                file=ledger or None, line=int(self.lines[b]), field="account_id",
            )
        positions = np.empty(capacity, dtype=np.int64)
        positions[order] = np.arange(capacity, dtype=np.int64)

        sums = np.zeros((capacity, self.n_assets), dtype=np.uint64)
        if n:
            sums[:n] = np.frombuffer(self.amounts, dtype=np.uint64).reshape(n, self.n_assets)
        sums = sums[order]
        if self.hiding:
            levels = self._build_hiding(order, seeds, pad_hashes, sums, progress)
            return BuiltBucket(self.bucket_id, h, n, positions[:n], levels)
        if self.zk_height is not None:
            levels, fields = self._build_zk(order, seeds, sums, progress)
            return BuiltBucket(self.bucket_id, h, n, positions[:n], levels, fields)
        hashes = np.frombuffer(bytes(self.leaf_hashes) + pad_hashes, dtype=np.uint8).reshape(capacity, 32)[order]
        levels = [Level(hashes, sums)]
        while len(levels[-1].hashes) > 1:
            lv = levels[-1]
            parent_sums = lv.sums[0::2] + lv.sums[1::2]  # cannot wrap: bucket totals were checked < 2^64
            levels.append(Level(enc.node_hashes_level(lv.hashes, lv.sums), parent_sums))
            if progress:
                progress(len(parent_sums))
        return BuiltBucket(self.bucket_id, h, n, positions[:n], levels)

    def _build_zk(
        self, order: np.ndarray, seeds: bytes, sums: np.ndarray, progress: Progress | None
    ) -> tuple[list[Level], bytes]:
        """Poseidon batches for the lowest k levels (in parallel for large trees), SHA-256 nodes above."""
        from por.modes.zk import batch_hash_levels, pad_fields

        k = self.zk_height
        assert k is not None
        pads = b"".join([pad_fields(seeds[i : i + 32]) for i in range(0, len(seeds), 32)])
        fields = np.frombuffer(bytes(self._zk_fields) + pads, dtype="S64")[order].tobytes()
        hashed = batch_hash_levels(fields, sums, k, jobs=self.jobs, progress=progress)
        levels = [Level(hashed[0], sums)]
        for lvl in range(1, k + 1):
            below = levels[-1].sums
            levels.append(Level(hashed[lvl], below[0::2] + below[1::2]))
        while len(levels[-1].hashes) > 1:
            lv = levels[-1]
            levels.append(Level(enc.node_hashes_level(lv.hashes, lv.sums), lv.sums[0::2] + lv.sums[1::2]))
            if progress:
                progress(len(levels[-1].hashes))
        return levels, fields

    def _build_hiding(
        self, order: np.ndarray, seeds: bytes, pad_hashes: bytes, sums: np.ndarray, progress: Progress | None
    ) -> list[Level]:
        """Commit every level (in parallel for large trees), then hash leaves and nodes over the commitments."""
        n = self.rows
        all_seeds = np.frombuffer(bytes(self._salts) + seeds, dtype="S32")[order].tobytes()
        committed = commit_levels(self.keys.blinding_key, all_seeds, sums, jobs=self.jobs, progress=progress,
                                  fixed_blindings=self.fixed_blindings)
        leaf_commits = committed[0].commits
        count = enc.u16(self.n_assets)
        prefix = self._leaf_prefix
        heads = self._heads
        sha = hashlib.sha256
        hashes = bytearray()
        for p, idx in enumerate(order.tolist()):
            if idx < n:
                hashes += sha(prefix + heads[idx] + count + leaf_commits[p].tobytes()).digest()
            else:
                j = idx - n
                hashes += pad_hashes[32 * j : 32 * j + 32]
        level_hashes = np.frombuffer(bytes(hashes), dtype=np.uint8).reshape(-1, 32)
        levels = [Level(level_hashes, sums, committed[0].commits, committed[0].blinds)]
        for cl in committed[1:]:
            lv = levels[-1]
            levels.append(Level(enc.node_hashes_level_commits(lv.hashes, lv.commits), lv.sums[0::2] + lv.sums[1::2],
                                cl.commits, cl.blinds))
        return levels


def top_height(n_buckets: int) -> int:
    """Height of the top tree over ``n_buckets`` bucket leaves (0 for one bucket)."""
    return (n_buckets - 1).bit_length()


Vector = Sequence[int] | Sequence[bytes]
"""A node's per-asset vector: sums (public mode) or 33-byte commitments (hiding mode)."""


def top_tree(snapshot_id: str, leaves: Sequence[tuple[bytes, Vector]]) -> list[list[tuple[bytes, list]]]:
    """All levels of the top tree over bucket leaves ``(hash, vector)``, padded with public pads.

    A pad's vector is all zeros in public mode and ``commit(0, 1) = H`` per asset in hiding mode.
    """
    n_assets = len(leaves[0][1])
    h = top_height(len(leaves))
    hiding = _is_commitments(leaves[0][1])
    pad = list(top_pad_commitments(n_assets)) if hiding else [0] * n_assets
    level = [(hv, list(s)) for hv, s in leaves]
    level += [(enc.top_pad_hash(snapshot_id, i), list(pad)) for i in range(len(leaves), 1 << h)]
    levels = [level]
    while len(level) > 1:
        level = [_parent(level[i], level[i + 1], "top tree") for i in range(0, len(level), 2)]
        levels.append(level)
    return levels


def _is_commitments(vector: Vector) -> bool:
    return bool(vector) and isinstance(vector[0], (bytes, bytearray))


def _parent(left: tuple[bytes, Vector], right: tuple[bytes, Vector], where: str) -> tuple[bytes, list]:
    if _is_commitments(left[1]) or _is_commitments(right[1]):
        if not (_is_commitments(left[1]) and _is_commitments(right[1])):
            raise VerificationFailed("a node mixes sums and commitments", where=where)
        total: list = list(add_vectors(left[1], right[1], where=where))  # type: ignore[arg-type]
    else:
        total = [a + b for a, b in zip(left[1], right[1], strict=True)]
        for v in total:
            if v >= enc.U64_LIMIT:
                raise VerificationFailed("a node sum reaches 2^64 (wraparound)", where=where)
    return enc.node_hash(left[0], left[1], right[0], right[1]), total


NodeCheck = Callable[[Vector, str], None]
"""Called on a node's vector with a description of where it is; raises VerificationFailed to reject it."""


def climb(
    leaf: tuple[bytes, Vector],
    index: int,
    siblings: Sequence[tuple[bytes, Vector]],
    *,
    where: str = "path",
    check: NodeCheck | None = None,
    start_level: int = 0,
) -> tuple[bytes, list]:
    """Recompute the root from a leaf, its index and its siblings (bottom-up).

    At level ``i`` the running node is the right child when bit ``i`` of
    ``index`` is set. Every parent sum is checked to stay below 2^64 (public
    mode); commitments are added as points (hiding mode). ``check`` (margin
    mode: the collateral-value rule) sees every sibling and every computed parent,
    bottom-up; the leaf itself is the caller's to check. ``start_level`` is the tree level of
    ``leaf`` (zk mode: the batch height), used only to name levels in messages.
    """
    if index >> len(siblings):
        raise VerificationFailed(f"leaf index {index} is outside a tree of height {len(siblings)}", where=where)
    node = (leaf[0], list(leaf[1]))
    for level, sib in enumerate(siblings):
        at = start_level + level
        here = f"{where}, level {at + 1}"
        if check is not None:
            check(sib[1], f"{where}[{level}] (sibling at level {at})")
        node = _parent(sib, node, here) if (index >> level) & 1 else _parent(node, sib, here)
        if check is not None:
            check(node[1], f"{where} (computed node at level {at + 1})")
    return node
