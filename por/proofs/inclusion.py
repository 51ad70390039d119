"""Inclusion proofs: make them from a store, verify them from the public root alone (SPEC.md §8).

A proof document holds everything a verifier needs: the snapshot metadata and
root, the account id, and for each bucket the account is in: the leaf salt and
balances, the leaf index, the sibling of every node on the path to the bucket
root, and the path through the top tree. The verifier recomputes the leaf hash,
every node hash and sum (checking each stays below 2^64), the bucket leaf, the
top tree and the snapshot root, and compares that root with the trusted one.

Margin snapshots (version 2, SPEC.md §17.10): entries and path nodes carry
``equity`` and ``debt`` per asset instead of ``balances`` / ``sums``, and the
verifier also checks that its own leaf and every sibling and computed node on
both paths has a non-negative collateral value (base haircuts), so no subtree
next to the user can hide a net-negative set of accounts.

Margin snapshots in hiding mode (version 2, ``"mode": "hiding"``, SPEC.md §17.16):
entries open the user's own equity and debt commitments; path nodes carry
``equity_commitments`` and ``debt_commitments``; ``range_proof`` (64 bits) covers
every sibling's 2A commitments and the snapshot-wide ones, and
``collateral_range_proof`` (128 bits, transcript ``"inclusion-collateral"``) covers
the collateral-value commitment ``C_V`` of every sibling and of the snapshot-wide
total, so a subtree with a negative collateral value next to the path is caught.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from por.core import encoding as enc
from por.core.config import SnapshotConfig
from por.core.errors import BadInput, VerificationFailed
from por.core.fileio import read_json
from por.core.ledger import format_amount, parse_amount
from por.core.margin import MarginParams, collateral_value
from por.crypto import rangeproof
from por.modes.commitments import (
    NO_DEBT_BLINDING,
    TOP_PAD_BLINDING,
    collateral_commitment,
    collateral_opening,
    zero_debt_commitment,
)
from por.crypto.group import N, Point
from por.crypto.pedersen import commit
from por.snapshot.document import (
    MODE_HIDING,
    MODE_ZK,
    MODES,
    Snapshot,
    expect_keys,
    parse_commitments,
    parse_hex32,
    parse_uint64,
    snapshot_root,
)
from por.tree.store import Store
from por.crypto.transcript import Transcript
from por.tree.sumtree import MAX_HEIGHT, climb, top_height, top_tree

PROOF_FORMAT = "por-inclusion-proof"
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


# ------------------------------------------------------------------ making proofs

def _sums_dict(symbols: Sequence[str], values: Sequence[int]) -> dict[str, str]:
    return {s: str(int(v)) for s, v in zip(symbols, values, strict=True)}


def _node_doc(symbols: Sequence[str], node: tuple[bytes, Sequence[int]]) -> dict[str, Any]:
    return {"hash": node[0].hex(), "sums": _sums_dict(symbols, node[1])}


def _margin_node_doc(symbols: Sequence[str], node: tuple[bytes, Sequence[int]]) -> dict[str, Any]:
    n = len(symbols)
    return {"hash": node[0].hex(), "equity": _sums_dict(symbols, node[1][:n]), "debt": _sums_dict(symbols, node[1][n:])}


def _commit_doc(symbols: Sequence[str], node: tuple[bytes, Sequence[bytes]]) -> dict[str, Any]:
    return {"hash": node[0].hex(), "commitments": {s: c.hex() for s, c in zip(symbols, node[1], strict=True)}}


def _margin_commit_doc(symbols: Sequence[str], node: tuple[bytes, Sequence[bytes]]) -> dict[str, Any]:
    n = len(symbols)
    return {"hash": node[0].hex(),
            "equity_commitments": {s: c.hex() for s, c in zip(symbols, node[1][:n], strict=True)},
            "debt_commitments": {s: c.hex() for s, c in zip(symbols, node[1][n:], strict=True)}}


def _scalar_hex(r: int) -> str:
    return r.to_bytes(32, "big").hex()


@dataclass(frozen=True)
class Opening:
    """The values and blinding factors behind a node's per-asset commitments (hiding mode; private)."""

    values: tuple[int, ...]
    blinds: tuple[int, ...]


