"""The margin batch circuit ``BatchMargin(k, A)`` (circuits/batch_margin.circom; issue 8).

Every leaf of a margin batch must satisfy the per-account rule with the base haircut,
``value_base = Σ f_eq[a]·E_a − Σ f_debt[a]·D_a ≥ 0`` (SPEC.md §17.3–§17.5), for public factors that are
part of the proof's public signals ``[root, equity_sums, debt_sums, f_eq, f_debt]``.

One module-scoped ``BatchMargin(1, 2)`` is compiled and set up in a tmp dir (phase 1 from the cache of
``toolchain.default_cache_dir()``, the same 2^12 file as tests/test_zk.py), then: a valid batch with debts
(one leaf exactly at value 0) proves and verifies in py_ecc and snarkjs; value −1 at the boundary, a
debt-only leaf, a field-wrapped "negative" equity and an oversized factor cannot produce a witness; a
changed factor or sum in the public signals does not verify; the Python leaf hashes and root equal the
circuit's.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from por.core.errors import BadInput, ServiceUnavailable, VerificationFailed
from por.zk import batch as zb
from por.zk import groth16 as g16
from por.zk import toolchain as tc
from por.zk.poseidon import P, poseidon

K, ASSETS = 1, 2
ENTROPY = "por/v1 zk test vectors"  # as tests/test_zk.py: its 2^12 phase-1 file is cached
U64 = 1 << 64
T = 10**12
# Base-haircut integer factors (SPEC.md §17.3 shape: f_eq[a] = f_debt[a]·(1 − h_a)); gcd 1 so that a
# value of exactly −1 exists.
F_EQ = (95, 99)
F_DEBT = (100, 101)
SEED = bytes(range(32))
SOURCE = Path(__file__).resolve().parents[1] / "circuits" / "batch_margin.circom"


def failing_at(template: str, statement: str) -> str:
    """A regex for circom's witness error naming ``template`` at the line of ``statement`` in the source,
    so each rejection is pinned to the constraint meant to cause it."""
    (line,) = [i for i, text in enumerate(SOURCE.read_text().splitlines(), 1) if text.strip() == statement]
    return rf"Error in template {template}_\d+ line: {line}\b"


VALUE_RULE = ("MarginLeaf", "valueRange.in <== diff;")


def leaf(n: int, equity: tuple[int, int], debt: tuple[int, int]) -> zb.MarginLeaf:
    return zb.MarginLeaf.for_account("snap", "margin", f"user{n}", bytes([n]) * 32, equity, debt)


VALID = [
    leaf(1, (100 * T, 5 * T), (90 * T, 1 * T)),   # well collateralised: value > 0
    leaf(2, (100 * T, 0), (95 * T, 0)),            # exactly at value 0
]
MINUS_ONE = leaf(3, (100 * T, 1), (95 * T + 1, 0))  # 95·100T + 99 − 100·(95T + 1) = −1
DEBT_ONLY = leaf(4, (0, 0), (1, 0))


# ================================================================= Python side (no node)

def test_values_of_the_fixtures() -> None:
    assert zb.margin_value_base(VALID[0], F_EQ, F_DEBT) > 0
    assert zb.margin_value_base(VALID[1], F_EQ, F_DEBT) == 0
    assert zb.margin_value_base(MINUS_ONE, F_EQ, F_DEBT) == -1
    assert zb.margin_value_base(DEBT_ONLY, F_EQ, F_DEBT) == -100


def test_margin_leaf_hash_layout() -> None:
    lf = VALID[0]
    assert lf.hash == poseidon((lf.account, lf.salt, *lf.equity, *lf.debt))
    assert lf.hash == zb.margin_leaf_hash(lf.account, lf.salt, lf.equity, lf.debt)
    # equity and debt are not interchangeable, and a margin leaf is not a plain leaf of 2A balances' prefix
    assert lf.hash != zb.margin_leaf_hash(lf.account, lf.salt, lf.debt, lf.equity)
    pad = zb.pad_margin_leaf(b"\x07" * 32, 2)
    assert pad.account == 0 and pad.equity == pad.debt == (0, 0)
    assert zb.margin_batch_root(VALID) == poseidon((VALID[0].hash, VALID[1].hash))


def test_margin_leaf_domain() -> None:
    zb.MarginLeaf(1, 2, (U64 - 1,) * 7, (0,) * 7)
    for eq, debt in (((U64,), (0,)), ((-1,), (0,)), ((0,), (U64,)), ((1, 2), (1,)), ((), ()),
                     ((0,) * 8, (0,) * 8), ((True,), (0,))):
        with pytest.raises(ValueError):
            zb.MarginLeaf(1, 2, eq, debt)
    with pytest.raises(ValueError):
        zb.MarginLeaf(P, 2, (1,), (0,))


def test_public_signals_layout_and_split() -> None:
    signals = zb.margin_public_signals(7, [1, 2], [3, 4], [5, 6], [8, 9])
    assert signals == [7, 1, 2, 3, 4, 5, 6, 8, 9]
    assert zb.split_margin_public(signals) == (7, [1, 2], [3, 4], [5, 6], [8, 9])
    for bad in (([1], [3, 4], [5, 6], [8, 9]), ([1, 2], [3, 4], [5, U64], [8, 9]), ([1, 2], [3, -1], [5, 6], [8, 9])):
        with pytest.raises(ValueError):
            zb.margin_public_signals(7, *bad)
    with pytest.raises(ValueError):
        zb.split_margin_public([1, 2, 3])


def test_witness_input_and_sums() -> None:
    doc = zb.margin_witness_input(VALID, F_EQ, F_DEBT)
    assert set(doc) == {"account", "salt", "equity", "debt", "f_eq", "f_debt"}
    assert doc["equity"][0] == [str(100 * T), str(5 * T)] and doc["f_debt"] == ["100", "101"]
    assert zb.margin_batch_sums(VALID) == ([200 * T, 5 * T], [185 * T, T])
    with pytest.raises(ValueError):
        zb.margin_witness_input(VALID, F_EQ, (100,))
    with pytest.raises(ValueError):
        zb.margin_witness_input(VALID[:1] * 3, F_EQ, F_DEBT)  # not 2^k leaves


def test_main_source_templates() -> None:
    src = tc.main_source(K, ASSETS, "BatchMargin")
    assert 'include "batch_margin.circom"' in src
    assert "component main {public [f_eq, f_debt]} = BatchMargin(1, 2);" in src
    assert tc.main_source(2, 14) == tc.main_source(2, 14, "Batch")  # the plain template is unchanged
    with pytest.raises(BadInput):
        tc.main_source(1, 8, "BatchMargin")  # 2 + 2·8 > 16 Poseidon inputs
    with pytest.raises(BadInput):
        tc.main_source(1, 1, "Nope")


# ================================================================= toolchain

@dataclass(frozen=True)
class Env:
    setup: tc.CircuitSetup
    vk: g16.VerifyingKey
    work: Path
    proved: tc.MarginBatchProof


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Env:
    try:
        tools = tc.find_tools()
    except ServiceUnavailable as exc:
        pytest.fail(f"zk toolchain missing: {exc}", pytrace=False)
    work = tmp_path_factory.mktemp("zk-margin")
    circuit = tc.compile_batch(K, ASSETS, work, tools=tools, margin=True)
    ptau = tc.powers_of_tau(circuit.info.power, ENTROPY, tc.default_cache_dir(), tools=tools)
    setup = tc.setup(circuit, ptau, ENTROPY, tools=tools)
    proved = tc.prove_margin_batch(setup, VALID, F_EQ, F_DEBT, work, seed=SEED, with_levels=True, tools=tools)
    return Env(setup, setup.verifying_key(), work, proved)


def snarkjs_ok(env: Env, proof: g16.Proof, public: list[int]) -> bool:
    return tc.snarkjs_verify(env.setup.vkey_path, proof.to_json(), [str(v) for v in public])


def test_circuit_shape(env: Env) -> None:
    """Outputs then public inputs: 1 + 2A outputs, 2A public inputs; small enough for the 2^12 phase 1."""
    info = env.setup.circuit.info
    assert env.setup.circuit.margin and env.setup.circuit.name == "BatchMargin(1, 2)"
    assert env.setup.circuit.directory.name == "batch_margin_k1_a2"
    assert (info.n_public_outputs, info.n_public_inputs, info.n_public) == (1 + 2 * ASSETS, 2 * ASSETS, 1 + 4 * ASSETS)
    assert info.power <= 12
    assert info.n_constraints == 2244  # measured; recorded in build/zk-margin-circuit-spec.md
    assert env.vk.n_public == 1 + 4 * ASSETS


def test_valid_batch_proves_and_verifies_in_both(env: Env) -> None:
    root = zb.margin_batch_root(VALID)
    eq, debt = zb.margin_batch_sums(VALID)
    expected = zb.margin_public_signals(root, eq, debt, F_EQ, F_DEBT)
    assert list(env.proved.public) == expected  # snarkjs' order: outputs first, then public inputs
    assert (env.proved.root, env.proved.equity_sums, env.proved.debt_sums) == (root, eq, debt)
    assert (env.proved.f_eq, env.proved.f_debt) == (list(F_EQ), list(F_DEBT))
    zb.verify_margin_batch_proof(env.vk, env.proved.proof, root, eq, debt, F_EQ, F_DEBT)
    assert snarkjs_ok(env, env.proved.proof, expected)


def test_python_hashes_equal_the_circuit(env: Env) -> None:
    assert env.proved.levels == zb.batch_levels([lf.hash for lf in VALID])
    assert env.proved.levels[-1] == [env.proved.root]


def test_deterministic_with_seed(env: Env) -> None:
    again = tc.prove_margin_batch(env.setup, VALID, F_EQ, F_DEBT, env.work, seed=SEED)
    assert again.proof == env.proved.proof


@pytest.mark.parametrize("which", ["f_eq", "f_debt", "equity_sum", "debt_sum"])
def test_changed_public_signal_does_not_verify(env: Env, which: str) -> None:
    root, eq, debt, fe, fd = zb.split_margin_public(env.proved.public)
    if which == "f_eq":
        fe = [fe[0] + 1, fe[1]]    # a laxer haircut than the one proved
    elif which == "f_debt":
        fd = [fd[0] - 1, fd[1]]    # a cheaper debt than the one proved
    elif which == "equity_sum":
        eq = [eq[0] + 1, eq[1]]
    else:
        debt = [debt[0], debt[1] - 1]
    with pytest.raises(VerificationFailed, match="zk margin batch proof"):
        zb.verify_margin_batch_proof(env.vk, env.proved.proof, root, eq, debt, fe, fd)
    assert not snarkjs_ok(env, env.proved.proof, zb.margin_public_signals(root, eq, debt, fe, fd))


def test_zero_value_leaf_alone_proves(env: Env) -> None:
    """Both leaves exactly at value 0 (one with two assets in play)."""
    zero = [VALID[1], leaf(5, (100 * T, 101), (95 * T, 99))]  # 99·101 − 101·99 = 0
    assert [zb.margin_value_base(lf, F_EQ, F_DEBT) for lf in zero] == [0, 0]
    proved = tc.prove_margin_batch(env.setup, zero, F_EQ, F_DEBT, env.work)
    eq, debt = zb.margin_batch_sums(zero)
    zb.verify_margin_batch_proof(env.vk, proved.proof, zb.margin_batch_root(zero), eq, debt, F_EQ, F_DEBT)


@pytest.mark.parametrize("bad", [MINUS_ONE, DEBT_ONLY], ids=["value-minus-one", "debt-only"])
def test_undercollateralised_leaf_cannot_make_a_witness(env: Env, tmp_path: Path, bad: zb.MarginLeaf) -> None:
    leaves = [VALID[0], bad]
    with pytest.raises(tc.WitnessError, match=failing_at(*VALUE_RULE)):
        tc.calculate_witness(env.setup.circuit, zb.margin_witness_input(leaves, F_EQ, F_DEBT), tmp_path / "w.wtns")
    with pytest.raises(tc.WitnessError, match="batch 0"):
        tc.prove_margin_batch(env.setup, leaves, F_EQ, F_DEBT, tmp_path)


def test_minus_one_passes_with_a_laxer_factor(env: Env, tmp_path: Path) -> None:
    """The same leaf is fine when f_debt[0] is one less: the rule really uses the public factors."""
    fd = (F_DEBT[0] - 1, F_DEBT[1])
    assert zb.margin_value_base(MINUS_ONE, F_EQ, fd) >= 0
    tc.calculate_witness(env.setup.circuit, zb.margin_witness_input([VALID[0], MINUS_ONE], F_EQ, fd),
                         tmp_path / "w.wtns")


def _raw(equity: list[list[int]], debt: list[list[int]], f_eq: list[int], f_debt: list[int]) -> dict:
    return {"account": ["1", "2"], "salt": ["3", "4"], "equity": [[str(v) for v in r] for r in equity],
            "debt": [[str(v) for v in r] for r in debt], "f_eq": [str(v) for v in f_eq],
            "f_debt": [str(v) for v in f_debt]}


EQ_RANGE = ("MarginLeaf", "eqRange[a].in <== equity[a];")
DEBT_RANGE = ("MarginLeaf", "debtRange[a].in <== debt[a];")


@pytest.mark.parametrize(("label", "doc", "where"), [
    # equity −1 as a field element: would make pos huge and "pay" any debt if unchecked
    ("wrapped-equity", _raw([[P - 1, 0], [0, 0]], [[0, 0], [0, 0]], list(F_EQ), list(F_DEBT)), EQ_RANGE),
    # debt −1 as a field element: would turn a debt into collateral
    ("wrapped-debt", _raw([[0, 0], [0, 0]], [[P - 1, 0], [0, 0]], list(F_EQ), list(F_DEBT)), DEBT_RANGE),
    ("equity-2^64", _raw([[U64, 0], [0, 0]], [[0, 0], [0, 0]], list(F_EQ), list(F_DEBT)), EQ_RANGE),
    ("debt-2^64", _raw([[U64 - 1, 0], [0, 0]], [[0, U64], [0, 0]], [U64 - 1, 1], [1, 1]), DEBT_RANGE),
    # a wrapped (negative) f_debt would turn debt into collateral; the factors are range-checked in-circuit
    ("wrapped-factor", _raw([[0, 0], [0, 0]], [[1, 0], [0, 0]], list(F_EQ), [P - 1, 101]),
     ("BatchMargin", "fdebtRange[a].in <== f_debt[a];")),
    ("factor-2^64", _raw([[1, 0], [0, 0]], [[0, 0], [0, 0]], [U64, 99], list(F_DEBT)),
     ("BatchMargin", "feqRange[a].in <== f_eq[a];")),
    ("equity-sum-2^64", _raw([[U64 - 1, 0], [1, 0]], [[0, 0], [0, 0]], list(F_EQ), list(F_DEBT)),
     ("BatchMargin", "eqSumRange[a].in <== equity_sum[a];")),
    ("debt-sum-2^64", _raw([[U64 - 1, 0], [0, 1]], [[U64 - 2, 0], [2, 0]], [100, 99], [1, 1]),
     ("BatchMargin", "debtSumRange[a].in <== debt_sum[a];")),
])
def test_out_of_range_cannot_make_a_witness(env: Env, tmp_path: Path, label: str, doc: dict,
                                            where: tuple[str, str]) -> None:
    with pytest.raises(tc.WitnessError, match=failing_at(*where)):
        tc.calculate_witness(env.setup.circuit, doc, tmp_path / "w.wtns")


def test_wrong_circuit_kind_is_bad_input(env: Env, tmp_path: Path) -> None:
    plain = [zb.BatchLeaf(1, 2, (0, 0)), zb.BatchLeaf(3, 4, (0, 0))]
    with pytest.raises(BadInput, match="prove_margin_batches"):
        tc.prove_batch(env.setup, plain, tmp_path, seed=SEED)
    with pytest.raises(BadInput, match="2 assets"):
        tc.prove_margin_batch(env.setup, [leaf(1, (1, 1, 1), (0, 0, 0))] * 2, F_EQ, F_DEBT, tmp_path)
    with pytest.raises(BadInput, match="takes 2 leaves"):
        tc.prove_margin_batch(env.setup, VALID * 2, F_EQ, F_DEBT, tmp_path)
    with pytest.raises(BadInput):
        tc.prove_margin_batch(env.setup, VALID, F_EQ, (100, U64), tmp_path)


def test_forged_witnesses_do_not_verify(env: Env, tmp_path: Path) -> None:
    """A prover who edits the witness (snarkjs proves without checking constraints) gets nothing:
    (1) a debt hidden from the debt sum; (2) leaf 0 given 1000T more debt (value < 0) with the debt sum
    raised to match; (3) the proved factor f_debt[0] lowered in the witness. (``--O2`` substitutes
    ``debt[1][0]`` away as ``debt_sum[0] − debt[0][0]``, so leaf 0's debt is the one edited.)"""
    from por.zk import witness as zw

    circuit = env.setup.circuit
    wtns = tc.calculate_witness(circuit, zb.margin_witness_input(VALID, F_EQ, F_DEBT), tmp_path / "good.wtns")
    values = zw.read_witness(wtns)
    sym = zw.read_symbols(circuit.sym)
    ds0, d00, fd0 = sym["main.debt_sum[0]"], sym["main.debt[0][0]"], sym["main.f_debt[0]"]
    assert values[ds0] == 185 * T and values[d00] == 90 * T and values[fd0] == F_DEBT[0]
    assert zb.margin_value_base(leaf(1, (100 * T, 5 * T), (1090 * T, T)), F_EQ, F_DEBT) < 0

    hidden = list(values)
    hidden[ds0] -= 1
    deeper = list(values)
    deeper[d00] += 1000 * T
    deeper[ds0] += 1000 * T
    cheaper = list(values)
    cheaper[fd0] -= 1
    for name, forged in (("hidden-debt", hidden), ("negative-value", deeper), ("cheaper-debt", cheaper)):
        path = tmp_path / f"{name}.wtns"
        zw.write_witness(path, forged)
        out = tmp_path / name
        out.mkdir()
        proof_path, public_path = tc.prove_witness(env.setup, path, out)
        proof, public = g16.load_proof(proof_path), g16.load_public_signals(public_path)
        assert not g16.is_valid(env.vk, proof, public), name
        assert not tc.snarkjs_verify(env.setup.vkey_path, g16.load_json(proof_path), g16.load_json(public_path))
