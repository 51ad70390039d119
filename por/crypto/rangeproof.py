"""Aggregated Bulletproofs range proofs on secp256k1 (SPEC.md §14 §4–§6).

Proves that each of ``m`` Pedersen commitments ``V_j = v_j*G + gamma_j*H``
opens to a value ``v_j`` in ``[0, 2^bits)``, with one proof of
``O(log(bits*m))`` size (Bünz et al. 2018, §4.2–4.3 and the inner-product
argument of §3, made non-interactive with :class:`por.crypto.transcript.Transcript`).

``m`` is padded up to a power of two with commitments to 0 with blinding 0 (the
point at infinity), which the verifier reconstructs itself; only the ``m`` real
commitments are part of the statement. The verifier checks everything with a
single multiscalar multiplication.

API::

    proof, commitments = prove(transcript, values, blindings, bits=64)
    verify(transcript, commitments, proof, bits=64)     # raises VerificationFailed
    RangeProof.from_bytes(proof.to_bytes()) == proof
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from por.core.errors import BadInput, VerificationFailed
from por.crypto.group import (
    POINT_LEN,
    SCALAR_LEN,
    G,
    N,
    Point,
    batch_inv,
    fold_points,
    multiscalar_mul,
    random_scalar,
    scalar_from_bytes,
    scalar_inv,
    scalar_to_bytes,
    sum_points,
)
from por.crypto.pedersen import H, commit, generators
from por.crypto.transcript import Transcript

ALLOWED_BITS = (8, 16, 32, 64, 128)
DOMAIN = b"por/rangeproof/v1"
MAX_ROUNDS = 32

_FIXED_LEN = 4 * POINT_LEN + 3 * SCALAR_LEN + 2 * SCALAR_LEN  # A S T1 T2 | taux mu t | a b
_ROUND_LEN = 2 * POINT_LEN  # L_j R_j


def padded_count(m: int) -> int:
    """The number of aggregated values after padding: the least power of two ``>= m``."""
    if not isinstance(m, int) or m < 1:
        raise ValueError("at least one value is required")
    return 1 << (m - 1).bit_length()


def rounds_for(bits: int, m: int) -> int:
    """Number of inner-product rounds, ``log2(bits * padded_count(m))``."""
    return (bits * padded_count(m)).bit_length() - 1


def proof_size(bits: int, m: int) -> int:
    """Length in bytes of an encoded proof for ``m`` values of ``bits`` bits."""
    return _FIXED_LEN + _ROUND_LEN * rounds_for(bits, m)


# ---------------------------------------------------------------- the proof object


@dataclass(frozen=True)
class RangeProof:
    """An aggregated range proof.

    Byte layout (``to_bytes``), points 33-byte compressed, scalars 32-byte
    big-endian canonical, ``k = log2(bits * padded m)`` rounds::

        A || S || T1 || T2 || taux || mu || t || L_0 || R_0 || ... || L_{k-1} || R_{k-1} || a || b

    ``292 + 66*k`` bytes in total.
    """

    A: Point
    S: Point
    T1: Point
    T2: Point
    taux: int
    mu: int
    t: int
    L: tuple[Point, ...]
    R: tuple[Point, ...]
    a: int
    b: int

    @property
    def rounds(self) -> int:
        return len(self.L)

    def to_bytes(self) -> bytes:
        if len(self.L) != len(self.R):
            raise ValueError("L and R differ in length")
        parts = [self.A.to_bytes(), self.S.to_bytes(), self.T1.to_bytes(), self.T2.to_bytes()]
        parts += [scalar_to_bytes(self.taux), scalar_to_bytes(self.mu), scalar_to_bytes(self.t)]
        for lj, rj in zip(self.L, self.R):
            parts += [lj.to_bytes(), rj.to_bytes()]
        parts += [scalar_to_bytes(self.a), scalar_to_bytes(self.b)]
        return b"".join(parts)

    def to_hex(self) -> str:
        return self.to_bytes().hex()

    @classmethod
    def from_bytes(cls, data: bytes, *, rounds: int | None = None) -> RangeProof:
        """Strict decoding; raises :class:`BadInput` naming the bad field.

        The length must be exactly ``292 + 66*k`` (``k = rounds`` when given,
        else any ``k <= 32``); every scalar must be canonical (``< N``) and
        every point a valid compressed point (never the point at infinity).
        """
        if not isinstance(data, (bytes, bytearray)):
            raise BadInput("a range proof must be bytes")
        data = bytes(data)
        extra = len(data) - _FIXED_LEN
        if extra < 0 or extra % _ROUND_LEN or extra // _ROUND_LEN > MAX_ROUNDS:
            raise BadInput(f"range proof has a bad length ({len(data)} bytes)", field="rangeproof")
        k = extra // _ROUND_LEN
        if rounds is not None and k != rounds:
            raise BadInput(
                f"range proof has {k} rounds ({len(data)} bytes), expected {rounds} "
                f"({_FIXED_LEN + _ROUND_LEN * rounds} bytes)",
                field="rangeproof",
            )
        pos = 0

        def point(name: str) -> Point:
            nonlocal pos
            raw = data[pos : pos + POINT_LEN]
            pos += POINT_LEN
            try:
                return Point.from_bytes(raw)
            except BadInput as e:
                raise BadInput(f"range proof {name}: {e.reason}", field=f"rangeproof.{name}") from None

        def scalar(name: str) -> int:
            nonlocal pos
            raw = data[pos : pos + SCALAR_LEN]
            pos += SCALAR_LEN
            try:
                return scalar_from_bytes(raw)
            except BadInput as e:
                raise BadInput(f"range proof {name}: {e.reason}", field=f"rangeproof.{name}") from None

        A, S, T1, T2 = point("A"), point("S"), point("T1"), point("T2")
        taux, mu, t = scalar("taux"), scalar("mu"), scalar("t")
        L: list[Point] = []
        R: list[Point] = []
        for j in range(k):
            L.append(point(f"L[{j}]"))
            R.append(point(f"R[{j}]"))
        a, b = scalar("a"), scalar("b")
        assert pos == len(data)
        return cls(A, S, T1, T2, taux, mu, t, tuple(L), tuple(R), a, b)

    @classmethod
    def from_hex(cls, text: str, *, rounds: int | None = None) -> RangeProof:
        if not isinstance(text, str) or len(text) % 2 or text.strip("0123456789abcdef"):
            raise BadInput("a range proof in hex must be an even number of lowercase hex digits", field="rangeproof")
        return cls.from_bytes(bytes.fromhex(text), rounds=rounds)


# ---------------------------------------------------------------- helpers


def _check_bits(bits: int, exc: type[Exception]) -> None:
    if not isinstance(bits, int) or isinstance(bits, bool) or bits not in ALLOWED_BITS:
        raise exc(f"unsupported range size {bits!r} bits (expected one of {ALLOWED_BITS})")


def _check_values(values: Sequence[int], bits: int) -> None:
    """The prover's range check (a separate function so tests can disable it)."""
    for j, v in enumerate(values):
        if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v < 1 << bits:
            raise ValueError(f"value {j} is outside [0, 2^{bits}): {v!r}")


