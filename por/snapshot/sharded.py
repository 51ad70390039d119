"""The sharded build: any number of users in bounded memory, on one process, local processes or Dask.

The bytes are those of SPEC.md §5-§7 (the same leaves, the same keyed permutation, the same
nodes as :func:`por.snapshot.build.build_trees`, which the tests compare it with); only the
order of work changes:

1. **Partition** (a task per byte span of a plain CSV ledger on local engines, else one pass in this
   process): every row's position sort key ``HMAC(k_position, scope ‖ lp(account_id))`` is computed and the
   row appended to the file of its bucket and key prefix (``2^bits`` partitions per bucket, ``bits`` from the
   ledger's size); an error in any span means one whole read, so errors name the line a whole read names.
2. **Padding** (tasks): the padding seeds ``j`` of each bucket, grouped by key prefix.
3. **Sort** (a task per partition): the partition's rows and seeds sorted by key. Since keys are
   compared bytewise, partition ``p``'s entries take the positions right after partition
   ``p - 1``'s: the global rank of an entry is its partition's offset plus its rank inside.
4. **Shards** (a task per shard): a shard is the subtree over ``2^s`` consecutive positions; its
   task hashes (or commits) the leaves with the mode's leaf scheme and computes levels ``0..s``.
5. **Top** (this process): the shard roots are combined up to each bucket root
   (:meth:`por.modes.base.Mode.upper_levels`), then the top tree and the snapshot root.

Results are consumed in task order and written to the store in that order, so the store,
``snapshot.json`` and every proof are byte-identical whatever the engine and the number of
workers. The shard height depends only on the tree height (:func:`shard_height`). Work files
live in a private (0700) directory under ``work_dir`` (shared by all workers of a cluster), or
inside the output's staging directory, and are removed when the build ends, whatever happened.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from por.core.config import SnapshotConfig
from por.core.engine import Engine, SerialEngine
from por.core.errors import BadInput
from por.core.fileio import private_workdir
from por.core.keys import SnapshotKeys
from por.core.encoding import U64_LIMIT
from por.core.ledger import LedgerStats, csv_data_start
from por.core.progress import QUIET, Reporter
from por.modes.registry import mode_for
from por.snapshot.document import Snapshot, root_of
from por.snapshot.shards import (PAD_CHUNK, PartitionContext, ShardContext, pad_task, partition_task, shard_task,
                                 sort_task)
from por.tree.store import StoreWriter
from por.tree.sumtree import BuiltBucket, Level, bucket_heights, check_height

TASK_MODULES = ("por.snapshot.shards",)
"""What a worker imports to run a build's tasks (:meth:`por.core.engine.Engine.start`)."""

MAX_SHARD_HEIGHT = 18
"""Largest subtree one task builds (2^18 leaves: tens of MiB per task in every mode)."""


def shard_height(height: int, batch_height: int = 0) -> int:
    """The shard height of a bucket tree of ``height``: the whole tree up to 2^12 leaves, else about 8 shards
    (at least 2^12 leaves, at most 2^18 each); never below the zk batch height. Depends on nothing else,
    so the store is the same whatever the engine."""
    s = height if height <= 12 else min(MAX_SHARD_HEIGHT, max(12, height - 3))
    return max(s, min(batch_height, height))


def estimated_rows(ledger: Path) -> int:
    """An upper estimate of the ledger's rows from its size (no row is shorter than ~24 bytes in practice)."""
    try:
        return Path(ledger).stat().st_size // 24 + 1
    except OSError:
        return 0


def partition_bits(ledger: Path) -> int:
    """Key-prefix bits of the partition pass: about 2^19 rows per partition (over-estimating only adds files)."""
    return max(0, min(8, (estimated_rows(ledger) >> 19).bit_length()))


@dataclass
class ShardedBuild:
    """What :func:`build_sharded` produced (the store is written and closed)."""

    snapshot: Snapshot
    stats: LedgerStats
    rows_per_bucket: list[int]
    shards: int


