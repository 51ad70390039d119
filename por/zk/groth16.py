"""Groth16 over BN254 (snarkjs ``bn128``): strict parsing of snarkjs JSON and a py_ecc verifier.

Documents (SPEC.md §16.6): ``verification_key.json`` and ``proof.json`` as written by
snarkjs 0.7, and the public signals as a JSON list of decimal strings. Parsing is strict and raises
:class:`~por.core.errors.BadInput` naming the file and field: exact key sets, coordinates as canonical
decimal strings below the base-field modulus ``q``, affine points (``z = 1``) on the curve and never
the point at infinity, G2 points in the order-``r`` subgroup, ``nPublic = len(IC) − 1``, public
signals canonical decimals below the scalar-field modulus ``r`` and exactly ``nPublic`` of them, and
``delta ≠ gamma`` (a key without a phase-2 contribution is forgeable). The curve and subgroup checks are
py_ecc's (:data:`PY_ECC`, the reference) unless the caller passes other :class:`PointChecks` making the
same decisions (:data:`por.zk.native.MCL_CHECKS`, ~200× faster for G2).

Verification (:func:`verify`) checks ``e(−A, B) · e(α, β) · e(vk_x, γ) · e(C, δ) = 1`` with
``vk_x = IC_0 + Σ s_i · IC_{i+1}``: four Miller loops (the one of ``(α, β)`` cached per key), their
product and one final exponentiation, with py_ecc's ``optimized_bn128``. A failing equation raises
:class:`~por.core.errors.VerificationFailed`. Pure Python: about 1 s per proof.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from py_ecc.optimized_bn128 import (
    FQ,
    FQ2,
    FQ12,
    add,
    b,
    b2,
    curve_order,
    field_modulus,
    final_exponentiate,
    is_inf,
    is_on_curve,
    multiply,
    neg,
    pairing,
)

from por.core.encoding import H, tag, u16
from por.core.errors import BadInput, VerificationFailed

Q_MODULUS = field_modulus
"""BN254 base field modulus ``q`` (point coordinates)."""
R_MODULUS = curve_order
"""BN254 group order ``r`` = the scalar field of circom (public signals)."""

TAG_ZK_VKEY = tag("zk-vkey")
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,77}")
VK_KEYS = frozenset({"protocol", "curve", "nPublic", "vk_alpha_1", "vk_beta_2", "vk_gamma_2", "vk_delta_2", "IC"})
VK_OPTIONAL_KEYS = frozenset({"vk_alphabeta_12"})
"""snarkjs also writes ``e(α, β)``; it is accepted and ignored (the verifier computes it)."""
PROOF_KEYS = frozenset({"pi_a", "pi_b", "pi_c", "protocol"})
PROOF_OPTIONAL_KEYS = frozenset({"curve"})


# ---------------------------------------------------------------- points

G1_OFF_CURVE = "point is not on the BN254 G1 curve y^2 = x^3 + 3"
G2_OFF_CURVE = "point is not on the BN254 G2 twist curve"
G2_OUTSIDE_SUBGROUP = "G2 point is not in the order-r subgroup"


def _pyecc_g1_problem(x: int, y: int) -> str | None:
    """``None`` if ``(x, y)`` is on ``y² = x³ + 3`` (G1 has cofactor 1: on the curve = in G1), else why not."""
    return None if is_on_curve((FQ(x), FQ(y), FQ(1)), b) else G1_OFF_CURVE


def _pyecc_g2_problem(x: tuple[int, int], y: tuple[int, int]) -> str | None:
    """``None`` if ``(x, y)`` is on the twist and in its order-``r`` subgroup (``r·P = O``), else why not."""
    pt = (FQ2(list(x)), FQ2(list(y)), FQ2.one())
    if not is_on_curve(pt, b2):
        return G2_OFF_CURVE
    return None if is_inf(multiply(pt, R_MODULUS)) else G2_OUTSIDE_SUBGROUP


@dataclass(frozen=True)
class PointChecks:
    """How points are checked while parsing: ``g1(x, y)`` / ``g2(x, y)`` return ``None`` for a point of G1 /
    of the order-``r`` subgroup of G2, else the reason (coordinates are already canonical and below ``q``).

    :data:`PY_ECC` is the reference (pure Python; the G2 subgroup check is a full scalar multiplication,
    tens of milliseconds); :data:`por.zk.native.MCL_CHECKS` makes the same decisions in MCL. Both must
    accept and reject exactly the same inputs (tests/test_zk_native.py checks it).
    """

    name: str
    g1: Callable[[int, int], str | None]
    g2: Callable[[tuple[int, int], tuple[int, int]], str | None]


PY_ECC = PointChecks("py_ecc", _pyecc_g1_problem, _pyecc_g2_problem)


@dataclass(frozen=True)
class G1Point:
    """An affine point of G1 (``y² = x³ + 3`` over F_q), never infinity; checked on construction (py_ecc),
    or by the parser's :class:`PointChecks` when parsed."""

    x: int
    y: int

    def __post_init__(self) -> None:
        _check_coordinate(self.x, "x")
        _check_coordinate(self.y, "y")
        problem = _pyecc_g1_problem(self.x, self.y)
        if problem:
            raise ValueError(problem)

    @classmethod
    def _checked(cls, x: int, y: int) -> G1Point:
        """A point whose coordinates a :class:`PointChecks` has just accepted (no second check)."""
        point = object.__new__(cls)
        object.__setattr__(point, "x", x)
        object.__setattr__(point, "y", y)
        return point

    @property
    def ecc(self) -> tuple[FQ, FQ, FQ]:
        """py_ecc projective form."""
        return (FQ(self.x), FQ(self.y), FQ(1))

    def to_bytes(self) -> bytes:
        """``u256(x) ‖ u256(y)``."""
        return self.x.to_bytes(32, "big") + self.y.to_bytes(32, "big")

    def to_json(self) -> list[str]:
        return [str(self.x), str(self.y), "1"]


