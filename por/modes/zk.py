"""zk mode (SPEC.md §16.10-§16.14, §17.26): bucket trees whose lowest ``k`` levels are Groth16-proven batches.

In zk mode every group of ``2^k`` consecutive leaves of a bucket tree is a *batch*: a binary
Poseidon tree over circuit-friendly leaves (:mod:`por.zk.batch`), whose root and value sums a
Groth16 proof covers. The level-``k`` node of the bucket tree is ``(field_to_bytes32(batch root),
batch sums)`` and the SHA-256 Merkle-sum tree of §4 continues above it; the snapshot root binds
``k`` and the verifying key's digest, so every user and auditor checks batch proofs against the
same key. The circuit follows the value layout (:func:`por.zk.circuits.circuit_for`): ``Batch(k, A)``
for plain values, ``BatchMargin(k, A)`` for margin values, whose leaves are ``Poseidon(account,
salt, E ‖ D)`` and whose proofs also show every leaf's base collateral value is ``>= 0`` under the
snapshot's own factors (taken from its metadata, never from a proof file).

This module is the mode (:class:`ZkMode`: leaves, documents, inclusion-proof entries) and the
published batch proof document; proving and verifying every batch of a snapshot (``por zk prove``,
``por zk verify``) is :mod:`por.proofs.batches`; setups and the circuits are :mod:`por.zk`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from por.core import encoding as enc
from por.core.config import SnapshotConfig
from por.core.errors import BadInput, VerificationFailed
from por.core.fileio import read_json
from por.core.jsondoc import expect_keys, parse_hex32, parse_index, parse_uint64
from por.core.keys import Prf, SnapshotKeys
from por.core.progress import Progress
from por.modes.base import EntryCheck, ProofSource
from por.modes.public import PublicMode
from por.modes.values import Values
from por.tree.sumtree import OneByOne, Level, Node, sum_levels
from por.zk import batch as zb
from por.zk.circuits import CircuitKind, circuit_for
from por.zk.groth16 import PY_ECC, PointChecks, Proof, parse_proof
from por.zk.setup import ZkParams, load_setup

BATCH_PROOF_FORMAT = "por-zk-batch-proof"
PROOFS_DIR = "zk"
TAG_ZK_PROVE = enc.tag("zk-prove")
PARALLEL_MIN_LEAVES = 4096


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




class ZkLeaves(OneByOne):
    """Leaves as circuit inputs (``account ‖ salt`` field elements); the lowest ``k`` levels are Poseidon
    batches (in parallel for large trees), SHA-256 Merkle-sum nodes above them."""

    def __init__(self, snapshot_id: str, bucket_id: str, k: int, jobs: int | None) -> None:
        self.snapshot_id, self.bucket_id, self.k, self.jobs = snapshot_id, bucket_id, k, jobs
        self._fields = bytearray()

    def add(self, salt: bytes, lp_account: bytes, account_id: str, amounts: Sequence[int]) -> None:
        self._fields += leaf_fields(self.snapshot_id, self.bucket_id, account_id, salt)

    def levels(self, order: np.ndarray, seeds: bytes, pad_hashes: bytes, sums: np.ndarray,
               progress: Progress | None) -> tuple[list[Level], bytes | None]:
        k = self.k
        pads = b"".join([pad_fields(seeds[i : i + 32]) for i in range(0, len(seeds), 32)])
        fields = np.frombuffer(bytes(self._fields) + pads, dtype="S64")[order].tobytes()
        hashed = batch_hash_levels(fields, sums, k, jobs=self.jobs, progress=progress)
        levels = [Level(hashed[0], sums)]
        for lvl in range(1, k + 1):
            below = levels[-1].sums
            levels.append(Level(hashed[lvl], below[0::2] + below[1::2]))
        return sum_levels(levels, progress), fields


def batch_leaves(store: Any, bucket: int, batch: int, k: int, n_values: int) -> list[zb.BatchLeaf]:
    """The circuit inputs of one batch from the store: a ``BatchLeaf`` of the leaf's value vector per leaf."""
    fields = store.zk_fields(bucket, batch << k, 1 << k)
    sums = store.leaf_sums(bucket, batch << k, 1 << k, n_values)
    return [zb.BatchLeaf(int.from_bytes(fields[64 * i : 64 * i + 32], "big"),
                         int.from_bytes(fields[64 * i + 32 : 64 * i + 64], "big"), tuple(sums[i]))
            for i in range(1 << k)]


# ------------------------------------------------------------------ batch proof documents

