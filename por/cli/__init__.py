"""The `por` command line: a thin typer layer, one module per command group over :mod:`por.cli.common`.
"""
