"""The node toolchain of the zk mode: compile the batch circuit, run a local Groth16 setup, prove.

Tools come from the repository's ``node_modules`` (``package.json``; ``scripts/setup-node.sh``):
``circom2`` (circom 2.2 compiled to WebAssembly, offline), ``snarkjs`` and ``circomlib``; ``node``
itself must be on ``PATH``. They are found relative to this package, like :mod:`por.reserves.devchain`
finds anvil. A missing tool raises :class:`~por.core.errors.ServiceUnavailable`; a tool that rejects its
input (a witness violating a constraint, a circuit too large for the powers of tau) raises
:class:`ToolError` (a :class:`~por.core.errors.BadInput`), :class:`WitnessError` for witnesses.

**The local setup is for testing only.** Its randomness comes from the ``entropy`` string, so anyone
who knows that string can forge proofs. It is deterministic: the same entropy and snarkjs version
give byte-identical ``.ptau``, ``.zkey`` and ``verification_key.json`` files, because both
contributions are snarkjs *beacons* (``powersoftau beacon`` / ``zkey beacon``, whose randomness is
derived from the beacon hash alone) -- snarkjs' ``contribute -e`` mixes OS randomness into the
entropy and is therefore never used here. A production setup uses a public ceremony's ``.ptau``
(``setup(circuit, ptau=...)``) and a multi-party phase 2 (``import_setup``); see circuits/README.md.

Proving (:func:`prove_batches`, :func:`prove_batch`) runs ``prove_batches.mjs``: one node process
for any number of batches, with snarkjs' Groth16 randomness ``r, s`` drawn from a stream seeded by a
32-byte seed per batch, so the same batch and seed give byte-identical proofs (the stream is specified
in that script's header). ``prove_batch`` without a seed draws one from the OS: proofs then differ
run to run, all verify. :func:`calculate_witness` and :func:`prove_witness` still run the snarkjs
CLI (OS randomness) for single steps.
"""

from __future__ import annotations

import collections
import hashlib
import itertools
import json
import os
import queue
import re
import shutil
import struct
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from por.core.encoding import H, lp, tag
from por.core.errors import BadInput, ServiceUnavailable
from por.zk.batch import (
    MARGIN_MAX_ASSETS,
    MAX_ASSETS,
    MAX_K,
    BatchLeaf,
    MarginLeaf,
    margin_witness_input,
    split_margin_public,
    witness_input,
)
from por.zk.groth16 import Proof, VerifyingKey, load_proof, load_public_signals, load_verifying_key
from por.zk.poseidon import P
from por.zk.witness import levels_from_witness, read_witness

ROOT = Path(__file__).resolve().parents[2]  # the repository (editable install)
NODE_MODULES = ROOT / "node_modules"
NODE_BIN = NODE_MODULES / ".bin"
CIRCOM_BIN = NODE_BIN / "circom2"
SNARKJS_BIN = NODE_BIN / "snarkjs"
CIRCUITS_DIR = ROOT / "circuits"
BATCH_SOURCE = CIRCUITS_DIR / "batch.circom"
MARGIN_SOURCE = CIRCUITS_DIR / "batch_margin.circom"
"""``BatchMargin(k, A)``: margin leaves (equity, debt) with the per-account rule (SPEC.md §17.5)."""
TEMPLATES = {"Batch": BATCH_SOURCE, "BatchMargin": MARGIN_SOURCE}
"""Circuit templates this toolchain compiles, each with its source file in ``circuits/``."""
CIRCOMLIB_PACKAGE = NODE_MODULES / "circomlib" / "package.json"

BEACON_ITERATIONS_EXP = 10
"""snarkjs beacon delay parameter (2^10 hash iterations, the minimum it accepts)."""
CONTRIBUTOR = "por local setup (testing only)"
COMPILE_FLAGS = ("--O2", "--r1cs", "--wasm", "--sym")
TAG_SETUP_PTAU = tag("zk-setup-ptau")
TAG_SETUP_ZKEY = tag("zk-setup-zkey")

DEFAULT_TIMEOUT = 3600.0
PROVE_SCRIPT = Path(__file__).resolve().parent / "prove_batches.mjs"
"""The node script that proves batches in one process (package data, beside this module)."""
PROVE_SEED_LEN = 32
"""Bytes of a batch proof's seed (the source of its Groth16 randomness ``r, s``)."""
PROVE_EXIT_WITNESS = 3
"""``prove_batches.mjs`` exit status when a witness violates a constraint."""
PROVE_LOOKAHEAD = 2
"""Jobs handed to ``prove_batches.mjs`` ahead of their results (node never waits for Python)."""
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class ToolError(BadInput):
    """A node tool exited with an error on our input; the message ends with the tool's own words."""


class WitnessError(ToolError):
    """The circuit rejected the input: a constraint failed while computing the witness."""


# ---------------------------------------------------------------- locating and running tools

@dataclass(frozen=True)
class Tools:
    """Paths of ``node`` and of the two npm tools."""

    node: Path
    circom: Path
    snarkjs: Path


def find_tools() -> Tools:
    """Locate node, circom2 and snarkjs, or raise :class:`ServiceUnavailable` saying how to install them."""
    node = shutil.which("node")
    if node is None:
        raise ServiceUnavailable("node not found on PATH: the zk toolchain needs Node.js >= 20 "
                                 "(Debian: apt-get install nodejs npm)")
    for tool, package in ((CIRCOM_BIN, "circom2"), (SNARKJS_BIN, "snarkjs")):
        if not tool.exists():
            raise ServiceUnavailable(f"{tool} is missing: the zk toolchain needs the npm package {package}; "
                                     "run scripts/setup-node.sh (npm ci) in the repository root")
    if not (BATCH_SOURCE.is_file() and CIRCOMLIB_PACKAGE.is_file()):
        raise ServiceUnavailable(f"{BATCH_SOURCE} or circomlib ({CIRCOMLIB_PACKAGE.parent}) is missing: "
                                 "run scripts/setup-node.sh in the repository root")
    return Tools(Path(node), CIRCOM_BIN, SNARKJS_BIN)


