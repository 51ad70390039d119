"""Margin accounts with debts: prices, haircuts, exact integer collateral factors (issue 8).

This module is the pure, exact-integer core of margin support. It parses the
``[prices]``, ``[collateral]`` and per-bucket ``allow_debt`` pieces of
``snapshot.toml`` (already decoded by :mod:`tomllib`), derives the integer
factors that value equity and debt in a common scale, applies the per-account
rule and produces the canonical bytes and JSON of the parameters. Nothing here
uses floating point: every decimal is parsed from its string into an integer
and a count of fraction digits, and every value is an exact Python ``int``.

Definitions (see the margin section of SPEC.md for the normative text):

* asset ``a`` has ledger decimals ``d_a``; its price ``P_a`` (quote units per
  *whole* unit) is given with ``k_a`` fraction digits, ``Pi_a = P_a * 10^k_a``;
* every haircut ``h`` (flat or per tier) is read at the common number of
  fraction digits ``j`` (the most any haircut uses), ``hi = h * 10^j``;
* the scale is ``S = max_a(d_a + k_a) + j``; values are integers in units of
  ``10^-S`` quote;
* ``f_eq[a]   = Pi_a * 10^(S - d_a - k_a - j) * (10^j - hi_a)`` (base haircut)
  and ``f_debt[a] = Pi_a * 10^(S - d_a - k_a)``: the exact value of one minor
  unit of equity after haircut, and of one minor unit of debt;
* ``value(E, D) = sum_a f_eq[a]*E_a - f_debt[a]*D_a`` (exact, may be negative).

Bound: ``sum_a f_debt[a] < 2^64`` is enforced. Since ``f_eq[a] <= f_debt[a]``
and every per-asset amount or node sum is ``< 2^64``, every value (of a leaf,
of a tree node, base or tiered) satisfies ``|value| <= (2^64 - 1)^2 < 2^128``.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from por.core.encoding import U64_LIMIT, lp, tag, u8, u16
from por.core.decimals import Dec, format_decimal, parse_decimal
from por.core.errors import BadInput

MAX_TIERS = 32
"""Most tiers of one asset's collateral schedule."""

FACTOR_SUM_LIMIT = 1 << 64
"""``sum_a f_debt[a]`` must be strictly below this, so every value is below 2^128 in absolute value."""

VALUE_LIMIT = 1 << 128
"""Every collateral value (leaf or node, base or tiered) is in ``(-VALUE_LIMIT, VALUE_LIMIT)``."""

TAG_MARGIN = tag("margin")

# ---------------------------------------------------------------- parameters

@dataclass(frozen=True)
class Tier:
    """One bracket of an asset's collateral schedule.

    ``up_to`` is the bracket's upper bound in whole asset units (``None`` for the
    open-ended last bracket); ``haircut`` applies to the part of the equity
    inside the bracket. A flat haircut is a schedule of one open-ended tier.
    """

    up_to: Dec | None
    haircut: Dec


