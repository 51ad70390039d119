"""Ethereum reserves: ownership signatures and balances at the snapshot block (SPEC.md §12).

For every ``ethereum`` entry of reserves.json, at the attested block ``B`` (never "latest"):

1. **Ownership.** ``m`` = the ownership message (:func:`~por.reserves.attestation.ownership_message`),
   ``h`` = its EIP-191 hash ``keccak256("\\x19Ethereum Signed Message:\\n" ‖ len(m) ‖ m)``.
   If the address has no code at ``B`` (an EOA), the 65-byte signature must recover (secp256k1) to the
   address. If it has code, ``isValidSignature(h, signature)`` called on it at ``B`` must return the
   EIP-1271 magic value ``0x1626ba7e`` (a revert or any other value is a failure). An EIP-7702
   delegated EOA (code ``0xef0100 ‖ address``) is accepted by either rule.
2. **Balances.** native ETH by ``eth_getBalance(address, B)``; an ERC-20 by ``balanceOf(address)`` via
   ``eth_call`` at ``B``, after checking that the token has code at ``B`` and that its ``decimals()`` at
   ``B`` equals the decimals declared in reserves.json.
3. **Units.** ``ledger = chain_amount · 10^ledger_decimals // 10^chain_decimals`` -- exact integers,
   rounded down (never a float).

Service failures (RPC down, block missing or in the future) raise ServiceUnavailable (exit 3); a bad
signature, a decimals mismatch or a reverting token are per-address failures (VerificationFailed,
exit 1), collected in :class:`EthereumReport`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from por.reserves.chain import CallReverted, RpcClient, account_from_key, check_address, decode_result, encode_call
from por.core.errors import BadInput, VerificationFailed
from por.reserves.segregation import Holding
from por.reserves.attestation import NATIVE_DECIMALS, AddressEntry, ReservesFile

ERC1271_MAGIC = bytes.fromhex("1626ba7e")
EIP7702_PREFIX = bytes.fromhex("ef0100")
ETH_DECIMALS = NATIVE_DECIMALS["ethereum"]


# ---------------------------------------------------------------------- hashing, signing, units


def eip191_hash(message: str | bytes) -> bytes:
    """``keccak256("\\x19Ethereum Signed Message:\\n" ‖ decimal byte length ‖ message)`` (personal_sign)."""
    data = message.encode("utf-8") if isinstance(message, str) else bytes(message)
    return keccak(b"\x19Ethereum Signed Message:\n" + str(len(data)).encode("ascii") + data)


def sign_message(key: str | bytes | LocalAccount, message: str) -> str:
    """personal_sign (EIP-191) of ``message``: ``0x`` + 130 hex digits (r ‖ s ‖ v, v = 27/28)."""
    sig = account_from_key(key).sign_message(encode_defunct(text=message)).signature
    return "0x" + bytes(sig).hex()


def vault_signature(keys: Iterable[str | bytes | LocalAccount], message: str) -> str:
    """A SegregatedVault EIP-1271 signature: the owners' personal_signs of ``message``, concatenated in
    ascending owner-address order (``0x`` + 130·k hex digits)."""
    accts = sorted((account_from_key(k) for k in keys), key=lambda a: int(a.address, 16))
    return "0x" + "".join(sign_message(a, message)[2:] for a in accts)


def recover_signer(message: str, signature: bytes) -> str | None:
    """The checksummed address whose personal_sign of ``message`` is ``signature``, or None if malformed."""
    if len(signature) != 65:
        return None
    try:
        return Account.recover_message(encode_defunct(text=message), signature=signature)
    except Exception:  # eth-keys raises BadSignature / ValidationError for out-of-range r, s, v
        return None


def to_ledger_units(chain_amount: int, chain_decimals: int, ledger_decimals: int) -> int:
    """Chain units to ledger minor units, rounding down: ``amount · 10^ledger // 10^chain`` (integers only)."""
    for name, v in (("chain_amount", chain_amount), ("chain_decimals", chain_decimals),
                    ("ledger_decimals", ledger_decimals)):
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {v!r}")
    return chain_amount * 10**ledger_decimals // 10**chain_decimals


