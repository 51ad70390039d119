"""The coincurve backend of :mod:`por.crypto.group` (the default): libsecp256k1 through coincurve's cffi bindings.

Points keep a cached ``secp256k1_pubkey`` struct; sums are ``combine()`` calls, products
``tweak_mul``, and large multi-scalar multiplications use Pippenger's bucket method with every
bucket summed inside libsecp256k1. libsecp256k1 refuses to produce the point at infinity; it is
returned as the identity :class:`Point`.
"""

from __future__ import annotations

from collections.abc import Sequence

from por.core.errors import BadInput
from por.crypto.group_ffi import _HAVE_COINCURVE
from por.crypto.group_point import _IDENTITY, POINT_LEN, G, Point, _check_encoding
from por.crypto.group_table import mul_add_base_many as _table_mul_add_base_many

if _HAVE_COINCURVE:
    import numpy as _np

    from por.crypto.group_ffi import (
        _CTX,
        _PK_SIZE,
        _combine,
        _create,
        _ffi,
        _negate,
        _new_pk,
        _parse,
        _tweak_add,
        _tweak_mul,
    )


def _cc_of(p: Point) -> object:
    """The libsecp256k1 struct of a finite point (computed and cached on first use)."""
    cc = p._cc
    if cc is None:
        cc = _new_pk("secp256k1_pubkey *")
        if p._xy is not None:
            x, y = p._xy
            raw = b"\x04" + x.to_bytes(32, "big") + y.to_bytes(32, "big")
        else:
            raw = p._enc  # type: ignore[assignment]
        if not _parse(_CTX, cc, raw, len(raw)):  # pragma: no cover - values are always valid
            raise ValueError("internal error: cannot load point into libsecp256k1")
        p._set_cache("_cc", cc)
    return cc


def _cc_point(cc: object, ok: int) -> Point:
    return Point._new(cc=cc) if ok else _IDENTITY


class _CoincurveBackend:
    name = "coincurve"

    @staticmethod
    def decode(data: bytes) -> Point:
        _check_encoding(data)
        cc = _new_pk("secp256k1_pubkey *")
        if not _parse(_CTX, cc, data, POINT_LEN):
            raise BadInput("not a point on secp256k1 (x has no matching y)")
        return Point._new(cc=cc, enc=data)

    @staticmethod
    def add(a: Point, b: Point) -> Point:
        if a._inf:
            return b
        if b._inf:
            return a
        out = _new_pk("secp256k1_pubkey *")
        return _cc_point(out, _combine(_CTX, out, [_cc_of(a), _cc_of(b)], 2))

    @staticmethod
    def neg(a: Point) -> Point:
        if a._inf:
            return a
        out = _new_pk("secp256k1_pubkey *", _cc_of(a)[0])
        _negate(_CTX, out)
        return Point._new(cc=out)

    @staticmethod
    def mul(s: int, a: Point) -> Point:
        if s == 0 or a._inf:
            return _IDENTITY
        if s == 1:
            return a
        if a is G:
            out = _new_pk("secp256k1_pubkey *")
            return _cc_point(out, _create(_CTX, out, s.to_bytes(32, "big")))
        out = _new_pk("secp256k1_pubkey *", _cc_of(a)[0])
        return _cc_point(out, _tweak_mul(_CTX, out, s.to_bytes(32, "big")))

    @staticmethod
    def sum(points: Sequence[Point]) -> Point:
        cds = [_cc_of(p) for p in points if not p._inf]
        if not cds:
            return _IDENTITY
        out = _new_pk("secp256k1_pubkey *")
        return _cc_point(out, _combine(_CTX, out, cds, len(cds)))

    @staticmethod
    def fold(lo: Sequence[Point], hi: Sequence[Point], s: int) -> list[Point]:
        sb = s.to_bytes(32, "big")
        out: list[Point] = []
        for a, b in zip(lo, hi):
            if b._inf:
                out.append(a)
                continue
            tmp = _new_pk("secp256k1_pubkey *", _cc_of(b)[0])
            _tweak_mul(_CTX, tmp, sb)
            if a._inf:
                out.append(Point._new(cc=tmp))
                continue
            res = _new_pk("secp256k1_pubkey *")
            out.append(_cc_point(res, _combine(_CTX, res, [_cc_of(a), tmp], 2)))
        return out

    @staticmethod
    def mul_add_base(s: int, a: Point, t: int) -> Point:
        if s == 0 or a._inf:
            return _CoincurveBackend.mul(t, G)
        out = _new_pk("secp256k1_pubkey *", _cc_of(a)[0])
        if s != 1 and not _tweak_mul(_CTX, out, s.to_bytes(32, "big")):  # pragma: no cover - s < N
            raise ValueError("internal error: tweak_mul failed")
        if t and not _tweak_add(_CTX, out, t.to_bytes(32, "big")):
            return _IDENTITY  # s*A = -t*G
        return Point._new(cc=out)

    @staticmethod
    def mul_add_base_many(ss: Sequence[int], a: Point, ts: Sequence[int]) -> list[Point]:
        if a._inf or len(ss) < _TABLE_MIN:
            return [_CoincurveBackend.mul_add_base(s, a, t) for s, t in zip(ss, ts)]
        return _table_mul_add_base_many(ss, a, ts, _cc_of)

    @staticmethod
    def msm(scalars: list[int], points: list[Point]) -> Point:
        cds = [_cc_of(p) for p in points]
        c = _choose_window(len(cds))
        if c == 0:
            return _cc_msm_naive(scalars, cds)
        return _cc_msm_pippenger(scalars, cds, c)


