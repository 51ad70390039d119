"""A small Ethereum JSON-RPC server on loopback that answers honestly, or with one chosen fault.

Honest answers: chain id 31337, head block 16, the header of any block asked, no code at any address,
``balances[address]`` wei. Every request loop is bounded (a dribbling reply stops after 10 s); the server
binds 127.0.0.1 only and is shut down by the fixture that started it.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FAULTS = {
    "garbage": "a reply that is not JSON",
    "html_502": "an HTML error page with HTTP 502",
    "not_jsonrpc": "JSON that is not JSON-RPC",
    "batch": "a JSON list instead of one reply",
    "deep": "a reply nested 100,000 levels deep",
    "huge": "a 32 MiB reply",
    "close": "the connection closed without a reply",
    "wrong_id": "the answer to another request id",
    "error": "a JSON-RPC error for every call",
    "missing_block": "'header not found' for the attested block",
    "head_behind": "a chain head before the attested block",
    "wrong_chain": "another chain id than the attested one",
    "wrong_block": "the header of another block than the one asked",
    "bad_hash": "a header whose hash is not 32 bytes",
    "bad_balance": "a balance that is not a hex quantity",
    "number_balance": "a balance as a JSON number",
    "null_balance": "a null balance",
    "slow": "no reply within the timeout",
    "dribble": "a reply trickling in one byte at a time",
    "contract_garbage": "code at the address and garbage from eth_call (EIP-1271)",
}


class FaultyRpc:
    def __init__(self, balances: dict[str, int], fault: str | None = None, chain_id: int = 31337) -> None:
        self.balances = {k.lower(): v for k, v in balances.items()}
        self.fault = fault
        self.chain_id = chain_id
        self.calls: list[str] = []
        self._stop = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                req = json.loads(body)
                server.calls.append(req["method"])
                server.answer(self, req)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> "FaultyRpc":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    # ------------------------------------------------------------------ answers

    def honest(self, method: str, params: list) -> Any:
        if method == "eth_chainId":
            return hex(self.chain_id)
        if method == "eth_blockNumber":
            return hex(16)
        if method == "eth_getBlockByNumber":
            n = int(params[0], 16)
            return {"number": hex(n), "hash": "0x" + f"{n:064x}", "timestamp": hex(1_700_000_000 + 12 * n)}
        if method == "eth_getCode":
            return "0x"
        if method == "eth_getBalance":
            return hex(self.balances.get(params[0].lower(), 0))
        raise KeyError(method)

    def answer(self, h: BaseHTTPRequestHandler, req: dict) -> None:
        f, method, params = self.fault, req["method"], req.get("params", [])
        result: Any = None
        reply: dict[str, Any] | None = None
        if f == "garbage":
            return self._send(h, b"\x00\xffnot json at all")
        if f == "html_502":
            return self._send(h, b"<html><body>Bad Gateway</body></html>", status=502, ctype="text/html")
        if f == "not_jsonrpc":
            return self._send(h, json.dumps({"hello": "world"}).encode())
        if f == "batch":
            return self._send(h, json.dumps([{"jsonrpc": "2.0", "id": req["id"], "result": "0x1"}]).encode())
        if f == "deep":
            return self._send(h, b"[" * 100_000 + b"]" * 100_000)
        if f == "huge":
            return self._send(h, b'{"jsonrpc": "2.0", "id": %d, "result": "0x' % req["id"] + b"0" * (32 << 20) + b'"}')
        if f == "close":
            h.close_connection = True
            h.connection.shutdown(2)
            return None
        if f == "slow":
            self._stop.wait(5)
            return None
        if f == "dribble":
            payload = json.dumps({"jsonrpc": "2.0", "id": req["id"], "result": self.honest(method, params)}).encode()
            h.send_response(200)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(payload) + 50))
            h.end_headers()
            for _ in range(50):  # 10 s at most
                if self._stop.wait(0.2):
                    return None
                try:
                    h.wfile.write(b" ")
                    h.wfile.flush()
                except OSError:
                    return None
            return None
        if f == "error":
            reply = {"error": {"code": -32000, "message": "internal error"}}
        elif f == "missing_block" and method in ("eth_getBlockByNumber", "eth_getBalance", "eth_getCode"):
            reply = {"error": {"code": -32000, "message": "header not found"}}
        elif f == "head_behind" and method == "eth_blockNumber":
            result = hex(3)
        elif f == "wrong_chain" and method == "eth_chainId":
            result = hex(1)
        elif f == "wrong_block" and method == "eth_getBlockByNumber":
            result = {**self.honest(method, params), "number": hex(int(params[0], 16) + 1)}
        elif f == "bad_hash" and method == "eth_getBlockByNumber":
            result = {**self.honest(method, params), "hash": "0x1234"}
        elif f == "bad_balance" and method == "eth_getBalance":
            result = "0xzz"
        elif f == "number_balance" and method == "eth_getBalance":
            result = 10**30
        elif f == "null_balance" and method == "eth_getBalance":
            result = None
        elif f == "wrong_id":
            reply = {"result": self.honest(method, params), "id": req["id"] + 1}
        elif f == "contract_garbage" and method == "eth_getCode":
            result = "0x6001600101"
        elif f == "contract_garbage" and method == "eth_call":
            result = "0xdeadbeef"
        else:
            result = self.honest(method, params)
        doc = {"jsonrpc": "2.0", "id": req["id"]}
        doc.update(reply if reply is not None else {"result": result})
        self._send(h, json.dumps(doc).encode())
        return None

    @staticmethod
    def _send(h: BaseHTTPRequestHandler, payload: bytes, *, status: int = 200, ctype: str = "application/json") -> None:
        try:
            h.send_response(status)
            h.send_header("Content-Type", ctype)
            h.send_header("Content-Length", str(len(payload)))
            h.end_headers()
            h.wfile.write(payload)
        except OSError:
            pass
