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
this module represents it explicitly as :meth:`Point.identity`.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator, Sequence

from por.core.errors import BadInput

# ---------------------------------------------------------------- curve constants

P = 2**256 - 2**32 - 977
"""The field prime of secp256k1."""

N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
"""The group order of secp256k1 (prime; the cofactor is 1)."""

_GX = 0x79BE667EF9DCBBAC55A06295CE870B07029BFCDB2DCE28D959F2815B16F81798
_GY = 0x483ADA7726A3C4655DA4FBFC0E1108A8FD17B448A68554199C47D08FFB10D4B8

SCALAR_LEN = 32
POINT_LEN = 33

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


# ---------------------------------------------------------------- field helpers (pure Python)


def _sqrt_mod_p(a: int) -> int | None:
    """A square root of ``a`` mod P, or None when ``a`` is a non-residue (P = 3 mod 4)."""
    r = pow(a, (P + 1) // 4, P)
    return r if r * r % P == a % P else None


def _decompress(data: bytes) -> tuple[int, int]:
    """Pure-Python strict SEC1 compressed decoding (raises BadInput)."""
    x = _check_encoding(data)
    y = _sqrt_mod_p((x * x * x + 7) % P)
    if y is None:
        raise BadInput("not a point on secp256k1 (x has no matching y)")
    if (y & 1) != (data[0] & 1):
        y = P - y
    return x, y


def _check_encoding(data: bytes) -> int:
    if not isinstance(data, (bytes, bytearray)):
        raise BadInput("a point must be bytes")
    if len(data) != POINT_LEN:
        raise BadInput(f"a point must be {POINT_LEN} bytes (compressed SEC1), got {len(data)}")
    if data[0] not in (2, 3):
        raise BadInput(f"bad point prefix 0x{data[0]:02x} (expected 02 or 03)")
    x = int.from_bytes(data[1:], "big")
    if x >= P:
        raise BadInput("point x coordinate is not below the field prime")
    return x


def _compress(x: int, y: int) -> bytes:
    return bytes((2 | (y & 1),)) + x.to_bytes(32, "big")


# ---------------------------------------------------------------- points


class Point:
    """An immutable secp256k1 point (possibly the point at infinity).

    Supports ``P + Q``, ``P - Q``, ``-P``, ``s * P`` / ``P * s`` (``s`` an int,
    taken modulo N), ``==`` and hashing. Internally it caches whichever
    representations have been computed: affine coordinates, a libsecp256k1
    ``secp256k1_pubkey`` struct, and the compressed encoding.
    """

    __slots__ = ("_inf", "_xy", "_cc", "_enc")

    _inf: bool
    _xy: tuple[int, int] | None
    _cc: object | None
    _enc: bytes | None

    def __init__(self) -> None:  # use the classmethods
        raise TypeError("use Point.from_bytes, Point.identity or group arithmetic")

    @classmethod
    def _new(cls, xy: tuple[int, int] | None = None, cc: object = None, enc: bytes | None = None) -> Point:
        p = object.__new__(cls)
        object.__setattr__(p, "_inf", False)
        object.__setattr__(p, "_xy", xy)
        object.__setattr__(p, "_cc", cc)
        object.__setattr__(p, "_enc", enc)
        return p

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Point is immutable")

    def _set_cache(self, name: str, value: object) -> None:
        object.__setattr__(self, name, value)

    # ---- constructors

    @staticmethod
    def identity() -> Point:
        """The point at infinity (neutral element)."""
        return _IDENTITY

    @classmethod
    def from_bytes(cls, data: bytes) -> Point:
        """Strict decoding of a 33-byte compressed point; raises :class:`BadInput`.

        Rejects a wrong length, a prefix other than 02/03, ``x >= P``, an ``x``
        with no point on the curve; the point at infinity has no encoding.
        """
        return _backend.decode(bytes(data))

    @classmethod
    def from_hex(cls, text: str) -> Point:
        if not isinstance(text, str) or len(text) != 2 * POINT_LEN or text.lower() != text:
            raise BadInput("a point in hex must be 66 lowercase hex digits")
        try:
            raw = bytes.fromhex(text)
        except ValueError:
            raise BadInput("a point in hex must be 66 lowercase hex digits") from None
        return cls.from_bytes(raw)

    @classmethod
    def from_affine(cls, x: int, y: int) -> Point:
        """A point from affine coordinates (checked to be on the curve)."""
        if not (0 <= x < P and 0 <= y < P) or (y * y - x * x * x - 7) % P:
            raise ValueError("not a point on secp256k1")
        return cls._new(xy=(x, y))

    # ---- properties and encodings

    @property
    def is_identity(self) -> bool:
        return self._inf

    def affine(self) -> tuple[int, int]:
        """Affine ``(x, y)``; ``ValueError`` for the point at infinity."""
        if self._inf:
            raise ValueError("the point at infinity has no affine coordinates")
        xy = self._xy
        if xy is None:
            if self._cc is not None:
                raw = _cc_serialize(self._cc, False)
                xy = (int.from_bytes(raw[1:33], "big"), int.from_bytes(raw[33:], "big"))
            else:
                assert self._enc is not None
                xy = _decompress(self._enc)
            self._set_cache("_xy", xy)
        return xy

    def to_bytes(self) -> bytes:
        """33-byte compressed SEC1 encoding; ``ValueError`` for the point at infinity."""
        enc = self._enc
        if enc is None:
            if self._inf:
                raise ValueError("the point at infinity has no encoding")
            if self._cc is not None:
                enc = _cc_serialize(self._cc, True)
            else:
                assert self._xy is not None
                enc = _compress(*self._xy)
            self._set_cache("_enc", enc)
        return enc

    def hex(self) -> str:
        return self.to_bytes().hex()

    # ---- arithmetic (delegated to the active backend)

    def __add__(self, other: Point) -> Point:
        if not isinstance(other, Point):
            return NotImplemented
        return _backend.add(self, other)

    def __neg__(self) -> Point:
        return _backend.neg(self)

    def __sub__(self, other: Point) -> Point:
        if not isinstance(other, Point):
            return NotImplemented
        return _backend.add(self, _backend.neg(other))

    def __rmul__(self, s: int) -> Point:
        if not isinstance(s, int) or isinstance(s, bool):
            return NotImplemented
        return _backend.mul(s % N, self)

    __mul__ = __rmul__

    # ---- comparison

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Point):
            return NotImplemented
        if self._inf or other._inf:
            return self._inf and other._inf
        return self.to_bytes() == other.to_bytes()

    def __hash__(self) -> int:
        return hash(b"" if self._inf else self.to_bytes())

    def __repr__(self) -> str:
        return "Point(identity)" if self._inf else f"Point({self.to_bytes().hex()})"

    def __reduce__(self):  # pickling by encoding
        return (_unpickle, (None if self._inf else self.to_bytes(),))