@dataclass(frozen=True)
class G2Point:
    """An affine point of G2 (the sextic twist over F_q² = F_q[u]/(u²+1)) in the order-``r`` subgroup.

    Coordinates are ``(c0, c1)`` meaning ``c0 + c1·u`` -- snarkjs' JSON order.
    """

    x: tuple[int, int]
    y: tuple[int, int]

    def __post_init__(self) -> None:
        for name, pair in (("x", self.x), ("y", self.y)):
            if not isinstance(pair, tuple) or len(pair) != 2:
                raise ValueError(f"{name} must be a pair (c0, c1)")
            _check_coordinate(pair[0], f"{name}.c0")
            _check_coordinate(pair[1], f"{name}.c1")
        problem = _pyecc_g2_problem(self.x, self.y)
        if problem:
            raise ValueError(problem)

    @classmethod
    def _checked(cls, x: tuple[int, int], y: tuple[int, int]) -> G2Point:
        """A point whose coordinates a :class:`PointChecks` has just accepted (no second check)."""
        point = object.__new__(cls)
        object.__setattr__(point, "x", x)
        object.__setattr__(point, "y", y)
        return point

    @property
    def ecc(self) -> tuple[FQ2, FQ2, FQ2]:
        return (FQ2(list(self.x)), FQ2(list(self.y)), FQ2.one())

    def to_bytes(self) -> bytes:
        """``u256(x.c0) ‖ u256(x.c1) ‖ u256(y.c0) ‖ u256(y.c1)``."""
        return b"".join(v.to_bytes(32, "big") for v in (*self.x, *self.y))

    def to_json(self) -> list[list[str]]:
        return [[str(self.x[0]), str(self.x[1])], [str(self.y[0]), str(self.y[1])], ["1", "0"]]


def _check_coordinate(v: int, name: str) -> None:
    if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v < Q_MODULUS:
        raise ValueError(f"coordinate {name} is not an element of F_q")


# ---------------------------------------------------------------- keys and proofs

