"""Pedersen commitments and the Bulletproofs generators (SPEC.md §14 §2).

``G`` is the standard secp256k1 base point. Every other generator is derived by
hashing to the curve (try-and-increment), so nobody knows a discrete-log
relation between any two of them::

    x = int(H(TAG("gen") || lp(label) || u32(index) || u32(counter)))   # big-endian
    first counter = 0, 1, 2, ... with x < P and x^3 + 7 a square mod P;
    the generator is the point (x, y) with y even (compressed 02 || x).

Labels: ``"pedersen/H"`` (index 0) for the blinding generator ``H``;
``"bulletproofs/G"`` and ``"bulletproofs/H"`` (index i = 0, 1, ...) for the
vectors ``G_i`` and ``H_i``. ``commit(v, r) = v*G + r*H``.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from por.core.encoding import H as sha256
from por.core.encoding import lp, tag, u32
from por.core.errors import BadInput, VerificationFailed
from por.crypto.group import G, N, P, Point, mul_add_base, mul_add_base_many

TAG_GEN = tag("gen")

LABEL_H = "pedersen/H"
LABEL_G_VEC = "bulletproofs/G"
LABEL_H_VEC = "bulletproofs/H"


def hash_to_curve(label: str, index: int) -> Point:
    """The generator for ``(label, index)`` by try-and-increment (see module docstring)."""
    prefix = TAG_GEN + lp(label) + u32(index)
    counter = 0
    while True:
        x = int.from_bytes(sha256(prefix + u32(counter)), "big")
        if x < P:
            try:
                return Point.from_bytes(b"\x02" + x.to_bytes(32, "big"))
            except BadInput:
                pass  # x^3 + 7 is not a square: try the next counter
        counter += 1


H = hash_to_curve(LABEL_H, 0)
"""The blinding generator of Pedersen commitments."""

__all__ = ["G", "H", "add_commitments", "commit", "commit_many", "generators", "hash_to_curve", "parse_commitment"]


def commit(v: int, r: int) -> Point:
    """Pedersen commitment ``v*G + r*H`` with ``v`` and ``r`` in ``[0, N)``.

    Returns the point at infinity for ``v = r = 0`` (which has no encoding).
    """
    for name, s in (("value", v), ("blinding", r)):
        if not isinstance(s, int) or isinstance(s, bool) or not 0 <= s < N:
            raise ValueError(f"commitment {name} must be an integer in [0, N)")
    return mul_add_base(r, H, v)


def commit_many(values: Sequence[int], blindings: Sequence[int]) -> list[Point]:
    """``[commit(v, r) for v, r in zip(values, blindings)]``, faster for long lists (fixed-base tables)."""
    if len(values) != len(blindings):
        raise ValueError("values and blindings differ in length")
    for name, seq in (("value", values), ("blinding", blindings)):
        for s in seq:
            if not isinstance(s, int) or isinstance(s, bool) or not 0 <= s < N:
                raise ValueError(f"commitment {name} must be an integer in [0, N)")
    return mul_add_base_many(blindings, H, values)


def parse_commitment(data: bytes, *, where: str = "commitment") -> Point:
    """A 33-byte compressed point (never the point at infinity); :class:`BadInput` otherwise."""
    try:
        return Point.from_bytes(data)
    except BadInput as exc:
        raise BadInput(f"{where}: {exc.reason}") from None


def add_commitments(left: Sequence[bytes], right: Sequence[bytes], *, where: str = "node") -> tuple[bytes, ...]:
    """Per-value sum of two commitment vectors (33-byte encodings in, 33-byte encodings out).

    A parent's commitments in a hiding-mode tree; a sum at infinity cannot be encoded and fails.
    """
    out = []
    for a, b in zip(left, right, strict=True):
        s = Point.from_bytes(a) + Point.from_bytes(b)
        if s.is_identity:
            raise VerificationFailed("a node commitment is the point at infinity", where=where)
        out.append(s.to_bytes())
    return tuple(out)


_lock = threading.Lock()
_g_vec: list[Point] = []
_h_vec: list[Point] = []


def generators(n: int) -> tuple[list[Point], list[Point]]:
    """The first ``n`` Bulletproofs generators ``(G_0..G_{n-1}, H_0..H_{n-1})``.

    Derived lazily and cached for the life of the process (the cache only ever
    grows); the returned lists are fresh copies.
    """
    if not isinstance(n, int) or n < 0:
        raise ValueError("generator count must be a non-negative integer")
    with _lock:
        for i in range(len(_g_vec), n):
            _g_vec.append(hash_to_curve(LABEL_G_VEC, i))
            _h_vec.append(hash_to_curve(LABEL_H_VEC, i))
        return _g_vec[:n], _h_vec[:n]
