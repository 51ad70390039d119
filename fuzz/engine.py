"""The deterministic mutation engine: seeds, then mutants of the pool, each run under a time and memory bound.

Guidance without instrumentation: a mutant joins the pool when its outcome is new -- accepted, or an
error whose reason (digits stripped) was not seen before -- so the pool grows towards inputs that get
deeper into the parser. The coverage-guided engine is atheris (``fuzz/run.py --engine atheris``).

Findings (any is a failure of the contract, see :mod:`fuzz.harnesses`):

* ``crash``: an exception other than a PorError of exit code 1 or 2;
* ``hang``: one input took longer than ``time_bound`` seconds (or was interrupted at ``4 * time_bound``);
* ``memory``: the process's peak RSS grew by more than ``rss_bound_mb`` over its value before the run.
"""

from __future__ import annotations

import base64
import hashlib
import random
import re
import resource
import signal
import time
import traceback
from dataclasses import dataclass, field
from typing import Any

from fuzz.harnesses import Harness
from por.core.errors import PorError
from fuzz.mutate import Mutator

_DIGITS = re.compile(r"\d+|[0-9a-f]{16,}")


class Hang(BaseException):
    """Raised by the alarm in an input that overran its hard time bound (a BaseException: no harness catches it)."""


def _alarm(signum: int, frame: Any) -> None:
    raise Hang()


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass
class Finding:
    harness: str
    kind: str  # crash | hang | memory
    detail: str
    data: bytes

    def to_dict(self) -> dict[str, Any]:
        return {"harness": self.harness, "kind": self.kind, "detail": self.detail,
                "sha1": hashlib.sha1(self.data).hexdigest(), "size": len(self.data),
                "input_b64": base64.b64encode(self.data[:4096]).decode()}


@dataclass
class Stats:
    harness: str
    inputs: int = 0
    accepted: int = 0
    exit1: int = 0
    exit2: int = 0
    pool: int = 0
    seconds: float = 0.0
    slowest: float = 0.0
    rss_growth_mb: float = 0.0
    findings: list[Finding] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"harness": self.harness, "inputs": self.inputs, "accepted": self.accepted, "exit_1": self.exit1,
                "exit_2": self.exit2, "pool": self.pool, "seconds": round(self.seconds, 2),
                "slowest_input_s": round(self.slowest, 3), "rss_growth_mb": round(self.rss_growth_mb, 1),
                "findings": [f.to_dict() for f in self.findings]}


def run_input(h: Harness, data: bytes, stats: Stats, time_bound: float) -> tuple[str, Finding | None]:
    """One input under the bounds: its outcome signature (for the pool) and a finding, if any."""
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, 4 * time_bound)
    t = time.monotonic()
    finding = None
    sig = "crash"
    try:
        h.run(data)
        sig = "ok"
    except PorError as exc:
        if exc.exit_code in (1, 2):
            sig = f"{exc.exit_code}:" + _DIGITS.sub("#", str(getattr(exc, "reason", exc)))[:200]
        else:
            finding = Finding(h.name, "crash", f"{type(exc).__name__} with exit code {exc.exit_code}: {exc}", data)
    except Hang:
        finding = Finding(h.name, "hang", f"interrupted after {4 * time_bound:g} s", data)
    except Exception as exc:  # the contract is broken: record it
        tb = traceback.format_exception(type(exc), exc, exc.__traceback__)
        finding = Finding(h.name, "crash", f"{type(exc).__name__}: {exc}"[:500] + "\n" + "".join(tb[-4:])[-2000:],
                          data)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    dt = time.monotonic() - t
    stats.inputs += 1
    stats.slowest = max(stats.slowest, dt)
    if finding is None:
        if sig == "ok":
            stats.accepted += 1
        elif sig.startswith("1:"):
            stats.exit1 += 1
        else:
            stats.exit2 += 1
        if dt > time_bound:
            finding = Finding(h.name, "hang", f"took {dt:.2f} s (bound {time_bound:g} s)", data)
    return sig, finding


def fuzz(h: Harness, *, inputs: int | None = None, seconds: float | None = None, seed: int = 0,
         time_bound: float = 2.0, rss_bound_mb: float = 512.0, max_findings: int = 20) -> Stats:
    """Run ``h`` on its seeds, then on ``inputs`` mutants (or for ``seconds``), deterministically for ``seed``."""
    stats = Stats(h.name)
    time_bound *= h.slow
    rng = random.Random(f"{seed}:{h.name}")
    seeds = [data for _, data in h.seeds()]
    pool = list(seeds)
    mut = Mutator(rng, pool)
    seen: set[str] = set()
    rss0 = _rss_mb()
    start = time.monotonic()

    def one(data: bytes) -> None:
        sig, finding = run_input(h, data, stats, time_bound)
        if finding is not None:
            if len(stats.findings) < max_findings:
                stats.findings.append(finding)
            return
        growth = _rss_mb() - rss0
        stats.rss_growth_mb = max(stats.rss_growth_mb, growth)
        if growth > rss_bound_mb and not any(f.kind == "memory" for f in stats.findings):
            stats.findings.append(Finding(h.name, "memory", f"peak RSS grew by {growth:.0f} MiB", data))
            return
        if sig not in seen:  # a new outcome (accepted, or an error reason not seen before)
            seen.add(sig)
            if len(pool) < 500 and len(data) < 1 << 20:
                pool.append(data)

    for data in seeds:
        one(data)
    n = 0
    while True:
        if inputs is not None and n >= inputs:
            break
        if seconds is not None and time.monotonic() - start >= seconds:
            break
        if inputs is None and seconds is None:
            break
        parent = pool[rng.randrange(len(pool))] if pool else b""
        one(mut.mutate(parent, h.kind))
        n += 1
    stats.pool = len(pool)
    stats.seconds = time.monotonic() - start
    return stats
