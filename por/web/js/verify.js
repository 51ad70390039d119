// por browser verifier: inclusion proofs of every mode against a trusted, embedded snapshot.json.
// Public v1 (SPEC.md §8) and v2 (§17.10), hiding v1 (§15.4) and v2 (§17.20), zk v1 (§16.12) and v2 (§17.26).
// Money is BigInt throughout; every failure is an Invalid naming the entry, bucket and check.
"use strict";

const C = require("./common.js");
const M = require("./margin.js");
const { Invalid, cat, uint, lp, tag, sums, H, hex, canon, keysExactly, hex32, amount, integer, symbolMap, list } = C;

const MODES = ["public", "hiding", "zk"];
const tick = () => new Promise((r) => setTimeout(r, 0));

/** Names of a vector's JSON fields per layout (por.modes.values): plain one group, margin equity then debt. */
function names(margin, kind) {
  if (!margin) return [kind];
  return ["balances", "sums", "totals"].includes(kind) ? ["equity", "debt"] : ["equity_" + kind, "debt_" + kind];
}

/** The trusted context: the embedded snapshot's metadata, layout, margin parameters and published buckets. */
function context(snap) {
  const meta = snap.metadata, margin = !!meta.margin;
  const symbols = meta.assets.map((a) => a.symbol);
  const ctx = { snap, meta, mode: snap.mode, version: snap.version, margin, symbols, A: symbols.length,
    nv: (margin ? 2 : 1) * symbols.length, t: C.topHeight(meta.buckets.length),
    params: margin ? M.marginParams(meta, "snapshot.json metadata.margin") : null,
    root: hex32(snap.root, "snapshot.json root") };
  ctx.allowDebt = (b) => !margin || ctx.params.allow[b];
  if (snap.mode === "zk") ctx.k = snap.zk.batch_height;
  ctx.nodeRule = (allowDebt) => nodeRule(ctx, allowDebt);
  return ctx;
}

/** A symbol-map vector of `kind` in `obj` (all groups concatenated), each item parsed. */
function vec(ctx, obj, kind, parse, f) {
  const out = [];
  for (const n of names(ctx.margin, kind)) out.push(...symbolMap(obj[n], ctx.symbols, parse, f ? f + "." + n : n));
  return out;
}

/** The collateral rule on a public/zk node (§17.10 step 3): base value >= 0, no debt without allow_debt. */
function nodeRule(ctx, allowDebt) {
  if (!ctx.margin) return null;
  const p = ctx.params, A = ctx.A;
  return (v, where) => {
    const debts = v.slice(A).map((d, a) => [ctx.symbols[a], d]).filter(([, d]) => d !== 0n);
    if (!allowDebt && debts.length)
      throw new Invalid(where, "a node of a bucket without allow_debt carries debt (" + debts.map(([s, d]) => s + " " + d).join(", ") + ")");
    const value = M.valueBase(p, v);
    if (value < 0n)
      throw new Invalid(where, "collateral value is negative: " + C.fmt(value, p.scale) + " quote units (its debts "
        + "outweigh its equity after haircuts: it holds undercollateralised accounts)");
  };
}

// ---- the public Merkle-sum node (§4) and its commitment counterpart (hiding, §15.2)
function sumNode(l, r, where) {
  const total = l.v.map((x, i) => x + r.v[i]);
  if (total.some((x) => x >= C.U64)) throw new Invalid(where, "a node sum reaches 2^64 (wraparound)");
  return { hash: H(cat(tag("node"), l.hash, sums(l.v), r.hash, sums(r.v))), v: total };
}

function climb(ctx, start, index, siblings, where, rule, startLevel, parent) {
  if (BigInt(index) >> BigInt(siblings.length)) throw new Invalid(where, "leaf index " + index + " is outside a tree of height " + siblings.length);
  let node = start;
  siblings.forEach((sib, level) => {
    const at = startLevel + level;
    if (rule) rule(sib.v, where + "[" + level + "] (sibling at level " + at + ")");
    const right = (BigInt(index) >> BigInt(level)) & 1n;
    node = right ? parent(sib, node, where + ", level " + (at + 1)) : parent(node, sib, where + ", level " + (at + 1));
    if (rule) rule(node.v, where + " (computed node at level " + (at + 1) + ")");
  });
  return node;
}