def _run(args: Sequence[str | Path], what: str, *, cwd: Path, timeout: float,
         error: type[ToolError] = ToolError) -> str:
    """Run a tool; return its combined output, or raise naming ``what`` with the output's tail."""
    cmd = [str(a) for a in args]
    try:
        proc = subprocess.run(cmd, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=timeout, check=False)
    except FileNotFoundError as exc:
        raise ServiceUnavailable(f"{what}: cannot start {cmd[0]}: {exc.strerror}") from None
    except subprocess.TimeoutExpired:
        raise ServiceUnavailable(f"{what}: no result within {timeout:g} s") from None
    out = _ANSI.sub("", (proc.stdout or "") + (proc.stderr or ""))
    if proc.returncode != 0:
        raise error(f"{what} failed (exit {proc.returncode}): {_tail(out)}")
    return out


def _tail(output: str, limit: int = 1500) -> str:
    """The informative part of a tool's output: error lines without the JS stack trace."""
    lines = [ln.strip() for ln in output.splitlines() if ln.strip() and not ln.strip().startswith("at ")]
    text = " | ".join(lines)
    return text[-limit:] if len(text) > limit else text


def _snarkjs(tools: Tools, *args: str | Path, what: str, cwd: Path, timeout: float = DEFAULT_TIMEOUT,
             error: type[ToolError] = ToolError) -> str:
    return _run([tools.node, tools.snarkjs, *args], what, cwd=cwd, timeout=timeout, error=error)


def _package_version(package_json: Path) -> str:
    return json.loads(package_json.read_text())["version"]


def node_version(tools: Tools) -> str:
    """``node --version`` (e.g. ``v20.20.2``)."""
    return _run([tools.node, "--version"], "node --version", cwd=ROOT, timeout=60).strip()


def tool_versions() -> dict[str, str]:
    """Pinned versions of circom2, circomlib and snarkjs as installed (for stamps and reports)."""
    return {name: _package_version(NODE_MODULES / name / "package.json")
            for name in ("circom2", "circomlib", "snarkjs")}


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _stamp_matches(path: Path, stamp: Mapping[str, object]) -> bool:
    try:
        return json.loads(path.read_text()) == stamp
    except (OSError, ValueError):
        return False


def _write_stamp(path: Path, stamp: Mapping[str, object]) -> None:
    path.write_text(json.dumps(stamp, sort_keys=True, indent=2) + "\n")


def default_cache_dir() -> Path:
    """``$POR_ZK_CACHE`` or ``<repository>/build/zk`` (git-ignored)."""
    env = os.environ.get("POR_ZK_CACHE")
    return Path(env) if env else ROOT / "build" / "zk"


# ---------------------------------------------------------------- r1cs

@dataclass(frozen=True)
class R1csInfo:
    """The header of a ``.r1cs`` file (iden3 binary format, section 1)."""

    prime: int
    n_wires: int
    n_public_outputs: int
    n_public_inputs: int
    n_private_inputs: int
    n_labels: int
    n_constraints: int

    @property
    def n_public(self) -> int:
        """Public signals of a proof: outputs then public inputs."""
        return self.n_public_outputs + self.n_public_inputs

    @property
    def power(self) -> int:
        """The smallest powers-of-tau exponent snarkjs accepts: ``2^power > constraints + public``."""
        return (self.n_constraints + self.n_public).bit_length()


def read_r1cs_info(path: Path) -> R1csInfo:
    """Parse the header section of an r1cs file (``BadInput`` if it is not one).

    Sections may come in any order (circom writes the constraints first), so this seeks from
    section header to section header.
    """
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"r1cs":
            raise BadInput("not an r1cs file", file=str(path))
        for _ in range(struct.unpack_from("<I", head, 8)[0]):
            raw = f.read(12)
            if len(raw) < 12:
                break
            kind, size = struct.unpack("<IQ", raw)
            if kind != 1:
                f.seek(size, os.SEEK_CUR)
                continue
            body = f.read(size)
            n8 = struct.unpack_from("<I", body, 0)[0]
            prime = int.from_bytes(body[4 : 4 + n8], "little")
            wires, outs, pubs, prvs = struct.unpack_from("<IIII", body, 4 + n8)
            labels, constraints = struct.unpack_from("<QI", body, 20 + n8)
            return R1csInfo(prime, wires, outs, pubs, prvs, labels, constraints)
    raise BadInput("r1cs file has no header section", file=str(path))


# ---------------------------------------------------------------- compiling

@dataclass(frozen=True)
class CompiledCircuit:
    """A compiled ``Batch(k, assets)``: constraint system, witness generator and symbol table."""

    k: int
    assets: int
    directory: Path
    info: R1csInfo
    margin: bool = False
    """``True`` for ``BatchMargin(k, assets)`` (circuits/batch_margin.circom), else ``Batch(k, assets)``."""

    @property
    def template(self) -> str:
        return "BatchMargin" if self.margin else "Batch"

    @property
    def name(self) -> str:
        """``Batch(k, A)`` or ``BatchMargin(k, A)`` (for messages)."""
        return f"{self.template}({self.k}, {self.assets})"

    @property
    def r1cs(self) -> Path:
        return self.directory / "main.r1cs"

    @property
    def wasm(self) -> Path:
        return self.directory / "main_js" / "main.wasm"

    @property
    def sym(self) -> Path:
        return self.directory / "main.sym"

    @property
    def n_leaves(self) -> int:
        return 1 << self.k


