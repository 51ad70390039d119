"""A small Ethereum JSON-RPC client (stdlib HTTP + eth-account signing).

Reads are always *at a block*: ``get_balance``, ``call`` and ``get_code`` take a block number, which
must not be beyond the chain head. Every failure of the service -- connection refused, timeout, HTTP
error, a reply that is not JSON-RPC, a block the node does not have ("header not found", pruned
state) or a block in the future, a reply over 16 MiB or not complete within the timeout (however slowly
it trickles in), an answer to another request id, a header of another block than the one asked, another
chain id than the attested one -- raises :class:`~por.core.errors.ServiceUnavailable` (exit 3) with a
message naming the URL and the block; never a traceback. A contract call that *reverts* is not a
service failure: it raises :class:`CallReverted` (a :class:`~por.core.errors.VerificationFailed`).

Transactions (deploy, transact) are signed locally with eth-account, EIP-155 chain id from
``eth_chainId``, EIP-1559 fees when the chain has a base fee, and waited for until mined.
"""

from __future__ import annotations

import http.client
import ipaddress
import itertools
import json
import re
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address

from por.core.errors import BadInput, ServiceUnavailable, VerificationFailed
from por.core.fileio import MiB, loads_json

ARTIFACTS_DIR = Path(__file__).resolve().parents[2] / "contracts" / "artifacts"
ADDRESS_RE = re.compile(r"0x[0-9a-fA-F]{40}")
_HEX_RE = re.compile(r"(?:0x)?((?:[0-9a-fA-F]{2})*)")
_KEY_RE = re.compile(r"(?:0x)?([0-9a-fA-F]{64})")

# JSON-RPC error texts meaning "this node cannot serve that block / its state"
_MISSING_BLOCK_RE = re.compile(
    r"header not found|unknown block|block not found|not found block|missing trie node|pruned|"
    r"historical state|state (?:is )?not available|history not available|required historical|"
    r"BlockOutOfRange|block out of range|beyond current head|future block|no state",
    re.IGNORECASE,
)
_REVERT_RE = re.compile(r"revert|execution reverted|invalid opcode|out of gas", re.IGNORECASE)

MAX_REPLY_BYTES = 16 * MiB
"""The largest JSON-RPC reply read; a larger one is a service error (a node's answers here are small)."""

BlockId = int | str  # an integer block number, or "latest" / "pending" / "earliest"


class CallReverted(VerificationFailed):
    """An ``eth_call`` / gas estimation / transaction reverted (the contract refused)."""

    def __init__(self, message: str, *, data: bytes = b"", where: str | None = None) -> None:
        self.data = data
        super().__init__(message, where=where)


