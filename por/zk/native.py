"""The native Groth16 backend (optional extra ``por[native]``): prove with groth16py, verify with mclbn256.

* **Proving** (:class:`NativeProver`): groth16py 0.2.0 (arkworks, GPL-3.0) proves from a circom ``.wtns``
  against the snarkjs zkey, but draws its ``r, s`` from OS randomness with no way to pass them. So it is run
  on the three derived keys of :mod:`por.zk.zkey`, whose outputs do not depend on its own ``r, s``
  (``A₀``, ``B₁,₀``, ``B₀``, ``C₀``), and the proof for the batch's ``r, s`` of SPEC.md §16.13 is
  recombined here: ``A = A₀ + r·δ₁``, ``B = B₀ + s·δ₂``, ``C = C₀ + s·A + r·B₁,₀`` -- the group elements
  snarkjs computes for the same ``r, s``, so the proof files are byte-identical across backends
  (SPEC.md §16.15; the tests compare them). Each recombined proof is verified against the setup's key
  before it is returned.
* **Parsing** (:data:`MCL_CHECKS`): the strict parsing of :mod:`por.zk.groth16` with MCL deciding whether a
  point is on its curve and, for G2, in the order-``r`` subgroup -- the same verdicts as py_ecc's
  (:data:`por.zk.groth16.PY_ECC`, the reference), about 200 times faster.
* **Verifying** (:func:`verify`): the pairing check of :func:`por.zk.groth16.verify` with MCL's BN254
  (``BN_SNARK1``, the snarkjs ``bn128`` curve) through mclbn256 (MIT): the key prepared once per process
  (its points, the Miller loop of ``(α, β)``), three Miller loops and one final exponentiation per proof.

:func:`missing` says which package is absent and names the extra to install (``por[native]`` to prove,
``por[native-verify]``, MIT only, to verify).
"""

from __future__ import annotations

import ctypes
import hashlib
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from por.core.encoding import tag
from por.core.errors import BadInput, ServiceUnavailable, VerificationFailed
from por.zk.groth16 import (
    G1_OFF_CURVE,
    G2_OFF_CURVE,
    G2_OUTSIDE_SUBGROUP,
    G1Point,
    G2Point,
    PointChecks,
    Proof,
    R_MODULUS,
    VerifyingKey,
    _check_public,
)
from por.zk.zkey import derived_zkeys

INSTALL_HINT = "install the optional native backend: pip install 'por[native]' (groth16py is GPL-3.0, see README)"
VERIFY_HINT = "install the native verifier: pip install 'por[native-verify]' (mclbn256, MIT; no GPL code)"
RNG_TAG = tag("zk-prove-rng")
"""``TAG("zk-prove-rng")``: the tag of the proving stream (SPEC.md §16.13)."""
_BN_SNARK1 = 4  # MCL's curve id of the Ethereum / snarkjs BN254
_lock = threading.Lock()
_mcl: Any = None


def missing(*, prove: bool = True) -> str | None:
    """``None`` when the native backend can run, else a message naming the missing package."""
    names = (["groth16py"] if prove else []) + ["mclbn256"]
    for name in names:
        try:
            __import__(name)
        except ImportError:
            return f"the native zk backend needs the Python package {name}: {INSTALL_HINT if prove else VERIFY_HINT}"
    return None


def _require(prove: bool) -> None:
    why = missing(prove=prove)
    if why:
        raise ServiceUnavailable(why)


# ---------------------------------------------------------------- proving randomness (SPEC.md §16.13)

def _stream(seed: bytes) -> Iterator[int]:
    i = 0
    while True:
        yield from hashlib.sha256(RNG_TAG + seed + i.to_bytes(8, "big")).digest()
        i += 1


def proving_scalars(seed: bytes) -> tuple[int, int]:
    """``(r, s)`` of a 32-byte batch seed exactly as snarkjs draws them from the stream (SPEC.md §16.13)."""
    stream = _stream(bytes(seed))

    def u32() -> int:
        return int.from_bytes(bytes(next(stream) for _ in range(4)), "big")

    out: list[int] = []
    inv = pow(2, -256, R_MODULUS)
    while len(out) < 2:
        v = 0
        for i in range(4):
            hi = u32()
            v += ((hi << 32) + u32()) << (64 * i)
        v %= 1 << 254
        if v < R_MODULUS:
            out.append(v * inv % R_MODULUS)
    return out[0], out[1]


