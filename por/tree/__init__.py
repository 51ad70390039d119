"""The Merkle-sum tree every mode shares (placement, padding, levels, the top tree, path climbing) and the SQLite store
proofs are served from (SPEC.md §4, §5, §7).
"""
