"""The tasks of a sharded build (see :mod:`por.snapshot.sharded`): padding, sorting, shard trees.

Every function here is a module-level task run by an :mod:`por.core.engine` engine (in this
process, in local processes or on Dask workers). Tasks read their inputs from files under the
build's work directory and write their outputs there atomically (temp file + rename), so a task
re-run after a lost worker writes the same bytes. They receive only the derived keys they need
(the leaf-salt key, the padding key, the blinding key) -- never the master secret -- and log nothing.

File formats (private, native little-endian, never published):

* ``rows-B-P-R.bin`` / ``rows-B-P-R.ids``: the ledger rows of span ``R`` of the ledger in bucket ``B``
  whose position sort key starts with partition prefix ``P`` -- fixed records ``key[32] ‖ line u64 ‖
  id length u16 ‖ V × u64`` (``line`` counted from the span's start) and the account ids concatenated,
  in ledger order;
* ``pads-B-C.bin``: the padding seeds ``j`` of chunk ``C`` of bucket ``B``, grouped by partition;
* ``sorted-B-P.bin`` / ``.ids`` / ``.off``: partition ``P`` with its pads, in sort-key order
  (= leaf position order): the same records (padding leaves have ``line`` 0, id length 0 and zero
  values, their key is their seed), the real rows' ids concatenated, and the ``n + 1`` u64 offsets of
  each entry's id;
* ``shard-B-I.sqlite``: shard ``I``'s part of the store (:class:`~por.tree.store.StoreWriter` with
  ``part=True``): its tree levels, zk leaf inputs and accounts, merged into the store in shard order.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from por.core import encoding as enc
from por.core.config import SnapshotConfig
from por.core.errors import BadInput
from por.core.batchhash import Ragged, digests
from por.core.fileio import atomic_write_bytes
from por.core.keys import Prf, SnapshotKeys
from por.core.ledger import LedgerStats, read_ledger_batches
from por.modes.registry import mode_for
from por.tree.store import CHUNK as STORE_CHUNK
from por.tree.store import AccountRows, ShardWriter, shard_levels
from por.tree.sumtree import first_duplicate, key_order, padding_hashes, padding_seeds

PAD_CHUNK = 1 << 18
"""Padding seeds derived per pad task."""


def record_dtype(n_values: int) -> np.dtype:
    """A row record: sort key, ledger line (0 for padding leaves), account id length, the value vector."""
    return np.dtype([("key", "S32"), ("line", "<u8"), ("idlen", "<u2"), ("values", "<u8", (n_values,))])


def partition_of(first_byte: Any, bits: int) -> Any:
    """The partition of a sort key: the leading ``bits`` (0..8) bits of its first byte (an int or a uint8 array)."""
    return first_byte >> (8 - bits)


def save_work_file(path: Path, data: bytes) -> None:
    """A work file: private (0600), written atomically, not fsynced (it dies with its build)."""
    atomic_write_bytes(path, data, mode=0o600, durable=False)


# ---------------------------------------------------------------- the partition pass


@dataclass(frozen=True)
class PartitionContext:
    """What a partition task needs (picklable; of the keys, only the position key)."""

    config: SnapshotConfig
    mode: str
    zk: Any
    ledger: str
    position_key: bytes
    scopes: list[bytes]
    bits: int
    work: str
    n_values: int
    clamp_negative: bool
    check_accounts: bool


_FLUSH = 1 << 18  # bytes buffered per partition file before appending


def partition_task(ctx: PartitionContext, r: int, span: tuple[int, int] | None) -> dict[str, Any]:
    """Read span ``r`` of the ledger (bytes ``lo .. hi - 1`` of its data lines, or all of it when ``span`` is
    None), validate it, and append every row to ``rows-B-P-R.*`` by bucket and sort-key prefix.

    Line numbers are the file's when ``span`` is None, else counted from the span's start (the driver adds
    the span's first line). Returns the span's stats, rows per bucket and line ends (``lines``).
    """
    scheme = mode_for(ctx.mode, ctx.config, ctx.zk)
    position = Prf(ctx.position_key)
    work, scopes, bits = Path(ctx.work), ctx.scopes, ctx.bits
    dt = record_dtype(ctx.n_values)
    parts = 1 << bits
    recs: dict[int, bytearray] = {}
    ids: dict[int, bytearray] = {}
    counts = np.zeros(len(scopes), dtype=np.int64)
    stats = LedgerStats()

    def flush(g: int) -> None:
        b, p = divmod(g, parts)
        for suffix, buf in (("bin", recs[g]), ("ids", ids[g])):
            fd = os.open(work / f"rows-{b}-{p}-{r}.{suffix}", os.O_CREAT | os.O_APPEND | os.O_WRONLY, 0o600)
            with os.fdopen(fd, "ab") as fh:
                fh.write(buf)
            buf.clear()

    batches = read_ledger_batches(Path(ctx.ledger), ctx.config, clamp_negative=ctx.clamp_negative, stats=stats,
                                  rows=scheme.values.rows(check_accounts=ctx.check_accounts),
                                  span=None if span is None else (*span, 0))
    for batch in batches:
        n = len(batch)
        keys = np.empty((n, 32), dtype=np.uint8)
        for b in np.unique(batch.buckets).tolist():  # each bucket's rows under its scope
            where = np.flatnonzero(batch.buckets == b) if len(scopes) > 1 else slice(None)
            of_b = batch.accounts if len(scopes) == 1 else batch.accounts.take(where)
            keys[where] = digests(position.many(len(of_b), [scopes[b], *enc.lp_rows(of_b)]))
        rows = np.empty(n, dtype=dt)
        rows["key"] = keys.view("S32").ravel()
        rows["line"] = batch.lines
        rows["idlen"] = batch.accounts.lengths()
        rows["values"] = batch.vectors
        group = batch.buckets * parts + partition_of(keys[:, 0], bits)
        order = np.argsort(group, kind="stable")
        rows, group = rows[order], group[order]
        accounts = batch.accounts.take(order)
        cuts = (np.flatnonzero(np.diff(group)) + 1).tolist()
        for lo, hi in zip([0, *cuts], [*cuts, n]):
            g = int(group[lo])
            if g not in recs:
                recs[g], ids[g] = bytearray(), bytearray()
            recs[g] += rows[lo:hi].tobytes()
            ids[g] += accounts.slice(lo, hi).tobytes()
            if len(recs[g]) >= _FLUSH:
                flush(g)
        counts += np.bincount(batch.buckets, minlength=len(counts))
    for g in recs:
        flush(g)
    lines = 0
    if span is not None:
        with open(ctx.ledger, "rb") as fh:
            fh.seek(span[0])
            left = span[1] - span[0]
            while left > 0:
                block = fh.read(min(left, 1 << 24))
                if not block:
                    break
                lines += block.count(b"\n")
                left -= len(block)
    return {"rows": stats.rows, "clamped": stats.clamped, "debts": stats.debts,
            "accounts_with_debt": stats.accounts_with_debt, "totals": [stats.totals[bid] for bid in ctx.config.bucket_ids],
            "counts": counts.tolist(), "lines": lines}


# ---------------------------------------------------------------- padding seeds


def pad_task(work: str, bucket: int, chunk: int, j0: int, j1: int, padding_key: bytes, scope: bytes,
             bits: int) -> list[int]:
    """Padding seeds ``j0 .. j1 - 1`` of a bucket (SPEC.md §5.1), grouped by partition into ``pads-B-C.bin``.

    Returns how many seeds fall in each of the ``2^bits`` partitions.
    """
    seeds = padding_seeds(Prf(padding_key), scope, j0, j1)
    first = np.frombuffer(seeds, dtype=np.uint8)[0::32]
    parts = partition_of(first, bits)
    order = np.argsort(parts, kind="stable")
    grouped = np.frombuffer(seeds, dtype="V32")[order]
    save_work_file(Path(work) / f"pads-{bucket}-{chunk}.bin", grouped.tobytes())
    return np.bincount(parts, minlength=1 << bits).tolist()


# ---------------------------------------------------------------- one partition in sort-key order


def sort_task(work: str, bucket: int, part: int, n_values: int, pad_slices: list[tuple[int, int, int]],
              bucket_id: str, line_bases: list[int]) -> int:
    """Sort partition ``part`` of a bucket (its rows and its padding seeds) by sort key.

    ``pad_slices`` is ``(chunk, first, count)`` per padding chunk: where this partition's seeds lie in
    ``pads-B-C.bin``; ``line_bases[R]`` is added to the line numbers of span ``R``'s rows. Writes
    ``sorted-B-P.*`` and returns the number of entries. Two rows with the same sort key are the same
    account twice in the bucket: :class:`BadInput` naming both lines.
    """
    w = Path(work)
    dt = record_dtype(n_values)
    chunks, blobs = [], []
    for r, base in enumerate(line_bases):  # spans in ledger order: rows stay in ledger order
        rows_path = w / f"rows-{bucket}-{part}-{r}.bin"
        if rows_path.exists():
            got = np.fromfile(rows_path, dtype=dt)
            got["line"] += np.uint64(base)
            chunks.append(got)
            blobs.append(np.fromfile(w / f"rows-{bucket}-{part}-{r}.ids", dtype=np.uint8))
    rows = np.concatenate(chunks) if chunks else np.empty(0, dtype=dt)
    ids = Ragged.from_lengths(np.concatenate(blobs) if blobs else np.empty(0, np.uint8), rows["idlen"])
    seeds = []
    for chunk, first, count in pad_slices:
        if count:
            with open(w / f"pads-{bucket}-{chunk}.bin", "rb") as fh:
                fh.seek(32 * first)
                seeds.append(fh.read(32 * count))
    pads = np.zeros(sum(len(x) for x in seeds) // 32, dtype=dt)
    pads["key"] = np.frombuffer(b"".join(seeds), dtype="S32")
    n = len(rows)
    every = np.concatenate([rows, pads])
    # the keys' first 8 bytes as integers: equal keys (an account twice) share them, so only then compare whole keys
    raw = every.view(np.uint8).reshape(len(every), dt.itemsize)  # records as byte rows: gathered by memcpy
    prefix = np.ascontiguousarray(raw[:, :8]).view(">u8").ravel().astype(np.uint64)
    order = key_order(every["key"], prefix=prefix)
    ranked = prefix[order]
    if len(order) > 1 and np.any(ranked[1:] == ranked[:-1]):
        dup = first_duplicate(every["key"][order], order, n)
        if dup is not None:  # rows are in ledger order within a partition file
            first, again = (int(rows["line"][i]) for i in dup)
            raise BadInput(f"duplicate account in bucket {bucket_id!r}: also on line {first}", line=again,
                           field="account_id")
    out = raw[order].view(dt).ravel()
    src = order[order < n]
    offsets = np.zeros(len(out) + 1, dtype="<u8")
    np.cumsum(out["idlen"], out=offsets[1:])
    save_work_file(w / f"sorted-{bucket}-{part}.ids", ids.take(src).tobytes())
    save_work_file(w / f"sorted-{bucket}-{part}.off", offsets.tobytes())
    save_work_file(w / f"sorted-{bucket}-{part}.bin", out.tobytes())
    return len(out)


# ---------------------------------------------------------------- one shard: a subtree of 2^s leaves


@dataclass(frozen=True)
class ShardContext:
    """What a shard task needs to build any shard of one bucket (picklable; derived keys only)."""

    config: SnapshotConfig
    mode: str
    zk: Any
    bucket: int
    bucket_id: str
    n_values: int
    salt_key: bytes
    blinding_key: bytes
    work: str
    height: int
    shard_height: int


def _read_slice(work: Path, bucket: int, part: int, lo: int, hi: int, dt: np.dtype) -> tuple[np.ndarray, bytes]:
    base = work / f"sorted-{bucket}-{part}"
    recs = np.fromfile(base.with_suffix(".bin"), dtype=dt, count=hi - lo, offset=lo * dt.itemsize)
    offs = np.fromfile(base.with_suffix(".off"), dtype="<u8", count=hi - lo + 1, offset=8 * lo)
    with open(base.with_suffix(".ids"), "rb") as fh:
        fh.seek(int(offs[0]))
        blob = fh.read(int(offs[-1] - offs[0]))
    return recs, blob


def shard_task(ctx: ShardContext, shard: int, start: int, slices: list[tuple[int, int, int]]) -> dict[str, Any]:
    """Build the subtree of positions ``start .. start + 2^s - 1`` of a bucket with the mode's leaf scheme.

    ``slices`` is ``(partition, lo, hi)``: the sorted entries making up the shard, in order. Writes its part
    of the store, ``shard-B-I.sqlite``, and returns the subtree root (hash, sums, commitments, blindings as bytes).
    """
    work = Path(ctx.work)
    dt = record_dtype(ctx.n_values)
    parts = [_read_slice(work, ctx.bucket, p, lo, hi, dt) for p, lo, hi in slices]
    recs = np.concatenate([r for r, _ in parts])
    real = recs["line"] != 0
    ids = Ragged.from_lengths(np.frombuffer(b"".join(b for _, b in parts), dtype=np.uint8), recs["idlen"][real])
    scheme = mode_for(ctx.mode, ctx.config, ctx.zk)
    keys = SnapshotKeys.for_shard(ctx.salt_key, ctx.blinding_key)
    leaves = scheme.leaf_scheme(ctx.bucket_id, keys, 1)
    scope = SnapshotKeys.scope(ctx.config.snapshot_id, ctx.bucket_id)
    n = len(ids)
    lp_ids = enc.lp_rows(ids)
    salts = keys.salt.many(n, [scope, *lp_ids])
    leaves.add_many(salts, ids, lp_ids, recs["values"][real])
    seeds = recs["key"][~real].tobytes()
    pad_hashes = padding_hashes(scope, seeds)
    order = np.empty(len(recs), dtype=np.int64)
    order[real] = np.arange(n)
    order[~real] = n + np.arange(len(recs) - n)
    sums = np.ascontiguousarray(recs["values"]).astype(np.uint64)
    levels, extra = leaves.levels(order, seeds, pad_hashes, sums, None)

    path = work / f"shard-{ctx.bucket}-{shard}.sqlite"
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)  # a re-run after a lost worker starts over
    part = ShardWriter(tmp)
    kept = shard_levels(ctx.height, ctx.shard_height)
    for lvl, lv in enumerate(levels):
        if lvl < kept:
            part.add_level(ctx.bucket, lvl, lv, first_chunk=(shard << (ctx.shard_height - lvl)) // STORE_CHUNK)
        else:
            part.add_tail(ctx.bucket, lvl, lv)
    if extra is not None:
        part.add_zk_fields(ctx.bucket, extra, first_chunk=(shard << ctx.shard_height) // STORE_CHUNK)
    part.add_accounts(ctx.bucket, AccountRows(np.frombuffer(recs["key"][real].tobytes(), dtype=np.uint8).reshape(-1, 32),
                                              ids, (start + np.flatnonzero(real)).astype(np.int64),
                                              np.frombuffer(salts, dtype=np.uint8).reshape(-1, 32),
                                              recs["line"][real].astype(np.int64)))
    part.finish(ctx.bucket)
    tmp.replace(path)
    top = levels[-1]
    return {
        "path": str(path),
        "first_key": part.first_key,
        "levels": len(levels),
        "hash": top.hashes[0].tobytes(),
        "sums": top.sums[0].tobytes(),
        "commits": None if top.commits is None else top.commits[0].tobytes(),
        "blinds": None if top.blinds is None else top.blinds[0].tobytes(),
    }