# ---------------------------------------------------------------------- chain reads


def verify_ownership(rpc: RpcClient, address: str, message: str, signature: bytes, block: int) -> str:
    """Check that ``address`` signed ``message``, as of ``block``; returns the scheme used
    (``"eip191"`` for an EOA, ``"eip1271"`` for a contract). Raises VerificationFailed."""
    addr = check_address(address)
    code = rpc.get_code(addr, block)
    is_delegated = len(code) == 23 and code.startswith(EIP7702_PREFIX)
    if not code or is_delegated:
        signer = recover_signer(message, signature)
        if signer is not None and signer == addr:
            return "eip191"
        if not is_delegated:
            if signer is None:
                raise VerificationFailed(f"signature is not a valid 65-byte secp256k1 signature "
                                         f"({len(signature)} bytes) of the ownership message")
            raise VerificationFailed(f"ownership signature is by {signer}, not by the address {addr} "
                                     f"(an EOA at block {block}); wrong key, or signed for another "
                                     "snapshot, root, chain or block")
    data = encode_call("isValidSignature(bytes32,bytes)", eip191_hash(message), signature)
    try:
        ret = rpc.call(addr, data, block)
    except CallReverted as exc:
        raise VerificationFailed(f"EIP-1271 isValidSignature reverted at block {block}: {exc.reason}") from None
    if len(ret) < 32 or ret[:32] != ERC1271_MAGIC + bytes(28):
        got = "0x" + ret[:4].hex() if ret else "no data"
        raise VerificationFailed(f"EIP-1271 contract {addr} rejected the ownership signature at block {block} "
                                 f"(isValidSignature returned {got}, not 0x1626ba7e)")
    return "eip1271"


def _require_code(rpc: RpcClient, address: str, block: int, what: str) -> None:
    if not rpc.get_code(address, block):
        raise VerificationFailed(f"{what} {address} has no contract code at block {block}")


def erc20_decimals(rpc: RpcClient, token: str, block: int) -> int:
    """``decimals()`` of ``token`` at ``block`` (VerificationFailed if it reverts or is not a uint8)."""
    token = check_address(token, field="contract")
    _require_code(rpc, token, block, "ERC-20 token")
    try:
        ret = rpc.call(token, encode_call("decimals()"), block)
    except CallReverted as exc:
        raise VerificationFailed(f"ERC-20 {token}: decimals() reverted at block {block}: {exc.reason}") from None
    (dec,) = decode_result(["uint256"], ret[:32] if len(ret) >= 32 else ret, what=f"ERC-20 {token} decimals()")
    if dec > 255:
        raise VerificationFailed(f"ERC-20 {token}: decimals() returned {dec}, not a uint8")
    return dec


def erc20_balance(rpc: RpcClient, token: str, holder: str, block: int) -> int:
    """``balanceOf(holder)`` of ``token`` at ``block``."""
    token = check_address(token, field="contract")
    try:
        ret = rpc.call(token, encode_call("balanceOf(address)", check_address(holder)), block)
    except CallReverted as exc:
        raise VerificationFailed(f"ERC-20 {token}: balanceOf reverted at block {block}: {exc.reason}") from None
    (bal,) = decode_result(["uint256"], ret[:32] if len(ret) >= 32 else ret, what=f"ERC-20 {token} balanceOf")
    return bal


# ---------------------------------------------------------------------- per-address verification


@dataclass(frozen=True)
class AssetBalance:
    asset: str
    source: str            # "native" | "erc20 0x…"
    chain_amount: int      # wei / token base units at the block
    chain_decimals: int
    ledger_decimals: int
    ledger_amount: int     # rounded down

    def to_dict(self) -> dict[str, object]:
        return {"asset": self.asset, "source": self.source, "chain_amount": str(self.chain_amount),
                "chain_decimals": self.chain_decimals, "ledger_decimals": self.ledger_decimals,
                "ledger_amount": str(self.ledger_amount)}


