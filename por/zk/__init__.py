"""Zero-knowledge batch proofs (SPEC.md §16): Poseidon, batch encodings, Groth16, node toolchain.

``poseidon`` and ``batch`` (leaves, levels), ``circuits`` (one descriptor per circom template),
``groth16`` (the py_ecc verifier), ``tools`` / ``build`` / ``prover`` (the node toolchain: running
tools, compiling and setting up circuits, proving), ``setup`` (public parameters and setup
directories), ``witness`` (``.wtns`` files).
"""
