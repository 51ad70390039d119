"""secp256k1 values for :mod:`por.crypto.group`: curve constants, SEC1 point encodings and :class:`Point`.

A :class:`Point` is a value (an affine point or the point at infinity); its arithmetic is computed
by the active backend (:mod:`por.crypto.group_coincurve` or :mod:`por.crypto.group_pyecc`), which
:mod:`por.crypto.group` selects and installs here as ``_backend`` (with ``_unpickle``). Use points
through :mod:`por.crypto.group` (importing it selects the backend).
"""

from __future__ import annotations

from collections.abc import Callable

from por.core.errors import BadInput
from por.crypto.group_ffi import _cc_serialize

# ---------------------------------------------------------------- curve constants

P = 2**256 - 2**32 - 977
"""The field prime of secp256k1."""

N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
"""The group order of secp256k1 (prime; the cofactor is 1)."""

_GX = 0x79BE667EF9DCBBAC55A06295CE870B07029BFCDB2DCE28D959F2815B16F81798
_GY = 0x483ADA7726A3C4655DA4FBFC0E1108A8FD17B448A68554199C47D08FFB10D4B8

SCALAR_LEN = 32
POINT_LEN = 33


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


_IDENTITY = Point._new()
object.__setattr__(_IDENTITY, "_inf", True)

G = Point._new(xy=(_GX, _GY))
"""The standard secp256k1 base point."""

# Installed by por.crypto.group when it is imported:
_backend: type = None  # type: ignore[assignment]
"""The active arithmetic backend that :class:`Point` delegates to (por.crypto.group.set_backend)."""
_unpickle: Callable[[bytes | None], Point] = None  # type: ignore[assignment]
"""What rebuilds a pickled :class:`Point`: ``por.crypto.group._unpickle``, so that unpickling imports the
interface, which selects the backend."""
