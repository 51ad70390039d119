"""The batch circuits of the zk mode as data: one :class:`CircuitKind` per circom template.

Everything that differs between ``Batch(k, A)`` (circuits/batch.circom, SPEC.md §16.5) and
``BatchMargin(k, A)`` (circuits/batch_margin.circom, SPEC.md §17.5) lives in the table
:data:`CIRCUITS`; the toolchain (:mod:`por.zk.build`, :mod:`por.zk.prover`) and the setup
directories (:mod:`por.zk.setup`) are generic over it.

A kind says which values a leaf holds per asset (``value_inputs``: one balance, or an equity and a
debt) and which public factor vectors the circuit takes (``factor_inputs``: none, or ``f_eq`` and
``f_debt`` of SPEC.md §17.3). From these follow:

* the leaf: a :class:`~por.zk.batch.BatchLeaf` over the ``n_values(A)`` values, the value groups in
  order (``E ‖ D`` for a margin leaf: :meth:`CircuitKind.join_values`), so a margin leaf hashes
  exactly like a plain leaf of ``2A`` values -- only the verifying key tells the circuits apart;
* the circuit's input JSON (:meth:`CircuitKind.witness_input`): ``account[N]``, ``salt[N]``, one
  ``[N][A]`` array per value group, one ``[A]`` array per factor vector, as decimal strings;
* the public signals (outputs, then public inputs; :meth:`CircuitKind.public_signals`,
  :meth:`CircuitKind.split_public`): ``[root, sums[0..n_values-1], factors...]`` -- ``1 + A`` for
  ``Batch``, ``1 + 4A`` for ``BatchMargin`` (``[root, equity_sums, debt_sums, f_eq, f_debt]``);
* the main component (:meth:`CircuitKind.main_source`) and the cache directory it compiles into.

Factors are never read from a proof: the verifier passes the snapshot's own
(:meth:`CircuitKind.verify`); a circuit without public factors refuses any.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from por.core.errors import BadInput, VerificationFailed
from por.zk.batch import MAX_K, MAX_VALUES, BatchLeaf, check_u64_vector, field_to_bytes32, leaf_values_count
from por.zk.poseidon import check_field_element

if TYPE_CHECKING:
    from por.zk.groth16 import Proof, VerifyingKey

Factors = tuple[Sequence[int], ...]
"""The public factor vectors of a circuit that has them, in ``factor_inputs`` order (``(f_eq, f_debt)``)."""


@dataclass(frozen=True)
class CircuitKind:
    """One circuit template: its source, its leaf layout and its public signals (see the module docstring).

    Instances are plain data (picklable, compared by value); ``str()`` is the template name, as
    written in ``setup.json``'s ``"circuit"``.
    """

    template: str
    """The circom template, e.g. ``"Batch"``."""
    source: str
    """Its source file in ``circuits/``, e.g. ``"batch.circom"`` (also the key of its hash in build stamps)."""
    value_inputs: tuple[str, ...]
    """Input signal of each value group, one value per asset each: ``("balance",)`` or ``("equity", "debt")``."""
    factor_inputs: tuple[str, ...]
    """Public input vectors of ``A`` u64 factors each: ``()`` or ``("f_eq", "f_debt")``."""
    noun: str
    """What one batch is called in messages: ``"batch"`` or ``"margin batch"``."""
    cache_prefix: str
    """Compiled circuits go to ``<cache>/<cache_prefix>_k{k}_a{A}``."""

    def __str__(self) -> str:
        return self.template

    @property
    def values_per_asset(self) -> int:
        return len(self.value_inputs)

    @property
    def public_factors(self) -> bool:
        """Whether the circuit takes public factor vectors (the caller's, e.g. a snapshot's margin parameters)."""
        return bool(self.factor_inputs)

    @property
    def max_assets(self) -> int:
        """circomlib Poseidon takes 16 inputs: account, salt and ``values_per_asset · A ≤ 14`` values."""
        return MAX_VALUES // self.values_per_asset

    def n_values(self, assets: int) -> int:
        """Values per leaf (and value sums per batch)."""
        return self.values_per_asset * assets

    def n_public(self, assets: int) -> int:
        """Public signals of a proof: the root, the value sums and the factor vectors."""
        return 1 + (self.values_per_asset + len(self.factor_inputs)) * assets

    def name(self, k: int, assets: int) -> str:
        """``Batch(k, A)`` (for messages)."""
        return f"{self.template}({k}, {assets})"

    def cache_dir(self, k: int, assets: int) -> str:
        return f"{self.cache_prefix}_k{k}_a{assets}"

    def main_source(self, k: int, assets: int) -> str:
        """The main component (compiled with ``-l circuits -l node_modules``), factor inputs public:
        ``component main = Batch(k, A);`` or ``component main {public [f_eq, f_debt]} = BatchMargin(k, A);``."""
        if not (isinstance(k, int) and 0 <= k <= MAX_K):
            raise BadInput(f"batch height k = {k!r} is outside 0..{MAX_K}")
        if not (isinstance(assets, int) and 1 <= assets <= self.max_assets):
            raise BadInput(f"asset count {assets!r} is outside 1..{self.max_assets}")
        public = f" {{public [{', '.join(self.factor_inputs)}]}}" if self.factor_inputs else ""
        return (f'pragma circom 2.1.0;\ninclude "{self.source}";\n'
                f"component main{public} = {self.template}({k}, {assets});\n")

    # ------------------------------------------------------------ leaf values

    def join_values(self, *groups: Sequence[int]) -> tuple[int, ...]:
        """A leaf's values from its value groups (``join_values(equity, debt)`` is ``E ‖ D``): one u64 per
        asset each, ``1 ≤ A ≤ max_assets``, all groups the same length; ``ValueError`` otherwise."""
        if len(groups) != self.values_per_asset:
            raise ValueError(f"a {self.noun} leaf holds {' and '.join(self.value_inputs)}, got {len(groups)} vectors")
        first = check_u64_vector(groups[0], self.value_inputs[0], limit=self.max_assets)
        rest = [check_u64_vector(g, name, len(first), self.max_assets)
                for name, g in zip(self.value_inputs[1:], groups[1:])]
        return tuple(v for group in (first, *rest) for v in group)

    def split_values(self, values: Sequence[int]) -> tuple[tuple[int, ...], ...]:
        """Inverse of :meth:`join_values` (also for a batch's value sums): one tuple per value group."""
        values = tuple(values)
        if not values or len(values) % self.values_per_asset:
            raise ValueError(f"a {self.noun} holds {self.values_per_asset} values per asset, got {len(values)} values")
        a = len(values) // self.values_per_asset
        return tuple(values[i * a : (i + 1) * a] for i in range(self.values_per_asset))

    def assets_of(self, leaves: Sequence[BatchLeaf]) -> int:
        """``A`` of a batch of leaves (``2^k`` of them, each of ``n_values(A)`` values), else ``ValueError``."""
        if any(not isinstance(leaf, BatchLeaf) for leaf in leaves):
            raise ValueError(f"every leaf of a {self.noun} must be a BatchLeaf")
        n = leaf_values_count(leaves)
        if n % self.values_per_asset:
            raise ValueError(f"a {self.noun} leaf holds {self.values_per_asset} values per asset, got {n} values")
        a = n // self.values_per_asset
        if a > self.max_assets:
            raise ValueError(f"a {self.noun} leaf holds at most {self.max_assets} assets, got {a}")
        return a

    def check_factors(self, factors: Factors | None, assets: int) -> tuple[tuple[int, ...], ...]:
        """The public factor vectors (``A`` u64 each) as tuples; ``()`` for a circuit without any.

        ``ValueError`` when factors are missing for a circuit that takes them, or given to one that does not.
        """
        if not self.factor_inputs:
            if factors is not None:
                raise ValueError(f"{self.template} takes no public factors (a {self.noun} is proved and verified "
                                 "without any)")
            return ()
        names = ", ".join(self.factor_inputs)
        if factors is None:
            raise ValueError(f"{self.template} needs its public factors {names} from the caller "
                             "(the snapshot's, never a proof file's)")
        if not isinstance(factors, (tuple, list)) or len(factors) != len(self.factor_inputs):
            raise ValueError(f"the factors of {self.template} are the {len(self.factor_inputs)} vectors {names}")
        return tuple(check_u64_vector(f, name, assets, self.max_assets) for name, f in zip(self.factor_inputs, factors))

    # ------------------------------------------------------------ circuit interface

    def witness_input(self, leaves: Sequence[BatchLeaf], factors: Factors | None = None) -> dict[str, list]:
        """The circuit's input JSON object as decimal strings: ``account[N]``, ``salt[N]``, each value group
        ``[N][A]``, each factor vector ``[A]``.

        Leaf values are not re-checked here, and neither is any rule of the circuit (a margin leaf with
        ``value_base < 0`` gives an input without a witness: that is what the circuit is for).
        """
        a = self.assets_of(leaves)
        checked = self.check_factors(factors, a)
        doc: dict[str, list] = {"account": [str(leaf.account) for leaf in leaves],
                                "salt": [str(leaf.salt) for leaf in leaves]}
        for i, name in enumerate(self.value_inputs):
            doc[name] = [[str(v) for v in leaf.values[i * a : (i + 1) * a]] for leaf in leaves]
        for name, vector in zip(self.factor_inputs, checked):
            doc[name] = [str(v) for v in vector]
        return doc

    def public_signals(self, root: int, sums: Sequence[int], factors: Factors | None = None) -> list[int]:
        """The public signals in order (outputs, then public inputs): ``[root, *sums, *factors...]``;
        ``sums`` are the ``n_values(A)`` value sums (margin: equity sums, then debt sums)."""
        check_field_element(root, "root")
        values = check_u64_vector(sums, "sums")
        a = len(self.split_values(values)[0])
        return [root, *values, *(v for vector in self.check_factors(factors, a) for v in vector)]

    def split_public(self, public: Sequence[int]) -> tuple[int, tuple[int, ...], tuple[tuple[int, ...], ...]]:
        """Inverse of :meth:`public_signals`: ``(root, sums, factors)``, ``factors`` one tuple per vector."""
        per = self.values_per_asset + len(self.factor_inputs)
        if len(public) < 1 + per or (len(public) - 1) % per:
            raise ValueError(f"a {self.noun} has 1 + {per if per > 1 else ''}A public signals, got {len(public)}")
        a = (len(public) - 1) // per
        p = tuple(public)
        n = self.n_values(a)
        return p[0], p[1 : 1 + n], tuple(p[1 + n + i * a : 1 + n + (i + 1) * a] for i in range(len(self.factor_inputs)))

    def verify(self, vk: VerifyingKey, proof: Proof, root: int, sums: Sequence[int],
               factors: Factors | None = None, verifier: str = "py_ecc") -> None:
        """Check a Groth16 proof of this circuit for the claimed ``root``, value ``sums`` and ``factors``.

        ``vk`` has :meth:`n_public` signals. For ``BatchMargin`` a valid proof shows every leaf of the
        batch has ``value_base ≥ 0`` under exactly these factors, which the verifier must take from the
        snapshot's published margin parameters (SPEC.md §17.3), never from the prover's proof file.
        Raises :class:`~por.core.errors.VerificationFailed` naming the failed check (``ValueError`` for
        values outside their domain, or factors missing or superfluous). ``verifier`` is ``py_ecc`` (the
        reference) or ``native`` (the same equation in MCL, :func:`por.zk.native.verify`).
        """
        if verifier == "native":
            from por.zk.native import verify
        elif verifier == "py_ecc":
            from por.zk.groth16 import verify  # local import: groth16 pulls in py_ecc
        else:
            raise ValueError(f"unknown verifier {verifier!r} (native or py_ecc)")

        signals = self.public_signals(root, sums, factors)
        try:
            verify(vk, proof, signals)
        except VerificationFailed as exc:
            labels = ["sums"] if self.values_per_asset == 1 else [f"{name} sums" for name in self.value_inputs]
            parts = [*zip(labels, self.split_values(sums)), *zip(self.factor_inputs, factors or ())]
            claim = (f"{self.noun} root {field_to_bytes32(root).hex()} with "
                     + ", ".join(f"{label} {list(v)}" for label, v in parts))
            raise VerificationFailed(f"{exc.reason} (claimed {claim})", where=f"zk {self.noun} proof") from None


BATCH = CircuitKind("Batch", "batch.circom", ("balance",), (), "batch", "batch")
"""``Batch(k, A)``: ``A ≤ 14`` balances per leaf; the root and per-asset sums (SPEC.md §16.5)."""
BATCH_MARGIN = CircuitKind("BatchMargin", "batch_margin.circom", ("equity", "debt"), ("f_eq", "f_debt"),
                           "margin batch", "batch_margin")
"""``BatchMargin(k, A)``: ``A ≤ 7`` equities and debts per leaf; the root, the equity and debt sums and
every leaf's ``value_base ≥ 0`` under the public factors (SPEC.md §17.5)."""
CIRCUITS = {kind.template: kind for kind in (BATCH, BATCH_MARGIN)}
"""Every circuit template the zk mode compiles, by name (``setup.json``'s ``"circuit"``)."""


def circuit_for(margin: bool) -> CircuitKind:
    """The circuit of a snapshot's batches: ``BatchMargin`` when it has margin accounts (SPEC.md §17.26)."""
    return BATCH_MARGIN if margin else BATCH


def margin_value_base(leaf: BatchLeaf, f_eq: Sequence[int], f_debt: Sequence[int]) -> int:
    """``Σ f_eq[a]·E_a − Σ f_debt[a]·D_a`` (SPEC.md §17.4) of a ``BatchMargin`` leaf ``E ‖ D``, an exact
    integer; the circuit requires ``≥ 0``."""
    equity, debt = BATCH_MARGIN.split_values(leaf.values)
    fe, fd = BATCH_MARGIN.check_factors((f_eq, f_debt), len(equity))
    return sum(f * e for f, e in zip(fe, equity)) - sum(f * d for f, d in zip(fd, debt))