@dataclass(frozen=True)
class MarginParams:
    """Validated margin parameters of one snapshot; build with :func:`parse_margin`.

    Per-asset tuples are in canonical asset order, ``allow_debt`` in canonical
    bucket order. Derived integers: ``scale`` (S), ``haircut_digits`` (j),
    ``f_eq`` and ``f_debt`` (one minor unit of equity after the base haircut /
    of debt, in 10^-S quote), ``tier_factors`` (the equity factor of each tier;
    the first equals ``f_eq``) and ``tier_bounds`` (bracket upper bounds in
    minor units, one fewer than tiers).
    """

    symbols: tuple[str, ...]
    decimals: tuple[int, ...]
    prices: tuple[Dec, ...]
    tiers: tuple[tuple[Tier, ...], ...]
    allow_debt: tuple[tuple[str, bool], ...]
    scale: int
    haircut_digits: int
    f_eq: tuple[int, ...]
    f_debt: tuple[int, ...]
    tier_factors: tuple[tuple[int, ...], ...]
    tier_bounds: tuple[tuple[int, ...], ...]

    def bucket_allows_debt(self, bucket_id: str) -> bool:
        """Whether accounts of ``bucket_id`` may hold debts (negative ledger amounts)."""
        for b, flag in self.allow_debt:
            if b == bucket_id:
                return flag
        raise KeyError(bucket_id)

    def format_value(self, value: int) -> str:
        """A value in 10^-S quote units as an exact decimal string in quote units."""
        return format_decimal(value, self.scale)

    def root_bytes(self) -> bytes:
        """Canonical bytes binding prices, haircut schedules and ``allow_debt`` flags into the root::

            TAG("margin") ‖ u16(#assets)
              ‖ { lp(symbol) ‖ lp(price) ‖ u16(#tiers) ‖ { lp(up_to) ‖ lp(haircut) } per tier } per asset
              ‖ u16(#buckets) ‖ { lp(bucket_id) ‖ u8(allow_debt) } per bucket

        Decimals are canonical strings; the open-ended last tier has ``up_to = ""``.
        """
        out = [TAG_MARGIN, u16(len(self.symbols))]
        for symbol, price, tiers in zip(self.symbols, self.prices, self.tiers):
            out += [lp(symbol), lp(price.text), u16(len(tiers))]
            for t in tiers:
                out += [lp("" if t.up_to is None else t.up_to.text), lp(t.haircut.text)]
        out.append(u16(len(self.allow_debt)))
        for bucket_id, flag in self.allow_debt:
            out += [lp(bucket_id), u8(1 if flag else 0)]
        return b"".join(out)

    def to_dict(self) -> dict[str, Any]:
        """Canonical JSON form for the snapshot metadata (derived integers included for readers)."""
        assets = []
        for i, symbol in enumerate(self.symbols):
            tiers: list[dict[str, str]] = []
            for t in self.tiers[i]:
                entry = {"haircut": t.haircut.text}
                if t.up_to is not None:
                    entry["up_to"] = t.up_to.text
                tiers.append(entry)
            assets.append({
                "symbol": symbol,
                "price": self.prices[i].text,
                "tiers": tiers,
                "f_eq": str(self.f_eq[i]),
                "f_debt": str(self.f_debt[i]),
            })
        return {
            "scale": self.scale,
            "assets": assets,
            "buckets": [{"id": b, "allow_debt": flag} for b, flag in self.allow_debt],
        }

    @classmethod
    def from_dict(
        cls,
        doc: Any,
        assets: Sequence[Any],
        bucket_ids: Sequence[str],
        *,
        file: str = "<snapshot>",
    ) -> "MarginParams":
        """Re-parse :meth:`to_dict` output; rejects anything that is not exactly the canonical form.

        ``assets`` are the metadata's ``(symbol, decimals)`` pairs and ``bucket_ids``
        its bucket ids, both in canonical order; the document must cover exactly these.
        """
        field = "margin"
        if not isinstance(doc, dict) or set(doc) != {"scale", "assets", "buckets"}:
            raise BadInput("margin must be an object with exactly scale, assets, buckets", file=file, field=field)
        try:
            prices: dict[str, Any] = {}
            collateral: dict[str, Any] = {}
            for entry in doc["assets"]:
                symbol = entry["symbol"]
                if not isinstance(symbol, str) or symbol in prices:
                    raise BadInput("malformed or duplicate asset in margin", file=file, field=field)
                prices[symbol] = entry["price"]
                collateral[symbol] = {"tiers": entry["tiers"]}
            flags: dict[str, Any] = {}
            for entry in doc["buckets"]:
                bucket_id = entry["id"]
                if not isinstance(bucket_id, str) or bucket_id in flags:
                    raise BadInput("malformed or duplicate bucket in margin", file=file, field=field)
                flags[bucket_id] = entry["allow_debt"]
        except (KeyError, TypeError) as exc:
            raise BadInput(f"malformed margin ({exc!r})", file=file, field=field) from None
        if set(flags) != set(bucket_ids):
            raise BadInput("margin buckets differ from the metadata's buckets", file=file, field=field)
        for bucket_id, value in flags.items():
            if not isinstance(value, bool):
                raise BadInput("allow_debt must be true or false", file=file, field=f"{field}.buckets")
        params = parse_margin(prices, collateral, flags, assets, file=file)
        assert params is not None
        if not _strict_equal(params.to_dict(), doc):
            raise BadInput("margin is not in canonical form (canonical decimals, canonical order, "
                           "matching derived factors, no extra fields)", file=file, field=field)
        return params


def _strict_equal(a: Any, b: Any) -> bool:
    """Equality that also requires equal types (so ``1`` is not ``true``)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_strict_equal(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_strict_equal(x, y) for x, y in zip(a, b))
    return bool(a == b)


# ---------------------------------------------------------------- parsing

def parse_allow_debt(value: object, *, bucket_id: str, file: str = "<config>") -> bool:
    """Interpret a bucket's ``allow_debt`` key: absent (``None``) is ``False``; otherwise a TOML boolean."""
    if value is None:
        return False
    if not isinstance(value, bool):
        raise BadInput("allow_debt must be true or false", file=file, field=f"buckets.{bucket_id}.allow_debt")
    return value


