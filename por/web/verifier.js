// por browser verifier: public-mode inclusion proofs (SPEC.md §8), no network, no dependencies.
"use strict";

// ---- SHA-256 (FIPS 180-4), synchronous
const K = new Uint32Array([
  0x428a2f98,0x71374491,0xb5c0fbcf,0xe9b5dba5,0x3956c25b,0x59f111f1,0x923f82a4,0xab1c5ed5,
  0xd807aa98,0x12835b01,0x243185be,0x550c7dc3,0x72be5d74,0x80deb1fe,0x9bdc06a7,0xc19bf174,
  0xe49b69c1,0xefbe4786,0x0fc19dc6,0x240ca1cc,0x2de92c6f,0x4a7484aa,0x5cb0a9dc,0x76f988da,
  0x983e5152,0xa831c66d,0xb00327c8,0xbf597fc7,0xc6e00bf3,0xd5a79147,0x06ca6351,0x14292967,
  0x27b70a85,0x2e1b2138,0x4d2c6dfc,0x53380d13,0x650a7354,0x766a0abb,0x81c2c92e,0x92722c85,
  0xa2bfe8a1,0xa81a664b,0xc24b8b70,0xc76c51a3,0xd192e819,0xd6990624,0xf40e3585,0x106aa070,
  0x19a4c116,0x1e376c08,0x2748774c,0x34b0bcb5,0x391c0cb3,0x4ed8aa4a,0x5b9cca4f,0x682e6ff3,
  0x748f82ee,0x78a5636f,0x84c87814,0x8cc70208,0x90befffa,0xa4506ceb,0xbef9a3f7,0xc67178f2]);
function sha256(msg) {
  const h = new Uint32Array([0x6a09e667,0xbb67ae85,0x3c6ef372,0xa54ff53a,0x510e527f,0x9b05688c,0x1f83d9ab,0x5be0cd19]);
  const len = msg.length, total = ((len + 9 + 63) >> 6) << 6;
  const buf = new Uint8Array(total); buf.set(msg); buf[len] = 0x80;
  const bits = len * 8, dv = new DataView(buf.buffer);
  dv.setUint32(total - 8, Math.floor(bits / 0x100000000)); dv.setUint32(total - 4, bits >>> 0);
  const w = new Uint32Array(64);
  for (let off = 0; off < total; off += 64) {
    for (let i = 0; i < 16; i++) w[i] = dv.getUint32(off + 4 * i);
    for (let i = 16; i < 64; i++) {
      const a = w[i - 15], b = w[i - 2];
      const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3);
      const s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10);
      w[i] = (w[i - 16] + s0 + w[i - 7] + s1) >>> 0;
    }
    let [a, b, c, d, e, f, g, hh] = h;
    for (let i = 0; i < 64; i++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const t1 = (hh + S1 + ((e & f) ^ (~e & g)) + K[i] + w[i]) >>> 0;
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const t2 = (S0 + ((a & b) ^ (a & c) ^ (b & c))) >>> 0;
      hh = g; g = f; f = e; e = (d + t1) >>> 0; d = c; c = b; b = a; a = (t1 + t2) >>> 0;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
  }
  const out = new Uint8Array(32), odv = new DataView(out.buffer);
  for (let i = 0; i < 8; i++) odv.setUint32(4 * i, h[i]);
  return out;
}

