"""Defects found by trying `por` as a hostile user would (issue 18), each a regression test.

1. A build killed with SIGKILL leaves no world-readable private data, and the next build removes what the
   dead one left (staging directory 0700, staged rows 0600, stale staging directories of the same output
   path removed).
2. A deeply nested JSON document is bad input (exit 2, one line naming the file and the limit, no
   traceback) for every command that reads one.
3. An oversized document is refused before it is read (exit 2, quickly, in little memory).

(And, for SPEC.md §6: a document with a key twice in one object is bad input for every command.)
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from por.core.fileio import JSON_LIMITS, MAX_JSON_DEPTH, read_json
from por.core.errors import BadInput
from por.demo.examples import write_example

from .conftest import SECRET

POR = [sys.executable, "-m", "por"]
DEEP = "[" * 100_000 + "]" * 100_000


def run(*args: object, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([*POR, *map(str, args)], capture_output=True, text=True, timeout=timeout)


# ---------------------------------------------------------------- 1. a killed build


@pytest.fixture(scope="module")
def big_inputs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """A 100k-row ledger: its build takes long enough to be killed at each stage."""
    d = tmp_path_factory.mktemp("big")
    write_example(d, users=100_000, assets=2, buckets=2)
    secret = d / "secret.key"
    secret.write_text(SECRET.hex() + "\n")
    secret.chmod(0o600)
    return d / "snapshot.toml", d / "ledger.csv", secret


def _staging_dirs(parent: Path, name: str) -> list[Path]:
    return sorted(parent.glob(f".{name}.*.partial"))


def _assert_private(staging: Path) -> None:
    assert stat.S_IMODE(staging.stat().st_mode) == 0o700, staging
    for f in staging.rglob("*"):
        if f.is_file() and f.name != "snapshot.json":  # everything else there is private
            assert stat.S_IMODE(f.stat().st_mode) & 0o077 == 0, f"{f} is readable by others"


def _size(staging: list[Path], name: str) -> int:
    try:
        return max((d / name).stat().st_size for d in staging)
    except (OSError, ValueError):
        return 0


def _work_size(staging: list[Path]) -> int:
    """Bytes of ledger rows partitioned into the build's private work directory so far."""
    total = 0
    for d in staging:
        for f in d.glob("por-work-*/rows-*"):
            try:
                total += f.stat().st_size
            except OSError:
                pass
    return total


MOMENTS = {  # when to kill: the build's own progress, as its staging directory shows it
    "staging created": lambda st: bool(st),
    "rows being partitioned": lambda st: _work_size(st) > 1 << 20,
    "store being written": lambda st: sum(_size(st, f"store/{f.name}") for d in st for f in (d / "store").glob("*"))
    > 1 << 20,
}


