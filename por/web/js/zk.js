// por browser verifier: zk mode (SPEC.md §16, §17.26): Poseidon (§16.2) from the embedded constants, the field
// reductions (§16.3), the batch path (§16.4), strict Groth16 documents (§16.6, points checked with @noble/curves'
// bn254, G2 in its subgroup), the verifying-key digest bound in the root (§16.7), and snarkjs' groth16.verify
// for the pairing check.
"use strict";

const { bn254 } = require("@noble/curves/bn254.js");
const C = require("./common.js");
const { Invalid, cat, uint, lp, tag, H, bytesToBig, keysExactly, symbolMap, amount } = C;

const P = 21888242871839275222246405745257275088548364400416034343698204186575808495617n;  // scalar field (§16.2)
const Q = 21888242871839275222246405745257275088696311157297823662689037894645226208583n;  // base field
const NUM = /^(0|[1-9][0-9]{0,77})$/;

function makePoseidon(doc) {
  const widths = {};
  for (const [t, w] of Object.entries(doc.widths)) {
    widths[t] = { C: w.C.map((x) => BigInt(x)), M: w.M.map((row) => row.map((x) => BigInt(x))), RP: doc.partial_rounds[t] };
  }
  return function poseidon(inputs) {
    const t = inputs.length + 1, w = widths[t];
    if (!w) throw new Error("no Poseidon constants for width " + t);
    for (const x of inputs) if (x < 0n || x >= P) throw new Error("Poseidon input not below p");
    let s = [0n, ...inputs];
    const RF = 8, R = RF + w.RP;
    for (let r = 0; r < R; r++) {
      for (let i = 0; i < t; i++) s[i] = (s[i] + w.C[r * t + i]) % P;
      const full = r < RF / 2 || r >= RF / 2 + w.RP;
      for (let i = 0; i < (full ? t : 1); i++) { const x2 = s[i] * s[i] % P; s[i] = x2 * x2 % P * s[i] % P; }
      const n = new Array(t);
      for (let i = 0; i < t; i++) { let acc = 0n; const row = w.M[i]; for (let j = 0; j < t; j++) acc += row[j] * s[j]; n[i] = acc % P; }
      s = n;
    }
    return s[0];
  };
}

const F = (d) => bytesToBig(d) >> 3n;  // §16.3

function field(s, f) {
  if (typeof s !== "string" || !NUM.test(s)) throw new Invalid(f, "not a canonical decimal field element");
  const v = BigInt(s);
  if (v >= P) throw new Invalid(f, "not below the BN254 scalar field order");
  return v;
}
function coord(s, f) {
  if (typeof s !== "string" || !NUM.test(s)) throw new Invalid(f, "not a canonical decimal number");
  const v = BigInt(s);
  if (v >= Q) throw new Invalid(f, "coordinate not below the BN254 base field order");
  return v;
}
function g1(v, f) {
  if (!Array.isArray(v) || v.length !== 3 || v[2] !== "1") throw new Invalid(f, "a G1 point is [x, y, \"1\"]");
  const x = coord(v[0], f + "[0]"), y = coord(v[1], f + "[1]");
  if ((y * y - (x * x % Q * x + 3n)) % Q !== 0n) throw new Invalid(f, "G1 point is not on the curve");
  return [x, y];
}
function g2(v, f) {
  if (!Array.isArray(v) || v.length !== 3 || !Array.isArray(v[2]) || v[2].length !== 2 || v[2][0] !== "1" || v[2][1] !== "0")
    throw new Invalid(f, "a G2 point is [[x0, x1], [y0, y1], [\"1\", \"0\"]]");
  const c = [0, 1].map((i) => {
    if (!Array.isArray(v[i]) || v[i].length !== 2) throw new Invalid(f + "[" + i + "]", "must be a pair");
    return [coord(v[i][0], f + "[" + i + "][0]"), coord(v[i][1], f + "[" + i + "][1]")];
  });
  const Fp2 = bn254.fields.Fp2;
  try {
    const pt = bn254.G2.ProjectivePoint.fromAffine({ x: Fp2.fromBigTuple(c[0]), y: Fp2.fromBigTuple(c[1]) });
    pt.assertValidity();
  } catch (e) {
    throw new Invalid(f, "G2 point is not on the twist or not in the order-r subgroup");
  }
  return [c[0][0], c[0][1], c[1][0], c[1][1]];
}

/** A Groth16 proof document (§16.6), parsed strictly; returns the document for snarkjs. */
function parseProof(o, f) {
  if (!C.isObject(o)) throw new Invalid(f, "must be an object");
  keysExactly(o, "curve" in o ? ["pi_a", "pi_b", "pi_c", "protocol", "curve"] : ["pi_a", "pi_b", "pi_c", "protocol"], f);
  if (o.protocol !== "groth16") throw new Invalid(f + ".protocol", "must be \"groth16\"");
  if ("curve" in o && o.curve !== "bn128") throw new Invalid(f + ".curve", "must be \"bn128\"");
  g1(o.pi_a, f + ".pi_a"); g2(o.pi_b, f + ".pi_b"); g1(o.pi_c, f + ".pi_c");
  return { pi_a: o.pi_a, pi_b: o.pi_b, pi_c: o.pi_c, protocol: "groth16", curve: "bn128" };
}

