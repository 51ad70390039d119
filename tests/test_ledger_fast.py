"""The CSV reader's bulk path (por.core.ledger_fast) against the exact reader: same rows, stats and errors.

Every ledger is read twice -- ``FAST_CSV`` on and off -- and the two runs must agree on each row yielded, on
the stats as each row arrives (counts and every bucket's running totals), and on the error (message, file,
line, column, field) that ends the run, if any. Tiny read chunks and blocks make every line cross a boundary.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import por.core.ledger as ledger_mod
import por.core.ledger_fast as fast_mod
from por.core.config import SnapshotConfig, load_config
from por.core.errors import BadInput
from por.core.ledger import MAX_LINE_BYTES, LedgerStats, read_ledger, read_ledger_batches
from por.modes.values import values_for

from .conftest import EXAMPLES
from .test_margin_mode import CONFIG as MARGIN_TOML

PLAIN = load_config(EXAMPLES / "snapshot.toml")  # BTC 8, ETH 9, USDT 6; buckets cross, fund-7, isolated


def _margin(tmp: Path) -> SnapshotConfig:
    p = tmp / "margin.toml"
    p.write_text(MARGIN_TOML)
    return load_config(p)


def outcome(path: Path, config: SnapshotConfig, *, fast: bool, margin: bool = False,
            clamp: bool = False) -> tuple[list[Any], Any]:
    """Each row with a snapshot of the stats as it arrives, and the error that ended the read (or None)."""
    old = ledger_mod.FAST_CSV
    ledger_mod.FAST_CSV = fast
    stats = LedgerStats()
    seen: list[Any] = []
    error = None
    try:
        rows = values_for(config).rows() if margin else None
        for row in read_ledger(path, config, stats=stats, clamp_negative=clamp, rows=rows):
            seen.append((copy.deepcopy(row), stats.rows, stats.clamped, stats.debts, stats.accounts_with_debt,
                         copy.deepcopy(stats.totals)))
    except BadInput as exc:
        error = (str(exc), exc.reason, exc.file, exc.line, exc.column, exc.field)
    finally:
        ledger_mod.FAST_CSV = old
    return seen, error


@pytest.fixture
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks and blocks of a few bytes: lines cross every boundary the bulk path has."""
    monkeypatch.setattr(fast_mod, "CHUNK", 23)
    monkeypatch.setattr(fast_mod, "MIN_BLOCK", 8)
    monkeypatch.setattr(fast_mod, "MAX_BLOCK", 64)


def batched(path: Path, config: SnapshotConfig, *, margin: bool = False, clamp: bool = False) -> tuple[Any, ...]:
    """The rows of read_ledger_batches flattened, the final stats, and the error that ended the read (or None)."""
    stats = LedgerStats()
    seen: list[Any] = []
    error = None
    try:
        rows = values_for(config).rows() if margin else None
        for batch in read_ledger_batches(path, config, stats=stats, clamp_negative=clamp, rows=rows, size=3):
            assert batch.vectors.dtype == np.uint64 and batch.vectors.shape[0] == len(batch)
            seen += [(int(ln), a.decode("utf-8"), int(b), [int(x) for x in v])
                     for ln, a, b, v in zip(batch.lines, batch.accounts.items(), batch.buckets, batch.vectors)]
    except BadInput as exc:
        error = (str(exc), exc.reason, exc.file, exc.line, exc.column, exc.field)
    return seen, (stats.rows, stats.clamped, stats.debts, stats.accounts_with_debt, stats.totals), error


def same(path: Path, config: SnapshotConfig, **kw: Any) -> tuple[list[Any], Any]:
    exact = outcome(path, config, fast=False, **kw)
    quick = outcome(path, config, fast=True, **kw)
    assert quick == exact
    rows, error = exact
    got_rows, got_stats, got_error = batched(path, config, **kw)
    assert got_error == error
    if error is None:  # batches end at an error, rows just before it: compare whole reads only
        assert got_rows == [r[0] for r in rows]
        assert got_stats == (rows[-1][1:] if rows else got_stats)
    return exact


