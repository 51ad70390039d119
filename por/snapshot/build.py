"""Building a snapshot: ledger -> bucket trees -> top tree -> root, written atomically (SPEC.md §6, §7).

``build_trees`` streams the ledger into one :class:`~por.tree.sumtree.BucketBuilder`
per bucket (with the mode's leaf scheme) and builds every tree in memory (an auditor's rebuild);
``build_snapshot`` builds the same trees shard by shard (:mod:`por.snapshot.sharded`) and writes ``snapshot.json`` (public), ``store.sqlite`` (private, 0600) and,
when no secret was given, ``secret.key`` (0600) into a staging directory that is renamed
into place only when everything succeeded. The pipeline is the same in every mode; what
differs is the mode's (:mod:`por.modes`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from por.core.engine import Engine, make_engine
from por.core.config import SnapshotConfig, load_config
from por.core.errors import BadInput
from por.core.fileio import atomic_directory, atomic_write_json
from por.core.keys import SnapshotKeys, generate_secret, write_secret
from por.core.ledger import LedgerStats, read_ledger
from por.core.progress import QUIET, Reporter
from por.modes.registry import mode_for, mode_name
from por.snapshot.document import Snapshot, root_of
from por.snapshot.sharded import build_sharded, estimated_rows
from por.tree.sumtree import BucketBuilder, BuiltBucket, bucket_heights


PARALLEL_MIN_ROWS = {"public": 1 << 18, "hiding": 1 << 13, "zk": 1 << 13}
"""Builds of ledgers at least this long (estimated from the file size) use every core by default; smaller ones
are not worth a process start (a public leaf costs about a microsecond, a committed or Poseidon leaf far more)."""


@dataclass
class BuildResult:
    """What a build produced."""

    snapshot: Snapshot
    out_dir: Path | None
    rows: int
    clamped: int
    secret_created: bool
    accounts_per_bucket: dict[str, int] = field(default_factory=dict)
    debts: int = 0  # negative ledger amounts read as debts (buckets with allow_debt)
    accounts_with_debt: int = 0  # rows with at least one debt (each passed the per-account rule)
    shards: int = 0  # subtrees built as separate tasks (por.snapshot.sharded)


def build_trees(
    config: SnapshotConfig,
    ledger: Path,
    secret: bytes,
    *,
    height: int | Sequence[int] | None = None,
    clamp_negative: bool = False,
    reporter: Reporter | None = None,
    on_row: Any = None,
    hiding: bool = False,
    jobs: int | None = None,
    zk: Any = None,
    mode: str | None = None,
    _unsafe_skip_account_rule: bool = False,
) -> tuple[Snapshot, list[BuiltBucket], LedgerStats]:
    """Stream the ledger and build every tree in memory.

    ``height`` is one height for every bucket, or one per bucket (canonical order), or
    None for the default (room for twice each bucket's rows). ``on_row(bucket, idx,
    account, salt, line)`` sees each row (the store writer uses it). ``hiding`` builds
    Pedersen-committed trees (SPEC.md §15), using ``jobs`` processes for large ones;
    ``zk`` (a :class:`por.zk` batch-parameter object, ``ZkParams``) builds zk-mode trees whose
    lowest levels are Poseidon batches of ``2^zk.batch_height`` leaves (SPEC.md §16.10).
    ``mode`` names the mode instead (an auditor rebuilding a published snapshot passes its ``mode``).
    The returned snapshot knows every figure even in hiding mode (the exchange's copy);
    its :meth:`Snapshot.to_dict` publishes only commitments.

    A config with ``[prices]`` (SPEC.md §17) builds leaves of equity ‖ debt in any mode.
    ``_unsafe_skip_account_rule`` lets undercollateralised accounts through: it exists only so
    tests can build the attack fixtures users must catch.
    """
    rep = reporter or QUIET
    name = mode or mode_name(hiding, zk)
    scheme = mode_for(name, config, zk)
    scheme.check_buildable()
    keys = SnapshotKeys.from_master(secret)
    builders = [BucketBuilder(config.snapshot_id, b.id, scheme.n_values, keys, scheme.leaf_scheme(b.id, keys, jobs),
                              min_height=scheme.batch_height)
                for b in config.buckets]
    stats = LedgerStats()
    rep.phase("reading ledger", None)
    count = 0
    rows = read_ledger(ledger, config, clamp_negative=clamp_negative, stats=stats,
                       rows=scheme.values.rows(check_accounts=not _unsafe_skip_account_rule))
    for line, account, b, amounts in rows:
        builder = builders[b]
        idx = builder.rows
        salt = builder.add(line, account, amounts)
        if on_row is not None:
            on_row(b, idx, account, salt, line)
        count += 1
        if count % 8192 == 0:
            rep.advance(8192)
    rep.advance(count % 8192)

    heights = bucket_heights(height, [bd.rows for bd in builders], scheme.batch_height)
    # work units: one per padding leaf and one per internal node, plus the mode's own (zk: one per Poseidon leaf)
    rep.phase("building trees", sum((2 << h) - 1 - bd.rows + scheme.extra_work(1 << h) for bd, h in zip(builders, heights)))
    built = [bd.build(h, rep.advance, ledger=str(ledger)) for bd, h in zip(builders, heights)]
    summaries = tuple(scheme.summary(cb.id, cb.kind, bt) for cb, bt in zip(config.buckets, built))
    root, _ = root_of(scheme, summaries)
    return Snapshot(config, summaries, root, name, zk), built, stats


def build_engine(ledger: Path, *, mode: str, jobs: int | None = None, scheduler: str | None = None) -> Engine:
    """The engine :func:`build_snapshot` runs a build's tasks on unless given one: a Dask cluster (``scheduler``),
    ``jobs`` local processes, or by default every core for ledgers of :data:`PARALLEL_MIN_ROWS` rows and more
    (estimated from the file size), else this process. Start it (``engine.start(warm=TASK_MODULES)``) before
    any thread of the caller's does, and local workers are forked rather than spawned (much quicker)."""
    if jobs is None and scheduler is None and estimated_rows(ledger) >= PARALLEL_MIN_ROWS[mode]:
        jobs = os.cpu_count() or 1
    return make_engine(jobs=jobs, scheduler=scheduler)


def build_snapshot(
    config: SnapshotConfig | Path,
    ledger: Path,
    out_dir: Path,
    *,
    secret: bytes | None = None,
    height: int | None = None,
    clamp_negative: bool = False,
    reporter: Reporter | None = None,
    hiding: bool = False,
    jobs: int | None = None,
    scheduler: str | None = None,
    work_dir: Path | None = None,
    zk_setup: Path | None = None,
    engine: Engine | None = None,
    _unsafe_skip_account_rule: bool = False,
) -> BuildResult:
    """Build a snapshot into ``out_dir`` atomically (it must not exist or be empty).

    Without ``secret`` a fresh one is generated and written to ``out_dir/secret.key`` (0600).
    ``hiding`` publishes Pedersen commitments instead of totals (SPEC.md §15). ``zk_setup`` (a
    directory written by ``por zk setup``) builds a zk-mode snapshot bound to that setup's batch
    height and verifying key (SPEC.md §16.10); prove its batches with ``por zk prove``.

    The build is sharded (:mod:`por.snapshot.sharded`: bounded memory at any size). Its tasks run
    on ``engine``, or on a Dask cluster (``scheduler``: ``tcp://HOST:PORT`` or ``local``), or ``jobs``
    local processes; by default on every core from :data:`PARALLEL_MIN_ROWS` rows (per mode), else in this
    process. ``work_dir`` is where the work files go (a
    path every Dask worker can read); by default inside the output's staging directory. The
    output is byte-identical whatever runs it.
    """
    if not isinstance(config, SnapshotConfig):
        config = load_config(config)
    out_dir = Path(out_dir)
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise BadInput("output directory exists and is not empty (choose a new --out)", file=str(out_dir))
    zk = None
    if zk_setup is not None:
        from por.modes.zk import setup_params

        zk = setup_params(config, zk_setup)
    name = mode_name(hiding, zk)
    created = secret is None
    if secret is None:
        secret = generate_secret()
    own = engine is None
    if engine is None:
        engine = build_engine(ledger, mode=name, jobs=jobs, scheduler=scheduler)
    try:
        with atomic_directory(out_dir) as stage:
            result = build_sharded(
                config, ledger, secret, stage / "store.sqlite", mode=name, zk=zk, height=height,
                clamp_negative=clamp_negative, reporter=reporter, engine=engine, work_dir=work_dir,
                zk_setup=Path(zk_setup).resolve() if zk_setup is not None else None,
                check_accounts=not _unsafe_skip_account_rule,
            )
            atomic_write_json(stage / "snapshot.json", result.snapshot.to_dict())
            if created:
                write_secret(stage / "secret.key", secret)
    finally:
        if own:
            engine.close()
    stats = result.stats
    return BuildResult(result.snapshot, out_dir, stats.rows, stats.clamped, created,
                       {b.id: n for b, n in zip(config.buckets, result.rows_per_bucket)}, stats.debts,
                       stats.accounts_with_debt, result.shards)
