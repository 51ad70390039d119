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

**Fast path.** :func:`permute` is the plain reference, kept as written above. :func:`poseidon`,
:func:`poseidon2`, the batch functions :func:`poseidon_many`, :func:`poseidon2_many`, :func:`hash_level`
and :func:`permute_fast` compute the same function, bit for bit, with a straight-line Python function
generated once per process and width (every constant a literal: no loops, lists or lookups):

* full rounds as above, with each round's constants folded into the previous linear layer; S-boxes are
  ``pow(x, 5, p)``, which also reduces the unreduced sum it is given;
* the partial rounds as a linear recurrence. Between two partial S-boxes the state evolves linearly,
  ``s ← M·(s with s[0] replaced by y) + c``, and the S-box inputs ``x_q = s_q[0]`` satisfy, for
  ``q > t − 1``, ``x_q = Σ_{l=1..t-1} α_l·x_{q-l} + Σ_{d=0..t-1} β_d·y_{q-1-d} + γ_q`` where
  ``y_i = x_i^5``, ``λ^{t-1} − Σ α_l λ^{t-1-l}`` is the characteristic polynomial of ``M[1:, 1:]``
  (Cayley–Hamilton), ``β`` follows from the impulse response and ``γ_q`` from the constants. The first
  ``t`` inputs are written directly in the last full round's S-box outputs; the state after the last
  partial round is recovered from the last ``t`` inputs and ``t − 1`` S-box outputs (observability).
  That is ``2t − 1`` multiplications of reduced (254-bit) numbers per partial round -- the count of
  circomlib's sparse-matrix form (below), without its growing unreduced operands.

circomlib's circuit itself uses the *optimised* form of the Poseidon paper (appendix B): constants moved
backwards through the linear layers and sparse partial-round matrices. :func:`optimised_params`
derives those constants from the plain ``C`` and ``M`` in circomlib's ``POSEIDON_C/S/M/P`` layout; the
tests check them against circomlib's ``poseidon_constants.circom`` and evaluate circomlib's form with them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

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


# ================================================================ linear algebra over F_p (load time only)

def _dot(u: Sequence[int], v: Sequence[int]) -> int:
    return sum(x * y for x, y in zip(u, v, strict=True)) % P


def _mat_vec(a: Sequence[Sequence[int]], v: Sequence[int]) -> list[int]:
    return [_dot(row, v) for row in a]


def _vec_mat(v: Sequence[int], a: Sequence[Sequence[int]]) -> list[int]:
    return [_dot(v, col) for col in zip(*a)]


def _mat_mul(a: Sequence[Sequence[int]], b: Sequence[Sequence[int]]) -> list[list[int]]:
    cols = list(zip(*b))
    return [[_dot(row, col) for col in cols] for row in a]


def _mat_inv(a: Sequence[Sequence[int]]) -> list[list[int]]:
    """Inverse of a square matrix over ``F_p`` (Gauss–Jordan); ``ArithmeticError`` if singular."""
    n = len(a)
    rows = [[x % P for x in row] + [int(i == j) for j in range(n)] for i, row in enumerate(a)]
    for c in range(n):
        pivot = next((r for r in range(c, n) if rows[r][c]), None)
        if pivot is None:
            raise ArithmeticError("singular matrix")
        rows[c], rows[pivot] = rows[pivot], rows[c]
        inv = pow(rows[c][c], -1, P)
        rows[c] = [x * inv % P for x in rows[c]]
        for r in range(n):
            f = rows[r][c]
            if r != c and f:
                rows[r] = [(x - f * y) % P for x, y in zip(rows[r], rows[c])]
    return [row[n:] for row in rows]


def _mat_pow(a: Sequence[Sequence[int]], e: int) -> list[list[int]]:
    out = [[int(i == j) for j in range(len(a))] for i in range(len(a))]
    base = [list(row) for row in a]
    while e:
        if e & 1:
            out = _mat_mul(out, base)
        e >>= 1
        if e:
            base = _mat_mul(base, base)
    return out


# ================================================================ circomlib's optimised constants

@dataclass(frozen=True)
class OptimisedParams:
    """circomlib's optimised constants of width ``t``, in the layout of ``poseidon_constants.circom``.

    ``C`` (``t·R_F + R_P`` values), ``S`` (``R_P·(2t − 1)``), ``M`` and ``P`` (``t × t``) are what
    circomlib's ``POSEIDON_C/S/M/P(t)`` return. circomlib's ``Mix`` multiplies by the transpose, so ``M``
    is the transpose of :attr:`PoseidonParams.mds`.
    """

    t: int
    C: tuple[int, ...]
    S: tuple[int, ...]
    M: tuple[tuple[int, ...], ...]
    P: tuple[tuple[int, ...], ...]


