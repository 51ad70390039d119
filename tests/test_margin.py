"""Margin accounts (issue 8): config parsing, exact integer factors, tiers, the per-account rule,
requirements and canonical encodings. Every value is checked against exact ``Fraction`` arithmetic."""

from __future__ import annotations

import json
import re
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from por.core.config import Asset
from por.core.encoding import lp, tag, u8, u16
from por.core.errors import BadInput
from por.core.decimals import Dec, format_decimal, is_canonical_decimal, parse_decimal
from por.core.margin import (
    FACTOR_SUM_LIMIT,
    VALUE_LIMIT,
    MarginParams,
    Shortfall,
    account_shortfall,
    collateral_value,
    parse_allow_debt,
    parse_margin,
    requirement,
    split_amount,
    split_amounts,
    tiered_equity_value,
)

U64_MAX = 2**64 - 1
ASSETS = [("BTC", 8), ("ETH", 18), ("USDT", 6)]
PRICES = {"BTC": "97123.45", "ETH": "3500.12", "USDT": "1"}
BTC_TIERS = {"tiers": [{"up_to": "10", "haircut": "0.05"}, {"up_to": "100", "haircut": "0.1"}, {"haircut": "0.3"}]}
FLAGS = {"cross": True, "spot": None}


def params(prices: Any = None, collateral: Any = None, flags: Any = None, assets: Any = None) -> MarginParams:
    p = parse_margin(PRICES if prices is None else prices, collateral, FLAGS if flags is None else flags,
                     ASSETS if assets is None else assets, file="snapshot.toml")
    assert p is not None
    return p


# ---------------------------------------------------------------- exact references (tests only)

def ref_schedule(p: MarginParams, a: int) -> list[tuple[Fraction | None, Fraction]]:
    """(upper bound in minor units or None, haircut) per tier, from the canonical strings."""
    return [(None if t.up_to is None else Fraction(t.up_to.text) * 10 ** p.decimals[a], Fraction(t.haircut.text))
            for t in p.tiers[a]]


def ref_value(p: MarginParams, equity: list[int], debt: list[int], *, tiered: bool) -> Fraction:
    """sum_a price * (equity after haircut - debt) / 10^d, in quote units, by rational arithmetic."""
    total = Fraction(0)
    for a, (e, d) in enumerate(zip(equity, debt)):
        price = Fraction(p.prices[a].text)
        unit = price / 10 ** p.decimals[a]
        sched = ref_schedule(p, a)
        if tiered:
            lo = Fraction(0)
            for hi, h in sched:
                part = max(Fraction(0), (Fraction(e) if hi is None else min(Fraction(e), hi)) - lo)
                total += unit * part * (1 - h)
                if hi is None or e <= hi:
                    break
                lo = hi
        else:
            total += unit * e * (1 - sched[0][1])
        total -= unit * d
    return total


# ---------------------------------------------------------------- strategies

SYMBOLS = ["A", "B", "BTC", "ETH", "SOL", "USDC", "USDT", "x.1", "z-9"]


@st.composite
def configs(draw: st.DrawFn, max_assets: int = 4) -> tuple[list[tuple[str, int]], dict, dict, dict]:
    """Random (assets, prices_raw, collateral_raw, flags_raw); may or may not pass the factor bound."""
    n = draw(st.integers(1, max_assets))
    symbols = sorted(draw(st.sets(st.sampled_from(SYMBOLS), min_size=n, max_size=n)))
    top = draw(st.integers(0, 18))
    spread = draw(st.integers(0, 10))
    assets = [(s, draw(st.integers(max(0, top - spread), top))) for s in symbols]
    prices: dict[str, str] = {}
    collateral: dict[str, Any] = {}
    for s, d in assets:
        k = draw(st.integers(0, 8))
        units = draw(st.integers(1, 10 ** draw(st.integers(1, 12))))
        text = format_decimal(units, k)
        if "." in text and draw(st.booleans()):
            text += "0"  # non-canonical input is accepted from TOML and canonicalised
        prices[s] = text
        kind = draw(st.sampled_from(["none", "flat", "tiers"]))
        j = draw(st.integers(0, 6))
        if kind == "flat":
            collateral[s] = format_decimal(draw(st.integers(0, 10**j - 1)), j)
        elif kind == "tiers":
            m = draw(st.integers(1, 4))
            hs = sorted(draw(st.lists(st.integers(0, 10**j - 1), min_size=m, max_size=m)))
            bounds = sorted(draw(st.sets(st.integers(1, 10**12), min_size=m - 1, max_size=m - 1)))
            tiers = [{"up_to": format_decimal(b, d), "haircut": format_decimal(h, j)} for b, h in zip(bounds, hs)]
            tiers.append({"haircut": format_decimal(hs[-1], j)})
            collateral[s] = {"tiers": tiers}
    flags = {b: draw(st.sampled_from([None, True, False])) for b in draw(st.sets(st.sampled_from(["a", "b", "c"]),
                                                                                  min_size=1))}
    return assets, prices, collateral, flags


