"""Streaming ledger reader: CSV or JSON Lines -> validated rows in integer minor units (SPEC.md §2).

Rows are yielded one at a time, so a ledger of any length is never held in
memory. Every error is a :class:`~por.core.errors.BadInput` naming file, line,
column (CSV) and field.

CSV: a header ``account_id,bucket,<ASSET>...`` (columns in any order; configured
assets without a column are zero). JSON Lines: one object per line with
``account_id``, ``bucket`` and asset keys whose values are decimal strings or
JSON numbers (taken from their exact source text, never through a float);
absent assets are zero. Blank lines are skipped; a UTF-8 BOM and CRLF line
ends are accepted.

A negative amount is accepted only in a bucket the config lets hold debts
(``allow_debt``; never clamped). What a row's signed amounts become -- the value
vector its leaf carries -- is the :class:`RowRule`'s: by default the amounts
themselves; the value layouts of :mod:`por.modes.values` supply their own (equity
and debt per asset, with the per-account rule, SPEC.md §17.5).
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

import numpy as np

from por.core.batchhash import Ragged
from por.core.config import SnapshotConfig
from por.core.encoding import U64_LIMIT
from por.core.errors import BadInput
from por.core.fileio import reject_duplicate_keys
from por.core.decimals import format_decimal
from por.core.ledger_fast import BlockSource, CsvPlan, RowBatch, fast_batches, fast_rows

MAX_ACCOUNT_ID_BYTES = 256
MAX_LINE_BYTES = 65_536
"""Longest ledger line, in bytes without its line end (SPEC.md §2.2): a genuine row is a few hundred bytes; a
longer line is refused with its number before it is read whole."""
_AMOUNT_RE = re.compile(r"(-?)([0-9]+)(?:\.([0-9]+))?")
_SPECIAL = ("nan", "inf", "infinity")
FAST_CSV = True
"""Whether CSV data lines go through the bulk path of :mod:`por.core.ledger_fast` (False: the exact reader
for every line; tests and benchmarks compare the two)."""


@dataclass
class LedgerStats:
    """What the reader saw: rows, negative amounts clamped to zero, debts, per-bucket per-asset totals.

    ``totals`` holds each bucket's totals of every slot of the rows' vectors (:class:`RowRule`).
    """

    rows: int = 0
    clamped: int = 0
    debts: int = 0
    accounts_with_debt: int = 0
    totals: dict[str, list[int]] = field(default_factory=dict)


class RowRule(Protocol):
    """How one row's signed amounts (minor units, one per asset) become the value vector of its leaf."""

    width: int
    """Slots per vector."""

    def label(self, slot: int) -> tuple[int, str]:
        """``(asset index, suffix)`` naming a slot in messages (e.g. ``(0, " debt")``)."""
        ...

    def negative_hint(self, bucket_id: str) -> str:
        """Why a negative amount in ``bucket_id`` (which allows no debts) is refused."""
        ...

    def vector(self, amounts: list[int], bucket_id: str, *, file: str, line: int, account: str,
               stats: "LedgerStats") -> list[int]:
        """The row's vector; :class:`BadInput` naming file, line and field when the row breaks a rule."""
        ...


class PlainRows:
    """The default rule: the vector is the row's amounts (which are never negative then)."""

    def __init__(self, n_assets: int) -> None:
        self.width = n_assets

    def label(self, slot: int) -> tuple[int, str]:
        return slot, ""

    def negative_hint(self, bucket_id: str) -> str:
        return "a liability cannot be negative; --clamp-negative floors it at 0"

    def vector(self, amounts: list[int], bucket_id: str, *, file: str, line: int, account: str,
               stats: "LedgerStats") -> list[int]:
        return amounts


