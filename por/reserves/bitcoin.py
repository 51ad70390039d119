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
(btclib-org); this module decodes, dispatches, and turns every refusal into a
:class:`~por.core.errors.VerificationFailed` with a precise reason.

Amounts -- :func:`load_utxo_snapshot` reads a UTXO snapshot file (a documented **trust point**: the
auditor must check it against their own node), :class:`BitcoinCoreRpc` reads the UTXO set of a Bitcoin
Core node at its current tip (``scantxoutset``). :func:`sats_to_ledger_units` converts satoshis to ledger
units, rounding down.
"""

from __future__ import annotations

import base64
import binascii
import http.client
import ipaddress
import itertools
import json
import re
import socket
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from btclib.b32 import p2tr as _b32_p2tr
from btclib.b32 import p2wpkh as _b32_p2wpkh
from btclib.b58 import p2pkh as _b58_p2pkh
from btclib.b58 import p2wpkh_p2sh as _b58_p2wpkh_p2sh
from btclib.ecc import bms
from btclib.exceptions import BTClibRuntimeError, InconclusiveError
from btclib.key import PrvKeyData, PubKeyData
from btclib.script.script_pub_key import ScriptPubKey, type_and_payload
from btclib.script.taproot import output_pubkey
from btclib.script.witness import Witness
from btclib_wallet import bip322
from ecc.exceptions import EccRuntimeError

from por.core.errors import BadInput, ServiceUnavailable, VerificationFailed

__all__ = [
    "ADDRESS_TYPES", "BIP322_PREFIXES", "BITCOIN_DECIMALS", "MAX_MONEY", "NETWORKS", "SIGNING_ADDRESS_TYPES",
    "BitcoinAddress", "BitcoinCoreRpc", "ScanResult", "Utxo", "UtxoSnapshot", "address_for", "load_utxo_snapshot",
    "balances_of", "parse_address", "parse_utxo_snapshot", "sats_to_ledger_units", "sign_message_bip322",
    "sign_message_legacy", "snapshot_document", "verify_message",
]

NETWORKS = ("mainnet", "testnet", "signet", "regtest")
BITCOIN_DECIMALS = 8
MAX_MONEY = 21_000_000 * 10**BITCOIN_DECIMALS  # satoshis; no output (and no sum of the UTXO set) exceeds it
ADDRESS_TYPES = ("p2pkh", "p2sh", "p2wpkh", "p2wsh", "p2tr")  # what parse_address accepts
SIGNING_ADDRESS_TYPES = ("p2pkh", "p2sh-p2wpkh", "p2wpkh", "p2tr")  # what address_for / the signers make
BIP322_PREFIXES = {"smp": "simple", "ful": "full", "pof": "proof-of-funds"}

SCHEME_LEGACY = "legacy"
SCHEME_BIP322_SIMPLE = "bip322-simple"

_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_LEGACY_SIG_LEN = 65
# the errors btclib / ecc raise for input that does not verify (btclib_wallet.bip322 catches the same set)
_LIB_INVALID: tuple[type[Exception], ...] = (ValueError, BTClibRuntimeError, EccRuntimeError)
_ASCII_WS = " \t\n\r\x0b\x0c"
_BECH32_HRP_NETWORKS = {"bc": ("mainnet",), "tb": ("testnet", "signet"), "bcrt": ("regtest",)}
_BASE58_NETWORKS = {"mainnet": ("mainnet",), "testnet": ("testnet", "signet", "regtest")}
_TYPE_LABEL = {"p2pkh": "P2PKH", "p2sh": "P2SH", "p2wpkh": "P2WPKH", "p2wsh": "P2WSH", "p2tr": "P2TR"}


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


# ---------------------------------------------------------------------- verification


def _message_bytes(message: str) -> bytes:
    if not isinstance(message, str):
        raise TypeError("the message must be a str (it is signed as its UTF-8 bytes)")
    try:
        return message.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise BadInput(f"the message is not encodable as UTF-8: {exc}") from None


def _strict_b64decode(text: str) -> bytes | None:
    """Canonical standard base64 (RFC 4648 §4, padded, no whitespace inside), else None."""
    try:
        raw = binascii.a2b_base64(text.encode("ascii"), strict_mode=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        return None
    if base64.b64encode(raw).decode("ascii") != text:  # non-zero padding bits: not the canonical encoding
        return None
    return raw


def verify_message(address: str, message: str, signature_b64: str, *, network: str | None = None) -> str:
    """Verify that ``signature_b64`` is a signature of ``message`` (its UTF-8 bytes) by ``address``.

    Returns the scheme that verified: ``"legacy"`` (Bitcoin Core signmessage / BIP-137) or
    ``"bip322-simple"`` (BIP-322 simple). Raises :class:`VerificationFailed` with the reason otherwise
    (invalid address, address of another ``network``, malformed signature, scheme not applicable to the
    address type, BIP-322 full / proof-of-funds form, or a signature that does not verify).
    """
    msg = _message_bytes(message)
    if network is not None:
        _check_network(network)  # a caller's mistake (BadInput), not a failed signature
    where = f"bitcoin address {address}"
    try:
        addr = parse_address(address, network)
    except BadInput as exc:
        raise VerificationFailed(exc.reason, where=where) from None
    label = _TYPE_LABEL[addr.type]
    if not isinstance(signature_b64, str):
        raise VerificationFailed("the signature must be base64 text", where=where)
    text = signature_b64.strip(_ASCII_WS)
    if not text:
        raise VerificationFailed("the signature is empty", where=where)

    prefix = text[:3]
    if prefix in ("ful", "pof"):
        raise VerificationFailed(
            f"BIP-322 {BIP322_PREFIXES[prefix]} signatures ({prefix!r} prefix) are not accepted: use a BIP-322 "
            f"simple signature ('smp') or, for P2PKH / P2WPKH / P2SH-P2WPKH, a legacy signmessage signature",
            where=where)
    explicit_simple = prefix == "smp"
    body = text[3:] if explicit_simple else text
    raw = _strict_b64decode(body)
    if raw is None:
        raise VerificationFailed("the signature is not valid base64 (standard alphabet, padded)", where=where)

    if len(raw) == _LEGACY_SIG_LEN and not explicit_simple:
        _verify_legacy(addr, label, msg, raw, where)
        return SCHEME_LEGACY
    _verify_bip322_simple(addr, label, msg, raw, where)
    return SCHEME_BIP322_SIMPLE


def _verify_legacy(addr: BitcoinAddress, label: str, msg: bytes, raw: bytes, where: str) -> None:
    header = raw[0]
    if not 27 <= header <= 42:
        raise VerificationFailed(f"legacy signature header byte {header} is outside 27-42", where=where)
    if addr.type == "p2pkh":
        allowed, names = range(27, 35), "27-34"
    elif addr.type == "p2wpkh":
        allowed, names = [*range(31, 35), *range(39, 43)], "31-34 or 39-42"
    elif addr.type == "p2sh":
        allowed, names = range(31, 39), "31-38, as P2SH-P2WPKH"
    else:
        raise VerificationFailed(
            f"a legacy signmessage signature cannot prove a {label} address (only P2PKH, P2WPKH and "
            "P2SH-P2WPKH); use a BIP-322 simple signature", where=where)
    if header not in allowed:
        raise VerificationFailed(
            f"legacy signature header byte {header} does not fit a {label} address (expected {names})",
            where=where)
    try:
        sig = bms.Sig.parse(raw)
        bms.assert_as_valid(msg, addr.address, sig)
    except _LIB_INVALID as exc:
        detail = "" if str(exc).startswith("invalid p2") else f" [{exc}]"  # btclib's "invalid p2pkh address: ..."
        raise VerificationFailed(
            f"legacy signature does not verify: the key it recovers for this message is not the key of the "
            f"{label} address (wrong message, wrong key or altered signature){detail}", where=where) from None


def _verify_bip322_simple(addr: BitcoinAddress, label: str, msg: bytes, raw: bytes, where: str) -> None:
    if addr.type not in ("p2wpkh", "p2wsh", "p2tr"):
        hint = ("a legacy signmessage signature" if addr.type == "p2pkh"
                else "a legacy signmessage signature if it is P2SH-P2WPKH (BIP-322 full signatures are not accepted)")
        raise VerificationFailed(
            f"a BIP-322 simple signature needs a native segwit address (P2WPKH, P2WSH, P2TR), not {label}; "
            f"use {hint}", where=where)
    try:
        witness = Witness.parse(raw)
    except Exception as exc:  # malformed compact sizes, truncation, trailing bytes
        raise VerificationFailed(
            f"the signature is neither a 65-byte legacy signature nor a BIP-322 simple witness stack "
            f"({len(raw)} bytes: {exc})", where=where) from None
    if not witness.stack:
        raise VerificationFailed("the BIP-322 witness stack is empty", where=where)
    try:
        bip322.assert_as_valid(msg, addr.address, bip322.Sig(witness), legacy=False)
    except InconclusiveError as exc:
        raise VerificationFailed(
            f"BIP-322 signature is inconclusive (uses an upgradeable rule), not valid: {exc}", where=where) from None
    except _LIB_INVALID as exc:
        raise VerificationFailed(
            f"BIP-322 simple signature does not satisfy the {label} address's script for this message "
            f"(wrong message, wrong key or altered signature) [{exc}]", where=where) from None


# ---------------------------------------------------------------------- keys, addresses, signing (tests, demo)


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


def sign_message_legacy(privkey_bytes: bytes, message: str, compressed: bool = True, *,
                        address: str | None = None) -> str:
    """Bitcoin Core ``signmessage``: base64 of the 65-byte compact signature (header 27-34, RFC 6979).

    With ``address`` (a P2SH-P2WPKH or P2WPKH address of this key) the BIP-137 header for that address
    type is used instead (35-38 / 39-42).
    """
    network = "mainnet"
    if address is not None:
        network = parse_address(address).networks[0]  # btclib renders the key's address on the key's network
    key = _prv_key(privkey_bytes, compressed=compressed, network=network)
    try:
        return bms.sign(_message_bytes(message), key, address).b64encode()
    except _LIB_INVALID as exc:
        raise BadInput(f"cannot sign for {address!r} with this key: {exc}") from None


def sign_message_bip322(privkey_bytes: bytes, address_type: str, message: str, *, prefix: bool = True) -> str:
    """BIP-322 simple signature of ``message`` for this key's ``p2wpkh`` or ``p2tr`` (key path) address.

    The signature does not depend on the network (the scriptPubKey is the same). ``prefix`` writes the
    ``smp`` variant prefix BIP-322 (1.0.0) asks signers for; ``prefix=False`` gives the bare base64 of
    older implementations (both verify).
    """
    if address_type not in ("p2wpkh", "p2tr"):
        raise BadInput(f"BIP-322 simple signing here is for p2wpkh and p2tr, got {address_type!r}")
    key = _prv_key(privkey_bytes)
    address = address_for(privkey_bytes, address_type, "mainnet")
    sig = bip322.sign(_message_bytes(message), key, address)
    if not isinstance(sig.payload, Witness):  # pragma: no cover - btclib signs native segwit as simple
        raise AssertionError("btclib did not produce a simple (witness) signature")
    body = base64.b64encode(sig.payload.serialize()).decode("ascii")
    return "smp" + body if prefix else body


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


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise _DuplicateKey(k)
        out[k] = v
    return out


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


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


def load_utxo_snapshot(path: str | Path, *, network: str | None = None, height: int | None = None) -> UtxoSnapshot:
    """Read and strictly validate a UTXO snapshot file (UTF-8 JSON, no duplicate keys, no unknown keys).

    ``network`` / ``height``, when given, must match the file's (:class:`BadInput` otherwise). Every error
    is a :class:`BadInput` naming the file and the field (JSON syntax errors: line and column).
    """
    file = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise BadInput(f"cannot read the UTXO snapshot: {exc.strerror or exc}", file=file) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadInput(f"not UTF-8 (byte {exc.start})", file=file) from None
    try:
        doc = json.loads(text, object_pairs_hook=_reject_duplicates, parse_constant=_reject_constant)
    except _DuplicateKey as exc:
        raise BadInput(f"duplicate key {exc.key!r}", file=file) from None
    except json.JSONDecodeError as exc:
        raise BadInput(f"not valid JSON: {exc.msg}", file=file, line=exc.lineno, column=exc.colno) from None
    except ValueError as exc:
        raise BadInput(f"not valid JSON: {exc}", file=file) from None
    snap = parse_utxo_snapshot(doc, file=file)
    if network is not None and snap.network != network:
        raise BadInput(f"the snapshot is for {snap.network}, the attestation for {network}", file=file,
                       field="network")
    if height is not None and snap.height != height:
        raise BadInput(f"the snapshot is at height {snap.height}, the attestation at {height}", file=file,
                       field="height")
    return snap


# ---------------------------------------------------------------------- Bitcoin Core RPC (optional)


@dataclass(frozen=True)
class ScanResult:
    """``scantxoutset`` over some addresses: the UTXO set at the node's tip ``height`` / ``block_hash``."""

    height: int
    block_hash: str
    balances: dict[str, int]  # by the address as given -> satoshis
    snapshot: UtxoSnapshot


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _btc_to_sats(amount: Any, what: str) -> int:
    if not isinstance(amount, (Decimal, int)) or isinstance(amount, bool):
        raise ServiceUnavailable(f"Bitcoin Core sent a non-numeric amount for {what}: {amount!r}")
    try:
        sats = Decimal(amount) * 10**BITCOIN_DECIMALS
    except InvalidOperation:
        raise ServiceUnavailable(f"Bitcoin Core sent an invalid amount for {what}: {amount!r}") from None
    if sats != sats.to_integral_value() or sats < 0:
        raise ServiceUnavailable(f"Bitcoin Core sent an amount that is not whole satoshis for {what}: {amount}")
    return int(sats)


