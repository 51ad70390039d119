"""Hiding mode (SPEC.md §15, §17.16): nodes carry Pedersen commitments, proofs carry range proofs.

Every node commits to each value of its vector, ``C = v*G + r*H`` (leaf blindings from the
master secret, :mod:`por.modes.commitments`); a node's hash binds both children's hashes and
33-byte commitments. The snapshot publishes commitments, never amounts. A user's inclusion
proof opens their own leaf (values and blindings) and carries every sibling's commitments
plus one aggregated 64-bit Bulletproofs range proof over every sibling commitment on the
bucket and top paths and the snapshot-wide total, so no subtree beside the path can hold a
negative or wrapped-around value.

With margin values (SPEC.md §17.16) each node commits to equity and debt per asset; a bucket
without ``allow_debt`` commits to zero debt with the public blinding 1 (anyone checks it),
and each proof carries a second, 128-bit range proof over the collateral-value commitments
``C_V`` of every sibling and of the total (transcript ``"inclusion-collateral"``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from por.core import encoding as enc
from por.core.errors import BadInput, VerificationFailed
from por.core.jsondoc import parse_hex32
from por.core.keys import SnapshotKeys
from por.core.progress import Progress
from por.crypto import rangeproof
from por.crypto.group import N, Point
from por.crypto.pedersen import commit, parse_commitment
from por.crypto.transcript import Transcript
from por.modes.base import EntryCheck, Mode, ProofSource
from por.modes.commitments import (
    NO_DEBT_BLINDING,
    TOP_PAD_BLINDING,
    CommittedLevel,
    collateral_commitment,
    collateral_opening,
    commit_levels,
    no_debt_fixed_blindings,
    top_pad_commitments,
    upper_committed_levels,
    zero_debt_commitment,
)
from por.modes.values import BucketSummary, MarginValues, Values
from por.tree.sumtree import OneByOne, Level, Node, NodeCheck, top_height

HEX33_RE = re.compile(r"0[23][0-9a-f]{64}")
RANGE_BITS = 64
PATH_PROTOCOL = "inclusion-path"
COLLATERAL_BITS = 128
COLLATERAL_PROTOCOL = "inclusion-collateral"


@dataclass(frozen=True)
class Opening:
    """The values and blinding factors behind a node's commitments (private)."""

    values: tuple[int, ...]
    blinds: tuple[int, ...]


def top_openings(bucket_roots: Sequence[Opening]) -> list[list[Opening]]:
    """Openings of every top-tree node, mirroring :func:`por.tree.sumtree.top_tree` (pads open to 0 with blinding 1)."""
    n_values = len(bucket_roots[0].values)
    level = list(bucket_roots)
    pad = Opening((0,) * n_values, (TOP_PAD_BLINDING,) * n_values)
    level += [pad] * ((1 << top_height(len(bucket_roots))) - len(bucket_roots))
    levels = [level]
    while len(level) > 1:
        level = [Opening(tuple(a + b for a, b in zip(level[i].values, level[i + 1].values)),
                         tuple((a + b) % N for a, b in zip(level[i].blinds, level[i + 1].blinds)))
                 for i in range(0, len(level), 2)]
        levels.append(level)
    return levels


def _entry_transcript(protocol: str, root: bytes, bucket_id: str, index: int) -> Transcript:
    """A transcript bound to one inclusion-proof entry: ``protocol``, snapshot root, bucket and leaf index."""
    t = Transcript(protocol)
    t.append_message("snapshot-root", root)
    t.append_message("bucket", bucket_id.encode("utf-8"))
    t.append_u64("index", index)
    return t


def path_transcript(root: bytes, bucket_id: str, index: int) -> Transcript:
    """The transcript of a hiding-mode path range proof, before the range proof's statement (SPEC.md §15.4)."""
    return _entry_transcript(PATH_PROTOCOL, root, bucket_id, index)


def collateral_transcript(root: bytes, bucket_id: str, index: int) -> Transcript:
    """The transcript of a margin hiding-mode collateral range proof, before its statement (SPEC.md §17.16)."""
    return _entry_transcript(COLLATERAL_PROTOCOL, root, bucket_id, index)


def collateral_statement(nodes: Sequence[Sequence[bytes]], params: Any) -> list[Point]:
    """The collateral-value commitments ``C_V`` of ``nodes`` (each 2A commitments), omitting any that is ``O``.

    ``C_V = O`` means the node's collateral value is 0 (binding), so it needs no range proof and
    cannot be encoded; honest builds meet it only for top-tree padding when no asset has a haircut.
    """
    out = []
    for vec in nodes:
        c = collateral_commitment(vec, params.f_eq, params.f_debt)
        if not c.is_identity:
            out.append(c)
    return out


