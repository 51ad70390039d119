"""The value-vector dimension of every mode: what a leaf and a node carry per asset.

Every mode (public, hiding, zk) works on a *value vector* per leaf and node. Its layout
is one of two, chosen by the snapshot's config:

* :class:`PlainValues` -- one value per asset: the account's balance, a node's sums
  (SPEC.md §2-§8). Documents are version 1.
* :class:`MarginValues` -- two per asset, equity then debt (``E_0..E_{A-1} ‖ D_0..D_{A-1}``,
  SPEC.md §17): a negative ledger amount in a bucket with ``allow_debt`` is a debt, the
  snapshot binds prices and haircuts, every node's collateral value must be ``>= 0`` and a
  bucket's liabilities are its requirement ``max(E - D, 0)``. Documents are version 2.

A layout owns everything that follows from it: how many values a node has, how a vector is
named in JSON (``"sums"`` or ``"equity"``/``"debt"``, ``"commitments"`` or
``"equity_commitments"``/``"debt_commitments"``, ...), the bytes it adds to the snapshot
root, the rule every node on a path must meet, and what a verified entry reports. Modes call
these methods instead of branching on margin.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from por.core.config import SnapshotConfig
from por.core.errors import BadInput, VerificationFailed
from por.core.jsondoc import expect_keys, parse_amount_map, parse_hex32, parse_symbol_map, parse_uint64, symbol_map
from por.core.ledger import LedgerStats, PlainRows, RowRule, format_amount
from por.core.margin import MarginParams, account_shortfall, collateral_value, requirement
from por.crypto.group import N, Point
from por.crypto.pedersen import commit
from por.modes.summary import BucketSummary, EntryResult

AMOUNT_KINDS = ("balances", "sums", "totals")
"""Kinds of vector whose JSON items are amounts (the other kinds are ``commitments`` and ``blindings``)."""

NodeCheck = Callable[[Sequence[Any], str], None]
"""A rule every node of a path must meet: called with the node's vector and where it is."""


def join(field: str, name: str) -> str:
    """``field.name`` (or ``name`` at the top level): the path of a JSON field in messages."""
    return f"{field}.{name}" if field else name


