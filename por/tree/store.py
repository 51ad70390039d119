"""The embedded SQLite store from which proofs are served (SPEC.md §7).

Private to the exchange: it holds every balance and leaf salt. A store is ``store.sqlite`` (0600) and,
beside it, the directory ``store/`` (0700) of one SQLite file per shard of every bucket tree
(``B-I.sqlite``, 0600), written by the sharded build's tasks and moved into place, never copied.

``store.sqlite``::

    meta(key TEXT PRIMARY KEY, value TEXT)      -- 'format', 'snapshot', 'nonce-key', 'position-key', 'zk-setup'
    buckets(bucket, scope, height, shard_height, shard_levels)
                                                -- scope = lp(snapshot_id) ‖ lp(bucket_id); levels 0 ..
                                                   shard_levels - 1 live in the shard files
    shards(bucket, shard, first_key)            -- each shard's smallest account sort key (NULL: no account)
    levels(bucket, level, chunk, hashes, sums, commits, blinds)  -- the levels above the shards' own

each shard file ``store/B-I.sqlite``::

    levels(...)                                 -- its nodes of levels 0 .. shard_levels - 1 (global chunks)
    zk_leaves(bucket, chunk, fields)            -- zk mode: account ‖ salt field elements per leaf
    accounts(bucket, first_key, keys, positions, salts, lines, id_offsets, ids)
    tails(...)                                  -- its nodes of the next levels (copied into store.sqlite)

``bucket`` is the index of the bucket in canonical (sorted) order; shard ``I`` of a bucket holds leaves
``I·2^s .. (I+1)·2^s - 1`` (``s`` = shard_height), so its nodes of level ``l`` are
``I·2^(s-l) .. (I+1)·2^(s-l) - 1``: a level is kept in the shard files while a shard's nodes fill whole
chunks of CHUNK (``2^(s-l) ≥ CHUNK``), and all of it when the tree is one shard. An accounts chunk holds
consecutive leaves of real accounts: ``keys`` their 32-byte sort keys (ascending), ``positions`` and
``lines`` little-endian u64 each, ``salts`` 32 bytes each, ``ids`` the UTF-8 account ids concatenated,
``id_offsets`` the ``n + 1`` little-endian u32 offsets of each id in ``ids``; an account is found with one
indexed lookup in ``shards`` (the shard with the largest first key not above its key), one in that shard's
``accounts`` and a binary search inside the chunk. ``hashes`` is 32 bytes per node, ``sums`` is V big-endian
u64 per node (the mode's value vector, :mod:`por.modes.values`). In hiding mode ``commits`` holds V 33-byte
commitments per node and ``blinds`` their V 32-byte blinding sums (empty blobs in public mode). In zk mode the
lowest ``k`` levels hold Poseidon hashes (32-byte field elements), ``zk_leaves`` the circuit's private leaf
inputs (64 bytes per leaf, index order) and ``meta`` the path of the setup directory (``zk-setup``).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from por.core.batchhash import Ragged
from por.core.encoding import POINT_LEN, lp, scalars
from por.core.errors import BadInput
from por.core.fileio import fsync_path
from por.core.keys import Prf
from por.tree.sumtree import Level


@dataclass(frozen=True)
class StoredNode:
    """One node as stored: hash, values, and (hiding mode) commitments and their blinding factors."""

    hash: bytes
    sums: list[int]
    commits: tuple[bytes, ...]
    blinds: list[int]

@dataclass
class AccountRows:
    """Consecutive account leaves of one bucket, in sort-key order: ``(n, 32)`` uint8 sort keys and salts,
    int64 positions and ledger lines, and the UTF-8 account ids."""

    keys: np.ndarray
    ids: Ragged
    positions: np.ndarray
    salts: np.ndarray
    lines: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)

    def slice(self, lo: int, hi: int) -> "AccountRows":
        return AccountRows(self.keys[lo:hi], self.ids.slice(lo, hi), self.positions[lo:hi], self.salts[lo:hi],
                           self.lines[lo:hi])



CHUNK = 4096
STORE_FORMAT = "por-store-5"
SHARD_DIR = "store"
"""The directory of shard files beside ``store.sqlite``."""
ZK_FIELDS = 64

_LEVELS = """
CREATE TABLE levels(
  bucket INTEGER NOT NULL, level INTEGER NOT NULL, chunk INTEGER NOT NULL,
  hashes BLOB NOT NULL, sums BLOB NOT NULL, commits BLOB NOT NULL, blinds BLOB NOT NULL,
  PRIMARY KEY (bucket, level, chunk)) WITHOUT ROWID;
