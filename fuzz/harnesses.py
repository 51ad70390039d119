"""One fuzz harness per parser of untrusted input: ``harness(data: bytes) -> None``.

Each harness feeds ``data`` to one parser the way `por` reads that document (through
:func:`por.core.fileio.loads_json` for JSON documents, from a file for ledgers and configs) and goes on
to verify it against a trusted document where a verifier exists (a proof against its snapshot, a log
proof against a signed head). The contract every harness checks (:func:`outcome`): the only outcomes
are success or a :class:`~por.core.errors.PorError` whose exit code is 1 (verification failed) or 2
(bad input) -- never another exception (a crash), never a hang, never unbounded memory (the engine
measures both).

The trusted documents are in ``fuzz/corpus/_trusted`` (written by ``fuzz/make_corpus.py``).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from por.core.errors import PorError

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
TRUSTED = CORPUS / "_trusted"
REGRESSIONS = HERE / "regressions"
ROOT = HERE.parent


@dataclass(frozen=True)
class Harness:
    name: str
    run: Callable[[bytes], Any]
    kind: str
    """``json``, ``text`` or ``hex``: how the structure-aware mutator treats its inputs."""
    what: str
    """What is fuzzed, for RELIABILITY.md."""
    cost: int = 1
    """Relative cost of one input (the default test run gives a harness ``inputs // cost`` mutations)."""
    corpus: str = ""
    """The corpus directory, when another harness's (default: the harness's name)."""
    slow: float = 1.0
    """Multiplies the per-input time bound (zk proofs take a pairing-free but ~1 s check of every batch)."""

    def seeds(self) -> list[tuple[str, bytes]]:
        out = []
        for d in (CORPUS / (self.corpus or self.name), REGRESSIONS / self.name):
            if d.is_dir():
                out += [(str(p.relative_to(HERE)), p.read_bytes()) for p in sorted(d.iterdir()) if p.is_file()]
        return out


class Crash(Exception):
    """An outcome outside the contract (raised by :func:`outcome`)."""


def outcome(h: Harness, data: bytes) -> int:
    """Run ``h`` on ``data``: 0 (accepted) or the exit code (1, 2) of the PorError it raised.

    Any other exception propagates (a crash); a PorError with another exit code is a :class:`Crash`.
    """
    try:
        h.run(data)
    except PorError as exc:
        if exc.exit_code not in (1, 2):
            raise Crash(f"{type(exc).__name__} with exit code {exc.exit_code}: {exc}") from exc
        return exc.exit_code
    return 0


# ---------------------------------------------------------------------- trusted documents


def _json(data: bytes, what: str, file: str = "fuzzed") -> Any:
    """``data`` read as `por` reads a file of kind ``what``: within its size limit, then strictly parsed."""
    from por.core.errors import BadInput
    from por.core.fileio import DEFAULT_JSON_LIMIT, JSON_LIMITS, loads_json

    limit = JSON_LIMITS.get(what, DEFAULT_JSON_LIMIT)
    if len(data) > limit:
        raise BadInput(f"{what} is {len(data)} bytes; por reads at most {limit} bytes for a {what}", file=file)
    return loads_json(data, file=file, what=what)


@cache
def trusted_snapshot(mode: str) -> Any:
    from por.snapshot import load_snapshot

    return load_snapshot(TRUSTED / f"snapshot-{mode}.json")


@cache
def trusted_doc(name: str) -> Any:
    from por.core.fileio import read_json

    return read_json(TRUSTED / name, "snapshot")


@cache
def example_config() -> Any:
    from por.core.config import load_config

    return load_config(ROOT / "examples" / "snapshot.toml")


_SCRATCH = Path(tempfile.mkdtemp(prefix="por-fuzz-"))


def _scratch(name: str, data: bytes) -> Path:
    p = _SCRATCH / name
    p.write_bytes(data)
    return p


# ---------------------------------------------------------------------- the harnesses


def ledger(fmt: str) -> Callable[[bytes], None]:
    def run(data: bytes) -> None:
        from por.core.ledger import read_ledger

        path = _scratch(f"ledger.{fmt}", data)
        for _ in read_ledger(path, example_config(), clamp_negative=len(data) % 2 == 1):
            pass
    return run


def config(data: bytes) -> None:
    from por.core.config import load_config

    load_config(_scratch("snapshot.toml", data))


def snapshot(data: bytes) -> None:
    from por.snapshot import snapshot_from_dict

    snap = snapshot_from_dict(_json(data, "snapshot"), file="fuzzed")
    snap.to_dict()


def proof(mode: str) -> Callable[[bytes], None]:
    def run(data: bytes) -> None:
        from por.proofs.inclusion import verify_proof

        verify_proof(_json(data, "proof"), snapshot=trusted_snapshot(mode), file="fuzzed")
    return run


def solvency(mode: str) -> Callable[[bytes], None]:
    def run(data: bytes) -> None:
        from por.proofs.solvency import verify_solvency

        verify_solvency(_json(data, "solvency proof"), trusted_snapshot(mode), file="fuzzed")
    return run


def solvency_reserves(data: bytes) -> None:
    from por.proofs.solvency import parse_reserves

    parse_reserves(_json(data, "reserves"), trusted_snapshot("hiding").config, file="fuzzed")


def log_head(data: bytes) -> None:
    from por.log.head import verify_head

    verify_head(_json(data, "log head"), file="fuzzed")


def log_inclusion(data: bytes) -> None:
    from por.log.proofs import verify_inclusion

    verify_inclusion(_json(data, "log inclusion proof"), trusted_doc("log-head-2.json"), proof_file="fuzzed")


def log_consistency(data: bytes) -> None:
    from por.log.proofs import verify_consistency

    verify_consistency(_json(data, "log consistency proof"), trusted_doc("log-head-1.json"),
                       trusted_doc("log-head-2.json"), proof_file="fuzzed")


def reserves(data: bytes) -> None:
    """reserves.json: parsed, tied to the snapshot, and its Bitcoin attestations checked offline (BIP-137 /
    BIP-322 signatures, balances from the UTXO snapshot it names)."""
    from por.reserves.attestation import parse_reserves
    from por.reserves.check import verify_bitcoin

    snap = trusted_snapshot("public")
    res = parse_reserves(_json(data, "reserves"), file="fuzzed", base_dir=TRUSTED)
    _, failures, _ = verify_bitcoin(res, {a.symbol: a.decimals for a in snap.config.assets})
    res.check_snapshot(snap.config.snapshot_id, snap.root)
    if failures:  # `por reserves verify` exits 1 with them
        from por.core.errors import VerificationFailed

        raise VerificationFailed("; ".join(failures))


def utxo_snapshot(data: bytes) -> None:
    from por.reserves.bitcoin_utxo import parse_utxo_snapshot

    snap = parse_utxo_snapshot(_json(data, "UTXO snapshot"), file="fuzzed")
    for a in snap.addresses():
        snap.balance(a)
    snap.total()


def rangeproof(data: bytes) -> None:
    """The Bulletproofs decoder: strict, and canonical (what decodes re-encodes to the same hex)."""
    from por.core.errors import BadInput
    from por.crypto.rangeproof import RangeProof

    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise BadInput("not ASCII") from None
    proof_ = RangeProof.from_hex(text)
    assert proof_.to_hex() == text, "a decoded range proof re-encodes differently"


def groth16_proof(data: bytes) -> None:
    from por.zk.groth16 import parse_proof

    p = parse_proof(_json(data, "batch proof"), source="fuzzed")
    p.to_json()


def groth16_vk(data: bytes) -> None:
    from por.zk.groth16 import parse_verifying_key

    vk = parse_verifying_key(_json(data, "verification key"), source="fuzzed")
    vk.to_json()


def zk_batch(margin: bool) -> Callable[[bytes], None]:
    def run(data: bytes) -> None:
        from por.modes.zk import parse_batch_proof

        mode = "margin_zk" if margin else "zk"
        parse_batch_proof(_json(data, "batch proof"), trusted_snapshot(mode).scheme.values, file="fuzzed")
    return run


@cache
def _cli_runner() -> Any:
    from typer.testing import CliRunner

    return CliRunner()


def cli_verify(data: bytes) -> None:
    """``por verify PROOF --snapshot S`` end to end (the CLI's own printing included), in process."""
    from por.cli.app import app
    from por.core.errors import BadInput, VerificationFailed

    path = _scratch("proof.json", data)
    r = _cli_runner().invoke(app, ["verify", str(path), "--snapshot", str(TRUSTED / "snapshot-public.json")])
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        raise r.exception
    if r.exit_code == 1:
        raise VerificationFailed("por verify exited 1")
    if r.exit_code == 2:
        raise BadInput("por verify exited 2")
    if r.exit_code != 0:
        raise Crash(f"por verify exited {r.exit_code}: {r.output[-500:]}")


HARNESSES: dict[str, Harness] = {h.name: h for h in [
    Harness("ledger_csv", ledger("csv"), "text", "ledger reader, CSV (SPEC §2.2)"),
    Harness("ledger_jsonl", ledger("jsonl"), "text", "ledger reader, JSON Lines (SPEC §2.2)"),
    Harness("config", config, "text", "snapshot.toml loader (SPEC §2.1)"),
    Harness("snapshot", snapshot, "json", "snapshot.json parser, every mode"),
    Harness("proof_public", proof("public"), "json", "inclusion proof verifier, public mode"),
    Harness("proof_hiding", proof("hiding"), "json", "inclusion proof verifier, hiding mode (Bulletproofs)", 10),
    Harness("proof_margin", proof("margin"), "json", "inclusion proof verifier, margin (version 2)"),
    Harness("proof_margin_hiding", proof("margin_hiding"), "json", "inclusion proof verifier, margin hiding", 10),
    Harness("proof_zk", proof("zk"), "json", "inclusion proof verifier, zk mode", 3, slow=5),
    Harness("proof_margin_zk", proof("margin_zk"), "json", "inclusion proof verifier, margin zk mode", 3, slow=5),
    Harness("solvency_hiding", solvency("hiding"), "json", "solvency proof verifier", 10),
    Harness("solvency_margin_hiding", solvency("margin_hiding"), "json", "solvency proof verifier, margin", 10),
    Harness("solvency_reserves", solvency_reserves, "json", "reserves table of `solvency prove`"),
    Harness("log_head", log_head, "json", "signed log head verifier"),
    Harness("log_inclusion", log_inclusion, "json", "log inclusion proof verifier"),
    Harness("log_consistency", log_consistency, "json", "log consistency proof verifier"),
    Harness("reserves", reserves, "json", "reserves.json parser + offline Bitcoin attestation check", 3),
    Harness("utxo_snapshot", utxo_snapshot, "json", "Bitcoin UTXO snapshot parser"),
    Harness("rangeproof", rangeproof, "hex", "Bulletproofs decoder (RangeProof.from_hex)"),
    Harness("groth16_proof", groth16_proof, "json", "Groth16 proof decoder (parse_proof)"),
    Harness("groth16_vk", groth16_vk, "json", "Groth16 verifying key decoder (parse_verifying_key)", 2),
    Harness("zk_batch", zk_batch(False), "json", "zk batch proof document parser"),
    Harness("zk_batch_margin", zk_batch(True), "json", "zk batch proof document parser, margin"),
    Harness("cli_verify", cli_verify, "json", "`por verify` end to end (CLI output included)", 2,
            "proof_public"),
]}

