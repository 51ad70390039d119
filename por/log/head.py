"""Signed tree heads of the transparency log, and the log's secp256k1 signing key.

* head   ``TAG("log-head") || u64(size) || tree_root[32]``, signed as
  ECDSA-secp256k1 over ``z = H(head_bytes)`` (RFC 6979 nonce, low-S, 64-byte r||s).

Key files hold the private key as 64 hex digits; :func:`verify_head` checks a ``por-log-head``
document and its signature.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from coincurve import PrivateKey, PublicKey
from coincurve.ecdsa import cdata_to_der, der_to_cdata, deserialize_compact, serialize_compact

from por.core.encoding import H, tag, u64
from por.core.errors import BadInput, VerificationFailed
from por.core.fileio import atomic_write_bytes
from por.log.documents import HEAD_FORMAT, LOG_VERSION, _bad, _check_format, _exact_keys, _hex32, _uint
from por.log.merkle import EMPTY_ROOT, MAX_LOG_SIZE

TAG_LOG_HEAD = tag("log-head")

_PUBKEY_RE = re.compile(r"0[23][0-9a-f]{64}")
_SIG_RE = re.compile(r"[0-9a-f]{128}")


# ------------------------------------------------------------------ keys and signed heads

def head_bytes(size: int, root: bytes) -> bytes:
    """``TAG("log-head") || u64(size) || root[32]``: the signed statement."""
    if len(root) != 32:
        raise ValueError("root must be 32 bytes")
    return TAG_LOG_HEAD + u64(size) + root


def generate_log_key(path: Path) -> bytes:
    """Create a fresh signing key file (64 hex digits + newline, mode 0600); returns the compressed public key.

    Refuses to overwrite an existing file.
    """
    path = Path(path)
    if path.exists():
        raise BadInput("key file already exists (refusing to overwrite a signing key)", file=str(path))
    key = PrivateKey()
    atomic_write_bytes(path, key.secret.hex().encode() + b"\n", mode=0o600)
    return key.public_key.format(compressed=True)


def load_log_key(path: Path) -> PrivateKey:
    """Read a signing key file: exactly 64 hex digits (optional surrounding whitespace), a valid secp256k1 scalar."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise BadInput(f"cannot read key: {exc.strerror}", file=str(path)) from None
    try:
        text = raw.strip().decode("ascii")
        if not re.fullmatch(r"[0-9a-fA-F]{64}", text):
            raise ValueError
        return PrivateKey(bytes.fromhex(text))
    except ValueError:
        raise BadInput("key file must hold 64 hex digits: a secp256k1 private key in [1, n-1]",
                       file=str(path)) from None


def sign_head(key: PrivateKey, size: int, root: bytes) -> "SignedHead":
    """Sign ``(size, root)``: ECDSA over ``z = H(head_bytes)``, RFC 6979 nonce, low-S, compact r||s."""
    z = H(head_bytes(size, root))
    der = key.sign(z, hasher=None)  # libsecp256k1: RFC 6979 nonce, normalised to low-S
    sig = serialize_compact(der_to_cdata(der))
    return SignedHead(size, root, key.public_key.format(compressed=True), sig)


@dataclass(frozen=True)
class SignedHead:
    """A signed tree head: the log's size and root, the signer's public key and the signature."""

    size: int
    root: bytes
    public_key: bytes
    signature: bytes

    def to_dict(self) -> dict[str, Any]:
        return {"format": HEAD_FORMAT, "version": LOG_VERSION, "size": self.size, "root": self.root.hex(),
                "public_key": self.public_key.hex(), "signature": self.signature.hex()}


def parse_pubkey(value: str | bytes, *, field: str = "pubkey") -> bytes:
    """A compressed secp256k1 public key (66 hex digits, ``02``/``03`` prefix) given by the user."""
    if isinstance(value, str):
        v = value.lower()
        if not _PUBKEY_RE.fullmatch(v):
            raise BadInput("public key must be 66 hex digits (compressed secp256k1, 02/03 prefix)", field=field)
        value = bytes.fromhex(v)
    try:
        PublicKey(value)
    except (ValueError, TypeError):
        raise BadInput("not a valid secp256k1 public key", field=field) from None
    if len(value) != 33:
        raise BadInput("public key must be compressed (33 bytes)", field=field)
    return value


def verify_head(head_doc: Any, expected_pubkey: str | bytes | None = None, *, file: str = "head") -> SignedHead:
    """Parse and verify a signed head document.

    Not a ``por-log-head`` v1 object: :class:`BadInput`. A malformed field, a bad
    signature, or a key other than ``expected_pubkey``: :class:`VerificationFailed`.
    """
    _check_format(head_doc, HEAD_FORMAT, file=file)
    _exact_keys(head_doc, {"format", "version", "size", "root", "public_key", "signature"}, where=file)
    size = _uint(head_doc["size"], where=file, field="size", limit=MAX_LOG_SIZE)
    root = _hex32(head_doc["root"], where=file, field="root")
    pk_hex = head_doc["public_key"]
    if not isinstance(pk_hex, str) or not _PUBKEY_RE.fullmatch(pk_hex):
        raise _bad(file, "public_key", "must be 66 lowercase hex digits (compressed secp256k1)")
    try:
        pub = PublicKey(bytes.fromhex(pk_hex))
    except ValueError:
        raise _bad(file, "public_key", "is not a point on secp256k1") from None
    sig_hex = head_doc["signature"]
    if not isinstance(sig_hex, str) or not _SIG_RE.fullmatch(sig_hex):
        raise _bad(file, "signature", "must be 128 lowercase hex digits (r || s)")
    if size == 0 and root != EMPTY_ROOT:
        raise _bad(file, "root", "the root of an empty log is SHA-256 of the empty string")
    if expected_pubkey is not None:
        want = parse_pubkey(expected_pubkey)
        if want.hex() != pk_hex:
            raise VerificationFailed(f"head is signed by {pk_hex}, not by the expected key {want.hex()}",
                                     where=file)
    sig = bytes.fromhex(sig_hex)
    z = H(head_bytes(size, root))
    try:
        ok = pub.verify(cdata_to_der(deserialize_compact(sig)), z, hasher=None)
    except ValueError:  # r or s not below the group order
        ok = False
    if not ok:
        raise VerificationFailed("bad signature: the head was not signed by its public key "
                                 "(or was altered after signing; high-S signatures are rejected)", where=file)
    return SignedHead(size, root, pub.format(compressed=True), sig)
