"""The sharded build (por.snapshot.sharded): the same bytes as the in-memory build, whatever runs it.

Trees are forced above the shard height (height 14: four shards of 2^12 leaves per bucket) and the partition
pass is split 8 ways, so every path of the sharded pipeline runs: rows and padding seeds spread over
partitions, shards made of slices of several partitions, shard roots combined into the bucket roots.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from por.core import encoding as enc
from por.core.config import load_config
from por.core.engine import SerialEngine
from por.core.errors import BadInput
from por.proofs.inclusion import Prover, verify_proof
from por.snapshot import build_snapshot, build_trees
from por.snapshot.sharded import build_sharded, ledger_spans, partition_bits, shard_height
from tests.conftest import EXAMPLES, SECRET, store_bytes

HEIGHT = 14


def make_ledger(d: Path) -> tuple[Path, Path]:
    """1500 users, 2 assets, 2 buckets (por.demo.examples) in ``d``."""
    subprocess.run([sys.executable, "-m", "por.demo.examples", "--users", "1500", "--assets", "2",
                    "--buckets", "2", "--out", str(d)], check=True, capture_output=True)
    return d / "snapshot.toml", d / "ledger.csv"


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_ledger(tmp_path_factory.mktemp("sharded"))


def _sharded(tmp: Path, ledger: tuple[Path, Path], engine, *, bits: int = 3, mode: str = "public",
             height: int = HEIGHT) -> tuple[bytes, dict]:
    cfg, led = ledger
    store = tmp / "store.sqlite"
    res = build_sharded(load_config(cfg), led, SECRET, store, mode=mode, height=height, engine=engine, bits=bits)
    return store_bytes(store), res.snapshot.to_dict()


def test_shard_height_depends_on_the_tree_only() -> None:
    assert [shard_height(h) for h in (1, 12, 13, 15, 21, 25, 30)] == [1, 12, 12, 12, 18, 18, 18]
    assert shard_height(14, batch_height=8) == 12 and shard_height(3, batch_height=3) == 3
    assert partition_bits(Path("/nonexistent")) == 0


def test_sharded_equals_the_in_memory_build(tmp_path: Path, ledger) -> None:
    store, doc = _sharded(tmp_path, ledger, SerialEngine())
    snap, built, _ = build_trees(load_config(ledger[0]), ledger[1], SECRET, height=HEIGHT)
    assert doc == snap.to_dict()
    # every node the store serves is the in-memory tree's
    from por.tree.store import Store
    st = Store(tmp_path / "store.sqlite")
    for b, bt in enumerate(built):
        for lvl in (0, 5, 12, 13, 14):
            for i in sorted({0, 1, len(bt.levels[lvl].hashes) - 1} & set(range(len(bt.levels[lvl].hashes)))):
                h, s = st.node(b, lvl, i, 2)
                assert h == bt.levels[lvl].hashes[i].tobytes() and s == [int(x) for x in bt.levels[lvl].sums[i]]
    st.close()
    assert len(store) > 0


def test_build_snapshot_proofs_verify_and_match_across_jobs(tmp_path: Path, ledger) -> None:
    cfg, led = ledger
    a = build_snapshot(cfg, led, tmp_path / "a", secret=SECRET, height=HEIGHT)
    b = build_snapshot(cfg, led, tmp_path / "b", secret=SECRET, height=HEIGHT, jobs=2)
    assert a.shards == b.shards == 8
    assert (tmp_path / "a/snapshot.json").read_bytes() == (tmp_path / "b/snapshot.json").read_bytes()
    assert store_bytes(tmp_path / "a/store.sqlite") == store_bytes(tmp_path / "b/store.sqlite")
    pa, pb = Prover(tmp_path / "a"), Prover(tmp_path / "b")
    try:
        accounts = list(pa.accounts())
        assert len(accounts) == 1500
        for acc in accounts[:: 97]:
            doc = pa.prove(acc)
            assert doc == pb.prove(acc)
            assert verify_proof(doc, snapshot=a.snapshot).account_id == acc
        with pytest.raises(BadInput, match="no account"):
            pa.prove("nobody")
    finally:
        pa.close()
        pb.close()


def test_hiding_sharded_equals_in_memory(tmp_path: Path) -> None:
    cfg = load_config(EXAMPLES / "snapshot.toml")
    store = tmp_path / "store.sqlite"
    heights = [13, 2, 2]  # cross: two shards of 2^12 leaves; fund-7 and isolated: one shard each
    res = build_sharded(cfg, EXAMPLES / "ledger.csv", SECRET, store, mode="hiding", height=heights, bits=2)
    snap, _, _ = build_trees(cfg, EXAMPLES / "ledger.csv", SECRET, height=heights, hiding=True)
    assert res.shards == 4 and res.snapshot.to_dict() == snap.to_dict()


def test_duplicate_account_is_named_with_both_lines(tmp_path: Path, ledger) -> None:
    cfg, led = ledger
    lines = led.read_text().splitlines()
    bad = tmp_path / "dup.csv"
    bad.write_text("\n".join(lines + [lines[7]]) + "\n")
    with pytest.raises(BadInput) as exc:
        build_snapshot(cfg, bad, tmp_path / "out", secret=SECRET, height=HEIGHT)
    assert exc.value.line == len(lines) + 1 and "also on line 8" in str(exc.value) and str(bad) in str(exc.value)
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["dup.csv"]  # staging and work files gone


def test_work_dir_is_private_and_removed(tmp_path: Path, ledger) -> None:
    work = tmp_path / "work"
    work.mkdir()
    build_snapshot(ledger[0], ledger[1], tmp_path / "out", secret=SECRET, work_dir=work)
    assert list(work.iterdir()) == []
    with pytest.raises(BadInput, match="work directory"):
        build_snapshot(ledger[0], ledger[1], tmp_path / "out2", secret=SECRET, work_dir=tmp_path / "missing")


# ---------------------------------------------------------------- the ledger read in spans


class SpanningSerial(SerialEngine):
    """Tasks in this process, but claiming workers: the partition pass reads the ledger in 8 spans."""

    workers = 4


def _error(cfg: Path, led: Path, engine, tmp: Path) -> BadInput:
    with pytest.raises(BadInput) as exc:
        build_sharded(load_config(cfg), led, SECRET, tmp / "store.sqlite", mode="public", height=HEIGHT, engine=engine)
    return exc.value


def test_spans_give_the_same_store(tmp_path: Path, ledger) -> None:
    cfg, led = ledger
    found = ledger_spans(led, load_config(cfg), 8)
    assert found is not None and len(found[0]) == 8 and found[1] == 1
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    assert _sharded(tmp_path / "a", ledger, SpanningSerial()) == _sharded(tmp_path / "b", ledger, SerialEngine())


@pytest.mark.parametrize("case", ["bad amount", "duplicate", "total over 2^64", "blank lines"])
def test_errors_in_late_spans_are_those_of_a_whole_read(tmp_path: Path, ledger, case: str) -> None:
    """Each span numbers its lines from its start; an error in any span makes the build read the ledger whole,
    so the error names the same line as a build that reads it in one piece."""
    cfg, led = ledger
    lines = led.read_text().splitlines()
    if case == "bad amount":
        lines[-3] = lines[-3].rsplit(",", 1)[0] + ",1e5"
    elif case == "duplicate":
        lines.append(lines[5])
    elif case == "total over 2^64":
        for i in (3, len(lines) - 2):  # one in the first span, one in the last: each span alone is fine
            lines[i] = ",".join(lines[i].split(",")[:2] + ["184467440737.09551615", "0"])
    else:
        lines[len(lines) // 2: len(lines) // 2] = ["", "", ""]
        lines[-1] = lines[-1].rsplit(",", 1)[0] + ",-1"
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(lines) + "\n")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    whole = _error(cfg, bad, SerialEngine(), tmp_path / "a")
    spans = _error(cfg, bad, SpanningSerial(), tmp_path / "b")
    assert str(spans) == str(whole) and spans.line == whole.line and whole.line is not None


def test_a_span_reads_no_bom_and_no_header(tmp_path: Path) -> None:
    """Only the file's first line may carry a BOM: a data line that starts with one is still refused in a span."""
    from por.core.ledger import csv_data_start, read_ledger_batches

    cfg = load_config(EXAMPLES / "snapshot.toml")
    led = tmp_path / "l.csv"
    led.write_bytes(b"account_id,bucket,BTC\nalice,cross,1\n\xef\xbb\xbfbob,cross,2\n")
    lo, hline = csv_data_start(led, cfg)
    assert (lo, hline) == (len(b"account_id,bucket,BTC\n"), 1)
    second = lo + len(b"alice,cross,1\n")
    got = list(read_ledger_batches(led, cfg, span=(lo, second, 0)))
    assert [b.accounts.items() for b in got] == [[b"alice"]] and got[0].lines.tolist() == [1]
    with pytest.raises(BadInput, match="account_id"):
        list(read_ledger_batches(led, cfg, span=(second, led.stat().st_size, 0)))


