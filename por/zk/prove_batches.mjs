// Prove many Groth16 batches in ONE node process, deterministically (por.zk.prover.prove_batches).
//
// Usage:  node prove_batches.mjs <config.json>   (jobs on stdin, one JSON object per line)
//
// config.json:  {"node_modules": "<abs dir holding snarkjs>", "zkey": "<path>", "wasm": "<path>",
//                "jobs": [...]}                   ("jobs" optional: if present, stdin is not read)
// a job:        {"index": <int>, "input": "<path of the circuit input JSON>" | {<the input object>},
//                "seed": "<64 hex digits: 32 bytes>", "proof": "<out path>", "public": "<out path>",
//                "witness": "<out path>" (optional: also write the .wtns file),
//                "prove": false (optional: witness only -- the native backend proves; "witness" required,
//                                "seed" absent)}
//
// Jobs are proved in the order received. For each: witness (snarkjs.wtns.calculate, in memory), then
// snarkjs.groth16.prove; proof.json / public.json (and the witness) are written atomically (a temp
// file in the same directory, then rename), then the line  "done <index> <witness_ms> <prove_ms>"  is
// written to stdout. stdout carries nothing else (console.log is redirected to stderr). Exit status:
//   0  every job proved            2  bad usage, config or job line
//   3  a witness failed (a circuit constraint: the stderr line names the batch index)
//   1  anything else (the stderr line names the batch index when a job was running)
//
// ------------------------------------------------------------------------------------------------
// DETERMINISM: the proof randomness.
//
// snarkjs 0.7.6 groth16.prove draws exactly two random scalars, r then s (src/groth16_prove.js:
// `curve.Fr.random()` twice). ffjavascript 0.3.1 WasmField1.random() is `fromRng(getThreadRng())`,
// and getThreadRng() returns a ChaCha generator cached per thread (src/random.js), seeded ONCE from
// crypto.randomFillSync -- so patching the OS source is not enough. This script takes the cached
// object (same ES module instance as snarkjs: <ffjavascript>/src/random.js) and replaces its
// nextU32() so that it reads from a per-job stream; the OS hooks ffjavascript/snarkjs use
// (crypto.randomFillSync, globalThis.crypto.getRandomValues) read from the same stream while a job
// runs. The stream is reset at the start of every job:
//
//   stream(seed) = B_0 ‖ B_1 ‖ B_2 ‖ ...      B_j = SHA-256( TAG ‖ seed ‖ u64be(j) )
//   TAG          = lp("por/v1/zk-prove-rng") = 00000013 706f722f76312f7a6b2d70726f76652d726e67
//   seed         = the job's 32 bytes
//
// consumed in order, never rewound. nextU32() = the next 4 stream bytes read big-endian;
// nextU64() = 2^32·nextU32() + nextU32() (first word high). Fr.random() (ffjavascript fromRng,
// n64 = 4) repeats
//       v = Σ_{i=0..3} nextU64()·2^(64·i);   v = v mod 2^254        until v < p
// (p = the BN254 scalar field order; about 24% of draws are rejected) and returns v's 32
// little-endian bytes as a Montgomery-form element, i.e. the scalar is  v · 2^(−256) mod p.
// r is the first such scalar, s the second. Nothing else draws randomness: witness calculation is
// deterministic, and the MSM/FFT worker threads (ffjavascript threadman, separate isolates with
// their own module instances) never call any RNG -- they only do exact group/field arithmetic, so
// how work is split across threads cannot change the result. Fail-closed checks: at start-up a
// probe Fr.random() must consume the stream (else the hook is not wired, e.g. another ffjavascript
// copy); after each job at least 64 stream bytes must have been consumed (r and s); a draw from
// the thread RNG outside a job throws.
//
// The proof reveals nothing only if r, s are unpredictable: the seed must be secret (derived from
// the snapshot's secret), and a seed must never be reused for a different witness.
// ------------------------------------------------------------------------------------------------

import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import readline from "node:readline";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";

const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;
const EXIT_WITNESS = 3;

const TAG = lengthPrefixed(Buffer.from("por/v1/zk-prove-rng", "utf8"));
const SEED_HEX = /^[0-9a-f]{64}$/;

class UsageError extends Error {}

class JobError extends Error {
    constructor(index, stage, cause) {
        super(`batch ${index}: ${stage} failed: ${describe(cause)}`);
        this.index = index;
        this.stage = stage;
    }
}

function lengthPrefixed(bytes) {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(bytes.length);
    return Buffer.concat([len, bytes]);
}

function describe(err) {
    if (err instanceof Error) return err.message.replace(/\s+/g, " ").trim();
    return String(err);
}

// ---------------------------------------------------------------- the seeded stream

/** B_0 ‖ B_1 ‖ ... with B_j = SHA-256(TAG ‖ seed ‖ u64be(j)); see the header comment. */
class SeedStream {
    constructor(seed) {
        if (!(seed instanceof Uint8Array) || seed.length !== 32) throw new Error("seed must be 32 bytes");
        this.prefix = Buffer.concat([TAG, Buffer.from(seed)]);
        this.counter = 0n;
        this.block = Buffer.alloc(0);
        this.pos = 0;
        this.consumed = 0;
    }