class Values:
    """A value layout over the snapshot's assets (see the module docstring)."""

    version: int
    groups: tuple[str, ...]
    """The parts of a vector: ``("",)`` or ``("equity", "debt")``, ``A`` values each."""
    params: MarginParams | None = None

    def __init__(self, config: SnapshotConfig) -> None:
        self.config = config
        self.symbols = config.symbols
        self.n_assets = len(self.symbols)

    @property
    def n_values(self) -> int:
        """Values per leaf and node."""
        return len(self.groups) * self.n_assets

    def parts(self, vector: Sequence[Any]) -> list[Sequence[Any]]:
        """``vector`` cut into its groups (``A`` values each)."""
        n = self.n_assets
        return [vector[i * n : (i + 1) * n] for i in range(len(self.groups))]

    # ---------------------------------------------------------------- JSON naming

    @classmethod
    def names(cls, kind: str) -> tuple[str, ...]:
        """The JSON field names of a vector of ``kind`` (``balances``, ``sums``, ``totals``, ``commitments``,
        ``blindings``): one per group."""
        raise NotImplementedError

    @classmethod
    def keys(cls, kind: str) -> set[str]:
        return set(cls.names(kind))

    def to_doc(self, kind: str, vector: Sequence[Any], item: Callable[[Any], Any] = str) -> dict[str, Any]:
        """``{name: {symbol: item(value)}}`` for each group of ``vector``."""
        return {name: symbol_map(self.symbols, part, item)
                for name, part in zip(self.names(kind), self.parts(vector), strict=True)}

    def from_doc(self, obj: dict[str, Any], kind: str, parse: Callable[..., Any], *, file: str,
                 field: str) -> list[Any]:
        """The vector of ``kind`` held in ``obj`` (the inverse of :meth:`to_doc`), each item ``parse``d."""
        out: list[Any] = []
        for name in self.names(kind):
            out += parse_symbol_map(obj[name], self.symbols, parse, file=file, field=join(field, name))
        return out

    # ---------------------------------------------------------------- published figures

    def summary(self, id: str, kind: str, height: int, root: bytes, amounts: Sequence[int] | None,
                commitments: Sequence[bytes] | None = None) -> BucketSummary:
        """A bucket's summary from its root's values (None when hidden) and, in hiding mode, commitments."""
        raise NotImplementedError

    @classmethod
    def figures_keys(cls) -> set[str]:
        """The names of the published figures of a bucket or of the snapshot (public and zk mode)."""
        raise NotImplementedError

    def figures_doc(self, summary: BucketSummary) -> dict[str, Any]:
        """A bucket's published figures."""
        raise NotImplementedError

    def snapshot_figures_doc(self, buckets: Sequence[BucketSummary]) -> dict[str, Any]:
        """The snapshot-wide published figures over all buckets."""
        raise NotImplementedError

    def parse_figures(self, obj: dict[str, Any], id: str, kind: str, height: int, root: bytes, *, file: str,
                      field: str) -> BucketSummary:
        """A bucket's summary from its published figures (derived figures are parsed here, checked later)."""
        raise NotImplementedError

    def check_figures(self, doc: dict[str, Any], buckets: Sequence[BucketSummary], top_vector: Sequence[int], *,
                      file: str) -> None:
        """The published figures agree with each other and with the top tree's root vector (VerificationFailed)."""
        raise NotImplementedError

    def describe_figures(self) -> str:
        """What :meth:`check_figures` establishes, for audit reports."""
        raise NotImplementedError

    def describe_path(self, bucket_id: str, path: str, n_top: int) -> list[str]:
        """What :meth:`node_check` established on a verified path (``path`` names its nodes), for reports."""
        return []

    def liabilities(self, vector: Sequence[int]) -> tuple[int, ...]:
        """What reserves must cover per asset: the sums, or the requirement ``max(E - D, 0)``."""
        raise NotImplementedError

    # ---------------------------------------------------------------- roots and proofs

    def root_extension(self) -> bytes:
        """Bytes this layout binds into the snapshot root after the mode's own (SPEC.md §17.8)."""
        return b""

    def node_check(self, allows_debt: bool) -> NodeCheck | None:
        """The rule every sibling and computed node on a path must meet (None: nothing beyond the tree's own)."""
        return None

    def check_own(self, vector: Sequence[int], bucket_id: str, where: str) -> str | None:
        """Check the verifier's own leaf; returns what it reports about it (margin: the collateral value)."""
        return None

    def entry_result(self, bucket_id: str, vector: Sequence[int], value: str | None) -> EntryResult:
        raise NotImplementedError

    def result_entry_doc(self, e: EntryResult, dec: dict[str, int]) -> dict[str, Any]:
        """One verified entry in a verification report."""
        raise NotImplementedError

    def result_totals_doc(self, entries: Sequence[EntryResult], dec: dict[str, int]) -> dict[str, Any]:
        """The totals over a verified proof's entries in a verification report."""
        raise NotImplementedError

    # ---------------------------------------------------------------- ledger rows

    def rows(self, check_accounts: bool = True) -> RowRule:
        """How the ledger reader turns a row's signed amounts into this layout's vector."""
        raise NotImplementedError

    # ---------------------------------------------------------------- zero-knowledge solvency (hiding mode)

    surplus_bits: int
    """Bits of the solvency range proof over ``reserves - liability`` per bucket x asset (SPEC.md §15.5, §17.16)."""

    def liability_commitment(self, commitments: Sequence[bytes], a: int) -> Point:
        """The commitment to asset ``a``'s liability in a bucket root's ``commitments``."""
        raise NotImplementedError

    def liability_opening(self, values: Sequence[int], blinds: Sequence[int], a: int, dec: int
                          ) -> tuple[int, int, dict[str, str], str]:
        """From a bucket root's opening: asset ``a``'s liability (signed), the blinding of its commitment,
        the opening as published by ``--reveal-totals``, and how to name the liability in messages."""
        raise NotImplementedError

    def liability_text(self, figures: dict[str, int], dec: int) -> str:
        """A pair's liability in messages, from its figures (:meth:`open_liability`)."""
        raise NotImplementedError

    def solvency_check(self, pairs: int, *, revealed: bool) -> str:
        """What a verified solvency proof over ``pairs`` bucket x asset pairs established, for reports."""
        raise NotImplementedError

    def open_liability(self, obj: Any, commitments: Sequence[bytes], a: int, name: str, *, file: str, field: str
                       ) -> dict[str, int]:
        """Check a published opening of asset ``a`` (``name``: "bucket B ASSET") against the commitments;
        returns its figures (``liabilities``, and with margin ``equity`` and ``debt``)."""
        raise NotImplementedError

    # ---------------------------------------------------------------- audits

    def compare(self, published: BucketSummary, rebuilt: BucketSummary) -> list[tuple[str, bool, str]]:
        """``(check name suffix, ok, detail)`` comparing a bucket's published figures with re-derived ones."""
        raise NotImplementedError


