"""The embedded SQLite store from which proofs are served (SPEC.md §7).

Private to the exchange (mode 0600: it holds every balance and leaf salt).
Tables::

    meta(key TEXT PRIMARY KEY, value TEXT)                  -- 'format', 'snapshot', 'nonce-key', 'position-key'
    buckets(bucket, scope)                                  -- lp(snapshot_id) ‖ lp(bucket_id) per bucket
    accounts(bucket, first_key, keys, positions, salts, lines, id_offsets, ids)
                                                            -- the leaves' accounts in chunks of CHUNK, in sort-key
                                                               (= position) order; PK (bucket, first sort key)
    levels(bucket, level, chunk, hashes, sums, commits, blinds)  -- tree levels in chunks of CHUNK nodes
    zk_leaves(bucket, chunk, fields)                        -- zk mode: account ‖ salt field elements per leaf

``bucket`` is the index of the bucket in canonical (sorted) order. An accounts chunk holds consecutive leaves
of real accounts: ``keys`` their 32-byte sort keys (ascending), ``positions`` and ``lines`` little-endian
u64 each, ``salts`` 32 bytes each, ``ids`` the UTF-8 account ids concatenated, ``id_offsets`` the ``n + 1``
little-endian u32 offsets of each id in ``ids``; an account is found with one indexed lookup (the chunk
with the largest first key not above its key) and a binary search inside the chunk. ``hashes`` is
32 bytes per node, ``sums`` is V big-endian u64 per node (the mode's value vector,
:mod:`por.modes.values`). In hiding mode ``commits`` holds V 33-byte commitments per
node and ``blinds`` their V 32-byte blinding sums (empty blobs in public mode). In zk mode the lowest ``k`` levels
hold Poseidon hashes (32-byte field elements), ``zk_leaves`` the circuit's
private leaf inputs (64 bytes per leaf, index order) and ``meta`` the path of
the setup directory (``zk-setup``).
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np

from por.core.encoding import POINT_LEN, lp, scalars
from por.core.errors import BadInput
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
    ids: list[bytes]
    positions: np.ndarray
    salts: np.ndarray
    lines: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)

    def slice(self, lo: int, hi: int) -> "AccountRows":
        return AccountRows(self.keys[lo:hi], self.ids[lo:hi], self.positions[lo:hi], self.salts[lo:hi],
                           self.lines[lo:hi])

    @staticmethod
    def concat(parts: Sequence["AccountRows"]) -> "AccountRows":
        return AccountRows(np.concatenate([p.keys for p in parts]), [i for p in parts for i in p.ids],
                           np.concatenate([p.positions for p in parts]), np.concatenate([p.salts for p in parts]),
                           np.concatenate([p.lines for p in parts]))

    def id_blob(self) -> tuple[bytes, np.ndarray]:
        """The ids concatenated and their ``n + 1`` offsets."""
        offsets = np.zeros(len(self.ids) + 1, dtype=np.int64)
        np.cumsum([len(i) for i in self.ids], out=offsets[1:])
        return b"".join(self.ids), offsets


CHUNK = 4096
STORE_FORMAT = "por-store-5"

_SCHEMA = """
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE buckets(bucket INTEGER PRIMARY KEY, scope BLOB NOT NULL);
CREATE TABLE accounts(
  bucket INTEGER NOT NULL, first_key BLOB NOT NULL, keys BLOB NOT NULL, positions BLOB NOT NULL,
  salts BLOB NOT NULL, lines BLOB NOT NULL, id_offsets BLOB NOT NULL, ids BLOB NOT NULL,
  PRIMARY KEY (bucket, first_key)) WITHOUT ROWID;
CREATE TABLE levels(
  bucket INTEGER NOT NULL, level INTEGER NOT NULL, chunk INTEGER NOT NULL,
  hashes BLOB NOT NULL, sums BLOB NOT NULL, commits BLOB NOT NULL, blinds BLOB NOT NULL,
  PRIMARY KEY (bucket, level, chunk)) WITHOUT ROWID;
CREATE TABLE zk_leaves(
  bucket INTEGER NOT NULL, chunk INTEGER NOT NULL, fields BLOB NOT NULL,
  PRIMARY KEY (bucket, chunk)) WITHOUT ROWID;