@dataclass(frozen=True)
class VerifyingKey:
    """A Groth16 verifying key: ``α ∈ G1``, ``β, γ, δ ∈ G2``, ``IC_0 .. IC_n ∈ G1`` (n public signals)."""

    alpha: G1Point
    beta: G2Point
    gamma: G2Point
    delta: G2Point
    ic: tuple[G1Point, ...]

    def __post_init__(self) -> None:
        if not self.ic:
            raise ValueError("IC must hold at least IC_0")
        if self.delta == self.gamma:
            raise ValueError("delta equals gamma: the key has no phase-2 contribution and proofs are forgeable")

    @property
    def n_public(self) -> int:
        return len(self.ic) - 1

    @cached_property
    def alpha_beta_miller(self) -> FQ12:
        """The Miller loop of ``(β, α)``, before the final exponentiation (same for every proof)."""
        return pairing(self.beta.ecc, self.alpha.ecc, final_exponentiate=False)

    def digest(self) -> bytes:
        """``H(TAG("zk-vkey") ‖ u16(n) ‖ α ‖ β ‖ γ ‖ δ ‖ IC_0 ‖ … ‖ IC_n)`` with points as in ``to_bytes``.

        A 32-byte identifier of the circuit and its setup, to be bound into a snapshot.
        """
        parts = [TAG_ZK_VKEY, u16(self.n_public), self.alpha.to_bytes(), self.beta.to_bytes(),
                 self.gamma.to_bytes(), self.delta.to_bytes(), *(p.to_bytes() for p in self.ic)]
        return H(b"".join(parts))

    def to_json(self) -> dict[str, Any]:
        """The snarkjs document (without the optional, derived ``vk_alphabeta_12``)."""
        return {"protocol": "groth16", "curve": "bn128", "nPublic": self.n_public,
                "vk_alpha_1": self.alpha.to_json(), "vk_beta_2": self.beta.to_json(),
                "vk_gamma_2": self.gamma.to_json(), "vk_delta_2": self.delta.to_json(),
                "IC": [p.to_json() for p in self.ic]}


@dataclass(frozen=True)
class Proof:
    """A Groth16 proof ``(A ∈ G1, B ∈ G2, C ∈ G1)``."""

    a: G1Point
    b: G2Point
    c: G1Point

    def to_json(self) -> dict[str, Any]:
        return {"pi_a": self.a.to_json(), "pi_b": self.b.to_json(), "pi_c": self.c.to_json(),
                "protocol": "groth16", "curve": "bn128"}


# ---------------------------------------------------------------- strict parsing

class _Reader:
    """Parses one document, raising :class:`BadInput` with the file name and the JSON path."""

    def __init__(self, source: str, checks: PointChecks = PY_ECC) -> None:
        self.source = source
        self.checks = checks

    def fail(self, message: str, where: str | None = None) -> BadInput:
        return BadInput(message, file=self.source, field=where)

    def obj(self, doc: object, required: frozenset[str], optional: frozenset[str], what: str) -> dict:
        if not isinstance(doc, dict):
            raise self.fail(f"{what} must be a JSON object")
        missing = sorted(required - doc.keys())
        if missing:
            raise self.fail(f"{what} lacks {', '.join(missing)}", missing[0])
        extra = sorted(doc.keys() - required - optional)
        if extra:
            raise self.fail(f"{what} has unknown key(s) {', '.join(extra)}", extra[0])
        return doc

    def const(self, doc: dict, key: str, want: str) -> None:
        if doc[key] != want:
            raise self.fail(f"expected {want!r}, got {doc[key]!r}", key)

    def decimal(self, v: object, where: str, modulus: int, what: str) -> int:
        if not isinstance(v, str) or not _DECIMAL.fullmatch(v):
            raise self.fail(f"{what} must be a canonical decimal string (no sign, no leading zeros, at most 78 digits)", where)
        n = int(v)
        if n >= modulus:
            raise self.fail(f"{what} is not below the field modulus", where)
        return n

    def array(self, v: object, n: int, where: str) -> list:
        if not isinstance(v, list) or len(v) != n:
            raise self.fail(f"expected a list of {n}", where)
        return v

    def g1(self, v: object, where: str) -> G1Point:
        x, y, z = self.array(v, 3, where)
        coords = [self.decimal(c, f"{where}[{i}]", Q_MODULUS, "coordinate") for i, c in enumerate((x, y, z))]
        if coords[2] != 1:
            raise self.fail("point must be affine (z = \"1\"); the point at infinity is not accepted", f"{where}[2]")
        problem = self.checks.g1(coords[0], coords[1])
        if problem:
            raise self.fail(problem, where)
        return G1Point._checked(coords[0], coords[1])

    def g2(self, v: object, where: str) -> G2Point:
        rows = self.array(v, 3, where)
        pairs = []
        for i, row in enumerate(rows):
            c0, c1 = self.array(row, 2, f"{where}[{i}]")
            pairs.append((self.decimal(c0, f"{where}[{i}][0]", Q_MODULUS, "coordinate"),
                          self.decimal(c1, f"{where}[{i}][1]", Q_MODULUS, "coordinate")))
        if pairs[2] != (1, 0):
            raise self.fail("point must be affine (z = [\"1\", \"0\"]); infinity is not accepted", f"{where}[2]")
        problem = self.checks.g2(pairs[0], pairs[1])
        if problem:
            raise self.fail(problem, where)
        return G2Point._checked(pairs[0], pairs[1])