def _diffs(config: SnapshotConfig, new: Sequence[int], old: Sequence[int]) -> str:
    return ", ".join(f"{a.symbol}: ledger {format_amount(n, a.decimals)} vs published {format_amount(p, a.decimals)}"
                     for a, n, p in zip(config.assets, new, old) if n != p)


def _opened(value: int, blinding_hex: Any, commitment: bytes, what: str, *, file: str, field: str, key: str) -> None:
    """``commit(value, r)`` must be the published ``commitment`` (VerificationFailed; BadInput for a bad scalar)."""
    r = int.from_bytes(parse_hex32(blinding_hex, file=file, field=f"{field}.{key}"), "big")
    if r >= N:
        raise BadInput("blinding is not below the group order", file=file, field=f"{field}.{key}")
    opened = commit(value, r)
    if opened.is_identity or opened.to_bytes() != commitment:
        raise VerificationFailed(f"{what} does not match the published commitment", where=f"{file}: {field}")


def _fmt(values: dict[str, int], dec: dict[str, int]) -> dict[str, str]:
    return {s: format_amount(v, dec[s]) for s, v in values.items()}


class PlainValues(Values):
    """One value per asset (SPEC.md §2): balances, sums, totals."""

    version = 1
    groups = ("",)

    @classmethod
    def names(cls, kind: str) -> tuple[str, ...]:
        return (kind,)

    def summary(self, id: str, kind: str, height: int, root: bytes, amounts: Sequence[int] | None,
                commitments: Sequence[bytes] | None = None) -> BucketSummary:
        return BucketSummary(id, kind, height, root, tuple(int(x) for x in amounts) if amounts is not None else None,
                             tuple(commitments) if commitments is not None else None)

    @classmethod
    def figures_keys(cls) -> set[str]:
        return {"totals"}

    def figures_doc(self, summary: BucketSummary) -> dict[str, Any]:
        return {"totals": symbol_map(self.symbols, summary.totals or ())}

    def snapshot_figures_doc(self, buckets: Sequence[BucketSummary]) -> dict[str, Any]:
        return {"totals": symbol_map(self.symbols, _column_sums([b.totals or () for b in buckets], self.n_assets))}

    def parse_figures(self, obj: dict[str, Any], id: str, kind: str, height: int, root: bytes, *, file: str,
                      field: str) -> BucketSummary:
        return self.summary(id, kind, height, root,
                            parse_amount_map(obj["totals"], self.symbols, file=file, field=join(field, "totals")))

    def check_figures(self, doc: dict[str, Any], buckets: Sequence[BucketSummary], top_vector: Sequence[int], *,
                      file: str) -> None:
        totals = parse_amount_map(doc["totals"], self.symbols, file=file, field="totals")
        if list(totals) != list(top_vector):
            raise VerificationFailed("totals are not the sum of the bucket totals", where=file)

    def describe_figures(self) -> str:
        return "totals"

    def liabilities(self, vector: Sequence[int]) -> tuple[int, ...]:
        return tuple(vector)

    def entry_result(self, bucket_id: str, vector: Sequence[int], value: str | None) -> EntryResult:
        return EntryResult(bucket_id, dict(zip(self.symbols, vector)))

    def result_entry_doc(self, e: EntryResult, dec: dict[str, int]) -> dict[str, Any]:
        return {"bucket": e.bucket, "balances": _fmt(e.balances, dec)}

    def result_totals_doc(self, entries: Sequence[EntryResult], dec: dict[str, int]) -> dict[str, Any]:
        return _fmt({s: sum(e.balances[s] for e in entries) for s in self.symbols}, dec)

    surplus_bits = 64

    def rows(self, check_accounts: bool = True) -> RowRule:
        return PlainRows(self.n_assets)

    def solvency_check(self, pairs: int, *, revealed: bool) -> str:
        if revealed:
            return "every bucket commitment opens to its liabilities, and reserves >= liabilities"
        return (f"range proof: reserves - liabilities is in [0, 2^{self.surplus_bits}) for all {pairs} "
                "bucket x asset pairs (liabilities not revealed)")

    def liability_commitment(self, commitments: Sequence[bytes], a: int) -> Point:
        return Point.from_bytes(commitments[a])

    def liability_opening(self, values: Sequence[int], blinds: Sequence[int], a: int, dec: int
                          ) -> tuple[int, int, dict[str, str], str]:
        need = values[a]
        return need, blinds[a], {"liabilities": str(need), "blinding": blinds[a].to_bytes(32, "big").hex()}, \
            self.liability_text({"liabilities": need}, dec)

    def liability_text(self, figures: dict[str, int], dec: int) -> str:
        return f"liabilities {format_amount(figures['liabilities'], dec)}"

    def open_liability(self, obj: Any, commitments: Sequence[bytes], a: int, name: str, *, file: str, field: str
                       ) -> dict[str, int]:
        o = expect_keys(obj, {"liabilities", "blinding"}, file=file, field=field)
        value = parse_uint64(o["liabilities"], file=file, field=f"{field}.liabilities")
        _opened(value, o["blinding"], commitments[a], f"{name}: the opening", file=file, field=field, key="blinding")
        return {"liabilities": value}

    def compare(self, published: BucketSummary, rebuilt: BucketSummary) -> list[tuple[str, bool, str]]:
        if rebuilt.totals != published.totals:
            return [("totals", False, _diffs(self.config, rebuilt.totals or (), published.totals or ()))]
        return [("totals", True, "ledger totals equal the published totals")]


