"""The node toolchain of the zk mode: compile the batch circuit, run a local Groth16 setup, prove.

Tools come from the repository's ``node_modules`` (``package.json``; ``scripts/setup-node.sh``):
``circom2`` (circom 2.2 compiled to WebAssembly, offline), ``snarkjs`` and ``circomlib``; ``node``
itself must be on ``PATH``. They are found relative to this package, like :mod:`por.devchain`
finds anvil. A missing tool raises :class:`~por.errors.ServiceUnavailable`; a tool that rejects its
input (a witness violating a constraint, a circuit too large for the powers of tau) raises
:class:`ToolError` (a :class:`~por.errors.BadInput`), :class:`WitnessError` for witnesses.

**The local setup is for testing only.** Its randomness comes from the ``entropy`` string, so anyone
who knows that string can forge proofs. It is deterministic: the same entropy and snarkjs version
give byte-identical ``.ptau``, ``.zkey`` and ``verification_key.json`` files, because both
contributions are snarkjs *beacons* (``powersoftau beacon`` / ``zkey beacon``, whose randomness is
derived from the beacon hash alone) -- snarkjs' ``contribute -e`` mixes OS randomness into the
entropy and is therefore never used here. A production setup uses a public ceremony's ``.ptau``
(``setup(circuit, ptau=...)``) and a multi-party phase 2 (``import_setup``); see circuits/README.md.

Groth16 proving is randomised (snarkjs draws ``r, s``): proofs differ run to run, all verify.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import struct
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..encoding import H, lp, tag
from ..errors import BadInput, ServiceUnavailable
from .batch import MAX_ASSETS, MAX_K, BatchLeaf, witness_input
from .groth16 import Proof, VerifyingKey, load_proof, load_public_signals, load_verifying_key
from .poseidon import P
from .witness import levels_from_witness, read_witness

ROOT = Path(__file__).resolve().parents[2]  # the repository (editable install)
NODE_MODULES = ROOT / "node_modules"
NODE_BIN = NODE_MODULES / ".bin"
CIRCOM_BIN = NODE_BIN / "circom2"
SNARKJS_BIN = NODE_BIN / "snarkjs"
CIRCUITS_DIR = ROOT / "circuits"
BATCH_SOURCE = CIRCUITS_DIR / "batch.circom"
CIRCOMLIB_PACKAGE = NODE_MODULES / "circomlib" / "package.json"

BEACON_ITERATIONS_EXP = 10
"""snarkjs beacon delay parameter (2^10 hash iterations, the minimum it accepts)."""
CONTRIBUTOR = "por local setup (testing only)"
COMPILE_FLAGS = ("--O2", "--r1cs", "--wasm", "--sym")
TAG_SETUP_PTAU = tag("zk-setup-ptau")
TAG_SETUP_ZKEY = tag("zk-setup-zkey")

DEFAULT_TIMEOUT = 3600.0
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


def main_source(k: int, assets: int) -> str:
    """The main component of ``Batch(k, assets)`` (compiled with ``-l circuits -l node_modules``)."""
    if not (isinstance(k, int) and 0 <= k <= MAX_K):
        raise BadInput(f"batch height k = {k!r} is outside 0..{MAX_K}")
    if not (isinstance(assets, int) and 1 <= assets <= MAX_ASSETS):
        raise BadInput(f"asset count {assets!r} is outside 1..{MAX_ASSETS}")
    return f'pragma circom 2.1.0;\ninclude "batch.circom";\ncomponent main = Batch({k}, {assets});\n'


def compile_batch(k: int, assets: int, cache_dir: Path, *, tools: Tools | None = None,
                  timeout: float = DEFAULT_TIMEOUT) -> CompiledCircuit:
    """Compile ``Batch(k, assets)`` into ``cache_dir/batch_k{k}_a{assets}`` (reused if up to date).

    The stamp ``build.json`` records the hashes of ``batch.circom`` and the main component, the tool
    versions and the flags; anything else in that directory is rebuilt when it differs.
    """
    tools = tools or find_tools()
    source = main_source(k, assets)
    out = Path(cache_dir).resolve() / f"batch_k{k}_a{assets}"
    stamp = {"batch.circom": _sha256_file(BATCH_SOURCE), "main": source, "flags": list(COMPILE_FLAGS),
             "versions": tool_versions()}

    def circuit_of() -> CompiledCircuit:
        return CompiledCircuit(k, assets, out, read_r1cs_info(out / "main.r1cs"))

    if _stamp_matches(out / "build.json", stamp) and (out / "main_js" / "main.wasm").is_file():
        return circuit_of()
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / "main.circom").write_text(source)
    # circom2 runs under WASI with the working directory's ancestors as preopened paths and rewrites
    # every path argument relative to the working directory: from "/" every absolute path resolves.
    _run([tools.node, tools.circom, out / "main.circom", *COMPILE_FLAGS, "-l", CIRCUITS_DIR,
          "-l", NODE_MODULES, "-o", out], f"circom compiling Batch({k}, {assets})", cwd=Path("/"),
         timeout=timeout)
    circuit = circuit_of()
    if circuit.info.n_public != 1 + assets or circuit.info.prime != P:
        raise ToolError(f"compiled Batch({k}, {assets}) has {circuit.info.n_public} public signals "
                        f"over prime {circuit.info.prime}, expected {1 + assets} over BN254")
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
        raise BadInput(f"Batch({circuit.k}, {circuit.assets}) has {circuit.info.n_constraints} constraints and "
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
             what=f"snarkjs groth16 setup of Batch({circuit.k}, {circuit.assets})", cwd=out, timeout=timeout)
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
                timeout: float = DEFAULT_TIMEOUT) -> CircuitSetup:
    """Compile ``Batch(k, assets)`` and set it up: with ``ptau`` if given, else a local phase 1.

    **Testing only** (see the module docstring). Everything is cached under ``cache_dir``
    (default :func:`default_cache_dir`).
    """
    tools = tools or find_tools()
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    circuit = compile_batch(k, assets, cache, tools=tools, timeout=timeout)
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
             what=f"witness of Batch({circuit.k}, {circuit.assets})", cwd=witness.parent, timeout=timeout,
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


def prove_batch(setup: CircuitSetup, leaves: Sequence[BatchLeaf], workdir: Path | None = None, *,
                with_levels: bool = False, tools: Tools | None = None,
                timeout: float = DEFAULT_TIMEOUT) -> BatchProof:
    """Prove one batch: witness (``wtns calculate``) then ``groth16 prove``; parse the result strictly.

    ``with_levels`` also returns the Poseidon levels read from the witness (no Python hashing).
    """
    tools = tools or find_tools()
    circuit = setup.circuit
    if len(leaves) != circuit.n_leaves:
        raise BadInput(f"Batch({circuit.k}, {circuit.assets}) takes {circuit.n_leaves} leaves, got {len(leaves)}")
    if any(len(leaf.balances) != circuit.assets for leaf in leaves):
        raise BadInput(f"every leaf must hold {circuit.assets} assets for Batch({circuit.k}, {circuit.assets})")
    inputs = witness_input(leaves)
    with tempfile.TemporaryDirectory(dir=workdir, prefix="por-zk-prove-") as tmp:
        work = Path(tmp)
        t0 = time.perf_counter()
        wtns = calculate_witness(circuit, inputs, work / "witness.wtns", tools=tools, timeout=timeout)
        t1 = time.perf_counter()
        proof_path, public_path = prove_witness(setup, wtns, work, tools=tools, timeout=timeout)
        t2 = time.perf_counter()
        proof = load_proof(proof_path)
        public = load_public_signals(public_path, expected=circuit.info.n_public)
        levels = levels_from_witness(circuit.sym, circuit.k, read_witness(wtns)) if with_levels else None
    return BatchProof(proof, tuple(public), t1 - t0, t2 - t1, levels)


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
