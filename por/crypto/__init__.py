"""secp256k1 behind one interface (coincurve, with py_ecc as the reference), Pedersen commitments and generators, the
Fiat-Shamir transcript, aggregated Bulletproofs range proofs (SPEC.md §14). Imports only por.core.
"""
