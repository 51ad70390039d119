"""Deterministic batch proving in one node process (``prover.prove_batches``, ``prove_batches.mjs``).

Real node, no mocks, on the ``Batch(2, 2)`` of tests/test_zk.py with the test-vector entropy, set up
through ``setup_batch`` in ``tools.default_cache_dir()`` (``build/zk`` or ``$POR_ZK_CACHE``) --
the cache test_zk.py and ``make_zk_vectors.py`` use -- so the phase-1 file and, after the first run,
the circuit and its phase 2 are reused. One module-scoped call proves four batches; the other tests
add a handful of proofs (about 20-40 s in all, mostly node and py_ecc).

What is checked: the same batch and seed give byte-identical proofs within one node process (the
cached ffjavascript RNG is reset per job) and across processes; another seed gives another proof;
everything verifies in py_ecc and snarkjs; results come in order with the Python roots and sums,
``progress`` once per batch; a witness violating a constraint raises ``WitnessError`` naming its
batch; and the randomness stream specified in ``prove_batches.mjs`` (SPEC.md §16), recomputed here
with hashlib alone, is exactly what moved ``A`` and ``B`` between two seeds.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from py_ecc.optimized_bn128 import G1, G2, add, eq, multiply, neg, pairing

from por.core.errors import BadInput, ServiceUnavailable
from por.zk import batch as zb
from por.zk import groth16 as g16
from por.zk import build, prover
from por.zk.circuits import BATCH
from por.zk import tools as zt
from por.zk.poseidon import P

from .test_zk import ASSETS, ENTROPY, K, U64, random_leaves

SEED_1 = bytes(range(32))
SEED_2 = bytes(range(1, 33))
SEED_3 = b"\xa5" * 32


@dataclass
class Env:
    setup: build.CircuitSetup
    vk: g16.VerifyingKey
    tools: zt.Tools
    batches: list[tuple[list[zb.BatchLeaf], bytes]]
    proved: list[prover.BatchProof]
    progress: list[int]


@pytest.fixture(scope="module")
def env() -> Env:
    """Batch(2, 2) set up (cached) and one prove_batches call: X/SEED_1, Y/SEED_2, X/SEED_1, X/SEED_3."""
    try:
        tools = zt.find_tools()
    except ServiceUnavailable as exc:
        pytest.fail(f"zk toolchain missing: {exc}", pytrace=False)
    setup = build.setup_batch(K, ASSETS, ENTROPY, zt.default_cache_dir(), tools=tools)
    x, y = random_leaves(11), random_leaves(12)
    batches = [(x, SEED_1), (y, SEED_2), (x, SEED_1), (x, SEED_3)]
    calls: list[int] = []
    proved = list(prover.prove_batches(setup, batches, progress=calls.append, tools=tools))
    return Env(setup, setup.verifying_key(), tools, batches, proved, calls)


def proof_bytes(proof: g16.Proof) -> bytes:
    return json.dumps(proof.to_json(), sort_keys=True).encode()


def test_batches_in_order_with_roots_sums_and_progress(env: Env) -> None:
    assert env.progress == [1] * len(env.batches)
    assert len(env.proved) == len(env.batches)
    for (leaves, _), proved in zip(env.batches, env.proved):
        assert proved.root == zb.batch_root(leaves)
        assert list(proved.sums) == zb.batch_sums(leaves)
        assert proved.levels is None
        assert proved.witness_seconds > 0 and proved.prove_seconds > 0


def test_same_seed_same_bytes_within_and_across_processes(env: Env, tmp_path: Path) -> None:
    """Job 2 repeats job 0 after other jobs drew randomness in the same process; a new process too."""
    first = proof_bytes(env.proved[0].proof)
    assert proof_bytes(env.proved[2].proof) == first
    again = prover.prove_batch(env.setup, env.batches[0][0], tmp_path, seed=SEED_1, tools=env.tools)
    assert proof_bytes(again.proof) == first
    assert again.public == env.proved[0].public
    assert list(tmp_path.iterdir()) == []  # the work directory is removed


def test_different_seeds_differ_and_everything_verifies(env: Env) -> None:
    x0, x3 = env.proved[0], env.proved[3]
    assert x0.public == x3.public
    assert x0.proof.a != x3.proof.a and x0.proof.b != x3.proof.b and x0.proof.c != x3.proof.c
    for proved in (env.proved[0], env.proved[1], env.proved[3]):
        BATCH.verify(env.vk, proved.proof, proved.root, list(proved.sums))
    for proved in (env.proved[1], env.proved[3]):
        assert prover.snarkjs_verify(env.setup.vkey_path, proved.proof.to_json(), [str(v) for v in proved.public],
                                 tools=env.tools)


# ---------------------------------------------------------------- the randomness stream, re-derived

def _stream(seed: bytes) -> Iterator[int]:
    """stream(seed) = B_0 ‖ B_1 ‖ ..., B_j = SHA-256(lp("por/v1/zk-prove-rng") ‖ seed ‖ u64be(j))."""
    name = b"por/v1/zk-prove-rng"
    prefix = len(name).to_bytes(4, "big") + name + seed
    j = 0
    while True:
        yield from hashlib.sha256(prefix + j.to_bytes(8, "big")).digest()
        j += 1


def spec_r_s(seed: bytes) -> tuple[int, int]:
    """Groth16 ``r, s`` per the spec: u32 big-endian words, u64 = hi·2^32 + lo, four u64 little-endian
    limbs masked to 254 bits, rejected while ≥ p, read as a Montgomery form (· 2^-256 mod p)."""
    stream = _stream(seed)

    def u32() -> int:
        return int.from_bytes(bytes(next(stream) for _ in range(4)), "big")

    def u64() -> int:
        hi = u32()
        return (hi << 32) + u32()

    out: list[int] = []
    while len(out) < 2:
        v = sum(u64() << (64 * i) for i in range(4)) & ((1 << 254) - 1)
        if v < P:
            out.append(v * pow(2, -256, P) % P)
    return out[0], out[1]


def test_randomness_is_the_specified_stream(env: Env) -> None:
    """Same witness, seeds 1 and 3: ``B1 − B3 = (s1 − s3)·δ₂`` in G2 and ``A1 − A3 = (r1 − r3)·δ₁``, checked
    as ``e(A1 − A3, g2) = e((r1 − r3)·g1, δ₂)`` (δ₁, δ₂ share the discrete log δ)."""
    (r1, s1), (r3, s3) = spec_r_s(SEED_1), spec_r_s(SEED_3)
    p1, p3 = env.proved[0].proof, env.proved[3].proof
    delta2 = env.vk.delta.ecc
    assert eq(add(p1.b.ecc, neg(p3.b.ecc)), multiply(delta2, (s1 - s3) % P))
    assert pairing(G2, add(p1.a.ecc, neg(p3.a.ecc))) == pairing(delta2, multiply(G1, (r1 - r3) % P))
    # and a wrong guess (r, s swapped) does not explain it
    assert not eq(add(p1.b.ecc, neg(p3.b.ecc)), multiply(delta2, (r1 - r3) % P))


# ---------------------------------------------------------------- failures and edge cases

def _forged_leaf(account: int, salt: int, balances: tuple[int, ...]) -> zb.BatchLeaf:
    """A BatchLeaf that skips validation (what a buggy or hostile caller could hand over)."""
    leaf = object.__new__(zb.BatchLeaf)
    for name, value in (("account", account), ("salt", salt), ("values", balances)):
        object.__setattr__(leaf, name, value)
    return leaf


def test_witness_failure_names_the_batch(env: Env, tmp_path: Path) -> None:
    """Batch 1's sum is 2^64 (every leaf valid): batch 0 is yielded, then WitnessError for batch 1."""
    good = random_leaves(13)
    overflow = [zb.BatchLeaf(1, 2, (U64 - 1, 0)), zb.BatchLeaf(3, 4, (1, 0)),
                zb.BatchLeaf(5, 6, (0, 0)), zb.BatchLeaf(7, 8, (0, 0))]
    calls: list[int] = []
    it = prover.prove_batches(env.setup, [(good, SEED_1), (overflow, SEED_2), (good, SEED_3)], tmp_path,
                          progress=calls.append, tools=env.tools)
    assert next(it).root == zb.batch_root(good)
    with pytest.raises(zt.WitnessError, match=r"witness of batch 1 .*Assert Failed.*Batch"):
        next(it)
    assert calls == [1]
    assert list(tmp_path.iterdir()) == []


