"""The sharded build on every engine (por.core.engine): serial, local processes, a Dask LocalCluster, and a real
``dask scheduler`` + two ``dask worker`` processes on loopback with one worker killed mid-task.

Kept apart from tests/test_sharded.py so that the two expensive files run on different xdist workers.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from por.core.engine import DaskEngine, ProcessEngine, SerialEngine
from por.core.errors import ServiceUnavailable
from por.snapshot import build_snapshot
from tests.conftest import EXAMPLES, SECRET, store_bytes
from tests.daskcluster import dask_cluster, free_port
from tests.test_sharded import _sharded, make_ledger


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_ledger(tmp_path_factory.mktemp("dask"))


def test_engines_and_partitions_give_byte_identical_stores(tmp_path: Path, ledger) -> None:
    runs = {}
    for name, engine, bits in (("serial", SerialEngine(), 3), ("serial-1-partition", SerialEngine(), 0),
                               ("processes", ProcessEngine(2), 3), ("dask-local", DaskEngine("local"), 3)):
        d = tmp_path / name
        d.mkdir()
        try:
            runs[name] = _sharded(d, ledger, engine, bits=bits)
        finally:
            engine.close()
    first = runs["serial"]
    for name, got in runs.items():
        assert got[1] == first[1], name
        assert got[0] == first[0], f"{name}: the store differs"


def test_unreachable_scheduler_is_exit_3(tmp_path: Path, ledger, cli) -> None:
    with pytest.raises(ServiceUnavailable):
        DaskEngine(f"tcp://127.0.0.1:{free_port()}", timeout=2)
    r = cli("build", "--config", ledger[0], "--ledger", ledger[1], "--out", tmp_path / "o",
            "--scheduler", f"tcp://127.0.0.1:{free_port()}", "--json")
    assert r.exit_code == 3 and json.loads(r.stdout)["error"] == "service_unavailable"
    assert not (tmp_path / "o").exists()
    r = cli("build", "--config", ledger[0], "--ledger", ledger[1], "--out", tmp_path / "o", "--scheduler", "nonsense")
    assert r.exit_code == 2


def test_dask_cluster_survives_a_killed_worker(tmp_path: Path) -> None:
    """A real scheduler and two workers; one worker is killed (kill -9) while it runs a shard task: the task
    re-runs on the other worker (or the restarted one) and the snapshot and store are still byte-identical."""
    import os
    import signal
    import time

    from distributed import Client

    cfg = EXAMPLES / "snapshot.toml"
    led = EXAMPLES / "ledger.csv"
    ref = build_snapshot(cfg, led, tmp_path / "ref", secret=SECRET, height=14, hiding=True, jobs=1)
    with dask_cluster(tmp_path) as cluster:
        work = tmp_path / "shared"
        work.mkdir()
        secret = tmp_path / "secret.key"
        secret.write_text(SECRET.hex())
        secret.chmod(0o600)
        proc = subprocess.Popen([str(Path(sys.executable).with_name("por")), "build", "--config", str(cfg), "--ledger",
                                 str(led), "--out", str(tmp_path / "dask"), "--secret", str(secret), "--height", "14",
                                 "--hiding", "--scheduler", cluster.address, "--work-dir", str(work), "--json"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        killed = None
        with Client(cluster.address, timeout=10) as c:
            deadline = time.monotonic() + 120
            while killed is None and time.monotonic() < deadline and proc.poll() is None:
                for addr, keys in c.processing().items():
                    if any("shard_task" in str(k) for k in keys):
                        pid = c.run(os.getpid, workers=[addr])[addr]
                        os.kill(pid, signal.SIGKILL)
                        killed = pid
                        break
                time.sleep(0.05)
        out, errs = proc.communicate(timeout=300)
        assert killed is not None, "no shard task was seen running"
        assert proc.returncode == 0, errs.decode()
        assert json.loads(out)["shards"] == ref.shards == 12
    assert (tmp_path / "dask/snapshot.json").read_bytes() == (tmp_path / "ref/snapshot.json").read_bytes()
    assert store_bytes(tmp_path / "dask/store.sqlite") == store_bytes(tmp_path / "ref/store.sqlite")
    assert list(work.iterdir()) == []