def main_source(k: int, assets: int, template: str = "Batch") -> str:
    """The main component of ``Batch(k, assets)`` (compiled with ``-l circuits -l node_modules``).

    ``template="BatchMargin"``: ``BatchMargin(k, assets)`` (``assets ≤ 7``) with its factor inputs
    public: ``component main {public [f_eq, f_debt]} = BatchMargin(k, assets);``.
    """
    if template not in TEMPLATES:
        raise BadInput(f"unknown circuit template {template!r} (expected one of {sorted(TEMPLATES)})")
    max_assets = MARGIN_MAX_ASSETS if template == "BatchMargin" else MAX_ASSETS
    if not (isinstance(k, int) and 0 <= k <= MAX_K):
        raise BadInput(f"batch height k = {k!r} is outside 0..{MAX_K}")
    if not (isinstance(assets, int) and 1 <= assets <= max_assets):
        raise BadInput(f"asset count {assets!r} is outside 1..{max_assets}")
    if template == "BatchMargin":
        return (f'pragma circom 2.1.0;\ninclude "batch_margin.circom";\n'
                f'component main {{public [f_eq, f_debt]}} = BatchMargin({k}, {assets});\n')
    return f'pragma circom 2.1.0;\ninclude "batch.circom";\ncomponent main = Batch({k}, {assets});\n'


def compile_batch(k: int, assets: int, cache_dir: Path, *, tools: Tools | None = None,
                  timeout: float = DEFAULT_TIMEOUT, margin: bool = False) -> CompiledCircuit:
    """Compile ``Batch(k, assets)`` into ``cache_dir/batch_k{k}_a{assets}`` (reused if up to date).

    The stamp ``build.json`` records the hashes of ``batch.circom`` and the main component, the tool
    versions and the flags; anything else in that directory is rebuilt when it differs.

    ``margin=True`` compiles ``BatchMargin(k, assets)`` (circuits/batch_margin.circom, ``1 + 4A`` public
    signals) into ``cache_dir/batch_margin_k{k}_a{assets}`` instead; its stamp hashes that source.
    """
    tools = tools or find_tools()
    if margin and not MARGIN_SOURCE.is_file():
        raise ServiceUnavailable(f"{MARGIN_SOURCE} is missing: reinstall the por package")
    source = main_source(k, assets, "BatchMargin" if margin else "Batch")
    out = Path(cache_dir).resolve() / (f"batch_margin_k{k}_a{assets}" if margin else f"batch_k{k}_a{assets}")
    if margin:
        stamp = {"batch_margin.circom": _sha256_file(MARGIN_SOURCE), "main": source, "flags": list(COMPILE_FLAGS),
                 "versions": tool_versions()}
    else:
        stamp = {"batch.circom": _sha256_file(BATCH_SOURCE), "main": source, "flags": list(COMPILE_FLAGS),
                 "versions": tool_versions()}
    n_public = 1 + 4 * assets if margin else 1 + assets
    label = f"{'BatchMargin' if margin else 'Batch'}({k}, {assets})"

    def circuit_of() -> CompiledCircuit:
        return CompiledCircuit(k, assets, out, read_r1cs_info(out / "main.r1cs"), margin)

    if _stamp_matches(out / "build.json", stamp) and (out / "main_js" / "main.wasm").is_file():
        return circuit_of()
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / "main.circom").write_text(source)
    # circom2 runs under WASI with the working directory's ancestors as preopened paths and rewrites
    # every path argument relative to the working directory: from "/" every absolute path resolves.
    _run([tools.node, tools.circom, out / "main.circom", *COMPILE_FLAGS, "-l", CIRCUITS_DIR,
          "-l", NODE_MODULES, "-o", out], f"circom compiling {label}", cwd=Path("/"),
         timeout=timeout)
    circuit = circuit_of()
    if circuit.info.n_public != n_public or circuit.info.prime != P:
        raise ToolError(f"compiled {label} has {circuit.info.n_public} public signals "
                        f"over prime {circuit.info.prime}, expected {n_public} over BN254")
    _write_stamp(out / "build.json", stamp)
    return circuit


# ---------------------------------------------------------------- setup

def entropy_id(entropy: str) -> str:
    """A short file-name-safe identifier of an entropy string (not the entropy itself)."""
    return hashlib.sha256(entropy.encode()).hexdigest()[:16]


def beacon_hash(tag_bytes: bytes, entropy: str) -> str:
    """``hex(H(tag ‖ lp(entropy)))``: the 32-byte snarkjs beacon of one setup phase."""
    if not entropy:
        raise BadInput("setup entropy must be a non-empty string")
    return H(tag_bytes + lp(entropy)).hex()