def parse_amount(text: str, decimals: int) -> int:
    """Exact decimal string -> signed integer minor units. Raises ``ValueError`` with a reason.

    Accepted: ``[-]digits[.digits]`` with ASCII digits and at most ``decimals``
    fraction digits. Rejected: empty, exponents, NaN/inf, signs other than a
    leading ``-``, spaces, underscores, non-ASCII digits.
    """
    m = _AMOUNT_RE.fullmatch(text)
    if m is None:
        low = text.strip().lower().lstrip("+-")
        if text == "":
            raise ValueError("empty amount (write 0 for none)")
        if low in _SPECIAL:
            raise ValueError(f"{text!r} is not a number")
        if "e" in low and any(c.isdigit() for c in low):
            raise ValueError(f"exponent notation {text!r} is not allowed; write the plain decimal")
        raise ValueError(f"{text!r} is not a plain decimal amount")
    sign, whole, frac = m.groups()
    if len(whole) > 40:  # far beyond 2^64 minor units; int() of thousands of digits is slow, then refused
        raise ValueError(f"amount {text[:24]!r}... has {len(whole)} digits: 2^64 minor units or more")
    if frac is None:
        value = int(whole) * 10**decimals
    else:
        if len(frac) > decimals:
            raise ValueError(f"{text!r} has {len(frac)} decimals; the asset declares {decimals}")
        value = int(whole) * 10**decimals + int(frac) * 10 ** (decimals - len(frac))
    return -value if sign else value


def format_amount(minor: int, decimals: int) -> str:
    """Integer minor units -> exact decimal string (inverse of :func:`parse_amount`, trailing zeros trimmed)."""
    return format_decimal(minor, decimals)


def _check_account_id(value: object, err) -> str:
    if not isinstance(value, str) or value == "":
        raise err("account_id is empty or not a string")
    if value != value.strip() or not value.isprintable():
        raise err("account_id has surrounding spaces or control characters")
    if len(value.encode("utf-8")) > MAX_ACCOUNT_ID_BYTES:
        raise err(f"account_id is longer than {MAX_ACCOUNT_ID_BYTES} bytes")
    return value


def _physical_lines(fh: IO[bytes] | BlockSource, path: str, start: int = 0) -> Iterator[bytes]:
    """The file's lines (LF-terminated), each read within :data:`MAX_LINE_BYTES` (a longer one is BadInput).

    ``start``: how many lines of the file were read before (the first line yielded is number ``start + 1``).
    """
    lineno = start
    while True:
        raw = fh.readline(MAX_LINE_BYTES + 3)  # the limit, CR LF, and one byte to see that it is over
        if not raw:
            return
        lineno += 1
        if len(raw.removesuffix(b"\n").removesuffix(b"\r")) > MAX_LINE_BYTES:
            raise BadInput(f"line is longer than {MAX_LINE_BYTES} bytes (a ledger line is one account row)",
                           file=path, line=lineno)
        yield raw


def _decoded_lines(fh: IO[bytes] | BlockSource, path: str, start: int = 0, *, bom: bool = True) -> Iterator[str]:
    """The file's lines as text (a UTF-8 BOM dropped from line 1 when ``bom``: reading from the file's start);
    invalid UTF-8 is BadInput naming the line."""
    for lineno, raw in enumerate(_physical_lines(fh, path, start), start + 1):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadInput(f"invalid UTF-8 at byte {exc.start} of the line", file=path, line=lineno) from None
        if bom and lineno == 1 and text.startswith("\ufeff"):
            text = text[1:]
        yield text


class _Num(str):
    """The source text of a JSON number (kept exact; never a float)."""


def detect_format(path: Path) -> str:
    """``jsonl`` for ``.jsonl``/``.ndjson`` files, else ``csv``."""
    return "jsonl" if Path(path).suffix.lower() in (".jsonl", ".ndjson") else "csv"


