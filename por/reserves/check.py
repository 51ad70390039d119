"""`por reserves verify`: every attestation, every balance, segregation and coverage in one report.

Composes the chain verifiers (Ethereum at the attested block, Bitcoin from the UTXO snapshot) with
the segregation rules of :mod:`por.reserves.segregation`. Failures of single addresses are collected, so the
report shows everything that is wrong at once; an unreachable chain RPC raises ServiceUnavailable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from por.core.errors import BadInput, VerificationFailed
from por.reserves.segregation import Holding, SegregationReport, check_segregation, duplicate_entries
from por.snapshot import Snapshot
from por.reserves.attestation import ReservesFile


@dataclass
class ReservesReport:
    snapshot_id: str
    segregation: SegregationReport
    failures: list[str] = field(default_factory=list)
    verified: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures and self.segregation.ok

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "snapshot_id": self.snapshot_id, "failures": self.failures,
                "verified": self.verified, **{k: v for k, v in self.segregation.to_dict().items() if k != "ok"}}


def verify_bitcoin(reserves: ReservesFile, decimals: dict[str, int]) -> tuple[list[Holding], list[str], list[dict]]:
    """Bitcoin entries: ownership signature over the message, amounts from the UTXO snapshot file."""
    from por.reserves.bitcoin import load_utxo_snapshot, sats_to_ledger_units, verify_message

    entries = reserves.entries("bitcoin")
    if not entries:
        return [], [], []
    assert reserves.bitcoin is not None
    path = reserves.utxo_snapshot_path()
    if path is None:
        raise BadInput("bitcoin addresses need chains.bitcoin.utxo_snapshot (or a Bitcoin Core RPC)",
                       file=reserves.file, field="chains.bitcoin.utxo_snapshot")
    utxos = load_utxo_snapshot(path, network=reserves.bitcoin.network, height=reserves.bitcoin.height)
    holdings, failures, verified = [], [], []
    for e in entries:
        try:
            scheme = verify_message(e.address, reserves.message(e), e.signature, network=reserves.bitcoin.network)
        except VerificationFailed as exc:
            failures.append(f"{e.where}: {exc}")
            continue
        sats = utxos.balance(e.address)
        for claim in e.assets:
            if claim.asset not in decimals:
                failures.append(f"{e.where}: asset {claim.asset} is not in the snapshot")
                continue
            amount = sats_to_ledger_units(sats, decimals[claim.asset])
            holdings.append(Holding("bitcoin", e.address, e.bucket, claim.asset, amount, claim.source))
            verified.append({"chain": "bitcoin", "address": e.address, "bucket": e.bucket, "scheme": scheme,
                             "asset": claim.asset, "sats": str(sats), "amount": str(amount)})
    return holdings, failures, verified


def verify_reserves(snapshot: Snapshot, reserves: ReservesFile, *, rpc_url: str | None = None,
                    block: int | None = None, solvency: Any = None, solvency_file: str = "solvency proof",
                    rpc_timeout: float = 10.0) -> ReservesReport:
    """Verify every attestation of ``reserves`` and check segregation and coverage against ``snapshot``.

    The liabilities of a bucket and asset are its published total, or with margin accounts its
    requirement ``max(equity - debt, 0)`` (SPEC.md §17.5); the report then also carries the bucket's
    equity, debt and net. A hiding-mode snapshot publishes no liabilities: coverage is then shown by the
    zero-knowledge ``solvency`` proof document (SPEC.md §15.5), which must be for
    exactly the reserves verified here; without one, coverage is reported as not shown.
    """
    reserves.check_snapshot(snapshot.config.snapshot_id, snapshot.root)
    decimals = {a.symbol: a.decimals for a in snapshot.config.assets}
    failures: list[str] = [f"address listed twice: {d}" for d in duplicate_entries(
        [(e.chain, e.address) for e in reserves.addresses])]
    holdings: list[Holding] = []
    verified: list[dict[str, Any]] = []
    if reserves.entries("ethereum"):
        if rpc_url is None:
            raise BadInput("ethereum addresses need --rpc URL", field="rpc")
        from por.reserves.chain import RpcClient
        from por.reserves.ethereum import verify_ethereum

        eth = verify_ethereum(RpcClient(rpc_url, timeout=rpc_timeout), reserves, decimals, block=block)
        failures += [str(f) for f in eth.failures]
        holdings += eth.holdings()
        verified += [v.to_dict() for v in eth.verified]
    btc_h, btc_f, btc_v = verify_bitcoin(reserves, decimals)
    holdings += btc_h
    failures += btc_f
    verified += btc_v
    seg = check_segregation(snapshot, holdings, {} if snapshot.hiding else None)
    if snapshot.hiding:
        failures += _hidden_coverage(snapshot, seg, solvency, solvency_file)
    elif solvency is not None:
        raise BadInput("--solvency is for hiding-mode snapshots (this one publishes its totals)", field="solvency")
    return ReservesReport(snapshot.config.snapshot_id, seg, failures, verified)


def reserves_table(seg: SegregationReport) -> dict[tuple[str, str], int]:
    """The verified client reserves per (bucket, asset), as `por solvency prove --reserves` takes them."""
    return {(c.bucket, c.asset): c.reserves for c in seg.coverage}


def _hidden_coverage(snapshot: Snapshot, seg: SegregationReport, solvency: Any, file: str) -> list[str]:
    """Hiding mode: mark every pair covered when the solvency proof verifies for the verified reserves."""
    from por.proofs.solvency import verify_solvency

    if solvency is None:
        return ["coverage not shown: the snapshot hides its liabilities; give the exchange's solvency proof "
                "(--solvency, from `por solvency prove`)"]
    try:
        verify_solvency(solvency, snapshot, reserves=reserves_table(seg), file=file)
    except VerificationFailed as exc:
        return [f"solvency proof: {exc}"]
    for c in seg.coverage:
        c.proven = True
    return []
