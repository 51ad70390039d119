"""secp256k1 group layer: strict encodings, edge cases, and coincurve vs py_ecc cross-checks."""

from __future__ import annotations

import os
import random
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from por.crypto import group
from por.core.errors import BadInput
from por.crypto.group import (
    BACKENDS,
    G,
    N,
    P,
    Point,
    batch_inv,
    get_backend,
    multiscalar_mul,
    random_scalar,
    scalar_from_bytes,
    scalar_inv,
    scalar_to_bytes,
    set_backend,
    sum_points,
    use_backend,
)

G_HEX = "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"
G2_HEX = "02c6047f9441ed7d6d3045406e95c07cd85c778e4b8cef3ca7abac09b95c709ee5"  # 2G
G3_HEX = "02f9308a019258c31049344f85f89d5229b531c845836f99b08601f113bce036f9"  # 3G

rng = random.Random(20180101)


def rand_scalar() -> int:
    return rng.randrange(1, N)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest):
    with use_backend(request.param):
        yield request.param


def both(fn):
    """Run ``fn`` under each backend and return the results (checked equal by callers)."""
    out = []
    for name in BACKENDS:
        with use_backend(name):
            out.append(fn())
    return out


# ---------------------------------------------------------------- scalars


def test_scalar_encoding() -> None:
    assert scalar_from_bytes(bytes(32)) == 0
    assert scalar_from_bytes((N - 1).to_bytes(32, "big")) == N - 1
    assert scalar_to_bytes(N - 1) == (N - 1).to_bytes(32, "big")
    for bad in (N, N + 1, 2**256 - 1):
        with pytest.raises(BadInput, match="non-canonical"):
            scalar_from_bytes(bad.to_bytes(32, "big"))
    for raw in (b"", bytes(31), bytes(33)):
        with pytest.raises(BadInput):
            scalar_from_bytes(raw)
    for bad in (-1, N, True):
        with pytest.raises(ValueError):
            scalar_to_bytes(bad)


def test_scalar_helpers() -> None:
    for _ in range(20):
        s = random_scalar()
        assert 0 < s < N
        assert s * scalar_inv(s) % N == 1
    with pytest.raises(ValueError):
        scalar_inv(0)
    with pytest.raises(ValueError):
        scalar_inv(N)
    xs = [rand_scalar() for _ in range(17)]
    assert batch_inv(xs) == [pow(x, -1, N) for x in xs]
    assert batch_inv([]) == []
    with pytest.raises(ValueError):
        batch_inv([3, 0, 5])


# ---------------------------------------------------------------- encodings


def test_base_point_and_small_multiples(backend: str) -> None:
    assert G.to_bytes().hex() == G_HEX
    assert Point.from_bytes(bytes.fromhex(G_HEX)) == G
    assert (2 * G).hex() == G2_HEX
    assert (G + G).hex() == G2_HEX
    assert (3 * G).hex() == G3_HEX
    assert (G + G + G) == 3 * G == G * 3
    assert (3 * G - G) == 2 * G


def test_decoding_is_strict(backend: str) -> None:
    good = (5 * G).to_bytes()
    assert Point.from_bytes(good) == 5 * G
    x = int.from_bytes(good[1:], "big")
    # find an x with no point on the curve
    bad_x = next(v for v in range(1, 100) if group._sqrt_mod_p((v**3 + 7) % P) is None)
    cases = {
        "empty": b"",
        "short": good[:-1],
        "long": good + b"\x00",
        "uncompressed": b"\x04" + x.to_bytes(32, "big") + (5 * G).affine()[1].to_bytes(32, "big"),
        "prefix 00 (infinity)": bytes(33),
        "prefix 01": b"\x01" + good[1:],
        "prefix 04": b"\x04" + good[1:],
        "prefix 06": b"\x06" + good[1:],
        "x = p": b"\x02" + P.to_bytes(32, "big"),
        "x > p": b"\x03" + (P + 1).to_bytes(32, "big"),
        "x = 2^256-1": b"\x02" + b"\xff" * 32,
        "not on curve": b"\x02" + bad_x.to_bytes(32, "big"),
    }
    for name, raw in cases.items():
        with pytest.raises(BadInput):
            Point.from_bytes(raw)
            pytest.fail(f"accepted {name}")


