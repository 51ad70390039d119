"""Transparency log of snapshot roots (SPEC.md §11).

An append-only Merkle tree (RFC 9162 hashing) whose leaves are the snapshots an
exchange has published: snapshot id, time, root and, optionally, the transaction
that anchored the root on chain. The exchange signs the tree head (size and
root) with a secp256k1 key. A user or auditor who kept an old signed head can
demand a consistency proof to any later head; a log whose history was rewritten,
or a fork shown to different users, cannot produce one (and two signed heads of
the same size with different roots are themselves proof of equivocation).

The embedded store is pymerkle's :class:`pymerkle.SqliteTree` (table ``leaf``:
``id`` 1-based index, ``entry`` the raw entry bytes, ``hash`` the leaf hash),
configured with SHA-256 and its "security" mode on, which is exactly RFC 9162:

* leaf hash  ``H(0x00 || entry_bytes)``
* node hash  ``H(0x01 || left || right)``
* tree root  ``MTH`` of RFC 9162 section 2.1.1 (``H("")`` for the empty tree).

Proofs are pymerkle's inclusion / consistency paths; this module computes their
layout from the sizes alone (never trusting a layout sent with a proof), checks
it with pymerkle's verifiers, and wraps them in self-describing JSON documents.

Everything that is hashed or signed is laid out here:

* entry  ``TAG("log-entry") || lp(snapshot_id) || lp(as_of) || root[32] || anchor``
  with ``anchor = u8(0)`` or ``u8(1) || tx_hash[32]``
* head   ``TAG("log-head") || u64(size) || tree_root[32]``, signed as
  ECDSA-secp256k1 over ``z = H(head_bytes)`` (RFC 6979 nonce, low-S, 64-byte r||s).
"""

from __future__ import annotations

import fcntl
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pymerkle
from coincurve import PrivateKey, PublicKey
from coincurve.ecdsa import cdata_to_der, der_to_cdata, deserialize_compact, serialize_compact

from por.core.encoding import FORMAT_VERSION, H, lp, tag, u8, u64
from por.core.errors import BadInput, VerificationFailed
from por.core.fileio import atomic_directory, atomic_write_bytes, atomic_write_json, read_json

LOG_FORMAT = "por-log"
HEAD_FORMAT = "por-log-head"
INCLUSION_FORMAT = "por-log-inclusion-proof"
CONSISTENCY_FORMAT = "por-log-consistency-proof"
LOG_VERSION = FORMAT_VERSION

TAG_LOG_ENTRY = tag("log-entry")
TAG_LOG_HEAD = tag("log-head")

HASH_ALGORITHM = "sha256"
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = H(b"")
"""RFC 9162 MTH of the empty list: SHA-256 of the empty string."""

MAX_LOG_SIZE = 1 << 64

DB_NAME = "log.sqlite"
META_NAME = "log.json"
KEY_NAME = "log.key"

_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_AS_OF_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
_HEX32_RE = re.compile(r"[0-9a-f]{64}")
_PUBKEY_RE = re.compile(r"0[23][0-9a-f]{64}")
_SIG_RE = re.compile(r"[0-9a-f]{128}")
_TX_INPUT_RE = re.compile(r"(0[xX])?[0-9a-fA-F]{64}")


# ------------------------------------------------------------------ RFC 9162 hashing

def leaf_hash(entry_bytes: bytes) -> bytes:
    """``H(0x00 || entry_bytes)`` (RFC 9162 leaf hash; pymerkle ``hash_buff`` with security on)."""
    return H(LEAF_PREFIX + entry_bytes)


def node_hash(left: bytes, right: bytes) -> bytes:
    """``H(0x01 || left || right)`` (RFC 9162 interior node; pymerkle ``hash_pair``)."""
    return H(NODE_PREFIX + left + right)


def _split(width: int) -> int:
    """The largest power of two strictly less than ``width`` (``width >= 2``)."""
    k = 1 << (width.bit_length() - 1)
    return k >> 1 if k == width else k


