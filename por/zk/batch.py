"""Batch encodings of the zk mode (SPEC.md §16.3–§5): field elements, leaves, Poseidon levels.

A *batch* is ``2^k`` consecutive leaves of a bucket tree (the lowest ``k`` levels). Each leaf holds
``A`` balances (assets in canonical order, each a u64 of minor units) and two field elements:

* ``account = account_field(snapshot_id, bucket_id, account_id)``, public to the account holder;
* ``salt = salt_field(salt32)`` from the leaf's 32-byte salt (SPEC.md §3) or a padding seed.

Field reduction (both): ``int(H(TAG(name) ‖ ...)) >> 3``, the top 253 bits of a SHA-256 digest read
big-endian. ``2^253 < p``, so the result is always a field element, uniform on ``[0, 2^253)``; no
``mod p`` bias and nothing to reject. Every input byte is hashed.

``leaf = Poseidon(account, salt, balance_0, ..., balance_{A-1})`` (width ``A + 3``) and
``node = Poseidon(left, right)`` (width 3); since ``A ≥ 1`` the two never share a permutation, which
separates leaves from nodes. A padding leaf is ``account = 0``, ``salt = salt_field(seed)``,
balances all zero. ``batch_levels`` returns every level (leaves first) and the circuit proves the
same root together with the per-asset sums (public signals ``[root, sum_0, ..., sum_{A-1}]``).

Values outside their domain raise ``ValueError`` (programming errors of the caller, as in
:mod:`por.core.encoding`); :func:`verify_batch_proof` raises :class:`~por.core.errors.VerificationFailed`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from por.core.encoding import HASH_LEN, SEED_LEN, U64_LIMIT, H, lp, tag
from por.core.errors import VerificationFailed
from por.zk.poseidon import MAX_INPUTS, P, check_field_element, poseidon

if TYPE_CHECKING:
    from por.zk.groth16 import Proof, VerifyingKey

FIELD_SHIFT = 3
"""A digest becomes a field element as ``int.from_bytes(digest, "big") >> FIELD_SHIFT`` (253 bits)."""
MAX_ASSETS = MAX_INPUTS - 2
"""circomlib Poseidon takes at most 16 inputs: account, salt and at most 14 balances."""
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

def _check_balances(balances: Sequence[int]) -> tuple[int, ...]:
    if not 1 <= len(balances) <= MAX_ASSETS:
        raise ValueError(f"a leaf holds 1..{MAX_ASSETS} balances, got {len(balances)}")
    for a, v in enumerate(balances):
        if not isinstance(v, int) or isinstance(v, bool):
            raise ValueError(f"balance {a} must be an integer, not {type(v).__name__}")
        if not 0 <= v < U64_LIMIT:
            raise ValueError(f"balance {a} = {v} is outside [0, 2^64)")
    return tuple(balances)


def leaf_hash(account: int, salt: int, balances: Sequence[int]) -> int:
    """``Poseidon(account, salt, balance_0, ..., balance_{A-1})``; balances must be u64, ``1 ≤ A ≤ 14``."""
    check_field_element(account, "account")
    check_field_element(salt, "salt")
    return poseidon((account, salt, *_check_balances(balances)))


def node_hash(left: int, right: int) -> int:
    """``Poseidon(left, right)``: the parent of two batch nodes."""
    return poseidon((left, right))


@dataclass(frozen=True)
class BatchLeaf:
    """One leaf of a batch: the circuit's private inputs for it (field elements and u64 balances)."""

    account: int
    salt: int
    balances: tuple[int, ...]

    def __post_init__(self) -> None:
        check_field_element(self.account, "account")
        check_field_element(self.salt, "salt")
        object.__setattr__(self, "balances", _check_balances(tuple(self.balances)))

    @classmethod
    def for_account(
        cls, snapshot_id: str, bucket_id: str, account_id: str, salt: bytes, balances: Sequence[int]
    ) -> BatchLeaf:
        """A real account's leaf from its ids, its 32-byte leaf salt and its balances."""
        return cls(account_field(snapshot_id, bucket_id, account_id), salt_field(salt), tuple(balances))

    @property
    def hash(self) -> int:
        return leaf_hash(self.account, self.salt, self.balances)


