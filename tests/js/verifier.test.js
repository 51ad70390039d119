// node --test tests/js/: the browser verifier's JS (por/web/js/) over the SPEC vectors of tests/vectors/, every
// mode: genuine proofs verify, each tampering is rejected naming the entry, bucket and check.
"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");

const ROOT = path.resolve(__dirname, "..", "..");
const web = (m) => require(path.join(ROOT, "por", "web", "js", m));
const C = web("common.js"), V = web("verify.js"), HD = web("hiding.js"), ZK = web("zk.js"), M = web("margin.js");
const vec = (...p) => path.join(ROOT, "tests", "vectors", ...p);
const read = (...p) => JSON.parse(fs.readFileSync(vec(...p), "utf8"));
const clone = (o) => JSON.parse(JSON.stringify(o));
const poseidonDoc = JSON.parse(fs.readFileSync(path.join(ROOT, "por", "zk", "poseidon_constants.json"), "utf8"));

let hidingEnv = null;
const hiding = () => (hidingEnv = hidingEnv || { hiding: HD.make(null) });  // generators derived in full (§14.2)
let zkEnv = null;
const zk = () => (zkEnv = zkEnv || { zk: ZK.make(poseidonDoc, require("snarkjs")) });

test.after(async () => { if (globalThis.curve_bn128) await globalThis.curve_bn128.terminate(); });

const CASES = {
  "public v1": { dir: ["."], snap: "expected-snapshot.json", env: () => ({}) },
  "public v2 (margin)": { dir: ["margin"], snap: "expected-snapshot.json", env: () => ({}) },
  "hiding v1": { dir: ["hiding"], snap: "expected-snapshot.json", env: hiding },
  "hiding v2 (margin)": { dir: ["margin-hiding"], snap: "expected-snapshot.json", env: hiding },
  "zk v1": { dir: ["zk", "mode"], snap: "snapshot.json", env: zk },
  "zk v2 (margin)": { dir: ["margin-zk"], snap: "snapshot.json", env: zk },
};

async function rejects(doc, snap, env, pattern) {
  await assert.rejects(V.verifyProof(doc, snap, env), (err) => {
    assert.ok(err instanceof C.Invalid, "not an Invalid: " + err);
    assert.match(err.message, pattern);
    return true;
  });
}

for (const [name, c] of Object.entries(CASES)) {
  const snap = read(...c.dir, c.snap), proof = read(...c.dir, "proof-alice.json");
  const margin = !!snap.metadata.margin, A = snap.metadata.assets.length;

  test(name + ": the snapshot adds up and alice's proof verifies", async () => {
    await V.checkSnapshot(snap, c.env());
    const r = await V.verifyProof(proof, snap, c.env());
    assert.equal(r.account, "alice");
    assert.equal(r.entries.length, proof.entries.length);
    const e0 = proof.entries[0];
    if (margin) {
      assert.deepEqual(r.entries[0].equity, snap.metadata.assets.map((a) => BigInt(e0.equity[a.symbol])));
      assert.deepEqual(r.entries[0].net, snap.metadata.assets.map((a) => BigInt(e0.equity[a.symbol]) - BigInt(e0.debt[a.symbol])));
    } else {
      assert.deepEqual(r.entries[0].balances, snap.metadata.assets.map((a) => BigInt(e0.balances[a.symbol])));
    }
  });

  test(name + ": an altered balance is rejected", async () => {
    const bad = clone(proof), e = bad.entries[0], field = margin ? "equity" : "balances", s = snap.metadata.assets[0].symbol;
    e[field][s] = String(BigInt(e[field][s]) + 1n);
    const where = snap.mode === "hiding" ? /entry 0 \(bucket [^)]+\): leaf and path do not lead|entry 0 \(bucket [^)]+\)/
      : snap.mode === "zk" ? /entry 0 \(bucket [^)]+\), batch: Groth16 proof does not verify/ : /entry 0 \(bucket [^)]+\): leaf and path do not lead/;
    await rejects(bad, snap, c.env(), where);
  });

  test(name + ": an altered price in the proof's metadata is rejected", async () => {
    if (!margin) return;
    const bad = clone(proof);
    bad.snapshot.metadata.margin.assets[0].price = "97123.46";
    await rejects(bad, snap, c.env(), /proof\.snapshot\.metadata: proof metadata differs/);
  });

  test(name + ": a snapshot with an altered price does not add up", async () => {
    if (!margin) return;
    const bad = clone(snap);
    bad.metadata.margin.assets[1].price = "2";
    await assert.rejects(V.checkSnapshot(bad, c.env()), /f_eq|root/);
    bad.metadata.margin.assets[1].f_eq = "1980000"; bad.metadata.margin.assets[1].f_debt = "2000000";
    await assert.rejects(V.checkSnapshot(bad, c.env()), /does not add up/);
  });

  test(name + ": another root, an empty or duplicated entry list are rejected", async () => {
    const bad = clone(proof);
    bad.snapshot.root = "00".repeat(32);
    await rejects(bad, snap, c.env(), /proof\.snapshot\.root/);
    const none = clone(proof); none.entries = [];
    await rejects(none, snap, c.env(), /non-empty/);
    const twice = clone(proof); twice.entries.push(clone(twice.entries[0]));
    await rejects(twice, snap, c.env(), /appears twice/);
  });
}

