"""Merkle-sum trees (SPEC.md §5): the bucket tree builder, the top tree, and path climbing.

A bucket tree has ``2^height`` leaves. Real leaves and padding leaves are placed
by a secret-keyed pseudorandom permutation: every real leaf has the sort key
``HMAC(k_position, ...)`` and every padding leaf ``j`` the key
``HMAC(k_padding, ...)`` (which is also its seed); all ``2^height`` keys are
sorted bytewise ascending and a leaf's rank is its index. Each node carries the
value vector of its subtree; a parent hashes both children's hashes and vectors.

What a leaf hashes and how levels are computed is the mode's (:mod:`por.modes`): the
builder here does what every mode shares -- salts, positions, padding seeds, the
permutation, duplicate detection, the value arrays -- and hands the placed leaves to the
mode's :class:`LeafScheme`. A node's vector is either u64 sums (checked below 2^64 at
every parent) or commitments (added as points); :func:`parent` serves both.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from por.core import encoding as enc
from por.core.errors import BadInput, VerificationFailed
from por.core.batchhash import Ragged, Segment, hash_rows
from por.core.keys import Prf, SnapshotKeys
from por.core.progress import Progress
from por.crypto.pedersen import add_commitments

MAX_HEIGHT = 32


def default_height(rows: int) -> int:
    """Smallest height (at least 1) whose capacity holds twice the rows."""
    return max(1, (2 * rows - 1).bit_length()) if rows else 1


@dataclass
class Level:
    """One tree level: ``hashes`` is ``(N, 32)`` uint8, ``sums`` is ``(N, V)`` uint64 (V values per node).

    In hiding mode ``commits`` is ``(N, 33*V)`` uint8 (each node's commitments) and
    ``blinds`` ``(N, 32*V)`` uint8 (their blinding sums, big-endian); ``sums`` still
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
    def root_commitments(self) -> tuple[bytes, ...] | None:
        """Hiding mode: the root's commitments (33-byte encodings); None in other modes."""
        commits = self.levels[-1].commits
        if commits is None:
            return None
        raw = commits[0].tobytes()
        return tuple(raw[i : i + enc.POINT_LEN] for i in range(0, len(raw), enc.POINT_LEN))


class LeafScheme(Protocol):
    """What a mode does with one bucket's leaves (see :class:`BucketBuilder`)."""

    def add(self, salt: bytes, lp_account: bytes, account_id: str, amounts: Sequence[int]) -> None:
        """Record one real leaf (in ledger order)."""

    def add_many(self, salts: bytes, account_ids: Ragged, lp_accounts: list[Segment],
                 values: np.ndarray) -> None:
        """Record real leaves in order, as :meth:`add` one by one: their salts (32 bytes each), UTF-8 ids, the ids as
        :func:`~por.core.encoding.lp_rows` segments, and their ``(n, V)`` uint64 values."""

    def levels(self, order: np.ndarray, seeds: bytes, pad_hashes: bytes, sums: np.ndarray,
               progress: Progress | None) -> tuple[list[Level], bytes | None]:
        """Every level of the tree, leaves to root, and the mode's extra per-leaf data (or None).

        ``order[p]`` is the leaf at position ``p``: ``< rows`` a real leaf (ledger order), else
        padding leaf ``order[p] - rows``, whose seed is ``seeds[32j:32j+32]`` and SHA-256 pad hash
        ``pad_hashes[32j:32j+32]``; ``sums`` is the ``(2^h, V)`` value array in position order.
        """
        ...


class OneByOne:
    """:meth:`LeafScheme.add_many` for schemes whose leaves are made one at a time (:meth:`LeafScheme.add`)."""

    def add(self, salt: bytes, lp_account: bytes, account_id: str, amounts: Sequence[int]) -> None:
        raise NotImplementedError

    def add_many(self, salts: bytes, account_ids: Ragged, lp_accounts: list[Segment],
                 values: np.ndarray) -> None:
        for i, (account, amounts) in enumerate(zip(account_ids.items(), values.tolist())):
            account_id = account.decode("utf-8")
            self.add(salts[32 * i:32 * i + 32], enc.lp(account_id), account_id, amounts)


class BucketBuilder:
    """Accumulates one bucket's leaves in compact arrays, then builds its tree with the mode's leaf scheme."""

    def __init__(self, snapshot_id: str, bucket_id: str, n_values: int, keys: SnapshotKeys, leaves: LeafScheme,
                 *, min_height: int = 0) -> None:
        self.snapshot_id = snapshot_id
        self.bucket_id = bucket_id
        self.n_values = n_values
        self.keys = keys
        self.leaves = leaves
        self.min_height = min_height
        self._scope = SnapshotKeys.scope(snapshot_id, bucket_id)
        self._salt = keys.salt
        self._position = keys.position
        self.sort_keys = bytearray()
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
        self.leaves.add(salt, lp_account, account_id, amounts)
        self.amounts.extend(amounts)
        self.lines.append(line)
        return salt

    def build(self, height: int | None = None, progress: Progress | None = None, *, ledger: str = "") -> BuiltBucket:
        """Place leaves, pad to ``2^height`` and compute every level up to the root."""
        n = self.rows
        h = default_height(n) if height is None else height
        check_height(self.bucket_id, n, h, self.min_height)
        capacity = 1 << h
        pads = capacity - n
        scope = self._scope
        seeds = padding_seeds(self.keys.padding, scope, 0, pads)
        pad_hashes = padding_hashes(scope, seeds)
        if progress:
            progress(pads)

        keys = np.frombuffer(bytes(self.sort_keys) + seeds, dtype="S32")
        order = key_order(keys)
        dup = first_duplicate(keys[order], order, n)
        if dup is not None:
            a, b = dup
            raise BadInput(
                f"duplicate account in bucket {self.bucket_id!r}: also on line {self.lines[a]}",
                file=ledger or None, line=int(self.lines[b]), field="account_id",
            )
        positions = np.empty(capacity, dtype=np.int64)
        positions[order] = np.arange(capacity, dtype=np.int64)

        sums = np.zeros((capacity, self.n_values), dtype=np.uint64)
        if n:
            sums[:n] = np.frombuffer(self.amounts, dtype=np.uint64).reshape(n, self.n_values)
        sums = sums[order]
        levels, extra = self.leaves.levels(order, seeds, pad_hashes, sums, progress)
        return BuiltBucket(self.bucket_id, h, n, positions[:n], levels, extra)


def check_height(bucket_id: str, rows: int, height: int, min_height: int = 0) -> None:
    """Refuse a bucket tree height out of range, below the zk batch height, or too small for the rows (BadInput)."""
    if not 0 < height <= MAX_HEIGHT:
        raise BadInput(f"height must be 1..{MAX_HEIGHT}", field="height")
    if height < min_height:
        raise BadInput(f"bucket {bucket_id!r}: height {height} is below the batch height {min_height}",
                       field="height")
    if rows > 1 << height:
        raise BadInput(f"bucket {bucket_id!r} has {rows} accounts; height {height} holds only {1 << height}",
                       field="height")


def bucket_heights(height: int | Sequence[int] | None, rows: Sequence[int], min_height: int = 0) -> list[int]:
    """Each bucket's tree height: ``height`` for all, one per bucket (canonical order), or None for the
    default (room for twice the rows, at least ``min_height``)."""
    if height is None:
        return [max(default_height(r), min_height) for r in rows]
    if isinstance(height, int):
        return [height] * len(rows)
    return list(height)


def padding_seeds(prf: Prf, scope: bytes, start: int, stop: int) -> bytes:
    """Seeds (= sort keys) of padding leaves ``start .. stop - 1``: ``HMAC(k_padding, scope ‖ u64(j))`` (SPEC.md §5)."""
    js = np.arange(start, stop, dtype=">u8")
    return prf.many(len(js), [scope, (js, 8)])


def padding_hashes(scope: bytes, seeds: bytes) -> bytes:
    """The leaf hash ``SHA-256(TAG(pad) ‖ scope ‖ seed)`` of each 32-byte padding seed in ``seeds``."""
    return hash_rows(len(seeds) // 32, [enc.TAG_PAD + scope, (seeds, 32)])


def key_order(keys: np.ndarray, *, prefix: np.ndarray | None = None) -> np.ndarray:
    """``np.argsort(keys, kind="stable")`` of ``S32`` sort keys, fast: sorted by their first 8 bytes as integers
    (``prefix``, big-endian, when the caller has them), which is the same order unless two keys share those
    bytes (then, and only then, the full stable sort)."""
    if len(keys) < 2:
        return np.argsort(keys, kind="stable")
    if prefix is None:
        prefix = np.frombuffer(np.ascontiguousarray(keys).tobytes(), dtype=">u8")[0::4]
    prefix = prefix.astype(np.uint64)
    order = np.argsort(prefix)
    ranked = prefix[order]
    if np.any(ranked[1:] == ranked[:-1]):
        return np.argsort(keys, kind="stable")
    return order


def first_duplicate(ranked: np.ndarray, order: np.ndarray, rows: int) -> tuple[int, int] | None:
    """The smallest sort key held by two real leaves: their row indices (ascending), or None.

    ``ranked`` is the sorted ``S32`` keys, ``order`` the argsort that sorted them; indices ``< rows``
    are real leaves (a padding seed equal to a key is a 2^-256 event and is not reported).
    """
    for i in np.flatnonzero(ranked[1:] == ranked[:-1]).tolist():
        a, b = sorted((int(order[i]), int(order[i + 1])))
        if b < rows:
            return a, b
    return None


def sum_levels(levels: list[Level], progress: Progress | None = None) -> list[Level]:
    """Extend ``levels`` with SHA-256 Merkle-sum parents up to the root (SPEC.md §4): the public node."""
    while len(levels[-1].hashes) > 1:
        lv = levels[-1]
        parent_sums = lv.sums[0::2] + lv.sums[1::2]  # cannot wrap: bucket totals were checked < 2^64
        levels.append(Level(enc.node_hashes_level(lv.hashes, lv.sums), parent_sums))
        if progress:
            progress(len(parent_sums))
    return levels


def top_height(n_buckets: int) -> int:
    """Height of the top tree over ``n_buckets`` bucket leaves (0 for one bucket)."""
    return (n_buckets - 1).bit_length()


Vector = Sequence[int] | Sequence[bytes]
"""A node's vector: sums (public and zk mode) or 33-byte commitments (hiding mode)."""

Node = tuple[bytes, Vector]
"""A node: its hash and its vector."""


def top_tree(snapshot_id: str, leaves: Sequence[Node], pad: Vector) -> list[list[tuple[bytes, list]]]:
    """All levels of the top tree over bucket leaves ``(hash, vector)``, padded with public pads.

    A pad's hash is :func:`por.core.encoding.top_pad_hash`, its vector ``pad`` (the mode's: all zeros,
    or ``commit(0, 1) = H`` per value in hiding mode).
    """
    h = top_height(len(leaves))
    level = [(hv, list(s)) for hv, s in leaves]
    level += [(enc.top_pad_hash(snapshot_id, i), list(pad)) for i in range(len(leaves), 1 << h)]
    levels = [level]
    while len(level) > 1:
        level = [parent(level[i], level[i + 1], "top tree") for i in range(0, len(level), 2)]
        levels.append(level)
    return levels


def _is_commitments(vector: Vector) -> bool:
    return bool(vector) and isinstance(vector[0], (bytes, bytearray))


def parent(left: Node, right: Node, where: str) -> tuple[bytes, list]:
    """The parent of two nodes: ``H(node_preimage)`` over both hashes and vectors, and the summed vector.

    Sums must stay below 2^64 (no wraparound); commitments are added as points.
    """
    if _is_commitments(left[1]) or _is_commitments(right[1]):
        if not (_is_commitments(left[1]) and _is_commitments(right[1])):
            raise VerificationFailed("a node mixes sums and commitments", where=where)
        total: list = list(add_commitments(left[1], right[1], where=where))  # type: ignore[arg-type]
    else:
        total = [a + b for a, b in zip(left[1], right[1], strict=True)]
        for v in total:
            if v >= enc.U64_LIMIT:
                raise VerificationFailed("a node sum reaches 2^64 (wraparound)", where=where)
    return enc.node_hash(left[0], left[1], right[0], right[1]), total


NodeCheck = Callable[[Vector, str], None]
"""Called on a node's vector with a description of where it is; raises VerificationFailed to reject it."""


def climb(
    leaf: Node,
    index: int,
    siblings: Sequence[Node],
    *,
    where: str = "path",
    check: NodeCheck | None = None,
    start_level: int = 0,
) -> tuple[bytes, list]:
    """Recompute the root from a leaf, its index and its siblings (bottom-up).

    At level ``i`` the running node is the right child when bit ``i`` of
    ``index`` is set. Every parent sum is checked to stay below 2^64 (public
    mode); commitments are added as points (hiding mode). ``check`` (margin
    values: the collateral-value rule) sees every sibling and every computed parent,
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
        node = parent(sib, node, here) if (index >> level) & 1 else parent(node, sib, here)
        if check is not None:
            check(node[1], f"{where} (computed node at level {at + 1})")
    return node
