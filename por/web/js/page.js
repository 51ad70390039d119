// por browser verifier: the page (DOM, progress, verdict and balances). Entry module of the bundle.
"use strict";

const C = require("./common.js");
const V = require("./verify.js");
const hiding = require("./hiding.js");
const zk = require("./zk.js");

const $ = (id) => document.getElementById(id);
const snap = JSON.parse($("snapshot").textContent);
const data = JSON.parse($("por-data").textContent);
let envPromise = null;

function setProgress(text, fraction) {
  const el = $("progress");
  el.textContent = "";
  if (text === null) return;
  const bar = document.createElement("progress");
  if (fraction !== undefined) { bar.max = 1; bar.value = fraction; }
  el.appendChild(bar);
  el.appendChild(document.createTextNode(text));
}

async function environment() {
  const env = {};
  if (snap.mode === "hiding") env.hiding = hiding.make(data.generators, setProgress);
  if (snap.mode === "zk") env.zk = zk.make(data.poseidon, globalThis.snarkjs);
  setProgress("checking the embedded snapshot.json");
  await V.checkSnapshot(snap, env);
  return env;
}

function cell(row, text, cls) { const td = row.insertCell(); td.textContent = text; if (cls) td.className = cls; return td; }

function table(r) {
  const assets = snap.metadata.assets, out = document.createElement("table"), head = out.insertRow();
  const margin = !!snap.metadata.margin;
  ["bucket", ...(margin ? ["figure"] : []), ...assets.map((a) => a.symbol)].forEach((t) => {
    const th = document.createElement("th"); th.textContent = t; head.appendChild(th); });
  const row = (label, figure, vals) => {
    const tr = out.insertRow(); cell(tr, label); if (margin) cell(tr, figure);
    vals.forEach((v, k) => cell(tr, C.fmt(v, assets[k].decimals), v < 0n ? "neg" : ""));
  };
  for (const e of r.entries) {
    if (!margin) { row(e.bucket, "", e.balances); continue; }
    row(e.bucket, "equity", e.equity); row(e.bucket, "debt", e.debt); row(e.bucket, "net (equity − debt)", e.net);
  }
  if (r.entries.length > 1 || margin) {
    const tot = assets.map((_, k) => r.entries.reduce((s, e) => s + (margin ? e.net[k] : e.balances[k]), 0n));
    row("all buckets", margin ? "net" : "", tot);
  }
  return out;
}

async function render(text) {
  const out = $("result"), verdict = $("verdict");
  out.innerHTML = ""; verdict.className = ""; verdict.textContent = "";
  const t0 = performance.now();
  try {
    envPromise = envPromise || environment();
    const env = await envPromise;
    env.progress = (s, fr) => setProgress(s, fr);
    const r = await V.verifyProof(C.parseJson(text, "proof"), snap, env);
    const ms = performance.now() - t0;
    verdict.className = "valid";
    verdict.textContent = "VALID: " + r.account + " is included in snapshot " + snap.metadata.snapshot_id
      + " (" + r.entries.length + (r.entries.length === 1 ? " bucket" : " buckets") + ", every check passed)";
    const h = document.createElement("h2"); h.textContent = "Your balance per bucket and asset"; out.appendChild(h);
    out.appendChild(table(r));
    if (snap.metadata.margin) {
      const p = document.createElement("p");
      p.textContent = "Collateral value of your account after haircuts (quote units): "
        + r.entries.map((e) => e.bucket + " " + C.fmt(e.value, r.ctx.params.scale)).join(", ");
      out.appendChild(p);
    }
    const h2 = document.createElement("h2"); h2.textContent = "What was checked"; out.appendChild(h2);
    const ul = document.createElement("ul"); ul.className = "checks";
    for (const c of r.checks) { const li = document.createElement("li"); li.textContent = c; ul.appendChild(li); }
    out.appendChild(ul);
    finish(ms);
  } catch (err) {
    const ms = performance.now() - t0;
    verdict.className = "invalid";
    verdict.textContent = "INVALID: " + (err instanceof C.Invalid ? err.message : "the proof could not be checked ("
      + (err && err.message ? err.message : String(err)) + ")");
    finish(ms);
  }
}

function finish(ms) {
  setProgress(null);
  const el = $("progress");
  el.textContent = "checked in " + Math.round(ms) + " ms";
  el.dataset.ms = ms.toFixed(1);
  document.body.dataset.done = "1";
}

window.addEventListener("DOMContentLoaded", () => {
  const area = $("proof");
  $("go").addEventListener("click", () => render(area.value));
  document.body.addEventListener("dragover", (ev) => ev.preventDefault());
  document.body.addEventListener("drop", (ev) => {
    ev.preventDefault();
    const f = ev.dataTransfer.files[0];
    if (f) f.text().then((t) => { area.value = t; render(t); });
  });
  if (location.hash.startsWith("#proof=")) {
    const b64 = location.hash.slice(7).replace(/-/g, "+").replace(/_/g, "/");
    const text = new TextDecoder().decode(Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)));
    area.value = text; render(text);
  } else {
    envPromise = environment();
    envPromise.then(() => setProgress(null), (err) => {
      setProgress(null);
      $("verdict").className = "invalid";
      $("verdict").textContent = "INVALID: " + err.message;
    });
  }
});