def build_sharded(
    config: SnapshotConfig,
    ledger: Path,
    secret: bytes,
    store_path: Path,
    *,
    mode: str,
    zk: Any = None,
    height: int | Sequence[int] | None = None,
    clamp_negative: bool = False,
    reporter: Reporter | None = None,
    engine: Engine | None = None,
    work_dir: Path | None = None,
    zk_setup: Path | None = None,
    check_accounts: bool = True,
    bits: int | None = None,
) -> ShardedBuild:
    """Build every bucket tree of ``ledger`` shard by shard and write the store at ``store_path``.

    ``engine`` runs the padding, sort and shard tasks (default: this process); ``work_dir`` holds
    the work files (a fresh private directory is made inside it and removed at the end; default:
    beside ``store_path``); ``bits`` overrides the partition count (``2^bits`` per bucket; it changes no
    output byte). Raises :class:`BadInput` for bad ledgers exactly as the in-memory build.
    """
    rep = reporter or QUIET
    engine = engine or SerialEngine()
    engine.start(warm=TASK_MODULES)  # local workers start while this process reads the ledger's header
    scheme = mode_for(mode, config, zk)
    scheme.check_buildable()
    keys = SnapshotKeys.from_master(secret)
    buckets = config.buckets
    scopes = [SnapshotKeys.scope(config.snapshot_id, b.id) for b in buckets]
    n_values = scheme.n_values
    bits = partition_bits(Path(ledger)) if bits is None else bits
    parent = Path(work_dir) if work_dir is not None else Path(store_path).parent
    if not parent.is_dir():
        raise BadInput("the work directory does not exist", file=str(parent), field="work_dir")
    writer: StoreWriter | None = None
    with private_workdir("por-work-", parent) as work:  # 0700: salts and balances inside
        try:
            writer = StoreWriter(store_path)
            return _build(config, ledger, keys, scopes, bits, work, n_values, mode, zk, scheme, height, clamp_negative,
                          check_accounts, engine, rep, writer, zk_setup)
        except BaseException:
            if writer is not None:
                writer.abort()
            raise


