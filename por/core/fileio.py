"""Atomic file and directory output: a crash never leaves a half-written artifact."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np


@contextlib.contextmanager
def atomic_writer(path: Path, *, mode: int = 0o644, durable: bool = True) -> Iterator[IO[bytes]]:
    """A file handle on a temp file beside ``path``, renamed over ``path`` when the block ends without error.

    The temp file gets ``mode`` before anything is written and, when ``durable``, is fsynced before the rename
    (scratch files that die with their build, such as a sharded build's work files, pass ``durable=False``).
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), mode)
            yield fh
            fh.flush()
            if durable:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_bytes(path: Path, data: bytes, *, mode: int = 0o644, durable: bool = True) -> None:
    """Write ``data`` to a temp file beside ``path``, fsync (when ``durable``), chmod, then rename over ``path``."""
    with atomic_writer(path, mode=mode, durable=durable) as fh:
        fh.write(data)


def reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``object_pairs_hook`` for :func:`json.loads`: a key twice in one object is an error, never "last wins"."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


MiB = 1 << 20

MAX_JSON_DEPTH = 64
"""Deepest nesting of arrays and objects in any JSON document `por` reads (SPEC.md §1.1); the deepest
legitimate document nests about 7 levels."""

JSON_LIMITS: dict[str, int] = {
    "proof": 4 * MiB,
    "snapshot": 16 * MiB,
    "solvency proof": 4 * MiB,
    "batch proof": 1 * MiB,
    "verification key": 1 * MiB,
    "zk setup": 1 * MiB,
    "log head": 1 * MiB,
    "log inclusion proof": 1 * MiB,
    "log consistency proof": 1 * MiB,
    "log metadata": 1 * MiB,
    "reserves": 64 * MiB,
    "UTXO snapshot": 256 * MiB,
}
"""The largest file read as each kind of document, in bytes (SPEC.md §1.1): far above any genuine document
(an inclusion proof at height 32 with many assets is a few hundred kB), checked before the file is read."""

DEFAULT_JSON_LIMIT = 16 * MiB


def read_limited(path: Path, what: str, limit: int | None = None, *, regular: bool = False) -> bytes:
    """The bytes of a file of at most ``limit`` bytes (default: :data:`JSON_LIMITS` of ``what``).

    A larger file is :class:`BadInput` before it is read, so a hostile file costs neither time nor memory.
    With ``regular`` (a path named inside a document, not on the command line) the path must be a regular
    file: never a device (``/dev/zero``), a pipe or a directory, which would be read without a size.
    """
    from por.core.errors import BadInput

    limit = limit if limit is not None else JSON_LIMITS.get(what, DEFAULT_JSON_LIMIT)
    if regular:
        try:
            if not stat.S_ISREG(os.stat(path).st_mode):
                raise BadInput(f"{what} is not a regular file", file=str(path))
        except OSError as exc:
            raise BadInput(f"cannot read {what}: {exc.strerror}", file=str(path)) from None
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size > limit:
                raise BadInput(f"{what} is {size} bytes; por reads at most {limit} bytes for a {what}",
                               file=str(path))
            data = fh.read(limit + 1)
    except OSError as exc:
        raise BadInput(f"cannot read {what}: {exc.strerror}", file=str(path)) from None
    if len(data) > limit:  # the file grew while being read
        raise BadInput(f"{what} is over {limit} bytes; por reads at most {limit} bytes for a {what}", file=str(path))
    return data


_SCAN_CHUNK = 1 << 20


