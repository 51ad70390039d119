"""Crash safety: commands killed with SIGKILL (by PID) at random moments leave no partial artifact in view,
and the re-run succeeds (tests/test_hostile_files.py kills `por build`; tests/test_zk_crash.py `por zk prove`).

* ``por prove --all``: the output directory appears whole or not at all; the re-run writes every proof.
* the transparency log: ``PRAGMA integrity_check`` is ``ok`` after every kill, every stored leaf still
  hashes its entry (``TransparencyLog.open``), and an append is either fully in or not.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from por.demo.examples import write_example
from por.log.store import TransparencyLog
from por.snapshot import build_snapshot

from .conftest import SECRET

POR = [sys.executable, "-m", "por"]
RNG = random.Random(20261120)  # the "random moments", the same on every run
KILLS = {"prove --all": 0, "log append (library loop)": 0, "log append (CLI)": 0}


def _kill_after(proc: subprocess.Popen, seconds: float) -> bool:
    """SIGKILL ``proc`` after ``seconds``; False when it had already finished."""
    time.sleep(seconds)
    if proc.poll() is not None:
        return False
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    return True


# ---------------------------------------------------------------- por prove --all


@pytest.fixture(scope="module")
def many(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float, int]:
    d = tmp_path_factory.mktemp("many")
    write_example(d, users=800, assets=2, buckets=2)
    snap = d / "snap"
    build_snapshot(d / "snapshot.toml", d / "ledger.csv", snap, secret=SECRET)
    t = time.monotonic()
    r = subprocess.run([*POR, "prove", str(snap), "--all", "--out", str(d / "once"), "--json"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return snap, time.monotonic() - t, json.loads(r.stdout)["proofs"]


@pytest.mark.parametrize("trial", range(2))
def test_killed_prove_all_leaves_nothing_partial_and_the_rerun_writes_every_proof(many, tmp_path: Path,
                                                                                 trial: int) -> None:
    snap, duration, count = many
    out = tmp_path / "proofs"
    moment = RNG.uniform(0.2, 0.9)
    proc = subprocess.Popen([*POR, "prove", str(snap), "--all", "--out", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if not _kill_after(proc, moment * duration):
        pytest.skip("prove --all finished before the kill")
    KILLS["prove --all"] += 1
    assert not out.exists(), "a killed prove --all must not leave its output directory in view"
    for staging in tmp_path.glob(".proofs.*.partial"):
        assert stat.S_IMODE(staging.stat().st_mode) == 0o700
    r = subprocess.run([*POR, "prove", str(snap), "--all", "--out", str(out), "--json"], capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    index = json.loads((out / "index.json").read_text())
    assert len(index) == count == len(list(out.glob("*.json"))) - 1
    assert list(tmp_path.glob(".proofs.*.partial")) == [], "the re-run removes the dead run's staging directory"
    for name in RNG.sample(sorted(index.values()), 5):  # every file is a whole proof
        json.loads((out / name).read_text())


# ---------------------------------------------------------------- the transparency log


def _snapshots(base: Path, n: int) -> list[Path]:
    """``n`` small distinct snapshots (ids snap-0 ... snap-n-1)."""
    paths = []
    for i in range(n):
        d = base / f"s{i}"
        d.mkdir()
        (d / "snapshot.toml").write_text(f'snapshot_id = "snap-{i}"\nas_of = "2026-11-20T00:00:00Z"\n'
                                         '[assets]\nBTC = 8\n[buckets.cross]\nkind = "cross-margin"\n')
        (d / "ledger.csv").write_text(f"account_id,bucket,BTC\nalice,cross,{i + 1}\n")
        build_snapshot(d / "snapshot.toml", d / "ledger.csv", d / "snap", secret=SECRET)
        paths.append(d / "snap")
    return paths


def _check_log(log_dir: Path) -> int:
    """The log's SQLite is intact and every leaf hashes its entry; its size."""
    con = sqlite3.connect(log_dir / "log.sqlite")
    try:
        assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        con.close()
    with TransparencyLog.open(log_dir) as log:
        ids = [e.snapshot_id for e in log.entries()]
        assert ids == [f"e-{i}" for i in range(len(ids))] or ids == [f"snap-{i}" for i in range(len(ids))], ids
        return log.size


APPENDER = """
import sys
from dataclasses import replace
from pathlib import Path
from por.log.store import TransparencyLog
from por.snapshot import load_snapshot

snap = load_snapshot(Path(sys.argv[2]))
with TransparencyLog.open(Path(sys.argv[1])) as log:
    start = log.size
    for i in range(start, start + 100000):
        log.append(replace(snap, config=replace(snap.config, snapshot_id=f"e-{i}")))
        print(i + 1, flush=True)
"""


@pytest.mark.parametrize("trial", range(3))
def test_a_killed_appender_leaves_a_consistent_log_and_each_append_whole(tmp_path: Path, trial: int) -> None:
    """A process appending entry after entry, killed at a random moment: the log holds every append it
    reported and at most the one in flight, intact; appending goes on from there."""
    snap = _snapshots(tmp_path, 1)[0]
    log_dir = tmp_path / "log"
    TransparencyLog.create(log_dir).close()
    proc = subprocess.Popen([sys.executable, "-c", APPENDER, str(log_dir), str(snap)], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    proc.stdout.readline()  # appending has begun
    assert _kill_after(proc, RNG.uniform(0.05, 0.5))
    KILLS["log append (library loop)"] += 1
    reported = [int(line) for line in proc.stdout.read().split()]
    done = reported[-1] if reported else 1
    size = _check_log(log_dir)
    assert done <= size <= done + 1, (done, size)
    r = subprocess.run([sys.executable, "-c", APPENDER.replace("100000", "3"), str(log_dir), str(snap)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert _check_log(log_dir) == size + 3


def test_killed_log_append_commands_leave_the_log_whole(tmp_path: Path) -> None:
    """`por log append` killed at random moments of its run (start-up, reading, writing), several times."""
    snaps = _snapshots(tmp_path, 5)
    log_dir = tmp_path / "log"
    assert subprocess.run([*POR, "log", "init", "--log", str(log_dir)], capture_output=True).returncode == 0
    t = time.monotonic()
    assert subprocess.run([*POR, "log", "append", str(snaps[0]), "--log", str(log_dir)],
                          capture_output=True).returncode == 0
    duration = time.monotonic() - t
    for k, snap in enumerate(snaps[1:], 1):
        proc = subprocess.Popen([*POR, "log", "append", str(snap), "--log", str(log_dir)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        killed = _kill_after(proc, RNG.uniform(0.5, 1.05) * duration)
        KILLS["log append (CLI)"] += killed
        size = _check_log(log_dir)
        assert size in (k, k + 1), (k, size)
        r = subprocess.run([*POR, "log", "append", str(snap), "--log", str(log_dir)], capture_output=True,
                           text=True)
        # the re-run appends the entry, or finds it already in (the kill came after the commit)
        assert r.returncode == 0 or (r.returncode == 2 and "already logged" in r.stderr), r.stderr
        assert _check_log(log_dir) == k + 1
    assert KILLS["log append (CLI)"] >= 1, "every append finished before its kill"
