"""Bitcoin ownership signatures over a message (SPEC.md §13): verification and signing.

:func:`verify_message` takes base64 text over the message's UTF-8 bytes, exactly as given:

* **legacy** -- Bitcoin Core ``signmessage`` (BIP-137 compact recoverable ECDSA, 65 bytes), with the
  BIP-137 (Trezor) and Electrum headers for P2WPKH / P2SH-P2WPKH;
* **bip322-simple** -- BIP-322 "simple" signatures (witness stack, ``smp`` prefix optional) for native
  segwit addresses: P2WPKH, P2TR (key path, and script path), P2WSH.

The cryptography and the BIP-322 virtual transactions are those of ``btclib`` / ``btclib-wallet``;
every refusal becomes a :class:`~por.core.errors.VerificationFailed` with a precise reason.
:func:`sign_message_legacy` and :func:`sign_message_bip322` make such signatures (tests, demo).
"""

from __future__ import annotations

import base64
import binascii

from btclib.ecc import bms
from btclib.exceptions import BTClibRuntimeError, InconclusiveError
from btclib.script.witness import Witness
from btclib_wallet import bip322
from ecc.exceptions import EccRuntimeError

from por.core.errors import BadInput, VerificationFailed
from por.reserves.bitcoin_address import BitcoinAddress, _check_network, _prv_key, address_for, parse_address

BIP322_PREFIXES = {"smp": "simple", "ful": "full", "pof": "proof-of-funds"}

SCHEME_LEGACY = "legacy"
SCHEME_BIP322_SIMPLE = "bip322-simple"

_LEGACY_SIG_LEN = 65
# the errors btclib / ecc raise for input that does not verify (btclib_wallet.bip322 catches the same set)
_LIB_INVALID: tuple[type[Exception], ...] = (ValueError, BTClibRuntimeError, EccRuntimeError)
_ASCII_WS = " \t\n\r\x0b\x0c"
_TYPE_LABEL = {"p2pkh": "P2PKH", "p2sh": "P2SH", "p2wpkh": "P2WPKH", "p2wsh": "P2WSH", "p2tr": "P2TR"}


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


# ---------------------------------------------------------------------- signing (tests, demo)


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
