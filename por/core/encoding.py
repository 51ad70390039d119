"""The one place where values become bytes (SPEC.md §3).

Every byte that `por` hashes is produced here: domain tags, length prefixes,
big-endian integers, the per-asset sum vector, and the preimages of leaves,
padding leaves, tree nodes, bucket leaves and the snapshot root. Other modules
call these functions; none of them lays out bytes of its own.

Notation (SPEC.md): ``H`` is SHA-256; ``uN`` is an N-bit unsigned big-endian
integer; ``lp(x)`` is ``u32(len(x)) || x`` with strings in UTF-8; ``TAG(n)`` is
``lp("por/v1/" + n)``; ``sums(v)`` is ``u16(len(v)) || u64(v0) || u64(v1) ...``.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence

import numpy as np

from por.core.batchhash import Ragged, Segment, digests, hash_rows

FORMAT_VERSION = 1
"""Version of every hashed layout and JSON document in SPEC.md; bumped on any change.

It also names the domain tags (``por/v1/...``) and the HKDF salt, which stay at
version 1 in every mode and value layout (documents of version 2 use them too)."""

U64_LIMIT = 1 << 64
"""Every amount and every node sum is strictly below this (SPEC.md §2)."""

HASH_LEN = 32
SEED_LEN = 32

_sha256 = hashlib.sha256


def H(data: bytes) -> bytes:
    """SHA-256 of ``data``."""
    return _sha256(data).digest()


def u8(n: int) -> bytes:
    return _checked(n, 8).to_bytes(1, "big")


def u16(n: int) -> bytes:
    return _checked(n, 16).to_bytes(2, "big")


def u32(n: int) -> bytes:
    return _checked(n, 32).to_bytes(4, "big")


def u64(n: int) -> bytes:
    return _checked(n, 64).to_bytes(8, "big")


def _checked(n: int, bits: int) -> int:
    if not isinstance(n, int) or isinstance(n, bool) or n < 0 or n >> bits:
        raise ValueError(f"value {n!r} does not fit in u{bits}")
    return n


def lp(data: bytes | str) -> bytes:
    """Length-prefixed field: ``u32(len) || bytes`` (strings are encoded as UTF-8)."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    return len(data).to_bytes(4, "big") + data


def lp_rows(items: Ragged) -> list[Segment]:
    """:func:`lp` of each of ``items`` (UTF-8 bytes) as hash-row segments: their ``u32`` lengths, then the bytes."""
    return [(items.lengths().astype(">u4"), 4), items.segment]


def sums_rows(values: np.ndarray) -> list[Segment]:
    """:func:`sums` of each row of the ``(n, A)`` uint64 array ``values`` as hash-row segments."""
    n, a = values.shape
    return [u16(a), (np.ascontiguousarray(values, dtype=">u8"), 8 * a)]


def tag(name: str) -> bytes:
    """Domain-separation tag ``lp("por/v1/<name>")``."""
    return lp(f"por/v{FORMAT_VERSION}/{name}")


TAG_LEAF = tag("leaf")
TAG_PAD = tag("pad")
TAG_NODE = tag("node")
TAG_BUCKET = tag("bucket")
TAG_ROOT = tag("root")


def sums(values: Sequence[int]) -> bytes:
    """Per-asset sum vector: ``u16(A) || u64(v0) || ... || u64(v_{A-1})``."""
    for v in values:
        _checked(v, 64)
    return struct.pack(f">H{len(values)}Q", len(values), *values)


POINT_LEN = 33


def commits(points: Sequence[bytes]) -> bytes:
    """Per-asset commitment vector (hiding mode): ``u16(A) || C0[33] || ... || C_{A-1}[33]``.

    Each ``C`` is a compressed SEC1 secp256k1 point (never the point at infinity).
    """
    for p in points:
        if len(p) != POINT_LEN or p[0] not in (2, 3):
            raise ValueError("a commitment must be a 33-byte compressed point")
    return u16(len(points)) + b"".join(points)


def vec(values: Sequence[int] | Sequence[bytes]) -> bytes:
    """The amount vector of a node: :func:`sums` for integers (public mode), :func:`commits` for points."""
    if values and isinstance(values[0], (bytes, bytearray)):
        return commits(values)  # type: ignore[arg-type]
    return sums(values)  # type: ignore[arg-type]


