"""The zk cache is shared by processes (two `por zk setup` runs, parallel test workers): each entry is built under
an exclusive lock (por.zk.tools.cache_lock), so no two processes build the same circuit, phase 1 or setup at once."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

from por.zk.tools import cache_lock


def _hold(path: str, started, seconds: float) -> None:
    with cache_lock(Path(path)):
        started.set()
        time.sleep(seconds)


def test_a_second_process_waits_for_the_lock(tmp_path: Path) -> None:
    entry = tmp_path / "batch_k2_a2"
    ctx = multiprocessing.get_context("spawn")
    started = ctx.Event()
    holder = ctx.Process(target=_hold, args=(str(entry), started, 1.0))
    holder.start()
    assert started.wait(30)
    t = time.monotonic()
    with cache_lock(entry):
        waited = time.monotonic() - t
    holder.join(30)
    assert waited > 0.5, f"took the lock after {waited:.2f} s while another process held it"
    with cache_lock(entry):  # free again, and reentrant across calls
        pass