def test_x_just_below_p_on_curve_if_any(backend: str) -> None:
    # x = p - 1: whatever the answer, both backends must agree (checked in cross tests)
    raw = b"\x02" + (P - 1).to_bytes(32, "big")
    try:
        pt = Point.from_bytes(raw)
    except BadInput:
        return
    assert pt.to_bytes() == raw


def test_hex_parsing() -> None:
    assert Point.from_hex(G_HEX) == G
    for bad in (G_HEX.upper(), G_HEX[:-1], G_HEX + "00", "zz" * 33):
        with pytest.raises(BadInput):
            Point.from_hex(bad)


def test_identity(backend: str) -> None:
    O = Point.identity()
    assert O.is_identity and not G.is_identity
    assert O == Point.identity() and O != G and G != O
    assert O + G == G and G + O == G and O + O == O
    assert -O == O and O - O == O
    assert 5 * O == O
    assert 0 * G == O
    assert N * G == O
    assert (N - 1) * G == -G
    assert (N + 1) * G == G
    assert -1 * G == -G
    Q = 7 * G
    assert Q + (-Q) == O
    assert Q - Q == O
    with pytest.raises(ValueError):
        O.to_bytes()
    with pytest.raises(ValueError):
        O.affine()
    assert {O, Point.identity(), G, 1 * G} == {O, G}


def test_points_are_immutable() -> None:
    with pytest.raises(AttributeError):
        G._xy = (1, 2)  # type: ignore[misc]
    with pytest.raises(TypeError):
        Point()


def test_from_affine() -> None:
    x, y = (9 * G).affine()
    assert Point.from_affine(x, y) == 9 * G
    with pytest.raises(ValueError):
        Point.from_affine(x, y + 1)


# ---------------------------------------------------------------- cross-backend checks


def test_backends_agree_on_random_operations() -> None:
    for _ in range(8):
        a, b, k = rand_scalar(), rand_scalar(), rand_scalar()
        res = both(
            lambda: (
                (a * G).to_bytes(),
                (a * G + b * G).to_bytes(),
                (a * G - b * G).to_bytes(),
                (-(a * G)).to_bytes(),
                (k * (a * G)).to_bytes(),
                ((a * G) + (a * G)).to_bytes(),
                Point.from_bytes((a * G).to_bytes()).affine(),
            )
        )
        assert res[0] == res[1]
        assert res[0][1] == ((a + b) % N * G).to_bytes()


def test_backends_agree_on_decoding() -> None:
    for _ in range(30):
        raw = bytes([rng.choice((2, 3))]) + rng.randbytes(32)
        outcomes = []
        for name in BACKENDS:
            with use_backend(name):
                try:
                    outcomes.append(Point.from_bytes(raw).affine())
                except BadInput:
                    outcomes.append(None)
        assert outcomes[0] == outcomes[1]


def test_backends_agree_on_edge_cases() -> None:
    Q = rand_scalar() * G
    res = both(
        lambda: [
            (Q + (-Q)).is_identity,
            (0 * Q).is_identity,
            (N * Q).is_identity,
            ((N - 1) * Q).to_bytes(),
            (-Q).to_bytes(),
            multiscalar_mul([5, N - 5], [Q, Q]).is_identity,
            multiscalar_mul([], []).is_identity,
            multiscalar_mul([0, 0], [Q, G]).is_identity,
            multiscalar_mul([3], [Point.identity()]).is_identity,
            sum_points([Q, -Q, G]).to_bytes(),
            sum_points([]).is_identity,
            sum_points([Q, -Q]).is_identity,
        ]
    )
    assert res[0] == res[1]
    assert res[0][:3] == [True, True, True]
    assert res[0][3] == res[0][4]
    assert res[0][5:9] == [True, True, True, True]
    assert res[0][9] == G.to_bytes()
    assert res[0][10:] == [True, True]


