"""por: proof of reserves with client-asset segregation.

The library is the product; ``por.cli`` is a thin typer layer over it. Start
with :func:`por.snapshot.build_snapshot`, :func:`por.proof.make_proofs` and
:func:`por.proof.verify_proof`. Every hashed byte is specified in SPEC.md.
"""

__version__ = "0.1.0"
