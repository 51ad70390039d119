"""Proofs over a built snapshot: inclusion proofs (make and verify), zero-knowledge solvency (hiding mode).
"""