def inclusion_layout(index: int, size: int) -> list[int]:
    """Side bits of the inclusion path of leaf ``index`` (0-based) in a tree of ``size`` leaves.

    The path has ``len(result)`` hashes: ``path[0]`` is the leaf hash, ``path[j]`` (j >= 1)
    the root of the sibling range met on the way up. ``result[j-1]`` is 1 when the node
    computed so far is the *right* child when combined with ``path[j]``. The last bit is
    the root's (always 0, unused). This is pymerkle's ``rule``.
    """
    if not 0 <= index < size:
        raise ValueError("index out of range")
    start, end, bit = 0, size, 0
    bits: list[int] = []
    while end - start > 1:
        k = _split(end - start)
        bits.append(bit)
        if index < start + k:
            end, bit = start + k, 0
        else:
            start, bit = start + k, 1
    return [bit] + bits[::-1]


def consistency_layout(old_size: int, new_size: int) -> tuple[list[int], list[int]]:
    """``(rule, subset)`` of pymerkle's consistency path between sizes ``1 <= m <= n``.

    ``subset[j]`` is 1 when ``path[j]`` is the root of a range inside the old tree
    (these fold, right to left, into the old root); ``rule`` is as in
    :func:`inclusion_layout`, for recomputing the new root from the whole path.
    """
    if not 1 <= old_size <= new_size:
        raise ValueError("sizes out of range")
    start, pw, w, bit = 0, old_size, new_size, 0
    bits: list[int] = []
    masks: list[int] = []
    while not (pw == w or (pw == 0 and w == 1)):
        k = _split(w)
        bits.append(bit)
        if pw < k:
            masks.append(0)
            w, bit = k, 0
        else:
            masks.append(1)
            start, pw, w, bit = start + k, pw - k, w - k, 1
    base_mask = 1 if pw == w else 0
    return [bit] + bits[::-1], [base_mask] + masks[::-1]


def mth(leaf_hashes: list[bytes]) -> bytes:
    """RFC 9162 Merkle tree hash of a list of leaf hashes (reference; the log uses pymerkle)."""
    n = len(leaf_hashes)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaf_hashes[0]
    k = _split(n)
    return node_hash(mth(leaf_hashes[:k]), mth(leaf_hashes[k:]))


# ------------------------------------------------------------------ entries

def parse_anchor_tx(value: str | bytes | None, *, field: str = "anchor_tx") -> bytes | None:
    """A 32-byte transaction hash given as 64 hex digits (an optional ``0x`` prefix and capitals allowed)."""
    if value is None:
        return None
    if isinstance(value, bytes):
        if len(value) != 32:
            raise BadInput("anchor tx hash must be 32 bytes", field=field)
        return value
    if not isinstance(value, str) or not _TX_INPUT_RE.fullmatch(value):
        raise BadInput("anchor tx must be a 32-byte transaction hash: 64 hex digits, optional 0x", field=field)
    return bytes.fromhex(value[2:] if value[:2] in ("0x", "0X") else value)