def nesting_depth(data: bytes) -> int:
    """The deepest ``[``/``{`` nesting of a JSON text, found without parsing it (strings skipped; C speed).

    Checked before :func:`json.loads`, whose C parser recurses once per level: a 100k-deep document must not
    reach it (the interpreter's recursion limit is raised by some libraries, so the stack could overflow).
    The text is scanned 1 MiB at a time with numpy (a few tens of MiB whatever the document's size; a regular
    expression over its strings needed about 110 bytes per character of one long string). A quote preceded by
    an odd run of backslashes is escaped; brackets between unescaped quotes are inside strings. For text that
    is not JSON the figure is an upper bound of what the parser reaches before its first error.
    """
    depth = best = 0
    in_string = 0  # parity of the unescaped quotes seen
    carry = 0  # length of the run of backslashes that ended the previous chunk
    view = memoryview(data)
    for off in range(0, len(data), _SCAN_CHUNK):
        a = np.frombuffer(view[off: off + _SCAN_CHUNK], dtype=np.uint8)
        n = a.size
        idx = np.arange(n, dtype=np.int32)
        last_plain = np.maximum.accumulate(np.where(a == 92, np.int32(-1), idx))  # last non-backslash <= i
        run = np.empty(n, dtype=np.int32)  # backslashes just before i
        run[0] = carry
        run[1:] = idx[:-1] - last_plain[:-1] + np.where(last_plain[:-1] < 0, carry, 0)
        quotes = (a == 34) & (run % 2 == 0)
        inside = (np.cumsum(quotes, dtype=np.int32) + in_string) % 2 == 1
        step = ((a == 91) | (a == 123)).astype(np.int32) - ((a == 93) | (a == 125)).astype(np.int32)
        step[inside] = 0
        levels = np.cumsum(step, dtype=np.int64) + depth
        best = max(best, int(levels.max()))
        depth = int(levels[-1])
        in_string = (in_string + int(quotes.sum())) % 2
        carry = int(n - 1 - last_plain[-1] + (carry if last_plain[-1] < 0 else 0)) if a[-1] == 92 else 0
    return best


def json_depth(doc: Any) -> int:
    """Nesting depth of a parsed JSON value (a scalar is 0, ``[]`` is 1), without recursion."""
    depth = 0
    stack = [(doc, 1)]
    while stack:
        value, d = stack.pop()
        if isinstance(value, dict):
            depth = max(depth, d)
            stack += [(v, d + 1) for v in value.values()]
        elif isinstance(value, list):
            depth = max(depth, d)
            stack += [(v, d + 1) for v in value]
    return depth


def loads_json(data: bytes, *, file: str, what: str, **kwargs: Any) -> Any:
    """Strictly parse a UTF-8 JSON document: duplicate keys rejected, nesting at most :data:`MAX_JSON_DEPTH`.

    Every failure is :class:`BadInput` naming ``file`` (never a RecursionError or a traceback). ``kwargs``
    go to :func:`json.loads` (``object_pairs_hook`` defaults to :func:`reject_duplicate_keys`).
    """
    from por.core.errors import BadInput

    kwargs.setdefault("object_pairs_hook", reject_duplicate_keys)
    if nesting_depth(data) > MAX_JSON_DEPTH:
        raise BadInput(f"{what} nests arrays or objects deeper than {MAX_JSON_DEPTH} levels", file=file)
    try:
        doc = json.loads(data.decode("utf-8"), **kwargs)
    except UnicodeDecodeError as exc:
        raise BadInput(f"{what} is not UTF-8 (invalid byte at offset {exc.start})", file=file) from None
    except RecursionError:
        raise BadInput(f"{what} nests arrays or objects deeper than {MAX_JSON_DEPTH} levels", file=file) from None
    except json.JSONDecodeError as exc:
        raise BadInput(f"invalid JSON: {exc.msg}", file=file, line=exc.lineno, column=exc.colno) from None
    except ValueError as exc:
        raise BadInput(f"invalid JSON: {exc}", file=file) from None
    if json_depth(doc) > MAX_JSON_DEPTH:
        raise BadInput(f"{what} nests arrays or objects deeper than {MAX_JSON_DEPTH} levels", file=file)
    return doc


def read_json(path: Path, what: str) -> Any:
    """Read a UTF-8 JSON document of kind ``what`` within its size and depth limits; BadInput naming the file if
    unreadable, too large, not JSON, too deep, or with duplicate keys."""
    return loads_json(read_limited(path, what), file=str(path), what=what)