@cache
def optimised_params(t: int) -> OptimisedParams:
    """circomlib's optimised constants of width ``t`` (2 ≤ t ≤ 17), derived from the plain ``C`` and ``M``.

    circomlib's circuit (``poseidon.circom``, as circomlibjs' ``poseidon_opt``): ``s += C[0:t]``; then
    ``R_F/2 − 1`` times (S-box all, add the next ``t`` of ``C``, ``s'[i] = Σ_j M[j][i]·s[j]``); S-box all,
    add the next ``t``, mix by ``P`` the same way; ``R_P`` partial rounds: ``s[0] ← s[0]^5 + C[..]`` (one
    each), then with the next ``2t − 1`` of ``S``: ``s'[0] = Σ_j S[j]·s[j]``, ``s'[i] = s[i] + s[0]·S[t+i−1]``;
    ``R_F/2 − 1`` rounds as the first ones; S-box all and mix by ``M``.

    Derivation (column convention, layer ``s ← M·s``): a constant vector ``c`` added after a layer equals
    ``M^-1·c`` added before it, after the S-boxes; in a partial round its elements ``1 ..`` pass the S-box
    and join the previous round's constants, element ``0`` stays after the S-box. This runs from the first
    full round after the partial rounds down to the last full round before them. The layer of partial
    round ``i`` is ``A_i = S_i·diag(1, B_i)`` with ``B_i = A_i[1:, 1:]``; ``diag(1, B_i)`` commutes with a
    partial round and joins the previous layer: ``A_{i-1} = diag(1, B_i)·M``, ``A_{R_P-1} = M``, and the
    last full round before them uses ``P = diag(1, B_0)·M``. So ``B_i = M11^(R_P − i)`` (``M11 = M[1:, 1:]``),
    ``S_i`` has first row ``[M00, M[0, 1:]·B_i^-1]`` and first column ``M11^(R_P − 1 − i)·M[1:, 0]``.
    """
    prm = params(t)
    half, rp = prm.full_rounds // 2, prm.partial_rounds
    m = [list(row) for row in prm.mds]
    m_inv = _mat_inv(m)

    c = [list(rc) for rc in prm.round_constants]
    post = [0] * rp
    for i in range(half + rp - 1, half - 1, -1):
        back = _mat_vec(m_inv, c[i + 1])
        post[i - half] = back[0]
        c[i] = [c[i][0]] + [(x + y) % P for x, y in zip(c[i][1:], back[1:])]
        c[i + 1] = [0] * t
    flat = list(c[0])
    for r in range(1, half + 1):
        flat += _mat_vec(m_inv, c[r])
    flat += post
    for r in range(half + rp + 1, prm.rounds):
        flat += _mat_vec(m_inv, c[r])

    m11 = [row[1:] for row in m[1:]]
    m11_inv = _mat_inv(m11)
    sparse: list[list[int]] = [[]] * rp
    u, w = list(m[0][1:]), [row[0] for row in m[1:]]
    for i in range(rp - 1, -1, -1):
        u = _vec_mat(u, m11_inv)
        sparse[i] = [m[0][0], *u, *w]
        w = _mat_vec(m11, w)
    layer = [m[0]] + _mat_mul(_mat_pow(m11, rp), m[1:])
    return OptimisedParams(
        t=t,
        C=tuple(flat),
        S=tuple(x for s in sparse for x in s),
        M=tuple(zip(*prm.mds)),
        P=tuple(zip(*layer)),
    )


# ================================================================ the partial rounds as a recurrence

@dataclass(frozen=True)
class _Recurrence:
    """The partial rounds of width ``t`` (``n = t − 1``) as the fast path evaluates them.

    ``Y`` are the S-box outputs of the last full round before the partial rounds, ``x_q`` the input of
    partial round ``q``'s S-box, ``y_q = x_q^5`` (reduced), ``q = 0 .. R_P − 1``; ``x_{R_P}`` is element 0
    of the next full round's S-box input ``F`` (its constants included).
    """

    head: tuple[tuple[tuple[int, ...], tuple[int, ...], int], ...]
    """``q = 0 .. n``: ``x_q = row·Y + Σ_i h[i]·y_i + const`` as ``(row, h over y_0 .. y_{q-1}, const)``."""
    alpha: tuple[int, ...]
    """``α_1 .. α_n``: ``x_q`` for ``q > n`` is ``Σ α_l·x_{q-l} + Σ_d β_d·y_{q-1-d} + γ_q``."""
    beta: tuple[int, ...]
    """``β_0 .. β_n``."""
    gamma: tuple[int, ...]
    """``γ_q`` for ``q = n + 1 .. R_P`` (index ``q − n − 1``)."""
    tail: tuple[tuple[tuple[int, ...], tuple[int, ...], int], ...]
    """``F_j`` for ``j = 1 .. n``: ``(coefficients of x_{R_P-n} .. x_{R_P}, of y_{R_P-n} .. y_{R_P-1}, const)``."""