@pytest.mark.parametrize("size", [1, 2, 3, 10, 40])
def test_backends_agree_on_msm(size: int) -> None:
    points = [rand_scalar() * G for _ in range(size)]
    scalars = [rand_scalar() for _ in range(size)]
    scalars[0] = 1
    if size > 2:
        scalars[1] = 0
        scalars[2] = N - 1
    expected = sum_points([s * p for s, p in zip(scalars, points)])
    res = both(lambda: multiscalar_mul(scalars, points).to_bytes())
    assert res[0] == res[1] == expected.to_bytes()


def test_msm_reduces_scalars_and_checks_lengths(backend: str) -> None:
    Q = 11 * G
    assert multiscalar_mul([N + 2, -1], [Q, G]) == 2 * Q - G
    with pytest.raises(ValueError):
        multiscalar_mul([1, 2], [G])
    with pytest.raises(TypeError):
        multiscalar_mul([1.0], [G])  # type: ignore[list-item]


# ---------------------------------------------------------------- Pippenger (coincurve)


def _naive(scalars, points):
    with use_backend("coincurve"):
        return sum_points([s * p for s, p in zip(scalars, points)])


@pytest.mark.parametrize("c", [2, 3, 5, 8])
def test_pippenger_matches_naive(c: int) -> None:
    pts = [rand_scalar() * G for _ in range(60)]
    # adversarial structure: negations, repeats, small and huge scalars
    pts += [-pts[0], -pts[1], pts[2], pts[2], G, -G]
    ss = [rand_scalar() for _ in range(60)] + [0, 0, 0, 0, 0, 0]
    ss[60:66] = [ss[0], ss[1], 1, N - 1, 2**128 + 7, N - (2**128 + 7)]
    ss[3] = 1
    ss[4] = 2**255
    ss[5] = N - 1
    cds = [group._cc_of(p) for p in pts]
    got = group._cc_msm_pippenger(ss, cds, c)
    assert got == _naive(ss, pts)


def test_pippenger_total_cancellation() -> None:
    pts = [rand_scalar() * G for _ in range(20)]
    ss = [rand_scalar() for _ in range(20)]
    allp = pts + [-p for p in pts]
    alls = ss + ss
    cds = [group._cc_of(p) for p in allp]
    for c in (3, 8):
        assert group._cc_msm_pippenger(alls, cds, c).is_identity
    # every bucket cancels: P and -P with the same scalar
    assert group._cc_msm_pippenger([5, 5], [group._cc_of(G), group._cc_of(-G)], 4).is_identity


