"""snarkjs Groth16 ``.zkey`` files: read the header, write the derived keys of the native prover (SPEC.md §16.15).

A zkey (snarkjs 0.7, ``zkey_utils.js``) is a binary file ``"zkey" ‖ u32(version) ‖ u32(n_sections)`` followed
by sections ``u32(type) ‖ u64(size) ‖ data``: 1 protocol (1 = Groth16), 2 header (``n8q, q, n8r, r, nVars,
nPublic, domainSize, α₁, β₁, β₂, γ₂, δ₁, δ₂``), 3 IC, 4 the constraint coefficients, 5 ``A`` (G1 per
variable), 6 ``B₁`` (G1), 7 ``B₂`` (G2), 8 ``C`` (the private variables' ``L`` points), 9 ``H`` (one G1 point
per domain element), 10 the contributions. Field elements are 32-byte little-endian Montgomery form; the
point at infinity is all zeros.

:func:`derived_zkeys` writes the three keys :mod:`por.zk.native` proves with: each keeps the circuit and
replaces some points by the point at infinity, so that one output of the (randomised) native prover no
longer depends on its own ``r, s``:

* ``c``  -- ``δ₁ = δ₂ = α₁ = β₁ = 0`` and sections ``A``, ``B₁`` zeroed: the prover's ``B`` is
  ``B₀ = β₂ + Σ wᵢ·B₂ᵢ`` and its ``C`` is ``C₀ = Σ wᵢ·Lᵢ + H(w)`` (the QAP part), both free of ``r, s``;
* ``a``  -- ``δ = 0``, ``B₂``, ``L`` and ``H`` points zeroed: its ``A`` is ``A₀ = α₁ + Σ wᵢ·Aᵢ``;
* ``b1`` -- the same with section ``A`` := ``B₁`` and ``α₁`` := ``β₁``: its ``A`` is ``B₁,₀ = β₁ + Σ wᵢ·B₁ᵢ``.

The proof for the batch's own ``r, s`` is then ``A = A₀ + r·δ₁``, ``B = B₀ + s·δ₂``, ``C = C₀ + s·A + r·B₁,₀``
-- the same group elements snarkjs computes for the same ``r, s``.
"""

from __future__ import annotations

import hashlib
import os
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path

from por.core.errors import BadInput

N8 = 32
"""Bytes of a BN254 base- or scalar-field element in a zkey."""
G1_BYTES, G2_BYTES = 2 * N8, 4 * N8
Q = 21888242871839275222246405745257275088696311157297823662689037894645226208583
R_MONT = pow(2, 256, Q)
R_MONT_INV = pow(R_MONT, -1, Q)
SECTION_HEADER, SECTION_IC, SECTION_COEFS = 2, 3, 4
SECTION_A, SECTION_B1, SECTION_B2, SECTION_C, SECTION_H = 5, 6, 7, 8, 9
DERIVED = ("c", "a", "b1")
"""The derived keys :func:`derived_zkeys` writes, by name."""


@dataclass(frozen=True)
class ZkeyHeader:
    """The Groth16 header of a zkey (section 2), coordinates in standard form."""

    n_vars: int
    n_public: int
    domain_size: int
    delta1: tuple[int, int]
    delta2: tuple[tuple[int, int], tuple[int, int]]


@dataclass(frozen=True)
class _Zkey:
    data: bytes
    sections: dict[int, tuple[int, int]]  # type -> (offset of the data, size)
    header_offset: int  # offset of α₁ in section 2

    def section(self, kind: int) -> bytes:
        off, size = self.sections[kind]
        return self.data[off:off + size]


def _fq(raw: bytes) -> int:
    """A Montgomery-form base-field element (32 bytes, little-endian) in standard form."""
    return int.from_bytes(raw, "little") * R_MONT_INV % Q


def _parse(data: bytes, source: str) -> _Zkey:
    if data[:4] != b"zkey" or len(data) < 12:
        raise BadInput("not a snarkjs zkey", file=source)
    n_sections = struct.unpack_from("<I", data, 8)[0]
    sections: dict[int, tuple[int, int]] = {}
    pos = 12
    for _ in range(n_sections):
        if pos + 12 > len(data):
            raise BadInput("truncated zkey", file=source)
        kind, size = struct.unpack_from("<IQ", data, pos)
        if kind in sections or pos + 12 + size > len(data):
            raise BadInput("malformed zkey sections", file=source)
        sections[kind] = (pos + 12, size)
        pos += 12 + size
    if any(k not in sections for k in (1, SECTION_HEADER, SECTION_IC, SECTION_COEFS, SECTION_A, SECTION_B1,
                                       SECTION_B2, SECTION_C, SECTION_H)):
        raise BadInput("the zkey lacks a Groth16 section", file=source)
    off = sections[1][0]
    if struct.unpack_from("<I", data, off)[0] != 1:
        raise BadInput("the zkey is not a Groth16 key", file=source)
    off = sections[SECTION_HEADER][0]
    n8q = struct.unpack_from("<I", data, off)[0]
    n8r = struct.unpack_from("<I", data, off + 4 + n8q)[0]
    if n8q != N8 or n8r != N8 or int.from_bytes(data[off + 4:off + 4 + N8], "little") != Q:
        raise BadInput("the zkey is not over BN254", file=source)
    return _Zkey(data, sections, off + 8 + 2 * N8 + 12)


