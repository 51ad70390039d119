"""The lowest layer: errors and exit codes, the bytes of every hash (encoding), strict JSON fields, files written
atomically, the master secret and its derivations, exact decimals, snapshot.toml, margin parameters, the ledger reader.
Nothing here imports from another por package.
"""