@cache
def _recurrence(t: int) -> _Recurrence:
    """Derive :class:`_Recurrence` from the plain ``M`` and ``C`` (see the module docstring)."""
    prm = params(t)
    half, rp, n = prm.full_rounds // 2, prm.partial_rounds, t - 1
    m = prm.mds
    consts = prm.round_constants
    # One partial round on the state s after its constants: x = s[0], s ← A·s + b·y + c_next with
    # A = M·Π (Π zeroes element 0) and b = M·e_0.
    a = [[0, *row[1:]] for row in m]
    b = [row[0] for row in m]

    # rows[q] = e_0ᵀ·A^q; the response of x_q to Y (s_0 = M·Y + c) is rows[q]·M, to y_i is h[q-1-i]
    rows = [[int(j == 0) for j in range(t)]]
    for _ in range(max(rp, n + 3)):
        rows.append(_vec_mat(rows[-1], a))
    h = [_dot(r, b) for r in rows]
    # the response to the constants alone (Y = 0, every y = 0): states s0[q], inputs x0[q] = s0[q][0]
    s0 = [list(consts[half])]
    for q in range(rp):
        s0.append([(v + c) % P for v, c in zip(_mat_vec(a, s0[-1]), consts[half + q + 1])])
    x0 = [s[0] for s in s0]

    head = tuple(
        (tuple(_vec_mat(rows[q], m)), tuple(h[q - 1 - i] for i in range(q)), x0[q]) for q in range(n + 1)
    )

    # Cayley–Hamilton for M11 = M[1:, 1:]: M11^n = Σ α_l·M11^(n-l), from a Krylov sequence.
    m11 = [row[1:] for row in m[1:]]
    krylov = [[int(j == 0) for j in range(n)]]
    for _ in range(n):
        krylov.append(_mat_vec(m11, krylov[-1]))
    alpha = _mat_vec(_mat_inv([[krylov[n - l][i] for l in range(1, n + 1)] for i in range(n)]), krylov[n])

    def annihilated(seq: Sequence[int], d: int) -> int:
        return (seq[d] - sum(alpha[l - 1] * seq[d - l] for l in range(1, min(n, d) + 1))) % P

    beta = [annihilated(h, d) for d in range(n + 1)]
    gamma = [annihilated(x0, q) for q in range(n + 1, rp + 1)]
    # self-checks of the derivation: no dependence on Y, nor on older S-box outputs
    for q in range(n + 1, n + 3):
        row_q = [(rows[q][j] - sum(alpha[l - 1] * rows[q - l][j] for l in range(1, n + 1))) % P for j in range(t)]
        if any(row_q) or annihilated(h, q):
            raise ArithmeticError(f"Poseidon t = {t}: the partial rounds do not satisfy the recurrence")

    # Observability: with q0 = R_P − n, the deviations from the constants' response satisfy
    # dx_{q0+l} = rows[l]·ds_{q0} + Σ_{i<l} h[l-1-i]·y_{q0+i} (l = 0 .. n), so
    # ds_{q0} = O^-1·(dx − H·y) and ds_{R_P} = A^n·ds_{q0} + Σ_i A^(n-1-i)·b·y_{q0+i}.
    q0 = rp - n
    o_inv = _mat_inv([rows[l] for l in range(n + 1)])
    a_pow = [[int(i == j) for j in range(t)] for i in range(t)]
    a_b = [b]  # A^k·b
    for _ in range(n):
        a_pow = _mat_mul(a, a_pow)
        a_b.append(_mat_vec(a, a_b[-1]))
    g = _mat_mul(a_pow, o_inv)
    tail = []
    for j in range(1, t):
        xs = g[j]
        ys = [
            (a_b[n - 1 - i][j] - sum(xs[l] * h[l - 1 - i] for l in range(i + 1, n + 1))) % P for i in range(n)
        ]
        const = (s0[rp][j] - _dot(xs, x0[q0 : q0 + n + 1])) % P
        tail.append((tuple(xs), tuple(ys), const))
    return _Recurrence(head, tuple(alpha), tuple(beta), tuple(gamma), tuple(tail))


