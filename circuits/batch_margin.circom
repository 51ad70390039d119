// por margin batch circuit: 2^K margin leaves x A assets, each leaf holding equity and debt,
// with the per-account rule value_base >= 0 enforced for EVERY leaf (issue 8; SPEC.md §17.3–§17.5).
//
// Proves, for private per-leaf inputs (account, salt, equity[A], debt[A]) and public factors
// f_eq[A], f_debt[A] (the base-haircut integer factors of SPEC.md §17.3):
//   * every factor is in [0, 2^64)                            (Num2Bits(64) per f_eq[a], f_debt[a])
//   * every equity and every debt is in [0, 2^64)             (Num2Bits(64) per value)
//   * leaf_i = Poseidon(account_i, salt_i, equity_i[0..A-1], debt_i[0..A-1])   (n = 2 + 2A inputs,
//     width t = 2A + 3 >= 5, so never the width-3 node permutation: leaves and nodes are separated)
//   * value_base_i = sum_a f_eq[a]*equity_i[a] - sum_a f_debt[a]*debt_i[a] >= 0   (per leaf)
//   * root = binary Poseidon(left, right) Merkle tree over leaf_0 .. leaf_{2^K - 1} (as Batch, §16.4.3)
//   * equity_sum[a] = sum_i equity_i[a], debt_sum[a] = sum_i debt_i[a], each in [0, 2^64)
//
// Public signals, in this order (snarkjs/circom: outputs first, then public inputs, each in
// declaration order): root, equity_sum[0..A-1], debt_sum[0..A-1], f_eq[0..A-1], f_debt[0..A-1]
// (nPublic = 1 + 4A).
//
// Tiers are NOT enforced here: the circuit checks the BASE haircut (f_eq = g[a][0]) only, exactly as
// the Merkle tree's nodes do (value_base is linear, SPEC.md §17.4). value_tiered <= value_base, so the
// tiered per-account rule is stronger; it stays a build-time / audit check (SPEC.md §17.5).
//
// No field wrap-around (p ~ 2^253.6):
//   * each f < 2^64 and each equity/debt < 2^64, so each product f*x < 2^128 and
//     pos = sum_a f_eq[a]*equity[a] < A*2^128 <= 7*2^128 < 2^131, likewise neg < 2^131: both field
//     values equal the integers.
//   * diff = pos - neg (mod p). If pos >= neg (integers), diff = pos - neg < 2^131 < 2^132 and
//     Num2Bits(132) succeeds. If pos < neg, diff = p - (neg - pos) >= p - 2^131 > 2^132, so no 132-bit
//     decomposition exists (Num2Bits(132) forces in = sum bits_j 2^j < 2^132 < p, unique): the witness
//     cannot be built and no proof exists. Hence Num2Bits(132) on diff <=> value_base >= 0.
//   * sums: 2^K*(2^64 - 1) < 2^84 << p for K <= 20, so the field sum is the integer sum.
//
// The main component is generated per (K, A) by por/zk/toolchain.py (main_source(..., template=
// "BatchMargin")): pragma circom 2.1.0; include "batch_margin.circom";
//   component main {public [f_eq, f_debt]} = BatchMargin(K, A);
// and compiled with -l circuits -l node_modules (circomlib 2.0.5, pinned in package.json).
pragma circom 2.1.0;

include "circomlib/circuits/poseidon.circom";
include "circomlib/circuits/bitify.circom";

// One margin leaf: range-check equity and debt, enforce value_base >= 0, hash the leaf.
template MarginLeaf(A) {
    signal input account;
    signal input salt;
    signal input equity[A];
    signal input debt[A];
    signal input f_eq[A];      // range-checked once by BatchMargin
    signal input f_debt[A];
    signal output hash;

    component eqRange[A];
    component debtRange[A];
    signal pos[A];             // f_eq[a] * equity[a]
    signal neg[A];             // f_debt[a] * debt[a]
    component h = Poseidon(2 + 2 * A);
    h.inputs[0] <== account;
    h.inputs[1] <== salt;
    var diff = 0;
    for (var a = 0; a < A; a++) {
        eqRange[a] = Num2Bits(64);
        eqRange[a].in <== equity[a];
        debtRange[a] = Num2Bits(64);
        debtRange[a].in <== debt[a];
        h.inputs[2 + a] <== equity[a];
        h.inputs[2 + A + a] <== debt[a];
        pos[a] <== f_eq[a] * equity[a];
        neg[a] <== f_debt[a] * debt[a];
        diff += pos[a] - neg[a];
    }
    // value_base = diff in [0, 2^132): see the no-wrap argument in the header.
    component valueRange = Num2Bits(132);
    valueRange.in <== diff;
    hash <== h.out;
}

// A batch of 2^K margin leaves: Poseidon Merkle root, per-leaf rule, range-checked sums.
template BatchMargin(K, A) {
    assert(K >= 0 && K <= 20);
    assert(A >= 1 && A <= 7);    // circomlib Poseidon takes at most 16 inputs: 2 + 2A <= 16
    var N = 1 << K;

    signal input account[N];
    signal input salt[N];
    signal input equity[N][A];
    signal input debt[N][A];
    signal input f_eq[A];        // public (main component's {public [f_eq, f_debt]})
    signal input f_debt[A];
    signal output root;
    signal output equity_sum[A];
    signal output debt_sum[A];

    component feqRange[A];
    component fdebtRange[A];
    for (var a = 0; a < A; a++) {
        feqRange[a] = Num2Bits(64);
        feqRange[a].in <== f_eq[a];
        fdebtRange[a] = Num2Bits(64);
        fdebtRange[a].in <== f_debt[a];
    }

    // nodes: as in Batch (batch.circom): leaves at 0 .. N-1, the root at 2N - 2.
    signal nodes[2 * N - 1];

    component leaf[N];
    for (var i = 0; i < N; i++) {
        leaf[i] = MarginLeaf(A);
        leaf[i].account <== account[i];
        leaf[i].salt <== salt[i];
        for (var a = 0; a < A; a++) {
            leaf[i].equity[a] <== equity[i][a];
            leaf[i].debt[a] <== debt[i][a];
            leaf[i].f_eq[a] <== f_eq[a];
            leaf[i].f_debt[a] <== f_debt[a];
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

    component eqSumRange[A];
    component debtSumRange[A];
    for (var a = 0; a < A; a++) {
        var te = 0;
        var td = 0;
        for (var i = 0; i < N; i++) {
            te += equity[i][a];
            td += debt[i][a];
        }
        equity_sum[a] <== te;
        eqSumRange[a] = Num2Bits(64);
        eqSumRange[a].in <== equity_sum[a];
        debt_sum[a] <== td;
        debtSumRange[a] = Num2Bits(64);
        debtSumRange[a].in <== debt_sum[a];
    }
}
