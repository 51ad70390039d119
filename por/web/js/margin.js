// por browser verifier: margin values (SPEC.md §17.2-§17.8): canonical decimals, integer factors re-derived
// from the prices and haircuts, exact BigInt collateral values, the margin bytes bound into the root.
"use strict";

const { Invalid, cat, uint, lp, tag, keysExactly, isObject } = require("./common.js");

const DEC = /^(0|[1-9][0-9]*)(\.[0-9]*[1-9])?$/;

/** A canonical decimal string (§17.2) -> {int, k}: its value is int / 10^k. */
function decimal(s, f) {
  if (typeof s !== "string" || !DEC.test(s)) throw new Invalid(f, "not a canonical decimal");
  const [w, frac = ""] = s.split(".");
  return { int: BigInt(w + frac), k: frac.length };
}
const pow10 = (n) => 10n ** BigInt(n);

/** The margin parameters of canonical metadata, every derived integer re-derived and compared (§17.3, §17.6). */
function marginParams(meta, f = "snapshot.metadata.margin") {
  const m = meta.margin;
  keysExactly(m, ["scale", "assets", "buckets"], f);
  if (!Array.isArray(m.assets) || m.assets.length !== meta.assets.length) throw new Invalid(f + ".assets", "must list every asset once");
  if (!Array.isArray(m.buckets) || m.buckets.length !== meta.buckets.length) throw new Invalid(f + ".buckets", "must list every bucket once");
  const assets = m.assets.map((a, i) => {
    const fa = f + ".assets[" + i + "]";
    keysExactly(a, ["symbol", "price", "tiers", "f_eq", "f_debt"], fa);
    if (a.symbol !== meta.assets[i].symbol) throw new Invalid(fa + ".symbol", "not the metadata's asset " + meta.assets[i].symbol);
    const price = decimal(a.price, fa + ".price");
    if (price.int <= 0n) throw new Invalid(fa + ".price", "must be > 0");
    if (!Array.isArray(a.tiers) || a.tiers.length < 1 || a.tiers.length > 32) throw new Invalid(fa + ".tiers", "must be a list of 1 to 32 tiers");
    const tiers = a.tiers.map((t, j) => {
      const ft = fa + ".tiers[" + j + "]", last = j === a.tiers.length - 1;
      keysExactly(t, last ? ["haircut"] : ["up_to", "haircut"], ft);
      const h = decimal(t.haircut, ft + ".haircut");
      if (h.int >= pow10(h.k)) throw new Invalid(ft + ".haircut", "must be below 1");
      return { haircut: t.haircut, h, upTo: last ? "" : t.up_to, up: last ? null : decimal(t.up_to, ft + ".up_to") };
    });
    return { symbol: a.symbol, decimals: meta.assets[i].decimals, priceText: a.price, price, tiers, f_eq: a.f_eq, f_debt: a.f_debt };
  });
  const j = Math.max(0, ...assets.flatMap((a) => a.tiers.map((t) => t.h.k)));
  const S = Math.max(...assets.map((a) => a.decimals + a.price.k)) + j;
  if (m.scale !== S) throw new Invalid(f + ".scale", "is not the scale " + S + " derived from the prices and haircuts");
  const fEq = [], fDebt = [], g = [], bounds = [];
  assets.forEach((a, i) => {
    const fa = f + ".assets[" + i + "]", d = a.decimals, k = a.price.k;
    const gi = a.tiers.map((t) => a.price.int * pow10(S - d - k - j) * (pow10(j) - t.h.int * pow10(j - t.h.k)));
    const fd = a.price.int * pow10(S - d - k);
    let prevB = 0n, prevH = -1n;
    const bs = a.tiers.slice(0, -1).map((t, ti) => {
      if (t.up.k > d) throw new Invalid(fa + ".tiers[" + ti + "].up_to", "has more fraction digits than the asset's decimals");
      const B = t.up.int * pow10(d - t.up.k);
      if (B <= prevB || B >= 1n << 64n) throw new Invalid(fa + ".tiers[" + ti + "].up_to", "tier bounds must be > 0, increasing and below 2^64 minor units");
      prevB = B;
      return B;
    });
    a.tiers.forEach((t, ti) => {
      const hi = t.h.int * pow10(j - t.h.k);
      if (hi < prevH) throw new Invalid(fa + ".tiers[" + ti + "].haircut", "tier haircuts must not decrease");
      prevH = hi;
    });
    if (String(gi[0]) !== a.f_eq) throw new Invalid(fa + ".f_eq", "is not the factor " + gi[0] + " derived from price and haircut");
    if (String(fd) !== a.f_debt) throw new Invalid(fa + ".f_debt", "is not the factor " + fd + " derived from the price");
    fEq.push(gi[0]); fDebt.push(fd); g.push(gi); bounds.push(bs);
  });
  if (fDebt.reduce((s, x) => s + x, 0n) >= 1n << 64n) throw new Invalid(f, "the debt factors sum to 2^64 or more");
  const allow = {};
  m.buckets.forEach((b, i) => {
    const fb = f + ".buckets[" + i + "]";
    keysExactly(b, ["id", "allow_debt"], fb);
    if (b.id !== meta.buckets[i].id) throw new Invalid(fb + ".id", "not the metadata's bucket " + meta.buckets[i].id);
    if (typeof b.allow_debt !== "boolean") throw new Invalid(fb + ".allow_debt", "must be true or false");
    if (b.allow_debt && ["segregated", "custody"].includes(meta.buckets[i].kind))
      throw new Invalid(fb + ".allow_debt", "a " + meta.buckets[i].kind + " bucket cannot allow debt");
    allow[b.id] = b.allow_debt;
  });
  const bytes = cat(tag("margin"), uint(assets.length, 2),
    ...assets.map((a) => cat(lp(a.symbol), lp(a.priceText), uint(a.tiers.length, 2),
      ...a.tiers.map((t) => cat(lp(t.upTo), lp(t.haircut))))),
    uint(m.buckets.length, 2), ...m.buckets.map((b) => cat(lp(b.id), uint(b.allow_debt ? 1 : 0, 1))));
  return { scale: S, fEq, fDebt, g, bounds, allow, bytes, n: assets.length };
}

/** value_base(E, D) = sum f_eq*E - f_debt*D (§17.4), exact. */
function valueBase(p, v) {
  let s = 0n;
  for (let a = 0; a < p.n; a++) s += p.fEq[a] * v[a] - p.fDebt[a] * v[p.n + a];
  return s;
}
/** value_tiered(E, D): equity valued tier by tier (§17.4), exact. */
function valueTiered(p, v) {
  let s = 0n;
  for (let a = 0; a < p.n; a++) {
    const E = v[a], gs = p.g[a], bs = p.bounds[a];
    let lo = 0n;
    for (let i = 0; i < gs.length; i++) {
      const hi = i < bs.length ? bs[i] : null;
      const top = hi === null || E < hi ? E : hi;
      if (top > lo) s += gs[i] * (top - lo);
      if (hi === null || E <= hi) break;
      lo = hi;
    }
    s -= p.fDebt[a] * v[p.n + a];
  }
  return s;
}

module.exports = { decimal, marginParams, valueBase, valueTiered, isObject };
