"""A local development chain: start `anvil` (npm ``@foundry-rs/anvil``, from ``scripts/setup-node.sh``).

Used by ``por demo`` and by the test fixture in ``tests/anvil.py``. Listens on 127.0.0.1 only, on a
free port, with the well-known test mnemonic: never use its keys for anything real.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]  # the repository (editable install)
ANVIL_BIN = ROOT / "node_modules" / ".bin" / "anvil"
MNEMONIC = "test test test test test test test test test test test junk"
CHAIN_ID = 31337
N_ACCOUNTS = 10
START_TIMEOUT = 30.0


def _derive_keys(n: int) -> list[str]:
    from eth_account import Account

    Account.enable_unaudited_hdwallet_features()
    return ["0x" + bytes(Account.from_mnemonic(MNEMONIC, account_path=f"m/44'/60'/0'/0/{i}").key).hex()
            for i in range(n)]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rpc(url: str, method: str, params: list[Any] | None = None, timeout: float = 2.0) -> Any:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}).encode()
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(req, timeout=timeout) as resp:
        doc = json.loads(resp.read())
    if "error" in doc:
        raise RuntimeError(f"{method}: {doc['error']}")
    return doc["result"]


@dataclass
class Anvil:
    """A running anvil: ``url``, the funded default ``keys`` (hex) and their ``addresses``."""

    url: str
    port: int
    keys: list[str]
    addresses: list[str]
    chain_id: int = CHAIN_ID
    process: subprocess.Popen | None = field(default=None, repr=False)
    log_path: Path | None = None

    def rpc(self, **kw: Any):
        """A fresh :class:`por.reserves.chain.RpcClient` for this node."""
        from por.reserves.chain import RpcClient

        return RpcClient(self.url, **kw)

    def raw(self, method: str, *params: Any) -> Any:
        """A raw JSON-RPC call (anvil_*/evm_* helpers: evm_mine, evm_increaseTime, evm_snapshot ...)."""
        return _rpc(self.url, method, list(params), timeout=10.0)

    def mine(self, blocks: int = 1) -> int:
        """Mine ``blocks`` empty blocks; returns the new head."""
        self.raw("anvil_mine", hex(blocks))
        return int(self.raw("eth_blockNumber"), 16)

    def stop(self) -> None:
        proc = self.process
        if proc is None or proc.poll() is not None:
            return
        # the wrapper (node bin.mjs) and the anvil binary share the process group we created
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def start_anvil(*, extra_args: list[str] | None = None, attempts: int = 3) -> Anvil:
    """Start anvil on a free loopback port and wait until it answers (raises RuntimeError on failure)."""
    if not os.access(ANVIL_BIN, os.X_OK):
        raise FileNotFoundError(
            f"{ANVIL_BIN} is missing: the chain tests need the npm package @foundry-rs/anvil. "
            "Run scripts/setup-node.sh (npm ci) in the repository root.")
    keys = _derive_keys(N_ACCOUNTS)
    last_error = ""
    for _ in range(attempts):
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        log = Path(tempfile.mkstemp(prefix="anvil-", suffix=".log")[1])
        cmd = [str(ANVIL_BIN), "--host", "127.0.0.1", "--port", str(port), "--mnemonic", MNEMONIC,
               "--accounts", str(N_ACCOUNTS), "--chain-id", str(CHAIN_ID), *(extra_args or [])]
        with open(log, "wb") as out:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                    cwd=ROOT, start_new_session=True)
        node = Anvil(url, port, keys, [], process=proc, log_path=log)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            try:
                accounts = _rpc(url, "eth_accounts")
                node.addresses = [a for a in accounts]
                from eth_account import Account

                derived = [Account.from_key(k).address.lower() for k in keys]
                if [a.lower() for a in accounts] != derived:
                    node.stop()
                    raise RuntimeError(f"anvil accounts {accounts} are not the mnemonic's {derived}")
                return node
            except (OSError, ValueError):
                time.sleep(0.05)
        node.stop()
        tail = log.read_text(errors="replace")[-2000:]
        log.unlink(missing_ok=True)
        last_error = f"anvil on port {port} did not answer within {START_TIMEOUT:g} s (exit {proc.poll()}):\n{tail}"
    raise RuntimeError(last_error)