# ---------------------------------------------------------------- leaves

def leaf_prefix(snapshot_id: str, bucket_id: str) -> bytes:
    """Constant part of every leaf preimage of one bucket."""
    return TAG_LEAF + lp(snapshot_id) + lp(bucket_id)


def leaf_preimage(
    snapshot_id: str, bucket_id: str, salt: bytes, account_id: str, balances: Sequence[int]
) -> bytes:
    """``TAG(leaf) || lp(snapshot_id) || lp(bucket_id) || salt[32] || lp(account_id) || vec(balances)``.

    ``balances`` are integers (public mode) or per-asset commitments (hiding mode).
    """
    if len(salt) != SEED_LEN:
        raise ValueError("salt must be 32 bytes")
    return leaf_prefix(snapshot_id, bucket_id) + salt + lp(account_id) + vec(balances)


def leaf_hash(
    snapshot_id: str, bucket_id: str, salt: bytes, account_id: str, balances: Sequence[int]
) -> bytes:
    return H(leaf_preimage(snapshot_id, bucket_id, salt, account_id, balances))


def pad_preimage(snapshot_id: str, bucket_id: str, seed: bytes) -> bytes:
    """``TAG(pad) || lp(snapshot_id) || lp(bucket_id) || seed[32]``; a padding leaf's sums are all zero."""
    if len(seed) != SEED_LEN:
        raise ValueError("seed must be 32 bytes")
    return TAG_PAD + lp(snapshot_id) + lp(bucket_id) + seed


def pad_hash(snapshot_id: str, bucket_id: str, seed: bytes) -> bytes:
    return H(pad_preimage(snapshot_id, bucket_id, seed))


def top_pad_hash(snapshot_id: str, index: int) -> bytes:
    """Public padding leaf of the top tree: a pad with empty bucket id and seed ``u256(index)``."""
    return pad_hash(snapshot_id, "", index.to_bytes(SEED_LEN, "big"))


# ---------------------------------------------------------------- nodes

def node_preimage(
    left_hash: bytes, left_sums: Sequence[int], right_hash: bytes, right_sums: Sequence[int]
) -> bytes:
    """``TAG(node) || hash_L || sums(L) || hash_R || sums(R)``: both hashes *and* both sum vectors."""
    if len(left_hash) != HASH_LEN or len(right_hash) != HASH_LEN:
        raise ValueError("child hashes must be 32 bytes")
    if len(left_sums) != len(right_sums):
        raise ValueError("children carry different numbers of assets")
    return TAG_NODE + left_hash + vec(left_sums) + right_hash + vec(right_sums)


def node_hash(
    left_hash: bytes, left_sums: Sequence[int], right_hash: bytes, right_sums: Sequence[int]
) -> bytes:
    return H(node_preimage(left_hash, left_sums, right_hash, right_sums))


def node_hashes_level(hashes: np.ndarray, level_sums: np.ndarray) -> np.ndarray:
    """Hash one whole tree level at once: the vectorised twin of :func:`node_hash`.

    ``hashes`` is a ``(2m, 32)`` uint8 array and ``level_sums`` a ``(2m, A)`` uint64
    array (native order); returns the ``(m, 32)`` parent hashes. The preimage of
    parent ``i`` is exactly ``node_preimage(h[2i], s[2i], h[2i+1], s[2i+1])``
    (tests check this byte for byte). Sums must already be < 2^64 (they are by type).
    """
    n2, assets = level_sums.shape
    be = level_sums.astype(">u8", copy=False).view(np.uint8).reshape(n2, 8 * assets)
    return _node_hashes_encoded(hashes, be, assets)