def _unpickle(enc: bytes | None) -> Point:
    return _IDENTITY if enc is None else Point.from_bytes(enc)


_IDENTITY = Point._new()
object.__setattr__(_IDENTITY, "_inf", True)

G = Point._new(xy=(_GX, _GY))
"""The standard secp256k1 base point."""


# ---------------------------------------------------------------- coincurve backend

try:
    from coincurve._libsecp256k1 import ffi as _ffi
    from coincurve._libsecp256k1 import lib as _lib
    from coincurve.context import GLOBAL_CONTEXT as _GLOBAL_CONTEXT

    _CTX = _GLOBAL_CONTEXT.ctx
    _HAVE_COINCURVE = True
except ImportError:  # pragma: no cover - coincurve is a hard dependency
    _HAVE_COINCURVE = False

if _HAVE_COINCURVE:
    import numpy as _np

    _PK_SIZE = _ffi.sizeof("secp256k1_pubkey")
    _new_pk = _ffi.new
    _tweak_mul = _lib.secp256k1_ec_pubkey_tweak_mul
    _combine = _lib.secp256k1_ec_pubkey_combine
    _negate = _lib.secp256k1_ec_pubkey_negate
    _serialize = _lib.secp256k1_ec_pubkey_serialize
    _parse = _lib.secp256k1_ec_pubkey_parse
    _create = _lib.secp256k1_ec_pubkey_create
    _tweak_add = _lib.secp256k1_ec_pubkey_tweak_add
    _COMPRESSED = _lib.SECP256K1_EC_COMPRESSED
    _UNCOMPRESSED = _lib.SECP256K1_EC_UNCOMPRESSED


