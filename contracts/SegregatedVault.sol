// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

/// @title SegregatedVault -- a minimal k-of-n multisig vault for one segregation bucket
/// @notice Holds ETH and ERC-20 tokens. Funds move only by `execute` with `threshold` owner
///         signatures. Implements EIP-1271: `isValidSignature(hash, signatures)` returns 0x1626ba7e
///         when `signatures` is the concatenation of `threshold` 65-byte ECDSA signatures (r ‖ s ‖ v)
///         of `hash` by distinct owners, in strictly ascending signer address order; anything else
///         returns 0xffffffff. `hash` is signed as given (no further prefix), so an owner that
///         personal_signs (EIP-191) a message produces a signature of the EIP-191 hash of that
///         message -- which is the hash a `por` verifier passes here.
contract SegregatedVault {
    bytes4 internal constant MAGIC_VALUE = 0x1626ba7e; // bytes4(keccak256("isValidSignature(bytes32,bytes)"))
    bytes4 internal constant INVALID = 0xffffffff;
    /// secp256k1n / 2: signatures with a larger s are rejected (no malleable duplicates)
    uint256 internal constant HALF_N = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0;
    bytes32 public constant EXECUTE_TYPEHASH = keccak256("por.SegregatedVault.execute.v1");

    address[] private _owners;
    mapping(address => bool) public isOwner;
    uint256 public immutable threshold;
    uint256 public nonce;

    event Received(address indexed from, uint256 value);
    event Executed(uint256 indexed nonce, address indexed to, uint256 value, bytes data);

    error BadConfig();
    error BadSignatures();
    error CallFailed(bytes returndata);

    constructor(address[] memory owners_, uint256 threshold_) {
        if (threshold_ == 0 || threshold_ > owners_.length) revert BadConfig();
        for (uint256 i = 0; i < owners_.length; i++) {
            address o = owners_[i];
            if (o == address(0) || isOwner[o]) revert BadConfig();
            isOwner[o] = true;
            _owners.push(o);
        }
        threshold = threshold_;
    }

    receive() external payable {
        emit Received(msg.sender, msg.value);
    }

    function owners() external view returns (address[] memory) {
        return _owners;
    }

    /// EIP-1271.
    function isValidSignature(bytes32 hash, bytes calldata signatures) external view returns (bytes4) {
        return _checkSignatures(hash, signatures) ? MAGIC_VALUE : INVALID;
    }

    /// The hash the owners sign (raw, without prefix) to authorise `execute` at the current nonce.
    function transactionHash(address to, uint256 value, bytes calldata data, uint256 nonce_)
        public
        view
        returns (bytes32)
    {
        return keccak256(abi.encode(EXECUTE_TYPEHASH, address(this), block.chainid, nonce_, to, value, keccak256(data)));
    }

    /// Move funds or call out: `threshold` owner signatures of `transactionHash(to, value, data, nonce)`.
    function execute(address to, uint256 value, bytes calldata data, bytes calldata signatures)
        external
        returns (bytes memory)
    {
        uint256 n = nonce;
        if (!_checkSignatures(transactionHash(to, value, data, n), signatures)) revert BadSignatures();
        nonce = n + 1;
        (bool ok, bytes memory ret) = to.call{value: value}(data);
        if (!ok) revert CallFailed(ret);
        emit Executed(n, to, value, data);
        return ret;
    }

    function _checkSignatures(bytes32 hash, bytes calldata signatures) internal view returns (bool) {
        uint256 k = threshold;
        if (signatures.length != 65 * k) return false;
        address last = address(0);
        for (uint256 i = 0; i < k; i++) {
            uint256 off = 65 * i;
            bytes32 r = bytes32(signatures[off:off + 32]);
            bytes32 s = bytes32(signatures[off + 32:off + 64]);
            uint8 v = uint8(signatures[off + 64]);
            if (v < 27) v += 27;
            if (v != 27 && v != 28) return false;
            if (uint256(s) > HALF_N) return false;
            address signer = ecrecover(hash, v, r, s);
            if (signer == address(0) || !isOwner[signer] || signer <= last) return false;
            last = signer;
        }
        return true;
    }
}