class RpcClient:
    """JSON-RPC over HTTP(S) to one Ethereum node.

    >>> rpc = RpcClient("http://127.0.0.1:8545")      # doctest: +SKIP
    >>> rpc.get_balance("0x...", rpc.block_number())   # doctest: +SKIP
    """

    def __init__(self, url: str, *, timeout: float = 10.0, receipt_timeout: float = 120.0) -> None:
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise BadInput(f"RPC URL must be http(s)://host[:port][/path], got {url!r}", field="rpc")
        self.url = url
        self.timeout = timeout
        self.receipt_timeout = receipt_timeout
        self._ids = itertools.count(1)
        self._head = -1
        self._chain_id: int | None = None
        handlers: list[Any] = []
        if _is_loopback(parsed.hostname):
            handlers.append(urllib.request.ProxyHandler({}))  # never send loopback traffic to a proxy
        self._opener = urllib.request.build_opener(*handlers)

    def __repr__(self) -> str:
        return f"RpcClient({self.url!r})"

    # ------------------------------------------------------------------ transport

    def _exchange(self, req: urllib.request.Request) -> bytes:
        """POST ``req`` and read the reply: at most :data:`MAX_REPLY_BYTES`, all within ``timeout`` seconds.

        The socket timeout bounds each read; a server that dribbles a byte at a time would never trip it, so
        the exchange runs in a worker thread that is abandoned (it ends with its socket) at the deadline.
        """
        box: dict[str, Any] = {}

        def work() -> None:
            try:
                with self._opener.open(req, timeout=self.timeout) as resp:
                    raw = resp.read(MAX_REPLY_BYTES + 1)
                    box["raw"] = raw
            except BaseException as exc:  # handed to the caller
                box["exc"] = exc

        t = threading.Thread(target=work, name="por-rpc", daemon=True)
        t.start()
        t.join(self.timeout)
        if t.is_alive():
            raise TimeoutError()
        if "exc" in box:
            raise box["exc"]
        return box["raw"]

    def request(self, method: str, params: Sequence[Any] = (), *, block: BlockId | None = None) -> Any:
        """One JSON-RPC call; ``block`` only names the block in error messages."""
        request_id = next(self._ids)
        body = json.dumps({"jsonrpc": "2.0", "id": request_id, "method": method, "params": list(params)})
        req = urllib.request.Request(
            self.url, data=body.encode(), method="POST",
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        )
        at = f" at block {block}" if block is not None else ""
        try:
            raw = self._exchange(req)
        except urllib.error.HTTPError as exc:
            raise ServiceUnavailable(
                f"Ethereum RPC {self.url} answered HTTP {exc.code} {exc.reason} to {method}{at}") from None
        except urllib.error.URLError as exc:
            reason = exc.reason
            if isinstance(reason, (TimeoutError, socket.timeout)):
                reason = f"timed out after {self.timeout:g} s"
            raise ServiceUnavailable(f"Ethereum RPC {self.url} unreachable ({method}{at}): {reason}") from None
        except (TimeoutError, socket.timeout):
            raise ServiceUnavailable(
                f"Ethereum RPC {self.url} timed out after {self.timeout:g} s ({method}{at})") from None
        except (OSError, ValueError, http.client.HTTPException) as exc:  # ConnectionResetError, IncompleteRead
            raise ServiceUnavailable(f"Ethereum RPC {self.url} failed ({method}{at}): {exc}") from None
        if len(raw) > MAX_REPLY_BYTES:
            raise ServiceUnavailable(f"Ethereum RPC {self.url} sent a reply of more than {MAX_REPLY_BYTES} bytes "
                                     f"({method}{at})")
        try:
            doc = loads_json(raw, file=self.url, what="JSON-RPC reply")
        except BadInput:
            raise ServiceUnavailable(f"Ethereum RPC {self.url} sent a reply that is not JSON ({method}{at})") from None
        if not isinstance(doc, dict) or ("result" not in doc and "error" not in doc):
            raise ServiceUnavailable(f"Ethereum RPC {self.url} sent a reply that is not JSON-RPC ({method}{at})")
        if doc.get("id", request_id) != request_id:
            raise ServiceUnavailable(f"Ethereum RPC {self.url} answered request {doc.get('id')!r}, not {request_id} "
                                     f"({method}{at})")
        err = doc.get("error")
        if err is not None:
            msg = str(err.get("message", err)) if isinstance(err, dict) else str(err)
            data = err.get("data") if isinstance(err, dict) else None
            if _MISSING_BLOCK_RE.search(msg):
                raise ServiceUnavailable(
                    f"Ethereum RPC {self.url} cannot serve {method}{at}: {msg} "
                    "(the node does not have that block or its state; an archive node may be needed)")
            if _REVERT_RE.search(msg) or (isinstance(err, dict) and err.get("code") == 3):
                raise CallReverted(f"{method}{at} reverted: {msg}", data=_revert_data(data), where=self.url)
            raise ServiceUnavailable(f"Ethereum RPC {self.url} returned an error for {method}{at}: {msg}")
        return doc["result"]

    # ------------------------------------------------------------------ chain state

    def chain_id(self) -> int:
        if self._chain_id is None:
            self._chain_id = self._quantity(self.request("eth_chainId"), "eth_chainId")
        return self._chain_id

    def block_number(self) -> int:
        """The chain head."""
        n = self._quantity(self.request("eth_blockNumber"), "eth_blockNumber")
        self._head = max(self._head, n)
        return n

    def block_tag(self, block: BlockId) -> str:
        """The RPC block parameter for ``block``; an integer beyond the chain head is a service error."""
        if isinstance(block, str):
            if block in ("latest", "pending", "earliest", "safe", "finalized"):
                return block
            raise BadInput(f"block must be a number or 'latest', got {block!r}", field="block")
        if not isinstance(block, int) or isinstance(block, bool) or block < 0:
            raise BadInput(f"block must be a non-negative integer, got {block!r}", field="block")
        if block > self._head:
            head = self.block_number()
            if block > head:
                raise ServiceUnavailable(
                    f"block {block} is in the future: the chain head of {self.url} is block {head}")
        return hex(block)

    def get_block(self, block: BlockId) -> dict[str, Any]:
        """The block header (``number``, ``hash``, ``timestamp`` as ints/hex) at ``block``.

        The header must be the one asked for: its ``number`` equal to ``block`` (for a number) and its
        ``hash`` 32 bytes of hex; anything else is a service error naming both blocks.
        """
        res = self.request("eth_getBlockByNumber", [self.block_tag(block), False], block=block)
        if not isinstance(res, dict):
            raise ServiceUnavailable(f"Ethereum RPC {self.url} does not have block {block}")
        number = self._quantity(res.get("number"), f"number of block {block}")
        if isinstance(block, int) and number != block:
            raise ServiceUnavailable(f"Ethereum RPC {self.url} answered block {number} when asked for block {block}")
        block_hash = res.get("hash")
        if not isinstance(block_hash, str) or not re.fullmatch(r"0x[0-9a-fA-F]{64}", block_hash):
            raise ServiceUnavailable(f"Ethereum RPC {self.url} sent a malformed hash of block {block}: {block_hash!r}")
        return res

    def check_chain_id(self, expected: int | None) -> int | None:
        """With an ``expected`` chain id, the node's ``eth_chainId`` must be it (else a service error: the
        balances would be another chain's); without one nothing is asked."""
        if expected is None:
            return None
        got = self.chain_id()
        if got != expected:
            raise ServiceUnavailable(f"Ethereum RPC {self.url} serves chain id {got}, not the attested chain id "
                                     f"{expected}")
        return got

    def block_timestamp(self, block: BlockId) -> int:
        return self._quantity(self.get_block(block).get("timestamp"), f"timestamp of block {block}")

    def get_balance(self, address: str, block: BlockId) -> int:
        """Wei held by ``address`` at ``block``."""
        tag = self.block_tag(block)
        return self._quantity(self.request("eth_getBalance", [check_address(address), tag], block=block),
                              f"eth_getBalance at block {block}")

    def get_code(self, address: str, block: BlockId) -> bytes:
        """Runtime code at ``address`` at ``block`` (empty for an EOA)."""
        tag = self.block_tag(block)
        return self._data(self.request("eth_getCode", [check_address(address), tag], block=block),
                          f"eth_getCode at block {block}")

    def call(self, to: str, data: bytes, block: BlockId, *, sender: str | None = None) -> bytes:
        """``eth_call`` of ``data`` on ``to`` at ``block``; a revert raises :class:`CallReverted`."""
        tag = self.block_tag(block)
        tx: dict[str, str] = {"to": check_address(to), "data": "0x" + bytes(data).hex()}
        if sender is not None:
            tx["from"] = check_address(sender)
        return self._data(self.request("eth_call", [tx, tag], block=block), f"eth_call at block {block}")

    def get_transaction_count(self, address: str, block: BlockId = "pending") -> int:
        tag = self.block_tag(block)
        return self._quantity(self.request("eth_getTransactionCount", [check_address(address), tag], block=block),
                              "eth_getTransactionCount")

    def get_transaction_receipt(self, tx_hash: str) -> dict[str, Any] | None:
        return self.request("eth_getTransactionReceipt", [tx_hash])

    # ------------------------------------------------------------------ transactions

    def send_transaction(self, key: str | bytes | LocalAccount, *, to: str | None, data: bytes = b"",
                         value: int = 0, gas: int | None = None) -> str:
        """Sign (EIP-155 / EIP-1559) and send a transaction; returns its hash (``0x`` + 64 hex)."""
        acct = account_from_key(key)
        tx: dict[str, Any] = {
            "chainId": self.chain_id(),
            "nonce": self.get_transaction_count(acct.address, "pending"),
            "value": int(value),
            "data": bytes(data),
        }
        if to is not None:
            tx["to"] = check_address(to)
        if gas is None:
            est: dict[str, str] = {"from": acct.address, "data": "0x" + bytes(data).hex(), "value": hex(int(value))}
            if to is not None:
                est["to"] = tx["to"]
            estimate = self._quantity(self.request("eth_estimateGas", [est]), "eth_estimateGas")
            gas = estimate + estimate // 5 + 10_000
        tx["gas"] = gas
        latest = self.get_block("latest")
        base_fee = latest.get("baseFeePerGas")
        if base_fee is not None:
            try:
                tip = self._quantity(self.request("eth_maxPriorityFeePerGas"), "eth_maxPriorityFeePerGas")
            except ServiceUnavailable:
                tip = 10**9
            tx["maxPriorityFeePerGas"] = tip
            tx["maxFeePerGas"] = 2 * self._quantity(base_fee, "baseFeePerGas") + tip
        else:
            tx["gasPrice"] = self._quantity(self.request("eth_gasPrice"), "eth_gasPrice")
        signed = acct.sign_transaction(tx)
        raw = signed.raw_transaction
        tx_hash = self.request("eth_sendRawTransaction", ["0x" + bytes(raw).hex()])
        if not isinstance(tx_hash, str):
            raise ServiceUnavailable(f"Ethereum RPC {self.url} returned no transaction hash")
        return tx_hash

    def wait_for_receipt(self, tx_hash: str, *, timeout: float | None = None) -> dict[str, Any]:
        """Poll until ``tx_hash`` is mined; a reverted transaction raises :class:`CallReverted`."""
        deadline = time.monotonic() + (self.receipt_timeout if timeout is None else timeout)
        delay = 0.02
        while True:
            receipt = self.get_transaction_receipt(tx_hash)
            if receipt is not None:
                break
            if time.monotonic() > deadline:
                raise ServiceUnavailable(f"transaction {tx_hash} not mined by {self.url} in time")
            time.sleep(delay)
            delay = min(delay * 2, 1.0)
        block = self._quantity(receipt.get("blockNumber"), "receipt blockNumber")
        self._head = max(self._head, block)
        if self._quantity(receipt.get("status"), "receipt status") != 1:
            raise CallReverted(f"transaction {tx_hash} reverted in block {block}", where=self.url)
        return receipt

    def transact(self, key: str | bytes | LocalAccount, to: str | None, data: bytes = b"", *,
                 value: int = 0, gas: int | None = None) -> dict[str, Any]:
        """Send and wait: the mined receipt (``transactionHash``, ``blockNumber``, ``contractAddress`` ...)."""
        return self.wait_for_receipt(self.send_transaction(key, to=to, data=data, value=value, gas=gas))

    def deploy(self, key: str | bytes | LocalAccount, artifact: str | dict[str, Any],
               types: Sequence[str] = (), args: Sequence[Any] = ()) -> str:
        """Deploy a compiled contract (an artifact name in contracts/artifacts or its dict); its address."""
        art = load_artifact(artifact) if isinstance(artifact, str) else artifact
        code = bytes.fromhex(art["bytecode"].removeprefix("0x"))
        if types:
            code += abi_encode(list(types), list(args))
        receipt = self.transact(key, None, code)
        addr = receipt.get("contractAddress")
        if not isinstance(addr, str):
            raise ServiceUnavailable(f"Ethereum RPC {self.url} returned no contract address for the deployment")
        return to_checksum_address(addr)

    # ------------------------------------------------------------------ decoding

    def _quantity(self, value: Any, what: str) -> int:
        if isinstance(value, str) and value.startswith("0x"):
            try:
                return int(value, 16)
            except ValueError:
                pass
        raise ServiceUnavailable(f"Ethereum RPC {self.url} sent a malformed {what}: {value!r}")

    def _data(self, value: Any, what: str) -> bytes:
        if isinstance(value, str):
            m = _HEX_RE.fullmatch(value)
            if m and value.startswith("0x"):
                return bytes.fromhex(m.group(1))
        raise ServiceUnavailable(f"Ethereum RPC {self.url} sent malformed data for {what}: {value!r}")


