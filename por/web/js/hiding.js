// por browser verifier: hiding mode (SPEC.md §14-§15, §17.16-§17.20) on secp256k1 with @noble/curves:
// strict point and scalar decoding, the §14.2 generators, the §14.3 transcript, the aggregated Bulletproofs
// range-proof verifier of §14.6 (one multiscalar multiplication, run in chunks so the page can show progress),
// committed nodes, openings and the collateral-value commitments of margin snapshots.
"use strict";

const { secp256k1 } = require("@noble/curves/secp256k1.js");
const { invert } = require("@noble/curves/abstract/modular.js");
const C = require("./common.js");
const { Invalid, cat, uint, lp, tag, H, bytesToBig, keysExactly, symbolMap, hex32 } = C;

const Point = secp256k1.ProjectivePoint;
const p = secp256k1.CURVE.p, q = secp256k1.CURVE.n;
const G = Point.BASE;
const mod = (a, m = q) => { const r = a % m; return r < 0n ? r + m : r; };
const tick = () => new Promise((r) => setTimeout(r, 0));

function powmod(b, e, m) {
  let r = 1n; b = mod(b, m);
  while (e > 0n) { if (e & 1n) r = (r * b) % m; b = (b * b) % m; e >>= 1n; }
  return r;
}

// ---- encodings (§14.1)
function encodePoint(pt) {
  if (pt.equals(Point.ZERO)) throw new Error("the point at infinity has no encoding");
  return pt.toRawBytes(true);
}
/** A 33-byte compressed point, decoded strictly (never infinity): {pt, bytes}; null if it does not decode. */
function decodePoint(bytes) {
  if (bytes.length !== 33 || (bytes[0] !== 2 && bytes[0] !== 3)) return null;
  const x = bytesToBig(bytes.subarray(1));
  if (x >= p) return null;
  const y2 = (x * x % p * x + 7n) % p;
  let y = powmod(y2, (p + 1n) / 4n, p);
  if ((y * y) % p !== y2) return null;
  if ((y & 1n) !== BigInt(bytes[0] & 1)) y = p - y;
  return { pt: Point.fromAffine({ x, y }), bytes: Uint8Array.from(bytes) };
}
function pointHex(s, f) {
  if (typeof s !== "string" || !/^[0-9a-f]{66}$/.test(s)) throw new Invalid(f, "must be 66 lowercase hex digits (a compressed point)");
  const d = decodePoint(C.unhexAny(s));
  if (!d) throw new Invalid(f, "not a point of secp256k1");
  return d;
}
const wrap = (pt) => ({ pt, bytes: encodePoint(pt) });

// ---- generators (§14.2)
const TAG_GEN = tag("gen");
const genPrefix = (label, index) => cat(TAG_GEN, lp(label), uint(index, 4));
/** hash_to_curve(label, index) by try-and-increment: one square root per try. */
function deriveGenerator(label, index) {
  const pre = genPrefix(label, index);
  for (let counter = 0; ; counter++) {
    const x = bytesToBig(H(cat(pre, uint(counter, 4))));
    if (x >= p) continue;
    const y2 = (x * x % p * x + 7n) % p, y = powmod(y2, (p + 1n) / 4n, p);
    if ((y * y) % p === y2) return { pt: Point.fromAffine({ x, y: y & 1n ? p - y : y }), counter };
  }
}
/** A generator from the page's table entry (counter byte ‖ y): x is re-derived from the hash, (x, y) checked on
 * the curve with y even. So it is hash-derived (no known discrete log); a wrong counter only makes proofs fail. */
function tableGenerator(label, index, entry) {
  const counter = parseInt(entry.slice(0, 2), 16), y = BigInt("0x" + entry.slice(2, 66));
  const x = bytesToBig(H(cat(genPrefix(label, index), uint(counter, 4))));
  if (x >= p || y >= p || (y & 1n) || (y * y) % p !== (x * x % p * x + 7n) % p)
    throw new Invalid("page generators", label + " " + index + " is not a hash-derived point of secp256k1");
  return Point.fromAffine({ x, y });
}

function generators(table) {
  const Hgen = table ? tableGenerator("pedersen/H", 0, table.H) : deriveGenerator("pedersen/H", 0).pt;
  const gs = [], hs = [];
  const ensure = (n) => {
    for (let i = gs.length; i < n; i++) {
      if (table && i < table.count) {
        gs.push(tableGenerator("bulletproofs/G", i, table.G.substr(66 * i, 66)));
        hs.push(tableGenerator("bulletproofs/H", i, table.Hv.substr(66 * i, 66)));
      } else {
        gs.push(deriveGenerator("bulletproofs/G", i).pt);
        hs.push(deriveGenerator("bulletproofs/H", i).pt);
      }
    }
  };
  return { H: Hgen, ensure, G: gs, Hv: hs };
}

