"""The secp256k1 group behind one small interface, with two interchangeable backends.

* ``coincurve`` (default): libsecp256k1 through coincurve's cffi bindings. Fast.
* ``py_ecc``: :mod:`py_ecc.secp256k1`, pure Python. A slow reference used to cross-check.

A :class:`Point` is a *value* (an affine point or the point at infinity), not a
backend object: it can be created under one backend and used under the other,
and the backend only decides *how* arithmetic is computed. Select it with
:func:`set_backend`, the :func:`use_backend` context manager, or the
environment variable ``POR_GROUP_BACKEND`` (``coincurve`` or ``py_ecc``) read
at import.

Scalars are plain Python ``int`` values; arithmetic on them is modulo the group
order :data:`N`. Encodings (SPEC.md §14 §1):

* scalar: 32-byte big-endian, canonical (``< N``);
* point: 33-byte compressed SEC1 (``02``/``03`` by parity of y, then x); the
  point at infinity has no encoding and is never accepted from bytes.

libsecp256k1 refuses to produce the point at infinity (``P + (-P)``, ``0·P``);
:class:`Point` represents it explicitly as :meth:`Point.identity`.

This module is the interface: scalars, backend selection, and the operations on
many points. The curve constants and :class:`Point` live in
:mod:`por.crypto.group_point`, the backends in :mod:`por.crypto.group_coincurve`
(with the libsecp256k1 handles of :mod:`por.crypto.group_ffi`) and
:mod:`por.crypto.group_pyecc`; their public names are re-exported here.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator, Sequence

from por.core.errors import BadInput
from por.crypto import group_point as _point
from por.crypto.group_coincurve import _CoincurveBackend, _cc_msm_pippenger, _cc_of, _choose_window
from por.crypto.group_ffi import _HAVE_COINCURVE
from por.crypto.group_point import _IDENTITY, POINT_LEN, SCALAR_LEN, G, N, P, Point, _sqrt_mod_p
from por.crypto.group_pyecc import _PyEccBackend

# ---------------------------------------------------------------- scalars


def scalar_from_bytes(data: bytes) -> int:
    """Decode a 32-byte big-endian scalar; non-canonical encodings (``>= N``) are rejected."""
    if not isinstance(data, (bytes, bytearray)) or len(data) != SCALAR_LEN:
        raise BadInput(f"a scalar must be {SCALAR_LEN} bytes")
    s = int.from_bytes(data, "big")
    if s >= N:
        raise BadInput("non-canonical scalar (not below the group order)")
    return s


def scalar_to_bytes(s: int) -> bytes:
    """Encode a scalar in ``[0, N)`` as 32 bytes big-endian."""
    if not isinstance(s, int) or isinstance(s, bool) or not 0 <= s < N:
        raise ValueError("scalar out of range [0, N)")
    return s.to_bytes(SCALAR_LEN, "big")


def random_scalar() -> int:
    """A uniformly random non-zero scalar from the OS CSPRNG."""
    return secrets.randbelow(N - 1) + 1


def scalar_inv(s: int) -> int:
    """Multiplicative inverse modulo ``N``; ``ValueError`` for zero."""
    s %= N
    if s == 0:
        raise ValueError("zero has no inverse")
    return pow(s, -1, N)


def batch_inv(values: Sequence[int]) -> list[int]:
    """Inverses of many non-zero scalars with one modular inversion (Montgomery's trick)."""
    acc = 1
    prefix = []
    for v in values:
        if v % N == 0:
            raise ValueError("zero has no inverse")
        prefix.append(acc)
        acc = acc * v % N
    inv = pow(acc, -1, N)
    out = [0] * len(values)
    for i in range(len(values) - 1, -1, -1):
        out[i] = prefix[i] * inv % N
        inv = inv * values[i] % N
    return out


def _canonical_scalar(s: int) -> int:
    if not isinstance(s, int) or isinstance(s, bool):
        raise TypeError(f"a scalar must be an int, not {type(s).__name__}")
    return s % N


def _unpickle(enc: bytes | None) -> Point:
    return _IDENTITY if enc is None else Point.from_bytes(enc)


_point._unpickle = _unpickle  # Point.__reduce__: unpickling a point imports this module, which selects the backend


# ---------------------------------------------------------------- backend selection and MSM

BACKENDS = ("coincurve", "py_ecc")
_BACKENDS = {"coincurve": _CoincurveBackend, "py_ecc": _PyEccBackend}
_point._backend = _CoincurveBackend


def set_backend(name: str) -> None:
    """Select the arithmetic backend: ``"coincurve"`` (default) or ``"py_ecc"``."""
    if name not in _BACKENDS:
        raise ValueError(f"unknown group backend {name!r} (expected one of {', '.join(BACKENDS)})")
    if name == "coincurve" and not _HAVE_COINCURVE:  # pragma: no cover
        raise ValueError("the coincurve backend is not available (coincurve is not installed)")
    _point._backend = _BACKENDS[name]


def get_backend() -> str:
    """Name of the active backend."""
    return _point._backend.name


@contextlib.contextmanager
def use_backend(name: str) -> Iterator[None]:
    """Context manager running its body with another backend, then restoring the previous one."""
    previous = get_backend()
    set_backend(name)
    try:
        yield
    finally:
        set_backend(previous)


def multiscalar_mul(scalars: Sequence[int], points: Sequence[Point]) -> Point:
    """``sum_i scalars[i] * points[i]`` (scalars taken modulo N).

    Zero scalars and identity points are skipped. The coincurve backend uses
    one ``combine()`` of the products for small inputs and Pippenger's bucket
    method (every bucket summed inside libsecp256k1) for large ones.
    """
    if len(scalars) != len(points):
        raise ValueError("multiscalar_mul: scalars and points differ in length")
    ss: list[int] = []
    ps: list[Point] = []
    for s, p in zip(scalars, points):
        s = _canonical_scalar(s)
        if s and not p._inf:
            ss.append(s)
            ps.append(p)
    if not ss:
        return _IDENTITY
    return _point._backend.msm(ss, ps)


def sum_points(points: Sequence[Point]) -> Point:
    """``sum_i points[i]`` (one ``combine()`` call on the coincurve backend)."""
    return _point._backend.sum(list(points))


def fold_points(lo: Sequence[Point], hi: Sequence[Point], s: int) -> list[Point]:
    """``[lo[i] + s*hi[i] for each i]`` with one scalar ``s`` (the inner-product argument's folding step)."""
    if len(lo) != len(hi):
        raise ValueError("fold_points: vectors differ in length")
    s = _canonical_scalar(s)
    if s == 0:
        return list(lo)
    return _point._backend.fold(lo, hi, s)


def mul_add_base(s: int, a: Point, t: int) -> Point:
    """``s*a + t*G`` (scalars modulo N): one variable-base and one fixed-base multiplication.

    The fast path of a Pedersen commitment ``r*H + v*G`` (libsecp256k1's
    ``tweak_mul`` then ``tweak_add`` on the coincurve backend).
    """
    return _point._backend.mul_add_base(_canonical_scalar(s), a, _canonical_scalar(t))


def mul_add_base_many(ss: Sequence[int], a: Point, ts: Sequence[int]) -> list[Point]:
    """``[s*a + t*G for s, t in zip(ss, ts)]`` (scalars modulo N): many Pedersen-style products with one base ``a``.

    Same results as :func:`mul_add_base` term by term. On the coincurve backend a long batch
    (``>= 2048``) uses fixed-base tables of ``a`` and ``G`` built once per process
    (:mod:`por.crypto.group_table`; variable-time, like ``tweak_add``): one ``combine()`` of at
    most 40 precomputed points per product instead of a ``tweak_mul`` and a ``tweak_add``.
    """
    if len(ss) != len(ts):
        raise ValueError("mul_add_base_many: scalar lists differ in length")
    return _point._backend.mul_add_base_many([_canonical_scalar(s) for s in ss], a, [_canonical_scalar(t) for t in ts])


def pairwise_sums(points: Sequence[Point]) -> list[Point]:
    """``[points[0] + points[1], points[2] + points[3], ...]``: one tree level's parents."""
    if len(points) % 2:
        raise ValueError("pairwise_sums: an even number of points is required")
    add = _point._backend.add
    return [add(points[i], points[i + 1]) for i in range(0, len(points), 2)]


def _init_backend() -> None:
    name = os.environ.get("POR_GROUP_BACKEND", "").strip()
    if name:
        set_backend(name)
    elif not _HAVE_COINCURVE:  # pragma: no cover
        set_backend("py_ecc")


_init_backend()

__all__ = [
    "BACKENDS",
    "G",
    "N",
    "P",
    "POINT_LEN",
    "SCALAR_LEN",
    "Point",
    "batch_inv",
    "fold_points",
    "get_backend",
    "mul_add_base",
    "mul_add_base_many",
    "multiscalar_mul",
    "pairwise_sums",
    "random_scalar",
    "scalar_from_bytes",
    "scalar_inv",
    "scalar_to_bytes",
    "set_backend",
    "sum_points",
    "use_backend",
    # internals the tests reach through this module
    "_cc_msm_pippenger",
    "_cc_of",
    "_choose_window",
    "_sqrt_mod_p",
]