def pad_leaf(seed: bytes, n_assets: int) -> BatchLeaf:
    """A padding leaf: ``account = 0``, ``salt = salt_field(seed)``, ``n_assets`` zero balances."""
    return BatchLeaf(0, salt_field(seed), (0,) * n_assets)


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
    """Per-asset integer sums of a batch; ``ValueError`` if assets differ or a sum is ``≥ 2^64``."""
    n_assets = _n_assets(leaves)
    sums = [sum(leaf.balances[a] for leaf in leaves) for a in range(n_assets)]
    for a, s in enumerate(sums):
        if s >= U64_LIMIT:
            raise ValueError(f"batch sum of asset {a} is {s}, not below 2^64")
    return sums


def _n_assets(leaves: Sequence[BatchLeaf]) -> int:
    batch_height(len(leaves))
    counts = {len(leaf.balances) for leaf in leaves}
    if len(counts) != 1:
        raise ValueError(f"leaves of one batch hold different numbers of assets: {sorted(counts)}")
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


# ---------------------------------------------------------------- circuit interface

def witness_input(leaves: Sequence[BatchLeaf]) -> dict[str, list]:
    """The circuit's input JSON object: ``account[N]``, ``salt[N]``, ``balance[N][A]`` as decimal strings."""
    _n_assets(leaves)
    return {
        "account": [str(leaf.account) for leaf in leaves],
        "salt": [str(leaf.salt) for leaf in leaves],
        "balance": [[str(v) for v in leaf.balances] for leaf in leaves],
    }


def public_signals(root: int, sums: Sequence[int]) -> list[int]:
    """The batch circuit's public signals in order: ``[root, sum_0, ..., sum_{A-1}]``."""
    check_field_element(root, "root")
    for a, s in enumerate(sums):
        if not isinstance(s, int) or isinstance(s, bool) or not 0 <= s < U64_LIMIT:
            raise ValueError(f"sum {a} = {s!r} is not a u64")
    return [root, *sums]


def verify_batch_proof(vk: VerifyingKey, proof: Proof, root: int, sums: Sequence[int]) -> None:
    """Check a Groth16 batch proof for the claimed ``root`` and per-asset ``sums``.

    ``vk`` is a :class:`por.zk.groth16.VerifyingKey` of the ``Batch(k, A)`` circuit with
    ``A = len(sums)`` (so ``1 + A`` public inputs), ``proof`` a :class:`por.zk.groth16.Proof`.
    Raises :class:`~por.core.errors.VerificationFailed` naming the failed check.
    """
    from por.zk.groth16 import verify  # local import: groth16 pulls in py_ecc

    signals = public_signals(root, sums)
    try:
        verify(vk, proof, signals)
    except VerificationFailed as exc:
        claim = f"batch root {field_to_bytes32(root).hex()} with sums {list(sums)}"
        raise VerificationFailed(f"{exc.reason} (claimed {claim})", where="zk batch proof") from None


# ---------------------------------------------------------------- margin batches (BatchMargin)
#
# A margin leaf (SPEC.md §17.5: equity E and debt D per asset, each a u64 of minor units) is
#
#     leaf = Poseidon(account, salt, E_0, ..., E_{A-1}, D_0, ..., D_{A-1})   -- n = 2 + 2A, width 2A + 3
#
# so 1 <= A <= 7 (circomlib Poseidon takes at most 16 inputs); width >= 5 keeps leaves apart from the
# width-3 nodes. The tree above the leaves is :func:`batch_levels` unchanged. circuits/batch_margin.circom
# (``BatchMargin(k, A)``) proves the root, the per-asset equity and debt sums and, for every leaf, the
# per-account rule with the BASE haircut: ``value_base = Σ f_eq[a]·E_a − Σ f_debt[a]·D_a ≥ 0`` for
# the public factors ``f_eq``, ``f_debt`` of SPEC.md §17.3 (each < 2^64). Tiers are not enforced in
# the circuit (value_tiered ≤ value_base; the tiered rule is checked at build and audit time).
# Public signals: ``[root, equity_sum[0..A-1], debt_sum[0..A-1], f_eq[0..A-1], f_debt[0..A-1]]``.

MARGIN_MAX_ASSETS = (MAX_INPUTS - 2) // 2
"""circomlib Poseidon takes at most 16 inputs: account, salt, A equities and A debts, so A ≤ 7."""