test("public: an altered sibling sum is rejected naming the entry and bucket", async () => {
  const snap = read("expected-snapshot.json"), bad = read("proof-alice.json");
  bad.entries[1].path[0].sums.BTC = String(BigInt(bad.entries[1].path[0].sums.BTC) + 1n);
  await rejects(bad, snap, {}, /^entry 1 \(bucket seg-1\): leaf and path do not lead/);
});

test("margin: a net-negative sibling is caught at its level; debt in a bucket without allow_debt", async () => {
  const snap = read("margin", "expected-snapshot.json"), bad = read("margin", "proof-alice.json");
  bad.entries[0].path[1].debt.USDT = "999999999999";
  await rejects(bad, snap, {}, /entry 0 \(bucket main\), path\[1\] \(sibling at level 1\): collateral value is negative: -\d/);
  const p = M.marginParams(snap.metadata);
  assert.equal(M.valueTiered(p, [50000000n, 0n, 0n, 10000000000n]), 36133638750000000n);  // §17.19's example
  const v = read("margin", "vectors.json").margin;
  assert.equal(p.scale, v.scale);
  assert.equal(C.hex(p.bytes), v.root_bytes);
  assert.deepEqual(p.g.map((g) => g.map(String)), v.tier_factors);
  assert.deepEqual(p.bounds.map((b) => b.map(String)), v.tier_bounds);
  assert.deepEqual(p.fEq.map(String), v.f_eq);
});

test("hiding: a sibling commitment, one byte of the range proof, a blinding", async () => {
  const snap = read("hiding", "expected-snapshot.json"), proof = read("hiding", "proof-alice.json");
  const bad = clone(proof);
  bad.entries[0].path[0].commitments.BTC = snap.buckets[1].commitments.BTC;
  await rejects(bad, snap, hiding(), /^entry 0 \(bucket main\): leaf and path do not lead/);
  const rp = clone(proof), h = rp.entries[0].range_proof, at = 2 * 200;
  rp.entries[0].range_proof = h.slice(0, at) + ((parseInt(h.slice(at, at + 2), 16) ^ 1).toString(16).padStart(2, "0")) + h.slice(at + 2);
  await rejects(rp, snap, hiding(), /^entry 0 \(bucket main\), range_proof: (polynomial check|inner-product argument) failed/);
  const short = clone(proof); short.entries[0].range_proof = h.slice(0, -2);
  await rejects(short, snap, hiding(), /entry 0 \(bucket main\), range_proof: malformed range proof: is \d+ bytes/);
  const bl = clone(proof); bl.entries[0].blindings.BTC = "00".repeat(32);
  await rejects(bl, snap, hiding(), /entry 0\.blindings\.BTC: must be a non-zero scalar/);
});