def _asset_pairs(assets: Sequence[Any]) -> list[tuple[str, int]]:
    pairs = []
    for a in assets:
        if hasattr(a, "symbol"):
            pairs.append((a.symbol, a.decimals))
        else:
            symbol, decimals = a
            pairs.append((symbol, decimals))
    keys = [s.encode("utf-8") for s, _ in pairs]
    if not pairs or keys != sorted(set(keys)):
        raise ValueError("assets must be non-empty, unique and in canonical order")
    return pairs


def _parse_tiers(raw: object, symbol: str, decimals: int, *, file: str) -> tuple[tuple[Tier, ...], tuple[int, ...]]:
    """One ``[collateral]`` entry -> (tiers, bracket upper bounds in minor units)."""
    field = f"collateral.{symbol}"
    if not isinstance(raw, dict):
        return (Tier(None, _parse_haircut(raw, field=field, file=file)),), ()
    if set(raw) != {"tiers"}:
        raise BadInput('a collateral entry is a haircut string like "0.05" or a table with only '
                       "tiers = [{up_to = \"...\", haircut = \"...\"}, ..., {haircut = \"...\"}]",
                       file=file, field=field)
    tiers_raw = raw["tiers"]
    field = f"{field}.tiers"
    if not isinstance(tiers_raw, list) or not tiers_raw:
        raise BadInput("tiers must be a non-empty list of tables", file=file, field=field)
    if len(tiers_raw) > MAX_TIERS:
        raise BadInput(f"at most {MAX_TIERS} tiers per asset", file=file, field=field)
    tiers: list[Tier] = []
    bounds: list[int] = []
    last_h: Dec | None = None
    for i, t in enumerate(tiers_raw):
        tfield = f"{field}[{i}]"
        is_last = i == len(tiers_raw) - 1
        if not isinstance(t, dict) or "haircut" not in t or set(t) - {"up_to", "haircut"}:
            raise BadInput("a tier is a table with haircut and (except the last) up_to", file=file, field=tfield)
        haircut = _parse_haircut(t["haircut"], field=f"{tfield}.haircut", file=file)
        if last_h is not None and _lt(haircut, last_h):
            raise BadInput("tier haircuts must not decrease (a larger holding never gets a smaller haircut)",
                           file=file, field=f"{tfield}.haircut")
        last_h = haircut
        if is_last:
            if "up_to" in t:
                raise BadInput("the last tier must be open-ended (no up_to)", file=file, field=f"{tfield}.up_to")
            tiers.append(Tier(None, haircut))
            continue
        if "up_to" not in t:
            raise BadInput("every tier but the last needs up_to", file=file, field=f"{tfield}.up_to")
        up_to = parse_decimal(t["up_to"], what="up_to", field=f"{tfield}.up_to", file=file)
        if up_to.digits > decimals:
            raise BadInput(f"up_to {up_to.text} is not a whole number of minor units ({symbol} has {decimals} decimals)",
                           file=file, field=f"{tfield}.up_to")
        bound = up_to.scaled(decimals)
        if bound <= (bounds[-1] if bounds else 0):
            raise BadInput("tier boundaries must be positive and strictly increasing", file=file,
                           field=f"{tfield}.up_to")
        if bound >= U64_LIMIT:
            raise BadInput("tier boundary is not below 2^64 minor units", file=file, field=f"{tfield}.up_to")
        bounds.append(bound)
        tiers.append(Tier(up_to, haircut))
    return tuple(tiers), tuple(bounds)


def _parse_haircut(raw: object, *, field: str, file: str) -> Dec:
    h = parse_decimal(raw, what="haircut", field=field, file=file)
    if h.units >= 10**h.digits:
        raise BadInput(f"haircut {h.text} must be below 1 (1 would make the asset worthless as collateral)",
                       file=file, field=field)
    return h


def _lt(a: Dec, b: Dec) -> bool:
    n = max(a.digits, b.digits)
    return a.scaled(n) < b.scaled(n)


