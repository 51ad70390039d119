"""The mode interface: everything that differs between public, hiding and zk snapshots.

A snapshot's *mode* says what its trees carry and what its proofs add:

========  ==============================================  ===========================================
mode      a node carries                                  an inclusion proof adds
========  ==============================================  ===========================================
public    hash + value sums (SPEC.md §4-§8)                own values, sibling sums
hiding    hash + Pedersen commitments (SPEC.md §15)        own openings, sibling commitments, range proofs
zk        Poseidon batches of 2^k leaves under SHA-256     the batch's Poseidon path and Groth16 proof
          nodes with sums (SPEC.md §16)
========  ==============================================  ===========================================

Each mode works over a value layout (:mod:`por.modes.values`: plain balances, or margin
equity ‖ debt), so margin is a dimension of every mode, not a mode of its own. One
:class:`Mode` object serves one snapshot (its config, and in zk mode its batch parameters);
the build, the snapshot document, inclusion proofs and the audit are written once against
it (:mod:`por.snapshot`, :mod:`por.proofs.inclusion`, :mod:`por.audit`).

To add a mode: subclass :class:`Mode` (or :class:`por.modes.public.PublicMode`, whose
document and proofs a mode with public sums can reuse), implement the abstract methods, and
register it in :data:`por.modes.MODES`. SPEC.md must describe its bytes first.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from por.core import encoding as enc
from por.core.config import SnapshotConfig
from por.core.jsondoc import expect_keys, parse_hex32, parse_uint64
from por.core.keys import SnapshotKeys
from por.modes.values import BucketSummary, NodeCheck, Values, values_for
from por.tree.sumtree import BuiltBucket, LeafScheme, Level, Node, sum_levels, top_height

if TYPE_CHECKING:  # type hints only: the proofs layer sits above the modes
    from por.tree.store import Store


class ProofSource(Protocol):
    """What a mode needs of the prover serving a snapshot's inclusion proofs (:class:`por.proofs.inclusion.Prover`)."""

    dir: Path
    store: "Store"
    snapshot: Any
    top_levels: list[list[Node]]
    """Every level of the top tree, bucket leaves first."""

    def top_path(self, bucket: int) -> list[Node]:
        """The siblings of bucket ``bucket``'s leaf in the top tree, bottom-up."""
        ...

    def cached(self, key: str, make: Callable[[], Any]) -> Any:
        """A value computed once per prover (e.g. the top tree's openings in hiding mode)."""
        ...


@dataclass
class EntryCheck:
    """One inclusion-proof entry being verified: what the generic pipeline has parsed and derived so far."""

    file: str
    field: str  # e.g. "entries[0]"
    where: str  # e.g. "alice.json: entries[0] (bucket cross)"
    config: SnapshotConfig
    account: str
    trusted: bytes
    bucket_id: str
    height: int
    index: int
    salt: bytes
    own: list[int]
    path: list[Node]
    top: list[Node]
    own_value: str | None = None
    top_vector: list = field(default_factory=list)  # the snapshot-wide vector the top path leads to

    @property
    def n_top(self) -> int:
        return top_height(len(self.config.buckets))