// ---- encodings (SPEC.md §1)
const U64 = 1n << 64n;
const utf8 = (s) => new TextEncoder().encode(s);
function cat(...parts) {
  const n = parts.reduce((s, p) => s + p.length, 0), out = new Uint8Array(n);
  let o = 0; for (const p of parts) { out.set(p, o); o += p.length; } return out;
}
function uint(n, bytes) {
  let v = BigInt(n); const out = new Uint8Array(bytes);
  for (let i = bytes - 1; i >= 0; i--) { out[i] = Number(v & 0xffn); v >>= 8n; }
  if (v !== 0n) throw new Error("integer does not fit");
  return out;
}
const lp = (x) => { const b = typeof x === "string" ? utf8(x) : x; return cat(uint(b.length, 4), b); };
const tag = (name) => lp("por/v1/" + name);
const sums = (v) => cat(uint(v.length, 2), ...v.map((x) => uint(x, 8)));
const hex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
function unhex(s, field) {
  if (typeof s !== "string" || !/^[0-9a-f]{64}$/.test(s)) throw new Error(field + ": must be 64 lowercase hex digits");
  return Uint8Array.from(s.match(/../g), (x) => parseInt(x, 16));
}
function amount(s, field) {
  if (typeof s !== "string" || !/^(0|[1-9][0-9]{0,19})$/.test(s)) throw new Error(field + ": not a decimal amount");
  const v = BigInt(s); if (v >= U64) throw new Error(field + ": 2^64 or more"); return v;
}
function keysExactly(o, keys, field) {
  if (typeof o !== "object" || o === null || Array.isArray(o)) throw new Error(field + ": must be an object");
  const got = Object.keys(o).sort().join(","), want = [...keys].sort().join(",");
  if (got !== want) throw new Error(field + ": fields are " + got + ", expected " + want);
}
function fmt(v, d) {
  const s = v.toString().padStart(d + 1, "0");
  if (d === 0) return s;
  const whole = s.slice(0, s.length - d), frac = s.slice(s.length - d).replace(/0+$/, "");
  return frac ? whole + "." + frac : whole;
}

function canon(v) {  // JSON with sorted keys, for comparing documents regardless of key order
  if (Array.isArray(v)) return "[" + v.map(canon).join(",") + "]";
  if (v && typeof v === "object") return "{" + Object.keys(v).sort().map((k) => JSON.stringify(k) + ":" + canon(v[k])).join(",") + "}";
  return JSON.stringify(v);
}

function node(l, r, where) {
  const total = l[1].map((x, i) => x + r[1][i]);
  if (total.some((x) => x >= U64)) throw new Error(where + ": a node sum reaches 2^64 (wraparound)");
  return [sha256(cat(tag("node"), l[0], sums(l[1]), r[0], sums(r[1]))), total];
}