def _check_u64_vector(values: Sequence[int], what: str, n: int | None = None,
                      limit: int = MARGIN_MAX_ASSETS) -> tuple[int, ...]:
    values = tuple(values)
    if n is not None and len(values) != n:
        raise ValueError(f"{what} must hold {n} values, got {len(values)}")
    if not 1 <= len(values) <= limit:
        raise ValueError(f"{what} must hold 1..{limit} values, got {len(values)}")
    for a, v in enumerate(values):
        if not isinstance(v, int) or isinstance(v, bool):
            raise ValueError(f"{what}[{a}] must be an integer, not {type(v).__name__}")
        if not 0 <= v < U64_LIMIT:
            raise ValueError(f"{what}[{a}] = {v} is outside [0, 2^64)")
    return values


def margin_leaf_hash(account: int, salt: int, equity: Sequence[int], debt: Sequence[int]) -> int:
    """``Poseidon(account, salt, E_0, ..., E_{A-1}, D_0, ..., D_{A-1})``; u64 values, ``1 ≤ A ≤ 7``."""
    check_field_element(account, "account")
    check_field_element(salt, "salt")
    eq = _check_u64_vector(equity, "equity")
    de = _check_u64_vector(debt, "debt", len(eq))
    return poseidon((account, salt, *eq, *de))


@dataclass(frozen=True)
class MarginLeaf:
    """One leaf of a margin batch: field elements ``account``, ``salt`` and u64 ``equity`` / ``debt``."""

    account: int
    salt: int
    equity: tuple[int, ...]
    debt: tuple[int, ...]

    def __post_init__(self) -> None:
        check_field_element(self.account, "account")
        check_field_element(self.salt, "salt")
        eq = _check_u64_vector(self.equity, "equity")
        object.__setattr__(self, "equity", eq)
        object.__setattr__(self, "debt", _check_u64_vector(self.debt, "debt", len(eq)))

    @classmethod
    def for_account(cls, snapshot_id: str, bucket_id: str, account_id: str, salt: bytes,
                    equity: Sequence[int], debt: Sequence[int]) -> MarginLeaf:
        """A real account's leaf from its ids, its 32-byte leaf salt, its equity and its debt."""
        return cls(account_field(snapshot_id, bucket_id, account_id), salt_field(salt), tuple(equity), tuple(debt))

    @property
    def assets(self) -> int:
        return len(self.equity)

    @property
    def hash(self) -> int:
        return margin_leaf_hash(self.account, self.salt, self.equity, self.debt)


def pad_margin_leaf(seed: bytes, n_assets: int) -> MarginLeaf:
    """A padding margin leaf: ``account = 0``, ``salt = salt_field(seed)``, all equity and debt zero."""
    return MarginLeaf(0, salt_field(seed), (0,) * n_assets, (0,) * n_assets)


