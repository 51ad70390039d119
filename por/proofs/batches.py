"""Every batch of a zk-mode snapshot: ``por zk prove`` and ``por zk verify`` (SPEC.md §16.11-§16.13, §17.26).

:func:`prove_snapshot` proves each batch into ``DIR/zk/<bucket position>/<batch>.json``
(atomically, resumably, deterministically); :func:`verify_snapshot` checks every batch proof
(py_ecc, optionally in worker processes) and that the SHA-256 tree above the proven batches
gives each published bucket root and totals. The batch documents and the mode are
:mod:`por.modes.zk`; the circuits and the prover are :mod:`por.zk`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from por.core.engine import Engine
from por.core.errors import BadInput, ServiceUnavailable, VerificationFailed
from por.core.fileio import atomic_write_json
from por.core.progress import Progress
from por.modes.zk import BatchProofDoc, ZkMode, batch_leaves, batch_proof_path, prove_seed
from por.proofs.inclusion import Prover
from por.snapshot.document import load_snapshot
from por.tree.sumtree import parent
from por.zk import batch as zb
from por.zk.circuits import margin_value_base
from por.zk.groth16 import PY_ECC, Proof
from por.zk.prover import prove_batches, resolve_prover
from por.zk.setup import load_setup

__all__ = ["BucketCheck", "ProveResult", "ZkVerifyResult", "prove_snapshot", "verify_snapshot"]


# ------------------------------------------------------------------ proving

@dataclass
class ProveResult:
    """What ``por zk prove`` did."""

    proved: int = 0
    skipped: int = 0
    batches: int = 0
    testing_only: bool = True
    seconds: float = 0.0


def _zk_mode(snapshot: Any, where: str) -> ZkMode:
    mode = snapshot.scheme
    if not isinstance(mode, ZkMode):
        raise BadInput("not a zk-mode snapshot (build it with `por build --zk SETUP`)", file=where)
    return mode


def _check_provable(mode: ZkMode, leaves: list[zb.BatchLeaf], bucket_id: str, batch: int) -> None:
    """Refuse, before any node process starts, a batch the margin circuit cannot prove: a leaf with
    ``value_base < 0`` (SPEC.md §17.4) -- a store that does not follow the per-account rule."""
    if mode.factors is None:
        return
    k, params = mode.batch_height, mode.values.params
    for i, leaf in enumerate(leaves):
        value = margin_value_base(leaf, *mode.factors)
        if value < 0:
            raise BadInput(f"leaf {(batch << k) + i} of bucket {bucket_id!r} (batch {batch}) has base collateral "
                           f"value {params.format_value(value)} quote units < 0: the margin batch circuit cannot "
                           "prove it (the store breaks the per-account rule; rebuild with `por build`)",
                           field=f"{bucket_id}/batch {batch}")


def prove_snapshot(
    snapshot_dir: Path,
    *,
    setup_dir: Path | None = None,
    force: bool = False,
    progress: Progress | None = None,
    on_total: Callable[[int], None] | None = None,
    prover_backend: str | None = None,
    engine: Engine | None = None,
) -> ProveResult:
    """Prove every batch of a zk-mode snapshot into ``DIR/zk/<bucket>/<batch>.json`` (atomically, resumably).

    A batch whose proof file exists and names the right batch root and sums is skipped unless
    ``force``. The setup directory defaults to the one the snapshot was built with. The proofs are
    deterministic (randomness from :func:`por.modes.zk.prove_seed`), byte-identical whatever the
    ``prover_backend`` (``native`` / ``snarkjs``, default the fastest installed) and the ``engine``
    (:func:`por.core.engine.make_engine`: the batches still to prove are split into groups, one task per
    group, each task proving its batches in one node process and writing their files atomically).
    """
    snapshot_dir = Path(snapshot_dir)
    prover = Prover(snapshot_dir)
    try:
        snap = prover.snapshot
        mode = _zk_mode(snap, str(snapshot_dir))
        setup = load_setup(Path(setup_dir) if setup_dir is not None else prover.store.zk_setup_dir())
        if setup.params.digest != snap.zk.digest or setup.batch_height != snap.zk.batch_height:
            raise BadInput("this setup's verifying key is not the one bound in the snapshot", file=str(setup.directory))
        if setup.circuit != mode.circuit:
            raise BadInput(f"a {setup.circuit} setup cannot prove this snapshot (its batches need {mode.circuit})",
                           file=str(setup.directory))
        k, n_values = mode.batch_height, mode.n_values
        todo: list[tuple[int, int, Path]] = []  # (bucket position, batch, proof file) still to prove
        result = ProveResult(testing_only=setup.testing_only)
        for bi, summary in enumerate(snap.buckets):
            for j in range(1 << (summary.height - k)):
                result.batches += 1
                path = batch_proof_path(snapshot_dir, bi, j)
                node_hash, node_sums = prover.store.node(bi, k, j, n_values)
                if not force and path.is_file():
                    try:
                        doc = mode.read_batch_proof(path)
                    except BadInput:
                        doc = None
                    if doc is not None and (doc.snapshot_root, doc.bucket, doc.batch, zb.field_to_bytes32(doc.root),
                                            list(doc.sums)) == (snap.root, summary.id, j, node_hash, node_sums):
                        result.skipped += 1
                        if progress:
                            progress(1)
                        continue
                todo.append((bi, j, path))
        if on_total:
            on_total(result.batches)
        t0 = time.perf_counter()
        items = [(bi, j) for bi, j, _ in todo]
        backend = resolve_prover(prover_backend)  # before any worker starts: a missing package fails here
        if engine is None or engine.workers <= 1 and engine.name == "serial":
            result.proved += _prove_group(str(snapshot_dir), str(setup.directory), items, backend, progress)
        else:
            size = max(1, -(-len(items) // (2 * engine.workers)))
            groups = [items[i:i + size] for i in range(0, len(items), size)]
            tasks = [(_prove_group, (str(snapshot_dir), str(setup.directory), g, backend)) for g in groups]
            for done in engine.run(tasks):
                result.proved += done
                if progress:
                    progress(done)
        result.seconds = time.perf_counter() - t0
        return result
    finally:
        prover.close()


def _prove_group(snapshot_dir: str, setup_dir: str, items: list[tuple[int, int]], backend: str | None,
                 progress: Progress | None = None) -> int:
    """Prove batches ``items`` (``(bucket position, batch)``) of a snapshot and write their proof files.

    An engine task (module level, small result): it opens the store itself, derives each seed
    (:func:`prove_seed`), proves with ``backend`` in one node process, checks each proven root and sums
    against the store and writes ``zk/<b>/<j>.json`` atomically. Returns the number of proofs written.
    """
    if not items:
        return 0
    prover = Prover(Path(snapshot_dir))
    try:
        snap = prover.snapshot
        mode = _zk_mode(snap, snapshot_dir)
        setup = load_setup(Path(setup_dir))
        k, n_values = mode.batch_height, mode.n_values
        nonce = prover.store.nonce_key()

        def batches() -> Iterator[tuple[list, bytes]]:
            for bi, j in items:
                leaves = batch_leaves(prover.store, bi, j, k, n_values)
                _check_provable(mode, leaves, snap.buckets[bi].id, j)
                yield leaves, prove_seed(nonce, snap.root, snap.buckets[bi].id, j)

        written = 0
        for (bi, j), proved in zip(items, prove_batches(setup.circuit_setup(), batches(), factors=mode.factors,
                                                        backend=backend)):
            summary = snap.buckets[bi]
            node_hash, node_sums = prover.store.node(bi, k, j, n_values)
            sums = list(proved.sums)
            if zb.field_to_bytes32(proved.root) != node_hash or sums != node_sums:
                raise BadInput(f"store is inconsistent: batch {j} of bucket {summary.id!r} proves another root",
                               file=str(prover.store.path))
            path = batch_proof_path(Path(snapshot_dir), bi, j)
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_json(path, BatchProofDoc(snap.root, summary.id, j, proved.root, tuple(sums),
                                                  proved.proof).to_dict(mode.values))
            written += 1
            if progress:
                progress(1)
        return written
    finally:
        prover.close()


# ------------------------------------------------------------------ verifying

VERIFIERS = ("native", "py_ecc")


def resolve_verifier(name: str | None) -> str:
    """``name``, or (``None``) ``native`` when mclbn256 is installed, else ``py_ecc``; ``native`` without it
    raises :class:`ServiceUnavailable` naming the package, an unknown name :class:`BadInput`."""
    from por.zk import native

    if name is None:
        return "native" if native.missing(prove=False) is None else "py_ecc"
    if name not in VERIFIERS:
        raise BadInput(f"unknown verifier {name!r} (choose from {', '.join(VERIFIERS)})")
    if name == "native" and native.missing(prove=False):
        raise ServiceUnavailable(native.missing(prove=False) or "")
    return name

@dataclass
class BucketCheck:
    bucket: str
    batches: int
    ok: bool
    problem: str | None = None


@dataclass
class ZkVerifyResult:
    """The outcome of :func:`verify_snapshot`: per bucket, and the failures found (empty when valid)."""

    snapshot_id: str
    root: str
    batch_height: int
    vkey_digest: str
    statement: str
    """What valid batch proofs establish about every leaf of the snapshot, for reports."""
    buckets: list[BucketCheck] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    margin: bool = False

    @property
    def ok(self) -> bool:
        return not self.failures

    def to_dict(self) -> dict[str, Any]:
        return {"valid": self.ok, "snapshot_id": self.snapshot_id, "root": self.root,
                "batch_height": self.batch_height, "vkey_digest": self.vkey_digest, "margin": self.margin,
                "buckets": [{"bucket": b.bucket, "batches": b.batches, "ok": b.ok, "problem": b.problem}
                            for b in self.buckets],
                "failures": self.failures}


def _verify_worker(args: tuple[Any, Any, Proof, int, tuple[int, ...], Any, str]) -> str | None:
    """One batch's pairing check. The key and proof were strictly parsed by the caller (with the checks of
    ``verifier``) and reach a worker process pickled, so they are not parsed again."""
    vkey, circuit, proof, root, sums, factors, verifier = args
    try:
        circuit.verify(vkey, proof, root, sums, factors, verifier=verifier)
    except VerificationFailed as exc:
        return exc.reason
    return None


def verify_snapshot(
    snapshot_dir: Path,
    *,
    snapshot_path: Path | None = None,
    jobs: int = 1,
    progress: Progress | None = None,
    on_total: Callable[[int], None] | None = None,
    verifier: str | None = None,
) -> ZkVerifyResult:
    """Verify every batch proof of a published zk-mode snapshot and tie them to its bucket roots.

    Reads ``snapshot.json`` (or ``snapshot_path``) and ``DIR/zk/<bucket>/<j>.json``; for each
    bucket: every one of its ``2^(h-k)`` batch proofs must exist, name this snapshot, bucket and
    batch, and verify under the snapshot's key (py_ecc pairing; ``jobs`` processes); the SHA-256
    Merkle-sum tree built over the proven ``(root, sums)`` must give the published bucket root
    and totals. Never raises for a failed check: failures are collected, naming bucket and batch.
    ``verifier``: ``native`` (MCL, the default when mclbn256 is installed) or ``py_ecc`` (the reference).
    """
    verifier = resolve_verifier(verifier)
    checks = PY_ECC
    if verifier == "native":
        from por.zk.native import MCL_CHECKS as checks
    snapshot_dir = Path(snapshot_dir)
    snap = load_snapshot(snapshot_path or snapshot_dir / "snapshot.json")
    mode = _zk_mode(snap, str(snapshot_path or snapshot_dir / "snapshot.json"))
    k, n_values = mode.batch_height, mode.n_values
    factors = mode.factors  # from the snapshot, never a proof
    result = ZkVerifyResult(snap.config.snapshot_id, snap.root.hex(), k, snap.zk.digest.hex(), mode.batch_statement(),
                            margin=factors is not None)
    if on_total:
        on_total(sum(1 << (b.height - k) for b in snap.buckets))
    for bi, summary in enumerate(snap.buckets):
        count = 1 << (summary.height - k)
        nodes: list[tuple[bytes, list[int]]] = []
        pairings: list[tuple[Any, Any, Proof, int, tuple[int, ...], Any, str]] = []
        checked: list[int] = []
        problems: list[str] = []
        for j in range(count):
            path = batch_proof_path(snapshot_dir, bi, j)
            where = f"bucket {summary.id}, batch {j} ({path})"
            if not path.is_file():
                problems.append(f"{where}: proof missing (run `por zk prove`)")
                nodes.append((bytes(32), [0] * n_values))
                continue
            try:
                doc = mode.read_batch_proof(path, checks)
            except BadInput as exc:
                problems.append(f"{where}: malformed: {exc}")
                nodes.append((bytes(32), [0] * n_values))
                continue
            if (doc.snapshot_root, doc.bucket, doc.batch) != (snap.root, summary.id, j):
                problems.append(f"{where}: the document names snapshot {doc.snapshot_root.hex()[:16]}…, bucket "
                                f"{doc.bucket!r}, batch {doc.batch}")
            nodes.append((zb.field_to_bytes32(doc.root), list(doc.sums)))
            pairings.append((snap.zk.vkey, snap.zk.circuit, doc.proof, doc.root, doc.sums, factors, verifier))
            checked.append(j)
        verdicts = _run_checks(pairings, jobs, progress)
        for j, verdict in zip(checked, verdicts):
            if verdict is not None:
                problems.append(f"bucket {summary.id}, batch {j} ({batch_proof_path(snapshot_dir, bi, j)}): "
                                f"Groth16 proof does not verify ({verdict})")
        if progress and len(pairings) < count:
            progress(count - len(pairings))
        if not problems:
            problem = _check_upper_tree(summary, nodes)
            if problem:
                problems.append(f"bucket {summary.id}: {problem}")
        result.buckets.append(BucketCheck(summary.id, count, not problems, problems[0] if problems else None))
        result.failures += problems
    return result


def _run_checks(checks: list, jobs: int, progress: Progress | None) -> list[str | None]:
    if jobs > 1 and len(checks) > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        ctx = multiprocessing.get_context("spawn")
        out = []
        with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
            for verdict in pool.map(_verify_worker, checks):
                out.append(verdict)
                if progress:
                    progress(1)
        return out
    out = []
    for c in checks:
        out.append(_verify_worker(c))
        if progress:
            progress(1)
    return out


def _check_upper_tree(summary: Any, nodes: list[tuple[bytes, list[int]]]) -> str | None:
    """Build the SHA-256 tree over proven batch nodes; compare with the published bucket root and totals."""
    level = nodes
    try:
        while len(level) > 1:
            level = [parent(level[i], level[i + 1], "batch tree") for i in range(0, len(level), 2)]
    except VerificationFailed as exc:
        return exc.reason
    root_hash, sums = level[0]
    if root_hash != summary.root or tuple(sums) != tuple(summary.vector):
        return ("the proven batches do not add up to the published bucket root and totals "
                f"(computed {root_hash.hex()[:16]}…)")
    return None