@st.composite
def good_params(draw: st.DrawFn, max_assets: int = 4) -> MarginParams:
    assets, prices, collateral, flags = draw(configs(max_assets))
    try:
        p = parse_margin(prices, collateral, flags, assets)
    except BadInput:
        assume(False)
        raise
    assert p is not None
    return p


def amounts(n: int) -> st.SearchStrategy[list[int]]:
    one = st.one_of(st.just(0), st.integers(0, 10**6), st.integers(0, 10**12), st.integers(0, U64_MAX))
    return st.lists(one, min_size=n, max_size=n)


# ---------------------------------------------------------------- parsing: good configs

def test_parse_example() -> None:
    p = params(collateral={"BTC": BTC_TIERS, "ETH": "0.1"})
    assert p.symbols == ("BTC", "ETH", "USDT") and p.decimals == (8, 18, 6)
    assert [x.text for x in p.prices] == ["97123.45", "3500.12", "1"]
    assert p.haircut_digits == 2 and p.scale == 18 + 2 + 2
    # f_debt = P * 10^(S - d - k); f_eq = P * 10^(S - d - k - j) * (10^j - h)
    assert p.f_debt == (9712345 * 10 ** (22 - 10), 350012 * 10 ** (22 - 20), 1 * 10 ** (22 - 6))
    assert p.f_eq == (9712345 * 10 ** 10 * 95, 350012 * 90, 10**16)
    assert p.tier_factors[0] == (9712345 * 10**10 * 95, 9712345 * 10**10 * 90, 9712345 * 10**10 * 70)
    assert p.tier_bounds == ((10 * 10**8, 100 * 10**8), (), ())
    assert p.allow_debt == (("cross", True), ("spot", False))
    assert p.bucket_allows_debt("cross") and not p.bucket_allows_debt("spot")
    with pytest.raises(KeyError):
        p.bucket_allows_debt("nope")
    assert sum(p.f_debt) < FACTOR_SUM_LIMIT


def test_defaults_and_canonicalisation() -> None:
    p = params(prices={"BTC": "97123.450", "ETH": "3500.1200", "USDT": "1.000"},
               collateral={"USDT": "0.10", "ETH": {"tiers": [{"haircut": "0.0"}]}})
    assert [x.text for x in p.prices] == ["97123.45", "3500.12", "1"]
    assert [x.digits for x in p.prices] == [2, 2, 0]
    assert [t[0].haircut.text for t in p.tiers] == ["0", "0", "0.1"]  # BTC unlisted -> "0"
    assert p.haircut_digits == 1
    # a single open-ended tier is the same schedule as a flat haircut
    assert params(collateral={"USDT": {"tiers": [{"haircut": "0.1"}]}}) == params(collateral={"USDT": "0.1"})


def test_accepts_config_assets_and_absent_prices() -> None:
    assets = [Asset(s, d) for s, d in ASSETS]
    assert params(assets=assets) == params()
    assert parse_margin(None, None, {"cross": None, "spot": False}, ASSETS) is None
    with pytest.raises(ValueError):  # programming error: not canonical order
        parse_margin(PRICES, None, FLAGS, list(reversed(ASSETS)))


def test_reordered_input_is_the_same_params() -> None:
    a = params(collateral={"BTC": BTC_TIERS, "ETH": "0.1"}, flags={"cross": True, "spot": False})
    b = params(prices=dict(reversed(list(PRICES.items()))), collateral={"ETH": "0.1", "BTC": BTC_TIERS},
               flags={"spot": False, "cross": True})
    assert a == b and a.root_bytes() == b.root_bytes()


# ---------------------------------------------------------------- parsing: every bad input names its field