// ---- verification (SPEC.md §8) against the embedded, already-published snapshot
function verifyProof(proof, snap) {
  keysExactly(proof, ["format", "version", "mode", "snapshot", "account_id", "entries"], "proof");
  if (proof.format !== "por-inclusion-proof" || proof.version !== 1) throw new Error("not a por-inclusion-proof v1");
  if (proof.mode !== "public") throw new Error("this page verifies public-mode proofs only");
  if (canon(proof.snapshot.metadata) !== canon(snap.metadata))
    throw new Error("proof is for another snapshot (metadata differs)");
  if (proof.snapshot.root !== snap.root) throw new Error("proof is for another root");
  const meta = snap.metadata, sid = meta.snapshot_id, symbols = meta.assets.map((a) => a.symbol);
  const topH = (meta.buckets.length - 1).toString(2).replace(/^0$/, "").length;
  const account = proof.account_id;
  if (typeof account !== "string" || !account) throw new Error("account_id missing");
  if (!Array.isArray(proof.entries) || proof.entries.length === 0) throw new Error("no entries");
  const seen = new Set(), results = [];
  proof.entries.forEach((e, i) => {
    const where = "entry " + i + " (bucket " + e.bucket + ")";
    keysExactly(e, ["bucket", "height", "index", "salt", "balances", "path", "top_index", "top_path"], where);
    const bi = meta.buckets.findIndex((b) => b.id === e.bucket);
    if (bi < 0 || seen.has(e.bucket)) throw new Error(where + ": unknown or repeated bucket");
    seen.add(e.bucket);
    const pub = snap.buckets[bi];
    if (!Number.isInteger(e.height) || e.height !== pub.height || !Array.isArray(e.path) || e.path.length !== e.height)
      throw new Error(where + ": height or path length differs from the published height");
    if (!Number.isInteger(e.index) || e.index < 0 || e.index >= 2 ** e.height) throw new Error(where + ": bad index");
    if (e.top_index !== bi || !Array.isArray(e.top_path) || e.top_path.length !== topH) throw new Error(where + ": bad top path");
    keysExactly(e.balances, symbols, where + ".balances");
    const bal = symbols.map((s) => amount(e.balances[s], where + ".balances." + s));
    const sib = (n, f) => { keysExactly(n, ["hash", "sums"], f); keysExactly(n.sums, symbols, f + ".sums");
      return [unhex(n.hash, f + ".hash"), symbols.map((s) => amount(n.sums[s], f + ".sums." + s))]; };
    let cur = [sha256(cat(tag("leaf"), lp(sid), lp(e.bucket), unhex(e.salt, where + ".salt"), lp(account), sums(bal))), bal];
    e.path.forEach((n, l) => { const s = sib(n, where + ".path[" + l + "]");
      cur = Math.floor(e.index / 2 ** l) % 2 ? node(s, cur, where + " level " + (l + 1)) : node(cur, s, where + " level " + (l + 1)); });
    if (hex(cur[0]) !== pub.root || cur[1].some((x, k) => x !== BigInt(pub.totals[symbols[k]])))
      throw new Error(where + ": leaf and path do not lead to the published bucket root");
    const kind = meta.buckets[bi].kind;
    cur = [sha256(cat(tag("bucket"), lp(sid), lp(e.bucket), lp(kind), uint(e.height, 1), cur[0], sums(cur[1]))), cur[1]];
    e.top_path.forEach((n, l) => { const s = sib(n, where + ".top_path[" + l + "]");
      cur = (bi >> l) & 1 ? node(s, cur, where + " top level " + (l + 1)) : node(cur, s, where + " top level " + (l + 1)); });
    const pre = cat(tag("root"), uint(1, 2), lp("public"), lp(sid), lp(meta.as_of),
      uint(meta.assets.length, 2), ...meta.assets.map((a) => cat(lp(a.symbol), uint(a.decimals, 1))),
      uint(meta.buckets.length, 2), ...meta.buckets.map((b) => cat(lp(b.id), lp(b.kind))),
      uint(topH, 1), cur[0], sums(cur[1]));
    if (hex(sha256(pre)) !== snap.root) throw new Error(where + ": path does not lead to the published snapshot root");
    results.push({ bucket: e.bucket, balances: bal });
  });
  return { account, results };
}

function render(text) {
  const out = document.getElementById("result"), verdict = document.getElementById("verdict");
  const snap = JSON.parse(document.getElementById("snapshot").textContent);
  out.innerHTML = "";
  try {
    const r = verifyProof(JSON.parse(text), snap);
    verdict.className = "valid"; verdict.textContent = "VALID: " + r.account + " is included in snapshot " + snap.metadata.snapshot_id;
    const table = document.createElement("table"), head = table.insertRow();
    ["bucket", ...snap.metadata.assets.map((a) => a.symbol)].forEach((t) => { const th = document.createElement("th"); th.textContent = t; head.appendChild(th); });
    r.results.forEach((e) => { const row = table.insertRow(); row.insertCell().textContent = e.bucket;
      e.balances.forEach((v, k) => { row.insertCell().textContent = fmt(v, snap.metadata.assets[k].decimals); }); });
    out.appendChild(table);
  } catch (err) {
    verdict.className = "invalid"; verdict.textContent = "INVALID: " + err.message;
  }
}

window.addEventListener("DOMContentLoaded", () => {
  const area = document.getElementById("proof");
  document.getElementById("go").addEventListener("click", () => render(area.value));
  document.body.addEventListener("dragover", (ev) => ev.preventDefault());
  document.body.addEventListener("drop", (ev) => { ev.preventDefault();
    const f = ev.dataTransfer.files[0]; if (f) f.text().then((t) => { area.value = t; render(t); }); });
  if (location.hash.startsWith("#proof=")) {
    const b64 = location.hash.slice(7).replace(/-/g, "+").replace(/_/g, "/");
    const text = new TextDecoder().decode(Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)));
    area.value = text; render(text);
  }
});