def test_wrapped_negative_balance_cannot_be_proved(env: Env) -> None:
    negative = [_forged_leaf(1, 2, (P - 1, 0)), _forged_leaf(3, 4, (5, 0)), *random_leaves(14)[2:]]
    with pytest.raises(zt.WitnessError, match=r"witness of batch 0 .*Assert Failed.*Num2Bits"):
        list(prover.prove_batches(env.setup, [(negative, SEED_1)], tools=env.tools))


def test_inputs_are_validated_before_node_runs(env: Env) -> None:
    x = env.batches[0][0]
    cases = [
        ([(x, SEED_1), (x[:2], SEED_1)], r"batch 1: Batch\(2, 2\) takes 4 leaves, got 2"),
        ([(random_leaves(3, assets=1), SEED_1)], "batch 0: every leaf must hold 2 assets"),
        ([(x, SEED_1[:31])], "batch 0: the proving seed must be 32 bytes"),
        ([(x, SEED_1.hex())], "batch 0: the proving seed must be 32 bytes"),
        ([(x, SEED_1, SEED_2)], r"batch 0: expected a \(leaves, seed\) pair"),
    ]
    for batches, message in cases:
        with pytest.raises(BadInput, match=message):
            prover.prove_batches(env.setup, batches, tools=env.tools)  # raises at the call: nothing started
    with pytest.raises(BadInput, match="32 bytes"):
        prover.prove_batch(env.setup, x, seed=b"short", tools=env.tools)
    with pytest.raises(BadInput, match="timeout"):
        prover.prove_batches(env.setup, [(x, SEED_1)], timeout=0, tools=env.tools)
    assert list(prover.prove_batches(env.setup, [], tools=env.tools)) == []


