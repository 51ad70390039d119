"""Hiding mode's committed tree levels (SPEC.md §15.1–§15.2).

In hiding mode every node of a bucket tree carries, per asset, a Pedersen
commitment ``C = v*G + r*H`` instead of a plain sum. A leaf's blinding factors
come from the master secret (:func:`por.core.keys.blinding_factors`, keyed by the
leaf salt or the padding seed); a parent's commitment is the sum of its
children's, so its value and blinding are the sums of theirs.

:func:`commit_levels` computes the commitments and blinding sums of every level
of one bucket tree. Large trees are split into aligned blocks (complete
subtrees) that worker processes commit in parallel; the result does not depend
on the split. This module also holds the byte-level helpers that add
commitment vectors (used by the top tree and by verifiers).

Margin snapshots in hiding mode (format version 2, ``build/margin-hiding-spec.md``):
every node commits to ``2A`` values, equity then debt per asset. Slot ``u`` of a
leaf gets the blinding ``r_u(seed)`` with ``u16(u)`` (so the equity slots are the
version 1 ones), except in a bucket without ``allow_debt``, whose debt slots use
the *public* blinding 1 (``fixed_blindings``): there every node's debt commitment
is ``2^level * H``, which anyone can check is a commitment to zero. The
collateral-value commitment of a node, ``C_V = sum_a f_eq[a]*C_E[a] - f_debt[a]*C_D[a]``,
is derived from its commitments by :func:`collateral_commitment`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
import multiprocessing

import numpy as np

from por.core.encoding import POINT_LEN, SCALAR_LEN, scalars_bytes
from por.crypto.group import N, Point, multiscalar_mul, pairwise_sums
from por.core.keys import Prf, blinding_factors
from por.crypto.pedersen import H, commit, commit_many

TOP_PAD_BLINDING = 1
"""Top-tree padding leaves commit to 0 with this public blinding (the commitment is ``H``)."""

PARALLEL_MIN_LEAVES = 1 << 13
"""Trees with fewer leaves are committed in-process (starting workers costs more than it saves)."""

_SPLIT_LEVELS = 4  # a parallel build cuts the tree into 2^4 aligned blocks

Progress = Callable[[int], None]


@dataclass
class CommittedLevel:
    """One level's commitments ``(nodes, 33*A)`` uint8 and blinding sums ``(nodes, 32*A)`` uint8 (big-endian)."""

    commits: np.ndarray
    blinds: np.ndarray


def top_pad_commitments(n_assets: int) -> tuple[bytes, ...]:
    """The commitment vector of a top-tree padding leaf: ``commit(0, 1) = H`` for every asset."""
    return (H.to_bytes(),) * n_assets


def _encode_points(points: Sequence[Point]) -> bytes:
    try:
        return b"".join([p.to_bytes() for p in points])
    except ValueError:  # pragma: no cover - needs a discrete-log relation between G and H
        raise RuntimeError("a node commitment is the point at infinity; rebuild with another secret") from None


def _parents(items: list, n_assets: int) -> list:
    """Reorder a level laid out ``[node][asset]`` into left/right pairs, asset by asset."""
    out = []
    step = 2 * n_assets
    for base in range(0, len(items), step):
        for a in range(n_assets):
            out.append(items[base + a])
            out.append(items[base + n_assets + a])
    return out


def _next_level(points: list[Point], rs: list[int], n_assets: int) -> tuple[list[Point], list[int]]:
    """The parents of one level: commitments added as points, blinding sums added mod N."""
    pr = _parents(rs, n_assets)
    return pairwise_sums(_parents(points, n_assets)), [(pr[i] + pr[i + 1]) % N for i in range(0, len(pr), 2)]


Fixed = tuple[int | None, ...] | None
"""Per slot: ``None`` (blinding derived from the leaf seed) or a public blinding used for every leaf."""


def _leaf_blindings(prf: Prf, seed: bytes, n_slots: int, fixed: Fixed) -> list[int]:
    """The blinding of each slot of one leaf: ``r_u(seed)`` (SPEC.md §15.1 with ``u16(u)``) or the fixed one."""
    if fixed is None:
        return blinding_factors(prf, seed, n_slots, N)
    m = N - 1
    return [1 + int.from_bytes(prf(seed + u.to_bytes(2, "big")), "big") % m if f is None else f
            for u, f in enumerate(fixed)]