"""
_MAIN_SCHEMA = _LEVELS + """
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE buckets(bucket INTEGER PRIMARY KEY, scope BLOB NOT NULL, height INTEGER NOT NULL,
  shard_height INTEGER NOT NULL, shard_levels INTEGER NOT NULL);
CREATE TABLE shards(bucket INTEGER NOT NULL, shard INTEGER NOT NULL, first_key BLOB,
  PRIMARY KEY (bucket, shard)) WITHOUT ROWID;
CREATE INDEX shards_by_key ON shards(bucket, first_key);
"""
_PART_SCHEMA = _LEVELS + """
CREATE TABLE accounts(
  bucket INTEGER NOT NULL, first_key BLOB NOT NULL, keys BLOB NOT NULL, positions BLOB NOT NULL,
  salts BLOB NOT NULL, lines BLOB NOT NULL, id_offsets BLOB NOT NULL, ids BLOB NOT NULL,
  PRIMARY KEY (bucket, first_key)) WITHOUT ROWID;
CREATE TABLE zk_leaves(
  bucket INTEGER NOT NULL, chunk INTEGER NOT NULL, fields BLOB NOT NULL,
  PRIMARY KEY (bucket, chunk)) WITHOUT ROWID;
CREATE TABLE tails(
  bucket INTEGER NOT NULL, level INTEGER NOT NULL, nodes INTEGER NOT NULL,
  hashes BLOB NOT NULL, sums BLOB NOT NULL, commits BLOB NOT NULL, blinds BLOB NOT NULL,
  PRIMARY KEY (bucket, level)) WITHOUT ROWID;
"""
_PRAGMAS = ("page_size=65536", "journal_mode=OFF", "synchronous=OFF", "temp_store=FILE", "cache_size=-65536")


def shard_levels(height: int, shard_height: int) -> int:
    """How many levels (from the leaves) of a bucket tree live in its shard files: every level when the tree
    is one shard, else those in which a shard's nodes fill whole chunks."""
    return height + 1 if shard_height >= height else max(0, shard_height - CHUNK.bit_length() + 2)


def shard_file(store_path: Path, bucket: int, shard: int) -> Path:
    """Where shard ``shard`` of bucket ``bucket`` lives, beside the store at ``store_path``."""
    return Path(store_path).parent / SHARD_DIR / f"{bucket}-{shard}.sqlite"


def _create(path: Path, schema: str) -> sqlite3.Connection:
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    os.close(fd)
    db = sqlite3.connect(path, isolation_level=None)
    for pragma in _PRAGMAS:
        db.execute(f"PRAGMA {pragma}")
    db.executescript(schema)
    db.execute("BEGIN")
    return db