def read_ledger_batches(
    path: Path,
    config: SnapshotConfig,
    *,
    clamp_negative: bool = False,
    stats: LedgerStats | None = None,
    fmt: str | None = None,
    rows: RowRule | None = None,
    size: int = 1 << 16,
    span: tuple[int, int, int] | None = None,
) -> Iterator[RowBatch]:
    """The rows of :func:`read_ledger` (same checks, errors and stats), as :class:`RowBatch` columns.

    Runs of plain CSV lines come as one batch each (no Python object per row but the account id); other
    rows are grouped ``size`` at a time. Stats are complete once the iterator is exhausted.

    ``span = (lo, hi, line)`` reads only the CSV data lines in bytes ``lo .. hi - 1`` of the file (``lo`` at or
    after :func:`csv_data_start`, both at line starts), numbering the first as ``line + 1``; the header is still
    read from the file's start. A span with no row is not an error here.
    """
    stats = stats if stats is not None else LedgerStats()
    width = (rows or PlainRows(len(config.assets))).width
    pending: list[tuple[int, str, int, list[int]]] = []

    def flush() -> RowBatch:
        lines, accounts, buckets, vectors = zip(*pending)
        pending.clear()
        return RowBatch(np.array(lines, dtype=np.int64), Ragged.of([a.encode("utf-8") for a in accounts]),
                        np.array(buckets, dtype=np.int64), np.array(vectors, dtype=np.uint64).reshape(-1, width))

    for item in _read(path, config, clamp_negative, stats, fmt, rows, batches=True, span=span):
        if isinstance(item, RowBatch):
            if pending:
                yield flush()
            yield item
        else:
            pending.append(item)
            if len(pending) >= size:
                yield flush()
    if pending:
        yield flush()


def read_ledger(
    path: Path,
    config: SnapshotConfig,
    *,
    clamp_negative: bool = False,
    stats: LedgerStats | None = None,
    fmt: str | None = None,
    rows: RowRule | None = None,
) -> Iterator[tuple[int, str, int, list[int]]]:
    """Yield ``(line, account_id, bucket_index, amounts)`` for each ledger row.

    ``amounts`` are non-negative integers in minor units, in the config's
    canonical asset order. Per-bucket and snapshot-wide per-asset totals are
    checked to stay below 2^64 as rows arrive (the error names the line that
    crosses), so no node of any tree can wrap. With
    ``clamp_negative`` a negative amount becomes 0 and is counted in
    ``stats.clamped``; without it, it is an error. Duplicate (account, bucket)
    pairs are detected by the tree builder, which sees every key.

    A negative amount in a bucket with ``allow_debt`` is a debt (``|x| < 2^64``; never
    clamped, counted in ``stats.debts``). ``rows`` turns each row's amounts into the
    vector yielded (default :class:`PlainRows`: the amounts); every slot's totals are
    checked below 2^64.
    """
    return _read(path, config, clamp_negative, stats, fmt, rows, batches=False)


def csv_data_start(path: Path, config: SnapshotConfig) -> tuple[int, int] | None:
    """``(file offset, line number)`` of the end of a CSV ledger's header when its data lines can be read in byte
    spans (:func:`read_ledger_batches` ``span``): a valid header whose plain lines the bulk reader takes. None
    otherwise (read it whole). Raises :class:`BadInput` for a bad header, as reading would."""
    if detect_format(Path(path)) != "csv" or not FAST_CSV:
        return None
    return next(_read(path, config, False, None, "csv", None, batches=True, probe=True))