@dataclass(frozen=True)
class BatchProofDoc:
    """One published batch proof: which batch, its public signals, and the Groth16 proof (SPEC.md §16.12).

    ``sums`` is the batch's value vector (``A`` sums, or equity then debt with margin values, published
    under the layout's names; the margin factors are the snapshot's and are not repeated).
    """

    snapshot_root: bytes
    bucket: str
    batch: int
    root: int
    sums: tuple[int, ...]
    proof: Proof

    def to_dict(self, values: Values) -> dict[str, Any]:
        return {"format": BATCH_PROOF_FORMAT, "version": values.version,
                "snapshot_root": self.snapshot_root.hex(), "bucket": self.bucket, "batch": self.batch,
                "root": str(self.root), **values.to_doc("sums", self.sums), "proof": self.proof.to_json()}


def parse_field(value: Any, *, file: str, field: str) -> int:
    """A BN254 scalar written as a canonical decimal string (SPEC.md §16.6)."""
    if not isinstance(value, str) or not value.isascii() or not value.isdigit() or (value != "0" and value[0] == "0") \
            or len(value) > 78 or int(value) >= zb.P:
        raise BadInput("must be a canonical decimal string of a BN254 scalar (< p)", file=file, field=field)
    return int(value)


def _parse_groth16(obj: Any, *, file: str, field: str, checks: PointChecks = PY_ECC) -> Proof:
    try:
        return parse_proof(obj, source=file, checks=checks)
    except BadInput as exc:
        raise BadInput(exc.reason, file=file, field=field + (f".{exc.field}" if exc.field else "")) from None


def parse_batch_proof(doc: Any, values: Values, *, file: str, checks: PointChecks = PY_ECC) -> BatchProofDoc:
    """Strictly parse a batch proof document of a snapshot with value layout ``values`` (BadInput naming the field;
    the proof's points checked by ``checks``, :class:`por.zk.groth16.PointChecks`)."""
    keys = {"format", "version", "snapshot_root", "bucket", "batch", "root", "proof"} | values.keys("sums")
    if not isinstance(doc, dict) or doc.get("format") != BATCH_PROOF_FORMAT:
        raise BadInput(f"not a {BATCH_PROOF_FORMAT} document", file=file, field="format")
    expect_keys(doc, keys, file=file, field="$")
    if type(doc["version"]) is not int or doc["version"] != values.version:
        raise BadInput(f"unsupported version {doc['version']!r} (batch proofs of a version {values.version} "
                       f"snapshot are version {values.version})", file=file, field="version")
    if not isinstance(doc["bucket"], str):
        raise BadInput("must be a string", file=file, field="bucket")
    batch = parse_index(doc["batch"], file=file, field="batch")
    sums = tuple(values.from_doc(doc, "sums", parse_uint64, file=file, field=""))
    proof = _parse_groth16(doc["proof"], file=file, field="proof", checks=checks)
    return BatchProofDoc(parse_hex32(doc["snapshot_root"], file=file, field="snapshot_root"), doc["bucket"], batch,
                         parse_field(doc["root"], file=file, field="root"), sums, proof)


def batch_proof_path(snapshot_dir: Path, bucket_index: int, batch: int) -> Path:
    """Where the proof of batch ``batch`` of the bucket at canonical position ``bucket_index`` lives."""
    return Path(snapshot_dir) / PROOFS_DIR / str(bucket_index) / f"{batch}.json"


def prove_seed(nonce_key: bytes, snapshot_root: bytes, bucket_id: str, batch: int) -> bytes:
    """The 32-byte seed of one batch proof's randomness: ``HMAC-SHA256(k_nonce, TAG("zk-prove") ‖ root ‖ lp(bucket) ‖ u64(j))``.

    The snapshot root fixes every leaf of the batch, so one seed is only ever used for one witness;
    proving the same snapshot twice gives byte-identical proofs.
    """
    return Prf(nonce_key)(TAG_ZK_PROVE + snapshot_root + enc.lp(bucket_id) + enc.u64(batch))


def verify_batch(params: ZkParams, proof: Proof, root: int, sums: Sequence[int],
                 factors: tuple[Sequence[int], Sequence[int]] | None = None) -> None:
    """Verify one batch proof under the snapshot's key (SPEC.md §16.7, §17.26).

    ``sums`` are the batch's value sums; margin ``factors`` (``f_eq``, ``f_debt``) must come from the
    snapshot's own metadata. Raises :class:`VerificationFailed`.
    """
    params.circuit.verify(params.vkey, proof, root, sums, factors)  # ValueError: factors missing or superfluous


