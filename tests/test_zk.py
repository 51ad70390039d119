"""zk batch layer (SPEC.md §16): Poseidon, encodings, circuit, Groth16 in py_ecc and snarkjs.

Two halves:

* node-free tests on the checked-in vectors of ``tests/vectors/zk`` (made by ``make_zk_vectors.py``
  with the real toolchain): Poseidon against circomlib's published outputs, the field reductions
  re-derived here with ``hashlib`` alone, the circuit's root against the Python root, the stored
  proof in py_ecc, every tampered element and every malformed document;
* toolchain tests on one module-scoped ``Batch(2, 2)`` compiled and set up in a tmp dir: fresh
  proofs verify in py_ecc *and* snarkjs, out-of-range balances and sums cannot produce a witness,
  forged witnesses and wrong claims cannot produce a verifying proof, and the two verifiers agree.

The local phase-1 file (``powers_of_tau``, about 2.5 minutes at 2^12 on 2 cores) is checked in
(``tests/fixtures/zk``, seeded into ``tools.default_cache_dir()`` -- ``build/zk`` or ``$POR_ZK_CACHE`` -- by
tests/conftest.py; :func:`test_checked_in_phase_1_is_the_local_one`, slow, re-derives it); the circuit and its
phase 2 are rebuilt in a tmp dir every run (about 25 s).
"""

from __future__ import annotations

import copy
import functools
import hashlib
import importlib.util
import json
import random
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from py_ecc.optimized_bn128 import FQ2, G1, G2, add, b2, field_modulus, normalize

from por.core.errors import BadInput, ServiceUnavailable, VerificationFailed
from por.zk import batch as zb
from por.zk import groth16 as g16
from por.zk import build, prover
from por.zk.circuits import BATCH
from por.zk import tools as zt
from por.zk import witness as zw
from por.zk.poseidon import P, params, permute, poseidon

ROOT = Path(__file__).resolve().parents[1]
VEC = Path(__file__).resolve().parent / "vectors" / "zk"
K, ASSETS = 2, 2
ENTROPY = "por/v1 zk test vectors"  # the vectors' entropy: the fixture's setup must reproduce their key
U64 = 1 << 64

CIRCOMLIB_VECTORS = [
    # circomlib 2.0.5 test/poseidoncircuit.js (and circomlibjs), inputs -> Poseidon(inputs)
    ([1, 2], 7853200120776062878684798364095072458815029376092732009249414926327459813530),
    ([3, 4], 14763215145315200506921711489642608356394854266165572616578112107564877678998),
    ([1, 2, 0, 0, 0], 1018317224307729531995786483840663576608797660851238720571059489595066344487),
    ([3, 4, 5, 10, 23], 13034429309846638789535561449942021891039729847501137143363028890275222221409),
]
CONSTANTS_SHA256 = "dcd246f21183dcb4b5a12dc0fc472034ea067c81e41c30d750e05f72f56be206"
"""sha256 of por/zk/poseidon_constants.json, as recorded in SPEC.md §16.2."""


def load(name: str) -> object:
    return json.loads((VEC / name).read_text())


# ================================================================= Poseidon

@pytest.mark.parametrize(("inputs", "expected"), CIRCOMLIB_VECTORS)
def test_poseidon_matches_circomlib(inputs: list[int], expected: int) -> None:
    assert poseidon(inputs) == expected


def test_poseidon_issue_vector_hex() -> None:
    assert poseidon([1, 2]) == 0x115CC0F5E7D690413DF64C6B9662E9CF2A3617F2743245519E19607A4417189A


def test_poseidon_rejects_bad_inputs() -> None:
    for bad in ([], list(range(17)), [P], [-1], [True], [1.0]):
        with pytest.raises(ValueError):
            poseidon(bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="t = 3"):
        permute([0, 1, 2, 3], params(3))