def _read(path: Path, config: SnapshotConfig, clamp_negative: bool, stats: LedgerStats | None, fmt: str | None,
          rows: RowRule | None, *, batches: bool, span: tuple[int, int, int] | None = None,
          probe: bool = False) -> Iterator[Any]:
    """:func:`read_ledger`'s rows; with ``batches``, runs of plain CSV lines as :class:`RowBatch` among them.
    ``span``: only those data lines (CSV); ``probe``: yield only :func:`csv_data_start`'s answer."""
    path = Path(path)
    stats = stats if stats is not None else LedgerStats()
    fmt = fmt or detect_format(path)
    name = str(path)
    n_assets = len(config.assets)
    decimals = [a.decimals for a in config.assets]
    bucket_index = {b: i for i, b in enumerate(config.bucket_ids)}
    rule: RowRule = rows if rows is not None else PlainRows(n_assets)
    allow = [config.allows_debt(b) for b in config.bucket_ids]
    width = rule.width
    totals = [[0] * width for _ in config.buckets]
    stats.totals = {b: totals[i] for b, i in bucket_index.items()}
    try:
        fh = open(path, "rb")
    except OSError as exc:
        raise BadInput(f"cannot read ledger: {exc.strerror}", file=name) from None

    def amount(text: str, asset: int, line: int, column: int | None, b: int) -> int:
        try:
            v = parse_amount(text, decimals[asset])
        except ValueError as exc:
            raise BadInput(str(exc), file=name, line=line, column=column, field=config.assets[asset].symbol) from None
        if v < 0:
            if allow[b]:  # a debt (a bucket with allow_debt): never clamped
                if -v >= U64_LIMIT:
                    raise BadInput(f"debt {text!r} is 2^64 minor units or more", file=name, line=line,
                                   column=column, field=config.assets[asset].symbol)
                stats.debts += 1
                return v
            if not clamp_negative:
                raise BadInput(
                    f"negative amount {text!r} ({rule.negative_hint(config.bucket_ids[b])})",
                    file=name, line=line, column=column, field=config.assets[asset].symbol,
                )
            stats.clamped += 1
            return 0
        if v >= U64_LIMIT:
            raise BadInput(f"amount {text!r} is 2^64 minor units or more", file=name, line=line, column=column,
                           field=config.assets[asset].symbol)
        return v

    grand = [0] * width  # the top tree sums every bucket: its root must stay < 2^64 too

    def account_total(b: int, amounts: list[int], line: int, account: str) -> list[int]:
        amounts = rule.vector(amounts, config.bucket_ids[b], file=name, line=line, account=account, stats=stats)
        tot = totals[b]
        for a in range(width):
            v = amounts[a]
            t = tot[a] + v
            g = grand[a] + v
            if g >= U64_LIMIT:
                where = f"in bucket {config.bucket_ids[b]!r}" if t >= U64_LIMIT else "over all buckets"
                asset, suffix = rule.label(a)
                symbol = config.assets[asset].symbol
                raise BadInput(f"total of {symbol}{suffix} {where} reaches 2^64 minor units",
                               file=name, line=line, field=symbol)
            tot[a] = t
            grand[a] = g
        return amounts

    with fh:
        if fmt == "jsonl":
            yield from _read_jsonl(_decoded_lines(fh, name), name, config, bucket_index, amount, account_total, stats)
        elif fmt == "csv":
            if FAST_CSV:
                bulk = (type(rule) is PlainRows, totals, grand, batches)
                yield from _read_csv(BlockSource(fh), name, config, bucket_index, amount, account_total, stats, bulk,
                                     span=span, probe=probe)
                if probe:
                    return
            else:
                yield from _read_csv(fh, name, config, bucket_index, amount, account_total, stats)
        else:
            raise BadInput(f"unknown ledger format {fmt!r} (csv or jsonl)", file=name)
    if stats.rows == 0 and span is None:
        raise BadInput("empty ledger: no account rows", file=name)


