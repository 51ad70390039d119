"""Batch encodings of the zk mode (SPEC.md §16.3–§5): field elements, leaves, Poseidon levels.

A *batch* is ``2^k`` consecutive leaves of a bucket tree (the lowest ``k`` levels). Each leaf holds
a vector of u64 values (minor units; ``A`` balances in canonical asset order for ``Batch(k, A)``, or
the ``2A`` values ``E ‖ D`` -- equities then debts -- for ``BatchMargin(k, A)``, SPEC.md §17.5) and
two field elements:

* ``account = account_field(snapshot_id, bucket_id, account_id)``, public to the account holder;
* ``salt = salt_field(salt32)`` from the leaf's 32-byte salt (SPEC.md §3) or a padding seed.

Field reduction (both): ``int(H(TAG(name) ‖ ...)) >> 3``, the top 253 bits of a SHA-256 digest read
big-endian. ``2^253 < p``, so the result is always a field element, uniform on ``[0, 2^253)``; no
``mod p`` bias and nothing to reject. Every input byte is hashed.

``leaf = Poseidon(account, salt, value_0, ..., value_{n-1})`` (width ``n + 3``) and
``node = Poseidon(left, right)`` (width 3); since ``n ≥ 1`` the two never share a permutation, which
separates leaves from nodes. A padding leaf is ``account = 0``, ``salt = salt_field(seed)``,
values all zero. ``batch_levels`` returns every level (leaves first) and the circuit proves the
same root together with the per-value sums. What each circuit makes of the values (its witness
input, public signals and verification) is its descriptor's business: :mod:`por.zk.circuits`.

Values outside their domain raise ``ValueError`` (programming errors of the caller, as in
:mod:`por.core.encoding`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from por.core.encoding import HASH_LEN, SEED_LEN, U64_LIMIT, H, lp, tag
from por.zk.poseidon import MAX_INPUTS, P, check_field_element, poseidon

FIELD_SHIFT = 3
"""A digest becomes a field element as ``int.from_bytes(digest, "big") >> FIELD_SHIFT`` (253 bits)."""
MAX_VALUES = MAX_INPUTS - 2
"""circomlib Poseidon takes at most 16 inputs: account, salt and at most 14 values."""
MAX_K = 20
"""Largest batch height the circuit template accepts (``Batch(K, A)`` asserts ``K ≤ 20``)."""

TAG_ZK_ACCOUNT = tag("zk-account")
TAG_ZK_SALT = tag("zk-salt")


# ---------------------------------------------------------------- field elements

def digest_to_field(digest: bytes) -> int:
    """The top 253 bits of a 32-byte digest, big-endian: always ``< 2^253 < p``."""
    if len(digest) != HASH_LEN:
        raise ValueError(f"digest must be {HASH_LEN} bytes, got {len(digest)}")
    return int.from_bytes(digest, "big") >> FIELD_SHIFT


def account_field(snapshot_id: str, bucket_id: str, account_id: str) -> int:
    """``H(TAG("zk-account") ‖ lp(snapshot_id) ‖ lp(bucket_id) ‖ lp(account_id)) >> 3``."""
    return digest_to_field(H(TAG_ZK_ACCOUNT + lp(snapshot_id) + lp(bucket_id) + lp(account_id)))


def salt_field(salt: bytes) -> int:
    """``H(TAG("zk-salt") ‖ salt[32]) >> 3`` for a leaf salt or a padding seed (32 bytes)."""
    if len(salt) != SEED_LEN:
        raise ValueError(f"salt must be {SEED_LEN} bytes, got {len(salt)}")
    return digest_to_field(H(TAG_ZK_SALT + salt))


def field_to_bytes32(x: int) -> bytes:
    """A field element as 32 big-endian bytes (how a batch root enters the SHA-256 node preimage)."""
    return check_field_element(x, "field element").to_bytes(32, "big")


def bytes32_to_field(data: bytes) -> int:
    """Inverse of :func:`field_to_bytes32`: exactly 32 big-endian bytes of a value ``< p``."""
    if len(data) != 32:
        raise ValueError(f"a field element is 32 bytes, got {len(data)}")
    x = int.from_bytes(data, "big")
    if x >= P:
        raise ValueError("32-byte value is not a BN254 scalar field element (it is >= p)")
    return x


# ---------------------------------------------------------------- leaves

def check_u64_vector(values: Sequence[int], what: str, n: int | None = None,
                     limit: int = MAX_VALUES) -> tuple[int, ...]:
    """``values`` as a tuple of ``1..limit`` u64 integers (exactly ``n`` if given), else ``ValueError``."""
    values = tuple(values)
    if n is not None and len(values) != n:
        raise ValueError(f"{what} must hold {n} values, got {len(values)}")
    if not 1 <= len(values) <= limit:
        raise ValueError(f"{what} must hold 1..{limit} values, got {len(values)}")
    for a, v in enumerate(values):
        if not isinstance(v, int) or isinstance(v, bool):
            raise ValueError(f"{what}[{a}] must be an integer, not {type(v).__name__}")
        if not 0 <= v < U64_LIMIT:
            raise ValueError(f"{what}[{a}] = {v!r} is not a u64 (outside [0, 2^64))")
    return values


def leaf_hash(account: int, salt: int, values: Sequence[int]) -> int:
    """``Poseidon(account, salt, value_0, ..., value_{n-1})``; values must be u64, ``1 ≤ n ≤ 14``."""
    check_field_element(account, "account")
    check_field_element(salt, "salt")
    return poseidon((account, salt, *check_u64_vector(values, "values")))


def node_hash(left: int, right: int) -> int:
    """``Poseidon(left, right)``: the parent of two batch nodes."""
    return poseidon((left, right))


@dataclass(frozen=True)
class BatchLeaf:
    """One leaf of a batch: the circuit's private inputs for it (field elements and u64 values).

    ``values`` are the ``A`` balances of a ``Batch(k, A)`` leaf or the ``2A`` values ``E ‖ D`` of a
    ``BatchMargin(k, A)`` leaf (:meth:`por.zk.circuits.CircuitKind.join_values`).
    """

    account: int
    salt: int
    values: tuple[int, ...]

    def __post_init__(self) -> None:
        check_field_element(self.account, "account")
        check_field_element(self.salt, "salt")
        object.__setattr__(self, "values", check_u64_vector(self.values, "values"))

    @classmethod
    def for_account(
        cls, snapshot_id: str, bucket_id: str, account_id: str, salt: bytes, values: Sequence[int]
    ) -> BatchLeaf:
        """A real account's leaf from its ids, its 32-byte leaf salt and its values."""
        return cls(account_field(snapshot_id, bucket_id, account_id), salt_field(salt), tuple(values))

    @property
    def hash(self) -> int:
        return leaf_hash(self.account, self.salt, self.values)