function rootPreimage(ctx, top, ext) {
  const m = ctx.meta;
  return cat(tag("root"), uint(ctx.version, 2), lp(ctx.mode), lp(m.snapshot_id), lp(m.as_of),
    uint(m.assets.length, 2), ...m.assets.map((a) => cat(lp(a.symbol), uint(a.decimals, 1))),
    uint(m.buckets.length, 2), ...m.buckets.map((b) => cat(lp(b.id), lp(b.kind))),
    uint(ctx.t, 1), top.hash, ctx.vecBytes(top.v), ext);
}

/**
 * Verify one inclusion proof document `doc` against the trusted snapshot `snap` (an embedded snapshot.json).
 * `env`: {hiding: crypto of ./hiding.js with its generators, zk: ./zk.js's verifier, progress(text)}.
 * Resolves to {account, entries, checks}; rejects with Invalid naming what failed.
 */
async function verifyProof(doc, snap, env = {}) {
  const progress = env.progress || (() => {});
  const ctx = context(snap);
  if (!C.isObject(doc) || doc.format !== "por-inclusion-proof") throw new Invalid("proof", "not a por-inclusion-proof document (format)");
  if (doc.version !== 1 && doc.version !== 2) throw new Invalid("proof.version", "unsupported version " + JSON.stringify(doc.version));
  keysExactly(doc, ["format", "version", "mode", "snapshot", "account_id", "entries"], "proof");
  if (!MODES.includes(doc.mode)) throw new Invalid("proof.mode", "unsupported mode " + JSON.stringify(doc.mode));
  if (doc.mode !== ctx.mode) throw new Invalid("proof.mode", "proof is a " + doc.mode + "-mode proof but the snapshot is " + ctx.mode + "-mode");
  const sd = keysExactly(doc.snapshot, ctx.mode === "zk" ? ["metadata", "root", "zk"] : ["metadata", "root"], "proof.snapshot");
  const hasMargin = C.isObject(sd.metadata) && "margin" in sd.metadata;
  if (hasMargin !== (doc.version === 2))
    throw new Invalid("proof.version", "version " + doc.version + " does not match the metadata: version 2 proofs (margin accounts) have snapshot.metadata.margin and version 1 ones do not");
  if (canon(sd.metadata) !== canon(ctx.meta))
    throw new Invalid("proof.snapshot.metadata", "proof metadata differs from the snapshot's (another snapshot, bucket list, asset list, price or haircut)");
  if (doc.version !== ctx.version) throw new Invalid("proof.version", "the snapshot is version " + ctx.version);
  if (ctx.mode === "zk" && canon(sd.zk) !== canon(snap.zk))
    throw new Invalid("proof.snapshot.zk", "proof's batch height or verifying key differs from the snapshot's");
  const claimed = hex32(sd.root, "proof.snapshot.root");
  if (!C.eqBytes(claimed, ctx.root)) throw new Invalid("proof.snapshot.root", "proof is for root " + hex(claimed) + ", not the trusted root " + snap.root);
  const account = doc.account_id;
  if (typeof account !== "string" || !account) throw new Invalid("proof.account_id", "must be a non-empty string");
  if (!Array.isArray(doc.entries) || doc.entries.length === 0) throw new Invalid("proof.entries", "must be a non-empty list");

  const mode = ctx.mode === "hiding" ? env.hiding : ctx.mode === "zk" ? env.zk : null;
  if (ctx.mode !== "public" && !mode) throw new Invalid("page", "this page was exported without the " + ctx.mode + "-mode verifier");
  if (ctx.mode === "hiding") {
    ctx.vecBytes = (v) => C.commits(v.map((p) => p.bytes));
  } else {
    ctx.vecBytes = sums;
  }
  const parent = ctx.mode === "hiding" ? mode.commitNode : sumNode;
  const ext = ctx.mode === "zk" ? cat(await mode.rootExtension(snap), ctx.margin ? ctx.params.bytes : new Uint8Array())
    : ctx.margin ? ctx.params.bytes : new Uint8Array();

  const seen = new Set(), entries = [], checks = [];
  for (let i = 0; i < doc.entries.length; i++) {
    const e = doc.entries[i], f = "entry " + i;
    const c = parseEntry(ctx, mode, e, f, seen);
    const where = c.where;
    progress(where + ": own leaf");
    // §17.10 step 2: the own leaf (margin)
    let ownValue = null;
    if (ctx.margin) {
      nodeRule(ctx, ctx.allowDebt(c.bucket))(c.own, where + ", own leaf");
      const tv = M.valueTiered(ctx.params, c.own);
      if (tv < 0n) throw new Invalid(where + ", own leaf", "own account is undercollateralised (tiered haircuts): collateral value " + C.fmt(tv, ctx.params.scale) + " quote units");
      ownValue = tv;
    }
    let start, startLevel = 0;
    if (ctx.mode === "public") {
      start = { hash: H(cat(tag("leaf"), lp(ctx.meta.snapshot_id), lp(c.bucket), c.salt, lp(account), sums(c.own))), v: c.own };
    } else {
      [start, startLevel] = await mode.openLeaf(ctx, e, c, account, progress);
    }
    const rule = ctx.mode === "hiding" ? null : nodeRule(ctx, ctx.allowDebt(c.bucket));
    const broot = climb(ctx, start, BigInt(c.index) >> BigInt(startLevel), c.path, where + ", path", rule, startLevel, parent);
    const pub = snap.buckets[c.bi];
    if (pub.height !== c.height) throw new Invalid(where, "height " + c.height + " differs from the published " + pub.height);
    const pubVec = ctx.mode === "hiding" ? mode.publishedVector(ctx, pub) : vec(ctx, pub, "totals", amount, "");
    if (hex(broot.hash) !== pub.root || !sameVec(ctx, broot.v, pubVec))
      throw new Invalid(where, "leaf and path do not lead to the published bucket root (a balance, salt, account id, index or sibling was altered)");
    const kind = ctx.meta.buckets[c.bi].kind;
    const bleaf = { hash: H(cat(tag("bucket"), lp(ctx.meta.snapshot_id), lp(c.bucket), lp(kind), uint(c.height, 1), broot.hash, ctx.vecBytes(broot.v))), v: broot.v };
    const top = climb(ctx, bleaf, c.bi, c.top, where + ", top_path", ctx.mode === "hiding" ? null : nodeRule(ctx, true), 0, parent);
    const computed = H(rootPreimage(ctx, top, ext));
    if (!C.eqBytes(computed, ctx.root)) throw new Invalid(where, "path leads to root " + hex(computed) + ", not the trusted root " + snap.root);
    c.topVector = top.v;
    if (ctx.mode === "hiding") checks.push(...(await mode.afterRoot(ctx, e, c, progress)));
    checks.push(describe(ctx, c));
    const own = { bucket: c.bucket };
    if (ctx.margin) {
      own.equity = c.own.slice(0, ctx.A); own.debt = c.own.slice(ctx.A);
      own.net = own.equity.map((x, a) => x - own.debt[a]); own.value = ownValue;
    } else own.balances = c.own;
    entries.push(own);
    await tick();
  }
  return { account, entries, checks, ctx };
}

