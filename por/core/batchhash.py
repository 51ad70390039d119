"""SHA-256 and HMAC-SHA256 of many messages in one call: the hashing core of large builds.

A message here is a *row* of segments, concatenated: a constant (the same bytes in every row),
a fixed-width column (``(buffer, width)``: row ``i`` is ``buffer[i*width:(i+1)*width]``) or a
ragged column (``(buffer, offsets)``: ``n + 1`` uint64 offsets, row ``i`` is
``buffer[off[i]:off[i+1]]``). :func:`hash_rows` returns the 32-byte digests of the ``n`` rows,
concatenated -- SHA-256, or HMAC-SHA256 (RFC 2104) under ``key``. Nothing here knows a protocol
layout: callers build the segments from :mod:`por.core.encoding`'s definitions, so every hashed
byte is still defined in one place (SPEC.md).

Two implementations compute the same bytes:

* the native one, ``por.core._batchhash`` (C, OpenSSL's SHA-256; built at install when a C compiler
  and OpenSSL's headers are present), which releases the GIL and costs about 0.1 µs per short message
  instead of 0.4-0.8 µs through :mod:`hashlib`;
* :func:`hash_rows_py`, the reference (``hashlib``/``hmac``), used when the native module is missing
  or when ``POR_NATIVE_HASH=0`` is set. Tests compare the two on random inputs and on every vector.

:class:`Ragged` holds a column of byte strings (account ids) as one buffer and offsets -- what a ragged
segment reads -- with the gather (:meth:`Ragged.take`, native too) that reorders them without a Python object
per string (``Ragged.of(items).segment`` is the ragged segment of a list of byte strings).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

Segment = Any
"""``bytes`` (constant), ``(buffer, width)`` (fixed) or ``(buffer, offsets)`` (ragged; uint64 offsets)."""


def _raw(buf: Any) -> bytes:
    return np.ascontiguousarray(buf).tobytes() if isinstance(buf, np.ndarray) else bytes(buf)


def _rows_of(n: int, seg: Segment) -> list[bytes]:
    if not isinstance(seg, tuple):
        return [_raw(seg)] * n
    buf, second = seg
    data = _raw(buf)
    if isinstance(second, (int, np.integer)):
        w = int(second)
        if w < 0 or len(data) < n * w:
            raise ValueError("fixed segment shorter than n * width")
        return [data[i * w:(i + 1) * w] for i in range(n)]
    off = np.frombuffer(_raw(second), dtype=np.uint64)
    if len(off) != n + 1 or (n and (np.any(off[1:] < off[:-1]) or int(off[-1]) > len(data))):
        raise ValueError("ragged segment: offsets must be n+1 non-decreasing uint64 within the buffer")
    o = off.tolist()
    return [data[o[i]:o[i + 1]] for i in range(n)]


def hash_rows_py(n: int, segments: Sequence[Segment], key: bytes | None = None) -> bytes:
    """The reference implementation of :func:`hash_rows` (``hashlib`` and ``hmac``)."""
    if n < 0:
        raise ValueError("n must be >= 0")
    if key is not None and len(key) > 64:
        raise ValueError("HMAC key longer than the SHA-256 block")
    columns = [_rows_of(n, s) for s in segments]
    msgs = [b"".join(parts) for parts in zip(*columns)] if columns else [b""] * n
    if key is None:
        return b"".join(hashlib.sha256(m).digest() for m in msgs)
    return b"".join(hmac.digest(key, m, "sha256") for m in msgs)


try:  # the native module is optional: a build without a compiler still works, slower
    from por.core import _batchhash as _native
    from por.core._batchhash import hash_rows as _native_hash_rows
except ImportError:  # pragma: no cover - depends on the build
    _native = _native_hash_rows = None  # type: ignore[assignment]

NATIVE = _native_hash_rows is not None and os.environ.get("POR_NATIVE_HASH", "1") != "0"
"""Whether :func:`hash_rows` runs the native module."""


def hash_rows(n: int, segments: Sequence[Segment], key: bytes | None = None) -> bytes:
    """The SHA-256 (or, with ``key``, HMAC-SHA256) digests of ``n`` rows of ``segments``, concatenated.

    Raises ``ValueError`` when a segment is shorter than ``n`` rows or a key is longer than 64 bytes.
    """
    if NATIVE:
        return _native_hash_rows(n, segments, key)
    return hash_rows_py(n, segments, key)


@dataclass(frozen=True)
class Ragged:
    """Byte strings held as one ``uint8`` buffer and ``n + 1`` non-decreasing uint64 offsets into it.

    String ``i`` is ``blob[offsets[i]:offsets[i+1]]``; :attr:`segment` is the ragged segment of :func:`hash_rows`.
    """

    blob: np.ndarray
    offsets: np.ndarray

    @classmethod
    def of(cls, items: Sequence[bytes]) -> "Ragged":
        """The strings ``items``."""
        offsets = np.zeros(len(items) + 1, dtype=np.uint64)
        np.cumsum([len(x) for x in items], out=offsets[1:])
        return cls(np.frombuffer(b"".join(items), dtype=np.uint8), offsets)

    @classmethod
    def from_lengths(cls, blob: Any, lengths: np.ndarray) -> "Ragged":
        """Consecutive strings of ``blob`` with the given lengths."""
        offsets = np.zeros(len(lengths) + 1, dtype=np.uint64)
        np.cumsum(lengths, out=offsets[1:])
        return cls(np.frombuffer(blob, dtype=np.uint8) if not isinstance(blob, np.ndarray) else blob, offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def segment(self) -> tuple[np.ndarray, np.ndarray]:
        return self.blob, self.offsets

    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def items(self) -> list[bytes]:
        """The strings, as a list."""
        o = self.offsets.tolist()
        raw = self.blob.tobytes()
        return [raw[o[i]:o[i + 1]] for i in range(len(o) - 1)]

    def tobytes(self) -> bytes:
        """The strings concatenated."""
        return self.blob[int(self.offsets[0]):int(self.offsets[-1])].tobytes()

    def take(self, index: np.ndarray) -> "Ragged":
        """The strings at ``index`` (integer positions), in that order, in a new compact buffer."""
        index = np.ascontiguousarray(index, dtype=np.int64)
        sizes = self.offsets[1:][index] - self.offsets[:-1][index]
        if NATIVE:
            blob = np.frombuffer(_native.take(self.blob, np.ascontiguousarray(self.offsets, dtype=np.uint64), index),
                                 dtype=np.uint8)
        else:
            starts = self.offsets[:-1][index].astype(np.int64)
            firsts = np.cumsum(sizes, dtype=np.int64) - sizes.astype(np.int64)
            blob = self.blob[np.repeat(starts - firsts, sizes.astype(np.int64))
                             + np.arange(int(sizes.sum()), dtype=np.int64)]
        return Ragged.from_lengths(blob, sizes)

    def slice(self, lo: int, hi: int) -> "Ragged":
        """Strings ``lo .. hi - 1`` (sharing the buffer)."""
        return Ragged(self.blob, self.offsets[lo:hi + 1])


def digests(blob: bytes) -> np.ndarray:
    """The ``(n, 32)`` uint8 view of concatenated digests."""
    return np.frombuffer(blob, dtype=np.uint8).reshape(-1, 32)