# ---------------------------------------------------------------------- helpers


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _revert_data(data: Any) -> bytes:
    if isinstance(data, dict):
        data = data.get("data")
    if isinstance(data, str):
        m = _HEX_RE.fullmatch(data)
        if m:
            return bytes.fromhex(m.group(1))
    return b""


def check_address(address: str, *, field: str = "address") -> str:
    """``address`` as a checksummed 0x address; BadInput if it is not 20 bytes of hex or a bad EIP-55 mix."""
    if not isinstance(address, str) or not ADDRESS_RE.fullmatch(address):
        raise BadInput(f"not an Ethereum address (0x + 40 hex digits): {address!r}", field=field)
    body = address[2:]
    checksummed = to_checksum_address(address)
    if body != body.lower() and body != body.upper() and checksummed != address:
        raise BadInput(f"Ethereum address {address} has a wrong EIP-55 checksum (expected {checksummed})",
                       field=field)
    return checksummed


def parse_hex(value: str, *, field: str) -> bytes:
    """Hex string (``0x`` optional, even length) to bytes; BadInput otherwise."""
    if isinstance(value, str):
        m = _HEX_RE.fullmatch(value)
        if m:
            return bytes.fromhex(m.group(1))
    raise BadInput("must be a hex string (0x optional, even length)", field=field)