def parse_commitment_hex(value: Any, *, file: str, field: str) -> bytes:
    """A commitment written as 66 lowercase hex digits: a compressed secp256k1 point, never infinity."""
    if not isinstance(value, str) or not HEX33_RE.fullmatch(value):
        raise BadInput("must be 66 lowercase hex digits (a compressed point)", file=file, field=field)
    raw = bytes.fromhex(value)
    try:
        parse_commitment(raw)
    except BadInput as exc:
        raise BadInput(exc.reason, file=file, field=field) from None
    return raw


def parse_blinding(value: Any, *, file: str, field: str) -> int:
    """A blinding factor: 64 lowercase hex digits of a non-zero scalar below the group order."""
    r = int.from_bytes(parse_hex32(value, file=file, field=field), "big")
    if not 0 < r < N:
        raise BadInput("must be a non-zero scalar below the group order", file=file, field=field)
    return r


def _scalar_hex(r: int) -> str:
    return r.to_bytes(32, "big").hex()


class HidingLeaves(OneByOne):
    """Leaves hashed once their commitments are known; every level committed (in parallel for large trees)."""

    def __init__(self, snapshot_id: str, bucket_id: str, n_values: int, blinding_key: bytes, jobs: int | None,
                 fixed_blindings: tuple[int | None, ...] | None) -> None:
        self._prefix = enc.leaf_prefix(snapshot_id, bucket_id)
        self._count = enc.u16(n_values)
        self._key = blinding_key
        self._jobs = jobs
        self._fixed = fixed_blindings
        self._heads: list[bytes] = []
        self._salts = bytearray()

    def add(self, salt: bytes, lp_account: bytes, account_id: str, amounts: Sequence[int]) -> None:
        self._heads.append(salt + lp_account)
        self._salts += salt

    def levels(self, order: np.ndarray, seeds: bytes, pad_hashes: bytes, sums: np.ndarray,
               progress: Progress | None) -> tuple[list[Level], bytes | None]:
        n = len(self._heads)
        all_seeds = np.frombuffer(bytes(self._salts) + seeds, dtype="S32")[order].tobytes()
        committed = commit_levels(self._key, all_seeds, sums, jobs=self._jobs, progress=progress,
                                  fixed_blindings=self._fixed)
        leaf_commits = committed[0].commits
        prefix, count, heads, sha = self._prefix, self._count, self._heads, hashlib.sha256
        hashes = bytearray()
        for p, idx in enumerate(order.tolist()):
            if idx < n:
                hashes += sha(prefix + heads[idx] + count + leaf_commits[p].tobytes()).digest()
            else:
                j = idx - n
                hashes += pad_hashes[32 * j : 32 * j + 32]
        level_hashes = np.frombuffer(bytes(hashes), dtype=np.uint8).reshape(-1, 32)
        leaves = Level(level_hashes, sums, committed[0].commits, committed[0].blinds)
        return [leaves, *hashed_levels(leaves, committed[1:])], None


def hashed_levels(below: Level, committed: Sequence[CommittedLevel]) -> list[Level]:
    """The levels above ``below`` whose commitments and blindings are ``committed`` (bottom-up): each node
    hashes both children's hashes and commitments; its values are the children's sums."""
    out: list[Level] = []
    for cl in committed:
        lv = out[-1] if out else below
        out.append(Level(enc.node_hashes_level_commits(lv.hashes, lv.commits), lv.sums[0::2] + lv.sums[1::2],
                         cl.commits, cl.blinds))
    return out


