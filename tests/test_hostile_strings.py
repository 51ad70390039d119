"""Hostile strings (SPEC.md §2.1, §2.2): snapshot ids, bucket ids and asset symbols are refused at ingest unless
``[A-Za-z0-9._-]`` (first alphanumeric); account ids may hold any printable text -- HTML, quotes, ``../``,
rich markup -- and are escaped in every output: the terminal (rich markup), the audit report's HTML, the
exported proofs' file names (never outside the output directory, never ``index.json``)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from por.cli.app import app
from por.proofs.inclusion import proof_filename

from .conftest import SECRET

HOSTILE = ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "../../etc/passwd", "..", ".", "a/b",
           "[/x]", "[bold red]boom[/]", "index", "INDEX", "acct-0123456789abcdef01234567", "Alice", "alice",
           "O'Brien & Co", "é" * 128, "x" * 256, "con", "a\\b", "-rf"]
REFUSED_IDS = ["<b>", 'a"b', "../x", "a/b", "a\nb", "a\x00b", "-x", ".x", "x" * 65, "", "a b", "ü"]
BAD_ACCOUNTS = ["\u202eevil", "a\nb", "a\x00b", "a\tb", " a", "a ", "x" * 257, "\x1b[31m"]

CONFIG = 'snapshot_id = "{sid}"\nas_of = "2026-11-20T00:00:00Z"\n[assets]\nBTC = 8\n[buckets.{bucket}]\nkind = "custody"\n'


def run(*args: object):
    return CliRunner().invoke(app, [str(a) for a in args])


def _csv_cell(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


@pytest.mark.parametrize("value", REFUSED_IDS)
@pytest.mark.parametrize("where", ["sid", "bucket"])
def test_ids_outside_the_allowed_characters_are_refused_at_ingest(tmp_path: Path, value: str, where: str) -> None:
    ids = {"sid": "ok-1", "bucket": "vault"}
    ids[where] = value
    bucket = json.dumps(ids["bucket"]) if where == "bucket" else ids["bucket"]  # a quoted TOML key
    cfg = tmp_path / "snapshot.toml"
    cfg.write_text(CONFIG.format(sid=ids["sid"].replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
                                 .replace("\x00", "\\u0000"), bucket=bucket.replace("\x00", "\\u0000")))
    (tmp_path / "ledger.csv").write_text(f"account_id,bucket,BTC\nalice,{_csv_cell(ids['bucket'])},1\n")
    secret = tmp_path / "secret.key"
    secret.write_text(SECRET.hex())
    secret.chmod(0o600)
    r = run("build", "--config", cfg, "--ledger", tmp_path / "ledger.csv", "--out", tmp_path / "out",
            "--secret", secret)
    assert r.exit_code == 2, (value, r.output)
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("account", BAD_ACCOUNTS)
def test_account_ids_with_control_characters_or_over_256_bytes_are_refused(tmp_path: Path, account: str) -> None:
    cfg = tmp_path / "snapshot.toml"
    cfg.write_text(CONFIG.format(sid="ok-1", bucket="vault"))
    ledger = tmp_path / "ledger.jsonl"
    ledger.write_text(json.dumps({"account_id": account, "bucket": "vault", "BTC": "1"}) + "\n")
    secret = tmp_path / "secret.key"
    secret.write_text(SECRET.hex())
    secret.chmod(0o600)
    r = run("build", "--config", cfg, "--ledger", ledger, "--out", tmp_path / "out", "--secret", secret)
    assert r.exit_code == 2 and ":1:" in r.output and "account_id" in r.output, r.output


@pytest.mark.parametrize("account", HOSTILE + BAD_ACCOUNTS)
def test_exported_proof_file_names_stay_in_the_output_directory(account: str) -> None:
    name = proof_filename(account)
    assert name.endswith(".json") and name != "index.json" and name.lower() != "index.json"
    assert "/" not in name and "\\" not in name and not name.startswith(".") and name.isprintable()
    assert os.path.basename(name) == name and len(name.encode()) <= 105


@pytest.fixture(scope="module")
def hostile_snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("hostile-strings")
    (d / "snapshot.toml").write_text(CONFIG.format(sid="hostile-1", bucket="vault"))
    rows = "".join(f"{_csv_cell(a)},vault,{i + 1}\n" for i, a in enumerate(HOSTILE))
    (d / "ledger.csv").write_text("account_id,bucket,BTC\n" + rows)
    secret = d / "secret.key"
    secret.write_text(SECRET.hex())
    secret.chmod(0o600)
    r = run("build", "--config", d / "snapshot.toml", "--ledger", d / "ledger.csv", "--out", d / "snap",
            "--secret", secret)
    assert r.exit_code == 0, r.output
    return d


def test_prove_all_with_hostile_account_ids(hostile_snapshot: Path) -> None:
    d = hostile_snapshot
    out = d / "proofs"
    r = run("prove", d / "snap", "--all", "--out", out)
    assert r.exit_code == 0, r.output
    index = json.loads((out / "index.json").read_text())
    assert sorted(index) == sorted(HOSTILE)
    names = list(index.values())
    assert len({n.lower() for n in names}) == len(names), "two proofs share a file (case-insensitively)"
    assert sorted(p.name for p in out.iterdir()) == sorted(names + ["index.json"])
    assert not (d / "etc").exists() and not Path("/etc/passwd.json").exists()
    for account, name in index.items():
        assert json.loads((out / name).read_text())["account_id"] == account


@pytest.mark.parametrize("account", ["[/x]", "[bold red]boom[/]", "<script>alert(1)</script>"])
def test_verify_prints_hostile_account_ids_as_text(hostile_snapshot: Path, tmp_path: Path, account: str) -> None:
    """A valid proof of account '[/x]' crashed `por verify` (rich read the id as markup: MarkupError, exit 1)."""
    d = hostile_snapshot
    proof = tmp_path / "p.json"
    assert run("prove", d / "snap", "--account", account, "--out", proof).exit_code == 0
    r = run("verify", proof, "--snapshot", d / "snap")
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    assert r.exit_code == 0, r.output
    assert account in " ".join(r.output.split()).replace(" ", "") or account.replace(" ", "") in \
        r.output.replace(" ", "").replace("\n", "")


def test_error_messages_print_hostile_values_as_text(tmp_path: Path) -> None:
    """A ledger naming bucket '[/x]' crashed `por build` with a MarkupError traceback and exit 1."""
    cfg = tmp_path / "snapshot.toml"
    cfg.write_text(CONFIG.format(sid="ok-1", bucket="vault"))
    ledger = tmp_path / "ledger.csv"
    ledger.write_text("account_id,bucket,BTC\nalice,[/x]<b>,1\n")
    secret = tmp_path / "secret.key"
    secret.write_text(SECRET.hex())
    secret.chmod(0o600)
    r = run("build", "--config", cfg, "--ledger", ledger, "--out", tmp_path / "out", "--secret", secret)
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    assert r.exit_code == 2 and "[/x]<b>" in r.output, r.output


def test_the_audit_report_escapes_hostile_account_ids(hostile_snapshot: Path) -> None:
    d = hostile_snapshot
    if not (d / "proofs").exists():
        assert run("prove", d / "snap", "--all", "--out", d / "proofs").exit_code == 0
    # a forged proof file whose account id is HTML: the audit reports it as a failure, escaped
    index = json.loads((d / "proofs" / "index.json").read_text())
    forged = json.loads((d / "proofs" / index["alice"]).read_text())
    forged["account_id"] = "<script>alert('x')</script>"
    (d / "proofs" / "forged.json").write_text(json.dumps(forged))
    r = run("audit", "--config", d / "snapshot.toml", "--ledger", d / "ledger.csv", "--secret", d / "secret.key",
            "--snapshot", d / "snap" / "snapshot.json", "--proofs", d / "proofs", "--report", d / "report")
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    html = (d / "report" / "report.html").read_text()
    assert "<script" not in html and "<img" not in html and "onerror=alert" not in html.replace("&", "")
    assert "&lt;script&gt;" in html or "script" not in (d / "report" / "report.json").read_text()
    (d / "proofs" / "forged.json").unlink()