def _read_csv(src, name, config, bucket_index, amount, account_total, stats, bulk=None, *, span=None, probe=False):
    """CSV rows (see :func:`read_ledger`). ``bulk`` = ``(plain rule?, bucket totals, grand totals, batches?)`` lets
    plain data lines go through :func:`por.core.ledger_fast.fast_rows` (or, with ``batches``, ``fast_batches``);
    every other record is read here, exactly."""
    reader = csv.reader(_decoded_lines(src, name), strict=True)
    n_assets = len(config.assets)
    try:
        header = None
        for header in reader:
            if header:
                break
        if not header:
            raise BadInput("empty ledger: no header and no rows", file=name)
        hline = reader.line_num
        if "account_id" not in header or "bucket" not in header:
            raise BadInput("missing header: the first line must be account_id,bucket,<ASSET>...", file=name, line=hline)
        seen: set[str] = set()
        asset_cols: list[tuple[int, int]] = []  # (column index, asset index)
        for col, title in enumerate(header):
            if title in seen:
                raise BadInput(f"duplicate column {title!r}", file=name, line=hline, column=col + 1)
            seen.add(title)
            if title in ("account_id", "bucket"):
                continue
            idx = config.asset_index(title)
            if idx is None:
                raise BadInput(f"unknown asset column {title!r} (assets: {', '.join(config.symbols)})",
                               file=name, line=hline, column=col + 1, field=title)
            asset_cols.append((col, idx))
        acc_col = header.index("account_id")
        bkt_col = header.index("bucket")
        width = len(header)

        def exact_row(row: list[str], line: int) -> tuple[int, str, int, list[int]]:
            if len(row) != width:
                raise BadInput(f"row has {len(row)} fields, the header has {width}", file=name, line=line)
            account = _check_account_id(
                row[acc_col], lambda m: BadInput(m, file=name, line=line, column=acc_col + 1, field="account_id"))
            b = bucket_index.get(row[bkt_col])
            if b is None:
                raise BadInput(f"unknown bucket {row[bkt_col]!r} (buckets: {', '.join(config.bucket_ids)})",
                               file=name, line=line, column=bkt_col + 1, field="bucket")
            amounts = [0] * n_assets
            for col, idx in asset_cols:
                amounts[idx] = amount(row[col], idx, line, col + 1, b)
            amounts = account_total(b, amounts, line, account)
            stats.rows += 1
            return line, account, b, amounts

        plan = None
        if bulk is not None:
            plan = CsvPlan(header, acc_col, bkt_col, dict(asset_cols), [a.decimals for a in config.assets],
                           bucket_index)
            if not plan.usable or plan.longest > MAX_LINE_BYTES:
                plan = None
        if probe:
            yield (src.tell(), hline) if plan is not None else None
            return
        if span is not None and plan is None:
            raise ValueError("this ledger cannot be read in spans (csv_data_start is None)")
        if plan is None:
            for row in reader:
                if not row:
                    continue
                yield exact_row(row, reader.line_num)
            return
    except csv.Error as exc:
        raise BadInput(f"malformed CSV: {exc}", file=name, line=reader.line_num) from None

    def slow_record(base: int) -> tuple[int, tuple[int, str, int, list[int]] | None] | None:
        """One record at the source's position, read exactly: ``(its last line, its row or None)``; None at EOF."""
        one = csv.reader(_decoded_lines(src, name, base, bom=span is None), strict=True)
        try:
            row = next(one, None)
        except csv.Error as exc:
            raise BadInput(f"malformed CSV: {exc}", file=name, line=base + one.line_num) from None
        if row is None:
            return None
        line = base + one.line_num
        return line, (exact_row(row, line) if row else None)

    plain, totals, grand, batches = bulk
    if span is not None:
        lo, hi, hline = span
        src.seek(lo, hi)
    reader = fast_batches if batches else fast_rows
    yield from reader(src, hline, plan, MAX_LINE_BYTES, slow_record, plain, totals, grand, account_total, stats)


def _read_jsonl(lines, name, config, bucket_index, amount, account_total, stats):
    n_assets = len(config.assets)
    for line, text in enumerate(lines, 1):
        if not text.strip():
            continue
        try:
            obj = json.loads(text, parse_float=_Num, parse_int=_Num, parse_constant=_Num,
                             object_pairs_hook=reject_duplicate_keys)
        except ValueError as exc:
            raise BadInput(f"invalid JSON: {exc}", file=name, line=line) from None
        if not isinstance(obj, dict):
            raise BadInput("each line must be a JSON object", file=name, line=line)
        err = lambda m, f="account_id": BadInput(m, file=name, line=line, field=f)  # noqa: E731
        if "account_id" not in obj or "bucket" not in obj:
            raise BadInput("object needs account_id and bucket", file=name, line=line)
        acc = obj["account_id"]
        account = _check_account_id(acc if type(acc) is str else None, err)
        bucket = obj["bucket"]
        b = bucket_index.get(bucket) if type(bucket) is str else None
        if b is None:
            raise err(f"unknown bucket {bucket!r} (buckets: {', '.join(config.bucket_ids)})", "bucket")
        amounts = [0] * n_assets
        for key, value in obj.items():
            if key in ("account_id", "bucket"):
                continue
            idx = config.asset_index(key)
            if idx is None:
                raise err(f"unknown asset {key!r} (assets: {', '.join(config.symbols)})", key)
            if not isinstance(value, str):
                raise err("amount must be a decimal string or number", key)
            amounts[idx] = amount(str(value), idx, line, None, b)
        amounts = account_total(b, amounts, line, account)
        stats.rows += 1
        yield line, account, b, amounts
