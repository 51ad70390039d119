"""One harness under atheris (coverage-guided libFuzzer): ``python -m fuzz.atheris_main NAME [libFuzzer args]``.

Started by ``fuzz/run.py --engine atheris``, one process per harness. `por` is imported instrumented;
the custom mutator mixes libFuzzer's byte mutations with the structure-aware ones of :mod:`fuzz.mutate`.
An exception other than a PorError of exit code 1 or 2 is a crash (libFuzzer writes the input to
``-artifact_prefix``); ``-timeout`` and ``-rss_limit_mb`` bound each input's time and the memory.
"""

from __future__ import annotations

import random
import sys

import atheris

with atheris.instrument_imports(include=["por"]):
    import importlib
    import pkgutil

    import por

    for _mod in pkgutil.walk_packages(por.__path__, "por."):  # every module the harnesses reach, instrumented
        if not _mod.name.startswith(("por.demo", "por.__main__")):
            importlib.import_module(_mod.name)
from fuzz import harnesses  # noqa: E402
from fuzz.mutate import Mutator  # noqa: E402


def main() -> None:
    name = sys.argv.pop(1)
    h = harnesses.HARNESSES[name]
    pool = [data for _, data in h.seeds()]
    for mode in ("public", "hiding", "margin", "margin_hiding", "zk", "margin_zk"):
        harnesses.trusted_snapshot(mode)  # loaded before fuzzing starts

    def one(data: bytes) -> None:
        harnesses.outcome(h, data)

    def mutator(data: bytes, max_size: int, seed: int) -> bytes:
        rng = random.Random(seed)
        if rng.random() < 0.5:
            return atheris.Mutate(data, max_size)
        return Mutator(rng, pool).mutate(data, h.kind)[:max_size]

    atheris.Setup(sys.argv, one, custom_mutator=mutator)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
