"""The end-to-end story of `por demo` and the example ledger generator (``python -m por.demo.examples``).
"""
