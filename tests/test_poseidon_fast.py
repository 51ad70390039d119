"""The fast Poseidon (generated straight-line code, partial rounds as a linear recurrence) against the
plain reference permutation, circomlib's vectors and circomlib's optimised constants (SPEC.md §16.2);
the batch APIs against elementwise calls; input validation."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from por.zk import poseidon as ps
from por.zk.poseidon import (
    MAX_INPUTS,
    P,
    fast_source,
    hash_level,
    optimised_params,
    params,
    permute,
    permute_fast,
    poseidon,
    poseidon2,
    poseidon2_many,
    poseidon_many,
)

ROOT = Path(__file__).resolve().parents[1]
OPTIMISED_CIRCOM = ROOT / "node_modules" / "circomlib" / "circuits" / "poseidon_constants.circom"
WIDTHS = range(2, MAX_INPUTS + 2)

CIRCOMLIB_VECTORS = [  # SPEC.md §16.2 (circomlib's own tests)
    ([1, 2], 0x115CC0F5E7D690413DF64C6B9662E9CF2A3617F2743245519E19607A4417189A),
    ([3, 4], 14763215145315200506921711489642608356394854266165572616578112107564877678998),
    ([1, 2, 0, 0, 0], 1018317224307729531995786483840663576608797660851238720571059489595066344487),
    ([3, 4, 5, 10, 23], 13034429309846638789535561449942021891039729847501137143363028890275222221409),
]

field = st.one_of(st.integers(0, P - 1), st.sampled_from([0, 1, 2, P - 2, P - 1, 2**253, 2**64 - 1]))
anyint = st.one_of(field, st.integers(-(2**300), 2**300))


def reference_hash(inputs: list[int]) -> int:
    return permute([0, *inputs], params(len(inputs) + 1))[0]


# ================================================================ against the reference

@pytest.mark.parametrize(("inputs", "expected"), CIRCOMLIB_VECTORS)
def test_circomlib_vectors(inputs: list[int], expected: int) -> None:
    assert poseidon(inputs) == expected
    assert reference_hash(inputs) == expected
    assert poseidon_many([inputs]) == [expected]
    if len(inputs) == 2:
        assert poseidon2(*inputs) == expected
        assert poseidon2_many([inputs[0]], [inputs[1]]) == [expected]
        assert hash_level(inputs) == [expected]


@pytest.mark.parametrize("t", WIDTHS)
@settings(max_examples=8, deadline=None)
@given(data=st.data())
def test_fast_hash_equals_reference(t: int, data: st.DataObject) -> None:
    inputs = data.draw(st.lists(field, min_size=t - 1, max_size=t - 1))
    assert poseidon(inputs) == reference_hash(inputs)


@pytest.mark.parametrize("t", WIDTHS)
@settings(max_examples=5, deadline=None)
@given(data=st.data())
def test_fast_permutation_equals_reference(t: int, data: st.DataObject) -> None:
    """The whole state, with a non-zero capacity element (and, like ``permute``, any integers)."""
    state = data.draw(st.lists(anyint, min_size=t, max_size=t))
    out = permute_fast(state)
    assert out == permute(state)
    assert all(type(x) is int and 0 <= x < P for x in out)


@pytest.mark.parametrize("t", WIDTHS)
def test_fixed_states(t: int) -> None:
    for state in ([0] * t, [P - 1] * t, list(range(t)), [0, *([P - 1] * (t - 1))]):
        assert permute_fast(state) == permute(state)
        assert poseidon(state[1:]) == permute([0, *state[1:]])[0]


def test_int_subclass_inputs_are_accepted_as_before() -> None:
    class Int(int):
        pass

    assert poseidon([Int(1), Int(2)]) == CIRCOMLIB_VECTORS[0][1]
    assert poseidon2(Int(1), 2) == CIRCOMLIB_VECTORS[0][1]
    assert hash_level([Int(1), Int(2)]) == [CIRCOMLIB_VECTORS[0][1]]


def test_generated_source_is_straight_line() -> None:
    for t in (2, 3, 17):
        src = fast_source(t)
        assert src.startswith(f"def _poseidon_t{t}_hash_first(")
        assert "for " not in src and "while " not in src and "[" not in src
        assert src.count("pow(") == t * params(t).full_rounds - 1 + params(t).partial_rounds


# ================================================================ circomlib's optimised constants

def circomlib_optimised_permute(state: list[int]) -> list[int]:
    """circomlib's ``PoseidonEx`` (poseidon.circom) / circomlibjs ``poseidon_opt``, written from the circuit."""
    t = len(state)
    opt = optimised_params(t)
    prm = params(t)
    half, rp = prm.full_rounds // 2, prm.partial_rounds
    c, s, m, pm = opt.C, opt.S, opt.M, opt.P

    def sbox(x: int) -> int:
        return pow(x, 5, P)

    def mix(matrix: tuple[tuple[int, ...], ...], v: list[int]) -> list[int]:
        return [sum(matrix[j][i] * v[j] for j in range(t)) % P for i in range(t)]

    v = [(x + c[i]) % P for i, x in enumerate(state)]
    for r in range(half - 1):
        v = [(sbox(x) + c[(r + 1) * t + i]) % P for i, x in enumerate(v)]
        v = mix(m, v)
    v = [(sbox(x) + c[half * t + i]) % P for i, x in enumerate(v)]
    v = mix(pm, v)
    for r in range(rp):
        v[0] = (sbox(v[0]) + c[(half + 1) * t + r]) % P
        row = s[(2 * t - 1) * r : (2 * t - 1) * (r + 1)]
        s0 = sum(row[j] * v[j] for j in range(t)) % P
        v = [s0] + [(v[k] + v[0] * row[t + k - 1]) % P for k in range(1, t)]
    for r in range(half - 1):
        v = [(sbox(x) + c[(half + 1) * t + rp + r * t + i]) % P for i, x in enumerate(v)]
        v = mix(m, v)
    return mix(m, [sbox(x) for x in v])


