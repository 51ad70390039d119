"""The py_ecc backend of :mod:`por.crypto.group`: :mod:`py_ecc.secp256k1`, pure Python.

A slow reference used to cross-check the coincurve backend; py_ecc is imported only when the
backend is first used.
"""

from __future__ import annotations

from collections.abc import Sequence

from por.crypto.group_point import _GX, _GY, _IDENTITY, G, N, P, Point, _decompress

_ecc = None


def _ecc_mod():  # imported lazily: the reference backend is only needed when selected
    global _ecc
    if _ecc is None:
        from py_ecc.secp256k1 import secp256k1 as m

        assert m.P == P and m.N == N and (m.Gx, m.Gy) == (_GX, _GY)
        _ecc = m
    return _ecc


def _ecc_point(xy: tuple[int, int]) -> Point:
    # py_ecc represents the point at infinity as (0, 0) in affine form; no
    # secp256k1 point has y = 0 (the group has odd order).
    return _IDENTITY if xy[1] == 0 else Point._new(xy=(xy[0], xy[1]))


class _PyEccBackend:
    name = "py_ecc"

    @staticmethod
    def decode(data: bytes) -> Point:
        return Point._new(xy=_decompress(data), enc=data)

    @staticmethod
    def add(a: Point, b: Point) -> Point:
        if a._inf:
            return b
        if b._inf:
            return a
        return _ecc_point(_ecc_mod().add(a.affine(), b.affine()))

    @staticmethod
    def neg(a: Point) -> Point:
        if a._inf:
            return a
        x, y = a.affine()
        return Point._new(xy=(x, P - y))

    @staticmethod
    def mul(s: int, a: Point) -> Point:
        if s == 0 or a._inf:
            return _IDENTITY
        return _ecc_point(_ecc_mod().multiply(a.affine(), s))

    @staticmethod
    def sum(points: Sequence[Point]) -> Point:
        m = _ecc_mod()
        acc = (0, 0, 1)
        for p in points:
            if not p._inf:
                acc = m.jacobian_add(acc, m.to_jacobian(p.affine()))
        return _ecc_point(m.from_jacobian(acc)) if acc[1] else _IDENTITY

    @staticmethod
    def fold(lo: Sequence[Point], hi: Sequence[Point], s: int) -> list[Point]:
        return [_PyEccBackend.add(a, _PyEccBackend.mul(s, b)) for a, b in zip(lo, hi)]

    @staticmethod
    def mul_add_base(s: int, a: Point, t: int) -> Point:
        return _PyEccBackend.add(_PyEccBackend.mul(s, a), _PyEccBackend.mul(t, G))

    @staticmethod
    def mul_add_base_many(ss: Sequence[int], a: Point, ts: Sequence[int]) -> list[Point]:
        return [_PyEccBackend.mul_add_base(s, a, t) for s, t in zip(ss, ts)]


    @staticmethod
    def msm(scalars: list[int], points: list[Point]) -> Point:
        m = _ecc_mod()
        acc = (0, 0, 1)
        for s, p in zip(scalars, points):
            acc = m.jacobian_add(acc, m.jacobian_multiply(m.to_jacobian(p.affine()), s))
        return _ecc_point(m.from_jacobian(acc)) if acc[1] else _IDENTITY
