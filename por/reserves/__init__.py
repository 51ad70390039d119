"""On-chain reserves: the attestation model (reserves.json, ownership message) and chain verifiers.

* :mod:`por.reserves.attestation` -- ``ownership_message``, ``load_reserves`` / ``parse_reserves``;
* :mod:`por.reserves.ethereum` -- signatures (EIP-191 / EIP-1271) and balances at the snapshot block,
  Chainlink Proof-of-Reserve feeds.

Specification: SPEC.md §12.
"""

from por.reserves.attestation import (
    CHAINS,
    PROPRIETARY,
    AddressEntry,
    AssetClaim,
    BitcoinChain,
    EthereumChain,
    ReservesFile,
    load_reserves,
    ownership_message,
    parse_reserves,
)

__all__ = [
    "CHAINS", "PROPRIETARY", "AddressEntry", "AssetClaim", "BitcoinChain", "EthereumChain", "ReservesFile",
    "load_reserves", "ownership_message", "parse_reserves",
]
