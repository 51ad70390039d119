"""Progress reporting for long work: the one protocol every pipeline reports through.

The CLI passes a rich progress bar; library callers pass nothing and get :data:`QUIET`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

Progress = Callable[[int], None]
"""Called with a number of units of work just done (for progress bars)."""


class Reporter(Protocol):
    """Progress sink: a named phase with an optional total, then advances."""

    def phase(self, name: str, total: int | None) -> None: ...
    def advance(self, n: int) -> None: ...


class _Quiet:
    """A reporter that reports nothing (the library default)."""

    def phase(self, name: str, total: int | None) -> None:
        pass

    def advance(self, n: int) -> None:
        pass


QUIET: Reporter = _Quiet()
