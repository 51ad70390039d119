"""A structure-aware mutator: JSON documents mutated as trees, text and hex as bytes, from a seeded RNG.

Deterministic for a given ``random.Random``: the default test run (a fixed seed) always tries the same
inputs. The atheris engine uses it as a custom mutator beside libFuzzer's own byte mutations.
"""

from __future__ import annotations

import json
import random
from typing import Any

MAX_MUTANT = 17 << 20
"""The largest mutant made: just over the largest size limit of a document kind that the harnesses read."""

HOSTILE_STRINGS = [
    "", " ", "0", "-0", "00", "01", "-1", "1e5", "1E-7", "0x10", "+1", "1_000", "NaN", "Infinity", "٣",
    "18446744073709551615", "18446744073709551616", "340282366920938463463374607431768211456", "9" * 5000,
    "0" * 64, "f" * 64, "F" * 64, "0" * 63, "0" * 65, "0" * 66, "02" + "0" * 64, "03" + "f" * 64, "g" * 64,
    "0x" + "0" * 40, "0x" + "ab" * 65, "\u0000", "\ud800", "\u202e", "<script>alert(1)</script>", "\"'><",
    "[/x]", "[bold]", "../../../../etc/passwd", "/dev/zero", "/dev/urandom", "C:\\x", "x" * 100_000,
    "por-proof", "por-snapshot", "por-log-head", "por-reserves", "public", "hiding", "zk", "ethereum",
    "bitcoin", "mainnet", "regtest", "proprietary", "BTC", "alice", "groth16", "bn128", "native", "erc20",
]
HOSTILE_VALUES: list[Any] = [
    None, True, False, 0, 1, -1, 2, 7, 32, 33, 64, 65, 255, 256, 2**31, 2**32, 2**53 + 1, 2**63, 2**64 - 1, 2**64,
    -(2**63), 10**30, 10**4000, 0.5, 1e308, -0.0, float("nan"), float("inf"), [], {}, [None], [[]], {"": None},
    [0] * 300, ["0" * 64] * 200,
]
TOKENS = [b'"', b"\\", b"\\u0000", b"\\ud800", b"[", b"]", b"{", b"}", b",", b":", b"null", b"true", b"-",
          b"1e999", b"NaN", b"-Infinity", b"\xff", b"\xc3", b"\x00", b"\r", b"\n", b"\r\n", "\ufeff".encode(), b",,", b'""', b"0" * 30, b"9" * 5000, b"[" * 70, b"{\"a\":" * 70]


def _paths(doc: Any, path: tuple = (), out: list | None = None, limit: int = 4000) -> list[tuple]:
    """Every path to a node of ``doc`` (iteratively; at most ``limit``)."""
    out = [] if out is None else out
    stack = [(doc, path)]
    while stack and len(out) < limit:
        node, p = stack.pop()
        out.append(p)
        if isinstance(node, dict):
            stack += [(v, p + (k,)) for k, v in node.items()]
        elif isinstance(node, list):
            stack += [(v, p + (i,)) for i, v in enumerate(node)]
    return out


def _get(doc: Any, path: tuple) -> Any:
    for k in path:
        doc = doc[k]
    return doc


