"""Primitives: the fast paths equal their reference definitions."""

from __future__ import annotations

import hmac
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from por.core import encoding as enc
from por.core.errors import BadInput
from por.core.keys import Prf, load_secret, write_secret
from por.tree.sumtree import default_height, top_height


@given(key=st.binary(min_size=0, max_size=64), msg=st.binary(max_size=300))
def test_prf_is_hmac_sha256(key: bytes, msg: bytes) -> None:
    assert Prf(key)(msg) == hmac.digest(key, msg, "sha256")


@settings(max_examples=30)
@given(n=st.integers(1, 40), assets=st.integers(1, 6), data=st.data())
def test_vectorised_level_equals_node_hash(n: int, assets: int, data) -> None:
    hashes = np.frombuffer(os.urandom(64 * n), dtype=np.uint8).reshape(2 * n, 32)
    vals = data.draw(st.lists(st.integers(0, 2**63), min_size=2 * n * assets, max_size=2 * n * assets))
    sums = np.array(vals, dtype=np.uint64).reshape(2 * n, assets)
    out = enc.node_hashes_level(hashes, sums)
    for i in range(n):
        ref = enc.node_hash(hashes[2 * i].tobytes(), [int(x) for x in sums[2 * i]],
                            hashes[2 * i + 1].tobytes(), [int(x) for x in sums[2 * i + 1]])
        assert out[i].tobytes() == ref


def test_encoding_rejects_out_of_range() -> None:
    with pytest.raises(ValueError):
        enc.u64(2**64)
    with pytest.raises(ValueError):
        enc.sums([-1])
    with pytest.raises(ValueError):
        enc.u8(256)
    assert enc.lp("é") == b"\x00\x00\x00\x02\xc3\xa9"
    assert enc.TAG_NODE == b"\x00\x00\x00\x0bpor/v1/node"


def test_heights() -> None:
    assert [default_height(n) for n in (0, 1, 2, 3, 4, 5, 1000)] == [1, 1, 2, 3, 3, 4, 11]
    assert all((1 << default_height(n)) >= 2 * n for n in range(1, 3000))
    assert [top_height(b) for b in (1, 2, 3, 4, 5)] == [0, 1, 2, 2, 3]


def test_secret_file_roundtrip_and_errors(tmp_path: Path) -> None:
    p = tmp_path / "s.key"
    write_secret(p, bytes(range(32)))
    assert oct(p.stat().st_mode & 0o777) == "0o600"
    assert load_secret(p) == bytes(range(32))
    for bad in (b"", b"00" * 31, b"zz" * 32, b"00" * 33, bytes(range(32))):
        p.write_bytes(bad)
        with pytest.raises(BadInput, match="64 hex digits"):
            load_secret(p)
    with pytest.raises(BadInput, match="cannot read"):
        load_secret(tmp_path / "missing")