class MarginValues(Values):
    """Equity then debt per asset (SPEC.md §17), valued with the snapshot's prices and haircuts."""

    version = 2
    groups = ("equity", "debt")

    def __init__(self, config: SnapshotConfig) -> None:
        super().__init__(config)
        assert config.margin is not None
        self.params: MarginParams = config.margin

    @classmethod
    def names(cls, kind: str) -> tuple[str, ...]:
        return cls.groups if kind in AMOUNT_KINDS else tuple(f"{g}_{kind}" for g in cls.groups)

    def summary(self, id: str, kind: str, height: int, root: bytes, amounts: Sequence[int] | None,
                commitments: Sequence[bytes] | None = None) -> BucketSummary:
        cs = tuple(commitments) if commitments is not None else None
        if amounts is None:
            return BucketSummary(id, kind, height, root, None, cs)
        e, d = (tuple(int(x) for x in part) for part in self.parts(amounts))
        return BucketSummary(id, kind, height, root, requirement(e, d), cs, e, d)

    @classmethod
    def figures_keys(cls) -> set[str]:
        return {"equity", "debt", "requirement"}

    def _figures(self, equity: Sequence[int], debt: Sequence[int], req: Sequence[int]) -> dict[str, Any]:
        return {"equity": symbol_map(self.symbols, equity), "debt": symbol_map(self.symbols, debt),
                "requirement": symbol_map(self.symbols, req)}

    def figures_doc(self, summary: BucketSummary) -> dict[str, Any]:
        return self._figures(summary.equity or (), summary.debt or (), summary.totals or ())

    def snapshot_figures_doc(self, buckets: Sequence[BucketSummary]) -> dict[str, Any]:
        n = self.n_assets
        return self._figures(_column_sums([b.equity or () for b in buckets], n),
                             _column_sums([b.debt or () for b in buckets], n),
                             _column_sums([b.totals or () for b in buckets], n))

    def parse_figures(self, obj: dict[str, Any], id: str, kind: str, height: int, root: bytes, *, file: str,
                      field: str) -> BucketSummary:
        summary = self.summary(id, kind, height, root, self.from_doc(obj, "totals", parse_uint64, file=file,
                                                                      field=field))
        parse_amount_map(obj["requirement"], self.symbols, file=file, field=join(field, "requirement"))
        return summary

    def check_figures(self, doc: dict[str, Any], buckets: Sequence[BucketSummary], top_vector: Sequence[int], *,
                      file: str) -> None:
        """SPEC.md §17.9: requirements, totals, debt flags and bucket values."""
        config, params, n = self.config, self.params, self.n_assets
        for i, b in enumerate(buckets):
            f = f"buckets[{i}]"
            published = parse_amount_map(doc["buckets"][i]["requirement"], self.symbols, file=file,
                                         field=f"{f}.requirement")
            if tuple(published) != b.totals:
                raise VerificationFailed(f"bucket {b.id!r}: requirement is not max(equity - debt, 0) per asset",
                                         where=f"{file}: {f}.requirement")
            if not config.allows_debt(b.id) and any(b.debt or ()):
                raise VerificationFailed(f"bucket {b.id!r} does not allow debts but publishes a debt total",
                                         where=f"{file}: {f}.debt")
            value = collateral_value(b.equity or (), b.debt or (), params)
            if value < 0:
                raise VerificationFailed(f"bucket {b.id!r}: collateral value of its totals is negative "
                                         f"({params.format_value(value)} quote units)", where=f"{file}: {f}")
        equity = parse_amount_map(doc["equity"], self.symbols, file=file, field="equity")
        debt = parse_amount_map(doc["debt"], self.symbols, file=file, field="debt")
        req = parse_amount_map(doc["requirement"], self.symbols, file=file, field="requirement")
        if list(equity) != list(top_vector[:n]) or list(debt) != list(top_vector[n:]):
            raise VerificationFailed("equity and debt are not the sums of the bucket equity and debt totals",
                                     where=file)
        if list(req) != _column_sums([b.totals or () for b in buckets], n):
            raise VerificationFailed("requirement is not the sum of the bucket requirements", where=file)

    def describe_figures(self) -> str:
        return "equity and debt totals (requirements recomputed)"

    def describe_path(self, bucket_id: str, path: str, n_top: int) -> list[str]:
        return [f"bucket {bucket_id}: collateral value >= 0 at the snapshot's prices and haircuts for the own "
                f"account (tiered), {path}, and the {n_top} top-tree siblings and ancestors"
                + ("" if self.config.allows_debt(bucket_id) else "; no debt anywhere (bucket without allow_debt)")]

    def liabilities(self, vector: Sequence[int]) -> tuple[int, ...]:
        e, d = self.parts(vector)
        return requirement(e, d)

    def root_extension(self) -> bytes:
        return self.params.root_bytes()

    def node_check(self, allows_debt: bool) -> NodeCheck:
        """Base collateral value >= 0 (and no debt in a bucket without debts), SPEC.md §17.10 step 3."""
        params, n, no_debt = self.params, self.n_assets, not allows_debt

        def check(vector: Sequence[Any], where: str) -> None:
            equity, debt = list(vector[:n]), list(vector[n:])
            if no_debt and any(debt):
                raise VerificationFailed("a node of a bucket without allow_debt carries debt "
                                         f"({', '.join(f'{s} {d}' for s, d in zip(params.symbols, debt) if d)})",
                                         where=where)
            value = collateral_value(equity, debt, params)
            if value < 0:
                raise VerificationFailed(
                    f"collateral value is negative: {params.format_value(value)} quote units (its debts outweigh its "
                    "equity after haircuts: it holds undercollateralised accounts)", where=where)

        return check

    def check_own(self, vector: Sequence[int], bucket_id: str, where: str) -> str:
        """§17.10 step 2: the own leaf meets the node rule and the tiered per-account rule."""
        self.node_check(self.config.allows_debt(bucket_id))(vector, f"{where}, own leaf")
        equity, debt = self.parts(vector)
        own_value = collateral_value(equity, debt, self.params, tiered=True)
        if own_value < 0:
            raise VerificationFailed(f"own account is undercollateralised (tiered haircuts): collateral value "
                                     f"{self.params.format_value(own_value)} quote units", where=f"{where}, own leaf")
        return self.params.format_value(own_value)

    def entry_result(self, bucket_id: str, vector: Sequence[int], value: str | None) -> EntryResult:
        equity, debt = self.parts(vector)
        return EntryResult(bucket_id, {s: x - y for s, x, y in zip(self.symbols, equity, debt)},
                           dict(zip(self.symbols, equity)), dict(zip(self.symbols, debt)), value)

    def result_entry_doc(self, e: EntryResult, dec: dict[str, int]) -> dict[str, Any]:
        return {"bucket": e.bucket, "equity": _fmt(e.equity or {}, dec), "debt": _fmt(e.debt or {}, dec),
                "net": _fmt(e.balances, dec), "collateral_value": e.value}

    def result_totals_doc(self, entries: Sequence[EntryResult], dec: dict[str, int]) -> dict[str, Any]:
        total = lambda get: {s: sum(get(e)[s] for e in entries) for s in self.symbols}  # noqa: E731
        return {"equity": _fmt(total(lambda e: e.equity), dec), "debt": _fmt(total(lambda e: e.debt), dec),
                "net": _fmt(total(lambda e: e.balances), dec)}

    surplus_bits = 128  # R - E + D can reach 2^65; a shortfall is N - x, far outside [0, 2^128)

    def rows(self, check_accounts: bool = True) -> RowRule:
        """Equity ‖ debt per row, with the per-account rule; ``check_accounts=False`` skips the rule (only for
        building attack fixtures in tests, never for a published snapshot)."""
        return _MarginRows(self.params, self.n_assets, check_accounts)

    def solvency_check(self, pairs: int, *, revealed: bool) -> str:
        if revealed:
            return ("every bucket's equity and debt commitments open to the stated totals, and reserves >= "
                    "equity - debt (the requirement) for every bucket x asset")
        return (f"range proof: reserves - (equity - debt) is in [0, 2^{self.surplus_bits}) for all {pairs} "
                "bucket x asset pairs, i.e. reserves cover every requirement max(equity - debt, 0) "
                "(equity and debt not revealed)")

    def liability_commitment(self, commitments: Sequence[bytes], a: int) -> Point:
        return Point.from_bytes(commitments[a]) - Point.from_bytes(commitments[self.n_assets + a])

    def liability_opening(self, values: Sequence[int], blinds: Sequence[int], a: int, dec: int
                          ) -> tuple[int, int, dict[str, str], str]:
        n = self.n_assets
        equity, debt = values[a], values[n + a]
        return equity - debt, (blinds[a] - blinds[n + a]) % N, {
            "equity": str(equity), "debt": str(debt), "equity_blinding": blinds[a].to_bytes(32, "big").hex(),
            "debt_blinding": blinds[n + a].to_bytes(32, "big").hex()}, \
            self.liability_text({"liabilities": equity - debt, "equity": equity, "debt": debt}, dec)

    def liability_text(self, figures: dict[str, int], dec: int) -> str:
        e, d = figures["equity"], figures["debt"]
        return (f"requirement {format_amount(figures['liabilities'], dec)} (equity {format_amount(e, dec)} - debt "
                f"{format_amount(d, dec)})")

    def open_liability(self, obj: Any, commitments: Sequence[bytes], a: int, name: str, *, file: str, field: str
                       ) -> dict[str, int]:
        o = expect_keys(obj, {"equity", "debt", "equity_blinding", "debt_blinding"}, file=file, field=field)
        e = parse_uint64(o["equity"], file=file, field=f"{field}.equity")
        d = parse_uint64(o["debt"], file=file, field=f"{field}.debt")
        for what, value, c in (("equity", e, commitments[a]), ("debt", d, commitments[self.n_assets + a])):
            _opened(value, o[f"{what}_blinding"], c, f"{name}: the {what} opening", file=file, field=field,
                    key=f"{what}_blinding")
        return {"liabilities": e - d, "equity": e, "debt": d}

    def compare(self, published: BucketSummary, rebuilt: BucketSummary) -> list[tuple[str, bool, str]]:
        out = []
        for name, n_vals, p_vals in (("equity", rebuilt.equity, published.equity),
                                     ("debt", rebuilt.debt, published.debt),
                                     ("requirement", rebuilt.totals, published.totals)):
            diffs = _diffs(self.config, n_vals or (), p_vals or ())
            out.append((name, not diffs, diffs or f"ledger {name} totals equal the published ones"))
        return out