ACCOUNTS = st.one_of(
    st.sampled_from(["alice", "bob", "u-0000001", "john.doe", "a_b", "x" * 256, "x" * 257, "", " a", "a ", "a b",
                     "ü", "名前", "a\tb", '"alice"', 'a"b', '"a,b"', '"a\nb"', '"a""b"', "\ufeffa", "a\x00b",
                     "\x7f", "~!#$%&'()*+-./:;<=>?@[\\]^_`{|}", "a\rb"]),
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126, blacklist_characters=',"'),
            min_size=1, max_size=12),
    st.text(max_size=6),
)
BUCKETS = st.sampled_from(["cross", "fund-7", "isolated", "pm", "spot", "nowhere", "", " cross", '"cross"', "Cross"])
DIGITS = st.text(alphabet="0123456789", min_size=1, max_size=22)
AMOUNTS = st.one_of(
    st.sampled_from(["0", "00", "007.50", "1.", ".5", "-1", "-0", "-0.5", "+1", "1e3", "1E-3", "NaN", "inf", "", " 1",
                     "1 ", "1_000", "0x10", "١", "1.123456789", "0.1234567890", "18446744073709551615",
                     "18446744073709551616", "18446744073709.551615", "18446744073709.551616", "99999999999999999999",
                     "000000000000000000001", "00000000000000000000000000001", "9" * 45, '"1"', "1.5.5", "--1"]),
    st.builds(lambda s, w, f: s + w + ("." + f if f is not None else ""), st.sampled_from(["", "", "", "-"]), DIGITS,
              st.none() | st.text(alphabet="0123456789", min_size=0, max_size=11)),
)
ENDS = st.sampled_from(["\n"] * 8 + ["\r\n"] * 3 + ["\r", "\n\n", "\r\n\r\n", " \n"])
HEADERS = [["account_id", "bucket", "BTC", "ETH", "USDT"], ["bucket", "USDT", "account_id", "BTC"],
           ["ETH", "account_id", "bucket"], ["account_id", "bucket", "BTC", "ETH", "USDT", "ETH"],
           ["account_id", "bucket"], ["account_id", "bucket", "DOGE"]]


@st.composite
def ledgers(draw: Any) -> bytes:
    header = draw(st.sampled_from(HEADERS[:3]) if draw(st.integers(0, 9)) else st.sampled_from(HEADERS))
    out = ("\ufeff" if draw(st.booleans()) else "") + ",".join(header) + draw(ENDS)
    for _ in range(draw(st.integers(0, 12))):
        fields = []
        for col in header:
            if col == "account_id":
                fields.append(draw(ACCOUNTS))
            elif col == "bucket":
                fields.append(draw(BUCKETS))
            else:
                fields.append(draw(AMOUNTS))
        if draw(st.integers(0, 15)) == 0:
            fields = fields[:-1] if draw(st.booleans()) else fields + ["0"]
        out += ",".join(fields) + draw(ENDS)
    if draw(st.booleans()):
        out = out.rstrip("\r\n")  # the last line without a line end
    data = out.encode("utf-8")
    if draw(st.integers(0, 20)) == 0:
        data = data.replace(b"o", b"\xff", 1)  # invalid UTF-8
    return data


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=ledgers(), clamp=st.booleans(), margin=st.booleans())
def test_bulk_path_equals_exact_reader(tmp_path: Path, small_blocks: None, data: bytes, clamp: bool,
                                       margin: bool) -> None:
    path = tmp_path / "ledger.csv"
    path.write_bytes(data)
    config = _margin(tmp_path) if margin else PLAIN
    same(path, config, clamp=clamp, margin=margin)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(st.sampled_from(["alice", "bob", "c.d", "x" * 200]), st.sampled_from(["cross", "fund-7"]),
                               st.lists(st.tuples(DIGITS, st.none() | st.text("0123456789", min_size=1, max_size=9)),
                                        min_size=3, max_size=3)), min_size=1, max_size=40),
       crlf=st.booleans())
def test_plain_ledgers_agree_in_big_and_small_blocks(tmp_path: Path, rows: list[Any], crlf: bool) -> None:
    """Plain rows (the bulk path's own), read with real and with tiny blocks: the exact reader's rows."""
    end = "\r\n" if crlf else "\n"
    text = "account_id,bucket,BTC,ETH,USDT" + end + "".join(
        f"{a},{b}," + ",".join(w + ("." + f if f else "") for w, f in amts) + end for a, b, amts in rows)
    path = tmp_path / "ledger.csv"
    path.write_text(text, newline="")
    expected = same(path, PLAIN)
    old = (fast_mod.CHUNK, fast_mod.MIN_BLOCK, fast_mod.MAX_BLOCK)
    fast_mod.CHUNK, fast_mod.MIN_BLOCK, fast_mod.MAX_BLOCK = 5, 1, 3
    try:
        assert outcome(path, PLAIN, fast=True) == expected
    finally:
        fast_mod.CHUNK, fast_mod.MIN_BLOCK, fast_mod.MAX_BLOCK = old