@dataclass(frozen=True)
class Entry:
    """One log entry: a published snapshot root and, optionally, the tx that anchored it."""

    snapshot_id: str
    as_of: str
    root: bytes
    anchor_tx: bytes | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.snapshot_id, str) or not _ID_RE.fullmatch(self.snapshot_id):
            raise ValueError("bad snapshot_id")
        if not isinstance(self.as_of, str) or not _AS_OF_RE.fullmatch(self.as_of):
            raise ValueError("bad as_of")
        if not isinstance(self.root, bytes) or len(self.root) != 32:
            raise ValueError("root must be 32 bytes")
        if self.anchor_tx is not None and (not isinstance(self.anchor_tx, bytes) or len(self.anchor_tx) != 32):
            raise ValueError("anchor_tx must be 32 bytes")

    @classmethod
    def from_snapshot(cls, snapshot: Any, anchor_tx: str | bytes | None = None) -> "Entry":
        return cls(snapshot.config.snapshot_id, snapshot.config.as_of, snapshot.root, parse_anchor_tx(anchor_tx))

    def encode(self) -> bytes:
        """``TAG("log-entry") || lp(snapshot_id) || lp(as_of) || root[32] || anchor``."""
        anchor = u8(0) if self.anchor_tx is None else u8(1) + self.anchor_tx
        return TAG_LOG_ENTRY + lp(self.snapshot_id) + lp(self.as_of) + self.root + anchor

    def leaf_hash(self) -> bytes:
        return leaf_hash(self.encode())

    @classmethod
    def decode(cls, data: bytes) -> "Entry":
        """Strict inverse of :meth:`encode` (``ValueError`` on any deviation)."""
        pos = 0

        def take(n: int) -> bytes:
            nonlocal pos
            if pos + n > len(data):
                raise ValueError("truncated entry")
            chunk = data[pos : pos + n]
            pos += n
            return chunk

        def take_lp() -> str:
            return take(int.from_bytes(take(4), "big")).decode("utf-8")

        if take(len(TAG_LOG_ENTRY)) != TAG_LOG_ENTRY:
            raise ValueError("not a log entry")
        snapshot_id, as_of, root = take_lp(), take_lp(), take(32)
        flag = take(1)[0]
        if flag == 0:
            anchor = None
        elif flag == 1:
            anchor = take(32)
        else:
            raise ValueError("bad anchor flag")
        if pos != len(data):
            raise ValueError("trailing bytes after entry")
        entry = cls(snapshot_id, as_of, root, anchor)
        if entry.encode() != data:
            raise ValueError("non-canonical entry")
        return entry

    def to_dict(self) -> dict[str, Any]:
        return {"snapshot_id": self.snapshot_id, "as_of": self.as_of, "root": self.root.hex(),
                "anchor_tx": None if self.anchor_tx is None else self.anchor_tx.hex()}

    @classmethod
    def from_dict(cls, obj: Any, *, where: str, field: str = "entry") -> "Entry":
        """Parse the JSON form; any deviation is :class:`VerificationFailed` (it sits inside a proof)."""
        _exact_keys(obj, {"snapshot_id", "as_of", "root", "anchor_tx"}, where=where, field=field)
        sid, as_of = obj["snapshot_id"], obj["as_of"]
        if not isinstance(sid, str) or not _ID_RE.fullmatch(sid):
            raise _bad(where, f"{field}.snapshot_id", "must be a snapshot id (1-64 chars A-Za-z0-9._-)")
        if not isinstance(as_of, str) or not _AS_OF_RE.fullmatch(as_of):
            raise _bad(where, f"{field}.as_of", 'must be "YYYY-MM-DDTHH:MM:SSZ"')
        root = _hex32(obj["root"], where=where, field=f"{field}.root")
        anchor = None if obj["anchor_tx"] is None else _hex32(obj["anchor_tx"], where=where, field=f"{field}.anchor_tx")
        return cls(sid, as_of, root, anchor)


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


# ------------------------------------------------------------------ the log

@dataclass(frozen=True)
class LogMeta:
    public_key: bytes
    key_file: str

    def to_dict(self) -> dict[str, Any]:
        return {"format": LOG_FORMAT, "version": LOG_VERSION, "public_key": self.public_key.hex(),
                "key_file": self.key_file}