# ================================================================ generated straight-line code

def _sum(terms: Iterable[tuple[int, str]], constant: int = 0) -> str:
    """``c1 * v1 + c2 * v2 + ... + constant`` without zero terms or unit factors."""
    parts = [v if c == 1 else f"{c} * {v}" for c, v in terms if c]
    if constant:
        parts.append(str(constant))
    return " + ".join(parts) or "0"


def fast_source(t: int, *, capacity_zero: bool = True, full_output: bool = False) -> str:
    """Python source of the generated permutation of width ``t`` (what the fast path runs; for inspection).

    ``capacity_zero``: the function takes the ``t − 1`` inputs ``a1 ..`` and ``s[0] = 0``; else the whole
    state ``s0 ..``. ``full_output``: it returns the whole final state as a list; else ``s[0]``.
    """
    prm = params(t)
    rec = _recurrence(t)
    half, fr, rp, n, p = prm.full_rounds // 2, prm.full_rounds, prm.partial_rounds, t - 1, P
    m = prm.mds
    full = [prm.round_constants[f if f < half else f + rp] for f in range(fr)]
    lines: list[str] = []
    out = lines.append

    # full round 0 (with s[0] = 0 its first S-box output is a constant)
    known: dict[int, int] = {}
    if capacity_zero:
        args = [f"a{j}" for j in range(1, t)]
        known[0] = pow(full[0][0], 5, p)
        for j in range(1, t):
            out(f"y0_{j} = pow({_sum([(1, f'a{j}')], full[0][j])}, 5, {p})")
    else:
        args = [f"s{j}" for j in range(t)]
        for j in range(t):
            out(f"y0_{j} = pow({_sum([(1, f's{j}')], full[0][j])}, 5, {p})")

    def layer(row: Sequence[int], f: int, constant: int) -> str:
        """``row · (S-box outputs of full round f) + constant``, unreduced."""
        const = (constant + sum(row[j] * v for j, v in known.items())) % p
        return _sum(((row[j], f"y{f}_{j}") for j in range(t) if j not in known), const)

    for f in range(1, half):
        for i in range(t):
            out(f"y{f}_{i} = pow({layer(m[i], f - 1, full[f][i])}, 5, {p})")
        known = {}
    # partial rounds: x_q reduced, y_q = x_q^5
    for q, (row, hs, const) in enumerate(rec.head):
        terms = [(c, f"y{half - 1}_{j}") for j, c in enumerate(row)] + [(c, f"y{i}") for i, c in enumerate(hs)]
        out(f"x{q} = ({_sum(terms, const)}) % {p}")
        out(f"y{q} = pow(x{q}, 5, {p})")
    for q in range(n + 1, rp + 1):
        terms = [(rec.alpha[l - 1], f"x{q - l}") for l in range(1, n + 1)]
        terms += [(rec.beta[d], f"y{q - 1 - d}") for d in range(n + 1)]
        out(f"x{q} = ({_sum(terms, rec.gamma[q - n - 1])}) % {p}")
        if q < rp:
            out(f"y{q} = pow(x{q}, 5, {p})")
    # the state entering the first full round after them
    q0 = rp - n
    out(f"y{half}_0 = pow(x{rp}, 5, {p})")
    for j, (xs, ys, const) in enumerate(rec.tail, start=1):
        terms = [(c, f"x{q0 + l}") for l, c in enumerate(xs)] + [(c, f"y{q0 + i}") for i, c in enumerate(ys)]
        out(f"y{half}_{j} = pow({_sum(terms, const)}, 5, {p})")
    for f in range(half + 1, fr):
        for i in range(t):
            out(f"y{f}_{i} = pow({layer(m[i], f - 1, full[f][i])}, 5, {p})")
    if full_output:
        out("return [" + ", ".join(f"({layer(m[i], fr - 1, 0)}) % {p}" for i in range(t)) + "]")
    else:
        out(f"return ({layer(m[0], fr - 1, 0)}) % {p}")
    name = f"_poseidon_t{t}_{'hash' if capacity_zero else 'state'}_{'full' if full_output else 'first'}"
    return f"def {name}({', '.join(args)}):\n" + "".join(f"    {line}\n" for line in lines)