def parse_margin(
    prices_raw: Mapping[str, Any] | None,
    collateral_raw: Mapping[str, Any] | None,
    buckets_allow_debt: Mapping[str, Any],
    assets: Sequence[Any],
    *,
    file: str = "<config>",
) -> MarginParams | None:
    """Validate the decoded ``[prices]``, ``[collateral]`` and per-bucket ``allow_debt`` values.

    ``assets`` are ``(symbol, decimals)`` pairs (or :class:`por.core.config.Asset`) in
    canonical order. ``buckets_allow_debt`` maps every bucket id to its raw
    ``allow_debt`` value (``None`` when absent). Without ``[prices]`` margin is
    off and the result is ``None`` (then ``[collateral]`` and any
    ``allow_debt = true`` are errors). Every problem raises :class:`BadInput`
    naming the field.
    """
    pairs = _asset_pairs(assets)
    flags = [(b, parse_allow_debt(v, bucket_id=b, file=file))
             for b, v in sorted(buckets_allow_debt.items(), key=lambda kv: kv[0].encode("utf-8"))]
    if len(flags) > 0xFFFF:
        raise BadInput("too many buckets", file=file, field="buckets")
    if prices_raw is None:
        if collateral_raw is not None:
            raise BadInput("[collateral] needs [prices]", file=file, field="collateral")
        for b, flag in flags:
            if flag:
                raise BadInput("allow_debt = true needs [prices] (debts are valued at the snapshot prices)",
                               file=file, field=f"buckets.{b}.allow_debt")
        return None

    symbols = [s for s, _ in pairs]
    if not isinstance(prices_raw, Mapping):
        raise BadInput("[prices] must be a table of SYMBOL = \"price\"", file=file, field="prices")
    for s in prices_raw:
        if s not in symbols:
            raise BadInput(f"price for unknown asset {s!r}", file=file, field=f"prices.{s}")
    prices = []
    for s in symbols:
        if s not in prices_raw:
            raise BadInput(f"missing price of {s} (every asset needs one when [prices] is present)",
                           file=file, field=f"prices.{s}")
        p = parse_decimal(prices_raw[s], what="price", field=f"prices.{s}", file=file)
        if p.units == 0:
            raise BadInput("price must be greater than 0", file=file, field=f"prices.{s}")
        prices.append(p)

    if collateral_raw is None:
        collateral_raw = {}
    if not isinstance(collateral_raw, Mapping):
        raise BadInput("[collateral] must be a table", file=file, field="collateral")
    for s in collateral_raw:
        if s not in symbols:
            raise BadInput(f"collateral for unknown asset {s!r}", file=file, field=f"collateral.{s}")
    schedules: list[tuple[Tier, ...]] = []
    bounds: list[tuple[int, ...]] = []
    for s, d in pairs:
        if s in collateral_raw:
            tiers, b = _parse_tiers(collateral_raw[s], s, d, file=file)
        else:
            tiers, b = (Tier(None, Dec(0, 0)),), ()
        schedules.append(tiers)
        bounds.append(b)

    j = max(t.haircut.digits for tiers in schedules for t in tiers)
    scale = max(d + p.digits for (_, d), p in zip(pairs, prices)) + j
    f_debt = []
    tier_factors = []
    for (s, d), p, tiers in zip(pairs, prices, schedules):
        f_debt.append(p.units * 10 ** (scale - d - p.digits))
        unit = p.units * 10 ** (scale - d - p.digits - j)
        tier_factors.append(tuple(unit * (10**j - t.haircut.scaled(j)) for t in tiers))
    total = sum(f_debt)
    if total >= FACTOR_SUM_LIMIT:
        worst = max(range(len(pairs)), key=lambda i: f_debt[i])
        driver = max(range(len(pairs)), key=lambda i: pairs[i][1] + prices[i].digits)
        raise BadInput(
            f"integer factors too large: sum of f_debt = {total} is not below 2^64 "
            f"(scale S = {scale}: {pairs[driver][0]} has {pairs[driver][1]} decimals + {prices[driver].digits} "
            f"price digits, haircuts use {j} digits; largest factor is {pairs[worst][0]}'s). "
            "Use fewer fraction digits in prices or haircuts",
            file=file, field=f"prices.{pairs[worst][0]}")
    return MarginParams(
        symbols=tuple(symbols),
        decimals=tuple(d for _, d in pairs),
        prices=tuple(prices),
        tiers=tuple(schedules),
        allow_debt=tuple(flags),
        scale=scale,
        haircut_digits=j,
        f_eq=tuple(f[0] for f in tier_factors),
        f_debt=tuple(f_debt),
        tier_factors=tuple(tier_factors),
        tier_bounds=tuple(bounds),
    )


