"""Prove batches: Groth16 proofs of any :class:`~por.zk.circuits.CircuitKind` with the node prover.

Proving (:func:`prove_batches`, :func:`prove_batch`) runs ``prove_batches.mjs``: one node process
for any number of batches, with snarkjs' Groth16 randomness ``r, s`` drawn from a stream seeded by a
32-byte seed per batch, so the same batch and seed give byte-identical proofs (the stream is specified
in that script's header). ``prove_batch`` without a seed draws one from the OS: proofs then differ
run to run, all verify. The circuit's input of each batch is built by its kind
(:meth:`~por.zk.circuits.CircuitKind.witness_input`), with the caller's public factors for a circuit
that has them. :func:`calculate_witness` and :func:`prove_witness` still run the snarkjs CLI (OS
randomness) for single steps; :func:`snarkjs_verify` cross-checks the Python verifier.
"""

from __future__ import annotations

import collections
import itertools
import json
import os
import queue
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from por.core.errors import BadInput, ServiceUnavailable
from por.core.fileio import private_workdir
from por.zk.batch import BatchLeaf
from por.zk.build import CircuitSetup, CompiledCircuit
from por.zk.circuits import BATCH, CircuitKind, Factors
from por.zk.groth16 import Proof, load_proof, load_public_signals
from por.zk.tools import (
    ANSI,
    DEFAULT_TIMEOUT,
    NODE_MODULES,
    ToolError,
    Tools,
    WitnessError,
    find_tools,
    run_snarkjs,
    tail,
)
from por.zk.witness import levels_from_witness, read_witness

PROVE_SCRIPT = Path(__file__).resolve().parent / "prove_batches.mjs"
"""The node script that proves batches in one process (package data, beside this module)."""
PROVE_SEED_LEN = 32
"""Bytes of a batch proof's seed (the source of its Groth16 randomness ``r, s``)."""
PROVE_EXIT_WITNESS = 3
"""``prove_batches.mjs`` exit status when a witness violates a constraint."""
PROVE_LOOKAHEAD = 2
"""Jobs handed to ``prove_batches.mjs`` ahead of their results (node never waits for Python)."""
PROVERS = ("native", "snarkjs")
"""The proving backends: groth16py on witnesses from node (:mod:`por.zk.native`), or snarkjs in node."""


def resolve_prover(name: str | None) -> str:
    """The backend to prove with: ``name``, or (``None``) the fastest installed -- ``native`` when its
    packages are there, else ``snarkjs``. ``native`` without them raises :class:`ServiceUnavailable`
    naming the missing package; an unknown name is :class:`BadInput`."""
    from por.zk import native

    if name is None:
        return "native" if native.missing() is None else "snarkjs"
    if name not in PROVERS:
        raise BadInput(f"unknown prover {name!r} (choose from {', '.join(PROVERS)})")
    if name == "native":
        why = native.missing()
        if why:
            raise ServiceUnavailable(why)
    return name


