"""The master secret and everything derived from it (SPEC.md §4).

One 32-byte master secret per exchange (or per snapshot); every secret value in
a snapshot comes from it through labelled derivations, so that the same ledger
and the same secret always give byte-identical artifacts:

* ``k_<label> = HKDF-SHA256(ikm=master, salt="por/v1/hkdf", info=label, L=32)``
* per-item values are ``HMAC-SHA256(k_<label>, message)`` with the messages below.

The secret file is 64 hex digits (and an optional trailing newline), mode 0600.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from por.core.batchhash import Segment, hash_rows
from por.core.encoding import FORMAT_VERSION, lp, u64
from por.core.errors import BadInput
from por.core.fileio import atomic_write_bytes

SECRET_LEN = 32
HKDF_SALT = f"por/v{FORMAT_VERSION}/hkdf".encode()

LABEL_SALT = "leaf-salt"
LABEL_POSITION = "leaf-position"
LABEL_PADDING = "padding"
LABEL_BLINDING = "blinding"
LABEL_NONCE = "proof-nonce"


def generate_secret() -> bytes:
    """A fresh 32-byte master secret from the OS CSPRNG."""
    return secrets.token_bytes(SECRET_LEN)


def write_secret(path: Path, secret: bytes) -> None:
    """Write ``secret`` as hex to ``path`` atomically with mode 0600."""
    if len(secret) != SECRET_LEN:
        raise ValueError("master secret must be 32 bytes")
    atomic_write_bytes(path, secret.hex().encode() + b"\n", mode=0o600)


def load_secret(path: Path) -> bytes:
    """Read a master secret file (64 hex digits). Raises :class:`BadInput` naming the file."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise BadInput(f"cannot read secret: {exc.strerror}", file=str(path)) from None
    text = raw.strip()
    try:
        secret = bytes.fromhex(text.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        secret = b""
    if len(secret) != SECRET_LEN:
        raise BadInput("secret file must hold exactly 64 hex digits (a 32-byte master secret)", file=str(path))
    return secret


def secret_file_is_private(path: Path) -> bool:
    """True when no one but the owner can read the secret file."""
    return not (os.stat(path).st_mode & (stat.S_IRWXG | stat.S_IRWXO))


def derive_key(master: bytes, label: str) -> bytes:
    """``HKDF-SHA256(ikm=master, salt="por/v1/hkdf", info=label, L=32)``."""
    if len(master) != SECRET_LEN:
        raise ValueError("master secret must be 32 bytes")
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=HKDF_SALT, info=label.encode()).derive(master)


def hmac256(key: bytes, message: bytes) -> bytes:
    """HMAC-SHA256 (RFC 2104) in one call."""
    return hmac.digest(key, message, "sha256")


class Prf:
    """HMAC under one fixed key (SHA-256 unless ``digest="sha512"``), inner and outer states precomputed.

    Exactly RFC 2104 HMAC (tests compare it with :func:`hmac.digest`), about
    2.5x faster per call than the one-shot form on short messages, which matters
    for the millions of per-leaf derivations of a large snapshot.
    """

    __slots__ = ("key", "_inner", "_outer")

    def __init__(self, key: bytes, digest: str = "sha256") -> None:
        new = getattr(hashlib, digest)
        block_size = new().block_size
        if len(key) > block_size:
            raise ValueError("key longer than the hash block")
        block = key.ljust(block_size, b"\0")
        self.key = key
        self._inner = new(bytes(b ^ 0x36 for b in block))
        self._outer = new(bytes(b ^ 0x5C for b in block))

    def __call__(self, message: bytes) -> bytes:
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()

    def many(self, n: int, segments: Sequence[Segment]) -> bytes:
        """This HMAC (SHA-256 only) of ``n`` messages given as rows of segments (:func:`~por.core.batchhash.hash_rows`)."""
        if self._inner.name != "sha256":
            raise ValueError("batch HMAC is SHA-256 only")
        return hash_rows(n, segments, key=self.key)


def _unavailable(message: bytes) -> bytes:
    raise RuntimeError("this key is not given to shard tasks")


@dataclass(frozen=True)
class SnapshotKeys:
    """The subkeys of one master secret (as keyed PRFs), with the per-leaf derivations of SPEC.md §4."""

    salt: Prf
    position: Prf
    padding: Prf
    blinding_key: bytes
    nonce_key: bytes

    @classmethod
    def from_master(cls, master: bytes) -> "SnapshotKeys":
        return cls(
            salt=Prf(derive_key(master, LABEL_SALT)),
            position=Prf(derive_key(master, LABEL_POSITION)),
            padding=Prf(derive_key(master, LABEL_PADDING)),
            blinding_key=derive_key(master, LABEL_BLINDING),
            nonce_key=derive_key(master, LABEL_NONCE),
        )

    @classmethod
    def for_shard(cls, salt_key: bytes, blinding_key: bytes) -> "SnapshotKeys":
        """The keys a shard task gets (leaf salts, blindings): never the master secret, nor the
        position, padding and nonce keys (using those raises)."""
        return cls(salt=Prf(salt_key), position=_unavailable, padding=_unavailable,  # type: ignore[arg-type]
                   blinding_key=blinding_key, nonce_key=b"")

    @staticmethod
    def scope(snapshot_id: str, bucket_id: str) -> bytes:
        """``lp(snapshot_id) || lp(bucket_id)``: the prefix of every per-leaf message."""
        return lp(snapshot_id) + lp(bucket_id)

    def leaf_salt(self, snapshot_id: str, bucket_id: str, account_id: str) -> bytes:
        """``HMAC(k_salt, lp(snapshot_id) || lp(bucket_id) || lp(account_id))``, given to the user."""
        return self.salt(self.scope(snapshot_id, bucket_id) + lp(account_id))

    def position_sort_key(self, snapshot_id: str, bucket_id: str, account_id: str) -> bytes:
        """``HMAC(k_position, lp(snapshot_id) || lp(bucket_id) || lp(account_id))``: orders real leaves."""
        return self.position(self.scope(snapshot_id, bucket_id) + lp(account_id))

    def padding_seed(self, snapshot_id: str, bucket_id: str, j: int) -> bytes:
        """``HMAC(k_padding, lp(snapshot_id) || lp(bucket_id) || u64(j))``: seed *and* sort key of padding leaf j."""
        return self.padding(self.scope(snapshot_id, bucket_id) + u64(j))


def blinding_factors(prf: Prf, seed: bytes, n_assets: int, order: int) -> list[int]:
    """Hiding mode: the blinding factor of each asset of the leaf whose salt or padding seed is ``seed``.

    ``r_a = 1 + (int(HMAC-SHA512(k_blinding, seed[32] || u16(a))) mod (order - 1))``, big-endian,
    so ``r_a`` is in ``[1, order - 1]`` (never zero; bias below 2^-250). ``prf`` is
    ``Prf(k_blinding, "sha512")`` and ``order`` the group order (SPEC.md §15.1).
    """
    m = order - 1
    return [1 + int.from_bytes(prf(seed + a.to_bytes(2, "big")), "big") % m for a in range(n_assets)]