def _commit_block(task: tuple[bytes, bytes, bytes, int, Fixed]) -> list[tuple[bytes, bytes]]:
    """Worker: commitments and blinding sums of every level of one aligned block of leaves.

    ``task`` is ``(k_blinding, seeds, values, A, fixed)``: the leaves' 32-byte seeds (salt or
    padding seed) concatenated, their values as native uint64 ``[leaf][slot]``, the number of
    slots per node and the fixed public blindings (or None).
    Returns ``(commits, blinds)`` bytes per level, the block's leaves first.
    """
    key, seeds, values, n_assets, fixed = task
    prf = Prf(key, "sha512")
    vals = np.frombuffer(values, dtype=np.uint64).tolist()
    count = len(seeds) // 32
    rs: list[int] = []
    for i in range(count):
        rs += _leaf_blindings(prf, seeds[32 * i : 32 * i + 32], n_assets, fixed)
    points = commit_many(vals, rs)
    levels = [(_encode_points(points), scalars_bytes(rs))]
    while len(points) > n_assets:
        points, rs = _next_level(points, rs, n_assets)
        levels.append((_encode_points(points), scalars_bytes(rs)))
    return levels


def commit_levels(
    blinding_key: bytes,
    seeds: bytes,
    values: np.ndarray,
    *,
    jobs: int | None = None,
    progress: Progress | None = None,
    fixed_blindings: Fixed = None,
) -> list[CommittedLevel]:
    """Commitments and blinding sums of every level of a bucket tree, leaves (level 0) to root.

    ``seeds`` holds the 32-byte seed of each leaf *in position order*; ``values`` is the
    ``(2^h, A)`` uint64 array of leaf values in the same order. ``jobs`` worker
    processes (default: all cores) share the work when the tree is large.
    ``progress`` is called with the number of nodes done. ``fixed_blindings`` (one entry
    per slot) replaces the derived blinding of a slot by a public one in every leaf.
    """
    capacity, n_assets = values.shape
    if len(seeds) != 32 * capacity or capacity & (capacity - 1):
        raise ValueError("seeds and values must describe 2^h leaves")
    if fixed_blindings is not None:
        fixed_blindings = tuple(fixed_blindings)
        if len(fixed_blindings) != n_assets or any(f is not None and not 0 < f < N for f in fixed_blindings):
            raise ValueError("fixed_blindings must give one blinding in [1, N) or None per slot")
    height = capacity.bit_length() - 1
    jobs = jobs or os.cpu_count() or 1
    split = min(height, _SPLIT_LEVELS) if jobs > 1 and capacity >= PARALLEL_MIN_LEAVES else 0
    block = capacity >> split
    tasks = [
        (blinding_key, seeds[32 * i : 32 * (i + block)], np.ascontiguousarray(values[i : i + block]).tobytes(),
         n_assets, fixed_blindings)
        for i in range(0, capacity, block)
    ]
    results: list[list[tuple[bytes, bytes]]] = []
    if split:
        ctx = multiprocessing.get_context("spawn")  # no fork: the caller may run threads (progress bars)
        with ProcessPoolExecutor(max_workers=min(jobs, len(tasks)), mp_context=ctx) as pool:
            for res in pool.map(_commit_block, tasks):
                results.append(res)
                if progress:
                    progress(2 * block - 1)
    else:
        results = [_commit_block(t) for t in tasks]
        if progress:
            progress(2 * capacity - 1)

    width_c, width_b = POINT_LEN * n_assets, SCALAR_LEN * n_assets
    levels = []
    for lvl in range(height - split + 1):
        c = b"".join(r[lvl][0] for r in results)
        b = b"".join(r[lvl][1] for r in results)
        levels.append(CommittedLevel(np.frombuffer(c, dtype=np.uint8).reshape(-1, width_c),
                                     np.frombuffer(b, dtype=np.uint8).reshape(-1, width_b)))
    levels += upper_committed_levels(levels[-1], n_assets)  # the top `split` levels, from the blocks' roots
    if progress and split:
        progress((1 << split) - 1)
    return levels


