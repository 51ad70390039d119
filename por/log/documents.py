"""The transparency log's JSON documents: their format names and version, and strict field parsing.

Shared by the entries, heads, the log store and the proof verifiers of :mod:`por.log`: a document
that is not of the expected format and version is :class:`BadInput`; a malformed field inside one
is :class:`VerificationFailed` naming the document and the field.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from por.core.encoding import FORMAT_VERSION
from por.core.errors import BadInput, VerificationFailed
from por.core.fileio import read_json

LOG_FORMAT = "por-log"
HEAD_FORMAT = "por-log-head"
INCLUSION_FORMAT = "por-log-inclusion-proof"
CONSISTENCY_FORMAT = "por-log-consistency-proof"
LOG_VERSION = FORMAT_VERSION

_HEX32_RE = re.compile(r"[0-9a-f]{64}")


# ------------------------------------------------------------------ strict field parsing

def _bad(where: str, field: str, message: str) -> VerificationFailed:
    return VerificationFailed(f"field {field!r} {message}", where=where)


def _check_format(doc: Any, fmt: str, *, file: str) -> None:
    """Not an object of format ``fmt`` and version 1: bad input (exit 2)."""
    if not isinstance(doc, dict) or doc.get("format") != fmt:
        raise BadInput(f"not a {fmt} document", file=file, field="format")
    v = doc.get("version")
    if type(v) is not int or v != LOG_VERSION:
        raise BadInput(f"unsupported {fmt} version {v!r} (this por reads {LOG_VERSION})", file=file, field="version")


def _exact_keys(obj: Any, keys: set[str], *, where: str, field: str = "$") -> None:
    if not isinstance(obj, dict):
        raise _bad(where, field, "must be an object")
    if set(obj) != keys:
        missing, extra = sorted(keys - set(obj)), sorted(set(obj) - keys)
        raise _bad(where, field, f"has the wrong keys (missing {missing}, unexpected {extra})")


def _uint(value: Any, *, where: str, field: str, limit: int) -> int:
    if type(value) is not int or not 0 <= value < limit:
        raise _bad(where, field, f"must be an integer in [0, {limit})")
    return value


def _hex32(value: Any, *, where: str, field: str) -> bytes:
    if not isinstance(value, str) or not _HEX32_RE.fullmatch(value):
        raise _bad(where, field, "must be 64 lowercase hex digits")
    return bytes.fromhex(value)


def _hex_list(value: Any, *, where: str, field: str = "path") -> list[bytes]:
    if not isinstance(value, list) or len(value) > 2 * 64 + 1:
        raise _bad(where, field, "must be a list of at most 129 hashes")
    return [_hex32(v, where=where, field=f"{field}[{i}]") for i, v in enumerate(value)]


def load_json(path: Path, what: str) -> Any:
    """Read a JSON document (BadInput naming the file if unreadable or not JSON)."""
    return read_json(path, what)