# ------------------------------------------------------------------ the mode

class ZkMode(PublicMode):
    """Public sums above Groth16-proven Poseidon batches of ``2^k`` leaves (SPEC.md §16.10, §17.26)."""

    name = "zk"

    @property
    def batch_height(self) -> int:
        return self.zk.batch_height if self.zk is not None else 0

    @property
    def circuit(self) -> CircuitKind:
        """The batch circuit this snapshot's value layout needs."""
        return circuit_for(self.values.params is not None)

    @property
    def factors(self) -> tuple[Sequence[int], Sequence[int]] | None:
        """Margin values: the snapshot's own ``(f_eq, f_debt)``, public inputs of every batch proof."""
        params = self.values.params
        return (params.f_eq, params.f_debt) if params is not None else None

    def root_extension(self) -> bytes:
        k, digest = self.zk.binding
        return enc.u8(k) + digest + self.values.root_extension()

    def check_buildable(self) -> None:
        if self.zk.circuit != self.circuit:
            raise BadInput("a margin config (with [prices]) is built with a BatchMargin setup (`por zk setup "
                           "--margin`), any other config with a Batch setup", field="zk")

    def leaf_scheme(self, bucket_id: str, keys: SnapshotKeys, jobs: int | None) -> ZkLeaves:
        return ZkLeaves(self.config.snapshot_id, bucket_id, self.batch_height, jobs)

    def extra_work(self, capacity: int) -> int:
        return capacity  # one Poseidon leaf hash per leaf

    def batch_statement(self) -> str:
        """What valid batch proofs establish about every leaf of the snapshot, for reports."""
        if self.factors is not None:
            return ("every equity and debt of every leaf is in [0, 2^64), every account's collateral value at the "
                    "snapshot's prices and base haircuts is >= 0, and every bucket's equity and debt totals are the "
                    "sums of its proven batches")
        return "every balance of every leaf is in [0, 2^64) and every bucket total is the sum of its proven batches"

    # ---------------------------------------------------------------- documents

    def params_doc(self) -> dict[str, Any]:
        return {"zk": self.zk.to_dict()}

    @classmethod
    def params_keys(cls) -> set[str]:
        return {"zk"}

    @classmethod
    def parse_params(cls, doc: dict[str, Any], config: SnapshotConfig, *, file: str, field: str = "") -> Any:
        return ZkParams.from_dict(doc["zk"], len(config.assets), file=file, field=field or "zk",
                                  circuit=circuit_for(config.margin is not None))

    @classmethod
    def document_keys(cls, layout: type[Values]) -> set[str]:
        return cls.params_keys() | layout.figures_keys()

    def compare_params(self, trusted: Any, *, file: str) -> None:
        if self.zk.to_dict() != trusted.zk.to_dict():
            raise VerificationFailed("proof's batch height or verifying key differs from the snapshot's",
                                     where=f"{file}: snapshot.zk")

    def read_batch_proof(self, path: Path, checks: PointChecks = PY_ECC) -> BatchProofDoc:
        """A batch proof file of this snapshot (BadInput if unreadable or malformed; points checked by ``checks``)."""
        return parse_batch_proof(read_json(path, "batch proof"), self.values, file=str(path), checks=checks)

    # ---------------------------------------------------------------- inclusion proofs

    def entry_keys(self) -> set[str]:
        return super().entry_keys() | {"batch"}

    def path_note(self) -> str:
        return f" with {self.batch_height} batch levels"

    def prove_entry(self, src: ProofSource, bucket: int, position: int, salt: bytes, account_id: str
                    ) -> dict[str, Any]:
        n = self.n_values
        _, own = src.store.node(bucket, 0, position, n)
        path = src.store.siblings(bucket, position, src.snapshot.buckets[bucket].height, n)
        entry = self.entry_doc(src, bucket, position, salt, own, path[self.batch_height:])
        entry["batch"] = self.entry_batch_doc(src, bucket, position)
        return entry

    def entry_batch_doc(self, src: ProofSource, bucket: int, position: int) -> dict[str, Any]:
        """The ``batch`` object of an inclusion-proof entry: Poseidon path, batch sums, Groth16 proof.

        Requires the batch's proof file (``por zk prove`` first); checks it names this batch's root and sums.
        """
        k, n, store, snap = self.batch_height, self.n_values, src.store, src.snapshot
        j = position >> k
        path = [int.from_bytes(store.node(bucket, lvl, (position >> lvl) ^ 1, n)[0], "big") for lvl in range(k)]
        node_hash, node_sums = store.node(bucket, k, j, n)
        proof_path = batch_proof_path(src.dir, bucket, j)
        if not proof_path.is_file():
            raise BadInput(f"no proof of batch {j} of bucket {snap.buckets[bucket].id!r} yet (run `por zk prove`)",
                           file=str(proof_path))
        doc = self.read_batch_proof(proof_path)
        if (doc.snapshot_root, zb.field_to_bytes32(doc.root), list(doc.sums)) != (snap.root, node_hash, node_sums):
            raise BadInput("batch proof is for another snapshot or batch (re-run `por zk prove --force`)",
                           file=str(proof_path))
        return {"path": [str(x) for x in path], **self.values.to_doc("sums", node_sums), "proof": doc.proof.to_json()}

    def open_leaf(self, e: dict[str, Any], c: EntryCheck) -> tuple[Node, int]:
        """The own leaf climbs the ``k`` Poseidon siblings to the batch root, and the Groth16 proof must verify for
        ``[root, sums]`` under the snapshot's key: so every leaf of the batch, not only this one, is a u64 vector
        and the sums are exact (margin values: every leaf's base collateral value is ``>= 0`` too)."""
        k = self.batch_height
        if c.index >> c.height:
            raise VerificationFailed(f"leaf index {c.index} is outside a tree of height {c.height}", where=c.where)
        obj, file, field = e["batch"], c.file, f"{c.field}.batch"
        expect_keys(obj, {"path", "proof"} | self.values.keys("sums"), file=file, field=field)
        if not isinstance(obj["path"], list):
            raise BadInput("must be a list", file=file, field=f"{field}.path")
        path = [parse_field(x, file=file, field=f"{field}.path[{i}]") for i, x in enumerate(obj["path"])]
        sums = self.values.from_doc(obj, "sums", parse_uint64, file=file, field=field)
        proof = _parse_groth16(obj["proof"], file=file, field=f"{field}.proof")
        if len(path) != k:
            raise VerificationFailed(f"batch path has {len(path)} siblings, the batch height is {k}", where=c.where)
        sid = c.config.snapshot_id
        leaf = zb.leaf_hash(zb.account_field(sid, c.bucket_id, c.account), zb.salt_field(c.salt), c.own)
        root = zb.root_from_path(leaf, c.index & ((1 << k) - 1), path)
        try:
            verify_batch(self.zk, proof, root, sums, self.factors)
        except VerificationFailed as exc:
            raise VerificationFailed(f"{exc.reason}; the leaf, batch path or batch sums were altered, or the proof "
                                     "is not for this batch"
                                     + (" and these prices and haircuts" if self.factors is not None else ""),
                                     where=f"{c.where}, batch") from None
        node = (zb.field_to_bytes32(root), sums)
        check = self.path_check(c.bucket_id)
        if check is not None:  # §17.26: the proven batch node meets the node rule too
            check(node[1], f"{c.where}, batch (node at level {k})")
        return node, k

    def describe(self, c: EntryCheck) -> list[str]:
        k, above = self.batch_height, c.height - self.batch_height
        proven = ("every equity and debt of the batch in [0, 2^64), every account's collateral value >= 0 at the "
                  "snapshot's prices and base haircuts, sums exact" if self.factors is not None
                  else "every balance of the batch in [0, 2^64), sums exact")
        return ([f"bucket {c.bucket_id}: leaf -> {k} Poseidon nodes -> batch root (Groth16 proof: {proven}) -> "
                 f"{above} nodes -> bucket root -> {c.n_top} nodes -> snapshot root"]
                + self.values.describe_path(c.bucket_id, f"the batch node, its {above} siblings and {above} ancestors "
                                            "above the batch", c.n_top))


def setup_params(config: SnapshotConfig, zk_setup: Path) -> ZkParams:
    """The batch parameters of a build with the setup directory ``zk_setup`` (BadInput if it does not fit)."""
    setup = load_setup(zk_setup)
    if setup.assets != len(config.assets):
        raise BadInput(f"the zk setup is for {setup.assets} assets, the config declares {len(config.assets)}",
                       file=str(zk_setup), field="assets")
    if setup.circuit != circuit_for(config.margin is not None):
        raise BadInput(f"the zk setup is a {setup.circuit} setup; "
                       + ("a config with [prices] (margin accounts) needs `por zk setup --margin`"
                          if config.margin is not None else "a config without [prices] needs a Batch setup "
                          "(`por zk setup` without --margin)"), file=str(zk_setup), field="circuit")
    return setup.params