# ---------------------------------------------------------------- MCL (mclbn256)

class _Mcl:
    """Thin ctypes access to mclbn256's library, switched to ``BN_SNARK1`` (once per process)."""

    def __init__(self) -> None:
        import mclbn256.mclbn256 as m

        self.m = m
        self.lib = m.load_library("libmclbn256")
        if self.lib.mclBn_init(_BN_SNARK1, m.MCLBN_COMPILED_TIME_VAR) != 0:
            raise ServiceUnavailable("mclbn256 cannot switch to the BN254 (snarkjs bn128) curve")
        self.buf = ctypes.create_string_buffer(2048)

    def g1(self, x: int, y: int) -> Any:
        p = self.m.mclBnG1_bytes()
        text = f"1 {x} {y}".encode() if (x, y) != (0, 0) else b"0"
        if self.lib.mclBnG1_setStr(ctypes.byref(p), text, len(text), 10) != 0:
            raise ValueError("not a BN254 G1 point")
        return p

    def g2(self, x: tuple[int, int], y: tuple[int, int]) -> Any:
        p = self.m.mclBnG2_bytes()
        text = f"1 {x[0]} {x[1]} {y[0]} {y[1]}".encode() if (x, y) != ((0, 0), (0, 0)) else b"0"
        if self.lib.mclBnG2_setStr(ctypes.byref(p), text, len(text), 10) != 0:
            raise ValueError("not a BN254 G2 point")
        return p

    def fr(self, v: int) -> Any:
        f = self.m.mclBnFr_bytes()
        text = str(v % R_MODULUS).encode()
        if self.lib.mclBnFr_setStr(ctypes.byref(f), text, len(text), 10) != 0:
            raise ValueError("not a scalar")
        return f

    def _coords(self, getstr: Any, normalize: Any, p: Any, kind: Any) -> list[int]:
        q = kind()
        normalize(ctypes.byref(q), ctypes.byref(p))
        n = getstr(self.buf, len(self.buf), ctypes.byref(q), 10)
        words = self.buf.raw[:n].decode().split()
        return [int(w) for w in words[1:]] if words[0] == "1" else []

    def g1_point(self, p: Any) -> G1Point:
        c = self._coords(self.lib.mclBnG1_getStr, self.lib.mclBnG1_normalize, p, self.m.mclBnG1_bytes)
        if not c:
            raise ValueError("the point at infinity")
        return G1Point(c[0], c[1])

    def g2_point(self, p: Any) -> G2Point:
        c = self._coords(self.lib.mclBnG2_getStr, self.lib.mclBnG2_normalize, p, self.m.mclBnG2_bytes)
        if not c:
            raise ValueError("the point at infinity")
        return G2Point((c[0], c[1]), (c[2], c[3]))

    def g1_op(self, name: str, *args: Any) -> Any:
        out = self.m.mclBnG1_bytes()
        getattr(self.lib, name)(ctypes.byref(out), *(ctypes.byref(a) for a in args))
        return out

    def g2_op(self, name: str, *args: Any) -> Any:
        out = self.m.mclBnG2_bytes()
        getattr(self.lib, name)(ctypes.byref(out), *(ctypes.byref(a) for a in args))
        return out


def _mcl_lib() -> _Mcl:
    global _mcl
    with _lock:
        if _mcl is None:
            _require(prove=False)
            _mcl = _Mcl()
        return _mcl


# ---------------------------------------------------------------- strict point checks (parsing)

def _mcl_g1_problem(x: int, y: int) -> str | None:
    """:data:`por.zk.groth16.PY_ECC`'s G1 decision in MCL: on ``y² = x³ + 3`` (cofactor 1: that is G1)."""
    mcl = _mcl_lib()
    p = mcl.m.mclBnG1_bytes()
    text = f"1 {x} {y}".encode()
    # setStr rejects a point off the curve; isValid re-checks the decoded point
    if mcl.lib.mclBnG1_setStr(ctypes.byref(p), text, len(text), 10) != 0 or mcl.lib.mclBnG1_isValid(ctypes.byref(p)) != 1:
        return G1_OFF_CURVE
    return None