def pad_leaf(seed: bytes, n_values: int) -> BatchLeaf:
    """A padding leaf: ``account = 0``, ``salt = salt_field(seed)``, ``n_values`` zero values."""
    return BatchLeaf(0, salt_field(seed), (0,) * n_values)


# ---------------------------------------------------------------- batches

def batch_height(n_leaves: int) -> int:
    """``k`` for a batch of ``n_leaves = 2^k`` leaves (``0 ≤ k ≤ MAX_K``), else ``ValueError``."""
    if n_leaves < 1 or n_leaves & (n_leaves - 1):
        raise ValueError(f"a batch has 2^k leaves, got {n_leaves}")
    k = n_leaves.bit_length() - 1
    if k > MAX_K:
        raise ValueError(f"batch height {k} exceeds {MAX_K}")
    return k


def batch_levels(leaf_hashes: Sequence[int]) -> list[list[int]]:
    """Every level of the batch tree: ``levels[0]`` the leaf hashes, ``levels[k] == [root]``.

    Node ``j`` of level ``l`` is ``node_hash(levels[l-1][2j], levels[l-1][2j+1])``.
    """
    batch_height(len(leaf_hashes))
    levels = [[check_field_element(h, f"leaf hash {i}") for i, h in enumerate(leaf_hashes)]]
    while len(levels[-1]) > 1:
        below = levels[-1]
        levels.append([node_hash(below[j], below[j + 1]) for j in range(0, len(below), 2)])
    return levels


def batch_root(leaves: Sequence[BatchLeaf]) -> int:
    """The Poseidon root of a batch of leaves."""
    return batch_levels([leaf.hash for leaf in leaves])[-1][0]


def batch_sums(leaves: Sequence[BatchLeaf]) -> list[int]:
    """Per-value integer sums of a batch; ``ValueError`` if value counts differ or a sum is ``≥ 2^64``."""
    n_values = leaf_values_count(leaves)
    sums = [sum(leaf.values[a] for leaf in leaves) for a in range(n_values)]
    for a, s in enumerate(sums):
        if s >= U64_LIMIT:
            raise ValueError(f"batch sum of value {a} is {s}, not below 2^64")
    return sums


def leaf_values_count(leaves: Sequence[BatchLeaf]) -> int:
    """The number of values every leaf of a batch holds (``ValueError`` unless ``2^k`` leaves agree)."""
    batch_height(len(leaves))
    counts = {len(leaf.values) for leaf in leaves}
    if len(counts) != 1:
        raise ValueError(f"leaves of one batch hold different numbers of values: {sorted(counts)}")
    return counts.pop()


def batch_path(levels: Sequence[Sequence[int]], index: int) -> list[int]:
    """The ``k`` sibling hashes of leaf ``index`` (leaf level first), from :func:`batch_levels`."""
    if not 0 <= index < len(levels[0]):
        raise ValueError(f"leaf index {index} outside the batch of {len(levels[0])}")
    return [levels[level][(index >> level) ^ 1] for level in range(len(levels) - 1)]


def root_from_path(leaf: int, index: int, path: Sequence[int]) -> int:
    """Climb ``path`` from ``leaf``: bit ``l`` of ``index`` set means the running node is a right child."""
    if not 0 <= index < (1 << len(path)):
        raise ValueError(f"leaf index {index} outside a batch of height {len(path)}")
    node = check_field_element(leaf, "leaf hash")
    for level, sibling in enumerate(path):
        check_field_element(sibling, f"sibling at level {level}")
        node = node_hash(sibling, node) if (index >> level) & 1 else node_hash(node, sibling)
    return node
