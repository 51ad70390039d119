"""Where independent tasks run: in this process, in local worker processes, or on a Dask cluster.

The scale-out work (sharded builds, zk batch proving) is a list of independent,
deterministic tasks, each a module-level function called with picklable arguments whose
result is small (large outputs go to files under a shared work directory). An
:class:`Engine` runs such a list and yields the results **in task order** whatever order
they finish in, so that whatever consumes them writes the same bytes whatever the engine:

* :class:`SerialEngine` -- in this process (the default, and what tests compare against);
* :class:`ProcessEngine` -- ``jobs`` local processes, forked when the caller runs no other thread, else
  spawned; started by :meth:`Engine.start` or by the first run of more than one task;
* :class:`DaskEngine` -- a ``dask.distributed`` cluster at ``tcp://HOST:PORT``, or ``local`` for a
  :class:`distributed.LocalCluster` of two single-threaded worker processes. A worker lost mid-task
  has its tasks re-run elsewhere by the scheduler (tasks must be idempotent: they write their outputs
  atomically). A scheduler that cannot be reached, or a cluster that lost every worker, raises
  :class:`~por.core.errors.ServiceUnavailable` (exit 3).

``progress`` is called with 1 each time a task finishes (shards done / total across workers).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

from por.core.errors import BadInput, PorError, ServiceUnavailable

Task = tuple[Callable[..., Any], tuple[Any, ...]]
"""A task: a module-level function and its (picklable) arguments."""


class Engine(Protocol):
    """Runs independent tasks and yields their results in task order."""

    name: str
    workers: int

    def run(self, tasks: Sequence[Task], progress: Callable[[int], None] | None = None) -> Iterator[Any]:
        """Yield each task's result, in the order of ``tasks``."""
        ...

    def start(self, warm: Sequence[str] = ()) -> None:
        """Get the workers ready now (a local pool starts its processes, each importing the modules named in
        ``warm``: those of the tasks to come) so that they are warm when tasks come."""
        ...

    def close(self) -> None:
        """Release processes or connections."""
        ...


class SerialEngine:
    """Every task in this process, one after the other."""

    name = "serial"
    workers = 1

    def run(self, tasks: Sequence[Task], progress: Callable[[int], None] | None = None) -> Iterator[Any]:
        for fn, args in tasks:
            result = fn(*args)
            if progress:
                progress(1)
            yield result

    def start(self, warm: Sequence[str] = ()) -> None:
        pass

    def close(self) -> None:
        pass


class ProcessEngine:
    """Tasks on ``jobs`` local worker processes (started once, reused across :meth:`run` calls)."""

    name = "processes"

    def __init__(self, jobs: int) -> None:
        if jobs < 1:
            raise BadInput("--jobs must be at least 1", field="jobs")
        self.workers = jobs
        self._pool: Any = None  # started by the first run with more than one task

    def run(self, tasks: Sequence[Task], progress: Callable[[int], None] | None = None) -> Iterator[Any]:
        from concurrent.futures import FIRST_COMPLETED, wait

        if len(tasks) <= 1 and self._pool is None:  # nothing to share out: no process start
            yield from SerialEngine().run(tasks, progress)
            return
        self.start()

        # at most a few tasks ahead of the consumer: results are consumed in order, memory stays bounded
        ahead = 2 * self.workers + 2
        pending: dict[int, Any] = {}
        nxt = 0
        try:
            for i in range(len(tasks)):
                while len(pending) < ahead and nxt < len(tasks):
                    fn, args = tasks[nxt]
                    pending[nxt] = self._pool.submit(fn, *args)
                    nxt += 1
                fut = pending[i]
                while not fut.done():
                    wait([f for f in pending.values() if not f.done()], return_when=FIRST_COMPLETED)
                if progress:
                    progress(1)
                del pending[i]
                yield fut.result()
        finally:
            for f in pending.values():
                f.cancel()

    def start(self, warm: Sequence[str] = ()) -> None:
        """Start the worker processes, each importing the modules named in ``warm`` while the caller goes on.

        They are forked (a few milliseconds) when this process runs no other thread, else spawned (a fresh
        interpreter importing ``warm``: about a quarter of a second): forking a process that has other threads
        could copy a lock one of them holds.
        """
        import multiprocessing
        import threading
        from concurrent.futures import ProcessPoolExecutor

        if self._pool is None:
            method = "fork" if threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods() \
                else "spawn"
            self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=multiprocessing.get_context(method),
                                             initializer=_warm, initargs=(tuple(warm),))
            for _ in range(self.workers):  # the pool starts a process per waiting task
                self._pool.submit(int)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)