// ---- transcript (§14.3)
class Transcript {
  constructor(label) { this.parts = [tag("transcript"), lp(label)]; }
  message(label, data) { this.parts.push(new Uint8Array([1]), lp(label), lp(data)); }
  u64(label, n) { this.message(label, uint(n, 8)); }
  scalar(label, s) { this.message(label, uint(s, 32)); }
  point(label, bytes) { this.message(label, bytes); }
  challenge(label) {
    this.parts.push(new Uint8Array([2]), lp(label));
    const T = cat(...this.parts);
    this.parts = [T];
    for (let j = 0; ; j++) {
      const c = bytesToBig(cat(H(cat(T, uint(2 * j, 4))), H(cat(T, uint(2 * j + 1, 4))))) % q;
      if (c !== 0n) return c;
    }
  }
}

// ---- range proofs (§14.4-§14.7)
const BITS = [8, 16, 32, 64, 128];
const log2 = (n) => n.toString(2).length - 1;
const nextPow2 = (m) => (m <= 1 ? 1 : 1 << (m - 1).toString(2).length);

/** Strict decoding (§14.7) with `rounds` inner-product rounds; Invalid naming `f` when malformed. */
function decodeRangeProof(hexText, rounds, f) {
  if (typeof hexText !== "string" || !/^([0-9a-f]{2})*$/.test(hexText)) throw new Invalid(f, "must be lowercase hex of even length");
  const b = C.unhexAny(hexText);
  if (b.length !== 292 + 66 * rounds)
    throw new Invalid(f, "is " + b.length + " bytes; a proof with " + rounds + " rounds is " + (292 + 66 * rounds) + " bytes");
  let o = 0;
  const pt = (name) => { const d = decodePoint(b.subarray(o, o + 33)); o += 33; if (!d) throw new Invalid(f, name + " is not a point of secp256k1"); return d; };
  const sc = (name) => { const v = bytesToBig(b.subarray(o, o + 32)); o += 32; if (v >= q) throw new Invalid(f, name + " is not a scalar below the group order"); return v; };
  const A = pt("A"), S = pt("S"), T1 = pt("T1"), T2 = pt("T2"), taux = sc("taux"), mu = sc("mu"), t = sc("t");
  const L = [], R = [];
  for (let r = 0; r < rounds; r++) { L.push(pt("L[" + r + "]")); R.push(pt("R[" + r + "]")); }
  const a = sc("a"), bb = sc("b");
  return { A, S, T1, T2, taux, mu, t, L, R, a, b: bb };
}

function randomScalar() {
  const buf = new Uint8Array(64);
  for (;;) {
    globalThis.crypto.getRandomValues(buf);
    const c = bytesToBig(buf) % q;
    if (c !== 0n) return c;
  }
}

async function msm(points, scalars, onChunk) {
  const CHUNK = 4096;
  let acc = Point.ZERO;
  for (let i = 0; i < points.length; i += CHUNK) {
    acc = acc.add(Point.msm(points.slice(i, i + CHUNK), scalars.slice(i, i + CHUNK)));
    if (onChunk) await onChunk(Math.min(1, (i + CHUNK) / points.length));
  }
  return acc;
}

/**
 * Verify an aggregated range proof (§14.6) over the points `V` (decoded, never infinity) under transcript `tr`
 * (its context already absorbed). Resolves to null when valid, else to the name of the failed check.
 */