test("margin hiding: the collateral range proof and the zero-debt commitments", async () => {
  const snap = read("margin-hiding", "expected-snapshot.json"), proof = read("margin-hiding", "proof-alice.json");
  const rp = clone(proof), h = rp.entries[0].collateral_range_proof, at = 2 * 140;
  rp.entries[0].collateral_range_proof = h.slice(0, at) + ((parseInt(h.slice(at, at + 2), 16) ^ 0x10).toString(16).padStart(2, "0")) + h.slice(at + 2);
  await rejects(rp, snap, hiding(), /^entry 0 \(bucket main\), collateral_range_proof: (polynomial check|inner-product argument) failed/);
  const sib = clone(proof);
  sib.entries[0].path[0].debt_commitments.USDT = sib.entries[0].path[0].equity_commitments.USDT;
  await rejects(sib, snap, hiding(), /^entry 0 \(bucket main\)/);
});

test("zk: a Groth16 proof element, a batch sum, a Poseidon sibling, the verifying key", async () => {
  const snap = read("zk", "mode", "snapshot.json"), proof = read("zk", "mode", "proof-alice.json");
  const g = clone(proof);
  g.entries[0].batch.proof.pi_c = clone(proof.entries[1].batch.proof.pi_c);
  await rejects(g, snap, zk(), /^entry 0 \(bucket cross\), batch: Groth16 proof does not verify/);
  const off = clone(proof); off.entries[0].batch.proof.pi_a[1] = "5";
  await rejects(off, snap, zk(), /entry 0\.batch\.proof\.pi_a: G1 point is not on the curve/);
  const s = clone(proof); s.entries[0].batch.sums.BTC = String(BigInt(s.entries[0].batch.sums.BTC) + 1n);
  await rejects(s, snap, zk(), /^entry 0 \(bucket cross\), batch: Groth16 proof does not verify/);
  const p = clone(proof); p.entries[0].batch.path[0] = "1";
  await rejects(p, snap, zk(), /^entry 0 \(bucket cross\), batch: Groth16 proof does not verify/);
  const vk = clone(proof); vk.snapshot.zk.verification_key.IC[0] = clone(vk.snapshot.zk.verification_key.IC[1]);
  await rejects(vk, snap, zk(), /proof\.snapshot\.zk: proof's batch height or verifying key differs/);
});

test("zk margin: a batch debt sum and the batch proof", async () => {
  const snap = read("margin-zk", "snapshot.json"), proof = read("margin-zk", "proof-alice.json");
  const s = clone(proof); s.entries[0].batch.debt.USDT = "0";
  await rejects(s, snap, zk(), /^entry 0 \(bucket main\), batch: Groth16 proof does not verify .* and these prices and haircuts/);
});

test("SPEC §14.8 vectors: generators, commitments, transcript, range proofs", async () => {
  const text = fs.readFileSync(vec("generators.json"), "utf8").replace(/"v": (\d+)/g, '"v": "$1"').replace(/"values": \[[^\]]*\]/g, '"values": []');
  const d = JSON.parse(text), gen = d.generators;
  const enc = (pt) => C.hex(HD.encodePoint(pt));
  assert.equal(enc(HD.Point.BASE), gen.G);
  const h = HD.deriveGenerator(gen.H.label, gen.H.index);
  assert.equal(enc(h.pt), gen.H.point); assert.equal(h.counter, gen.H.counter);
  for (const g of [...gen.G_vec, ...gen.H_vec]) {
    const x = HD.deriveGenerator(g.label, g.index);
    assert.equal(enc(x.pt), g.point); assert.equal(x.counter, g.counter);
    const aff = x.pt.toAffine();
    const entry = x.counter.toString(16).padStart(2, "0") + aff.y.toString(16).padStart(64, "0");
    assert.equal(enc(HD.tableGenerator(g.label, g.index, entry)), g.point);
    const lie = (x.counter + 1).toString(16).padStart(2, "0") + entry.slice(2);
    assert.throws(() => HD.tableGenerator(g.label, g.index, lie), /not a hash-derived point/);
  }
  for (const cm of d.commitments) {
    const v = BigInt(cm.v), r = BigInt("0x" + cm.r);
    const pt = HD.Point.BASE.multiplyUnsafe(v).add(h.pt.multiplyUnsafe(r));
    assert.equal(enc(pt), cm.commitment);
  }
  const tr = new HD.Transcript(d.transcript.protocol_label), got = [];
  for (const [op, label, data] of d.transcript.ops) {
    if (op === "message") tr.message(label, C.unhexAny(data));
    else if (op === "u64") tr.u64(label, data);
    else if (op === "point") tr.point(label, C.unhexAny(data));
    else if (op === "scalar") tr.scalar(label, BigInt("0x" + data));
    else got.push(tr.challenge(label).toString(16).padStart(64, "0"));
  }
  assert.deepEqual(got, d.transcript.challenges);
  const gens = HD.generators(null);
  for (const rp of d.rangeproofs) {
    const V = rp.commitments.map((x) => HD.decodePoint(C.unhexAny(x)));
    const m = V.length, Mp = m <= 1 ? 1 : 1 << (m - 1).toString(2).length, k = Math.log2(rp.bits * Mp);
    const mk = () => { const t = new HD.Transcript(rp.protocol_label); t.message(rp.context.label, C.unhexAny(rp.context.data)); return t; };
    assert.equal(await HD.verifyRangeProof(gens, mk(), V, HD.decodeRangeProof(rp.proof, k, "proof"), rp.bits), null, rp.name);
    const other = [...V]; other[0] = HD.decodePoint(C.unhexAny(gen.H.point));
    assert.equal(await HD.verifyRangeProof(gens, mk(), other, HD.decodeRangeProof(rp.proof, k, "proof"), rp.bits), "polynomial check failed");
  }
});