/** vk_digest (§16.7) of a verifying key, its points checked. */
function vkDigest(vk, f = "zk.verification_key") {
  if (!C.isObject(vk) || vk.protocol !== "groth16" || vk.curve !== "bn128") throw new Invalid(f, "not a groth16 bn128 verifying key");
  const n = C.integer(vk.nPublic, f + ".nPublic");
  if (!Array.isArray(vk.IC) || vk.IC.length !== n + 1) throw new Invalid(f + ".IC", "must hold nPublic + 1 points");
  const u = (x) => uint(x, 32);
  const pts = [g1(vk.vk_alpha_1, f + ".vk_alpha_1"), g2(vk.vk_beta_2, f + ".vk_beta_2"), g2(vk.vk_gamma_2, f + ".vk_gamma_2"),
    g2(vk.vk_delta_2, f + ".vk_delta_2"), ...vk.IC.map((p, i) => g1(p, f + ".IC[" + i + "]"))];
  if (C.canon(vk.vk_gamma_2) === C.canon(vk.vk_delta_2)) throw new Invalid(f, "vk_delta_2 equals vk_gamma_2 (no phase-2 setup: proofs are forgeable)");
  return H(cat(tag("zk-vkey"), uint(n, 2), ...pts.flatMap((c) => c.map(u))));
}

function make(poseidonDoc, snarkjs) {
  const poseidon = makePoseidon(poseidonDoc);
  const digests = new Map();

  async function rootExtension(snap) {
    const z = snap.zk;
    const vk = z.verification_key, A = snap.metadata.assets.length, want = 1 + (snap.metadata.margin ? 4 : 1) * A;
    if (vk.nPublic !== want) throw new Invalid("snapshot.zk.verification_key.nPublic", "must be " + want + " for this snapshot");
    const key = C.canon(vk);
    if (!digests.has(key)) digests.set(key, vkDigest(vk, "snapshot.zk.verification_key"));
    return cat(uint(z.batch_height, 1), digests.get(key));
  }

  async function openLeaf(ctx, e, c, account, progress) {
    const k = ctx.k, where = c.where, f = c.f + ".batch";
    if (BigInt(c.index) >> BigInt(c.height)) throw new Invalid(where, "leaf index " + c.index + " is outside a tree of height " + c.height);
    const obj = e.batch;
    const sumNames = ctx.margin ? ["equity", "debt"] : ["sums"];
    keysExactly(obj, ["path", "proof", ...sumNames], f);
    if (!Array.isArray(obj.path)) throw new Invalid(f + ".path", "must be a list");
    const path = obj.path.map((x, i) => field(x, f + ".path[" + i + "]"));
    const batchSums = [];
    for (const n of sumNames) batchSums.push(...symbolMap(obj[n], ctx.symbols, amount, f + "." + n));
    const proof = parseProof(obj.proof, f + ".proof");
    if (path.length !== k) throw new Invalid(where, "batch path has " + path.length + " siblings, the batch height is " + k);
    const sid = ctx.meta.snapshot_id;
    const acc = F(H(cat(tag("zk-account"), lp(sid), lp(c.bucket), lp(account))));
    const salt = F(H(cat(tag("zk-salt"), c.salt)));
    let node = poseidon([acc, salt, ...c.own]);
    const low = BigInt(c.index) & ((1n << BigInt(k)) - 1n);
    path.forEach((sib, l) => { node = (low >> BigInt(l)) & 1n ? poseidon([sib, node]) : poseidon([node, sib]); });
    const signals = [node, ...batchSums];
    if (ctx.margin) signals.push(...ctx.params.fEq, ...ctx.params.fDebt);
    progress(where + ": Groth16 pairing check of the batch proof", 0.5);
    await new Promise((r) => setTimeout(r, 0));
    let ok = false;
    try {
      ok = await snarkjs.groth16.verify(ctx.snap.zk.verification_key, signals.map(String), proof);
    } catch (err) {
      throw new Invalid(where + ", batch", "the Groth16 check could not run (" + (err && err.message) + ")");
    }
    if (!ok)
      throw new Invalid(where + ", batch", "Groth16 proof does not verify for [root, sums]; the leaf, batch path or batch sums were altered, or the proof is not for this batch"
        + (ctx.margin ? " and these prices and haircuts" : ""));
    const start = { hash: uint(node, 32), v: batchSums };
    if (ctx.margin) {
      const rule = ctx.nodeRule(ctx.allowDebt(c.bucket));
      rule(batchSums, where + ", batch (node at level " + k + ")");
    }
    return [start, k];
  }

  return { rootExtension, openLeaf, poseidon };
}

module.exports = { make, makePoseidon, vkDigest, parseProof, F, P };