def top_openings(bucket_roots: Sequence[Opening]) -> list[list[Opening]]:
    """Openings of every top-tree node, mirroring :func:`por.tree.sumtree.top_tree` (pads open to 0 with blinding 1)."""
    n_assets = len(bucket_roots[0].values)
    level = list(bucket_roots)
    pad = Opening((0,) * n_assets, (TOP_PAD_BLINDING,) * n_assets)
    level += [pad] * ((1 << top_height(len(bucket_roots))) - len(bucket_roots))
    levels = [level]
    while len(level) > 1:
        level = [Opening(tuple(a + b for a, b in zip(level[i].values, level[i + 1].values)),
                         tuple((a + b) % N for a, b in zip(level[i].blinds, level[i + 1].blinds)))
                 for i in range(0, len(level), 2)]
        levels.append(level)
    return levels


RANGE_BITS = 64
PATH_PROTOCOL = "inclusion-path"
COLLATERAL_BITS = 128
COLLATERAL_PROTOCOL = "inclusion-collateral"


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


def collateral_statement(nodes: Sequence[Sequence[bytes]], params: MarginParams) -> list[Point]:
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


class Prover:
    """Serves inclusion proofs from a snapshot directory (``snapshot.json`` + ``store.sqlite``)."""

    def __init__(self, snapshot_dir: Path) -> None:
        from por.snapshot.document import snapshot_from_dict

        self.dir = Path(snapshot_dir)
        self.store = Store(self.dir / "store.sqlite")
        self.snapshot: Snapshot = snapshot_from_dict(json.loads(self.store.snapshot_json()),
                                                     file=str(self.dir / "store.sqlite"))
        cfg = self.snapshot.config
        self._top = top_tree(cfg.snapshot_id, [b.leaf(cfg.snapshot_id) for b in self.snapshot.buckets])
        self._top_open: list[list[Opening]] = []
        if self.snapshot.hiding:
            self._top_open = top_openings([self.bucket_root_opening(i) for i in range(len(self.snapshot.buckets))])

    @property
    def n_values(self) -> int:
        """Values per node: A, or 2A (equity then debt) in a margin snapshot."""
        n = len(self.snapshot.config.assets)
        return 2 * n if self.snapshot.config.margin is not None else n

    def bucket_root_opening(self, bucket: int) -> Opening:
        """Hiding mode: the values and blinding factors of a bucket root's commitments (private).

        In a margin snapshot: 2A values and blindings, equity then debt per asset.
        """
        node = self.store.committed_node(bucket, self.snapshot.buckets[bucket].height, 0, self.n_values)
        return Opening(tuple(node.sums), tuple(node.blinds))

    @property
    def top_opening(self) -> Opening:
        """Hiding mode: the opening of the top tree's root (snapshot-wide totals and their blinding)."""
        return self._top_open[-1][0]

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
            if self.snapshot.hiding and cfg.margin is not None:
                entries.append(self._margin_hiding_entry(bucket, position, bytes(salt), account_id))
                continue
            if self.snapshot.hiding:
                entries.append(self._hiding_entry(bucket, position, bytes(salt)))
                continue
            if cfg.margin is not None:
                entries.append(self._margin_entry(bucket, position, bytes(salt)))
                if self.snapshot.zk is not None:
                    from por.modes.zk import entry_batch_doc

                    entry = entries[-1]
                    entry["batch"] = entry_batch_doc(self.dir, self.store, self.snapshot, bucket, position)
                    entry["path"] = entry["path"][self.snapshot.zk.batch_height:]
                continue
            _, balances = self.store.node(bucket, 0, position, n)
            path = self.store.siblings(bucket, position, summary.height, n)
            extra: dict[str, Any] = {}
            if self.snapshot.zk is not None:
                from por.modes.zk import entry_batch_doc

                k = self.snapshot.zk.batch_height
                extra["batch"] = entry_batch_doc(self.dir, self.store, self.snapshot, bucket, position)
                path = path[k:]
            entries.append({
                **extra,
                "bucket": summary.id,
                "height": summary.height,
                "index": position,
                "salt": bytes(salt).hex(),
                "balances": _sums_dict(symbols, balances),
                "path": [_node_doc(symbols, s) for s in path],
                "top_index": bucket,
                "top_path": [_node_doc(symbols, s) for s in self._top_path(bucket)],
            })
        snapshot_doc: dict[str, Any] = {"metadata": cfg.to_dict(), "root": self.snapshot.root.hex()}
        if self.snapshot.zk is not None:
            snapshot_doc["zk"] = self.snapshot.zk.to_dict()
        return {
            "format": PROOF_FORMAT,
            "version": self.snapshot.version,
            "mode": self.snapshot.mode,
            "snapshot": snapshot_doc,
            "account_id": account_id,
            "entries": entries,
        }

    def accounts(self) -> Iterator[str]:
        return self.store.iter_accounts()

    def _margin_entry(self, bucket: int, position: int, salt: bytes) -> dict[str, Any]:
        """One bucket's entry of a margin proof: own equity and debt, siblings' equity and debt sums."""
        symbols = self.snapshot.config.symbols
        n = len(symbols)
        summary = self.snapshot.buckets[bucket]
        _, values = self.store.node(bucket, 0, position, 2 * n)
        path = self.store.siblings(bucket, position, summary.height, 2 * n)
        return {
            "bucket": summary.id,
            "height": summary.height,
            "index": position,
            "salt": salt.hex(),
            "equity": _sums_dict(symbols, values[:n]),
            "debt": _sums_dict(symbols, values[n:]),
            "path": [_margin_node_doc(symbols, s) for s in path],
            "top_index": bucket,
            "top_path": [_margin_node_doc(symbols, s) for s in self._top_path(bucket)],
        }

    def _hiding_entry(self, bucket: int, position: int, salt: bytes) -> dict[str, Any]:
        """One bucket's entry of a hiding-mode proof: own opening, path commitments, one range proof."""
        snap = self.snapshot
        symbols = snap.config.symbols
        n = len(symbols)
        summary = snap.buckets[bucket]
        leaf = self.store.committed_node(bucket, 0, position, n)
        path = self.store.committed_siblings(bucket, position, summary.height, n)
        top_levels = len(self._top) - 1
        top_path = [self._top[lvl][(bucket >> lvl) ^ 1] for lvl in range(top_levels)]
        top_open = [self._top_open[lvl][(bucket >> lvl) ^ 1] for lvl in range(top_levels)]
        openings = [Opening(tuple(s.sums), tuple(s.blinds)) for s in path] + top_open + [self.top_opening]
        values = [v for o in openings for v in o.values]
        blinds = [r for o in openings for r in o.blinds]
        transcript = path_transcript(snap.root, summary.id, position)
        witness = b"".join(enc.u64(v) + r.to_bytes(32, "big") for v, r in zip(values, blinds))
        rng = transcript.witness_rng(self.store.nonce_key(), witness)
        proof, commitments = rangeproof.prove(transcript, values, blinds, RANGE_BITS, rng=rng)
        expected = [c for s in path for c in s.commits] + [c for _, vec in top_path for c in vec]
        if [c.to_bytes() for c in commitments[: len(expected)]] != expected:  # pragma: no cover - store damage
            raise BadInput("store is inconsistent: a node's opening does not match its commitment",
                           file=str(self.store.path))
        return {
            "bucket": summary.id,
            "height": summary.height,
            "index": position,
            "salt": salt.hex(),
            "balances": _sums_dict(symbols, leaf.sums),
            "blindings": {s: r.to_bytes(32, "big").hex() for s, r in zip(symbols, leaf.blinds)},
            "path": [_commit_doc(symbols, (s.hash, s.commits)) for s in path],
            "top_index": bucket,
            "top_path": [_commit_doc(symbols, node) for node in top_path],
            "range_proof": proof.to_hex(),
        }


    def _margin_hiding_entry(self, bucket: int, position: int, salt: bytes, account_id: str) -> dict[str, Any]:
        """One bucket's entry of a margin hiding-mode proof (SPEC.md §17.16): own opening, path
        commitments, the 64-bit range proof over every sibling's 2A commitments and the totals, and the
        128-bit range proof over their collateral-value commitments."""
        snap = self.snapshot
        cfg = snap.config
        params = cfg.margin
        assert params is not None
        symbols = cfg.symbols
        n = len(symbols)
        summary = snap.buckets[bucket]
        leaf = self.store.committed_node(bucket, 0, position, 2 * n)
        path = self.store.committed_siblings(bucket, position, summary.height, 2 * n)
        top_levels = len(self._top) - 1
        top_path = [self._top[lvl][(bucket >> lvl) ^ 1] for lvl in range(top_levels)]
        top_open = [self._top_open[lvl][(bucket >> lvl) ^ 1] for lvl in range(top_levels)]
        openings = [Opening(tuple(s.sums), tuple(s.blinds)) for s in path] + top_open + [self.top_opening]
        vectors = [tuple(s.commits) for s in path] + [tuple(vec) for _, vec in top_path] + [tuple(self._top[-1][0][1])]
        nonce_key = self.store.nonce_key()

        # 1. every sibling's and the total's 2A values in [0, 2^64)
        values = [v for o in openings for v in o.values]
        blinds = [r for o in openings for r in o.blinds]
        transcript = path_transcript(snap.root, summary.id, position)
        witness = b"".join(enc.u64(v) + r.to_bytes(32, "big") for v, r in zip(values, blinds))
        proof, commitments = rangeproof.prove(transcript, values, blinds, RANGE_BITS,
                                              rng=transcript.witness_rng(nonce_key, witness))
        if [c.to_bytes() for c in commitments] != [c for vec in vectors for c in vec]:  # pragma: no cover
            raise BadInput("store is inconsistent: a node's opening does not match its commitment",
                           file=str(self.store.path))

        # 2. every sibling's and the total's collateral value in [0, 2^128)
        c_values, c_blinds, c_points = [], [], []
        for o, vec in zip(openings, vectors):
            point = collateral_commitment(vec, params.f_eq, params.f_debt)
            if point.is_identity:
                continue  # value 0 (binding): omitted from the statement, like the verifier does
            value, rho = collateral_opening(o.values, o.blinds, params.f_eq, params.f_debt)
            if commit(value % N, rho) != point:  # pragma: no cover - store damage
                raise BadInput("store is inconsistent: a collateral opening does not match", file=str(self.store.path))
            c_values.append(value)
            c_blinds.append(rho)
            c_points.append(point)
        ctranscript = collateral_transcript(snap.root, summary.id, position)
        cwitness = b"".join((v % N).to_bytes(32, "big") + r.to_bytes(32, "big") for v, r in zip(c_values, c_blinds))
        try:
            cproof, _ = rangeproof.prove(ctranscript, c_values, c_blinds, COLLATERAL_BITS,
                                         rng=ctranscript.witness_rng(nonce_key, cwitness))
        except ValueError as exc:
            raise VerificationFailed(
                f"cannot prove {account_id!r}: a subtree beside its path (or the snapshot total) has a negative "
                f"collateral value, i.e. holds undercollateralised accounts ({exc})",
                where=f"bucket {summary.id}, leaf {position}") from None
        return {
            "bucket": summary.id,
            "height": summary.height,
            "index": position,
            "salt": salt.hex(),
            "equity": _sums_dict(symbols, leaf.sums[:n]),
            "debt": _sums_dict(symbols, leaf.sums[n:]),
            "equity_blindings": {s: _scalar_hex(r) for s, r in zip(symbols, leaf.blinds[:n])},
            "debt_blindings": {s: _scalar_hex(r) for s, r in zip(symbols, leaf.blinds[n:])},
            "path": [_margin_commit_doc(symbols, (s.hash, s.commits)) for s in path],
            "top_index": bucket,
            "top_path": [_margin_commit_doc(symbols, node) for node in top_path],
            "range_proof": proof.to_hex(),
            "collateral_range_proof": cproof.to_hex(),
        }


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


