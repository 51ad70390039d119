// por batch circuit (SPEC.md §16): 2^K leaves x A assets.
//
// Proves, for private per-leaf inputs (account, salt, balance[A]):
//   * every balance is in [0, 2^64)                          (circomlib Num2Bits(64) per balance)
//   * leaf_i = Poseidon(account_i, salt_i, balance_i[0], ..., balance_i[A-1])   (width t = A + 3)
//   * root   = binary Poseidon(left, right) Merkle tree over leaf_0 .. leaf_{2^K - 1}
//              (node j of level l is Poseidon(node 2j, node 2j+1 of level l - 1); width t = 3)
//   * sum[a] = balance_0[a] + ... + balance_{2^K - 1}[a], and sum[a] is in [0, 2^64) (Num2Bits(64))
// Public signals, in this order: root, sum[0], ..., sum[A-1] (outputs; the circuit has no public inputs).
//
// No sum can wrap the field: 2^K * (2^64 - 1) < 2^84 << p ~ 2^253.6 for every K this template
// accepts, so the field sum equals the integer sum; the 64-bit check on sum[a] then makes it a u64.
//
// The main component is generated per (K, A) by por/zk/toolchain.py (main_source):
//   pragma circom 2.1.0; include "batch.circom"; component main = Batch(K, A);
// and compiled with -l circuits -l node_modules (circomlib 2.0.5, pinned in package.json).
pragma circom 2.1.0;

include "circomlib/circuits/poseidon.circom";
include "circomlib/circuits/bitify.circom";

// One leaf: range-check every balance and hash the leaf.
template BatchLeaf(A) {
    signal input account;
    signal input salt;
    signal input balance[A];
    signal output hash;

    component range[A];
    component h = Poseidon(2 + A);
    h.inputs[0] <== account;
    h.inputs[1] <== salt;
    for (var a = 0; a < A; a++) {
        range[a] = Num2Bits(64);
        range[a].in <== balance[a];
        h.inputs[2 + a] <== balance[a];
    }
    hash <== h.out;
}

// A batch of 2^K leaves: Poseidon Merkle root and range-checked per-asset sums.
template Batch(K, A) {
    assert(K >= 0 && K <= 20);
    assert(A >= 1 && A <= 14);   // circomlib Poseidon takes at most 16 inputs: 2 + A <= 16
    var N = 1 << K;

    signal input account[N];
    signal input salt[N];
    signal input balance[N][A];
    signal output root;
    signal output sum[A];

    // nodes: level 0 (the leaves) at 0 .. N-1, level l at 2N - 2(N >> (l-1)) .. 2N - 2(N >> l) - 1,
    // the root (level K) at 2N - 2.
    signal nodes[2 * N - 1];

    component leaf[N];
    for (var i = 0; i < N; i++) {
        leaf[i] = BatchLeaf(A);
        leaf[i].account <== account[i];
        leaf[i].salt <== salt[i];
        for (var a = 0; a < A; a++) {
            leaf[i].balance[a] <== balance[i][a];
        }
        nodes[i] <== leaf[i].hash;
    }

    component hasher[N - 1];
    var h = 0;
    for (var l = 1; l <= K; l++) {
        var below = 2 * N - 2 * (N >> (l - 1));
        var here = 2 * N - 2 * (N >> l);
        for (var j = 0; j < (N >> l); j++) {
            hasher[h] = Poseidon(2);
            hasher[h].inputs[0] <== nodes[below + 2 * j];
            hasher[h].inputs[1] <== nodes[below + 2 * j + 1];
            nodes[here + j] <== hasher[h].out;
            h++;
        }
    }
    root <== nodes[2 * N - 2];

    component sumRange[A];
    for (var a = 0; a < A; a++) {
        var total = 0;
        for (var i = 0; i < N; i++) {
            total += balance[i][a];
        }
        sum[a] <== total;
        sumRange[a] = Num2Bits(64);
        sumRange[a].in <== sum[a];
    }
}
