"""Strict field parsers shared by every JSON document `por` reads (SPEC.md §6, §8).

Snapshots, inclusion proofs, batch proofs and solvency proofs all use the same
field forms: 64 lowercase hex digits for hashes, canonical decimal strings for
u64 amounts, objects with exactly the expected keys, ``{symbol: amount}`` maps
over exactly the snapshot's assets. Each parser raises :class:`BadInput`
naming the file and the field.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from por.core.encoding import U64_LIMIT
from por.core.errors import BadInput

HEX32_RE = re.compile(r"[0-9a-f]{64}")
UINT_RE = re.compile(r"0|[1-9][0-9]{0,19}")

FieldParser = Callable[..., Any]
"""``parse(value, *, file, field)``: one field's value, or :class:`BadInput`."""


def parse_hex32(value: Any, *, file: str, field: str) -> bytes:
    """32 bytes written as 64 lowercase hex digits."""
    if not isinstance(value, str) or not HEX32_RE.fullmatch(value):
        raise BadInput("must be 64 lowercase hex digits", file=file, field=field)
    return bytes.fromhex(value)


def parse_uint64(value: Any, *, file: str, field: str) -> int:
    """A non-negative integer < 2^64 written as a canonical decimal string."""
    if not isinstance(value, str) or not UINT_RE.fullmatch(value) or int(value) >= U64_LIMIT:
        raise BadInput("must be a decimal string of an integer in [0, 2^64)", file=file, field=field)
    return int(value)


def parse_index(value: Any, *, file: str, field: str) -> int:
    """A non-negative JSON integer (never a boolean or a float)."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise BadInput("must be a non-negative integer", file=file, field=field)
    return value


def expect_keys(obj: Any, keys: set[str], *, file: str, field: str) -> dict[str, Any]:
    """``obj`` must be an object with exactly ``keys``."""
    if not isinstance(obj, dict):
        raise BadInput("must be an object", file=file, field=field)
    if set(obj) != keys:
        missing, extra = keys - set(obj), set(obj) - keys
        raise BadInput(f"fields wrong (missing {sorted(missing)}, unexpected {sorted(extra)})", file=file, field=field)
    return obj


def parse_symbol_map(obj: Any, symbols: Sequence[str], parse: FieldParser, *, file: str, field: str) -> list[Any]:
    """``{symbol: value}`` over exactly ``symbols``; the parsed values in ``symbols`` order."""
    expect_keys(obj, set(symbols), file=file, field=field)
    return [parse(obj[s], file=file, field=f"{field}.{s}") for s in symbols]


def parse_amount_map(obj: Any, symbols: Sequence[str], *, file: str, field: str) -> list[int]:
    """``{"SYM": "<u64>", ...}`` with exactly the snapshot's symbols, in canonical order."""
    return parse_symbol_map(obj, symbols, parse_uint64, file=file, field=field)


def symbol_map(symbols: Sequence[str], values: Sequence[Any], item: Callable[[Any], Any] = str) -> dict[str, Any]:
    """The inverse of :func:`parse_symbol_map`: ``{symbol: item(value)}``."""
    return {s: item(v) for s, v in zip(symbols, values, strict=True)}
