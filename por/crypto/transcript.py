"""A Merlin-style Fiat–Shamir transcript over SHA-256 (SPEC.md §14 §3).

The transcript is a byte string ``T`` that only ever grows; everything the
prover sends, and every challenge drawn, is appended as a self-delimiting
record, so that two different histories never produce the same ``T``::

    T := TAG("transcript") || lp(protocol_label)                  (initial value)

    append_message(label, data):   T := T || 0x01 || lp(label) || lp(data)
    challenge_scalar(label):       T := T || 0x02 || lp(label)
                                   then, for j = 0, 1, 2, ...:
                                       c = int(H(T || u32(2j)) || H(T || u32(2j+1))) mod N
                                   the first non-zero c is the challenge

``H`` is SHA-256, ``int()`` reads 64 bytes big-endian, ``N`` is the secp256k1
group order. Reducing 512 uniform bits modulo the 256-bit ``N`` leaves a bias
below 2^-256. Typed appends are messages with a fixed encoding of ``data``:
``append_u64`` uses ``u64(n)``, ``append_scalar`` the 32-byte big-endian
scalar, ``append_point`` the 33-byte compressed point (the point at infinity
cannot be appended). Labels are ASCII text.

The state is kept as an incremental SHA-256 of ``T``, so appending is cheap and
a challenge costs two hashes of a copied state.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable

from por.core.encoding import lp, tag, u32, u64
from por.crypto.group import N, Point, scalar_to_bytes

TAG_TRANSCRIPT = tag("transcript")

_MSG = b"\x01"
_CHALLENGE = b"\x02"


def _label(label: bytes | str) -> bytes:
    if isinstance(label, str):
        label = label.encode("utf-8")
    if not isinstance(label, (bytes, bytearray)):
        raise TypeError("a transcript label must be bytes or str")
    return bytes(label)


class Transcript:
    """Fiat–Shamir transcript; see the module docstring for the exact byte layout."""

    __slots__ = ("_h",)

    def __init__(self, protocol_label: bytes | str) -> None:
        self._h = hashlib.sha256(TAG_TRANSCRIPT + lp(_label(protocol_label)))

    def append_message(self, label: bytes | str, data: bytes) -> None:
        if not isinstance(data, (bytes, bytearray)):
            raise TypeError("transcript data must be bytes")
        self._h.update(_MSG + lp(_label(label)) + lp(bytes(data)))

    def append_u64(self, label: bytes | str, n: int) -> None:
        self.append_message(label, u64(n))

    def append_scalar(self, label: bytes | str, s: int) -> None:
        self.append_message(label, scalar_to_bytes(s))

    def append_point(self, label: bytes | str, p: Point) -> None:
        """Append a point's compressed encoding (``ValueError`` for the point at infinity)."""
        self.append_message(label, p.to_bytes())

    def challenge_scalar(self, label: bytes | str) -> int:
        """A non-zero scalar bound to everything appended so far (and to this label)."""
        self._h.update(_CHALLENGE + lp(_label(label)))
        j = 0
        while True:
            h0 = self._h.copy()
            h0.update(u32(2 * j))
            h1 = self._h.copy()
            h1.update(u32(2 * j + 1))
            c = int.from_bytes(h0.digest() + h1.digest(), "big") % N
            if c:
                return c
            j += 1  # pragma: no cover - probability 2^-256

    def witness_rng(self, key: bytes, witness: bytes) -> Callable[[], int]:
        """Deterministic prover randomness bound to this transcript, a secret key and the witness.

        The ``i``-th scalar (i = 0, 1, ...) is the first non-zero of
        ``int(HMAC-SHA512(key, H(T) || lp(witness) || u32(i) || u32(j))) mod N`` for
        j = 0, 1, ..., where ``H(T)`` is the SHA-256 of the transcript so far (it is
        not changed). Like Merlin's transcript RNG without external entropy: the same
        statement and witness give the same proof (por's artifacts are deterministic),
        and any change to either gives unrelated nonces.
        """
        prefix = self._h.copy().digest() + lp(bytes(witness))
        counter = iter(range(1 << 32))

        def draw() -> int:
            i = next(counter)
            for j in range(1 << 32):  # pragma: no branch - a zero has probability 2^-256
                c = int.from_bytes(hmac.digest(key, prefix + u32(i) + u32(j), "sha512"), "big") % N
                if c:
                    return c
            raise AssertionError("unreachable")  # pragma: no cover

        return draw

    def clone(self) -> Transcript:
        """An independent copy of the current state."""
        t = object.__new__(Transcript)
        t._h = self._h.copy()
        return t
