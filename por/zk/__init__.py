"""Zero-knowledge batch proofs (SPEC.md §16): Poseidon, batch encodings, Groth16, node toolchain."""