def powers_of_tau(power: int, entropy: str, cache_dir: Path, *, tools: Tools | None = None,
                  timeout: float = DEFAULT_TIMEOUT) -> Path:
    """A local, prepared phase-1 file ``cache_dir/ptau/pot{power}_{id}.ptau`` (reused when present).

    ``powersoftau new bn128 power`` → ``powersoftau beacon`` with ``beacon_hash(TAG("zk-setup-ptau"),
    entropy)`` → ``powersoftau prepare phase2``. Deterministic; **testing only**. Slow: the
    preparation is about 2 minutes at power 12 and grows linearly with 2^power.
    """
    tools = tools or find_tools()
    if not (isinstance(power, int) and 1 <= power <= 28):
        raise BadInput(f"powers-of-tau exponent {power!r} is outside 1..28")
    beacon = beacon_hash(TAG_SETUP_PTAU, entropy)
    out_dir = Path(cache_dir).resolve() / "ptau"
    final = out_dir / f"pot{power}_{entropy_id(entropy)}.ptau"
    if final.is_file():
        return final
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".pot-") as tmp:
        work = Path(tmp)
        _snarkjs(tools, "powersoftau", "new", "bn128", str(power), work / "0.ptau",
                 what=f"snarkjs powersoftau new (power {power})", cwd=work, timeout=timeout)
        _snarkjs(tools, "powersoftau", "beacon", work / "0.ptau", work / "1.ptau", beacon,
                 str(BEACON_ITERATIONS_EXP), f"-n={CONTRIBUTOR}", what="snarkjs powersoftau beacon",
                 cwd=work, timeout=timeout)
        _snarkjs(tools, "powersoftau", "prepare", "phase2", work / "1.ptau", work / "final.ptau",
                 what="snarkjs powersoftau prepare phase2", cwd=work, timeout=timeout)
        os.replace(work / "final.ptau", final)
    return final


@dataclass(frozen=True)
class CircuitSetup:
    """A circuit with its proving key (``.zkey``) and verifying key (``verification_key.json``)."""

    circuit: CompiledCircuit
    directory: Path

    @property
    def zkey(self) -> Path:
        return self.directory / "circuit_final.zkey"

    @property
    def vkey_path(self) -> Path:
        return self.directory / "verification_key.json"

    def verifying_key(self) -> VerifyingKey:
        """The verifying key, strictly parsed (:func:`por.zk.groth16.parse_verifying_key`)."""
        return load_verifying_key(self.vkey_path)


def setup(circuit: CompiledCircuit, ptau: Path, entropy: str, *, tools: Tools | None = None,
          timeout: float = DEFAULT_TIMEOUT) -> CircuitSetup:
    """Groth16 phase 2 for ``circuit`` on a prepared ``ptau`` (local or a ceremony's), one beacon.

    ``groth16 setup`` → ``zkey beacon`` with ``beacon_hash(TAG("zk-setup-zkey"), entropy)`` →
    ``zkey export verificationkey``, into ``<circuit dir>/setup-<id>`` where ``id`` hashes the ptau
    file, the entropy and the r1cs (reused when its stamp matches). Even with a ceremony ptau this
    phase 2 has a single, known contribution: **testing only** (production: :func:`import_setup`).
    """
    tools = tools or find_tools()
    ptau = Path(ptau).resolve()
    if not ptau.is_file():
        raise BadInput("powers-of-tau file not found", file=str(ptau))
    if circuit.info.power > _ptau_power(ptau):
        raise BadInput(f"{circuit.name} has {circuit.info.n_constraints} constraints and "
                       f"needs powers of tau of at least 2^{circuit.info.power}", file=str(ptau))
    beacon = beacon_hash(TAG_SETUP_ZKEY, entropy)
    stamp = {"r1cs": _sha256_file(circuit.r1cs), "ptau": _sha256_file(ptau), "entropy": entropy_id(entropy),
             "snarkjs": tool_versions()["snarkjs"], "beacon_iterations_exp": BEACON_ITERATIONS_EXP}
    sid = hashlib.sha256(json.dumps(stamp, sort_keys=True).encode()).hexdigest()[:16]
    out = circuit.directory / f"setup-{sid}"
    result = CircuitSetup(circuit, out)
    if _stamp_matches(out / "setup.json", stamp) and result.zkey.is_file() and result.vkey_path.is_file():
        return result
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    _snarkjs(tools, "groth16", "setup", circuit.r1cs, ptau, out / "circuit_0000.zkey",
             what=f"snarkjs groth16 setup of {circuit.name}", cwd=out, timeout=timeout)
    _snarkjs(tools, "zkey", "beacon", out / "circuit_0000.zkey", result.zkey, beacon, str(BEACON_ITERATIONS_EXP),
             f"-n={CONTRIBUTOR}", what="snarkjs zkey beacon", cwd=out, timeout=timeout)
    (out / "circuit_0000.zkey").unlink()
    _export_vkey(tools, result, timeout)
    _write_stamp(out / "setup.json", stamp)
    return result


def _export_vkey(tools: Tools, result: CircuitSetup, timeout: float) -> None:
    _snarkjs(tools, "zkey", "export", "verificationkey", result.zkey, result.vkey_path,
             what="snarkjs zkey export verificationkey", cwd=result.directory, timeout=timeout)
    vk = result.verifying_key()
    if vk.n_public != result.circuit.info.n_public:
        raise ToolError(f"verification key has {vk.n_public} public signals, the circuit {result.circuit.info.n_public}")


def _ptau_power(ptau: Path) -> int:
    """The power of a ``.ptau`` file (header section 1: n8, prime, power, ceremony power)."""
    with open(ptau, "rb") as f:
        head = f.read(12 + 12 + 4 + 64 + 8)
    if head[:4] != b"ptau":
        raise BadInput("not a powers-of-tau (.ptau) file", file=str(ptau))
    kind, _size = struct.unpack_from("<IQ", head, 12)
    n8 = struct.unpack_from("<I", head, 24)[0]
    if kind != 1 or n8 != 32:
        raise BadInput("unexpected .ptau header (not a bn128 file?)", file=str(ptau))
    return struct.unpack_from("<I", head, 28 + n8)[0]