"""
ZK_FIELDS = 64


class _Chunker:
    """Nodes of one level arriving in index order, cut into chunks of CHUNK nodes."""

    def __init__(self) -> None:
        self.parts: list[bytearray] = [bytearray(), bytearray(), bytearray(), bytearray()]
        self.widths: tuple[int, ...] | None = None
        self.count = 0
        self.chunk = 0

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


class StoreWriter:
    """Writes a new store, node levels and account rows as they come (bounded memory).

    Nodes of each ``(bucket, level)`` must arrive in index order (any interleaving of levels);
    account rows of a bucket in sort-key order (= leaf position order).
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        os.close(fd)
        self.db = sqlite3.connect(self.path, isolation_level=None)
        for pragma in ("journal_mode=OFF", "synchronous=OFF", "temp_store=FILE", "cache_size=-65536"):
            self.db.execute(f"PRAGMA {pragma}")
        self.db.executescript(_SCHEMA)
        self.db.execute("BEGIN")
        self._levels: dict[tuple[int, int], _Chunker] = {}
        self._zk: dict[int, _Chunker] = {}
        self._accounts: dict[int, AccountRows] = {}

    def add_level(self, bucket: int, level: int, lv: Level) -> None:
        """Append the nodes of ``lv`` (consecutive nodes of one level) to the bucket's level ``level``."""
        ch = self._levels.setdefault((bucket, level), _Chunker())
        n = len(lv.hashes)
        ch.add((lv.hashes.tobytes(), lv.sums.astype(">u8").tobytes(),
                b"" if lv.commits is None else lv.commits.tobytes(),
                b"" if lv.blinds is None else lv.blinds.tobytes()), n)
        self._emit_levels(bucket, level, ch, final=False)

    def _emit_levels(self, bucket: int, level: int, ch: _Chunker, *, final: bool) -> None:
        rows = [(bucket, level, c, *blobs) for c, blobs in ch.take(final)]
        if rows:
            self.db.executemany("INSERT INTO levels VALUES (?,?,?,?,?,?,?)", rows)

    def add_zk_fields(self, bucket: int, fields: bytes) -> None:
        """zk mode: append leaves' circuit inputs (64 bytes per leaf, index order)."""
        ch = self._zk.setdefault(bucket, _Chunker())
        n = len(fields) // ZK_FIELDS
        ch.add((fields, b"", b"", b""), n)
        self._emit_zk(bucket, ch, final=False)

    def _emit_zk(self, bucket: int, ch: _Chunker, *, final: bool) -> None:
        rows = [(bucket, c, blobs[0]) for c, blobs in ch.take(final)]
        if rows:
            self.db.executemany("INSERT INTO zk_leaves VALUES (?,?,?)", rows)

    def add_accounts(self, bucket: int, accounts: AccountRows) -> None:
        """The next accounts of a bucket, in sort-key order (any number; chunks are cut here)."""
        pend = self._accounts.get(bucket)
        pend = accounts if pend is None else AccountRows.concat([pend, accounts])
        while len(pend) >= CHUNK:
            self._insert_accounts(bucket, pend.slice(0, CHUNK))
            pend = pend.slice(CHUNK, len(pend))
        self._accounts[bucket] = pend

    def _insert_accounts(self, bucket: int, a: AccountRows) -> None:
        if len(a):
            ids, offsets = a.id_blob()
            self.db.execute("INSERT INTO accounts VALUES (?,?,?,?,?,?,?,?)",
                            (bucket, a.keys[0].tobytes(), a.keys.tobytes(), a.positions.astype("<u8").tobytes(),
                             a.salts.tobytes(), a.lines.astype("<u8").tobytes(), offsets.astype("<u4").tobytes(), ids))

    def end_bucket(self, bucket: int) -> None:
        """Write the bucket's last partial chunks."""
        for (b, level), ch in sorted(self._levels.items()):
            if b == bucket:
                self._emit_levels(b, level, ch, final=True)
        if bucket in self._zk:
            self._emit_zk(bucket, self._zk[bucket], final=True)
        if bucket in self._accounts:
            self._insert_accounts(bucket, self._accounts.pop(bucket))

    def finish(self, snapshot_json: str, nonce_key: bytes, position_key: bytes, scopes: list[bytes], *,
               zk_setup: Path | None = None) -> None:
        """Write metadata, close and fsync.

        ``nonce_key`` (derived from the master secret) seeds the deterministic randomness of range
        proofs and batch proofs made from this store; ``position_key`` and the buckets' ``scopes``
        find an account's rows (``key = HMAC(k_position, scope ‖ lp(account_id))``, SPEC.md §4);
        ``zk_setup`` is remembered as the default setup of ``por zk prove``.
        """
        self.db.executemany("INSERT INTO buckets VALUES (?,?)", list(enumerate(scopes)))
        self.db.executemany("INSERT INTO meta VALUES (?,?)",
                            [("format", STORE_FORMAT), ("snapshot", snapshot_json), ("nonce-key", nonce_key.hex()),
                             ("position-key", position_key.hex())]
                            + ([("zk-setup", str(zk_setup))] if zk_setup is not None else []))
        self.db.execute("COMMIT")
        self.db.close()
        with open(self.path, "rb") as fh:
            os.fsync(fh.fileno())

    def abort(self) -> None:
        self.db.close()


