"""The reserves attestation model: the ownership message and ``reserves.json`` (SPEC.md §12).

An exchange attests, for one snapshot, every address that holds reserves: its chain, the segregation
bucket it backs (or ``proprietary``), the assets counted there, and a signature by the address over
the *ownership message*, which binds snapshot id, snapshot root, chain, address and block height, so a
signature cannot be replayed for another snapshot, root, chain or block.

This module is chain-agnostic: it defines the message and parses the file strictly (every error is a
:class:`~por.core.errors.BadInput` naming the file and field). Verification lives in
:mod:`por.reserves.ethereum` (and the Bitcoin module).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from por.reserves.chain import check_address, parse_hex
from por.core.config import ID_RE, SYMBOL_RE
from por.core.errors import BadInput, VerificationFailed
from por.core.fileio import read_json

RESERVES_FORMAT = "por-reserves"
RESERVES_VERSION = 1
MESSAGE_HEADER = "por reserves attestation v1"
CHAINS = ("ethereum", "bitcoin")
PROPRIETARY = "proprietary"
BITCOIN_NETWORKS = ("mainnet", "testnet", "signet", "regtest")
NATIVE_DECIMALS = {"ethereum": 18, "bitcoin": 8}
MAX_BLOCK = (1 << 63) - 1

_HEX32_RE = re.compile(r"[0-9a-f]{64}")
_BTC_BASE58_RE = re.compile(r"[1-9A-HJ-NP-Za-km-z]{25,35}")
_BTC_BECH32_RE = re.compile(r"(?:bc|tb|bcrt)1[02-9ac-hj-np-z]{8,87}|(?:BC|TB|BCRT)1[02-9AC-HJ-NP-Z]{8,87}")
_BASE64_RE = re.compile(r"[A-Za-z0-9+/]+={0,2}")


# ---------------------------------------------------------------------- the ownership message


def ownership_message(snapshot_id: str, root: bytes | str, chain: str, address: str, block: int) -> str:
    """The exact text an address signs (UTF-8, LF line ends, no trailing newline)::

        por reserves attestation v1
        snapshot: <snapshot_id>
        root: <64 lowercase hex snapshot root>
        chain: <ethereum|bitcoin>
        address: <address exactly as written in reserves.json>
        block: <decimal block height>
    """
    if not isinstance(snapshot_id, str) or not ID_RE.fullmatch(snapshot_id):
        raise BadInput(f"snapshot id {snapshot_id!r} is not a valid snapshot id", field="snapshot_id")
    if isinstance(root, (bytes, bytearray)):
        if len(root) != 32:
            raise BadInput("snapshot root must be 32 bytes", field="root")
        root_hex = bytes(root).hex()
    elif isinstance(root, str) and _HEX32_RE.fullmatch(root):
        root_hex = root
    else:
        raise BadInput("snapshot root must be 32 bytes or 64 lowercase hex digits", field="root")
    if chain not in CHAINS:
        raise BadInput(f"chain must be one of {', '.join(CHAINS)}, got {chain!r}", field="chain")
    if not isinstance(address, str) or not address or not address.isascii() or not address.isprintable() \
            or address != address.strip() or " " in address:
        raise BadInput(f"address {address!r} must be printable ASCII without spaces", field="address")
    if not isinstance(block, int) or isinstance(block, bool) or not 0 <= block <= MAX_BLOCK:
        raise BadInput(f"block must be a non-negative integer, got {block!r}", field="block")
    return "\n".join([
        MESSAGE_HEADER,
        f"snapshot: {snapshot_id}",
        f"root: {root_hex}",
        f"chain: {chain}",
        f"address: {address}",
        f"block: {block}",
    ])


# ---------------------------------------------------------------------- reserves.json model


@dataclass(frozen=True)
class AssetClaim:
    """One asset counted at an address: the chain's native coin, or an ERC-20 token."""

    asset: str                    # the ledger asset symbol it counts towards
    kind: str                     # "native" | "erc20"
    contract: str | None = None   # erc20: token contract as written (validated 0x address)
    decimals: int | None = None   # chain decimals: erc20 required (checked against decimals()); native implied

    @property
    def source(self) -> str:
        """How the holding was read, e.g. ``native`` or ``erc20 0xabc…`` (lowercase contract)."""
        return "native" if self.kind == "native" else f"erc20 {self.contract.lower()}"  # type: ignore[union-attr]

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"asset": self.asset, "kind": self.kind}
        if self.contract is not None:
            d["contract"] = self.contract
        if self.decimals is not None:
            d["decimals"] = self.decimals
        return d


