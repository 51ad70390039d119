"""Bitcoin amounts and UTXO snapshot files (SPEC.md §13).

:func:`load_utxo_snapshot` reads a ``por-utxo-snapshot`` file (a documented **trust point**: the
auditor must check it against their own node), :func:`snapshot_document` writes one, and
:func:`sats_to_ledger_units` converts satoshis to ledger units, rounding down.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from por.core.errors import BadInput
from por.core.fileio import loads_json, read_limited
from por.reserves.bitcoin_address import NETWORKS, parse_address

BITCOIN_DECIMALS = 8
MAX_MONEY = 21_000_000 * 10**BITCOIN_DECIMALS  # satoshis; no output (and no sum of the UTXO set) exceeds it


# ---------------------------------------------------------------------- amounts


def sats_to_ledger_units(sats: int, ledger_decimals: int) -> int:
    """``sats · 10^d // 10^8``: satoshis to ledger units of ``d`` decimals, rounded down, exact integers."""
    for name, v in (("sats", sats), ("ledger_decimals", ledger_decimals)):
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            raise BadInput(f"{name} must be a non-negative integer, got {v!r}")
    return sats * 10**ledger_decimals // 10**BITCOIN_DECIMALS


@dataclass(frozen=True)
class Utxo:
    txid: str  # 64 lowercase hex digits, the usual (byte-reversed) display order
    vout: int
    address: str  # as written in the file
    value_sats: int


@dataclass(frozen=True)
class UtxoSnapshot:
    """The UTXOs of some addresses at ``height`` / ``block_hash`` on ``network``.

    A **trust point**: nothing in this file proves that these outputs exist and are unspent at that
    block, nor that the list is complete; the auditor checks it against their own node (e.g.
    ``scantxoutset`` at that height, :class:`BitcoinCoreRpc`). ``source`` names the file (or the RPC).
    """

    network: str
    height: int
    block_hash: str
    utxos: tuple[Utxo, ...]
    source: str | None = None
    _balances: dict[str, int] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        sums: dict[str, int] = {}
        for u in self.utxos:
            key = parse_address(u.address, self.network).canonical
            sums[key] = sums.get(key, 0) + u.value_sats
        object.__setattr__(self, "_balances", sums)

    def balance(self, address: str) -> int:
        """Satoshis held by ``address`` in this snapshot (0 if it has no UTXO here). Bech32 addresses match
        case-insensitively. :class:`BadInput` if ``address`` is not an address of the snapshot's network."""
        return self._balances.get(parse_address(address, self.network).canonical, 0)

    def total(self) -> int:
        return sum(u.value_sats for u in self.utxos)

    def addresses(self) -> list[str]:
        """The canonical forms of the addresses with UTXOs here, sorted."""
        return sorted(self._balances)


SNAPSHOT_FORMAT = "por-utxo-snapshot"
SNAPSHOT_VERSION = 1
_HEX64_RE = re.compile(r"[0-9a-f]{64}")
_SATS_RE = re.compile(r"0|[1-9][0-9]{0,15}")
_TOP_KEYS = {"format", "version", "network", "height", "block_hash", "utxos"}
_UTXO_KEYS = {"txid", "vout", "address", "value_sats"}


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _exact_keys(obj: Any, keys: set[str], *, file: str, field: str | None) -> dict[str, Any]:
    what = f"{field}" if field else "the document"
    if not isinstance(obj, dict):
        raise BadInput(f"{what} must be a JSON object", file=file, field=field)
    missing = sorted(keys - obj.keys())
    if missing:
        raise BadInput(f"missing key(s): {', '.join(missing)}", file=file, field=field)
    extra = sorted(obj.keys() - keys)
    if extra:
        raise BadInput(f"unknown key(s): {', '.join(extra)}", file=file, field=field)
    return obj


