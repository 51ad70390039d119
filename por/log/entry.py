"""Transparency log entries: a published snapshot root and, optionally, the tx that anchored it.

* entry  ``TAG("log-entry") || lp(snapshot_id) || lp(as_of) || root[32] || anchor``
  with ``anchor = u8(0)`` or ``u8(1) || tx_hash[32]``

An entry's leaf hash is the RFC 9162 leaf hash of these bytes (:func:`por.log.merkle.leaf_hash`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from por.core.encoding import lp, tag, u8
from por.core.errors import BadInput
from por.log.documents import _bad, _exact_keys, _hex32
from por.log.merkle import leaf_hash

TAG_LOG_ENTRY = tag("log-entry")

_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_AS_OF_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
_TX_INPUT_RE = re.compile(r"(0[xX])?[0-9a-fA-F]{64}")


# ------------------------------------------------------------------ entries

def parse_anchor_tx(value: str | bytes | None, *, field: str = "anchor_tx") -> bytes | None:
    """A 32-byte transaction hash given as 64 hex digits (an optional ``0x`` prefix and capitals allowed)."""
    if value is None:
        return None
    if isinstance(value, bytes):
        if len(value) != 32:
            raise BadInput("anchor tx hash must be 32 bytes", field=field)
        return value
    if not isinstance(value, str) or not _TX_INPUT_RE.fullmatch(value):
        raise BadInput("anchor tx must be a 32-byte transaction hash: 64 hex digits, optional 0x", field=field)
    return bytes.fromhex(value[2:] if value[:2] in ("0x", "0X") else value)


@dataclass(frozen=True)
class Entry:
    """One log entry: a published snapshot root and, optionally, the tx that anchored it."""

    snapshot_id: str
    as_of: str
    root: bytes
    anchor_tx: bytes | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.snapshot_id, str) or not _ID_RE.fullmatch(self.snapshot_id):
            raise ValueError("bad snapshot_id")
        if not isinstance(self.as_of, str) or not _AS_OF_RE.fullmatch(self.as_of):
            raise ValueError("bad as_of")
        if not isinstance(self.root, bytes) or len(self.root) != 32:
            raise ValueError("root must be 32 bytes")
        if self.anchor_tx is not None and (not isinstance(self.anchor_tx, bytes) or len(self.anchor_tx) != 32):
            raise ValueError("anchor_tx must be 32 bytes")

    @classmethod
    def from_snapshot(cls, snapshot: Any, anchor_tx: str | bytes | None = None) -> "Entry":
        return cls(snapshot.config.snapshot_id, snapshot.config.as_of, snapshot.root, parse_anchor_tx(anchor_tx))

    def encode(self) -> bytes:
        """``TAG("log-entry") || lp(snapshot_id) || lp(as_of) || root[32] || anchor``."""
        anchor = u8(0) if self.anchor_tx is None else u8(1) + self.anchor_tx
        return TAG_LOG_ENTRY + lp(self.snapshot_id) + lp(self.as_of) + self.root + anchor

    def leaf_hash(self) -> bytes:
        return leaf_hash(self.encode())

    @classmethod
    def decode(cls, data: bytes) -> "Entry":
        """Strict inverse of :meth:`encode` (``ValueError`` on any deviation)."""
        pos = 0

        def take(n: int) -> bytes:
            nonlocal pos
            if pos + n > len(data):
                raise ValueError("truncated entry")
            chunk = data[pos : pos + n]
            pos += n
            return chunk

        def take_lp() -> str:
            return take(int.from_bytes(take(4), "big")).decode("utf-8")

        if take(len(TAG_LOG_ENTRY)) != TAG_LOG_ENTRY:
            raise ValueError("not a log entry")
        snapshot_id, as_of, root = take_lp(), take_lp(), take(32)
        flag = take(1)[0]
        if flag == 0:
            anchor = None
        elif flag == 1:
            anchor = take(32)
        else:
            raise ValueError("bad anchor flag")
        if pos != len(data):
            raise ValueError("trailing bytes after entry")
        entry = cls(snapshot_id, as_of, root, anchor)
        if entry.encode() != data:
            raise ValueError("non-canonical entry")
        return entry

    def to_dict(self) -> dict[str, Any]:
        return {"snapshot_id": self.snapshot_id, "as_of": self.as_of, "root": self.root.hex(),
                "anchor_tx": None if self.anchor_tx is None else self.anchor_tx.hex()}

    @classmethod
    def from_dict(cls, obj: Any, *, where: str, field: str = "entry") -> "Entry":
        """Parse the JSON form; any deviation is :class:`VerificationFailed` (it sits inside a proof)."""
        _exact_keys(obj, {"snapshot_id", "as_of", "root", "anchor_tx"}, where=where, field=field)
        sid, as_of = obj["snapshot_id"], obj["as_of"]
        if not isinstance(sid, str) or not _ID_RE.fullmatch(sid):
            raise _bad(where, f"{field}.snapshot_id", "must be a snapshot id (1-64 chars A-Za-z0-9._-)")
        if not isinstance(as_of, str) or not _AS_OF_RE.fullmatch(as_of):
            raise _bad(where, f"{field}.as_of", 'must be "YYYY-MM-DDTHH:MM:SSZ"')
        root = _hex32(obj["root"], where=where, field=f"{field}.root")
        anchor = None if obj["anchor_tx"] is None else _hex32(obj["anchor_tx"], where=where, field=f"{field}.anchor_tx")
        return cls(sid, as_of, root, anchor)