class HidingMode(Mode):
    """Pedersen commitments at every node (see the module docstring)."""

    name = "hiding"
    node_kind = "commitments"
    hides_amounts = True

    @property
    def margin(self) -> Any:
        """The margin parameters when the values are equity ‖ debt, else None."""
        return self.values.params if isinstance(self.values, MarginValues) else None

    def top_pad(self) -> list:
        return list(top_pad_commitments(self.n_values))

    def upper_levels(self, level: Level) -> list[Level]:
        """Commitments added as points, blinding sums mod N, hashes over both children's commitments."""
        return hashed_levels(level, upper_committed_levels(CommittedLevel(level.commits, level.blinds), self.n_values))

    def leaf_scheme(self, bucket_id: str, keys: SnapshotKeys, jobs: int | None) -> HidingLeaves:
        fixed = None
        if self.margin is not None and not self.config.allows_debt(bucket_id):
            fixed = no_debt_fixed_blindings(len(self.config.assets))
        return HidingLeaves(self.config.snapshot_id, bucket_id, self.n_values, keys.blinding_key, jobs, fixed)

    # ---------------------------------------------------------------- the snapshot document

    def bucket_doc(self, summary: BucketSummary) -> dict[str, Any]:
        return self.values.to_doc("commitments", summary.commitments or (), self.item_doc)

    @classmethod
    def bucket_keys(cls, layout: type[Values]) -> set[str]:
        return layout.keys("commitments")

    def parse_bucket(self, obj: dict[str, Any], id: str, kind: str, height: int, root: bytes, *, file: str,
                     field: str) -> BucketSummary:
        commitments = self.values.from_doc(obj, "commitments", parse_commitment_hex, file=file, field=field)
        return self.values.summary(id, kind, height, root, None, commitments)

    @classmethod
    def precheck_document(cls, doc: dict[str, Any], layout: type[Values], *, file: str) -> None:
        if layout is MarginValues and any(k in doc for k in layout.figures_keys()):
            raise BadInput("equity, debt and requirement totals are published in public mode only (a hiding-mode "
                           "margin snapshot publishes equity_commitments and debt_commitments per bucket)",
                           file=file, field="mode")

    def check_document(self, doc: dict[str, Any], buckets: Sequence[BucketSummary], top_vector: Sequence[Any],
                       *, file: str) -> None:
        """SPEC.md §17.16: a bucket without ``allow_debt`` commits to zero debt, publicly.

        Its leaves' debt slots use the public blinding 1, so its root's debt commitment of every
        asset must be exactly ``2^h * H`` (a commitment to 0 that anyone can open).
        """
        if self.margin is None:
            return
        n = len(self.config.assets)
        for i, b in enumerate(buckets):
            if self.config.allows_debt(b.id):
                continue
            zero = zero_debt_commitment(b.height)
            bad = [s for s, c in zip(self.config.symbols, (b.commitments or ())[n:]) if c != zero]
            if bad:
                raise VerificationFailed(f"bucket {b.id!r} does not allow debts but its debt commitments for "
                                         f"{', '.join(bad)} are not the public commitment to zero 2^{b.height}*H",
                                         where=f"{file}: buckets[{i}].debt_commitments")

    def compare(self, published: BucketSummary, rebuilt: BucketSummary) -> list[tuple[str, bool, str]]:
        """The report may be shared: say which commitments differ, never the amounts behind them."""
        names = [f"{g} {s}".strip() for g in self.values.groups for s in self.config.symbols]
        differ = [name for name, n, p in zip(names, rebuilt.commitments or (), published.commitments or (),
                                             strict=True) if n != p]
        return [("commitments", not differ,
                 "commitments re-derived from ledger + secret equal the published ones" if not differ else
                 f"re-derived commitments differ for {', '.join(differ)} (amounts withheld: hiding mode)")]

    def describe_document(self) -> str:
        if self.margin is not None:
            return "equity and debt commitments (debt-free buckets commit to zero debt publicly)"
        return "commitments"

    # ---------------------------------------------------------------- inclusion proofs

    parse_item = staticmethod(parse_commitment_hex)

    @staticmethod
    def item_doc(value: Any) -> Any:
        return value.hex()

    def entry_keys(self) -> set[str]:
        keys = super().entry_keys() | self.values.keys("blindings") | {"range_proof"}
        return keys | ({"collateral_range_proof"} if self.margin is not None else set())

    def root_opening(self, src: ProofSource, bucket: int) -> Opening:
        """The values and blinding factors of a bucket root's commitments (private)."""
        node = src.store.committed_node(bucket, src.snapshot.buckets[bucket].height, 0, self.n_values)
        return Opening(tuple(node.sums), tuple(node.blinds))

    def top_openings(self, src: ProofSource) -> list[list[Opening]]:
        """The openings of every top-tree node, computed once per prover."""
        return src.cached("hiding-top-openings", lambda: top_openings(
            [self.root_opening(src, i) for i in range(len(src.snapshot.buckets))]))

    def prove_entry(self, src: ProofSource, bucket: int, position: int, salt: bytes, account_id: str
                    ) -> dict[str, Any]:
        snap, store, n = src.snapshot, src.store, self.n_values
        summary = snap.buckets[bucket]
        top_open = self.top_openings(src)
        leaf = store.committed_node(bucket, 0, position, n)
        path = store.committed_siblings(bucket, position, summary.height, n)
        top_levels = len(top_open) - 1
        top_path = src.top_path(bucket)
        openings = ([Opening(tuple(s.sums), tuple(s.blinds)) for s in path]
                    + [top_open[lvl][(bucket >> lvl) ^ 1] for lvl in range(top_levels)] + [top_open[-1][0]])
        vectors = ([tuple(s.commits) for s in path] + [tuple(vec) for _, vec in top_path]
                   + [tuple(src.top_levels[-1][0][1])])
        nonce_key = store.nonce_key()

        # every sibling's and the total's values in [0, 2^64)
        values = [v for o in openings for v in o.values]
        blinds = [r for o in openings for r in o.blinds]
        transcript = path_transcript(snap.root, summary.id, position)
        witness = b"".join(enc.u64(v) + r.to_bytes(32, "big") for v, r in zip(values, blinds))
        proof, commitments = rangeproof.prove(transcript, values, blinds, RANGE_BITS,
                                              rng=transcript.witness_rng(nonce_key, witness))
        if [c.to_bytes() for c in commitments] != [c for vec in vectors for c in vec]:  # pragma: no cover
            raise BadInput("store is inconsistent: a node's opening does not match its commitment",
                           file=str(store.path))
        entry = {
            "bucket": summary.id,
            "height": summary.height,
            "index": position,
            "salt": salt.hex(),
            **self.values.to_doc("balances", leaf.sums),
            **self.values.to_doc("blindings", leaf.blinds, _scalar_hex),
            "path": [self.node_doc((s.hash, s.commits)) for s in path],
            "top_index": bucket,
            "top_path": [self.node_doc(node) for node in top_path],
            "range_proof": proof.to_hex(),
        }
        if self.margin is not None:
            entry["collateral_range_proof"] = self._collateral_proof(store, snap.root, summary.id, position,
                                                                     account_id, openings, vectors, nonce_key)
        return entry

    def _collateral_proof(self, store: Any, root: bytes, bucket_id: str, position: int, account_id: str,
                          openings: Sequence[Opening], vectors: Sequence[Sequence[bytes]], nonce_key: bytes) -> str:
        """Every sibling's and the total's collateral value in [0, 2^128) (SPEC.md §17.16)."""
        params = self.margin
        c_values, c_blinds = [], []
        for o, vec in zip(openings, vectors):
            point = collateral_commitment(vec, params.f_eq, params.f_debt)
            if point.is_identity:
                continue  # value 0 (binding): omitted from the statement, like the verifier does
            value, rho = collateral_opening(o.values, o.blinds, params.f_eq, params.f_debt)
            if commit(value % N, rho) != point:  # pragma: no cover - store damage
                raise BadInput("store is inconsistent: a collateral opening does not match", file=str(store.path))
            c_values.append(value)
            c_blinds.append(rho)
        t = collateral_transcript(root, bucket_id, position)
        witness = b"".join((v % N).to_bytes(32, "big") + r.to_bytes(32, "big") for v, r in zip(c_values, c_blinds))
        try:
            proof, _ = rangeproof.prove(t, c_values, c_blinds, COLLATERAL_BITS, rng=t.witness_rng(nonce_key, witness))
        except ValueError as exc:
            raise VerificationFailed(
                f"cannot prove {account_id!r}: a subtree beside its path (or the snapshot total) has a negative "
                f"collateral value, i.e. holds undercollateralised accounts ({exc})",
                where=f"bucket {bucket_id}, leaf {position}") from None
        return proof.to_hex()

    def open_leaf(self, e: dict[str, Any], c: EntryCheck) -> tuple[Node, int]:
        blindings = self.values.from_doc(e, "blindings", parse_blinding, file=c.file, field=c.field)
        leaf_vec = [_own_commitment(v, r, where=f"{c.where}, blindings") for v, r in zip(c.own, blindings)]
        if self.margin is not None and not c.config.allows_debt(c.bucket_id):
            _check_zero_debt_path(blindings[len(c.config.assets):], c.path, len(c.config.assets), where=c.where)
        leaf = enc.leaf_hash(c.config.snapshot_id, c.bucket_id, c.salt, c.account, leaf_vec)
        return (leaf, leaf_vec), 0

    def path_check(self, bucket_id: str) -> NodeCheck | None:
        return None  # commitments hide the values: the range proofs check them (after_root)

    def top_check(self) -> NodeCheck | None:
        return None

    def after_root(self, e: dict[str, Any], c: EntryCheck) -> list[str]:
        statement = [x for _, vec in c.path for x in vec] + [x for _, vec in c.top for x in vec] + list(c.top_vector)
        f = c.field
        _check_range_proof(e["range_proof"], [Point.from_bytes(x) for x in statement],
                           path_transcript(c.trusted, c.bucket_id, c.index), RANGE_BITS, file=c.file,
                           field=f"{f}.range_proof", where=c.where,
                           hint=f"a sibling or total on the path may be negative or ≥ 2^{RANGE_BITS}")
        if self.margin is None:
            return [f"bucket {c.bucket_id}: range proof: all {len(statement)} sibling and total commitments "
                    f"on the path hold values in [0, 2^{RANGE_BITS})"]
        params = self.margin
        cstatement = collateral_statement([vec for _, vec in c.path] + [vec for _, vec in c.top] + [c.top_vector],
                                          params)
        if not isinstance(e["collateral_range_proof"], str):
            raise BadInput("must be a hex string", file=c.file, field=f"{f}.collateral_range_proof")
        if not cstatement:  # pragma: no cover - needs the total's C_V to be O (probability 2^-256 when honest)
            raise VerificationFailed("the snapshot total's collateral-value commitment is the point at infinity",
                                     where=f"{c.where}, collateral_range_proof")
        _check_range_proof(e["collateral_range_proof"], cstatement,
                           collateral_transcript(c.trusted, c.bucket_id, c.index), COLLATERAL_BITS, file=c.file,
                           field=f"{f}.collateral_range_proof", where=c.where,
                           hint="a sibling subtree or the total on the path may have a negative collateral value: "
                                "undercollateralised accounts")
        return [
            f"bucket {c.bucket_id}: own account's collateral value >= 0 (tiered haircuts)"
            + ("" if c.config.allows_debt(c.bucket_id) else
               "; no debt anywhere on the path (bucket without allow_debt: every debt commitment "
               "is the public commitment to zero)"),
            f"bucket {c.bucket_id}: range proof: all {len(statement)} sibling and total equity and debt "
            f"commitments on the path hold values in [0, 2^{RANGE_BITS})",
            f"bucket {c.bucket_id}: collateral range proof: the collateral value (base haircuts, snapshot "
            f"prices) of each of the {c.height} siblings, the {c.n_top} top-tree siblings and the snapshot "
            f"total is in [0, 2^{COLLATERAL_BITS})",
        ]

    def describe(self, c: EntryCheck) -> list[str]:
        return [f"bucket {c.bucket_id}: leaf -> {c.height} nodes -> bucket root -> {c.n_top} nodes -> snapshot root"]