class TransparencyLog:
    """An append-only log directory: ``log.json`` (metadata), ``log.sqlite`` (pymerkle store), ``log.key``."""

    def __init__(self, directory: Path, meta: LogMeta, tree: pymerkle.SqliteTree) -> None:
        self.dir = Path(directory)
        self.meta = meta
        self.tree = tree
        self._entries: list[Entry] = []
        self._index: dict[str, int] = {}

    # ---------------------------------------------------------- open / create

    @staticmethod
    def _tree(path: Path) -> pymerkle.SqliteTree:
        tree = pymerkle.SqliteTree(str(path), algorithm=HASH_ALGORITHM)
        # Guard the hashing this module (and SPEC.md §11) relies on.
        if not (tree.algorithm == HASH_ALGORITHM and tree.security and tree.leaf_prefix == LEAF_PREFIX
                and tree.node_prefix == NODE_PREFIX):
            tree.close()
            raise RuntimeError("pymerkle is not configured for RFC 9162 hashing (sha256, 0x00/0x01 prefixes)")
        return tree

    @classmethod
    def create(cls, directory: Path, key_path: Path | None = None) -> "TransparencyLog":
        """Create an empty log in ``directory`` (new or empty), with a fresh ``log.key`` unless ``key_path`` is given."""
        directory = Path(directory)
        if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
            raise BadInput("log directory exists and is not empty", file=str(directory))
        if key_path is not None:
            public = load_log_key(key_path).public_key.format(compressed=True)
            key_file = str(Path(key_path).resolve())
        with atomic_directory(directory) as stage:
            if key_path is None:
                public = generate_log_key(stage / KEY_NAME)
                key_file = KEY_NAME
            cls._tree(stage / DB_NAME).close()
            atomic_write_json(stage / META_NAME, LogMeta(public, key_file).to_dict())
        return cls.open(directory)

    @classmethod
    def open(cls, directory: Path) -> "TransparencyLog":
        """Open an existing log and check every stored leaf hash against its entry."""
        directory = Path(directory)
        meta_path = directory / META_NAME
        try:
            meta_doc = json.loads(meta_path.read_bytes())
        except OSError:
            raise BadInput(f"not a por log directory (no readable {META_NAME}; create one with `por log init`)",
                           file=str(directory)) from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadInput(f"invalid JSON: {exc}", file=str(meta_path)) from None
        if (not isinstance(meta_doc, dict) or meta_doc.get("format") != LOG_FORMAT
                or set(meta_doc) != {"format", "version", "public_key", "key_file"}):
            raise BadInput(f"not a {LOG_FORMAT} metadata file", file=str(meta_path))
        if type(meta_doc["version"]) is not int or meta_doc["version"] != LOG_VERSION:
            raise BadInput(f"unsupported log version {meta_doc['version']!r}", file=str(meta_path), field="version")
        public = parse_pubkey(meta_doc["public_key"], field="public_key")
        if not isinstance(meta_doc["key_file"], str) or not meta_doc["key_file"]:
            raise BadInput("key_file must be a path", file=str(meta_path), field="key_file")
        if not (directory / DB_NAME).is_file():
            raise BadInput(f"log store {DB_NAME} is missing", file=str(directory))
        try:
            tree = cls._tree(directory / DB_NAME)
        except ValueError as exc:  # pymerkle: non-contiguous leaf ids
            raise VerificationFailed(f"log store is corrupt: {exc}", where=str(directory / DB_NAME)) from None
        log = cls(directory, LogMeta(public, meta_doc["key_file"]), tree)
        try:
            log._refresh()
        except BaseException:
            log.close()
            raise
        return log

    def close(self) -> None:
        self.tree.close()

    def __enter__(self) -> "TransparencyLog":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _refresh(self) -> None:
        """Load (and check) the entries appended since the last look, possibly by another process."""
        size = self.tree.get_size()
        where = str(self.dir / DB_NAME)
        for i in range(len(self._entries) + 1, size + 1):
            data, stored = self.tree.get_entry(i), self.tree.get_leaf(i)
            if not isinstance(data, bytes) or stored != leaf_hash(data):
                raise VerificationFailed(f"leaf {i - 1}: stored hash is not the hash of the stored entry", where=where)
            try:
                entry = Entry.decode(data)
            except (ValueError, UnicodeDecodeError) as exc:
                raise VerificationFailed(f"leaf {i - 1}: undecodable entry ({exc})", where=where) from None
            if entry.snapshot_id in self._index:
                raise VerificationFailed(f"leaf {i - 1}: snapshot {entry.snapshot_id!r} is logged twice", where=where)
            self._index[entry.snapshot_id] = i - 1
            self._entries.append(entry)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """Exclusive lock (flock on log.json) so that concurrent appenders see each other's entries."""
        with open(self.dir / META_NAME, "rb") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    # ---------------------------------------------------------- reading

    @property
    def size(self) -> int:
        return self.tree.get_size()

    @property
    def public_key(self) -> bytes:
        return self.meta.public_key

    def root(self, size: int | None = None) -> bytes:
        """RFC 9162 tree root of the first ``size`` entries (default: all)."""
        if size is not None and not 0 <= size <= self.size:
            raise BadInput(f"size {size} is outside the log (0..{self.size})", field="size")
        return self.tree.get_root(size)

    def entries(self) -> list[Entry]:
        self._refresh()
        return list(self._entries)

    def lookup(self, snapshot_id: str) -> tuple[int, Entry]:
        """``(leaf index, entry)`` of a logged snapshot; :class:`BadInput` if it is not in the log."""
        self._refresh()
        if snapshot_id not in self._index:
            raise BadInput(f"snapshot {snapshot_id!r} is not in the log", field="snapshot_id")
        i = self._index[snapshot_id]
        return i, self._entries[i]

    def key_path(self) -> Path:
        p = Path(self.meta.key_file)
        return p if p.is_absolute() else self.dir / p

    def load_key(self, path: Path | None = None) -> PrivateKey:
        """The signing key (default: the log's key file); must match the log's public key."""
        key = load_log_key(path if path is not None else self.key_path())
        if key.public_key.format(compressed=True) != self.public_key:
            raise BadInput("this key is not the log's signing key (public key differs from log.json)",
                           file=str(path if path is not None else self.key_path()))
        return key

    # ---------------------------------------------------------- writing

    def append(self, snapshot: Any, anchor_tx: str | bytes | None = None) -> Entry:
        """Append a (verified) snapshot's root as the next entry.

        The same snapshot id with a different root is equivocation
        (:class:`VerificationFailed`); the identical entry again is :class:`BadInput`.
        """
        entry = Entry.from_snapshot(snapshot, anchor_tx)
        with self._locked():
            self._refresh()
            if entry.snapshot_id in self._index:
                i = self._index[entry.snapshot_id]
                old = self._entries[i]
                if old == entry:
                    raise BadInput(f"snapshot {entry.snapshot_id!r} is already logged (entry {i})",
                                   field="snapshot_id")
                if old.root != entry.root or old.as_of != entry.as_of:
                    raise VerificationFailed(
                        f"equivocation: snapshot {entry.snapshot_id!r} is logged at entry {i} with root "
                        f"{old.root.hex()}, refusing a second root {entry.root.hex()} for the same id",
                        where="log append")
                raise BadInput(f"snapshot {entry.snapshot_id!r} is already logged (entry {i}) with anchor tx "
                               f"{old.anchor_tx.hex() if old.anchor_tx else 'none'}; a log entry cannot be changed",
                               field="anchor_tx")
            if self.tree.get_size() + 1 >= MAX_LOG_SIZE:
                raise BadInput("log is full")
            self.tree.append_entry(entry.encode())
            self._refresh()
        return entry

    def head(self, key: PrivateKey | Path | None = None, size: int | None = None) -> SignedHead:
        """Sign the head at ``size`` (default: the current size) with the log's key (or ``key``)."""
        if key is None or isinstance(key, (str, Path)):
            key = self.load_key(Path(key) if key is not None else None)
        elif key.public_key.format(compressed=True) != self.public_key:
            raise BadInput("this key is not the log's signing key (public key differs from log.json)")
        n = self.size if size is None else size
        return sign_head(key, n, self.root(n))

    def prove_inclusion(self, snapshot_id: str, size: int | None = None) -> dict[str, Any]:
        """Inclusion proof of a logged snapshot in the tree of ``size`` entries (default: current)."""
        index, entry = self.lookup(snapshot_id)
        n = self.size if size is None else size
        if not index < n <= self.size:
            raise BadInput(f"tree size must be in {index + 1}..{self.size} to contain entry {index}", field="size")
        proof = self.tree.prove_inclusion(index + 1, n)
        if proof.rule != inclusion_layout(index, n) or proof.path[0] != entry.leaf_hash():
            raise RuntimeError("pymerkle produced an unexpected inclusion proof layout")
        return {"format": INCLUSION_FORMAT, "version": LOG_VERSION, "entry": entry.to_dict(),
                "leaf_index": index, "tree_size": n, "tree_root": self.root(n).hex(),
                "path": [d.hex() for d in proof.path]}

    def prove_consistency(self, old_size: int, new_size: int | None = None) -> dict[str, Any]:
        """Consistency proof that the tree of ``old_size`` entries is a prefix of the one of ``new_size``."""
        n = self.size if new_size is None else new_size
        if not 0 <= n <= self.size:
            raise BadInput(f"new size must be in 0..{self.size}", field="new_size")
        if not isinstance(old_size, int) or not 0 <= old_size <= n:
            raise BadInput(f"old size must be in 0..{n}", field="old_size")
        if old_size == 0:
            path: list[bytes] = []
        else:
            proof = self.tree.prove_consistency(old_size, n)
            if (proof.rule, proof.subset) != consistency_layout(old_size, n):
                raise RuntimeError("pymerkle produced an unexpected consistency proof layout")
            path = proof.path
        return {"format": CONSISTENCY_FORMAT, "version": LOG_VERSION,
                "old_size": old_size, "old_root": self.root(old_size).hex(),
                "new_size": n, "new_root": self.root(n).hex(),
                "path": [d.hex() for d in path]}