def parse_verifying_key(doc: object, *, source: str = "verification key", checks: PointChecks = PY_ECC) -> VerifyingKey:
    """A snarkjs ``verification_key.json`` document (already JSON-decoded), strictly checked (points by ``checks``)."""
    r = _Reader(source, checks)
    d = r.obj(doc, VK_KEYS, VK_OPTIONAL_KEYS, "verification key")
    r.const(d, "protocol", "groth16")
    r.const(d, "curve", "bn128")
    ic_doc = d["IC"]
    if not isinstance(ic_doc, list) or not ic_doc:
        raise r.fail("IC must be a non-empty list", "IC")
    n = d["nPublic"]
    if not isinstance(n, int) or isinstance(n, bool) or n != len(ic_doc) - 1:
        raise r.fail(f"nPublic must be the integer len(IC) - 1 = {len(ic_doc) - 1}, got {n!r}", "nPublic")
    alpha = r.g1(d["vk_alpha_1"], "vk_alpha_1")
    beta = r.g2(d["vk_beta_2"], "vk_beta_2")
    gamma = r.g2(d["vk_gamma_2"], "vk_gamma_2")
    delta = r.g2(d["vk_delta_2"], "vk_delta_2")
    ic = tuple(r.g1(p, f"IC[{i}]") for i, p in enumerate(ic_doc))
    try:
        return VerifyingKey(alpha, beta, gamma, delta, ic)
    except ValueError as exc:
        raise r.fail(str(exc), "vk_delta_2") from None


def parse_proof(doc: object, *, source: str = "proof", checks: PointChecks = PY_ECC) -> Proof:
    """A snarkjs ``proof.json`` document (``curve`` optional, as rapidsnark omits it), points checked by ``checks``."""
    r = _Reader(source, checks)
    d = r.obj(doc, PROOF_KEYS, PROOF_OPTIONAL_KEYS, "proof")
    r.const(d, "protocol", "groth16")
    if "curve" in d:
        r.const(d, "curve", "bn128")
    return Proof(r.g1(d["pi_a"], "pi_a"), r.g2(d["pi_b"], "pi_b"), r.g1(d["pi_c"], "pi_c"))


def parse_public_signals(doc: object, *, expected: int | None = None, source: str = "public signals") -> list[int]:
    """A JSON list of canonical decimal strings, each ``< r``; exactly ``expected`` of them if given."""
    r = _Reader(source)
    if not isinstance(doc, list):
        raise r.fail("public signals must be a JSON list of decimal strings")
    if expected is not None and len(doc) != expected:
        raise r.fail(f"expected {expected} public signals, got {len(doc)}")
    return [r.decimal(v, f"[{i}]", R_MODULUS, "public signal") for i, v in enumerate(doc)]