BAD = [
    # (prices, collateral, flags, field, message fragment)
    ({**PRICES, "BTC": 97123.45}, None, None, "prices.BTC", "quoted decimal string"),
    ({**PRICES, "BTC": 5}, None, None, "prices.BTC", "quoted decimal string"),
    ({**PRICES, "BTC": True}, None, None, "prices.BTC", "quoted decimal string"),
    ({**PRICES, "BTC": "-1"}, None, None, "prices.BTC", "not a plain"),
    ({**PRICES, "BTC": "0"}, None, None, "prices.BTC", "greater than 0"),
    ({**PRICES, "BTC": "0.000"}, None, None, "prices.BTC", "greater than 0"),
    ({**PRICES, "BTC": "1.0000000000000000001"}, None, None, "prices.BTC", "19 fraction digits"),
    ({**PRICES, "BTC": "1e5"}, None, None, "prices.BTC", "not a plain"),
    ({**PRICES, "BTC": "01"}, None, None, "prices.BTC", "not a plain"),
    ({**PRICES, "BTC": "1."}, None, None, "prices.BTC", "not a plain"),
    ({**PRICES, "BTC": ".5"}, None, None, "prices.BTC", "not a plain"),
    ({**PRICES, "BTC": " 1"}, None, None, "prices.BTC", "not a plain"),
    ({**PRICES, "BTC": "1_000"}, None, None, "prices.BTC", "not a plain"),
    ({**PRICES, "BTC": "\u0661"}, None, None, "prices.BTC", "not a plain"),
    ({**PRICES, "BTC": "NaN"}, None, None, "prices.BTC", "not a plain"),
    ({**PRICES, "BTC": "1" * 21}, None, None, "prices.BTC", "too large"),
    ({k: v for k, v in PRICES.items() if k != "ETH"}, None, None, "prices.ETH", "missing price"),
    ({**PRICES, "DOGE": "0.1"}, None, None, "prices.DOGE", "unknown asset"),
    (["BTC"], None, None, "prices", "table"),
    (PRICES, {"BTC": "1"}, None, "collateral.BTC", "below 1"),
    (PRICES, {"BTC": "1.0"}, None, "collateral.BTC", "below 1"),
    (PRICES, {"BTC": "1.5"}, None, "collateral.BTC", "below 1"),
    (PRICES, {"BTC": "-0.1"}, None, "collateral.BTC", "not a plain"),
    (PRICES, {"BTC": 0.1}, None, "collateral.BTC", "quoted decimal string"),
    (PRICES, {"BTC": "0.1234567890123456789"}, None, "collateral.BTC", "fraction digits"),
    (PRICES, {"DOGE": "0.1"}, None, "collateral.DOGE", "unknown asset"),
    (PRICES, ["BTC"], None, "collateral", "table"),
    (PRICES, {"BTC": {"haircut": "0.1"}}, None, "collateral.BTC", "tiers"),
    (PRICES, {"BTC": {"tiers": []}}, None, "collateral.BTC.tiers", "non-empty"),
    (PRICES, {"BTC": {"tiers": [{"haircut": "0.1"}] * 33}}, None, "collateral.BTC.tiers", "at most 32"),
    (PRICES, {"BTC": {"tiers": ["0.1"]}}, None, "collateral.BTC.tiers[0]", "a tier is"),
    (PRICES, {"BTC": {"tiers": [{"up_to": "1", "haircut": "0.1", "x": 1}, {"haircut": "0.2"}]}}, None,
     "collateral.BTC.tiers[0]", "a tier is"),
    (PRICES, {"BTC": {"tiers": [{"up_to": "10", "haircut": "0.1"}, {"up_to": "10", "haircut": "0.2"},
                                {"haircut": "0.3"}]}}, None, "collateral.BTC.tiers[1].up_to", "strictly increasing"),
    (PRICES, {"BTC": {"tiers": [{"up_to": "10", "haircut": "0.1"}, {"up_to": "5", "haircut": "0.2"},
                                {"haircut": "0.3"}]}}, None, "collateral.BTC.tiers[1].up_to", "strictly increasing"),
    (PRICES, {"BTC": {"tiers": [{"up_to": "0", "haircut": "0.1"}, {"haircut": "0.2"}]}}, None,
     "collateral.BTC.tiers[0].up_to", "positive"),
    (PRICES, {"BTC": {"tiers": [{"up_to": "10", "haircut": "0.1"}, {"up_to": "20", "haircut": "0.2"}]}}, None,
     "collateral.BTC.tiers[1].up_to", "open-ended"),
    (PRICES, {"BTC": {"tiers": [{"haircut": "0.1"}, {"haircut": "0.2"}]}}, None,
     "collateral.BTC.tiers[0].up_to", "needs up_to"),
    (PRICES, {"BTC": {"tiers": [{"up_to": "10", "haircut": "0.2"}, {"haircut": "0.1"}]}}, None,
     "collateral.BTC.tiers[1].haircut", "must not decrease"),
    (PRICES, {"BTC": {"tiers": [{"up_to": "0.000000001", "haircut": "0.1"}, {"haircut": "0.2"}]}}, None,
     "collateral.BTC.tiers[0].up_to", "whole number of minor units"),
    (PRICES, {"BTC": {"tiers": [{"up_to": 10, "haircut": "0.1"}, {"haircut": "0.2"}]}}, None,
     "collateral.BTC.tiers[0].up_to", "quoted decimal string"),
    (PRICES, {"BTC": {"tiers": [{"up_to": "184467440737.09551616", "haircut": "0.1"}, {"haircut": "0.2"}]}}, None,
     "collateral.BTC.tiers[0].up_to", "2^64"),
    (PRICES, {"BTC": {"tiers": [{"up_to": "10", "haircut": "1"}, {"haircut": "1"}]}}, None,
     "collateral.BTC.tiers[0].haircut", "below 1"),
    (PRICES, None, {"cross": "yes"}, "buckets.cross.allow_debt", "true or false"),
    (PRICES, None, {"cross": 1}, "buckets.cross.allow_debt", "true or false"),
    (None, {"BTC": "0.1"}, {"cross": None}, "collateral", "needs [prices]"),
    (None, None, {"cross": True}, "buckets.cross.allow_debt", "needs [prices]"),
    # factor bound: BTC at 97123.45 with S = 22 + 1 (one more haircut digit) gives f_debt(BTC) > 2^64
    (PRICES, {"USDT": "0.025"}, None, "prices.BTC", "factors too large"),
]


