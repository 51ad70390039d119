"""Inclusion proofs: make them from a store, verify them from the public root alone (SPEC.md §8).

A proof document holds everything a verifier needs: the snapshot metadata and
root, the account id, and for each bucket the account is in: the leaf salt and
balances, the leaf index, the sibling of every node on the path to the bucket
root, and the path through the top tree. The verifier recomputes the leaf hash,
every node hash and sum (checking each stays below 2^64), the bucket leaf, the
top tree and the snapshot root, and compares that root with the trusted one.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import encoding as enc
from .config import SnapshotConfig
from .errors import BadInput, VerificationFailed
from .fileio import read_json
from .ledger import format_amount, parse_amount
from .snapshot import MODE_PUBLIC, Snapshot, expect_keys, parse_hex32, parse_uint64
from .store import Store
from .tree import MAX_HEIGHT, climb, top_height, top_tree

PROOF_FORMAT = "por-inclusion-proof"
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


# ------------------------------------------------------------------ making proofs

def _sums_dict(symbols: Sequence[str], values: Sequence[int]) -> dict[str, str]:
    return {s: str(int(v)) for s, v in zip(symbols, values, strict=True)}


def _node_doc(symbols: Sequence[str], node: tuple[bytes, Sequence[int]]) -> dict[str, Any]:
    return {"hash": node[0].hex(), "sums": _sums_dict(symbols, node[1])}


class Prover:
    """Serves inclusion proofs from a snapshot directory (``snapshot.json`` + ``store.sqlite``)."""

    def __init__(self, snapshot_dir: Path) -> None:
        from .snapshot import snapshot_from_dict

        self.dir = Path(snapshot_dir)
        self.store = Store(self.dir / "store.sqlite")
        self.snapshot: Snapshot = snapshot_from_dict(json.loads(self.store.snapshot_json()),
                                                     file=str(self.dir / "store.sqlite"))
        cfg = self.snapshot.config
        self._top = top_tree(cfg.snapshot_id, [b.leaf(cfg.snapshot_id) for b in self.snapshot.buckets])

    def close(self) -> None:
        self.store.close()

    def _top_path(self, bucket: int) -> list[tuple[bytes, list[int]]]:
        return [self._top[lvl][(bucket >> lvl) ^ 1] for lvl in range(len(self._top) - 1)]

    def prove(self, account_id: str) -> dict[str, Any]:
        """The proof document of ``account_id`` over all its buckets. Raises BadInput if unknown."""
        leaves = self.store.account_leaves(account_id)
        if not leaves:
            raise BadInput(f"no account {account_id!r} in this snapshot", field="account")
        cfg = self.snapshot.config
        symbols = cfg.symbols
        entries = []
        for bucket, position, salt in leaves:
            summary = self.snapshot.buckets[bucket]
            n = len(symbols)
            _, balances = self.store.node(bucket, 0, position, n)
            path = self.store.siblings(bucket, position, summary.height, n)
            entries.append({
                "bucket": summary.id,
                "height": summary.height,
                "index": position,
                "salt": bytes(salt).hex(),
                "balances": _sums_dict(symbols, balances),
                "path": [_node_doc(symbols, s) for s in path],
                "top_index": bucket,
                "top_path": [_node_doc(symbols, s) for s in self._top_path(bucket)],
            })
        return {
            "format": PROOF_FORMAT,
            "version": enc.FORMAT_VERSION,
            "mode": self.snapshot.mode,
            "snapshot": {"metadata": cfg.to_dict(), "root": self.snapshot.root.hex()},
            "account_id": account_id,
            "entries": entries,
        }

    def accounts(self) -> Iterator[str]:
        return self.store.iter_accounts()


def proof_filename(account_id: str) -> str:
    """File name for an exported proof: the id itself when it is filesystem-safe, else a hash of it."""
    if _SAFE_NAME.fullmatch(account_id):
        return f"{account_id}.json"
    return "acct-" + hashlib.sha256(account_id.encode()).hexdigest()[:24] + ".json"


# ------------------------------------------------------------------ verifying proofs

@dataclass
class EntryResult:
    bucket: str
    balances: dict[str, int]


@dataclass
class VerifyResult:
    """A verified proof: whose it is, which root it leads to, and the balances it proves."""

    account_id: str
    snapshot_id: str
    root: str
    entries: list[EntryResult]
    config: SnapshotConfig
    checks: list[str] = field(default_factory=list)

    def totals(self) -> dict[str, int]:
        out = {s: 0 for s in self.config.symbols}
        for e in self.entries:
            for s, v in e.balances.items():
                out[s] += v
        return out

    def to_dict(self) -> dict[str, Any]:
        dec = {a.symbol: a.decimals for a in self.config.assets}
        return {
            "valid": True,
            "account_id": self.account_id,
            "snapshot_id": self.snapshot_id,
            "root": self.root,
            "entries": [
                {"bucket": e.bucket, "balances": {s: format_amount(v, dec[s]) for s, v in e.balances.items()}}
                for e in self.entries
            ],
            "totals": {s: format_amount(v, dec[s]) for s, v in self.totals().items()},
            "checks": self.checks,
        }


def parse_expectations(items: Sequence[str], config: SnapshotConfig) -> list[tuple[str | None, str, int]]:
    """``ASSET=AMOUNT`` (over all buckets) or ``BUCKET:ASSET=AMOUNT`` -> ``(bucket, asset, minor units)``."""
    out = []
    for item in items:
        m = re.fullmatch(r"(?:([^:=]+):)?([^:=]+)=(.*)", item)
        if not m:
            raise BadInput(f"--expect {item!r}: write ASSET=AMOUNT or BUCKET:ASSET=AMOUNT", field="expect")
        bucket, asset, amount = m.groups()
        if bucket is not None and bucket not in config.bucket_ids:
            raise BadInput(f"--expect {item!r}: unknown bucket {bucket!r}", field="expect")
        idx = config.asset_index(asset)
        if idx is None:
            raise BadInput(f"--expect {item!r}: unknown asset {asset!r}", field="expect")
        try:
            value = parse_amount(amount, config.assets[idx].decimals)
        except ValueError as exc:
            raise BadInput(f"--expect {item!r}: {exc}", field="expect") from None
        out.append((bucket, asset, value))
    return out


def _parse_sums(obj: Any, symbols: Sequence[str], *, file: str, field: str) -> list[int]:
    expect_keys(obj, set(symbols), file=file, field=field)
    return [parse_uint64(obj[s], file=file, field=f"{field}.{s}") for s in symbols]


def _parse_node(obj: Any, symbols: Sequence[str], *, file: str, field: str) -> tuple[bytes, list[int]]:
    expect_keys(obj, {"hash", "sums"}, file=file, field=field)
    return (parse_hex32(obj["hash"], file=file, field=f"{field}.hash"),
            _parse_sums(obj["sums"], symbols, file=file, field=f"{field}.sums"))


def _index(value: Any, *, file: str, field: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise BadInput("must be a non-negative integer", file=file, field=field)
    return value


def verify_proof(
    doc: Any,
    *,
    snapshot: Snapshot | None = None,
    root: bytes | None = None,
    account_id: str | None = None,
    expect: Sequence[str] = (),
    file: str = "proof",
) -> VerifyResult:
    """Verify one proof document against a trusted ``snapshot`` (preferred) or a trusted ``root``.

    Raises :class:`BadInput` when ``doc`` is not a proof document at all (not an
    object, another format or version, no trusted root given, a bad ``expect``)
    and :class:`VerificationFailed`, naming the entry, level and field, for a proof
    that is malformed inside, does not lead to the trusted root, or does not match
    ``account_id`` / ``expect``.
    """
    if snapshot is None and root is None:
        raise BadInput("a proof is only meaningful against a trusted snapshot.json or root", field="snapshot")
    if not isinstance(doc, dict) or doc.get("format") != PROOF_FORMAT:
        raise BadInput(f"not a proof: format must be {PROOF_FORMAT!r}", file=file, field="format")
    if doc.get("version") != enc.FORMAT_VERSION:
        raise BadInput(f"unsupported proof version {doc.get('version')!r} (this por reads {enc.FORMAT_VERSION})",
                       file=file, field="version")
    try:
        return _verify(doc, snapshot, root, account_id, expect, file)
    except BadInput as exc:
        if exc.field == "expect":  # the user's own --expect is bad: usage error, not a bad proof
            raise
        raise VerificationFailed(f"malformed proof: {exc.reason}",
                                 where=f"{file}: {exc.field}" if exc.field else file) from None


def _verify(
    doc: dict[str, Any],
    snapshot: Snapshot | None,
    root: bytes | None,
    account_id: str | None,
    expect: Sequence[str],
    file: str,
) -> VerifyResult:
    expect_keys(doc, {"format", "version", "mode", "snapshot", "account_id", "entries"}, file=file, field="$")
    if doc["mode"] != MODE_PUBLIC:
        raise BadInput(f"unsupported mode {doc['mode']!r}", file=file, field="mode")
    snap_doc = expect_keys(doc["snapshot"], {"metadata", "root"}, file=file, field="snapshot")
    config = SnapshotConfig.from_dict(snap_doc["metadata"], file=file)
    claimed_root = parse_hex32(snap_doc["root"], file=file, field="snapshot.root")
    account = doc["account_id"]
    if not isinstance(account, str) or not account:
        raise BadInput("account_id must be a non-empty string", file=file, field="account_id")
    entries = doc["entries"]
    if not isinstance(entries, list) or not entries:
        raise BadInput("entries must be a non-empty list", file=file, field="entries")

    checks: list[str] = []
    if snapshot is not None:
        if config != snapshot.config:
            raise VerificationFailed("proof metadata differs from the snapshot's (another snapshot, bucket list "
                                     "or asset list)", where=f"{file}: snapshot.metadata")
        trusted = snapshot.root
    else:
        trusted = root  # type: ignore[assignment]
    if claimed_root != trusted:
        raise VerificationFailed(f"proof is for root {claimed_root.hex()}, not the trusted root {trusted.hex()}",
                                 where=f"{file}: snapshot.root")
    if account_id is not None and account_id != account:
        raise VerificationFailed(f"proof is for account {account!r}, not {account_id!r}", where=f"{file}: account_id")

    symbols = config.symbols
    sid = config.snapshot_id
    n_top = top_height(len(config.buckets))
    results: list[EntryResult] = []
    seen: set[str] = set()
    for i, e in enumerate(entries):
        f = f"entries[{i}]"
        expect_keys(e, {"bucket", "height", "index", "salt", "balances", "path", "top_index", "top_path"},
                    file=file, field=f)
        bucket_id = e["bucket"]
        if bucket_id not in config.bucket_ids:
            raise BadInput(f"unknown bucket {bucket_id!r}", file=file, field=f"{f}.bucket")
        if bucket_id in seen:
            raise VerificationFailed(f"bucket {bucket_id!r} appears twice", where=f"{file}: {f}")
        seen.add(bucket_id)
        where = f"{file}: {f} (bucket {bucket_id})"
        bucket_idx = config.bucket_ids.index(bucket_id)
        height = _index(e["height"], file=file, field=f"{f}.height")
        index = _index(e["index"], file=file, field=f"{f}.index")
        top_index = _index(e["top_index"], file=file, field=f"{f}.top_index")
        salt = bytes.fromhex(e["salt"]) if isinstance(e["salt"], str) and re.fullmatch(r"[0-9a-f]{64}", e["salt"]) else None
        if salt is None:
            raise BadInput("must be 64 lowercase hex digits", file=file, field=f"{f}.salt")
        balances = _parse_sums(e["balances"], symbols, file=file, field=f"{f}.balances")
        if not isinstance(e["path"], list) or not isinstance(e["top_path"], list):
            raise BadInput("path and top_path must be lists", file=file, field=f)
        path = [_parse_node(s, symbols, file=file, field=f"{f}.path[{j}]") for j, s in enumerate(e["path"])]
        top = [_parse_node(s, symbols, file=file, field=f"{f}.top_path[{j}]") for j, s in enumerate(e["top_path"])]
        if not 1 <= height <= MAX_HEIGHT:
            raise VerificationFailed(f"height {height} is outside 1..{MAX_HEIGHT}", where=where)
        if len(path) != height:
            raise VerificationFailed(f"path has {len(path)} siblings but height is {height}", where=where)
        if top_index != bucket_idx:
            raise VerificationFailed(f"top_index {top_index} is not bucket {bucket_id!r}'s position {bucket_idx}",
                                     where=where)
        if len(top) != n_top:
            raise VerificationFailed(f"top_path has {len(top)} siblings, the top tree has height {n_top}", where=where)

        leaf = enc.leaf_hash(sid, bucket_id, salt, account, balances)
        bucket_root, bucket_sums = climb((leaf, balances), index, path, where=f"{where}, path")
        if snapshot is not None:
            published = snapshot.bucket(bucket_id)
            if published.height != height:
                raise VerificationFailed(f"height {height} differs from the published {published.height}", where=where)
            if bucket_root != published.root or tuple(bucket_sums) != published.totals:
                raise VerificationFailed(
                    "leaf and path do not lead to the published bucket root (a balance, salt, account id, "
                    "index or sibling was altered)", where=where)
        kind = config.bucket(bucket_id).kind
        bleaf = enc.bucket_leaf_hash(sid, bucket_id, kind, height, bucket_root, bucket_sums)
        top_hash, top_sums = climb((bleaf, bucket_sums), top_index, top, where=f"{where}, top_path")
        computed = enc.root_hash(
            mode=MODE_PUBLIC, snapshot_id=sid, as_of=config.as_of,
            assets=[(a.symbol, a.decimals) for a in config.assets],
            buckets=[(b.id, b.kind) for b in config.buckets],
            top_height=n_top, top_hash=top_hash, top_sums=top_sums,
        )
        if computed != trusted:
            raise VerificationFailed(f"path leads to root {computed.hex()}, not the trusted root {trusted.hex()}",
                                     where=where)
        results.append(EntryResult(bucket_id, dict(zip(symbols, balances))))
        checks.append(f"bucket {bucket_id}: leaf -> {height} nodes -> bucket root -> {n_top} nodes -> snapshot root")

    result = VerifyResult(account, sid, trusted.hex(), results, config, checks)
    if expect:
        dec = {a.symbol: a.decimals for a in config.assets}
        totals = result.totals()
        for bucket, asset, value in parse_expectations(expect, config):
            if bucket is None:
                got = totals[asset]
            else:
                got = next((en.balances[asset] for en in results if en.bucket == bucket), 0)
            if got != value:
                scope = f"{bucket}:{asset}" if bucket else asset
                raise VerificationFailed(
                    f"expected {scope} = {format_amount(value, dec[asset])}, proof shows {format_amount(got, dec[asset])}",
                    where=f"{file}: expect")
            checks.append(f"expect {bucket + ':' if bucket else ''}{asset} = {format_amount(value, dec[asset])}")
    return result


def load_proof(path: Path) -> Any:
    """Read a proof JSON file (BadInput with the file name if unreadable, not JSON, or with duplicate keys)."""
    return read_json(path, "proof")