class Store:
    """Read access to a built store."""

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
        self._finder: tuple[Prf, list] | None = None

    def close(self) -> None:
        self.db.close()

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

    def zk_fields(self, bucket: int, start: int, count: int) -> bytes:
        """zk mode: the 64-byte circuit inputs (account ‖ salt) of leaves ``start .. start + count - 1``."""
        out = bytearray()
        for chunk in range(start // CHUNK, (start + count - 1) // CHUNK + 1):
            row = self.db.execute("SELECT fields FROM zk_leaves WHERE bucket=? AND chunk=?", (bucket, chunk)).fetchone()
            if row is None:
                raise BadInput(f"store has no zk leaf inputs for bucket {bucket}", file=str(self.path))
            lo = max(start, chunk * CHUNK) - chunk * CHUNK
            hi = min(start + count, (chunk + 1) * CHUNK) - chunk * CHUNK
            out += row[0][ZK_FIELDS * lo : ZK_FIELDS * hi]
        return bytes(out)

    def leaf_sums(self, bucket: int, start: int, count: int, n_values: int) -> list[list[int]]:
        """Balances of leaves ``start .. start + count - 1`` of a bucket (level 0 sums)."""
        out: list[list[int]] = []
        for chunk in range(start // CHUNK, (start + count - 1) // CHUNK + 1):
            row = self.db.execute("SELECT sums FROM levels WHERE bucket=? AND level=0 AND chunk=?",
                                  (bucket, chunk)).fetchone()
            if row is None:
                raise BadInput(f"store has no leaves for bucket {bucket}", file=str(self.path))
            arr = np.frombuffer(row[0], dtype=">u8").reshape(-1, n_values)
            lo = max(start, chunk * CHUNK) - chunk * CHUNK
            hi = min(start + count, (chunk + 1) * CHUNK) - chunk * CHUNK
            out += [[int(v) for v in r] for r in arr[lo:hi]]
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
            row = self.db.execute(
                "SELECT keys, positions, salts, id_offsets, ids FROM accounts WHERE bucket=? AND first_key<=? "
                "ORDER BY first_key DESC LIMIT 1", (bucket, key)).fetchone()
            if row is None:
                continue
            keys = np.frombuffer(row[0], dtype="S32")
            i = int(np.searchsorted(keys, key))
            if i < len(keys) and keys[i] == key:
                offs = np.frombuffer(row[3], dtype="<u4")
                if row[4][int(offs[i]):int(offs[i + 1])] == account_id.encode("utf-8"):
                    position = int(np.frombuffer(row[1], dtype="<u8")[i])
                    out.append((bucket, position, bytes(row[2][32 * i:32 * i + 32])))
        return out

    def bucket_accounts(self, bucket: int) -> Iterator[tuple[str, int, bytes]]:
        """``(account_id, position, salt)`` of every account leaf of a bucket, in position order."""
        for positions, salts, offsets, ids in self.db.execute(
                "SELECT positions, salts, id_offsets, ids FROM accounts WHERE bucket=? ORDER BY first_key", (bucket,)):
            offs = np.frombuffer(offsets, dtype="<u4").tolist()
            for i, pos in enumerate(np.frombuffer(positions, dtype="<u8").tolist()):
                yield bytes(ids[offs[i]:offs[i + 1]]).decode("utf-8"), pos, bytes(salts[32 * i:32 * i + 32])

    def _account_ids(self) -> set[bytes]:
        found: set[bytes] = set()
        for offsets, ids in self.db.execute("SELECT id_offsets, ids FROM accounts"):
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
        row = self.db.execute(
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

    def levels(self, bucket: int, n_values: int) -> Iterable[Level]:
        """Every level of a bucket tree, rebuilt as arrays (for bulk proof export)."""
        lvl = 0
        while True:
            rows = self.db.execute(
                "SELECT hashes, sums FROM levels WHERE bucket=? AND level=? ORDER BY chunk", (bucket, lvl)
            ).fetchall()
            if not rows:
                return
            hashes = np.frombuffer(b"".join(r[0] for r in rows), dtype=np.uint8).reshape(-1, 32)
            sums = np.frombuffer(b"".join(r[1] for r in rows), dtype=">u8").reshape(-1, n_values)
            yield Level(hashes, sums.astype(np.uint64))
            lvl += 1
