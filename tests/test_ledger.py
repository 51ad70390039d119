"""Ledger ingest: exact amounts, every bad input -> exit 2 naming file/line/column, nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from por.core.config import load_config
from por.core.errors import BadInput
from por.core.ledger import LedgerStats, format_amount, parse_amount, read_ledger

HEADER = b"account_id,bucket,BTC,ETH,USDT\n"


@pytest.mark.parametrize(
    ("text", "decimals", "minor"),
    [("0.5", 8, 50_000_000), ("12", 8, 1_200_000_000), ("0.00000001", 8, 1), ("0", 0, 0),
     ("18446744073709551615", 0, 2**64 - 1), ("10.123456789", 9, 10_123_456_789), ("007.50", 2, 750)],
)
def test_parse_amount_exact(text: str, decimals: int, minor: int) -> None:
    assert parse_amount(text, decimals) == minor
    assert parse_amount(format_amount(minor, decimals), decimals) == minor


@pytest.mark.parametrize("text", ["", "1e5", "1E-3", "NaN", "nan", "inf", "-Infinity", "1.", ".5", "1_000", "١",
                                  " 1", "1 ", "+1", "0x10", "1,5", "--1", "0.123456789"])
def test_parse_amount_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_amount(text, 8)


# (ledger bytes, message fragment, line, column)
BAD_LEDGERS = [
    (HEADER + b"alice,cross,-0.5,0,0\n", "negative amount", 2, 3),
    (HEADER + b"alice,cross,0.123456789,0,0\n", "has 9 decimals", 2, 3),
    (HEADER + b"alice,cross,1e3,0,0\n", "exponent", 2, 3),
    (HEADER + b"alice,cross,NaN,0,0\n", "not a number", 2, 3),
    (HEADER + b"alice,cross,inf,0,0\n", "not a number", 2, 3),
    (HEADER + b"alice,cross,,0,0\n", "empty amount", 2, 3),
    (HEADER + b"alice,cross,abc,0,0\n", "not a plain decimal", 2, 3),
    (HEADER + b"alice,cross,0,0,18446744073709.551616\n", "2^64", 2, 5),
    (HEADER + b"a,cross,0,0,10000000000000\nb,cross,0,0,9000000000000\n", "in bucket 'cross' reaches 2^64", 3, None),
    (HEADER + b"a,cross,0,0,10000000000000\nb,isolated,0,0,9000000000000\n", "over all buckets reaches 2^64", 3, None),
    (b"account_id,bucket,BTC,DOGE\nalice,cross,1,1\n", "unknown asset column 'DOGE'", 1, 4),
    (HEADER + b"alice,nowhere,1,0,0\n", "unknown bucket", 2, 2),
    (HEADER + b"alice,cross,1,0,0\nbob,cross,1,0,0\nalice,cross,2,0,0\n", "duplicate account", 4, None),
    (b"alice,cross,1,0,0\n", "missing header", 1, None),
    (b"", "empty ledger", None, None),
    (HEADER, "empty ledger", None, None),
    (HEADER + b"al\xffice,cross,1,0,0\n", "invalid UTF-8", 2, None),
    (HEADER + b"alice,cross,1,0\n", "fields", 2, None),
    (HEADER + b",cross,1,0,0\n", "account_id", 2, 1),
    (b"account_id,bucket,BTC,BTC\nalice,cross,1,1\n", "duplicate column", 1, 4),
]


@pytest.mark.parametrize(("data", "fragment", "line", "column"), BAD_LEDGERS,
                         ids=[b[1].split()[0] + str(i) for i, b in enumerate(BAD_LEDGERS)])
def test_bad_ledger_exit_2_nothing_written(cli, example, tmp_path: Path, data: bytes, fragment: str,
                                           line: int | None, column: int | None) -> None:
    cfg, ledger = example
    ledger.write_bytes(data)
    out = tmp_path / "out"
    before = set(tmp_path.iterdir())
    res = cli("build", "--config", cfg, "--ledger", ledger, "--out", out, "--json")
    assert res.exit_code == 2, res.output
    doc = json.loads(res.stdout)
    assert fragment in doc["message"]
    assert doc["file"] == str(ledger)
    assert doc["line"] == line
    if column is not None:
        assert doc["column"] == column
    assert not out.exists()
    assert set(tmp_path.iterdir()) == before  # no staging leftovers


BAD_JSONL = [
    (b'{"account_id": "a", "bucket": "cross", "BTC": 1.5e3}\n', "exponent"),
    (b'{"account_id": "a", "bucket": "cross", "BTC": NaN}\n', "not a number"),
    (b'{"account_id": "a", "bucket": "cross", "BTC": "-1"}\n', "negative"),
    (b'{"account_id": 7, "bucket": "cross"}\n', "account_id"),
    (b'{"account_id": "a", "bucket": "cross", "BTC": "1", "BTC": "2"}\n', "duplicate key"),
    (b'{"account_id": "a", "bucket": "cross", "XRP": "1"}\n', "unknown asset"),
    (b'["a", "cross"]\n', "JSON object"),
    (b'{"account_id": "a", "bucket": "cross", "BTC": true}\n', "decimal string"),
    (b'{"account_id": "a"\n', "invalid JSON"),
]


@pytest.mark.parametrize(("data", "fragment"), BAD_JSONL)
def test_bad_jsonl_exit_2(cli, example, tmp_path: Path, data: bytes, fragment: str) -> None:
    cfg, _ = example
    ledger = tmp_path / "ledger.jsonl"
    ledger.write_bytes(b'{"account_id": "ok", "bucket": "cross", "BTC": "1"}\n' + data)
    out = tmp_path / "out"
    res = cli("build", "--config", cfg, "--ledger", ledger, "--out", out, "--json")
    assert res.exit_code == 2, res.output
    doc = json.loads(res.stdout)
    assert fragment in doc["message"] and doc["line"] == 2
    assert not out.exists()


def test_bom_crlf_and_jsonl_give_same_root(cli, example, tmp_path: Path) -> None:
    cfg, ledger = example
    text = ledger.read_bytes()
    variants = {
        "plain.csv": text,
        "bom-crlf.csv": b"\xef\xbb\xbf" + text.replace(b"\n", b"\r\n"),
        "reordered.csv": text.splitlines(keepends=True)[0] + b"".join(reversed(text.splitlines(keepends=True)[1:])),
    }
    rows = [line.split(",") for line in text.decode().splitlines()]
    jsonl = "".join(json.dumps(dict(zip(rows[0], r))) + "\n" for r in rows[1:])
    variants["rows.jsonl"] = jsonl.encode()
    roots = set()
    for name, data in variants.items():
        (tmp_path / name).write_bytes(data)
        res = cli("build", "--config", cfg, "--ledger", tmp_path / name, "--out", tmp_path / f"o-{name}",
                  "--json", "--secret", _secret(tmp_path))
        assert res.exit_code == 0, res.output
        roots.add(json.loads(res.stdout)["snapshot"]["root"])
    assert len(roots) == 1


def _secret(tmp_path: Path) -> Path:
    p = tmp_path / "secret.key"
    if not p.exists():
        p.write_text("11" * 32 + "\n")
        p.chmod(0o600)
    return p


def test_clamp_negative_floors_and_counts(cli, example, tmp_path: Path) -> None:
    cfg, ledger = example
    ledger.write_bytes(HEADER + b"alice,cross,-0.5,1,-3\nbob,cross,1,0,0\n")
    res = cli("build", "--config", cfg, "--ledger", ledger, "--out", tmp_path / "o", "--clamp-negative", "--json")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["clamped"] == 2
    cross = next(b for b in doc["snapshot"]["buckets"] if b["id"] == "cross")
    assert cross["totals"] == {"BTC": "100000000", "ETH": "1000000000", "USDT": "0"}


def test_reader_streams_rows(example) -> None:
    cfg, ledger = example
    config = load_config(cfg)
    stats = LedgerStats()
    it = read_ledger(ledger, config, stats=stats)
    first = next(it)
    assert first == (2, "alice", 0, [50_000_000, 2_000_000_000, 1_000_000_000])
    assert stats.rows == 1  # one row read, not the whole file
    rest = list(it)
    assert stats.rows == 1 + len(rest)


def test_same_account_in_two_buckets_is_two_leaves(proofs) -> None:
    assert [e["bucket"] for e in proofs["alice"]["entries"]] == ["cross", "isolated"]


@pytest.mark.parametrize(
    ("toml", "field"),
    [
        ('snapshot_id = "x y"\nas_of = "2026-11-20T00:00:00Z"\n[assets]\nBTC = 8\n[buckets.a]\nkind = "custody"\n', "snapshot_id"),
        ('snapshot_id = "x"\nas_of = "2026-13-20T00:00:00Z"\n[assets]\nBTC = 8\n[buckets.a]\nkind = "custody"\n', "as_of"),
        ('snapshot_id = "x"\nas_of = "2026-11-20T00:00:00Z"\n[assets]\nBTC = 19\n[buckets.a]\nkind = "custody"\n', "assets.BTC"),
        ('snapshot_id = "x"\nas_of = "2026-11-20T00:00:00Z"\n[assets]\nBTC = 8\n[buckets.a]\nkind = "vault"\n', "buckets.a.kind"),
        ('snapshot_id = "x"\nas_of = "2026-11-20T00:00:00Z"\n[assets]\nBTC = 8\n[buckets.proprietary]\nkind = "custody"\n', "buckets.proprietary"),
        ('snapshot_id = "x"\nas_of = "2026-11-20T00:00:00Z"\n[assets]\nBTC = 8\n', "buckets"),
        ('snapshot_id = "x"\nas_of = "2026-11-20T00:00:00Z"\nextra = 1\n[assets]\nBTC = 8\n[buckets.a]\nkind = "custody"\n', "extra"),
    ],
)
def test_bad_config(tmp_path: Path, toml: str, field: str) -> None:
    p = tmp_path / "c.toml"
    p.write_text(toml)
    with pytest.raises(BadInput) as info:
        load_config(p)
    assert info.value.field == field and info.value.file == str(p)


def test_bad_toml_syntax_exit_2(cli, example, tmp_path: Path) -> None:
    cfg, ledger = example
    cfg.write_text("snapshot_id = \n")
    res = cli("build", "--config", cfg, "--ledger", ledger, "--out", tmp_path / "o")
    assert res.exit_code == 2 and "invalid TOML" in res.stderr