@dataclass(frozen=True)
class AddressEntry:
    """One attested address (``addresses[index]`` of reserves.json)."""

    index: int
    chain: str
    address: str                  # exactly as written (this text is signed)
    bucket: str                   # a snapshot bucket id, or "proprietary"
    assets: tuple[AssetClaim, ...]
    signature: str                # ethereum: hex; bitcoin: base64 (BIP-137 / BIP-322)
    signer: str | None = None     # ethereum only, optional: the key that signed (see spec)

    @property
    def where(self) -> str:
        return f"addresses[{self.index}] ({self.chain} {self.address})"

    def signature_bytes(self) -> bytes:
        """The signature as bytes (Ethereum entries: the hex string decoded)."""
        if self.chain == "ethereum":
            return parse_hex(self.signature, field=f"addresses[{self.index}].signature")
        raise ValueError("bitcoin signatures are base64 text; decode them in the bitcoin verifier")

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"chain": self.chain, "address": self.address, "bucket": self.bucket,
                             "assets": [a.to_dict() for a in self.assets], "signature": self.signature}
        if self.signer is not None:
            d["signer"] = self.signer
        return d


@dataclass(frozen=True)
class EthereumChain:
    block: int
    chain_id: int | None = None   # optional: the EIP-155 chain id the RPC must serve (e.g. 1 for mainnet)


@dataclass(frozen=True)
class BitcoinChain:
    height: int
    utxo_snapshot: str | None = None   # path relative to reserves.json's directory
    network: str = "mainnet"


@dataclass(frozen=True)
class ReservesFile:
    """A parsed ``reserves.json``."""

    snapshot_id: str
    root: bytes
    ethereum: EthereumChain | None
    bitcoin: BitcoinChain | None
    addresses: tuple[AddressEntry, ...]
    file: str = "reserves.json"
    base_dir: Path | None = None

    def block(self, chain: str) -> int:
        """The attested height of ``chain`` (ethereum block / bitcoin height)."""
        if chain == "ethereum" and self.ethereum is not None:
            return self.ethereum.block
        if chain == "bitcoin" and self.bitcoin is not None:
            return self.bitcoin.height
        raise KeyError(chain)

    def message(self, entry: AddressEntry) -> str:
        """The ownership message ``entry`` must have signed."""
        return ownership_message(self.snapshot_id, self.root, entry.chain, entry.address, self.block(entry.chain))

    def entries(self, chain: str) -> list[AddressEntry]:
        return [e for e in self.addresses if e.chain == chain]

    def utxo_snapshot_path(self) -> Path | None:
        if self.bitcoin is None or self.bitcoin.utxo_snapshot is None:
            return None
        p = Path(self.bitcoin.utxo_snapshot)
        return p if p.is_absolute() or self.base_dir is None else self.base_dir / p

    def check_snapshot(self, snapshot_id: str, root: bytes) -> None:
        """The attestation must be for this snapshot (id and root); VerificationFailed otherwise."""
        if self.snapshot_id != snapshot_id:
            raise VerificationFailed(f"reserves are attested for snapshot {self.snapshot_id!r}, not {snapshot_id!r}",
                                     where=self.file)
        if self.root != root:
            raise VerificationFailed(f"reserves are attested for root {self.root.hex()}, not the snapshot's root "
                                     f"{root.hex()}", where=self.file)

    def to_dict(self) -> dict[str, Any]:
        chains: dict[str, Any] = {}
        if self.ethereum is not None:
            chains["ethereum"] = {"block": self.ethereum.block}
            if self.ethereum.chain_id is not None:
                chains["ethereum"]["chain_id"] = self.ethereum.chain_id
        if self.bitcoin is not None:
            btc: dict[str, Any] = {"height": self.bitcoin.height}
            if self.bitcoin.utxo_snapshot is not None:
                btc["utxo_snapshot"] = self.bitcoin.utxo_snapshot
            if self.bitcoin.network != "mainnet":
                btc["network"] = self.bitcoin.network
            chains["bitcoin"] = btc
        return {"format": RESERVES_FORMAT, "version": RESERVES_VERSION, "snapshot_id": self.snapshot_id,
                "root": self.root.hex(), "chains": chains, "addresses": [a.to_dict() for a in self.addresses]}