function sameVec(ctx, a, b) {
  if (a.length !== b.length) return false;
  if (ctx.mode === "hiding") return a.every((p, i) => C.eqBytes(p.bytes, b[i].bytes));
  return a.every((x, i) => x === b[i]);
}

function describe(ctx, c) {
  const k = ctx.mode === "zk" ? ctx.k : 0;
  const what = ctx.mode === "zk" ? "leaf -> " + k + " Poseidon nodes -> batch root (Groth16 proof) -> " + (c.height - k) + " nodes"
    : "leaf -> " + c.height + " nodes";
  let s = "bucket " + c.bucket + ": " + what + " -> bucket root -> " + ctx.t + " nodes -> snapshot root";
  if (ctx.margin && ctx.mode !== "hiding")
    s += "; collateral value >= 0 for the own account (tiered) and every node on the path"
      + (ctx.allowDebt(c.bucket) ? "" : "; no debt anywhere (bucket without allow_debt)");
  return s;
}

/** Parse one entry's common fields and check its shape against the metadata (por.proofs.inclusion._entry). */
function parseEntry(ctx, mode, e, f, seen) {
  const keys = ["bucket", "height", "index", "salt", "path", "top_index", "top_path", ...names(ctx.margin, "balances")];
  if (ctx.mode === "hiding") keys.push(...names(ctx.margin, "blindings"), "range_proof", ...(ctx.margin ? ["collateral_range_proof"] : []));
  if (ctx.mode === "zk") keys.push("batch");
  keysExactly(e, keys, f);
  const bucket = e.bucket, bi = ctx.meta.buckets.findIndex((b) => b.id === bucket);
  if (typeof bucket !== "string" || bi < 0) throw new Invalid(f + ".bucket", "unknown bucket " + JSON.stringify(bucket));
  if (seen.has(bucket)) throw new Invalid(f, "bucket " + JSON.stringify(bucket) + " appears twice");
  seen.add(bucket);
  const where = f + " (bucket " + bucket + ")";
  const height = integer(e.height, f + ".height"), index = integer(e.index, f + ".index"), topIndex = integer(e.top_index, f + ".top_index");
  const salt = hex32(e.salt, f + ".salt");
  const own = vec(ctx, e, "balances", amount, f);
  list(e.path, f + ".path"); list(e.top_path, f + ".top_path");
  const node = (n, g) => {
    if (ctx.mode === "hiding") return mode.parseNode(ctx, n, g);
    keysExactly(n, ["hash", ...names(ctx.margin, "sums")], g);
    return { hash: hex32(n.hash, g + ".hash"), v: vec(ctx, n, "sums", amount, g) };
  };
  const path = e.path.map((n, j) => node(n, f + ".path[" + j + "]"));
  const top = e.top_path.map((n, j) => node(n, f + ".top_path[" + j + "]"));
  if (height < 1 || height > 32) throw new Invalid(where, "height " + height + " is outside 1..32");
  const k = ctx.mode === "zk" ? ctx.k : 0;
  if (height < k) throw new Invalid(where, "height " + height + " is below the batch height " + k);
  if (path.length !== height - k) throw new Invalid(where, "path has " + path.length + " siblings but height is " + height + (k ? " (" + k + " levels are in the batch)" : ""));
  if (topIndex !== bi) throw new Invalid(where, "top_index " + topIndex + " is not bucket " + JSON.stringify(bucket) + "'s position " + bi);
  if (top.length !== ctx.t) throw new Invalid(where, "top_path has " + top.length + " siblings, the top tree has height " + ctx.t);
  return { f, where, bucket, bi, height, index, salt, own, path, top };
}