# ---------------------------------------------------------------- values and rules

def _vector(name: str, values: Sequence[Any], n: int) -> list[int]:
    if len(values) != n:
        raise ValueError(f"{name} has {len(values)} entries; expected {n}")
    out = []
    for v in values:
        if isinstance(v, bool):
            raise ValueError(f"{name} holds a boolean")
        v = operator.index(v)
        if not 0 <= v < U64_LIMIT:
            raise ValueError(f"{name} entry {v} is not in [0, 2^64)")
        out.append(v)
    return out


def tiered_equity_value(params: MarginParams, index: int, equity: int) -> int:
    """Value of ``equity`` minor units of asset ``index`` under its tiered schedule, in 10^-S quote.

    The equity is split into brackets ``[0, b1), [b1, b2), ... [b_last, inf)``
    (bounds in minor units) and each part is multiplied by its tier's factor.
    """
    factors = params.tier_factors[index]
    bounds = params.tier_bounds[index]
    value = 0
    lo = 0
    for i, g in enumerate(factors):
        hi = bounds[i] if i < len(bounds) else None
        if hi is None or equity <= hi:
            return value + g * (equity - lo)
        value += g * (hi - lo)
        lo = hi
    raise AssertionError("unreachable: the last tier is open-ended")


def collateral_value(
    equity: Sequence[int], debt: Sequence[int], params: MarginParams, *, tiered: bool = False
) -> int:
    """``sum_a eq_a - f_debt[a]*D_a`` in 10^-S quote units (exact; may be negative).

    ``eq_a`` is ``f_eq[a]*E_a`` (base haircut, the linear value used for tree
    nodes) or, with ``tiered=True``, the tiered value of ``E_a`` (the per-account
    rule). Entries are minor units in ``[0, 2^64)``, canonical asset order.
    """
    n = len(params.symbols)
    e = _vector("equity", equity, n)
    d = _vector("debt", debt, n)
    total = 0
    for a in range(n):
        total += tiered_equity_value(params, a, e[a]) if tiered else params.f_eq[a] * e[a]
        total -= params.f_debt[a] * d[a]
    return total


@dataclass(frozen=True)
class Shortfall:
    """How far an account is below the per-account rule: ``amount`` > 0 in 10^-``scale`` quote units."""

    amount: int
    scale: int

    @property
    def text(self) -> str:
        """The exact shortfall in quote units as a canonical decimal string."""
        return format_decimal(self.amount, self.scale)

    def __str__(self) -> str:
        return self.text


def account_shortfall(
    equity: Sequence[int], debt: Sequence[int], params: MarginParams, *, tiered: bool = True
) -> Shortfall | None:
    """The per-account rule: ``None`` when the (tiered) collateral value is ``>= 0``, else the shortfall.

    An account without debt always passes (every haircut is below 1).
    """
    value = collateral_value(equity, debt, params, tiered=tiered)
    return None if value >= 0 else Shortfall(-value, params.scale)


def requirement(equity_totals: Sequence[int], debt_totals: Sequence[int]) -> tuple[int, ...]:
    """Per-asset reserve requirement of a bucket: ``max(E_total - D_total, 0)`` for each asset."""
    if len(equity_totals) != len(debt_totals):
        raise ValueError("equity and debt totals differ in length")
    e = _vector("equity totals", equity_totals, len(equity_totals))
    d = _vector("debt totals", debt_totals, len(debt_totals))
    return tuple(max(x - y, 0) for x, y in zip(e, d))


def split_amount(amount: int) -> tuple[int, int]:
    """A signed minor-unit amount -> ``(equity, debt) = (max(x, 0), max(-x, 0))``; ``|x|`` must be < 2^64.

    Whether a negative amount is allowed at all (the bucket's ``allow_debt``) is the caller's check.
    """
    if isinstance(amount, bool):
        raise ValueError("amount is a boolean")
    amount = operator.index(amount)
    if not -U64_LIMIT < amount < U64_LIMIT:
        raise ValueError(f"amount {amount} is not below 2^64 in absolute value")
    return (amount, 0) if amount >= 0 else (0, -amount)


def split_amounts(amounts: Sequence[int]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Vector form of :func:`split_amount`: ``(equity vector, debt vector)``."""
    pairs = [split_amount(x) for x in amounts]
    return tuple(e for e, _ in pairs), tuple(d for _, d in pairs)
