// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

/// @title PorRegistry -- public, append-only anchor of `por` snapshot roots
/// @notice The exchange (the immutable `owner`) publishes, for each snapshot id, the snapshot root
///         (SPEC.md §5) and the chain block at which its reserves are attested. Nothing is ever
///         overwritten or deleted: every call to `publish` appends one record, even when it carries a
///         different root for an id that already has one. Equivocation (two different roots for one
///         snapshot id) is therefore *recorded and visible*, not prevented: a verifier reads every record
///         of the id and accepts only if exactly one distinct root was ever published (docs/spec-reserves.md).
contract PorRegistry {
    struct Publication {
        bytes32 root;        // the snapshot root
        uint64 blockNumber;  // the block at which reserves are attested (as stated by the publisher)
        uint64 publishedAt;  // block.number of the publishing transaction
    }

    address public immutable owner;

    /// keccak256(bytes(snapshotId)) => every publication for that id, in order
    mapping(bytes32 => Publication[]) private _publications;
    /// keccak256(bytes(snapshotId)) => number of distinct roots ever published for that id
    mapping(bytes32 => uint256) private _distinctRoots;
    /// keccak256(bytes(snapshotId)) => root => already published for that id
    mapping(bytes32 => mapping(bytes32 => bool)) private _seen;

    /// Emitted for every publication (index = its position in the id's list).
    event RootPublished(
        bytes32 indexed idHash, string snapshotId, bytes32 indexed root, uint64 blockNumber, uint256 index
    );
    /// Emitted, in addition to RootPublished, when a root different from an earlier one is published
    /// for the same snapshot id.
    event Equivocation(bytes32 indexed idHash, string snapshotId, bytes32 firstRoot, bytes32 newRoot);

    error NotOwner();
    error EmptySnapshotId();
    error ZeroRoot();

    constructor() {
        owner = msg.sender;
    }

    /// Append a publication of `root` (attested at `blockNumber`) for `snapshotId`. Only the owner.
    function publish(string calldata snapshotId, bytes32 root, uint64 blockNumber) external returns (uint256 index) {
        if (msg.sender != owner) revert NotOwner();
        if (bytes(snapshotId).length == 0) revert EmptySnapshotId();
        if (root == bytes32(0)) revert ZeroRoot();
        bytes32 idHash = keccak256(bytes(snapshotId));
        Publication[] storage list = _publications[idHash];
        index = list.length;
        if (!_seen[idHash][root]) {
            _seen[idHash][root] = true;
            _distinctRoots[idHash] += 1;
            if (index > 0) emit Equivocation(idHash, snapshotId, list[0].root, root);
        }
        list.push(Publication(root, blockNumber, uint64(block.number)));
        emit RootPublished(idHash, snapshotId, root, blockNumber, index);
    }

    /// Number of publications (publish calls) recorded for `snapshotId`.
    function publicationCount(string calldata snapshotId) external view returns (uint256) {
        return _publications[keccak256(bytes(snapshotId))].length;
    }

    /// Number of distinct roots ever published for `snapshotId` (1 = consistent; > 1 = equivocation).
    function distinctRootCount(string calldata snapshotId) external view returns (uint256) {
        return _distinctRoots[keccak256(bytes(snapshotId))];
    }

    /// The `index`-th publication for `snapshotId` (reverts when out of range).
    function publication(string calldata snapshotId, uint256 index)
        external
        view
        returns (bytes32 root, uint64 blockNumber, uint64 publishedAt)
    {
        Publication storage p = _publications[keccak256(bytes(snapshotId))][index];
        return (p.root, p.blockNumber, p.publishedAt);
    }

    /// Every publication for `snapshotId`, in order: roots, attested blocks, publishing blocks.
    function publications(string calldata snapshotId)
        external
        view
        returns (bytes32[] memory roots, uint64[] memory blockNumbers, uint64[] memory publishedAt)
    {
        Publication[] storage list = _publications[keccak256(bytes(snapshotId))];
        uint256 n = list.length;
        roots = new bytes32[](n);
        blockNumbers = new uint64[](n);
        publishedAt = new uint64[](n);
        for (uint256 i = 0; i < n; i++) {
            roots[i] = list[i].root;
            blockNumbers[i] = list[i].blockNumber;
            publishedAt[i] = list[i].publishedAt;
        }
    }
}
