"""The auditor's checks (re-derive every tree, verify proofs, reserves, anchor, log), the HTML report, the offline
browser verifier page.
"""