_TABLE_MIN = 2048
"""Batches of ``s*A + t*G`` at least this long use fixed-base tables (:mod:`por.crypto.group_table`):
building them (40 rows, once per process) costs about 1500 ``tweak_mul`` calls; a product then costs
one ``combine()`` of <= 40 points, about a third of ``tweak_mul`` + ``tweak_add``."""


def _cc_msm_naive(scalars: list[int], cds: list[object]) -> Point:
    """One ``tweak_mul`` per term (skipping factors 1), then one ``combine`` of all terms."""
    terms = []
    append = terms.append
    for s, cd in zip(scalars, cds):
        if s == 1:
            append(cd)
        else:
            out = _new_pk("secp256k1_pubkey *", cd[0])  # type: ignore[index]
            _tweak_mul(_CTX, out, s.to_bytes(32, "big"))
            append(out)
    out = _new_pk("secp256k1_pubkey *")
    return _cc_point(out, _combine(_CTX, out, terms, len(terms)))


# Window sizes for Pippenger's bucket method, by number of terms. The cost model
# (measured on libsecp256k1 through cffi, 2-core test machine): a tweak_mul
# costs ~40 us, a point added inside one combine() ~0.4 us, and each combine()
# call ~3 us more (it normalises its result to affine with a field inversion).
# Measured: 8192 terms 150 ms (c=8) vs 320 ms naive; 1024 terms 35 ms (c=5)
# vs 38 ms naive. combine() must never get zero terms or an invalid struct
# (libsecp256k1 would call its illegal-argument callback): every call below
# passes at least one valid point.
_WINDOW_TABLE = ((3500, 8), (1500, 6), (700, 5))


def _choose_window(n: int) -> int:
    for threshold, c in _WINDOW_TABLE:
        if n >= threshold:
            return c
    return 0  # naive