def test_lazy_input_levels_and_early_close(env: Env, tmp_path: Path) -> None:
    """A generator of batches is consumed as proving goes; closing the iterator stops node and cleans up."""
    x, y = env.batches[0][0], env.batches[1][0]
    consumed: list[int] = []

    def batches() -> Iterator[tuple[list[zb.BatchLeaf], bytes]]:
        for i, leaves in enumerate((x, y, x)):
            consumed.append(i)
            yield leaves, SEED_1

    it = prover.prove_batches(env.setup, batches(), tmp_path, with_levels=True, tools=env.tools)
    assert consumed == []  # nothing runs before the first next()
    first = next(it)
    assert first.levels == zb.batch_levels([leaf.hash for leaf in x])
    assert proof_bytes(first.proof) == proof_bytes(env.proved[0].proof)  # with_levels changes nothing
    assert consumed == [0, 1, 2]  # two ahead of the result, then the third once the first is done
    it.close()
    assert list(tmp_path.iterdir()) == []


def test_script_job_file_mode_writes_identical_files(env: Env, tmp_path: Path) -> None:
    """``node prove_batches.mjs config.json`` with the jobs in the file: atomic, byte-identical outputs."""
    circuit = env.setup.circuit
    (tmp_path / "input.json").write_text(json.dumps(BATCH.witness_input(env.batches[0][0])))
    jobs = [{"index": i, "input": str(tmp_path / "input.json") if i == 0 else BATCH.witness_input(env.batches[0][0]),
             "seed": SEED_1.hex(), "proof": str(tmp_path / f"proof{i}.json"), "public": str(tmp_path / f"public{i}.json")}
            for i in range(2)]
    config = {"node_modules": str(zt.NODE_MODULES), "zkey": str(env.setup.zkey), "wasm": str(circuit.wasm),
              "jobs": jobs}
    (tmp_path / "config.json").write_text(json.dumps(config))
    proc = subprocess.run([str(env.tools.node), str(prover.PROVE_SCRIPT), str(tmp_path / "config.json")],
                          capture_output=True, text=True, timeout=300, check=False, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    assert [line.split()[:2] for line in proc.stdout.splitlines()] == [["done", "0"], ["done", "1"]]
    assert (tmp_path / "proof0.json").read_bytes() == (tmp_path / "proof1.json").read_bytes()
    assert g16.load_proof(tmp_path / "proof0.json") == env.proved[0].proof
    assert g16.load_public_signals(tmp_path / "public1.json") == list(env.proved[0].public)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "config.json", "input.json", "proof0.json", "proof1.json", "public0.json", "public1.json"]
    bad = dict(config, jobs=[dict(jobs[0], seed="00")])
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    proc = subprocess.run([str(env.tools.node), str(prover.PROVE_SCRIPT), str(tmp_path / "bad.json")],
                          capture_output=True, text=True, timeout=300, check=False, stdin=subprocess.DEVNULL)
    assert proc.returncode == 2 and "seed" in proc.stderr and proc.stdout == ""