class BitcoinCoreRpc:
    """Minimal Bitcoin Core JSON-RPC client (HTTP basic auth). Any transport, HTTP or RPC error is a
    :class:`ServiceUnavailable` (exit 3).

    ``scantxoutset`` reads the UTXO set at the node's **current tip** only: compare the returned height /
    block hash with the attested ones (the caller decides what a mismatch means).
    """

    def __init__(self, url: str, user: str | None = None, password: str | None = None, *,
                 timeout: float = 30.0, scan_timeout: float = 600.0) -> None:
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise BadInput(f"Bitcoin RPC URL must be http(s)://host[:port][/path], got {url!r}", field="rpc")
        if parsed.username is not None:  # credentials in the URL: take them out of the URL we keep
            user = urllib.parse.unquote(parsed.username) if user is None else user
            password = urllib.parse.unquote(parsed.password or "") if password is None else password
            netloc = parsed.hostname if ":" not in parsed.hostname else f"[{parsed.hostname}]"
            if parsed.port is not None:
                netloc += f":{parsed.port}"
            parsed = parsed._replace(netloc=netloc)
        self.url = urllib.parse.urlunsplit(parsed)
        self.timeout = timeout
        self.scan_timeout = scan_timeout
        self._auth: str | None = None
        if user is not None:
            token = base64.b64encode(f"{user}:{password or ''}".encode()).decode("ascii")
            self._auth = f"Basic {token}"
        self._ids = itertools.count(1)
        handlers: list[Any] = []
        if _is_loopback(parsed.hostname or ""):
            handlers.append(urllib.request.ProxyHandler({}))  # never send loopback traffic to a proxy
        self._opener = urllib.request.build_opener(*handlers)

    def __repr__(self) -> str:
        return f"BitcoinCoreRpc({self.url!r})"

    def call(self, method: str, params: Iterable[Any] = (), *, timeout: float | None = None) -> Any:
        """One JSON-RPC call; numbers in the reply are parsed exactly (floats as Decimal)."""
        body = json.dumps({"jsonrpc": "1.0", "id": next(self._ids), "method": method, "params": list(params)})
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._auth is not None:
            headers["Authorization"] = self._auth
        req = urllib.request.Request(self.url, data=body.encode(), method="POST", headers=headers)
        limit = self.timeout if timeout is None else timeout
        name = f"Bitcoin RPC {self.url}"
        try:
            with self._opener.open(req, timeout=limit) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as exc:
            if exc.code in (401, 403):
                raise ServiceUnavailable(f"{name} rejected the credentials (HTTP {exc.code}) for {method}") from None
            raw = exc.read() or b""  # Bitcoin Core answers RPC errors with HTTP 500 and a JSON body
            try:
                doc = json.loads(raw)
            except ValueError:
                doc = None
            if isinstance(doc, dict) and isinstance(doc.get("error"), dict):
                raise ServiceUnavailable(
                    f"{name} returned an error for {method}: {doc['error'].get('message', doc['error'])}") from None
            raise ServiceUnavailable(f"{name} answered HTTP {exc.code} {exc.reason} to {method}") from None
        except urllib.error.URLError as exc:
            reason = exc.reason
            if isinstance(reason, (TimeoutError, socket.timeout)):
                reason = f"timed out after {limit:g} s"
            raise ServiceUnavailable(f"{name} unreachable ({method}): {reason}") from None
        except TimeoutError:
            raise ServiceUnavailable(f"{name} timed out after {limit:g} s ({method})") from None
        except (OSError, ValueError, http.client.HTTPException) as exc:
            raise ServiceUnavailable(f"{name} failed ({method}): {exc}") from None
        try:
            doc = json.loads(raw, parse_float=Decimal)
        except (ValueError, UnicodeDecodeError):
            raise ServiceUnavailable(f"{name} sent a reply that is not JSON ({method})") from None
        if not isinstance(doc, dict) or "result" not in doc:
            raise ServiceUnavailable(f"{name} sent a reply that is not JSON-RPC ({method})")
        err = doc.get("error")
        if err is not None:
            msg = err.get("message", err) if isinstance(err, dict) else err
            raise ServiceUnavailable(f"{name} returned an error for {method}: {msg}")
        return doc["result"]

    def getblockcount(self) -> int:
        n = self.call("getblockcount")
        if not _is_int(n) or n < 0:
            raise ServiceUnavailable(f"Bitcoin RPC {self.url}: getblockcount returned {n!r}")
        return n

    def getblockhash(self, height: int) -> str:
        h = self.call("getblockhash", [height])
        if not isinstance(h, str) or not _HEX64_RE.fullmatch(h):
            raise ServiceUnavailable(f"Bitcoin RPC {self.url}: getblockhash({height}) returned {h!r}")
        return h

    def scan(self, addresses: Iterable[str], network: str) -> ScanResult:
        """``scantxoutset start [addr(A), ...]``: the UTXOs of ``addresses`` at the node's current tip."""
        _check_network(network)
        given = list(dict.fromkeys(addresses))
        parsed = {a: parse_address(a, network) for a in given}
        by_script = {p.script_pubkey.hex(): a for a, p in parsed.items()}
        descriptors = [f"addr({p.canonical})" for p in parsed.values()]
        res = self.call("scantxoutset", ["start", descriptors], timeout=self.scan_timeout)
        if not isinstance(res, dict) or res.get("success") is not True:
            raise ServiceUnavailable(f"Bitcoin RPC {self.url}: scantxoutset did not complete: {res!r}")
        height, block_hash, unspents = res.get("height"), res.get("bestblock"), res.get("unspents")
        if not _is_int(height) or not isinstance(block_hash, str) or not _HEX64_RE.fullmatch(block_hash) \
                or not isinstance(unspents, list):
            raise ServiceUnavailable(
                f"Bitcoin RPC {self.url}: scantxoutset reply lacks height / bestblock / unspents "
                "(Bitcoin Core >= 0.21 is needed)")
        utxos: list[Utxo] = []
        balances = dict.fromkeys(given, 0)
        for u in unspents:
            if not isinstance(u, dict):
                raise ServiceUnavailable(f"Bitcoin RPC {self.url}: malformed scantxoutset entry {u!r}")
            spk, txid, vout = u.get("scriptPubKey"), u.get("txid"), u.get("vout")
            address = by_script.get(spk) if isinstance(spk, str) else None
            if address is None or not isinstance(txid, str) or not _is_int(vout):
                raise ServiceUnavailable(f"Bitcoin RPC {self.url}: unexpected scantxoutset entry {u!r}")
            sats = _btc_to_sats(u.get("amount"), f"{txid}:{vout}")
            utxos.append(Utxo(txid, vout, address, sats))
            balances[address] += sats
        snap = UtxoSnapshot(network, height, block_hash, tuple(utxos), f"{self.url} (scantxoutset)")
        return ScanResult(height, block_hash, balances, snap)


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