def proof_filename(account_id: str) -> str:
    """File name for an exported proof: the id itself when it is filesystem-safe, else a hash of it."""
    if _SAFE_NAME.fullmatch(account_id):
        return f"{account_id}.json"
    return "acct-" + hashlib.sha256(account_id.encode()).hexdigest()[:24] + ".json"


# ------------------------------------------------------------------ verifying proofs

@dataclass
class EntryResult:
    """One verified entry. With margin, ``balances`` is the net (equity - debt, may be negative)."""

    bucket: str
    balances: dict[str, int]
    equity: dict[str, int] | None = None
    debt: dict[str, int] | None = None
    value: str | None = None  # margin: collateral value after tiered haircuts, exact quote units


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
        if self.config.margin is not None:
            return self._margin_dict(dec)
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

    def _margin_dict(self, dec: dict[str, int]) -> dict[str, Any]:
        """Margin proofs: equity, debt and net (= equity - debt) per entry and over all entries."""
        fmt = lambda m: {s: format_amount(v, dec[s]) for s, v in m.items()}  # noqa: E731
        symbols = self.config.symbols
        equity = {s: sum(e.equity[s] for e in self.entries) for s in symbols}  # type: ignore[index]
        debt = {s: sum(e.debt[s] for e in self.entries) for s in symbols}  # type: ignore[index]
        return {
            "valid": True,
            "account_id": self.account_id,
            "snapshot_id": self.snapshot_id,
            "root": self.root,
            "entries": [
                {"bucket": e.bucket, "equity": fmt(e.equity), "debt": fmt(e.debt), "net": fmt(e.balances),
                 "collateral_value": e.value}
                for e in self.entries
            ],
            "totals": {"equity": fmt(equity), "debt": fmt(debt), "net": fmt(self.totals())},
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


def _parse_node(obj: Any, config: SnapshotConfig, *, file: str, field: str) -> tuple[bytes, list[int]]:
    expect_keys(obj, {"hash", "sums"}, file=file, field=field)
    return (parse_hex32(obj["hash"], file=file, field=f"{field}.hash"),
            _parse_sums(obj["sums"], config.symbols, file=file, field=f"{field}.sums"))


def _parse_margin_node(obj: Any, config: SnapshotConfig, *, file: str, field: str) -> tuple[bytes, list[int]]:
    """A margin path node: hash, equity and debt sums -> ``(hash, equity ‖ debt)``."""
    expect_keys(obj, {"hash", "equity", "debt"}, file=file, field=field)
    return (parse_hex32(obj["hash"], file=file, field=f"{field}.hash"),
            _parse_sums(obj["equity"], config.symbols, file=file, field=f"{field}.equity")
            + _parse_sums(obj["debt"], config.symbols, file=file, field=f"{field}.debt"))


def _margin_checker(params: MarginParams, n: int, *, no_debt: bool):
    """The per-node rule of a margin path: base collateral value >= 0 (and no debt in a bucket without debts).

    The returned check takes a node's ``equity ‖ debt`` vector and the full description of where it is.
    """

    def check(vector: Sequence[Any], where: str) -> None:
        equity, debt = list(vector[:n]), list(vector[n:])
        if no_debt and any(debt):
            raise VerificationFailed("a node of a bucket without allow_debt carries debt "
                                     f"({', '.join(f'{s} {d}' for s, d in zip(params.symbols, debt) if d)})",
                                     where=where)
        value = collateral_value(equity, debt, params)
        if value < 0:
            raise VerificationFailed(
                f"collateral value is negative: {params.format_value(value)} quote units (its debts outweigh its "
                "equity after haircuts: it holds undercollateralised accounts)", where=where)

    return check


def _parse_commit_node(obj: Any, config: SnapshotConfig, *, file: str, field: str) -> tuple[bytes, tuple[bytes, ...]]:
    expect_keys(obj, {"hash", "commitments"}, file=file, field=field)
    return (parse_hex32(obj["hash"], file=file, field=f"{field}.hash"),
            parse_commitments(obj["commitments"], config, file=file, field=f"{field}.commitments"))


def _parse_margin_commit_node(
    obj: Any, config: SnapshotConfig, *, file: str, field: str,
) -> tuple[bytes, tuple[bytes, ...]]:
    """A margin hiding-mode path node: hash, equity and debt commitments -> ``(hash, equity ‖ debt commitments)``."""
    expect_keys(obj, {"hash", "equity_commitments", "debt_commitments"}, file=file, field=field)
    return (parse_hex32(obj["hash"], file=file, field=f"{field}.hash"),
            parse_commitments(obj["equity_commitments"], config, file=file, field=f"{field}.equity_commitments")
            + parse_commitments(obj["debt_commitments"], config, file=file, field=f"{field}.debt_commitments"))


def _check_zero_debt_path(own_debt_blindings: Sequence[int], path: Sequence[tuple[bytes, Sequence[bytes]]], n: int,
                          *, where: str) -> None:
    """A margin hiding-mode bucket without ``allow_debt``: the own leaf's debt blindings are the public 1 and
    every sibling's debt commitments are the public commitments to zero ``2^level * H`` (SPEC.md §17.16)."""
    if any(r != NO_DEBT_BLINDING for r in own_debt_blindings):
        raise VerificationFailed("a bucket without allow_debt commits to zero debt with the public blinding "
                                 f"{NO_DEBT_BLINDING}; the own leaf's debt blindings differ",
                                 where=f"{where}, own leaf")
    for level, (_, vec) in enumerate(path):
        if any(c != zero_debt_commitment(level) for c in vec[n:]):
            raise VerificationFailed("a node of a bucket without allow_debt carries a debt commitment that is not "
                                     f"the public commitment to zero 2^{level}*H",
                                     where=f"{where}, path[{level}] (sibling at level {level})")


def _parse_blindings(obj: Any, symbols: Sequence[str], *, file: str, field: str) -> list[int]:
    expect_keys(obj, set(symbols), file=file, field=field)
    out = []
    for s in symbols:
        r = int.from_bytes(parse_hex32(obj[s], file=file, field=f"{field}.{s}"), "big")
        if not 0 < r < N:
            raise BadInput("must be a non-zero scalar below the group order", file=file, field=f"{field}.{s}")
        out.append(r)
    return out


def _own_commitment(value: int, blinding: int, *, where: str) -> bytes:
    c = commit(value, blinding)
    if c.is_identity:  # pragma: no cover - blinding is non-zero and H has no known log
        raise VerificationFailed("own commitment is the point at infinity", where=where)
    return c.to_bytes()


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


def _verify_path_range_proof(
    proof_hex: Any, statement: Sequence[bytes], root: bytes, bucket_id: str, index: int, *, file: str, field: str,
    where: str,
) -> None:
    """Check the aggregated range proof over a path's sibling commitments and the snapshot-wide totals."""
    if not isinstance(proof_hex, str):
        raise BadInput("must be a hex string", file=file, field=field)
    _check_range_proof(proof_hex, [Point.from_bytes(c) for c in statement], path_transcript(root, bucket_id, index),
                       RANGE_BITS, file=file, field=field, where=where,
                       hint=f"a sibling or total on the path may be negative or ≥ 2^{RANGE_BITS}")


def _verify_collateral_range_proof(
    proof_hex: Any, statement: Sequence[Point], root: bytes, bucket_id: str, index: int, *, file: str, field: str,
    where: str,
) -> None:
    """Check the 128-bit aggregated range proof over the path's collateral-value commitments (SPEC.md §17.16)."""
    if not isinstance(proof_hex, str):
        raise BadInput("must be a hex string", file=file, field=field)
    if not statement:  # pragma: no cover - needs the total's C_V to be O (probability 2^-256 when honest)
        raise VerificationFailed("the snapshot total's collateral-value commitment is the point at infinity",
                                 where=f"{where}, collateral_range_proof")
    _check_range_proof(proof_hex, statement, collateral_transcript(root, bucket_id, index), COLLATERAL_BITS,
                       file=file, field=field, where=where,
                       hint="a sibling subtree or the total on the path may have a negative collateral value: "
                            "undercollateralised accounts")


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
    version = doc.get("version")
    if type(version) is not int or version not in (enc.FORMAT_VERSION, enc.MARGIN_FORMAT_VERSION):
        raise BadInput(f"unsupported proof version {version!r} (this por reads {enc.FORMAT_VERSION}, and "
                       f"{enc.MARGIN_FORMAT_VERSION} for margin snapshots)", file=file, field="version")
    snap_doc = doc.get("snapshot")
    meta = snap_doc.get("metadata") if isinstance(snap_doc, dict) else None
    if isinstance(meta, dict) and ("margin" in meta) != (version == enc.MARGIN_FORMAT_VERSION):
        raise BadInput(f"version {version} does not match the metadata: version {enc.MARGIN_FORMAT_VERSION} "
                       f"proofs (margin accounts) have snapshot.metadata.margin and version {enc.FORMAT_VERSION} "
                       "ones do not", file=file, field="version")
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
    mode = doc["mode"]
    if mode not in MODES:
        raise BadInput(f"unsupported mode {mode!r}", file=file, field="mode")
    hiding = mode == MODE_HIDING
    if snapshot is not None and snapshot.mode != mode:
        raise VerificationFailed(f"proof is a {mode}-mode proof but the snapshot is {snapshot.mode}-mode",
                                 where=f"{file}: mode")
    zk_mode = mode == MODE_ZK
    snap_doc = expect_keys(doc["snapshot"], {"metadata", "root"} | ({"zk"} if zk_mode else set()),
                           file=file, field="snapshot")
    config = SnapshotConfig.from_dict(snap_doc["metadata"], file=file)
    margin = config.margin
    zk = None
    if zk_mode:
        from por.modes.zk import verify_entry_batch
        from por.zk.circuits import circuit_for
        from por.zk.setup import ZkParams

        zk = ZkParams.from_dict(snap_doc["zk"], len(config.assets), file=file, field="snapshot.zk",
                                circuit=circuit_for(margin is not None))
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
        if zk is not None and zk.to_dict() != snapshot.zk.to_dict():
            raise VerificationFailed("proof's batch height or verifying key differs from the snapshot's",
                                     where=f"{file}: snapshot.zk")
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
        entry_keys = {"bucket", "height", "index", "salt", "balances", "path", "top_index", "top_path"}
        if margin is not None:
            entry_keys = (entry_keys - {"balances"}) | {"equity", "debt"}
        if hiding and margin is not None:
            entry_keys |= {"equity_blindings", "debt_blindings", "range_proof", "collateral_range_proof"}
        elif hiding:
            entry_keys |= {"blindings", "range_proof"}
        elif zk is not None:
            entry_keys.add("batch")
        expect_keys(e, entry_keys, file=file, field=f)
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
        if margin is not None:
            equity = _parse_sums(e["equity"], symbols, file=file, field=f"{f}.equity")
            debt = _parse_sums(e["debt"], symbols, file=file, field=f"{f}.debt")
            balances = equity + debt
        else:
            balances = _parse_sums(e["balances"], symbols, file=file, field=f"{f}.balances")
        if not isinstance(e["path"], list) or not isinstance(e["top_path"], list):
            raise BadInput("path and top_path must be lists", file=file, field=f)
        if hiding:
            parse_node = _parse_margin_commit_node if margin is not None else _parse_commit_node
        else:
            parse_node = _parse_margin_node if margin is not None else _parse_node
        path = [parse_node(s, config, file=file, field=f"{f}.path[{j}]") for j, s in enumerate(e["path"])]
        top = [parse_node(s, config, file=file, field=f"{f}.top_path[{j}]") for j, s in enumerate(e["top_path"])]
        if not 1 <= height <= MAX_HEIGHT:
            raise VerificationFailed(f"height {height} is outside 1..{MAX_HEIGHT}", where=where)
        k = zk.batch_height if zk is not None else 0
        if not k <= height:
            raise VerificationFailed(f"height {height} is below the batch height {k}", where=where)
        if len(path) != height - k:
            raise VerificationFailed(f"path has {len(path)} siblings but height is {height}"
                                     + (f" with {k} batch levels" if zk is not None else ""), where=where)
        if top_index != bucket_idx:
            raise VerificationFailed(f"top_index {top_index} is not bucket {bucket_id!r}'s position {bucket_idx}",
                                     where=where)
        if len(top) != n_top:
            raise VerificationFailed(f"top_path has {len(top)} siblings, the top tree has height {n_top}", where=where)

        leaf_vec: list = balances
        if zk is not None and index >> height:
            raise VerificationFailed(f"leaf index {index} is outside a tree of height {height}", where=where)
        if margin is not None:  # §17.10 step 2: the own leaf (tiered rule) in every mode
            n = len(symbols)
            no_debt = not config.allows_debt(bucket_id)
            check = _margin_checker(margin, n, no_debt=no_debt)
            check(balances, f"{where}, own leaf")
            own_value = collateral_value(equity, debt, margin, tiered=True)
            if own_value < 0:
                raise VerificationFailed(f"own account is undercollateralised (tiered haircuts): collateral value "
                                         f"{margin.format_value(own_value)} quote units", where=f"{where}, own leaf")
        if hiding:
            if margin is not None:
                blindings = (_parse_blindings(e["equity_blindings"], symbols, file=file, field=f"{f}.equity_blindings")
                             + _parse_blindings(e["debt_blindings"], symbols, file=file, field=f"{f}.debt_blindings"))
            else:
                blindings = _parse_blindings(e["blindings"], symbols, file=file, field=f"{f}.blindings")
            leaf_vec = [_own_commitment(v, r, where=f"{where}, blindings") for v, r in zip(balances, blindings)]
        if zk is not None:
            node = verify_entry_batch(e["batch"], zk, snapshot_id=sid, bucket_id=bucket_id, account_id=account,
                                      salt=salt, balances=balances, index=index, symbols=symbols, file=file,
                                      field=f"{f}.batch", where=where,
                                      factors=(margin.f_eq, margin.f_debt) if margin is not None else None)
            if margin is not None:  # §17.26: the proven batch node, then §17.10 step 3 from level k up
                check(node[1], f"{where}, batch (node at level {k})")
                bucket_root, bucket_sums = climb(node, index >> k, path, where=f"{where}, path", check=check,
                                                 start_level=k)
            else:
                bucket_root, bucket_sums = climb(node, index >> k, path, where=f"{where}, path")
        elif margin is not None:
            leaf = enc.leaf_hash(sid, bucket_id, salt, account, leaf_vec)
            if hiding:
                if no_debt:
                    _check_zero_debt_path(blindings[n:], path, n, where=where)
                bucket_root, bucket_sums = climb((leaf, leaf_vec), index, path, where=f"{where}, path")
            else:
                bucket_root, bucket_sums = climb((leaf, leaf_vec), index, path, where=f"{where}, path", check=check)
        else:
            leaf = enc.leaf_hash(sid, bucket_id, salt, account, leaf_vec)
            bucket_root, bucket_sums = climb((leaf, leaf_vec), index, path, where=f"{where}, path")
        if snapshot is not None:
            published = snapshot.bucket(bucket_id)
            if published.height != height:
                raise VerificationFailed(f"height {height} differs from the published {published.height}", where=where)
            if bucket_root != published.root or tuple(bucket_sums) != tuple(published.vector):
                raise VerificationFailed(
                    "leaf and path do not lead to the published bucket root (a balance, salt, account id, "
                    "index or sibling was altered)", where=where)
        kind = config.bucket(bucket_id).kind
        bleaf = enc.bucket_leaf_hash(sid, bucket_id, kind, height, bucket_root, bucket_sums)
        top_check = (_margin_checker(margin, len(symbols), no_debt=False)
                     if margin is not None and not hiding else None)
        top_hash, top_sums = climb((bleaf, bucket_sums), top_index, top, where=f"{where}, top_path", check=top_check)
        computed = snapshot_root(config, mode, top_hash, top_sums, zk)
        if computed != trusted:
            raise VerificationFailed(f"path leads to root {computed.hex()}, not the trusted root {trusted.hex()}",
                                     where=where)
        if margin is not None:
            results.append(EntryResult(bucket_id, {s: x - y for s, x, y in zip(symbols, equity, debt)},
                                       dict(zip(symbols, equity)), dict(zip(symbols, debt)),
                                       margin.format_value(own_value)))
        else:
            results.append(EntryResult(bucket_id, dict(zip(symbols, balances))))
        if zk is not None and margin is not None:
            checks.append(f"bucket {bucket_id}: leaf -> {k} Poseidon nodes -> batch root (Groth16 proof: every "
                          f"equity and debt of the batch in [0, 2^64), every account's collateral value >= 0 at "
                          f"the snapshot's prices and base haircuts, sums exact) -> {height - k} nodes -> bucket "
                          f"root -> {n_top} nodes -> snapshot root")
        elif zk is not None:
            checks.append(f"bucket {bucket_id}: leaf -> {k} Poseidon nodes -> batch root (Groth16 proof: every "
                          f"balance of the batch in [0, 2^64), sums exact) -> {height - k} nodes -> bucket root -> "
                          f"{n_top} nodes -> snapshot root")
        else:
            checks.append(f"bucket {bucket_id}: leaf -> {height} nodes -> bucket root -> {n_top} nodes -> snapshot root")
        if margin is not None and not hiding:
            above = height - k
            checks.append(f"bucket {bucket_id}: collateral value >= 0 at the snapshot's prices and haircuts for the "
                          "own account (tiered), "
                          + (f"the batch node, its {above} siblings and {above} ancestors above the batch"
                             if zk is not None else f"its {height} siblings and {height} ancestors")
                          + f", and the {n_top} top-tree siblings and ancestors"
                          + ("" if config.allows_debt(bucket_id) else "; no debt anywhere (bucket without allow_debt)"))
        if hiding and margin is not None:
            statement = [c for _, vec in path for c in vec] + [c for _, vec in top for c in vec] + list(top_sums)
            _verify_path_range_proof(e["range_proof"], statement, trusted, bucket_id, index,
                                     file=file, field=f"{f}.range_proof", where=where)
            cstatement = collateral_statement([vec for _, vec in path] + [vec for _, vec in top] + [top_sums], margin)
            _verify_collateral_range_proof(e["collateral_range_proof"], cstatement, trusted, bucket_id, index,
                                           file=file, field=f"{f}.collateral_range_proof", where=where)
            checks.append(f"bucket {bucket_id}: own account's collateral value >= 0 (tiered haircuts)"
                          + ("" if config.allows_debt(bucket_id) else
                             "; no debt anywhere on the path (bucket without allow_debt: every debt commitment "
                             "is the public commitment to zero)"))
            checks.append(f"bucket {bucket_id}: range proof: all {len(statement)} sibling and total equity and debt "
                          f"commitments on the path hold values in [0, 2^{RANGE_BITS})")
            checks.append(f"bucket {bucket_id}: collateral range proof: the collateral value (base haircuts, snapshot "
                          f"prices) of each of the {height} siblings, the {n_top} top-tree siblings and the snapshot "
                          f"total is in [0, 2^{COLLATERAL_BITS})")
        elif hiding:
            statement = [c for _, vec in path for c in vec] + [c for _, vec in top for c in vec] + list(top_sums)
            _verify_path_range_proof(e["range_proof"], statement, trusted, bucket_id, index,
                                     file=file, field=f"{f}.range_proof", where=where)
            checks.append(f"bucket {bucket_id}: range proof: all {len(statement)} sibling and total commitments "
                          f"on the path hold values in [0, 2^{RANGE_BITS})")

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
