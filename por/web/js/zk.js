// por browser verifier: zk mode (SPEC.md §16, §17.26) -- placeholder until the Poseidon/Groth16 part lands.
"use strict";
function make() { throw new Error("zk-mode proofs are not verified by this page yet"); }
module.exports = { make };