@pytest.mark.parametrize(("prices", "collateral", "flags", "field", "fragment"), BAD)
def test_bad_input_names_the_field(prices: Any, collateral: Any, flags: Any, field: str, fragment: str) -> None:
    with pytest.raises(BadInput) as exc:
        parse_margin(prices, collateral, FLAGS if flags is None else flags, ASSETS, file="snapshot.toml")
    assert exc.value.field == field
    assert exc.value.file == "snapshot.toml"
    assert fragment in exc.value.reason
    assert exc.value.exit_code == 2


# ---------------------------------------------------------------- the factor bound, exactly at the edge

def test_factor_bound_edge_single_asset() -> None:
    ok = parse_margin({"X": str(U64_MAX)}, None, {"b": None}, [("X", 0)])
    assert ok is not None and ok.scale == 0 and ok.f_debt == (U64_MAX,) == ok.f_eq
    with pytest.raises(BadInput) as exc:
        parse_margin({"X": str(2**64)}, None, {"b": None}, [("X", 0)])
    assert exc.value.field == "prices.X"


def test_factor_bound_is_on_the_sum() -> None:
    assets = [("X", 0), ("Y", 0)]
    ok = parse_margin({"X": str(2**63), "Y": str(2**63 - 1)}, None, {"b": None}, assets)
    assert ok is not None and sum(ok.f_debt) == U64_MAX
    with pytest.raises(BadInput) as exc:
        parse_margin({"X": str(2**63), "Y": str(2**63)}, None, {"b": None}, assets)
    assert exc.value.field in ("prices.X", "prices.Y")


