"""Transparency log of snapshot roots (SPEC.md §11).

An append-only Merkle tree (RFC 9162 hashing) whose leaves are the snapshots an
exchange has published: snapshot id, time, root and, optionally, the transaction
that anchored the root on chain. The exchange signs the tree head (size and
root) with a secp256k1 key. A user or auditor who kept an old signed head can
demand a consistency proof to any later head; a log whose history was rewritten,
or a fork shown to different users, cannot produce one (and two signed heads of
the same size with different roots are themselves proof of equivocation).

The embedded store is pymerkle's :class:`pymerkle.SqliteTree` (table ``leaf``:
``id`` 1-based index, ``entry`` the raw entry bytes, ``hash`` the leaf hash),
configured with SHA-256 and its "security" mode on, which is exactly RFC 9162:

* leaf hash  ``H(0x00 || entry_bytes)``
* node hash  ``H(0x01 || left || right)``
* tree root  ``MTH`` of RFC 9162 section 2.1.1 (``H("")`` for the empty tree).

Proofs are pymerkle's inclusion / consistency paths; their layout is computed
from the sizes alone (never trusting a layout sent with a proof), checked with
pymerkle's verifiers, and wrapped in self-describing JSON documents.

Everything that is hashed or signed:

* entry  ``TAG("log-entry") || lp(snapshot_id) || lp(as_of) || root[32] || anchor``
  with ``anchor = u8(0)`` or ``u8(1) || tx_hash[32]``
* head   ``TAG("log-head") || u64(size) || tree_root[32]``, signed as
  ECDSA-secp256k1 over ``z = H(head_bytes)`` (RFC 6979 nonce, low-S, 64-byte r||s).

This module is the log's public interface; the code lives in its parts:

* :mod:`por.log.merkle` -- RFC 9162 hashing, inclusion / consistency path layouts, reference MTH;
* :mod:`por.log.documents` -- the JSON document formats and strict field parsing;
* :mod:`por.log.entry` -- :class:`Entry` and its encoding;
* :mod:`por.log.head` -- signed heads and the signing key;
* :mod:`por.log.store` -- :class:`TransparencyLog`, the log directory (append, heads, proofs);
* :mod:`por.log.proofs` -- verification of inclusion and consistency proofs.
"""

from __future__ import annotations

from por.log.documents import (
    CONSISTENCY_FORMAT,
    HEAD_FORMAT,
    INCLUSION_FORMAT,
    LOG_FORMAT,
    LOG_VERSION,
    load_json,
)
from por.log.entry import TAG_LOG_ENTRY, Entry, parse_anchor_tx
from por.log.head import (
    TAG_LOG_HEAD,
    SignedHead,
    generate_log_key,
    head_bytes,
    load_log_key,
    parse_pubkey,
    sign_head,
    verify_head,
)
from por.log.merkle import (
    EMPTY_ROOT,
    HASH_ALGORITHM,
    LEAF_PREFIX,
    MAX_LOG_SIZE,
    NODE_PREFIX,
    consistency_layout,
    inclusion_layout,
    leaf_hash,
    mth,
    node_hash,
)
from por.log.proofs import ConsistencyResult, InclusionResult, verify_consistency, verify_inclusion
from por.log.store import DB_NAME, KEY_NAME, META_NAME, LogMeta, TransparencyLog

__all__ = [
    "CONSISTENCY_FORMAT", "DB_NAME", "EMPTY_ROOT", "HASH_ALGORITHM", "HEAD_FORMAT", "INCLUSION_FORMAT", "KEY_NAME",
    "LEAF_PREFIX", "LOG_FORMAT", "LOG_VERSION", "MAX_LOG_SIZE", "META_NAME", "NODE_PREFIX", "TAG_LOG_ENTRY",
    "TAG_LOG_HEAD", "ConsistencyResult", "Entry", "InclusionResult", "LogMeta", "SignedHead", "TransparencyLog",
    "consistency_layout", "generate_log_key", "head_bytes", "inclusion_layout", "leaf_hash", "load_json",
    "load_log_key", "mth", "node_hash", "parse_anchor_tx", "parse_pubkey", "sign_head", "verify_consistency",
    "verify_head", "verify_inclusion",
]