def _set(doc: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    _get(doc, path[:-1])[path[-1]] = value
    return doc


class Mutator:
    def __init__(self, rng: random.Random, pool: list[bytes] | None = None) -> None:
        self.rng = rng
        self.pool = pool if pool is not None else []

    # -------------------------------------------------------------- entry point

    def mutate(self, data: bytes, kind: str) -> bytes:
        r = self.rng
        n = 1 + (r.random() < 0.3) + (r.random() < 0.1)
        for _ in range(n):
            if kind == "json" and r.random() < 0.8:
                data = self.mutate_json(data)
            elif kind == "hex" and r.random() < 0.6:
                data = self.mutate_hex(data)
            else:
                data = self.mutate_bytes(data)
            if len(data) > MAX_MUTANT:  # the documents' size limits are all below 16 MiB + 1; stay near them
                data = data[:MAX_MUTANT]
        return data

    # -------------------------------------------------------------- JSON trees

    def mutate_json(self, data: bytes) -> bytes:
        r = self.rng
        try:
            doc = json.loads(data)
        except (ValueError, UnicodeDecodeError, RecursionError):
            return self.mutate_bytes(data)
        paths = _paths(doc)
        path = r.choice(paths)
        node = _get(doc, path)
        op = r.randrange(12)
        if op == 0:
            doc = _set(doc, path, self._hostile())
        elif op == 1 and path:  # delete the node
            parent = _get(doc, path[:-1])
            del parent[path[-1]]
        elif op == 2 and isinstance(node, dict):  # an unknown key
            node[r.choice(["x", "version", "format", "", "__proto__", "extra"])] = self._hostile()
        elif op == 3 and isinstance(node, list) and node:  # repeat an element many times (the mutant < 4 MiB)
            item = node[r.randrange(len(node))]
            times = r.choice([1, 2, 63, 64, 65, 129, 1000, 5000])
            node[:] = node + [item] * max(1, min(times, MAX_MUTANT // max(1, len(json.dumps(item)))))
        elif op == 4 and isinstance(node, list) and len(node) > 1:
            r.shuffle(node) if r.random() < 0.5 else node.pop(r.randrange(len(node)))
        elif op == 5 and isinstance(node, str):
            doc = _set(doc, path, self._mutate_str(node))
        elif op == 6 and isinstance(node, int) and not isinstance(node, bool):
            doc = _set(doc, path, r.choice([node + 1, node - 1, -node, node * 2**32, str(node), float(node) if abs(node) < 2**1000 else 0.5, 0]))
        elif op == 7:  # a value from elsewhere in the document (right shape, wrong place)
            other = _get(doc, r.choice(paths))
            doc = _set(doc, path, json.loads(json.dumps(other)))
        elif op == 8:  # the same value from another seed
            doc = self._splice_json(doc, path)
        elif op == 9:  # wrap in a list or an object
            doc = _set(doc, path, [node] if r.random() < 0.5 else {"value": node})
        elif op == 10 and isinstance(node, dict) and node:  # rename a key
            k = r.choice(list(node))
            node[self._mutate_str(str(k))] = node.pop(k)
        else:
            doc = _set(doc, path, self._hostile())
        return self._dump(doc)

    def _dump(self, doc: Any) -> bytes:
        r = self.rng
        text = json.dumps(doc, indent=r.choice([None, 2]), sort_keys=r.random() < 0.5,
                          ensure_ascii=r.random() < 0.3)
        if r.random() < 0.05:  # a duplicated key, which json.dumps cannot write
            i = text.find('"')
            if i >= 0 and text.startswith("{"):
                end = text.find(",", i)
                if end > 0:
                    text = text[: end + 1] + text[1: end + 1] + text[end + 1:]
        return text.encode("utf-8", "surrogatepass")

    def _hostile(self) -> Any:
        r = self.rng
        if r.random() < 0.5:
            return r.choice(HOSTILE_STRINGS)
        v = r.choice(HOSTILE_VALUES)
        return json.loads(json.dumps(v)) if isinstance(v, (list, dict)) else v

    def _mutate_str(self, s: str) -> str:
        r = self.rng
        if not s:
            return r.choice(HOSTILE_STRINGS)
        i = r.randrange(len(s))
        op = r.randrange(8)
        if op == 0:  # one character changed (a flipped hex digit keeps the shape)
            return s[:i] + r.choice("0123456789abcdefABCDEF.-_ /\\\"x\u00e9") + s[i + 1:]
        if op == 1:
            return s[:i]
        if op == 2:
            return s + r.choice(["0", "00", "a", " ", "\n", s])
        if op == 3:
            return s.upper() if s != s.upper() else s.lower()
        if op == 4:
            return s[:i] + s[i + 1:]
        if op == 5:
            return s * r.choice([2, 10, 1000]) if len(s) < 5000 else s + s
        if op == 6:
            return r.choice(["-", "+", " ", "0", "\ufeff"]) + s
        return r.choice(HOSTILE_STRINGS)

    def _splice_json(self, doc: Any, path: tuple) -> Any:
        r = self.rng
        if not self.pool:
            return doc
        try:
            other = json.loads(r.choice(self.pool))
        except (ValueError, UnicodeDecodeError, RecursionError):
            return doc
        try:
            return _set(doc, path, _get(other, path))
        except (KeyError, IndexError, TypeError):
            return _set(doc, path, _get(other, r.choice(_paths(other))))

    # -------------------------------------------------------------- bytes and hex

    def mutate_hex(self, data: bytes) -> bytes:
        r = self.rng
        if not data:
            return b"00"
        i = r.randrange(len(data))
        op = r.randrange(6)
        if op == 0:
            return data[:i] + bytes([r.choice(b"0123456789abcdef")]) + data[i + 1:]
        if op == 1:  # cut or grow by whole fields (33-byte points, 32-byte scalars, a 66-byte round)
            n = 2 * r.choice([1, 32, 33, 66])
            return data[:-n] if r.random() < 0.5 else data + data[-n:]
        if op == 2:  # a point at an offset replaced by an invalid or identity encoding
            j = i - i % 2
            return data[:j] + r.choice([b"00" * 33, b"04" + b"ff" * 32, b"02" + b"ff" * 32, b"05" * 33]) + data[j + 66:]
        if op == 3:  # a scalar set to the group order or above
            j = i - i % 2
            return data[:j] + b"ff" * 32 + data[j + 64:]
        if op == 4:
            return data.upper()
        return data[:i] + data[i + 1:]

    def mutate_bytes(self, data: bytes) -> bytes:
        r = self.rng
        if not data:
            return r.choice(TOKENS)
        i = r.randrange(len(data))
        op = r.randrange(9)
        if op == 0:
            b = bytearray(data)
            b[i] ^= 1 << r.randrange(8)
            return bytes(b)
        if op == 1:
            return data[:i] + bytes([r.randrange(256)]) + data[i + 1:]
        if op == 2:
            return data[:i] + r.choice(TOKENS) + data[i:]
        if op == 3:
            j = min(len(data), i + r.randrange(1, 64))
            return data[:i] + data[j:]
        if op == 4:
            j = min(len(data), i + r.randrange(1, 64))
            return data[:i] + data[i:j] * r.choice([2, 3, 100]) + data[i:]
        if op == 5:
            return data[:i]
        if op == 6 and self.pool:
            other = r.choice(self.pool)
            return data[:i] + other[r.randrange(len(other) or 1):] if other else data
        if op == 7:  # a line repeated (ledgers: duplicate rows, long files)
            lines = data.split(b"\n")
            k = r.randrange(len(lines))
            return b"\n".join(lines[:k] + [lines[k]] * r.choice([2, 50]) + lines[k:])
        return data[:i] + r.choice(TOKENS) * r.choice([1, 2, 10]) + data[i + 1:]
