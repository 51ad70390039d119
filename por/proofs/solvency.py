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
from por.core.jsondoc import expect_keys, parse_hex32
from por.modes.values import LAYOUTS, values_for
from por.snapshot.document import Snapshot
from por.crypto.transcript import Transcript

SOLVENCY_FORMAT = "por-solvency-proof"
PROTOCOL = "solvency"

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
    """``Transcript("solvency")``, then the snapshot root and every (bucket, asset, reserves) of the statement.

    Documents after version 1 record ``append_u64("version", v)`` first, right after the protocol label.
    """
    t = Transcript(PROTOCOL)
    version = values_for(config).version
    if version != 1:
        t.append_u64("version", version)
    t.append_message("snapshot-root", root)
    pairs = _pairs(config)
    t.append_u64("pairs", len(pairs))
    for b, a in pairs:
        t.append_message("pair", enc.lp(b) + enc.lp(a) + enc.u64(reserves[(b, a)]))
    return t


def surplus_commitments(snapshot: Snapshot, reserves: Mapping[Pair, int]) -> list[Point]:
    """``D[b,a] = R[b,a]*G - C_L[b,a]`` for every pair, in statement order (bucket-major, canonical order).

    ``C_L`` is the commitment to the pair's liability (:meth:`por.modes.values.Values.liability_commitment`).
    """
    values = snapshot.scheme.values
    out = []
    for bucket in snapshot.buckets:
        cs = bucket.commitments or ()
        for a, symbol in enumerate(snapshot.config.symbols):
            d = reserves[(bucket.id, symbol)] * G - values.liability_commitment(cs, a)
            if d.is_identity:
                raise VerificationFailed(f"bucket {bucket.id} {symbol}: the commitment equals R*G (blinding 0)",
                                         where="solvency")
            out.append(d)
    return out


# ---------------------------------------------------------------- proving (the exchange)


def prove_solvency(snapshot_dir: Path, reserves: Mapping[Pair, int], *, reveal_totals: bool = False) -> dict[str, Any]:
    """The solvency proof document of a hiding-mode snapshot directory against ``reserves``.

    One aggregated range proof shows every surplus ``reserves - liabilities`` is non-negative (in the
    value layout's :attr:`~por.modes.values.Values.surplus_bits`), or, with ``reveal_totals``, the
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
        values = snap.scheme.values
        surpluses, blinds, openings = _surplus_witness(prover, reserves)
        doc: dict[str, Any] = {
            "format": SOLVENCY_FORMAT,
            "version": values.version,
            "snapshot": {"snapshot_id": cfg.snapshot_id, "root": snap.root.hex()},
            "reserves": reserves_doc(reserves, cfg),
        }
        if reveal_totals:
            doc["openings"] = {b: {s: openings[(b, s)] for s in cfg.symbols} for b in cfg.bucket_ids}
            return doc
        t = solvency_transcript(snap.root, cfg, reserves)
        width = 8 if values.surplus_bits == 64 else 32  # the surplus in the witness-RNG input: u64 / u256
        witness = b"".join(v.to_bytes(width, "big") + r.to_bytes(32, "big") for v, r in zip(surpluses, blinds))
        proof, commitments = rangeproof.prove(t, surpluses, blinds, values.surplus_bits,
                                              rng=t.witness_rng(prover.store.nonce_key(), witness))
        if commitments != surplus_commitments(snap, reserves):  # pragma: no cover - store damage
            raise BadInput("store is inconsistent with snapshot.json", file=str(snapshot_dir))
        doc["range_proof"] = proof.to_hex()
        return doc
    finally:
        prover.close()


def _surplus_witness(prover: Any, reserves: Mapping[Pair, int]) -> tuple[list[int], list[int], dict[Pair, dict]]:
    """Per (bucket, asset) in statement order: the surplus, the blinding of its commitment and the opening.

    The surplus is ``R - L`` with blinding ``-r_L`` (``R*G - C_L``), ``L`` the pair's liability
    (:meth:`por.modes.values.Values.liability_opening`). Raises VerificationFailed naming every short pair.
    """
    snap = prover.snapshot
    cfg = snap.config
    mode = snap.scheme
    surpluses, blinds, short, openings = [], [], [], {}
    for i, bucket in enumerate(snap.buckets):
        o = mode.root_opening(prover, i)
        for a, symbol in enumerate(cfg.symbols):
            dec = cfg.assets[a].decimals
            reserve = reserves[(bucket.id, symbol)]
            need, r_need, openings[(bucket.id, symbol)], what = mode.values.liability_opening(o.values, o.blinds, a,
                                                                                              dec)
            blinds.append((-r_need) % N)
            if reserve < need:
                short.append(f"{bucket.id} {symbol}: reserves {format_amount(reserve, dec)} < {what}")
            surpluses.append(reserve - need)
    if short:
        raise VerificationFailed("insolvent, no solvency proof exists: " + "; ".join(short), where="solvency")
    return surpluses, blinds, openings


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
    revealed_equity: dict[Pair, int] | None = None  # revealed totals with debts: equity and debt per pair
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
    if type(version) is not int or version not in LAYOUTS:
        raise BadInput(f"unsupported version {version!r} (this por reads 1, and 2 for margin snapshots)",
                       file=file, field="version")
    expected = snapshot.scheme.values.version
    if version != expected:
        kind = "margin" if expected == 2 else "non-margin"
        raise BadInput(f"a version {version} solvency proof does not fit this snapshot (it takes version "
                       f"{expected}: {kind} snapshot)", file=file, field="version")
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
    values = snapshot.scheme.values
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
        figures = _check_openings(doc["openings"], snapshot, claimed, file)
        checks.append(values.solvency_check(len(figures), revealed=True))
        column = lambda name: {p: f[name] for p, f in figures.items()} if all(  # noqa: E731
            name in f for f in figures.values()) else None
        revealed = {p: max(f["liabilities"], 0) for p, f in figures.items()}
        return SolvencyResult(cfg.snapshot_id, snapshot.root.hex(), claimed, cfg, revealed, checks,
                              column("equity"), column("debt"))
    statement = surplus_commitments(snapshot, claimed)
    bits = values.surplus_bits
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
    checks.append(values.solvency_check(len(statement), revealed=False))
    return SolvencyResult(cfg.snapshot_id, snapshot.root.hex(), claimed, cfg, None, checks)


def _check_openings(obj: Any, snapshot: Snapshot, reserves: Mapping[Pair, int], file: str
                    ) -> dict[Pair, dict[str, int]]:
    """Revealed totals: every pair's commitments open, and reserves >= its liability. The figures per pair."""
    cfg = snapshot.config
    values = snapshot.scheme.values
    expect_keys(obj, set(cfg.bucket_ids), file=file, field="openings")
    out: dict[Pair, dict[str, int]] = {}
    short = []
    for bucket in snapshot.buckets:
        expect_keys(obj[bucket.id], set(cfg.symbols), file=file, field=f"openings.{bucket.id}")
        for a, symbol in enumerate(cfg.symbols):
            figures = values.open_liability(obj[bucket.id][symbol], bucket.commitments or (), a,
                                            f"bucket {bucket.id} {symbol}", file=file,
                                            field=f"openings.{bucket.id}.{symbol}")
            need, reserve, dec = figures["liabilities"], reserves[(bucket.id, symbol)], cfg.assets[a].decimals
            if reserve < need:
                short.append(f"{bucket.id} {symbol}: reserves {format_amount(reserve, dec)} < "
                             f"{values.liability_text(figures, dec)}")
            out[(bucket.id, symbol)] = figures
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