def _own_commitment(value: int, blinding: int, *, where: str) -> bytes:
    c = commit(value, blinding)
    if c.is_identity:  # pragma: no cover - blinding is non-zero and H has no known log
        raise VerificationFailed("own commitment is the point at infinity", where=where)
    return c.to_bytes()


def _check_zero_debt_path(own_debt_blindings: Sequence[int], path: Sequence[Node], n: int, *, where: str) -> None:
    """A margin bucket without ``allow_debt``: the own leaf's debt blindings are the public 1 and every
    sibling's debt commitments are the public commitments to zero ``2^level * H`` (SPEC.md §17.16)."""
    if any(r != NO_DEBT_BLINDING for r in own_debt_blindings):
        raise VerificationFailed("a bucket without allow_debt commits to zero debt with the public blinding "
                                 f"{NO_DEBT_BLINDING}; the own leaf's debt blindings differ",
                                 where=f"{where}, own leaf")
    for level, (_, vec) in enumerate(path):
        if any(c != zero_debt_commitment(level) for c in vec[n:]):
            raise VerificationFailed("a node of a bucket without allow_debt carries a debt commitment that is not "
                                     f"the public commitment to zero 2^{level}*H",
                                     where=f"{where}, path[{level}] (sibling at level {level})")


def _check_range_proof(
    proof_hex: Any, points: Sequence[Point], transcript: Transcript, bits: int, *, file: str, field: str, where: str,
    hint: str,
) -> None:
    """Parse an aggregated range proof (bad input if malformed) and verify it over ``points``; ``hint`` says
    what a failure means."""
    if not isinstance(proof_hex, str):
        raise BadInput("must be a hex string", file=file, field=field)
    try:
        proof = rangeproof.RangeProof.from_hex(proof_hex, rounds=rangeproof.rounds_for(bits, len(points)))
    except BadInput as exc:
        raise BadInput(exc.reason, file=file, field=field) from None
    try:
        rangeproof.verify(transcript, points, proof, bits)
    except VerificationFailed as exc:
        raise VerificationFailed(f"{exc.reason} ({hint})", where=f"{where}, {field.rsplit('.', 1)[-1]}") from None