def upper_committed_levels(level: CommittedLevel, n_assets: int) -> list[CommittedLevel]:
    """The levels above ``level`` up to a single node: commitments added as points, blinding sums mod N."""
    width_c, width_b = POINT_LEN * n_assets, SCALAR_LEN * n_assets
    points = [Point.from_bytes(level.commits[i, POINT_LEN * a : POINT_LEN * (a + 1)].tobytes())
              for i in range(len(level.commits)) for a in range(n_assets)]
    raw = level.blinds.tobytes()
    rs = [int.from_bytes(raw[i : i + SCALAR_LEN], "big") for i in range(0, len(raw), SCALAR_LEN)]
    out = []
    while len(points) > n_assets:
        points, rs = _next_level(points, rs, n_assets)
        out.append(CommittedLevel(np.frombuffer(_encode_points(points), dtype=np.uint8).reshape(-1, width_c),
                                  np.frombuffer(scalars_bytes(rs), dtype=np.uint8).reshape(-1, width_b)))
    return out


# ---------------------------------------------------------------- margin accounts (version 2, hiding mode)

NO_DEBT_BLINDING = 1
"""Public blinding of every leaf's debt slots in a bucket without ``allow_debt`` (its debts are all zero)."""

_zero_debt_cache: dict[int, bytes] = {}


def zero_debt_commitment(level: int) -> bytes:
    """The debt commitment of every node at ``level`` of a bucket without ``allow_debt``: ``(2^level mod N)*H``.

    Such a bucket's leaves commit to debt 0 with the public blinding 1, so a node that
    sums ``2^level`` leaves commits to 0 with blinding ``2^level``: anyone can check it.
    """
    if level not in _zero_debt_cache:
        _zero_debt_cache[level] = commit(0, pow(2, level, N)).to_bytes()
    return _zero_debt_cache[level]


def no_debt_fixed_blindings(n_assets: int) -> tuple[int | None, ...]:
    """``fixed_blindings`` of a margin bucket without ``allow_debt``: equity slots derived, debt slots 1."""
    return (None,) * n_assets + (NO_DEBT_BLINDING,) * n_assets


def collateral_commitment(vector: Sequence[bytes] | Sequence[Point], f_eq: Sequence[int],
                          f_debt: Sequence[int]) -> Point:
    """``C_V = sum_a f_eq[a]*C_E[a] + (N - f_debt[a])*C_D[a]`` of a node's ``2A`` commitments (equity ‖ debt).

    It commits to the node's collateral value ``V = sum_a f_eq[a]*E_a - f_debt[a]*D_a`` (mod N) with
    blinding ``sum_a f_eq[a]*r_E[a] - f_debt[a]*r_D[a]`` (mod N); see :func:`collateral_opening`.
    May be the point at infinity (e.g. a top-tree padding node when no asset has a haircut).
    """
    n = len(f_eq)
    if len(vector) != 2 * n or len(f_debt) != n:
        raise ValueError("a margin node has 2A commitments (equity then debt) and A factors of each kind")
    points = [c if isinstance(c, Point) else Point.from_bytes(bytes(c)) for c in vector]
    scalars = [f % N for f in f_eq] + [(-f) % N for f in f_debt]
    return multiscalar_mul(scalars, points)


def collateral_opening(values: Sequence[int], blinds: Sequence[int], f_eq: Sequence[int],
                       f_debt: Sequence[int]) -> tuple[int, int]:
    """The opening ``(V, rho)`` of :func:`collateral_commitment`: ``V`` the exact (signed) integer value."""
    n = len(f_eq)
    if len(values) != 2 * n or len(blinds) != 2 * n:
        raise ValueError("a margin node has 2A values and 2A blindings")
    value = sum(f * v for f, v in zip(f_eq, values[:n])) - sum(f * v for f, v in zip(f_debt, values[n:]))
    rho = (sum(f * r for f, r in zip(f_eq, blinds[:n])) - sum(f * r for f, r in zip(f_debt, blinds[n:]))) % N
    return value, rho


__all__ = [
    "CommittedLevel",
    "PARALLEL_MIN_LEAVES",
    "TOP_PAD_BLINDING",
    "NO_DEBT_BLINDING",
    "collateral_commitment",
    "collateral_opening",
    "commit_levels",
    "no_debt_fixed_blindings",
    "top_pad_commitments",
    "zero_debt_commitment",
]