@dataclass(frozen=True)
class VerifiedAddress:
    """An Ethereum address whose ownership signature checked out, with its balances at ``block``."""

    entry: AddressEntry
    block: int
    scheme: str                         # "eip191" | "eip1271"
    balances: tuple[AssetBalance, ...]

    def holdings(self) -> list[Holding]:
        return [Holding("ethereum", self.entry.address, self.entry.bucket, b.asset, b.ledger_amount, b.source)
                for b in self.balances]

    def to_dict(self) -> dict[str, object]:
        return {"chain": "ethereum", "address": self.entry.address, "bucket": self.entry.bucket,
                "block": self.block, "scheme": self.scheme, "signer": self.entry.signer,
                "balances": [b.to_dict() for b in self.balances]}


@dataclass
class EthereumReport:
    """Outcome of :func:`verify_ethereum`: verified addresses and per-address failures."""

    block: int
    verified: list[VerifiedAddress] = field(default_factory=list)
    failures: list[VerificationFailed] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    def holdings(self) -> list[Holding]:
        return [h for v in self.verified for h in v.holdings()]

    def raise_for_failures(self) -> None:
        if self.failures:
            if len(self.failures) == 1:
                raise self.failures[0]
            raise VerificationFailed("; ".join(str(f) for f in self.failures))

    def to_dict(self) -> dict[str, object]:
        return {"block": self.block, "ok": self.ok, "addresses": [v.to_dict() for v in self.verified],
                "failures": [str(f) for f in self.failures]}


def verify_address(rpc: RpcClient, reserves: ReservesFile, entry: AddressEntry,
                   ledger_decimals: Mapping[str, int], *, _decimals_cache: dict | None = None) -> VerifiedAddress:
    """Verify one ``ethereum`` entry at the attested block; raises VerificationFailed naming the entry."""
    if entry.chain != "ethereum":
        raise ValueError("not an ethereum entry")
    block = reserves.block("ethereum")
    where = f"{reserves.file}: {entry.where}"
    cache = {} if _decimals_cache is None else _decimals_cache
    try:
        scheme = verify_ownership(rpc, entry.address, reserves.message(entry), entry.signature_bytes(), block)
        if scheme == "eip191" and entry.signer is not None \
                and check_address(entry.signer) != check_address(entry.address):
            raise VerificationFailed(f"signer {entry.signer} differs from the address, which is an EOA "
                                     "(an EOA signs for itself)")
        balances = []
        for claim in entry.assets:
            led = ledger_decimals.get(claim.asset)
            if led is None:
                raise VerificationFailed(f"asset {claim.asset!r} is not an asset of the snapshot")
            if claim.kind == "native":
                amount = rpc.get_balance(entry.address, block)
                chain_dec = ETH_DECIMALS
            else:
                token = check_address(claim.contract or "", field="contract")
                if token not in cache:
                    cache[token] = erc20_decimals(rpc, token, block)
                actual = cache[token]
                if actual != claim.decimals:
                    raise VerificationFailed(
                        f"ERC-20 {claim.contract} ({claim.asset}) has decimals() = {actual} at block {block}, "
                        f"but reserves.json declares {claim.decimals}")
                amount = erc20_balance(rpc, token, entry.address, block)
                chain_dec = actual
            balances.append(AssetBalance(claim.asset, claim.source, amount, chain_dec, led,
                                         to_ledger_units(amount, chain_dec, led)))
    except BadInput as exc:  # e.g. a malformed signature hex: the entry fails, the run goes on
        raise VerificationFailed(exc.reason, where=where) from None
    except VerificationFailed as exc:
        raise VerificationFailed(exc.reason, where=where) from None
    return VerifiedAddress(entry, block, scheme, tuple(balances))


