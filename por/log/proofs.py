"""Verification of transparency log proofs against signed heads (no log needed).

:func:`verify_inclusion` checks that an entry is a leaf of the tree a signed head commits to;
:func:`verify_consistency` that the log at an old head is a prefix of the log at a new head. The
path layouts are recomputed from the sizes (:mod:`por.log.merkle`) and checked with pymerkle's
verifiers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pymerkle

from por.core.errors import VerificationFailed
from por.log.documents import (
    CONSISTENCY_FORMAT,
    INCLUSION_FORMAT,
    _bad,
    _check_format,
    _exact_keys,
    _hex32,
    _hex_list,
    _uint,
)
from por.log.entry import Entry
from por.log.head import SignedHead, verify_head
from por.log.merkle import EMPTY_ROOT, HASH_ALGORITHM, MAX_LOG_SIZE, consistency_layout, inclusion_layout

# ------------------------------------------------------------------ verification (no log needed)

@dataclass(frozen=True)
class InclusionResult:
    entry: Entry
    leaf_index: int
    head: SignedHead

    def to_dict(self) -> dict[str, Any]:
        return {"valid": True, "entry": self.entry.to_dict(), "leaf_index": self.leaf_index,
                "tree_size": self.head.size, "tree_root": self.head.root.hex(),
                "public_key": self.head.public_key.hex()}


@dataclass(frozen=True)
class ConsistencyResult:
    old_head: SignedHead
    new_head: SignedHead

    def to_dict(self) -> dict[str, Any]:
        return {"consistent": True, "public_key": self.new_head.public_key.hex(),
                "old_size": self.old_head.size, "old_root": self.old_head.root.hex(),
                "new_size": self.new_head.size, "new_root": self.new_head.root.hex()}


def verify_inclusion(
    proof_doc: Any,
    head_doc: Any,
    *,
    expected_pubkey: str | bytes | None = None,
    snapshot: Any = None,
    proof_file: str = "inclusion proof",
    head_file: str = "head",
) -> InclusionResult:
    """Check that the proof's entry is leaf ``leaf_index`` of the tree the signed head commits to.

    With ``snapshot`` (a verified :class:`por.snapshot.document.Snapshot`), the entry must also
    carry that snapshot's id, time and root.
    """
    head = verify_head(head_doc, expected_pubkey, file=head_file)
    w = proof_file
    _check_format(proof_doc, INCLUSION_FORMAT, file=w)
    _exact_keys(proof_doc, {"format", "version", "entry", "leaf_index", "tree_size", "tree_root", "path"}, where=w)
    entry = Entry.from_dict(proof_doc["entry"], where=w)
    size = _uint(proof_doc["tree_size"], where=w, field="tree_size", limit=MAX_LOG_SIZE)
    index = _uint(proof_doc["leaf_index"], where=w, field="leaf_index", limit=MAX_LOG_SIZE)
    tree_root = _hex32(proof_doc["tree_root"], where=w, field="tree_root")
    path = _hex_list(proof_doc["path"], where=w)
    if size == head.size and tree_root != head.root:
        raise VerificationFailed(
            f"proof is for a tree of size {size} with root {tree_root.hex()}, but the head of that size has root "
            f"{head.root.hex()}: another version of the log (rewritten or forked)", where=w)
    if size != head.size:
        raise VerificationFailed(
            f"proof is for the tree of size {size} with root {tree_root.hex()}, but the head is size {head.size} "
            f"with root {head.root.hex()} (ask for a proof at the head's size)", where=w)
    if not index < size:
        raise _bad(w, "leaf_index", f"{index} is not below tree_size {size}")
    rule = inclusion_layout(index, size)
    if len(path) != len(rule):
        raise _bad(w, "path", f"must hold {len(rule)} hashes for leaf {index} of {size}, not {len(path)}")
    base = entry.leaf_hash()
    if path[0] != base:
        raise _bad(w, "path[0]", "is not the leaf hash of the entry")
    proof = pymerkle.InclusionProof(HASH_ALGORITHM, True, size, index + 1, rule, path)
    try:
        pymerkle.verify_inclusion(base, head.root, proof, index=index + 1, size=size,
                                  algorithm=HASH_ALGORITHM, security=True)
    except pymerkle.InvalidProof as exc:
        raise VerificationFailed(f"the path does not lead from the entry to the head's root ({exc})", where=w) from None
    if snapshot is not None:
        cfg = snapshot.config
        for name, got, want in (("snapshot_id", entry.snapshot_id, cfg.snapshot_id),
                                ("as_of", entry.as_of, cfg.as_of),
                                ("root", entry.root.hex(), snapshot.root.hex())):
            if got != want:
                raise VerificationFailed(f"logged {name} {got} differs from the snapshot's {want}", where=w)
    return InclusionResult(entry, index, head)


def verify_consistency(
    proof_doc: Any,
    old_head_doc: Any,
    new_head_doc: Any,
    *,
    expected_pubkey: str | bytes | None = None,
    proof_file: str = "consistency proof",
    old_head_file: str = "old head",
    new_head_file: str = "new head",
) -> ConsistencyResult:
    """Check that the log at the old head is a prefix of the log at the new head.

    Both heads must verify and carry the same public key (``expected_pubkey`` when given).
    Fails (:class:`VerificationFailed`) on a rewritten or forked history.
    """
    old = verify_head(old_head_doc, expected_pubkey, file=old_head_file)
    new = verify_head(new_head_doc, expected_pubkey if expected_pubkey is not None else old.public_key,
                      file=new_head_file)
    w = proof_file
    _check_format(proof_doc, CONSISTENCY_FORMAT, file=w)
    _exact_keys(proof_doc, {"format", "version", "old_size", "old_root", "new_size", "new_root", "path"}, where=w)
    m = _uint(proof_doc["old_size"], where=w, field="old_size", limit=MAX_LOG_SIZE)
    n = _uint(proof_doc["new_size"], where=w, field="new_size", limit=MAX_LOG_SIZE)
    old_root = _hex32(proof_doc["old_root"], where=w, field="old_root")
    new_root = _hex32(proof_doc["new_root"], where=w, field="new_root")
    path = _hex_list(proof_doc["path"], where=w)
    if old.size > new.size:
        raise VerificationFailed(f"the new head (size {new.size}) is smaller than the old head (size {old.size}): "
                                 "the log was truncated or rolled back (or the heads are swapped)", where=new_head_file)
    if old.size == new.size and old.root != new.root:
        raise VerificationFailed(f"two different signed heads for size {old.size} ({old.root.hex()} and "
                                 f"{new.root.hex()}): the log forked (equivocation)", where=new_head_file)
    if (m, n) != (old.size, new.size):
        raise VerificationFailed(f"proof is from size {m} to {n}, the heads are sizes {old.size} and {new.size}",
                                 where=w)
    if new_root != new.root:
        raise _bad(w, "new_root", "differs from the new head's root")
    if old_root != old.root:
        raise VerificationFailed(
            f"the log's history at size {m} has root {old_root.hex()}, not {old.root.hex()} from the head you "
            "kept: the history was rewritten or forked", where=w)
    if m == 0:
        if path:
            raise _bad(w, "path", "must be empty when old_size is 0")
        if old.root != EMPTY_ROOT:  # verify_head already enforces this
            raise _bad(old_head_file, "root", "is not the empty-log root")
        return ConsistencyResult(old, new)
    rule, subset = consistency_layout(m, n)
    if len(path) != len(rule):
        raise _bad(w, "path", f"must hold {len(rule)} hashes from size {m} to {n}, not {len(path)}")
    proof = pymerkle.ConsistencyProof(HASH_ALGORITHM, True, n, m, rule, subset, path)
    try:
        pymerkle.verify_consistency(old.root, new.root, proof, prior_size=m, later_size=n,
                                    algorithm=HASH_ALGORITHM, security=True)
    except pymerkle.InvalidProof as exc:
        raise VerificationFailed(f"the log at size {n} does not extend the log at size {m} ({exc}): "
                                 "the history was rewritten or forked", where=w) from None
    return ConsistencyResult(old, new)
