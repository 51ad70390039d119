"""A real Dask cluster on loopback for the tests: one ``dask scheduler`` and two ``dask worker`` processes.

Started from the project's virtualenv (``<sys.prefix>/bin/dask``) on free ports, stopped (and their process
groups killed) at teardown. Workers run under a nanny, so a worker killed with ``kill -9`` is restarted and
its tasks re-run elsewhere by the scheduler.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

DASK = Path(sys.executable).with_name("dask")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Cluster:
    address: str
    procs: list[subprocess.Popen]

    def worker_pids(self) -> dict[str, int]:
        """Worker address -> pid of the worker process (not its nanny)."""
        from distributed import Client

        with Client(self.address, timeout=10) as c:
            return c.run(os.getpid)


@contextmanager
def dask_cluster(tmp: Path, workers: int = 2) -> Iterator[Cluster]:
    """A scheduler and ``workers`` single-threaded workers on 127.0.0.1; yields once all workers joined."""
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[1]),
                                                         os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
           "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}
    log = open(tmp / "dask.log", "ab")
    procs = [subprocess.Popen([str(DASK), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                               "--no-dashboard"], stdout=log, stderr=log, env=env, start_new_session=True)]
    try:
        for _ in range(workers):
            procs.append(subprocess.Popen([str(DASK), "worker", address, "--nthreads", "1", "--nworkers", "1",
                                           "--host", "127.0.0.1", "--no-dashboard", "--local-directory",
                                           str(tmp / "dask-worker-space")],
                                          stdout=log, stderr=log, env=env, start_new_session=True))
        from distributed import Client

        deadline = time.monotonic() + 60
        while True:
            try:
                with Client(address, timeout=5) as c:
                    c.wait_for_workers(workers, timeout=max(1.0, deadline - time.monotonic()))
                break
            except (OSError, TimeoutError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        yield Cluster(address, procs)
    finally:
        for p in reversed(procs):
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for p in procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        log.close()