class _MarginRows:
    """A row's signed amounts -> ``E_0..E_{A-1} ‖ D_0..D_{A-1}``; a row with a debt must pass the per-account
    rule (collateral value after tiered haircuts >= value of its debts, SPEC.md §17.5)."""

    def __init__(self, params: MarginParams, n_assets: int, check_accounts: bool) -> None:
        self.params, self.n, self.check_accounts = params, n_assets, check_accounts
        self.width = 2 * n_assets

    def label(self, slot: int) -> tuple[int, str]:
        return slot % self.n, " equity" if slot < self.n else " debt"

    def negative_hint(self, bucket_id: str) -> str:
        return f"bucket {bucket_id!r} does not allow debts (allow_debt); --clamp-negative floors it at 0"

    def vector(self, amounts: list[int], bucket_id: str, *, file: str, line: int, account: str,
               stats: LedgerStats) -> list[int]:
        equity = [v if v > 0 else 0 for v in amounts]
        debt = [-v if v < 0 else 0 for v in amounts]
        if any(debt):
            stats.accounts_with_debt += 1
            short = account_shortfall(equity, debt, self.params, tiered=True) if self.check_accounts else None
            if short is not None:
                raise BadInput(
                    f"account {account!r} in bucket {bucket_id!r} is undercollateralised: its collateral value "
                    f"after (tiered) haircuts is below the value of its debts; shortfall {short.text} quote "
                    "units (a bad debt the exchange must write off, not a reduction of its liabilities)",
                    file=file, line=line, field=f"{bucket_id}/{account}",
                )
        return equity + debt


