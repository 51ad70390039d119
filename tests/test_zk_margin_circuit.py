"""The margin batch circuit ``BatchMargin(k, A)`` (circuits/batch_margin.circom; issue 8).

Every leaf of a margin batch must satisfy the per-account rule with the base haircut,
``value_base = Σ f_eq[a]·E_a − Σ f_debt[a]·D_a ≥ 0`` (SPEC.md §17.3–§17.5), for public factors that are
part of the proof's public signals ``[root, equity_sums, debt_sums, f_eq, f_debt]``.

One module-scoped ``BatchMargin(1, 2)`` is compiled and set up in a tmp dir (phase 1 from the cache of
``tools.default_cache_dir()``, the same 2^12 file as tests/test_zk.py), then: a valid batch with debts
(one leaf exactly at value 0) proves and verifies in py_ecc and snarkjs; value −1 at the boundary, a
debt-only leaf, a field-wrapped "negative" equity and an oversized factor cannot produce a witness; a
changed factor or sum in the public signals does not verify; the Python leaf hashes and root equal the
circuit's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from por.core.errors import BadInput, ServiceUnavailable, VerificationFailed
from por.zk import batch as zb
from por.zk import groth16 as g16
from por.zk import build, prover
from por.zk import tools as zt
from por.zk.circuits import BATCH, BATCH_MARGIN, CIRCUITS, margin_value_base
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


def leaf(n: int, equity: tuple[int, ...], debt: tuple[int, ...]) -> zb.BatchLeaf:
    """A margin leaf: a BatchLeaf over ``E ‖ D``."""
    return zb.BatchLeaf.for_account("snap", "margin", f"user{n}", bytes([n]) * 32,
                                    BATCH_MARGIN.join_values(equity, debt))


def margin_leaf(account: int, salt: int, equity: tuple[int, ...], debt: tuple[int, ...]) -> zb.BatchLeaf:
    return zb.BatchLeaf(account, salt, BATCH_MARGIN.join_values(equity, debt))


VALID = [
    leaf(1, (100 * T, 5 * T), (90 * T, 1 * T)),   # well collateralised: value > 0
    leaf(2, (100 * T, 0), (95 * T, 0)),            # exactly at value 0
]
MINUS_ONE = leaf(3, (100 * T, 1), (95 * T + 1, 0))  # 95·100T + 99 − 100·(95T + 1) = −1
DEBT_ONLY = leaf(4, (0, 0), (1, 0))


# ================================================================= Python side (no node)

def test_values_of_the_fixtures() -> None:
    assert margin_value_base(VALID[0], F_EQ, F_DEBT) > 0
    assert margin_value_base(VALID[1], F_EQ, F_DEBT) == 0
    assert margin_value_base(MINUS_ONE, F_EQ, F_DEBT) == -1
    assert margin_value_base(DEBT_ONLY, F_EQ, F_DEBT) == -100


def test_margin_leaf_hash_layout() -> None:
    lf = VALID[0]
    equity, debt = BATCH_MARGIN.split_values(lf.values)
    assert (equity, debt) == ((100 * T, 5 * T), (90 * T, 1 * T))
    assert lf.hash == poseidon((lf.account, lf.salt, *equity, *debt))
    assert lf.hash == zb.leaf_hash(lf.account, lf.salt, (*equity, *debt))
    # equity and debt are not interchangeable, and a margin leaf is not a plain leaf of 2A balances' prefix
    assert lf.hash != zb.leaf_hash(lf.account, lf.salt, (*debt, *equity))
    pad = zb.pad_leaf(b"\x07" * 32, BATCH_MARGIN.n_values(2))
    assert pad.account == 0 and BATCH_MARGIN.split_values(pad.values) == ((0, 0), (0, 0))
    assert zb.batch_root(VALID) == poseidon((VALID[0].hash, VALID[1].hash))


def test_margin_leaf_domain() -> None:
    margin_leaf(1, 2, (U64 - 1,) * 7, (0,) * 7)
    for eq, debt in (((U64,), (0,)), ((-1,), (0,)), ((0,), (U64,)), ((1, 2), (1,)), ((), ()),
                     ((0,) * 8, (0,) * 8), ((True,), (0,))):
        with pytest.raises(ValueError):
            margin_leaf(1, 2, eq, debt)
    with pytest.raises(ValueError):
        margin_leaf(P, 2, (1,), (0,))
    # a BatchMargin batch holds 2A values per leaf: an odd count is no margin leaf
    with pytest.raises(ValueError):
        BATCH_MARGIN.assets_of([zb.BatchLeaf(1, 2, (1, 2, 1))])


def test_public_signals_layout_and_split() -> None:
    signals = BATCH_MARGIN.public_signals(7, [1, 2, 3, 4], ([5, 6], [8, 9]))
    assert signals == [7, 1, 2, 3, 4, 5, 6, 8, 9]
    assert BATCH_MARGIN.split_public(signals) == (7, (1, 2, 3, 4), ((5, 6), (8, 9)))
    assert BATCH_MARGIN.split_values((1, 2, 3, 4)) == ((1, 2), (3, 4))  # equity sums, debt sums
    for bad in (([1], [3, 4], [5, 6], [8, 9]), ([1, 2], [3, 4], [5, U64], [8, 9]), ([1, 2], [3, -1], [5, 6], [8, 9])):
        with pytest.raises(ValueError):
            BATCH_MARGIN.public_signals(7, [*bad[0], *bad[1]], bad[2:])
    with pytest.raises(ValueError):
        BATCH_MARGIN.split_public([1, 2, 3])
    # the factors come from the caller, and only a circuit with public factors takes them
    with pytest.raises(ValueError):
        BATCH_MARGIN.public_signals(7, [1, 2, 3, 4])
    with pytest.raises(ValueError):
        BATCH.public_signals(7, [1, 2], ([5, 6], [8, 9]))


def test_witness_input_and_sums() -> None:
    doc = BATCH_MARGIN.witness_input(VALID, (F_EQ, F_DEBT))
    assert set(doc) == {"account", "salt", "equity", "debt", "f_eq", "f_debt"}
    assert doc["equity"][0] == [str(100 * T), str(5 * T)] and doc["f_debt"] == ["100", "101"]
    assert BATCH_MARGIN.split_values(zb.batch_sums(VALID)) == ((200 * T, 5 * T), (185 * T, T))
    with pytest.raises(ValueError):
        BATCH_MARGIN.witness_input(VALID, (F_EQ, (100,)))
    with pytest.raises(ValueError):
        BATCH_MARGIN.witness_input(VALID[:1] * 3, (F_EQ, F_DEBT))  # not 2^k leaves
    with pytest.raises(ValueError):
        BATCH_MARGIN.witness_input(VALID)  # factors must come from the caller


def test_main_source_templates(tmp_path: Path) -> None:
    src = BATCH_MARGIN.main_source(K, ASSETS)
    assert 'include "batch_margin.circom"' in src
    assert "component main {public [f_eq, f_debt]} = BatchMargin(1, 2);" in src
    # the plain template is unchanged
    assert BATCH.main_source(2, 14) == 'pragma circom 2.1.0;\ninclude "batch.circom";\ncomponent main = Batch(2, 14);\n'
    with pytest.raises(BadInput):
        BATCH_MARGIN.main_source(1, 8)  # 2 + 2·8 > 16 Poseidon inputs
    # the known templates, by name; an unknown one in a setup directory is refused
    assert {name: kind.template for name, kind in CIRCUITS.items()} == {"Batch": "Batch", "BatchMargin": "BatchMargin"}
    from por.core.encoding import FORMAT_VERSION
    from por.zk.setup import SETUP_FORMAT, load_setup

    (tmp_path / "setup.json").write_text(json.dumps({"format": SETUP_FORMAT, "version": FORMAT_VERSION,
                                                     "circuit": "Nope", "batch_height": 1, "assets": 1,
                                                     "testing_only": True, "vkey_digest": "00"}))
    with pytest.raises(BadInput) as info:
        load_setup(tmp_path)
    assert info.value.field == "circuit"


# ================================================================= toolchain

@dataclass(frozen=True)
class Env:
    setup: build.CircuitSetup
    vk: g16.VerifyingKey
    work: Path
    proved: prover.BatchProof


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Env:
    try:
        tools = zt.find_tools()
    except ServiceUnavailable as exc:
        pytest.fail(f"zk toolchain missing: {exc}", pytrace=False)
    work = tmp_path_factory.mktemp("zk-margin")
    circuit = build.compile_batch(K, ASSETS, work, circuit=BATCH_MARGIN, tools=tools)
    ptau = build.powers_of_tau(circuit.info.power, ENTROPY, zt.default_cache_dir(), tools=tools)
    setup = build.setup(circuit, ptau, ENTROPY, tools=tools)
    proved = prover.prove_batch(setup, VALID, work, factors=(F_EQ, F_DEBT), seed=SEED, with_levels=True, tools=tools)
    return Env(setup, setup.verifying_key(), work, proved)


def snarkjs_ok(env: Env, proof: g16.Proof, public: list[int]) -> bool:
    return prover.snarkjs_verify(env.setup.vkey_path, proof.to_json(), [str(v) for v in public])


def test_circuit_shape(env: Env) -> None:
    """Outputs then public inputs: 1 + 2A outputs, 2A public inputs; small enough for the 2^12 phase 1."""
    info = env.setup.circuit.info
    assert env.setup.circuit.kind == BATCH_MARGIN and env.setup.circuit.name == "BatchMargin(1, 2)"
    assert env.setup.circuit.directory.name == "batch_margin_k1_a2"
    assert (info.n_public_outputs, info.n_public_inputs, info.n_public) == (1 + 2 * ASSETS, 2 * ASSETS, 1 + 4 * ASSETS)
    assert info.power <= 12
    assert info.n_constraints == 2244  # measured; recorded in build/zk-margin-circuit-spec.md
    assert env.vk.n_public == 1 + 4 * ASSETS


def test_valid_batch_proves_and_verifies_in_both(env: Env) -> None:
    root = zb.batch_root(VALID)
    sums = zb.batch_sums(VALID)
    expected = BATCH_MARGIN.public_signals(root, sums, (F_EQ, F_DEBT))
    assert list(env.proved.public) == expected  # snarkjs' order: outputs first, then public inputs
    assert (env.proved.root, list(env.proved.sums)) == (root, sums)
    assert env.proved.factors == (F_EQ, F_DEBT)
    BATCH_MARGIN.verify(env.vk, env.proved.proof, root, sums, (F_EQ, F_DEBT))
    assert snarkjs_ok(env, env.proved.proof, expected)


def test_python_hashes_equal_the_circuit(env: Env) -> None:
    assert env.proved.levels == zb.batch_levels([lf.hash for lf in VALID])
    assert env.proved.levels[-1] == [env.proved.root]


def test_deterministic_with_seed(env: Env) -> None:
    again = prover.prove_batch(env.setup, VALID, env.work, factors=(F_EQ, F_DEBT), seed=SEED)
    assert again.proof == env.proved.proof


@pytest.mark.parametrize("which", ["f_eq", "f_debt", "equity_sum", "debt_sum"])
def test_changed_public_signal_does_not_verify(env: Env, which: str) -> None:
    root, sums, (fe, fd) = BATCH_MARGIN.split_public(env.proved.public)
    eq, debt = BATCH_MARGIN.split_values(sums)
    if which == "f_eq":
        fe = [fe[0] + 1, fe[1]]    # a laxer haircut than the one proved
    elif which == "f_debt":
        fd = [fd[0] - 1, fd[1]]    # a cheaper debt than the one proved
    elif which == "equity_sum":
        eq = [eq[0] + 1, eq[1]]
    else:
        debt = [debt[0], debt[1] - 1]
    with pytest.raises(VerificationFailed, match="zk margin batch proof"):
        BATCH_MARGIN.verify(env.vk, env.proved.proof, root, [*eq, *debt], (fe, fd))
    assert not snarkjs_ok(env, env.proved.proof, BATCH_MARGIN.public_signals(root, [*eq, *debt], (fe, fd)))


def test_zero_value_leaf_alone_proves(env: Env) -> None:
    """Both leaves exactly at value 0 (one with two assets in play)."""
    zero = [VALID[1], leaf(5, (100 * T, 101), (95 * T, 99))]  # 99·101 − 101·99 = 0
    assert [margin_value_base(lf, F_EQ, F_DEBT) for lf in zero] == [0, 0]
    proved = prover.prove_batch(env.setup, zero, env.work, factors=(F_EQ, F_DEBT))
    BATCH_MARGIN.verify(env.vk, proved.proof, zb.batch_root(zero), zb.batch_sums(zero), (F_EQ, F_DEBT))


@pytest.mark.parametrize("bad", [MINUS_ONE, DEBT_ONLY], ids=["value-minus-one", "debt-only"])
def test_undercollateralised_leaf_cannot_make_a_witness(env: Env, tmp_path: Path, bad: zb.BatchLeaf) -> None:
    leaves = [VALID[0], bad]
    with pytest.raises(zt.WitnessError, match=failing_at(*VALUE_RULE)):
        prover.calculate_witness(env.setup.circuit, BATCH_MARGIN.witness_input(leaves, (F_EQ, F_DEBT)),
                                 tmp_path / "w.wtns")
    with pytest.raises(zt.WitnessError, match="batch 0"):
        prover.prove_batch(env.setup, leaves, tmp_path, factors=(F_EQ, F_DEBT))


def test_minus_one_passes_with_a_laxer_factor(env: Env, tmp_path: Path) -> None:
    """The same leaf is fine when f_debt[0] is one less: the rule really uses the public factors."""
    fd = (F_DEBT[0] - 1, F_DEBT[1])
    assert margin_value_base(MINUS_ONE, F_EQ, fd) >= 0
    prover.calculate_witness(env.setup.circuit, BATCH_MARGIN.witness_input([VALID[0], MINUS_ONE], (F_EQ, fd)),
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
    with pytest.raises(zt.WitnessError, match=failing_at(*where)):
        prover.calculate_witness(env.setup.circuit, doc, tmp_path / "w.wtns")


def test_wrong_circuit_kind_is_bad_input(env: Env, tmp_path: Path) -> None:
    plain = [zb.BatchLeaf(1, 2, (0, 0)), zb.BatchLeaf(3, 4, (0, 0))]
    # a margin circuit refuses to prove without the caller's factors, and plain leaves of A values
    with pytest.raises(BadInput, match="needs its public factors"):
        prover.prove_batch(env.setup, VALID, tmp_path, seed=SEED)
    with pytest.raises(BadInput, match="needs its public factors"):
        prover.prove_batches(env.setup, [(VALID, SEED)])
    with pytest.raises(BadInput, match="must hold 2 assets"):
        prover.prove_batch(env.setup, plain, tmp_path, factors=(F_EQ, F_DEBT), seed=SEED)
    with pytest.raises(BadInput, match="2 assets"):
        prover.prove_batch(env.setup, [leaf(1, (1, 1, 1), (0, 0, 0))] * 2, tmp_path, factors=(F_EQ, F_DEBT))
    with pytest.raises(BadInput, match="takes 2 leaves"):
        prover.prove_batch(env.setup, VALID * 2, tmp_path, factors=(F_EQ, F_DEBT))
    with pytest.raises(BadInput):
        prover.prove_batch(env.setup, VALID, tmp_path, factors=(F_EQ, (100, U64)))


def test_forged_witnesses_do_not_verify(env: Env, tmp_path: Path) -> None:
    """A prover who edits the witness (snarkjs proves without checking constraints) gets nothing:
    (1) a debt hidden from the debt sum; (2) leaf 0 given 1000T more debt (value < 0) with the debt sum
    raised to match; (3) the proved factor f_debt[0] lowered in the witness. (``--O2`` substitutes
    ``debt[1][0]`` away as ``debt_sum[0] − debt[0][0]``, so leaf 0's debt is the one edited.)"""
    from por.zk import witness as zw

    circuit = env.setup.circuit
    wtns = prover.calculate_witness(circuit, BATCH_MARGIN.witness_input(VALID, (F_EQ, F_DEBT)), tmp_path / "good.wtns")
    values = zw.read_witness(wtns)
    sym = zw.read_symbols(circuit.sym)
    ds0, d00, fd0 = sym["main.debt_sum[0]"], sym["main.debt[0][0]"], sym["main.f_debt[0]"]
    assert values[ds0] == 185 * T and values[d00] == 90 * T and values[fd0] == F_DEBT[0]
    assert margin_value_base(leaf(1, (100 * T, 5 * T), (1090 * T, T)), F_EQ, F_DEBT) < 0

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
        proof_path, public_path = prover.prove_witness(env.setup, path, out)
        proof, public = g16.load_proof(proof_path), g16.load_public_signals(public_path)
        assert not g16.is_valid(env.vk, proof, public), name
        assert not prover.snarkjs_verify(env.setup.vkey_path, g16.load_json(proof_path), g16.load_json(public_path))