@dataclass(frozen=True)
class BatchProof:
    """A proof with its public signals and the time it took.

    ``public`` is ``[root, *sums, *factors]`` in ``kind``'s layout (:meth:`CircuitKind.split_public`):
    ``sums`` are the batch's value sums (``A`` per-asset sums, or the ``2A`` equity then debt sums of a
    ``BatchMargin`` batch), ``factors`` the public factor vectors the proof was made for (``()`` for
    ``Batch``). ``levels`` (only with ``with_levels=True``) are the batch's Poseidon levels as the
    circuit computed them, leaves first (see :func:`levels_from_witness`).
    """

    proof: Proof
    public: tuple[int, ...]
    witness_seconds: float
    prove_seconds: float
    levels: list[list[int]] | None = None
    kind: CircuitKind = BATCH

    @property
    def root(self) -> int:
        return self.public[0]

    @property
    def sums(self) -> tuple[int, ...]:
        return self.kind.split_public(self.public)[1]

    @property
    def factors(self) -> tuple[tuple[int, ...], ...]:
        return self.kind.split_public(self.public)[2]


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
    run_snarkjs(tools, "wtns", "calculate", circuit.wasm, input_path, witness,
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
    run_snarkjs(tools, "groth16", "prove", setup.zkey, Path(witness).resolve(), proof, public,
                what="snarkjs groth16 prove", cwd=out_dir, timeout=timeout)
    return proof, public


def _check_batch(circuit: CompiledCircuit, leaves: Sequence[BatchLeaf], label: str = "") -> None:
    """``BadInput`` unless ``leaves`` fill ``Template(k, A)``: ``2^k`` leaves of ``n_values(A)`` values each."""
    if len(leaves) != circuit.n_leaves:
        raise BadInput(f"{label}{circuit.name} takes {circuit.n_leaves} leaves, got {len(leaves)}")
    if any(not isinstance(leaf, BatchLeaf) for leaf in leaves):
        raise BadInput(f"{label}every leaf must be a BatchLeaf")
    kind = circuit.kind
    n_values = kind.n_values(circuit.assets)
    if any(len(leaf.values) != n_values for leaf in leaves):
        layout = f" ({n_values} values: {' ‖ '.join(kind.value_inputs)})" if kind.values_per_asset > 1 else ""
        raise BadInput(f"{label}every leaf must hold {circuit.assets} assets{layout} for {circuit.name}")


def _check_factors(circuit: CompiledCircuit, factors: Factors | None) -> tuple[tuple[int, ...], ...]:
    """The public factors ``circuit`` takes (none for ``Batch``, ``(f_eq, f_debt)`` for ``BatchMargin``),
    or ``BadInput``: they must come from the caller, and only for a circuit that has them."""
    try:
        return circuit.kind.check_factors(factors, circuit.assets)
    except ValueError as exc:
        raise BadInput(f"{circuit.name}: {exc}") from None


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
                  workdir: Path | None = None, *, factors: Factors | None = None, with_levels: bool = False,
                  progress: Callable[[int], object] | None = None, tools: Tools | None = None,
                  timeout: float = DEFAULT_TIMEOUT, backend: str | None = None) -> Iterator[BatchProof]:
    """Prove many batches in one node process (``prove_batches.mjs``), deterministically.

    ``backend`` (:func:`resolve_prover`): ``snarkjs`` proves in node; ``native`` has node compute only the
    witnesses and proves them with :mod:`por.zk.native` (groth16py) while node computes the next one --
    the same proofs byte for byte (SPEC.md §16.15). The default is the fastest installed.

    ``batches`` holds ``(leaves, seed)`` pairs: ``2^k`` leaves of ``n_values(A)`` values for ``setup``'s
    ``Template(k, A)`` and a 32-byte seed. A circuit with public factors (``BatchMargin``) takes one
    ``factors = (f_eq, f_debt)`` for every batch (SPEC.md §17.3); a leaf breaking its rule
    (``value_base < 0``) has no witness (:class:`WitnessError` naming its batch). The proof's
    randomness ``r, s`` comes from the seed alone (stream in ``prove_batches.mjs`` and SPEC.md §16), so
    the same leaves and seed give byte-identical proofs. **The seed must be secret and never reused for different leaves**: knowing ``r, s``
    undoes the proof's zero knowledge.

    Returns an iterator of :class:`BatchProof`, one per batch, in input order, each yielded as soon as
    it is proved, so callers can write files incrementally; ``progress(1)`` is called once per proved
    batch, just before it is yielded. A :class:`~collections.abc.Sequence` of batches is validated
    completely before anything runs; any other iterable is consumed lazily (and validated batch by
    batch). ``with_levels`` also returns each batch's Poseidon levels read from its witness.
    ``timeout`` bounds each batch (seconds from the previous batch's result, or from the start).
    ``witness_seconds`` / ``prove_seconds`` are the node process's own timings (no start-up cost).

    Raises :class:`BadInput` for a malformed batch or seed (naming ``batch i``) and for factors missing
    or superfluous (or outside ``[0, 2^64)``), :class:`WitnessError`
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
    checked = _check_factors(setup.circuit, factors)
    native = None
    if resolve_prover(backend) == "native":
        from por.zk.native import native_prover

        native = native_prover(setup.zkey, setup.verifying_key())
    if isinstance(batches, Sequence):
        jobs: Iterator[tuple[int, Sequence[BatchLeaf], bytes]] = iter(
            [_check_job(setup.circuit, i, job) for i, job in enumerate(batches)])
    else:
        jobs = (_check_job(setup.circuit, i, job) for i, job in enumerate(batches))
    return _prove_stream(setup, jobs, checked, workdir, with_levels=with_levels, progress=progress, tools=tools,
                         timeout=float(timeout), native=native)


@dataclass(frozen=True)
class _Job:
    """One batch handed to ``prove_batches.mjs``: its index and its files in the work directory."""

    index: int
    input: Path
    proof: Path
    public: Path
    witness: Path | None
    seed: bytes = b""

    def files(self) -> tuple[Path, ...]:
        return (self.input, self.proof, self.public) + ((self.witness,) if self.witness else ())


def _prove_stream(setup: CircuitSetup, jobs: Iterator[tuple[int, Sequence[BatchLeaf], bytes]],
                  factors: tuple[tuple[int, ...], ...], workdir: Path | None, *, with_levels: bool,
                  progress: Callable[[int], object] | None, tools: Tools, timeout: float,
                  native: Any = None) -> Iterator[BatchProof]:
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
    with private_workdir("por-zk-prove-", workdir) as tmp:  # witnesses inside; a killed run's removed next time
        work = tmp.resolve()  # node runs in it: every path handed over is absolute
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
                words = tail(ANSI.sub("", stderr.read().decode("utf-8", "replace")))
                batch = f"batch {index}" if index is not None else "the batches"
                if code == PROVE_EXIT_WITNESS:
                    return WitnessError(f"witness of {batch} for {circuit.name} failed "
                                        f"(exit {code}): {words}")
                if code == 0:
                    return ToolError(f"{what}: the prover exited before finishing {batch}: {words}")
                return ToolError(f"{what}: {batch} failed (exit {code}): {words}")

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
                             work / f"public_{index}.json",
                             work / f"witness_{index}.wtns" if with_levels or native else None, seed)
                entry.input.write_text(json.dumps(circuit.kind.witness_input(leaves, factors or None)))
                line = {"index": index, "input": str(entry.input), "proof": str(entry.proof),
                        "public": str(entry.public), "witness": str(entry.witness) if entry.witness else None}
                if native is None:
                    line["seed"] = seed.hex()
                else:  # node computes the witness only; the seed stays in this process
                    line["prove"] = False
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
                    prove_seconds = float(fields[3]) / 1000
                    if native is None:
                        proof = load_proof(head.proof)
                        public = load_public_signals(head.public, expected=circuit.info.n_public)
                    else:
                        t_native = time.perf_counter()
                        public = read_witness(head.witness)[1:1 + circuit.info.n_public]
                        proof = native.prove(head.witness, head.seed, public)
                        prove_seconds = time.perf_counter() - t_native
                    levels = (levels_from_witness(circuit.sym, circuit.k, read_witness(head.witness))
                              if with_levels and head.witness else None)
                    for path in head.files():
                        path.unlink(missing_ok=True)
                    if not pending:  # the last batch (stdin is closed): node must exit cleanly first
                        extra = next_line(None)
                        if extra is not None:
                            raise ToolError(f"{what}: unexpected prover output {extra[:200]!r} after the last batch")
                        error = failure(None)
                        if proc.returncode != 0:
                            raise error
                    result = BatchProof(proof, tuple(public), float(fields[2]) / 1000, prove_seconds,
                                        levels, circuit.kind)
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
                factors: Factors | None = None, seed: bytes | None = None, with_levels: bool = False,
                tools: Tools | None = None, timeout: float = DEFAULT_TIMEOUT, backend: str | None = None) -> BatchProof:
    """Prove one batch (:func:`prove_batches` with one batch, the same ``factors``); parse the result strictly.

    With a 32-byte ``seed`` the proof is deterministic; without, the seed is drawn from the OS
    (``os.urandom``), so two proofs of the same batch differ (both verify). ``with_levels`` also
    returns the Poseidon levels read from the witness (no Python hashing).
    """
    tools = tools or find_tools()
    _check_batch(setup.circuit, leaves)
    _check_factors(setup.circuit, factors)
    seed = os.urandom(PROVE_SEED_LEN) if seed is None else _check_seed(seed)
    (proved,) = prove_batches(setup, [(leaves, seed)], workdir, factors=factors, with_levels=with_levels,
                              tools=tools, timeout=timeout, backend=backend)
    return proved


def snarkjs_verify(vkey: Path, proof_doc: object, public_doc: object, *, tools: Tools | None = None,
                   timeout: float = 600.0) -> bool:
    """``snarkjs groth16 verify``: ``True`` iff it prints OK (for cross-checking the Python verifier).

    ``proof_doc`` / ``public_doc`` are JSON-serialisable documents (e.g. ``Proof.to_json()`` and a
    list of decimal strings).
    """
    tools = tools or find_tools()
    with private_workdir("por-zk-verify-") as tmp:
        work = Path(tmp)
        (work / "proof.json").write_text(json.dumps(proof_doc))
        (work / "public.json").write_text(json.dumps(public_doc))
        try:
            out = run_snarkjs(tools, "groth16", "verify", Path(vkey).resolve(), work / "public.json",
                              work / "proof.json", what="snarkjs groth16 verify", cwd=work, timeout=timeout)
        except ToolError:
            return False
    return "OK!" in out
