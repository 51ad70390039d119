"""Inclusion proofs: make them from a store, verify them from the public root alone (SPEC.md §8).

A proof document holds everything a verifier needs: the snapshot metadata and root, the
account id, and for each bucket the account is in: the leaf salt and values, the leaf
index, the sibling of every node on the path to the bucket root, and the path through the
top tree. The verifier recomputes the leaf, every node hash and vector (sums checked below
2^64), the bucket leaf, the top tree and the snapshot root, and compares that root with the
trusted one. What an entry adds beyond that -- openings and range proofs (hiding mode), the
batch's Groth16 proof (zk mode), the collateral rule on every node (margin values) -- is the
mode's (:mod:`por.modes`); the pipeline here is written once against it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from por.core import encoding as enc
from por.core.config import SnapshotConfig
from por.core.errors import BadInput, VerificationFailed
from por.core.fileio import read_json
from por.core.jsondoc import expect_keys, parse_hex32, parse_index, parse_uint64
from por.core.ledger import format_amount, parse_amount
from por.modes.base import EntryCheck, Mode
from por.modes.registry import MODE_CLASSES, MODES
from por.modes.values import EntryResult, layout_of, values_for
from por.snapshot.document import Snapshot, snapshot_from_dict
from por.tree.store import Store
from por.tree.sumtree import MAX_HEIGHT, Node, climb, top_height, top_tree

PROOF_FORMAT = "por-inclusion-proof"
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_SALT_RE = re.compile(r"[0-9a-f]{64}")

__all__ = ["EntryResult", "PROOF_FORMAT", "Prover", "VerifyResult", "load_proof", "parse_expectations",
           "proof_filename", "prove_all", "verify_proof"]


# ------------------------------------------------------------------ making proofs

class Prover:
    """Serves inclusion proofs from a snapshot directory (``snapshot.json`` + ``store.sqlite``)."""

    def __init__(self, snapshot_dir: Path) -> None:
        self.dir = Path(snapshot_dir)
        self.store = Store(self.dir / "store.sqlite")
        self.snapshot: Snapshot = snapshot_from_dict(json.loads(self.store.snapshot_json()),
                                                     file=str(self.dir / "store.sqlite"))
        self.mode: Mode = self.snapshot.scheme
        sid = self.snapshot.config.snapshot_id
        self.top_levels = top_tree(sid, [b.leaf(sid) for b in self.snapshot.buckets], self.mode.top_pad())
        self._cache: dict[str, Any] = {}

    @property
    def n_values(self) -> int:
        """Values per node (the value layout's)."""
        return self.mode.n_values

    def cached(self, key: str, make: Callable[[], Any]) -> Any:
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    def top_path(self, bucket: int) -> list[Node]:
        return [self.top_levels[lvl][(bucket >> lvl) ^ 1] for lvl in range(len(self.top_levels) - 1)]

    def bucket_root_opening(self, bucket: int) -> Any:
        """Hiding mode: the values and blinding factors behind a bucket root's commitments (private)."""
        return self.mode.root_opening(self, bucket)  # type: ignore[attr-defined]

    @property
    def top_opening(self) -> Any:
        """Hiding mode: the opening of the top tree's root (snapshot-wide figures and their blinding)."""
        return self.mode.top_openings(self)[-1][0]  # type: ignore[attr-defined]

    def close(self) -> None:
        self.store.close()

    def prove(self, account_id: str) -> dict[str, Any]:
        """The proof document of ``account_id`` over all its buckets. Raises BadInput if unknown."""
        leaves = self.store.account_leaves(account_id)
        if not leaves:
            raise BadInput(f"no account {account_id!r} in this snapshot", field="account")
        entries = [self.mode.prove_entry(self, bucket, position, bytes(salt), account_id)
                   for bucket, position, salt in leaves]
        cfg = self.snapshot.config
        return {
            "format": PROOF_FORMAT,
            "version": self.snapshot.version,
            "mode": self.snapshot.mode,
            "snapshot": {"metadata": cfg.to_dict(), "root": self.snapshot.root.hex(), **self.mode.params_doc()},
            "account_id": account_id,
            "entries": entries,
        }

    def accounts(self) -> Iterator[str]:
        return self.store.iter_accounts()


_worker_prover: Prover | None = None


def _init_worker(snapshot_dir: str) -> None:
    global _worker_prover
    _worker_prover = Prover(Path(snapshot_dir))


def _prove_in_worker(account_id: str) -> dict[str, Any]:
    assert _worker_prover is not None
    return _worker_prover.prove(account_id)


def prove_all(snapshot_dir: Path, *, jobs: int = 1) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every account's proof document, in sorted account order.

    With ``jobs > 1`` the proofs are made by that many worker processes (worth it in
    hiding mode, where each proof carries a range proof); the output is identical.
    """
    prover = Prover(snapshot_dir)
    try:
        accounts = list(prover.accounts())
        if jobs <= 1 or len(accounts) < 2 * jobs:
            for account in accounts:
                yield account, prover.prove(account)
            return
    finally:
        prover.close()
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    ctx = multiprocessing.get_context("spawn")  # no fork: the caller may run threads (progress bars)
    with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=_init_worker,
                             initargs=(str(snapshot_dir),)) as pool:
        yield from zip(accounts, pool.map(_prove_in_worker, accounts, chunksize=8))


def proof_filename(account_id: str, *, hashed: bool = False) -> str:
    """File name for an exported proof: the id itself when it is filesystem-safe, else (or with ``hashed``) a
    hash of it. Never a path (no ``/``, ``..`` or control characters can get through), never ``index.json``
    (the export's index) and never a name of the hashed form (``acct-…``) for another id."""
    low = account_id.lower()
    if not hashed and _SAFE_NAME.fullmatch(account_id) and low != "index" and not low.startswith("acct-"):
        return f"{account_id}.json"
    return "acct-" + hashlib.sha256(account_id.encode()).hexdigest()[:24] + ".json"


# ------------------------------------------------------------------ verifying proofs

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
        """Per asset over every entry (the net, equity - debt, where there are debts)."""
        out = {s: 0 for s in self.config.symbols}
        for e in self.entries:
            for s, v in e.balances.items():
                out[s] += v
        return out

    def to_dict(self) -> dict[str, Any]:
        dec = {a.symbol: a.decimals for a in self.config.assets}
        values = values_for(self.config)
        return {
            "valid": True,
            "account_id": self.account_id,
            "snapshot_id": self.snapshot_id,
            "root": self.root,
            "entries": [values.result_entry_doc(e, dec) for e in self.entries],
            "totals": values.result_totals_doc(self.entries, dec),
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
    snap_doc = doc.get("snapshot")
    layout_of(doc.get("version"), snap_doc.get("metadata") if isinstance(snap_doc, dict) else None, file=file,
              what="proof version", documents="proofs (margin accounts)", meta_field="snapshot.metadata")
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
    name = doc["mode"]
    if name not in MODES:
        raise BadInput(f"unsupported mode {name!r}", file=file, field="mode")
    if snapshot is not None and snapshot.mode != name:
        raise VerificationFailed(f"proof is a {name}-mode proof but the snapshot is {snapshot.mode}-mode",
                                 where=f"{file}: mode")
    cls = MODE_CLASSES[name]
    snap_doc = expect_keys(doc["snapshot"], {"metadata", "root"} | cls.params_keys(), file=file, field="snapshot")
    config = SnapshotConfig.from_dict(snap_doc["metadata"], file=file)
    mode = cls(config, cls.parse_params(snap_doc, config, file=file, field="snapshot.zk"))
    claimed_root = parse_hex32(snap_doc["root"], file=file, field="snapshot.root")
    account = doc["account_id"]
    if not isinstance(account, str) or not account:
        raise BadInput("account_id must be a non-empty string", file=file, field="account_id")
    entries = doc["entries"]
    if not isinstance(entries, list) or not entries:
        raise BadInput("entries must be a non-empty list", file=file, field="entries")

    if snapshot is not None:
        if config != snapshot.config:
            raise VerificationFailed("proof metadata differs from the snapshot's (another snapshot, bucket list "
                                     "or asset list)", where=f"{file}: snapshot.metadata")
        mode.compare_params(snapshot, file=file)
        trusted = snapshot.root
    else:
        trusted = root  # type: ignore[assignment]
    if claimed_root != trusted:
        raise VerificationFailed(f"proof is for root {claimed_root.hex()}, not the trusted root {trusted.hex()}",
                                 where=f"{file}: snapshot.root")
    if account_id is not None and account_id != account:
        raise VerificationFailed(f"proof is for account {account!r}, not {account_id!r}", where=f"{file}: account_id")

    checks: list[str] = []
    results: list[EntryResult] = []
    seen: set[str] = set()
    for i, e in enumerate(entries):
        c = _entry(mode, e, f"entries[{i}]", seen, file=file, account=account, trusted=trusted)
        c.own_value = mode.values.check_own(c.own, c.bucket_id, c.where)
        node, start = mode.open_leaf(e, c)
        bucket_root, bucket_vec = climb(node, c.index >> start, c.path, where=f"{c.where}, path",
                                        check=mode.path_check(c.bucket_id), start_level=start)
        if snapshot is not None:
            published = snapshot.bucket(c.bucket_id)
            if published.height != c.height:
                raise VerificationFailed(f"height {c.height} differs from the published {published.height}",
                                         where=c.where)
            if bucket_root != published.root or tuple(bucket_vec) != tuple(published.vector):
                raise VerificationFailed(
                    "leaf and path do not lead to the published bucket root (a balance, salt, account id, "
                    "index or sibling was altered)", where=c.where)
        kind = config.bucket(c.bucket_id).kind
        bleaf = enc.bucket_leaf_hash(config.snapshot_id, c.bucket_id, kind, c.height, bucket_root, bucket_vec)
        top_hash, c.top_vector = climb((bleaf, bucket_vec), config.bucket_ids.index(c.bucket_id), c.top,
                                       where=f"{c.where}, top_path", check=mode.top_check())
        computed = enc.H(mode.root_preimage(top_hash, c.top_vector))
        if computed != trusted:
            raise VerificationFailed(f"path leads to root {computed.hex()}, not the trusted root {trusted.hex()}",
                                     where=c.where)
        results.append(mode.values.entry_result(c.bucket_id, c.own, c.own_value))
        checks += mode.describe(c)
        checks += mode.after_root(e, c)

    result = VerifyResult(account, config.snapshot_id, trusted.hex(), results, config, checks)
    if expect:
        _check_expectations(result, expect, file)
    return result


def _entry(mode: Mode, e: Any, f: str, seen: set[str], *, file: str, account: str, trusted: bytes) -> EntryCheck:
    """Parse one entry's common fields and check its shape (lengths, positions) against the metadata."""
    config = mode.config
    expect_keys(e, mode.entry_keys(), file=file, field=f)
    bucket_id = e["bucket"]
    if bucket_id not in config.bucket_ids:
        raise BadInput(f"unknown bucket {bucket_id!r}", file=file, field=f"{f}.bucket")
    if bucket_id in seen:
        raise VerificationFailed(f"bucket {bucket_id!r} appears twice", where=f"{file}: {f}")
    seen.add(bucket_id)
    where = f"{file}: {f} (bucket {bucket_id})"
    bucket_idx = config.bucket_ids.index(bucket_id)
    height = parse_index(e["height"], file=file, field=f"{f}.height")
    index = parse_index(e["index"], file=file, field=f"{f}.index")
    top_index = parse_index(e["top_index"], file=file, field=f"{f}.top_index")
    if not isinstance(e["salt"], str) or not _SALT_RE.fullmatch(e["salt"]):
        raise BadInput("must be 64 lowercase hex digits", file=file, field=f"{f}.salt")
    salt = bytes.fromhex(e["salt"])
    own = mode.values.from_doc(e, "balances", parse_uint64, file=file, field=f)
    if not isinstance(e["path"], list) or not isinstance(e["top_path"], list):
        raise BadInput("path and top_path must be lists", file=file, field=f)
    path = [mode.parse_node(s, file=file, field=f"{f}.path[{j}]") for j, s in enumerate(e["path"])]
    top = [mode.parse_node(s, file=file, field=f"{f}.top_path[{j}]") for j, s in enumerate(e["top_path"])]
    n_top = top_height(len(config.buckets))
    if not 1 <= height <= MAX_HEIGHT:
        raise VerificationFailed(f"height {height} is outside 1..{MAX_HEIGHT}", where=where)
    k = mode.batch_height
    if not k <= height:
        raise VerificationFailed(f"height {height} is below the batch height {k}", where=where)
    if len(path) != height - k:
        raise VerificationFailed(f"path has {len(path)} siblings but height is {height}" + mode.path_note(),
                                 where=where)
    if top_index != bucket_idx:
        raise VerificationFailed(f"top_index {top_index} is not bucket {bucket_id!r}'s position {bucket_idx}",
                                 where=where)
    if len(top) != n_top:
        raise VerificationFailed(f"top_path has {len(top)} siblings, the top tree has height {n_top}", where=where)
    return EntryCheck(file, f, where, config, account, trusted, bucket_id, height, index, salt, own, path, top)


def _check_expectations(result: VerifyResult, expect: Sequence[str], file: str) -> None:
    """The user's ``--expect`` amounts (nets, where there are debts) must be what the proof shows."""
    config = result.config
    dec = {a.symbol: a.decimals for a in config.assets}
    totals = result.totals()
    for bucket, asset, value in parse_expectations(expect, config):
        if bucket is None:
            got = totals[asset]
        else:
            got = next((en.balances[asset] for en in result.entries if en.bucket == bucket), 0)
        if got != value:
            scope = f"{bucket}:{asset}" if bucket else asset
            raise VerificationFailed(
                f"expected {scope} = {format_amount(value, dec[asset])}, proof shows {format_amount(got, dec[asset])}",
                where=f"{file}: expect")
        result.checks.append(f"expect {bucket + ':' if bucket else ''}{asset} = {format_amount(value, dec[asset])}")


def load_proof(path: Path) -> Any:
    """Read a proof JSON file (BadInput with the file name if unreadable, not JSON, or with duplicate keys)."""
    return read_json(path, "proof")
