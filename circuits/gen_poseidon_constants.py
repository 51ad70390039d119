"""Generate ``por/zk/poseidon_constants.json`` from circomlib's Poseidon constants.

    python circuits/gen_poseidon_constants.py [--check]

Source: ``node_modules/circomlib/circuits/poseidon_constants_old.circom`` of the pinned circomlib
(package.json), which holds the *plain* (unoptimised) parameters of every width ``t = 2 .. 17``:
the ``t·(R_F + R_P)`` round constants ``C`` and the ``t × t`` MDS matrix ``M``. circomlib's current
``poseidon.circom`` evaluates the same permutation with the optimised constants of
``poseidon_constants.circom`` (C', S, M, P); the outputs are identical (``tests/test_zk.py`` checks
the Python permutation against circomlib's published vectors and against the compiled circuit).

Two independent checks run before anything is written:

* ``M`` equals the ``POSEIDON_M`` of the optimised file (circomlib's ``Mix`` there multiplies by the
  transpose, so it is compared transposed), i.e. both circomlib files agree;
* every round constant is re-derived from the Poseidon reference generator
  (``generate_parameters_grain.sage 1 0 254 t 8 R_P p``: the Grain LFSR in self-shrinking mode,
  254-bit draws with rejection of values ≥ p) -- see :func:`grain_round_constants`; and ``M`` is the
  Cauchy matrix ``1 / (x_i + y_j)`` of the first ``2t`` draws that follow, as the reference script
  builds it (:func:`grain_mds`). So the constants do not rest on circomlib alone.

``--check`` only verifies that the existing JSON file is what this script would write. The output is
deterministic (no timestamps): sorted keys, lowercase ``0x`` hex, one final newline.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CIRCOMLIB = ROOT / "node_modules" / "circomlib"
PLAIN = CIRCOMLIB / "circuits" / "poseidon_constants_old.circom"
OPTIMISED = CIRCOMLIB / "circuits" / "poseidon_constants.circom"
OUT = ROOT / "por" / "zk" / "poseidon_constants.json"

P = 21888242871839275222246405745257275088548364400416034343698204186575808495617
"""BN254 scalar field modulus (circom's default prime ``bn128``)."""
FULL_ROUNDS = 8
PARTIAL_ROUNDS = [56, 57, 56, 60, 60, 63, 64, 63, 60, 66, 60, 65, 70, 60, 64, 68]
"""circomlib ``N_ROUNDS_P[t - 2]`` for t = 2 .. 17 (poseidon.circom)."""
WIDTHS = range(2, 18)
FIELD_BITS = 254

_NUM = re.compile(r"0x[0-9a-fA-F]+|[0-9]+")


# ---------------------------------------------------------------- parsing circomlib

def _function_body(text: str, name: str) -> str:
    start = text.index(f"function {name}(t)")
    nxt = text.find("\nfunction ", start + 1)
    return text[start : nxt if nxt >= 0 else len(text)]


def _branches(body: str) -> dict[int, str]:
    """Split ``if (t == n) { return ...; } else if ...`` into ``{n: text of the return value}``."""
    out: dict[int, str] = {}
    heads = list(re.finditer(r"if\s*\(\s*t\s*==\s*(\d+)\s*\)\s*\{", body))
    for i, m in enumerate(heads):
        end = heads[i + 1].start() if i + 1 < len(heads) else len(body)
        chunk = body[m.end() : end]
        ret = re.search(r"return\s*(\[.*?\])\s*;", chunk, re.S)
        if ret is None:
            raise SystemExit(f"no return value for t = {m.group(1)}")
        out[int(m.group(1))] = ret.group(1)
    return out


def _numbers(text: str) -> list[int]:
    return [int(tok, 0) for tok in _NUM.findall(text)]


def _matrix(text: str, t: int) -> list[list[int]]:
    flat = _numbers(text)
    if len(flat) != t * t:
        raise SystemExit(f"M for t = {t} has {len(flat)} entries, expected {t * t}")
    return [flat[i * t : (i + 1) * t] for i in range(t)]


def parse_plain(path: Path) -> dict[int, tuple[list[int], list[list[int]]]]:
    """``{t: (C, M)}`` from circomlib's plain constants file."""
    text = path.read_text()
    cs = _branches(_function_body(text, "POSEIDON_C"))
    ms = _branches(_function_body(text, "POSEIDON_M"))
    out = {}
    for t in WIDTHS:
        c = _numbers(cs[t])
        want = t * (FULL_ROUNDS + PARTIAL_ROUNDS[t - 2])
        if len(c) != want:
            raise SystemExit(f"C for t = {t} has {len(c)} entries, expected {want}")
        out[t] = (c, _matrix(ms[t], t))
    return out


def parse_optimised_m(path: Path) -> dict[int, list[list[int]]]:
    text = path.read_text()
    ms = _branches(_function_body(text, "POSEIDON_M"))
    return {t: _matrix(ms[t], t) for t in WIDTHS}


# ---------------------------------------------------------------- Grain LFSR (reference generator)

def _grain_bits(t: int, partial_rounds: int) -> Iterator[int]:
    """The reference script's bit stream: an 80-bit Grain LFSR seeded with the parameters, self-shrunk.

    Seed bits: field = 1 (2 bits), S-box = 0 for x^5 (4 bits), n = 254 (12), t (12), R_F (10),
    R_P (10), then thirty 1 bits; the LFSR is clocked 160 times before output starts.
    """
    seed = f"{1:02b}{0:04b}{FIELD_BITS:012b}{t:012b}{FULL_ROUNDS:010b}{partial_rounds:010b}" + "1" * 30
    state = [int(b) for b in seed]

    def clock() -> int:
        bit = state[62] ^ state[51] ^ state[38] ^ state[23] ^ state[13] ^ state[0]
        state.pop(0)
        state.append(bit)
        return bit

    for _ in range(160):
        clock()
    while True:
        first = clock()
        second = clock()
        if first:
            yield second


def _draw(bits: Iterator[int], n: int = FIELD_BITS) -> int:
    v = 0
    for _ in range(n):
        v = (v << 1) | next(bits)
    return v


def grain_round_constants(t: int) -> tuple[list[int], Iterator[int]]:
    """Round constants of width ``t`` as the reference script draws them, and the stream after them."""
    rp = PARTIAL_ROUNDS[t - 2]
    bits = _grain_bits(t, rp)
    out = []
    for _ in range(t * (FULL_ROUNDS + rp)):
        v = _draw(bits)
        while v >= P:
            v = _draw(bits)
        out.append(v)
    return out, bits


def grain_mds(bits: Iterator[int], t: int) -> list[list[int]]:
    """The first Cauchy-matrix candidate ``M[i][j] = 1 / (x_i + y_j)`` of the reference script.

    (The script re-draws when the 2t values repeat or a candidate fails its invariant-subspace tests;
    for every t here the first candidate is the one circomlib ships, which :func:`main` checks.)
    """
    vals = [_draw(bits) % P for _ in range(2 * t)]
    if len(set(vals)) != 2 * t:
        raise SystemExit(f"t = {t}: repeated Cauchy values; the reference script would re-draw")
    xs, ys = vals[:t], vals[t:]
    return [[pow((x + y) % P, -1, P) for y in ys] for x in xs]


# ---------------------------------------------------------------- output

def build() -> dict[str, object]:
    """The JSON document, after cross-checking both circomlib files and the Grain derivation."""
    plain = parse_plain(PLAIN)
    optimised = parse_optimised_m(OPTIMISED)
    widths: dict[str, object] = {}
    for t, (c, m) in plain.items():
        transposed = [list(row) for row in zip(*optimised[t])]
        if m != transposed:
            raise SystemExit(f"t = {t}: M of the plain and the optimised circomlib files differ")
        grain_c, bits = grain_round_constants(t)
        if c != grain_c:
            raise SystemExit(f"t = {t}: circomlib's round constants are not the Grain LFSR's")
        if m != grain_mds(bits, t):
            raise SystemExit(f"t = {t}: circomlib's MDS matrix is not the reference Cauchy matrix")
        if any(not 0 <= v < P for v in c) or any(not 0 <= v < P for row in m for v in row):
            raise SystemExit(f"t = {t}: a constant is not a field element")
        widths[str(t)] = {"C": [hex(v) for v in c], "M": [[hex(v) for v in row] for row in m]}
    version = json.loads((CIRCOMLIB / "package.json").read_text())["version"]
    return {
        "description": "Poseidon (x^5, 8 full rounds) over the BN254 scalar field: circomlib's plain "
                       "round constants C (t*(8+R_P), round-major) and MDS matrices M (row-major; "
                       "new_state[i] = sum_j M[i][j]*state[j]) for t = 2..17",
        "source": f"circomlib {version} circuits/poseidon_constants_old.circom "
                  f"(sha256 {hashlib.sha256(PLAIN.read_bytes()).hexdigest()})",
        "generator": "circuits/gen_poseidon_constants.py (re-derives every constant with the "
                     "reference Grain LFSR before writing)",
        "field": str(P),
        "full_rounds": FULL_ROUNDS,
        "partial_rounds": {str(t): PARTIAL_ROUNDS[t - 2] for t in WIDTHS},
        "widths": widths,
    }


def render(doc: dict[str, object]) -> bytes:
    return (json.dumps(doc, sort_keys=True, indent=1) + "\n").encode()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="verify the existing file instead of writing it")
    args = ap.parse_args()
    if not PLAIN.is_file():
        print(f"error: {PLAIN} missing; run scripts/setup-node.sh", file=sys.stderr)
        return 2
    data = render(build())
    if args.check:
        same = OUT.is_file() and OUT.read_bytes() == data
        print(f"{OUT}: {'up to date' if same else 'DIFFERS'}")
        return 0 if same else 1
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_bytes(data)
    print(f"wrote {OUT} ({len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