def verify_ethereum(rpc: RpcClient, reserves: ReservesFile, ledger_decimals: Mapping[str, int], *,
                    block: int | None = None) -> EthereumReport:
    """Verify every ``ethereum`` entry of ``reserves`` at its attested block.

    ``ledger_decimals`` maps each snapshot asset symbol to its ledger decimals. ``block``, if given (a
    ``--block`` option), must equal reserves.json's ``chains.ethereum.block`` -- the signatures bind
    that block. ServiceUnavailable propagates; per-address failures are collected in the report.
    """
    if reserves.ethereum is None:
        raise BadInput("reserves.json declares no ethereum chain", file=reserves.file, field="chains.ethereum")
    b = reserves.ethereum.block
    if block is not None and block != b:
        raise BadInput(f"--block {block} differs from the attested block {b} (the signatures bind {b})",
                       file=reserves.file, field="chains.ethereum.block")
    rpc.check_chain_id(reserves.ethereum.chain_id)  # another chain's balances would be no evidence
    rpc.get_block(b)  # the node has the attested block (not beyond its head) and answers for that block
    report = EthereumReport(b)
    cache: dict[str, int] = {}
    for entry in reserves.entries("ethereum"):
        try:
            report.verified.append(verify_address(rpc, reserves, entry, ledger_decimals, _decimals_cache=cache))
        except VerificationFailed as exc:
            report.failures.append(exc)
    return report


# ---------------------------------------------------------------------- Chainlink Proof-of-Reserve feeds


class FeedRound(NamedTuple):
    """``latestRoundData`` and ``decimals`` of an AggregatorV3Interface feed, read at a block."""

    answer: int
    decimals: int
    updated_at: int
    round_id: int


def read_feed(rpc: RpcClient, address: str, block: int) -> FeedRound:
    """``decimals()`` and ``latestRoundData()`` of the feed at ``address``, at ``block``."""
    addr = check_address(address, field="feed")
    _require_code(rpc, addr, block, "Chainlink feed")
    try:
        (dec,) = decode_result(["uint8"], rpc.call(addr, encode_call("decimals()"), block),
                               what=f"feed {addr} decimals()")
        round_id, answer, _started, updated_at, _answered_in = decode_result(
            ["uint80", "int256", "uint256", "uint256", "uint80"],
            rpc.call(addr, encode_call("latestRoundData()"), block), what=f"feed {addr} latestRoundData()")
    except CallReverted as exc:
        raise VerificationFailed(f"feed {addr} reverted at block {block}: {exc.reason}") from None
    return FeedRound(answer, dec, updated_at, round_id)


def check_feed_age(rpc: RpcClient, feed: FeedRound, block: int, max_age: int, *, address: str = "feed") -> int:
    """Reject a stale (or empty, or future-dated) round: ``timestamp(block) − updated_at ≤ max_age``.

    Returns the age in seconds."""
    if not isinstance(max_age, int) or max_age < 0:
        raise BadInput("max feed age must be a non-negative number of seconds", field="max_feed_age")
    ts = rpc.block_timestamp(block)
    if feed.updated_at == 0:
        raise VerificationFailed(f"{address}: round {feed.round_id} has no data (updatedAt = 0)")
    if feed.updated_at > ts:
        raise VerificationFailed(f"{address}: round {feed.round_id} claims updatedAt {feed.updated_at}, after "
                                 f"block {block}'s timestamp {ts}")
    age = ts - feed.updated_at
    if age > max_age:
        raise VerificationFailed(f"{address}: stale round {feed.round_id}: updated {age} s before block {block} "
                                 f"(max age {max_age} s)")
    return age


def feed_to_ledger_units(feed: FeedRound, ledger_decimals: int) -> int:
    """The feed's answer in ledger minor units (rounded down); a negative answer is a failure."""
    if feed.answer < 0:
        raise VerificationFailed(f"feed answer {feed.answer} is negative")
    return to_ledger_units(feed.answer, feed.decimals, ledger_decimals)


__all__ = [
    "ERC1271_MAGIC", "AssetBalance", "EthereumReport", "FeedRound", "VerifiedAddress", "check_feed_age",
    "eip191_hash", "erc20_balance", "erc20_decimals", "feed_to_ledger_units", "read_feed", "recover_signer",
    "sign_message", "to_ledger_units", "vault_signature", "verify_address",
    "verify_ethereum", "verify_ownership",
]
