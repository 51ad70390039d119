"""The CSV ledger reader's bulk path: blocks of plain rows parsed at C speed (SPEC.md §2).

:mod:`por.core.ledger` reads the header with the exact reader (:mod:`csv`, one
line at a time), then hands the data lines to :func:`fast_rows` (row by row) or
:func:`fast_batches` (:class:`RowBatch` columns), both over :func:`_runs`. That
takes the file in blocks of whole lines and matches each block with one
compiled regular expression built for the header's column order
(:class:`CsvPlan`). A *plain* line is one the expression matches in full: a
printable-ASCII account id without quotes, commas or surrounding spaces (at most
256 bytes), one of the config's bucket ids verbatim, non-negative
``digits[.digits]`` amounts with at most the asset's decimals, then ``\n`` or
``\r\n``. For such a line the :mod:`csv` module's fields are the comma-split
ones and every check of the exact reader passes, so the rows are the same.
A run of plain lines is split and its amounts become integers exactly by the
native scanner (``por.core._ledgerscan``) or, without it, by numpy
(:meth:`CsvPlan.parse_np`, the reference): in uint64, each amount read through a
window aligned on its decimal point (:func:`_minor_units_np`), or -- when a
whole part is long enough to come near 2^64 -- by ``int(whole + fraction padded
to the declared decimals)``.

Anything else -- a quote, a sign, an exponent, a space, a BOM, a blank line,
non-ASCII text, too many decimals, an amount of 2^64 minor units or more, a
line over the length limit, the last line without a line end -- goes to the
exact reader for that one record (``slow_record``), which yields the row or
raises the error it always raised; the bulk path resumes after it. Totals are
checked below 2^64 once per block when every row's vector is its amounts (no
row of a block whose sums stay below 2^64 can cross); otherwise, and for any
other :class:`~por.core.ledger.RowRule`, each row goes through the exact
``account_total``. :func:`fast_rows` yields rows one at a time, ``stats.rows``
counted as each is, each bucket's totals updated just before its row is yielded;
:func:`fast_batches` adds a block's totals and rows at once.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import repeat
from typing import IO, Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from por.core.batchhash import Ragged
from por.core.encoding import U64_LIMIT

try:  # the native scanner is optional: without it, parse_np (numpy) does the same work
    from por.core._ledgerscan import scan as _scan
except ImportError:  # pragma: no cover - depends on the build
    _scan = None
NATIVE_SCAN = os.environ.get("POR_NATIVE_HASH", "1") != "0"
"""Whether :meth:`CsvPlan.parse` uses the native scanner when built (``POR_NATIVE_HASH=0`` turns every native
helper off)."""

CHUNK = 1 << 20
"""Bytes read from the file at a time."""
MAX_BLOCK = 1 << 19
"""Largest block of lines matched at once; after a line the bulk path cannot take, blocks start small again."""
MIN_BLOCK = 1 << 12
_ID = rb"[!#-+\--~]{1,256}"  # printable ASCII but space, '"' and ','; at most 256 bytes
_UNSAFE_BUCKET = re.compile(rb'[,"\r\n\x00]')
_POW10 = 10 ** np.arange(20, dtype=np.uint64)
_PAD = 24


@dataclass
class RowBatch:
    """Consecutive ledger rows as columns: line numbers, UTF-8 account ids, bucket indexes, ``(n, V)`` uint64 vectors."""

    lines: np.ndarray
    accounts: Ragged
    buckets: np.ndarray
    vectors: np.ndarray

    def __len__(self) -> int:
        return len(self.accounts)


class BlockSource:
    """A binary file read in large chunks, offering both whole-line blocks and ``readline(limit)``.

    ``readline`` behaves as :meth:`io.BufferedReader.readline` does (up to ``limit`` bytes, through the
    first ``\\n``), so the exact reader can take over at any line and hand back after any record. At most
    one chunk plus one line is held.
    """

    def __init__(self, fh: IO[bytes], chunk: int | None = None) -> None:
        self.fh, self.chunk = fh, chunk or CHUNK
        self.buf, self.pos, self.eof = b"", 0, False
        self.start = 0  # file offset of buf[0]
        self.end: int | None = None  # read nothing at or after this offset (None: to the end of the file)

    def fill(self) -> None:
        """Append the next chunk to the unread bytes (sets ``eof`` when there is none)."""
        size = self.chunk
        if self.end is not None:
            size = min(size, self.end - self.start - len(self.buf))
        data = b"" if self.eof or size <= 0 else self.fh.read(size)
        if not data:
            self.eof = True
        self.start += self.pos
        self.buf = self.buf[self.pos:] + data
        self.pos = 0

    def tell(self) -> int:
        """The file offset of the next unread byte."""
        return self.start + self.pos

    def seek(self, lo: int, hi: int) -> None:
        """Read bytes ``lo .. hi - 1`` of the file from now on, as if the file were only those."""
        self.fh.seek(lo)
        self.buf, self.pos, self.eof, self.start, self.end = b"", 0, False, lo, hi

    def readline(self, limit: int) -> bytes:
        """The next line, or its first ``limit`` bytes; ``b""`` at the end of the file."""
        while True:
            stop = self.pos + limit
            nl = self.buf.find(b"\n", self.pos, stop)
            if nl >= 0:
                end = nl + 1
                break
            if len(self.buf) >= stop or self.eof:
                end = min(len(self.buf), stop)
                break
            self.fill()
        line = self.buf[self.pos:end]
        self.pos = end
        return line


def _minor_units_np(padded: Any, dots: Any, starts: Any, ends: Any, d: int) -> Any:
    """Integer minor units of the plain amounts ``digits[.digits]`` (at most ``d`` fraction digits) at
    ``starts[i]:ends[i]`` of a block, computed exactly in uint64 -- or None when a whole part is so long that a
    value could reach 10^19 (those go through :func:`_minor_units_py`).

    ``padded`` is the block with :data:`_PAD` zero bytes on both sides; ``dots`` the sorted offsets of every
    ``.`` in the block. Each amount is read through a window aligned on its decimal point (or its end), so
    every window column has one fixed weight: ``10^(d-1-t)`` for whole digits ``t < 0`` places left of the
    point, ``10^(d-t)`` for fraction digits, 0 for the point; bytes outside the field count as zero digits.
    """
    point = ends
    if len(dots):
        k = dots[np.minimum(np.searchsorted(dots, starts), len(dots) - 1)]
        point = np.where((k >= starts) & (k < ends), k, ends)
    whole = int((point - starts).max())
    if whole + d > 19:
        return None
    t = np.arange(-whole, d + 1)
    weight = np.where(t == 0, 0, _POW10[np.where(t < 0, d - 1 - t, d - t)])
    window = sliding_window_view(padded, whole + 1 + d)[point - whole + _PAD]
    inside = (t >= (starts - point)[:, None]) & (t < (ends - point)[:, None])
    return np.where(inside, window - 48, 0).astype(np.uint64) @ weight


def _minor_units_py(texts: Sequence[bytes], d: int) -> list[int]:
    """Integer minor units of plain amounts: the whole digits followed by the fraction padded to ``d`` digits."""
    return [int(w + f.ljust(d, b"0")) for w, _, f in map(bytes.partition, texts, repeat(b"."))]


class CsvPlan:
    """The compiled pattern of plain data lines for one header, and the bulk conversion of a run of them."""

    def __init__(self, header: Sequence[str], acc_col: int, bkt_col: int, asset_of: dict[int, int],
                 decimals: Sequence[int], bucket_index: dict[str, int]) -> None:
        buckets = {b.encode("utf-8"): i for b, i in bucket_index.items() if not _UNSAFE_BUCKET.search(b.encode())}
        alternatives = b"|".join(re.escape(b) for b in sorted(buckets, key=len, reverse=True))
        parts: list[bytes] = []
        self.assets: list[tuple[int, int, int]] = []  # (column, slot, decimals)
        longest = 0
        for col in range(len(header)):
            if col == acc_col:
                parts.append(_ID)
                longest += 256
            elif col == bkt_col:
                parts.append(b"(?:" + alternatives + b")")
                longest += max(map(len, buckets), default=0)
            else:
                slot = asset_of[col]
                d = decimals[slot]
                parts.append(rb"[0-9]{1,20}(?:\.[0-9]{1,%d})?" % d if d else rb"[0-9]{1,20}")
                self.assets.append((col, slot, d))
                longest += 21 + d
        self.acc_col, self.bkt_col, self.width = acc_col, bkt_col, len(header)
        self.n_assets = len(decimals)
        self.buckets = buckets
        self.longest = longest + len(header) - 1
        names = [b"\n"] * (max(buckets.values(), default=-1) + 1)  # "\n" never matches a field: unsafe ids
        for name, i in buckets.items():
            names[i] = name
        self._names = tuple(names)
        self.run = re.compile(b"(?:" + b",".join(parts) + rb"\r?\n)*+")
        """Matches the longest run of plain lines from where it starts."""
        self.usable = bool(buckets) and bool(self.assets)

    def parse(self, chunk: bytes) -> tuple[Ragged, Any, list[int], Any]:
        """``(account ids as UTF-8, bucket indexes, per-slot sums, amounts as a uint64 matrix)`` of ``chunk``, a
        run of plain lines: by the native scanner when it is built (``por.core._ledgerscan``), else
        :meth:`parse_np` (the reference; the tests compare the two).

        The rows stop before the first with an amount of 2^64 minor units or more (the exact reader refuses it).
        """
        if b"\r" in chunk:
            chunk = chunk.replace(b"\r\n", b"\n")
        if _scan is None or not NATIVE_SCAN:
            return self.parse_np(chunk)
        n = chunk.count(b"\n")
        ids, lengths, bidx, values, rows = _scan(chunk, n, self.width, self.acc_col, self.bkt_col, self._names,
                                                 tuple(self.assets), self.n_assets)
        matrix = np.frombuffer(values, dtype=np.uint64).reshape(n, self.n_assets)[:rows]
        accounts = Ragged.from_lengths(ids, np.frombuffer(lengths, dtype=np.uint32)[:rows])
        return accounts, np.frombuffer(bidx, dtype=np.int64)[:rows], exact_sums(matrix), matrix

    def parse_np(self, chunk: bytes) -> tuple[Ragged, Any, list[int], Any]:
        """:meth:`parse` with numpy (``chunk`` with LF line ends)."""
        n = chunk.count(b"\n")
        w = self.width
        flat = chunk.replace(b"\n", b",").split(b",")
        block = np.frombuffer(chunk, np.uint8)
        ends = np.flatnonzero((block == 44) | (block == 10)).reshape(n, w)
        starts = np.empty_like(ends)
        starts[:, 1:] = ends[:, :-1] + 1
        starts[1:, 0] = ends[:-1, -1] + 1
        starts[0, 0] = 0
        padded = np.zeros(len(chunk) + 2 * _PAD, np.uint8)
        padded[_PAD:-_PAD] = block
        dots = np.flatnonzero(block == 46)
        matrix = np.zeros((n, self.n_assets), np.uint64)
        rows = n
        for col, slot, d in self.assets:
            arr = _minor_units_np(padded, dots, starts[:, col], ends[:, col], d)
            if arr is None:
                vals = _minor_units_py(flat[col:n * w:w], d)
                if max(vals) >= U64_LIMIT:
                    rows = min(rows, next(i for i, v in enumerate(vals) if v >= U64_LIMIT))
                    vals = [min(v, U64_LIMIT - 1) for v in vals]  # rows from the first too large are dropped
                arr = np.array(vals, dtype=np.uint64)
            matrix[:, slot] = arr
        matrix = matrix[:rows]
        lengths = (ends[:rows, self.acc_col] - starts[:rows, self.acc_col]).astype(np.uint64)
        accounts = Ragged.from_lengths(b"".join(flat[self.acc_col:rows * w:w]), lengths)
        bidx = np.fromiter(map(self.buckets.__getitem__, flat[self.bkt_col:rows * w:w]), dtype=np.int64, count=rows)
        return accounts, bidx, exact_sums(matrix), matrix


def exact_sums(matrix: Any) -> list[int]:
    """The exact column sums of a ``(n, A)`` uint64 matrix (``n < 2^32``) as integers: the high and low 32-bit
    halves are summed apart, so neither can wrap."""
    hi = (matrix >> np.uint64(32)).sum(axis=0, dtype=np.uint64)
    lo = (matrix & np.uint64(0xFFFFFFFF)).sum(axis=0, dtype=np.uint64)
    return [(int(h) << 32) + int(l) for h, l in zip(hi, lo)]


def running_totals(totals: list[list[int]], bidx: list[int], matrix: Any) -> list[list[int]]:
    """Each row's bucket totals once it is added: ``totals[b]`` plus the rows of bucket ``b`` up to it.

    Exact in uint64 only when every bucket's final total is below 2^64 (the caller checks; amounts >= 0).
    """
    out = np.empty_like(matrix)
    buckets = np.asarray(bidx)
    for b in set(bidx):
        mask = buckets == b
        out[mask] = np.cumsum(matrix[mask], axis=0) + np.array(totals[b], dtype=np.uint64)
    return out.tolist()


def _runs(src: BlockSource, lineno: int, plan: CsvPlan, max_line: int,
          slow_record: Callable[[int], tuple[int, Any] | None]) -> Iterator[tuple[int, Any, Any]]:
    """The data records after line ``lineno``, as ``(last line, parsed run, None)`` for each run of plain lines
    (:meth:`CsvPlan.parse`'s tuple) and ``(last line, None, row or None)`` for each record read exactly.

    ``slow_record(lineno)`` reads one record at the source's position with the exact reader and returns
    ``(its last line, its row or None for a blank line)``, or None at the end of the file.
    """
    run = plan.run.match
    want = MIN_BLOCK
    while True:
        buf, pos = src.buf, src.pos
        if len(buf) - pos < want and not src.eof:
            src.fill()
            continue
        end = buf.rfind(b"\n", pos, pos + want) + 1 or buf.find(b"\n", pos) + 1
        if end <= pos:  # no whole line in the buffer
            if not src.eof and len(buf) - pos <= max_line + 2:
                src.fill()  # a partial line that may still be within the limit
                continue
            if src.eof and pos >= len(buf):
                return
        else:
            stop = run(buf, pos, end).end()  # the plain lines from pos
            whole = stop == end
            want = min(MAX_BLOCK, 2 * want) if whole else max(MIN_BLOCK, 2 * (stop - pos))
            if stop > pos:
                chunk = buf[pos:stop]
                parsed = plan.parse(chunk)
                n = len(parsed[0])
                if n < chunk.count(b"\n"):  # stopped before an amount of 2^64 or more
                    whole = False
                    stop = pos
                    for _ in range(n):
                        stop = buf.index(b"\n", stop) + 1
                src.pos = stop
                lineno += n
                if n:
                    yield lineno, parsed, None
            if whole:
                continue
        rec = slow_record(lineno)  # the exact reader, for one record
        if rec is None:
            return
        lineno, row = rec
        yield lineno, None, row


def fast_rows(src: BlockSource, lineno: int, plan: CsvPlan, max_line: int,
              slow_record: Callable[[int], tuple[int, Any] | None],
              plain: bool, totals: list[list[int]], grand: list[int],
              account_total: Callable[[int, list[int], int, str], list[int]], stats: Any) -> Iterator[Any]:
    """Yield ``(line, account_id, bucket_index, vector)`` for every data row after line ``lineno``.

    ``plain``: the row rule's vector is the amounts (so a block's sums bound every running total in it).
    """
    for last, parsed, row in _runs(src, lineno, plan, max_line, slow_record):
        if parsed is None:
            if row is not None:
                yield row
            continue
        raw, bidx_a, sums, matrix = parsed
        accounts = list(map(bytes.decode, raw.items()))
        bidx = bidx_a.tolist()
        amounts = matrix.tolist()
        lines = range(last - len(accounts) + 1, last + 1)
        if plain and all(g + s < U64_LIMIT for g, s in zip(grand, sums)):
            for a, s in enumerate(sums):
                grand[a] += s
            for row, running in zip(zip(lines, accounts, bidx, amounts), running_totals(totals, bidx, matrix)):
                totals[row[2]][:] = running
                stats.rows += 1
                yield row
        else:
            for line, account, b, vals in zip(lines, accounts, bidx, amounts):
                vals = account_total(b, vals, line, account)
                stats.rows += 1
                yield line, account, b, vals


def fast_batches(src: BlockSource, lineno: int, plan: CsvPlan, max_line: int,
                 slow_record: Callable[[int], tuple[int, Any] | None],
                 plain: bool, totals: list[list[int]], grand: list[int],
                 account_total: Callable[[int, list[int], int, str], list[int]], stats: Any) -> Iterator[Any]:
    """Like :func:`fast_rows`, but a run of plain lines comes as one :class:`~por.core.ledger.RowBatch` (its
    bucket totals added at once); records read exactly come as rows, as there."""
    width = len(totals[0]) if totals else 0
    for last, parsed, row in _runs(src, lineno, plan, max_line, slow_record):
        if parsed is None:
            if row is not None:
                yield row
            continue
        accounts, buckets, sums, matrix = parsed
        first = last - len(accounts) + 1
        if plain and all(g + s < U64_LIMIT for g, s in zip(grand, sums)):
            for a, s in enumerate(sums):
                grand[a] += s
            for b in np.unique(buckets).tolist():
                add = sums if len(totals) == 1 else exact_sums(matrix[buckets == b])
                totals[b][:] = [t + v for t, v in zip(totals[b], add)]
            vectors = matrix
        else:
            rows = [account_total(b, vals, line, account.decode())
                    for line, account, b, vals in zip(range(first, last + 1), accounts.items(), buckets.tolist(),
                                                      matrix.tolist())]
            vectors = np.array(rows, dtype=np.uint64).reshape(len(rows), width)
        stats.rows += len(accounts)
        yield RowBatch(np.arange(first, last + 1, dtype=np.int64), accounts, buckets, vectors)