def test_every_account_is_found_even_keys_ending_in_a_zero_byte(tmp_path: Path, ledger) -> None:
    """numpy's fixed-width bytes drop trailing zero bytes: a key ending in 0x00 was once not found."""
    from por.core.keys import SnapshotKeys

    cfg, led = ledger
    build_snapshot(cfg, led, tmp_path / "s", secret=SECRET, height=HEIGHT)
    prover = Prover(tmp_path / "s")
    try:
        accounts = list(prover.accounts())
        keys = SnapshotKeys.from_master(SECRET)
        config = load_config(cfg)
        ending_zero = [a for a in accounts for b in config.bucket_ids
                       if keys.position(SnapshotKeys.scope(config.snapshot_id, b) + enc.lp(a))[-1] == 0]
        assert ending_zero, "the ledger should hold such a key"
        assert all(prover.store.account_leaves(a) for a in accounts)
    finally:
        prover.close()


def test_audit_rebuilds_sharded_and_agrees_with_the_reference(tmp_path: Path, built) -> None:
    """`por audit` rebuilds the trees with the sharded build (bounded memory); the in-memory reference rebuild
    reaches the same verdict, check by check, on a good snapshot and on one whose ledger was changed."""
    from por.audit.audit import audit

    cfg, led, snap = EXAMPLES / "snapshot.toml", EXAMPLES / "ledger.csv", built / "snapshot.json"
    good = audit(cfg, led, SECRET, snap)
    assert good.ok and good.to_dict() == audit(cfg, led, SECRET, snap, reference=True).to_dict()
    changed = tmp_path / "ledger.csv"
    lines = led.read_text().splitlines()
    lines[1] = lines[1].rsplit(",", 1)[0] + ",0"
    changed.write_text("\n".join(lines) + "\n")
    bad = audit(cfg, changed, SECRET, snap, jobs=2)
    assert not bad.ok and bad.to_dict() == audit(cfg, changed, SECRET, snap, reference=True).to_dict()
    assert not [p for p in Path(tempfile.gettempdir()).glob("por-audit-*") if p.stat().st_uid == os.getuid()
                and p.stat().st_mtime > time.time() - 60]