def _build(config: SnapshotConfig, ledger: Path, keys: SnapshotKeys, scopes: list[bytes], bits: int, work: Path,
           n_values: int, mode: str, zk: Any, scheme: Any, height: int | Sequence[int] | None, clamp_negative: bool,
           check_accounts: bool, engine: Engine, rep: Reporter, writer: StoreWriter,
           zk_setup: Path | None) -> ShardedBuild:
    """:func:`build_sharded` once its work directory and store writer exist."""
    buckets = config.buckets
    stats, counts, line_bases = _partition(config, ledger, keys, scopes, bits, work, n_values, mode, zk,
                                           clamp_negative, check_accounts, engine, rep)
    if not (height is None or isinstance(height, int)) and len(height) != len(buckets):
        raise BadInput(f"{len(height)} heights given for {len(buckets)} buckets", field="height")
    heights = bucket_heights(height, counts, scheme.batch_height)
    for bc, n, h in zip(buckets, counts, heights):
        check_height(bc.id, n, h, scheme.batch_height)

    # padding seeds, grouped by partition
    pad_jobs = [(b, c, j0, min(j0 + PAD_CHUNK, (1 << h) - n))
                for b, (n, h) in enumerate(zip(counts, heights))
                for c, j0 in enumerate(range(0, (1 << h) - n, PAD_CHUNK))]
    rep.phase("padding", len(pad_jobs))
    pad_counts: dict[tuple[int, int], list[int]] = {}
    tasks = [(pad_task, (str(work), b, c, j0, j1, keys.padding.key, scopes[b], bits)) for b, c, j0, j1 in pad_jobs]
    for (b, c, _, _), got in zip(pad_jobs, engine.run(tasks, rep.advance)):
        pad_counts[(b, c)] = got

    # every partition in key order
    parts = 1 << bits
    sort_jobs = []
    for b in range(len(buckets)):
        chunks = sorted(c for bb, c in pad_counts if bb == b)
        firsts = {c: np.concatenate([[0], np.cumsum(pad_counts[(b, c)])]).tolist() for c in chunks}
        for p in range(parts):
            slices = [(c, int(firsts[c][p]), int(pad_counts[(b, c)][p])) for c in chunks]
            sort_jobs.append((b, p, slices))
    rep.phase("sorting", len(sort_jobs))
    sizes: dict[tuple[int, int], int] = {}
    tasks = [(sort_task, (str(work), b, p, n_values, slices, buckets[b].id, line_bases)) for b, p, slices in sort_jobs]
    try:
        for (b, p, _), got in zip(sort_jobs, engine.run(tasks, rep.advance)):
            sizes[(b, p)] = got
    except BadInput as exc:
        raise BadInput(exc.reason, file=str(ledger), line=exc.line, field=exc.field) from None

    # shards: consecutive positions, made of consecutive slices of sorted partitions
    shard_jobs = []
    heights_s = []
    for b, (bc, h) in enumerate(zip(buckets, heights)):
        s = shard_height(h, scheme.batch_height)
        heights_s.append(s)
        ctx = ShardContext(config, mode, zk, b, bc.id, n_values, keys.salt.key, keys.blinding_key, str(work), h, s)
        offsets = np.concatenate([[0], np.cumsum([sizes[(b, p)] for p in range(parts)])]).tolist()
        for i in range(1 << (h - s)):
            lo, hi = i << s, (i + 1) << s
            slices = [(p, max(lo, offsets[p]) - offsets[p], min(hi, offsets[p + 1]) - offsets[p])
                      for p in range(parts) if offsets[p] < hi and offsets[p + 1] > lo]
            shard_jobs.append((b, (shard_task, (ctx, i, lo, slices))))
    rep.phase("building shards", len(shard_jobs))
    summaries = []
    roots: list[dict[str, Any]] = []
    results = engine.run([t for _, t in shard_jobs], rep.advance)
    for (b, _), got in zip(shard_jobs, results):
        if not roots:
            writer.begin_bucket(b, heights[b], heights_s[b])
        writer.add_shard(b, len(roots), Path(got["path"]), got["first_key"])
        roots.append(got)
        if len(roots) == 1 << (heights[b] - heights_s[b]):
            top = _root_level(roots, n_values)
            levels = [top, *scheme.upper_levels(top)] if len(roots) > 1 else [top]
            for lvl, lv in enumerate(levels[1:], start=heights_s[b] + 1):
                writer.add_level(b, lvl, lv)
            writer.end_bucket(b)
            built = BuiltBucket(buckets[b].id, heights[b], counts[b], np.empty(0, dtype=np.int64), [levels[-1]])
            summaries.append(scheme.summary(buckets[b].id, buckets[b].kind, built))
            roots = []
    summaries_t = tuple(summaries)
    root, _ = root_of(scheme, summaries_t)
    snap = Snapshot(config, summaries_t, root, mode, zk)
    writer.finish(snap.to_json(), keys.nonce_key, keys.position.key, scopes, zk_setup=zk_setup)
    return ShardedBuild(snap, stats, counts, len(shard_jobs))