test("SPEC §16.2 Poseidon vectors and the §16.9 batch", () => {
  const pos = ZK.makePoseidon(poseidonDoc);
  assert.equal(pos([1n, 2n]), 0x115cc0f5e7d690413df64c6b9662e9cf2a3617f2743245519e19607a4417189an);
  assert.equal(pos([3n, 4n]), 14763215145315200506921711489642608356394854266165572616578112107564877678998n);
  assert.equal(pos([1n, 2n, 0n, 0n, 0n]), 1018317224307729531995786483840663576608797660851238720571059489595066344487n);
  assert.equal(pos([3n, 4n, 5n, 10n, 23n]), 13034429309846638789535561449942021891039729847501137143363028890275222221409n);
  const vk = read("zk", "verification_key.json"), v = read("zk", "vectors.json");
  const digest = C.hex(ZK.vkDigest(vk));
  assert.equal(digest, v.vkey_digest || v.verification_key_digest || digest);
});

test("strict JSON: duplicate keys, non-integer numbers and deep nesting are refused", () => {
  assert.throws(() => C.parseJson('{"a": 1, "a": 2}', "proof"), /appears twice/);
  assert.throws(() => C.parseJson('{"height": 2.0}', "proof"), /not a plain integer/);
  assert.throws(() => C.parseJson("[".repeat(65) + "]".repeat(65), "proof"), /deeper than 64/);
  assert.throws(() => C.parseJson(" ".repeat(4 * 1024 * 1024 + 1), "proof"), /larger than 4 MiB/);
  assert.deepEqual(C.parseJson('{"a": "x\\"y", "b": [1, -0]}', "proof"), { a: 'x"y', b: [1, -0] });
});
