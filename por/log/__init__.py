"""The signed, append-only transparency log of snapshot roots (SPEC.md §11).
"""