    fill(dest) {
        for (let o = 0; o < dest.length;) {
            if (this.pos === this.block.length) {
                const ctr = Buffer.alloc(8);
                ctr.writeBigUInt64BE(this.counter++);
                this.block = crypto.createHash("sha256").update(this.prefix).update(ctr).digest();
                this.pos = 0;
            }
            const n = Math.min(dest.length - o, this.block.length - this.pos);
            dest.set(this.block.subarray(this.pos, this.pos + n), o);
            this.pos += n;
            o += n;
        }
        this.consumed += dest.length;
        return dest;
    }

    nextU32() {
        return Buffer.from(this.fill(new Uint8Array(4))).readUInt32BE(0);
    }
}

let current = null; // the running job's SeedStream, or null between jobs

/** The bytes of a TypedArray/DataView/ArrayBuffer that randomFillSync(buf, offset, size) fills. */
function byteView(buf, offset, size) {
    const view = ArrayBuffer.isView(buf);
    const unit = buf.BYTES_PER_ELEMENT || 1; // node counts offset and size in elements
    const start = (offset ?? 0) * unit;
    const len = size === undefined ? buf.byteLength - start : size * unit;
    return new Uint8Array(view ? buf.buffer : buf, (view ? buf.byteOffset : 0) + start, len);
}

/** Route the OS randomness hooks through the job stream while a job runs. */
function hookOsRandomness() {
    const origFill = crypto.randomFillSync;
    crypto.randomFillSync = function randomFillSync(buf, offset, size) {
        if (current === null) return origFill.call(crypto, buf, offset, size);
        current.fill(byteView(buf, offset, size));
        return buf;
    };
    const web = globalThis.crypto;
    if (web && typeof web.getRandomValues === "function") {
        const origGet = web.getRandomValues.bind(web);
        try {
            Object.defineProperty(web, "getRandomValues", {
                configurable: true, writable: true,
                value(array) {
                    if (current === null) return origGet(array);
                    current.fill(byteView(array));
                    return array;
                },
            });
        } catch {
            // not patchable: neither snarkjs nor ffjavascript use it under node (process.browser unset)
        }
    }
}

/** Replace the cached ffjavascript thread RNG's word source by the job stream. */
function hookThreadRng(randomModule) {
    const rng = randomModule.getThreadRng();
    rng.nextU32 = function nextU32() {
        if (current === null) throw new Error("proof randomness drawn outside a job");
        return current.nextU32();
    };
}

// ---------------------------------------------------------------- loading snarkjs

function packageDir(nodeModules, name, fromDir) {
    // Node's lookup from `fromDir` (a nested copy wins), restricted to the given node_modules tree.
    const require = createRequire(path.join(fromDir, "package.json"));
    let dir = path.dirname(require.resolve(name, { paths: [fromDir, nodeModules] }));
    while (!fs.existsSync(path.join(dir, "package.json")) ||
           JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")).name !== name) {
        const up = path.dirname(dir);
        if (up === dir) throw new UsageError(`cannot locate the package directory of ${name}`);
        dir = up;
    }
    return dir;
}

function esmEntry(dir) {
    const pkg = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8"));
    const exp = pkg.exports && pkg.exports["."];
    const entry = (exp && exp.node && exp.node.import) || pkg.module || "main.js";
    return pathToFileURL(path.join(dir, entry)).href;
}

async function loadSnarkjs(nodeModules) {
    const snarkjsDir = path.join(nodeModules, "snarkjs");
    if (!fs.existsSync(path.join(snarkjsDir, "package.json"))) {
        throw new UsageError(`snarkjs not found in ${nodeModules} (run scripts/setup-node.sh)`);
    }
    const snarkjs = await import(esmEntry(snarkjsDir));
    const ffDir = packageDir(nodeModules, "ffjavascript", snarkjsDir);
    const random = await import(pathToFileURL(path.join(ffDir, "src", "random.js")).href);
    return { snarkjs, random };
}

// ---------------------------------------------------------------- jobs

function parseJob(job, where) {
    if (job === null || typeof job !== "object" || Array.isArray(job)) throw new UsageError(`${where}: not an object`);
    if (!Number.isSafeInteger(job.index) || job.index < 0) throw new UsageError(`${where}: bad "index"`);
    if (job.prove !== undefined && typeof job.prove !== "boolean") throw new UsageError(`${where}: bad "prove"`);
    if (job.prove === false) {
        if (typeof job.witness !== "string" || !job.witness) {
            throw new UsageError(`${where}: a witness-only job needs a "witness" path`);
        }
        if (job.seed !== undefined) throw new UsageError(`${where}: a witness-only job takes no "seed"`);
    } else if (typeof job.seed !== "string" || !SEED_HEX.test(job.seed)) {
        throw new UsageError(`${where}: "seed" must be 64 lowercase hex digits`);
    }
    for (const key of job.prove === false ? [] : ["proof", "public"]) {
        if (typeof job[key] !== "string" || !job[key]) throw new UsageError(`${where}: missing "${key}" path`);
    }
    if (job.witness !== undefined && job.witness !== null && typeof job.witness !== "string") {
        throw new UsageError(`${where}: "witness" must be a path`);
    }
    if (typeof job.input !== "string" && (job.input === null || typeof job.input !== "object")) {
        throw new UsageError(`${where}: "input" must be a path or an object`);
    }
    return job;
}