def test_large_msm_uses_pippenger_and_agrees() -> None:
    n = 800  # above the naive threshold
    assert group._choose_window(n) > 0
    pts = [rand_scalar() * G for _ in range(16)] * (n // 16)
    ss = [rand_scalar() for _ in range(n)]
    with use_backend("coincurve"):
        got = multiscalar_mul(ss, pts)
    # regroup: sum of scalars per distinct point, then a small MSM on py_ecc
    acc: dict[Point, int] = {}
    for s, p in zip(ss, pts):
        acc[p] = (acc.get(p, 0) + s) % N
    with use_backend("py_ecc"):
        want = multiscalar_mul(list(acc.values()), list(acc.keys()))
    assert got == want


# ---------------------------------------------------------------- backend selection


def test_backend_selection() -> None:
    assert get_backend() in BACKENDS
    before = get_backend()
    with use_backend("py_ecc"):
        assert get_backend() == "py_ecc"
        with use_backend("coincurve"):
            assert get_backend() == "coincurve"
        assert get_backend() == "py_ecc"
    assert get_backend() == before
    with pytest.raises(ValueError):
        set_backend("openssl")
    assert get_backend() == before


def test_backend_from_environment() -> None:
    code = "import por.crypto.group as g; print(g.get_backend())"
    env = dict(os.environ, POR_GROUP_BACKEND="py_ecc")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "py_ecc"
    env["POR_GROUP_BACKEND"] = "nope"
    bad = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert bad.returncode != 0 and "unknown group backend" in bad.stderr
    env.pop("POR_GROUP_BACKEND")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "coincurve"


def test_points_cross_backends() -> None:
    """A point made under one backend is a value usable under the other."""
    with use_backend("coincurve"):
        a = 12345 * G
    with use_backend("py_ecc"):
        b = a + G
        c = Point.from_bytes(a.to_bytes())
    with use_backend("coincurve"):
        assert b == 12346 * G
        assert c + G == b


@settings(max_examples=25, deadline=None)
@given(st.integers(min_value=0, max_value=N - 1), st.integers(min_value=0, max_value=N - 1))
def test_property_linear(a: int, b: int) -> None:
    for name in BACKENDS:
        with use_backend(name):
            lhs = a * G + b * G
            rhs = ((a + b) % N) * G
            assert lhs == rhs
            assert multiscalar_mul([a, b], [G, G]) == rhs
            assert (a * G - b * G) == ((a - b) % N) * G


def test_fold_points() -> None:
    lo = [rand_scalar() * G for _ in range(5)] + [Point.identity(), G, G]
    hi = [rand_scalar() * G for _ in range(5)] + [G, Point.identity(), -G]
    s = rand_scalar()
    want = [a + s * b for a, b in zip(lo, hi)]
    res = []
    for name in BACKENDS:
        with use_backend(name):
            got = group.fold_points(lo, hi, s)
            assert group.fold_points(lo, hi, 0) == lo
            assert group.fold_points(lo, hi, 1)[7].is_identity
            res.append(got)
    assert res[0] == res[1] == want
    with pytest.raises(ValueError):
        group.fold_points(lo, hi[:-1], s)


def test_mul_add_base_many_tables() -> None:
    """The fixed-base-table batch equals mul_add_base term by term (and the py_ecc reference)."""
    from por.crypto.group_coincurve import _TABLE_MIN

    rng = random.Random(11)
    a = rand_scalar() * G
    k = _TABLE_MIN + 3
    ss = [rng.randrange(N) for _ in range(k)]
    ts = [rng.randrange(1 << 64) for _ in range(k)]
    # edge cases: both zero (infinity), one zero, 1, N-1, a zero byte in the middle, s*a = -t*G
    ss[:6] = [0, 0, 5, 1, N - 1, 0x1200FF00AB]
    ts[:6] = [0, 7, 0, 1, N - 1, 0x0100000000000000]
    d = rng.randrange(1, 1 << 60)
    ss[6], ts[6], a2 = 1, d, (N - d) * G  # with base a2 below: s*a2 + t*G = O
    got = group.mul_add_base_many(ss, a, ts)
    assert got == [group.mul_add_base(s, a, t) for s, t in zip(ss, ts)]
    assert got[0].is_identity
    with use_backend("py_ecc"):
        assert group.mul_add_base_many(ss[:8], a, ts[:8]) == got[:8]
    inf = group.mul_add_base_many(ss, a2, ts)
    assert inf[6].is_identity and inf[7] == group.mul_add_base(ss[7], a2, ts[7])
    with pytest.raises(ValueError):
        group.mul_add_base_many(ss, a, ts[:-1])


def test_fixed_base_table_rows_built_by_two_threads() -> None:
    """Two threads extending one fresh table concurrently leave every row right (none skipped or doubled)."""
    import threading

    from por.crypto import group_table
    from por.crypto.group_coincurve import _cc_of
    from por.crypto.group_ffi import _new_pk

    base = rand_scalar() * G
    table = group_table._Table(_cc_of(base))
    threads = [threading.Thread(target=table.ensure, args=(rows,)) for rows in (12, 12, 6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert table.rows == 12
    for w, d in ((0, 1), (0, 2), (0, 255), (5, 1), (6, 77), (11, 255), (11, 128)):
        entry = Point._new(cc=_new_pk("secp256k1_pubkey *", table.arr[w * 255 + d - 1]))
        assert entry == (d << (8 * w)) * base, (w, d)
