"""Poseidon over the BN254 scalar field, bit-compatible with circomlib's ``Poseidon(n)`` template.

Parameters (circomlib 2.0.5, ``SPEC.md §16`` §2): width ``t = n + 1`` for ``n = 1 .. 16``
inputs, S-box ``x^5``, ``R_F = 8`` full rounds, ``R_P`` partial rounds from circomlib's table
(56, 57, 56, 60, 60, 63, 64, 63, 60, 66, 60, 65, 70, 60, 64, 68 for t = 2 .. 17), round constants
``C`` and MDS matrices ``M`` from ``poseidon_constants.json`` (written by
``circuits/gen_poseidon_constants.py``, which re-derives them with the reference Grain LFSR).

This is the *plain* permutation of the Poseidon paper (and of circomlib's ``poseidon_old.circom`` /
circomlibjs' ``poseidon_reference``): for each round ``r = 0 .. R_F + R_P − 1``

1. add round constants: ``s[i] += C[r·t + i]``;
2. S-box: ``s[i] = s[i]^5`` for every ``i`` in a full round (the first and last ``R_F/2`` rounds),
   only ``s[0]`` in a partial round;
3. mix: ``s = M · s``, i.e. ``s'[i] = Σ_j M[i][j]·s[j]``.

The initial state is ``[0, in_0, ..., in_{n-1}]`` (capacity element 0) and the hash is ``s[0]`` after
the last round. circomlib's circuit evaluates the same function with pre-multiplied ("optimised")
constants; outputs are identical, which the tests check against circomlib's vectors and the circuit.

All arithmetic is on Python integers reduced modulo ``P``; inputs must already be field elements.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources

P = 21888242871839275222246405745257275088548364400416034343698204186575808495617
"""The BN254 (alt_bn128) scalar field modulus ``r``: circom's prime and the Groth16 public-input field."""

FULL_ROUNDS = 8
MAX_INPUTS = 16
CONSTANTS_FILE = "poseidon_constants.json"


@dataclass(frozen=True)
class PoseidonParams:
    """The constants of one width ``t``: round constants per round and the MDS matrix (row-major)."""

    t: int
    full_rounds: int
    partial_rounds: int
    round_constants: tuple[tuple[int, ...], ...]
    mds: tuple[tuple[int, ...], ...]

    @property
    def rounds(self) -> int:
        return self.full_rounds + self.partial_rounds


@cache
def _constants_document() -> dict:
    text = resources.files(__package__).joinpath(CONSTANTS_FILE).read_text(encoding="utf-8")
    doc = json.loads(text)
    if int(doc["field"]) != P or doc["full_rounds"] != FULL_ROUNDS:
        raise RuntimeError(f"{CONSTANTS_FILE} is not for BN254 with {FULL_ROUNDS} full rounds")
    return doc


@cache
def params(t: int) -> PoseidonParams:
    """Load and shape the constants of width ``t`` (2 ≤ t ≤ 17), once per process."""
    if not 2 <= t <= MAX_INPUTS + 1:
        raise ValueError(f"Poseidon width t = {t} is outside 2..{MAX_INPUTS + 1}")
    doc = _constants_document()
    width = doc["widths"][str(t)]
    partial = int(doc["partial_rounds"][str(t)])
    flat = [int(v, 16) for v in width["C"]]
    rounds = FULL_ROUNDS + partial
    if len(flat) != t * rounds:
        raise RuntimeError(f"{CONSTANTS_FILE}: t = {t} has {len(flat)} round constants, expected {t * rounds}")
    mds = tuple(tuple(int(v, 16) for v in row) for row in width["M"])
    if len(mds) != t or any(len(row) != t for row in mds):
        raise RuntimeError(f"{CONSTANTS_FILE}: M for t = {t} is not {t}x{t}")
    constants = tuple(tuple(flat[r * t : (r + 1) * t]) for r in range(rounds))
    return PoseidonParams(t, FULL_ROUNDS, partial, constants, mds)


def permute(state: Sequence[int], prm: PoseidonParams | None = None) -> list[int]:
    """The Poseidon permutation of a full state of ``t`` field elements (the plain form; see module doc)."""
    prm = prm or params(len(state))
    if len(state) != prm.t:
        raise ValueError(f"state has {len(state)} elements, the parameters are for t = {prm.t}")
    s = list(state)
    half = prm.full_rounds // 2
    last_partial = half + prm.partial_rounds
    mds = prm.mds
    for r, rc in enumerate(prm.round_constants):
        s = [x + c for x, c in zip(s, rc)]
        if r < half or r >= last_partial:
            s = [pow(x, 5, P) for x in s]
        else:
            s[0] = pow(s[0], 5, P)
        s = [sum(m * x for m, x in zip(row, s)) % P for row in mds]
    return s


def check_field_element(x: int, what: str = "value") -> int:
    """``x`` itself if it is an ``int`` (not ``bool``) in ``[0, P)``; else ``ValueError`` naming ``what``."""
    if not isinstance(x, int) or isinstance(x, bool):
        raise ValueError(f"{what} must be an integer, not {type(x).__name__}")
    if not 0 <= x < P:
        raise ValueError(f"{what} {x} is not a BN254 scalar field element (must be in [0, p))")
    return x


def poseidon(inputs: Sequence[int]) -> int:
    """circomlib ``Poseidon(len(inputs))`` of 1..16 field elements: ``permute([0, *inputs])[0]``."""
    n = len(inputs)
    if not 1 <= n <= MAX_INPUTS:
        raise ValueError(f"Poseidon takes 1..{MAX_INPUTS} inputs, got {n}")
    for i, x in enumerate(inputs):
        check_field_element(x, f"Poseidon input {i}")
    return permute([0, *inputs], params(n + 1))[0]


def poseidon2(left: int, right: int) -> int:
    """``Poseidon(left, right)`` (t = 3): the inner node of a batch tree."""
    return poseidon((left, right))