# ---------------------------------------------------------------------- strict parser


def _keys(obj: Any, required: set[str], optional: set[str], *, file: str, field: str) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise BadInput("must be an object", file=file, field=field)
    missing = required - set(obj)
    if missing:
        raise BadInput(f"missing field {sorted(missing)[0]!r}", file=file, field=f"{field}.{sorted(missing)[0]}"
                       if field != "$" else sorted(missing)[0])
    extra = set(obj) - required - optional
    if extra:
        name = sorted(extra)[0]
        raise BadInput(f"unknown field {name!r}", file=file, field=f"{field}.{name}" if field != "$" else name)
    return obj


def _int(value: Any, *, file: str, field: str, lo: int = 0, hi: int = MAX_BLOCK) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise BadInput(f"must be an integer {lo}..{hi}", file=file, field=field)
    return value


def parse_reserves(doc: Any, *, file: str = "reserves.json", base_dir: Path | None = None) -> ReservesFile:
    """Validate a decoded reserves.json document; every error is BadInput naming the field."""
    _keys(doc, {"format", "version", "snapshot_id", "root", "chains", "addresses"}, set(), file=file, field="$")
    if doc["format"] != RESERVES_FORMAT:
        raise BadInput(f"format must be {RESERVES_FORMAT!r}", file=file, field="format")
    if doc["version"] != RESERVES_VERSION or isinstance(doc["version"], bool):
        raise BadInput(f"unsupported version {doc['version']!r} (this por reads {RESERVES_VERSION})",
                       file=file, field="version")
    snapshot_id = doc["snapshot_id"]
    if not isinstance(snapshot_id, str) or not ID_RE.fullmatch(snapshot_id):
        raise BadInput("must be 1-64 characters of A-Z a-z 0-9 . _ - (starting alphanumeric)",
                       file=file, field="snapshot_id")
    root = doc["root"]
    if not isinstance(root, str) or not _HEX32_RE.fullmatch(root):
        raise BadInput("must be 64 lowercase hex digits", file=file, field="root")

    chains = doc["chains"]
    _keys(chains, set(), set(CHAINS), file=file, field="chains")
    if not chains:
        raise BadInput("must declare at least one chain", file=file, field="chains")
    eth = btc = None
    if "ethereum" in chains:
        e = _keys(chains["ethereum"], {"block"}, {"chain_id"}, file=file, field="chains.ethereum")
        chain_id = e.get("chain_id")
        if chain_id is not None:
            chain_id = _int(chain_id, file=file, field="chains.ethereum.chain_id", lo=1)
        eth = EthereumChain(_int(e["block"], file=file, field="chains.ethereum.block"), chain_id)
    if "bitcoin" in chains:
        b = _keys(chains["bitcoin"], {"height"}, {"utxo_snapshot", "network"}, file=file, field="chains.bitcoin")
        height = _int(b["height"], file=file, field="chains.bitcoin.height")
        utxo = b.get("utxo_snapshot")
        if utxo is not None and (not isinstance(utxo, str) or not utxo or "\x00" in utxo or len(utxo) > 1024
                                 or PurePosixPath(utxo).is_absolute() or PureWindowsPath(utxo).drive
                                 or ".." in re.split(r"[/\\]", utxo)):
            raise BadInput("must be a file path relative to reserves.json's directory, without '..'",
                           file=file, field="chains.bitcoin.utxo_snapshot")
        network = b.get("network", "mainnet")
        if network not in BITCOIN_NETWORKS:
            raise BadInput(f"must be one of {', '.join(BITCOIN_NETWORKS)}", file=file, field="chains.bitcoin.network")
        btc = BitcoinChain(height, utxo, network)

    raw = doc["addresses"]
    if not isinstance(raw, list) or not raw:
        raise BadInput("must be a non-empty list", file=file, field="addresses")
    entries = tuple(_parse_entry(i, a, chains, file=file) for i, a in enumerate(raw))
    return ReservesFile(snapshot_id, bytes.fromhex(root), eth, btc, entries, file, base_dir)