def setup_batch(k: int, assets: int, entropy: str, cache_dir: Path | None = None, *,
                ptau: Path | None = None, tools: Tools | None = None,
                timeout: float = DEFAULT_TIMEOUT, margin: bool = False) -> CircuitSetup:
    """Compile ``Batch(k, assets)`` and set it up: with ``ptau`` if given, else a local phase 1.

    **Testing only** (see the module docstring). Everything is cached under ``cache_dir``
    (default :func:`default_cache_dir`). ``margin=True``: ``BatchMargin(k, assets)`` instead.
    """
    tools = tools or find_tools()
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    circuit = compile_batch(k, assets, cache, tools=tools, timeout=timeout, margin=margin)
    if ptau is None:
        ptau = powers_of_tau(circuit.info.power, entropy, cache, tools=tools, timeout=timeout)
    return setup(circuit, ptau, entropy, tools=tools, timeout=timeout)


def import_setup(circuit: CompiledCircuit, zkey: Path, directory: Path, *, ptau: Path | None = None,
                 tools: Tools | None = None, timeout: float = DEFAULT_TIMEOUT) -> CircuitSetup:
    """Use a final ``.zkey`` from a multi-party phase-2 ceremony for ``circuit``.

    With ``ptau`` (the ceremony's phase-1 file), first ``snarkjs zkey verify`` checks that the zkey
    belongs to this r1cs and that ptau, and lists its contributions. The zkey is copied to
    ``directory/circuit_final.zkey`` and the verifying key exported beside it.
    """
    tools = tools or find_tools()
    zkey = Path(zkey).resolve()
    if not zkey.is_file():
        raise BadInput("zkey file not found", file=str(zkey))
    if ptau is not None:
        _snarkjs(tools, "zkey", "verify", circuit.r1cs, Path(ptau).resolve(), zkey,
                 what="snarkjs zkey verify", cwd=zkey.parent, timeout=timeout)
    out = Path(directory).resolve()
    out.mkdir(parents=True, exist_ok=True)
    result = CircuitSetup(circuit, out)
    if zkey != result.zkey:
        shutil.copyfile(zkey, result.zkey)
    _export_vkey(tools, result, timeout)
    return result


# ---------------------------------------------------------------- proving

@dataclass(frozen=True)
class BatchProof:
    """A proof with its public signals ``[root, sum_0, ..., sum_{A-1}]`` and the time it took.

    ``levels`` (only with ``prove_batch(..., with_levels=True)``) are the batch's Poseidon levels as the
    circuit computed them, leaves first (see :func:`levels_from_witness`).
    """

    proof: Proof
    public: tuple[int, ...]
    witness_seconds: float
    prove_seconds: float
    levels: list[list[int]] | None = None

    @property
    def root(self) -> int:
        return self.public[0]

    @property
    def sums(self) -> tuple[int, ...]:
        return self.public[1:]


def calculate_witness(circuit: CompiledCircuit, inputs: Mapping[str, object], witness: Path, *,
                      tools: Tools | None = None, timeout: float = DEFAULT_TIMEOUT) -> Path:
    """Write the witness of ``inputs`` (the circuit's input JSON object) to ``witness``.

    Raises :class:`WitnessError` when a constraint fails (e.g. a balance or a sum outside
    [0, 2^64)) -- the message names circom's failing template and line.
    """
    tools = tools or find_tools()
    witness = Path(witness).resolve()
    input_path = witness.with_suffix(".input.json")
    input_path.write_text(json.dumps(inputs))
    _snarkjs(tools, "wtns", "calculate", circuit.wasm, input_path, witness,
             what=f"witness of {circuit.name}", cwd=witness.parent, timeout=timeout,
             error=WitnessError)
    return witness


def prove_witness(setup: CircuitSetup, witness: Path, out_dir: Path, *, tools: Tools | None = None,
                  timeout: float = DEFAULT_TIMEOUT) -> tuple[Path, Path]:
    """``snarkjs groth16 prove``: write ``proof.json`` and ``public.json`` into ``out_dir``.

    snarkjs does not check that the witness satisfies the constraints: a witness that does not
    gives a proof that does not verify (the tests rely on exactly this).
    """
    tools = tools or find_tools()
    out_dir = Path(out_dir).resolve()
    proof, public = out_dir / "proof.json", out_dir / "public.json"
    _snarkjs(tools, "groth16", "prove", setup.zkey, Path(witness).resolve(), proof, public,
             what="snarkjs groth16 prove", cwd=out_dir, timeout=timeout)
    return proof, public


def _check_batch(circuit: CompiledCircuit, leaves: Sequence[BatchLeaf], label: str = "") -> None:
    """``BadInput`` unless ``leaves`` fill ``Batch(k, A)``: ``2^k`` leaves of ``A`` assets each."""
    if circuit.margin:
        raise BadInput(f"{label}{circuit.name} proves margin leaves: use prove_margin_batches")
    if len(leaves) != circuit.n_leaves:
        raise BadInput(f"{label}Batch({circuit.k}, {circuit.assets}) takes {circuit.n_leaves} leaves, got {len(leaves)}")
    if any(not isinstance(leaf, BatchLeaf) for leaf in leaves):
        raise BadInput(f"{label}every leaf must be a BatchLeaf")
    if any(len(leaf.balances) != circuit.assets for leaf in leaves):
        raise BadInput(f"{label}every leaf must hold {circuit.assets} assets for Batch({circuit.k}, {circuit.assets})")


def _check_seed(seed: object, label: str = "") -> bytes:
    """The 32-byte proving seed, or ``BadInput``."""
    if not isinstance(seed, (bytes, bytearray)) or len(seed) != PROVE_SEED_LEN:
        raise BadInput(f"{label}the proving seed must be {PROVE_SEED_LEN} bytes")
    return bytes(seed)


def _check_job(circuit: CompiledCircuit, index: int, job: object) -> tuple[int, Sequence[BatchLeaf], bytes]:
    """``(index, leaves, seed)`` of one ``(leaves, seed)`` pair, or ``BadInput`` naming ``batch index``."""
    label = f"batch {index}: "
    if not (isinstance(job, tuple) and len(job) == 2):
        raise BadInput(f"{label}expected a (leaves, seed) pair")
    leaves, seed = job
    _check_batch(circuit, leaves, label)
    return index, leaves, _check_seed(seed, label)


