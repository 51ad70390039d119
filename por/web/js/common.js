// por browser verifier: encodings (SPEC.md §1) and strict JSON field parsers (§6, §8).
// CommonJS module: node's test runner requires it directly; por/audit/webpage.py bundles it into the page.
"use strict";

const { sha256 } = require("@noble/hashes/sha2.js");

const U64 = 1n << 64n;

/** A failed check: `where` names the entry, bucket and field or level, `message` says what failed. */
class Invalid extends Error {
  constructor(where, message) {
    super(where ? where + ": " + message : message);
    this.where = where;
    this.reason = message;
  }
}

const utf8 = (s) => new TextEncoder().encode(s);
function cat(...parts) {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}
function uint(n, bytes) {
  let v = BigInt(n);
  if (v < 0n) throw new Error("negative integer in an encoding");
  const out = new Uint8Array(bytes);
  for (let i = bytes - 1; i >= 0; i--) { out[i] = Number(v & 0xffn); v >>= 8n; }
  if (v !== 0n) throw new Error("integer does not fit in " + bytes + " bytes");
  return out;
}
const lp = (x) => { const b = typeof x === "string" ? utf8(x) : x; return cat(uint(b.length, 4), b); };
const tag = (name) => lp("por/v1/" + name);
const sums = (v) => cat(uint(v.length, 2), ...v.map((x) => uint(x, 8)));
const commits = (v) => cat(uint(v.length, 2), ...v);
const hex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
function unhexAny(s) {
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.substr(2 * i, 2), 16);
  return out;
}
const bytesToBig = (b) => (b.length ? BigInt("0x" + hex(b)) : 0n);
const H = (b) => sha256(b);
function eqBytes(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

// ---- strict parsers (the JSON value types of SPEC.md §6); `f` is the field path for messages
function isObject(o) { return typeof o === "object" && o !== null && !Array.isArray(o); }
function keysExactly(o, keys, f) {
  if (!isObject(o)) throw new Invalid(f, "must be an object");
  const got = Object.keys(o).sort(), want = [...keys].sort();
  const missing = want.filter((k) => !got.includes(k)), extra = got.filter((k) => !want.includes(k));
  if (missing.length || extra.length)
    throw new Invalid(f, "fields are wrong" + (missing.length ? "; missing " + missing.join(", ") : "")
      + (extra.length ? "; unexpected " + extra.join(", ") : ""));
  return o;
}
function hex32(s, f) {
  if (typeof s !== "string" || !/^[0-9a-f]{64}$/.test(s)) throw new Invalid(f, "must be 64 lowercase hex digits");
  return unhexAny(s);
}
function amount(s, f) {
  if (typeof s !== "string" || !/^(0|[1-9][0-9]{0,19})$/.test(s)) throw new Invalid(f, "not a decimal amount of minor units");
  const v = BigInt(s);
  if (v >= U64) throw new Invalid(f, "amount is 2^64 or more");
  return v;
}
function integer(v, f) {  // a JSON integer >= 0 (JSON.parse gives 8 for "8", 8 for "8.0" too: see rawIntegers)
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) throw new Invalid(f, "must be a non-negative JSON integer");
  return v;
}
function symbolMap(o, symbols, parse, f) {
  keysExactly(o, symbols, f);
  return symbols.map((s) => parse(o[s], f + "." + s));
}
function list(v, f) {
  if (!Array.isArray(v)) throw new Invalid(f, "must be a list");
  return v;
}

/** JSON.parse with the §1.1 rules the page can check: no key twice in an object, depth <= 64, no number
 * written with a fraction or exponent (they are never valid in a proof: integers are plain, amounts strings). */
function parseJson(text, what, limitMiB = 4) {  // 4 MiB: an inclusion proof's limit (§1.1)
  if (typeof text !== "string") throw new Invalid(what, "not text");
  if (new TextEncoder().encode(text).length > limitMiB * 1024 * 1024) throw new Invalid(what, "larger than " + limitMiB + " MiB");
  let depth = 0, max = 0, i = 0;
  const stack = [];
  while (i < text.length) {  // a scan outside strings: depth, duplicate keys, non-integer numbers
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
      const raw = text.slice(i, j + 1);
      let k = j + 1;
      while (k < text.length && /\s/.test(text[k])) k++;
      const top = stack[stack.length - 1];
      if (text[k] === ":" && top && top.keys) {
        let key;
        try { key = JSON.parse(raw); } catch (e) { throw new Invalid(what, "not JSON"); }
        if (top.keys.has(key)) throw new Invalid(what, "key " + JSON.stringify(key) + " appears twice in one object");
        top.keys.add(key);
      }
      i = j + 1;
      continue;
    }
    if (c === "{" || c === "[") { depth++; max = Math.max(max, depth); stack.push(c === "{" ? { keys: new Set() } : {}); }
    else if (c === "}" || c === "]") { depth--; stack.pop(); }
    else if (/[-0-9]/.test(c)) {
      let j = i;
      while (j < text.length && /[-+0-9.eE]/.test(text[j])) j++;
      const num = text.slice(i, j);
      if (!/^-?(0|[1-9][0-9]*)$/.test(num)) throw new Invalid(what, "number " + num + " is not a plain integer");
      i = j;
      continue;
    }
    i++;
  }
  if (max > 64) throw new Invalid(what, "nested deeper than 64");
  try { return JSON.parse(text); } catch (e) { throw new Invalid(what, "not JSON (" + e.message + ")"); }
}

function canon(v) {  // JSON with sorted keys, to compare documents regardless of key order
  if (Array.isArray(v)) return "[" + v.map(canon).join(",") + "]";
  if (v && typeof v === "object") return "{" + Object.keys(v).sort().map((k) => JSON.stringify(k) + ":" + canon(v[k])).join(",") + "}";
  return JSON.stringify(v);
}

/** An amount of minor units as a decimal (BigInt in, exact string out; negative values keep their sign). */
function fmt(v, d) {
  const neg = v < 0n, s = (neg ? -v : v).toString().padStart(d + 1, "0");
  if (d === 0) return (neg ? "-" : "") + s;
  const whole = s.slice(0, s.length - d), frac = s.slice(s.length - d).replace(/0+$/, "");
  return (neg ? "-" : "") + (frac ? whole + "." + frac : whole);
}

const topHeight = (nBuckets) => (nBuckets <= 1 ? 0 : (nBuckets - 1).toString(2).length);

module.exports = { U64, Invalid, utf8, cat, uint, lp, tag, sums, commits, hex, unhexAny, bytesToBig, H, eqBytes,
  isObject, keysExactly, hex32, amount, integer, symbolMap, list, parseJson, canon, fmt, topHeight };
