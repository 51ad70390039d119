"""RFC 9162 Merkle tree hashing of the transparency log (SPEC.md §11), and its proof layouts.

* leaf hash  ``H(0x00 || entry_bytes)``
* node hash  ``H(0x01 || left || right)``
* tree root  ``MTH`` of RFC 9162 section 2.1.1 (``H("")`` for the empty tree).

The log's store (pymerkle, :mod:`por.log.store`) is configured for exactly this hashing. The
inclusion / consistency path layouts are computed here from the sizes alone, so that a layout
sent with a proof is never trusted; :func:`mth` is the reference tree hash.
"""

from __future__ import annotations

from por.core.encoding import H

HASH_ALGORITHM = "sha256"
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = H(b"")
"""RFC 9162 MTH of the empty list: SHA-256 of the empty string."""

MAX_LOG_SIZE = 1 << 64


# ------------------------------------------------------------------ RFC 9162 hashing

def leaf_hash(entry_bytes: bytes) -> bytes:
    """``H(0x00 || entry_bytes)`` (RFC 9162 leaf hash; pymerkle ``hash_buff`` with security on)."""
    return H(LEAF_PREFIX + entry_bytes)


def node_hash(left: bytes, right: bytes) -> bytes:
    """``H(0x01 || left || right)`` (RFC 9162 interior node; pymerkle ``hash_pair``)."""
    return H(NODE_PREFIX + left + right)


def _split(width: int) -> int:
    """The largest power of two strictly less than ``width`` (``width >= 2``)."""
    k = 1 << (width.bit_length() - 1)
    return k >> 1 if k == width else k


def inclusion_layout(index: int, size: int) -> list[int]:
    """Side bits of the inclusion path of leaf ``index`` (0-based) in a tree of ``size`` leaves.

    The path has ``len(result)`` hashes: ``path[0]`` is the leaf hash, ``path[j]`` (j >= 1)
    the root of the sibling range met on the way up. ``result[j-1]`` is 1 when the node
    computed so far is the *right* child when combined with ``path[j]``. The last bit is
    the root's (always 0, unused). This is pymerkle's ``rule``.
    """
    if not 0 <= index < size:
        raise ValueError("index out of range")
    start, end, bit = 0, size, 0
    bits: list[int] = []
    while end - start > 1:
        k = _split(end - start)
        bits.append(bit)
        if index < start + k:
            end, bit = start + k, 0
        else:
            start, bit = start + k, 1
    return [bit] + bits[::-1]


def consistency_layout(old_size: int, new_size: int) -> tuple[list[int], list[int]]:
    """``(rule, subset)`` of pymerkle's consistency path between sizes ``1 <= m <= n``.

    ``subset[j]`` is 1 when ``path[j]`` is the root of a range inside the old tree
    (these fold, right to left, into the old root); ``rule`` is as in
    :func:`inclusion_layout`, for recomputing the new root from the whole path.
    """
    if not 1 <= old_size <= new_size:
        raise ValueError("sizes out of range")
    start, pw, w, bit = 0, old_size, new_size, 0
    bits: list[int] = []
    masks: list[int] = []
    while not (pw == w or (pw == 0 and w == 1)):
        k = _split(w)
        bits.append(bit)
        if pw < k:
            masks.append(0)
            w, bit = k, 0
        else:
            masks.append(1)
            start, pw, w, bit = start + k, pw - k, w - k, 1
    base_mask = 1 if pw == w else 0
    return [bit] + bits[::-1], [base_mask] + masks[::-1]


def mth(leaf_hashes: list[bytes]) -> bytes:
    """RFC 9162 Merkle tree hash of a list of leaf hashes (reference; the log uses pymerkle)."""
    n = len(leaf_hashes)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaf_hashes[0]
    k = _split(n)
    return node_hash(mth(leaf_hashes[:k]), mth(leaf_hashes[k:]))
