"""por: proof of reserves with client-asset segregation.

The library is the product; ``por.cli.app`` is a thin typer layer over it. Start
with :func:`por.snapshot.document.build_snapshot`, :func:`por.proofs.inclusion.make_proofs` and
:func:`por.proofs.inclusion.verify_proof`. Every hashed byte is specified in SPEC.md.
"""

__version__ = "0.1.0"
