"""Atomic file and directory output: a crash never leaves a half-written artifact."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def atomic_write_bytes(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Write ``data`` to a temp file beside ``path``, fsync, chmod, then rename over ``path``."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), mode)
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``object_pairs_hook`` for :func:`json.loads`: a key twice in one object is an error, never "last wins"."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def read_json(path: Path, what: str) -> Any:
    """Read a UTF-8 JSON document; BadInput naming the file if unreadable, not JSON, or with duplicate keys."""
    from por.core.errors import BadInput

    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise BadInput(f"cannot read {what}: {exc.strerror}", file=str(path)) from None
    try:
        return json.loads(data.decode("utf-8"), object_pairs_hook=reject_duplicate_keys)
    except UnicodeDecodeError:
        raise BadInput(f"{what} is not valid UTF-8", file=str(path)) from None
    except ValueError as exc:
        raise BadInput(f"invalid JSON: {exc}", file=str(path)) from None


def canonical_json(doc: Any) -> bytes:
    """The byte form of every JSON artifact: sorted keys, 2-space indent, UTF-8, final newline."""
    return (json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def atomic_write_json(path: Path, doc: Any, *, mode: int = 0o644) -> None:
    atomic_write_bytes(path, canonical_json(doc), mode=mode)


@contextlib.contextmanager
def atomic_directory(final: Path) -> Iterator[Path]:
    """Yield a fresh staging directory; on success rename it to ``final``, on any error remove it.

    ``final`` must not exist, or be an empty directory (which is then replaced).
    """
    final = Path(final)
    parent = final.parent if str(final.parent) else Path(".")
    parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".partial", dir=parent))
    try:
        os.chmod(staging, 0o755)  # public artifacts inside; secrets carry their own 0600
        yield staging
        if final.exists():
            final.rmdir()  # only an empty directory may be replaced
        os.replace(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
