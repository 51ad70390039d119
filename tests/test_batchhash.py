"""The batch hasher: the native module and its hashlib twin give the same bytes, and both refuse bad segments."""

from __future__ import annotations

import hashlib
import hmac

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from por.core import batchhash
from por.core.batchhash import Ragged, hash_rows_py

native = pytest.mark.skipif(batchhash._native_hash_rows is None, reason="native batch hasher not built")


@st.composite
def rows_and_segments(draw):
    n = draw(st.integers(0, 12))
    segs = []
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["const", "fixed", "ragged"]))
        if kind == "const":
            segs.append(draw(st.binary(max_size=80)))
        elif kind == "fixed":
            w = draw(st.integers(0, 70))
            segs.append((draw(st.binary(min_size=n * w, max_size=n * w)), w))
        else:
            segs.append(Ragged.of(draw(st.lists(st.binary(max_size=150), min_size=n, max_size=n))).segment)
    key = draw(st.one_of(st.none(), st.binary(max_size=64)))
    return n, segs, key


def _expected(n, segs, key):
    msgs = []
    for i in range(n):
        m = b""
        for s in segs:
            if not isinstance(s, tuple):
                m += s
            elif isinstance(s[1], int):
                m += bytes(s[0][i * s[1]:(i + 1) * s[1]])
            else:
                off = s[1]
                m += bytes(s[0][int(off[i]):int(off[i + 1])])
        msgs.append(m)
    if key is None:
        return b"".join(hashlib.sha256(m).digest() for m in msgs)
    return b"".join(hmac.digest(key, m, "sha256") for m in msgs)


@settings(max_examples=300, deadline=None)
@given(rows_and_segments())
def test_reference_is_sha256_and_hmac_of_the_rows(case):
    n, segs, key = case
    assert hash_rows_py(n, segs, key) == _expected(n, segs, key)


@native
@settings(max_examples=300, deadline=None)
@given(rows_and_segments())
def test_native_equals_reference(case):
    n, segs, key = case
    assert batchhash._native_hash_rows(n, segs, key) == hash_rows_py(n, segs, key)


@native
def test_native_takes_numpy_columns_and_multi_block_messages():
    rng = np.random.default_rng(7)
    n = 1000
    fixed = rng.integers(0, 256, (n, 37), dtype=np.uint8)
    values = rng.integers(0, 2**63, (n, 3), dtype=np.uint64).astype(">u8")
    blob, off = Ragged.of([bytes(rng.integers(0, 256, int(k), dtype=np.uint8)) for k in rng.integers(0, 300, n)]).segment
    segs = [b"t" * 100, (fixed, 37), (values, 24), (blob, off)]
    for key in (None, b"k" * 32, b"x" * 64, b""):
        assert batchhash._native_hash_rows(n, segs, key) == hash_rows_py(n, segs, key)


@pytest.mark.parametrize("impl", ["py", pytest.param("native", marks=native)])
@pytest.mark.parametrize("segs, n", [
    ([(b"abc", 2)], 2),                                       # fixed segment shorter than n * width
    ([(b"abcdef", np.array([0, 2], dtype=np.uint64))], 2),     # offsets not n + 1
    ([(b"abcdef", np.array([0, 4, 2], dtype=np.uint64))], 2),  # decreasing
    ([(b"abcdef", np.array([0, 2, 9], dtype=np.uint64))], 2),  # beyond the buffer
])
def test_bad_segments_are_refused(impl, segs, n):
    fn = hash_rows_py if impl == "py" else batchhash._native_hash_rows
    with pytest.raises(ValueError):
        fn(n, segs)


@pytest.mark.parametrize("impl", ["py", pytest.param("native", marks=native)])
def test_long_key_and_negative_n_are_refused(impl):
    fn = hash_rows_py if impl == "py" else batchhash._native_hash_rows
    with pytest.raises(ValueError):
        fn(1, [b"m"], b"k" * 65)
    with pytest.raises(ValueError):
        fn(-1, [])


def test_a_build_without_the_native_module_gives_the_same_bytes(tmp_path) -> None:
    """POR_NATIVE_HASH=0 (what a machine without a C compiler runs): the same snapshot and store, byte for byte."""
    import os
    import subprocess
    import sys

    from .conftest import EXAMPLES, SECRET, store_bytes

    secret = tmp_path / "secret.key"
    secret.write_text(SECRET.hex())
    secret.chmod(0o600)
    for name, flag in (("native", "1"), ("hashlib", "0")):
        subprocess.run([sys.executable, "-m", "por", "build", "--config", str(EXAMPLES / "snapshot.toml"), "--ledger",
                        str(EXAMPLES / "ledger.csv"), "--out", str(tmp_path / name), "--secret", str(secret),
                        "--height", "13", "--json"], check=True, capture_output=True,
                       env={**os.environ, "POR_NATIVE_HASH": flag})
    assert (tmp_path / "native/snapshot.json").read_bytes() == (tmp_path / "hashlib/snapshot.json").read_bytes()
    assert store_bytes(tmp_path / "native/store.sqlite") == store_bytes(tmp_path / "hashlib/store.sqlite")
