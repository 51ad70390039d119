"""Rules SPEC.md states for readers of `snapshot.json` and inclusion proofs, each checked against por.

A verifier written from SPEC.md alone must agree with `por verify` on every document; these tests pin the
rules it had to guess before SPEC said them: the §2.1 metadata rules, the §6 reader checks and their exit
codes (2 for a malformed document, 1 for one that does not add up), the §8 entry rules and exit codes, the
§9 limit on dropped entries, and the §15.4 range-proof statement and transcript. Each test takes a genuine
document (``tests/vectors/`` or the built example), changes one thing and checks the outcome, through the
CLI where the exit code is the rule.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any, Callable

import pytest

from por.core.config import load_config
from por.core.errors import BadInput, VerificationFailed
from por.crypto import rangeproof
from por.crypto.group import Point
from por.crypto.pedersen import commit
from por.crypto.transcript import Transcript
from por.proofs.inclusion import verify_proof
from por.snapshot.document import snapshot_from_dict

from .conftest import VECTORS

ROOT = Path(__file__).resolve().parents[1]
SNAPSHOT = json.loads((VECTORS / "expected-snapshot.json").read_text())
PROOF = json.loads((VECTORS / "proof-alice.json").read_text())  # entries: main (index 1), seg-1 (index 2)
HIDING_SNAPSHOT = json.loads((VECTORS / "hiding" / "expected-snapshot.json").read_text())
HIDING_PROOF = json.loads((VECTORS / "hiding" / "proof-alice.json").read_text())

Mutation = Callable[[dict[str, Any]], None]


def _write(path: Path, doc: Any) -> Path:
    path.write_text(json.dumps(doc, indent=2))
    return path


def _mutated(doc: dict[str, Any], mutate: Mutation) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    mutate(doc)
    return doc


def _set(*path: Any, value: Any) -> Mutation:
    def mutate(doc: dict[str, Any]) -> None:
        for k in path[:-1]:
            doc = doc[k]
        doc[path[-1]] = value
    return mutate


def _upper(*path: Any) -> Mutation:
    def mutate(doc: dict[str, Any]) -> None:
        for k in path[:-1]:
            doc = doc[k]
        doc[path[-1]] = doc[path[-1]].upper()
    return mutate


def _verify(cli, tmp_path: Path, proof: Any, snapshot: Any) -> Any:
    p = _write(tmp_path / "proof.json", proof) if not isinstance(proof, Path) else proof
    s = _write(tmp_path / "snapshot.json", snapshot) if not isinstance(snapshot, Path) else snapshot
    return cli("verify", p, "--snapshot", s)


def test_the_genuine_vectors_verify(cli, tmp_path: Path) -> None:
    assert _verify(cli, tmp_path, PROOF, SNAPSHOT).exit_code == 0
    assert _verify(cli, tmp_path, HIDING_PROOF, HIDING_SNAPSHOT).exit_code == 0


# ---------------------------------------------------------------- §2.1 metadata

def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "snapshot.toml"
    path.write_text(text)
    return path


CONFIG = """snapshot_id = "s-1"
as_of = "{as_of}"
{assets}
{buckets}
"""
ASSETS = "[assets]\nBTC = 8\n"
BUCKETS = '[buckets.main]\nkind = "custody"\n'


def test_config_needs_an_asset_and_a_bucket(tmp_path: Path) -> None:
    """§2.1: at least one asset and one bucket, in snapshot.toml and in a snapshot's metadata (exit 2)."""
    ok = CONFIG.format(as_of="2026-11-20T00:00:00Z", assets=ASSETS, buckets=BUCKETS)
    assert load_config(_config(tmp_path, ok)).symbols == ("BTC",)
    for text, field in ((CONFIG.format(as_of="2026-11-20T00:00:00Z", assets="[assets]\n", buckets=BUCKETS), "assets"),
                        (CONFIG.format(as_of="2026-11-20T00:00:00Z", assets=ASSETS, buckets=""), "buckets")):
        with pytest.raises(BadInput) as info:
            load_config(_config(tmp_path, text))
        assert info.value.field == field and info.value.exit_code == 2


@pytest.mark.parametrize("key", ["assets", "buckets"])
def test_snapshot_metadata_needs_an_asset_and_a_bucket(cli, tmp_path: Path, key: str) -> None:
    res = _verify(cli, tmp_path, PROOF, _mutated(SNAPSHOT, _set("metadata", key, value=[])))
    assert res.exit_code == 2, res.output


