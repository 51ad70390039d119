"""Segregation rules: one bucket per address, proprietary never counted, coverage per bucket x asset."""

from __future__ import annotations

from pathlib import Path

from por.reserves.segregation import Holding, check_segregation, duplicate_entries
from por.snapshot import load_snapshot


def _snap(built: Path):
    return load_snapshot(built / "snapshot.json")


def _full_cover(snap, extra=()):
    hs = []
    for b in snap.buckets:
        for i, a in enumerate(snap.config.assets):
            hs.append(Holding("ethereum", f"0x{b.id.encode().hex():0>40}"[:42], b.id, a.symbol, b.totals[i],
                              f"src-{a.symbol}"))
    return hs + list(extra)


def test_covered_and_segregated(built: Path) -> None:
    snap = _snap(built)
    r = check_segregation(snap, _full_cover(snap))
    assert r.ok and r.segregated and r.solvent
    cov = {(c.bucket, c.asset): c for c in r.coverage}
    assert cov[("cross", "BTC")].ratio() == "100.00%"
    assert cov[("isolated", "ETH")].ratio() == "n/a (no liabilities)"


def test_insolvent_bucket(built: Path) -> None:
    snap = _snap(built)
    hs = [h for h in _full_cover(snap) if not (h.bucket == "fund-7" and h.asset == "BTC")]
    hs.append(Holding("bitcoin", "bc1qexample", "fund-7", "BTC", snap.bucket("fund-7").totals[0] - 1, "utxo"))
    r = check_segregation(snap, hs)
    assert r.segregated and not r.solvent and not r.ok
    bad = [c for c in r.coverage if c.covered is False]
    assert [(c.bucket, c.asset) for c in bad] == [("fund-7", "BTC")]
    assert bad[0].ratio() == "99.99%"  # rounded down, never up


def test_address_counted_for_two_buckets(built: Path) -> None:
    snap = _snap(built)
    hs = _full_cover(snap)
    twin = hs[0]
    hs.append(Holding(twin.chain, twin.address.upper().replace("0X", "0x"), "fund-7", "BTC", 5, "other"))
    r = check_segregation(snap, hs)
    assert not r.segregated and "both 'cross' and 'fund-7'" in r.problems[0]


def test_same_asset_counted_twice(built: Path) -> None:
    snap = _snap(built)
    hs = _full_cover(snap)
    hs.append(hs[0])
    r = check_segregation(snap, hs)
    assert not r.segregated and "counted twice" in r.problems[0]


def test_proprietary_reported_never_counted(built: Path) -> None:
    snap = _snap(built)
    hs = [h for h in _full_cover(snap) if not (h.bucket == "cross" and h.asset == "USDT")]
    hs.append(Holding("ethereum", "0x" + "ab" * 20, "proprietary", "USDT", 10**15, "erc20"))
    r = check_segregation(snap, hs)
    assert r.proprietary == {"USDT": 10**15}
    assert not r.solvent  # the exchange's own USDT does not cover the cross bucket
    hs.append(Holding("ethereum", "0x" + "AB" * 20, "cross", "USDT", 10**15, "erc20"))
    r = check_segregation(snap, hs)
    assert not r.segregated and "proprietary" in r.problems[0]


def test_unknown_bucket_and_asset(built: Path) -> None:
    snap = _snap(built)
    r = check_segregation(snap, _full_cover(snap, [Holding("ethereum", "0x1", "nowhere", "BTC", 1),
                                                    Holding("ethereum", "0x2", "cross", "DOGE", 1)]))
    assert len(r.problems) == 2


def test_duplicate_entries() -> None:
    assert duplicate_entries([("ethereum", "0xAb"), ("ethereum", "0xab"), ("bitcoin", "1Ab"), ("bitcoin", "1ab")]) == ["ethereum:0xab"]