def _bit_vector(values: Sequence[int], bits: int) -> list[int]:
    """``a_L``: the bits of every value, least significant first, value after value."""
    return [(v >> i) & 1 for v in values for i in range(bits)]


def _inner(a: Sequence[int], b: Sequence[int]) -> int:
    return sum(x * y for x, y in zip(a, b)) % N


def _powers(x: int, n: int) -> list[int]:
    out = [1] * n
    acc = 1
    for i in range(1, n):
        acc = acc * x % N
        out[i] = acc
    return out


def _absorb_statement(transcript: Transcript, bits: int, commitments: Sequence[Point]) -> None:
    transcript.append_message("dom-sep", DOMAIN)
    transcript.append_u64("bits", bits)
    transcript.append_u64("m", len(commitments))
    for v in commitments:
        transcript.append_point("V", v)


def _delta(y: int, z: int, bits: int, m: int) -> int:
    """``delta(y, z) = (z - z^2) * sum_{i<nm} y^i - sum_{j<m} z^(j+3) * (2^n - 1)``."""
    nm = bits * m
    sum_y = 0
    acc = 1
    for _ in range(nm):
        sum_y += acc
        acc = acc * y % N
    z2 = z * z % N
    sum_z = 0
    zj = z2 * z % N
    for _ in range(m):
        sum_z += zj
        zj = zj * z % N
    return ((z - z2) * sum_y - sum_z * ((1 << bits) - 1)) % N