GOOD_AS_OF = ["2026-11-20T00:00:00Z", "2000-02-29T23:59:59Z", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"]
BAD_AS_OF = [
    "2026-11-20T23:59:60Z",  # a leap second
    "2026-11-20T00:00:61Z",
    "2026-11-20T24:00:00Z",
    "2026-11-20T00:60:00Z",
    "2026-02-30T00:00:00Z",  # not a day of February
    "2100-02-29T00:00:00Z",  # 2100 is not a leap year
    "2026-13-01T00:00:00Z",
    "0000-01-01T00:00:00Z",
    "2026-11-20T00:00:00.0Z",
    "2026-11-20T00:00:00+00:00",
    "2026-11-20t00:00:00z",
    "2026-11-20 00:00:00Z",
    "2026-1-20T00:00:00Z",
]


@pytest.mark.parametrize("as_of", GOOD_AS_OF)
def test_as_of_real_dates_are_accepted(tmp_path: Path, as_of: str) -> None:
    assert load_config(_config(tmp_path, CONFIG.format(as_of=as_of, assets=ASSETS, buckets=BUCKETS))).as_of == as_of


@pytest.mark.parametrize("as_of", BAD_AS_OF)
def test_as_of_must_be_a_real_calendar_date_without_leap_second(tmp_path: Path, as_of: str) -> None:
    """§2.1: the exact shape, a real date, seconds 00–59; in the TOML and in a snapshot's metadata."""
    with pytest.raises(BadInput) as info:
        load_config(_config(tmp_path, CONFIG.format(as_of=as_of, assets=ASSETS, buckets=BUCKETS)))
    assert info.value.field == "as_of"
    with pytest.raises(BadInput) as info:
        snapshot_from_dict(_mutated(SNAPSHOT, _set("metadata", "as_of", value=as_of)))
    assert info.value.field == "as_of"


def test_as_of_as_a_toml_datetime_is_rejected(tmp_path: Path) -> None:
    text = CONFIG.format(as_of="X", assets=ASSETS, buckets=BUCKETS).replace('"X"', "2026-11-20T00:00:00Z")
    with pytest.raises(BadInput, match="quoted string"):
        load_config(_config(tmp_path, text))


def test_as_of_digits_are_ascii(tmp_path: Path) -> None:
    with pytest.raises(BadInput):
        load_config(_config(tmp_path, CONFIG.format(as_of="٢٠٢٦-11-20T00:00:00Z", assets=ASSETS, buckets=BUCKETS)))


# ---------------------------------------------------------------- §6 reader checks of snapshot.json

def _dup_key(text: str) -> str:
    out = text.replace('"top_height": 1,', '"top_height": 1,\n  "top_height": 1,', 1)
    assert out != text
    return out


SNAPSHOT_SHAPE: dict[str, Mutation | None] = {  # malformed: bad input, exit 2
    "not an object": None,  # the document is a list (below)
    "mode unknown": _set("mode", value="secret"),
    "version 1.0": _set("version", value=1.0),
    "version true": _set("version", value=True),
    "version 2 without margin": _set("version", value=2),
    "format": _set("format", value="por-snap"),
    "extra key": _set("note", value="x"),
    "hiding key in public mode": lambda d: d["buckets"][0].update(commitments={}),
    "metadata assets not sorted": lambda d: d["metadata"]["assets"].reverse(),
    "metadata buckets not sorted": lambda d: d["metadata"]["buckets"].reverse(),
    "metadata extra key": _set("metadata", "note", value="x"),
    "metadata decimals 8.0": _set("metadata", "assets", 0, "decimals", value=8.0),
    "metadata decimals true": _set("metadata", "assets", 0, "decimals", value=True),
    "metadata decimals 19": _set("metadata", "assets", 0, "decimals", value=19),
    "root uppercase": _upper("root"),
    "root short": _set("root", value="ab" * 31),
    "buckets reversed": lambda d: d["buckets"].reverse(),
    "bucket missing": lambda d: d["buckets"].pop(),
    "bucket repeated": lambda d: d["buckets"].__setitem__(1, copy.deepcopy(d["buckets"][0])),
    "bucket extra": lambda d: d["buckets"].append(copy.deepcopy(d["buckets"][0])),
    "bucket id differs": _set("buckets", 0, "id", value="other"),
    "bucket kind differs": _set("buckets", 0, "kind", value="custody"),
    "bucket extra key": _set("buckets", 0, "note", value="x"),
    "height 0": _set("buckets", 0, "height", value=0),
    "height 33": _set("buckets", 0, "height", value=33),
    "height 2.0": _set("buckets", 0, "height", value=2.0),
    "height true": _set("buckets", 0, "height", value=True),
    "height string": _set("buckets", 0, "height", value="2"),
    "bucket root uppercase": _upper("buckets", 0, "root"),
    "bucket total with a leading zero": lambda d: d["buckets"][0]["totals"].update(
        BTC="0" + d["buckets"][0]["totals"]["BTC"]),
    "bucket total 00": _set("buckets", 0, "totals", "BTC", value="00"),
    "bucket total a JSON number": _set("buckets", 0, "totals", "BTC", value=175000000),
    "bucket total 2^64": _set("buckets", 0, "totals", "BTC", value=str(2**64)),
    "bucket totals missing an asset": lambda d: d["buckets"][0]["totals"].pop("BTC"),
    "top_height 2": _set("top_height", value=2),
    "top_height 0": _set("top_height", value=0),
    "top_height string": _set("top_height", value="1"),
    "total with a leading zero": lambda d: d["totals"].update(BTC="0" + d["totals"]["BTC"]),
    "total a JSON number": _set("totals", "BTC", value=375000001),
}
SNAPSHOT_MISMATCH = {  # well-formed but does not add up: verification failed, exit 1
    "bucket total changed": _set("buckets", 0, "totals", "BTC", value="175000001"),
    "height changed (well-formed)": _set("buckets", 0, "height", value=3),
    "bucket root changed": _set("buckets", 1, "root", value="00" * 32),
    "root changed": _set("root", value="00" * 32),
    "total not the sum": _set("totals", "BTC", value="375000000"),
    # the top-level totals' shape is checked only after the root: a wrong root is reported first
    "root changed and total malformed": lambda d: d.update(root="00" * 32, totals={"BTC": "00", "USDT": "0"}),
}


@pytest.mark.parametrize("case", sorted(SNAPSHOT_SHAPE))
def test_malformed_snapshot_is_bad_input_exit_2(cli, tmp_path: Path, case: str) -> None:
    mutate = SNAPSHOT_SHAPE[case]
    doc: Any = [SNAPSHOT] if mutate is None else _mutated(SNAPSHOT, mutate)
    res = _verify(cli, tmp_path, PROOF, doc)
    assert res.exit_code == 2, (case, res.output)
    with pytest.raises(BadInput):
        snapshot_from_dict(doc)


@pytest.mark.parametrize("case", sorted(SNAPSHOT_MISMATCH))
def test_snapshot_that_does_not_add_up_is_exit_1(cli, tmp_path: Path, case: str) -> None:
    doc = _mutated(SNAPSHOT, SNAPSHOT_MISMATCH[case])
    res = _verify(cli, tmp_path, PROOF, doc)
    assert res.exit_code == 1, (case, res.output)
    with pytest.raises(VerificationFailed):
        snapshot_from_dict(doc)


def test_duplicate_key_in_snapshot_is_bad_input(cli, tmp_path: Path) -> None:
    s = tmp_path / "dup-snapshot.json"
    s.write_text(_dup_key((VECTORS / "expected-snapshot.json").read_text()))
    res = _verify(cli, tmp_path, PROOF, s)
    assert res.exit_code == 2 and "duplicate key 'top_height'" in " ".join(res.output.split())


@pytest.mark.parametrize("case", ["bucket commitment uppercase", "bucket commitment not a point", "totals present"])
def test_malformed_hiding_snapshot_is_bad_input_exit_2(cli, tmp_path: Path, case: str) -> None:
    c = HIDING_SNAPSHOT["buckets"][0]["commitments"]["BTC"]
    mutate = {"bucket commitment uppercase": _upper("buckets", 0, "commitments", "BTC"),
              "bucket commitment not a point": _set("buckets", 0, "commitments", "BTC", value="04" + c[2:]),
              "totals present": _set("totals", value={"BTC": "0", "USDT": "0"})}[case]
    res = _verify(cli, tmp_path, HIDING_PROOF, _mutated(HIDING_SNAPSHOT, mutate))
    assert res.exit_code == 2, (case, res.output)


@pytest.mark.parametrize("value", [1.0, True])
def test_top_height_must_be_a_json_integer(value: Any) -> None:
    with pytest.raises(BadInput):
        snapshot_from_dict(_mutated(SNAPSHOT, _set("top_height", value=value)))


# ---------------------------------------------------------------- §8 inclusion proofs

def _entry(i: int, *path: Any) -> tuple[Any, ...]:
    return ("entries", i, *path)


PROOF_BAD_INPUT = {  # not a por-inclusion-proof of a supported version: exit 2
    "format": _set("format", value="por-inclusion"),
    "format missing": lambda d: d.pop("format"),
    "version 1.0": _set("version", value=1.0),
    "version true": _set("version", value=True),
    "version 3": _set("version", value=3),
    "version 2 without margin": _set("version", value=2),
}
PROOF_INVALID = {  # a por-inclusion-proof malformed inside, or failing a check: exit 1
    "entries empty": _set("entries", value=[]),
    "entries not a list": _set("entries", value={}),
    "entry repeated": lambda d: d["entries"].append(copy.deepcopy(d["entries"][0])),
    "entry bucket unknown": _set(*_entry(0, "bucket"), value="nowhere"),
    "extra key": _set("note", value="x"),
    "entry extra key": _set(*_entry(0, "note"), value="x"),
    "mode unknown": _set("mode", value="secret"),
    "mode of another snapshot": _set("mode", value="hiding"),
    "account_id empty": _set("account_id", value=""),
    "account_id a number": _set("account_id", value=7),
    "index 1.0": _set(*_entry(0, "index"), value=1.0),
    "index string": _set(*_entry(0, "index"), value="1"),
    "index true": _set(*_entry(0, "index"), value=True),
    "index negative": _set(*_entry(0, "index"), value=-1),
    "index 2^height": _set(*_entry(0, "index"), value=4),
    "height 2.0": _set(*_entry(0, "height"), value=2.0),
    "height 0": lambda d: d["entries"][0].update(height=0, path=[]),
    "top_index true": _set(*_entry(1, "top_index"), value=True),
    "top_index 1.0": _set(*_entry(1, "top_index"), value=1.0),
    "top_index of another bucket": _set(*_entry(1, "top_index"), value=0),
    "salt uppercase": _upper(*_entry(0, "salt")),
    "path hash uppercase": _upper(*_entry(0, "path", 0, "hash")),
    "root uppercase": _upper("snapshot", "root"),
    "balance 00": _set(*_entry(0, "balances", "BTC"), value="00"),
    "balance with a leading zero": lambda d: d["entries"][0]["balances"].update(
        BTC="0" + d["entries"][0]["balances"]["BTC"]),
    "balance a JSON number": _set(*_entry(0, "balances", "BTC"), value=50000000),
    "sibling sum a JSON number": lambda d: d["entries"][0]["path"][0]["sums"].update(
        BTC=int(d["entries"][0]["path"][0]["sums"]["BTC"])),
    "metadata decimals 8.0": _set("snapshot", "metadata", "assets", 0, "decimals", value=8.0),
    "metadata not canonical": lambda d: d["snapshot"]["metadata"]["assets"].reverse(),
}


@pytest.mark.parametrize("case", sorted(PROOF_BAD_INPUT))
def test_not_a_supported_proof_is_bad_input_exit_2(cli, tmp_path: Path, case: str) -> None:
    res = _verify(cli, tmp_path, _mutated(PROOF, PROOF_BAD_INPUT[case]), SNAPSHOT)
    assert res.exit_code == 2, (case, res.output)


def test_a_proof_that_is_not_an_object_is_bad_input(cli, tmp_path: Path) -> None:
    assert _verify(cli, tmp_path, [PROOF], SNAPSHOT).exit_code == 2


@pytest.mark.parametrize("case", sorted(PROOF_INVALID))
def test_proof_malformed_inside_is_invalid_exit_1(cli, tmp_path: Path, case: str) -> None:
    res = _verify(cli, tmp_path, _mutated(PROOF, PROOF_INVALID[case]), SNAPSHOT)
    assert res.exit_code == 1, (case, res.output)


def test_entries_must_be_non_empty(cli, tmp_path: Path) -> None:
    res = _verify(cli, tmp_path, _mutated(PROOF, _set("entries", value=[])), SNAPSHOT)
    assert res.exit_code == 1 and "entries must be a non-empty list" in " ".join(res.stderr.split())


@pytest.mark.parametrize("proof, snapshot", [(PROOF, SNAPSHOT), (HIDING_PROOF, HIDING_SNAPSHOT)],
                         ids=["public", "hiding"])
def test_entries_in_any_order_verify(cli, tmp_path: Path, proof: dict, snapshot: dict) -> None:
    """§8: the order of entries carries no meaning; por accepts any."""
    assert [e["bucket"] for e in proof["entries"]] == ["main", "seg-1"]  # canonical as written
    reordered = _mutated(proof, lambda d: d["entries"].reverse())
    res = _verify(cli, tmp_path, reordered, snapshot)
    assert res.exit_code == 0, res.output


def test_json_integer_minus_zero_reads_as_zero(cli, tmp_path: Path) -> None:
    """§6 JSON value types: `-0` is the integer 0 (the main entry's top_index is 0)."""
    text = (VECTORS / "proof-alice.json").read_text()
    assert text.count('"top_index": 0,') == 1
    p = tmp_path / "minus-zero.json"
    p.write_text(text.replace('"top_index": 0,', '"top_index": -0,'))
    assert _verify(cli, tmp_path, p, SNAPSHOT).exit_code == 0


@pytest.mark.parametrize("token", ["NaN", "Infinity", "1e0", "1.0"])
def test_non_integer_number_tokens_are_invalid(cli, tmp_path: Path, token: str) -> None:
    """§6: NaN/Infinity are read as numbers and then fail the field's type: in a proof, exit 1."""
    text = (VECTORS / "proof-alice.json").read_text()
    assert text.count('"index": 1,') == 1
    p = tmp_path / "token.json"
    p.write_text(text.replace('"index": 1,', f'"index": {token},'))
    res = _verify(cli, tmp_path, p, SNAPSHOT)
    assert res.exit_code == 1 and "must be a non-negative integer" in " ".join(res.stderr.split()), res.output


def test_duplicate_key_in_proof_is_bad_input(cli, tmp_path: Path) -> None:
    text = (VECTORS / "proof-alice.json").read_text()
    dup = text.replace('"account_id": "alice",', '"account_id": "alice",\n  "account_id": "alice",', 1)
    assert dup != text
    p = tmp_path / "dup.json"
    p.write_text(dup)
    res = _verify(cli, tmp_path, p, SNAPSHOT)
    assert res.exit_code == 2 and "duplicate key 'account_id'" in " ".join(res.output.split())
    # among several files, a bad one is counted as failed and the exit is 1
    good = _write(tmp_path / "good.json", PROOF)
    res = cli("verify", p, good, "--snapshot", _write(tmp_path / "snapshot.json", SNAPSHOT))
    assert res.exit_code == 1, res.output


def test_account_id_is_any_non_empty_string(cli, tmp_path: Path) -> None:
    """§8 step 1: the verifier does not re-check the ledger's account_id rules; the leaf binds the id."""
    doc = _mutated(PROOF, _set("account_id", value=" alice"))  # not a valid ledger id: a wrong leaf, not a shape error
    with pytest.raises(VerificationFailed, match="do not lead to the published bucket root"):
        verify_proof(doc, snapshot=snapshot_from_dict(SNAPSHOT))


@pytest.mark.parametrize("case", ["commitment uppercase", "blinding uppercase", "range_proof uppercase",
                                  "range_proof odd length"])
def test_hiding_proof_malformed_inside_is_invalid_exit_1(cli, tmp_path: Path, case: str) -> None:
    mutate = {"commitment uppercase": _upper(*_entry(0, "path", 0, "commitments", "BTC")),
              "blinding uppercase": _upper(*_entry(0, "blindings", "BTC")),
              "range_proof uppercase": _upper(*_entry(0, "range_proof")),
              "range_proof odd length": lambda d: d["entries"][0].update(range_proof=d["entries"][0]["range_proof"][:-1]),
              }[case]
    res = _verify(cli, tmp_path, _mutated(HIDING_PROOF, mutate), HIDING_SNAPSHOT)
    assert res.exit_code == 1, (case, res.output)


# ---------------------------------------------------------------- §9 limit: a dropped entry

def test_a_dropped_entry_verifies_and_only_expectations_catch_it(cli, built: Path, proofs, tmp_path: Path) -> None:
    """§9: no verifier can tell that an entry was left out; the user's --expect can."""
    alice = proofs["alice"]
    assert [e["bucket"] for e in alice["entries"]] == ["cross", "isolated"]
    snap = built / "snapshot.json"
    full = _write(tmp_path / "full.json", alice)
    dropped = _write(tmp_path / "dropped.json", _mutated(alice, lambda d: d["entries"].pop()))
    assert cli("verify", dropped, "--snapshot", snap).exit_code == 0  # undetectable by the proof alone
    # isolated holds BTC 0.01: a per-bucket expectation (absent bucket = 0) and the total over buckets catch it
    for expect in ("isolated:BTC=0.01", "BTC=0.51"):
        assert cli("verify", full, "--snapshot", snap, "--expect", expect).exit_code == 0
        res = cli("verify", dropped, "--snapshot", snap, "--expect", expect)
        assert res.exit_code == 1 and "expected" in res.stderr, (expect, res.output)


# ---------------------------------------------------------------- §15.4 the hiding path range proof

def _points(nodes: list[dict], symbols: list[str]) -> list[Point]:
    return [Point.from_hex(n["commitments"][s]) for n in nodes for s in symbols]


def _transcript(root: bytes, bucket: str, index: int) -> Transcript:
    t = Transcript("inclusion-path")
    t.append_message("snapshot-root", root)
    t.append_message("bucket", bucket.encode("utf-8"))
    t.append_u64("index", index)
    return t


def _range_ok(transcript: Transcript, statement: list[Point], proof_hex: str) -> bool:
    proof = rangeproof.RangeProof.from_hex(proof_hex, rounds=rangeproof.rounds_for(64, len(statement)))
    try:
        rangeproof.verify(transcript, statement, proof, 64)
    except VerificationFailed:
        return False
    return True


def test_hiding_statement_is_the_listed_siblings_and_the_index_is_within_the_bucket() -> None:
    """§15.4 steps 3-4: the statement is the commitments of the sibling nodes listed in path and top_path, then
    the top root's; the transcript absorbs the entry's index in its bucket, never top_index."""
    snap, symbols = HIDING_SNAPSHOT, [a["symbol"] for a in HIDING_SNAPSHOT["metadata"]["assets"]]
    root = bytes.fromhex(snap["root"])
    assert len(snap["buckets"]) == 2 and snap["top_height"] == 1  # the top root is the sum of the two buckets
    total = [Point.from_hex(snap["buckets"][0]["commitments"][s]) + Point.from_hex(snap["buckets"][1]["commitments"][s])
             for s in symbols]
    e = next(e for e in HIDING_PROOF["entries"] if e["bucket"] == "seg-1")
    assert (e["index"], e["top_index"]) == (2, 1)
    statement = _points(e["path"], symbols) + _points(e["top_path"], symbols) + total
    assert len(statement) == (e["height"] + snap["top_height"] + 1) * len(symbols)
    assert _range_ok(_transcript(root, e["bucket"], e["index"]), statement, e["range_proof"])
    # top_index (or the index within the top tree) in place of the index: the proof fails
    assert not _range_ok(_transcript(root, e["bucket"], e["top_index"]), statement, e["range_proof"])
    # the computed ancestors (own leaf + siblings) in place of the listed siblings: the proof fails
    node = [commit(int(e["balances"][s]), int(e["blindings"][s], 16)) for s in symbols]
    ancestors = []
    for sib in e["path"]:
        node = [c + Point.from_hex(sib["commitments"][s]) for c, s in zip(node, symbols)]
        ancestors += node
    computed = ancestors + _points(e["top_path"], symbols) + total
    assert len(computed) == len(statement) and computed != statement
    assert not _range_ok(_transcript(root, e["bucket"], e["index"]), computed, e["range_proof"])


# ---------------------------------------------------------------- cross-references

def test_every_section_reference_in_spec_exists() -> None:
    """Every `§N` / `§N.M` of SPEC.md names a heading of SPEC.md, or a numbered bold paragraph label such as
    `**16.4.3 Batch tree**` (references to RFCs and papers aside)."""
    text = (ROOT / "SPEC.md").read_text()
    headings = set(re.findall(r"^#+ (\d+(?:\.\d+)*)\.? ", text, flags=re.M))
    headings |= set(re.findall(r"^\*\*(\d+(?:\.\d+)+) ", text, flags=re.M))
    missing = []
    for n, line in enumerate(text.splitlines(), 1):
        for m in re.finditer(r"§(\d+(?:\.\d+)*)", line):
            before = line[max(0, m.start() - 40):m.start()]
            if re.search(r"RFC \d+ $|paper's (§[\d.]+–)?$|argument of its $", before):
                continue
            if m.group(1) not in headings:
                missing.append(f"line {n}: §{m.group(1)}")
    assert not missing, missing