/** The embedded snapshot's own consistency (§6 step 10, §17.9; the page recomputes its root before any proof). */
async function checkSnapshot(snap, env = {}) {
  const ctx = context(snap);
  const mode = ctx.mode === "hiding" ? env.hiding : ctx.mode === "zk" ? env.zk : null;
  if (ctx.mode !== "public" && !mode) throw new Invalid("page", "this page was exported without the " + ctx.mode + "-mode verifier");
  ctx.vecBytes = ctx.mode === "hiding" ? (v) => C.commits(v.map((p) => p.bytes)) : sums;
  const parent = ctx.mode === "hiding" ? mode.commitNode : sumNode;
  const leaves = snap.buckets.map((b, i) => {
    const v = ctx.mode === "hiding" ? mode.publishedVector(ctx, b) : vec(ctx, b, "totals", amount, "snapshot.json buckets[" + i + "]");
    return { hash: H(cat(tag("bucket"), lp(ctx.meta.snapshot_id), lp(b.id), lp(b.kind), uint(b.height, 1), hex32(b.root, "root"), ctx.vecBytes(v))), v };
  });
  const size = 1 << ctx.t;
  for (let i = leaves.length; i < size; i++) {
    const pad = H(cat(tag("pad"), lp(ctx.meta.snapshot_id), lp(""), uint(i, 32)));
    leaves.push({ hash: pad, v: ctx.mode === "hiding" ? mode.topPad(ctx) : new Array(ctx.nv).fill(0n) });
  }
  let level = leaves;
  while (level.length > 1) {
    const next = [];
    for (let i = 0; i < level.length; i += 2) next.push(parent(level[i], level[i + 1], "snapshot.json top tree"));
    level = next;
  }
  const ext = ctx.mode === "zk" ? cat(await mode.rootExtension(snap), ctx.margin ? ctx.params.bytes : new Uint8Array())
    : ctx.margin ? ctx.params.bytes : new Uint8Array();
  const root = H(rootPreimage(ctx, level[0], ext));
  if (!C.eqBytes(root, ctx.root))
    throw new Invalid("snapshot.json", "the embedded snapshot does not add up: its metadata and buckets lead to root " + hex(root) + ", not " + snap.root);
  if (ctx.margin && ctx.mode !== "hiding") {
    snap.buckets.forEach((b, i) => {
      const v = vec(ctx, b, "totals", amount, "");
      nodeRule(ctx, ctx.allowDebt(b.id))(v, "snapshot.json buckets[" + i + "] (" + b.id + ")");
    });
  }
  return ctx;
}

module.exports = { verifyProof, checkSnapshot, context, names, vec, Invalid, sumNode };