def _warm(modules: tuple[str, ...]) -> None:
    """A local worker's first act: import the modules its tasks will need (named by the caller, which knows them)."""
    import importlib

    for name in modules:
        importlib.import_module(name)


class DaskEngine:
    """Tasks on a ``dask.distributed`` cluster (``address`` ``tcp://HOST:PORT``, or ``local``)."""

    name = "dask"

    def __init__(self, address: str, *, timeout: float = 10.0, local_workers: int = 2) -> None:
        try:
            from distributed import Client, LocalCluster
        except ImportError:  # pragma: no cover - dask[distributed] is a dependency
            raise BadInput("--scheduler needs dask[distributed] (pip install 'dask[distributed]')",
                           field="scheduler") from None
        self._cluster = None
        self.address = address
        try:
            if address == "local":
                self._cluster = LocalCluster(n_workers=local_workers, threads_per_worker=1, processes=True,
                                             dashboard_address=None, host="127.0.0.1")
                self._client = Client(self._cluster, timeout=timeout)
            else:
                if not address.startswith(("tcp://", "tls://", "inproc://", "ws://", "wss://")):
                    raise BadInput("the scheduler address must look like tcp://HOST:PORT (or be 'local')",
                                   field="scheduler")
                self._client = Client(address, timeout=timeout)
        except PorError:
            raise
        except (OSError, TimeoutError) as exc:
            raise ServiceUnavailable(f"cannot reach the Dask scheduler at {address}: {exc}") from None
        info = self._client.scheduler_info()
        self.workers = max(1, sum(int(w.get("nthreads", 1)) for w in info.get("workers", {}).values()))

    def run(self, tasks: Sequence[Task], progress: Callable[[int], None] | None = None) -> Iterator[Any]:
        from distributed import as_completed

        futures = [self._client.submit(fn, *args, pure=False) for fn, args in tasks]
        done: dict[int, Any] = {}
        index = {f.key: i for i, f in enumerate(futures)}
        nxt = 0
        try:
            for fut in as_completed(futures):
                try:
                    done[index[fut.key]] = (fut.result(), None)
                except PorError as exc:  # raised when its turn comes: the same error whatever finishes first
                    done[index[fut.key]] = (None, exc)
                except Exception as exc:  # a task lost more workers than the scheduler allows, or a crash
                    if type(exc).__name__ in ("KilledWorker", "CommClosedError", "CancelledError", "TimeoutError"):
                        raise ServiceUnavailable(f"the Dask cluster at {self.address} failed a task: {exc}") from None
                    raise
                if progress:
                    progress(1)
                while nxt in done:
                    result, error = done.pop(nxt)
                    if error is not None:
                        raise error
                    yield result
                    nxt += 1
        finally:
            for f in futures:
                f.release()

    def start(self, warm: Sequence[str] = ()) -> None:
        pass

    def close(self) -> None:
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()


def make_engine(*, jobs: int | None = None, scheduler: str | None = None) -> Engine:
    """The engine named by the CLI options: ``scheduler`` (Dask) wins, else ``jobs`` > 1 processes, else serial."""
    if scheduler:
        return DaskEngine(scheduler)
    if jobs is not None and jobs > 1:
        return ProcessEngine(jobs)
    return SerialEngine()