def _mcl_g2_problem(x: tuple[int, int], y: tuple[int, int]) -> str | None:
    """:data:`por.zk.groth16.PY_ECC`'s G2 decision in MCL: on the twist, and ``r·P = O`` (``isValidOrder``;
    MCL's ``setStr`` does not check the order unless told to, so it is asked explicitly)."""
    mcl = _mcl_lib()
    p = mcl.m.mclBnG2_bytes()
    text = f"1 {x[0]} {x[1]} {y[0]} {y[1]}".encode()
    if mcl.lib.mclBnG2_setStr(ctypes.byref(p), text, len(text), 10) != 0 or mcl.lib.mclBnG2_isValid(ctypes.byref(p)) != 1:
        return G2_OFF_CURVE
    if mcl.lib.mclBnG2_isValidOrder(ctypes.byref(p)) != 1:
        return G2_OUTSIDE_SUBGROUP
    return None


MCL_CHECKS = PointChecks("mcl", _mcl_g1_problem, _mcl_g2_problem)
"""Strict parsing with MCL's point checks (about 0.2 ms for a G2 subgroup check, py_ecc's takes tens of ms)."""


# ---------------------------------------------------------------- verifying

class _PreparedKey:
    """A verifying key's points in MCL and the Miller loop of ``(α, β)`` (the same for every proof)."""

    def __init__(self, mcl: _Mcl, vk: VerifyingKey) -> None:
        m = mcl.m
        self.ic0 = mcl.g1(vk.ic[0].x, vk.ic[0].y)
        self.ic = (m.mclBnG1_bytes * max(1, vk.n_public))(*(mcl.g1(p.x, p.y) for p in vk.ic[1:]))
        self.gamma = mcl.g2(vk.gamma.x, vk.gamma.y)
        self.delta = mcl.g2(vk.delta.x, vk.delta.y)
        self.alpha_beta = m.mclBnGT_bytes()
        mcl.lib.mclBn_millerLoop(ctypes.byref(self.alpha_beta), ctypes.byref(mcl.g1(vk.alpha.x, vk.alpha.y)),
                                 ctypes.byref(mcl.g2(vk.beta.x, vk.beta.y)))


_prepared: dict[VerifyingKey, _PreparedKey] = {}


def _prepare(mcl: _Mcl, vk: VerifyingKey) -> _PreparedKey:
    with _lock:
        found = _prepared.get(vk)
    if found is None:
        found = _PreparedKey(mcl, vk)
        with _lock:
            if len(_prepared) >= 16:
                _prepared.clear()
            _prepared[vk] = found
    return found


def verify(vk: VerifyingKey, proof: Proof, public: Sequence[int]) -> None:
    """:func:`por.zk.groth16.verify` natively (MCL): raises :class:`VerificationFailed` unless
    ``e(−A, B) · e(α, β) · e(vk_x, γ) · e(C, δ) = 1``; ``BadInput`` for public signals outside ``[0, r)``
    or of the wrong number. The proof and key are :mod:`por.zk.groth16` points, checked when they were made
    (on the curve, G2 in the order-``r`` subgroup: :data:`MCL_CHECKS` or py_ecc)."""
    _check_public(vk, public)
    mcl = _mcl_lib()
    m, lib = mcl.m, mcl.lib
    key = _prepare(mcl, vk)
    vk_x = key.ic0
    if public:
        scalars = (m.mclBnFr_bytes * len(public))(*(mcl.fr(v) for v in public))
        acc = m.mclBnG1_bytes()
        lib.mclBnG1_mulVec(ctypes.byref(acc), key.ic, scalars, len(public))
        vk_x = mcl.g1_op("mclBnG1_add", vk_x, acc)
    neg_a = mcl.g1_op("mclBnG1_neg", mcl.g1(proof.a.x, proof.a.y))
    g1s = (m.mclBnG1_bytes * 3)(neg_a, vk_x, mcl.g1(proof.c.x, proof.c.y))
    g2s = (m.mclBnG2_bytes * 3)(mcl.g2(proof.b.x, proof.b.y), key.gamma, key.delta)
    f, e = m.mclBnGT_bytes(), m.mclBnGT_bytes()
    lib.mclBn_millerLoopVec(ctypes.byref(f), g1s, g2s, 3)
    lib.mclBnGT_mul(ctypes.byref(f), ctypes.byref(f), ctypes.byref(key.alpha_beta))
    lib.mclBn_finalExp(ctypes.byref(e), ctypes.byref(f))
    if lib.mclBnGT_isOne(ctypes.byref(e)) != 1:
        raise VerificationFailed("the Groth16 pairing equation does not hold", where="zk proof")