def test_values_stay_below_2_128_at_the_bound() -> None:
    price = str(2**63 // 10)  # one haircut digit makes S = 1, so f_debt = 10 * price for both assets
    p = parse_margin({"X": price, "Y": price}, {"X": "0.5"}, {"b": True}, [("X", 0), ("Y", 0)])
    assert p is not None and p.scale == 1 and 2**64 - 100 < sum(p.f_debt) < 2**64
    top = collateral_value([U64_MAX, U64_MAX], [0, 0], p)
    bottom = collateral_value([0, 0], [U64_MAX, U64_MAX], p)
    assert bottom == -sum(p.f_debt) * U64_MAX and top == sum(p.f_eq) * U64_MAX
    assert -VALUE_LIMIT < bottom < top < VALUE_LIMIT and -bottom > (U64_MAX - 100) * U64_MAX


@settings(max_examples=300, deadline=None)
@given(configs())
def test_bound_rejects_exactly_when_the_factor_sum_reaches_2_64(cfg: tuple) -> None:
    assets, prices, collateral, flags = cfg
    scale = max(d + parse_decimal(prices[s], what="", field="", file="").digits for s, d in assets)
    haircuts: list[str] = []
    for c in collateral.values():
        haircuts += [c] if isinstance(c, str) else [t["haircut"] for t in c["tiers"]]
    scale += max([parse_decimal(h, what="", field="", file="").digits for h in haircuts], default=0)
    ref_sum = sum(Fraction(prices[s]) / 10**d * 10**scale for s, d in assets)
    assert ref_sum.denominator == 1
    if ref_sum >= 2**64:
        with pytest.raises(BadInput):
            parse_margin(prices, collateral, flags, assets)
    else:
        p = parse_margin(prices, collateral, flags, assets)
        assert p is not None and p.scale == scale and sum(p.f_debt) == ref_sum


# ---------------------------------------------------------------- factor exactness against Fraction

@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(st.data())
def test_factors_are_exact(data: st.DataObject) -> None:
    p = data.draw(good_params())
    for a in range(len(p.symbols)):
        price = Fraction(p.prices[a].text)
        h = Fraction(p.tiers[a][0].haircut.text)
        unit = data.draw(st.integers(0, U64_MAX))
        assert p.f_eq[a] * unit == price * unit / 10 ** p.decimals[a] * (1 - h) * 10**p.scale
        assert p.f_debt[a] * unit == price * unit / 10 ** p.decimals[a] * 10**p.scale
        assert 0 < p.f_eq[a] <= p.f_debt[a] < 2**64
        for g, t in zip(p.tier_factors[a], p.tiers[a]):
            assert g == price / 10 ** p.decimals[a] * (1 - Fraction(t.haircut.text)) * 10**p.scale
    e = data.draw(amounts(len(p.symbols)))
    d = data.draw(amounts(len(p.symbols)))
    for tiered in (False, True):
        v = collateral_value(e, d, p, tiered=tiered)
        assert v == ref_value(p, e, d, tiered=tiered) * 10**p.scale
        assert -VALUE_LIMIT < v < VALUE_LIMIT


# ---------------------------------------------------------------- rounding boundaries

def test_haircut_zero_values_equity_like_debt() -> None:
    p = params()
    assert p.f_eq == p.f_debt
    for a in range(3):
        e = [0, 0, 0]
        e[a] = U64_MAX
        assert collateral_value(e, e, p) == 0
        assert collateral_value(e, e, p, tiered=True) == 0


def test_haircut_just_under_one() -> None:
    p = parse_margin({"X": "1"}, {"X": "0.999999999999999999"}, {"b": True}, [("X", 0)])
    assert p is not None and p.scale == 18 and p.f_debt == (10**18,) and p.f_eq == (1,)
    # 10^18 units of equity are worth exactly 1 unit of debt
    assert account_shortfall([10**18], [1], p) is None
    assert collateral_value([10**18], [1], p) == 0
    s = account_shortfall([10**18 - 1], [1], p)
    assert s == Shortfall(1, 18) and s.text == "0.000000000000000001" == str(s)


def test_one_minor_unit_of_debt() -> None:
    p = params()
    assert account_shortfall([0, 0, 0], [1, 0, 0], p) == Shortfall(9712345 * 10**10, 20)
    assert account_shortfall([0, 0, 0], [1, 0, 0], p).text == "0.0009712345"  # one satoshi at 97123.45
    assert account_shortfall([0, 0, 0], [0, 1, 0], p).text == "0.00000000000000350012"  # one wei
    assert account_shortfall([0, 0, 0], [0, 0, 1], p).text == "0.000001"


def test_max_amounts() -> None:
    p = params(collateral={"BTC": BTC_TIERS})
    e = [U64_MAX] * 3
    assert collateral_value(e, [0, 0, 0], p) == sum(f * U64_MAX for f in p.f_eq)
    assert collateral_value([0, 0, 0], e, p) == -sum(f * U64_MAX for f in p.f_debt)
    assert collateral_value(e, [0, 0, 0], p, tiered=True) == ref_value(p, e, [0, 0, 0], tiered=True) * 10**p.scale
    for bad in ([2**64, 0, 0], [-1, 0, 0], [0, 0], [True, 0, 0], [0.0, 0, 0]):
        with pytest.raises((ValueError, TypeError)):
            collateral_value(bad, [0, 0, 0], p)
        with pytest.raises((ValueError, TypeError)):
            collateral_value([0, 0, 0], bad, p)


# ---------------------------------------------------------------- the per-account rule

def test_rule_exactly_at_the_boundary_no_haircut() -> None:
    p = params()
    one_btc = 10**8
    usdt = 97_123_450_000  # 97123.45 USDT in minor units: exactly one BTC of debt
    assert collateral_value([0, 0, usdt], [one_btc, 0, 0], p) == 0
    assert account_shortfall([0, 0, usdt], [one_btc, 0, 0], p) is None
    s = account_shortfall([0, 0, usdt - 1], [one_btc, 0, 0], p)
    assert s is not None and s.text == "0.000001" and s.amount == p.f_eq[2]


def test_rule_exactly_at_the_boundary_with_haircut() -> None:
    p = params(collateral={"BTC": "0.05"})
    debt = 92_267_277_500  # 1 BTC * 97123.45 * 0.95 = 92267.2775 USDT
    assert account_shortfall([10**8, 0, 0], [0, 0, debt], p) is None
    assert collateral_value([10**8, 0, 0], [0, 0, debt], p) == 0
    s = account_shortfall([10**8, 0, 0], [0, 0, debt + 1], p)
    assert s is not None and s.text == "0.000001"


def test_debt_only_account_is_rejected() -> None:
    p = params()
    s = account_shortfall([0, 0, 0], [0, 0, 5_000_000], p)
    assert s is not None and s.text == "5"
    assert account_shortfall([0, 0, 0], [0, 0, 0], p) is None  # the empty account passes


def test_tiers_known_example() -> None:
    p = params(collateral={"BTC": BTC_TIERS})
    btc = 10**8
    # 150 BTC: 10 at 0.95 + 90 at 0.9 + 50 at 0.7 = 125.5 BTC of collateral
    assert collateral_value([150 * btc, 0, 0], [0, 0, 0], p, tiered=True) == 125 * btc * p.f_debt[0] + btc // 2 * p.f_debt[0]
    assert tiered_equity_value(p, 0, 150 * btc) * 2 == 251 * btc * p.f_debt[0]
    # exactly on a boundary only the lower brackets count
    assert tiered_equity_value(p, 0, 10 * btc) == 10 * btc * p.tier_factors[0][0]
    assert tiered_equity_value(p, 0, 10 * btc + 1) == 10 * btc * p.tier_factors[0][0] + p.tier_factors[0][1]
    # the tiered rule is stricter: this account passes on the base haircut and fails with tiers
    debt = 150 * 97_123_450_000 * 95 // 100  # 150 BTC * price * 0.95 in USDT minor units (exact)
    assert account_shortfall([150 * btc, 0, 0], [0, 0, debt], p, tiered=False) is None
    s = account_shortfall([150 * btc, 0, 0], [0, 0, debt], p)
    assert s is not None and Fraction(s.text) == Fraction("97123.45") * (Fraction(150 * 95, 100) - Fraction(251, 2))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(st.data())
def test_base_value_bounds_tiered_value(data: st.DataObject) -> None:
    p = data.draw(good_params())
    e = data.draw(amounts(len(p.symbols)))
    d = data.draw(amounts(len(p.symbols)))
    base = collateral_value(e, d, p)
    tiered = collateral_value(e, d, p, tiered=True)
    assert base >= tiered
    if account_shortfall(e, d, p) is None:  # passing the per-account rule implies the in-tree base check
        assert account_shortfall(e, d, p, tiered=False) is None


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(st.data())
def test_passing_accounts_are_solvent_and_requirements(data: st.DataObject) -> None:
    p = data.draw(good_params(max_assets=3))
    n = len(p.symbols)
    accounts = data.draw(st.lists(st.tuples(amounts(n), st.one_of(st.just([0] * n), amounts(n))),
                                  min_size=1, max_size=8))
    passing = [(e, d) for e, d in accounts if account_shortfall(e, d, p) is None]
    unhaircut = sum(Fraction(p.prices[a].text) * (e[a] - d[a]) / 10 ** p.decimals[a]
                    for e, d in passing for a in range(n))
    assert unhaircut >= 0
    # linearity: the value of a node is the sum of its leaves' base values, and it is >= 0
    assert sum(collateral_value(e, d, p) for e, d in passing) >= 0
    e_tot = [sum(e[a] for e, _ in passing) for a in range(n)]
    d_tot = [sum(d[a] for _, d in passing) for a in range(n)]
    if all(x < 2**64 for x in e_tot + d_tot):
        assert collateral_value(e_tot, d_tot, p) == sum(collateral_value(e, d, p) for e, d in passing)
        assert requirement(e_tot, d_tot) == tuple(max(x - y, 0) for x, y in zip(e_tot, d_tot))


def test_requirement() -> None:
    assert requirement([5, 0, 7], [3, 4, 7]) == (2, 0, 0)
    assert requirement([], []) == ()
    with pytest.raises(ValueError):
        requirement([1], [1, 2])
    with pytest.raises(ValueError):
        requirement([2**64], [0])


def test_split_signed_amounts() -> None:
    assert split_amount(5) == (5, 0) and split_amount(-5) == (0, 5) and split_amount(0) == (0, 0)
    assert split_amount(U64_MAX) == (U64_MAX, 0) and split_amount(-U64_MAX) == (0, U64_MAX)
    for bad in (2**64, -(2**64)):
        with pytest.raises(ValueError):
            split_amount(bad)
    with pytest.raises(ValueError):
        split_amount(True)
    with pytest.raises(TypeError):
        split_amount(1.0)  # type: ignore[arg-type]
    assert split_amounts([3, -2, 0]) == ((3, 0, 0), (0, 2, 0))


def test_parse_allow_debt() -> None:
    assert parse_allow_debt(None, bucket_id="b") is False
    assert parse_allow_debt(True, bucket_id="b") is True
    assert parse_allow_debt(False, bucket_id="b") is False
    for bad in ("true", 1, 0):
        with pytest.raises(BadInput) as exc:
            parse_allow_debt(bad, bucket_id="b", file="f.toml")
        assert exc.value.field == "buckets.b.allow_debt" and exc.value.file == "f.toml"


# ---------------------------------------------------------------- canonical decimals

@pytest.mark.parametrize(("units", "digits", "text"), [
    (0, 0, "0"), (0, 5, "0"), (10, 1, "1"), (123, 2, "1.23"), (1, 18, "0.000000000000000001"),
    (1200, 3, "1.2"), (-5, 1, "-0.5"), (U64_MAX, 0, "18446744073709551615"),
])
def test_format_decimal(units: int, digits: int, text: str) -> None:
    assert format_decimal(units, digits) == text


@pytest.mark.parametrize(("text", "ok"), [
    ("0", True), ("1", True), ("1.5", True), ("0.000000000000000001", True), ("10", True),
    ("1.50", False), ("01", False), ("0.0", False), ("1.", False), (".5", False), ("-1", False), ("", False),
    ("0.0000000000000000001", False), ("+1", False), ("1e3", False),
])
def test_is_canonical_decimal(text: str, ok: bool) -> None:
    assert is_canonical_decimal(text) is ok


@given(st.integers(0, 10**30), st.integers(0, 18))
def test_decimal_round_trip(units: int, digits: int) -> None:
    text = format_decimal(units, digits)
    assert is_canonical_decimal(text) or len(text.split(".")[0]) > 20
    if len(text.split(".")[0]) <= 20:
        d = parse_decimal(text, what="x", field="f", file="c")
        assert d.text == text and Fraction(d.units, 10**d.digits) == Fraction(units, 10**digits)
        if len(text.partition(".")[2]) < 18:
            assert d == parse_decimal(text + ("0" if "." in text else ".0"), what="x", field="f", file="c")


def test_dec_scaled() -> None:
    assert Dec(15, 1).scaled(3) == 1500
    with pytest.raises(ValueError):
        Dec(15, 1).scaled(0)


# ---------------------------------------------------------------- to_dict / from_dict

def test_to_dict_shape() -> None:
    p = params(collateral={"BTC": BTC_TIERS})
    doc = p.to_dict()
    assert doc == {
        "scale": 22,
        "assets": [
            {"symbol": "BTC", "price": "97123.45",
             "tiers": [{"up_to": "10", "haircut": "0.05"}, {"up_to": "100", "haircut": "0.1"}, {"haircut": "0.3"}],
             "f_eq": str(p.f_eq[0]), "f_debt": str(p.f_debt[0])},
            {"symbol": "ETH", "price": "3500.12", "tiers": [{"haircut": "0"}], "f_eq": "35001200", "f_debt": "35001200"},
            {"symbol": "USDT", "price": "1", "tiers": [{"haircut": "0"}],
             "f_eq": "10000000000000000", "f_debt": "10000000000000000"},
        ],
        "buckets": [{"id": "cross", "allow_debt": True}, {"id": "spot", "allow_debt": False}],
    }
    text = json.dumps(doc, sort_keys=True)
    assert type(json.loads(text)["scale"]) is int
    assert MarginParams.from_dict(json.loads(text), ASSETS, ["cross", "spot"]) == p


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(st.data())
def test_dict_round_trip(data: st.DataObject) -> None:
    p = data.draw(good_params())
    doc = json.loads(json.dumps(p.to_dict(), sort_keys=True))
    assets = list(zip(p.symbols, p.decimals))
    buckets = [b for b, _ in p.allow_debt]
    back = MarginParams.from_dict(doc, assets, buckets)
    assert back == p and back.root_bytes() == p.root_bytes()


def _mutations() -> list[tuple[str, Any]]:
    def m(f: Any) -> Any:
        return f

    return [
        ("price with trailing zero", m(lambda d: d["assets"][0].__setitem__("price", "97123.450"))),
        ("price with leading zero", m(lambda d: d["assets"][2].__setitem__("price", "01"))),
        ("haircut not canonical", m(lambda d: d["assets"][0]["tiers"][0].__setitem__("haircut", "0.050"))),
        ("up_to not canonical", m(lambda d: d["assets"][0]["tiers"][0].__setitem__("up_to", "10.0"))),
        ("assets reordered", m(lambda d: d["assets"].reverse())),
        ("buckets reordered", m(lambda d: d["buckets"].reverse())),
        ("extra top key", m(lambda d: d.__setitem__("quote", "USD"))),
        ("missing top key", m(lambda d: d.pop("scale"))),
        ("extra asset key", m(lambda d: d["assets"][0].__setitem__("decimals", 8))),
        ("extra tier key", m(lambda d: d["assets"][1]["tiers"][0].__setitem__("up_to", None))),
        ("wrong f_eq", m(lambda d: d["assets"][0].__setitem__("f_eq", str(int(d["assets"][0]["f_eq"]) + 1)))),
        ("f_debt as number", m(lambda d: d["assets"][1].__setitem__("f_debt", 35001200))),
        ("wrong scale", m(lambda d: d.__setitem__("scale", 23))),
        ("scale as string", m(lambda d: d.__setitem__("scale", "22"))),
        ("allow_debt as 1", m(lambda d: d["buckets"][0].__setitem__("allow_debt", 1))),
        ("unknown bucket", m(lambda d: d["buckets"][1].__setitem__("id", "other"))),
        ("duplicate bucket", m(lambda d: d["buckets"].append({"id": "cross", "allow_debt": True}))),
        ("missing bucket", m(lambda d: d["buckets"].pop())),
        ("missing asset", m(lambda d: d["assets"].pop())),
        ("duplicate asset", m(lambda d: d["assets"].append(dict(d["assets"][0])))),
        ("assets not a list", m(lambda d: d.__setitem__("assets", 5))),
        ("asset not an object", m(lambda d: d["assets"].__setitem__(0, "BTC"))),
        ("tiers missing", m(lambda d: d["assets"][1].pop("tiers"))),
        ("last tier bounded", m(lambda d: d["assets"][0]["tiers"][2].__setitem__("up_to", "1000"))),
    ]


@pytest.mark.parametrize(("name", "mutate"), _mutations(), ids=[n for n, _ in _mutations()])
def test_from_dict_rejects_non_canonical(name: str, mutate: Any) -> None:
    p = params(collateral={"BTC": BTC_TIERS})
    doc = json.loads(json.dumps(p.to_dict()))
    mutate(doc)
    with pytest.raises(BadInput):
        MarginParams.from_dict(doc, ASSETS, ["cross", "spot"], file="snapshot.json")


def test_from_dict_rejects_non_object() -> None:
    for doc in (None, [], "x", {"scale": 1}):
        with pytest.raises(BadInput) as exc:
            MarginParams.from_dict(doc, ASSETS, ["cross"])
        assert exc.value.field == "margin"


# ---------------------------------------------------------------- root bytes

def test_root_bytes_layout() -> None:
    p = parse_margin({"X": "2.5", "Y": "1"},
                     {"X": {"tiers": [{"up_to": "10", "haircut": "0.1"}, {"haircut": "0.25"}]}},
                     {"b2": True, "b1": None}, [("X", 2), ("Y", 0)])
    assert p is not None
    expected = (tag("margin") + u16(2)
                + lp("X") + lp("2.5") + u16(2) + lp("10") + lp("0.1") + lp("") + lp("0.25")
                + lp("Y") + lp("1") + u16(1) + lp("") + lp("0")
                + u16(2) + lp("b1") + u8(0) + lp("b2") + u8(1))
    assert p.root_bytes() == expected
    assert expected[:17] == bytes.fromhex("0000000d") + b"por/v1/margin"


ROOT_VARIANTS: list[tuple[dict, dict, dict]] = [
    (PRICES, {"BTC": BTC_TIERS}, {"cross": True, "spot": False}),
    ({**PRICES, "BTC": "97123.46"}, {"BTC": BTC_TIERS}, {"cross": True, "spot": False}),
    ({**PRICES, "ETH": "3500.1"}, {"BTC": BTC_TIERS}, {"cross": True, "spot": False}),
    ({**PRICES, "USDT": "0.9999"}, {"BTC": BTC_TIERS}, {"cross": True, "spot": False}),
    (PRICES, {"BTC": BTC_TIERS, "USDT": "0.01"}, {"cross": True, "spot": False}),
    (PRICES, {"BTC": BTC_TIERS, "ETH": "0.01"}, {"cross": True, "spot": False}),
    (PRICES, {"BTC": "0.05"}, {"cross": True, "spot": False}),
    (PRICES, {"BTC": {"tiers": [{"up_to": "10", "haircut": "0.05"}, {"up_to": "101", "haircut": "0.1"},
                                {"haircut": "0.3"}]}}, {"cross": True, "spot": False}),
    (PRICES, {"BTC": {"tiers": [{"up_to": "10", "haircut": "0.05"}, {"up_to": "100", "haircut": "0.11"},
                                {"haircut": "0.3"}]}}, {"cross": True, "spot": False}),
    (PRICES, {"BTC": {"tiers": [{"up_to": "10", "haircut": "0.05"}, {"up_to": "100", "haircut": "0.1"},
                                {"haircut": "0.31"}]}}, {"cross": True, "spot": False}),
    (PRICES, {"BTC": {"tiers": [{"up_to": "10", "haircut": "0.05"}, {"haircut": "0.3"}]}},
     {"cross": True, "spot": False}),
    (PRICES, {"BTC": BTC_TIERS}, {"cross": False, "spot": False}),
    (PRICES, {"BTC": BTC_TIERS}, {"cross": True, "spot": True}),
    (PRICES, {"BTC": BTC_TIERS}, {"cross": True}),
]


def test_root_bytes_change_with_every_parameter() -> None:
    seen = {params(*v).root_bytes() for v in ROOT_VARIANTS}
    assert len(seen) == len(ROOT_VARIANTS)


def test_no_floats_in_the_module() -> None:
    import por.core.decimals
    import por.core.margin

    src = Path(por.core.margin.__file__).read_text() + Path(por.core.decimals.__file__).read_text()
    assert not re.search(r"\bfloat\(|\bimport decimal\b|\bfrom decimal\b|\bmath\.", src)
