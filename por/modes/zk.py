"""zk tree mode (SPEC.md §16.10-§16.14, §17.26): bucket trees whose lowest ``k`` levels are Groth16-proven batches.

In zk mode every group of ``2^k`` consecutive leaves of a bucket tree is a *batch*:
a binary Poseidon tree over circuit-friendly leaves (:mod:`por.zk.batch`), whose
root and per-asset sums a Groth16 proof of ``circuits/batch.circom`` covers. The
level-``k`` node of the bucket tree is ``(field_to_bytes32(batch root), batch sums)``
and the SHA-256 Merkle-sum tree of §4 continues above it. The snapshot root binds
``k`` and the verifying key's digest, so every user and auditor checks batch
proofs against the same key.

With margin accounts (SPEC.md §17.26) the batches are ``BatchMargin(k, A)`` batches: each
leaf is ``Poseidon(account, salt, E ‖ D)``, the level-``k`` node carries the ``2A`` equity and
debt sums, and each proof also shows every leaf's base collateral value is ``≥ 0`` under the
snapshot's own integer factors (taken from its margin metadata, never from a proof file).

This module holds what the rest of ``por`` needs of that mode:

* (``ZkParams``, ``ZkSetup``, ``create_setup``, ``load_setup`` -- the public parameters and setup
  directories -- live in :mod:`por.zk.setup`);
* :func:`batch_hash_levels` -- the Poseidon levels of a bucket's batches (build time);
* :func:`prove_snapshot` -- ``por zk prove``: one proof file per batch, resumable;
* :func:`verify_snapshot` -- ``por zk verify``: every batch proof (py_ecc) and the
  SHA-256 tree above the batches against the published bucket roots and totals.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from por.core import encoding as enc
from por.core.errors import BadInput, VerificationFailed
from por.core.fileio import atomic_write_json, read_json
from por.core.keys import Prf
from por.zk import batch as zb
from por.zk.circuits import circuit_for, margin_value_base
from por.zk.groth16 import Proof, parse_proof, parse_verifying_key
from por.zk.setup import ZkParams, load_setup

MODE_ZK = "zk"
BATCH_PROOF_FORMAT = "por-zk-batch-proof"
PROOFS_DIR = "zk"
TAG_ZK_PROVE = enc.tag("zk-prove")
PARALLEL_MIN_LEAVES = 4096

Progress = Callable[[int], None]


# ------------------------------------------------------------------ building

def leaf_fields(snapshot_id: str, bucket_id: str, account_id: str, salt: bytes) -> bytes:
    """A real leaf's circuit inputs ``account ‖ salt`` (two 32-byte field elements, SPEC.md §16.3)."""
    return (zb.account_field(snapshot_id, bucket_id, account_id).to_bytes(32, "big")
            + zb.salt_field(salt).to_bytes(32, "big"))


def pad_fields(seed: bytes) -> bytes:
    """A padding leaf's circuit inputs: account 0 and the field of its seed."""
    return bytes(32) + zb.salt_field(seed).to_bytes(32, "big")


def _hash_batches(args: tuple[bytes, list[tuple[int, ...]], int]) -> list[bytes]:
    """Worker: Poseidon levels 0..k of consecutive batches; returns each level's nodes as 32-byte words."""
    from por.zk.poseidon import hash_level, poseidon_many

    fields, balances, k = args
    size = 1 << k
    out: list[bytearray] = [bytearray() for _ in range(k + 1)]
    for start in range(0, len(balances), size):
        rows = []
        for i in range(start, start + size):
            off = 64 * i
            rows.append((int.from_bytes(fields[off : off + 32], "big"),
                         int.from_bytes(fields[off + 32 : off + 64], "big"), *balances[i]))
        level = poseidon_many(rows)  # leaf = Poseidon(account, salt, b_0 .. b_{A-1}) (§16.4.1)
        out[0] += b"".join(x.to_bytes(32, "big") for x in level)
        for lvl in range(1, k + 1):
            level = hash_level(level)  # node = Poseidon(left, right)
            out[lvl] += b"".join(x.to_bytes(32, "big") for x in level)
    return [bytes(b) for b in out]