# ------------------------------------------------------------------ verification (no log needed)

@dataclass(frozen=True)
class InclusionResult:
    entry: Entry
    leaf_index: int
    head: SignedHead

    def to_dict(self) -> dict[str, Any]:
        return {"valid": True, "entry": self.entry.to_dict(), "leaf_index": self.leaf_index,
                "tree_size": self.head.size, "tree_root": self.head.root.hex(),
                "public_key": self.head.public_key.hex()}


@dataclass(frozen=True)
class ConsistencyResult:
    old_head: SignedHead
    new_head: SignedHead

    def to_dict(self) -> dict[str, Any]:
        return {"consistent": True, "public_key": self.new_head.public_key.hex(),
                "old_size": self.old_head.size, "old_root": self.old_head.root.hex(),
                "new_size": self.new_head.size, "new_root": self.new_head.root.hex()}


def verify_inclusion(
    proof_doc: Any,
    head_doc: Any,
    *,
    expected_pubkey: str | bytes | None = None,
    snapshot: Any = None,
    proof_file: str = "inclusion proof",
    head_file: str = "head",
) -> InclusionResult:
    """Check that the proof's entry is leaf ``leaf_index`` of the tree the signed head commits to.

    With ``snapshot`` (a verified :class:`por.snapshot.document.Snapshot`), the entry must also
    carry that snapshot's id, time and root.
    """
    head = verify_head(head_doc, expected_pubkey, file=head_file)
    w = proof_file
    _check_format(proof_doc, INCLUSION_FORMAT, file=w)
    _exact_keys(proof_doc, {"format", "version", "entry", "leaf_index", "tree_size", "tree_root", "path"}, where=w)
    entry = Entry.from_dict(proof_doc["entry"], where=w)
    size = _uint(proof_doc["tree_size"], where=w, field="tree_size", limit=MAX_LOG_SIZE)
    index = _uint(proof_doc["leaf_index"], where=w, field="leaf_index", limit=MAX_LOG_SIZE)
    tree_root = _hex32(proof_doc["tree_root"], where=w, field="tree_root")
    path = _hex_list(proof_doc["path"], where=w)
    if size == head.size and tree_root != head.root:
        raise VerificationFailed(
            f"proof is for a tree of size {size} with root {tree_root.hex()}, but the head of that size has root "
            f"{head.root.hex()}: another version of the log (rewritten or forked)", where=w)
    if size != head.size:
        raise VerificationFailed(
            f"proof is for the tree of size {size} with root {tree_root.hex()}, but the head is size {head.size} "
            f"with root {head.root.hex()} (ask for a proof at the head's size)", where=w)
    if not index < size:
        raise _bad(w, "leaf_index", f"{index} is not below tree_size {size}")
    rule = inclusion_layout(index, size)
    if len(path) != len(rule):
        raise _bad(w, "path", f"must hold {len(rule)} hashes for leaf {index} of {size}, not {len(path)}")
    base = entry.leaf_hash()
    if path[0] != base:
        raise _bad(w, "path[0]", "is not the leaf hash of the entry")
    proof = pymerkle.InclusionProof(HASH_ALGORITHM, True, size, index + 1, rule, path)
    try:
        pymerkle.verify_inclusion(base, head.root, proof, index=index + 1, size=size,
                                  algorithm=HASH_ALGORITHM, security=True)
    except pymerkle.InvalidProof as exc:
        raise VerificationFailed(f"the path does not lead from the entry to the head's root ({exc})", where=w) from None
    if snapshot is not None:
        cfg = snapshot.config
        for name, got, want in (("snapshot_id", entry.snapshot_id, cfg.snapshot_id),
                                ("as_of", entry.as_of, cfg.as_of),
                                ("root", entry.root.hex(), snapshot.root.hex())):
            if got != want:
                raise VerificationFailed(f"logged {name} {got} differs from the snapshot's {want}", where=w)
    return InclusionResult(entry, index, head)