class Mode(ABC):
    """One snapshot's mode (see the module docstring)."""

    name: ClassVar[str]
    node_kind: ClassVar[str] = "sums"
    """The JSON kind of a node's vector (:meth:`por.modes.values.Values.names`): ``sums`` or ``commitments``."""
    hides_amounts: ClassVar[bool] = False
    """Whether the published document withholds every amount (only commitments)."""

    def __init__(self, config: SnapshotConfig, zk: Any = None) -> None:
        self.config = config
        self.values: Values = values_for(config)
        self.zk = zk

    @property
    def version(self) -> int:
        """Document and root version (the value layout's)."""
        return self.values.version

    @property
    def n_values(self) -> int:
        return self.values.n_values

    @property
    def batch_height(self) -> int:
        """Tree levels below the SHA-256 Merkle-sum nodes that are the mode's own (zk: ``k``; else 0)."""
        return 0

    # ---------------------------------------------------------------- the root

    def root_extension(self) -> bytes:
        """What the root binds after the top tree's root: the mode's own bytes, then the value layout's."""
        return self.values.root_extension()

    def root_preimage(self, top_hash: bytes, top_vector: Sequence[Any]) -> bytes:
        """The snapshot root preimage (SPEC.md §5) with this mode's name, version and extension."""
        c = self.config
        return enc.root_preimage(
            version=self.version, mode=self.name, snapshot_id=c.snapshot_id, as_of=c.as_of,
            assets=[(a.symbol, a.decimals) for a in c.assets], buckets=[(b.id, b.kind) for b in c.buckets],
            top_height=top_height(len(c.buckets)), top_hash=top_hash, top_vector=list(top_vector),
            extension=self.root_extension())

    def top_pad(self) -> list:
        """The vector of a top-tree padding leaf."""
        return [0] * self.n_values

    # ---------------------------------------------------------------- building

    @abstractmethod
    def leaf_scheme(self, bucket_id: str, keys: SnapshotKeys, jobs: int | None) -> LeafScheme:
        """How one bucket's leaves and levels are computed."""

    def upper_levels(self, level: Level) -> list[Level]:
        """The levels above ``level`` (the roots of a bucket's shards, in order) up to the bucket root.

        Public and zk mode: SHA-256 Merkle-sum nodes (SPEC.md §4); hiding mode adds commitments.
        """
        return sum_levels([level])[1:]

    def summary(self, id: str, kind: str, built: BuiltBucket) -> BucketSummary:
        """A freshly built bucket's summary (the exchange's copy: figures known in every mode)."""
        return self.values.summary(id, kind, built.height, built.root_hash, built.root_sums, built.root_commitments)

    def check_buildable(self) -> None:
        """Refuse parameters that cannot build this config (BadInput)."""

    def extra_work(self, capacity: int) -> int:
        """Progress units a bucket of ``capacity`` leaves costs beyond its padding and SHA-256 nodes."""
        return 0

    # ---------------------------------------------------------------- the snapshot document

    @abstractmethod
    def bucket_doc(self, summary: BucketSummary) -> dict[str, Any]:
        """The vector fields of one ``buckets[]`` entry of snapshot.json."""

    @classmethod
    @abstractmethod
    def bucket_keys(cls, layout: type[Values]) -> set[str]:
        """Their names, for a document of value layout ``layout``."""

    @abstractmethod
    def parse_bucket(self, obj: dict[str, Any], id: str, kind: str, height: int, root: bytes, *, file: str,
                     field: str) -> BucketSummary:
        """Read them back (BadInput naming the field)."""

    def params_doc(self) -> dict[str, Any]:
        """The mode's own parameters in snapshot.json and in proofs' ``snapshot`` object (zk: ``{"zk": ...}``)."""
        return {}

    @classmethod
    def params_keys(cls) -> set[str]:
        """The names of the :meth:`params_doc` fields."""
        return set()

    def compare_params(self, trusted: Any, *, file: str) -> None:
        """A proof's parameters must be the trusted snapshot's (VerificationFailed)."""

    @classmethod
    def parse_params(cls, doc: dict[str, Any], config: SnapshotConfig, *, file: str, field: str = "") -> Any:
        """Read them back from ``doc`` (the object :meth:`params_doc` was merged into); None when there are none."""
        return None

    def document_doc(self, buckets: Sequence[BucketSummary]) -> dict[str, Any]:
        """Snapshot-wide fields of snapshot.json beyond the common ones and :meth:`params_doc`."""
        return {}

    @classmethod
    def document_keys(cls, layout: type[Values]) -> set[str]:
        """The names of :meth:`params_doc` and :meth:`document_doc` fields, for a document of ``layout``."""
        return set()

    @classmethod
    def precheck_document(cls, doc: dict[str, Any], layout: type[Values], *, file: str) -> None:
        """A friendlier error than "fields wrong" for a document of another mode's shape (BadInput)."""

    def check_document(self, doc: dict[str, Any], buckets: Sequence[BucketSummary], top_vector: Sequence[Any],
                       *, file: str) -> None:
        """Checks of a document whose root is already known to follow from its buckets (VerificationFailed)."""

    def describe_document(self) -> str:
        """What a self-consistent document of this mode has been checked for (for audit reports)."""
        return "totals"

    # ---------------------------------------------------------------- inclusion proofs

    def parse_node(self, obj: Any, *, file: str, field: str) -> Node:
        """A path node: ``hash`` and the vector fields of :attr:`node_kind`."""
        expect_keys(obj, {"hash"} | self.values.keys(self.node_kind), file=file, field=field)
        return (parse_hex32(obj["hash"], file=file, field=f"{field}.hash"),
                self.values.from_doc(obj, self.node_kind, self.parse_item, file=file, field=field))

    parse_item: ClassVar[Callable[..., Any]] = staticmethod(parse_uint64)
    """The parser of one item of a node's vector (``parse(value, *, file, field)``): a u64 sum by default."""

    def node_doc(self, node: tuple[bytes, Sequence[Any]]) -> dict[str, Any]:
        """A path node as published in a proof."""
        return {"hash": node[0].hex(), **self.values.to_doc(self.node_kind, node[1], self.item_doc)}

    @staticmethod
    def item_doc(value: Any) -> Any:
        return str(int(value))

    @abstractmethod
    def prove_entry(self, src: ProofSource, bucket: int, position: int, salt: bytes, account_id: str
                    ) -> dict[str, Any]:
        """One bucket's entry of an account's inclusion proof."""

    def path_note(self) -> str:
        """Said of the bucket path's length when it is wrong (zk: the batch levels below it)."""
        return ""

    def entry_keys(self) -> set[str]:
        """The keys of an entry (SPEC.md §8)."""
        return ({"bucket", "height", "index", "salt", "path", "top_index", "top_path"}
                | self.values.keys("balances"))

    @abstractmethod
    def open_leaf(self, e: dict[str, Any], c: EntryCheck) -> tuple[Node, int]:
        """The node the path starts from and its level: the own leaf (level 0) or the proven batch (level k)."""

    def path_check(self, bucket_id: str) -> NodeCheck | None:
        """The rule every sibling and computed node on the bucket path must meet."""
        return self.values.node_check(self.config.allows_debt(bucket_id))

    def top_check(self) -> NodeCheck | None:
        """The rule every sibling and computed node on the top path must meet."""
        return self.values.node_check(True)

    def after_root(self, e: dict[str, Any], c: EntryCheck) -> list[str]:
        """Checks after the path led to the trusted root (hiding: the range proofs); what they established."""
        return []

    @abstractmethod
    def describe(self, c: EntryCheck) -> list[str]:
        """What was checked for the entry, for the report."""

    # ---------------------------------------------------------------- audits

    def compare(self, published: BucketSummary, rebuilt: BucketSummary) -> list[tuple[str, bool, str]]:
        """``(check name suffix, ok, detail)``: a bucket's published vector against the re-derived one."""
        return self.values.compare(published, rebuilt)