def prove_batches(setup: CircuitSetup, batches: Iterable[tuple[Sequence[BatchLeaf], bytes]],
                  workdir: Path | None = None, *, with_levels: bool = False,
                  progress: Callable[[int], object] | None = None, tools: Tools | None = None,
                  timeout: float = DEFAULT_TIMEOUT) -> Iterator[BatchProof]:
    """Prove many batches in one node process (``prove_batches.mjs``), deterministically.

    ``batches`` holds ``(leaves, seed)`` pairs: ``2^k`` leaves of ``A`` assets for ``setup``'s
    ``Batch(k, A)`` and a 32-byte seed. The proof's randomness ``r, s`` comes from the seed alone
    (stream in ``prove_batches.mjs`` and SPEC.md §16), so the same leaves and seed give byte-identical
    proofs. **The seed must be secret and never reused for different leaves**: knowing ``r, s``
    undoes the proof's zero knowledge.

    Returns an iterator of :class:`BatchProof`, one per batch, in input order, each yielded as soon as
    it is proved, so callers can write files incrementally; ``progress(1)`` is called once per proved
    batch, just before it is yielded. A :class:`~collections.abc.Sequence` of batches is validated
    completely before anything runs; any other iterable is consumed lazily (and validated batch by
    batch). ``with_levels`` also returns each batch's Poseidon levels read from its witness.
    ``timeout`` bounds each batch (seconds from the previous batch's result, or from the start).
    ``witness_seconds`` / ``prove_seconds`` are the node process's own timings (no start-up cost).

    Raises :class:`BadInput` for a malformed batch or seed (naming ``batch i``), :class:`WitnessError`
    naming the batch whose witness violates a constraint (e.g. a balance or a sum outside
    [0, 2^64)), :class:`ToolError` for other failures and :class:`ServiceUnavailable` when node is
    missing or a batch exceeds ``timeout``. Proofs and public signals are parsed strictly
    (:func:`~por.zk.groth16.load_proof`, :func:`~por.zk.groth16.load_public_signals`). Closing the
    iterator early stops the node process and removes its temporary directory (under ``workdir``).
    """
    tools = tools or find_tools()
    if not PROVE_SCRIPT.is_file():
        raise ServiceUnavailable(f"{PROVE_SCRIPT} is missing: reinstall the por package")
    if not (setup.zkey.is_file() and setup.circuit.wasm.is_file()):
        raise BadInput("the setup has no zkey or the circuit no wasm witness generator",
                       file=str(setup.directory))
    if not (isinstance(timeout, (int, float)) and timeout > 0):
        raise BadInput(f"timeout must be a positive number of seconds, not {timeout!r}")
    if isinstance(batches, Sequence):
        jobs: Iterator[tuple[int, Sequence[BatchLeaf], bytes]] = iter(
            [_check_job(setup.circuit, i, job) for i, job in enumerate(batches)])
    else:
        jobs = (_check_job(setup.circuit, i, job) for i, job in enumerate(batches))
    return _prove_stream(setup, jobs, workdir, with_levels=with_levels, progress=progress, tools=tools,
                         timeout=float(timeout))


@dataclass(frozen=True)
class _Job:
    """One batch handed to ``prove_batches.mjs``: its index and its files in the work directory."""

    index: int
    input: Path
    proof: Path
    public: Path
    witness: Path | None

    def files(self) -> tuple[Path, ...]:
        return (self.input, self.proof, self.public) + ((self.witness,) if self.witness else ())