def verify_consistency(
    proof_doc: Any,
    old_head_doc: Any,
    new_head_doc: Any,
    *,
    expected_pubkey: str | bytes | None = None,
    proof_file: str = "consistency proof",
    old_head_file: str = "old head",
    new_head_file: str = "new head",
) -> ConsistencyResult:
    """Check that the log at the old head is a prefix of the log at the new head.

    Both heads must verify and carry the same public key (``expected_pubkey`` when given).
    Fails (:class:`VerificationFailed`) on a rewritten or forked history.
    """
    old = verify_head(old_head_doc, expected_pubkey, file=old_head_file)
    new = verify_head(new_head_doc, expected_pubkey if expected_pubkey is not None else old.public_key,
                      file=new_head_file)
    w = proof_file
    _check_format(proof_doc, CONSISTENCY_FORMAT, file=w)
    _exact_keys(proof_doc, {"format", "version", "old_size", "old_root", "new_size", "new_root", "path"}, where=w)
    m = _uint(proof_doc["old_size"], where=w, field="old_size", limit=MAX_LOG_SIZE)
    n = _uint(proof_doc["new_size"], where=w, field="new_size", limit=MAX_LOG_SIZE)
    old_root = _hex32(proof_doc["old_root"], where=w, field="old_root")
    new_root = _hex32(proof_doc["new_root"], where=w, field="new_root")
    path = _hex_list(proof_doc["path"], where=w)
    if old.size > new.size:
        raise VerificationFailed(f"the new head (size {new.size}) is smaller than the old head (size {old.size}): "
                                 "the log was truncated or rolled back (or the heads are swapped)", where=new_head_file)
    if old.size == new.size and old.root != new.root:
        raise VerificationFailed(f"two different signed heads for size {old.size} ({old.root.hex()} and "
                                 f"{new.root.hex()}): the log forked (equivocation)", where=new_head_file)
    if (m, n) != (old.size, new.size):
        raise VerificationFailed(f"proof is from size {m} to {n}, the heads are sizes {old.size} and {new.size}",
                                 where=w)
    if new_root != new.root:
        raise _bad(w, "new_root", "differs from the new head's root")
    if old_root != old.root:
        raise VerificationFailed(
            f"the log's history at size {m} has root {old_root.hex()}, not {old.root.hex()} from the head you "
            "kept: the history was rewritten or forked", where=w)
    if m == 0:
        if path:
            raise _bad(w, "path", "must be empty when old_size is 0")
        if old.root != EMPTY_ROOT:  # verify_head already enforces this
            raise _bad(old_head_file, "root", "is not the empty-log root")
        return ConsistencyResult(old, new)
    rule, subset = consistency_layout(m, n)
    if len(path) != len(rule):
        raise _bad(w, "path", f"must hold {len(rule)} hashes from size {m} to {n}, not {len(path)}")
    proof = pymerkle.ConsistencyProof(HASH_ALGORITHM, True, n, m, rule, subset, path)
    try:
        pymerkle.verify_consistency(old.root, new.root, proof, prior_size=m, later_size=n,
                                    algorithm=HASH_ALGORITHM, security=True)
    except pymerkle.InvalidProof as exc:
        raise VerificationFailed(f"the log at size {n} does not extend the log at size {m} ({exc}): "
                                 "the history was rewritten or forked", where=w) from None
    return ConsistencyResult(old, new)