def _parse_entry(i: int, a: Any, chains: dict[str, Any], *, file: str) -> AddressEntry:
    f = f"addresses[{i}]"
    _keys(a, {"chain", "address", "bucket", "assets", "signature"}, {"signer"}, file=file, field=f)
    chain = a["chain"]
    if chain not in CHAINS:
        raise BadInput(f"must be one of {', '.join(CHAINS)}", file=file, field=f"{f}.chain")
    if chain not in chains:
        raise BadInput(f"chain {chain!r} is not declared under chains", file=file, field=f"{f}.chain")
    address = a["address"]
    if chain == "ethereum":
        try:
            check_address(address)
        except BadInput as exc:
            raise BadInput(exc.reason, file=file, field=f"{f}.address") from None
    elif not isinstance(address, str) or not (_BTC_BASE58_RE.fullmatch(address) or _BTC_BECH32_RE.fullmatch(address)):
        raise BadInput("must be a Bitcoin address (base58 or bech32/bech32m; checksums are checked by the bitcoin "
                       "verifier)", file=file, field=f"{f}.address")
    bucket = a["bucket"]
    if not isinstance(bucket, str) or not ID_RE.fullmatch(bucket):
        raise BadInput("must be a snapshot bucket id or \"proprietary\"", file=file, field=f"{f}.bucket")

    assets_raw = a["assets"]
    if not isinstance(assets_raw, list) or not assets_raw:
        raise BadInput("must be a non-empty list", file=file, field=f"{f}.assets")
    assets: list[AssetClaim] = []
    seen: set[str] = set()
    for j, c in enumerate(assets_raw):
        claim = _parse_asset(chain, c, file=file, field=f"{f}.assets[{j}]")
        if claim.source in seen:
            raise BadInput(f"{claim.source} is listed twice for this address", file=file, field=f"{f}.assets[{j}]")
        seen.add(claim.source)
        assets.append(claim)

    sig = a["signature"]
    if chain == "ethereum":
        try:
            if not parse_hex(sig, field="signature"):
                raise BadInput("empty", field="signature")
        except BadInput:
            raise BadInput("must be a non-empty hex string (0x optional)", file=file, field=f"{f}.signature") from None
    elif not isinstance(sig, str) or not _BASE64_RE.fullmatch(sig):
        raise BadInput("must be a base64 signature (BIP-137 or BIP-322)", file=file, field=f"{f}.signature")

    signer = a.get("signer")
    if signer is not None:
        if chain != "ethereum":
            raise BadInput("signer is only defined for ethereum addresses", file=file, field=f"{f}.signer")
        try:
            check_address(signer)
        except BadInput as exc:
            raise BadInput(exc.reason, file=file, field=f"{f}.signer") from None
    return AddressEntry(i, chain, address, bucket, tuple(assets), sig, signer)


def _parse_asset(chain: str, c: Any, *, file: str, field: str) -> AssetClaim:
    if not isinstance(c, dict):
        raise BadInput("must be an object", file=file, field=field)
    kind = c.get("kind")
    if kind == "native":
        _keys(c, {"asset", "kind"}, {"decimals"}, file=file, field=field)
    elif kind == "erc20":
        if chain != "ethereum":
            raise BadInput("erc20 assets exist only on ethereum", file=file, field=f"{field}.kind")
        _keys(c, {"asset", "kind", "contract", "decimals"}, set(), file=file, field=field)
    else:
        raise BadInput("kind must be \"native\" or \"erc20\"", file=file, field=f"{field}.kind")
    asset = c["asset"]
    if not isinstance(asset, str) or not SYMBOL_RE.fullmatch(asset):
        raise BadInput("must be a ledger asset symbol (1-16 characters of A-Z a-z 0-9 . _ -)",
                       file=file, field=f"{field}.asset")
    decimals = c.get("decimals")
    if decimals is not None:
        decimals = _int(decimals, file=file, field=f"{field}.decimals", hi=255)
    if kind == "native":
        if decimals is not None and decimals != NATIVE_DECIMALS[chain]:
            raise BadInput(f"native {chain} amounts have {NATIVE_DECIMALS[chain]} decimals",
                           file=file, field=f"{field}.decimals")
        return AssetClaim(asset, "native", None, NATIVE_DECIMALS[chain])
    contract = c["contract"]
    try:
        check_address(contract)
    except BadInput as exc:
        raise BadInput(exc.reason, file=file, field=f"{field}.contract") from None
    return AssetClaim(asset, "erc20", contract, decimals)


def load_reserves(path: str | Path) -> ReservesFile:
    """Read and parse ``reserves.json`` (UTF-8 JSON, no duplicate keys)."""
    path = Path(path)
    return parse_reserves(read_json(path, "reserves"), file=str(path), base_dir=path.parent)
