"""Public anchoring of snapshot roots in the PorRegistry contract (contracts/PorRegistry.sol).

The exchange deploys one registry (its deployer is its immutable owner) and publishes, per snapshot,
``(snapshot_id, root, block)``. The registry is append-only: a second publication for the same id is
stored too -- a *different* root there is equivocation, recorded on chain for everyone to see.

A verifier accepts a root for a snapshot id only if (SPEC.md §12, "Anchoring"):

* the registry has at least one publication for the id, and
* every publication for the id carries the same root (exactly one distinct root was ever published),
* and that root is the one the verifier computed (from the proof or snapshot.json).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount

from por.reserves.chain import (
    BlockId,
    CallReverted,
    RpcClient,
    account_from_key,
    check_address,
    decode_result,
    encode_call,
)
from por.core.config import ID_RE
from por.core.errors import BadInput, VerificationFailed

REGISTRY_ARTIFACT = "PorRegistry"
MAX_U64 = (1 << 64) - 1


@dataclass(frozen=True)
class Publication:
    """One record of the registry: ``index``-th publication for a snapshot id."""

    index: int
    root: bytes
    block: int          # the attested reserves block, as published
    published_at: int   # the block in which it was published

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "root": self.root.hex(), "block": self.block,
                "published_at": self.published_at}


@dataclass(frozen=True)
class AnchorCheck:
    """A successful :func:`check_anchor`: the single anchored root and its publications."""

    registry: str
    snapshot_id: str
    root: bytes
    publications: tuple[Publication, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"registry": self.registry, "snapshot_id": self.snapshot_id, "root": self.root.hex(),
                "publications": [p.to_dict() for p in self.publications]}


def _root_bytes(root: bytes | str) -> bytes:
    if isinstance(root, (bytes, bytearray)) and len(root) == 32:
        return bytes(root)
    if isinstance(root, str):
        r = root.removeprefix("0x")
        if len(r) == 64:
            try:
                return bytes.fromhex(r)
            except ValueError:
                pass
    raise BadInput("snapshot root must be 32 bytes (64 hex digits)", field="root")


def _snapshot_id(snapshot_id: str) -> str:
    if not isinstance(snapshot_id, str) or not ID_RE.fullmatch(snapshot_id):
        raise BadInput(f"invalid snapshot id {snapshot_id!r}", field="snapshot_id")
    return snapshot_id


def deploy_registry(rpc: RpcClient, key: str | bytes | LocalAccount) -> str:
    """Deploy a PorRegistry owned by ``key``'s address; returns the registry's checksummed address."""
    return rpc.deploy(key, REGISTRY_ARTIFACT)


def registry_owner(rpc: RpcClient, registry: str, block: BlockId = "latest") -> str:
    registry = check_address(registry, field="registry")
    _require_registry(rpc, registry, block)
    (owner,) = decode_result(["address"], rpc.call(registry, encode_call("owner()"), block),
                             what=f"registry {registry} owner()")
    return check_address(owner)


def publish(rpc: RpcClient, registry: str, key: str | bytes | LocalAccount, snapshot_id: str,
            root: bytes | str, block: int) -> str:
    """Publish ``(snapshot_id, root, block)``; returns the transaction hash (``0x`` + 64 hex).

    ``key`` must be the registry's owner (BadInput otherwise, checked before sending)."""
    registry = check_address(registry, field="registry")
    sid = _snapshot_id(snapshot_id)
    r = _root_bytes(root)
    if r == bytes(32):
        raise BadInput("the zero root cannot be published", field="root")
    if not isinstance(block, int) or isinstance(block, bool) or not 0 <= block <= MAX_U64:
        raise BadInput("block must be an integer 0..2^64-1", field="block")
    acct = account_from_key(key)
    owner = registry_owner(rpc, registry)
    if owner != acct.address:
        raise BadInput(f"key {acct.address} is not the owner {owner} of registry {registry}", field="key")
    data = encode_call("publish(string,bytes32,uint64)", sid, r, block)
    receipt = rpc.transact(acct, registry, data)
    return receipt["transactionHash"]


def read_publications(rpc: RpcClient, registry: str, snapshot_id: str,
                      block: BlockId = "latest") -> list[Publication]:
    """Every publication for ``snapshot_id``, in order (as of ``block``)."""
    registry = check_address(registry, field="registry")
    sid = _snapshot_id(snapshot_id)
    _require_registry(rpc, registry, block)
    try:
        ret = rpc.call(registry, encode_call("publications(string)", sid), block)
    except CallReverted as exc:
        raise VerificationFailed(f"registry {registry}: publications() reverted: {exc.reason}") from None
    roots, blocks, published = decode_result(["bytes32[]", "uint64[]", "uint64[]"], ret,
                                             what=f"registry {registry} publications()")
    if not len(roots) == len(blocks) == len(published):
        raise VerificationFailed(f"registry {registry}: publications() returned lists of different lengths")
    return [Publication(i, bytes(r), b, p) for i, (r, b, p) in enumerate(zip(roots, blocks, published))]


def read_roots(rpc: RpcClient, registry: str, snapshot_id: str, block: BlockId = "latest") -> list[bytes]:
    """The root of every publication for ``snapshot_id``, in order (repeats included)."""
    return [p.root for p in read_publications(rpc, registry, snapshot_id, block)]


def check_anchor(rpc: RpcClient, registry: str, snapshot_id: str, root: bytes | str, *,
                 block: BlockId = "latest", reserves_block: int | None = None) -> AnchorCheck:
    """Accept ``root`` for ``snapshot_id`` only if it is anchored and is the only root ever published.

    Raises VerificationFailed: not anchored; equivocation (more than one distinct root for the id);
    the anchored root differs from ``root``; or, when ``reserves_block`` is given, a publication names
    another reserves block."""
    registry = check_address(registry, field="registry")
    r = _root_bytes(root)
    pubs = read_publications(rpc, registry, snapshot_id, block)
    if not pubs:
        raise VerificationFailed(f"snapshot {snapshot_id!r} is not anchored: registry {registry} has no "
                                 "publication for it")
    distinct: dict[bytes, list[Publication]] = {}
    for p in pubs:
        distinct.setdefault(p.root, []).append(p)
    if len(distinct) > 1:
        detail = "; ".join(f"{rt.hex()} (publication {', '.join(str(p.index) for p in ps)}, published in block "
                           f"{ps[0].published_at})" for rt, ps in distinct.items())
        raise VerificationFailed(f"equivocation: registry {registry} holds {len(distinct)} different roots for "
                                 f"snapshot {snapshot_id!r}: {detail}")
    anchored = pubs[0].root
    if anchored != r:
        raise VerificationFailed(f"root {r.hex()} is not the root anchored for snapshot {snapshot_id!r} in registry "
                                 f"{registry} ({anchored.hex()})")
    if reserves_block is not None:
        other = sorted({p.block for p in pubs} - {reserves_block})
        if other:
            raise VerificationFailed(f"registry {registry} anchors snapshot {snapshot_id!r} at reserves block "
                                     f"{other[0]}, not {reserves_block}")
    return AnchorCheck(registry, snapshot_id, anchored, tuple(pubs))


def _require_registry(rpc: RpcClient, registry: str, block: BlockId) -> None:
    if not rpc.get_code(registry, block):
        raise VerificationFailed(f"no contract at registry address {registry} (block {block})")