def _cc_msm_pippenger(scalars: list[int], cds: list[object], c: int) -> Point:
    """Pippenger's bucket method with every bucket summed by one ``combine()`` call.

    Scalars are cut into ``W = ceil(256 / c)`` windows of ``c`` bits. For each
    window, the points are sorted by digit (numpy) and each bucket ``j`` is
    summed in C: ``B[w][j] = sum of P_i with digit_w(s_i) = j``. The result is
    ``sum_w 2^(c*w) * sum_j j*B[w][j]``; writing ``j`` in binary,
    ``sum_j j*B[w][j] = sum_b 2^b * Q[w][b]`` with ``Q[w][b]`` the combine() of
    the buckets whose index has bit ``b`` set. So the whole product is
    ``sum_k 2^k * Q_k`` over bit positions ``k = c*w + b``, evaluated by
    Horner's rule with one combine(acc, acc, Q_k) per position.

    combine() fails exactly when a sum is the point at infinity; such sums are
    recorded as absent.
    """
    np = _np
    n = len(cds)
    raw = b"".join([s.to_bytes(32, "big") for s in scalars])
    byte_digits = np.frombuffer(raw, dtype=np.uint8).reshape(n, 32)
    windows = -(-256 // c)
    if c == 8:
        digits = byte_digits[:, ::-1]  # column w = bits [8w, 8w+8)
    else:
        bits = np.unpackbits(byte_digits, axis=1)[:, ::-1]  # column k = bit k (LSB first)
        pad = windows * c - 256
        if pad:
            bits = np.concatenate([bits, np.zeros((n, pad), dtype=np.uint8)], axis=1)
        weights = (1 << np.arange(c, dtype=np.int64)).astype(np.int64)
        digits = (bits.reshape(n, windows, c).astype(np.int64) * weights).sum(axis=2)
    addr_of = _ffi.cast
    addrs = np.array([int(addr_of("uintptr_t", cd)) for cd in cds], dtype=np.uint64)

    nb = 1 << c
    buckets = _ffi.new("secp256k1_pubkey[]", windows * nb)
    buckets_addr = int(_ffi.cast("uintptr_t", buckets))
    valid = np.zeros((windows, nb), dtype=bool)
    from_buffer = _ffi.from_buffer
    for w in range(windows):
        d = np.ascontiguousarray(digits[:, w])
        counts = np.bincount(d, minlength=nb)
        if counts[0] == n:
            continue
        order = np.argsort(d, kind="stable")
        sorted_addrs = np.ascontiguousarray(addrs[order])
        parr = from_buffer("secp256k1_pubkey *[]", sorted_addrs)
        starts = np.concatenate(([0], np.cumsum(counts))).tolist()
        cnt = counts.tolist()
        base = w * nb
        row = valid[w]
        for j in range(1, nb):
            k = cnt[j]
            if k:
                row[j] = _combine(_CTX, buckets + (base + j), parr + starts[j], k)

    # Q_k for every bit position k = c*w + b
    js = np.arange(nb, dtype=np.uint64)
    q = _ffi.new("secp256k1_pubkey[]", windows * c)
    q_ok = [False] * (windows * c)
    for w in range(windows):
        row = valid[w]
        if not row.any():
            continue
        for b in range(c):
            sel = js[row & (((js >> np.uint64(b)) & np.uint64(1)) == 1)]
            if len(sel) == 0:
                continue
            ptrs = np.ascontiguousarray(np.uint64(buckets_addr) + np.uint64(_PK_SIZE) * (np.uint64(w * nb) + sel))
            parr = from_buffer("secp256k1_pubkey *[]", ptrs)
            q_ok[c * w + b] = bool(_combine(_CTX, q + (c * w + b), parr, len(sel)))

    # Horner: acc = sum_k 2^k Q_k
    acc = None
    tmp = _ffi.new("secp256k1_pubkey *")
    for k in range(windows * c - 1, -1, -1):
        if acc is None:
            if q_ok[k]:
                acc = _new_pk("secp256k1_pubkey *", q[k])
            continue
        terms = [acc, acc, q + k] if q_ok[k] else [acc, acc]
        if _combine(_CTX, tmp, terms, len(terms)):
            acc, tmp = tmp, acc
        else:
            acc = None
    if acc is None:
        return _IDENTITY
    return Point._new(cc=acc)