def is_valid(vk: VerifyingKey, proof: Proof, public: Sequence[int]) -> bool:
    """``True`` iff :func:`verify` passes."""
    try:
        verify(vk, proof, public)
    except VerificationFailed:
        return False
    return True


# ---------------------------------------------------------------- proving

def _decode(blob: bytes) -> tuple[tuple[int, int], tuple[tuple[int, int], tuple[int, int]], tuple[int, int]]:
    """groth16py's Ethereum proof bytes: ``A.x A.y B.x.c1 B.x.c0 B.y.c1 B.y.c0 C.x C.y`` (32 bytes each)."""
    if len(blob) != 256:
        raise ValueError(f"groth16py returned {len(blob)} proof bytes, not 256")
    v = [int.from_bytes(blob[i * 32:(i + 1) * 32], "big") for i in range(8)]
    return (v[0], v[1]), ((v[3], v[2]), (v[5], v[4])), (v[6], v[7])


class NativeProver:
    """Deterministic Groth16 proofs of one snarkjs zkey with groth16py (module docstring).

    The derived keys are written once beside the zkey (``<zkey dir>/native/<zkey digest>/``, atomically)
    and imported once per process. :meth:`prove` takes a ``.wtns`` file and the batch's 32-byte seed, and
    checks the recombined proof against ``vk`` (the setup's verifying key) before returning it.
    """

    def __init__(self, zkey: Path, vk: VerifyingKey) -> None:
        _require(prove=True)
        import groth16py

        self._g16 = groth16py
        zkey = Path(zkey).resolve()
        head, paths = derived_zkeys(zkey, zkey.parent / "native")
        self.n_public = head.n_public
        if vk.n_public != head.n_public:
            raise BadInput(f"the verification key takes {vk.n_public} public signals, the zkey {head.n_public}",
                           file=str(zkey))
        self.vk = vk
        self.zkey = zkey
        self._pks = {name: groth16py.import_zkey(str(path))[0] for name, path in paths.items()}
        self._mcl = _mcl_lib()
        self._delta1 = self._mcl.g1(*head.delta1)
        self._delta2 = self._mcl.g2(*head.delta2)

    def _run(self, name: str, witness: Path) -> tuple[Any, Any, Any]:
        a, b, c = _decode(self._g16.prove_wtns(self._pks[name], str(witness)))
        return a, b, c

    def prove(self, witness: Path, seed: bytes, public: Sequence[int]) -> Proof:
        """The proof of ``witness`` with ``r, s`` of ``seed`` (SPEC.md §16.13): byte-identical to snarkjs'.

        ``public`` are the witness's public signals. Fails closed: a recombined proof that does not verify
        for them under the setup's key (a zkey that does not match it, a witness violating a constraint, a
        groth16py fault) raises :class:`BadInput` (exit 2) and is never returned.
        """
        mcl = self._mcl
        r, s = proving_scalars(seed)
        _, b0, c0 = self._run("c", witness)
        a0 = self._run("a", witness)[0]
        b10 = self._run("b1", witness)[0]
        fr, fs = mcl.fr(r), mcl.fr(s)
        a = mcl.g1_op("mclBnG1_add", mcl.g1(*a0), mcl.g1_op("mclBnG1_mul", self._delta1, fr))
        b = mcl.g2_op("mclBnG2_add", mcl.g2(*b0), mcl.g2_op("mclBnG2_mul", self._delta2, fs))
        c = mcl.g1_op("mclBnG1_add", mcl.g1(*c0), mcl.g1_op("mclBnG1_mul", a, fs))
        c = mcl.g1_op("mclBnG1_add", c, mcl.g1_op("mclBnG1_mul", mcl.g1(*b10), fr))
        try:
            proof = Proof(mcl.g1_point(a), mcl.g2_point(b), mcl.g1_point(c))
            verify(self.vk, proof, public)
        except (ValueError, VerificationFailed) as exc:
            raise BadInput(f"the native prover's proof does not verify under the setup's verification key "
                           f"({exc}): prove with --prover snarkjs", file=str(self.zkey)) from None
        return proof


_provers: dict[Path, NativeProver] = {}


def native_prover(zkey: Path, vk: VerifyingKey) -> NativeProver:
    """The process's :class:`NativeProver` of ``zkey`` (keys imported once) checking against ``vk``."""
    key = Path(zkey).resolve()
    with _lock:
        found = _provers.get(key)
    if found is None or found.vk != vk:
        found = NativeProver(key, vk)
        with _lock:
            _provers[key] = found
    return found
