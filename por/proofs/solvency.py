"""Zero-knowledge solvency per bucket and asset (hiding mode; SPEC.md §15.5).

For every client bucket ``b`` and asset ``a`` the snapshot publishes a Pedersen
commitment ``C[b,a] = L*G + r*H`` to the bucket's liabilities ``L``. Given the
public reserves ``R[b,a]``, the point ``D = R*G - C[b,a]`` commits to ``R - L``
with blinding ``-r``. One aggregated range proof that every ``D`` holds a value
in ``[0, 2^64)`` proves ``R >= L`` for every pair at once, without revealing any
``L`` (a negative ``R - L`` is ``N - (L - R)`` mod N, far outside the range).

``--reveal-totals`` publishes the openings ``(L, r)`` instead: anyone then checks
``C = L*G + r*H`` and ``L <= R`` directly.

Margin snapshots (format version 2, SPEC.md §17.16): each bucket publishes equity
commitments ``C_E`` and debt commitments ``C_D``; the liability of a pair is the
requirement ``max(E - D, 0)``, so ``D = R*G - C_E + C_D`` commits to ``R - E + D`` with
blinding ``r_D - r_E`` and a **128-bit** aggregated range proof shows ``R >= E - D`` for
every pair (``R - E + D`` can reach ``2^65``, so 64 bits would not always be provable;
a shortfall is ``N - x`` with ``x < 2^64``, far outside ``[0, 2^128)``). A bucket whose
debt exceeds its equity in an asset needs no reserves there. The document has version 2
and the transcript records the version first. ``--reveal-totals`` publishes the openings
of both commitments.

The reserves are a JSON object ``{bucket: {asset: amount}}`` with exact decimal
amounts in the asset's units (``"12.5"``), converted to integer minor units with
the snapshot's ledger decimals; a pair that is not listed has reserves 0. The
bucket ``proprietary`` is refused: proprietary funds never count as client reserves.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from por.core import encoding as enc
from por.crypto import rangeproof
from por.core.config import RESERVED_BUCKET_IDS, SnapshotConfig
from por.core.errors import BadInput, VerificationFailed
from por.core.fileio import read_json
from por.crypto.group import G, N, Point
from por.core.ledger import format_amount, parse_amount
from por.crypto.pedersen import commit
from por.snapshot.document import Snapshot, expect_keys, parse_hex32, parse_uint64
from por.crypto.transcript import Transcript

SOLVENCY_FORMAT = "por-solvency-proof"
PROTOCOL = "solvency"
RANGE_BITS = 64
MARGIN_RANGE_BITS = 128

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


def _bits(config: SnapshotConfig) -> int:
    return MARGIN_RANGE_BITS if config.margin is not None else RANGE_BITS


def _version(config: SnapshotConfig) -> int:
    return enc.MARGIN_FORMAT_VERSION if config.margin is not None else enc.FORMAT_VERSION


def solvency_transcript(root: bytes, config: SnapshotConfig, reserves: Mapping[Pair, int]) -> Transcript:
    """``Transcript("solvency")``, then the snapshot root and every (bucket, asset, reserves) of the statement.

    Margin snapshots (version 2) record ``append_u64("version", 2)`` first, right after the protocol label.
    """
    t = Transcript(PROTOCOL)
    if config.margin is not None:
        t.append_u64("version", enc.MARGIN_FORMAT_VERSION)
    t.append_message("snapshot-root", root)
    pairs = _pairs(config)
    t.append_u64("pairs", len(pairs))
    for b, a in pairs:
        t.append_message("pair", enc.lp(b) + enc.lp(a) + enc.u64(reserves[(b, a)]))
    return t


def surplus_commitments(snapshot: Snapshot, reserves: Mapping[Pair, int]) -> list[Point]:
    """``D[b,a] = R[b,a]*G - C[b,a]`` for every pair, in statement order (bucket-major, canonical order).

    Margin snapshots: ``D[b,a] = R[b,a]*G - C_E[b,a] + C_D[b,a]``.
    """
    out = []
    n = len(snapshot.config.symbols)
    margin = snapshot.config.margin is not None
    for bucket in snapshot.buckets:
        cs = bucket.commitments or ()
        for a, (symbol, c) in enumerate(zip(snapshot.config.symbols, cs)):
            d = reserves[(bucket.id, symbol)] * G - Point.from_bytes(c)
            if margin:
                d = d + Point.from_bytes(cs[n + a])
            if d.is_identity:
                raise VerificationFailed(f"bucket {bucket.id} {symbol}: the commitment equals R*G (blinding 0)",
                                         where="solvency")
            out.append(d)
    return out


# ---------------------------------------------------------------- proving (the exchange)


def prove_solvency(snapshot_dir: Path, reserves: Mapping[Pair, int], *, reveal_totals: bool = False) -> dict[str, Any]:
    """The solvency proof document of a hiding-mode snapshot directory against ``reserves``.

    One aggregated range proof shows every surplus ``reserves - liabilities`` (margin snapshots:
    ``reserves - equity + debt``, 128 bits) is non-negative, or, with ``reveal_totals``, the
    openings instead. Raises :class:`VerificationFailed` (naming the pairs) when some bucket's
    reserves are below its liabilities: no proof exists then.
    """
    from por.proofs.inclusion import Prover

    prover = Prover(snapshot_dir)
    try:
        snap = prover.snapshot
        if not snap.hiding:
            raise BadInput("this snapshot is public-mode: its totals are published, so `por reserves verify` "
                           "checks coverage directly", file=str(snapshot_dir))
        cfg = snap.config
        values, blinds, openings = _surplus_witness(prover, reserves)
        doc: dict[str, Any] = {
            "format": SOLVENCY_FORMAT,
            "version": _version(cfg),
            "snapshot": {"snapshot_id": cfg.snapshot_id, "root": snap.root.hex()},
            "reserves": reserves_doc(reserves, cfg),
        }
        if reveal_totals:
            doc["openings"] = {b: {s: openings[(b, s)] for s in cfg.symbols} for b in cfg.bucket_ids}
            return doc
        t = solvency_transcript(snap.root, cfg, reserves)
        width = 32 if cfg.margin is not None else 8  # the surplus in the witness-RNG input: u256 / u64
        witness = b"".join(v.to_bytes(width, "big") + r.to_bytes(32, "big") for v, r in zip(values, blinds))
        proof, commitments = rangeproof.prove(t, values, blinds, _bits(cfg),
                                              rng=t.witness_rng(prover.store.nonce_key(), witness))
        if commitments != surplus_commitments(snap, reserves):  # pragma: no cover - store damage
            raise BadInput("store is inconsistent with snapshot.json", file=str(snapshot_dir))
        doc["range_proof"] = proof.to_hex()
        return doc
    finally:
        prover.close()


def _surplus_witness(prover: Any, reserves: Mapping[Pair, int]) -> tuple[list[int], list[int], dict[Pair, dict]]:
    """Per (bucket, asset) in statement order: the surplus, the blinding of its commitment and the opening.

    Version 1: surplus ``R - L`` with blinding ``-r_L`` (``R*G - C_L``); margin: ``R - E + D`` with
    ``r_D - r_E`` (``R*G - C_E + C_D``). Raises VerificationFailed naming every short pair.
    """
    snap = prover.snapshot
    cfg = snap.config
    n = len(cfg.symbols)
    margin = cfg.margin is not None
    values, blinds, short, openings = [], [], [], {}
    for i, bucket in enumerate(snap.buckets):
        o = prover.bucket_root_opening(i)
        for a, symbol in enumerate(cfg.symbols):
            dec = cfg.assets[a].decimals
            reserve = reserves[(bucket.id, symbol)]
            if margin:
                equity, debt = o.values[a], o.values[n + a]
                need = equity - debt
                blinds.append((o.blinds[n + a] - o.blinds[a]) % N)
                openings[(bucket.id, symbol)] = {"equity": str(equity), "debt": str(debt),
                                                 "equity_blinding": o.blinds[a].to_bytes(32, "big").hex(),
                                                 "debt_blinding": o.blinds[n + a].to_bytes(32, "big").hex()}
                what = (f"requirement {format_amount(need, dec)} (equity {format_amount(equity, dec)} - debt "
                        f"{format_amount(debt, dec)})")
            else:
                need = o.values[a]
                blinds.append((-o.blinds[a]) % N)
                openings[(bucket.id, symbol)] = {"liabilities": str(need),
                                                 "blinding": o.blinds[a].to_bytes(32, "big").hex()}
                what = f"liabilities {format_amount(need, dec)}"
            if reserve < need:
                short.append(f"{bucket.id} {symbol}: reserves {format_amount(reserve, dec)} < {what}")
            values.append(reserve - need)
    if short:
        raise VerificationFailed("insolvent, no solvency proof exists: " + "; ".join(short), where="solvency")
    return values, blinds, openings


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
    revealed_equity: dict[Pair, int] | None = None  # margin, revealed totals: equity and debt per pair
    revealed_debt: dict[Pair, int] | None = None

    def to_dict(self) -> dict[str, Any]:
        dec = {a.symbol: a.decimals for a in self.config.assets}
        rows = []
        for b, a in _pairs(self.config):
            row = {"bucket": b, "asset": a, "reserves": format_amount(self.reserves[(b, a)], dec[a]), "covered": True}
            if self.revealed is not None:
                row["liabilities"] = format_amount(self.revealed[(b, a)], dec[a])
            if self.revealed_equity is not None and self.revealed_debt is not None:
                row["equity"] = format_amount(self.revealed_equity[(b, a)], dec[a])
                row["debt"] = format_amount(self.revealed_debt[(b, a)], dec[a])
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
    version = doc.get("version")
    if type(version) is not int or version not in (enc.FORMAT_VERSION, enc.MARGIN_FORMAT_VERSION):
        raise BadInput(f"unsupported version {version!r} (this por reads {enc.FORMAT_VERSION}, and "
                       f"{enc.MARGIN_FORMAT_VERSION} for margin snapshots)", file=file, field="version")
    if version != _version(snapshot.config):
        kind = "margin" if snapshot.config.margin is not None else "non-margin"
        raise BadInput(f"a version {version} solvency proof does not fit this snapshot (it takes version "
                       f"{_version(snapshot.config)}: {kind} snapshot)", file=file, field="version")
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
    if reveal and cfg.margin is not None:
        revealed, equity, debt = _check_margin_openings(doc["openings"], snapshot, claimed, file)
        checks.append("every bucket's equity and debt commitments open to the stated totals, and reserves >= "
                      "equity - debt (the requirement) for every bucket x asset")
        return SolvencyResult(cfg.snapshot_id, snapshot.root.hex(), claimed, cfg, revealed, checks, equity, debt)
    if reveal:
        revealed = _check_openings(doc["openings"], snapshot, claimed, file)
        checks.append("every bucket commitment opens to its liabilities, and reserves >= liabilities")
        return SolvencyResult(cfg.snapshot_id, snapshot.root.hex(), claimed, cfg, revealed, checks)
    statement = surplus_commitments(snapshot, claimed)
    bits = _bits(cfg)
    if not isinstance(doc["range_proof"], str):
        raise BadInput("must be a hex string", file=file, field="range_proof")
    try:
        proof = rangeproof.RangeProof.from_hex(doc["range_proof"], rounds=rangeproof.rounds_for(bits, len(statement)))
    except BadInput as exc:
        raise BadInput(exc.reason, file=file, field="range_proof") from None
    try:
        rangeproof.verify(solvency_transcript(snapshot.root, cfg, claimed), statement, proof, bits)
    except VerificationFailed as exc:
        raise VerificationFailed(f"{exc.reason}: some bucket's reserves may not cover its liabilities",
                                 where=f"{file}: range_proof") from None
    if cfg.margin is not None:
        checks.append(f"range proof: reserves - (equity - debt) is in [0, 2^{bits}) for all {len(statement)} "
                      "bucket x asset pairs, i.e. reserves cover every requirement max(equity - debt, 0) "
                      "(equity and debt not revealed)")
    else:
        checks.append(f"range proof: reserves - liabilities is in [0, 2^{bits}) for all {len(statement)} "
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


def _check_margin_openings(
    obj: Any, snapshot: Snapshot, reserves: Mapping[Pair, int], file: str,
) -> tuple[dict[Pair, int], dict[Pair, int], dict[Pair, int]]:
    """Margin, revealed totals: both commitments of every pair open, and reserves >= equity - debt.

    Returns (requirement, equity, debt) per pair.
    """
    cfg = snapshot.config
    n = len(cfg.symbols)
    expect_keys(obj, set(cfg.bucket_ids), file=file, field="openings")
    req: dict[Pair, int] = {}
    equity: dict[Pair, int] = {}
    debt: dict[Pair, int] = {}
    short = []
    for bucket in snapshot.buckets:
        expect_keys(obj[bucket.id], set(cfg.symbols), file=file, field=f"openings.{bucket.id}")
        cs = bucket.commitments or ()
        for a, symbol in enumerate(cfg.symbols):
            f = f"openings.{bucket.id}.{symbol}"
            o = expect_keys(obj[bucket.id][symbol], {"equity", "debt", "equity_blinding", "debt_blinding"},
                            file=file, field=f)
            e = parse_uint64(o["equity"], file=file, field=f"{f}.equity")
            d = parse_uint64(o["debt"], file=file, field=f"{f}.debt")
            for what, value, key, c in (("equity", e, "equity_blinding", cs[a]),
                                        ("debt", d, "debt_blinding", cs[n + a])):
                r = int.from_bytes(parse_hex32(o[key], file=file, field=f"{f}.{key}"), "big")
                if r >= N:
                    raise BadInput("blinding is not below the group order", file=file, field=f"{f}.{key}")
                opened = commit(value, r)
                if opened.is_identity or opened.to_bytes() != c:
                    raise VerificationFailed(f"bucket {bucket.id} {symbol}: the {what} opening does not match the "
                                             "published commitment", where=f"{file}: {f}")
            if reserves[(bucket.id, symbol)] < e - d:
                dec = cfg.assets[a].decimals
                short.append(f"{bucket.id} {symbol}: reserves {format_amount(reserves[(bucket.id, symbol)], dec)} < "
                             f"requirement {format_amount(e - d, dec)} (equity {format_amount(e, dec)} - debt "
                             f"{format_amount(d, dec)})")
            req[(bucket.id, symbol)] = max(e - d, 0)
            equity[(bucket.id, symbol)] = e
            debt[(bucket.id, symbol)] = d
    if short:
        raise VerificationFailed("insolvent: " + "; ".join(short), where=file)
    return req, equity, debt


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