def load_json(path: str | Path) -> object:
    """Read a JSON file strictly (UTF-8, no duplicate keys, no NaN/Infinity); ``BadInput`` names the place."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BadInput(f"cannot read: {exc.strerror}", file=str(path)) from None
    except UnicodeDecodeError:
        raise BadInput("not UTF-8", file=str(path)) from None
    return loads_json(text, source=str(path))


def loads_json(text: str, *, source: str = "document") -> object:
    """:func:`load_json` for a string."""

    def pairs(items: list[tuple[str, object]]) -> dict:
        out: dict = {}
        for k, v in items:
            if k in out:
                raise BadInput(f"duplicate key {k!r}", file=source, field=k)
            out[k] = v
        return out

    def constant(name: str) -> object:
        raise BadInput(f"{name} is not allowed", file=source)

    try:
        return json.loads(text, object_pairs_hook=pairs, parse_constant=constant)
    except json.JSONDecodeError as exc:
        raise BadInput(f"invalid JSON: {exc.msg}", file=source, line=exc.lineno, column=exc.colno) from None


def load_verifying_key(path: str | Path) -> VerifyingKey:
    return parse_verifying_key(load_json(path), source=str(path))


def load_proof(path: str | Path) -> Proof:
    return parse_proof(load_json(path), source=str(path))


def load_public_signals(path: str | Path, *, expected: int | None = None) -> list[int]:
    return parse_public_signals(load_json(path), expected=expected, source=str(path))


# ---------------------------------------------------------------- verification

def _linear_combination(vk: VerifyingKey, public: Sequence[int]) -> tuple[FQ, FQ, FQ]:
    """``vk_x = IC_0 + Σ s_i · IC_{i+1}`` (may be infinity for adversarial inputs; pairing handles it)."""
    acc = vk.ic[0].ecc
    for s, point in zip(public, vk.ic[1:]):
        if s:
            acc = add(acc, multiply(point.ecc, s))
    return acc


def _check_public(vk: VerifyingKey, public: Sequence[int]) -> None:
    if len(public) != vk.n_public:
        raise BadInput(f"the verification key takes {vk.n_public} public signals, got {len(public)}")
    for i, s in enumerate(public):
        if not isinstance(s, int) or isinstance(s, bool) or not 0 <= s < R_MODULUS:
            raise BadInput(f"public signal {i} is not a scalar field element (must be in [0, r))")


def pairing_product_is_one(vk: VerifyingKey, proof: Proof, public: Sequence[int]) -> bool:
    """``FE(ML(−A, B) · ML(α, β) · ML(vk_x, γ) · ML(C, δ)) == 1`` with one final exponentiation."""
    _check_public(vk, public)
    vk_x = _linear_combination(vk, public)
    acc = pairing(proof.b.ecc, neg(proof.a.ecc), final_exponentiate=False)
    acc = acc * vk.alpha_beta_miller
    if not is_inf(vk_x):
        acc = acc * pairing(vk.gamma.ecc, vk_x, final_exponentiate=False)
    acc = acc * pairing(vk.delta.ecc, proof.c.ecc, final_exponentiate=False)
    return final_exponentiate(acc) == FQ12.one()


def verify(vk: VerifyingKey, proof: Proof, public: Sequence[int]) -> None:
    """Raise :class:`VerificationFailed` unless ``proof`` verifies for ``public`` under ``vk``.

    ``BadInput`` if ``public`` has the wrong length or a value outside ``[0, r)``.
    """
    if not pairing_product_is_one(vk, proof, public):
        raise VerificationFailed(
            "Groth16 pairing check e(-A,B)·e(alpha,beta)·e(vk_x,gamma)·e(C,delta) = 1 failed: the proof "
            "does not prove these public signals under this verification key", where="groth16")


def is_valid(vk: VerifyingKey, proof: Proof, public: Sequence[int]) -> bool:
    """``True`` iff :func:`verify` passes (``BadInput`` still propagates)."""
    return pairing_product_is_one(vk, proof, public)


def verify_documents(vk_doc: object, proof_doc: object, public_doc: object) -> None:
    """Parse three decoded snarkjs documents strictly and :func:`verify`."""
    vk = parse_verifying_key(vk_doc)
    proof = parse_proof(proof_doc)
    public = parse_public_signals(public_doc, expected=vk.n_public)
    verify(vk, proof, public)


__all__ = [
    "PY_ECC", "G1Point", "G2Point", "PointChecks", "Proof", "VerifyingKey",
    "is_valid", "load_json", "load_proof", "load_public_signals", "load_verifying_key", "loads_json",
    "pairing_product_is_one", "parse_proof", "parse_public_signals", "parse_verifying_key", "verify",
    "verify_documents",
]