def ledger_spans(ledger: Path, config: SnapshotConfig, n: int) -> tuple[list[tuple[int, int]], int] | None:
    """About ``n`` byte spans of the CSV data lines, each ending after a line end, and the header's line number;
    None when the ledger is read whole (one span asked for, or not a plain CSV ledger).

    A span may begin inside a quoted field that holds a line end, but no valid ledger has one (no account id,
    bucket or amount may hold a line end), so such a split only ever meets an error, and an error in any span
    makes the build read the ledger whole (:func:`_partition`).
    """
    start = csv_data_start(ledger, config) if n > 1 else None
    if start is None:
        return None
    lo, hline = start
    size = Path(ledger).stat().st_size
    cuts = [lo]
    with open(ledger, "rb") as fh:
        for k in range(1, n):
            at = max(lo + (size - lo) * k // n, cuts[-1])
            fh.seek(at)
            while True:  # the next line end at or after `at`
                block = fh.read(1 << 16)
                nl = block.find(b"\n")
                if nl >= 0 or not block:
                    break
                at += len(block)
            if nl < 0 or at + nl + 1 >= size:
                break
            cuts.append(at + nl + 1)
    cuts.append(size)
    spans = [(a, b) for a, b in zip(cuts, cuts[1:]) if b > a]
    return (spans, hline) if len(spans) > 1 else None


def _partition(config: SnapshotConfig, ledger: Path, keys: SnapshotKeys, scopes: list[bytes], bits: int, work: Path,
               n_values: int, mode: str, zk: Any, clamp_negative: bool, check_accounts: bool, engine: Engine,
               rep: Reporter) -> tuple[LedgerStats, list[int], list[int]]:
    """Pass 1: read and validate the ledger, route every row to its partition files.

    Spans of the ledger are read in parallel (local engines; a Dask cluster's workers may not see the
    ledger, so the driver reads it whole then). Any error in a span, or totals of all spans that reach
    2^64, and the ledger is read again whole, in this process: the error is then exactly the one -- the
    first in the file, with its line -- that reading it from the start gives. Returns the stats, the rows
    per bucket and the line base of every span.
    """
    rep.phase("reading ledger", None)
    ctx = PartitionContext(config, mode, zk, str(ledger), keys.position.key, scopes, bits, str(work), n_values,
                           clamp_negative, check_accounts)
    local = engine.name != "dask"
    found = ledger_spans(ledger, config, 2 * engine.workers if engine.workers > 1 else 1) if local else None
    stats = None
    if found is not None:
        spans, hline = found
        try:
            results = []
            for got in engine.run([(partition_task, (ctx, r, span)) for r, span in enumerate(spans)]):
                results.append(got)
                rep.advance(got["rows"])
            stats = _added(results, config, n_values)
        except BadInput:
            stats = None
        if stats is not None and any(sum(col) >= U64_LIMIT for col in zip(*stats.totals.values())):
            stats = None  # the spans' totals, added up, reach 2^64: the whole read names the line
        if stats is None:
            for f in work.glob("rows-*"):
                f.unlink()
        else:
            bases = [hline + sum(r["lines"] for r in results[:i]) for i in range(len(results))]
    if stats is None:
        results = [partition_task(ctx, 0, None)]
        bases = [0]
        rep.advance(results[0]["rows"])
        stats = _added(results, config, n_values)
    if stats.rows == 0:
        raise BadInput("empty ledger: no account rows", file=str(ledger))
    counts = [sum(r["counts"][b] for r in results) for b in range(len(config.buckets))]
    return stats, counts, bases


def _added(results: list[dict[str, Any]], config: SnapshotConfig, n_values: int) -> LedgerStats:
    """The stats of the whole ledger from those of its spans."""
    return LedgerStats(rows=sum(r["rows"] for r in results), clamped=sum(r["clamped"] for r in results),
                       debts=sum(r["debts"] for r in results),
                       accounts_with_debt=sum(r["accounts_with_debt"] for r in results),
                       totals={bid: [sum(r["totals"][b][a] for r in results) for a in range(n_values)]
                               for b, bid in enumerate(config.bucket_ids)})


def _root_level(roots: list[dict[str, Any]], n_values: int) -> Level:
    """The shard roots of one bucket as one level."""
    hashes = np.frombuffer(b"".join(r["hash"] for r in roots), dtype=np.uint8).reshape(-1, 32)
    sums = np.frombuffer(b"".join(r["sums"] for r in roots), dtype=np.uint64).reshape(-1, n_values)
    if roots[0]["commits"] is None:
        return Level(hashes, sums)
    commits = np.frombuffer(b"".join(r["commits"] for r in roots), dtype=np.uint8).reshape(len(roots), -1)
    blinds = np.frombuffer(b"".join(r["blinds"] for r in roots), dtype=np.uint8).reshape(len(roots), -1)
    return Level(hashes, sums, commits, blinds)
