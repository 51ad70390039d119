"""The native backend (``por.zk.native``: groth16py prove, mclbn256 verify) against snarkjs and py_ecc.

Real tools, no mocks, on the cached ``Batch(2, 2)`` of tests/test_zk.py (and the vectors' setups). What is
checked: native proofs are byte-identical to snarkjs' for the same batch and seed (so each backend is
deterministic and they agree); every zk vector proof (snarkjs-made) verifies with both verifiers and with
groth16py's own verifier, and native proofs verify with py_ecc, snarkjs and groth16py; a proof of either
backend with one element tampered is rejected by the other verifier; ``proving_scalars`` is the SPEC
§16.13 stream; a missing native package gives a clear message while the snarkjs path still works; and
``por zk prove`` writes the same bytes serially, with ``--jobs 2`` and on a Dask LocalCluster.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from por.core.errors import BadInput, ServiceUnavailable, VerificationFailed
from por.modes.zk import batch_proof_path
from por.snapshot.document import load_snapshot
from por.zk import build, native, prover
from por.zk import groth16 as g16
from por.zk import tools as zt
from por.zk.circuits import BATCH

from .test_zk import ENTROPY, K, ASSETS, random_leaves
from .test_zk_mode import inputs, run, zk_setup  # noqa: F401  (fixtures)
from .test_zk_prover import spec_r_s

pytest.importorskip("groth16py")
pytest.importorskip("mclbn256")

VECTORS = Path(__file__).resolve().parent / "vectors"
SEEDS = [bytes(range(32)), b"\x5a" * 32]


@pytest.fixture(scope="module")
def setup() -> build.CircuitSetup:
    try:
        return build.setup_batch(K, ASSETS, ENTROPY, zt.default_cache_dir())
    except ServiceUnavailable as exc:
        pytest.fail(f"zk toolchain missing: {exc}", pytrace=False)


@pytest.fixture(scope="module")
def both(setup: build.CircuitSetup) -> tuple[list[prover.BatchProof], list[prover.BatchProof]]:
    """Two batches proved by each backend with the same seeds."""
    batches = [(random_leaves(21), SEEDS[0]), (random_leaves(22), SEEDS[1])]
    snark = list(prover.prove_batches(setup, batches, backend="snarkjs"))
    nat = list(prover.prove_batches(setup, batches, backend="native"))
    return snark, nat


def tamper(proof: g16.Proof, which: str) -> g16.Proof:
    """``proof`` with one element replaced by another valid curve point (so parsing still accepts it)."""
    if which == "a":
        return g16.Proof(proof.c, proof.b, proof.c)
    if which == "c":
        return g16.Proof(proof.a, proof.b, proof.a)
    from py_ecc.optimized_bn128 import add, normalize

    b = normalize(add(proof.b.ecc, proof.b.ecc))
    return g16.Proof(proof.a, g16.G2Point(tuple(int(c) for c in b[0].coeffs), tuple(int(c) for c in b[1].coeffs)),
                     proof.c)


def test_native_proofs_are_byte_identical_to_snarkjs(both) -> None:
    snark, nat = both
    for s, n in zip(snark, nat):
        assert json.dumps(n.proof.to_json()) == json.dumps(s.proof.to_json())
        assert n.public == s.public
    assert snark[0].proof != snark[1].proof


def test_proving_scalars_are_the_spec_stream() -> None:
    for seed in SEEDS + [bytes(32)]:
        assert native.proving_scalars(seed) == spec_r_s(seed)


def test_cross_verification_both_ways(setup: build.CircuitSetup, both) -> None:
    import groth16py

    vk = setup.verifying_key()
    gv = groth16py.Verifier(groth16py.VerifyingKey.from_snarkjs_file(str(setup.vkey_path)))
    snark, nat = both
    for proved in snark + nat:
        public = list(proved.public)
        g16.verify(vk, proved.proof, public)
        native.verify(vk, proved.proof, public)
        assert gv.verify_snarkjs(json.dumps(proved.proof.to_json()), json.dumps([str(v) for v in public]))
    assert prover.snarkjs_verify(setup.vkey_path, nat[0].proof.to_json(), [str(v) for v in nat[0].public])


@pytest.mark.parametrize("which", ["a", "b", "c", "public"])
def test_tampered_proof_rejected_by_the_other_backend(setup: build.CircuitSetup, both, which: str) -> None:
    vk = setup.verifying_key()
    snark, nat = both
    for made, check in ((nat[0], g16.verify), (snark[0], native.verify)):
        public = list(made.public)
        proof = made.proof
        if which == "public":
            public[1] += 1
        else:
            proof = tamper(proof, which)
        with pytest.raises(VerificationFailed):
            check(vk, proof, public)


def _vector_proofs() -> list[tuple[str, g16.VerifyingKey, g16.Proof, list[int]]]:
    out = []
    zk = VECTORS / "zk"
    vk = g16.load_verifying_key(zk / "verification_key.json")
    out.append(("zk/proof.json", vk, g16.load_proof(zk / "proof.json"), g16.load_public_signals(zk / "public.json")))
    for name in ("zk/mode", "margin-zk"):
        snap = load_snapshot(VECTORS / name / "snapshot.json")
        mode = snap.scheme
        for bi, summary in enumerate(snap.buckets):
            for j in range(1 << (summary.height - mode.batch_height)):
                doc = mode.read_batch_proof(batch_proof_path(VECTORS / name, bi, j))
                signals = mode.circuit.public_signals(doc.root, doc.sums, mode.factors)
                out.append((f"{name} {summary.id}/{j}", snap.zk.vkey, doc.proof, list(signals)))
    return out


def test_every_zk_vector_verifies_with_both_verifiers() -> None:
    proofs = _vector_proofs()
    assert len(proofs) >= 6
    for label, vk, proof, public in proofs:
        g16.verify(vk, proof, public)
        native.verify(vk, proof, public)
        for which in ("a", "b", "c"):
            assert not native.is_valid(vk, tamper(proof, which), public), label
        assert not native.is_valid(vk, proof, [public[0], public[1] ^ 1, *public[2:]]), label


def test_missing_native_package_is_clear_and_snarkjs_still_proves(setup: build.CircuitSetup, both,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from por.proofs.batches import resolve_verifier

    monkeypatch.setitem(sys.modules, "groth16py", None)  # `import groth16py` now raises ImportError
    assert prover.resolve_prover(None) == "snarkjs"
    with pytest.raises(ServiceUnavailable, match=r"groth16py.*pip install 'por\[native\]'"):
        prover.resolve_prover("native")
    monkeypatch.setitem(sys.modules, "mclbn256", None)
    assert resolve_verifier(None) == "py_ecc"
    with pytest.raises(ServiceUnavailable, match="mclbn256"):
        resolve_verifier("native")
    (again,) = prover.prove_batches(setup, [(random_leaves(21), SEEDS[0])])  # default: snarkjs
    assert again.proof == both[0][0].proof


def test_cli_prove_same_bytes_serial_jobs_and_dask(tmp_path: Path, zk_setup: Path, inputs,  # noqa: F811
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Same proof files from snarkjs, native, native --jobs 2 and native on Dask; without the native packages
    `--prover native` / `--verifier native` exit 3 naming the extra, and the defaults fall back to snarkjs
    (same bytes) and py_ecc."""
    cfg, ledger, secret = inputs
    base = tmp_path / "base"
    r = run("build", "--config", cfg, "--ledger", ledger, "--out", base, "--secret", secret, "--zk", zk_setup)
    assert r.exit_code == 0, r.output
    outputs = {}
    for label, extra in (("snarkjs", ["--prover", "snarkjs"]), ("native", ["--prover", "native"]),
                         ("jobs2", ["--jobs", "2"]), ("dask", ["--scheduler", "local"]), ("missing", [])):
        snap = tmp_path / label
        shutil.copytree(base, snap)
        with monkeypatch.context() as m:
            if label == "missing":
                m.setitem(sys.modules, "groth16py", None)  # `import groth16py` now raises ImportError
                r = run("zk", "prove", snap, "--prover", "native")
                assert r.exit_code == 3 and "groth16py" in r.output and "pip install 'por[native]'" in r.output
            r = run("zk", "prove", snap, "--json", *extra)
        assert r.exit_code == 0, r.output
        assert json.loads(r.stdout)["proved"] == 5
        outputs[label] = {p.relative_to(snap).as_posix(): p.read_bytes() for p in sorted((snap / "zk").rglob("*.json"))}
    assert len(outputs["snarkjs"]) == 5
    for label in ("native", "jobs2", "dask", "missing"):
        assert outputs[label] == outputs["snarkjs"], label
    r = run("zk", "verify", tmp_path / "dask", "--verifier", "native", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["valid"], r.output
    with monkeypatch.context() as m:
        m.setitem(sys.modules, "mclbn256", None)
        r = run("zk", "verify", tmp_path / "dask", "--verifier", "native")
        assert r.exit_code == 3 and "mclbn256" in r.output and "pip install 'por[native-verify]'" in r.output
        r = run("zk", "verify", tmp_path / "dask", "--json")  # the default without MCL: py_ecc
        assert r.exit_code == 0 and json.loads(r.stdout)["valid"], r.output
    r = run("zk", "prove", tmp_path / "native", "--prover", "nope")
    assert r.exit_code == 2


def test_batch_kind_verify_takes_the_verifier(setup: build.CircuitSetup, both) -> None:
    vk = setup.verifying_key()
    proved = both[1][0]
    for verifier in ("native", "py_ecc"):
        BATCH.verify(vk, proved.proof, proved.root, list(proved.sums), verifier=verifier)
    with pytest.raises(VerificationFailed):
        BATCH.verify(vk, proved.proof, proved.root, [s + 1 for s in proved.sums], verifier="native")


def test_native_proof_that_does_not_verify_is_never_returned(setup: build.CircuitSetup, tmp_path: Path) -> None:
    """The recombined proof is checked against the setup's verification key: with a key whose delta is not
    the zkey's, proving fails closed (BadInput, exit 2) instead of writing an invalid proof."""

    bad_dir = tmp_path / "setup"
    shutil.copytree(setup.directory, bad_dir, ignore=shutil.ignore_patterns("native"))
    doc = json.loads(setup.vkey_path.read_text())
    doc["vk_delta_2"] = doc["vk_beta_2"]  # a valid G2 point of the subgroup, not the zkey's delta
    (bad_dir / "verification_key.json").write_text(json.dumps(doc))
    bad = build.CircuitSetup(setup.circuit, bad_dir)
    with pytest.raises(BadInput, match="does not verify under the setup's verification key"):
        list(prover.prove_batches(bad, [(random_leaves(21), SEEDS[0])], backend="native"))


# ---------------------------------------------------------------- strict parsing: MCL decides as py_ecc does

def _g1_cases() -> list[tuple[int, int]]:
    from py_ecc.optimized_bn128 import G1, multiply, neg, normalize

    q = g16.Q_MODULUS
    pts = [normalize(multiply(G1, k)) for k in (1, 2, 12345, g16.R_MODULUS - 1)]
    pts.append(normalize(neg(multiply(G1, 7))))
    good = [(int(p[0].n), int(p[1].n)) for p in pts]
    x, y = good[2]
    return good + [(x, (y + 1) % q), (1, 3), (0, 0), (0, 1), (q - 1, q - 1), (x, q - 1)]


def _g2_cases() -> list[tuple[tuple[int, int], tuple[int, int]]]:
    from py_ecc.optimized_bn128 import FQ2, G2, b2, multiply, neg, normalize

    from .test_zk import _fq2_sqrt

    pts = [normalize(multiply(G2, k)) for k in (1, 99991)] + [normalize(neg(multiply(G2, 5)))]
    cases = [(tuple(int(c) for c in p[0].coeffs), tuple(int(c) for c in p[1].coeffs)) for p in pts]
    outside = []
    for i in range(1, 60):  # points of the twist outside the order-r subgroup (the cofactor is not 1)
        x = FQ2([i, 7])
        y = _fq2_sqrt(x ** 3 + b2)
        if y is not None:
            outside.append((tuple(int(c) for c in x.coeffs), tuple(int(c) for c in y.coeffs)))
        if len(outside) == 3:
            break
    (x0, x1), (y0, y1) = cases[1]
    return cases + outside + [((x0, x1), (y0, (y1 + 1) % g16.Q_MODULUS)), ((0, 0), (0, 0)), ((1, 0), (2, 0))]


def test_mcl_point_checks_decide_exactly_as_py_ecc() -> None:
    """Each G1 / G2 candidate -- points of the group, their negatives, points off the curve, points of the
    twist outside the order-r subgroup -- gets the same verdict and reason from MCL as from py_ecc."""
    g1 = _g1_cases()
    g2 = _g2_cases()
    verdicts = {"g1": [g16.PY_ECC.g1(*c) for c in g1], "g2": [g16.PY_ECC.g2(*c) for c in g2]}
    assert verdicts == {"g1": [native.MCL_CHECKS.g1(*c) for c in g1], "g2": [native.MCL_CHECKS.g2(*c) for c in g2]}
    assert verdicts["g1"].count(None) == 5 and verdicts["g2"].count(None) == 3
    assert verdicts["g2"].count(g16.G2_OUTSIDE_SUBGROUP) == 3


def test_malformed_documents_rejected_alike_by_both_checks() -> None:
    """Every malformed snarkjs document of tests/test_zk.py is BadInput with the same reason and field with
    MCL's checks as with py_ecc's, and the valid ones parse to the same points."""
    import copy

    from .test_zk import _mutations, load

    for which, what, mutate, match in _mutations():
        parse = g16.parse_proof if which == "proof" else g16.parse_verifying_key
        errors = []
        for checks in (g16.PY_ECC, native.MCL_CHECKS):
            bad = mutate(copy.deepcopy(load("proof.json" if which == "proof" else "verification_key.json")))
            with pytest.raises(BadInput, match=match) as exc:
                parse(bad, checks=checks)
            errors.append((exc.value.reason, exc.value.field))
        assert errors[0] == errors[1], what
    for name, parse in (("proof.json", g16.parse_proof), ("verification_key.json", g16.parse_verifying_key)):
        assert parse(load(name), checks=native.MCL_CHECKS) == parse(load(name))


def test_zk_verify_native_rejects_a_b_outside_the_subgroup(tmp_path: Path) -> None:
    """A published batch proof whose B is on the twist but outside the order-r subgroup: malformed (the
    pairing is never reached), named in the failures, exit 1."""
    from .test_zk import _twist_point_outside_subgroup

    snap = tmp_path / "mode"
    shutil.copytree(VECTORS / "zk" / "mode", snap)
    path = snap / "zk" / "0" / "1.json"
    doc = json.loads(path.read_text())
    doc["proof"]["pi_b"] = _twist_point_outside_subgroup()
    path.write_text(json.dumps(doc))
    r = run("zk", "verify", snap, "--verifier", "native", "--json")
    assert r.exit_code == 1
    failures = json.loads(r.stdout)["failures"]
    assert len(failures) == 1 and "batch 1" in failures[0] and "subgroup" in failures[0] and "pi_b" in failures[0]