def _cc_serialize(cc: object, compressed: bool) -> bytes:
    n = 33 if compressed else 65
    out = _ffi.new("unsigned char[]", n)
    ln = _ffi.new("size_t *", n)
    _serialize(_CTX, out, ln, cc, _COMPRESSED if compressed else _UNCOMPRESSED)
    return bytes(_ffi.buffer(out, n))


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
    def msm(scalars: list[int], points: list[Point]) -> Point:
        cds = [_cc_of(p) for p in points]
        c = _choose_window(len(cds))
        if c == 0:
            return _cc_msm_naive(scalars, cds)
        return _cc_msm_pippenger(scalars, cds, c)


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


# ---------------------------------------------------------------- py_ecc backend

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
    def msm(scalars: list[int], points: list[Point]) -> Point:
        m = _ecc_mod()
        acc = (0, 0, 1)
        for s, p in zip(scalars, points):
            acc = m.jacobian_add(acc, m.jacobian_multiply(m.to_jacobian(p.affine()), s))
        return _ecc_point(m.from_jacobian(acc)) if acc[1] else _IDENTITY


# ---------------------------------------------------------------- backend selection and MSM

BACKENDS = ("coincurve", "py_ecc")
_BACKENDS = {"coincurve": _CoincurveBackend, "py_ecc": _PyEccBackend}
_backend: type = _CoincurveBackend


def set_backend(name: str) -> None:
    """Select the arithmetic backend: ``"coincurve"`` (default) or ``"py_ecc"``."""
    global _backend
    if name not in _BACKENDS:
        raise ValueError(f"unknown group backend {name!r} (expected one of {', '.join(BACKENDS)})")
    if name == "coincurve" and not _HAVE_COINCURVE:  # pragma: no cover
        raise ValueError("the coincurve backend is not available (coincurve is not installed)")
    _backend = _BACKENDS[name]


def get_backend() -> str:
    """Name of the active backend."""
    return _backend.name


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
    return _backend.msm(ss, ps)


def sum_points(points: Sequence[Point]) -> Point:
    """``sum_i points[i]`` (one ``combine()`` call on the coincurve backend)."""
    return _backend.sum(list(points))


def fold_points(lo: Sequence[Point], hi: Sequence[Point], s: int) -> list[Point]:
    """``[lo[i] + s*hi[i] for each i]`` with one scalar ``s`` (the inner-product argument's folding step)."""
    if len(lo) != len(hi):
        raise ValueError("fold_points: vectors differ in length")
    s = _canonical_scalar(s)
    if s == 0:
        return list(lo)
    return _backend.fold(lo, hi, s)


def mul_add_base(s: int, a: Point, t: int) -> Point:
    """``s*a + t*G`` (scalars modulo N): one variable-base and one fixed-base multiplication.

    The fast path of a Pedersen commitment ``r*H + v*G`` (libsecp256k1's
    ``tweak_mul`` then ``tweak_add`` on the coincurve backend).
    """
    return _backend.mul_add_base(_canonical_scalar(s), a, _canonical_scalar(t))


def pairwise_sums(points: Sequence[Point]) -> list[Point]:
    """``[points[0] + points[1], points[2] + points[3], ...]``: one tree level's parents."""
    if len(points) % 2:
        raise ValueError("pairwise_sums: an even number of points is required")
    add = _backend.add
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
    "multiscalar_mul",
    "pairwise_sums",
    "random_scalar",
    "scalar_from_bytes",
    "scalar_inv",
    "scalar_to_bytes",
    "set_backend",
    "sum_points",
    "use_backend",
]