@pytest.mark.parametrize("moment", list(MOMENTS))
def test_killed_build_leaves_no_readable_private_data_and_the_rerun_cleans_up(big_inputs, tmp_path: Path,
                                                                            moment: str) -> None:
    """kill -9 while the build reads the ledger, stages rows, writes the store: nothing private is readable by
    others, the output is not visible, and the next build removes the leftovers."""
    config, ledger, secret = big_inputs
    out = tmp_path / "snap"
    proc = subprocess.Popen([*POR, "build", "--config", str(config), "--ledger", str(ledger), "--out", str(out),
                             "--secret", str(secret), "--json"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not MOMENTS[moment](_staging_dirs(tmp_path, "snap")):
        assert proc.poll() is None, f"the build finished before {moment!r}"
        assert time.monotonic() < deadline
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not out.exists(), "a killed build must not leave its output visible"
    left = _staging_dirs(tmp_path, "snap")
    assert left, "SIGKILL cannot clean up: the staging directory stays"
    for staging in left:
        _assert_private(staging)
    r = run("build", "--config", config, "--ledger", ledger, "--out", out, "--secret", secret, "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["ok"] and (out / "snapshot.json").is_file()
    assert _staging_dirs(tmp_path, "snap") == [], "the re-run must remove the dead build's staging directory"
    assert stat.S_IMODE(out.stat().st_mode) == 0o755
    assert stat.S_IMODE((out / "store.sqlite").stat().st_mode) == 0o600
    assert {stat.S_IMODE(f.stat().st_mode) for f in (out / "store").iterdir()} == {0o600}
    assert not (out / ".por-owner").exists() and not list(out.glob("por-work-*"))


def test_a_live_builds_staging_directory_is_kept(tmp_path: Path) -> None:
    """Only dead owners' staging directories are removed: a concurrent run of the same path is left alone."""
    from por.core.fileio import OWNER_FILE, remove_stale_staging

    live = tmp_path / ".snap.live.partial"
    dead = tmp_path / ".snap.dead.partial"
    orphan = tmp_path / ".snap.orphan.partial"
    for d in (live, dead, orphan):
        d.mkdir()
    (live / OWNER_FILE).write_text(f"{os.getppid()}\n")  # our parent: alive
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    (dead / OWNER_FILE).write_text(f"{child.pid}\n")  # exited
    removed = remove_stale_staging(tmp_path, "snap")
    assert sorted(removed) == sorted([dead, orphan]) and live.is_dir()


# ---------------------------------------------------------------- 2. deep JSON, 3. huge files


@pytest.fixture(scope="module")
def docs(built: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A genuine proof, snapshot and signed log head/proof beside the hostile documents."""
    d = tmp_path_factory.mktemp("hostile")
    assert run("prove", built, "--account", "alice", "--out", d / "alice.json").returncode == 0
    log = d / "log"
    assert run("log", "init", "--log", log).returncode == 0
    assert run("log", "append", built, "--log", log).returncode == 0
    assert run("log", "head", "--log", log, "--out", d / "head.json").returncode == 0
    sid = json.loads((built / "snapshot.json").read_text())["metadata"]["snapshot_id"]
    assert run("log", "prove-inclusion", sid, "--log", log, "--out", d / "incl.json").returncode == 0
    (d / "deep.json").write_text(DEEP)
    (d / "reserves.json").write_text("{}")
    return {"dir": d, "alice": d / "alice.json", "snapshot": built / "snapshot.json", "head": d / "head.json",
            "incl": d / "incl.json", "deep": d / "deep.json", "log": log}


def _commands(docs: dict[str, Path], hostile: Path) -> dict[str, list[object]]:
    """Every command that reads a JSON document, with ``hostile`` in the place of one of them."""
    return {
        "verify proof": ["verify", hostile, "--snapshot", docs["snapshot"]],
        "verify snapshot": ["verify", docs["alice"], "--snapshot", hostile],
        "verify log head": ["verify", docs["alice"], "--snapshot", docs["snapshot"], "--log-head", hostile,
                            "--log-proof", docs["incl"]],
        "verify log proof": ["verify", docs["alice"], "--snapshot", docs["snapshot"], "--log-head", docs["head"],
                             "--log-proof", hostile],
        "solvency verify proof": ["solvency", "verify", hostile, "--snapshot", docs["snapshot"]],
        "solvency verify reserves": ["solvency", "verify", docs["alice"], "--snapshot", docs["snapshot"],
                                     "--reserves", hostile],
        "reserves verify": ["reserves", "verify", "--snapshot", docs["snapshot"], "--reserves", hostile],
        "log verify-consistency": ["log", "verify-consistency", hostile, "--old-head", docs["head"],
                                   "--new-head", docs["head"]],
        "export-verifier": ["export-verifier", hostile, "--out", docs["dir"] / "v.html"],
        "zk verify": ["zk", "verify", docs["dir"], "--snapshot", hostile],
    }


@pytest.mark.parametrize("command", sorted(_commands({k: Path(k) for k in
                                                      ("alice", "snapshot", "head", "incl", "dir")}, Path("x"))))
def test_deeply_nested_json_is_bad_input_for_every_command(docs: dict[str, Path], command: str) -> None:
    r = run(*_commands(docs, docs["deep"])[command])
    assert r.returncode == 2, (command, r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr and "RecursionError" not in r.stderr + r.stdout, r.stderr
    message = " ".join(r.stderr.split())  # rich wraps long lines
    assert str(docs["deep"]) in message and f"deeper than {MAX_JSON_DEPTH} levels" in message, message


@pytest.mark.parametrize("command", sorted(_commands({k: Path(k) for k in
                                                      ("alice", "snapshot", "head", "incl", "dir")}, Path("x"))))
def test_a_duplicate_key_is_bad_input_for_every_command(docs: dict[str, Path], command: str) -> None:
    """SPEC.md §1.1, §6 step 1: a key twice in one object is refused when the document is read (never "last
    wins"), whatever the document."""
    dup = docs["dir"] / "dup.json"
    dup.write_text('{"format": "por-snapshot", "format": "por-inclusion-proof"}')
    r = run(*_commands(docs, dup)[command])
    assert r.returncode == 2, (command, r.returncode, r.stdout, r.stderr)
    message = " ".join(r.stderr.split())
    assert str(dup) in message and "duplicate key 'format'" in message, message


def test_depth_limit_in_the_library(tmp_path: Path) -> None:
    ok = tmp_path / "ok.json"
    ok.write_text("[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH)
    assert read_json(ok, "proof") is not None
    deep = tmp_path / "deep.json"
    deep.write_text("[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1))
    with pytest.raises(BadInput, match=f"deeper than {MAX_JSON_DEPTH}"):
        read_json(deep, "proof")
    objects = tmp_path / "objects.json"
    objects.write_text('{"a":' * 70 + "1" + "}" * 70)
    with pytest.raises(BadInput, match="deeper"):
        read_json(objects, "snapshot")


def test_a_200_mb_proof_is_refused_before_it_is_read(docs: dict[str, Path], tmp_path: Path) -> None:
    big = tmp_path / "big.json"
    big.write_bytes(docs["alice"].read_bytes())
    with open(big, "r+b") as fh:
        fh.truncate(200 * 1024 * 1024)  # padded to 200 MB (sparse: costs no disk)
    probe = (
        "import resource, subprocess, sys, time\n"
        f"t = time.monotonic(); r = subprocess.run({[*POR, 'verify', str(big), '--snapshot', str(docs['snapshot'])]!r},"
        " capture_output=True, text=True); dt = time.monotonic() - t\n"
        "print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, dt)\n"
        "sys.stderr.write(r.stderr)\n"
    )
    p = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    code, maxrss_kib, seconds = p.stdout.split()
    assert int(code) == 2, p.stderr
    assert int(maxrss_kib) < 150 * 1024, f"peak memory {int(maxrss_kib) // 1024} MiB"
    message = " ".join(p.stderr.split())
    assert f"at most {JSON_LIMITS['proof']} bytes" in message and "Traceback" not in message, message
    assert float(seconds) < 10  # includes the interpreter's start; the refusal itself reads nothing


def test_size_limits_per_document_kind(tmp_path: Path) -> None:
    for what, limit in JSON_LIMITS.items():
        f = tmp_path / f"{what}.json"
        f.write_bytes(b"{}")
        with open(f, "r+b") as fh:
            fh.truncate(limit + 1)  # one byte over (sparse)
        with pytest.raises(BadInput, match=f"at most {limit} bytes"):
            read_json(f, what)
    f = tmp_path / "at-limit.json"
    f.write_bytes(b" " * (JSON_LIMITS["proof"] - 2) + b"{}")
    assert read_json(f, "proof") == {}


# ---------------------------------------------------------------- 4. ledger lines (SPEC.md §2.2)


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_a_ledger_line_over_the_limit_is_refused_with_its_number(tmp_path: Path, suffix: str) -> None:
    from por.core.config import load_config
    from por.core.ledger import MAX_LINE_BYTES, read_ledger

    from .conftest import EXAMPLES

    config = load_config(EXAMPLES / "snapshot.toml")
    ledger = tmp_path / f"ledger{suffix}"
    if suffix == ".csv":
        head, row = "account_id,bucket,BTC\n", lambda acc: f"{acc},cross,1\n"
    else:
        head, row = "", lambda acc: json.dumps({"account_id": acc, "bucket": "cross", "BTC": "1"}) + "\n"
    pad = lambda n: row("x" * (n - len(row("")) + 1))[:-1]  # noqa: E731  a row of exactly n bytes (no line end)
    ok_line, long_line = pad(MAX_LINE_BYTES), pad(MAX_LINE_BYTES + 1)
    assert len(ok_line.encode()) == MAX_LINE_BYTES and len(long_line.encode()) == MAX_LINE_BYTES + 1
    ledger.write_text(head + row("alice") + ok_line + "\r\n" + long_line + "\n")
    with pytest.raises(BadInput) as exc:
        list(read_ledger(ledger, config))
    # the line at the limit is read (and refused for its account id, which is > 256 bytes), not for its length
    assert "longer than 256 bytes" in str(exc.value) and exc.value.line == (3 if suffix == ".csv" else 2)
    ledger.write_text(head + row("alice") + long_line + "\n")
    with pytest.raises(BadInput, match=f"line is longer than {MAX_LINE_BYTES} bytes") as exc:
        list(read_ledger(ledger, config))
    assert exc.value.line == (3 if suffix == ".csv" else 2) and exc.value.file == str(ledger)


def test_an_endless_ledger_line_fails_fast_in_little_memory(tmp_path: Path) -> None:
    """A 1 GiB ledger of one line (sparse: costs no disk): exit 2 naming line 2, < 10 s, < 150 MiB."""
    from .conftest import EXAMPLES

    ledger = tmp_path / "ledger.csv"
    ledger.write_bytes(b"account_id,bucket,BTC\nalice")
    with open(ledger, "r+b") as fh:
        fh.truncate(1 << 30)
    secret = tmp_path / "secret.key"
    secret.write_text(SECRET.hex() + "\n")
    secret.chmod(0o600)
    argv = [*POR, "build", "--config", str(EXAMPLES / "snapshot.toml"), "--ledger", str(ledger), "--out",
            str(tmp_path / "out"), "--secret", str(secret)]
    probe = (
        "import resource, subprocess, sys, time\n"
        f"t = time.monotonic(); r = subprocess.run({argv!r}, capture_output=True, text=True); dt = time.monotonic() - t\n"
        "print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, dt)\n"
        "sys.stderr.write(r.stderr)\n"
    )
    p = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    code, maxrss_kib, seconds = p.stdout.split()
    message = " ".join(p.stderr.split())
    assert int(code) == 2 and f"{ledger}:2: line is longer than" in message, message
    assert int(maxrss_kib) < 150 * 1024 and float(seconds) < 10
    assert not (tmp_path / "out").exists()


def test_one_long_string_at_the_size_limit_costs_little_memory(docs: dict[str, Path], tmp_path: Path) -> None:
    """Found by fuzz/run.py: the depth scan's regular expression over strings took about 110 bytes per character
    of one long string (1.8 GiB for a 16 MiB snapshot, 28 GiB for a 256 MiB UTXO snapshot)."""
    snap = tmp_path / "snapshot.json"
    limit = JSON_LIMITS["snapshot"]
    snap.write_bytes(b'{"metadata": "' + b"a" * (limit - 17) + b'"}')
    assert snap.stat().st_size == limit - 1
    probe = (
        "import resource, subprocess, sys, time\n"
        f"t = time.monotonic(); r = subprocess.run({[*POR, 'verify', str(docs['alice']), '--snapshot', str(snap)]!r},"
        " capture_output=True, text=True); dt = time.monotonic() - t\n"
        "print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, dt)\n"
        "sys.stderr.write(r.stderr)\n"
    )
    p = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    code, maxrss_kib, seconds = p.stdout.split()
    assert int(code) == 2 and "Traceback" not in p.stderr, p.stderr
    assert int(maxrss_kib) < 250 * 1024, f"peak memory {int(maxrss_kib) // 1024} MiB"
    assert float(seconds) < 10


@pytest.mark.parametrize("text,depth", [(b'"\\\\"[[', 2), (b'"\\"[["', 0), (b'["\\\\\\"]"]', 1),
                                        (b'[{"a": "}]]]"}]', 2), (b'"' + b"[" * 100, 0), (b"[" * 70, 70)])
def test_depth_scan_skips_strings_with_escapes(text: bytes, depth: int) -> None:
    """Brackets inside strings do not count; a quote after an odd run of backslashes does not end a string."""
    from por.core import fileio

    assert fileio.nesting_depth(text) == depth
    old, fileio._SCAN_CHUNK = fileio._SCAN_CHUNK, 1  # the same across chunk boundaries
    try:
        assert fileio.nesting_depth(text) == depth
    finally:
        fileio._SCAN_CHUNK = old
