"""Circom witness files: read and write ``.wtns``, map signal names through ``.sym``, extract levels.

``.wtns`` (iden3 binary, version 2): ``"wtns" ‖ u32le(2) ‖ u32le(2)``, then section 1
(``u32le(1) ‖ u64le(size) ‖ u32le(n8) ‖ prime[n8] (LE) ‖ u32le(count)``) and section 2
(``u32le(2) ‖ u64le(size) ‖ count values of n8 bytes, little-endian``). Wire 0 is the constant 1,
wires ``1 .. nPublic`` the public signals. ``.sym`` lines are ``label,wire,component,name`` with
``wire = -1`` for signals the optimiser removed.

Used by the tests to forge witnesses (to show a forged witness yields no verifying proof) and by
:func:`por.zk.prover.prove_batch` to read the Poseidon levels the circuit computed.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from pathlib import Path

from por.core.errors import BadInput
from por.zk.poseidon import P

N8 = 32


def read_witness(path: Path) -> list[int]:
    """The values of a ``.wtns`` file over the BN254 scalar field."""
    data = Path(path).read_bytes()
    if data[:4] != b"wtns" or len(data) < 12:
        raise BadInput("not a .wtns file", file=str(path))
    n_sections = struct.unpack_from("<I", data, 8)[0]
    pos, n8, count, values = 12, 0, 0, None
    for _ in range(n_sections):
        kind, size = struct.unpack_from("<IQ", data, pos)
        pos += 12
        if kind == 1:
            n8 = struct.unpack_from("<I", data, pos)[0]
            if int.from_bytes(data[pos + 4 : pos + 4 + n8], "little") != P:
                raise BadInput("witness is not over the BN254 scalar field", file=str(path))
            count = struct.unpack_from("<I", data, pos + 4 + n8)[0]
        elif kind == 2:
            values = [int.from_bytes(data[pos + i * n8 : pos + (i + 1) * n8], "little") for i in range(count)]
        pos += size
    if values is None or len(values) != count or any(v >= P for v in values):
        raise BadInput("truncated or invalid .wtns file", file=str(path))
    return values


def write_witness(path: Path, values: Sequence[int]) -> None:
    """Write ``values`` (field elements) as a ``.wtns`` file in the layout snarkjs writes."""
    if any(not 0 <= v < P for v in values):
        raise ValueError("witness values must be field elements")
    header = struct.pack("<I", N8) + P.to_bytes(N8, "little") + struct.pack("<I", len(values))
    body = b"".join(v.to_bytes(N8, "little") for v in values)
    out = b"wtns" + struct.pack("<II", 2, 2)
    out += struct.pack("<IQ", 1, len(header)) + header + struct.pack("<IQ", 2, len(body)) + body
    Path(path).write_bytes(out)


def read_symbols(path: Path) -> dict[str, int]:
    """Signal name → witness index from circom's ``.sym`` file (signals the optimiser removed: absent)."""
    out = {}
    for line in Path(path).read_text().splitlines():
        _label, wire, _component, name = line.split(",", 3)
        if int(wire) >= 0:
            out[name] = int(wire)
    return out


def levels_from_witness(sym_path: Path, k: int, values: Sequence[int]) -> list[list[int]]:
    """The Poseidon levels (leaves first, root last) of a ``Batch(k, A)`` witness.

    Reads the ``nodes[]`` signals through the ``.sym`` table (the optimiser keeps every node but
    the root, which is then the output ``root``). A fast path for a prover that has just computed
    the witness; :func:`por.zk.batch.batch_levels` recomputes the same in Python.
    """
    sym = read_symbols(sym_path)
    n = 1 << k
    flat = []
    for i in range(2 * n - 1):
        wire = sym.get(f"main.nodes[{i}]")
        if wire is None:
            if i != 2 * n - 2:
                raise BadInput(f"batch node {i} is not in the witness", file=str(sym_path))
            wire = sym["main.root"]
        flat.append(values[wire])
    levels, start = [], 0
    for level in range(k + 1):
        levels.append(flat[start : start + (n >> level)])
        start += n >> level
    return levels