def test_constants_file_is_pinned_and_regenerates() -> None:
    """The shipped constants hash as SPEC.md §16.2 says, and the generator (which re-derives every constant
    with the reference Grain LFSR and cross-checks circomlib's two files) writes exactly them."""
    data = (ROOT / "por" / "zk" / "poseidon_constants.json").read_bytes()
    assert hashlib.sha256(data).hexdigest() == CONSTANTS_SHA256
    spec = importlib.util.spec_from_file_location("gen", ROOT / "circuits" / "gen_poseidon_constants.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)  # type: ignore[union-attr]
    assert gen.render(gen.build()) == data


def test_grain_lfsr_reproduces_width_3_constants() -> None:
    """Independent of circomlib's files: the reference generator's first round constant for t = 3."""
    spec = importlib.util.spec_from_file_location("gen", ROOT / "circuits" / "gen_poseidon_constants.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)  # type: ignore[union-attr]
    constants, bits = gen.grain_round_constants(3)
    assert constants[0] == 0x0EE9A592BA9A9518D05986D656F40C2114C4993C11BB29938D21D47304CD8E6E
    prm = params(3)
    assert tuple(constants[:3]) == prm.round_constants[0]
    assert tuple(map(tuple, gen.grain_mds(bits, 3))) == prm.mds


# ================================================================= encodings

def test_field_reductions_from_the_spec() -> None:
    """account/salt fields re-derived with hashlib only, exactly as SPEC.md §16.3 writes them."""
    def lp(b: bytes) -> bytes:
        return struct.pack(">I", len(b)) + b

    def top253(data: bytes) -> int:
        return int.from_bytes(hashlib.sha256(data).digest(), "big") >> 3

    acc = top253(lp(b"por/v1/zk-account") + lp(b"snap") + lp(b"main") + lp("ålice".encode()))
    assert zb.account_field("snap", "main", "ålice") == acc
    salt = bytes(range(32))
    assert zb.salt_field(salt) == top253(lp(b"por/v1/zk-salt") + salt)
    assert zb.digest_to_field(b"\xff" * 32) == (1 << 253) - 1 < P
    with pytest.raises(ValueError):
        zb.salt_field(b"\x00" * 31)


def test_field_bytes_roundtrip_and_rejects_p() -> None:
    for x in (0, 1, P - 1, random.Random(1).randrange(P)):
        assert zb.bytes32_to_field(zb.field_to_bytes32(x)) == x
    with pytest.raises(ValueError, match=">= p"):
        zb.bytes32_to_field(P.to_bytes(32, "big"))
    with pytest.raises(ValueError):
        zb.bytes32_to_field(b"\x00" * 33)
    with pytest.raises(ValueError):
        zb.field_to_bytes32(P)


def test_leaf_domain() -> None:
    zb.BatchLeaf(1, 2, (0, U64 - 1))
    for balances in ((U64,), (-1,), (P - 1,), (True,), (), tuple(range(15))):
        with pytest.raises(ValueError):
            zb.BatchLeaf(1, 2, balances)
    with pytest.raises(ValueError):
        zb.BatchLeaf(P, 2, (1,))
    with pytest.raises(ValueError, match="not below 2\\^64"):
        zb.batch_sums([zb.BatchLeaf(1, 2, (U64 - 1,)), zb.BatchLeaf(1, 2, (1,))])
    with pytest.raises(ValueError, match="different numbers"):
        zb.batch_sums([zb.BatchLeaf(1, 2, (1,)), zb.BatchLeaf(1, 2, (1, 2))])


def test_levels_paths_and_padding() -> None:
    rng = random.Random(7)
    leaves = [zb.BatchLeaf(rng.randrange(P), rng.randrange(P), (rng.randrange(U64 >> 3),)) for _ in range(7)]
    leaves.append(zb.pad_leaf(b"\x42" * 32, 1))
    assert leaves[-1] == zb.BatchLeaf(0, zb.salt_field(b"\x42" * 32), (0,))
    levels = zb.batch_levels([leaf.hash for leaf in leaves])
    assert [len(level) for level in levels] == [8, 4, 2, 1]
    assert levels[1][2] == poseidon([levels[0][4], levels[0][5]])
    assert levels[0][0] == poseidon([leaves[0].account, leaves[0].salt, *leaves[0].values])
    for i in range(8):
        path = zb.batch_path(levels, i)
        assert zb.root_from_path(levels[0][i], i, path) == levels[-1][0]
        assert zb.root_from_path(levels[0][i], i ^ 1, path) != levels[-1][0]
    assert zb.batch_levels([5]) == [[5]]
    for n in (0, 3, 6):
        with pytest.raises(ValueError):
            zb.batch_levels([1] * n)
    with pytest.raises(ValueError):
        BATCH.public_signals(1, [U64])


# ================================================================= checked-in vectors (no node)

def test_vectors_python_equals_circuit() -> None:
    """The stored public signals (computed by the compiled circuit) equal the Python root and sums,
    and every intermediate value in vectors.json is what the library computes."""
    spec = importlib.util.spec_from_file_location("mk", VEC / "make_zk_vectors.py")
    mk = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mk)  # type: ignore[union-attr]
    leaves, described = mk.build_leaves()
    vec = load("vectors.json")
    assert vec["leaves"] == described
    levels = zb.batch_levels([leaf.hash for leaf in leaves])
    assert vec["levels"] == [[str(v) for v in level] for level in levels]
    assert load("input.json") == BATCH.witness_input(leaves)
    root, sums = levels[-1][0], zb.batch_sums(leaves)
    assert sums == [U64 - 1, U64 - 1]
    assert load("public.json") == [str(root), *map(str, sums)]
    assert vec["root_bytes32"] == zb.field_to_bytes32(root).hex()


@pytest.fixture(scope="module")
def stored() -> tuple[g16.VerifyingKey, g16.Proof, list[int]]:
    vk = g16.load_verifying_key(VEC / "verification_key.json")
    proof = g16.load_proof(VEC / "proof.json")
    public = g16.load_public_signals(VEC / "public.json", expected=vk.n_public)
    return vk, proof, public


def test_stored_proof_verifies(stored) -> None:
    vk, proof, public = stored
    g16.verify(vk, proof, public)
    BATCH.verify(vk, proof, public[0], public[1:])
    assert vk.digest().hex() == load("vectors.json")["vk_digest"]
    assert vk.n_public == 1 + ASSETS


def _g1_shift(p: g16.G1Point) -> g16.G1Point:
    x, y = normalize(add(p.ecc, G1))
    return g16.G1Point(x.n, y.n)


def _g2_shift(p: g16.G2Point) -> g16.G2Point:
    x, y = normalize(add(p.ecc, G2))
    return g16.G2Point(tuple(x.coeffs), tuple(y.coeffs))  # type: ignore[arg-type]


def tampered_variants(proof: g16.Proof, public: list[int]) -> dict[str, tuple[g16.Proof, list[int]]]:
    """Each proof element moved to another valid group element, and each public signal + 1."""
    out = {
        "A": (g16.Proof(_g1_shift(proof.a), proof.b, proof.c), public),
        "B": (g16.Proof(proof.a, _g2_shift(proof.b), proof.c), public),
        "C": (g16.Proof(proof.a, proof.b, _g1_shift(proof.c)), public),
    }
    for i in range(len(public)):
        changed = list(public)
        changed[i] = (changed[i] + 1) % P
        out[f"public[{i}]"] = (proof, changed)
    return out


def test_stored_proof_tampering_rejected(stored) -> None:
    vk, proof, public = stored
    for name, (bad_proof, bad_public) in tampered_variants(proof, public).items():
        with pytest.raises(VerificationFailed, match="pairing check"):
            g16.verify(vk, bad_proof, bad_public)
        assert not g16.is_valid(vk, bad_proof, bad_public), name


def test_public_signal_aliases_rejected(stored) -> None:
    """s + r would alias s in the pairing equation; the verifier refuses it instead of reducing."""
    vk, proof, public = stored
    with pytest.raises(BadInput, match="scalar field"):
        g16.verify(vk, proof, [public[0] + g16.R_MODULUS, *public[1:]])
    with pytest.raises(BadInput, match="below the field modulus"):
        g16.parse_public_signals([str(public[0] + g16.R_MODULUS), *map(str, public[1:])])
    with pytest.raises(BadInput, match="takes 3 public signals, got 2"):
        g16.verify(vk, proof, public[:2])
    with pytest.raises(ValueError, match="not a u64"):
        BATCH.verify(vk, proof, public[0], [public[1] + U64, public[2]])


def _fq2_sqrt(a: FQ2) -> FQ2 | None:
    """Square root in F_q² for q ≡ 3 (mod 4) (Adj & Rodríguez-Henríquez, algorithm 9)."""
    q = field_modulus
    a1 = a ** ((q - 3) // 4)
    alpha = a1 * a1 * a
    x0 = a1 * a
    if alpha == FQ2([q - 1, 0]):
        x = FQ2([0, 1]) * x0
    else:
        x = (FQ2.one() + alpha) ** ((q - 1) // 2) * x0
    return x if x * x == a else None


@functools.cache
def _twist_point_outside_subgroup() -> list[list[str]]:
    for i in range(1, 100):
        x = FQ2([i, 1])
        y = _fq2_sqrt(x ** 3 + b2)
        if y is not None:
            return [[str(c) for c in x.coeffs], [str(c) for c in y.coeffs], ["1", "0"]]
    raise AssertionError("no twist point found")


def _mutations() -> list[tuple[str, str, Callable[[dict], object], str]]:
    """(document, description, mutate, expected message) for malformed snarkjs documents."""
    def set_(path: list, value: object) -> Callable[[dict], object]:
        def f(doc: dict) -> object:
            node = doc
            for key in path[:-1]:
                node = node[key]
            node[path[-1]] = value
            return doc
        return f

    def drop(key: str) -> Callable[[dict], object]:
        return lambda doc: {k: v for k, v in doc.items() if k != key}

    def flip(path: list) -> Callable[[dict], object]:
        def f(doc: dict) -> object:
            node = doc
            for key in path[:-1]:
                node = node[key]
            node[path[-1]] = str(int(node[path[-1]]) ^ 1)
            return doc
        return f

    q = str(field_modulus)
    decimal = "canonical decimal string"
    return [
        ("proof", "not an object", lambda d: [d], "must be a JSON object"),
        ("proof", "missing pi_c", drop("pi_c"), "lacks pi_c"),
        ("proof", "unknown key", set_(["extra"], 1), "unknown key"),
        ("proof", "wrong protocol", set_(["protocol"], "plonk"), "expected 'groth16'"),
        ("proof", "wrong curve", set_(["curve"], "bls12381"), "expected 'bn128'"),
        ("proof", "number instead of string", set_(["pi_a", 0], 5), decimal),
        ("proof", "leading zero", lambda d: set_(["pi_a", 0], "0" + d["pi_a"][0])(d), decimal),
        ("proof", "negative", lambda d: set_(["pi_a", 0], "-" + d["pi_a"][0])(d), decimal),
        ("proof", "hex string", set_(["pi_a", 0], "0x1"), decimal),
        ("proof", "coordinate = q", set_(["pi_a", 0], q), "below the field modulus"),
        ("proof", "off curve", flip(["pi_a", 1]), "not on the BN254 G1 curve"),
        ("proof", "projective z", set_(["pi_a", 2], "2"), "affine"),
        ("proof", "infinity", set_(["pi_c"], ["0", "1", "0"]), "infinity"),
        ("proof", "short point", lambda d: set_(["pi_a"], d["pi_a"][:2])(d), "list of 3"),
        ("proof", "G2 off curve", flip(["pi_b", 0, 0]), "not on the BN254 G2"),
        ("proof", "G2 z", set_(["pi_b", 2], ["1", "1"]), "affine"),
        ("proof", "G2 outside subgroup", set_(["pi_b"], _twist_point_outside_subgroup()), "subgroup"),
        ("vk", "missing IC", drop("IC"), "lacks IC"),
        ("vk", "nPublic mismatch", lambda d: set_(["nPublic"], d["nPublic"] + 1)(d), "nPublic"),
        ("vk", "nPublic as string", lambda d: set_(["nPublic"], str(d["nPublic"]))(d), "nPublic"),
        ("vk", "nPublic bool", set_(["nPublic"], True), "nPublic"),
        ("vk", "empty IC", set_(["IC"], []), "non-empty"),
        ("vk", "IC off curve", flip(["IC", 1, 0]), "not on the BN254 G1 curve"),
        ("vk", "delta = gamma (no phase 2)", lambda d: set_(["vk_delta_2"], d["vk_gamma_2"])(d), "phase-2"),
        ("vk", "beta outside subgroup", set_(["vk_beta_2"], _twist_point_outside_subgroup()), "subgroup"),
        ("vk", "unknown key", set_(["vk_extra"], []), "unknown key"),
        ("vk", "wrong curve", set_(["curve"], "bn254"), "expected 'bn128'"),
    ]


@pytest.mark.parametrize(("which", "what", "mutate", "match"), _mutations(), ids=[m[1] for m in _mutations()])
def test_malformed_documents_are_bad_input(which: str, what: str, mutate, match: str) -> None:
    doc = copy.deepcopy(load("proof.json" if which == "proof" else "verification_key.json"))
    bad = mutate(doc)
    parse = g16.parse_proof if which == "proof" else g16.parse_verifying_key
    with pytest.raises(BadInput, match=match) as exc:
        parse(bad)
    assert exc.value.file is not None


def test_malformed_json_and_public_signals(tmp_path: Path) -> None:
    for text, match in (("{", "invalid JSON"), ('{"a": 1, "a": 2}', "duplicate key"), ("[NaN]", "NaN")):
        path = tmp_path / "x.json"
        path.write_text(text)
        with pytest.raises(BadInput, match=match) as exc:
            g16.load_json(path)
        assert str(path) in str(exc.value)
    with pytest.raises(BadInput, match="cannot read"):
        g16.load_proof(tmp_path / "missing.json")
    for doc in ({"0": "1"}, [1, 2, 3], ["1", "01", "2"], ["1", "2"]):
        with pytest.raises(BadInput):
            g16.parse_public_signals(doc, expected=3)
    vk, proof, public = (load("verification_key.json"), load("proof.json"), load("public.json"))
    g16.verify_documents(vk, proof, public)
    with pytest.raises(BadInput, match="expected 3 public signals"):
        g16.verify_documents(vk, proof, public[:2])


# ================================================================= toolchain (node, snarkjs)

@dataclass
class Env:
    setup: build.CircuitSetup
    vk: g16.VerifyingKey
    work: Path
    leaves: list[zb.BatchLeaf]
    proved: prover.BatchProof


def random_leaves(seed: int, n: int = 1 << K, assets: int = ASSETS) -> list[zb.BatchLeaf]:
    """Accounts with random ids, salts and balances (each < 2^61 so sums stay u64), last one padding."""
    rng = random.Random(seed)
    leaves = [zb.BatchLeaf.for_account("snap", "main", f"user{rng.randrange(10**9)}", rng.randbytes(32),
                                       tuple(rng.randrange(1 << 61) for _ in range(assets)))
              for _ in range(n - 1)]
    return [*leaves, zb.pad_leaf(rng.randbytes(32), assets)]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Env:
    """Batch(2, 2) compiled and set up once (phase 1 cached, see the module docstring), one proof."""
    try:
        tools = zt.find_tools()
    except ServiceUnavailable as exc:
        pytest.fail(f"zk toolchain missing: {exc}", pytrace=False)
    work = tmp_path_factory.mktemp("zk")
    circuit = build.compile_batch(K, ASSETS, work, tools=tools)
    ptau = build.powers_of_tau(circuit.info.power, ENTROPY, zt.default_cache_dir(), tools=tools)
    setup = build.setup(circuit, ptau, ENTROPY, tools=tools)
    leaves = random_leaves(1)
    return Env(setup, setup.verifying_key(), work, leaves, prover.prove_batch(setup, leaves, work, tools=tools))


def snarkjs_ok(env: Env, proof: g16.Proof, public: list[int]) -> bool:
    return prover.snarkjs_verify(env.setup.vkey_path, proof.to_json(), [str(v) for v in public])


def test_setup_is_deterministic(env: Env) -> None:
    """The same entropy reproduces the checked-in verifying key byte for byte."""
    assert env.setup.vkey_path.read_bytes() == (VEC / "verification_key.json").read_bytes()
    assert env.setup.circuit.info.n_constraints == load("vectors.json")["constraints"]


def test_valid_batch_proves_and_verifies_in_both(env: Env) -> None:
    root, sums = zb.batch_root(env.leaves), zb.batch_sums(env.leaves)
    assert env.proved.root == root and list(env.proved.sums) == sums
    BATCH.verify(env.vk, env.proved.proof, root, sums)
    assert snarkjs_ok(env, env.proved.proof, [root, *sums])
    # the stored vectors' proof verifies in snarkjs too
    assert prover.snarkjs_verify(VEC / "verification_key.json", load("proof.json"), load("public.json"))


def test_tampering_rejected_by_both_verifiers(env: Env) -> None:
    public = list(env.proved.public)
    for name, (proof, pub) in tampered_variants(env.proved.proof, public).items():
        assert not g16.is_valid(env.vk, proof, pub), name
        assert not snarkjs_ok(env, proof, pub), name


def test_wrong_claims_do_not_verify(env: Env) -> None:
    """A root of a batch with one leaf changed, or sums off by one, with the genuine proof."""
    other = list(env.leaves)
    other[0] = zb.BatchLeaf(other[0].account, other[0].salt, (other[0].values[0] + 1, other[0].values[1]))
    sums = zb.batch_sums(env.leaves)
    claims = {
        "leaf not in root": (zb.batch_root(other), sums),
        "sum + 1": (env.proved.root, [sums[0] + 1, sums[1]]),
        "sum - 1 (hide a liability)": (env.proved.root, [sums[0], sums[1] - 1]),
        "sums of the changed batch": (zb.batch_root(other), zb.batch_sums(other)),
    }
    for name, (root, claimed) in claims.items():
        with pytest.raises(VerificationFailed):
            BATCH.verify(env.vk, env.proved.proof, root, claimed)
        assert not snarkjs_ok(env, env.proved.proof, [root, *claimed]), name


def _raw_input(balances: list[list[int]]) -> dict[str, list]:
    n = len(balances)
    return {"account": [str(i + 1) for i in range(n)], "salt": [str(i + 7) for i in range(n)],
            "balance": [[str(v) for v in row] for row in balances]}


@pytest.mark.parametrize(("label", "balances", "template"), [
    ("wrapped negative p - 1", [[P - 1, 0], [5, 0], [0, 0], [0, 0]], "Num2Bits"),
    ("balance 2^64", [[0, U64], [0, 0], [0, 0], [0, 0]], "Num2Bits"),
    ("sum 2^64", [[U64 - 1, 0], [1, 0], [0, 0], [0, 0]], "Batch"),
])
def test_out_of_range_cannot_make_a_witness(env: Env, tmp_path: Path, label: str, balances, template) -> None:
    with pytest.raises(zt.WitnessError, match=f"Assert Failed.*{template}"):
        prover.calculate_witness(env.setup.circuit, _raw_input(balances), tmp_path / "w.wtns")
    with pytest.raises(ValueError):  # and the Python side refuses to build such a batch at all
        zb.batch_sums([zb.BatchLeaf(1, 2, tuple(row)) for row in balances])


def test_forged_witnesses_do_not_verify(env: Env, tmp_path: Path) -> None:
    """A prover who edits the witness (snarkjs proves without checking constraints) gets nothing:
    (1) a bigger claimed sum; (2) a field-wrapped "negative" balance p - 1 with the sum lowered to match."""
    circuit = env.setup.circuit
    wtns = prover.calculate_witness(circuit, BATCH.witness_input(env.leaves), tmp_path / "good.wtns")
    values = zw.read_witness(wtns)
    sym = zw.read_symbols(circuit.sym)
    s0, b00 = sym["main.sum[0]"], sym["main.balance[0][0]"]
    assert values[s0] == zb.batch_sums(env.leaves)[0]

    bigger = list(values)
    bigger[s0] += 1
    negative = list(values)
    negative[b00] = P - 1
    negative[s0] = (values[s0] - values[b00] - 1) % P
    for name, forged in (("sum + 1", bigger), ("balance = p - 1", negative)):
        path = tmp_path / f"{name}.wtns".replace(" ", "_")
        zw.write_witness(path, forged)
        out = tmp_path / name.replace(" ", "_")
        out.mkdir()
        proof_path, public_path = prover.prove_witness(env.setup, path, out)
        proof, public = g16.load_proof(proof_path), g16.load_public_signals(public_path)
        assert public[1] == forged[s0], name
        assert not g16.is_valid(env.vk, proof, public), name
        assert not prover.snarkjs_verify(env.setup.vkey_path, g16.load_json(proof_path), g16.load_json(public_path))


def test_fresh_batches_with_padding(env: Env) -> None:
    """A second random batch (different proof randomness): Python == circuit, verifies in py_ecc."""
    leaves = random_leaves(2)
    leaves[1] = zb.pad_leaf(b"\x01" * 32, ASSETS)
    proved = prover.prove_batch(env.setup, leaves, env.work, with_levels=True)
    assert proved.public == (zb.batch_root(leaves), *zb.batch_sums(leaves))
    assert proved.levels == zb.batch_levels([leaf.hash for leaf in leaves])
    assert proved.proof != env.proved.proof
    g16.verify(env.vk, proved.proof, list(proved.public))


def _fake_ptau(path: Path, power: int) -> Path:
    """A file with just a bn128 .ptau header of the given power (enough for the size check)."""
    header = struct.pack("<I", 32) + field_modulus.to_bytes(32, "little") + struct.pack("<II", power, power)
    path.write_bytes(b"ptau" + struct.pack("<II", 1, 1) + struct.pack("<IQ", 1, len(header)) + header)
    return path


def test_tool_errors(env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(BadInput, match="takes 4 leaves"):
        prover.prove_batch(env.setup, env.leaves[:2])
    with pytest.raises(BadInput, match="must hold 2 assets"):
        prover.prove_batch(env.setup, random_leaves(3, assets=1))
    with pytest.raises(BadInput, match="takes no public factors"):  # a plain circuit has none to take
        prover.prove_batch(env.setup, env.leaves, factors=((1, 1), (1, 1)))
    for k, assets in ((2, 15), (2, 0), (21, 1)):
        with pytest.raises(BadInput, match="outside"):
            BATCH.main_source(k, assets)
    circuit = env.setup.circuit
    assert circuit.info.power == 12 and circuit.info.n_public == 1 + ASSETS
    with pytest.raises(BadInput, match="needs powers of tau of at least 2\\^12"):
        build.setup(circuit, _fake_ptau(tmp_path / "small.ptau", 11), ENTROPY)
    (tmp_path / "junk.ptau").write_bytes(b"junk" * 40)
    with pytest.raises(BadInput, match="not a powers-of-tau"):
        build.setup(circuit, tmp_path / "junk.ptau", ENTROPY)
    with pytest.raises(BadInput, match="not an r1cs"):
        build.read_r1cs_info(tmp_path / "junk.ptau")
    with pytest.raises(BadInput, match="entropy"):
        build.powers_of_tau(12, "", tmp_path)
    monkeypatch.setattr(zt.shutil, "which", lambda name: None)
    with pytest.raises(ServiceUnavailable, match="node not found"):
        zt.find_tools()
    monkeypatch.undo()
    monkeypatch.setattr(zt, "SNARKJS_BIN", tmp_path / "nope" / "snarkjs")
    with pytest.raises(ServiceUnavailable, match="setup-node.sh"):
        zt.find_tools()


def test_import_setup(env: Env, tmp_path: Path) -> None:
    """A final zkey from elsewhere (here: our own) gives back the same verifying key."""
    imported = build.import_setup(env.setup.circuit, env.setup.zkey, tmp_path / "imported")
    assert imported.verifying_key() == env.vk
    assert imported.zkey.read_bytes() == env.setup.zkey.read_bytes()


@pytest.mark.slow
def test_import_setup_verifies_zkey_against_ptau(env: Env, tmp_path: Path) -> None:
    """With the ceremony's ptau, snarkjs zkey verify must accept the zkey for this r1cs (about 20 s)
    and reject it for another circuit."""
    ptau = build.powers_of_tau(env.setup.circuit.info.power, ENTROPY, zt.default_cache_dir())
    imported = build.import_setup(env.setup.circuit, env.setup.zkey, tmp_path / "imported", ptau=ptau)
    assert imported.verifying_key() == env.vk
    other = build.compile_batch(K, 1, tmp_path)
    with pytest.raises(zt.ToolError, match="zkey verify"):
        build.import_setup(other, env.setup.zkey, tmp_path / "wrong", ptau=ptau)


@pytest.mark.slow
def test_checked_in_phase_1_is_the_local_one(tmp_path: Path) -> None:
    """The phase-1 file the default tests start from is exactly what ``powers_of_tau`` derives from the entropy
    (minutes: the default run trusts the checked-in copy, and the vectors' verifying keys re-check it)."""
    from tests.conftest import PTAU_FIXTURE

    made = build.powers_of_tau(12, ENTROPY, tmp_path)
    assert made.name == PTAU_FIXTURE.name and made.read_bytes() == PTAU_FIXTURE.read_bytes()


def test_truncated_public_signals(env: Env) -> None:
    """snarkjs verifies against as many IC points as signals it is given, so a trailing zero sum can be
    dropped and it still says OK; the strict verifier insists on exactly nPublic signals."""
    leaves = [zb.BatchLeaf(leaf.account, leaf.salt, (leaf.values[0], 0)) for leaf in random_leaves(3)]
    proved = prover.prove_batch(env.setup, leaves, env.work)
    assert proved.sums[1] == 0
    truncated = list(proved.public[:2])
    assert snarkjs_ok(env, proved.proof, truncated)
    with pytest.raises(BadInput, match="takes 3 public signals, got 2"):
        g16.verify(env.vk, proved.proof, truncated)
    with pytest.raises(BadInput, match="expected 3 public signals"):
        g16.verify_documents(env.vk.to_json(), proved.proof.to_json(), [str(v) for v in truncated])