def _header(z: _Zkey) -> ZkeyHeader:
    n_vars, n_public, domain = struct.unpack_from("<III", z.data, z.header_offset - 12)
    d1 = z.header_offset + 2 * G1_BYTES + 2 * G2_BYTES
    d2 = d1 + G1_BYTES
    c = [_fq(z.data[d1 + i * N8:d1 + (i + 1) * N8]) for i in range(2)]
    e = [_fq(z.data[d2 + i * N8:d2 + (i + 1) * N8]) for i in range(4)]
    return ZkeyHeader(n_vars, n_public, domain, (c[0], c[1]), ((e[0], e[1]), (e[2], e[3])))


def read_header(path: Path) -> ZkeyHeader:
    """The Groth16 header of the zkey at ``path`` (``BadInput`` if it is not a BN254 Groth16 zkey)."""
    return _header(_parse(Path(path).read_bytes(), str(path)))


def _write(out: Path, sections: list[tuple[int, bytes]]) -> None:
    body = b"".join(struct.pack("<IQ", kind, len(data)) + data for kind, data in sections)
    blob = b"zkey" + struct.pack("<II", 1, len(sections)) + body
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(blob)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _header_bytes(z: _Zkey, *, alpha1: bytes, beta1: bytes, zero_delta: bool, domain: int | None) -> bytes:
    raw = bytearray(z.section(SECTION_HEADER))
    base = z.header_offset - z.sections[SECTION_HEADER][0]
    if domain is not None:
        struct.pack_into("<I", raw, base - 4, domain)
    raw[base:base + G1_BYTES] = alpha1
    raw[base + G1_BYTES:base + 2 * G1_BYTES] = beta1
    if zero_delta:
        d1 = base + 2 * G1_BYTES + 2 * G2_BYTES
        raw[d1:d1 + G1_BYTES + G2_BYTES] = bytes(G1_BYTES + G2_BYTES)
    return bytes(raw)


def derived_zkeys(zkey: Path, out_dir: Path) -> tuple[ZkeyHeader, dict[str, Path]]:
    """Write the derived keys ``c``, ``a``, ``b1`` of ``zkey`` (module docstring), atomically, into
    ``out_dir/<the first 32 hex digits of sha256(zkey)>/``; return the zkey's header and ``{name: path}``.

    Keys already there are kept: the directory is named by the zkey's content, so a zkey replaced in place
    (a re-run or re-imported setup) never proves with the keys of the old one.
    """
    data = Path(zkey).read_bytes()
    z = _parse(data, str(zkey))
    head = _header(z)
    out_dir = Path(out_dir) / hashlib.sha256(data).hexdigest()[:32]
    paths = {name: out_dir / f"{name}.zkey" for name in DERIVED}
    if all(p.is_file() for p in paths.values()):
        return head, paths
    out_dir.mkdir(parents=True, exist_ok=True)
    hdr = z.header_offset
    alpha1, beta1 = z.data[hdr:hdr + G1_BYTES], z.data[hdr + G1_BYTES:hdr + 2 * G1_BYTES]
    zero_g1 = bytes(G1_BYTES)
    keep = [(k, z.section(k)) for k in sorted(z.sections) if k not in (SECTION_HEADER, SECTION_A, SECTION_B1)]
    zeros_a = bytes(len(z.section(SECTION_A)))
    _write(paths["c"], [(1, z.section(1)),
                        (SECTION_HEADER, _header_bytes(z, alpha1=zero_g1, beta1=zero_g1, zero_delta=True, domain=None)),
                        *[(k, d) for k, d in keep if k < SECTION_A], (SECTION_A, zeros_a), (SECTION_B1, zeros_a),
                        *[(k, d) for k, d in keep if k > SECTION_B1]])
    # keeping the constraints and domain: groth16py 0.2.0's reduction panics on a smaller one
    small = {SECTION_B2: bytes(head.n_vars * G2_BYTES), SECTION_C: bytes(len(z.section(SECTION_C))),
             SECTION_H: bytes(len(z.section(SECTION_H)))}
    for name, a_points, alpha in (("a", z.section(SECTION_A), alpha1), ("b1", z.section(SECTION_B1), beta1)):
        sections = [(1, z.section(1)),
                    (SECTION_HEADER, _header_bytes(z, alpha1=alpha, beta1=zero_g1, zero_delta=True, domain=None)),
                    (SECTION_IC, z.section(SECTION_IC)), (SECTION_COEFS, z.section(SECTION_COEFS)),
                    (SECTION_A, a_points), (SECTION_B1, zeros_a), (SECTION_B2, small[SECTION_B2]),
                    (SECTION_C, small[SECTION_C]), (SECTION_H, small[SECTION_H])]
        sections += [(k, d) for k, d in keep if k > SECTION_H]
        _write(paths[name], sections)
    return head, paths