def batch_hash_levels(
    fields: bytes, balances: np.ndarray, k: int, *, jobs: int | None = None, progress: Progress | None = None,
) -> list[np.ndarray]:
    """Poseidon hashes of levels ``0..k`` of every batch of a bucket, as ``(N >> level, 32)`` uint8 arrays.

    ``fields`` is ``account ‖ salt`` (64 bytes) per leaf in index order, ``balances`` the ``(N, A)``
    uint64 leaf balances. Large trees are hashed by ``jobs`` worker processes (deterministic split).
    """
    n = len(balances)
    size = 1 << k
    if n % size or len(fields) != 64 * n:
        raise ValueError("a bucket tree holds whole batches and 64 field bytes per leaf")
    rows = [tuple(int(v) for v in row) for row in balances.tolist()]
    n_batches = n // size
    workers = max(1, min(jobs or 1, n_batches))
    per = -(-n_batches // (workers * 8)) * size if workers > 1 else n
    chunks = [(fields[64 * s : 64 * (s + per)], rows[s : s + per], k) for s in range(0, n, per)]
    levels: list[bytearray] = [bytearray() for _ in range(k + 1)]

    def take(parts: list[bytes], leaves: int) -> None:
        for level, part in enumerate(parts):
            levels[level] += part
        if progress:
            progress(2 * leaves - leaves // size)

    if workers > 1 and n >= PARALLEL_MIN_LEAVES:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            for chunk, parts in zip(chunks, pool.map(_hash_batches, chunks)):
                take(parts, len(chunk[1]))
    else:
        for chunk in chunks:
            take(_hash_batches(chunk), len(chunk[1]))
    return [np.frombuffer(bytes(b), dtype=np.uint8).reshape(-1, 32) for b in levels]


# ------------------------------------------------------------------ batch proof documents

@dataclass(frozen=True)
class BatchProofDoc:
    """One published batch proof: which batch, its public signals, and the Groth16 proof.

    ``sums`` has ``A`` values, or ``2A`` (equity then debt) for a margin batch (``margin``, version 2:
    published as ``equity`` and ``debt``; the factors are the snapshot's and are not repeated).
    """

    snapshot_root: bytes
    bucket: str
    batch: int
    root: int
    sums: tuple[int, ...]
    proof: Proof
    margin: bool = False

    def to_dict(self, symbols: Sequence[str]) -> dict[str, Any]:
        values = batch_values_doc(symbols, self.sums, self.margin)
        return {"format": BATCH_PROOF_FORMAT,
                "version": enc.MARGIN_FORMAT_VERSION if self.margin else enc.FORMAT_VERSION,
                "snapshot_root": self.snapshot_root.hex(), "bucket": self.bucket, "batch": self.batch,
                "root": str(self.root), **values, "proof": self.proof.to_json()}


def parse_field(value: Any, *, file: str, field: str) -> int:
    """A BN254 scalar written as a canonical decimal string (SPEC.md §16.6)."""
    if not isinstance(value, str) or not value.isascii() or not value.isdigit() or (value != "0" and value[0] == "0") \
            or len(value) > 78 or int(value) >= zb.P:
        raise BadInput("must be a canonical decimal string of a BN254 scalar (< p)", file=file, field=field)
    return int(value)


def batch_values_doc(symbols: Sequence[str], sums: Sequence[int], margin: bool) -> dict[str, Any]:
    """A batch's sums as published: ``{"sums": {...}}``, or ``{"equity": {...}, "debt": {...}}`` (margin, 2A values)."""
    amounts = lambda vs: {s: str(v) for s, v in zip(symbols, vs, strict=True)}  # noqa: E731
    n = len(symbols)
    return {"equity": amounts(sums[:n]), "debt": amounts(sums[n:])} if margin else {"sums": amounts(sums)}


def parse_amount_map(obj: Any, symbols: Sequence[str], *, file: str, field: str) -> list[int]:
    """``{"SYM": "<u64>", ...}`` with exactly the snapshot's symbols, in canonical order."""
    from por.snapshot.document import expect_keys, parse_uint64

    expect_keys(obj, set(symbols), file=file, field=field)
    return [parse_uint64(obj[s], file=file, field=f"{field}.{s}") for s in symbols]


def parse_batch_proof(doc: Any, symbols: Sequence[str], *, file: str, margin: bool = False) -> BatchProofDoc:
    """Strictly parse a batch proof document (BadInput naming the field); version 2 with ``margin``."""
    from por.snapshot.document import expect_keys, parse_hex32

    values = {"equity", "debt"} if margin else {"sums"}
    keys = {"format", "version", "snapshot_root", "bucket", "batch", "root", "proof"} | values
    if not isinstance(doc, dict) or doc.get("format") != BATCH_PROOF_FORMAT:
        raise BadInput(f"not a {BATCH_PROOF_FORMAT} document", file=file, field="format")
    expect_keys(doc, keys, file=file, field="$")
    version = enc.MARGIN_FORMAT_VERSION if margin else enc.FORMAT_VERSION
    if type(doc["version"]) is not int or doc["version"] != version:
        raise BadInput(f"unsupported version {doc['version']!r} (batch proofs of a "
                       f"{'margin' if margin else 'version 1'} snapshot are version {version})",
                       file=file, field="version")
    if not isinstance(doc["bucket"], str):
        raise BadInput("must be a string", file=file, field="bucket")
    batch = doc["batch"]
    if not isinstance(batch, int) or isinstance(batch, bool) or batch < 0:
        raise BadInput("must be a non-negative integer", file=file, field="batch")
    if margin:
        sums = tuple(parse_amount_map(doc["equity"], symbols, file=file, field="equity")
                     + parse_amount_map(doc["debt"], symbols, file=file, field="debt"))
    else:
        sums = tuple(parse_amount_map(doc["sums"], symbols, file=file, field="sums"))
    try:
        proof = parse_proof(doc["proof"], source=file)
    except BadInput as exc:
        raise BadInput(exc.reason, file=file, field="proof" + (f".{exc.field}" if exc.field else "")) from None
    return BatchProofDoc(parse_hex32(doc["snapshot_root"], file=file, field="snapshot_root"), doc["bucket"], batch,
                         parse_field(doc["root"], file=file, field="root"), sums, proof, margin)


def batch_proof_path(snapshot_dir: Path, bucket_index: int, batch: int) -> Path:
    """Where the proof of batch ``batch`` of the bucket at canonical position ``bucket_index`` lives."""
    return Path(snapshot_dir) / PROOFS_DIR / str(bucket_index) / f"{batch}.json"


def prove_seed(nonce_key: bytes, snapshot_root: bytes, bucket_id: str, batch: int) -> bytes:
    """The 32-byte seed of one batch proof's randomness: ``HMAC-SHA256(k_nonce, TAG("zk-prove") ‖ root ‖ lp(bucket) ‖ u64(j))``.

    The snapshot root fixes every leaf of the batch, so one seed is only ever used for one witness;
    proving the same snapshot twice gives byte-identical proofs.
    """
    return Prf(nonce_key)(TAG_ZK_PROVE + snapshot_root + enc.lp(bucket_id) + enc.u64(batch))


# ------------------------------------------------------------------ proving

@dataclass
class ProveResult:
    """What ``por zk prove`` did."""

    proved: int = 0
    skipped: int = 0
    batches: int = 0
    testing_only: bool = True
    seconds: float = 0.0


def _batch_leaves(store: Any, bucket: int, batch: int, k: int, n_assets: int,
                  margin: bool = False) -> list[zb.BatchLeaf]:
    """The circuit inputs of one batch from the store: ``BatchLeaf``s (with ``margin``: of ``E ‖ D``)."""
    fields = store.zk_fields(bucket, batch << k, 1 << k)
    sums = store.leaf_sums(bucket, batch << k, 1 << k, 2 * n_assets if margin else n_assets)
    out: list = []
    for i in range(1 << k):
        account = int.from_bytes(fields[64 * i : 64 * i + 32], "big")
        salt = int.from_bytes(fields[64 * i + 32 : 64 * i + 64], "big")
        row = tuple(sums[i])
        out.append(zb.BatchLeaf(account, salt, row))
    return out


def _check_margin_batch(leaves: Sequence[zb.BatchLeaf], factors: tuple[Sequence[int], Sequence[int]],
                        bucket_id: str, batch: int, k: int, margin: Any) -> None:
    """Refuse, before any node process starts, a batch the circuit cannot prove: a leaf with
    ``value_base < 0`` (SPEC.md §17.4) -- a store that does not follow the per-account rule."""
    for i, leaf in enumerate(leaves):
        value = margin_value_base(leaf, *factors)
        if value < 0:
            raise BadInput(f"leaf {(batch << k) + i} of bucket {bucket_id!r} (batch {batch}) has base collateral "
                           f"value {margin.format_value(value)} quote units < 0: the margin batch circuit cannot "
                           "prove it (the store breaks the per-account rule; rebuild with `por build`)",
                           field=f"{bucket_id}/batch {batch}")


def prove_snapshot(
    snapshot_dir: Path,
    *,
    setup_dir: Path | None = None,
    force: bool = False,
    progress: Progress | None = None,
    on_total: Callable[[int], None] | None = None,
) -> ProveResult:
    """Prove every batch of a zk-mode snapshot into ``DIR/zk/<bucket>/<batch>.json`` (atomically, resumably).

    A batch whose proof file exists and names the right batch root and sums is skipped unless
    ``force``. The setup directory defaults to the one the snapshot was built with. The proofs are
    deterministic (randomness from :func:`prove_seed`).
    """
    import time

    from por.proofs.inclusion import Prover
    from por.zk.prover import prove_batches

    snapshot_dir = Path(snapshot_dir)
    prover = Prover(snapshot_dir)
    try:
        snap = prover.snapshot
        if snap.zk is None:
            raise BadInput("not a zk-mode snapshot (build it with `por build --zk SETUP`)", file=str(snapshot_dir))
        setup = load_setup(Path(setup_dir) if setup_dir is not None else prover.store.zk_setup_dir())
        if setup.params.digest != snap.zk.digest or setup.batch_height != snap.zk.batch_height:
            raise BadInput("this setup's verifying key is not the one bound in the snapshot", file=str(setup.directory))
        k = snap.zk.batch_height
        symbols = snap.config.symbols
        n = len(symbols)
        margin = snap.config.margin
        n_values = 2 * n if margin is not None else n
        if setup.circuit != circuit_for(margin is not None):
            raise BadInput(f"a {setup.circuit} setup cannot prove a {'margin' if margin else 'version 1'} snapshot",
                           file=str(setup.directory))
        todo: list[tuple[int, int, Path]] = []  # (bucket position, batch, proof file) still to prove
        result = ProveResult(testing_only=setup.testing_only)
        for bi, summary in enumerate(snap.buckets):
            for j in range(1 << (summary.height - k)):
                result.batches += 1
                path = batch_proof_path(snapshot_dir, bi, j)
                node_hash, node_sums = prover.store.node(bi, k, j, n_values)
                if not force and path.is_file():
                    try:
                        doc = parse_batch_proof(read_json(path, "batch proof"), symbols, file=str(path),
                                                margin=margin is not None)
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
        circuit_setup = setup.circuit_setup()
        nonce = prover.store.nonce_key()
        t0 = time.perf_counter()

        factors = (margin.f_eq, margin.f_debt) if margin is not None else None

        def batches() -> Iterator[tuple[list, bytes]]:
            for bi, j, _ in todo:
                leaves = _batch_leaves(prover.store, bi, j, k, n, margin is not None)
                if factors is not None:
                    _check_margin_batch(leaves, factors, snap.buckets[bi].id, j, k, margin)
                yield leaves, prove_seed(nonce, snap.root, snap.buckets[bi].id, j)

        stream = prove_batches(circuit_setup, batches(), factors=factors)
        for (bi, j, path), proved in zip(todo, stream):
            summary = snap.buckets[bi]
            node_hash, node_sums = prover.store.node(bi, k, j, n_values)
            sums = list(proved.sums)
            if zb.field_to_bytes32(proved.root) != node_hash or sums != node_sums:
                raise BadInput(f"store is inconsistent: batch {j} of bucket {summary.id!r} proves another root",
                               file=str(prover.store.path))
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_json(path, BatchProofDoc(snap.root, summary.id, j, proved.root, tuple(sums),
                                                  proved.proof, factors is not None).to_dict(symbols))
            result.proved += 1
            if progress:
                progress(1)
        result.seconds = time.perf_counter() - t0
        return result
    finally:
        prover.close()


# ------------------------------------------------------------------ verifying

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
    buckets: list[BucketCheck] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    margin: bool = False

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def statement(self) -> str:
        """What valid batch proofs establish about every leaf of the snapshot, for reports."""
        if self.margin:
            return ("every equity and debt of every leaf is in [0, 2^64), every account's collateral value at the "
                    "snapshot's prices and base haircuts is >= 0, and every bucket's equity and debt totals are the "
                    "sums of its proven batches")
        return "every balance of every leaf is in [0, 2^64) and every bucket total is the sum of its proven batches"

    def to_dict(self) -> dict[str, Any]:
        return {"valid": self.ok, "snapshot_id": self.snapshot_id, "root": self.root,
                "batch_height": self.batch_height, "vkey_digest": self.vkey_digest, "margin": self.margin,
                "buckets": [{"bucket": b.bucket, "batches": b.batches, "ok": b.ok, "problem": b.problem}
                            for b in self.buckets],
                "failures": self.failures}


def verify_batch(params: ZkParams, proof: Proof, root: int, sums: Sequence[int],
                 factors: tuple[Sequence[int], Sequence[int]] | None = None) -> None:
    """Verify one batch proof under the snapshot's key (SPEC.md §16.7, §17.26).

    ``sums`` are the batch's ``A`` sums, or its ``2A`` equity then debt sums for a margin batch, whose
    ``factors`` (``f_eq``, ``f_debt``) must come from the snapshot's own margin metadata.
    Raises :class:`VerificationFailed`.
    """
    params.circuit.verify(params.vkey, proof, root, sums, factors)  # ValueError: factors missing or superfluous


def _verify_worker(args: tuple[dict, Any, int, Any, int, tuple[int, ...], Any]) -> str | None:
    vk_doc, circuit, k, proof_doc, root, sums, factors = args
    params = ZkParams(k, parse_verifying_key(vk_doc), circuit)
    try:
        verify_batch(params, parse_proof(proof_doc), root, sums, factors)
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
) -> ZkVerifyResult:
    """Verify every batch proof of a published zk-mode snapshot and tie them to its bucket roots.

    Reads ``snapshot.json`` (or ``snapshot_path``) and ``DIR/zk/<bucket>/<j>.json``; for each
    bucket: every one of its ``2^(h-k)`` batch proofs must exist, name this snapshot, bucket and
    batch, and verify under the snapshot's key (py_ecc pairing; ``jobs`` processes); the SHA-256
    Merkle-sum tree built over the proven ``(root, sums)`` must give the published bucket root
    and totals. Never raises for a failed check: failures are collected, naming bucket and batch.
    """
    from por.snapshot.document import load_snapshot

    snapshot_dir = Path(snapshot_dir)
    snap = load_snapshot(snapshot_path or snapshot_dir / "snapshot.json")
    if snap.zk is None:
        raise BadInput("not a zk-mode snapshot", file=str(snapshot_path or snapshot_dir / "snapshot.json"))
    k = snap.zk.batch_height
    symbols = snap.config.symbols
    margin = snap.config.margin
    n_values = 2 * len(symbols) if margin is not None else len(symbols)
    factors = (margin.f_eq, margin.f_debt) if margin is not None else None  # from the snapshot, never a proof
    result = ZkVerifyResult(snap.config.snapshot_id, snap.root.hex(), k, snap.zk.digest.hex(), margin=margin is not None)
    if on_total:
        on_total(sum(1 << (b.height - k) for b in snap.buckets))
    vk_doc = snap.zk.vkey.to_json()
    for bi, summary in enumerate(snap.buckets):
        count = 1 << (summary.height - k)
        nodes: list[tuple[bytes, list[int]]] = []
        checks: list[tuple[dict, Any, int, Any, int, tuple[int, ...], Any]] = []
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
                doc = parse_batch_proof(read_json(path, "batch proof"), symbols, file=str(path),
                                        margin=margin is not None)
            except BadInput as exc:
                problems.append(f"{where}: malformed: {exc}")
                nodes.append((bytes(32), [0] * n_values))
                continue
            if (doc.snapshot_root, doc.bucket, doc.batch) != (snap.root, summary.id, j):
                problems.append(f"{where}: the document names snapshot {doc.snapshot_root.hex()[:16]}…, bucket "
                                f"{doc.bucket!r}, batch {doc.batch}")
            nodes.append((zb.field_to_bytes32(doc.root), list(doc.sums)))
            checks.append((vk_doc, snap.zk.circuit, k, doc.proof.to_json(), doc.root, doc.sums, factors))
            checked.append(j)
        verdicts = _run_checks(checks, jobs, progress)
        for j, verdict in zip(checked, verdicts):
            if verdict is not None:
                problems.append(f"bucket {summary.id}, batch {j} ({batch_proof_path(snapshot_dir, bi, j)}): "
                                f"Groth16 proof does not verify ({verdict})")
        if progress and len(checks) < count:
            progress(count - len(checks))
        if not problems:
            problem = _check_upper_tree(snap.config.snapshot_id, summary, nodes)
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


def _check_upper_tree(snapshot_id: str, summary: Any, nodes: list[tuple[bytes, list[int]]]) -> str | None:
    """Build the SHA-256 tree over proven batch nodes; compare with the published bucket root and totals."""
    from por.tree.sumtree import _parent

    level = nodes
    try:
        while len(level) > 1:
            level = [_parent(level[i], level[i + 1], "batch tree") for i in range(0, len(level), 2)]
    except VerificationFailed as exc:
        return exc.reason
    root_hash, sums = level[0]
    if root_hash != summary.root or tuple(sums) != tuple(summary.vector):
        return ("the proven batches do not add up to the published bucket root and totals "
                f"(computed {root_hash.hex()[:16]}…)")
    return None


# ------------------------------------------------------------------ inclusion proofs

def entry_batch_doc(snapshot_dir: Path, store: Any, snap: Any, bucket: int, position: int) -> dict[str, Any]:
    """The ``batch`` object of a zk-mode inclusion proof entry: Poseidon path, batch sums (margin:
    equity and debt sums), Groth16 proof.

    Requires the batch's proof file (``por zk prove`` first); checks it names this batch's root and sums.
    """
    k = snap.zk.batch_height
    symbols = snap.config.symbols
    n = len(symbols)
    margin = snap.config.margin is not None
    n_values = 2 * n if margin else n
    j = position >> k
    path = [int.from_bytes(store.node(bucket, lvl, (position >> lvl) ^ 1, n_values)[0], "big") for lvl in range(k)]
    node_hash, node_sums = store.node(bucket, k, j, n_values)
    proof_path = batch_proof_path(snapshot_dir, bucket, j)
    if not proof_path.is_file():
        raise BadInput(f"no proof of batch {j} of bucket {snap.buckets[bucket].id!r} yet (run `por zk prove`)",
                       file=str(proof_path))
    doc = parse_batch_proof(read_json(proof_path, "batch proof"), symbols, file=str(proof_path), margin=margin)
    if (doc.snapshot_root, zb.field_to_bytes32(doc.root), list(doc.sums)) != (snap.root, node_hash, node_sums):
        raise BadInput("batch proof is for another snapshot or batch (re-run `por zk prove --force`)",
                       file=str(proof_path))
    return {"path": [str(x) for x in path], **batch_values_doc(symbols, node_sums, margin),
            "proof": doc.proof.to_json()}


def verify_entry_batch(
    obj: Any, params: ZkParams, *, snapshot_id: str, bucket_id: str, account_id: str, salt: bytes,
    balances: Sequence[int], index: int, symbols: Sequence[str], file: str, field: str, where: str,
    factors: tuple[Sequence[int], Sequence[int]] | None = None,
) -> tuple[bytes, list[int]]:
    """Check a proof entry's ``batch`` object; return the level-``k`` node ``(hash, sums)`` it proves.

    The leaf (§16.4.1) climbs the ``k`` Poseidon siblings to the batch root, and the Groth16 proof
    must verify for ``[root, sums]`` under the snapshot's key: so every leaf of the batch, not only
    this one, is a u64 vector and the sums are exact. For a margin snapshot (SPEC.md §17.26)
    ``balances`` is the own ``E ‖ D``, the object carries ``equity`` and ``debt`` sums, and the
    proof also covers every leaf's ``value_base ≥ 0`` under ``factors`` (the snapshot's own).
    """
    from por.snapshot.document import expect_keys

    k = params.batch_height
    margin = factors is not None
    expect_keys(obj, {"path", "proof"} | ({"equity", "debt"} if margin else {"sums"}), file=file, field=field)
    if not isinstance(obj["path"], list):
        raise BadInput("must be a list", file=file, field=f"{field}.path")
    path = [parse_field(x, file=file, field=f"{field}.path[{i}]") for i, x in enumerate(obj["path"])]
    if margin:
        sums = (parse_amount_map(obj["equity"], symbols, file=file, field=f"{field}.equity")
                + parse_amount_map(obj["debt"], symbols, file=file, field=f"{field}.debt"))
    else:
        sums = parse_amount_map(obj["sums"], symbols, file=file, field=f"{field}.sums")
    try:
        proof = parse_proof(obj["proof"], source=file)
    except BadInput as exc:
        raise BadInput(exc.reason, file=file, field=f"{field}.proof" + (f".{exc.field}" if exc.field else "")) from None
    if len(path) != k:
        raise VerificationFailed(f"batch path has {len(path)} siblings, the batch height is {k}", where=where)
    leaf = zb.leaf_hash(zb.account_field(snapshot_id, bucket_id, account_id), zb.salt_field(salt), balances)
    root = zb.root_from_path(leaf, index & ((1 << k) - 1), path)
    try:
        verify_batch(params, proof, root, sums, factors)
    except VerificationFailed as exc:
        raise VerificationFailed(f"{exc.reason}; the leaf, batch path or batch sums were altered, or the proof "
                                 "is not for this batch" + (" and these prices and haircuts" if margin else ""),
                                 where=f"{where}, batch") from None
    return zb.field_to_bytes32(root), sums