async function verifyRangeProof(gens, tr, V, proof, n, progress) {
  const m = V.length, Mp = nextPow2(m), K = n * Mp, k = log2(K);
  if (proof.L.length !== k) return "wrong number of rounds";
  gens.ensure(K);
  tr.message("dom-sep", C.utf8("por/rangeproof/v1"));
  tr.u64("bits", n); tr.u64("m", m);
  for (const v of V) tr.point("V", v.bytes);
  tr.point("A", proof.A.bytes); tr.point("S", proof.S.bytes);
  const y = tr.challenge("y"), z = tr.challenge("z");
  tr.point("T1", proof.T1.bytes); tr.point("T2", proof.T2.bytes);
  const x = tr.challenge("x");
  tr.scalar("taux", proof.taux); tr.scalar("mu", proof.mu); tr.scalar("t", proof.t);
  const w = tr.challenge("w");
  const u = [];
  for (let r = 0; r < k; r++) { tr.point("L", proof.L[r].bytes); tr.point("R", proof.R[r].bytes); u.push(tr.challenge("u")); }
  tr.scalar("a", proof.a); tr.scalar("b", proof.b);

  const z2 = z * z % q, zj = [];
  let zp = z2;
  for (let j = 0; j < Mp; j++) { zj.push(zp); zp = zp * z % q; }
  const yinv = invert(y, q);
  let sumY = 0n, yp = 1n;
  for (let i = 0; i < K; i++) { sumY += yp; yp = yp * y % q; }
  const twoN1 = (1n << BigInt(n)) - 1n;
  let delta = mod((z - z2) * (sumY % q));
  for (let j = 0; j < Mp; j++) delta = mod(delta - zj[j] * z % q * twoN1);
  const uinv = u.map((x_) => invert(x_, q));
  const s = new Array(K);
  s[0] = uinv.reduce((acc, v) => acc * v % q, 1n);
  for (let i = 1; i < K; i++) { const l = log2(i); s[i] = s[i - (1 << l)] * u[k - 1 - l] % q * u[k - 1 - l] % q; }
  const c = randomScalar();
  const { a, b, t, taux, mu } = proof;
  const points = [], scalars = [];
  const add = (pt, sc) => { points.push(pt); scalars.push(mod(sc)); };
  add(proof.A.pt, 1n); add(proof.S.pt, x); add(proof.T1.pt, c * x); add(proof.T2.pt, c * x % q * x);
  add(gens.H, -mu - c * taux); add(G, w * mod(t - a * b) + c * mod(delta - t));
  V.forEach((v, j) => add(v.pt, c * zj[j]));
  for (let r = 0; r < k; r++) { const u2 = u[r] * u[r] % q; add(proof.L[r].pt, u2); add(proof.R[r].pt, invert(u2, q)); }
  let yi = 1n;
  const pow2 = [];
  for (let i = 0; i < n; i++) pow2.push(1n << BigInt(i));
  for (let i = 0; i < K; i++) {
    add(gens.G[i], -z - a * s[i]);
    add(gens.Hv[i], z + yi * mod(zj[Math.floor(i / n)] * pow2[i % n] - b * s[K - 1 - i]));
    yi = yi * yinv % q;
  }
  if (progress) progress(0);
  const sum = await msm(points, scalars, async (fr) => { if (progress) progress(fr); await tick(); });
  if (sum.equals(Point.ZERO)) return null;
  // which equation failed: (E1) alone
  const e1 = Point.msm([G, gens.H], [t, taux]);
  const rhs = Point.msm([...V.map((v) => v.pt), G, proof.T1.pt, proof.T2.pt], [...zj.slice(0, m), delta, x, x * x % q]);
  return e1.equals(rhs) ? "inner-product argument failed" : "polynomial check failed";
}

// ---- the mode's hooks for verify.js
const NO_DEBT_BLINDING = 1n;

