"""Generators, Pedersen commitments, and the hiding-mode test vectors (tests/vectors/generators.json).

The vectors are produced by this code; regenerate them (only on a deliberate
format change) with::

    .venv/bin/python -m tests.test_pedersen --write
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest

from por.crypto import pedersen, rangeproof
from por.crypto.group import BACKENDS, G, N, P, Point, use_backend
from por.crypto.pedersen import H, commit, generators, hash_to_curve
from por.crypto.transcript import Transcript

VECTORS = Path(__file__).resolve().parent / "vectors" / "generators.json"


# ---------------------------------------------------------------- an independent hash-to-curve, from the spec text


def spec_hash_to_curve(label: str, index: int) -> tuple[bytes, int]:
    """SPEC.md §14 §2, written with hashlib only. Returns (compressed point, counter)."""

    def lp(b: bytes) -> bytes:
        return len(b).to_bytes(4, "big") + b

    tag = lp(b"por/v1/gen")
    counter = 0
    while True:
        pre = tag + lp(label.encode()) + index.to_bytes(4, "big") + counter.to_bytes(4, "big")
        x = int.from_bytes(hashlib.sha256(pre).digest(), "big")
        if x < P:
            rhs = (pow(x, 3, P) + 7) % P
            y = pow(rhs, (P + 1) // 4, P)
            if y * y % P == rhs:
                return b"\x02" + x.to_bytes(32, "big"), counter
        counter += 1


def det_rng(seed: bytes):
    """Deterministic prover randomness for reproducible vectors: SHA-512(seed || u32(i)) mod N, i = 1, 2, ..."""
    state = [0]

    def draw() -> int:
        state[0] += 1
        return int.from_bytes(hashlib.sha512(seed + state[0].to_bytes(4, "big")).digest(), "big") % N

    return draw


# ---------------------------------------------------------------- vector file


def _vector_transcript() -> tuple[dict, list[str]]:
    ops = [
        ["message", "context", "0001ff"],
        ["u64", "count", 3],
        ["point", "V", G.hex()],
        ["scalar", "s", "%064x" % (N - 1)],
        ["challenge", "c1"],
        ["challenge", "c2"],
        ["message", "empty", ""],
        ["challenge", "c3"],
    ]
    t = Transcript(b"por-test-transcript")
    out = []
    for op in ops:
        kind, label = op[0], op[1]
        if kind == "message":
            t.append_message(label, bytes.fromhex(op[2]))
        elif kind == "u64":
            t.append_u64(label, op[2])
        elif kind == "point":
            t.append_point(label, Point.from_hex(op[2]))
        elif kind == "scalar":
            t.append_scalar(label, int(op[2], 16))
        else:
            out.append("%064x" % t.challenge_scalar(label))
    return {"protocol_label": "por-test-transcript", "ops": ops}, out


RANGEPROOF_CASES = [
    {"name": "three 8-bit values (padded to 4)", "bits": 8, "values": [3, 200, 17], "seed": "vector-1"},
    {"name": "one 64-bit value 2^64-1", "bits": 64, "values": [2**64 - 1], "seed": "vector-2"},
]


def _rangeproof_case(case: dict) -> dict:
    draw = det_rng(case["seed"].encode())
    blindings = [draw() for _ in case["values"]]
    t = Transcript(b"por-test-vector")
    t.append_message("context", b"snapshot root would go here")
    proof, commitments = rangeproof.prove(t, case["values"], blindings, case["bits"], rng=draw)
    return {
        **case,
        "protocol_label": "por-test-vector",
        "context": {"label": "context", "data": b"snapshot root would go here".hex()},
        "blindings": ["%064x" % b for b in blindings],
        "commitments": [c.hex() for c in commitments],
        "proof": proof.to_hex(),
    }


def build_vectors() -> dict:
    def gen(label: str, index: int) -> dict:
        enc, counter = spec_hash_to_curve(label, index)
        return {"label": label, "index": index, "counter": counter, "point": enc.hex()}

    g_vec, h_vec = generators(4)
    transcript_spec, challenges = _vector_transcript()
    commits = [(1000, 1), (0, 1), (2**64 - 1, N - 1), (1, 0), (123456789, 987654321)]
    return {
        "description": "por hiding mode vectors (SPEC.md §14): generators, commitments, "
        "transcript challenges, range proofs. Points are 33-byte compressed SEC1, scalars 32-byte big-endian.",
        "generators": {
            "G": G.hex(),
            "H": gen(pedersen.LABEL_H, 0),
            "G_vec": [gen(pedersen.LABEL_G_VEC, i) for i in range(4)],
            "H_vec": [gen(pedersen.LABEL_H_VEC, i) for i in range(4)],
        },
        "_check": [p.hex() for p in (H, *g_vec, *h_vec)],
        "commitments": [
            {"v": v, "r": "%064x" % r, "commitment": commit(v, r).hex()} for v, r in commits
        ],
        "transcript": {**transcript_spec, "challenges": challenges},
        "rangeproofs": [_rangeproof_case(c) for c in RANGEPROOF_CASES],
    }


def _load() -> dict:
    return json.loads(VECTORS.read_text())


# ---------------------------------------------------------------- tests


def test_generators_match_vector_file() -> None:
    vec = _load()["generators"]
    assert vec["G"] == G.hex()
    assert vec["H"]["point"] == H.hex()
    g_vec, h_vec = generators(4)
    assert [e["point"] for e in vec["G_vec"]] == [p.hex() for p in g_vec]
    assert [e["point"] for e in vec["H_vec"]] == [p.hex() for p in h_vec]


def test_vector_file_is_reproducible() -> None:
    built = build_vectors()
    built.pop("_check")
    assert built == _load()


def test_hash_to_curve_matches_spec_text() -> None:
    for label in (pedersen.LABEL_H, pedersen.LABEL_G_VEC, pedersen.LABEL_H_VEC, "other"):
        for index in (0, 1, 7, 1000):
            enc, _ = spec_hash_to_curve(label, index)
            assert hash_to_curve(label, index).to_bytes() == enc
    assert H.to_bytes() == spec_hash_to_curve("pedersen/H", 0)[0]


def test_hash_to_curve_agrees_across_backends() -> None:
    res = []
    for name in BACKENDS:
        with use_backend(name):
            res.append([hash_to_curve("bulletproofs/G", i).hex() for i in range(6)])
    assert res[0] == res[1]


def test_generators_are_distinct_and_cached() -> None:
    g8, h8 = generators(8)
    g3, h3 = generators(3)
    assert g3 == g8[:3] and h3 == h8[:3]
    allp = [G, H, *g8, *h8]
    assert len({p.to_bytes() for p in allp}) == len(allp)
    assert all(p.to_bytes()[0] == 2 for p in [H, *g8, *h8])  # even y
    g3.append(G)  # callers get copies
    assert generators(4)[0][3] != G
    assert generators(0) == ([], [])
    with pytest.raises(ValueError):
        generators(-1)


def test_commitment_vectors() -> None:
    for e in _load()["commitments"]:
        assert commit(e["v"], int(e["r"], 16)).hex() == e["commitment"]


def test_commitments() -> None:
    a, r, b, s = 10, 1234, 20, N - 5
    assert commit(a, r) + commit(b, s) == commit(a + b, (r + s) % N)
    assert commit(a, r) == a * G + r * H
    assert commit(0, 1) == H and commit(1, 0) == G
    assert commit(0, 0).is_identity
    for bad in ((-1, 0), (N, 0), (0, N), (0, -1), (1.5, 0), (True, 1)):
        with pytest.raises(ValueError):
            commit(*bad)  # type: ignore[arg-type]
    with use_backend("py_ecc"):
        assert commit(123, 456).hex() == commit(123, 456).hex()
    res = []
    for name in BACKENDS:
        with use_backend(name):
            res.append(commit(2**64 - 1, 987654321).hex())
    assert res[0] == res[1]


def test_transcript_vectors() -> None:
    t = _load()["transcript"]
    spec, challenges = _vector_transcript()
    assert spec == {k: t[k] for k in ("protocol_label", "ops")}
    assert challenges == t["challenges"]


def spec_transcript_challenges(protocol_label: str, ops: list) -> list[str]:
    """SPEC.md §14 §3 with hashlib only."""

    def lp(b: bytes) -> bytes:
        return len(b).to_bytes(4, "big") + b

    t = lp(b"por/v1/transcript") + lp(protocol_label.encode())
    out = []
    for op in ops:
        kind, label = op[0], op[1].encode()
        if kind == "challenge":
            t += b"\x02" + lp(label)
            wide = hashlib.sha256(t + (0).to_bytes(4, "big")).digest() + hashlib.sha256(t + (1).to_bytes(4, "big")).digest()
            out.append("%064x" % (int.from_bytes(wide, "big") % N))
            continue
        if kind == "u64":
            data = op[2].to_bytes(8, "big")
        elif kind == "scalar":
            data = int(op[2], 16).to_bytes(32, "big")
        else:  # message, point: hex
            data = bytes.fromhex(op[2])
        t += b"\x01" + lp(label) + lp(data)
    return out


def test_transcript_matches_spec_text() -> None:
    t = _load()["transcript"]
    assert spec_transcript_challenges(t["protocol_label"], t["ops"]) == t["challenges"]


def test_rangeproof_vectors_verify() -> None:
    for case in _load()["rangeproofs"]:
        t = Transcript(case["protocol_label"].encode())
        t.append_message(case["context"]["label"], bytes.fromhex(case["context"]["data"]))
        commitments = [Point.from_hex(h) for h in case["commitments"]]
        proof = rangeproof.RangeProof.from_hex(case["proof"])
        rangeproof.verify(t, commitments, proof, case["bits"])
        for v, r, c in zip(case["values"], case["blindings"], commitments):
            assert commit(v, int(r, 16)) == c


if __name__ == "__main__":  # pragma: no cover
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python -m tests.test_pedersen --write")
    data = build_vectors()
    check = data.pop("_check")
    assert check == [e["point"] for e in [data["generators"]["H"], *data["generators"]["G_vec"], *data["generators"]["H_vec"]]]
    VECTORS.write_text(json.dumps(data, indent=2) + "\n")
    print(f"wrote {VECTORS}")


def test_commit_many_equals_commit_and_the_py_ecc_reference() -> None:
    """commit_many (fixed-base tables from 2048 products on) equals commit term by term, and a sample of it
    equals the pure-Python backend: values up to 2^64 - 1 and N - 1, blindings with every byte non-zero."""
    import random

    from por.crypto.group_coincurve import _TABLE_MIN
    from por.crypto.pedersen import commit_many

    rng = random.Random(19)
    n = _TABLE_MIN + 5
    values = [rng.randrange(1 << rng.choice((1, 8, 33, 64))) for _ in range(n)]
    blindings = [rng.randrange(1, N) for _ in range(n)]
    values[:5] = [0, 2**64 - 1, N - 1, 0, 1]
    blindings[:5] = [0, 1, N - 1, int("ff" * 31 + "01", 16) % N, 0]
    got = commit_many(values, blindings)
    assert got == [commit(v, r) for v, r in zip(values, blindings)]
    assert got[0].is_identity and got[4] == G
    sample = list(range(8)) + rng.sample(range(8, n), 8)
    with use_backend("py_ecc"):
        assert [commit(values[i], blindings[i]) for i in sample] == [got[i] for i in sample]
    for bad in (([1], []), ([N], [0]), ([0], [-1]), ([True], [1])):
        with pytest.raises(ValueError):
            commit_many(*bad)