def _prove_stream(setup: CircuitSetup, jobs: Iterator[tuple[int, Sequence[BatchLeaf], bytes]],
                  workdir: Path | None, *, with_levels: bool, progress: Callable[[int], object] | None,
                  tools: Tools, timeout: float) -> Iterator[BatchProof]:
    """The generator behind :func:`prove_batches`: feed jobs on stdin, collect ``done`` lines.

    Protocol (see ``prove_batches.mjs``): one JSON job per stdin line, at most ``PROVE_LOOKAHEAD``
    unfinished at a time (so node never waits for Python, and the pipe never fills); stdout carries
    ``done <index> <witness_ms> <prove_ms>`` per job; stderr goes to a file; exit 3 is a witness
    failure. The last proof is yielded only after node has exited cleanly.
    """
    first = next(jobs, None)
    if first is None:  # nothing to prove: no node process
        return
    jobs = itertools.chain([first], jobs)
    circuit = setup.circuit
    what = f"proving {circuit.name}"
    with tempfile.TemporaryDirectory(dir=workdir, prefix="por-zk-prove-") as tmp:
        work = Path(tmp).resolve()  # node runs in it: every path handed over is absolute
        config = work / "config.json"
        config.write_text(json.dumps({"node_modules": str(NODE_MODULES), "zkey": str(setup.zkey.resolve()),
                                      "wasm": str(circuit.wasm.resolve())}))
        with open(work / "stderr.log", "w+b") as stderr:
            try:
                proc = subprocess.Popen([str(tools.node), str(PROVE_SCRIPT), str(config)], cwd=work,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr)
            except OSError as exc:
                raise ServiceUnavailable(f"{what}: cannot start {tools.node}: {exc.strerror}") from None
            lines: queue.Queue[bytes | None] = queue.Queue()

            def read_stdout() -> None:
                assert proc.stdout is not None
                for raw in proc.stdout:
                    lines.put(raw)
                lines.put(None)

            reader = threading.Thread(target=read_stdout, name="por-zk-prove-stdout", daemon=True)
            reader.start()
            pending: collections.deque[_Job] = collections.deque()

            def failure(index: int | None) -> ToolError | ServiceUnavailable:
                """The error of a node process that has exited (or must be stopped)."""
                try:
                    code = proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    return ServiceUnavailable(f"{what}: the prover did not exit within {timeout:g} s")
                stderr.seek(0)
                tail = _tail(_ANSI.sub("", stderr.read().decode("utf-8", "replace")))
                batch = f"batch {index}" if index is not None else "the batches"
                if code == PROVE_EXIT_WITNESS:
                    return WitnessError(f"witness of {batch} for {circuit.name} failed "
                                        f"(exit {code}): {tail}")
                if code == 0:
                    return ToolError(f"{what}: the prover exited before finishing {batch}: {tail}")
                return ToolError(f"{what}: {batch} failed (exit {code}): {tail}")

            def send_next() -> None:
                """Hand node the next job; close its stdin once there are no more (node then exits)."""
                assert proc.stdin is not None
                if proc.stdin.closed:
                    return
                job = next(jobs, None)
                if job is None:
                    proc.stdin.close()
                    return
                index, leaves, seed = job
                entry = _Job(index, work / f"input_{index}.json", work / f"proof_{index}.json",
                             work / f"public_{index}.json", work / f"witness_{index}.wtns" if with_levels else None)
                # a Mapping is a prepared input object (BatchMargin: margin_witness_input)
                entry.input.write_text(json.dumps(leaves if isinstance(leaves, Mapping) else witness_input(leaves)))
                line = {"index": index, "input": str(entry.input), "seed": seed.hex(), "proof": str(entry.proof),
                        "public": str(entry.public), "witness": str(entry.witness) if entry.witness else None}
                pending.append(entry)
                try:
                    proc.stdin.write(json.dumps(line).encode() + b"\n")
                    proc.stdin.flush()
                except BrokenPipeError:
                    pass  # node has exited: the next read sees EOF and reports why

            def next_line(index: int | None) -> bytes | None:
                try:
                    return lines.get(timeout=timeout)
                except queue.Empty:
                    batch = f"batch {index}" if index is not None else "the prover to exit"
                    raise ServiceUnavailable(f"{what}: no result for {batch} within {timeout:g} s") from None

            try:
                for _ in range(PROVE_LOOKAHEAD):
                    send_next()
                while pending:
                    head = pending[0]
                    raw = next_line(head.index)
                    if raw is None:
                        raise failure(head.index)
                    fields = raw.decode("utf-8", "replace").split()
                    if len(fields) != 4 or fields[:2] != ["done", str(head.index)]:
                        raise ToolError(f"{what}: unexpected prover output {raw[:200]!r} "
                                        f"(waiting for batch {head.index})")
                    pending.popleft()
                    send_next()  # keep node busy while this proof is parsed
                    proof = load_proof(head.proof)
                    public = load_public_signals(head.public, expected=circuit.info.n_public)
                    levels = (levels_from_witness(circuit.sym, circuit.k, read_witness(head.witness))
                              if head.witness else None)
                    for path in head.files():
                        path.unlink(missing_ok=True)
                    if not pending:  # the last batch (stdin is closed): node must exit cleanly first
                        extra = next_line(None)
                        if extra is not None:
                            raise ToolError(f"{what}: unexpected prover output {extra[:200]!r} after the last batch")
                        error = failure(None)
                        if proc.returncode != 0:
                            raise error
                    result = BatchProof(proof, tuple(public), float(fields[2]) / 1000, float(fields[3]) / 1000,
                                        levels)
                    if progress is not None:
                        progress(1)
                    yield result
            finally:
                if proc.stdin is not None and not proc.stdin.closed:
                    try:
                        proc.stdin.close()
                    except BrokenPipeError:
                        pass
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
                reader.join(timeout=10)
                if proc.stdout is not None:
                    proc.stdout.close()


def prove_batch(setup: CircuitSetup, leaves: Sequence[BatchLeaf], workdir: Path | None = None, *,
                seed: bytes | None = None, with_levels: bool = False, tools: Tools | None = None,
                timeout: float = DEFAULT_TIMEOUT) -> BatchProof:
    """Prove one batch (:func:`prove_batches` with one batch); parse the result strictly.

    With a 32-byte ``seed`` the proof is deterministic; without, the seed is drawn from the OS
    (``os.urandom``), so two proofs of the same batch differ (both verify). ``with_levels`` also
    returns the Poseidon levels read from the witness (no Python hashing).
    """
    tools = tools or find_tools()
    _check_batch(setup.circuit, leaves)
    seed = os.urandom(PROVE_SEED_LEN) if seed is None else _check_seed(seed)
    (proved,) = prove_batches(setup, [(leaves, seed)], workdir, with_levels=with_levels, tools=tools,
                              timeout=timeout)
    return proved


def snarkjs_verify(vkey: Path, proof_doc: object, public_doc: object, *, tools: Tools | None = None,
                   timeout: float = 600.0) -> bool:
    """``snarkjs groth16 verify``: ``True`` iff it prints OK (for cross-checking the Python verifier).

    ``proof_doc`` / ``public_doc`` are JSON-serialisable documents (e.g. ``Proof.to_json()`` and a
    list of decimal strings).
    """
    tools = tools or find_tools()
    with tempfile.TemporaryDirectory(prefix="por-zk-verify-") as tmp:
        work = Path(tmp)
        (work / "proof.json").write_text(json.dumps(proof_doc))
        (work / "public.json").write_text(json.dumps(public_doc))
        try:
            out = _snarkjs(tools, "groth16", "verify", Path(vkey).resolve(), work / "public.json",
                           work / "proof.json", what="snarkjs groth16 verify", cwd=work, timeout=timeout)
        except ToolError:
            return False
    return "OK!" in out