function make(table, pageProgress) {
  const gens = generators(table);
  const Hgen = gens.H;
  const Hw = wrap(Hgen);
  const zeroDebt = [];  // (2^level mod q)·H
  const zeroDebtAt = (level) => { while (zeroDebt.length <= level) zeroDebt.push(encodePoint(Hgen.multiply(mod(1n << BigInt(zeroDebt.length))))); return zeroDebt[level]; };

  const names = (ctx, kind) => (ctx.margin ? ["equity_" + kind, "debt_" + kind] : [kind]);
  const vecOf = (ctx, obj, kind, parse, f) => {
    const out = [];
    for (const n of names(ctx, kind)) out.push(...symbolMap(obj[n], ctx.symbols, parse, f ? f + "." + n : n));
    return out;
  };

  function commitNode(l, r, where) {
    const v = l.v.map((a, i) => {
      const s = a.pt.add(r.v[i].pt);
      if (s.equals(Point.ZERO)) throw new Invalid(where, "a node commitment is the point at infinity");
      return wrap(s);
    });
    return { hash: H(cat(tag("node"), l.hash, C.commits(l.v.map((x) => x.bytes)), r.hash, C.commits(r.v.map((x) => x.bytes)))), v };
  }

  function parseNode(ctx, n, f) {
    keysExactly(n, ["hash", ...names(ctx, "commitments")], f);
    return { hash: hex32(n.hash, f + ".hash"), v: vecOf(ctx, n, "commitments", pointHex, f) };
  }

  const publishedVector = (ctx, pub) => vecOf(ctx, pub, "commitments", pointHex, "snapshot.json bucket " + pub.id);
  const topPad = (ctx) => new Array(ctx.nv).fill(Hw);

  function blinding(s, f) {
    const r = bytesToBig(hex32(s, f));
    if (r === 0n || r >= q) throw new Invalid(f, "must be a non-zero scalar below the group order");
    return r;
  }

  async function openLeaf(ctx, e, c, account, progress) {
    const r = vecOf(ctx, e, "blindings", blinding, c.f);
    const own = c.own.map((v, i) => {
      const pt = v === 0n ? Hgen.multiply(r[i]) : G.multiply(v).add(Hgen.multiply(r[i]));
      if (pt.equals(Point.ZERO)) throw new Invalid(c.where + ", blindings", "own commitment is the point at infinity");
      return wrap(pt);
    });
    if (ctx.margin && !ctx.allowDebt(c.bucket)) {
      if (r.slice(ctx.A).some((x) => x !== NO_DEBT_BLINDING))
        throw new Invalid(c.where + ", own leaf", "a bucket without allow_debt commits to zero debt with the public blinding 1; the own leaf's debt blindings differ");
      c.path.forEach((node, level) => {
        if (node.v.slice(ctx.A).some((x) => !C.eqBytes(x.bytes, zeroDebtAt(level))))
          throw new Invalid(c.where + ", path[" + level + "] (sibling at level " + level + ")",
            "a node of a bucket without allow_debt carries a debt commitment that is not the public commitment to zero 2^" + level + "*H");
      });
    }
    const leaf = H(cat(tag("leaf"), lp(ctx.meta.snapshot_id), lp(c.bucket), c.salt, lp(account), C.commits(own.map((x) => x.bytes))));
    return [{ hash: leaf, v: own }, 0];
  }

  function collateral(ctx, v) {  // C_V = sum f_eq*C_E + (q - f_debt)*C_D (§17.19); null for O
    const pts = [], sc = [];
    for (let a = 0; a < ctx.A; a++) {
      pts.push(v[a].pt, v[ctx.A + a].pt);
      sc.push(mod(ctx.params.fEq[a]), mod(q - mod(ctx.params.fDebt[a])));
    }
    const cv = Point.msm(pts, sc);
    return cv.equals(Point.ZERO) ? null : wrap(cv);
  }

  async function checkProof(ctx, c, e, key, protocol, bits, statement, hint, progress) {
    const f = c.f + "." + key, where = c.where + ", " + key;
    const rounds = log2(bits * nextPow2(statement.length));
    let proof;
    try { proof = decodeRangeProof(e[key], rounds, f); } catch (err) {
      throw new Invalid(where, "malformed range proof: " + (err.reason || err.message));
    }
    const tr = new Transcript(protocol);
    tr.message("snapshot-root", ctx.root);
    tr.message("bucket", C.utf8(c.bucket));
    tr.u64("index", c.index);
    const label = bits + "-bit range proof over " + statement.length + " commitments (" + (bits * nextPow2(statement.length)) * 2 + " generators)";
    const failed = await verifyRangeProof(gens, tr, statement, proof, bits, (fr) => progress(c.where + ": " + label, fr));
    if (failed) throw new Invalid(where, failed + " (" + hint + ")");
  }

  async function afterRoot(ctx, e, c, progress) {
    const statement = [...c.path.flatMap((n) => n.v), ...c.top.flatMap((n) => n.v), ...c.topVector];
    await checkProof(ctx, c, e, "range_proof", "inclusion-path", 64, statement,
      "a sibling or total on the path may be negative or ≥ 2^64", progress);
    const out = ["bucket " + c.bucket + ": range proof: all " + statement.length + " sibling and total " + (ctx.margin ? "equity and debt " : "")
      + "commitments on the path hold values in [0, 2^64)"];
    if (!ctx.margin) return out;
    const cst = [...c.path.map((n) => n.v), ...c.top.map((n) => n.v), c.topVector].map((v) => collateral(ctx, v)).filter((x) => x);
    if (typeof e.collateral_range_proof !== "string") throw new Invalid(c.f + ".collateral_range_proof", "must be a hex string");
    if (!cst.length) throw new Invalid(c.where + ", collateral_range_proof", "the snapshot total's collateral-value commitment is the point at infinity");
    await checkProof(ctx, c, e, "collateral_range_proof", "inclusion-collateral", 128, cst,
      "a sibling subtree or the total on the path may have a negative collateral value: undercollateralised accounts", progress);
    out.unshift("bucket " + c.bucket + ": own account's collateral value >= 0 (tiered haircuts)"
      + (ctx.allowDebt(c.bucket) ? "" : "; no debt anywhere on the path (bucket without allow_debt: every debt commitment is the public commitment to zero)"));
    out.push("bucket " + c.bucket + ": collateral range proof: the collateral value (base haircuts, snapshot prices) of each of the "
      + c.height + " siblings, the " + ctx.t + " top-tree siblings and the snapshot total is in [0, 2^128)");
    return out;
  }

  return { gens, commitNode, parseNode, publishedVector, topPad, openLeaf, afterRoot, pageProgress };
}

module.exports = { make, Transcript, decodePoint, encodePoint, deriveGenerator, tableGenerator, generators,
  decodeRangeProof, verifyRangeProof, Point, q, p, BITS };
