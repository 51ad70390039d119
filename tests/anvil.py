"""Pytest plugin: a real local anvil chain for the chain tests (load with ``pytest_plugins = ["tests.anvil"]``).

``anvil`` (session-scoped) starts ``node_modules/.bin/anvil`` (npm ``@foundry-rs/anvil``, installed by
``scripts/setup-node.sh``) on a free port of 127.0.0.1 with the default test mnemonic, waits until it
answers JSON-RPC, yields an :class:`Anvil` (URL, funded private keys, an RPC client) and stops it at the
end of the session. If anvil is not installed the fixture *fails* (it never skips silently).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from por.reserves.devchain import ANVIL_BIN, CHAIN_ID, MNEMONIC, Anvil, start_anvil  # noqa: F401 (re-exported for tests)


@pytest.fixture(scope="session")
def anvil() -> Iterator[Anvil]:
    """A real anvil on 127.0.0.1:<free port> for the whole test session."""
    node, error = None, ""
    try:
        node = start_anvil()
    except FileNotFoundError as exc:
        error = str(exc)
    except RuntimeError as exc:
        error = f"could not start anvil: {exc}"
    if node is None:
        pytest.fail(error, pytrace=False)
    try:
        yield node
    finally:
        node.stop()
        if node.log_path is not None:
            node.log_path.unlink(missing_ok=True)