def _check_factors(f_eq: Sequence[int], f_debt: Sequence[int], n_assets: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    return (_check_u64_vector(f_eq, "f_eq", n_assets), _check_u64_vector(f_debt, "f_debt", n_assets))


def margin_value_base(leaf: MarginLeaf, f_eq: Sequence[int], f_debt: Sequence[int]) -> int:
    """``Σ f_eq[a]·E_a − Σ f_debt[a]·D_a`` (SPEC.md §17.4), an exact integer; the circuit requires ``≥ 0``."""
    fe, fd = _check_factors(f_eq, f_debt, leaf.assets)
    return sum(f * e for f, e in zip(fe, leaf.equity)) - sum(f * d for f, d in zip(fd, leaf.debt))


def _n_margin_assets(leaves: Sequence[MarginLeaf]) -> int:
    batch_height(len(leaves))
    if any(not isinstance(leaf, MarginLeaf) for leaf in leaves):
        raise ValueError("every leaf of a margin batch must be a MarginLeaf")
    counts = {leaf.assets for leaf in leaves}
    if len(counts) != 1:
        raise ValueError(f"leaves of one batch hold different numbers of assets: {sorted(counts)}")
    return counts.pop()


def margin_batch_root(leaves: Sequence[MarginLeaf]) -> int:
    """The Poseidon root of a margin batch (leaf hashes :func:`margin_leaf_hash`, nodes as ever)."""
    _n_margin_assets(leaves)
    return batch_levels([leaf.hash for leaf in leaves])[-1][0]


def margin_batch_sums(leaves: Sequence[MarginLeaf]) -> tuple[list[int], list[int]]:
    """``(equity_sums, debt_sums)`` per asset; ``ValueError`` if a sum is ``≥ 2^64``."""
    n_assets = _n_margin_assets(leaves)
    eq = [sum(leaf.equity[a] for leaf in leaves) for a in range(n_assets)]
    de = [sum(leaf.debt[a] for leaf in leaves) for a in range(n_assets)]
    for what, sums in (("equity", eq), ("debt", de)):
        for a, s in enumerate(sums):
            if s >= U64_LIMIT:
                raise ValueError(f"batch {what} sum of asset {a} is {s}, not below 2^64")
    return eq, de


def margin_witness_input(leaves: Sequence[MarginLeaf], f_eq: Sequence[int],
                         f_debt: Sequence[int]) -> dict[str, list]:
    """``BatchMargin``'s input JSON object (decimal strings): ``account[N]``, ``salt[N]``,
    ``equity[N][A]``, ``debt[N][A]``, ``f_eq[A]``, ``f_debt[A]``.

    The per-account rule is *not* checked here: a leaf with ``value_base < 0`` yields an input for
    which the circuit cannot compute a witness (that is what the circuit is for).
    """
    n_assets = _n_margin_assets(leaves)
    fe, fd = _check_factors(f_eq, f_debt, n_assets)
    return {
        "account": [str(leaf.account) for leaf in leaves],
        "salt": [str(leaf.salt) for leaf in leaves],
        "equity": [[str(v) for v in leaf.equity] for leaf in leaves],
        "debt": [[str(v) for v in leaf.debt] for leaf in leaves],
        "f_eq": [str(v) for v in fe],
        "f_debt": [str(v) for v in fd],
    }


def margin_public_signals(root: int, equity_sums: Sequence[int], debt_sums: Sequence[int],
                          f_eq: Sequence[int], f_debt: Sequence[int]) -> list[int]:
    """``BatchMargin``'s public signals in order (outputs, then public inputs):
    ``[root, equity_sum_0..A-1, debt_sum_0..A-1, f_eq_0..A-1, f_debt_0..A-1]``."""
    check_field_element(root, "root")
    eq = _check_u64_vector(equity_sums, "equity_sums")
    n = len(eq)
    de = _check_u64_vector(debt_sums, "debt_sums", n)
    fe, fd = _check_factors(f_eq, f_debt, n)
    return [root, *eq, *de, *fe, *fd]


def split_margin_public(public: Sequence[int]) -> tuple[int, list[int], list[int], list[int], list[int]]:
    """Inverse of :func:`margin_public_signals`: ``(root, equity_sums, debt_sums, f_eq, f_debt)``."""
    if len(public) < 5 or (len(public) - 1) % 4:
        raise ValueError(f"a margin batch has 1 + 4A public signals, got {len(public)}")
    a = (len(public) - 1) // 4
    p = list(public)
    return p[0], p[1 : 1 + a], p[1 + a : 1 + 2 * a], p[1 + 2 * a : 1 + 3 * a], p[1 + 3 * a :]


def verify_margin_batch_proof(vk: VerifyingKey, proof: Proof, root: int, equity_sums: Sequence[int],
                              debt_sums: Sequence[int], f_eq: Sequence[int], f_debt: Sequence[int]) -> None:
    """Check a Groth16 ``BatchMargin`` proof for the claimed root, sums and public factors.

    ``vk`` has ``1 + 4A`` public inputs. A valid proof shows every leaf of the batch satisfies
    ``value_base ≥ 0`` under exactly these ``f_eq``, ``f_debt`` (the verifier must take them from the
    snapshot's published margin parameters, SPEC.md §17.3, never from the prover's proof file).
    Raises :class:`~por.core.errors.VerificationFailed` naming the failed check.
    """
    from por.zk.groth16 import verify  # local import: groth16 pulls in py_ecc

    signals = margin_public_signals(root, equity_sums, debt_sums, f_eq, f_debt)
    try:
        verify(vk, proof, signals)
    except VerificationFailed as exc:
        claim = (f"margin batch root {field_to_bytes32(root).hex()} with equity sums {list(equity_sums)}, "
                 f"debt sums {list(debt_sums)}, f_eq {list(f_eq)}, f_debt {list(f_debt)}")
        raise VerificationFailed(f"{exc.reason} (claimed {claim})", where="zk margin batch proof") from None