def _column_sums(rows: Sequence[Sequence[int]], n: int) -> list[int]:
    return [sum(r[i] for r in rows) for i in range(n)]


def values_for(config: SnapshotConfig) -> Values:
    """The value layout of a snapshot: margin values when the config has ``[prices]``, else plain."""
    return MarginValues(config) if config.margin is not None else PlainValues(config)


LAYOUTS: dict[int, type[Values]] = {PlainValues.version: PlainValues, MarginValues.version: MarginValues}


def layout_of(version: Any, meta: Any, *, file: str, what: str = "version",
              documents: str = "snapshots", meta_field: str = "metadata") -> type[Values]:
    """The value layout a document declares by its ``version``; :class:`BadInput` unless its metadata agrees.

    Version 2 documents carry ``<meta_field>.margin`` (the prices and haircuts) and version 1 ones do not.
    """
    if type(version) is not int or version not in LAYOUTS:
        raise BadInput(f"unsupported {what} {version!r} (this por reads {PlainValues.version}, and "
                       f"{MarginValues.version} for margin snapshots)", file=file, field="version")
    if isinstance(meta, dict) and ("margin" in meta) != (version == MarginValues.version):
        raise BadInput(f"version {version} does not match the metadata: version {MarginValues.version} "
                       f"{documents} have {meta_field}.margin and version {PlainValues.version} ones do not",
                       file=file, field="version")
    return LAYOUTS[version]
