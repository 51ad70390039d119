"""The transparency log itself: an append-only log directory backed by pymerkle's SQLite tree.

The directory holds ``log.json`` (metadata: public key, key file), ``log.sqlite`` (pymerkle's
:class:`pymerkle.SqliteTree`: table ``leaf`` with ``id`` the 1-based index, ``entry`` the raw
entry bytes, ``hash`` the leaf hash) and, by default, ``log.key``. :class:`TransparencyLog`
appends entries, signs heads and produces inclusion / consistency proof documents (verified,
without the log, by :mod:`por.log.proofs`).
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pymerkle
from coincurve import PrivateKey

from por.core.errors import BadInput, VerificationFailed
from por.core.fileio import atomic_directory, atomic_write_json, read_json
from por.log.documents import CONSISTENCY_FORMAT, INCLUSION_FORMAT, LOG_FORMAT, LOG_VERSION
from por.log.entry import Entry
from por.log.head import SignedHead, generate_log_key, load_log_key, parse_pubkey, sign_head
from por.log.merkle import (
    HASH_ALGORITHM,
    LEAF_PREFIX,
    MAX_LOG_SIZE,
    NODE_PREFIX,
    consistency_layout,
    inclusion_layout,
    leaf_hash,
)

DB_NAME = "log.sqlite"
META_NAME = "log.json"
KEY_NAME = "log.key"


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
        if not meta_path.is_file():
            raise BadInput(f"not a por log directory (no readable {META_NAME}; create one with `por log init`)",
                           file=str(directory))
        meta_doc = read_json(meta_path, "log metadata")
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
