"""Bitcoin reserves: ownership signatures over the attestation message, and amounts (SPEC.md §13).

Ownership (:func:`verify_message`) -- the signature is base64 text over the UTF-8 bytes of the ownership
message (:func:`por.reserves.attestation.ownership_message`), exactly as given (no normalisation):

* **legacy** -- Bitcoin Core ``signmessage`` (BIP-137 compact recoverable ECDSA, 65 bytes): header byte
  27-34 for a P2PKH address; for P2WPKH / P2SH-P2WPKH also the BIP-137 (Trezor) headers 39-42 / 35-38 and
  Electrum's use of the compressed-P2PKH headers 31-34;
* **bip322-simple** -- BIP-322 "simple" signatures (witness stack, ``smp`` prefix optional) for native
  segwit addresses: P2WPKH, P2TR (key path, and script path), P2WSH (multisig etc.).

The cryptography and the BIP-322 virtual transactions (``to_spend`` / ``to_sign``, sighashes, the script
interpreter with BIP-322's required and upgradeable rules) are those of ``btclib`` / ``btclib-wallet``
(btclib-org); :mod:`por.reserves.bitcoin_message` decodes, dispatches, and turns every refusal into a
:class:`~por.core.errors.VerificationFailed` with a precise reason.

Amounts -- :func:`load_utxo_snapshot` reads a UTXO snapshot file (a documented **trust point**: the
auditor must check it against their own node), :class:`BitcoinCoreRpc` reads the UTXO set of a Bitcoin
Core node at its current tip (``scantxoutset``). :func:`sats_to_ledger_units` converts satoshis to ledger
units, rounding down.

The code lives in four modules, whose public names this module re-exports:

* :mod:`por.reserves.bitcoin_address` -- networks, :func:`parse_address`, :func:`address_for`;
* :mod:`por.reserves.bitcoin_message` -- :func:`verify_message` and the signers;
* :mod:`por.reserves.bitcoin_utxo` -- amounts and UTXO snapshot files;
* :mod:`por.reserves.bitcoin_rpc` -- :class:`BitcoinCoreRpc` (``scantxoutset``).
"""

from __future__ import annotations

from por.reserves.bitcoin_address import (
    ADDRESS_TYPES,
    NETWORKS,
    SIGNING_ADDRESS_TYPES,
    BitcoinAddress,
    address_for,
    parse_address,
)
from por.reserves.bitcoin_message import (
    BIP322_PREFIXES,
    SCHEME_BIP322_SIMPLE,
    SCHEME_LEGACY,
    sign_message_bip322,
    sign_message_legacy,
    verify_message,
)
from por.reserves.bitcoin_rpc import BitcoinCoreRpc, ScanResult
from por.reserves.bitcoin_utxo import (
    BITCOIN_DECIMALS,
    MAX_MONEY,
    SNAPSHOT_FORMAT,
    SNAPSHOT_VERSION,
    Utxo,
    UtxoSnapshot,
    balances_of,
    load_utxo_snapshot,
    parse_utxo_snapshot,
    sats_to_ledger_units,
    snapshot_document,
)

__all__ = [
    "ADDRESS_TYPES", "BIP322_PREFIXES", "BITCOIN_DECIMALS", "MAX_MONEY", "NETWORKS", "SIGNING_ADDRESS_TYPES",
    "BitcoinAddress", "BitcoinCoreRpc", "ScanResult", "Utxo", "UtxoSnapshot", "address_for", "load_utxo_snapshot",
    "balances_of", "parse_address", "parse_utxo_snapshot", "sats_to_ledger_units", "sign_message_bip322",
    "sign_message_legacy", "snapshot_document", "verify_message",
    "SCHEME_BIP322_SIMPLE", "SCHEME_LEGACY", "SNAPSHOT_FORMAT", "SNAPSHOT_VERSION",
]