# ---------------------------------------------------------------- prover


def prove(
    transcript: Transcript,
    values: Sequence[int],
    blindings: Sequence[int],
    bits: int = 64,
    *,
    rng: Callable[[], int] | None = None,
) -> tuple[RangeProof, list[Point]]:
    """Prove that every ``values[j]`` is in ``[0, 2^bits)``.

    Returns the proof and the commitments ``V_j = values[j]*G + blindings[j]*H``.
    The caller absorbs its context into ``transcript`` first; the verifier must
    do the same. ``rng`` (for tests only) replaces the CSPRNG for the prover's
    random scalars. Raises ``ValueError`` for a value outside the range, a
    blinding outside ``[0, N)``, an unsupported ``bits``, or a commitment that
    would be the point at infinity (value 0 with blinding 0).
    """
    _check_bits(bits, ValueError)
    values = list(values)
    blindings = list(blindings)
    if not values:
        raise ValueError("at least one value is required")
    if len(values) != len(blindings):
        raise ValueError("values and blindings differ in length")
    _check_values(values, bits)
    for j, g in enumerate(blindings):
        if not isinstance(g, int) or isinstance(g, bool) or not 0 <= g < N:
            raise ValueError(f"blinding {j} is outside [0, N)")
    rand = rng or random_scalar

    m_real = len(values)
    m = padded_count(m_real)
    n = bits
    nm = n * m
    commitments = [commit(v % N, g) for v, g in zip(values, blindings)]
    for j, c in enumerate(commitments):
        if c.is_identity:
            raise ValueError(f"commitment {j} is the point at infinity (value 0 with blinding 0)")
    values_p = values + [0] * (m - m_real)
    gammas = blindings + [0] * (m - m_real)

    _absorb_statement(transcript, bits, commitments)
    g_vec, h_vec = generators(nm)

    # A = alpha*H + <aL, G> + <aR, H>,  aR = aL - 1
    a_l = [x % N for x in _bit_vector(values_p, n)]
    a_r = [(x - 1) % N for x in a_l]
    alpha = rand()
    if all(x in (0, 1) for x in a_l):
        ones = [g for g, bit in zip(g_vec, a_l) if bit]
        zeros = [h for h, bit in zip(h_vec, a_l) if not bit]
        A = sum_points([alpha * H, sum_points(ones), -sum_points(zeros)])
    else:  # only reachable with a patched _bit_vector (soundness tests)
        A = multiscalar_mul([alpha, *a_l, *a_r], [H, *g_vec, *h_vec])

    # S = rho*H + <sL, G> + <sR, H>
    s_l = [rand() for _ in range(nm)]
    s_r = [rand() for _ in range(nm)]
    rho = rand()
    S = multiscalar_mul([rho, *s_l, *s_r], [H, *g_vec, *h_vec])

    transcript.append_point("A", A)
    transcript.append_point("S", S)
    y = transcript.challenge_scalar("y")
    z = transcript.challenge_scalar("z")

    # l(X) = l0 + l1 X,  r(X) = r0 + r1 X
    y_pow = _powers(y, nm)
    z2 = z * z % N
    zj = [z2 * p % N for p in _powers(z, m)]  # z^(2+j)
    two = [1 << i for i in range(n)]
    l0 = [(x - z) % N for x in a_l]
    l1 = s_l
    r0 = [(y_pow[i] * (a_r[i] + z) + zj[i // n] * two[i % n]) % N for i in range(nm)]
    r1 = [y_pow[i] * s_r[i] % N for i in range(nm)]
    t1 = (_inner(l0, r1) + _inner(l1, r0)) % N
    t2 = _inner(l1, r1)

    tau1, tau2 = rand(), rand()
    T1 = multiscalar_mul([t1, tau1], [G, H])
    T2 = multiscalar_mul([t2, tau2], [G, H])
    transcript.append_point("T1", T1)
    transcript.append_point("T2", T2)
    x = transcript.challenge_scalar("x")

    l_vec = [(a + x * b) % N for a, b in zip(l0, l1)]
    r_vec = [(a + x * b) % N for a, b in zip(r0, r1)]
    t_hat = _inner(l_vec, r_vec)
    taux = (tau2 * x % N * x + tau1 * x + sum(zv * g for zv, g in zip(zj, gammas))) % N
    mu = (alpha + rho * x) % N

    transcript.append_scalar("taux", taux)
    transcript.append_scalar("mu", mu)
    transcript.append_scalar("t", t_hat)
    w = transcript.challenge_scalar("w")

    L, R, a, b = _ipa_prove(transcript, g_vec, h_vec, scalar_inv(y), w, l_vec, r_vec)
    transcript.append_scalar("a", a)
    transcript.append_scalar("b", b)
    proof = RangeProof(A, S, T1, T2, taux, mu, t_hat, tuple(L), tuple(R), a, b)
    return proof, commitments


def _ipa_prove(
    transcript: Transcript,
    g_vec: list[Point],
    h_vec: list[Point],
    y_inv: int,
    w: int,
    a: list[int],
    b: list[int],
) -> tuple[list[Point], list[Point], int, int]:
    """Inner-product argument for ``P = <a, G> + <b, H'> + <a, b>*w*G_base``, ``H'_i = y^-i * H_i``.

    The current generators are kept as ``g_scale * Gp[i]`` and
    ``h_scale * y_inv^i * Hp[i]``: folding ``G' = u^-1 G_lo + u G_hi`` then
    costs one scalar multiplication per element, ``Gp'[i] = Gp[i] + u^2 Gp[hi+i]``
    with ``g_scale' = g_scale * u^-1`` (and likewise for H), and the last
    round's generators are never computed.
    """
    Gp, Hp = list(g_vec), list(h_vec)
    g_scale = 1
    h_scale = 1
    L: list[Point] = []
    R: list[Point] = []
    k = len(a)
    while k > 1:
        half = k // 2
        a_lo, a_hi, b_lo, b_hi = a[:half], a[half:], b[:half], b[half:]
        c_l = _inner(a_lo, b_hi)
        c_r = _inner(a_hi, b_lo)
        hf = [h_scale * p % N for p in _powers(y_inv, k)]
        Lj = multiscalar_mul(
            [g_scale * x % N for x in a_lo] + [x * f % N for x, f in zip(b_hi, hf)] + [c_l * w % N],
            Gp[half:] + Hp[:half] + [G],
        )
        Rj = multiscalar_mul(
            [g_scale * x % N for x in a_hi] + [x * f % N for x, f in zip(b_lo, hf[half:])] + [c_r * w % N],
            Gp[:half] + Hp[half:] + [G],
        )
        transcript.append_point("L", Lj)
        transcript.append_point("R", Rj)
        L.append(Lj)
        R.append(Rj)
        u = transcript.challenge_scalar("u")
        u_inv = scalar_inv(u)
        a = [(lo * u + hi * u_inv) % N for lo, hi in zip(a_lo, a_hi)]
        b = [(lo * u_inv + hi * u) % N for lo, hi in zip(b_lo, b_hi)]
        if half > 1:
            u2 = u * u % N
            ratio_h = u_inv * u_inv % N * pow(y_inv, half, N) % N
            Gp = fold_points(Gp[:half], Gp[half:], u2)
            Hp = fold_points(Hp[:half], Hp[half:], ratio_h)
            g_scale = g_scale * u_inv % N
            h_scale = h_scale * u % N
        k = half
    return L, R, a[0], b[0]


# ---------------------------------------------------------------- verifier


def _fail(reason: str) -> VerificationFailed:
    return VerificationFailed(reason, where="range proof")


def verify(
    transcript: Transcript,
    commitments: Sequence[Point],
    proof: RangeProof,
    bits: int = 64,
) -> None:
    """Check ``proof`` for ``commitments``; raises :class:`VerificationFailed` with the reason.

    ``transcript`` must hold the same context the prover absorbed. Raises
    :class:`BadInput` for an unsupported ``bits`` or an empty commitment list.
    """
    _check_bits(bits, BadInput)
    commitments = list(commitments)
    if not commitments:
        raise BadInput("a range proof needs at least one commitment")
    if not isinstance(proof, RangeProof):
        raise TypeError("proof must be a RangeProof")
    for j, c in enumerate(commitments):
        if not isinstance(c, Point):
            raise TypeError("commitments must be Points")
        if c.is_identity:
            raise _fail(f"commitment {j} is the point at infinity")
    for name in ("A", "S", "T1", "T2"):
        p = getattr(proof, name)
        if not isinstance(p, Point) or p.is_identity:
            raise _fail(f"malformed proof: {name} is not a finite point")
    for name in ("taux", "mu", "t", "a", "b"):
        s = getattr(proof, name)
        if not isinstance(s, int) or isinstance(s, bool) or not 0 <= s < N:
            raise _fail(f"malformed proof: {name} is not a canonical scalar")
    for seq in (proof.L, proof.R):
        for p in seq:
            if not isinstance(p, Point) or p.is_identity:
                raise _fail("malformed proof: an L/R entry is not a finite point")

    m_real = len(commitments)
    m = padded_count(m_real)
    n = bits
    nm = n * m
    k = nm.bit_length() - 1
    if len(proof.L) != k or len(proof.R) != k:
        raise _fail(
            f"proof has {len(proof.L)}/{len(proof.R)} L/R rounds, expected {k} "
            f"for {m_real} value(s) of {bits} bits"
        )

    # replay the transcript
    _absorb_statement(transcript, bits, commitments)
    transcript.append_point("A", proof.A)
    transcript.append_point("S", proof.S)
    y = transcript.challenge_scalar("y")
    z = transcript.challenge_scalar("z")
    transcript.append_point("T1", proof.T1)
    transcript.append_point("T2", proof.T2)
    x = transcript.challenge_scalar("x")
    transcript.append_scalar("taux", proof.taux)
    transcript.append_scalar("mu", proof.mu)
    transcript.append_scalar("t", proof.t)
    w = transcript.challenge_scalar("w")
    us = []
    for Lj, Rj in zip(proof.L, proof.R):
        transcript.append_point("L", Lj)
        transcript.append_point("R", Rj)
        us.append(transcript.challenge_scalar("u"))
    transcript.append_scalar("a", proof.a)
    transcript.append_scalar("b", proof.b)

    # s_i = prod_j u_j^(+1 if bit (k-1-j) of i is set else -1);  1/s_i = s_(nm-1-i)
    inv = batch_inv([*us, y])
    u_inv, y_inv = inv[:k], inv[k]
    u_sq = [u * u % N for u in us]
    u_inv_sq = [u * u % N for u in u_inv]
    s = [0] * nm
    acc = 1
    for ui in u_inv:
        acc = acc * ui % N
    s[0] = acc
    for i in range(1, nm):
        lg = i.bit_length() - 1
        s[i] = s[i - (1 << lg)] * u_sq[k - 1 - lg] % N

    a, b, t = proof.a, proof.b, proof.t
    z2 = z * z % N
    zj = [z2 * p % N for p in _powers(z, m)]  # z^(2+j)
    y_inv_pow = _powers(y_inv, nm)
    two = [1 << i for i in range(n)]
    neg_z = -z % N
    g_coef = [(neg_z - a * si) % N for si in s]
    h_coef = [0] * nm
    for i in range(nm):
        zjt = zj[i // n] * two[i % n]
        h_coef[i] = (z + y_inv_pow[i] * (zjt - b * s[nm - 1 - i])) % N
    delta = _delta(y, z, n, m)
    c = random_scalar()  # batches the two checks; chosen by the verifier after the proof is fixed

    scalars = [
        1,
        x,
        c * x % N,
        c * x % N * x % N,
        (-proof.mu - c * proof.taux) % N,
        (w * (t - a * b) + c * (delta - t)) % N,
        *[c * zv % N for zv in zj[:m_real]],
        *u_sq,
        *u_inv_sq,
        *g_coef,
        *h_coef,
    ]
    g_vec, h_vec = generators(nm)
    points = [proof.A, proof.S, proof.T1, proof.T2, H, G, *commitments, *proof.L, *proof.R, *g_vec, *h_vec]
    if multiscalar_mul(scalars, points).is_identity:
        return

    # Failure: say which of the two combined equations is false.
    t_check = multiscalar_mul(
        [*zj[:m_real], (delta - t) % N, -proof.taux % N, x, x * x % N],
        [*commitments, G, H, proof.T1, proof.T2],
    )
    if not t_check.is_identity:
        raise _fail(
            "polynomial check failed: t*G + taux*H differs from sum z^(j+2)*V_j + delta*G + x*T1 + x^2*T2"
        )
    raise _fail("inner-product argument failed")


__all__ = [
    "ALLOWED_BITS",
    "RangeProof",
    "padded_count",
    "proof_size",
    "prove",
    "rounds_for",
    "verify",
]
