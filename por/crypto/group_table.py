"""Fixed-base tables for the coincurve backend: many ``s*A + t*G`` with one ``combine()`` each.

For a base point ``B`` the table holds ``d * 256^w * B`` for every byte position ``w < 32``
and digit ``d = 1..255`` (8160 libsecp256k1 points, 522 KB, built with one ``combine()``
per entry, ≈ 60 ms). A product ``s*B`` is then the sum of the table entries picked by the
non-zero bytes of ``s`` — at most 32 points added inside one ``combine()`` call, instead of
a ``tweak_mul`` (a full double-and-add ladder). ``s*A + t*G`` adds the entries of both
tables in the same call. The build is worth it only for many products with the same base
(a tree's leaf commitments), so :func:`mul_add_base_many` is the only user.

Like the bucket-method multiscalar multiplication and libsecp256k1's ``tweak_add`` already
used for ``v*G``, table lookups are *not* constant-time (which entries are read depends on
the scalar bytes): they serve the offline commitment build and the prover, not code that
must resist local timing or cache observation.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from por.crypto.group_ffi import _HAVE_COINCURVE
from por.crypto.group_point import _IDENTITY, G, Point

if _HAVE_COINCURVE:
    import numpy as _np

    from por.crypto.group_ffi import _CTX, _PK_SIZE, _combine, _ffi, _new_pk

_WINDOWS = 32  # bytes of a scalar
_DIGITS = 255  # non-zero byte values
_lock = threading.Lock()
_tables: dict[bytes, _Table] = {}


class _Table:
    """``d * 256^w * B`` at index ``w*255 + d - 1``, rows built on demand (row ``w`` needs row ``w-1``)."""

    def __init__(self, base_cc: object) -> None:
        self.arr = _ffi.new("secp256k1_pubkey[]", _WINDOWS * _DIGITS)
        self.addr = int(_ffi.cast("uintptr_t", self.arr))
        self.rows = 0
        self._next = _new_pk("secp256k1_pubkey *", base_cc[0])  # type: ignore[index]  # 256^rows * B
        self._grow = threading.Lock()  # two threads extending one table would skip a row

    def ensure(self, rows: int) -> None:
        with self._grow:
            self._extend(rows)

    def _extend(self, rows: int) -> None:
        arr = self.arr
        while self.rows < rows:
            cur = self._next
            row = self.rows * _DIGITS
            arr[row] = cur[0]
            for d in range(1, _DIGITS):  # entry d+1 = entry d + 256^w * B (entry 1 = doubling, handled by combine)
                if not _combine(_CTX, arr + (row + d), [arr + (row + d - 1), cur], 2):  # pragma: no cover
                    raise ValueError("internal error: fixed-base table entry at infinity")
            nxt = _new_pk("secp256k1_pubkey *")
            _combine(_CTX, nxt, [arr + (row + _DIGITS - 1), cur], 2)  # 256 * 256^w * B
            self._next = nxt
            self.rows += 1


def _table(point: Point, cc_of) -> _Table:  # noqa: ANN001 - the backend's struct loader
    key = point.to_bytes()
    with _lock:
        t = _tables.get(key)
        if t is None:
            t = _tables[key] = _Table(cc_of(point))
        return t


def _digits(scalars: Sequence[int]) -> _np.ndarray:
    """``(k, 32)`` uint8: byte ``w`` (little-endian position) of every scalar in column ``w``."""
    raw = b"".join([s.to_bytes(32, "big") for s in scalars])
    return _np.frombuffer(raw, dtype=_np.uint8).reshape(len(scalars), 32)[:, ::-1]


def mul_add_base_many(ss: Sequence[int], a: Point, ts: Sequence[int], cc_of) -> list[Point]:  # noqa: ANN001
    """``[s*a + t*G for s, t in zip(ss, ts)]`` (scalars in ``[0, N)``, ``a`` finite) from two fixed-base tables."""
    k = len(ss)
    if k == 0:
        return []
    np = _np
    sd = _digits(ss)
    td = _digits(ts)
    used = np.flatnonzero(td.any(axis=0))
    wt = int(used[-1]) + 1 if len(used) else 0  # values are usually < 2^64: 8 windows of G
    used = np.flatnonzero(sd.any(axis=0))
    ws = int(used[-1]) + 1 if len(used) else 0
    ta = _table(a, cc_of)
    tg = _table(G, cc_of)
    ta.ensure(ws)
    tg.ensure(wt)
    digits = np.concatenate([sd[:, :ws], td[:, :wt]], axis=1).astype(np.int64)
    rows = np.concatenate([np.arange(ws), np.arange(wt)]).astype(np.int64) * _DIGITS - 1
    bases = np.array([ta.addr] * ws + [tg.addr] * wt, dtype=np.uint64)
    mask = digits != 0
    addrs = bases + ((digits + rows) * _PK_SIZE).astype(np.uint64)
    flat = np.ascontiguousarray(addrs[mask])  # row-major: each product's entries are contiguous
    counts = mask.sum(axis=1)
    starts = (np.cumsum(counts) - counts).tolist()
    counts = counts.tolist()
    parr = _ffi.from_buffer("secp256k1_pubkey *[]", flat) if len(flat) else None
    out: list[Point] = []
    append = out.append
    new = Point._new
    for i in range(k):
        c = counts[i]
        res = _new_pk("secp256k1_pubkey *")
        if c and _combine(_CTX, res, parr + starts[i], c):
            append(new(cc=res))
        else:  # s*a + t*G at infinity (both scalars zero, or a discrete-log coincidence)
            append(_IDENTITY)
    return out