def canonical_json(doc: Any) -> bytes:
    """The byte form of every JSON artifact: sorted keys, 2-space indent, UTF-8, final newline."""
    return (json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def atomic_write_json(path: Path, doc: Any, *, mode: int = 0o644) -> None:
    atomic_write_bytes(path, canonical_json(doc), mode=mode)


STAGING_SUFFIX = ".partial"
OWNER_FILE = ".por-owner"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def _remove_left_behind(dirs: Iterator[Path], *, unowned: bool) -> list[Path]:
    """Remove the directories among ``dirs`` whose owner process (recorded in :data:`OWNER_FILE`) is gone;
    ``unowned``: whether one without a readable owner record goes too. Links and files are never touched."""
    removed = []
    for d in dirs:
        if not d.is_dir() or d.is_symlink():
            continue
        try:
            pid: int | None = int((d / OWNER_FILE).read_text().strip())
        except (OSError, ValueError):
            pid = None
        if (unowned if pid is None else pid != os.getpid() and not _pid_alive(pid)):
            shutil.rmtree(d, ignore_errors=True)
            removed.append(d)
    return removed


def remove_stale_staging(parent: Path, name: str) -> list[Path]:
    """Remove staging directories of ``parent/name`` left by a process that died (killed, crashed).

    A staging directory records its owner's pid; one whose owner is gone (or that has no owner record:
    the owner died before writing it) is removed. A live concurrent run's staging directory is kept.
    """
    return _remove_left_behind(Path(parent).glob(f".{glob_escape(name)}.*{STAGING_SUFFIX}"), unowned=True)


def remove_dead_workdirs(parent: Path, prefix: str) -> list[Path]:
    """Remove the ``prefix*`` work directories under ``parent`` whose owner process is gone (a killed run).

    A directory without a readable owner record is left alone: it may be another user's, or one being made."""
    return _remove_left_behind(Path(parent).glob(f"{glob_escape(prefix)}*"), unowned=False)


def fsync_path(path: Path) -> None:
    """fsync a file, or a directory (its entries: names renamed into it)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def private_workdir(prefix: str, parent: Path | None = None) -> Iterator[Path]:
    """A fresh private (0700) work directory ``parent/prefix*`` (default: the system's temporary directory)
    recording its owner's pid, removed on exit whatever happened; the directories of the same prefix left by
    dead processes (killed with their work files: salts, balances, witnesses) are removed first."""
    parent = Path(parent) if parent is not None else Path(tempfile.gettempdir())
    remove_dead_workdirs(parent, prefix)
    work = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    try:
        atomic_write_bytes(work / OWNER_FILE, f"{os.getpid()}\n".encode(), mode=0o600)
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)


def glob_escape(name: str) -> str:
    return "".join(f"[{c}]" if c in "*?[]" else c for c in name)


@contextlib.contextmanager
def atomic_directory(final: Path, *, mode: int = 0o755) -> Iterator[Path]:
    """Yield a fresh staging directory; on success rename it to ``final``, on any error remove it.

    ``final`` must not exist, or be an empty directory (which is then replaced). The staging directory is
    ``.<name>.<random>.partial`` beside ``final`` with mode 0700 (private data is written into it) and a record
    of its owner's pid; it gets ``mode`` only when complete, just before the rename. Staging directories of
    ``final`` left by dead processes are removed first (:func:`remove_stale_staging`).
    """
    final = Path(final)
    parent = final.parent if str(final.parent) else Path(".")
    parent.mkdir(parents=True, exist_ok=True)
    remove_stale_staging(parent, final.name)
    staging = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=STAGING_SUFFIX, dir=parent))  # mode 0700
    try:
        atomic_write_bytes(staging / OWNER_FILE, f"{os.getpid()}\n".encode(), mode=0o600)
        yield staging
        (staging / OWNER_FILE).unlink()
        os.chmod(staging, mode)  # public artifacts inside; private files carry their own 0600
        if final.exists():
            final.rmdir()  # only an empty directory may be replaced
        os.replace(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