function writeAtomic(file, data) {
    const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, file);
}

function emit(line) {
    fs.writeSync(1, line + "\n"); // synchronous: the line is out before the next job starts
}

async function prove(ctx, job) {
    const { snarkjs } = ctx;
    let input;
    try {
        input = typeof job.input === "string" ? JSON.parse(fs.readFileSync(job.input, "utf8")) : job.input;
    } catch (err) {
        throw new JobError(job.index, "reading the input", err);
    }
    // a witness-only job has no seed: the proving randomness never leaves Python (SPEC.md §16.15)
    const stream = job.prove === false ? null : new SeedStream(Buffer.from(job.seed, "hex"));
    current = stream;
    try {
        const t0 = performance.now();
        const wtns = { type: "mem" };
        try {
            await snarkjs.wtns.calculate(input, ctx.wasm, wtns);
        } catch (err) {
            throw new JobError(job.index, "witness calculation", err);
        }
        const t1 = performance.now();
        if (job.prove === false) {
            writeAtomic(job.witness, wtns.data);
            emit(`done ${job.index} ${(t1 - t0).toFixed(3)} 0`);
            return;
        }
        let result;
        try {
            result = await snarkjs.groth16.prove(ctx.zkey, wtns);
        } catch (err) {
            throw new JobError(job.index, "groth16 prove", err);
        }
        const t2 = performance.now();
        if (stream.consumed < 64) {
            throw new JobError(job.index, "groth16 prove",
                new Error(`only ${stream.consumed} bytes of the seeded stream were drawn: r, s did not come from it`));
        }
        if (job.witness) writeAtomic(job.witness, wtns.data);
        writeAtomic(job.proof, JSON.stringify(result.proof, null, 1) + "\n");
        writeAtomic(job.public, JSON.stringify(result.publicSignals, null, 1) + "\n");
        emit(`done ${job.index} ${(t1 - t0).toFixed(3)} ${(t2 - t1).toFixed(3)}`);
    } finally {
        current = null;
    }
}

async function* stdinJobs() {
    const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
    let n = 0;
    for await (const line of rl) {
        n += 1;
        if (!line.trim()) continue;
        let job;
        try {
            job = JSON.parse(line);
        } catch (err) {
            throw new UsageError(`stdin line ${n}: not JSON: ${describe(err)}`);
        }
        yield parseJob(job, `stdin line ${n}`);
    }
}

async function main(argv) {
    if (argv.length !== 1) throw new UsageError("usage: node prove_batches.mjs <config.json>  (jobs on stdin)");
    let config;
    try {
        config = JSON.parse(fs.readFileSync(argv[0], "utf8"));
    } catch (err) {
        throw new UsageError(`cannot read the config ${argv[0]}: ${describe(err)}`);
    }
    for (const key of ["node_modules", "zkey", "wasm"]) {
        if (typeof config[key] !== "string") throw new UsageError(`config: missing "${key}"`);
    }
    const { snarkjs, random } = await loadSnarkjs(config.node_modules);
    // Preloaded once: fastfile serves Uint8Arrays as read-only memory files and copies on read.
    let zkey, wasm;
    try {
        zkey = new Uint8Array(fs.readFileSync(config.zkey));
        wasm = new Uint8Array(fs.readFileSync(config.wasm));
    } catch (err) {
        throw new UsageError(`cannot read the zkey or wasm: ${describe(err)}`);
    }

    const curve = await snarkjs.curves.getCurveFromName("bn128");
    hookOsRandomness();
    hookThreadRng(random);
    const probe = new SeedStream(new Uint8Array(32));
    current = probe;
    try {
        curve.Fr.random();
    } finally {
        current = null;
    }
    if (probe.consumed < 32) {
        throw new Error("the ffjavascript thread RNG hook is not wired: Fr.random() did not draw from it");
    }

    const ctx = { snarkjs, zkey, wasm };
    try {
        if (Array.isArray(config.jobs)) {
            for (const [i, job] of config.jobs.entries()) await prove(ctx, parseJob(job, `config job ${i}`));
        } else {
            for await (const job of stdinJobs()) await prove(ctx, job);
        }
    } finally {
        await curve.terminate();
    }
}

console.log = (...args) => console.error(...args); // keep stdout for the "done" protocol

main(process.argv.slice(2)).then(
    () => { process.exitCode = 0; },
    (err) => {
        const code = err instanceof UsageError ? EXIT_USAGE
            : err instanceof JobError && err.stage === "witness calculation" ? EXIT_WITNESS
                : EXIT_FAILURE;
        process.stderr.write(`prove_batches: ${describe(err)}\n`);
        process.exit(code);
    },
);
