"""Zero-knowledge solvency per bucket and asset (hiding mode; SPEC.md §15.5).

For every client bucket ``b`` and asset ``a`` the snapshot publishes a Pedersen
commitment ``C[b,a] = L*G + r*H`` to the bucket's liabilities ``L``. Given the
public reserves ``R[b,a]``, the point ``D = R*G - C[b,a]`` commits to ``R - L``
with blinding ``-r``. One aggregated range proof that every ``D`` holds a value
in ``[0, 2^64)`` proves ``R >= L`` for every pair at once, without revealing any
``L`` (a negative ``R - L`` is ``N - (L - R)`` mod N, far outside the range).

``--reveal-totals`` publishes the openings ``(L, r)`` instead: anyone then checks
``C = L*G + r*H`` and ``L <= R`` directly.

The reserves are a JSON object ``{bucket: {asset: amount}}`` with exact decimal
amounts in the asset's units (``"12.5"``), converted to integer minor units with
the snapshot's ledger decimals; a pair that is not listed has reserves 0. The
bucket ``proprietary`` is refused: proprietary funds never count as client reserves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import encoding as enc
from . import rangeproof
from .config import RESERVED_BUCKET_IDS, SnapshotConfig
from .errors import BadInput, VerificationFailed
from .fileio import read_json
from .group import G, N, Point
from .ledger import format_amount, parse_amount
from .pedersen import commit
from .snapshot import Snapshot, expect_keys, parse_hex32, parse_uint64
from .transcript import Transcript

SOLVENCY_FORMAT = "por-solvency-proof"
PROTOCOL = "solvency"
RANGE_BITS = 64

Pair = tuple[str, str]
"""(bucket id, asset symbol)."""


# ---------------------------------------------------------------- reserves input


def parse_reserves(obj: Any, config: SnapshotConfig, *, file: str = "reserves") -> dict[Pair, int]:
    """``{bucket: {asset: "amount"}}`` -> minor units for every (bucket, asset) pair (0 when not listed)."""
    if not isinstance(obj, dict):
        raise BadInput("must be an object {bucket: {asset: amount}}", file=file, field="$")
    out = {(b, a): 0 for b in config.bucket_ids for a in config.symbols}
    for bucket, assets in obj.items():
        if bucket in RESERVED_BUCKET_IDS:
            raise BadInput(f"{bucket!r} funds are never client reserves; list client buckets only",
                           file=file, field=bucket)
        if bucket not in config.bucket_ids:
            raise BadInput(f"unknown bucket {bucket!r}", file=file, field=bucket)
        if not isinstance(assets, dict):
            raise BadInput("must be an object {asset: amount}", file=file, field=bucket)
        for asset, amount in assets.items():
            f = f"{bucket}.{asset}"
            idx = config.asset_index(asset)
            if idx is None:
                raise BadInput(f"unknown asset {asset!r}", file=file, field=f)
            if not isinstance(amount, str):
                raise BadInput("amount must be a decimal string (exact; no JSON numbers)", file=file, field=f)
            try:
                value = parse_amount(amount, config.assets[idx].decimals)
            except ValueError as exc:
                raise BadInput(str(exc), file=file, field=f) from None
            if not 0 <= value < enc.U64_LIMIT:
                raise BadInput("reserves must be in [0, 2^64) minor units", file=file, field=f)
            out[(bucket, asset)] = value
    return out


def load_reserves(path: Path, config: SnapshotConfig) -> dict[Pair, int]:
    """Read a reserves table file (see the module docstring)."""
    return parse_reserves(read_json(Path(path), "reserves"), config, file=str(path))


def reserves_doc(reserves: Mapping[Pair, int], config: SnapshotConfig) -> dict[str, dict[str, str]]:
    """The canonical JSON form of a reserves table: every bucket and asset, amounts in asset units."""
    dec = {a.symbol: a.decimals for a in config.assets}
    return {b: {a: format_amount(reserves[(b, a)], dec[a]) for a in config.symbols} for b in config.bucket_ids}


# ---------------------------------------------------------------- the statement


def _pairs(config: SnapshotConfig) -> list[Pair]:
    return [(b, a) for b in config.bucket_ids for a in config.symbols]


def solvency_transcript(root: bytes, config: SnapshotConfig, reserves: Mapping[Pair, int]) -> Transcript:
    """``Transcript("solvency")``, then the snapshot root and every (bucket, asset, reserves) of the statement."""
    t = Transcript(PROTOCOL)
    t.append_message("snapshot-root", root)
    pairs = _pairs(config)
    t.append_u64("pairs", len(pairs))
    for b, a in pairs:
        t.append_message("pair", enc.lp(b) + enc.lp(a) + enc.u64(reserves[(b, a)]))
    return t


def surplus_commitments(snapshot: Snapshot, reserves: Mapping[Pair, int]) -> list[Point]:
    """``D[b,a] = R[b,a]*G - C[b,a]`` for every pair, in statement order (bucket-major, canonical order)."""
    out = []
    for bucket in snapshot.buckets:
        for symbol, c in zip(snapshot.config.symbols, bucket.commitments or ()):
            d = reserves[(bucket.id, symbol)] * G - Point.from_bytes(c)
            if d.is_identity:
                raise VerificationFailed(f"bucket {bucket.id} {symbol}: the commitment equals R*G (blinding 0)",
                                         where="solvency")
            out.append(d)
    return out


# ---------------------------------------------------------------- proving (the exchange)


def prove_solvency(snapshot_dir: Path, reserves: Mapping[Pair, int], *, reveal_totals: bool = False) -> dict[str, Any]:
    """The solvency proof document of a hiding-mode snapshot directory against ``reserves``.

    Raises :class:`VerificationFailed` (naming the pairs) when some bucket's
    reserves are below its liabilities: no proof exists then.
    """
    from .proof import Prover

    prover = Prover(snapshot_dir)
    try:
        snap = prover.snapshot
        if not snap.hiding:
            raise BadInput("this snapshot is public-mode: its totals are published, so `por reserves verify` "
                           "checks coverage directly", file=str(snapshot_dir))
        cfg = snap.config
        values, blinds, short = [], [], []
        for i, bucket in enumerate(snap.buckets):
            opening = prover.bucket_root_opening(i)
            for a, symbol in enumerate(cfg.symbols):
                reserve, liab = reserves[(bucket.id, symbol)], opening.values[a]
                if reserve < liab:
                    dec = cfg.assets[a].decimals
                    short.append(f"{bucket.id} {symbol}: reserves {format_amount(reserve, dec)} < "
                                 f"liabilities {format_amount(liab, dec)}")
                values.append(reserve - liab)
                blinds.append(opening.blinds[a])
        if short:
            raise VerificationFailed("insolvent, no solvency proof exists: " + "; ".join(short), where="solvency")
        doc: dict[str, Any] = {
            "format": SOLVENCY_FORMAT,
            "version": enc.FORMAT_VERSION,
            "snapshot": {"snapshot_id": cfg.snapshot_id, "root": snap.root.hex()},
            "reserves": reserves_doc(reserves, cfg),
        }
        if reveal_totals:
            doc["openings"] = {
                b.id: {s: {"liabilities": str(reserves[(b.id, s)] - values[i * len(cfg.symbols) + a]),
                           "blinding": blinds[i * len(cfg.symbols) + a].to_bytes(32, "big").hex()}
                       for a, s in enumerate(cfg.symbols)}
                for i, b in enumerate(snap.buckets)
            }
            return doc
        neg_blinds = [(-r) % N for r in blinds]
        t = solvency_transcript(snap.root, cfg, reserves)
        witness = b"".join(enc.u64(v) + r.to_bytes(32, "big") for v, r in zip(values, neg_blinds))
        proof, commitments = rangeproof.prove(t, values, neg_blinds, RANGE_BITS,
                                              rng=t.witness_rng(prover.store.nonce_key(), witness))
        if commitments != surplus_commitments(snap, reserves):  # pragma: no cover - store damage
            raise BadInput("store is inconsistent with snapshot.json", file=str(snapshot_dir))
        doc["range_proof"] = proof.to_hex()
        return doc
    finally:
        prover.close()


# ---------------------------------------------------------------- verifying (anyone)


@dataclass
class SolvencyResult:
    """A verified solvency proof: which snapshot, which reserves, and how it was shown."""

    snapshot_id: str
    root: str
    reserves: dict[Pair, int]
    config: SnapshotConfig
    revealed: dict[Pair, int] | None = None
    checks: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        dec = {a.symbol: a.decimals for a in self.config.assets}
        rows = []
        for b, a in _pairs(self.config):
            row = {"bucket": b, "asset": a, "reserves": format_amount(self.reserves[(b, a)], dec[a]), "covered": True}
            if self.revealed is not None:
                row["liabilities"] = format_amount(self.revealed[(b, a)], dec[a])
            rows.append(row)
        return {"valid": True, "snapshot_id": self.snapshot_id, "root": self.root,
                "mode": "revealed totals" if self.revealed is not None else "zero-knowledge range proof",
                "coverage": rows, "checks": self.checks}


def verify_solvency(
    doc: Any, snapshot: Snapshot, *, reserves: Mapping[Pair, int] | None = None, file: str = "solvency proof"
) -> SolvencyResult:
    """Verify a solvency proof against the trusted hiding-mode ``snapshot``.

    With ``reserves`` (e.g. the holdings `por reserves verify` established on
    chain) the proof must be for exactly those amounts; without, the amounts
    stated in the proof are used and the result says so. Raises
    :class:`BadInput` when ``doc`` is not a solvency proof document, and
    :class:`VerificationFailed` naming what failed otherwise.
    """
    if not isinstance(doc, dict) or doc.get("format") != SOLVENCY_FORMAT:
        raise BadInput(f"not a solvency proof: format must be {SOLVENCY_FORMAT!r}", file=file, field="format")
    if doc.get("version") != enc.FORMAT_VERSION:
        raise BadInput(f"unsupported version {doc.get('version')!r} (this por reads {enc.FORMAT_VERSION})",
                       file=file, field="version")
    if not snapshot.hiding:
        raise BadInput("the snapshot is public-mode; use `por reserves verify` (totals are published)",
                       field="snapshot")
    try:
        return _verify(doc, snapshot, reserves, file)
    except BadInput as exc:
        raise VerificationFailed(f"malformed solvency proof: {exc.reason}",
                                 where=f"{file}: {exc.field}" if exc.field else file) from None


def _verify(doc: dict[str, Any], snapshot: Snapshot, trusted: Mapping[Pair, int] | None, file: str) -> SolvencyResult:
    reveal = "openings" in doc
    expect_keys(doc, {"format", "version", "snapshot", "reserves", "openings" if reveal else "range_proof"},
                file=file, field="$")
    cfg = snapshot.config
    sd = expect_keys(doc["snapshot"], {"snapshot_id", "root"}, file=file, field="snapshot")
    if sd["snapshot_id"] != cfg.snapshot_id:
        raise VerificationFailed(f"proof is for snapshot {sd['snapshot_id']!r}, not {cfg.snapshot_id!r}",
                                 where=f"{file}: snapshot.snapshot_id")
    if parse_hex32(sd["root"], file=file, field="snapshot.root") != snapshot.root:
        raise VerificationFailed("proof is for another snapshot root", where=f"{file}: snapshot.root")
    claimed = parse_reserves(doc["reserves"], cfg, file=file)
    if reserves_doc(claimed, cfg) != doc["reserves"]:
        raise BadInput("reserves must list every bucket and asset, amounts in canonical form", file=file,
                       field="reserves")
    checks = [f"snapshot {cfg.snapshot_id}, root {snapshot.root.hex()}"]
    if trusted is not None:
        diff = [f"{b} {a}" for b, a in _pairs(cfg) if trusted[(b, a)] != claimed[(b, a)]]
        if diff:
            raise VerificationFailed("the proof's reserves differ from the trusted reserves for " + ", ".join(diff),
                                     where=f"{file}: reserves")
        checks.append("reserves in the proof equal the trusted reserves")
    else:
        checks.append("reserves as stated in the proof (verify them on chain with `por reserves verify`)")
    if reveal:
        revealed = _check_openings(doc["openings"], snapshot, claimed, file)
        checks.append("every bucket commitment opens to its liabilities, and reserves >= liabilities")
        return SolvencyResult(cfg.snapshot_id, snapshot.root.hex(), claimed, cfg, revealed, checks)
    statement = surplus_commitments(snapshot, claimed)
    if not isinstance(doc["range_proof"], str):
        raise BadInput("must be a hex string", file=file, field="range_proof")
    try:
        proof = rangeproof.RangeProof.from_hex(doc["range_proof"], rounds=rangeproof.rounds_for(RANGE_BITS, len(statement)))
    except BadInput as exc:
        raise BadInput(exc.reason, file=file, field="range_proof") from None
    try:
        rangeproof.verify(solvency_transcript(snapshot.root, cfg, claimed), statement, proof, RANGE_BITS)
    except VerificationFailed as exc:
        raise VerificationFailed(f"{exc.reason}: some bucket's reserves may not cover its liabilities",
                                 where=f"{file}: range_proof") from None
    checks.append(f"range proof: reserves - liabilities is in [0, 2^{RANGE_BITS}) for all {len(statement)} "
                  "bucket x asset pairs (liabilities not revealed)")
    return SolvencyResult(cfg.snapshot_id, snapshot.root.hex(), claimed, cfg, None, checks)


def _check_openings(obj: Any, snapshot: Snapshot, reserves: Mapping[Pair, int], file: str) -> dict[Pair, int]:
    cfg = snapshot.config
    expect_keys(obj, set(cfg.bucket_ids), file=file, field="openings")
    out: dict[Pair, int] = {}
    short = []
    for bucket in snapshot.buckets:
        expect_keys(obj[bucket.id], set(cfg.symbols), file=file, field=f"openings.{bucket.id}")
        for a, (symbol, c) in enumerate(zip(cfg.symbols, bucket.commitments or ())):
            f = f"openings.{bucket.id}.{symbol}"
            o = expect_keys(obj[bucket.id][symbol], {"liabilities", "blinding"}, file=file, field=f)
            value = parse_uint64(o["liabilities"], file=file, field=f"{f}.liabilities")
            r = int.from_bytes(parse_hex32(o["blinding"], file=file, field=f"{f}.blinding"), "big")
            if r >= N:
                raise BadInput("blinding is not below the group order", file=file, field=f"{f}.blinding")
            opened = commit(value, r)
            if opened.is_identity or opened.to_bytes() != c:
                raise VerificationFailed(f"bucket {bucket.id} {symbol}: the opening does not match the published "
                                         "commitment", where=f"{file}: {f}")
            if reserves[(bucket.id, symbol)] < value:
                dec = cfg.assets[a].decimals
                short.append(f"{bucket.id} {symbol}: reserves {format_amount(reserves[(bucket.id, symbol)], dec)} < "
                             f"liabilities {format_amount(value, dec)}")
            out[(bucket.id, symbol)] = value
    if short:
        raise VerificationFailed("insolvent: " + "; ".join(short), where=file)
    return out


def load_solvency_proof(path: Path) -> Any:
    """Read a solvency proof JSON file (BadInput naming the file if unreadable)."""
    return read_json(Path(path), "solvency proof")


__all__ = [
    "SOLVENCY_FORMAT",
    "SolvencyResult",
    "load_reserves",
    "load_solvency_proof",
    "parse_reserves",
    "prove_solvency",
    "reserves_doc",
    "surplus_commitments",
    "verify_solvency",
]