def account_from_key(key: str | bytes | LocalAccount) -> LocalAccount:
    """An eth-account signer from a 32-byte key (bytes, or 64 hex digits with optional 0x)."""
    if isinstance(key, LocalAccount):
        return key
    if isinstance(key, str):
        m = _KEY_RE.fullmatch(key.strip())
        if not m:
            raise BadInput("private key must be 64 hex digits (0x optional)", field="key")
        key = bytes.fromhex(m.group(1))
    if not isinstance(key, bytes) or len(key) != 32:
        raise BadInput("private key must be 32 bytes", field="key")
    try:
        return Account.from_key(key)
    except (ValueError, TypeError) as exc:
        raise BadInput(f"invalid secp256k1 private key: {exc}", field="key") from None


def load_private_key(path: str | Path) -> LocalAccount:
    """Read a key file: 64 hex digits (``0x`` optional), optional trailing newline."""
    path = Path(path)
    try:
        text = path.read_text("ascii").strip()
    except OSError as exc:
        raise BadInput(f"cannot read key file: {exc.strerror}", file=str(path)) from None
    except UnicodeDecodeError:
        raise BadInput("key file is not ASCII hex", file=str(path)) from None
    if not _KEY_RE.fullmatch(text):
        raise BadInput("key file must hold 64 hex digits (0x optional)", file=str(path))
    return account_from_key(text)