def parse_utxo_snapshot(doc: Any, *, file: str = "<utxo snapshot>") -> UtxoSnapshot:
    """Validate a decoded ``por-utxo-snapshot`` document (see :func:`load_utxo_snapshot`)."""
    doc = _exact_keys(doc, _TOP_KEYS, file=file, field=None)
    if doc["format"] != SNAPSHOT_FORMAT:
        raise BadInput(f"must be {SNAPSHOT_FORMAT!r}", file=file, field="format")
    if not _is_int(doc["version"]) or doc["version"] != SNAPSHOT_VERSION:
        raise BadInput(f"unsupported version (this is version {SNAPSHOT_VERSION})", file=file, field="version")
    network = doc["network"]
    if not isinstance(network, str) or network not in NETWORKS:
        raise BadInput(f"must be one of {', '.join(NETWORKS)}", file=file, field="network")
    height = doc["height"]
    if not _is_int(height) or not 0 <= height < 2**31:
        raise BadInput("must be a JSON integer, 0 <= height < 2^31", file=file, field="height")
    block_hash = doc["block_hash"]
    if not isinstance(block_hash, str) or not _HEX64_RE.fullmatch(block_hash):
        raise BadInput("must be 64 lowercase hex digits", file=file, field="block_hash")
    raw_utxos = doc["utxos"]
    if not isinstance(raw_utxos, list):
        raise BadInput("must be a JSON array", file=file, field="utxos")

    utxos: list[Utxo] = []
    seen: dict[tuple[str, int], int] = {}
    total = 0
    for i, u in enumerate(raw_utxos):
        f = f"utxos[{i}]"
        u = _exact_keys(u, _UTXO_KEYS, file=file, field=f)
        txid = u["txid"]
        if not isinstance(txid, str) or not _HEX64_RE.fullmatch(txid):
            raise BadInput("must be 64 lowercase hex digits", file=file, field=f"{f}.txid")
        vout = u["vout"]
        if not _is_int(vout) or not 0 <= vout < 2**32:
            raise BadInput("must be a JSON integer, 0 <= vout < 2^32", file=file, field=f"{f}.vout")
        outpoint = (txid, vout)
        if outpoint in seen:
            raise BadInput(f"duplicate outpoint {txid}:{vout} (also utxos[{seen[outpoint]}])",
                           file=file, field=f"{f}")
        seen[outpoint] = i
        address = u["address"]
        try:
            parse_address(address, network)
        except BadInput as exc:
            raise BadInput(exc.reason, file=file, field=f"{f}.address") from None
        value = u["value_sats"]
        if not isinstance(value, str) or not _SATS_RE.fullmatch(value):
            raise BadInput("must be a decimal string of satoshis (digits only, no sign, no leading zeros)",
                           file=file, field=f"{f}.value_sats")
        sats = int(value)
        if sats > MAX_MONEY:
            raise BadInput(f"{sats} sat exceeds the 21 million BTC supply", file=file, field=f"{f}.value_sats")
        total += sats
        utxos.append(Utxo(txid, vout, address, sats))
    if total > MAX_MONEY:
        raise BadInput(f"the outputs add up to {total} sat, more than the 21 million BTC supply",
                       file=file, field="utxos")
    return UtxoSnapshot(network, height, block_hash, tuple(utxos), file)


def load_utxo_snapshot(path: str | Path, *, network: str | None = None, height: int | None = None,
                       regular: bool = True) -> UtxoSnapshot:
    """Read and strictly validate a UTXO snapshot file (UTF-8 JSON, no duplicate keys, no unknown keys).

    ``network`` / ``height``, when given, must match the file's (:class:`BadInput` otherwise). Every error
    is a :class:`BadInput` naming the file and the field (JSON syntax errors: line and column). The path
    (named by reserves.json) must be a regular file (``regular``): never a device or a pipe.
    """
    file = str(path)
    doc = loads_json(read_limited(Path(path), "UTXO snapshot", regular=regular), file=file, what="UTXO snapshot",
                     parse_constant=_reject_constant)
    snap = parse_utxo_snapshot(doc, file=file)
    if network is not None and snap.network != network:
        raise BadInput(f"the snapshot is for {snap.network}, the attestation for {network}", file=file,
                       field="network")
    if height is not None and snap.height != height:
        raise BadInput(f"the snapshot is at height {snap.height}, the attestation at {height}", file=file,
                       field="height")
    return snap


def snapshot_document(snapshot: UtxoSnapshot) -> dict[str, Any]:
    """The ``por-utxo-snapshot`` JSON document of ``snapshot`` (e.g. to save what a node reported)."""
    return {
        "format": SNAPSHOT_FORMAT, "version": SNAPSHOT_VERSION, "network": snapshot.network,
        "height": snapshot.height, "block_hash": snapshot.block_hash,
        "utxos": [{"txid": u.txid, "vout": u.vout, "address": u.address, "value_sats": str(u.value_sats)}
                  for u in snapshot.utxos],
    }


def balances_of(snapshot: UtxoSnapshot, addresses: Iterable[str]) -> Mapping[str, int]:
    """``{address: satoshis}`` for each of ``addresses`` (as given) in ``snapshot``."""
    return {a: snapshot.balance(a) for a in addresses}
