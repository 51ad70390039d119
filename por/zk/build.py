"""Compile the batch circuits and make their keys: a local Groth16 setup, or a ceremony's zkey.

:func:`compile_batch` compiles one :class:`~por.zk.circuits.CircuitKind` for ``(k, A)`` with circom2
into a cache directory; :func:`setup` runs phase 2 on a prepared powers-of-tau file;
:func:`setup_batch` does both (with a local phase 1 from :func:`powers_of_tau` unless given one);
:func:`import_setup` takes a final ``.zkey`` from a multi-party ceremony instead.

**The local setup is for testing only.** Its randomness comes from the ``entropy`` string, so anyone
who knows that string can forge proofs. It is deterministic: the same entropy and snarkjs version
give byte-identical ``.ptau``, ``.zkey`` and ``verification_key.json`` files, because both
contributions are snarkjs *beacons* (``powersoftau beacon`` / ``zkey beacon``, whose randomness is
derived from the beacon hash alone) -- snarkjs' ``contribute -e`` mixes OS randomness into the
entropy and is therefore never used here. A production setup uses a public ceremony's ``.ptau``
(``setup(circuit, ptau=...)``) and a multi-party phase 2 (``import_setup``); see circuits/README.md.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from por.core.encoding import H, lp, tag
from por.core.errors import BadInput, ServiceUnavailable
from por.zk.circuits import BATCH, CircuitKind
from por.zk.groth16 import VerifyingKey, load_verifying_key
from por.zk.poseidon import P
from por.zk.tools import (
    CIRCUITS_DIR,
    DEFAULT_TIMEOUT,
    NODE_MODULES,
    ToolError,
    Tools,
    cache_lock,
    default_cache_dir,
    find_tools,
    run_snarkjs,
    run_tool,
    sha256_file,
    stamp_matches,
    tool_versions,
    write_stamp,
)

BEACON_ITERATIONS_EXP = 10
"""snarkjs beacon delay parameter (2^10 hash iterations, the minimum it accepts)."""
CONTRIBUTOR = "por local setup (testing only)"
COMPILE_FLAGS = ("--O2", "--r1cs", "--wasm", "--sym")
TAG_SETUP_PTAU = tag("zk-setup-ptau")
TAG_SETUP_ZKEY = tag("zk-setup-zkey")


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
    """A compiled ``Template(k, assets)`` of a :class:`~por.zk.circuits.CircuitKind`: constraint system,
    witness generator and symbol table."""

    k: int
    assets: int
    directory: Path
    info: R1csInfo
    kind: CircuitKind = BATCH
    """Which template (:data:`~por.zk.circuits.CIRCUITS`)."""

    @property
    def template(self) -> str:
        return self.kind.template

    @property
    def name(self) -> str:
        """``Batch(k, A)`` or ``BatchMargin(k, A)`` (for messages)."""
        return self.kind.name(self.k, self.assets)

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


def compile_batch(k: int, assets: int, cache_dir: Path, *, circuit: CircuitKind = BATCH, tools: Tools | None = None,
                  timeout: float = DEFAULT_TIMEOUT) -> CompiledCircuit:
    """Compile ``circuit``'s ``Template(k, assets)`` into ``cache_dir/<circuit.cache_dir(k, assets)>``
    (e.g. ``batch_k{k}_a{A}``; reused if up to date).

    The stamp ``build.json`` records the hashes of the template's source (e.g. ``batch.circom``) and of
    the main component, the tool versions and the flags; anything else in that directory is rebuilt
    when it differs. The result must have ``circuit.n_public(assets)`` public signals over BN254.
    """
    tools = tools or find_tools()
    source_file = CIRCUITS_DIR / circuit.source
    if not source_file.is_file():
        raise ServiceUnavailable(f"{source_file} is missing: reinstall the por package")
    source = circuit.main_source(k, assets)
    out = Path(cache_dir).resolve() / circuit.cache_dir(k, assets)
    stamp = {circuit.source: sha256_file(source_file), "main": source, "flags": list(COMPILE_FLAGS),
             "versions": tool_versions()}
    n_public = circuit.n_public(assets)
    label = circuit.name(k, assets)

    def circuit_of() -> CompiledCircuit:
        return CompiledCircuit(k, assets, out, read_r1cs_info(out / "main.r1cs"), circuit)

    with cache_lock(out):
        if stamp_matches(out / "build.json", stamp) and (out / "main_js" / "main.wasm").is_file():
            return circuit_of()
        return _compile(tools, out, source, stamp, label, n_public, circuit_of, timeout)


def _compile(tools: Tools, out: Path, source: str, stamp: Mapping[str, object], label: str, n_public: int,
             circuit_of: Callable[[], CompiledCircuit], timeout: float) -> CompiledCircuit:
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / "main.circom").write_text(source)
    # circom2 runs under WASI with the working directory's ancestors as preopened paths and rewrites
    # every path argument relative to the working directory: from "/" every absolute path resolves.
    run_tool([tools.node, tools.circom, out / "main.circom", *COMPILE_FLAGS, "-l", CIRCUITS_DIR,
              "-l", NODE_MODULES, "-o", out], f"circom compiling {label}", cwd=Path("/"),
             timeout=timeout)
    compiled = circuit_of()
    if compiled.info.n_public != n_public or compiled.info.prime != P:
        raise ToolError(f"compiled {label} has {compiled.info.n_public} public signals "
                        f"over prime {compiled.info.prime}, expected {n_public} over BN254")
    write_stamp(out / "build.json", stamp)
    return compiled


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
    with cache_lock(final):
        if not final.is_file():
            _make_ptau(tools, power, beacon, out_dir, final, timeout)
    return final


def _make_ptau(tools: Tools, power: int, beacon: str, out_dir: Path, final: Path, timeout: float) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".pot-") as tmp:
        work = Path(tmp)
        run_snarkjs(tools, "powersoftau", "new", "bn128", str(power), work / "0.ptau",
                    what=f"snarkjs powersoftau new (power {power})", cwd=work, timeout=timeout)
        run_snarkjs(tools, "powersoftau", "beacon", work / "0.ptau", work / "1.ptau", beacon,
                    str(BEACON_ITERATIONS_EXP), f"-n={CONTRIBUTOR}", what="snarkjs powersoftau beacon",
                    cwd=work, timeout=timeout)
        run_snarkjs(tools, "powersoftau", "prepare", "phase2", work / "1.ptau", work / "final.ptau",
                    what="snarkjs powersoftau prepare phase2", cwd=work, timeout=timeout)
        os.replace(work / "final.ptau", final)


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
    stamp = {"r1cs": sha256_file(circuit.r1cs), "ptau": sha256_file(ptau), "entropy": entropy_id(entropy),
             "snarkjs": tool_versions()["snarkjs"], "beacon_iterations_exp": BEACON_ITERATIONS_EXP}
    sid = hashlib.sha256(json.dumps(stamp, sort_keys=True).encode()).hexdigest()[:16]
    out = circuit.directory / f"setup-{sid}"
    result = CircuitSetup(circuit, out)
    with cache_lock(out):
        if not (stamp_matches(out / "setup.json", stamp) and result.zkey.is_file() and result.vkey_path.is_file()):
            _phase2(tools, circuit, ptau, beacon, out, result, stamp, timeout)
    return result


def _phase2(tools: Tools, circuit: CompiledCircuit, ptau: Path, beacon: str, out: Path, result: CircuitSetup,
            stamp: Mapping[str, object], timeout: float) -> None:
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    run_snarkjs(tools, "groth16", "setup", circuit.r1cs, ptau, out / "circuit_0000.zkey",
                what=f"snarkjs groth16 setup of {circuit.name}", cwd=out, timeout=timeout)
    run_snarkjs(tools, "zkey", "beacon", out / "circuit_0000.zkey", result.zkey, beacon, str(BEACON_ITERATIONS_EXP),
                f"-n={CONTRIBUTOR}", what="snarkjs zkey beacon", cwd=out, timeout=timeout)
    (out / "circuit_0000.zkey").unlink()
    _export_vkey(tools, result, timeout)
    write_stamp(out / "setup.json", stamp)


def _export_vkey(tools: Tools, result: CircuitSetup, timeout: float) -> None:
    run_snarkjs(tools, "zkey", "export", "verificationkey", result.zkey, result.vkey_path,
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
                circuit: CircuitKind = BATCH, ptau: Path | None = None, tools: Tools | None = None,
                timeout: float = DEFAULT_TIMEOUT) -> CircuitSetup:
    """Compile ``circuit``'s ``Template(k, assets)`` and set it up: with ``ptau`` if given, else a local
    phase 1.

    **Testing only** (see the module docstring). Everything is cached under ``cache_dir``
    (default :func:`~por.zk.tools.default_cache_dir`).
    """
    tools = tools or find_tools()
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    compiled = compile_batch(k, assets, cache, circuit=circuit, tools=tools, timeout=timeout)
    if ptau is None:
        ptau = powers_of_tau(compiled.info.power, entropy, cache, tools=tools, timeout=timeout)
    return setup(compiled, ptau, entropy, tools=tools, timeout=timeout)


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
        run_snarkjs(tools, "zkey", "verify", circuit.r1cs, Path(ptau).resolve(), zkey,
                    what="snarkjs zkey verify", cwd=zkey.parent, timeout=timeout)
    out = Path(directory).resolve()
    out.mkdir(parents=True, exist_ok=True)
    result = CircuitSetup(circuit, out)
    if zkey != result.zkey:
        shutil.copyfile(zkey, result.zkey)
    _export_vkey(tools, result, timeout)
    return result
