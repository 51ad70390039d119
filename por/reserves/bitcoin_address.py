"""Bitcoin addresses (SPEC.md §13): networks, parsing and checksum-checking, and the address of a key.

:func:`parse_address` accepts P2PKH, P2SH, P2WPKH, P2WSH and P2TR addresses of mainnet, testnet,
signet and regtest; :func:`address_for` derives a key's P2PKH, P2SH-P2WPKH, P2WPKH or P2TR
(BIP-86 key path) address (for tests and the demo).
"""

from __future__ import annotations

from dataclasses import dataclass

from btclib.b32 import p2tr as _b32_p2tr
from btclib.b32 import p2wpkh as _b32_p2wpkh
from btclib.b58 import p2pkh as _b58_p2pkh
from btclib.b58 import p2wpkh_p2sh as _b58_p2wpkh_p2sh
from btclib.key import PrvKeyData, PubKeyData
from btclib.script.script_pub_key import ScriptPubKey, type_and_payload
from btclib.script.taproot import output_pubkey

from por.core.errors import BadInput

NETWORKS = ("mainnet", "testnet", "signet", "regtest")
ADDRESS_TYPES = ("p2pkh", "p2sh", "p2wpkh", "p2wsh", "p2tr")  # what parse_address accepts
SIGNING_ADDRESS_TYPES = ("p2pkh", "p2sh-p2wpkh", "p2wpkh", "p2tr")  # what address_for / the signers make

_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_BECH32_HRP_NETWORKS = {"bc": ("mainnet",), "tb": ("testnet", "signet"), "bcrt": ("regtest",)}
_BASE58_NETWORKS = {"mainnet": ("mainnet",), "testnet": ("testnet", "signet", "regtest")}


# ---------------------------------------------------------------------- addresses


@dataclass(frozen=True)
class BitcoinAddress:
    """A parsed Bitcoin address.

    ``canonical`` is the form used to compare addresses (bech32 lowercased; base58 as is);
    ``networks`` the networks whose address format it follows (testnet, signet and regtest share the
    base58 versions; testnet and signet share the ``tb`` bech32 prefix).
    """

    address: str
    canonical: str
    type: str  # one of ADDRESS_TYPES
    networks: tuple[str, ...]
    script_pubkey: bytes


def _check_network(network: str, *, field: str = "network") -> str:
    if network not in NETWORKS:
        raise BadInput(f"unknown Bitcoin network {network!r} (one of {', '.join(NETWORKS)})", field=field)
    return network


def parse_address(address: str, network: str | None = None) -> BitcoinAddress:
    """Parse and checksum-check a mainnet / testnet / signet / regtest address; :class:`BadInput` if it is
    not one (bad checksum, mixed-case bech32, unknown type, or not an address of ``network`` when given)."""
    if not isinstance(address, str):
        raise BadInput("a Bitcoin address must be a string")
    if network is not None:
        _check_network(network)
    if address != address.strip() or not address:
        raise BadInput(f"{address!r} is not a Bitcoin address (empty, or surrounding whitespace)")
    try:
        spk = ScriptPubKey.from_address(address)
        script = bytes(spk.script)
        script_type, _ = type_and_payload(script)
    except Exception as exc:  # btclib raises a family of ValueErrors / TypeErrors for malformed text
        raise BadInput(f"{address!r} is not a valid Bitcoin address: {exc}") from None
    if script_type not in ADDRESS_TYPES:
        raise BadInput(f"{address!r}: unsupported address type {script_type!r}")
    lower = address.lower()
    hrp = lower.rsplit("1", 1)[0] if "1" in lower else ""
    if hrp in _BECH32_HRP_NETWORKS and script_type in ("p2wpkh", "p2wsh", "p2tr"):
        networks = _BECH32_HRP_NETWORKS[hrp]
        canonical = lower
    else:
        nets = _BASE58_NETWORKS.get(str(spk.network))
        if nets is None:
            raise BadInput(f"{address!r} is an address of network {spk.network!r}, not a Bitcoin network")
        networks = nets
        canonical = address
    if network is not None and network not in networks:
        raise BadInput(f"{address!r} is a {'/'.join(networks)} address, not a {network} address")
    return BitcoinAddress(address, canonical, script_type, networks, script)


# ---------------------------------------------------------------------- keys and their addresses (tests, demo)


def _prv_key(privkey_bytes: bytes, *, compressed: bool = True, network: str = "mainnet") -> PrvKeyData:
    if not isinstance(privkey_bytes, (bytes, bytearray)) or len(privkey_bytes) != 32:
        raise BadInput("a Bitcoin private key is 32 bytes")
    q = int.from_bytes(privkey_bytes, "big")
    if not 0 < q < _SECP256K1_N:
        raise BadInput("the private key is not in 1..n-1 (secp256k1)")
    return PrvKeyData(q, network, compressed)


def address_for(privkey_bytes: bytes, address_type: str, network: str = "mainnet", *,
                compressed: bool = True) -> str:
    """The address of ``address_type`` (one of :data:`SIGNING_ADDRESS_TYPES`) on ``network`` for a key.

    ``p2tr`` is the BIP-86 style key-path-only output (internal key tweaked with no script tree);
    ``compressed=False`` is only meaningful for ``p2pkh``.
    """
    _check_network(network)
    if address_type not in SIGNING_ADDRESS_TYPES:
        raise BadInput(f"address type must be one of {', '.join(SIGNING_ADDRESS_TYPES)}, got {address_type!r}")
    if not compressed and address_type != "p2pkh":
        raise BadInput(f"{address_type} addresses use compressed keys only")
    # signet shares testnet's address formats; btclib knows it as a network of its own
    pub: PubKeyData = _prv_key(privkey_bytes, compressed=compressed, network=network).pub
    if address_type == "p2pkh":
        return _b58_p2pkh(pub)
    if address_type == "p2sh-p2wpkh":
        return _b58_p2wpkh_p2sh(pub)
    if address_type == "p2wpkh":
        return _b32_p2wpkh(pub)
    return _b32_p2tr(output_pubkey(pub)[0], network)
