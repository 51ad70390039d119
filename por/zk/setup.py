"""Public parameters and setup directories of the zk mode (SPEC.md §16.7–§16.8, §17.26).

* :class:`ZkParams` -- what a zk-mode snapshot publishes about its batches: ``k`` and the verifying
  key (bound in the snapshot root), for the circuit the snapshot needs (:func:`por.zk.circuits.circuit_for`);
* :class:`ZkSetup` / :func:`create_setup` / :func:`load_setup` -- a setup directory
  (``por zk setup``): the compiled circuit, proving key and verifying key, and ``setup.json``.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from por.core import encoding as enc
from por.core.errors import BadInput
from por.core.fileio import atomic_directory, atomic_write_json, read_json
from por.zk.batch import MAX_K
from por.zk.circuits import BATCH, CIRCUITS, CircuitKind
from por.zk.groth16 import VerifyingKey, parse_verifying_key

SETUP_FORMAT = "por-zk-setup"


# ------------------------------------------------------------------ public parameters

@dataclass(frozen=True)
class ZkParams:
    """What a zk-mode snapshot publishes about its batches: the batch height and the verifying key."""

    batch_height: int
    vkey: VerifyingKey
    circuit: CircuitKind = BATCH
    """The circuit of the batches (``BATCH_MARGIN`` for a margin snapshot, SPEC.md §17.26); not serialised:
    the snapshot's version says which, and the key's ``nPublic`` must agree."""

    @property
    def digest(self) -> bytes:
        """The verifying key's digest (SPEC.md §16.7), bound into the snapshot root."""
        return self.vkey.digest()

    @property
    def binding(self) -> tuple[int, bytes]:
        """``(k, vkey digest)``: what :func:`por.core.encoding.root_preimage` appends in zk mode."""
        return self.batch_height, self.digest

    @property
    def batch_size(self) -> int:
        return 1 << self.batch_height

    def to_dict(self) -> dict[str, Any]:
        return {"batch_height": self.batch_height, "verification_key": self.vkey.to_json()}

    @classmethod
    def from_dict(cls, doc: Any, n_assets: int, *, file: str, field: str = "zk",
                  circuit: CircuitKind = BATCH) -> ZkParams:
        """Parse the ``zk`` object of a snapshot or proof: ``k`` in 0..20 and a strict snarkjs key with
        ``circuit.n_public(A)`` signals (``1 + A`` for ``Batch``, ``1 + 4A`` for ``BatchMargin``)."""
        if not isinstance(doc, dict) or set(doc) != {"batch_height", "verification_key"}:
            raise BadInput("must be an object with exactly batch_height and verification_key", file=file, field=field)
        k = doc["batch_height"]
        if not isinstance(k, int) or isinstance(k, bool) or not 0 <= k <= MAX_K:
            raise BadInput(f"must be an integer 0..{MAX_K}", file=file, field=f"{field}.batch_height")
        try:
            vkey = parse_verifying_key(doc["verification_key"], source=file)
        except BadInput as exc:
            raise BadInput(exc.reason, file=file, field=f"{field}.verification_key"
                           + (f".{exc.field}" if exc.field else "")) from None
        expected = circuit.n_public(n_assets)
        if vkey.n_public != expected:
            raise BadInput(f"key has {vkey.n_public} public signals; a {circuit.noun} of "
                           f"{n_assets} assets has {expected}", file=file, field=f"{field}.verification_key.nPublic")
        params = cls(k, vkey, circuit)
        if params.to_dict() != doc:
            raise BadInput("is not in canonical form", file=file, field=field)
        return params


# ------------------------------------------------------------------ setup directories

@dataclass(frozen=True)
class ZkSetup:
    """A setup directory written by ``por zk setup``: circuit, proving key (zkey), verifying key."""

    directory: Path
    batch_height: int
    assets: int
    testing_only: bool
    params: ZkParams

    @property
    def circuit(self) -> CircuitKind:
        """The circuit (``str()`` is its template name, ``"Batch"`` or ``"BatchMargin"``)."""
        return self.params.circuit

    def circuit_setup(self) -> Any:
        """The :class:`por.zk.build.CircuitSetup` to prove with (needs the node tools)."""
        from por.zk import build

        circuit_dir = self.directory / "circuit"
        info = build.read_r1cs_info(circuit_dir / "main.r1cs")
        return build.CircuitSetup(build.CompiledCircuit(self.batch_height, self.assets, circuit_dir, info,
                                                        self.circuit), self.directory)

    def to_dict(self) -> dict[str, Any]:
        return {"format": SETUP_FORMAT, "version": enc.FORMAT_VERSION, "circuit": self.circuit.template,
                "batch_height": self.batch_height, "assets": self.assets, "testing_only": self.testing_only,
                "vkey_digest": self.params.digest.hex()}


