"""The tasks of a sharded build (see :mod:`por.snapshot.sharded`): padding, sorting, shard trees.

Every function here is a module-level task run by an :mod:`por.core.engine` engine (in this
process, in local processes or on Dask workers). Tasks read their inputs from files under the
build's work directory and write their outputs there atomically (temp file + rename), so a task
re-run after a lost worker writes the same bytes. They receive only the derived keys they need
(the leaf-salt key, the padding key, the blinding key) -- never the master secret -- and log nothing.

File formats (private, native little-endian, never published):

* ``rows-B-P.bin`` / ``rows-B-P.ids``: the ledger rows of bucket ``B`` whose position sort key
  starts with partition prefix ``P`` -- fixed records ``key[32] ‖ line u64 ‖ id length u16 ‖ V × u64``
  and the account ids concatenated, in ledger order;
* ``pads-B-C.bin``: the padding seeds ``j`` of chunk ``C`` of bucket ``B``, grouped by partition;
* ``sorted-B-P.bin`` / ``.ids`` / ``.off``: partition ``P`` with its pads, in sort-key order
  (= leaf position order): the same records (padding leaves have ``line`` 0, id length 0 and zero
  values, their key is their seed), the real rows' ids concatenated, and the ``n + 1`` u64 offsets of
  each entry's id;
* ``shard-B-I.sqlite``: shard ``I``'s part of the store (:class:`~por.tree.store.StoreWriter` with
  ``part=True``): its tree levels, zk leaf inputs and accounts, merged into the store in shard order.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from por.core import encoding as enc
from por.core.config import SnapshotConfig
from por.core.errors import BadInput
from por.core.batchhash import Ragged
from por.core.fileio import atomic_write_bytes
from por.core.keys import Prf, SnapshotKeys
from por.modes.registry import mode_for
from por.tree.store import CHUNK as STORE_CHUNK
from por.tree.store import AccountRows, ShardWriter, shard_levels
from por.tree.sumtree import first_duplicate, key_order, padding_hashes, padding_seeds

PAD_CHUNK = 1 << 20
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
              bucket_id: str) -> int:
    """Sort partition ``part`` of a bucket (its rows and its padding seeds) by sort key.

    ``pad_slices`` is ``(chunk, first, count)`` per padding chunk: where this partition's seeds lie in
    ``pads-B-C.bin``. Writes ``sorted-B-P.*`` and returns the number of entries. Two rows with the same
    sort key are the same account twice in the bucket: :class:`BadInput` naming both lines.
    """
    w = Path(work)
    dt = record_dtype(n_values)
    rows_path = w / f"rows-{bucket}-{part}.bin"
    rows = np.fromfile(rows_path, dtype=dt) if rows_path.exists() else np.empty(0, dtype=dt)
    ids_path = w / f"rows-{bucket}-{part}.ids"
    ids = Ragged.from_lengths(np.fromfile(ids_path, dtype=np.uint8) if ids_path.exists() else np.empty(0, np.uint8),
                              rows["idlen"])
    seeds = []
    for chunk, first, count in pad_slices:
        if count:
            with open(w / f"pads-{bucket}-{chunk}.bin", "rb") as fh:
                fh.seek(32 * first)
                seeds.append(fh.read(32 * count))
    pad_keys = np.frombuffer(b"".join(seeds), dtype="S32")
    n = len(rows)
    keys = np.concatenate([rows["key"], pad_keys])
    order = key_order(keys)
    ranked = keys[order]
    dup = first_duplicate(ranked, order, n)
    if dup is not None:  # rows are in ledger order within a partition file
        first, again = (int(rows["line"][i]) for i in dup)
        raise BadInput(f"duplicate account in bucket {bucket_id!r}: also on line {first}", line=again,
                       field="account_id")
    out = np.zeros(len(keys), dtype=dt)
    out["key"] = ranked
    real = order < n
    src = order[real]
    out[real] = rows[src]
    offsets = np.zeros(len(keys) + 1, dtype="<u8")
    np.cumsum(out["idlen"], out=offsets[1:])
    save_work_file(w / f"sorted-{bucket}-{part}.ids", ids.take(src).tobytes())
    save_work_file(w / f"sorted-{bucket}-{part}.off", offsets.tobytes())
    save_work_file(w / f"sorted-{bucket}-{part}.bin", out.tobytes())
    return len(keys)


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
