"""Bitcoin Core JSON-RPC (optional, SPEC.md §13): the UTXO set of some addresses at the node's tip.

:class:`BitcoinCoreRpc` calls ``scantxoutset`` and returns a :class:`ScanResult` with the balances
and a :class:`~por.reserves.bitcoin_utxo.UtxoSnapshot` of what the node reported.
"""

from __future__ import annotations

import base64
import http.client
import ipaddress
import itertools
import json
import socket
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from por.core.errors import BadInput, ServiceUnavailable
from por.reserves.bitcoin_address import _check_network, parse_address
from por.reserves.bitcoin_utxo import _HEX64_RE, BITCOIN_DECIMALS, Utxo, UtxoSnapshot, _is_int

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