# ------------------------------------------------------------------ strict field parsing

def _bad(where: str, field: str, message: str) -> VerificationFailed:
    return VerificationFailed(f"field {field!r} {message}", where=where)


def _check_format(doc: Any, fmt: str, *, file: str) -> None:
    """Not an object of format ``fmt`` and version 1: bad input (exit 2)."""
    if not isinstance(doc, dict) or doc.get("format") != fmt:
        raise BadInput(f"not a {fmt} document", file=file, field="format")
    v = doc.get("version")
    if type(v) is not int or v != LOG_VERSION:
        raise BadInput(f"unsupported {fmt} version {v!r} (this por reads {LOG_VERSION})", file=file, field="version")


def _exact_keys(obj: Any, keys: set[str], *, where: str, field: str = "$") -> None:
    if not isinstance(obj, dict):
        raise _bad(where, field, "must be an object")
    if set(obj) != keys:
        missing, extra = sorted(keys - set(obj)), sorted(set(obj) - keys)
        raise _bad(where, field, f"has the wrong keys (missing {missing}, unexpected {extra})")


def _uint(value: Any, *, where: str, field: str, limit: int) -> int:
    if type(value) is not int or not 0 <= value < limit:
        raise _bad(where, field, f"must be an integer in [0, {limit})")
    return value


def _hex32(value: Any, *, where: str, field: str) -> bytes:
    if not isinstance(value, str) or not _HEX32_RE.fullmatch(value):
        raise _bad(where, field, "must be 64 lowercase hex digits")
    return bytes.fromhex(value)


def _hex_list(value: Any, *, where: str, field: str = "path") -> list[bytes]:
    if not isinstance(value, list) or len(value) > 2 * 64 + 1:
        raise _bad(where, field, "must be a list of at most 129 hashes")
    return [_hex32(v, where=where, field=f"{field}[{i}]") for i, v in enumerate(value)]


def load_json(path: Path, what: str) -> Any:
    """Read a JSON document (BadInput naming the file if unreadable or not JSON)."""
    return read_json(path, what)