@pytest.mark.parametrize("t", WIDTHS)
def test_optimised_constants_evaluate_the_same_permutation(t: int) -> None:
    opt = optimised_params(t)
    prm = params(t)
    assert len(opt.C) == t * prm.full_rounds + prm.partial_rounds
    assert len(opt.S) == prm.partial_rounds * (2 * t - 1)
    assert opt.M == tuple(zip(*prm.mds))
    for state in ([0] * t, list(range(1, t + 1)), [P - 1 - i for i in range(t)]):
        assert circomlib_optimised_permute(state) == permute(state)


@pytest.mark.skipif(not OPTIMISED_CIRCOM.exists(), reason="node_modules/circomlib is not installed")
def test_optimised_constants_match_circomlib() -> None:
    """The derived constants are exactly circomlib's POSEIDON_C/S/M/P(t) (poseidon_constants.circom)."""
    spec = importlib.util.spec_from_file_location("gen", ROOT / "circuits" / "gen_poseidon_constants.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)  # type: ignore[union-attr]
    text = OPTIMISED_CIRCOM.read_text()
    shipped = {name: gen._branches(gen._function_body(text, name)) for name in ("POSEIDON_C", "POSEIDON_S",
                                                                                 "POSEIDON_M", "POSEIDON_P")}
    for t in WIDTHS:
        opt = optimised_params(t)
        assert list(opt.C) == gen._numbers(shipped["POSEIDON_C"][t]), t
        assert list(opt.S) == gen._numbers(shipped["POSEIDON_S"][t]), t
        assert [list(r) for r in opt.M] == gen._matrix(shipped["POSEIDON_M"][t], t), t
        assert [list(r) for r in opt.P] == gen._matrix(shipped["POSEIDON_P"][t], t), t


# ================================================================ batch APIs

@settings(max_examples=10, deadline=None)
@given(st.lists(field, max_size=12).map(lambda v: v[: len(v) // 2 * 2]))
def test_hash_level_and_poseidon2_many_equal_elementwise(values: list[int]) -> None:
    parents = [poseidon2(values[i], values[i + 1]) for i in range(0, len(values), 2)]
    assert hash_level(values) == parents
    assert hash_level(tuple(values)) == parents
    assert poseidon2_many(values[0::2], values[1::2]) == parents
    assert parents == [poseidon([values[i], values[i + 1]]) for i in range(0, len(values), 2)]


@settings(max_examples=10, deadline=None)
@given(st.lists(st.lists(field, min_size=1, max_size=6), max_size=5))
def test_poseidon_many_equals_elementwise(rows: list[list[int]]) -> None:
    assert poseidon_many(rows) == [poseidon(r) for r in rows]
    assert poseidon_many(iter(rows)) == [reference_hash(r) for r in rows]


def test_batch_apis_on_empty_input() -> None:
    assert hash_level([]) == []
    assert poseidon2_many([], []) == []
    assert poseidon_many([]) == []


# ================================================================ input validation

BAD_VALUES = [P, P + 1, -1, True, False, 1.0, "1", None, 2**256]


def test_poseidon_validation_unchanged() -> None:
    for bad in ([], list(range(17)), [P], [-1], [True], [1.0]):
        with pytest.raises(ValueError):
            poseidon(bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="Poseidon takes 1..16 inputs, got 0"):
        poseidon([])
    with pytest.raises(ValueError, match="Poseidon input 1 .* not a BN254 scalar field element"):
        poseidon([1, P])
    with pytest.raises(ValueError, match="Poseidon input 2 must be an integer, not bool"):
        poseidon([1, 2, True])
    with pytest.raises(ValueError, match="t = 3"):
        permute([0, 1, 2, 3], params(3))


@pytest.mark.parametrize("bad", BAD_VALUES)
def test_every_api_rejects_non_field_elements(bad: object) -> None:
    with pytest.raises(ValueError, match="Poseidon input 0"):
        poseidon([bad])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="Poseidon input 0"):
        poseidon2(bad, 1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="Poseidon input 1"):
        poseidon2(1, bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="row 1: Poseidon input 2"):
        poseidon_many([[1], [1, 2, bad]])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="left value 1"):
        poseidon2_many([1, bad], [1, 2])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="right value 0"):
        poseidon2_many([1, 2], [bad, 2])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="level value 3"):
        hash_level([1, 2, 3, bad])  # type: ignore[list-item]


def test_batch_shape_errors() -> None:
    with pytest.raises(ValueError, match="even number"):
        hash_level([1, 2, 3])
    with pytest.raises(ValueError, match="2 left values but 1 right"):
        poseidon2_many([1, 2], [3])
    with pytest.raises(ValueError, match="row 1: Poseidon takes 1..16 inputs, got 0"):
        poseidon_many([[1], []])
    with pytest.raises(ValueError, match="row 0: Poseidon takes 1..16 inputs, got 17"):
        poseidon_many([list(range(17))])
    for width in (0, 1, 18):
        with pytest.raises(ValueError, match="outside 2..17"):
            permute_fast([0] * width)


def test_generated_functions_are_cached() -> None:
    assert ps._hasher(3) is ps._hasher(3)
    assert ps._permuter(5) is ps._permuter(5)
    with pytest.raises(ValueError):
        ps._hasher(18)