# ---------------------------------------------------------------- margin batches (BatchMargin)

@dataclass(frozen=True)
class MarginBatchProof(BatchProof):
    """A ``BatchMargin(k, A)`` proof; ``public`` is ``[root, equity_sums, debt_sums, f_eq, f_debt]``
    (:func:`por.zk.batch.margin_public_signals`). ``sums`` (inherited) is every signal after the root."""

    @property
    def equity_sums(self) -> list[int]:
        return split_margin_public(self.public)[1]

    @property
    def debt_sums(self) -> list[int]:
        return split_margin_public(self.public)[2]

    @property
    def f_eq(self) -> list[int]:
        return split_margin_public(self.public)[3]

    @property
    def f_debt(self) -> list[int]:
        return split_margin_public(self.public)[4]


def _check_margin_batch(circuit: CompiledCircuit, leaves: Sequence[MarginLeaf], f_eq: Sequence[int],
                        f_debt: Sequence[int], label: str = "") -> dict[str, list]:
    """The input object of a margin batch for ``BatchMargin(k, A)``, or ``BadInput``."""
    if not circuit.margin:
        raise BadInput(f"{label}{circuit.name} is not a margin circuit (compile_batch(..., margin=True))")
    if len(leaves) != circuit.n_leaves:
        raise BadInput(f"{label}{circuit.name} takes {circuit.n_leaves} leaves, got {len(leaves)}")
    if any(not isinstance(leaf, MarginLeaf) for leaf in leaves):
        raise BadInput(f"{label}every leaf must be a MarginLeaf")
    if any(leaf.assets != circuit.assets for leaf in leaves):
        raise BadInput(f"{label}every leaf must hold {circuit.assets} assets for {circuit.name}")
    try:
        return margin_witness_input(leaves, f_eq, f_debt)
    except ValueError as exc:
        raise BadInput(f"{label}{exc}") from None


def prove_margin_batches(setup: CircuitSetup,
                         batches: Iterable[tuple[Sequence[MarginLeaf], bytes]], f_eq: Sequence[int],
                         f_debt: Sequence[int], workdir: Path | None = None, *, with_levels: bool = False,
                         progress: Callable[[int], object] | None = None, tools: Tools | None = None,
                         timeout: float = DEFAULT_TIMEOUT) -> Iterator[MarginBatchProof]:
    """:func:`prove_batches` for a ``BatchMargin(k, A)`` setup: ``(leaves, seed)`` pairs of
    :class:`~por.zk.batch.MarginLeaf` and one pair of factor vectors ``f_eq``, ``f_debt`` (SPEC.md §17.3)
    for every batch. Same determinism, streaming and errors; a leaf with ``value_base < 0`` (or any
    value, sum or factor outside ``[0, 2^64)``) raises :class:`WitnessError` naming its batch.
    """
    tools = tools or find_tools()

    def job(index: int, pair: object) -> tuple[int, Mapping[str, list], bytes]:
        label = f"batch {index}: "
        if not (isinstance(pair, tuple) and len(pair) == 2):
            raise BadInput(f"{label}expected a (leaves, seed) pair")
        leaves, seed = pair
        return index, _check_margin_batch(setup.circuit, leaves, f_eq, f_debt, label), _check_seed(seed, label)

    if not PROVE_SCRIPT.is_file():
        raise ServiceUnavailable(f"{PROVE_SCRIPT} is missing: reinstall the por package")
    if not (setup.zkey.is_file() and setup.circuit.wasm.is_file()):
        raise BadInput("the setup has no zkey or the circuit no wasm witness generator",
                       file=str(setup.directory))
    if not (isinstance(timeout, (int, float)) and timeout > 0):
        raise BadInput(f"timeout must be a positive number of seconds, not {timeout!r}")
    if not setup.circuit.margin:
        raise BadInput(f"{setup.circuit.name} is not a margin circuit (compile_batch(..., margin=True))")
    if isinstance(batches, Sequence):
        jobs: Iterator = iter([job(i, pair) for i, pair in enumerate(batches)])
    else:
        jobs = (job(i, pair) for i, pair in enumerate(batches))
    stream = _prove_stream(setup, jobs, workdir, with_levels=with_levels, progress=progress, tools=tools,
                           timeout=float(timeout))
    return _as_margin_proofs(stream)


def _as_margin_proofs(stream: Iterator[BatchProof]) -> Iterator[MarginBatchProof]:
    try:
        for proved in stream:
            yield MarginBatchProof(proved.proof, proved.public, proved.witness_seconds, proved.prove_seconds,
                                   proved.levels)
    finally:
        stream.close()  # type: ignore[attr-defined]  # stops node early when closed early


def prove_margin_batch(setup: CircuitSetup, leaves: Sequence[MarginLeaf], f_eq: Sequence[int],
                       f_debt: Sequence[int], workdir: Path | None = None, *, seed: bytes | None = None,
                       with_levels: bool = False, tools: Tools | None = None,
                       timeout: float = DEFAULT_TIMEOUT) -> MarginBatchProof:
    """Prove one margin batch (:func:`prove_margin_batches` with one batch)."""
    tools = tools or find_tools()
    _check_margin_batch(setup.circuit, leaves, f_eq, f_debt)
    seed = os.urandom(PROVE_SEED_LEN) if seed is None else _check_seed(seed)
    (proved,) = list(prove_margin_batches(setup, [(leaves, seed)], f_eq, f_debt, workdir,
                                          with_levels=with_levels, tools=tools, timeout=timeout))
    return proved