@pytest.mark.parametrize("case", ["ok-at-limit", "over-limit", "endless", "over-limit-crlf"])
def test_long_lines_agree(tmp_path: Path, small_blocks: None, case: str) -> None:
    head = "account_id,bucket,BTC\nalice,cross,1\n"
    row = lambda acc: f"{acc},cross,1"  # noqa: E731
    n = MAX_LINE_BYTES - len(row(""))
    body = {"ok-at-limit": row("x" * n) + "\r\nbob,cross,2\n", "over-limit": row("x" * (n + 1)) + "\n",
            "endless": "y" * (3 * MAX_LINE_BYTES), "over-limit-crlf": row("x" * (n + 1)) + "\r\n"}[case]
    path = tmp_path / "ledger.csv"
    path.write_text(head + body, newline="")
    _, error = same(path, PLAIN)
    assert error is not None and error[3] == 3


def test_totals_crossing_2_64_name_the_same_line(tmp_path: Path) -> None:
    half = "9223372036854.775808"  # 2^63 minor units of USDT
    rows = "".join(f"u{i},{'cross' if i % 2 else 'fund-7'},0,0,{half if i in (4, 5) else '1'}\n" for i in range(20))
    path = tmp_path / "ledger.csv"
    path.write_text("account_id,bucket,BTC,ETH,USDT\n" + rows)
    seen, error = same(path, PLAIN)
    assert error is not None and "over all buckets reaches 2^64" in error[0] and error[3] == 7 and len(seen) == 5


def test_the_bulk_path_is_taken(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A plain ledger is read without the exact reader after its header."""
    path = tmp_path / "ledger.csv"
    path.write_text("account_id,bucket,BTC\n" + "".join(f"u{i},cross,{i}.5\n" for i in range(1000)))
    calls = []
    real = ledger_mod._decoded_lines
    monkeypatch.setattr(ledger_mod, "_decoded_lines", lambda *a: calls.append(a) or real(*a))
    rows = list(read_ledger(path, PLAIN))
    assert len(rows) == 1000 and rows[-1] == (1001, "u999", 0, [99_950_000_000, 0, 0])
    assert len(calls) == 1  # the header's


# ---------------------------------------------------------------- the native scanner against parse_np

PLAIN_ID = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126, blacklist_characters=',"'),
                   min_size=1, max_size=30)


@st.composite
def plain_chunks(draw: Any) -> tuple[list[str], bytes]:
    header = draw(st.sampled_from(HEADERS[:3]))
    decimals = {"BTC": 8, "ETH": 9, "USDT": 6}
    lines = []
    for _ in range(draw(st.integers(1, 30))):
        fields = []
        for col in header:
            if col == "account_id":
                fields.append(draw(PLAIN_ID))
            elif col == "bucket":
                fields.append(draw(st.sampled_from(["cross", "fund-7", "isolated"])))
            else:
                whole = draw(st.one_of(st.text("0123456789", min_size=1, max_size=3),
                                       st.text("0123456789", min_size=18, max_size=20)))
                frac = draw(st.one_of(st.none(), st.text("0123456789", min_size=1, max_size=decimals[col])))
                fields.append(whole + ("." + frac if frac else ""))
        lines.append(",".join(fields) + "\n")
    return header, "".join(lines).encode()


@pytest.mark.skipif(fast_mod._scan is None, reason="native scanner not built")
@settings(max_examples=300, deadline=None)
@given(case=plain_chunks())
def test_native_scanner_equals_numpy(case: Any) -> None:
    header, chunk = case
    acc, bkt = header.index("account_id"), header.index("bucket")
    assets = {c: PLAIN.asset_index(t) for c, t in enumerate(header) if t not in ("account_id", "bucket")}
    plan = fast_mod.CsvPlan(header, acc, bkt, assets, [a.decimals for a in PLAIN.assets],
                            {b: i for i, b in enumerate(PLAIN.bucket_ids)})
    assert plan.run.match(chunk).end() == len(chunk)  # the scanner's precondition: plain lines only
    got, ref = plan.parse(chunk), plan.parse_np(chunk)
    assert got[0].items() == ref[0].items() and got[1].tolist() == ref[1].tolist()
    assert got[2] == ref[2] and got[3].tolist() == ref[3].tolist()


@pytest.mark.skipif(fast_mod._scan is None, reason="native scanner not built")
def test_native_scanner_refuses_what_the_pattern_never_passes() -> None:
    """Lines the plain-line pattern never lets through are errors, never reads outside the chunk."""
    for chunk, n in ((b"a,cross,1\n", 2), (b"a,cross\n", 1), (b"a,cross,1,2\n", 1), (b"a,nowhere,1\n", 1),
                     (b"a,cross,1", 1)):
        with pytest.raises(ValueError):
            fast_mod._scan(chunk, n, 3, 0, 1, (b"cross",), ((2, 0, 8),), 1)