def create_setup(
    out_dir: Path,
    *,
    batch_height: int,
    assets: int,
    entropy: str | None = None,
    zkey: Path | None = None,
    ptau: Path | None = None,
    cache_dir: Path | None = None,
    circuit: CircuitKind = BATCH,
) -> ZkSetup:
    """Compile ``circuit``'s ``Template(k, A)`` and set it up into the new directory ``out_dir``.

    Without ``zkey`` this is the **local, testing-only** setup of SPEC.md §16.8 (deterministic from
    ``entropy``; anyone who knows it can forge proofs). With ``zkey`` (the final key of a phase-2
    ceremony) and ``ptau`` (its phase-1 file), ``snarkjs zkey verify`` checks the key against the
    circuit first. Compiled circuits and local phase-1 files are cached in ``cache_dir``.
    """
    from por.zk import build, tools as zt

    if not 0 <= batch_height <= MAX_K:
        raise BadInput(f"batch height must be 0..{MAX_K}", field="batch-height")
    if not 1 <= assets <= circuit.max_assets:
        raise BadInput(f"the {circuit} circuit takes 1..{circuit.max_assets} assets", field="assets")
    out_dir = Path(out_dir)
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise BadInput("output directory exists and is not empty", file=str(out_dir))
    if (zkey is None) == (entropy is None):
        raise BadInput("give either --entropy (local testing setup) or --zkey (a ceremony's key)", field="zkey")
    if ptau is not None and zkey is None:
        raise BadInput("--ptau verifies a ceremony --zkey; a local setup makes its own", field="ptau")
    tools = zt.find_tools()
    cache = Path(cache_dir) if cache_dir is not None else zt.default_cache_dir()
    with atomic_directory(out_dir) as stage:
        if zkey is None:
            made = build.setup_batch(batch_height, assets, entropy, cache, circuit=circuit,  # type: ignore[arg-type]
                                     tools=tools)
            compiled = made.circuit
            shutil.copyfile(made.zkey, stage / "circuit_final.zkey")
            shutil.copyfile(made.vkey_path, stage / "verification_key.json")
        else:
            compiled = build.compile_batch(batch_height, assets, cache, circuit=circuit, tools=tools)
            build.import_setup(compiled, zkey, stage, ptau=ptau, tools=tools)
        target = stage / "circuit"
        (target / "main_js").mkdir(parents=True)
        shutil.copyfile(compiled.r1cs, target / "main.r1cs")
        shutil.copyfile(compiled.sym, target / "main.sym")
        for f in compiled.wasm.parent.iterdir():
            if f.is_file():
                shutil.copyfile(f, target / "main_js" / f.name)
        vkey = parse_verifying_key(read_json(stage / "verification_key.json", "verification key"),
                                   source=str(out_dir / "verification_key.json"))
        setup = ZkSetup(out_dir, batch_height, assets, zkey is None, ZkParams(batch_height, vkey, circuit))
        atomic_write_json(stage / "setup.json", setup.to_dict())
    return setup


def load_setup(directory: Path) -> ZkSetup:
    """Read a setup directory (``setup.json`` + ``verification_key.json``), checking they agree."""
    directory = Path(directory)
    meta_path = directory / "setup.json"
    doc = read_json(meta_path, "zk setup")
    keys = {"format", "version", "circuit", "batch_height", "assets", "testing_only", "vkey_digest"}
    if not isinstance(doc, dict) or set(doc) != keys or doc["format"] != SETUP_FORMAT:
        raise BadInput(f"not a {SETUP_FORMAT} document (write one with `por zk setup`)", file=str(meta_path))
    if doc["version"] != enc.FORMAT_VERSION:
        raise BadInput(f"unsupported version {doc['version']!r}", file=str(meta_path), field="version")
    if not isinstance(doc["circuit"], str) or doc["circuit"] not in CIRCUITS:
        raise BadInput("must be " + " or ".join(f'"{name}"' for name in CIRCUITS), file=str(meta_path),
                       field="circuit")
    circuit = CIRCUITS[doc["circuit"]]
    k, assets = doc["batch_height"], doc["assets"]
    for name, v, hi in (("batch_height", k, MAX_K), ("assets", assets, circuit.max_assets)):
        if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= hi:
            raise BadInput(f"must be an integer 0..{hi}", file=str(meta_path), field=name)
    vk_path = directory / "verification_key.json"
    vkey = parse_verifying_key(read_json(vk_path, "verification key"), source=str(vk_path))
    params = ZkParams(k, vkey, circuit)
    if vkey.n_public != circuit.n_public(assets) or params.digest.hex() != doc["vkey_digest"]:
        raise BadInput("verification_key.json does not match setup.json (digest or signal count)",
                       file=str(vk_path))
    return ZkSetup(directory, k, assets, bool(doc["testing_only"]), params)