class _Chunker:
    """Nodes of one level arriving in index order, cut into chunks of CHUNK nodes."""

    def __init__(self, first_chunk: int = 0) -> None:
        self.parts: list[bytearray] = [bytearray(), bytearray(), bytearray(), bytearray()]
        self.widths: tuple[int, ...] | None = None
        self.count = 0
        self.chunk = first_chunk

    def add(self, blobs: tuple[bytes, bytes, bytes, bytes], n: int) -> None:
        if self.widths is None:
            self.widths = tuple(len(b) // n if n else 0 for b in blobs)
        for part, blob in zip(self.parts, blobs):
            part += blob
        self.count += n

    def take(self, final: bool) -> list[tuple[int, tuple[bytes, ...]]]:
        out = []
        while self.count >= CHUNK or (final and self.count):
            n = min(CHUNK, self.count)
            cut = []
            for part, w in zip(self.parts, self.widths or (0, 0, 0, 0)):
                cut.append(bytes(part[: n * w]))
                del part[: n * w]
            out.append((self.chunk, tuple(cut)))
            self.chunk += 1
            self.count -= n
        return out


class _LevelWriter:
    """Tree levels cut into chunks of CHUNK nodes, each ``(bucket, level)`` arriving in index order."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self._levels: dict[tuple[int, int], _Chunker] = {}

    @staticmethod
    def blobs(lv: Level) -> tuple[bytes, bytes, bytes, bytes]:
        return (lv.hashes.tobytes(), lv.sums.astype(">u8").tobytes(),
                b"" if lv.commits is None else lv.commits.tobytes(), b"" if lv.blinds is None else lv.blinds.tobytes())

    def add_level(self, bucket: int, level: int, lv: Level, *, first_chunk: int = 0) -> None:
        """Append the nodes of ``lv`` (consecutive nodes of one level) to the bucket's level ``level``
        (``first_chunk``: the chunk number of the level's first node written here)."""
        self.add_blobs(bucket, level, self.blobs(lv), len(lv.hashes), first_chunk=first_chunk)

    def add_blobs(self, bucket: int, level: int, blobs: tuple[bytes, ...], n: int, *, first_chunk: int = 0) -> None:
        ch = self._levels.setdefault((bucket, level), _Chunker(first_chunk))
        ch.add(blobs, n)  # type: ignore[arg-type]
        self._emit(bucket, level, ch, final=False)

    def _emit(self, bucket: int, level: int, ch: _Chunker, *, final: bool) -> None:
        rows = [(bucket, level, c, *blobs) for c, blobs in ch.take(final)]
        if rows:
            self.db.executemany("INSERT INTO levels VALUES (?,?,?,?,?,?,?)", rows)

    def end_bucket(self, bucket: int) -> None:
        """Write the bucket's last partial chunks."""
        for (b, level), ch in sorted(self._levels.items()):
            if b == bucket:
                self._emit(b, level, ch, final=True)


class ShardWriter(_LevelWriter):
    """One shard's file (a sharded build's task): its levels in the shard files (chunks numbered globally),
    the nodes of the next levels as ``tails``, its zk leaf inputs and its accounts. Written in one go."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        super().__init__(_create(self.path, _PART_SCHEMA))
        self.first_key: bytes | None = None

    def add_tail(self, bucket: int, level: int, lv: Level) -> None:
        """The shard's nodes of a level that fill no chunk (the store appends them in shard order)."""
        self.db.execute("INSERT INTO tails VALUES (?,?,?,?,?,?,?)", (bucket, level, len(lv.hashes), *self.blobs(lv)))

    def add_zk_fields(self, bucket: int, fields: bytes, *, first_chunk: int) -> None:
        """zk mode: the leaves' circuit inputs (64 bytes per leaf, index order)."""
        chunks = _Chunker(first_chunk)
        chunks.add((fields, b"", b"", b""), len(fields) // ZK_FIELDS)
        self.db.executemany("INSERT INTO zk_leaves VALUES (?,?,?)",
                            [(bucket, c, blobs[0]) for c, blobs in chunks.take(True)])

    def add_accounts(self, bucket: int, a: AccountRows) -> None:
        """The shard's accounts, in sort-key order, in chunks of CHUNK."""
        if len(a):
            self.first_key = a.keys[0].tobytes()
        for lo in range(0, len(a), CHUNK):
            c = a.slice(lo, min(lo + CHUNK, len(a)))
            offsets = (c.ids.offsets - c.ids.offsets[0]).astype("<u4")
            self.db.execute("INSERT INTO accounts VALUES (?,?,?,?,?,?,?,?)",
                            (bucket, c.keys[0].tobytes(), c.keys.tobytes(), c.positions.astype("<u8").tobytes(),
                             c.salts.tobytes(), c.lines.astype("<u8").tobytes(), offsets.tobytes(), c.ids.tobytes()))

    def finish(self, bucket: int) -> None:
        """Write the last partial chunks, close, and fsync the file (here, in the task, while other tasks run:
        the store's writer then only moves it into place)."""
        self.end_bucket(bucket)
        self.db.execute("COMMIT")
        self.db.close()
        fsync_path(self.path)


class StoreWriter(_LevelWriter):
    """Writes a new store as a sharded build's shards arrive (bounded memory, nothing copied twice).

    For each bucket, in order: :meth:`add_shard` for every shard in shard order (the file is moved into
    ``store/``), then :meth:`add_level` for the levels above the shards', then :meth:`end_bucket`.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.dir = self.path.parent / SHARD_DIR
        self.dir.mkdir(mode=0o700)
        super().__init__(_create(self.path, _MAIN_SCHEMA))
        self._buckets: list[tuple[int, int, int, int]] = []
        self._copied: list[Path] = []

    def begin_bucket(self, bucket: int, height: int, shard_height: int) -> None:
        self._buckets.append((bucket, height, shard_height, shard_levels(height, shard_height)))

    def add_shard(self, bucket: int, shard: int, path: Path, first_key: bytes | None) -> None:
        """Take a shard file written by :class:`ShardWriter`: move it into ``store/`` and append its tails."""
        dest = shard_file(self.path, bucket, shard)
        try:
            os.replace(path, dest)  # the task synced it; the directory is synced at the end
        except OSError:  # another file system (a --work-dir elsewhere): copied, so synced again at the end
            shutil.move(str(path), dest)
            self._copied.append(dest)
        part = sqlite3.connect(f"file:{dest}?mode=ro", uri=True)
        try:
            tails = part.execute("SELECT level, nodes, hashes, sums, commits, blinds FROM tails WHERE bucket=? "
                                 "ORDER BY level", (bucket,)).fetchall()
        finally:
            part.close()
        for level, n, *blobs in tails:
            self.add_blobs(bucket, level, tuple(blobs), n)
        self.db.execute("INSERT INTO shards VALUES (?,?,?)", (bucket, shard, first_key))

    def finish(self, snapshot_json: str, nonce_key: bytes, position_key: bytes, scopes: list[bytes], *,
               zk_setup: Path | None = None) -> None:
        """Write metadata, close and fsync the store (its shard files were synced by their tasks).

        ``nonce_key`` (derived from the master secret) seeds the deterministic randomness of range
        proofs and batch proofs made from this store; ``position_key`` and the buckets' ``scopes``
        find an account's rows (``key = HMAC(k_position, scope ‖ lp(account_id))``, SPEC.md §4);
        ``zk_setup`` is remembered as the default setup of ``por zk prove``.
        """
        self.db.executemany("INSERT INTO buckets VALUES (?,?,?,?,?)",
                            [(b, scopes[b], h, s, n) for b, h, s, n in self._buckets])
        self.db.executemany("INSERT INTO meta VALUES (?,?)",
                            [("format", STORE_FORMAT), ("snapshot", snapshot_json), ("nonce-key", nonce_key.hex()),
                             ("position-key", position_key.hex())]
                            + ([("zk-setup", str(zk_setup))] if zk_setup is not None else []))
        self.db.execute("COMMIT")
        self.db.close()
        for f in [self.path, *self._copied, self.dir]:  # the directory: the shard files' names
            fsync_path(f)

    def abort(self) -> None:
        self.db.close()


class Store:
    """Read access to a built store (``store.sqlite`` and its shard files)."""

    MAX_OPEN = 64
    """Shard files kept open at once (least recently used closed first)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise BadInput("no store.sqlite here (run `por build` first)", file=str(self.path))
        self.db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
        try:
            fmt = self.db.execute("SELECT value FROM meta WHERE key='format'").fetchone()
        except sqlite3.DatabaseError as exc:
            raise BadInput(f"not a por store ({exc})", file=str(self.path)) from None
        if not fmt or fmt[0] != STORE_FORMAT:
            raise BadInput(f"store format {fmt and fmt[0]!r} is not {STORE_FORMAT!r}", file=str(self.path))
        self._layout = {b: (h, s, n) for b, h, s, n in
                        self.db.execute("SELECT bucket, height, shard_height, shard_levels FROM buckets")}
        self._open: OrderedDict[tuple[int, int], sqlite3.Connection] = OrderedDict()
        self._finder: tuple[Prf, list] | None = None

    def close(self) -> None:
        for db in self._open.values():
            db.close()
        self._open.clear()
        self.db.close()

    def _shard(self, bucket: int, shard: int) -> sqlite3.Connection:
        key = (bucket, shard)
        db = self._open.get(key)
        if db is None:
            path = shard_file(self.path, bucket, shard)
            if not path.is_file():
                raise BadInput(f"store has no shard file {path.name} (an incomplete copy of the store?)",
                               file=str(path))
            db = self._open[key] = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            if len(self._open) > self.MAX_OPEN:
                self._open.popitem(last=False)[1].close()
        else:
            self._open.move_to_end(key)
        return db

    def _shards(self, bucket: int) -> Iterator[sqlite3.Connection]:
        for (shard,) in self.db.execute("SELECT shard FROM shards WHERE bucket=? ORDER BY shard", (bucket,)).fetchall():
            yield self._shard(bucket, shard)

    def _level_db(self, bucket: int, level: int, index: int) -> sqlite3.Connection:
        """The file holding node ``index`` of ``level``."""
        if bucket not in self._layout:
            raise BadInput(f"store has no bucket {bucket}", file=str(self.path))
        height, s, levels = self._layout[bucket]
        if level >= levels:
            return self.db
        return self._shard(bucket, index >> (s - level) if s < height else 0)

    def snapshot_json(self) -> str:
        return self.db.execute("SELECT value FROM meta WHERE key='snapshot'").fetchone()[0]

    def nonce_key(self) -> bytes:
        """The secret key of the deterministic range-proof randomness (hiding mode)."""
        return bytes.fromhex(self.db.execute("SELECT value FROM meta WHERE key='nonce-key'").fetchone()[0])

    def zk_setup_dir(self) -> Path:
        """zk mode: the setup directory the snapshot was built with."""
        row = self.db.execute("SELECT value FROM meta WHERE key='zk-setup'").fetchone()
        if row is None:
            raise BadInput("store has no zk setup (not a zk-mode snapshot?); pass --setup", file=str(self.path))
        return Path(row[0])

    def _chunks(self, bucket: int, level: int, start: int, count: int, sql: str) -> Iterator[tuple[int, int, bytes]]:
        """``(lo, hi, blob)`` for each chunk holding nodes ``start .. start + count - 1`` of a level: the blob of
        column ``sql`` and the range of those nodes in it."""
        for chunk in range(start // CHUNK, (start + count - 1) // CHUNK + 1):
            row = self._level_db(bucket, level, chunk * CHUNK).execute(sql, (bucket, chunk)).fetchone()
            if row is None:
                raise BadInput(f"store has no level-{level} chunk {chunk} of bucket {bucket}", file=str(self.path))
            yield max(start, chunk * CHUNK) - chunk * CHUNK, min(start + count, (chunk + 1) * CHUNK) - chunk * CHUNK, row[0]

    def zk_fields(self, bucket: int, start: int, count: int) -> bytes:
        """zk mode: the 64-byte circuit inputs (account ‖ salt) of leaves ``start .. start + count - 1``."""
        sql = "SELECT fields FROM zk_leaves WHERE bucket=? AND chunk=?"
        return b"".join(bytes(blob[ZK_FIELDS * lo:ZK_FIELDS * hi]) for lo, hi, blob in self._chunks(bucket, 0, start, count, sql))

    def leaf_sums(self, bucket: int, start: int, count: int, n_values: int) -> list[list[int]]:
        """Balances of leaves ``start .. start + count - 1`` of a bucket (level 0 sums)."""
        sql = "SELECT sums FROM levels WHERE bucket=? AND level=0 AND chunk=?"
        out: list[list[int]] = []
        for lo, hi, blob in self._chunks(bucket, 0, start, count, sql):
            out += np.frombuffer(blob, dtype=">u8").reshape(-1, n_values)[lo:hi].tolist()
        return out

    def account_leaves(self, account_id: str) -> list[tuple[int, int, bytes]]:
        """``(bucket, position, salt)`` of each leaf of ``account_id``, in bucket order (one lookup per bucket)."""
        if self._finder is None:
            key = bytes.fromhex(self.db.execute("SELECT value FROM meta WHERE key='position-key'").fetchone()[0])
            self._finder = (Prf(key), self.db.execute("SELECT bucket, scope FROM buckets ORDER BY bucket").fetchall())
        prf, scopes = self._finder
        lp_account = lp(account_id)
        out = []
        for bucket, scope in scopes:
            key = prf(bytes(scope) + lp_account)
            shard = self.db.execute("SELECT shard FROM shards WHERE bucket=? AND first_key<=? "
                                    "ORDER BY first_key DESC LIMIT 1", (bucket, key)).fetchone()
            if shard is None:
                continue
            row = self._shard(bucket, shard[0]).execute(
                "SELECT keys, positions, salts, id_offsets, ids FROM accounts WHERE bucket=? AND first_key<=? "
                "ORDER BY first_key DESC LIMIT 1", (bucket, key)).fetchone()
            if row is None:
                continue
            keys = np.frombuffer(row[0], dtype="S32")
            i = int(np.searchsorted(keys, key))  # compares the whole 32 bytes (memcmp order)
            if i < len(keys) and row[0][32 * i:32 * i + 32] == key:  # not keys[i]: numpy drops trailing zero bytes
                offs = np.frombuffer(row[3], dtype="<u4")
                if row[4][int(offs[i]):int(offs[i + 1])] == account_id.encode("utf-8"):
                    position = int(np.frombuffer(row[1], dtype="<u8")[i])
                    out.append((bucket, position, bytes(row[2][32 * i:32 * i + 32])))
        return out

    def _account_chunks(self, bucket: int) -> Iterator[tuple[bytes, bytes, bytes, bytes]]:
        for db in self._shards(bucket):
            yield from db.execute("SELECT positions, salts, id_offsets, ids FROM accounts WHERE bucket=? "
                                  "ORDER BY first_key", (bucket,))

    def bucket_accounts(self, bucket: int) -> Iterator[tuple[str, int, bytes]]:
        """``(account_id, position, salt)`` of every account leaf of a bucket, in position order."""
        for positions, salts, offsets, ids in self._account_chunks(bucket):
            offs = np.frombuffer(offsets, dtype="<u4").tolist()
            for i, pos in enumerate(np.frombuffer(positions, dtype="<u8").tolist()):
                yield bytes(ids[offs[i]:offs[i + 1]]).decode("utf-8"), pos, bytes(salts[32 * i:32 * i + 32])

    def _account_ids(self) -> set[bytes]:
        found: set[bytes] = set()
        for bucket in sorted(self._layout):
            for _, _, offsets, ids in self._account_chunks(bucket):
                offs = np.frombuffer(offsets, dtype="<u4").tolist()
                found.update(ids[a:b] for a, b in zip(offs, offs[1:]))
        return found

    def iter_accounts(self) -> Iterator[str]:
        """Every account id once, in sorted (UTF-8 byte) order."""
        for acc in sorted(self._account_ids()):
            yield acc.decode("utf-8")

    def count_accounts(self) -> int:
        return len(self._account_ids())

    def node(self, bucket: int, level: int, index: int, n_values: int) -> tuple[bytes, list[int]]:
        """Hash and sums of one node."""
        full = self.committed_node(bucket, level, index, n_values)
        return full.hash, full.sums

    def committed_node(self, bucket: int, level: int, index: int, n_values: int) -> StoredNode:
        """Everything stored about one node (commitments and blindings are empty in public mode)."""
        chunk, off = divmod(index, CHUNK)
        row = self._level_db(bucket, level, index).execute(
            "SELECT hashes, sums, commits, blinds FROM levels WHERE bucket=? AND level=? AND chunk=?",
            (bucket, level, chunk),
        ).fetchone()
        if row is None:
            raise BadInput(f"store has no node {bucket}/{level}/{index}", file=str(self.path))
        hashes, sums, commits, blinds = row
        s = np.frombuffer(sums, dtype=">u8", count=n_values, offset=off * 8 * n_values)
        cw, bw = POINT_LEN * n_values, 32 * n_values
        c = bytes(commits[off * cw : off * cw + cw])
        return StoredNode(
            bytes(hashes[off * 32 : off * 32 + 32]),
            [int(x) for x in s],
            tuple(c[i : i + POINT_LEN] for i in range(0, len(c), POINT_LEN)),
            scalars(bytes(blinds[off * bw : off * bw + bw])),
        )

    def committed_siblings(self, bucket: int, position: int, height: int, n_values: int) -> list[StoredNode]:
        """Like :meth:`siblings`, with commitments and blindings."""
        return [self.committed_node(bucket, lvl, (position >> lvl) ^ 1, n_values) for lvl in range(height)]

    def siblings(self, bucket: int, position: int, height: int, n_values: int) -> list[tuple[bytes, list[int]]]:
        """The sibling of the leaf at ``position`` and of each of its ancestors below the root."""
        return [self.node(bucket, lvl, (position >> lvl) ^ 1, n_values) for lvl in range(height)]
