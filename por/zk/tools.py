"""The node tools of the zk mode: where they are, how they run, their versions, and build stamps.

Tools come from the repository's ``node_modules`` (``package.json``; ``scripts/setup-node.sh``):
``circom2`` (circom 2.2 compiled to WebAssembly, offline), ``snarkjs`` and ``circomlib``; ``node``
itself must be on ``PATH``. They are found relative to this package, like :mod:`por.reserves.devchain`
finds anvil. A missing tool raises :class:`~por.core.errors.ServiceUnavailable`; a tool that rejects its
input (a witness violating a constraint, a circuit too large for the powers of tau) raises
:class:`ToolError` (a :class:`~por.core.errors.BadInput`), :class:`WitnessError` for witnesses.

Compiling and setting up circuits: :mod:`por.zk.build`; proving: :mod:`por.zk.prover`.
"""

from __future__ import annotations

import contextlib
import fcntl

import hashlib
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from por.core.errors import BadInput, ServiceUnavailable
from por.zk.circuits import BATCH

ROOT = Path(__file__).resolve().parents[2]  # the repository (editable install)
NODE_MODULES = ROOT / "node_modules"
NODE_BIN = NODE_MODULES / ".bin"
CIRCOM_BIN = NODE_BIN / "circom2"
SNARKJS_BIN = NODE_BIN / "snarkjs"
CIRCUITS_DIR = ROOT / "circuits"
"""The circom sources (``CircuitKind.source`` of every kind in :data:`por.zk.circuits.CIRCUITS`)."""
BATCH_SOURCE = CIRCUITS_DIR / BATCH.source
CIRCOMLIB_PACKAGE = NODE_MODULES / "circomlib" / "package.json"

DEFAULT_TIMEOUT = 3600.0
ANSI = re.compile(r"\x1b\[[0-9;]*m")
"""Terminal colour codes, stripped from tool output."""


class ToolError(BadInput):
    """A node tool exited with an error on our input; the message ends with the tool's own words."""


class WitnessError(ToolError):
    """The circuit rejected the input: a constraint failed while computing the witness."""


# ---------------------------------------------------------------- locating and running tools

@dataclass(frozen=True)
class Tools:
    """Paths of ``node`` and of the two npm tools."""

    node: Path
    circom: Path
    snarkjs: Path


def find_tools() -> Tools:
    """Locate node, circom2 and snarkjs, or raise :class:`ServiceUnavailable` saying how to install them."""
    node = shutil.which("node")
    if node is None:
        raise ServiceUnavailable("node not found on PATH: the zk toolchain needs Node.js >= 20 "
                                 "(Debian: apt-get install nodejs npm)")
    for tool, package in ((CIRCOM_BIN, "circom2"), (SNARKJS_BIN, "snarkjs")):
        if not tool.exists():
            raise ServiceUnavailable(f"{tool} is missing: the zk toolchain needs the npm package {package}; "
                                     "run scripts/setup-node.sh (npm ci) in the repository root")
    if not (BATCH_SOURCE.is_file() and CIRCOMLIB_PACKAGE.is_file()):
        raise ServiceUnavailable(f"{BATCH_SOURCE} or circomlib ({CIRCOMLIB_PACKAGE.parent}) is missing: "
                                 "run scripts/setup-node.sh in the repository root")
    return Tools(Path(node), CIRCOM_BIN, SNARKJS_BIN)


def run_tool(args: Sequence[str | Path], what: str, *, cwd: Path, timeout: float,
             error: type[ToolError] = ToolError) -> str:
    """Run a tool; return its combined output, or raise naming ``what`` with the output's tail."""
    cmd = [str(a) for a in args]
    try:
        proc = subprocess.run(cmd, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=timeout, check=False)
    except FileNotFoundError as exc:
        raise ServiceUnavailable(f"{what}: cannot start {cmd[0]}: {exc.strerror}") from None
    except subprocess.TimeoutExpired:
        raise ServiceUnavailable(f"{what}: no result within {timeout:g} s") from None
    out = ANSI.sub("", (proc.stdout or "") + (proc.stderr or ""))
    if proc.returncode != 0:
        raise error(f"{what} failed (exit {proc.returncode}): {tail(out)}")
    return out


def tail(output: str, limit: int = 1500) -> str:
    """The informative part of a tool's output: error lines without the JS stack trace."""
    lines = [ln.strip() for ln in output.splitlines() if ln.strip() and not ln.strip().startswith("at ")]
    text = " | ".join(lines)
    return text[-limit:] if len(text) > limit else text


def run_snarkjs(tools: Tools, *args: str | Path, what: str, cwd: Path, timeout: float = DEFAULT_TIMEOUT,
                error: type[ToolError] = ToolError) -> str:
    """Run the snarkjs CLI under node (see :func:`run_tool`)."""
    return run_tool([tools.node, tools.snarkjs, *args], what, cwd=cwd, timeout=timeout, error=error)


def _package_version(package_json: Path) -> str:
    return json.loads(package_json.read_text())["version"]


def node_version(tools: Tools) -> str:
    """``node --version`` (e.g. ``v20.20.2``)."""
    return run_tool([tools.node, "--version"], "node --version", cwd=ROOT, timeout=60).strip()


def tool_versions() -> dict[str, str]:
    """Pinned versions of circom2, circomlib and snarkjs as installed (for stamps and reports)."""
    return {name: _package_version(NODE_MODULES / name / "package.json")
            for name in ("circom2", "circomlib", "snarkjs")}


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes (build and setup stamps)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def stamp_matches(path: Path, stamp: Mapping[str, object]) -> bool:
    """Whether the JSON stamp at ``path`` (a cached build's inputs) equals ``stamp``."""
    try:
        return json.loads(path.read_text()) == stamp
    except (OSError, ValueError):
        return False


def write_stamp(path: Path, stamp: Mapping[str, object]) -> None:
    path.write_text(json.dumps(stamp, sort_keys=True, indent=2) + "\n")


@contextlib.contextmanager
def cache_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on the cache entry ``path`` (a ``<path>.lock`` file beside it) while it is checked
    and, when stale, rebuilt: two processes sharing a cache (two ``por zk setup`` runs, parallel test workers)
    never build the same circuit, phase-1 file or setup into the same place at once."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def default_cache_dir() -> Path:
    """``$POR_ZK_CACHE`` or ``<repository>/build/zk`` (git-ignored)."""
    env = os.environ.get("POR_ZK_CACHE")
    return Path(env) if env else ROOT / "build" / "zk"