def node_hashes_level_commits(hashes: np.ndarray, level_commits: np.ndarray) -> np.ndarray:
    """Hiding-mode twin of :func:`node_hashes_level`: ``level_commits`` is ``(2m, 33*A)`` uint8
    (each node's compressed commitments, assets in order)."""
    return _node_hashes_encoded(hashes, level_commits, level_commits.shape[1] // POINT_LEN)


def _node_hashes_encoded(hashes: np.ndarray, vecs: np.ndarray, assets: int) -> np.ndarray:
    """Parents of a level whose per-node vector encodings (without the u16 count) are the rows of ``vecs``."""
    n2, width_v = vecs.shape
    m = n2 // 2
    t = len(TAG_NODE)
    child = HASH_LEN + 2 + width_v
    width = t + 2 * child
    buf = np.empty((m, width), dtype=np.uint8)
    buf[:, :t] = np.frombuffer(TAG_NODE, dtype=np.uint8)
    count = np.frombuffer(struct.pack(">H", assets), dtype=np.uint8)
    for side in (0, 1):
        off = t + side * child
        buf[:, off : off + HASH_LEN] = hashes[side::2]
        buf[:, off + HASH_LEN : off + HASH_LEN + 2] = count
        buf[:, off + HASH_LEN + 2 : off + child] = vecs[side::2]
    return digests(hash_rows(m, [(buf, width)]))


# ---------------------------------------------------------------- buckets and root

def bucket_leaf_preimage(
    snapshot_id: str, bucket_id: str, kind: str, height: int, root_hash: bytes, root_sums: Sequence[int]
) -> bytes:
    """``TAG(bucket) || lp(snapshot_id) || lp(bucket_id) || lp(kind) || u8(height) || root_hash || sums(root)``."""
    if len(root_hash) != HASH_LEN:
        raise ValueError("bucket root hash must be 32 bytes")
    return (
        TAG_BUCKET + lp(snapshot_id) + lp(bucket_id) + lp(kind) + u8(height) + root_hash + vec(root_sums)
    )


def bucket_leaf_hash(
    snapshot_id: str, bucket_id: str, kind: str, height: int, root_hash: bytes, root_sums: Sequence[int]
) -> bytes:
    return H(bucket_leaf_preimage(snapshot_id, bucket_id, kind, height, root_hash, root_sums))


def root_preimage(
    *,
    version: int,
    mode: str,
    snapshot_id: str,
    as_of: str,
    assets: Sequence[tuple[str, int]],
    buckets: Sequence[tuple[str, str]],
    top_height: int,
    top_hash: bytes,
    top_vector: Sequence[int] | Sequence[bytes],
    extension: bytes = b"",
) -> bytes:
    """Snapshot root preimage (SPEC.md §5; the extension of §15.2, §16.10, §17.8)::

        TAG(root) || u16(version) || lp(mode) || lp(snapshot_id) || lp(as_of)
        || u16(#assets)  || { lp(symbol) || u8(decimals) } ...
        || u16(#buckets) || { lp(bucket_id) || lp(kind) } ...
        || u8(top_height) || top_hash || vec(top)
        || extension

    ``vec(top)`` is :func:`sums` or :func:`commits` of the top tree's root vector. ``extension``
    is what the snapshot's mode and value layout bind on top (:meth:`por.modes.base.Mode.root_extension`):
    ``u8(batch_height) || vkey_digest`` in zk mode, then the margin parameters in version 2.
    """
    out = [TAG_ROOT, u16(version), lp(mode), lp(snapshot_id), lp(as_of), u16(len(assets))]
    for symbol, decimals in assets:
        out += [lp(symbol), u8(decimals)]
    out.append(u16(len(buckets)))
    for bucket_id, kind in buckets:
        out += [lp(bucket_id), lp(kind)]
    if len(top_hash) != HASH_LEN:
        raise ValueError("top hash must be 32 bytes")
    out += [u8(top_height), top_hash, vec(top_vector), extension]
    return b"".join(out)


SCALAR_LEN = 32


def scalars(raw: bytes) -> list[int]:
    """Decode concatenated 32-byte big-endian scalars (a node's blinding sums in hiding mode)."""
    return [int.from_bytes(raw[i : i + SCALAR_LEN], "big") for i in range(0, len(raw), SCALAR_LEN)]


def scalars_bytes(values: Sequence[int]) -> bytes:
    """The inverse of :func:`scalars`: each value as 32 bytes, big-endian."""
    return b"".join([v.to_bytes(SCALAR_LEN, "big") for v in values])