@lru_cache(maxsize=None)
def _artifact_cached(path: str) -> dict[str, Any]:
    return json.loads(Path(path).read_text("utf-8"))


def load_artifact(name: str) -> dict[str, Any]:
    """``contracts/artifacts/<name>.json`` (written by ``node contracts/compile.mjs``)."""
    path = ARTIFACTS_DIR / f"{name}.json"
    try:
        return _artifact_cached(str(path))
    except OSError:
        raise BadInput(f"contract artifact missing: {path} (run: node contracts/compile.mjs)") from None


def selector(signature: str) -> bytes:
    """The 4-byte function selector of ``"name(type,...)"``."""
    return keccak(text=signature)[:4]


def encode_call(signature: str, *args: Any) -> bytes:
    """Calldata for ``signature`` (e.g. ``"balanceOf(address)"``) with ``args``."""
    types = _arg_types(signature)
    return selector(signature) + (abi_encode(types, list(args)) if types else b"")


def decode_result(types: Sequence[str], data: bytes, *, what: str) -> tuple[Any, ...]:
    """ABI-decode a call result; a short or malformed result is a VerificationFailed naming ``what``."""
    try:
        return tuple(abi_decode(list(types), data, strict=True))
    except Exception as exc:  # eth_abi raises several decoding error types
        raise VerificationFailed(f"{what}: malformed return data ({len(data)} bytes): {exc}") from None


def _arg_types(signature: str) -> list[str]:
    inner = signature[signature.index("(") + 1: signature.rindex(")")]
    if not inner:
        return []
    out, depth, cur = [], 0, ""
    for ch in inner:
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
            continue
        depth += ch == "("
        depth -= ch == ")"
        cur += ch
    out.append(cur)
    return out