def _compile(t: int, *, capacity_zero: bool, full_output: bool) -> Callable[..., Any]:
    source = fast_source(t, capacity_zero=capacity_zero, full_output=full_output)
    namespace: dict[str, Any] = {"__builtins__": {"pow": pow}}
    exec(compile(source, f"<poseidon t={t}>", "exec"), namespace)  # noqa: S102 -- source made of our constants
    (fn,) = (v for k, v in namespace.items() if k.startswith("_poseidon_"))
    return fn


_HASHERS: list[Callable[..., int] | None] = [None] * (MAX_INPUTS + 2)
_PERMUTERS: list[Callable[..., list[int]] | None] = [None] * (MAX_INPUTS + 2)


def _hasher(t: int) -> Callable[..., int]:
    """The generated hash of width ``t``: ``f(in_0, ..., in_{t-2}) = permute([0, *in])[0]``."""
    params(t)  # rejects a bad width
    fn = _HASHERS[t]
    if fn is None:
        fn = _HASHERS[t] = _compile(t, capacity_zero=True, full_output=False)
    return fn


def _permuter(t: int) -> Callable[..., list[int]]:
    params(t)
    fn = _PERMUTERS[t]
    if fn is None:
        fn = _PERMUTERS[t] = _compile(t, capacity_zero=False, full_output=True)
    return fn


# ================================================================ public hashing API

def permute_fast(state: Sequence[int]) -> list[int]:
    """:func:`permute` of a full state of ``t`` integers (2 ≤ t ≤ 17) by the generated code."""
    t = len(state)
    if not 2 <= t <= MAX_INPUTS + 1:
        raise ValueError(f"Poseidon width t = {t} is outside 2..{MAX_INPUTS + 1}")
    return _permuter(t)(*state)


def _check_inputs(inputs: Sequence[int], what: str) -> None:
    for i, x in enumerate(inputs):
        if type(x) is not int or not 0 <= x < P:
            check_field_element(x, f"{what} {i}")


def poseidon(inputs: Sequence[int]) -> int:
    """circomlib ``Poseidon(len(inputs))`` of 1..16 field elements: ``permute([0, *inputs])[0]``."""
    n = len(inputs)
    if not 1 <= n <= MAX_INPUTS:
        raise ValueError(f"Poseidon takes 1..{MAX_INPUTS} inputs, got {n}")
    _check_inputs(inputs, "Poseidon input")
    return (_HASHERS[n + 1] or _hasher(n + 1))(*inputs)


def poseidon2(left: int, right: int) -> int:
    """``Poseidon(left, right)`` (t = 3): the inner node of a batch tree."""
    if type(left) is not int or not 0 <= left < P:
        check_field_element(left, "Poseidon input 0")
    if type(right) is not int or not 0 <= right < P:
        check_field_element(right, "Poseidon input 1")
    return (_HASHERS[3] or _hasher(3))(left, right)


def poseidon_many(rows: Iterable[Sequence[int]]) -> list[int]:
    """``[poseidon(row) for row in rows]`` (rows may differ in length), with the same validation."""
    out: list[int] = []
    append = out.append
    for r, row in enumerate(rows):
        n = len(row)
        if not 1 <= n <= MAX_INPUTS:
            raise ValueError(f"row {r}: Poseidon takes 1..{MAX_INPUTS} inputs, got {n}")
        _check_inputs(row, f"row {r}: Poseidon input")
        append((_HASHERS[n + 1] or _hasher(n + 1))(*row))
    return out


def poseidon2_many(lefts: Sequence[int], rights: Sequence[int]) -> list[int]:
    """``[poseidon2(l, r) for l, r in zip(lefts, rights)]``; the two must have the same length."""
    if len(lefts) != len(rights):
        raise ValueError(f"poseidon2_many: {len(lefts)} left values but {len(rights)} right values")
    _check_inputs(lefts, "left value")
    _check_inputs(rights, "right value")
    return list(map(_HASHERS[3] or _hasher(3), lefts, rights))


def hash_level(values: Sequence[int]) -> list[int]:
    """The parents of one tree level: ``[poseidon2(values[2j], values[2j + 1]) for j ...]``.

    ``values`` must have an even length (an empty level gives ``[]``) and hold field elements.
    """
    if len(values) % 2:
        raise ValueError(f"hash_level needs an even number of values, got {len(values)}")
    _check_inputs(values, "level value")
    return list(map(_HASHERS[3] or _hasher(3), values[0::2], values[1::2]))
